//! Barcode readers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rong_protocol::barcode;

use crate::framing::Frame;
use crate::sim::{SimHandle, SimReader};
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

/// Cleans raw reads: trims the whitespace around a code, refuses what the protocol's code
/// rule ([`rong_protocol::barcode`]) refuses, and drops a repeat of the same code within
/// the debounce window (a scanner held over a label fires again and again).
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
        let code = barcode::clean(raw)
            .map_err(|_| BarcodeError::Garbage(raw.chars().take(barcode::MAX_LEN).collect()))?;
        if let Some((last, at)) = &self.last {
            if last == code && now.duration_since(*at) < self.debounce {
                return Ok(None);
            }
        }
        self.last = Some((code.to_owned(), now));
        Ok(Some(code.to_owned()))
    }

    /// Takes frames a driver has cut until one yields a code or an error; debounced
    /// repeats are skipped. `None` when the frames ran out first.
    pub fn next_frame(
        &mut self,
        pending: &mut VecDeque<Frame>,
    ) -> Option<Result<String, BarcodeError>> {
        while let Some(frame) = pending.pop_front() {
            match frame {
                Frame::Garbage(raw) => return Some(Err(BarcodeError::Garbage(raw))),
                Frame::Code(raw) => match self.accept(&raw, Instant::now()) {
                    Ok(None) => continue,
                    Ok(Some(code)) => return Some(Ok(code)),
                    Err(e) => return Some(Err(e)),
                },
            }
        }
        None
    }
}

/// A simulated reader, fed through its [`SimBarcodeHandle`].
pub type SimBarcode = SimReader<String>;

/// Feeds a [`SimBarcode`]: each call is one scan.
pub type SimBarcodeHandle = SimHandle<String>;

impl SimBarcodeHandle {
    /// Scans a code. Fails only when the reader was dropped.
    pub fn scan(&self, code: impl Into<String>) -> Result<(), BarcodeError> {
        self.send(code.into()).map_err(BarcodeError::Disconnected)
    }
}

impl BarcodeReader for SimBarcode {
    fn next_code(&mut self, timeout: Duration) -> Result<Option<String>, BarcodeError> {
        self.next(timeout).map_err(BarcodeError::Disconnected)
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
        // Whatever the protocol's rule takes, symbols included.
        assert_eq!(f.accept("KT+3$%\n", t0).unwrap().as_deref(), Some("KT+3$%"));
        for bad in ["", "\r\n", "KT\u{1b}01", "ab cd", &"9".repeat(65), "mã"] {
            assert_eq!(
                f.accept(bad, t0).unwrap_err().kind(),
                ErrorKind::Garbage,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn frames_give_codes_and_garbage_in_order() {
        let mut f = BarcodeFilter::new(Duration::from_secs(60));
        let mut pending: VecDeque<Frame> = [
            Frame::Code("KT1".into()),
            Frame::Code("KT1".into()),
            Frame::Garbage("\u{2}KT".into()),
            Frame::Code("ab cd".into()),
            Frame::Code("KT1".into()),
            Frame::Code("KT2".into()),
        ]
        .into();
        assert_eq!(f.next_frame(&mut pending).unwrap().unwrap(), "KT1");
        // The repeat is skipped: the next answer is the garbage frame.
        let e = f.next_frame(&mut pending).unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Garbage);
        assert!(e.to_string().contains("KT"), "{e}");
        let e = f.next_frame(&mut pending).unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Garbage);
        assert_eq!(f.next_frame(&mut pending).unwrap().unwrap(), "KT2");
        assert!(pending.is_empty());
        assert!(f.next_frame(&mut pending).is_none());
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
