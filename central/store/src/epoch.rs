//! The database's epoch: a random id made with it and replaced by a restore.

use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::{Store, StoreError};

/// A fresh random epoch (a version-4 UUID).
fn random_epoch() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

fn write(c: &Connection, epoch: Uuid) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT OR REPLACE INTO central_meta (key, value) VALUES ('epoch', ?1)")?
        .execute([epoch.to_string()])?;
    Ok(())
}

/// The migration step that gives a database its first epoch.
pub(crate) fn create(c: &Connection) -> rusqlite::Result<()> {
    write(c, random_epoch())
}

impl Store {
    /// The database's epoch.
    pub fn epoch(&self) -> Result<Uuid, StoreError> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM central_meta WHERE key = 'epoch'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let text = text.ok_or_else(|| StoreError::NotFound("the database's epoch".into()))?;
        Uuid::parse_str(&text)
            .map_err(|e| StoreError::Conflict(format!("stored epoch {text:?}: {e}")))
    }

    /// Gives the database a new epoch (after a restore) and returns it.
    pub fn new_epoch(&mut self) -> Result<Uuid, StoreError> {
        let epoch = random_epoch();
        write(&self.conn, epoch)?;
        tracing::info!(%epoch, "new epoch");
        Ok(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_has_an_epoch_from_the_start_and_a_new_one_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.db");
        let store = Store::open(&path).unwrap();
        let first = store.epoch().unwrap();
        assert_eq!(first.get_version_num(), 4);
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.epoch().unwrap(), first, "kept across opens");
        let second = store.new_epoch().unwrap();
        assert_ne!(second, first);
        assert_eq!(store.epoch().unwrap(), second);
    }
}
