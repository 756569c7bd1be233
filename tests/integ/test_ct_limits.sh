#!/bin/bash
# A full conntrack table never breaks what already works: the per-guest cap
# stops one guest from taking the table; "refuse" turns new flows away and
# counts them; "evict" makes room by dropping unreplied and idle flows first,
# in the data plane itself (no supervisor pass needed) and in the
# supervisor's passes. In every case another guest's established connection
# keeps working.
#
#   hostile g1 ==veth== ┐
#                       virbr0 [qnat-bpf --ct-max N] host up0 ==veth== ext
#   victim  g2 ==veth== ┘
. "$(dirname "$0")/lib.sh"

setup() {
	topo_init
	attach "$@"
	guest_veth g1
	guest_addr g1 192.168.122.10
	guest_veth g2
	guest_addr g2 192.168.122.11
	ext_tcp_echo 8080
	# g2's long connection, opened before the flood.
	coproc CONN { in_guest g2 socat - TCP:"$EXT_ADDR":8080 2>/dev/null; }
	talk first || fail "g2's connection does not work before the flood"
}
talk() { echo "$1" >&"${CONN[1]}"; read -r -t 3 back <&"${CONN[0]}" && [ "$back" = "echo:$1" ]; }
# g1 opens one UDP flow per source port (nobody answers: unreplied).
flood() {
	for p in $(seq 20000 $((20000 + $1 - 1))); do
		echo x | in_guest g1 socat -u - UDP:"$EXT_ADDR":9,sourceport=$p 2>/dev/null
	done
}
counter() { qnat stats "$BR" --json | grep -oE "\"$1\":\\{\"packets\":[0-9]+" | grep -oE '[0-9]+$'; }
flows_of() { qnat ct show "$BR" | grep -c "src=$1 "; }

# 1. Per-guest cap: g1 gets 10 flows, no more; g2 is untouched.
setup --ct-max 64 --max-flows-per-guest 10
qnat status "$BR" | grep -q "at most 10 per guest" || fail "status does not show the per-guest cap"
flood 40
[ "$(flows_of 192.168.122.10)" -le 10 ] || fail "g1 holds $(flows_of 192.168.122.10) flows, cap is 10"
[ "$(counter drop_guest_cap)" -gt 0 ] || fail "drop_guest_cap not counted"
talk second || fail "g2's connection broke under g1's flood (cap)"
out=$(echo new | in_guest g2 socat -t 2 - TCP:"$EXT_ADDR":8080)
[ "$out" = "echo:new" ] || fail "g2 cannot open a new flow while g1 is capped"
exec {CONN[1]}>&-
qnat detach "$BR" || fail detach
namespaces_del

# 2. Refuse (the default): the table fills, new flows are refused and counted.
T=q$(printf '%04x' $((RANDOM)))$$; NS_HOST=${T}h; NS_EXT=${T}e
setup --ct-max 32
qnat status "$BR" | grep -q "when full: refuse" || fail "status does not show the refuse policy"
flood 60
n=$(qnat ct count "$BR")
[ "$n" -le 32 ] || fail "table holds $n flows, limit 32"
[ "$(counter drop_ct_full)" -gt 0 ] || fail "drop_ct_full not counted"
talk third || fail "g2's connection broke when the table was full (refuse)"
exec {CONN[1]}>&-
qnat detach "$BR" || fail detach
namespaces_del

# 3. Evict: unreplied flows go first, the table stays below 95%, g2 keeps working.
T=q$(printf '%04x' $((RANDOM)))$$; NS_HOST=${T}h; NS_EXT=${T}e
setup --ct-max 32 --ct-full evict
flood 60
# (functions, so that wait_for re-reads the figures on every try)
evicted() { [ "$(counter ct_evicted)" -gt 0 ]; }
below_95() { [ "$(qnat ct count "$BR")" -le 30 ]; }
wait_for 6 evicted || fail "nothing evicted"
wait_for 6 below_95 || fail "table not brought below 95%: $(qnat ct count "$BR")"
talk fourth || fail "g2's established connection was evicted"
out=$(echo after | in_guest g2 socat -t 2 - TCP:"$EXT_ADDR":8080)
[ "$out" = "echo:after" ] || fail "g2 cannot open a new flow after eviction"
exec {CONN[1]}>&-
qnat detach "$BR" || fail detach
namespaces_del

# 4. Evict in the data plane: with the supervisor stopped, no pass can make
# room, yet no new flow is refused; each evicts an unreplied one of g1's.
T=q$(printf '%04x' $((RANDOM)))$$; NS_HOST=${T}h; NS_EXT=${T}e
setup --ct-max 32 --ct-full evict --metrics-listen 127.0.0.1:9411
sup=$(qnat status "$BR" --json | jq -er '.[0].supervisor_pid') || fail "no supervisor"
kill -STOP "$sup"
fail() { kill -CONT "$sup"; log "FAIL: $*"; exit 1; }
evicted0=$(counter ct_evicted)
flood 60
n=$(qnat ct count "$BR")
[ "$n" -le 32 ] || fail "table holds $n flows, limit 32"
[ "$(counter drop_ct_full)" = 0 ] || fail "drop_ct_full $(counter drop_ct_full): new flows refused, not evicted"
[ "$(counter ct_early_drop)" -ge 28 ] || fail "ct_early_drop $(counter ct_early_drop), expected >= 28 of 60 into 32"
[ "$(counter ct_evicted)" = "$evicted0" ] || fail "the stopped supervisor evicted"
talk fifth || fail "g2's established connection was evicted in the data plane"
out=$(echo new | in_guest g2 socat -t 2 - TCP:"$EXT_ADDR":8080)
[ "$out" = "echo:new" ] || fail "g2 cannot open a new flow into a full table (evict)"
[ "$(flows_of 192.168.122.10)" -ge 28 ] || fail "g1 holds $(flows_of 192.168.122.10) flows: others' flows were evicted"
kill -CONT "$sup"
fail() { log "FAIL: $*"; exit 1; }
early=$(printf 'GET /metrics HTTP/1.0\r\n\r\n' | in_host socat -t 2 - TCP:127.0.0.1:9411 |
	sed -n 's/^qnat_conntrack_stat_early_drop{bridge="'"$BR"'"} //p')
[ "${early:-0}" -ge 28 ] || fail "metrics: early_drop '$early' does not count the data plane's evictions"
exec {CONN[1]}>&-
pass
