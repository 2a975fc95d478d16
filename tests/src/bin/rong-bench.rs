//! Rông's benchmark: runs the real programs and prints a Markdown table for the README.
//!
//! `cargo run --release -p rong-tests --bin rong-bench -- [--items N] [--patrons M]`
//! (build the workspace's binaries in release first: `cargo build --release --bins`).

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::time::{Duration, Instant};

use rong_protocol::api::{Reply, RequestOp};
use rong_protocol::event::{Event, EventBatch, EventBody};
use rong_protocol::{encode, DeviceId};
use rong_tests::central::Central;
use rong_tests::fixtures::{barcode, card, free_adults, free_books};
use rong_tests::mqtt::Spy;
use rong_tests::scenario::{wait_drained, wait_synced};
use rong_tests::{wait_until, Agent};

struct Args {
    items: usize,
    patrons: usize,
    checkouts: usize,
    offline_events: usize,
    ingest_events: usize,
}

fn args() -> Args {
    let mut a = Args {
        items: 300_000,
        patrons: 50_000,
        checkouts: 2_000,
        offline_events: 10_000,
        ingest_events: 50_000,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v = pair.get(1).and_then(|v| v.parse().ok());
        match (pair[0].as_str(), v) {
            ("--items", Some(v)) => a.items = v,
            ("--patrons", Some(v)) => a.patrons = v,
            ("--checkouts", Some(v)) => a.checkouts = v,
            ("--offline-events", Some(v)) => a.offline_events = v,
            ("--ingest-events", Some(v)) => a.ingest_events = v,
            _ => {
                eprintln!("usage: rong-bench [--items N] [--patrons M] [--checkouts N] [--offline-events N] [--ingest-events N]");
                std::process::exit(2);
            }
        }
    }
    a
}

/// Resident and peak memory of a process, in MB, from /proc.
fn memory_mb(pid: u32) -> (f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes a process has caused to be written to storage, from /proc/PID/io.
fn write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The size of a file plus its SQLite WAL, in MB.
fn db_mb(path: &std::path::Path) -> f64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = path.with_extension("db-wal");
    (size(path) + size(&wal)) as f64 / 1e6
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let a = args();
    let tmp = tempfile::Builder::new()
        .prefix("rong-bench-")
        .tempdir()
        .expect("tempdir");
    let mut rows: Vec<(String, String, String)> = Vec::new();

    let mut central = Central::prepare(tmp.path(), None, "");
    let seed_time = central.seed_timed(a.items, a.patrons);
    rows.push((
        format!("`central seed` of {} items, {} patrons", a.items, a.patrons),
        format!("{:.1} s", seed_time.as_secs_f64()),
        "–".into(),
    ));
    central.start();

    // The device cache: a new agent bootstraps from the snapshot.
    let mut agent = Agent::prepare(
        tmp.path(),
        "kontum-kiosk-1",
        "kontum",
        &central.mqtt_url,
        &central.http.to_string(),
        "",
    );
    let t = Instant::now();
    agent.start();
    wait_synced(&agent);
    rows.push((
        "Agent bootstrap from snapshot (download + load)".into(),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
        "–".into(),
    ));

    // Checkout latency at the local API, including the durable commit.
    let patrons = free_adults(1, a.checkouts.div_ceil(4) + 1);
    let items = free_books(1, a.checkouts);
    rows.push((
        "Agent database on disk after bootstrap (with WAL)".into(),
        format!(
            "{:.1} MB",
            db_mb(&agent.dir().join("data").join("agent.db"))
        ),
        "–".into(),
    ));
    let mut c = agent.client();
    let pid = agent.pid().expect("agent pid");
    let written = write_bytes(pid);
    let mut lat = Vec::with_capacity(a.checkouts);
    for (k, item) in items.iter().enumerate() {
        let who = rong_tests::agent::card_who(&card(patrons[k / 4]));
        let t = Instant::now();
        let r = c.call(RequestOp::Checkout {
            who,
            item: barcode(*item),
        });
        lat.push(t.elapsed());
        assert!(
            matches!(rong_tests::agent::outcome(r), Ok(Reply::CheckedOut { .. })),
            "checkout {k} refused"
        );
    }
    let per_checkout = (write_bytes(pid) - written) as f64 / a.checkouts as f64 / 1024.0;
    lat.sort();
    rows.push((
        format!(
            "Checkout at the local API, {} loans (p50 / p99 / max)",
            a.checkouts
        ),
        format!(
            "{} / {} / {}",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(lat[lat.len() - 1])
        ),
        "p99 < 10 ms".into(),
    ));
    rows.push((
        "Storage written per checkout (loan, event, WAL; /proc write_bytes)".into(),
        format!("{per_checkout:.1} KiB"),
        "–".into(),
    ));
    wait_drained(&agent, Duration::from_secs(120));
    let (rss, hwm) = memory_mb(agent.pid().expect("agent pid"));
    rows.push((
        "Agent resident memory after the checkouts (RSS / peak)".into(),
        format!("{rss:.1} MB / {hwm:.1} MB"),
        "< 40 MB".into(),
    ));
    for item in &items {
        c.checkin(&barcode(*item)).expect("checkin");
    }
    wait_drained(&agent, Duration::from_secs(120));
    drop(c);

    // Catch-up: events made offline reach central once the link is back.
    central.stop();
    wait_until("the agent to notice", Duration::from_secs(60), || {
        agent.status()["online"] == false
    });
    let mut c = agent.client();
    let per_round = items.len().min(a.offline_events / 2);
    let mut made = 0;
    while made < a.offline_events {
        for (k, item) in items[..per_round].iter().enumerate() {
            if made >= a.offline_events {
                break;
            }
            let who = rong_tests::agent::card_who(&card(patrons[k / 4]));
            c.call(RequestOp::Checkout {
                who,
                item: barcode(*item),
            });
            made += 1;
        }
        for item in &items[..per_round] {
            if made >= a.offline_events {
                break;
            }
            c.checkin(&barcode(*item)).expect("offline checkin");
            made += 1;
        }
    }
    drop(c);
    let offline_events = made;
    let t = Instant::now();
    central.start();
    wait_until("the agent to reconnect", Duration::from_secs(120), || {
        agent.status()["online"] == true
    });
    let reconnect = t.elapsed();
    let t = Instant::now();
    wait_drained(&agent, Duration::from_secs(600));
    let catch_up = t.elapsed();
    rows.push((
        format!("Catch-up of {offline_events} offline events to central, from the agent's reconnect until its outbox is empty"),
        format!("{:.2} s", catch_up.as_secs_f64()),
        "< 10 s".into(),
    ));
    rows.push((
        "… before that: central's restart until the agent reconnected (its back-off)".into(),
        format!("{:.2} s", reconnect.as_secs_f64()),
        "–".into(),
    ));
    let (rss, hwm) = memory_mb(agent.pid().expect("agent pid"));
    rows.push((
        "Agent memory after catch-up (RSS / peak)".into(),
        format!("{rss:.1} MB / {hwm:.1} MB"),
        "< 40 MB".into(),
    ));
    agent.stop();

    // Central's ingest rate: a fake device publishes ready-made batches as fast as it can.
    let spy = Spy::connect(
        &central.mqtt_url,
        "kontum-bench-1",
        &["rong/v1/kontum/kontum-bench-1/ack".to_owned()],
    );
    let dev = DeviceId::new("kontum-bench-1").expect("id");
    let log = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    let before = central.stat("events_applied");
    let t = Instant::now();
    let mut seq = 1u64;
    while seq <= a.ingest_events as u64 {
        let events: Vec<Event> = (0..200)
            .map(|k| Event {
                seq: seq + k,
                id: uuid::Uuid::now_v7(),
                at: now.timestamp_millis(),
                clock_synced: true,
                body: EventBody::Identify {
                    patron: card(patrons[(k as usize) % patrons.len()]),
                },
            })
            .collect();
        spy.publish(
            "rong/v1/kontum/kontum-bench-1/events",
            encode(&EventBatch::new(dev.clone(), log, events)),
        );
        seq += 200;
    }
    let want = before + seq - 1;
    wait_until(
        "central to apply the ingest batches",
        Duration::from_secs(600),
        || central.stat("events_applied") >= want,
    );
    let rate = (seq - 1) as f64 / t.elapsed().as_secs_f64();
    rows.push((
        format!("Central ingest, {} events in batches of 200", seq - 1),
        format!("{rate:.0} events/s"),
        "≥ 5,000 events/s".into(),
    ));
    if let Some(pid) = central.pid() {
        let (rss, hwm) = memory_mb(pid);
        rows.push((
            "Central memory at the end (RSS / peak)".into(),
            format!("{rss:.1} MB / {hwm:.1} MB"),
            "–".into(),
        ));
    }
    central.stop();

    println!("| measure | result | goal |\n|---|---|---|");
    for (m, r, g) in rows {
        println!("| {m} | {r} | {g} |");
    }
}
