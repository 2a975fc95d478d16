//! The edge-agent's local API: JSON lines over a Unix socket.
//!
//! A client writes one [`Request`] per line and reads one [`Response`] per line, in order.
//! After `subscribe`, the connection also receives [`Push`] lines (`"push": …`) whenever a
//! card is tapped or a barcode scanned, interleaved with responses.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::digitise::{DigitiseStatus, JobSource, JobSummary, JobView, PageImageSize, PageInfo};
use crate::ids::{BranchId, DeviceId};
use crate::status::HardwareStatus;

/// The longest request line the agent reads.
pub const MAX_LINE: usize = 16 * 1024;

/// Who is asking: an open session, or credentials given inline.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Who {
    /// A session from `identify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// NFC card UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// One request line: `{"id": 1, "op": "checkout", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Echoed in the response.
    #[serde(default)]
    pub id: u64,
    /// The operation.
    #[serde(flatten)]
    pub op: RequestOp,
}

/// The operations, tagged by `op`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RequestOp {
    /// Identify a patron by card or NFC UID (and PIN); opens a session.
    Identify(Who),
    /// End a session.
    EndSession {
        /// The session.
        session: String,
    },
    /// Lend an item.
    Checkout {
        /// Who borrows.
        #[serde(flatten)]
        who: Who,
        /// Item barcode.
        item: String,
    },
    /// Take an item back. Needs no patron.
    Checkin {
        /// Item barcode.
        item: String,
    },
    /// Renew one loan.
    Renew {
        /// Whose loan.
        #[serde(flatten)]
        who: Who,
        /// Item barcode.
        item: String,
    },
    /// A patron's current loans.
    Loans(Who),
    /// Sync and device status.
    Status,
    /// Publish the outbox and catch up now.
    SyncNow,
    /// Enrol an unenrolled board with a one-time code (`edge-agent ctl enrol`).
    Enrol {
        /// The code, `RONG-...`.
        code: String,
    },
    /// Simulate a barcode scan on the simulated reader.
    SimScan {
        /// What the scanner read.
        code: String,
    },
    /// Simulate a card tap on the simulated NFC reader.
    SimTap {
        /// Card UID.
        uid: String,
    },
    /// Simulate lifting the card off the reader.
    SimRemove,
    /// Receive pushes on this connection from now on.
    Subscribe,
    /// Search the catalogue held on this device ("find a book"). Needs no patron.
    Search {
        /// What the reader typed; case and diacritics do not matter.
        q: String,
        /// Most hits wanted (default 20, at most 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Flash the lights and sound the buzzer for an outcome the reader should notice.
    Signal {
        /// Which pattern.
        signal: Signal,
    },
    /// Print a receipt of loans made in a session.
    PrintReceipt {
        /// The session whose loans these are.
        session: String,
        /// The item barcodes to list (the session's own loans).
        items: Vec<String>,
    },
    /// Set the simulated printer's state: `ok`, `paper_out`, `cover_open` or `offline`
    /// ("jam the printer" in the demo).
    SimPrinter {
        /// The state it reports from now on.
        state: SimPrinterState,
    },
    /// Start a digitisation job. Needs a staff session.
    JobStart {
        /// A staff session from `identify`.
        session: String,
        /// What is being digitised.
        source: JobSource,
    },
    /// The station's jobs, newest first, with their upload progress. Needs a staff session.
    JobList {
        /// A staff session.
        session: String,
    },
    /// One job with its pages. Needs a staff session.
    JobGet {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
    },
    /// Scan into an open job: one page from the flatbed, or every sheet in the feeder
    /// (`batch`). Each page is pushed (`page_scanned`) as it arrives, if the connection is
    /// subscribed; the reply is the job afterwards. A scanner error after some pages keeps
    /// those pages and fails with `scanner_error`.
    JobScan {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
        /// Scan the whole feeder instead of one page.
        #[serde(default)]
        batch: bool,
    },
    /// Scan one page again, replacing it in place.
    PageRescan {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
        /// The page's stable id.
        page: u32,
    },
    /// Delete a page.
    PageDelete {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
        /// The page's stable id.
        page: u32,
    },
    /// Move a page to a new position (from 1).
    PageMove {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
        /// The page's stable id.
        page: u32,
        /// Its new position.
        to: u32,
    },
    /// Rotate a page by quarter turns clockwise (negative: anticlockwise).
    PageRotate {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
        /// The page's stable id.
        page: u32,
        /// Quarter turns.
        quarter_turns: i8,
    },
    /// A JPEG of a page, base64 in the reply, for the staff screen.
    PageImage {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
        /// The page's stable id.
        page: u32,
        /// Which size.
        size: PageImageSize,
    },
    /// Package an open job as a bag and queue it for upload.
    JobFinish {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
    },
    /// Throw away an open job and its pages.
    JobDiscard {
        /// A staff session.
        session: String,
        /// The job.
        job: String,
    },
    /// Simulated document scanner, or SANE's `test` backend: jam after the next `sheets`
    /// sheets, open the cover, or empty or refill the feeder, for tests and the demo
    /// (`load` and `unplug` work on the simulator only).
    SimDocScanner {
        /// What to do: `jam`, `cover_open`, `empty`, `unplug`, `ok`, `load`.
        action: String,
        /// Sheets: for `jam`, how many feed first; for `load`, how many to load.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sheets: Option<u32>,
    },
}

/// A light-and-sound pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// It worked: green light, one short beep.
    Success,
    /// It did not: red light, two long beeps.
    Error,
    /// Look here: both lights, three short beeps.
    Attention,
}

/// The states a simulated printer can be put in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimPrinterState {
    /// Ready.
    Ok,
    /// No paper.
    PaperOut,
    /// Cover open (a jam is cleared by opening it).
    CoverOpen,
    /// Not answering.
    Offline,
}

/// A catalogue record found on the device, with where copies are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The record (MARC 001).
    pub record: String,
    /// Title.
    pub title: String,
    /// Main author.
    pub author: String,
    /// Year of publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    /// Call number of the copies here (or of the record).
    pub call_number: String,
    /// Shelving location of the copies here, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shelf: Option<String>,
    /// Copies at this branch that can be borrowed now.
    pub available_here: u32,
    /// Copies at this branch.
    pub total_here: u32,
    /// Other branches that hold copies.
    #[serde(default)]
    pub elsewhere: Vec<BranchAvailability>,
}

/// Copies of a record at one branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchAvailability {
    /// The branch.
    pub branch: BranchId,
    /// Its name.
    pub name: String,
    /// Copies that can be borrowed now.
    pub available: u32,
    /// Copies held.
    pub total: u32,
}

/// One response line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// The outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Success with a result, or failure with an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outcome {
    /// It worked.
    Ok {
        /// Always true.
        ok: True,
        /// What came of it.
        result: Reply,
    },
    /// It did not.
    Err {
        /// Always false.
        ok: False,
        /// Why.
        error: ApiError,
    },
}

macro_rules! bool_tag {
    ($name:ident, $val:expr) => {
        /// A boolean that serialises as one fixed value, to tag [`Outcome`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bool($val)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if bool::deserialize(d)? == $val {
                    Ok($name)
                } else {
                    Err(serde::de::Error::custom("wrong tag"))
                }
            }
        }
    };
}
bool_tag!(True, true);
bool_tag!(False, false);

impl Response {
    /// A success.
    pub fn ok(id: u64, result: Reply) -> Self {
        Self {
            id,
            outcome: Outcome::Ok { ok: True, result },
        }
    }

    /// A failure.
    pub fn err(id: u64, error: ApiError) -> Self {
        Self {
            id,
            outcome: Outcome::Err { ok: False, error },
        }
    }
}

/// What a patron sees of themself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatronView {
    /// Card number.
    pub card: String,
    /// Display name.
    pub name: String,
    /// Category id.
    pub category: String,
    /// Current loans.
    pub loans: u32,
    /// Most loans allowed at once.
    pub max_loans: u32,
    /// Whether the card opens the staff menu.
    pub staff: bool,
}

/// A loan as shown to its patron.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoanView {
    /// Item barcode.
    pub item: String,
    /// Title.
    pub title: String,
    /// Due date.
    pub due: NaiveDate,
    /// Past due today.
    pub overdue: bool,
    /// Renewals so far.
    pub renewals: u32,
}

/// The result of a successful request, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// A session is open.
    Identified {
        /// Use it in later requests.
        session: String,
        /// The patron.
        patron: PatronView,
    },
    /// The item is lent.
    CheckedOut {
        /// Item barcode.
        item: String,
        /// Title.
        title: String,
        /// Due date.
        due: NaiveDate,
    },
    /// The item is back.
    CheckedIn {
        /// Item barcode.
        item: String,
        /// Title, if the item is known here.
        title: Option<String>,
        /// Whether it was on loan.
        was_on_loan: bool,
        /// Set when the item belongs elsewhere: the branch to send it to.
        transfer_to: Option<BranchId>,
        /// That branch's name.
        transfer_to_name: Option<String>,
    },
    /// The loan is renewed.
    Renewed {
        /// Item barcode.
        item: String,
        /// Title.
        title: String,
        /// New due date.
        due: NaiveDate,
        /// Renewals so far.
        renewals: u32,
    },
    /// A patron's loans.
    Loans {
        /// The loans, soonest due first.
        loans: Vec<LoanView>,
    },
    /// Sync state.
    Status(AgentStatus),
    /// Search results, best first.
    SearchResults {
        /// The hits.
        hits: Vec<SearchHit>,
    },
    /// A digitisation job.
    Job(Box<JobView>),
    /// The station's jobs.
    Jobs {
        /// Newest first.
        jobs: Vec<JobSummary>,
    },
    /// A page picture.
    PageImage {
        /// The JPEG, base64.
        jpeg_base64: String,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// Done, nothing to report.
    Done,
}

/// The agent's sync state, for `ctl status` and the kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// This device.
    pub device: DeviceId,
    /// Its branch.
    pub branch: BranchId,
    /// Connected to the broker.
    pub online: bool,
    /// Events not yet acked.
    pub outbox_depth: u64,
    /// Age of the oldest unacked event, seconds.
    pub oldest_unsynced_age_s: Option<u64>,
    /// Highest seq written.
    pub last_seq: u64,
    /// Highest seq acked.
    pub acked_through: u64,
    /// Reference-data version held.
    pub catalogue_version: u64,
    /// Payloads refused since start, by reason.
    pub rejected_messages: u64,
    /// The last epoch central was seen in (it changes when central is restored from a
    /// backup); none before the first ack or delta from a central that sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub central_epoch: Option<uuid::Uuid>,
    /// Each piece of hardware by name (`barcode`, `nfc`, `printer`, ...), so a kiosk can
    /// say what is missing.
    #[serde(default)]
    pub hardware: BTreeMap<String, HardwareStatus>,
    /// The digitisation queue, on a station with a document scanner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digitise: Option<DigitiseStatus>,
    /// Whether the board is enrolled with central (until it is, it cannot sync).
    #[serde(default)]
    pub identity: IdentityState,
}

/// A board's enrolment with central.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityState {
    /// Enrolled: it has its key and central's.
    #[default]
    Enrolled,
    /// Not yet: it waits for a good enrolment code.
    Unenrolled,
}

/// Things the hardware did, pushed to subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "push", rename_all = "snake_case")]
pub enum Push {
    /// A barcode was read.
    Barcode {
        /// The code.
        code: String,
    },
    /// A card arrived on the reader.
    CardPresent {
        /// Its UID.
        uid: String,
    },
    /// The card left the reader.
    CardRemoved,
    /// Central asked to show a message.
    Message {
        /// The text.
        text: String,
        /// For how long.
        seconds: u32,
    },
    /// A page arrived from the document scanner.
    PageScanned {
        /// The job.
        job: String,
        /// The page.
        page: PageInfo,
    },
}

/// Why a request failed: a stable code plus text in English and Vietnamese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// English.
    pub message: String,
    /// Vietnamese.
    pub message_vi: String,
}

/// Stable error codes that clients branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request line was not understood.
    BadRequest,
    /// No patron has that card or UID.
    UnknownPatron,
    /// No item has that barcode.
    UnknownItem,
    /// The patron is blocked.
    PatronBlocked,
    /// The card has expired.
    CardExpired,
    /// A PIN is needed.
    PinRequired,
    /// The PIN was wrong.
    WrongPin,
    /// Too many wrong PINs.
    PinLocked,
    /// Offline, on a PIN central has not checked yet: no more loans until the link is back
    /// (or the card is tapped).
    OfflinePinLimit,
    /// The session is unknown or has expired.
    NoSession,
    /// The patron holds as many loans as allowed.
    LoanLimit,
    /// The patron already has this item.
    AlreadyOnLoan,
    /// The item may not be lent.
    NotForLoan,
    /// The item is not on loan to this patron.
    NotOnLoan,
    /// No more renewals allowed.
    RenewLimit,
    /// Overdue items cannot be renewed.
    Overdue,
    /// The simulated device is not configured.
    NoSimulator,
    /// The receipt printer cannot print now (missing, out of paper, cover open).
    PrinterUnavailable,
    /// Only staff may do this.
    StaffOnly,
    /// No digitisation job (or page) by that id.
    UnknownJob,
    /// The job is packaged and can no longer change.
    JobClosed,
    /// The document scanner failed (jam, no paper, cover open, missing); the staff
    /// message says which.
    ScannerError,
    /// The data disk is too full to scan; nothing saved is lost.
    DiskFull,
    /// Something went wrong inside the agent.
    Internal,
}

impl ApiError {
    /// An error with the standard texts for its code, plus a detail for the English one.
    pub fn new(code: ErrorCode, detail: impl AsRef<str>) -> Self {
        let (en, vi) = code.texts();
        let detail = detail.as_ref();
        let message = if detail.is_empty() {
            en.to_owned()
        } else {
            format!("{en}: {detail}")
        };
        Self {
            code,
            message,
            message_vi: vi.to_owned(),
        }
    }
}

impl ErrorCode {
    /// The standard English and Vietnamese texts, written for readers.
    pub fn texts(self) -> (&'static str, &'static str) {
        use ErrorCode::*;
        match self {
            BadRequest => ("Bad request", "Yêu cầu không hợp lệ"),
            UnknownPatron => (
                "This card is not known. Please see the librarian at the desk",
                "Không nhận ra thẻ này. Xin mời đến quầy thủ thư",
            ),
            UnknownItem => (
                "This item is not known. Please see the librarian at the desk",
                "Không nhận ra cuốn sách này. Xin mời đến quầy thủ thư",
            ),
            PatronBlocked => (
                "This card is blocked. Please see the librarian at the desk",
                "Thẻ này đang bị khóa. Xin mời đến quầy thủ thư",
            ),
            CardExpired => (
                "This card has expired. Please see the librarian at the desk to renew it",
                "Thẻ đã hết hạn. Xin mời đến quầy thủ thư để gia hạn thẻ",
            ),
            PinRequired => ("Please enter your PIN", "Xin mời nhập mã PIN"),
            WrongPin => ("Wrong PIN. Please try again", "Sai mã PIN. Xin thử lại"),
            PinLocked => (
                "Too many wrong PINs. Please see the librarian at the desk",
                "Nhập sai mã PIN quá nhiều lần. Xin mời đến quầy thủ thư",
            ),
            OfflinePinLimit => (
                "The library network is down, so your PIN cannot be checked now and no more books can be lent on it. Please try again later, or see the librarian at the desk",
                "Đang mất mạng nên chưa kiểm tra được mã PIN, không mượn thêm sách được. Vui lòng thử lại sau hoặc đến quầy thủ thư",
            ),
            NoSession => (
                "Your session has ended. Please tap your card again",
                "Phiên đã kết thúc. Xin mời quẹt thẻ lại",
            ),
            LoanLimit => (
                "You have borrowed as many items as allowed",
                "Bạn đã mượn đủ số sách được phép",
            ),
            AlreadyOnLoan => (
                "You already have this item on loan",
                "Bạn đang mượn cuốn sách này rồi",
            ),
            NotForLoan => (
                "This item cannot be borrowed. Please see the librarian at the desk",
                "Cuốn sách này không được cho mượn. Xin mời đến quầy thủ thư",
            ),
            NotOnLoan => (
                "This item is not on loan to you",
                "Bạn không mượn cuốn sách này",
            ),
            RenewLimit => (
                "This item cannot be renewed again",
                "Cuốn sách này đã hết lượt gia hạn",
            ),
            Overdue => (
                "This item is overdue and cannot be renewed. Please return it",
                "Sách đã quá hạn nên không gia hạn được. Xin mời trả sách",
            ),
            NoSimulator => (
                "That device is not simulated on this agent",
                "Thiết bị này không chạy giả lập",
            ),
            PrinterUnavailable => (
                "The printer is not working. Your loans are saved; please note the due dates on the screen",
                "Máy in đang không hoạt động. Sách đã được ghi mượn; xin ghi lại ngày hẹn trả trên màn hình",
            ),
            StaffOnly => (
                "Only library staff can do this",
                "Chỉ nhân viên thư viện mới làm được việc này",
            ),
            UnknownJob => (
                "No such scanning job or page",
                "Không có công việc quét hoặc trang này",
            ),
            JobClosed => (
                "This job is packaged and can no longer change",
                "Công việc này đã đóng gói, không thay đổi được nữa",
            ),
            ScannerError => (
                "The document scanner has a problem",
                "Máy quét tài liệu đang gặp sự cố",
            ),
            DiskFull => (
                "The disk is almost full, so scanning has stopped. Pages already scanned are kept",
                "Ổ đĩa gần đầy nên đã dừng quét. Các trang đã quét vẫn được giữ",
            ),
            Internal => (
                "Something went wrong. Please see the librarian at the desk",
                "Đã có lỗi. Xin mời đến quầy thủ thư",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let r: Request = serde_json::from_str(
            r#"{"id":3,"op":"checkout","card":"P1","pin":"1234","item":"KT1"}"#,
        )
        .unwrap();
        assert_eq!(
            r.op,
            RequestOp::Checkout {
                who: Who {
                    card: Some("P1".into()),
                    pin: Some("1234".into()),
                    ..Who::default()
                },
                item: "KT1".into()
            }
        );
        let r: Request = serde_json::from_str(r#"{"op":"status"}"#).unwrap();
        assert_eq!(
            r,
            Request {
                id: 0,
                op: RequestOp::Status
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"fly"}"#).is_err());
    }

    #[test]
    fn response_lines() {
        let ok = Response::ok(1, Reply::Done);
        let text = serde_json::to_string(&ok).unwrap();
        assert_eq!(text, r#"{"id":1,"ok":true,"result":{"type":"done"}}"#);
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), ok);
        let err = Response::err(2, ApiError::new(ErrorCode::LoanLimit, ""));
        let text = serde_json::to_string(&err).unwrap();
        assert!(text.contains(r#""ok":false"#) && text.contains(r#""code":"loan_limit""#));
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), err);
    }
}
