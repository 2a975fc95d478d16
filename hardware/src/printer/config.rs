//! Printer configuration, and opening the configured printer.

use std::time::Duration;

use super::escpos::{open_device, EscPos};
use super::{PaperWidth, PrinterError, ReceiptPrinter};

/// Where the receipt printer is and what paper it holds. In TOML: `path`, optional
/// `baud` (set it for a serial printer), `paper_mm` (58 or 80) and `status_timeout_ms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    /// The device: a USB printer file such as `/dev/usb/lp0`, or a serial port.
    pub path: String,
    /// Baud rate of a serial printer; unset for a USB printer device file.
    #[serde(default)]
    pub baud: Option<u32>,
    /// Paper roll width.
    #[serde(default = "default_paper", rename = "paper_mm")]
    pub paper: PaperWidth,
    /// How long to wait for each status answer before calling the printer offline.
    #[serde(
        default = "default_status_timeout",
        rename = "status_timeout_ms",
        with = "crate::millis"
    )]
    pub status_timeout: Duration,
}

fn default_paper() -> PaperWidth {
    PaperWidth::Mm58
}

fn default_status_timeout() -> Duration {
    Duration::from_millis(500)
}

impl PrinterConfig {
    /// A config for a USB printer at `path` with 58 mm paper.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            baud: None,
            paper: default_paper(),
            status_timeout: default_status_timeout(),
        }
    }

    /// Opens the configured printer as an ESC/POS driver.
    pub fn open(&self) -> Result<Box<dyn ReceiptPrinter>, PrinterError> {
        match self.baud {
            None => {
                let file = open_device(std::path::Path::new(&self.path))?;
                Ok(Box::new(EscPos::new(file, self.paper, self.status_timeout)))
            }
            Some(baud) => self.open_serial(baud),
        }
    }

    #[cfg(feature = "serial")]
    fn open_serial(&self, baud: u32) -> Result<Box<dyn ReceiptPrinter>, PrinterError> {
        let port = crate::serial::open_port(&self.path, baud)?;
        Ok(Box::new(EscPos::new(port, self.paper, self.status_timeout)))
    }

    #[cfg(not(feature = "serial"))]
    fn open_serial(&self, _baud: u32) -> Result<Box<dyn ReceiptPrinter>, PrinterError> {
        Err(PrinterError::Io(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "serial printers need the `serial` feature",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, PrinterStatus, Receipt};

    #[test]
    fn from_toml() {
        let c: PrinterConfig =
            toml::from_str("path = \"/dev/ttyUSB0\"\nbaud = 19200\npaper_mm = 80").unwrap();
        assert_eq!(c.paper, PaperWidth::Mm80);
        assert_eq!(c.baud, Some(19200));
        assert_eq!(c.status_timeout, Duration::from_millis(500));
        let d: PrinterConfig = toml::from_str("path = \"/dev/usb/lp0\"").unwrap();
        assert_eq!(d, PrinterConfig::new("/dev/usb/lp0"));
        let bad = toml::from_str::<PrinterConfig>("path = \"x\"\npaper_mm = 57").unwrap_err();
        assert!(bad.to_string().contains("58 or 80"), "{bad}");
    }

    #[test]
    fn open_a_device_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lp0");
        std::fs::write(&path, b"").unwrap();
        let mut c = PrinterConfig::new(path.to_string_lossy());
        c.status_timeout = Duration::from_millis(20);
        let mut p = c.open().unwrap();
        p.print(&Receipt::sample()).unwrap();
        assert_eq!(p.status(), PrinterStatus::Offline);
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
        let missing = PrinterConfig::new(dir.path().join("lp9").to_string_lossy());
        assert_eq!(
            missing.open().err().map(|e| e.kind()),
            Some(ErrorKind::Disconnected)
        );
    }
}
