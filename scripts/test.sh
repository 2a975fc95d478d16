#!/usr/bin/env bash
# Runs every test: formatting, lints, unit, per-crate and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins --locked
# The agent with every real hardware driver (NFC, keyboard-wedge, GPIO) must still build,
# though this machine has none of those devices to run them against.
cargo build -p edge-agent --features drivers --locked
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
threads="${RONG_TEST_THREADS:-2}"
if cargo nextest --version >/dev/null 2>&1; then
    # One process per test, and a test that hangs is killed after 5 minutes and named
    # (.config/nextest.toml), so one stuck test cannot stall the run.
    cargo nextest run --workspace --locked --profile ci -j "$threads" 2>&1 | tee "$log"
    # nextest does not run doc tests.
    cargo test --workspace --locked --doc 2>&1 | tee -a "$log"
else
    cargo test --workspace --locked -- --test-threads="$threads" 2>&1 | tee "$log"
fi

# One closing line for the whole run: every runner's counts added up.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^ *Summary \[/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
