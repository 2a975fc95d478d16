//! The station's uploader against the stand-in central's tus server: chunks cut
//! mid-way, a crash between central's confirmation and the station's record, and
//! `kill -9` of the real agent binary mid-upload, then a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use edge_agent::config::{Config, HardwareConfig};
use edge_agent::digitise::bags_dir;
use edge_agent::digitise::tus::TusClient;
use edge_agent::digitise::upload::upload_next;
use edge_agent::hardware::Hardware;
use edge_agent::run::Services;
use edge_agent::store::Store;
use rong_hardware::scanner::{ScannerConfig, ScannerDriver};
use rong_protocol::api::{Reply, RequestOp};
use rong_protocol::delta::Op;
use rong_protocol::digitise::{DublinCore, JobSource};
use rong_tests::proc::Proc;
use serde_json::json;
use tokio::sync::broadcast;

fn scanner() -> ScannerConfig {
    ScannerConfig {
        driver: ScannerDriver::Sim,
        resolution_dpi: Some(75),
        ..ScannerConfig::default()
    }
}

/// The test library with a staff card `S1`.
fn seed_station(db: &Path) {
    seed(db, [Op::PutPatron(staff("S1"))]);
}

fn config(dir: &Path, central: &str) -> Config {
    let mut c = agent_config(dir, free_port(), Some(central));
    c.hardware = HardwareConfig {
        scanner: Some(scanner()),
        ..c.hardware
    };
    c.digitise.chunk_bytes = 16 * 1024;
    c
}

/// An in-process agent with the simulated scanner, opened.
fn agent(dir: &Path, central: &str) -> Arc<Services> {
    agent_with(config(dir, central))
}

/// An in-process agent with the given config's scanner, opened.
fn agent_with(config: Config) -> Arc<Services> {
    seed_station(&config.db_path());
    let store = Store::open(&config.db_path()).unwrap();
    let (tx, _) = broadcast::channel(64);
    let hw = Hardware::start(&config.hardware, tx.clone());
    let a = Arc::new(Services::build(config, store, hw, tx));
    wait_some("the scanner", T, || {
        a.hardware
            .scanner()
            .lock()
            .unwrap()
            .opened
            .is_some()
            .then_some(())
    });
    a
}

/// Opens a staff session with card `S1` and starts a described job titled `title`;
/// returns the session and the job id.
fn start_job(a: &Services, title: &str) -> (String, String) {
    let session = identify(a, "S1");
    let Reply::Job(v) = a
        .api
        .handle(RequestOp::JobStart {
            session: session.clone(),
            source: JobSource::Described(DublinCore {
                title: title.into(),
                ..DublinCore::default()
            }),
        })
        .unwrap()
    else {
        panic!()
    };
    (session, v.summary.job)
}

/// Scans the feeder into `job` as one batch; returns the job's view.
fn scan_batch(a: &Services, session: &str, job: &str) -> Box<rong_protocol::digitise::JobView> {
    let Reply::Job(v) = a
        .api
        .handle(RequestOp::JobScan {
            session: session.to_owned(),
            job: job.to_owned(),
            batch: true,
        })
        .unwrap()
    else {
        panic!()
    };
    v
}

/// Starts a job, scans `sheets` from the feeder and finishes it; returns the job id.
async fn scanned_job(a: &Arc<Services>, sheets: u32) -> String {
    let a = a.clone();
    tokio::task::spawn_blocking(move || {
        let (session, id) = start_job(&a, "Sử thi");
        a.api
            .handle(RequestOp::SimDocScanner {
                action: "load".into(),
                sheets: Some(sheets),
            })
            .unwrap();
        scan_batch(&a, &session, &id);
        a.api
            .handle(RequestOp::JobFinish {
                session,
                job: id.clone(),
            })
            .unwrap();
        id
    })
    .await
    .unwrap()
}

fn upload_id(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

/// Every bag file arrived whole at the server.
fn assert_arrived(t: &Tus, data_dir: &Path, job: &str, files: &[edge_agent::store::UploadRow]) {
    let uploads = t.uploads.lock().unwrap();
    for f in files {
        let on_disk = std::fs::read(bags_dir(data_dir).join(job).join(&f.path)).unwrap();
        let id = upload_id(f.url.as_deref().unwrap());
        assert_eq!(uploads[&id].data, on_disk, "{}", f.path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_resume_through_cut_chunks_and_the_bag_is_safe() {
    let central = upload_server(Tus {
        cut_every: 4,
        ..Tus::default()
    });
    let (url, t) = (central.url(), &central.tus);
    let dir = tempfile::tempdir().unwrap();
    let a = agent(dir.path(), &url);
    let id = scanned_job(&a, 3).await;
    let client = TusClient::new(
        &url,
        common::signer(dir.path()),
        rong_tests::stand_in::central_key().public(),
        None,
    )
    .unwrap();
    let mut failures = 0;
    loop {
        match upload_next(&a.digitise, &client).await {
            Ok(true) => break,
            Ok(false) => panic!("the job was not waiting"),
            Err(e) => {
                failures += 1;
                assert!(failures < 500, "never finished: {e}");
            }
        }
    }
    assert!(failures > 3, "the server cut chunks: {failures} failures");
    let row = a.store.lock().job(&id).unwrap().unwrap();
    assert_eq!(row.summary.state.name(), "safe");
    assert_eq!(row.summary.bytes_sent, row.summary.bytes_total);
    let files = a.store.lock().uploads(&id).unwrap();
    assert_eq!(
        t.creates.load(Ordering::SeqCst),
        files.len() as u64,
        "no upload started twice"
    );
    // Resumed, not restarted: little more than the bag's size crossed the link.
    let total: u64 = files.iter().map(|f| f.size).sum();
    let received = t.bytes_received.load(Ordering::SeqCst);
    assert!(received < total + total / 2, "{received} bytes for {total}");
    assert_arrived(t, dir.path(), &id, &files);
    // Tag files first, then access, then masters: the upload ids are in that order.
    let ids: Vec<u64> = files
        .iter()
        .map(|f| upload_id(f.url.as_deref().unwrap())[1..].parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(files[0].path, "bagit.txt");
    assert!(files.last().unwrap().path.starts_with("data/master/"));
    let st = a.status.agent().unwrap().digitise.unwrap();
    assert_eq!((st.jobs_safe, st.jobs_waiting, st.bytes_waiting), (1, 0, 0));
    assert!(
        !upload_next(&a.digitise, &client).await.unwrap(),
        "nothing left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_centrals_confirmation_resumes_from_centrals_offset() {
    let central = upload_server(Tus::default());
    let (url, t) = (central.url(), &central.tus);
    let dir = tempfile::tempdir().unwrap();
    let a = agent(dir.path(), &url);
    let id = scanned_job(&a, 1).await;
    // Central confirmed 1000 bytes of the master, but the station never saved that.
    let client = TusClient::new(
        &url,
        common::signer(dir.path()),
        rong_tests::stand_in::central_key().public(),
        None,
    )
    .unwrap();
    let files = a.store.lock().uploads(&id).unwrap();
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
    assert_eq!(
        client.patch(&u, 0, bytes[..1000].to_vec()).await.unwrap(),
        1000
    );
    a.store
        .lock()
        .upload_progress(&id, &master.path, Some(u.as_str()), 0)
        .unwrap();
    assert!(upload_next(&a.digitise, &client).await.unwrap());
    assert_eq!(
        a.store
            .lock()
            .job(&id)
            .unwrap()
            .unwrap()
            .summary
            .state
            .name(),
        "safe"
    );
    assert_eq!(
        t.uploads.lock().unwrap()[&upload_id(u.as_str())].data,
        bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feeder_batch_through_sanes_test_backend_and_the_real_driver() {
    // It hung twice on 2026-12-03 under load, never alone: leave the stacks if it does again.
    let _watchdog = rong_tests::watchdog::watchdog(
        "a_feeder_batch_through_sanes_test_backend_and_the_real_driver",
        Duration::from_secs(150),
    );
    let dir = tempfile::tempdir().unwrap();
    let sane = rong_tests::sane::test_backend_config(dir.path());
    let mut c = config(dir.path(), "http://127.0.0.1:9");
    c.hardware.scanner = Some(ScannerConfig {
        driver: ScannerDriver::Sane,
        device: Some("test:1".into()),
        sane_config_dir: Some(sane),
        mode: Some(rong_hardware::scanner::Mode::Gray),
        resolution_dpi: Some(50),
        ..ScannerConfig::default()
    });
    let a = agent_with(c);
    let mut pushes = a.pushes.subscribe();
    let a2 = a.clone();
    let view = tokio::task::spawn_blocking(move || {
        let (session, job) = start_job(&a2, "SANE");
        let v = scan_batch(&a2, &session, &job);
        (session, v)
    })
    .await
    .unwrap();
    let (session, view) = view;
    // The test backend's feeder holds ten sheets; its default picture is solid black.
    assert_eq!(view.pages.len(), 10);
    for p in &view.pages {
        assert_eq!(p.dpi, 50);
        assert!(
            p.checks
                .iter()
                .any(|c| matches!(c, rong_protocol::digitise::PageCheck::TooDark { .. })),
            "{p:?}"
        );
    }
    let mut pushed = 0;
    while pushes.try_recv().is_ok() {
        pushed += 1;
    }
    assert_eq!(pushed, 10);

    // A jam after two sheets of the next batch, through the backend's error option: the
    // two pages stay; cleared, the rest of the feeder follows (the jammed sheet is used).
    let job = view.summary.job.clone();
    let a2 = a.clone();
    tokio::task::spawn_blocking(move || {
        let scan = || RequestOp::JobScan {
            session: session.clone(),
            job: job.clone(),
            batch: true,
        };
        let sim = |action: &str, sheets| RequestOp::SimDocScanner {
            action: action.into(),
            sheets,
        };
        a2.api.handle(sim("jam", Some(2))).unwrap();
        let err = a2.api.handle(scan()).unwrap_err();
        assert!(err.message.contains("jammed"), "{err:?}");
        assert_eq!(a2.store.lock().pages(&job).unwrap().len(), 12);
        a2.api.handle(sim("ok", None)).unwrap();
        let Reply::Job(v) = a2.api.handle(scan()).unwrap() else {
            panic!()
        };
        assert_eq!(v.pages.len(), 19);
        assert!(
            a2.api.handle(sim("load", Some(3))).is_err(),
            "the backend loads itself"
        );
    })
    .await
    .unwrap();
}

/// The agent's binary run with `config_file`, once it is ready; `run` names its log.
fn spawn_agent(config_file: &Path, run: &str) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edge-agent"));
    cmd.args(["run", "--config"])
        .arg(config_file)
        .env("RUST_LOG", "warn");
    let log = config_file.with_file_name(format!("agent-{run}.log"));
    Proc::start_ready("edge-agent", cmd, &log, T).0
}

#[test]
fn kill_9_mid_upload_then_restart_completes_without_a_duplicate() {
    let central = slow_upload_server();
    let (url, t) = (central.url(), &central.tus);
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), &url);
    c.digitise.chunk_bytes = 8 * 1024;
    c.digitise.retry_max_secs = 1;
    c.digitise.poll_secs = 1;
    // Keep the station's files after `safe`: the end compares them with what arrived.
    c.digitise.keep_safe_hours = 24;
    seed_station(&c.db_path());
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, toml::to_string(&c).unwrap()).unwrap();

    let mut child = spawn_agent(&file, "1");
    let socket = c.socket_path();
    let mut api = ApiClient::connect(&socket).unwrap();
    let r = api.json(json!({"id": 1, "op": "identify", "card": "S1"}));
    let session = r["result"]["session"].as_str().unwrap().to_owned();
    let r = api.json(json!({"id": 2, "op": "job_start", "session": session,
                     "source": {"kind": "described", "title": "Địa chí"}}));
    let job = r["result"]["job"].as_str().unwrap().to_owned();
    wait_some("the scanner", T, || {
        let r = api.json(json!({"id": 3, "op": "sim_doc_scanner", "action": "load", "sheets": 6}));
        (r["ok"] == true).then_some(())
    });
    let r =
        api.json(json!({"id": 4, "op": "job_scan", "session": session, "job": job, "batch": true}));
    assert_eq!(r["result"]["page_list"].as_array().unwrap().len(), 6, "{r}");
    let r = api.json(json!({"id": 5, "op": "job_finish", "session": session, "job": job}));
    assert_eq!(r["result"]["state"], "queued", "{r}");
    let total = r["result"]["bytes_total"].as_u64().unwrap();

    // Mid-upload: some bytes are at central, far from all.
    wait_some("part of the upload", T, || {
        (t.bytes_received.load(Ordering::SeqCst) > total / 3).then_some(())
    });
    child.kill9();
    let at_kill = t.bytes_received.load(Ordering::SeqCst);
    assert!(at_kill < total, "killed mid-upload ({at_kill} of {total})");
    drop(api);
    let _ = std::fs::remove_file(&socket);

    let mut child = spawn_agent(&file, "2");
    let mut api = ApiClient::connect(&socket).unwrap();
    wait_some("the job safe at central", T, || {
        let st = api.status();
        (st["digitise"]["jobs_safe"] == 1).then_some(())
    });
    let st = api.status();
    assert_eq!(st["digitise"]["bytes_waiting"], 0, "{st}");
    child.kill9();

    let store = Store::open(&c.db_path()).unwrap();
    let files = store.uploads(&job).unwrap();
    assert_arrived(t, dir.path(), &job, &files);
    assert_eq!(
        t.submissions.lock().unwrap().clone(),
        HashMap::from([(job.clone(), 1)]),
        "one submission, one document"
    );
    // At most the file being created at the kill was created twice; nothing restarted.
    assert!(t.creates.load(Ordering::SeqCst) <= files.len() as u64 + 1);
    let received = t.bytes_received.load(Ordering::SeqCst);
    assert!(received < total + total / 2, "{received} bytes for {total}");
}

/// A "safe" verdict that central did not sign (forged on the way, or signed by another key)
/// is not taken: the job stays sent, its masters stay on the station, and it is submitted
/// again later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_central_did_not_sign_keeps_the_masters() {
    let central = upload_server(Tus::default());
    central.tus.unsigned_verdicts.store(true, Ordering::SeqCst);
    let url = central.url();
    let dir = tempfile::tempdir().unwrap();
    let a = agent(dir.path(), &url);
    let id = scanned_job(&a, 1).await;
    let state = |a: &Arc<Services>| {
        let row = a.store.lock().job(&id).unwrap().unwrap();
        row.summary.state.name().to_owned()
    };
    let pinning = |key: rong_identity::PublicKey| {
        TusClient::new(&url, common::signer(dir.path()), key, None).unwrap()
    };
    let right = pinning(rong_tests::stand_in::central_key().public());
    let e = upload_next(&a.digitise, &right).await.unwrap_err();
    assert!(e.to_string().contains("not signed by central"), "{e}");
    assert_ne!(state(&a), "safe");
    assert!(
        bags_dir(dir.path()).join(&id).exists(),
        "the masters are kept"
    );
    // Signed, but by another key than the one pinned: the same.
    central.tus.unsigned_verdicts.store(false, Ordering::SeqCst);
    let other = pinning(rong_identity::KeyPair::generate().public());
    let e = upload_next(&a.digitise, &other).await.unwrap_err();
    assert!(e.to_string().contains("not signed by central"), "{e}");
    assert_ne!(state(&a), "safe");
    // Central's own signature: safe.
    assert!(upload_next(&a.digitise, &right).await.unwrap());
    assert_eq!(state(&a), "safe");
}
