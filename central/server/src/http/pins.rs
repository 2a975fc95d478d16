//! `POST /api/v1/device/pin`: central checks a reader's PIN for a board (a device route).
//!
//! Central holds the PIN hashes and every card's failure count (`pin_attempts`), so a
//! lockout holds on every device of every branch. The branch's PIN rule is the asking
//! board's branch's. One attempt per card at a time (a second gets 409), argon2 work
//! bounded by a few permits and by the cost the hash may ask for, and the count kept in
//! the one writer: no two attempts can read the same count.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use central_store::audit::Entry;
use central_store::identity::AuthedDevice;
use central_store::{Reads, Writer};
use rong_identity::pin::{PinAnswer, PinCheck, PinOutcome, MAX_PIN_CHARS};
use rong_lending::{pin_gate, PinGate, PinPolicy};
use rong_protocol::api::ErrorCode;

use super::ApiError;

/// The most argon2 memory (KiB) and passes a stored hash may ask for; a hash asking more is
/// treated as wrong rather than verified (central made every hash it holds; this only
/// stops a tampered row from taking the machine).
const MAX_ARGON2_KIB: u32 = 256 * 1024;
const MAX_ARGON2_PASSES: u32 = 16;

/// What the PIN route needs.
#[derive(Debug, Clone)]
pub struct Pins {
    /// Patrons, branches and failure counts.
    pub reads: Reads,
    /// Counts attempts.
    pub writer: Writer,
    /// Bounds the argon2 work done at once.
    pub hash_work: Arc<central_web::HashWork>,
    /// Cards with an attempt being checked.
    pub in_flight: Arc<Mutex<HashSet<String>>>,
    /// Wrong PINs before a card is locked, and for how long (`[pins]`).
    pub policy: PinPolicy,
}

/// Frees a card's slot when its attempt ends, however it ends.
struct Slot<'a>(&'a Mutex<HashSet<String>>, String);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(&self.1);
        }
    }
}

/// Whether `pin` matches the PHC string `hash`, within the argon2 cost central allows.
pub(crate) fn verify(pin: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_KIB || params.t_cost() > MAX_ARGON2_PASSES {
        tracing::warn!("a stored PIN hash asks for more argon2 work than allowed; not verified");
        return false;
    }
    argon2::Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_ok()
}

/// `POST /api/v1/device/pin`.
#[tracing::instrument(skip_all, fields(device = %who.device))]
pub async fn check_pin(
    State(st): State<Pins>,
    Extension(who): Extension<AuthedDevice>,
    body: Result<Json<PinCheck>, JsonRejection>,
) -> Response {
    match check(&st, &who, body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn check(
    st: &Pins,
    who: &AuthedDevice,
    body: Result<Json<PinCheck>, JsonRejection>,
) -> Result<PinAnswer, ApiError> {
    let Json(PinCheck { card, pin }) =
        body.map_err(|e| ApiError::BadRequest(format!("not a PIN check: {e}")))?;
    if !rong_protocol::barcode::is_valid(&card) {
        return Err(ApiError::BadRequest("not a card number".into()));
    }
    if pin.is_empty() || pin.chars().count() > MAX_PIN_CHARS {
        return Err(ApiError::BadRequest(format!(
            "a PIN has 1 to {MAX_PIN_CHARS} characters"
        )));
    }
    let fresh = st
        .in_flight
        .lock()
        .map(|mut set| set.insert(card.clone()))
        .unwrap_or(false);
    if !fresh {
        return Err(ApiError::Conflict(
            "another attempt for this card is being checked".into(),
        ));
    }
    let _slot = Slot(&st.in_flight, card.clone());
    let (c, b) = (card.clone(), who.branch.to_string());
    let ctx = st
        .reads
        .run(move |conn| central_store::pins::pin_context(conn, &c, &b))
        .await?;
    let (Some(patron), Some(branch)) = (ctx.patron, ctx.branch) else {
        return Ok(PinAnswer {
            outcome: PinOutcome::UnknownPatron,
            locked_until_ms: None,
        });
    };
    let now = chrono::Utc::now().timestamp_millis();
    let pin = match pin_gate(&patron, &branch, Some(&pin), ctx.state, now) {
        Ok(PinGate::Open) => {
            return Ok(PinAnswer {
                outcome: PinOutcome::NotNeeded,
                locked_until_ms: None,
            })
        }
        Ok(PinGate::Verify { pin }) => pin,
        Err(r) if r.code == ErrorCode::PinLocked => {
            return Ok(PinAnswer {
                outcome: PinOutcome::Locked,
                locked_until_ms: ctx.state.locked_until,
            })
        }
        Err(r) => return Err(ApiError::BadRequest(format!("{:?}", r.code))),
    };
    let Some(hash) = ctx.hash else {
        // `has_pin` and `patron_pins` are written together; a card without a hash has no
        // PIN to check.
        return Ok(PinAnswer {
            outcome: PinOutcome::NotNeeded,
            locked_until_ms: None,
        });
    };
    let right = st
        .hash_work
        .run(move || verify(&pin, &hash))
        .await
        .map_err(ApiError::Internal)?;
    let (c, policy) = (card.clone(), st.policy);
    let verdict = st
        .writer
        .run(move |s| s.count_pin_attempt(&c, right, policy, now))
        .await?;
    if verdict.locked_now {
        let masked = rong_protocol::privacy::mask_card(&card);
        tracing::warn!(card = %masked, "a card is locked after wrong PINs");
        let entry = Entry::new(who.device.as_str(), "pin.locked", &masked)
            .branch(Some(who.branch.as_str()))
            .detail(format!(
                "{} wrong PINs; locked for {} minutes",
                policy.max_attempts, policy.lock_minutes
            ));
        let _ = st.writer.audit(entry).await;
    }
    Ok(match verdict.outcome {
        Ok(()) => PinAnswer {
            outcome: PinOutcome::Right,
            locked_until_ms: None,
        },
        Err(_) if verdict.locked_now => PinAnswer {
            outcome: PinOutcome::Locked,
            locked_until_ms: verdict.state.locked_until,
        },
        Err(_) => PinAnswer {
            outcome: PinOutcome::Wrong,
            locked_until_ms: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_asking_too_much_work_is_not_verified() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let cheap = argon2::Argon2::default()
            .hash_password(b"1234", &salt)
            .unwrap()
            .to_string();
        assert!(verify("1234", &cheap));
        assert!(!verify("4321", &cheap));
        let greedy = cheap.replace("m=19456", "m=4194304");
        assert_ne!(greedy, cheap);
        assert!(!verify("1234", &greedy), "4 GiB is refused before any work");
        assert!(!verify("1234", "not a hash"));
    }
}
