#!/bin/bash
# Fragmented UDP through the masquerade, both ways: a guest sends 4000- and
# 8000-byte datagrams (fragmented by the guest's stack) and the outside host
# answers with datagrams of the same size (fragmented by its stack).  Every
# fragment on the uplink carries the uplink address.
#
#   g1 ==veth== virbr0 [qnat-bpf] host up0 198.51.100.1 ==veth== 198.51.100.2 ext (UDP echo)
. "$(dirname "$0")/lib.sh"

topo_init
attach
guest_veth g1
guest_addr g1 192.168.122.20
bg in_ext socat -b 65536 UDP-RECVFROM:7000,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'cat'
sleep 0.3
capture_start frags "ip"
for size in 4000 8000; do
	head -c "$size" /dev/urandom >"$WORK/dgram.$size"
	in_guest g1 socat -b 65536 -t 2 - UDP:"$EXT_ADDR":7000 <"$WORK/dgram.$size" >"$WORK/back.$size" ||
		fail "udp $size bytes: no answer"
	cmp -s "$WORK/dgram.$size" "$WORK/back.$size" || fail "udp $size bytes: answer differs ($(stat -c %s "$WORK/back.$size") bytes back)"
done
dump=$(capture_stop frags)
[ -n "${QNAT_SHOW_DUMP:-}" ] && echo "$dump" | head -20 >&2
echo "$dump" | grep -q "offset [1-9]" || fail "nothing was fragmented: the test proves nothing"
echo "$dump" | grep -q "192\.168\.122\." && fail "a fragment left with a guest address"
stats=$(qnat stats "$BR" --json)
echo "$stats" | grep -qE '"drop_leak":\{"packets":0,' || fail "fragments were dropped as leaks: $stats"
pass
