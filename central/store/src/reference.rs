//! Reference data: branches, categories, loan rules, the calendar, patrons and items.
//! Every write appends its `Op` to the change log in the same transaction.

use rong_protocol::delta::{Branch, Category, ClosedDay, Item, ItemStatus, LoanRule, Op, Patron};
use rong_protocol::ids::BranchId;
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

pub(super) fn status_str(s: ItemStatus) -> &'static str {
    match s {
        ItemStatus::Available => "available",
        ItemStatus::NotForLoan => "not_for_loan",
        ItemStatus::Lost => "lost",
        ItemStatus::Withdrawn => "withdrawn",
    }
}

fn status_from(s: &str) -> ItemStatus {
    match s {
        "not_for_loan" => ItemStatus::NotForLoan,
        "lost" => ItemStatus::Lost,
        "withdrawn" => ItemStatus::Withdrawn,
        _ => ItemStatus::Available,
    }
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

pub(super) fn branch_row(r: &Row<'_>) -> rusqlite::Result<Branch> {
    let days: String = r.get(2)?;
    Ok(Branch {
        id: branch_id(r.get(0)?, 0)?,
        name: r.get(1)?,
        closed_weekdays: serde_json::from_str(&days).unwrap_or_default(),
        require_pin: r.get(3)?,
    })
}

pub(super) const ITEM_COLS: &str =
    "barcode, record, title, author, call_number, item_type, home_branch, status, shelf";

pub(super) fn item_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        barcode: r.get(0)?,
        record: r.get(1)?,
        title: r.get(2)?,
        author: r.get(3)?,
        call_number: r.get(4)?,
        item_type: r.get(5)?,
        home_branch: branch_id(r.get(6)?, 6)?,
        status: status_from(&r.get::<_, String>(7)?),
        shelf: r.get(8)?,
    })
}

pub(super) const PATRON_COLS: &str =
    "card, name, category, branch, blocked, expires, pin_hash, pin_required, staff, \
     (SELECT json_group_array(uid) FROM patron_uids u WHERE u.card = patrons.card)";

pub(super) fn patron_row(r: &Row<'_>) -> rusqlite::Result<Patron> {
    let uids: String = r.get(9)?;
    let mut nfc_uids: Vec<String> = serde_json::from_str(&uids).unwrap_or_default();
    nfc_uids.sort();
    Ok(Patron {
        card: r.get(0)?,
        nfc_uids,
        name: r.get(1)?,
        category: r.get(2)?,
        branch: branch_id(r.get(3)?, 3)?,
        blocked: r.get(4)?,
        expires: r
            .get::<_, Option<String>>(5)?
            .map(|s| date(s, 5))
            .transpose()?,
        pin_hash: r.get(6)?,
        pin_required: r.get(7)?,
        staff: r.get(8)?,
    })
}

/// Loads the cached reference tables.
pub(super) fn load_cache(conn: &Connection) -> Result<RefCache, StoreError> {
    Ok(RefCache {
        branches: query_list(
            conn,
            "SELECT id, name, closed_weekdays, require_pin FROM branches ORDER BY id",
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
            |r| {
                Ok(ClosedDay {
                    branch: branch_id(r.get(0)?, 0)?,
                    date: date(r.get(1)?, 1)?,
                    reason: r.get(2)?,
                })
            },
        )?,
    })
}

pub(super) fn put_branch(
    c: &Connection,
    b: &Branch,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO branches (id, name, closed_weekdays, require_pin) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![b.id.as_str(), b.name, serde_json::to_string(&b.closed_weekdays)?, b.require_pin])?;
    append(c, Op::PutBranch(b.clone()), applied)?;
    Ok(())
}

pub(super) fn put_category(
    c: &Connection,
    k: &Category,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO categories (id, name, max_loans) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![k.id, k.name, k.max_loans])?;
    append(c, Op::PutCategory(k.clone()), applied)?;
    Ok(())
}

pub(super) fn put_rule(
    c: &Connection,
    r: &LoanRule,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO loan_rules (category, item_type, loan_days, max_renewals) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![r.category, r.item_type, r.loan_days, r.max_renewals])?;
    append(c, Op::PutRule(r.clone()), applied)?;
    Ok(())
}

pub(super) fn put_closed_day(
    c: &Connection,
    d: &ClosedDay,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO closed_days (branch, date, reason) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![d.branch.as_str(), d.date.to_string(), d.reason])?;
    append(c, Op::PutClosedDay(d.clone()), applied)?;
    Ok(())
}

pub(super) fn put_patron(
    c: &Connection,
    p: &Patron,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO patrons (card, name, category, branch, blocked, expires, pin_hash, pin_required, staff) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT(card) DO UPDATE SET name = excluded.name, category = excluded.category, \
         branch = excluded.branch, blocked = excluded.blocked, expires = excluded.expires, \
         pin_hash = excluded.pin_hash, pin_required = excluded.pin_required, staff = excluded.staff",
    )?
    .execute(params![
        p.card,
        p.name,
        p.category,
        p.branch.as_str(),
        p.blocked,
        p.expires.map(|d| d.to_string()),
        p.pin_hash,
        p.pin_required,
        p.staff
    ])?;
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

pub(super) fn put_item(c: &Connection, i: &Item, applied: &mut Applied) -> Result<(), StoreError> {
    write_item(c, i)?;
    append(c, Op::PutItem(i.clone()), applied)?;
    Ok(())
}

/// Writes an item's row without a change-log entry (a bulk import announces itself with
/// one snapshot marker instead).
pub(super) fn write_item(c: &Connection, i: &Item) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO items (barcode, record, title, author, call_number, item_type, home_branch, status, shelf) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        i.barcode,
        i.record,
        i.title,
        i.author,
        i.call_number,
        i.item_type,
        i.home_branch.as_str(),
        status_str(i.status),
        i.shelf
    ])?;
    Ok(())
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
        put_patron(&tx, &p, &mut applied)?;
        tx.commit()?;
        Ok((p, applied))
    }

    /// Inserts or replaces reference data in one transaction (used by tests and imports).
    pub fn put_ops(&mut self, ops: &[Op]) -> Result<Applied, StoreError> {
        let tx = self.conn.transaction()?;
        let mut applied = Applied::default();
        for op in ops {
            match op {
                Op::PutBranch(b) => put_branch(&tx, b, &mut applied)?,
                Op::PutCategory(k) => put_category(&tx, k, &mut applied)?,
                Op::PutRule(r) => put_rule(&tx, r, &mut applied)?,
                Op::PutClosedDay(d) => put_closed_day(&tx, d, &mut applied)?,
                Op::PutPatron(p) => put_patron(&tx, p, &mut applied)?,
                Op::PutItem(i) => put_item(&tx, i, &mut applied)?,
                other => {
                    return Err(StoreError::Conflict(format!(
                        "put_ops takes reference puts only, not {other:?}"
                    )))
                }
            }
        }
        tx.commit()?;
        Ok(applied)
    }
}
