//! The lights and buzzer: patterns play on their own thread, so a `signal` request returns
//! at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use rong_hardware::{Indicator, SimLights, SimLightsHandle};
use rong_protocol::api::Signal;
use rong_protocol::status::Health;

use super::{health_of, set_health, HealthMap, Starter, POLL};
use crate::config::DeviceKind;

/// Signals waiting to play; more than this while one plays are dropped (a reader mashing
/// buttons needs no queue of beeps).
const QUEUE: usize = 2;
const NAME: &str = "lights";

/// The lights, as the rest of the agent sees them.
#[derive(Debug)]
pub(super) struct Lights {
    tx: Option<mpsc::SyncSender<Signal>>,
    sim: Option<SimLightsHandle>,
}

fn to_hw(signal: Signal) -> rong_hardware::Signal {
    match signal {
        Signal::Success => rong_hardware::Signal::Success,
        Signal::Error => rong_hardware::Signal::Error,
        Signal::Attention => rong_hardware::Signal::Attention,
    }
}

fn name(signal: Signal) -> &'static str {
    match signal {
        Signal::Success => "success",
        Signal::Error => "error",
        Signal::Attention => "attention",
    }
}

impl Lights {
    /// Starts the configured lights; a failure to start is shown in `health`.
    pub(super) fn start(kind: &DeviceKind, st: &mut Starter) -> Self {
        let health = &st.health;
        let (indicator, sim, detail): (Box<dyn Indicator>, _, _) = match kind {
            DeviceKind::Sim => {
                let (l, h) = SimLights::new();
                (Box::new(l), Some(h), "simulated".to_owned())
            }
            DeviceKind::Gpio(c) => match open_gpio(c) {
                Ok(l) => (
                    l,
                    None,
                    format!(
                        "gpio green {} red {} buzzer {}",
                        c.green_pin, c.red_pin, c.buzzer_pin
                    ),
                ),
                Err((h, detail)) => {
                    tracing::warn!(device = NAME, %detail, "lights not started; signals are only logged");
                    set_health(health, NAME, h, Some(detail));
                    return Self {
                        tx: None,
                        sim: None,
                    };
                }
            },
            other => {
                super::not_configured(health, NAME, other);
                return Self {
                    tx: None,
                    sim: None,
                };
            }
        };
        set_health(health, NAME, Health::Ok, Some(detail.clone()));
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let h = health.clone();
        st.spawn(move |s| lights_loop(indicator, rx, h, s, detail));
        Self { tx: Some(tx), sim }
    }

    /// Queues a signal; drops it when the queue is full.
    pub(super) fn signal(&self, signal: Signal) {
        match &self.tx {
            Some(tx) => {
                if tx.try_send(signal).is_err() {
                    tracing::debug!(?signal, "lights busy: signal dropped");
                }
            }
            None => tracing::debug!(?signal, "signal (no lights or buzzer)"),
        }
    }

    /// What the simulated lights have shown.
    pub(super) fn sim_shown(&self) -> Vec<rong_hardware::Signal> {
        self.sim.as_ref().map(|h| h.shown()).unwrap_or_default()
    }
}

#[cfg(feature = "gpio")]
fn open_gpio(c: &rong_hardware::GpioConfig) -> Result<Box<dyn Indicator>, (Health, String)> {
    rong_hardware::GpioLights::open(*c)
        .map(|l| Box::new(l) as Box<dyn Indicator>)
        .map_err(|e| (health_of(e.kind()), e.to_string()))
}

#[cfg(not(feature = "gpio"))]
fn open_gpio(_: &rong_hardware::GpioConfig) -> Result<Box<dyn Indicator>, (Health, String)> {
    let _ = health_of;
    Err((
        Health::Error,
        "this agent was built without the `gpio` feature".into(),
    ))
}

fn lights_loop(
    mut indicator: Box<dyn Indicator>,
    rx: mpsc::Receiver<Signal>,
    health: HealthMap,
    stop: Arc<AtomicBool>,
    detail: String,
) {
    while !stop.load(Ordering::SeqCst) {
        let signal = match rx.recv_timeout(POLL) {
            Ok(s) => s,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match indicator.show(to_hw(signal)) {
            Ok(()) => set_health(
                &health,
                NAME,
                Health::Ok,
                Some(format!("{detail}; last signal {}", name(signal))),
            ),
            Err(e) => {
                tracing::warn!(device = NAME, error = %e, "signal not shown");
                set_health(&health, NAME, health_of(e.kind()), Some(e.to_string()));
            }
        }
    }
}
