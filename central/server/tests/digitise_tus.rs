//! Digitisation at central, end to end over HTTP on port 0: the tus upload protocol step by
//! step, an independent client (`tuspy` from the venv `scripts/setup.sh` makes), and bag
//! submissions that are kept, refused into quarantine, and resubmitted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use central_store::documents;
use rong_protocol::digitise::{BagFile, BagSubmission, BagVerdict};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

const CHUNK_LIMIT: usize = 64 * 1024;

struct Central {
    run: common::Running,
    http: reqwest::Client,
    data_dir: PathBuf,
}

impl Central {
    async fn start(data_dir: &Path) -> Central {
        let mut config = common::config(data_dir);
        config.uploads.max_chunk_bytes = CHUNK_LIMIT;
        config.uploads.max_file_bytes = 10 * 1024 * 1024;
        Central {
            run: common::start(config).await,
            http: common::http(),
            data_dir: data_dir.to_owned(),
        }
    }

    /// A central with its data in a new temporary directory, which it needs kept.
    async fn temp() -> (tempfile::TempDir, Central) {
        let dir = tempfile::tempdir().unwrap();
        let c = Central::start(&dir.path().join("data")).await;
        (dir, c)
    }

    fn url(&self, path: &str) -> String {
        self.run.url(path)
    }

    async fn stop(self) {
        self.run.stop().await;
    }

    /// The bytes central has stored for the upload at `loc` (a path or URL ending in
    /// the upload's id).
    fn stored(&self, loc: &str) -> Vec<u8> {
        let id = loc.rsplit('/').next().unwrap();
        std::fs::read(self.data_dir.join("uploads").join(id)).unwrap()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.data_dir.join("central.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// `POST /files/` for a bag file; answers the upload's URL path.
    async fn create(&self, job: &str, path: &str, length: usize) -> String {
        let r = self
            .signed(reqwest::Method::POST, "/files/")
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", meta(job, path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "create {path}");
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A request to `path` (or a URL on central) signed by the test's scanning station.
    fn signed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        common::signed(&self.http, self.run.scanner(), method, &url)
    }

    async fn head(&self, loc: &str) -> reqwest::Response {
        self.signed(reqwest::Method::HEAD, loc)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }

    async fn offset(&self, loc: &str) -> u64 {
        let r = self.head(loc).await;
        assert_eq!(r.status(), 200);
        r.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn patch(
        &self,
        loc: &str,
        offset: usize,
        chunk: &[u8],
        sum: Option<String>,
    ) -> reqwest::Response {
        let mut rq = self
            .signed(reqwest::Method::PATCH, loc)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string());
        if let Some(s) = sum {
            rq = rq.header("Upload-Checksum", s);
        }
        rq.body(chunk.to_vec()).send().await.unwrap()
    }

    /// `PATCH loc` with exactly these headers, as it answers.
    async fn raw_patch(
        &self,
        loc: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> reqwest::Response {
        let mut req = self.signed(reqwest::Method::PATCH, loc).body(body.to_vec());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.unwrap()
    }

    /// Uploads a whole file in chunks of 40 KiB; answers the upload id.
    async fn upload(&self, job: &str, path: &str, bytes: &[u8]) -> String {
        let loc = self.create(job, path, bytes.len()).await;
        self.send_rest(&loc, bytes, 0, 40 * 1024).await;
        loc.rsplit('/').next().unwrap().to_owned()
    }

    /// Sends `bytes` from `at` to the end in checksummed chunks of `chunk` bytes, each of
    /// which must be taken.
    async fn send_rest(&self, loc: &str, bytes: &[u8], mut at: usize, chunk: usize) {
        while at < bytes.len() {
            let end = (at + chunk).min(bytes.len());
            let part = &bytes[at..end];
            let r = self.patch(loc, at, part, Some(sha256_header(part))).await;
            assert_eq!(r.status(), 204, "PATCH {loc} at {at}");
            at = end;
        }
    }

    async fn submit(&self, sub: &BagSubmission) -> reqwest::Response {
        self.signed(reqwest::Method::POST, "/api/v1/digitisation/bags")
            .json(sub)
            .send()
            .await
            .unwrap()
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn meta(job: &str, path: &str) -> String {
    format!(
        "job {},path {},device {},branch {}",
        b64(job.as_bytes()),
        b64(path.as_bytes()),
        b64(b"kt-01-scan"),
        b64(b"kt-01")
    )
}

fn sha256_header(b: &[u8]) -> String {
    format!("sha256 {}", b64(&Sha256::digest(b)))
}

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Deterministic bytes that do not compress to nothing.
fn noise(n: usize, seed: u8) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32 ^ u32::from(seed);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A BagIt bag as the station builds it: `(path, bytes)` for every file.
fn bag(job: &str, pages: usize) -> Vec<(String, Vec<u8>)> {
    let mut payload = Vec::new();
    for p in 1..=pages {
        payload.push((
            format!("data/access/{p:04}.jpg"),
            noise(30_000 + p, p as u8),
        ));
        payload.push((
            format!("data/master/{p:04}.png"),
            noise(100_000 + p, 100 + p as u8),
        ));
    }
    let bytes: usize = payload.iter().map(|(_, b)| b.len()).sum();
    let manifest: String = payload
        .iter()
        .map(|(p, b)| format!("{}  {p}\n", hex(b)))
        .collect();
    let tags = vec![
        (
            "bagit.txt".to_owned(),
            b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_vec(),
        ),
        (
            "bag-info.txt".to_owned(),
            format!(
                "Bagging-Date: 2026-11-25\nPayload-Oxum: {bytes}.{}\nExternal-Identifier: {job}\n\
                 Rong-Job: {job}\nRong-Device: kt-01-scan\nRong-Branch: kt-01\nRong-Pages: {pages}\n\
                 DC-Title: Sử thi Ba Na\nDC-Creator: Nguyễn Văn A\nDC-Language: vie\n",
                payload.len()
            )
            .into_bytes(),
        ),
        ("manifest-sha256.txt".to_owned(), manifest.into_bytes()),
    ];
    let tagmanifest: String = tags
        .iter()
        .map(|(p, b)| format!("{}  {p}\n", hex(b)))
        .collect();
    let mut all = tags;
    all.push((
        "tagmanifest-sha256.txt".to_owned(),
        tagmanifest.into_bytes(),
    ));
    all.extend(payload);
    all
}

async fn upload_bag(c: &Central, job: &str, files: &[(String, Vec<u8>)]) -> BagSubmission {
    let mut out = Vec::new();
    for (path, bytes) in files {
        out.push(BagFile {
            path: path.clone(),
            upload: c.upload(job, path, bytes).await,
        });
    }
    BagSubmission {
        job: job.into(),
        device: "kt-01-scan".into(),
        branch: "kt-01".into(),
        files: out,
    }
}

/// A reverse proxy in front of central that signs every request as the test's scanning
/// station, for a tus client that cannot (tuspy); answers its base URL.
async fn signing_proxy(c: &Central) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (base, signer, http) = (c.url(""), c.run.scanner().clone(), c.http.clone());
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (base, signer, http) = (base.clone(), signer.clone(), http.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let pq = parts.uri.path_and_query().unwrap().as_str().to_owned();
            let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
            let mut rq = common::signed(&http, &signer, method, &format!("{base}{pq}"));
            for (name, value) in &parts.headers {
                if !["host", "content-length", "transfer-encoding"].contains(&name.as_str()) {
                    rq = rq.header(name.as_str(), value.as_bytes());
                }
            }
            let r = rq.body(body).send().await.unwrap();
            let mut out = axum::http::Response::builder().status(r.status().as_u16());
            for (name, value) in r.headers() {
                if !["content-length", "transfer-encoding"].contains(&name.as_str()) {
                    out = out.header(name.as_str(), value.as_bytes());
                }
            }
            out.body(axum::body::Body::from(r.bytes().await.unwrap()))
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Runs the interop venv's Python with `args` off the async threads; answers its
/// standard output, or panics with its errors when `what` failed.
async fn python<S: Into<OsString>>(what: &'static str, args: Vec<S>) -> Vec<u8> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    tokio::task::spawn_blocking(move || common::stdout_of(common::python().args(&args), what))
        .await
        .unwrap()
}

/// Runs tuspy (`tests/interop/tus_upload.py`); answers its JSON line.
async fn tuspy(args: Vec<String>) -> serde_json::Value {
    let mut all = vec![common::interop("tus_upload.py").into_os_string()];
    all.extend(args.into_iter().map(OsString::from));
    serde_json::from_slice(&python("tuspy", all).await).unwrap()
}

#[tokio::test]
async fn tus_protocol_step_by_step_and_across_a_restart() {
    let (_dir, c) = Central::temp().await;

    // Discovery.
    let r = c
        .signed(reqwest::Method::OPTIONS, "/files/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(h["tus-extension"], "creation,checksum,expiration");
    assert_eq!(h["tus-checksum-algorithm"], "sha1,sha256");
    assert_eq!(h["tus-max-size"], (10 * 1024 * 1024).to_string().as_str());

    // Creation: the version, the length and the metadata are checked.
    let post = |resumable: &'static str, len: Option<&'static str>, meta: String| {
        let mut rq = c
            .signed(reqwest::Method::POST, "/files/")
            .header("Upload-Metadata", meta);
        if !resumable.is_empty() {
            rq = rq.header("Tus-Resumable", resumable);
        }
        if let Some(l) = len {
            rq = rq.header("Upload-Length", l);
        }
        rq.send()
    };
    let r = post("0.2.2", Some("10"), meta("job-a", "bagit.txt"))
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(r.headers()["tus-version"], "1.0.0");
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    // (Tus-Resumable, Upload-Length, Upload-Metadata) → status.
    let no_device = format!("job {},path {}", b64(b"job-a"), b64(b"bagit.txt"));
    let refused = [
        ("", Some("10"), meta("job-a", "bagit.txt"), 412),
        ("1.0.0", None, meta("job-a", "bagit.txt"), 400),
        ("1.0.0", Some("10"), no_device, 400),
        ("1.0.0", Some("999999999"), meta("job-a", "bagit.txt"), 413),
    ];
    for (version, len, metadata, status) in refused {
        let r = post(version, len, metadata.clone()).await.unwrap();
        assert_eq!(r.status(), status, "{version:?} {len:?} {metadata}");
    }
    for bad in ["../escape.txt", "/etc/passwd", "data/../../x"] {
        let r = post("1.0.0", Some("10"), meta("job-a", bad)).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    }

    let file = noise(150_000, 7);
    let loc = c.create("job-a", "data/master/0001.png", file.len()).await;
    assert!(loc.starts_with("/files/"), "{loc}");
    let r = c.head(&loc).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["upload-offset"], "0");
    assert_eq!(r.headers()["upload-length"], "150000");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert_eq!(
        c.head("/files/0190aaaa-0000-7000-8000-000000000000")
            .await
            .status(),
        404
    );

    // A chunk, with its checksum.
    let r = c
        .patch(
            &loc,
            0,
            &file[..50_000],
            Some(sha256_header(&file[..50_000])),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["upload-offset"], "50000");
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    // The wrong offset.
    let r = c.patch(&loc, 0, &file[..10], None).await;
    assert_eq!(r.status(), 409);
    // A checksum that does not match: 460, nothing kept.
    let r = c
        .patch(
            &loc,
            50_000,
            &file[50_000..60_000],
            Some(sha256_header(b"other")),
        )
        .await;
    assert_eq!(r.status(), 460);
    assert_eq!(c.offset(&loc).await, 50_000);
    // sha1 is accepted too.
    let sha1 = format!("sha1 {}", b64(&sha1::Sha1::digest(&file[50_000..60_000])));
    let r = c
        .patch(&loc, 50_000, &file[50_000..60_000], Some(sha1))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(c.offset(&loc).await, 60_000);
    // A chunk over the limit, the wrong content type, no version.
    let r = c
        .patch(&loc, 60_000, &file[60_000..60_000 + CHUNK_LIMIT + 1], None)
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    let chunk = &file[60_000..60_010];
    let wrong_type = [
        ("Tus-Resumable", "1.0.0"),
        ("Content-Type", "application/octet-stream"),
        ("Upload-Offset", "60000"),
    ];
    assert_eq!(c.raw_patch(&loc, &wrong_type, chunk).await.status(), 415);
    let no_version = [
        ("Content-Type", "application/offset+octet-stream"),
        ("Upload-Offset", "60000"),
    ];
    assert_eq!(c.raw_patch(&loc, &no_version, chunk).await.status(), 412);
    assert_eq!(c.offset(&loc).await, 60_000);

    // The connection drops in the middle of a chunk: the offset does not move.
    let mut s = tokio::net::TcpStream::connect(c.run.ready.http)
        .await
        .unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 60000\r\n\
         Content-Length: 40000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&file[60_000..80_000]).await.unwrap();
    s.flush().await.unwrap();
    drop(s);
    // Nothing of the half chunk was kept: a chunk is written only once it is whole.
    assert_eq!(c.offset(&loc).await, 60_000);
    let id = loc.rsplit('/').next().unwrap();
    assert_eq!(
        std::fs::metadata(c.data_dir.join("uploads").join(id))
            .unwrap()
            .len(),
        60_000
    );

    // Central restarts: the confirmed offset is still there, and the upload resumes.
    let data_dir = c.data_dir.clone();
    c.stop().await;
    let c = Central::start(&data_dir).await;
    assert_eq!(c.offset(&loc).await, 60_000);
    c.send_rest(&loc, &file, 60_000, 45_000).await;
    // No byte past the length.
    assert_eq!(c.patch(&loc, file.len(), b"x", None).await.status(), 400);
    let r = c.head(&loc).await;
    assert_eq!(r.headers()["upload-offset"], "150000");
    assert_eq!(c.stored(&loc), file);
    c.stop().await;
}

#[tokio::test]
async fn tuspy_uploads_and_resumes_an_interrupted_upload() {
    let (dir, c) = Central::temp().await;
    // tuspy cannot sign its requests as a device: a proxy signs them as the test's station.
    let endpoint = format!("{}/files/", signing_proxy(&c).await);
    let meta = serde_json::json!({"job": "job-py", "path": "data/master/0001.png", "device": "kt-01-scan", "branch": "kt-01"}).to_string();

    // Whole file, small chunks.
    let file = noise(70_000, 3);
    let src = dir.path().join("whole.bin");
    std::fs::write(&src, &file).unwrap();
    let out = tuspy(vec![
        endpoint.clone(),
        src.display().to_string(),
        "8192".into(),
        meta.clone(),
    ])
    .await;
    assert_eq!(out["offset"], 70_000);
    let url = out["url"].as_str().unwrap();
    assert!(url.starts_with(&endpoint), "{url}");
    assert_eq!(c.stored(url), file);

    // Interrupted after three chunks, then resumed from the URL by a new tuspy process.
    let file = noise(50_000, 4);
    let src = dir.path().join("part.bin");
    std::fs::write(&src, &file).unwrap();
    let args = vec![
        endpoint.clone(),
        src.display().to_string(),
        "7000".into(),
        meta.clone(),
    ];
    let mut first = args.clone();
    first.extend(["--chunks".into(), "3".into()]);
    let out = tuspy(first).await;
    assert_eq!(out["offset"], 21_000);
    let url = out["url"].as_str().unwrap().to_owned();
    assert_eq!(c.offset(&url[url.find("/files/").unwrap()..]).await, 21_000);
    let mut again = args;
    again.extend(["--resume".into(), url.clone()]);
    let out = tuspy(again).await;
    assert_eq!(out["offset"], 50_000);
    assert_eq!(out["url"], url.as_str());
    assert_eq!(c.stored(&url), file);
    c.stop().await;
}

#[tokio::test]
async fn bags_are_kept_refused_into_quarantine_and_resubmitted_idempotently() {
    let (_dir, c) = Central::temp().await;

    let api: serde_json::Value = c
        .http
        .get(c.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(api["paths"]["/api/v1/digitisation/bags"]["post"]["responses"]["409"].is_object());

    // A good bag.
    let files = bag("job-good", 2);
    let sub = upload_bag(&c, "job-good", &files).await;
    let r = c.submit(&sub).await;
    assert_eq!(r.status(), 200);
    // Signed by central's key for this station and job, and for nothing else.
    let signature = r
        .headers()
        .get("rong-signature")
        .expect("a signed verdict")
        .to_str()
        .unwrap()
        .to_owned();
    let body = r.bytes().await.unwrap();
    let central = rong_identity::KeyPair::load(&c.data_dir.join("central.key"))
        .unwrap()
        .public();
    let context = |job: &str| rong_protocol::digitise::verdict_context("kt-01-scan", job);
    assert_eq!(
        rong_identity::mqtt::open_detached(&signature, &context("job-good"), &body, &central),
        Ok(())
    );
    assert!(
        rong_identity::mqtt::open_detached(&signature, &context("job-other"), &body, &central)
            .is_err()
    );
    let verdict: BagVerdict = serde_json::from_slice(&body).unwrap();
    let BagVerdict::Safe { document } = verdict.clone() else {
        panic!("{verdict:?}")
    };
    let bag_dir = c.data_dir.join("documents").join(&document).join("bag");
    for (path, bytes) in &files {
        assert_eq!(&std::fs::read(bag_dir.join(path)).unwrap(), bytes, "{path}");
    }
    let row = documents::document(&c.db(), &document).unwrap().unwrap();
    assert_eq!(row.doc.job, "job-good");
    assert_eq!(row.doc.title, "Sử thi Ba Na");
    assert_eq!(row.doc.creator.as_deref(), Some("Nguyễn Văn A"));
    assert_eq!(row.doc.language.as_deref(), Some("vie"));
    assert_eq!(row.doc.pages, 2);
    assert_eq!(row.state, "received");
    assert_eq!(row.bag_dir(&c.data_dir), bag_dir);
    // The uploads are consumed.
    for f in &sub.files {
        assert_eq!(c.head(&format!("/files/{}", f.upload)).await.status(), 404);
    }
    // The kept bag validates with the Library of Congress tool.
    let mut validate: Vec<OsString> = vec!["-m".into(), "bagit".into(), "--validate".into()];
    validate.push(bag_dir.clone().into_os_string());
    python("bagit.py --validate", validate).await;

    // The same job again (say the verdict was lost): the same answer, no second document.
    let r = c.submit(&sub).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<BagVerdict>().await.unwrap(), verdict);
    let again = upload_bag(&c, "job-good", &files).await;
    assert_eq!(
        c.submit(&again).await.json::<BagVerdict>().await.unwrap(),
        verdict
    );
    assert_eq!(documents::documents(&c.db(), None).unwrap().len(), 1);
    assert_eq!(
        std::fs::read_dir(c.data_dir.join("documents"))
            .unwrap()
            .count(),
        1
    );

    // A master changed on the way (its manifest line says otherwise): refused, quarantined.
    let mut tampered = bag("job-bad", 2);
    let (path, bytes) = tampered
        .iter_mut()
        .find(|(p, _)| p == "data/master/0002.png")
        .unwrap();
    bytes[500] ^= 0x40;
    let path = path.clone();
    let sub = upload_bag(&c, "job-bad", &tampered).await;
    let r = c.submit(&sub).await;
    assert_eq!(r.status(), 200);
    match r.json::<BagVerdict>().await.unwrap() {
        BagVerdict::Refused { reason, file } => {
            assert_eq!(file.as_deref(), Some(path.as_str()));
            assert!(reason.contains("mismatch"), "{reason}");
        }
        v => panic!("{v:?}"),
    }
    for f in &sub.files {
        assert_eq!(c.head(&format!("/files/{}", f.upload)).await.status(), 404);
    }
    let q = c.data_dir.join("quarantine/job-bad-1");
    let note = std::fs::read_to_string(q.join("REFUSED.txt")).unwrap();
    assert!(note.contains("data/master/0002.png"), "{note}");
    assert!(q.join("data/master/0002.png").exists());
    assert!(documents::document_for_job(&c.db(), "job-bad")
        .unwrap()
        .is_none());
    let refusals = documents::bag_refusals(&c.db(), Some("job-bad")).unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].quarantine, "quarantine/job-bad-1");
    // Refused again: a second quarantine directory, no document.
    let sub = upload_bag(&c, "job-bad", &tampered).await;
    assert!(matches!(
        c.submit(&sub).await.json::<BagVerdict>().await.unwrap(),
        BagVerdict::Refused { .. }
    ));
    assert!(c.data_dir.join("quarantine/job-bad-2/REFUSED.txt").exists());
    assert_eq!(documents::documents(&c.db(), None).unwrap().len(), 1);

    // A payload file the manifest does not name.
    let mut extra = bag("job-extra", 1);
    extra.push(("data/access/9999.jpg".into(), b"stowaway".to_vec()));
    let sub = upload_bag(&c, "job-extra", &extra).await;
    match c.submit(&sub).await.json::<BagVerdict>().await.unwrap() {
        BagVerdict::Refused { file, .. } => {
            assert_eq!(file.as_deref(), Some("data/access/9999.jpg"))
        }
        v => panic!("{v:?}"),
    }

    // Uploads that are unknown, unfinished or made for another file: 409, nothing judged.
    let files = bag("job-later", 1);
    let mut sub = upload_bag(&c, "job-later", &files).await;
    let keep = sub.files[0].upload.clone();
    sub.files[0].upload = "0190aaaa00007000800000000000000a".into();
    let r = c.submit(&sub).await;
    assert_eq!(r.status(), 409);
    let err: serde_json::Value = r.json().await.unwrap();
    assert!(
        err["error"].as_str().unwrap().contains("does not exist"),
        "{err}"
    );
    sub.files[0].upload = keep;
    let (p0, p1) = (sub.files[0].path.clone(), sub.files[1].path.clone());
    sub.files[0].path = p1.clone();
    sub.files[1].path = p0.clone();
    assert_eq!(c.submit(&sub).await.status(), 409);
    sub.files[0].path = p0;
    sub.files[1].path = p1;
    let unfinished = c.create("job-later", "data/access/0002.jpg", 100).await;
    let mut short = sub.clone();
    short.files.push(BagFile {
        path: "data/access/0002.jpg".into(),
        upload: unfinished.rsplit('/').next().unwrap().to_owned(),
    });
    let r = c.submit(&short).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("not complete"));
    let mut escape = sub.clone();
    escape.files[0].path = "../x".into();
    assert_eq!(c.submit(&escape).await.status(), 400);
    // Once right, it is kept.
    assert!(matches!(
        c.submit(&sub).await.json::<BagVerdict>().await.unwrap(),
        BagVerdict::Safe { .. }
    ));
    assert_eq!(documents::documents(&c.db(), None).unwrap().len(), 2);
    c.stop().await;
}

#[tokio::test]
async fn a_bag_made_by_bagit_py_is_kept() {
    let (dir, c) = Central::temp().await;
    let src = dir.path().join("bag");
    std::fs::create_dir_all(src.join("master")).unwrap();
    std::fs::write(src.join("master/0001.png"), noise(90_000, 9)).unwrap();
    std::fs::write(src.join("master/0002.png"), noise(20_000, 10)).unwrap();
    let mut make: Vec<OsString> = [
        "-m",
        "bagit",
        "--sha256",
        "--sha512",
        "--contact-name",
        "Kon Tum",
    ]
    .map(OsString::from)
    .to_vec();
    make.push(src.clone().into_os_string());
    python("bagit.py", make).await;
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&src).unwrap().to_str().unwrap().to_owned();
                files.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    assert!(files.iter().any(|(p, _)| p == "manifest-sha512.txt"));
    let sub = upload_bag(&c, "job-loc", &files).await;
    let v = c.submit(&sub).await.json::<BagVerdict>().await.unwrap();
    let BagVerdict::Safe { document } = v else {
        panic!("{v:?}")
    };
    let row = documents::document(&c.db(), &document).unwrap().unwrap();
    assert_eq!(row.doc.bytes, 110_000);
    assert_eq!(row.doc.pages, 2);
    assert_eq!(row.doc.title, "job-loc");
    c.stop().await;
}
