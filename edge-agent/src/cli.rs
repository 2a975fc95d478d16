//! The `edge-agent` command line: `run` and `ctl`. The only module that prints to stdout
//! (the readiness line and CLI output).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::ctl::{self, CtlArgs};

/// The Rông edge-agent: offline circulation, event log and sync for one board.
#[derive(Debug, Parser)]
#[command(name = "edge-agent", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent daemon.
    Run {
        /// Config file (TOML); RONG_* environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Drive a running agent through its local API.
    Ctl(CtlArgs),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run_daemon(config),
        Command::Ctl(args) => ctl::main(args),
    }
}

fn run_daemon(path: Option<PathBuf>) -> ExitCode {
    rong_runtime::init_logging("info");
    let result = (|| -> anyhow::Result<()> {
        let config = Config::load(path.as_deref())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(crate::run::run_with_ready(
            config,
            rong_runtime::shutdown_signal(),
            |socket| {
                let line =
                    serde_json::json!({"ready": true, "socket": socket.display().to_string()});
                #[allow(clippy::print_stdout)]
                {
                    println!("{line}");
                }
            },
        ))
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "edge-agent failed");
            eprintln!("edge-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
