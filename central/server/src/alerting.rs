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

/// Alerts about central itself: the latest scheduled backup failed. Filed under no
/// branch, so administrators see them.
pub fn central_alerts(metrics: &Metrics) -> Vec<admin::AlertCandidate> {
    metrics
        .backup_failure()
        .map(|detail| admin::AlertCandidate {
            kind: "backup_failed",
            device: CENTRAL.into(),
            branch: String::new(),
            detail,
        })
        .into_iter()
        .collect()
}
