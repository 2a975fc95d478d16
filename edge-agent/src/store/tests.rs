use rong_lending::PinState;
use rong_protocol::delta::{Branch, Delta, Item, Loan, Op, Patron};
use rong_protocol::event::EventBody;
use rong_protocol::BranchId;
use rong_tests::fixtures::{adults, branch, branch_id as kontum, date as d, item, standard_rule};

use super::reference::DeltaResult;
use super::*;
use crate::sync::DeltaAction;

/// A patron whose card UID comes written as readers print it, valid until the end of 2027.
fn patron(card: &str) -> Patron {
    Patron {
        nfc_uids: vec!["04:a2:2b:1a".into()],
        expires: Some(d(2027, 12, 31)),
        ..rong_tests::fixtures::patron(card)
    }
}

fn loan(item: &str, patron: &str) -> Loan {
    rong_tests::fixtures::loan(item, patron, d(2026, 12, 9))
}

/// Kon Tum closed on Sundays, adults with five loans, the standard rule, `P1`, two items.
fn base_ops() -> Vec<Op> {
    vec![
        Op::PutBranch(Branch {
            closed_weekdays: vec![7],
            ..branch("kontum")
        }),
        Op::PutCategory(adults(5)),
        Op::PutRule(standard_rule()),
        Op::PutPatron(patron("P1")),
        Op::PutItem(item("KT1")),
        Op::PutItem(item("KT2")),
    ]
}

/// Applies a delta from version `from` to `to`.
fn delta(s: &mut Store, from: u64, to: u64, ops: Vec<Op>) -> DeltaResult {
    s.apply_delta(&Delta {
        from_version: from,
        to_version: to,
        ops,
    })
    .unwrap()
}

fn open_temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("agent.db")).unwrap();
    (dir, store)
}

fn checkout_event(item: &str) -> NewEvent {
    NewEvent {
        body: EventBody::Checkout {
            item: item.into(),
            patron: "P1".into(),
            due: d(2026, 12, 9),
        },
        at: 1_000,
        clock_synced: true,
    }
}

#[test]
fn creates_migrates_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    let log = {
        let s = Store::open(&path).unwrap();
        assert_eq!(s.version().unwrap(), 0);
        assert_eq!(s.last_seq().unwrap(), 0);
        assert_eq!(s.log().get_version_num(), 7);
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = s
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        s.log()
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(s.log(), log, "the log id survives a restart");
    let v: u32 = s
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    drop(Store::open(&path).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Open(OpenError::NewerSchema { found, .. }) if found == SCHEMA_VERSION + 1
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn reference_lookups() {
    let (_dir, mut s) = open_temp();
    let r = delta(&mut s, 0, 6, base_ops());
    assert_eq!(r.action, DeltaAction::Apply);
    assert_eq!(s.version().unwrap(), 6);
    let p = s.patron_by_card("P1").unwrap().unwrap();
    assert_eq!(p.nfc_uids, vec!["04A22B1A".to_string()]);
    assert_eq!(p.expires, Some(d(2027, 12, 31)));
    assert_eq!(s.patron_by_uid("04a22b1a").unwrap().unwrap().card, "P1");
    assert!(s.patron_by_uid("nonsense").unwrap().is_none());
    assert_eq!(s.item("KT1").unwrap().unwrap(), item("KT1"));
    assert!(s.item("KT9").unwrap().is_none());
    assert_eq!(
        s.branch(&kontum()).unwrap().unwrap().closed_weekdays,
        vec![7]
    );
    assert_eq!(s.category("adult").unwrap().unwrap().max_loans, 5);
    assert_eq!(s.rules().unwrap().len(), 1);
}

#[test]
fn delta_versions_and_loan_skips() {
    let (_dir, mut s) = open_temp();
    delta(&mut s, 0, 6, base_ops());
    let del_kt1 = || {
        vec![Op::DelItem {
            barcode: "KT1".into(),
        }]
    };
    // Ignored: already held.
    let r = delta(&mut s, 2, 6, del_kt1());
    assert_eq!(r.action, DeltaAction::Ignore);
    assert!(
        s.item("KT1").unwrap().is_some(),
        "ignored delta changed nothing"
    );
    // Gap.
    let r = delta(&mut s, 8, 9, del_kt1());
    assert_eq!(r.action, DeltaAction::Gap);
    assert_eq!(s.version().unwrap(), 6);
    // A local checkout of KT1 is not yet acked: central's loan ops for KT1 are skipped.
    s.commit(Commit {
        event: Some(checkout_event("KT1")),
        loan: LoanChange::Put(loan("KT1", "P1")),
        pin: None,
    })
    .unwrap();
    let r = delta(
        &mut s,
        5,
        8,
        vec![
            Op::DelLoan { item: "KT1".into() },
            Op::PutLoan(loan("KT2", "P1")),
        ],
    );
    assert_eq!(r.action, DeltaAction::Apply, "overlap applies");
    assert_eq!(r.skipped_loans, 1);
    assert_eq!(s.version().unwrap(), 8);
    assert!(s.loan("KT1").unwrap().is_some());
    assert!(s.loan("KT2").unwrap().is_some());
    // Once acked, central's word goes.
    s.mark_acked(1).unwrap();
    delta(&mut s, 8, 9, vec![Op::DelLoan { item: "KT1".into() }]);
    assert!(s.loan("KT1").unwrap().is_none());
}

#[test]
fn event_and_loan_commit_together() {
    let (_dir, mut s) = open_temp();
    s.conn
        .execute_batch(
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON loans
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    assert!(s
        .commit(Commit {
            event: Some(checkout_event("KT1")),
            loan: LoanChange::Put(loan("KT1", "P1")),
            pin: None,
        })
        .is_err());
    assert_eq!(s.last_seq().unwrap(), 0, "no event without its loan");
    s.conn.execute_batch("DROP TRIGGER boom").unwrap();
    let ev = s
        .commit(Commit {
            event: Some(checkout_event("KT1")),
            loan: LoanChange::Put(loan("KT1", "P1")),
            pin: None,
        })
        .unwrap()
        .unwrap();
    assert_eq!(ev.seq, 1);
    assert_eq!(s.loan("KT1").unwrap().unwrap().patron, "P1");
    assert_eq!(s.events_range(1, 1).unwrap(), vec![ev]);
}

/// Logs `n` checkouts of KT1, at 1000, 1001, ... ms.
/// Commits `event` alone (no loan, no PIN) and answers it as logged.
fn log_event(s: &mut Store, event: NewEvent) -> rong_protocol::event::Event {
    s.commit(Commit {
        event: Some(event),
        loan: LoanChange::None,
        pin: None,
    })
    .unwrap()
    .unwrap()
}

fn log_checkouts(s: &mut Store, n: i64) {
    for i in 0..n {
        let mut e = checkout_event("KT1");
        e.at = 1_000 + i;
        log_event(s, e);
    }
}

#[test]
fn outbox_acks_and_pruning() {
    let (_dir, mut s) = open_temp();
    log_checkouts(&mut s, 5);
    assert_eq!(s.last_seq().unwrap(), 5);
    assert_eq!(s.oldest_unacked_at().unwrap(), Some(1_000));
    s.mark_acked(3).unwrap();
    assert_eq!(s.acked_through().unwrap(), 3);
    assert_eq!(s.oldest_unacked_at().unwrap(), Some(1_003));
    s.mark_acked(2).unwrap();
    assert_eq!(s.acked_through().unwrap(), 3, "never goes back");
    assert_eq!(s.prune_acked(i64::MAX).unwrap(), 3);
    s.mark_acked(5).unwrap();
    assert_eq!(s.prune_acked(i64::MAX).unwrap(), 1, "the newest stays");
    assert_eq!(s.last_event().unwrap(), Some((5, 1_004)));
    let ev = log_event(&mut s, checkout_event("KT2"));
    assert_eq!(ev.seq, 6, "seqs never reused");
}

#[test]
fn a_new_central_epoch_unacks_every_kept_event_and_asks_for_a_snapshot() {
    let (_dir, mut s) = open_temp();
    delta(&mut s, 0, 7, base_ops());
    log_checkouts(&mut s, 6);
    s.mark_acked(6).unwrap();
    // Events 1 and 2 are past their retention and gone.
    assert_eq!(s.prune_acked(1_002).unwrap(), 2);
    assert_eq!(s.central_epoch().unwrap(), None);
    let first = Uuid::now_v7();
    s.set_central_epoch(first).unwrap();
    assert_eq!(s.central_epoch().unwrap(), Some(first));

    let second = Uuid::now_v7();
    assert_eq!(
        s.start_epoch(second).unwrap(),
        2,
        "just below the oldest kept"
    );
    assert_eq!(s.central_epoch().unwrap(), Some(second));
    assert_eq!(s.acked_through().unwrap(), 2);
    assert_eq!(
        s.version().unwrap(),
        0,
        "the next catch-up takes a snapshot"
    );
    assert_eq!(s.last_seq().unwrap(), 6);
    assert_eq!(s.oldest_unacked_at().unwrap(), Some(1_002));
    assert_eq!(s.prune_acked(i64::MAX).unwrap(), 0, "unacked again: kept");
    let resend: Vec<u64> = s
        .events_range(3, 6)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(resend, [3, 4, 5, 6]);
    s.mark_acked(6).unwrap();
    let ev = log_event(&mut s, checkout_event("KT2"));
    assert_eq!(ev.seq, 7, "seqs go on");
}

#[test]
fn pin_failures_persist_and_reset() {
    let (_dir, mut s) = open_temp();
    let locked = PinState {
        failures: 0,
        locked_until: Some(99),
    };
    s.commit(Commit {
        event: None,
        loan: LoanChange::None,
        pin: Some(("P1".into(), locked)),
    })
    .unwrap();
    assert_eq!(s.pin_state("P1").unwrap(), locked);
    s.commit(Commit {
        event: None,
        loan: LoanChange::None,
        pin: Some(("P1".into(), PinState::default())),
    })
    .unwrap();
    assert_eq!(s.pin_state("P1").unwrap(), PinState::default());
}

#[test]
fn snapshot_replaces_reference_but_keeps_pending_loans() {
    let (_dir, mut s) = open_temp();
    delta(&mut s, 0, 6, base_ops());
    s.commit(Commit {
        event: Some(checkout_event("KT1")),
        loan: LoanChange::Put(loan("KT1", "P1")),
        pin: None,
    })
    .unwrap();
    s.commit(Commit {
        event: None,
        loan: LoanChange::Put(loan("KT2", "P1")),
        pin: None,
    })
    .unwrap();
    let snap = vec![
        Ok::<_, String>(Op::PutItem(item("KT3"))),
        Ok(Op::PutPatron(patron("P2"))),
    ];
    assert_eq!(s.replace_reference(50, snap.into_iter()).unwrap(), 2);
    assert_eq!(s.version().unwrap(), 50);
    assert!(s.item("KT1").unwrap().is_none());
    assert!(s.item("KT3").unwrap().is_some());
    assert!(s.patron_by_card("P1").unwrap().is_none());
    assert!(s.loan("KT1").unwrap().is_some(), "unacked local loan kept");
    assert!(s.loan("KT2").unwrap().is_none());
    assert_eq!(s.last_seq().unwrap(), 1, "event log kept");

    // A bad line rolls the whole load back.
    let bad = vec![Ok(Op::PutItem(item("KT4"))), Err("broken line".to_string())];
    assert!(s.replace_reference(60, bad.into_iter()).is_err());
    assert_eq!(s.version().unwrap(), 50);
    assert!(s.item("KT3").unwrap().is_some());
    assert!(s.item("KT4").unwrap().is_none());
}

#[test]
fn refuses_an_event_central_would_refuse() {
    let (_dir, mut s) = open_temp();
    let mut e = checkout_event("KT1");
    e.body = EventBody::Identify {
        patron: "P 0001".into(),
        pin: None,
    };
    assert!(matches!(
        s.commit(Commit {
            event: Some(e),
            loan: LoanChange::None,
            pin: None,
        }),
        Err(StoreError::Refused(_))
    ));
    assert_eq!(s.last_seq().unwrap(), 0, "nothing logged");
}

fn record(id: &str, title: &str, author: &str) -> rong_protocol::delta::Record {
    rong_protocol::delta::Record {
        id: id.into(),
        title: title.into(),
        author: author.into(),
        subjects: vec!["Địa chí".into()],
        isbn: Some("978-604-57-0123-2".into()),
        year: Some(2019),
        publisher: "Nxb. Chính trị Quốc gia".into(),
        call_number: "959.761".into(),
        branches: vec![kontum()],
    }
}

#[test]
fn search_ranks_and_counts_copies_here_and_elsewhere() {
    let (_d, mut s) = open_temp();
    let dakto = BranchId::new("dakto").unwrap();
    let mut ops = base_ops();
    ops.push(Op::PutBranch(branch("dakto")));
    ops.push(Op::PutRecord(record(
        "S1",
        "Địa chí Kon Tum",
        "Nhiều tác giả",
    )));
    ops.push(Op::PutRecord(record(
        "S2",
        "Lịch sử Kon Tum",
        "Địa Chí Kon Tum",
    )));
    let copy = |barcode: &str, rec: &str, at: &BranchId, shelf: &str| Item {
        record: rec.into(),
        home_branch: at.clone(),
        shelf: shelf.into(),
        call_number: "959.761 Đ301C".into(),
        ..item(barcode)
    };
    ops.push(Op::PutItem(copy("A1", "S1", &kontum(), "Phòng địa chí")));
    ops.push(Op::PutItem(copy("A2", "S1", &kontum(), "Phòng địa chí")));
    // Another branch's copy arrives compact: no call number, no shelf.
    ops.push(Op::PutItem(copy("A3", "S1", &dakto, "Kho").compact()));
    ops.push(Op::PutItem(copy("B1", "S2", &dakto, "").compact()));
    ops.push(Op::PutLoan(loan("A2", "P1")));
    let n = ops.len() as u64;
    delta(&mut s, 0, n, ops);
    let q = rong_protocol::search::Query::parse("DIA CHI kon t").unwrap();
    let hits = s.search(&q, 10, &kontum()).unwrap();
    let ids: Vec<_> = hits.iter().map(|h| h.record.as_str()).collect();
    assert_eq!(ids, ["S1", "S2"], "title prefix before author");
    let r1 = &hits[0];
    assert_eq!(
        (r1.available_here, r1.total_here),
        (1, 2),
        "one copy is on loan"
    );
    assert_eq!(r1.shelf.as_deref(), Some("Phòng địa chí"));
    assert_eq!(r1.call_number, "959.761 Đ301C");
    assert_eq!(r1.elsewhere.len(), 1);
    assert_eq!(r1.elsewhere[0].name, "Thư viện huyện Đăk Tô");
    assert_eq!((r1.elsewhere[0].available, r1.elsewhere[0].total), (1, 1));
    let r2 = &hits[1];
    assert_eq!((r2.available_here, r2.total_here), (0, 0));
    assert_eq!(
        r2.call_number, "959.761",
        "the record's call number when none is here"
    );
    // ISBN with or without hyphens.
    let q = rong_protocol::search::Query::parse("9786045701232").unwrap();
    assert_eq!(s.search(&q, 10, &kontum()).unwrap().len(), 2);
    // A record removed, and a snapshot replacing everything, leave no stale index rows.
    delta(&mut s, n, n + 1, vec![Op::DelRecord { id: "S2".into() }]);
    let q = rong_protocol::search::Query::parse("kon tum").unwrap();
    assert_eq!(s.search(&q, 10, &kontum()).unwrap().len(), 1);
    s.replace_reference::<String>(
        n + 5,
        vec![Ok(Op::PutRecord(record("S9", "Sách mới", "")))].into_iter(),
    )
    .unwrap();
    assert!(s.search(&q, 10, &kontum()).unwrap().is_empty());
    let q = rong_protocol::search::Query::parse("sach moi").unwrap();
    assert_eq!(s.search(&q, 10, &kontum()).unwrap()[0].record, "S9");
}

#[test]
fn a_snapshot_load_rebuilds_its_indexes_and_a_refused_one_keeps_the_old_data() {
    let (_d, mut s) = open_temp();
    let mut ops = base_ops();
    ops.push(Op::PutRecord(record(
        "S1",
        "Địa chí Kon Tum",
        "Nhiều tác giả",
    )));
    ops.push(Op::PutRecord(record("S2", "Lịch sử Kon Tum", "")));
    s.replace_reference::<String>(7, ops.into_iter().map(Ok))
        .unwrap();
    let indexes: Vec<String> = s
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('items_record', 'records_title_key') ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["items_record", "records_title_key"]);
    let key: String = s
        .conn
        .query_row("SELECT title_key FROM records WHERE id = 'S1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(key, "dia chi kon tum");
    let q = rong_protocol::search::Query::parse("kon tum").unwrap();
    assert_eq!(s.search(&q, 10, &kontum()).unwrap().len(), 2);
    let q = rong_protocol::search::Query::parse("nhieu tac").unwrap();
    assert_eq!(s.search(&q, 10, &kontum()).unwrap()[0].record, "S1");

    // A record twice in one snapshot is refused, and nothing of it stays.
    let mut bad = base_ops();
    bad.push(Op::PutRecord(record("S3", "Sách mới", "")));
    bad.push(Op::PutRecord(record("S3", "Sách mới", "")));
    let err = s
        .replace_reference::<String>(9, bad.into_iter().map(Ok))
        .unwrap_err();
    assert!(err.to_string().contains("S3 twice"), "{err}");
    assert_eq!(meta_u64(&s.conn, "version").unwrap(), 7);
    let q = rong_protocol::search::Query::parse("kon tum").unwrap();
    assert_eq!(s.search(&q, 10, &kontum()).unwrap().len(), 2);
    let q = rong_protocol::search::Query::parse("sach moi").unwrap();
    assert!(s.search(&q, 10, &kontum()).unwrap().is_empty());
    let still: i64 = s
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('items_record', 'records_title_key')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(still, 2, "the dropped indexes come back with the rollback");
}

/// A board updated from schema 4 keeps whether each reader has a PIN and loses the hashes,
/// down to their bytes in the file.
#[test]
fn the_schema_5_migration_takes_the_pin_hashes_off_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    let old_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$OLDHASHOLDHASHOLDHASH";
    {
        let c = rong_sqlite::open(&path, &options(), &MIGRATIONS[..4]).unwrap();
        for (card, hash) in [("P1", Some(old_hash)), ("P2", None)] {
            c.execute(
                "INSERT INTO patrons (card, name, category, branch, pin_hash, pin_required, staff) \
                 VALUES (?1, 'Y Đăng', 'adult', 'kontum', ?2, 0, 0)",
                rusqlite::params![card, hash],
            )
            .unwrap();
        }
    }
    assert!(std::fs::read(&path)
        .unwrap()
        .windows(old_hash.len())
        .any(|w| w == old_hash.as_bytes()));
    {
        let s = Store::open(&path).unwrap();
        assert!(s.patron_by_card("P1").unwrap().unwrap().has_pin);
        assert!(!s.patron_by_card("P2").unwrap().unwrap().has_pin);
        let hash_columns: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('patrons') WHERE name = 'pin_hash'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hash_columns, 0);
    }
    for file in ["agent.db", "agent.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(20).any(|w| w == &old_hash.as_bytes()[..20]),
            "the old hash's bytes are gone from {file}"
        );
    }
}

/// A loan rule central removes goes from the board too, so loans fall back to a wider one.
#[test]
fn a_removed_rule_leaves_the_board() {
    let (_dir, mut s) = open_temp();
    delta(&mut s, 0, 1, base_ops());
    let rule = standard_rule();
    assert_eq!(s.rules().unwrap(), vec![rule.clone()]);
    delta(
        &mut s,
        1,
        2,
        vec![Op::DelRule {
            category: rule.category.clone(),
            item_type: rule.item_type.clone(),
        }],
    );
    assert!(s.rules().unwrap().is_empty());
}
