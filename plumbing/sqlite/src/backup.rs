//! Online backups and the check of a copy before it is restored.
//!
//! [`backup`] copies a live database through SQLite's online backup API while its writer
//! goes on, checks the copy, and only then moves it over the destination. [`verify`] reads
//! a copy without writing to it: is it a sound Rông database this build can open?

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::open::{recognise, Check};
use crate::{schema_version, OpenError};

/// Why a backup was not written. The destination was left as it was.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading the source or writing the copy failed in SQLite.
    #[error("backup failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation on the copy failed.
    #[error("backup {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The copy did not pass its check, so it was thrown away.
    #[error("the copy failed its check ({0}); nothing was written")]
    Check(String),
}

/// What a backup wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupReport {
    /// The copy's schema version (the source's when the copy began).
    pub schema_version: u32,
    /// Database pages copied.
    pub pages: u32,
    /// The copy's size in bytes.
    pub bytes: u64,
}

/// How long a step waits when SQLite reports the source busy, before trying again.
const BUSY_PAUSE: Duration = Duration::from_millis(5);

/// Copies the database at `source` to `dest`, `pages_per_step` pages at a time, while
/// other connections keep writing to it.
///
/// The copy is one consistent moment: a read transaction is held on the source for the
/// whole copy, and in WAL mode that neither blocks the writer nor lets its commits restart
/// the backup. The copy goes to a temporary file beside `dest`, is switched out of WAL
/// (one self-contained file), passes `PRAGMA integrity_check` and the schema-version check,
/// is flushed to disk, and only then renamed over `dest`: `dest` is never half-written.
pub fn backup(
    source: &Path,
    dest: &Path,
    pages_per_step: u32,
) -> Result<BackupReport, BackupError> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(10))?;
    // The transaction starts at its first read, which `schema_version` is.
    src.execute_batch("BEGIN")?;
    let version = schema_version(&src)?;
    let tmp = partial_path(dest);
    let result = copy_and_check(&src, &tmp, pages_per_step, version).and_then(|(pages, bytes)| {
        publish(&tmp, dest)?;
        Ok(BackupReport {
            schema_version: version,
            pages,
            bytes,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    // A read transaction has nothing to keep; ending it lets checkpoints go on.
    let _ = src.execute_batch("COMMIT");
    result
}

/// Where the copy is built before it replaces `dest`: the same directory, so the rename
/// is atomic.
fn partial_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    dest.with_file_name(format!(".{name}.partial"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Copies into `tmp` and checks it; returns the pages copied and the file's size.
fn copy_and_check(
    src: &Connection,
    tmp: &Path,
    pages_per_step: u32,
    version: u32,
) -> Result<(u32, u64), BackupError> {
    match std::fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(tmp)(e)),
    }
    let mut dst = Connection::open(tmp)?;
    let pages = {
        let b = Backup::new(src, &mut dst)?;
        let step = i32::try_from(pages_per_step.max(1)).unwrap_or(i32::MAX);
        loop {
            match b.step(step)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => std::thread::sleep(BUSY_PAUSE),
                // The enum is non-exhaustive; anything new is treated as "try again".
                _ => std::thread::sleep(BUSY_PAUSE),
            }
        }
        u32::try_from(b.progress().pagecount).unwrap_or(0)
    };
    // The source's header says WAL; a backup file is better one file with no -wal beside it.
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    let check: String = dst.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(BackupError::Check(check));
    }
    let found = schema_version(&dst)?;
    if found != version {
        return Err(BackupError::Check(format!(
            "schema version {found}, the source had {version}"
        )));
    }
    dst.close().map_err(|(_, e)| e)?;
    let file = std::fs::File::open(tmp).map_err(io(tmp))?;
    file.sync_all().map_err(io(tmp))?;
    let bytes = file.metadata().map_err(io(tmp))?.len();
    Ok((pages, bytes))
}

/// Renames `tmp` over `dest` and makes the rename durable.
fn publish(tmp: &Path, dest: &Path) -> Result<(), BackupError> {
    std::fs::rename(tmp, dest).map_err(io(dest))?;
    sync_dir(dest).map_err(io(dest))
}

/// Flushes the directory holding `path`, so a rename in it survives power loss.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Checks a database copy without writing to it: it opens, passes `PRAGMA
/// integrity_check`, holds a Rông schema, and that schema is not newer than `known`.
/// Returns its schema version.
pub fn verify(path: &Path, known: u32) -> Result<u32, OpenError> {
    if !path.is_file() {
        return Err(OpenError::Corrupt {
            path: path.to_owned(),
            message: "no such file".into(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| OpenError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let found = recognise(&conn, path, known, Check::Full)?;
    if found == 0 {
        return Err(OpenError::Corrupt {
            path: path.to_owned(),
            message: "an empty database, not a copy of one".into(),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
