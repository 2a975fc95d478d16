//! Abandoned uploads at central (the tus `expiration` extension), over HTTP on port 0:
//! `Upload-Expires` on creation, `HEAD` and `PATCH`; an upload untouched for
//! `[uploads] expire_hours` answers `410`, and the reaper (at start and then periodically)
//! deletes its files, after which it answers `404`. A live upload is left alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, StatusCode};

use common::Running;

const T: Duration = Duration::from_secs(20);

async fn start(data_dir: &Path) -> Running {
    let mut config = common::config(data_dir);
    config.uploads.expire_hours = 1;
    common::start(config).await
}

/// The tus requests this test makes.
trait Tus {
    fn tus(&self, method: Method, path: &str) -> reqwest::RequestBuilder;
    async fn create(&self, path: &str) -> (String, reqwest::header::HeaderMap);
    async fn head(&self, loc: &str) -> reqwest::Response;
    async fn patch(&self, loc: &str, offset: u64, body: &[u8]) -> reqwest::Response;
}

impl Tus for Running {
    fn tus(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        common::signed(&common::http(), self.scanner(), method, &self.url(path))
            .header("Tus-Resumable", "1.0.0")
    }

    async fn create(&self, path: &str) -> (String, reqwest::header::HeaderMap) {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let r = self
            .tus(Method::POST, "/files/")
            .header("Upload-Length", "100")
            .header(
                "Upload-Metadata",
                format!(
                    "job {},path {},device {}",
                    b64("job-exp"),
                    b64(path),
                    b64("kt-01-scan")
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        (loc, r.headers().clone())
    }

    async fn head(&self, loc: &str) -> reqwest::Response {
        self.tus(Method::HEAD, loc).send().await.unwrap()
    }

    async fn patch(&self, loc: &str, offset: u64, body: &[u8]) -> reqwest::Response {
        self.tus(Method::PATCH, loc)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }
}

/// `Upload-Expires` as ms since the epoch.
fn expires_ms(h: &reqwest::header::HeaderMap) -> i64 {
    let v = h
        .get("upload-expires")
        .expect("Upload-Expires")
        .to_str()
        .unwrap();
    assert!(v.ends_with(" GMT"), "{v}");
    chrono::DateTime::parse_from_rfc2822(v)
        .unwrap_or_else(|e| panic!("{v}: {e}"))
        .timestamp_millis()
}

fn assert_about_an_hour_from_now(at: i64) {
    let now = chrono::Utc::now().timestamp_millis();
    let hour = 3_600_000;
    assert!(
        (now + hour - 60_000..=now + hour + 1_000).contains(&at),
        "expires {} ms from now",
        at - now
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_upload_expires_is_reaped_and_a_live_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    let r = c.tus(Method::OPTIONS, "/files/").send().await.unwrap();
    let ext = r.headers()["tus-extension"].to_str().unwrap().to_owned();
    assert!(ext.split(',').any(|e| e == "expiration"), "{ext}");

    let (old, h) = c.create("data/master/0001.png").await;
    assert_about_an_hour_from_now(expires_ms(&h));
    let r = c.patch(&old, 0, b"0123456789").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_about_an_hour_from_now(expires_ms(r.headers()));
    let r = c.head(&old).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_about_an_hour_from_now(expires_ms(r.headers()));
    let (live, _) = c.create("data/master/0002.png").await;

    // Nothing arrives for two hours: the info file says so.
    let id = old.rsplit('/').next().unwrap();
    let uploads = dir.path().join("uploads");
    let info_path = uploads.join(format!("{id}.json"));
    let mut info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&info_path).unwrap()).unwrap();
    let two_hours_ago = chrono::Utc::now().timestamp_millis() - 2 * 3_600_000;
    info["created_at"] = two_hours_ago.into();
    info["touched_at"] = two_hours_ago.into();
    std::fs::write(&info_path, serde_json::to_vec(&info).unwrap()).unwrap();

    // Expired, not yet reaped: 410 for HEAD and PATCH, and the bytes are still there.
    assert_eq!(c.head(&old).await.status(), StatusCode::GONE);
    assert_eq!(c.patch(&old, 10, b"abc").await.status(), StatusCode::GONE);
    assert!(uploads.join(id).exists());
    c.stop().await;

    // The reaper runs when central starts: the expired upload's files go, it answers 404;
    // the live one stays.
    let c = start(dir.path()).await;
    let t0 = Instant::now();
    while info_path.exists() || uploads.join(id).exists() {
        assert!(t0.elapsed() < T, "the expired upload was not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.head(&old).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        c.patch(&old, 10, b"abc").await.status(),
        StatusCode::NOT_FOUND
    );
    let r = c.head(&live).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["upload-offset"], "0");
    c.stop().await;
}
