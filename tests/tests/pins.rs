//! PINs with the real programs. Online, central checks them: wrong PINs typed at two
//! kiosks of a branch add up, and the card is locked on both (and would be on any other);
//! the lock holds on a kiosk that goes offline. Offline, the board (which holds no PIN
//! hashes) lends on a typed PIN within its limit and seals the PIN for central, which
//! checks it when the visit arrives and flags a wrong one for the branch's staff.

use std::path::Path;
use std::time::Duration;

use rong_protocol::api::{RequestOp, Who};
use rong_tests::agent::outcome;
use rong_tests::central::Central;
use rong_tests::fixtures::free_barcodes_of;
use rong_tests::proc::{bin, run_ok};
use rong_tests::scenario::{wait_drained, wait_synced, ITEMS, PATRONS};
use rong_tests::{wait_until, Agent};

const CARD: &str = "PINTEST0001";
const T: Duration = Duration::from_secs(60);

/// A seeded central (not started) with one reader, `CARD`, whose PIN is 2468.
fn central_with_reader(tmp: &Path) -> Central {
    let central = Central::prepare(tmp, None, "");
    central.seed(ITEMS, PATRONS);
    let csv = tmp.join("readers.csv");
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
    central
}

/// One number from a read-only look at a database.
fn count(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open database");
    c.query_row(sql, [], |r| r.get(0)).expect(sql)
}

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
    let mut central = central_with_reader(tmp.path());
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

    // Central gone: central's lock holds on the kiosk.
    central.stop();
    wait_until("kiosk 2 offline", T, || b.status()["online"] == false);
    assert_eq!(
        identify(&b, "2468"),
        Err("pin_locked".into()),
        "the lock held offline"
    );
}

#[test]
fn offline_a_typed_pin_lends_within_the_limit_and_central_flags_a_wrong_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut central = central_with_reader(tmp.path());
    central.start();
    let http = central.http.to_string();
    let mut kiosk = Agent::prepare_enrolled(
        tmp.path(),
        &central,
        "kontum-kiosk-1",
        "kontum",
        &http,
        "[circulation]\noffline_pin_loans = 1\n",
    );
    kiosk.start();
    wait_synced(&kiosk);

    // The board holds whether the reader has a PIN, never a hash of it.
    let board_db = kiosk.dir().join("data").join("agent.db");
    assert_eq!(
        count(
            &board_db,
            "SELECT count(*) FROM pragma_table_info('patrons') WHERE name LIKE '%hash%'"
        ),
        0
    );
    assert_eq!(
        count(
            &board_db,
            &format!("SELECT has_pin FROM patrons WHERE card = '{CARD}'")
        ),
        1
    );
    for file in ["agent.db", "agent.db-wal"] {
        let bytes = std::fs::read(kiosk.dir().join("data").join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(9).any(|w| w == b"$argon2id"),
            "no PIN hash anywhere in the board's {file}"
        );
    }

    central.stop();
    wait_until("the kiosk to go offline", T, || {
        kiosk.status()["online"] == false
    });
    // A wrong PIN: the board cannot tell, so it lends, once.
    let items = free_barcodes_of("kontum", 1, 2);
    let mut c = kiosk.client();
    let session = match outcome(c.call(RequestOp::Identify(Who {
        card: Some(CARD.into()),
        pin: Some("9999".into()),
        ..Who::default()
    }))) {
        Ok(rong_protocol::api::Reply::Identified { session, .. }) => session,
        other => panic!("not identified offline: {other:?}"),
    };
    let s = Who {
        session: Some(session),
        ..Who::default()
    };
    let lend = |c: &mut rong_tests::agent::ApiClient, item: &str| {
        outcome(c.call(RequestOp::Checkout {
            who: s.clone(),
            item: item.to_owned(),
        }))
        .map(|_| ())
    };
    assert_eq!(lend(&mut c, &items[0]), Ok(()));
    assert_eq!(lend(&mut c, &items[1]), Err("offline_pin_limit".into()));

    // Back online: the visit and its sealed PIN reach central, which checks it.
    central.start();
    wait_drained(&kiosk, T);
    let db = central.db_path();
    wait_until("central to check the PIN typed offline", T, || {
        count(&db, "SELECT count(*) FROM offline_pins") == 0
            && count(
                &db,
                "SELECT count(*) FROM notices WHERE kind = 'offline_wrong_pin'",
            ) == 1
    });
    assert_eq!(
        count(
            &db,
            &format!("SELECT failures FROM pin_attempts WHERE card = '{CARD}'")
        ),
        1,
        "counted like a wrong PIN at a kiosk"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action = 'pin.offline_wrong'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM applied_events WHERE kind = 'identify' AND body LIKE '%\"pin\"%'"
        ),
        0,
        "central keeps the visit, not the sealed PIN"
    );
    // The loan made on it stands, for staff to review with the notice.
    assert_eq!(central.loans(Some(CARD)).len(), 1);
    let metrics = central.request("GET", "/metrics", None);
    assert!(
        String::from_utf8_lossy(&metrics.body)
            .contains("rong_offline_pins_checked_total{outcome=\"wrong\"} 1"),
        "counted in /metrics"
    );
}
