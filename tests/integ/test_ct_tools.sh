#!/bin/bash
# Conntrack tools in the manner of conntrack(8): show/count with filters
# (protocol, source, destination, guest), del by filter (both halves go:
# the reply tuple is free again), flush, and events streaming new and
# destroyed flows, in text and JSON, each new one with its first state.  A forwarded flow shows as it arrived
# (outside first, as conntrack(8)), so --src finds it by the outside's
# address; after detach, ct events ends with a message.
#
#   g1 192.168.122.10 ==veth== ┐
#                              virbr0 [qnat-bpf] host up0 198.51.100.1 ==veth== 198.51.100.2 ext
#   g2 192.168.122.11 ==veth== ┘
. "$(dirname "$0")/lib.sh"

topo_init
attach
guest_veth g1
guest_addr g1 192.168.122.10
guest_veth g2
guest_addr g2 192.168.122.11
ext_tcp_echo 8080
ext_udp_echo 5353

bg in_host "$QNAT" ct events "$BR" >"$WORK/events" 2>&1
EV_PID=$!
bg in_host "$QNAT" ct events "$BR" --json --proto udp >"$WORK/events.json" 2>&1
EVJ_PID=$!
sleep 0.5
echo a | in_guest g1 socat -t 1 - TCP:"$EXT_ADDR":8080,sourceport=41001 >/dev/null || fail "g1 tcp"
echo b | in_guest g1 socat -t 1 - UDP:"$EXT_ADDR":5353,sourceport=41002 >/dev/null || fail "g1 udp"
echo c | in_guest g2 socat -t 1 - UDP:"$EXT_ADDR":5353,sourceport=41003 >/dev/null || fail "g2 udp"
in_guest g2 busybox ping -c 1 -W 2 "$EXT_ADDR" >/dev/null || fail "g2 ping"

[ "$(qnat ct count "$BR")" = 4 ] || fail "count: $(qnat ct count "$BR"), want 4"
[ "$(qnat ct count "$BR" --proto udp)" = 2 ] || fail "count --proto udp"
[ "$(qnat ct count "$BR" --guest 192.168.122.10)" = 2 ] || fail "count --guest"
[ "$(qnat ct count "$BR" -p udp -s 192.168.122.11 -d "$EXT_ADDR")" = 1 ] || fail "count -p -s -d"
qnat ct show "$BR" --proto icmp | grep -q "^icmp .*src=192.168.122.11" || fail "show --proto icmp"
qnat ct show "$BR" --proto icmp | grep -qv "^icmp" && fail "show --proto icmp shows other protocols"
qnat ct show "$BR" --guest 192.168.122.11 --json | grep -q '"sport":41003' || fail "show --guest --json"
qnat ct show "$BR" --bogus 2>/dev/null && fail "unknown ct option accepted"

# Delete g1's flows: both halves, so the same source port maps to the same port again.
out=$(qnat ct del "$BR" --guest 192.168.122.10) || fail "ct del"
echo "$out" | grep -q "^2 flows deleted" || fail "ct del said: $out"
[ "$(qnat ct count "$BR" --guest 192.168.122.10)" = 0 ] || fail "g1's flows survived ct del"
[ "$(qnat ct count "$BR")" = 2 ] || fail "ct del took other guests' flows"
echo again | in_guest g1 socat -t 1 - UDP:"$EXT_ADDR":5353,sourceport=41002 >/dev/null || fail "g1 udp again"
qnat ct show "$BR" --guest 192.168.122.10 | grep -q "dst=$HOST_ADDR sport=5353 dport=41002" ||
	fail "after del, the port was not free for reuse"

out=$(qnat ct flush "$BR") || fail "ct flush"
[ "$(qnat ct count "$BR")" = 0 ] || fail "flows left after flush"
qnat ct flush "$BR" --guest 192.168.122.10 2>/dev/null && fail "flush with a filter accepted"

sleep 0.6
grep -q "^\[NEW\] *tcp .*src=192.168.122.10 .*sport=41001" "$WORK/events" || { cat "$WORK/events" >&2; fail "events: no [NEW] tcp"; }
grep -q "^\[DESTROY\] *udp .*sport=41003" "$WORK/events" || fail "events: no [DESTROY] after flush"
grep -q '"event":"\[NEW\]","family":"ipv4","proto":"udp"' "$WORK/events.json" || { cat "$WORK/events.json" >&2; fail "events --json"; }
grep -q '"proto":"tcp"' "$WORK/events.json" && fail "events --proto udp let tcp through"

# The data plane announces a flow on its first packet: [NEW] carries the
# state that packet gave it, even for a connection over within 200 ms (the
# table's next look would find it closing).  One reader: each announcement
# goes to one ct events.
bg_kill "$EVJ_PID"
echo quick | in_guest g1 socat -t 0.05 - TCP:"$EXT_ADDR":8080,sourceport=41005 >/dev/null || fail "g1 quick tcp"
sleep 0.6
grep -q "^\[NEW\] *tcp *SYN_SENT .*sport=41005" "$WORK/events" ||
	fail "events: the short connection's [NEW] is not SYN_SENT: $(grep 41005 "$WORK/events")"

# A forwarded flow, as it arrived: src is the outside, dst the host's address.
bg in_guest g1 socat TCP-LISTEN:8081,bind=192.168.122.10,reuseaddr,fork SYSTEM:'echo fwd'
qnat forward add "$BR" tcp 8081 192.168.122.10 || fail "forward add"
listening() { in_guest g1 ss -ltn | grep -q ':8081 '; }
wait_for 5 listening || fail "the guest's listener did not start"
[ "$(echo x | in_ext socat -t 2 - TCP:"$HOST_ADDR":8081,sourceport=42001 | head -1)" = fwd ] || fail "forwarded tcp"
out=$(qnat ct show "$BR" --src "$EXT_ADDR")
echo "$out" | grep -q "^tcp .*src=$EXT_ADDR dst=$HOST_ADDR sport=42001 dport=8081 src=192.168.122.10 .*\[FORWARD\]" ||
	fail "ct show --src $EXT_ADDR does not show the forwarded flow as it arrived: $out"
qnat ct show "$BR" --json --guest 192.168.122.10 |
	jq -e --arg e "$EXT_ADDR" 'any(.[]; .inbound and .orig.src == $e and .orig.sport == 42001 and .packets_orig >= 1)' \
		>/dev/null || fail "ct show --json: the forwarded flow's orig tuple is not the outside's"

# After detach, ct events ends with a message, not silently.
qnat detach "$BR" || fail "detach"
ended() { ! kill -0 "$EV_PID" 2>/dev/null; }
wait_for 5 ended || fail "ct events still runs after detach"
grep -q "was detached" "$WORK/events" || fail "ct events ended without a message: $(tail -2 "$WORK/events")"
pass
