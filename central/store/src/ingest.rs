//! Applying event batches exactly once, with the offline conflict rules.

use chrono::NaiveDate;
use rong_lending::reconcile::{self, Action, LoanState, PatronState, State};
use rong_lending::LendingContext;
use rong_protocol::delta::{Branch, Loan, Op};
use rong_protocol::event::{Event, EventBatch, EventBody};
use rong_protocol::ids::{BranchId, DeviceId};
use rong_protocol::time::local_date;
use rusqlite::{params, Connection, OptionalExtension};

use super::changes::{append, Applied};
use super::reference::RefCache;
use super::{Store, StoreError};

/// What applying one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The highest contiguous seq applied for this log, to ack.
    pub acked_through: u64,
    /// Events applied now.
    pub applied: u64,
    /// Events already applied before (replays).
    pub replayed: u64,
    /// Whether a gap dropped the rest of the batch.
    pub gap: bool,
    /// Change-log ops the batch appended.
    pub changes: Applied,
    /// PINs typed offline that now wait to be checked (`offline_pins`).
    pub offline_pins: u64,
}

fn item_of(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::Checkout { item, .. }
        | EventBody::Checkin { item, .. }
        | EventBody::Renew { item, .. } => Some(item),
        EventBody::Identify { .. } | EventBody::PinLocked { .. } => None,
    }
}

fn patron_of(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::Checkout { patron, .. }
        | EventBody::Renew { patron, .. }
        | EventBody::Identify { patron, .. }
        | EventBody::PinLocked { patron } => Some(patron),
        EventBody::Checkin { patron, .. } => patron.as_deref(),
    }
}

fn parse_date(s: String) -> rusqlite::Result<NaiveDate> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The due date central gives `body` today at `branch`, by the lending rules the devices
/// use ([`reconcile::central_due`]).
fn central_due(
    cache: &RefCache,
    branch: &BranchId,
    today: NaiveDate,
    category: &str,
    item_type: &str,
    body: &EventBody,
    loan: Option<&LoanState>,
) -> Option<NaiveDate> {
    let fallback;
    let b = match cache.branches.iter().find(|b| &b.id == branch) {
        Some(b) => b,
        None => {
            // A branch missing from the cache: no calendar to go by, so no closed days.
            fallback = Branch {
                id: branch.clone(),
                name: String::new(),
                closed_weekdays: Vec::new(),
                require_pin: false,
            };
            &fallback
        }
    };
    let ctx = LendingContext {
        today,
        branch: b,
        closed: &cache.closed_days,
        rules: &cache.rules,
    };
    reconcile::central_due(&ctx, category, item_type, body, loan)
}

fn load_state(
    c: &Connection,
    cache: &RefCache,
    branch: &BranchId,
    body: &EventBody,
    now_ms: i64,
    utc_offset_min: i32,
) -> Result<State, StoreError> {
    let mut state = State::default();
    let mut item_type = None;
    if let Some(item) = item_of(body) {
        item_type = c
            .prepare_cached("SELECT item_type FROM items WHERE barcode = ?1")?
            .query_row(params![item], |r| r.get::<_, String>(0))
            .optional()?;
        state.item_known = item_type.is_some();
        state.loan = c
            .prepare_cached(
                "SELECT patron, due, renewals, loaned_at FROM loans \
                 WHERE item = ?1 AND returned_at IS NULL",
            )?
            .query_row(params![item], |r| {
                Ok(LoanState {
                    patron: r.get(0)?,
                    due: parse_date(r.get(1)?)?,
                    renewals: r.get(2)?,
                    loaned_at: r.get(3)?,
                })
            })
            .optional()?;
    }
    if let (Some(card), EventBody::Checkout { .. } | EventBody::Renew { .. }) =
        (patron_of(body), body)
    {
        let found = c
            .prepare_cached("SELECT category, blocked IS NOT NULL FROM patrons WHERE card = ?1")?
            .query_row(params![card], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
            })
            .optional()?;
        if let Some((category, blocked)) = found {
            let active: u32 = c
                .prepare_cached(
                    "SELECT count(*) FROM loans WHERE patron = ?1 AND returned_at IS NULL",
                )?
                .query_row(params![card], |r| r.get(0))?;
            state.patron = Some(PatronState {
                blocked,
                active_loans: active,
                max_loans: cache
                    .categories
                    .iter()
                    .find(|k| k.id == category)
                    .map(|k| k.max_loans),
            });
            if let Some(t) = &item_type {
                state.central_due = central_due(
                    cache,
                    branch,
                    local_date(now_ms, utc_offset_min),
                    &category,
                    t,
                    body,
                    state.loan.as_ref(),
                );
            }
        }
    }
    Ok(state)
}

struct Ctx<'a> {
    branch: &'a BranchId,
    device: &'a DeviceId,
    now_ms: i64,
}

fn execute(
    c: &Connection,
    ctx: &Ctx<'_>,
    item: &str,
    actions: &[Action],
    applied: &mut Applied,
) -> Result<(), StoreError> {
    let reopens = actions.iter().any(|a| matches!(a, Action::OpenLoan { .. }));
    for action in actions {
        match action {
            Action::CloseLoan { at, missed_return } => {
                c.prepare_cached(
                    "UPDATE loans SET returned_at = ?2, return_device = ?3, missed_return = ?4 \
                     WHERE item = ?1 AND returned_at IS NULL",
                )?
                .execute(params![item, at, ctx.device.as_str(), missed_return])?;
                if !reopens {
                    append(
                        c,
                        Op::DelLoan {
                            item: item.to_owned(),
                        },
                        applied,
                    )?;
                }
            }
            Action::OpenLoan { patron, at, due } => {
                c.prepare_cached(
                    "INSERT INTO loans (item, patron, branch, device, loaned_at, due, renewals) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                )?
                .execute(params![
                    item,
                    patron,
                    ctx.branch.as_str(),
                    ctx.device.as_str(),
                    at,
                    due.to_string()
                ])?;
                append(
                    c,
                    Op::PutLoan(Loan {
                        item: item.to_owned(),
                        patron: patron.clone(),
                        due: *due,
                        renewals: 0,
                    }),
                    applied,
                )?;
            }
            Action::UpdateLoan { due, renewals } => {
                let patron: Option<String> = c
                    .prepare_cached(
                        "UPDATE loans SET due = ?2, renewals = ?3 \
                         WHERE item = ?1 AND returned_at IS NULL RETURNING patron",
                    )?
                    .query_row(params![item, due.to_string(), renewals], |r| r.get(0))
                    .optional()?;
                if let Some(patron) = patron {
                    append(
                        c,
                        Op::PutLoan(Loan {
                            item: item.to_owned(),
                            patron,
                            due: *due,
                            renewals: *renewals,
                        }),
                        applied,
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn apply_event(
    c: &Connection,
    cache: &RefCache,
    ctx: &Ctx<'_>,
    log: &str,
    e: &Event,
    utc_offset_min: i32,
    applied: &mut Applied,
) -> Result<(), StoreError> {
    let state = load_state(c, cache, ctx.branch, &e.body, ctx.now_ms, utc_offset_min)?;
    let decision = reconcile::decide(e, &state, ctx.now_ms, utc_offset_min);
    if let Some(item) = item_of(&e.body) {
        execute(c, ctx, item, &decision.actions, applied)?;
        // A return away from the item's home puts it in transit; a scan at home ends that.
        if let EventBody::Checkin { .. } | EventBody::Checkout { .. } = &e.body {
            let returned = matches!(e.body, EventBody::Checkin { .. });
            crate::desk::note_scan(
                c,
                item,
                ctx.branch.as_str(),
                returned,
                ctx.device.as_str(),
                ctx.now_ms,
            )?;
        }
    }
    let mut notice = c.prepare_cached(
        "INSERT INTO notices (kind, device, seq, item, patron, detail, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for n in &decision.notices {
        tracing::info!(kind = n.kind.as_str(), device = %ctx.device, seq = e.seq, detail = %n.detail, "notice");
        notice.execute(params![
            n.kind.as_str(),
            ctx.device.as_str(),
            e.seq as i64,
            n.item,
            n.patron,
            n.detail,
            ctx.now_ms
        ])?;
    }
    // A PIN typed offline waits, sealed, for central to check it once; the event is kept
    // without it, so no copy of the PIN outlives the check.
    let mut body = std::borrow::Cow::Borrowed(&e.body);
    if let EventBody::Identify {
        patron,
        pin: Some(sealed),
    } = &e.body
    {
        c.prepare_cached(
            "INSERT OR IGNORE INTO offline_pins (event_id, device, branch, seq, card, sealed, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            e.id.to_string(),
            ctx.device.as_str(),
            ctx.branch.as_str(),
            e.seq as i64,
            patron,
            sealed,
            e.at
        ])?;
        body = std::borrow::Cow::Owned(EventBody::Identify {
            patron: patron.clone(),
            pin: None,
        });
    }
    c.prepare_cached(
        "INSERT INTO applied_events (device, log, seq, event_id, kind, body, device_at, received_at, outcome) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        ctx.device.as_str(),
        log,
        e.seq as i64,
        e.id.to_string(),
        e.body.kind(),
        serde_json::to_string(&*body)?,
        e.at,
        ctx.now_ms,
        decision.outcome
    ])?;
    Ok(())
}

impl Store {
    /// Applies a batch in one transaction: replays skipped, a gap drops the rest, each
    /// event whole or not at all.
    pub fn apply_batch(
        &mut self,
        cache: &RefCache,
        branch: &BranchId,
        batch: &EventBatch,
        now_ms: i64,
        utc_offset_min: i32,
    ) -> Result<BatchOutcome, StoreError> {
        let log = batch.log.to_string();
        let ctx = Ctx {
            branch,
            device: &batch.device,
            now_ms,
        };
        let mut tx = self.conn.transaction()?;
        let mut acked: u64 = tx
            .prepare_cached("SELECT acked_through FROM event_logs WHERE device = ?1 AND log = ?2")?
            .query_row(params![batch.device.as_str(), log], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(0) as u64;
        let start = acked;
        let mut out = BatchOutcome::default();
        for e in &batch.events {
            if e.seq <= acked {
                out.replayed += 1;
                continue;
            }
            if e.seq > acked + 1 {
                out.gap = true;
                break;
            }
            let seen = tx
                .prepare_cached("SELECT 1 FROM applied_events WHERE event_id = ?1")?
                .query_row(params![e.id.to_string()], |_| Ok(()))
                .optional()?
                .is_some();
            if seen {
                tracing::warn!(device = %batch.device, seq = e.seq, event_id = %e.id, "event id already applied under another log; skipping its effects");
                out.replayed += 1;
                acked = e.seq;
                continue;
            }
            let sp = tx.savepoint()?;
            let before = out.changes.ops.len();
            match apply_event(&sp, cache, &ctx, &log, e, utc_offset_min, &mut out.changes) {
                Ok(()) => {
                    sp.commit()?;
                    out.applied += 1;
                    if matches!(e.body, EventBody::Identify { pin: Some(_), .. }) {
                        out.offline_pins += 1;
                    }
                    acked = e.seq;
                }
                Err(err) => {
                    // Leave this event and the rest for a resend rather than half-apply it.
                    tracing::error!(device = %batch.device, seq = e.seq, error = %err, "could not apply event");
                    drop(sp);
                    out.changes.ops.truncate(before);
                    break;
                }
            }
        }
        if acked != start {
            tx.prepare_cached(
                "INSERT INTO event_logs (device, log, acked_through) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(device, log) DO UPDATE SET acked_through = excluded.acked_through",
            )?
            .execute(params![batch.device.as_str(), log, acked as i64])?;
        }
        tx.commit()?;
        out.acked_through = acked;
        Ok(out)
    }
}
