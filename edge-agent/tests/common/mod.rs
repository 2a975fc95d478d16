//! The agent run in-process, for tests that reach inside it. Everything else these tests
//! use (the stand-in central, the fixtures, the local-API client, waiting) is the test
//! kit's (`rong-tests`), shared with the end-to-end tests and the benchmarks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use edge_agent::config::{ClockSynced, Config, DeviceKind};
use edge_agent::store::Store;
use rong_protocol::api::{Reply, RequestOp, Who};
use rong_protocol::delta::{Delta, Op};
use tokio::sync::oneshot;

pub use rong_tests::fixtures::*;
pub use rong_tests::stand_in::{StandIn, Tus, SNAPSHOT_VERSION};
pub use rong_tests::{free_port, wait_some, ApiClient};

/// How long a test waits for anything.
pub const T: Duration = Duration::from_secs(15);

/// A config for [`DEVICE`] of [`BRANCH`] keeping its files in `dir`, with simulated
/// readers, a synced clock, the broker at `mqtt_port` (any free port: offline) and central
/// at `central` when given.
pub fn agent_config(dir: &Path, mqtt_port: u16, central: Option<&str>) -> Config {
    let mut c = Config {
        device: device_id(),
        branch: branch_id(),
        data_dir: dir.to_owned(),
        socket: Some(dir.join("agent.sock")),
        ..Config::default()
    };
    c.mqtt.url = format!("mqtt://127.0.0.1:{mqtt_port}");
    if let Some(url) = central {
        c.central.url = url.to_owned();
    }
    c.clock.synced = ClockSynced::Yes;
    c.hardware.barcode = DeviceKind::Sim;
    c.hardware.card = DeviceKind::Sim;
    // Enrolled already, pinning the stand-in central's key (the stand-in checks no
    // device signature).
    if edge_agent::identity::Identity::load(dir).unwrap().is_none() {
        edge_agent::identity::provision(
            dir,
            &c.device,
            &c.branch,
            rong_identity::Role::Kiosk,
            &rong_tests::stand_in::central_key().public(),
        )
        .unwrap();
    }
    c
}

/// The signer of the board whose files are in `dir` (see [`agent_config`]).
pub fn signer(dir: &Path) -> std::sync::Arc<rong_identity::Signer> {
    edge_agent::identity::Identity::load(dir)
        .unwrap()
        .expect("an enrolled board")
        .signer
}

/// A stand-in central with only its HTTP side, taking uploads with `tus`'s options.
pub fn upload_server(tus: Tus) -> StandIn {
    StandIn::builder().without_mqtt().tus(tus).start()
}

/// [`upload_server`] whose patches take 5 ms each, so that a kill lands mid-upload.
pub fn slow_upload_server() -> StandIn {
    upload_server(Tus {
        patch_delay_ms: 5,
        ..Tus::default()
    })
}

/// Identifies card `card` through the agent's dispatch; returns the session.
pub fn identify(a: &edge_agent::run::Services, card: &str) -> String {
    let reply = a
        .api
        .handle(RequestOp::Identify(Who {
            card: Some(card.into()),
            ..Who::default()
        }))
        .unwrap();
    let Reply::Identified { session, .. } = reply else {
        panic!("{card} not identified: {reply:?}")
    };
    session
}

/// Loads the kit's [`library`] and `more` into the store at `db`, as a snapshot at
/// [`SNAPSHOT_VERSION`] would, unless it already holds reference data.
pub fn seed(db: &Path, more: impl IntoIterator<Item = Op>) {
    let mut store = Store::open(db).unwrap();
    if store.version().unwrap() > 0 {
        return;
    }
    let mut ops = library();
    ops.extend(more);
    store
        .apply_delta(&Delta {
            from_version: 0,
            to_version: SNAPSHOT_VERSION,
            ops,
        })
        .unwrap();
}

/// The agent's whole run loop in-process, on a runtime of its own thread (so the test
/// may block while it works); stopped by [`RunningAgent::stop`] or when it drops.
pub struct RunningAgent {
    /// Its local API socket.
    pub socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl RunningAgent {
    /// Starts it and returns once its local API is ready.
    pub fn start(config: Config) -> RunningAgent {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<PathBuf>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(edge_agent::run_with_ready(
                config,
                async move {
                    let _ = stop_rx.await;
                },
                move |p| {
                    let _ = ready_tx.send(p.to_owned());
                },
            ))
        });
        let socket = ready_rx
            .recv_timeout(T * 2)
            .expect("the agent did not become ready");
        RunningAgent {
            socket,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// A new connection to its local API.
    pub fn api(&self) -> ApiClient {
        ApiClient::connect(&self.socket).unwrap()
    }

    /// Stops it and waits until it has stopped cleanly.
    pub fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("the agent's thread").unwrap();
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        // Ask it to stop; a test that failed does not wait for it.
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
