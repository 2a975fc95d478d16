//! The upload benchmark of issue 7: a station's tus upload of a realistic job to central,
//! against the same number of bytes sent raw over one TCP connection on the same link, on a
//! clean link and with packet loss. Prints a Markdown table for the README.
//!
//! Each row runs in a fresh network namespace (see `rong_tests::netns`): central and the
//! real edge-agent run inside it (`ip netns exec`), the agent uploading to central's
//! `/files/` over the namespace's 127.0.0.1, whose loopback has an Ethernet MTU and drops
//! the chosen share of packets at random with nftables (this kernel has no netem). Bytes
//! on the wire are nftables counters on the output hook for the port in question, both
//! directions, retransmissions and dropped packets included.
//!
//! `cargo build --release --bins && target/release/rong-bench-upload [--pages N]
//! [--loss 0,10] [--chunk-kib 256]`. Needs root (network namespaces, nftables) and the
//! `nftables` package; `rong-bench-upload raw --port P --bytes N` is the raw baseline's
//! sender and sink, run inside the namespace by the benchmark itself.

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rong_benches::flags::Flags;
use rong_benches::measure::cores;
use rong_benches::pages;
use rong_benches::programs::station::{
    access_path, bag, bags_dir, job_dir, master_path, process, write_atomic, BagInput, PageRow,
    Store,
};
use rong_protocol::digitise::DublinCore;
use rong_tests::central::Central;
use rong_tests::netns::{self, Count, Netns};
use rong_tests::{free_port, wait_for, Agent};

const HELP: &str = "\
rong-bench-upload: tus upload overhead against raw bytes, on a clean and a lossy link.

USAGE: rong-bench-upload [--pages N] [--loss P,P,...] [--chunk-kib K,K,...] [--timeout-secs S]

  --pages N          pages in the job: synthetic 300 dpi A4 greyscale (default 20)
  --loss P,...       packet loss in percent, one row each (default 0,10)
  --chunk-kib K,...  tus chunk sizes, [digitise] chunk_bytes in KiB (default 256)
  --timeout-secs S   give up on one upload after S seconds (default 3600)

Needs root: every row runs central and the edge-agent in a network namespace of its own
(ip netns) whose loopback drops packets with nftables (apt-get install nftables). Build
first: cargo build --release --bins.";

/// Parsed command line.
struct Args {
    pages: u32,
    loss: Vec<u8>,
    chunks_kib: Vec<u64>,
    timeout: Duration,
}

fn parse(args: &[String]) -> anyhow::Result<Args> {
    let flags = Flags::parse_from(
        args,
        HELP,
        &["--pages", "--loss", "--chunk-kib", "--timeout-secs"],
    );
    let a = Args {
        pages: flags.get("--pages", 20),
        loss: flags.list("--loss", vec![0, 10]),
        chunks_kib: flags.list("--chunk-kib", vec![256]),
        timeout: Duration::from_secs(flags.get("--timeout-secs", 3600)),
    };
    if a.pages == 0 || a.loss.iter().any(|&p| p > 50) || a.chunks_kib.contains(&0) {
        bail!("--pages must be at least 1, --loss at most 50, --chunk-kib at least 1");
    }
    Ok(a)
}

/// The finished pages of the job, on disk once, copied into each row's station.
struct Job {
    dir: std::path::PathBuf,
    rows: Vec<PageRow>,
}

fn make_pages(dir: &Path, n: u32) -> anyhow::Result<Job> {
    std::fs::create_dir_all(dir)?;
    let mut rows = Vec::new();
    for i in 1..=n {
        let out = process(&pages::page(u64::from(i)), 85)?;
        std::fs::write(dir.join(format!("{i}.png")), &out.master_png)?;
        std::fs::write(dir.join(format!("{i}.jpg")), &out.access_jpeg)?;
        rows.push(pages::row(i, 300, &out));
    }
    Ok(Job {
        dir: dir.to_path_buf(),
        rows,
    })
}

/// Puts the job into a station's store, packaged and queued, as `job_finish` leaves it;
/// returns the bag's size in bytes (every file, tag files included).
fn queue_job(agent: &Agent, pages: &Job) -> anyhow::Result<u64> {
    let data = agent.dir().join("data");
    std::fs::create_dir_all(&data)?;
    let mut store = Store::open(&data.join("agent.db"))?;
    let job = uuid::Uuid::now_v7().to_string();
    let meta = DublinCore {
        title: "Upload benchmark".into(),
        language: Some("vie".into()),
        ..DublinCore::default()
    };
    let now = chrono::Utc::now().timestamp_millis();
    store.job_insert(&job, &meta.title, None, &meta, now)?;
    for sub in ["master", "access"] {
        std::fs::create_dir_all(job_dir(&data, &job).join(sub))?;
    }
    for row in &pages.rows {
        let id = store.page_id_take(&job)?;
        let n = row.info.page;
        let master = std::fs::read(pages.dir.join(format!("{n}.png")))?;
        let access = std::fs::read(pages.dir.join(format!("{n}.jpg")))?;
        write_atomic(&master_path(&data, &job, id), &master)?;
        write_atomic(&access_path(&data, &job, id), &access)?;
        let mut r = row.clone();
        r.info.page = id;
        store.page_put(&job, &r)?;
    }
    let files = bag::build(
        &bags_dir(&data),
        &BagInput {
            job: &job,
            device: &agent.device,
            branch: &agent.branch,
            record: None,
            metadata: &meta,
            pages: &store.pages(&job)?,
            job_dir: &job_dir(&data, &job),
            bagging_date: &chrono::Utc::now().format("%Y-%m-%d").to_string(),
        },
    )?;
    store.job_queue(&job, &files, now)?;
    Ok(files.iter().map(|f| f.size).sum())
}

/// What one row measured.
struct Row {
    loss: u8,
    chunk_kib: u64,
    payload: u64,
    raw: (Count, Count, Duration, Count),
    tus: (Count, Count, Duration, Count),
    retries: usize,
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

fn run_row(a: &Args, job: &Job, root: &Path, loss: u8, chunk_kib: u64) -> anyhow::Result<Row> {
    let dir = root.join(format!("loss{loss}-chunk{chunk_kib}"));
    std::fs::create_dir_all(&dir)?;
    let ns = Netns::create(&format!("rong-upbench-{}", std::process::id()), loss)?;
    eprintln!(
        "row: {loss}% loss, {chunk_kib} KiB chunks, namespace {} (lo mtu {})",
        ns.name(),
        ns.mtu()?
    );
    let mut central = Central::prepare(&dir, None, "");
    // A branch for the station to enrol in.
    central.seed(0, 1);
    central.set_netns(ns.name());
    central.start();
    let raw_port = free_port();
    ns.count_port("tus", central.http.port())?;
    ns.count_port("raw", raw_port)?;

    let mut agent = Agent::prepare_enrolled(
        &dir,
        &central,
        "bench-station",
        "kontum",
        &central.http.to_string(),
        &format!("\n[digitise]\nchunk_bytes = {}\n", chunk_kib * 1024),
    );
    agent.set_netns(ns.name());
    let payload = queue_job(&agent, job).context("queue the job at the station")?;

    // The raw baseline: the same number of bytes, one TCP stream, same link.
    ns.reset_counters()?;
    let exe = std::env::current_exe()?;
    let out = ns
        .command(&exe)
        .args(["raw", "--port", &raw_port.to_string(), "--bytes"])
        .arg(payload.to_string())
        .output()?;
    if !out.status.success() {
        bail!(
            "the raw baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("raw baseline output")?;
    let raw = (
        ns.counter("raw_to")?,
        ns.counter("raw_from")?,
        Duration::from_secs_f64(secs),
        ns.dropped()?,
    );
    eprintln!("  raw: {:.1} s", secs);

    // The station uploads the queued job; time from its start to the job being safe.
    ns.reset_counters()?;
    let t = Instant::now();
    agent.start();
    let mut refused = false;
    let safe = wait_for(a.timeout, || {
        let d = &agent.status()["digitise"];
        refused = d["jobs_refused"].as_u64().unwrap_or(0) > 0;
        refused || d["jobs_safe"].as_u64().unwrap_or(0) == 1
    });
    let elapsed = t.elapsed();
    let tus = (
        ns.counter("tus_to")?,
        ns.counter("tus_from")?,
        elapsed,
        ns.dropped()?,
    );
    agent.stop();
    central.stop();
    if refused {
        bail!("central refused the bag; see {}", dir.display());
    }
    if !safe {
        bail!("the job was not safe after {:?}", a.timeout);
    }
    let log = std::fs::read_to_string(agent.dir().join("agent-1.log")).unwrap_or_default();
    let retries = log.matches("upload stopped; will resume").count();
    eprintln!("  tus: {:.1} s, {retries} retries", elapsed.as_secs_f64());
    Ok(Row {
        loss,
        chunk_kib,
        payload,
        raw,
        tus,
        retries,
    })
}

fn print_table(a: &Args, rows: &[Row]) {
    println!(
        "Machine: {} cores; load average (1, 5, 15 min) at the end: {}",
        cores(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!();
    println!(
        "| link | chunk | payload | raw TCP: wire (up + down), time | tus: wire (up + down), time to safe | overhead: wire bytes tus / raw | time tus / raw | tus throughput | packets dropped (raw, tus) | upload retries |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (rt, rf, rd, rx) = r.raw;
        let (tt, tf, td, tx) = r.tus;
        let raw_wire = rt.bytes + rf.bytes;
        let tus_wire = tt.bytes + tf.bytes;
        println!(
            "| {}% loss | {} KiB | {:.1} MB ({} pages) | {:.1} + {:.2} MB, {:.1} s | {:.1} + {:.2} MB, {:.1} s | {:.3} | {:.2} | {:.2} MB/s | {}, {} | {} |",
            r.loss,
            r.chunk_kib,
            mb(r.payload),
            a.pages,
            mb(rt.bytes),
            mb(rf.bytes),
            rd.as_secs_f64(),
            mb(tt.bytes),
            mb(tf.bytes),
            td.as_secs_f64(),
            tus_wire as f64 / raw_wire.max(1) as f64,
            td.as_secs_f64() / rd.as_secs_f64().max(1e-9),
            mb(r.payload) / td.as_secs_f64().max(1e-9),
            rx.packets,
            tx.packets,
            r.retries,
        );
    }
}

fn bench(a: &Args) -> anyhow::Result<()> {
    netns::check_prerequisites()?;
    let tmp = tempfile::Builder::new().prefix("rong-upbench-").tempdir()?;
    eprintln!("making {} pages", a.pages);
    let job = make_pages(&tmp.path().join("pages"), a.pages)?;
    let mut rows = Vec::new();
    for &chunk in &a.chunks_kib {
        for &loss in &a.loss {
            rows.push(run_row(a, &job, tmp.path(), loss, chunk)?);
        }
    }
    print_table(a, &rows);
    Ok(())
}

/// `raw --port P --bytes N`: sends N bytes to a sink on 127.0.0.1:P in this process and
/// prints the seconds it took.
fn raw(args: &[String]) -> anyhow::Result<()> {
    let flags = Flags::parse_from(
        args,
        "usage: rong-bench-upload raw --port P --bytes N",
        &["--port", "--bytes"],
    );
    let port: u16 = flags.get("--port", 0);
    let bytes: u64 = flags.get("--bytes", 0);
    if port == 0 {
        bail!("raw needs --port");
    }
    let took = netns::raw_transfer(port, bytes)?;
    println!("{}", took.as_secs_f64());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("raw") {
        raw(&args[1..])
    } else {
        parse(&args).and_then(|a| bench(&a))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rong-bench-upload: {e:#}");
            ExitCode::FAILURE
        }
    }
}
