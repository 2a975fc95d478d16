//! Receipt printers.

use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, NaiveDateTime};

use crate::ErrorKind;

pub mod bitmap;
pub mod config;
pub mod escpos;
pub mod render;

pub use bitmap::Bitmap;
pub use config::PrinterConfig;
pub use escpos::{decode_raster, EscPos};
pub use render::render;

/// Paper roll width. In config files, its millimetres: `58` or `80`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum PaperWidth {
    /// 58 mm paper: 384 dots at 203 dpi.
    Mm58,
    /// 80 mm paper: 576 dots at 203 dpi.
    Mm80,
}

impl PaperWidth {
    /// Printable width in dots.
    pub fn dots(self) -> usize {
        match self {
            PaperWidth::Mm58 => 384,
            PaperWidth::Mm80 => 576,
        }
    }

    /// Parses `58` or `80` (millimetres), as written in config files.
    pub fn from_mm(mm: u32) -> Option<Self> {
        [PaperWidth::Mm58, PaperWidth::Mm80]
            .into_iter()
            .find(|p| p.mm() == mm)
    }

    /// The width in millimetres, as written in config files.
    pub fn mm(self) -> u32 {
        match self {
            PaperWidth::Mm58 => 58,
            PaperWidth::Mm80 => 80,
        }
    }
}

impl TryFrom<u32> for PaperWidth {
    type Error = String;

    fn try_from(mm: u32) -> Result<Self, Self::Error> {
        PaperWidth::from_mm(mm).ok_or_else(|| format!("paper_mm must be 58 or 80, not {mm}"))
    }
}

impl From<PaperWidth> for u32 {
    fn from(p: PaperWidth) -> u32 {
        p.mm()
    }
}

/// One loaned item on a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptItem {
    /// The title as shown to the reader.
    pub title: String,
    /// The item barcode.
    pub barcode: String,
    /// When it is due back.
    pub due: NaiveDate,
}

/// What a loan receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The library name, printed as the heading.
    pub library: String,
    /// An optional line under the heading, e.g. "Phiếu mượn sách".
    pub title: Option<String>,
    /// When the receipt was printed (device-local time, for display only).
    pub printed_at: NaiveDateTime,
    /// The reader's display name, if the receipt should carry it.
    pub patron: Option<String>,
    /// The items, each with its due date.
    pub items: Vec<ReceiptItem>,
    /// A closing line, e.g. opening hours.
    pub footer: String,
    /// Whether to print a QR code of the loan list.
    pub qr: bool,
}

impl Receipt {
    /// A demonstration receipt (a printer test page, and what the committed PNGs show).
    pub fn sample() -> Self {
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default();
        Receipt {
            library: "Thư viện tỉnh Kon Tum".into(),
            title: Some("Phiếu mượn sách".into()),
            printed_at: day(11, 25).and_hms_opt(17, 30, 0).unwrap_or_default(),
            patron: Some("Nguyễn Thị Hương Giang".into()),
            items: vec![
                ReceiptItem {
                    title: "Địa chí Kon Tum".into(),
                    barcode: "KT0001".into(),
                    due: day(12, 16),
                },
                ReceiptItem {
                    title: "Truyện cổ các dân tộc Tây Nguyên: Ba Na, Xơ Đăng, Giẻ Triêng, \
                            Gia Rai và Brâu"
                        .into(),
                    barcode: "KT0002".into(),
                    due: day(12, 16),
                },
                ReceiptItem {
                    title: "Sử thi Đăm Săn — ẫ ậ ờ ỡ ữ ỹ Ấ Ự".into(),
                    barcode: "KT0003".into(),
                    due: day(12, 23),
                },
            ],
            footer: "Cảm ơn bạn đã đến thư viện!".into(),
            qr: true,
        }
    }

    /// The QR code's text: one `barcode due-date(ISO)` line per item.
    pub fn qr_payload(&self) -> String {
        self.items
            .iter()
            .map(|i| format!("{} {}", i.barcode, i.due.format("%Y-%m-%d")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What the printer says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterStatus {
    /// Ready to print.
    Ok,
    /// Paper is running low but it can still print.
    PaperNearEnd,
    /// No paper.
    PaperOut,
    /// The cover is open.
    CoverOpen,
    /// The printer does not answer, or says it is offline.
    Offline,
}

/// A printer failure.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    /// The printer is gone.
    #[error("printer disconnected: {0}")]
    Disconnected(String),
    /// The printer is there but cannot print now (paper out, cover open, jammed).
    #[error("printer not ready: {0:?}")]
    NotReady(PrinterStatus),
    /// Another I/O failure.
    #[error("printer I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl PrinterError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PrinterError::Disconnected(_) => ErrorKind::Disconnected,
            PrinterError::NotReady(_) => ErrorKind::NotReady,
            PrinterError::Io(_) => ErrorKind::Io,
        }
    }
}

/// Something that prints receipts.
pub trait ReceiptPrinter: Send {
    /// Prints one receipt and cuts the paper.
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrinterError>;
    /// Asks the printer how it is; a printer that does not answer is `Offline`.
    fn status(&mut self) -> PrinterStatus;
}

/// A simulated printer: it keeps what it printed, and its status can be set from a
/// [`SimPrinterHandle`] (paper out, jammed, offline).
#[derive(Debug)]
pub struct SimPrinter {
    shared: Arc<Mutex<SimState>>,
}

/// Inspects and drives a [`SimPrinter`].
#[derive(Debug, Clone)]
pub struct SimPrinterHandle {
    shared: Arc<Mutex<SimState>>,
}

#[derive(Debug)]
struct SimState {
    status: PrinterStatus,
    printed: Vec<Receipt>,
}

impl SimPrinter {
    /// A ready simulated printer and its handle.
    pub fn new() -> (Self, SimPrinterHandle) {
        let shared = Arc::new(Mutex::new(SimState {
            status: PrinterStatus::Ok,
            printed: Vec::new(),
        }));
        (
            Self {
                shared: shared.clone(),
            },
            SimPrinterHandle { shared },
        )
    }
}

fn lock(m: &Mutex<SimState>) -> std::sync::MutexGuard<'_, SimState> {
    // A panic while holding this lock leaves plain data behind; keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimPrinterHandle {
    /// Sets what the printer reports from now on (e.g. `PaperOut` to simulate a jam).
    pub fn set_status(&self, status: PrinterStatus) {
        lock(&self.shared).status = status;
    }

    /// Every receipt printed so far.
    pub fn printed(&self) -> Vec<Receipt> {
        lock(&self.shared).printed.clone()
    }
}

impl ReceiptPrinter for SimPrinter {
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrinterError> {
        let mut s = lock(&self.shared);
        match s.status {
            PrinterStatus::Ok | PrinterStatus::PaperNearEnd => {
                s.printed.push(receipt.clone());
                Ok(())
            }
            PrinterStatus::Offline => Err(PrinterError::Disconnected(
                "simulated printer offline".into(),
            )),
            other => Err(PrinterError::NotReady(other)),
        }
    }

    fn status(&mut self) -> PrinterStatus {
        lock(&self.shared).status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_records_and_jams() {
        let (mut p, h) = SimPrinter::new();
        let r = Receipt::sample();
        p.print(&r).unwrap();
        assert_eq!(h.printed(), vec![r.clone()]);
        h.set_status(PrinterStatus::PaperOut);
        assert_eq!(p.status(), PrinterStatus::PaperOut);
        assert_eq!(p.print(&r).unwrap_err().kind(), ErrorKind::NotReady);
        h.set_status(PrinterStatus::Offline);
        assert_eq!(p.print(&r).unwrap_err().kind(), ErrorKind::Disconnected);
        assert_eq!(h.printed().len(), 1);
    }

    #[test]
    fn qr_payload_lists_loans() {
        assert_eq!(
            Receipt::sample().qr_payload(),
            "KT0001 2026-12-16\nKT0002 2026-12-16\nKT0003 2026-12-23"
        );
        assert_eq!(PaperWidth::from_mm(80), Some(PaperWidth::Mm80));
        assert_eq!(PaperWidth::from_mm(57), None);
    }
}
