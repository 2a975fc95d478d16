//! The machine's vocabulary: screens, rows, notices, and the inputs and effects that go
//! in and out of [`Kiosk::handle`](super::Kiosk::handle).

use chrono::NaiveDate;
use rong_protocol::api::{ApiError, Reply, RequestOp};
use rong_protocol::digitise::PageInfo;

use super::desk::Field;
use crate::config::Lang;
use crate::marks::Mark;
use crate::wedge::ScanProblem;

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
