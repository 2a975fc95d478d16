//! Central with `tls.enabled`: HTTPS (with HSTS and a content security policy) and the
//! embedded broker behind its TLS front door. A board enrols over HTTPS trusting only
//! central's CA, gets a certificate for its own key, syncs and lends over `mqtts://`, and
//! renews its certificate by itself. The broker lets in only enrolled boards, each as
//! itself and on its own topics, and cuts off a board revoked while connected.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rong_identity::tls::ClientIdentity;
use rong_identity::{EnrolResponse, KeyPair};
use rong_tests::fixtures::{card, free_adults, free_barcodes_of};
use rong_tests::mqtt::{accepted, tls_options, Spy};
use rong_tests::scenario::{wait_synced, BrokerKind, Scenario};
use rong_tests::{http, wait_until};

const T: Duration = Duration::from_secs(60);
const TLS: &str = "[tls]\nenabled = true\n";

/// Central with TLS, its HTTPS trusted by the test's HTTP client.
fn start() -> Scenario {
    let s = Scenario::start(BrokerKind::Embedded, TLS);
    http::trust(s.central.http, &s.central.ca_pem());
    s
}

fn mqtts(s: &Scenario) -> String {
    s.central.mqtt_url.replace("mqtt://", "mqtts://")
}

/// What a plain-HTTP request to `addr` gets back: never an HTTP answer from a TLS port.
fn plain_answer(addr: SocketAddr) -> String {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let _ = tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

fn identity(answer: &EnrolResponse, key: &KeyPair) -> ClientIdentity {
    let cert = &answer.tls.as_ref().expect("a certificate").certificate;
    ClientIdentity::device(cert, key).expect("identity")
}

#[test]
fn a_board_enrols_syncs_lends_and_renews_its_certificate_over_tls() {
    let s = start();
    let ca = s.central.ca_pem();
    let r = http::request_full(s.central.http, "GET", "/opac", &[], None).expect("HTTPS");
    let hsts = r.header("strict-transport-security").unwrap_or("");
    assert!(hsts.starts_with("max-age="), "HSTS: {hsts:?}");
    let csp = r.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "CSP: {csp:?}"
    );
    let plain = plain_answer(s.central.http);
    assert!(
        !plain.contains("HTTP/1.1 200"),
        "plain HTTP answered: {plain}"
    );

    // The board trusts central's CA from its config until enrolment pins it.
    let ca_file = s.tmp.path().join("central-ca.crt");
    std::fs::write(&ca_file, &ca).expect("CA copy");
    let mut a = s.prepare_agent("kontum-kiosk-1", "kontum", "");
    a.use_tls(&ca_file);
    a.start();
    wait_synced(&a);
    let data = a.dir().join("data");
    assert_eq!(
        std::fs::read_to_string(data.join("ca.crt")).expect("pinned CA"),
        ca
    );
    let first_cert = std::fs::read_to_string(data.join("device.crt")).expect("certificate");

    let patrons = free_adults(1, 2);
    let books = free_barcodes_of("kontum", 1, 2);
    let (p1, p2) = (card(patrons[0]), card(patrons[1]));
    a.client().checkout(&p1, &books[0]).expect("checkout");
    wait_until("the loan at central", T, || {
        s.central.loans(Some(&p1)).len() == 1
    });

    // Two thirds of the certificate's life gone: the board renews it at its next start,
    // and goes on syncing with the new one.
    a.stop();
    let validity = data.join("device-cert.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&validity).expect("validity")).expect("json");
    v["issued_ms"] = serde_json::json!(0);
    std::fs::write(&validity, v.to_string()).expect("age the certificate");
    a.start();
    let issued = || {
        std::fs::read(&validity)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["issued_ms"].as_i64())
            .unwrap_or(0)
    };
    wait_until("a renewed certificate", T, || {
        issued() > 0
            && std::fs::read_to_string(data.join("device.crt")).is_ok_and(|c| c != first_cert)
    });
    wait_synced(&a);
    a.client().checkout(&p2, &books[1]).expect("checkout");
    wait_until("the second loan at central", T, || {
        s.central.loans(Some(&p2)).len() == 1
    });
    assert_eq!(s.central.loans(Some(&p1)).len(), 1, "the first loan once");

    // Renewal is a device route: unsigned, it gets nothing.
    let r = http::request(
        s.central.http,
        "POST",
        rong_identity::CERTIFICATE_PATH,
        None,
    )
    .expect("renewal");
    assert_eq!(r.status, 401);
}

/// Whether the broker answers what `send` queues with the packet `acked` looks for (no:
/// it cuts the client off).
fn acknowledged(
    opts: rumqttc::MqttOptions,
    send: impl FnOnce(&rumqttc::Client),
    acked: fn(&rumqttc::Packet) -> bool,
) -> bool {
    let (client, mut conn) = rumqttc::Client::new(opts, 8);
    send(&client);
    for ev in conn.iter().take(20) {
        match ev {
            Ok(rumqttc::Event::Incoming(p)) if acked(&p) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Whether the broker confirms `opts`'s subscription to `filter`.
fn may_subscribe(opts: rumqttc::MqttOptions, filter: &str) -> bool {
    acknowledged(
        opts,
        |c| {
            c.subscribe(filter, rumqttc::QoS::AtLeastOnce)
                .expect("queue the subscription")
        },
        |p| matches!(p, rumqttc::Packet::SubAck(_)),
    )
}

/// Whether the broker acknowledges `opts`'s publish to `topic`.
fn may_publish(opts: rumqttc::MqttOptions, topic: &str) -> bool {
    acknowledged(
        opts,
        |c| {
            c.publish(topic, rumqttc::QoS::AtLeastOnce, false, b"x".to_vec())
                .expect("queue the publish")
        },
        |p| matches!(p, rumqttc::Packet::PubAck(_)),
    )
}

#[test]
fn the_tls_broker_lets_in_only_enrolled_boards_each_as_itself() {
    let s = start();
    let (url, ca) = (mqtts(&s), s.central.ca_pem());
    let (key_a, answer_a) = s.central.enrol_board("kontum", "kontum-kiosk-1");
    let (key_b, answer_b) = s.central.enrol_board("kontum", "kontum-kiosk-2");
    assert_eq!(
        answer_a.tls.as_ref().expect("certificate").ca.trim(),
        ca.trim()
    );

    let as_a = |id: &str| tls_options(&url, id, &ca, Some(identity(&answer_a, &key_a)));
    assert!(accepted(as_a("kontum-kiosk-1")), "A as itself");
    // Its own topics only, and no wildcard.
    assert!(may_subscribe(
        as_a("kontum-kiosk-1"),
        "rong/v1/kontum/deltas"
    ));
    assert!(may_publish(
        as_a("kontum-kiosk-1"),
        "rong/v1/kontum/kontum-kiosk-1/status"
    ));
    assert!(
        !may_subscribe(as_a("kontum-kiosk-1"), "rong/v1/#"),
        "a wildcard"
    );
    assert!(!may_subscribe(
        as_a("kontum-kiosk-1"),
        "rong/v1/kontum/kontum-kiosk-2/ack"
    ));
    assert!(
        !may_publish(
            as_a("kontum-kiosk-1"),
            "rong/v1/kontum/kontum-kiosk-2/events"
        ),
        "as B"
    );
    assert!(
        !may_publish(as_a("kontum-kiosk-1"), "rong/v1/kontum/deltas"),
        "as central"
    );
    assert!(
        !accepted(tls_options(&url, "kontum-kiosk-1", &ca, None)),
        "no certificate"
    );
    assert!(!accepted(as_a("kontum-kiosk-2")), "A's certificate as B");
    assert!(!accepted(as_a("central")), "A's certificate as central");
    assert!(
        !accepted(rong_tests::mqtt::options(
            &s.central.mqtt_url,
            "kontum-kiosk-1"
        )),
        "plain MQTT on the TLS port"
    );
    // A certificate for B's id from a CA central does not know.
    let other = tempfile::tempdir().expect("tempdir");
    let mut stranger = rong_tests::central::Central::prepare(other.path(), None, TLS);
    stranger.tls_init();
    let foreign = rong_tests::mqtt::tls_options(
        &url,
        "kontum-kiosk-2",
        &ca,
        Some(
            ClientIdentity::from_pem(
                &std::fs::read_to_string(stranger.tls_dir().join("client.crt")).expect("crt"),
                &std::fs::read_to_string(stranger.tls_dir().join("client.key")).expect("key"),
            )
            .expect("identity"),
        ),
    );
    assert!(!accepted(foreign), "another CA's certificate");
    stranger.stop();

    // B, connected, is revoked: the broker cuts it off and lets it in no more.
    let b = Spy::with_options(
        tls_options(
            &url,
            "kontum-kiosk-2",
            &ca,
            Some(identity(&answer_b, &key_b)),
        ),
        &["rong/v1/kontum/kontum-kiosk-2/ack".to_owned()],
    );
    assert!(b.connected(), "B connected");
    let r = s
        .central
        .request("POST", "/api/v1/devices/kontum-kiosk-2/revoke", None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    wait_until("B cut off", T, || !b.connected());
    assert!(
        !accepted(tls_options(
            &url,
            "kontum-kiosk-2",
            &ca,
            Some(identity(&answer_b, &key_b))
        )),
        "a revoked board"
    );
    assert!(accepted(as_a("kontum-kiosk-1")), "A still");

    // Enrolled again with a new key, B's old certificate is worthless.
    let (key_b2, answer_b2) = s.central.enrol_board("kontum", "kontum-kiosk-2");
    assert!(accepted(tls_options(
        &url,
        "kontum-kiosk-2",
        &ca,
        Some(identity(&answer_b2, &key_b2))
    )));
    assert!(!accepted(tls_options(
        &url,
        "kontum-kiosk-2",
        &ca,
        Some(identity(&answer_b, &key_b))
    )));
}
