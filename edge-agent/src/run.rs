//! The injectable entry point: open the store, build the services and wire them, start the
//! local API, the uploader and the sync loop, and stop them all cleanly.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rong_protocol::api::Push;
use tokio::sync::{broadcast, watch, Notify};

use crate::api::{self, Dispatch};
use crate::circulation::{self, Circulation};
use crate::config::Config;
use crate::digitise::{self, Digitise};
use crate::hardware::Hardware;
use crate::identity::{self, Identity};
use crate::mqtt::{self, SyncParts};
use crate::status::{self, Link, Status};
use crate::store::{SharedStore, Store};

/// The agent's services, built from one config and wired to each other: what [`run`]
/// starts. Each service was handed its share when built, and none of them holds this;
/// tests build it to drive the services without a socket.
#[derive(Debug)]
pub struct Services {
    /// The configuration it was built from.
    pub config: Config,
    /// The one connection.
    pub store: SharedStore,
    /// The board's devices.
    pub hardware: Arc<Hardware>,
    /// Pushes to the local API's subscribers.
    pub pushes: broadcast::Sender<Push>,
    /// Woken after an event is written.
    pub new_event: Arc<Notify>,
    /// Woken by the local API's `sync_now`.
    pub sync_now: Arc<Notify>,
    /// The sync loop's report on the broker connection.
    pub link: Arc<Link>,
    /// Circulation.
    pub circulation: Arc<Circulation>,
    /// Digitisation.
    pub digitise: Arc<Digitise>,
    /// The agent and device status.
    pub status: Arc<Status>,
    /// The local API's router over the services.
    pub api: Arc<Dispatch>,
}

impl Services {
    /// Builds the services around an open store and started devices, whose reads go to
    /// `pushes`.
    pub fn build(
        config: Config,
        store: Store,
        hardware: Hardware,
        pushes: broadcast::Sender<Push>,
    ) -> Self {
        let store = SharedStore::new(store);
        let hardware = Arc::new(hardware);
        let new_event = Arc::new(Notify::new());
        let sync_now = Arc::new(Notify::new());
        let link = Arc::new(Link::default());
        let circulation = Arc::new(Circulation::new(
            circulation::Settings::from_config(&config),
            store.clone(),
            hardware.clone(),
            new_event.clone(),
        ));
        let digitise = Arc::new(Digitise::new(
            digitise::Settings::from_config(&config),
            store.clone(),
            hardware.scanner(),
            pushes.clone(),
            circulation.clone(),
        ));
        let status = Arc::new(Status::new(
            status::Settings::from_config(&config),
            store.clone(),
            link.clone(),
            hardware.clone(),
            digitise.clone(),
        ));
        let api = Arc::new(Dispatch {
            circulation: circulation.clone(),
            digitise: digitise.clone(),
            status: status.clone(),
            hardware: hardware.clone(),
            pushes: pushes.clone(),
            sync_now: sync_now.clone(),
            enrol: Arc::default(),
        });
        Self {
            config,
            store,
            hardware,
            pushes,
            new_event,
            sync_now,
            link,
            circulation,
            digitise,
            status,
            api,
        }
    }

    /// What the sync loop is handed; its requests to central are signed by `signer`.
    pub fn sync_parts(
        &self,
        signer: Arc<rong_identity::Signer>,
        central_key: rong_identity::PublicKey,
        tls: Option<Arc<crate::tls::BoardTls>>,
    ) -> SyncParts {
        SyncParts {
            signer,
            central_key,
            tls,
            config: self.config.clone(),
            store: self.store.clone(),
            status: self.status.clone(),
            link: self.link.clone(),
            pushes: self.pushes.clone(),
            new_event: self.new_event.clone(),
            sync_now: self.sync_now.clone(),
        }
    }
}

/// Runs the agent until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    run_with_ready(config, shutdown, |_| {}).await
}

/// Like [`run`], calling `ready` with the socket path once the local API accepts
/// connections.
///
/// A board that is not enrolled tries its configured code first; refused, it starts
/// unenrolled (the local API serves, the status says `unenrolled`, nothing syncs) and
/// keeps trying; once enrolled it starts again under its new identity.
pub async fn run_with_ready(
    config: Config,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(&Path),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    tokio::pin!(shutdown);
    let mut ready = Some(ready);
    loop {
        let identity = match Identity::load(&config.data_dir)? {
            Some(id) => Some(id),
            None => {
                tokio::select! {
                    id = identity::try_configured(&config) => id,
                    _ = &mut shutdown => return Ok(()),
                }
            }
        };
        let mut effective = config.clone();
        if let Some(id) = &identity {
            id.apply(&mut effective);
        }
        match run_once(effective, identity, &mut shutdown, &mut ready).await? {
            Ended::Stopped => return Ok(()),
            Ended::Enrolled => tracing::info!("enrolled: starting again under the new identity"),
        }
    }
}

/// Why [`run_once`] returned.
enum Ended {
    /// Shut down.
    Stopped,
    /// An unenrolled board enrolled: start again with its identity.
    Enrolled,
}

/// Runs the services once, until shutdown or (unenrolled) until the board enrols.
async fn run_once<S: Future<Output = ()>>(
    config: Config,
    identity: Option<Identity>,
    shutdown: &mut std::pin::Pin<&mut S>,
    ready: &mut Option<impl FnOnce(&Path)>,
) -> anyhow::Result<Ended> {
    let db = config.db_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&db)).await??;
    tracing::info!(
        device = %config.device,
        branch = %config.branch,
        log = %store.log(),
        version = store.version()?,
        enrolled = identity.is_some(),
        "store open"
    );
    let socket = config.socket_path();
    let (pushes, _) = broadcast::channel(64);
    let hardware = Hardware::start(&config.hardware, pushes.clone());
    let services = Services::build(config, store, hardware, pushes);
    {
        let d = services.digitise.clone();
        let recovered =
            tokio::task::spawn_blocking(move || digitise::recover::recover(&d)).await??;
        tracing::debug!(?recovered, "digitisation checked");
    }
    let listener = api::bind(&socket)
        .with_context(|| format!("cannot bind the local API at {}", socket.display()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let api_task = tokio::spawn(api::serve(listener, services.api.clone(), stop_rx.clone()));
    // An enrolled board syncs and uploads; one that is not waits for a good code.
    let (mut sync_task, upload_task, mut enrol_task) = match &identity {
        Some(id) => (
            Some(tokio::spawn(mqtt::run(
                services.sync_parts(id.signer.clone(), id.central_key, id.tls.clone()),
                stop_rx.clone(),
            ))),
            Some(tokio::spawn(digitise::upload::run(
                services.digitise.clone(),
                id.signer.clone(),
                id.central_key,
                id.tls.as_ref().map(|t| t.ca_pem().to_owned()),
                stop_rx.clone(),
            ))),
            None,
        ),
        None => {
            services.link.set_unenrolled(true);
            let (handed_tx, handed_rx) = tokio::sync::mpsc::channel(1);
            // `ctl enrol` hands codes through the local API, and a code scanned at the
            // board's barcode reader (its QR code) is handed in too.
            *services
                .api
                .enrol
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handed_tx.clone());
            let scans = services.pushes.subscribe();
            tokio::spawn(identity::scanned_codes(scans, handed_tx));
            let cfg = services.config.clone();
            (
                None,
                None,
                Some(tokio::spawn(identity::keep_trying(cfg, handed_rx))),
            )
        }
    };
    // Once enrolled, central checks PINs while the board is online.
    if let Some(id) = &identity {
        match crate::circulation::central_pin::CentralPins::new(
            &services.config.central.url,
            id.tls.as_deref().map(crate::tls::BoardTls::ca_pem),
            id.signer.clone(),
            {
                let link = services.link.clone();
                Box::new(move || link.online())
            },
            tokio::runtime::Handle::current(),
        ) {
            Ok(pins) => services
                .circulation
                .set_pin_authority(Arc::new(pins), id.central_key),
            Err(e) => tracing::error!(error = %e, "PINs are checked on this board only"),
        }
    }
    // The board's certificate renews itself while the agent runs.
    if let Some((id, tls)) = identity.as_ref().and_then(|id| Some((id, id.tls.clone()?))) {
        tokio::spawn(crate::identity::keep_renewed(
            tls,
            id.signer.clone(),
            services.config.central.url.clone(),
            stop_rx.clone(),
        ));
    }
    if let Some(ready) = ready.take() {
        ready(&socket);
    }
    tracing::info!(socket = %socket.display(), "agent ready");

    let mut early_sync = None;
    let ended = tokio::select! {
        _ = shutdown.as_mut() => Ended::Stopped,
        r = async {
            match sync_task.as_mut() {
                Some(t) => t.await,
                None => std::future::pending().await,
            }
        } => {
            early_sync = Some(r);
            Ended::Stopped
        }
        _ = async {
            match enrol_task.as_mut() {
                Some(t) => {
                    let _ = t.await;
                }
                None => std::future::pending().await,
            }
        } => {
            enrol_task = None;
            Ended::Enrolled
        }
    };
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    if let Some(t) = enrol_task {
        t.abort();
    }
    let sync_result = match (early_sync, sync_task) {
        (Some(r), _) => Some(r),
        (None, Some(t)) => Some(t.await),
        (None, None) => None,
    };
    let _ = api_task.await;
    if let Some(t) = upload_task {
        let _ = t.await;
    }
    services.hardware.stop();
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::debug!(error = %e, "socket not removed");
    }
    if let Some(r) = sync_result {
        r.context("sync task failed")??;
    }
    tracing::info!("stopped");
    Ok(ended)
}
