//! Device identity over HTTP, central in-process on port 0: enrolment codes (one use,
//! expiring, rate-limited), every device route refusing requests without valid
//! credentials, a device reaching only its own branch and its own uploads, upload quotas,
//! and revocation taking effect at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;
use central::routes::{paths, Caller};
use reqwest::{Method, StatusCode};
use rong_identity::{KeyPair, Signer};

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn start(quota: u64) -> (tempfile::TempDir, common::Running) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(&dir.path().join("data"));
    config.uploads.device_quota_bytes = quota;
    let run = common::start(config).await;
    // The scanning station kt-01-scan of branch kt-01, enrolled.
    run.scanner();
    (dir, run)
}

fn meta(device: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "job {},path {},device {}",
        b64("job-1"),
        b64("bagit.txt"),
        b64(device)
    )
}

/// `POST /files/` signed by `who` for `device`'s upload of `length` bytes.
async fn create(
    run: &common::Running,
    who: &Signer,
    device: &str,
    length: u64,
) -> reqwest::Response {
    common::signed(&common::http(), who, Method::POST, &run.url("/files/"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", meta(device))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_code_works_once_before_it_expires_and_guessing_is_limited() {
    let (dir, run) = start(0).await;
    let central_key = dir.path().join("data/central.key");
    let mode = std::fs::metadata(&central_key)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "central's key is private");

    let code = run.enrolment_code("kt-01", "kt-01-kiosk-1", now() + 60_000);
    let key = KeyPair::generate();
    let r = run.post_enrol(&code, &key).await;
    assert_eq!(r.status(), 200);
    let got: rong_identity::EnrolResponse = r.json().await.unwrap();
    assert_eq!(
        (got.device.as_str(), got.branch.as_str()),
        ("kt-01-kiosk-1", "kt-01")
    );
    assert_eq!(
        got.central_public_key,
        KeyPair::load(&central_key).unwrap().public().to_base64()
    );
    // Spent: refused, even with another key.
    let r = run.post_enrol(&code, &KeyPair::generate()).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("already used"));
    // Expired.
    let old = run.enrolment_code("kt-01", "kt-01-kiosk-2", now() - 1);
    let r = run.post_enrol(&old, &key).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("expired"));
    // Wrong.
    let r = run.post_enrol("RONG-AAAAA-BBBBB-CCCCC-DDDDD", &key).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("unknown"));
    // Guessing on: the address is held back.
    let mut limited = false;
    for _ in 0..12 {
        let r = run.post_enrol("RONG-AAAAA-BBBBB-CCCCC-DDDDD", &key).await;
        limited |= r.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "enrolment attempts are rate-limited");
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_route_refuses_requests_without_valid_credentials() {
    let (_dir, run) = start(0).await;
    let http = common::http();
    let device_paths: Vec<&str> = paths()
        .into_iter()
        .filter(|(c, _)| *c == Caller::Device)
        .map(|(_, p)| p)
        .collect();
    assert!(device_paths.len() >= 5, "{device_paths:?}");
    for path in &device_paths {
        let path = path
            .replace("{branch}", "kt-01")
            .replace("{id}", "0190aaaa-0000-7000-8000-000000000000");
        let mut refused = 0;
        for method in [
            Method::GET,
            Method::POST,
            Method::HEAD,
            Method::PATCH,
            Method::OPTIONS,
        ] {
            let r = http
                .request(method.clone(), run.url(&path))
                .header("Tus-Resumable", "1.0.0")
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            assert!(
                s == 401 || s == 405,
                "{method} {path} without credentials: {s}"
            );
            // Signed, but by a key central does not know for that device.
            let forger = Signer::new("kt-01-scan", KeyPair::generate());
            let url = run.url(&path);
            let r = common::signed(&http, &forger, method.clone(), &url)
                .header("Tus-Resumable", "1.0.0")
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            assert!(
                s == 401 || s == 405,
                "{method} {path} with another key: {s}"
            );
            refused += usize::from(s == 401);
        }
        assert!(refused > 0, "{path} was never refused");
    }
    let url = run.url("/api/v1/snapshot/kt-01");
    // The station's own request works.
    let ok = common::signed(&http, run.scanner(), Method::GET, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Another key claiming to be the station.
    let forger = Signer::new("kt-01-scan", KeyPair::generate());
    let r = common::signed(&http, &forger, Method::GET, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A signature for another path.
    let auth = run.scanner().authorization("GET", "/api/v1/snapshot/kt-02");
    let r = http
        .get(&url)
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A stale timestamp: refused, with central's time to correct by.
    let stale =
        run.scanner()
            .authorization_at("GET", "/api/v1/snapshot/kt-01", now() - 10 * 60_000);
    let r = http
        .get(&url)
        .header("authorization", stale)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let told: i64 = r.headers()["rong-server-time-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((told - now()).abs() < 60_000);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["server_time_ms"], told);
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_reaches_only_its_own_branch_and_uploads_within_its_quota() {
    let (_dir, run) = start(1000).await;
    let http = common::http();
    let station = run.scanner().clone();
    let other = run.enrol("kt-01", "kt-01-kiosk-3").await;

    // Another branch's snapshot (existing or not).
    for branch in ["kt-02", "kontum"] {
        let url = run.url(&format!("/api/v1/snapshot/{branch}"));
        let r = common::signed(&http, &station, Method::GET, &url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{branch}");
    }
    // An upload in another device's name.
    assert_eq!(create(&run, &other, "kt-01-scan", 10).await.status(), 403);
    // Its own; another device can neither see nor extend it.
    let r = create(&run, &station, "kt-01-scan", 10).await;
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let head = |who: Signer| {
        let url = run.url(&loc);
        let http = http.clone();
        async move {
            common::signed(&http, &who, Method::HEAD, &url)
                .header("Tus-Resumable", "1.0.0")
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        head(Signer::new("kt-01-scan", KeyPair::generate())).await,
        401
    );
    let r = common::signed(&http, &station, Method::HEAD, &run.url(&loc))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = common::signed(&http, &other, Method::HEAD, &run.url(&loc))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "another device's upload is not there for it"
    );
    let r = common::signed(&http, &other, Method::PATCH, &run.url(&loc))
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(b"0123456789".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let id = loc.rsplit('/').next().unwrap();
    // A bag naming another device's upload, or sent in another device's name.
    let bag = |device: &str| {
        serde_json::json!({"job": "job-1", "device": device, "branch": "kt-01",
            "files": [{"path": "bagit.txt", "upload": id}]})
    };
    let bags = run.url("/api/v1/digitisation/bags");
    for (who, device) in [(&other, "kt-01-kiosk-3"), (&other, "kt-01-scan")] {
        let r = common::signed(&http, who, Method::POST, &bags)
            .json(&bag(device))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{device}");
    }
    // The quota: 1000 bytes a device, counted at creation, before a byte is sent.
    let r = create(&run, &station, "kt-01-scan", 991).await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("quota"));
    assert_eq!(
        create(&run, &station, "kt-01-scan", 990).await.status(),
        201
    );
    assert_eq!(
        create(&run, &other, "kt-01-kiosk-3", 1000).await.status(),
        201
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_refused_at_once() {
    let (_dir, run) = start(0).await;
    let http = common::http();
    let url = run.url("/api/v1/snapshot/kt-01");
    let get = || common::signed(&http, run.scanner(), Method::GET, &url).send();
    assert_eq!(get().await.unwrap().status(), 200);
    let revoke = run.url("/api/v1/devices/kt-01-scan/revoke");
    // Revoking is staff's: a device's own signature, or nothing, is not enough.
    assert_eq!(http.post(&revoke).send().await.unwrap().status(), 401);
    let r = common::signed(&http, run.scanner(), Method::POST, &revoke)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let admin = common::admin_token(&mut central_store::Store::open(&run.db).unwrap());
    let r = common::client_with_token(&admin)
        .post(&revoke)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("revoked"));
    assert_eq!(
        create(&run, run.scanner(), "kt-01-scan", 10).await.status(),
        403
    );
    // Nor a new certificate, nor a PIN check.
    for path in [
        rong_identity::CERTIFICATE_PATH,
        rong_identity::pin::PIN_PATH,
    ] {
        let r = common::signed(&http, run.scanner(), Method::POST, &run.url(path))
            .json(&serde_json::json!({"card": "P0001", "pin": "1234"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    run.stop().await;
}
