//! Bad input at every boundary: rejected, logged, counted, and nothing changes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rong_protocol::event::{Event, EventBatch, EventBody};
use rong_protocol::{encode, DeviceId};
use rong_tests::fixtures::{barcode, card, free_adults, free_books_of};
use rong_tests::mqtt::Spy;
use rong_tests::proc::bin;
use rong_tests::scenario::{BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(30);

fn checkout_batch(device: &str, seq: u64) -> EventBatch {
    EventBatch::new(
        DeviceId::new(device).expect("id"),
        uuid::Uuid::now_v7(),
        vec![Event {
            seq,
            id: uuid::Uuid::now_v7(),
            at: chrono::Utc::now().timestamp_millis(),
            clock_synced: true,
            body: EventBody::Checkout {
                item: barcode(free_books_of("kontum", 1, 1)[0]),
                patron: card(free_adults(1, 1)[0]),
                due: chrono::Utc::now().date_naive() + chrono::Duration::days(21),
            },
        }],
    )
}

#[test]
fn central_rejects_and_counts_bad_payloads() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let signer = s.central.enrol_device("kontum", "kontum-kiosk-9");
    let spy = Spy::connect(&s.central.mqtt_url, "kontum-kiosk-9", &[]).signed_by(signer);
    let topic = "rong/v1/kontum/kontum-kiosk-9/events";
    let before = s.central.stat("rejected_messages");

    spy.publish(topic, b"{this is not json".to_vec());
    let mut wrong_version =
        serde_json::to_value(checkout_batch("kontum-kiosk-9", 1)).expect("json");
    wrong_version["v"] = 99.into();
    spy.publish(topic, wrong_version.to_string());
    let mut huge = serde_json::to_value(checkout_batch("kontum-kiosk-9", 1)).expect("json");
    huge["padding"] = "x".repeat(300 * 1024).into();
    spy.publish(topic, huge.to_string());
    // A valid batch from kontum-kiosk-1, published on kontum-kiosk-9's topic.
    spy.publish(topic, encode(&checkout_batch("kontum-kiosk-1", 1)));

    // And one with no signature at all.
    spy.publish_raw(topic, encode(&checkout_batch("kontum-kiosk-9", 1)));

    wait_until("central to count five rejections", T, || {
        s.central.stat("rejected_messages") >= before + 5
    });
    assert_eq!(s.central.stat("events_applied"), 0);
    assert!(s
        .central
        .loans(None)
        .iter()
        .all(|l| l["device"] != "kontum-kiosk-1"));
    let metrics = s.central.request("GET", "/metrics", None);
    let text = String::from_utf8_lossy(&metrics.body);
    for reason in [
        "malformed",
        "wrong_version",
        "oversized",
        "wrong_device",
        "unsigned",
    ] {
        assert!(
            text.contains(&format!("reason=\"{reason}\"")),
            "metrics lack {reason}:\n{text}"
        );
    }
}

#[test]
fn the_agent_rejects_and_counts_bad_payloads() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let a = s.agent("dakha-kiosk-1", "dakha");
    let spy = Spy::connect(&s.central.mqtt_url, "test-spy", &[]);
    let before = a.status();
    let rejected = before["rejected_messages"].as_u64().unwrap_or(0);
    spy.publish("rong/v1/dakha/dakha-kiosk-1/ack", b"garbage".to_vec());
    spy.publish(
        "rong/v1/dakha/deltas",
        br#"{"v":7,"type":"delta","from_version":1,"to_version":2,"ops":[]}"#.to_vec(),
    );
    spy.publish("rong/v1/dakha/deltas", vec![b'['; 300 * 1024]);
    wait_until("the agent to count three rejections", T, || {
        a.status()["rejected_messages"].as_u64().unwrap_or(0) >= rejected + 3
    });
    let after = a.status();
    assert_eq!(after["catalogue_version"], before["catalogue_version"]);
    assert_eq!(after["acked_through"], before["acked_through"]);
}

fn refuses_to_start(program: &str, args: &[&str], db: &Path) {
    let before = std::fs::read(db).expect("read db");
    let out = Command::new(bin(program)).args(args).output().expect("run");
    assert!(!out.status.success(), "{program} started on a bad database");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("database") || err.contains("schema"),
        "unclear error: {err}"
    );
    assert_eq!(
        std::fs::read(db).expect("read db"),
        before,
        "{program} changed the file"
    );
}

/// Puts `garbage` where `program`'s database `db` should be, then a real SQLite file with
/// somebody else's tables (made by `foreign`): `program` must refuse both and leave them be.
fn refuses_bad_databases(program: &str, args: &[&str], db: &Path, garbage: &[u8], foreign: &str) {
    std::fs::write(db, garbage).expect("garbage");
    refuses_to_start(program, args, db);
    // A real SQLite file with somebody else's tables is not ours either.
    std::fs::remove_file(db).expect("rm");
    rusqlite::Connection::open(db)
        .expect("open")
        .execute_batch(foreign)
        .expect("foreign schema");
    refuses_to_start(program, args, db);
}

#[test]
fn corrupt_or_foreign_databases_are_refused_and_left_alone() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Central, then the agent: a file of garbage where the database should be, then a
    // foreign one.
    for (program, command, name, toml, garbage, foreign) in [
        (
            "central",
            "serve",
            "central",
            "data_dir = \"{dir}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[broker]\nlisten = \"127.0.0.1:0\"\n",
            b"SQLite format 3\0this is not really a database".repeat(100),
            "CREATE TABLE accounts(id INTEGER); INSERT INTO accounts VALUES (1); PRAGMA user_version = 4242;",
        ),
        (
            "edge-agent",
            "run",
            "agent",
            "device = \"kontum-kiosk-1\"\nbranch = \"kontum\"\ndata_dir = \"{dir}\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\n",
            vec![0xA5u8; 8192],
            "CREATE TABLE accounts(id INTEGER); PRAGMA user_version = 4242;",
        ),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, toml.replace("{dir}", &dir.display().to_string())).expect("cfg");
        refuses_bad_databases(
            program,
            &[command, "--config", config.to_str().expect("utf8")],
            &dir.join(format!("{name}.db")),
            &garbage,
            foreign,
        );
    }
}
