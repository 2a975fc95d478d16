//! A small in-memory tus 1.0 server (creation, checksum) with central's bag submission,
//! for the station's uploader: it can drop part of every Nth chunk and fail the request,
//! as a link cut mid-chunk would, and pause before each answer. Central's real server is
//! built elsewhere; this one checks what the station sends against the contract in
//! docs/DIGITISATION.md.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{head, post};
use axum::{Json, Router};
use base64::Engine;
use rong_protocol::digitise::{BagSubmission, BagVerdict};
use sha2::{Digest, Sha256};

fn sha256_hex(b: &[u8]) -> String {
    edge_agent::digitise::pages::sha256_hex(b)
}

#[derive(Default)]
pub struct Upload {
    pub length: u64,
    pub data: Vec<u8>,
    pub meta: HashMap<String, String>,
}

#[derive(Default)]
pub struct Tus {
    pub uploads: Mutex<HashMap<String, Upload>>,
    pub next: AtomicU64,
    pub patches: AtomicU64,
    pub creates: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Every Nth PATCH keeps half its chunk and fails; 0: never.
    pub cut_every: u64,
    /// Bag submissions received, by job.
    pub submissions: Mutex<HashMap<String, u32>>,
    /// A pause before answering each PATCH, so a test can act mid-upload.
    pub patch_delay_ms: u64,
}

fn hv(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn create(State(t): State<Arc<Tus>>, h: HeaderMap) -> Response {
    let Some(length) = hv(&h, "Upload-Length").and_then(|v| v.parse().ok()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut meta = HashMap::new();
    for pair in hv(&h, "Upload-Metadata").unwrap_or_default().split(',') {
        let mut it = pair.split(' ');
        if let (Some(k), Some(v)) = (it.next(), it.next()) {
            let v = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
            meta.insert(k.to_owned(), String::from_utf8(v).unwrap());
        }
    }
    let id = format!("u{}", t.next.fetch_add(1, Ordering::SeqCst));
    t.creates.fetch_add(1, Ordering::SeqCst);
    t.uploads.lock().unwrap().insert(
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

async fn offset(State(t): State<Arc<Tus>>, UrlPath(id): UrlPath<String>) -> Response {
    match t.uploads.lock().unwrap().get(&id) {
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

async fn patch(
    State(t): State<Arc<Tus>>,
    UrlPath(id): UrlPath<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(hv(&h, "Tus-Resumable").as_deref(), Some("1.0.0"));
    assert_eq!(
        hv(&h, "Content-Type").as_deref(),
        Some("application/offset+octet-stream")
    );
    let n = t.patches.fetch_add(1, Ordering::SeqCst) + 1;
    if t.patch_delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(t.patch_delay_ms)).await;
    }
    let mut uploads = t.uploads.lock().unwrap();
    let Some(u) = uploads.get_mut(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let at: u64 = hv(&h, "Upload-Offset").unwrap().parse().unwrap();
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
    let want = hv(&h, "Upload-Checksum").unwrap();
    let got = format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body))
    );
    if want != got {
        return StatusCode::from_u16(460).unwrap().into_response();
    }
    u.data.extend_from_slice(&body);
    (
        StatusCode::NO_CONTENT,
        [("Upload-Offset", u.data.len().to_string())],
    )
        .into_response()
}

async fn submit(State(t): State<Arc<Tus>>, Json(s): Json<BagSubmission>) -> Response {
    *t.submissions
        .lock()
        .unwrap()
        .entry(s.job.clone())
        .or_default() += 1;
    let uploads = t.uploads.lock().unwrap();
    let mut files = HashMap::new();
    for f in &s.files {
        let Some(u) = uploads.get(&f.upload) else {
            return (StatusCode::BAD_REQUEST, "unknown upload").into_response();
        };
        if u.data.len() as u64 != u.length {
            return (StatusCode::BAD_REQUEST, "unfinished upload").into_response();
        }
        assert_eq!(u.meta["path"], f.path);
        assert_eq!(u.meta["job"], s.job);
        if sha256_hex(&u.data) != u.meta["sha256"] {
            return Json(BagVerdict::Refused {
                reason: "checksum mismatch".into(),
                file: Some(f.path.clone()),
            })
            .into_response();
        }
        files.insert(f.path.clone(), u.data.clone());
    }
    let manifest = String::from_utf8(files["manifest-sha256.txt"].clone()).unwrap();
    for line in manifest.lines() {
        let (sha, path) = line.split_once("  ").unwrap();
        if files.get(path).map(|d| sha256_hex(d)).as_deref() != Some(sha) {
            return Json(BagVerdict::Refused {
                reason: "manifest mismatch".into(),
                file: Some(path.into()),
            })
            .into_response();
        }
    }
    Json(BagVerdict::Safe {
        document: format!("doc-{}", s.job),
    })
    .into_response()
}

pub async fn serve(t: Tus) -> (String, Arc<Tus>) {
    let t = Arc::new(t);
    let app = Router::new()
        .route("/files/", post(create))
        .route("/files/{id}", head(offset).patch(patch))
        .route("/api/v1/digitisation/bags", post(submit))
        .with_state(t.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, t)
}
