//! The receipt printer: prints on the caller's (blocking) thread, keeps its health, and
//! reopens a printer that went away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rong_hardware::{
    PrinterConfig, PrinterError, PrinterStatus, Receipt, ReceiptPrinter, SimPrinter,
    SimPrinterHandle,
};
use rong_protocol::api::{ApiError, ErrorCode, SimPrinterState};
use rong_protocol::status::Health;

use super::{health_of, set_health, HealthMap, Starter, POLL};
use crate::config::DeviceKind;

const NAME: &str = "printer";
/// How often a missing ESC/POS printer is looked for.
const REOPEN_EVERY: Duration = Duration::from_secs(5);

type Slot = Arc<Mutex<Option<Box<dyn ReceiptPrinter>>>>;

/// The printer, as the rest of the agent sees it.
pub(super) struct Printer {
    /// `None` when no printer is configured; the inner `None` while a real one is missing.
    slot: Option<Slot>,
    /// Set for an ESC/POS printer, to reopen it.
    config: Option<PrinterConfig>,
    sim: Option<SimPrinterHandle>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("configured", &self.slot.is_some())
            .field("config", &self.config)
            .field("sim", &self.sim.is_some())
            .finish()
    }
}

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Box<dyn ReceiptPrinter>>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// The health a printer status means.
fn status_health(status: PrinterStatus) -> (Health, Option<String>) {
    match status {
        PrinterStatus::Ok => (Health::Ok, None),
        PrinterStatus::PaperNearEnd => (Health::Ok, Some("paper near end".into())),
        PrinterStatus::PaperOut => (Health::Error, Some("paper out".into())),
        PrinterStatus::CoverOpen => (Health::Error, Some("cover open".into())),
        PrinterStatus::Offline => (Health::Missing, Some("offline".into())),
    }
}

fn error_health(e: &PrinterError) -> (Health, Option<String>) {
    match e {
        PrinterError::NotReady(s) => status_health(*s),
        other => (health_of(other.kind()), Some(other.to_string())),
    }
}

fn unavailable(e: &PrinterError) -> ApiError {
    let why = match e {
        PrinterError::NotReady(s) => status_health(*s).1.unwrap_or_default(),
        other => other.to_string(),
    };
    ApiError::new(ErrorCode::PrinterUnavailable, why)
}

impl Printer {
    /// Starts the configured printer; a missing ESC/POS printer is looked for every few
    /// seconds on a thread of its own.
    pub(super) fn start(kind: &DeviceKind, st: &mut Starter) -> Self {
        let health = &st.health;
        match kind {
            DeviceKind::Sim => {
                let (p, h) = SimPrinter::new();
                set_health(health, NAME, Health::Ok, Some("simulated".into()));
                Self {
                    slot: Some(Arc::new(Mutex::new(Some(Box::new(p))))),
                    config: None,
                    sim: Some(h),
                }
            }
            DeviceKind::Escpos(c) => {
                let slot: Slot = Arc::default();
                open_into(&slot, c, health);
                let (s, c2, h) = (slot.clone(), c.clone(), health.clone());
                st.spawn(move |stop| reopen_loop(s, c2, h, stop));
                Self {
                    slot: Some(slot),
                    config: Some(c.clone()),
                    sim: None,
                }
            }
            other => {
                super::not_configured(health, NAME, other);
                Self {
                    slot: None,
                    config: None,
                    sim: None,
                }
            }
        }
    }

    /// Prints, opening a missing ESC/POS printer first.
    pub(super) fn print(&self, receipt: &Receipt, health: &HealthMap) -> Result<(), ApiError> {
        let Some(slot) = &self.slot else {
            return Err(ApiError::new(
                ErrorCode::PrinterUnavailable,
                "no printer configured",
            ));
        };
        let mut guard = lock(slot);
        if guard.is_none() {
            if let Some(c) = &self.config {
                match c.open() {
                    Ok(p) => *guard = Some(p),
                    Err(e) => {
                        let (h, d) = error_health(&e);
                        set_health(health, NAME, h, d);
                        return Err(unavailable(&e));
                    }
                }
            }
        }
        let Some(printer) = guard.as_mut() else {
            return Err(ApiError::new(
                ErrorCode::PrinterUnavailable,
                "printer missing",
            ));
        };
        match printer.print(receipt) {
            Ok(()) => {
                tracing::info!(items = receipt.items.len(), "receipt printed");
                let detail = self.sim.as_ref().map(|_| "simulated".to_owned());
                set_health(health, NAME, Health::Ok, detail);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "receipt not printed");
                if e.kind().is_missing() && self.config.is_some() {
                    *guard = None;
                }
                let (h, d) = error_health(&e);
                set_health(health, NAME, h, d);
                Err(unavailable(&e))
            }
        }
    }

    /// Sets the simulated printer's state, and the printer's health to match.
    pub(super) fn sim_set(
        &self,
        state: SimPrinterState,
        health: &HealthMap,
    ) -> Result<(), ApiError> {
        let h = self
            .sim
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::NoSimulator, "printer"))?;
        let status = match state {
            SimPrinterState::Ok => PrinterStatus::Ok,
            SimPrinterState::PaperOut => PrinterStatus::PaperOut,
            SimPrinterState::CoverOpen => PrinterStatus::CoverOpen,
            SimPrinterState::Offline => PrinterStatus::Offline,
        };
        h.set_status(status);
        let (health_now, detail) = status_health(status);
        let detail = Some(match detail {
            Some(d) => format!("simulated, {d}"),
            None => "simulated".to_owned(),
        });
        set_health(health, NAME, health_now, detail);
        tracing::info!(?status, "simulated printer state set");
        Ok(())
    }

    /// What the simulated printer has printed.
    pub(super) fn sim_printed(&self) -> Vec<Receipt> {
        self.sim.as_ref().map(|h| h.printed()).unwrap_or_default()
    }
}

/// Opens the ESC/POS printer into an empty slot and records the outcome.
fn open_into(slot: &Slot, c: &PrinterConfig, health: &HealthMap) {
    match c.open() {
        Ok(p) => {
            tracing::info!(path = %c.path, "receipt printer open");
            *lock(slot) = Some(p);
            set_health(health, NAME, Health::Ok, Some(format!("escpos {}", c.path)));
        }
        Err(e) => {
            let (h, d) = error_health(&e);
            set_health(health, NAME, h, d);
        }
    }
}

/// Looks for a missing printer every few seconds, so the status shows it back before the
/// next receipt. A printer that is open is left alone (many never answer status queries).
fn reopen_loop(slot: Slot, c: PrinterConfig, health: HealthMap, stop: Arc<AtomicBool>) {
    let mut next = Instant::now() + REOPEN_EVERY;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(POLL);
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + REOPEN_EVERY;
        let missing = match slot.try_lock() {
            Ok(g) => g.is_none(),
            Err(_) => false, // printing right now
        };
        if missing {
            open_into(&slot, &c, &health);
        }
    }
}
