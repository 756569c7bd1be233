# SPDX-License-Identifier: GPL-2.0
# Differential harness: every scenario runs twice on the same namespace
# topology, once with the kernel doing the job exactly as libvirt's `default`
# network does (plain bridge virbr0, ip_forward, libvirt's iptables rules,
# DNAT rules for port forwards) and once with qnat-bpf attached; what the
# guests, the external host and the host observe is written down per mode in
# a normalised form and the two records are compared.  Source it after
# lib.sh:
#
#   diff_mode MODE        kernel | qnat: build the topology for MODE, start
#                         the captures on ext, g1 and g2
#   diff_mode_end         stop MODE's processes, take its namespaces down
#   cap_read/cap_lines/cap_count NAME [FILTER]   a mode's capture, raw,
#                         normalised one line a packet, or counted
#   obs KEY VALUE...      record one observation of the current mode
#   obs_icmp_errors CAP...   record every ICMP error in those captures
#   outcome WHERE CMD...  how a client in WHERE (host, ext, g1, g2) fared: "ok FIRST-LINE-OF-ANSWER",
#                         refused, reset, timeout, unreachable, noreply, error
#   udp_ask WHERE ADDR PORT [SRCPORT [WAIT]]   one UDP datagram, through outcome
#   fwd_rule add|del tcp|udp HOSTPORT[-END] [GUESTPORT]   a port forward from
#                         the uplink address to g1, the mode's way (DNAT or forward add)
#   allow KEY KERNEL QNAT WHY   a deliberate improvement: KEY may differ, the
#                         kernel's value matching the regex KERNEL and qnat's QNAT
#   expect KEY REGEX      what the kernel must observe (checks the harness)
#   diff_compare          compare the two records; fail on any difference
#                         that is not allowed, print the allowed ones
#   diff_run              both modes (the test's scenarios, then its captures),
#                         diff_compare, and no guest source on qnat's uplink
#
# A test may define topo_extra, run in each mode right after topo_init
# (before the NAT is set up: e.g. the uplink's IPv6), and set DIFF_ATTACH,
# qnat's attach options (default --no-dhcp: the guests' addresses are static).
#
# DIFF_KEEP=DIR keeps both records and captures in DIR.  DIFF_QNAT_ARGS adds
# options to qnat's attach, to check that the comparison does fail: with
# --port-range 20000-29999 (guests' source ports no longer kept) the masq
# test must fail, with --forward tcp:8090:192.168.122.10:8090 (a port that
# must stay closed) the forward test must.
#
# The oracle pins net.bridge.bridge-nf-call-iptables=0 in the host namespace
# (a KVM host without br_netfilter): with it on, bridged guest-to-guest
# frames pass through nf_conntrack and the kernel's hairpin half-works.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "missing python3"
G1=192.168.122.10
G2=192.168.122.11
T0=$T
MODE=
declare -A ALLOW_K=() ALLOW_Q=() ALLOW_WHY=() EXPECT=()

# libvirt's rules for the default network, shared with the benchmark.
libvirt_rules() {
	in_host sh -e <"$(dirname "${BASH_SOURCE[0]}")/../libvirt-iptables.sh"
}

# A capture in namespace NS on IF for the whole mode, read back by cap_read.
cap_start() {
	local name=$1 ns=$2 dev=$3
	ip netns exec "$ns" tcpdump -i "$dev" --immediate-mode -s 256 -nn -U -w "$MW/$name.pcap" >/dev/null 2>"$MW/$name.err" &
	BG_PIDS+=($!)
	CAPS+=($!)
	wait_for 5 grep -q "listening on" "$MW/$name.err" || fail "tcpdump in $ns did not start"
}

# cap_read NAME [FILTER]: the capture NAME as text, -v, filtered.
cap_read() { tcpdump -nn -v -r "$MW/$1.pcap" "${@:2}" 2>/dev/null; }
# cap_lines NAME FILTER: one normalised line per packet: addresses by role,
# no timestamps, IP ids, correct checksums, sequence numbers, TCP timestamps
# or ephemeral ports (a wrong checksum stays, "incorrect").  Ports a test
# chooses must lie below 32760.
cap_lines() {
	tcpdump -nn -vv -r "$MW/$1.pcap" "${@:2}" 2>/dev/null |
		awk '/^[0-9]/ { if (l != "") print l; l = $0; next } { l = l " " $0 } END { if (l != "") print l }' | norm |
		sed -E 's/^[0-9:.]+ //; s/id [0-9]+, //g; s/,? cksum 0x[0-9a-f]+ \(correct\),?//g; s/(\.|port )(327[6-9][0-9]|32[89][0-9]{2}|3[3-9][0-9]{3}|[4-6][0-9]{4})\b/\1eph/g
			s/(seq|ack) [0-9]+(:[0-9]+)?/\1 N/g; s/TS val [0-9]+ ecr [0-9]+/TS/g; s/protocol 1 port [0-9]+/protocol 1 id/'
}
cap_count() { tcpdump -nn -r "$MW/$1.pcap" "${@:2}" 2>/dev/null | wc -l; }

# obs_icmp_errors CAPTURE...: every ICMP error in each capture, one
# observation each, keyed by what it says ("G1_udp_port_7001_unreachable").
obs_icmp_errors() {
	local cap
	for cap in "$@"; do
		cap_lines "$cap" "icmp and not icmp[icmptype] = icmp-echo and not icmp[icmptype] = icmp-echoreply" |
			sed -E 's/(Flags \[[A-Z.]+\]),.*/\1/' |
			awk -v cap="$cap" '{ k = substr($0, index($0, ": ICMP ") + 7); sub(/, length.*/, "", k); gsub(/ /, "_", k)
				n[k]++; print cap ".icmp_err." k (n[k] > 1 ? "#" n[k] : "") " " $0 }' >>"$OBS"
	done
}

diff_mode() {
	MODE=$1
	T=${T0}${MODE:0:1}
	NS_HOST=${T}h
	NS_EXT=${T}e
	MW=$WORK/$MODE
	OBS=$WORK/$MODE.obs
	CAPS=()
	mkdir -p "$MW"
	: >"$OBS"
	log "mode $MODE (namespaces ${T}*)"
	# The suite-wide uplink capture (lib.sh) fails only qnat-bpf's leaks.
	UPLINK_CAPTURE_KIND=$MODE
	topo_init
	! declare -F topo_extra >/dev/null || topo_extra
	cap_start ext "$NS_EXT" eth0
	case $MODE in
	kernel)
		ip -n "$NS_HOST" link add "$BR" type bridge || fail "bridge"
		ip -n "$NS_HOST" addr add "$GATEWAY/24" dev "$BR"
		ip -n "$NS_HOST" link set "$BR" up
		in_host sysctl -qw net.ipv4.ip_forward=1
		libvirt_rules || fail "iptables rules"
		;;
	qnat)
		# shellcheck disable=SC2086
		attach ${DIFF_ATTACH---no-dhcp} ${DIFF_QNAT_ARGS:-}
		;;
	*) fail "unknown mode $MODE" ;;
	esac
	[ -e /proc/sys/net/bridge ] && in_host sysctl -qw net.bridge.bridge-nf-call-iptables=0
	guest_veth g1
	guest_addr g1 "$G1"
	guest_veth g2
	guest_addr g2 "$G2"
	# ext knows the way to the guests: nothing may get in all the same.
	ip -n "$NS_EXT" route add "$SUBNET" via "$HOST_ADDR"
	cap_start g1 "${T}g1" eth0
	cap_start g2 "${T}g2" eth0
	# Both guests known to the bridge before the first scenario.
	in_guest g1 busybox ping -c 1 -W 2 "$GATEWAY" >/dev/null || fail "$MODE: g1 cannot reach the gateway"
	in_guest g2 busybox ping -c 1 -W 2 "$GATEWAY" >/dev/null || fail "$MODE: g2 cannot reach the gateway"
}

# Stops the captures first (their files are read afterwards), then the rest.
diff_mode_end() {
	local p
	sleep 0.3
	for p in "${CAPS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${CAPS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do bg_kill "$p"; done
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ "$MODE" = qnat ] && { qnat detach "$BR" >/dev/null || fail "detach"; }
	namespaces_del
	BG_PIDS=()
	NAMESPACES=()
	CAPS=()
}

# Addresses by role, so that records read the same whatever the numbers.
NORM_SED=
for _a in "$G1=G1" "$G2=G2" "$GATEWAY=GW" "$HOST_ADDR=UPLINK" "$EXT_ADDR=EXT"; do
	NORM_SED+="s/${_a%%=*}\\b/${_a#*=}/g;"
done
NORM_SED=${NORM_SED//./\\.}'s/[[:space:]]+/ /g; s/ $//'
norm() { sed -E "$NORM_SED"; }

obs() {
	local k=$1
	shift
	printf '%s %s\n' "$k" "$(printf '%s' "$*" | tr '\n' ' ' | norm)" >>"$OBS"
}

# The namespace of a place: host, ext or a guest name.
ns_of() {
	case $1 in
	host) echo "$NS_HOST" ;;
	ext) echo "$NS_EXT" ;;
	*) echo "${T}$1" ;;
	esac
}

# outcome WHERE CMD...: runs CMD in WHERE (8 s at most) and says how it
# fared, as one word and, on success, the first line of the answer.
outcome() {
	local ns out rc err
	ns=$(ns_of "$1")
	shift
	out=$(timeout 8 ip netns exec "$ns" "$@" 2>"$MW/client.err")
	rc=$?
	err=$(cat "$MW/client.err")
	if [ "$rc" = 0 ] && [ -n "$out" ]; then
		echo "ok ${out%%$'\n'*}"
	elif [ "$rc" = 0 ]; then
		echo noreply
	else
		case $err in
		*refused*) echo refused ;;
		*reset*) echo reset ;;
		*"timed out"*) echo timeout ;;
		*unreachable*) echo unreachable ;;
		*) [ "$rc" = 124 ] && echo timeout || echo "error rc=$rc: ${err##*]}" ;;
		esac
	fi
}

# udp_ask WHERE ADDR PORT [SRCPORT [WAIT]]: one datagram (stdin) from WHERE,
# through outcome: the first answer, "refused" on an ICMP port unreachable,
# "noreply" after WAIT seconds (default 3; socat would always wait its -t).
udp_ask() {
	outcome "$1" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[3])))
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(sys.stdin.buffer.read())
s.settimeout(float(sys.argv[4]))
try:
    sys.stdout.buffer.write(s.recv(65535))
except socket.timeout:
    pass
' "$2" "$3" "${4:-0}" "${5:-3}"
}

# fwd_rule add|del PROTO HOSTPORT[-END] [GUESTPORT]: a port forward from the
# uplink address to g1 (a range keeps its ports), the mode's way: libvirt's
# documented DNAT rule plus the FORWARD accept that lets it past the REJECT,
# or qnat-bpf forward add/del.
fwd_rule() {
	local op=$1 proto=$2 hp=$3 gp=${4:-} to=$G1
	[ -n "$gp" ] && to=$G1:$gp
	if [ "$MODE" = kernel ]; then
		local A=-A I=-I
		[ "$op" = del ] && A=-D I=-D
		in_host iptables -t nat $A PREROUTING -p "$proto" -d "$HOST_ADDR" --dport "${hp/-/:}" -j DNAT --to "$to" &&
			in_host iptables $I FORWARD -o "$BR" -p "$proto" -d "$G1" --dport "${gp:-${hp/-/:}}" -j ACCEPT
	elif [ "$op" = add ]; then
		qnat forward add "$BR" "$proto" "$HOST_ADDR:$hp" "$to"
	else
		qnat forward del "$BR" "$proto" "$HOST_ADDR:$hp"
	fi || fail "$MODE: forward $op $proto $hp $to"
}

# expect KEY REGEX: what the kernel (the oracle) must give, so that a broken
# harness cannot pass by failing the same way twice.
expect() { EXPECT[$1]=$2; }

allow() {
	ALLOW_K[$1]=$2
	ALLOW_Q[$1]=$3
	ALLOW_WHY[$1]=$4
}

diff_compare() {
	local k kv qv bad=0 same=0 allowed=0 harness=0
	declare -A K=() Q=()
	local keys=()
	while read -r k kv; do K[$k]=$kv; keys+=("$k"); done <"$WORK/kernel.obs"
	while read -r k qv; do
		Q[$k]=$qv
		[ -n "${K[$k]+x}" ] || keys+=("$k")
	done <"$WORK/qnat.obs"
	for k in "${keys[@]}"; do
		kv=${K[$k]-<missing>}
		qv=${Q[$k]-<missing>}
		if [ "$kv" = "$qv" ]; then
			same=$((same + 1))
			[ -n "${ALLOW_WHY[$k]+x}" ] && log "note: $k is allow-listed but did not differ: $kv"
		elif [ -n "${ALLOW_WHY[$k]+x}" ] && [[ $kv =~ ^(${ALLOW_K[$k]})$ ]] && [[ $qv =~ ^(${ALLOW_Q[$k]})$ ]]; then
			log "allowed: $k: kernel '$kv', qnat '$qv' (${ALLOW_WHY[$k]})"
			allowed=$((allowed + 1))
		else
			log "DIFFERS: $k: kernel '$kv' qnat '$qv'"
			bad=$((bad + 1))
		fi
	done
	for k in "${!EXPECT[@]}"; do
		[[ ${K[$k]-<missing>} =~ ^(${EXPECT[$k]})$ ]] && continue
		log "HARNESS: kernel gave $k '${K[$k]-<missing>}', expected '${EXPECT[$k]}'"
		harness=$((harness + 1))
	done
	log "$same observations identical, $allowed allowed differences, $bad other differences"
	[ -n "${DIFF_KEEP:-}" ] && cp -r "$WORK"/*.obs "$WORK"/kernel "$WORK"/qnat "$DIFF_KEEP"/
	[ "$harness" = 0 ] || fail "the kernel oracle did not behave as libvirt's setup does: the harness is broken"
	[ "$bad" = 0 ] || fail "qnat-bpf differs from the kernel in $bad observation(s)"
}

diff_run() {
	local m
	for m in kernel qnat; do
		diff_mode "$m"
		scenarios
		diff_mode_end
		captures
	done
	diff_compare
	[ "$(grep '^ext.guest_sources ' "$WORK/qnat.obs")" = "ext.guest_sources 0" ] ||
		fail "a guest source address left the uplink under qnat"
}
