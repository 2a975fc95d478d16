//! Patrons from `central import patrons`: each row in its own savepoint.

use std::collections::HashSet;

use rong_protocol::delta::Patron;

use super::changes::Applied;
use super::reference::{patron, put_patron};
use super::{Store, StoreError};

/// A patron to import, with the hash of the PIN the file gave (none: the PIN stays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPatron {
    /// The patron (`has_pin` is central's to work out).
    pub patron: Patron,
    /// The argon2id hash of a new PIN.
    pub pin_hash: Option<String>,
}

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
    pub fn import_patrons(
        &mut self,
        patrons: &[ImportedPatron],
    ) -> Result<Vec<PatronUpsert>, StoreError> {
        self.import(patrons, false)
    }

    /// Like [`Store::import_patrons`], but all or nothing: if any patron would be skipped,
    /// nothing is written and the outcomes say why.
    pub fn import_patrons_whole(
        &mut self,
        patrons: &[ImportedPatron],
    ) -> Result<Vec<PatronUpsert>, StoreError> {
        self.import(patrons, true)
    }

    fn import(
        &mut self,
        patrons: &[ImportedPatron],
        whole: bool,
    ) -> Result<Vec<PatronUpsert>, StoreError> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(patrons.len());
        let mut sink = Applied::default();
        for ImportedPatron {
            patron: p,
            pin_hash,
        } in patrons
        {
            let sp = tx.savepoint()?;
            let result = (|| -> Result<Result<bool, String>, StoreError> {
                let old = patron(&sp, &p.card)?;
                let has_pin = pin_hash.is_some() || old.as_ref().is_some_and(|o| o.has_pin);
                if p.pin_required && !has_pin {
                    return Ok(Err(format!(
                        "card {} must type a PIN but has none (give one in the pin column)",
                        p.card
                    )));
                }
                put_patron(&sp, p, pin_hash.as_deref(), &mut sink)?;
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
        if whole && out.iter().any(|o| matches!(o, PatronUpsert::Skipped(_))) {
            // Dropped without a commit: nothing of it stays.
            return Ok(out);
        }
        tx.commit()?;
        Ok(out)
    }
}
