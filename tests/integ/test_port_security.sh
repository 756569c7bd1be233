#!/bin/bash
# Port security (--port-security): a port may send only from the MAC it was
# first seen with and from one IPv4 address (its DHCP lease, a static host,
# or else the first it used); a guest cannot take another guest's address or
# MAC, nor poison ARP with it, nor send VLAN-tagged frames (whose addresses
# the binding cannot judge).  Each refusal is counted; honest guests never
# notice.
#
#   g1 192.168.122.10 (victim)   ==veth== ┐
#   g2 (DHCP, the attacker)      ==veth== ┤ virbr0 [qnat-bpf --port-security] host up0 ==veth== ext
#   g3 192.168.122.30 (neighbour) ==veth== ┘
. "$(dirname "$0")/lib.sh"
need python3

topo_init
attach --port-security
guest_veth g1
guest_addr g1 192.168.122.10
guest_veth g2
a2=$(guest_dhcp g2)
guest_veth g3
guest_addr g3 192.168.122.30
counter() { qnat stats "$BR" --json | grep -oE "\"$1\":\\{\"packets\":[0-9]+" | grep -oE '[0-9]+$'; }

in_guest g1 busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot reach out"
in_guest g2 busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || fail "g2 cannot reach out with its lease"
in_guest g3 busybox ping -c 2 -W 2 192.168.122.10 >/dev/null || fail "g3 cannot reach g1"
bound() { ip netns exec "$NS_HOST" "$QNAT" status "$BR" | grep -q "v-g2 .*\[.* $a2\]"; }
wait_for 5 bound || fail "g2's port is not bound to its lease $a2: $(qnat status "$BR" | grep ports)"
mac1=$(ip -n "${T}g1" link show eth0 | awk '/ether/ {print $2}')
[ "$(counter drop_port_mac)" = 0 ] && [ "$(counter drop_port_ip)" = 0 ] || fail "honest traffic was dropped"

# g2 takes g1's address: nothing it sends with it gets anywhere.
ip -n "${T}g2" addr add 192.168.122.10/24 dev eth0
in_guest g2 busybox ping -c 2 -W 1 -I 192.168.122.10 "$EXT_ADDR" >/dev/null 2>&1 && fail "g2 got out with g1's address"
[ "$(counter drop_port_ip)" -gt 0 ] || fail "drop_port_ip not counted"
# ARP poisoning: g2 claims 192.168.122.10 to g3; g3 keeps g1's MAC.
in_guest g2 busybox arping -c 2 -U -I eth0 -s 192.168.122.10 192.168.122.10 >/dev/null 2>&1
in_guest g2 busybox arping -c 2 -A -I eth0 -s 192.168.122.10 192.168.122.30 >/dev/null 2>&1
in_guest g3 busybox ping -c 1 -W 2 192.168.122.10 >/dev/null || fail "g3 lost g1"
in_guest g3 ip neigh show 192.168.122.10 | grep -q "$mac1" || fail "g3's ARP cache was poisoned: $(in_guest g3 ip neigh show 192.168.122.10)"
ip -n "${T}g2" addr del 192.168.122.10/24 dev eth0

# Tagged frames (VLAN 10) from g3 to g1: none arrive, all counted.
in_guest g1 python3 "$ROOT/tests/tools/vlanframes.py" recv eth0 10 1 3 >"$WORK/vlan-g1" &
pid=$!
wait_for 5 grep -q ready "$WORK/vlan-g1" || fail "vlanframes recv in g1 did not start"
in_guest g3 python3 "$ROOT/tests/tools/vlanframes.py" send eth0 "$mac1" 10 20 192.168.122.10 192.168.122.30 ||
	fail "vlanframes send in g3"
wait "$pid"
grep -q "got 0 tagged, 0 bad, 0 untagged" "$WORK/vlan-g1" || fail "g1 received g3's tagged frames: $(tail -1 "$WORK/vlan-g1")"
[ "$(counter drop_port_vlan)" -ge 20 ] || fail "drop_port_vlan counted $(counter drop_port_vlan) of 20"
in_guest g3 busybox ping -c 1 -W 2 192.168.122.10 >/dev/null || fail "g3 untagged -> g1 after its tagged frames"

# g2 takes g1's MAC: dropped at its port.
before=$(counter drop_port_mac)
ip -n "${T}g2" link set eth0 address "$mac1"
in_guest g2 busybox ping -c 2 -W 1 "$EXT_ADDR" >/dev/null 2>&1 && fail "g2 got out with g1's MAC"
[ "$(counter drop_port_mac)" -gt "$before" ] || fail "drop_port_mac not counted"
# g1 never noticed.
in_guest g1 busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 was disturbed"
in_guest g3 busybox ping -c 2 -W 2 192.168.122.10 >/dev/null || fail "g1 unreachable from g3"
pass
