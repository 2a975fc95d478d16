#!/usr/bin/env bash
# Installs what Rông's demo and tests need on Debian 12: apt packages, and nothing else.
# Safe to run again: it installs only what is missing.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config  # cc for the bundled SQLite
  mosquitto                   # the production broker, tested alongside the embedded one
  procps                      # ps, for the benchmarks' memory readings
  libfontconfig1-dev fonts-dejavu-core  # the kiosk (Slint): fontconfig, and one system font
  libudev-dev libinput-dev libxkbcommon-dev libgbm-dev  # the kiosk's linuxkms (Pi) backend
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts mosquitto as a service where systemd runs; the tests start their own
# instances on free ports and never use the system one.
command -v cargo >/dev/null || { echo "setup: Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
