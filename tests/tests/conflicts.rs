//! DESIGN's offline conflict rules, end to end: a device that was offline reports what
//! physically happened, and central accepts it, reconciles, and raises the right notices.

use std::time::Duration;

use rong_tests::fixtures::{card, free_adults, free_barcodes_of};
use rong_tests::scenario::{wait_drained, wait_synced, BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(60);

fn notices(s: &Scenario, kind: &str) -> Vec<serde_json::Value> {
    s.central
        .get(&format!("/api/v1/notices?kind={kind}"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn offline_conflicts_are_reconciled_with_notices() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let a = s.agent("kontum-kiosk-1", "kontum");
    let mut b = s.agent("dakto-kiosk-1", "dakto");
    let url = b.restart_offline();

    let adults = free_adults(1, 3);
    let (p1, p2, p_blocked) = (card(adults[0]), card(adults[1]), card(adults[2]));
    let child = card(9); // children may hold 2 loans
    let books = free_barcodes_of("kontum", 1, 6);

    // A lends book 0 to p1 and books 1–2 to the child while B is offline.
    let mut ca = a.client();
    ca.checkout(&p1, &books[0]).expect("online loan");
    ca.checkout(&child, &books[1]).expect("child loan 1");
    ca.checkout(&child, &books[2]).expect("child loan 2");
    wait_drained(&a, T);
    // Central blocks a patron; B cannot hear of it.
    let r = s.central.request(
        "POST",
        &format!("/api/v1/patrons/{p_blocked}/block"),
        Some(&serde_json::json!({"reason": "Thẻ bị mất"})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Offline at B: book 0 (on loan to p1 at central) goes to p2; the child borrows a
    // third book; the blocked patron borrows; a book not on loan comes back; an unknown
    // item cannot be lent but can be returned.
    let mut cb = b.client();
    cb.checkout(&p2, &books[0]).expect("missed-return loan");
    cb.checkout(&child, &books[3])
        .expect("over-limit loan (B saw no other loans)");
    cb.checkout(&p_blocked, &books[4])
        .expect("loan by a patron blocked at central");
    cb.checkin(&books[5])
        .expect("return of an item not on loan");
    assert_eq!(cb.checkout(&p2, "KT77777777").unwrap_err(), "unknown_item");
    cb.checkin("KT77777777")
        .expect("return of an unknown item is accepted");
    drop(cb);

    b.stop();
    b.set_mqtt_url(&url);
    b.start();
    wait_synced(&b);
    wait_drained(&b, T);

    // Missed return: p1's loan closed, p2's open, one notice.
    wait_until("missed_return notice", T, || {
        !notices(&s, "missed_return").is_empty()
    });
    assert!(s.central.loans(Some(&p1)).is_empty(), "p1's loan is closed");
    let p2_loans = s.central.loans(Some(&p2));
    assert_eq!(p2_loans.len(), 1);
    assert_eq!(p2_loans[0]["item"], books[0].as_str());
    let old = s
        .central
        .get(&format!("/api/v1/loans?patron={p1}&active=false"));
    assert_eq!(old.as_array().map(Vec::len), Some(1));
    assert_eq!(old[0]["missed_return"], true);

    // Over limit: all three child loans stand, with a notice.
    assert_eq!(s.central.loans(Some(&child)).len(), 3);
    let over = notices(&s, "over_limit");
    assert_eq!(over.len(), 1, "{over:?}");
    assert_eq!(over[0]["patron"], child.as_str());

    // Blocked patron's loan accepted, with a notice; the block then reaches B.
    assert_eq!(s.central.loans(Some(&p_blocked)).len(), 1);
    assert_eq!(notices(&s, "blocked_patron_loan").len(), 1);
    let version = s.central.stat("change_version");
    wait_until("B to catch up", T, || {
        b.status()["catalogue_version"].as_u64() >= Some(version)
    });
    assert_eq!(
        b.client().checkout(&p_blocked, &books[5]).unwrap_err(),
        "patron_blocked"
    );

    // A return of an item not on loan is recorded without a notice of its own; the
    // unknown item's return raises one.
    let events = s.central.events("dakto-kiosk-1");
    assert_eq!(events.iter().filter(|e| e["kind"] == "checkin").count(), 2);
    let unknown = notices(&s, "unknown_item");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(unknown[0]["item"], "KT77777777");
}
