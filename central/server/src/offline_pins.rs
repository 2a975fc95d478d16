//! PINs typed at boards that could not ask central, checked when their `identify` event
//! arrives (`docs/TRUST.md`, "PINs").
//!
//! Boards hold no PIN hashes. A board that cannot reach central lends on the PIN the reader
//! typed (within its offline limit) and seals that PIN to central's key in the visit's
//! `identify` event. Ingest keeps the sealed PIN in `offline_pins`, in the transaction that
//! applies the event; this task opens and checks each one (argon2 work shared with the PIN
//! route's permits), then settles it in one writer transaction: a wrong PIN counts against
//! the card like a wrong PIN at a kiosk, and leaves an `offline_wrong_pin` notice for the
//! branch's staff with the device and visit; the sealed PIN is deleted either way. A row
//! left by a restart is checked at the next start.

use std::sync::Arc;
use std::time::Duration;

use central_store::audit::Entry;
use central_store::pins::{OfflineCheck, OfflinePin};
use central_store::StoreError;
use tokio::sync::{watch, Notify};

use crate::http::pins::Pins;
use crate::metrics::Metrics;
use crate::signing::Envelopes;

/// Rows taken per pass.
const BATCH: usize = 50;

/// A pass runs at least this often, even with no wake-up (a row left by a failure).
const EVERY: Duration = Duration::from_secs(60);

/// What the checker needs.
#[derive(Debug, Clone)]
pub struct OfflinePins {
    /// Reads, the writer, the argon2 permits and the lockout policy of the PIN route.
    pub pins: Pins,
    /// Central's key, which opens sealed PINs.
    pub envelopes: Arc<Envelopes>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Woken by ingest when a batch brings sealed PINs.
    pub wake: Arc<Notify>,
}

/// Checks waiting PINs whenever woken (and every minute) until `stop` turns true.
pub async fn run(ctx: OfflinePins, mut stop: watch::Receiver<bool>) {
    loop {
        loop {
            match pass(&ctx).await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => break,
                Err(StoreError::WriterGone) => return,
                Err(e) => {
                    tracing::error!(error = %e, "cannot check PINs typed offline");
                    break;
                }
            }
        }
        tokio::select! {
            _ = ctx.wake.notified() => {}
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Checks up to [`BATCH`] waiting PINs; answers how many it took.
pub async fn pass(ctx: &OfflinePins) -> Result<usize, StoreError> {
    let rows = ctx
        .pins
        .reads
        .run(|c| central_store::pins::pending_offline_pins(c, BATCH))
        .await?;
    for row in &rows {
        settle(ctx, row).await?;
    }
    Ok(rows.len())
}

async fn settle(ctx: &OfflinePins, row: &OfflinePin) -> Result<(), StoreError> {
    let check = match ctx.envelopes.open_pin(&row.sealed, &row.card) {
        Err(e) => {
            tracing::warn!(device = %row.device, seq = row.seq, error = %e, "a PIN typed offline cannot be opened");
            OfflineCheck::Unopenable
        }
        Ok(pin) => {
            let card = row.card.clone();
            let hash = ctx
                .pins
                .reads
                .run(move |c| central_store::pins::pin_hash(c, &card))
                .await?;
            match hash {
                // The PIN was removed since: nothing to hold the visit against.
                None => OfflineCheck::Settled,
                Some(hash) => {
                    let right = ctx
                        .pins
                        .hash_work
                        .run(move || crate::http::pins::verify(&pin, &hash))
                        .await
                        .map_err(|e| StoreError::Conflict(format!("argon2 worker: {e}")))?;
                    if right {
                        OfflineCheck::Settled
                    } else {
                        OfflineCheck::Wrong
                    }
                }
            }
        }
    };
    let (r, policy) = (row.clone(), ctx.pins.policy);
    let now = chrono::Utc::now().timestamp_millis();
    let verdict = ctx
        .pins
        .writer
        .run(move |s| s.settle_offline_pin(&r, check, policy, now))
        .await?;
    ctx.metrics.offline_pin(match check {
        OfflineCheck::Settled => "right",
        OfflineCheck::Wrong => "wrong",
        OfflineCheck::Unopenable => "unopenable",
    });
    if check == OfflineCheck::Settled {
        return Ok(());
    }
    let masked = rong_protocol::privacy::mask_card(&row.card);
    tracing::warn!(device = %row.device, seq = row.seq, card = %masked, ?check, "a PIN typed offline did not check");
    let locked = verdict.is_some_and(|v| v.locked_now);
    let entry = Entry::new(row.device.as_str(), "pin.offline_wrong", &masked)
        .branch(Some(&row.branch))
        .detail(format!(
            "visit seq {} at {}{}",
            row.seq,
            chrono::DateTime::from_timestamp_millis(row.at)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            if locked { "; card locked" } else { "" }
        ));
    let _ = ctx.pins.writer.audit(entry).await;
    Ok(())
}
