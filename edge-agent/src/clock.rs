//! The system clock, read in the unit events carry: milliseconds since the Unix epoch.
//!
//! Only the services read it; the sync state machines and the lending rules are handed
//! the time instead.

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
