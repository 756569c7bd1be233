# The report of tools/bench.sh, from its raw file (POSIX awk: Debian's is mawk).
#   awk -v out=DIR -f report.awk DIR/raw.txt
# Prints the tables and the targets; writes DIR/bench.json (every figure),
# DIR/<workload>.dat and DIR/plots.gp (gnuplot, one PNG per workload).
#
# Raw lines:
#   meta KEY VALUE...
#   sample WORKLOAD VARIANT CONTENDER VALUE         (VALUE in base units)
#   wall WORKLOAD VARIANT CONTENDER VALUE           (packets per wall-second, JSON only)
#   prog NAME hook H flows N ns X min X max X raw_ns X noop_ns X ratio_noop X repeat N runs N
#   mem nf_conntrack CONTENDER FLOWS D_NF_CONNTRACK_BYTES D_KMALLOC_BYTES
#   mem qnat|qnat_sized FLOWS map NAME id N max_entries N key N value N flags F memlock N
#   expiry idle|expire FLOWS burst wall_ms X cpu_ms X [unfinished 1]
#   expirycost walk|per_flow|batched flows N wall_ms X cpu_ms X
#   info table KEY N

function sort_num(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}
function median(a, n) { sort_num(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function add_unique(list, x) { return (" " list " ") ~ (" " x " ") ? list : (list == "" ? x : list " " x) }
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function jnum(x) { return sprintf("%.6g", x) }
function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : x >= 1 ? sprintf("%.2f", x) : sprintf("%.3f", x) }

BEGIN {
	title["tap_nat"] = "The TAP path: 64-byte UDP written into the guest's TAP as QEMU does (the guest's kernel and virtio not included), guest -> outside, established flows; writer, data plane and sink on one CPU"
	title["tap_flows"] = "The TAP path, qnat-bpf only: established flows in the table"
	title["tap_2cpu"] = "The TAP path, 1000 flows a guest: one guest writing on one CPU, two on two CPUs (per CPU-second; two CPUs move 2x this)"
	title["tap_l2"] = "Guest to guest over TAPs: 64-byte UDP written into guest 1's TAP, read from guest 2's"
	unit["tap_nat"] = "Mpps per CPU"; scale["tap_nat"] = 1e6; vname["tap_nat"] = "flows"
	unit["tap_flows"] = "Mpps per CPU"; scale["tap_flows"] = 1e6; vname["tap_flows"] = "flows"
	unit["tap_2cpu"] = "Mpps per CPU"; scale["tap_2cpu"] = 1e6; vname["tap_2cpu"] = "guests"
	unit["tap_l2"] = "Mpps per CPU"; scale["tap_l2"] = 1e6; vname["tap_l2"] = "flows"
	title["udp_est"] = "veth live frames (injected at the guest's veth: no TAP, the guest side skipped): 64-byte UDP, guest -> outside, established flows"
	title["flowsetup"] = "veth live frames, flow setup: every 64-byte UDP packet a new flow (table filling from empty)"
	title["dnat"] = "veth live frames, inbound port forward (DNAT): 64-byte UDP, outside -> host port -> guest, 10k established flows"
	title["l2"] = "veth live frames, guest to guest over the bridge: 64-byte UDP, 10k flows"
	title["tcp_bulk"] = "TCP bulk from a veth guest: one iperf3 stream (up: guest -> outside, down: outside -> guest)"
	title["tcp_tap"] = "TCP bulk from a guest behind a TAP (taprelay --vnet, as QEMU relays virtio-net): one iperf3 stream"
	unit["tcp_tap"] = "Gbit/s"; scale["tcp_tap"] = 1; vname["tcp_tap"] = ""
	title["tcp_crr"] = "TCP connection rate: connect, 1 byte each way, close"
	unit["udp_est"] = "Mpps per CPU"; scale["udp_est"] = 1e6; vname["udp_est"] = "flows"
	unit["flowsetup"] = "M new flows per CPU-second"; scale["flowsetup"] = 1e6; vname["flowsetup"] = ""
	unit["dnat"] = "Mpps per CPU"; scale["dnat"] = 1e6; vname["dnat"] = "flows"
	unit["l2"] = "Mpps per CPU"; scale["l2"] = 1e6; vname["l2"] = "flows"
	unit["tcp_bulk"] = "Gbit/s"; scale["tcp_bulk"] = 1; vname["tcp_bulk"] = ""
	title["tcp6_bulk"] = "IPv6 TCP bulk from a veth guest through NAT66 (--masq6; ip6tables/nft masquerade): one iperf3 stream"
	title["tcp6_tap"] = "IPv6 TCP bulk from a guest behind a TAP (taprelay --vnet) through NAT66: one iperf3 stream"
	unit["tcp6_bulk"] = "Gbit/s"; scale["tcp6_bulk"] = 1; vname["tcp6_bulk"] = ""
	unit["tcp6_tap"] = "Gbit/s"; scale["tcp6_tap"] = 1; vname["tcp6_tap"] = ""
	unit["tcp_crr"] = "k conn/s"; scale["tcp_crr"] = 1e3; vname["tcp_crr"] = ""
	order = "tap_nat tap_flows tap_2cpu tap_l2 tcp_tap udp_est flowsetup dnat l2 tcp_bulk tcp_crr tcp6_tap tcp6_bulk"
}

$1 == "meta" { k = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); meta[k] = $0; metas = add_unique(metas, k); next }
$1 == "sample" {
	w = $2; v = $3; c = $4
	workloads = add_unique(workloads, w)
	variants[w] = add_unique(variants[w], v)
	contenders[w] = add_unique(contenders[w], c)
	k = w SUBSEP v SUBSEP c
	n[k]++
	val[k, n[k]] = $5 / scale[w]
	next
}
$1 == "wall" {
	k = $2 SUBSEP $3 SUBSEP $4
	wn[k]++
	wval[k, wn[k]] = $5 / scale[$2]
	next
}
$1 == "prog" {
	np++
	for (i = 3; i < NF; i += 2) prog[np, $i] = $(i + 1)
	prog[np, "name"] = $2
	pflows = add_unique(pflows, prog[np, "flows"])
	pnames = add_unique(pnames, $2)
	pidx[$2, prog[np, "flows"]] = np
	next
}
$1 == "mem" && $2 == "nf_conntrack" && $4 > 0 {
	nm[$3]++
	memv[$3, nm[$3]] = ($5 + $6) / $4
	memc[$3, nm[$3]] = $5 / $4
	memct = add_unique(memct, $3)
	next
}
$1 == "mem" && ($2 == "qnat" || $2 == "qnat_sized") {
	for (i = 4; i < NF; i += 2) f[$i] = $(i + 1)
	qm[$2, f["map"], "memlock"] = f["memlock"]
	qm[$2, f["map"], "max"] = f["max_entries"]
	qm[$2, "flows"] = $3
	next
}
$1 == "expiry" {
	k = $2
	ne[k]++
	ewall[k, ne[k]] = $6
	ecpu[k, ne[k]] = $8
	eflows = $3
	next
}
$1 == "expirycost" { xc[$2, "wall"] = $6; xc[$2, "cpu"] = $8; xcn = $4; next }
$1 == "info" && $2 == "table" { tbl[$3] = $4; tbls = add_unique(tbls, $3); next }

END {
	json = out "/bench.json"
	gp = out "/plots.gp"
	printf "{\n  \"meta\": {" > json
	nmeta = split(metas, ms, " ")
	for (i = 1; i <= nmeta; i++)
		printf "%s\n    %s: %s", (i > 1 ? "," : ""), jstr(ms[i]), jstr(meta[ms[i]]) > json
	printf "\n  },\n  \"workloads\": [" > json

	print "# qnat-bpf benchmark: " meta["host"]
	print "# " meta["method"]
	print "# br_netfilter: " meta["br_netfilter"]
	if (meta["quick"] == 1) print "# QUICK=1: short runs and a smaller largest table; not for publication"
	print "# Each cell: median of " meta["rounds"] " interleaved runs, min-max, spread = (max-min)/median; xNAME = this median / NAME's median"

	printf "set terminal pngcairo size 1100,560 font \",10\" noenhanced\nset datafile missing \"-\"\nset style data histogram\nset style histogram errorbars gap 2 lw 1\nset style fill solid 0.85 border -1\nset boxwidth 0.9\nset key outside right top\nset yrange [0:*]\nset grid ytics\n" > gp

	nw = split(order, wl, " ")
	first = 1
	for (wi = 1; wi <= nw; wi++) {
		w = wl[wi]
		if ((" " workloads " ") !~ (" " w " ")) continue
		nv = split(variants[w], vs, " ")
		nc = split(contenders[w], cs, " ")
		printf "\n== %s (%s)\n", title[w], unit[w]
		printf "%s\n    {\"name\": %s, \"title\": %s, \"unit\": %s, \"variants\": [", (first ? "" : ","), jstr(w), jstr(title[w]), jstr(unit[w]) > json
		first = 0
		dat = out "/" w ".dat"
		printf "variant" > dat
		for (ci = 1; ci <= nc; ci++) printf " %s %s_min %s_max", cs[ci], cs[ci], cs[ci] > dat
		printf "\n" > dat
		for (vi = 1; vi <= nv; vi++) {
			v = vs[vi]
			for (ci = 1; ci <= nc; ci++) {
				k = w SUBSEP v SUBSEP cs[ci]
				m = n[k]
				for (j = 1; j <= m; j++) tmp[j] = val[k, j]
				med[k] = m ? median(tmp, m) : 0
				lo[k] = m ? tmp[1] : 0
				hi[k] = m ? tmp[m] : 0
			}
			label = vname[w] != "" ? vname[w] "=" v : v
			printf "%s\n  %-12s %7s %15s %7s", label, "contender", "median", "min-max", "spread"
			for (ci = 1; ci <= nc; ci++) printf " %10s", "x" cs[ci]
			printf "\n"
			printf "%s\n      {\"variant\": %s, \"results\": [", (vi > 1 ? "," : ""), jstr(v) > json
			printf "%s", v > dat
			nres = 0
			for (ci = 1; ci <= nc; ci++) {
				k = w SUBSEP v SUBSEP cs[ci]
				if (!n[k]) { printf " - - -" > dat; continue }
				spread = med[k] > 0 ? (hi[k] - lo[k]) / med[k] * 100 : 0
				printf "  %-12s %7s %7s-%-7s %6.1f%%", cs[ci], fmt(med[k]), fmt(lo[k]), fmt(hi[k]), spread
				printf "%s\n        {\"contender\": %s, \"median\": %s, \"min\": %s, \"max\": %s, \"spread_pct\": %.1f, \"runs\": [", (nres++ ? "," : ""), jstr(cs[ci]), jnum(med[k]), jnum(lo[k]), jnum(hi[k]), spread > json
				for (j = 1; j <= n[k]; j++) printf "%s%s", (j > 1 ? ", " : ""), jnum(val[k, j]) > json
				m = wn[k]
				for (j = 1; j <= m; j++) tmp[j] = wval[k, j]
				if (m) printf "], \"wall_median\": %s, \"wall_runs\": [", jnum(median(tmp, m)) > json
				for (j = 1; j <= m; j++) printf "%s%s", (j > 1 ? ", " : ""), jnum(wval[k, j]) > json
				printf "], \"ratio_to\": {" > json
				nrat = 0
				for (cj = 1; cj <= nc; cj++) {
					k2 = w SUBSEP v SUBSEP cs[cj]
					if (!n[k2]) { printf " %10s", "-"; continue }
					r = med[k2] > 0 ? med[k] / med[k2] : 0
					printf " %10s", sprintf("%.2f", r)
					printf "%s%s: %s", (nrat++ ? ", " : ""), jstr(cs[cj]), sprintf("%.3f", r) > json
				}
				printf "}}" > json
				printf "\n"
				printf " %s %s %s", jnum(med[k]), jnum(lo[k]), jnum(hi[k]) > dat
			}
			printf "\n" > dat
			printf "]}" > json
		}
		printf "]}" > json
		close(dat)
		if (w == "tap_nat") floor_report(w)
		printf "set output '%s/%s.png'\nset title \"%s\" noenhanced\nset ylabel \"%s\"\nset xlabel \"%s\"\nset xrange [-0.6:%s]\n", out, w, title[w], unit[w], vname[w], nv - 0.4 > gp
		printf "plot for [i=0:%d] '%s' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnhead(2+3*i) noenhanced\n", nc - 1, dat > gp
	}
	printf "\n  ],\n" > json

	# L0: program costs
	if (np) printf "\n== L0: each program's fast path under BPF_PROG_TEST_RUN (ns per run; repeat %s, median of %s runs)\n", prog[1, "repeat"], prog[1, "runs"]
	if (np) print "   cost = wrapped(prog) - wrapped(no-op) + no-op; the wrapper restores the header the program rewrote"
	nf = split(pflows, pf, " ")
	npn = split(pnames, pn, " ")
	if (np) {
		printf "  %-26s %5s", "program", "hook"
		for (fi = 1; fi <= nf; fi++) printf " %21s", "flows=" pf[fi]
		printf "   x no-op\n"
	}
	printf "  \"prog_cost\": [" > json
	dat = out "/prog_cost.dat"
	printf "flows" > dat
	for (p = 1; p <= npn; p++) if (pn[p] !~ /^wrap_/) printf " %s %s_min %s_max", pn[p], pn[p], pn[p] > dat
	printf "\n" > dat
	for (p = 1; p <= npn; p++) {
		i = pidx[pn[p], pf[1]]
		printf "  %-26s %5s", pn[p], prog[i, "hook"]
		for (fi = 1; fi <= nf; fi++) {
			i = pidx[pn[p], pf[fi]]
			if (i) printf " %7.1f (%5.1f-%5.1f)", prog[i, "ns"], prog[i, "min"], prog[i, "max"]
			else printf " %21s", "-"
		}
		printf "   %s\n", sprintf("%.2f", prog[pidx[pn[p], pf[1]], "ratio_noop"])
	}
	for (i = 1; i <= np; i++) {
		printf "%s\n    {\"prog\": %s, \"hook\": %s, \"flows\": %s, \"ns\": %s, \"min\": %s, \"max\": %s, \"raw_ns\": %s, \"noop_ns\": %s, \"ratio_noop\": %s, \"repeat\": %s, \"runs\": %s}", (i > 1 ? "," : ""), jstr(prog[i, "name"]), jstr(prog[i, "hook"]), prog[i, "flows"], prog[i, "ns"], prog[i, "min"], prog[i, "max"], prog[i, "raw_ns"], prog[i, "noop_ns"], prog[i, "ratio_noop"], prog[i, "repeat"], prog[i, "runs"] > json
	}
	printf "\n  ],\n" > json
	for (fi = 1; fi <= nf; fi++) {
		printf "%s", pf[fi] > dat
		for (p = 1; p <= npn; p++) if (pn[p] !~ /^wrap_/) {
			i = pidx[pn[p], pf[fi]]
			if (i) printf " %s %s %s", prog[i, "ns"], prog[i, "min"], prog[i, "max"] > dat
			else printf " - - -" > dat
		}
		printf "\n" > dat
	}
	close(dat)
	if (np) {
		printf "set xrange [-0.6:%s]\n", nf - 0.4 > gp
		printf "set output '%s/prog_cost.png'\nset title \"Program cost under BPF_PROG_TEST_RUN (ns per run)\" noenhanced\nset ylabel \"ns\"\nset xlabel \"flows in conntrack\"\n", out > gp
		printf "plot for [i=0:%d] '%s' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnhead(2+3*i) noenhanced\n", npn - 3, dat > gp
	}

	# Memory per flow
	print "\n== Memory per tracked flow (bytes)"
	printf "  \"memory\": {" > json
	nmc = split(memct, mcs, " ")
	nfbest = 0
	for (ci = 1; ci <= nmc; ci++) {
		c = mcs[ci]
		m = nm[c]
		for (j = 1; j <= m; j++) tmp[j] = memv[c, j]
		mv = median(tmp, m); mlo = tmp[1]; mhi = tmp[m]
		for (j = 1; j <= m; j++) tmp[j] = memc[c, j]
		mc = median(tmp, m)
		nfmem[c] = mv
		if (c == "iptables" || nfbest == 0) nfbest = mv
		printf "  nf_conntrack (%s): %.0f B/flow (%.0f-%.0f; %.0f of it the nf_conntrack slab, the rest kmalloc: NAT extension), slabinfo delta over %s flows, %d runs\n", c, mv, mlo, mhi, mc, tbl["flowsetup/" c], m
		printf "%s\n    \"nf_conntrack_%s\": {\"bytes_per_flow\": %.1f, \"min\": %.1f, \"max\": %.1f, \"nf_conntrack_slab_per_flow\": %.1f, \"runs\": %d, \"method\": \"/proc/slabinfo delta (nf_conntrack + kmalloc-*) / nf_conntrack_count, root namespace, read only\"}", (nmj++ ? "," : ""), c, mv, mlo, mhi, mc, m > json
	}
	for (s = 1; s <= 2; s++) {
		sz = s == 1 ? "qnat" : "qnat_sized"
		if (qm[sz, "qnat_ct", "max"] == "") continue
		qct = qm[sz, "qnat_ct", "memlock"] / qm[sz, "qnat_ct", "max"]
		qrev = qm[sz, "qnat_ct_rev", "memlock"] / qm[sz, "qnat_ct_rev", "max"]
		qmem[s] = qct + qrev
		printf "  qnat-bpf (--ct-max %s): %.0f B/flow = qnat_ct %.0f + qnat_ct_rev %.0f (kernel memlock / max_entries; preallocated: the table costs ct-max x this, used or not)\n", qm[sz, "qnat_ct", "max"], qct + qrev, qct, qrev
		printf "%s\n    \"%s\": {\"ct_max\": %d, \"bytes_per_flow\": %.1f, \"qnat_ct_per_entry\": %.1f, \"qnat_ct_rev_per_entry\": %.1f, \"qnat_ct_memlock\": %d, \"qnat_ct_rev_memlock\": %d, \"method\": \"fdinfo memlock / max_entries\"}", (nmj++ ? "," : ""), sz, qm[sz, "qnat_ct", "max"], qct + qrev, qct, qrev, qm[sz, "qnat_ct", "memlock"], qm[sz, "qnat_ct_rev", "memlock"] > json
	}
	printf "\n  },\n" > json
	dat = out "/memory.dat"
	printf "what bytes bytes_min bytes_max\n" > dat
	for (ci = 1; ci <= nmc; ci++) printf "nf_conntrack(%s) %.1f %.1f %.1f\n", mcs[ci], nfmem[mcs[ci]], nfmem[mcs[ci]], nfmem[mcs[ci]] > dat
	if (qmem[1]) printf "qnat-bpf %.1f %.1f %.1f\n", qmem[1], qmem[1], qmem[1] > dat
	close(dat)
	if (nmc || qmem[1]) printf "set xrange [*:*]\nset output '%s/memory.png'\nset title \"Memory per tracked flow\" noenhanced\nset ylabel \"bytes\"\nset xlabel \"\"\nset style histogram clustered gap 2\nplot '%s' using 2:xtic(1) title columnhead(2)\nset style histogram errorbars gap 2 lw 1\n", out, dat > gp

	# Expiry
	if (eflows != "") printf "\n== The controller's expiry pass over %s flows (wall and CPU of its supervisor, from schedstat)\n", eflows
	printf "  \"expiry\": {\"flows\": %d", eflows + 0 > json
	dat = out "/expiry.dat"
	printf "pass wall_ms wall_min wall_max cpu_ms cpu_min cpu_max\n" > dat
	for (s = 1; s <= 2; s++) {
		k = s == 1 ? "idle" : "expire"
		m = ne[k]
		if (!m) continue
		mw = 0; mcpu = 0
		for (j = 1; j <= m; j++) if (ewall[k, j] > mw) { mw = ewall[k, j]; mcpu = ecpu[k, j] }
		printf "  %-6s pass: %.0f ms wall, %.0f ms CPU (largest of %d bursts; %s)\n", k, mw, mcpu, m, k == "idle" ? "every flow live, nothing deleted" : "every flow past its timeout, both halves deleted"
		printf ", \"%s\": {\"wall_ms\": %.1f, \"cpu_ms\": %.1f, \"bursts\": [", k, mw, mcpu > json
		for (j = 1; j <= m; j++) printf "%s{\"wall_ms\": %s, \"cpu_ms\": %s}", (j > 1 ? ", " : ""), ewall[k, j], ecpu[k, j] > json
		printf "]}" > json
		printf "%s %s %s %s %s %s %s\n", k, mw, mw, mw, mcpu, mcpu, mcpu > dat
		exp_wall[k] = mw
	}
	if (tbl["expiry_after"] != "") printf "  flows left after the expiring pass: %s (of %s)\n", tbl["expiry_after"], eflows
	if (xcn != "") {
		printf "  the same deletions on private maps of %s flows: walk only %.0f ms CPU; per flow (lookup + 2 deletes, as the controller) %.0f ms CPU, %.0f ms wall; batched (bpf_map_delete_batch) %.0f ms CPU, %.0f ms wall\n", xcn, xc["walk", "cpu"], xc["per_flow", "cpu"], xc["per_flow", "wall"], xc["batched", "cpu"], xc["batched", "wall"]
		printf ", \"deletion_cost\": {\"flows\": %d", xcn > json
		split("walk per_flow batched", xm, " ")
		for (i = 1; i <= 3; i++) printf ", \"%s\": {\"wall_ms\": %s, \"cpu_ms\": %s}", xm[i], xc[xm[i], "wall"], xc[xm[i], "cpu"] > json
		printf "}" > json
	}
	printf "},\n" > json
	close(dat)
	if (eflows != "") printf "set xrange [-0.6:1.6]\nset logscale y\nset yrange [1:*]\nset output '%s/expiry.png'\nset title \"The controller's expiry pass over %s flows (log scale)\"\nset ylabel \"ms\"\nset xlabel \"\"\nplot '%s' using 2:3:4:xtic(1) title columnhead(2), '' using 5:6:7 title columnhead(5)\nunset logscale y\nset yrange [0:*]\n", out, eflows, dat > gp

	# Tables as measured
	printf "  \"tables\": {" > json
	ntb = split(tbls, tb, " ")
	for (i = 1; i <= ntb; i++) printf "%s%s: %s", (i > 1 ? ", " : ""), jstr(tb[i]), tbl[tb[i]] > json
	printf "},\n" > json

	# The data plane above the write floor (tap_nat)
	printf "  \"tap_ns_above_floor\": {" > json
	i = 0
	for (k in above) { split(k, kk, SUBSEP); printf "%s%s: %.1f", (i++ ? ", " : ""), jstr(kk[2] "/" kk[3]), above[k] > json }
	printf "},\n" > json

	# Targets (issue 12, then issue 7)
	print "\n== Targets"
	printf "  \"targets\": [" > json
	nt = 0
	big = 0
	nv = split(variants["tap_flows"], vs, " ")
	for (i = 1; i <= nv; i++) if (vs[i] + 0 > big) big = vs[i] + 0
	tf = M("tap_nat", 1000, "qnat-bpf")
	target("TAP path, 1000 flows: qnat-bpf >= 0.9x its XDP-redirect ceiling", tf / M("tap_nat", 1000, "xdp-fwd"), 0.9, "x")
	target("TAP path, 1000 flows: qnat-bpf vs iptables MASQUERADE (no target)", tf / M("tap_nat", 1000, "iptables"), 0, "x")
	target("veth live frames, 10k flows: qnat-bpf >= 4x iptables MASQUERADE", M("udp_est", 10000, "qnat-bpf") / M("udp_est", 10000, "iptables"), 4, "x")
	target("veth live frames, 10k flows: qnat-bpf --port-xdp native >= 4x iptables MASQUERADE", M("udp_est", 10000, "qnat-xdp") / M("udp_est", 10000, "iptables"), 4, "x")
	target("veth guest, TCP bulk up: --port-xdp native vs qnat-bpf's default (no target: what XDP on a veth port costs TCP)", M("tcp_bulk", "up", "qnat-xdp") / M("tcp_bulk", "up", "qnat-bpf"), 0, "x")
	i = pidx["xdp_port_in", pf[1]]
	if (i) target("guest port fast path (xdp_port_in) in PROG_TEST_RUN vs a no-op (no target)", prog[i, "ratio_noop"], 0, "x")
	target("TCP bulk from a TAP guest: qnat-bpf >= 1.0x MASQUERADE", M("tcp_tap", "up", "qnat-bpf") / M("tcp_tap", "up", "iptables"), 1, "x")
	target("guest to guest over TAPs: qnat-bpf >= 0.9x an XDP L2 redirect", M("tap_l2", 1000, "qnat-bpf") / M("tap_l2", 1000, "xdp-l2"), 0.9, "x")
	if (big > 1000 && M("tap_flows", 1000, "qnat-bpf") > 0)
		target("TAP path, per-packet cost from 1k to " big " flows rises <= 20%", M("tap_flows", 1000, "qnat-bpf") / M("tap_flows", big, "qnat-bpf") - 1, -0.20, "rise")
	if (M("tap_2cpu", 1, "qnat-bpf") > 0)
		target("TAP path: two guests on two CPUs move >= 1.8x one (per CPU-second x 2)", 2 * M("tap_2cpu", 2, "qnat-bpf") / M("tap_2cpu", 1, "qnat-bpf"), 1.8, "x")
	big = 0
	nv = split(variants["udp_est"], vs, " ")
	for (i = 1; i <= nv; i++) if (vs[i] + 0 > big) big = vs[i] + 0
	target("small packets, 10k flows: qnat-bpf >= 0.8x the XDP-forward ceiling", M("udp_est", 10000, "qnat-bpf") / M("udp_est", 10000, "xdp-fwd"), 0.8, "x")
	target("small packets, 10k flows: qnat-bpf ~4x iptables MASQUERADE", M("udp_est", 10000, "qnat-bpf") / M("udp_est", 10000, "iptables"), 4, "x")
	target("small packets, 10k flows: qnat-bpf ~4x nftables masquerade", M("udp_est", 10000, "qnat-bpf") / M("udp_est", 10000, "nftables"), 4, "x")
	target("flow setup: qnat-bpf >= 2x iptables (nf_conntrack)", M("flowsetup", "new", "qnat-bpf") / M("flowsetup", "new", "iptables"), 2, "x")
	target("flow setup: qnat-bpf >= 2x nftables (nf_conntrack)", M("flowsetup", "new", "qnat-bpf") / M("flowsetup", "new", "nftables"), 2, "x")
	target("TCP bulk up: qnat-bpf >= 1.0x MASQUERADE", M("tcp_bulk", "up", "qnat-bpf") / M("tcp_bulk", "up", "iptables"), 1, "x")
	target("TCP bulk down: qnat-bpf >= 1.0x MASQUERADE", M("tcp_bulk", "down", "qnat-bpf") / M("tcp_bulk", "down", "iptables"), 1, "x")
	target("TCP bulk up: qnat-bpf >= 0.95x plain routing", M("tcp_bulk", "up", "qnat-bpf") / M("tcp_bulk", "up", "route"), 0.95, "x")
	target("TCP bulk down: qnat-bpf >= 0.95x plain routing", M("tcp_bulk", "down", "qnat-bpf") / M("tcp_bulk", "down", "route"), 0.95, "x")
	target("guest to guest: qnat-bpf >= 2.5x Linux bridge (br_netfilter off)", M("l2", 10000, "qnat-bpf") / M("l2", 10000, "bridge"), 2.5, "x")
	target("guest to guest: qnat-bpf >= 2.5x Linux bridge with libvirt's rules (br_netfilter on)", M("l2", 10000, "qnat-bpf") / M("l2", 10000, "br-libvirt"), 2.5, "x")
	if (big > 1000 && M("udp_est", 1000, "qnat-bpf") > 0)
		target("per-packet cost from 1k to " big " flows rises <= 20%", M("udp_est", 1000, "qnat-bpf") / M("udp_est", big, "qnat-bpf") - 1, -0.20, "rise")
	target("IPv6 TCP bulk up from a TAP guest: qnat-bpf --masq6 >= 1.0x ip6tables MASQUERADE", M("tcp6_tap", "up", "qnat-bpf") / M("tcp6_tap", "up", "ip6tables"), 1, "x")
	target("IPv6 TCP bulk up from a veth guest: qnat-bpf --masq6 >= 1.0x ip6tables MASQUERADE", M("tcp6_bulk", "up", "qnat-bpf") / M("tcp6_bulk", "up", "ip6tables"), 1, "x")
	target("IPv6 TCP bulk down to a veth guest: qnat-bpf --masq6 >= 1.0x ip6tables MASQUERADE", M("tcp6_bulk", "down", "qnat-bpf") / M("tcp6_bulk", "down", "ip6tables"), 1, "x")
	target("IPv6 TCP bulk up from a veth guest: qnat-bpf --masq6 vs plain IPv6 routing (no target)", M("tcp6_bulk", "up", "qnat-bpf") / M("tcp6_bulk", "up", "route"), 0, "x")
	if (qmem[1] && nfbest)
		target("memory per flow <= 0.7x nf_conntrack's", qmem[1] / nfbest, -0.7, "x")
	i = pidx["tc_port_in", pf[1]]
	if (i) target("NAT fast path (tc_port_in) in PROG_TEST_RUN <= 3x no-op", prog[i, "ratio_noop"], -3, "x")
	i = pidx["tc_uplink_in", pf[1]]
	if (i) target("reply fast path (tc_uplink_in) in PROG_TEST_RUN <= 3x no-op", prog[i, "ratio_noop"], -3, "x")
	i = pidx["xdp_uplink_in", pf[1]]
	if (i) target("reply fast path (xdp_uplink_in) in PROG_TEST_RUN <= 3x no-op", prog[i, "ratio_noop"], -3, "x")
	if (meta["elapsed_s"] != "")
		target("make bench finishes in under 15 minutes", meta["elapsed_s"] / 60, -15, "min")
	printf "\n  ]\n}\n" > json
	close(json)
	close(gp)
}

function M(w, v, c,   k) { k = w SUBSEP v SUBSEP c; return med[k] + 0 }

# target(TEXT, MEASURED, GOAL, UNIT): GOAL > 0 means at least, < 0 at most.
function target(text, x, goal, u,   met, g) {
	g = goal < 0 ? -goal : goal
	if (x == 0 && u != "rise") { printf "  n/a     %s (not measured)\n", text; return }
	if (goal == 0) { printf "  info    %s: measured %.2f%s\n", text, x, u; return }
	met = goal > 0 ? x >= g : x <= g
	if (u == "rise")
		printf "  %-7s %s: measured %+.1f%%%s\n", met ? "MET" : "MISSED", text, x * 100, met ? "" : sprintf(" (target <= %+.0f%%)", g * 100)
	else
		printf "  %-7s %s: measured %.2f%s%s\n", met ? "MET" : "MISSED", text, x, u, met ? "" : sprintf(" (target %s %.2f%s)", goal > 0 ? ">=" : "<=", g, u)
	printf "%s\n    {\"target\": %s, \"measured\": %s, \"goal\": %s, \"at_most\": %s, \"unit\": %s, \"met\": %s}", (nt++ ? "," : ""), jstr(text), jnum(x), jnum(g), goal < 0 ? "true" : "false", jstr(u), met ? "true" : "false" > json
}

# The data plane's cost per packet above the write floor (the TAP write and
# the bridge's drop alone), from the medians: 1e3 / Mpps is ns per packet.
function floor_report(w,   nv, vs, vi, nc, cs, ci, f, m) {
	nv = split(variants[w], vs, " ")
	nc = split(contenders[w], cs, " ")
	for (vi = 1; vi <= nv; vi++) {
		f = M(w, vs[vi], "floor")
		if (!f) continue
		printf "  data plane, ns per packet above the write floor (%.0f ns), %s=%s:", 1e3 / f, vname[w], vs[vi]
		for (ci = 1; ci <= nc; ci++) {
			m = M(w, vs[vi], cs[ci])
			if (cs[ci] == "floor" || !m) continue
			printf " %s %.0f", cs[ci], 1e3 / m - 1e3 / f
			above[w, vs[vi], cs[ci]] = 1e3 / m - 1e3 / f
		}
		printf "\n"
	}
}
