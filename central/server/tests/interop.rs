//! The MARC codec against other people's implementations: records written by pymarc import,
//! our exports read back in pymarc with the same fields, and yaz-marcdump agrees on the
//! record count and the MARCXML conversion. The tools come from `scripts/setup.sh` (a venv
//! at `$RONG_VENV`, default `~/.cache/rong-venv`, and Debian's `yaz`).

mod common;

use std::path::Path;
use std::process::Command;

use central_store::Store;
use rong_protocol::delta::{Branch, Op};
use rong_protocol::ids::BranchId;
use serde_json::Value;

fn pymarc(args: &[&str]) -> String {
    let mut py = common::python();
    py.arg(common::interop("marc_tool.py")).args(args);
    String::from_utf8(common::stdout_of(&mut py, &format!("pymarc {args:?}"))).expect("utf-8")
}

fn dump(args: &[&str]) -> Value {
    serde_json::from_str(&pymarc(args)).expect("json from pymarc")
}

fn central(dir: &Path, args: &[&str]) -> String {
    let mut central = common::central_cli(dir);
    central.args(args);
    String::from_utf8(common::stdout_of(
        &mut central,
        &format!("central {args:?}"),
    ))
    .expect("utf-8")
}

/// The fields of every record, leaving out the leader (whose length and base address a
/// MARCXML round trip recomputes).
fn fields(records: &Value) -> Vec<Value> {
    records
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["fields"].clone())
        .collect()
}

#[test]
fn pymarc_and_yaz_agree_with_our_import_and_export() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open(&dir.path().join("central.db")).unwrap();
        for id in ["kontum", "dakto", "dakha"] {
            store
                .put_ops(&[Op::PutBranch(Branch {
                    id: BranchId::new(id).unwrap(),
                    name: format!("Thư viện {id}"),
                    closed_weekdays: vec![],
                    require_pin: false,
                })])
                .unwrap();
        }
    }
    let theirs = dir.path().join("pymarc.mrc");
    let theirs_s = theirs.to_str().unwrap();
    pymarc(&["write", theirs_s, &N.to_string()]);

    // pymarc's records import, with their items.
    let out = central(dir.path(), &["import", "marc", theirs_s]);
    assert!(
        out.starts_with(&format!("imported {N}, updated 0, skipped 0")),
        "{out}"
    );
    let store = Store::open(&dir.path().join("central.db")).unwrap();
    let items: i64 = store
        .reader()
        .query_row(
            "SELECT count(*) FROM items WHERE barcode LIKE 'PY%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(items as usize, (1..=N).map(|i| 1 + i % 3).sum::<usize>());
    let (title, shelf): (String, String) = store
        .reader()
        .query_row(
            "SELECT r.title, i.shelf FROM records r JOIN items i ON i.record = r.id \
             WHERE r.id = 'PYM000001' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(title, "Những ngôi nhà rông Tây Nguyên: tập 1");
    assert_eq!(shelf, "Phòng địa chí");
    drop(store);

    // Our ISO 2709 export is byte for byte what pymarc wrote, and pymarc reads it the same.
    let ours = dir.path().join("ours.mrc");
    central(
        dir.path(),
        &[
            "export",
            "marc",
            "--format",
            "iso2709",
            "--out",
            ours.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        std::fs::read(&theirs).unwrap()
    );
    let original = dump(&["dump", theirs_s]);
    assert_eq!(original.as_array().unwrap().len(), N);
    assert_eq!(dump(&["dump", ours.to_str().unwrap()]), original);

    // Our MARCXML reads in pymarc with the same fields.
    let ours_xml = dir.path().join("ours.xml");
    central(
        dir.path(),
        &[
            "export",
            "marc",
            "--format",
            "marcxml",
            "--out",
            ours_xml.to_str().unwrap(),
        ],
    );
    let from_xml = dump(&["dump-xml", ours_xml.to_str().unwrap()]);
    assert_eq!(fields(&from_xml), fields(&original));

    // yaz-marcdump: the same count, and its MARCXML conversion means the same as ours.
    if Command::new("yaz-marcdump").arg("-V").output().is_err() {
        eprintln!("yaz-marcdump is not installed (apt yaz); skipping its checks");
        return;
    }
    let yaz_xml = dir.path().join("yaz.xml");
    let out = Command::new("yaz-marcdump")
        .args(["-i", "marc", "-o", "marcxml", theirs_s])
        .output()
        .expect("run yaz-marcdump");
    assert!(out.status.success());
    let xml = String::from_utf8(out.stdout).expect("utf-8 from yaz");
    assert_eq!(xml.matches("<record").count(), N);
    std::fs::write(&yaz_xml, &xml).unwrap();
    assert_eq!(
        fields(&dump(&["dump-xml", yaz_xml.to_str().unwrap()])),
        fields(&original)
    );
    // And yaz's MARCXML imports as the same records (updated in place, none added).
    let out = central(dir.path(), &["import", "marc", yaz_xml.to_str().unwrap()]);
    assert!(
        out.starts_with(&format!("imported 0, updated {N}, skipped 0")),
        "{out}"
    );
    // yaz reads our MARCXML back to ISO 2709 with the same records.
    let back = Command::new("yaz-marcdump")
        .args(["-i", "marcxml", "-o", "marc", ours_xml.to_str().unwrap()])
        .output()
        .expect("run yaz-marcdump");
    assert!(back.status.success());
    let back_path = dir.path().join("yaz-back.mrc");
    std::fs::write(&back_path, back.stdout).unwrap();
    assert_eq!(
        fields(&dump(&["dump", back_path.to_str().unwrap()])),
        fields(&original)
    );
}
