//! Digitised documents at central.

pub mod iiif;
pub mod ocr;
pub mod pdf;
pub mod process;
pub mod routes;
pub mod viewer;
