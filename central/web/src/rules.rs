//! The alert rules: which device conditions raise a fleet alert and which clear it (an
//! alert holds while its condition does), and the fleet counts `/metrics` shows. Pure:
//! central's evaluator loop feeds it the fleet and records what it returns.

use rong_protocol::status::Health;

use crate::config::AlertsConfig;
use central_store::admin::{AlertCandidate, FleetRow};

/// Device counts by state and the ingest lag, as the alert evaluator last saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Online and heartbeating.
    pub online: u64,
    /// Online by its last status, but silent for two heartbeats.
    pub stale: u64,
    /// Offline, or never heard.
    pub offline: u64,
    /// The oldest unsynced event any online device reports, in seconds.
    pub ingest_lag_s: u64,
}

/// A device's state as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetState {
    /// Online and heartbeating.
    Online,
    /// Online by its last status, but silent for two heartbeat intervals.
    Stale,
    /// Offline (its will, or a clean stop).
    Offline,
    /// Never heard from.
    Unknown,
}

impl FleetState {
    /// The key used in URLs, CSS classes and translations.
    pub fn key(self) -> &'static str {
        match self {
            FleetState::Online => "online",
            FleetState::Stale => "stale",
            FleetState::Offline => "offline",
            FleetState::Unknown => "unknown",
        }
    }
}

/// Classifies a device at `now_ms`: stale when central has heard nothing for two heartbeats.
pub fn fleet_state(row: &FleetRow, now_ms: i64, heartbeat_secs: u64) -> FleetState {
    match (row.state.as_deref(), row.last_seen) {
        (Some("online"), Some(seen)) if now_ms - seen > 2 * heartbeat_secs as i64 * 1000 => {
            FleetState::Stale
        }
        (Some("online"), _) => FleetState::Online,
        (Some(_), _) => FleetState::Offline,
        (None, _) => FleetState::Unknown,
    }
}

const MIB: u64 = 1024 * 1024;

/// Which alerts hold for the fleet at `now_ms`, and the fleet's counts for `/metrics`.
pub fn evaluate(
    rows: &[FleetRow],
    now_ms: i64,
    cfg: &AlertsConfig,
    heartbeat_secs: u64,
) -> (Vec<AlertCandidate>, Fleet) {
    let mut out = Vec::new();
    let mut fleet = Fleet::default();
    for r in rows {
        let state = fleet_state(r, now_ms, heartbeat_secs);
        let silent_ms = r.last_seen.map(|t| (now_ms - t).max(0)).unwrap_or(0);
        match state {
            FleetState::Online => fleet.online += 1,
            FleetState::Stale => fleet.stale += 1,
            FleetState::Offline | FleetState::Unknown => fleet.offline += 1,
        }
        let mut add = |kind: &'static str, detail: String| {
            out.push(AlertCandidate {
                kind,
                device: r.id.clone(),
                branch: r.branch.clone(),
                detail,
            })
        };
        if matches!(state, FleetState::Offline | FleetState::Stale)
            && silent_ms >= cfg.offline_minutes as i64 * 60_000
        {
            add(
                "offline",
                format!("no status for {} min", silent_ms / 60_000),
            );
        }
        let Some(st) = &r.status else { continue };
        if let Some(age) = st.oldest_unsynced_age_s {
            // The reported age grows while the device is silent.
            let age = age + (silent_ms / 1000) as u64;
            if state == FleetState::Online {
                fleet.ingest_lag_s = fleet.ingest_lag_s.max(age);
            }
            if age >= cfg.unsynced_hours * 3600 {
                add(
                    "unsynced",
                    format!(
                        "oldest unsynced event is {} h old ({} waiting)",
                        age / 3600,
                        st.outbox_depth
                    ),
                );
            }
        }
        if cfg.hardware_missing && state != FleetState::Offline {
            let missing: Vec<&str> = st
                .hardware
                .iter()
                .filter(|(_, h)| h.health == Health::Missing)
                .map(|(n, _)| n.as_str())
                .collect();
            if !missing.is_empty() {
                add(
                    "hardware_missing",
                    format!("missing: {}", missing.join(", ")),
                );
            }
        }
        if let Some(free) = st.disk_free_bytes {
            if free < cfg.low_disk_mb * MIB {
                add("low_disk", format!("{} MiB free", free / MIB));
            }
        }
    }
    (out, fleet)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rong_protocol::status::{DeviceStatus, HardwareStatus};

    use super::*;

    fn status(outbox_age: Option<u64>, disk_mb: u64, missing: bool) -> DeviceStatus {
        let mut hardware = BTreeMap::new();
        hardware.insert(
            "barcode".to_owned(),
            HardwareStatus {
                health: if missing { Health::Missing } else { Health::Ok },
                detail: None,
            },
        );
        DeviceStatus {
            outbox_depth: 3,
            oldest_unsynced_age_s: outbox_age,
            disk_free_bytes: Some(disk_mb * MIB),
            hardware,
            ..crate::testkit::status("k1", "kontum")
        }
    }

    fn row(state: &str, seen: i64, st: DeviceStatus) -> FleetRow {
        FleetRow {
            id: "k1".into(),
            branch: "kontum".into(),
            state: Some(state.into()),
            last_seen: Some(seen),
            status: Some(st),
        }
    }

    #[test]
    fn thresholds() {
        let cfg = AlertsConfig {
            offline_minutes: 10,
            unsynced_hours: 2,
            low_disk_mb: 100,
            hardware_missing: true,
            check_secs: 1,
        };
        let now = 100 * 3_600_000;
        let kinds = |rows: &[FleetRow]| -> Vec<&'static str> {
            evaluate(rows, now, &cfg, 30)
                .0
                .iter()
                .map(|a| a.kind)
                .collect()
        };
        assert!(kinds(&[row("online", now, status(None, 500, false))]).is_empty());
        assert_eq!(
            kinds(&[row("offline", now - 9 * 60_000, status(None, 500, false))]),
            Vec::<&str>::new()
        );
        assert_eq!(
            kinds(&[row("offline", now - 11 * 60_000, status(None, 500, false))]),
            ["offline"]
        );
        // Stale counts as offline for the alert.
        assert_eq!(
            kinds(&[row("online", now - 11 * 60_000, status(None, 500, false))]),
            ["offline"]
        );
        assert_eq!(
            kinds(&[row("online", now, status(Some(2 * 3600), 500, false))]),
            ["unsynced"]
        );
        assert_eq!(
            kinds(&[row("online", now, status(Some(3600), 50, true))]),
            ["hardware_missing", "low_disk"]
        );
        // Offline devices' hardware is unknown, not missing.
        assert_eq!(
            kinds(&[row("offline", now, status(None, 500, true))]),
            Vec::<&str>::new()
        );
        let (_, fleet) = evaluate(
            &[
                row("online", now, status(Some(40), 500, false)),
                row("online", now - 61_000, status(None, 500, false)),
                row("offline", now, status(None, 500, false)),
            ],
            now,
            &cfg,
            30,
        );
        assert_eq!(
            (fleet.online, fleet.stale, fleet.offline, fleet.ingest_lag_s),
            (1, 1, 1, 40)
        );
    }
}
