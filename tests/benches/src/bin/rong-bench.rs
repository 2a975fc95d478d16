//! Rông's benchmark: runs the real programs and prints a Markdown table for the README.
//!
//! `cargo build --release --bins && target/release/rong-bench [--items N] [--patrons M]
//! [--checkouts N] [--offline-events N] [--ingest-events N] [--tls true|false]`. With `--tls true`
//! central serves HTTPS and MQTT over TLS, and the agent and the ingest's stand-in device
//! speak it with certificates from central's CA.

use std::time::{Duration, Instant};

use rong_benches::flags::Flags;
use rong_benches::measure::{db_mb, memory_mb, ms, percentile, write_bytes};
use rong_benches::setup::{bootstrap_agent_tls, tempdir};
use rong_benches::table::Table;
use rong_protocol::api::{Reply, RequestOp};
use rong_protocol::event::{Event, EventBatch, EventBody};
use rong_protocol::{encode, DeviceId};
use rong_tests::agent::{card_who, outcome};
use rong_tests::central::Central;
use rong_tests::fixtures::{barcode, card, free_adults, free_books};
use rong_tests::mqtt::Spy;
use rong_tests::scenario::wait_drained;
use rong_tests::wait_until;

struct Args {
    items: usize,
    patrons: usize,
    checkouts: usize,
    offline_events: usize,
    ingest_events: usize,
    tls: bool,
}

const USAGE: &str = "usage: rong-bench [--items N] [--patrons M] [--checkouts N] [--offline-events N] [--ingest-events N] [--tls true|false]";

fn main() {
    let flags = Flags::parse(
        USAGE,
        &[
            "--items",
            "--patrons",
            "--checkouts",
            "--offline-events",
            "--ingest-events",
            "--tls",
        ],
    );
    let a = Args {
        items: flags.get("--items", 300_000),
        patrons: flags.get("--patrons", 50_000),
        checkouts: flags.get("--checkouts", 2_000),
        offline_events: flags.get("--offline-events", 10_000),
        ingest_events: flags.get("--ingest-events", 50_000),
        tls: flags.get("--tls", false),
    };
    let tmp = tempdir("rong-bench-");
    let mut rows = Table::new();

    let tls_toml = if a.tls { "[tls]\nenabled = true\n" } else { "" };
    let mut central = Central::prepare(tmp.path(), None, tls_toml);
    let seed_time = central.seed_timed(a.items, a.patrons);
    rows.row(
        format!("`central seed` of {} items, {} patrons", a.items, a.patrons),
        format!("{:.1} s", seed_time.as_secs_f64()),
        "–",
    );
    central.start();
    let ca_file = tmp.path().join("central-ca.crt");
    if a.tls {
        let ca = central.ca_pem();
        rong_tests::http::trust(central.http, &ca);
        std::fs::write(&ca_file, &ca).expect("CA copy");
    }

    // The device cache: a new agent bootstraps from the snapshot.
    let (mut agent, took) = bootstrap_agent_tls(
        tmp.path(),
        &central,
        Duration::from_secs(600),
        a.tls.then_some(ca_file.as_path()),
    );
    rows.row(
        "Agent bootstrap from snapshot (download + load)",
        format!("{:.1} s", took.as_secs_f64()),
        "–",
    );

    // Checkout latency at the local API, including the durable commit.
    let patrons = free_adults(1, a.checkouts.div_ceil(4) + 1);
    let items = free_books(1, a.checkouts);
    rows.row(
        "Agent database on disk after bootstrap (with WAL)",
        format!(
            "{:.1} MB",
            db_mb(&agent.dir().join("data").join("agent.db"))
        ),
        "–",
    );
    let mut c = agent.client();
    let pid = agent.pid().expect("agent pid");
    let written = write_bytes(pid);
    let mut lat = Vec::with_capacity(a.checkouts);
    for (k, item) in items.iter().enumerate() {
        let who = card_who(&card(patrons[k / 4]));
        let t = Instant::now();
        let r = c.call(RequestOp::Checkout {
            who,
            item: barcode(*item),
        });
        lat.push(t.elapsed());
        assert!(
            matches!(outcome(r), Ok(Reply::CheckedOut { .. })),
            "checkout {k} refused"
        );
    }
    let per_checkout = (write_bytes(pid) - written) as f64 / a.checkouts as f64 / 1024.0;
    lat.sort();
    rows.row(
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
        "p99 < 10 ms",
    );
    rows.row(
        "Storage written per checkout (loan, event, WAL; /proc write_bytes)",
        format!("{per_checkout:.1} KiB"),
        "–",
    );
    wait_drained(&agent, Duration::from_secs(120));
    let (rss, hwm) = memory_mb(agent.pid().expect("agent pid"));
    rows.row(
        "Agent resident memory after the checkouts (RSS / peak)",
        format!("{rss:.1} MB / {hwm:.1} MB"),
        "< 40 MB",
    );
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
            let who = card_who(&card(patrons[k / 4]));
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
    rows.row(
        format!("Catch-up of {offline_events} offline events to central, from the agent's reconnect until its outbox is empty"),
        format!("{:.2} s", catch_up.as_secs_f64()),
        "< 10 s",
    );
    rows.row(
        "… before that: central's restart until the agent reconnected (its back-off)",
        format!("{:.2} s", reconnect.as_secs_f64()),
        "–",
    );
    let (rss, hwm) = memory_mb(agent.pid().expect("agent pid"));
    rows.row(
        "Agent memory after catch-up (RSS / peak)",
        format!("{rss:.1} MB / {hwm:.1} MB"),
        "< 40 MB",
    );
    agent.stop();

    // Central's ingest rate: a fake device publishes ready-made batches as fast as it can.
    // It signs every batch, as a board does, so the rate includes the signature checks.
    let acks = ["rong/v1/kontum/kontum-bench-1/ack".to_owned()];
    let spy = if a.tls {
        let (signer, identity) = central.enrol_device_tls("kontum", "kontum-bench-1");
        let url = central.mqtt_url.replace("mqtt://", "mqtts://");
        let opts = rong_tests::mqtt::tls_options(
            &url,
            "kontum-bench-1",
            &central.ca_pem(),
            Some(identity),
        );
        Spy::with_options(opts, &acks).signed_by(signer)
    } else {
        let signer = central.enrol_device("kontum", "kontum-bench-1");
        Spy::connect(&central.mqtt_url, "kontum-bench-1", &acks).signed_by(signer)
    };
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
                    pin: None,
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
    rows.row(
        format!("Central ingest, {} events in batches of 200", seq - 1),
        format!("{rate:.0} events/s"),
        "≥ 5,000 events/s",
    );
    if let Some(pid) = central.pid() {
        let (rss, hwm) = memory_mb(pid);
        rows.row(
            "Central memory at the end (RSS / peak)",
            format!("{rss:.1} MB / {hwm:.1} MB"),
            "–",
        );
    }
    central.stop();

    rows.print();
}
