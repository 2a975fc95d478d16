//! The ESC/POS driver against in-memory streams: what it sends decodes back to the
//! rendered receipt, and status answers are read as the printer means them.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use rong_hardware::printer::escpos::{CUT, INIT};
use rong_hardware::printer::{decode_raster, render, Bitmap};
use rong_hardware::{
    ErrorKind, EscPos, PaperWidth, PrinterStatus, Receipt, ReceiptItem, ReceiptPrinter,
};

/// A printer on the other end of the wire: records what it is sent and answers DLE EOT n
/// from a table; `None` in the table means it stays silent.
#[derive(Default)]
struct FakePrinter {
    written: Vec<u8>,
    answers: [Option<u8>; 5],
    pending: VecDeque<u8>,
    unplugged: bool,
    /// Once this many bytes are written, every write would block (paper ran out).
    accept_limit: Option<usize>,
}

impl FakePrinter {
    fn answering(printer: u8, offline: u8, paper: u8) -> Self {
        let mut f = Self::default();
        f.answers[1] = Some(printer);
        f.answers[2] = Some(offline);
        f.answers[4] = Some(paper);
        f
    }
}

impl Write for FakePrinter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.unplugged {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let buf = match self.accept_limit {
            Some(limit) if self.written.len() >= limit => {
                return Err(io::Error::from(io::ErrorKind::WouldBlock))
            }
            Some(limit) => &buf[..buf.len().min(limit - self.written.len())],
            None => buf,
        };
        self.written.extend_from_slice(buf);
        if let [0x10, 0x04, n] = *buf {
            if let Some(Some(a)) = self.answers.get(usize::from(n)) {
                self.pending.push_back(*a);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for FakePrinter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.pending.pop_front() {
            Some(b) if !buf.is_empty() => {
                buf[0] = b;
                Ok(1)
            }
            _ => Err(io::Error::from(io::ErrorKind::WouldBlock)),
        }
    }
}

fn printer(fake: FakePrinter, paper: PaperWidth) -> EscPos<FakePrinter> {
    EscPos::new(fake, paper, Duration::from_millis(200))
}

#[test]
fn the_byte_stream_decodes_back_to_the_rendering() {
    for paper in [PaperWidth::Mm58, PaperWidth::Mm80] {
        let receipt = Receipt::sample();
        let mut p = printer(FakePrinter::default(), paper);
        p.print(&receipt).unwrap();
        let bytes = &p.stream().written;
        assert!(bytes.starts_with(&INIT), "{paper:?}: starts with ESC @");
        assert!(bytes.ends_with(&CUT), "{paper:?}: ends with a cut");

        let bands = decode_raster(bytes);
        assert!(bands.len() > 1, "a receipt is taller than one band");
        assert!(bands
            .iter()
            .all(|b| b.height() <= 255 && b.width() == paper.dots()));
        let expected = render(&receipt, paper);
        assert!(expected.black_count() > 1000, "something was drawn");
        assert_eq!(Bitmap::vstack(&bands), Some(expected), "{paper:?}");
    }
}

#[test]
fn rendering_depends_on_the_text() {
    let mut other = Receipt::sample();
    other.items[0].due = chrono::NaiveDate::from_ymd_opt(2026, 12, 17).unwrap();
    assert_ne!(
        render(&other, PaperWidth::Mm58),
        render(&Receipt::sample(), PaperWidth::Mm58)
    );
    let mut longer = Receipt::sample();
    longer.items.push(ReceiptItem {
        title: "Kho tàng sử thi Tây Nguyên".into(),
        barcode: "KT0004".into(),
        due: chrono::NaiveDate::from_ymd_opt(2026, 12, 16).unwrap(),
    });
    assert!(render(&longer, PaperWidth::Mm58).height() > render(&other, PaperWidth::Mm58).height());
    let mut no_qr = Receipt::sample();
    no_qr.qr = false;
    assert!(
        render(&no_qr, PaperWidth::Mm80).height()
            < render(&Receipt::sample(), PaperWidth::Mm80).height()
    );
}

/// Reads a committed grayscale PNG back to a bitmap.
fn read_png(path: &Path) -> Bitmap {
    let file = std::fs::File::open(path).expect("committed PNG exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = Bitmap::new(w, h);
    for y in 0..h {
        for x in 0..w {
            if buf[y * info.line_size + x] < 128 {
                img.set(x, y);
            }
        }
    }
    img
}

#[test]
fn committed_pngs_show_the_current_rendering() {
    let docs = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("docs");
    for (paper, name) in [
        (PaperWidth::Mm58, "receipt-58mm.png"),
        (PaperWidth::Mm80, "receipt-80mm.png"),
    ] {
        assert_eq!(
            read_png(&docs.join(name)),
            render(&Receipt::sample(), paper),
            "{name} is stale: run `cargo run -p rong-hardware --example receipt_png` and look at it"
        );
    }
}

#[test]
fn status_answers() {
    let cases = [
        ((0x12, 0x12, 0x12), PrinterStatus::Ok),
        ((0x12, 0x12, 0x1e), PrinterStatus::PaperNearEnd),
        // Offline because the paper ran out: DLE EOT 2 bit 5, DLE EOT 4 bits 5 and 6.
        ((0x1a, 0x32, 0x72), PrinterStatus::PaperOut),
        ((0x1a, 0x16, 0x12), PrinterStatus::CoverOpen),
        ((0x1a, 0x12, 0x12), PrinterStatus::Offline),
    ];
    for ((a, b, c), want) in cases {
        let mut p = printer(FakePrinter::answering(a, b, c), PaperWidth::Mm58);
        assert_eq!(p.status(), want, "{a:#x} {b:#x} {c:#x}");
        assert_eq!(
            p.stream().written,
            [0x10, 0x04, 1, 0x10, 0x04, 2, 0x10, 0x04, 4]
        );
    }
}

#[test]
fn a_silent_printer_is_offline_within_the_timeout() {
    let timeout = Duration::from_millis(150);
    let mut p = EscPos::new(FakePrinter::default(), PaperWidth::Mm80, timeout);
    let start = Instant::now();
    assert_eq!(p.status(), PrinterStatus::Offline);
    let took = start.elapsed();
    assert!(took >= timeout, "waited the timeout ({took:?})");
    assert!(took < timeout * 3, "gave up after one timeout ({took:?})");

    // One that answers the first query and then falls silent is offline too.
    let mut fake = FakePrinter::default();
    fake.answers[1] = Some(0x12);
    let mut p = printer(fake, PaperWidth::Mm58);
    assert_eq!(p.status(), PrinterStatus::Offline);
}

#[test]
fn an_unplugged_printer_fails_with_disconnected() {
    let fake = FakePrinter {
        unplugged: true,
        ..FakePrinter::default()
    };
    let mut p = printer(fake, PaperWidth::Mm58);
    let err = p.print(&Receipt::sample()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert_eq!(p.status(), PrinterStatus::Offline);
}

#[test]
fn a_printer_that_stops_taking_data_is_not_ready() {
    let fake = FakePrinter {
        accept_limit: Some(1000),
        ..FakePrinter::default()
    };
    let mut p = printer(fake, PaperWidth::Mm58).with_write_stall(Duration::from_millis(100));
    let err = p.print(&Receipt::sample()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotReady, "{err}");
    assert_eq!(p.stream().written.len(), 1000);
}

#[test]
fn a_device_file_that_never_answers() {
    // A plain file stands in for a USB printer device that takes data and never answers.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lp0");
    std::fs::write(&path, b"").expect("create");
    let file = rong_hardware::printer::escpos::open_device(&path).expect("open");
    let mut p = EscPos::new(file, PaperWidth::Mm80, Duration::from_millis(50));
    p.print(&Receipt::sample()).unwrap();
    assert_eq!(p.status(), PrinterStatus::Offline);
    drop(p);
    let bytes = std::fs::read(&path).expect("read back");
    assert_eq!(
        Bitmap::vstack(&decode_raster(&bytes)),
        Some(render(&Receipt::sample(), PaperWidth::Mm80))
    );
    let err = rong_hardware::printer::escpos::open_device(&dir.path().join("lp9")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
}
