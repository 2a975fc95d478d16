#!/usr/bin/env bash
# Installs what Rông's demo and tests need on Debian 12: apt packages, and nothing else.
# Safe to run again: it installs only what is missing.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config  # cc for the bundled SQLite
  mosquitto                   # the production broker, tested alongside the embedded one
  procps                      # ps, for the benchmarks' memory readings
  python3-venv                # the venv for other people's tools the tests check against
  yaz                         # yaz-marcdump: an independent MARC reader for the interop tests
  chromium chromium-driver    # headless browser for the dashboard and OPAC tests
  cmake libclang-dev          # the NFC driver (nfc1 builds libnfc and its bindings)
  libsane-dev sane-utils      # the SANE scanner driver (feature `sane`): libsane and its
                              # `test` backend for the tests; scanimage to check a scanner
  libfontconfig1-dev fonts-dejavu-core  # the kiosk (Slint): fontconfig, and one system font
  libudev-dev libinput-dev libxkbcommon-dev libgbm-dev  # the kiosk's linuxkms (Pi) backend
  tesseract-ocr tesseract-ocr-vie  # central's OCR of digitised pages (and their PDF)
  qpdf                        # central joins the pages' PDFs into the document's PDF
  iproute2 nftables           # the upload benchmark's lossy link: a network namespace whose
                              # loopback drops packets with nft (this kernel has no netem)
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

# Other people's implementations the tests check against, from PyPI, in a venv of our own
# (the tests find it at $RONG_VENV, default ~/.cache/rong-venv).
VENV="${RONG_VENV:-$HOME/.cache/rong-venv}"
PY_PACKAGES=(pymarc==5.4.0 bagit==1.9.0 tuspy==1.1.0 iiif-prezi3==2.0.1)
if ! "$VENV/bin/python" -c "import pymarc, bagit, tusclient, iiif_prezi3" 2>/dev/null; then
  echo "setup: creating $VENV with ${PY_PACKAGES[*]}" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi
