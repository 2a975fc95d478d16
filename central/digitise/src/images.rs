//! Decoding untrusted images (the masters stations upload) within limits: a PNG can
//! declare 60000 × 60000 pixels in a few hundred bytes, and decoding it would take
//! gigabytes. Every decode of an uploaded master goes through [`ImageLimits`].

use std::path::Path;

use image::{DynamicImage, ImageError, ImageReader};
use serde::{Deserialize, Serialize};

/// The largest image central decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageLimits {
    /// The longest side, pixels (an A3 page at 600 dpi is about 10,000).
    pub max_side: u32,
    /// The most memory one decode may allocate, MiB.
    pub max_alloc_mib: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_side: 20_000,
            max_alloc_mib: 512,
        }
    }
}

impl ImageLimits {
    /// As the `image` crate's limits.
    fn limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_side);
        l.max_image_height = Some(self.max_side);
        l.max_alloc = Some(self.max_alloc_mib.saturating_mul(1024 * 1024));
        l
    }

    /// The image's size from its header (which is all that is read), refused when over
    /// the limits.
    pub fn dimensions(&self, path: &Path) -> Result<(u32, u32), ImageError> {
        let (w, h) = ImageReader::open(path)?
            .with_guessed_format()?
            .into_dimensions()?;
        if w > self.max_side || h > self.max_side {
            return Err(too_large(w, h, self.max_side));
        }
        Ok((w, h))
    }

    /// Decodes the image, refused when its size or its memory is over the limits.
    pub fn open(&self, path: &Path) -> Result<DynamicImage, ImageError> {
        self.dimensions(path)?;
        let mut r = ImageReader::open(path)?.with_guessed_format()?;
        r.limits(self.limits());
        r.decode()
    }
}

fn too_large(w: u32, h: u32, max: u32) -> ImageError {
    ImageError::IoError(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("image too large: {w} × {h} pixels, at most {max} a side"),
    ))
}

#[cfg(any(test, feature = "test-page"))]
mod bomb {
    /// CRC-32 (IEEE), as PNG chunks carry.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = !0u32;
        for b in bytes {
            c ^= u32::from(*b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    /// Test support: a valid 1 × 1 PNG whose header then claims `w` × `h` pixels: a decompression bomb
    /// of a few dozen bytes.
    pub fn bomb_png(w: u32, h: u32) -> Vec<u8> {
        let mut png = Vec::new();
        image::GrayImage::new(1, 1)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap_or_default();
        // Signature (8), IHDR length (4), "IHDR" (4), width, height, ..., CRC.
        png[16..20].copy_from_slice(&w.to_be_bytes());
        png[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }
}
#[cfg(any(test, feature = "test-page"))]
pub use bomb::bomb_png;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("0001.png");
        std::fs::write(&bomb, bomb_png(60_000, 60_000)).unwrap();
        let limits = ImageLimits::default();
        let e = limits.dimensions(&bomb).unwrap_err().to_string();
        assert!(e.contains("60000 × 60000 pixels"), "{e}");
        assert!(limits.open(&bomb).is_err());
        // Within the side limit but over the memory limit: refused as well.
        std::fs::write(&bomb, bomb_png(20_000, 20_000)).unwrap();
        let small = ImageLimits {
            max_alloc_mib: 64,
            ..limits
        };
        assert!(small.open(&bomb).is_err());
        // An honest page decodes.
        let page = dir.path().join("0002.png");
        image::GrayImage::new(300, 400).save(&page).unwrap();
        assert_eq!(limits.dimensions(&page).unwrap(), (300, 400));
        assert_eq!(limits.open(&page).unwrap().width(), 300);
    }
}
