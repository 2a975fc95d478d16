//! The searchable PDF of a document. Each page's single OCR run (see [`super::ocr`])
//! already leaves a one-page PDF (`derived/ocr/NNNN.pdf`: the page image with the text
//! layer under it); once every page is read, `qpdf` joins them in page order into
//! `derived/document.pdf` (written aside, then renamed into place). No page is read twice.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ocr::OcrError;
use crate::layout::ocr_base;

/// Where a document's PDF is kept.
pub fn pdf_path(document_dir: &Path) -> PathBuf {
    document_dir.join("derived").join("document.pdf")
}

/// Where the one-page PDF of page `position` is left by its OCR run.
pub fn page_pdf(document_dir: &Path, position: u32) -> PathBuf {
    ocr_base(document_dir, position).with_extension("pdf")
}

/// Joins the page PDFs of pages `1..=pages` into the document's PDF.
pub fn build(document_dir: &Path, pages: u32) -> Result<PathBuf, OcrError> {
    let derived = document_dir.join("derived");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| OcrError::Output { path, source }
    };
    std::fs::create_dir_all(&derived).map_err(io(&derived))?;
    let parts: Vec<PathBuf> = (1..=pages).map(|p| page_pdf(document_dir, p)).collect();
    if let Some(missing) = parts.iter().find(|p| !p.is_file()) {
        return Err(OcrError::Output {
            path: missing.clone(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    // A name of its own: two workers finishing a document's last pages together may both
    // join it, and neither may rename the other's half-written file into place.
    let part = derived.join(format!("document-part-{}.pdf", uuid::Uuid::now_v7()));
    let joined = join(&parts, &part).and_then(|()| {
        std::fs::File::open(&part)
            .and_then(|f| f.sync_all())
            .map_err(io(&part))?;
        let target = pdf_path(document_dir);
        std::fs::rename(&part, &target).map_err(io(&part))?;
        Ok(target)
    });
    if joined.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    joined
}

/// Runs qpdf to join `parts` into `part`.
fn join(parts: &[PathBuf], part: &Path) -> Result<(), OcrError> {
    let out = Command::new("qpdf")
        .args(["--empty", "--pages"])
        .args(parts)
        .arg("--")
        .arg(part)
        .output()
        .map_err(OcrError::Spawn)?;
    // qpdf exits 3 when it succeeded with warnings.
    if !matches!(out.status.code(), Some(0 | 3)) {
        return Err(OcrError::Failed {
            status: format!("qpdf {}", out.status),
            stderr: String::from_utf8_lossy(&out.stderr)
                .trim()
                .chars()
                .take(500)
                .collect(),
        });
    }
    Ok(())
}
