//! PINs checked by central: the patron, the branch's PIN rule and the card's failure count
//! (`pin_attempts`), kept here for every device of every branch, so a lockout holds on the
//! next device the reader tries. Attempts are counted in the one writer, so two attempts at
//! once cannot both read the same count.

use rong_lending::{pin_result, PinPolicy, PinState, PinVerdict};
use rong_protocol::delta::{Branch, Patron};
use rusqlite::{params, Connection, OptionalExtension};

use crate::{Store, StoreError};

/// What a PIN check needs to know before verifying.
#[derive(Debug, Clone)]
pub struct PinContext {
    /// The patron, if the card is known.
    pub patron: Option<Patron>,
    /// The asking device's branch, if known.
    pub branch: Option<Branch>,
    /// The card's failure record.
    pub state: PinState,
}

/// The patron of `card`, the branch `branch` and the card's failure record.
pub fn pin_context(c: &Connection, card: &str, branch: &str) -> Result<PinContext, StoreError> {
    let patron = crate::reference::patron(c, card)?;
    Ok(PinContext {
        patron,
        branch: crate::reference::branch(c, branch)?,
        state: pin_state(c, card)?,
    })
}

/// The failure record of `card` (none: no failures).
pub fn pin_state(c: &Connection, card: &str) -> Result<PinState, StoreError> {
    Ok(
        c.prepare_cached("SELECT failures, locked_until FROM pin_attempts WHERE card = ?1")?
            .query_row(params![card], |r| {
                Ok(PinState {
                    failures: r.get(0)?,
                    locked_until: r.get(1)?,
                })
            })
            .optional()?
            .unwrap_or_default(),
    )
}

impl Store {
    /// Counts one verified attempt at `card`'s PIN against its record as it is now, and
    /// keeps the new record: a right PIN clears it, the `max_attempts`th wrong one locks
    /// the card for `lock_minutes`.
    pub fn count_pin_attempt(
        &mut self,
        card: &str,
        right: bool,
        policy: PinPolicy,
        now_ms: i64,
    ) -> Result<PinVerdict, StoreError> {
        let tx = self.conn.transaction()?;
        let verdict = pin_result(right, pin_state(&tx, card)?, policy, now_ms);
        if verdict.state == PinState::default() {
            tx.execute("DELETE FROM pin_attempts WHERE card = ?1", params![card])?;
        } else {
            tx.execute(
                "INSERT INTO pin_attempts (card, failures, locked_until) VALUES (?1, ?2, ?3)
                 ON CONFLICT(card) DO UPDATE SET failures = excluded.failures,
                 locked_until = excluded.locked_until",
                params![card, verdict.state.failures, verdict.state.locked_until],
            )?;
        }
        tx.commit()?;
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_locked_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let policy = PinPolicy {
            max_attempts: 3,
            lock_minutes: 15,
        };
        let wrong = |s: &mut Store| s.count_pin_attempt("C1", false, policy, 1_000).unwrap();
        assert_eq!(wrong(&mut s).state.failures, 1);
        assert_eq!(wrong(&mut s).state.failures, 2);
        let third = wrong(&mut s);
        assert!(third.locked_now);
        assert_eq!(third.state.locked_until, Some(1_000 + 15 * 60_000));
        assert_eq!(
            pin_state(&s.conn, "C1").unwrap().locked_until,
            Some(1_000 + 15 * 60_000)
        );
        assert_eq!(pin_state(&s.conn, "C2").unwrap(), PinState::default());
        let right = s.count_pin_attempt("C1", true, policy, 2_000).unwrap();
        assert!(right.outcome.is_ok());
        assert_eq!(pin_state(&s.conn, "C1").unwrap(), PinState::default());
    }
}
