//! A loan-rule change made in the dashboard reaches a kiosk by delta: after it, a loan gets
//! the new period; a loan the kiosk made offline before the change keeps the due date it
//! was given, at the kiosk and at central.

use std::time::Duration;

use chrono::NaiveDate;
use rong_protocol::api::Reply;
use rong_tests::fixtures::{card, free_adults, free_barcodes_of};
use rong_tests::http::form;
use rong_tests::scenario::{wait_drained, wait_synced, BrokerKind, Scenario};
use rong_tests::staff::Session;
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(60);
const PASSWORD: &str = "mật-khẩu-đủ-dài";

fn due_of(r: Result<Reply, String>) -> NaiveDate {
    match r {
        Ok(Reply::CheckedOut { due, .. }) => due,
        other => panic!("not lent: {other:?}"),
    }
}

#[test]
fn a_rule_change_reaches_the_kiosk_and_an_earlier_loan_keeps_its_date() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    s.central.admin_create("ana", PASSWORD, None);
    let mut kiosk = s.agent("kontum-kiosk-1", "kontum");
    wait_synced(&kiosk);
    let patron = card(free_adults(1, 1)[0]);
    let items = free_barcodes_of("kontum", 1, 2);

    // Offline, a loan by the rules the kiosk holds.
    let online_url = kiosk.restart_offline();
    wait_until("the kiosk offline", T, || kiosk.status()["online"] == false);
    let before = due_of(kiosk.client().checkout(&patron, &items[0]));

    // Meanwhile the administrator makes every loan 60 days.
    let ana = Session::login(s.central.http, "ana", PASSWORD);
    let csrf = ana.csrf();
    let r = ana.post(
        "/admin/rules/matrix",
        &form(&[("csrf", &csrf), ("d|*|*", "60"), ("r|*|*", "1")]),
    );
    assert_eq!(r.status, 303, "{}", r.text());

    // Back online: the kiosk catches up, and lends by the new rule.
    kiosk.stop();
    kiosk.set_mqtt_url(&online_url);
    kiosk.start();
    wait_synced(&kiosk);
    wait_drained(&kiosk, T);
    // The kiosk's local day (UTC+7).
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let mut after = None;
    wait_until("the new rule at the kiosk", T, || {
        let mut c = kiosk.client();
        let due = due_of(c.checkout(&patron, &items[1]));
        if due > today + chrono::Duration::days(45) {
            after = Some(due);
            true
        } else {
            // Lent by the old rule: return it and try again once the delta is in.
            let _ = c.checkin(&items[1]);
            false
        }
    });
    let after = after.unwrap();
    assert!(after > before, "{after} after {before}");

    // The earlier loan keeps the date it was given, at the kiosk and at central.
    wait_drained(&kiosk, T);
    let at_central = s.central.loans(Some(&patron));
    let first = at_central
        .iter()
        .find(|l| l["item"] == items[0].as_str())
        .expect("the offline loan at central");
    assert_eq!(first["due"], before.to_string());
    let (code, out) = kiosk.ctl(&["loans", "--card", &patron]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&before.to_string()), "{out}");
}
