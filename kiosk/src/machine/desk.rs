//! The staff scanning desk: digitisation jobs as the kiosk's staff screens see them. A pure
//! part of the state machine ([`crate::machine`]): it turns touches and the agent's
//! replies into its own state and local API requests, and tells the kiosk which screen
//! follows.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use base64::Engine;
use rong_protocol::api::{ApiError, ErrorCode, Reply, RequestOp};
use rong_protocol::digitise::{
    DublinCore, JobSource, JobState, JobSummary, JobView, PageImageSize, PageInfo,
};

use crate::marks::{apply_last, Mark};

/// A Dublin Core field of the "describe a document" form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Title (required).
    Title,
    /// Creator.
    Creator,
    /// Date.
    Date,
    /// Subject.
    Subject,
    /// Language (ISO 639, `vie` by default).
    Language,
    /// Rights.
    Rights,
}

impl Field {
    /// The field by the name the UI uses.
    pub fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "title" => Field::Title,
            "creator" => Field::Creator,
            "date" => Field::Date,
            "subject" => Field::Subject,
            "language" => Field::Language,
            "rights" => Field::Rights,
            _ => return None,
        })
    }

    /// The name the UI uses.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Creator => "creator",
            Field::Date => "date",
            Field::Subject => "subject",
            Field::Language => "language",
            Field::Rights => "rights",
        }
    }
}

/// The form's text, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    /// Title.
    pub title: String,
    /// Creator.
    pub creator: String,
    /// Date.
    pub date: String,
    /// Subject.
    pub subject: String,
    /// Language.
    pub language: String,
    /// Rights.
    pub rights: String,
}

impl Form {
    fn get_mut(&mut self, f: Field) -> &mut String {
        match f {
            Field::Title => &mut self.title,
            Field::Creator => &mut self.creator,
            Field::Date => &mut self.date,
            Field::Subject => &mut self.subject,
            Field::Language => &mut self.language,
            Field::Rights => &mut self.rights,
        }
    }

    /// The Dublin Core record, or `None` while the title is empty.
    pub fn dublin_core(&self) -> Option<DublinCore> {
        let opt = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        Some(DublinCore {
            title: opt(&self.title)?,
            creator: opt(&self.creator),
            date: opt(&self.date),
            subject: opt(&self.subject),
            language: opt(&self.language),
            rights: opt(&self.rights),
        })
    }
}

/// What the scanner is doing for this desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// One page from the flatbed.
    One,
    /// Every sheet in the feeder.
    Batch,
    /// One page again.
    Rescan(u32),
}

/// A desk request waiting for its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskPending {
    /// `job_list`.
    List,
    /// `job_start`.
    Start,
    /// `job_get`.
    Get,
    /// `job_scan` or `page_rescan`.
    Scan,
    /// A page edit (delete, move, rotate).
    Edit,
    /// A thumbnail of a page.
    Thumb(u32),
    /// `job_finish` or `job_discard`.
    Close,
}

/// What the kiosk does after a desk reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Stay.
    Stay,
    /// A job is open: show its pages.
    Pages,
    /// The job is finished or thrown away: show the job list.
    Jobs,
    /// Show the agent's refusal as a notice.
    Notice(ApiError),
    /// The agent did not answer.
    NotReached,
}

/// A page's thumbnail JPEG and a revision that changes whenever it is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumb {
    /// The JPEG bytes.
    pub jpeg: Vec<u8>,
    /// Changes with every new picture.
    pub rev: u32,
}

/// The requests a desk step makes: what each waits for, and the operation.
pub type Out = Vec<(DeskPending, RequestOp)>;

/// The desk's state.
#[derive(Debug, Default)]
pub struct Desk {
    /// The station's jobs; `None` until the agent answers.
    pub jobs: Option<Vec<JobSummary>>,
    /// The job being scanned.
    pub job: Option<JobView>,
    /// Thumbnails by stable page id.
    pub thumbs: HashMap<u32, Thumb>,
    asked: HashSet<u32>,
    /// The page the staff member tapped.
    pub selected: Option<u32>,
    /// A scan in progress.
    pub busy: Option<Busy>,
    /// The last scanner problem (jam, cover open, disk full), shown until dismissed or the
    /// next scan.
    pub problem: Option<ApiError>,
    /// The job is being packaged or thrown away.
    pub closing: bool,
    /// The describe form.
    pub form: Form,
    /// The field the keyboard types into.
    pub field: Option<Field>,
    /// The next letter is upper case.
    pub shift: bool,
    /// Start was tapped with no title.
    pub title_missing: bool,
    /// When the job list was last asked for.
    pub listed_at: Option<Instant>,
    rev: u32,
}

/// The longest text of one form field.
const MAX_FIELD: usize = 200;

impl Desk {
    /// Asks for the job list.
    pub fn list(&mut self, session: &str, now: Instant, out: &mut Out) {
        self.listed_at = Some(now);
        out.push((
            DeskPending::List,
            RequestOp::JobList {
                session: session.to_owned(),
            },
        ));
    }

    /// A blank describe form, typing into the title, in Vietnamese by default.
    pub fn new_form(&mut self) {
        self.form = Form {
            language: "vie".into(),
            ..Form::default()
        };
        self.field = Some(Field::Title);
        self.shift = true;
        self.title_missing = false;
    }

    /// Chooses the field the keyboard types into.
    pub fn choose(&mut self, f: Field) {
        self.field = Some(f);
        self.shift = self.form.get_mut(f).is_empty() && f != Field::Language;
    }

    /// Types a character into the chosen field.
    pub fn type_char(&mut self, c: char) {
        let Some(f) = self.field else { return };
        let shift = std::mem::take(&mut self.shift);
        let text = self.form.get_mut(f);
        if text.chars().count() >= MAX_FIELD {
            return;
        }
        // The on-screen keys are capitals; staff get lower case unless shifted.
        if c.is_alphabetic() && !shift {
            text.extend(c.to_lowercase());
        } else {
            text.push(c);
        }
        if f == Field::Title {
            self.title_missing = false;
        }
    }

    /// Deletes the last character of the chosen field.
    pub fn back(&mut self) {
        if let Some(f) = self.field {
            self.form.get_mut(f).pop();
        }
    }

    /// Applies a Vietnamese mark to the last letter of the chosen field.
    pub fn mark(&mut self, m: Mark) {
        if let Some(f) = self.field {
            apply_last(self.form.get_mut(f), m);
        }
    }

    /// Starts a job for a catalogue record.
    pub fn start_record(&mut self, session: &str, record: String, out: &mut Out) {
        out.push((
            DeskPending::Start,
            RequestOp::JobStart {
                session: session.to_owned(),
                source: JobSource::Record { record },
            },
        ));
    }

    /// Starts a job for the described document; false (nothing sent) without a title.
    pub fn start_described(&mut self, session: &str, out: &mut Out) -> bool {
        let Some(dc) = self.form.dublin_core() else {
            self.title_missing = true;
            self.field = Some(Field::Title);
            return false;
        };
        out.push((
            DeskPending::Start,
            RequestOp::JobStart {
                session: session.to_owned(),
                source: JobSource::Described(dc),
            },
        ));
        true
    }

    /// Opens a job from the list.
    pub fn open(&mut self, session: &str, job: String, out: &mut Out) {
        self.forget_job();
        out.push((
            DeskPending::Get,
            RequestOp::JobGet {
                session: session.to_owned(),
                job,
            },
        ));
    }

    fn forget_job(&mut self) {
        self.job = None;
        self.thumbs.clear();
        self.asked.clear();
        self.selected = None;
        self.busy = None;
        self.problem = None;
        self.closing = false;
    }

    fn open_job(&self) -> Option<&JobView> {
        self.job
            .as_ref()
            .filter(|j| j.summary.state == JobState::Open)
    }

    /// Whether page edits and finishing are allowed now.
    pub fn can_edit(&self) -> bool {
        self.open_job().is_some() && self.busy.is_none() && !self.closing
    }

    /// Scans one page, or the whole feeder.
    pub fn scan(&mut self, session: &str, batch: bool, out: &mut Out) {
        if !self.can_edit() {
            return;
        }
        let Some(job) = self.open_job().map(|j| j.summary.job.clone()) else {
            return;
        };
        self.busy = Some(if batch { Busy::Batch } else { Busy::One });
        self.problem = None;
        out.push((
            DeskPending::Scan,
            RequestOp::JobScan {
                session: session.to_owned(),
                job,
                batch,
            },
        ));
    }

    /// Selects a page (or unselects it when tapped again).
    pub fn select(&mut self, page: u32) {
        self.selected = (self.selected != Some(page)).then_some(page);
    }

    /// The selected page, when the job may be edited now: its job, the page, and how many
    /// pages the job has.
    fn editable_page(&self) -> Option<(String, &PageInfo, usize)> {
        if !self.can_edit() {
            return None;
        }
        let job = self.open_job()?;
        let p = self.selected?;
        let page = job.pages.iter().find(|x| x.page == p)?;
        Some((job.summary.job.clone(), page, job.pages.len()))
    }

    /// Scans the selected page again.
    pub fn rescan(&mut self, session: &str, out: &mut Out) {
        let Some((job, page, _)) = self.editable_page() else {
            return;
        };
        let page = page.page;
        self.busy = Some(Busy::Rescan(page));
        self.problem = None;
        self.stale(page);
        out.push((
            DeskPending::Scan,
            RequestOp::PageRescan {
                session: session.to_owned(),
                job,
                page,
            },
        ));
    }

    /// Deletes the selected page.
    pub fn delete(&mut self, session: &str, out: &mut Out) {
        let Some((job, page, _)) = self.editable_page() else {
            return;
        };
        let page = page.page;
        self.selected = None;
        out.push((
            DeskPending::Edit,
            RequestOp::PageDelete {
                session: session.to_owned(),
                job,
                page,
            },
        ));
    }

    /// Moves the selected page one place left (`-1`) or right (`1`).
    pub fn shift_page(&mut self, session: &str, by: i64, out: &mut Out) {
        let Some((job, page, len)) = self.editable_page() else {
            return;
        };
        let to = i64::from(page.position) + by;
        let Ok(to) = u32::try_from(to) else { return };
        if to < 1 || to as usize > len {
            return;
        }
        out.push((
            DeskPending::Edit,
            RequestOp::PageMove {
                session: session.to_owned(),
                job,
                page: page.page,
                to,
            },
        ));
    }

    /// Rotates the selected page by quarter turns clockwise.
    pub fn rotate(&mut self, session: &str, quarter_turns: i8, out: &mut Out) {
        let Some((job, page, _)) = self.editable_page() else {
            return;
        };
        let page = page.page;
        self.stale(page);
        out.push((
            DeskPending::Edit,
            RequestOp::PageRotate {
                session: session.to_owned(),
                job,
                page,
                quarter_turns,
            },
        ));
    }

    /// Packages the job for upload (`discard`: throws it away instead).
    pub fn close(&mut self, session: &str, discard: bool, out: &mut Out) {
        if !self.can_edit() {
            return;
        }
        let Some(job) = self.open_job().map(|j| j.summary.job.clone()) else {
            return;
        };
        self.closing = true;
        let session = session.to_owned();
        out.push((
            DeskPending::Close,
            if discard {
                RequestOp::JobDiscard { session, job }
            } else {
                RequestOp::JobFinish { session, job }
            },
        ));
    }

    /// The thumbnail of `page` is out of date: fetch it again when the job view comes.
    fn stale(&mut self, page: u32) {
        self.asked.remove(&page);
    }

    /// A page arrived from the scanner (a push, before the scan's reply).
    pub fn page_scanned(&mut self, session: &str, job: &str, page: PageInfo, out: &mut Out) {
        let Some(view) = self.job.as_mut().filter(|j| j.summary.job == job) else {
            return;
        };
        let id = page.page;
        // The same page can come on two connections (see `link`): fetch its picture once.
        let known = view.pages.contains(&page);
        view.pages.retain(|p| p.page != id);
        view.pages.push(page);
        view.pages.sort_by_key(|p| p.position);
        view.summary.pages = u32::try_from(view.pages.len()).unwrap_or(u32::MAX);
        if !known {
            self.asked.remove(&id);
        }
        self.fetch_thumbs(session, out);
    }

    /// Asks for the thumbnails the current job's pages lack.
    fn fetch_thumbs(&mut self, session: &str, out: &mut Out) {
        let Some(job) = &self.job else { return };
        for p in &job.pages {
            if self.asked.insert(p.page) {
                out.push((
                    DeskPending::Thumb(p.page),
                    RequestOp::PageImage {
                        session: session.to_owned(),
                        job: job.summary.job.clone(),
                        page: p.page,
                        size: PageImageSize::Thumb,
                    },
                ));
            }
        }
    }

    fn set_job(&mut self, view: JobView, session: &str, out: &mut Out) {
        let ids: HashSet<u32> = view.pages.iter().map(|p| p.page).collect();
        self.thumbs.retain(|p, _| ids.contains(p));
        self.asked.retain(|p| ids.contains(p));
        if self.selected.is_some_and(|p| !ids.contains(&p)) {
            self.selected = None;
        }
        self.job = Some(view);
        self.fetch_thumbs(session, out);
    }

    fn get(&self, session: &str, out: &mut Out) {
        if let Some(job) = &self.job {
            out.push((
                DeskPending::Get,
                RequestOp::JobGet {
                    session: session.to_owned(),
                    job: job.summary.job.clone(),
                },
            ));
        }
    }

    /// Handles the reply to a desk request.
    pub fn reply(
        &mut self,
        p: DeskPending,
        result: Result<Reply, ApiError>,
        session: &str,
        now: Instant,
        out: &mut Out,
    ) -> Next {
        match (p, result) {
            (DeskPending::List, Ok(Reply::Jobs { jobs })) => {
                self.jobs = Some(jobs);
                Next::Stay
            }
            (DeskPending::Start, Ok(Reply::Job(view))) => {
                self.forget_job();
                self.set_job(*view, session, out);
                Next::Pages
            }
            (DeskPending::Get, Ok(Reply::Job(view))) => {
                let opened = self.job.is_none();
                self.set_job(*view, session, out);
                if opened {
                    Next::Pages
                } else {
                    Next::Stay
                }
            }
            (DeskPending::Scan, Ok(reply)) => {
                self.busy = None;
                match reply {
                    Reply::Job(view) => self.set_job(*view, session, out),
                    _ => self.get(session, out),
                }
                Next::Stay
            }
            (DeskPending::Scan, Err(e)) => {
                self.busy = None;
                // Pages scanned before the failure are kept at the agent: show them.
                self.get(session, out);
                if matches!(e.code, ErrorCode::ScannerError | ErrorCode::DiskFull) {
                    self.problem = Some(e);
                    Next::Stay
                } else {
                    Next::Notice(e)
                }
            }
            (DeskPending::Edit, Ok(Reply::Job(view))) => {
                self.set_job(*view, session, out);
                Next::Stay
            }
            (DeskPending::Edit, Ok(_)) => {
                self.get(session, out);
                Next::Stay
            }
            (DeskPending::Edit, Err(e)) => {
                self.get(session, out);
                Next::Notice(e)
            }
            (DeskPending::Thumb(page), Ok(Reply::PageImage { jpeg_base64, .. })) => {
                match base64::engine::general_purpose::STANDARD.decode(jpeg_base64.as_bytes()) {
                    Ok(jpeg) => {
                        self.rev = self.rev.wrapping_add(1);
                        self.thumbs.insert(
                            page,
                            Thumb {
                                jpeg,
                                rev: self.rev,
                            },
                        );
                    }
                    Err(e) => tracing::warn!(page, error = %e, "thumbnail is not base64"),
                }
                Next::Stay
            }
            (DeskPending::Thumb(_), Err(e)) if e.code == ErrorCode::UnknownJob => {
                // The station removed the page files (the job is safe at central): asking
                // again would only fail again, so the page stays without a picture.
                Next::Stay
            }
            (DeskPending::Thumb(page), _) => {
                // Try again with the next job view rather than showing nothing forever.
                self.asked.remove(&page);
                Next::Stay
            }
            (DeskPending::Close, Ok(_)) => {
                self.forget_job();
                self.list(session, now, out);
                Next::Jobs
            }
            (DeskPending::Close, Err(e)) => {
                self.closing = false;
                Next::Notice(e)
            }
            (_, Err(e)) => Next::Notice(e),
            (_, Ok(_)) => Next::Stay,
        }
    }

    /// The request got no answer because the link broke.
    pub fn lost(&mut self, p: DeskPending, session: &str, out: &mut Out) -> Next {
        match p {
            DeskPending::Thumb(page) => {
                self.asked.remove(&page);
                Next::Stay
            }
            DeskPending::List => Next::Stay,
            DeskPending::Scan | DeskPending::Edit => {
                // It may have happened: show what the agent has.
                self.busy = None;
                self.get(session, out);
                Next::NotReached
            }
            DeskPending::Close => {
                self.closing = false;
                Next::NotReached
            }
            DeskPending::Start | DeskPending::Get => Next::NotReached,
        }
    }
}

#[cfg(test)]
mod tests;
