//! The digitisation benchmark at the station: edge processing per page (300 dpi A4
//! greyscale: lossless PNG master, access JPEG, the page checks, SHA-256 of both, written
//! atomically) in pages per minute, and bag creation beside the Library of Congress
//! `bagit.py` on the same pages. Prints a Markdown table for the README.
//!
//! `cargo build --release -p rong-benches --bin rong-bench-digitise &&
//! target/release/rong-bench-digitise [--pages N]` (needs the venv from
//! `scripts/setup.sh` for bagit).

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::process::Command;
use std::time::Instant;

use rong_benches::flags::Flags;
use rong_benches::measure::{cores, cpu_model};
use rong_benches::pages::{page, row, H, W};
use rong_benches::programs::station::{bag, process, write_atomic, BagInput};
use rong_hardware::scanner::Page;
use rong_protocol::digitise::DublinCore;
use rong_tests::interop::venv_python;

fn main() {
    let flags = Flags::parse("usage: rong-bench-digitise [--pages N]", &["--pages"]);
    let pages: usize = flags.get("--pages", 20);
    let dir = tempfile::tempdir().expect("temp dir");
    let job_dir = dir.path().join("jobs/bench");
    std::fs::create_dir_all(job_dir.join("master")).expect("dir");
    std::fs::create_dir_all(job_dir.join("access")).expect("dir");
    let raw: Vec<Page> = (0..pages as u64).map(page).collect();

    let t = Instant::now();
    let mut rows = Vec::new();
    let mut bytes = 0u64;
    for (i, p) in raw.iter().enumerate() {
        let n = i as u32 + 1;
        let out = process(p, 85).expect("process");
        write_atomic(&job_dir.join(format!("master/{n}.png")), &out.master_png).expect("write");
        write_atomic(&job_dir.join(format!("access/{n}.jpg")), &out.access_jpeg).expect("write");
        bytes += (out.master_png.len() + out.access_jpeg.len()) as u64;
        rows.push(row(n, 300, &out));
    }
    let per_page = t.elapsed().as_secs_f64() / pages as f64;

    let meta = DublinCore {
        title: "Benchmark".into(),
        ..DublinCore::default()
    };
    let bags = dir.path().join("bags");
    let t = Instant::now();
    bag::build(
        &bags,
        &BagInput {
            job: "bench",
            device: "bench-station",
            branch: "kontum",
            record: None,
            metadata: &meta,
            pages: &rows,
            job_dir: &job_dir,
            bagging_date: "2026-11-25",
        },
    )
    .expect("bag");
    let ours = t.elapsed().as_secs_f64();

    // bagit.py bags a directory in place: give it a copy of the same files.
    let theirs_dir = dir.path().join("bagit-py");
    for sub in ["access", "master"] {
        std::fs::create_dir_all(theirs_dir.join(sub)).expect("dir");
        for e in std::fs::read_dir(job_dir.join(sub)).expect("read") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), theirs_dir.join(sub).join(e.file_name())).expect("copy");
        }
    }
    let py = venv_python();
    let theirs = if py.exists() {
        let t = Instant::now();
        let ok = Command::new(&py)
            .args(["-m", "bagit", "--sha256", "--quiet"])
            .arg(&theirs_dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| t.elapsed().as_secs_f64())
    } else {
        None
    };
    let validated = py.exists()
        && Command::new(&py)
            .args(["-m", "bagit", "--validate", "--quiet"])
            .arg(bags.join("bench"))
            .status()
            .is_ok_and(|s| s.success());

    println!("Machine: {} ({} cores)", cpu_model(), cores());
    println!();
    println!("| digitisation benchmark ({pages} pages, 300 dpi A4 grey, {W}x{H}) | value |");
    println!("|---|---|");
    println!(
        "| edge processing per page (PNG master, access JPEG q85, checks, SHA-256, atomic writes) | {:.0} ms |",
        per_page * 1000.0
    );
    println!("| pages per minute, one core | {:.1} |", 60.0 / per_page);
    println!(
        "| bytes per page (master + access) | {:.1} MB |",
        bytes as f64 / pages as f64 / 1e6
    );
    println!(
        "| bag creation, ours (re-hash every file, hard links, manifests, fsync) | {:.2} s |",
        ours
    );
    match theirs {
        Some(s) => println!("| bag creation, bagit.py 1.9 --sha256 (same files) | {s:.2} s |"),
        None => println!("| bag creation, bagit.py | not run (no venv: run scripts/setup.sh) |"),
    }
    println!(
        "| our bag passes bagit.py --validate | {} |",
        if validated { "yes" } else { "no" }
    );
}
