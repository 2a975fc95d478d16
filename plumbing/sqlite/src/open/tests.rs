//! Opening: pragmas, refusals that leave the file alone, migrations applied once.

use super::*;

const TWO: &[Migration] = &[
    Migration::sql("CREATE TABLE a (x INTEGER);"),
    Migration::sql("CREATE TABLE b (y INTEGER);").then(count_step),
];

/// Records each run of the step, so a test can see it ran once.
fn count_step(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch("CREATE TABLE IF NOT EXISTS steps (n INTEGER); INSERT INTO steps VALUES (1);")
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_new_file_gets_the_house_pragmas_and_every_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let c = open(&path, &Options::default(), TWO).unwrap();
    assert_eq!(schema_version(&c).unwrap(), 2);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(count(&c, "PRAGMA synchronous"), 2, "synchronous=FULL");
    assert_eq!(count(&c, "PRAGMA foreign_keys"), 1);
    assert_eq!(count(&c, "PRAGMA busy_timeout"), 10_000);
    assert_eq!(count(&c, "SELECT count(*) FROM steps"), 1);
}

#[test]
fn options_set_the_smaller_boards_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        busy_timeout: Duration::from_secs(5),
        cache_kib: Some(8 * 1024),
        temp_store_file: true,
        statement_cache: 16,
    };
    let c = open(&dir.path().join("t.db"), &options, TWO).unwrap();
    assert_eq!(count(&c, "PRAGMA cache_size"), -8 * 1024);
    assert_eq!(count(&c, "PRAGMA temp_store"), 1, "FILE");
    assert_eq!(count(&c, "PRAGMA busy_timeout"), 5_000);
}

#[test]
fn migrations_apply_once_and_only_the_new_ones_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(open(&path, &Options::default(), &TWO[..1]).unwrap());
    let c = open(&path, &Options::default(), TWO).unwrap();
    assert_eq!(schema_version(&c).unwrap(), 2);
    drop(c);
    let c = open(&path, &Options::default(), TWO).unwrap();
    assert_eq!(
        count(&c, "SELECT count(*) FROM steps"),
        1,
        "the step ran once"
    );
}

#[test]
fn a_failed_migration_rolls_back_and_keeps_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(open(&path, &Options::default(), &TWO[..1]).unwrap());
    let broken = [
        TWO[0],
        Migration::sql("CREATE TABLE c (z INTEGER); THIS IS NOT SQL;"),
    ];
    let err = open(&path, &Options::default(), &broken).unwrap_err();
    assert!(
        matches!(err, OpenError::Migrate { version: 2, .. }),
        "{err}"
    );
    let c = open(&path, &Options::default(), &TWO[..1]).unwrap();
    assert_eq!(schema_version(&c).unwrap(), 1);
    assert_eq!(
        count(&c, "SELECT count(*) FROM sqlite_master WHERE name = 'c'"),
        0
    );
}

#[test]
fn a_newer_schema_is_refused_and_the_file_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(open(&path, &Options::default(), TWO).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 3).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open(&path, &Options::default(), TWO).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::NewerSchema {
                found: 3,
                known: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("schema version 3"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_corrupt_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = open(&path, &Options::default(), TWO).unwrap_err();
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "byte-identical");
    assert!(!dir.path().join("t.db-wal").exists());
}

#[test]
fn someone_elses_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE other (x INTEGER)").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = open(&path, &Options::default(), TWO).unwrap_err();
    assert!(matches!(err, OpenError::Foreign(_)), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn further_connections_write_and_read_but_never_create() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    assert!(open_write(&path, Duration::from_secs(1)).is_err());
    assert!(open_read(&path, Duration::from_secs(1)).is_err());
    assert!(!path.exists());
    let writer = open(&path, &Options::default(), TWO).unwrap();
    let worker = open_write(&path, Duration::from_secs(30)).unwrap();
    assert_eq!(count(&worker, "PRAGMA synchronous"), 2);
    worker.execute("INSERT INTO a VALUES (7)", []).unwrap();
    let reader = open_read(&path, Duration::from_secs(1)).unwrap();
    assert_eq!(count(&reader, "SELECT x FROM a"), 7);
    assert!(reader.execute("INSERT INTO a VALUES (8)", []).is_err());
    assert_eq!(count(&writer, "SELECT count(*) FROM a"), 1);
}
