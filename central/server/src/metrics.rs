//! Process counters, rendered with the store's durable counts as Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use central_store::StatsRow;
pub use central_web::rules::Fleet;

/// Why an incoming MQTT message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not JSON, or not the expected shape.
    Malformed,
    /// Larger than the protocol's limit.
    Oversized,
    /// A schema version this build does not speak.
    WrongVersion,
    /// Well-formed but breaks a rule.
    Invalid,
    /// The message's device does not match its topic, or the device is not registered
    /// in the topic's branch.
    WrongDevice,
    /// The topic names a branch central does not know.
    UnknownBranch,
    /// Events from a device that is not enrolled, revoked, or on another branch's topic:
    /// set aside in the quarantine for staff.
    Quarantined,
    /// Not in a signed envelope.
    Unsigned,
    /// Signed by no key central knows.
    UnknownSigner,
    /// Signed by a device that may not publish on the topic (another device's or
    /// branch's).
    NotOwner,
    /// The signature does not match the message.
    BadSignature,
    /// A message seen before, or dated too far behind the signer's newest.
    Replay,
}

impl Reject {
    /// Every reason, in metric order.
    pub const ALL: [Reject; 12] = [
        Reject::Malformed,
        Reject::Oversized,
        Reject::WrongVersion,
        Reject::Invalid,
        Reject::WrongDevice,
        Reject::UnknownBranch,
        Reject::Quarantined,
        Reject::Unsigned,
        Reject::UnknownSigner,
        Reject::NotOwner,
        Reject::BadSignature,
        Reject::Replay,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::Oversized => "oversized",
            Reject::WrongVersion => "wrong_version",
            Reject::Invalid => "invalid",
            Reject::WrongDevice => "wrong_device",
            Reject::UnknownBranch => "unknown_branch",
            Reject::Quarantined => "quarantined",
            Reject::Unsigned => "unsigned",
            Reject::UnknownSigner => "unknown_signer",
            Reject::NotOwner => "not_owner",
            Reject::BadSignature => "bad_signature",
            Reject::Replay => "replay",
        }
    }

    /// The reason for a refused envelope.
    pub fn from_envelope(e: &rong_protocol::envelope::Refused) -> Reject {
        use rong_protocol::envelope::Refused;
        match e {
            Refused::Malformed(_) => Reject::Unsigned,
            Refused::UnknownSigner(_) => Reject::UnknownSigner,
            Refused::NotOwner { .. } => Reject::NotOwner,
            Refused::BadSignature(_) => Reject::BadSignature,
            Refused::Replay(_) => Reject::Replay,
        }
    }

    /// The reason for a decode error.
    pub fn from_decode(e: &rong_protocol::DecodeError) -> Reject {
        match e {
            rong_protocol::DecodeError::Oversized(_) => Reject::Oversized,
            rong_protocol::DecodeError::Malformed(_) => Reject::Malformed,
            rong_protocol::DecodeError::WrongVersion(_) => Reject::WrongVersion,
            rong_protocol::DecodeError::Invalid(_) => Reject::Invalid,
        }
    }
}

/// Counters shared by the ingest worker, the MQTT task and the HTTP server.
#[derive(Debug, Default)]
pub struct Metrics {
    events_applied: AtomicU64,
    events_replayed: AtomicU64,
    rejected: [AtomicU64; Reject::ALL.len()],
    snapshots_served: AtomicU64,
    batches: AtomicU64,
    deltas_published: AtomicU64,
    fleet: Mutex<Option<Fleet>>,
    http: Mutex<BTreeMap<String, Histogram>>,
    backup: Mutex<BackupHealth>,
    /// The latest refused envelope that looks like forgery (not a replay): when, and what.
    forged: Mutex<Option<(i64, String)>>,
    /// PINs typed offline and checked on arrival, by [`OFFLINE_PIN_OUTCOMES`].
    offline_pins: [AtomicU64; OFFLINE_PIN_OUTCOMES.len()],
}

/// How a PIN typed offline turned out when central checked it.
pub const OFFLINE_PIN_OUTCOMES: [&str; 3] = ["right", "wrong", "unopenable"];

/// How the scheduled backups are going.
#[derive(Debug, Default, Clone)]
struct BackupHealth {
    /// The last success, seconds since the Unix epoch.
    last_success: Option<i64>,
    /// Its size in bytes.
    last_bytes: u64,
    /// Failures since start.
    failures: u64,
    /// Why the latest attempt failed; cleared by a success.
    failing: Option<String>,
}

/// Upper bounds (seconds) of the HTTP latency histogram's buckets.
const HTTP_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; HTTP_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events applied since start.
    pub events_applied: u64,
    /// Replayed events skipped since start.
    pub events_replayed: u64,
    /// Rejected messages, by reason (see [`Reject::ALL`]).
    pub rejected: [u64; Reject::ALL.len()],
    /// Snapshots served.
    pub snapshots_served: u64,
    /// Event batches handled.
    pub batches: u64,
    /// Delta messages published.
    pub deltas_published: u64,
}

impl Metrics {
    /// Counts applied and replayed events of one batch.
    pub fn batch(&self, applied: u64, replayed: u64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.events_applied.fetch_add(applied, Ordering::Relaxed);
        self.events_replayed.fetch_add(replayed, Ordering::Relaxed);
    }

    /// Counts a rejected message.
    pub fn reject(&self, why: Reject) {
        let i = Reject::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Messages refused for `why` since start.
    pub fn rejected_count(&self, why: Reject) -> u64 {
        let i = Reject::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.rejected[i].load(Ordering::Relaxed)
    }

    /// Counts a PIN typed offline that central has checked (`outcome` from
    /// [`OFFLINE_PIN_OUTCOMES`]).
    pub fn offline_pin(&self, outcome: &str) {
        if let Some(i) = OFFLINE_PIN_OUTCOMES.iter().position(|o| *o == outcome) {
            self.offline_pins[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a served snapshot.
    pub fn snapshot_served(&self) {
        self.snapshots_served.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts published delta messages.
    pub fn deltas(&self, n: u64) {
        self.deltas_published.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the fleet's state (from the alert evaluator).
    pub fn set_fleet(&self, fleet: Fleet) {
        if let Ok(mut f) = self.fleet.lock() {
            *f = Some(fleet);
        }
    }

    /// Records a scheduled backup that succeeded at `unix_secs`, `bytes` long.
    pub fn backup_succeeded(&self, unix_secs: i64, bytes: u64) {
        if let Ok(mut b) = self.backup.lock() {
            b.last_success = Some(unix_secs);
            b.last_bytes = bytes;
            b.failing = None;
        }
    }

    /// Records a scheduled backup that failed, and why.
    pub fn backup_failed(&self, why: String) {
        if let Ok(mut b) = self.backup.lock() {
            b.failures += 1;
            b.failing = Some(why);
        }
    }

    /// Records a refused envelope. Replays are counted only: a device's retry can be
    /// one. Anything else is remembered for the `forged_messages` alert.
    pub fn refused_envelope(&self, why: &rong_protocol::envelope::Refused, topic: &str) {
        if matches!(why, rong_protocol::envelope::Refused::Replay(_)) {
            return;
        }
        let shown: String = format!("{why} on {topic}").chars().take(300).collect();
        if let Ok(mut f) = self.forged.lock() {
            *f = Some((chrono::Utc::now().timestamp_millis(), shown));
        }
    }

    /// The latest forged-looking message since `since_ms`, as a line for an alert.
    pub fn forged_since(&self, since_ms: i64) -> Option<String> {
        let f = self.forged.lock().ok()?;
        let (at, what) = f.as_ref()?;
        (*at >= since_ms).then(|| {
            let n: u64 = [
                Reject::Unsigned,
                Reject::UnknownSigner,
                Reject::NotOwner,
                Reject::BadSignature,
            ]
            .iter()
            .map(|r| self.rejected_count(*r))
            .sum();
            format!("{n} refused since start; latest: {what}")
        })
    }

    /// Why the latest scheduled backup failed, while no later one has succeeded.
    pub fn backup_failure(&self) -> Option<String> {
        self.backup.lock().ok().and_then(|b| b.failing.clone())
    }

    /// Records one HTTP request's latency under its route pattern.
    pub fn http_request(&self, route: &str, seconds: f64) {
        if let Ok(mut h) = self.http.lock() {
            let e = h.entry(route.to_owned()).or_default();
            e.count += 1;
            e.sum += seconds;
            for (b, le) in e.buckets.iter_mut().zip(HTTP_BUCKETS) {
                if seconds <= le {
                    *b += 1;
                }
            }
        }
    }

    /// Reads the counters.
    pub fn counts(&self) -> Counts {
        let mut rejected = [0; Reject::ALL.len()];
        for (out, c) in rejected.iter_mut().zip(&self.rejected) {
            *out = c.load(Ordering::Relaxed);
        }
        Counts {
            events_applied: self.events_applied.load(Ordering::Relaxed),
            events_replayed: self.events_replayed.load(Ordering::Relaxed),
            rejected,
            snapshots_served: self.snapshots_served.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            deltas_published: self.deltas_published.load(Ordering::Relaxed),
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self, stats: &StatsRow) -> String {
        let c = self.counts();
        let one = |v: u64| vec![(String::new(), v)];
        let rejected: Vec<(String, u64)> = Reject::ALL
            .iter()
            .zip(c.rejected)
            .map(|(r, v)| (format!("{{reason=\"{}\"}}", r.as_str()), v))
            .collect();
        let fleet = self.fleet.lock().ok().and_then(|f| *f);
        // Online and offline are read from the store at every scrape; which online
        // devices have gone silent ("stale") comes from the alert evaluator's last pass.
        let stale = fleet.map_or(0, |f| f.stale).min(stats.devices_online);
        let (online, offline) = (stats.devices_online - stale, stats.devices_offline);
        let devices = vec![
            ("{state=\"online\"}".into(), online),
            ("{state=\"stale\"}".into(), stale),
            ("{state=\"offline\"}".into(), offline),
        ];
        // In the order of `METRICS`.
        let values = [
            one(stats.events_recorded),
            one(c.events_replayed),
            rejected,
            devices,
            one(fleet.map(|f| f.ingest_lag_s).unwrap_or(0)),
            one(stats.change_version),
            one(stats.notices_open),
            one(stats.loans_active),
            one(c.snapshots_served),
            one(c.deltas_published),
        ];
        let mut s = String::new();
        for ((name, kind, help), lines) in METRICS.iter().zip(values) {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        }
        self.render_http(&mut s);
        self.render_backup(&mut s);
        s
    }

    fn render_backup(&self, s: &mut String) {
        let b = self.backup.lock().map(|b| b.clone()).unwrap_or_default();
        let lines = [
            (
                "rong_backup_last_success_timestamp_seconds",
                "gauge",
                "When the last scheduled backup succeeded (0: none since start).",
                b.last_success.unwrap_or(0).max(0) as u64,
            ),
            (
                "rong_backup_last_bytes",
                "gauge",
                "Size of the last successful scheduled backup.",
                b.last_bytes,
            ),
            (
                "rong_backup_failures_total",
                "counter",
                "Scheduled backups that failed since start.",
                b.failures,
            ),
        ];
        for (name, kind, help, v) in lines {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        let name = "rong_offline_pins_checked_total";
        let _ = writeln!(
            s,
            "# HELP {name} PINs typed at boards that could not ask central, checked on arrival, by outcome.\n# TYPE {name} counter"
        );
        for (outcome, n) in OFFLINE_PIN_OUTCOMES.iter().zip(&self.offline_pins) {
            let _ = writeln!(
                s,
                "{name}{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }

    fn render_http(&self, s: &mut String) {
        let Ok(h) = self.http.lock() else { return };
        let name = "rong_http_request_duration_seconds";
        let _ = writeln!(
            s,
            "# HELP {name} HTTP request latency by route.\n# TYPE {name} histogram"
        );
        for (route, e) in h.iter() {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            for (b, le) in e.buckets.iter().zip(HTTP_BUCKETS) {
                let _ = writeln!(s, "{name}_bucket{{route=\"{route}\",le=\"{le}\"}} {b}");
            }
            let _ = writeln!(
                s,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                e.count
            );
            let _ = writeln!(s, "{name}_sum{{route=\"{route}\"}} {}", e.sum);
            let _ = writeln!(s, "{name}_count{{route=\"{route}\"}} {}", e.count);
        }
    }
}

/// Central's metrics besides the HTTP histogram: name, type and help, in the order
/// [`Metrics::render`] writes them.
const METRICS: [(&str, &str, &str); 10] = [
    (
        "rong_events_applied_total",
        "counter",
        "Events recorded exactly once (durable count).",
    ),
    (
        "rong_events_replayed_total",
        "counter",
        "Replayed events skipped since start.",
    ),
    (
        "rong_rejected_messages_total",
        "counter",
        "MQTT messages refused since start, by reason.",
    ),
    (
        "rong_devices",
        "gauge",
        "Registered devices by state (stale: online but silent for two heartbeats).",
    ),
    (
        "rong_ingest_lag_seconds",
        "gauge",
        "Age of the oldest event an online device has not yet synced.",
    ),
    (
        "rong_change_version",
        "gauge",
        "Current change-log version.",
    ),
    (
        "rong_notices_open",
        "gauge",
        "Notices not yet acknowledged.",
    ),
    ("rong_loans_active", "gauge", "Active loans."),
    (
        "rong_snapshots_served_total",
        "counter",
        "Snapshots served since start.",
    ),
    (
        "rong_deltas_published_total",
        "counter",
        "Delta messages published since start.",
    ),
];

/// Middleware: times every request into the HTTP latency histogram, by route pattern.
pub async fn track_latency(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let t = Instant::now();
    let resp = next.run(req).await;
    metrics.http_request(&route, t.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_reason() {
        let m = Metrics::default();
        m.reject(Reject::Oversized);
        m.reject(Reject::Oversized);
        m.batch(3, 1);
        let text = m.render(&StatsRow::default());
        assert!(
            text.contains("rong_rejected_messages_total{reason=\"oversized\"} 2"),
            "{text}"
        );
        assert!(text.contains("rong_rejected_messages_total{reason=\"unknown_branch\"} 0"));
        assert!(text.contains("rong_events_replayed_total 1"));
        assert!(text.contains("rong_devices{state=\"online\"} 0"));
        assert_eq!(m.counts().rejected.iter().sum::<u64>(), 2);
        m.http_request("/admin/devices", 0.02);
        m.set_fleet(Fleet {
            online: 3,
            stale: 1,
            offline: 2,
            ingest_lag_s: 7,
        });
        let text = m.render(&StatsRow {
            devices_online: 4,
            devices_offline: 2,
            ..StatsRow::default()
        });
        assert!(text.contains("rong_devices{state=\"online\"} 3"), "{text}");
        assert!(text.contains("rong_devices{state=\"stale\"} 1"), "{text}");
        assert!(text.contains("rong_devices{state=\"offline\"} 2"), "{text}");
        assert!(text.contains("rong_ingest_lag_seconds 7"));
        assert!(text.contains(
            "rong_http_request_duration_seconds_bucket{route=\"/admin/devices\",le=\"0.025\"} 1"
        ));
        assert!(text.contains(
            "rong_http_request_duration_seconds_bucket{route=\"/admin/devices\",le=\"0.01\"} 0"
        ));
    }

    #[test]
    fn backups_show_their_last_success_and_failures() {
        let m = Metrics::default();
        assert!(m
            .render(&StatsRow::default())
            .contains("rong_backup_last_success_timestamp_seconds 0"));
        m.backup_failed("disk full".into());
        assert_eq!(m.backup_failure().as_deref(), Some("disk full"));
        m.backup_succeeded(1_760_000_000, 4096);
        assert_eq!(m.backup_failure(), None, "a success clears the failure");
        let text = m.render(&StatsRow::default());
        assert!(text.contains("rong_backup_last_success_timestamp_seconds 1760000000"));
        assert!(text.contains("rong_backup_last_bytes 4096"));
        assert!(text.contains("rong_backup_failures_total 1"), "{text}");
    }
}
