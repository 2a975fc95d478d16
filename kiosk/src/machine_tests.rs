use std::time::Duration;

use super::*;

fn patron(staff: bool) -> PatronView {
    PatronView {
        card: "P000001".into(),
        name: "Nguyễn Văn A".into(),
        category: "adult".into(),
        loans: 0,
        max_loans: 5,
        staff,
    }
}

fn timeouts() -> Timeouts {
    Timeouts {
        inactivity: Duration::from_secs(10),
        warning: Duration::from_secs(5),
        status_poll: Duration::from_secs(1000),
    }
}

struct T {
    k: Kiosk,
    now: Instant,
    fx: Vec<Effect>,
}

impl T {
    fn new() -> T {
        let now = Instant::now();
        let mut t = T {
            k: Kiosk::new(timeouts(), Lang::Vi, now),
            now,
            fx: vec![],
        };
        t.input(Input::Connected);
        t.answer_all_status();
        t
    }
    fn input(&mut self, i: Input) {
        let fx = self.k.handle(i, self.now);
        self.fx.extend(fx);
    }
    fn act(&mut self, a: Action) {
        self.input(Input::Action(a));
    }
    /// Takes the requests made so far, without the signals.
    fn requests(&mut self) -> Vec<(u64, RequestOp)> {
        std::mem::take(&mut self.fx)
            .into_iter()
            .filter_map(|e| match e {
                Effect::Request { tag, op } => Some((tag, op)),
                Effect::Language(_) => None,
            })
            .filter(|(_, op)| !matches!(op, RequestOp::Signal { .. }))
            .collect()
    }
    fn answer_all_status(&mut self) {
        for (tag, op) in self.requests() {
            assert_eq!(op, RequestOp::Status);
            self.input(Input::Reply {
                tag,
                result: Ok(Reply::Status(status(true))),
            });
        }
    }
    fn only(&mut self) -> (u64, RequestOp) {
        let mut r = self.requests();
        assert_eq!(r.len(), 1, "{r:?}");
        r.remove(0)
    }
    fn reply(&mut self, tag: u64, result: Result<Reply, ApiError>) {
        self.input(Input::Reply { tag, result });
    }
    fn login(&mut self, purpose: Action, staff: bool) {
        self.act(purpose);
        assert_eq!(self.k.screen, Screen::Identify);
        self.input(Input::CardPresent("04AA".into()));
        let (tag, op) = self.only();
        assert!(matches!(op, RequestOp::Identify(ref w) if w.uid.as_deref() == Some("04AA")));
        self.reply(
            tag,
            Ok(Reply::Identified {
                session: "s1".into(),
                patron: patron(staff),
            }),
        );
    }
}

fn status(online: bool) -> AgentStatus {
    serde_json::from_value(serde_json::json!({
        "device": "kontum-kiosk-1", "branch": "kontum", "online": online, "outbox_depth": 0,
        "oldest_unsynced_age_s": null, "last_seq": 0, "acked_through": 0,
        "catalogue_version": 1, "rejected_messages": 0
    }))
    .expect("status")
}

fn err(code: ErrorCode) -> ApiError {
    ApiError::new(code, "")
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

#[test]
fn borrow_three_then_receipt_and_summary() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    assert_eq!(t.k.screen, Screen::Borrow);
    for (i, code) in ["KT1", "KT2", "KT3"].iter().enumerate() {
        t.input(Input::Barcode((*code).into()));
        let (tag, op) = t.only();
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
    t.act(Action::Print);
    let (tag, op) = t.only();
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
    t.input(Input::Barcode("P000005".into()));
    let (tag, _) = t.only();
    t.reply(tag, Err(err(ErrorCode::PinRequired)));
    assert_eq!(t.k.screen, Screen::Pin);
    for d in [1, 2, 3, 4] {
        t.act(Action::PinDigit(d));
    }
    t.act(Action::PinBack);
    t.act(Action::PinDigit(9));
    t.act(Action::PinOk);
    let (tag, op) = t.only();
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
    t.act(Action::PinOk);
    let (tag, _) = t.only();
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
    t.input(Input::CardPresent("04BB".into()));
    let (tag, _) = t.only();
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
fn still_here_cancels_the_warning() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    t.act(Action::LargerText);
    t.act(Action::Language(Lang::En));
    t.now += Duration::from_secs(12);
    t.input(Input::Tick);
    assert_eq!(t.k.warning, Some(3));
    t.act(Action::StillHere);
    assert_eq!(t.k.warning, None);
    t.now += Duration::from_secs(9);
    t.input(Input::Tick);
    assert_eq!((t.k.screen, t.k.warning), (Screen::Borrow, None));
    t.now += Duration::from_secs(10);
    t.input(Input::Tick);
    assert_eq!(t.k.screen, Screen::Start);
    assert!(!t.k.large_text);
    assert_eq!(t.k.lang, Lang::Vi);
    assert!(t.fx.contains(&Effect::Language(Lang::Vi)));
    assert!(t.requests().iter().any(|(_, op)| *op
        == RequestOp::EndSession {
            session: "s1".into()
        }));
}

#[test]
fn late_replies_do_not_reach_the_next_reader() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    t.input(Input::Barcode("KT9".into()));
    let (tag, _) = t.only();
    t.act(Action::Home);
    t.requests();
    t.reply(
        tag,
        Ok(Reply::CheckedOut {
            item: "KT9".into(),
            title: "Late".into(),
            due: date(1),
        }),
    );
    assert!(t.k.rows.is_empty());
}

#[test]
fn lost_connection_leaves_items_unconfirmed_and_a_session_the_agent_forgot_ends() {
    let mut t = T::new();
    t.login(Action::Borrow, false);
    t.input(Input::Barcode("KT1".into()));
    let (tag, _) = t.only();
    t.input(Input::Disconnected);
    assert!(t.k.out_of_service());
    t.input(Input::Lost { tag });
    assert_eq!(t.k.rows[0].state, RowState::Unconfirmed);
    t.input(Input::Connected);
    assert!(!t.k.out_of_service());
    t.answer_all_status();
    t.input(Input::Barcode("KT1".into()));
    let (tag, _) = t.only();
    t.reply(tag, Err(err(ErrorCode::NoSession)));
    assert_eq!(t.k.screen, Screen::Refused);
    assert!(t.k.session.is_none() && t.k.rows.is_empty());
}

#[test]
fn cards_mid_session_and_garbage_scans_are_explained() {
    let mut t = T::new();
    t.act(Action::Borrow);
    t.input(Input::CardPresent("04AA".into()));
    let (tag, _) = t.only();
    t.input(Input::CardPresent("04BB".into()));
    assert!(t.requests().is_empty(), "one card at a time");
    assert_eq!(t.k.notice.as_ref().map(|n| &n.0), Some(&Notice::OtherCard));
    t.reply(
        tag,
        Ok(Reply::Identified {
            session: "s1".into(),
            patron: patron(false),
        }),
    );
    t.input(Input::CardPresent("04CC".into()));
    assert_eq!(t.k.screen, Screen::Borrow);
    assert!(t.requests().is_empty());
    t.input(Input::Barcode("KT\u{7}1".into()));
    t.input(Input::BadScan(ScanProblem::TooLong));
    assert!(t.requests().is_empty());
    assert!(t.k.rows.is_empty());
    assert_eq!(
        t.k.notice.as_ref().map(|n| &n.0),
        Some(&Notice::BadScan(ScanProblem::TooLong))
    );
}

#[test]
fn return_other_branch_account_renew_search_and_staff() {
    let mut t = T::new();
    t.act(Action::Return);
    t.input(Input::Barcode("KT7".into()));
    let (tag, op) = t.only();
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
    for c in "dia chi".chars() {
        t.act(Action::SearchKey(c));
    }
    t.act(Action::SearchGo);
    let (tag, op) = t.only();
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
    t.act(Action::StaffMenu);
    t.act(Action::SyncNow);
    let (tag, op) = t.only();
    assert_eq!(op, RequestOp::SyncNow);
    t.reply(tag, Ok(Reply::Done));
    assert_eq!(t.k.notice.as_ref().map(|n| &n.0), Some(&Notice::Synced));
}
