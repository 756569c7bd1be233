# Sourced by tools/bench.sh: the packet workloads, 60-byte UDP frames (64 on
# the wire), per-packet cost measured by run to completion on MEAS_CPU.
#
#   udp_est    guest -> outside through the NAT, established flows, for each
#              table size in FLOWS (the table holds that many flows)
#   dnat       outside -> forwarded port -> guest, 10k established flows
#   l2         guest -> guest over the bridge, 10k flows
#   flowsetup  every packet a new flow: new flows/s while the table fills
#              from empty to FS_PKTS entries (a fresh instance each run)
#
# One phase per table size (then one for dnat + l2): its instances are
# built and prefilled, the rounds run its contenders interleaved, and the
# instances go before the next phase.  nf_conntrack's hash table is one for
# all namespaces: flows left in another phase's instances would lengthen
# its chains.  nf_conntrack memory per flow is measured from /proc/slabinfo
# around each flow-setup run.

EST_C=${EST_C:-"iptables ipt-brnf nftables route xdp-fwd qnat-bpf qnat-xdp"}
BRNF_FLOWS=${BRNF_FLOWS:-10000} # ipt-brnf at this table size only
DNAT_C=${DNAT_C:-"iptables nftables route xdp-fwd qnat-bpf"}
L2_C=${L2_C:-"br-libvirt bridge qnat-bpf xdp-l2"}
FS_C=${FS_C:-"iptables nftables route qnat-bpf"}

# Object bytes of nf_conntrack's slab and of the kmalloc caches (extensions).
slab_snapshot() {
	awk '$1 == "nf_conntrack" {c += $2 * $4} $1 ~ /^kmalloc-[0-9]+k?$/ {k += $2 * $4} END {printf "%d %d\n", c, k}' \
		/proc/slabinfo
}

# The contenders of the phase for table size f, and their instances.
est_contenders() {
	local c
	for c in $EST_C; do
		[ "$c" = ipt-brnf ] && [ "$1" != "$BRNF_FLOWS" ] && continue
		echo "$c"
	done
}
est_inst() { echo "e$1-$2"; }

est_phase() {
	local f=$1 r c i n out ctmax cs
	cs=$(est_contenders "$f")
	log "== udp_est, $f flows: $(echo $cs)"
	for c in $cs; do
		ctmax=
		case $c in qnat-*) [ "$f" -gt 131072 ] && ctmax=$((f * 2)) ;; esac
		setup "$(est_inst "$f" "$c")" "$c" est $ctmax
	done
	for c in $cs; do
		i=$(est_inst "$f" "$c")
		case $c in route | xdp-fwd) continue ;; esac
		gen_est "$i" --flows "$f" --packets "$f" >/dev/null || die "prefill $i"
		n=$(table_count "$i")
		echo "info table udp_est/$f/$c $n" >>"$RAW"
		[ "$n" -lt "$f" ] && log "   $c holds $n of the $f flows"
	done
	for r in $(seq "$ROUNDS"); do
		for c in $cs; do
			i=$(est_inst "$f" "$c")
			out=$(gen_est "$i" --flows "$f" --secs "$SECS") || die "run $i"
			pkt_result udp_est "$f" "$c" "$out"
		done
	done
	for c in $cs; do instance_del "$(est_inst "$f" "$c")"; done
}

dnat_l2_phase() {
	local r c out
	log "== dnat: $(echo $DNAT_C); l2: $(echo $L2_C)"
	for c in $DNAT_C; do setup "d-$c" "$c" dnat; done
	for c in $L2_C; do setup "l-$c" "$c" l2; done
	for c in $DNAT_C; do
		gen_dnat "d-$c" "$c" --flows 10000 --packets 20000 >/dev/null || die "prefill d-$c"
		gen_dnat_reply "d-$c" --flows 10000 --packets 20000 >/dev/null || die "prefill d-$c"
		echo "info table dnat/10000/$c $(table_count "d-$c")" >>"$RAW"
	done
	for c in $L2_C; do
		gen_l2_reply "l-$c" --flows 10000 --packets 10000 >/dev/null || die "prefill l-$c"
		gen_l2 "l-$c" --flows 10000 --packets 20000 >/dev/null || die "prefill l-$c"
	done
	for r in $(seq "$ROUNDS"); do
		for c in $DNAT_C; do
			out=$(gen_dnat "d-$c" "$c" --flows 10000 --secs "$SECS") || die "run d-$c"
			pkt_result dnat 10000 "$c" "$out"
		done
		for c in $L2_C; do
			out=$(gen_l2 "l-$c" --flows 10000 --secs "$SECS") || die "run l-$c"
			pkt_result l2 10000 "$c" "$out"
		done
	done
	for c in $DNAT_C; do instance_del "d-$c"; done
	for c in $L2_C; do instance_del "l-$c"; done
}

# One flow-setup run, on a fresh instance.
flowsetup_once() {
	local r=$1 c=$2 i="f$1-$2" out s0 s1 n c0 k0 c1 k1
	setup "$i" "$c" est
	s0=$(slab_snapshot)
	out=$(gen_est "$i" --flows 0 --packets "$FS_PKTS") || die "run $i"
	sleep 0.2
	s1=$(slab_snapshot)
	n=$(table_count "$i")
	pkt_result flowsetup new "$c" "$out"
	echo "info table flowsetup/$c $n" >>"$RAW"
	case $c in
	iptables | nftables)
		read -r c0 k0 <<<"$s0"
		read -r c1 k1 <<<"$s1"
		[ "$n" -gt 0 ] && echo "mem nf_conntrack $c $n $((c1 - c0)) $((k1 - k0))" >>"$RAW"
		;;
	qnat-bpf)
		in_ns "$i" h "$QB" qnatmaps up0 | sed "s/^/mem qnat $n /" >>"$RAW"
		;;
	esac
	instance_del "$i"
}

flowsetup_phase() {
	local r c
	log "== flowsetup: $(echo $FS_C), $FS_PKTS new flows a run"
	for r in $(seq "$ROUNDS"); do
		for c in $FS_C; do flowsetup_once "$r" "$c"; done
	done
}

for f in $FLOWS; do est_phase "$f"; done
dnat_l2_phase
flowsetup_phase
