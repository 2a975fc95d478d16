//! The layout's promises (`docs/ARCHITECTURE.md`), checked on the source itself, so that
//! they stay true after the change that made them true:
//! - no source file (tests aside) is over 800 lines;
//! - no crate holds more than 30% of the non-test Rust lines;
//! - sibling modules never import each other in a circle;
//! - only the SQLite crate opens a connection, and only store modules name `rusqlite`;
//! - each crate depends only on the crates the architecture allows it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_CRATE_SHARE: f64 = 0.30;

/// One crate of the workspace.
#[derive(Debug)]
struct Crate {
    name: String,
    dir: PathBuf,
    /// Workspace crates it depends on (normal dependencies only).
    deps: BTreeSet<String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The workspace members, read from the root manifest.
fn crates() -> Vec<Crate> {
    let root = root();
    let text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let manifest: toml::Value = toml::from_str(&text).unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let mut out: Vec<Crate> = members
        .iter()
        .map(|m| {
            let dir = root.join(m.as_str().unwrap());
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let manifest: toml::Value = toml::from_str(&text).unwrap();
            let name = manifest["package"]["name"].as_str().unwrap().to_owned();
            let deps = manifest
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            Crate { name, dir, deps }
        })
        .collect();
    let names: BTreeSet<String> = out.iter().map(|c| c.name.clone()).collect();
    for c in &mut out {
        c.deps.retain(|d| names.contains(d));
    }
    out
}

/// Whether a file is test code: under a `tests` folder, or a `tests.rs` / `*_tests.rs`.
fn is_test_file(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    rel.components().any(|c| c.as_os_str() == "tests")
        || name == "tests.rs"
        || name.ends_with("_tests.rs")
}

/// The Rust files of a crate below its folder, not descending into nested crates.
fn rust_files(dir: &Path, top: bool, out: &mut Vec<PathBuf>) {
    if !top && dir.join("Cargo.toml").exists() {
        return;
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                rust_files(&p, false, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A crate's non-test source files, relative to the crate folder, with their text.
fn sources(c: &Crate) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&c.dir, true, &mut files);
    files
        .into_iter()
        .map(|p| p.strip_prefix(&c.dir).unwrap().to_path_buf())
        .filter(|rel| !is_test_file(rel))
        .map(|rel| {
            let text = std::fs::read_to_string(c.dir.join(&rel)).unwrap();
            (rel, text)
        })
        .collect()
}

/// The text with `#[cfg(test)]` items and `//` comments (doc comments too) removed.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            // Skip the next item: a one-line `mod tests;` or a braced block.
            let mut depth = 0i32;
            let mut opened = false;
            for l in lines.by_ref() {
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                opened |= l.contains('{');
                if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

#[test]
fn no_source_file_is_over_800_lines() {
    let mut long = Vec::new();
    for c in crates() {
        for (rel, text) in sources(&c) {
            let n = text.lines().count();
            if n > MAX_FILE_LINES {
                long.push(format!("{}/{} ({n} lines)", c.name, rel.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines: {long:#?}"
    );
}

#[test]
fn no_crate_holds_more_than_30_percent_of_the_code() {
    // The test kit and the benchmarks are test code: they count on neither side.
    let sizes: BTreeMap<String, usize> = crates()
        .iter()
        .filter(|c| !matches!(c.name.as_str(), "rong-tests" | "rong-benches"))
        .map(|c| {
            let n = sources(c).iter().map(|(_, t)| t.lines().count()).sum();
            (c.name.clone(), n)
        })
        .collect();
    let total: usize = sizes.values().sum();
    let big: Vec<String> = sizes
        .iter()
        .filter(|(_, n)| **n as f64 > MAX_CRATE_SHARE * total as f64)
        .map(|(c, n)| format!("{c}: {n} of {total} lines"))
        .collect();
    assert!(
        big.is_empty(),
        "crates over {:.0}% of the code: {big:?}",
        MAX_CRATE_SHARE * 100.0
    );
}

/// The module path of a source file: `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`;
/// `None` for files outside `src` or separate binaries.
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let inner = rel.strip_prefix("src").ok()?;
    if inner.starts_with("bin") {
        return None;
    }
    let mut parts: Vec<String> = inner
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") {
        parts.push(stem.to_owned());
    }
    Some(parts)
}

/// Expands a `use` tree such as `crate::{a::X, b::{c, d}}` into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand_use(&format!("{prefix}{p}")))
        .collect()
}

/// Every path a module's code names that starts with `crate::` or `super::`.
fn referenced_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` statements, with their groups expanded.
    for stmt in code.split(';') {
        let s = stmt.trim_start();
        let s = s.strip_prefix("pub ").unwrap_or(s);
        let s = s.strip_prefix("pub(crate) ").unwrap_or(s);
        if let Some(tree) = s.strip_prefix("use ") {
            out.extend(expand_use(tree));
        }
    }
    // Paths written inline.
    for start in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(i) = rest.find(start) {
            let before = rest[..i].chars().last();
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            if !before.is_some_and(|b| b.is_alphanumeric() || b == '_' || b == ':') {
                out.push(tail[..end].trim_end_matches(':').to_owned());
            }
            rest = &rest[i + start.len()..];
        }
    }
    out
}

/// Resolves a `crate::`/`super::` path named in module `from` to the deepest known module.
fn resolve(from: &[String], path: &str, modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segs = path.split("::").filter(|s| !s.is_empty());
    let mut at: Vec<String> = match segs.next()? {
        "crate" => Vec::new(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    for s in segs {
        if s == "super" {
            at.pop()?;
            continue;
        }
        let mut next = at.clone();
        next.push(s.to_owned());
        if modules.contains(&next) {
            at = next;
        } else {
            break;
        }
    }
    Some(at)
}

/// Circles among sibling modules: each is the list of siblings in one strongly connected
/// group of the "uses" graph, named by their parent.
fn sibling_circles(files: &[(Vec<String>, String)]) -> Vec<String> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    // parent -> (child -> children it uses)
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, text) in files {
        for path in referenced_paths(&code_only(text)) {
            let Some(to) = resolve(from, &path, &modules) else {
                continue;
            };
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // a module and its own ancestor or descendant
            }
            graphs
                .entry(from[..common].to_vec())
                .or_default()
                .entry(from[common].clone())
                .or_default()
                .insert(to[common].clone());
        }
    }
    let mut circles = Vec::new();
    for (parent, graph) in graphs {
        for group in strongly_connected(&graph) {
            if group.len() > 1 {
                circles.push(format!("in `{}`: {}", parent.join("::"), group.join(" ↔ ")));
            }
        }
    }
    circles
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(next) = s.graph.get(v) {
            for w in next {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            group.sort();
            s.out.push(group);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_circles_between_modules() {
    let mut circles = Vec::new();
    for c in crates() {
        let files: Vec<(Vec<String>, String)> = sources(&c)
            .into_iter()
            .filter_map(|(rel, text)| module_path(&rel).map(|m| (m, text)))
            .collect();
        circles.extend(
            sibling_circles(&files)
                .into_iter()
                .map(|s| format!("{}: {s}", c.name)),
        );
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_circle_finder_finds_circles() {
    let files = vec![
        (vec![], "mod a; mod b; mod c;".to_owned()),
        (vec!["a".to_owned()], "use crate::b::X;".to_owned()),
        (
            vec!["b".to_owned()],
            "use crate::{c::Y, a};\n// crate::c is fine".to_owned(),
        ),
        (vec!["c".to_owned()], "fn f() { super::a::g() }".to_owned()),
        (
            vec!["c".to_owned(), "d".to_owned()],
            "use super::super::b::Z;".to_owned(),
        ),
    ];
    assert_eq!(sibling_circles(&files), vec!["in ``: a ↔ b ↔ c".to_owned()]);
    // With b no longer using a, and c using its parent instead of a, no circle: a child
    // using its parent is never one.
    let mut acyclic = files.clone();
    acyclic[2].1 = "use crate::c::Y;".to_owned();
    acyclic[3].1 = "use super::Parent;".to_owned();
    acyclic.truncate(4);
    assert!(sibling_circles(&acyclic).is_empty());
    assert_eq!(
        expand_use("crate::{a::X, b::{c, d::{e}}}"),
        vec!["crate::a::X", "crate::b::c", "crate::b::d::e"]
    );
}

/// Crates that may hold SQL; `edge-agent` only under `src/store`.
fn may_name_rusqlite(krate: &str, rel: &Path) -> bool {
    match krate {
        // The test kit inspects databases the way an operator would.
        "rong-sqlite" | "central-store" | "rong-tests" => true,
        "edge-agent" => rel.starts_with("src/store"),
        _ => false,
    }
}

#[test]
fn only_store_modules_name_rusqlite_and_only_the_sqlite_crate_opens_it() {
    let mut wrong = Vec::new();
    for c in crates() {
        for (rel, text) in sources(&c) {
            let code = code_only(&text);
            let here = format!("{}/{}", c.name, rel.display());
            if code.contains("rusqlite") && !may_name_rusqlite(&c.name, &rel) {
                wrong.push(format!("{here} names rusqlite"));
            }
            if code.contains("Connection::open")
                && !matches!(c.name.as_str(), "rong-sqlite" | "rong-tests")
            {
                wrong.push(format!("{here} opens a connection"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// What each crate may depend on within the workspace (docs/ARCHITECTURE.md).
fn allowed_deps(krate: &str) -> Option<&'static [&'static str]> {
    Some(match krate {
        "rong-protocol" | "rong-runtime" => &[],
        "rong-mqtt" => &["rong-runtime"],
        "rong-lending" | "rong-sqlite" | "rong-agent-client" | "rong-hardware"
        | "rong-identity" => &["rong-protocol"],
        // `edge-agent ctl` is a client of the agent's own local API.
        "edge-agent" => &[
            "rong-protocol",
            "rong-agent-client",
            "rong-lending",
            "rong-hardware",
            "rong-sqlite",
            "rong-runtime",
            "rong-mqtt",
            "rong-identity",
        ],
        "kiosk" => &["rong-protocol", "rong-runtime", "rong-agent-client"],
        "central-store" => &["rong-protocol", "rong-lending", "rong-sqlite"],
        "central-catalogue" | "central-digitise" | "central-web" => {
            &["rong-protocol", "central-store"]
        }
        "rong-tests" => &[
            "rong-protocol",
            "rong-mqtt",
            "rong-agent-client",
            "rong-identity",
        ],
        // The server wires everything; the benchmarks run everything.
        "central" | "rong-benches" => return None,
        _ => return Some(&[]),
    })
}

#[test]
fn crates_depend_only_on_what_the_architecture_allows() {
    let mut wrong = Vec::new();
    for c in crates() {
        let Some(allowed) = allowed_deps(&c.name) else {
            continue;
        };
        for d in &c.deps {
            if !allowed.contains(&d.as_str()) {
                wrong.push(format!("{} depends on {d}", c.name));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
