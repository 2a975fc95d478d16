//! `edge-agent ctl`: a small client of the local API for staff and scripts.
//!
//! Exit codes: 0 when every request succeeded, 1 when any was refused, 2 for usage or
//! connection errors.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use rong_agent_client::{code_name, Answer, Client};
use rong_protocol::api::{Outcome, Reply, RequestOp, Response, Signal, SimPrinterState, Who};

use crate::config::Config;

mod jobs;
mod pin;

pub use jobs::{JobWord, ScannerAction, StaffArgs};
pub use pin::PinArg;

/// `edge-agent ctl` options. They live here, not in the command line's module, so that
/// `cli` uses `ctl` and never the other way round.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The agent's socket.
    #[arg(long, conflicts_with = "config")]
    pub socket: Option<PathBuf>,
    /// Find the socket in this config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print raw response lines.
    #[arg(long)]
    pub json: bool,
    /// The request.
    #[command(subcommand)]
    pub action: Action,
}

/// Who a request is for.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct WhoArgs {
    /// Card number.
    #[arg(long)]
    pub card: Option<String>,
    /// NFC card UID.
    #[arg(long)]
    pub uid: Option<String>,
}

/// The patron a request is for, with their PIN when they need one.
#[derive(Debug, Clone, Args)]
pub struct PatronArgs {
    /// The patron.
    #[command(flatten)]
    pub who: WhoArgs,
    /// The PIN.
    #[command(flatten)]
    pub pin: PinArg,
}

impl PatronArgs {
    /// The request's `who`, reading the PIN on first use.
    fn who(&self) -> Result<Who, CtlError> {
        Ok(Who {
            session: None,
            card: self.who.card.clone(),
            uid: self.who.uid.clone(),
            pin: self.pin.get()?,
        })
    }
}

/// What to ask the agent.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Lend items to a patron.
    Checkout {
        /// The patron.
        #[command(flatten)]
        patron: PatronArgs,
        /// Item barcodes.
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Take items back.
    Checkin {
        /// Item barcodes.
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Renew a patron's loans.
    Renew {
        /// The patron.
        #[command(flatten)]
        patron: PatronArgs,
        /// Renew every loan.
        #[arg(long, conflicts_with = "items")]
        all: bool,
        /// Item barcodes.
        #[arg(required_unless_present = "all")]
        items: Vec<String>,
    },
    /// A patron's loans.
    Loans {
        /// The patron.
        #[command(flatten)]
        patron: PatronArgs,
    },
    /// Identify a patron (opens a kiosk session).
    Identify {
        /// The patron.
        #[command(flatten)]
        patron: PatronArgs,
    },
    /// Search the catalogue held on this device (as the kiosk's "find a book" does).
    Search {
        /// What to look for; diacritics and case do not matter.
        #[arg(required = true)]
        words: Vec<String>,
        /// Most hits.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Sync and device status.
    Status,
    /// Publish the outbox and catch up now.
    Sync,
    /// Enrol this board with a one-time code from `central device enrol` or the dashboard
    /// (only while it is not enrolled).
    Enrol {
        /// The code, `RONG-...`.
        code: String,
    },
    /// Scan a barcode on the simulated reader.
    Scan {
        /// The code.
        code: String,
    },
    /// Tap a card on the simulated NFC reader.
    Tap {
        /// The UID.
        uid: String,
    },
    /// Lift the card off the simulated NFC reader.
    Remove,
    /// Print a loan receipt for a patron's items (identifies the patron first).
    Receipt {
        /// The patron.
        #[command(flatten)]
        patron: PatronArgs,
        /// Item barcodes (the patron's loans).
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Set the simulated printer's state ("jam the printer").
    Printer {
        /// The state it reports from now on.
        #[arg(value_enum)]
        state: PrinterArg,
    },
    /// Flash the lights and sound the buzzer.
    Signal {
        /// The pattern.
        #[arg(value_enum)]
        signal: SignalArg,
    },
    /// Digitisation jobs (staff: `--card`, and `--ask-pin` or `--pin-stdin`).
    Job {
        /// What to do.
        #[command(subcommand)]
        word: Box<JobWord>,
    },
    /// Drive the simulated document scanner: `jam N`, `cover`, `empty`, `load N`,
    /// `unplug`, `ok` (on a device of SANE's `test` backend: `jam N`, `cover`, `empty`, `ok`).
    Scanner {
        /// What to do.
        #[arg(value_enum)]
        action: ScannerAction,
        /// Sheets, for `jam` and `load`.
        sheets: Option<u32>,
    },
    /// Print hardware pushes until interrupted.
    Watch,
    /// Send one raw JSON request line and print the response.
    Raw {
        /// The request line.
        json: String,
    },
}

/// A simulated printer state, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrinterArg {
    /// Ready.
    Ok,
    /// No paper.
    PaperOut,
    /// Cover open.
    CoverOpen,
    /// Not answering.
    Offline,
}

impl From<PrinterArg> for SimPrinterState {
    fn from(a: PrinterArg) -> Self {
        match a {
            PrinterArg::Ok => SimPrinterState::Ok,
            PrinterArg::PaperOut => SimPrinterState::PaperOut,
            PrinterArg::CoverOpen => SimPrinterState::CoverOpen,
            PrinterArg::Offline => SimPrinterState::Offline,
        }
    }
}

/// A light-and-sound pattern, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignalArg {
    /// Green light, one short beep.
    Success,
    /// Red light, two long beeps.
    Error,
    /// Both lights, three short beeps.
    Attention,
}

impl From<SignalArg> for Signal {
    fn from(a: SignalArg) -> Self {
        match a {
            SignalArg::Success => Signal::Success,
            SignalArg::Error => Signal::Error,
            SignalArg::Attention => Signal::Attention,
        }
    }
}

/// A usage or connection failure (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CtlError(String);

impl From<rong_agent_client::Error> for CtlError {
    fn from(e: rong_agent_client::Error) -> Self {
        CtlError(e.to_string())
    }
}

/// Prints a response; returns whether it succeeded.
fn show(label: Option<&str>, answer: &Answer, json: bool) -> bool {
    if json {
        println!("{}", answer.line);
        return answer.is_ok();
    }
    match &answer.response.outcome {
        Outcome::Err { error, .. } => {
            let prefix = label.map(|l| format!("{l}  ")).unwrap_or_default();
            println!(
                "{prefix}refused: {}: {}",
                code_name(error.code),
                error.message
            );
            false
        }
        Outcome::Ok { result, .. } => {
            for l in describe(result) {
                println!("{l}");
            }
            true
        }
    }
}

/// One line per item, or just `none` when there are no items.
fn lines<T>(items: &[T], none: &str, line: impl Fn(&T) -> String) -> Vec<String> {
    if items.is_empty() {
        vec![none.to_owned()]
    } else {
        items.iter().map(line).collect()
    }
}

/// One line per thing, in English.
fn describe(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Identified { session, patron } => vec![format!(
            "{}  {}  {} of {} loans{}  session {session}",
            patron.card,
            patron.name,
            patron.loans,
            patron.max_loans,
            if patron.staff { "  staff" } else { "" }
        )],
        Reply::CheckedOut { item, title, due } => vec![format!("{item}  {title}  due {due}")],
        Reply::Job(j) => {
            let mut v = vec![format!(
                "{}  {}  {}  {} pages",
                j.summary.job,
                j.summary.title,
                j.summary.state.name(),
                j.summary.pages
            )];
            v.extend(j.pages.iter().map(|p| {
                format!(
                    "  {}. page {}  {}x{} {} dpi{}",
                    p.position,
                    p.page,
                    p.width,
                    p.height,
                    p.dpi,
                    if p.checks.is_empty() { "" } else { "  CHECK" }
                )
            }));
            v
        }
        Reply::Jobs { jobs } => lines(jobs, "no jobs", |j| {
            format!(
                "{}  {}  {}  {} pages  {}/{} bytes",
                j.job,
                j.title,
                j.state.name(),
                j.pages,
                j.bytes_sent,
                j.bytes_total
            )
        }),
        Reply::PageImage { width, height, .. } => vec![format!("page image {width}x{height}")],
        Reply::CheckedIn {
            item,
            title,
            was_on_loan,
            transfer_to,
            transfer_to_name,
        } => {
            let mut s = format!(
                "{item}  {}  returned",
                title.as_deref().unwrap_or("(unknown item)")
            );
            if !was_on_loan {
                s.push_str(" (was not on loan)");
            }
            if let Some(b) = transfer_to {
                s.push_str(&format!(
                    "  send to {} ({b})",
                    transfer_to_name.as_deref().unwrap_or(b.as_str())
                ));
            }
            vec![s]
        }
        Reply::Renewed {
            item,
            title,
            due,
            renewals,
        } => vec![format!("{item}  {title}  due {due}  (renewal {renewals})")],
        Reply::Loans { loans } => lines(loans, "no loans", |l| {
            format!(
                "{}  {}  due {}{}",
                l.item,
                l.title,
                l.due,
                if l.overdue { "  OVERDUE" } else { "" }
            )
        }),
        Reply::Status(s) => vec![
            format!("device             {} ({})", s.device, s.branch),
            format!("online             {}", s.online),
            format!("outbox depth       {}", s.outbox_depth),
            format!(
                "oldest unsynced    {}",
                s.oldest_unsynced_age_s
                    .map_or_else(|| "-".to_owned(), |a| format!("{a} s"))
            ),
            format!("last seq           {}", s.last_seq),
            format!("acked through      {}", s.acked_through),
            format!("catalogue version  {}", s.catalogue_version),
            format!("rejected messages  {}", s.rejected_messages),
        ]
        .into_iter()
        .chain(s.hardware.iter().map(|(name, h)| {
            format!(
                "hardware {name:<9} {}{}",
                format!("{:?}", h.health).to_lowercase(),
                h.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )
        }))
        .chain(s.digitise.iter().map(|d| {
            format!(
                "digitisation       {} open, {} waiting ({} pages, {} bytes), {} safe, {} refused{}",
                d.jobs_open,
                d.jobs_waiting,
                d.pages_waiting,
                d.bytes_waiting,
                d.jobs_safe,
                d.jobs_refused,
                d.uploading
                    .as_deref()
                    .map(|j| format!(", uploading {j}"))
                    .unwrap_or_default()
            )
        }))
        .collect(),
        Reply::SearchResults { hits } => lines(hits, "nothing found", |h| {
            let elsewhere = h
                .elsewhere
                .iter()
                .map(|b| format!("{} {}/{}", b.branch, b.available, b.total))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{}  {}  {}  {}  here {}/{}{}",
                h.record,
                h.title,
                h.author,
                h.call_number,
                h.available_here,
                h.total_here,
                if elsewhere.is_empty() {
                    String::new()
                } else {
                    format!("  elsewhere {elsewhere}")
                }
            )
        }),
        Reply::Done => vec!["ok".into()],
    }
}

fn socket_path(args: &CtlArgs) -> Result<PathBuf, CtlError> {
    if let Some(s) = &args.socket {
        return Ok(s.clone());
    }
    let config = Config::load(args.config.as_deref()).map_err(|e| CtlError(e.to_string()))?;
    Ok(config.socket_path())
}

/// Runs one `ctl` invocation.
pub fn main(args: CtlArgs) -> ExitCode {
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("edge-agent ctl: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the action; `Ok(false)` when anything was refused.
fn run(args: &CtlArgs) -> Result<bool, CtlError> {
    // No reply timeout: a feeder batch takes minutes.
    let mut c = Client::connect(socket_path(args)?, None)?;
    let json = args.json;
    let one = |c: &mut Client, op: RequestOp| -> Result<bool, CtlError> {
        Ok(show(None, &c.request(op)?, json))
    };
    match &args.action {
        Action::Checkout { patron, items } => {
            let mut all_ok = true;
            for item in items {
                let answer = c.request(RequestOp::Checkout {
                    who: patron.who()?,
                    item: item.clone(),
                })?;
                all_ok &= show(Some(item), &answer, json);
            }
            Ok(all_ok)
        }
        Action::Checkin { items } => {
            let mut all_ok = true;
            for item in items {
                let answer = c.request(RequestOp::Checkin { item: item.clone() })?;
                all_ok &= show(Some(item), &answer, json);
            }
            Ok(all_ok)
        }
        Action::Renew { patron, all, items } => {
            let items = if *all {
                let answer = c.request(RequestOp::Loans(patron.who()?))?;
                match &answer.response.outcome {
                    Outcome::Ok {
                        result: Reply::Loans { loans },
                        ..
                    } => loans.iter().map(|l| l.item.clone()).collect(),
                    _ => return Ok(show(None, &answer, json)),
                }
            } else {
                items.clone()
            };
            let mut all_ok = true;
            for item in &items {
                let answer = c.request(RequestOp::Renew {
                    who: patron.who()?,
                    item: item.clone(),
                })?;
                all_ok &= show(Some(item), &answer, json);
            }
            if items.is_empty() && !json {
                println!("no loans");
            }
            Ok(all_ok)
        }
        Action::Loans { patron } => one(&mut c, RequestOp::Loans(patron.who()?)),
        Action::Identify { patron } => one(&mut c, RequestOp::Identify(patron.who()?)),
        Action::Search { words, limit } => one(
            &mut c,
            RequestOp::Search {
                q: words.join(" "),
                limit: Some(*limit),
            },
        ),
        Action::Status => one(&mut c, RequestOp::Status),
        Action::Sync => one(&mut c, RequestOp::SyncNow),
        Action::Enrol { code } => one(&mut c, RequestOp::Enrol { code: code.clone() }),
        Action::Scan { code } => one(&mut c, RequestOp::SimScan { code: code.clone() }),
        Action::Tap { uid } => one(&mut c, RequestOp::SimTap { uid: uid.clone() }),
        Action::Remove => one(&mut c, RequestOp::SimRemove),
        Action::Receipt { patron, items } => {
            let answer = c.request(RequestOp::Identify(patron.who()?))?;
            let session = match &answer.response.outcome {
                Outcome::Ok {
                    result: Reply::Identified { session, .. },
                    ..
                } => session.clone(),
                _ => return Ok(show(None, &answer, json)),
            };
            let answer = c.request(RequestOp::PrintReceipt {
                session: session.clone(),
                items: items.clone(),
            })?;
            let printed = show(None, &answer, json);
            let _ = c.request(RequestOp::EndSession { session })?;
            Ok(printed)
        }
        Action::Printer { state } => one(
            &mut c,
            RequestOp::SimPrinter {
                state: (*state).into(),
            },
        ),
        Action::Signal { signal } => one(
            &mut c,
            RequestOp::Signal {
                signal: (*signal).into(),
            },
        ),
        Action::Job { word } => jobs::run_job(&mut c, word, json),
        Action::Scanner { action, sheets } => one(&mut c, jobs::scanner_op(*action, *sheets)),
        Action::Watch => {
            let answer = c.request(RequestOp::Subscribe)?;
            if !show(None, &answer, json) {
                return Ok(false);
            }
            let mut pushes = c.into_pushes();
            loop {
                println!("{}", pushes.next_line()?);
            }
        }
        Action::Raw { json: text } => {
            let raw = c.raw(text.trim_end())?;
            println!("{raw}");
            Ok(serde_json::from_str::<Response>(&raw)
                .is_ok_and(|r| matches!(r.outcome, Outcome::Ok { .. })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rong_protocol::api::{ApiError, ErrorCode};

    /// The words after `edge-agent ctl`, read as the command line reads them.
    #[derive(Debug, clap::Parser)]
    #[command(name = "ctl")]
    struct Words {
        #[command(flatten)]
        args: CtlArgs,
    }

    /// The `ctl` action `args` (the words after `edge-agent ctl`) parse to, or why not.
    pub(super) fn try_parse(args: &[&str]) -> Result<Action, clap::Error> {
        use clap::Parser;
        Words::try_parse_from(["ctl"].iter().chain(args)).map(|w| w.args.action)
    }

    /// The `ctl` action the words after `edge-agent ctl --socket /x` parse to.
    pub(super) fn parse(args: &[&str]) -> Action {
        try_parse(&[&["--socket", "/x"], args].concat()).unwrap()
    }

    /// What a `printer` or `signal` word means to the agent.
    #[derive(Debug, PartialEq)]
    enum Meant {
        Printer(SimPrinterState),
        Signal(Signal),
    }

    #[test]
    fn printer_and_signal_words() {
        use SimPrinterState as Sim;
        for (command, word, meant) in [
            ("printer", "ok", Meant::Printer(Sim::Ok)),
            ("printer", "paper-out", Meant::Printer(Sim::PaperOut)),
            ("printer", "cover-open", Meant::Printer(Sim::CoverOpen)),
            ("printer", "offline", Meant::Printer(Sim::Offline)),
            ("signal", "success", Meant::Signal(Signal::Success)),
            ("signal", "error", Meant::Signal(Signal::Error)),
            ("signal", "attention", Meant::Signal(Signal::Attention)),
        ] {
            let got = match parse(&[command, word]) {
                Action::Printer { state } => Meant::Printer(state.into()),
                Action::Signal { signal } => Meant::Signal(signal.into()),
                other => panic!("{word}: {other:?}"),
            };
            assert_eq!(got, meant, "{command} {word}");
        }
        assert!(try_parse(&["printer", "jammed"]).is_err());
    }

    #[test]
    fn human_lines() {
        let due = NaiveDate::from_ymd_opt(2026, 12, 16).unwrap();
        assert_eq!(
            describe(&Reply::CheckedOut {
                item: "KT00000001".into(),
                title: "Địa chí Kon Tum".into(),
                due
            }),
            vec!["KT00000001  Địa chí Kon Tum  due 2026-12-16".to_string()]
        );
        assert_eq!(code_name(ErrorCode::LoanLimit), "loan_limit");
        let answer = Answer {
            line: String::new(),
            response: Response::err(1, ApiError::new(ErrorCode::LoanLimit, "")),
        };
        assert!(!show(Some("KT00000009"), &answer, false));
    }
}
