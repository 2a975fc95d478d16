//! Digitisation end to end with the real programs and a real scanner driver: the edge
//! agent's SANE driver talks to SANE's own `test` backend (a scanner simulated inside
//! libsane, with a ten-sheet feeder that can jam), through a private SANE configuration.
//!
//! - A 10-sheet feeder batch is scanned, finished, and uploaded to a real central through
//!   a link that is cut again and again; central checks the bag, keeps it, OCRs it and
//!   publishes a IIIF manifest, a PDF and a viewer page. The
//!   masters at central match the station's SHA-256 manifest.
//! - A jam mid-batch keeps the sheets already scanned; once cleared, another batch adds the
//!   rest and the job becomes safe at central with every page in order.
//! - `kill -9` of the agent while the link holds an upload half way, then a restart: the
//!   upload completes and central keeps exactly one document for the job. The same when
//!   central has kept the bag but its answer never reached the station.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rong_tests::http::request_full;
use rong_tests::proxy::Proxy;
use rong_tests::scenario::{wait_synced, BrokerKind, Scenario};
use rong_tests::{sane, wait_until, Agent};
use serde_json::{json, Value};

/// Upload settings that keep tests quick: small chunks, quick retries. The station has no
/// card reader, and its staff log back in while its link is held.
const DIGITISE: &str = "\n[digitise]\nchunk_bytes = 4096\nretry_max_secs = 1\npoll_secs = 1\n\n\
                        [circulation]\noffline_staff_pin = true\n";

/// A staff member at a station with SANE's test backend as its document scanner.
struct Station {
    agent: Agent,
    session: String,
}

impl Station {
    /// Prepares and starts an agent whose central link goes through `central_http`, waits
    /// for the catalogue, the scanner and a staff session.
    fn start(scenario: &Scenario, device: &str, central_http: &str) -> Station {
        let sane_dir = sane::test_backend_config(&scenario.tmp.path().join(device));
        let mut agent = scenario.prepare_agent_via(
            device,
            "kontum",
            central_http,
            &format!("{}{DIGITISE}", sane::scanner_toml(&sane_dir, 75, "Grid")),
        );
        agent.start();
        wait_synced(&agent);
        let mut station = Station {
            agent,
            session: String::new(),
        };
        station.login();
        // The scanner watcher opens the device shortly after the start.
        wait_until("the SANE test scanner", Duration::from_secs(30), || {
            station.try_call(json!({"op": "sim_doc_scanner", "action": "ok"}))["ok"] == true
        });
        station
    }

    fn login(&mut self) {
        self.session = self.call(json!({"op": "identify", "card": "S0001", "pin": "2468"}))
            ["session"]
            .as_str()
            .expect("session")
            .to_owned();
    }

    /// Sends a request (with the session added) and returns the whole response.
    fn try_call(&self, mut v: Value) -> Value {
        if !self.session.is_empty() && v["op"] != "identify" {
            v["session"] = Value::String(self.session.clone());
        }
        self.agent
            .client()
            .raw(&v.to_string())
            .expect("the agent answers")
    }

    /// Sends a request that must succeed; returns its result.
    fn call(&self, v: Value) -> Value {
        let r = self.try_call(v.clone());
        assert_eq!(r["ok"], true, "{v} → {r}");
        r["result"].clone()
    }

    fn start_job(&self, title: &str) -> String {
        self.call(json!({"op": "job_start",
            "source": {"kind": "described", "title": title,
                       "creator": "Thư viện tỉnh Kon Tum", "language": "vie"}}))["job"]
            .as_str()
            .expect("job id")
            .to_owned()
    }

    /// The job's summary from `job_list`.
    fn summary(&self, job: &str) -> Value {
        let jobs = self.call(json!({"op": "job_list"}));
        jobs["jobs"]
            .as_array()
            .and_then(|js| js.iter().find(|j| j["job"] == job))
            .cloned()
            .unwrap_or_else(|| panic!("job {job} not listed: {jobs}"))
    }

    /// Waits until the job is safe at central; returns central's document id.
    fn wait_safe(&self, job: &str, timeout: Duration) -> String {
        let mut document = String::new();
        wait_until("the job is safe at central", timeout, || {
            let j = self.summary(job);
            assert_ne!(j["state"], "refused", "{j}");
            document = j["document"].as_str().unwrap_or_default().to_owned();
            j["state"] == "safe"
        });
        document
    }
}

fn files_named(root: &Path, name: &str, out: &mut Vec<PathBuf>) {
    if let Ok(dir) = std::fs::read_dir(root) {
        for e in dir.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_named(&p, name, out);
            } else if p.file_name().and_then(|n| n.to_str()) == Some(name) {
                out.push(p);
            }
        }
    }
}

/// Checks that central's copy of the document's bag has every file of the station's
/// manifest (masters and access files), byte for byte; returns how many masters.
fn assert_bag_matches(scenario: &Scenario, device: &str, document: &str) -> usize {
    let mut manifests = Vec::new();
    files_named(scenario.tmp.path(), "manifest-sha256.txt", &mut manifests);
    let station = manifests
        .iter()
        .find(|p| p.starts_with(scenario.tmp.path().join(device)))
        .expect("the station's bag");
    let central_bag = scenario
        .central
        .dir()
        .join("data/documents")
        .join(document)
        .join("bag");
    let lines = std::fs::read_to_string(station).expect("station manifest");
    let files: Vec<(&str, &str)> = lines
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .map(|(sum, path)| (sum, path.trim()))
        .collect();
    for (sum, path) in &files {
        let bytes = std::fs::read(central_bag.join(path)).unwrap_or_default();
        assert_eq!(&rong_tests::tus::sha256_hex(&bytes), sum, "{path}");
    }
    files
        .iter()
        .filter(|(_, p)| p.starts_with("data/master/"))
        .count()
}

fn get(scenario: &Scenario, path: &str) -> Option<rong_tests::http::FullReply> {
    request_full(scenario.central.http, "GET", path, &[], None)
        .ok()
        .filter(|r| r.status == 200)
}

/// Waits for the document's IIIF manifest and returns its canvases.
fn canvases(scenario: &Scenario, document: &str) -> Vec<Value> {
    let mut manifest = Value::Null;
    wait_until("the IIIF manifest", Duration::from_secs(240), || match get(
        scenario,
        &format!("/iiif/{document}/manifest.json"),
    ) {
        Some(r) => {
            manifest = serde_json::from_slice(&r.body).expect("manifest JSON");
            true
        }
        None => false,
    });
    assert_eq!(manifest["type"], "Manifest");
    manifest["items"].as_array().cloned().unwrap_or_default()
}

/// Central's document rows for `job`, straight from its database.
fn central_documents(scenario: &Scenario, job: &str) -> Vec<String> {
    let db = rusqlite::Connection::open_with_flags(
        scenario.central.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open central's database");
    let mut stmt = db
        .prepare("SELECT document FROM documents WHERE job = ?1")
        .expect("prepare");
    stmt.query_map([job], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The document directories central holds.
fn central_document_dirs(scenario: &Scenario) -> Vec<String> {
    std::fs::read_dir(scenario.central.dir().join("data/documents"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The job's page ids in page order.
fn page_ids(view: &Value) -> Vec<u64> {
    view["page_list"]
        .as_array()
        .expect("page list")
        .iter()
        .map(|p| p["page"].as_u64().expect("page id"))
        .collect()
}

/// A fresh scenario and a station `device` whose link to central runs through a proxy,
/// with one job, `title`, holding SANE's test feeder batch (ten sheets); also the job id
/// and the scan's answer.
fn ten_pages_behind_a_proxy(
    device: &str,
    title: &str,
) -> (Scenario, Proxy, Station, String, serde_json::Value) {
    let scenario = Scenario::start(BrokerKind::Embedded, "");
    let proxy = Proxy::start(scenario.central.http);
    let station = Station::start(&scenario, device, &proxy.addr.to_string());
    let job = station.start_job(title);
    let scanned = station.call(json!({"op": "job_scan", "job": job, "batch": true}));
    // SANE's test backend: ten sheets in the feeder, then "no more documents".
    assert_eq!(scanned["pages"], 10, "{scanned}");
    (scenario, proxy, station, job, scanned)
}

#[test]
fn a_sane_feeder_batch_travels_over_a_cut_link_to_ocr_and_iiif() {
    let (scenario, proxy, station, job, scanned) =
        ten_pages_behind_a_proxy("kontum-station-1", "Địa chí Kon Tum (bản quét thử)");
    let pages = scanned["page_list"].as_array().expect("page list");
    assert!(pages.iter().all(|p| p["dpi"] == 75), "{scanned}");
    // The configured backend option took: a grid, not the backend's default solid black.
    assert!(!scanned.to_string().contains("too_dark"), "{scanned}");
    // The link drops every connection after a sixth of the bag, from before the upload.
    let bytes: u64 = pages
        .iter()
        .map(|p| p["master_bytes"].as_u64().unwrap_or(0) + p["access_bytes"].as_u64().unwrap_or(0))
        .sum();
    let budget = usize::try_from(bytes / 6).expect("budget").max(6000);
    proxy.cut_after(budget);
    let finished = station.call(json!({"op": "job_finish", "job": job}));
    assert_eq!(finished["state"], "queued", "{finished}");

    let document = station.wait_safe(&job, Duration::from_secs(240));
    let cuts = proxy.cuts();
    assert!(
        cuts >= 3,
        "the link was cut only {cuts} times ({budget} bytes a connection, {bytes} page bytes)"
    );
    proxy.stop_cutting();
    eprintln!("{bytes} page bytes crossed a link cut {cuts} times ({budget} bytes a connection)");
    assert_eq!(
        assert_bag_matches(&scenario, "kontum-station-1", &document),
        10
    );

    // OCR runs, then the IIIF manifest, the PDF and the viewer are published. (The test
    // backend's pictures hold no text, so full-text search is not checked here.)
    assert_eq!(canvases(&scenario, &document).len(), 10);
    wait_until("the searchable PDF", Duration::from_secs(240), || {
        get(&scenario, &format!("/documents/{document}.pdf")).is_some()
    });
    let viewer = get(&scenario, &format!("/opac/documents/{document}")).expect("viewer");
    assert!(
        viewer.text().contains("Địa chí Kon Tum"),
        "{}",
        viewer.text()
    );
}

#[test]
fn a_jam_mid_batch_keeps_the_sheets_so_far_and_the_job_goes_on() {
    let scenario = Scenario::start(BrokerKind::Embedded, "");
    let station = Station::start(
        &scenario,
        "kontum-station-2",
        &scenario.central.http.to_string(),
    );
    let job = station.start_job("Sử thi Ba Na");

    // The feeder jams after three sheets: the batch fails with a clear message, and the
    // three pages stay in the job.
    station.call(json!({"op": "sim_doc_scanner", "action": "jam", "sheets": 3}));
    let r = station.try_call(json!({"op": "job_scan", "job": job, "batch": true}));
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], "scanner_error", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("jammed")),
        "{r}"
    );
    let view = station.call(json!({"op": "job_get", "job": job}));
    assert_eq!(view["pages"], 3, "{view}");
    let before = page_ids(&view);

    // Cleared: the rest of the feeder (sheets 5 to 10; the jammed sheet 4 came out by
    // hand) is added after the first three.
    station.call(json!({"op": "sim_doc_scanner", "action": "ok"}));
    let view = station.call(json!({"op": "job_scan", "job": job, "batch": true}));
    assert_eq!(view["pages"], 9, "{view}");
    let ids = page_ids(&view);
    assert_eq!(ids[..3], before[..], "{view}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in scan order: {view}");

    let finished = station.call(json!({"op": "job_finish", "job": job}));
    assert_eq!(finished["state"], "queued", "{finished}");
    let document = station.wait_safe(&job, Duration::from_secs(120));
    assert_eq!(
        assert_bag_matches(&scenario, "kontum-station-2", &document),
        9
    );
    let canvases = canvases(&scenario, &document);
    assert_eq!(canvases.len(), 9);
    // Central's pages are the bag's in order.
    for (i, c) in canvases.iter().enumerate() {
        let id = c["id"].as_str().unwrap_or_default();
        assert!(id.ends_with(&format!("/canvas/{}", i + 1)), "{c}");
    }
}

#[test]
fn kill_9_mid_upload_against_real_central_leaves_one_document() {
    let (scenario, proxy, mut station, job, view) =
        ten_pages_behind_a_proxy("kontum-station-3", "Địa chí Đắk Tô");

    // The link stalls once about half the pages' bytes have gone through.
    let bytes: u64 = view["page_list"]
        .as_array()
        .expect("page list")
        .iter()
        .map(|p| p["master_bytes"].as_u64().unwrap_or(0) + p["access_bytes"].as_u64().unwrap_or(0))
        .sum();
    proxy.hold_after(bytes / 2);
    let finished = station.call(json!({"op": "job_finish", "job": job}));
    let total = finished["bytes_total"].as_u64().expect("bytes_total");

    // Central has confirmed part of the bag, and the rest is stuck on the link.
    let mut sent = 0;
    wait_until(
        "part of the bag at central",
        Duration::from_secs(60),
        || {
            sent = station.summary(&job)["bytes_sent"].as_u64().unwrap_or(0);
            proxy.holding() && sent > 0
        },
    );
    assert!(sent < total, "mid-upload: {sent} of {total}");
    eprintln!("kill -9 with {sent} of {total} bytes confirmed by central");
    station.agent.kill9();
    proxy.release();

    station.agent.start();
    station.login();
    let document = station.wait_safe(&job, Duration::from_secs(120));
    let j = station.summary(&job);
    assert_eq!(j["bytes_sent"], j["bytes_total"], "{j}");

    // Exactly one document for the job, and no stray bag beside it.
    assert_eq!(central_documents(&scenario, &job), vec![document.clone()]);
    assert_eq!(central_document_dirs(&scenario), vec![document.clone()]);
    assert_eq!(
        assert_bag_matches(&scenario, "kontum-station-3", &document),
        10
    );
    assert_eq!(canvases(&scenario, &document).len(), 10);
    let left: Vec<String> = std::fs::read_dir(scenario.central.dir().join("data/uploads"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    eprintln!("uploads left at central: {left:?}");
}

#[test]
fn kill_9_after_central_kept_the_bag_unheard_leaves_one_document() {
    let (scenario, proxy, mut station, job, _) =
        ten_pages_behind_a_proxy("kontum-station-4", "Địa chí Sa Thầy");

    // Every file arrives; the bag is submitted and kept, but the answer is held.
    proxy.hold_replies_to("POST /api/v1/digitisation/bags");
    let finished = station.call(json!({"op": "job_finish", "job": job}));
    assert_eq!(finished["state"], "queued", "{finished}");
    let mut kept = Vec::new();
    wait_until("central keeps the bag", Duration::from_secs(60), || {
        kept = central_documents(&scenario, &job);
        !kept.is_empty()
    });
    assert_eq!(proxy.replies_held(), 1);
    let j = station.summary(&job);
    assert_ne!(j["state"], "safe", "the station has not heard: {j}");
    station.agent.kill9();
    proxy.release();
    let before = proxy.forwarded();

    // After the restart the station submits again and hears of the same document.
    station.agent.start();
    station.login();
    let document = station.wait_safe(&job, Duration::from_secs(120));
    let again = proxy.forwarded() - before;
    let total = finished["bytes_total"].as_u64().expect("bytes_total");
    eprintln!("after the restart {again} bytes went to central for a bag of {total}");
    assert!(
        again < total / 10,
        "the bag was not sent again: {again} of {total}"
    );
    assert_eq!(vec![document.clone()], kept);
    assert_eq!(central_documents(&scenario, &job), kept);
    assert_eq!(central_document_dirs(&scenario), kept);
    assert_eq!(
        assert_bag_matches(&scenario, "kontum-station-4", &document),
        10
    );
    assert_eq!(canvases(&scenario, &document).len(), 10);
}
