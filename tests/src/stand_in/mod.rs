//! The one stand-in central, for tests of a device without the real central: a broker in
//! the test process, an MQTT client that records everything devices publish and answers a
//! catch-up from version 0 with "fetch the snapshot", and an HTTP side that serves that
//! snapshot and takes uploads (tus) and bag submissions.
//!
//! It runs on threads of its own, so sync tests, async tests and benchmarks use it alike.
//!
//! ```no_run
//! use rong_tests::stand_in::{StandIn, Tus};
//! // Broker, catch-up and snapshot of the kit's small library at version 10.
//! let central = StandIn::start();
//! // Only the HTTP side, with a link that cuts every fourth chunk.
//! let uploads = StandIn::builder()
//!     .without_mqtt()
//!     .tus(Tus { cut_every: 4, ..Tus::default() })
//!     .start();
//! ```

mod broker;
mod uploads;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::{get, head, post};
use rong_protocol::delta::{CatchupRequest, Downlink, DownlinkBody, Op, SnapshotHeader};
use rong_protocol::topic::{central_filters, Topic};
use rong_protocol::{encode, BranchId};
use tokio::sync::oneshot;

pub use broker::Broker;
pub use uploads::{Tus, Upload};

use crate::fixtures::{branch_id, library};
use crate::mqtt::Spy;

/// The change-log version a stand-in central is at unless told otherwise.
pub const SNAPSHOT_VERSION: u64 = 10;

/// The stand-in central's key: the same in every test, so that a board's identity can pin
/// it before the stand-in starts. It seals everything the stand-in sends.
pub fn central_key() -> rong_identity::KeyPair {
    rong_identity::KeyPair::from_secret(*b"rong-tests stand-in central key!")
}

/// A snapshot as central serves it: gzip of a header line, then one op a line.
pub fn snapshot(branch: &BranchId, version: u64, ops: &[Op]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let header = SnapshotHeader {
        v: 1,
        branch: branch.clone(),
        version,
    };
    let lines = std::iter::once(serde_json::to_string(&header))
        .chain(ops.iter().map(serde_json::to_string));
    let mut sha = <sha2::Sha256 as sha2::Digest>::new();
    for line in lines {
        let line = format!("{}\n", line.expect("snapshot line as JSON"));
        sha2::Digest::update(&mut sha, line.as_bytes());
        gz.write_all(line.as_bytes()).expect("gzip in memory");
    }
    // The trailer central writes: the digest of the lines, signed with its key.
    let sha256: String = sha2::Digest::finalize(sha)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let context = rong_protocol::delta::snapshot_context(branch, version);
    let trailer = rong_protocol::delta::SnapshotTrailer {
        signature: central_key().seal_detached(&context, 1, sha256.as_bytes()),
        sha256,
    };
    let trailer = serde_json::to_string(&trailer).expect("the trailer as JSON");
    writeln!(gz, "{trailer}").expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

/// How a stand-in central starts; see [`StandIn::builder`].
#[derive(Debug)]
pub struct Builder {
    version: u64,
    branch: BranchId,
    ops: Vec<Op>,
    mqtt: bool,
    tus: Tus,
}

impl Builder {
    /// The version its change log is at: its snapshot's and the one catch-up points to.
    pub fn version(mut self, version: u64) -> Builder {
        self.version = version;
        self
    }

    /// What its snapshot holds (the kit's [`library`] unless told otherwise).
    pub fn snapshot_ops(mut self, ops: Vec<Op>) -> Builder {
        self.ops = ops;
        self
    }

    /// No broker and no MQTT client: only the HTTP side.
    pub fn without_mqtt(mut self) -> Builder {
        self.mqtt = false;
        self
    }

    /// The upload server's options (cut chunks, a pause before each answer).
    pub fn tus(mut self, tus: Tus) -> Builder {
        self.tus = tus;
        self
    }

    /// Starts it and returns once every part accepts connections.
    pub fn start(self) -> StandIn {
        let tus = Arc::new(self.tus);
        let downloads = Arc::new(AtomicUsize::new(0));
        let snapshot = Arc::new(snapshot(&self.branch, self.version, &self.ops));
        let (http, stop) = serve(tus.clone(), downloads.clone(), snapshot);
        let mqtt = self.mqtt.then(|| {
            let broker = Broker::start();
            let version = self.version;
            let spy = Spy::answering(
                &broker.url(),
                "stand-in-central",
                &central_filters(),
                Box::new(move |topic, payload| answer_catchup(version, topic, payload)),
            );
            (broker, spy)
        });
        StandIn {
            mqtt,
            http,
            tus,
            downloads,
            _stop: stop,
        }
    }
}

/// A catch-up from 0 is told to fetch the snapshot; anything else needs no answer.
fn answer_catchup(version: u64, topic: &str, payload: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(Topic::Catchup(branch, device)) = Topic::parse(topic) else {
        return Vec::new();
    };
    match rong_protocol::decode::<CatchupRequest>(crate::mqtt::body(payload)) {
        Ok(req) if req.from_version == 0 => {
            let msg = Downlink::new(DownlinkBody::SnapshotRequired {
                version,
                path: format!("/api/v1/snapshot/{branch}"),
            });
            let topic = Topic::DeviceDeltas(branch, device).to_topic_string();
            let now = chrono::Utc::now().timestamp_millis();
            let sealed = central_key().seal(
                &rong_protocol::envelope::Signer::Central,
                &topic,
                now,
                &encode(&msg),
            );
            vec![(topic, sealed)]
        }
        _ => Vec::new(),
    }
}

/// Serves the HTTP side on a runtime of its own thread; stops when the sender drops.
fn serve(
    tus: Arc<Tus>,
    downloads: Arc<AtomicUsize>,
    snapshot: Arc<Vec<u8>>,
) -> (SocketAddr, oneshot::Sender<()>) {
    // Bound here, so that it accepts connections before this returns.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the HTTP side");
    let addr = listener.local_addr().expect("the HTTP side's address");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let app = axum::Router::new()
        .route(
            "/api/v1/snapshot/{branch}",
            get(move || async move {
                downloads.fetch_add(1, Ordering::SeqCst);
                snapshot.as_ref().clone()
            }),
        )
        .route("/files/", post(uploads::create))
        .route("/files/{id}", head(uploads::offset).patch(uploads::patch))
        .route("/api/v1/digitisation/bags", post(uploads::submit))
        .with_state(tus);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the stand-in central's runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
    });
    (addr, stop_tx)
}

/// A running stand-in central; its HTTP side stops when it drops.
pub struct StandIn {
    mqtt: Option<(Broker, Spy)>,
    /// The HTTP side's address.
    pub http: SocketAddr,
    /// The upload server's state.
    pub tus: Arc<Tus>,
    downloads: Arc<AtomicUsize>,
    _stop: oneshot::Sender<()>,
}

impl StandIn {
    /// Broker, catch-up and HTTP, with the kit's [`library`] at [`SNAPSHOT_VERSION`].
    pub fn start() -> StandIn {
        StandIn::builder().start()
    }

    /// A stand-in to configure before [`Builder::start`].
    pub fn builder() -> Builder {
        Builder {
            version: SNAPSHOT_VERSION,
            branch: branch_id(),
            ops: library(),
            mqtt: true,
            tus: Tus::default(),
        }
    }

    /// The HTTP side's base URL, for a device's `[central] url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    fn mqtt(&self) -> &(Broker, Spy) {
        self.mqtt
            .as_ref()
            .expect("this stand-in central was started without MQTT")
    }

    /// The broker devices connect to.
    pub fn broker(&self) -> &Broker {
        &self.mqtt().0
    }

    /// Payloads devices published on topics of this kind (`events`, `status`, `catchup`,
    /// `cmd-reply`), in order.
    pub fn on(&self, kind: &str) -> Vec<Vec<u8>> {
        self.mqtt().1.received(&format!("/{kind}"))
    }

    /// Publishes as central (sealed with [`central_key`]), with QoS 1.
    pub fn publish(&self, topic: Topic, payload: Vec<u8>) {
        let topic = topic.to_topic_string();
        let now = chrono::Utc::now().timestamp_millis();
        let sealed = central_key().seal(
            &rong_protocol::envelope::Signer::Central,
            &topic,
            now,
            &payload,
        );
        self.mqtt().1.publish_raw(&topic, sealed);
    }

    /// Publishes the bytes as they are (a forger would), with QoS 1.
    pub fn publish_raw(&self, topic: Topic, payload: Vec<u8>) {
        self.mqtt().1.publish_raw(&topic.to_topic_string(), payload);
    }

    /// Snapshot downloads served so far.
    pub fn snapshot_downloads(&self) -> usize {
        self.downloads.load(Ordering::SeqCst)
    }
}
