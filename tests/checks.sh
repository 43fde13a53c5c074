# Sourced by the shell tests (tests/multihost.sh, tests/slurm.sh): one line per check, and
# $failed set when any did not hold, so that every check of a run is reported before it fails.
failed=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}"; then
        echo "ok: $1"
    else
        echo "NOT OK: $1" >&2
        failed=1
    fi
}
has() { grep -q -- "$2" "$1" 2>/dev/null; } # has FILE TEXT
