//! Digitisation at central: scanned documents arrive from the stations as BagIt bags over
//! tus uploads, are checked for fixity and kept (or quarantined). See
//! `docs/DIGITISATION.md`.

pub mod bag;
pub mod receive;
pub mod tus;
