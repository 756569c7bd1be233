# SPDX-License-Identifier: GPL-2.0
# Namespace test harness for qnat-bpf.  Source it from a test_*.sh file.
#
#   topo_init            host + ext namespaces, the uplink between them, and
#                        its capture until cleanup (no guest address may leave)
#   guest_veth NAME      a guest namespace on a veth port of the bridge
#   guest_tap NAME       a guest namespace behind a real TAP (held by taprelay)
#   guest_dhcp NAME      DHCP from the managed dnsmasq; prints the address
#   in_host/in_ext/in_guest NAME CMD...   run a command in a namespace
#   qnat ARGS...         run qnat-bpf in the host namespace (an attach with
#                        --masq6 puts its prefix under the uplink capture's check)
#   topo_ip6             IPv6 on the uplink (HOST6_ADDR, EXT6_ADDR) and the host's default route
#   guest_slaac NAME PREFIX   accept RAs in guest NAME; prints its SLAAC address in PREFIX
#   far6_init            a far server (FAR6_ADDR) behind an ext hop of MTU 1280
#   far6_upload GUEST    300 kB from GUEST to far intact, and its path MTU learned
#   ext6_peer_tcp/udp PORT   IPv6 services in ext that answer what they see of the client
#   bg CMD...            start a background process, killed at cleanup
#   namespaces_del       delete the namespaces made so far (and their /var/lib/qnat-bpf state)
#   fail/skip/pass       end the test (exit 1 / 77 / 0)
#
# Every name is unique per run; cleanup runs on any exit.  Set QNAT_DEBUG=1
# to get a shell in the host namespace when a test fails.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QNAT=${QNAT:-$ROOT/build/qnat-bpf}
TAPRELAY=${TAPRELAY:-$ROOT/build/taprelay}
XDP_PASS_OBJ=${XDP_PASS_OBJ:-$ROOT/build/xdp_pass.bpf.o}
UDHCPC_SCRIPT=$ROOT/tests/integ/udhcpc.script

T=q$(printf '%04x' $((RANDOM)))$$
NS_HOST=${T}h
NS_EXT=${T}e
BR=virbr0
UPLINK=up0
HOST_ADDR=198.51.100.1
EXT_ADDR=198.51.100.2
SUBNET=192.168.122.0/24
GATEWAY=192.168.122.1
# IPv6 (topo_ip6): the uplink's /64, and the --masq6 prefix a test uses
# (override before topo_init).  LEAK6_PREFIX: more prefixes, space-separated,
# for the uplink capture to check, for a test whose --masq6 does not go
# through qnat's command line (a --config file, another build's binary).
HOST6_ADDR=2001:db8:ff::1
EXT6_ADDR=2001:db8:ff::2
SUBNET6=fd00:122::/64
LEAK6_PREFIX=
WORK=$(mktemp -d /tmp/qnat-test.XXXXXX)
NAMESPACES=()
BG_PIDS=()
TEST_NAME=$(basename "$0" .sh)

log() { echo "[$TEST_NAME] $*" >&2; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "${QNAT_DEBUG:-0}" = 1 ] && [ -t 0 ]; then
		log "failed; debug shell in $NS_HOST (exit to clean up)"
		ip netns exec "$NS_HOST" bash || true
	fi
	for p in "${BG_PIDS[@]}"; do bg_kill "$p"; done
	if ip netns list | grep -qw "$NS_HOST"; then
		ip netns exec "$NS_HOST" "$QNAT" detach "$BR" >/dev/null 2>&1
	fi
	for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	uplink_captures_end || { [ "$rc" = 0 ] && rc=1; }
	namespaces_del
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit 77; }
pass() { log "ok"; exit 0; }

need() {
	for c in "$@"; do command -v "$c" >/dev/null || skip "missing $c"; done
}

[ "$(id -u)" = 0 ] || skip "needs root"
[ -x "$QNAT" ] || fail "$QNAT not built (run make)"
need ip socat busybox tcpdump

netns_add() {
	ip netns add "$1" || fail "cannot create namespace $1"
	NAMESPACES+=("$1")
	# A new namespace may reuse a dead one's inode, and with it the state
	# directory an earlier run on this machine left (the run was killed).
	rm -rf "/run/qnat-bpf/ns$(ns_inode "$1")"
	ip -n "$1" link set lo up
}

# Deletes every namespace made so far, with what qnat-bpf keeps for it
# under /var/lib/qnat-bpf (leases and logs outlive a detach).
namespaces_del() {
	local ns ino
	for ns in "${NAMESPACES[@]}"; do
		# A bridge the test did not detach (it failed first): its processes and state go too.
		ino=$(ns_inode "$ns" 2>/dev/null) && {
			ns_procs "$ns" | while read -r _ pid; do kill -9 "$pid"; done
			rm -rf "/run/qnat-bpf/ns$ino"
		}
		ip netns del "$ns" 2>/dev/null
		rm -rf "/var/lib/qnat-bpf/netns-$ns"
	done
	rmdir /var/lib/qnat-bpf /run/qnat-bpf 2>/dev/null
	NAMESPACES=()
}

in_host() { ip netns exec "$NS_HOST" "$@"; }
in_ext() { ip netns exec "$NS_EXT" "$@"; }
in_guest() { local g=$1; shift; ip netns exec "${T}$g" "$@"; }
qnat() {
	ip netns exec "$NS_HOST" "$QNAT" "$@" || return
	[ "${1:-}" != attach ] || masq6_note "$@"
}

bg() {
	"$@" &
	BG_PIDS+=($!)
}

# flowgen_init: $FLOWGEN (tests/tools/flowgen), built; a test that uses the
# helpers below calls it first.
flowgen_init() {
	FLOWGEN=${FLOWGEN:-$ROOT/build/flowgen}
	[ -x "$FLOWGEN" ] || fail "$FLOWGEN not built (run make)"
}
# st NAME KEY: a figure from flowgen's stats file $WORK/NAME.stats, 0 if none yet.
st() { local v; v=$(sed -n "s/^$2=//p" "$WORK/$1.stats" 2>/dev/null); echo "${v:-0}"; }
# flowgen_bg NS NAME ARGS...: flowgen in NS, in the background; its pid in
# PID_NAME, its stats in $WORK/NAME.stats.
flowgen_bg() {
	local ns=$1 name=$2
	shift 2
	bg ip netns exec "$ns" "$FLOWGEN" "$@" --stats "$WORK/$name.stats" >/dev/null
	eval "PID_$name=\$!"
}

# counters: every counter's packets (ct_new: its flows) as one JSON object;
# cdelta BEFORE AFTER NAME: how much NAME moved between two of them.
counters() { qnat stats "$BR" --json | jq -c '.counters | map_values(.packets // .flows)'; }
cdelta() { jq -n --argjson a "$1" --argjson b "$2" "\$b.$3 - \$a.$3"; }

# bridge_guard: the kernel bridge drops and counts forwarded unicast IPv4,
# IPv6 and VLAN frames, i.e. any that missed qnat-bpf's L2 fast path;
# bridge_guard_count: how many so far.
bridge_guard() {
	in_host nft -f - <<'NFT' || fail "nft"
table bridge qnatguard {
	chain guard {
		type filter hook forward priority 0;
		meta pkttype != { broadcast, multicast } ether type { ip, ip6, 8021q } counter drop
	}
}
NFT
}
bridge_guard_count() { in_host nft list chain bridge qnatguard guard | grep -oE 'packets [0-9]+' | cut -d' ' -f2; }

# Complete checksums on the wire, as a physical NIC delivers them: lets
# tcpdump -vv on the far side verify every checksum qnat-bpf rewrote.
csum_full() { ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true; }

#   ext (EXT_ADDR) eth0 ===veth=== up0 (HOST_ADDR) host [virbr0 + qnat-bpf]
topo_init() {
	netns_add "$NS_HOST"
	netns_add "$NS_EXT"
	ip link add "$UPLINK" netns "$NS_HOST" type veth peer name eth0 netns "$NS_EXT" || fail "veth"
	ip -n "$NS_HOST" addr add "$HOST_ADDR/24" dev "$UPLINK"
	ip -n "$NS_HOST" link set "$UPLINK" up
	ip -n "$NS_EXT" addr add "$EXT_ADDR/24" dev eth0
	ip -n "$NS_EXT" link set eth0 up
	ip -n "$NS_HOST" route add default via "$EXT_ADDR"
	csum_full "$NS_EXT" eth0
	uplink_capture_start
}

#   ... up0 (HOST_ADDR, HOST6_ADDR/64) host ==veth== eth0 (EXT_ADDR, EXT6_ADDR/64) ext
# nodad: the addresses are usable at once.
topo_ip6() {
	ip -n "$NS_HOST" -6 addr add "$HOST6_ADDR/64" dev "$UPLINK" nodad || fail "IPv6 on $UPLINK"
	ip -n "$NS_EXT" -6 addr add "$EXT6_ADDR/64" dev eth0 nodad || fail "IPv6 on ext's eth0"
	ip -n "$NS_HOST" -6 route add default via "$EXT6_ADDR" || fail "the host's IPv6 default route"
}

#   ext xf 2001:db8:fa::1 (mtu 1280) ==veth== eth0 2001:db8:fa::2 far (mtu 1500)
# A server behind a hop no IPv6 packet over 1280 bytes crosses: ext
# forwards, and sends Packet Too Big.  ext routes FAR_ROUTE6 (the guests'
# prefixes, when they are routed) back via the host.
NS_FAR=${T}f
FAR6_ADDR=2001:db8:fa::2
in_far() { ip netns exec "$NS_FAR" "$@"; }
far6_init() {
	netns_add "$NS_FAR"
	ip link add xf netns "$NS_EXT" mtu 1280 type veth peer name eth0 netns "$NS_FAR" || fail "veth to far"
	ip -n "$NS_EXT" -6 addr add 2001:db8:fa::1/64 dev xf nodad
	ip -n "$NS_EXT" link set xf up
	ip -n "$NS_FAR" -6 addr add "$FAR6_ADDR/64" dev eth0 nodad
	ip -n "$NS_FAR" link set eth0 up
	ip -n "$NS_FAR" -6 route add default via 2001:db8:fa::1
	in_ext sysctl -qw net.ipv6.conf.all.forwarding=1
}

# far6_upload GUEST: 300 kB from GUEST to far across the 1280 hop arrive
# intact (no router fragments IPv6: Packet Too Big must reach the guest),
# and GUEST's route to far has learned mtu 1280.
far6_upload() {
	bg in_far socat -u TCP6-LISTEN:7002,reuseaddr OPEN:"$WORK/far.out",creat,trunc
	wait_for 5 sh -c "ip netns exec $NS_FAR ss -ltn | grep -q :7002" || fail "far's listener"
	head -c 300000 /dev/urandom >"$WORK/up.bin"
	in_guest "$1" socat -T 10 -u OPEN:"$WORK/up.bin" TCP6:["$FAR6_ADDR"]:7002 || fail "$1: the upload through the 1280 hop"
	wait_for 5 cmp -s "$WORK/up.bin" "$WORK/far.out" || fail "$1: the upload arrived as $(stat -c %s "$WORK/far.out") bytes"
	in_guest "$1" ip -6 route get "$FAR6_ADDR" | grep -q "mtu 1280" ||
		fail "$1 did not learn the path MTU: $(in_guest "$1" ip -6 route get "$FAR6_ADDR")"
}

# IPv6 services in ext that answer "peer=ADDR port=PORT": what ext sees of
# the client (ADDR in full, as ip6_full writes it).
ext6_peer_script() {
	[ -x "$WORK/peer6.sh" ] && return
	# It reads the request first (a datagram, or the TCP client's EOF): a
	# script gone before socat writes to it makes socat drop the answer.
	printf '#!/bin/sh\ndd bs=64k count=1 2>/dev/null >/dev/null\na=${SOCAT_PEERADDR#[}\necho "peer=${a%%]} port=$SOCAT_PEERPORT"\n' >"$WORK/peer6.sh"
	chmod +x "$WORK/peer6.sh"
}
ext6_peer_tcp() {
	ext6_peer_script
	bg in_ext socat TCP6-LISTEN:"$1",reuseaddr,fork EXEC:"$WORK/peer6.sh"
	wait_for 5 sh -c "ip netns exec $NS_EXT ss -ltn | grep -q ':$1 '" || fail "tcp peer on $1 did not start"
}
ext6_peer_udp() {
	ext6_peer_script
	bg in_ext socat UDP6-RECVFROM:"$1",reuseaddr,fork EXEC:"$WORK/peer6.sh"
	wait_for 5 sh -c "ip netns exec $NS_EXT ss -lun | grep -q ':$1 '" || fail "udp peer on $1 did not start"
}

attach() {
	# its summary line to the log, not into a caller's $(...)
	qnat attach "$BR" --masq "$SUBNET" "$@" >&2 || fail "attach $BR --masq $SUBNET $* failed"
}

#   guest NAME [MAC]: eth0 ===veth=== v-NAME (port of virbr0); its MAC from the start (port security binds the first)
guest_veth() {
	local g=$1 ns=${T}$1
	netns_add "$ns"
	ip link add "v-$g" netns "$NS_HOST" type veth peer name eth0 netns "$ns" ${2:+address "$2"} || fail "veth for $g"
	ip -n "$ns" link set eth0 up
	csum_full "$ns" eth0
	ip -n "$NS_HOST" link set "v-$g" master "$BR" up || fail "enslave v-$g"
}

#   guest NAME: eth0 (tap) <- taprelay -> t-NAME (tap, port of virbr0)
guest_tap() {
	local g=$1 ns=${T}$1 out=$WORK/taprelay-$1
	[ -x "$TAPRELAY" ] || fail "$TAPRELAY not built"
	netns_add "$ns"
	mkfifo "$out"
	in_host "$TAPRELAY" "t-$g" "$ns" eth0 >"$out" &
	BG_PIDS+=($!)
	read -r -t 5 line <"$out" && [ "$line" = ready ] || fail "taprelay for $g did not start"
	ip -n "$ns" link set eth0 up
	ip -n "$NS_HOST" link set "t-$g" master "$BR" up || fail "enslave t-$g"
}

# taprelay for guest G with host TAP HOST and guest interface IF (the guest namespace exists).
tap_start() {
	local g=$1 host=$2 if=$3 out=$WORK/taprelay-$2.$RANDOM
	mkfifo "$out"
	in_host "$TAPRELAY" "$host" "${T}$g" "$if" >"$out" &
	BG_PIDS+=($!)
	read -r -t 5 line <"$out" && [ "$line" = ready ] || fail "taprelay $host for $g did not start"
	ip -n "$NS_HOST" link set "$host" master "$BR" up || fail "enslave $host"
}
taprelay_pid() { pgrep -xf "$TAPRELAY $1 ${T}$2 $3"; }

# Leases an address with busybox udhcpc; prints it.
guest_dhcp() {
	local g=$1 addr
	in_guest "$g" busybox udhcpc -i eth0 -n -q -t 6 -T 1 -O mtu -s "$UDHCPC_SCRIPT" >"$WORK/dhcp-$g.log" 2>&1 ||
		{ cat "$WORK/dhcp-$g.log" >&2; fail "guest $g got no DHCP lease"; }
	addr=$(ip -n "${T}$g" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
	[ -n "$addr" ] || fail "guest $g has no address after DHCP"
	echo "$addr"
}

# guest_slaac NAME PREFIX: guest NAME accepts router advertisements, and
# solicits one (eth0 down and up); prints its SLAAC address in PREFIX (a /64)
# once it and a default route are there.
guest_slaac() {
	local g=$1 ns=${T}$1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=2 net.ipv6.conf.eth0.autoconf=1 ||
		fail "guest $g: RA sysctls"
	ip -n "$ns" link set eth0 down
	ip -n "$ns" link set eth0 up
	wait_for 15 sh -c "ip -n $ns -6 route show default | grep -q 'proto ra'" ||
		fail "guest $g got no IPv6 default route by RA: $(ip -n "$ns" -6 route show)"
	wait_for 15 slaac_addr "$ns" "$2" || fail "guest $g got no SLAAC address in $2: $(ip -n "$ns" -6 addr show dev eth0)"
	slaac_addr "$ns" "$2"
}
# slaac_addr NS PREFIX: the global address in PREFIX on NS's eth0 (DAD done); 1 if none.
slaac_addr() {
	local a
	for a in $(ip -n "$1" -6 -o addr show dev eth0 scope global -tentative | awk '{ print $4 }'); do
		in_net6 "${a%/*}" "$2" && echo "${a%/*}" && return 0
	done
	return 1
}

# ip6_full ADDR: ADDR with all eight groups of four digits, as socat's
# SOCAT_PEERADDR gives it (without its brackets).
ip6_full() {
	local a=${1,,} head tail i out=
	local -a g h t
	if [[ $a == *::* ]]; then head=${a%%::*} tail=${a#*::}; else head=$a tail=; fi
	IFS=: read -ra h <<<"$head"
	IFS=: read -ra t <<<"$tail"
	g=("${h[@]}")
	for ((i = ${#h[@]} + ${#t[@]}; i < 8; i++)); do g+=(0); done
	g+=("${t[@]}")
	for i in "${g[@]}"; do out+=$(printf '%04x:' "0x$i"); done
	echo "${out%:}"
}
# ip6_words ADDR: its four 32-bit words, as hex numbers.
ip6_words() {
	local -a g
	IFS=: read -ra g <<<"$(ip6_full "$1")"
	echo "0x${g[0]}${g[1]} 0x${g[2]}${g[3]} 0x${g[4]}${g[5]} 0x${g[6]}${g[7]}"
}
# in_net6 ADDR PREFIX/LEN: whether ADDR is inside it.
in_net6() {
	local -a a n
	local len=${2#*/} i bits m
	read -ra a <<<"$(ip6_words "$1")"
	read -ra n <<<"$(ip6_words "${2%/*}")"
	for i in 0 1 2 3; do
		bits=$((len - 32 * i))
		((bits <= 0)) && break
		((bits > 32)) && bits=32
		m=$(((0xffffffff << (32 - bits)) & 0xffffffff))
		(((a[i] & m) == (n[i] & m))) || return 1
	done
}
# pcap_net6 OFFSET PREFIX/LEN: a pcap filter for an IPv6 address at
# ip6[OFFSET] inside PREFIX (libpcap compares 4 bytes at most).
pcap_net6() {
	local -a n
	local len=${2#*/} i bits m f=
	read -ra n <<<"$(ip6_words "${2%/*}")"
	for i in 0 1 2 3; do
		bits=$((len - 32 * i))
		((bits <= 0)) && break
		((bits > 32)) && bits=32
		m=$(((0xffffffff << (32 - bits)) & 0xffffffff))
		f+="${f:+ and }ip6[$(($1 + 4 * i)):4] & $(printf 0x%08x $m) = $(printf 0x%08x $((n[i] & m)))"
	done
	echo "(${f:-ip6})"
}

# Static address for a guest that does not need DHCP.
guest_addr() {
	ip -n "${T}$1" addr add "$2/24" dev eth0
	ip -n "${T}$1" route add default via "$GATEWAY"
}

# Waits until CMD succeeds, up to SECS seconds.
wait_for() {
	local secs=$1; shift
	for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# A TCP service in ext: answers each line with "echo:LINE" (socat forks per connection).
ext_tcp_echo() {
	bg in_ext socat TCP-LISTEN:"$1",bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'while read l; do echo "echo:$l"; done'
	wait_for 5 in_ext socat -u /dev/null TCP:"$EXT_ADDR:$1" || fail "tcp echo on $1 did not start"
}

# A UDP service in ext: answers each datagram with "echo:DATA".
ext_udp_echo() {
	bg in_ext socat UDP-RECVFROM:"$1",bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'read l; echo "echo:$l"'
	sleep 0.2
}

# Capture on ext's side of the uplink; stop with capture_stop.  Immediate
# mode: TPACKET_V3 otherwise holds packets up to 1 s, and the stop loses them.
capture_start() {
	in_ext tcpdump -i eth0 --immediate-mode -nn -vv -l -U -w "$WORK/$1.pcap" "${@:2}" >/dev/null 2>"$WORK/$1.err" &
	BG_PIDS+=($!)
	CAPTURE_PID=$!
	wait_for 5 grep -q "listening on" "$WORK/$1.err" || fail "tcpdump did not start"
}

capture_stop() {
	sleep 0.3
	bg_kill "$CAPTURE_PID"
	wait "$CAPTURE_PID" 2>/dev/null
	tcpdump -nn -vv -r "$WORK/$1.pcap" 2>/dev/null
}

# The uplink capture (issue 3): every topology topo_init builds is watched
# from its creation to cleanup on ext's side of the uplink, for everything
# IPv4 and IPv6 that the host sends out (fragments and ICMP errors
# included).  A packet leaks if its source, or either address of the header
# an ICMP error quotes (for an error about a reply to a guest, the
# destination is the guest's), is inside $SUBNET; for IPv6, inside a
# --masq6 prefix (issue 14): each one an attach through qnat used, and
# $LEAK6_PREFIX.  A --route6 prefix leaves the uplink by design, and is not
# checked.  cleanup reads each capture, logs "uplink capture ...", fails the
# test on a leak in a qnat-bpf topology, and leaves one line per capture in
# $QNAT_UPLINK_CAPTURES (tests/run.sh's uplink_leak_check adds them up).
# UPLINK_CAPTURE_KIND=kernel marks a topology where iptables MASQUERADE does
# the job (any kind but qnat, e.g. bridged, where guests are on the LAN):
# its figures are reported, never failed.  Files are found by name, so that
# a topology built in a subshell is checked too.
UPCAP=$WORK/uplink
uplink_capture_start() {
	# (a subshell may build a topology of the same names again)
	local f=$UPCAP/${NS_EXT}-$BASHPID.${UPLINK_CAPTURE_KIND:-qnat}
	mkdir -p "$UPCAP"
	# -Q in: what ext receives, i.e. what left the host.  The snapshot
	# length keeps the headers an ICMP error quotes.
	ip netns exec "$NS_EXT" tcpdump -i eth0 -Q in --immediate-mode -s 192 -nn -U -w "$f.pcap" ip or ip6 \
		>/dev/null 2>"$f.err" &
	echo $! >"$f.pid"
	# Polled finely: this runs in every test, traffic may start right after.
	for _ in $(seq 250); do grep -q "listening on" "$f.err" && return 0; sleep 0.02; done
	fail "the uplink capture did not start: $(cat "$f.err")"
}

# masq6_note ATTACH-ARGS...: a --masq6 prefix among them goes under the
# uplink capture's check (a file: qnat may run in a subshell).
masq6_note() {
	[ -d "$UPCAP" ] || return 0
	while [ $# -gt 0 ]; do
		case $1 in
		--masq6) [ $# -lt 2 ] || echo "$2" >>"$UPCAP/masq6"; shift ;;
		--masq6=*) echo "${1#*=}" >>"$UPCAP/masq6" ;;
		esac
		shift
	done
	return 0
}

# shellcheck disable=SC2086 # (split on the dots)
ip2int() { local IFS=.; set -- $1; echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4)); }

# uplink_leaks6: the IPv6 half of the check, on capture $1, for the
# prefixes in $2 (space-separated); "N SRC QSRC QDST" on stdout, the
# leaking packets appended to $1.leaks.
uplink_leaks6() {
	local f=$1 p src= qs= qd= n six err qsrc qdst
	for p in $2; do
		src+="${src:+ or }src net $p"
		qs+="${qs:+ or }$(pcap_net6 56 "$p")"
		qd+="${qd:+ or }$(pcap_net6 72 "$p")"
	done
	n=$(tcpdump -nn -r "$f" ip6 2>/dev/null | wc -l)
	[ -n "$src" ] || { echo "$n - - -"; return 0; }
	src="($src)" qs="($qs)" qd="($qd)"
	# ICMPv6 errors (destination unreachable, packet too big, time
	# exceeded, parameter problem) right after the fixed header quote a
	# packet at ip6[48]: its source at ip6[56], its destination at ip6[72].
	err="ip6 and ip6[6] = 58 and ip6[40] >= 1 and ip6[40] <= 4 and not $src"
	six=$(tcpdump -nn -r "$f" "ip6 and $src" 2>/dev/null | wc -l)
	qsrc=$(tcpdump -nn -r "$f" "$err and $qs" 2>/dev/null | wc -l)
	qdst=$(tcpdump -nn -r "$f" "$err and $qd and not $qs" 2>/dev/null | wc -l)
	[ $((six + qsrc + qdst)) = 0 ] ||
		tcpdump -nn -r "$f" "(ip6 and $src) or ($err and ($qs or $qd))" 2>/dev/null | head -20 >>"$f.leaks"
	echo "$n $six $qsrc $qdst"
}

# Stops every uplink capture of this test and checks it; 1 on a leak under qnat-bpf.
uplink_captures_end() {
	local f p kind n src qsrc qdst n6 src6 qsrc6 qdst6 leaks=0 leaks6=0 net mask icmp_err nets6 in6
	[ -d "$UPCAP" ] || return 0
	for f in "$UPCAP"/*.pid; do
		p=$(cat "$f")
		# Only our tcpdump: one whose namespace went away has exited, and its pid may be reused.
		grep -qaF "${f%.pid}.pcap" "/proc/$p/cmdline" 2>/dev/null && kill "$p" 2>/dev/null
	done
	for f in "$UPCAP"/*.pid; do
		p=$(cat "$f")
		wait "$p" 2>/dev/null
		while grep -qaF "${f%.pid}.pcap" "/proc/$p/cmdline" 2>/dev/null; do sleep 0.02; done
	done
	mask=$(((0xffffffff << (32 - ${SUBNET#*/})) & 0xffffffff))
	net=$(($(ip2int "${SUBNET%/*}") & mask))
	# ICMP errors (unreachable, source quench, redirect, time exceeded,
	# parameter problem) quote a header at icmp[8]: its source at icmp[20],
	# its destination at icmp[24].
	icmp_err="not src net $SUBNET and (icmp[0] = 3 or icmp[0] = 4 or icmp[0] = 5 or icmp[0] = 11 or icmp[0] = 12)"
	# shellcheck disable=SC2086 # (a list)
	nets6=$(printf '%s\n' $LEAK6_PREFIX $(cat "$UPCAP/masq6" 2>/dev/null) | sort -u | tr '\n' ' ')
	nets6=${nets6% }
	for f in "$UPCAP"/*.pcap; do
		kind=${f%.pcap}
		kind=${kind##*.}
		n=$(tcpdump -nn -r "$f" ip 2>/dev/null | wc -l)
		src=$(tcpdump -nn -r "$f" "ip and src net $SUBNET" 2>/dev/null | wc -l)
		qsrc=$(tcpdump -nn -r "$f" "$icmp_err and icmp[20:4] & $mask = $net" 2>/dev/null | wc -l)
		qdst=$(tcpdump -nn -r "$f" "$icmp_err and icmp[24:4] & $mask = $net and not icmp[20:4] & $mask = $net" 2>/dev/null | wc -l)
		[ $((src + qsrc + qdst)) = 0 ] ||
			tcpdump -nn -r "$f" "(ip and src net $SUBNET) or ($icmp_err and (icmp[20:4] & $mask = $net or icmp[24:4] & $mask = $net))" \
				2>/dev/null | head -20 >"$f.leaks"
		read -r n6 src6 qsrc6 qdst6 <<<"$(uplink_leaks6 "$f" "$nets6")"
		if [ "$src6" = - ]; then
			in6="no --masq6 prefix to check"
		else
			in6="inside ${nets6// /, }: $src6 sources, $qsrc6 quoted sources, $qdst6 quoted destinations"
		fi
		log "uplink capture ($kind, $(basename "$f" ".$kind.pcap")): $n packets; inside $SUBNET: $src sources, $qsrc quoted sources, $qdst quoted destinations; IPv6: $n6 packets, $in6"
		[ "$src6" != - ] || src6=0 qsrc6=0 qdst6=0
		if [ -s "$f.leaks" ]; then
			sed 's/^/    /' "$f.leaks" >&2
			[ "$kind" = qnat ] && leaks=$((leaks + src + qsrc + qdst)) leaks6=$((leaks6 + src6 + qsrc6 + qdst6))
		fi
		[ -n "${QNAT_UPLINK_CAPTURES:-}" ] &&
			{ echo "$TEST_NAME $kind $n $src $qsrc $qdst $n6 $src6 $qsrc6 $qdst6"; cat "$f.leaks" 2>/dev/null; } \
				>"$QNAT_UPLINK_CAPTURES/$TEST_NAME.$(basename "$f" .pcap)"
	done
	rm -rf "$UPCAP"
	[ "$leaks" = 0 ] || log "FAIL: $leaks packets left the uplink with an address inside $SUBNET"
	[ "$leaks6" = 0 ] || log "FAIL: $leaks6 IPv6 packets left the uplink with an address inside ${nets6// /, }"
	[ $((leaks + leaks6)) = 0 ]
}

# Kills PID and everything it started: bg runs "in_ext socat ..." in a
# subshell, so killing only $! would leave the real process orphaned.
bg_kill() {
	local c
	for c in $(pgrep -P "$1"); do bg_kill "$c"; done
	kill "$1" 2>/dev/null
}

# The inode of namespace NS: qnat-bpf keeps its state in /run/qnat-bpf/ns<inode>.
ns_inode() { stat -L -c %i "/run/netns/$1"; }

# qnat-bpf and dnsmasq processes inside namespace NS, one "comm pid" a line.
ns_procs() {
	local ino pid comm st
	ino=$(ns_inode "$1") || return 1
	for pid in $(pgrep -x qnat-bpf; pgrep -x dnsmasq); do
		read -r _ comm st _ 2>/dev/null <"/proc/$pid/stat" && [ "$st" != Z ] || continue
		[ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = "$ino" ] && echo "${comm//[()]/} $pid"
	done
	return 0
}

# What attach may change in namespace NS (default: the host), as diffable
# text: links (bridge timers masked), addresses (once DAD is done), routes,
# qdiscs and tc filters of every link, forwarding sysctls, our processes and
# the state directory.
ns_snapshot() {
	local ns=${1:-$NS_HOST} dev
	# IPv6 DAD still running would add local routes later.
	wait_for 5 sh -c "! ip -n $ns addr show | grep -q tentative"
	echo "== links"
	ip -n "$ns" -d link show | sed -E 's/ [a-z_]+_timer +[0-9.]+//g'
	echo "== addresses"
	ip -n "$ns" addr show
	echo "== routes"
	ip -n "$ns" route show table all
	echo "== qdiscs"
	tc -n "$ns" qdisc show
	for dev in $(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
		echo "== filters $dev"
		tc -n "$ns" filter show dev "$dev" ingress 2>&1
		tc -n "$ns" filter show dev "$dev" egress 2>&1
	done
	echo "== forwarding"
	# The glob must expand inside the namespace.
	ip netns exec "$ns" sh -c 'grep -H . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding'
	echo "== processes"
	ns_procs "$ns"
	echo "== state"
	find "/run/qnat-bpf/ns$(ns_inode "$ns")" 2>/dev/null | sort
}
