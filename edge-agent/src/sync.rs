//! The sync state machines: which events to send next, what an ack means, when to rewind,
//! and what to do with a delta. They touch no socket and read no clock: the MQTT loop feeds
//! them the time in milliseconds.

/// Sender tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Most events per batch.
    pub batch_events: u64,
    /// Most unacked events in flight.
    pub window_events: u64,
    /// Rewind when no ack advances for this long while events are in flight.
    pub ack_timeout_ms: u64,
    /// Rewinds happen at most this often.
    pub min_rewind_gap_ms: u64,
}

impl OutboxConfig {
    /// The settings SYNC.md fixes, with the given batch, window and timeout.
    pub fn new(batch_events: u32, window_events: u32, ack_timeout_secs: u64) -> Self {
        Self {
            batch_events: u64::from(batch_events.max(1)),
            window_events: u64::from(window_events.max(batch_events).max(1)),
            ack_timeout_ms: ack_timeout_secs * 1000,
            min_rewind_gap_ms: 2000,
        }
    }
}

/// What an ack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// Events up to this seq are now acked (mark them in the store).
    Advanced(u64),
    /// Nothing new; the sender rewound to resend from `acked_through + 1`.
    Rewound,
    /// Nothing new.
    Stale,
    /// The ack names a seq never written: refused.
    Refused,
}

/// The outbox sender: publishes `acked_through+1 ..= last_seq` in batches, pipelined.
#[derive(Debug, Clone)]
pub struct Outbox {
    cfg: OutboxConfig,
    acked_through: u64,
    last_seq: u64,
    next_to_send: u64,
    connected: bool,
    last_progress_ms: u64,
    last_rewind_ms: Option<u64>,
}

impl Outbox {
    /// A sender for a log that has written `last_seq` and had `acked_through` acked.
    pub fn new(cfg: OutboxConfig, acked_through: u64, last_seq: u64) -> Self {
        Self {
            cfg,
            acked_through,
            last_seq: last_seq.max(acked_through),
            next_to_send: acked_through + 1,
            connected: false,
            last_progress_ms: 0,
            last_rewind_ms: None,
        }
    }

    /// Highest acked seq.
    pub fn acked_through(&self) -> u64 {
        self.acked_through
    }

    /// Highest written seq.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Events not yet acked.
    pub fn depth(&self) -> u64 {
        self.last_seq - self.acked_through
    }

    /// Events sent and not yet acked.
    pub fn in_flight(&self) -> u64 {
        self.next_to_send - 1 - self.acked_through
    }

    /// The broker accepted our connection: start again after the last ack.
    pub fn on_connected(&mut self, now_ms: u64) {
        self.connected = true;
        self.rewind(now_ms);
    }

    /// The connection is gone: send nothing until it is back.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
    }

    /// A new event was written.
    pub fn on_written(&mut self, seq: u64) {
        self.last_seq = self.last_seq.max(seq);
    }

    /// Central was restored from a backup: only `acked_through` counts as acked now, and
    /// everything after it goes again.
    pub fn restart(&mut self, acked_through: u64, now_ms: u64) {
        self.acked_through = acked_through;
        self.last_seq = self.last_seq.max(acked_through);
        self.rewind(now_ms);
    }

    /// Resend from `acked_through + 1` (sync now, or a detected loss).
    pub fn rewind(&mut self, now_ms: u64) {
        self.next_to_send = self.acked_through + 1;
        self.last_rewind_ms = Some(now_ms);
        self.last_progress_ms = now_ms;
    }

    /// The next batch to publish, as an inclusive seq range, if any may go now.
    pub fn next_batch(&self) -> Option<(u64, u64)> {
        if !self.connected || self.next_to_send > self.last_seq {
            return None;
        }
        let window_end = self.acked_through + self.cfg.window_events;
        if self.next_to_send > window_end {
            return None;
        }
        let end = (self.next_to_send + self.cfg.batch_events - 1)
            .min(self.last_seq)
            .min(window_end);
        Some((self.next_to_send, end))
    }

    /// The batch ending at `to` was handed to the MQTT client.
    pub fn on_sent(&mut self, to: u64, now_ms: u64) {
        if self.in_flight() == 0 {
            // The ack timer runs from the first send after an idle spell.
            self.last_progress_ms = now_ms;
        }
        self.next_to_send = self.next_to_send.max(to + 1);
    }

    /// Central applied everything up to `n`.
    pub fn on_ack(&mut self, n: u64, now_ms: u64) -> AckOutcome {
        if n > self.last_seq {
            return AckOutcome::Refused;
        }
        if n > self.acked_through {
            self.acked_through = n;
            self.last_progress_ms = now_ms;
            self.next_to_send = self.next_to_send.max(n + 1);
            return AckOutcome::Advanced(n);
        }
        // Not advancing while events are in flight: central saw a gap; resend.
        if self.in_flight() > 0 && self.may_rewind(now_ms) {
            self.rewind(now_ms);
            return AckOutcome::Rewound;
        }
        AckOutcome::Stale
    }

    /// Checks the ack timer; returns true when it rewound.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        if self.connected
            && self.in_flight() > 0
            && now_ms.saturating_sub(self.last_progress_ms) >= self.cfg.ack_timeout_ms
            && self.may_rewind(now_ms)
        {
            self.rewind(now_ms);
            return true;
        }
        false
    }

    fn may_rewind(&self, now_ms: u64) -> bool {
        self.last_rewind_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= self.cfg.min_rewind_gap_ms)
    }
}

/// What to do with a delta, given the version held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaAction {
    /// `from <= mine < to`: apply it.
    Apply,
    /// `to <= mine`: already have it.
    Ignore,
    /// `from > mine`: something is missing; catch up.
    Gap,
}

/// Classifies a delta per SYNC.md.
pub fn classify_delta(mine: u64, from: u64, to: u64) -> DeltaAction {
    if to <= mine {
        DeltaAction::Ignore
    } else if from <= mine {
        DeltaAction::Apply
    } else {
        DeltaAction::Gap
    }
}

/// How long a catch-up request stays outstanding before it is sent again.
pub const CATCHUP_RETRY_MS: u64 = 10_000;

/// Keeps at most one catch-up request outstanding.
#[derive(Debug, Clone, Default)]
pub struct Catchup {
    sent_at: Option<u64>,
    /// The version we know central has reached, from a gap or a snapshot notice.
    target: Option<u64>,
}

impl Catchup {
    /// On (re)connect: always ask, whatever is outstanding.
    pub fn on_connected(&mut self, now_ms: u64) -> bool {
        self.sent_at = Some(now_ms);
        true
    }

    /// A gap up to `to` was seen; returns true when a request should go now.
    pub fn on_gap(&mut self, to: u64, now_ms: u64) -> bool {
        self.target = Some(self.target.map_or(to, |t| t.max(to)));
        self.want(now_ms)
    }

    /// Our version moved to `mine` (a delta or a snapshot applied).
    pub fn on_progress(&mut self, mine: u64) {
        if self.target.is_none_or(|t| mine >= t) {
            self.target = None;
            self.sent_at = None;
        }
    }

    /// Forget what is outstanding (sync now, or a snapshot in progress finished).
    pub fn reset(&mut self) {
        self.sent_at = None;
    }

    /// A request's answer could not be used (a snapshot failed): ask again only after the
    /// retry delay, counted from `now_ms`.
    pub fn retry_later(&mut self, now_ms: u64) {
        self.sent_at = Some(now_ms);
    }

    /// Called on a timer: returns true when a request should be re-sent.
    pub fn tick(&mut self, mine: u64, now_ms: u64) -> bool {
        match self.target {
            Some(t) if t > mine => self.want(now_ms),
            _ => false,
        }
    }

    fn want(&mut self, now_ms: u64) -> bool {
        match self.sent_at {
            Some(t) if now_ms.saturating_sub(t) < CATCHUP_RETRY_MS => false,
            _ => {
                self.sent_at = Some(now_ms);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OutboxConfig {
        OutboxConfig::new(200, 1000, 10)
    }

    /// An outbox holding events 1 to `last_seq`, connected at time 0.
    fn connected(last_seq: u64) -> Outbox {
        let mut o = Outbox::new(cfg(), 0, last_seq);
        o.on_connected(0);
        o
    }

    #[test]
    fn sends_nothing_offline_then_batches_in_a_window() {
        let mut o = Outbox::new(cfg(), 0, 1500);
        assert_eq!(o.next_batch(), None, "not connected");
        o.on_connected(0);
        let mut sent = Vec::new();
        while let Some((a, b)) = o.next_batch() {
            sent.push((a, b));
            o.on_sent(b, 0);
        }
        assert_eq!(
            sent,
            vec![(1, 200), (201, 400), (401, 600), (601, 800), (801, 1000)],
            "pipelined up to the window"
        );
        assert_eq!(o.in_flight(), 1000);
        assert_eq!(o.on_ack(200, 10), AckOutcome::Advanced(200));
        assert_eq!(o.next_batch(), Some((1001, 1200)));
        assert_eq!(o.depth(), 1300);
    }

    #[test]
    fn small_batches_and_new_events() {
        let mut o = Outbox::new(cfg(), 5, 7);
        o.on_connected(0);
        assert_eq!(o.next_batch(), Some((6, 7)));
        o.on_sent(7, 0);
        assert_eq!(o.next_batch(), None);
        o.on_written(8);
        assert_eq!(o.next_batch(), Some((8, 8)));
    }

    #[test]
    fn acks() {
        let mut o = connected(10);
        o.on_sent(10, 0);
        assert_eq!(o.on_ack(11, 1), AckOutcome::Refused, "beyond last seq");
        assert_eq!(o.acked_through(), 0);
        assert_eq!(o.on_ack(4, 1), AckOutcome::Advanced(4));
        assert_eq!(o.on_ack(10, 2), AckOutcome::Advanced(10));
        assert_eq!(o.depth(), 0);
        assert_eq!(o.on_ack(10, 3), AckOutcome::Stale, "nothing in flight");
        assert_eq!(o.on_ack(3, 3), AckOutcome::Stale);
    }

    #[test]
    fn non_advancing_ack_rewinds_at_most_every_two_seconds() {
        let mut o = connected(10);
        o.on_sent(10, 0);
        assert_eq!(o.on_ack(3, 100), AckOutcome::Advanced(3));
        // Central saw a gap after 3: it acks 3 again.
        assert_eq!(o.on_ack(3, 500), AckOutcome::Stale, "within 2 s of connect");
        assert_eq!(o.on_ack(3, 2100), AckOutcome::Rewound);
        assert_eq!(o.next_batch(), Some((4, 10)));
        o.on_sent(10, 2100);
        assert_eq!(o.on_ack(3, 3000), AckOutcome::Stale, "rate limited");
        assert_eq!(o.on_ack(3, 4200), AckOutcome::Rewound);
    }

    #[test]
    fn ack_timeout_rewinds() {
        let mut o = connected(3);
        assert!(!o.tick(50_000), "nothing in flight");
        o.on_sent(3, 60_000);
        assert!(!o.tick(69_999));
        assert!(o.tick(70_000));
        assert_eq!(o.next_batch(), Some((1, 3)));
        o.on_sent(3, 70_000);
        assert_eq!(o.on_ack(2, 75_000), AckOutcome::Advanced(2));
        assert!(!o.tick(84_999), "progress restarts the timer");
        assert!(o.tick(85_000));
        o.on_disconnected();
        o.on_sent(3, 85_000);
        assert!(!o.tick(200_000), "no timer while offline");
    }

    #[test]
    fn reconnect_rewinds_to_after_the_ack() {
        let mut o = connected(50);
        o.on_sent(50, 0);
        o.on_ack(20, 1);
        o.on_disconnected();
        assert_eq!(o.next_batch(), None);
        o.on_connected(5);
        assert_eq!(o.next_batch(), Some((21, 50)));
    }

    #[test]
    fn a_restart_sends_again_from_below_the_old_ack() {
        let mut o = connected(10);
        o.on_sent(10, 0);
        assert_eq!(o.on_ack(10, 1), AckOutcome::Advanced(10));
        assert_eq!(o.next_batch(), None);
        o.restart(4, 2);
        assert_eq!(o.depth(), 6);
        assert_eq!(o.next_batch(), Some((5, 10)));
        o.on_sent(10, 2);
        assert_eq!(
            o.on_ack(7, 3),
            AckOutcome::Advanced(7),
            "central had up to 7"
        );
    }

    #[test]
    fn delta_versions() {
        assert_eq!(classify_delta(5, 5, 6), DeltaAction::Apply);
        assert_eq!(classify_delta(5, 3, 8), DeltaAction::Apply, "overlap");
        assert_eq!(classify_delta(5, 3, 5), DeltaAction::Ignore);
        assert_eq!(classify_delta(5, 1, 2), DeltaAction::Ignore);
        assert_eq!(classify_delta(5, 5, 5), DeltaAction::Ignore, "empty no-op");
        assert_eq!(classify_delta(5, 6, 9), DeltaAction::Gap);
        assert_eq!(classify_delta(0, 0, 1), DeltaAction::Apply);
    }

    #[test]
    fn one_catchup_outstanding() {
        let mut c = Catchup::default();
        assert!(c.on_connected(0));
        assert!(!c.on_gap(9, 100), "one already outstanding");
        assert!(!c.tick(5, 9_999));
        assert!(c.tick(5, 10_000), "re-sent after 10 s");
        assert!(!c.on_gap(12, 10_500));
        c.on_progress(9);
        assert!(c.tick(9, 30_000), "still behind 12");
        c.on_progress(12);
        assert!(!c.tick(12, 60_000), "caught up: nothing to resend");
        assert!(c.on_gap(20, 60_001), "fresh gap asks at once");
        c.reset();
        assert!(c.on_gap(20, 60_002));
    }

    #[test]
    fn a_failed_snapshot_is_asked_for_again_after_the_retry_delay() {
        let mut c = Catchup::default();
        assert!(c.on_gap(10, 0));
        c.retry_later(30_000);
        assert!(!c.tick(0, 30_500), "not at once");
        assert!(c.tick(0, 40_000));
    }

    #[test]
    fn connect_request_is_not_resent_without_a_known_gap() {
        let mut c = Catchup::default();
        assert!(c.on_connected(0));
        assert!(!c.tick(0, 60_000));
    }
}
