//! Central's SQLite store: the only module that holds SQL.
//!
//! One writer connection (owned by the ingest worker thread, see `central::writer`) makes
//! every change; HTTP handlers and the catch-up path read through [`ReadPool`]. The file
//! runs in WAL mode with `synchronous=FULL`, so a committed batch survives power loss;
//! `rong_sqlite` opens it, refuses what it does not recognise, and migrates it.

pub mod admin;
pub mod audit;
pub mod calendar;
pub mod catalogue;
mod changes;
pub mod desk;
mod devices;
pub mod digitise;
pub mod documents;
mod epoch;
mod handles;
pub mod identity;
mod ingest;
pub mod lists;
pub mod network;
mod patrons;
pub mod pins;
pub mod queries;
pub mod readers;
pub mod readers_csv;
mod reference;
pub mod rules;
pub mod search;
mod seed;
pub mod snapshot;
pub mod staff;
pub mod synthetic;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rong_sqlite::{Migration, OpenError, Options};
use rusqlite::Connection;

pub use changes::{current_version, ops_between, snapshot_floor, Applied};
pub use handles::{Conn, Reads, Writer};
pub use identity::Registration;
pub use ingest::BatchOutcome;
pub use patrons::{ImportedPatron, PatronUpsert};
pub use queries::{LoanFilter, NoticeFilter, StatsRow};
pub use reference::RefCache;
pub use seed::SeedCounts;

/// Migrations, in order; the schema version is the number of migrations applied.
const MIGRATIONS: &[Migration] = &[
    Migration::sql(include_str!("migrations/0001_init.sql")),
    Migration::sql(include_str!("migrations/0002_marc.sql")),
    Migration::sql(include_str!("migrations/0003_admin.sql")),
    Migration::sql(include_str!("migrations/0004_search.sql")).then(search::create_index),
    Migration::sql(include_str!("migrations/0005_documents.sql")),
    Migration::sql(include_str!("migrations/0006_digitise_processing.sql")),
    Migration::sql(include_str!("migrations/0007_snapshot_marker.sql")),
    Migration::sql(include_str!("migrations/0008_staff_access.sql")),
    Migration::sql(include_str!("migrations/0009_epoch.sql")).then(epoch::create),
    Migration::sql(include_str!("migrations/0010_device_identity.sql")),
    Migration::sql(include_str!("migrations/0011_pin_attempts.sql")),
    Migration::sql(include_str!("migrations/0012_patron_pins.sql")),
    Migration::sql(include_str!("migrations/0013_network.sql")),
    Migration::sql(include_str!("migrations/0014_staff_accounts.sql")),
    Migration::sql(include_str!("migrations/0015_category_membership.sql")),
    Migration::sql(include_str!("migrations/0016_readers.sql")),
    Migration::sql(include_str!("migrations/0017_desk.sql")),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long the writer waits for a worker's or the import's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened: corrupt, foreign or newer (left untouched), or a
    /// migration failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A looked-up thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts what is stored.
    #[error("{0}")]
    Conflict(String),
    /// The write breaks one of the protocol's limits ([`rong_protocol::limits`]): devices
    /// would refuse it, so it is not stored.
    #[error("{0}")]
    TooLong(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column did not parse.
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// The blocking task running a read failed (it panicked or was cancelled).
    #[error("read task failed: {0}")]
    Task(String),
    /// The writer thread is gone: central is shutting down.
    #[error("the writer is gone")]
    WriterGone,
}

/// The writer's connection, with the migrations applied.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the database, checks its schema version and migrates it.
    ///
    /// Nothing is written before the file has been read and recognised: a corrupt file or an
    /// unknown newer schema makes this fail and leaves the file byte-identical.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let options = Options {
            busy_timeout: BUSY_TIMEOUT,
            ..Options::default()
        };
        let conn = rong_sqlite::open(path, &options, MIGRATIONS)?;
        Ok(Store {
            conn,
            path: path.to_owned(),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(rong_sqlite::schema_version(&self.conn)?)
    }

    /// A read-only view through the writer's connection, for tests and the seed summary.
    pub fn reader(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests;
