//! Test pages with known Vietnamese text, rendered like a 300 dpi scan of a printed page
//! (Noto Sans, black on white, grey anti-aliased edges), for the OCR error-rate test and
//! the OCR benchmark. Only built with the `test-page` feature.

use std::path::PathBuf;

use ab_glyph::{Font, PxScale, ScaleFont};

pub use ab_glyph::{FontRef, InvalidFont};

/// Where a page's text goes and how large it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// Page width, px.
    pub width: u32,
    /// Page height, px.
    pub height: u32,
    /// Glyph size, px (50 px is 12 pt at 300 dpi).
    pub px: f32,
    /// Line pitch as a multiple of the font's line height.
    pub line_spacing: f32,
    /// Left margin, px.
    pub left: f32,
    /// Top margin, px.
    pub top: f32,
}

/// The Noto Sans font the kiosk ships, found above `CARGO_MANIFEST_DIR` read at run time (a
/// test or benchmark crate somewhere below the workspace root), else above where central
/// was built (a benchmark binary run by hand).
pub fn font_path() -> PathBuf {
    const FONT: &str = "kiosk/fonts/NotoSans-Regular.ttf";
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let manifest = PathBuf::from(manifest);
    manifest
        .ancestors()
        .map(|dir| dir.join(FONT))
        .find(|p| p.is_file())
        .unwrap_or_else(|| manifest.join("..").join(FONT))
}

/// Reads the font at [`font_path`].
pub fn font_bytes() -> std::io::Result<Vec<u8>> {
    let path = font_path();
    std::fs::read(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Parses a TrueType font (e.g. [`font_bytes`]).
pub fn font(bytes: &[u8]) -> Result<FontRef<'_>, InvalidFont> {
    FontRef::try_from_slice(bytes)
}

/// Renders `text` (one line per line) with `font` black on white.
pub fn render(font: &FontRef<'_>, text: &str, layout: Layout) -> image::GrayImage {
    let scale = PxScale::from(layout.px);
    let sf = font.as_scaled(scale);
    let (w, h) = (layout.width, layout.height);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    let line_h = (sf.height() + sf.line_gap()) * layout.line_spacing;
    for (n, line) in text.lines().enumerate() {
        let mut x = layout.left;
        let y = layout.top + n as f32 * line_h;
        let mut prev = None;
        for ch in line.chars() {
            let id = font.glyph_id(ch);
            if let Some(p) = prev {
                x += sf.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(x, y + sf.ascent()));
            x += sf.h_advance(id);
            prev = Some(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        let v = (255.0 * (1.0 - cov.clamp(0.0, 1.0))) as u8;
                        let cur = img.get_pixel(px as u32, py as u32).0[0];
                        img.put_pixel(px as u32, py as u32, image::Luma([cur.min(v)]));
                    }
                });
            }
        }
    }
    img
}
