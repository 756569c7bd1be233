#!/bin/bash
# make flood: one guest floods new UDP flows as fast as it can write them,
# for FLOOD_SECS (30), into a conntrack table of FLOOD_CT_MAX (65,536) flows,
# while two other guests keep a long TCP conversation each (a line every
# 20 ms, each echo checked) and open new TCP connections (20 a second each).
# Run once per policy in FLOOD_POLICIES ("evict refuse"): --ct-full evict
# must lose nothing of the bystanders' and refuse none of their new
# connections; refuse is run beside it to show what eviction buys.
#
#   flooder: qbench tapgen writes frames into the TAP vfl as QEMU does
#            (non-blocking fd, one write per frame), each one a new flow;
#            pinned to CPU 0, where the data plane then runs too
#   g2, g3 eth0 ==veth== v-g2, v-g3 ┐
#   vfl (TAP, tapgen) ──────────────┤ virbr0 [qnat-bpf --ct-max 65536 --ct-full P]
#                                   └ host up0 ==veth== eth0 ext: tcp-echo :8080 (long) :8081 (new);
#                                     the flood is dropped in ext's raw table (counted there)
# The uplink is not captured here (millions of frames); the tests check leaks.
# Prints one line per policy and exits 1 if evict lost or refused anything.
. "$(dirname "$0")/../../tests/integ/lib.sh"
need iptables jq
flowgen_init
QB=$ROOT/build/qbench
[ -x "$QB" ] || fail "$QB not built (make build/qbench)"
SECS=${FLOOD_SECS:-30}
CT_MAX=${FLOOD_CT_MAX:-65536}
POLICIES=${FLOOD_POLICIES:-"evict refuse"}
FLOOD_MAC=02:00:00:00:00:50 FLOOD_IP=192.168.122.50
uplink_capture_start() { :; }

arrived() { in_ext iptables -t raw -nvxL PREROUTING | awk '/udp dpts:10000:65535/ { print $1 }'; }

# run POLICY: prints its figures as key=value pairs (in this shell: cleanup stays armed).
run() {
	local policy=$1 g brmac c0 c1 out peak=0 n
	T=q$(printf '%04x' $((RANDOM)))$$ NS_HOST=${T}h NS_EXT=${T}e
	topo_init
	attach --ct-max "$CT_MAX" --ct-full "$policy"
	in_ext iptables -t raw -I PREROUTING -p udp --dport 10000:65535 -j DROP
	guest_veth g2 && guest_addr g2 192.168.122.11
	guest_veth g3 && guest_addr g3 192.168.122.12
	in_host ip tuntap add vfl mode tap
	in_host ip link set vfl master "$BR" up
	brmac=$(ip -n "$NS_HOST" -j link show "$BR" | jq -r '.[0].address')
	ported() { qnat status "$BR" | grep -q 'vfl'; }
	wait_for 5 ported || fail "$policy: vfl is not a port of $BR"
	flowgen_bg "$NS_EXT" "e8080_$policy" tcp-echo 8080 --bind "$EXT_ADDR"
	flowgen_bg "$NS_EXT" "e8081_$policy" tcp-echo 8081 --bind "$EXT_ADDR"
	sleep 0.3
	for g in g2 g3; do
		flowgen_bg "${T}$g" "long_${g}_$policy" tcp-talk "$EXT_ADDR" 8080 --interval 20 --stall 5000
		flowgen_bg "${T}$g" "new_${g}_$policy" tcp-churn "$EXT_ADDR" 8081 --rate 20 --timeout 2000
	done
	talking() { for g in g2 g3; do [ "$(st "long_${g}_$policy" echoed)" -ge 3 ] || return 1; done; }
	wait_for 5 talking || fail "$policy: the long conversations did not start"
	c0=$(counters)
	for g in g2 g3; do eval "l0_$g=$(st "long_${g}_$policy" echoed) n0_$g=$(st "new_${g}_$policy" ok)"; done
	# The flood: each frame a new flow (sport 1024.., dport 10000..), counted as written.
	in_host "$QB" tapgen --tap vfl --smac $FLOOD_MAC --saddr $FLOOD_IP --cpu 0 --dmac "$brmac" \
		--daddr "$EXT_ADDR" --sport 1024 --dport 10000 --span 64000 --flows 0 --secs "$SECS" \
		>"$WORK/tapgen_$policy" 2>&1 &
	local tg=$!
	while kill -0 $tg 2>/dev/null; do
		n=$(qnat ct count "$BR" 2>/dev/null) && [ "${n:-0}" -gt "$peak" ] && peak=$n
		sleep 1
	done
	wait $tg || fail "$policy: tapgen: $(cat "$WORK/tapgen_$policy")"
	c1=$(counters)
	sleep 1 # the last exchanges in flight
	local sent lost=0 broken=0 echoed=0 newok=0 newfail=0
	sent=$(awk '{ for (i = 1; i < NF; i++) if ($i == "sent") print $(i + 1) }' "$WORK/tapgen_$policy")
	for g in g2 g3; do
		eval "echoed=\$((echoed + $(st "long_${g}_$policy" echoed) - l0_$g))"
		eval "newok=\$((newok + $(st "new_${g}_$policy" ok) - n0_$g))"
		lost=$((lost + $(st "long_${g}_$policy" lost)))
		broken=$((broken + $(st "long_${g}_$policy" broken)))
		newfail=$((newfail + $(st "new_${g}_$policy" failed)))
	done
	echo "policy=$policy secs=$SECS ct_max=$CT_MAX sent=$sent arrived=$(arrived)" \
		"flows=$(cdelta "$c0" "$c1" ct_new) early_drop=$(cdelta "$c0" "$c1" ct_early_drop)" \
		"evicted=$(cdelta "$c0" "$c1" ct_evicted) refused=$(cdelta "$c0" "$c1" drop_ct_full) peak=$peak" \
		"exchanges=$echoed lost=$lost broken=$broken new_ok=$newok new_failed=$newfail"
	for p in "${BG_PIDS[@]}"; do bg_kill "$p"; done
	BG_PIDS=()
	qnat detach "$BR" >/dev/null || fail "$policy: detach"
	namespaces_del
}

rc=0
for policy in $POLICIES; do
	run "$policy" >"$WORK/result"
	line=$(cat "$WORK/result")
	echo "$line"
	# shellcheck disable=SC2086 # (the key=value pairs)
	declare $line
	log "$policy: $sent frames written in ${secs}s ($((sent / secs))/s), $arrived left the uplink," \
		"$flows flows created, $early_drop evicted by the data plane, $evicted by the supervisor," \
		"$refused refused, table peak $peak of $ct_max;" \
		"bystanders: $exchanges exchanges, $lost lost, $broken broken; new connections $new_ok ok, $new_failed failed"
	[ "$policy" != evict ] || { [ "$lost" = 0 ] && [ "$broken" = 0 ] && [ "$new_failed" = 0 ] && [ "$refused" = 0 ]; } ||
		rc=1
done
[ $rc = 0 ] || fail "evict: the bystanders lost exchanges or connections, or new flows were refused"
pass
