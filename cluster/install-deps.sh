#!/usr/bin/env bash
# Installs the Debian packages shoal needs to build and test, when any is missing.
# Used by cluster/quickstart.sh and tests/run.sh; safe to run again (it only installs what is
# missing). Uses sudo when not root. Set SHOAL_NO_INSTALL=1 to only check.
#   cluster/install-deps.sh           what shoal needs to build and run
#   cluster/install-deps.sh --tests   also what only tests need (tests/run.sh): Slurm and MUNGE
#                                     for tests/slurm.sh, which starts its own daemons
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
case "${1:-}" in
"") ;;
--tests)
    # On a machine with systemd these packages enable slurmctld, slurmd and munge services;
    # the tests do not use them (tests/slurm.sh runs its own, on its own ports and key).
    packages+=(slurm-wlm munge) ;;
-h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac

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
