//! Runs each reader on its own thread and forwards what it reads as API pushes; drives the
//! lights and the receipt printer; keeps every device's health for the status topic.
//!
//! A real reader that fails is retried every second by its own thread, so an unplugged
//! reader shows `missing` and resumes by itself when it comes back.

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

mod lights;
mod printer;
pub mod scanner;

use lights::Lights;
use printer::Printer;

/// How long a reader thread waits for input before checking whether to stop.
const POLL: Duration = Duration::from_millis(200);
/// Repeats of one barcode within this window are dropped.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// Pause before retrying a reader that failed.
const RETRY: Duration = Duration::from_secs(1);

type HealthMap = Arc<Mutex<BTreeMap<String, HardwareStatus>>>;

/// The board's devices.
#[derive(Debug)]
pub struct Hardware {
    barcode: Option<SimBarcodeHandle>,
    card: Option<SimCardHandle>,
    lights: Lights,
    printer: Printer,
    scanner: scanner::SharedScanner,
    health: HealthMap,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn set_health(map: &HealthMap, name: &str, health: Health, detail: Option<String>) {
    if let Ok(mut m) = map.lock() {
        m.insert(name.to_owned(), HardwareStatus { health, detail });
    }
}

/// The health a device failure means: `missing` when it is gone, `error` otherwise.
fn health_of(kind: rong_hardware::ErrorKind) -> Health {
    if kind.is_missing() {
        Health::Missing
    } else {
        Health::Error
    }
}

/// Marks a device whose driver this agent was built without.
#[cfg_attr(all(feature = "wedge", feature = "nfc"), allow(dead_code))]
fn not_built(map: &HealthMap, name: &str, feature: &str) {
    let detail = format!("this agent was built without the `{feature}` feature");
    tracing::error!(device = name, %detail, "device not started");
    set_health(map, name, Health::Error, Some(detail));
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
    fn new(name: &'static str, map: HealthMap, failed: bool) -> Self {
        Self { name, map, failed }
    }

    fn ok(&mut self) {
        if self.failed {
            self.failed = false;
            tracing::info!(device = self.name, "reader back");
            set_health(&self.map, self.name, Health::Ok, None);
        }
    }

    fn failed(&mut self, kind: rong_hardware::ErrorKind, error: &dyn std::fmt::Display) {
        if !self.failed {
            tracing::warn!(device = self.name, %error, "reader failed");
        }
        set_health(
            &self.map,
            self.name,
            health_of(kind),
            Some(error.to_string()),
        );
        self.failed = true;
        std::thread::sleep(RETRY);
    }
}

/// What starting one reader gave: its thread's reader and whether it is working yet.
type Started<R> = Option<(R, bool)>;

/// What each device starts with: the health map it reports to, the stop flag its threads
/// watch, and the threads [`Hardware::stop`] joins.
struct Starter {
    health: HealthMap,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Starter {
    /// Runs `f` on a thread of its own, handed the stop flag.
    fn spawn(&mut self, f: impl FnOnce(Arc<AtomicBool>) + Send + 'static) {
        let stop = self.stop.clone();
        self.threads.push(std::thread::spawn(move || f(stop)));
    }

    /// Runs reader `name`'s loop, `read`, on its own thread when the reader started at all.
    fn read<R: Send + 'static>(
        &mut self,
        name: &'static str,
        started: Started<R>,
        read: impl FnOnce(R, Watch, Arc<AtomicBool>) + Send + 'static,
    ) {
        if let Some((reader, ok)) = started {
            let watch = Watch::new(name, self.health.clone(), !ok);
            self.spawn(move |stop| read(reader, watch, stop));
        }
    }

    /// A simulated reader: always there.
    fn simulated<R>(&self, name: &str, reader: R) -> Started<R> {
        set_health(&self.health, name, Health::Ok, Some("simulated".into()));
        Some((reader, true))
    }

    /// No reader: `kind` does not drive one (see [`not_configured`]).
    fn unconfigured<R>(&self, name: &str, kind: &DeviceKind) -> Started<R> {
        not_configured(&self.health, name, kind);
        None
    }
}

impl Hardware {
    /// Starts the configured devices; reads go to `pushes`. A device that cannot start is
    /// marked `missing` or `error` in [`Hardware::health`]; the agent works on without it.
    pub fn start(config: &HardwareConfig, pushes: broadcast::Sender<Push>) -> Self {
        let mut st = Starter {
            health: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        let mut barcode = None;
        let mut card = None;

        let reader: Started<Box<dyn BarcodeReader>> = match &config.barcode {
            DeviceKind::Sim => {
                let (reader, handle) = SimBarcode::new();
                barcode = Some(handle);
                st.simulated("barcode", Box::new(reader))
            }
            DeviceKind::Serial(c) => {
                use rong_hardware::SerialBarcode;
                let opened = SerialBarcode::open(c.clone())
                    .map(|r| Box::new(r) as Box<dyn BarcodeReader>)
                    .map_err(|e| (e.kind(), e.to_string()));
                let detail = format!("serial {}", c.path);
                Some(started(&st.health, "barcode", detail, opened, || {
                    Box::new(SerialBarcode::closed(c.clone()))
                }))
            }
            DeviceKind::Wedge(c) => wedge(&st.health, c),
            other => st.unconfigured("barcode", other),
        };
        let p = pushes.clone();
        st.read("barcode", reader, move |r, w, s| barcode_loop(r, w, s, p));

        let reader: Started<Box<dyn CardReader>> = match &config.card {
            DeviceKind::Sim => {
                let (reader, handle) = SimCard::new();
                card = Some(handle);
                st.simulated("card", Box::new(reader))
            }
            DeviceKind::Nfc(c) => nfc(&st.health, c),
            other => st.unconfigured("card", other),
        };
        st.read("card", reader, move |r, w, s| card_loop(r, w, s, pushes));

        let lights = Lights::start(&config.lights, &mut st);
        let printer = Printer::start(&config.printer, &mut st);
        let scanner = scanner::SharedScanner::default();
        if let Some(c) = &config.scanner {
            let (c, slot, h) = (c.clone(), scanner.clone(), st.health.clone());
            st.spawn(move |s| scanner::watch(c, slot, h, s));
        }
        Self {
            barcode,
            card,
            lights,
            printer,
            scanner,
            health: st.health,
            stop: st.stop,
            threads: Mutex::new(st.threads),
        }
    }

    /// The document scanner, for digitisation jobs (empty when none is configured or it
    /// has not been found yet).
    pub fn scanner(&self) -> scanner::SharedScanner {
        self.scanner.clone()
    }

    /// Each device's health.
    pub fn health(&self) -> BTreeMap<String, HardwareStatus> {
        self.health.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Scans a code on the simulated barcode reader.
    pub fn sim_scan(&self, code: &str) -> Result<(), ApiError> {
        simulator(&self.barcode, "barcode")?
            .scan(code)
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Taps a card on the simulated NFC reader.
    pub fn sim_tap(&self, uid: &str) -> Result<(), ApiError> {
        simulator(&self.card, "card")?
            .tap(uid)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))
    }

    /// Lifts the card off the simulated NFC reader.
    pub fn sim_remove(&self) -> Result<(), ApiError> {
        simulator(&self.card, "card")?
            .remove()
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Shows an outcome on the lights and buzzer; returns at once (the pattern plays on the
    /// lights' own thread). With no lights it only logs.
    pub fn signal(&self, signal: Signal) {
        self.lights.signal(signal);
    }

    /// Every signal the simulated lights have shown, oldest first (empty for real ones).
    pub fn sim_lights_shown(&self) -> Vec<rong_hardware::Signal> {
        self.lights.sim_shown()
    }

    /// Sets the simulated printer's state.
    pub fn sim_printer(&self, state: SimPrinterState) -> Result<(), ApiError> {
        self.printer.sim_set(state, &self.health)
    }

    /// Every receipt the simulated printer has printed.
    pub fn sim_printed(&self) -> Vec<rong_hardware::Receipt> {
        self.printer.sim_printed()
    }

    /// Prints a receipt; blocks while it prints. Fails with `printer_unavailable` when the
    /// printer is missing, out of paper, open or offline.
    pub fn print(&self, receipt: &rong_hardware::printer::Receipt) -> Result<(), ApiError> {
        self.printer.print(receipt, &self.health)
    }

    /// Stops the device threads and waits for them.
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

/// The handle of device `name`'s simulator; `no_simulator` when it is not simulated.
fn simulator<'a, H>(handle: &'a Option<H>, name: &str) -> Result<&'a H, ApiError> {
    handle
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::NoSimulator, name))
}

/// Marks a device that is not configured, or configured with another device's driver
/// (the config check refuses that, so it only happens to hand-built configs).
fn not_configured(health: &HealthMap, name: &str, kind: &DeviceKind) {
    let detail = match kind {
        DeviceKind::None => "not configured".to_owned(),
        other => format!("kind {:?} does not drive a {name}", other.name()),
    };
    set_health(health, name, Health::Missing, Some(detail));
}

/// Takes a real reader's first open: on success it is `ok` with `detail`; on failure the
/// closed reader (which tries again on each read) is kept and the failure shown.
fn started<T>(
    health: &HealthMap,
    name: &str,
    detail: String,
    opened: Result<T, (rong_hardware::ErrorKind, String)>,
    closed: impl FnOnce() -> T,
) -> (T, bool) {
    match opened {
        Ok(r) => {
            set_health(health, name, Health::Ok, Some(detail));
            (r, true)
        }
        Err((kind, error)) => {
            tracing::warn!(device = name, %error, "reader not there at start; retrying");
            set_health(health, name, health_of(kind), Some(error));
            (closed(), false)
        }
    }
}

#[cfg(feature = "wedge")]
fn wedge(health: &HealthMap, c: &rong_hardware::WedgeConfig) -> Started<Box<dyn BarcodeReader>> {
    use rong_hardware::WedgeBarcode;
    let opened = WedgeBarcode::open(c.clone())
        .map(|r| Box::new(r) as Box<dyn BarcodeReader>)
        .map_err(|e| (e.kind(), e.to_string()));
    let detail = format!("keyboard {}", c.path);
    Some(started(health, "barcode", detail, opened, || {
        Box::new(WedgeBarcode::closed(c.clone()))
    }))
}

#[cfg(not(feature = "wedge"))]
fn wedge(health: &HealthMap, _: &rong_hardware::WedgeConfig) -> Started<Box<dyn BarcodeReader>> {
    not_built(health, "barcode", "wedge");
    None
}

#[cfg(feature = "nfc")]
fn nfc(health: &HealthMap, c: &rong_hardware::NfcConfig) -> Started<Box<dyn CardReader>> {
    use rong_hardware::NfcReader;
    match NfcReader::open(c.clone()) {
        Ok(r) => {
            let detail = format!("nfc {}", c.connstring.as_deref().unwrap_or("(first found)"));
            set_health(health, "card", Health::Ok, Some(detail));
            Some((Box::new(r), true))
        }
        Err(e) => {
            tracing::warn!(device = "card", error = %e, "NFC reader not there at start; retrying");
            set_health(health, "card", health_of(e.kind()), Some(e.to_string()));
            match NfcReader::closed(c.clone()) {
                Ok(r) => Some((Box::new(r), false)),
                Err(e) => {
                    set_health(health, "card", Health::Error, Some(e.to_string()));
                    None
                }
            }
        }
    }
}

#[cfg(not(feature = "nfc"))]
fn nfc(health: &HealthMap, _: &rong_hardware::NfcConfig) -> Started<Box<dyn CardReader>> {
    not_built(health, "card", "nfc");
    None
}

fn barcode_loop(
    mut reader: Box<dyn BarcodeReader>,
    mut watch: Watch,
    stop: Arc<AtomicBool>,
    pushes: broadcast::Sender<Push>,
) {
    let mut filter = BarcodeFilter::new(DEBOUNCE);
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
            Err(e) if e.kind() == rong_hardware::ErrorKind::Garbage => {
                tracing::warn!(error = %e, "barcode garbage dropped");
            }
            Err(e) => watch.failed(e.kind(), &e),
        }
    }
}

fn card_loop(
    mut reader: Box<dyn CardReader>,
    mut watch: Watch,
    stop: Arc<AtomicBool>,
    pushes: broadcast::Sender<Push>,
) {
    while !stop.load(Ordering::SeqCst) {
        let read = reader.next_event(POLL);
        if read.is_ok() {
            watch.ok();
        }
        match read {
            Ok(Some(CardEvent::Present(uid))) => {
                tracing::debug!(uid = %rong_protocol::privacy::mask_card(&uid), "card present");
                let _ = pushes.send(Push::CardPresent { uid });
            }
            Ok(Some(CardEvent::Removed)) => {
                let _ = pushes.send(Push::CardRemoved);
            }
            Ok(None) => {}
            Err(e) if e.kind() == rong_hardware::ErrorKind::Garbage => {
                tracing::warn!(error = %e, "card reader garbage dropped");
            }
            Err(e) => watch.failed(e.kind(), &e),
        }
    }
}

#[cfg(test)]
mod tests;
