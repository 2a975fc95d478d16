//! Central's SQLite store: the only module that holds SQL.
//!
//! One writer connection (owned by the ingest worker thread, see [`crate::writer`]) makes
//! every change; HTTP handlers and the catch-up path read through [`ReadPool`]. The file
//! runs in WAL mode with `synchronous=FULL`, so a committed batch survives power loss.

pub mod admin;
pub mod catalogue;
mod changes;
mod devices;
pub mod digitise;
pub mod documents;
mod ingest;
mod patrons;
pub mod queries;
mod reference;
pub mod search;
mod seed;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

pub use changes::{current_version, ops_between, snapshot_floor, Applied};
pub use ingest::{BatchOutcome, Registration};
pub use patrons::PatronUpsert;
pub use queries::{LoanFilter, NoticeFilter, StatsRow};
pub use reference::RefCache;
pub use seed::SeedCounts;

/// Rust work a migration runs after its SQL, in the same transaction.
type MigrationStep = fn(&Connection) -> Result<(), StoreError>;

/// A schema step: its SQL, and Rust work to run after it.
struct Migration {
    sql: &'static str,
    then: Option<MigrationStep>,
}

const fn sql(sql: &'static str) -> Migration {
    Migration { sql, then: None }
}

/// Migrations, in order; the schema version is the number of migrations applied.
const MIGRATIONS: &[Migration] = &[
    sql(include_str!("migrations/0001_init.sql")),
    sql(include_str!("migrations/0002_marc.sql")),
    sql(include_str!("migrations/0003_admin.sql")),
    Migration {
        sql: include_str!("migrations/0004_search.sql"),
        then: Some(search::create_index),
    },
    sql(include_str!("migrations/0005_documents.sql")),
    sql(include_str!("migrations/0006_digitise_processing.sql")),
    sql(include_str!("migrations/0007_snapshot_marker.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a SQLite database or is damaged. It is left untouched.
    #[error("database {path} is corrupt or not a SQLite file ({source}); refusing to start and leaving it untouched")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The schema is newer than this build knows.
    #[error("database {path} has schema version {found}, but this build knows only up to {known}; refusing to start (upgrade central)")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// A SQLite file that holds someone else's tables.
    #[error("database {0} holds tables but no Rông schema version; refusing to start")]
    Foreign(PathBuf),
    /// A looked-up thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts what is stored.
    #[error("{0}")]
    Conflict(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column did not parse.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
}

/// The writer's connection, with the migrations applied.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn corrupt(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// Opens (or creates) the database, checks its schema version and migrates it.
    ///
    /// Nothing is written before the file has been read and recognised: a corrupt file or an
    /// unknown newer schema makes this fail and leaves the file byte-identical.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(corrupt(path))?;
        // Reading the header page is what detects garbage; do it before any write.
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt(path))?;
        let tables: u32 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(corrupt(path))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version == 0 && tables > 0 {
            return Err(StoreError::Foreign(path.to_owned()));
        }
        if version > 0 {
            let check: String = conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                .map_err(corrupt(path))?;
            if check != "ok" {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    source: rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                        Some(check),
                    ),
                });
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.migrate(version)?;
        Ok(store)
    }

    fn migrate(&mut self, from: u32) -> Result<(), StoreError> {
        for (i, m) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(m.sql)?;
            if let Some(then) = m.then {
                then(&tx)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as u32)?;
            tx.commit()?;
            tracing::info!(version = i + 1, path = %self.path.display(), "migrated database");
        }
        Ok(())
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// A read-only view through the writer's connection, for tests and the seed summary.
    pub fn reader(&self) -> &Connection {
        &self.conn
    }
}

/// A small pool of read-only connections for HTTP handlers and catch-up.
#[derive(Debug)]
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A connection borrowed from the pool; it goes back on drop.
#[derive(Debug)]
pub struct PooledConn<'a> {
    pool: &'a ReadPool,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `Drop` takes the connection out.
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for PooledConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.pool.idle.lock()) {
            if idle.len() < 8 {
                idle.push(conn);
            }
        }
    }
}

impl ReadPool {
    /// The database file the pool reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A pool over a database that [`Store::open`] has already checked and migrated.
    pub fn new(path: &Path) -> ReadPool {
        ReadPool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Borrows a read-only connection.
    pub fn get(&self) -> Result<PooledConn<'_>, StoreError> {
        let reused = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match reused {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c.set_prepared_statement_cache_capacity(32);
                c
            }
        };
        Ok(PooledConn {
            pool: self,
            conn: Some(conn),
        })
    }
}

#[cfg(test)]
mod tests;
