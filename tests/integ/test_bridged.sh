#!/bin/bash
# Bridged mode (attach br0 --bridged --uplink eth0 --xdp native): the uplink
# joins the bridge, its address and default route move to the bridge (the
# host keeps its connectivity), guests get DHCP from the LAN and reach LAN
# hosts straight from port to port: guest -> LAN in the port programs (TC),
# LAN -> a TAP guest in XDP on the uplink (l2_xdp), LAN -> a veth guest in the
# uplink's TC port program.  A DROP rule on the kernel bridge's forward hook
# stays at zero throughout.  VLAN-tagged frames take the same paths, intact,
# tag and all.  detach puts the addressing back as it was and takes XDP off
# the uplink.
#
#   guest g1 ==veth== ┐                          (XDP native; lan0 "tx off": whole checksums, as a wire)
#                     br0 (10.50.0.2, was eth0's) [qnat-bpf --bridged] eth0 ==veth== lan0 LAN 10.50.0.1 (dnsmasq, router)
#   guest g2 ==tap=== ┘
. "$(dirname "$0")/lib.sh"
need nft jq python3
VLANF=$ROOT/tests/tools/vlanframes.py

BR=br0
UPLINK=eth0
NS_LAN=$NS_EXT
netns_add "$NS_HOST"
netns_add "$NS_LAN"
ip link add eth0 netns "$NS_HOST" type veth peer name lan0 netns "$NS_LAN"
ip -n "$NS_HOST" addr add 10.50.0.2/24 dev eth0 && ip -n "$NS_HOST" link set eth0 up
ip -n "$NS_LAN" addr add 10.50.0.1/24 dev lan0 && ip -n "$NS_LAN" link set lan0 up
ip -n "$NS_HOST" route add default via 10.50.0.1
csum_full "$NS_LAN" lan0
bg ip netns exec "$NS_LAN" dnsmasq --no-daemon --conf-file=/dev/null --interface=lan0 --bind-interfaces --port=0 \
	--dhcp-range=10.50.0.100,10.50.0.150,255.255.255.0,1h --dhcp-option=option:router,10.50.0.1 --no-ping \
	--dhcp-leasefile="$WORK/lan.leases" --pid-file= 2>"$WORK/lan-dnsmasq.log"
# It reads the client's line before answering: closing with unread data
# sends a RST, which can beat the answer (the "first connection" flake).
bg in_ext socat TCP-LISTEN:8080,bind=10.50.0.1,reuseaddr,fork SYSTEM:'read l; echo lan-$SOCAT_PEERADDR'
before_addr=$(ip -n "$NS_HOST" -4 -o addr show dev eth0 | awk '{print $4}')
before_route=$(ip -n "$NS_HOST" route show default)
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host cannot reach the LAN before attach"

qnat attach "$BR" --bridged --uplink eth0 --xdp native || fail "attach --bridged"
ip -n "$NS_HOST" -4 -o addr show dev br0 | grep -q "10.50.0.2/24" || fail "the address did not move to br0"
ip -n "$NS_HOST" -4 -o addr show dev eth0 | grep -q inet && fail "eth0 kept its address"
ip -n "$NS_HOST" route show default | grep -q "via 10.50.0.1 dev br0" || fail "the default route did not move: $(ip -n "$NS_HOST" route show default)"
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host lost the LAN"
qnat status "$BR" | grep -q "bridged" || fail "status does not say bridged"
qnat status "$BR" --json | jq -e '.[0].uplink_xdp == "native"' >/dev/null || fail "status does not show native XDP"
in_host ip -d link show eth0 | grep -q "prog/xdp" || fail "no XDP program on eth0"

bridge_guard
guest_veth g1
guest_tap g2
a1=$(guest_dhcp g1)
a2=$(guest_dhcp g2)
case "$a1 $a2" in 10.50.0.1[0-5][0-9]\ 10.50.0.1[0-5][0-9]) ;; *) fail "guests did not lease from the LAN: $a1 $a2" ;; esac
lan_ok() { [ "$(echo x | in_guest g1 socat -t 2 - TCP:10.50.0.1:8080 | cut -d: -f1)" = "lan-$a1" ]; }
lan_ok || fail "g1 -> LAN host: not straight, or not with its own address"
in_guest g2 busybox ping -c 2 -W 2 10.50.0.1 >/dev/null || fail "g2 (tap) -> LAN"
in_guest g1 busybox ping -c 2 -W 2 "$a2" >/dev/null || fail "g1 -> g2"

# counter NAME packets|bytes
counter() { qnat stats "$BR" --json | jq -e ".counters.$1.$2"; }
# TCP both ways between the LAN and guest G at ADDR, 1 MB each, compared.
head -c 1048576 /dev/urandom >"$WORK/blob"
bulk() {
	local g=$1 addr=$2 lan=$3 port=$4
	bg in_guest "$g" socat -u TCP-LISTEN:"$port",bind="$addr",reuseaddr OPEN:"$WORK/in-$g-$port",creat,trunc
	wait_for 5 in_guest "$g" sh -c "ss -Hltn 'sport = :$port' | grep -q ." || fail "$g: listener on $port"
	timeout 20 ip netns exec "$NS_LAN" socat -u OPEN:"$WORK/blob" TCP:"$addr":"$port" || fail "LAN -> $g ($addr) tcp"
	wait_for 5 cmp -s "$WORK/blob" "$WORK/in-$g-$port" || fail "LAN -> $g ($addr): payload differs"
	bg ip netns exec "$NS_LAN" socat -u TCP-LISTEN:"$port",bind="$lan",reuseaddr OPEN:"$WORK/out-$g-$port",creat,trunc
	wait_for 5 ip netns exec "$NS_LAN" sh -c "ss -Hltn 'sport = :$port' | grep -q ." || fail "LAN: listener on $port"
	timeout 20 ip netns exec "${T}$g" socat -u OPEN:"$WORK/blob" TCP:"$lan":"$port" || fail "$g -> LAN ($lan) tcp"
	wait_for 5 cmp -s "$WORK/blob" "$WORK/out-$g-$port" || fail "$g -> LAN ($lan): payload differs"
}
# LAN -> the TAP guest: XDP on the uplink redirects every frame into the TAP.
xdp0=$(counter l2_xdp bytes)
in_ext busybox ping -c 3 -W 2 -s 1000 "$a2" >/dev/null || fail "LAN -> g2 (tap) ping"
bulk g2 "$a2" 10.50.0.1 9001
xdp1=$(counter l2_xdp bytes)
log "l2_xdp: +$((xdp1 - xdp0)) bytes"
[ $((xdp1 - xdp0)) -ge 1048576 ] || fail "only $((xdp1 - xdp0)) bytes of LAN -> g2 went through XDP"
# LAN -> the veth guest: TC on the uplink (XDP leaves veth ports to it).
l2a=$(counter l2_fast bytes)
bulk g1 "$a1" 10.50.0.1 9002
l2b=$(counter l2_fast bytes)
[ $((l2b - l2a)) -ge 2097152 ] || fail "only $((l2b - l2a)) bytes of g1 <-> LAN went port to port"
[ "$(bridge_guard_count)" = 0 ] || fail "$(bridge_guard_count) unicast frames went through the kernel bridge"
qnat fdb show "$BR" | grep -q " dev eth0 " || fail "the LAN's MACs were not learned on the uplink"
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host lost the LAN with guests running"
# VLAN 10 between the LAN and both guests, both ways: every frame arrives
# tagged and byte for byte as sent (this kernel has no 802.1Q devices:
# tests/tools/vlanframes.py sends and checks the frames).
# vlan_xfer NS_FROM NS_TO: 200 tagged frames from eth0/lan0 to the other.
dev_of() { [ "$1" = "$NS_LAN" ] && echo lan0 || echo eth0; }
vlan_xfer() {
	local out=$WORK/vlan-$2 to_mac pid
	to_mac=$(ip -n "$2" link show "$(dev_of "$2")" | awk '/ether/ {print $2}')
	ip netns exec "$2" python3 "$VLANF" recv "$(dev_of "$2")" 10 200 10 >"$out" &
	pid=$!
	wait_for 5 grep -q ready "$out" || fail "vlanframes recv in $2 did not start"
	ip netns exec "$1" python3 "$VLANF" send "$(dev_of "$1")" "$to_mac" 10 200 || fail "vlanframes send in $1"
	wait "$pid"
	grep -q "got 200 tagged, 0 bad, 0 untagged" "$out" || fail "VLAN 10 $1 -> $2: $(tail -1 "$out")"
}
xdp0=$(counter l2_xdp packets) l2a=$(counter l2_fast packets)
vlan_xfer "$NS_LAN" "${T}g2"
xdp1=$(counter l2_xdp packets)
[ $((xdp1 - xdp0)) -ge 200 ] || fail "LAN -> g2 on VLAN 10: $((xdp1 - xdp0)) of 200 frames through XDP"
vlan_xfer "$NS_LAN" "${T}g1"
vlan_xfer "${T}g1" "$NS_LAN"
vlan_xfer "${T}g2" "$NS_LAN"
l2b=$(counter l2_fast packets)
log "VLAN 10: l2_xdp +$((xdp1 - xdp0)), l2_fast +$((l2b - l2a))"
[ $((l2b - l2a)) -ge 600 ] || fail "VLAN 10: $((l2b - l2a)) of 600 frames port to port in TC"
[ "$(bridge_guard_count)" = 0 ] || fail "$(bridge_guard_count) frames went through the kernel bridge"
# DHCP still reaches a guest behind XDP: g2 leases again.
[ "$(guest_dhcp g2)" = "$a2" ] || fail "g2 did not renew its lease from the LAN"

qnat detach "$BR" || fail "detach"
ip -n "$NS_HOST" link show br0 >/dev/null 2>&1 && fail "br0 left behind"
[ "$(ip -n "$NS_HOST" -4 -o addr show dev eth0 | awk '{print $4}')" = "$before_addr" ] || fail "eth0's address not restored"
[ "$(ip -n "$NS_HOST" route show default)" = "$before_route" ] || fail "default route not restored: $(ip -n "$NS_HOST" route show default)"
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host lost the LAN after detach"
in_host ip -d link show eth0 | grep -q "prog/xdp" && fail "XDP left on eth0"
# --xdp auto leaves a veth uplink to TC, as in NAT mode.
qnat attach "$BR" --bridged --uplink eth0 || fail "attach --bridged (xdp auto)"
qnat status "$BR" --json | jq -e '.[0].uplink_xdp == "off"' >/dev/null || fail "xdp auto attached XDP to a veth uplink"
in_host ip -d link show eth0 | grep -q "prog/xdp" && fail "XDP on the veth uplink with --xdp auto"
qnat detach "$BR" || fail "detach (xdp auto)"
pass
