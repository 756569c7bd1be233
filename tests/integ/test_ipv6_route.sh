#!/bin/bash
# --route6 (issue 14): libvirt's routed IPv6.  Guests on a veth and on a TAP
# get SLAAC addresses from dnsmasq's router advertisements and keep them: the
# outside sees each guest's own address (TCP, UDP, ping), reaches a guest
# unsolicited (routed networks are open inbound, as libvirt's are), and a
# 300 kB upload crosses a 1280-MTU hop.  The guests' packets take the fast
# path (route6_fast, stateless: no conntrack), not masquerade (snat6_fast
# stays 0).
#
#   g1 eth0 ==veth== v-g1 ┐                                                                  (1280)
#                         virbr0 2001:db8:122::1 host up0 2001:db8:ff::1 ==== ext 2001:db8:ff::2 ==== far
#   g2 eth0 (tap) == t-g2 ┘
. "$(dirname "$0")/lib.sh"
need jq

PREFIX6=2001:db8:122::/64
topo_init
topo_ip6
far6_init
attach --route6 "$PREFIX6"
guest_veth g1
guest_tap g2
a1=$(guest_slaac g1 "$PREFIX6")
a2=$(guest_slaac g2 "$PREFIX6")
log "SLAAC: g1=$a1 g2=$a2"
qnat status "$BR" | grep -q "ipv6 routed $PREFIX6 gateway 2001:db8:122::1" || fail "status: $(qnat status "$BR")"
# The outside routes the prefix to the host, as an upstream router would.
in_ext ip -6 route add "$PREFIX6" via "$HOST6_ADDR"
in_far ip -6 route add "$PREFIX6" via 2001:db8:fa::1 2>/dev/null || true

ext6_peer_tcp 7000
ext6_peer_udp 7001
in_guest g1 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" >/dev/null || fail "g1 cannot ping6 the outside"
in_guest g2 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" >/dev/null || fail "g2 (TAP) cannot ping6 the outside"
p1=$(in_guest g1 socat -T 3 - TCP6:["$EXT6_ADDR"]:7000,sourceport=40000 </dev/null) || fail "g1 tcp"
p2=$(echo x | in_guest g2 socat -T 3 - UDP6:["$EXT6_ADDR"]:7001,sourceport=40001) || fail "g2 udp"
log "ext saw: tcp g1 '$p1', udp g2 '$p2'"
[ "$p1" = "peer=$(ip6_full "$a1") port=40000" ] || fail "g1's TCP: ext saw '$p1', not g1's own address"
[ "$p2" = "peer=$(ip6_full "$a2") port=40001" ] || fail "g2's UDP: ext saw '$p2', not g2's own address"

# Open inbound: ext pings and connects to a guest that never spoke to it first.
in_ext busybox ping -6 -c 2 -W 2 "$a2" >/dev/null || fail "ext cannot ping g2's routed address"
bg in_guest g1 socat TCP6-LISTEN:7100,reuseaddr,fork EXEC:"echo inbound-ok"
wait_for 5 sh -c "ip netns exec ${T}g1 ss -ltn | grep -q :7100" || fail "g1's listener"
got=$(in_ext socat -T 3 - TCP6:["$a1"]:7100,connect-timeout=3 </dev/null) || fail "ext cannot connect to g1"
[ "$got" = inbound-ok ] || fail "ext's connection to g1 got '$got'"

# PMTU through the 1280 hop: Packet Too Big comes back to the guest's own address.
far6_upload g1

c=$(counters)
[ "$(echo "$c" | jq .route6_fast)" -gt 0 ] || fail "route6_fast counted nothing: $c"
[ "$(echo "$c" | jq .snat6_fast)" = 0 ] || fail "a routed network masqueraded: $c"

qnat detach "$BR" >/dev/null || fail "detach"
pass
