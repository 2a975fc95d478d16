//! `central device enrol | revoke | list | acl`: device identity from the command line. Prints
//! to stdout like the rest of the CLI.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use rong_identity::Role;
use rong_protocol::DeviceId;

use crate::config::Config;
use crate::server::open_store;
use crate::tokens::audit_cli;

/// `central device ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Make a one-time enrolment code for a new board; print it as text and as a QR code.
    Enrol {
        /// The branch the board stands in.
        #[arg(long)]
        branch: String,
        /// `kiosk` or `station`.
        #[arg(long)]
        role: String,
        /// The device id it will get (default: `{branch}-{role}-{n}`, the first free n).
        #[arg(long)]
        device_id: Option<String>,
        /// Hours the code stays valid.
        #[arg(long, default_value_t = 24)]
        expires_hours: u32,
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Revoke a device: its requests are refused and its events quarantined from now on.
    /// A running central takes it at the device's next request.
    Revoke {
        /// The device id.
        id: String,
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print a Mosquitto ACL giving each enrolled device its own topics only (install it
    /// as the broker's acl_file; regenerate and reload after enrolling or revoking).
    Acl {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List devices with their enrolment and revocation.
    List {
        /// TOML config file (for data_dir); RONG_* env vars override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Who the command line acts as in the device tables.
const CLI_ACTOR: &str = "cli";

/// Runs a `central device` command.
pub fn run(cmd: DeviceCmd) -> anyhow::Result<()> {
    match cmd {
        DeviceCmd::Enrol {
            branch,
            role,
            device_id,
            expires_hours,
            config,
        } => {
            let config = Config::load(config.as_deref())?;
            enrol(&config, &branch, &role, device_id.as_deref(), expires_hours)
        }
        DeviceCmd::Revoke { id, config } => {
            let config = Config::load(config.as_deref())?;
            let device = DeviceId::new(id).context("bad device id")?;
            let mut store = open_store(&config)?;
            store.revoke_device(&device, CLI_ACTOR, chrono::Utc::now().timestamp_millis())?;
            crate::broker_acl::refresh_blocking(
                config.broker.acl_file.as_deref(),
                config.broker.acl_reload.as_deref(),
                &store,
            )?;
            audit_cli(&mut store, "device.revoke", device.as_str(), String::new());
            println!("Revoked {device}. Its requests are refused and its events quarantined from now on.");
            Ok(())
        }
        DeviceCmd::Acl { config } => {
            let config = Config::load(config.as_deref())?;
            let store = open_store(&config)?;
            let devices = central_store::identity::device_identities(store.reader())?;
            print!("{}", crate::broker_acl::mosquitto_acl(&devices));
            Ok(())
        }
        DeviceCmd::List { config } => {
            let config = Config::load(config.as_deref())?;
            let store = open_store(&config)?;
            for d in central_store::identity::device_identities(store.reader())? {
                let state = match (d.enrolled_at, d.revoked_at) {
                    (_, Some(_)) => "revoked",
                    (Some(_), None) => "enrolled",
                    (None, None) => "not enrolled",
                };
                println!(
                    "{}\t{}\t{}\t{state}",
                    d.device,
                    d.branch,
                    d.role.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
    }
}

/// A code's QR picture as text, for a terminal.
pub fn qr_text(code: &str) -> anyhow::Result<String> {
    let qr = qrcode::QrCode::new(code.as_bytes()).context("cannot make the QR code")?;
    Ok(qr
        .render::<qrcode::render::unicode::Dense1x2>()
        .quiet_zone(true)
        .build())
}

/// Makes and prints a one-time enrolment code (also `central init --kiosk`).
pub(crate) fn enrol(
    config: &Config,
    branch: &str,
    role: &str,
    device: Option<&str>,
    expires_hours: u32,
) -> anyhow::Result<()> {
    let mut store = open_store(config)?;
    let made =
        crate::device_admin::make_code(&mut store, branch, role, device, expires_hours, CLI_ACTOR)?;
    let (code, expires_at, device) = (made.code, made.expires_at, made.device);
    let role = Role::parse(role).context("--role must be kiosk or station")?;
    let detail = format!(
        "{} code for branch {branch}, expires in {expires_hours} h",
        role.as_str()
    );
    let target = device.as_ref().map_or("-", DeviceId::as_str);
    audit_cli(&mut store, "device.code", target, detail);
    let shown = code.display();
    let until = chrono::DateTime::from_timestamp_millis(expires_at)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    println!(
        "One-time enrolment code for a {} of branch {branch}{}, valid until {until}:",
        role.as_str(),
        device.map(|d| format!(" (device {d})")).unwrap_or_default()
    );
    println!();
    println!("Code: {shown}");
    println!();
    println!("{}", qr_text(&shown)?);
    println!("Give it to the board: `enrolment_code` in its config, `edge-agent ctl enrol`, or scan the QR code.");
    Ok(())
}
