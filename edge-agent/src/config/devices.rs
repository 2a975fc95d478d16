//! The `[hardware]` section: which driver runs each device, and its settings.
//!
//! Each device is either a short word (`barcode = "sim"`, the old form) or a table with a
//! `kind` and that driver's settings:
//!
//! ```toml
//! [hardware.barcode]
//! kind = "serial"          # sim | serial | wedge | none
//! path = "/dev/rong-barcode"
//! ```

use std::fmt;
use std::marker::PhantomData;

use rong_hardware::{GpioConfig, NfcConfig, PrinterConfig, SerialConfig, WedgeConfig};
use serde::de::value::{MapAccessDeserializer, MapDeserializer};
use serde::{Deserialize, Deserializer, Serialize};

use super::ConfigError;

/// Which driver runs a device, with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceKind {
    /// The simulator, driven through the local API (`ctl scan`, `tap`, `printer`...).
    Sim,
    /// No such device on this board.
    None,
    /// A barcode reader on a serial port.
    Serial(SerialConfig),
    /// A USB keyboard-wedge barcode reader (Linux evdev; agent feature `wedge`).
    Wedge(WedgeConfig),
    /// An NFC reader through libnfc (agent feature `nfc`).
    Nfc(NfcConfig),
    /// LEDs and buzzer on Raspberry Pi GPIO (agent feature `gpio`).
    Gpio(GpioConfig),
    /// An ESC/POS receipt printer on a USB device file or serial port.
    Escpos(PrinterConfig),
}

impl DeviceKind {
    /// The word used for this kind in the config file.
    pub fn name(&self) -> &'static str {
        match self {
            DeviceKind::Sim => "sim",
            DeviceKind::None => "none",
            DeviceKind::Serial(_) => "serial",
            DeviceKind::Wedge(_) => "wedge",
            DeviceKind::Nfc(_) => "nfc",
            DeviceKind::Gpio(_) => "gpio",
            DeviceKind::Escpos(_) => "escpos",
        }
    }
}

/// Which hardware to drive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardwareConfig {
    /// Barcode reader: `sim`, `serial`, `wedge` or `none`.
    #[serde(deserialize_with = "word_or_table")]
    pub barcode: DeviceKind,
    /// NFC card reader: `sim`, `nfc` or `none`.
    #[serde(deserialize_with = "word_or_table")]
    pub card: DeviceKind,
    /// Lights and buzzer: `sim`, `gpio` or `none`.
    #[serde(deserialize_with = "word_or_table")]
    pub lights: DeviceKind,
    /// Receipt printer: `sim`, `escpos` or `none`.
    #[serde(deserialize_with = "word_or_table")]
    pub printer: DeviceKind,
}

impl Default for HardwareConfig {
    fn default() -> Self {
        Self {
            barcode: DeviceKind::None,
            card: DeviceKind::None,
            lights: DeviceKind::None,
            printer: DeviceKind::None,
        }
    }
}

impl HardwareConfig {
    /// Checks that each device has a driver of its own kind.
    pub fn check(&self) -> Result<(), ConfigError> {
        let fits = |device: &str, kind: &DeviceKind, allowed: &[&str]| {
            let name = kind.name();
            if ["sim", "none"].contains(&name) || allowed.contains(&name) {
                Ok(())
            } else {
                Err(ConfigError::Invalid(format!(
                    "hardware.{device}: kind {name:?} does not drive this device \
                     (use sim, none, {})",
                    allowed.join(", ")
                )))
            }
        };
        fits("barcode", &self.barcode, &["serial", "wedge"])?;
        fits("card", &self.card, &["nfc"])?;
        fits("lights", &self.lights, &["gpio"])?;
        fits("printer", &self.printer, &["escpos"])
    }
}

/// Reads `"sim"` as `{ kind = "sim" }`, and a table as it is.
fn word_or_table<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceKind, D::Error> {
    struct V(PhantomData<DeviceKind>);
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = DeviceKind;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a device kind (\"sim\", \"none\", ...) or a table with a `kind`")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DeviceKind, E> {
            DeviceKind::deserialize(MapDeserializer::<_, E>::new(std::iter::once(("kind", v))))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DeviceKind, A::Error> {
            DeviceKind::deserialize(MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::time::Duration;

    #[test]
    fn short_words_and_tables() {
        let c = Config::from_toml(
            r#"
[hardware]
barcode = "sim"
card = "none"
[hardware.lights]
kind = "gpio"
red_pin = 5
[hardware.printer]
kind = "escpos"
path = "/dev/rong-printer"
paper_mm = 80
"#,
        )
        .unwrap();
        let h = &c.hardware;
        assert_eq!(h.barcode, DeviceKind::Sim);
        assert_eq!(h.card, DeviceKind::None);
        let DeviceKind::Gpio(g) = &h.lights else {
            panic!("{:?}", h.lights)
        };
        assert_eq!((g.green_pin, g.red_pin, g.buzzer_pin), (17, 5, 22));
        let DeviceKind::Escpos(p) = &h.printer else {
            panic!("{:?}", h.printer)
        };
        assert_eq!(p.path, "/dev/rong-printer");
        assert_eq!(p.paper, rong_hardware::PaperWidth::Mm80);
        h.check().unwrap();
    }

    #[test]
    fn serial_and_wedge_readers() {
        let c = Config::from_toml(
            r#"
[hardware.barcode]
kind = "serial"
path = "/dev/rong-barcode"
debounce_ms = 300
[hardware.barcode.framing]
terminator = "crlf"
[hardware.card]
kind = "nfc"
connstring = "pn532_uart:/dev/ttyS0"
"#,
        )
        .unwrap();
        let DeviceKind::Serial(s) = &c.hardware.barcode else {
            panic!("{:?}", c.hardware.barcode)
        };
        assert_eq!(s.debounce, Duration::from_millis(300));
        assert_eq!(s.framing.terminator, rong_hardware::Terminator::CrLf);
        let DeviceKind::Nfc(n) = &c.hardware.card else {
            panic!("{:?}", c.hardware.card)
        };
        assert_eq!(n.connstring.as_deref(), Some("pn532_uart:/dev/ttyS0"));
        let w =
            Config::from_toml("[hardware.barcode]\nkind = \"wedge\"\npath = \"/dev/x\"").unwrap();
        assert_eq!(
            w.hardware.barcode,
            DeviceKind::Wedge(rong_hardware::WedgeConfig::new("/dev/x"))
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "[hardware]\nbarcode = \"laser\"",
            "[hardware]\nbarcode = \"serial\"", // a serial reader needs a path
            "[hardware.barcode]\nkind = \"serial\"\npath = \"/dev/x\"\nspeed = 9",
            "[hardware.printer]\npath = \"/dev/x\"", // no kind
        ] {
            assert!(Config::from_toml(bad).is_err(), "{bad}");
        }
        let mixed = Config::from_toml("[hardware.card]\nkind = \"gpio\"").unwrap();
        let err = mixed.hardware.check().unwrap_err().to_string();
        assert!(
            err.contains("hardware.card") && err.contains("nfc"),
            "{err}"
        );
    }
}
