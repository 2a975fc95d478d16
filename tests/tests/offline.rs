//! The uplink is down for a whole scenario while two devices lend and take back 200 times.
//! When it comes back, central holds exactly those 200 events, each once, and both
//! outboxes are empty. Run against the embedded broker and against Mosquitto.

use std::collections::BTreeSet;
use std::time::Duration;

use rong_tests::fixtures::{barcode, card, free_adults, free_books};
use rong_tests::scenario::{wait_drained, BrokerKind, Scenario};
use rong_tests::{wait_until, Agent};

fn lend_and_return(agent: &Agent, patrons: &[usize], items: &[usize]) {
    let mut c = agent.client();
    for (k, item) in items.iter().enumerate() {
        let patron = card(patrons[k % patrons.len()]);
        c.checkout(&patron, &barcode(*item))
            .unwrap_or_else(|e| panic!("offline checkout {k} refused: {e}"));
    }
    for item in items {
        c.checkin(&barcode(*item)).expect("offline checkin");
    }
}

fn scenario(broker: BrokerKind) {
    let mut s = Scenario::start(broker, "");
    let a = s.agent("dakto-kiosk-1", "dakto");
    let b = s.agent("dakha-kiosk-1", "dakha");

    s.link_down();
    wait_until(
        "both agents to notice the link is down",
        Duration::from_secs(60),
        || a.status()["online"] == false && b.status()["online"] == false,
    );

    let patrons = free_adults(1, 20);
    let items = free_books(1, 100);
    lend_and_return(&a, &patrons[..10], &items[..50]);
    lend_and_return(&b, &patrons[10..], &items[50..]);
    assert_eq!(a.status()["outbox_depth"], 100);
    assert_eq!(b.status()["outbox_depth"], 100);

    s.link_up();
    let t = Duration::from_secs(90);
    wait_drained(&a, t);
    wait_drained(&b, t);

    for agent in [&a, &b] {
        let events = s.central.events(&agent.device);
        assert_eq!(events.len(), 100, "{} events at central", agent.device);
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());
        let ids: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| e["event_id"].as_str())
            .collect();
        assert_eq!(ids.len(), 100, "event ids are unique");
    }
    assert_eq!(s.central.stat("events_applied"), 200);
    // Every loan was returned, so none is active for these patrons.
    for p in &patrons {
        assert!(s.central.loans(Some(&card(*p))).is_empty());
    }
}

rong_tests::broker_tests!(scenario:
    offline_200_events_embedded_broker => Embedded,
    offline_200_events_mosquitto => Mosquitto,
);
