//! Mosquitto with the ACL that `central device acl` writes and accounts per device: a
//! device can neither publish on another device's or branch's topics nor read anything but
//! its own downlinks and its branch's deltas (`rong/v1/#` included); a revoked device gets
//! no topic; a client with no account is refused.

use std::time::Duration;

use rong_tests::central::{Broker, Central};
use rong_tests::mosquitto::{password_file, Mosquitto};
use rong_tests::mqtt::Spy;
use rong_tests::proc::bin;
use rong_tests::scenario::{BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(30);

/// Everything `spy` received, as (topic suffix ignored) payload text.
fn texts(spy: &Spy) -> Vec<String> {
    spy.received("")
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// Whether the broker at `url` lets `id` in with `password` (`None`: no credentials).
fn accepted(url: &str, id: &str, password: Option<&str>) -> bool {
    let mut opts = rong_tests::mqtt::options(url, id);
    if let Some(p) = password {
        opts.set_credentials(id, p);
    }
    rong_tests::mqtt::accepted(opts)
}

/// Publishes once as `id` and waits for the broker's acknowledgement (Mosquitto
/// acknowledges a publish its ACL drops too, after dropping it).
fn publish_acknowledged(url: &str, id: &str, password: &str, topic: &str, payload: &str) {
    let mut opts = rong_tests::mqtt::options(url, id);
    opts.set_credentials(id, password);
    let (client, mut conn) = rumqttc::Client::new(opts, 8);
    client
        .publish(
            topic,
            rumqttc::QoS::AtLeastOnce,
            false,
            payload.as_bytes().to_vec(),
        )
        .expect("queue the publish");
    for ev in conn.iter().take(20) {
        match ev {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => return,
            Ok(_) => {}
            Err(e) => panic!("{id} lost its connection: {e}"),
        }
    }
    panic!("no acknowledgement for {id}'s publish");
}

#[test]
fn on_mosquitto_a_device_reaches_only_its_own_topics() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    for (branch, device) in [
        ("kontum", "kontum-kiosk-1"),
        ("dakto", "dakto-kiosk-1"),
        ("kontum", "kontum-kiosk-2"),
    ] {
        s.central.enrol_device(branch, device);
    }
    let config = s.central.dir().join("central.toml");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin("central"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run central");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    run(&["device", "revoke", "kontum-kiosk-2"]);
    let acl = run(&["device", "acl"]);
    assert!(
        acl.contains("user kontum-kiosk-1") && !acl.contains("kontum-kiosk-2"),
        "{acl}"
    );

    let dir = s.tmp.path().join("locked");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (acl_file, passwd) = (dir.join("rong.acl"), dir.join("rong.passwd"));
    std::fs::write(&acl_file, &acl).expect("write the ACL");
    password_file(
        &passwd,
        &[
            ("central", "central-secret"),
            ("kontum-kiosk-1", "a-secret"),
            ("dakto-kiosk-1", "b-secret"),
            ("kontum-kiosk-2", "revoked-secret"),
        ],
    );
    let broker = Mosquitto::start_locked(&dir, &passwd, &acl_file);
    let url = broker.url();

    assert!(!accepted(&url, "stranger", None), "no account, no entry");
    assert!(
        !accepted(&url, "kontum-kiosk-1", Some("wrong")),
        "a wrong password"
    );
    let central =
        Spy::connect_with_password(&url, "central", "central-secret", &["rong/v1/#".into()]);
    let a = Spy::connect_with_password(
        &url,
        "kontum-kiosk-1",
        "a-secret",
        &[
            "rong/v1/#".into(),
            "rong/v1/dakto/deltas".into(),
            "rong/v1/dakto/dakto-kiosk-1/ack".into(),
            "rong/v1/kontum/deltas".into(),
            "rong/v1/kontum/kontum-kiosk-1/ack".into(),
        ],
    );

    // A publishes as B, as itself on another branch, then on its own topic; the revoked
    // board on what was its own.
    a.publish_raw("rong/v1/dakto/dakto-kiosk-1/events", "a as b");
    a.publish_raw("rong/v1/dakto/kontum-kiosk-1/events", "a on dakto");
    publish_acknowledged(
        &url,
        "kontum-kiosk-2",
        "revoked-secret",
        "rong/v1/kontum/kontum-kiosk-2/events",
        "revoked",
    );
    a.publish_raw("rong/v1/kontum/kontum-kiosk-1/events", "a own");
    // Central sends to B and its branch, then to A and its branch.
    central.publish_raw("rong/v1/dakto/deltas", "dakto delta");
    central.publish_raw("rong/v1/dakto/dakto-kiosk-1/ack", "b ack");
    central.publish_raw("rong/v1/kontum/deltas", "kontum delta");
    central.publish_raw("rong/v1/kontum/kontum-kiosk-1/ack", "a ack");

    // Each client's messages keep their order, so once the last of each has arrived, any
    // earlier one that was allowed would have too.
    wait_until("A's own event at central", T, || {
        texts(&central).contains(&"a own".to_owned())
    });
    wait_until("A's ack and branch delta at A", T, || {
        let got = texts(&a);
        got.contains(&"a ack".to_owned()) && got.contains(&"kontum delta".to_owned())
    });
    let at_central = texts(&central);
    for forged in ["a as b", "a on dakto"] {
        assert!(
            !at_central.contains(&forged.to_owned()),
            "{forged} reached central"
        );
    }
    // The revoked board's message was handled before A's own was sent.
    assert!(
        !at_central.contains(&"revoked".to_owned()),
        "a revoked board published"
    );
    let at_a = texts(&a);
    for other in ["dakto delta", "b ack", "a as b", "a on dakto"] {
        assert!(
            !at_a.contains(&other.to_owned()),
            "A read {other:?}: {at_a:?}"
        );
    }
}

/// Central keeps Mosquitto's ACL (`broker.acl_file`, reloaded by `broker.acl_reload`): an
/// enrolled board gets its topics, and once revoked it loses them at once, on the broker.
#[test]
fn central_keeps_the_acl_and_a_revoked_board_loses_its_topics_on_the_broker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (acl_file, passwd) = (dir.join("rong.acl"), dir.join("rong.passwd"));
    std::fs::write(&acl_file, "user central\ntopic readwrite rong/v1/#\n").expect("ACL");
    password_file(
        &passwd,
        &[
            ("central", "central-secret"),
            ("kontum-kiosk-1", "a-secret"),
        ],
    );
    let broker = Mosquitto::start_locked(dir, &passwd, &acl_file);
    let url = broker.url();
    let mut central = Central::prepare(dir, Some(Broker::External(url.clone())), "");
    central.seed(60, 30);
    for (k, v) in [
        ("RONG_MQTT_USERNAME", "central".to_owned()),
        ("RONG_MQTT_PASSWORD", "central-secret".to_owned()),
        ("RONG_BROKER_ACL_FILE", acl_file.display().to_string()),
        (
            "RONG_BROKER_ACL_RELOAD",
            format!("kill -HUP {}", broker.pid()),
        ),
    ] {
        central.set_env(k, &v);
    }
    central.start();
    let topic = "rong/v1/kontum/kontum-kiosk-1/status";
    let watcher = Spy::connect_as(
        &url,
        "watcher",
        "central",
        "central-secret",
        &[topic.into()],
    );
    let seen = |prefix: &str| {
        watcher
            .received("/status")
            .iter()
            .any(|p| p.starts_with(prefix.as_bytes()))
    };
    // Whether the board's next message reaches the watcher: it is sent and acknowledged,
    // then the watcher sends a fence after it; the board's, if allowed, arrives first.
    let n = std::cell::Cell::new(0);
    let passes = || {
        n.set(n.get() + 1);
        let (probe, fence) = (format!("probe-{}", n.get()), format!("fence-{}", n.get()));
        publish_acknowledged(&url, "kontum-kiosk-1", "a-secret", topic, &probe);
        watcher.publish_raw(topic, fence.clone());
        wait_until("the fence", T, || seen(&fence));
        seen(&probe)
    };
    assert!(!passes(), "not enrolled: no topic");

    central.enrol_device("kontum", "kontum-kiosk-1");
    wait_until("the enrolled board allowed on the broker", T, &passes);
    let acl = std::fs::read_to_string(&acl_file).expect("the ACL");
    assert!(acl.contains("user kontum-kiosk-1"), "{acl}");

    let r = central.request("POST", "/api/v1/devices/kontum-kiosk-1/revoke", None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let acl = std::fs::read_to_string(&acl_file).expect("the ACL");
    assert!(
        !acl.contains("kontum-kiosk-1"),
        "rewritten before the answer: {acl}"
    );
    wait_until("the revoked board refused on the broker", T, || !passes());
}

/// The production config shipped in `images/mosquitto/rong.conf`, run as shipped (paths and
/// port replaced): MQTT over TLS only, a certificate from central's CA required, its common
/// name the account. Central logs in with its own certificate and keeps the ACL; a board
/// enrolled over HTTPS lends through it; a board reads nothing of another branch even with
/// `rong/v1/#`; no certificate, or another CA's, gets no connection.
#[test]
fn on_the_shipped_tls_config_boards_and_central_get_in_by_certificate_only() {
    use rong_identity::tls::ClientIdentity;
    use rong_tests::mqtt::tls_options;

    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let acl_file = dir.join("rong.acl");
    std::fs::write(&acl_file, "user central\ntopic readwrite rong/v1/#\n").expect("ACL");
    let port = rong_tests::free_port();
    let url = format!("mqtts://127.0.0.1:{port}");
    let mut central = Central::prepare(
        dir,
        Some(Broker::External(url.clone())),
        "[tls]\nenabled = true\n",
    );
    central.seed(rong_tests::scenario::ITEMS, rong_tests::scenario::PATRONS);
    // Central's CA and certificates before its first start, for Mosquitto to load.
    let printed = central.tls_init();
    assert!(printed.contains("CA SHA-256: "), "{printed}");
    let broker = Mosquitto::start_shipped(dir, port, &central.tls_dir(), &acl_file);
    central.set_env("RONG_BROKER_ACL_FILE", &acl_file.display().to_string());
    central.set_env(
        "RONG_BROKER_ACL_RELOAD",
        &format!("kill -HUP {}", broker.pid()),
    );
    central.start();
    let ca = central.ca_pem();
    rong_tests::http::trust(central.http, &ca);

    // A board on another branch, played by the test, listening to everything.
    let (key, answer) = central.enrol_board("dakto", "dakto-kiosk-1");
    let cert = answer.tls.expect("a certificate").certificate;
    let b_opts = || {
        tls_options(
            &url,
            "dakto-kiosk-1",
            &ca,
            Some(ClientIdentity::device(&cert, &key).expect("identity")),
        )
    };
    wait_until("the dakto board let in", T, || {
        rong_tests::mqtt::accepted(b_opts())
    });
    let b = Spy::with_options(b_opts(), &["rong/v1/#".into()]);

    // A kiosk enrols over HTTPS and lends through Mosquitto.
    let ca_file = dir.join("central-ca.crt");
    std::fs::write(&ca_file, &ca).expect("CA copy");
    let mut a = rong_tests::Agent::prepare_enrolled(
        dir,
        &central,
        "kontum-kiosk-1",
        "kontum",
        &central.http.to_string(),
        "",
    );
    a.use_tls(&ca_file);
    a.start();
    rong_tests::scenario::wait_synced(&a);
    let patron = rong_tests::fixtures::card(rong_tests::fixtures::free_adults(1, 1)[0]);
    let item = &rong_tests::fixtures::free_barcodes_of("kontum", 1, 1)[0];
    a.client().checkout(&patron, item).expect("checkout");
    wait_until("the loan at central", T, || {
        central.loans(Some(&patron)).len() == 1
    });
    assert!(
        texts(&b).is_empty(),
        "the dakto board read kontum's traffic: {:?}",
        texts(&b)
    );

    assert!(
        !rong_tests::mqtt::accepted(tls_options(&url, "x", &ca, None)),
        "no certificate"
    );
    assert!(
        !accepted(&url.replace("mqtts", "mqtt"), "x", None),
        "no TLS"
    );
    let other = tempfile::tempdir().expect("tempdir");
    let stranger = Central::prepare(other.path(), None, "[tls]\nenabled = true\n");
    stranger.tls_init();
    let read = |f: &str| std::fs::read_to_string(stranger.tls_dir().join(f)).expect("file");
    let foreign = ClientIdentity::from_pem(&read("client.crt"), &read("client.key")).expect("id");
    assert!(
        !rong_tests::mqtt::accepted(tls_options(&url, "central", &ca, Some(foreign))),
        "another CA's certificate"
    );
}
