//! The HTTP server: JSON API, snapshots, `/metrics` and `/healthz`. HTTP status codes are
//! chosen here and nowhere else.

mod api;
mod digitise;
mod openapi;
mod snapshot;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::ingest::Ingest;
use crate::metrics::Metrics;
use central_store::{Reads, StoreError, Writer};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Read connections.
    pub reads: Reads,
    /// The single writer.
    pub writer: Writer,
    /// The writer's ingest jobs (commands, blocks).
    pub ingest: Ingest,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Digitisation: tus uploads and bag directories under the data dir.
    pub intake: Arc<crate::digitise::receive::Intake>,
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

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/api/v1/openapi.json", get(openapi::openapi))
        .route("/api/v1/stats", get(api::stats))
        .route("/api/v1/loans", get(api::loans))
        .route("/api/v1/patrons/{card}", get(api::patron))
        .route(
            "/api/v1/patrons/{card}/block",
            post(api::block).delete(api::unblock),
        )
        .route("/api/v1/items/{barcode}", get(api::item))
        .route("/api/v1/search", get(api::search))
        .route("/api/v1/devices", get(api::devices))
        .route("/api/v1/devices/{id}", get(api::device))
        .route("/api/v1/devices/{id}/commands", post(api::command))
        .route("/api/v1/notices", get(api::notices))
        .route("/api/v1/events", get(api::events))
        .route("/api/v1/snapshot/{branch}", get(snapshot::snapshot))
        .route("/api/v1/digitisation/bags", post(digitise::submit_bag))
        .merge(digitise::tus_router(state.intake.uploads.max_chunk()))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state)
}
