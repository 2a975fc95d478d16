//! The in-memory MARC record: raw bytes, so a round trip is byte for byte.

/// One MARC record: the 24-byte leader and its fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The leader as read; the writer recomputes positions 0-4 (length) and 12-16 (base address).
    pub leader: [u8; 24],
    /// The variable fields, in the order of the directory (or the XML).
    pub fields: Vec<Field>,
}

/// One variable field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A control field (tags 001-009): a tag and an unstructured value.
    Control {
        /// The three-character tag.
        tag: [u8; 3],
        /// The raw value, without the field terminator.
        value: Vec<u8>,
    },
    /// A data field: a tag, two indicators and subfields.
    Data {
        /// The three-character tag.
        tag: [u8; 3],
        /// First indicator.
        ind1: u8,
        /// Second indicator.
        ind2: u8,
        /// The subfields in order.
        subfields: Vec<Subfield>,
    },
}

/// One subfield of a data field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subfield {
    /// The one-byte subfield code (`a` in `$a`).
    pub code: u8,
    /// The raw value.
    pub value: Vec<u8>,
}

/// Whether a tag names a control field: `00` followed by anything (001-009, and 000 if present).
pub fn is_control_tag(tag: &[u8; 3]) -> bool {
    tag[0] == b'0' && tag[1] == b'0'
}

/// Trailing ISBD punctuation that cataloguers leave at the end of 245 $a/$b and friends.
const ISBD_TRAILING: &[char] = &[' ', '/', ':', ';', ',', '.', '='];

/// Trim trailing ISBD punctuation and spaces (" /:;,.=") and leading spaces.
pub fn trim_isbd(text: &str) -> &str {
    text.trim_start().trim_end_matches(ISBD_TRAILING)
}

impl Field {
    /// A control field (tags 001 to 009) with this value.
    pub fn control(tag: &[u8; 3], value: impl Into<Vec<u8>>) -> Field {
        Field::Control {
            tag: *tag,
            value: value.into(),
        }
    }

    /// A data field with blank indicators and these text subfields, in order.
    pub fn text(tag: &[u8; 3], subfields: &[(u8, &str)]) -> Field {
        Field::text_with(tag, [b' ', b' '], subfields)
    }

    /// A data field with these indicators and text subfields, in order.
    pub fn text_with(tag: &[u8; 3], [ind1, ind2]: [u8; 2], subfields: &[(u8, &str)]) -> Field {
        Field::Data {
            tag: *tag,
            ind1,
            ind2,
            subfields: subfields
                .iter()
                .map(|(code, value)| Subfield {
                    code: *code,
                    value: value.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    /// The field's tag.
    pub fn tag(&self) -> &[u8; 3] {
        match self {
            Field::Control { tag, .. } | Field::Data { tag, .. } => tag,
        }
    }

    /// The tag as text (tags are ASCII; anything else shows lossily).
    pub fn tag_str(&self) -> String {
        String::from_utf8_lossy(self.tag()).into_owned()
    }

    /// The subfields (empty for a control field).
    pub fn subfields(&self) -> &[Subfield] {
        match self {
            Field::Control { .. } => &[],
            Field::Data { subfields, .. } => subfields,
        }
    }

    /// The values of the subfields with this code, as text (skipping any that are not UTF-8).
    pub fn subfield_values(&self, code: u8) -> impl Iterator<Item = &str> {
        self.subfields()
            .iter()
            .filter(move |s| s.code == code)
            .filter_map(|s| std::str::from_utf8(&s.value).ok())
    }

    /// The first value of the subfield with this code, as text.
    pub fn first(&self, code: u8) -> Option<&str> {
        self.subfield_values(code).next()
    }
}

impl Record {
    /// An empty Unicode record (leader/09 = 'a') with the usual MARC21 leader layout.
    pub fn new() -> Self {
        Self {
            leader: *b"00000nam a2200000   4500",
            fields: Vec::new(),
        }
    }

    /// The 001 control number, trimmed of surrounding spaces; `None` if absent, empty or not UTF-8.
    pub fn control_number(&self) -> Option<&str> {
        self.fields.iter().find_map(|f| match f {
            Field::Control {
                tag: [b'0', b'0', b'1'],
                value,
            } => std::str::from_utf8(value)
                .ok()
                .map(str::trim)
                .filter(|s| !s.is_empty()),
            _ => None,
        })
    }

    /// The first field with this tag.
    pub fn get(&self, tag: &[u8; 3]) -> Option<&Field> {
        self.fields.iter().find(|f| f.tag() == tag)
    }

    /// All fields with this tag, in order.
    pub fn get_all<'a>(&'a self, tag: &'a [u8; 3]) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.tag() == tag)
    }

    /// All values of subfield `code` in fields tagged `tag`, as text.
    pub fn subfield_values<'a>(
        &'a self,
        tag: &'a [u8; 3],
        code: u8,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(tag).flat_map(move |f| f.subfield_values(code))
    }

    /// Whether the record declares Unicode (leader/09 = 'a'); blank means MARC-8.
    pub fn is_unicode(&self) -> bool {
        self.leader[9] == b'a'
    }

    /// The title: 245 $a, then the remainder of the title ($b) after a colon, ISBD
    /// punctuation trimmed from each part ("Địa chí Kon Tum: tập 1").
    pub fn title(&self) -> Option<String> {
        let field = self.get(b"245")?;
        let parts: Vec<&str> = field
            .subfields()
            .iter()
            .filter(|s| s.code == b'a' || s.code == b'b')
            .filter_map(|s| std::str::from_utf8(&s.value).ok())
            .map(trim_isbd)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(": "))
        }
    }

    /// The main entry: 100, 110 or 111 $a, ISBD punctuation trimmed.
    pub fn author(&self) -> Option<&str> {
        [b"100", b"110", b"111"]
            .iter()
            .filter_map(|tag| self.get(tag).and_then(|f| f.first(b'a')))
            .map(trim_isbd)
            .find(|s| !s.is_empty())
    }

    /// The ISBNs: every 020 $a, trimmed (qualifiers such as "(pbk.)" are kept).
    pub fn isbn(&self) -> Vec<&str> {
        self.subfield_values(b"020", b'a')
            .map(trim_isbd)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The subjects: $a of every 6XX field, ISBD punctuation trimmed.
    pub fn subjects(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| f.tag()[0] == b'6' && !is_control_tag(f.tag()))
            .flat_map(|f| f.subfield_values(b'a'))
            .map(trim_isbd)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl Default for Record {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::new();
        r.fields.push(Field::control(b"001", " KT000123 "));
        let data = |tag: &[u8; 3], subs: &[(u8, &str)]| Field::text_with(tag, [b'1', b'0'], subs);
        r.fields
            .push(data(b"020", &[(b'a', "9786041234567 :"), (b'c', "50000đ")]));
        r.fields.push(data(b"100", &[(b'a', "Nguyễn Nhật Ánh,")]));
        r.fields.push(data(
            b"245",
            &[
                (b'a', "Tôi thấy hoa vàng trên cỏ xanh :"),
                (b'b', "tiểu thuyết /"),
                (b'c', "Nguyễn Nhật Ánh."),
            ],
        ));
        r.fields.push(data(
            b"650",
            &[(b'a', "Văn học Việt Nam."), (b'x', "Tiểu thuyết")],
        ));
        r.fields.push(data(b"651", &[(b'a', "Kon Tum")]));
        r
    }

    #[test]
    fn helpers_read_the_usual_fields() {
        let r = sample();
        assert_eq!(r.control_number(), Some("KT000123"));
        assert_eq!(
            r.title().as_deref(),
            Some("Tôi thấy hoa vàng trên cỏ xanh: tiểu thuyết")
        );
        assert_eq!(r.author(), Some("Nguyễn Nhật Ánh"));
        assert_eq!(r.isbn(), vec!["9786041234567"]);
        assert_eq!(r.subjects(), vec!["Văn học Việt Nam", "Kon Tum"]);
        assert!(r.is_unicode());
        assert_eq!(r.get(b"245").map(|f| f.tag_str()), Some("245".to_string()));
        assert!(r.get(b"999").is_none());
    }

    #[test]
    fn missing_fields_give_none() {
        let r = Record::new();
        assert_eq!(r.control_number(), None);
        assert_eq!(r.title(), None);
        assert_eq!(r.author(), None);
        assert!(r.isbn().is_empty());
        assert!(r.subjects().is_empty());
    }

    #[test]
    fn isbd_trim_keeps_inner_punctuation() {
        assert_eq!(trim_isbd("Hà Nội : Kim Đồng, "), "Hà Nội : Kim Đồng");
        assert_eq!(trim_isbd("A. B. C. /"), "A. B. C");
        assert_eq!(trim_isbd(" ;: "), "");
    }
}
