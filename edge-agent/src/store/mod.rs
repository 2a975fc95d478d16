//! The agent's SQLite database: reference-data cache, loans, PIN failures and the event
//! log, and digitisation jobs. All SQL lives under this module.
//!
//! One connection, WAL with `synchronous=FULL`, a modest page cache, prepared statements
//! cached. A file that is not a database, or carries a schema newer than this build knows,
//! makes [`Store::open`] fail without writing to it.

mod digitise;
mod events;
mod reference;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use uuid::Uuid;

pub use digitise::{DigitiseCounts, JobRow, PageRow, UploadRow};
pub use events::{Commit, LoanChange, NewEvent};

/// Numbered migrations; migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_catalogue.sql"),
    include_str!("migrations/0003_digitise.sql"),
    include_str!("migrations/0004_digitise_cleanup.sql"),
];

/// The schema that brings the catalogue records and their search index.
const CATALOGUE_SCHEMA: usize = 2;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Page cache in KiB (negative `cache_size`): keeps RSS small with a large catalogue.
const CACHE_KIB: i64 = 8 * 1024;

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a usable Rông database; it was left untouched.
    #[error("database {path} is corrupt or not an edge-agent database ({message}); refusing to start, the file was not changed")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The file was written by a newer agent.
    #[error("database {path} has schema version {found}, newer than this agent's {known}; refusing to start, the file was not changed")]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// Ours.
        known: u32,
    },
    /// A snapshot or delta could not be applied; nothing was changed.
    #[error("reference data refused: {0}")]
    Refused(String),
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The database.
pub struct Store {
    conn: Connection,
    log: Uuid,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("log", &self.log).finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, migrating it to the current schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(corrupt)?;
        // Read before writing anything: a file that is not a database fails here.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(corrupt)?;
        let found: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found == 0 && tables > 0 {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                message: "a database with tables but no edge-agent schema version".into(),
            });
        }
        if found > 0 {
            let ok: String = conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                .map_err(corrupt)?;
            if ok != "ok" {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    message: ok,
                });
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.pragma_update(None, "temp_store", "FILE")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Self {
            conn,
            log: Uuid::nil(),
        };
        store.migrate(found)?;
        store.log = store.ensure_log()?;
        Ok(store)
    }

    fn migrate(&mut self, from: u32) -> Result<(), StoreError> {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            if i + 1 == CATALOGUE_SCHEMA {
                // The search index: its definition is shared with central.
                tx.execute_batch(rong_protocol::search::FTS_TABLE_SQL)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as u32)?;
            tx.commit()?;
            tracing::info!(version = i + 1, "database migrated");
        }
        Ok(())
    }

    fn ensure_log(&mut self) -> Result<Uuid, StoreError> {
        if let Some(text) = self.meta("log")? {
            return Uuid::parse_str(&text)
                .map_err(|e| StoreError::Refused(format!("stored log id {text:?}: {e}")));
        }
        let log = Uuid::now_v7();
        let tx = self.conn.transaction()?;
        set_meta(&tx, "log", &log.to_string())?;
        set_meta(&tx, "version", "0")?;
        set_meta(&tx, "acked_through", "0")?;
        tx.commit()?;
        tracing::info!(%log, "new event log");
        Ok(log)
    }

    /// The event log's id.
    pub fn log(&self) -> Uuid {
        self.log
    }

    /// The reference-data version held.
    pub fn version(&self) -> Result<u64, StoreError> {
        meta_u64(&self.conn, "version")
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        get_meta(&self.conn, key)
    }
}

fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn meta_u64(conn: &Connection, key: &str) -> Result<u64, StoreError> {
    match get_meta(conn, key)? {
        Some(v) => v
            .parse()
            .map_err(|_| StoreError::Refused(format!("meta {key} holds {v:?}"))),
        None => Ok(0),
    }
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute([key, value])?;
    Ok(())
}

fn col_date(row: &Row<'_>, i: usize) -> rusqlite::Result<NaiveDate> {
    let s: String = row.get(i)?;
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn col_opt_date(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<NaiveDate>> {
    let s: Option<String> = row.get(i)?;
    s.map(|s| {
        s.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

fn conversion(i: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        Box::<dyn std::error::Error + Send + Sync>::from(msg),
    )
}

#[cfg(test)]
mod tests;
