#!/bin/bash
# make bench: qnat-bpf against the kernel's NAT on one namespace topology,
# the same for every contender, contenders interleaved (A B C D A B C D ...).
# Prints a table per workload (median, min-max, ratio to each contender)
# and the targets of issues 12 and 7; writes OUT/bench.json (every figure),
# OUT/raw.txt (every sample) and OUT/<workload>.png (gnuplot).
#
#   tools/bench.sh                       as root; about 13 minutes on the 2-vCPU VM
#   QUICK=1 tools/bench.sh               2 rounds, short runs, 100k-flow tables; about 4 minutes
#   WORKLOADS="tap" tools/bench.sh       a subset: tap progcost udp tcp tcp6 expiry
#
# Workloads: tap (tools/bench/tap.sh: frames written into a guest's TAP as
# QEMU writes them, the path guests' packets take), udp (veth live frames:
# injected by XDP at the guest's veth, skipping the guest side), tcp (iperf3
# and connections, from veth and TAP guests), tcp6 (iperf3 over IPv6 through
# NAT66, veth and TAP guests), progcost (L0: each program
# alone under BPF_PROG_TEST_RUN), expiry (the controller's expiry pass).
#
# Contenders (tools/bench/lib.sh has the topology and their setup):
#   iptables        kernel bridge + libvirt's iptables rules (MASQUERADE, nf_conntrack)
#   ipt-brnf        the same with br_netfilter on (a host that also runs Docker)
#   nftables        kernel bridge + libvirt's nftables rules (masquerade)
#   route           kernel bridge + plain routing, no NAT
#   xdp-fwd         a null XDP forwarder on the guest port (MACs, TTL, devmap
#                   redirect to the uplink): the ceiling of the path
#   floor           the TAP path's write floor: frames for a MAC nobody has
#                   (the TAP write and the bridge's drop, nothing forwarded)
#   qnat-bpf        qnat-bpf attach virbr0 --masq 192.168.122.0/24 (its defaults)
#   qnat-xdp        qnat-bpf with --port-xdp native: xdp_port_in on the veth guest
#                   port too (by default only TAP ports get it)
#   L2: br-libvirt (br_netfilter on, libvirt's rules), bridge (br_netfilter off),
#       qnat-bpf, xdp-l2 (null XDP forwarder port to port)
set -u
cd "$(dirname "$0")/.."
. tools/bench/lib.sh

QUICK=${QUICK:-0}
OUT=${OUT:-build/bench}
WORKLOADS=${WORKLOADS:-"tap progcost udp tcp tcp6 expiry"}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-2} SECS=${SECS:-0.5} FLOWS=${FLOWS:-"1 1000 10000 100000"} FS_PKTS=${FS_PKTS:-100000}
	TCP_SECS=${TCP_SECS:-2} CRR_SECS=${CRR_SECS:-1} PC_REPEAT=${PC_REPEAT:-1000000} PC_RUNS=${PC_RUNS:-3}
	EXP_FLOWS=${EXP_FLOWS:-200000} TAP_BIG=${TAP_BIG:-100000}
else
	ROUNDS=${ROUNDS:-5} SECS=${SECS:-1} FLOWS=${FLOWS:-"1 1000 10000 1000000"} FS_PKTS=${FS_PKTS:-200000}
	TCP_SECS=${TCP_SECS:-2} CRR_SECS=${CRR_SECS:-2} PC_REPEAT=${PC_REPEAT:-10000000} PC_RUNS=${PC_RUNS:-5}
	EXP_FLOWS=${EXP_FLOWS:-1000000} TAP_BIG=${TAP_BIG:-1000000}
fi

[ "$(id -u)" = 0 ] || die "run as root (namespaces, BPF)"
for c in iperf3 iptables nft ethtool taskset gnuplot; do
	command -v $c >/dev/null || die "needs $c (make deps)"
done
[ -x "$QNAT" ] && [ -x "$QB" ] || die "build first: make all build/qbench"
[ "$(nproc)" -gt "$MEAS_CPU" ] || MEAS_CPU=0
mkdir -p "$OUT"
RAW=$OUT/raw.txt
: >"$RAW"
rm -f "$OUT"/*.png "$OUT"/*.dat "$OUT/tcp.json" "$OUT/tcp.raw"

trap teardown_all EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
brnf=$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent)
ctmax_mode=$(stat -c %A /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null)
{
	echo "meta host $(uname -r), $(nproc) vCPU $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	echo "meta method packet workloads: 60-byte frames (64 on the wire), UDP checksum 0, ${SECS}s per run, generator, data plane and XDP sink run to completion on CPU $MEAS_CPU (qnat supervisors on CPU $BG_CPU); rate = packets at the sink / CPU time of the generator thread and ksoftirqd (time other tasks held the CPU left out; per wall-second in the JSON). TAP path: qbench tapgen writes each frame into the guest's TAP as QEMU without vhost-net does (virtio-net header, non-blocking fd). veth live frames: a BPF_PROG_TEST_RUN live-frames generator XDP_TXes them out of the guest's veth (no TAP, no tun: the guest side is skipped)"
	echo "meta br_netfilter built in, bridge-nf-call-iptables=$brnf by default in new namespaces; set to 0 for every contender except ipt-brnf and br-libvirt"
	echo "meta nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max) (global; read-only in other namespaces: ${ctmax_mode:-?} here), buckets $(cat /proc/sys/net/netfilter/nf_conntrack_buckets)"
	echo "meta quick $QUICK"
	echo "meta rounds $ROUNDS"
	echo "meta secs $SECS"
	echo "meta flows $FLOWS"
	echo "meta load_before $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "meta qnat_commit $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet -- bpf maps loader 2>/dev/null || echo +dirty)"
	echo "meta date $(date -u +%FT%TZ)"
} >>"$RAW"

for w in $WORKLOADS; do
	case $w in
	progcost)
		log "== L0: program costs (repeat $PC_REPEAT, $PC_RUNS runs)"
		"$QB" progcost --repeat "$PC_REPEAT" --runs "$PC_RUNS" --flows "1000,$(echo "$FLOWS" | awk '{print $NF}')" \
			--cpu "$MEAS_CPU" >>"$RAW" || die "progcost"
		;;
	tap | udp | tcp | tcp6 | expiry) . "tools/bench/$w.sh" ;;
	*) die "unknown workload $w" ;;
	esac
done
teardown_all

echo "meta load_after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"
echo "meta elapsed_s $(($(date +%s) - start))" >>"$RAW"
awk -v out="$OUT" -f tools/bench/report.awk "$RAW" | tee "$OUT/table.txt"
gnuplot "$OUT/plots.gp" 2>"$OUT/gnuplot.log" || log "bench: gnuplot failed, see $OUT/gnuplot.log"
echo
echo "every figure: $OUT/bench.json; charts: $(cd "$OUT" && ls *.png 2>/dev/null | tr '\n' ' ')"
