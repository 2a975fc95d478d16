//! `[http.limits]` on a real central over HTTP on port 0: an oversize body gets `413` and
//! changes nothing, a client too slow with its body gets `408`, and a request beyond the
//! concurrency limit is shed at once with `503` (not queued).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use central::http::limits::HttpLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(20);

/// Central with `limits`, and an administrator's API token for the staff routes.
async fn start(dir: &std::path::Path, limits: HttpLimits) -> (common::Running, String) {
    let mut config = common::config(&dir.join("data"));
    config.http.limits = limits;
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let mut store = central_store::Store::open(&config.db_path()).unwrap();
    let token = common::admin_token(&mut store);
    drop(store);
    (common::start(config).await, token)
}

async fn change_version(c: &common::Running) -> u64 {
    let v: serde_json::Value = common::http()
        .get(c.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["change_version"].as_u64().unwrap()
}

/// Sends a request head (with `token`) announcing `len` body bytes, and `sent` of them.
async fn partial_post(
    c: &common::Running,
    token: &str,
    path: &str,
    len: usize,
    sent: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(c.ready.http).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: central\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(sent).await.unwrap();
    s
}

/// The status code of the response on `s`.
async fn status_of(s: &mut TcpStream) -> u16 {
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(T, s.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split(' ').nth(1).unwrap_or("").parse().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_body_gets_413_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HttpLimits {
        max_body_bytes: 1024,
        ..HttpLimits::default()
    };
    let (c, token) = start(dir.path(), limits).await;
    let v0 = change_version(&c).await;
    let big = serde_json::json!({ "reason": "x".repeat(2000) });
    let r = common::client_with_token(&token)
        .post(c.url("/api/v1/patrons/P000001/block"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(change_version(&c).await, v0, "nothing changed");
    // A body announced too large is refused from its head, before it is sent.
    let mut s = partial_post(&c, &token, "/api/v1/patrons/P000001/block", 1 << 30, b"").await;
    assert_eq!(status_of(&mut s).await, 413);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_too_slow_with_its_body_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HttpLimits {
        request_timeout_secs: 1,
        ..HttpLimits::default()
    };
    let (c, token) = start(dir.path(), limits).await;
    let v0 = change_version(&c).await;
    let started = Instant::now();
    // Half a body, then nothing more.
    let mut s = partial_post(
        &c,
        &token,
        "/api/v1/patrons/P000001/block",
        40,
        br#"{"reason":"#,
    )
    .await;
    assert_eq!(status_of(&mut s).await, 408);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(change_version(&c).await, v0, "nothing changed");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_concurrency_limit_requests_are_shed_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let limits = HttpLimits {
        max_concurrent_requests: 1,
        ..HttpLimits::default()
    };
    let (c, token) = start(dir.path(), limits).await;
    let http = common::http();
    // One request holds the only slot: its handler waits for the rest of its body.
    let body = br#"{"reason":"test"}"#;
    let mut slow = partial_post(
        &c,
        &token,
        "/api/v1/patrons/P000001/block",
        body.len(),
        &body[..5],
    )
    .await;
    // Once it is being served, any other request is refused at once.
    let deadline = Instant::now() + T;
    loop {
        let r = http.get(c.url("/healthz")).send().await.unwrap();
        if r.status() == 503 {
            break;
        }
        assert_eq!(r.status(), 200);
        assert!(Instant::now() < deadline, "the slot was never taken");
        tokio::task::yield_now().await;
    }
    // When it finishes, the slot is free again.
    slow.write_all(&body[5..]).await.unwrap();
    let first = status_of(&mut slow).await;
    assert!(first == 200 || first == 404, "{first}");
    let r = http.get(c.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    c.stop().await;
}
