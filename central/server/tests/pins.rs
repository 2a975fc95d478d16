//! PINs checked by central (`POST /api/v1/device/pin`, a signed device request): right,
//! wrong, not needed, unknown; the lockout counted at central holds on another device of
//! the branch; bad input is refused and counts nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use central_store::ImportedPatron;
use reqwest::Method;
use rong_identity::pin::{PinAnswer, PinOutcome, PIN_PATH};
use rong_identity::Signer;
use rong_protocol::delta::Patron;

fn patron(card: &str, pin: Option<&str>) -> ImportedPatron {
    let patron = Patron {
        card: card.into(),
        nfc_uids: vec![],
        name: "Y Bhăm Ênuôl".into(),
        category: "adult".into(),
        branch: rong_protocol::BranchId::new("kt-01").unwrap(),
        blocked: None,
        expires: None,
        has_pin: false,
        pin_required: pin.is_some(),
        staff: false,
    };
    ImportedPatron {
        patron,
        pin_hash: pin.map(|p| central_web::hash_password(p).unwrap()),
    }
}

async fn ask(run: &common::Running, who: &Signer, card: &str, pin: &str) -> reqwest::Response {
    common::signed(&common::http(), who, Method::POST, &run.url(PIN_PATH))
        .json(&serde_json::json!({"card": card, "pin": pin}))
        .send()
        .await
        .unwrap()
}

async fn outcome(run: &common::Running, who: &Signer, card: &str, pin: &str) -> PinAnswer {
    let r = ask(run, who, card, pin).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_checks_pins_and_a_lockout_holds_on_every_device() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::start(common::config(&dir.path().join("data"))).await;
    let scanner = run.scanner().clone();
    let kiosk = run.enrol("kt-01", "kt-01-kiosk").await;
    central_store::Store::open(&run.db)
        .unwrap()
        .import_patrons(&[
            patron("P0001", Some("2468")),
            patron("P0002", None),
            patron("P0003", Some("1357")),
        ])
        .unwrap();

    assert_eq!(
        outcome(&run, &kiosk, "P0001", "2468").await.outcome,
        PinOutcome::Right
    );
    assert_eq!(
        outcome(&run, &kiosk, "P0002", "0000").await.outcome,
        PinOutcome::NotNeeded
    );
    assert_eq!(
        outcome(&run, &kiosk, "P9999", "0000").await.outcome,
        PinOutcome::UnknownPatron
    );

    // A wrong PIN, then the right one: the count is cleared.
    assert_eq!(
        outcome(&run, &kiosk, "P0003", "0000").await.outcome,
        PinOutcome::Wrong
    );
    assert_eq!(
        outcome(&run, &kiosk, "P0003", "1357").await.outcome,
        PinOutcome::Right
    );

    // Five wrong PINs on two devices of the branch lock the card everywhere.
    for (who, pin) in [
        (&kiosk, "1111"),
        (&*scanner, "2222"),
        (&kiosk, "4444"),
        (&*scanner, "5555"),
    ] {
        assert_eq!(
            outcome(&run, who, "P0001", pin).await.outcome,
            PinOutcome::Wrong
        );
    }
    let locked = outcome(&run, &kiosk, "P0001", "3333").await;
    assert_eq!(locked.outcome, PinOutcome::Locked);
    let until = locked.locked_until_ms.expect("until when");
    assert!(until > chrono::Utc::now().timestamp_millis() + 59 * 60_000);
    let again = outcome(&run, &scanner, "P0001", "2468").await;
    assert_eq!(
        (again.outcome, again.locked_until_ms),
        (PinOutcome::Locked, Some(until)),
        "the right PIN on another device while locked"
    );

    // Bad input: refused, nothing counted.
    let long = "1".repeat(33);
    assert_eq!(ask(&run, &kiosk, "P0003", &long).await.status(), 400);
    assert_eq!(ask(&run, &kiosk, "P0003", "").await.status(), 400);
    assert_eq!(ask(&run, &kiosk, "not a card!", "1234").await.status(), 400);
    assert_eq!(
        outcome(&run, &kiosk, "P0003", "1357").await.outcome,
        PinOutcome::Right
    );
    // Unsigned, or signed by a key central does not know.
    let r = common::http()
        .post(run.url(PIN_PATH))
        .json(&serde_json::json!({"card": "P0003", "pin": "1357"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let forger = Signer::new("kt-01-kiosk", rong_identity::KeyPair::generate());
    assert_eq!(ask(&run, &forger, "P0003", "1357").await.status(), 401);

    // The lock is in the audit log, with the card masked.
    let c = rusqlite::Connection::open(&run.db).unwrap();
    let audit = central_store::audit::page(&c, None, None, 100).unwrap();
    let entry = audit
        .iter()
        .find(|e| e.entry.action == "pin.locked")
        .expect("audited");
    assert!(!entry.entry.target.contains("P0001"), "{entry:?}");
    run.stop().await;
}
