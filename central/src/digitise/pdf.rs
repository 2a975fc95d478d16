//! The searchable PDF of a document: once every page is read, one `tesseract` run over the
//! list of access images (masters where a page has none) writes `derived/document.pdf`
//! with the text layer under the images.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ocr::OcrError;
use super::process::master_path;

/// Where a document's PDF is kept.
pub fn pdf_path(document_dir: &Path) -> PathBuf {
    document_dir.join("derived").join("document.pdf")
}

/// The image a page's PDF page is made from: the access JPEG, else the master.
fn page_image(document_dir: &Path, position: u32) -> PathBuf {
    let access = document_dir
        .join("bag")
        .join("data")
        .join("access")
        .join(format!("{position:04}.jpg"));
    if access.is_file() {
        access
    } else {
        master_path(document_dir, position)
    }
}

/// Writes the PDF of pages `1..=pages` (aside, then renamed into place).
pub fn build(document_dir: &Path, pages: u32, lang: &str) -> Result<PathBuf, OcrError> {
    let derived = document_dir.join("derived");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OcrError::Output { path, source }
    };
    std::fs::create_dir_all(&derived).map_err(io(&derived))?;
    let list = derived.join("pdf-pages.txt");
    let mut text = String::new();
    for p in 1..=pages {
        text.push_str(&page_image(document_dir, p).to_string_lossy());
        text.push('\n');
    }
    std::fs::write(&list, text).map_err(io(&list))?;
    let base = derived.join("document-part");
    let out = Command::new("tesseract")
        .arg(&list)
        .arg(&base)
        .args(["-l", lang, "pdf"])
        .env("OMP_THREAD_LIMIT", "1")
        .output()
        .map_err(OcrError::Spawn)?;
    if !out.status.success() {
        return Err(OcrError::Failed {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr)
                .trim()
                .chars()
                .take(500)
                .collect(),
        });
    }
    let made = base.with_extension("pdf");
    let target = pdf_path(document_dir);
    std::fs::rename(&made, &target).map_err(io(&made))?;
    let _ = std::fs::remove_file(&list);
    Ok(target)
}
