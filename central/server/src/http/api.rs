//! JSON API handlers. Each staff handler gets its caller from the staff guard
//! ([`super::guard::Staff`]; without the guard the extractor fails, so nothing is served
//! unauthenticated) and applies the branch rules:
//!
//! - stats: fleet-wide counters, administrators only (403 for branch callers);
//! - loans, notices, devices (list): filtered to the caller's branch;
//! - patron, block, unblock: 403 when the patron's home branch is another;
//! - device, its commands, its events: 403 when the device is another branch's;
//! - item: visible to all (the catalogue is public), but an active loan made at another
//!   branch is shown without its patron;
//! - search: the catalogue, for every caller;
//! - every change (block, unblock, command): 403 for read-only callers.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::Extension;
use axum::Json;
use rong_protocol::delta::too_long;
use rong_protocol::ids::DeviceId;
use rong_protocol::privacy::mask_card;
use rong_protocol::status::CommandKind;
use rong_protocol::MAX_BLOCK_REASON_CHARS;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::guard::Staff;
use super::{ApiError, ApiState};
use central_store::{admin, queries, Conn, LoanFilter, NoticeFilter, StoreError};

/// The staff guard's caller.
type Caller = Extension<Staff>;

/// What every JSON handler answers.
type Reply = Result<Json<Value>, ApiError>;

/// A JSON body, or why it was refused (answered as the API's JSON error by `?`).
type Body<T> = Result<Json<T>, JsonRejection>;

/// A query string whose rejection answers as the API's JSON error (axum's own `Query`
/// answers in plain text).
pub struct ApiQuery<T>(pub T);

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

/// `GET /api/v1/stats`: fleet-wide, for administrators.
#[tracing::instrument(skip_all)]
pub async fn stats(State(st): State<ApiState>, Extension(who): Caller) -> Reply {
    who.every_branch()?;
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
pub async fn loans(
    State(st): State<ApiState>,
    Extension(who): Caller,
    ApiQuery(q): ApiQuery<LoansQuery>,
) -> Reply {
    let f = LoanFilter {
        patron: q.patron,
        item: q.item,
        active: q.active.unwrap_or(true),
        limit: q.limit.unwrap_or(10_000).min(100_000),
        branch: who.scope(),
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
pub async fn search(
    State(st): State<ApiState>,
    _who: Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Reply {
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

/// A patron the caller may see: 404 when unknown, 403 when of another branch.
async fn patron_for(
    st: &ApiState,
    who: &Staff,
    card: &str,
) -> Result<queries::PatronDetail, ApiError> {
    let card = card.to_owned();
    let p = st
        .reads
        .run(move |c| queries::patron_detail(c, &card))
        .await?;
    who.see(Some(&p.branch))?;
    Ok(p)
}

/// `GET /api/v1/patrons/{card}`.
#[tracing::instrument(skip_all)]
pub async fn patron(
    State(st): State<ApiState>,
    Extension(who): Caller,
    Path(card): Path<String>,
) -> Reply {
    Ok(Json(json!(patron_for(&st, &who, &card).await?)))
}

/// Body of `POST /api/v1/patrons/{card}/block`.
#[derive(Debug, Deserialize)]
pub struct BlockBody {
    reason: String,
}

/// Blocks (with a reason) or unblocks a patron the caller may change, audits it, and
/// answers the patron as it now is.
async fn set_block(st: ApiState, who: Staff, card: String, reason: Option<String>) -> Reply {
    who.lend()?;
    let p = patron_for(&st, &who, &card).await?;
    st.ingest.block(card.clone(), reason.clone()).await?;
    let entry = match &reason {
        Some(r) => who.entry("patron.block", card.clone()).detail(r.clone()),
        None => who.entry("patron.unblock", card.clone()),
    };
    let _ = st.writer.audit(entry.branch(Some(&p.branch))).await;
    Ok(Json(json!(patron_for(&st, &who, &card).await?)))
}

/// `POST /api/v1/patrons/{card}/block` with `{"reason": "..."}`.
#[tracing::instrument(skip_all, fields(card = %mask_card(&card.0)))]
pub async fn block(
    st: State<ApiState>,
    who: Caller,
    card: Path<String>,
    body: Body<BlockBody>,
) -> Reply {
    who.lend()?;
    let Json(body) = body?;
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(ApiError::BadRequest("reason must not be empty".into()));
    }
    let reason = rong_protocol::fold::nfc(&reason);
    // The reason travels to every device of the branch in a delta: bounded here, so that
    // no block can make a delta the devices refuse.
    too_long("reason", &reason, MAX_BLOCK_REASON_CHARS).map_err(|e| ApiError::BadRequest(e.0))?;
    set_block(st.0, who.0, card.0, Some(reason)).await
}

/// `DELETE /api/v1/patrons/{card}/block`.
#[tracing::instrument(skip_all, fields(card = %mask_card(&card)))]
pub async fn unblock(
    State(st): State<ApiState>,
    Extension(who): Caller,
    Path(card): Path<String>,
) -> Reply {
    set_block(st, who, card, None).await
}

/// `GET /api/v1/items/{barcode}`.
#[tracing::instrument(skip_all)]
pub async fn item(
    State(st): State<ApiState>,
    Extension(who): Caller,
    Path(barcode): Path<String>,
) -> Reply {
    let detail = st
        .reads
        .run(move |c| queries::item_detail(c, &barcode))
        .await?;
    let mut v = json!(detail);
    // Whose loan it is stays with the branch that lent it.
    if let Some(loan) = &detail.loan {
        if !who.access.may_see(Some(&loan.branch)) {
            v["loan"]["patron"] = Value::Null;
        }
    }
    Ok(Json(v))
}

/// `GET /api/v1/devices`: the caller's branch's, or every device for administrators.
#[tracing::instrument(skip_all)]
pub async fn devices(State(st): State<ApiState>, Extension(who): Caller) -> Reply {
    let mut all = st.reads.run(|c| queries::devices(c)).await?;
    all.retain(|d| who.access.may_see(Some(&d.branch)));
    Ok(Json(json!(all)))
}

/// 404 for an unknown device, 403 for another branch's.
pub(crate) async fn device_seen(st: &ApiState, who: &Staff, id: &str) -> Result<String, ApiError> {
    let id2 = id.to_owned();
    let branch = st.reads.run(move |c| admin::device_branch(c, &id2)).await?;
    let branch = branch.ok_or_else(|| ApiError::NotFound(format!("device {id} not found")))?;
    who.see(Some(&branch))?;
    Ok(branch)
}

/// `GET /api/v1/devices/{id}`.
#[tracing::instrument(skip_all)]
pub async fn device(
    State(st): State<ApiState>,
    Extension(who): Caller,
    Path(id): Path<String>,
) -> Reply {
    device_seen(&st, &who, &id).await?;
    read_json(&st, move |c| queries::device_detail(c, &id)).await
}

/// `POST /api/v1/devices/{id}/commands` with a `CommandKind` body.
#[tracing::instrument(skip_all, fields(device = %id.0))]
pub async fn command(
    st: State<ApiState>,
    Extension(who): Caller,
    id: Path<String>,
    body: Body<CommandKind>,
) -> Reply {
    who.change()?;
    let branch = device_seen(&st, &who, &id.0).await?;
    let device = DeviceId::new(id.0.clone()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let Json(kind) = body?;
    kind.check_lengths()
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let what = serde_json::to_string(&kind).unwrap_or_default();
    let cid = st.ingest.command(device, kind).await?;
    let entry = who.entry("device.command", id.0).branch(Some(&branch));
    let _ = st
        .writer
        .audit(entry.detail(format!("{what} ({cid})")))
        .await;
    Ok(Json(json!({ "id": cid })))
}

/// Query of `GET /api/v1/notices`.
#[derive(Debug, Deserialize)]
pub struct NoticesQuery {
    kind: Option<String>,
    open: Option<bool>,
}

/// `GET /api/v1/notices?kind=&open=`.
#[tracing::instrument(skip_all)]
pub async fn notices(
    State(st): State<ApiState>,
    Extension(who): Caller,
    ApiQuery(q): ApiQuery<NoticesQuery>,
) -> Reply {
    let f = NoticeFilter {
        kind: q.kind,
        open: q.open,
        branch: who.scope(),
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
pub async fn events(
    State(st): State<ApiState>,
    Extension(who): Caller,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Reply {
    device_seen(&st, &who, &q.device).await?;
    read_json(&st, move |c| queries::events(c, &q.device)).await
}
