//! The lossy link the upload benchmark runs on (`rong_tests::netns`): a network namespace
//! whose loopback has an Ethernet MTU and drops a chosen share of packets, with nftables
//! counters, removed when it drops. Needs root (CI runs as root); skipped with a message
//! otherwise.

use std::process::Command;

use rong_tests::netns::{self, Netns};
use rong_tests::proc::{bin, run_ok};

fn raw(ns: &Netns, port: u16, bytes: u64) {
    run_ok(
        ns.command(bin("rong-bench-upload")).args([
            "raw",
            "--port",
            &port.to_string(),
            "--bytes",
            &bytes.to_string(),
        ]),
        "the raw transfer",
    );
}

fn namespaces() -> String {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_lossy_namespace_drops_a_tenth_of_its_packets_counts_them_and_goes_away() {
    if !netns::is_root() {
        eprintln!("skipped: network namespaces and nftables need root");
        return;
    }
    if let Err(e) = netns::check_prerequisites() {
        eprintln!("skipped: {e} (scripts/setup.sh installs it)");
        return;
    }
    let name = format!("rong-test-{}", std::process::id());
    // A root container without the right to make namespaces (no CAP_SYS_ADMIN) or without
    // nftables in its kernel cannot build the link: say so rather than fail.
    let ns = match Netns::create(&name, 10) {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("skipped: this machine cannot make the lossy link: {e}");
            return;
        }
    };
    assert!(namespaces().contains(&name));
    assert_eq!(ns.mtu().expect("mtu"), 1500);
    let port = 5000;
    ns.count_port("raw", port).expect("count the port");

    let bytes = 3_000_000;
    raw(&ns, port, bytes);
    let to = ns.counter("raw_to").expect("counter");
    let from = ns.counter("raw_from").expect("counter");
    let dropped = ns.dropped().expect("dropped");
    assert!(to.bytes >= bytes, "{to:?}");
    // Ethernet-sized packets, so that a drop loses one segment.
    assert!(to.bytes / to.packets <= 1500, "{to:?}");
    let share = dropped.packets as f64 / (to.packets + from.packets) as f64;
    assert!(
        (0.06..0.14).contains(&share),
        "dropped {dropped:?} of {to:?} + {from:?}"
    );

    // A clean link drops nothing, and the counters start again from zero.
    ns.set_loss(0).expect("no loss");
    ns.reset_counters().expect("reset");
    raw(&ns, port, bytes);
    assert_eq!(ns.dropped().expect("dropped").packets, 0);
    let to = ns.counter("raw_to").expect("counter");
    assert!(to.bytes >= bytes && to.bytes < bytes * 11 / 10, "{to:?}");

    drop(ns);
    assert!(!namespaces().contains(&name), "{}", namespaces());
}
