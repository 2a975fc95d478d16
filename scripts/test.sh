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
cargo test --workspace --locked -- --test-threads="${RONG_TEST_THREADS:-2}" 2>&1 | tee "$log"

# One closing line for the whole run: every test binary's counts added up.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
