//! `central`: see `central --help`.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    central::cli::run(central::cli::Cli::parse())
}
