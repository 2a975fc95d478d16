#!/usr/bin/env bash
# Runs the demo: central with its embedded broker and a seeded library, plus one kiosk's
# edge-agent on simulated hardware. Prints what to try next; Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

HTTP_PORT="${RONG_DEMO_HTTP_PORT:-8080}"
MQTT_PORT="${RONG_DEMO_MQTT_PORT:-1883}"
ITEMS="${RONG_DEMO_ITEMS:-5000}"
PATRONS="${RONG_DEMO_PATRONS:-1000}"
DEMO="$PWD/.demo"

cargo build --bins --locked
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"

rm -rf "$DEMO"
mkdir -p "$DEMO/central" "$DEMO/kiosk"
cat > "$DEMO/central/central.toml" <<TOML
data_dir = "$DEMO/central"
[http]
listen = "127.0.0.1:$HTTP_PORT"
[broker]
listen = "127.0.0.1:$MQTT_PORT"
TOML
cat > "$DEMO/kiosk/agent.toml" <<TOML
device = "kontum-kiosk-1"
branch = "kontum"
data_dir = "$DEMO/kiosk"
socket = "$DEMO/kiosk/agent.sock"
[mqtt]
url = "mqtt://127.0.0.1:$MQTT_PORT"
[central]
url = "http://127.0.0.1:$HTTP_PORT"
[hardware]
barcode = "sim"
card = "sim"
lights = "sim"
printer = "sim"
TOML

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Waits for a program's one-line readiness signal on its stdout file.
wait_ready() {
  local file=$1 name=$2
  for _ in $(seq 1 600); do
    grep -q '"ready":true' "$file" 2>/dev/null && return 0
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "demo: $name stopped; see $DEMO/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "demo: $name did not become ready; see $DEMO/$name.log" >&2
  exit 1
}

echo "demo: seeding $ITEMS items and $PATRONS patrons" >&2
"$BIN/central" seed --config "$DEMO/central/central.toml" --items "$ITEMS" --patrons "$PATRONS" --seed 1 > "$DEMO/seed.txt"
# The kiosk enrols at its first start with a one-time code (README, "Devices: enrolment and
# revocation"); here the demo makes it and gives it in the kiosk's config.
"$BIN/central" device enrol --config "$DEMO/central/central.toml" --branch kontum --role kiosk \
  --device-id kontum-kiosk-1 > "$DEMO/enrolment.txt"
CODE=$(sed -n 's/^Code: //p' "$DEMO/enrolment.txt")
sed -i "s/^branch = \"kontum\"$/branch = \"kontum\"\nenrolment_code = \"$CODE\"/" "$DEMO/kiosk/agent.toml"
# The JSON API needs a token; this one is printed below, and only its hash is stored.
TOKEN=$("$BIN/central" token create --config "$DEMO/central/central.toml" --role admin --label demo 2>> "$DEMO/central.log")
AUTH="Authorization: Bearer $TOKEN"
"$BIN/central" serve --config "$DEMO/central/central.toml" > "$DEMO/central.out" 2> "$DEMO/central.log" &
pids+=($!)
wait_ready "$DEMO/central.out" central
"$BIN/edge-agent" run --config "$DEMO/kiosk/agent.toml" > "$DEMO/kiosk.out" 2> "$DEMO/kiosk.log" &
pids+=($!)
wait_ready "$DEMO/kiosk.out" kiosk

# A short name for the kiosk's ctl, to type in another terminal.
printf '#!/bin/sh\nexec "%s" ctl --socket "%s" "$@"\n' "$BIN/edge-agent" "$DEMO/kiosk/agent.sock" > "$DEMO/ctl"
chmod +x "$DEMO/ctl"
CTL=".demo/ctl"
cat <<TXT

Rông demo is running.
  central:   http://127.0.0.1:$HTTP_PORT   (API under /api/v1, /metrics, /healthz)
  API token: $TOKEN   (administrator; \`central token create\` makes more)
  broker:    mqtt://127.0.0.1:$MQTT_PORT   (embedded)
  kiosk:     kontum-kiosk-1 at the provincial library, simulated scanner, NFC pad,
             lights and receipt printer
  logs:      $DEMO/central.log  $DEMO/kiosk.log

$(cat "$DEMO/seed.txt")

Try, in another terminal in this folder ($CTL runs \`edge-agent ctl\` against the kiosk):
  $CTL status
  $CTL checkout --card P000002 KT00000001 KT00000002
  $CTL loans --card P000002
  $CTL renew --card P000002 --all
  $CTL checkin KT00000001
  echo 0005 | $CTL checkout --card P000005 --pin-stdin KT00000003   # a patron with a PIN
  $CTL checkout --card P000003 KT00000004                # a blocked card
  $CTL watch &  $CTL tap 040000026EF362 ; $CTL scan KT00000004
  $CTL signal success ; $CTL status                      # the simulated lights
  $CTL receipt --card P000002 KT00000002               # a loan receipt (simulated printer)
  $CTL printer paper-out ; $CTL receipt --card P000002 KT00000002   # jammed: refused
  $CTL status ; $CTL printer ok                          # the status says why; fix it
  $CTL search lich su tay nguyen                         # "find a book" on the kiosk
  curl -s -H '$AUTH' 'http://127.0.0.1:$HTTP_PORT/api/v1/search?q=dia%20chi%20kon%20tum'
  curl -s -H '$AUTH' 'http://127.0.0.1:$HTTP_PORT/api/v1/loans?patron=P000002'
  curl -s -H '$AUTH' http://127.0.0.1:$HTTP_PORT/api/v1/devices
  curl -s -H '$AUTH' -X POST -H 'content-type: application/json' -d '{"reason":"Mất thẻ"}' http://127.0.0.1:$HTTP_PORT/api/v1/patrons/P000002/block

Open http://127.0.0.1:$HTTP_PORT/opac in a browser for the public catalogue.

Stop central (kill the 'central serve' process) to see the kiosk keep lending offline and
catch up when it comes back. Ctrl-C here stops the demo.
TXT
wait "${pids[0]}"
