//! OCR of one page by the `tesseract` command (a child process), and the character error
//! rate used to check it.

use std::path::{Path, PathBuf};
use std::process::Command;

use unicode_normalization::UnicodeNormalization;

/// What went wrong reading a page.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// `tesseract` (or `qpdf`, joining the PDF) could not be started (not installed?).
    #[error("cannot run tesseract or qpdf: {0}")]
    Spawn(std::io::Error),
    /// `tesseract` exited with an error.
    #[error("tesseract failed ({status}): {stderr}")]
    Failed {
        /// Exit status.
        status: String,
        /// The end of what it printed.
        stderr: String,
    },
    /// Its output could not be read.
    #[error("cannot read tesseract output {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The files one page's OCR leaves: `{base}.hocr`, `{base}.txt` and `{base}.pdf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrOutput {
    /// The hOCR file.
    pub hocr: PathBuf,
    /// The page's searchable PDF: the image with the text layer under it.
    pub pdf: PathBuf,
    /// The plain text.
    pub text: String,
}

/// Reads `image` once with `tesseract <image> <base> -l <lang> txt hocr pdf`, writing
/// `{base}.txt`, `{base}.hocr` and `{base}.pdf` (the image as given, a JPEG kept as it is,
/// with the text under it). Tesseract runs on one thread: the worker pool is the
/// parallelism.
pub fn recognise(image: &Path, base: &Path, lang: &str) -> Result<OcrOutput, OcrError> {
    if let Some(dir) = base.parent() {
        std::fs::create_dir_all(dir).map_err(|source| OcrError::Output {
            path: dir.to_owned(),
            source,
        })?;
    }
    let out = Command::new("tesseract")
        .arg(image)
        .arg(base)
        .args(["-l", lang, "txt", "hocr", "pdf"])
        .env("OMP_THREAD_LIMIT", "1")
        .output()
        .map_err(OcrError::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .chars()
            .rev()
            .take(500)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(OcrError::Failed {
            status: out.status.to_string(),
            stderr: tail.trim().to_owned(),
        });
    }
    let txt = base.with_extension("txt");
    let text = std::fs::read_to_string(&txt).map_err(|source| OcrError::Output {
        path: txt.clone(),
        source,
    })?;
    let pdf = base.with_extension("pdf");
    if !pdf.is_file() {
        return Err(OcrError::Output {
            path: pdf,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    Ok(OcrOutput {
        hocr: base.with_extension("hocr"),
        pdf,
        text: text.nfc().collect::<String>().trim().to_owned(),
    })
}

/// Character error rate: the Levenshtein distance between the NFC characters of
/// `expected` and `got`, over the length of `expected`. Runs of white space count as one
/// space on both sides.
pub fn cer(expected: &str, got: &str) -> f64 {
    let norm = |s: &str| -> Vec<char> {
        let s: String = s.nfc().collect();
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect()
    };
    let (a, b) = (norm(expected), norm(got));
    if a.is_empty() {
        return if b.is_empty() { 0.0 } else { 1.0 };
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cer_counts_edits_over_expected_length() {
        assert_eq!(cer("abcd", "abcd"), 0.0);
        assert_eq!(cer("abcd", "abxd"), 0.25);
        assert_eq!(cer("abcd", "abd"), 0.25);
        assert_eq!(cer("ab  cd\n", "ab cd"), 0.0);
    }

    #[test]
    fn cer_compares_composed_characters() {
        // "ệ" decomposed (e + dot below + circumflex) equals the composed one.
        assert_eq!(cer("Việt", "Vie\u{323}\u{302}t"), 0.0);
        assert!(cer("Việt", "Viet") > 0.0);
    }
}
