//! Unit tests of the hardware wiring, with simulators and a pty.
#![allow(clippy::unwrap_used)]

use super::*;

/// Starts `config`'s devices with nobody listening to their pushes.
fn unheard(config: &HardwareConfig) -> Hardware {
    let (tx, _) = broadcast::channel(4);
    Hardware::start(config, tx)
}

/// Asserts device `name`'s health, and that its detail says `says`.
fn assert_health(hw: &Hardware, name: &str, health: Health, says: &str) {
    let h = &hw.health()[name];
    assert_eq!(h.health, health, "{name}: {h:?}");
    assert!(h.detail.as_deref().unwrap().contains(says), "{h:?}");
}

#[test]
fn simulators_push_debounced_reads() {
    let (tx, mut rx) = broadcast::channel(16);
    let hw = Hardware::start(
        &HardwareConfig {
            barcode: DeviceKind::Sim,
            card: DeviceKind::Sim,
            ..HardwareConfig::default()
        },
        tx,
    );
    hw.sim_scan("KT1").unwrap();
    hw.sim_scan("KT1").unwrap();
    hw.sim_scan("KT2").unwrap();
    hw.sim_tap("04:a2:2b:1a").unwrap();
    hw.sim_remove().unwrap();
    assert!(hw.sim_tap("xyz").is_err());
    let mut got = Vec::new();
    while got.len() < 4 {
        got.push(rx.blocking_recv().unwrap());
    }
    // The two readers run on their own threads: compare each one's order.
    let (codes, cards): (Vec<Push>, Vec<Push>) = got
        .into_iter()
        .partition(|p| matches!(p, Push::Barcode { .. }));
    assert_eq!(
        codes,
        vec![
            Push::Barcode { code: "KT1".into() },
            Push::Barcode { code: "KT2".into() },
        ]
    );
    assert_eq!(
        cards,
        vec![
            Push::CardPresent {
                uid: "04A22B1A".into()
            },
            Push::CardRemoved
        ]
    );
    assert_eq!(hw.health()["barcode"].health, Health::Ok);
    hw.stop();
}

#[test]
fn no_simulator_when_not_configured() {
    let hw = unheard(&HardwareConfig::default());
    assert_eq!(hw.sim_scan("KT1").unwrap_err().code, ErrorCode::NoSimulator);
    assert_eq!(
        hw.sim_tap("04A22B1A").unwrap_err().code,
        ErrorCode::NoSimulator
    );
    assert_eq!(hw.sim_remove().unwrap_err().code, ErrorCode::NoSimulator);
    assert_eq!(hw.health()["card"].health, Health::Missing);
    assert_eq!(
        hw.sim_printer(SimPrinterState::PaperOut).unwrap_err().code,
        ErrorCode::NoSimulator
    );
    let err = hw.print(&rong_hardware::Receipt::sample()).unwrap_err();
    assert_eq!(err.code, ErrorCode::PrinterUnavailable);
    hw.signal(Signal::Success); // only logged
    assert!(hw.sim_lights_shown().is_empty());
    for name in ["barcode", "card", "lights", "printer"] {
        assert_eq!(hw.health()[name].health, Health::Missing, "{name}");
    }
    hw.stop();
}

fn sims() -> HardwareConfig {
    HardwareConfig {
        barcode: DeviceKind::Sim,
        card: DeviceKind::Sim,
        lights: DeviceKind::Sim,
        printer: DeviceKind::Sim,
        scanner: None,
    }
}

/// Polls `f` every 10 ms until it holds, or panics after 10 s.
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn signals_reach_the_simulated_lights_in_order() {
    let hw = unheard(&sims());
    assert_eq!(hw.health()["lights"].detail.as_deref(), Some("simulated"));
    hw.signal(Signal::Success);
    wait_until("the first signal", || hw.sim_lights_shown().len() == 1);
    hw.signal(Signal::Error);
    wait_until("the second signal", || hw.sim_lights_shown().len() == 2);
    assert_eq!(
        hw.sim_lights_shown(),
        vec![rong_hardware::Signal::Success, rong_hardware::Signal::Error]
    );
    wait_until("the health to name the last signal", || {
        hw.health()["lights"].detail.as_deref() == Some("simulated; last signal error")
    });
    hw.stop();
}

#[test]
fn the_simulated_printer_prints_jams_and_recovers() {
    let hw = unheard(&sims());
    let r = rong_hardware::Receipt::sample();
    hw.print(&r).unwrap();
    assert_eq!(hw.sim_printed(), vec![r.clone()]);
    for (state, health, detail) in [
        (SimPrinterState::PaperOut, Health::Error, "paper out"),
        (SimPrinterState::CoverOpen, Health::Error, "cover open"),
        (SimPrinterState::Offline, Health::Missing, "offline"),
    ] {
        hw.sim_printer(state).unwrap();
        assert_health(&hw, "printer", health, detail);
        let err = hw.print(&r).unwrap_err();
        assert_eq!(err.code, ErrorCode::PrinterUnavailable, "{state:?}");
    }
    hw.sim_printer(SimPrinterState::Ok).unwrap();
    assert_eq!(hw.health()["printer"].health, Health::Ok);
    hw.print(&r).unwrap();
    assert_eq!(hw.sim_printed().len(), 2, "nothing printed while jammed");
    hw.stop();
}

#[test]
fn an_escpos_printer_on_a_device_file_prints_and_a_missing_one_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let lp = dir.path().join("lp0");
    std::fs::write(&lp, b"").unwrap();
    let mut config = HardwareConfig {
        printer: DeviceKind::Escpos(rong_hardware::PrinterConfig::new(lp.to_string_lossy())),
        ..HardwareConfig::default()
    };
    let hw = unheard(&config);
    assert_eq!(hw.health()["printer"].health, Health::Ok);
    hw.print(&rong_hardware::Receipt::sample()).unwrap();
    let bytes = std::fs::read(&lp).unwrap();
    assert!(bytes.starts_with(b"\x1b@"), "starts with ESC @");
    hw.stop();

    let gone = dir.path().join("lp9");
    config.printer = DeviceKind::Escpos(rong_hardware::PrinterConfig::new(gone.to_string_lossy()));
    let hw = unheard(&config);
    assert_eq!(hw.health()["printer"].health, Health::Missing);
    let err = hw.print(&rong_hardware::Receipt::sample()).unwrap_err();
    assert_eq!(err.code, ErrorCode::PrinterUnavailable);
    // Plugged in: the next receipt opens it.
    std::fs::write(&gone, b"").unwrap();
    hw.print(&rong_hardware::Receipt::sample()).unwrap();
    assert_eq!(hw.health()["printer"].health, Health::Ok);
    hw.stop();
}

#[cfg(not(feature = "nfc"))]
#[test]
fn a_driver_left_out_of_the_build_is_an_error_not_a_crash() {
    let config = HardwareConfig {
        card: DeviceKind::Nfc(rong_hardware::NfcConfig::default()),
        ..HardwareConfig::default()
    };
    let hw = unheard(&config);
    assert_health(&hw, "card", Health::Error, "`nfc` feature");
    hw.stop();
}

#[cfg(feature = "gpio")]
#[test]
fn gpio_lights_off_a_pi_are_missing_and_signals_still_work() {
    let model = std::fs::read_to_string("/proc/device-tree/model").unwrap_or_default();
    if model.contains("Raspberry Pi") {
        return; // This test is about machines that are not a Pi.
    }
    let config = HardwareConfig {
        lights: DeviceKind::Gpio(rong_hardware::GpioConfig::default()),
        ..HardwareConfig::default()
    };
    let hw = unheard(&config);
    assert_health(&hw, "lights", Health::Missing, "not a Raspberry Pi");
    hw.signal(Signal::Attention);
    hw.stop();
}
