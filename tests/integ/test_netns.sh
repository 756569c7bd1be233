#!/bin/bash
# Two host namespaces, each with its own uplink/ext pair and its own virbr0
# attached with the same subnet, the same names and the same addresses
# (only the port ranges differ, to tell them apart): both guests get leases
# and reach their own ext host (masqueraded, with a port of their own host's
# range); `status` in each namespace shows only its own bridge, supervisor
# and dnsmasq; detaching one leaves the other fully working (supervisor and
# dnsmasq still alive, its guest leases again, pings and connects out).
# Every command is its own `ip netns exec`.
#
#   h1: g1 eth0 ==veth== v-g1 ── virbr0 192.168.122.1 [qnat-bpf 20000-29999] up0 198.51.100.1 ==veth== eth0 198.51.100.2 e1
#   h2: g2 eth0 ==veth== v-g2 ── virbr0 192.168.122.1 [qnat-bpf 30000-39999] up0 198.51.100.1 ==veth== eth0 198.51.100.2 e2
. "$(dirname "$0")/lib.sh"
need jq

H1=$NS_HOST E1=$NS_EXT
H2=${T}h2 E2=${T}e2
# lib.sh's helpers, run against the second topology.
on2() { NS_HOST=$H2 NS_EXT=$E2 "$@"; }
# cleanup detaches in $NS_HOST only: the second host's attach too.
trap 'rc=$?; ip netns exec "$H2" "$QNAT" detach "$BR" >/dev/null 2>&1; (exit $rc); cleanup' EXIT

# A TCP service in ext NS answering "NAME PEER-ADDRESS PEER-PORT LINE"
# (socat would split a command at ':').
ext_id_echo() {
	bg ip netns exec "$1" socat TCP-LISTEN:8080,bind="$EXT_ADDR",reuseaddr,fork \
		SYSTEM:"read l; echo $2 \$SOCAT_PEERADDR \$SOCAT_PEERPORT \$l"
	wait_for 5 ip netns exec "$1" socat -u /dev/null TCP:"$EXT_ADDR":8080 || fail "echo in $2 did not start"
}

# Guest G reaches ext EXT, masqueraded to a port in LO-HI; and pings out.
check_out() {
	local g=$1 ext=$2 lo=$3 hi=$4 out who addr port line
	out=$(echo "hi-$g" | in_guest "$g" socat -t 2 - TCP:"$EXT_ADDR":8080) || fail "$g: tcp to $ext failed"
	read -r who addr port line <<<"$out"
	[ "$who" = "$ext" ] && [ "$line" = "hi-$g" ] || fail "$g reached '$out', not $ext"
	[ "$addr" = "$HOST_ADDR" ] || fail "$g not masqueraded: $ext saw $addr"
	[ "$port" -ge "$lo" ] && [ "$port" -le "$hi" ] || fail "$g: $ext saw port $port, not in its host's $lo-$hi"
	in_guest "$g" busybox ping -c 1 -W 2 "$EXT_ADDR" >/dev/null || fail "$g cannot ping $ext"
}

pid_of() { ns_procs "$1" | awk -v c="$2" '$1 == c { print $2 }'; }

# status in NS lists one bridge: its own (port range LO-HI, and the pids
# of the supervisor and dnsmasq running in NS).
check_status() {
	local ns=$1 lo=$2 hi=$3 js sup dns
	wait_for 5 sh -c "ip netns exec $ns $QNAT status --json | jq -e '.[0].dhcp.pid > 0'" ||
		fail "status in $ns: dnsmasq not running"
	js=$(ip netns exec "$ns" "$QNAT" status --json) || fail "status in $ns failed"
	sup=$(pid_of "$ns" qnat-bpf)
	dns=$(pid_of "$ns" dnsmasq)
	[ "$(echo "$sup" | wc -w)" = 1 ] && [ "$(echo "$dns" | wc -w)" = 1 ] ||
		fail "$ns: expected one supervisor and one dnsmasq, found: $(ns_procs "$ns" | tr '\n' ' ')"
	echo "$js" | jq -e "length == 1 and .[0].bridge == \"$BR\" and .[0].conntrack.port_min == $lo and
		.[0].conntrack.port_max == $hi and .[0].supervisor_pid == $sup and .[0].dhcp.pid == $dns" >/dev/null ||
		{ echo "$js" | jq -c '.[] | {bridge, supervisor_pid, dhcp, conntrack}' >&2; fail "status in $ns is not (only) its own bridge"; }
	[ "$(ip netns exec "$ns" "$QNAT" status | grep -c "^$BR: running")" = 1 ] || fail "text status in $ns"
}

topo_init
on2 topo_init
attach --port-range 20000-29999
on2 attach --port-range 30000-39999
guest_veth g1
on2 guest_veth g2
a1=$(guest_dhcp g1) || exit 1
a2=$(guest_dhcp g2) || exit 1
log "leases: g1=$a1 (h1) g2=$a2 (h2)"
for a in "$a1" "$a2"; do
	case "$a" in 192.168.122.*) ;; *) fail "lease $a not in $SUBNET" ;; esac
done
ext_id_echo "$E1" e1
ext_id_echo "$E2" e2

check_out g1 e1 20000 29999
check_out g2 e2 30000 39999
check_status "$H1" 20000 29999
check_status "$H2" 30000 39999
[ "$(ns_inode "$H1")" != "$(ns_inode "$H2")" ] || fail "the two host namespaces are one"
[ -d "/run/qnat-bpf/ns$(ns_inode "$H1")/$BR" ] && [ -d "/run/qnat-bpf/ns$(ns_inode "$H2")/$BR" ] ||
	fail "no state directory per namespace"
n1=$(ip netns exec "$H1" "$QNAT" ct count "$BR")
n2=$(ip netns exec "$H2" "$QNAT" ct count "$BR")
[ "$n1" -ge 2 ] && [ "$n2" -ge 2 ] || fail "flows: h1 $n1, h2 $n2 (expected a tcp and a ping in each)"
ip netns exec "$H2" "$QNAT" ct show "$BR" | grep -q "dport=8080 .*src=$EXT_ADDR dst=$HOST_ADDR sport=8080 dport=3[0-9]\{4\} " ||
	fail "h2's conntrack does not hold its own flow"
ip netns exec "$H1" "$QNAT" ct show "$BR" | grep -q "dport=3[0-9]\{4\} " && fail "h1's conntrack shows h2's flow"

log "detach in h1"
sup2=$(pid_of "$H2" qnat-bpf)
dns2=$(pid_of "$H2" dnsmasq)
ip netns exec "$H1" "$QNAT" detach "$BR" || fail "detach in h1 failed"
[ -z "$(ns_procs "$H1")" ] || fail "processes left in h1: $(ns_procs "$H1" | tr '\n' ' ')"
ip netns exec "$H1" "$QNAT" status | grep -q "no bridge is attached" || fail "status in h1 after detach"
ip -n "$H1" link show "$BR" >/dev/null 2>&1 && fail "h1's bridge is still there"
# h2 is untouched: same processes, same bridge, still serving.
ip -n "$H2" -4 addr show dev "$BR" | grep -q "inet $GATEWAY/24" || fail "h2's bridge lost its address"
[ "$(pid_of "$H2" qnat-bpf)" = "$sup2" ] || fail "h2's supervisor changed or died"
[ "$(pid_of "$H2" dnsmasq)" = "$dns2" ] || fail "h2's dnsmasq changed or died"
check_status "$H2" 30000 39999
a2=$(guest_dhcp g2) || exit 1
check_out g2 e2 30000 39999
in_guest g1 busybox ping -c 1 -W 1 "$EXT_ADDR" >/dev/null 2>&1 && fail "g1 still reaches out with h1 detached"
pass
