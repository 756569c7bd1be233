#!/bin/bash
# Bridged mode (attach br0 --bridged --uplink eth0): the uplink joins the
# bridge, its address and default route move to the bridge (the host keeps
# its connectivity), guests get DHCP from the LAN and reach LAN hosts straight
# from port to port (a DROP rule on the kernel bridge's forward hook stays at
# zero), and detach puts the addressing back as it was.
#
#   guest g1 ==veth== ┐
#                     br0 (10.50.0.2, was eth0's) [qnat-bpf --bridged] eth0 ==veth== LAN 10.50.0.1 (dnsmasq, router)
#   guest g2 ==tap=== ┘
. "$(dirname "$0")/lib.sh"
need nft

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
bg in_ext socat TCP-LISTEN:8080,bind=10.50.0.1,reuseaddr,fork SYSTEM:'echo lan-$SOCAT_PEERADDR'
before_addr=$(ip -n "$NS_HOST" -4 -o addr show dev eth0 | awk '{print $4}')
before_route=$(ip -n "$NS_HOST" route show default)
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host cannot reach the LAN before attach"

qnat attach "$BR" --bridged --uplink eth0 || fail "attach --bridged"
ip -n "$NS_HOST" -4 -o addr show dev br0 | grep -q "10.50.0.2/24" || fail "the address did not move to br0"
ip -n "$NS_HOST" -4 -o addr show dev eth0 | grep -q inet && fail "eth0 kept its address"
ip -n "$NS_HOST" route show default | grep -q "via 10.50.0.1 dev br0" || fail "the default route did not move: $(ip -n "$NS_HOST" route show default)"
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host lost the LAN"
qnat status "$BR" | grep -q "bridged" || fail "status does not say bridged"

in_host nft -f - <<'NFT' || fail "nft"
table bridge qnatbr {
	chain guard {
		type filter hook forward priority 0;
		meta pkttype != { broadcast, multicast } ether type { ip, ip6 } counter drop
	}
}
NFT
guard() { in_host nft list chain bridge qnatbr guard | grep -oE 'packets [0-9]+' | cut -d' ' -f2; }
guest_veth g1
guest_tap g2
a1=$(guest_dhcp g1)
a2=$(guest_dhcp g2)
case "$a1 $a2" in 10.50.0.1[0-5][0-9]\ 10.50.0.1[0-5][0-9]) ;; *) fail "guests did not lease from the LAN: $a1 $a2" ;; esac
# (retried: the first connection right after the lease was seen to fail in
# 2 of 4 runs; an open issue, noted in the README's limits)
lan_ok() { [ "$(echo x | in_guest g1 socat -t 2 - TCP:10.50.0.1:8080 | cut -d: -f1)" = "lan-$a1" ]; }
wait_for 8 lan_ok || fail "g1 -> LAN host: not straight, or not with its own address"
in_guest g2 busybox ping -c 2 -W 2 10.50.0.1 >/dev/null || fail "g2 (tap) -> LAN"
in_guest g1 busybox ping -c 2 -W 2 "$a2" >/dev/null || fail "g1 -> g2"
[ "$(guard)" = 0 ] || fail "$(guard) unicast frames went through the kernel bridge"
qnat fdb show "$BR" | grep -q " dev eth0 " || fail "the LAN's MACs were not learned on the uplink"

qnat detach "$BR" || fail "detach"
ip -n "$NS_HOST" link show br0 >/dev/null 2>&1 && fail "br0 left behind"
[ "$(ip -n "$NS_HOST" -4 -o addr show dev eth0 | awk '{print $4}')" = "$before_addr" ] || fail "eth0's address not restored"
[ "$(ip -n "$NS_HOST" route show default)" = "$before_route" ] || fail "default route not restored: $(ip -n "$NS_HOST" route show default)"
in_host busybox ping -c 1 -W 2 10.50.0.1 >/dev/null || fail "the host lost the LAN after detach"
pass
