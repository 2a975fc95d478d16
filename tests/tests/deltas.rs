//! Reference data down: deltas in order, gaps caught up, and a device far behind
//! bootstrapping from a snapshot.

use std::time::Duration;

use rong_protocol::delta::{Delta, Downlink, Op};
use rong_protocol::{decode, encode};
use rong_tests::fixtures::{barcode, card, free_adults, free_books_of};
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
    let books: Vec<String> = free_books_of("sathay", 1, 2)
        .into_iter()
        .map(barcode)
        .collect();
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
    spy.publish("rong/v1/kontum/deltas", encode(&bogus));
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
