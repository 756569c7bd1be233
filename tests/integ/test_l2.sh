#!/bin/bash
# The L2 fast path: frames between guests go straight from port to port, past
# the kernel bridge.  Proof: a DROP rule on the bridge's own forward hook
# (nftables bridge family, unicast IPv4/IPv6) stays at zero packets while
# guests on veth and TAP ports ping (IPv4 and IPv6) and talk TCP, and while
# VLAN-tagged frames go between them intact, tag and all (this kernel has no
# 802.1Q devices: tests/tools/vlanframes.py sends and checks them), and a
# tagged IPv4 packet for the outside is never translated.  Also:
# MACs are learned, a MAC that moves to a new port is followed at once,
# a port that leaves takes its MACs along, and idle MACs age out.
# Tagged frames from guests need --no-port-security (port security, on by
# default, drops them: test_port_security.sh).
#
#   g1 ==veth== ┐
#   g2 ==veth== ┤ virbr0 [qnat-bpf; nft: bridge forward unicast ip/ip6 -> drop] host up0 ==veth== ext
#   g3 ==tap=== ┘
. "$(dirname "$0")/lib.sh"
need nft python3
VLANF=$ROOT/tests/tools/vlanframes.py

topo_init
attach --no-port-security --fdb-ageing 4
guest_veth g1
guest_addr g1 192.168.122.11
guest_veth g2
guest_addr g2 192.168.122.12
guest_tap g3
guest_addr g3 192.168.122.13
bridge_guard
base=0
dropped() { echo $(($(bridge_guard_count) - base)); }
# The guard itself must work: with the fast path bypassed for one frame (to a
# MAC qnat-bpf has not learned, so the bridge floods it), it counts a drop.
in_guest g1 ip neigh replace 192.168.122.99 lladdr 52:54:00:99:99:99 dev eth0
in_guest g1 busybox ping -c 1 -W 1 192.168.122.99 >/dev/null 2>&1
[ "$(dropped)" -ge 1 ] || fail "the bridge guard does not see forwarded unicast: the proof would be empty"
base=$(bridge_guard_count)
# Tagged frames too.
in_guest g1 python3 "$VLANF" send eth0 52:54:00:99:99:98 10 1 192.168.122.99 192.168.122.11
flooded() { [ "$(dropped)" -ge 1 ]; }
wait_for 2 flooded || fail "the bridge guard does not see tagged unicast: the proof would be empty"
sleep 0.2
base=$(bridge_guard_count)

in_guest g1 busybox ping -c 3 -W 2 192.168.122.12 >/dev/null || fail "g1 -> g2 (veth to veth)"
in_guest g1 busybox ping -c 3 -W 2 192.168.122.13 >/dev/null || fail "g1 -> g3 (veth to tap)"
bg in_guest g3 socat TCP-LISTEN:9000,bind=192.168.122.13,reuseaddr,fork SYSTEM:'cat'
sleep 0.3
head -c 200000 /dev/urandom >"$WORK/blob"
in_guest g2 socat -t 3 - TCP:192.168.122.13:9000 <"$WORK/blob" >"$WORK/blob.back" || fail "g2 -> g3 tcp"
cmp -s "$WORK/blob" "$WORK/blob.back" || fail "g2 -> g3 tcp payload differs"
ll2=$(ip -n "${T}g2" -6 addr show dev eth0 scope link | grep -oE 'fe80::[0-9a-f:]+')
in_guest g1 ping -6 -c 2 -W 2 "$ll2%eth0" >/dev/null 2>&1 || in_guest g1 busybox ping -6 -c 2 -W 2 "$ll2%eth0" >/dev/null ||
	fail "IPv6 link-local g1 -> g2"
[ "$(dropped)" = 0 ] || fail "$(dropped) guest-to-guest packets went through the kernel bridge"
l2=$(qnat stats "$BR" --json | grep -oE '"l2_fast":\{"packets":[0-9]+' | grep -oE '[0-9]+$')
[ "${l2:-0}" -gt 10 ] || fail "l2_fast counted ${l2:-0} frames"

mac1=$(cat /sys/class/net/lo/address 2>/dev/null >/dev/null; ip -n "${T}g1" link show eth0 | awk '/ether/ {print $2}')
mac2=$(ip -n "${T}g2" link show eth0 | awk '/ether/ {print $2}')
fdb=$(qnat fdb show "$BR")
echo "$fdb" | grep -qE "^$mac1 dev v-g1 " || fail "fdb lacks g1: $fdb"
echo "$fdb" | grep -qE "^$mac2 dev v-g2 " || fail "fdb lacks g2: $fdb"
qnat fdb show "$BR" --json | grep -q "\"mac\":\"$mac1\",\"port\":\"v-g1\"" || fail "fdb --json"

# VLAN 10, both ways between veth and TAP ports, and veth to veth.
# vlan_xfer FROM TO: 200 tagged frames, checked byte for byte on arrival.
announce() { in_guest "$1" busybox arping -q -U -c 1 -I eth0 -s "192.168.122.1${1#g}" "192.168.122.1${1#g}"; }
vlan_xfer() {
	local out=$WORK/vlan-$1-$2 to_mac pid
	to_mac=$(ip -n "${T}$2" link show eth0 | awk '/ether/ {print $2}')
	in_guest "$2" python3 "$VLANF" recv eth0 10 200 10 >"$out" &
	pid=$!
	wait_for 5 grep -q ready "$out" || fail "vlanframes recv in $2 did not start"
	# Both fresh in the FDB (--fdb-ageing 4): a broadcast from each.
	announce "$1"
	announce "$2"
	in_guest "$1" python3 "$VLANF" send eth0 "$to_mac" 10 200 || fail "vlanframes send in $1"
	wait "$pid"
	grep -q "got 200 tagged, 0 bad, 0 untagged" "$out" || fail "VLAN 10 $1 -> $2: $(tail -1 "$out")"
}
l2v=$(qnat stats "$BR" --json | grep -oE '"l2_fast":\{"packets":[0-9]+' | grep -oE '[0-9]+$')
vlan_xfer g1 g3
vlan_xfer g3 g1
vlan_xfer g1 g2
l2w=$(qnat stats "$BR" --json | grep -oE '"l2_fast":\{"packets":[0-9]+' | grep -oE '[0-9]+$')
[ $((l2w - l2v)) -ge 600 ] || fail "only $((l2w - l2v)) of 600 tagged frames went port to port"
# A tagged IPv4 packet from a guest's address to the outside, sent to the
# gateway: another VLAN's, so never translated and never out of the uplink.
in_ext python3 "$VLANF" recv eth0 10 1 3 >"$WORK/vlan-ext" &
pid=$!
wait_for 5 grep -q ready "$WORK/vlan-ext" || fail "vlanframes recv in ext did not start"
in_guest g1 python3 "$VLANF" send eth0 "$(ip -n "$NS_HOST" link show "$BR" | awk '/ether/ {print $2}')" 10 20 \
	"$EXT_ADDR" 192.168.122.11 || fail "vlanframes send to the gateway"
wait "$pid"
grep -q "got 0 tagged, 0 bad, 0 untagged" "$WORK/vlan-ext" || fail "a tagged packet left the uplink: $(tail -1 "$WORK/vlan-ext")"
qnat ct show "$BR" | grep -q "dport=4790" && fail "a tagged packet opened a flow"
[ "$(dropped)" = 0 ] || fail "$(dropped) tagged frames went through the kernel bridge"

# g2 moves to a new port, keeping its MAC and address: followed at once.
ip -n "$NS_HOST" link del v-g2
ip link add v-g2b netns "$NS_HOST" type veth peer name eth1 netns "${T}g2"
ip -n "${T}g2" link set eth1 address "$mac2"
ip -n "${T}g2" addr add 192.168.122.12/24 dev eth1
ip -n "${T}g2" link set eth1 up
ethtool_off() { ip netns exec "${T}g2" ethtool -K eth1 tx off >/dev/null 2>&1 || true; }
ethtool_off
ip -n "$NS_HOST" link set v-g2b master "$BR" up
gone() { ! ip netns exec "$NS_HOST" "$QNAT" fdb show "$BR" | grep -q " dev v-g2 "; }
wait_for 5 gone || fail "the removed port's MACs stayed"
# The supervisor takes the new port over on its link event; until then its frames are the bridge's.
wait_for 5 sh -c "ip netns exec $NS_HOST tc filter show dev v-g2b ingress | grep -q tc_port_in" ||
	fail "the supervisor did not take v-g2b over"
in_guest g1 busybox ping -c 2 -W 2 192.168.122.12 >/dev/null || fail "g1 -> g2 after the move"
qnat fdb show "$BR" | grep -qE "^$mac2 dev v-g2b " || fail "g2's MAC not followed to its new port"
[ "$(dropped)" = 0 ] || fail "after the move, $(dropped) packets went through the bridge"

# Idle MACs age out (--fdb-ageing 4).
aged() { ! ip netns exec "$NS_HOST" "$QNAT" fdb show "$BR" | grep -q "^$mac1 "; }
wait_for 10 aged || fail "g1's MAC did not age out"
pass
