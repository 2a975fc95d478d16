//! The agent's SQLite database: reference-data cache, loans, PIN failures and the event
//! log, and digitisation jobs. All SQL lives under this module.
//!
//! One connection, WAL with `synchronous=FULL`, a modest page cache, prepared statements
//! cached. A file that is not a database, or carries a schema newer than this build knows,
//! makes [`Store::open`] fail without writing to it.

mod digitise;
mod events;
mod reference;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::NaiveDate;
use rong_sqlite::{Migration, OpenError, Options};
use rusqlite::{Connection, OptionalExtension, Row};
use uuid::Uuid;

pub use digitise::{DigitiseCounts, JobRow, PageRow, UploadRow};
pub use events::{Commit, LoanChange, NewEvent};

/// Numbered migrations; migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[Migration] = &[
    Migration::sql(include_str!("migrations/0001_init.sql")),
    // The catalogue records and their search index, whose definition central shares.
    Migration::sql(include_str!("migrations/0002_catalogue.sql"))
        .then(rong_sqlite::search::create_table),
    Migration::sql(include_str!("migrations/0003_digitise.sql")),
    Migration::sql(include_str!("migrations/0004_digitise_cleanup.sql")),
    Migration::sql(include_str!("migrations/0005_no_pin_hashes.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The board's pragmas: a modest page cache (KiB) keeps RSS small with a large catalogue,
/// and temporary tables and sorts go to disk rather than RAM.
fn options() -> Options {
    Options {
        busy_timeout: Duration::from_secs(5),
        cache_kib: Some(8 * 1024),
        temp_store_file: true,
        statement_cache: 64,
    }
}

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened: corrupt, foreign or newer (left untouched), or a
    /// migration failed.
    #[error(transparent)]
    Open(#[from] OpenError),
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
        let conn = rong_sqlite::open(path, &options(), MIGRATIONS)?;
        let mut store = Self {
            conn,
            log: Uuid::nil(),
        };
        store.log = store.ensure_log()?;
        Ok(store)
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

/// The one connection, shared by the services that read and write it. Each call takes the
/// lock for as long as it needs the store; there is no other way in.
#[derive(Debug, Clone)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    /// Shares an open store.
    pub fn new(store: Store) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// The store, locked. A poisoned lock only means another thread panicked mid-call;
    /// SQLite rolled its transaction back, so the data is sound.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
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
