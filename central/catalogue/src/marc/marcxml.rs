//! MARCXML (`http://www.loc.gov/MARC21/slim`): a streaming reader with the same per-record
//! error behaviour as the ISO 2709 one, and a writer.

use std::io::{BufRead, Write};

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use super::error::{RecordError, RecordErrorKind, WriteError};
use super::iso2709;
use super::record::{is_control_tag, Field, Record, Subfield};

/// The MARCXML namespace.
pub const NAMESPACE: &str = "http://www.loc.gov/MARC21/slim";

/// What the reader is collecting text for.
enum Target {
    None,
    Leader,
    Control,
    Subfield,
}

/// The record being assembled between `<record>` and `</record>`.
struct Partial {
    offset: u64,
    leader: Option<Vec<u8>>,
    fields: Vec<Field>,
    target: Target,
    text: Vec<u8>,
    /// The first problem met; the record is still read to its end so the next one starts clean.
    problem: Option<RecordErrorKind>,
}

impl Partial {
    fn fail(&mut self, kind: RecordErrorKind) {
        if self.problem.is_none() {
            self.problem = Some(kind);
        }
    }

    /// Collects a text or CDATA node's decoded content for the leader, control field or
    /// subfield being read (text elsewhere is ignored), or notes that it was not UTF-8.
    fn push_text<E>(&mut self, content: Result<std::borrow::Cow<'_, str>, E>) {
        if matches!(self.target, Target::None) {
            return;
        }
        match content {
            Ok(s) => self.text.extend_from_slice(s.as_bytes()),
            Err(_) => {
                let tag = self.current_tag();
                self.fail(RecordErrorKind::InvalidUtf8 { tag });
            }
        }
    }

    fn current_tag(&self) -> String {
        self.fields
            .last()
            .map(Field::tag_str)
            .unwrap_or_else(|| "leader".into())
    }
}

/// A streaming MARCXML reader over a `<collection>` or a bare `<record>`; yields each record or
/// an error for a bad one (position = record number) and goes on with the next.
pub struct Reader<R> {
    xml: NsReader<R>,
    buf: Vec<u8>,
    position: u64,
    saw_record: bool,
    saw_content: bool,
    done: bool,
}

fn is_marc_ns(ns: &ResolveResult<'_>) -> bool {
    match ns {
        ResolveResult::Unbound => true,
        ResolveResult::Bound(n) => n.as_ref() == NAMESPACE.as_bytes(),
        ResolveResult::Unknown(_) => false,
    }
}

/// The value of attribute `name`, unescaped; `Ok(None)` if absent.
fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<Vec<u8>>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        if a.key.local_name().as_ref() == name {
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| err.to_string())?;
            return Ok(Some(v.as_bytes().to_vec()));
        }
    }
    Ok(None)
}

fn one_byte(value: Option<Vec<u8>>, what: &str, default: Option<u8>) -> Result<u8, String> {
    match value {
        Some(v) if v.len() == 1 && v[0].is_ascii() => Ok(v[0]),
        None => default.ok_or_else(|| format!("missing {what}")),
        Some(v) => Err(format!(
            "{what} {:?} is not one ASCII character",
            String::from_utf8_lossy(&v)
        )),
    }
}

fn parse_tag(e: &BytesStart<'_>) -> Result<[u8; 3], String> {
    match attr(e, b"tag")? {
        Some(t) if t.len() == 3 && t.iter().all(u8::is_ascii_alphanumeric) => {
            Ok([t[0], t[1], t[2]])
        }
        Some(t) => Err(format!(
            "tag {:?} is not three letters or digits",
            String::from_utf8_lossy(&t)
        )),
        None => Err("field without a tag".into()),
    }
}

impl<R: BufRead> Reader<R> {
    /// A reader over buffered input (wrap a `File` in a `BufReader`).
    pub fn new(inner: R) -> Self {
        Self {
            xml: NsReader::from_reader(inner),
            buf: Vec::new(),
            position: 0,
            saw_record: false,
            saw_content: false,
            done: false,
        }
    }

    fn fatal(&mut self, offset: u64, kind: RecordErrorKind) -> Option<Result<Record, RecordError>> {
        self.done = true;
        Some(Err(RecordError::new(self.position.max(1), offset, kind)))
    }

    /// An element starts (or is empty) inside a record.
    fn open(p: &mut Partial, local: &[u8], e: &BytesStart<'_>, empty: bool) {
        let result = match local {
            b"leader" => {
                p.target = Target::Leader;
                p.text.clear();
                Ok(())
            }
            b"controlfield" => parse_tag(e).and_then(|tag| {
                if !is_control_tag(&tag) {
                    return Err(format!(
                        "controlfield with data field tag {}",
                        tag_str(&tag)
                    ));
                }
                p.fields.push(Field::Control {
                    tag,
                    value: Vec::new(),
                });
                p.target = Target::Control;
                p.text.clear();
                Ok(())
            }),
            b"datafield" => parse_tag(e).and_then(|tag| {
                if is_control_tag(&tag) {
                    return Err(format!(
                        "datafield with control field tag {}",
                        tag_str(&tag)
                    ));
                }
                let ind1 = one_byte(attr(e, b"ind1")?, "ind1", Some(b' '))?;
                let ind2 = one_byte(attr(e, b"ind2")?, "ind2", Some(b' '))?;
                p.fields.push(Field::Data {
                    tag,
                    ind1,
                    ind2,
                    subfields: Vec::new(),
                });
                Ok(())
            }),
            b"subfield" => attr(e, b"code")
                .and_then(|c| one_byte(c, "subfield code", None))
                .and_then(|code| match p.fields.last_mut() {
                    Some(Field::Data { subfields, .. }) => {
                        subfields.push(Subfield {
                            code,
                            value: Vec::new(),
                        });
                        p.target = Target::Subfield;
                        p.text.clear();
                        Ok(())
                    }
                    _ => Err("subfield outside a datafield".into()),
                }),
            _ => Ok(()),
        };
        if let Err(reason) = result {
            let tag = p.current_tag();
            p.fail(RecordErrorKind::BadField { tag, reason });
            p.target = Target::None;
        }
        if empty {
            Self::close(p, local);
        }
    }

    /// An element ends inside a record: store the text collected for it.
    fn close(p: &mut Partial, local: &[u8]) {
        let text = std::mem::take(&mut p.text);
        match (local, &p.target) {
            (b"leader", Target::Leader) => p.leader = Some(text),
            (b"controlfield", Target::Control) => {
                if let Some(Field::Control { value, .. }) = p.fields.last_mut() {
                    *value = text;
                }
            }
            (b"subfield", Target::Subfield) => {
                if let Some(Field::Data { subfields, .. }) = p.fields.last_mut() {
                    if let Some(s) = subfields.last_mut() {
                        s.value = text;
                    }
                }
            }
            _ => {}
        }
        if matches!(local, b"leader" | b"controlfield" | b"subfield") {
            p.target = Target::None;
        }
    }

    /// Turn a finished `<record>` into a record or the reason it is skipped.
    fn finish(p: Partial) -> Result<Record, (RecordErrorKind, Option<String>)> {
        let leader_bytes = p.leader.unwrap_or_default();
        let mut record = Record {
            leader: [b' '; 24],
            fields: p.fields,
        };
        let cn = record.control_number().map(str::to_owned);
        if let Some(kind) = p.problem {
            return Err((kind, cn));
        }
        if leader_bytes.len() != 24 || !leader_bytes.is_ascii() {
            return Err((
                RecordErrorKind::BadLeader(format!(
                    "leader is {:?}, not 24 ASCII characters",
                    String::from_utf8_lossy(&leader_bytes)
                )),
                cn,
            ));
        }
        record.leader.copy_from_slice(&leader_bytes);
        // MARCXML text is Unicode whatever leader/09 says; mark it so an ISO 2709 export of the
        // record is not mistaken for MARC-8.
        match record.leader[9] {
            b'a' => {}
            b' ' => record.leader[9] = b'a',
            other => return Err((iso2709::unknown_coding(other), cn)),
        }
        if cn.is_none() {
            return Err((RecordErrorKind::MissingControlNumber, None));
        }
        // Only what ISO 2709 can carry is imported, so every record can be exported again.
        if let Err(e) = iso2709::to_bytes(&record) {
            let kind = match e {
                WriteError::FieldTooLong { tag, .. } => RecordErrorKind::FieldTooLong { tag },
                WriteError::RecordTooLong { .. } => RecordErrorKind::RecordTooLong,
                WriteError::Delimiter { tag, byte } => RecordErrorKind::BadField {
                    tag,
                    reason: format!("holds the MARC delimiter byte 0x{byte:02X}"),
                },
                other => RecordErrorKind::Xml(other.to_string()),
            };
            return Err((kind, cn));
        }
        Ok(record)
    }

    fn read_record(&mut self, offset: u64) -> Option<Result<Record, RecordError>> {
        let mut p = Partial {
            offset,
            leader: None,
            fields: Vec::new(),
            target: Target::None,
            text: Vec::new(),
            problem: None,
        };
        let mut depth = 0usize;
        loop {
            self.buf.clear();
            let (ns, event) = match self.xml.read_resolved_event_into(&mut self.buf) {
                Ok(x) => x,
                Err(e) => {
                    let offset = self.xml.error_position();
                    return self.fatal(offset, RecordErrorKind::Xml(e.to_string()));
                }
            };
            let marc = is_marc_ns(&ns);
            match event {
                Event::Start(e) => {
                    depth += 1;
                    if marc {
                        Self::open(&mut p, e.local_name().as_ref(), &e, false);
                    }
                }
                Event::Empty(e) => {
                    if marc {
                        Self::open(&mut p, e.local_name().as_ref(), &e, true);
                    }
                }
                Event::End(e) => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                    if marc {
                        Self::close(&mut p, e.local_name().as_ref());
                    }
                }
                Event::Text(t) => p.push_text(t.xml10_content()),
                Event::CData(t) => p.push_text(t.xml10_content()),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        Ok(None) => r.decode().ok().and_then(|name| {
                            quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                        }),
                        Err(_) => None,
                    };
                    match resolved {
                        Some(s) => {
                            if !matches!(p.target, Target::None) {
                                p.text.extend_from_slice(s.as_bytes());
                            }
                        }
                        None => p.fail(RecordErrorKind::Xml(format!(
                            "unknown entity &{};",
                            String::from_utf8_lossy(&r)
                        ))),
                    }
                }
                Event::Eof => return self.fatal(p.offset, RecordErrorKind::Truncated),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        Some(Self::finish(p).map_err(|(kind, cn)| RecordError {
            position: self.position,
            offset,
            control_number: cn,
            kind,
        }))
    }
}

fn tag_str(tag: &[u8; 3]) -> String {
    String::from_utf8_lossy(tag).into_owned()
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            self.buf.clear();
            let at = self.xml.buffer_position();
            let (ns, event) = match self.xml.read_resolved_event_into(&mut self.buf) {
                Ok(x) => x,
                Err(e) => {
                    let offset = self.xml.error_position();
                    self.position += 1;
                    let kind = if self.saw_record {
                        RecordErrorKind::Xml(e.to_string())
                    } else {
                        RecordErrorKind::NotMarc
                    };
                    return self.fatal(offset, kind);
                }
            };
            let marc = is_marc_ns(&ns);
            match event {
                Event::Start(e) if marc && e.local_name().as_ref() == b"record" => {
                    self.saw_record = true;
                    self.position += 1;
                    return self.read_record(at);
                }
                Event::Empty(e) if marc && e.local_name().as_ref() == b"record" => {
                    self.saw_record = true;
                    self.position += 1;
                    return Some(Err(RecordError::new(
                        self.position,
                        at,
                        RecordErrorKind::BadLeader("empty record".into()),
                    )));
                }
                Event::Start(e) | Event::Empty(e) => {
                    if !(marc && e.local_name().as_ref() == b"collection") {
                        self.saw_content = true;
                    }
                }
                Event::Text(t) => {
                    if !t.iter().all(u8::is_ascii_whitespace) {
                        self.saw_content = true;
                    }
                }
                Event::CData(_) | Event::GeneralRef(_) => self.saw_content = true,
                Event::End(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::DocType(_) => {}
                Event::Eof => {
                    self.done = true;
                    if !self.saw_record && self.saw_content {
                        return Some(Err(RecordError::new(1, 0, RecordErrorKind::NotMarc)));
                    }
                    return None;
                }
            }
        }
    }
}

/// Check that `bytes` can be XML 1.0 character data and return it as text.
fn xml_text<'a>(tag: &str, bytes: &'a [u8]) -> Result<&'a str, WriteError> {
    let text = std::str::from_utf8(bytes).map_err(|_| WriteError::NotXml {
        tag: tag.to_string(),
        reason: "not valid UTF-8".into(),
    })?;
    if let Some(c) = text.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    }) {
        return Err(WriteError::NotXml {
            tag: tag.to_string(),
            reason: format!("character U+{:04X} is not allowed in XML 1.0", u32::from(c)),
        });
    }
    Ok(text)
}

/// Escape text for element content or a double-quoted attribute, keeping CR, TAB and LF exact.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
}

/// Append one `<record>` element for `record` to `out`.
fn record_xml(record: &Record, out: &mut String) -> Result<(), WriteError> {
    out.push_str("<record>\n  <leader>");
    escape_into(out, xml_text("leader", &record.leader)?);
    out.push_str("</leader>\n");
    for field in &record.fields {
        let tag_owned = field.tag_str();
        let tag = xml_text(&tag_owned, field.tag())?;
        match field {
            Field::Control { value, .. } => {
                out.push_str("  <controlfield tag=\"");
                escape_into(out, tag);
                out.push_str("\">");
                escape_into(out, xml_text(tag, value)?);
                out.push_str("</controlfield>\n");
            }
            Field::Data {
                ind1,
                ind2,
                subfields,
                ..
            } => {
                out.push_str("  <datafield tag=\"");
                escape_into(out, tag);
                out.push_str("\" ind1=\"");
                escape_into(out, xml_text(tag, std::slice::from_ref(ind1))?);
                out.push_str("\" ind2=\"");
                escape_into(out, xml_text(tag, std::slice::from_ref(ind2))?);
                out.push_str("\">\n");
                for s in subfields {
                    out.push_str("    <subfield code=\"");
                    escape_into(out, xml_text(tag, std::slice::from_ref(&s.code))?);
                    out.push_str("\">");
                    escape_into(out, xml_text(tag, &s.value)?);
                    out.push_str("</subfield>\n");
                }
                out.push_str("  </datafield>\n");
            }
        }
    }
    out.push_str("</record>\n");
    Ok(())
}

/// Writes a MARCXML `<collection>` one record at a time, so an export never holds all records.
pub struct CollectionWriter<W: Write> {
    out: W,
    scratch: String,
}

impl<W: Write> CollectionWriter<W> {
    /// Start a collection: writes the XML declaration and the opening `<collection>` tag.
    pub fn new(mut out: W) -> Result<Self, WriteError> {
        writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(out, "<collection xmlns=\"{NAMESPACE}\">")?;
        Ok(Self {
            out,
            scratch: String::new(),
        })
    }

    /// Write one record; a record that cannot be XML is refused and nothing of it is written.
    pub fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        self.scratch.clear();
        record_xml(record, &mut self.scratch)?;
        self.out.write_all(self.scratch.as_bytes())?;
        Ok(())
    }

    /// Close the collection and return the output.
    pub fn finish(mut self) -> Result<W, WriteError> {
        writeln!(self.out, "</collection>")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Write `records` as one MARCXML `<collection>`.
pub fn write_collection<'a, W: Write>(
    records: impl IntoIterator<Item = &'a Record>,
    out: &mut W,
) -> Result<(), WriteError> {
    let mut writer = CollectionWriter::new(out)?;
    for record in records {
        writer.write(record)?;
    }
    writer.finish()?;
    Ok(())
}
