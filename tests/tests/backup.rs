//! Backup and restore with the real programs: loans made before a backup and loans made
//! after it (and acked) all end at central exactly once after a restore from it, because
//! the agent sees central's new epoch, re-sends what it keeps and takes a fresh snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use rong_tests::fixtures::{card, free_adults, free_barcodes_of};
use rong_tests::scenario::{wait_drained, BrokerKind, Scenario};
use rong_tests::{wait_some, wait_until};

const T: Duration = Duration::from_secs(60);

/// How many active loans central holds of each item, for `patrons`.
fn loans_at_central(s: &Scenario, patrons: &[String]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for p in patrons {
        for l in s.central.loans(Some(p)) {
            *seen
                .entry(l["item"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
        }
    }
    seen
}

/// A number from central's `/metrics`.
fn metric(s: &Scenario, name: &str) -> u64 {
    let reply = s.central.request("GET", "/metrics", None);
    let text = String::from_utf8_lossy(&reply.body);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[test]
fn every_loan_ends_at_central_exactly_once_after_a_restore() {
    let mut s = Scenario::start(BrokerKind::Embedded, "");
    let device = "kontum-kiosk-9";
    let agent = s.agent(device, "kontum");
    let patrons: Vec<String> = free_adults(1, 2).into_iter().map(card).collect();
    let items = free_barcodes_of("kontum", 1, 6);
    let lend = |range: std::ops::Range<usize>| {
        let mut c = agent.client();
        for k in range {
            c.checkout(&patrons[k % 2], &items[k]).expect("checkout");
        }
        wait_drained(&agent, T);
    };

    lend(0..3);
    assert_eq!(loans_at_central(&s, &patrons).len(), 3);
    let epoch = agent.status()["central_epoch"].clone();
    assert!(
        epoch.is_string(),
        "the agent knows central's epoch: {epoch}"
    );
    let file = s.tmp.path().join("nightly.db");
    let out = s.central.backup(&file);
    assert!(out.contains("Backed up"), "{out}");
    lend(3..6);
    assert_eq!(
        loans_at_central(&s, &patrons).len(),
        6,
        "acked before the restore"
    );
    assert_eq!(agent.status()["acked_through"], 6);

    let (ok, out) = s.central.restore(&file);
    assert!(!ok, "a restore beside a running central must be refused");
    assert!(out.contains("central is running"), "{out}");

    s.central.stop();
    let (ok, out) = s.central.restore(&file);
    assert!(ok, "{out}");
    assert!(out.contains("kept as"), "{out}");
    s.central.start();

    let new_epoch = wait_some("the agent to see central's new epoch", T, || {
        let e = agent.status()["central_epoch"].clone();
        (e.is_string() && e != epoch).then_some(e)
    });
    assert_ne!(new_epoch, epoch);
    wait_until("the re-sent loans to reach central", T, || {
        loans_at_central(&s, &patrons).len() == 6
    });
    wait_drained(&agent, T);
    let loans = loans_at_central(&s, &patrons);
    for item in &items {
        assert_eq!(loans.get(item), Some(&1), "{item} at central: {loans:?}");
    }
    let events = s.central.events(device);
    let mut ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 6, "{events:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "an event applied twice: {events:?}");
    assert!(
        metric(&s, "rong_events_replayed_total") >= 3,
        "the agent re-sent what the backup already had, and central skipped it"
    );
    wait_until("the agent to take a fresh snapshot", T, || {
        metric(&s, "rong_snapshots_served_total") >= 1
            && agent.status()["catalogue_version"].as_u64().unwrap_or(0) > 0
    });
    // After the snapshot: still each loan once at central, and every one known on the
    // device (kept while unacked, or brought back by the snapshot and the deltas).
    assert_eq!(loans_at_central(&s, &patrons).values().sum::<usize>(), 6);
    wait_until("the agent to hold every loan after its snapshot", T, || {
        items.iter().enumerate().all(|(k, item)| {
            let (code, out) = agent.ctl(&["--json", "loans", "--card", &patrons[k % 2]]);
            code == 0 && out.contains(item.as_str())
        })
    });
}
