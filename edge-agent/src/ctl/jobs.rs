//! `edge-agent ctl job ...` and `ctl scanner ...`: digitisation words for staff and the
//! demo. Job words identify the staff card first (`--card`, and `--ask-pin` or `--pin-stdin`), like `receipt`.

use clap::{Args, Subcommand};
use rong_protocol::api::{Outcome, Reply, RequestOp, Who};
use rong_protocol::digitise::{DublinCore, JobSource};

use rong_agent_client::Client;

use super::{show, CtlError};

/// The staff member asking.
#[derive(Debug, Clone, Args)]
pub struct StaffArgs {
    /// Staff card number.
    #[arg(long)]
    pub card: String,
    /// The PIN.
    #[command(flatten)]
    pub pin: super::PinArg,
}

/// A digitisation job word.
#[derive(Debug, Subcommand)]
pub enum JobWord {
    /// Start a job: a catalogue record (`--record`) or a described document (`--title`).
    Start {
        /// Staff.
        #[command(flatten)]
        staff: StaffArgs,
        /// A catalogue record id.
        #[arg(long, conflicts_with = "title", required_unless_present = "title")]
        record: Option<String>,
        /// Title (Dublin Core).
        #[arg(long)]
        title: Option<String>,
        /// Creator.
        #[arg(long)]
        creator: Option<String>,
        /// Date.
        #[arg(long)]
        date: Option<String>,
        /// Subject.
        #[arg(long)]
        subject: Option<String>,
        /// Language (ISO 639, e.g. vie).
        #[arg(long)]
        language: Option<String>,
        /// Rights statement.
        #[arg(long)]
        rights: Option<String>,
    },
    /// Scan one page into a job, or the whole feeder with `--batch`.
    Scan {
        /// Staff.
        #[command(flatten)]
        staff: StaffArgs,
        /// The job.
        job: String,
        /// Scan every sheet in the feeder.
        #[arg(long)]
        batch: bool,
    },
    /// The station's jobs with their upload progress.
    List {
        /// Staff.
        #[command(flatten)]
        staff: StaffArgs,
    },
    /// One job with its pages.
    Show {
        /// Staff.
        #[command(flatten)]
        staff: StaffArgs,
        /// The job.
        job: String,
    },
    /// Package a job as a bag and queue it for upload.
    Finish {
        /// Staff.
        #[command(flatten)]
        staff: StaffArgs,
        /// The job.
        job: String,
    },
    /// Throw away an open job and its pages.
    Discard {
        /// Staff.
        #[command(flatten)]
        staff: StaffArgs,
        /// The job.
        job: String,
    },
}

/// What to do to the simulated document scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScannerAction {
    /// Jam after N more sheets.
    Jam,
    /// Open the cover.
    Cover,
    /// Empty the feeder.
    Empty,
    /// Load N sheets.
    Load,
    /// Unplug it.
    Unplug,
    /// Clear every fault.
    Ok,
}

impl ScannerAction {
    fn api_word(self) -> &'static str {
        match self {
            ScannerAction::Jam => "jam",
            ScannerAction::Cover => "cover_open",
            ScannerAction::Empty => "empty",
            ScannerAction::Load => "load",
            ScannerAction::Unplug => "unplug",
            ScannerAction::Ok => "ok",
        }
    }
}

/// The request for a simulated scanner word.
pub fn scanner_op(action: ScannerAction, sheets: Option<u32>) -> RequestOp {
    RequestOp::SimDocScanner {
        action: action.api_word().to_owned(),
        sheets,
    }
}

fn staff_of(w: &JobWord) -> &StaffArgs {
    match w {
        JobWord::Start { staff, .. }
        | JobWord::Scan { staff, .. }
        | JobWord::List { staff }
        | JobWord::Show { staff, .. }
        | JobWord::Finish { staff, .. }
        | JobWord::Discard { staff, .. } => staff,
    }
}

/// The request for a job word, given the staff session.
pub fn job_op(word: &JobWord, session: String) -> RequestOp {
    match word {
        JobWord::Start {
            record,
            title,
            creator,
            date,
            subject,
            language,
            rights,
            ..
        } => RequestOp::JobStart {
            session,
            source: match record {
                Some(r) => JobSource::Record { record: r.clone() },
                None => JobSource::Described(DublinCore {
                    title: title.clone().unwrap_or_default(),
                    creator: creator.clone(),
                    date: date.clone(),
                    subject: subject.clone(),
                    language: language.clone(),
                    rights: rights.clone(),
                }),
            },
        },
        JobWord::Scan { job, batch, .. } => RequestOp::JobScan {
            session,
            job: job.clone(),
            batch: *batch,
        },
        JobWord::List { .. } => RequestOp::JobList { session },
        JobWord::Show { job, .. } => RequestOp::JobGet {
            session,
            job: job.clone(),
        },
        JobWord::Finish { job, .. } => RequestOp::JobFinish {
            session,
            job: job.clone(),
        },
        JobWord::Discard { job, .. } => RequestOp::JobDiscard {
            session,
            job: job.clone(),
        },
    }
}

/// Identifies the staff card, runs the job word, ends the session.
pub(super) fn run_job(c: &mut Client, word: &JobWord, json: bool) -> Result<bool, CtlError> {
    let staff = staff_of(word);
    let answer = c.request(RequestOp::Identify(Who {
        card: Some(staff.card.clone()),
        pin: staff.pin.get()?,
        ..Who::default()
    }))?;
    let session = match &answer.response.outcome {
        Outcome::Ok {
            result: Reply::Identified { session, .. },
            ..
        } => session.clone(),
        _ => return Ok(show(None, &answer, json)),
    };
    let answer = c.request(job_op(word, session.clone()))?;
    let ok = show(None, &answer, json);
    let _ = c.request(RequestOp::EndSession { session })?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, try_parse};
    use super::super::Action;
    use super::*;

    #[test]
    fn job_and_scanner_words() {
        let Action::Job { word } = parse(&["job", "start", "--card", "S1", "--title", "Sử thi"])
        else {
            panic!()
        };
        match job_op(&word, "s".into()) {
            RequestOp::JobStart {
                source: JobSource::Described(dc),
                ..
            } => assert_eq!(dc.title, "Sử thi"),
            other => panic!("{other:?}"),
        }
        let Action::Job { word } = parse(&["job", "scan", "J1", "--batch", "--card", "S1"]) else {
            panic!()
        };
        assert!(matches!(
            job_op(&word, "s".into()),
            RequestOp::JobScan { batch: true, ref job, .. } if job == "J1"
        ));
        let Action::Scanner { action, sheets } = parse(&["scanner", "jam", "3"]) else {
            panic!()
        };
        assert_eq!(
            scanner_op(action, sheets),
            RequestOp::SimDocScanner {
                action: "jam".into(),
                sheets: Some(3)
            }
        );
        assert!(try_parse(&["job", "list"]).is_err());
    }
}
