//! Renders a receipt to a 1-bit bitmap with the bundled font.
//!
//! Printer code pages cannot print Vietnamese reliably, so the whole receipt is drawn here
//! and sent as a raster image.

use std::sync::OnceLock;

use fontdue::{Font, FontSettings};
use unicode_normalization::UnicodeNormalization;

use super::bitmap::Bitmap;
use super::{PaperWidth, Receipt};

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`): it has every
/// precomposed Vietnamese letter, so NFC text needs no mark positioning.
static FONT_BYTES: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

/// Side margin in dots.
const MARGIN: usize = 8;
/// Font size of the library name, in pixels (dots).
const HEADING_PX: f32 = 30.0;
/// Font size of body text.
const BODY_PX: f32 = 24.0;
/// Coverage at or above this is a black dot (0..=255).
const INK_THRESHOLD: u8 = 110;

fn font() -> &'static Font {
    static FONT: OnceLock<Font> = OnceLock::new();
    FONT.get_or_init(|| {
        // The bytes are compiled in and were checked by the tests, so parsing cannot fail
        // at run time unless the build itself is broken.
        Font::from_bytes(FONT_BYTES, FontSettings::default()).expect("bundled font parses")
    })
}

/// How a line sits across the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Centre,
}

/// Draws lines of text top to bottom onto a growing canvas.
struct Canvas {
    width: usize,
    rows: Vec<Bitmap>,
}

impl Canvas {
    fn new(width: usize) -> Self {
        Self {
            width,
            rows: Vec::new(),
        }
    }

    fn gap(&mut self, dots: usize) {
        self.rows.push(Bitmap::new(self.width, dots));
    }

    fn rule(&mut self) {
        let mut b = Bitmap::new(self.width, 9);
        for x in MARGIN..self.width - MARGIN {
            b.set(x, 4);
        }
        self.rows.push(b);
    }

    /// Word-wraps `text` to the paper and draws it, `indent` dots from the margin.
    fn text(&mut self, text: &str, px: f32, align: Align, indent: usize) {
        self.text_hanging(text, px, align, indent, 0);
    }

    /// Like [`Canvas::text`], with lines after the first indented `hang` dots more.
    fn text_hanging(&mut self, text: &str, px: f32, align: Align, indent: usize, hang: usize) {
        let text: String = text.nfc().collect();
        let avail = self.width - 2 * MARGIN - indent;
        let lines = wrap(&text, px, avail - hang);
        for (i, line) in lines.iter().enumerate() {
            let w = measure(line, px);
            let x0 = match align {
                Align::Left if i > 0 => MARGIN + indent + hang,
                Align::Left => MARGIN + indent,
                Align::Centre => MARGIN + avail.saturating_sub(w) / 2,
            };
            self.rows.push(draw_line(line, px, self.width, x0));
        }
    }

    fn image(&mut self, img: &Bitmap) {
        let mut b = Bitmap::new(self.width, img.height());
        let x0 = self.width.saturating_sub(img.width()) / 2;
        for y in 0..img.height() {
            for x in 0..img.width() {
                if img.get(x, y) {
                    b.set(x0 + x, y);
                }
            }
        }
        self.rows.push(b);
    }

    fn finish(self) -> Bitmap {
        Bitmap::vstack(&self.rows).unwrap_or_else(|| Bitmap::new(self.width, 0))
    }
}

/// Width of `s` in dots at `px`.
fn measure(s: &str, px: f32) -> usize {
    let f = font();
    let mut w = 0.0f32;
    let mut prev = None;
    for c in s.chars() {
        if let Some(p) = prev {
            w += f.horizontal_kern(p, c, px).unwrap_or(0.0);
        }
        w += f.metrics(c, px).advance_width;
        prev = Some(c);
    }
    w.ceil() as usize
}

/// Splits `text` into lines no wider than `avail` dots; a word too long for a line is cut
/// at a character.
fn wrap(text: &str, px: f32, avail: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if measure(&candidate, px) <= avail {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone may still be too wide: break it by characters.
        for c in word.chars() {
            line.push(c);
            if measure(&line, px) > avail && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One line of text as a band of the full paper width.
fn draw_line(s: &str, px: f32, width: usize, x0: usize) -> Bitmap {
    let f = font();
    // The font's own ascent leaves room for stacked marks such as ẫ and Ấ.
    let (ascent, height) = match f.horizontal_line_metrics(px) {
        Some(m) => (m.ascent.ceil() as i64, m.new_line_size.ceil() as usize),
        None => (px.ceil() as i64, (px * 1.2).ceil() as usize),
    };
    let mut band = Bitmap::new(width, height + 2);
    let baseline = ascent + 1;
    let mut pen = x0 as f32;
    let mut prev = None;
    for c in s.chars() {
        if let Some(p) = prev {
            pen += f.horizontal_kern(p, c, px).unwrap_or(0.0);
        }
        let (m, cov) = f.rasterize(c, px);
        let left = pen.round() as i64 + i64::from(m.xmin);
        // Bitmap rows run top-down; ymin is the offset of the glyph's bottom from baseline.
        let top = baseline - i64::from(m.ymin) - m.height as i64;
        for gy in 0..m.height {
            for gx in 0..m.width {
                if cov[gy * m.width + gx] >= INK_THRESHOLD {
                    let (x, y) = (left + gx as i64, top + gy as i64);
                    if x >= 0 && y >= 0 {
                        band.set(x as usize, y as usize);
                    }
                }
            }
        }
        pen += m.advance_width;
        prev = Some(c);
    }
    band
}

/// The QR code of `data` scaled to at most a third of the paper (or `None` if it does not
/// fit a QR code at all).
fn qr_image(data: &str, paper: usize) -> Option<Bitmap> {
    let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M).ok()?;
    let n = code.width();
    let quiet = 4;
    let modules = n + 2 * quiet;
    let scale = (paper * 2 / 3 / modules).clamp(1, 6);
    let dark = code.to_colors();
    let mut img = Bitmap::new(modules * scale, modules * scale);
    for my in 0..n {
        for mx in 0..n {
            if dark[my * n + mx] == qrcode::Color::Dark {
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.set((mx + quiet) * scale + dx, (my + quiet) * scale + dy);
                    }
                }
            }
        }
    }
    Some(img)
}

/// Renders `receipt` for paper of the given width.
pub fn render(receipt: &Receipt, paper: PaperWidth) -> Bitmap {
    let width = paper.dots();
    let mut c = Canvas::new(width);
    c.gap(8);
    c.text(&receipt.library, HEADING_PX, Align::Centre, 0);
    if let Some(title) = &receipt.title {
        c.text(title, BODY_PX, Align::Centre, 0);
    }
    c.text(
        &format!("Ngày: {}", receipt.printed_at.format("%d/%m/%Y %H:%M")),
        BODY_PX,
        Align::Left,
        0,
    );
    if let Some(patron) = &receipt.patron {
        c.text(&format!("Bạn đọc: {patron}"), BODY_PX, Align::Left, 0);
    }
    c.rule();
    for (i, item) in receipt.items.iter().enumerate() {
        c.text_hanging(
            &format!("{}. {}", i + 1, item.title),
            BODY_PX,
            Align::Left,
            0,
            24,
        );
        c.text(&format!("Mã: {}", item.barcode), BODY_PX, Align::Left, 24);
        c.text(
            &format!("Hạn trả: {}", item.due.format("%d/%m/%Y")),
            BODY_PX,
            Align::Left,
            24,
        );
        c.gap(6);
    }
    c.rule();
    if receipt.qr {
        match qr_image(&receipt.qr_payload(), width) {
            Some(img) => {
                c.image(&img);
                c.gap(4);
            }
            None => tracing::warn!("loan list too long for a QR code; printed without it"),
        }
    }
    if !receipt.footer.is_empty() {
        c.text(&receipt.footer, BODY_PX, Align::Centre, 0);
    }
    c.gap(8);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_has_every_vietnamese_letter() {
        let letters = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ\
                       àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ\
                       ÀÁẢÃẠẰẮẲẴẶẦẤẨẪẬÈÉẺẼẸỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌỒỐỔỖỘỜỚỞỠỢÙÚỦŨỤỪỨỬỮỰỲÝỶỸỴ";
        for c in letters.chars() {
            assert!(font().has_glyph(c), "{c}");
        }
    }

    #[test]
    fn wrap_keeps_lines_inside_the_paper() {
        let title = "Lịch sử và văn hoá các dân tộc thiểu số ở Kon Tum qua những tư liệu \
                     điền dã chưa công bố";
        let lines = wrap(title, BODY_PX, 300);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| measure(l, BODY_PX) <= 300));
        assert_eq!(
            lines.join(" "),
            title.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        let long = wrap(&"X".repeat(100), BODY_PX, 100);
        assert!(long.len() > 1 && long.iter().all(|l| measure(l, BODY_PX) <= 100));
    }

    #[test]
    fn decomposed_input_renders_like_composed() {
        let nfc = "Địa chí";
        let nfd: String = nfc.nfd().collect();
        assert_ne!(nfc, nfd);
        let mut a = Canvas::new(384);
        a.text(nfc, BODY_PX, Align::Left, 0);
        let mut b = Canvas::new(384);
        b.text(&nfd, BODY_PX, Align::Left, 0);
        assert_eq!(a.finish(), b.finish());
    }
}
