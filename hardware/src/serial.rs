//! A barcode reader on a serial port (USB-serial scanners, RS-232 wedges).

use std::io::{self, Read};
use std::time::{Duration, Instant};

use crate::barcode::{BarcodeError, BarcodeFilter, BarcodeReader};
use crate::framing::{Frame, FrameSplitter, Framing};

/// Where and how to talk to a serial barcode reader. In TOML: `path`, `baud`,
/// `debounce_ms` and a `[framing]` table; everything but `path` has a default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConfig {
    /// The device path, e.g. `/dev/ttyACM0` or a stable `/dev/serial/by-id/...` link.
    pub path: String,
    /// Baud rate (9600 is the usual scanner default).
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// How codes are framed on the wire.
    #[serde(default)]
    pub framing: Framing,
    /// A repeat of the same code within this window is dropped.
    #[serde(
        default = "default_debounce",
        rename = "debounce_ms",
        with = "crate::millis"
    )]
    pub debounce: Duration,
}

fn default_baud() -> u32 {
    9600
}

fn default_debounce() -> Duration {
    Duration::from_secs(1)
}

impl SerialConfig {
    /// A config for `path` with 9600 baud, CR framing and a 1 s debounce.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            baud: default_baud(),
            framing: Framing::default(),
            debounce: default_debounce(),
        }
    }
}

/// A [`BarcodeReader`] on a serial port.
///
/// When the port goes away (unplugged) a read fails with `Disconnected` and the port is
/// closed; the next [`BarcodeReader::next_code`] tries to open the path again, so an unplug
/// and replug resumes without the caller rebuilding the reader.
pub struct SerialBarcode {
    config: SerialConfig,
    port: Option<Box<dyn serialport::SerialPort>>,
    splitter: FrameSplitter,
    filter: BarcodeFilter,
    /// Frames already cut but not yet handed out.
    pending: std::collections::VecDeque<Frame>,
}

impl std::fmt::Debug for SerialBarcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::device::debug_driver(f, "SerialBarcode", &self.config, self.port.is_some()).finish()
    }
}

impl SerialBarcode {
    /// Opens the port. Fails with `Disconnected` when the device is not there.
    pub fn open(config: SerialConfig) -> Result<Self, BarcodeError> {
        let mut me = Self::closed(config);
        me.reopen()?;
        Ok(me)
    }

    /// A reader that has not opened its port yet; the first read tries to.
    pub fn closed(config: SerialConfig) -> Self {
        Self {
            splitter: FrameSplitter::new(config.framing.clone()),
            filter: BarcodeFilter::new(config.debounce),
            config,
            port: None,
            pending: Default::default(),
        }
    }

    /// Whether the port is open right now.
    pub fn is_open(&self) -> bool {
        self.port.is_some()
    }

    /// Closes the port (if open) and opens the configured path again.
    pub fn reopen(&mut self) -> Result<(), BarcodeError> {
        self.port = None;
        self.splitter.reset();
        self.pending.clear();
        let port = serialport::new(&self.config.path, self.config.baud)
            .timeout(Duration::from_millis(100))
            .open()
            .map_err(|e| open_error(&self.config.path, e))?;
        tracing::info!(path = %self.config.path, baud = self.config.baud, "serial barcode reader open");
        self.port = Some(port);
        Ok(())
    }

    fn disconnect(&mut self, why: String) -> BarcodeError {
        tracing::warn!(path = %self.config.path, error = %why, "serial barcode reader gone");
        self.port = None;
        self.splitter.reset();
        BarcodeError::Disconnected(format!("{}: {why}", self.config.path))
    }
}

impl BarcodeReader for SerialBarcode {
    fn next_code(&mut self, timeout: Duration) -> Result<Option<String>, BarcodeError> {
        let deadline = Instant::now() + timeout;
        if self.port.is_none() {
            self.reopen()?;
        }
        let mut buf = [0u8; 128];
        loop {
            if let Some(r) = self.filter.next_frame(&mut self.pending) {
                return r.map(Some);
            }
            let now = Instant::now();
            if now >= deadline && !timeout.is_zero() {
                return Ok(None);
            }
            let wait = deadline
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            let Some(port) = self.port.as_mut() else {
                return Err(self.disconnect("port closed".into()));
            };
            if let Err(e) = port.set_timeout(wait) {
                return Err(self.disconnect(e.to_string()));
            }
            match port.read(&mut buf) {
                // A tty read of 0 bytes means the other side hung up.
                Ok(0) => return Err(self.disconnect("end of file (hang-up)".into())),
                Ok(n) => {
                    let frames = self.splitter.push(&buf[..n]);
                    self.pending.extend(frames);
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    if timeout.is_zero() || Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_gone(&e) => return Err(self.disconnect(e.to_string())),
                Err(e) => return Err(BarcodeError::Io(e)),
            }
        }
    }
}

/// Whether an I/O error means the device went away rather than a passing failure.
fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof
    ) || crate::device::errno_gone(e)
}

fn open_error(path: &str, e: serialport::Error) -> BarcodeError {
    match e.kind() {
        serialport::ErrorKind::NoDevice => BarcodeError::Disconnected(format!("{path}: {e}")),
        serialport::ErrorKind::Io(k) => {
            let io = io::Error::new(k, e.description.clone());
            if is_gone(&io) {
                BarcodeError::Disconnected(format!("{path}: {e}"))
            } else {
                BarcodeError::Io(io)
            }
        }
        serialport::ErrorKind::InvalidInput => BarcodeError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path}: {e}"),
        )),
        _ => BarcodeError::Disconnected(format!("{path}: {e}")),
    }
}

/// Opens a serial port in raw mode with a short read timeout, e.g. for an ESC/POS printer
/// on RS-232 or USB-serial ([`crate::EscPos`] takes the returned port).
pub fn open_port(
    path: &str,
    baud: u32,
) -> Result<Box<dyn serialport::SerialPort>, crate::PrinterError> {
    serialport::new(path, baud)
        .timeout(Duration::from_millis(50))
        .open()
        .map_err(|e| match open_error(path, e) {
            BarcodeError::Io(io) => crate::PrinterError::Io(io),
            other => crate::PrinterError::Disconnected(other.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Terminator;

    #[test]
    fn config_from_toml() {
        let c: SerialConfig = toml::from_str(
            r#"
            path = "/dev/serial/by-id/usb-scanner"
            debounce_ms = 250
            [framing]
            terminator = "crlf"
            prefix = [2]
            "#,
        )
        .unwrap();
        assert_eq!(c.baud, 9600);
        assert_eq!(c.debounce, Duration::from_millis(250));
        assert_eq!(c.framing.terminator, Terminator::CrLf);
        assert_eq!(c.framing.prefix, vec![2]);
        assert!(c.framing.suffix.is_empty());
        let d: SerialConfig = toml::from_str(r#"path = "/dev/ttyACM0""#).unwrap();
        assert_eq!(d, SerialConfig::new("/dev/ttyACM0"));
        assert!(toml::from_str::<SerialConfig>("path = \"x\"\nbaud_rate = 1").is_err());
    }
}
