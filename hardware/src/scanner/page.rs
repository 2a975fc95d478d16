//! A scanned page.

use super::ScanError;

/// One scanned page: packed rows of pixels, top to bottom.
///
/// Samples are as SANE delivers them, with row padding removed: 1-bit pages pack 8
/// pixels per byte, most significant bit first, and a set bit is **black** (SANE's
/// convention, the opposite of PNG's); 16-bit samples are in native byte order.
#[derive(Clone, PartialEq, Eq)]
pub struct Page {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bits per sample: 1, 8 or 16.
    pub depth: u8,
    /// Samples per pixel: 1 (grey or line-art) or 3 (RGB).
    pub channels: u8,
    /// Resolution in dots per inch (0 if unknown).
    pub dpi: u32,
    /// The pixels, `height` rows of [`Page::row_bytes`] bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pixel bytes run to megabytes; show their size only.
        f.debug_struct("Page")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("depth", &self.depth)
            .field("channels", &self.channels)
            .field("dpi", &self.dpi)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Page {
    /// Bytes in one row without padding.
    pub fn row_bytes(width: u32, depth: u8, channels: u8) -> usize {
        (width as usize * usize::from(channels) * usize::from(depth)).div_ceil(8)
    }

    /// Checks that the sizes agree with the data; drivers call it before handing a page on.
    pub fn validate(&self) -> Result<(), ScanError> {
        let shape_ok = matches!(self.depth, 1 | 8 | 16)
            && matches!(self.channels, 1 | 3)
            && !(self.depth == 1 && self.channels == 3);
        let want = Self::row_bytes(self.width, self.depth, self.channels) * self.height as usize;
        if !shape_ok || want != self.data.len() {
            return Err(ScanError::Io(format!(
                "malformed page: {}x{} depth {} channels {} with {} bytes",
                self.width,
                self.height,
                self.depth,
                self.channels,
                self.data.len()
            )));
        }
        Ok(())
    }

    /// The sample at `(x, y)` of channel `c`, scaled to 0–255 (0 is black). For tests and
    /// previews; slow.
    pub fn sample(&self, x: u32, y: u32, c: u8) -> u8 {
        let row = &self.data[Self::row_bytes(self.width, self.depth, self.channels) * y as usize..];
        let i = x as usize * usize::from(self.channels) + usize::from(c);
        match self.depth {
            1 => {
                let bit = row[i / 8] >> (7 - i % 8) & 1;
                if bit == 1 {
                    0
                } else {
                    255
                }
            }
            16 => {
                let v = u16::from_ne_bytes([row[2 * i], row[2 * i + 1]]);
                (v >> 8) as u8
            }
            _ => row[i],
        }
    }

    /// Encodes the page as PNG, with its resolution recorded in the `pHYs` chunk.
    pub fn to_png(&self) -> Result<Vec<u8>, ScanError> {
        self.validate()?;
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.width, self.height);
        enc.set_color(if self.channels == 3 {
            png::ColorType::Rgb
        } else {
            png::ColorType::Grayscale
        });
        enc.set_depth(match self.depth {
            1 => png::BitDepth::One,
            16 => png::BitDepth::Sixteen,
            _ => png::BitDepth::Eight,
        });
        enc.set_compression(png::Compression::Fast);
        if self.dpi > 0 {
            let ppm = (f64::from(self.dpi) / 0.0254).round() as u32;
            enc.set_pixel_dims(Some(png::PixelDimensions {
                xppu: ppm,
                yppu: ppm,
                unit: png::Unit::Meter,
            }));
        }
        let png_err = |e: png::EncodingError| ScanError::Io(format!("PNG encoding: {e}"));
        let mut w = enc.write_header().map_err(png_err)?;
        match self.depth {
            // SANE's black bit is PNG's white one.
            1 => {
                let inverted: Vec<u8> = self.data.iter().map(|b| !b).collect();
                w.write_image_data(&inverted).map_err(png_err)?;
            }
            16 if cfg!(target_endian = "little") => {
                let mut be = self.data.clone();
                for pair in be.chunks_exact_mut(2) {
                    pair.swap(0, 1);
                }
                w.write_image_data(&be).map_err(png_err)?;
            }
            _ => w.write_image_data(&self.data).map_err(png_err)?,
        }
        w.finish().map_err(png_err)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>, Option<png::PixelDimensions>) {
        let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let dims = r.info().pixel_dims;
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf, dims)
    }

    #[test]
    fn grey_page_round_trips_through_png_with_its_dpi() {
        let page = Page {
            width: 3,
            height: 2,
            depth: 8,
            channels: 1,
            dpi: 300,
            data: vec![0, 128, 255, 10, 20, 30],
        };
        let (info, buf, dims) = decode(&page.to_png().unwrap());
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(buf, page.data);
        assert_eq!(dims.map(|d| d.xppu), Some(11811));
    }

    #[test]
    fn lineart_is_inverted_and_sixteen_bit_is_big_endian_in_png() {
        let page = Page {
            width: 8,
            height: 1,
            depth: 1,
            channels: 1,
            dpi: 0,
            data: vec![0b1000_0001],
        };
        assert_eq!(page.sample(0, 0, 0), 0);
        assert_eq!(page.sample(1, 0, 0), 255);
        let (_, buf, _) = decode(&page.to_png().unwrap());
        assert_eq!(buf, vec![0b0111_1110]);

        let v: u16 = 0x1234;
        let page = Page {
            width: 1,
            height: 1,
            depth: 16,
            channels: 3,
            dpi: 75,
            data: [v.to_ne_bytes(), v.to_ne_bytes(), v.to_ne_bytes()].concat(),
        };
        let (_, buf, _) = decode(&page.to_png().unwrap());
        assert_eq!(buf, vec![0x12, 0x34, 0x12, 0x34, 0x12, 0x34]);
    }

    #[test]
    fn malformed_pages_are_refused() {
        let page = Page {
            width: 4,
            height: 2,
            depth: 8,
            channels: 1,
            dpi: 0,
            data: vec![0; 7],
        };
        assert!(matches!(page.to_png(), Err(ScanError::Io(_))));
    }
}
