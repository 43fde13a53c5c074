# The command line of the bench/learning scripts: the two answers every script's option loop
# shares. Source it (common.sh does); it defines usage_exit and unknown_arg.
#
#   -h|--help) usage_exit 2 12 ;;
#   *) unknown_arg "$1" ;;

# usage_exit FIRST LAST: prints lines FIRST..LAST of the running script (its header comment,
# the usage) and exits 0.
usage_exit() {
    sed -n "$1,$2p" "$0"
    exit 0
}

# unknown_arg ARG: the usage error for an option the script does not know; exits 2.
unknown_arg() {
    echo "${0##*/}: unknown argument $1 (see --help)" >&2
    exit 2
}
