#!/usr/bin/env bash
# The long fuzz run: every fuzz target with many more cases than CI's 256.
#   scripts/fuzz.sh [CASES]        (default 20000 cases a target)
# Prints one line a target (cases, seconds, result) and a total. A failure prints proptest's
# minimal failing input. The targets:
#   protocol   the decoder, on every message kind, with structural and byte mutations
#   envelope   signed messages: any changed byte is refused
#   marc       ISO 2709 and MARCXML readers, on random and mutated records
#   tus        the Upload-Metadata and Upload-Checksum headers
#   config     central's and the agent's config files
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-20000}"
export PROPTEST_CASES="$cases"

# name, cargo test arguments, test-name filter
targets=(
    "protocol|-p rong-tests --test fuzz|fuzz_decoder"
    "envelope|-p rong-tests --test fuzz|fuzz_envelope"
    "envelope-bytes|-p rong-protocol --lib|any_changed_byte_is_refused"
    "codec|-p rong-protocol --lib|never_panics"
    "marc|-p central-catalogue --lib|reading_"
    "tus|-p central-digitise --test fuzz|fuzz_tus"
    "central-config|-p central --test config|fuzz_central_config"
    "agent-config|-p edge-agent --test config|fuzz_agent_config"
)

# Build first, so the times below are the runs alone.
for t in "${targets[@]}"; do
    IFS='|' read -r _ args _ <<<"$t"
    # shellcheck disable=SC2086
    cargo test $args --no-run --quiet 2>/dev/null
done

total=0
failed=0
printf '%-16s %8s %8s %9s  %s\n' target tests cases seconds result
for t in "${targets[@]}"; do
    IFS='|' read -r name args filter <<<"$t"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    if out=$(cargo test $args --quiet -- "$filter" 2>&1); then result=ok; else result=FAILED; failed=$((failed + 1)); fi
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    ran=$(echo "$out" | awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/ || $(i+1) ~ /^failed/) n += $i } END { print n + 0 }')
    total=$((total + ran * cases))
    printf '%-16s %8d %8d %9.1f  %s\n' "$name" "$ran" "$cases" "$secs" "$result"
    if [ "$result" != ok ]; then echo "$out" | grep -A20 -E "minimal failing|panicked" | head -40; fi
done
echo "executions: $total, failing targets: $failed"
[ "$failed" -eq 0 ]
