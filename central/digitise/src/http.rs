//! Digitisation over HTTP: the tus 1.0 upload endpoint (`/files/`, core protocol with the
//! creation and checksum extensions) and the bag submission
//! (`POST /api/v1/digitisation/bags`). With the expiration extension, creation, `HEAD`
//! and `PATCH` answers carry `Upload-Expires`; an expired upload answers `410`. The storage
//! and the checks are in [`crate::tus`] and [`crate::receive`]; this module only chooses the
//! status codes and headers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rong_protocol::digitise::{BagSubmission, BagVerdict};

use crate::receive::{verdict, Intake, Outcome, ReceiveError};
use crate::tus::{
    Checksum, TusError, UploadInfo, Uploads, TUS_CHECKSUM_ALGORITHMS, TUS_EXTENSIONS, TUS_VERSION,
};
use axum::Extension;
use central_store::identity::AuthedDevice;
use central_store::{documents, Reads, StoreError, Writer};

/// What the upload and bag handlers share.
#[derive(Debug, Clone)]
pub struct IntakeState {
    /// Read connections.
    pub reads: Reads,
    /// The single writer.
    pub writer: Writer,
    /// Uploads and bag directories under the data dir.
    pub intake: Arc<Intake>,
    /// Signs verdicts with central's key.
    pub verdicts: Arc<dyn VerdictSigner>,
}

/// Signs a verdict's body for a context (`rong_protocol::digitise::verdict_context`) with
/// central's key, which this crate does not hold; answers the header line to send in
/// `rong-signature`.
pub trait VerdictSigner: std::fmt::Debug + Send + Sync {
    /// The signature header line for `body` in `context`.
    fn sign(&self, context: &str, body: &[u8]) -> String;
}

/// An error of a JSON endpoint, rendered as `{"error": "..."}`: the bag submission's, and
/// the JSON API's (the server names it `ApiError`), so both answer alike.
#[derive(Debug)]
pub enum JsonError {
    /// 413: the body is over the limit (`[http.limits] max_body_bytes`).
    TooLarge(String),
    /// 400.
    BadRequest(String),
    /// 401, with `WWW-Authenticate: Bearer`: no credentials, or bad ones.
    Unauthorized(String),
    /// 403: credentials that do not allow this.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// 503: the writer is gone (shutting down).
    Unavailable,
    /// 500.
    Internal(String),
}

impl From<StoreError> for JsonError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => JsonError::NotFound(format!("{what} not found")),
            StoreError::Conflict(why) => JsonError::Conflict(why),
            StoreError::TooLong(why) => JsonError::BadRequest(why),
            StoreError::WriterGone => JsonError::Unavailable,
            other => {
                tracing::error!(error = %other, "store error in HTTP handler");
                JsonError::Internal(other.to_string())
            }
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            JsonError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
            JsonError::Unauthorized(m) => {
                let body = Json(serde_json::json!({ "error": m }));
                let challenge = [(axum::http::header::WWW_AUTHENTICATE, "Bearer")];
                return (StatusCode::UNAUTHORIZED, challenge, body).into_response();
            }
            JsonError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            JsonError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            JsonError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            JsonError::Conflict(m) => (StatusCode::CONFLICT, m),
            JsonError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "central is shutting down".to_owned(),
            ),
            JsonError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, Json(serde_json::json!({ "error": msg }))).into_response()
    }
}

impl From<JsonRejection> for JsonError {
    fn from(e: JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return JsonError::TooLarge(e.body_text());
        }
        JsonError::BadRequest(e.body_text())
    }
}

impl From<QueryRejection> for JsonError {
    fn from(e: QueryRejection) -> Self {
        JsonError::BadRequest(e.body_text())
    }
}

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");

/// An HTTP date (RFC 9110 IMF-fixdate), as `Upload-Expires` wants it.
pub fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// `Upload-Expires` for an upload, when uploads expire.
fn expires(st: &IntakeState, info: &UploadInfo, h: &mut HeaderMap) {
    if let Some(at) = st.intake.uploads.expires_at(info) {
        if let Ok(v) = HeaderValue::from_str(&http_date(at)) {
            h.insert(UPLOAD_EXPIRES, v);
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn tus_status(e: TusError) -> Response {
    let (status, msg) = match e {
        TusError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        TusError::TooLarge(m) | TusError::OverQuota(m) => (StatusCode::PAYLOAD_TOO_LARGE, m),
        TusError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
        TusError::NoSpace(m) => (StatusCode::INSUFFICIENT_STORAGE, m),
        e @ TusError::NotFound(_) => (StatusCode::NOT_FOUND, e.to_string()),
        e @ TusError::Expired(_) => (StatusCode::GONE, e.to_string()),
        e @ TusError::OffsetMismatch { .. } => (StatusCode::CONFLICT, e.to_string()),
        e @ TusError::ChecksumMismatch => (
            StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            e.to_string(),
        ),
        e @ (TusError::Io(_) | TusError::Info(_)) => {
            tracing::error!(error = %e, "upload storage failed");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    };
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        msg,
    )
        .into_response()
}

fn header_u64(h: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, TusError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| TusError::BadRequest(format!("{name} must be a non-negative integer"))),
    }
}

fn num(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

/// Every tus response carries `Tus-Resumable`; every request but `OPTIONS` must carry
/// the version central speaks, or gets `412`.
pub async fn tus_resumable(req: Request, next: Next) -> Response {
    let ok = req.method() == Method::OPTIONS
        || req
            .headers()
            .get(&TUS_RESUMABLE)
            .is_some_and(|v| v.as_bytes() == TUS_VERSION.as_bytes());
    let mut resp = if ok {
        next.run(req).await
    } else {
        (
            StatusCode::PRECONDITION_FAILED,
            [("tus-version", TUS_VERSION)],
            format!("Tus-Resumable must be {TUS_VERSION}"),
        )
            .into_response()
    };
    resp.headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    resp
}

/// `OPTIONS /files/`: what this server supports.
pub async fn tus_options(State(st): State<IntakeState>) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            ("tus-version", TUS_VERSION.to_owned()),
            ("tus-extension", TUS_EXTENSIONS.to_owned()),
            ("tus-checksum-algorithm", TUS_CHECKSUM_ALGORITHMS.to_owned()),
            ("tus-max-size", st.intake.uploads.max_file().to_string()),
        ],
    )
        .into_response()
}

/// Runs `f` on the uploads off the async threads, at the current time.
async fn on_uploads<T, F>(st: &IntakeState, f: F) -> Result<T, TusError>
where
    T: Send + 'static,
    F: FnOnce(&Uploads, i64) -> Result<T, TusError> + Send + 'static,
{
    let intake = st.intake.clone();
    let now = now_ms();
    tokio::task::spawn_blocking(move || f(&intake.uploads, now))
        .await
        .map_err(|e| TusError::Io(std::io::Error::other(e.to_string())))?
}

/// `POST /files/`: creates an upload for the sending device.
pub async fn tus_create(
    State(st): State<IntakeState>,
    Extension(device): Extension<AuthedDevice>,
    headers: HeaderMap,
) -> Response {
    create(&st, &device, &headers)
        .await
        .unwrap_or_else(tus_status)
}

/// An upload's info for its owner; another device's upload is as good as absent.
fn owned(u: &Uploads, id: &str, owner: &str, now: i64) -> Result<UploadInfo, TusError> {
    let info = u.live_info(id, now)?;
    if info.meta(rong_protocol::digitise::upload_meta::DEVICE) != Some(owner) {
        tracing::warn!(upload = %id, device = %owner, "a device asked for another device's upload");
        return Err(TusError::NotFound(id.to_owned()));
    }
    Ok(info)
}

async fn create(
    st: &IntakeState,
    device: &AuthedDevice,
    headers: &HeaderMap,
) -> Result<Response, TusError> {
    if headers.contains_key("upload-defer-length") {
        return Err(TusError::BadRequest(
            "Upload-Defer-Length is not supported: send Upload-Length".into(),
        ));
    }
    let length = header_u64(headers, &UPLOAD_LENGTH)?
        .ok_or_else(|| TusError::BadRequest("Upload-Length is required".into()))?;
    let meta = headers
        .get("upload-metadata")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| TusError::BadRequest("Upload-Metadata is not ASCII".into()))?
        .unwrap_or_default();
    let owner = device.device.to_string();
    let info = on_uploads(st, move |u, now| u.create(length, &meta, &owner, now)).await?;
    let mut h = HeaderMap::new();
    expires(st, &info, &mut h);
    let location = [(axum::http::header::LOCATION, format!("/files/{}", info.id))];
    Ok((StatusCode::CREATED, h, location).into_response())
}

/// `HEAD /files/{id}`: the confirmed offset.
pub async fn tus_offset(
    State(st): State<IntakeState>,
    Extension(device): Extension<AuthedDevice>,
    Path(id): Path<String>,
) -> Response {
    let owner = device.device.to_string();
    let info = match on_uploads(&st, move |u, now| owned(u, &id, &owner, now)).await {
        Ok(info) => info,
        Err(e) => return tus_status(e),
    };
    let mut h = HeaderMap::new();
    expires(&st, &info, &mut h);
    h.insert(UPLOAD_OFFSET, num(info.offset));
    h.insert(UPLOAD_LENGTH, num(info.length));
    h.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    (StatusCode::OK, h).into_response()
}

/// `PATCH /files/{id}`: appends a chunk at `Upload-Offset`.
pub async fn tus_append(
    State(st): State<IntakeState>,
    Extension(device): Extension<AuthedDevice>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.split(';').next().map(str::trim) != Some("application/offset+octet-stream") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/offset+octet-stream",
        )
            .into_response();
    }
    append(&st, id, device.device.to_string(), &headers, body)
        .await
        .unwrap_or_else(tus_status)
}

async fn append(
    st: &IntakeState,
    id: String,
    owner: String,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, TusError> {
    let offset = header_u64(headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| TusError::BadRequest("Upload-Offset is required".into()))?;
    let checksum = headers
        .get("upload-checksum")
        .map(|v| {
            v.to_str()
                .map_err(|_| TusError::BadRequest("Upload-Checksum is not ASCII".into()))
                .and_then(Checksum::parse)
        })
        .transpose()?;
    let info = on_uploads(st, move |u, now| {
        owned(u, &id, &owner, now)?;
        u.append(&id, offset, checksum.as_ref(), &body, now)
    })
    .await?;
    let mut h = HeaderMap::new();
    h.insert(UPLOAD_OFFSET, num(info.offset));
    expires(st, &info, &mut h);
    Ok((StatusCode::NO_CONTENT, h).into_response())
}

impl From<ReceiveError> for JsonError {
    fn from(e: ReceiveError) -> Self {
        match e {
            ReceiveError::BadSubmission(m) => JsonError::BadRequest(m),
            ReceiveError::Uploads(m) => JsonError::Conflict(m),
            ReceiveError::NotYours(m) => JsonError::Forbidden(m),
            other => {
                tracing::error!(error = %other, "bag intake failed");
                JsonError::Internal(other.to_string())
            }
        }
    }
}

/// `POST /api/v1/digitisation/bags`: assemble, check and keep (or quarantine) a bag.
#[tracing::instrument(skip_all)]
pub async fn submit_bag(
    State(st): State<IntakeState>,
    Extension(device): Extension<AuthedDevice>,
    body: Result<Json<BagSubmission>, JsonRejection>,
) -> Result<Response, JsonError> {
    let Json(sub) = body?;
    let context = rong_protocol::digitise::verdict_context(&sub.device, &sub.job);
    let verdict = judge_submission(&st, &device, sub).await?;
    // Signed, so a station deletes its masters only on central's own word.
    let body = serde_json::to_vec(&verdict).map_err(|e| JsonError::Internal(e.to_string()))?;
    let signature = st.verdicts.sign(&context, &body);
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&signature) {
        resp.headers_mut()
            .insert(rong_protocol::digitise::VERDICT_SIGNATURE_HEADER, v);
    }
    Ok(resp)
}

/// Assembles, checks and keeps (or quarantines) a submitted bag; answers the verdict.
async fn judge_submission(
    st: &IntakeState,
    device: &AuthedDevice,
    sub: BagSubmission,
) -> Result<BagVerdict, JsonError> {
    if sub.device != device.device.as_str() || sub.branch != device.branch.as_str() {
        return Err(JsonError::Forbidden(format!(
            "device {} of branch {} may submit only its own bags",
            device.device, device.branch
        )));
    }
    let intake = st.intake.clone();
    let _one_at_a_time = intake.lock.lock().await;
    let job = sub.job.clone();
    if let Some(document) = st
        .reads
        .run(move |c| documents::document_for_job(c, &job))
        .await?
    {
        tracing::info!(job = %sub.job, document = %document, "bag submitted again; already kept");
        let sub2 = sub.clone();
        let i2 = intake.clone();
        let _ = tokio::task::spawn_blocking(move || forget_own_uploads(&i2, &sub2)).await;
        return Ok(BagVerdict::Safe { document });
    }
    let now = chrono::Utc::now().timestamp_millis();
    let (i2, sub2) = (intake.clone(), sub.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        i2.check_submission(&sub2)?;
        i2.judge(&sub2, now)
    })
    .await
    .map_err(|e| JsonError::Internal(format!("bag task failed: {e}")))??;
    let document = match &outcome {
        Outcome::Kept(d) => {
            let doc = d.clone();
            let id = st.writer.run(move |s| s.insert_document(&doc)).await?;
            // Queue its pages for OCR; an idle worker finds them within seconds. Registering
            // again (a resubmission) adds nothing.
            let dir = intake
                .bag_dir(&id)
                .parent()
                .map(std::path::Path::to_path_buf);
            match queue_for_ocr(st, dir, &id, &d.title).await {
                Ok(n) => tracing::info!(document = %id, pages = n, "queued for OCR"),
                Err(e) => tracing::error!(document = %id, error = %e, "cannot queue for OCR"),
            }
            Some(id)
        }
        Outcome::Refused(r) => {
            let r = r.clone();
            st.writer.run(move |s| s.insert_bag_refusal(&r)).await?;
            None
        }
    };
    let (i2, sub2) = (intake.clone(), sub.clone());
    let _ = tokio::task::spawn_blocking(move || i2.forget_uploads(&sub2)).await;
    Ok(verdict(&outcome, document))
}

/// Reads a kept bag's pages (off the async threads), then registers them through the
/// writer. Returns how many pages were queued (none when the document was already).
async fn queue_for_ocr(
    st: &IntakeState,
    dir: Option<std::path::PathBuf>,
    id: &str,
    title: &str,
) -> Result<usize, String> {
    let dir = dir.ok_or("the bag has no document directory")?;
    let d2 = dir.clone();
    let pages = tokio::task::spawn_blocking(move || crate::process::read_bag(&d2))
        .await
        .map_err(|e| format!("OCR queue task failed: {e}"))?
        .map_err(|e| e.to_string())?;
    let (id, title, n) = (id.to_owned(), title.to_owned(), pages.len());
    let added = st
        .writer
        .run(move |s| s.register_document(&id, &title, &dir, &pages))
        .await
        .map_err(|e| e.to_string())?;
    Ok(if added { n } else { 0 })
}

/// After a repeated submission: deletes the named uploads that were made for this job.
fn forget_own_uploads(intake: &Arc<Intake>, sub: &BagSubmission) {
    for f in &sub.files {
        let mine = intake.uploads.info(&f.upload).is_ok_and(|i| {
            i.meta(rong_protocol::digitise::upload_meta::JOB) == Some(sub.job.as_str())
        });
        if mine {
            if let Err(e) = intake.uploads.remove(&f.upload) {
                tracing::warn!(upload = %f.upload, error = %e, "cannot delete an upload");
            }
        }
    }
}
