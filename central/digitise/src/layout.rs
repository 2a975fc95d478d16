//! Where a document's files live in its directory: the bag's masters and access copies,
//! and the OCR output beside them.

use std::path::{Path, PathBuf};

/// The master of page `position` in a document directory.
pub fn master_path(document_dir: &Path, position: u32) -> PathBuf {
    document_dir
        .join("bag")
        .join("data")
        .join("master")
        .join(format!("{position:04}.png"))
}

/// The access copy of page `position`, when the bag has one.
pub fn access_path(document_dir: &Path, position: u32) -> PathBuf {
    document_dir
        .join("bag")
        .join("data")
        .join("access")
        .join(format!("{position:04}.jpg"))
}

/// The image a page is read from: its access JPEG when the bag has one of the master's
/// size (so the PDF embeds that JPEG as it is, and hOCR coordinates are the master's),
/// else the lossless master (the PDF then holds it losslessly, larger).
pub fn ocr_image(document_dir: &Path, position: u32) -> PathBuf {
    let master = master_path(document_dir, position);
    let access = access_path(document_dir, position);
    match (
        image::image_dimensions(&access),
        image::image_dimensions(&master),
    ) {
        (Ok(a), Ok(m)) if a == m => access,
        _ => master,
    }
}

/// Where a page's OCR goes (`.txt`, `.hocr` and `.pdf` are added).
pub fn ocr_base(document_dir: &Path, position: u32) -> PathBuf {
    document_dir
        .join("derived")
        .join("ocr")
        .join(format!("{position:04}"))
}
