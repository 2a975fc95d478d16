//! Page processing: a scanned page becomes a lossless PNG master, an access JPEG and its
//! checks; files are written atomically and hashed with SHA-256.

use std::io::Write;
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, GrayImage, ImageBuffer, ImageEncoder, Luma, Rgb};
use rong_hardware::scanner::Page;
use rong_protocol::digitise::{PageCheck, PageImageSize};
use sha2::{Digest, Sha256};

use super::checks;

/// A page-processing failure.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The pixels could not be encoded or decoded.
    #[error("image: {0}")]
    Image(String),
    /// A file could not be written or read.
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
}

/// The longest side of a page the station decodes again (its own masters and access
/// copies, read back from disk): an A3 page at 1200 dpi is about 20,000 pixels.
const MAX_SIDE: u32 = 24_000;
/// The most memory one such decode may take, bytes.
const MAX_ALLOC: u64 = 1024 * 1024 * 1024;

/// Decodes a stored picture within [`MAX_SIDE`] and [`MAX_ALLOC`]: files on the data disk
/// are read back, and a damaged or planted one must not take the board's memory.
fn decode_bounded(bytes: &[u8], format: image::ImageFormat) -> Result<DynamicImage, PageError> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(img_err)
}

fn img_err(e: impl std::fmt::Display) -> PageError {
    PageError::Image(e.to_string())
}

/// A processed page, ready to be written.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The lossless master.
    pub master_png: Vec<u8>,
    /// The access copy.
    pub access_jpeg: Vec<u8>,
    /// Width after rotation.
    pub width: u32,
    /// Height after rotation.
    pub height: u32,
    /// What the checks found.
    pub checks: Vec<PageCheck>,
}

/// SHA-256, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The page's pixels as an image (line-art becomes 8-bit grey).
pub fn to_image(page: &Page) -> Result<DynamicImage, PageError> {
    page.validate().map_err(img_err)?;
    let (w, h) = (page.width, page.height);
    let bad = || PageError::Image("page size does not match its pixels".into());
    Ok(match (page.depth, page.channels) {
        (8, 1) => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, page.data.clone()).ok_or_else(bad)?)
        }
        (8, _) => DynamicImage::ImageRgb8(
            ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, page.data.clone()).ok_or_else(bad)?,
        ),
        (16, c) => {
            let v: Vec<u16> = page
                .data
                .chunks_exact(2)
                .map(|p| u16::from_ne_bytes([p[0], p[1]]))
                .collect();
            if c == 1 {
                DynamicImage::ImageLuma16(
                    ImageBuffer::<Luma<u16>, _>::from_raw(w, h, v).ok_or_else(bad)?,
                )
            } else {
                DynamicImage::ImageRgb16(
                    ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, v).ok_or_else(bad)?,
                )
            }
        }
        _ => {
            let mut g = GrayImage::new(w, h);
            for (x, y, p) in g.enumerate_pixels_mut() {
                p.0[0] = page.sample(x, y, 0);
            }
            DynamicImage::ImageLuma8(g)
        }
    })
}

/// Encodes an 8-bit copy of `img` as JPEG.
pub fn jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, PageError> {
    let mut out = Vec::new();
    let enc = JpegEncoder::new_with_quality(&mut out, quality);
    match img {
        DynamicImage::ImageLuma8(g) => g.write_with_encoder(enc),
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA8(_) => {
            img.to_luma8().write_with_encoder(enc)
        }
        _ => img.to_rgb8().write_with_encoder(enc),
    }
    .map_err(img_err)?;
    Ok(out)
}

/// Encodes `img` as a lossless PNG.
pub fn png(img: &DynamicImage) -> Result<Vec<u8>, PageError> {
    let mut out = Vec::new();
    let enc = PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
    enc.write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        img.color().into(),
    )
    .map_err(img_err)?;
    Ok(out)
}

/// Processes a freshly scanned page: master, access copy and checks.
pub fn process(page: &Page, quality: u8) -> Result<Processed, PageError> {
    // The hardware crate's encoder keeps the scan's depth and its resolution (pHYs).
    let master_png = page.to_png().map_err(img_err)?;
    let img = to_image(page)?;
    finish(master_png, &img, quality)
}

fn finish(master_png: Vec<u8>, img: &DynamicImage, quality: u8) -> Result<Processed, PageError> {
    let access_jpeg = jpeg(img, quality)?;
    let checks = checks::check_page(&img.to_luma8());
    Ok(Processed {
        master_png,
        access_jpeg,
        width: img.width(),
        height: img.height(),
        checks,
    })
}

/// Rotates a master by quarter turns clockwise (losslessly) and remakes its access copy.
pub fn rotate(master_png: &[u8], quarter_turns: u8, quality: u8) -> Result<Processed, PageError> {
    let img = decode_bounded(master_png, image::ImageFormat::Png)?;
    let img = match quarter_turns % 4 {
        1 => img.rotate90(),
        2 => img.rotate180(),
        3 => img.rotate270(),
        _ => img,
    };
    let master = png(&img)?;
    finish(master, &img, quality)
}

/// A smaller JPEG of a page for the staff screen, from its access copy.
pub fn picture(access_jpeg: &[u8], size: PageImageSize) -> Result<(Vec<u8>, u32, u32), PageError> {
    let img = decode_bounded(access_jpeg, image::ImageFormat::Jpeg)?;
    let side = match size {
        PageImageSize::Thumb => 200,
        PageImageSize::Preview => 1000,
    };
    let small = if img.width().max(img.height()) > side {
        img.thumbnail(side, side)
    } else {
        img
    };
    Ok((jpeg(&small, 80)?, small.width(), small.height()))
}

/// Writes a file so that a crash leaves either the old file or the new one: a temporary
/// name, synced, renamed, and the directory synced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_name(path);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Syncs a directory, so that renames in it are on the disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The temporary name a file is written under before its rename.
pub fn tmp_name(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_page(w: u32, h: u32) -> Page {
        let mut data = vec![235u8; (w * h) as usize];
        for y in 20..30 {
            for x in 10..(w - 10) {
                data[(y * w + x) as usize] = 20;
            }
        }
        Page {
            width: w,
            height: h,
            depth: 8,
            channels: 1,
            dpi: 300,
            data,
        }
    }

    #[test]
    fn a_page_becomes_a_lossless_master_and_a_jpeg() {
        let page = grey_page(120, 80);
        let p = process(&page, 85).unwrap();
        let back = image::load_from_memory(&p.master_png).unwrap().to_luma8();
        assert_eq!(back.as_raw(), &page.data, "the master is lossless");
        assert_eq!(&p.access_jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!((p.width, p.height), (120, 80));
    }

    #[test]
    fn rotation_is_lossless_and_swaps_sides() {
        let page = grey_page(120, 80);
        let p = process(&page, 85).unwrap();
        let r = rotate(&p.master_png, 1, 85).unwrap();
        assert_eq!((r.width, r.height), (80, 120));
        let back = rotate(&r.master_png, 3, 85).unwrap();
        let pixels = image::load_from_memory(&back.master_png)
            .unwrap()
            .to_luma8();
        assert_eq!(pixels.as_raw(), &page.data);
    }

    #[test]
    fn pictures_fit_their_size() {
        let page = grey_page(1200, 1700);
        let p = process(&page, 85).unwrap();
        let (_, w, h) = picture(&p.access_jpeg, PageImageSize::Thumb).unwrap();
        assert!(w.max(h) <= 200 && w.max(h) >= 190, "{w}x{h}");
        let (_, w, h) = picture(&p.access_jpeg, PageImageSize::Preview).unwrap();
        assert_eq!(h, 1000, "{w}x{h}");
    }

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!tmp_name(&path).exists());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
