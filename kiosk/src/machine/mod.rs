//! The kiosk's screens and session as a pure state machine: inputs in (touches, scans,
//! card taps, agent replies, clock ticks), requests to the agent out. No Slint, no socket.
//!
//! This module holds the core: the [`Kiosk`] state, the dispatch of every input, the clock
//! (notices, polling, inactivity) and logout. The flows live beside it: lending
//! (identify, borrow, return, account, receipt), search, and the staff scanning desk
//! ([`desk`] is its pure model, `scanning` the glue to the screens).

use std::collections::HashMap;
use std::time::Instant;

use rong_protocol::api::{
    AgentStatus, ApiError, ErrorCode, PatronView, Reply, RequestOp, SearchHit, Signal, Who,
};

use crate::config::{Lang, Timeouts};
use crate::wedge::{check_code, Scan, ScanProblem};
use desk::{Desk, DeskPending, Out};

pub mod desk;
mod lending;
mod scanning;
mod search;
mod types;

pub use types::{
    Action, Credential, Effect, Input, Notice, PrintOutcome, Purpose, Row, RowState, Screen,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Identify(Credential),
    Checkout(String),
    Checkin(String),
    Renew(String),
    Loans,
    Search,
    Print,
    Status,
    SyncNow,
    Quiet,
    Desk(DeskPending),
}

/// An open patron session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The agent's session id.
    pub id: String,
    /// The patron.
    pub patron: PatronView,
}

/// The whole kiosk state.
#[derive(Debug)]
pub struct Kiosk {
    timeouts: Timeouts,
    default_lang: Lang,
    /// Current language.
    pub lang: Lang,
    /// Larger text switched on.
    pub large_text: bool,
    /// Current screen.
    pub screen: Screen,
    purpose: Purpose,
    /// The agent's socket answers.
    pub connected: bool,
    /// The agent's broker link is up (false: working offline).
    pub online: bool,
    /// The open session.
    pub session: Option<Session>,
    credential: Option<Credential>,
    /// Digits typed on the PIN pad.
    pub pin: String,
    /// Shown on the PIN pad after a wrong PIN.
    pub pin_error: Option<ApiError>,
    /// Why the reader was turned away.
    pub refusal: Option<ApiError>,
    /// The banner, if any, and when it goes.
    pub notice: Option<(Notice, Instant)>,
    /// Borrowed, returned or loan rows of the current screen.
    pub rows: Vec<Row>,
    /// Loans are being fetched (account).
    pub loading: bool,
    /// An identify request is on its way.
    pub identifying: bool,
    /// The receipt.
    pub print: Option<PrintOutcome>,
    /// Search text.
    pub query: String,
    /// Search results; `None` before the first search.
    pub hits: Option<Vec<SearchHit>>,
    /// Staff view of the agent.
    pub status: Option<AgentStatus>,
    /// Seconds left on the inactivity warning, when shown.
    pub warning: Option<u64>,
    /// The staff scanning desk.
    pub desk: Desk,
    last_activity: Instant,
    last_poll: Option<Instant>,
    pending: HashMap<u64, Pending>,
    next_tag: u64,
}

/// How long a notice stays up.
const NOTICE: std::time::Duration = std::time::Duration::from_secs(6);

impl Kiosk {
    /// A kiosk on its start screen, not yet connected.
    pub fn new(timeouts: Timeouts, lang: Lang, now: Instant) -> Kiosk {
        Kiosk {
            timeouts,
            default_lang: lang,
            lang,
            large_text: false,
            screen: Screen::Start,
            purpose: Purpose::Borrow,
            connected: false,
            online: true,
            session: None,
            credential: None,
            pin: String::new(),
            pin_error: None,
            refusal: None,
            notice: None,
            rows: Vec::new(),
            loading: false,
            identifying: false,
            print: None,
            query: String::new(),
            hits: None,
            status: None,
            warning: None,
            desk: Desk::default(),
            last_activity: now,
            last_poll: None,
            pending: HashMap::new(),
            next_tag: 1,
        }
    }

    /// Whether the "out of service" screen covers everything.
    pub fn out_of_service(&self) -> bool {
        !self.connected
    }

    /// Whether requests are still outstanding for the visible list.
    pub fn busy(&self) -> bool {
        self.rows.iter().any(|r| r.state == RowState::Pending)
    }

    /// Handles one input at `now` and returns what to do.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Tick => self.tick(now, &mut fx),
            Input::Connected => {
                self.connected = true;
                self.poll(now, &mut fx);
            }
            Input::Disconnected => self.connected = false,
            Input::Reply { tag, result } => {
                if let Some(p) = self.pending.remove(&tag) {
                    self.reply(p, result, now, &mut fx);
                }
            }
            Input::Lost { tag } => {
                if let Some(p) = self.pending.remove(&tag) {
                    self.lost(p, now, &mut fx);
                }
            }
            Input::Message(text) => self.notify(Notice::Message(text), now),
            Input::PageScanned { job, page } => {
                // Pages arriving from a batch are the staff member at work.
                self.last_activity = now;
                self.warning = None;
                let mut out = Out::new();
                if let Some(s) = self.session.as_ref().map(|s| s.id.clone()) {
                    self.desk.page_scanned(&s, &job, page, &mut out);
                }
                self.desk_requests(out, &mut fx);
            }
            Input::CardRemoved => {}
            other => {
                self.last_activity = now;
                self.warning = None;
                match other {
                    Input::Action(a) => self.action(a, now, &mut fx),
                    Input::Barcode(code) => match check_code(&code) {
                        Scan::Code(code) => self.barcode(code, now, &mut fx),
                        Scan::Bad(p) => self.bad_scan(p, now, &mut fx),
                    },
                    Input::BadScan(p) => self.bad_scan(p, now, &mut fx),
                    Input::CardPresent(uid) => self.card(uid, now, &mut fx),
                    _ => {}
                }
            }
        }
        fx
    }

    fn request(&mut self, p: Pending, op: RequestOp, fx: &mut Vec<Effect>) {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.pending.insert(tag, p);
        fx.push(Effect::Request { tag, op });
    }

    fn signal(&mut self, s: Signal, fx: &mut Vec<Effect>) {
        self.request(Pending::Quiet, RequestOp::Signal { signal: s }, fx);
    }

    fn notify(&mut self, n: Notice, now: Instant) {
        self.notice = Some((n, now + NOTICE));
    }

    fn session_who(&self) -> Who {
        Who {
            session: self.session.as_ref().map(|s| s.id.clone()),
            ..Who::default()
        }
    }

    fn poll(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if self.pending.values().any(|p| *p == Pending::Status) {
            return;
        }
        self.last_poll = Some(now);
        self.request(Pending::Status, RequestOp::Status, fx);
    }

    fn tick(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if let Some((_, until)) = &self.notice {
            if now >= *until {
                self.notice = None;
            }
        }
        if self.connected
            && self
                .last_poll
                .is_none_or(|t| now.duration_since(t) >= self.timeouts.status_poll)
        {
            self.poll(now, fx);
        }
        if self.screen == Screen::Start {
            self.warning = None;
            return;
        }
        if self.desk.busy.is_some() {
            // A feeder batch can take minutes with nobody touching the screen.
            self.last_activity = now;
        }
        if self.screen == Screen::Scanning
            && self
                .desk
                .listed_at
                .is_none_or(|t| now.duration_since(t) >= self.timeouts.status_poll)
            && !self
                .pending
                .values()
                .any(|p| *p == Pending::Desk(DeskPending::List))
        {
            // Upload progress moves by itself: keep the list fresh.
            let mut out = Out::new();
            if let Some(s) = self.session.as_ref().map(|s| s.id.clone()) {
                self.desk.list(&s, now, &mut out);
            }
            self.desk_requests(out, fx);
        }
        let idle = now.duration_since(self.last_activity);
        if idle >= self.timeouts.inactivity + self.timeouts.warning {
            self.logout(now, fx);
        } else if idle >= self.timeouts.inactivity {
            let left = (self.timeouts.inactivity + self.timeouts.warning - idle).as_millis();
            let left = u64::try_from(left.div_ceil(1000)).unwrap_or(u64::MAX);
            if self.warning.is_none() {
                self.signal(Signal::Attention, fx);
            }
            self.warning = Some(left);
        }
    }

    /// Ends the session and forgets everything about the reader.
    fn logout(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        // Replies to the reader's requests must not land on the next reader's screen.
        self.pending
            .retain(|_, p| matches!(p, Pending::Status | Pending::Quiet));
        if let Some(s) = self.session.take() {
            self.request(Pending::Quiet, RequestOp::EndSession { session: s.id }, fx);
        }
        self.screen = Screen::Start;
        self.credential = None;
        self.pin.clear();
        self.pin_error = None;
        self.refusal = None;
        self.notice = None;
        self.rows.clear();
        self.loading = false;
        self.identifying = false;
        self.print = None;
        self.query.clear();
        self.hits = None;
        self.status = None;
        self.warning = None;
        self.desk = Desk::default();
        self.large_text = false;
        if self.lang != self.default_lang {
            self.lang = self.default_lang;
            fx.push(Effect::Language(self.lang));
        }
        self.last_activity = now;
    }

    fn action(&mut self, a: Action, now: Instant, fx: &mut Vec<Effect>) {
        use Action as A;
        match (self.screen, a) {
            (_, A::StillHere) => {}
            (_, A::Language(l)) => {
                self.lang = l;
                fx.push(Effect::Language(l));
            }
            (_, A::LargerText) => self.large_text = !self.large_text,
            (_, A::Home) => self.logout(now, fx),
            (Screen::Start, A::Borrow) => self.begin_identify(Purpose::Borrow),
            (Screen::Start, A::Account) => self.begin_identify(Purpose::Account),
            (Screen::Start, A::Return) => {
                self.rows.clear();
                self.screen = Screen::Return;
            }
            (Screen::Start, A::Search) => self.open_search(),
            (Screen::Pin, a) => self.pin_action(a, fx),
            (Screen::Borrow | Screen::Receipt | Screen::Account, a) => {
                self.lending_action(a, now, fx)
            }
            (Screen::Search, a) => self.search_action(a, fx),
            (Screen::Staff, A::SyncNow) => self.request(Pending::SyncNow, RequestOp::SyncNow, fx),
            (Screen::Staff, A::Refresh) => self.poll(now, fx),
            (Screen::Staff, A::Scanning) => {
                self.screen = Screen::Scanning;
                self.desk.jobs = None;
                self.desk_step(now, fx, |d, s, now, out| d.list(s, now, out));
            }
            (Screen::Scanning, A::StaffMenu) => {
                self.screen = Screen::Staff;
                self.poll(now, fx);
            }
            (
                Screen::Scanning
                | Screen::JobNew
                | Screen::JobDescribe
                | Screen::JobPages
                | Screen::JobFinish,
                a,
            ) => self.desk_action(a, now, fx),
            _ => {}
        }
    }

    fn barcode(&mut self, code: String, now: Instant, fx: &mut Vec<Effect>) {
        match self.screen {
            Screen::Start => self.notify(Notice::ChooseFirst, now),
            Screen::Identify if !self.identifying => {
                self.identify(Credential::Card(code), None, fx)
            }
            Screen::Borrow => self.borrow_scan(code, now, fx),
            Screen::Return => self.return_scan(code, fx),
            Screen::Search | Screen::JobNew => {
                self.query = code;
                self.search(fx);
            }
            _ => {}
        }
    }

    fn bad_scan(&mut self, p: ScanProblem, now: Instant, fx: &mut Vec<Effect>) {
        if self.screen != Screen::Start {
            self.signal(Signal::Error, fx);
        }
        self.notify(Notice::BadScan(p), now);
    }

    fn reply(
        &mut self,
        p: Pending,
        result: Result<Reply, ApiError>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        if let Err(e) = &result {
            if e.code == ErrorCode::NoSession && self.session.is_some() {
                // The agent forgot the session (it restarted): say so, and start over.
                self.signal(Signal::Error, fx);
                let e = e.clone();
                self.logout(now, fx);
                self.refusal = Some(e);
                self.screen = Screen::Refused;
                return;
            }
        }
        match (p, result) {
            (Pending::Quiet, _) => {}
            (Pending::Desk(d), result) => self.desk_reply(d, result, now, fx),
            (Pending::Status, Ok(Reply::Status(s))) => {
                self.online = s.online;
                self.status =
                    (self.screen == Screen::Staff || self.screen == Screen::Scanning).then_some(s);
            }
            (Pending::Status, _) => {}
            (Pending::SyncNow, Ok(_)) => {
                self.notify(Notice::Synced, now);
                self.poll(now, fx);
            }
            (Pending::SyncNow, Err(e)) => self.notify(Notice::Agent(e), now),
            (Pending::Identify(_), result) => self.identify_reply(result, now, fx),
            (Pending::Checkout(item), result) => {
                self.settle_signalled(&item, result, lending::lent, fx)
            }
            (Pending::Checkin(item), result) => self.checked_in(item, result, fx),
            (Pending::Renew(item), result) => {
                self.settle_signalled(&item, result, lending::renewed, fx)
            }
            (Pending::Loans, result) => self.loans_reply(result, now),
            (Pending::Search, result) => self.search_reply(result, now),
            (Pending::Print, result) => self.printed(result),
        }
    }

    fn lost(&mut self, p: Pending, now: Instant, fx: &mut Vec<Effect>) {
        match p {
            Pending::Identify(_) => {
                self.identifying = false;
                self.notify(Notice::NotReached, now);
            }
            Pending::Checkout(item) | Pending::Checkin(item) | Pending::Renew(item) => {
                if let Some(r) = self.rows.iter_mut().find(|r| r.item == item) {
                    r.state = RowState::Unconfirmed;
                }
            }
            Pending::Loans => {
                self.loading = false;
                self.notify(Notice::NotReached, now);
            }
            Pending::Search | Pending::SyncNow => self.notify(Notice::NotReached, now),
            Pending::Print => {
                self.print = Some(PrintOutcome::Unconfirmed);
                if self.screen == Screen::Receipt {
                    self.screen = Screen::Summary;
                }
            }
            Pending::Status | Pending::Quiet => {}
            Pending::Desk(d) => {
                if let Some(s) = self.session.as_ref().map(|s| s.id.clone()) {
                    let mut out = Out::new();
                    let next = self.desk.lost(d, &s, &mut out);
                    // The link reconnects for the next request: ask what the agent has.
                    self.desk_requests(out, fx);
                    self.desk_next(next, now);
                }
            }
        }
    }
}

/// The agent's text for an error, in `lang`.
pub fn error_text(e: &ApiError, lang: Lang) -> &str {
    match lang {
        Lang::Vi => &e.message_vi,
        Lang::En => &e.message,
    }
}

#[cfg(test)]
mod tests;
