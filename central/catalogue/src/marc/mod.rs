//! MARC21 codec: ISO 2709 and MARCXML readers and writers over raw-byte records.
//!
//! Readers stream (they never hold more than one record) and never stop at a bad record: each
//! one is reported as a [`RecordError`] with its record number, byte offset and reason, and
//! reading goes on with the next. Records keep raw bytes, so ISO 2709 → [`Record`] → ISO 2709
//! is byte for byte. Only UTF-8 records are accepted; MARC-8 ones are reported as
//! [`RecordErrorKind::Marc8`].

pub mod error;
pub mod iso2709;
pub mod marcxml;
pub mod record;

#[cfg(test)]
mod tests;

pub use error::{RecordError, RecordErrorKind, WriteError};
pub use record::{Field, Record, Subfield};

/// A MARC serialisation, as told by the first bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ISO 2709 ("binary MARC21").
    Iso2709,
    /// MARCXML.
    MarcXml,
    /// Neither (including an empty file).
    Unknown,
}

/// Tell the format from the first bytes of a file (a few hundred are plenty): XML if, after an
/// optional UTF-8 BOM and whitespace, it starts with `<`; ISO 2709 if it starts with a plausible
/// leader (five digits of length, five of base address at leader/12-16).
pub fn detect(first_bytes: &[u8]) -> Format {
    let body = first_bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(first_bytes);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    if body.first() == Some(&b'<') {
        Format::MarcXml
    } else if iso2709::plausible_leader(&body[..body.len().min(24)]) {
        Format::Iso2709
    } else {
        Format::Unknown
    }
}
