//! Kiosk sessions: a random token per identified patron, forgotten after an idle spell.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::RngCore;

/// Open sessions.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    open: HashMap<String, (String, Instant)>,
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
    pub fn open(&mut self, card: &str, now: Instant) -> String {
        self.expire(now);
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.open.insert(token.clone(), (card.to_owned(), now));
        token
    }

    /// The card of a live session, marking it used.
    pub fn touch(&mut self, token: &str, now: Instant) -> Option<String> {
        self.expire(now);
        let (card, last) = self.open.get_mut(token)?;
        *last = now;
        Some(card.clone())
    }

    /// Ends a session; false when it was not open.
    pub fn end(&mut self, token: &str) -> bool {
        self.open.remove(token).is_some()
    }

    fn expire(&mut self, now: Instant) {
        let idle = self.idle;
        self.open
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_when_idle() {
        let t0 = Instant::now();
        let mut s = Sessions::new(Duration::from_secs(300));
        let a = s.open("P1", t0);
        let b = s.open("P2", t0);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(
            s.touch(&a, t0 + Duration::from_secs(299)).as_deref(),
            Some("P1")
        );
        // Use kept `a` alive; `b` idled out.
        assert_eq!(
            s.touch(&a, t0 + Duration::from_secs(500)).as_deref(),
            Some("P1")
        );
        assert_eq!(s.touch(&b, t0 + Duration::from_secs(500)), None);
        assert!(s.end(&a));
        assert!(!s.end(&a));
        assert_eq!(s.touch(&a, t0 + Duration::from_secs(501)), None);
        assert_eq!(s.touch("not-a-token", t0), None);
    }
}
