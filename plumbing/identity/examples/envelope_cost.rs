//! What signing costs per MQTT message: seals and opens (with the replay check) a typical
//! event batch many times and prints the time per message and the header's size, as a
//! Markdown table for `docs/BENCHMARKS.md`.
//!
//! `cargo run --release -p rong-identity --example envelope_cost [N]`

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::time::Instant;

use rong_identity::KeyPair;
use rong_protocol::envelope::{Freshness, Signer};
use rong_protocol::{BranchId, DeviceId};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let key = KeyPair::generate();
    let public = key.public();
    let device = DeviceId::new("kontum-kiosk-1").unwrap_or_else(|e| panic!("{e}"));
    let branch = BranchId::new("kontum").unwrap_or_else(|e| panic!("{e}"));
    let signer = Signer::Device(device);
    let topic = "rong/v1/kontum/kontum-kiosk-1/events";
    // One checkout event in a batch, about the size the agent sends for a single loan.
    let body = br#"{"v":1,"device":"kontum-kiosk-1","log":"0193a5b0-7c1e-7d2a-9f00-3a5c2b1d4e6f","events":[{"seq":1234,"id":"0193a5b0-7c1e-7d2a-9f00-3a5c2b1d4e70","at":1764720000000,"clock_synced":true,"body":{"type":"checkout","item":"KT00123456","patron":"KT-0004567","due":"2026-12-24"}}]}"#;

    let t = Instant::now();
    let sealed: Vec<Vec<u8>> = (0..n)
        .map(|i| key.seal(&signer, topic, 1_764_720_000_000 + i as i64, body))
        .collect();
    let seal_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;

    let mut fresh = Freshness::new(600_000, 4096);
    let t = Instant::now();
    for m in &sealed {
        let opened = rong_identity::mqtt::open(m, topic, |_| Some((public, Some(branch.clone()))))
            .unwrap_or_else(|e| panic!("{e}"));
        fresh.admit(&opened).unwrap_or_else(|e| panic!("{e}"));
    }
    let open_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let header = sealed[0].len() - body.len();

    println!(
        "| messages | seal, µs each | open + replay check, µs each | header bytes | body bytes |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {n} | {seal_us:.1} | {open_us:.1} | {header} | {} |",
        body.len()
    );
}
