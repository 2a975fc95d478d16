//! The stand-in central's uploads: an in-memory tus 1.0 server (creation, checksum) and
//! the bag submission, checked against the contract in docs/DIGITISATION.md. It can drop
//! part of every Nth chunk and fail the request, as a link cut mid-chunk would, and pause
//! before each answer so that a test can act mid-upload.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rong_protocol::digitise::{upload_meta, BagSubmission, BagVerdict};

use crate::tus::{checksum, decode_metadata, sha256_hex};

/// One upload as the server holds it.
#[derive(Debug, Default)]
pub struct Upload {
    /// `Upload-Length`.
    pub length: u64,
    /// The bytes received so far.
    pub data: Vec<u8>,
    /// `Upload-Metadata`, decoded.
    pub meta: HashMap<String, String>,
}

/// The uploads and what the server was asked; set the two options before the start.
#[derive(Debug, Default)]
pub struct Tus {
    /// Uploads by id (`u0`, `u1`, … in order of creation).
    pub uploads: Mutex<HashMap<String, Upload>>,
    /// `PATCH` requests received.
    pub patches: AtomicU64,
    /// Uploads created.
    pub creates: AtomicU64,
    /// Payload bytes received, cut chunks included.
    pub bytes_received: AtomicU64,
    /// Bag submissions received, by job.
    pub submissions: Mutex<HashMap<String, u32>>,
    /// Every Nth `PATCH` keeps half its chunk and fails; 0: never.
    pub cut_every: u64,
    /// A pause before answering each `PATCH`, so a test can act mid-upload.
    pub patch_delay_ms: u64,
    /// Verdicts go out without central's signature, as one forged on the way would.
    pub unsigned_verdicts: AtomicBool,
}

impl Tus {
    /// The uploads, locked.
    pub fn uploads(&self) -> MutexGuard<'_, HashMap<String, Upload>> {
        self.uploads.lock().expect("uploads lock")
    }

    /// Bag submissions received so far, by job.
    pub fn submissions(&self) -> HashMap<String, u32> {
        self.submissions.lock().expect("submissions lock").clone()
    }

    /// Uploads created so far.
    pub fn created(&self) -> u64 {
        self.creates.load(Ordering::SeqCst)
    }

    /// Payload bytes received so far.
    pub fn received(&self) -> u64 {
        self.bytes_received.load(Ordering::SeqCst)
    }
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `POST /files/`.
pub(super) async fn create(State(t): State<Arc<Tus>>, h: HeaderMap) -> Response {
    let Some(length) = header(&h, "Upload-Length").and_then(|v| v.parse().ok()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(meta) = decode_metadata(&header(&h, "Upload-Metadata").unwrap_or_default()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let id = format!("u{}", t.creates.fetch_add(1, Ordering::SeqCst));
    t.uploads().insert(
        id.clone(),
        Upload {
            length,
            data: Vec::new(),
            meta,
        },
    );
    (
        StatusCode::CREATED,
        [
            ("Location", format!("/files/{id}")),
            ("Tus-Resumable", "1.0.0".into()),
        ],
    )
        .into_response()
}

/// `HEAD /files/{id}`.
pub(super) async fn offset(State(t): State<Arc<Tus>>, UrlPath(id): UrlPath<String>) -> Response {
    match t.uploads().get(&id) {
        Some(u) => (
            StatusCode::OK,
            [
                ("Upload-Offset", u.data.len().to_string()),
                ("Upload-Length", u.length.to_string()),
                ("Cache-Control", "no-store".into()),
            ],
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `PATCH /files/{id}`.
pub(super) async fn patch(
    State(t): State<Arc<Tus>>,
    UrlPath(id): UrlPath<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(header(&h, "Tus-Resumable").as_deref(), Some("1.0.0"));
    assert_eq!(
        header(&h, "Content-Type").as_deref(),
        Some("application/offset+octet-stream")
    );
    let n = t.patches.fetch_add(1, Ordering::SeqCst) + 1;
    if t.patch_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(t.patch_delay_ms)).await;
    }
    let mut uploads = t.uploads();
    let Some(u) = uploads.get_mut(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(at) = header(&h, "Upload-Offset").and_then(|v| v.parse::<u64>().ok()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if at != u.data.len() as u64 {
        return StatusCode::CONFLICT.into_response();
    }
    t.bytes_received
        .fetch_add(body.len() as u64, Ordering::SeqCst);
    if t.cut_every > 0 && n % t.cut_every == 0 {
        // The link dropped half way: the first half arrived, the answer never did.
        u.data.extend_from_slice(&body[..body.len() / 2]);
        return StatusCode::BAD_GATEWAY.into_response();
    }
    if header(&h, "Upload-Checksum") != Some(checksum(&body)) {
        // tus's "checksum mismatch".
        return StatusCode::from_u16(460)
            .unwrap_or(StatusCode::BAD_REQUEST)
            .into_response();
    }
    u.data.extend_from_slice(&body);
    (
        StatusCode::NO_CONTENT,
        [("Upload-Offset", u.data.len().to_string())],
    )
        .into_response()
}

fn refused(t: &Tus, s: &BagSubmission, reason: &str, file: &str) -> Response {
    answer(
        t,
        s,
        &BagVerdict::Refused {
            reason: reason.into(),
            file: Some(file.into()),
        },
    )
}

/// A verdict as central sends it: signed with [`super::central_key`] for the station and
/// job, unless the stand-in plays a forger.
fn answer(t: &Tus, s: &BagSubmission, verdict: &BagVerdict) -> Response {
    let body = serde_json::to_vec(verdict).expect("a verdict as JSON");
    let mut resp = (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response();
    if !t.unsigned_verdicts.load(Ordering::SeqCst) {
        let context = rong_protocol::digitise::verdict_context(&s.device, &s.job);
        let now = chrono::Utc::now().timestamp_millis();
        let signature = super::central_key().seal_detached(&context, now, &body);
        resp.headers_mut().insert(
            rong_protocol::digitise::VERDICT_SIGNATURE_HEADER,
            signature.parse().expect("a header value"),
        );
    }
    resp
}

/// `POST /api/v1/digitisation/bags`: every file whole and as its upload's metadata says,
/// and the manifest true to the payload; the document is `doc-{job}`.
pub(super) async fn submit(State(t): State<Arc<Tus>>, Json(s): Json<BagSubmission>) -> Response {
    *t.submissions
        .lock()
        .expect("submissions lock")
        .entry(s.job.clone())
        .or_default() += 1;
    let uploads = t.uploads();
    let mut files = HashMap::new();
    for f in &s.files {
        let Some(u) = uploads.get(&f.upload) else {
            return (StatusCode::BAD_REQUEST, "unknown upload").into_response();
        };
        if u.data.len() as u64 != u.length {
            return (StatusCode::BAD_REQUEST, "unfinished upload").into_response();
        }
        let meta = |k: &str| u.meta.get(k).map(String::as_str);
        assert_eq!(meta(upload_meta::PATH), Some(f.path.as_str()));
        assert_eq!(meta(upload_meta::JOB), Some(s.job.as_str()));
        if meta(upload_meta::SHA256) != Some(sha256_hex(&u.data).as_str()) {
            return refused(&t, &s, "checksum mismatch", &f.path);
        }
        files.insert(f.path.as_str(), &u.data);
    }
    let Some(manifest) = files
        .get("manifest-sha256.txt")
        .and_then(|m| std::str::from_utf8(m).ok())
    else {
        return refused(&t, &s, "no manifest", "manifest-sha256.txt");
    };
    for line in manifest.lines() {
        let (sha, path) = line.split_once("  ").unwrap_or((line, ""));
        if files.get(path).map(|d| sha256_hex(d)).as_deref() != Some(sha) {
            return refused(&t, &s, "manifest mismatch", path);
        }
    }
    let safe = BagVerdict::Safe {
        document: format!("doc-{}", s.job),
    };
    answer(&t, &s, &safe)
}
