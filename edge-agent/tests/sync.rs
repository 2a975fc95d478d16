//! The real agent, in-process, against the test kit's stand-in central.

mod common;

use common::*;
use rong_protocol::delta::{CatchupRequest, Delta, Downlink, Op, Patron};
use rong_protocol::event::{Ack, EventBatch, EventBody};
use rong_protocol::status::{DeviceState, DeviceStatus};
use rong_protocol::topic::Topic;
use rong_protocol::{decode, encode, MAX_PAYLOAD};
use serde_json::json;

fn checkout(id: u64, item: &str) -> serde_json::Value {
    json!({"id": id, "op": "checkout", "card": "P0001", "item": item})
}

#[test]
fn snapshot_checkout_ack_delta_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let central = StandIn::start();
    let agent = RunningAgent::start(agent_config(
        dir.path(),
        central.broker().port(),
        Some(&central.url()),
    ));
    let mut api = agent.api();

    // A new agent asks catch-up from 0, is told to fetch the snapshot, and loads it.
    let status = wait_some("the snapshot", T, || {
        let s = api.status();
        (s["catalogue_version"] == SNAPSHOT_VERSION).then_some(s)
    });
    assert_eq!(status["online"], true);
    let first: CatchupRequest = decode(&central.on("catchup")[0]).unwrap();
    assert_eq!(first.from_version, 0);
    wait_some("catch-up after the snapshot", T, || {
        central
            .on("catchup")
            .iter()
            .any(|p| decode::<CatchupRequest>(p).unwrap().from_version == SNAPSHOT_VERSION)
            .then_some(())
    });

    // The online status is published (retained) with the sync fields.
    let online: DeviceStatus = decode(central.on("status").last().unwrap()).unwrap();
    assert_eq!(online.state, DeviceState::Online);
    assert_eq!(online.device, device_id());

    // A checkout through the socket publishes an EventBatch, and the loan shows.
    let r = api.json(checkout(1, "KT00000001"));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["id"], 1);
    assert_eq!(r["result"]["type"], "checked_out");
    assert_eq!(r["result"]["title"], "Địa chí Kon Tum");
    let batch = wait_some("the event batch", T, || {
        central
            .on("events")
            .first()
            .map(|p| decode::<EventBatch>(p).unwrap())
    });
    assert_eq!(batch.device, device_id());
    assert_eq!(batch.events[0].seq, 1);
    assert!(matches!(
        &batch.events[0].body,
        EventBody::Checkout { item, patron, .. } if item == "KT00000001" && patron == "P0001"
    ));
    let loans = api.json(json!({"id": 2, "op": "loans", "card": "P0001"}));
    assert_eq!(loans["result"]["loans"][0]["item"], "KT00000001", "{loans}");
    assert_eq!(loans["result"]["loans"][0]["overdue"], false);
    assert_eq!(api.status()["outbox_depth"], 1);

    // An ack for another log is ignored; the right one empties the outbox.
    central.publish(
        Topic::Ack(branch_id(), device_id()),
        encode(&Ack::new(uuid::Uuid::now_v7(), 1)),
    );
    central.publish(
        Topic::Ack(branch_id(), device_id()),
        encode(&Ack::new(batch.log, 1)),
    );
    wait_some("the ack", T, || {
        let s = api.status();
        (s["outbox_depth"] == 0 && s["acked_through"] == 1).then_some(())
    });

    // A delta that blocks the patron makes the next checkout fail.
    let block = Downlink::delta(Delta {
        from_version: SNAPSHOT_VERSION,
        to_version: SNAPSHOT_VERSION + 1,
        ops: vec![Op::PutPatron(Patron {
            blocked: Some("lost items".into()),
            ..patron(PATRON)
        })],
    });
    central.publish(Topic::BranchDeltas(branch_id()), encode(&block));
    wait_some("the delta", T, || {
        (api.status()["catalogue_version"] == SNAPSHOT_VERSION + 1).then_some(())
    });
    let r = api.json(checkout(3, "KT00000002"));
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "patron_blocked", "{r}");
    assert_eq!(api.status()["last_seq"], 1, "a refusal writes no event");

    // A delta with a gap makes the agent ask to catch up from its version.
    let gap = Downlink::delta(Delta {
        from_version: 20,
        to_version: 21,
        ops: vec![],
    });
    central.publish(Topic::BranchDeltas(branch_id()), encode(&gap));
    wait_some("the gap catch-up", T, || {
        central
            .on("catchup")
            .iter()
            .any(|p| decode::<CatchupRequest>(p).unwrap().from_version == SNAPSHOT_VERSION + 1)
            .then_some(())
    });
    assert_eq!(api.status()["catalogue_version"], SNAPSHOT_VERSION + 1);

    // Malformed, wrong-version and oversized payloads are counted and change nothing.
    let before = api.status()["rejected_messages"].as_u64().unwrap();
    let big = format!(
        r#"{{"v":1,"log":"{}","acked_through":1,"pad":"{}"}}"#,
        batch.log,
        "x".repeat(MAX_PAYLOAD)
    );
    let wrong_version_ack = format!(r#"{{"v":9,"log":"{}","acked_through":1}}"#, batch.log);
    let bad: Vec<(Topic, Vec<u8>)> = vec![
        (Topic::Ack(branch_id(), device_id()), b"{not json".to_vec()),
        (
            Topic::Ack(branch_id(), device_id()),
            wrong_version_ack.into_bytes(),
        ),
        (Topic::Ack(branch_id(), device_id()), big.into_bytes()),
        (Topic::BranchDeltas(branch_id()), b"[1,2,3]".to_vec()),
        (
            Topic::BranchDeltas(branch_id()),
            br#"{"v":2,"type":"delta","from_version":11,"to_version":12,"ops":[]}"#.to_vec(),
        ),
        (
            Topic::DeviceDeltas(branch_id(), device_id()),
            vec![b' '; MAX_PAYLOAD + 1],
        ),
        // An ack beyond the last seq is refused and counted too.
        (
            Topic::Ack(branch_id(), device_id()),
            encode(&Ack::new(batch.log, 99)),
        ),
    ];
    let n = bad.len() as u64;
    for (topic, payload) in bad {
        central.publish(topic, payload);
    }
    wait_some("the refusals to be counted", T, || {
        (api.status()["rejected_messages"].as_u64().unwrap() == before + n).then_some(())
    });
    let s = api.status();
    assert_eq!(s["catalogue_version"], SNAPSHOT_VERSION + 1);
    assert_eq!(s["acked_through"], 1);
    assert_eq!(s["last_seq"], 1);

    agent.stop();
    // A clean stop leaves the offline status. The agent has sent it before it stops, but
    // central's subscriber may hear it a moment later on a busy machine.
    wait_some("the offline status", T, || {
        let last: DeviceStatus = decode(central.on("status").last()?).ok()?;
        (last.state == DeviceState::Offline).then_some(())
    });
}

#[test]
fn circulation_works_without_a_broker() {
    let dir = tempfile::tempdir().unwrap();
    // Reference data loaded earlier, as after a snapshot.
    seed(&dir.path().join("agent.db"), []);
    let dead_port = free_port();
    let agent = RunningAgent::start(agent_config(dir.path(), dead_port, None));
    let mut api = agent.api();
    for (i, item) in ["KT00000001", "KT00000002", "KT00000003"]
        .iter()
        .enumerate()
    {
        let r = api.json(checkout(i as u64 + 1, item));
        assert_eq!(r["ok"], true, "{r}");
    }
    let r = api.json(json!({"id": 9, "op": "checkin", "item": "KT00000003"}));
    assert_eq!(r["result"]["was_on_loan"], true, "{r}");
    let s = api.status();
    assert_eq!(s["online"], false);
    assert_eq!(s["outbox_depth"], 4);
    assert_eq!(s["last_seq"], 4);
    agent.stop();

    // The outbox survives a restart.
    let store = edge_agent::store::Store::open(&dir.path().join("agent.db")).unwrap();
    assert_eq!(store.last_seq().unwrap(), 4);
    assert_eq!(store.acked_through().unwrap(), 0);
}

#[test]
fn local_api_lines() {
    let dir = tempfile::tempdir().unwrap();
    let agent = RunningAgent::start(agent_config(dir.path(), free_port(), None));
    let mut api = agent.api();

    // A malformed line gets bad_request (id 0 when unreadable); the connection lives on.
    api.send_raw(b"this is not json\n");
    let r = api.read_line().unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(r["id"], 0);
    assert_eq!(r["error"]["code"], "bad_request");
    api.send_raw(b"{\"id\":7,\"op\":\"fly\"}\n");
    let r = api.read_line().unwrap();
    assert_eq!(
        (r["id"].as_u64(), r["ok"].as_bool()),
        (Some(7), Some(false))
    );
    assert_eq!(api.status()["device"], DEVICE);

    // Responses come back in order, each with its id.
    api.send_raw(b"{\"id\":1,\"op\":\"status\"}\n{\"id\":2,\"op\":\"checkin\",\"item\":\"ZZ1\"}\n");
    assert_eq!(api.read_line().unwrap()["id"], 1);
    let r = api.read_line().unwrap();
    assert_eq!(r["id"], 2);
    assert_eq!(r["result"]["title"], serde_json::Value::Null);

    // Pushes reach subscribers.
    let mut watcher = agent.api();
    let r = watcher.json(json!({"id": 1, "op": "subscribe"}));
    assert_eq!(r["ok"], true);
    let r = api.json(json!({"id": 3, "op": "sim_scan", "code": "KT00000001"}));
    assert_eq!(r["ok"], true, "{r}");
    let push = watcher.read_line().unwrap();
    assert_eq!(push, json!({"push": "barcode", "code": "KT00000001"}));
    let r = api.json(json!({"id": 4, "op": "sim_tap", "uid": "04:a2:2b:1a"}));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        watcher.read_line().unwrap(),
        json!({"push": "card_present", "uid": "04A22B1A"})
    );

    // An over-long line gets bad_request and the connection is closed.
    let mut long = vec![b'x'; rong_protocol::api::MAX_LINE + 10];
    long.push(b'\n');
    api.send_raw(&long);
    let r = api.read_line().unwrap();
    assert_eq!(r["error"]["code"], "bad_request");
    assert!(api.read_line().is_none(), "connection closed");

    agent.stop();
    assert!(!dir.path().join("agent.sock").exists(), "socket removed");
}

#[test]
fn heartbeat_and_commands() {
    use rong_protocol::status::{Command, CommandKind, CommandReply};
    let dir = tempfile::tempdir().unwrap();
    let central = StandIn::start();
    let mut config = agent_config(dir.path(), central.broker().port(), Some(&central.url()));
    config.sync.heartbeat_secs = 1;
    let agent = RunningAgent::start(config);
    let mut api = agent.api();
    let mut watcher = agent.api();
    assert_eq!(
        watcher.json(json!({"id": 1, "op": "subscribe"}))["ok"],
        true
    );
    wait_some("online", T, || {
        (api.status()["online"] == true).then_some(())
    });

    // Heartbeats keep coming, with the catalogue version and hardware health.
    wait_some("a heartbeat with the snapshot version", T, || {
        central.on("status").iter().rev().find_map(|p| {
            let s: DeviceStatus = decode(p).unwrap();
            (s.catalogue_version == SNAPSHOT_VERSION && s.state == DeviceState::Online).then_some(s)
        })
    });
    let s: DeviceStatus = decode(central.on("status").last().unwrap()).unwrap();
    assert!(s.hardware.contains_key("barcode") && s.hardware.contains_key("card"));
    assert!(s.disk_free_bytes.is_some());
    assert!(s.time_synced);

    let cmd = |id: &str, kind| Command {
        v: 1,
        id: id.into(),
        kind,
    };
    let cmd_topic = Topic::Cmd(branch_id(), device_id());
    central.publish(
        cmd_topic.clone(),
        encode(&cmd(
            "c1",
            CommandKind::ShowMessage {
                text: "Thư viện đóng cửa lúc 17:00".into(),
                seconds: 30,
            },
        )),
    );
    central.publish(cmd_topic.clone(), encode(&cmd("c2", CommandKind::Reboot)));
    central.publish(cmd_topic.clone(), encode(&cmd("c3", CommandKind::SyncNow)));
    central.publish(cmd_topic, encode(&cmd("c4", CommandKind::ReloadConfig)));
    let replies = wait_some("four replies", T, || {
        let r: Vec<CommandReply> = central
            .on("cmd-reply")
            .iter()
            .map(|p| decode(p).unwrap())
            .collect();
        (r.len() == 4).then_some(r)
    });
    let by_id = |id: &str| replies.iter().find(|r| r.id == id).unwrap().clone();
    assert!(by_id("c1").ok);
    assert!(!by_id("c2").ok, "reboot is not permitted by default");
    assert!(by_id("c2").message.contains("not permitted"));
    assert!(by_id("c3").ok);
    assert!(!by_id("c4").ok, "started without a config file");
    assert_eq!(
        watcher.read_line().unwrap(),
        json!({"push": "message", "text": "Thư viện đóng cửa lúc 17:00", "seconds": 30})
    );
    agent.stop();
}

/// A central with an empty change log (version 0) answers every catch-up with "fetch the
/// snapshot". The agent must load it once, not ask again and download it for ever.
/// A stand-in central at version 0 and an agent that has loaded its snapshot (its patron
/// P0001 is known).
fn agent_with_snapshot(dir: &std::path::Path) -> (StandIn, RunningAgent, ApiClient) {
    let central = StandIn::builder().version(0).start();
    let agent = RunningAgent::start(agent_config(
        dir,
        central.broker().port(),
        Some(&central.url()),
    ));
    let mut api = agent.api();
    wait_some("the snapshot", T, || {
        let r = api.json(json!({"id": 1, "op": "loans", "card": "P0001"}));
        (r["ok"] == true).then_some(())
    });
    (central, agent, api)
}

#[test]
fn a_snapshot_at_version_zero_is_downloaded_once() {
    let dir = tempfile::tempdir().unwrap();
    let (central, agent, mut api) = agent_with_snapshot(dir.path());
    // A live delta moves the agent on from 0; a snapshot loop would keep resetting it.
    let first = Downlink::delta(Delta {
        from_version: 0,
        to_version: 1,
        ops: vec![Op::PutPatron(patron("P0002"))],
    });
    central.publish(Topic::BranchDeltas(branch_id()), encode(&first));
    wait_some("the delta", T, || {
        (api.status()["catalogue_version"] == 1).then_some(())
    });
    // Sync now asks from 1. The agent publishes in order, so by the time central sees that,
    // it has seen every catch-up the agent sent before.
    let r = api.json(json!({"id": 2, "op": "sync_now"}));
    assert_eq!(r["ok"], true, "{r}");
    let from = |v: u64| {
        central
            .on("catchup")
            .iter()
            .filter(|p| decode::<CatchupRequest>(p).unwrap().from_version == v)
            .count()
    };
    wait_some("the catch-up from 1", T, || (from(1) > 0).then_some(()));
    assert_eq!(from(0), 1, "asked for the snapshot again after loading it");
    assert_eq!(
        central.snapshot_downloads(),
        1,
        "the snapshot was downloaded again"
    );
    agent.stop();
}

/// A `SnapshotRequired` naming any location but this branch's own snapshot path (another
/// host, another branch) is ignored and counted: nothing is downloaded.
#[test]
fn a_snapshot_offer_with_a_foreign_location_is_ignored() {
    use rong_protocol::delta::DownlinkBody;
    let dir = tempfile::tempdir().unwrap();
    let (central, agent, mut api) = agent_with_snapshot(dir.path());
    let rejected = |api: &mut ApiClient| api.status()["rejected_messages"].as_u64().unwrap_or(0);
    let before = rejected(&mut api);
    for (i, path) in [
        "@evil.host/x",
        "http://evil.host/api/v1/snapshot/kontum",
        "/api/v1/snapshot/../../x",
        "/api/v1/snapshot/dakto",
    ]
    .into_iter()
    .enumerate()
    {
        let offer = Downlink::new(DownlinkBody::SnapshotRequired {
            version: 99,
            path: path.into(),
        });
        central.publish(
            Topic::DeviceDeltas(branch_id(), device_id()),
            encode(&offer),
        );
        wait_some("the offer counted as rejected", T, || {
            (rejected(&mut api) > before + i as u64).then_some(())
        });
    }
    assert_eq!(
        central.snapshot_downloads(),
        1,
        "only the first, own snapshot"
    );
    assert_eq!(api.status()["catalogue_version"], 0);
    agent.stop();
}

/// A snapshot over `central.snapshot_max_bytes` is refused while it downloads; the
/// reference data held is kept, and no partial file is left.
#[test]
fn an_oversize_snapshot_is_refused_and_the_data_held_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let central = StandIn::builder().version(0).start();
    let mut config = agent_config(dir.path(), central.broker().port(), Some(&central.url()));
    config.central.snapshot_max_bytes = 16;
    let agent = RunningAgent::start(config);
    let mut api = agent.api();
    // The first offer is refused: the snapshot is larger than 16 bytes.
    wait_some("the snapshot refused", T, || {
        (api.status()["rejected_messages"].as_u64() >= Some(1)).then_some(())
    });
    let r = api.json(json!({"id": 1, "op": "loans", "card": "P0001"}));
    assert_eq!(r["ok"], false, "{r}");
    // Data that came by delta is held, and stays after another oversize snapshot.
    let delta = Downlink::delta(Delta {
        from_version: 0,
        to_version: 1,
        ops: vec![Op::PutPatron(patron("P0002"))],
    });
    central.publish(Topic::BranchDeltas(branch_id()), encode(&delta));
    wait_some("the delta", T, || {
        (api.status()["catalogue_version"] == 1).then_some(())
    });
    let offer = Downlink::new(rong_protocol::delta::DownlinkBody::SnapshotRequired {
        version: 7,
        path: format!("/api/v1/snapshot/{}", branch_id()),
    });
    let before = api.status()["rejected_messages"].as_u64().unwrap_or(0);
    central.publish(
        Topic::DeviceDeltas(branch_id(), device_id()),
        encode(&offer),
    );
    wait_some("the second snapshot refused", T, || {
        (api.status()["rejected_messages"].as_u64() > Some(before)).then_some(())
    });
    assert_eq!(api.status()["catalogue_version"], 1);
    let r = api.json(json!({"id": 2, "op": "loans", "card": "P0002"}));
    assert_eq!(r["ok"], true, "{r}");
    assert!(!dir.path().join("snapshot.download").exists());
    agent.stop();
}
