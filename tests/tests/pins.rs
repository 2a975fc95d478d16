//! PINs checked by central while the boards are online: wrong PINs typed at two kiosks of
//! a branch add up, and the card is locked on both (and would be on any other); the lock
//! holds on a kiosk that goes offline.

use std::time::Duration;

use rong_protocol::api::{RequestOp, Who};
use rong_tests::agent::outcome;
use rong_tests::central::Central;
use rong_tests::proc::{bin, run_ok};
use rong_tests::scenario::{wait_synced, ITEMS, PATRONS};
use rong_tests::{wait_until, Agent};

const CARD: &str = "PINTEST0001";

fn identify(a: &Agent, pin: &str) -> Result<(), String> {
    outcome(a.client().call(RequestOp::Identify(Who {
        card: Some(CARD.into()),
        pin: Some(pin.into()),
        ..Who::default()
    })))
    .map(|_| ())
}

#[test]
fn a_pin_lockout_holds_on_every_kiosk_of_the_branch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut central = Central::prepare(tmp.path(), None, "");
    central.seed(ITEMS, PATRONS);
    let csv = tmp.path().join("readers.csv");
    std::fs::write(
        &csv,
        format!("card,name,category,branch,pin,pin_required\n{CARD},Y Bhăm Ênuôl,adult,kontum,2468,yes\n"),
    )
    .expect("csv");
    run_ok(
        std::process::Command::new(bin("central"))
            .args(["import", "patrons", "--config"])
            .arg(central.dir().join("central.toml"))
            .arg(&csv),
        "central import patrons",
    );
    central.start();
    let http = central.http.to_string();
    let mut a =
        Agent::prepare_enrolled(tmp.path(), &central, "kontum-kiosk-1", "kontum", &http, "");
    let mut b =
        Agent::prepare_enrolled(tmp.path(), &central, "kontum-kiosk-2", "kontum", &http, "");
    a.start();
    b.start();
    wait_synced(&a);
    wait_synced(&b);

    assert_eq!(identify(&a, "2468"), Ok(()), "the right PIN");
    for pin in ["1111", "2222", "3333"] {
        assert_eq!(identify(&a, pin), Err("wrong_pin".into()));
    }
    assert_eq!(identify(&b, "4444"), Err("wrong_pin".into()));
    // Each kiosk alone has seen fewer than five wrong PINs; central has seen five.
    assert_eq!(identify(&b, "5555"), Err("pin_locked".into()));
    assert_eq!(
        identify(&a, "2468"),
        Err("pin_locked".into()),
        "on the other kiosk too"
    );

    // Central gone: the kiosk checks PINs itself, and central's lock holds there.
    central.stop();
    wait_until("kiosk 2 offline", Duration::from_secs(60), || {
        b.status()["online"] == false
    });
    assert_eq!(
        identify(&b, "2468"),
        Err("pin_locked".into()),
        "the lock held offline"
    );
}
