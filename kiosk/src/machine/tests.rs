//! The harness every state-machine test drives the kiosk with, and the tests of the core:
//! the clock, late and lost replies, stray cards and scans.

use std::time::Duration;

use super::*;
use chrono::NaiveDate;
use rong_protocol::api::PatronView;

pub(super) fn patron(staff: bool) -> PatronView {
    PatronView {
        card: "P000001".into(),
        name: "Nguyễn Văn A".into(),
        category: "adult".into(),
        loans: 0,
        max_loans: 5,
        staff,
    }
}

pub(super) fn timeouts() -> Timeouts {
    Timeouts {
        inactivity: Duration::from_secs(10),
        warning: Duration::from_secs(5),
        status_poll: Duration::from_secs(1000),
    }
}

pub(super) struct T {
    pub(super) k: Kiosk,
    pub(super) now: Instant,
    pub(super) fx: Vec<Effect>,
}

impl T {
    pub(super) fn new() -> T {
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
    pub(super) fn input(&mut self, i: Input) {
        let fx = self.k.handle(i, self.now);
        self.fx.extend(fx);
    }
    pub(super) fn act(&mut self, a: Action) {
        self.input(Input::Action(a));
    }
    /// Takes the requests made so far, without the signals.
    pub(super) fn requests(&mut self) -> Vec<(u64, RequestOp)> {
        std::mem::take(&mut self.fx)
            .into_iter()
            .filter_map(|e| match e {
                Effect::Request { tag, op } => Some((tag, op)),
                Effect::Language(_) => None,
            })
            .filter(|(_, op)| !matches!(op, RequestOp::Signal { .. }))
            .collect()
    }
    pub(super) fn answer_all_status(&mut self) {
        for (tag, op) in self.requests() {
            assert_eq!(op, RequestOp::Status);
            self.input(Input::Reply {
                tag,
                result: Ok(Reply::Status(status(true))),
            });
        }
    }
    pub(super) fn only(&mut self) -> (u64, RequestOp) {
        let mut r = self.requests();
        assert_eq!(r.len(), 1, "{r:?}");
        r.remove(0)
    }
    /// Acts, then takes the one request that made.
    pub(super) fn act_one(&mut self, a: Action) -> (u64, RequestOp) {
        self.act(a);
        self.only()
    }
    /// Feeds an input, then takes the one request that made.
    pub(super) fn input_one(&mut self, i: Input) -> (u64, RequestOp) {
        self.input(i);
        self.only()
    }
    /// Types `text` on the on-screen keyboard, a key at a time.
    pub(super) fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.act(Action::SearchKey(c));
        }
    }
    pub(super) fn reply(&mut self, tag: u64, result: Result<Reply, ApiError>) {
        self.input(Input::Reply { tag, result });
    }
    /// Answers an identify: the reader is known, in session `s1`.
    pub(super) fn identified(&mut self, tag: u64, staff: bool) {
        self.reply(
            tag,
            Ok(Reply::Identified {
                session: "s1".into(),
                patron: patron(staff),
            }),
        );
    }
    /// A kiosk where a reader has logged in for `purpose` (see [`T::login`]).
    pub(super) fn logged_in(purpose: Action, staff: bool) -> T {
        let mut t = T::new();
        t.login(purpose, staff);
        t
    }
    /// Taps card `04AA` for `purpose`; the agent knows it, in session `s1`.
    pub(super) fn login(&mut self, purpose: Action, staff: bool) {
        self.act(purpose);
        assert_eq!(self.k.screen, Screen::Identify);
        let (tag, op) = self.input_one(Input::CardPresent("04AA".into()));
        assert!(matches!(op, RequestOp::Identify(ref w) if w.uid.as_deref() == Some("04AA")));
        self.identified(tag, staff);
    }
}

pub(super) fn status(online: bool) -> AgentStatus {
    serde_json::from_value(serde_json::json!({
        "device": "kontum-kiosk-1", "branch": "kontum", "online": online, "outbox_depth": 0,
        "oldest_unsynced_age_s": null, "last_seq": 0, "acked_through": 0,
        "catalogue_version": 1, "rejected_messages": 0
    }))
    .expect("status")
}

pub(super) fn err(code: ErrorCode) -> ApiError {
    ApiError::new(code, "")
}

pub(super) fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

#[test]
fn still_here_cancels_the_warning() {
    let mut t = T::logged_in(Action::Borrow, false);
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
    let mut t = T::logged_in(Action::Borrow, false);
    let (tag, _) = t.input_one(Input::Barcode("KT9".into()));
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
    let mut t = T::logged_in(Action::Borrow, false);
    let (tag, _) = t.input_one(Input::Barcode("KT1".into()));
    t.input(Input::Disconnected);
    assert!(t.k.out_of_service());
    t.input(Input::Lost { tag });
    assert_eq!(t.k.rows[0].state, RowState::Unconfirmed);
    t.input(Input::Connected);
    assert!(!t.k.out_of_service());
    t.answer_all_status();
    let (tag, _) = t.input_one(Input::Barcode("KT1".into()));
    t.reply(tag, Err(err(ErrorCode::NoSession)));
    assert_eq!(t.k.screen, Screen::Refused);
    assert!(t.k.session.is_none() && t.k.rows.is_empty());
}

#[test]
fn cards_mid_session_and_garbage_scans_are_explained() {
    let mut t = T::new();
    t.act(Action::Borrow);
    let (tag, _) = t.input_one(Input::CardPresent("04AA".into()));
    t.input(Input::CardPresent("04BB".into()));
    assert!(t.requests().is_empty(), "one card at a time");
    assert_eq!(t.k.notice.as_ref().map(|n| &n.0), Some(&Notice::OtherCard));
    t.identified(tag, false);
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
