//! Writing a generated library into an empty store, in one transaction.

use chrono::NaiveDateTime;
use rong_protocol::delta::{Loan, Op};
use rong_protocol::fold::fold;
use rusqlite::params;

use super::changes::{append, Applied};
use super::reference::{put, put_patron};
use super::{Store, StoreError};
use crate::synthetic::SeedData;

/// What a seed wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedCounts {
    /// Branches.
    pub branches: usize,
    /// Records.
    pub records: usize,
    /// Items.
    pub items: usize,
    /// Patrons.
    pub patrons: usize,
    /// Loans.
    pub loans: usize,
    /// The change-log version afterwards.
    pub version: u64,
}

impl Store {
    /// Whether the store already holds records or patrons.
    pub fn has_library(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM records) OR EXISTS (SELECT 1 FROM patrons)",
            [],
            |r| r.get(0),
        )?)
    }

    /// Writes a generated library; refuses a store that already has records or patrons.
    pub fn write_seed(
        &mut self,
        data: &SeedData,
        utc_offset_min: i32,
    ) -> Result<SeedCounts, StoreError> {
        if self.has_library()? {
            return Err(StoreError::Conflict(format!(
                "database {} already holds records or patrons; seed only an empty database",
                self.path.display()
            )));
        }
        let tx = self.conn.transaction()?;
        let mut applied = Applied::default();
        let ops = data
            .branches
            .iter()
            .cloned()
            .map(Op::PutBranch)
            .chain(data.categories.iter().cloned().map(Op::PutCategory))
            .chain(data.rules.iter().cloned().map(Op::PutRule))
            .chain(data.closed_days.iter().cloned().map(Op::PutClosedDay));
        for op in ops {
            put(&tx, op, &mut applied)?;
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO records (id, title, author, subjects, publisher, year, isbn, call_number, language, search) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for r in &data.records {
                let search = fold(&format!(
                    "{} {} {}",
                    r.title,
                    r.author,
                    r.subjects.join(" ")
                ));
                ins.execute(params![
                    r.id,
                    r.title,
                    r.author,
                    serde_json::to_string(&r.subjects)?,
                    r.publisher,
                    r.year,
                    r.isbn,
                    r.call_number,
                    r.language,
                    search
                ])?;
                super::search::index_record(
                    &tx,
                    tx.last_insert_rowid(),
                    &r.title,
                    &r.author,
                    &r.subjects,
                    r.isbn.as_deref(),
                    &r.call_number,
                )?;
            }
        }
        // The seed's ops go into the change log but are not kept in memory: a fresh
        // library is fetched by snapshot, never as a live delta.
        let mut sink = Applied::default();
        for i in &data.items {
            put(&tx, Op::PutItem(i.clone()), &mut sink)?;
            sink.ops.clear();
        }
        for p in &data.patrons {
            put_patron(&tx, &p.patron, p.pin_hash.as_deref(), &mut sink)?;
            sink.ops.clear();
        }
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO loans (item, patron, branch, device, loaned_at, due, renewals) \
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
            )?;
            for l in &data.loans {
                // Noon local time on the day it was lent.
                let at = NaiveDateTime::from(l.loaned_on)
                    .and_utc()
                    .timestamp_millis()
                    + 12 * 3_600_000
                    - i64::from(utc_offset_min) * 60_000;
                ins.execute(params![
                    l.loan.item,
                    l.loan.patron,
                    l.branch.as_str(),
                    at,
                    l.loan.due.to_string(),
                    l.loan.renewals
                ])?;
                append(&tx, Op::PutLoan(Loan { ..l.loan.clone() }), &mut sink)?;
                sink.ops.clear();
            }
        }
        let version = super::changes::current_version(&tx)?;
        tx.commit()?;
        Ok(SeedCounts {
            branches: data.branches.len(),
            records: data.records.len(),
            items: data.items.len(),
            patrons: data.patrons.len(),
            loans: data.loans.len(),
            version,
        })
    }
}
