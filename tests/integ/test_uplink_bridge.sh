#!/bin/bash
# Any uplink device (issue 13): the host's address on a bridge br0 that holds
# the wire (up0), as on hosts that also run bridged guests.  A plain attach
# (default flags; -v here for the log in the foreground, syslog has it always) finds br0 by the default route; --xdp auto finds no native
# XDP on a bridge and serves it with TC, and status says so; guests go out
# masqueraded.  When the default route moves to another device, the
# supervisor's log and doctor warn.
#
#   g1 (DHCP) ==veth== v-g1 ── virbr0 [qnat-bpf] host br0 198.51.100.1 ── up0 ==veth== ext
#                                                 alt0 203.0.113.1 ==veth== alt0p (ext)
. "$(dirname "$0")/lib.sh"
need jq
UP=br0

topo_init
in_host ip link add "$UP" type bridge || fail "bridge $UP"
in_host ip addr del "$HOST_ADDR/24" dev "$UPLINK"
in_host ip link set "$UPLINK" master "$UP"
in_host ip addr add "$HOST_ADDR/24" dev "$UP"
in_host ip link set "$UP" up
in_host ip route add default via "$EXT_ADDR"
ext_tcp_echo 7000

qnat attach "$BR" --masq "$SUBNET" --foreground -v 2>"$WORK/supervisor.log" &
BG_PIDS+=($!)
wait_for 30 qnat status "$BR" || fail "attach with default flags on a bridge uplink: $(cat "$WORK/supervisor.log")"
qnat status "$BR" --json | jq -e ".[0].uplink == \"$UP\" and .[0].uplink_xdp == \"off\"" >/dev/null ||
	fail "status: $(qnat status "$BR")"
qnat status "$BR" | grep -q "auto: TC" || fail "status does not say TC serves the uplink: $(qnat status "$BR")"
grep -q "no native XDP" "$WORK/supervisor.log" || fail "the log does not say why: $(cat "$WORK/supervisor.log")"

guest_veth g1
addr=$(guest_dhcp g1)
out=$(echo hi | in_guest g1 timeout 5 socat -T 2 - TCP:"$EXT_ADDR":7000)
[ "$out" = echo:hi ] || fail "the guest does not get out through $UP: '$out'"
[ "$(qnat ct count "$BR")" -ge 1 ] || fail "the guest's flow is not qnat-bpf's"
qnat doctor "$BR" --json | jq -e '.[] | select(.check == "default-route") | .result == "ok"' >/dev/null ||
	fail "doctor: $(qnat doctor "$BR")"
log "default flags on a bridge uplink: $UP found, TC (status says so), guest $addr out masqueraded"

# The default route moves away from the uplink.
ip link add alt0 netns "$NS_HOST" type veth peer name alt0p netns "$NS_EXT" || fail "veth alt0"
in_host ip addr add 203.0.113.1/24 dev alt0
in_host ip link set alt0 up
in_ext ip link set alt0p up
in_host ip route replace default via 203.0.113.2 dev alt0
wait_for 5 grep -q "default route now leaves via alt0" "$WORK/supervisor.log" ||
	fail "no warning in the log: $(cat "$WORK/supervisor.log")"
qnat doctor "$BR" >"$WORK/doctor" 2>&1
grep -q "default route now leaves via alt0" "$WORK/doctor" || fail "doctor does not warn: $(cat "$WORK/doctor")"
in_host ip route replace default via "$EXT_ADDR" dev "$UP"
wait_for 5 grep -q "leaves via the uplink $UP again" "$WORK/supervisor.log" || fail "no all-clear in the log"
log "default route moved to alt0: the log and doctor warn; back on $UP: the log says so"
pass
