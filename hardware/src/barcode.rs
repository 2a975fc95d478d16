//! Barcode readers.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::ErrorKind;

/// A barcode reader failure.
#[derive(Debug, thiserror::Error)]
pub enum BarcodeError {
    /// The reader is gone.
    #[error("barcode reader disconnected: {0}")]
    Disconnected(String),
    /// The reader sent something that is not a barcode.
    #[error("not a barcode: {0:?}")]
    Garbage(String),
    /// Another I/O failure.
    #[error("barcode reader I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl BarcodeError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BarcodeError::Disconnected(_) => ErrorKind::Disconnected,
            BarcodeError::Garbage(_) => ErrorKind::Garbage,
            BarcodeError::Io(_) => ErrorKind::Io,
        }
    }
}

/// Something that reads barcodes.
pub trait BarcodeReader: Send {
    /// Waits up to `timeout` for the next code. `Ok(None)` means nothing was read.
    fn next_code(&mut self, timeout: Duration) -> Result<Option<String>, BarcodeError>;
}

/// The longest barcode accepted.
pub const MAX_BARCODE_LEN: usize = 64;

/// Cleans raw reads: trims line endings, rejects garbage, and drops a repeat of the same code
/// within the debounce window (a scanner held over a label fires again and again).
#[derive(Debug)]
pub struct BarcodeFilter {
    debounce: Duration,
    last: Option<(String, Instant)>,
}

impl BarcodeFilter {
    /// A filter with the given debounce window.
    pub fn new(debounce: Duration) -> Self {
        Self {
            debounce,
            last: None,
        }
    }

    /// Checks a raw read taken at `now`. `Ok(None)` is a debounced repeat.
    pub fn accept(&mut self, raw: &str, now: Instant) -> Result<Option<String>, BarcodeError> {
        let code = raw.trim_matches(|c| c == '\r' || c == '\n' || c == ' ');
        if code.is_empty()
            || code.len() > MAX_BARCODE_LEN
            || !code.bytes().all(|b| b.is_ascii_graphic())
        {
            let shown: String = raw.chars().take(MAX_BARCODE_LEN).collect();
            return Err(BarcodeError::Garbage(shown));
        }
        if let Some((last, at)) = &self.last {
            if last == code && now.duration_since(*at) < self.debounce {
                return Ok(None);
            }
        }
        self.last = Some((code.to_owned(), now));
        Ok(Some(code.to_owned()))
    }
}

/// A simulated reader, fed through its [`SimBarcodeHandle`].
#[derive(Debug)]
pub struct SimBarcode {
    rx: mpsc::Receiver<String>,
}

/// Feeds a [`SimBarcode`]: each call is one scan.
#[derive(Debug, Clone)]
pub struct SimBarcodeHandle {
    tx: mpsc::Sender<String>,
}

impl SimBarcode {
    /// A simulated reader and the handle that scans into it.
    pub fn new() -> (Self, SimBarcodeHandle) {
        let (tx, rx) = mpsc::channel();
        (Self { rx }, SimBarcodeHandle { tx })
    }
}

impl SimBarcodeHandle {
    /// Scans a code. Fails only when the reader was dropped.
    pub fn scan(&self, code: impl Into<String>) -> Result<(), BarcodeError> {
        self.tx
            .send(code.into())
            .map_err(|_| BarcodeError::Disconnected("simulated reader closed".into()))
    }
}

impl BarcodeReader for SimBarcode {
    fn next_code(&mut self, timeout: Duration) -> Result<Option<String>, BarcodeError> {
        match self.rx.recv_timeout(timeout) {
            Ok(code) => Ok(Some(code)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(BarcodeError::Disconnected(
                "simulator handle dropped".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_trims_rejects_and_debounces() {
        let mut f = BarcodeFilter::new(Duration::from_millis(500));
        let t0 = Instant::now();
        assert_eq!(
            f.accept("KT0001\r\n", t0).unwrap().as_deref(),
            Some("KT0001")
        );
        assert_eq!(
            f.accept("KT0001", t0 + Duration::from_millis(100)).unwrap(),
            None
        );
        assert_eq!(
            f.accept("KT0001", t0 + Duration::from_millis(700))
                .unwrap()
                .as_deref(),
            Some("KT0001")
        );
        assert_eq!(f.accept("KT0002", t0).unwrap().as_deref(), Some("KT0002"));
        for bad in ["", "\r\n", "KT\u{1b}01", "ab cd", &"9".repeat(65), "mã"] {
            assert_eq!(
                f.accept(bad, t0).unwrap_err().kind(),
                ErrorKind::Garbage,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn simulator() {
        let (mut r, h) = SimBarcode::new();
        h.scan("KT1").unwrap();
        assert_eq!(r.next_code(Duration::ZERO).unwrap().as_deref(), Some("KT1"));
        assert_eq!(r.next_code(Duration::from_millis(1)).unwrap(), None);
        drop(h);
        assert_eq!(
            r.next_code(Duration::ZERO).unwrap_err().kind(),
            ErrorKind::Disconnected
        );
    }
}
