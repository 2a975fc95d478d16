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

    /// What the sync loop is handed.
    pub fn sync_parts(&self) -> SyncParts {
        SyncParts {
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
pub async fn run_with_ready(
    config: Config,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(&Path),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let db = config.db_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&db)).await??;
    tracing::info!(
        device = %config.device,
        branch = %config.branch,
        log = %store.log(),
        version = store.version()?,
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
    let upload_task = tokio::spawn(digitise::upload::run(
        services.digitise.clone(),
        stop_rx.clone(),
    ));
    let mut sync_task = tokio::spawn(mqtt::run(services.sync_parts(), stop_rx));
    ready(&socket);
    tracing::info!(socket = %socket.display(), "agent ready");

    tokio::pin!(shutdown);
    let early = tokio::select! {
        _ = &mut shutdown => None,
        r = &mut sync_task => Some(r),
    };
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    let sync_result = match early {
        Some(r) => r,
        None => sync_task.await,
    };
    let _ = api_task.await;
    let _ = upload_task.await;
    services.hardware.stop();
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::debug!(error = %e, "socket not removed");
    }
    sync_result.context("sync task failed")??;
    tracing::info!("stopped");
    Ok(())
}
