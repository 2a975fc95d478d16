//! `central import patrons`, run as the real binary on a CSV file with good and bad rows.

use std::process::Command;

use central_store::Store;
use rong_protocol::delta::{Branch, Category, Op};
use rong_protocol::ids::BranchId;

/// The one text value `sql` selects from the database at `db`.
fn select(db: &std::path::Path, sql: &str) -> String {
    let store = Store::open(db).expect("the store");
    let value = store.reader().query_row(sql, [], |r| r.get(0)).expect(sql);
    value
}

fn run(dir: &std::path::Path, file: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_central"))
        .args(["import", "patrons", file.to_str().expect("utf-8 path")])
        .env("RONG_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run central");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().expect("exit code"), stdout)
}

#[test]
fn good_rows_go_in_bad_rows_are_listed_and_pins_are_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db");
    {
        let mut store = Store::open(&db).unwrap();
        store
            .put_ops(&[
                Op::PutBranch(Branch {
                    id: BranchId::new("kontum").unwrap(),
                    name: "Thư viện tỉnh Kon Tum".into(),
                    closed_weekdays: vec![],
                    require_pin: false,
                }),
                Op::PutCategory(Category {
                    id: "adult".into(),
                    name: "Người lớn".into(),
                    max_loans: 5,
                }),
            ])
            .unwrap();
    }
    let csv = dir.path().join("patrons.csv");
    std::fs::write(
        &csv,
        "card,name,category,branch,expires,nfc_uids,pin,pin_required\n\
         P1,Y Bhăm Ênuôl,adult,kontum,2027-12-31,04:A1:B2:C3,4711,yes\n\
         P2,A Thị Hoa,child,kontum,,,,\n\
         P3,Đinh Văn Lực,adult,kontum,,,,yes\n\
         P4,Rơ Mah Blong,adult,kontum,31/12/2027,,,\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &csv);
    assert_eq!(code, 0);
    assert!(out.starts_with("imported 2, updated 0, skipped 2"), "{out}");
    assert!(
        out.contains("line 3: card P2: category \"child\" is not known"),
        "{out}"
    );
    assert!(
        out.contains("line 4: card P3: card P3 must type a PIN"),
        "{out}"
    );
    let hash = select(&db, "SELECT hash FROM patron_pins WHERE card = 'P1'");
    assert!(hash.starts_with("$argon2id$") && !hash.contains("4711"));
    let uid = select(&db, "SELECT uid FROM patron_uids WHERE card = 'P1'");
    assert_eq!(uid, "04A1B2C3");

    // Again, with P1's PIN left empty: an update that keeps the PIN.
    std::fs::write(
        &csv,
        "name,card,category,branch,pin_required\nY Bhăm Ênuôl,P1,adult,kontum,yes\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &csv);
    assert_eq!(code, 0);
    assert!(out.starts_with("imported 0, updated 1, skipped 0"), "{out}");
    let again = select(&db, "SELECT hash FROM patron_pins WHERE card = 'P1'");
    assert_eq!(again, hash);

    // A file that is not a patron list at all: exit 1, nothing written.
    std::fs::write(&csv, "title,author\nX,Y\n").unwrap();
    let (code, _) = run(dir.path(), &csv);
    assert_eq!(code, 1);
}
