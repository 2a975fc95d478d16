//! The circulation desk at central: lending, returns and renewals by staff at a counter,
//! decided by the same functions the kiosks use ([`rong_lending`]) over central's own
//! data, and the items in transit between branches.
//!
//! A desk act runs on the writer, in one transaction. A refusal is an answer, not an error:
//! the desk shows it, and staff may override the ones a person may judge (a blocked or
//! expired card, the loan limit, an item not for loan, the renewal limit, an overdue
//! renewal) with a reason, which the loan keeps. Unknown cards and items, and an item the
//! reader already has, are never overridden.
//!
//! Transit: an item taken back at another branch than its own is in transit until it is
//! scanned at home (a return or a loan there), whether at a desk or at a kiosk
//! ([`note_scan`], called by the event ingest too).

use chrono::NaiveDate;
use rong_lending::{check_patron, LendingContext, Refusal};
use rong_protocol::api::ErrorCode;
use rong_protocol::delta::{Branch, Item, Loan, Op, Patron};
use rong_protocol::time::local_date;
use rong_sqlite::{from_row, query_list, query_opt};
use rusqlite::{params, Connection, OptionalExtension};

use crate::changes::{append, Applied};
use crate::reference::{item_row, patron, RefCache, ITEM_COLS};
use crate::{Store, StoreError};

/// The longest override reason kept.
pub const MAX_REASON_CHARS: usize = 200;

/// The loan length an override gives where no rule lends the item at all.
pub const OVERRIDE_LOAN_DAYS: u32 = 14;

/// Where and by whom a desk act is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskAt {
    /// The desk's branch.
    pub branch: String,
    /// The staff user at the desk.
    pub staff: String,
    /// Now (ms).
    pub now_ms: i64,
    /// The library's offset from UTC, for "today".
    pub utc_offset_min: i32,
}

impl DeskAt {
    fn today(&self) -> NaiveDate {
        local_date(self.now_ms, self.utc_offset_min)
    }
}

/// What staff asked the desk to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskAct {
    /// Lend `item` to the reader with `card`, overriding a refusal when a reason is given.
    Lend {
        /// Card.
        card: String,
        /// Item barcode.
        item: String,
        /// Why a refusal is overridden.
        override_reason: Option<String>,
    },
    /// Take `item` back.
    Return {
        /// Item barcode.
        item: String,
    },
    /// Renew `item` for the reader with `card`.
    Renew {
        /// Card.
        card: String,
        /// Item barcode.
        item: String,
        /// Why a refusal is overridden.
        override_reason: Option<String>,
    },
}

/// What a desk act did (or why it did nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskDone {
    /// The item's barcode.
    pub item: String,
    /// Its title, when the item is known.
    pub title: String,
    /// The due date given (lend, renew).
    pub due: Option<NaiveDate>,
    /// The refusal, when nothing was done.
    pub refused: Option<Refusal>,
    /// Whether a refusal may be overridden with a reason.
    pub overridable: bool,
    /// Whether this act overrode a refusal.
    pub overridden: bool,
    /// A return: who had the item.
    pub patron: Option<String>,
    /// A loan: the reader who still had the item (a missed return, now closed).
    pub previous_patron: Option<String>,
    /// A return at another branch: the item's home, where it now goes (in transit).
    pub transfer_to: Option<String>,
    /// A scan at home closed the item's transfer.
    pub received: bool,
    /// Change-log ops to publish.
    pub applied: Applied,
}

impl DeskDone {
    fn refused(item: &str, title: String, r: Refusal) -> DeskDone {
        DeskDone {
            item: item.to_owned(),
            title,
            overridable: overridable(r.code),
            refused: Some(r),
            ..DeskDone::default()
        }
    }
}

/// Whether staff may override a refusal with `code`.
pub fn overridable(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::PatronBlocked
            | ErrorCode::CardExpired
            | ErrorCode::LoanLimit
            | ErrorCode::NotForLoan
            | ErrorCode::RenewLimit
            | ErrorCode::Overdue
    )
}

fn item(c: &Connection, barcode: &str) -> Result<Option<Item>, StoreError> {
    let sql = format!("SELECT {ITEM_COLS} FROM items WHERE barcode = ?1");
    Ok(query_opt(c, &sql, params![barcode], item_row)?)
}

fn active_loan(c: &Connection, barcode: &str) -> Result<Option<Loan>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT item, patron, due, renewals FROM loans WHERE item = ?1 AND returned_at IS NULL",
    )?
    .query_row(params![barcode], |r| {
        Ok(Loan {
            item: r.get(0)?,
            patron: r.get(1)?,
            due: crate::reference::date_at(r, 2)?,
            renewals: r.get(3)?,
        })
    })
    .optional()?)
}

fn loan_count(c: &Connection, card: &str) -> Result<u32, StoreError> {
    Ok(
        c.prepare_cached("SELECT count(*) FROM loans WHERE patron = ?1 AND returned_at IS NULL")?
            .query_row(params![card], |r| r.get(0))?,
    )
}

/// The patron a desk scan means: a card number, or an NFC UID bound to one.
pub fn find_patron(c: &Connection, scanned: &str) -> Result<Option<Patron>, StoreError> {
    if let Some(p) = patron(c, scanned)? {
        return Ok(Some(p));
    }
    let card: Option<String> = c
        .prepare_cached("SELECT card FROM patron_uids WHERE uid = ?1")?
        .query_row(params![scanned.to_ascii_uppercase()], |r| r.get(0))
        .optional()?;
    match card {
        Some(card) => patron(c, &card),
        None => Ok(None),
    }
}

fn branch_of(cache: &RefCache, id: &str) -> Result<Branch, StoreError> {
    cache
        .branches
        .iter()
        .find(|b| b.id.as_str() == id)
        .cloned()
        .ok_or_else(|| StoreError::NotFound(format!("branch {id}")))
}

/// Records that `item` was scanned at `branch` by `by`: at its home, any open transfer is
/// received; elsewhere, a return (`returned`) puts it in transit home. Answers the branch
/// it goes to (in transit) and whether a transfer was received.
pub fn note_scan(
    c: &Connection,
    item: &str,
    branch: &str,
    returned: bool,
    by: &str,
    now_ms: i64,
) -> Result<(Option<String>, bool), StoreError> {
    let home: Option<String> = c
        .prepare_cached("SELECT home_branch FROM items WHERE barcode = ?1")?
        .query_row(params![item], |r| r.get(0))
        .optional()?;
    let Some(home) = home else {
        return Ok((None, false));
    };
    if home == branch {
        let n = c
            .prepare_cached(
                "UPDATE transfers SET received_at = ?2, received_by = ?3 \
                 WHERE item = ?1 AND received_at IS NULL",
            )?
            .execute(params![item, now_ms, by])?;
        return Ok((None, n > 0));
    }
    if returned {
        c.prepare_cached(
            "INSERT INTO transfers (item, from_branch, to_branch, sent_at, sent_by) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(item) WHERE received_at IS NULL DO UPDATE SET \
             from_branch = excluded.from_branch, sent_at = excluded.sent_at, sent_by = excluded.sent_by",
        )?
        .execute(params![item, branch, home, now_ms, by])?;
        return Ok((Some(home), false));
    }
    Ok((None, false))
}

fn close_loan(
    c: &Connection,
    item: &str,
    at: &DeskAt,
    missed: bool,
    applied: &mut Applied,
    publish: bool,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE loans SET returned_at = ?2, return_staff = ?3, missed_return = ?4 \
         WHERE item = ?1 AND returned_at IS NULL",
    )?
    .execute(params![item, at.now_ms, at.staff, missed])?;
    if publish {
        append(
            c,
            Op::DelLoan {
                item: item.to_owned(),
            },
            applied,
        )?;
    }
    Ok(())
}

fn clean_reason(reason: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some(r) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(StoreError::TooLong(format!(
            "an override reason has at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(Some(rong_protocol::fold::nfc(r)))
}

fn lend(
    c: &Connection,
    cache: &RefCache,
    at: &DeskAt,
    card: &str,
    barcode: &str,
    reason: Option<String>,
) -> Result<DeskDone, StoreError> {
    let today = at.today();
    let branch = branch_of(cache, &at.branch)?;
    let ctx = LendingContext {
        today,
        branch: &branch,
        closed: &cache.closed_days,
        rules: &cache.rules,
    };
    let it = item(c, barcode)?;
    let title = it.as_ref().map(|i| i.title.clone()).unwrap_or_default();
    let Some(p) = find_patron(c, card)? else {
        return Ok(DeskDone::refused(
            barcode,
            title,
            Refusal::new(ErrorCode::UnknownPatron, ""),
        ));
    };
    let current = active_loan(c, barcode)?;
    let category = cache.categories.iter().find(|k| k.id == p.category);
    let held = loan_count(c, &p.card)?;
    let on_card = check_patron(Some(&p), today).err();
    let decided = rong_lending::checkout(&ctx, &p, category, it.as_ref(), current.as_ref(), held);
    let refusals: Vec<Refusal> = on_card
        .into_iter()
        .chain(decided.as_ref().err().cloned())
        .collect();
    // A refusal no one may override wins; any other needs a reason.
    if let Some(r) = refusals.iter().find(|r| !overridable(r.code)) {
        return Ok(DeskDone::refused(barcode, title, r.clone()));
    }
    if let (Some(r), None) = (refusals.first(), &reason) {
        return Ok(DeskDone::refused(barcode, title, r.clone()));
    }
    let overridden = !refusals.is_empty();
    let (due, previous) = match decided {
        Ok(plan) => (plan.loan.due, plan.previous_patron),
        Err(_) => {
            let Some(it) = &it else {
                return Ok(DeskDone::refused(
                    barcode,
                    title,
                    Refusal::new(ErrorCode::UnknownItem, ""),
                ));
            };
            let due = match ctx.rule(&p.category, &it.item_type) {
                Some(rule) if rule.loan_days > 0 => ctx.checkout_due(rule),
                _ => rong_lending::due_date(&branch, ctx.closed, today, OVERRIDE_LOAN_DAYS),
            };
            (due, current.as_ref().map(|l| l.patron.clone()))
        }
    };
    if overridden {
        tracing::info!(codes = ?refusals.iter().map(|r| r.code).collect::<Vec<_>>(), "desk override");
    }
    let mut applied = Applied::default();
    if previous.is_some() {
        close_loan(c, barcode, at, true, &mut applied, false)?;
    }
    c.prepare_cached(
        "INSERT INTO loans (item, patron, branch, device, loaned_at, due, renewals, staff, override_reason) \
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, 0, ?6, ?7)",
    )?
    .execute(params![
        barcode,
        p.card,
        at.branch,
        at.now_ms,
        due.to_string(),
        at.staff,
        if overridden { reason.clone() } else { None }
    ])?;
    append(
        c,
        Op::PutLoan(Loan {
            item: barcode.to_owned(),
            patron: p.card.clone(),
            due,
            renewals: 0,
        }),
        &mut applied,
    )?;
    let (_, received) = note_scan(c, barcode, &at.branch, false, &at.staff, at.now_ms)?;
    Ok(DeskDone {
        item: barcode.to_owned(),
        title,
        due: Some(due),
        overridden,
        previous_patron: previous,
        received,
        applied,
        ..DeskDone::default()
    })
}

fn take_back(
    c: &Connection,
    cache: &RefCache,
    at: &DeskAt,
    barcode: &str,
) -> Result<DeskDone, StoreError> {
    let branch = branch_of(cache, &at.branch)?;
    let it = item(c, barcode)?;
    let Some(found) = &it else {
        return Ok(DeskDone::refused(
            barcode,
            String::new(),
            Refusal::new(ErrorCode::UnknownItem, ""),
        ));
    };
    let current = active_loan(c, barcode)?;
    let plan = rong_lending::checkin(it.as_ref(), current.as_ref(), &branch.id);
    let mut applied = Applied::default();
    if plan.was_on_loan {
        close_loan(c, barcode, at, false, &mut applied, true)?;
    }
    let (transfer_to, received) = note_scan(c, barcode, &at.branch, true, &at.staff, at.now_ms)?;
    Ok(DeskDone {
        item: barcode.to_owned(),
        title: found.title.clone(),
        patron: plan.patron,
        transfer_to,
        received,
        applied,
        ..DeskDone::default()
    })
}

fn renew(
    c: &Connection,
    cache: &RefCache,
    at: &DeskAt,
    card: &str,
    barcode: &str,
    reason: Option<String>,
) -> Result<DeskDone, StoreError> {
    let today = at.today();
    let branch = branch_of(cache, &at.branch)?;
    let ctx = LendingContext {
        today,
        branch: &branch,
        closed: &cache.closed_days,
        rules: &cache.rules,
    };
    let it = item(c, barcode)?;
    let title = it.as_ref().map(|i| i.title.clone()).unwrap_or_default();
    let Some(p) = find_patron(c, card)? else {
        return Ok(DeskDone::refused(
            barcode,
            title,
            Refusal::new(ErrorCode::UnknownPatron, ""),
        ));
    };
    let current = active_loan(c, barcode)?;
    let plain = check_patron(Some(&p), today)
        .and_then(|p| rong_lending::renew(&ctx, p, it.as_ref(), current.as_ref()));
    let (loan, overridden) = match plain {
        Ok(loan) => (loan, false),
        Err(r) => {
            let (Some(_), true) = (&reason, overridable(r.code)) else {
                return Ok(DeskDone::refused(barcode, title, r));
            };
            let (Some(loan), Some(it)) = (current.filter(|l| l.patron == p.card), &it) else {
                return Ok(DeskDone::refused(
                    barcode,
                    title,
                    Refusal::new(ErrorCode::NotOnLoan, ""),
                ));
            };
            let days = match ctx.rule(&p.category, &it.item_type) {
                Some(rule) if rule.loan_days > 0 => rule.loan_days,
                _ => OVERRIDE_LOAN_DAYS,
            };
            let from = rong_lending::renewal_start(loan.due, today);
            let due = rong_lending::due_date(&branch, ctx.closed, from, days);
            (
                Loan {
                    due,
                    renewals: loan.renewals + 1,
                    ..loan
                },
                true,
            )
        }
    };
    c.prepare_cached(
        "UPDATE loans SET due = ?2, renewals = ?3, \
         override_reason = coalesce(?4, override_reason) \
         WHERE item = ?1 AND returned_at IS NULL",
    )?
    .execute(params![
        barcode,
        loan.due.to_string(),
        loan.renewals,
        if overridden { reason } else { None }
    ])?;
    let mut applied = Applied::default();
    let due = loan.due;
    append(c, Op::PutLoan(loan), &mut applied)?;
    Ok(DeskDone {
        item: barcode.to_owned(),
        title,
        due: Some(due),
        overridden,
        applied,
        ..DeskDone::default()
    })
}

impl Store {
    /// Does `act` at the desk `at`, in one transaction.
    pub fn desk(
        &mut self,
        cache: &RefCache,
        at: &DeskAt,
        act: &DeskAct,
    ) -> Result<DeskDone, StoreError> {
        let tx = self.conn.transaction()?;
        let done = match act {
            DeskAct::Lend {
                card,
                item,
                override_reason,
            } => lend(
                &tx,
                cache,
                at,
                card.trim(),
                item.trim(),
                clean_reason(override_reason.as_deref())?,
            )?,
            DeskAct::Return { item } => take_back(&tx, cache, at, item.trim())?,
            DeskAct::Renew {
                card,
                item,
                override_reason,
            } => renew(
                &tx,
                cache,
                at,
                card.trim(),
                item.trim(),
                clean_reason(override_reason.as_deref())?,
            )?,
        };
        if done.refused.is_none() {
            tx.commit()?;
        }
        Ok(done)
    }
}

/// One of a reader's loans, as the desk lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskLoan {
    /// Item barcode.
    pub item: String,
    /// Title.
    pub title: String,
    /// Call number.
    pub call_number: String,
    /// Branch that lent it.
    pub branch: String,
    /// When it was lent (ms).
    pub loaned_at: i64,
    /// Due date.
    pub due: NaiveDate,
    /// Renewals made.
    pub renewals: u32,
    /// When it came back (history).
    pub returned_at: Option<i64>,
}

/// A reader's loans: the active ones, oldest due first; with `history`, also the last
/// `limit` returned ones, newest first.
pub fn reader_loans(
    c: &Connection,
    card: &str,
    history: bool,
    limit: u32,
) -> Result<(Vec<DeskLoan>, Vec<DeskLoan>), StoreError> {
    let row = from_row!(DeskLoan => item, title, call_number, branch, loaned_at,
        due: crate::reference::date_at, renewals, returned_at);
    let active = query_list(
        c,
        "SELECT l.item, coalesce(i.title, ''), coalesce(i.call_number, ''), l.branch, l.loaned_at, \
         l.due, l.renewals, l.returned_at FROM loans l LEFT JOIN items i ON i.barcode = l.item \
         WHERE l.patron = ?1 AND l.returned_at IS NULL ORDER BY l.due, l.item",
        params![card],
        row,
    )?;
    let past = if history {
        query_list(
            c,
            "SELECT l.item, coalesce(i.title, ''), coalesce(i.call_number, ''), l.branch, l.loaned_at, \
             l.due, l.renewals, l.returned_at FROM loans l LEFT JOIN items i ON i.barcode = l.item \
             WHERE l.patron = ?1 AND l.returned_at IS NOT NULL ORDER BY l.returned_at DESC LIMIT ?2",
            params![card, limit],
            row,
        )?
    } else {
        Vec::new()
    };
    Ok((active, past))
}

/// The loans lent to `card` at `branch` since `since_ms`: what a receipt lists.
pub fn lent_since(
    c: &Connection,
    card: &str,
    branch: &str,
    since_ms: i64,
) -> Result<Vec<DeskLoan>, StoreError> {
    let row = from_row!(DeskLoan => item, title, call_number, branch, loaned_at,
        due: crate::reference::date_at, renewals, returned_at);
    Ok(query_list(
        c,
        "SELECT l.item, coalesce(i.title, ''), coalesce(i.call_number, ''), l.branch, l.loaned_at, \
         l.due, l.renewals, l.returned_at FROM loans l LEFT JOIN items i ON i.barcode = l.item \
         WHERE l.patron = ?1 AND l.branch = ?2 AND l.loaned_at >= ?3 AND l.returned_at IS NULL \
         ORDER BY l.loaned_at, l.item",
        params![card, branch, since_ms],
        row,
    )?)
}

/// An item in transit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Item barcode.
    pub item: String,
    /// Title.
    pub title: String,
    /// Call number.
    pub call_number: String,
    /// Where it was taken back.
    pub from_branch: String,
    /// Its home.
    pub to_branch: String,
    /// When (ms).
    pub sent_at: i64,
    /// The device or staff user that took it back.
    pub sent_by: String,
}

/// The items in transit from or to `branch` (all with none), oldest first.
pub fn in_transit(c: &Connection, branch: Option<&str>) -> Result<Vec<Transfer>, StoreError> {
    Ok(query_list(
        c,
        "SELECT t.item, coalesce(i.title, ''), coalesce(i.call_number, ''), t.from_branch, \
         t.to_branch, t.sent_at, t.sent_by FROM transfers t LEFT JOIN items i ON i.barcode = t.item \
         WHERE t.received_at IS NULL AND (?1 IS NULL OR t.from_branch = ?1 OR t.to_branch = ?1) \
         ORDER BY t.sent_at, t.item LIMIT 10000",
        params![branch],
        from_row!(Transfer => item, title, call_number, from_branch, to_branch, sent_at, sent_by),
    )?)
}

/// The open transfer of one item.
pub fn transfer(c: &Connection, item: &str) -> Result<Option<Transfer>, StoreError> {
    Ok(query_opt(
        c,
        "SELECT t.item, coalesce(i.title, ''), coalesce(i.call_number, ''), t.from_branch, \
         t.to_branch, t.sent_at, t.sent_by FROM transfers t LEFT JOIN items i ON i.barcode = t.item \
         WHERE t.item = ?1 AND t.received_at IS NULL",
        params![item],
        from_row!(Transfer => item, title, call_number, from_branch, to_branch, sent_at, sent_by),
    )?)
}

/// Days between two dates, for "3 days overdue".
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days().max(0)
}

#[cfg(test)]
mod tests;
