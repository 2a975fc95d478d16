use super::*;
use rong_protocol::delta::ItemStatus;
use rong_tests::fixtures::{
    adults, branch, date, item, item_at, patron, rule, tet, BRANCH, PATRON_UID,
};

/// A store with branches kontum (closed for Tết 2027) and dakto, adults lending 2, a
/// 14-day rule with 1 renewal, reference items lending nothing, and readers P1 and P2.
fn store() -> (tempfile::TempDir, Store, RefCache) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("c.db")).unwrap();
    let kontum = branch(BRANCH);
    let mut ops = vec![
        Op::PutBranch(kontum.clone()),
        Op::PutBranch(branch("dakto")),
        Op::PutCategory(adults(2)),
        Op::PutRule(rule("*", "*", 14, 1)),
        Op::PutRule(rule("*", "reference", 0, 0)),
        Op::PutPatron(patron("P1")),
        Op::PutPatron(Patron {
            nfc_uids: vec![],
            ..patron("P2")
        }),
    ];
    for d in tet(&kontum.id) {
        ops.push(Op::PutClosedDay(d));
    }
    for b in ["KT1", "KT2", "KT3"] {
        ops.push(Op::PutItem(item(b)));
    }
    ops.push(Op::PutItem(item_at("DT1", "dakto")));
    ops.push(Op::PutItem(Item {
        item_type: "reference".into(),
        ..item("REF1")
    }));
    s.put_ops(&ops).unwrap();
    let cache = s.ref_cache().unwrap();
    (dir, s, cache)
}

/// The kontum desk on 2 February 2027 (14 days later falls in Tết), at noon local time.
fn at(branch: &str) -> DeskAt {
    let noon = date(2027, 2, 2).and_hms_opt(5, 0, 0).unwrap();
    DeskAt {
        branch: branch.into(),
        staff: "lan".into(),
        now_ms: noon.and_utc().timestamp_millis(),
        utc_offset_min: 420,
    }
}

fn lend(card: &str, item: &str, reason: Option<&str>) -> DeskAct {
    DeskAct::Lend {
        card: card.into(),
        item: item.into(),
        override_reason: reason.map(str::to_owned),
    }
}

fn back(item: &str) -> DeskAct {
    DeskAct::Return { item: item.into() }
}

fn code(d: &DeskDone) -> Option<ErrorCode> {
    d.refused.as_ref().map(|r| r.code)
}

fn active(s: &Store, card: &str) -> Vec<DeskLoan> {
    reader_loans(s.reader(), card, false, 10).unwrap().0
}

#[test]
fn a_desk_loan_takes_the_kiosks_due_date_past_closed_days_and_names_who_lent_it() {
    let (_d, mut s, cache) = store();
    let done = s
        .desk(&cache, &at(BRANCH), &lend("P1", "KT1", None))
        .unwrap();
    assert_eq!(code(&done), None);
    // 2 Feb + 14 = 16 Feb, inside Tết (16–20): moved to the 21st.
    assert_eq!(done.due, Some(date(2027, 2, 21)));
    assert!(!done.overridden);
    assert_eq!(
        done.applied.ops,
        vec![Op::PutLoan(Loan {
            item: "KT1".into(),
            patron: "P1".into(),
            due: date(2027, 2, 21),
            renewals: 0
        })]
    );
    let (staff, reason): (Option<String>, Option<String>) = s
        .reader()
        .query_row(
            "SELECT staff, override_reason FROM loans WHERE item = 'KT1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(staff.as_deref(), Some("lan"));
    assert_eq!(reason, None);
    // The NFC card's UID finds the same reader.
    let done = s
        .desk(&cache, &at(BRANCH), &lend(PATRON_UID, "KT2", None))
        .unwrap();
    assert_eq!(code(&done), None);
    assert_eq!(active(&s, "P1").len(), 2);
}

#[test]
fn refusals_a_person_may_judge_are_overridden_with_a_reason_and_the_rest_never() {
    let (_d, mut s, cache) = store();
    let desk = at(BRANCH);
    for b in ["KT1", "KT2"] {
        assert_eq!(
            code(&s.desk(&cache, &desk, &lend("P1", b, None)).unwrap()),
            None
        );
    }
    // Over the limit of 2: refused, overridable; nothing written.
    let over = s.desk(&cache, &desk, &lend("P1", "KT3", None)).unwrap();
    assert_eq!(code(&over), Some(ErrorCode::LoanLimit));
    assert!(over.overridable);
    assert!(over.applied.ops.is_empty());
    assert_eq!(active(&s, "P1").len(), 2);
    // A blank reason is no reason.
    let blank = s
        .desk(&cache, &desk, &lend("P1", "KT3", Some("  ")))
        .unwrap();
    assert_eq!(code(&blank), Some(ErrorCode::LoanLimit));
    let done = s
        .desk(
            &cache,
            &desk,
            &lend("P1", "KT3", Some("Ôn thi, thủ thư Lan cho phép")),
        )
        .unwrap();
    assert_eq!(code(&done), None);
    assert!(done.overridden);
    let reason: Option<String> = s
        .reader()
        .query_row(
            "SELECT override_reason FROM loans WHERE item = 'KT3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reason.as_deref(), Some("Ôn thi, thủ thư Lan cho phép"));

    // Reference items lend nothing by rule; overridden, they get the override length.
    let reference = s.desk(&cache, &desk, &lend("P2", "REF1", None)).unwrap();
    assert_eq!(code(&reference), Some(ErrorCode::NotForLoan));
    let done = s
        .desk(
            &cache,
            &desk,
            &lend("P2", "REF1", Some("photocopy overnight")),
        )
        .unwrap();
    assert_eq!(done.due, Some(date(2027, 2, 21)), "14 days, past Tết");

    // Never overridden: an unknown item or card, an item the reader already has.
    for (act, want) in [
        (lend("P2", "NOPE", Some("r")), ErrorCode::UnknownItem),
        (lend("NOBODY", "KT1", Some("r")), ErrorCode::UnknownPatron),
        (lend("P1", "KT1", Some("r")), ErrorCode::AlreadyOnLoan),
    ] {
        let d = s.desk(&cache, &desk, &act).unwrap();
        assert_eq!(code(&d), Some(want), "{act:?}");
        assert!(!d.overridable);
    }
    // A reason over the limit is an error, not a loan.
    let long = "x".repeat(MAX_REASON_CHARS + 1);
    assert!(matches!(
        s.desk(&cache, &desk, &lend("P2", "KT1", Some(&long))),
        Err(StoreError::TooLong(_))
    ));
}

#[test]
fn a_blocked_or_expired_card_is_refused_and_may_be_overridden() {
    let (_d, mut s, cache) = store();
    let desk = at(BRANCH);
    s.set_block("P2", Some("sách quá hạn")).unwrap();
    let d = s.desk(&cache, &desk, &lend("P2", "KT1", None)).unwrap();
    assert_eq!(code(&d), Some(ErrorCode::PatronBlocked));
    assert!(d.overridable);
    let d = s
        .desk(
            &cache,
            &desk,
            &lend("P2", "KT1", Some("đã trả sách, chờ mở khoá")),
        )
        .unwrap();
    assert!(d.overridden);
    s.put_ops(&[Op::PutPatron(Patron {
        expires: Some(date(2020, 1, 1)),
        ..patron("P3")
    })])
    .unwrap();
    let d = s.desk(&cache, &desk, &lend("P3", "KT2", None)).unwrap();
    assert_eq!(code(&d), Some(ErrorCode::CardExpired));
}

#[test]
fn lending_an_item_someone_else_still_has_closes_their_loan_as_a_missed_return() {
    let (_d, mut s, cache) = store();
    let desk = at(BRANCH);
    s.desk(&cache, &desk, &lend("P1", "KT1", None)).unwrap();
    let d = s.desk(&cache, &desk, &lend("P2", "KT1", None)).unwrap();
    assert_eq!(code(&d), None);
    assert_eq!(d.previous_patron.as_deref(), Some("P1"));
    assert!(active(&s, "P1").is_empty());
    assert_eq!(active(&s, "P2").len(), 1);
    let missed: bool = s
        .reader()
        .query_row(
            "SELECT missed_return FROM loans WHERE item = 'KT1' AND patron = 'P1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(missed);
}

#[test]
fn a_return_away_from_home_is_in_transit_until_scanned_at_home() {
    let (_d, mut s, cache) = store();
    let kontum = at(BRANCH);
    let dakto = at("dakto");
    s.desk(&cache, &kontum, &lend("P1", "KT1", None)).unwrap();
    // Taken back at Đăk Tô: the loan ends, the item goes home to Kon Tum.
    let d = s.desk(&cache, &dakto, &back("KT1")).unwrap();
    assert_eq!(d.patron.as_deref(), Some("P1"));
    assert_eq!(d.transfer_to.as_deref(), Some(BRANCH));
    assert_eq!(d.applied.ops, vec![Op::DelLoan { item: "KT1".into() }]);
    assert!(active(&s, "P1").is_empty());
    let t = in_transit(s.reader(), Some(BRANCH)).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].from_branch.as_str(), t[0].sent_by.as_str()),
        ("dakto", "lan")
    );
    assert_eq!(in_transit(s.reader(), Some("dakha")).unwrap(), vec![]);
    assert_eq!(
        transfer(s.reader(), "KT1").unwrap().unwrap().to_branch,
        BRANCH
    );
    // Scanned again at Đăk Tô: still one transfer.
    s.desk(&cache, &dakto, &back("KT1")).unwrap();
    assert_eq!(in_transit(s.reader(), None).unwrap().len(), 1);
    // Scanned at home: received.
    let d = s.desk(&cache, &kontum, &back("KT1")).unwrap();
    assert!(d.received);
    assert_eq!(d.transfer_to, None);
    assert!(in_transit(s.reader(), None).unwrap().is_empty());
    // A return at home of a home item is no transfer at all; an unknown one is refused.
    let d = s.desk(&cache, &kontum, &back("KT2")).unwrap();
    assert_eq!((d.transfer_to, d.received, d.patron), (None, false, None));
    let d = s.desk(&cache, &kontum, &back("NOPE")).unwrap();
    assert_eq!(code(&d), Some(ErrorCode::UnknownItem));
}

#[test]
fn renewals_follow_the_rule_and_past_it_need_a_reason() {
    let (_d, mut s, cache) = store();
    let desk = at(BRANCH);
    s.desk(&cache, &desk, &lend("P1", "KT1", None)).unwrap();
    let renew = |reason: Option<&str>| DeskAct::Renew {
        card: "P1".into(),
        item: "KT1".into(),
        override_reason: reason.map(str::to_owned),
    };
    let d = s.desk(&cache, &desk, &renew(None)).unwrap();
    assert_eq!(code(&d), None);
    // From the due date (21 Feb) 14 days: 7 March.
    assert_eq!(d.due, Some(date(2027, 3, 7)));
    let d = s.desk(&cache, &desk, &renew(None)).unwrap();
    assert_eq!(code(&d), Some(ErrorCode::RenewLimit));
    assert!(d.overridable);
    let d = s
        .desk(&cache, &desk, &renew(Some("ốm, gia hạn thêm")))
        .unwrap();
    assert!(d.overridden);
    assert_eq!(d.due, Some(date(2027, 3, 21)));
    assert_eq!(active(&s, "P1")[0].renewals, 2);
    // Someone else's loan is not renewed, reason or not.
    let d = s
        .desk(
            &cache,
            &desk,
            &DeskAct::Renew {
                card: "P2".into(),
                item: "KT1".into(),
                override_reason: Some("r".into()),
            },
        )
        .unwrap();
    assert_eq!(code(&d), Some(ErrorCode::NotOnLoan));
}

#[test]
fn history_is_listed_only_when_asked_and_a_receipt_holds_todays_loans() {
    let (_d, mut s, cache) = store();
    let desk = at(BRANCH);
    s.desk(&cache, &desk, &lend("P1", "KT1", None)).unwrap();
    s.desk(&cache, &desk, &lend("P1", "KT2", None)).unwrap();
    s.desk(&cache, &desk, &back("KT1")).unwrap();
    let (now, past) = reader_loans(s.reader(), "P1", true, 10).unwrap();
    assert_eq!((now.len(), past.len()), (1, 1));
    assert_eq!(past[0].item, "KT1");
    assert!(reader_loans(s.reader(), "P1", false, 10)
        .unwrap()
        .1
        .is_empty());
    let receipt = lent_since(s.reader(), "P1", BRANCH, desk.now_ms - 1000).unwrap();
    assert_eq!(
        receipt.iter().map(|l| l.item.as_str()).collect::<Vec<_>>(),
        ["KT2"]
    );
    assert!(lent_since(s.reader(), "P1", "dakto", 0).unwrap().is_empty());
}

#[test]
fn a_lost_item_is_not_for_loan_until_someone_says_why() {
    let (_d, mut s, cache) = store();
    let lost = Item {
        status: ItemStatus::Lost,
        ..item("KT3")
    };
    s.put_ops(&[Op::PutItem(lost)]).unwrap();
    let d = s
        .desk(&cache, &at(BRANCH), &lend("P2", "KT3", None))
        .unwrap();
    assert_eq!(code(&d), Some(ErrorCode::NotForLoan));
    assert!(d.overridable);
}
