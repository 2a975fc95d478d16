//! `central backup` and `central restore` on real files: what a restore refuses, what it
//! keeps aside, and the new epoch it gives.

use super::*;
use central_store::admin::{user, Role};

fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.join("data"),
        ..Config::default()
    }
}

fn add_user(config: &Config, name: &str) {
    let mut store = Store::open(&config.db_path()).unwrap();
    store
        .create_user(name, "hash", Role::Admin, None, 1)
        .unwrap();
}

fn has_user(db: &Path, name: &str) -> bool {
    let store = Store::open(db).unwrap();
    user(store.reader(), name).unwrap().is_some()
}

fn epoch_of(db: &Path) -> Uuid {
    Store::open(db).unwrap().epoch().unwrap()
}

#[test]
fn a_restore_brings_the_backup_back_with_a_new_epoch_and_keeps_the_old_database() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config(tmp.path());
    std::fs::create_dir_all(&config.data_dir).unwrap();
    add_user(&config, "before");
    let backed_up_epoch = epoch_of(&config.db_path());
    let file = tmp.path().join("nightly.db");
    let report = backup_to(&config, &file).unwrap();
    assert_eq!(report.schema_version, central_store::SCHEMA_VERSION);
    add_user(&config, "after");

    let restored = restore(&config, &file).unwrap();
    let db = config.db_path();
    assert!(has_user(&db, "before"));
    assert!(!has_user(&db, "after"), "the database is the backup's");
    let epoch = epoch_of(&db);
    assert_eq!(restored.epoch, epoch);
    assert_ne!(epoch, backed_up_epoch, "a restore gives a new epoch");
    let aside = restored.kept_aside.expect("the old database kept aside");
    assert!(aside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("central.db.before-restore-"));
    assert!(has_user(&aside, "after"), "nothing lost");
    assert_eq!(epoch_of(&aside), backed_up_epoch);
    assert!(file.exists(), "the backup itself is left alone");
    let leftovers: Vec<_> = std::fs::read_dir(&config.data_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_restore_refuses_a_corrupt_file_a_newer_schema_and_a_running_central() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config(tmp.path());
    std::fs::create_dir_all(&config.data_dir).unwrap();
    add_user(&config, "live");
    let live = std::fs::read(config.db_path()).unwrap();
    let unchanged = |what: &str| {
        assert_eq!(
            std::fs::read(config.db_path()).unwrap(),
            live,
            "{what} changed the database"
        );
        assert!(has_user(&config.db_path(), "live"));
    };

    let garbage = tmp.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let err = restore(&config, &garbage).unwrap_err();
    assert!(format!("{err:#}").contains("corrupt"), "{err:#}");
    unchanged("a corrupt file");

    let newer = tmp.path().join("newer.db");
    drop(Store::open(&newer).unwrap());
    let c = rusqlite::Connection::open(&newer).unwrap();
    c.pragma_update(None, "user_version", central_store::SCHEMA_VERSION + 1)
        .unwrap();
    drop(c);
    let err = restore(&config, &newer).unwrap_err();
    assert!(
        format!("{err:#}").contains("newer") || format!("{err:#}").contains("schema version"),
        "{err:#}"
    );
    unchanged("a newer schema");

    let good = tmp.path().join("good.db");
    backup_to(&config, &good).unwrap();
    let running = lock_data_dir(&config.data_dir).unwrap();
    let err = restore(&config, &good).unwrap_err();
    assert!(format!("{err:#}").contains("central is running"), "{err:#}");
    unchanged("a restore beside a running central");
    drop(running);
    restore(&config, &good).unwrap();
}

#[test]
fn the_data_dir_lock_is_exclusive_and_released_on_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let first = lock_data_dir(tmp.path()).unwrap();
    assert!(lock_data_dir(tmp.path()).is_err());
    drop(first);
    assert!(lock_data_dir(tmp.path()).is_ok());
}
