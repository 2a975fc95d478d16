//! Who is asking: the checks on a patron's card, and the PIN gate with its lockout count.

use chrono::NaiveDate;
use rong_protocol::api::ErrorCode;
use rong_protocol::barcode;
use rong_protocol::delta::{Branch, Patron};

use crate::refusal::Refusal;

/// PIN lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    /// Wrong PINs before the lock.
    pub max_attempts: u32,
    /// Lock length in minutes.
    pub lock_minutes: u32,
}

/// A card's PIN failure record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinState {
    /// Wrong PINs since the last right one or lock.
    pub failures: u32,
    /// Locked until this instant (ms since the epoch), if locked.
    pub locked_until: Option<i64>,
}

/// The checks on a patron that need no PIN: a card number events can carry, blocked,
/// expired.
pub fn check_patron(patron: Option<&Patron>, today: NaiveDate) -> Result<&Patron, Refusal> {
    let p = patron.ok_or_else(|| Refusal::new(ErrorCode::UnknownPatron, ""))?;
    // Central refuses a whole event batch holding a code outside the protocol's rules, so
    // one event for such a card would stop every later event from syncing.
    if !barcode::is_valid(&p.card) {
        return Err(Refusal::new(
            ErrorCode::UnknownPatron,
            "card number is not valid for sync",
        ));
    }
    if let Some(why) = &p.blocked {
        return Err(Refusal::new(ErrorCode::PatronBlocked, why.clone()));
    }
    if p.expires.is_some_and(|e| e < today) {
        return Err(Refusal::new(ErrorCode::CardExpired, ""));
    }
    Ok(p)
}

/// Whether this patron must type a PIN at this branch.
pub fn pin_needed(patron: &Patron, branch: &Branch) -> bool {
    patron.has_pin && (patron.pin_required || branch.require_pin)
}

/// What to do about the PIN before verifying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinGate {
    /// No PIN needed.
    Open,
    /// Have this PIN checked (by central, which holds the hashes).
    Verify {
        /// The PIN typed.
        pin: String,
    },
}

/// Decides whether a PIN must be checked; refuses a locked card or a missing PIN.
pub fn pin_gate(
    patron: &Patron,
    branch: &Branch,
    pin: Option<&str>,
    state: PinState,
    now_ms: i64,
) -> Result<PinGate, Refusal> {
    if !pin_needed(patron, branch) {
        return Ok(PinGate::Open);
    }
    if state.locked_until.is_some_and(|t| t > now_ms) {
        return Err(Refusal::new(ErrorCode::PinLocked, ""));
    }
    match pin {
        Some(pin) if !pin.is_empty() => Ok(PinGate::Verify {
            pin: pin.to_owned(),
        }),
        _ => Err(Refusal::new(ErrorCode::PinRequired, "")),
    }
}

/// The result of a verified (or failed) PIN: the new failure record, and whether a
/// `PinLocked` event must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinVerdict {
    /// The record to store.
    pub state: PinState,
    /// Whether this attempt locked the card.
    pub locked_now: bool,
    /// `Ok` when the PIN was right.
    pub outcome: Result<(), Refusal>,
}

/// Counts a PIN attempt.
pub fn pin_result(right: bool, state: PinState, policy: PinPolicy, now_ms: i64) -> PinVerdict {
    if right {
        return PinVerdict {
            state: PinState::default(),
            locked_now: false,
            outcome: Ok(()),
        };
    }
    // An expired lock starts a fresh count.
    let failures = if state.locked_until.is_some() {
        1
    } else {
        state.failures + 1
    };
    if failures >= policy.max_attempts {
        PinVerdict {
            state: PinState {
                failures: 0,
                locked_until: Some(now_ms + i64::from(policy.lock_minutes) * 60_000),
            },
            locked_now: true,
            outcome: Err(Refusal::new(ErrorCode::PinLocked, "")),
        }
    } else {
        PinVerdict {
            state: PinState {
                failures,
                locked_until: None,
            },
            locked_now: false,
            outcome: Err(Refusal::new(ErrorCode::WrongPin, "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{branch, d, patron};

    const POLICY: PinPolicy = PinPolicy {
        max_attempts: 3,
        lock_minutes: 60,
    };

    #[test]
    fn patron_checks() {
        let today = d(2026, 11, 25);
        assert_eq!(
            check_patron(None, today).unwrap_err().code,
            ErrorCode::UnknownPatron
        );
        let mut p = patron();
        assert!(check_patron(Some(&p), today).is_ok());
        p.expires = Some(d(2026, 11, 25));
        assert!(
            check_patron(Some(&p), today).is_ok(),
            "valid on its last day"
        );
        p.expires = Some(d(2026, 11, 24));
        assert_eq!(
            check_patron(Some(&p), today).unwrap_err().code,
            ErrorCode::CardExpired
        );
        p.blocked = Some("unpaid fine".into());
        assert_eq!(
            check_patron(Some(&p), today).unwrap_err().code,
            ErrorCode::PatronBlocked
        );
        // A card number events cannot carry is refused before anything is logged.
        let mut p = patron();
        p.card = "P 0001".into();
        assert_eq!(
            check_patron(Some(&p), today).unwrap_err().code,
            ErrorCode::UnknownPatron
        );
    }

    #[test]
    fn pin_needed_rules() {
        let mut p = patron();
        let mut b = branch("kontum");
        assert!(!pin_needed(&p, &b));
        b.require_pin = true;
        assert!(!pin_needed(&p, &b), "no PIN, nothing to check");
        p.has_pin = true;
        assert!(pin_needed(&p, &b));
        b.require_pin = false;
        assert!(!pin_needed(&p, &b));
        p.pin_required = true;
        assert!(pin_needed(&p, &b));
    }

    #[test]
    fn pin_gate_rules() {
        let mut p = patron();
        p.has_pin = true;
        p.pin_required = true;
        let b = branch("kontum");
        let ok = PinState::default();
        assert_eq!(
            pin_gate(&p, &b, None, ok, 0).unwrap_err().code,
            ErrorCode::PinRequired
        );
        assert_eq!(
            pin_gate(&p, &b, Some(""), ok, 0).unwrap_err().code,
            ErrorCode::PinRequired
        );
        assert_eq!(
            pin_gate(&p, &b, Some("1234"), ok, 0).unwrap(),
            PinGate::Verify { pin: "1234".into() }
        );
        let locked = PinState {
            failures: 0,
            locked_until: Some(1000),
        };
        assert_eq!(
            pin_gate(&p, &b, Some("1234"), locked, 999)
                .unwrap_err()
                .code,
            ErrorCode::PinLocked,
            "locked even with a PIN"
        );
        assert!(
            pin_gate(&p, &b, Some("1234"), locked, 1000).is_ok(),
            "lock over"
        );
        p.pin_required = false;
        assert_eq!(pin_gate(&p, &b, None, locked, 0).unwrap(), PinGate::Open);
    }

    #[test]
    fn pin_lockout_counts() {
        let mut s = PinState::default();
        let v = pin_result(false, s, POLICY, 0);
        assert_eq!(v.outcome.unwrap_err().code, ErrorCode::WrongPin);
        assert_eq!(v.state.failures, 1);
        s = v.state;
        // A right PIN resets the count.
        let v = pin_result(true, s, POLICY, 0);
        assert!(v.outcome.is_ok());
        assert_eq!(v.state, PinState::default());
        // Three wrong in a row lock for an hour, with an event.
        let mut s = PinState::default();
        for _ in 0..2 {
            let v = pin_result(false, s, POLICY, 0);
            assert!(!v.locked_now);
            s = v.state;
        }
        let v = pin_result(false, s, POLICY, 5);
        assert!(v.locked_now);
        assert_eq!(v.outcome.unwrap_err().code, ErrorCode::PinLocked);
        assert_eq!(v.state.locked_until, Some(5 + 3_600_000));
        // After the lock, a wrong PIN starts a fresh count.
        let v = pin_result(false, v.state, POLICY, 4_000_000);
        assert_eq!(v.state.failures, 1);
        assert_eq!(v.state.locked_until, None);
        assert!(!v.locked_now);
    }
}
