//! JSON API handlers.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::Json;
use rong_protocol::delta::too_long;
use rong_protocol::ids::DeviceId;
use rong_protocol::status::CommandKind;
use rong_protocol::MAX_BLOCK_REASON_CHARS;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiError, ApiState};
use central_store::{queries, Conn, LoanFilter, NoticeFilter, StoreError};

/// What every JSON handler answers.
type Reply = Result<Json<Value>, ApiError>;

/// A JSON body, or why it was refused (answered as the API's JSON error by `?`).
type Body<T> = Result<Json<T>, JsonRejection>;

/// A query string whose rejection answers as the API's JSON error (axum's own `Query`
/// answers in plain text).
pub struct ApiQuery<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(q) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(q))
    }
}

/// Runs one read through the pool and answers its result as JSON.
async fn read_json<T, F>(st: &ApiState, f: F) -> Reply
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut Conn<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let v = st.reads.run(f).await?;
    Ok(Json(json!(v)))
}

/// `GET /healthz`.
#[tracing::instrument(skip_all)]
pub async fn healthz(State(st): State<ApiState>) -> Reply {
    let version = st.reads.run(|c| central_store::current_version(c)).await?;
    Ok(Json(
        json!({"ok": true, "change_version": version, "writer": !st.writer.is_closed()}),
    ))
}

/// `GET /metrics`.
#[tracing::instrument(skip_all)]
pub async fn metrics(State(st): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let stats = st.reads.run(|c| queries::stats(c)).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(&stats),
    ))
}

/// `GET /api/v1/stats`.
#[tracing::instrument(skip_all)]
pub async fn stats(State(st): State<ApiState>) -> Reply {
    let s = st.reads.run(|c| queries::stats(c)).await?;
    let c = st.metrics.counts();
    Ok(Json(json!({
        "events_applied": s.events_recorded,
        "events_replayed": c.events_replayed,
        "rejected_messages": c.rejected.iter().sum::<u64>(),
        "change_version": s.change_version,
        "loans_active": s.loans_active,
        "notices_open": s.notices_open,
        "devices_online": s.devices_online,
        "snapshots_served": c.snapshots_served,
        "batches": c.batches,
        "deltas_published": c.deltas_published,
    })))
}

/// Query of `GET /api/v1/loans`.
#[derive(Debug, Deserialize)]
pub struct LoansQuery {
    patron: Option<String>,
    item: Option<String>,
    active: Option<bool>,
    limit: Option<u32>,
}

/// `GET /api/v1/loans?patron=&item=&active=`.
#[tracing::instrument(skip_all)]
pub async fn loans(State(st): State<ApiState>, ApiQuery(q): ApiQuery<LoansQuery>) -> Reply {
    let f = LoanFilter {
        patron: q.patron,
        item: q.item,
        active: q.active.unwrap_or(true),
        limit: q.limit.unwrap_or(10_000).min(100_000),
    };
    read_json(&st, move |c| queries::loans(c, &f)).await
}

/// Query of `GET /api/v1/search`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/search?q=&limit=`: records ranked exact title, title prefix, title words,
/// author, subject, then ISBN and call number, each with copies per branch.
#[tracing::instrument(skip_all)]
pub async fn search(State(st): State<ApiState>, ApiQuery(q): ApiQuery<SearchQuery>) -> Reply {
    let text = q.q.unwrap_or_default();
    let limit = rong_protocol::search::clamp_limit(q.limit);
    let Some(parsed) = rong_protocol::search::Query::parse(&text) else {
        return Ok(Json(json!({"query": text, "hits": []})));
    };
    let hits = st
        .reads
        .run(move |c| central_store::search::search(c, &parsed, limit))
        .await?;
    Ok(Json(json!({"query": text, "hits": hits})))
}

/// `GET /api/v1/patrons/{card}`.
#[tracing::instrument(skip_all)]
pub async fn patron(State(st): State<ApiState>, Path(card): Path<String>) -> Reply {
    read_json(&st, move |c| queries::patron_detail(c, &card)).await
}

/// Body of `POST /api/v1/patrons/{card}/block`.
#[derive(Debug, Deserialize)]
pub struct BlockBody {
    reason: String,
}

async fn set_block(st: ApiState, card: String, reason: Option<String>) -> Reply {
    st.ingest.block(card.clone(), reason).await?;
    patron(State(st), Path(card)).await
}

/// `POST /api/v1/patrons/{card}/block` with `{"reason": "..."}`.
#[tracing::instrument(skip_all, fields(card = %card.0))]
pub async fn block(st: State<ApiState>, card: Path<String>, body: Body<BlockBody>) -> Reply {
    let Json(body) = body?;
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(ApiError::BadRequest("reason must not be empty".into()));
    }
    let reason = rong_protocol::fold::nfc(&reason);
    // The reason travels to every device of the branch in a delta: bounded here, so that
    // no block can make a delta the devices refuse.
    too_long("reason", &reason, MAX_BLOCK_REASON_CHARS).map_err(|e| ApiError::BadRequest(e.0))?;
    set_block(st.0, card.0, Some(reason)).await
}

/// `DELETE /api/v1/patrons/{card}/block`.
#[tracing::instrument(skip_all, fields(card = %card))]
pub async fn unblock(State(st): State<ApiState>, Path(card): Path<String>) -> Reply {
    set_block(st, card, None).await
}

/// `GET /api/v1/items/{barcode}`.
#[tracing::instrument(skip_all)]
pub async fn item(State(st): State<ApiState>, Path(barcode): Path<String>) -> Reply {
    read_json(&st, move |c| queries::item_detail(c, &barcode)).await
}

/// `GET /api/v1/devices`.
#[tracing::instrument(skip_all)]
pub async fn devices(State(st): State<ApiState>) -> Reply {
    read_json(&st, |c| queries::devices(c)).await
}

/// `GET /api/v1/devices/{id}`.
#[tracing::instrument(skip_all)]
pub async fn device(State(st): State<ApiState>, Path(id): Path<String>) -> Reply {
    read_json(&st, move |c| queries::device_detail(c, &id)).await
}

/// `POST /api/v1/devices/{id}/commands` with a `CommandKind` body.
#[tracing::instrument(skip_all, fields(device = %id.0))]
pub async fn command(st: State<ApiState>, id: Path<String>, body: Body<CommandKind>) -> Reply {
    let device = DeviceId::new(id.0).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Json(kind) = body?;
    kind.check_lengths()
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let id = st.ingest.command(device, kind).await?;
    Ok(Json(json!({ "id": id })))
}

/// Query of `GET /api/v1/notices`.
#[derive(Debug, Deserialize)]
pub struct NoticesQuery {
    kind: Option<String>,
    open: Option<bool>,
}

/// `GET /api/v1/notices?kind=&open=`.
#[tracing::instrument(skip_all)]
pub async fn notices(State(st): State<ApiState>, ApiQuery(q): ApiQuery<NoticesQuery>) -> Reply {
    let f = NoticeFilter {
        kind: q.kind,
        open: q.open,
    };
    read_json(&st, move |c| queries::notices(c, &f)).await
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    device: String,
}

/// `GET /api/v1/events?device=ID`.
#[tracing::instrument(skip_all)]
pub async fn events(State(st): State<ApiState>, ApiQuery(q): ApiQuery<EventsQuery>) -> Reply {
    read_json(&st, move |c| queries::events(c, &q.device)).await
}
