//! `kiosk [--config FILE]` runs the reader's touch screen; `kiosk screenshots --out DIR`
//! renders every screen to PNG.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// The Rông kiosk.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Config file (TOML); `RONG_KIOSK_*` variables override it.
    #[arg(long, global = true, env = "RONG_KIOSK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render every screen, in both languages and three sizes, to PNG files.
    Screenshots {
        /// Where to write them.
        #[arg(long, default_value = "kiosk/docs/screens")]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    rong_runtime::init_logging("info");
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Screenshots { out }) => {
            let files = kiosk::screenshots::render_all(&out).context("screenshots")?;
            eprintln!("wrote {} screenshots under {}", files.len(), out.display());
        }
        None => {
            let cfg = kiosk::Config::load(cli.config.as_deref()).context("config")?;
            kiosk::app::run(&cfg).context("kiosk")?;
        }
    }
    Ok(())
}
