//! PINs checked by central: the patron, the branch's PIN rule and the card's failure count
//! (`pin_attempts`), kept here for every device of every branch, so a lockout holds on the
//! next device the reader tries. Attempts are counted in the one writer, so two attempts at
//! once cannot both read the same count.

use rong_lending::{pin_result, PinPolicy, PinState, PinVerdict};
use rong_protocol::delta::{Branch, Patron};
use rusqlite::{params, Connection, OptionalExtension};

pub use crate::reference::pin_hash;
use crate::{Store, StoreError};

/// What a PIN check needs to know before verifying.
#[derive(Debug, Clone)]
pub struct PinContext {
    /// The patron, if the card is known.
    pub patron: Option<Patron>,
    /// The hash of the patron's PIN, if they have one.
    pub hash: Option<String>,
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
        hash: pin_hash(c, card)?,
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

/// A PIN typed at a board that could not ask central, sealed to central's key, waiting to
/// be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflinePin {
    /// The `identify` event that carried it.
    pub event_id: String,
    /// The board.
    pub device: String,
    /// The board's branch.
    pub branch: String,
    /// The event's seq on the board.
    pub seq: u64,
    /// The card.
    pub card: String,
    /// The sealed PIN (base64).
    pub sealed: String,
    /// When it was typed, by the board's clock (ms since the epoch).
    pub at: i64,
}

/// What central found when it checked a PIN typed offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineCheck {
    /// Right, or nothing to check (the card has no PIN now): forgotten.
    Settled,
    /// Wrong: counted against the card, with a notice for staff.
    Wrong,
    /// It does not open with central's key, or was sealed for another card: a notice for
    /// staff, not counted against the reader.
    Unopenable,
}

/// Up to `limit` PINs typed offline, oldest first.
pub fn pending_offline_pins(c: &Connection, limit: usize) -> Result<Vec<OfflinePin>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT event_id, device, branch, seq, card, sealed, at FROM offline_pins \
         ORDER BY at, event_id LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![limit as i64], |r| {
        Ok(OfflinePin {
            event_id: r.get(0)?,
            device: r.get(1)?,
            branch: r.get(2)?,
            seq: r.get::<_, i64>(3)? as u64,
            card: r.get(4)?,
            sealed: r.get(5)?,
            at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores `verdict`'s record for `card`.
fn keep_state(c: &Connection, card: &str, state: PinState) -> Result<(), StoreError> {
    if state == PinState::default() {
        c.execute("DELETE FROM pin_attempts WHERE card = ?1", params![card])?;
    } else {
        c.execute(
            "INSERT INTO pin_attempts (card, failures, locked_until) VALUES (?1, ?2, ?3)
             ON CONFLICT(card) DO UPDATE SET failures = excluded.failures,
             locked_until = excluded.locked_until",
            params![card, state.failures, state.locked_until],
        )?;
    }
    Ok(())
}

impl Store {
    /// Records what checking `pin` found, in one transaction, and forgets the sealed PIN:
    /// a wrong PIN counts against the card as a wrong PIN at a kiosk would (and may lock it)
    /// and raises an `offline_wrong_pin` notice for the staff of the board's branch; a right
    /// one changes no count (it was typed before whatever came since). Answers the card's
    /// new record when it was counted.
    pub fn settle_offline_pin(
        &mut self,
        pin: &OfflinePin,
        check: OfflineCheck,
        policy: PinPolicy,
        now_ms: i64,
    ) -> Result<Option<PinVerdict>, StoreError> {
        let tx = self.conn.transaction()?;
        let gone = tx.execute(
            "DELETE FROM offline_pins WHERE event_id = ?1",
            params![pin.event_id],
        )?;
        if gone == 0 {
            // Settled already (by an earlier pass that raced this one).
            return Ok(None);
        }
        let (verdict, detail) = match check {
            OfflineCheck::Settled => (None, None),
            OfflineCheck::Wrong => {
                let verdict = pin_result(false, pin_state(&tx, &pin.card)?, policy, now_ms);
                keep_state(&tx, &pin.card, verdict.state)?;
                let detail = format!(
                    "the PIN typed offline at {} was wrong; loans made in that visit had no \
                     right PIN{}",
                    pin.device,
                    if verdict.locked_now {
                        "; the card is now locked"
                    } else {
                        ""
                    }
                );
                (Some(verdict), Some(detail))
            }
            OfflineCheck::Unopenable => (
                None,
                Some(format!(
                    "the PIN typed offline at {} could not be checked (not sealed to \
                     central's key); loans made in that visit had no checked PIN",
                    pin.device
                )),
            ),
        };
        if let Some(detail) = detail {
            tx.prepare_cached(
                "INSERT INTO notices (kind, device, seq, item, patron, detail, created_at) \
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
            )?
            .execute(params![
                rong_lending::reconcile::NoticeKind::OfflineWrongPin.as_str(),
                pin.device,
                pin.seq as i64,
                pin.card,
                detail,
                now_ms
            ])?;
        }
        tx.commit()?;
        Ok(verdict)
    }

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
        keep_state(&tx, card, verdict.state)?;
        tx.commit()?;
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::delta::Op;

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

    fn count(s: &Store, sql: &str) -> i64 {
        s.conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn wait_offline(s: &Store, id: &str) -> OfflinePin {
        s.conn
            .execute(
                "INSERT INTO offline_pins (event_id, device, branch, seq, card, sealed, at) \
                 VALUES (?1, 'kt-kiosk-1', 'kontum', 7, 'C1', 'c2VhbGVk', 1000)",
                params![id],
            )
            .unwrap();
        pending_offline_pins(&s.conn, 10)
            .unwrap()
            .into_iter()
            .find(|p| p.event_id == id)
            .unwrap()
    }

    #[test]
    fn pin_hashes_stay_in_their_own_table_and_the_patron_says_only_whether() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let p = Patron {
            pin_required: true,
            ..rong_tests::fixtures::patron("C1")
        };
        let imported = |hash: Option<&str>| crate::ImportedPatron {
            patron: p.clone(),
            pin_hash: hash.map(str::to_owned),
        };
        let out = s.import_patrons(&[imported(None)]).unwrap();
        assert!(
            matches!(out[0], crate::PatronUpsert::Skipped(_)),
            "must type a PIN but has none"
        );
        s.import_patrons(&[imported(Some("$argon2id$h1"))]).unwrap();
        assert_eq!(
            pin_hash(&s.conn, "C1").unwrap().as_deref(),
            Some("$argon2id$h1")
        );
        assert!(
            crate::reference::patron(&s.conn, "C1")
                .unwrap()
                .unwrap()
                .has_pin
        );
        // Re-imported without a PIN, and blocked: the PIN stays.
        s.import_patrons(&[imported(None)]).unwrap();
        s.set_block("C1", Some("lost")).unwrap();
        assert_eq!(
            pin_hash(&s.conn, "C1").unwrap().as_deref(),
            Some("$argon2id$h1")
        );
        let back = crate::reference::patron(&s.conn, "C1").unwrap().unwrap();
        assert!(back.has_pin);
        // A put that claims no PIN does not take it away, nor one that claims a PIN give it.
        s.put_ops(&[Op::PutPatron(Patron {
            has_pin: false,
            ..back
        })])
        .unwrap();
        assert!(
            crate::reference::patron(&s.conn, "C1")
                .unwrap()
                .unwrap()
                .has_pin
        );
        s.put_ops(&[Op::PutPatron(Patron {
            card: "C2".into(),
            has_pin: true,
            ..p.clone()
        })])
        .unwrap();
        assert!(
            !crate::reference::patron(&s.conn, "C2")
                .unwrap()
                .unwrap()
                .has_pin
        );
    }

    #[test]
    fn a_pin_typed_offline_is_settled_once_and_only_a_wrong_one_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        let policy = PinPolicy {
            max_attempts: 2,
            lock_minutes: 10,
        };
        let notices = |s: &Store| {
            count(
                s,
                "SELECT count(*) FROM notices WHERE kind = 'offline_wrong_pin' AND patron = 'C1'",
            )
        };
        let wrong = wait_offline(&s, "e1");
        let v = s
            .settle_offline_pin(&wrong, OfflineCheck::Wrong, policy, 5_000)
            .unwrap()
            .unwrap();
        assert_eq!(v.state.failures, 1);
        assert!(!v.locked_now);
        assert_eq!(notices(&s), 1);
        assert_eq!(
            count(&s, "SELECT count(*) FROM offline_pins"),
            0,
            "forgotten"
        );
        assert_eq!(
            s.settle_offline_pin(&wrong, OfflineCheck::Wrong, policy, 5_000)
                .unwrap(),
            None,
            "settled once"
        );
        assert_eq!(notices(&s), 1);
        assert_eq!(pin_state(&s.conn, "C1").unwrap().failures, 1);

        let right = wait_offline(&s, "e2");
        assert_eq!(
            s.settle_offline_pin(&right, OfflineCheck::Settled, policy, 6_000)
                .unwrap(),
            None
        );
        assert_eq!(notices(&s), 1);
        assert_eq!(
            pin_state(&s.conn, "C1").unwrap().failures,
            1,
            "a right PIN typed offline clears nothing counted since"
        );

        let garbled = wait_offline(&s, "e3");
        s.settle_offline_pin(&garbled, OfflineCheck::Unopenable, policy, 7_000)
            .unwrap();
        assert_eq!(notices(&s), 2, "staff hear of it");
        assert_eq!(
            pin_state(&s.conn, "C1").unwrap().failures,
            1,
            "not the reader's fault"
        );

        let second = wait_offline(&s, "e4");
        let v = s
            .settle_offline_pin(&second, OfflineCheck::Wrong, policy, 8_000)
            .unwrap()
            .unwrap();
        assert!(v.locked_now, "the second wrong PIN locks, as at a kiosk");
        assert_eq!(v.state.locked_until, Some(8_000 + 10 * 60_000));
    }

    /// A central updated from schema 11 moves its PIN hashes to `patron_pins`, and their
    /// bytes leave the patron pages.
    #[test]
    fn migration_12_moves_the_pin_hashes_out_of_the_patron_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let old_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$MOVEDHASHMOVEDHASH";
        {
            let c = rong_sqlite::open(
                &path,
                &rong_sqlite::Options::default(),
                &crate::MIGRATIONS[..11],
            )
            .unwrap();
            c.execute(
                "INSERT INTO patrons (card, name, category, branch, pin_hash, pin_required) \
                 VALUES ('C1', 'Y Nhi', 'adult', 'kontum', ?1, 1), \
                        ('C2', 'A Blúp', 'adult', 'kontum', NULL, 0)",
                params![old_hash],
            )
            .unwrap();
        }
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(pin_hash(&s.conn, "C1").unwrap().as_deref(), Some(old_hash));
            assert_eq!(pin_hash(&s.conn, "C2").unwrap(), None);
            assert!(
                crate::reference::patron(&s.conn, "C1")
                    .unwrap()
                    .unwrap()
                    .has_pin
            );
            assert!(
                !crate::reference::patron(&s.conn, "C2")
                    .unwrap()
                    .unwrap()
                    .has_pin
            );
            assert_eq!(
                count(
                    &s,
                    "SELECT count(*) FROM pragma_table_info('patrons') WHERE name = 'pin_hash'"
                ),
                0
            );
        }
    }
}
