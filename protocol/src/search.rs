//! Catalogue search, planned once for central and the devices alike.
//!
//! Both sides keep, per record, a folded title key (see [`crate::fold`]) under a B-tree
//! index, and an FTS5 table whose columns hold folded title, author, subjects, ISBN and
//! call number. A query runs as [`Step`]s in rank order: exact title, title prefix, words
//! in the title, the author, the subjects, then ISBN and call number. Each step is a
//! bounded index look-up; hits already found are skipped, and the search stops once it
//! has enough. Words match whole, except the last, which matches as a prefix, so results
//! follow the reader's typing.
//!
//! This module only plans and folds; `rong-sqlite`'s `search` module runs the steps and
//! writes the index.

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
