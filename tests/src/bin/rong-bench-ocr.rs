//! The OCR benchmark: renders A4 pages of Vietnamese text at 300 dpi, queues them as one
//! stored bag (a PNG master and a q85 access JPEG per page, as a station sends) and lets
//! central's OCR worker pool read them (one tesseract `vie` run per page for text, hOCR and
//! the page's PDF, plus the IIIF images, then the PDF joined), once per worker count.
//! Prints pages per minute (until the document's PDF is written), per minute per worker
//! (one tesseract per worker, so per core), the character error rate and the PDF's size
//! per page, as a Markdown table for the README.
//!
//! `cargo build --release -p rong-tests --bin rong-bench-ocr &&
//!  target/release/rong-bench-ocr [--pages N] [--workers 1,2]`

#![allow(clippy::print_stdout)] // the table on stdout is this program's output

use std::path::Path;
use std::time::{Duration, Instant};

use central_digitise::{ocr, pdf, process, testpage};
use central_store::{digitise as db, Store};

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

/// An A4 page at 300 dpi: 24 lines of 11 pt text.
const A4: testpage::Layout = testpage::Layout {
    width: 2480,
    height: 3508,
    px: 46.0,
    line_spacing: 1.5,
    left: 240.0,
    top: 300.0,
};

fn make_bag(dir: &Path, pages: &[image::GrayImage]) -> anyhow::Result<()> {
    let data = dir.join("bag/data/master");
    let access = dir.join("bag/data/access");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&access)?;
    let mut manifest = String::new();
    for (i, img) in pages.iter().enumerate() {
        let path = data.join(format!("{:04}.png", i + 1));
        img.save(&path)?;
        let jpeg = std::fs::File::create(access.join(format!("{:04}.jpg", i + 1)))?;
        img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(jpeg, 85))?;
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
    let font_bytes = testpage::font_bytes()?;
    let font = testpage::font(&font_bytes)?;
    let texts: Vec<String> = (0..pages).map(page_text).collect();
    let images: Vec<image::GrayImage> = texts
        .iter()
        .map(|t| testpage::render(&font, t, A4))
        .collect();

    println!(
        "| OCR workers | pages | seconds | pages/min | pages/min per worker | mean CER | PDF per page |"
    );
    println!("|---|---|---|---|---|---|---|");
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
        let pdf = pdf::pdf_path(&doc_dir);
        while !pdf.is_file() {
            anyhow::ensure!(start.elapsed() < Duration::from_secs(3600), "no PDF");
            std::thread::sleep(Duration::from_millis(20));
        }
        let secs = start.elapsed().as_secs_f64();
        let pdf_kb = std::fs::metadata(&pdf)?.len() as f64 / 1024.0 / pages as f64;
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
            "| {w} | {pages} | {secs:.1} | {per_min:.1} | {:.1} | {:.2}% | {pdf_kb:.0} KB |",
            per_min / w as f64,
            cer * 100.0
        );
    }
    Ok(())
}
