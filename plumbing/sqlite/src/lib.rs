//! Opening Rông's SQLite databases, the one place that does.
//!
//! [`open`] gives a program its writer connection: it recognises the file before writing a
//! byte (refusing a corrupt file, someone else's database or a newer schema), sets the house
//! pragmas (WAL, `synchronous=FULL`, foreign keys, and per [`Options`] a busy timeout and a
//! page cache), then applies the numbered [`Migration`]s it has not seen. [`ReadPool`] lends
//! read-only connections beside that one writer; [`open_write`] gives worker threads a
//! further writer. [`search`] holds the catalogue search index both stores keep;
//! [`reference`] writes the reference tables both keep; [`query_list`], [`query_opt`] and
//! [`from_row!`] read rows into values. [`backup`] copies a live database consistently and
//! checks a copy before it is restored.

pub mod backup;
mod open;
mod pool;
pub mod reference;
mod rows;
pub mod search;

pub use open::{
    open, open_read, open_write, schema_version, Migration, MigrationStep, OpenError, Options,
};
pub use pool::{PooledConn, ReadPool};
pub use rows::{query_list, query_opt};

/// The `rusqlite` that [`from_row!`] expands to, whatever the caller imports.
#[doc(hidden)]
pub use rusqlite as __rusqlite;
