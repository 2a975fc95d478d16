//! The command line: `central serve` and `central seed`. The only module that prints to
//! stdout (the readiness line and the seed summary).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::server::{open_store, serve};

/// Rông central: circulation authority, sync hub, snapshots and JSON API.
#[derive(Debug, Parser)]
#[command(name = "central", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve HTTP and MQTT (with the embedded broker unless the config names an external one).
    Serve {
        /// TOML config file (see central.example.toml); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Fill an empty database with a deterministic synthetic library.
    Seed {
        /// Number of items.
        #[arg(long)]
        items: usize,
        /// Number of patrons.
        #[arg(long)]
        patrons: usize,
        /// Random seed; the same seed gives the same library.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttd=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    init_logs();
    match cli.command {
        Cmd::Serve { config } => {
            let config = Config::load(config.as_deref())?;
            tracing::info!(config = ?config, "starting central");
            let rt = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
            let result = rt.block_on(async move {
                let (tx, rx) = tokio::sync::oneshot::channel::<crate::server::Ready>();
                let printer = tokio::spawn(async move {
                    if let Ok(ready) = rx.await {
                        println!("{}", ready.line());
                    }
                });
                let result = serve(config, shutdown_signal(), Some(tx)).await;
                printer.abort();
                result
            });
            // Everything that holds data has finished inside `serve`; do not wait for idle
            // blocking threads. rumqttd's threads have no shutdown call and end with the process.
            rt.shutdown_timeout(std::time::Duration::from_millis(200));
            result
        }
        Cmd::Seed {
            items,
            patrons,
            seed,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            seed_cmd(&config, items, patrons, seed)
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => tracing::info!("SIGTERM"),
                _ = i.recv() => tracing::info!("SIGINT"),
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn seed_cmd(config: &Config, items: usize, patrons: usize, seed: u64) -> anyhow::Result<()> {
    let mut store = open_store(config)?;
    if store.has_library()? {
        anyhow::bail!(
            "database {} already holds records or patrons; seed only an empty database",
            store.path().display()
        );
    }
    let t = std::time::Instant::now();
    let data = crate::seed::generate(items, patrons, seed);
    let generated = t.elapsed();
    let counts = store.write_seed(&data, config.utc_offset_minutes)?;
    tracing::info!(
        generate_ms = generated.as_millis() as u64,
        total_ms = t.elapsed().as_millis() as u64,
        "seeded"
    );
    println!(
        "Seeded {}: {} branches, {} records, {} items, {} patrons, {} loans; change version {} ({:.1} s).",
        store.path().display(),
        counts.branches,
        counts.records,
        counts.items,
        counts.patrons,
        counts.loans,
        counts.version,
        t.elapsed().as_secs_f64()
    );
    let branches: Vec<&str> = data.branches.iter().map(|b| b.id.as_str()).collect();
    println!("Branches: {}", branches.join(", "));
    println!("Cards to try:");
    let mut shown = 0;
    for p in data.patrons.iter().filter(|p| p.patron.staff).take(2) {
        println!(
            "  {} staff ({}), PIN {}",
            p.patron.card,
            p.patron.name,
            p.pin.as_deref().unwrap_or("none")
        );
    }
    for p in data.patrons.iter().filter(|p| !p.patron.staff) {
        if shown >= 6 {
            break;
        }
        let blocked = p
            .patron
            .blocked
            .as_deref()
            .map(|r| format!(", blocked: {r}"))
            .unwrap_or_default();
        println!(
            "  {} {} ({}, {}), PIN {}{}",
            p.patron.card,
            p.patron.name,
            p.patron.category,
            p.patron.branch,
            p.pin.as_deref().unwrap_or("none"),
            blocked
        );
        shown += 1;
    }
    println!("Items to try:");
    for i in data.items.iter().take(4) {
        println!("  {} {} ({})", i.barcode, i.title, i.home_branch);
    }
    Ok(())
}
