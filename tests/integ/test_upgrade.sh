#!/bin/bash
# An upgrade to a new build with the same ABI keeps every flow.  A second
# qnat-bpf is built from this source with QNAT_BUILD_TAG (every BPF program
# differs, the maps do not).  While four streams run - g1 (a TAP guest,
# replies through XDP) talking TCP and UDP to ext through the masquerade,
# and ext talking TCP and UDP to g2 through two port forwards - :
#   (a) the supervisor is SIGKILLed and the NEW build's `attach`, same
#       command line, takes over: it says "upgraded from build A to B, N
#       flows kept"; status shows build B; the uplink's XDP and TC programs
#       and the port's TC program have new ids and new tags, one filter per
#       hook; the supervisor is build B's; ct show holds the same flows;
#       a forward from the host itself works (socket hooks replaced); a UDP
#       mapping g1 opened before is still reachable from a new peer
#       (endpoint-independent filtering: qnat_mappings was adopted too);
#   (b) the OLD build's attach, with build B's supervisor running: the same
#       swap back (the supervisor is replaced too);
#   (d) an upgrade that fails late (a build with QNAT_FAULT_SUPERVISOR,
#       after the running build's supervisor stopped), while the running
#       build's file is gone (an install removed it): attach exits 1 naming
#       the failure, and the running build is revived from the binary held
#       open: its supervisor runs again, status shows its build, every flow
#       is kept and the streams go on;
#   (c) a build whose maps differ (QNAT_FDB_MAX) and one with another ABI
#       version are refused with a message naming the difference, and change
#       nothing (namespace snapshot, state, program ids, supervisor).
# Across (a) and (b): every TCP exchange echoed in order on the same
# connections (no loss, no redial), UDP datagrams lost counted (0 expected).
#
#   g1 eth0 (tap) <-taprelay-> t-g1 ┐
#   g2 eth0 ==veth== v-g2 ──────────┤ virbr0 192.168.122.1 [qnat-bpf, --xdp native] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g2: 192.168.122.50, tcp-echo :7000 udp-echo :7001     forwards tcp 8022 -> g2:7000, udp 8023 -> g2:7001      tcp-echo :8080 udp-echo :5353
. "$(dirname "$0")/lib.sh"
need jq make
flowgen_init
G2=192.168.122.50
ARGS=(--masq "$SUBNET" --xdp native --filtering endpoint-independent --forward "tcp:8022:$G2:7000"
	--forward "udp:8023:$G2:7001")

# The other builds, from this source, in parallel while the topology is built.
variant() { # NAME DEFS
	make -s -C "$ROOT" BUILD="$WORK/$1" QNAT_DEFS="$2" "$WORK/$1/qnat-bpf" >"$WORK/$1.log" 2>&1
}
variant b2 -DQNAT_BUILD_TAG=2 &
MK2=$!
variant bmap -DQNAT_FDB_MAX=4096 &
MK3=$!
ABI=$(awk '/^#define QNAT_ABI_VERSION/ {print $3}' "$ROOT/maps/qnat_maps.h")
variant babi -DQNAT_ABI_VERSION=$((ABI + 1)) &
MK4=$!
variant bfault "-DQNAT_BUILD_TAG=3 -DQNAT_FAULT_SUPERVISOR" &
MK5=$!

status_json() { qnat status "$BR" --json | jq -e "${@:2}" ".[0]$1"; }
sup_pid() { status_json '| select(.supervisor == "running") | .supervisor_pid'; }
proc_gone() { [ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat")" = Z ]; }
# "name id tag" of the uplink's programs, and of t-g1's.
progs() {
	status_json '.programs[] | "\(.name) \(.id) \(.tag)"' -r | sort
	in_host tc filter show dev t-g1 ingress | grep -o ' id [0-9]* name tc_port_in tag [0-9a-f]*' |
		awk '{ print "tc_port_in", $2, $6 }'
}
# Our four streams' flows and g1's mapping, as "proto orig reply" lines.
flows() {
	qnat ct show "$BR" --json | jq -r '.[] | select([.orig.sport, .orig.dport, .reply.sport, .reply.dport] | any(. == 8080 or . == 5353 or
		. == 7000 or . == 7001)) | "\(.proto) \(.orig.src):\(.orig.sport)>\(.orig.dst):\(.orig.dport)" +
		" \(.reply.src):\(.reply.sport)>\(.reply.dst):\(.reply.dport)"' | sort
}
grows() { local n=$1 k=$2 v0; v0=$(st "$n" "$k"); _g() { [ "$(st "$n" "$k")" -ge $((v0 + 5)) ]; }; wait_for "$3" _g; }
flowing() { grows g1tcp echoed "$1" && grows g1udp received "$1" && grows fwtcp echoed "$1" && grows fwudp received "$1"; }
from_host() { # a forward used from the host itself: the socket hooks at work
	local out
	out=$(echo hostfwd | in_host timeout 5 socat -t 2 - TCP:127.0.0.1:8022) && [ "$out" = "echo:hostfwd" ]
}
# One upgrade: BINARY runs the same attach; checks what it changed.
upgrade() { # LABEL BINARY
	local label=$1 bin=$2 out sup0 sup1 p0 p1 f0 f1 n
	p0=$(progs)
	f0=$(flows)
	sup0=$(sup_pid) || true
	out=$(ip netns exec "$NS_HOST" "$bin" attach "$BR" "${ARGS[@]}") || fail "$label: attach failed: $out"
	log "$label: $out"
	echo "$out" | grep -qE "^$BR: upgraded from build [0-9a-f]+ to $(build_of "$bin"), [0-9]+ flows kept$" ||
		fail "$label: attach said '$out'"
	[ "$(status_json .build -r)" = "$(build_of "$bin")" ] || fail "$label: status shows build $(status_json .build -r)"
	qnat status "$BR" | grep -E "^  build $(build_of "$bin"): tc_uplink_in id [0-9]+ tag [0-9a-f]{16}, " >&2 ||
		fail "$label: status (text) does not show the build and programs"
	sup1=$(sup_pid) || fail "$label: no supervisor after the upgrade"
	[ "$sup1" != "$sup0" ] && [ "$(readlink "/proc/$sup1/exe")" = "$(readlink -f "$bin")" ] ||
		fail "$label: the supervisor ($sup1) is not $bin's"
	[ -z "$sup0" ] || proc_gone "$sup0" || fail "$label: the old supervisor $sup0 still runs"
	p1=$(progs)
	log "$label: programs before: $(echo $p0); after: $(echo $p1)"
	[ "$(echo "$p1" | wc -l)" = 4 ] || fail "$label: expected 4 programs (tc in, tc out, xdp, port): $p1"
	for n in tc_uplink_in tc_uplink_out xdp_uplink_in tc_port_in; do
		a=$(echo "$p0" | grep "^$n ") b=$(echo "$p1" | grep "^$n ")
		[ "${a#* }" != "${b#* }" ] && [ "${a##* }" != "${b##* }" ] ||
			fail "$label: $n kept its id or tag ($a -> $b)"
	done
	for dev in "$UPLINK ingress" "$UPLINK egress" "t-g1 ingress"; do
		# shellcheck disable=SC2086
		[ "$(in_host tc filter show dev $dev | grep -c ' handle ')" = 1 ] || fail "$label: not one filter on $dev"
	done
	f1=$(flows)
	[ "$(echo "$f0" | wc -l)" = 5 ] || fail "$label: expected 5 flows (4 streams, g1's mapping) before: $f0"
	[ "$f1" = "$f0" ] || { diff <(echo "$f0") <(echo "$f1") >&2; fail "$label: ct show lost or changed flows"; }
	from_host || fail "$label: a forward from the host itself fails after the upgrade"
	echo "$label" | in_ext socat -u - UDP:"$HOST_ADDR:$EIF_PORT",sourceport=6000
	eif_got() { grep -qF "$label" "$WORK/eif.out"; }
	wait_for 3 eif_got || fail "$label: g1's UDP mapping $HOST_ADDR:$EIF_PORT no longer takes a new peer"
	flowing 5 || fail "$label: the streams stopped after the upgrade"
}
build_of() { readelf -n "$1" | sed -n 's/.*Build ID: //p'; }
# The refusals: exit 1, one line naming the difference, nothing changed.
refused() { # BINARY KEYWORD
	local before after rc
	before=$(ns_snapshot; cat "/run/qnat-bpf/ns$(ns_inode "$NS_HOST")/$BR/state"; progs; sup_pid)
	ip netns exec "$NS_HOST" "$1" attach "$BR" "${ARGS[@]}" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	after=$(ns_snapshot; cat "/run/qnat-bpf/ns$(ns_inode "$NS_HOST")/$BR/state"; progs; sup_pid)
	[ $rc = 1 ] || fail "$1: attach exited $rc"
	[ "$(grep -c '' "$WORK/err")" = 1 ] && grep -qE "$2" "$WORK/err" ||
		fail "$1: stderr does not say '$2': $(cat "$WORK/err")"
	[ ! -s "$WORK/out" ] || fail "$1: stdout: $(cat "$WORK/out")"
	[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") >&2; fail "$1: the refusal changed something"; }
	log "refused: $(cat "$WORK/err")"
}

topo_init
attach "${ARGS[@]:2}"
guest_tap g1
guest_veth g2
guest_addr g2 "$G2"
a1=$(guest_dhcp g1)
log "g1=$a1 (tap), g2=$G2"
flowgen_bg "$NS_EXT" e8080 tcp-echo 8080 --bind "$EXT_ADDR"
flowgen_bg "$NS_EXT" e5353 udp-echo 5353 --bind "$EXT_ADDR"
flowgen_bg "${T}g2" e7000 tcp-echo 7000
flowgen_bg "${T}g2" e7001 udp-echo 7001
sleep 0.3
flowgen_bg "${T}g1" g1tcp tcp-talk "$EXT_ADDR" 8080 --interval 20
flowgen_bg "${T}g1" g1udp udp-talk "$EXT_ADDR" 5353 --interval 5
flowgen_bg "$NS_EXT" fwtcp tcp-talk "$HOST_ADDR" 8022 --interval 20
flowgen_bg "$NS_EXT" fwudp udp-talk "$HOST_ADDR" 8023 --interval 5
flowing 5 || fail "the streams do not flow before the upgrade"
# A UDP mapping of g1's (sport 7100), open to any peer (endpoint-independent filtering).
bg in_guest g1 sh -c "echo hello | socat -t 60 - UDP-DATAGRAM:$EXT_ADDR:5353,bind=:7100 >$WORK/eif.out"
mapped() { qnat ct show "$BR" --json | jq -e '.[] | select(.proto == "udp" and .orig.sport == 7100) | .reply.dport'; }
hello() { grep -q echo:hello "$WORK/eif.out"; }
wait_for 3 mapped && wait_for 3 hello || { qnat ct show "$BR" >&2; cat "$WORK/eif.out" >&2; ps aux | grep -c "[s]ocat -t 60" >&2; fail "g1's datagram from port 7100 got no answer"; }
EIF_PORT=$(mapped)
from_host || fail "a forward from the host itself fails before the upgrade"
for p in $MK2 $MK3 $MK4 $MK5; do wait "$p" || { cat "$WORK"/b*.log >&2; fail "building the variants failed"; }; done
B1=$QNAT B2=$WORK/b2/qnat-bpf
[ "$(build_of "$B1")" != "$(build_of "$B2")" ] || fail "the two builds have the same build id"
[ "$(status_json .build -r)" = "$(build_of "$B1")" ] || fail "status shows build $(status_json .build -r), not $B1's"

# (a) the supervisor SIGKILLed, the new build attaches.
sup=$(sup_pid) || fail "no supervisor"
kill -KILL "$sup"
wait_for 5 proc_gone "$sup" || fail "the supervisor survived SIGKILL"
upgrade "(a) killed, new build" "$B2"
# (b) back to the first build, this time with a supervisor running.
upgrade "(b) running, old build" "$B1"
out=$(qnat attach "$BR" "${ARGS[@]}") && [ "$out" = "$BR is already attached" ] ||
	fail "the same build again said '$out'"

# (d) a late failure, with the running build's file removed: that build is revived.
mkdir "$WORK/b2run"
B2RUN=$WORK/b2run/qnat-bpf
cp "$B2" "$B2RUN"
upgrade "(d) running, a copy of the new build" "$B2RUN"
b2id=$(build_of "$B2RUN")
rm "$B2RUN"
f0=$(flows)
sup0=$(sup_pid) || fail "(d) no supervisor"
out=$(ip netns exec "$NS_HOST" "$WORK/bfault/qnat-bpf" attach "$BR" "${ARGS[@]}" 2>&1) &&
	fail "(d) the faulty build's attach succeeded: $out"
log "(d) the faulty build said: $out"
echo "$out" | grep -q "the supervisor failed to start: QNAT_FAULT_SUPERVISOR" || fail "(d) attach did not name the failure"
sup1=$(sup_pid) || fail "(d) no supervisor runs after the failed upgrade"
[ "$sup1" != "$sup0" ] && proc_gone "$sup0" || fail "(d) the supervisor $sup0 was not stopped and revived"
[ "$(readlink "/proc/$sup1/exe")" = "$B2RUN (deleted)" ] || fail "(d) the supervisor runs $(readlink "/proc/$sup1/exe")"
[ "$(status_json .build -r)" = "$b2id" ] || fail "(d) status shows build $(status_json .build -r), not $b2id"
[ "$(flows)" = "$f0" ] || { diff <(echo "$f0") <(flows) >&2; fail "(d) the failed upgrade lost or changed flows"; }
flowing 5 || fail "(d) the streams stopped after the failed upgrade"

# (c) other ABIs: refused, nothing changed.
refused "$WORK/bmap/qnat-bpf" "another ABI \(map qnat_fdb: max entries 8192, this build's 4096\)"
refused "$WORK/babi/qnat-bpf" "attached by a build with ABI version $ABI, this build has $((ABI + 1))"
flowing 5 || fail "the streams stopped after the refusals"

sleep 1.2 # UDP judges a datagram lost after 1 s
for s in g1tcp g1udp fwtcp fwudp; do bg_kill "$(eval echo "\$PID_$s")"; done
sleep 0.3
for s in g1tcp fwtcp; do
	log "$s: $(st $s echoed)/$(st $s sent) lines echoed in order, lost $(st $s lost), bad $(st $s bad)," \
		"broken $(st $s broken), connections $(st $s connects), max rtt $(st $s max_rtt_ms) ms"
	[ "$(st $s lost)$(st $s bad)$(st $s broken)$(st $s connects)" = 0001 ] || fail "$s lost bytes or its connection"
done
for s in g1udp fwudp; do
	log "$s: $(st $s received)/$(st $s sent) datagrams answered, lost $(st $s lost), max rtt $(st $s max_rtt_ms) ms"
done
[ "$(st g1udp lost)$(st fwudp lost)" = 00 ] || fail "UDP datagrams lost across the upgrades"
pass
