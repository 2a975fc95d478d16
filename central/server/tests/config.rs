//! Fuzzing central's config file: the example config with hostile values, dropped and
//! repeated lines and broken syntax. Loading never panics; a refusal names the file or the
//! setting; the example itself loads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use central::config::Config;
use proptest::prelude::*;
use rong_tests::fuzz;

const EXAMPLE: &str = include_str!("../central.example.toml");

fn load(text: &str) -> (Result<Config, String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("central.toml");
    std::fs::write(&path, text).unwrap();
    let got = Config::load_with(Some(&path), |_| None).map_err(|e| e.to_string());
    (got, path.display().to_string())
}

#[test]
fn the_example_loads() {
    let (got, _) = load(&fuzz::apply(EXAMPLE, &[]));
    got.unwrap();
}

proptest! {
    // Failures are printed with their minimal input; nothing is written to the source tree.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_central_config(edits in fuzz::edits()) {
        let (got, path) = load(&fuzz::apply(EXAMPLE, &edits));
        if let Err(e) = got {
            // A syntax or type error names the file (and line); a rule across values names
            // the setting and its variable.
            prop_assert!(
                e.contains(&path) || e.starts_with("invalid config: "),
                "the error names neither the file nor the setting: {e}"
            );
            prop_assert!(e.len() < 16 * 1024, "an error of {} bytes", e.len());
        }
    }
}
