//! The command line: `central init` (in [`crate::init_cli`]), `central serve`, `central seed`, `central import marc`,
//! `central export marc`, `central admin create`, `central token`, `central backup`,
//! `central restore` and `central device ...` (in [`crate::device_cli`]). The only module
//! that prints to stdout (the readiness line, the seed and import summaries, the export,
//! what a backup or restore did) and draws the import's progress line on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::server::{open_store, serve};
use crate::tokens::TokenCmd;

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
    /// Set up a fresh central (no dashboard user yet): the first administrator, the
    /// network's name and its first branch, then optionally the catalogue, the readers and
    /// an enrolment code for the first kiosk. The browser offers the same at /setup.
    Init(crate::init_cli::InitArgs),
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
    /// Import the catalogue.
    Import {
        /// What to import.
        #[command(subcommand)]
        what: ImportCmd,
    },
    /// Export the catalogue.
    Export {
        /// What to export.
        #[command(subcommand)]
        what: ExportCmd,
    },
    /// Enrol and revoke devices (kiosks and scanning stations).
    Device {
        /// What to do.
        #[command(subcommand)]
        what: crate::device_cli::DeviceCmd,
    },
    /// Make central's certificate authority and certificates now (`central serve` makes
    /// them at its first start too): for setting up Mosquitto over TLS before central's
    /// first start. Prints where they are and the CA's fingerprint.
    Tls {
        /// TOML config file (for data_dir and tls.names); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write a consistent, checked copy of the database to FILE, while central serves or
    /// not (SQLite's online backup API). FILE is replaced only once the copy is whole.
    Backup {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The backup file to write.
        file: PathBuf,
    },
    /// Put a backup in place of the database, with central stopped. The current database
    /// is kept aside (renamed with the time), and central gets a new epoch, so devices
    /// re-send the events it lacks and take a fresh snapshot.
    Restore {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The backup file to restore.
        file: PathBuf,
    },
    /// Digitised documents.
    Documents {
        /// What to do.
        #[command(subcommand)]
        what: DocumentsCmd,
    },
    /// Manage dashboard users.
    Admin {
        /// What to do.
        #[command(subcommand)]
        what: AdminCmd,
    },
    /// Manage API tokens for the JSON API.
    Token {
        /// What to do.
        #[command(subcommand)]
        what: TokenCmd,
    },
}

/// `central admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Create a dashboard user (the first administrator, or branch staff). The password
    /// comes from RONG_ADMIN_PASSWORD, or else the first line of stdin.
    Create {
        /// Login name.
        #[arg(long)]
        name: String,
        /// `admin` (every branch), `staff` or `readonly` (one branch).
        #[arg(long, default_value = "admin")]
        role: String,
        /// The branch of a staff user.
        #[arg(long)]
        branch: Option<String>,
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// `central documents ...`.
#[derive(Debug, Subcommand)]
pub enum DocumentsCmd {
    /// Check a copy of the document masters: every document the database lists must have
    /// its bag under DIR/documents/{id}/bag/, and every file must match the bag's SHA-256
    /// manifest. Exit code 1 when one is missing or damaged.
    Verify {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The database that lists the documents (default: central's own); give the
        /// backup taken with the copy to check the pair.
        #[arg(long)]
        db: Option<PathBuf>,
        /// The copy: a directory holding `documents/`, as central's data dir does.
        dir: PathBuf,
    },
}

/// `central import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Import MARC21 records (ISO 2709 or MARCXML, told by content) with their items.
    /// Re-importing updates records by 001. Exit code 0 even when records are skipped,
    /// 1 when a file cannot be read at all.
    Marc {
        /// TOML config file (data_dir, [import] holdings mapping); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The MARC files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Import patrons from a CSV file (columns in the README). Bad rows are listed with
    /// their line numbers and the good rows go in; PINs are hashed on import. Exit code 0
    /// even when rows are skipped, 1 when the file cannot be read at all.
    Patrons {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The CSV file (UTF-8, with a header line).
        file: PathBuf,
    },
}

/// `central export ...`.
#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Export every record imported from MARC: the exact ISO 2709 bytes, or MARCXML.
    Marc {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum)]
        format: central_catalogue::import::ExportFormat,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    rong_runtime::init_logging("info,rumqttd=warn");
    match cli.command {
        Cmd::Init(args) => {
            let next = crate::init_cli::run(args)?;
            if !next.marc.is_empty() {
                import_cmd(&next.config, &next.marc)?;
            }
            if let Some(readers) = &next.readers {
                import_patrons_cmd(&next.config, readers)?;
            }
            if let Some(branch) = &next.kiosk_branch {
                crate::device_cli::enrol(&next.config, branch, "kiosk", None, 24)?;
            }
            println!(
                "Next: `central serve`, then log in to /admin as {}.",
                next.admin
            );
            Ok(())
        }
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
                let result = serve(config, rong_runtime::shutdown_signal(), Some(tx)).await;
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
        Cmd::Import {
            what: ImportCmd::Marc { config, files },
        } => {
            let config = Config::load(config.as_deref())?;
            import_cmd(&config, &files)
        }
        Cmd::Import {
            what: ImportCmd::Patrons { config, file },
        } => {
            let config = Config::load(config.as_deref())?;
            import_patrons_cmd(&config, &file)
        }
        Cmd::Admin {
            what:
                AdminCmd::Create {
                    name,
                    role,
                    branch,
                    config,
                },
        } => {
            let config = Config::load(config.as_deref())?;
            admin_create(&config, &name, &role, branch.as_deref())
        }
        Cmd::Device { what } => crate::device_cli::run(what),
        Cmd::Token { what } => crate::tokens::run(what),
        Cmd::Tls { config } => {
            let config = Config::load(config.as_deref())?;
            std::fs::create_dir_all(&config.data_dir)?;
            let ca = crate::tls::Ca::load_or_create(&config.data_dir)?;
            ca.server(&config.tls.names)?;
            ca.client()?;
            let dir = crate::tls::Ca::dir_of(&config.data_dir);
            println!("CA:         {}", ca.cert_path().display());
            println!(
                "Server:     {} and server.key, for {}",
                dir.join("server.crt").display(),
                config.tls.names.join(", ")
            );
            println!(
                "Client:     {} and client.key (central's own, common name central)",
                dir.join("client.crt").display()
            );
            println!(
                "CA SHA-256: {}",
                rong_identity::tls::fingerprint(ca.cert_pem())?
            );
            Ok(())
        }
        Cmd::Backup { config, file } => {
            let config = Config::load(config.as_deref())?;
            let report = crate::backup::backup_to(&config, &file)?;
            println!(
                "Backed up {} to {} ({} bytes, schema {}).",
                config.db_path().display(),
                file.display(),
                report.bytes,
                report.schema_version
            );
            Ok(())
        }
        Cmd::Restore { config, file } => {
            let config = Config::load(config.as_deref())?;
            let done = crate::backup::restore(&config, &file)?;
            println!(
                "Restored {} (schema {}) to {}; new epoch {}.",
                file.display(),
                done.schema_version,
                config.db_path().display(),
                done.epoch
            );
            if let Some(aside) = &done.kept_aside {
                println!("The previous database is kept as {}.", aside.display());
            }
            println!("Devices re-send what the backup lacks when central next starts.");
            Ok(())
        }
        Cmd::Documents {
            what: DocumentsCmd::Verify { config, db, dir },
        } => {
            let config = Config::load(config.as_deref())?;
            let db = db.unwrap_or_else(|| config.db_path());
            let found = crate::backup::masters::verify(&db, &dir)?;
            for p in &found.problems {
                println!("{p}");
            }
            println!(
                "{} documents sound ({} bytes), {} missing or damaged.",
                found.sound,
                found.bytes,
                found.problems.len()
            );
            anyhow::ensure!(
                found.problems.is_empty(),
                "the masters copy in {} is incomplete",
                dir.display()
            );
            Ok(())
        }
        Cmd::Export {
            what:
                ExportCmd::Marc {
                    config,
                    format,
                    out,
                },
        } => {
            let config = Config::load(config.as_deref())?;
            export_cmd(&config, format, out.as_deref())
        }
    }
}

/// Draws the import's progress: a `\r` line on a terminal at most five times a second,
/// otherwise a log line every 10,000 records.
struct Progress {
    started: std::time::Instant,
    last_draw: std::time::Instant,
    terminal: bool,
    drawn: bool,
    /// The count at the last log line.
    logged: u64,
}

impl Progress {
    fn new() -> Self {
        let now = std::time::Instant::now();
        Progress {
            started: now,
            last_draw: now,
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            drawn: false,
            logged: 0,
        }
    }

    fn rate(&self, done: u64) -> f64 {
        done as f64 / self.started.elapsed().as_secs_f64().max(1e-3)
    }

    fn update(&mut self, done: u64) {
        if self.terminal {
            if self.last_draw.elapsed() >= std::time::Duration::from_millis(200) {
                self.last_draw = std::time::Instant::now();
                self.drawn = true;
                eprint!("\r{done} records, {:.0} records/s   ", self.rate(done));
            }
        } else if done / 10_000 > self.logged / 10_000 {
            self.logged = done;
            tracing::info!(
                records = done,
                per_second = self.rate(done) as u64,
                "importing"
            );
        }
    }

    fn finish(&self, done: u64) {
        if self.terminal && self.drawn {
            eprintln!("\r{done} records, {:.0} records/s   ", self.rate(done));
        }
    }
}

fn import_cmd(config: &Config, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut store = open_store(config)?;
    let mut progress = Progress::new();
    let mut done = 0;
    let report =
        central_catalogue::import::import_files(&mut store, &config.import, files, &mut |n| {
            done = n;
            progress.update(n);
        })?;
    progress.finish(done);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    crate::tokens::audit_cli(
        &mut store,
        "marc.import",
        &names.join(" "),
        format!(
            "imported {}, updated {}, skipped {}",
            report.imported,
            report.updated,
            report.skipped_records()
        ),
    );
    println!(
        "imported {}, updated {}, skipped {}",
        report.imported,
        report.updated,
        report.skipped_records()
    );
    for s in &report.skipped {
        println!("{s}");
    }
    tracing::info!(
        imported = report.imported,
        updated = report.updated,
        skipped = report.skipped_records(),
        seconds = progress.started.elapsed().as_secs_f64(),
        "import finished; a running central announces the new items to devices only at its next delta or restart"
    );
    if !report.unreadable.is_empty() {
        let list: Vec<String> = report
            .unreadable
            .iter()
            .map(|(f, why)| format!("{}: {why}", f.display()))
            .collect();
        anyhow::bail!("could not read: {}", list.join("; "));
    }
    Ok(())
}

fn import_patrons_cmd(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    use central_store::readers_csv::{hash_pins, read_rows, BadRow, Known};
    use central_store::PatronUpsert;
    let started = std::time::Instant::now();
    let mut store = open_store(config)?;
    let (categories, branches) = store.category_and_branch_ids()?;
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let (mut rows, mut bad) = read_rows(
        std::io::BufReader::new(input),
        &Known {
            categories,
            branches,
        },
    )
    .with_context(|| format!("cannot import {}", file.display()))?;
    let with_pin = rows.iter().filter(|r| r.pin.is_some()).count();
    if with_pin > 0 {
        eprintln!("hashing {with_pin} PINs (argon2id)...");
    }
    hash_pins(&mut rows);
    let patrons: Vec<_> = rows
        .iter()
        .map(|r| central_store::ImportedPatron {
            patron: r.patron.clone(),
            pin_hash: r.pin_hash.clone(),
        })
        .collect();
    let results = store.import_patrons(&patrons)?;
    let (mut imported, mut updated) = (0u64, 0u64);
    for (row, result) in rows.iter().zip(results) {
        match result {
            PatronUpsert::Inserted => imported += 1,
            PatronUpsert::Updated => updated += 1,
            PatronUpsert::Skipped(reason) => bad.push(BadRow {
                line: row.line,
                card: Some(row.patron.card.clone()),
                reason,
            }),
        }
    }
    bad.sort_by_key(|b| b.line);
    crate::tokens::audit_cli(
        &mut store,
        "patrons.import",
        &file.display().to_string(),
        format!(
            "imported {imported}, updated {updated}, skipped {}",
            bad.len()
        ),
    );
    println!(
        "imported {imported}, updated {updated}, skipped {}",
        bad.len()
    );
    for b in &bad {
        match &b.card {
            Some(card) => println!("line {}: card {card}: {}", b.line, b.reason),
            None => println!("line {}: {}", b.line, b.reason),
        }
    }
    tracing::info!(
        imported,
        updated,
        skipped = bad.len(),
        seconds = started.elapsed().as_secs_f64(),
        "patron import finished; devices fetch the changes when they next catch up"
    );
    Ok(())
}

fn export_cmd(
    config: &Config,
    format: central_catalogue::import::ExportFormat,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let n = match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            central_catalogue::import::export(&store, format, std::io::BufWriter::new(file))?
        }
        None => central_catalogue::import::export(
            &store,
            format,
            std::io::BufWriter::new(std::io::stdout().lock()),
        )?,
    };
    tracing::info!(records = n, "exported");
    Ok(())
}

fn admin_create(
    config: &Config,
    name: &str,
    role: &str,
    branch: Option<&str>,
) -> anyhow::Result<()> {
    use central_store::admin::Role;
    let role = Role::parse(role)
        .context("--role must be admin, staff, circulation, cataloguer or readonly")?;
    let branch = match (role, branch) {
        (Role::Admin, _) => None,
        (_, Some(b)) => Some(b),
        (_, None) => anyhow::bail!("a {} user needs --branch", role.as_str()),
    };
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_whitespace) {
        anyhow::bail!("--name must be 1 to 64 characters without spaces");
    }
    let password = crate::init_cli::read_password(name)?;
    let hash = central_web::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    let mut store = open_store(config)?;
    store.create_user(
        name,
        &hash,
        role,
        branch,
        chrono::Utc::now().timestamp_millis(),
    )?;
    println!(
        "Created {} {name}{}.",
        role.as_str(),
        branch
            .map(|b| format!(" of branch {b}"))
            .unwrap_or_default()
    );
    Ok(())
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
    let data = central_store::synthetic::generate(items, patrons, seed);
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
