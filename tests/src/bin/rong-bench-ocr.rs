//! The OCR benchmark: renders A4 pages of Vietnamese text at 300 dpi, queues them as one
//! stored bag and lets central's OCR worker pool read them (tesseract `vie`, plus the IIIF
//! images and, at the end, the searchable PDF), once per worker count. Prints pages per
//! minute, per minute per worker (one tesseract per worker, so per core), and the
//! character error rate, as a Markdown table for the README.
//!
//! `cargo build --release -p rong-tests --bin rong-bench-ocr &&
//!  target/release/rong-bench-ocr [--pages N] [--workers 1,2]`

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::path::Path;
use std::time::{Duration, Instant};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use central::digitise::{ocr, process};
use central::store::{digitise as db, Store};

const LINES: [&str; 8] = [
    "Thư viện tỉnh Kon Tum lưu giữ nhiều tài liệu quý về lịch sử,",
    "văn hoá và con người các dân tộc vùng Tây Nguyên. Địa chí",
    "Kon Tum ghi lại đất đai, sông núi, làng buôn và phong tục.",
    "Người đọc có thể mượn sách tại các chi nhánh huyện, trả sách",
    "ở bất kỳ chi nhánh nào, và tra cứu tài liệu số hoá trên mạng.",
    "Những trang sách cũ được quét, nhận dạng chữ và lưu trữ an toàn",
    "để con cháu mai sau còn đọc được tiếng nói của cha ông mình.",
    "Sông Đăk Bla chảy qua thành phố, cầu treo Kon Klor nối đôi bờ.",
];

fn page_text(n: usize) -> String {
    (0..24)
        .map(|i| LINES[(i + n) % LINES.len()])
        .collect::<Vec<_>>()
        .join("\n")
}

fn render(font: &FontRef<'_>, text: &str) -> image::GrayImage {
    let scale = PxScale::from(46.0);
    let sf = font.as_scaled(scale);
    let (w, h) = (2480u32, 3508u32);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    let line_h = (sf.height() + sf.line_gap()) * 1.5;
    for (n, line) in text.lines().enumerate() {
        let mut x = 240.0f32;
        let y = 300.0 + n as f32 * line_h;
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

fn make_bag(dir: &Path, pages: &[image::GrayImage]) -> anyhow::Result<()> {
    let data = dir.join("bag/data/master");
    std::fs::create_dir_all(&data)?;
    let mut manifest = String::new();
    for (i, img) in pages.iter().enumerate() {
        let path = data.join(format!("{:04}.png", i + 1));
        img.save(&path)?;
        // The benchmark does not check fixity; the receiving side does.
        manifest.push_str(&format!("{:064}  data/master/{:04}.png\n", 0, i + 1));
    }
    std::fs::write(dir.join("bag/manifest-sha256.txt"), manifest)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let pages: usize = arg("--pages").map(|v| v.parse()).transpose()?.unwrap_or(8);
    let workers: Vec<usize> = arg("--workers")
        .unwrap_or_else(|| "1,2".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let font_bytes = std::fs::read(
        Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        )
        .join("../kiosk/fonts/NotoSans-Regular.ttf"),
    )?;
    let font = FontRef::try_from_slice(&font_bytes)?;
    let texts: Vec<String> = (0..pages).map(page_text).collect();
    let images: Vec<image::GrayImage> = texts.iter().map(|t| render(&font, t)).collect();

    println!("| OCR workers | pages | seconds | pages/min | pages/min per worker | mean CER |");
    println!("|---|---|---|---|---|---|");
    for &w in &workers {
        let tmp = tempfile::tempdir()?;
        let store = Store::open(&tmp.path().join("central.db"))?;
        let db_path = store.path().to_owned();
        let doc_dir = tmp.path().join("documents/bench");
        make_bag(&doc_dir, &images)?;
        let mut c = db::open_worker(&db_path)?;
        process::register(&mut c, &doc_dir, "bench", "Bench")?;
        let start = Instant::now();
        let pool = process::WorkerPool::start(&db_path, w, process::OcrOptions::default())?;
        loop {
            let counts = db::counts(&c)?;
            if counts.done + counts.failed == pages as u64 {
                anyhow::ensure!(counts.failed == 0, "{} pages failed", counts.failed);
                break;
            }
            anyhow::ensure!(start.elapsed() < Duration::from_secs(3600), "too slow");
            std::thread::sleep(Duration::from_millis(50));
        }
        let secs = start.elapsed().as_secs_f64();
        pool.stop();
        let read = db::pages(&c, "bench")?;
        let cer: f64 = read
            .iter()
            .zip(&texts)
            .map(|(p, t)| ocr::cer(t, p.text.as_deref().unwrap_or("")))
            .sum::<f64>()
            / pages as f64;
        let per_min = pages as f64 / secs * 60.0;
        println!(
            "| {w} | {pages} | {secs:.1} | {per_min:.1} | {:.1} | {:.2}% |",
            per_min / w as f64,
            cer * 100.0
        );
    }
    Ok(())
}
