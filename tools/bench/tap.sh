# Sourced by tools/bench.sh: the TAP path, the one QEMU guests' packets
# take.  qbench tapgen writes a guest's 60-byte UDP frames into its TAP as
# QEMU without vhost-net does (one write per frame, virtio-net header,
# non-blocking fd), pinned to MEAS_CPU; the data plane and the XDP sink (or,
# guest to guest, the reading of the other guest's TAP) run there too.
# Rate = frames at the sink per CPU-second of the writer and ksoftirqd.
#
#   tap_nat    guest -> outside, TAP_FLOWS established flows: TAP_C, and the
#              write floor (frames for a MAC nobody has: the TAP write and
#              the bridge's drop, nothing forwarded)
#   tap_flows  qnat-bpf, 1k against TAP_BIG established flows
#   tap_2cpu   two guests writing on two CPUs against one on one; the value
#              is packets per CPU-second, so "two" moves 2 x that
#   tap_l2     guest TAP -> guest TAP over the bridge, TAP_FLOWS flows
#
# Each phase builds its instances, prefills them, runs its contenders
# interleaved and removes them (nf_conntrack's hash table is global).

TAP_C=${TAP_C:-"iptables nftables qnat-bpf xdp-fwd floor"}
TAP_L2_C=${TAP_L2_C:-"br-libvirt bridge qnat-bpf xdp-l2"}
TAP_2CPU_C=${TAP_2CPU_C:-"qnat-bpf xdp-fwd"}
TAP_FLOWS=${TAP_FLOWS:-1000}
NOBODY_MAC=02:00:00:00:99:99
W_CPU=(- "$MEAS_CPU" "$BG_CPU") # guest g's writer runs on W_CPU[g]

tapgen() { in_ns "$1" h "$QB" tapgen "${@:2}"; }

# tap_out INSTANCE GUESTS DMAC [tapgen options]: guests 1..GUESTS -> outside,
# counted at the sink; prints tapgen's line.
tap_out() {
	local i=$1 ng=$2 dmac=$3 g w=()
	for g in $(seq "$ng"); do w+=(--tap "vg$g" --smac "${G_MAC[$g]}" --saddr "${G_IP[$g]}" --cpu "${W_CPU[$g]}"); done
	tapgen "$i" "${w[@]}" --dmac "$dmac" --daddr $SINK_IP --sport 1024 --dport 10000 --span 64000 \
		--sink-ns "$(nsname "$i" e)" --sink-dev eth0 "${@:4}"
}

# tap_l2 INSTANCE FROM TO [tapgen options]: guest FROM -> guest TO, counted by reading TO's TAP.
tap_l2() {
	local i=$1 a=$2 b=$3
	tapgen "$i" --tap "vg$a" --smac "${G_MAC[$a]}" --saddr "${G_IP[$a]}" --cpu "$MEAS_CPU" --dmac "${G_MAC[$b]}" \
		--daddr "${G_IP[$b]}" --sport 1024 --dport 10000 --span 64000 --rx-tap "vg$b" "${@:4}"
}

# tap_sample WORKLOAD VARIANT CONTENDER "TAPGEN OUTPUT" [FIELD]: the floor counts what it wrote.
tap_sample() {
	result sample "$1" "$2" "$3" "$(field "${5:-cpu_pps}" <<<"$4")"
	result wall "$1" "$2" "$3" "$(field pps <<<"$4")"
}

# tap_prefill INSTANCE CONTENDER GUESTS FLOWS KEY: every flow (twice); the table as measured.
tap_prefill() {
	local n
	case $2 in xdp-fwd | floor) return ;; esac
	tap_out "$1" "$3" $BR_MAC --flows "$4" --packets $(($4 * 2)) >/dev/null || die "prefill $1" # each twice: a TAP just opened may miss the first
	n=$(table_count "$1")
	echo "info table $5/$2 $n" >>"$RAW"
	[ "$n" -lt "$(($3 * $4))" ] && log "   $2 holds $n of the $(($3 * $4)) flows"
}

tap_nat_phase() {
	local r c out
	log "== tap_nat, $TAP_FLOWS flows: $(echo $TAP_C)"
	for c in $TAP_C; do setup "tn-$c" "$c" tap; done
	for c in $TAP_C; do tap_prefill "tn-$c" "$c" 1 "$TAP_FLOWS" "tap_nat/$TAP_FLOWS"; done
	for r in $(seq "$ROUNDS"); do
		for c in $TAP_C; do
			if [ "$c" = floor ]; then
				out=$(tap_out "tn-$c" 1 $NOBODY_MAC --flows "$TAP_FLOWS" --secs "$SECS") || die "run tn-$c"
				tap_sample tap_nat "$TAP_FLOWS" "$c" "$out" cpu_wpps
			else
				out=$(tap_out "tn-$c" 1 $BR_MAC --flows "$TAP_FLOWS" --secs "$SECS") || die "run tn-$c"
				tap_sample tap_nat "$TAP_FLOWS" "$c" "$out"
			fi
		done
	done
	for c in $TAP_C; do instance_del "tn-$c"; done
}

tap_flows_phase() {
	local r f n out
	log "== tap_flows: qnat-bpf, $TAP_FLOWS and $TAP_BIG flows"
	setup tf-small qnat-bpf tap
	setup tf-big qnat-bpf tap $((TAP_BIG * 2))
	tap_prefill tf-small qnat-bpf 1 "$TAP_FLOWS" "tap_flows/$TAP_FLOWS"
	tap_prefill tf-big qnat-bpf 1 "$TAP_BIG" "tap_flows/$TAP_BIG"
	for r in $(seq "$ROUNDS"); do
		for f in small big; do
			[ $f = small ] && n=$TAP_FLOWS || n=$TAP_BIG
			out=$(tap_out "tf-$f" 1 $BR_MAC --flows "$n" --secs "$SECS") || die "run tf-$f"
			tap_sample tap_flows "$n" qnat-bpf "$out"
		done
	done
	instance_del tf-small
	instance_del tf-big
}

tap_2cpu_phase() {
	local r c n out
	log "== tap_2cpu: $(echo $TAP_2CPU_C), one guest on CPU $MEAS_CPU against two on CPUs $MEAS_CPU and $BG_CPU"
	for c in $TAP_2CPU_C; do setup "t2-$c" "$c" tap2; done
	for c in $TAP_2CPU_C; do tap_prefill "t2-$c" "$c" 2 "$TAP_FLOWS" "tap_2cpu/$TAP_FLOWS"; done
	for r in $(seq "$ROUNDS"); do
		for c in $TAP_2CPU_C; do
			for n in 1 2; do
				out=$(tap_out "t2-$c" $n $BR_MAC --flows "$TAP_FLOWS" --secs "$SECS") || die "run t2-$c"
				tap_sample tap_2cpu "$n" "$c" "$out"
			done
		done
	done
	for c in $TAP_2CPU_C; do instance_del "t2-$c"; done
}

tap_l2_phase() {
	local r c out
	log "== tap_l2, $TAP_FLOWS flows: $(echo $TAP_L2_C)"
	for c in $TAP_L2_C; do setup "tl-$c" "$c" tapl2; done
	for c in $TAP_L2_C; do # guest 2 answers first: its MAC is then known on its port
		tap_l2 "tl-$c" 2 1 --flows "$TAP_FLOWS" --packets "$TAP_FLOWS" >/dev/null || die "prefill tl-$c"
		tap_l2 "tl-$c" 1 2 --flows "$TAP_FLOWS" --packets "$TAP_FLOWS" >/dev/null || die "prefill tl-$c"
	done
	for r in $(seq "$ROUNDS"); do
		for c in $TAP_L2_C; do
			out=$(tap_l2 "tl-$c" 1 2 --flows "$TAP_FLOWS" --secs "$SECS") || die "run tl-$c"
			tap_sample tap_l2 "$TAP_FLOWS" "$c" "$out"
		done
	done
	for c in $TAP_L2_C; do instance_del "tl-$c"; done
}

tap_nat_phase
tap_flows_phase
tap_2cpu_phase
tap_l2_phase
