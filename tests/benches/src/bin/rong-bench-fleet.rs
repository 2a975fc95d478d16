//! The fleet dashboard's benchmark: many simulated devices heartbeating against one central,
//! then the devices page's render time and central's CPU use. Prints a Markdown table.
//!
//! `cargo build --release --bins && target/release/rong-bench-fleet [--devices 1000]
//! [--interval-secs 30] [--measure-secs 60]`.
//!
//! A few MQTT connections publish retained statuses for many device ids, one topic per
//! device, spread evenly over the heartbeat interval.

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rong_benches::flags::Flags;
use rong_benches::measure::{clock_ticks_per_sec, cores, cpu_model, cpu_ticks, percentile};
use rong_benches::setup::tempdir;
use rong_protocol::status::{DeviceState, DeviceStatus, HardwareStatus, Health};
use rong_protocol::topic::Topic;
use rong_protocol::{encode, BranchId, DeviceId};
use rong_tests::central::Central;
use rong_tests::fixtures::BRANCHES;
use rong_tests::http::request_full;
use rong_tests::mqtt::publisher;
use rong_tests::staff::Session;
use rong_tests::wait_until;
use rumqttc::{Client, QoS};

const PASSWORD: &str = "benchmark-password";
const CONNECTIONS: usize = 4;

struct Args {
    devices: usize,
    interval_secs: u64,
    measure_secs: u64,
}

fn device(i: usize) -> (String, String) {
    let b = BRANCHES[i % BRANCHES.len()];
    (b.to_owned(), format!("{b}-sim-{i:04}"))
}

/// Device `i`'s status, sealed with `key` (every simulated device shares one key).
fn status(key: &rong_identity::KeyPair, i: usize, started: i64) -> Vec<u8> {
    let body = status_body(i, started);
    let (_, d) = device(i);
    let signer = rong_protocol::envelope::Signer::Device(DeviceId::new(d).expect("device"));
    key.seal(
        &signer,
        &topic(i),
        chrono::Utc::now().timestamp_millis(),
        &body,
    )
}

fn status_body(i: usize, started: i64) -> Vec<u8> {
    let (b, d) = device(i);
    let mut hardware = BTreeMap::new();
    for hw in ["barcode", "nfc", "printer"] {
        hardware.insert(
            hw.to_owned(),
            HardwareStatus {
                health: if i % 97 == 0 && hw == "printer" {
                    Health::Missing
                } else {
                    Health::Ok
                },
                detail: None,
            },
        );
    }
    let now = chrono::Utc::now().timestamp_millis();
    encode(&DeviceStatus {
        v: rong_protocol::SCHEMA_VERSION,
        device: DeviceId::new(d).expect("valid device id"),
        branch: BranchId::new(b).expect("valid branch id"),
        state: DeviceState::Online,
        version: "0.1.0".into(),
        boot_id: format!("boot-{i}"),
        started_at: started,
        at: now,
        time_synced: true,
        outbox_depth: (i % 5) as u64,
        oldest_unsynced_age_s: (i % 5 != 0).then_some((i % 50) as u64),
        catalogue_version: 1,
        disk_free_bytes: Some(8 * 1024 * 1024 * 1024 - (i as u64) * 1_000_000),
        temperature_c: Some(45.0 + (i % 20) as f32),
        hardware,
        digitise: None,
    })
}

fn started_at_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn topic(i: usize) -> String {
    let (b, d) = device(i);
    Topic::Status(
        BranchId::new(b).expect("branch"),
        DeviceId::new(d).expect("device"),
    )
    .to_topic_string()
}

fn main() {
    let flags = Flags::parse(
        "usage: rong-bench-fleet [--devices N] [--interval-secs S] [--measure-secs S]",
        &["--devices", "--interval-secs", "--measure-secs"],
    );
    let a = Args {
        devices: flags.get("--devices", 1000),
        interval_secs: flags.get("--interval-secs", 30),
        measure_secs: flags.get("--measure-secs", 60),
    };
    let tmp = tempdir("rong-bench-fleet-");
    let mut central = Central::prepare(
        tmp.path(),
        None,
        &format!("[dashboard]\nheartbeat_secs = {}\n", a.interval_secs),
    );
    central.seed(1_000, 200);
    central.admin_create("bench", PASSWORD, None);
    // Central takes statuses only from enrolled devices: enrol them all in one go (a code
    // each through the command line would take longer than the measurement).
    let key = std::sync::Arc::new(rong_identity::KeyPair::generate());
    {
        let mut store = central_store::Store::open(&central.db_path()).expect("central's store");
        for i in 0..a.devices {
            let (b, d) = device(i);
            central_store::identity::enrol_directly(
                &mut store,
                &BranchId::new(b).expect("branch"),
                &DeviceId::new(d).expect("device"),
                &key.public().to_base64(),
                started_at_ms(),
            )
            .expect("enrol a bench device");
        }
    }
    central.start();
    let pid = central.pid().expect("central pid");
    let clients: Vec<Client> = (0..CONNECTIONS)
        .map(|k| publisher(&central.mqtt_url, &format!("bench-fleet-{k}"), 500))
        .collect();
    let started = chrono::Utc::now().timestamp_millis();

    // Everyone says hello once, then heartbeats spread over the interval.
    eprintln!("announcing {} devices", a.devices);
    for i in 0..a.devices {
        clients[i % CONNECTIONS]
            .publish(topic(i), QoS::AtLeastOnce, true, status(&key, i, started))
            .expect("publish");
    }
    let addr = central.http;
    wait_until(
        "every device online at central",
        Duration::from_secs(120),
        || central.stat("devices_online") as usize >= a.devices,
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let beat = {
        let stop = stop.clone();
        let clients = clients.clone();
        let key = key.clone();
        let (n, interval) = (a.devices, a.interval_secs);
        std::thread::spawn(move || {
            let gap = Duration::from_secs(interval).as_secs_f64() / n as f64;
            let t0 = Instant::now();
            let mut k: u64 = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let due = t0 + Duration::from_secs_f64(gap * k as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let i = (k as usize) % n;
                let _ = clients[i % CONNECTIONS].publish(
                    topic(i),
                    QoS::AtLeastOnce,
                    true,
                    status(&key, i, started),
                );
                k += 1;
            }
            k
        })
    };

    // CPU over the measuring window, heartbeats only.
    eprintln!("measuring central's CPU for {} s", a.measure_secs);
    let hz = clock_ticks_per_sec();
    let (c0, t0) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(a.measure_secs));
    let (c1, t1) = (cpu_ticks(pid), Instant::now());
    let cpu_pct = (c1 - c0) as f64 / hz / (t1 - t0).as_secs_f64() * 100.0;
    let statuses_before = a.devices;

    // The devices page, logged in, while heartbeats go on.
    let session = Session::login(addr, "bench", PASSWORD);
    let mut times = Vec::new();
    let mut size = 0;
    let mut rows = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let r = session.get("/admin/devices");
        times.push(t.elapsed());
        assert_eq!(r.status, 200);
        size = r.body.len();
        rows = r.text().matches("<tr id=\"dev-").count();
    }
    times.sort();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let beats = beat.join().unwrap_or(0);
    let metrics = request_full(addr, "GET", "/metrics", &[], None)
        .expect("metrics")
        .text();
    let online = metrics
        .lines()
        .find(|l| l.starts_with("rong_devices{state=\"online\"}"))
        .unwrap_or("")
        .to_owned();

    println!("| fleet benchmark | value |");
    println!("|---|---|");
    println!("| machine | {}, {} cores |", cpu_model(), cores());
    println!("| simulated devices | {} over {CONNECTIONS} MQTT connections, heartbeat every {} s (retained status, QoS 1) |", a.devices, a.interval_secs);
    println!(
        "| statuses published | {} at start + {beats} heartbeats |",
        statuses_before
    );
    println!(
        "| central CPU over {} s | {cpu_pct:.1}% of one core |",
        a.measure_secs
    );
    println!(
        "| devices page ({rows} rows, {} KB) | median {:.0} ms, p95 {:.0} ms, max {:.0} ms (20 requests) |",
        size / 1024,
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.95).as_secs_f64() * 1000.0,
        times.last().map(|t| t.as_secs_f64() * 1000.0).unwrap_or(0.0),
    );
    println!("| /metrics | `{online}` |");
    central.stop();
}
