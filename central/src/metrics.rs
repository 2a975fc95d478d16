//! Process counters, rendered with the store's durable counts as Prometheus text.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::StatsRow;

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
}

impl Reject {
    /// Every reason, in metric order.
    pub const ALL: [Reject; 6] = [
        Reject::Malformed,
        Reject::Oversized,
        Reject::WrongVersion,
        Reject::Invalid,
        Reject::WrongDevice,
        Reject::UnknownBranch,
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
    rejected: [AtomicU64; 6],
    snapshots_served: AtomicU64,
    batches: AtomicU64,
    deltas_published: AtomicU64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events applied since start.
    pub events_applied: u64,
    /// Replayed events skipped since start.
    pub events_replayed: u64,
    /// Rejected messages, by reason (see [`Reject::ALL`]).
    pub rejected: [u64; 6],
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

    /// Counts a served snapshot.
    pub fn snapshot_served(&self) {
        self.snapshots_served.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts published delta messages.
    pub fn deltas(&self, n: u64) {
        self.deltas_published.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads the counters.
    pub fn counts(&self) -> Counts {
        let mut rejected = [0; 6];
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
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        };
        metric(
            "rong_events_applied_total",
            "counter",
            "Events recorded exactly once (durable count).",
            &[(String::new(), stats.events_recorded)],
        );
        metric(
            "rong_events_replayed_total",
            "counter",
            "Replayed events skipped since start.",
            &[(String::new(), c.events_replayed)],
        );
        let rejected: Vec<(String, u64)> = Reject::ALL
            .iter()
            .zip(c.rejected)
            .map(|(r, v)| (format!("{{reason=\"{}\"}}", r.as_str()), v))
            .collect();
        metric(
            "rong_rejected_messages_total",
            "counter",
            "MQTT messages refused since start, by reason.",
            &rejected,
        );
        metric(
            "rong_devices",
            "gauge",
            "Registered devices by state.",
            &[
                ("{state=\"online\"}".into(), stats.devices_online),
                ("{state=\"offline\"}".into(), stats.devices_offline),
            ],
        );
        metric(
            "rong_change_version",
            "gauge",
            "Current change-log version.",
            &[(String::new(), stats.change_version)],
        );
        metric(
            "rong_notices_open",
            "gauge",
            "Notices not yet acknowledged.",
            &[(String::new(), stats.notices_open)],
        );
        metric(
            "rong_loans_active",
            "gauge",
            "Active loans.",
            &[(String::new(), stats.loans_active)],
        );
        metric(
            "rong_snapshots_served_total",
            "counter",
            "Snapshots served since start.",
            &[(String::new(), c.snapshots_served)],
        );
        metric(
            "rong_deltas_published_total",
            "counter",
            "Delta messages published since start.",
            &[(String::new(), c.deltas_published)],
        );
        s
    }
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
    }
}
