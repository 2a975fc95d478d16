//! Runs each reader on its own thread and forwards what it reads as API pushes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rong_hardware::{
    BarcodeFilter, BarcodeReader, CardEvent, CardReader, SimBarcode, SimBarcodeHandle, SimCard,
    SimCardHandle,
};
use rong_protocol::api::{ApiError, ErrorCode, Push, Signal, SimPrinterState};
use rong_protocol::status::{HardwareStatus, Health};
use tokio::sync::broadcast;

use crate::config::{DeviceKind, HardwareConfig};

/// How long a reader thread waits for input before checking whether to stop.
const POLL: Duration = Duration::from_millis(200);
/// Repeats of one barcode within this window are dropped.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Pause before retrying a reader that failed.
const RETRY: Duration = Duration::from_secs(1);

type HealthMap = Arc<Mutex<BTreeMap<String, HardwareStatus>>>;

/// The board's readers.
#[derive(Debug)]
pub struct Hardware {
    barcode: Option<SimBarcodeHandle>,
    card: Option<SimCardHandle>,
    health: HealthMap,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn set_health(map: &HealthMap, name: &str, health: Health, detail: Option<String>) {
    if let Ok(mut m) = map.lock() {
        m.insert(name.to_owned(), HardwareStatus { health, detail });
    }
}

/// Tracks one reader's health: a failure is recorded (and waited out before the next try),
/// and the first good poll after it marks the reader `ok` again, so an unplugged reader that
/// comes back stops showing as missing.
struct Watch {
    name: &'static str,
    map: HealthMap,
    failed: bool,
}

impl Watch {
    fn new(name: &'static str, map: HealthMap) -> Self {
        Self {
            name,
            map,
            failed: false,
        }
    }

    fn ok(&mut self) {
        if self.failed {
            self.failed = false;
            tracing::info!(device = self.name, "reader back");
            set_health(&self.map, self.name, Health::Ok, None);
        }
    }

    fn failed(&mut self, kind: rong_hardware::ErrorKind, error: &dyn std::fmt::Display) {
        let h = if kind.is_missing() {
            Health::Missing
        } else {
            Health::Error
        };
        tracing::warn!(device = self.name, %error, "reader failed");
        set_health(&self.map, self.name, h, Some(error.to_string()));
        self.failed = true;
        std::thread::sleep(RETRY);
    }
}

impl Hardware {
    /// Starts the configured readers; their reads go to `pushes`.
    pub fn start(config: &HardwareConfig, pushes: broadcast::Sender<Push>) -> Self {
        let health: HealthMap = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut barcode = None;
        let mut card = None;
        match config.barcode {
            DeviceKind::Sim => {
                let (reader, handle) = SimBarcode::new();
                barcode = Some(handle);
                set_health(&health, "barcode", Health::Ok, Some("simulated".into()));
                let (h, s, p) = (health.clone(), stop.clone(), pushes.clone());
                threads.push(std::thread::spawn(move || barcode_loop(reader, h, s, p)));
            }
            DeviceKind::None => set_health(
                &health,
                "barcode",
                Health::Missing,
                Some("not configured".into()),
            ),
        }
        match config.card {
            DeviceKind::Sim => {
                let (reader, handle) = SimCard::new();
                card = Some(handle);
                set_health(&health, "card", Health::Ok, Some("simulated".into()));
                let (h, s, p) = (health.clone(), stop.clone(), pushes);
                threads.push(std::thread::spawn(move || card_loop(reader, h, s, p)));
            }
            DeviceKind::None => set_health(
                &health,
                "card",
                Health::Missing,
                Some("not configured".into()),
            ),
        }
        Self {
            barcode,
            card,
            health,
            stop,
            threads: Mutex::new(threads),
        }
    }

    /// Each reader's health.
    pub fn health(&self) -> BTreeMap<String, HardwareStatus> {
        self.health.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Scans a code on the simulated barcode reader.
    pub fn sim_scan(&self, code: &str) -> Result<(), ApiError> {
        let h = self
            .barcode
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::NoSimulator, "barcode"))?;
        h.scan(code)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Taps a card on the simulated NFC reader.
    pub fn sim_tap(&self, uid: &str) -> Result<(), ApiError> {
        let h = self
            .card
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::NoSimulator, "card"))?;
        h.tap(uid)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))
    }

    /// Lifts the card off the simulated NFC reader.
    pub fn sim_remove(&self) -> Result<(), ApiError> {
        let h = self
            .card
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::NoSimulator, "card"))?;
        h.remove()
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Shows an outcome on the lights and buzzer. With none configured it only logs.
    pub fn signal(&self, signal: Signal) {
        tracing::debug!(?signal, "signal (no lights or buzzer configured)");
    }

    /// Sets the simulated printer's state.
    pub fn sim_printer(&self, _state: SimPrinterState) -> Result<(), ApiError> {
        Err(ApiError::new(ErrorCode::NoSimulator, "printer"))
    }

    /// Prints a receipt.
    pub fn print(&self, _receipt: &rong_hardware::printer::Receipt) -> Result<(), ApiError> {
        Err(ApiError::new(
            ErrorCode::PrinterUnavailable,
            "no printer configured",
        ))
    }

    /// Stops the reader threads and waits for them.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Hardware {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn barcode_loop(
    mut reader: impl BarcodeReader,
    health: HealthMap,
    stop: Arc<AtomicBool>,
    pushes: broadcast::Sender<Push>,
) {
    let mut filter = BarcodeFilter::new(DEBOUNCE);
    let mut watch = Watch::new("barcode", health);
    while !stop.load(Ordering::SeqCst) {
        let read = reader.next_code(POLL);
        if read.is_ok() {
            watch.ok();
        }
        match read {
            Ok(Some(raw)) => match filter.accept(&raw, Instant::now()) {
                Ok(Some(code)) => {
                    tracing::debug!(%code, "barcode read");
                    let _ = pushes.send(Push::Barcode { code });
                }
                Ok(None) => tracing::debug!("repeat barcode dropped"),
                Err(e) => tracing::warn!(error = %e, "barcode garbage dropped"),
            },
            Ok(None) => {}
            Err(e) => watch.failed(e.kind(), &e),
        }
    }
}

fn card_loop(
    mut reader: impl CardReader,
    health: HealthMap,
    stop: Arc<AtomicBool>,
    pushes: broadcast::Sender<Push>,
) {
    let mut watch = Watch::new("card", health);
    while !stop.load(Ordering::SeqCst) {
        let read = reader.next_event(POLL);
        if read.is_ok() {
            watch.ok();
        }
        match read {
            Ok(Some(CardEvent::Present(uid))) => {
                tracing::debug!(%uid, "card present");
                let _ = pushes.send(Push::CardPresent { uid });
            }
            Ok(Some(CardEvent::Removed)) => {
                let _ = pushes.send(Push::CardRemoved);
            }
            Ok(None) => {}
            Err(e) => watch.failed(e.kind(), &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulators_push_debounced_reads() {
        let (tx, mut rx) = broadcast::channel(16);
        let hw = Hardware::start(
            &HardwareConfig {
                barcode: DeviceKind::Sim,
                card: DeviceKind::Sim,
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
        let (tx, _rx) = broadcast::channel(4);
        let hw = Hardware::start(
            &HardwareConfig {
                barcode: DeviceKind::None,
                card: DeviceKind::None,
            },
            tx,
        );
        assert_eq!(hw.sim_scan("KT1").unwrap_err().code, ErrorCode::NoSimulator);
        assert_eq!(
            hw.sim_tap("04A22B1A").unwrap_err().code,
            ErrorCode::NoSimulator
        );
        assert_eq!(hw.sim_remove().unwrap_err().code, ErrorCode::NoSimulator);
        assert_eq!(hw.health()["card"].health, Health::Missing);
        hw.stop();
    }
}
