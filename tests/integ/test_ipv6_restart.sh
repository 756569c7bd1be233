#!/bin/bash
# Restarts and upgrades keep IPv6 flows (issue 14), as they keep IPv4 ones:
# a --masq6 guest's long-lived TCP connection to ext, and ext's connection
# to a guest through an IPv6 forward, both carry on (same sockets, same
# conntrack entries, whose packet counts keep growing) while the supervisor
# is SIGKILLed, after the same attach runs again, and after another build of
# this source (same ABI, every program different) takes over.
#
#   g1 eth0 ==veth== v-g1 ── virbr0 fd00:122::1 [qnat-bpf --masq6] host up0 2001:db8:ff::1 ==== ext 2001:db8:ff::2
#   g1 -> ext:8080 (masqueraded)      ext -> [2001:db8:ff::1]:8022 -> [g1]:7000 (forward)
. "$(dirname "$0")/lib.sh"
need jq make
SUBNET6=fd00:122::/64
# Another build, in parallel while the topology is built.
make -s -C "$ROOT" BUILD="$WORK/b2" QNAT_DEFS=-DQNAT_BUILD_TAG=2 "$WORK/b2/qnat-bpf" >"$WORK/b2.log" 2>&1 &
MK2=$!

topo_init
topo_ip6
ARGS=(--masq "$SUBNET" --masq6 "$SUBNET6")
attach --masq6 "$SUBNET6"
guest_veth g1
a1=$(guest_slaac g1 "$SUBNET6")
printf '#!/bin/sh\nwhile read l; do echo "echo:$l"; done\n' >"$WORK/echo.sh"
chmod +x "$WORK/echo.sh"
bg in_ext socat TCP6-LISTEN:8080,reuseaddr,fork EXEC:"$WORK/echo.sh"
bg in_guest g1 socat TCP6-LISTEN:7000,reuseaddr,fork EXEC:"$WORK/echo.sh"
wait_for 5 sh -c "ip netns exec $NS_EXT ss -ltn | grep -q :8080 && ip netns exec ${T}g1 ss -ltn | grep -q :7000" ||
	fail "the echo servers did not start"
qnat forward add "$BR" tcp "[$HOST6_ADDR]:8022" "[$a1]:7000" >/dev/null || fail "forward add"

coproc OUT { in_guest g1 socat - TCP6:["$EXT6_ADDR"]:8080,sourceport=40100; }
BG_PIDS+=("$OUT_PID")
# (bash holds one coproc at a time: the other connection through FIFOs)
mkfifo "$WORK/in.w" "$WORK/in.r"
bg sh -c "ip netns exec $NS_EXT socat - 'TCP6:[$HOST6_ADDR]:8022,sourceport=40200' <$WORK/in.w >$WORK/in.r"
exec {INW}>"$WORK/in.w" {INR}<"$WORK/in.r"
exchange() { # LINE WHEN: a line on each connection, and its echo
	local l
	echo "$1" >&"${OUT[1]}" && read -r -t 5 l <&"${OUT[0]}" && [ "$l" = "echo:$1" ] ||
		fail "g1's connection out: no echo of '$1' ($2): '${l:-}'"
	echo "$1" >&"$INW" && read -r -t 5 l <&"$INR" && [ "$l" = "echo:$1" ] ||
		fail "ext's connection through the forward: no echo of '$1' ($2): '${l:-}'"
}
# "packets_orig" of both flows, and their tuples.
flows() {
	qnat ct show "$BR" --family ipv6 --proto tcp --json | jq -r '.[] | select(.orig.sport == 40100 or .orig.sport == 40200)
		| "\(.orig.src) \(.orig.sport) \(.orig.dst) \(.orig.dport) \(.reply.src) \(.reply.dport)"' | sort
}
pkts() { qnat ct show "$BR" --family ipv6 --proto tcp --json | jq '[.[] | .packets_orig] | add'; }
sup_pid() { qnat status "$BR" --json | jq -e '.[0] | select(.supervisor == "running") | .supervisor_pid'; }
sup_down() { ! kill -0 "$1" 2>/dev/null || [ "$(cut -d' ' -f3 "/proc/$1/stat")" = Z ]; }

exchange one "at first"
f0=$(flows)
[ "$(echo "$f0" | grep -c .)" = 2 ] || fail "expected the two IPv6 flows: $(qnat ct show "$BR" --family ipv6)"
p0=$(pkts)

sup=$(sup_pid) || fail "no supervisor"
kill -KILL "$sup"
wait_for 5 sup_down "$sup" || fail "the supervisor did not die"
exchange two "no supervisor running"
attach --masq6 "$SUBNET6"
exchange three "after the re-attach"
[ "$(flows)" = "$f0" ] || fail "the re-attach changed the IPv6 flows: $(flows)"
p1=$(pkts)
[ "$p1" -gt "$p0" ] || fail "the flows' entries did not carry on ($p0 -> $p1 packets)"

wait "$MK2" || fail "the second build failed: $(tail -5 "$WORK/b2.log")"
out=$(ip netns exec "$NS_HOST" "$WORK/b2/qnat-bpf" attach "$BR" "${ARGS[@]}") || fail "the upgrade failed: $out"
log "upgrade: $out"
echo "$out" | grep -qE "upgraded from build [0-9a-f]+ to [0-9a-f]+, [0-9]+ flows kept" || fail "the upgrade said '$out'"
exchange four "after the upgrade"
[ "$(flows)" = "$f0" ] || fail "the upgrade changed the IPv6 flows: $(flows)"
[ "$(pkts)" -gt "$p1" ] || fail "the flows' entries did not carry on through the upgrade"
qnat forward list "$BR" | grep -q "8022" || fail "the upgrade lost the IPv6 forward: $(qnat forward list "$BR")"
pass
