//! Central in-process on port 0 with its embedded broker, driven by a fake device over MQTT
//! and by HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use central_store::synthetic::{generate_with_pin_params, SeedData, SeedLoan};
use central_store::Store;
use chrono::NaiveDate;
use rong_protocol::delta::{CatchupRequest, Delta, Downlink, DownlinkBody, Op, SnapshotHeader};
use rong_protocol::event::{Ack, Event, EventBatch, EventBody};
use rong_protocol::ids::{BranchId, DeviceId};
use rong_protocol::topic::{device_filters, Topic};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS, SubscribeFilter};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

const T: Duration = Duration::from_secs(20);

struct Central {
    run: common::Running,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    data: SeedData,
}

impl Central {
    async fn start() -> Central {
        Central::start_with(None).await
    }

    /// Starts central, on an external broker when `external` names one.
    async fn start_with(external: Option<String>) -> Central {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::config(&dir.path().join("data"));
        config.ingest.max_catchup_ops = 1000;
        config.broker.external_url = external;
        std::fs::create_dir_all(&config.data_dir).unwrap();
        let data = generate_with_pin_params(60, 30, 1, argon2::Params::new(8, 1, 1, None).unwrap());
        let mut store = Store::open(&config.db_path()).unwrap();
        store.write_seed(&data, 420).unwrap();
        let token = common::admin_token(&mut store);
        drop(store);
        Central {
            run: common::start(config).await,
            http: common::client_with_token(&token),
            _dir: dir,
            data,
        }
    }

    fn url(&self, path: &str) -> String {
        self.run.url(path)
    }

    /// `GET path`, as it answers.
    async fn fetch(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// `POST path` with a JSON body, as it answers.
    async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        let req = self.http.post(self.url(path)).json(&body);
        req.send().await.unwrap()
    }

    /// `DELETE path`, as it answers.
    async fn delete(&self, path: &str) -> reqwest::Response {
        self.http.delete(self.url(path)).send().await.unwrap()
    }

    /// Central with a Kon Tum kiosk `id` connected, a free patron and `n` free items.
    async fn with_kiosk(id: &str, n: usize) -> (Central, String, Vec<String>, Device) {
        let c = Central::start().await;
        let patron = c.free_patron();
        let items = c.free_items(n);
        let signer = c.run.enrol("kontum", id).await;
        let d = Device::connect(&c.run.ready.mqtt, "kontum", id)
            .await
            .signed_by(signer);
        (c, patron, items, d)
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.fetch(path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn stat(&self, key: &str) -> u64 {
        self.get("/api/v1/stats").await[key].as_u64().unwrap()
    }

    /// What the seeded loans hold, as `key` names it: their patrons or their items.
    fn on_loan<'a>(&'a self, key: impl Fn(&'a SeedLoan) -> &'a String) -> HashSet<&'a str> {
        self.data.loans.iter().map(|l| key(l).as_str()).collect()
    }

    /// A patron who is neither blocked, staff nor expired, and has no seeded loans.
    fn free_patron(&self) -> String {
        let busy = self.on_loan(|l| &l.loan.patron);
        self.data
            .patrons
            .iter()
            .map(|p| &p.patron)
            .find(|p| {
                p.blocked.is_none()
                    && !p.staff
                    && p.category == "adult"
                    && p.expires
                        .is_none_or(|e| e > NaiveDate::from_ymd_opt(2030, 1, 1).unwrap())
                    && !busy.contains(p.card.as_str())
            })
            .expect("a free patron")
            .card
            .clone()
    }

    /// Lendable items of kontum not on loan.
    fn free_items(&self, n: usize) -> Vec<String> {
        let lent = self.on_loan(|l| &l.loan.item);
        let v: Vec<String> = self
            .data
            .items
            .iter()
            .filter(|i| {
                i.status == rong_protocol::delta::ItemStatus::Available
                    && i.home_branch.as_str() == "kontum"
                    && !lent.contains(i.barcode.as_str())
            })
            .take(n)
            .map(|i| i.barcode.clone())
            .collect();
        assert_eq!(v.len(), n);
        v
    }

    async fn stop(self) {
        self.run.stop().await;
    }
}

struct Device {
    /// Seals what it publishes, once enrolled (see [`Device::signed_by`]).
    signer: Option<rong_identity::Signer>,
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    branch: BranchId,
    id: DeviceId,
    log: Uuid,
}

impl Device {
    async fn connect(mqtt: &str, branch: &str, id: &str) -> Device {
        let addr: SocketAddr = mqtt.parse().unwrap();
        let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        o.set_max_packet_size(2 << 20, 2 << 20);
        o.set_keep_alive(Duration::from_secs(30));
        let (client, mut el) = AsyncClient::new(o, 100);
        let (tx, rx) = mpsc::unbounded_channel();
        let (sub_tx, sub_rx) = oneshot::channel();
        let branch = BranchId::new(branch).unwrap();
        let dev = DeviceId::new(id).unwrap();
        let filters = device_filters(&branch, &dev);
        let c = client.clone();
        tokio::spawn(async move {
            let mut sub_tx = Some(sub_tx);
            loop {
                match el.poll().await {
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                        let c = c.clone();
                        let filters = filters.clone();
                        tokio::spawn(async move {
                            c.subscribe_many(
                                filters
                                    .into_iter()
                                    .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce)),
                            )
                            .await
                            .unwrap();
                        });
                    }
                    Ok(MqttEvent::Incoming(Packet::SubAck(_))) => {
                        if let Some(t) = sub_tx.take() {
                            let _ = t.send(());
                        }
                    }
                    Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        tokio::time::timeout(T, sub_rx)
            .await
            .expect("device subscribed")
            .unwrap();
        Device {
            signer: None,
            client,
            rx,
            branch,
            id: dev,
            log: Uuid::now_v7(),
        }
    }

    /// Seals what it publishes with `signer` (an enrolled device's).
    fn signed_by(mut self, signer: rong_identity::Signer) -> Device {
        self.signer = Some(signer);
        self
    }

    /// Publishes `payload`, sealed when the device has a signer.
    async fn publish(&self, topic: &str, payload: Vec<u8>) {
        let payload = match &self.signer {
            Some(s) => s.seal(topic, &payload),
            None => payload,
        };
        self.publish_raw(topic, payload).await;
    }

    /// Publishes `payload` as it is.
    async fn publish_raw(&self, topic: &str, payload: Vec<u8>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    fn topic(&self, t: fn(BranchId, DeviceId) -> Topic) -> String {
        t(self.branch.clone(), self.id.clone()).to_topic_string()
    }

    async fn send(&self, batch: &EventBatch) {
        self.publish(&self.topic(Topic::Events), rong_protocol::encode(batch))
            .await;
    }

    /// Waits for the next delta on `topic`.
    async fn next_delta(&mut self, topic: &str) -> Delta {
        self.next(topic, |b| {
            match rong_protocol::decode::<Downlink>(b).unwrap().body {
                DownlinkBody::Delta(d) => Some(d),
                _ => None,
            }
        })
        .await
    }

    /// Waits for the next message on `topic` that `pick` accepts.
    async fn next<T>(&mut self, topic: &str, mut pick: impl FnMut(&[u8]) -> Option<T>) -> T {
        tokio::time::timeout(T, async {
            loop {
                let (t, payload) = self.rx.recv().await.expect("device connection alive");
                if t == topic {
                    if let Some(v) = pick(common::envelope_body(&payload)) {
                        return v;
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no matching message on {topic}"))
    }

    async fn ack(&mut self) -> u64 {
        let topic = self.topic(Topic::Ack);
        let log = self.log;
        self.next(&topic, |p| {
            let a: Ack = rong_protocol::decode(p).unwrap();
            (a.log == log).then_some(a.acked_through)
        })
        .await
    }
}

fn checkout(seq: u64, item: &str, patron: &str) -> Event {
    Event {
        seq,
        id: Uuid::now_v7(),
        at: chrono::Utc::now().timestamp_millis(),
        clock_synced: true,
        body: EventBody::Checkout {
            item: item.into(),
            patron: patron.into(),
            due: chrono::Utc::now().date_naive() + chrono::Duration::days(14),
        },
    }
}

async fn wait_for(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_applied_once_and_acked() {
    let (c, patron, items, mut d) = Central::with_kiosk("kontum-kiosk-1", 3).await;

    let batch = EventBatch::new(d.id.clone(), d.log, vec![checkout(1, &items[0], &patron)]);
    d.send(&batch).await;
    assert_eq!(d.ack().await, 1);
    let loans = c.get(&format!("/api/v1/loans?patron={patron}")).await;
    assert_eq!(loans.as_array().unwrap().len(), 1, "{loans}");
    assert_eq!(loans[0]["item"], items[0].as_str());
    assert_eq!(loans[0]["device"], "kontum-kiosk-1");
    assert_eq!(loans[0]["branch"], "kontum");

    // A replay is acked again and applied once.
    d.send(&batch).await;
    assert_eq!(d.ack().await, 1);
    assert_eq!(c.stat("events_replayed").await, 1);
    let events = c.get("/api/v1/events?device=kontum-kiosk-1").await;
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["kind"], "checkout");
    assert_eq!(events[0]["outcome"], "applied");

    // A gap: seq 3 without 2 is dropped and the ack stays below it.
    let gap = EventBatch::new(d.id.clone(), d.log, vec![checkout(3, &items[1], &patron)]);
    d.send(&gap).await;
    assert_eq!(d.ack().await, 1);
    // Then 2..3 in one batch.
    let run = EventBatch::new(
        d.id.clone(),
        d.log,
        vec![
            checkout(2, &items[1], &patron),
            checkout(3, &items[2], &patron),
        ],
    );
    d.send(&run).await;
    assert_eq!(d.ack().await, 3);
    assert_eq!(c.stat("events_applied").await, 3);
    assert_eq!(
        c.stat("loans_active").await as usize,
        c.data.loans.len() + 3
    );

    // The device record shows the log.
    let dev = c.get("/api/v1/devices/kontum-kiosk-1").await;
    assert_eq!(dev["logs"][0]["acked_through"], 3, "{dev}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_are_rejected_and_counted() {
    let (c, patron, items, d) = Central::with_kiosk("kontum-kiosk-9", 1).await;
    let topic = d.topic(Topic::Events);
    let good = EventBatch::new(d.id.clone(), d.log, vec![checkout(1, &items[0], &patron)]);

    d.publish(&topic, b"{not json".to_vec()).await;
    let mut v = serde_json::to_value(&good).unwrap();
    v["v"] = 99.into();
    d.publish(&topic, v.to_string().into_bytes()).await;
    let mut v = serde_json::to_value(&good).unwrap();
    v["padding"] = "x".repeat(300 * 1024).into();
    d.publish(&topic, v.to_string().into_bytes()).await;
    let other = EventBatch::new(
        DeviceId::new("kontum-kiosk-1").unwrap(),
        d.log,
        vec![checkout(1, &items[0], &patron)],
    );
    d.publish(&topic, rong_protocol::encode(&other)).await;
    // Its own batch on another branch's topic: not its topic to sign.
    d.publish(
        "rong/v1/nowhere/kontum-kiosk-9/events",
        rong_protocol::encode(&good),
    )
    .await;
    // Unsigned; signed by another key; and a signed message sent twice (the second is a
    // replay).
    d.publish_raw(&topic, rong_protocol::encode(&good)).await;
    let forger = rong_identity::Signer::new("kontum-kiosk-9", rong_identity::KeyPair::generate());
    d.publish_raw(&topic, forger.seal(&topic, &rong_protocol::encode(&good)))
        .await;
    let mut v = serde_json::to_value(&good).unwrap();
    v["v"] = 98.into();
    let sealed = d
        .signer
        .as_ref()
        .unwrap()
        .seal(&topic, v.to_string().as_bytes());
    d.publish_raw(&topic, sealed.clone()).await;
    d.publish_raw(&topic, sealed).await;

    wait_for("nine rejections", async || {
        c.stat("rejected_messages").await >= 9
    })
    .await;
    assert_eq!(c.stat("events_applied").await, 0);
    let r = c.fetch("/metrics").await;
    let text = r.text().await.unwrap();
    for (reason, n) in [
        ("malformed", 1),
        ("wrong_version", 2),
        ("oversized", 1),
        ("wrong_device", 1),
        ("not_owner", 1),
        ("unsigned", 1),
        ("bad_signature", 1),
        ("replay", 1),
    ] {
        assert!(
            text.contains(&format!(
                "rong_rejected_messages_total{{reason=\"{reason}\"}} {n}"
            )),
            "{reason}:\n{text}"
        );
    }
    assert!(text.contains("rong_change_version "));
    let loans = c.get(&format!("/api/v1/loans?item={}", items[0])).await;
    assert_eq!(loans.as_array().unwrap().len(), 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_long_block_reason_is_refused_and_changes_nothing() {
    let c = Central::start().await;
    let patron = c.free_patron();
    let v0 = c.stat("change_version").await;
    let path = format!("/api/v1/patrons/{patron}/block");
    let long = "ệ".repeat(rong_protocol::MAX_BLOCK_REASON_CHARS + 1);
    let r = c
        .post_json(&path, serde_json::json!({ "reason": long }))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body.to_string().contains("reason has 501 characters"),
        "{body}"
    );
    assert_eq!(c.stat("change_version").await, v0, "nothing changed");
    let detail = c.get(&format!("/api/v1/patrons/{patron}")).await;
    assert!(detail["blocked"].is_null(), "{detail}");
    // At the limit it is taken.
    let longest = "ệ".repeat(rong_protocol::MAX_BLOCK_REASON_CHARS);
    let r = c
        .post_json(&path, serde_json::json!({ "reason": longest }))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(c.stat("change_version").await, v0 + 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_go_down_as_deltas_and_catchup_works() {
    let c = Central::start().await;
    let patron = c.free_patron();
    let signer = c.run.enrol("kontum", "kontum-kiosk-2").await;
    let mut d = Device::connect(&c.run.ready.mqtt, "kontum", "kontum-kiosk-2")
        .await
        .signed_by(signer);
    let v0 = c.stat("change_version").await;

    let r = c
        .post_json(
            &format!("/api/v1/patrons/{patron}/block"),
            serde_json::json!({"reason": "Thẻ bị mất"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["blocked"], "Thẻ bị mất");
    assert!(body.get("pin_hash").is_none());
    let branch_topic = Topic::BranchDeltas(d.branch.clone()).to_topic_string();
    let p = patron.clone();
    let delta = d
        .next(&branch_topic, |bytes| {
            let m: Downlink = rong_protocol::decode(bytes).unwrap();
            match m.body {
                DownlinkBody::Delta(d) => d
                    .ops
                    .iter()
                    .any(|op| matches!(op, Op::PutPatron(x) if x.card == p && x.blocked.is_some()))
                    .then_some(d),
                _ => None,
            }
        })
        .await;
    assert_eq!((delta.from_version, delta.to_version), (v0, v0 + 1));

    // Unblock: one more version.
    let r = c.delete(&format!("/api/v1/patrons/{patron}/block")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(c.stat("change_version").await, v0 + 2);

    // Catch-up from an old version: consecutive deltas up to the current one.
    let own = d.topic(Topic::DeviceDeltas);
    d.publish(
        &d.topic(Topic::Catchup),
        rong_protocol::encode(&CatchupRequest::new(v0 - 3)),
    )
    .await;
    let mut at = v0 - 3;
    while at < v0 + 2 {
        let delta = d.next_delta(&own).await;
        assert_eq!(delta.from_version, at);
        assert_eq!(
            delta.ops.len() as u64,
            delta.to_version - delta.from_version
        );
        at = delta.to_version;
    }
    assert_eq!(at, v0 + 2);

    // From 0, or from beyond central's version: snapshot required.
    for from in [0, v0 + 100] {
        d.publish(
            &d.topic(Topic::Catchup),
            rong_protocol::encode(&CatchupRequest::new(from)),
        )
        .await;
        let (version, path) = d
            .next(&own, |b| {
                match rong_protocol::decode::<Downlink>(b).unwrap().body {
                    DownlinkBody::SnapshotRequired { version, path } => Some((version, path)),
                    _ => None,
                }
            })
            .await;
        assert_eq!(version, v0 + 2);
        assert_eq!(path, "/api/v1/snapshot/kontum");
    }

    // Unknown patron: JSON 404.
    let r = c.fetch("/api/v1/patrons/NOPE").await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("NOPE"));
    c.stop().await;
}

fn doc_has_search(doc: &Value) -> bool {
    doc["paths"]["/api/v1/search"].is_object()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_the_public_catalogue() {
    let c = Central::start().await;
    // Folding: no diacritics, any case, đ → d; the exact title ranks first.
    let r = c.get("/api/v1/search?q=DIA%20CHI%20kon%20tum").await;
    let hits = r["hits"].as_array().unwrap();
    assert_eq!(hits[0]["title"], "Địa chí Kon Tum");
    let copies: u64 = hits[0]["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["total"].as_u64().unwrap())
        .sum();
    let record = hits[0]["record"].as_str().unwrap().to_owned();
    let seeded = c.data.items.iter().filter(|i| i.record == record).count() as u64;
    assert_eq!(copies, seeded);
    // Search as you type: the last word is a prefix.
    let r = c.get("/api/v1/search?q=dia%20chi%20kon%20t&limit=5").await;
    assert_eq!(r["hits"][0]["record"], record.as_str());
    assert!(r["hits"].as_array().unwrap().len() <= 5);
    // ISBN, hyphenated.
    let isbn = c.data.records[0].isbn.clone().unwrap();
    let hyphenated = format!("{}-{}-{}", &isbn[..3], &isbn[3..6], &isbn[6..]);
    let r = c.get(&format!("/api/v1/search?q={hyphenated}")).await;
    assert_eq!(r["hits"][0]["record"], record.as_str());
    // Nothing searchable is an empty answer, not an error.
    let r = c.get("/api/v1/search?q=%20%2D%2D").await;
    assert_eq!(r["hits"].as_array().unwrap().len(), 0);

    // The public catalogue: Vietnamese by default, English on request (and remembered).
    let page = c.fetch("/opac?q=dia+chi+kon+tum").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"vi\">"));
    assert!(html.contains(&format!("/opac/record/{record}")));
    let page = c.fetch(&format!("/opac/record/{record}?lang=en")).await;
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("lang=en"), "{cookie}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Copies in the libraries"));
    assert!(html.contains("Địa chí Kon Tum"));
    let page = c
        .http
        .get(c.url("/opac/record/NOPE"))
        .header("cookie", "lang=en")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("not in the catalogue"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_is_gzip_jsonl_matching_the_version() {
    let c = Central::start().await;
    let kiosk = c.run.enrol("kontum", "kontum-kiosk-9").await;
    let snapshot = |branch: &str| {
        let url = c.url(&format!("/api/v1/snapshot/{branch}"));
        common::signed(&c.http, &kiosk, reqwest::Method::GET, &url).send()
    };
    assert_eq!(c.fetch("/api/v1/snapshot/kontum").await.status(), 401);
    let r = snapshot("kontum").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/gzip");
    let gz = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines();
    let header: SnapshotHeader = rong_protocol::decode(lines.next().unwrap().as_bytes()).unwrap();
    assert_eq!(header.branch.as_str(), "kontum");
    assert_eq!(header.version, c.stat("change_version").await);
    let mut rest: Vec<&str> = lines.collect();
    // The last line is the trailer: the digest of every line above, signed by central for
    // this branch and version.
    let trailer: rong_protocol::delta::SnapshotTrailer =
        serde_json::from_str(rest.pop().unwrap()).unwrap();
    let above = &text[..text.len() - text.trim_end().lines().last().unwrap().len() - 1];
    let sha256: String = <sha2::Sha256 as sha2::Digest>::digest(above.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(trailer.sha256, sha256);
    let central = rong_identity::KeyPair::load(&c.run.db.with_file_name("central.key"))
        .unwrap()
        .public();
    let ctx = rong_protocol::delta::snapshot_context(&header.branch, header.version);
    assert_eq!(
        rong_identity::mqtt::open_detached(&trailer.signature, &ctx, sha256.as_bytes(), &central),
        Ok(())
    );
    let ops: Vec<Op> = rest
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |f: fn(&Op) -> bool| ops.iter().filter(|o| f(o)).count();
    assert_eq!(count(|o| matches!(o, Op::PutItem(_))), c.data.items.len());
    // Every item, in full at home and compact elsewhere; records only where copies are.
    let kontum = BranchId::new("kontum").unwrap();
    let mut home_records = HashSet::new();
    for op in &ops {
        if let Op::PutItem(i) = op {
            let seeded = c
                .data
                .items
                .iter()
                .find(|s| s.barcode == i.barcode)
                .unwrap();
            if i.home_branch == kontum {
                assert_eq!(i, seeded);
                home_records.insert(i.record.clone());
            } else {
                assert_eq!(i, &seeded.compact());
            }
        }
    }
    let records: HashSet<String> = ops
        .iter()
        .filter_map(|o| match o {
            Op::PutRecord(r) => Some(r.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(records, home_records);
    assert!(records.len() < c.data.records.len());
    assert_eq!(
        count(|o| matches!(o, Op::PutPatron(_))),
        c.data.patrons.len()
    );
    assert_eq!(
        count(|o| matches!(o, Op::PutBranch(_))),
        c.data.branches.len()
    );
    assert_eq!(count(|o| matches!(o, Op::PutLoan(_))), c.data.loans.len());
    assert_eq!(count(|o| matches!(o, Op::PutRule(_))), c.data.rules.len());
    assert_eq!(
        count(|o| matches!(o, Op::PutClosedDay(_))),
        c.data.closed_days.len()
    );
    assert_eq!(c.stat("snapshots_served").await, 1);
    // Only its own branch's: another's, or one that does not exist, is forbidden.
    for other in ["dakto", "nowhere"] {
        assert_eq!(snapshot(other).await.unwrap().status(), 403, "{other}");
    }

    // The other documents exist.
    assert_eq!(c.get("/healthz").await["ok"], true);
    assert!(doc_has_search(&c.get("/api/v1/openapi.json").await));
    let doc = c.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/loans"].is_object());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_commands_reach_the_device_record() {
    use rong_protocol::status::{Command, CommandKind, CommandReply, DeviceState, DeviceStatus};
    let c = Central::start().await;
    let signer = c.run.enrol("dakto", "dakto-kiosk-1").await;
    let mut d = Device::connect(&c.run.ready.mqtt, "dakto", "dakto-kiosk-1")
        .await
        .signed_by(signer);
    let (dev_id, dev_branch) = (d.id.clone(), d.branch.clone());
    let status = |state| DeviceStatus {
        v: rong_protocol::SCHEMA_VERSION,
        device: dev_id.clone(),
        branch: dev_branch.clone(),
        state,
        version: "0.1.0".into(),
        boot_id: "b1".into(),
        started_at: 1,
        at: 2,
        time_synced: true,
        outbox_depth: 0,
        oldest_unsynced_age_s: None,
        catalogue_version: 5,
        disk_free_bytes: Some(1 << 30),
        temperature_c: Some(48.5),
        hardware: Default::default(),
        digitise: None,
    };
    let online = rong_protocol::encode(&status(DeviceState::Online));
    d.publish(&d.topic(Topic::Status), online).await;
    wait_for("device online", async || {
        c.get("/api/v1/devices").await[0]["state"] == "online"
    })
    .await;

    // A message text over the protocol's limit is refused at HTTP, and nothing is sent.
    let long = "ệ".repeat(rong_protocol::limits::MAX_MESSAGE_CHARS + 1);
    let r = c
        .post_json(
            "/api/v1/devices/dakto-kiosk-1/commands",
            serde_json::json!({"command": "show_message", "text": long, "seconds": 5}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("text has 501 characters"), "{body}");
    assert!(c.get("/api/v1/devices/dakto-kiosk-1").await["commands"]
        .as_array()
        .is_none_or(|a| a.is_empty()));

    // A command goes out on .../cmd with a fresh correlation id.
    let r = c
        .post_json(
            "/api/v1/devices/dakto-kiosk-1/commands",
            serde_json::json!({"command": "show_message", "text": "Xin chào", "seconds": 5}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cmd_topic = d.topic(Topic::Cmd);
    let cmd: Command = d.next(&cmd_topic, |b| rong_protocol::decode(b).ok()).await;
    assert_eq!(cmd.id, id);
    assert!(matches!(
        cmd.kind,
        CommandKind::ShowMessage { seconds: 5, .. }
    ));
    let reply = CommandReply::new(id.clone(), true, "shown");
    d.publish(&d.topic(Topic::CmdReply), rong_protocol::encode(&reply))
        .await;
    wait_for("reply stored", async || {
        let dev = c.get("/api/v1/devices/dakto-kiosk-1").await;
        dev["commands"][0]["ok"] == true
    })
    .await;

    // Offline (as the will would say) shows in the device, the timeline and the metrics.
    let offline = rong_protocol::encode(&status(DeviceState::Offline));
    d.publish(&d.topic(Topic::Status), offline).await;
    wait_for("device offline", async || {
        c.get("/api/v1/devices/dakto-kiosk-1").await["state"] == "offline"
    })
    .await;
    let dev = c.get("/api/v1/devices/dakto-kiosk-1").await;
    assert_eq!(dev["timeline"].as_array().unwrap().len(), 2);
    assert_eq!(dev["status"]["catalogue_version"], 5);
    let metrics = c.fetch("/metrics").await;
    let text = metrics.text().await.unwrap();
    assert!(text.contains("rong_devices{state=\"offline\"} 1"), "{text}");

    // Commands to unknown or invalid devices.
    let refused = [
        ("nobody", serde_json::json!({"command": "sync_now"}), 404),
        (
            "dakto-kiosk-1",
            serde_json::json!({"command": "dance"}),
            400,
        ),
    ];
    for (device, command, status) in refused {
        let r = c
            .post_json(&format!("/api/v1/devices/{device}/commands"), command)
            .await;
        assert_eq!(r.status(), status, "{device}");
    }
    c.stop().await;
}

/// Deltas published after a commit are lost if central stops before they leave; devices
/// that stayed connected to an external broker would not notice until the next change.
/// So central announces its version to every branch whenever it connects, and a device
/// behind it sees a gap and catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_announces_its_version_to_every_branch_on_connect() {
    let broker = central::broker::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut d = Device::connect(&broker.to_string(), "dakto", "dakto-kiosk-7").await;
    let c = Central::start_with(Some(format!("mqtt://{broker}"))).await;
    let version = c.stat("change_version").await;
    let topic = Topic::BranchDeltas(d.branch.clone()).to_topic_string();
    let delta = d.next_delta(&topic).await;
    assert_eq!((delta.from_version, delta.to_version), (version, version));
    assert!(delta.ops.is_empty());
    c.stop().await;
}

/// A batch whose seqs run past `u64::MAX` must be refused, not take central's MQTT loop
/// down with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_overflowing_seqs_is_refused_and_ingest_goes_on() {
    let (c, patron, items, mut d) = Central::with_kiosk("kontum-kiosk-5", 1).await;
    let mut a = checkout(1, &items[0], &patron);
    a.seq = u64::MAX;
    let mut b = checkout(1, &items[0], &patron);
    b.seq = 0;
    // Another log, so that a build without overflow checks (where the seqs wrap and the
    // batch is a harmless gap) gives no ack that could be mistaken for the one below.
    let poison = EventBatch {
        v: rong_protocol::SCHEMA_VERSION,
        device: d.id.clone(),
        log: Uuid::now_v7(),
        events: vec![a, b],
    };
    d.send(&poison).await;
    let good = EventBatch::new(d.id.clone(), d.log, vec![checkout(1, &items[0], &patron)]);
    d.send(&good).await;
    assert_eq!(d.ack().await, 1);
    c.stop().await;
}

/// A revoked device's signed events are set aside for review instead of applied;
/// accepting a batch applies it through the normal ingest, discarding keeps it recorded.
/// A device that never enrolled cannot sign, so its events are refused outright (and no
/// device row is made for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_revoked_devices_are_quarantined_until_decided() {
    let (c, patron, items, d) = Central::with_kiosk("kontum-kiosk-1", 2).await;
    let r = c
        .post_json("/api/v1/devices/kontum-kiosk-1/revoke", Value::Null)
        .await;
    assert_eq!(r.status(), 200);
    let before = EventBatch::new(d.id.clone(), d.log, vec![checkout(1, &items[0], &patron)]);
    d.send(&before).await;
    d.send(&before).await;
    let after = EventBatch::new(d.id.clone(), d.log, vec![checkout(2, &items[1], &patron)]);
    d.send(&after).await;
    let stranger = Device::connect(&c.run.ready.mqtt, "kontum", "kontum-kiosk-5").await;
    let stray = EventBatch::new(
        stranger.id.clone(),
        stranger.log,
        vec![checkout(1, &items[1], &patron)],
    );
    stranger.send(&stray).await;
    let made_up = stranger.signed_by(rong_identity::Signer::new(
        "kontum-kiosk-5",
        rong_identity::KeyPair::generate(),
    ));
    made_up.send(&stray).await;
    wait_for(
        "two quarantined batches and the stranger refused",
        async || {
            c.get("/api/v1/quarantine").await.as_array().unwrap().len() == 2
                && c.stat("rejected_messages").await >= 5
        },
    )
    .await;
    let metrics = c.fetch("/metrics").await.text().await.unwrap();
    for (reason, n) in [("unsigned", 1), ("unknown_signer", 1), ("quarantined", 3)] {
        assert!(
            metrics.contains(&format!(
                "rong_rejected_messages_total{{reason=\"{reason}\"}} {n}"
            )),
            "{reason}:\n{metrics}"
        );
    }
    assert_eq!(c.stat("events_applied").await, 0);
    assert!(c
        .get(&format!("/api/v1/loans?patron={patron}"))
        .await
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        c.fetch("/api/v1/devices/kontum-kiosk-5").await.status(),
        404,
        "not registered"
    );
    let held = c.get("/api/v1/quarantine").await;
    assert!(held
        .as_array()
        .unwrap()
        .iter()
        .all(|q| q["device"] == "kontum-kiosk-1" && q["reason"] == "device is revoked"));
    // Newest first: the batch sent after the revocation, then the one before.
    let (after_id, before_id) = (
        held[0]["id"].as_i64().unwrap(),
        held[1]["id"].as_i64().unwrap(),
    );
    // Staff accept the loan made before the board was stolen, say, and discard the other.
    let id = before_id;
    let r = c
        .post_json(&format!("/api/v1/quarantine/{id}/accept"), Value::Null)
        .await;
    assert_eq!(r.status(), 200);
    let r = c
        .post_json(
            &format!("/api/v1/quarantine/{after_id}/discard"),
            Value::Null,
        )
        .await;
    assert_eq!(r.status(), 200);
    let loans = c.get(&format!("/api/v1/loans?patron={patron}")).await;
    assert_eq!(loans.as_array().unwrap().len(), 1, "{loans}");
    assert_eq!(loans[0]["item"], items[0].as_str());
    assert!(c
        .get("/api/v1/quarantine")
        .await
        .as_array()
        .unwrap()
        .is_empty());
    let r = c
        .post_json(&format!("/api/v1/quarantine/{id}/accept"), Value::Null)
        .await;
    assert_eq!(r.status(), 404, "decided once");
    c.stop().await;
}
