//! Tests of the MARC codec: round trips, every bad-input reason, and no panics on junk.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::error::RecordErrorKind as K;
use super::record::is_control_tag;
use super::*;

fn text_field(tag: &[u8; 3], subs: &[(u8, &str)]) -> Field {
    Field::text_with(tag, [b'1', b'0'], subs)
}

/// A good Unicode record numbered `n`.
fn good(n: u32) -> Record {
    let mut r = Record::new();
    r.fields.push(Field::control(b"001", format!("KT{n:06}")));
    r.fields.push(Field::control(
        b"008",
        "250101s2024    vm            000 0 vie d",
    ));
    r.fields.push(text_field(b"100", &[(b'a', "Nguyễn Du,")]));
    r.fields.push(text_field(
        b"245",
        &[
            (b'a', &format!("Truyện Kiều tập {n} :")),
            (b'b', "Đoạn trường tân thanh /"),
            (b'c', "Nguyễn Du."),
        ],
    ));
    r.fields.push(text_field(
        b"650",
        &[(b'a', "Văn học Việt Nam"), (b'v', "Thơ")],
    ));
    r
}

fn bytes(r: &Record) -> Vec<u8> {
    iso2709::to_bytes(r).expect("good records encode")
}

fn read_iso(input: &[u8]) -> Vec<Result<Record, RecordError>> {
    iso2709::Reader::new(input).collect()
}

fn read_xml(input: &[u8]) -> Vec<Result<Record, RecordError>> {
    marcxml::Reader::new(input).collect()
}

/// `good(1)`, then `bad`, then `good(3)`: the good ones come out and the bad one is reported
/// as record 2 at the right offset with `kind`.
fn assert_skipped_between_good(bad: &[u8], kind: K) {
    let first = bytes(&good(1));
    let mut input = first.clone();
    input.extend_from_slice(bad);
    input.extend_from_slice(&bytes(&good(3)));
    let out = read_iso(&input);
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0].as_ref().ok(), Some(&with_lengths(good(1))));
    assert_eq!(out[2].as_ref().ok(), Some(&with_lengths(good(3))));
    let err = out[1].as_ref().expect_err("the middle record is bad");
    assert_eq!(err.position, 2);
    assert_eq!(err.offset, first.len() as u64);
    assert_eq!(err.kind, kind, "{err}");
}

/// The record as it reads back: the leader's length and base address filled in.
fn with_lengths(mut r: Record) -> Record {
    let b = bytes(&r);
    r.leader[..5].copy_from_slice(&b[..5]);
    r.leader[12..17].copy_from_slice(&b[12..17]);
    r
}

/// Assemble ISO 2709 by hand, with each field's directory length given (a sloppy writer's).
fn assemble(leader: &[u8; 24], fields: &[(&[u8; 3], Vec<u8>, usize)]) -> Vec<u8> {
    let mut dir = Vec::new();
    let mut data = Vec::new();
    for (tag, content, declared) in fields {
        dir.extend_from_slice(*tag);
        dir.extend_from_slice(format!("{:04}{:05}", declared % 10_000, data.len()).as_bytes());
        data.extend_from_slice(content);
    }
    dir.push(0x1E);
    let base = 24 + dir.len();
    let total = base + data.len() + 1;
    let mut out = leader.to_vec();
    out[..5].copy_from_slice(format!("{:05}", total % 100_000).as_bytes());
    out[12..17].copy_from_slice(format!("{base:05}").as_bytes());
    out.extend_from_slice(&dir);
    out.extend_from_slice(&data);
    out.push(0x1D);
    out
}

/// Replace the 12 directory bytes of entry `n` (0-based).
fn with_entry(mut rec: Vec<u8>, n: usize, entry: &[u8; 12]) -> Vec<u8> {
    rec[24 + n * 12..24 + (n + 1) * 12].copy_from_slice(entry);
    rec
}

#[test]
fn good_records_round_trip_byte_for_byte() {
    let input: Vec<u8> = (1..=3).flat_map(|n| bytes(&good(n))).collect();
    let records: Vec<Record> = read_iso(&input)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("all good");
    assert_eq!(records.len(), 3);
    assert_eq!(records[1].control_number(), Some("KT000002"));
    assert_eq!(
        records[1].title().as_deref(),
        Some("Truyện Kiều tập 2: Đoạn trường tân thanh")
    );
    let again: Vec<u8> = records.iter().flat_map(bytes).collect();
    assert_eq!(again, input);

    let mut xml = Vec::new();
    marcxml::write_collection(&records, &mut xml).expect("xml");
    let back: Vec<Record> = read_xml(&xml)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("xml reads");
    assert_eq!(back, records);
}

#[test]
fn detect_tells_formats_apart() {
    assert_eq!(detect(&bytes(&good(1))), Format::Iso2709);
    assert_eq!(
        detect(b"\xEF\xBB\xBF \n<?xml version=\"1.0\"?>"),
        Format::MarcXml
    );
    assert_eq!(detect(b"<collection>"), Format::MarcXml);
    assert_eq!(detect(b""), Format::Unknown);
    assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Format::Unknown);
    assert_eq!(detect(b"12345,Truyen Kieu,Nguyen Du\n"), Format::Unknown);
    assert_eq!(detect(b"isbn,title\n"), Format::Unknown);
}

#[test]
fn empty_input_gives_nothing() {
    assert!(read_iso(b"").is_empty());
    assert!(read_iso(b"\n\n").is_empty());
    assert!(read_xml(b"").is_empty());
    assert!(read_xml(
        b"<?xml version=\"1.0\"?>\n<collection xmlns=\"http://www.loc.gov/MARC21/slim\"/>"
    )
    .is_empty());
}

#[test]
fn non_marc_input_is_one_clear_error() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\x1d\x1e\x1f garbage".repeat(50);
    let csv = b"barcode,title,author\n1234567,Truyen Kieu,Nguyen Du\n".repeat(50);
    for junk in [&png[..], &csv[..]] {
        let out = read_iso(junk);
        assert_eq!(out.len(), 1, "{out:?}");
        let err = out[0].as_ref().expect_err("not MARC");
        assert_eq!((err.position, err.offset, &err.kind), (1, 0, &K::NotMarc));
        assert!(err.to_string().contains("not a MARC file"), "{err}");
    }
    let out = read_xml(b"<html><body><p>Hello</p></body></html>");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].as_ref().err().map(|e| &e.kind), Some(&K::NotMarc));
    let out = read_xml(&csv);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].as_ref().err().map(|e| &e.kind), Some(&K::NotMarc));
}

#[test]
fn truncated_record_in_the_middle_is_skipped() {
    let b = bytes(&good(2));
    assert_skipped_between_good(&b[..b.len() - 40], K::Truncated);
    // Cut inside the leader too.
    assert_skipped_between_good(&b[..10], K::Truncated);
}

#[test]
fn truncated_record_at_the_end_is_reported() {
    let mut input = bytes(&good(1));
    let b = bytes(&good(2));
    input.extend_from_slice(&b[..b.len() - 1]);
    let out = read_iso(&input);
    assert_eq!(out.len(), 2);
    assert!(out[0].is_ok());
    let err = out[1].as_ref().expect_err("cut");
    assert_eq!((err.position, &err.kind), (2, &K::Truncated));
}

#[test]
fn wrong_record_length_is_skipped() {
    let b = bytes(&good(2));
    for wrong in [b.len() + 7, b.len() - 7] {
        let mut bad = b.clone();
        bad[..5].copy_from_slice(format!("{wrong:05}").as_bytes());
        assert_skipped_between_good(&bad, K::BadLength);
    }
    let mut bad = b.clone();
    bad[..5].copy_from_slice(b"0x312");
    assert_skipped_between_good(&bad, K::BadLength);
}

#[test]
fn wrong_base_address_is_skipped() {
    let b = bytes(&good(2));
    let mut bad = b.clone();
    let base = std::str::from_utf8(&b[12..17])
        .expect("digits")
        .parse::<usize>()
        .expect("number");
    bad[12..17].copy_from_slice(format!("{:05}", base + 1).as_bytes());
    assert_skipped_between_good(&bad, K::BadBaseAddress);
    bad[12..17].copy_from_slice(b"  1 2");
    assert_skipped_between_good(&bad, K::BadBaseAddress);
}

#[test]
fn broken_directory_is_skipped() {
    let b = bytes(&good(2));
    let broken = |rec: &[u8]| {
        let out = read_iso(rec);
        match out.first() {
            Some(Err(e)) => matches!(e.kind, K::BrokenDirectory(_)),
            _ => false,
        }
    };
    let not_digits = with_entry(b.clone(), 2, b"1000x200041 ");
    let out_of_bounds = with_entry(b.clone(), 2, b"100001799999");
    // 245 starts at a wrong offset, so the byte before its declared end is not a terminator.
    let entry: [u8; 12] = b[24 + 36..24 + 48].try_into().expect("12 bytes");
    let mut shifted = entry;
    shifted[11] += 1;
    let not_terminated = with_entry(b.clone(), 3, &shifted);
    let bad_tag = with_entry(b.clone(), 2, b"1-0001200041");
    for bad in [not_digits, out_of_bounds, not_terminated, bad_tag] {
        assert!(broken(&bad), "{:?}", read_iso(&bad));
        let kind = read_iso(&bad)[0].clone().expect_err("broken").kind;
        assert_skipped_between_good(&bad, kind);
    }
}

#[test]
fn invalid_utf8_is_skipped_with_its_tag() {
    let mut r = good(2);
    r.fields.push(Field::Data {
        tag: *b"500",
        ind1: b' ',
        ind2: b' ',
        subfields: vec![Subfield {
            code: b'a',
            value: b"Ghi ch\xFA".to_vec(),
        }],
    });
    assert_skipped_between_good(&bytes(&r), K::InvalidUtf8 { tag: "500".into() });
    let err = read_iso(&bytes(&r))[0].clone().expect_err("bad utf-8");
    assert_eq!(err.control_number.as_deref(), Some("KT000002"));
    assert!(err.to_string().contains("001 KT000002"), "{err}");
}

#[test]
fn field_over_9999_bytes_is_skipped() {
    let leader = *b"00000nam a2200000   4500";
    let mut long = b"10\x1Fa".to_vec();
    long.extend(std::iter::repeat_n(b'x', 12_000));
    long.push(0x1E);
    let long_len = long.len();
    let bad = assemble(
        &leader,
        &[
            (b"001", b"KT000002\x1E".to_vec(), 9),
            (b"245", long, long_len),
        ],
    );
    assert_skipped_between_good(&bad, K::FieldTooLong { tag: "245".into() });

    let mut r = good(2);
    r.fields
        .push(text_field(b"520", &[(b'a', &"y".repeat(10_000))]));
    let err = iso2709::to_bytes(&r).expect_err("too long to write");
    assert!(
        matches!(err, WriteError::FieldTooLong { ref tag, .. } if tag == "520"),
        "{err}"
    );
}

#[test]
fn record_over_99999_bytes_is_refused_by_the_writer() {
    let mut r = good(2);
    for _ in 0..12 {
        r.fields
            .push(text_field(b"520", &[(b'a', &"y".repeat(9_000))]));
    }
    let err = iso2709::to_bytes(&r).expect_err("too long");
    assert!(matches!(err, WriteError::RecordTooLong { .. }), "{err}");
    assert!(err.to_string().contains("KT000002"), "{err}");
}

#[test]
fn marc8_record_is_reported() {
    let mut r = good(2);
    r.leader[9] = b' ';
    assert_skipped_between_good(&bytes(&r), K::Marc8);
    let err = read_iso(&bytes(&r))[0].clone().expect_err("marc-8");
    assert_eq!(err.control_number.as_deref(), Some("KT000002"));
}

#[test]
fn missing_001_is_skipped() {
    let mut r = good(2);
    r.fields.remove(0);
    assert_skipped_between_good(&bytes(&r), K::MissingControlNumber);
    let mut blank = good(2);
    blank.fields[0] = Field::Control {
        tag: *b"001",
        value: b"   ".to_vec(),
    };
    assert_skipped_between_good(&bytes(&blank), K::MissingControlNumber);
}

#[test]
fn malformed_data_fields_are_skipped() {
    let leader = *b"00000nam a2200000   4500";
    let cases: [&[u8]; 3] = [b"1\x1E", b"\x1Fa\x1Fb\x1E", b"10abc\x1Fax\x1E"];
    for content in cases {
        let bad = assemble(
            &leader,
            &[
                (b"001", b"KT000002\x1E".to_vec(), 9),
                (b"245", content.to_vec(), content.len()),
            ],
        );
        let kind = read_iso(&bad)[0].clone().expect_err("bad field").kind;
        assert!(
            matches!(kind, K::BadField { ref tag, .. } if tag == "245"),
            "{kind:?}"
        );
        assert_skipped_between_good(&bad, kind);
    }
}

#[test]
fn padding_between_records_is_ignored() {
    let mut input = bytes(&good(1));
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(&bytes(&good(2)));
    input.extend_from_slice(b"\n");
    let out = read_iso(&input);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(Result::is_ok), "{out:?}");
}

const NS: &str = "http://www.loc.gov/MARC21/slim";

fn xml_record(cn: &str, extra: &str) -> String {
    format!(
        "<record><leader>00000nam a2200000   4500</leader>\
         <controlfield tag=\"001\">{cn}</controlfield>\
         <datafield tag=\"245\" ind1=\"1\" ind2=\"0\"><subfield code=\"a\">Truyện Kiều &amp; thơ</subfield></datafield>\
         {extra}</record>\n"
    )
}

fn assert_xml_skipped_between_good(bad: &str, kind: K) {
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<marc:collection xmlns:marc=\"{NS}\">{}{bad}{}</marc:collection>",
        xml_record("KT1", "").replace("<", "<marc:").replace("<marc:/", "</marc:"),
        xml_record("KT3", "").replace("<", "<marc:").replace("<marc:/", "</marc:"),
    );
    let out = read_xml(doc.as_bytes());
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(
        out[0].as_ref().ok().and_then(Record::control_number),
        Some("KT1")
    );
    assert_eq!(
        out[2].as_ref().ok().and_then(Record::control_number),
        Some("KT3")
    );
    let err = out[1].as_ref().expect_err("middle is bad");
    assert_eq!((err.position, &err.kind), (2, &kind), "{err}");
    assert!(err.offset > 0);
}

#[test]
fn marcxml_bad_records_are_skipped() {
    let prefixed = |s: String| s.replace("<", "<marc:").replace("<marc:/", "</marc:");
    assert_xml_skipped_between_good(&prefixed(xml_record("", "")), K::MissingControlNumber);
    assert_xml_skipped_between_good(
        &prefixed(xml_record("KT2", "").replace("nam a22", "nam a2")),
        K::BadLeader("leader is \"00000nam a200000   4500\", not 24 ASCII characters".into()),
    );
    let long = format!(
        "<datafield tag=\"520\" ind1=\" \" ind2=\" \"><subfield code=\"a\">{}</subfield></datafield>",
        "x".repeat(10_000)
    );
    assert_xml_skipped_between_good(
        &prefixed(xml_record("KT2", &long)),
        K::FieldTooLong { tag: "520".into() },
    );
    let bad_tag =
        "<datafield tag=\"24\" ind1=\" \" ind2=\" \"><subfield code=\"a\">x</subfield></datafield>";
    let kind = K::BadField {
        tag: "245".into(),
        reason: "tag \"24\" is not three letters or digits".into(),
    };
    assert_xml_skipped_between_good(&prefixed(xml_record("KT2", bad_tag)), kind);
}

#[test]
fn marcxml_invalid_utf8_and_truncation() {
    let good1 = xml_record("KT1", "");
    let good3 = xml_record("KT3", "");
    let mut doc = format!("<collection xmlns=\"{NS}\">{good1}").into_bytes();
    doc.extend_from_slice(
        b"<record><leader>00000nam a2200000   4500</leader><controlfield tag=\"001\">KT2</controlfield>\
          <datafield tag=\"500\" ind1=\" \" ind2=\" \"><subfield code=\"a\">Ghi ch\xFA</subfield></datafield></record>",
    );
    doc.extend_from_slice(good3.as_bytes());
    doc.extend_from_slice(b"</collection>");
    let out = read_xml(&doc);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out[0].is_ok() && out[2].is_ok(), "{out:?}");
    let err = out[1].as_ref().expect_err("bad utf-8");
    assert_eq!(err.kind, K::InvalidUtf8 { tag: "500".into() });
    assert_eq!(err.control_number.as_deref(), Some("KT2"));

    let cut = format!("<collection xmlns=\"{NS}\">{good1}{}", &good3[..60]);
    let out = read_xml(cut.as_bytes());
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].is_ok());
    let err = out[1].as_ref().expect_err("cut");
    assert_eq!(err.position, 2);
    assert!(matches!(err.kind, K::Truncated | K::Xml(_)), "{err}");
}

#[test]
fn marcxml_bare_record_and_foreign_namespaces() {
    let bare = format!(
        "<?xml version=\"1.0\"?>\n<record xmlns=\"{NS}\">{}",
        &xml_record("KT9", "")[8..]
    );
    let out = read_xml(bare.as_bytes());
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].as_ref().ok().and_then(Record::control_number),
        Some("KT9")
    );
    // An OAI-PMH envelope has its own <record>; only the MARC one counts.
    let oai = format!(
        "<OAI-PMH xmlns=\"http://www.openarchives.org/OAI/2.0/\"><record><metadata>\
         <marc:record xmlns:marc=\"{NS}\">{}</metadata></record></OAI-PMH>",
        xml_record("KT7", "")[8..]
            .replace("<", "<marc:")
            .replace("<marc:/", "</marc:")
    );
    let out = read_xml(oai.as_bytes());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].as_ref().ok().and_then(Record::control_number),
        Some("KT7")
    );
}

#[test]
fn marcxml_blank_leader_09_means_unicode() {
    let doc = xml_record("KT1", "").replace("nam a22", "nam  22");
    let out = read_xml(doc.as_bytes());
    let r = out[0].as_ref().expect("read");
    assert!(r.is_unicode());
}

#[test]
fn marcxml_writer_refuses_what_xml_cannot_carry() {
    let mut r = good(1);
    r.fields.push(text_field(b"500", &[(b'a', "bell \u{7}")]));
    let err = marcxml::write_collection([&r], &mut Vec::new()).expect_err("control char");
    assert!(
        matches!(err, WriteError::NotXml { ref tag, .. } if tag == "500"),
        "{err}"
    );
}

// ---- property tests ----

fn config() -> ProptestConfig {
    ProptestConfig {
        // 256 in CI; `scripts/fuzz.sh` asks for more through the usual variable.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "src/marc/proptest-regressions.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Text as catalogues hold it: Vietnamese, XML-special characters, whitespace, any printable.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 .,:;/&<>\"'=\\t\\r\\nàáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđĐ]{0,40}",
        "\\PC{0,20}",
    ]
}

fn tag(control: bool) -> impl Strategy<Value = [u8; 3]> {
    let alnum = proptest::sample::select(
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".to_vec(),
    );
    if control {
        (b'2'..=b'9').prop_map(|c| [b'0', b'0', c]).boxed()
    } else {
        (alnum.clone(), alnum.clone(), alnum)
            .prop_map(|(a, b, c)| [a, b, c])
            .prop_filter("data tag", |t| !is_control_tag(t))
            .boxed()
    }
}

fn printable() -> impl Strategy<Value = u8> {
    0x20u8..0x7F
}

/// A field whose values come from `value`.
fn field(value: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Field> {
    prop_oneof![
        (tag(true), value.clone()).prop_map(|(tag, value)| Field::Control { tag, value }),
        (
            tag(false),
            printable(),
            printable(),
            proptest::collection::vec(
                (printable(), value).prop_map(|(code, value)| Subfield { code, value }),
                0..5
            )
        )
            .prop_map(|(tag, ind1, ind2, subfields)| Field::Data {
                tag,
                ind1,
                ind2,
                subfields
            }),
    ]
}

fn record_with(value: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Record> {
    (
        proptest::collection::vec(printable(), 24),
        "[A-Za-z0-9][A-Za-z0-9 -]{0,15}",
        proptest::collection::vec(field(value), 0..10),
    )
        .prop_map(|(lead, cn, mut fields)| {
            let mut leader = [0u8; 24];
            leader.copy_from_slice(&lead);
            leader[9] = b'a';
            fields.insert(
                0,
                Field::Control {
                    tag: *b"001",
                    value: cn.into_bytes(),
                },
            );
            Record { leader, fields }
        })
}

/// Unicode records that both ISO 2709 and MARCXML can carry.
fn unicode_record() -> impl Strategy<Value = Record> {
    record_with(text().prop_map(String::into_bytes).boxed())
}

/// Records whose values are any bytes but the three MARC delimiters.
fn byte_record() -> impl Strategy<Value = Record> {
    let byte = any::<u8>().prop_filter("not a delimiter", |b| !(0x1D..=0x1F).contains(b));
    record_with(proptest::collection::vec(byte, 0..40).boxed())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn iso2709_round_trip(r in unicode_record()) {
        let b = iso2709::to_bytes(&r).expect("encodes");
        let back: Vec<_> = read_iso(&b);
        prop_assert_eq!(back.len(), 1);
        let parsed = back[0].clone().expect("reads");
        prop_assert_eq!(&parsed, &with_lengths(r));
        prop_assert_eq!(iso2709::to_bytes(&parsed).expect("encodes again"), b);
    }

    #[test]
    fn iso2709_structure_keeps_any_bytes(r in byte_record()) {
        let b = iso2709::to_bytes(&r).expect("encodes");
        let parsed = iso2709::parse_structure(&b).expect("parses");
        prop_assert_eq!(&parsed, &with_lengths(r));
        prop_assert_eq!(iso2709::to_bytes(&parsed).expect("encodes again"), b);
    }

    #[test]
    fn marcxml_round_trip(records in proptest::collection::vec(unicode_record(), 0..4)) {
        let mut xml = Vec::new();
        marcxml::write_collection(&records, &mut xml).expect("writes");
        let back: Vec<Record> = read_xml(&xml).into_iter().collect::<Result<_, _>>().expect("reads");
        prop_assert_eq!(back, records);
    }

    #[test]
    fn reading_random_bytes_never_panics(junk in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = read_iso(&junk);
        let _ = read_xml(&junk);
        let _ = detect(&junk);
    }

    #[test]
    fn reading_mutated_records_never_panics(
        records in proptest::collection::vec(unicode_record(), 1..4),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut b: Vec<u8> = records.iter().flat_map(|r| iso2709::to_bytes(r).expect("encodes")).collect();
        for (at, byte) in edits {
            let i = at.index(b.len());
            b[i] = byte;
        }
        if do_cut {
            b.truncate(cut.index(b.len() + 1));
        }
        let out = read_iso(&b);
        prop_assert!(out.len() <= b.len());
        for r in out.into_iter().flatten() {
            // Whatever is accepted can be written again.
            let again = iso2709::to_bytes(&r);
            prop_assert!(again.is_ok(), "{:?} for {:?}", again.err(), r);
        }
        let mut xml = Vec::new();
        marcxml::write_collection(&records, &mut xml).expect("writes");
        for (at, byte) in edits_for_xml(&xml) {
            xml[at] = byte;
        }
        let _ = read_xml(&xml);
    }
}

/// A few deterministic corruptions of an XML document (every 97th byte flipped to '<').
fn edits_for_xml(xml: &[u8]) -> Vec<(usize, u8)> {
    (0..xml.len()).step_by(97).map(|i| (i, b'<')).collect()
}
