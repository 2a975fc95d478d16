//! Limits every HTTP request is held to, whatever its route: the body's size, the time to
//! answer, and how many requests are served at once. One function, [`apply`], puts them
//! on the router.

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use serde::{Deserialize, Serialize};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// `[http.limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// The largest request body of any route, bytes; a bigger one gets `413` before it is
    /// read. The tus `PATCH` keeps its own limit (`[uploads] max_chunk_bytes`).
    pub max_body_bytes: usize,
    /// A request not answered within this many seconds (a client sending its body too
    /// slowly, a stuck handler) gets `408`. Must cover a tus chunk on the slowest link.
    pub request_timeout_secs: u64,
    /// Requests served at once; more are refused at once with `503` (load shedding)
    /// rather than queued, so a flood cannot build a backlog of work.
    pub max_concurrent_requests: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout_secs: 300,
            max_concurrent_requests: 512,
        }
    }
}

/// Puts `limits` on every route of `router`. `max_chunk` is the tus `PATCH` limit: the
/// hard cap on any body is the larger of the two, and every extractor (JSON, forms) is
/// held to `max_body_bytes` unless its route sets its own.
pub fn apply(router: Router, limits: &HttpLimits, max_chunk: usize) -> Router {
    router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(
            limits.max_body_bytes.max(max_chunk),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_secs.max(1)),
        ))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    (StatusCode::SERVICE_UNAVAILABLE, "busy: try again shortly")
                }))
                .layer(LoadShedLayer::new())
                // Global: one semaphore for every route, not one a route.
                .layer(GlobalConcurrencyLimitLayer::new(
                    limits.max_concurrent_requests.max(1),
                )),
        )
}
