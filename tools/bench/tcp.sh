# Sourced by tools/bench.sh: TCP through the NAT, on instances with no XDP
# anywhere (GSO intact), CPUs not pinned.
#
#   tcp_bulk  one iperf3 stream, guest -> outside (up) and outside -> guest
#             (down, iperf3 -R), Gbit/s
#   tcp_crr   connections/s: connect, one byte each way, close (RST), from
#             TCP_NPROC client processes in the guest
TCP_C=${TCP_C:-"iptables nftables route qnat-bpf"}
TCP_NPROC=${TCP_NPROC:-2}
CRR_PORT=7000

tcp_setup() {
	local c pf
	log "== tcp: building $(wc -w <<<"$TCP_C") instances"
	for c in $TCP_C; do
		setup "t-$c" "$c" tcp
		pf=/run/qbench-$PFX-iperf-$c.pid
		in_ns "t-$c" e iperf3 -s -B $SINK_IP -D -I "$pf" || die "iperf3 server"
		bg_in "t-$c" e "$QB" crr-server $SINK_IP $CRR_PORT "$TCP_NPROC"
		sleep 0.2
		INST_PIDS[t-$c]+=" $(cat "$pf")"
		rm -f "$pf"
	done
}

# Gbit/s received, from iperf3's JSON.
iperf_gbps() {
	awk '/"sum_received"/ {f = 1} f && /"bits_per_second"/ {gsub(/,/, ""); printf "%.3f\n", $2 / 1e9; exit}'
}

tcp_rounds() {
	local r c v
	for r in $(seq "$ROUNDS"); do
		log "== tcp: round $r of $ROUNDS"
		for c in $TCP_C; do
			v=$(in_ns "t-$c" g1 iperf3 -c $SINK_IP -t "$TCP_SECS" -J | iperf_gbps)
			result sample tcp_bulk up "$c" "${v:-0}"
			v=$(in_ns "t-$c" g1 iperf3 -c $SINK_IP -t "$TCP_SECS" -R -J | iperf_gbps)
			result sample tcp_bulk down "$c" "${v:-0}"
			v=$(in_ns "t-$c" g1 "$QB" crr-client $SINK_IP $CRR_PORT "$TCP_NPROC" "$CRR_SECS" | field cps)
			result sample tcp_crr conn "$c" "${v:-0}"
		done
	done
}

tcp_setup
tcp_rounds
for c in $TCP_C; do instance_del "t-$c"; done
