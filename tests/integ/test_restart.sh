#!/bin/bash
# Flows survive the supervisor: a guest's long-lived TCP connection keeps
# working after the supervisor is SIGKILLed (the data plane runs on with no
# controller), and after the same attach command is run again (exit 0) the
# very same connection (same socket on ext, same conntrack entry, whose
# packet count keeps growing) still works and a port added afterwards is
# attached by the new supervisor.  Attach run again while attached exits 0
# and changes nothing (same supervisor).  A SIGKILLed dnsmasq is restarted
# by the supervisor within seconds and hands out leases again.
#
#   g1 eth0 ==veth== v-g1 ┐                          (long-lived TCP to ext:8080)
#   g2 eth0 ==veth== v-g2 ┤ virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g3 eth0 ==veth== v-g3 ┘ (g2: joins after the re-attach; g3: leases from the restarted dnsmasq)
. "$(dirname "$0")/lib.sh"
need jq ss

SPORT=40100
status_json() { qnat status "$BR" --json | jq -e ".[0]$1"; }
sup_pid() { status_json '| select(.supervisor == "running") | .supervisor_pid'; }
proc_gone() { [ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat")" = Z ]; }
sup_down() { status_json '.supervisor != "running"' && proc_gone "$1"; }
dns_pid() { status_json '.dhcp | select(.state == "running") | .pid'; }
# How many processes named NAME run in the host namespace.
procs_in_host() { for p in $(ip netns pids "$NS_HOST"); do cat "/proc/$p/comm" 2>/dev/null; done | grep -cx "$1"; }
port_listed() { status_json "| .ports | any(.name == \"$1\")"; }
# The connection as ext sees it: its socket's inode.
ext_sock() { in_ext ss -Htne state established "( sport = :8080 and dport = :$SPORT )" 2>/dev/null | grep -o 'ino:[0-9]*'; }
# Packets the guest sent on the flow, per its conntrack entry.
flow_pkts() {
	qnat ct show "$BR" --json | jq -e --arg s "$a1" --arg d "$EXT_ADDR" \
		".[] | select(.proto == \"tcp\" and .orig.src == \$s and .orig.dst == \$d and .orig.sport == $SPORT) | .packets_orig"
}
# Sends a line on the long-lived connection and expects its echo.
exchange() {
	echo "$1" >&"${CONN[1]}" || fail "cannot write on the connection ($2)"
	local l
	read -r -t 5 l <&"${CONN[0]}" || fail "no echo for '$1' ($2)"
	[ "$l" = "echo:$1" ] || fail "echo '$l' for '$1' ($2)"
}

topo_init
attach
guest_veth g1
a1=$(guest_dhcp g1)
log "lease: g1=$a1"
ext_tcp_echo 8080

coproc CONN { in_guest g1 socat - TCP:"$EXT_ADDR":8080,sourceport=$SPORT; }
BG_PIDS+=("$CONN_PID")
exchange one "before the kill"
sock=$(ext_sock) || fail "ext has no established connection from :$SPORT"
pk1=$(flow_pkts) || { qnat ct show "$BR" >&2; fail "ct show lacks the flow from $a1:$SPORT"; }

# Attach again while attached: nothing changes.
sup=$(sup_pid) || fail "no supervisor running after attach"
out=$(qnat attach "$BR" --masq "$SUBNET") || fail "a second attach while attached failed"
echo "$out" | grep -q "already attached" || fail "second attach said '$out'"
[ "$(sup_pid)" = "$sup" ] || fail "the second attach replaced the supervisor"
[ "$(procs_in_host qnat-bpf)" = 1 ] || fail "$(procs_in_host qnat-bpf) supervisors run in the host namespace"
# Its --forward is put in place, not silently ignored; a conflicting one is refused.
qnat attach "$BR" --masq "$SUBNET" --forward tcp:8090:192.168.122.50:80 >/dev/null ||
	fail "a second attach with a new --forward failed"
qnat forward list "$BR" | grep -q "8090 -> 192.168.122.50:80" || fail "the second attach's --forward is not in place"
out=$(qnat attach "$BR" --masq "$SUBNET" --forward tcp:8090:192.168.122.51:80 2>&1) &&
	fail "a second attach with a conflicting --forward succeeded"
echo "$out" | grep -q "already forwarded" || fail "conflicting --forward: '$out'"
[ "$(sup_pid)" = "$sup" ] || fail "a second attach with --forward replaced the supervisor"

# The supervisor dies hard; the data plane carries on alone.
kill -KILL "$sup"
wait_for 5 sup_down "$sup" || fail "supervisor $sup still reported running after SIGKILL"
exchange two "no supervisor running"
[ "$(ext_sock)" = "$sock" ] || fail "the connection was replaced while no supervisor ran"

# The same attach command again recovers, keeping the flows.
attach
sup2=$(sup_pid) || fail "no supervisor after the re-attach"
[ "$sup2" != "$sup" ] || fail "re-attach reports the dead supervisor $sup"
exchange three "after the re-attach"
[ "$(ext_sock)" = "$sock" ] || fail "the connection was replaced after the re-attach"
pk2=$(flow_pkts) || { qnat ct show "$BR" >&2; fail "ct show lost the flow after the re-attach"; }
log "flow packets from the guest: $pk1 -> $pk2"
[ "$pk2" -ge $((pk1 + 2)) ] || fail "the flow's entry did not carry on (packets $pk1 -> $pk2): conntrack was not kept"

# A port that joins now is taken by the new supervisor.
guest_veth g2
wait_for 5 port_listed v-g2 || { qnat status "$BR" >&2; fail "the new supervisor did not attach v-g2"; }
in_host tc filter show dev v-g2 ingress | grep -q tc_port_in || fail "no tc_port_in on v-g2"
a2=$(guest_dhcp g2)
in_guest g2 busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || fail "g2 ($a2) cannot reach ext"

# dnsmasq killed: restarted by the supervisor, and serving.
dns=$(dns_pid) || fail "dnsmasq not running"
kill -KILL "$dns"
new_dns() { local p; p=$(dns_pid) && [ "$p" != "$dns" ] && kill -0 "$p"; }
wait_for 5 new_dns || { qnat status "$BR" >&2; fail "dnsmasq was not restarted within 5 s"; }
log "dnsmasq $dns -> $(dns_pid)"
[ "$(procs_in_host dnsmasq)" = 1 ] || fail "$(procs_in_host dnsmasq) dnsmasq processes in the host namespace"
guest_veth g3
a3=$(guest_dhcp g3)
if [ "$a3" = "$a1" ] || [ "$a3" = "$a2" ]; then fail "g3 leased an address already in use ($a3)"; fi
exchange four "at the end"
# Close the connection cleanly: EOF to socat, which sends a FIN.
w=${CONN[1]}
exec {w}>&-
pass
