//! ISO 2709 ("binary MARC21"): a streaming reader that resynchronises after a bad record,
//! and a writer that computes the leader's length, base address and directory.

use std::io::{self, Read, Write};

use super::error::{RecordError, RecordErrorKind, WriteError};
use super::record::{is_control_tag, Field, Record, Subfield};

/// Ends a record.
pub const RECORD_TERMINATOR: u8 = 0x1D;
/// Ends a field (and the directory).
pub const FIELD_TERMINATOR: u8 = 0x1E;
/// Starts a subfield.
pub const SUBFIELD_DELIMITER: u8 = 0x1F;

const LEADER_LEN: usize = 24;
const ENTRY_LEN: usize = 12;
/// The longest record the leader's five digits can express.
pub const MAX_RECORD_LEN: usize = 99_999;
/// The longest field a directory entry's four digits can express (terminator included).
pub const MAX_FIELD_LEN: usize = 9_999;
const READ_CHUNK: usize = 64 * 1024;

fn digits(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0usize, |n, b| n * 10 + usize::from(b - b'0')),
    )
}

/// Whether these first bytes could begin an ISO 2709 record: a five-digit length and, when
/// present, a five-digit base address at leader/12-16.
pub fn plausible_leader(bytes: &[u8]) -> bool {
    bytes.len() >= 5
        && bytes[..5].iter().all(u8::is_ascii_digit)
        && (bytes.len() < 17 || bytes[12..17].iter().all(u8::is_ascii_digit))
}

fn tag_text(tag: &[u8]) -> String {
    String::from_utf8_lossy(tag).into_owned()
}

/// A parse failure of one framed record, with the 001 when it could be read.
type ParseFailure = (RecordErrorKind, Option<String>);

/// Parse and check one complete record (`rec` runs from the leader through the record
/// terminator): its structure, then UTF-8 (leader/09 = 'a'; blank is MARC-8) and the 001.
pub fn parse_record(rec: &[u8]) -> Result<Record, ParseFailure> {
    let record = parse_structure(rec).map_err(|kind| (kind, None))?;
    check_record(&record)?;
    Ok(record)
}

/// Parse only the structure of one complete record, keeping every byte of every field whatever
/// its encoding; [`parse_record`] adds the checks an import needs.
pub fn parse_structure(rec: &[u8]) -> Result<Record, RecordErrorKind> {
    if rec.len() < LEADER_LEN + 2 || rec.last() != Some(&RECORD_TERMINATOR) {
        return Err(RecordErrorKind::Truncated);
    }
    let mut leader = [0u8; LEADER_LEN];
    leader.copy_from_slice(&rec[..LEADER_LEN]);
    if !leader.is_ascii() {
        return Err(RecordErrorKind::BadLeader("not ASCII".into()));
    }
    if leader
        .iter()
        .any(|&b| b == RECORD_TERMINATOR || b == FIELD_TERMINATOR || b == SUBFIELD_DELIMITER)
    {
        return Err(RecordErrorKind::BadLeader("holds a MARC delimiter".into()));
    }
    match digits(&leader[..5]) {
        Some(len) if len == rec.len() => {}
        _ => return Err(RecordErrorKind::BadLength),
    }
    let Some(base) = digits(&leader[12..17]) else {
        return Err(RecordErrorKind::BadBaseAddress);
    };
    // The directory ends at its first field terminator; the base address must point just past it.
    let Some(dir_end) = rec[LEADER_LEN..]
        .iter()
        .position(|&b| b == FIELD_TERMINATOR)
        .map(|p| p + LEADER_LEN)
    else {
        return Err(RecordErrorKind::BrokenDirectory(
            "no directory terminator".into(),
        ));
    };
    if base != dir_end + 1 {
        return Err(RecordErrorKind::BadBaseAddress);
    }
    let directory = &rec[LEADER_LEN..dir_end];
    if directory.len() % ENTRY_LEN != 0 {
        return Err(RecordErrorKind::BrokenDirectory(format!(
            "length {} is not a multiple of 12",
            directory.len()
        )));
    }
    let data = &rec[base..rec.len() - 1];
    let mut fields = Vec::with_capacity(directory.len() / ENTRY_LEN);
    for (n, entry) in directory.chunks_exact(ENTRY_LEN).enumerate() {
        let tag: [u8; 3] = [entry[0], entry[1], entry[2]];
        let (Some(len), Some(start)) = (digits(&entry[3..7]), digits(&entry[7..12])) else {
            return Err(RecordErrorKind::BrokenDirectory(format!(
                "entry {} is not a tag and 9 digits",
                n + 1
            )));
        };
        if !tag.iter().all(u8::is_ascii_alphanumeric) {
            return Err(RecordErrorKind::BrokenDirectory(format!(
                "entry {} has tag {:?}, not three letters or digits",
                n + 1,
                tag_text(&tag)
            )));
        }
        let content = match field_content(data, start, len) {
            Ok(c) => c,
            Err(FieldBounds::TooLong) => {
                return Err(RecordErrorKind::FieldTooLong {
                    tag: tag_text(&tag),
                })
            }
            Err(FieldBounds::Broken(why)) => {
                return Err(RecordErrorKind::BrokenDirectory(format!(
                    "field {}: {why}",
                    tag_text(&tag)
                )))
            }
        };
        match parse_field(tag, content) {
            Ok(f) => fields.push(f),
            Err(reason) => {
                return Err(RecordErrorKind::BadField {
                    tag: tag_text(&tag),
                    reason,
                })
            }
        }
    }
    Ok(Record { leader, fields })
}

/// The checks an import needs beyond structure: a known encoding that is UTF-8 (MARC-8 is
/// reported, not converted) and a 001 control number.
pub(crate) fn check_record(record: &Record) -> Result<(), ParseFailure> {
    let cn = record.control_number().map(str::to_owned);
    match record.leader[9] {
        b'a' => {
            if let Some(tag) = first_non_utf8_field(record) {
                return Err((RecordErrorKind::InvalidUtf8 { tag }, cn));
            }
        }
        b' ' => return Err((RecordErrorKind::Marc8, cn)),
        other => return Err((unknown_coding(other), cn)),
    }
    if cn.is_none() {
        return Err((RecordErrorKind::MissingControlNumber, None));
    }
    Ok(())
}

/// A leader/09 that is neither `a` (UTF-8) nor blank (MARC-8).
pub(crate) fn unknown_coding(byte: u8) -> RecordErrorKind {
    RecordErrorKind::BadLeader(format!(
        "unknown character coding scheme {:?} at leader/09",
        char::from(byte)
    ))
}

enum FieldBounds {
    TooLong,
    Broken(String),
}

/// The field's bytes without its terminator, checked against the directory entry.
fn field_content(data: &[u8], start: usize, len: usize) -> Result<&[u8], FieldBounds> {
    let fits = len > 0 && start + len <= data.len();
    if fits && data[start + len - 1] == FIELD_TERMINATOR {
        let content = &data[start..start + len - 1];
        if content.contains(&FIELD_TERMINATOR) {
            return Err(FieldBounds::Broken(format!(
                "length {len} at offset {start} spans more than one field"
            )));
        }
        return Ok(content);
    }
    // A field over 9,999 bytes cannot be described by four digits; writers that meet one put a
    // wrong length in the entry. Tell that apart from other damage by where the field really ends.
    if let Some(tail) = data.get(start..) {
        if let Some(real) = tail.iter().position(|&b| b == FIELD_TERMINATOR) {
            if real + 1 > MAX_FIELD_LEN {
                return Err(FieldBounds::TooLong);
            }
        }
    }
    if !fits {
        Err(FieldBounds::Broken(format!(
            "length {len} at offset {start} is outside the record's {} data bytes",
            data.len()
        )))
    } else {
        Err(FieldBounds::Broken(format!(
            "length {len} at offset {start} does not end with a field terminator"
        )))
    }
}

fn parse_field(tag: [u8; 3], content: &[u8]) -> Result<Field, String> {
    if is_control_tag(&tag) {
        if content.contains(&SUBFIELD_DELIMITER) {
            return Err("control field holds a subfield delimiter".into());
        }
        return Ok(Field::Control {
            tag,
            value: content.to_vec(),
        });
    }
    let [ind1, ind2, rest @ ..] = content else {
        return Err("shorter than its two indicators".into());
    };
    if *ind1 == SUBFIELD_DELIMITER || *ind2 == SUBFIELD_DELIMITER {
        return Err("missing indicators".into());
    }
    let mut subfields = Vec::new();
    if let Some((&first, rest)) = rest.split_first() {
        if first != SUBFIELD_DELIMITER {
            return Err("data before the first subfield delimiter".into());
        }
        for piece in rest.split(|&b| b == SUBFIELD_DELIMITER) {
            let Some((&code, value)) = piece.split_first() else {
                return Err("subfield delimiter without a code".into());
            };
            subfields.push(Subfield {
                code,
                value: value.to_vec(),
            });
        }
    }
    Ok(Field::Data {
        tag,
        ind1: *ind1,
        ind2: *ind2,
        subfields,
    })
}

/// The tag of the first field holding bytes that are not UTF-8 (indicators and codes must be ASCII).
pub(crate) fn first_non_utf8_field(record: &Record) -> Option<String> {
    record.fields.iter().find_map(|f| {
        let ok = match f {
            Field::Control { value, .. } => std::str::from_utf8(value).is_ok(),
            Field::Data {
                ind1,
                ind2,
                subfields,
                ..
            } => {
                ind1.is_ascii()
                    && ind2.is_ascii()
                    && subfields
                        .iter()
                        .all(|s| s.code.is_ascii() && std::str::from_utf8(&s.value).is_ok())
            }
        };
        (!ok).then(|| f.tag_str())
    })
}

fn check_no_delimiter(tag: &[u8; 3], bytes: &[u8]) -> Result<(), WriteError> {
    match bytes
        .iter()
        .find(|&&b| b == RECORD_TERMINATOR || b == FIELD_TERMINATOR || b == SUBFIELD_DELIMITER)
    {
        Some(&byte) => Err(WriteError::Delimiter {
            tag: tag_text(tag),
            byte,
        }),
        None => Ok(()),
    }
}

/// Append one field's bytes (terminator included) to `out`, checking what must not be in it.
fn encode_field(field: &Field, out: &mut Vec<u8>) -> Result<(), WriteError> {
    let tag = field.tag();
    if !tag.iter().all(u8::is_ascii_alphanumeric) {
        return Err(WriteError::BadTag { tag: tag_text(tag) });
    }
    match field {
        Field::Control { value, .. } => {
            check_no_delimiter(tag, value)?;
            out.extend_from_slice(value);
        }
        Field::Data {
            ind1,
            ind2,
            subfields,
            ..
        } => {
            check_no_delimiter(tag, &[*ind1, *ind2])?;
            out.push(*ind1);
            out.push(*ind2);
            for s in subfields {
                check_no_delimiter(tag, &[s.code])?;
                check_no_delimiter(tag, &s.value)?;
                out.push(SUBFIELD_DELIMITER);
                out.push(s.code);
                out.extend_from_slice(&s.value);
            }
        }
    }
    out.push(FIELD_TERMINATOR);
    Ok(())
}

/// Encode a record as ISO 2709, computing the leader's length (0-4), base address (12-16) and
/// the directory; every other leader byte is kept as it is.
pub fn to_bytes(record: &Record) -> Result<Vec<u8>, WriteError> {
    if let Some(&byte) = record
        .leader
        .iter()
        .find(|&&b| b == RECORD_TERMINATOR || b == FIELD_TERMINATOR || b == SUBFIELD_DELIMITER)
    {
        return Err(WriteError::Delimiter {
            tag: "leader".into(),
            byte,
        });
    }
    let mut data = Vec::new();
    let mut directory = Vec::with_capacity(record.fields.len() * ENTRY_LEN + 1);
    for field in &record.fields {
        let start = data.len();
        encode_field(field, &mut data)?;
        let len = data.len() - start;
        if len > MAX_FIELD_LEN {
            return Err(WriteError::FieldTooLong {
                tag: field.tag_str(),
                len,
            });
        }
        directory.extend_from_slice(field.tag());
        // Both numbers fit their widths: len by the check above, start by the record check below
        // (a start over 99,999 means a record over 99,999 and is refused before it is used).
        directory.extend_from_slice(format!("{len:04}{:05}", start % 100_000).as_bytes());
    }
    directory.push(FIELD_TERMINATOR);
    let base = LEADER_LEN + directory.len();
    let total = base + data.len() + 1;
    if total > MAX_RECORD_LEN {
        return Err(WriteError::RecordTooLong {
            control_number: record.control_number().unwrap_or("(no 001)").to_string(),
            len: total,
        });
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&record.leader);
    out[..5].copy_from_slice(format!("{total:05}").as_bytes());
    out[12..17].copy_from_slice(format!("{base:05}").as_bytes());
    out.extend_from_slice(&directory);
    out.extend_from_slice(&data);
    out.push(RECORD_TERMINATOR);
    Ok(out)
}

/// Write one record as ISO 2709 (see [`to_bytes`]).
pub fn write<W: Write>(record: &Record, out: &mut W) -> Result<(), WriteError> {
    out.write_all(&to_bytes(record)?)?;
    Ok(())
}

/// A streaming ISO 2709 reader: yields each record, or an error for a bad one and then goes on
/// with the next record (found by its record terminator), so one bad record never stops an import.
pub struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Index in `buf` where the unread input starts.
    start: usize,
    /// Byte offset in the input of `buf[0]`.
    buf_offset: u64,
    eof: bool,
    position: u64,
    done: bool,
}

impl<R: Read> Reader<R> {
    /// A reader over `inner`; it buffers internally, so pass a plain `File`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(READ_CHUNK * 2),
            start: 0,
            buf_offset: 0,
            eof: false,
            position: 0,
            done: false,
        }
    }

    /// Read more input into the buffer; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.buf_offset += self.start as u64;
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Index in `buf` of the next record terminator at or after `start`, reading as needed but
    /// never holding more than one maximal record; `Err(None)` means end of input without one,
    /// `Err(Some(()))` means none within the longest possible record.
    fn find_terminator(&mut self) -> io::Result<Result<usize, Option<()>>> {
        let mut scanned = self.start;
        loop {
            if let Some(p) = self.buf[scanned..]
                .iter()
                .position(|&b| b == RECORD_TERMINATOR)
            {
                return Ok(Ok(scanned + p));
            }
            scanned = self.buf.len();
            if scanned - self.start > MAX_RECORD_LEN {
                return Ok(Err(Some(())));
            }
            let before = self.start;
            if !self.fill()? {
                return Ok(Err(None));
            }
            // `fill` may have moved the data to the front of the buffer.
            scanned -= before - self.start;
        }
    }

    /// Drop input through the next record terminator without keeping it in memory.
    fn discard_through_terminator(&mut self) -> io::Result<()> {
        loop {
            if let Some(p) = self.buf[self.start..]
                .iter()
                .position(|&b| b == RECORD_TERMINATOR)
            {
                self.start += p + 1;
                return Ok(());
            }
            self.start = self.buf.len();
            if !self.fill()? {
                return Ok(());
            }
        }
    }

    /// Skip whitespace and NUL padding that some exporters put between records.
    fn skip_padding(&mut self) -> io::Result<bool> {
        loop {
            while let Some(&b) = self.buf.get(self.start) {
                if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0) {
                    self.start += 1;
                } else {
                    return Ok(true);
                }
            }
            if !self.fill()? {
                return Ok(false);
            }
        }
    }

    fn error(&self, offset: u64, kind: RecordErrorKind) -> RecordError {
        RecordError::new(self.position, offset, kind)
    }

    fn next_record(&mut self) -> io::Result<Option<Result<Record, RecordError>>> {
        if !self.skip_padding()? {
            return Ok(None);
        }
        self.position += 1;
        let offset = self.buf_offset + self.start as u64;
        let head_end = (self.start + LEADER_LEN).min(self.buf.len());
        if self.position == 1 && !plausible_leader(&self.buf[self.start..head_end]) {
            // Refill once so a short first read cannot make real MARC look foreign.
            if head_end - self.start < LEADER_LEN && self.fill()? {
                self.position -= 1;
                return self.next_record();
            }
            self.done = true;
            return Ok(Some(Err(self.error(offset, RecordErrorKind::NotMarc))));
        }
        let end = match self.find_terminator()? {
            Ok(end) => end,
            Err(None) => {
                self.start = self.buf.len();
                self.done = true;
                return Ok(Some(Err(self.error(offset, RecordErrorKind::Truncated))));
            }
            Err(Some(())) => {
                self.discard_through_terminator()?;
                return Ok(Some(
                    Err(self.error(offset, RecordErrorKind::RecordTooLong)),
                ));
            }
        };
        let chunk = &self.buf[self.start..=end];
        let declared = digits(&chunk[..5.min(chunk.len())]);
        if declared.is_some_and(|len| len != chunk.len()) {
            // A record cut short runs into the next one: if a whole record starts inside this
            // chunk and ends exactly at its terminator, report the cut one and resume there.
            if let Some(p) = embedded_record_start(chunk) {
                self.start += p;
                return Ok(Some(Err(self.error(offset, RecordErrorKind::Truncated))));
            }
        }
        let result = parse_record(chunk).map_err(|(kind, cn)| RecordError {
            control_number: cn,
            ..self.error(offset, kind)
        });
        self.start = end + 1;
        Ok(Some(result))
    }
}

/// Where, inside `chunk` (which ends with a record terminator), a complete record begins whose
/// leader length reaches exactly to that terminator.
fn embedded_record_start(chunk: &[u8]) -> Option<usize> {
    let last_start = chunk.len().checked_sub(LEADER_LEN + 2)?;
    (1..=last_start).find(|&p| {
        let lead = &chunk[p..p + LEADER_LEN];
        plausible_leader(lead) && digits(&lead[..5]) == Some(chunk.len() - p)
    })
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(item) => item,
            Err(e) => {
                self.done = true;
                let offset = self.buf_offset + self.start as u64;
                Some(Err(RecordError::new(
                    self.position.max(1),
                    offset,
                    RecordErrorKind::Io(e.to_string()),
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marc::record::Subfield;

    /// An input that makes records on demand, so the file itself is never in memory.
    struct Generated {
        next: u32,
        count: u32,
        pending: Vec<u8>,
        at: usize,
    }

    impl Read for Generated {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.pending.len() {
                if self.next == self.count {
                    return Ok(0);
                }
                self.next += 1;
                let mut r = Record::new();
                r.fields.push(Field::Control {
                    tag: *b"001",
                    value: format!("KT{:07}", self.next).into_bytes(),
                });
                for (tag, text) in [
                    (b"100", "Nguyễn Nhật Ánh"),
                    (b"245", "Cho tôi xin một vé đi tuổi thơ /"),
                    (b"260", "Hà Nội : Trẻ, 2008."),
                    (b"650", "Văn học thiếu nhi Việt Nam"),
                ] {
                    r.fields.push(Field::Data {
                        tag: *tag,
                        ind1: b'1',
                        ind2: b' ',
                        subfields: vec![Subfield {
                            code: b'a',
                            value: text.as_bytes().to_vec(),
                        }],
                    });
                }
                self.pending = to_bytes(&r).map_err(io::Error::other)?;
                self.at = 0;
            }
            // Hand out odd-sized pieces so records straddle reads.
            let n = out.len().min(self.pending.len() - self.at).min(7_001);
            out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn streams_10000_records_in_bounded_memory() {
        let count = 10_000;
        let input = Generated {
            next: 0,
            count,
            pending: Vec::new(),
            at: 0,
        };
        let mut reader = Reader::new(input);
        let started = std::time::Instant::now();
        let mut n = 0u32;
        let mut max_buffer = 0;
        while let Some(item) = reader.next() {
            let record = item.expect("generated records are good");
            n += 1;
            assert_eq!(record.control_number(), Some(format!("KT{n:07}").as_str()));
            max_buffer = max_buffer.max(reader.buf.capacity());
        }
        assert_eq!(n, count);
        // One record plus two read chunks at most, never the whole input.
        assert!(max_buffer <= 4 * READ_CHUNK, "buffer grew to {max_buffer}");
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "iso2709: parsed {n} records in {secs:.3} s ({:.0} records/s, generation included)",
            f64::from(n) / secs
        );
    }
}
