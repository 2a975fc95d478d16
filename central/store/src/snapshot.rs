//! Snapshots: every reference table as `Op::Put*` JSON lines, read in one transaction.

use std::io::Write;

use rong_protocol::delta::{Category, ClosedDay, Loan, LoanRule, Op, SnapshotHeader};
use rong_protocol::ids::BranchId;
use rong_protocol::SCHEMA_VERSION;
use rusqlite::{params, Connection, OptionalExtension};

use super::reference::{branch_row, item_row, patron_row, BRANCH_COLS, ITEM_COLS, PATRON_COLS};
use super::search::{record_row, RECORD_COLS};
use super::StoreError;

/// Whether a branch exists.
pub fn branch_exists(c: &Connection, branch: &BranchId) -> Result<bool, StoreError> {
    Ok(c.prepare_cached("SELECT 1 FROM branches WHERE id = ?1")?
        .query_row(params![branch.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Every branch id, in order.
pub fn branch_ids(c: &Connection) -> Result<Vec<BranchId>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT id FROM branches ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for id in rows {
        let id = id?;
        match BranchId::new(id.clone()) {
            Ok(b) => out.push(b),
            Err(e) => {
                tracing::warn!(branch = %id, error = %e, "skipping an invalid stored branch id")
            }
        }
    }
    Ok(out)
}

fn line<W: Write>(out: &mut W, value: &impl serde::Serialize) -> Result<(), StoreError> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)?;
    Ok(())
}

fn each<W: Write, T>(
    c: &Connection,
    sql: &str,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    to_op: impl Fn(T) -> Op,
    out: &mut W,
) -> Result<(), StoreError> {
    let mut stmt = c.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        line(out, &to_op(map(row)?))?;
    }
    Ok(())
}

/// Writes the snapshot for `branch` to `out` (uncompressed JSON lines) and returns its
/// version. Everything is read inside one transaction, so the lines match the header.
pub fn write_snapshot<W: Write>(
    c: &mut Connection,
    branch: &BranchId,
    mut out: W,
) -> Result<u64, StoreError> {
    let tx = c.transaction()?;
    let version = super::changes::current_version(&tx)?;
    line(
        &mut out,
        &SnapshotHeader {
            v: SCHEMA_VERSION,
            branch: branch.clone(),
            version,
        },
    )?;
    let o = &mut out;
    each(
        &tx,
        &format!("SELECT {BRANCH_COLS} FROM branches ORDER BY id"),
        branch_row,
        Op::PutBranch,
        o,
    )?;
    each(
        &tx,
        "SELECT id, name, max_loans FROM categories ORDER BY id",
        |r| {
            Ok(Category {
                id: r.get(0)?,
                name: r.get(1)?,
                max_loans: r.get(2)?,
            })
        },
        Op::PutCategory,
        o,
    )?;
    each(
        &tx,
        "SELECT category, item_type, loan_days, max_renewals FROM loan_rules ORDER BY category, item_type",
        |r| Ok(LoanRule { category: r.get(0)?, item_type: r.get(1)?, loan_days: r.get(2)?, max_renewals: r.get(3)? }),
        Op::PutRule,
        o,
    )?;
    each(
        &tx,
        "SELECT branch, date, reason FROM closed_days ORDER BY branch, date",
        |r| {
            let b: String = r.get(0)?;
            let d: String = r.get(1)?;
            let conv = |i: usize, e: Box<dyn std::error::Error + Send + Sync>| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e)
            };
            Ok(ClosedDay {
                branch: BranchId::new(b).map_err(|e| conv(0, Box::new(e)))?,
                date: d.parse().map_err(|e| conv(1, Box::new(e)))?,
                reason: r.get(2)?,
            })
        },
        Op::PutClosedDay,
        o,
    )?;
    each(
        &tx,
        &format!("SELECT {PATRON_COLS} FROM patrons ORDER BY card"),
        patron_row,
        Op::PutPatron,
        o,
    )?;
    // The branch's own records; the search index on the device is built from these.
    {
        let mut stmt = tx.prepare(&format!(
            "SELECT {RECORD_COLS} FROM records r WHERE EXISTS \
             (SELECT 1 FROM items i WHERE i.home_branch = ?1 AND i.record = r.id) ORDER BY r.id"
        ))?;
        let mut rows = stmt.query(params![branch.as_str()])?;
        while let Some(row) = rows.next()? {
            let mut rec = record_row(row)?;
            rec.branches = vec![branch.clone()];
            line(o, &Op::PutRecord(rec))?;
        }
    }
    // Every item: in full at its home branch, compact elsewhere (for returns).
    each(
        &tx,
        &format!("SELECT {ITEM_COLS} FROM items ORDER BY barcode"),
        item_row,
        |i| {
            if &i.home_branch == branch {
                Op::PutItem(i)
            } else {
                Op::PutItem(i.compact())
            }
        },
        o,
    )?;
    each(
        &tx,
        "SELECT item, patron, due, renewals FROM loans WHERE returned_at IS NULL ORDER BY item",
        |r| {
            let d: String = r.get(2)?;
            Ok(Loan {
                item: r.get(0)?,
                patron: r.get(1)?,
                due: d.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                renewals: r.get(3)?,
            })
        },
        Op::PutLoan,
        o,
    )?;
    out.flush().map_err(serde_json::Error::io)?;
    tx.finish()?;
    Ok(version)
}
