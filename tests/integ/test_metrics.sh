#!/bin/bash
# Prometheus metrics: attach --metrics-listen serves the exposition format
# on the host; a real scrape over loopback parses, the conntrack and packet
# figures agree with `ct count` and `stats`, and per-guest totals outlive
# the flows they came from.
#
#   g1 ==veth== virbr0 [qnat-bpf, metrics on 127.0.0.1:9400] host up0 ==veth== ext
. "$(dirname "$0")/lib.sh"

topo_init
attach --metrics-listen 127.0.0.1:9400
guest_veth g1
guest_addr g1 192.168.122.10
ext_tcp_echo 8080
for i in 1 2 3; do echo "x$i" | in_guest g1 socat -t 1 - TCP:"$EXT_ADDR":8080 >/dev/null || fail "tcp $i"; done
sleep 2.5 # one expiry pass counts the table

scrape() { printf 'GET /metrics HTTP/1.0\r\n\r\n' | in_host socat -t 2 - TCP:127.0.0.1:9400; }
resp=$(scrape) || fail "scrape failed"
echo "$resp" | head -1 | grep -q "^HTTP/1.0 200" || fail "not an HTTP 200: $(echo "$resp" | head -1)"
body=$(echo "$resp" | sed '1,/^\r*$/d')
# Every sample line is NAME{LABELS} VALUE; every metric has HELP and TYPE.
bad=$(echo "$body" | grep -v '^#' | grep -vE '^[a-z_][a-z0-9_]*(\{[a-z_][a-z0-9_]*="[^"]*"(,[a-z_][a-z0-9_]*="[^"]*")*\})? [0-9]+(\.[0-9]+)?$')
[ -z "$bad" ] || fail "malformed sample lines: $bad"
for m in $(echo "$body" | grep -v '^#' | sed -E 's/[{ ].*//' | sort -u); do
	echo "$body" | grep -q "^# TYPE $m " || fail "$m has no TYPE"
	echo "$body" | grep -q "^# HELP $m " || fail "$m has no HELP"
done
val() { echo "$body" | grep -E "^$1 " | awk '{print $2}'; }
# The gauge is as of the daemon's last expiry pass, so a slow machine may see
# a pass land between the scrape and `ct count`: the two agree on a later try.
entries_agree() {
	local n
	for _ in 1 2 3 4 5 6 7 8; do
		body=$(scrape | sed '1,/^\r*$/d')
		n=$(qnat ct count "$BR")
		[ "$(val 'qnat_conntrack_entries\{bridge="virbr0"\}')" = "$n" ] && return 0
		sleep 1
	done
	echo "gauge $(val 'qnat_conntrack_entries\{bridge="virbr0"\}'), ct count $n" >&2
	return 1
}
entries_agree || fail "entries differ from ct count"
[ "$(val 'qnat_conntrack_entries_limit\{bridge="virbr0"\}')" = 262144 ] || fail "entries_limit"
snat=$(val 'qnat_packets_total\{bridge="virbr0",reason="snat_fast"\}')
[ "${snat:-0}" -gt 0 ] || fail "snat_fast packets not exported"
[ "$(val 'qnat_dnsmasq_up\{bridge="virbr0"\}')" = 1 ] || fail "dnsmasq_up"
# Per-guest totals: from the live flows, and kept when the flows are gone.
gout() { val 'qnat_guest_packets_total\{bridge="virbr0",guest="192.168.122.10",direction="out"\}'; }
before=$(gout)
[ "${before:-0}" -gt 0 ] || fail "no per-guest packets for g1"
qnat stats "$BR" --json | grep -q '"guest":"192.168.122.10","flows":[0-9]*,"packets_out":[1-9]' || fail "stats --json lacks g1's totals"
qnat ct flush "$BR" >/dev/null # the flows go, their counters stay with the guest
body=$(scrape | sed '1,/^\r*$/d')
[ "$(qnat ct count "$BR")" = 0 ] || fail "flows were not flushed"
[ "$(gout)" -ge "$before" ] || fail "g1's total fell from $before to $(gout) when its flows expired"
# Port security's refusals, by port: g1 sends from an address not its own.
ip -n "${T}g1" addr add 192.168.122.11/24 dev eth0
in_guest g1 busybox ping -c 2 -W 1 -I 192.168.122.11 "$EXT_ADDR" >/dev/null 2>&1
body=$(scrape | sed '1,/^\r*$/d')
[ "$(val 'qnat_port_refused_total\{bridge="virbr0",port="v-g1"\}')" -ge 2 ] ||
	fail "g1's refusals not exported: $(echo "$body" | grep port_refused)"
# A second scrape still works (the listener serves one request per connection).
scrape | grep -q "qnat_conntrack_entries" || fail "second scrape"
err=$(ip netns exec "$NS_HOST" "$QNAT" attach other0 --masq 10.9.0.0/24 --metrics-listen nonsense 2>&1) && fail "bad --metrics-listen accepted"
echo "$err" | grep -q "metrics-listen" || fail "unclear error: $err"
pass
