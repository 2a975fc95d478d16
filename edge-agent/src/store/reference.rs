//! Reference data: lookups for circulation, deltas and snapshot loads.

use chrono::NaiveDate;
use rong_hardware::card::normalise_uid;
use rong_protocol::api::{BranchAvailability, SearchHit};
use rong_protocol::delta::{
    Branch, Category, ClosedDay, Delta, Item, ItemStatus, Loan, LoanRule, Op, Patron, Record,
};
use rong_protocol::privacy::mask_card;
use rong_protocol::BranchId;
use rong_sqlite::reference::{self, item_status_parse};
use rong_sqlite::{from_row, query_list, query_opt};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{col_date, col_opt_date, conversion, meta_u64, set_meta, Store, StoreError};
use crate::sync::{classify_delta, DeltaAction};

fn branch_id(row: &Row<'_>, i: usize) -> rusqlite::Result<BranchId> {
    let s: String = row.get(i)?;
    BranchId::new(s).map_err(|e| conversion(i, e.to_string()))
}

/// The JSON array of closed weekdays in column `i`.
fn weekdays_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    let days: String = row.get(i)?;
    serde_json::from_str(&days).map_err(|e| conversion(i, e.to_string()))
}

/// The item status in column `i`; text no status has is an error.
fn status_at(row: &Row<'_>, i: usize) -> rusqlite::Result<ItemStatus> {
    let status: String = row.get(i)?;
    item_status_parse(&status).ok_or_else(|| conversion(i, format!("item status {status:?}")))
}

fn item_row(row: &Row<'_>) -> rusqlite::Result<Item> {
    from_row!(Item => barcode, record, title, author, call_number, item_type,
        home_branch: branch_id, status: status_at, shelf)(row)
}

/// Columns for [`item_row`].
const ITEM_COLS: &str =
    "barcode, record, title, author, call_number, item_type, home_branch, status, shelf";

fn loan_row(row: &Row<'_>) -> rusqlite::Result<Loan> {
    from_row!(Loan => item, patron, due: col_date, renewals)(row)
}

/// Whether the item has local events central has not applied yet.
fn has_pending(conn: &Connection, item: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM events WHERE acked = 0 AND item = ?1 LIMIT 1")?
        .query_row([item], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The secondary indexes a snapshot load drops and builds again (as the migrations made
/// them): building an index from the loaded rows beats updating it row by row.
const DROP_LOAD_INDEXES: &str =
    "DROP INDEX IF EXISTS items_record; DROP INDEX IF EXISTS records_title_key;";

/// See [`DROP_LOAD_INDEXES`].
const CREATE_LOAD_INDEXES: &str = "CREATE INDEX items_record ON items(record);
     CREATE INDEX records_title_key ON records(title_key);";

/// A snapshot's record, into a table the load emptied: one insert with its title key; its
/// search-index row comes with the others at the end ([`index_loaded_records`]). A record
/// id twice in one snapshot is refused (the whole load is).
fn load_record(conn: &Connection, r: &Record) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO records
         (id, title, author, subjects, isbn, year, publisher, call_number, title_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(record_values(r)?)
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Refused(format!("record {} twice in the snapshot", r.id))
        }
        e => e.into(),
    })?;
    Ok(())
}

/// A record's row as both record writes bind it: `id, title, author, subjects` (JSON),
/// `isbn, year, publisher, call_number` and `title_key` (the folded title).
type RecordValues<'a> = (
    &'a str,
    &'a str,
    &'a str,
    String,
    Option<&'a str>,
    Option<i32>,
    &'a str,
    &'a str,
    String,
);

/// See [`RecordValues`].
fn record_values(r: &Record) -> Result<RecordValues<'_>, StoreError> {
    let subjects =
        serde_json::to_string(&r.subjects).map_err(|e| StoreError::Refused(e.to_string()))?;
    Ok((
        &r.id,
        &r.title,
        &r.author,
        subjects,
        r.isbn.as_deref(),
        r.year,
        &r.publisher,
        &r.call_number,
        rong_protocol::fold::fold(&r.title),
    ))
}

/// The search index's in-memory budget for a transaction's pending writes.
const FTS_HASH_BYTES: i64 = 8 * 1024 * 1024;

/// Indexes every record for search, in one pass after a snapshot load. Written last and
/// all together: FTS5 writes its pending index out whenever a later statement of the
/// transaction opens a statement journal, so interleaved with the other rows it would
/// write a tiny index segment per record.
fn index_loaded_records(conn: &Connection) -> Result<u64, StoreError> {
    // Room for more pending index in memory before FTS5 writes a segment out (default
    // 1 MB): fewer segments to merge. Kept in the file; it only bounds what a transaction
    // holds in memory.
    conn.execute(
        "INSERT INTO records_fts (records_fts, rank) VALUES ('hashsize', ?1)",
        [FTS_HASH_BYTES],
    )?;
    let mut read =
        conn.prepare("SELECT rowid, title, author, subjects, isbn, call_number FROM records")?;
    let mut insert = conn.prepare(
        "INSERT INTO records_fts (rowid, title, author, subjects, isbn, call_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut rows = read.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let subjects: Vec<String> =
            serde_json::from_str(r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)
                .map_err(|e| StoreError::Refused(e.to_string()))?;
        let cols = rong_protocol::search::index_columns(
            r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?,
            r.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?,
            &subjects,
            r.get_ref(4)?
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?,
            r.get_ref(5)?.as_str().map_err(rusqlite::Error::from)?,
        );
        insert.execute(params![
            r.get::<_, i64>(0)?,
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            cols[4]
        ])?;
        n += 1;
    }
    Ok(n)
}

/// Applies one op. Loan ops for items with unacked local events are skipped: central will
/// send the loan again once it has applied them. Returns false when skipped.
fn apply_op(conn: &Connection, op: &Op) -> Result<bool, StoreError> {
    match op {
        Op::PutBranch(b) => reference::put_branch(conn, b)?,
        Op::PutCategory(c) => reference::put_category(conn, c)?,
        Op::PutRule(r) => reference::put_rule(conn, r)?,
        Op::DelRule {
            category,
            item_type,
        } => {
            conn.prepare_cached("DELETE FROM loan_rules WHERE category = ?1 AND item_type = ?2")?
                .execute([category, item_type])?;
        }
        Op::PutPatron(p) => {
            reference::put_patron(conn, p)?;
            conn.prepare_cached("DELETE FROM patron_uids WHERE card = ?1")?
                .execute([&p.card])?;
            for raw in &p.nfc_uids {
                match normalise_uid(raw) {
                    Some(uid) => {
                        conn.prepare_cached(
                            "INSERT OR REPLACE INTO patron_uids (uid, card) VALUES (?1, ?2)",
                        )?
                        .execute([&uid, &p.card])?;
                    }
                    None => {
                        tracing::warn!(
                            card = %mask_card(&p.card),
                            uid = %mask_card(raw),
                            "ignoring a malformed NFC UID"
                        )
                    }
                }
            }
        }
        Op::DelPatron { card } => {
            conn.prepare_cached("DELETE FROM patrons WHERE card = ?1")?
                .execute([card])?;
            conn.prepare_cached("DELETE FROM patron_uids WHERE card = ?1")?
                .execute([card])?;
        }
        Op::PutRecord(r) => {
            let rowid: i64 = conn
                .prepare_cached(
                    "INSERT INTO records
                     (id, title, author, subjects, isbn, year, publisher, call_number, title_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(id) DO UPDATE SET title = excluded.title,
                     author = excluded.author, subjects = excluded.subjects,
                     isbn = excluded.isbn, year = excluded.year,
                     publisher = excluded.publisher, call_number = excluded.call_number,
                     title_key = excluded.title_key
                     RETURNING rowid",
                )?
                .query_row(record_values(r)?, |row| row.get(0))?;
            rong_sqlite::search::index_record(
                conn,
                rowid,
                &r.title,
                &r.author,
                &r.subjects,
                r.isbn.as_deref(),
                &r.call_number,
            )?;
        }
        Op::DelRecord { id } => {
            let rowid: Option<i64> = conn
                .prepare_cached("SELECT rowid FROM records WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            if let Some(rowid) = rowid {
                rong_sqlite::search::unindex_record(conn, rowid)?;
                conn.prepare_cached("DELETE FROM records WHERE rowid = ?1")?
                    .execute([rowid])?;
            }
        }
        Op::PutItem(i) => reference::put_item(conn, i)?,
        Op::DelItem { barcode } => {
            conn.prepare_cached("DELETE FROM items WHERE barcode = ?1")?
                .execute([barcode])?;
        }
        Op::PutLoan(l) => {
            if has_pending(conn, &l.item)? {
                return Ok(false);
            }
            put_loan(conn, l)?;
        }
        Op::DelLoan { item } => {
            if has_pending(conn, item)? {
                return Ok(false);
            }
            del_loan(conn, item)?;
        }
        Op::PutClosedDay(c) => reference::put_closed_day(conn, c)?,
        Op::DelClosedDay { branch, date } => {
            conn.prepare_cached("DELETE FROM closed_days WHERE branch = ?1 AND date = ?2")?
                .execute([branch.as_str(), &date.to_string()])?;
        }
    }
    Ok(true)
}

pub(super) fn put_loan(conn: &Connection, l: &Loan) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO loans (item, patron, due, renewals) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![l.item, l.patron, l.due.to_string(), l.renewals])?;
    Ok(())
}

pub(super) fn del_loan(conn: &Connection, item: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM loans WHERE item = ?1")?
        .execute([item])?;
    Ok(())
}

/// What a delta did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaResult {
    /// Applied, ignored, or a gap.
    pub action: DeltaAction,
    /// The version held afterwards.
    pub version: u64,
    /// Loan ops skipped because of unacked local events.
    pub skipped_loans: usize,
}

impl Store {
    /// A patron by card number.
    pub fn patron_by_card(&self, card: &str) -> Result<Option<Patron>, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT card, name, category, branch, blocked, expires, has_pin, pin_required, staff
                 FROM patrons WHERE card = ?1",
            )?
            .query_row([card], |r| {
                Ok(Patron {
                    card: r.get(0)?,
                    nfc_uids: Vec::new(),
                    name: r.get(1)?,
                    category: r.get(2)?,
                    branch: branch_id(r, 3)?,
                    blocked: r.get(4)?,
                    expires: col_opt_date(r, 5)?,
                    has_pin: r.get(6)?,
                    pin_required: r.get(7)?,
                    staff: r.get(8)?,
                })
            })
            .optional()?;
        let Some(mut p) = found else {
            return Ok(None);
        };
        p.nfc_uids = query_list(
            &self.conn,
            "SELECT uid FROM patron_uids WHERE card = ?1 ORDER BY uid",
            [card],
            |r| r.get(0),
        )?;
        Ok(Some(p))
    }

    /// A patron by NFC UID (any spelling [`normalise_uid`] accepts).
    pub fn patron_by_uid(&self, raw: &str) -> Result<Option<Patron>, StoreError> {
        let Some(uid) = normalise_uid(raw) else {
            return Ok(None);
        };
        let card: Option<String> = self
            .conn
            .prepare_cached("SELECT card FROM patron_uids WHERE uid = ?1")?
            .query_row([uid], |r| r.get(0))
            .optional()?;
        match card {
            Some(c) => self.patron_by_card(&c),
            None => Ok(None),
        }
    }

    /// A branch.
    pub fn branch(&self, id: &BranchId) -> Result<Option<Branch>, StoreError> {
        Ok(query_opt(
            &self.conn,
            "SELECT id, name, closed_weekdays, require_pin FROM branches WHERE id = ?1",
            [id.as_str()],
            from_row!(Branch => id: branch_id, name, closed_weekdays: weekdays_at, require_pin),
        )?)
    }

    /// A patron category.
    pub fn category(&self, id: &str) -> Result<Option<Category>, StoreError> {
        Ok(query_opt(
            &self.conn,
            "SELECT id, name, max_loans FROM categories WHERE id = ?1",
            [id],
            from_row!(Category => id, name, max_loans),
        )?)
    }

    /// Every loan rule.
    pub fn rules(&self) -> Result<Vec<LoanRule>, StoreError> {
        Ok(query_list(
            &self.conn,
            "SELECT category, item_type, loan_days, max_renewals FROM loan_rules",
            [],
            from_row!(LoanRule => category, item_type, loan_days, max_renewals),
        )?)
    }

    /// A branch's closed days from `from` on.
    pub fn closed_days(
        &self,
        branch: &BranchId,
        from: NaiveDate,
    ) -> Result<Vec<ClosedDay>, StoreError> {
        Ok(query_list(
            &self.conn,
            "SELECT branch, date, reason FROM closed_days
             WHERE branch = ?1 AND date >= ?2 ORDER BY date",
            [branch.as_str(), &from.to_string()],
            from_row!(ClosedDay => branch: branch_id, date: col_date, reason),
        )?)
    }

    /// An item by barcode.
    pub fn item(&self, barcode: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {ITEM_COLS} FROM items WHERE barcode = ?1"))?
            .query_row([barcode], item_row)
            .optional()?)
    }

    /// Searches the records held here for "find a book": the best `limit` hits, each with
    /// the call number and shelf of the copies here and the copies at each branch.
    pub fn search(
        &self,
        q: &rong_protocol::search::Query,
        limit: usize,
        here: &BranchId,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let rowids = rong_sqlite::search::ranked_rowids(&self.conn, q, limit)?;
        let mut hits = Vec::with_capacity(rowids.len());
        for rowid in rowids {
            let rec = self
                .conn
                .prepare_cached(
                    "SELECT id, title, author, year, call_number FROM records WHERE rowid = ?1",
                )?
                .query_row([rowid], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<i32>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .optional()?;
            let Some((record, title, author, year, record_call)) = rec else {
                continue;
            };
            let mut stmt = self.conn.prepare_cached(
                "SELECT i.home_branch, COALESCE(b.name, i.home_branch),
                        SUM(i.status IN ('available', 'not_for_loan')),
                        SUM(i.status = 'available' AND l.item IS NULL),
                        MAX(CASE WHEN i.home_branch = ?2 THEN i.call_number END),
                        MAX(CASE WHEN i.home_branch = ?2 THEN NULLIF(i.shelf, '') END)
                 FROM items i
                 LEFT JOIN loans l ON l.item = i.barcode
                 LEFT JOIN branches b ON b.id = i.home_branch
                 WHERE i.record = ?1
                 GROUP BY i.home_branch ORDER BY i.home_branch",
            )?;
            let mut rows = stmt.query(params![record, here.as_str()])?;
            let mut hit = SearchHit {
                record,
                title,
                author,
                year,
                call_number: record_call,
                shelf: None,
                available_here: 0,
                total_here: 0,
                elsewhere: Vec::new(),
            };
            while let Some(row) = rows.next()? {
                let branch = branch_id(row, 0)?;
                let total: u32 = row.get(2)?;
                let available: u32 = row.get(3)?;
                if &branch == here {
                    hit.total_here = total;
                    hit.available_here = available;
                    if let Some(call) = row.get::<_, Option<String>>(4)?.filter(|c| !c.is_empty()) {
                        hit.call_number = call;
                    }
                    hit.shelf = row.get(5)?;
                } else if total > 0 {
                    hit.elsewhere.push(BranchAvailability {
                        branch,
                        name: row.get(1)?,
                        available,
                        total,
                    });
                }
            }
            hits.push(hit);
        }
        Ok(hits)
    }

    /// The current loan of an item.
    pub fn loan(&self, item: &str) -> Result<Option<Loan>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT item, patron, due, renewals FROM loans WHERE item = ?1")?
            .query_row([item], loan_row)
            .optional()?)
    }

    /// How many loans a patron holds.
    pub fn loan_count(&self, patron: &str) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM loans WHERE patron = ?1")?
            .query_row([patron], |r| r.get(0))?)
    }

    /// A patron's loans with titles (when the item is known), soonest due first.
    pub fn loans_of(&self, patron: &str) -> Result<Vec<(Loan, Option<String>)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.item, l.patron, l.due, l.renewals, i.title
             FROM loans l LEFT JOIN items i ON i.barcode = l.item
             WHERE l.patron = ?1 ORDER BY l.due, l.item",
        )?;
        let loans = stmt
            .query_map([patron], |r| Ok((loan_row(r)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        Ok(loans)
    }

    /// Applies a delta in one transaction when the version rule allows it.
    pub fn apply_delta(&mut self, delta: &Delta) -> Result<DeltaResult, StoreError> {
        let tx = self.conn.transaction()?;
        let mine = meta_u64(&tx, "version")?;
        let action = classify_delta(mine, delta.from_version, delta.to_version);
        let mut skipped_loans = 0;
        if action == DeltaAction::Apply {
            for op in &delta.ops {
                if !apply_op(&tx, op)? {
                    skipped_loans += 1;
                }
            }
            set_meta(&tx, "version", &delta.to_version.to_string())?;
            tx.commit()?;
        }
        Ok(DeltaResult {
            action,
            version: if action == DeltaAction::Apply {
                delta.to_version
            } else {
                mine
            },
            skipped_loans,
        })
    }

    /// Replaces all reference data with a snapshot's ops, in one transaction: the event
    /// log and the loans of items with unacked events stay. Any bad op rolls it all back.
    ///
    /// The tables are emptied first, so records go in without the look-ups an update
    /// needs; the secondary indexes are dropped for the load and built again from the
    /// sorted rows at its end, inside the same transaction.
    pub fn replace_reference<E: std::fmt::Display>(
        &mut self,
        version: u64,
        ops: impl Iterator<Item = Result<Op, E>>,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM branches; DELETE FROM categories; DELETE FROM loan_rules;
             DELETE FROM patrons; DELETE FROM patron_uids; DELETE FROM items;
             DELETE FROM closed_days; DELETE FROM records;
             INSERT INTO records_fts (records_fts) VALUES ('delete-all');
             DELETE FROM loans WHERE item NOT IN
                 (SELECT item FROM events WHERE acked = 0 AND item IS NOT NULL);",
        )?;
        tx.execute_batch(DROP_LOAD_INDEXES)?;
        let mut count = 0u64;
        for op in ops {
            let op =
                op.map_err(|e| StoreError::Refused(format!("snapshot line {}: {e}", count + 2)))?;
            match &op {
                Op::PutRecord(r) => load_record(&tx, r)?,
                _ => {
                    apply_op(&tx, &op)?;
                }
            }
            count += 1;
        }
        tx.execute_batch(CREATE_LOAD_INDEXES)?;
        index_loaded_records(&tx)?;
        set_meta(&tx, "version", &version.to_string())?;
        tx.commit()?;
        Ok(count)
    }
}
