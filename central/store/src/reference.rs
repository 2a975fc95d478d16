//! Reference data: branches, categories, loan rules, the calendar, patrons and items.
//! Every write appends its `Op` to the change log in the same transaction.

use rong_protocol::delta::{Branch, Category, ClosedDay, Item, ItemStatus, LoanRule, Op, Patron};
use rong_protocol::ids::BranchId;
use rong_sqlite::reference::{self, item_status_parse};
use rong_sqlite::{from_row, query_list};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::changes::{append, Applied};
use super::{Store, StoreError};

/// The small reference tables the ingest rules need, cached by the writer.
#[derive(Debug, Clone, Default)]
pub struct RefCache {
    /// Branches.
    pub branches: Vec<Branch>,
    /// Patron categories.
    pub categories: Vec<Category>,
    /// Loan rules.
    pub rules: Vec<LoanRule>,
    /// Closed days.
    pub closed_days: Vec<ClosedDay>,
}

/// The item status in column `i`; text no status has reads as available.
fn status_at(r: &Row<'_>, i: usize) -> rusqlite::Result<ItemStatus> {
    Ok(item_status_parse(&r.get::<_, String>(i)?).unwrap_or(ItemStatus::Available))
}

fn branch_id(s: String, idx: usize) -> rusqlite::Result<BranchId> {
    BranchId::new(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn date(s: String, idx: usize) -> rusqlite::Result<chrono::NaiveDate> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The branch id in column `i`.
fn branch_at(r: &Row<'_>, i: usize) -> rusqlite::Result<BranchId> {
    branch_id(r.get(i)?, i)
}

/// The ISO date in column `i`.
pub(super) fn date_at(r: &Row<'_>, i: usize) -> rusqlite::Result<chrono::NaiveDate> {
    date(r.get(i)?, i)
}

/// The ISO date, if any, in column `i`.
fn opt_date_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<chrono::NaiveDate>> {
    r.get::<_, Option<String>>(i)?
        .map(|s| date(s, i))
        .transpose()
}

pub(super) const BRANCH_COLS: &str = "id, name, closed_weekdays, require_pin";

pub(super) fn branch_row(r: &Row<'_>) -> rusqlite::Result<Branch> {
    from_row!(Branch => id: branch_at, name, closed_weekdays: weekdays_at, require_pin)(r)
}

/// The JSON array of closed weekdays in column `i`; unreadable JSON reads as none.
fn weekdays_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    let days: String = r.get(i)?;
    Ok(serde_json::from_str(&days).unwrap_or_default())
}

pub(super) const ITEM_COLS: &str =
    "barcode, record, title, author, call_number, item_type, home_branch, status, shelf";

pub(super) fn item_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    from_row!(Item => barcode, record, title, author, call_number, item_type,
        home_branch: branch_at, status: status_at, shelf)(r)
}

pub(super) const PATRON_COLS: &str =
    "card, name, category, branch, blocked, expires, has_pin, pin_required, staff, \
     (SELECT json_group_array(uid) FROM patron_uids u WHERE u.card = patrons.card)";

pub(super) fn patron_row(r: &Row<'_>) -> rusqlite::Result<Patron> {
    from_row!(Patron => card, name, category, branch: branch_at, blocked, expires: opt_date_at,
        has_pin, pin_required, staff, nfc_uids: uids_at)(r)
}

/// The JSON array of NFC UIDs in column `i`, sorted; unreadable JSON reads as none.
fn uids_at(r: &Row<'_>, i: usize) -> rusqlite::Result<Vec<String>> {
    let uids: String = r.get(i)?;
    let mut nfc_uids: Vec<String> = serde_json::from_str(&uids).unwrap_or_default();
    nfc_uids.sort();
    Ok(nfc_uids)
}

/// Loads the cached reference tables.
pub(super) fn load_cache(conn: &Connection) -> Result<RefCache, StoreError> {
    Ok(RefCache {
        branches: query_list(
            conn,
            &format!("SELECT {BRANCH_COLS} FROM branches ORDER BY id"),
            [],
            branch_row,
        )?,
        categories: query_list(
            conn,
            "SELECT id, name, max_loans FROM categories ORDER BY id",
            [],
            from_row!(Category => id, name, max_loans),
        )?,
        rules: query_list(
            conn,
            "SELECT category, item_type, loan_days, max_renewals FROM loan_rules \
             ORDER BY category, item_type",
            [],
            from_row!(LoanRule => category, item_type, loan_days, max_renewals),
        )?,
        closed_days: query_list(
            conn,
            "SELECT branch, date, reason FROM closed_days ORDER BY branch, date",
            [],
            from_row!(ClosedDay => branch: branch_at, date: date_at, reason),
        )?,
    })
}

/// Writes a reference put and appends its op to the change log; anything but a put of
/// reference data is a conflict.
pub(super) fn put(c: &Connection, op: Op, applied: &mut Applied) -> Result<(), StoreError> {
    match &op {
        Op::PutBranch(b) => reference::put_branch(c, b)?,
        Op::PutCategory(k) => reference::put_category(c, k)?,
        Op::PutRule(r) => reference::put_rule(c, r)?,
        Op::PutClosedDay(d) => reference::put_closed_day(c, d)?,
        Op::PutItem(i) => write_item(c, i)?,
        Op::PutPatron(p) => return put_patron(c, p, None, applied),
        other => {
            return Err(StoreError::Conflict(format!(
                "put_ops takes reference puts only, not {other:?}"
            )))
        }
    }
    append(c, op, applied)?;
    Ok(())
}

/// The argon2id PHC hash of `card`'s PIN, if the reader has one. Only central reads it:
/// no column of `patron_pins` goes to a device.
pub fn pin_hash(c: &Connection, card: &str) -> Result<Option<String>, StoreError> {
    Ok(
        c.prepare_cached("SELECT hash FROM patron_pins WHERE card = ?1")?
            .query_row(params![card], |r| r.get(0))
            .optional()?,
    )
}

/// Sets `card`'s PIN hash (the patron's row must exist).
pub(crate) fn set_pin_hash(c: &Connection, card: &str, hash: &str) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO patron_pins (card, hash) VALUES (?1, ?2) \
         ON CONFLICT(card) DO UPDATE SET hash = excluded.hash",
    )?
    .execute(params![card, hash])?;
    Ok(())
}

/// Writes a patron, with `new_pin_hash` as its PIN's hash when given (otherwise the PIN
/// stays as it is). Whether the reader has a PIN is central's to say, from `patron_pins`,
/// whatever `p.has_pin` says.
pub(super) fn put_patron(
    c: &Connection,
    p: &Patron,
    new_pin_hash: Option<&str>,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    let mut p = p.clone();
    p.has_pin = new_pin_hash.is_some() || pin_hash(c, &p.card)?.is_some();
    reference::put_patron(c, &p)?;
    if let Some(hash) = new_pin_hash {
        set_pin_hash(c, &p.card, hash)?;
    }
    c.prepare_cached("DELETE FROM patron_uids WHERE card = ?1")?
        .execute(params![p.card])?;
    // A UID is one physical card: binding it here takes it away from any other patron,
    // and the devices must hear of that patron's change too.
    let mut owner = c.prepare_cached("SELECT card FROM patron_uids WHERE uid = ?1")?;
    let mut ins =
        c.prepare_cached("INSERT OR REPLACE INTO patron_uids (uid, card) VALUES (?1, ?2)")?;
    let mut losers: Vec<String> = Vec::new();
    for uid in &p.nfc_uids {
        let old: Option<String> = owner.query_row(params![uid], |r| r.get(0)).optional()?;
        if let Some(old) = old.filter(|o| *o != p.card && !losers.contains(o)) {
            losers.push(old);
        }
        ins.execute(params![uid, p.card])?;
    }
    append(c, Op::PutPatron(p.clone()), applied)?;
    for card in losers {
        if let Some(other) = patron(c, &card)? {
            append(c, Op::PutPatron(other), applied)?;
        }
    }
    Ok(())
}

/// Writes an item's row without a change-log entry (a bulk import announces itself with
/// one snapshot marker instead).
pub(super) fn write_item(c: &Connection, i: &Item) -> Result<(), StoreError> {
    Ok(reference::put_item(c, i)?)
}

/// Reads a branch by id.
pub fn branch(conn: &Connection, id: &str) -> Result<Option<Branch>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {BRANCH_COLS} FROM branches WHERE id = ?1"))?
        .query_row(params![id], branch_row)
        .optional()?)
}

/// Reads a patron by card.
pub fn patron(conn: &Connection, card: &str) -> Result<Option<Patron>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {PATRON_COLS} FROM patrons WHERE card = ?1"
        ))?
        .query_row(params![card], patron_row)
        .optional()?)
}

impl Store {
    /// The cached reference tables, read fresh.
    pub fn ref_cache(&self) -> Result<RefCache, StoreError> {
        load_cache(&self.conn)
    }

    /// Sets (`Some(reason)`) or lifts (`None`) a patron's block, appending a `PutPatron`.
    pub fn set_block(
        &mut self,
        card: &str,
        reason: Option<&str>,
    ) -> Result<(Patron, Applied), StoreError> {
        let tx = self.conn.transaction()?;
        let mut p =
            patron(&tx, card)?.ok_or_else(|| StoreError::NotFound(format!("patron {card}")))?;
        p.blocked = reason.map(str::to_owned);
        let mut applied = Applied::default();
        put_patron(&tx, &p, None, &mut applied)?;
        tx.commit()?;
        Ok((p, applied))
    }

    /// Inserts or replaces reference data in one transaction (used by tests and imports).
    pub fn put_ops(&mut self, ops: &[Op]) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let mut applied = Applied::default();
        for op in ops {
            put(&tx, op.clone(), &mut applied)?;
        }
        tx.commit()?;
        Ok(applied)
    }
}
