//! The agent with its devices: receipts on the simulated printer, a jammed printer, the
//! lights, and a serial barcode reader on a pseudo-terminal that is unplugged and plugged
//! back in while the agent runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;

use common::*;
use edge_agent::config::{DeviceKind, HardwareConfig};
use edge_agent::hardware::Hardware;
use edge_agent::run::Services;
use edge_agent::store::Store;
use rong_protocol::api::{ErrorCode, Reply, RequestOp, Signal, SimPrinterState, Who};
use rong_protocol::status::Health;
use serde_json::json;
use tokio::sync::broadcast;

/// An agent over a store that holds the test library, with simulated devices.
fn agent(dir: &Path) -> Services {
    let mut config = agent_config(dir, free_port(), None);
    config.hardware = HardwareConfig {
        barcode: DeviceKind::Sim,
        card: DeviceKind::Sim,
        lights: DeviceKind::Sim,
        printer: DeviceKind::Sim,
        scanner: None,
    };
    seed(&config.db_path(), []);
    let store = Store::open(&config.db_path()).unwrap();
    let (tx, _) = broadcast::channel(16);
    let hw = Hardware::start(&config.hardware, tx.clone());
    Services::build(config, store, hw, tx)
}

/// Identifies P0001 and lends two items; returns the session and the due date.
fn lend_two(a: &Services) -> (String, chrono::NaiveDate) {
    let session = identify(a, "P0001");
    let mut due = None;
    for item in ["KT00000001", "KT00000002"] {
        let r = a
            .api
            .handle(RequestOp::Checkout {
                who: Who {
                    session: Some(session.clone()),
                    ..Who::default()
                },
                item: item.into(),
            })
            .unwrap();
        let Reply::CheckedOut { due: d, .. } = r else {
            panic!("{r:?}")
        };
        due = Some(d);
    }
    (session, due.unwrap())
}

fn print(a: &Services, session: &str) -> Result<Reply, rong_protocol::api::ApiError> {
    a.api.handle(RequestOp::PrintReceipt {
        session: session.into(),
        items: vec!["KT00000001".into(), "KT00000002".into()],
    })
}

#[test]
fn a_receipt_prints_on_the_simulated_printer_after_a_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(dir.path());
    let (session, due) = lend_two(&a);
    assert_eq!(print(&a, &session).unwrap(), Reply::Done);
    let printed = a.hardware.sim_printed();
    assert_eq!(printed.len(), 1);
    let r = &printed[0];
    assert_eq!(r.library, "Thư viện tỉnh Kon Tum");
    // The reader is "Nguyễn Thị Hoa"; the paper shows initials only.
    assert_eq!(r.patron.as_deref(), Some("N. T. H***"));
    let lines: Vec<(&str, &str, chrono::NaiveDate)> = r
        .items
        .iter()
        .map(|i| (i.barcode.as_str(), i.title.as_str(), i.due))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("KT00000001", "Địa chí Kon Tum", due),
            ("KT00000002", "Địa chí Kon Tum", due)
        ]
    );
    assert!(r.qr);
    a.hardware.stop();
}

#[test]
fn a_jammed_printer_refuses_the_receipt_and_the_status_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(dir.path());
    let (session, _) = lend_two(&a);
    a.api
        .handle(RequestOp::SimPrinter {
            state: SimPrinterState::PaperOut,
        })
        .unwrap();
    let err = print(&a, &session).unwrap_err();
    assert_eq!(err.code, ErrorCode::PrinterUnavailable);
    assert!(err.message.contains("printer"), "{}", err.message);
    let status = a.status.agent().unwrap();
    let p = &status.hardware["printer"];
    assert_eq!(p.health, Health::Error);
    assert!(p.detail.as_deref().unwrap().contains("paper out"), "{p:?}");
    assert!(a.hardware.sim_printed().is_empty());
    // The loans are kept whatever the printer does.
    assert_eq!(a.store.lock().loan_count("P0001").unwrap(), 2);

    a.api
        .handle(RequestOp::SimPrinter {
            state: SimPrinterState::Offline,
        })
        .unwrap();
    assert_eq!(
        a.status.agent().unwrap().hardware["printer"].health,
        Health::Missing
    );
    assert_eq!(
        print(&a, &session).unwrap_err().code,
        ErrorCode::PrinterUnavailable
    );

    a.api
        .handle(RequestOp::SimPrinter {
            state: SimPrinterState::Ok,
        })
        .unwrap();
    assert_eq!(print(&a, &session).unwrap(), Reply::Done);
    assert_eq!(
        a.status.agent().unwrap().hardware["printer"].health,
        Health::Ok
    );
    assert_eq!(a.hardware.sim_printed().len(), 1);
    a.hardware.stop();
}

#[test]
fn signals_go_to_the_lights() {
    let dir = tempfile::tempdir().unwrap();
    let a = agent(dir.path());
    for (n, s) in [Signal::Success, Signal::Error, Signal::Attention]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            a.api.handle(RequestOp::Signal { signal: s }).unwrap(),
            Reply::Done
        );
        // The lights play on their own thread: wait for each before the next, so none is
        // dropped as "busy".
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while a.hardware.sim_lights_shown().len() == n {
            assert!(std::time::Instant::now() < end, "signal {s:?} not shown");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    assert_eq!(
        a.hardware.sim_lights_shown(),
        vec![
            rong_hardware::Signal::Success,
            rong_hardware::Signal::Error,
            rong_hardware::Signal::Attention
        ]
    );
    a.hardware.stop();
}

/// A pseudo-terminal standing in for a USB-serial scanner.
struct Scanner {
    master: File,
    _slave: std::os::fd::OwnedFd,
}

impl Scanner {
    fn plug_in(link: &Path) -> Self {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&slave_path, link).expect("symlink");
        Self {
            master: File::from(pty.master),
            _slave: pty.slave,
        }
    }

    fn scan(&mut self, code: &str) {
        self.master
            .write_all(format!("{code}\r").as_bytes())
            .unwrap();
        self.master.flush().unwrap();
    }
}

fn barcode_health(api: &mut ApiClient) -> String {
    api.status()["hardware"]["barcode"]["health"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn next_barcode(sub: &mut ApiClient) -> String {
    loop {
        let line = sub.read_line().expect("subscription closed");
        if line["push"] == "barcode" {
            return line["code"].as_str().unwrap().to_owned();
        }
    }
}

/// The barcode reader's health in the newest status central got over MQTT.
fn mqtt_barcode_health(central: &StandIn) -> Option<Health> {
    let last = central.on("status").pop()?;
    let s: rong_protocol::status::DeviceStatus = rong_protocol::decode(&last).ok()?;
    Some(s.hardware.get("barcode")?.health)
}

#[test]
fn a_serial_reader_unplugged_shows_missing_and_resumes_when_plugged_back() {
    let dir = tempfile::tempdir().unwrap();
    // A stable name, as udev's /dev/rong-barcode or /dev/serial/by-id gives.
    let link = dir.path().join("rong-barcode");
    let mut scanner = Scanner::plug_in(&link);
    let central = StandIn::start();
    let mut config = agent_config(dir.path(), central.broker().port(), Some(&central.url()));
    config.sync.heartbeat_secs = 1;
    let mut serial = rong_hardware::SerialConfig::new(link.to_string_lossy());
    serial.debounce = std::time::Duration::ZERO;
    config.hardware.barcode = DeviceKind::Serial(serial);
    let agent = RunningAgent::start(config);
    let mut api = agent.api();
    let mut sub = agent.api();
    let r = sub.json(json!({"id": 1, "op": "subscribe"}));
    assert_eq!(r["ok"], true, "{r}");

    assert_eq!(barcode_health(&mut api), "ok");
    scanner.scan("KT00000001");
    assert_eq!(next_barcode(&mut sub), "KT00000001");

    // Unplug: both ends of the pty go away. The local API and the MQTT status say so.
    drop(scanner);
    wait_some("the reader to show missing", T, || {
        (barcode_health(&mut api) == "missing").then_some(())
    });
    let s = api.status();
    let detail = s["hardware"]["barcode"]["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("rong-barcode"), "{detail}");
    wait_some("a heartbeat with the reader missing", T, || {
        (mqtt_barcode_health(&central) == Some(Health::Missing)).then_some(())
    });

    // Plug back in: a new device behind the same name.
    let mut scanner = Scanner::plug_in(&link);
    wait_some("the reader to come back", T, || {
        (barcode_health(&mut api) == "ok").then_some(())
    });
    scanner.scan("KT00000002");
    assert_eq!(next_barcode(&mut sub), "KT00000002");
    wait_some("a heartbeat with the reader back", T, || {
        (mqtt_barcode_health(&central) == Some(Health::Ok)).then_some(())
    });
    agent.stop();
}

#[test]
fn ctl_prints_a_receipt_and_jams_the_printer() {
    use edge_agent::ctl::{Action, CtlArgs, PatronArgs, PinArg, PrinterArg, WhoArgs};

    let dir = tempfile::tempdir().unwrap();
    seed(&dir.path().join("agent.db"), []);
    let mut config = agent_config(dir.path(), free_port(), None);
    config.hardware.printer = DeviceKind::Sim;
    let agent = RunningAgent::start(config);
    let socket = agent.socket.clone();
    let ctl = move |action: Action| {
        let args = CtlArgs {
            socket: Some(socket.clone()),
            config: None,
            json: false,
            action,
        };
        format!("{:?}", edge_agent::ctl::main(args))
    };
    let patron = || PatronArgs {
        who: WhoArgs {
            card: Some("P0001".into()),
            uid: None,
        },
        pin: PinArg::default(),
    };
    let receipt = move || Action::Receipt {
        patron: patron(),
        items: vec!["KT00000003".into()],
    };
    let codes = {
        let ok = ctl(Action::Status);
        let lent = ctl(Action::Checkout {
            patron: patron(),
            items: vec!["KT00000003".into()],
        });
        let printed = ctl(receipt());
        let jammed = ctl(Action::Printer {
            state: PrinterArg::CoverOpen,
        });
        let refused = ctl(receipt());
        (ok, lent, printed, jammed, refused)
    };
    let success = format!("{:?}", std::process::ExitCode::SUCCESS);
    let failure = format!("{:?}", std::process::ExitCode::from(1));
    assert_eq!(codes.0, success);
    assert_eq!(codes.1, success, "checkout");
    assert_eq!(codes.2, success, "receipt");
    assert_eq!(codes.3, success, "printer cover-open");
    assert_eq!(codes.4, failure, "a receipt on an open printer is refused");
    let mut api = agent.api();
    let s = api.status();
    assert_eq!(s["hardware"]["printer"]["health"], "error", "{s}");
    let detail = s["hardware"]["printer"]["detail"].as_str().unwrap();
    assert!(detail.contains("cover open"), "{s}");
    agent.stop();
}

/// Polls the scanner's health until `want`, or fails after 30 s.
fn wait_scanner(hw: &Hardware, want: Health) -> String {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(h) = hw.health().get("scanner") {
            if h.health == want {
                return h.detail.clone().unwrap_or_default();
            }
        }
        assert!(
            std::time::Instant::now() < end,
            "scanner never {want:?}: {:?}",
            hw.health()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_simulated_scanner_unplugged_shows_missing_and_comes_back() {
    use rong_hardware::scanner::{ScannerConfig, ScannerDriver};
    let config = HardwareConfig {
        scanner: Some(ScannerConfig {
            driver: ScannerDriver::Sim,
            ..ScannerConfig::default()
        }),
        ..HardwareConfig::default()
    };
    let (tx, _) = broadcast::channel(16);
    let hw = Hardware::start(&config, tx);
    assert!(wait_scanner(&hw, Health::Ok).contains("Simulated scanner"));
    let sim = edge_agent::hardware::scanner::sim_handle(&hw.scanner()).expect("sim handle");
    sim.set_plugged(false);
    wait_scanner(&hw, Health::Missing);
    sim.set_plugged(true);
    wait_scanner(&hw, Health::Ok);
    hw.stop();
}

#[test]
fn the_sane_test_backend_is_found_and_a_missing_model_is_reported() {
    use rong_hardware::scanner::{ScannerConfig, ScannerDriver};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dll.conf"), "test\n").unwrap();
    let found = HardwareConfig {
        scanner: Some(ScannerConfig {
            driver: ScannerDriver::Sane,
            device: Some("test:0".into()),
            sane_config_dir: Some(dir.path().to_owned()),
            ..ScannerConfig::default()
        }),
        ..HardwareConfig::default()
    };
    let (tx, _) = broadcast::channel(16);
    let hw = Hardware::start(&found, tx.clone());
    assert!(wait_scanner(&hw, Health::Ok).contains("test:0"));
    hw.stop();
    // A model that is not connected: missing, with its name, and the agent goes on.
    let mut absent = found.clone();
    if let Some(s) = absent.scanner.as_mut() {
        s.device = Some("fi-7160".into());
    }
    let hw = Hardware::start(&absent, tx);
    assert!(wait_scanner(&hw, Health::Missing).contains("fi-7160"));
    hw.stop();
}
