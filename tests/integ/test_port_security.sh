#!/bin/bash
# Port security, on by default in NAT mode: a port may send only from the
# MAC it was first seen with, from one IPv4 address (its DHCP lease, which
# it follows, a static host, or else the first it used), and from its own
# IPv6 addresses (bound on first use or DAD, never another port's).  A
# guest cannot take another guest's address or MAC, poison ARP or neighbour
# caches, send VLAN-tagged frames, answer DHCP or DHCPv6, or send router
# advertisements or redirects (also behind extension headers).  Each refusal
# is counted, also on its port; honest guests never notice.  At the end,
# --no-port-security turns it all off.
#
#   g1 192.168.122.10 fd00:122::10 (victim)  ==veth== ┐
#   g2 (DHCP, fd00:122::20, the attacker)    ==veth== ┤ virbr0 [qnat-bpf] host up0 ==veth== ext
#   g3 192.168.122.30 fd00:122::30 (neighbour) =veth= ┘
. "$(dirname "$0")/lib.sh"
need python3
need jq

topo_init
attach
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
bound() { qnat status "$BR" | grep -q "v-g2 .*\[.* $a2 (lease)"; }
wait_for 5 bound || fail "g2's port is not bound to its lease $a2: $(qnat status "$BR" | grep ports)"
mac1=$(ip -n "${T}g1" link show eth0 | awk '/ether/ {print $2}')
mac2=$(ip -n "${T}g2" link show eth0 | awk '/ether/ {print $2}')
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

# The binding follows the guest's lease: a static host given now moves it, deleting it moves it back.
qnat dhcp host add "$BR" "$mac2" 192.168.122.77 >/dev/null || fail "dhcp host add"
moved() { qnat status "$BR" | grep -q "v-g2 .*\[.* 192.168.122.77 (lease)"; }
wait_for 5 moved || fail "g2's binding did not follow its static host: $(qnat status "$BR" | grep ports)"
qnat dhcp host del "$BR" "$mac2" >/dev/null || fail "dhcp host del"
wait_for 5 bound || fail "g2's binding did not return to its lease $a2"

# IPv6: each guest's own addresses work; another's, and lies about it, do not.
ip -n "${T}g1" addr add fd00:122::10/64 dev eth0
ip -n "${T}g3" addr add fd00:122::30/64 dev eth0
ip -n "${T}g2" addr add fd00:122::20/64 dev eth0
dad_done() { ! ip -n "${T}$1" -6 addr show dev eth0 | grep -q tentative; }
for g in g1 g2 g3; do wait_for 5 dad_done $g || fail "$g: DAD did not end"; done
in_guest g3 busybox ping6 -c 2 -W 2 fd00:122::10 >/dev/null || fail "g3 cannot reach g1 by IPv6"
in_guest g2 busybox ping6 -c 2 -W 2 fd00:122::30 >/dev/null || fail "g2 cannot reach g3 from its own IPv6 address"
qnat status "$BR" | grep -q "v-g1 .*\[.*fd00:122::10.*\]" || fail "g1's IPv6 address is not bound: $(qnat status "$BR" | grep ports)"
[ "$(counter drop_port_ip6)" = 0 ] || fail "honest IPv6 traffic was dropped"
g1ll=$(ip -n "${T}g1" -6 -o addr show dev eth0 scope link | awk '{print $4}' | cut -d/ -f1)

# Rogue servers and routers, and IPv6 lies, from g2; g1 and g3 count what reaches them.
recv_pids=()
for g in g1 g3; do
	in_guest $g python3 "$ROOT/tests/tools/rogue.py" recv eth0 "$mac2" 4 fd00:122::10 >"$WORK/rogue-$g" &
	recv_pids+=($!)
done
BG_PIDS+=("${recv_pids[@]}")
wait_for 5 grep -q ready "$WORK/rogue-g1" || fail "rogue recv in g1 did not start"
wait_for 5 grep -q ready "$WORK/rogue-g3" || fail "rogue recv in g3 did not start"
dhcp0=$(counter drop_rogue_dhcp) ra0=$(counter drop_rogue_ra) ip60=$(counter drop_port_ip6)
rogue() { in_guest g2 python3 "$ROOT/tests/tools/rogue.py" send eth0 "$@" || fail "rogue send $*"; }
rogue dhcp4 5
rogue dhcp6 5
for k in ra ra-hbh ra-frag redirect; do rogue $k 5; done
rogue udp6 5 fd00:122::10 fd00:122::30      # g1's global address
rogue udp6 5 "$g1ll" fd00:122::30           # g1's link-local address
rogue na 5 fe80::bad ff02::1 fd00:122::10   # "fd00:122::10 is at g2's MAC"
wait "${recv_pids[@]}"
for g in g1 g3; do
	log "$g saw from g2: $(tail -1 "$WORK/rogue-$g")"
	grep -q "dhcp4 0 dhcp6 0 ra 0 redirect 0 na 0 from6 0" "$WORK/rogue-$g" ||
		fail "g2's rogue frames reached $g: $(tail -1 "$WORK/rogue-$g")"
done
[ "$(($(counter drop_rogue_dhcp) - dhcp0))" = 10 ] || fail "10 DHCP server replies, drop_rogue_dhcp +$(($(counter drop_rogue_dhcp) - dhcp0))"
[ "$(($(counter drop_rogue_ra) - ra0))" = 20 ] || fail "20 RAs and redirects, drop_rogue_ra +$(($(counter drop_rogue_ra) - ra0))"
[ "$(($(counter drop_port_ip6) - ip60))" = 15 ] || fail "15 IPv6 lies, drop_port_ip6 +$(($(counter drop_port_ip6) - ip60))"
ip -n "${T}g1" -6 addr show | grep -q "fd00:bad" && fail "g1 configured an address from g2's RA"
in_guest g3 busybox ping6 -c 1 -W 2 fd00:122::10 >/dev/null || fail "g3 lost g1 (IPv6)"
in_guest g3 ip -6 neigh show fd00:122::10 | grep -q "$mac1" ||
	fail "g3's neighbour cache was poisoned: $(in_guest g3 ip -6 neigh show fd00:122::10)"
refused=$(qnat status "$BR" --json | jq -r '.[0].ports[] | select(.name == "v-g2") | .refused')
[ "$refused" -ge 45 ] || fail "g2's port shows $refused refusals, at least 45 were made"
log "g2's port: $refused frames refused; g1's and g3's ports: $(qnat status "$BR" --json | jq -c '[.[0].ports[] | select(.name != "v-g2") | .refused]')"

# g2 takes g1's MAC: dropped at its port.
before=$(counter drop_port_mac)
ip -n "${T}g2" link set eth0 address "$mac1"
in_guest g2 busybox ping -c 2 -W 1 "$EXT_ADDR" >/dev/null 2>&1 && fail "g2 got out with g1's MAC"
[ "$(counter drop_port_mac)" -gt "$before" ] || fail "drop_port_mac not counted"
# g1 never noticed.
in_guest g1 busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 was disturbed"
in_guest g3 busybox ping -c 2 -W 2 192.168.122.10 >/dev/null || fail "g1 unreachable from g3"

# --no-port-security: none of it is checked (g2 keeps g1's MAC; its RA reaches g3).
qnat detach "$BR" || fail detach
attach --no-port-security
for g in g2 g3; do ip -n "$NS_HOST" link set "v-$g" master "$BR" up || fail "enslave v-$g"; done
qnat status "$BR" | grep -q "port security: off" || fail "status does not say port security is off"
in_guest g3 python3 "$ROOT/tests/tools/rogue.py" recv eth0 "$mac1" 2 >"$WORK/rogue-off" &
pid=$!
BG_PIDS+=($pid)
wait_for 5 grep -q ready "$WORK/rogue-off" || fail "rogue recv in g3 did not start"
rogue ra 3
wait "$pid"
grep -q " ra 3 " "$WORK/rogue-off" || fail "with --no-port-security g2's RAs did not reach g3: $(tail -1 "$WORK/rogue-off")"
[ "$(counter drop_rogue_ra)" = 0 ] && [ "$(counter drop_port_mac)" = 0 ] || fail "--no-port-security still drops"
pass
