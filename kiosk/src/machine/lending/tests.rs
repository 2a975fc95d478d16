//! Lending flows driven through the whole machine.

use super::super::tests::*;
use super::super::*;
use std::time::Duration;

use rong_protocol::api::LoanView;

#[test]
fn borrow_three_then_receipt_and_summary() {
    let mut t = T::logged_in(Action::Borrow, false);
    assert_eq!(t.k.screen, Screen::Borrow);
    for (i, code) in ["KT1", "KT2", "KT3"].iter().enumerate() {
        let (tag, op) = t.input_one(Input::Barcode((*code).into()));
        assert!(
            matches!(op, RequestOp::Checkout { ref who, .. } if who.session.as_deref() == Some("s1"))
        );
        assert!(t.k.busy());
        t.act(Action::Finish);
        assert_eq!(t.k.screen, Screen::Borrow, "finish waits for answers");
        t.reply(
            tag,
            Ok(Reply::CheckedOut {
                item: (*code).into(),
                title: format!("Book {i}"),
                due: date(10),
            }),
        );
    }
    t.input(Input::Barcode("KT2".into()));
    assert!(t.requests().is_empty(), "a repeated scan sends nothing");
    assert_eq!(
        t.k.notice.as_ref().map(|n| &n.0),
        Some(&Notice::AlreadyScanned)
    );
    t.act(Action::Finish);
    assert_eq!(t.k.screen, Screen::Receipt);
    let (tag, op) = t.act_one(Action::Print);
    assert_eq!(
        op,
        RequestOp::PrintReceipt {
            session: "s1".into(),
            items: vec!["KT1".into(), "KT2".into(), "KT3".into()]
        }
    );
    t.reply(tag, Err(err(ErrorCode::PrinterUnavailable)));
    assert_eq!(t.k.screen, Screen::Summary);
    assert!(matches!(t.k.print, Some(PrintOutcome::Failed(_))));
    assert_eq!(t.k.rows.len(), 3);
    t.act(Action::Home);
    assert_eq!(
        t.only().1,
        RequestOp::EndSession {
            session: "s1".into()
        }
    );
    assert_eq!(t.k.screen, Screen::Start);
    assert!(t.k.rows.is_empty() && t.k.session.is_none());
}

#[test]
fn pin_then_wrong_pin_then_refusal() {
    let mut t = T::new();
    t.act(Action::Borrow);
    let (tag, _) = t.input_one(Input::Barcode("P000005".into()));
    t.reply(tag, Err(err(ErrorCode::PinRequired)));
    assert_eq!(t.k.screen, Screen::Pin);
    for d in [1, 2, 3, 4] {
        t.act(Action::PinDigit(d));
    }
    t.act(Action::PinBack);
    t.act(Action::PinDigit(9));
    let (tag, op) = t.act_one(Action::PinOk);
    assert_eq!(
        op,
        RequestOp::Identify(Who {
            card: Some("P000005".into()),
            pin: Some("1239".into()),
            ..Who::default()
        })
    );
    t.reply(tag, Err(err(ErrorCode::WrongPin)));
    assert_eq!(t.k.screen, Screen::Pin);
    assert!(t.k.pin.is_empty() && t.k.pin_error.is_some());
    t.act(Action::PinDigit(0));
    let (tag, _) = t.act_one(Action::PinOk);
    t.reply(tag, Err(err(ErrorCode::PinLocked)));
    assert_eq!(t.k.screen, Screen::Refused);
    assert_eq!(
        t.k.refusal.as_ref().map(|e| e.code),
        Some(ErrorCode::PinLocked)
    );
}

#[test]
fn blocked_card_is_refused_and_timeout_clears_it() {
    let mut t = T::new();
    t.act(Action::Account);
    let (tag, _) = t.input_one(Input::CardPresent("04BB".into()));
    t.reply(tag, Err(err(ErrorCode::PatronBlocked)));
    assert_eq!(t.k.screen, Screen::Refused);
    t.now += Duration::from_secs(11);
    t.input(Input::Tick);
    assert_eq!(t.k.warning, Some(4));
    t.now += Duration::from_secs(4);
    t.input(Input::Tick);
    assert_eq!(t.k.screen, Screen::Start);
    assert!(t.k.refusal.is_none() && t.k.warning.is_none());
}

#[test]
fn return_other_branch_account_renew_search_and_staff() {
    let mut t = T::new();
    t.act(Action::Return);
    let (tag, op) = t.input_one(Input::Barcode("KT7".into()));
    assert_eq!(op, RequestOp::Checkin { item: "KT7".into() });
    t.reply(
        tag,
        Ok(Reply::CheckedIn {
            item: "KT7".into(),
            title: Some("Far".into()),
            was_on_loan: true,
            transfer_to: Some("dakto".parse().expect("branch")),
            transfer_to_name: Some("Đắk Tô".into()),
        }),
    );
    assert_eq!(t.k.rows[0].state, RowState::Transfer("Đắk Tô".into()));
    t.act(Action::Home);

    t.login(Action::Account, false);
    let (tag, op) = t.only();
    assert!(matches!(op, RequestOp::Loans(_)));
    let loan = |item: &str, overdue| LoanView {
        item: item.into(),
        title: item.into(),
        due: date(1),
        overdue,
        renewals: 0,
    };
    t.reply(
        tag,
        Ok(Reply::Loans {
            loans: vec![loan("KT1", true), loan("KT2", false)],
        }),
    );
    assert!(t.k.rows[0].overdue);
    t.act(Action::RenewAll);
    let reqs = t.requests();
    assert_eq!(reqs.len(), 2);
    t.reply(reqs[0].0, Err(err(ErrorCode::Overdue)));
    t.reply(
        reqs[1].0,
        Ok(Reply::Renewed {
            item: "KT2".into(),
            title: "KT2".into(),
            due: date(20),
            renewals: 1,
        }),
    );
    assert!(matches!(t.k.rows[0].state, RowState::Refused(_)));
    assert_eq!(t.k.rows[1].state, RowState::Renewed(date(20)));
    t.act(Action::Home);
    t.requests();

    t.act(Action::Search);
    t.type_text("dia chi");
    let (tag, op) = t.act_one(Action::SearchGo);
    assert_eq!(
        op,
        RequestOp::Search {
            q: "dia chi".into(),
            limit: Some(20)
        }
    );
    t.reply(tag, Ok(Reply::SearchResults { hits: vec![] }));
    assert_eq!(t.k.hits, Some(vec![]));
    t.act(Action::Home);

    t.login(Action::Borrow, true);
    assert_eq!(t.k.screen, Screen::Staff);
    let (tag, op) = t.only();
    assert_eq!(op, RequestOp::Status);
    t.reply(tag, Ok(Reply::Status(status(false))));
    assert!(!t.k.online);
    assert!(t.k.status.is_some());
    t.act(Action::Scanning);
    assert_eq!(t.k.screen, Screen::Scanning);
    let (_, op) = t.only();
    assert!(matches!(op, RequestOp::JobList { .. }));
    let (_, op) = t.act_one(Action::StaffMenu);
    assert_eq!(
        op,
        RequestOp::Status,
        "the staff menu asks for fresh status"
    );
    let (tag, op) = t.act_one(Action::SyncNow);
    assert_eq!(op, RequestOp::SyncNow);
    t.reply(tag, Ok(Reply::Done));
    assert_eq!(t.k.notice.as_ref().map(|n| &n.0), Some(&Notice::Synced));
}
