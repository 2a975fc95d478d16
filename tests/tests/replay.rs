//! A device's events replayed, and a device clock that cannot be right: central applies
//! each event once, and corrects due dates made by an implausible clock.

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use rong_protocol::event::{Ack, Event, EventBatch, EventBody};
use rong_protocol::{decode, encode, DeviceId};
use rong_tests::fixtures::{barcode, card, free_adults, free_barcodes_of, free_books_of};
use rong_tests::mqtt::Spy;
use rong_tests::scenario::{BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(30);

fn checkout(
    seq: u64,
    at: chrono::DateTime<Utc>,
    clock_synced: bool,
    item: &str,
    patron: &str,
    due_days: i64,
) -> Event {
    Event {
        seq,
        id: uuid::Uuid::now_v7(),
        at: at.timestamp_millis(),
        clock_synced,
        body: EventBody::Checkout {
            item: item.into(),
            patron: patron.into(),
            due: at.date_naive() + Days::days(due_days),
        },
    }
}

fn acks(spy: &Spy) -> Vec<u64> {
    spy.received("/ack")
        .iter()
        .filter_map(|p| decode::<Ack>(p).ok())
        .map(|a| a.acked_through)
        .collect()
}

/// A fresh scenario and a spy that speaks for `device` of `branch` and hears its acks;
/// also the device's id and its events topic.
fn posing_as(branch: &str, device: &str) -> (Scenario, Spy, DeviceId, String) {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let signer = s.central.enrol_device(branch, device);
    let spy = Spy::connect(
        &s.central.mqtt_url,
        device,
        &[format!("rong/v1/{branch}/{device}/ack")],
    )
    .signed_by(signer);
    let dev = DeviceId::new(device).expect("id");
    (s, spy, dev, format!("rong/v1/{branch}/{device}/events"))
}

#[test]
fn replayed_events_are_applied_once() {
    let device = "dakto-kiosk-7";
    let (s, spy, dev, topic) = posing_as("dakto", device);
    let patrons = free_adults(1, 3);
    let items = free_barcodes_of("dakto", 1, 3);
    let log = uuid::Uuid::now_v7();
    let now = Utc::now();
    let events: Vec<Event> = (0..3)
        .map(|k| checkout(k as u64 + 1, now, true, &items[k], &card(patrons[k]), 21))
        .collect();

    spy.publish(
        &topic,
        encode(&EventBatch::new(dev.clone(), log, events[..2].to_vec())),
    );
    wait_until("the first ack", T, || acks(&spy).contains(&2));
    // The same batch again (a lost ack), then an overlapping one.
    spy.publish(
        &topic,
        encode(&EventBatch::new(dev.clone(), log, events[..2].to_vec())),
    );
    spy.publish(&topic, encode(&EventBatch::new(dev, log, events.clone())));
    wait_until("the ack through 3", T, || acks(&spy).contains(&3));
    wait_until("central to count the replays", T, || {
        s.central.stat("events_replayed") >= 4
    });

    let held = s.central.events(device);
    assert_eq!(held.len(), 3, "{held:?}");
    for (k, e) in held.iter().enumerate() {
        assert_eq!(e["event_id"], events[k].id.to_string());
    }
    for (k, item) in items.iter().enumerate() {
        let loans = s.central.loans(Some(&card(patrons[k])));
        assert_eq!(loans.len(), 1);
        assert_eq!(loans[0]["item"], item.as_str());
    }
}

#[test]
fn an_implausible_clock_gets_its_due_date_corrected() {
    let (s, spy, dev, topic) = posing_as("sathay", "sathay-kiosk-7");
    let patron = card(free_adults(1, 1)[0]);
    let item = barcode(free_books_of("sathay", 1, 1)[0]);
    // A board that booted with no network and a clock four years fast.
    let wrong = Utc::now() + Days::days(4 * 365);
    let ev = checkout(1, wrong, false, &item, &patron, 21);
    spy.publish(
        &topic,
        encode(&EventBatch::new(dev, uuid::Uuid::now_v7(), vec![ev])),
    );
    wait_until("the ack", T, || acks(&spy).contains(&1));

    let loans = s.central.loans(Some(&patron));
    assert_eq!(loans.len(), 1);
    let due: chrono::NaiveDate = loans[0]["due"]
        .as_str()
        .expect("due")
        .parse()
        .expect("date");
    let today = Utc::now().date_naive();
    assert!(
        due > today && due <= today + Days::days(40),
        "due {due} was not corrected to central's calendar"
    );
    let notices = s.central.get("/api/v1/notices?kind=clock_corrected");
    assert_eq!(notices.as_array().map(Vec::len), Some(1), "{notices}");
}
