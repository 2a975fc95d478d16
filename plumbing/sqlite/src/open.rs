//! The writer connection: recognise, set the pragmas, migrate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file is not a SQLite database or is damaged. It was left untouched.
    #[error("database {path} is corrupt or not a SQLite file ({message}); refusing to start and leaving it untouched")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The schema is newer than this build knows. The file was left untouched.
    #[error("database {path} has schema version {found}, but this build knows only up to {known}; refusing to start and leaving it untouched (upgrade this program)")]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// A SQLite file that holds someone else's tables. It was left untouched.
    #[error("database {0} holds tables but no Rông schema version; refusing to start and leaving it untouched")]
    Foreign(PathBuf),
    /// A migration failed; its transaction was rolled back.
    #[error("database {path}: migration to schema version {version} failed: {source}")]
    Migrate {
        /// The file.
        path: PathBuf,
        /// The version the migration would have reached.
        version: u32,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// SQLite failed otherwise.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Rust work a migration runs after its SQL, in the same transaction.
pub type MigrationStep = fn(&Connection) -> rusqlite::Result<()>;

/// One schema step: its SQL, and optional Rust work after it. Migration `i` (from 0) takes
/// the schema from version `i` to `i + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The SQL, run as a batch.
    pub sql: &'static str,
    /// Rust work after the SQL, such as indexing rows the SQL cannot.
    pub then: Option<MigrationStep>,
}

impl Migration {
    /// A migration of SQL alone.
    pub const fn sql(sql: &'static str) -> Migration {
        Migration { sql, then: None }
    }

    /// The same migration with `step` run after its SQL.
    pub const fn then(self, step: MigrationStep) -> Migration {
        Migration {
            sql: self.sql,
            then: Some(step),
        }
    }
}

/// The pragmas that differ between programs. WAL, `synchronous=FULL` and foreign keys are
/// not options: a committed transaction must survive power loss on every board, and a
/// row must not point at nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long a statement waits for another connection's lock.
    pub busy_timeout: Duration,
    /// The page cache in KiB; `None` keeps SQLite's default.
    pub cache_kib: Option<u32>,
    /// Temporary tables and sorts go to a file instead of memory (small boards).
    pub temp_store_file: bool,
    /// Prepared statements cached on the connection.
    pub statement_cache: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            busy_timeout: Duration::from_secs(10),
            cache_kib: None,
            temp_store_file: false,
            statement_cache: 64,
        }
    }
}

/// The schema version stored in the file (`PRAGMA user_version`).
pub fn schema_version(c: &Connection) -> rusqlite::Result<u32> {
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Opens (or creates) the database at `path` as the writer, and migrates it.
///
/// Nothing is written before the file has been read and recognised: a corrupt file, a file
/// with someone else's tables or a schema newer than `migrations` makes this fail and
/// leaves the file byte-identical. The schema version is the number of migrations applied.
pub fn open(
    path: &Path,
    options: &Options,
    migrations: &[Migration],
) -> Result<Connection, OpenError> {
    let corrupt = |e: rusqlite::Error| OpenError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    let found = recognise(&conn, path, migrations.len() as u32, Check::Quick)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // The bundled SQLite enforces them already; say so rather than rely on a build flag.
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if let Some(kib) = options.cache_kib {
        // A negative cache_size counts KiB rather than pages.
        conn.pragma_update(None, "cache_size", -i64::from(kib))?;
    }
    if options.temp_store_file {
        conn.pragma_update(None, "temp_store", "FILE")?;
    }
    conn.busy_timeout(options.busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(options.statement_cache);
    migrate(&mut conn, path, found, migrations)?;
    Ok(conn)
}

/// How thoroughly [`recognise`] reads the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// `PRAGMA quick_check`: fast enough for every start.
    Quick,
    /// `PRAGMA integrity_check`: also indexes against their tables, for a backup or a
    /// restore, where minutes are affordable and a bad copy is not.
    Full,
}

/// Reads the file's header and schema version, writing nothing: the version found.
pub(crate) fn recognise(
    conn: &Connection,
    path: &Path,
    known: u32,
    check: Check,
) -> Result<u32, OpenError> {
    let corrupt = |e: rusqlite::Error| OpenError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    };
    // Reading the header page is what detects garbage; it happens before any write.
    let found = schema_version(conn).map_err(corrupt)?;
    let tables: u32 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(corrupt)?;
    if found > known {
        return Err(OpenError::NewerSchema {
            path: path.to_owned(),
            found,
            known,
        });
    }
    if found == 0 && tables > 0 {
        return Err(OpenError::Foreign(path.to_owned()));
    }
    if found > 0 {
        let pragma = match check {
            Check::Quick => "PRAGMA quick_check(1)",
            Check::Full => "PRAGMA integrity_check(1)",
        };
        let check: String = conn.query_row(pragma, [], |r| r.get(0)).map_err(corrupt)?;
        if check != "ok" {
            return Err(OpenError::Corrupt {
                path: path.to_owned(),
                message: check,
            });
        }
    }
    Ok(found)
}

/// Applies the migrations after `from`, each in its own transaction with its version.
fn migrate(
    conn: &mut Connection,
    path: &Path,
    from: u32,
    migrations: &[Migration],
) -> Result<(), OpenError> {
    for (i, m) in migrations.iter().enumerate().skip(from as usize) {
        let version = i as u32 + 1;
        let step = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(m.sql)?;
            if let Some(then) = m.then {
                then(&tx)?;
            }
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        step(conn).map_err(|source| OpenError::Migrate {
            path: path.to_owned(),
            version,
            source,
        })?;
        tracing::info!(version, path = %path.display(), "migrated database");
    }
    Ok(())
}

/// A further read-write connection, for a worker thread, on a database that [`open`] has
/// already recognised and migrated (it never creates the file). Commits are
/// `synchronous=FULL` like the writer's.
pub fn open_write(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.busy_timeout(busy_timeout)?;
    Ok(c)
}

/// A read-only connection on a database that [`open`] has already recognised and migrated.
pub fn open_read(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(busy_timeout)?;
    Ok(c)
}

#[cfg(test)]
mod tests;
