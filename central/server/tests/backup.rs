//! Backups of a serving central: `central backup` while writes go on, the scheduled
//! backups with their pruning and `/metrics`, and the alert a failing one raises.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use central::backup::{backup_to, schedule};
use central_store::admin::{alerts, user, Role};
use central_store::Store;

const T: Duration = Duration::from_secs(30);

/// Polls `f` every 20 ms until it holds; panics with `what` after [`T`].
async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metrics(run: &common::Running) -> String {
    common::http()
        .get(run.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn users_in(db: &Path) -> usize {
    let store = Store::open(db).unwrap();
    (0..)
        .take_while(|k| user(store.reader(), &format!("u{k}")).unwrap().is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_while_central_serves_are_whole_scheduled_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(&dir.path().join("data"));
    let backups = dir.path().join("backups");
    config.backup.dir = Some(backups.clone());
    config.backup.every_hours = 0.5 / 3600.0;
    config.backup.keep = 2;
    let run = common::start(config.clone()).await;

    // Writes go on beside central's own writer while `central backup` copies.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, stop, written) = (config.db_path(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut store = Store::open(&db).unwrap();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                store
                    .create_user(&format!("u{k}"), "hash", Role::Admin, None, 1)
                    .unwrap();
                k += 1;
                written.store(k, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 20 {
        tokio::task::yield_now().await;
    }
    for k in 0..3 {
        let file = dir.path().join(format!("manual-{k}.db"));
        let before = written.load(Ordering::Relaxed);
        let report = backup_to(&config, &file).unwrap();
        let after = written.load(Ordering::Relaxed);
        assert_eq!(report.schema_version, central_store::SCHEMA_VERSION);
        assert_eq!(
            rong_sqlite::backup::verify(&file, central_store::SCHEMA_VERSION).unwrap(),
            central_store::SCHEMA_VERSION
        );
        // One moment between the start and the end of the copy, every user whole.
        let held = users_in(&file) as u64;
        assert!(
            before <= held && held <= after + 1,
            "{before} <= {held} <= {after} + 1"
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    // The schedule: the first backup at once, then one every half second, two kept.
    wait_until("the first scheduled backup", || {
        schedule::list(&backups).is_ok_and(|l| !l.is_empty())
    })
    .await;
    let first = schedule::list(&backups).unwrap()[0].1.clone();
    wait_until("the first backup to be pruned", || !first.exists()).await;
    let left = schedule::list(&backups).unwrap();
    assert!((1..=3).contains(&left.len()), "{left:?}");
    for (_, f) in &left {
        rong_sqlite::backup::verify(f, central_store::SCHEMA_VERSION).unwrap();
    }
    let text = metrics(&run).await;
    let last = metric(&text, "rong_backup_last_success_timestamp_seconds");
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(
        last > 0 && last <= now && now - last < 60,
        "{last} vs {now}"
    );
    assert_eq!(metric(&text, "rong_backup_failures_total"), 0);
    run.stop().await;
    let left = schedule::list(&backups).unwrap();
    assert!(left.len() <= 2, "pruned to keep = 2: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_scheduled_backup_raises_an_alert_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(&dir.path().join("data"));
    // A directory that cannot be made: its parent is a file.
    std::fs::write(dir.path().join("not-a-dir"), b"x").unwrap();
    config.backup.dir = Some(dir.path().join("not-a-dir").join("backups"));
    config.alerts.check_secs = 1;
    let run = common::start(config.clone()).await;
    let mut text = String::new();
    let end = Instant::now() + T;
    while !text.contains("rong_backup_failures_total 1") {
        assert!(Instant::now() < end, "no failure counted: {text}");
        text = metrics(&run).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        metric(&text, "rong_backup_last_success_timestamp_seconds"),
        0
    );
    let db = config.db_path();
    wait_until("the backup_failed alert", || {
        let store = Store::open(&db).unwrap();
        alerts(store.reader(), None, true, 50)
            .unwrap()
            .iter()
            .any(|a| a.kind == "backup_failed" && a.device == "central")
    })
    .await;
    run.stop().await;
}
