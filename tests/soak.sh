#!/bin/bash
# Soak: flow churn for SOAK_SECS (default 300, at most 600) with a fault
# every SOAK_FAULT_EVERY seconds (30, the first at half that), in turn:
#   kill     the supervisor SIGKILLed, the same build attaches again;
#   upgrade  the other build (this source with QNAT_BUILD_TAG=2) attaches:
#            "upgraded from build A to B", the next upgrade goes back;
#   dnsmasq  dnsmasq SIGKILLed: the supervisor restarts it;
#   tap      g4's TAP removed (its taprelay killed) and made again: g4
#            renews the same lease from dnsmasq and talks to ext;
#   flood    g1 opens new UDP flows, 20,000 a second for 5 s (to a port
#            of ext where nothing listens) beside its churn.
# SOAK_FAULTS=kill gives the older soak (the supervisor killed only).
# Three guests each open short UDP flows (one datagram on a new socket, its
# echo awaited 200 ms; up to SOAK_UDP_RATE a second, 1500) and short TCP flows
# (connect, a line, its echo, close by RST; up to SOAK_TCP_RATE, 150), and
# each keeps one long TCP conversation (a line every 100 ms, each echo
# checked).  Timeouts are short (udp, udp_stream, tcp_close, ... = 2 s) so the
# table turns over.  At the end it asserts and prints:
#   * the conntrack table returns to its baseline (the 3 long flows) once
#     the churn stops;
#   * the supervisor's RSS (VmRSS, sampled every 5 s) is flat: no instance
#     ends above the first instance's peak + 1 MB, and none grows by more
#     than 1 MB from its first sample to its last;
#   * no long conversation broke or lost an exchange; every re-attach and
#     upgrade kept the data plane (no "empty conntrack table" start); every
#     fault was recovered from;
#   * UDP datagrams add up, per direction:
#       out:  sent by the guests = received by ext's echo server
#             + qnat's drop counters (all drop_* but drop_leak)
#             + ext's UDP receive errors (RcvbufErrors + InErrors)
#       back: echoes ext sent = echoes the guests received in time
#             + late echoes (to sockets already closed: the guests' UDP
#               NoPorts) + the guests' UDP receive errors + echoes so late
#               their flow had expired (the host's UDP NoPorts)
#     (a late echo makes the guest send an ICMP port unreachable, which the
#     data plane may count as drop_leak: drop_leak is left out of the sums
#     and printed apart).  Echoes that come back after their flow is gone
#     must stay under 1 per 100000 flows (the host's UDP NoPorts: the
#     expiry pass deleted a flow that a reused guest port had just revived;
#     loader/ct.c re-reads the entry before deleting it, which leaves a
#     window of a few syscalls); TCP churn flows that failed are counted,
#     and must be under 0.1%.
# Not part of `make test`: run it with `make soak` or tests/soak.sh, as root.
#
#   g1 eth0 ==veth== v-g1           ┐
#   g2 eth0 ==veth== v-g2           ┤ virbr0 192.168.122.1 [qnat-bpf, supervisor killed every 60 s]
#   g3 eth0 (tap) <-taprelay-> t-g3 ┤   host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g4 eth0 (tap) <-taprelay-> t-g4 ┘ (tap churn)    udp-echo :9000, tcp-echo :9001 (churn) :8080 (long)
. "$(dirname "$0")/integ/lib.sh"
need jq make socat
flowgen_init
SECS=${SOAK_SECS:-300}
FAULT_EVERY=${SOAK_FAULT_EVERY:-30}
read -r -a FAULTS <<<"${SOAK_FAULTS:-kill upgrade dnsmasq tap flood}"
UDP_RATE=${SOAK_UDP_RATE:-1500}
TCP_RATE=${SOAK_TCP_RATE:-150}
[ "$SECS" -le 600 ] || SECS=600
GUESTS="g1 g2 g3"
ATTACH_ARGS=(--timeout udp=2 --timeout udp_stream=2 --timeout tcp_close=2 --timeout tcp_time_wait=2
	--timeout tcp_fin_wait=2 --timeout tcp_syn_sent=5 --timeout tcp_syn_recv=5 --timeout icmp=2)

sup_pid() { qnat status "$BR" --json | jq -e '.[0] | select(.supervisor == "running") | .supervisor_pid'; }
dns_pid() { qnat status "$BR" --json | jq -e '.[0].dhcp | select(.state == "running") | .pid'; }
# udp NS FIELD: a field of the namespace's Udp line in /proc/net/snmp.
udp() {
	ip netns exec "$1" awk -v f="$2" '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 } else print $c[f] }' /proc/net/snmp
}
udp_sum() { local f=$1 n=0; shift; for ns in "$@"; do n=$((n + $(udp "$ns" "$f"))); done; echo $n; }
proc_gone() { [ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat")" = Z ]; }
guest_ns() { for g in $GUESTS; do echo "${T}$g"; done; }

# The second build, for the upgrades, while the topology is built.
make -s -C "$ROOT" BUILD="$WORK/b2" QNAT_DEFS=-DQNAT_BUILD_TAG=2 "$WORK/b2/qnat-bpf" >"$WORK/b2.log" 2>&1 &
MK2=$!
topo_init
attach "${ATTACH_ARGS[@]}"
guest_veth g1
guest_veth g2
guest_tap g3
guest_tap g4
for g in $GUESTS; do log "lease: $g=$(guest_dhcp $g)"; done
A4=$(guest_dhcp g4)
MAC4=$(ip -n "${T}g4" -br link show eth0 | awk '{ print $3 }')
wait "$MK2" || { cat "$WORK/b2.log" >&2; fail "building the second build failed"; }
BUILD_CUR=$QNAT BUILD_OTHER=$WORK/b2/qnat-bpf

flowgen_bg "$NS_EXT" e8080 tcp-echo 8080 --bind "$EXT_ADDR"
flowgen_bg "$NS_EXT" e9000 udp-echo 9000 --bind "$EXT_ADDR"
flowgen_bg "$NS_EXT" e9001 tcp-echo 9001 --bind "$EXT_ADDR"
sleep 0.3
for g in $GUESTS; do flowgen_bg "${T}$g" "long_$g" tcp-talk "$EXT_ADDR" 8080 --stall 10000; done
talking() { for g in $GUESTS; do [ "$(st "long_$g" echoed)" -ge 3 ] || return 1; done; }
wait_for 5 talking || fail "the long conversations did not start"
baseline=$(qnat ct count "$BR")
[ "$baseline" = 3 ] || { qnat ct show "$BR" >&2; fail "baseline: $baseline flows, 3 expected"; }

c0=$(counters)
udp_ext0_err=$(($(udp "$NS_EXT" RcvbufErrors) + $(udp "$NS_EXT" InErrors)))
# shellcheck disable=SC2046
udp_g0_noports=$(udp_sum NoPorts $(guest_ns))
# shellcheck disable=SC2046
udp_g0_err=$(($(udp_sum RcvbufErrors $(guest_ns)) + $(udp_sum InErrors $(guest_ns))))
udp_h0_noports=$(udp "$NS_HOST" NoPorts)
for g in $GUESTS; do
	flowgen_bg "${T}$g" "udp_$g" udp-churn "$EXT_ADDR" 9000 --rate "$UDP_RATE" --timeout 200
	flowgen_bg "${T}$g" "tcp_$g" tcp-churn "$EXT_ADDR" 9001 --rate "$TCP_RATE" --timeout 1000
done
log "churn started: ${SECS}s, UDP up to $UDP_RATE/s and TCP up to $TCP_RATE/s per guest, a fault every ${FAULT_EVERY}s (${FAULTS[*]})"

# The faults.  Each returns once it is recovered from, or fails the soak.
reattach() { # LABEL BINARY EXPECTED: attach again, the data plane kept
	local out
	out=$(ip netns exec "$NS_HOST" "$2" attach "$BR" --masq "$SUBNET" "${ATTACH_ARGS[@]}" 2>&1) || fail "$1: attach failed: $out"
	echo "$out" | grep -q "empty conntrack table" && fail "$1 lost the data plane: $out"
	echo "$out" | grep -qE "$3" || fail "$1: attach said '$out'"
	sup=$(sup_pid) || fail "$1: no supervisor"
}
fault_kill() {
	kill -KILL "$sup"
	wait_for 5 proc_gone "$sup" || fail "supervisor $sup survived SIGKILL"
	reattach kill "$BUILD_CUR" ""
}
fault_upgrade() {
	local b=$BUILD_OTHER
	BUILD_OTHER=$BUILD_CUR BUILD_CUR=$b
	reattach upgrade "$b" "upgraded from build [0-9a-f]+ to [0-9a-f]+, [0-9]+ flows kept"
}
fault_dnsmasq() {
	local d
	d=$(dns_pid) || fail "dnsmasq not running"
	kill -KILL "$d"
	new_dns() { local p; p=$(dns_pid) && [ "$p" != "$d" ] && kill -0 "$p"; }
	wait_for 10 new_dns || fail "dnsmasq was not restarted within 10 s"
}
fault_tap() {
	local a out
	kill "$(taprelay_pid t-g4 g4 eth0)" || fail "no taprelay for g4"
	wait_for 5 sh -c "! ip -n $NS_HOST link show t-g4" || fail "t-g4 stayed after its taprelay ended"
	tap_start g4 t-g4 eth0
	ip -n "${T}g4" link set eth0 address "$MAC4" up # the guest keeps its MAC, as QEMU's does
	a=$(guest_dhcp g4)
	[ "$a" = "$A4" ] || fail "g4 renewed $a, not its lease $A4"
	out=$(echo "tap$tap_faults" | in_guest g4 timeout 5 socat -t 2 - TCP:"$EXT_ADDR":8080,connect-timeout=3)
	[ "$out" = "echo:tap$tap_faults" ] || fail "g4 cannot reach ext after its TAP came back: '$out'"
	tap_faults=$((tap_faults + 1))
}
fault_flood() {
	in_guest g1 "$FLOWGEN" udp-churn "$EXT_ADDR" 9999 --timeout 0 --rate 20000 --secs 5 --stats "$WORK/flood.stats" >/dev/null 2>&1 ||
		fail "the flood did not run"
	flooded=$((flooded + $(st flood flows)))
}

start=$SECONDS
next_fault=$((start + FAULT_EVERY / 2)) # at 15, 45, 75 ... s
faults=0 tap_faults=0 flooded=0
sup=$(sup_pid) || fail "no supervisor"
: >"$WORK/rss"
while [ $((SECONDS - start)) -lt "$SECS" ]; do
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$sup/status" 2>/dev/null)
	flows=$(qnat ct count "$BR")
	echo "$((SECONDS - start)) $sup ${rss:-0} $flows" >>"$WORK/rss"
	if [ "$SECONDS" -ge "$next_fault" ] && [ $((SECONDS - start + 10)) -lt "$SECS" ]; then
		f=${FAULTS[faults % ${#FAULTS[@]}]}
		"fault_$f"
		faults=$((faults + 1))
		log "t=$((SECONDS - start))s: fault #$faults ($f) recovered from; supervisor pid $sup, $flows flows"
		next_fault=$((SECONDS + FAULT_EVERY))
	fi
	sleep 5
done

# Stop the churn; let the last replies land.
for g in $GUESTS; do
	for k in udp tcp; do bg_kill "$(eval echo "\$PID_${k}_$g")"; done
done
for g in $GUESTS; do
	for k in udp tcp; do wait "$(eval echo "\$PID_${k}_$g")" 2>/dev/null; done
done
sleep 1
c1=$(counters)

# The table drains back to the long flows.
drained() { [ "$(qnat ct count "$BR")" -le "$baseline" ]; }
t0=$SECONDS
wait_for 20 drained || { qnat ct show "$BR" | head -20 >&2; fail "the table did not return to $baseline flows: $(qnat ct count "$BR")"; }
log "table back to $(qnat ct count "$BR") flows (baseline $baseline) $((SECONDS - t0))s after the churn stopped"

# Sums.
udp_flows=0 udp_sent=0 udp_replied=0 udp_timeouts=0 udp_errors=0 tcp_flows=0 tcp_ok=0 tcp_failed=0
for g in $GUESTS; do
	udp_flows=$((udp_flows + $(st "udp_$g" flows)))
	udp_sent=$((udp_sent + $(st "udp_$g" sent)))
	udp_replied=$((udp_replied + $(st "udp_$g" replied)))
	udp_timeouts=$((udp_timeouts + $(st "udp_$g" timeouts)))
	udp_errors=$((udp_errors + $(st "udp_$g" errors)))
	tcp_flows=$((tcp_flows + $(st "tcp_$g" flows)))
	tcp_ok=$((tcp_ok + $(st "tcp_$g" ok)))
	tcp_failed=$((tcp_failed + $(st "tcp_$g" failed)))
done
ext_rx=$(st e9000 received)
ext_tx=$(st e9000 replied)
ext_err=$(($(udp "$NS_EXT" RcvbufErrors) + $(udp "$NS_EXT" InErrors) - udp_ext0_err))
# shellcheck disable=SC2046
late=$(($(udp_sum NoPorts $(guest_ns)) - udp_g0_noports))
# shellcheck disable=SC2046
g_err=$(($(udp_sum RcvbufErrors $(guest_ns)) + $(udp_sum InErrors $(guest_ns)) - udp_g0_err))
# Echoes that came after their flow had expired: for the host itself.
expired=$(($(udp "$NS_HOST" NoPorts) - udp_h0_noports))
drops=0
for c in $(jq -n -r --argjson a "$c1" '$a | keys[] | select(startswith("drop_") and . != "drop_leak")'); do
	drops=$((drops + $(cdelta "$c0" "$c1" "$c")))
done
drop_leak=$(cdelta "$c0" "$c1" drop_leak)
ct_new=$(cdelta "$c0" "$c1" ct_new)
snat=$(($(cdelta "$c0" "$c1" snat_fast) + $(cdelta "$c0" "$c1" snat_egress)))
rnat=$(($(cdelta "$c0" "$c1" rnat_tc) + $(cdelta "$c0" "$c1" rnat_xdp) + $(cdelta "$c0" "$c1" rnat_bridge)))

# RSS per supervisor instance: first, last, max.
rss_summary=$(awk '$3 > 0 { if (!($2 in first)) { first[$2] = $3; order[n++] = $2 } last[$2] = $3; if ($3 > max[$2]) max[$2] = $3 }
	END { for (i = 0; i < n; i++) { p = order[i]; printf "pid %s: %s/%s/%s kB; ", p, first[p], last[p], max[p] } }' "$WORK/rss")
rss_bad=$(awk '$3 > 0 { if (!($2 in first)) { first[$2] = $3; if (!p0) p0 = $2 } last[$2] = $3; if ($3 > max[$2]) max[$2] = $3 }
	END { for (p in first) { if (last[p] > max[p0] + 1024) print "pid " p " ends at " last[p] " kB, above the first instance'"'"'s peak " max[p0] " + 1024";
	      if (last[p] > first[p] + 1024) print "pid " p " grew " first[p] " -> " last[p] " kB" } }' "$WORK/rss")
peak_flows=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$WORK/rss")

broken=0 lost=0 exchanges=0
for g in $GUESTS; do
	broken=$((broken + $(st "long_$g" broken)))
	lost=$((lost + $(st "long_$g" lost)))
	exchanges=$((exchanges + $(st "long_$g" echoed)))
done
out_gap=$((udp_sent - ext_rx))
back_gap=$((ext_tx - udp_replied - late - g_err - expired))

log "=== soak summary (${SECS}s, $faults faults: ${FAULTS[*]} in turn; g4's TAP remade $tap_faults times, $flooded flood flows) ==="
log "flows: $udp_flows UDP + $tcp_flows TCP short flows ($((udp_flows + tcp_flows)) total, $(((udp_flows + tcp_flows) / SECS))/s);" \
	"ct_new +$ct_new; peak table $peak_flows flows; back to baseline $baseline"
log "long TCP conversations: $exchanges exchanges, $lost lost, $broken broken"
log "UDP out: guests sent $udp_sent (+$udp_errors send errors) = ext received $ext_rx + qnat drops $drops" \
	"+ ext rcv errors $ext_err  (gap $out_gap)"
log "UDP back: ext echoed $ext_tx = guests got in time $udp_replied + late (guest NoPorts) $late" \
	"+ guest rcv errors $g_err + after their flow expired (host NoPorts) $expired  (gap $back_gap; qnat drops $drops);" \
	"timeouts seen by the guests $udp_timeouts"
log "TCP churn: $tcp_ok ok, $tcp_failed failed; qnat: snat +$snat, rnat +$rnat, drop_leak +$drop_leak" \
	"(guests' ICMP errors), other drops +$drops"
log "supervisor RSS first/last/max: $rss_summary"

[ "$broken" = 0 ] && [ "$lost" = 0 ] || fail "long conversations: $broken broken, $lost exchanges lost"
[ -z "$rss_bad" ] || fail "supervisor RSS not flat: $rss_bad"
[ "$out_gap" -ge 0 ] && [ "$out_gap" -le $((drops + ext_err)) ] ||
	fail "UDP out does not add up: $udp_sent sent, $ext_rx received, $drops dropped by qnat, $ext_err by ext's kernel"
[ "$back_gap" -ge 0 ] && [ "$back_gap" -le "$drops" ] ||
	fail "UDP back does not add up: $ext_tx echoed, $udp_replied in time, $late late, $g_err guest errors, $expired after expiry, $drops qnat drops"
[ $((expired * 100000)) -le "$udp_sent" ] || fail "$expired echoes came back after their flow was gone ($udp_sent flows)"
[ $((tcp_failed * 1000)) -le "$tcp_flows" ] || fail "$tcp_failed of $tcp_flows TCP churn flows failed"
# A fault takes up to a few seconds before the next is due FAULT_EVERY later.
[ "$faults" -ge 1 ] && [ "$faults" -ge $(((SECS - FAULT_EVERY) / (FAULT_EVERY + 5))) ] || fail "only $faults faults in ${SECS}s"
pass
