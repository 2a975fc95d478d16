//! Mutations for fuzzing the programs' config files: an example config, with values swapped
//! for hostile ones, lines dropped or repeated, and broken syntax. Used by central's and the
//! agent's config fuzz tests.

use proptest::prelude::*;
use proptest::sample::Index;

/// Values a config line might be given by mistake or malice.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("9223372036854775807".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e309".to_string()),
        Just("nan".to_string()),
        Just("true".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"\\u0000\"".to_string()),
        Just("'unterminated".to_string()),
        Just("\"0.0.0.0:0\"".to_string()),
        Just("\"/\"".to_string()),
        Just("\"../../etc/passwd\"".to_string()),
        Just("\"mqtt://user@:0\"".to_string()),
        (1usize..3_000).prop_map(|n| format!("\"{}\"", "đ".repeat(n))),
        "[ -~]{0,24}".prop_map(|s| format!("\"{}\"", s.replace(['\\', '"'], ""))),
        "[ -~]{0,24}",
    ]
}

/// One change to a config file's text.
#[derive(Debug, Clone)]
pub enum Edit {
    /// The value of the n-th `key = value` line replaced.
    Value(Index, String),
    /// The n-th line dropped.
    Drop(Index),
    /// The n-th line written twice (a duplicate key).
    Repeat(Index),
    /// A line of anything inserted.
    Insert(Index, String),
}

/// A few edits.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        6 => (any::<Index>(), hostile_value()).prop_map(|(i, v)| Edit::Value(i, v)),
        1 => any::<Index>().prop_map(Edit::Drop),
        1 => any::<Index>().prop_map(Edit::Repeat),
        1 => (any::<Index>(), "\\PC{0,30}").prop_map(|(i, s)| Edit::Insert(i, s)),
    ];
    proptest::collection::vec(edit, 1..5)
}

/// `example` with `edits` applied, its comments dropped first.
pub fn apply(example: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect();
    for e in edits {
        let settings: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains(" = "))
            .collect();
        match e {
            Edit::Value(i, v) if !settings.is_empty() => {
                let at = settings[i.index(settings.len())];
                if let Some((key, _)) = lines[at].split_once(" = ") {
                    lines[at] = format!("{key} = {v}");
                }
            }
            Edit::Value(..) => {}
            Edit::Drop(i) if !lines.is_empty() => {
                lines.remove(i.index(lines.len()));
            }
            Edit::Repeat(i) if !lines.is_empty() => {
                let at = i.index(lines.len());
                lines.insert(at, lines[at].clone());
            }
            Edit::Drop(_) | Edit::Repeat(_) => {}
            Edit::Insert(i, s) => lines.insert(i.index(lines.len() + 1), s.clone()),
        }
    }
    lines.join("\n")
}

/// Writes `text` as the file `name` in a temporary directory and loads it with `load`:
/// `Ok` if it loaded, or the refusal as text, which must name the file (a syntax or type
/// error, with its line) or the setting (`invalid config: …`, a rule across values), and
/// stay short.
pub fn load_config<T, E: std::fmt::Display>(
    name: &str,
    text: &str,
    load: impl FnOnce(&std::path::Path) -> Result<T, E>,
) -> Result<Result<T, String>, TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join(name);
    std::fs::write(&path, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let e = match load(&path) {
        Ok(config) => return Ok(Ok(config)),
        Err(e) => e.to_string(),
    };
    let file = path.display().to_string();
    prop_assert!(
        e.contains(&file) || e.starts_with("invalid config: "),
        "the error names neither the file nor the setting: {e}"
    );
    prop_assert!(e.len() < 16 * 1024, "an error of {} bytes", e.len());
    Ok(Err(e))
}
