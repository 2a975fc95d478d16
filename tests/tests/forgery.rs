//! Messages nobody may forge: a board takes from the broker only what central signed, so
//! anyone who can reach the broker cannot make it forget loans, freeze its catalogue, fetch
//! a "snapshot" elsewhere or obey a command; and a genuine command replayed is not obeyed
//! twice. (Central's side, devices' messages forged or replayed, is in
//! `central/server/tests/serve.rs` and `bad_input.rs`.)

use std::time::Duration;

use rong_protocol::delta::{Delta, Downlink, DownlinkBody};
use rong_protocol::envelope::Signer;
use rong_protocol::event::{Ack, EventBatch};
use rong_protocol::status::{Command, CommandKind, CommandReply};
use rong_protocol::{decode, encode};
use rong_tests::fixtures::{barcode, card, free_adults, free_books_of};
use rong_tests::mqtt::Spy;
use rong_tests::scenario::{wait_drained, wait_synced, BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(60);

/// What a forger can make: the message unsigned, and signed as "central" with its own key.
fn forgeries(topic: &str, body: &[u8]) -> [Vec<u8>; 2] {
    let made_up = rong_identity::KeyPair::generate();
    let now = chrono::Utc::now().timestamp_millis();
    [
        body.to_vec(),
        made_up.seal(&Signer::Central, topic, now, body),
    ]
}

fn rejected(status: &serde_json::Value) -> u64 {
    status["rejected_messages"].as_u64().unwrap_or(0)
}

#[test]
fn a_forged_ack_delta_snapshot_notice_or_command_is_refused_and_loans_still_arrive_once() {
    let mut s = Scenario::start(BrokerKind::Mosquitto, "");
    let a = s.agent("kontum-kiosk-1", "kontum");
    wait_synced(&a);
    // A forger on the broker, reading what the board sends.
    let forger = Spy::connect(
        &s.central.mqtt_url,
        "forger",
        &[
            "rong/v1/kontum/kontum-kiosk-1/events".to_owned(),
            "rong/v1/kontum/kontum-kiosk-1/cmd-reply".to_owned(),
        ],
    );

    // Central goes away (the broker stays): a loan waits in the outbox.
    s.central.stop();
    let patron = card(free_adults(1, 1)[0]);
    let book = barcode(free_books_of("kontum", 1, 1)[0]);
    a.client().checkout(&patron, &book).expect("lent offline");
    wait_until("the loan in the outbox", T, || {
        a.status()["outbox_depth"].as_u64() == Some(1)
    });
    let before = a.status();
    // The forger learns the board's event log from the batch it publishes.
    wait_until("the forger to see the loan go out", T, || {
        !forger.received("/events").is_empty()
    });
    let batch: EventBatch = decode(&forger.received("/events")[0]).expect("an event batch");
    let log = batch.log;

    // A forged ack would make the board forget the loan; a forged delta at u64::MAX would
    // freeze its catalogue; a forged snapshot notice would send it elsewhere; a forged
    // command would reboot it.
    let ack_topic = "rong/v1/kontum/kontum-kiosk-1/ack";
    let deltas_topic = "rong/v1/kontum/deltas";
    let device_deltas = "rong/v1/kontum/kontum-kiosk-1/deltas";
    let cmd_topic = "rong/v1/kontum/kontum-kiosk-1/cmd";
    let ack = encode(&Ack::new(log, 1));
    let freeze = encode(&Downlink::delta(Delta {
        from_version: before["catalogue_version"].as_u64().unwrap_or(0),
        to_version: u64::MAX,
        ops: Vec::new(),
    }));
    let elsewhere = encode(&Downlink::new(DownlinkBody::SnapshotRequired {
        version: u64::MAX,
        path: "@evil.example/x".into(),
    }));
    let command = encode(&Command {
        v: 1,
        id: uuid::Uuid::now_v7().to_string(),
        kind: CommandKind::ShowMessage {
            text: "forged".into(),
            seconds: 5,
        },
    });
    let mut sent = 0;
    for (topic, body) in [
        (ack_topic, &ack),
        (deltas_topic, &freeze),
        (device_deltas, &elsewhere),
        (cmd_topic, &command),
    ] {
        for forged in forgeries(topic, body) {
            forger.publish_raw(topic, forged);
            sent += 1;
        }
    }
    wait_until("the agent to refuse every forgery", T, || {
        rejected(&a.status()) >= rejected(&before) + sent
    });
    let after = a.status();
    assert_eq!(after["outbox_depth"], 1, "the loan is still waiting");
    assert_eq!(after["acked_through"], before["acked_through"]);
    assert_eq!(after["catalogue_version"], before["catalogue_version"]);
    assert!(
        forger.received("/cmd-reply").is_empty(),
        "no forged command was carried out"
    );

    // Central comes back: the loan arrives, once.
    s.central.start();
    wait_drained(&a, T);
    let loans: Vec<_> = s
        .central
        .loans(Some(&patron))
        .into_iter()
        .filter(|l| l["item"] == book.as_str())
        .collect();
    assert_eq!(loans.len(), 1, "{loans:?}");
    // The catalogue still follows central's real deltas.
    let v = s.central.stat("change_version");
    let r = s.central.request(
        "POST",
        &format!("/api/v1/patrons/{}/block", card(free_adults(1, 2)[1])),
        Some(&serde_json::json!({"reason": "Mất thẻ"})),
    );
    assert_eq!(r.status, 200);
    wait_until("central's next delta to arrive", T, || {
        a.status()["catalogue_version"].as_u64().unwrap_or(0) > v
    });
}

#[test]
fn a_genuine_command_replayed_is_not_carried_out_again_even_after_a_restart() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let mut a = s.agent("dakto-kiosk-1", "dakto");
    wait_synced(&a);
    let spy = Spy::connect(
        &s.central.mqtt_url,
        "wire-watcher",
        &[
            "rong/v1/dakto/dakto-kiosk-1/cmd".to_owned(),
            "rong/v1/dakto/dakto-kiosk-1/cmd-reply".to_owned(),
        ],
    );
    let r = s.central.request(
        "POST",
        "/api/v1/devices/dakto-kiosk-1/commands",
        Some(&serde_json::json!({"command": "sync_now"})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let replies = |spy: &Spy| -> Vec<CommandReply> {
        spy.received("/cmd-reply")
            .iter()
            .filter_map(|p| decode(p).ok())
            .collect()
    };
    wait_until("the command's reply", T, || replies(&spy).len() == 1);
    let genuine = spy
        .received_raw("/cmd")
        .pop()
        .expect("the command on the wire");

    // Replayed byte for byte, to the running board and after it restarts.
    let before = rejected(&a.status());
    spy.publish_raw("rong/v1/dakto/dakto-kiosk-1/cmd", genuine.clone());
    wait_until("the replay refused", T, || rejected(&a.status()) > before);
    a.stop();
    a.start();
    wait_synced(&a);
    let before = rejected(&a.status());
    spy.publish_raw("rong/v1/dakto/dakto-kiosk-1/cmd", genuine);
    wait_until("the replay refused after the restart", T, || {
        rejected(&a.status()) > before
    });
    assert_eq!(replies(&spy).len(), 1, "carried out once");
}
