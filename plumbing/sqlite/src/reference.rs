//! The reference tables central and the devices both keep: branches, categories, loan
//! rules, closed days, patrons and items, with the same columns on both sides. Each
//! function writes one row, replacing the one it had; what else a write means (central's
//! change log, a patron's NFC UIDs) stays with the store that needs it.

use rong_protocol::delta::{Branch, Category, ClosedDay, Item, ItemStatus, LoanRule, Patron};
use rusqlite::{params, Connection};

/// An item status as stored.
pub fn item_status_str(s: ItemStatus) -> &'static str {
    match s {
        ItemStatus::Available => "available",
        ItemStatus::NotForLoan => "not_for_loan",
        ItemStatus::Lost => "lost",
        ItemStatus::Withdrawn => "withdrawn",
    }
}

/// An item status from its stored text; `None` for text no status has.
pub fn item_status_parse(s: &str) -> Option<ItemStatus> {
    Some(match s {
        "available" => ItemStatus::Available,
        "not_for_loan" => ItemStatus::NotForLoan,
        "lost" => ItemStatus::Lost,
        "withdrawn" => ItemStatus::Withdrawn,
        _ => return None,
    })
}

/// Writes a branch; its closed weekdays are stored as a JSON array.
pub fn put_branch(c: &Connection, b: &Branch) -> rusqlite::Result<()> {
    let days = serde_json::to_string(&b.closed_weekdays)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    c.prepare_cached(
        "INSERT OR REPLACE INTO branches (id, name, closed_weekdays, require_pin) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![b.id.as_str(), b.name, days, b.require_pin])?;
    Ok(())
}

/// Writes a patron category.
pub fn put_category(c: &Connection, k: &Category) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO categories (id, name, max_loans) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![k.id, k.name, k.max_loans])?;
    Ok(())
}

/// Writes a loan rule.
pub fn put_rule(c: &Connection, r: &LoanRule) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO loan_rules (category, item_type, loan_days, max_renewals) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        r.category,
        r.item_type,
        r.loan_days,
        r.max_renewals
    ])?;
    Ok(())
}

/// Writes a closed day.
pub fn put_closed_day(c: &Connection, d: &ClosedDay) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO closed_days (branch, date, reason) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![d.branch.as_str(), d.date.to_string(), d.reason])?;
    Ok(())
}

/// Writes a patron's row, not its NFC UIDs. An update keeps the row (rather than deleting
/// and inserting it), so rows that refer to the card are not cascaded away.
pub fn put_patron(c: &Connection, p: &Patron) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO patrons (card, name, category, branch, blocked, expires, has_pin, pin_required, staff) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT(card) DO UPDATE SET name = excluded.name, category = excluded.category, \
         branch = excluded.branch, blocked = excluded.blocked, expires = excluded.expires, \
         has_pin = excluded.has_pin, pin_required = excluded.pin_required, staff = excluded.staff",
    )?
    .execute(params![
        p.card,
        p.name,
        p.category,
        p.branch.as_str(),
        p.blocked,
        p.expires.map(|d| d.to_string()),
        p.has_pin,
        p.pin_required,
        p.staff
    ])?;
    Ok(())
}

/// Writes an item.
pub fn put_item(c: &Connection, i: &Item) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO items \
         (barcode, record, title, author, call_number, item_type, home_branch, status, shelf) \
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
        item_status_str(i.status),
        i.shelf
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_statuses_round_trip() {
        for s in [
            ItemStatus::Available,
            ItemStatus::NotForLoan,
            ItemStatus::Lost,
            ItemStatus::Withdrawn,
        ] {
            assert_eq!(item_status_parse(item_status_str(s)), Some(s));
        }
        assert_eq!(item_status_parse("on_fire"), None);
    }
}
