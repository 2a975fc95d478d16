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

/// `central serve` on an address other than loopback, with no TLS of its own, stops at once
/// with the reason and the way out; nothing is created.
#[test]
fn serving_in_clear_off_loopback_is_refused_with_the_way_out() {
    for (var, value, says) in [
        ("RONG_HTTP_LISTEN", "0.0.0.0:0", "http.listen 0.0.0.0:0"),
        ("RONG_MQTT_LISTEN", "0.0.0.0:0", "broker.listen 0.0.0.0:0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_central"))
            .arg("serve")
            .env("RONG_DATA_DIR", &data)
            .env("RONG_HTTP_LISTEN", "127.0.0.1:0")
            .env("RONG_MQTT_LISTEN", "127.0.0.1:0")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} served");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) && err.contains("plain_off_loopback"),
            "{err}"
        );
        assert!(!data.join("central.db").exists(), "nothing was created");
        assert!(out.stdout.is_empty(), "no ready line");
    }
}
