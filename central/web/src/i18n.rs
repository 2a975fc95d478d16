//! The dashboard's words, Vietnamese first, English second.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A display language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Tiếng Việt (the default).
    Vi,
    /// English.
    En,
}

impl Lang {
    /// From a code such as `en`; anything else is Vietnamese.
    pub fn from_code(code: &str) -> Lang {
        if code.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    /// The code (`vi` or `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The other language.
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// Translates a key; an unknown key shows itself.
    pub fn t(self, key: &str) -> &'static str {
        let (vi, en) = words(key);
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// Every key with its Vietnamese and English words, from `words.tsv` (a table translators
/// can edit without touching code).
static WORDS: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> =
    LazyLock::new(|| rows(include_str!("words.tsv")).collect());

/// The rows of a words table: `key<TAB>vi<TAB>en`, skipping blank and `#` lines.
fn rows(table: &str) -> impl Iterator<Item = (&str, (&str, &str))> {
    table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, (f.next()?, f.next()?)))
        })
}

fn words(key: &str) -> (&'static str, &'static str) {
    WORDS.get(key).copied().unwrap_or(("?", "?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_first() {
        assert_eq!(Lang::from_code("xx"), Lang::Vi);
        assert_eq!(Lang::from_code("EN"), Lang::En);
        assert_eq!(Lang::Vi.t("devices"), "Thiết bị");
        assert_eq!(Lang::En.t("devices"), "Devices");
        assert_eq!(Lang::En.t("no such key"), "?");
    }

    #[test]
    fn every_word_has_both_languages_once() {
        let table = include_str!("words.tsv");
        let lines: Vec<&str> = table
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        for l in &lines {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 3, "{l:?} is not key, vi, en");
            assert!(fields.iter().all(|f| !f.trim().is_empty()), "{l:?}");
        }
        assert_eq!(rows(table).count(), lines.len());
        assert_eq!(WORDS.len(), lines.len(), "a key is listed twice");
        assert_eq!(Lang::Vi.t("lang_name"), "English");
        assert_eq!(
            Lang::En.t("circulation"),
            "Circulation (loans + returns + renewals)"
        );
    }

    /// Every key a page asks for (`.t("key")` in this crate's source) is in the table, so
    /// no label shows as "?".
    #[test]
    fn every_key_the_pages_use_is_in_the_table() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut missing = Vec::new();
        let mut files = vec![src.clone()];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for e in std::fs::read_dir(&path).unwrap() {
                    files.push(e.unwrap().path());
                }
                continue;
            }
            // This file defines the table (and names keys in its own tests).
            if path.extension().and_then(|e| e.to_str()) != Some("rs")
                || path.file_name().and_then(|n| n.to_str()) == Some("i18n.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices(".t(\"") {
                let rest = &text[i + 4..];
                let Some(end) = rest.find('"') else { continue };
                let key = &rest[..end];
                let is_key = !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if is_key && !WORDS.contains_key(key) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from words.tsv: {missing:?}"
        );
    }
}
