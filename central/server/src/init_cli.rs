//! `central init`: sets up a fresh central from the command line, as the browser's first-run
//! setup does: the first administrator, the network's name and its first branch (in one
//! transaction, refused on a central that has any dashboard user), then optionally the
//! catalogue (MARC), the readers (CSV) and an enrolment code for the first kiosk.
//! Everything typed is checked before anything is written.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use anyhow::Context;
use central_store::network::{check_name, BranchInput, FirstAdmin};

use crate::config::Config;
use crate::server::open_store;

/// Opening hours when none are given: Monday to Friday, the provincial offices' day.
pub const DEFAULT_HOURS: &str = "1-5=07:30-11:30,13:30-17:00";

/// `central init`'s arguments.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// TOML config file (data_dir, [import] holdings mapping); RONG_* env vars override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The first administrator's login name. The password comes from RONG_ADMIN_PASSWORD,
    /// or else the first line of stdin (at least 8 characters).
    #[arg(long)]
    pub admin: String,
    /// The network's name, such as "Thư viện tỉnh Kon Tum".
    #[arg(long)]
    pub network: String,
    /// The first branch's code: lower-case letters, digits and dashes, such as kontum.
    #[arg(long)]
    pub branch: String,
    /// The first branch's name in Vietnamese.
    #[arg(long)]
    pub branch_name: String,
    /// Its name in English.
    #[arg(long, default_value = "")]
    pub branch_name_en: String,
    /// Its address.
    #[arg(long, default_value = "")]
    pub address: String,
    /// Opening hours as DAYS=SPANS, repeatable; days are ISO weekdays (1 = Monday ...
    /// 7 = Sunday) as a range or a list: `1-5=07:30-11:30,13:30-17:00` `6=08:00-11:30`.
    /// A day not given is closed. Default: Monday to Friday 07:30-11:30, 13:30-17:00.
    #[arg(long)]
    pub hours: Vec<String>,
    /// Whether every reader must type a PIN at this branch's kiosks.
    #[arg(long)]
    pub require_pin: bool,
    /// MARC21 files for the catalogue (ISO 2709 or MARCXML), imported into the branch as
    /// `central import marc` does.
    #[arg(long)]
    pub marc: Vec<PathBuf>,
    /// A CSV file of readers, imported as `central import patrons` does.
    #[arg(long)]
    pub readers: Option<PathBuf>,
    /// Also make a one-time enrolment code for the branch's first kiosk.
    #[arg(long)]
    pub kiosk: bool,
}

/// Reads `--hours` arguments into the seven weekdays' texts.
fn week(hours: &[String]) -> anyhow::Result<[String; 7]> {
    let mut out: [String; 7] = Default::default();
    let given = if hours.is_empty() {
        vec![DEFAULT_HOURS.to_owned()]
    } else {
        hours.to_vec()
    };
    for h in &given {
        let (days, spans) = h
            .split_once('=')
            .with_context(|| format!("--hours {h:?}: write DAYS=SPANS, such as {DEFAULT_HOURS}"))?;
        for part in days.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let day = |t: &str| -> anyhow::Result<usize> {
                match t.trim().parse::<usize>() {
                    Ok(d @ 1..=7) => Ok(d),
                    _ => anyhow::bail!("--hours {h:?}: days are 1 (Monday) to 7 (Sunday)"),
                }
            };
            for d in day(a)?..=day(b)? {
                out[d - 1] = spans.to_owned();
            }
        }
    }
    Ok(out)
}

/// A new user's password: RONG_ADMIN_PASSWORD, or else the first line of stdin (prompted
/// for on a terminal); at least 8 characters.
pub fn read_password(name: &str) -> anyhow::Result<String> {
    let password = match std::env::var("RONG_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprint!("Password for {name}: ");
            }
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.chars().count() < 8 {
        anyhow::bail!("the password must have at least 8 characters");
    }
    Ok(password)
}

/// What is left to do once the network is set up: the imports and the kiosk's code, which
/// the command line's other commands do.
#[derive(Debug)]
pub struct FollowUps {
    /// The configuration, with the first branch as the imports' default branch.
    pub config: Config,
    /// MARC files to import.
    pub marc: Vec<PathBuf>,
    /// A readers' CSV to import.
    pub readers: Option<PathBuf>,
    /// The branch a kiosk code is wanted for, if one is.
    pub kiosk_branch: Option<String>,
    /// The first administrator.
    pub admin: String,
}

/// Runs `central init` up to the set-up itself; answers what follows.
pub fn run(args: InitArgs) -> anyhow::Result<FollowUps> {
    let mut config = Config::load(args.config.as_deref())?;
    // Items whose holdings name no known branch go to the first one.
    if config.import.default_branch.is_none() {
        config.import.default_branch = Some(args.branch.trim().to_owned());
    }
    // Everything typed is checked first: a mistake writes nothing.
    let input = BranchInput {
        code: args.branch.clone(),
        name_vi: args.branch_name.clone(),
        name_en: args.branch_name_en.clone(),
        address: args.address.clone(),
        hours: week(&args.hours)?,
        require_pin: args.require_pin,
    };
    let first = input.check().map_err(|errors| {
        anyhow::anyhow!(
            "the first branch is not right:\n{}",
            errors
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let network = check_name("network", &args.network, false)
        .map_err(|e| anyhow::anyhow!("--network: {}", e.en))?;
    let admin = args.admin.trim().to_owned();
    if admin.is_empty() || admin.len() > 64 || admin.chars().any(char::is_whitespace) {
        anyhow::bail!("--admin must be 1 to 64 characters without spaces");
    }
    for file in args.marc.iter().chain(args.readers.as_ref()) {
        if !file.is_file() {
            anyhow::bail!("{} is not a file", file.display());
        }
    }
    let mut store = open_store(&config)?;
    if !central_store::network::is_fresh(store.reader())? {
        anyhow::bail!(
            "this central is set up already (database {} has dashboard users); add branches and users in the dashboard",
            store.path().display()
        );
    }
    let password = read_password(&admin)?;
    let password_hash = central_web::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    store.init_network(
        &FirstAdmin {
            name: admin.clone(),
            password_hash,
        },
        &network,
        &first,
        chrono::Utc::now().timestamp_millis(),
    )?;
    crate::tokens::audit_cli(
        &mut store,
        "network.init",
        first.branch.id.as_str(),
        format!("network {network:?}, administrator {admin}"),
    );
    drop(store);
    println!(
        "Set up {network}: administrator {admin}, branch {} ({}).",
        first.branch.id, first.branch.name
    );
    for d in 1..=7u8 {
        let text = first.hours.day_text(d);
        println!(
            "  {}: {}",
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][usize::from(d) - 1],
            if text.is_empty() {
                "closed".into()
            } else {
                text
            }
        );
    }
    Ok(FollowUps {
        config,
        marc: args.marc,
        readers: args.readers,
        kiosk_branch: args.kiosk.then(|| first.branch.id.to_string()),
        admin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_read_as_ranges_lists_and_a_default() {
        let w = week(&[]).unwrap();
        assert_eq!(w[0], "07:30-11:30,13:30-17:00");
        assert_eq!(w[4], w[0]);
        assert_eq!(w[5], "");
        let w = week(&["1,3=08:00-12:00".into(), "6-7=07:00-11:00".into()]).unwrap();
        assert_eq!(w[0], "08:00-12:00");
        assert_eq!(w[1], "");
        assert_eq!(w[2], "08:00-12:00");
        assert_eq!(w[6], "07:00-11:00");
        assert!(week(&["8=07:00-11:00".into()]).is_err());
        assert!(week(&["07:00-11:00".into()]).is_err());
    }
}
