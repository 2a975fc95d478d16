//! Rông central's catalogue: the MARC21 codec (ISO 2709 and MARCXML, records and their
//! errors), and catalogue import and export through `central-store`.

pub mod config;
pub mod import;
pub mod marc;
