//! Catalogue search, planned once for central and the devices alike.
//!
//! Both sides keep, per record, a folded title key (see [`crate::fold`]) under a B-tree
//! index, and an FTS5 table whose columns hold folded title, author, subjects, ISBN and
//! call number. A query runs as [`Step`]s in rank order: exact title, title prefix, words
//! in the title, the author, the subjects, then ISBN and call number. Each step is a
//! bounded index look-up; hits already found are skipped, and the search stops once it
//! has enough. Words match whole, except the last, which matches as a prefix, so results
//! follow the reader's typing.

use crate::fold::fold;

/// Hits returned when the caller does not say.
pub const DEFAULT_LIMIT: usize = 20;
/// The most hits one search returns.
pub const MAX_LIMIT: usize = 100;
/// Longest query considered, in characters; the rest is ignored.
const MAX_QUERY_CHARS: usize = 200;
/// Most words considered.
const MAX_WORDS: usize = 12;

/// The FTS5 table's columns, in order. Stores create the table with these.
pub const FTS_COLUMNS: [&str; 5] = ["title", "author", "subjects", "isbn", "call_number"];

/// One look-up of a search, in rank order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Records whose folded title equals this key.
    ExactTitle(String),
    /// Records whose folded title starts with this key (and is longer).
    TitlePrefix(String),
    /// Records matching this FTS5 expression.
    Match(String),
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    key: String,
    words: Vec<String>,
    isbn: Option<String>,
}

impl Query {
    /// Parses what a reader typed. `None` when nothing in it can be searched for.
    pub fn parse(q: &str) -> Option<Query> {
        let q: String = q.chars().take(MAX_QUERY_CHARS).collect();
        let key = fold(&q);
        if key.is_empty() {
            return None;
        }
        let words: Vec<String> = key.split(' ').take(MAX_WORDS).map(str::to_owned).collect();
        let key = words.join(" ");
        let compact: String = q
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let isbn_like = (compact.len() == 10 || compact.len() == 13)
            && compact
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (c == 'x' && i == compact.len() - 1));
        Some(Query {
            key,
            words,
            isbn: isbn_like.then_some(compact),
        })
    }

    /// The folded query, as compared with folded titles.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The FTS5 expression that every word matches, the last one as a prefix (what a reader
    /// is still typing). Any FTS5 table indexed with [`crate::fold`]'s output can use it.
    pub fn every_word(&self) -> String {
        let last = self.words.len().saturating_sub(1);
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                // Folded words hold only letters and digits, so quoting is safe.
                if i == last {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The FTS5 expression for the words, restricted to `columns` (all when empty).
    fn matching(&self, columns: &[&str]) -> String {
        let words = self.every_word();
        if columns.is_empty() {
            format!("({words})")
        } else {
            format!("{{{}}} : ({words})", columns.join(" "))
        }
    }

    /// The look-ups, best rank first.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = vec![
            Step::ExactTitle(self.key.clone()),
            Step::TitlePrefix(self.key.clone()),
            Step::Match(self.matching(&["title"])),
            Step::Match(self.matching(&["author"])),
            Step::Match(self.matching(&["subjects"])),
        ];
        let mut other = self.matching(&["isbn", "call_number"]);
        if let Some(isbn) = &self.isbn {
            other = format!("{other} OR isbn : \"{isbn}\"");
        }
        steps.push(Step::Match(other));
        steps.push(Step::Match(self.matching(&[])));
        steps
    }
}

/// The folded texts a record is indexed under, in [`FTS_COLUMNS`] order.
pub fn index_columns(
    title: &str,
    author: &str,
    subjects: &[String],
    isbn: Option<&str>,
    call_number: &str,
) -> [String; 5] {
    let isbn = isbn
        .map(|i| {
            i.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        })
        .unwrap_or_default();
    [
        fold(title),
        fold(author),
        fold(&subjects.join(" ; ")),
        isbn,
        fold(call_number),
    ]
}

/// The number of hits to return for a requested limit.
pub fn clamp_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// The upper bound for a title-prefix range scan: every key starting with `prefix` sorts
/// at or above `prefix` and below this.
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The schema both stores create for search, keyed by the record table's rowid:
/// `records(title_key)` under an index, and this FTS5 table (contentless: it keeps only
/// the index, not a second copy of the text).
pub const FTS_TABLE_SQL: &str = "CREATE VIRTUAL TABLE records_fts USING fts5(
    title, author, subjects, isbn, call_number,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3'
)";

/// Runs a query's steps against a store holding `records(rowid, title_key)` and
/// `records_fts` ([`FTS_TABLE_SQL`]): the rowids of the best `limit` records, best first.
#[cfg(feature = "sqlite")]
pub fn ranked_rowids(
    c: &rusqlite::Connection,
    q: &Query,
    limit: usize,
) -> rusqlite::Result<Vec<i64>> {
    use rusqlite::params;
    let mut out: Vec<i64> = Vec::with_capacity(limit);
    let mut seen = std::collections::HashSet::new();
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

/// Writes the search entry of the record at `rowid` (its title key and FTS row).
#[cfg(feature = "sqlite")]
pub fn index_record(
    c: &rusqlite::Connection,
    rowid: i64,
    title: &str,
    author: &str,
    subjects: &[String],
    isbn: Option<&str>,
    call_number: &str,
) -> rusqlite::Result<()> {
    use rusqlite::params;
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
#[cfg(feature = "sqlite")]
pub fn unindex_record(c: &rusqlite::Connection, rowid: i64) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM records_fts WHERE rowid = ?1")?
        .execute([rowid])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_folds() {
        let q = Query::parse("  Địa CHÍ kon-tum ").unwrap();
        assert_eq!(q.key(), "dia chi kon tum");
        assert!(Query::parse(" -- !! ").is_none());
        assert!(Query::parse("").is_none());
    }

    #[test]
    fn steps_in_rank_order() {
        let q = Query::parse("dia chi kon t").unwrap();
        let steps = q.steps();
        assert_eq!(steps[0], Step::ExactTitle("dia chi kon t".into()));
        assert_eq!(steps[1], Step::TitlePrefix("dia chi kon t".into()));
        assert_eq!(
            steps[2],
            Step::Match(r#"{title} : ("dia" AND "chi" AND "kon" AND "t"*)"#.into())
        );
        assert!(matches!(&steps[3], Step::Match(m) if m.starts_with("{author}")));
        assert!(matches!(&steps[4], Step::Match(m) if m.starts_with("{subjects}")));
        assert_eq!(
            steps.last(),
            Some(&Step::Match(
                r#"("dia" AND "chi" AND "kon" AND "t"*)"#.into()
            ))
        );
    }

    #[test]
    fn isbn_with_hyphens() {
        let q = Query::parse("978-604-2-12345-6").unwrap();
        let steps = q.steps();
        assert!(steps
            .iter()
            .any(|s| matches!(s, Step::Match(m) if m.ends_with(r#"OR isbn : "9786042123456""#))));
        let cols = index_columns("T", "", &[], Some("978-604-2-12345-6"), "");
        assert_eq!(cols[3], "9786042123456");
        assert!(Query::parse("kon tum 2005").unwrap().isbn.is_none());
    }

    #[test]
    fn quotes_cannot_escape() {
        // Whatever is typed, the expression holds only folded words in quotes.
        let q = Query::parse(r#"a" OR title:* NEAR("x"#).unwrap();
        for s in q.steps() {
            if let Step::Match(m) = s {
                assert!(!m.contains("\"\""), "{m}");
            }
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn ranks_in_a_real_index() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE records (id TEXT, title TEXT, title_key TEXT NOT NULL DEFAULT '');
             CREATE INDEX records_title_key ON records(title_key);",
        )
        .unwrap();
        c.execute_batch(FTS_TABLE_SQL).unwrap();
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
                rusqlite::params![i as i64 + 1, id, title],
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
        // Re-indexing replaces the entry; unindexing removes it.
        index_record(&c, 4, "Sách mới", "", &[], None, "").unwrap();
        assert!(!ids("dia chi kon tum").contains(&"e".to_owned()));
        unindex_record(&c, 6).unwrap();
        assert!(ids("9786042123456").is_empty());
    }

    #[test]
    fn limits() {
        assert_eq!(clamp_limit(None), DEFAULT_LIMIT);
        assert_eq!(clamp_limit(Some(0)), 1);
        assert_eq!(clamp_limit(Some(10_000)), MAX_LIMIT);
        let long = "a ".repeat(500);
        assert_eq!(Query::parse(&long).unwrap().words.len(), MAX_WORDS);
        assert!(prefix_end("kon").as_str() > "kon tum");
    }
}
