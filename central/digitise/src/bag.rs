//! Reading a BagIt 1.0 bag (RFC 8493) and checking its fixity: the declaration, the
//! bag-info, every payload manifest entry against its file, no payload file left out,
//! the tag manifest and `Payload-Oxum`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;

use rong_protocol::digitise::bag_info::PAYLOAD_OXUM;
use sha2::Digest;

use super::tus::check_bag_path;

/// Why a bag is refused: a reason, and the file to blame when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct BagProblem {
    /// Why, in English.
    pub reason: String,
    /// The bad file, as a path inside the bag.
    pub file: Option<String>,
}

fn problem(reason: impl Into<String>, file: Option<&str>) -> BagProblem {
    BagProblem {
        reason: reason.into(),
        file: file.map(str::to_owned),
    }
}

/// The fields of `bag-info.txt`, in order (a name may repeat).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BagInfo {
    /// `(name, value)` pairs.
    pub fields: Vec<(String, String)>,
}

impl BagInfo {
    /// The first value of a field, by name (case-insensitive, as RFC 8493 reads labels).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// A bag that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBag {
    /// Its `bag-info.txt`.
    pub info: BagInfo,
    /// Payload files.
    pub files: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Payload paths (inside the bag), sorted.
    pub payload: Vec<String>,
}

/// Parses a tag file of `Label: value` lines; a line starting with a space or a tab
/// continues the value before it.
pub fn parse_tag_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match fields.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Err(format!("line {} continues nothing", n + 1)),
            }
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("line {} is not `Label: value`", n + 1))?;
        fields.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(fields)
}

/// Decodes a manifest path: `%0D`, `%0A` and `%25` as RFC 8493 §2.1.3 writes them.
fn decode_manifest_path(p: &str) -> String {
    p.replace("%0D", "\r")
        .replace("%0d", "\r")
        .replace("%0A", "\n")
        .replace("%0a", "\n")
        .replace("%25", "%")
}

/// Parses a manifest: `<hex digest> <path>` per line, into path → lowercase digest.
pub fn parse_manifest(text: &str, name: &str) -> Result<BTreeMap<String, String>, BagProblem> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let (digest, path) = line.split_once([' ', '\t']).ok_or_else(|| {
            problem(
                format!("{name} line {} is not `<digest> <path>`", n + 1),
                Some(name),
            )
        })?;
        let path = decode_manifest_path(path.trim_start_matches([' ', '\t', '*']));
        if !digest.chars().all(|c| c.is_ascii_hexdigit()) || digest.is_empty() {
            return Err(problem(
                format!("{name} line {} has no hexadecimal digest", n + 1),
                Some(name),
            ));
        }
        check_bag_path(&path).map_err(|e| problem(format!("{name}: {e}"), Some(name)))?;
        if out
            .insert(path.clone(), digest.to_ascii_lowercase())
            .is_some()
        {
            return Err(problem(format!("{name} lists {path} twice"), Some(name)));
        }
    }
    Ok(out)
}

/// The manifest algorithms central can check, by their BagIt name.
const ALGORITHMS: &[&str] = &["sha256", "sha512", "sha1"];

fn hash_file(path: &Path, algorithm: &str) -> std::io::Result<(String, u64)> {
    fn run<D: Digest>(mut f: File) -> std::io::Result<(String, u64)> {
        let mut d = D::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf)?;
            if k == 0 {
                break;
            }
            d.update(&buf[..k]);
            n += k as u64;
        }
        let hex = d.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok((hex, n))
    }
    let f = File::open(path)?;
    match algorithm {
        "sha512" => run::<sha2::Sha512>(f),
        "sha1" => run::<sha1::Sha1>(f),
        _ => run::<sha2::Sha256>(f),
    }
}

/// Every regular file under `dir`, as `/`-separated paths relative to `root`; anything
/// that is neither a file nor a directory (a symbolic link, a device) is a problem.
fn walk(root: &Path, rel: &str, out: &mut BTreeSet<String>) -> Result<(), BagProblem> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| problem(format!("cannot read {rel}: {e}"), Some(rel)))?;
    for entry in entries {
        let entry = entry.map_err(|e| problem(format!("cannot read {rel}: {e}"), Some(rel)))?;
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| problem(format!("a file name under {rel} is not UTF-8"), Some(rel)))?;
        let path = format!("{rel}/{name}");
        let kind = entry
            .file_type()
            .map_err(|e| problem(format!("cannot read {path}: {e}"), Some(&path)))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            out.insert(path);
        } else {
            return Err(problem(
                format!("{path} is not a regular file"),
                Some(&path),
            ));
        }
    }
    Ok(())
}

fn read_tag(root: &Path, name: &str) -> Result<String, BagProblem> {
    match std::fs::read(root.join(name)) {
        Ok(bytes) => String::from_utf8(bytes)
            .map_err(|_| problem(format!("{name} is not UTF-8"), Some(name))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(problem(format!("{name} is missing"), Some(name)))
        }
        Err(e) => Err(problem(format!("cannot read {name}: {e}"), Some(name))),
    }
}

/// Checks that every entry of a manifest names a file with that digest.
fn check_entries(
    root: &Path,
    manifest: &str,
    algorithm: &str,
    entries: &BTreeMap<String, String>,
) -> Result<u64, BagProblem> {
    let mut bytes = 0u64;
    for (path, want) in entries {
        let full = root.join(path);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(problem(format!("{path} is not a regular file"), Some(path))),
            Err(_) => {
                return Err(problem(
                    format!("{path} is listed in {manifest} but missing"),
                    Some(path),
                ))
            }
        }
        let (got, n) = hash_file(&full, algorithm)
            .map_err(|e| problem(format!("cannot read {path}: {e}"), Some(path)))?;
        if &got != want {
            return Err(problem(
                format!("{algorithm} checksum mismatch for {path} ({manifest} says {want}, the file has {got})"),
                Some(path),
            ));
        }
        bytes += n;
    }
    Ok(bytes)
}

/// Checks a bag in `root`; answers what it holds, or the first problem found.
pub fn check(root: &Path) -> Result<CheckedBag, BagProblem> {
    let decl = parse_tag_file(&read_tag(root, "bagit.txt")?)
        .map_err(|e| problem(format!("bagit.txt: {e}"), Some("bagit.txt")))?;
    let version = decl
        .iter()
        .find(|(k, _)| k == "BagIt-Version")
        .map(|(_, v)| v.as_str());
    if !matches!(version, Some(v) if v.starts_with("0.9") || v.starts_with("1.")) {
        return Err(problem(
            "bagit.txt has no supported BagIt-Version",
            Some("bagit.txt"),
        ));
    }
    let encoding = decl
        .iter()
        .find(|(k, _)| k == "Tag-File-Character-Encoding")
        .map(|(_, v)| v.as_str());
    if !matches!(encoding, Some(e) if e.eq_ignore_ascii_case("UTF-8")) {
        return Err(problem(
            "bagit.txt must declare Tag-File-Character-Encoding: UTF-8",
            Some("bagit.txt"),
        ));
    }
    let info = BagInfo {
        fields: parse_tag_file(&read_tag(root, "bag-info.txt")?)
            .map_err(|e| problem(format!("bag-info.txt: {e}"), Some("bag-info.txt")))?,
    };
    let main = parse_manifest(
        &read_tag(root, "manifest-sha256.txt")?,
        "manifest-sha256.txt",
    )?;
    if let Some(p) = main.keys().find(|p| !p.starts_with("data/")) {
        return Err(problem(
            format!("manifest-sha256.txt lists {p}, outside data/"),
            Some("manifest-sha256.txt"),
        ));
    }
    let mut payload = BTreeSet::new();
    if root.join("data").is_dir() {
        walk(root, "data", &mut payload)?;
    } else {
        return Err(problem(
            "the payload directory data/ is missing",
            Some("data"),
        ));
    }
    let bytes = check_entries(root, "manifest-sha256.txt", "sha256", &main)?;
    if let Some(extra) = payload.iter().find(|p| !main.contains_key(*p)) {
        return Err(problem(
            format!("{extra} is in the payload but not in manifest-sha256.txt"),
            Some(extra),
        ));
    }
    // Other payload manifests (bagit.py writes sha512 too), when present, must agree.
    for alg in ALGORITHMS.iter().filter(|a| **a != "sha256") {
        let name = format!("manifest-{alg}.txt");
        if root.join(&name).exists() {
            let entries = parse_manifest(&read_tag(root, &name)?, &name)?;
            if entries.len() != main.len() || entries.keys().any(|k| !main.contains_key(k)) {
                return Err(problem(
                    format!("{name} does not list the same files as manifest-sha256.txt"),
                    Some(&name),
                ));
            }
            check_entries(root, &name, alg, &entries)?;
        }
    }
    for alg in ALGORITHMS {
        let name = format!("tagmanifest-{alg}.txt");
        if root.join(&name).exists() {
            let entries = parse_manifest(&read_tag(root, &name)?, &name)?;
            if let Some(p) = entries.keys().find(|p| p.starts_with("data/")) {
                return Err(problem(
                    format!("{name} lists the payload file {p}"),
                    Some(&name),
                ));
            }
            for needed in ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"] {
                if !entries.contains_key(needed) {
                    return Err(problem(
                        format!("{name} does not list {needed}"),
                        Some(&name),
                    ));
                }
            }
            check_entries(root, &name, alg, &entries)?;
        }
    }
    let files = main.len() as u64;
    match info.get(PAYLOAD_OXUM) {
        Some(oxum) => {
            let expected = format!("{bytes}.{files}");
            if oxum != expected {
                return Err(problem(
                    format!("{PAYLOAD_OXUM} is {oxum} but the payload is {expected} (bytes.files)"),
                    Some("bag-info.txt"),
                ));
            }
        }
        None => {
            return Err(problem(
                format!("bag-info.txt has no {PAYLOAD_OXUM}"),
                Some("bag-info.txt"),
            ))
        }
    }
    Ok(CheckedBag {
        info,
        files,
        bytes,
        payload: main.into_keys().collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sha256(b: &[u8]) -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }

    /// Writes a correct two-page bag and answers its directory.
    fn good_bag(root: &Path) {
        let files: &[(&str, &[u8])] = &[
            ("data/access/0001.jpg", b"jpeg one"),
            ("data/master/0001.png", b"png one!"),
        ];
        let mut manifest = String::new();
        let mut bytes = 0;
        for (p, b) in files {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), b).unwrap();
            manifest.push_str(&format!("{}  {p}\n", sha256(b)));
            bytes += b.len();
        }
        let tags: Vec<(&str, String)> = vec![
            (
                "bagit.txt",
                "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".into(),
            ),
            (
                "bag-info.txt",
                format!("Payload-Oxum: {bytes}.2\nDC-Title: Sử thi\n  Ba Na\nRong-Pages: 1\n"),
            ),
            ("manifest-sha256.txt", manifest),
        ];
        let mut tagm = String::new();
        for (p, t) in &tags {
            std::fs::write(root.join(p), t).unwrap();
            tagm.push_str(&format!("{} {p}\n", sha256(t.as_bytes())));
        }
        std::fs::write(root.join("tagmanifest-sha256.txt"), tagm).unwrap();
    }

    #[test]
    fn a_good_bag_passes_with_its_info() {
        let d = tempfile::tempdir().unwrap();
        good_bag(d.path());
        let bag = check(d.path()).unwrap();
        assert_eq!(bag.files, 2);
        assert_eq!(bag.bytes, 16);
        assert_eq!(bag.info.get("dc-title"), Some("Sử thi Ba Na"));
        assert_eq!(
            bag.payload,
            ["data/access/0001.jpg", "data/master/0001.png"]
        );
    }

    /// Replaces `from` with `to` in the file at `p`; returns the new text.
    fn edit(p: &Path, from: &str, to: &str) -> String {
        let t = std::fs::read_to_string(p).unwrap().replace(from, to);
        std::fs::write(p, &t).unwrap();
        t
    }

    #[test]
    fn each_kind_of_damage_names_the_file() {
        type Damage = fn(&Path);
        let cases: &[(Damage, &str, &str)] = &[
            (
                |r| std::fs::write(r.join("data/master/0001.png"), b"png two!").unwrap(),
                "data/master/0001.png",
                "mismatch",
            ),
            (
                |r| std::fs::write(r.join("data/extra.txt"), b"x").unwrap(),
                "data/extra.txt",
                "not in manifest",
            ),
            (
                |r| {
                    edit(&r.join("bag-info.txt"), "Sử thi", "Sử thi!");
                },
                "bag-info.txt",
                "mismatch",
            ),
            (
                |r| {
                    // Consistent tag manifest, wrong Oxum.
                    let info = r.join("bag-info.txt");
                    let t = edit(&info, "Payload-Oxum: 16.2", "Payload-Oxum: 17.2");
                    let tm = r.join("tagmanifest-sha256.txt");
                    let old = std::fs::read_to_string(&tm).unwrap();
                    let fixed: String = old
                        .lines()
                        .map(|l| {
                            if l.ends_with(" bag-info.txt") {
                                format!("{} bag-info.txt\n", sha256(t.as_bytes()))
                            } else {
                                format!("{l}\n")
                            }
                        })
                        .collect();
                    std::fs::write(tm, fixed).unwrap();
                },
                "bag-info.txt",
                "Payload-Oxum",
            ),
        ];
        let check_damage = |damage: &dyn Fn(&Path), file: &str, words: &str| {
            let d = tempfile::tempdir().unwrap();
            good_bag(d.path());
            damage(d.path());
            let p = check(d.path()).unwrap_err();
            assert_eq!(p.file.as_deref(), Some(file), "{p:?}");
            assert!(p.reason.contains(words), "{p:?} should say {words}");
        };
        for (damage, file, words) in cases {
            check_damage(damage, file, words);
        }
        // A removed payload file or tag file is missing.
        for file in ["data/access/0001.jpg", "bagit.txt", "manifest-sha256.txt"] {
            let remove = |r: &Path| std::fs::remove_file(r.join(file)).unwrap();
            check_damage(&remove, file, "missing");
        }
    }

    #[test]
    fn manifests_may_not_escape_the_bag() {
        let p = parse_manifest("abcd  ../../etc/passwd\n", "manifest-sha256.txt").unwrap_err();
        assert!(p.reason.contains("escapes"), "{p:?}");
        let m = parse_manifest("ABCD *data/a%25b.txt\n", "m").unwrap();
        assert_eq!(m["data/a%b.txt"], "abcd");
    }
}
