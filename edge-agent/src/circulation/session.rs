//! Kiosk sessions: a random token per identified patron, forgotten after an idle spell.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::RngCore;

/// How far a session's visit is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trust {
    /// The PIN has not been checked by central yet (it could not be asked).
    pub unchecked: bool,
    /// The session may open the staff menu (a staff card, not merely typed while
    /// unchecked).
    pub staff: bool,
}

/// Open sessions.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    open: HashMap<String, (String, Trust, Instant)>,
}

impl Sessions {
    /// Sessions that end after `idle` without use.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            open: HashMap::new(),
        }
    }

    /// Opens a session for a card; returns its token (128 random bits, hex).
    pub fn open(&mut self, card: &str, trust: Trust, now: Instant) -> String {
        self.expire(now);
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.open
            .insert(token.clone(), (card.to_owned(), trust, now));
        token
    }

    /// The card of a live session and its trust, marking it used.
    pub fn touch(&mut self, token: &str, now: Instant) -> Option<(String, Trust)> {
        self.expire(now);
        let (card, trust, last) = self.open.get_mut(token)?;
        *last = now;
        Some((card.clone(), *trust))
    }

    /// Ends a session; false when it was not open.
    pub fn end(&mut self, token: &str) -> bool {
        self.open.remove(token).is_some()
    }

    fn expire(&mut self, now: Instant) {
        let idle = self.idle;
        self.open
            .retain(|_, (_, _, last)| now.saturating_duration_since(*last) < idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_when_idle() {
        let t0 = Instant::now();
        let mut s = Sessions::new(Duration::from_secs(300));
        let trust = Trust {
            unchecked: false,
            staff: false,
        };
        let a = s.open("P1", trust, t0);
        let b = s.open("P2", trust, t0);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(
            s.touch(&a, t0 + Duration::from_secs(299)),
            Some(("P1".to_owned(), trust))
        );
        // Use kept `a` alive; `b` idled out.
        assert_eq!(
            s.touch(&a, t0 + Duration::from_secs(500))
                .map(|(card, _)| card),
            Some("P1".to_owned())
        );
        assert_eq!(s.touch(&b, t0 + Duration::from_secs(500)), None);
        assert!(s.end(&a));
        assert!(!s.end(&a));
        assert_eq!(s.touch(&a, t0 + Duration::from_secs(501)), None);
        assert_eq!(s.touch("not-a-token", t0), None);
    }
}
