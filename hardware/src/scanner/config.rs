//! Scanner configuration, and opening the configured scanner.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{
    DeviceInfo, DocumentScanner, Mode, OptionValue, ScanError, ScanSettings, SimScanner,
    SimScannerHandle, Source,
};

/// Which driver runs the document scanner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScannerDriver {
    /// A real scanner through libsane (feature `sane`).
    #[default]
    Sane,
    /// The simulator.
    Sim,
}

/// The document scanner of an edge station. In TOML: `driver` (`sane` or `sim`),
/// optional `device`, `sane_config_dir`, default `mode` (`lineart`, `gray`, `color`),
/// `resolution_dpi` and `source` (`flatbed`, `adf`), and the backend's own `options`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerConfig {
    /// The driver.
    #[serde(default)]
    pub driver: ScannerDriver,
    /// Which device: an exact SANE name (`fujitsu:fi-7160:12345`), or text the vendor and
    /// model must contain (`fi-7160`), so a USB scanner whose name carries bus numbers is
    /// found again after a replug. Unset: the first device found.
    #[serde(default)]
    pub device: Option<String>,
    /// A SANE configuration directory (becomes `SANE_CONFIG_DIR`); unset: SANE's own.
    #[serde(default)]
    pub sane_config_dir: Option<PathBuf>,
    /// Colour mode set after opening.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Resolution set after opening.
    #[serde(default)]
    pub resolution_dpi: Option<u32>,
    /// Source set after opening.
    #[serde(default)]
    pub source: Option<Source>,
    /// The backend's own options by name, set after the settings above: a TOML table such
    /// as `options = { swdeskew = true }` for a Fujitsu, or `{ test-picture = "Grid" }` for
    /// SANE's test backend.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, ConfigValue>,
}

/// A backend option's value in a config file: `true`, `75`, `1.5` or `"Grid"`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// A yes/no value.
    Bool(bool),
    /// A whole number (also right for a fixed-point option).
    Int(i32),
    /// A number with a fraction.
    Fixed(f64),
    /// Text.
    Text(String),
}

impl From<&ConfigValue> for OptionValue {
    fn from(v: &ConfigValue) -> OptionValue {
        match v {
            ConfigValue::Bool(b) => OptionValue::Bool(*b),
            ConfigValue::Int(i) => OptionValue::Int(*i),
            ConfigValue::Fixed(f) => OptionValue::Fixed(*f),
            ConfigValue::Text(t) => OptionValue::Text(t.clone()),
        }
    }
}

/// A scanner opened from a [`ScannerConfig`].
pub struct OpenedScanner {
    /// The scanner, ready to scan.
    pub scanner: Box<dyn DocumentScanner>,
    /// The device that was opened.
    pub device: DeviceInfo,
    /// The simulator's handle, when the driver is `sim`.
    pub sim: Option<SimScannerHandle>,
}

impl std::fmt::Debug for OpenedScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedScanner")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// The device `wanted` names among `devices`: an exact name first, then the first whose
/// name, vendor or model contains it (case-insensitive); with nothing wanted, the first.
pub fn pick_device<'a>(devices: &'a [DeviceInfo], wanted: Option<&str>) -> Option<&'a DeviceInfo> {
    let Some(wanted) = wanted.filter(|w| !w.is_empty()) else {
        return devices.first();
    };
    let w = wanted.to_lowercase();
    devices.iter().find(|d| d.name == wanted).or_else(|| {
        devices.iter().find(|d| {
            format!("{} {} {}", d.name, d.vendor, d.model)
                .to_lowercase()
                .contains(&w)
        })
    })
}

impl ScannerConfig {
    /// Lists devices, opens the configured one and applies the default settings. Call it
    /// again after a `Disconnected` error: it finds the scanner anew.
    pub fn open(&self) -> Result<OpenedScanner, ScanError> {
        let (mut scanner, sim): (Box<dyn DocumentScanner>, _) = match self.driver {
            ScannerDriver::Sim => {
                let (s, h) = SimScanner::new();
                (Box::new(s), Some(h))
            }
            ScannerDriver::Sane => (self.sane()?, None),
        };
        let devices = scanner.devices()?;
        let device = pick_device(&devices, self.device.as_deref())
            .cloned()
            .ok_or_else(|| {
                ScanError::DeviceGone(self.device.clone().unwrap_or_else(|| "any scanner".into()))
            })?;
        scanner.open(&device.name)?;
        self.apply(scanner.as_mut())?;
        tracing::info!(device = %device.name, model = %device.model, "document scanner ready");
        Ok(OpenedScanner {
            scanner,
            device,
            sim,
        })
    }

    /// Applies the configured settings and backend options to an open scanner (SANE
    /// resets them when a device is opened again, e.g. after an unplug).
    pub fn apply(&self, scanner: &mut dyn DocumentScanner) -> Result<(), ScanError> {
        scanner.configure(&ScanSettings {
            mode: self.mode,
            resolution_dpi: self.resolution_dpi,
            source: self.source,
            area: None,
        })?;
        for (name, value) in &self.options {
            scanner.set_option(name, value.into())?;
        }
        Ok(())
    }

    #[cfg(feature = "sane")]
    fn sane(&self) -> Result<Box<dyn DocumentScanner>, ScanError> {
        let s = match &self.sane_config_dir {
            Some(dir) => super::SaneScanner::with_config_dir(dir)?,
            None => super::SaneScanner::new()?,
        };
        Ok(Box::new(s))
    }

    #[cfg(not(feature = "sane"))]
    fn sane(&self) -> Result<Box<dyn DocumentScanner>, ScanError> {
        Err(ScanError::Unsupported(
            "built without the `sane` feature".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, vendor: &str, model: &str) -> DeviceInfo {
        DeviceInfo {
            name: name.into(),
            vendor: vendor.into(),
            model: model.into(),
            kind: "sheetfed scanner".into(),
        }
    }

    #[test]
    fn devices_are_picked_by_name_or_model() {
        let list = [
            dev("epsonds:libusb:001:004", "Epson", "DS-530"),
            dev("fujitsu:fi-7160:12345", "FUJITSU", "fi-7160"),
        ];
        assert_eq!(
            pick_device(&list, None).map(|d| d.model.as_str()),
            Some("DS-530")
        );
        assert_eq!(
            pick_device(&list, Some("FI-7160")).map(|d| d.vendor.as_str()),
            Some("FUJITSU")
        );
        assert_eq!(
            pick_device(&list, Some("epsonds:libusb:001:004")).map(|d| d.model.as_str()),
            Some("DS-530")
        );
        assert!(pick_device(&list, Some("canon")).is_none());
        assert!(pick_device(&[], None).is_none());
    }

    #[test]
    fn config_reads_from_toml_and_opens_the_simulator() {
        let c: ScannerConfig = toml::from_str(
            "driver = \"sim\"\nmode = \"color\"\nresolution_dpi = 300\nsource = \"adf\"\n",
        )
        .unwrap();
        assert_eq!(c.driver, ScannerDriver::Sim);
        let mut opened = c.open().unwrap();
        assert_eq!(opened.device.name, "sim:0");
        let now = opened.scanner.capabilities().unwrap().current;
        assert_eq!(
            (now.mode, now.resolution_dpi, now.source),
            (Some(Mode::Color), Some(300), Some(Source::Adf))
        );
        let sim = opened.sim.take().unwrap();
        sim.set_plugged(false);
        assert_eq!(c.open().map(|_| ()), Ok(()), "a new simulator each time");
        assert!(toml::from_str::<ScannerConfig>("driver = \"twain\"").is_err());
        // Backend options are set after the settings, by name.
        let c: ScannerConfig =
            toml::from_str("driver = \"sim\"\nresolution_dpi = 300\n[options]\nresolution = 150\n")
                .unwrap();
        let mut opened = c.open().unwrap();
        let now = opened.scanner.capabilities().unwrap().current;
        assert_eq!(now.resolution_dpi, Some(150));
        let c: ScannerConfig = toml::from_str(
            "options = { test-picture = \"Grid\", three-pass = true, depth = 8, br-y = 297.5 }",
        )
        .unwrap();
        let values: Vec<OptionValue> = c.options.values().map(OptionValue::from).collect();
        assert_eq!(
            values,
            [
                OptionValue::Fixed(297.5),
                OptionValue::Int(8),
                OptionValue::Text("Grid".into()),
                OptionValue::Bool(true)
            ]
        );
        let unknown = ScannerConfig {
            driver: ScannerDriver::Sim,
            options: BTreeMap::from([("no-such-option".into(), ConfigValue::Int(1))]),
            ..Default::default()
        };
        assert!(unknown.open().is_err(), "an unknown option stops the open");
        assert!(toml::from_str::<ScannerConfig>("dpi = 300").is_err());
        let none = ScannerConfig {
            driver: ScannerDriver::Sim,
            device: Some("canon".into()),
            ..Default::default()
        };
        assert_eq!(
            none.open().unwrap_err().kind(),
            crate::ErrorKind::Disconnected
        );
    }
}
