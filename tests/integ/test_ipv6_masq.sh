#!/bin/bash
# --masq6 (issue 14): guests on a veth and on a TAP get SLAAC addresses and a
# default route from dnsmasq's router advertisements, reach an IPv6 server
# outside by ping, TCP and UDP, and the outside sees only the uplink's IPv6
# address (two guests on one source port: the first keeps it, the second
# gets another); DNS answers on the IPv6 gateway; a 300 kB upload crosses a
# 1280-MTU hop (Packet Too Big translated back to the guest); traceroute6
# shows the hops; nothing unsolicited reaches a guest; ct, status, stats
# show the flows, which expire; detach undoes the IPv6 settings; bad
# prefixes are refused and change nothing.  No ip6tables, no nft NAT.
#
#   g1 eth0 ==veth== v-g1 ┐                                                                  (1280)
#                         virbr0 fd00:122::1 host up0 2001:db8:ff::1 ==== ext 2001:db8:ff::2 ==== far 2001:db8:fa::2
#   g2 eth0 (tap) == t-g2 ┘
. "$(dirname "$0")/lib.sh"
need jq

SUBNET6=fd00:122::/64
GW6=fd00:122::1
topo_init
topo_ip6
far6_init
fwd_before=$(in_host sysctl -n net.ipv6.conf.all.forwarding)
attach --masq6 "$SUBNET6" --dns-host 192.168.122.50,web.example --timeout udp=8 --timeout udp_stream=8 --timeout icmp=8
guest_veth g1
guest_tap g2
a1=$(guest_slaac g1 "$SUBNET6")
a2=$(guest_slaac g2 "$SUBNET6")
log "SLAAC: g1=$a1 g2=$a2"
[ "$a1" != "$a2" ] || fail "both guests have $a1"
in_guest g1 ip -6 route show default | grep -q "via fe80:" || fail "g1's default route is not via the bridge's link-local"

# ext can route the prefix to the host: only the policy keeps it out.
in_ext ip -6 route add "$SUBNET6" via "$HOST6_ADDR"
ext6_peer_tcp 7000
ext6_peer_udp 7001
in_guest g1 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" >/dev/null || fail "g1 cannot ping6 the outside"
in_guest g2 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" >/dev/null || fail "g2 (TAP) cannot ping6 the outside"
p1=$(in_guest g1 socat -T 3 - TCP6:["$EXT6_ADDR"]:7000,sourceport=40000 </dev/null) || fail "g1 tcp"
p2=$(in_guest g2 socat -T 3 - TCP6:["$EXT6_ADDR"]:7000,sourceport=40000 </dev/null) || fail "g2 tcp"
pu=$(echo x | in_guest g1 socat -T 3 - UDP6:["$EXT6_ADDR"]:7001,sourceport=40001) || fail "g1 udp"
log "ext saw: tcp g1 '$p1', tcp g2 '$p2', udp g1 '$pu'"
host6=$(ip6_full "$HOST6_ADDR")
[ "$p1" = "peer=$host6 port=40000" ] || fail "g1's TCP: ext saw '$p1', not the uplink's address and port 40000"
case "$p2" in "peer=$host6 port=40000") fail "both guests got port 40000" ;; "peer=$host6 port="*) ;;
*) fail "g2's TCP: ext saw '$p2'" ;; esac
[ "$pu" = "peer=$host6 port=40001" ] || fail "g1's UDP: ext saw '$pu'"

# The tools, while the flows are fresh (udp=8, icmp=8).
n6=$(qnat ct count "$BR" --family ipv6) || fail "ct count --family ipv6"
[ "$n6" -ge 4 ] || fail "ct count --family ipv6: $n6"
qnat ct show "$BR" --family ipv6 --proto tcp --guest "$a2" | grep -q "src=$a2 dst=$EXT6_ADDR sport=40000 dport=7000" ||
	fail "ct show: g2's TCP flow: $(qnat ct show "$BR" --family ipv6)"
qnat ct show "$BR" --src "$SUBNET6" --proto udp | grep -q "src=$EXT6_ADDR dst=$HOST6_ADDR sport=7001 dport=40001" ||
	fail "ct show: g1's UDP flow and its reply tuple: $(qnat ct show "$BR" --proto udp)"
qnat ct show "$BR" --proto icmpv6 | grep -q "src=$a1 dst=$EXT6_ADDR" || fail "ct show: no ICMPv6 echo flow"
[ "$(qnat ct count "$BR" --family ipv4)" = 0 ] || fail "ct count --family ipv4 counts IPv6 flows"
qnat ct show "$BR" --src fd00:122::/300 2>/dev/null && fail "ct show took a /300"
st=$(qnat status "$BR")
echo "$st" | grep -q "ipv6 masquerade $SUBNET6 gateway $GW6" || fail "status: $st"
echo "$st" | grep -q "uplink up0 address $HOST_ADDR $HOST6_ADDR" || fail "status: no uplink IPv6 address: $st"
[ "$(qnat status "$BR" --json | jq ".[0].conntrack.entries_ipv6")" -ge 4 ] || fail "status --json: entries_ipv6"
[ "$(counters | jq .snat6_fast)" -gt 0 ] || fail "stats: snat6_fast counted nothing"
[ "$(counters | jq .rnat6_tc)" -gt 0 ] || fail "stats: rnat6_tc counted nothing"

# DNS on the IPv6 gateway.
out=$(in_guest g1 busybox nslookup web.example "$GW6" 2>&1) || fail "DNS over IPv6: $out"
echo "$out" | grep -q 192.168.122.50 || fail "DNS on $GW6 did not answer web.example: $out"

# PMTU: far is behind a 1280-MTU link; no router fragments IPv6.
far6_upload g1

# traceroute6: the gateway (the host decrements the hop limit), ext, far.
hops=$(in_guest g1 busybox traceroute6 -n -q 1 -w 2 -m 5 "$FAR6_ADDR" 2>&1) || fail "traceroute6: $hops"
log "traceroute6: $(echo "$hops" | tr '\n' '|')"
echo "$hops" | grep -qE "^ *2 +$EXT6_ADDR " || fail "traceroute6: hop 2 is not ext"
echo "$hops" | grep -qE "^ *3 +$FAR6_ADDR " || fail "traceroute6: hop 3 is not far"

# Nothing unsolicited: ping, TCP and UDP from ext to a guest's address.
before=$(counters | jq .drop_no_flow)
in_ext busybox ping -6 -c 2 -W 1 "$a1" >/dev/null 2>&1 && fail "an unsolicited ping reached g1"
bg in_guest g1 socat TCP6-LISTEN:7100,reuseaddr OPEN:/dev/null
in_ext socat -T 2 - TCP6:["$a1"]:7100,connect-timeout=2 </dev/null 2>/dev/null && fail "an unsolicited TCP connection reached g1"
[ "$(counters | jq .drop_no_flow)" -gt "$before" ] || fail "drop_no_flow did not count the unsolicited packets"

# Expiry (udp=8, icmp=8): the UDP and ICMPv6 flows go, both halves.
no_flows() { [ "$(qnat ct count "$BR" "$@")" = 0 ]; }
wait_for 20 no_flows --family ipv6 --proto udp ||
	fail "the IPv6 UDP flow did not expire: $(qnat ct show "$BR" --proto udp)"
wait_for 20 no_flows --proto icmpv6 || fail "the ICMPv6 flows did not expire"
# ... and the port is free again: the same datagram gets its port back.
pu=$(echo x | in_guest g1 socat -T 3 - UDP6:["$EXT6_ADDR"]:7001,sourceport=40001) || fail "g1 udp after expiry"
[ "$pu" = "peer=$host6 port=40001" ] || fail "after expiry, ext saw '$pu'"

# Refusals change nothing: not a /64, not IPv6, both modes.
for bad in "--masq6 fd00:1::/56" "--masq6 10.9.0.0/24" "--masq6 fd00:1::/64 --route6 2001:db8:1::/64" \
	"--route6 fe80::/64"; do
	# shellcheck disable=SC2086 # (the options)
	out=$(qnat attach virbr9 --masq 10.9.0.0/24 $bad 2>&1) && fail "attach $bad accepted"
	log "attach $bad: $out"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "attach $bad: more than one line of error"
	in_host ip link show virbr9 >/dev/null 2>&1 && fail "attach $bad left virbr9 behind"
done

# Detach: forwarding back to what it was, the gateway6 gone.
qnat detach "$BR" >/dev/null || fail "detach"
[ "$(in_host sysctl -n net.ipv6.conf.all.forwarding)" = "$fwd_before" ] || fail "detach left IPv6 forwarding on"
pass
