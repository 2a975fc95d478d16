//! The uploader against a small in-memory tus server written here (central's real one is
//! built elsewhere), which drops part of every Nth chunk and fails the request, as a link
//! cut mid-chunk would.

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
use rong_protocol::api::RequestOp;
use rong_protocol::digitise::{BagSubmission, BagVerdict};

use super::pages::sha256_hex;
use super::tests::{agent, job, scan, session, start};
use super::tus::TusClient;
use super::upload::upload_next;
use super::*;

#[derive(Default)]
struct Upload {
    length: u64,
    data: Vec<u8>,
    meta: HashMap<String, String>,
}

#[derive(Default)]
struct Tus {
    uploads: Mutex<HashMap<String, Upload>>,
    next: AtomicU64,
    patches: AtomicU64,
    creates: AtomicU64,
    bytes_received: AtomicU64,
    /// Every Nth PATCH keeps half its chunk and fails; 0: never.
    cut_every: u64,
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
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body))
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

async fn serve(cut_every: u64) -> (String, Arc<Tus>) {
    let t = Arc::new(Tus {
        cut_every,
        ..Tus::default()
    });
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

use sha2::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_resume_through_cut_chunks_and_the_bag_is_safe() {
    let (url, t) = serve(4).await;
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(agent(dir.path(), &url));
    let a2 = a.clone();
    let id = tokio::task::spawn_blocking(move || {
        let s = session(&a2, "S1");
        let id = start(&a2, &s, "Sử thi").summary.job;
        a2.handle(RequestOp::SimDocScanner {
            action: "load".into(),
            sheets: Some(3),
        })
        .unwrap();
        job(scan(&a2, &s, &id, true));
        job(a2.handle(RequestOp::JobFinish {
            session: s,
            job: id.clone(),
        }));
        id
    })
    .await
    .unwrap();
    let client = TusClient::new(&url).unwrap();
    let mut failures = 0;
    loop {
        match upload_next(&a, &client).await {
            Ok(true) => break,
            Ok(false) => panic!("the job was not waiting"),
            Err(e) => {
                failures += 1;
                assert!(failures < 500, "never finished: {e}");
            }
        }
    }
    assert!(failures > 3, "the server cut chunks: {failures} failures");
    let row = a.store().job(&id).unwrap().unwrap();
    assert_eq!(row.summary.state.name(), "safe");
    assert_eq!(row.summary.bytes_sent, row.summary.bytes_total);
    let files = a.store().uploads(&id).unwrap();
    assert_eq!(
        t.creates.load(Ordering::SeqCst),
        files.len() as u64,
        "no upload started twice"
    );
    // Resumed, not restarted: little more than the bag's size crossed the link.
    let total: u64 = files.iter().map(|f| f.size).sum();
    let received = t.bytes_received.load(Ordering::SeqCst);
    assert!(received < total + total / 2, "{received} bytes for {total}");
    let uploads: HashMap<String, Vec<u8>> = t
        .uploads
        .lock()
        .unwrap()
        .iter()
        .map(|(k, u)| (k.clone(), u.data.clone()))
        .collect();
    for f in &files {
        let id = f.url.as_deref().unwrap().rsplit('/').next().unwrap();
        let on_disk =
            std::fs::read(bags_dir(dir.path()).join(&row.summary.job).join(&f.path)).unwrap();
        assert_eq!(uploads[id], on_disk, "{}", f.path);
    }
    // Tag files first, then access, then masters: the upload ids are in that order.
    let ids: Vec<u64> = files
        .iter()
        .map(|f| {
            f.url.as_deref().unwrap().rsplit('/').next().unwrap()[1..]
                .parse()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(files[0].path, "bagit.txt");
    assert!(files.last().unwrap().path.starts_with("data/master/"));
    let st = a.status().unwrap().digitise.unwrap();
    assert_eq!((st.jobs_safe, st.jobs_waiting, st.bytes_waiting), (1, 0, 0));
    assert!(!upload_next(&a, &client).await.unwrap(), "nothing left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_upload_resumes_from_the_confirmed_offset() {
    let (url, t) = serve(0).await;
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(agent(dir.path(), &url));
    let a2 = a.clone();
    let id = tokio::task::spawn_blocking(move || {
        let s = session(&a2, "S1");
        let id = start(&a2, &s, "B").summary.job;
        job(scan(&a2, &s, &id, false));
        job(a2.handle(RequestOp::JobFinish {
            session: s,
            job: id.clone(),
        }));
        id
    })
    .await
    .unwrap();
    // A crash after central confirmed some chunks of the first master, but before the
    // station saved that: the store says 0, central holds more.
    let client = TusClient::new(&url).unwrap();
    let files = a.store().uploads(&id).unwrap();
    let master = files
        .iter()
        .find(|f| f.path.starts_with("data/master"))
        .unwrap();
    let u = client
        .create(
            master.size,
            &[
                ("job", &id),
                ("path", &master.path),
                ("sha256", &master.sha256),
            ],
        )
        .await
        .unwrap();
    let bytes = std::fs::read(bags_dir(dir.path()).join(&id).join(&master.path)).unwrap();
    let confirmed = client.patch(&u, 0, bytes[..1000].to_vec()).await.unwrap();
    assert_eq!(confirmed, 1000);
    a.store()
        .upload_progress(&id, &master.path, Some(u.as_str()), 0)
        .unwrap();
    assert!(upload_next(&a, &client).await.unwrap());
    assert_eq!(
        a.store().job(&id).unwrap().unwrap().summary.state.name(),
        "safe"
    );
    let uid = u.as_str().rsplit('/').next().unwrap().to_owned();
    assert_eq!(t.uploads.lock().unwrap()[&uid].data, bytes);
}
