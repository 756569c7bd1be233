#!/bin/bash
# ICMP errors about masqueraded flows reach the guest, translated back:
# PMTU discovery across a smaller-MTU hop (TCP would black-hole without
# "fragmentation needed"), traceroute (UDP and ICMP) shows every hop, and
# "port unreachable" refuses a UDP socket.  Quoted headers and checksums
# are verified with tcpdump -vv in the guest.
#
#   g1 ==veth== virbr0 [qnat-bpf] host up0 .1 ==== .2 rtr 203.0.113.1 ==mtu 1280== 203.0.113.2 far
. "$(dirname "$0")/lib.sh"

topo_init
NS_RTR=$NS_EXT
NS_FAR=${T}f
netns_add "$NS_FAR"
# Only the router side is small: far still offers MSS 1460, so the guest
# sends full-size segments and must learn the path MTU from the router.
ip link add eth1 netns "$NS_RTR" mtu 1280 type veth peer name eth0 netns "$NS_FAR"
ip -n "$NS_RTR" addr add 203.0.113.1/24 dev eth1 && ip -n "$NS_RTR" link set eth1 up
ip -n "$NS_FAR" addr add 203.0.113.2/24 dev eth0 && ip -n "$NS_FAR" link set eth0 up
ip -n "$NS_FAR" route add default via 203.0.113.1
ip netns exec "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS_RTR" route add 198.51.100.0/24 dev eth0 2>/dev/null || true
csum_full "$NS_RTR" eth1
csum_full "$NS_FAR" eth0
in_far() { ip netns exec "$NS_FAR" "$@"; }

attach
guest_veth g1
guest_addr g1 192.168.122.10
in_guest g1 busybox ping -c 1 -W 2 203.0.113.2 >/dev/null || fail "g1 cannot reach far"

in_guest g1 tcpdump -i eth0 --immediate-mode -nn -vv -l -U -w "$WORK/g1.pcap" icmp >/dev/null 2>"$WORK/g1.err" &
BG_PIDS+=($!)
cap=$!
wait_for 5 grep -q "listening on" "$WORK/g1.err" || fail "tcpdump did not start"

# Port unreachable: far has nothing on UDP 9; the guest's connected socket is refused.
out=$(echo x | in_guest g1 socat -t 1 - UDP:203.0.113.2:9,sourceport=41000 2>&1; echo "rc=$?")
echo "$out" | grep -qi "refused" || fail "UDP to a closed port was not refused: $out"

# Traceroute, UDP and ICMP: every hop answers, the router's answer is translated.
tr=$(in_guest g1 busybox traceroute -n -m 4 -w 1 -q 1 203.0.113.2 2>&1)
echo "$tr" | grep -qE "^ *1 +192\.168\.122\.1 " || fail "traceroute: hop 1 (gateway) missing: $tr"
echo "$tr" | grep -qE "^ *2 +198\.51\.100\.2 " || fail "traceroute: hop 2 (router) missing: $tr"
echo "$tr" | grep -qE "^ *3 +203\.0\.113\.2 " || fail "traceroute: destination missing: $tr"
tr=$(in_guest g1 busybox traceroute -I -n -m 4 -w 1 -q 1 203.0.113.2 2>&1)
echo "$tr" | grep -qE "^ *2 +198\.51\.100\.2 " || fail "ICMP traceroute: hop 2 (router) missing: $tr"

# PMTU: 1 MB over TCP from the guest across the 1280-byte hop.
head -c 1000000 /dev/urandom >"$WORK/blob"
bg in_far socat -u TCP-LISTEN:8090,bind=203.0.113.2,reuseaddr OPEN:"$WORK/blob.out",creat,trunc
sleep 0.3
timeout 20 ip netns exec "${T}g1" socat -u OPEN:"$WORK/blob" TCP:203.0.113.2:8090 || fail "TCP across the small-MTU hop failed (PMTU black hole?)"
wait_for 5 cmp -s "$WORK/blob" "$WORK/blob.out" || fail "payload across the small-MTU hop differs"

in_guest g1 ip route get 203.0.113.2 | grep -q "mtu 1280" || fail "the guest never learned the path MTU"

sleep 0.3
kill "$cap"; wait "$cap" 2>/dev/null
dump=$(tcpdump -nn -vv -r "$WORK/g1.pcap" 2>/dev/null)
echo "$dump" | grep -q "203.0.113.2 udp port 9 unreachable" || fail "guest saw no port unreachable"
echo "$dump" | grep -q "192.168.122.10.41000 > 203.0.113.2.9" || fail "port unreachable quotes an untranslated packet"
echo "$dump" | grep -q "need to frag (mtu 1280)" || fail "guest saw no fragmentation-needed"
echo "$dump" | grep -q "198.51.100.2 > 192.168.122.10: ICMP time exceeded" || fail "guest saw no time exceeded from the router"
if echo "$dump" | grep -qiE "bad cksum|incorrect"; then
	echo "$dump" | grep -iE -B2 "bad cksum|incorrect" | head -20 >&2
	fail "bad checksum in a translated ICMP error"
fi
pass
