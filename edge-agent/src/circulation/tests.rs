use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::{Algorithm, Params, Version};
use std::path::Path;

use rong_protocol::api::ErrorCode;
use rong_protocol::delta::{Delta, Item, Op, Patron};
use rong_tests::fixtures::{adults, branch, date, item_at, loan, patron, pin_hash, rule};

use super::*;
use crate::testkit;

/// The test library: Kon Tum and Đắk Tô, items of each, and `P1` with PIN 1234.
fn library() -> Vec<Op> {
    let mut ops = vec![
        Op::PutBranch(branch("kontum")),
        Op::PutBranch(branch("dakto")),
        Op::PutCategory(adults(2)),
        Op::PutRule(rule("*", "*", 14, 1)),
        Op::PutPatron(Patron {
            name: "Y Đăng".into(),
            pin_hash: Some(pin_hash("1234")),
            pin_required: true,
            ..patron("P1")
        }),
    ];
    for (code, home) in [
        ("KT1", "kontum"),
        ("KT2", "kontum"),
        ("KT3", "kontum"),
        ("DT1", "dakto"),
    ] {
        ops.push(Op::PutItem(Item {
            title: format!("Sách {code}"),
            ..item_at(code, home)
        }));
    }
    ops
}

/// The service over the test library, with three PIN attempts, and its store.
fn service_with(dir: &Path, tweak: impl FnOnce(&mut Config)) -> (Circulation, SharedStore) {
    let mut config = testkit::config(dir);
    config.circulation.pin_max_attempts = 3;
    tweak(&mut config);
    let store = testkit::store(&config, library());
    (testkit::circulation(&config, &store), store)
}

fn service(dir: &Path) -> (Circulation, SharedStore) {
    service_with(dir, |_| {})
}

fn who(pin: Option<&str>) -> Who {
    Who {
        card: Some("P1".into()),
        pin: pin.map(str::to_owned),
        ..Who::default()
    }
}

fn code(r: Result<Reply, ApiError>) -> ErrorCode {
    r.unwrap_err().code
}

#[test]
fn pin_lockout_through_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    let checkout = |pin: Option<&str>| c.checkout(&who(pin), "KT1");
    assert_eq!(code(checkout(None)), ErrorCode::PinRequired);
    assert_eq!(code(checkout(Some("0000"))), ErrorCode::WrongPin);
    assert_eq!(code(checkout(Some("0000"))), ErrorCode::WrongPin);
    assert_eq!(
        store.lock().last_seq().unwrap(),
        0,
        "refusals write no event"
    );
    assert_eq!(code(checkout(Some("0000"))), ErrorCode::PinLocked);
    assert_eq!(
        code(checkout(Some("1234"))),
        ErrorCode::PinLocked,
        "locked even when right"
    );
    let store = store.lock();
    let ev = store.events_range(1, 1).unwrap();
    assert_eq!(
        ev[0].body,
        EventBody::PinLocked {
            patron: "P1".into()
        }
    );
    assert!(store.loan("KT1").unwrap().is_none());
}

#[test]
fn a_right_pin_resets_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    assert_eq!(code(c.loans(&who(Some("9")))), ErrorCode::WrongPin);
    assert_eq!(store.lock().pin_state("P1").unwrap().failures, 1);
    assert!(c.loans(&who(Some("1234"))).is_ok());
    assert_eq!(store.lock().pin_state("P1").unwrap().failures, 0);
}

#[test]
fn session_flow_checkout_renew_checkin() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    let Reply::Identified { session, patron } = c
        .identify(&Who {
            uid: Some("04:a2:2b:1a".into()),
            pin: Some("1234".into()),
            ..Who::default()
        })
        .unwrap()
    else {
        panic!("not identified")
    };
    assert_eq!(patron.card, "P1");
    assert_eq!(patron.max_loans, 2);
    let s = Who {
        session: Some(session.clone()),
        ..Who::default()
    };
    let out = |item: &str| c.checkout(&s, item);
    assert!(matches!(out("KT1").unwrap(), Reply::CheckedOut { .. }));
    assert_eq!(code(out("KT1")), ErrorCode::AlreadyOnLoan);
    assert_eq!(code(out("NOPE")), ErrorCode::UnknownItem);
    assert_eq!(code(out("bad code")), ErrorCode::BadRequest);
    assert!(out("KT2").is_ok());
    assert_eq!(code(out("KT3")), ErrorCode::LoanLimit);
    let Reply::Renewed { renewals, .. } = c.renew(&s, "KT1").unwrap() else {
        panic!("not renewed")
    };
    assert_eq!(renewals, 1);
    assert_eq!(code(c.renew(&s, "KT1")), ErrorCode::RenewLimit);
    let Reply::Loans { loans } = c.loans(&s).unwrap() else {
        panic!("no loans")
    };
    assert_eq!(loans.len(), 2);
    assert!(loans[0].due <= loans[1].due, "soonest due first");
    assert!(loans.iter().all(|l| !l.overdue));

    let Reply::CheckedIn {
        was_on_loan,
        transfer_to,
        ..
    } = c.checkin("KT1").unwrap()
    else {
        panic!("not checked in")
    };
    assert!(was_on_loan);
    assert_eq!(transfer_to, None);
    let Reply::CheckedIn {
        title,
        was_on_loan,
        transfer_to_name,
        ..
    } = c.checkin("DT1").unwrap()
    else {
        panic!("not checked in")
    };
    assert!(!was_on_loan);
    assert_eq!(title.as_deref(), Some("Sách DT1"));
    assert_eq!(transfer_to_name, Some(branch("dakto").name));
    let Reply::CheckedIn { title, .. } = c.checkin("ZZ9").unwrap() else {
        panic!("unknown item not accepted")
    };
    assert_eq!(title, None);

    // identify, 2 checkouts, renew, 3 checkins = 7 events, in order, clock never behind.
    assert_eq!(store.lock().last_seq().unwrap(), 7);
    assert_eq!(
        store.lock().acked_through().unwrap(),
        0,
        "all seven wait to be sent"
    );
    let events = store.lock().events_range(1, 7).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds,
        ["identify", "checkout", "checkout", "renew", "checkin", "checkin", "checkin"]
    );
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(events.iter().all(|e| e.clock_synced));

    assert!(c.end_session(&session).is_ok());
    assert_eq!(code(out("KT3")), ErrorCode::NoSession);
}

#[test]
fn clock_never_runs_behind_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    let future = now_ms() + 86_400_000;
    store
        .lock()
        .commit(testkit::checkin_at("KT3", future))
        .unwrap();
    c.checkin("KT2").unwrap();
    let ev = store.lock().events_range(2, 2).unwrap();
    assert_eq!(ev[0].at, future);
}

/// One bad reading far ahead in the log must not skew dates once the clock is synced;
/// while it is unsynced the log's time is the better guess.
#[test]
fn dates_follow_the_clock_once_synced() {
    let due_with = |synced: ClockSynced| {
        let dir = tempfile::tempdir().unwrap();
        let (c, store) = service_with(dir.path(), |config| config.clock.synced = synced);
        let ahead = now_ms() + 400 * 86_400_000;
        store
            .lock()
            .commit(testkit::checkin_at("KT3", ahead))
            .unwrap();
        let who = Who {
            card: Some("P1".into()),
            pin: Some("1234".into()),
            ..Who::default()
        };
        match c.checkout(&who, "KT1") {
            Ok(Reply::CheckedOut { due, .. }) => due,
            other => panic!("unexpected {other:?}"),
        }
    };
    let today = local_date(now_ms(), rong_protocol::time::DEFAULT_UTC_OFFSET_MIN);
    let synced = due_with(ClockSynced::Yes);
    assert!(synced <= today + chrono::Duration::days(20), "{synced}");
    let unsynced = due_with(ClockSynced::No);
    assert!(unsynced > today + chrono::Duration::days(400), "{unsynced}");
}

/// Central refuses a whole batch holding a code outside the protocol's code rule, so an event for such
/// a card (imported from a CSV with a space in it) would stop the outbox for good.
#[test]
fn a_card_number_central_would_refuse_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    let bad = "P 0002";
    {
        let mut store = store.lock();
        store
            .apply_delta(&Delta {
                from_version: 1,
                to_version: 2,
                ops: vec![
                    Op::PutPatron(Patron {
                        nfc_uids: vec!["04B33C2B".into()],
                        ..patron(bad)
                    }),
                    Op::PutLoan(loan("KT3", bad, date(2099, 1, 1))),
                ],
            })
            .unwrap();
    }
    let by_uid = Who {
        uid: Some("04B33C2B".into()),
        ..Who::default()
    };
    assert_eq!(code(c.identify(&by_uid)), ErrorCode::UnknownPatron);
    assert_eq!(code(c.checkout(&by_uid, "KT1")), ErrorCode::UnknownPatron);
    assert_eq!(store.lock().last_seq().unwrap(), 0, "nothing logged");

    // The item still comes back, and the return syncs without the bad card number.
    let Reply::CheckedIn { was_on_loan, .. } = c.checkin("KT3").unwrap() else {
        panic!("not checked in")
    };
    assert!(was_on_loan);
    let events = store.lock().events_range(1, 10).unwrap();
    assert_eq!(events.len(), 1);
    let batch =
        rong_protocol::event::EventBatch::new(Config::default().device, store.lock().log(), events);
    rong_protocol::decode::<rong_protocol::event::EventBatch>(&rong_protocol::encode(&batch))
        .expect("central accepts the batch");
}

/// Wrong PINs tried in parallel (several connections at once) must each count: the lock
/// may not be dodged by guessing concurrently.
#[test]
fn parallel_wrong_pins_all_count() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    // A slower hash, so that the attempts overlap while they verify.
    let slow = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8192, 1, 1, None).unwrap(),
    )
    .hash_password(b"1234", &SaltString::generate(&mut OsRng))
    .unwrap()
    .to_string();
    let mut p = store.lock().patron_by_card("P1").unwrap().unwrap();
    p.pin_hash = Some(slow);
    store
        .lock()
        .apply_delta(&Delta {
            from_version: 1,
            to_version: 2,
            ops: vec![Op::PutPatron(p)],
        })
        .unwrap();
    let n = 6;
    let start = std::sync::Barrier::new(n);
    let codes: Vec<ErrorCode> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    code(c.loans(&who(Some("0000"))))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        codes.iter().filter(|c| **c == ErrorCode::WrongPin).count(),
        2,
        "{codes:?}"
    );
    assert!(
        store.lock().pin_state("P1").unwrap().locked_until.is_some(),
        "three wrong PINs lock the card"
    );
    assert_eq!(code(c.loans(&who(Some("1234")))), ErrorCode::PinLocked);
}

/// Central, played: answers from a script and notes what it was asked.
#[derive(Debug)]
struct ScriptedCentral {
    answers: Mutex<Vec<Option<rong_identity::pin::PinAnswer>>>,
    asked: Mutex<Vec<(String, String)>>,
}

impl super::central_pin::PinAuthority for ScriptedCentral {
    fn check(&self, card: &str, pin: &str) -> Option<rong_identity::pin::PinAnswer> {
        self.asked
            .lock()
            .unwrap()
            .push((card.to_owned(), pin.to_owned()));
        self.answers.lock().unwrap().remove(0)
    }
}

#[test]
fn online_central_decides_on_pins_and_its_lock_holds_offline() {
    use rong_identity::pin::{PinAnswer, PinOutcome};
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    let answer = |outcome, locked_until_ms| {
        Some(PinAnswer {
            outcome,
            locked_until_ms,
        })
    };
    let until = now_ms() + 15 * 60_000;
    let central = Arc::new(ScriptedCentral {
        answers: Mutex::new(vec![
            // Central says right although the hash here says otherwise (a PIN changed at
            // central before its delta arrived).
            answer(PinOutcome::Right, None),
            answer(PinOutcome::Wrong, None),
            // Locked by attempts on other devices.
            answer(PinOutcome::Locked, Some(until)),
        ]),
        asked: Mutex::default(),
    });
    c.set_pin_authority(central.clone());
    assert!(c.loans(&who(Some("9999"))).is_ok(), "central's word");
    assert_eq!(code(c.loans(&who(Some("1234")))), ErrorCode::WrongPin);
    assert_eq!(
        store.lock().pin_state("P1").unwrap().failures,
        0,
        "central counted it, not the board"
    );
    assert_eq!(code(c.loans(&who(Some("1234")))), ErrorCode::PinLocked);
    assert_eq!(
        store.lock().pin_state("P1").unwrap().locked_until,
        Some(until),
        "central's lock kept here"
    );
    // The lock holds here without asking again (and so offline too).
    assert_eq!(code(c.loans(&who(Some("1234")))), ErrorCode::PinLocked);
    assert_eq!(code(c.loans(&who(None))), ErrorCode::PinLocked);
    assert_eq!(central.asked.lock().unwrap().len(), 3);
    assert_eq!(
        central.asked.lock().unwrap()[0],
        ("P1".into(), "9999".into())
    );
}

#[test]
fn when_central_cannot_be_asked_the_board_checks_the_pin_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    c.set_pin_authority(Arc::new(ScriptedCentral {
        answers: Mutex::new(vec![None, None]),
        asked: Mutex::default(),
    }));
    assert_eq!(code(c.loans(&who(Some("0000")))), ErrorCode::WrongPin);
    assert_eq!(store.lock().pin_state("P1").unwrap().failures, 1);
    assert!(c.loans(&who(Some("1234"))).is_ok());
}
