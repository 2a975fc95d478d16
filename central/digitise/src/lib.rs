//! Digitisation at central: scanned documents arrive from the stations as BagIt bags over
//! tus uploads, are checked for fixity and kept (or quarantined), then OCRed and published
//! as a searchable PDF, a IIIF manifest with level 0 images, and full text in the public
//! catalogue. See `docs/DIGITISATION.md`.

pub mod bag;
pub mod documents;
pub mod http;
pub mod iiif;
pub mod images;
pub mod layout;
pub mod ocr;
pub mod pdf;
pub mod process;
pub mod public_url;
pub mod quota;
pub mod receive;
#[cfg(feature = "test-page")]
pub mod testpage;
pub mod tus;
