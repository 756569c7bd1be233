#!/bin/bash
# Conntrack expiry with short timeouts: a guest's unreplied UDP datagram (ext
# answers ICMP port unreachable), a replied UDP exchange, a ping, a TCP
# connection closed normally and one refused with RST are listed by ct show
# in the right states (UDP replied: [REPLIED]; unreplied: not; TCP closed:
# TIME_WAIT; refused: CLOSE), and each one is gone within its timeout + 3 s
# of its last packet.  Both halves go: afterwards the reverse map holds no
# more entries than the flow map, and the same guest port to the same
# destination is translated to the same port again (its reply tuple was
# free).  An idle established TCP flow (tcp_established stays 5 days) lives
# through all of it and still carries data afterwards.
#
#   g1 eth0 ==veth== v-g1 ── virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#                                                                             (tcp 8080, 8081 echo; udp 5353 echo)
. "$(dirname "$0")/lib.sh"
need jq bpftool

topo_init
attach --timeout udp=2 --timeout udp_stream=3 --timeout icmp=2 --timeout tcp_time_wait=2 --timeout tcp_close=2
guest_veth g1
guest_dhcp g1 >/dev/null || exit 1
ext_tcp_echo 8080
ext_tcp_echo 8081
ext_udp_echo 5353

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# Entries of the reverse (reply tuple) map of this data plane.
ct_rev_entries() {
	local up id
	up=$(in_host bpftool net show -j | jq -r '.[0].tc[] | select(.name | startswith("tc_uplink_in")) | .id')
	for id in $(bpftool prog show id "$up" -j | jq -r '.map_ids[]'); do
		if [ "$(bpftool map show id "$id" -j | jq -r .name)" = qnat_ct_rev ]; then
			bpftool map dump id "$id" -j | jq length
			return
		fi
	done
	echo "no qnat_ct_rev map"
}

# The idle flow: opened first, one line through, then silent until the end.
mkfifo "$WORK/idle.in"
bg sh -c "exec ip netns exec ${T}g1 socat - TCP:$EXT_ADDR:8081,sourceport=41004 <$WORK/idle.in >$WORK/idle.out"
exec 7>"$WORK/idle.in"
echo first >&7
wait_for 5 grep -q echo:first "$WORK/idle.out" || fail "the idle tcp connection does not work"

# The short flows.  LAST[f] is when the flow's last packet went: the end of
# the command that made it (ping, TCP and the refused datagram end on their
# last packet), except the UDP exchange, where socat waits after the reply
# and the start is taken (so its budget is if anything a little short).
declare -A PAT=() TO=() LAST=() GONE=()
PAT[udp]="sport=41001 dport=9999 " TO[udp]=2
PAT[udp_replied]="sport=41002 dport=5353 " TO[udp_replied]=3
PAT[icmp]="^icmp " TO[icmp]=2
PAT[tcp]="sport=41003 dport=8080 " TO[tcp]=2
PAT[tcp_rst]="sport=41005 dport=9998 " TO[tcp_rst]=2

echo lost | in_guest g1 socat -t 0.5 - UDP:"$EXT_ADDR":9999,sourceport=41001 2>/dev/null
LAST[udp]=$(now_ms)
LAST[udp_replied]=$(now_ms)
out=$(echo hi | in_guest g1 socat -t 1 - UDP:"$EXT_ADDR":5353,sourceport=41002) || fail "udp exchange failed"
[ "$out" = echo:hi ] || fail "udp answer '$out'"
in_guest g1 busybox ping -c 1 -W 2 "$EXT_ADDR" >/dev/null || fail "ping failed"
LAST[icmp]=$(now_ms)
out=$(echo hello | in_guest g1 socat -t 2 - TCP:"$EXT_ADDR":8080,sourceport=41003) || fail "tcp failed"
LAST[tcp]=$(now_ms)
[ "$out" = echo:hello ] || fail "tcp answer '$out'"
in_guest g1 socat -u /dev/null TCP:"$EXT_ADDR":9998,sourceport=41005 2>/dev/null && fail "port 9998 answered"
LAST[tcp_rst]=$(now_ms)

ct=$(qnat ct show "$BR")
log "after the flows:"$'\n'"$ct"
line() { echo "$ct" | grep -E -- "${PAT[$1]}"; }
[ "$(line udp | wc -l)" = 1 ] || fail "ct show lacks the unreplied udp flow"
line udp | grep -q "^udp  *UDP " || fail "unreplied udp flow: $(line udp)"
line udp | grep -q REPLIED && fail "the unreplied udp flow is marked [REPLIED] (ICMP errors are not replies)"
line udp_replied | grep -q "^udp  *UDP .*\[REPLIED\]" || fail "replied udp flow: '$(line udp_replied)'"
[ "$(line icmp | wc -l)" = 1 ] || fail "expected one icmp flow: '$(line icmp)'"
line icmp | grep -q "ICMP .*\[REPLIED\]" || fail "icmp flow: '$(line icmp)'"
line tcp | grep -q "^tcp  *TIME_WAIT " || fail "closed tcp flow not in TIME_WAIT: '$(line tcp)'"
line tcp_rst | grep -q "^tcp  *CLOSE " || fail "refused tcp flow not in CLOSE: '$(line tcp_rst)'"
echo "$ct" | grep -q "^tcp  *ESTABLISHED .*sport=41004 dport=8081 " || fail "idle tcp flow not ESTABLISHED"
qnat ct show "$BR" --json | jq -e '.[] | select(.orig.sport == 41004) | .expires > 400000' >/dev/null ||
	fail "the established flow does not have the 5-day timeout"

# Poll until every short flow is gone, noting when each went.
end=$(($(now_ms) + 8000))
while [ "${#GONE[@]}" -lt "${#PAT[@]}" ] && [ "$(now_ms)" -lt "$end" ]; do
	ct=$(qnat ct show "$BR")
	t=$(now_ms)
	for f in "${!PAT[@]}"; do
		[ -z "${GONE[$f]:-}" ] && ! line "$f" >/dev/null && GONE[$f]=$t
	done
	sleep 0.2
done
for f in "${!PAT[@]}"; do
	[ -n "${GONE[$f]:-}" ] || fail "$f flow (timeout ${TO[$f]} s) did not expire: $(line "$f")"
	age=$((GONE[$f] - LAST[$f]))
	log "$f gone $age ms after its last packet (timeout ${TO[$f]} s)"
	[ "$age" -le $((TO[$f] * 1000 + 3000)) ] || fail "$f flow lived $age ms, more than its timeout ${TO[$f]} s + 3 s"
done

# Both halves went: the reverse map holds only the idle flow's reply tuple.
n=$(qnat ct count "$BR")
[ "$n" = 1 ] || fail "expected only the idle flow left, ct count says $n"
r=$(ct_rev_entries)
[ "$r" = "$n" ] || fail "the reverse map holds $r entries for $n flows: expired flows left their reply tuple"
# ... so the same guest port to the same destination gets the same port again.
echo again | in_guest g1 socat -t 0.5 - UDP:"$EXT_ADDR":9999,sourceport=41001 2>/dev/null
ct=$(qnat ct show "$BR")
line udp | grep -q "src=$EXT_ADDR dst=$HOST_ADDR sport=9999 dport=41001 " ||
	fail "the new flow from port 41001 was not translated to 41001 again: $(line udp)"

# The idle established flow outlived all of that, and still works.
ct=$(qnat ct show "$BR")
echo "$ct" | grep -q "^tcp  *ESTABLISHED .*sport=41004 dport=8081 " || fail "the idle established tcp flow expired"
echo second >&7
wait_for 5 grep -q echo:second "$WORK/idle.out" || fail "the idle tcp connection no longer carries data"
pass
