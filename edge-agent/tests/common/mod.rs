//! Fixtures: an embedded rumqttd broker, a fake central (MQTT client + axum snapshot
//! server), the agent run in-process, and a local-API client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use edge_agent::config::{ClockSynced, Config, DeviceKind};
use rong_protocol::delta::{
    Branch, CatchupRequest, Category, Downlink, DownlinkBody, Item, ItemStatus, LoanRule, Op,
    Patron, SnapshotHeader,
};
use rong_protocol::topic::Topic;
use rong_protocol::{encode, BranchId, DeviceId};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use tokio::sync::oneshot;

pub mod tus;

pub const BRANCH: &str = "kontum";
pub const DEVICE: &str = "kontum-kiosk-1";
pub const SNAPSHOT_VERSION: u64 = 10;

pub fn branch() -> BranchId {
    BranchId::new(BRANCH).unwrap()
}

pub fn device() -> DeviceId {
    DeviceId::new(DEVICE).unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after 15 s.
pub async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts rumqttd on a free port on its own thread; returns once it accepts connections.
pub async fn start_broker() -> u16 {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: rumqttd::ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 4 * 1024 * 1024,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("v4".to_string(), server)])),
        ..Default::default()
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        let _ = broker.start();
    });
    wait_for("the broker", async || {
        TcpStream::connect(addr).ok().map(|_| ())
    })
    .await;
    port
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub fn patron(card: &str, blocked: Option<&str>) -> Patron {
    Patron {
        card: card.into(),
        nfc_uids: vec!["04A22B1A".into()],
        name: "Nguyễn Thị Hoa".into(),
        category: "adult".into(),
        branch: branch(),
        blocked: blocked.map(str::to_owned),
        expires: Some(d(2099, 12, 31)),
        pin_hash: None,
        pin_required: false,
        staff: false,
    }
}

pub fn item(barcode: &str) -> Item {
    Item {
        barcode: barcode.into(),
        record: format!("R{barcode}"),
        title: "Địa chí Kon Tum".into(),
        author: "Nhiều tác giả".into(),
        call_number: "915.97".into(),
        item_type: "book".into(),
        shelf: "Phòng địa chí".into(),
        home_branch: branch(),
        status: ItemStatus::Available,
    }
}

/// The reference data the tests use.
pub fn reference_ops() -> Vec<Op> {
    let mut ops = vec![
        Op::PutBranch(Branch {
            id: branch(),
            name: "Thư viện tỉnh Kon Tum".into(),
            closed_weekdays: vec![],
            require_pin: false,
        }),
        Op::PutCategory(Category {
            id: "adult".into(),
            name: "Người lớn".into(),
            max_loans: 5,
        }),
        Op::PutRule(LoanRule {
            category: "*".into(),
            item_type: "*".into(),
            loan_days: 14,
            max_renewals: 2,
        }),
        Op::PutPatron(patron("P0001", None)),
    ];
    for i in 1..=5 {
        ops.push(Op::PutItem(item(&format!("KT0000000{i}"))));
    }
    ops
}

pub fn snapshot_bytes() -> Vec<u8> {
    snapshot_bytes_at(SNAPSHOT_VERSION)
}

pub fn snapshot_bytes_at(version: u64) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let header = SnapshotHeader {
        v: 1,
        branch: branch(),
        version,
    };
    writeln!(gz, "{}", serde_json::to_string(&header).unwrap()).unwrap();
    for op in reference_ops() {
        writeln!(gz, "{}", serde_json::to_string(&op).unwrap()).unwrap();
    }
    gz.finish().unwrap()
}

/// What the fake central saw.
pub type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A fake central: serves the snapshot over HTTP and answers catch-up from 0 with
/// `snapshot_required`; records everything devices publish.
pub struct Central {
    pub client: AsyncClient,
    pub seen: Seen,
    pub http: SocketAddr,
    /// Snapshot downloads served.
    pub downloads: Arc<AtomicUsize>,
}

impl Central {
    pub async fn start(mqtt_port: u16) -> Self {
        Self::start_at(mqtt_port, SNAPSHOT_VERSION).await
    }

    /// A fake central whose change log is at `version`.
    pub async fn start_at(mqtt_port: u16, version: u64) -> Self {
        let downloads = Arc::new(AtomicUsize::new(0));
        let counter = downloads.clone();
        let app = axum::Router::new().route(
            "/api/v1/snapshot/{branch}",
            axum::routing::get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                snapshot_bytes_at(version)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let mut opts = MqttOptions::new("central", "127.0.0.1", mqtt_port);
        opts.set_max_packet_size(4 * 1024 * 1024, 4 * 1024 * 1024);
        let (client, mut el) = AsyncClient::new(opts, 64);
        for f in rong_protocol::topic::central_filters() {
            client.subscribe(f, QoS::AtLeastOnce).await.unwrap();
        }
        let seen: Seen = Arc::default();
        let (ready_tx, ready_rx) = oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let (s, c) = (seen.clone(), client.clone());
        tokio::spawn(async move {
            let mut subacks = 0;
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        subacks += 1;
                        if subacks == 4 {
                            if let Some(tx) = ready_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        s.lock()
                            .unwrap()
                            .push((p.topic.clone(), p.payload.to_vec()));
                        if let Some(Topic::Catchup(b, d)) = Topic::parse(&p.topic) {
                            let req: CatchupRequest = rong_protocol::decode(&p.payload).unwrap();
                            if req.from_version == 0 {
                                let msg = Downlink {
                                    v: 1,
                                    body: DownlinkBody::SnapshotRequired {
                                        version,
                                        path: format!("/api/v1/snapshot/{b}"),
                                    },
                                };
                                let topic = Topic::DeviceDeltas(b, d).to_topic_string();
                                let _ = c.try_publish(topic, QoS::AtLeastOnce, false, encode(&msg));
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        ready_rx.await.unwrap();
        Self {
            client,
            seen,
            http,
            downloads,
        }
    }

    /// Payloads central saw on topics of this kind, in order.
    pub fn on(&self, kind: &str) -> Vec<Vec<u8>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t.ends_with(&format!("/{kind}")))
            .map(|(_, p)| p.clone())
            .collect()
    }

    pub async fn publish(&self, topic: Topic, payload: Vec<u8>) {
        self.client
            .publish(topic.to_topic_string(), QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
}

pub fn agent_config(dir: &Path, mqtt_port: u16, central_http: Option<SocketAddr>) -> Config {
    let mut c = Config {
        device: device(),
        branch: branch(),
        data_dir: dir.to_owned(),
        socket: Some(dir.join("agent.sock")),
        ..Config::default()
    };
    c.mqtt.url = format!("mqtt://127.0.0.1:{mqtt_port}");
    if let Some(h) = central_http {
        c.central.url = format!("http://{h}");
    }
    c.clock.synced = ClockSynced::Yes;
    c.hardware.barcode = DeviceKind::Sim;
    c.hardware.card = DeviceKind::Sim;
    c
}

/// The agent running in-process; stopped on `stop` (or drop).
pub struct RunningAgent {
    pub socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningAgent {
    pub async fn start(config: Config) -> Self {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel::<PathBuf>();
        let task = tokio::spawn(edge_agent::run_with_ready(
            config,
            async move {
                let _ = stop_rx.await;
            },
            move |p| {
                let _ = ready_tx.send(p.to_owned());
            },
        ));
        let socket = ready_rx.await.expect("agent did not become ready");
        Self {
            socket,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// A local-API connection: the blocking client, run where an async test can wait on it
/// (the tests use the multi-threaded runtime, so the in-process agent keeps working).
pub struct Api(rong_agent_client::Client);

impl Api {
    pub async fn connect(socket: &Path) -> Self {
        Self(
            tokio::task::block_in_place(|| {
                rong_agent_client::Client::connect(socket, Some(Duration::from_secs(15)))
            })
            .unwrap(),
        )
    }

    pub async fn send_raw(&mut self, line: &[u8]) {
        tokio::task::block_in_place(|| self.0.send_raw(line)).unwrap();
    }

    /// The next line, or `None` at end of stream.
    pub async fn read_line(&mut self) -> Option<serde_json::Value> {
        match tokio::task::block_in_place(|| self.0.read_line()) {
            Ok(line) => Some(serde_json::from_str(&line).unwrap()),
            Err(rong_agent_client::Error::Closed { .. }) => None,
            Err(e) => panic!("no answer from the agent: {e}"),
        }
    }

    /// Sends a request line as written and returns the next line that is not a push.
    pub async fn call(&mut self, req: serde_json::Value) -> serde_json::Value {
        let line = tokio::task::block_in_place(|| self.0.raw(&req.to_string()))
            .expect("an answer from the agent");
        serde_json::from_str(&line).unwrap()
    }

    pub async fn status(&mut self) -> serde_json::Value {
        let r = self
            .call(serde_json::json!({"id": 99, "op": "status"}))
            .await;
        assert_eq!(r["ok"], true, "{r}");
        r["result"].clone()
    }
}
