//! `central init`, run as the real binary on an empty data directory: the first
//! administrator, the network, the first branch with its hours, the catalogue and the
//! readers, and a code for the first kiosk; bad input writes nothing, and a central set up
//! once is not set up again.

use std::path::Path;
use std::process::Command;

use central_catalogue::marc::{iso2709, Field, Record};
use central_store::Store;

fn init(dir: &Path, args: &[&str], password: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_central"))
        .arg("init")
        .args(args)
        .env("RONG_DATA_DIR", dir)
        .env("RONG_ADMIN_PASSWORD", password)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run central");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    (out.status.code().expect("exit code"), text)
}

fn count(db: &Path, sql: &str) -> i64 {
    let store = Store::open(db).expect("the store");
    let n = store.reader().query_row(sql, [], |r| r.get(0)).expect(sql);
    n
}

/// A record with one copy whose holdings name a branch code the network does not have.
fn record(n: u32) -> Vec<u8> {
    let mut r = Record::new();
    r.fields.extend([
        Field::Control {
            tag: *b"001",
            value: format!("KT{n}").into_bytes(),
        },
        Field::text(b"245", &[(b'a', &format!("Địa chí Kon Tum, tập {n}"))]),
        Field::text(
            b"952",
            &[
                (b'a', "KT01"),
                (b'b', "KT01"),
                (b'p', &format!("KT{n:08}")),
                (b'y', "BOOK"),
            ],
        ),
    ]);
    iso2709::to_bytes(&r).expect("writable record")
}

const FIRST: [&str; 12] = [
    "--admin",
    "quantri",
    "--network",
    "Thư viện tỉnh Kon Tum",
    "--branch",
    "kontum",
    "--branch-name",
    "Thư viện tỉnh Kon Tum",
    "--hours",
    "1-5=07:30-11:30,13:30-17:00",
    "--hours",
    "6=08:00-11:30",
];

#[test]
fn a_fresh_central_is_set_up_from_the_command_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("central.db");
    let marc = dir.path().join("catalogue.mrc");
    std::fs::write(&marc, [record(1), record(2)].concat()).unwrap();
    let readers = dir.path().join("readers.csv");
    std::fs::write(
        &readers,
        "card,name,category,branch,pin\nP1,Y Bhăm Ênuôl,adult,kontum,2468\nP2,A Thị Hoa,child,kontum,\n",
    )
    .unwrap();

    // Bad input: nothing written, each mistake named.
    let mut bad = FIRST.to_vec();
    bad[5] = "Kon Tum";
    bad[9] = "1-5=17:00-07:30";
    let (code, text) = init(dir.path(), &bad, "mật khẩu dài");
    assert_ne!(code, 0);
    assert!(text.contains("code: The code has"), "{text}");
    assert!(text.contains("hours_1: Monday"), "{text}");
    let (code, text) = init(dir.path(), &FIRST, "short");
    assert_ne!(code, 0);
    assert!(text.contains("at least 8 characters"), "{text}");
    assert_eq!(count(&db, "SELECT count(*) FROM admin_users"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM branches"), 0);

    let mut args = FIRST.to_vec();
    args.extend(["--marc", marc.to_str().unwrap()]);
    args.extend(["--readers", readers.to_str().unwrap(), "--kiosk"]);
    let (code, text) = init(dir.path(), &args, "mật khẩu dài");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Sat: 08:00-11:30"), "{text}");
    assert!(text.contains("Sun: closed"), "{text}");
    assert!(text.contains("RONG-"), "the first kiosk's code: {text}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM admin_users WHERE name = 'quantri' AND role = 'admin'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM branches WHERE id = 'kontum' AND closed_weekdays = '[7]'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM items WHERE home_branch = 'kontum'"
        ),
        2,
        "copies of unknown branches go to the first branch"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM patrons"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM patron_pins"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM categories"), 4);
    assert_eq!(count(&db, "SELECT count(*) FROM enrolment_codes"), 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action = 'network.init'"
        ),
        1
    );

    // Once is enough.
    let (code, text) = init(dir.path(), &FIRST, "mật khẩu khác");
    assert_ne!(code, 0);
    assert!(text.contains("set up already"), "{text}");
    assert_eq!(count(&db, "SELECT count(*) FROM admin_users"), 1);
}
