//! The alert evaluator: every `check_secs` it reads the fleet, asks the alert rules
//! ([`central_web::rules`]) which alerts hold, adds central's own (a failing scheduled
//! backup), records them through the writer and updates the fleet gauges of `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{AlertsConfig, DashboardConfig};
use crate::metrics::Metrics;
use central_store::admin;
use central_store::{Reads, StoreError, Writer};
use central_web::rules::evaluate;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Re-evaluates alerts every `check_secs` until `stop` turns true.
pub async fn run_evaluator(
    reads: Reads,
    writer: Writer,
    metrics: Arc<Metrics>,
    alerts: AlertsConfig,
    dashboard: DashboardConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(alerts.check_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        let rows = match reads.run(|c| admin::fleet(c, None)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the fleet for alerts");
                continue;
            }
        };
        let now = now_ms();
        let (mut holding, fleet) = evaluate(&rows, now, &alerts, dashboard.heartbeat_secs);
        holding.extend(central_alerts(&metrics));
        metrics.set_fleet(fleet);
        match writer.run(move |s| s.sync_alerts(&holding, now)).await {
            Ok((raised, cleared)) if raised + cleared > 0 => {
                tracing::info!(raised, cleared, "fleet alerts changed")
            }
            Ok(_) => {}
            Err(StoreError::WriterGone) => break,
            Err(e) => tracing::error!(error = ?e, "cannot record alerts"),
        }
    }
    tracing::debug!("alert evaluator stopped");
}

/// The device name central's own alerts are filed under.
pub const CENTRAL: &str = "central";

/// How long a forged-looking MQTT message keeps the `forged_messages` alert up.
pub const FORGED_ALERT_MS: i64 = 15 * 60 * 1000;

/// Alerts about central itself: the latest scheduled backup failed; MQTT messages that
/// were unsigned, signed by an unknown key, on a topic their signer does not own, or with
/// a bad signature arrived in the last [`FORGED_ALERT_MS`]. Filed under no branch, so
/// administrators see them.
pub fn central_alerts(metrics: &Metrics) -> Vec<admin::AlertCandidate> {
    let backup = metrics
        .backup_failure()
        .map(|detail| admin::AlertCandidate {
            kind: "backup_failed",
            device: CENTRAL.into(),
            branch: String::new(),
            detail,
        });
    let forged = metrics
        .forged_since(now_ms() - FORGED_ALERT_MS)
        .map(|detail| admin::AlertCandidate {
            kind: "forged_messages",
            device: CENTRAL.into(),
            branch: String::new(),
            detail,
        });
    backup.into_iter().chain(forged).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::envelope::Refused;

    #[test]
    fn a_forged_message_raises_the_alert_and_a_replay_does_not() {
        let m = Metrics::default();
        assert!(central_alerts(&m).is_empty());
        m.refused_envelope(&Refused::Replay("d/kontum-kiosk-1".into()), "rong/v1/x");
        assert!(central_alerts(&m).is_empty(), "a retry can be a replay");
        m.reject(crate::metrics::Reject::BadSignature);
        m.refused_envelope(
            &Refused::BadSignature("d/kontum-kiosk-1".into()),
            "rong/v1/kontum/kontum-kiosk-1/events",
        );
        let alerts = central_alerts(&m);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, "forged_messages");
        assert!(
            alerts[0].detail.starts_with("1 refused"),
            "{}",
            alerts[0].detail
        );
        assert!(alerts[0].detail.contains("kontum-kiosk-1/events"));
        // Older than the alert's span, it no longer holds.
        assert!(m.forged_since(now_ms() + 1).is_none());
    }
}
