#!/bin/bash
# A late attach failure leaves the host as it was.  The supervisor's
# --metrics-listen fails after everything else is in place (bridge, address,
# sysctls, TC/XDP programs, socket hooks, state directory, dnsmasq's files):
#   (a) daemonised, the port held by another socket;
#   (b) daemonised, an address that is not the host's;
#   (c) --foreground (the systemd path), the port held;
#   (d) --foreground, with a bridge that existed (down, MTU 1500): it stays,
#       down, at its MTU, without our address.
# Each time the exit is 1 with one line naming the problem, and the host
# namespace's snapshot (links, addresses, routes, qdiscs, tc filters,
# forwarding sysctls, qnat-bpf/dnsmasq processes, the state directory) and
# the programs on its links are as before.  Then the same attach without
# the bad option works (nothing claims "already attached") and detaches.
#   (e) a dnsmasq this bridge's attach started but no longer tracks (its
#       supervisor killed, its pid file gone) is replaced by the next attach,
#       not left running beside the new one.
#
#   g1 eth0 ==veth== v-g1 ── virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
. "$(dirname "$0")/lib.sh"
need socat bpftool

OUR_PROGS='tc_port_in|tc_uplink_in|tc_uplink_out|tc_host_in|tc_host_out|xdp_uplink_in'
our_progs() {
	in_host bpftool net show | grep -oE "$OUR_PROGS"
	in_host ip -d link show | grep -oE "prog/xdp[a-z]* id [0-9]+ name [a-z_]+" | awk '{ print $NF }'
}

topo_init
# Forwarding off everywhere, so that a sysctl left on shows.
in_host sh -c 'for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding; do echo 0 >$f; done'
# The port another socket holds (SO_REUSEADDR does not share a listening port).
bg ip netns exec "$NS_HOST" socat TCP-LISTEN:9400,bind=127.0.0.1,reuseaddr,fork SYSTEM:true
wait_for 5 sh -c "ip netns exec $NS_HOST ss -Hltn 'sport = :9400' | grep -q LISTEN" || fail "no listener on 9400"

# late_failure LABEL ARGS...: the attach must fail and change nothing.
late_failure() {
	local label=$1 before after rc
	shift
	before=$(ns_snapshot)
	ip netns exec "$NS_HOST" timeout 60 "$QNAT" attach "$BR" --masq "$SUBNET" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ $rc = 1 ] || fail "$label: attach exited $rc: $(cat "$WORK/err")"
	grep -q "metrics" "$WORK/err" || fail "$label: the error does not name the metrics listener: $(cat "$WORK/err")"
	after=$(ns_snapshot)
	if [ "$before" != "$after" ]; then
		diff -u <(echo "$before") <(echo "$after") >&2
		fail "$label: the host namespace changed (- before, + after the failed attach)"
	fi
	[ -z "$(our_progs)" ] || fail "$label: programs left: $(our_progs | tr '\n' ' ')"
	log "$label: refused, nothing left: $(tr '\n' ' ' <"$WORK/err")"
}

# works: the same attach without the bad option (with g1, when it exists, leased), then detach.
works() {
	local out
	out=$(qnat attach "$BR" --masq "$SUBNET" 2>&1) || fail "attach after the failure: $out"
	case $out in *"already attached"*) fail "a failed attach left its state: $out" ;; esac
	[ ! -e "/run/netns/${T}g1" ] || guest_dhcp g1 >/dev/null || fail "g1 gets no lease after the failed attach"
	[ "$(ns_procs "$NS_HOST" | grep -c '^dnsmasq ')" = 1 ] || fail "dnsmasq processes: $(ns_procs "$NS_HOST")"
	qnat detach "$BR" || fail "detach"
}

late_failure "(a) daemonised, port held" --metrics-listen 127.0.0.1:9400
works
late_failure "(b) daemonised, not a local address" --metrics-listen 203.0.113.77:9400
late_failure "(c) foreground, port held" --metrics-listen 127.0.0.1:9400 --foreground
works

in_host ip link add "$BR" type bridge
in_host ip link set "$BR" mtu 1500
guest_veth g1
# Up once, so the kernel's default qdisc (set at the first up, and kept) is there before.
in_host ip link set "$BR" up
in_host ip link set "$BR" down
late_failure "(d) foreground, the bridge existed" --metrics-listen 127.0.0.1:9400 --foreground --mtu 1400
in_host ip -d link show "$BR" | grep -q "mtu 1500 " || fail "(d) the bridge's MTU was not put back"
works

# (e) dnsmasq untracked: the supervisor killed, dnsmasq's pid file removed.
attach
dir=/run/qnat-bpf/ns$(ns_inode "$NS_HOST")/$BR
wait_for 5 test -s "$dir/dnsmasq.pid" || fail "(e) dnsmasq wrote no pid file"
old=$(cat "$dir/dnsmasq.pid")
sup=$(cat "$dir/supervisor.pid")
kill -9 "$sup"
# (until it is gone, the next attach finds it running: "already attached")
sup_gone() { [ ! -e "/proc/$sup" ] || [ "$(cut -d' ' -f3 "/proc/$sup/stat")" = Z ]; }
wait_for 5 sup_gone || fail "(e) the supervisor $sup survived SIGKILL"
rm -f "$dir/dnsmasq.pid"
attach
wait_for 5 test -s "$dir/dnsmasq.pid" || fail "(e) the new dnsmasq wrote no pid file"
# (a zombie, whose parent is gone, is not running)
read -r _ comm st _ 2>/dev/null <"/proc/$old/stat" && [ "$comm" = "(dnsmasq)" ] && [ "$st" != Z ] &&
	fail "(e) the untracked dnsmasq $old still runs beside $(cat "$dir/dnsmasq.pid")"
[ "$(ns_procs "$NS_HOST" | grep -c '^dnsmasq ')" = 1 ] || fail "(e) dnsmasq processes: $(ns_procs "$NS_HOST")"
guest_dhcp g1 >/dev/null || fail "(e) g1 gets no lease from the replacing dnsmasq"
log "(e) the untracked dnsmasq $old was replaced by $(cat "$dir/dnsmasq.pid")"
qnat detach "$BR" || fail "detach"
pass
