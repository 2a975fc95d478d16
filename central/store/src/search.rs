//! Catalogue search: the folded title key and the FTS5 index, and the ranked look-up
//! planned by [`rong_protocol::search`] and run by [`rong_sqlite::search`].

use std::collections::BTreeMap;

use rong_protocol::api::BranchAvailability;
use rong_protocol::delta::Record;
use rong_protocol::ids::BranchId;
use rong_protocol::search::Query;
use rong_sqlite::search::ranked_rowids;
use rong_sqlite::{from_row, query_list, query_opt};

pub(super) use rong_sqlite::search::index_record;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::StoreError;

/// One record found, with its copies per branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueHit {
    /// Record id (MARC 001).
    pub record: String,
    /// Title.
    pub title: String,
    /// Main author.
    pub author: String,
    /// Subjects.
    pub subjects: Vec<String>,
    /// Publisher.
    pub publisher: String,
    /// Year of publication.
    pub year: Option<i32>,
    /// First ISBN.
    pub isbn: Option<String>,
    /// Call number.
    pub call_number: String,
    /// Copies per branch (branches without copies left out).
    pub branches: Vec<BranchAvailability>,
}

/// Creates the search index and indexes every record; run once, by the migration that
/// brings the search schema.
pub(super) fn create_index(c: &Connection) -> rusqlite::Result<()> {
    rong_sqlite::search::create_table(c)?;
    let mut stmt =
        c.prepare("SELECT rowid, title, author, subjects, isbn, call_number FROM records")?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let subjects: Vec<String> =
            serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default();
        index_record(
            c,
            r.get(0)?,
            &r.get::<_, String>(1)?,
            &r.get::<_, String>(2)?,
            &subjects,
            r.get::<_, Option<String>>(4)?.as_deref(),
            &r.get::<_, String>(5)?,
        )?;
        n += 1;
    }
    tracing::info!(records = n, "built the catalogue search index");
    Ok(())
}

/// The record with the branches that hold copies, as devices are sent it.
pub(super) fn record_op(c: &Connection, id: &str) -> Result<Option<Record>, StoreError> {
    let rec = c
        .prepare_cached(
            "SELECT id, title, author, subjects, isbn, year, publisher, call_number \
             FROM records WHERE id = ?1",
        )?
        .query_row(params![id], record_row)
        .optional()?;
    let Some(mut rec) = rec else {
        return Ok(None);
    };
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT home_branch FROM items WHERE record = ?1 ORDER BY home_branch",
    )?;
    let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0))?;
    for b in rows {
        if let Ok(b) = BranchId::new(b?) {
            rec.branches.push(b);
        }
    }
    Ok(Some(rec))
}

/// Columns for [`record_row`].
pub(super) const RECORD_COLS: &str =
    "id, title, author, subjects, isbn, year, publisher, call_number";

/// A record row (without its branches).
pub(super) fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let subjects: String = r.get(3)?;
    Ok(Record {
        id: r.get(0)?,
        title: r.get(1)?,
        author: r.get(2)?,
        subjects: serde_json::from_str(&subjects).unwrap_or_default(),
        isbn: r.get(4)?,
        year: r.get(5)?,
        publisher: r.get(6)?,
        call_number: r.get(7)?,
        branches: Vec::new(),
    })
}

/// Searches the catalogue: the best `limit` records for `q`, with copies per branch.
pub fn search(c: &Connection, q: &Query, limit: usize) -> Result<Vec<CatalogueHit>, StoreError> {
    let ids = ranked_rowids(c, q, limit)?;
    let names: BTreeMap<String, String> = {
        let mut s = c.prepare_cached("SELECT id, name FROM branches")?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(ids.len());
    for rowid in ids {
        let sql = format!("SELECT {RECORD_COLS} FROM records WHERE rowid = ?1");
        let rec = query_opt(c, &sql, params![rowid], record_row)?;
        let Some(rec) = rec else { continue };
        let branches = availability(c, &rec.id, &names)?;
        out.push(CatalogueHit {
            record: rec.id,
            title: rec.title,
            author: rec.author,
            subjects: rec.subjects,
            publisher: rec.publisher,
            year: rec.year,
            isbn: rec.isbn,
            call_number: rec.call_number,
            branches,
        });
    }
    Ok(out)
}

/// Copies of a record per branch: held (not lost or withdrawn) and on the shelf to borrow.
pub fn availability(
    c: &Connection,
    record: &str,
    names: &BTreeMap<String, String>,
) -> Result<Vec<BranchAvailability>, StoreError> {
    let mut s = c.prepare_cached(
        "SELECT i.home_branch, \
                SUM(i.status IN ('available', 'not_for_loan')), \
                SUM(i.status = 'available' AND NOT EXISTS \
                    (SELECT 1 FROM loans l WHERE l.item = i.barcode AND l.returned_at IS NULL)) \
         FROM items i WHERE i.record = ?1 GROUP BY i.home_branch ORDER BY i.home_branch",
    )?;
    let rows = s.query_map(params![record], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (branch, total, available) = row?;
        if total == 0 {
            continue;
        }
        let Ok(id) = BranchId::new(branch.clone()) else {
            continue;
        };
        out.push(BranchAvailability {
            name: names.get(&branch).cloned().unwrap_or(branch),
            branch: id,
            available: available as u32,
            total: total as u32,
        });
    }
    Ok(out)
}

/// One copy of a record, for the public catalogue's record page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copy {
    /// Barcode.
    pub barcode: String,
    /// Home branch.
    pub branch: String,
    /// Its name.
    pub branch_name: String,
    /// Call number.
    pub call_number: String,
    /// Shelving location.
    pub shelf: String,
    /// Item type.
    pub item_type: String,
    /// `available`, `not_for_loan`, `lost` or `withdrawn`.
    pub status: String,
    /// The due date when on loan.
    pub due: Option<String>,
}

/// A record and its copies (lost and withdrawn ones left out), by branch then barcode.
pub fn record_detail(c: &Connection, id: &str) -> Result<Option<(Record, Vec<Copy>)>, StoreError> {
    let sql = format!("SELECT {RECORD_COLS} FROM records WHERE id = ?1");
    let rec = query_opt(c, &sql, params![id], record_row)?;
    let Some(rec) = rec else { return Ok(None) };
    let copies = query_list(
        c,
        "SELECT i.barcode, i.home_branch, COALESCE(b.name, i.home_branch), i.call_number, \
                i.shelf, i.item_type, i.status, l.due \
         FROM items i \
         LEFT JOIN branches b ON b.id = i.home_branch \
         LEFT JOIN loans l ON l.item = i.barcode AND l.returned_at IS NULL \
         WHERE i.record = ?1 AND i.status IN ('available', 'not_for_loan') \
         ORDER BY i.home_branch, i.barcode",
        params![id],
        from_row!(Copy => barcode, branch, branch_name, call_number, shelf, item_type, status, due),
    )?;
    Ok(Some((rec, copies)))
}
