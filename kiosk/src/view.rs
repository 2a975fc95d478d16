//! What the screen shows, computed from the state machine as plain data so it can be
//! compared (only changes reach Slint) and tested without a window.

use rong_protocol::api::{ApiError, SearchHit};
use rong_protocol::digitise::{JobState, JobSummary, PageCheck, PageInfo};
use rong_protocol::status::{HardwareStatus, Health};

use crate::config::Lang;
use crate::machine::desk::{Busy, Desk};
use crate::machine::{error_text, Kiosk, Notice, PrintOutcome, RowState, Screen};
use crate::wedge::ScanProblem;

/// One list line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowView {
    /// Item barcode.
    pub item: String,
    /// Title.
    pub title: String,
    /// The state code the UI understands (see `theme.slint`).
    pub state: i32,
    /// Agent text or branch name.
    pub text: String,
    /// Due date as text.
    pub due: String,
    /// Past due.
    pub overdue: bool,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitView {
    /// The record (MARC 001).
    pub record: String,
    /// Title.
    pub title: String,
    /// Author.
    pub author: String,
    /// Call number.
    pub call_number: String,
    /// Shelf, or empty.
    pub shelf: String,
    /// Copies available here.
    pub available_here: i32,
    /// Copies here.
    pub total_here: i32,
    /// "Đắk Tô (2), Đắk Hà (1)": branches with copies available.
    pub elsewhere: String,
}

/// The staff status panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// Device id.
    pub device: String,
    /// Branch id.
    pub branch: String,
    /// Broker link up.
    pub online: bool,
    /// Unsent events.
    pub outbox: i32,
    /// Catalogue version.
    pub catalogue: String,
    /// (name, state, ok) per device.
    pub hardware: Vec<(String, String, bool)>,
}

/// Everything on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Which screen.
    pub screen: Screen,
    /// The out-of-service cover.
    pub out_of_service: bool,
    /// Not offline.
    pub online: bool,
    /// Larger text.
    pub large_text: bool,
    /// Language.
    pub lang: Lang,
    /// Patron's name.
    pub patron_name: String,
    /// The list.
    pub rows: Vec<RowView>,
    /// Waiting for item answers.
    pub busy: bool,
    /// Loading loans.
    pub loading: bool,
    /// Checking a card.
    pub identifying: bool,
    /// PIN digits typed.
    pub pin_length: i32,
    /// After a wrong PIN.
    pub pin_error: String,
    /// The refusal's code (snake case).
    pub refusal_code: String,
    /// The refusal's text.
    pub refusal_text: String,
    /// Notice kind (see `app.slint`), 0 for none.
    pub notice_kind: i32,
    /// Notice text, for agent texts and messages.
    pub notice_text: String,
    /// Warning seconds, 0 for none.
    pub warning: i32,
    /// Search text.
    pub query: String,
    /// Results are shown.
    pub searched: bool,
    /// The results.
    pub hits: Vec<HitView>,
    /// Receipt state (see `theme.slint`).
    pub print_state: i32,
    /// Printer failure text.
    pub print_text: String,
    /// Staff status.
    pub status: Option<StatusView>,
    /// The staff scanning desk.
    pub desk: DeskView,
}

/// One job in the staff job list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRowView {
    /// The job id.
    pub job: String,
    /// Its title.
    pub title: String,
    /// 0 open, 1 queued, 2 sent (central is checking), 3 safe at central, 4 refused.
    pub state: i32,
    /// Pages scanned.
    pub pages: i32,
    /// "1.2 / 3.4 MB" uploaded.
    pub progress: String,
    /// Uploaded, per thousand.
    pub permille: i32,
    /// Why central refused it, or central's document id when safe.
    pub detail: String,
}

/// One page in the page strip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    /// Stable id.
    pub page: i32,
    /// Position from 1.
    pub position: i32,
    /// Tapped.
    pub selected: bool,
    /// Check: blank.
    pub blank: bool,
    /// Check: too dark.
    pub dark: bool,
    /// Check: too light.
    pub light: bool,
    /// Check: skewed, degrees as text ("2.5"), or empty.
    pub skew: String,
    /// The thumbnail's revision, 0 while there is none.
    pub thumb_rev: i32,
}

/// The staff scanning desk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeskView {
    /// The job list arrived.
    pub jobs_loaded: bool,
    /// The job list.
    pub jobs: Vec<JobRowView>,
    /// The open job's title.
    pub job_title: String,
    /// Its pages in order.
    pub pages: Vec<PageView>,
    /// 0 idle, 1 one page, 2 feeder batch, 3 rescanning a page.
    pub busy: i32,
    /// Page edits and finishing are allowed.
    pub can_edit: bool,
    /// A page is selected.
    pub has_selection: bool,
    /// The scanner problem's code (`scanner_error`, `disk_full`), or empty.
    pub problem_code: String,
    /// The agent's text for it.
    pub problem_text: String,
    /// Form fields, in the order title, creator, date, subject, language, rights.
    pub form: [String; 6],
    /// The field the keyboard types into.
    pub field: String,
    /// The next letter is a capital.
    pub shift: bool,
    /// Start was tapped without a title.
    pub title_missing: bool,
    /// Packaging or throwing away.
    pub closing: bool,
}

fn mb(bytes: u64) -> String {
    // Tenths of a megabyte, by integer arithmetic.
    let tenths = bytes.saturating_add(50_000) / 100_000;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn job_row(j: &JobSummary) -> JobRowView {
    let (state, detail) = match &j.state {
        JobState::Open => (0, String::new()),
        JobState::Queued => (1, String::new()),
        JobState::Sent => (2, String::new()),
        JobState::Safe { document } => (3, document.clone()),
        JobState::Refused { reason } => (4, reason.clone()),
    };
    let permille = clamp(
        j.bytes_sent
            .min(j.bytes_total)
            .saturating_mul(1000)
            .checked_div(j.bytes_total)
            .unwrap_or(0),
    );
    JobRowView {
        job: j.job.clone(),
        title: j.title.clone(),
        state,
        pages: clamp(j.pages),
        progress: format!("{} / {} MB", mb(j.bytes_sent), mb(j.bytes_total)),
        permille,
        detail,
    }
}

fn page_view(d: &Desk, p: &PageInfo) -> PageView {
    let mut v = PageView {
        page: clamp(p.page),
        position: clamp(p.position),
        selected: d.selected == Some(p.page),
        blank: false,
        dark: false,
        light: false,
        skew: String::new(),
        thumb_rev: d.thumbs.get(&p.page).map(|t| clamp(t.rev)).unwrap_or(0),
    };
    for c in &p.checks {
        match c {
            PageCheck::Blank => v.blank = true,
            PageCheck::TooDark { .. } => v.dark = true,
            PageCheck::TooLight { .. } => v.light = true,
            PageCheck::Skewed { degrees } => v.skew = format!("{degrees:.1}"),
        }
    }
    v
}

impl DeskView {
    /// The desk as the screens show it.
    pub fn of(d: &Desk, lang: Lang) -> DeskView {
        let f = &d.form;
        DeskView {
            jobs_loaded: d.jobs.is_some(),
            jobs: d.jobs.iter().flatten().map(job_row).collect(),
            job_title: d
                .job
                .as_ref()
                .map(|j| j.summary.title.clone())
                .unwrap_or_default(),
            pages: d
                .job
                .iter()
                .flat_map(|j| j.pages.iter())
                .map(|p| page_view(d, p))
                .collect(),
            busy: match d.busy {
                None => 0,
                Some(Busy::One) => 1,
                Some(Busy::Batch) => 2,
                Some(Busy::Rescan(_)) => 3,
            },
            can_edit: d.can_edit(),
            has_selection: d.selected.is_some(),
            problem_code: code_name(d.problem.as_ref()),
            problem_text: text_of(d.problem.as_ref(), lang),
            form: [
                f.title.clone(),
                f.creator.clone(),
                f.date.clone(),
                f.subject.clone(),
                f.language.clone(),
                f.rights.clone(),
            ],
            field: d.field.map(|f| f.name().to_owned()).unwrap_or_default(),
            shift: d.shift,
            title_missing: d.title_missing,
            closing: d.closing,
        }
    }
}

/// Dates as Vietnamese readers write them, in both languages.
pub fn date(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The wire name of an agent error's code (`not_for_loan`), for the screens to match on.
fn code_name(e: Option<&ApiError>) -> String {
    e.and_then(|e| serde_json::to_value(e.code).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// An agent error's words in `lang`.
fn text_of(e: Option<&ApiError>, lang: Lang) -> String {
    e.map(|e| error_text(e, lang).to_owned())
        .unwrap_or_default()
}

fn clamp(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

impl View {
    /// The view of `k`.
    pub fn of(k: &Kiosk) -> View {
        let lang = k.lang;
        let mut rows: Vec<RowView> = k
            .rows
            .iter()
            .filter(|r| k.screen != Screen::Summary || matches!(r.state, RowState::Lent(_)))
            .map(|r| {
                let (state, text, due) = match &r.state {
                    RowState::Pending => (0, String::new(), r.due),
                    RowState::Lent(d) => (1, String::new(), Some(*d)),
                    RowState::Returned => (2, String::new(), None),
                    RowState::Transfer(b) => (3, b.clone(), None),
                    RowState::Loan => (4, String::new(), r.due),
                    RowState::Renewed(d) => (5, String::new(), Some(*d)),
                    RowState::Refused(e) => (6, error_text(e, lang).to_owned(), r.due),
                    RowState::Unconfirmed => (7, String::new(), r.due),
                };
                RowView {
                    item: r.item.clone(),
                    title: r.title.clone(),
                    state,
                    text,
                    due: due.map(date).unwrap_or_default(),
                    overdue: r.overdue,
                }
            })
            .collect();
        if matches!(k.screen, Screen::Borrow | Screen::Return) {
            // The newest scan on top, where the reader looks, however long the list.
            rows.reverse();
        }
        let (notice_kind, notice_text) = match k.notice.as_ref().map(|n| &n.0) {
            None => (0, String::new()),
            Some(Notice::BadScan(ScanProblem::Garbage)) => (1, String::new()),
            Some(Notice::BadScan(ScanProblem::TooLong)) => (2, String::new()),
            Some(Notice::BadScan(ScanProblem::Incomplete)) => (3, String::new()),
            Some(Notice::OtherCard) => (4, String::new()),
            Some(Notice::NoCardNeeded) => (5, String::new()),
            Some(Notice::ChooseFirst) => (6, String::new()),
            Some(Notice::AlreadyScanned) => (7, String::new()),
            Some(Notice::NotReached) => (8, String::new()),
            Some(Notice::Agent(e)) => (9, error_text(e, lang).to_owned()),
            Some(Notice::Message(t)) => (10, t.clone()),
            Some(Notice::Synced) => (11, String::new()),
        };
        let (print_state, print_text) = match &k.print {
            None => (0, String::new()),
            Some(PrintOutcome::Printed) => (1, String::new()),
            Some(PrintOutcome::NoReceipt) => (2, String::new()),
            Some(PrintOutcome::Printing) => (3, String::new()),
            Some(PrintOutcome::Failed(e)) => (4, error_text(e, lang).to_owned()),
            Some(PrintOutcome::Unconfirmed) => (5, String::new()),
        };
        View {
            screen: k.screen,
            out_of_service: k.out_of_service(),
            online: k.online,
            large_text: k.large_text,
            lang,
            patron_name: k
                .session
                .as_ref()
                .map(|s| s.patron.name.clone())
                .unwrap_or_default(),
            rows,
            busy: k.busy(),
            loading: k.loading,
            identifying: k.identifying,
            pin_length: clamp(k.pin.len()),
            pin_error: text_of(k.pin_error.as_ref(), lang),
            refusal_code: code_name(k.refusal.as_ref()),
            refusal_text: text_of(k.refusal.as_ref(), lang),
            notice_kind,
            notice_text,
            warning: k.warning.map(clamp).unwrap_or(0),
            query: k.query.clone(),
            searched: k.hits.is_some(),
            hits: k.hits.iter().flatten().map(hit).collect(),
            print_state,
            print_text,
            status: k.status.as_ref().map(|s| StatusView {
                device: s.device.to_string(),
                branch: s.branch.to_string(),
                online: s.online,
                outbox: clamp(s.outbox_depth),
                catalogue: s.catalogue_version.to_string(),
                hardware: s
                    .hardware
                    .iter()
                    .map(|(name, h)| (name.clone(), health(h), h.health == Health::Ok))
                    .collect(),
            }),
            desk: DeskView::of(&k.desk, lang),
        }
    }
}

fn health(h: &HardwareStatus) -> String {
    let state = match h.health {
        Health::Ok => "ok",
        Health::Missing => "missing",
        Health::Error => "error",
    };
    match &h.detail {
        Some(d) => format!("{state} ({d})"),
        None => state.to_owned(),
    }
}

fn hit(h: &SearchHit) -> HitView {
    HitView {
        record: h.record.clone(),
        title: h.title.clone(),
        author: h.author.clone(),
        call_number: h.call_number.clone(),
        shelf: h.shelf.clone().unwrap_or_default(),
        available_here: clamp(h.available_here),
        total_here: clamp(h.total_here),
        elsewhere: h
            .elsewhere
            .iter()
            .filter(|b| b.available > 0)
            .map(|b| format!("{} ({})", b.name, b.available))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
