//! `kill -9` of the agent at random points in a stream of checkouts and returns, 20 rounds:
//! no committed loan is lost and none is applied twice. Against both brokers.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rong_protocol::api::Reply;
use rong_tests::fixtures::{barcode, card, free_adults, free_books};
use rong_tests::scenario::{wait_drained, BrokerKind, Scenario};
use rong_tests::wait_until;

const ROUNDS: usize = 20;

/// One confirmed operation: (item, "checkout" | "checkin").
type Confirmed = Arc<Mutex<Vec<(String, &'static str)>>>;

/// Streams checkouts and checkins until the connection dies, recording each confirmed one.
fn stream(socket: &Path, patrons: &[usize], items: &[usize], done: &Confirmed, stop: &AtomicBool) {
    let Ok(mut c) = rong_tests::ApiClient::connect(socket) else {
        return;
    };
    // Continue from where the last round left off: items on loan get returned first.
    let mut on_loan: BTreeMap<String, bool> = BTreeMap::new();
    if let Ok(d) = done.lock() {
        for (item, kind) in d.iter() {
            on_loan.insert(item.clone(), *kind == "checkout");
        }
    }
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let item = barcode(items[k % items.len()]);
        let lent = on_loan.get(&item).copied().unwrap_or(false);
        let result = if lent {
            c.try_call(rong_protocol::api::RequestOp::Checkin { item: item.clone() })
        } else {
            let who = rong_tests::agent::card_who(&card(patrons[k % patrons.len()]));
            c.try_call(rong_protocol::api::RequestOp::Checkout {
                who,
                item: item.clone(),
            })
        };
        let Ok(resp) = result else { return };
        match rong_tests::agent::outcome(resp) {
            Ok(Reply::CheckedOut { .. }) => {
                on_loan.insert(item.clone(), true);
                done.lock().expect("lock").push((item, "checkout"));
            }
            Ok(Reply::CheckedIn { .. }) => {
                on_loan.insert(item.clone(), false);
                done.lock().expect("lock").push((item, "checkin"));
            }
            // The checkout before the kill committed, but its answer was lost with the agent.
            Err(e) if e == "already_on_loan" => {
                on_loan.insert(item, true);
            }
            Ok(other) => panic!("unexpected reply {other:?}"),
            Err(e) => panic!("refused {item}: {e}"),
        }
        k += 1;
    }
}

fn scenario(broker: BrokerKind) {
    let s = Scenario::start(broker, "");
    let mut agent = s.agent("ngochoi-kiosk-1", "ngochoi");
    let patrons = free_adults(100, 12);
    let items = free_books(300, 40);
    let done: Confirmed = Arc::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);

    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let (socket, p, i, d, st) = (
                agent.socket.clone(),
                patrons.clone(),
                items.clone(),
                done.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || stream(&socket, &p, &i, &d, &st))
        };
        // Let the stream run for a random while, then pull the plug.
        let before = done.lock().expect("lock").len();
        let target = before + rng.gen_range(1..15);
        wait_until(
            "the stream to make progress",
            Duration::from_secs(30),
            || done.lock().map(|d| d.len() >= target).unwrap_or(false),
        );
        agent.kill9();
        stop.store(true, Ordering::Relaxed);
        let _ = worker.join();
        agent.start();
        eprintln!(
            "round {round}: {} confirmed operations so far",
            done.lock().expect("lock").len()
        );
    }

    wait_drained(&agent, Duration::from_secs(60));
    let confirmed = done.lock().expect("lock").clone();
    let events = s.central.events(&agent.device);
    let last_seq = agent.status()["last_seq"].as_u64().expect("last_seq");
    assert_eq!(
        events.len() as u64,
        last_seq,
        "central holds every event the agent wrote, once"
    );
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (1..=last_seq).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    // Every confirmed operation is at central, in order. Central may hold a few more: an
    // operation committed just before the kill, whose answer never reached the client.
    let mut at_central = events.iter().map(|e| {
        (
            e["kind"].as_str().unwrap_or_default().to_owned(),
            e["item"].as_str().map(str::to_owned),
        )
    });
    for (item, kind) in &confirmed {
        assert!(
            at_central.any(|(k, i)| k == *kind && i.as_deref() == Some(item.as_str())),
            "confirmed {kind} of {item} is missing at central"
        );
    }
    assert!(
        confirmed.len() >= ROUNDS,
        "the stream made too little progress"
    );
}

rong_tests::broker_tests!(scenario:
    kill9_rounds_embedded_broker => Embedded,
    kill9_rounds_mosquitto => Mosquitto,
);
