//! Backup and restore: `central backup FILE`, the backups `central serve` schedules
//! ([`schedule`]), `central restore FILE`, the data-directory lock that keeps a restore
//! and a running central apart, and the check of a document masters copy ([`masters`]).
//!
//! The copy itself (online, consistent, checked, atomic) is `rong_sqlite::backup`; this
//! module decides where files go, what is kept aside, and when the epoch changes.

pub mod masters;
pub mod schedule;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use rong_sqlite::backup::BackupReport;
use uuid::Uuid;

use crate::config::Config;
use central_store::Store;

/// Pages copied per step of the online backup (4 MiB at SQLite's default page size): the
/// writer is never held up, and progress shows in steps.
const PAGES_PER_STEP: u32 = 1024;

/// The lock file in the data directory.
const LOCK_FILE: &str = "central.lock";

/// An exclusive lock on central's data directory, held by `central serve` for as long as it
/// runs and by `central restore` while it works. The kernel drops it when the process ends,
/// however it ends, so a crash never leaves a stale lock.
#[derive(Debug)]
pub struct DataLock {
    _lock: Flock<File>,
}

/// Takes the data directory's lock, or says who holds it.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<DataLock> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(DataLock { _lock: lock }),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => anyhow::bail!(
            "central is running on {} (or a restore is under way there): stop it first",
            data_dir.display()
        ),
        Err((_, e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// `central backup FILE`: an online, checked copy of the database, renamed over `dest`
/// only once whole. Central may be serving meanwhile.
pub fn backup_to(config: &Config, dest: &Path) -> anyhow::Result<BackupReport> {
    let db = config.db_path();
    anyhow::ensure!(db.is_file(), "no database at {}", db.display());
    let report = rong_sqlite::backup::backup(&db, dest, PAGES_PER_STEP)
        .with_context(|| format!("cannot back up {} to {}", db.display(), dest.display()))?;
    tracing::info!(
        dest = %dest.display(),
        bytes = report.bytes,
        pages = report.pages,
        schema = report.schema_version,
        "backup written"
    );
    Ok(report)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The restored copy's schema version, before any migration.
    pub schema_version: u32,
    /// The epoch central now has.
    pub epoch: Uuid,
    /// Where the database that was in place went (none when there was none).
    pub kept_aside: Option<PathBuf>,
}

/// `central restore FILE`, with central stopped: checks the copy, keeps the current
/// database aside (renamed with the time, never deleted), moves a migrated copy into place
/// and gives it a new epoch, so that devices re-send what it lacks.
pub fn restore(config: &Config, file: &Path) -> anyhow::Result<Restored> {
    let _lock = lock_data_dir(&config.data_dir)?;
    let schema_version = rong_sqlite::backup::verify(file, central_store::SCHEMA_VERSION)
        .with_context(|| format!("{} cannot be restored", file.display()))?;
    let db = config.db_path();
    let staging = config.data_dir.join(".central.db.restoring");
    remove_db(&staging)?;
    let epoch = stage(file, &staging).inspect_err(|_| {
        let _ = remove_db(&staging);
    })?;
    let kept_aside = if db.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let aside = config
            .data_dir
            .join(format!("central.db.before-restore-{stamp}"));
        move_db(&db, &aside)?;
        Some(aside)
    } else {
        None
    };
    move_db(&staging, &db)?;
    rong_sqlite::backup::sync_dir(&db).context("cannot flush the data dir")?;
    tracing::info!(
        from = %file.display(),
        %epoch,
        kept_aside = ?kept_aside,
        "database restored"
    );
    Ok(Restored {
        schema_version,
        epoch,
        kept_aside,
    })
}

/// Copies `file` to `staging`, migrates it and gives it a new epoch; returns the epoch.
fn stage(file: &Path, staging: &Path) -> anyhow::Result<Uuid> {
    std::fs::copy(file, staging)
        .with_context(|| format!("cannot copy {} to {}", file.display(), staging.display()))?;
    File::open(staging)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {}", staging.display()))?;
    let mut store = Store::open(staging)
        .with_context(|| format!("cannot open the restored copy {}", staging.display()))?;
    let epoch = store.new_epoch()?;
    // Closing the last connection checkpoints the WAL into the file and removes it.
    drop(store);
    File::open(staging)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {}", staging.display()))?;
    Ok(epoch)
}

/// A database file's companions, which belong with it wherever it goes.
const SIDECARS: [&str; 2] = ["-wal", "-shm"];

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Renames a database with its `-wal` and `-shm`: a WAL that central left after a crash
/// holds committed data, and must never meet another database file.
fn move_db(from: &Path, to: &Path) -> anyhow::Result<()> {
    for suffix in SIDECARS {
        let (f, t) = (sidecar(from, suffix), sidecar(to, suffix));
        if f.exists() {
            std::fs::rename(&f, &t)
                .with_context(|| format!("cannot move {} to {}", f.display(), t.display()))?;
        }
    }
    std::fs::rename(from, to)
        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}

/// Removes a database and its companions, if there.
fn remove_db(db: &Path) -> anyhow::Result<()> {
    for p in std::iter::once(db.to_owned()).chain(SIDECARS.iter().map(|s| sidecar(db, s))) {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", p.display())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
