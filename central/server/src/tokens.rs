//! `central token create|list|revoke`: API tokens for the JSON API, and the audit entries
//! the command line writes. A token is printed once, at creation; only its hash is stored.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::server::open_store;
use central_store::admin::Role;
use central_store::audit::Entry;
use central_store::tokens::{self, NewToken};
use central_store::Store;

/// Every token starts with this, so that secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "rong_";

/// `central token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Make an API token and print it once (only its hash is kept).
    Create {
        /// `admin` (every branch), `staff` or `readonly` (one branch).
        #[arg(long)]
        role: String,
        /// The branch of a staff or read-only token.
        #[arg(long)]
        branch: Option<String>,
        /// What the token is for (shown in `central token list` and the audit log).
        #[arg(long)]
        label: String,
        /// The token stops working after this many days (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the tokens (no secrets).
    List {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Revoke a token at once.
    Revoke {
        /// The token's id, as `central token list` shows it.
        id: i64,
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs `central token ...`.
pub fn run(cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            role,
            branch,
            label,
            expires_days,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            create(&config, &role, branch.as_deref(), &label, expires_days)
        }
        TokenCmd::List { config } => list(&Config::load(config.as_deref())?),
        TokenCmd::Revoke { id, config } => revoke(&Config::load(config.as_deref())?, id),
    }
}

/// Records a change made from the command line (actor `cli`) in the audit log; a failure
/// is logged, as the change is already made.
pub fn audit_cli(store: &mut Store, action: &str, target: &str, detail: String) {
    let entry = Entry::new("cli", action, target).detail(detail);
    if let Err(e) = store.audit(&entry) {
        tracing::error!(error = %e, action, "cannot write the audit log");
    }
}

fn create(
    config: &Config,
    role: &str,
    branch: Option<&str>,
    label: &str,
    expires_days: Option<u32>,
) -> anyhow::Result<()> {
    let role = Role::parse(role)
        .context("--role must be admin, staff, circulation, cataloguer or readonly")?;
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 64 {
        anyhow::bail!("--label must be 1 to 64 characters");
    }
    let branch = match (role, branch) {
        (Role::Admin, _) => None,
        (_, Some(b)) => Some(b),
        (_, None) => anyhow::bail!("a {} token needs --branch", role.as_str()),
    };
    let now = chrono::Utc::now().timestamp_millis();
    let expires_at = expires_days.map(|d| now + i64::from(d) * 86_400_000);
    let token = format!("{TOKEN_PREFIX}{}", central_web::random_token());
    let hash = central_web::token_hash(&token);
    let mut store = open_store(config)?;
    let id = store.create_token(
        &NewToken {
            label,
            token_hash: &hash,
            role,
            branch,
            expires_at,
        },
        now,
    )?;
    let detail = format!(
        "{} token{}{}",
        role.as_str(),
        branch.map(|b| format!(" of {b}")).unwrap_or_default(),
        expires_days
            .map(|d| format!(", expires in {d} days"))
            .unwrap_or_default()
    );
    audit_cli(&mut store, "token.create", &format!("{id} {label}"), detail);
    tracing::info!(id, label, role = role.as_str(), "API token created");
    // The token is on stdout alone, so that scripts can take it: `T=$(central token create ...)`.
    println!("{token}");
    Ok(())
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn list(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let now = chrono::Utc::now().timestamp_millis();
    println!("id\tlabel\trole\tbranch\tcreated\texpires\tlast used\tstate");
    for t in tokens::list(store.reader())? {
        let state = match (t.revoked_at, t.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(e)) if e <= now => "expired",
            _ => "active",
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{state}",
            t.id,
            t.label,
            t.role.as_str(),
            t.branch.as_deref().unwrap_or("-"),
            day(t.created_at),
            t.expires_at.map(day).unwrap_or_else(|| "never".into()),
            t.last_used_at.map(day).unwrap_or_else(|| "never".into()),
        );
    }
    Ok(())
}

fn revoke(config: &Config, id: i64) -> anyhow::Result<()> {
    let mut store = open_store(config)?;
    let now = chrono::Utc::now().timestamp_millis();
    if store.revoke_token(id, now)? {
        audit_cli(&mut store, "token.revoke", &id.to_string(), String::new());
        println!("Revoked token {id}.");
    } else {
        println!("Token {id} was already revoked.");
    }
    Ok(())
}
