//! `central import marc` and `central export marc`, run as the real binary on files built
//! with the codec's writer, with every kind of bad record from the catalogue issue mixed in.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use central_catalogue::marc::{iso2709, marcxml, Field, Record, Subfield};
use central_store::Store;
use rong_protocol::delta::{Branch, Op};
use rong_protocol::ids::BranchId;

fn data(tag: &[u8; 3], subs: &[(u8, &str)]) -> Field {
    Field::text(tag, subs)
}

fn control(tag: &[u8; 3], value: impl Into<Vec<u8>>) -> Field {
    Field::Control {
        tag: *tag,
        value: value.into(),
    }
}

/// A field whose one subfield holds these bytes, which need not be UTF-8.
fn raw(tag: &[u8; 3], code: u8, value: &[u8]) -> Field {
    let subfields = vec![Subfield {
        code,
        value: value.to_vec(),
    }];
    Field::Data {
        tag: *tag,
        ind1: b' ',
        ind2: b' ',
        subfields,
    }
}

/// A good record `KTR{n}` with one 952 per barcode at `branch`.
fn good_at(n: u32, branch: &str, barcodes: &[&str]) -> Record {
    let title = format!("Sách số {n} :");
    let mut r = Record::new();
    r.fields.extend([
        control(b"001", format!("KTR{n}")),
        control(b"005", "20240101120000.0"),
        data(b"020", &[(b'a', "9786041234567 (pbk.) :")]),
        data(b"100", &[(b'a', "Nguyễn Nhật Ánh,")]),
        data(b"245", &[(b'a', &title), (b'b', "tiểu thuyết /")]),
        data(
            b"260",
            &[(b'a', "Hà Nội :"), (b'b', "Kim Đồng,"), (b'c', "2019.")],
        ),
        data(b"650", &[(b'a', "Văn học Việt Nam")]),
    ]);
    for b in barcodes {
        r.fields.push(data(
            b"952",
            &[
                (b'a', branch),
                (b'b', branch),
                (b'o', "895.922 NG"),
                (b'p', b),
                (b'y', "BOOK"),
            ],
        ));
    }
    r
}

fn good(n: u32, barcodes: &[&str]) -> Record {
    good_at(n, "KT01", barcodes)
}

fn bytes(r: &Record) -> Vec<u8> {
    iso2709::to_bytes(r).expect("writable record")
}

/// A record with a field longer than 9,999 bytes, assembled by hand (the writer refuses it).
fn field_over_9999() -> Vec<u8> {
    let mut long = b"10\x1Fa".to_vec();
    long.extend(std::iter::repeat_n(b'x', 12_000));
    long.push(0x1E);
    let fields: [(&[u8; 3], Vec<u8>); 2] = [(b"001", b"KTR90\x1E".to_vec()), (b"245", long)];
    let mut dir = Vec::new();
    let mut body = Vec::new();
    for (tag, content) in &fields {
        dir.extend_from_slice(*tag);
        dir.extend_from_slice(format!("{:04}{:05}", content.len() % 10_000, body.len()).as_bytes());
        body.extend_from_slice(content);
    }
    dir.push(0x1E);
    let base = 24 + dir.len();
    let mut out = b"00000nam a2200000   4500".to_vec();
    out[..5].copy_from_slice(format!("{:05}", (base + body.len() + 1) % 100_000).as_bytes());
    out[12..17].copy_from_slice(format!("{base:05}").as_bytes());
    out.extend_from_slice(&dir);
    out.extend_from_slice(&body);
    out.push(0x1D);
    out
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(&dir.path().join("central.db")).expect("store");
        store
            .put_ops(&[Op::PutBranch(Branch {
                id: BranchId::new("kt01").expect("id"),
                name: "Thư viện tỉnh Kon Tum".into(),
                closed_weekdays: vec![],
                require_pin: false,
            })])
            .expect("branch");
        Env { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn central(&self, args: &[&str]) -> Output {
        common::central_cli(self.dir.path())
            .args(args)
            .output()
            .expect("run central")
    }

    fn import(&self, files: &[&Path]) -> (i32, String) {
        let mut args = vec!["import", "marc"];
        args.extend(files.iter().map(|f| f.to_str().expect("utf-8 path")));
        let out = self.central(&args);
        let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("stdout:\n{stdout}\nstderr:\n{stderr}");
        (out.status.code().expect("exit code"), stdout)
    }

    fn count(&self, sql: &str) -> i64 {
        let store = Store::open(&self.path("central.db")).expect("store");
        store
            .reader()
            .query_row(sql, [], |r| r.get(0))
            .expect("count")
    }
}

/// The mixed file: good records and every bad case, with where each bad one starts.
struct Mixed {
    bytes: Vec<u8>,
    good: Vec<Record>,
    /// (position, byte offset, text the reason must contain).
    bad: Vec<(u64, Option<u64>, &'static str)>,
}

fn mixed() -> Mixed {
    let mut m = Mixed {
        bytes: Vec::new(),
        good: Vec::new(),
        bad: Vec::new(),
    };
    let mut position = 0;
    let push_good = |m: &mut Mixed, r: Record, position: &mut u64| {
        *position += 1;
        m.bytes.extend_from_slice(&bytes(&r));
        m.good.push(r);
    };
    let push_bad = |m: &mut Mixed, b: &[u8], why: &'static str, position: &mut u64| {
        *position += 1;
        m.bad.push((*position, Some(m.bytes.len() as u64), why));
        m.bytes.extend_from_slice(b);
    };
    push_good(&mut m, good(1, &["KT0001"]), &mut position);
    let cut = bytes(&good(80, &["KT0080"]));
    push_bad(
        &mut m,
        &cut[..cut.len() - 40],
        "truncated record",
        &mut position,
    );
    push_good(&mut m, good(2, &["KT0002", "KT0003"]), &mut position);
    let mut wrong_len = bytes(&good(81, &["KT0081"]));
    let len = wrong_len.len() + 7;
    wrong_len[..5].copy_from_slice(format!("{len:05}").as_bytes());
    push_bad(&mut m, &wrong_len, "bad record length", &mut position);
    push_good(&mut m, good(3, &["KT0004"]), &mut position);
    let mut wrong_base = bytes(&good(82, &["KT0082"]));
    let base: usize = std::str::from_utf8(&wrong_base[12..17])
        .expect("digits")
        .parse()
        .expect("number");
    wrong_base[12..17].copy_from_slice(format!("{:05}", base + 1).as_bytes());
    push_bad(&mut m, &wrong_base, "bad base address", &mut position);
    let mut broken_dir = bytes(&good(83, &["KT0083"]));
    broken_dir[24 + 24..24 + 36].copy_from_slice(b"1000x200041 ");
    push_bad(&mut m, &broken_dir, "broken directory", &mut position);
    let mut bad_utf8 = good(84, &["KT0084"]);
    bad_utf8.fields.push(raw(b"500", b'a', b"Ghi ch\xFA"));
    push_bad(
        &mut m,
        &bytes(&bad_utf8),
        "field 500 is not valid UTF-8",
        &mut position,
    );
    push_bad(
        &mut m,
        &field_over_9999(),
        "field 245 is longer than 9,999 bytes",
        &mut position,
    );
    let mut no_001 = good(85, &["KT0085"]);
    no_001.fields.remove(0);
    push_bad(
        &mut m,
        &bytes(&no_001),
        "missing 001 control number",
        &mut position,
    );
    let mut marc8 = good(86, &["KT0086"]);
    marc8.leader[9] = b' ';
    push_bad(&mut m, &bytes(&marc8), "MARC-8 record", &mut position);
    // Bad only against the store or the config: read fine, refused after. Padding between
    // records (some exporters add it) must not shift the offsets reported.
    m.bytes.extend_from_slice(b"\r\n");
    position += 1;
    let at = m.bytes.len() as u64;
    m.bytes
        .extend_from_slice(&bytes(&good(5, &["KT0005", "KT0001"])));
    m.bad.push((
        position,
        Some(at),
        "item barcode KT0001 already belongs to record KTR1",
    ));
    position += 1;
    let at = m.bytes.len() as u64;
    m.bytes
        .extend_from_slice(&bytes(&good_at(6, "XX", &["KT0006"])));
    m.bad
        .push((position, Some(at), "branch \"xx\" is not a central branch"));
    push_good(&mut m, good(7, &["KT0007"]), &mut position);
    m
}

fn assert_skips_listed(stdout: &str, file: &Path, m: &Mixed) {
    let listed: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(listed.len(), m.bad.len(), "{stdout}");
    for (line, (position, offset, why)) in listed.iter().zip(&m.bad) {
        let head = match offset {
            Some(o) => format!("{}: record {position} (byte {o}", file.display()),
            None => format!("{}: record {position} (001 KTR", file.display()),
        };
        assert!(
            line.starts_with(&head),
            "{line:?} should start with {head:?}"
        );
        assert!(line.contains(why), "{line:?} should say {why:?}");
    }
}

#[test]
fn import_skips_each_bad_record_with_its_position_and_reimport_updates() {
    let env = Env::new();
    let m = mixed();
    let file = env.path("mixed.mrc");
    std::fs::write(&file, &m.bytes).expect("write");

    let (code, stdout) = env.import(&[&file]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().next(),
        Some("imported 4, updated 0, skipped 10")
    );
    assert_skips_listed(&stdout, &file, &m);
    assert_eq!(env.count("SELECT count(*) FROM records"), 4);
    assert_eq!(env.count("SELECT count(*) FROM items"), 5);
    assert_eq!(
        env.count("SELECT count(*) FROM items WHERE barcode IN ('KT0005', 'KT0006')"),
        0,
        "a skipped record leaves none of its items"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM changes WHERE json_extract(op, '$.op') = 'put_item'"),
        5
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM records WHERE id = 'KTR2' AND title = 'Sách số 2: tiểu thuyết' \
             AND publisher = 'Kim Đồng' AND year = 2019 AND call_number = '895.922 NG' \
             AND search LIKE '%sach so 2%nguyen nhat anh%'"
        ),
        1
    );

    let (code, stdout) = env.import(&[&file]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.lines().next(),
        Some("imported 0, updated 4, skipped 10")
    );
    assert_eq!(env.count("SELECT count(*) FROM records"), 4);
    assert_eq!(env.count("SELECT count(*) FROM items"), 5);

    // Export: the exact bytes of the good records, in import order.
    let out = env.central(&["export", "marc", "--format", "iso2709"]);
    assert!(out.status.success());
    let expected: Vec<u8> = m.good.iter().flat_map(bytes).collect();
    assert_eq!(out.stdout, expected, "ISO 2709 export is byte for byte");

    let xml_file = env.path("out.xml");
    let out = env.central(&[
        "export",
        "marc",
        "--format",
        "marcxml",
        "--out",
        xml_file.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success());
    let xml = std::fs::read(&xml_file).expect("exported");
    let back: Vec<Record> = marcxml::Reader::new(&xml[..])
        .collect::<Result<_, _>>()
        .expect("export parses");
    assert_eq!(back.len(), m.good.len());
    for (b, g) in back.iter().zip(&m.good) {
        assert_eq!(bytes(b), bytes(g), "MARCXML keeps every field and subfield");
    }

    // The MARCXML export imports back as the same records.
    let (code, stdout) = env.import(&[&xml_file]);
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "imported 0, updated 4, skipped 0");
}

#[test]
fn empty_file_not_marc_and_missing_file() {
    let env = Env::new();
    let empty = env.path("empty.mrc");
    std::fs::write(&empty, b"").expect("write");
    let png = env.path("cover.png");
    std::fs::write(
        &png,
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0",
    )
    .expect("write");
    let xml = env.path("one.xml");
    let mut text = Vec::new();
    marcxml::write_collection([&good(9, &["KT0009"])], &mut text).expect("xml");
    std::fs::write(&xml, &text).expect("write");

    let (code, stdout) = env.import(&[&empty, &png, &xml]);
    assert_eq!(code, 0, "skips are not failures");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "imported 1, updated 0, skipped 1");
    assert_eq!(
        lines[1],
        format!("{}: empty file, no records", empty.display())
    );
    assert!(
        lines[2].starts_with(&format!(
            "{}: record 1 (byte 0): not a MARC file",
            png.display()
        )),
        "{}",
        lines[2]
    );
    assert_eq!(lines.len(), 3);

    // A file that cannot be read at all: exit 1, the others still imported.
    let missing = env.path("missing.mrc");
    let again = env.path("again.mrc");
    std::fs::write(&again, bytes(&good(10, &["KT0010"]))).expect("write");
    let (code, stdout) = env.import(&[&missing, &again]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout.lines().next(),
        Some("imported 1, updated 0, skipped 0")
    );
    assert_eq!(env.count("SELECT count(*) FROM records"), 2);

    // No file at all is a usage error.
    let out = env.central(&["import", "marc"]);
    assert_eq!(out.status.code(), Some(2));
}
