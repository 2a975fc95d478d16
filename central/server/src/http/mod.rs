//! Central's JSON API handlers: the API under `/api/v1`, snapshots, `/metrics` and
//! `/healthz` (the routes are listed in [`crate::routes`]). Their status codes are chosen
//! here.

pub mod api;
pub mod device;
pub mod guard;
pub mod limits;
pub mod openapi;
pub mod pins;
pub mod public;
pub mod snapshot;

use std::sync::Arc;

use crate::ingest::Ingest;
use crate::metrics::Metrics;
use central_store::{Reads, Writer};

/// What the JSON API's handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Read connections.
    pub reads: Reads,
    /// The single writer.
    pub writer: Writer,
    /// The writer's ingest jobs (commands, blocks).
    pub ingest: Ingest,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The staff and operator guards' state.
    pub guards: Arc<guard::Guards>,
    /// The public routes' rate limit.
    pub public_limit: Arc<public::RateLimit>,
    /// Central's key: it signs each snapshot's trailer.
    pub envelopes: Arc<crate::signing::Envelopes>,
    /// The broker's ACL, rewritten after each revocation (when configured).
    pub acl: Option<Arc<crate::broker_acl::BrokerAcl>>,
}

/// An API error, rendered as `{"error": "..."}`: the same type the bag submission answers
/// with, so every JSON endpoint fails alike.
pub use central_digitise::http::JsonError as ApiError;
