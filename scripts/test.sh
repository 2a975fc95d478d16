#!/usr/bin/env bash
# Runs every test: formatting, lints, unit, per-crate and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins --locked
cargo test --workspace --locked -- --test-threads="${RONG_TEST_THREADS:-2}"
