//! The catalogue from MARC: upsert records with their items, and read back their bytes.
//!
//! Each record is written inside its own savepoint, so a record that must be skipped (or
//! fails) leaves nothing of itself behind; many records share one transaction for speed.

use rong_protocol::delta::{Item, Op};
use rusqlite::{params, Connection, OptionalExtension};

use super::changes::{append, Applied};
use super::reference::put_item;
use super::{Store, StoreError};

/// One bibliographic record ready to store, with the items from its holdings fields.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueEntry {
    /// The 001 control number, the record's key.
    pub id: String,
    /// Title, NFC.
    pub title: String,
    /// Main author, NFC.
    pub author: String,
    /// Subjects, NFC.
    pub subjects: Vec<String>,
    /// Publisher, NFC.
    pub publisher: String,
    /// Year of publication, when one could be read.
    pub year: Option<i64>,
    /// First ISBN.
    pub isbn: Option<String>,
    /// Call number (of the first item that has one).
    pub call_number: String,
    /// The exact ISO 2709 bytes of the record.
    pub marc: Vec<u8>,
    /// The items; each is written (and announced with `Op::PutItem`).
    pub items: Vec<Item>,
}

/// What storing one entry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    /// A new record.
    Inserted,
    /// A record with this 001 existed and was replaced.
    Updated,
    /// Nothing was written; the text says why.
    Skipped(String),
}

/// Writes one entry through `c` (a savepoint); `Ok(Err(reason))` means it must be skipped.
fn upsert_one(
    c: &Connection,
    e: &CatalogueEntry,
    applied: &mut Applied,
) -> Result<Result<bool, String>, StoreError> {
    {
        let mut owner = c.prepare_cached("SELECT record FROM items WHERE barcode = ?1")?;
        for item in &e.items {
            let held: Option<String> = owner
                .query_row(params![item.barcode], |r| r.get(0))
                .optional()?;
            if let Some(other) = held.filter(|o| *o != e.id) {
                return Ok(Err(format!(
                    "item barcode {} already belongs to record {other}",
                    item.barcode
                )));
            }
        }
    }
    let existed: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM records WHERE id = ?1)")?
        .query_row(params![e.id], |r| r.get(0))?;
    let search = rong_protocol::fold::fold(&format!(
        "{} {} {} {} {}",
        e.title,
        e.author,
        e.subjects.join(" "),
        e.isbn.as_deref().unwrap_or(""),
        e.call_number
    ));
    c.prepare_cached(
        "INSERT INTO records (id, title, author, subjects, publisher, year, isbn, call_number, search, marc) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT(id) DO UPDATE SET title = excluded.title, author = excluded.author, \
         subjects = excluded.subjects, publisher = excluded.publisher, year = excluded.year, \
         isbn = excluded.isbn, call_number = excluded.call_number, search = excluded.search, \
         marc = excluded.marc",
    )?
    .execute(params![
        e.id,
        e.title,
        e.author,
        serde_json::to_string(&e.subjects)?,
        e.publisher,
        e.year,
        e.isbn,
        e.call_number,
        search,
        e.marc
    ])?;
    let rowid: i64 = c
        .prepare_cached("SELECT rowid FROM records WHERE id = ?1")?
        .query_row(params![e.id], |r| r.get(0))?;
    super::search::index_record(
        c,
        rowid,
        &e.title,
        &e.author,
        &e.subjects,
        e.isbn.as_deref(),
        &e.call_number,
    )?;
    for item in &e.items {
        put_item(c, item, applied)?;
    }
    // After the items, so the record names every branch that now holds a copy.
    if let Some(rec) = super::search::record_op(c, &e.id)? {
        append(c, Op::PutRecord(rec), applied)?;
    }
    Ok(Ok(existed))
}

impl Store {
    /// Stores a batch of entries in one transaction, each in its own savepoint.
    ///
    /// Returns one [`Upsert`] per entry, in order. A skipped entry (a barcode of another
    /// record, or a write the database refuses) leaves nothing behind and the others go on.
    pub fn import_batch(&mut self, entries: &[CatalogueEntry]) -> Result<Vec<Upsert>, StoreError> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(entries.len());
        // The ops are in the change log; the import does not publish them live.
        let mut sink = Applied::default();
        for e in entries {
            let sp = tx.savepoint()?;
            let result = upsert_one(&sp, e, &mut sink)
                .unwrap_or_else(|err| Err(format!("the database refused the record: {err}")));
            sink.ops.clear();
            match result {
                Ok(existed) => {
                    sp.commit()?;
                    out.push(if existed {
                        Upsert::Updated
                    } else {
                        Upsert::Inserted
                    });
                }
                Err(reason) => {
                    // Dropping the savepoint rolls it back.
                    drop(sp);
                    out.push(Upsert::Skipped(reason));
                }
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Calls `f` with the id and exact ISO 2709 bytes of every record imported from MARC,
    /// in the order they were first stored, streaming.
    pub fn for_each_marc<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&str, &[u8]) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, marc FROM records WHERE marc IS NOT NULL ORDER BY rowid")
            .map_err(StoreError::from)?;
        let mut rows = stmt.query([]).map_err(StoreError::from)?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let id: String = row.get(0).map_err(StoreError::from)?;
            let marc: Vec<u8> = row.get(1).map_err(StoreError::from)?;
            f(&id, &marc)?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rong_protocol::delta::{Branch, ItemStatus};
    use rong_protocol::ids::BranchId;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db")).unwrap();
        s.put_ops(&[Op::PutBranch(Branch {
            id: BranchId::new("kt01").unwrap(),
            name: "Kon Tum".into(),
            closed_weekdays: vec![],
            require_pin: false,
        })])
        .unwrap();
        (dir, s)
    }

    fn entry(id: &str, title: &str, barcodes: &[&str]) -> CatalogueEntry {
        CatalogueEntry {
            id: id.into(),
            title: title.into(),
            author: "Nguyễn Nhật Ánh".into(),
            subjects: vec!["Văn học".into()],
            publisher: "Kim Đồng".into(),
            year: Some(2010),
            isbn: Some("9786041234567".into()),
            call_number: "895.922 NG".into(),
            marc: format!("bytes of {id} {title}").into_bytes(),
            items: barcodes
                .iter()
                .map(|b| Item {
                    barcode: (*b).into(),
                    record: id.into(),
                    title: title.into(),
                    author: "Nguyễn Nhật Ánh".into(),
                    call_number: "895.922 NG".into(),
                    item_type: "book".into(),
                    shelf: "Kho mở, kệ 800".into(),
                    home_branch: BranchId::new("kt01").unwrap(),
                    status: ItemStatus::Available,
                })
                .collect(),
        }
    }

    fn count(s: &Store, sql: &str) -> i64 {
        s.reader().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_schema_1_database_migrates_forward() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(include_str!("migrations/0001_init.sql"))
                .unwrap();
            c.execute_batch(
                "INSERT INTO records (id, title) VALUES ('OLD1', 'Cũ'); PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), super::super::SCHEMA_VERSION);
        assert_eq!(
            count(&s, "SELECT count(*) FROM records WHERE marc IS NULL"),
            1
        );
        let n = s.for_each_marc::<StoreError>(|_, _| Ok(())).unwrap();
        assert_eq!(n, 0, "records without MARC bytes are not exported");
    }

    #[test]
    fn insert_then_update_by_001_without_duplicates() {
        let (_d, mut s) = store();
        let v0 = count(&s, "SELECT count(*) FROM changes");
        let out = s
            .import_batch(&[
                entry("R1", "Mắt biếc", &["KT1", "KT2"]),
                entry("R2", "Cho tôi xin một vé đi tuổi thơ", &["KT3"]),
            ])
            .unwrap();
        assert_eq!(out, vec![Upsert::Inserted, Upsert::Inserted]);
        assert_eq!(count(&s, "SELECT count(*) FROM records"), 2);
        assert_eq!(count(&s, "SELECT count(*) FROM items"), 3);
        assert_eq!(
            count(&s, "SELECT count(*) FROM changes") - v0,
            5,
            "one PutItem each, then one PutRecord per record"
        );
        let q = rong_protocol::search::Query::parse("mat bie").unwrap();
        let hits = super::super::search::search(s.reader(), &q, 5).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].record, "R1");
        assert_eq!(hits[0].branches[0].total, 2);
        let search: String = s
            .reader()
            .query_row("SELECT search FROM records WHERE id = 'R1'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(search.contains("mat biec") && search.contains("nguyen nhat anh"));
        assert!(search.contains("9786041234567") && search.contains("895 922 ng"));

        let out = s
            .import_batch(&[entry("R1", "Mắt biếc (tái bản)", &["KT1", "KT2"])])
            .unwrap();
        assert_eq!(out, vec![Upsert::Updated]);
        assert_eq!(count(&s, "SELECT count(*) FROM records"), 2);
        assert_eq!(count(&s, "SELECT count(*) FROM items"), 3);
        let title: String = s
            .reader()
            .query_row("SELECT title FROM items WHERE barcode = 'KT2'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(title, "Mắt biếc (tái bản)");
        let mut seen = Vec::new();
        let n = s
            .for_each_marc::<StoreError>(|id, bytes| {
                seen.push((id.to_owned(), bytes.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen[0].0, "R1");
        assert_eq!(
            seen[0].1,
            b"bytes of R1 M\xe1\xba\xaft bi\xe1\xba\xbfc (t\xc3\xa1i b\xe1\xba\xa3n)".to_vec()
        );
    }

    #[test]
    fn barcode_of_another_record_skips_the_whole_record() {
        let (_d, mut s) = store();
        s.import_batch(&[entry("R1", "Một", &["KT1"])]).unwrap();
        let v = count(&s, "SELECT count(*) FROM changes");
        let out = s
            .import_batch(&[
                entry("R2", "Hai", &["KT2", "KT1"]),
                entry("R3", "Ba", &["KT3"]),
            ])
            .unwrap();
        assert_eq!(
            out,
            vec![
                Upsert::Skipped("item barcode KT1 already belongs to record R1".into()),
                Upsert::Inserted
            ]
        );
        assert_eq!(count(&s, "SELECT count(*) FROM records WHERE id = 'R2'"), 0);
        assert_eq!(
            count(&s, "SELECT count(*) FROM items WHERE barcode = 'KT2'"),
            0
        );
        assert_eq!(
            count(&s, "SELECT count(*) FROM items WHERE record = 'R1'"),
            1
        );
        assert_eq!(
            count(&s, "SELECT count(*) FROM changes") - v,
            2,
            "only R3's item and record"
        );
    }

    #[test]
    fn a_failing_record_leaves_nothing_behind() {
        let (_d, mut s) = store();
        // Items are written after the record row: make the second item's write fail after
        // the record row and the first item went in.
        s.reader()
            .execute_batch(
                "CREATE TRIGGER no_kt9 BEFORE INSERT ON items WHEN NEW.barcode = 'KT9' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let v = count(&s, "SELECT count(*) FROM changes");
        let out = s
            .import_batch(&[
                entry("R1", "Một", &["KT1"]),
                entry("R2", "Hai", &["KT2", "KT9"]),
            ])
            .unwrap();
        assert_eq!(out[0], Upsert::Inserted);
        assert!(
            matches!(&out[1], Upsert::Skipped(r) if r.contains("refused")),
            "{out:?}"
        );
        assert_eq!(count(&s, "SELECT count(*) FROM records"), 1);
        assert_eq!(
            count(&s, "SELECT count(*) FROM items WHERE record = 'R2'"),
            0
        );
        assert_eq!(
            count(&s, "SELECT count(*) FROM changes") - v,
            2,
            "only R1's item and record"
        );
    }
}
