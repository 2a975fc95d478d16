//! Errors of the MARC codec: one per bad record on reading, one per refused record on writing.

use std::fmt;

/// Why one record (or the whole input) could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// The input does not start like MARC at all (no plausible leader, or not MARCXML).
    NotMarc,
    /// The input ends, or the next record begins, before this record's terminator.
    Truncated,
    /// The leader's record length is not five digits or does not match the record terminator.
    BadLength,
    /// The leader's base address of data is not five digits or does not fit the directory.
    BadBaseAddress,
    /// The directory is malformed; the text says how.
    BrokenDirectory(String),
    /// A field is longer than the 9,999 bytes a directory entry can express.
    FieldTooLong {
        /// The field's tag.
        tag: String,
    },
    /// The record is longer than the 99,999 bytes the leader can express.
    RecordTooLong,
    /// A field's content is malformed (indicators, subfield codes); the text says how.
    BadField {
        /// The field's tag.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The leader is malformed (not 24 ASCII characters, or an unknown coding scheme).
    BadLeader(String),
    /// A field of a Unicode record (leader/09 = 'a') is not valid UTF-8.
    InvalidUtf8 {
        /// The field's tag.
        tag: String,
    },
    /// The record is in MARC-8 (leader/09 blank), which this codec does not convert.
    Marc8,
    /// The record has no (or an empty) 001 control number.
    MissingControlNumber,
    /// The MARCXML is not well-formed or not shaped like MARCXML; the text says how.
    Xml(String),
    /// Reading the input failed.
    Io(String),
}

impl fmt::Display for RecordErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotMarc => {
                f.write_str("not a MARC file (no plausible MARC leader or MARCXML record)")
            }
            Self::Truncated => {
                f.write_str("truncated record (no record terminator where it should end)")
            }
            Self::BadLength => f.write_str("bad record length in the leader"),
            Self::BadBaseAddress => f.write_str("bad base address of data in the leader"),
            Self::BrokenDirectory(why) => write!(f, "broken directory: {why}"),
            Self::FieldTooLong { tag } => write!(f, "field {tag} is longer than 9,999 bytes"),
            Self::RecordTooLong => f.write_str("record is longer than 99,999 bytes"),
            Self::BadField { tag, reason } => write!(f, "bad field {tag}: {reason}"),
            Self::BadLeader(why) => write!(f, "bad leader: {why}"),
            Self::InvalidUtf8 { tag } => write!(f, "field {tag} is not valid UTF-8"),
            Self::Marc8 => f.write_str(
                "MARC-8 record (leader/09 blank) is not supported; convert it to UTF-8 first",
            ),
            Self::MissingControlNumber => f.write_str("missing 001 control number"),
            Self::Xml(why) => write!(f, "bad MARCXML: {why}"),
            Self::Io(why) => write!(f, "read error: {why}"),
        }
    }
}

/// One bad record: where it is, and why it was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {position} (byte {offset}{}): {kind}", control_number_suffix(.control_number))]
pub struct RecordError {
    /// 1-based record number in the input.
    pub position: u64,
    /// Byte offset of the record's start in the input.
    pub offset: u64,
    /// The 001 control number, when it could be read.
    pub control_number: Option<String>,
    /// Why the record was skipped.
    pub kind: RecordErrorKind,
}

fn control_number_suffix(control_number: &Option<String>) -> String {
    match control_number {
        Some(cn) => format!(", 001 {cn}"),
        None => String::new(),
    }
}

impl RecordError {
    /// An error at the given record number and byte offset, with no control number yet.
    pub fn new(position: u64, offset: u64, kind: RecordErrorKind) -> Self {
        Self {
            position,
            offset,
            control_number: None,
            kind,
        }
    }

    /// The reason, so callers can react to it (for instance count MARC-8 records apart).
    pub fn kind(&self) -> &RecordErrorKind {
        &self.kind
    }
}

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A field would be longer than the 9,999 bytes ISO 2709 allows.
    #[error("field {tag} is {len} bytes, more than the 9,999 ISO 2709 allows")]
    FieldTooLong {
        /// The field's tag.
        tag: String,
        /// Its encoded length in bytes.
        len: usize,
    },
    /// The record would be longer than the 99,999 bytes ISO 2709 allows.
    #[error("record {control_number} is {len} bytes, more than the 99,999 ISO 2709 allows")]
    RecordTooLong {
        /// The record's 001, or "(no 001)".
        control_number: String,
        /// Its encoded length in bytes.
        len: usize,
    },
    /// A tag is not three ASCII letters or digits.
    #[error("tag {tag:?} is not three ASCII letters or digits")]
    BadTag {
        /// The tag as text (lossy).
        tag: String,
    },
    /// A value holds a MARC delimiter byte (0x1D, 0x1E or 0x1F), which would corrupt the record.
    #[error("field {tag} holds the MARC delimiter byte 0x{byte:02X}")]
    Delimiter {
        /// The field's tag.
        tag: String,
        /// The offending byte.
        byte: u8,
    },
    /// A value cannot be written as XML 1.0 (invalid UTF-8 or a forbidden control character).
    #[error("field {tag} cannot be written as XML: {reason}")]
    NotXml {
        /// The field's tag, or "leader".
        tag: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing to the output failed.
    #[error("write error: {0}")]
    Io(#[from] std::io::Error),
}
