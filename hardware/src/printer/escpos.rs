//! The ESC/POS driver: receipts go out as raster images, status comes back from DLE EOT.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::bitmap::Bitmap;
use super::render::render;
use super::{PaperWidth, PrinterError, PrinterStatus, Receipt, ReceiptPrinter};

/// ESC @: initialise the printer.
pub const INIT: [u8; 2] = [0x1b, 0x40];
/// GS V 0: full cut.
pub const CUT: [u8; 3] = [0x1d, 0x56, 0x00];
/// The tallest raster block sent at once; printers buffer a band before printing it.
pub const MAX_BAND_ROWS: usize = 255;
/// Blank lines fed before the cut so the last printed line clears the cutter.
const FEED_LINES: u8 = 4;
/// How often to retry a read or write that could not proceed yet.
const POLL: Duration = Duration::from_millis(5);
/// How long a print job may make no progress before the printer counts as not ready.
pub const DEFAULT_WRITE_STALL: Duration = Duration::from_secs(10);

/// An ESC/POS printer on a byte stream: a serial port, or a USB printer device file opened
/// by the caller.
///
/// Status answers are read with a deadline: the stream's `read` must not block forever (a
/// serial port with a timeout, or a device file opened non-blocking); a read that returns
/// 0 bytes, `WouldBlock` or `TimedOut` is retried until the deadline. Writes that would
/// block are retried the same way, until the job makes no progress for the write-stall
/// time (a printer out of paper stops taking bytes).
///
/// [`ReceiptPrinter::print`] does not ask for the status first: some USB printers never
/// answer, and would then never print. Callers that can, check [`ReceiptPrinter::status`].
#[derive(Debug)]
pub struct EscPos<S: Read + Write> {
    stream: S,
    paper: PaperWidth,
    status_timeout: Duration,
    write_stall: Duration,
}

impl<S: Read + Write> EscPos<S> {
    /// A driver on `stream` for the given paper, waiting up to `status_timeout` for each
    /// status answer.
    pub fn new(stream: S, paper: PaperWidth, status_timeout: Duration) -> Self {
        Self {
            stream,
            paper,
            status_timeout,
            write_stall: DEFAULT_WRITE_STALL,
        }
    }

    /// Sets how long a job may make no progress before it fails as not ready.
    pub fn with_write_stall(mut self, stall: Duration) -> Self {
        self.write_stall = stall;
        self
    }

    /// The underlying stream (tests read what was written).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Takes the driver apart.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Sends an already rendered image and cuts.
    pub fn print_bitmap(&mut self, img: &Bitmap) -> Result<(), PrinterError> {
        let bytes = encode_job(img);
        self.write_patiently(&bytes)?;
        tracing::debug!(bytes = bytes.len(), rows = img.height(), "receipt sent");
        Ok(())
    }

    /// Writes everything, retrying while the printer is busy, failing after a stall.
    fn write_patiently(&mut self, mut bytes: &[u8]) -> Result<(), PrinterError> {
        let mut progress_at = Instant::now();
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => {
                    return Err(PrinterError::Disconnected(
                        "printer accepts no more bytes".into(),
                    ))
                }
                Ok(n) => {
                    bytes = &bytes[n..];
                    progress_at = Instant::now();
                }
                Err(e) if is_retry(&e) => {
                    if progress_at.elapsed() >= self.write_stall {
                        tracing::warn!(left = bytes.len(), "printer stopped taking data");
                        return Err(PrinterError::NotReady(PrinterStatus::Offline));
                    }
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        self.stream.flush().map_err(io_error)
    }

    /// Sends DLE EOT `n` and waits for its one-byte answer; `None` if none came in time.
    fn query(&mut self, n: u8) -> Result<Option<u8>, PrinterError> {
        self.write_patiently(&[0x10, 0x04, n])?;
        let deadline = Instant::now() + self.status_timeout;
        let mut b = [0u8; 1];
        loop {
            match self.stream.read(&mut b) {
                Ok(1) => return Ok(Some(b[0])),
                Ok(_) => {}
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(io_error(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    fn try_status(&mut self) -> Result<PrinterStatus, PrinterError> {
        let mut answers = [None; 3];
        for (slot, n) in answers.iter_mut().zip([1u8, 2, 4]) {
            match self.query(n)? {
                Some(b) => *slot = Some(b),
                None => return Ok(PrinterStatus::Offline),
            }
        }
        let [printer, offline, paper] = answers.map(|a| a.unwrap_or(0));
        Ok(parse_status(printer, offline, paper))
    }
}

impl<S: Read + Write + Send> ReceiptPrinter for EscPos<S> {
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrinterError> {
        let img = render(receipt, self.paper);
        self.print_bitmap(&img)
    }

    fn status(&mut self) -> PrinterStatus {
        match self.try_status() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "printer status query failed");
                PrinterStatus::Offline
            }
        }
    }
}

/// Whether a DLE EOT answer byte is well formed (bits 1 and 4 set, bits 0 and 7 clear).
fn is_status_byte(b: u8) -> bool {
    b & 0x93 == 0x12
}

/// Reads the answers to DLE EOT 1 (printer), 2 (offline cause) and 4 (roll paper sensor).
pub fn parse_status(printer: u8, offline: u8, paper: u8) -> PrinterStatus {
    if ![printer, offline, paper].into_iter().all(is_status_byte) {
        tracing::warn!(printer, offline, paper, "malformed printer status answer");
        return PrinterStatus::Offline;
    }
    if paper & 0x60 != 0 || offline & 0x20 != 0 {
        return PrinterStatus::PaperOut;
    }
    if offline & 0x04 != 0 {
        return PrinterStatus::CoverOpen;
    }
    if printer & 0x08 != 0 {
        return PrinterStatus::Offline;
    }
    if paper & 0x0c != 0 {
        return PrinterStatus::PaperNearEnd;
    }
    PrinterStatus::Ok
}

/// Whether an I/O error only means "not now".
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Opens a printer device file (e.g. `/dev/usb/lp0`) for reading and writing without
/// blocking, as [`EscPos`] expects. Serial printers need their line set up: open those
/// with `serialport` instead (`serial::open_port`, under the `serial` feature).
pub fn open_device(path: &std::path::Path) -> Result<std::fs::File, PrinterError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                PrinterError::Disconnected(format!("{}: {e}", path.display()))
            }
            _ => io_error(e),
        })
}

fn io_error(e: io::Error) -> PrinterError {
    let gone = matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::NotFound | io::ErrorKind::NotConnected
    ) || matches!(e.raw_os_error(), Some(5) | Some(6) | Some(19));
    if gone {
        PrinterError::Disconnected(e.to_string())
    } else {
        PrinterError::Io(e)
    }
}

/// The whole print job for one image: init, raster bands, feed, cut.
pub fn encode_job(img: &Bitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(img.data().len() + 64);
    out.extend_from_slice(&INIT);
    let mut y = 0;
    while y < img.height() {
        let band = img.rows(y, y + MAX_BAND_ROWS);
        let (xb, rows) = (band.width_bytes(), band.height());
        // GS v 0 m xL xH yL yH: m = 0 is normal density; sizes are little-endian u16.
        out.extend_from_slice(&[0x1d, 0x76, 0x30, 0x00]);
        out.extend_from_slice(&(xb as u16).to_le_bytes());
        out.extend_from_slice(&(rows as u16).to_le_bytes());
        out.extend_from_slice(band.data());
        y += rows;
    }
    // ESC d n: print and feed n lines.
    out.extend_from_slice(&[0x1b, 0x64, FEED_LINES]);
    out.extend_from_slice(&CUT);
    out
}

/// Parses every GS v 0 raster block in an ESC/POS byte stream back into images, skipping
/// the other commands this driver emits. Test support: it is not a general ESC/POS parser.
pub fn decode_raster(bytes: &[u8]) -> Vec<Bitmap> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i..] {
            [0x1d, 0x76, 0x30, _m, xl, xh, yl, yh, ..] => {
                let xb = usize::from(u16::from_le_bytes([xl, xh]));
                let rows = usize::from(u16::from_le_bytes([yl, yh]));
                let start = i + 8;
                let end = start + xb * rows;
                let Some(data) = bytes.get(start..end) else {
                    break;
                };
                if let Some(b) = Bitmap::from_packed(xb, rows, data.to_vec()) {
                    out.push(b);
                }
                i = end;
            }
            [0x1b, 0x40, ..] => i += 2,
            [0x1b, 0x64, _, ..] | [0x1d, 0x56, 0x00, ..] | [0x10, 0x04, _, ..] => i += 3,
            [0x1d, 0x56, 0x41 | 0x42, _, ..] => i += 4,
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bits() {
        // Fixed bits only: everything fine.
        assert_eq!(parse_status(0x12, 0x12, 0x12), PrinterStatus::Ok);
        assert_eq!(parse_status(0x12, 0x12, 0x1e), PrinterStatus::PaperNearEnd);
        assert_eq!(parse_status(0x1a, 0x32, 0x72), PrinterStatus::PaperOut);
        assert_eq!(parse_status(0x1a, 0x16, 0x12), PrinterStatus::CoverOpen);
        assert_eq!(parse_status(0x1a, 0x12, 0x12), PrinterStatus::Offline);
        assert_eq!(parse_status(0xff, 0x12, 0x12), PrinterStatus::Offline);
    }

    #[test]
    fn tall_images_go_out_in_bands() {
        let mut img = Bitmap::new(16, 600);
        img.set(3, 0);
        img.set(15, 599);
        let job = encode_job(&img);
        let bands = decode_raster(&job);
        assert_eq!(
            bands.iter().map(Bitmap::height).collect::<Vec<_>>(),
            vec![255, 255, 90]
        );
        assert_eq!(Bitmap::vstack(&bands), Some(img));
    }
}
