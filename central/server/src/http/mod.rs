//! Central's JSON API handlers: the API under `/api/v1`, snapshots, `/metrics` and
//! `/healthz` (the routes are listed in [`crate::routes`]). Their status codes are chosen
//! here.

pub mod api;
pub mod openapi;
pub mod snapshot;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::ingest::Ingest;
use crate::metrics::Metrics;
use central_store::{Reads, StoreError, Writer};

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
}

/// An API error, rendered as `{"error": "..."}`.
#[derive(Debug)]
pub enum ApiError {
    /// 400.
    BadRequest(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// 503: the writer is gone (shutting down).
    Unavailable,
    /// 500.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(why) => ApiError::Conflict(why),
            StoreError::WriterGone => ApiError::Unavailable,
            other => {
                tracing::error!(error = %other, "store error in HTTP handler");
                ApiError::Internal(other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "central is shutting down".to_owned(),
            ),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, Json(serde_json::json!({ "error": msg }))).into_response()
    }
}
