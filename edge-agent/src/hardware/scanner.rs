//! The edge station's document scanner: opened by a watcher thread, which keeps its health
//! for the status topic and finds it again after an unplug.
//!
//! SANE is not thread-safe per handle and can block for seconds, so the scanner lives on
//! this thread (the SANE driver itself talks to libsane on a thread of its own); the
//! async runtime never waits on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rong_hardware::scanner::{pick_device, OpenedScanner, ScannerConfig, SimScannerHandle};
use rong_protocol::status::Health;

use super::{health_of, set_health, HealthMap, POLL};

/// How often the watcher checks that the scanner is still there, or looks for it again.
const CHECK: Duration = Duration::from_secs(5);

/// The scanner as the watcher holds it.
#[derive(Debug, Default)]
pub struct ScannerSlot {
    /// The opened scanner (kept while it is unplugged, to be found again).
    pub opened: Option<OpenedScanner>,
    /// Whether it is there now.
    pub present: bool,
    /// For SANE's `test` backend: after how many sheets of the next feeder batch the scan
    /// loop makes the backend report a jam (`sim_doc_scanner jam N`).
    pub jam_after: Option<usize>,
}

/// Shared access to the scanner, for the digitisation jobs.
pub type SharedScanner = Arc<Mutex<ScannerSlot>>;

fn label(o: &OpenedScanner) -> String {
    format!("{} {} ({})", o.device.vendor, o.device.model, o.device.name)
        .trim()
        .to_owned()
}

/// The simulator's handle, once the scanner is open with the `sim` driver.
pub fn sim_handle(slot: &SharedScanner) -> Option<SimScannerHandle> {
    slot.lock().ok()?.opened.as_ref()?.sim.clone()
}

/// One look: open the scanner, check it is still listed, or find it again after an unplug.
fn check(config: &ScannerConfig, s: &mut ScannerSlot, health: &HealthMap) {
    let Some(o) = s.opened.as_mut() else {
        match config.open() {
            Ok(o) => {
                set_health(health, "scanner", Health::Ok, Some(label(&o)));
                s.opened = Some(o);
                s.present = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "document scanner not available");
                set_health(health, "scanner", health_of(e.kind()), Some(e.to_string()));
            }
        }
        return;
    };
    let devices = o.scanner.devices();
    if s.present {
        let name = o.device.name.clone();
        if !matches!(&devices, Ok(ds) if ds.iter().any(|d| d.name == name)) {
            tracing::warn!(device = %name, "document scanner gone");
            set_health(
                health,
                "scanner",
                Health::Missing,
                Some(format!("{name} is no longer there")),
            );
            s.present = false;
        }
        return;
    }
    // Unplugged: a USB scanner may come back under another name; pick it as configured.
    let found = devices
        .ok()
        .and_then(|ds| pick_device(&ds, config.device.as_deref()).cloned());
    if let Some(d) = found {
        if o.scanner.open(&d.name).is_ok() {
            // Opened again, the device has its own defaults: set ours again.
            if let Err(e) = config.apply(o.scanner.as_mut()) {
                tracing::warn!(device = %d.name, error = %e, "scanner settings not applied");
            }
            tracing::info!(device = %d.name, "document scanner back");
            o.device = d;
            set_health(health, "scanner", Health::Ok, Some(label(o)));
            s.present = true;
        }
    }
}

/// Runs until `stop`, looking at the scanner every few seconds.
pub fn watch(config: ScannerConfig, slot: SharedScanner, health: HealthMap, stop: Arc<AtomicBool>) {
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            next = Instant::now() + CHECK;
            match slot.lock() {
                Ok(mut s) => check(&config, &mut s, &health),
                Err(_) => return,
            }
        }
        std::thread::sleep(POLL);
    }
}
