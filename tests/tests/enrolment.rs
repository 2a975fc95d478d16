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
}
