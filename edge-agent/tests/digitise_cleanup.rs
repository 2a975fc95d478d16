//! The station after central's verdict, with the agent's real run loop (start-up recovery
//! and the uploader) against the stand-in central's tus server: a safe job's page
//! files leave the station after `[digitise] keep_safe_hours` (also when the setting
//! changes across a restart), a refused job keeps them, and an upload central has
//! forgotten (expired) starts again from zero.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;

use common::*;
use edge_agent::config::{Config, HardwareConfig};
use edge_agent::digitise::{bags_dir, job_dir, master_path};
use edge_agent::store::Store;
use rong_hardware::scanner::{ScannerConfig, ScannerDriver};
use rong_protocol::delta::Op;
use serde_json::{json, Value};

/// An agent config for `dir` with the simulated scanner, uploading to `central`.
fn station(dir: &Path, central: &str, keep_safe_hours: u64) -> Config {
    let mut c = agent_config(dir, free_port(), None);
    c.central.url = central.to_owned();
    c.hardware = HardwareConfig {
        scanner: Some(ScannerConfig {
            driver: ScannerDriver::Sim,
            resolution_dpi: Some(75),
            ..ScannerConfig::default()
        }),
        ..c.hardware
    };
    c.digitise.chunk_bytes = 16 * 1024;
    c.digitise.retry_max_secs = 1;
    c.digitise.poll_secs = 1;
    c.digitise.keep_safe_hours = keep_safe_hours;
    c
}

fn start(c: &Config) -> (RunningAgent, ApiClient, String) {
    // The test library and a staff card `S1`, once per data dir.
    seed(&c.db_path(), [Op::PutPatron(staff("S1"))]);
    let agent = RunningAgent::start(c.clone());
    let mut api = agent.api();
    let r = ok(api.json(json!({"id": 1, "op": "identify", "card": "S1"})));
    let session = r["session"].as_str().unwrap().to_owned();
    (agent, api, session)
}

fn ok(r: Value) -> Value {
    assert_eq!(r["ok"], true, "{r}");
    r["result"].clone()
}

/// Starts a job, scans `sheets` from the simulated feeder, finishes it; returns its id.
fn scan_and_finish(api: &mut ApiClient, session: &str, sheets: u32) -> String {
    let r = ok(
        api.json(json!({"id": 2, "op": "job_start", "session": session,
                     "source": {"kind": "described", "title": "Ký ức Kon Tum"}})),
    );
    let job = r["job"].as_str().unwrap().to_owned();
    wait_some("the scanner loaded", T, || {
        let r =
            api.json(json!({"id": 3, "op": "sim_doc_scanner", "action": "load", "sheets": sheets}));
        (r["ok"] == true).then_some(())
    });
    ok(api.json(json!({"id": 4, "op": "job_scan", "session": session, "job": job, "batch": true})));
    let r = ok(api.json(json!({"id": 5, "op": "job_finish", "session": session, "job": job})));
    assert_eq!(r["state"], "queued", "{r}");
    job
}

/// The job as `job_list` shows it.
fn listed(api: &mut ApiClient, session: &str, job: &str) -> Value {
    let r = ok(api.json(json!({"id": 6, "op": "job_list", "session": session})));
    r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == job)
        .cloned()
        .unwrap()
}

fn wait_state(api: &mut ApiClient, session: &str, job: &str, state: &str) -> Value {
    wait_some(&format!("job {job} {state}"), T, || {
        let j = listed(api, session, job);
        (j["state"] == state).then_some(j)
    })
}

fn files_there(dir: &Path, job: &str) -> bool {
    let page = master_path(dir, job, 1).exists();
    let payload = bags_dir(dir).join(job).join("data").exists();
    assert_eq!(page, payload, "pages and bag payload go together");
    page
}

#[test]
fn safe_jobs_leave_the_station_after_the_keep_time_and_refused_ones_stay() {
    let central = upload_server(Tus::default());
    let (url, t) = (central.url(), &central.tus);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Central unreachable: two jobs are finished and wait.
    let (agent, mut api, s) = start(&station(d, "http://127.0.0.1:9", 24));
    let safe = scan_and_finish(&mut api, &s, 2);
    let refused = scan_and_finish(&mut api, &s, 1);
    agent.stop();
    // The second job's access copy changes on disk: central will refuse its bag.
    let access = bags_dir(d).join(&refused).join("data/access/0001.jpg");
    let mut bytes = std::fs::read(&access).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(&access, bytes).unwrap();

    // Central reachable, files kept a day: one safe, one refused, both keep their files.
    let (agent, mut api, s) = start(&station(d, &url, 24));
    let j = wait_state(&mut api, &s, &safe, "safe");
    assert_eq!(j["document"], format!("doc-{safe}"), "{j}");
    let r = wait_state(&mut api, &s, &refused, "refused");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("data/access/0001.jpg"),
        "{r}"
    );
    assert!(files_there(d, &safe), "kept for keep_safe_hours");
    assert!(files_there(d, &refused));
    agent.stop();

    // Restarted with keep_safe_hours = 0: the start-up recovery removes the safe job's
    // files before the agent is even ready; the refused job keeps all of its own.
    let (agent, mut api, s) = start(&station(d, &url, 0));
    assert!(!files_there(d, &safe));
    assert!(!job_dir(d, &safe).exists());
    for tag in ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"] {
        assert!(bags_dir(d).join(&safe).join(tag).is_file(), "{tag}");
    }
    assert!(files_there(d, &refused));
    assert!(job_dir(d, &refused).join("access/1.jpg").is_file());
    let j = listed(&mut api, &s, &safe);
    assert_eq!(
        (j["state"].as_str(), j["pages"].as_u64()),
        (Some("safe"), Some(2)),
        "{j}"
    );
    assert_eq!(j["document"], format!("doc-{safe}"));
    let st = api.status();
    assert_eq!(
        (
            &st["digitise"]["jobs_safe"],
            &st["digitise"]["jobs_refused"]
        ),
        (&json!(1), &json!(1)),
        "{st}"
    );
    agent.stop();
    assert_eq!(t.submissions.lock().unwrap().len(), 2);
}

#[test]
fn a_job_made_safe_while_running_is_cleaned_at_once_by_default() {
    let central = upload_server(Tus::default());
    let url = central.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = station(d, &url, 0);
    assert_eq!(Config::default().digitise.keep_safe_hours, 0);
    let (agent, mut api, s) = start(&c);
    let job = scan_and_finish(&mut api, &s, 2);
    wait_state(&mut api, &s, &job, "safe");
    wait_some("the safe job's files removed", T, || {
        (!job_dir(d, &job).exists() && !bags_dir(d).join(&job).join("data").exists()).then_some(())
    });
    assert!(bags_dir(d).join(&job).join("manifest-sha256.txt").is_file());
    agent.stop();
}

#[test]
fn an_upload_central_forgot_starts_again_from_zero() {
    let central = slow_upload_server();
    let (url, t) = (central.url(), &central.tus);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = station(d, &url, 24);
    let (agent, mut api, s) = start(&c);
    let job = scan_and_finish(&mut api, &s, 3);
    let total = listed(&mut api, &s, &job)["bytes_total"].as_u64().unwrap();

    // Part way, central's reaper expires every upload: HEAD and PATCH now answer 404.
    wait_some("part of the upload", T, || {
        (t.bytes_received.load(Ordering::SeqCst) > total / 3).then_some(())
    });
    let forgotten = {
        let mut uploads = t.uploads.lock().unwrap();
        let n = uploads.len();
        uploads.clear();
        n
    };
    assert!(forgotten > 0);
    wait_state(&mut api, &s, &job, "safe");
    agent.stop();

    // Every file arrived whole in the uploads the station made afterwards.
    let store = Store::open(&c.db_path()).unwrap();
    let files = store.uploads(&job).unwrap();
    let uploads = t.uploads.lock().unwrap();
    for f in &files {
        let id = f.url.as_deref().unwrap().rsplit('/').next().unwrap();
        let sent = &uploads.get(id).expect("a new upload").data;
        let on_disk = std::fs::read(bags_dir(d).join(&job).join(&f.path)).unwrap();
        assert_eq!(sent, &on_disk, "{}", f.path);
    }
    let creates = t.creates.load(Ordering::SeqCst);
    assert!(
        creates > files.len() as u64,
        "forgotten files created again: {creates} creations for {} files",
        files.len()
    );
    // Files finished before the expiry are found missing when the bag is submitted
    // (central answers 409/400 and the station asks for each upload again), hence at most
    // one submission more.
    let submissions = t.submissions.lock().unwrap()[&job];
    assert!((1..=2).contains(&submissions), "{submissions} submissions");
}
