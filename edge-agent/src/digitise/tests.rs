//! The job operations as the local API routes them, with the simulated document scanner.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rong_hardware::scanner::{ScannerConfig, ScannerDriver};
use rong_protocol::api::{ApiError, ErrorCode, Push, Reply, RequestOp, Who};
use rong_protocol::delta::{Op, Patron};
use rong_protocol::digitise::{DigitiseStatus, DublinCore, JobSource, JobView, PageImageSize};
use rong_tests::fixtures::{adults, branch, patron, staff};

use super::recover::recover;
use super::*;
use crate::config::{Config, HardwareConfig};
use crate::run::Services;
use crate::testkit;

/// A scanning station: a staff card `S1`, a reader's card `P1`, and the simulated scanner.
struct Station {
    services: Services,
    digitise: Arc<Digitise>,
    store: SharedStore,
}

impl Station {
    fn new(dir: &Path) -> Self {
        Self::with(dir, |_| {})
    }

    /// The station with its config changed by `tweak` first.
    fn with(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = testkit::config(dir);
        config.central.url = "http://127.0.0.1:9".into();
        config.digitise.chunk_bytes = 16 * 1024;
        config.hardware = HardwareConfig {
            scanner: Some(ScannerConfig {
                driver: ScannerDriver::Sim,
                resolution_dpi: Some(75),
                ..ScannerConfig::default()
            }),
            ..HardwareConfig::default()
        };
        tweak(&mut config);
        let services = testkit::services(
            &config,
            vec![
                Op::PutBranch(branch("kontum")),
                Op::PutCategory(adults(2)),
                Op::PutPatron(staff("S1")),
                Op::PutPatron(Patron {
                    nfc_uids: vec![],
                    ..patron("P1")
                }),
            ],
        );
        // The watcher thread opens the scanner; wait for it.
        let t = Instant::now();
        while services.hardware.scanner().lock().unwrap().opened.is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "scanner never opened"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            digitise: services.digitise.clone(),
            store: services.store.clone(),
            services,
        }
    }

    /// The same station's digitisation (store, scanner, sessions) under a changed config.
    fn reconfigured(&self, tweak: impl FnOnce(&mut Config)) -> Digitise {
        let s = &self.services;
        let mut config = s.config.clone();
        tweak(&mut config);
        Digitise::new(
            Settings::from_config(&config),
            s.store.clone(),
            s.hardware.scanner(),
            s.pushes.clone(),
            s.circulation.clone(),
        )
    }

    /// A request, as the local API routes it.
    fn handle(&self, op: RequestOp) -> Result<Reply, ApiError> {
        self.services.api.handle(op)
    }

    /// The digitisation part of the agent's status.
    fn summary(&self) -> DigitiseStatus {
        self.services.status.agent().unwrap().digitise.unwrap()
    }
}

fn session(a: &Station, card: &str) -> String {
    match a
        .handle(RequestOp::Identify(Who {
            card: Some(card.into()),
            ..Who::default()
        }))
        .unwrap()
    {
        Reply::Identified { session, .. } => session,
        other => panic!("{other:?}"),
    }
}

fn job(r: Result<Reply, ApiError>) -> JobView {
    match r.unwrap() {
        Reply::Job(j) => *j,
        other => panic!("{other:?}"),
    }
}

fn start(a: &Station, s: &str, title: &str) -> JobView {
    job(a.handle(RequestOp::JobStart {
        session: s.into(),
        source: JobSource::Described(DublinCore {
            title: title.into(),
            language: Some("vie".into()),
            ..DublinCore::default()
        }),
    }))
}

fn scan(a: &Station, s: &str, id: &str, batch: bool) -> Result<Reply, ApiError> {
    a.handle(RequestOp::JobScan {
        session: s.into(),
        job: id.into(),
        batch,
    })
}

fn order(v: &JobView) -> Vec<u32> {
    v.pages.iter().map(|p| p.page).collect()
}

#[test]
fn staff_scan_a_batch_through_a_jam_then_edit_and_finish() {
    let dir = tempfile::tempdir().unwrap();
    let a = Station::new(dir.path());
    let reader = session(&a, "P1");
    let s = session(&a, "S1");
    let err = a
        .handle(RequestOp::JobList {
            session: reader.clone(),
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StaffOnly);
    let err = a
        .handle(RequestOp::JobStart {
            session: s.clone(),
            source: JobSource::Described(DublinCore::default()),
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    let v = start(&a, &s, "Sử thi Ba Na");
    let id = v.summary.job.clone();
    assert_eq!(v.summary.state.name(), "open");

    // A jam after three sheets keeps those three, pushed as they came.
    let mut pushes = a.services.pushes.subscribe();
    a.handle(RequestOp::SimDocScanner {
        action: "jam".into(),
        sheets: Some(3),
    })
    .unwrap();
    let err = scan(&a, &s, &id, true).unwrap_err();
    assert_eq!(err.code, ErrorCode::ScannerError);
    assert!(err.message.contains("jammed"), "{}", err.message);
    assert!(err.message_vi.contains("kẹt"), "{}", err.message_vi);
    let mut pushed = Vec::new();
    while let Ok(Push::PageScanned { job, page }) = pushes.try_recv() {
        assert_eq!(job, id);
        pushed.push(page.page);
    }
    assert_eq!(pushed, vec![1, 2, 3]);
    let v = job(a.handle(RequestOp::JobGet {
        session: s.clone(),
        job: id.clone(),
    }));
    assert_eq!(order(&v), vec![1, 2, 3]);
    assert!(v
        .pages
        .iter()
        .all(|p| p.master_bytes > 0 && p.access_bytes > 0));

    // Cleared, the job continues.
    a.handle(RequestOp::SimDocScanner {
        action: "ok".into(),
        sheets: None,
    })
    .unwrap();
    a.handle(RequestOp::SimDocScanner {
        action: "load".into(),
        sheets: Some(2),
    })
    .unwrap();
    let v = job(scan(&a, &s, &id, true));
    assert_eq!(order(&v), vec![1, 2, 3, 4, 5]);
    let v = job(scan(&a, &s, &id, false));
    assert_eq!(order(&v), vec![1, 2, 3, 4, 5, 6]);

    // Reorder, delete, rotate, rescan.
    let v = job(a.handle(RequestOp::PageMove {
        session: s.clone(),
        job: id.clone(),
        page: 5,
        to: 1,
    }));
    assert_eq!(order(&v), vec![5, 1, 2, 3, 4, 6]);
    let v = job(a.handle(RequestOp::PageDelete {
        session: s.clone(),
        job: id.clone(),
        page: 2,
    }));
    assert_eq!(order(&v), vec![5, 1, 3, 4, 6]);
    assert_eq!(
        v.pages.iter().map(|p| p.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(!master_path(dir.path(), &id, 2).exists());
    let before = v.pages[1].clone();
    let v = job(a.handle(RequestOp::PageRotate {
        session: s.clone(),
        job: id.clone(),
        page: 1,
        quarter_turns: -1,
    }));
    let after = &v.pages[1];
    assert_eq!((after.width, after.height), (before.height, before.width));
    assert_eq!(after.rotation, 3);
    let v = job(a.handle(RequestOp::PageRescan {
        session: s.clone(),
        job: id.clone(),
        page: 1,
    }));
    assert_eq!(order(&v), vec![5, 1, 3, 4, 6]);
    assert_eq!(v.pages[1].rotation, 0);
    match a
        .handle(RequestOp::PageImage {
            session: s.clone(),
            job: id.clone(),
            page: 3,
            size: PageImageSize::Thumb,
        })
        .unwrap()
    {
        Reply::PageImage {
            jpeg_base64,
            width,
            height,
        } => {
            assert!(width.max(height) <= 200);
            assert!(jpeg_base64.starts_with("/9j/"), "a JPEG");
        }
        other => panic!("{other:?}"),
    }

    // A full disk stops scanning and keeps what is there.
    let full = a.reconfigured(|c| c.digitise.min_free_mb = u64::MAX / (1024 * 1024));
    let err = full
        .handle(RequestOp::JobScan {
            session: s.clone(),
            job: id.clone(),
            batch: false,
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::DiskFull);
    let v = job(a.handle(RequestOp::JobGet {
        session: s.clone(),
        job: id.clone(),
    }));
    assert_eq!(v.pages.len(), 5);

    // Finish: a bag, queued; the job no longer changes.
    let v = job(a.handle(RequestOp::JobFinish {
        session: s.clone(),
        job: id.clone(),
    }));
    assert_eq!(v.summary.state.name(), "queued");
    assert!(bags_dir(dir.path())
        .join(&id)
        .join("data/master/0005.png")
        .exists());
    assert!(v.summary.bytes_total > 0);
    let err = scan(&a, &s, &id, false).unwrap_err();
    assert_eq!(err.code, ErrorCode::JobClosed);
    let st = a.summary();
    assert_eq!((st.jobs_waiting, st.pages_waiting), (1, 5));
    assert_eq!(st.bytes_waiting, v.summary.bytes_total);
    match a.handle(RequestOp::JobList { session: s }).unwrap() {
        Reply::Jobs { jobs } => assert_eq!(jobs.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn restart_recovery_makes_files_and_rows_agree() {
    let dir = tempfile::tempdir().unwrap();
    let a = Station::new(dir.path());
    let s = session(&a, "S1");
    let id = start(&a, &s, "A").summary.job;
    a.handle(RequestOp::SimDocScanner {
        action: "load".into(),
        sheets: Some(3),
    })
    .unwrap();
    job(scan(&a, &s, &id, true));
    // A page file without a row, a temporary file, a row without its master.
    let jd = job_dir(dir.path(), &id);
    std::fs::write(jd.join("master/99.png"), b"orphan").unwrap();
    std::fs::write(jd.join("access/1.jpg.tmp"), b"half").unwrap();
    std::fs::remove_file(jd.join("master/2.png")).unwrap();
    // A second job whose bag was half built when the power went.
    let id2 = start(&a, &s, "B").summary.job;
    job(scan(&a, &s, &id2, false));
    a.store.lock().job_set_state(&id2, "finishing").unwrap();
    std::fs::create_dir_all(bag::tmp_dir(&bags_dir(dir.path()), &id2).join("data")).unwrap();

    let r = recover(&a.digitise).unwrap();
    assert_eq!(r.files_removed, 3, "{r:?}"); // orphan, tmp, and page 2's access copy
    assert_eq!(r.rows_dropped, 1);
    assert_eq!(r.bags_rebuilt, 1);
    let v = job(a.handle(RequestOp::JobGet {
        session: s.clone(),
        job: id.clone(),
    }));
    assert_eq!(order(&v), vec![1, 3]);
    assert!(!jd.join("master/99.png").exists());
    let v2 = job(a.handle(RequestOp::JobGet {
        session: s,
        job: id2.clone(),
    }));
    assert_eq!(v2.summary.state.name(), "queued");
    assert!(!bag::tmp_dir(&bags_dir(dir.path()), &id2).exists());
    assert!(bags_dir(dir.path()).join(&id2).join("bagit.txt").exists());
    assert_eq!(
        recover(&a.digitise).unwrap(),
        recover::Recovered::default(),
        "idempotent"
    );
}

/// A finished job of `sheets` pages, queued.
fn finished(a: &Station, s: &str, title: &str, sheets: u32) -> String {
    let id = start(a, s, title).summary.job;
    a.handle(RequestOp::SimDocScanner {
        action: "load".into(),
        sheets: Some(sheets),
    })
    .unwrap();
    job(scan(a, s, &id, true));
    job(a.handle(RequestOp::JobFinish {
        session: s.into(),
        job: id.clone(),
    }));
    id
}

fn page_files_there(dir: &Path, id: &str) -> bool {
    job_dir(dir, id).exists() || bags_dir(dir).join(id).join("data").exists()
}

#[test]
fn a_safe_job_loses_its_page_files_after_the_keep_time_and_a_refused_one_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = Station::with(dir.path(), |c| c.digitise.keep_safe_hours = 2);
    let s = session(&a, "S1");
    let safe = finished(&a, &s, "Safe", 2);
    let refused = finished(&a, &s, "Refused", 2);
    let waiting = finished(&a, &s, "Waiting", 1);
    let t0 = crate::clock::now_ms();
    a.store
        .lock()
        .job_verdict(&safe, Some("doc-1"), None, t0)
        .unwrap();
    a.store
        .lock()
        .job_verdict(&refused, None, Some("manifest mismatch"), t0)
        .unwrap();
    let before = job(a.handle(RequestOp::JobGet {
        session: s.clone(),
        job: safe.clone(),
    }));

    // Within the keep time nothing goes.
    assert!(cleanup::sweep(&a.digitise, t0 + 3_600_000)
        .unwrap()
        .is_empty());
    assert!(page_files_there(dir.path(), &safe));
    // After it, the safe job's files go; the refused and the waiting jobs keep theirs.
    let cleaned = cleanup::sweep(&a.digitise, t0 + 2 * 3_600_000).unwrap();
    assert_eq!(cleaned, vec![safe.clone()]);
    assert!(!job_dir(dir.path(), &safe).exists());
    assert!(!bags_dir(dir.path()).join(&safe).join("data").exists());
    for tag in ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"] {
        assert!(bags_dir(dir.path()).join(&safe).join(tag).exists(), "{tag}");
    }
    for id in [&refused, &waiting] {
        assert!(master_path(dir.path(), id, 1).exists());
        assert!(access_path(dir.path(), id, 1).exists());
        assert!(bags_dir(dir.path())
            .join(id)
            .join("data/master/0001.png")
            .exists());
    }
    // Staff still see the job safe, with its document, pages and sizes.
    let after = job(a.handle(RequestOp::JobGet {
        session: s.clone(),
        job: safe.clone(),
    }));
    assert_eq!(after.summary, before.summary);
    assert_eq!(after.pages.len(), 2);
    match &after.summary.state {
        rong_protocol::digitise::JobState::Safe { document } => assert_eq!(document, "doc-1"),
        other => panic!("{other:?}"),
    }
    let err = a
        .handle(RequestOp::PageImage {
            session: s.clone(),
            job: safe.clone(),
            page: 1,
            size: PageImageSize::Thumb,
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownJob);
    // The counts are unchanged, and a second sweep has nothing to do.
    let st = a.summary();
    assert_eq!((st.jobs_safe, st.jobs_refused, st.jobs_waiting), (1, 1, 1));
    assert!(cleanup::sweep(&a.digitise, t0 + 10 * 3_600_000)
        .unwrap()
        .is_empty());
}

#[test]
fn a_clean_up_cut_short_by_a_crash_is_finished_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let a = Station::new(dir.path());
    assert_eq!(
        a.digitise.settings().digitise.keep_safe_hours,
        0,
        "at once by default"
    );
    let s = session(&a, "S1");
    let id = finished(&a, &s, "Cut", 3);
    a.store
        .lock()
        .job_verdict(&id, Some("doc-9"), None, crate::clock::now_ms())
        .unwrap();
    // The power went half way: the bag's payload is gone, the pages are not, and the
    // store never heard of it.
    std::fs::remove_dir_all(bags_dir(dir.path()).join(&id).join("data")).unwrap();
    std::fs::remove_file(master_path(dir.path(), &id, 1)).unwrap();
    assert!(a
        .store
        .lock()
        .job(&id)
        .unwrap()
        .unwrap()
        .cleaned_at
        .is_none());

    let r = recover(&a.digitise).unwrap();
    assert_eq!(r.jobs_cleaned, 1, "{r:?}");
    assert_eq!(r.rows_dropped, 0, "a safe job's pages are not dropped");
    assert!(!page_files_there(dir.path(), &id));
    let row = a.store.lock().job(&id).unwrap().unwrap();
    assert!(row.cleaned_at.is_some());
    assert_eq!(row.summary.state.name(), "safe");
    assert_eq!(row.summary.pages, 3);
    assert_eq!(
        recover(&a.digitise).unwrap(),
        recover::Recovered::default(),
        "idempotent"
    );
}
