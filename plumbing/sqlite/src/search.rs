//! The catalogue search index that central and the devices both keep, and the ranked
//! look-up over it. [`rong_protocol::search`] plans a query (its [`Step`]s in rank order)
//! and folds the indexed texts; this module runs the plan and writes the index.
//!
//! A store holds `records(rowid, title_key)` with `title_key` under a B-tree index, and the
//! FTS5 table [`FTS_TABLE_SQL`], keyed by the record's rowid.

use std::collections::HashSet;

use rong_protocol::search::{index_columns, prefix_end, Query, Step};
use rusqlite::{params, Connection};

/// The search index: a contentless FTS5 table (it keeps only the index, not a second copy
/// of the text) with the columns of [`rong_protocol::search::FTS_COLUMNS`].
pub const FTS_TABLE_SQL: &str = "CREATE VIRTUAL TABLE records_fts USING fts5(
    title, author, subjects, isbn, call_number,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3'
)";

/// Creates the (empty) search index; a migration step.
pub fn create_table(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch(FTS_TABLE_SQL)
}

/// Runs a query's steps: the rowids of the best `limit` records, best first.
pub fn ranked_rowids(c: &Connection, q: &Query, limit: usize) -> rusqlite::Result<Vec<i64>> {
    let mut out: Vec<i64> = Vec::with_capacity(limit);
    let mut seen = HashSet::new();
    let want = limit as i64;
    for step in q.steps() {
        let found: Vec<i64> = match &step {
            Step::ExactTitle(key) => c
                .prepare_cached(
                    "SELECT rowid FROM records WHERE title_key = ?1 ORDER BY rowid LIMIT ?2",
                )?
                .query_map(params![key, want], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
            Step::TitlePrefix(key) => c
                .prepare_cached(
                    "SELECT rowid FROM records WHERE title_key > ?1 AND title_key < ?2 \
                     ORDER BY title_key LIMIT ?3",
                )?
                .query_map(params![key, prefix_end(key), want], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
            Step::Match(expr) => c
                .prepare_cached(
                    "SELECT rowid FROM records_fts WHERE records_fts MATCH ?1 LIMIT ?2",
                )?
                .query_map(params![expr, want], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
        };
        for id in found {
            if seen.insert(id) {
                out.push(id);
                if out.len() == limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Writes the search entry of the record at `rowid` (its title key and FTS row),
/// replacing any it had.
pub fn index_record(
    c: &Connection,
    rowid: i64,
    title: &str,
    author: &str,
    subjects: &[String],
    isbn: Option<&str>,
    call_number: &str,
) -> rusqlite::Result<()> {
    let cols = index_columns(title, author, subjects, isbn, call_number);
    unindex_record(c, rowid)?;
    c.prepare_cached(
        "INSERT INTO records_fts (rowid, title, author, subjects, isbn, call_number) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![rowid, cols[0], cols[1], cols[2], cols[3], cols[4]])?;
    c.prepare_cached("UPDATE records SET title_key = ?2 WHERE rowid = ?1")?
        .execute(params![rowid, cols[0]])?;
    Ok(())
}

/// Removes the FTS row of the record at `rowid`, if any.
pub fn unindex_record(c: &Connection, rowid: i64) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM records_fts WHERE rowid = ?1")?
        .execute([rowid])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_in_a_real_index() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE records (id TEXT, title TEXT, title_key TEXT NOT NULL DEFAULT '');
             CREATE INDEX records_title_key ON records(title_key);",
        )
        .unwrap();
        create_table(&c).unwrap();
        type Row<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], Option<&'a str>);
        let rows: [Row; 6] = [
            (
                "s",
                "Lịch sử Tây Nguyên",
                "Trần Văn",
                &["Địa chí Kon Tum"],
                None,
            ),
            ("a", "Sách khác", "Địa Chí Kon Tum", &[], None),
            ("p", "Địa chí Kon Tum, tập 2", "", &[], None),
            ("e", "Địa chí Kon Tum", "", &[], None),
            ("w", "Văn hóa: địa chí Kon Tum xưa", "", &[], None),
            ("i", "Khác", "", &[], Some("978-604-2-12345-6")),
        ];
        for (i, (id, title, author, subjects, isbn)) in rows.iter().enumerate() {
            let subjects: Vec<String> = subjects.iter().map(|s| s.to_string()).collect();
            c.execute(
                "INSERT INTO records (rowid, id, title) VALUES (?1, ?2, ?3)",
                params![i as i64 + 1, id, title],
            )
            .unwrap();
            index_record(&c, i as i64 + 1, title, author, &subjects, *isbn, "").unwrap();
        }
        let ids = |q: &str| -> Vec<String> {
            ranked_rowids(&c, &Query::parse(q).unwrap(), 10)
                .unwrap()
                .into_iter()
                .map(|r| rows[(r - 1) as usize].0.to_owned())
                .collect()
        };
        // Exact title, title prefix, words in the title, author, subject.
        assert_eq!(ids("dia chi kon tum"), ["e", "p", "w", "a", "s"]);
        // The last word is a prefix; the earlier ones are whole words.
        assert_eq!(ids("ĐỊA CHÍ KON T"), ["e", "p", "w", "a", "s"]);
        assert_eq!(ids("9786042123456"), ["i"]);
        assert!(ids("khong co").is_empty());
        // The limit cuts the ranked list.
        assert_eq!(
            ranked_rowids(&c, &Query::parse("dia chi kon tum").unwrap(), 2).unwrap(),
            [4, 3]
        );
        // Re-indexing replaces the entry; unindexing removes it.
        index_record(&c, 4, "Sách mới", "", &[], None, "").unwrap();
        assert!(!ids("dia chi kon tum").contains(&"e".to_owned()));
        unindex_record(&c, 6).unwrap();
        assert!(ids("9786042123456").is_empty());
    }
}
