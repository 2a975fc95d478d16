//! A board enrols at its first start with a one-time code from `central device enrol`:
//! its key stays on the board (mode 0600), the code is spent, and a board given a code that
//! does not work starts without syncing and says `unenrolled`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use rong_tests::scenario::{BrokerKind, Scenario};
use rong_tests::wait_until;

const T: Duration = Duration::from_secs(30);

#[test]
fn a_board_enrols_once_and_a_refused_code_leaves_it_unenrolled() {
    let s = Scenario::start(BrokerKind::Embedded, "");
    let agent = s.agent("kontum-kiosk-1", "kontum");
    let data = agent.dir().join("data");
    let mode = std::fs::metadata(data.join("device.key"))
        .expect("the board's key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("identity.json")).expect("identity"))
            .expect("json");
    assert_eq!(identity["device"], "kontum-kiosk-1");
    assert_eq!(identity["branch"], "kontum");
    assert_eq!(agent.status()["identity"], "enrolled");

    // The first board's code, spent: a second board given it stays unenrolled.
    let toml = std::fs::read_to_string(agent.dir().join("agent.toml")).expect("config");
    let spent = toml
        .lines()
        .find(|l| l.starts_with("enrolment_code"))
        .expect("the code in the config")
        .to_owned();
    let mut second = s.prepare_agent("kontum-kiosk-2", "kontum", "");
    let path = second.dir().join("agent.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("enrolment_code") {
                spent.clone()
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(&path, text.join("\n")).expect("write config");
    second.start();
    let status = second.status();
    assert_eq!(status["identity"], "unenrolled", "{status}");
    assert_eq!(status["online"], false);
    assert!(!second.dir().join("data/identity.json").exists());
    // The first board syncs on: a loan reaches central.
    let patron = rong_tests::fixtures::card(rong_tests::fixtures::free_adults(1, 1)[0]);
    let item = &rong_tests::fixtures::free_barcodes_of("kontum", 1, 1)[0];
    agent.client().checkout(&patron, item).expect("checkout");
    wait_until("the loan at central", T, || {
        s.central.loans(Some(&patron)).len() == 1
    });
    let devices = s.central.get("/api/v1/devices");
    assert!(
        !devices.to_string().contains("kontum-kiosk-2"),
        "the refused board is not registered: {devices}"
    );

    // Given a good code on the command line, the unenrolled board enrols and syncs.
    let (code, out) = second.ctl(&["enrol", "not-a-code"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("not an enrolment code"), "{out}");
    let fresh = s.central.enrolment_code("kontum", "kontum-kiosk-2");
    let (code, out) = second.ctl(&["enrol", &fresh]);
    assert_eq!(code, 0, "{out}");
    wait_until("the second board enrolled and online", T, || {
        second
            .try_status()
            .is_some_and(|st| st["identity"] == "enrolled" && st["online"] == true)
    });
    let (code, out) = second.ctl(&["enrol", &fresh]);
    assert_ne!(code, 0, "an enrolled board takes no code: {out}");
    assert!(out.contains("already enrolled"), "{out}");

    // A third board reads its code from the QR code at its barcode reader.
    let mut third = s.prepare_agent("kontum-kiosk-3", "kontum", "");
    let path = third.dir().join("agent.toml");
    let text = std::fs::read_to_string(&path).expect("config");
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("enrolment_code"))
        .collect();
    std::fs::write(&path, text.join("\n")).expect("write config");
    third.start();
    assert_eq!(third.status()["identity"], "unenrolled");
    let scanned = s.central.enrolment_code("kontum", "kontum-kiosk-3");
    let (code, out) = third.ctl(&["scan", &scanned]);
    assert_eq!(code, 0, "{out}");
    wait_until("the third board enrolled", T, || {
        third
            .try_status()
            .is_some_and(|st| st["identity"] == "enrolled")
    });
}
