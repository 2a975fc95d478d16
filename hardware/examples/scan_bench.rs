//! Times a 10-page feeder batch, A4 at 300 dpi greyscale, through the SANE driver and
//! SANE's `test` backend (a private config dir, as in `tests/scanner_sane.rs`), and the
//! PNG encoding of those pages.
//! `cargo run --release -p rong-hardware --example scan_bench`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use rong_hardware::scanner::{
    Area, DocumentScanner, Mode, OptionValue, SaneScanner, ScanSettings, Source,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("dll.conf"), "test\n")?;
    std::fs::write(dir.path().join("test.conf"), "geometry_max 300.0\n")?;
    let mut s = SaneScanner::with_config_dir(dir.path())?;
    s.open("test:0")?;
    s.configure(&ScanSettings {
        mode: Some(Mode::Gray),
        resolution_dpi: Some(300),
        source: Some(Source::Adf),
        area: Some(Area::A4),
    })?;
    s.set_option("test-picture", OptionValue::Text("Grid".into()))?;
    for round in 1..=3 {
        let start = Instant::now();
        let (pages, end) = s.scan_all();
        end?;
        let n = pages.len();
        let scan = start.elapsed();
        let start = Instant::now();
        let png_bytes: usize = pages
            .iter()
            .map(|p| p.to_png().map(|v| v.len()))
            .sum::<Result<usize, _>>()?;
        let png = start.elapsed();
        let raw: usize = pages.iter().map(|p| p.data.len()).sum();
        println!(
            "round {round}: {n} pages of {}x{} in {:.0} ms ({:.1} MB raw); PNG of all {:.0} ms ({:.1} MB)",
            pages[0].width,
            pages[0].height,
            scan.as_secs_f64() * 1e3,
            raw as f64 / 1e6,
            png.as_secs_f64() * 1e3,
            png_bytes as f64 / 1e6,
        );
    }
    Ok(())
}
