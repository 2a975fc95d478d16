use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rong_identity::pin::{PinAnswer, PinOutcome};
use rong_identity::KeyPair;
use rong_protocol::api::ErrorCode;
use rong_protocol::delta::{Delta, Item, Op, Patron};
use rong_tests::fixtures::{adults, branch, date, item_at, loan, patron, rule};

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
            has_pin: true,
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

/// Central, played: P1's PIN is 1234 (every other card has none), and it can be asked
/// while `online`.
#[derive(Debug)]
struct Central {
    key: KeyPair,
    online: AtomicBool,
}

impl Central {
    fn new() -> Arc<Central> {
        Arc::new(Central {
            key: KeyPair::generate(),
            online: AtomicBool::new(true),
        })
    }

    fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::SeqCst);
    }
}

impl super::central_pin::PinAuthority for Central {
    fn check(&self, card: &str, pin: &str) -> Option<PinAnswer> {
        if !self.online.load(Ordering::SeqCst) {
            return None;
        }
        let outcome = match (card, pin) {
            ("P1", "1234") => PinOutcome::Right,
            ("P1", _) => PinOutcome::Wrong,
            _ => PinOutcome::NotNeeded,
        };
        Some(PinAnswer {
            outcome,
            locked_until_ms: None,
        })
    }
}

/// The service over the test library, enrolled with a played central, and its store.
fn service_with(
    dir: &Path,
    tweak: impl FnOnce(&mut Config),
) -> (Circulation, SharedStore, Arc<Central>) {
    let mut config = testkit::config(dir);
    tweak(&mut config);
    let store = testkit::store(&config, library());
    let c = testkit::circulation(&config, &store);
    let central = Central::new();
    c.set_pin_authority(central.clone(), central.key.public());
    (c, store, central)
}

fn service(dir: &Path) -> (Circulation, SharedStore) {
    let (c, store, _) = service_with(dir, |_| {});
    (c, store)
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
fn central_checks_the_pin_and_refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store) = service(dir.path());
    let checkout = |pin: Option<&str>| c.checkout(&who(pin), "KT1");
    assert_eq!(code(checkout(None)), ErrorCode::PinRequired);
    assert_eq!(code(checkout(Some(""))), ErrorCode::PinRequired);
    assert_eq!(code(checkout(Some("0000"))), ErrorCode::WrongPin);
    assert_eq!(
        store.lock().last_seq().unwrap(),
        0,
        "refusals write no event"
    );
    assert!(checkout(Some("1234")).is_ok());
    assert_eq!(store.lock().pin_state("P1").unwrap(), PinState::default());
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
        let (c, store, _) = service_with(dir.path(), |config| config.clock.synced = synced);
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
            answer(PinOutcome::Right, None),
            answer(PinOutcome::Wrong, None),
            // Locked by attempts on other devices.
            answer(PinOutcome::Locked, Some(until)),
        ]),
        asked: Mutex::default(),
    });
    c.set_pin_authority(central.clone(), KeyPair::generate().public());
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

/// The `identify` events in the log, with their sealed PINs.
fn identifies(store: &SharedStore) -> Vec<(String, Option<String>)> {
    store
        .lock()
        .events_range(1, 100)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Identify { patron, pin } => Some((patron, pin)),
            _ => None,
        })
        .collect()
}

#[test]
fn offline_a_typed_pin_goes_sealed_to_central_and_lending_on_it_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store, central) = service_with(dir.path(), |cfg| {
        cfg.circulation.offline_pin_loans = 1;
    });
    central.set_online(false);
    // Right or wrong, the board cannot tell: it holds no hash. The visit is unchecked.
    let Reply::Identified { session, .. } = c.identify(&who(Some("0000"))).unwrap() else {
        panic!("not identified")
    };
    let seen = identifies(&store);
    assert_eq!(seen.len(), 1);
    let sealed = seen[0].1.clone().expect("the PIN goes with the visit");
    assert!(!sealed.contains("0000"));
    assert_eq!(
        central.key.open_pin(&sealed, "P1").unwrap(),
        "0000",
        "central, and only central, reads it"
    );
    let s = Who {
        session: Some(session),
        ..Who::default()
    };
    assert!(c.checkout(&s, "KT1").is_ok());
    let refusal = c.checkout(&s, "KT2").unwrap_err();
    assert_eq!(refusal.code, ErrorCode::OfflinePinLimit);
    assert!(
        refusal.message_vi.contains("mất mạng"),
        "{}",
        refusal.message_vi
    );
    // Without a session the PIN is sealed into a visit of its own, and the cap holds.
    assert_eq!(
        code(c.checkout(&who(Some("1234")), "KT2")),
        ErrorCode::OfflinePinLimit
    );
    assert_eq!(identifies(&store).len(), 2);
    // Renewing and returning are not lending more.
    assert!(c.renew(&s, "KT1").is_ok());
    assert!(c.checkin("KT1").is_ok());
    // Back online: central checks, and the cap is for unchecked visits only.
    central.set_online(true);
    let checked = who(Some("1234"));
    assert!(c.checkout(&checked, "KT2").is_ok());
    assert!(c.checkout(&checked, "KT3").is_ok());
    assert_eq!(identifies(&store).len(), 2, "a checked PIN is not sealed");
}

/// Makes `P1` a staff card (its NFC UID stays `04A22B1A`).
fn make_p1_staff(store: &SharedStore) {
    let mut store = store.lock();
    let mut staff = store.patron_by_card("P1").unwrap().unwrap();
    staff.staff = true;
    store
        .apply_delta(&Delta {
            from_version: 1,
            to_version: 2,
            ops: vec![Op::PutPatron(staff)],
        })
        .unwrap();
}

#[test]
fn offline_a_typed_card_opens_no_staff_menu_but_a_tapped_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store, central) = service_with(dir.path(), |_| {});
    make_p1_staff(&store);
    let session = |who: Who| match c.identify(&who).unwrap() {
        Reply::Identified { session, .. } => session,
        other => panic!("not identified: {other:?}"),
    };
    central.set_online(false);
    let typed = session(who(Some("1234")));
    assert_eq!(
        c.require_staff(&typed).unwrap_err().code,
        ErrorCode::StaffOnly,
        "a card number and any PIN are not enough offline"
    );
    let tapped = session(Who {
        uid: Some("04:a2:2b:1a".into()),
        pin: Some("1234".into()),
        ..Who::default()
    });
    assert!(c.require_staff(&tapped).is_ok());
    central.set_online(true);
    let checked = session(who(Some("1234")));
    assert!(c.require_staff(&checked).is_ok());
}

#[test]
fn a_station_may_let_staff_type_their_card_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (c, store, central) = service_with(dir.path(), |cfg| {
        cfg.circulation.offline_staff_pin = true;
    });
    make_p1_staff(&store);
    central.set_online(false);
    let Reply::Identified { session, .. } = c.identify(&who(Some("1234"))).unwrap() else {
        panic!("not identified")
    };
    assert!(c.require_staff(&session).is_ok());
    assert!(
        identifies(&store)[0].1.is_some(),
        "the PIN still goes to central to be checked"
    );
}

#[test]
fn a_board_not_enrolled_cannot_take_a_pin() {
    let dir = tempfile::tempdir().unwrap();
    let config = testkit::config(dir.path());
    let store = testkit::store(&config, library());
    let c = testkit::circulation(&config, &store);
    let refusal = c.loans(&who(Some("1234"))).unwrap_err();
    assert_eq!(refusal.code, ErrorCode::Internal);
    assert!(
        refusal.message.contains("not enrolled"),
        "{}",
        refusal.message
    );
    assert_eq!(store.lock().last_seq().unwrap(), 0);
}
