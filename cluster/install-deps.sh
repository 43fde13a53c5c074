#!/usr/bin/env bash
# Installs the Debian packages shoal needs to build and test, when any is missing.
# Used by cluster/quickstart.sh and tests/run.sh; safe to run again (it only installs what is
# missing). Uses sudo when not root. Set SHOAL_NO_INSTALL=1 to only check.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git
    libzmq3-dev
    libprotobuf-c-dev protobuf-c-compiler
    protobuf-compiler
    libopenmpi-dev openmpi-bin
    libopenblas-dev
    libcriterion-dev
    libinih-dev
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "shoal: missing Debian packages: ${missing[*]}"
if [ "${SHOAL_NO_INSTALL:-0}" = "1" ]; then
    echo "shoal: SHOAL_NO_INSTALL=1 is set; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "shoal: apt-get not found; this script supports Debian 12 and derivatives." >&2
    echo "       Install the equivalents of: ${missing[*]}" >&2
    exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "shoal: not root and sudo is missing; as root run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
echo "shoal: installing with apt-get (this happens once)..."
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "shoal: packages installed."
