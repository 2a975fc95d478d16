//! Writes the sample receipt, rendered for 58 mm and 80 mm paper, to `docs/*.png`, so a
//! person can check the Vietnamese text by eye. Run from anywhere:
//! `cargo run -p rong-hardware --example receipt_png`.

use std::path::Path;

use rong_hardware::printer::{render, Bitmap};
use rong_hardware::{PaperWidth, Receipt};

fn write_png(img: &Bitmap, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, img.width() as u32, img.height() as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    let mut pixels = Vec::with_capacity(img.width() * img.height());
    for y in 0..img.height() {
        for x in 0..img.width() {
            pixels.push(if img.get(x, y) { 0 } else { 255 });
        }
    }
    w.write_image_data(&pixels)?;
    w.finish()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let docs = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("docs");
    std::fs::create_dir_all(&docs)?;
    let receipt = Receipt::sample();
    for (paper, name) in [
        (PaperWidth::Mm58, "receipt-58mm.png"),
        (PaperWidth::Mm80, "receipt-80mm.png"),
    ] {
        let path = docs.join(name);
        write_png(&render(&receipt, paper), &path)?;
        #[allow(clippy::print_stdout)]
        {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
