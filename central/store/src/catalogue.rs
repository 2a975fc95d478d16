//! The catalogue from MARC: upsert records with their items, and read back their bytes.
//!
//! Many records share one transaction for speed; a record that must be skipped (or that
//! the database refuses) leaves nothing of itself behind. Everything derived from a record
//! (folded search text, index columns) is computed before the writer sees it
//! ([`Prepared`]), so the writer only writes.

use rong_protocol::delta::{Item, Op};
use rusqlite::{params, Connection, OptionalExtension};

use super::changes::{append, mark_snapshot, Applied};
use super::reference::{put, write_item};
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

/// An entry with its derived columns computed: pure work, done off the writer's thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The entry.
    pub entry: CatalogueEntry,
    /// Subjects as the stored JSON array.
    subjects_json: String,
    /// The folded text of the `search` column.
    search: String,
    /// The search index's columns (the first is the title key).
    index: [String; 5],
}

impl Prepared {
    /// Computes the entry's derived columns.
    pub fn new(entry: CatalogueEntry) -> Result<Prepared, StoreError> {
        let subjects_json = serde_json::to_string(&entry.subjects)?;
        let search = rong_protocol::fold::fold(&format!(
            "{} {} {} {} {}",
            entry.title,
            entry.author,
            entry.subjects.join(" "),
            entry.isbn.as_deref().unwrap_or(""),
            entry.call_number
        ));
        let index = rong_protocol::search::index_columns(
            &entry.title,
            &entry.author,
            &entry.subjects,
            entry.isbn.as_deref(),
            &entry.call_number,
        );
        Ok(Prepared {
            entry,
            subjects_json,
            search,
            index,
        })
    }
}

/// How a batch tells devices about what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// One change-log entry per item and per record: devices catch up with deltas.
    EachRow,
    /// One snapshot marker for the whole batch: devices behind it take the snapshot. For
    /// big imports, which would send them to the snapshot anyway.
    Snapshot,
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

/// A written record whose search-index row is still to write.
struct Written {
    rowid: i64,
    /// Whether it replaced a stored record (whose index row must go first).
    existed: bool,
}

/// Writes a record's search-index row (replacing its old one).
fn index_one(c: &Connection, p: &Prepared, w: &Written) -> Result<(), StoreError> {
    if w.existed {
        rong_sqlite::search::unindex_record(c, w.rowid)?;
    }
    c.prepare_cached(
        "INSERT INTO records_fts (rowid, title, author, subjects, isbn, call_number) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        w.rowid, p.index[0], p.index[1], p.index[2], p.index[3], p.index[4]
    ])?;
    Ok(())
}

/// Writes one entry's rows through `c`, all but its search-index row ([`index_one`]);
/// `Ok(Err(reason))` means it must be skipped, and is only ever returned before the
/// entry's first write.
/// Checks an entry against the limits its record and items travel to devices under: one
/// over them is skipped with the reason, never stored.
fn check_lengths(e: &CatalogueEntry) -> Result<(), rong_protocol::codec::Invalid> {
    let record = rong_protocol::delta::Record {
        id: e.id.clone(),
        title: e.title.clone(),
        author: e.author.clone(),
        subjects: e.subjects.clone(),
        isbn: e.isbn.clone(),
        year: None,
        publisher: e.publisher.clone(),
        call_number: e.call_number.clone(),
        branches: Vec::new(),
    };
    record.check_lengths()?;
    e.items.iter().try_for_each(Item::check_lengths)
}

fn upsert_one(
    c: &Connection,
    p: &Prepared,
    announce: Announce,
    applied: &mut Applied,
) -> Result<Result<Written, String>, StoreError> {
    let e = &p.entry;
    if let Err(too_long) = check_lengths(e) {
        return Ok(Err(too_long.0));
    }
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
    let old: Option<i64> = c
        .prepare_cached("SELECT rowid FROM records WHERE id = ?1")?
        .query_row(params![e.id], |r| r.get(0))
        .optional()?;
    // The rowid stays the same when the record is updated in place.
    let rowid: i64 = c
        .prepare_cached(
            "INSERT INTO records (id, title, author, subjects, publisher, year, isbn, call_number, search, marc, title_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT(id) DO UPDATE SET title = excluded.title, author = excluded.author, \
             subjects = excluded.subjects, publisher = excluded.publisher, year = excluded.year, \
             isbn = excluded.isbn, call_number = excluded.call_number, search = excluded.search, \
             marc = excluded.marc, title_key = excluded.title_key \
             RETURNING rowid",
        )?
        .query_row(
            params![
                e.id,
                e.title,
                e.author,
                p.subjects_json,
                e.publisher,
                e.year,
                e.isbn,
                e.call_number,
                p.search,
                e.marc,
                p.index[0]
            ],
            |r| r.get(0),
        )?;
    match announce {
        Announce::EachRow => {
            for item in &e.items {
                put(c, Op::PutItem(item.clone()), applied)?;
            }
            // After the items, so the record names every branch that now holds a copy.
            if let Some(rec) = super::search::record_op(c, &e.id)? {
                append(c, Op::PutRecord(rec), applied)?;
            }
        }
        Announce::Snapshot => {
            for item in &e.items {
                write_item(c, item)?;
            }
        }
    }
    Ok(Ok(Written {
        rowid,
        existed: old.is_some(),
    }))
}

/// The outcome of a written entry.
fn written(existed: bool) -> Upsert {
    if existed {
        Upsert::Updated
    } else {
        Upsert::Inserted
    }
}

/// The search index's in-memory budget for one transaction's pending writes.
const FTS_HASH_BYTES: i64 = 16 * 1024 * 1024;

/// The note a snapshot marker's row carries.
const IMPORT_NOTE: &str = "{\"snapshot_marker\":\"catalogue import\"}";

impl Store {
    /// Readies this connection for a bulk load (the import is a process of its own): a
    /// page cache of `cache_kib` KiB, as the catalogue's indexes take random inserts, and
    /// room for a whole batch in the search index's memory, so that it writes one index
    /// segment per transaction, not one per megabyte (an FTS5 setting kept in the file;
    /// it only bounds what a transaction holds in memory).
    pub fn prepare_bulk_load(&mut self, cache_kib: u32) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(cache_kib))?;
        self.conn.execute(
            "INSERT INTO records_fts (records_fts, rank) VALUES ('hashsize', ?1)",
            params![FTS_HASH_BYTES],
        )?;
        Ok(())
    }

    /// Stores a batch of entries in one transaction, each announced with its own
    /// change-log entries ([`Announce::EachRow`]). See [`Store::import_prepared`].
    pub fn import_batch(&mut self, entries: &[CatalogueEntry]) -> Result<Vec<Upsert>, StoreError> {
        let prepared = entries
            .iter()
            .cloned()
            .map(Prepared::new)
            .collect::<Result<Vec<_>, _>>()?;
        self.import_prepared(&prepared, Announce::EachRow)
    }

    /// Stores a batch of prepared entries in one transaction.
    ///
    /// Returns one [`Upsert`] per entry, in order. A skipped entry (a barcode of another
    /// record, or a write the database refuses) leaves nothing behind and the others go on.
    /// With [`Announce::Snapshot`] the transaction appends one snapshot marker instead of
    /// an entry per row.
    ///
    /// The checks that skip a record run before any of its writes, so the batch first goes
    /// in without savepoints (a savepoint per record makes SQLite journal pages and FTS5
    /// flush its index at every record, several times slower). Only if the database refuses
    /// a write is that transaction rolled back and the batch stored again record by record,
    /// each in its own savepoint, so the refused record alone is left out.
    pub fn import_prepared(
        &mut self,
        entries: &[Prepared],
        announce: Announce,
    ) -> Result<Vec<Upsert>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(entries.len());
        // The ops are in the change log; the import does not publish them live.
        let mut sink = Applied::default();
        let mut refused = None;
        let mut to_index = Vec::with_capacity(entries.len());
        for p in entries {
            match upsert_one(&tx, p, announce, &mut sink) {
                Ok(Ok(w)) => {
                    out.push(written(w.existed));
                    to_index.push((p, w));
                }
                Ok(Err(reason)) => out.push(Upsert::Skipped(reason)),
                Err(err) => {
                    refused = Some((p.entry.id.as_str(), err));
                    break;
                }
            }
            sink.ops.clear();
        }
        // The search index last: FTS5 writes its pending index to disk whenever a later
        // statement of the transaction opens a statement journal (an upsert, a replace), so
        // interleaving would write a tiny index segment per record.
        if refused.is_none() {
            for (p, w) in &to_index {
                if let Err(err) = index_one(&tx, p, w) {
                    refused = Some((p.entry.id.as_str(), err));
                    break;
                }
            }
        }
        if let Some((record, err)) = &refused {
            tracing::warn!(%record, error = %err, "a write was refused; storing this batch record by record");
        } else {
            if announce == Announce::Snapshot
                && out.iter().any(|u| !matches!(u, Upsert::Skipped(_)))
            {
                mark_snapshot(&tx, IMPORT_NOTE)?;
            }
            tx.commit()?;
            return Ok(out);
        }
        drop(tx);
        self.import_one_by_one(entries, announce)
    }

    /// [`Store::import_prepared`]'s slow path: each record in its own savepoint.
    fn import_one_by_one(
        &mut self,
        entries: &[Prepared],
        announce: Announce,
    ) -> Result<Vec<Upsert>, StoreError> {
        let mut tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(entries.len());
        let mut sink = Applied::default();
        for p in entries {
            let sp = tx.savepoint()?;
            let result = upsert_one(&sp, p, announce, &mut sink)
                .and_then(|r| match r {
                    Ok(w) => index_one(&sp, p, &w).map(|()| Ok(w)),
                    Err(reason) => Ok(Err(reason)),
                })
                .unwrap_or_else(|err| Err(format!("the database refused the record: {err}")));
            sink.ops.clear();
            match result {
                Ok(w) => {
                    sp.commit()?;
                    out.push(written(w.existed));
                }
                Err(reason) => {
                    // Dropping the savepoint rolls it back.
                    drop(sp);
                    out.push(Upsert::Skipped(reason));
                }
            }
        }
        if announce == Announce::Snapshot && out.iter().any(|u| !matches!(u, Upsert::Skipped(_))) {
            mark_snapshot(&tx, IMPORT_NOTE)?;
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
        one(s, sql)
    }

    /// The one value a query answers.
    fn one<T: rusqlite::types::FromSql>(s: &Store, sql: &str) -> T {
        s.reader().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Imports a batch: each entry's outcome, and how many changes it logged.
    fn import(s: &mut Store, batch: &[CatalogueEntry]) -> (Vec<Upsert>, i64) {
        let before = count(s, "SELECT count(*) FROM changes");
        let out = s.import_batch(batch).unwrap();
        (out, count(s, "SELECT count(*) FROM changes") - before)
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
        let (out, logged) = import(
            &mut s,
            &[
                entry("R1", "Mắt biếc", &["KT1", "KT2"]),
                entry("R2", "Cho tôi xin một vé đi tuổi thơ", &["KT3"]),
            ],
        );
        assert_eq!(out, vec![Upsert::Inserted, Upsert::Inserted]);
        assert_eq!(count(&s, "SELECT count(*) FROM records"), 2);
        assert_eq!(count(&s, "SELECT count(*) FROM items"), 3);
        assert_eq!(logged, 5, "one PutItem each, then one PutRecord per record");
        let q = rong_protocol::search::Query::parse("mat bie").unwrap();
        let hits = super::super::search::search(s.reader(), &q, 5).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].record, "R1");
        assert_eq!(hits[0].branches[0].total, 2);
        let search: String = one(&s, "SELECT search FROM records WHERE id = 'R1'");
        assert!(search.contains("mat biec") && search.contains("nguyen nhat anh"));
        assert!(search.contains("9786041234567") && search.contains("895 922 ng"));

        let out = s
            .import_batch(&[entry("R1", "Mắt biếc (tái bản)", &["KT1", "KT2"])])
            .unwrap();
        assert_eq!(out, vec![Upsert::Updated]);
        assert_eq!(count(&s, "SELECT count(*) FROM records"), 2);
        assert_eq!(count(&s, "SELECT count(*) FROM items"), 3);
        let title: String = one(&s, "SELECT title FROM items WHERE barcode = 'KT2'");
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
    fn over_long_texts_are_skipped_with_the_field_and_never_logged() {
        use rong_protocol::limits::{MAX_NAME_CHARS, MAX_TITLE_CHARS};
        let (_d, mut s) = store();
        let long_title = "ệ".repeat(MAX_TITLE_CHARS + 1);
        let mut long_shelf = entry("R2", "Hai", &["KT2"]);
        long_shelf.items[0].shelf = "x".repeat(MAX_NAME_CHARS + 1);
        let batch = [
            entry("R1", &long_title, &["KT1"]),
            long_shelf,
            entry("R3", &"ệ".repeat(MAX_TITLE_CHARS), &["KT3"]),
        ];
        let (out, logged) = import(&mut s, &batch);
        assert!(matches!(&out[0], Upsert::Skipped(r) if r.contains("title has 1001 characters")));
        assert!(matches!(&out[1], Upsert::Skipped(r) if r.contains("shelf has 201 characters")));
        assert_eq!(out[2], Upsert::Inserted, "a title at the limit is kept");
        assert_eq!(count(&s, "SELECT count(*) FROM records"), 1);
        assert_eq!(logged, 2, "only R3's item and record reach the change log");
        // Any other way in to the change log is held to the same limits, and writes nothing.
        let before = count(&s, "SELECT count(*) FROM changes");
        let e = s
            .put_ops(&[Op::PutBranch(Branch {
                id: BranchId::new("kt02").unwrap(),
                name: "x".repeat(MAX_NAME_CHARS + 1),
                closed_weekdays: vec![],
                require_pin: false,
            })])
            .unwrap_err();
        assert!(matches!(&e, StoreError::TooLong(m) if m.contains("branch name has 201")));
        assert_eq!(count(&s, "SELECT count(*) FROM changes"), before);
    }

    #[test]
    fn a_bulk_batch_logs_one_snapshot_marker_instead_of_each_row() {
        let (_d, mut s) = store();
        s.import_batch(&[entry("R1", "Một", &["KT1"])]).unwrap();
        let before = super::super::current_version(s.reader()).unwrap();
        assert_eq!(super::super::snapshot_floor(s.reader()).unwrap(), 0);
        let batch: Vec<Prepared> = [
            entry("R1", "Một (tái bản)", &["KT1"]),
            entry("R2", "Hai", &["KT2", "KT3"]),
            entry("R3", "Ba", &["KT1"]),
        ]
        .into_iter()
        .map(|e| Prepared::new(e).unwrap())
        .collect();
        let out = s.import_prepared(&batch, Announce::Snapshot).unwrap();
        assert_eq!(out[..2], [Upsert::Updated, Upsert::Inserted]);
        assert!(matches!(&out[2], Upsert::Skipped(_)));
        let after = super::super::current_version(s.reader()).unwrap();
        assert_eq!(after, before + 1, "one marker for the whole batch");
        assert_eq!(super::super::snapshot_floor(s.reader()).unwrap(), after);
        assert_eq!(count(&s, "SELECT count(*) FROM items"), 3);
        // The rows are there, searchable, and the update replaced the old index entry.
        let q = rong_protocol::search::Query::parse("mot tai ban").unwrap();
        let hits = super::super::search::search(s.reader(), &q, 5).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].record, "R1");
        let q = rong_protocol::search::Query::parse("hai").unwrap();
        assert_eq!(
            super::super::search::search(s.reader(), &q, 5)
                .unwrap()
                .len(),
            1
        );
        // Deltas cannot cross a marker; from the marker on they can.
        assert!(super::super::ops_between(s.reader(), before, after).is_err());
        assert!(super::super::ops_between(s.reader(), after, after)
            .unwrap()
            .is_empty());
        // A batch with nothing written leaves no marker.
        let none = [Prepared::new(entry("R4", "Bốn", &["KT2"])).unwrap()];
        let out = s.import_prepared(&none, Announce::Snapshot).unwrap();
        assert!(matches!(&out[0], Upsert::Skipped(_)));
        assert_eq!(super::super::current_version(s.reader()).unwrap(), after);
    }

    #[test]
    fn barcode_of_another_record_skips_the_whole_record() {
        let (_d, mut s) = store();
        s.import_batch(&[entry("R1", "Một", &["KT1"])]).unwrap();
        let (out, logged) = import(
            &mut s,
            &[
                entry("R2", "Hai", &["KT2", "KT1"]),
                entry("R3", "Ba", &["KT3"]),
            ],
        );
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
        assert_eq!(logged, 2, "only R3's item and record");
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
        let (out, logged) = import(
            &mut s,
            &[
                entry("R1", "Một", &["KT1"]),
                entry("R2", "Hai", &["KT2", "KT9"]),
            ],
        );
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
        assert_eq!(logged, 2, "only R1's item and record");
    }
}
