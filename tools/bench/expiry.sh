# Sourced by tools/bench.sh: the controller's conntrack expiry pass with
# EXP_FLOWS flows, written straight into qnat_ct/qnat_ct_rev of an instance
# (qbench ctfill), and the supervisor's CPU bursts sampled from
# /proc/PID/schedstat (qbench cpuwatch; it runs a pass every 2 s):
#   idle    every flow live: the pass walks the table and deletes nothing
#   expire  every flow two minutes old, past its 30 s timeout: the pass
#           deletes both halves of each
# Then the same deletions on private maps of the same shape, per flow (as
# the controller does them) and batched (qbench expirycost).
# Also qnat-bpf's memory per flow, from the kernel's memlock of its maps.

expiry_run() {
	local i=x pid out n
	log "== expiry: $EXP_FLOWS flows"
	topo $i 1
	qnat_attach $i --ct-max $((EXP_FLOWS * 2)) --timeout udp_stream=30
	pid=$(qnat_supervisor $i)
	[ -n "$pid" ] || die "no supervisor"
	in_ns $i h "$QB" qnatmaps up0 | sed "s/^/mem qnat_sized $EXP_FLOWS /" >>"$RAW"
	in_ns $i h "$QB" ctfill up0 "$EXP_FLOWS" 0 >/dev/null || die "ctfill"
	out=$(taskset -c "$MEAS_CPU" "$QB" cpuwatch "$pid" 5 2)
	awk -v n="$EXP_FLOWS" '$1 == "burst" {print "expiry idle " n, $0}' <<<"$out" >>"$RAW"
	n=$(table_count $i)
	echo "info table expiry_idle $n" >>"$RAW"
	in_ns $i h "$QB" ctfill up0 "$EXP_FLOWS" 120 >/dev/null || die "ctfill"
	out=$(taskset -c "$MEAS_CPU" "$QB" cpuwatch "$pid" 30 2)
	awk -v n="$EXP_FLOWS" '$1 == "burst" {print "expiry expire " n, $0}' <<<"$out" >>"$RAW"
	echo "info table expiry_after $(table_count $i)" >>"$RAW"
	instance_del $i
	taskset -c "$MEAS_CPU" "$QB" expirycost "$EXP_FLOWS" >>"$RAW" || die "expirycost"
}

expiry_run
