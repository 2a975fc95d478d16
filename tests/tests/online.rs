//! Online circulation: a loan, a return and a renewal made at a device reach central and
//! show in its API; `edge-agent ctl` drives the same flows; bad input is refused clearly.

use std::time::Duration;

use rong_protocol::api::{Reply, RequestOp, Who};
use rong_tests::fixtures::{barcode, card, free_adults, free_barcodes_of, free_books_of, uid};
use rong_tests::scenario::{wait_drained, BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(30);

#[test]
fn loan_return_and_renewal_reach_central() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let agent = s.agent("kontum-kiosk-1", "kontum");
    let patron = card(free_adults(1, 1)[0]);
    let items = free_barcodes_of("kontum", 1, 2);
    let mut c = agent.client();

    let due = match c.checkout(&patron, &items[0]).expect("checkout") {
        Reply::CheckedOut { due, item, title } => {
            assert_eq!(item, items[0]);
            assert!(!title.is_empty());
            due
        }
        other => panic!("unexpected {other:?}"),
    };
    c.checkout(&patron, &items[1]).expect("second checkout");
    wait_until("central to show both loans", T, || {
        s.central.loans(Some(&patron)).len() == 2
    });
    let loans = s.central.loans(Some(&patron));
    let first = loans
        .iter()
        .find(|l| l["item"] == items[0].as_str())
        .expect("loan of first item");
    assert_eq!(first["due"], due.to_string());
    assert_eq!(first["device"], "kontum-kiosk-1");

    // Renewal: allowed once the same day? The rule gives 2 renewals for adults' books.
    match c.renew(&patron, &items[1]).expect("renew") {
        Reply::Renewed { renewals, .. } => assert_eq!(renewals, 1),
        other => panic!("unexpected {other:?}"),
    }
    wait_until("central to record the renewal", T, || {
        s.central
            .loans(Some(&patron))
            .iter()
            .any(|l| l["item"] == items[1].as_str() && l["renewals"] == 1)
    });

    match c.checkin(&items[0]).expect("checkin") {
        Reply::CheckedIn {
            was_on_loan,
            transfer_to,
            ..
        } => {
            assert!(was_on_loan);
            assert_eq!(transfer_to, None, "a kontum item returned at kontum stays");
        }
        other => panic!("unexpected {other:?}"),
    }
    wait_until("central to close the returned loan", T, || {
        s.central.loans(Some(&patron)).len() == 1
    });
    wait_drained(&agent, T);

    let events = s.central.events("kontum-kiosk-1");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["checkout", "checkout", "renew", "checkin"]);
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[test]
fn ctl_drives_the_local_api() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let agent = s.agent("dakto-kiosk-1", "dakto");
    let patron = card(free_adults(40, 1)[0]);
    let item = barcode(free_books_of("kontum", 40, 1)[0]);

    let (code, out) = agent.ctl(&["checkout", "--card", &patron, &item]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&item) && out.contains("due"), "{out}");

    let (code, out) = agent.ctl(&["loans", "--card", &patron]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&item), "{out}");

    // A kontum book returned at Đăk Tô goes back to the provincial library.
    let (code, out) = agent.ctl(&["--json", "checkin", &item]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(r#""transfer_to":"kontum""#), "{out}");

    let (code, out) = agent.ctl(&["checkout", "--card", "NO-SUCH-CARD", &item]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown_patron"), "{out}");

    let (code, out) = agent.ctl(&["status"]);
    assert_eq!(code, 0, "{out}");

    let (code, _) = agent.ctl(&["frobnicate"]);
    assert_eq!(code, 2);

    // A PIN comes from stdin (or a prompt), never from the command line.
    let pinned = card(5);
    let (code, out) = agent.ctl_stdin(&["identify", "--card", &pinned, "--pin-stdin"], "0005\n");
    assert_eq!(code, 0, "{out}");
    let (code, out) = agent.ctl_stdin(&["identify", "--card", &pinned, "--pin-stdin"], "9999\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("wrong_pin"), "{out}");
    let (code, _) = agent.ctl(&["identify", "--card", &pinned, "--pin", "0005"]);
    assert_eq!(code, 2, "--pin is no longer an option");
    let (code, _) = agent.ctl_stdin(&["identify", "--card", &pinned, "--ask-pin"], "0005\n");
    assert_eq!(code, 2, "--ask-pin needs a terminal");
}

#[test]
fn refusals_are_clear_and_change_nothing() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let agent = s.agent("kontum-kiosk-2", "kontum");
    let mut c = agent.client();
    let adult = card(free_adults(60, 1)[0]);
    let books = free_barcodes_of("kontum", 200, 7);
    let depth = |a: &rong_tests::Agent| a.status()["last_seq"].as_u64().unwrap_or(0);

    // Unknown patron, unknown item.
    assert_eq!(
        c.checkout("P999999", &books[0]).unwrap_err(),
        "unknown_patron"
    );
    assert_eq!(
        c.checkout(&adult, "KT99999999").unwrap_err(),
        "unknown_item"
    );
    // Blocked (P000003) and expired (P000007) cards.
    assert_eq!(
        c.checkout(&card(3), &books[0]).unwrap_err(),
        "patron_blocked"
    );
    assert_eq!(c.checkout(&card(7), &books[0]).unwrap_err(), "card_expired");
    assert_eq!(depth(&agent), 0, "refusals wrote events");

    // Already on loan to the same patron.
    c.checkout(&adult, &books[0]).expect("first loan");
    assert_eq!(
        c.checkout(&adult, &books[0]).unwrap_err(),
        "already_on_loan"
    );
    // Loan limit: adults may hold 5.
    for b in &books[1..5] {
        c.checkout(&adult, b).expect("within the limit");
    }
    assert_eq!(c.checkout(&adult, &books[5]).unwrap_err(), "loan_limit");
    assert_eq!(depth(&agent), 5);

    // PIN: P000005 has PIN 0005.
    let pin_who = |pin: Option<&str>| Who {
        card: Some(card(5)),
        pin: pin.map(str::to_owned),
        ..Who::default()
    };
    let code = |r: rong_protocol::api::Response| rong_tests::agent::outcome(r).unwrap_err();
    assert_eq!(
        code(c.call(RequestOp::Identify(pin_who(None)))),
        "pin_required"
    );
    assert_eq!(
        code(c.call(RequestOp::Identify(pin_who(Some("9999"))))),
        "wrong_pin"
    );
    assert!(rong_tests::agent::outcome(c.call(RequestOp::Identify(pin_who(Some("0005"))))).is_ok());
    // The NFC UID identifies the same patron.
    let by_uid = Who {
        uid: Some(uid(5)),
        pin: Some("0005".into()),
        ..Who::default()
    };
    match rong_tests::agent::outcome(c.call(RequestOp::Identify(by_uid))).expect("uid") {
        Reply::Identified { patron, .. } => assert_eq!(patron.card, card(5)),
        other => panic!("unexpected {other:?}"),
    }

    // Malformed lines get bad_request and the connection stays usable.
    let r = c.raw("{not json").expect("answer");
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "bad_request");
    let r = c.raw(r#"{"id":9,"op":"checkout"}"#).expect("answer");
    assert_eq!(r["error"]["code"], "bad_request");
    assert!(c.raw(r#"{"id":10,"op":"status"}"#).expect("answer")["ok"] == true);
}

#[test]
fn five_wrong_pins_lock_the_card() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let agent = s.agent("kontum-kiosk-3", "kontum");
    let mut c = agent.client();
    let who = |pin: &str| Who {
        card: Some(card(10)),
        pin: Some(pin.into()),
        ..Who::default()
    };
    for _ in 0..4 {
        let e = rong_tests::agent::outcome(c.call(RequestOp::Identify(who("1111")))).unwrap_err();
        assert_eq!(e, "wrong_pin");
    }
    let e = rong_tests::agent::outcome(c.call(RequestOp::Identify(who("1111")))).unwrap_err();
    assert!(e == "pin_locked" || e == "wrong_pin", "{e}");
    // Locked now, even with the right PIN (P000010's PIN is 0010).
    let e = rong_tests::agent::outcome(c.call(RequestOp::Identify(who("0010")))).unwrap_err();
    assert_eq!(e, "pin_locked");
}
