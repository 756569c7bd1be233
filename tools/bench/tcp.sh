# Sourced by tools/bench.sh: TCP through the NAT, on instances with none of
# the harness's XDP (GSO intact), CPUs not pinned.
#
#   tcp_bulk  one iperf3 stream, guest -> outside (up) and outside -> guest
#             (down, iperf3 -R), Gbit/s
#   tcp_tap   the same from a guest behind a TAP, relayed as QEMU relays a
#             virtio-net guest (taprelay --vnet: TSO from the guest, GRO'd
#             frames to it, the host TAP written non-blocking)
#   tcp_crr   connections/s: connect, one byte each way, close (RST), from
#             TCP_NPROC client processes in the guest
TCP_C=${TCP_C:-"iptables nftables route qnat-bpf qnat-xdp"} # qnat-xdp: what native XDP on a veth port costs TCP
TCP_TAP_C=${TCP_TAP_C:-"iptables nftables route qnat-bpf"}
TCP_NPROC=${TCP_NPROC:-2}
CRR_PORT=7000

# tcp_setup PREFIX SHAPE CONTENDERS: one instance each, iperf3 and crr servers on e.
tcp_setup() {
	local pfx=$1 shape=$2 c pf
	log "== tcp: building $(wc -w <<<"$3") $shape instances"
	for c in $3; do
		setup "$pfx-$c" "$c" "$shape"
		pf=/run/qbench-$PFX-iperf-$pfx-$c.pid
		in_ns "$pfx-$c" e iperf3 -s -B $SINK_IP -D -I "$pf" || die "iperf3 server"
		bg_in "$pfx-$c" e "$QB" crr-server $SINK_IP $CRR_PORT "$TCP_NPROC"
		sleep 0.2
		INST_PIDS[$pfx-$c]+=" $(cat "$pf")"
		rm -f "$pf"
	done
}

tcp_rounds() {
	local r c v
	for r in $(seq "$ROUNDS"); do
		log "== tcp: round $r of $ROUNDS"
		for c in $TCP_C; do
			tcp_bulk tcp_bulk "t-$c" "$c"
			v=$(in_ns "t-$c" g1 "$QB" crr-client $SINK_IP $CRR_PORT "$TCP_NPROC" "$CRR_SECS" | field cps)
			result sample tcp_crr conn "$c" "${v:-0}"
		done
		for c in $TCP_TAP_C; do tcp_bulk tcp_tap "tt-$c" "$c"; done
	done
}

tcp_setup t tcp "$TCP_C"
tcp_setup tt taptcp "$TCP_TAP_C"
tcp_rounds
for c in $TCP_C; do instance_del "t-$c"; done
for c in $TCP_TAP_C; do instance_del "tt-$c"; done
