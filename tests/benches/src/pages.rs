//! Synthetic scanned pages for the digitisation benchmarks: 300 dpi A4 greyscale with
//! paper noise, so their PNG masters are as large as real scans' (several MB each).

use rand::{Rng, SeedableRng};
use rong_hardware::scanner::Page;
use rong_protocol::digitise::PageInfo;

use crate::programs::station::{sha256_hex, PageRow, Processed};

/// A4 width at 300 dpi, in pixels.
pub const W: u32 = 2480;
/// A4 height at 300 dpi, in pixels.
pub const H: u32 = 3508;

/// A greyscale page: off-white paper with a little noise and lines of word blocks; `seed`
/// makes each page different and every run the same.
pub fn page(seed: u64) -> Page {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut data: Vec<u8> = (0..W * H).map(|_| 228 + rng.gen_range(0..12u8)).collect();
    let mut y = 300;
    while y + 40 < H - 300 {
        let mut x = 250;
        while x < W - 300 {
            let len = rng.gen_range(40..260);
            for yy in y..y + 32 {
                for xx in x..(x + len).min(W - 250) {
                    data[(yy * W + xx) as usize] = rng.gen_range(10..60);
                }
            }
            x += len + 30;
        }
        y += 70;
    }
    Page {
        width: W,
        height: H,
        depth: 8,
        channels: 1,
        dpi: 300,
        data,
    }
}

/// The station's row for page `n` (position `n`) processed into `out`.
pub fn row(n: u32, dpi: u32, out: &Processed) -> PageRow {
    PageRow {
        info: PageInfo {
            page: n,
            position: n,
            width: out.width,
            height: out.height,
            dpi,
            rotation: 0,
            checks: out.checks.clone(),
            master_bytes: out.master_png.len() as u64,
            access_bytes: out.access_jpeg.len() as u64,
        },
        master_sha256: sha256_hex(&out.master_png),
        access_sha256: sha256_hex(&out.access_jpeg),
    }
}
