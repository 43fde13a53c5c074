# Hosts made as Linux network namespaces on this machine, for tests/multihost.sh and
# bench/scaling.sh (source this file). Each host has its own network stack (an address
# 10.77.0.<i>/24 on a bridge that lives in its own namespace) and, through `inhost` and the rsh
# agent, its own host name (a UTS namespace); every host resolves every host name
# (/etc/netns/NS/hosts, which `ip netns exec` bind-mounts over /etc/hosts).
#
#   P=prefix$$; netns_subnet=10.77.0.0/24
#   netns_up "$work" h1 h2 h3 || skip "$netns_why"     # needs root, ip(8), unshare(1)
#   inhost h1 COMMAND...                               # runs COMMAND on host h1
#   mpirun --mca plm_rsh_agent "$work/agent" ...       # orted inside each host's namespaces
#   netns_down                                         # in the caller's EXIT trap
#
# P names the namespaces and links (at most 15 characters with a suffix: keep it short);
# netns_up writes the rsh agent to DIR/agent. The caller removes DIR.

netns_subnet=10.77.0.0/24
netns_why=

# Removes every namespace named $P*, the processes in them and /etc/netns/$P*.
netns_down() {
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk -v p="$P" 'index($1, p) == 1 { print $1 }'); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf /etc/netns/"$P"*
    [ "${netns_made_etc:-0}" = 0 ] || rmdir /etc/netns 2>/dev/null
}

# netns_up DIR HOST...: makes the bridge and one namespace per host, host i at 10.77.0.<i>.
# Returns 1 with netns_why set when namespaces or bridges cannot be made here (not root, no
# tools, no kernel support): the caller skips; any later failure returns 2.
netns_up() {
    local dir=$1 h i=0 ns etc_hosts="127.0.0.1 localhost" tool
    shift
    [ "$(id -u)" = 0 ] || { netns_why="not root: network namespaces need CAP_NET_ADMIN"; return 1; }
    for tool in ip unshare; do
        command -v "$tool" >/dev/null || { netns_why="$tool is not installed"; return 1; }
    done
    [ -d /etc/netns ] && netns_made_etc=0 || netns_made_etc=1
    if ! ip netns add "${P}br" 2>"$dir/netns.err"; then
        netns_why="cannot create a network namespace: $(cat "$dir/netns.err")"
        return 1
    fi
    if ! { ip -n "${P}br" link add br0 type bridge && ip -n "${P}br" link set br0 up; }; then
        netns_why="cannot create a bridge: no bridge support in this kernel?"
        return 1
    fi
    for h in "$@"; do
        i=$((i + 1))
        etc_hosts+=$'\n'"10.77.0.$i $h"
    done
    i=0
    for h in "$@"; do
        i=$((i + 1))
        ns=$P$h
        ip netns add "$ns" || { netns_why="ip netns add $ns failed"; return 2; }
        mkdir -p "/etc/netns/$ns" && printf '%s\n' "$etc_hosts" >"/etc/netns/$ns/hosts"
        ip link add "${P}a$i" type veth peer name "${P}b$i" ||
            { netns_why="cannot create veth pairs"; return 2; }
        ip link set "${P}a$i" netns "${P}br"
        ip -n "${P}br" link set "${P}a$i" master br0 up
        ip link set "${P}b$i" netns "$ns"
        ip -n "$ns" link set "${P}b$i" name eth0
        ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
    done
    # OpenMPI's rsh agent: called as `agent HOST COMMAND` like ssh, it runs the orted command
    # line on that host.
    cat >"$dir/agent" <<AGENT
#!/bin/sh
host=\$1
shift
exec ip netns exec "$P\$host" unshare --uts sh -c "hostname \$host && \$*"
AGENT
    chmod +x "$dir/agent"
}

# Runs a command on a host: in its network namespace, with its own host name.
inhost() {
    local h=$1
    shift
    ip netns exec "$P$h" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$h" "$@"
}
