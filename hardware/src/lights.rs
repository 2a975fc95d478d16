//! Lights and buzzer: a green and a red LED and a buzzer that tell a reader how it went.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ErrorKind;

/// An outcome to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// It worked: green light and one short beep.
    Success,
    /// It did not: red light and two long beeps.
    Error,
    /// Look here: both lights and three short beeps.
    Attention,
}

/// One step of a pattern: which outputs are on, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Green LED on.
    pub green: bool,
    /// Red LED on.
    pub red: bool,
    /// Buzzer sounding.
    pub buzzer: bool,
    /// How long this step lasts.
    pub hold: Duration,
}

const SHORT_BEEP: Duration = Duration::from_millis(100);
const LONG_BEEP: Duration = Duration::from_millis(400);
const GAP: Duration = Duration::from_millis(150);
/// How long the lights stay on after the last beep.
const AFTERGLOW: Duration = Duration::from_millis(1200);

/// The pattern for a signal. Every pattern ends with all outputs off.
pub fn pattern(signal: Signal) -> Vec<Step> {
    let (green, red, beeps, beep) = match signal {
        Signal::Success => (true, false, 1, SHORT_BEEP),
        Signal::Error => (false, true, 2, LONG_BEEP),
        Signal::Attention => (true, true, 3, SHORT_BEEP),
    };
    let step = |buzzer, hold| Step {
        green,
        red,
        buzzer,
        hold,
    };
    let mut steps = Vec::new();
    for i in 0..beeps {
        if i > 0 {
            steps.push(step(false, GAP));
        }
        steps.push(step(true, beep));
    }
    steps.push(step(false, AFTERGLOW));
    steps.push(Step {
        green: false,
        red: false,
        buzzer: false,
        hold: Duration::ZERO,
    });
    steps
}

/// Plays `steps` through `set` (green, red, buzzer), waiting with `sleep` between steps.
pub fn play<E>(
    steps: &[Step],
    mut set: impl FnMut(bool, bool, bool) -> Result<(), E>,
    mut sleep: impl FnMut(Duration),
) -> Result<(), E> {
    for s in steps {
        set(s.green, s.red, s.buzzer)?;
        if !s.hold.is_zero() {
            sleep(s.hold);
        }
    }
    Ok(())
}

/// Which BCM GPIO pins drive the LEDs and the buzzer. In TOML: `green_pin`, `red_pin`,
/// `buzzer_pin` (defaults 17, 27, 22: physical pins 11, 13, 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GpioConfig {
    /// Green LED (through a resistor to ground).
    pub green_pin: u8,
    /// Red LED (through a resistor to ground).
    pub red_pin: u8,
    /// Active buzzer, or the transistor that switches it.
    pub buzzer_pin: u8,
}

impl Default for GpioConfig {
    fn default() -> Self {
        Self {
            green_pin: 17,
            red_pin: 27,
            buzzer_pin: 22,
        }
    }
}

/// A lights-and-buzzer failure.
#[derive(Debug, thiserror::Error)]
pub enum LightsError {
    /// There are no lights here (not a Raspberry Pi, or no GPIO).
    #[error("lights and buzzer missing: {0}")]
    Missing(String),
    /// The GPIO could not be driven.
    #[error("lights and buzzer I/O error: {0}")]
    Io(String),
}

impl LightsError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LightsError::Missing(_) => ErrorKind::Disconnected,
            LightsError::Io(_) => ErrorKind::Io,
        }
    }
}

/// Something that shows outcomes with lights and sound.
pub trait Indicator: Send {
    /// Plays the signal's pattern; blocks until it has finished (about 1.5 to 2 s).
    fn show(&mut self, signal: Signal) -> Result<(), LightsError>;
}

/// Simulated lights: they keep every signal shown, inspectable through a
/// [`SimLightsHandle`], and do not wait.
#[derive(Debug)]
pub struct SimLights {
    shown: Arc<Mutex<Vec<Signal>>>,
}

/// Inspects a [`SimLights`].
#[derive(Debug, Clone)]
pub struct SimLightsHandle {
    shown: Arc<Mutex<Vec<Signal>>>,
}

impl SimLights {
    /// Simulated lights and their handle.
    pub fn new() -> (Self, SimLightsHandle) {
        let shown = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                shown: shown.clone(),
            },
            SimLightsHandle { shown },
        )
    }
}

impl SimLightsHandle {
    /// Every signal shown so far, oldest first.
    pub fn shown(&self) -> Vec<Signal> {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Indicator for SimLights {
    fn show(&mut self, signal: Signal) -> Result<(), LightsError> {
        tracing::debug!(?signal, "simulated lights");
        self.shown
            .lock()
            .map_err(|_| LightsError::Io("simulator lock poisoned".into()))?
            .push(signal);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beeps(steps: &[Step]) -> Vec<Duration> {
        steps.iter().filter(|s| s.buzzer).map(|s| s.hold).collect()
    }

    #[test]
    fn patterns() {
        let ok = pattern(Signal::Success);
        assert_eq!(beeps(&ok), vec![SHORT_BEEP]);
        assert!(ok
            .iter()
            .filter(|s| s.hold > Duration::ZERO)
            .all(|s| s.green && !s.red));
        let err = pattern(Signal::Error);
        assert_eq!(beeps(&err), vec![LONG_BEEP, LONG_BEEP]);
        assert!(err
            .iter()
            .filter(|s| s.hold > Duration::ZERO)
            .all(|s| s.red && !s.green));
        let att = pattern(Signal::Attention);
        assert_eq!(beeps(&att), vec![SHORT_BEEP; 3]);
        assert!(att
            .iter()
            .filter(|s| s.hold > Duration::ZERO)
            .all(|s| s.red && s.green));
        for p in [ok, err, att] {
            let last = p.last().unwrap();
            assert!(
                !last.green && !last.red && !last.buzzer,
                "ends dark and quiet"
            );
            let total: Duration = p.iter().map(|s| s.hold).sum();
            assert!(total < Duration::from_millis(2500), "{total:?}");
        }
    }

    #[test]
    fn play_drives_outputs_in_order_and_stops_on_error() {
        let mut sets = Vec::new();
        let mut slept = Duration::ZERO;
        play::<()>(
            &pattern(Signal::Error),
            |g, r, b| {
                sets.push((g, r, b));
                Ok(())
            },
            |d| slept += d,
        )
        .unwrap();
        assert_eq!(
            sets,
            vec![
                (false, true, true),
                (false, true, false),
                (false, true, true),
                (false, true, false),
                (false, false, false)
            ]
        );
        assert_eq!(slept, LONG_BEEP * 2 + GAP + AFTERGLOW);
        let mut calls = 0;
        let r = play(
            &pattern(Signal::Success),
            |_, _, _| {
                calls += 1;
                Err("pin gone")
            },
            |_| {},
        );
        assert_eq!((r, calls), (Err("pin gone"), 1));
    }

    #[test]
    fn gpio_config_from_toml() {
        let c: GpioConfig = toml::from_str("green_pin = 5\nbuzzer_pin = 6").unwrap();
        assert_eq!((c.green_pin, c.red_pin, c.buzzer_pin), (5, 27, 6));
        assert!(toml::from_str::<GpioConfig>("green = 5").is_err());
    }

    #[test]
    fn simulator_records() {
        let (mut l, h) = SimLights::new();
        l.show(Signal::Success).unwrap();
        l.show(Signal::Attention).unwrap();
        assert_eq!(h.shown(), vec![Signal::Success, Signal::Attention]);
    }
}
