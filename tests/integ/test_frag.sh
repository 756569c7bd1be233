#!/bin/bash
# Fragmented UDP through the masquerade, both ways: a guest sends 4000- and
# 8000-byte datagrams (fragmented by the guest's stack) and the outside host
# answers with datagrams of the same size (fragmented by its stack).  Every
# fragment on the uplink carries the uplink address.
#
# Then fragments out of order (fragsend).  From a guest, the first fragment
# last.  From the outside host, answers to a guest with the first fragment
# last, or after all the others.  The later fragments
# wait in qnat-bpf's stash until the first says the datagram is the guest's,
# and the supervisor sends them on at once (ring buffer event, not the 2-s
# sweep), to a veth port, to a TAP port, and through the bridge for a flow
# whose port is not known.  The host's own datagrams still reassemble, their
# copies are dropped, as are copies whose first fragment never comes, after
# 30 s; and copies stashed while the supervisor is dead are delivered by the
# next one, which adopts the stash.
#
#   g1 ==veth== ┐
#   g2 ==tap=== virbr0 [qnat-bpf] host up0 198.51.100.1 ==veth== 198.51.100.2 ext (UDP echo, fragsend)
. "$(dirname "$0")/lib.sh"
need jq ss
FRAGSEND=${FRAGSEND:-$ROOT/build/fragsend}
[ -x "$FRAGSEND" ] || fail "$FRAGSEND not built (run make)"

topo_init
attach
guest_veth g1
guest_addr g1 192.168.122.20
guest_tap g2
guest_addr g2 192.168.122.21
bg in_ext socat -b 65536 UDP-RECVFROM:7000,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'cat'
sleep 0.3
capture_start frags "ip"
for size in 4000 8000; do
	head -c "$size" /dev/urandom >"$WORK/dgram.$size"
	in_guest g1 socat -b 65536 -t 2 - UDP:"$EXT_ADDR":7000 <"$WORK/dgram.$size" >"$WORK/back.$size" ||
		fail "udp $size bytes: no answer"
	cmp -s "$WORK/dgram.$size" "$WORK/back.$size" || fail "udp $size bytes: answer differs ($(stat -c %s "$WORK/back.$size") bytes back)"
done

counter() { qnat stats "$BR" --json | jq -e ".counters.$1.packets"; }
counter_is() { [ "$(counter "$1")" = "$2" ]; }
# ASK ADDR PORT SPORT FILE [WAIT [SIZE]]: one datagram (SIZE bytes, 2) from
# SPORT, the answer into FILE; prints the seconds it took.
ASK='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[3])))
s.settimeout(float(sys.argv[5]) if len(sys.argv) > 5 else 5)
t = time.monotonic()
s.sendto(b"h" * (int(sys.argv[6]) if len(sys.argv) > 6 else 2), (sys.argv[1], int(sys.argv[2])))
d = s.recv(65535)
print("%.3f" % (time.monotonic() - t))
open(sys.argv[4], "wb").write(d)
'
fragsend_ready() { in_ext ss -Hlun "sport = :$1" | grep -q .; }
# GUEST ORDER SPORT [SIZE]: GUEST asks from SPORT (SIZE bytes), ext answers
# 4000 bytes in ORDER.
ask_frag() {
	local g=$1 order=$2 sport=$3 size=${4:-2} secs fs
	head -c 4000 /dev/urandom >"$WORK/fs.data"
	rm -f "$WORK/fs.back"
	in_ext "$FRAGSEND" --order "$order" --answer "$EXT_ADDR:7001" <"$WORK/fs.data" >"$WORK/fs.peer" 2>"$WORK/fs.err" &
	fs=$!
	wait_for 5 fragsend_ready 7001 || fail "fragsend did not start"
	secs=$(in_guest "$g" python3 -c "$ASK" "$EXT_ADDR" 7001 "$sport" "$WORK/fs.back" 5 "$size") ||
		fail "$g $order: no answer"
	wait "$fs" || fail "fragsend: $(cat "$WORK/fs.err")"
	cmp -s "$WORK/fs.data" "$WORK/fs.back" || fail "$order: answer differs ($(stat -c %s "$WORK/fs.back") bytes)"
	grep -qx "$HOST_ADDR:$sport" "$WORK/fs.peer" || fail "$order: ext saw $(cat "$WORK/fs.peer")"
	echo "$secs"
}
stashed0=$(counter frag_stashed)
for order in reverse first-last; do
	for i in 1 2 3; do
		secs=$(ask_frag g1 "$order" $((40700 + i))) || exit 1
		# The sweep passes every 2 s: six answers this fast came by the event.
		awk "BEGIN { exit !($secs < 1) }" || fail "$order: the answer took ${secs}s"
	done
done
# 4008 bytes of UDP: three fragments, two of them ahead of the first.
[ $(($(counter frag_stashed) - stashed0)) = 12 ] || fail "stashed $(($(counter frag_stashed) - stashed0)), not 12"
[ "$(counter frag_delivered)" = 12 ] || fail "delivered $(counter frag_delivered), not 12"
[ "$(counter frag_expired)" = 0 ] || fail "copies dropped: $(counter frag_expired)"
# A TAP port; then a flow opened by a fragmented request, which took the
# stack path: no port or MAC known, the copies go by the bridge.
ask_frag g2 reverse 40704 >/dev/null || exit 1
ask_frag g1 reverse 40705 3000 >/dev/null || exit 1
[ "$(counter frag_delivered)" = 16 ] || fail "delivered $(counter frag_delivered), not 16"

# RECV ADDR PORT FILE: one datagram into FILE (5 s at most); prints its sender.
RECV='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(5)
d, a = s.recvfrom(65535)
open(sys.argv[3], "wb").write(d)
print("%s:%d" % a)
'
# From the guest, first fragment last: the uplink's egress translates later
# fragments by their address alone, so their order does not matter.
bg in_ext python3 -c "$RECV" "$EXT_ADDR" 7004 "$WORK/out.back" >"$WORK/out.peer"
wait_for 5 fragsend_ready 7004 || fail "ext listener did not start"
head -c 4000 /dev/urandom >"$WORK/out.data"
in_guest g1 "$FRAGSEND" --order reverse 192.168.122.20:40730 "$EXT_ADDR:7004" <"$WORK/out.data" ||
	fail "fragsend from the guest"
wait_for 5 test -s "$WORK/out.peer" || fail "the guest's reversed datagram did not arrive"
cmp -s "$WORK/out.data" "$WORK/out.back" || fail "the guest's reversed datagram differs"
grep -qx "$HOST_ADDR:40730" "$WORK/out.peer" || fail "the guest's datagram came from $(cat "$WORK/out.peer")"

# The host's own datagram, first fragment last: the host reassembles it as
# before; its copies are dropped (counted as expired) by the next sweep.
bg in_host python3 -c "$RECV" "$HOST_ADDR" 7002 "$WORK/host.back" >/dev/null
wait_for 5 sh -c "ip netns exec $NS_HOST ss -Hlun 'sport = :7002' | grep -q ." || fail "host listener did not start"
head -c 3000 /dev/urandom >"$WORK/host.data"
in_ext "$FRAGSEND" --order reverse "$EXT_ADDR:7003" "$HOST_ADDR:7002" <"$WORK/host.data" || fail "fragsend to the host"
wait_for 5 test -s "$WORK/host.back" || fail "the host's own fragmented datagram did not reassemble"
cmp -s "$WORK/host.data" "$WORK/host.back" || fail "the host's datagram differs"
wait_for 5 counter_is frag_expired 2 ||
	fail "the host's stashed copies were not dropped (frag_expired $(counter frag_expired))"
[ "$(counter frag_delivered)" = 16 ] || fail "the host's fragments were sent to a guest"

# A datagram whose first fragment never comes: its copies wait 30 s (Linux's
# ipfrag_time), then a sweep drops them (checked at the end).
orphans_at=$(date +%s)
head -c 4000 /dev/urandom | in_ext "$FRAGSEND" --no-first "$EXT_ADDR:7001" "$HOST_ADDR:40701" ||
	fail "fragsend without a first fragment"

# Supervisor killed: the copies and the event wait in the maps; the next
# attach adopts them and delivers.
sup=$(qnat status "$BR" --json | jq -e '.[0].supervisor_pid') || fail "no supervisor pid"
kill -KILL "$sup"
wait_for 5 sh -c "[ ! -e /proc/$sup ] || grep -q ' Z ' /proc/$sup/stat" || fail "supervisor did not die"
head -c 4000 /dev/urandom >"$WORK/fs.data"
rm -f "$WORK/fs.back"
in_ext "$FRAGSEND" --order reverse --answer "$EXT_ADDR:7001" <"$WORK/fs.data" >"$WORK/fs.peer" 2>"$WORK/fs.err" &
fs=$!
wait_for 5 fragsend_ready 7001 || fail "fragsend did not start"
in_guest g1 python3 -c "$ASK" "$EXT_ADDR" 7001 40710 "$WORK/fs.back" 15 >/dev/null &
ask=$!
wait "$fs" || fail "fragsend: $(cat "$WORK/fs.err")"
sleep 1
[ -s "$WORK/fs.back" ] && fail "the answer got through with no supervisor: the test proves nothing"
attach
wait "$ask" || fail "the copies stashed before the restart were not delivered"
cmp -s "$WORK/fs.data" "$WORK/fs.back" || fail "answer after the restart differs"
[ "$(counter frag_delivered)" = 18 ] || fail "delivered $(counter frag_delivered), not 18"
wait_for 40 counter_is frag_expired 4 || fail "copies that never got a first fragment were not dropped"
[ $(($(date +%s) - orphans_at)) -ge 30 ] || fail "copies dropped after $(($(date +%s) - orphans_at)) s, before 30 s"

# A jumbo uplink's later fragments are too big to copy: counted, and only
# the host gets them (this one's first fragment never comes).
in_host ip link set up0 mtu 9000 && in_ext ip link set eth0 mtu 9000 || fail "jumbo MTU on the uplink"
big0=$(counter frag_too_big) stashed0=$(counter frag_stashed)
head -c 8000 /dev/urandom | in_ext "$FRAGSEND" --no-first --mtu 3000 "$EXT_ADDR:7001" "$HOST_ADDR:40702" ||
	fail "fragsend of jumbo fragments"
wait_for 5 counter_is frag_too_big $((big0 + 2)) || fail "frag_too_big $(counter frag_too_big), not $((big0 + 2))"
[ "$(counter frag_stashed)" = "$stashed0" ] || fail "a fragment too big to copy was stashed"

dump=$(capture_stop frags)
[ -n "${QNAT_SHOW_DUMP:-}" ] && echo "$dump" | head -20 >&2
echo "$dump" | grep -q "offset [1-9]" || fail "nothing was fragmented: the test proves nothing"
echo "$dump" | grep -q "192\.168\.122\." && fail "a fragment left with a guest address"
stats=$(qnat stats "$BR" --json)
echo "$stats" | grep -qE '"drop_leak":\{"packets":0,' || fail "fragments were dropped as leaks: $stats"
pass
