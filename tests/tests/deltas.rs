//! Reference data down: deltas in order, gaps caught up, and a device far behind
//! bootstrapping from a snapshot.

use std::time::Duration;

use rong_protocol::delta::{Delta, Downlink, Op};
use rong_protocol::{decode, encode};
use rong_tests::fixtures::{barcode, card, free_adults, free_barcodes_of, free_books_of};
use rong_tests::mqtt::Spy;
use rong_tests::scenario::{wait_synced, BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(60);

fn block(s: &Scenario, patron: &str) {
    let r = s.central.request(
        "POST",
        &format!("/api/v1/patrons/{patron}/block"),
        Some(&serde_json::json!({"reason": "Chưa trả sách"})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn unblock(s: &Scenario, patron: &str) {
    let r = s
        .central
        .request("DELETE", &format!("/api/v1/patrons/{patron}/block"), None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn version(a: &rong_tests::Agent) -> u64 {
    a.status()["catalogue_version"].as_u64().unwrap_or(0)
}

#[test]
fn a_block_at_central_reaches_the_device() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let a = s.agent("sathay-kiosk-1", "sathay");
    let p = card(free_adults(1, 1)[0]);
    let books = free_barcodes_of("sathay", 1, 2);
    a.client()
        .checkout(&p, &books[0])
        .expect("allowed before the block");
    block(&s, &p);
    let v = s.central.stat("change_version");
    wait_until("the delta to arrive", T, || version(&a) >= v);
    assert_eq!(
        a.client().checkout(&p, &books[1]).unwrap_err(),
        "patron_blocked"
    );
}

#[test]
fn a_gap_triggers_catch_up_and_the_gap_delta_is_not_applied() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let a = s.agent("kontum-kiosk-1", "kontum");
    let spy = Spy::connect(
        &s.central.mqtt_url,
        "test-spy",
        &["rong/v1/kontum/kontum-kiosk-1/catchup".to_owned()],
    );
    let mine = version(&a);
    let victim = card(free_adults(1, 1)[0]);
    // A delta that starts beyond the device's version, carrying a change that must not land.
    let bogus = Downlink::delta(Delta {
        from_version: mine + 50,
        to_version: mine + 51,
        ops: vec![Op::DelPatron {
            card: victim.clone(),
        }],
    });
    // Signed with central's key: the gap logic is under test here, not the signature.
    let topic = "rong/v1/kontum/deltas";
    spy.publish_raw(topic, s.central.seal_as_central(topic, &encode(&bogus)));
    wait_until("a catch-up request from the device", T, || {
        spy.received("/catchup").iter().any(|p| {
            decode::<rong_protocol::delta::CatchupRequest>(p)
                .map(|r| r.from_version == mine)
                .unwrap_or(false)
        })
    });
    // The device stays consistent with central and still knows the patron.
    let book = barcode(free_books_of("kontum", 1, 1)[0]);
    a.client()
        .checkout(&victim, &book)
        .expect("the patron is still known");
    assert!(version(&a) <= s.central.stat("change_version"));
}

#[test]
fn a_device_far_behind_bootstraps_from_a_snapshot() {
    let s = Scenario::start(BrokerKind::Embedded, "[ingest]\nmax_catchup_ops = 5\n");
    let mut a = s.agent("konplong-kiosk-1", "konplong");
    a.stop();
    let patrons = free_adults(1, 8);
    for p in &patrons {
        block(&s, &card(*p));
    }
    for p in &patrons[1..] {
        unblock(&s, &card(*p));
    }
    let served_before = s.central.stat("snapshots_served");
    a.start();
    wait_synced(&a);
    let v = s.central.stat("change_version");
    wait_until("the device to reach central's version", T, || {
        version(&a) == v
    });
    assert!(
        s.central.stat("snapshots_served") > served_before,
        "no snapshot was served"
    );
    let book = barcode(free_books_of("kontum", 1, 1)[0]);
    assert_eq!(
        a.client().checkout(&card(patrons[0]), &book).unwrap_err(),
        "patron_blocked"
    );
    a.client()
        .checkout(&card(patrons[1]), &book)
        .expect("unblocked patron may borrow");
}

/// A MARC file of `n` records, each with one item at Kon Tum, ids `{prefix}1..`.
fn marc_file(path: &std::path::Path, prefix: &str, n: usize) {
    use central_catalogue::marc::{iso2709, Field, Record};
    let mut bytes = Vec::new();
    for i in 1..=n {
        let mut r = Record::new();
        r.leader[9] = b'a';
        r.fields.push(Field::Control {
            tag: *b"001",
            value: format!("{prefix}{i}").into_bytes(),
        });
        r.fields
            .push(Field::text(b"100", &[(b'a', "Nguyễn Văn Nhập,")]));
        r.fields.push(Field::text(
            b"245",
            &[(b'a', &format!("Sách nhập {prefix} số {i}"))],
        ));
        r.fields.push(Field::text(
            b"952",
            &[
                (b'a', "kontum"),
                (b'o', "895.922"),
                (b'p', &format!("{prefix}-BC{i}")),
                (b'y', "book"),
            ],
        ));
        bytes.extend(iso2709::to_bytes(&r).expect("writable record"));
    }
    std::fs::write(path, bytes).expect("write MARC");
}

fn import(s: &Scenario, file: &std::path::Path) -> String {
    rong_tests::proc::run_ok(
        std::process::Command::new(rong_tests::proc::bin("central"))
            .args(["import", "marc"])
            .arg(file)
            .env("RONG_DATA_DIR", s.central.dir().join("data")),
        "central import",
    )
}

/// How many of the device's records have ids starting with `prefix`.
fn records_on(a: &rong_tests::Agent, prefix: &str) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        a.dir().join("data").join("agent.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the agent's database");
    db.query_row(
        "SELECT count(*) FROM records WHERE id LIKE ?1 || '%'",
        [prefix],
        |r| r.get(0),
    )
    .expect("count records")
}

#[test]
fn a_big_import_sends_devices_to_the_snapshot_and_a_small_one_goes_as_deltas() {
    let mut s = Scenario::start(BrokerKind::Embedded, "");
    let a = s.agent("kontum-kiosk-1", "kontum");
    let dir = s.tmp.path().to_owned();

    // Small: announced row by row, the device catches up with deltas at central's restart.
    let small = dir.join("small.mrc");
    marc_file(&small, "SMALL", 3);
    s.central.stop();
    assert_eq!(
        import(&s, &small).lines().next(),
        Some("imported 3, updated 0, skipped 0")
    );
    s.central.start();
    let served_before = s.central.stat("snapshots_served");
    let v = s.central.stat("change_version");
    wait_until("the small import's deltas", T, || version(&a) == v);
    assert_eq!(records_on(&a, "SMALL"), 3);
    assert_eq!(
        s.central.stat("snapshots_served"),
        served_before,
        "a small import needs no snapshot"
    );

    // Big (5,000 records or more): announced by a snapshot marker; the device, behind it,
    // takes the snapshot and ends up with every record.
    let big = dir.join("big.mrc");
    let n = 5_200;
    marc_file(&big, "BIG", n);
    s.central.stop();
    assert_eq!(
        import(&s, &big).lines().next(),
        Some(format!("imported {n}, updated 0, skipped 0").as_str())
    );
    let db = rusqlite::Connection::open(s.central.db_path()).expect("central db");
    let logged: i64 = db
        .query_row(
            "SELECT count(*) FROM changes WHERE version > ?1",
            [v as i64],
            |r| r.get(0),
        )
        .expect("count changes");
    assert_eq!(
        logged, 1,
        "one snapshot marker per transaction, not one per row"
    );
    drop(db);
    s.central.start();
    let v = s.central.stat("change_version");
    wait_until("the device to take the snapshot", T, || version(&a) == v);
    assert!(
        s.central.stat("snapshots_served") > served_before,
        "no snapshot was served"
    );
    assert_eq!(records_on(&a, "BIG") as usize, n);
    assert_eq!(records_on(&a, "SMALL"), 3);
    let mut c = a.client();
    match rong_tests::agent::outcome(c.call(rong_protocol::api::RequestOp::Search {
        q: "sach nhap big so 5199".into(),
        limit: Some(5),
    })) {
        Ok(rong_protocol::api::Reply::SearchResults { hits }) => {
            assert_eq!(hits[0].record, "BIG5199");
            assert_eq!(hits[0].total_here, 1);
        }
        other => panic!("unexpected {other:?}"),
    }

    // After the snapshot, changes flow as deltas again.
    let p = card(free_adults(1, 1)[0]);
    block(&s, &p);
    let v = s.central.stat("change_version");
    wait_until("a delta after the snapshot", T, || version(&a) == v);
}
