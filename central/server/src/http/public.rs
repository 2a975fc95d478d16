//! The public group's `route_layer`: read-only (GET and HEAD) and rate limited per client
//! address with a small token bucket each, kept in a bounded map.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// One client's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client address: each holds up to `burst` requests and refills at
/// `per_second`. At most `max_clients` addresses are tracked; past that, idle buckets
/// (full again) are forgotten, and if none is, new addresses share one overflow bucket,
/// so many addresses cannot grow the map nor escape the limit.
#[derive(Debug)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    max_clients: usize,
    state: Mutex<(HashMap<IpAddr, Bucket>, Option<Bucket>)>,
}

impl RateLimit {
    /// `per_second` requests a second per address, bursts up to `burst`, tracking at most
    /// `max_clients` addresses.
    pub fn new(per_second: f64, burst: u32, max_clients: usize) -> RateLimit {
        RateLimit {
            per_second: per_second.max(0.001),
            burst: f64::from(burst.max(1)),
            max_clients: max_clients.max(1),
            state: Mutex::new((HashMap::new(), None)),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.at = now;
    }

    /// Takes one request from `ip`'s bucket at `now`: `Ok`, or how many seconds until
    /// one is free.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let Ok(mut guard) = self.state.lock() else {
            return Err(1);
        };
        let (map, overflow) = &mut *guard;
        let full = Bucket {
            tokens: self.burst,
            at: now,
        };
        if !map.contains_key(&ip) && map.len() >= self.max_clients {
            let (burst, rate) = (self.burst, self.per_second);
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let bucket = if map.contains_key(&ip) || map.len() < self.max_clients {
            map.entry(ip).or_insert(full)
        } else {
            overflow.get_or_insert(full)
        };
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Refuses anything but GET and HEAD (405), then spends one of the client's requests
/// (429 with `Retry-After` when none is left).
pub async fn guard(
    State(limit): State<Arc<RateLimit>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            Json(json!({"error": "public routes are read-only"})),
        )
            .into_response();
    }
    match limit.take(peer.ip().to_canonical(), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(secs) => {
            tracing::debug!(peer = %peer.ip(), "public rate limit");
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                Json(json!({"error": "too many requests; try again later"})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_bucket_empties_then_refills() {
        let l = RateLimit::new(2.0, 3, 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take(ip("192.0.2.1"), t0).is_ok());
        }
        assert_eq!(l.take(ip("192.0.2.1"), t0), Err(1));
        assert!(l.take(ip("192.0.2.2"), t0).is_ok(), "per address");
        assert!(l
            .take(ip("192.0.2.1"), t0 + Duration::from_millis(500))
            .is_ok());
        assert!(l
            .take(ip("192.0.2.1"), t0 + Duration::from_millis(500))
            .is_err());
        let slow = RateLimit::new(0.1, 1, 100);
        assert!(slow.take(ip("192.0.2.1"), t0).is_ok());
        assert_eq!(
            slow.take(ip("192.0.2.1"), t0),
            Err(10),
            "Retry-After in seconds"
        );
    }

    #[test]
    fn the_map_is_bounded_and_the_overflow_is_limited_too() {
        let l = RateLimit::new(1.0, 2, 2);
        let t0 = Instant::now();
        assert!(l.take(ip("192.0.2.1"), t0).is_ok());
        assert!(l.take(ip("192.0.2.2"), t0).is_ok());
        // Both tracked buckets are in use: new addresses share the overflow bucket.
        assert!(l.take(ip("192.0.2.3"), t0).is_ok());
        assert!(l.take(ip("192.0.2.4"), t0).is_ok());
        assert!(l.take(ip("192.0.2.5"), t0).is_err());
        assert!(l.state.lock().unwrap().0.len() <= 2);
        // Once the tracked ones are idle (full again) they are forgotten.
        let later = t0 + Duration::from_secs(10);
        assert!(l.take(ip("192.0.2.6"), later).is_ok());
        assert!(l.state.lock().unwrap().0.contains_key(&ip("192.0.2.6")));
    }
}
