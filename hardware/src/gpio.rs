//! Lights and buzzer on Raspberry Pi GPIO pins through `rppal` (feature `gpio`).

use rppal::gpio::{Gpio, OutputPin};

use crate::lights::{pattern, play, GpioConfig, Indicator, LightsError, Signal};

/// An [`Indicator`] on three GPIO outputs, all driven low (off) when opened and dropped.
#[derive(Debug)]
pub struct GpioLights {
    green: OutputPin,
    red: OutputPin,
    buzzer: OutputPin,
}

impl GpioLights {
    /// Claims the pins. Off a Raspberry Pi this fails with `Missing` ("not a Raspberry Pi").
    pub fn open(config: GpioConfig) -> Result<Self, LightsError> {
        let pins = [config.green_pin, config.red_pin, config.buzzer_pin];
        if pins[0] == pins[1] || pins[1] == pins[2] || pins[0] == pins[2] {
            return Err(LightsError::Io(format!(
                "the green, red and buzzer pins must differ, got {pins:?}"
            )));
        }
        let gpio = Gpio::new().map_err(gpio_error)?;
        let out = |pin: u8| -> Result<OutputPin, LightsError> {
            let mut p = gpio.get(pin).map_err(gpio_error)?.into_output_low();
            // Hand the pin back as it was (an input: LED and buzzer off) when dropped.
            p.set_reset_on_drop(true);
            Ok(p)
        };
        let me = Self {
            green: out(config.green_pin)?,
            red: out(config.red_pin)?,
            buzzer: out(config.buzzer_pin)?,
        };
        tracing::info!(?config, "GPIO lights and buzzer ready");
        Ok(me)
    }
}

/// Maps rppal's errors to ours; "not a Pi" is a missing device, not a failure.
fn gpio_error(e: rppal::gpio::Error) -> LightsError {
    use rppal::gpio::Error as E;
    match e {
        E::UnknownModel => LightsError::Missing(
            "not a Raspberry Pi (rppal cannot identify the board), so there is no GPIO".into(),
        ),
        E::PermissionDenied(path) => LightsError::Missing(format!(
            "permission denied on {path}: the agent's user needs the `gpio` group"
        )),
        E::PinNotAvailable(pin) => LightsError::Io(format!("BCM pin {pin} does not exist")),
        E::PinUsed(pin) => LightsError::Io(format!("BCM pin {pin} is used by something else")),
        other => LightsError::Io(other.to_string()),
    }
}

impl Indicator for GpioLights {
    fn show(&mut self, signal: Signal) -> Result<(), LightsError> {
        play::<LightsError>(
            &pattern(signal),
            |g, r, b| {
                let set = |p: &mut OutputPin, on: bool| {
                    if on {
                        p.set_high()
                    } else {
                        p.set_low()
                    }
                };
                set(&mut self.green, g);
                set(&mut self.red, r);
                set(&mut self.buzzer, b);
                Ok(())
            },
            std::thread::sleep,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn off_a_pi_the_lights_are_missing_with_a_clear_error() {
        let model = std::fs::read_to_string("/proc/device-tree/model").unwrap_or_default();
        if model.contains("Raspberry Pi") {
            return; // This test is about machines that are not a Pi.
        }
        let err = GpioLights::open(GpioConfig::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        assert!(err.to_string().contains("not a Raspberry Pi"), "{err}");
        let same = GpioConfig {
            red_pin: 17,
            ..GpioConfig::default()
        };
        assert_eq!(GpioLights::open(same).unwrap_err().kind(), ErrorKind::Io);
    }
}
