# Sourced by tools/bench.sh and tools/bench/*.sh: the topology, the
# contenders, the generator runs, and the teardown.  Every instance of the
# topology is its own set of namespaces; nothing touches the root namespace.
#
#               guest g1 192.168.122.10 ==veth== vg1 ┐
#   (L2 only)   guest g2 192.168.122.11 ==veth== vg2 ┤ virbr0 192.168.122.1   host h
#                                                      up0 198.51.100.1 ==veth== eth0 198.51.100.2  sink e
#
# UDP workloads inject with `qbench run` (BPF_PROG_TEST_RUN live frames,
# XDP_TX out of the sender's eth0) and count with the XDP sink on the
# receiver's eth0; sender, data plane and sink run to completion on
# MEAS_CPU.  TCP workloads use separate instances with no XDP anywhere
# (native XDP on a veth strips GSO from its peer).

QNAT=$PWD/build/qnat-bpf
QB=$PWD/build/qbench
TAPRELAY=$PWD/build/taprelay
PFX=qb$$
MEAS_CPU=${MEAS_CPU:-1}
BG_CPU=${BG_CPU:-0}
BR_MAC=02:00:00:00:00:01
UP_MAC=02:00:00:00:01:01
EXT_MAC=02:00:00:00:01:02
G_MAC=(- 52:54:00:00:00:0a 52:54:00:00:00:0b)
G_IP=(- 192.168.122.10 192.168.122.11)
EXT_IP=198.51.100.1
SINK_IP=198.51.100.2
DNAT_PORT=5000
UDP_TIMEOUT=600 # one-way UDP flows must stay in every table between runs

declare -A INST_NS INST_QNAT INST_PIDS

log() { printf '[%4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "bench: $*"; exit 1; }

nsname() { echo "$PFX-$1-$2"; }
# in INSTANCE ROLE COMMAND...: run COMMAND in that instance's namespace
in_ns() { local n; n=$(nsname "$1" "$2"); shift 2; ip netns exec "$n" "$@"; }

instance_del() {
	local i=$1 pid
	[ -n "${INST_QNAT[$i]:-}" ] && in_ns "$i" h "$QNAT" detach virbr0 >/dev/null 2>&1
	for pid in ${INST_PIDS[$i]:-}; do kill "$pid" 2>/dev/null; done
	for pid in ${INST_PIDS[$i]:-}; do wait "$pid" 2>/dev/null; done
	for r in ${INST_NS[$i]:-}; do ip netns del "$(nsname "$i" "$r")" 2>/dev/null; done
	unset "INST_NS[$i]" "INST_QNAT[$i]" "INST_PIDS[$i]"
}

teardown_all() {
	local i
	for i in "${!INST_NS[@]}"; do instance_del "$i"; done
}

# topo INSTANCE GUESTS [tap]: the namespaces, veths, addresses, static
# neighbours (the sink drops what it counts, so nothing is left to ARP) and
# the bridge.  Guest g is a namespace behind veth vg<g>, or with "tap" a
# persistent TAP vg<g> of the host that qbench tapgen writes into, as QEMU
# would (no guest namespace); the uplink then has two queues, one per CPU.
topo() {
	local i=$1 ng=$2 kind=${3:-veth} g h e queues=
	h=$(nsname "$i" h) e=$(nsname "$i" e)
	[ "$kind" = tap ] && queues="numtxqueues 2 numrxqueues 2"
	INST_NS[$i]="h e"
	ip netns add "$h" && ip netns add "$e" || die "cannot create namespaces"
	ip -n "$h" link set lo up
	ip -n "$e" link set lo up
	ip link add up0 netns "$h" address $UP_MAC $queues type veth peer name eth0 netns "$e" address $EXT_MAC $queues
	ip -n "$h" addr add $EXT_IP/24 dev up0
	ip -n "$h" link set up0 up
	ip -n "$e" addr add $SINK_IP/24 dev eth0
	ip -n "$e" link set eth0 up
	ip -n "$h" route add default via $SINK_IP
	ip -n "$h" neigh replace $SINK_IP lladdr $EXT_MAC dev up0 nud permanent
	ip -n "$e" neigh replace $EXT_IP lladdr $UP_MAC dev eth0 nud permanent
	ip -n "$h" link add virbr0 address $BR_MAC type bridge
	ip -n "$h" addr add 192.168.122.1/24 dev virbr0
	ip -n "$h" link set virbr0 up
	for g in $(seq "$ng"); do
		if [ "$kind" = tap ]; then
			ip -n "$h" tuntap add dev "vg$g" mode tap || die "cannot create TAP vg$g"
		else
			guest_ns "$i" "$g" "$kind"
		fi
		ip -n "$h" link set "vg$g" master virbr0 up
		in_ns "$i" h bridge fdb replace "${G_MAC[$g]}" dev "vg$g" master static
	done
	in_ns "$i" h sysctl -qw net.ipv4.ip_forward=1
}

# guest_ns INSTANCE G KIND: guest g's namespace and its link vg<g> into the
# host: a veth, or (KIND relay) two TAPs relayed as QEMU relays a virtio-net
# guest (taprelay --vnet: GSO kept, the host TAP written non-blocking).
guest_ns() {
	local i=$1 g=$2 kind=$3 gn n
	gn=$(nsname "$i" "g$g")
	INST_NS[$i]+=" g$g"
	ip netns add "$gn"
	ip -n "$gn" link set lo up
	if [ "$kind" = relay ]; then
		bg_in "$i" h "$TAPRELAY" --vnet "vg$g" "$gn" eth0
		for n in $(seq 50); do
			ip -n "$gn" link show eth0 >/dev/null 2>&1 && ip -n "$(nsname "$i" h)" link show "vg$g" >/dev/null 2>&1 &&
				break
			sleep 0.1
		done
		ip -n "$gn" link set eth0 address "${G_MAC[$g]}" || die "taprelay for guest $g did not start"
	else
		ip link add "vg$g" netns "$(nsname "$i" h)" type veth peer name eth0 netns "$gn" address "${G_MAC[$g]}"
	fi
	ip -n "$gn" addr add "${G_IP[$g]}/24" dev eth0
	ip -n "$gn" link set eth0 up
	ip -n "$gn" route add default via 192.168.122.1
	ip -n "$gn" neigh replace 192.168.122.1 lladdr $BR_MAC dev eth0 nud permanent
}

# bg_in INSTANCE ROLE COMMAND...: start COMMAND in the background there; it
# is stopped (by its pid) when the instance goes.
bg_in() {
	local i=$1 r=$2
	shift 2
	ip netns exec "$(nsname "$i" "$r")" "$@" >/dev/null &
	INST_PIDS[$i]+=" $!"
}

# GRO on a veth while it is up: frames XDP_TX'd into it by its peer are
# then taken (as skbs) instead of dropped.
gro_on() { in_ns "$1" h ethtool -K "$2" gro on >/dev/null; }

# Gbit/s received, from iperf3's JSON.
iperf_gbps() {
	awk '/"sum_received"/ {f = 1} f && /"bits_per_second"/ {gsub(/,/, ""); printf "%.3f\n", $2 / 1e9; exit}'
}

# tcp_bulk WORKLOAD INSTANCE CONTENDER [SERVER]: one iperf3 stream up, one
# down (-R), from g1 to the sink's SERVER address (SINK_IP).
tcp_bulk() {
	local v srv=${4:-$SINK_IP}
	v=$(in_ns "$2" g1 iperf3 -c "$srv" -t "$TCP_SECS" -J | iperf_gbps)
	result sample "$1" up "$3" "${v:-0}"
	v=$(in_ns "$2" g1 iperf3 -c "$srv" -t "$TCP_SECS" -R -J | iperf_gbps)
	result sample "$1" down "$3" "${v:-0}"
}

# libvirt's rules for the default network, shared with the differential tests.
libvirt_iptables() {
	in_ns "$1" h sh -e <"$(dirname "${BASH_SOURCE[0]}")/../../tests/libvirt-iptables.sh"
}

libvirt_nftables() {
	in_ns "$1" h nft -f - <<'RULES'
table ip libvirt_network {
	chain forward { type filter hook forward priority 0; policy accept;
		iifname "virbr0" oifname "virbr0" counter accept
		oifname "virbr0" ip daddr 192.168.122.0/24 ct state related,established counter accept
		iifname "virbr0" ip saddr 192.168.122.0/24 counter accept
		iifname "virbr0" counter reject
		oifname "virbr0" counter reject
	}
	chain guest_nat { type nat hook postrouting priority 100; policy accept;
		ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 counter return
		ip saddr 192.168.122.0/24 ip daddr 255.255.255.255 counter return
		meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade to :1024-65535
		meta l4proto udp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade to :1024-65535
		ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade
	}
}
RULES
}

# The port forward, as an admin adds it next to libvirt's rules.
dnat_iptables() {
	in_ns "$1" h sh -e <<RULES
iptables -t nat -A PREROUTING -i up0 -p udp --dport $DNAT_PORT -j DNAT --to-destination ${G_IP[1]}:$DNAT_PORT
iptables -I FORWARD -o virbr0 -d ${G_IP[1]} -p udp --dport $DNAT_PORT -j ACCEPT
RULES
}

dnat_nftables() {
	in_ns "$1" h nft -f - <<RULES
table ip libvirt_network {
	chain guest_dnat { type nat hook prerouting priority -100; policy accept;
		iifname "up0" udp dport $DNAT_PORT dnat to ${G_IP[1]}:$DNAT_PORT
	}
}
insert rule ip libvirt_network forward oifname "virbr0" ip daddr ${G_IP[1]} udp dport $DNAT_PORT accept
RULES
}

ct_timeouts() {
	in_ns "$1" h sysctl -qw net.netfilter.nf_conntrack_udp_timeout=$UDP_TIMEOUT \
		net.netfilter.nf_conntrack_udp_timeout_stream=$UDP_TIMEOUT
}

# qnat_attach INSTANCE [ATTACH OPTIONS]: qnat-bpf's defaults (no DHCP: no
# guest asks), its supervisor kept off the measuring CPU.
qnat_attach() {
	local i=$1 pid
	shift
	in_ns "$i" h "$QNAT" attach virbr0 --masq 192.168.122.0/24 --no-dhcp --uplink up0 \
		--timeout udp=$UDP_TIMEOUT --timeout udp_stream=$UDP_TIMEOUT "$@" >/dev/null ||
		die "qnat-bpf attach failed in instance $i"
	INST_QNAT[$i]=1
	for pid in $(ip netns pids "$(nsname "$i" h)"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qnat-bpf ] && taskset -pc "$BG_CPU" "$pid" >/dev/null
	done
}

qnat_xmit_wait() {
	local n
	for n in $(seq 30); do
		in_ns "$1" h "$QNAT" status virbr0 --json | grep -Eq '"uplink_xdp_xmit": ?true' && return 0
		sleep 0.2
	done
	log "   $1: XDP does not send to the uplink (status says TC)"
}

qnat_supervisor() {
	local pid
	for pid in $(ip netns pids "$(nsname "$1" h)"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = qnat-bpf ] && { echo "$pid"; return; }
	done
}

# Flows in the instance's table (qnat-bpf's, or nf_conntrack's).
table_count() {
	if [ -n "${INST_QNAT[$1]:-}" ]; then
		in_ns "$1" h "$QNAT" ct count virbr0 2>/dev/null | awk '{print $NF; exit}'
	else
		in_ns "$1" h cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0
	fi
}

# setup INSTANCE CONTENDER SHAPE [CT_MAX]
#   SHAPE est   guest -> outside (SNAT), sink on e
#         dnat  outside -> forwarded port -> guest, sinks on g1 and e
#         l2    guest g1 -> guest g2, sinks on g2 and g1
#         tcp   no XDP anywhere: iperf3 and crr
#         taptcp  iperf3 from a guest behind a TAP (taprelay --vnet)
#         tap   guest TAP vg1 -> outside (SNAT), sink on e (tools/bench/tap.sh)
#         tap2  the same with two guest TAPs, vg1 and vg2
#         tapl2 guest TAP vg1 -> guest TAP vg2, counted by reading vg2
setup() {
	local i=$1 c=$2 shape=$3 ctmax=${4:-} ng=1 kind=veth g
	case $shape in l2 | tap2 | tapl2) ng=2 ;; esac
	case $shape in taptcp) kind=relay ;; tap*) kind=tap ;; esac
	topo "$i" $ng $kind
	# br_netfilter is built in here and on (1) in every new namespace.  Off
	# for every contender, except those named for it (a libvirt host that
	# also runs Docker, say, which loads br_netfilter).
	case $c in
	*-brnf | br-libvirt) ;;
	*) in_ns "$i" h sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
		net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 ;;
	esac
	case $c in
	iptables | ipt-brnf | br-libvirt) libvirt_iptables "$i"; ct_timeouts "$i" ;;
	nftables) libvirt_nftables "$i"; ct_timeouts "$i" ;;
	qnat-bpf) qnat_attach "$i" ${ctmax:+--ct-max "$ctmax"} ;;
	qnat-xdp) qnat_attach "$i" --port-xdp native ${ctmax:+--ct-max "$ctmax"} ;;
	route | xdp-fwd | xdp-l2 | bridge | floor) ;;
	*) die "unknown contender $c" ;;
	esac
	case $shape in
	est)
		in_ns "$i" e "$QB" sink eth0 || die "sink"
		gro_on "$i" vg1
		[ "$c" = xdp-fwd ] && { in_ns "$i" h "$QB" fwd vg1 up0 --dmac $EXT_MAC --smac $UP_MAC --ttl || die "fwd"; }
		;;
	dnat)
		in_ns "$i" e "$QB" sink eth0 || die "sink"
		in_ns "$i" g1 "$QB" sink eth0 || die "sink"
		gro_on "$i" vg1
		gro_on "$i" up0
		case $c in
		iptables*) dnat_iptables "$i" ;;
		nftables) dnat_nftables "$i" ;;
		qnat-bpf) in_ns "$i" h "$QNAT" forward add virbr0 udp $DNAT_PORT "${G_IP[1]}:$DNAT_PORT" >/dev/null ||
			die "qnat-bpf forward add" ;;
		xdp-fwd) in_ns "$i" h "$QB" fwd up0 vg1 --dmac "${G_MAC[1]}" --smac $BR_MAC --ttl || die "fwd" ;;
		esac
		;;
	l2)
		in_ns "$i" g1 "$QB" sink eth0 || die "sink"
		in_ns "$i" g2 "$QB" sink eth0 || die "sink"
		gro_on "$i" vg1
		gro_on "$i" vg2
		[ "$c" = xdp-l2 ] && { in_ns "$i" h "$QB" fwd vg1 vg2 || die "fwd"; }
		;;
	tap | tap2)
		in_ns "$i" e "$QB" sink eth0 || die "sink"
		if [ "$c" = xdp-fwd ]; then
			for g in $(seq $ng); do
				in_ns "$i" h "$QB" fwd "vg$g" up0 --dmac $EXT_MAC --smac $UP_MAC --ttl || die "fwd"
			done
		fi
		;;
	tapl2)
		[ "$c" = xdp-l2 ] && { in_ns "$i" h "$QB" fwd vg1 vg2 || die "fwd"; }
		;;
	tcp | taptcp)
		[ "$c" = route ] && ip -n "$(nsname "$i" e)" route add 192.168.122.0/24 via $EXT_IP
		;;
	esac
	# The sink's XDP makes the uplink's peer take XDP frames; the supervisor
	# notices within its 2 s pass, and then XDP sends established flows out.
	case $shape in est | tap | tap2) [ -n "${INST_QNAT[$i]:-}" ] && qnat_xmit_wait "$i" ;; esac
	return 0
}

# gen INSTANCE FROM TO [qbench run options]: inject from FROM's eth0, count at
# TO's eth0; prints "cpu_pps N pps N recv N sent N secs S cpu_s S ...".
gen() {
	local i=$1 from=$2 to=$3
	shift 3
	"$QB" run --gen-ns "$(nsname "$i" "$from")" --gen-dev eth0 --sink-ns "$(nsname "$i" "$to")" --sink-dev eth0 \
		--cpu "$MEAS_CPU" "$@"
}

# The frames of each shape (flow i: fast port = base + i % span).
gen_est() { gen "$1" g1 e --smac "${G_MAC[1]}" --dmac $BR_MAC --saddr "${G_IP[1]}" --daddr $SINK_IP \
	--sport 1024 --dport 10000 --span 64000 "${@:2}"; }
gen_dnat() {
	local daddr=$EXT_IP
	case $2 in route | xdp-fwd) daddr=${G_IP[1]} ;; esac # no NAT: straight to the guest
	gen "$1" e g1 --smac $EXT_MAC --dmac $UP_MAC --saddr $SINK_IP --daddr "$daddr" \
		--sport 20000 --dport $DNAT_PORT --span 60000 "${@:3}"
}
# The guest's answers to gen_dnat's flows: its replies make them established.
gen_dnat_reply() { gen "$1" g1 e --smac "${G_MAC[1]}" --dmac $BR_MAC --saddr "${G_IP[1]}" --daddr $SINK_IP \
	--sport $DNAT_PORT --dport 20000 --span 60000 --swap "${@:2}"; }
gen_l2() { gen "$1" g1 g2 --smac "${G_MAC[1]}" --dmac "${G_MAC[2]}" --saddr "${G_IP[1]}" --daddr "${G_IP[2]}" \
	--sport 1024 --dport 10000 --span 64000 "${@:2}"; }
# Guest g2's answers: its MAC is then known on its port, as in any real exchange.
gen_l2_reply() { gen "$1" g2 g1 --smac "${G_MAC[2]}" --dmac "${G_MAC[1]}" --saddr "${G_IP[2]}" --daddr "${G_IP[1]}" \
	--sport 10000 --dport 1024 --span 64000 --swap "${@:2}"; }

field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) {print $(i + 1); exit}}'; }

# result sample WORKLOAD VARIANT CONTENDER VALUE: one sample, into the raw file.
result() { echo "$*" >>"$RAW"; }

# pkt_result WORKLOAD VARIANT CONTENDER "QBENCH RUN OUTPUT": received per
# CPU-second (the sample) and per wall-second (kept for the JSON).
pkt_result() {
	result sample "$1" "$2" "$3" "$(field cpu_pps <<<"$4")"
	result wall "$1" "$2" "$3" "$(field pps <<<"$4")"
}

mpps() { awk -v p="$1" 'BEGIN {printf "%.4f", p / 1e6}'; }
