//! The librarians' daily lists: overdue loans with the readers' contacts, new readers of a
//! month, and memberships about to expire; of one branch or all.

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use crate::StoreError;

/// The most rows a list gives.
pub const MAX_ROWS: usize = 500;

/// An overdue loan with what a librarian needs to call the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    /// Item barcode.
    pub item: String,
    /// Its title.
    pub title: String,
    /// The reader's card.
    pub card: String,
    /// The reader's name.
    pub name: String,
    /// Phone, if known.
    pub phone: Option<String>,
    /// E-mail, if known.
    pub email: Option<String>,
    /// Due date.
    pub due: NaiveDate,
    /// The branch that lent it.
    pub branch: String,
}

/// A reader in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderLine {
    /// Card.
    pub card: String,
    /// Name.
    pub name: String,
    /// Category.
    pub category: String,
    /// Home branch.
    pub branch: String,
    /// Valid until.
    pub expires: Option<NaiveDate>,
}

fn date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| s.parse().ok())
}

/// Loans due before `today` and not returned, oldest first.
pub fn overdue(
    c: &Connection,
    branch: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<Overdue>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT l.item, coalesce(i.title, ''), l.patron, coalesce(p.name, ''), p.phone, p.email, l.due, l.branch \
         FROM loans l LEFT JOIN items i ON i.barcode = l.item LEFT JOIN patrons p ON p.card = l.patron \
         WHERE l.returned_at IS NULL AND l.due < ?1 AND (?2 IS NULL OR l.branch = ?2) \
         ORDER BY l.due, l.item LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![today.to_string(), branch, MAX_ROWS as i64], |r| {
        Ok(Overdue {
            item: r.get(0)?,
            title: r.get(1)?,
            card: r.get(2)?,
            name: r.get(3)?,
            phone: r.get(4)?,
            email: r.get(5)?,
            due: date(Some(r.get(6)?)).unwrap_or_default(),
            branch: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn readers(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<ReaderLine>, StoreError> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| {
        Ok(ReaderLine {
            card: r.get(0)?,
            name: r.get(1)?,
            category: r.get(2)?,
            branch: r.get(3)?,
            expires: date(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Readers registered at or after `since_ms`, newest first.
pub fn new_readers(
    c: &Connection,
    branch: Option<&str>,
    since_ms: i64,
) -> Result<Vec<ReaderLine>, StoreError> {
    readers(
        c,
        "SELECT card, name, category, branch, expires FROM patrons \
         WHERE registered_at >= ?1 AND (?2 IS NULL OR branch = ?2) ORDER BY registered_at DESC LIMIT ?3",
        params![since_ms, branch, MAX_ROWS as i64],
    )
}

/// Memberships that end from `from` to `to`, soonest first.
pub fn expiring(
    c: &Connection,
    branch: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ReaderLine>, StoreError> {
    readers(
        c,
        "SELECT card, name, category, branch, expires FROM patrons \
         WHERE expires BETWEEN ?1 AND ?2 AND (?3 IS NULL OR branch = ?3) ORDER BY expires, card LIMIT ?4",
        params![from.to_string(), to.to_string(), branch, MAX_ROWS as i64],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use rong_protocol::delta::{Op, Patron};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_lists_hold_what_they_should_and_only_for_their_branch() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        s.put_ops(&[
            Op::PutBranch(rong_tests::fixtures::branch("kontum")),
            Op::PutPatron(Patron {
                expires: Some(d(2026, 12, 20)),
                ..rong_tests::fixtures::patron("P1")
            }),
            Op::PutItem(rong_tests::fixtures::item("KT1")),
            Op::PutItem(rong_tests::fixtures::item("KT2")),
        ])
        .unwrap();
        let c = s.reader();
        c.execute(
            "UPDATE patrons SET phone = '0905', registered_at = 5000 WHERE card = 'P1'",
            [],
        )
        .unwrap();
        for (item, due, returned) in [("KT1", "2026-11-30", None), ("KT2", "2026-11-01", Some(1))] {
            c.execute(
                "INSERT INTO loans (item, patron, branch, loaned_at, due, returned_at) \
                 VALUES (?1, 'P1', 'kontum', 0, ?2, ?3)",
                params![item, due, returned],
            )
            .unwrap();
        }
        let late = overdue(c, Some("kontum"), d(2026, 12, 4)).unwrap();
        assert_eq!(late.len(), 1, "a returned loan is not overdue");
        assert_eq!(late[0].item, "KT1");
        assert_eq!(late[0].phone.as_deref(), Some("0905"));
        assert!(overdue(c, Some("dakto"), d(2026, 12, 4))
            .unwrap()
            .is_empty());
        assert!(
            overdue(c, None, d(2026, 11, 30)).unwrap().is_empty(),
            "due today is not late"
        );
        assert_eq!(new_readers(c, None, 4000).unwrap().len(), 1);
        assert!(new_readers(c, None, 6000).unwrap().is_empty());
        assert_eq!(
            expiring(c, Some("kontum"), d(2026, 12, 4), d(2027, 1, 3))
                .unwrap()
                .len(),
            1
        );
        assert!(expiring(c, None, d(2026, 12, 21), d(2027, 1, 3))
            .unwrap()
            .is_empty());
    }
}
