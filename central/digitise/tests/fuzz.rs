//! Fuzzing the tus headers central parses from any caller: `Upload-Metadata` and
//! `Upload-Checksum`. Real headers, mutated, and strings of any kind: parsing never panics,
//! refuses what is over its limit, and what it accepts holds together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use central_digitise::tus::{parse_metadata, Checksum, MAX_METADATA_BYTES};
use proptest::prelude::*;
use proptest::sample::Index;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A header as the station sends it.
fn metadata() -> String {
    format!(
        "filename {},job {},page {},is_confidential",
        b64("p0001.png"),
        b64("0190c8a4-0000-7000-8000-000000000000"),
        b64("1")
    )
}

#[test]
fn the_stations_header_parses_and_an_oversize_one_is_refused() {
    let m = parse_metadata(&metadata()).unwrap();
    assert_eq!(m["filename"], "p0001.png");
    assert_eq!(m["is_confidential"], "");
    let long = format!("a {}", "Q".repeat(MAX_METADATA_BYTES));
    let err = parse_metadata(&long).unwrap_err().to_string();
    assert!(err.contains("over the limit"), "{err}");
    let c = Checksum::parse(&format!("sha256 {}", b64("x"))).unwrap();
    assert_eq!(c.digest, b"x");
}

proptest! {
    #[test]
    fn fuzz_tus_metadata(
        any_text in "\\PC{0,200}",
        edits in proptest::collection::vec((any::<Index>(), any::<char>()), 0..6),
        repeat in 1usize..200,
    ) {
        // Any text at all.
        check_metadata(&any_text)?;
        // The real header, with characters swapped.
        let mut chars: Vec<char> = metadata().chars().collect();
        for (at, c) in &edits {
            let i = at.index(chars.len());
            chars[i] = *c;
        }
        check_metadata(&chars.into_iter().collect::<String>())?;
        // Many pairs: refused past the limit, never slow or large.
        let many: Vec<String> = (0..repeat).map(|i| format!("k{i} {}", b64("v"))).collect();
        check_metadata(&many.join(","))?;
    }

    #[test]
    fn fuzz_tus_checksum(name in "(sha1|sha256|md5|\\PC{0,8})", value in "\\PC{0,120}", pad in " {0,3}") {
        let header = format!("{pad}{name} {value}{pad}");
        if let Ok(c) = Checksum::parse(&header) {
            prop_assert!(c.digest.len() <= value.len());
            prop_assert!(name == "sha1" || name == "sha256");
            let _ = c.matches(b"some bytes");
        }
    }
}

fn check_metadata(header: &str) -> Result<(), TestCaseError> {
    match parse_metadata(header) {
        Ok(m) => {
            prop_assert!(header.len() <= MAX_METADATA_BYTES);
            for (k, v) in &m {
                prop_assert!(!k.is_empty() && k.is_ascii() && !k.contains(' '));
                prop_assert!(k.len() + v.len() <= header.len());
            }
        }
        Err(e) => prop_assert!(e.to_string().len() < 2 * MAX_METADATA_BYTES),
    }
    Ok(())
}
