//! Digitised documents at central: OCR of a rendered Vietnamese page (character error
//! rate), the searchable PDF, IIIF images and manifest (checked by iiif-prezi3), full-text
//! search with folding, and an OCR task left running being redone after a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use central_digitise::{iiif, layout, ocr, pdf, process, testpage};
use central_store::{digitise as db, Store};
use common::Running;

const TEXT: &str = "Địa chí Kon Tum\n\
Thư viện tỉnh Kon Tum lưu giữ nhiều tài liệu quý\n\
về lịch sử, văn hoá và con người vùng Tây Nguyên.\n\
Người đọc có thể mượn sách tại các chi nhánh\n\
và tra cứu tài liệu số hoá trên mạng.";

/// Renders `text` black on white at 300 dpi (12 pt = 50 px) with Noto Sans.
fn render(text: &str) -> image::GrayImage {
    let bytes = testpage::font_bytes().expect("the kiosk's font");
    let font = testpage::font(&bytes).expect("a TrueType font");
    let layout = testpage::Layout {
        width: 2480,
        height: 1200,
        px: 50.0,
        line_spacing: 1.3,
        left: 200.0,
        top: 200.0,
    };
    testpage::render(&font, text, layout)
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).expect("a page to hash");
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a stored bag at `{dir}/bag/` with these page images as masters; the first page
/// also has a q85 access JPEG, as a station sends, the others only their master.
fn make_bag(dir: &Path, title: &str, pages: &[image::GrayImage]) {
    let data = dir.join("bag/data/master");
    std::fs::create_dir_all(&data).expect("bag dirs");
    std::fs::create_dir_all(dir.join("bag/data/access")).expect("bag dirs");
    let mut manifest = String::new();
    for (i, img) in pages.iter().enumerate() {
        let path = data.join(format!("{:04}.png", i + 1));
        img.save(&path).expect("master written");
        if i == 0 {
            let jpeg = std::fs::File::create(layout::access_path(dir, 1)).expect("access");
            img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(jpeg, 85))
                .expect("access written");
        }
        manifest.push_str(&format!(
            "{}  data/master/{:04}.png\n",
            sha256(&path),
            i + 1
        ));
    }
    std::fs::write(dir.join("bag/manifest-sha256.txt"), manifest).expect("manifest");
    std::fs::write(
        dir.join("bag/bagit.txt"),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
    )
    .expect("bagit.txt");
    std::fs::write(
        dir.join("bag/bag-info.txt"),
        format!("Bagging-Date: 2026-11-25\nExternal-Identifier: job-1\nDC-Title: {title}\n"),
    )
    .expect("bag-info");
}

/// A store under `root` holding document `doc`, a bag of these pages, registered for
/// OCR: the database's path, the document's folder, a worker connection and how many
/// pages were queued.
fn registered(
    root: &Path,
    doc: &str,
    title: &str,
    pages: &[image::GrayImage],
) -> (PathBuf, PathBuf, db::WorkerConn, usize) {
    let store = Store::open(&root.join("central.db")).expect("store");
    let db_path = store.path().to_owned();
    let doc_dir = root.join("documents").join(doc);
    make_bag(&doc_dir, title, pages);
    let mut c = db::open_worker(&db_path).expect("connection");
    let queued = process::register(&mut c, &doc_dir, doc, title).expect("registered");
    (db_path, doc_dir, c, queued)
}

/// Polls until every OCR task of `doc` has left the queue, or panics after `limit`.
fn wait_done(db_path: &Path, doc: &str, pages: u32, limit: Duration) {
    let c = db::open_worker(db_path).expect("connection");
    let start = Instant::now();
    loop {
        let states: Vec<String> = (1..=pages)
            .filter_map(|p| db::task(&c, doc, p).expect("task read"))
            .map(|t| t.0)
            .collect();
        if states.iter().all(|s| s == "done" || s == "failed") && states.len() == pages as usize {
            assert!(states.iter().all(|s| s == "done"), "OCR failed: {states:?}");
            return;
        }
        assert!(
            start.elapsed() < limit,
            "OCR not finished after {limit:?}: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The page count of a PDF, by `qpdf --show-npages`.
fn pdf_pages(path: &Path) -> u32 {
    let mut qpdf = std::process::Command::new("qpdf");
    qpdf.arg("--show-npages").arg(path);
    let out = common::stdout_of(&mut qpdf, "qpdf (scripts/setup.sh installs it)");
    String::from_utf8_lossy(&out)
        .trim()
        .parse()
        .expect("a page count")
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("RONG_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/rong-venv")
        });
    venv.join("bin/python")
}

#[test]
fn a_rendered_vietnamese_page_is_read_with_under_5_percent_cer_then_indexed_and_served_as_iiif() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pages = [render(TEXT), render("Trang hai: Kon Tum")];
    let (db_path, doc_dir, mut c, queued) =
        registered(tmp.path(), "doc-1", "Địa chí Kon Tum", &pages);
    assert_eq!(queued, 2);
    assert_eq!(
        process::register(&mut c, &doc_dir, "doc-1", "Địa chí Kon Tum").expect("again"),
        0
    );

    let pool =
        process::WorkerPool::start(&db_path, 2, process::OcrOptions::default()).expect("pool");
    pool.wake();
    wait_done(&db_path, "doc-1", 2, Duration::from_secs(120));
    pool.stop();

    let pages = db::pages(&c, "doc-1").expect("pages");
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].width, pages[0].height), (2480, 1200));
    let got = pages[0].text.clone().unwrap_or_default();
    let rate = ocr::cer(TEXT, &got);
    println!(
        "OCR character error rate: {:.2}% ({} chars)\n{got}",
        rate * 100.0,
        TEXT.chars().count()
    );
    assert!(rate < 0.05, "CER {rate} too high; read:\n{got}");

    // hOCR and text kept; IIIF sizes made; the PDF written once every page was read.
    assert!(layout::ocr_base(&doc_dir, 1)
        .with_extension("hocr")
        .is_file());
    for (w, _) in iiif::sizes(2480, 1200) {
        let f = iiif::page_dir(&doc_dir, 1).join(format!("full/{w},/0/default.jpg"));
        let dims = image::image_dimensions(&f).expect("derivative readable");
        assert_eq!(dims.0, w);
    }
    assert!(iiif::page_dir(&doc_dir, 2)
        .join("full/max/0/default.jpg")
        .is_file());
    // One tesseract run per page left its text, hOCR and one-page PDF; page 1 was read
    // from its access JPEG (embedded as it is), page 2 from its master.
    assert_eq!(
        layout::ocr_image(&doc_dir, 1),
        layout::access_path(&doc_dir, 1)
    );
    assert_eq!(
        layout::ocr_image(&doc_dir, 2),
        layout::master_path(&doc_dir, 2)
    );
    for p in 1..=2 {
        assert!(pdf::page_pdf(&doc_dir, p).is_file(), "page {p}'s PDF");
    }
    let pdf_bytes = std::fs::read(pdf::pdf_path(&doc_dir)).expect("PDF written");
    assert!(pdf_bytes.starts_with(b"%PDF"));
    assert_eq!(pdf_pages(&pdf::pdf_path(&doc_dir)), 2);
    let has = |needle: &[u8]| pdf_bytes.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"/DCTDecode"), "page 1's JPEG kept as it is");
    assert!(has(b"GlyphLessFont"), "a text layer");

    // A PDF lost (central stopped between the last page and the join) is joined again
    // when the pool starts.
    std::fs::remove_file(pdf::pdf_path(&doc_dir)).expect("PDF removed");
    process::WorkerPool::start(&db_path, 1, process::OcrOptions::default())
        .expect("pool")
        .stop();
    assert_eq!(pdf_pages(&pdf::pdf_path(&doc_dir)), 2);

    // Full text, folded like the catalogue.
    for q in ["dia chi kon tum", "TÂY NGUYÊN", "tai lieu so ho"] {
        let query = rong_protocol::search::Query::parse(q).expect("query");
        let hits = db::search_text(&c, &query, 10).expect("search");
        assert!(
            hits.iter()
                .any(|h| h.document == "doc-1" && h.position == 1),
            "{q}: {hits:?}"
        );
    }
    let none = rong_protocol::search::Query::parse("pleiku").expect("query");
    assert!(db::search_text(&c, &none, 10).expect("search").is_empty());

    // The manifest loads in iiif-prezi3.
    let doc = db::document(&c, "doc-1").expect("read").expect("document");
    let m = iiif::manifest(
        "http://localhost:8080",
        &doc,
        &pages,
        &iiif::bag_info(&doc_dir),
    );
    assert_eq!(m["items"][0]["width"], 2480);
    let mpath = tmp.path().join("manifest.json");
    std::fs::write(&mpath, serde_json::to_vec(&m).expect("json")).expect("manifest written");
    let script = common::interop("iiif_manifest.py");
    let mut check = std::process::Command::new(venv_python());
    check.arg(&script).arg(&mpath);
    let out = common::stdout_of(&mut check, "iiif-prezi3's check of the manifest");
    let summary = String::from_utf8_lossy(&out);
    assert!(summary.contains("\"canvases\": 2"), "{summary}");
}

#[test]
fn a_task_left_running_by_a_stopped_central_is_redone_at_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (db_path, _, mut c, _) = registered(tmp.path(), "doc-2", "Kon Tum", &[render("Kon Tum")]);
    // A worker claims the page, then central stops before it is read.
    let claimed = db::claim(&mut c).expect("claim").expect("a task");
    assert_eq!(claimed.position, 1);
    assert_eq!(
        db::task(&c, "doc-2", 1).expect("read").map(|t| t.0),
        Some("running".into())
    );
    assert!(
        db::claim(&mut c).expect("claim").is_none(),
        "a running task is not handed out twice"
    );

    let pool =
        process::WorkerPool::start(&db_path, 1, process::OcrOptions::default()).expect("pool");
    wait_done(&db_path, "doc-2", 1, Duration::from_secs(60));
    pool.stop();
    let (state, attempts, _) = db::task(&c, "doc-2", 1).expect("read").expect("task");
    assert_eq!((state.as_str(), attempts), ("done", 2));
    let text = db::pages(&c, "doc-2").expect("pages")[0]
        .text
        .clone()
        .unwrap_or_default();
    assert!(text.contains("Kon Tum"), "{text}");
}

#[test]
fn a_page_that_cannot_be_read_is_retried_then_marked_failed_with_the_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, doc_dir, mut c, _) = registered(tmp.path(), "doc-3", "Hỏng", &[render("x")]);
    // The master is damaged after registration.
    std::fs::write(layout::master_path(&doc_dir, 1), b"not a png").expect("damaged");
    let opts = process::OcrOptions {
        lang: "vie".into(),
        max_attempts: 3,
        image_limits: Default::default(),
    };
    for _ in 0..3 {
        assert!(process::run_one(&mut c, &opts).expect("run"));
    }
    assert!(
        !process::run_one(&mut c, &opts).expect("run"),
        "no retry after the last attempt"
    );
    let (state, attempts, error) = db::task(&c, "doc-3", 1).expect("read").expect("task");
    assert_eq!((state.as_str(), attempts), ("failed", 3));
    assert!(error.is_some_and(|e| !e.is_empty()));
    assert_eq!(db::counts(&c).expect("counts").failed, 1);
}

#[test]
fn a_decompression_bomb_master_fails_its_page_and_nothing_is_made_of_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, doc_dir, mut c, _) = registered(tmp.path(), "doc-4", "Bom", &[render("x")]);
    // A master that declares 60000 × 60000 pixels in a few dozen bytes.
    let bomb = central_digitise::images::bomb_png(60_000, 60_000);
    std::fs::write(layout::master_path(&doc_dir, 1), bomb).expect("bomb");
    let opts = process::OcrOptions {
        max_attempts: 1,
        ..Default::default()
    };
    assert!(process::run_one(&mut c, &opts).expect("run"));
    let (state, _, error) = db::task(&c, "doc-4", 1).expect("read").expect("task");
    assert_eq!(state, "failed");
    let error = error.unwrap_or_default();
    assert!(error.contains("60000 × 60000 pixels"), "{error}");
    assert!(
        !iiif::page_dir(&doc_dir, 1).exists(),
        "no derivative is made of it"
    );
}

/// Polls `url` until `ok` accepts the status and body, or panics after `limit`.
async fn poll(
    http: &reqwest::Client,
    url: &str,
    limit: Duration,
    ok: impl Fn(u16, &[u8]) -> bool,
) -> Vec<u8> {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await {
            let status = r.status().as_u16();
            let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            if ok(status, &body) {
                return body;
            }
        }
        assert!(start.elapsed() < limit, "{url} not ready after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status `GET url` answers.
async fn status(http: &reqwest::Client, url: &str) -> u16 {
    let r = http.get(url).send().await.expect("request");
    r.status().as_u16()
}

/// The body at `url` once it answers 200, or a panic after `limit`.
async fn ready(http: &reqwest::Client, url: &str, limit: Duration) -> Vec<u8> {
    poll(http, url, limit, |s, _| s == 200).await
}

/// The text of the page at `url` once it answers 200, or a panic after `limit`.
async fn page_text(http: &reqwest::Client, url: &str, limit: Duration) -> String {
    let body = ready(http, url, limit).await;
    String::from_utf8_lossy(&body).into_owned()
}

/// A config for central under `dir` whose store holds one registered document `doc`: one
/// page showing `text`, titled with its first line.
fn with_document(dir: &Path, doc: &str, text: &str) -> central::Config {
    let config = common::config(&dir.join("data"));
    std::fs::create_dir_all(&config.data_dir).expect("data dir");
    let title = text.lines().next().unwrap_or_default();
    registered(&config.data_dir, doc, title, &[render(text)]);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_serves_the_manifest_images_viewer_pdf_and_opac_full_text_hits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = with_document(tmp.path(), "doc-h", "Địa chí Kon Tum\nTây Nguyên");

    let central = common::start(config).await;
    let base = format!("http://{}", central.ready.http);
    let http = common::http();
    let limit = Duration::from_secs(90);

    // Full text, folded, once the worker has read the page.
    let opac = poll(
        &http,
        &format!("{base}/opac?q=dia+chi+kon+tum"),
        limit,
        |s, b| s == 200 && String::from_utf8_lossy(b).contains("/opac/documents/doc-h"),
    )
    .await;
    let opac = String::from_utf8_lossy(&opac).into_owned();
    assert!(opac.contains("<mark>"), "{opac}");

    let m: serde_json::Value = serde_json::from_slice(
        &ready(&http, &format!("{base}/iiif/doc-h/manifest.json"), limit).await,
    )
    .expect("manifest JSON");
    assert_eq!(m["type"], "Manifest");
    assert_eq!(m["label"]["vi"][0], "Địa chí Kon Tum");
    let service = m["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"]
        .as_str()
        .expect("service id")
        .to_owned();
    assert_eq!(service, format!("{base}/iiif/doc-h/1"));

    let info: serde_json::Value =
        serde_json::from_slice(&ready(&http, &format!("{service}/info.json"), limit).await)
            .expect("info JSON");
    assert_eq!(info["profile"], "level0");
    for size in info["sizes"].as_array().expect("sizes") {
        let w = size["width"].as_u64().expect("width");
        let jpg = ready(&http, &format!("{service}/full/{w},/0/default.jpg"), limit).await;
        let dims = image::load_from_memory(&jpg).expect("a JPEG");
        assert_eq!(u64::from(dims.width()), w);
    }
    assert_eq!(
        status(&http, &format!("{service}/full/123,/0/default.jpg")).await,
        404,
        "level 0 serves only the listed sizes"
    );
    assert_eq!(
        status(&http, &format!("{base}/iiif/..%2F..%2Fetc/manifest.json")).await,
        404
    );

    let pdf = ready(&http, &format!("{base}/documents/doc-h.pdf"), limit).await;
    assert!(pdf.starts_with(b"%PDF"));
    let text = ready(&http, &format!("{base}/documents/doc-h/text/1"), limit).await;
    assert!(String::from_utf8_lossy(&text).contains("Kon Tum"));

    let viewer = page_text(&http, &format!("{base}/opac/documents/doc-h"), limit).await;
    assert!(
        viewer.contains("lang=\"vi\"") && viewer.contains("Trang sau"),
        "{viewer}"
    );
    assert!(viewer.contains("/manifest.json") && viewer.contains("/documents/doc-h.pdf"));
    let en = page_text(
        &http,
        &format!("{base}/opac/documents/doc-h?lang=en"),
        limit,
    )
    .await;
    assert!(en.contains("Next"), "{en}");

    central.stop().await;
}

/// The ids in a manifest fetched with these extra headers: the manifest's own, its first
/// image service's, and the PDF's.
async fn manifest_ids(central: &Running, headers: &[(&str, &str)]) -> [String; 3] {
    let mut req = common::http().get(format!(
        "http://{}/iiif/doc-u/manifest.json",
        central.ready.http
    ));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("manifest request");
    assert_eq!(r.status().as_u16(), 200);
    let m: serde_json::Value = r.json().await.expect("manifest JSON");
    let s = |v: &serde_json::Value| v.as_str().expect("an id").to_owned();
    [
        s(&m["id"]),
        s(&m["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"]),
        s(&m["rendering"][0]["id"]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iiif_ids_use_the_public_url_else_the_host_and_forwarded_headers_only_when_trusted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = with_document(tmp.path(), "doc-u", "Kon Tum");
    let proxy = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "thuvien.kontum.example"),
    ];
    let ids_at = |base: &str| {
        [
            format!("{base}/iiif/doc-u/manifest.json"),
            format!("{base}/iiif/doc-u/1"),
            format!("{base}/documents/doc-u.pdf"),
        ]
    };

    // No public URL: each request's Host, whichever name the client used.
    let central = common::start(config.clone()).await;
    let own = format!("http://{}", central.ready.http);
    assert_eq!(manifest_ids(&central, &[]).await, ids_at(&own));
    assert_eq!(
        manifest_ids(&central, &[("host", "kho-so.local:8080")]).await,
        ids_at("http://kho-so.local:8080")
    );
    // Forwarded headers from anyone are ignored unless central is told it is proxied.
    assert_eq!(manifest_ids(&central, &proxy).await, ids_at(&own));
    central.stop().await;

    let mut proxied = config.clone();
    proxied.digitise.trust_forwarded = true;
    let central = common::start(proxied.clone()).await;
    assert_eq!(
        manifest_ids(&central, &proxy).await,
        ids_at("https://thuvien.kontum.example")
    );
    central.stop().await;

    // A configured public URL wins over everything.
    let mut public = proxied;
    public.digitise.public_url = Some("https://so-hoa.kontum.example/".into());
    let central = common::start(public).await;
    assert_eq!(
        manifest_ids(&central, &proxy).await,
        ids_at("https://so-hoa.kontum.example")
    );
    assert_eq!(
        manifest_ids(&central, &[("host", "10.0.0.9")]).await,
        ids_at("https://so-hoa.kontum.example")
    );
    central.stop().await;
}
