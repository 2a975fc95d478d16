//! The event log (outbox), the loans circulation writes, and PIN failures.

use rong_lending::PinState;
use rong_protocol::barcode;
use rong_protocol::delta::Loan;
use rong_protocol::event::{Event, EventBody};
use rong_sqlite::{from_row, query_list, query_opt};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

use super::reference::{del_loan, put_loan};
use super::{conversion, meta_u64, set_meta, Store, StoreError};

/// A loan change that commits with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoanChange {
    /// No loan changes.
    None,
    /// Insert or replace the loan of an item.
    Put(Loan),
    /// The item is back.
    Del(String),
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// What happened.
    pub body: EventBody,
    /// When (already clamped to the last event's time).
    pub at: i64,
    /// Whether the clock was synced.
    pub clock_synced: bool,
}

/// Everything one circulation step writes, committed in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The event, if any.
    pub event: Option<NewEvent>,
    /// The loan change.
    pub loan: LoanChange,
    /// A PIN failure record to store for a card.
    pub pin: Option<(String, PinState)>,
}

fn event_item(body: &EventBody) -> Option<&str> {
    match body {
        EventBody::Checkout { item, .. }
        | EventBody::Checkin { item, .. }
        | EventBody::Renew { item, .. } => Some(item),
        EventBody::Identify { .. } | EventBody::PinLocked { .. } => None,
    }
}

/// Whether every code in the event passes the protocol's code rule: central refuses a
/// whole batch for one bad code, so such an event would block the outbox for good.
fn codes_ok(body: &EventBody) -> bool {
    let (a, b) = match body {
        EventBody::Identify { patron, .. } | EventBody::PinLocked { patron } => (patron, None),
        EventBody::Checkout { item, patron, .. } | EventBody::Renew { item, patron, .. } => {
            (item, Some(patron))
        }
        EventBody::Checkin { item, patron } => (item, patron.as_ref()),
    };
    barcode::is_valid(a) && b.is_none_or(|b| barcode::is_valid(b))
}

impl Store {
    /// The highest seq written, and its time.
    pub fn last_event(&self) -> Result<Option<(u64, i64)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq, at FROM events ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .optional()?)
    }

    /// The highest seq written (0 when none).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .last_event()?
            .map_or(0, |(s, _)| s)
            .max(self.acked_through()?))
    }

    /// The highest seq central has applied.
    pub fn acked_through(&self) -> Result<u64, StoreError> {
        meta_u64(&self.conn, "acked_through")
    }

    /// The time of the oldest unacked event.
    pub fn oldest_unacked_at(&self) -> Result<Option<i64>, StoreError> {
        let next = self.acked_through()? + 1;
        Ok(self
            .conn
            .prepare_cached("SELECT at FROM events WHERE seq = ?1")?
            .query_row([next as i64], |r| r.get(0))
            .optional()?)
    }

    /// Loans to `card` that central has not acknowledged yet (checkouts still in the log).
    pub fn unacked_checkouts(&self, card: &str) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM events WHERE acked = 0 AND kind = 'checkout' \
                 AND json_extract(body, '$.patron') = ?1",
            )?
            .query_row([card], |r| r.get(0))?)
    }

    /// A card's PIN failure record.
    pub fn pin_state(&self, card: &str) -> Result<PinState, StoreError> {
        Ok(query_opt(
            &self.conn,
            "SELECT failures, locked_until FROM pin_failures WHERE card = ?1",
            [card],
            from_row!(PinState => failures, locked_until),
        )?
        .unwrap_or_default())
    }

    /// Writes a circulation step in one transaction; returns the event as logged.
    pub fn commit(&mut self, c: Commit) -> Result<Option<Event>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut logged = None;
        if let Some(ev) = c.event {
            if !codes_ok(&ev.body) {
                return Err(StoreError::Refused(format!(
                    "a {} event with a code central cannot accept",
                    ev.body.kind()
                )));
            }
            let last: Option<i64> = tx
                .prepare_cached("SELECT max(seq) FROM events")?
                .query_row([], |r| r.get(0))?;
            let seq = (last.unwrap_or(0).max(0) as u64).max(meta_u64(&tx, "acked_through")?) + 1;
            let id = Uuid::now_v7();
            let body =
                serde_json::to_string(&ev.body).map_err(|e| StoreError::Refused(e.to_string()))?;
            tx.prepare_cached(
                "INSERT INTO events (seq, id, kind, body, at, clock_synced, item, acked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
            )?
            .execute(params![
                seq as i64,
                id.to_string(),
                ev.body.kind(),
                body,
                ev.at,
                ev.clock_synced,
                event_item(&ev.body)
            ])?;
            logged = Some(Event {
                seq,
                id,
                at: ev.at,
                clock_synced: ev.clock_synced,
                body: ev.body,
            });
        }
        match &c.loan {
            LoanChange::None => {}
            LoanChange::Put(l) => put_loan(&tx, l)?,
            LoanChange::Del(item) => del_loan(&tx, item)?,
        }
        if let Some((card, state)) = &c.pin {
            if *state == PinState::default() {
                tx.prepare_cached("DELETE FROM pin_failures WHERE card = ?1")?
                    .execute([card])?;
            } else {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO pin_failures (card, failures, locked_until)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![card, state.failures, state.locked_until])?;
            }
        }
        tx.commit()?;
        Ok(logged)
    }

    /// Events `from ..= to`, in order.
    pub fn events_range(&self, from: u64, to: u64) -> Result<Vec<Event>, StoreError> {
        Ok(query_list(
            &self.conn,
            "SELECT seq, id, at, clock_synced, body FROM events
             WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
            [from as i64, to as i64],
            |r| {
                let id: String = r.get(1)?;
                let body: String = r.get(4)?;
                Ok(Event {
                    seq: r.get::<_, i64>(0)? as u64,
                    id: Uuid::parse_str(&id).map_err(|e| conversion(1, e.to_string()))?,
                    at: r.get(2)?,
                    clock_synced: r.get(3)?,
                    body: serde_json::from_str(&body).map_err(|e| conversion(4, e.to_string()))?,
                })
            },
        )?)
    }

    /// Marks events up to `n` acked (central applied them).
    pub fn mark_acked(&mut self, n: u64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let old = meta_u64(&tx, "acked_through")?;
        if n > old {
            tx.prepare_cached("UPDATE events SET acked = 1 WHERE seq > ?1 AND seq <= ?2")?
                .execute([old as i64, n as i64])?;
            set_meta(&tx, "acked_through", &n.to_string())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The epoch central was last seen in (none before the first message that carried one).
    pub fn central_epoch(&self) -> Result<Option<Uuid>, StoreError> {
        self.meta("central_epoch")?
            .map(|text| {
                Uuid::parse_str(&text)
                    .map_err(|e| StoreError::Refused(format!("stored epoch {text:?}: {e}")))
            })
            .transpose()
    }

    /// Records `id` as the last command carried out if it is newer than the one before
    /// (central's ids are UUIDv7, which sort by time as text); answers whether it was.
    pub fn take_command(&mut self, id: &str) -> Result<bool, StoreError> {
        if self
            .meta("last_command")?
            .is_some_and(|last| id <= last.as_str())
        {
            return Ok(false);
        }
        set_meta(&self.conn, "last_command", id)?;
        Ok(true)
    }

    /// Remembers the first epoch central was seen in.
    pub fn set_central_epoch(&mut self, epoch: Uuid) -> Result<(), StoreError> {
        set_meta(&self.conn, "central_epoch", &epoch.to_string())
    }

    /// Central came back from a backup (its epoch changed to `epoch`): in one transaction,
    /// every event still kept is unacked again so that it is re-sent (central skips those
    /// it still has), `acked_through` goes back to just below the oldest kept event, and
    /// the reference-data version goes to 0 so that the next catch-up fetches a snapshot.
    /// Returns the new `acked_through`.
    pub fn start_epoch(&mut self, epoch: Uuid) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let oldest: Option<i64> = tx
            .prepare_cached("SELECT min(seq) FROM events")?
            .query_row([], |r| r.get(0))?;
        // With no event kept there is nothing to re-send; the seq floor stays.
        let acked = match oldest {
            Some(seq) => (seq.max(1) - 1) as u64,
            None => meta_u64(&tx, "acked_through")?,
        };
        let unacked = tx
            .prepare_cached("UPDATE events SET acked = 0 WHERE acked = 1")?
            .execute([])?;
        set_meta(&tx, "acked_through", &acked.to_string())?;
        set_meta(&tx, "version", "0")?;
        set_meta(&tx, "central_epoch", &epoch.to_string())?;
        tx.commit()?;
        tracing::info!(%epoch, unacked, acked_through = acked, "new central epoch");
        Ok(acked)
    }

    /// Deletes acked events older than `before_ms`, always keeping the newest event (it
    /// carries the seq and clock floor). Returns how many went.
    pub fn prune_acked(&mut self, before_ms: i64) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM events WHERE acked = 1 AND at < ?1
                 AND seq < (SELECT max(seq) FROM events)",
            )?
            .execute([before_ms])?)
    }
}
