//! The kiosk's screens and session as a pure state machine: inputs in (touches, scans,
//! card taps, agent replies, clock ticks), requests to the agent out. No Slint, no socket.

use std::collections::HashMap;
use std::time::Instant;

use chrono::NaiveDate;
use rong_protocol::api::{
    AgentStatus, ApiError, ErrorCode, LoanView, PatronView, Reply, RequestOp, SearchHit, Signal,
    Who,
};
use rong_protocol::digitise::PageInfo;

use crate::config::{Lang, Timeouts};
use crate::desk::{Desk, DeskPending, Field, Out};
use crate::marks::Mark;
use crate::wedge::{check_code, Scan, ScanProblem};

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Four big actions and the language switch.
    Start,
    /// "Tap your card or scan it".
    Identify,
    /// The PIN pad.
    Pin,
    /// A refusal (blocked, expired, unknown card, PIN locked, session ended).
    Refused,
    /// Scanning items to borrow.
    Borrow,
    /// Print a receipt, or none.
    Receipt,
    /// What was borrowed, with due dates.
    Summary,
    /// Returning items, no login.
    Return,
    /// Current loans and renewals.
    Account,
    /// Find a book.
    Search,
    /// The staff menu.
    Staff,
    /// The scanning station: the station's digitisation jobs and their upload progress.
    Scanning,
    /// A new job: search the catalogue for its record.
    JobNew,
    /// A new job: describe an uncatalogued document (Dublin Core).
    JobDescribe,
    /// Scanning a job's pages.
    JobPages,
    /// Finish the job: upload, keep scanning, or throw it away.
    JobFinish,
}

/// What the reader is identifying for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Borrowing.
    Borrow,
    /// Looking at their account.
    Account,
}

/// How the reader identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Card barcode.
    Card(String),
    /// NFC UID.
    Uid(String),
}

/// The state of one line in a list (an item borrowed, returned or renewed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    /// Waiting for the agent.
    Pending,
    /// Lent; due then.
    Lent(NaiveDate),
    /// Returned here.
    Returned,
    /// Returned; it belongs to another branch, whose name this is.
    Transfer(String),
    /// A loan (account screen), not touched yet.
    Loan,
    /// Renewed; due then.
    Renewed(NaiveDate),
    /// Refused by the agent.
    Refused(ApiError),
    /// The agent went away before answering: it may or may not have happened.
    Unconfirmed,
}

/// One line in the borrow, return or account list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Item barcode.
    pub item: String,
    /// Title, when known.
    pub title: String,
    /// Current due date (account screen).
    pub due: Option<NaiveDate>,
    /// Past due (account screen).
    pub overdue: bool,
    /// Where it stands.
    pub state: RowState,
}

/// A short message shown over the current screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A scanner line was unusable.
    BadScan(ScanProblem),
    /// A card was tapped while another was being read or a session is open.
    OtherCard,
    /// A card was tapped on the return screen.
    NoCardNeeded,
    /// A code scanned on the start screen.
    ChooseFirst,
    /// The item is already in this list.
    AlreadyScanned,
    /// The agent could not be reached for this request.
    NotReached,
    /// The agent refused something (text in both languages).
    Agent(ApiError),
    /// Central's message to show.
    Message(String),
    /// Sync finished (staff).
    Synced,
}

/// Why the receipt was not printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    /// Printed.
    Printed,
    /// The reader chose no receipt.
    NoReceipt,
    /// Waiting for the printer.
    Printing,
    /// The printer failed.
    Failed(ApiError),
    /// The agent went away.
    Unconfirmed,
}

/// What the machine asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a request; the reply comes back as [`Input::Reply`] or [`Input::Lost`] with
    /// the same tag.
    Request {
        /// Correlates the reply.
        tag: u64,
        /// The request.
        op: RequestOp,
    },
    /// Switch the UI language.
    Language(Lang),
}

/// A touch on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start borrowing.
    Borrow,
    /// Start returning.
    Return,
    /// Open my account.
    Account,
    /// Find a book.
    Search,
    /// Switch language.
    Language(Lang),
    /// Larger text on or off.
    LargerText,
    /// A PIN digit.
    PinDigit(u8),
    /// Delete the last PIN digit.
    PinBack,
    /// Submit the PIN.
    PinOk,
    /// Leave: back to the start, ending any session.
    Home,
    /// Done borrowing.
    Finish,
    /// Print a receipt.
    Print,
    /// No receipt.
    NoReceipt,
    /// Renew one loan.
    Renew(String),
    /// Renew every loan.
    RenewAll,
    /// A key of the on-screen keyboard.
    SearchKey(char),
    /// Delete the last search character.
    SearchBack,
    /// Run the search.
    SearchGo,
    /// Hide the results and show the keyboard again.
    SearchEdit,
    /// Dismiss the inactivity warning.
    StillHere,
    /// Staff: sync now.
    SyncNow,
    /// Staff: refresh status.
    Refresh,
    /// Staff: the scanning station.
    Scanning,
    /// Staff: back to the staff menu.
    StaffMenu,
    /// Staff: start a new scanning job.
    NewJob,
    /// Staff: open a job from the list.
    OpenJob(String),
    /// Staff: start a job for this catalogue record.
    PickRecord(String),
    /// Staff: describe a document that is not in the catalogue.
    Describe,
    /// Staff: type into this field of the description.
    FormField(Field),
    /// Staff: a Vietnamese mark on the last letter typed.
    FormMark(Mark),
    /// Staff: the next letter in upper case.
    FormShift,
    /// Staff: start the described job.
    StartJob,
    /// Staff: back to the job list.
    ScanJobs,
    /// Staff: scan one page.
    ScanOne,
    /// Staff: scan every sheet in the feeder.
    ScanBatch,
    /// Staff: select a page by its stable id.
    SelectPage(u32),
    /// Staff: scan the selected page again.
    PageRescan,
    /// Staff: delete the selected page.
    PageDelete,
    /// Staff: move the selected page one place left.
    PageLeft,
    /// Staff: move the selected page one place right.
    PageRight,
    /// Staff: turn the selected page a quarter clockwise.
    RotateRight,
    /// Staff: turn the selected page a quarter anticlockwise.
    RotateLeft,
    /// Staff: done scanning; asks to confirm.
    FinishJob,
    /// Staff: package the job and queue it for upload.
    ConfirmFinish,
    /// Staff: throw the job away.
    DiscardJob,
    /// Staff: back from the finish question to the pages.
    KeepScanning,
    /// Staff: hide the scanner problem.
    DismissProblem,
}

/// Everything that can happen to the kiosk.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A touch.
    Action(Action),
    /// A code from the wedge scanner or the agent's push, unchecked.
    Barcode(String),
    /// A wedge line that was not usable.
    BadScan(ScanProblem),
    /// A card on the NFC reader.
    CardPresent(String),
    /// The card left the reader.
    CardRemoved,
    /// A message from central.
    Message(String),
    /// A page arrived from the document scanner.
    PageScanned {
        /// The job.
        job: String,
        /// The page.
        page: PageInfo,
    },
    /// A reply to a request.
    Reply {
        /// The request's tag.
        tag: u64,
        /// What the agent said.
        result: Result<Reply, ApiError>,
    },
    /// A request that got no reply because the connection broke.
    Lost {
        /// The request's tag.
        tag: u64,
    },
    /// The agent's socket answers.
    Connected,
    /// The agent's socket does not answer.
    Disconnected,
    /// Time passes.
    Tick,
}

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
/// The longest search text.
const MAX_QUERY: usize = 60;
/// The longest PIN.
const MAX_PIN: usize = 8;

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
            (Screen::Start, A::Search) => {
                self.query.clear();
                self.hits = None;
                self.screen = Screen::Search;
            }
            (Screen::Pin, A::PinDigit(d)) if d < 10 && self.pin.len() < MAX_PIN => {
                self.pin.push(char::from(b'0' + d));
            }
            (Screen::Pin, A::PinBack) => {
                self.pin.pop();
            }
            (Screen::Pin, A::PinOk) if !self.pin.is_empty() && !self.identifying => {
                if let Some(c) = self.credential.clone() {
                    let pin = std::mem::take(&mut self.pin);
                    self.identify(c, Some(pin), fx);
                }
            }
            (Screen::Borrow, A::Finish) if !self.busy() => {
                if self
                    .rows
                    .iter()
                    .any(|r| matches!(r.state, RowState::Lent(_)))
                {
                    self.screen = Screen::Receipt;
                } else {
                    self.logout(now, fx);
                }
            }
            (Screen::Receipt, A::Print) => {
                let items = self.lent_items();
                if let Some(s) = &self.session {
                    let op = RequestOp::PrintReceipt {
                        session: s.id.clone(),
                        items,
                    };
                    self.print = Some(PrintOutcome::Printing);
                    self.request(Pending::Print, op, fx);
                }
            }
            (Screen::Receipt, A::NoReceipt) => {
                self.print = Some(PrintOutcome::NoReceipt);
                self.screen = Screen::Summary;
            }
            (Screen::Account, A::Renew(item)) => self.renew(item, fx),
            (Screen::Account, A::RenewAll) => {
                let items: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.state != RowState::Pending)
                    .map(|r| r.item.clone())
                    .collect();
                for item in items {
                    self.renew(item, fx);
                }
            }
            (Screen::Search, A::SearchKey(c)) if self.query.chars().count() < MAX_QUERY => {
                self.query.push(c);
            }
            (Screen::Search, A::SearchBack) => {
                self.query.pop();
            }
            (Screen::Search, A::SearchGo) => self.search(fx),
            (Screen::Search, A::SearchEdit) => self.hits = None,
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

    fn begin_identify(&mut self, purpose: Purpose) {
        self.purpose = purpose;
        self.credential = None;
        self.pin.clear();
        self.pin_error = None;
        self.screen = Screen::Identify;
    }

    fn identify(&mut self, c: Credential, pin: Option<String>, fx: &mut Vec<Effect>) {
        let mut who = Who {
            pin,
            ..Who::default()
        };
        match &c {
            Credential::Card(card) => who.card = Some(card.clone()),
            Credential::Uid(uid) => who.uid = Some(uid.clone()),
        }
        self.credential = Some(c.clone());
        self.identifying = true;
        self.request(Pending::Identify(c), RequestOp::Identify(who), fx);
    }

    fn renew(&mut self, item: String, fx: &mut Vec<Effect>) {
        let who = self.session_who();
        if let Some(r) = self.rows.iter_mut().find(|r| r.item == item) {
            if r.state == RowState::Pending {
                return;
            }
            r.state = RowState::Pending;
            self.request(
                Pending::Renew(item.clone()),
                RequestOp::Renew { who, item },
                fx,
            );
        }
    }

    fn search(&mut self, fx: &mut Vec<Effect>) {
        let q = self.query.trim().to_owned();
        if q.is_empty() {
            return;
        }
        self.request(
            Pending::Search,
            RequestOp::Search { q, limit: Some(20) },
            fx,
        );
    }

    fn lent_items(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| matches!(r.state, RowState::Lent(_)))
            .map(|r| r.item.clone())
            .collect()
    }

    fn barcode(&mut self, code: String, now: Instant, fx: &mut Vec<Effect>) {
        match self.screen {
            Screen::Start => self.notify(Notice::ChooseFirst, now),
            Screen::Identify if !self.identifying => {
                self.identify(Credential::Card(code), None, fx)
            }
            Screen::Borrow => {
                if let Some(r) = self.rows.iter().find(|r| r.item == code) {
                    if !matches!(r.state, RowState::Refused(_) | RowState::Unconfirmed) {
                        self.notify(Notice::AlreadyScanned, now);
                        return;
                    }
                }
                self.rows.retain(|r| r.item != code);
                self.rows.push(Row {
                    item: code.clone(),
                    title: String::new(),
                    due: None,
                    overdue: false,
                    state: RowState::Pending,
                });
                let op = RequestOp::Checkout {
                    who: self.session_who(),
                    item: code.clone(),
                };
                self.request(Pending::Checkout(code), op, fx);
            }
            Screen::Return => {
                if self
                    .rows
                    .iter()
                    .any(|r| r.item == code && r.state == RowState::Pending)
                {
                    return;
                }
                self.rows.retain(|r| r.item != code);
                self.rows.push(Row {
                    item: code.clone(),
                    title: String::new(),
                    due: None,
                    overdue: false,
                    state: RowState::Pending,
                });
                let op = RequestOp::Checkin { item: code.clone() };
                self.request(Pending::Checkin(code), op, fx);
            }
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

    fn card(&mut self, uid: String, now: Instant, fx: &mut Vec<Effect>) {
        match self.screen {
            _ if self.identifying || self.session.is_some() => {
                if self.session.is_none() || self.credential != Some(Credential::Uid(uid)) {
                    self.notify(Notice::OtherCard, now);
                }
            }
            Screen::Start => {
                self.begin_identify(Purpose::Borrow);
                self.identify(Credential::Uid(uid), None, fx);
            }
            Screen::Identify => self.identify(Credential::Uid(uid), None, fx),
            Screen::Return => self.notify(Notice::NoCardNeeded, now),
            _ => self.notify(Notice::OtherCard, now),
        }
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
            (Pending::Identify(_), result) => {
                self.identifying = false;
                if !matches!(self.screen, Screen::Identify | Screen::Pin) {
                    // The reader left meanwhile; close what the agent opened.
                    if let Ok(Reply::Identified { session, .. }) = result {
                        self.request(Pending::Quiet, RequestOp::EndSession { session }, fx);
                    }
                    return;
                }
                self.identified(result, now, fx);
            }
            (Pending::Checkout(item), result) => {
                let ok = result.is_ok();
                if let Some(r) = self.rows.iter_mut().find(|r| r.item == item) {
                    match result {
                        Ok(Reply::CheckedOut { title, due, .. }) => {
                            r.title = title;
                            r.state = RowState::Lent(due);
                        }
                        Ok(_) => r.state = RowState::Unconfirmed,
                        Err(e) => r.state = RowState::Refused(e),
                    }
                }
                self.signal(if ok { Signal::Success } else { Signal::Error }, fx);
            }
            (Pending::Checkin(item), result) => {
                let mut sig = Signal::Error;
                if let Some(r) = self.rows.iter_mut().find(|r| r.item == item) {
                    match result {
                        Ok(Reply::CheckedIn {
                            title,
                            transfer_to,
                            transfer_to_name,
                            ..
                        }) => {
                            r.title = title.unwrap_or_default();
                            r.state = match (transfer_to_name, transfer_to) {
                                (Some(name), _) => RowState::Transfer(name),
                                (None, Some(b)) => RowState::Transfer(b.to_string()),
                                (None, None) => RowState::Returned,
                            };
                            sig = if r.state == RowState::Returned {
                                Signal::Success
                            } else {
                                Signal::Attention
                            };
                        }
                        Ok(_) => r.state = RowState::Unconfirmed,
                        Err(e) => r.state = RowState::Refused(e),
                    }
                }
                self.signal(sig, fx);
            }
            (Pending::Renew(item), result) => {
                let ok = result.is_ok();
                if let Some(r) = self.rows.iter_mut().find(|r| r.item == item) {
                    match result {
                        Ok(Reply::Renewed { due, .. }) => {
                            r.due = Some(due);
                            r.overdue = false;
                            r.state = RowState::Renewed(due);
                        }
                        Ok(_) => r.state = RowState::Unconfirmed,
                        Err(e) => r.state = RowState::Refused(e),
                    }
                }
                self.signal(if ok { Signal::Success } else { Signal::Error }, fx);
            }
            (Pending::Loans, result) => {
                self.loading = false;
                match result {
                    Ok(Reply::Loans { loans }) => {
                        self.rows = loans.into_iter().map(loan_row).collect()
                    }
                    Ok(_) => {}
                    Err(e) => self.notify(Notice::Agent(e), now),
                }
            }
            (Pending::Search, result) => match result {
                Ok(Reply::SearchResults { hits }) => self.hits = Some(hits),
                Ok(_) => {}
                Err(e) => self.notify(Notice::Agent(e), now),
            },
            (Pending::Print, result) => {
                self.print = Some(match result {
                    Ok(_) => PrintOutcome::Printed,
                    Err(e) => PrintOutcome::Failed(e),
                });
                if self.screen == Screen::Receipt {
                    self.screen = Screen::Summary;
                }
            }
        }
    }

    fn identified(&mut self, result: Result<Reply, ApiError>, now: Instant, fx: &mut Vec<Effect>) {
        match result {
            Ok(Reply::Identified { session, patron }) => {
                self.pin.clear();
                self.pin_error = None;
                self.rows.clear();
                let staff = patron.staff;
                self.session = Some(Session {
                    id: session,
                    patron,
                });
                self.signal(Signal::Success, fx);
                if staff {
                    self.screen = Screen::Staff;
                    self.poll(now, fx);
                } else if self.purpose == Purpose::Borrow {
                    self.screen = Screen::Borrow;
                } else {
                    self.screen = Screen::Account;
                    self.loading = true;
                    let who = self.session_who();
                    self.request(Pending::Loans, RequestOp::Loans(who), fx);
                }
            }
            Ok(_) => self.notify(Notice::NotReached, now),
            Err(e) => match e.code {
                ErrorCode::PinRequired => {
                    self.pin.clear();
                    self.pin_error = None;
                    self.screen = Screen::Pin;
                    self.signal(Signal::Attention, fx);
                }
                ErrorCode::WrongPin => {
                    self.pin.clear();
                    self.pin_error = Some(e);
                    self.screen = Screen::Pin;
                    self.signal(Signal::Error, fx);
                }
                _ => {
                    self.credential = None;
                    self.pin.clear();
                    self.refusal = Some(e);
                    self.screen = Screen::Refused;
                    self.signal(Signal::Error, fx);
                }
            },
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

fn loan_row(l: LoanView) -> Row {
    Row {
        item: l.item,
        title: l.title,
        due: Some(l.due),
        overdue: l.overdue,
        state: RowState::Loan,
    }
}

/// The agent's text for an error, in `lang`.
pub fn error_text(e: &ApiError, lang: Lang) -> &str {
    match lang {
        Lang::Vi => &e.message_vi,
        Lang::En => &e.message,
    }
}

#[path = "machine_desk.rs"]
mod desk_glue;

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
