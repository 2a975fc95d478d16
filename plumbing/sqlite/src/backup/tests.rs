//! Backups taken while a writer goes on, and the checks a copy must pass.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::*;
use crate::{open, open_write, Migration, Options};

/// Two accounts whose balances always sum to zero, and a ledger of every transfer: a copy
/// taken half-way through a transaction would break one of the two.
const BANK: &[Migration] = &[Migration::sql(
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
     INSERT INTO accounts VALUES (1, 0), (2, 0);
     CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL, pad TEXT NOT NULL);",
)];

fn transfer(c: &mut Connection, amount: i64) {
    let tx = c.transaction().unwrap();
    tx.execute(
        "UPDATE accounts SET balance = balance - ?1 WHERE id = 1",
        [amount],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO ledger (amount, pad) VALUES (?1, ?2)",
        rusqlite::params![amount, "x".repeat(500)],
    )
    .unwrap();
    tx.execute(
        "UPDATE accounts SET balance = balance + ?1 WHERE id = 2",
        [amount],
    )
    .unwrap();
    tx.commit().unwrap();
}

fn one(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_backup_taken_while_the_writer_goes_on_is_consistent_and_sound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.db");
    let mut c = open(&path, &Options::default(), BANK).unwrap();
    for k in 1..=2000 {
        transfer(&mut c, k);
    }
    drop(c);

    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (path, stop, commits) = (path.clone(), stop.clone(), commits.clone());
        std::thread::spawn(move || {
            let mut w = open_write(&path, Duration::from_secs(10)).unwrap();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                transfer(&mut w, k);
                commits.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Wait until the writer is under way, so the copy really races it.
    while commits.load(Ordering::Relaxed) < 10 {
        std::thread::yield_now();
    }
    let before = commits.load(Ordering::Relaxed);
    let dest = dir.path().join("copy.db");
    // One page a step: the copy takes many steps, with commits landing between them.
    let report = backup(&path, &dest, 1).unwrap();
    let during = commits.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    assert!(report.pages > 100, "{report:?}");
    assert!(during > 0, "the writer was blocked for the whole backup");
    assert_eq!(report.schema_version, 1);
    assert_eq!(verify(&dest, 1).unwrap(), 1, "integrity and schema");
    let copy = Connection::open(&dest).unwrap();
    assert_eq!(one(&copy, "SELECT sum(balance) FROM accounts"), 0);
    assert_eq!(
        one(&copy, "SELECT balance FROM accounts WHERE id = 2"),
        one(&copy, "SELECT sum(amount) FROM ledger"),
        "the copy is one moment: every transfer whole"
    );
    let mode: String = copy
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "one self-contained file");
    assert!(!dir.path().join(".copy.db.partial").exists());
}

#[test]
fn a_failed_backup_leaves_the_destination_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let dest = dir.path().join("copy.db");
    std::fs::write(&dest, b"yesterday's backup").unwrap();
    assert!(backup(&garbage, &dest, 64).is_err());
    assert_eq!(std::fs::read(&dest).unwrap(), b"yesterday's backup");
    assert!(!dir.path().join(".copy.db.partial").exists());
}

#[test]
fn verify_refuses_what_cannot_be_restored() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    drop(open(&good, &Options::default(), BANK).unwrap());
    assert_eq!(verify(&good, 1).unwrap(), 1);
    assert_eq!(verify(&good, 3).unwrap(), 1, "an older schema is fine");

    let newer = verify(&good, 0).unwrap_err();
    assert!(
        matches!(newer, OpenError::NewerSchema { found: 1, .. }),
        "{newer}"
    );

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    assert!(matches!(
        verify(&garbage, 1),
        Err(OpenError::Corrupt { .. })
    ));

    // A real database whose pages were damaged after the header.
    let damaged = dir.path().join("damaged.db");
    let mut c = open(&damaged, &Options::default(), BANK).unwrap();
    for k in 1..=300 {
        transfer(&mut c, k);
    }
    c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(c);
    let mut bytes = std::fs::read(&damaged).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 2..len / 2 + 4096] {
        *b = 0xff;
    }
    std::fs::write(&damaged, bytes).unwrap();
    assert!(matches!(
        verify(&damaged, 1),
        Err(OpenError::Corrupt { .. })
    ));

    assert!(verify(&dir.path().join("absent.db"), 1).is_err());
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(verify(&empty, 1), Err(OpenError::Corrupt { .. })));
}
