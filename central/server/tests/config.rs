//! Fuzzing central's config file: the example config with hostile values, dropped and
//! repeated lines and broken syntax. Loading never panics; a refusal names the file or the
//! setting; the example itself loads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use central::config::Config;
use proptest::prelude::*;
use rong_tests::fuzz;

const EXAMPLE: &str = include_str!("../central.example.toml");

fn load(text: &str) -> Result<Result<Config, String>, TestCaseError> {
    fuzz::load_config("central.toml", text, |p| {
        Config::load_with(Some(p), |_| None)
    })
}

#[test]
fn the_example_loads() {
    load(&fuzz::apply(EXAMPLE, &[])).unwrap().unwrap();
}

proptest! {
    // Failures are printed with their minimal input; nothing is written to the source tree.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_central_config(edits in fuzz::edits()) {
        // Loaded, or refused clearly: either is fine; a panic or an unclear refusal is not.
        let _loaded_or_refused = load(&fuzz::apply(EXAMPLE, &edits))?;
    }
}
