//! What the logs keep about readers: after a morning's lending at a kiosk (a wrong PIN,
//! the right one, a loan, a renewal, a return) and staff looking the reader up, neither
//! central's log nor the agent's holds the reader's PIN, full name or card number in clear.

use std::time::Duration;

use rong_protocol::api::{RequestOp, Who};
use rong_tests::agent::outcome;
use rong_tests::fixtures::{card, free_barcodes_of};
use rong_tests::scenario::{wait_drained, wait_synced, BrokerKind, Scenario};

const T: Duration = Duration::from_secs(60);

/// Every `*.log` under `dir`, read.
fn logs(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a program's directory") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).expect("a log");
            out.push((path.display().to_string(), text));
        }
    }
    assert!(!out.is_empty(), "no log under {}", dir.display());
    out
}

#[test]
fn logs_hold_no_pin_no_full_name_and_no_card_number() {
    let mut s = Scenario::start(BrokerKind::Embedded, "");
    // Everything the programs can say, debug lines included.
    s.central.stop();
    s.central.set_log_filter("debug");
    s.central.start();
    let mut a = s.prepare_agent("kontum-kiosk-1", "kontum", "");
    a.set_log_filter("debug");
    a.start();
    wait_synced(&a);
    // Patron 10 of the seed has the PIN 0010 (the last four digits of its card).
    let reader = card(10);
    let pin = "0010";
    let who = |pin: &str| Who {
        card: Some(reader.clone()),
        pin: Some(pin.into()),
        ..Who::default()
    };
    let mut c = a.client();
    assert_eq!(
        outcome(c.call(RequestOp::Identify(who("9999")))).unwrap_err(),
        "wrong_pin"
    );
    outcome(c.call(RequestOp::Identify(who(pin)))).expect("the right PIN");
    let book = free_barcodes_of("kontum", 200, 1).remove(0);
    let lent = outcome(c.call(RequestOp::Checkout {
        who: who(pin),
        item: book.clone(),
    }));
    let (code, out) = a.ctl_stdin(
        &["renew", "--card", &reader, "--pin-stdin", &book],
        &format!("{pin}\n"),
    );
    let _ = (lent, code, out);
    outcome(c.call(RequestOp::Checkin { item: book })).expect("returned");
    wait_drained(&a, T);
    // Staff look the reader up and block and unblock them.
    let patron = s.central.get(&format!("/api/v1/patrons/{reader}"));
    let name = patron["name"]
        .as_str()
        .expect("the reader's name")
        .to_owned();
    assert!(name.split_whitespace().count() >= 2, "{name}");
    let r = s.central.request(
        "POST",
        &format!("/api/v1/patrons/{reader}/block"),
        Some(&serde_json::json!({"reason": "Mất thẻ"})),
    );
    assert_eq!(r.status, 200);
    let r = s
        .central
        .request("DELETE", &format!("/api/v1/patrons/{reader}/block"), None);
    assert_eq!(r.status, 200);
    a.stop();
    s.central.stop();

    let mut all = logs(a.dir());
    all.extend(logs(s.central.dir()));
    // The debug lines of the loan's journey are there: the test reads what could leak.
    for said in ["event batch published", "ack applied"] {
        assert!(
            all.iter().any(|(_, text)| text.contains(said)),
            "no log says {said:?}: not logging at debug?"
        );
    }
    for (file, text) in &all {
        assert!(
            !text.contains(&reader),
            "{file} holds the card number {reader}"
        );
        assert!(!text.contains(&name), "{file} holds the reader's full name");
        for line in text.lines() {
            let lower = line.to_lowercase();
            assert!(
                !(lower.contains("pin") && (line.contains(pin) || line.contains("9999"))),
                "{file} seems to hold a PIN: {line}"
            );
        }
    }
}
