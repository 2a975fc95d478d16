//! Patrons from `central import patrons`: each row in its own savepoint.

use std::collections::HashSet;

use rong_protocol::delta::Patron;

use super::changes::Applied;
use super::reference::{patron, put_patron};
use super::{Store, StoreError};

/// What storing one patron did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatronUpsert {
    /// A new patron.
    Inserted,
    /// The card existed and was updated.
    Updated,
    /// Nothing was written; the text says why.
    Skipped(String),
}

impl Store {
    /// The category and branch ids rows are checked against.
    pub fn category_and_branch_ids(
        &self,
    ) -> Result<(HashSet<String>, HashSet<String>), StoreError> {
        let ids = |sql: &str| -> Result<HashSet<String>, StoreError> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok((
            ids("SELECT id FROM categories")?,
            ids("SELECT id FROM branches")?,
        ))
    }

    /// Stores patrons in one transaction, each in its own savepoint. A patron without a
    /// PIN hash keeps the one it had; a patron who must type a PIN but has none is skipped.
    /// The changes go into the change log (devices fetch them when they next catch up).
    pub fn import_patrons(&mut self, patrons: &[Patron]) -> Result<Vec<PatronUpsert>, StoreError> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(patrons.len());
        let mut sink = Applied::default();
        for p in patrons {
            let sp = tx.savepoint()?;
            let result = (|| -> Result<Result<bool, String>, StoreError> {
                let old = patron(&sp, &p.card)?;
                let mut p = p.clone();
                if p.pin_hash.is_none() {
                    p.pin_hash = old.as_ref().and_then(|o| o.pin_hash.clone());
                }
                if p.pin_required && p.pin_hash.is_none() {
                    return Ok(Err(format!(
                        "card {} must type a PIN but has none (give one in the pin column)",
                        p.card
                    )));
                }
                put_patron(&sp, &p, &mut sink)?;
                Ok(Ok(old.is_some()))
            })()
            .unwrap_or_else(|e| Err(format!("the database refused the patron: {e}")));
            sink.ops.clear();
            match result {
                Ok(existed) => {
                    sp.commit()?;
                    out.push(if existed {
                        PatronUpsert::Updated
                    } else {
                        PatronUpsert::Inserted
                    });
                }
                Err(reason) => {
                    drop(sp);
                    out.push(PatronUpsert::Skipped(reason));
                }
            }
        }
        tx.commit()?;
        Ok(out)
    }
}
