#!/bin/bash
# qnat-bpf under valgrind (memcheck): a full attach in the foreground (so the
# supervisor stays under valgrind), a guest on the bridge with a DHCP lease
# and a flow, the operator's commands, the supervisor stopped, detach.  All
# in throwaway namespaces: the host's network is never touched.
#
#   tests/valgrind.sh          (as root; make valgrind)
#
# Every process is a run of valgrind --leak-check=full
# --errors-for-leak-kinds=definite; last line "valgrind: no leak" or
# "valgrind: N of M runs with errors or definite leaks", exit 1 then.
# QNAT=path picks the binary (build/qnat-bpf); KEEP=1 keeps the logs.
set -u
cd "$(dirname "$0")/.."
QNAT=${QNAT:-$PWD/build/qnat-bpf}
T=qv$$
H=${T}h E=${T}e G=${T}g
BR=virbr0
W=$(mktemp -d /tmp/qnat-valgrind.XXXXXX)
SUP=
runs=0 bad=0

log() { echo "$*"; }
die() { echo "valgrind.sh: $*" >&2; exit 1; }

cleanup() {
	[ -n "$SUP" ] && kill "$SUP" 2>/dev/null
	ip netns exec "$H" "$QNAT" detach "$BR" >/dev/null 2>&1
	[ -n "$SUP" ] && wait "$SUP" 2>/dev/null
	for ns in "$G" "$E" "$H"; do ip netns del "$ns" 2>/dev/null; done
	if [ "${KEEP:-0}" = 1 ] || [ "$bad" -gt 0 ]; then echo "logs kept in $W"; else rm -rf "$W"; fi
}

[ "$(id -u)" = 0 ] || die "run as root (BPF, namespaces)"
command -v valgrind >/dev/null || die "valgrind is not installed"
[ -x "$QNAT" ] || die "$QNAT not built (make)"
if { nm "$QNAT"; nm -D "$QNAT"; } 2>/dev/null | grep -q __asan_init; then
	die "$QNAT is built with sanitizers; valgrind needs a plain build (make, without SANITIZE=1)"
fi
trap cleanup EXIT
trap 'exit 130' INT TERM

# valgrind.supp: where valgrind's model of bpf(2) falls short (not ours).
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
	--error-exitcode=99 --num-callers=30 --suppressions="$PWD/tests/valgrind.supp")

# Judges one valgrind log: errors, definite leaks (and says what is reachable).
judge() {
	local name=$1 logf=$2 rc=$3 errs leaks reach broken=0
	runs=$((runs + 1))
	errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$logf" | tail -n 1)
	leaks=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1/p' "$logf" | tail -n 1)
	reach=$(sed -n 's/.*still reachable: \([0-9,]*\) bytes in.*/\1/p' "$logf" | tail -n 1)
	[ "$rc" = 99 ] && broken=1
	[ "${errs:-x}" != 0 ] && broken=1
	[ -n "$leaks" ] && [ "$leaks" != 0 ] && broken=1
	if [ $broken = 1 ]; then
		bad=$((bad + 1))
		echo "  FAIL $name: ${errs:-?} errors, definitely lost ${leaks:-0} bytes (exit $rc)"
		grep -E "^==[0-9]+== (Invalid|Conditional|Syscall param|Use of|Mismatched|Source and|Argument|[0-9,]+ bytes in [0-9,]+ blocks are definitely)|^==[0-9]+==    (at|by) " "$logf" |
			head -40 | sed 's/^/    /'
	else
		echo "  ok   $name (exit $rc; no error, no leak${reach:+; $reach bytes still reachable})"
	fi
}

# vg NAME ARGS...: one command, in the host namespace, under valgrind.
vg() {
	local name=$1 rc
	shift
	ip netns exec "$H" "${VG[@]}" --log-file="$W/$name.vg" "$QNAT" "$@" >"$W/$name.out" 2>&1
	rc=$?
	judge "qnat-bpf $*" "$W/$name.vg" "$rc"
	return 0
}

wait_for() {
	local secs=$1
	shift
	for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	return 1
}

log "== namespaces: $H (host, $BR), $E (outside), $G (a guest)"
for ns in "$H" "$E" "$G"; do ip netns add "$ns" || die "cannot create $ns"; ip -n "$ns" link set lo up; done
ip link add up0 netns "$H" type veth peer name eth0 netns "$E" || die "veth"
ip -n "$H" addr add 198.51.100.1/24 dev up0
ip -n "$H" link set up0 up
ip -n "$E" addr add 198.51.100.2/24 dev eth0
ip -n "$E" link set eth0 up
ip -n "$H" route add default via 198.51.100.2

log "== attach --config --foreground under valgrind (the supervisor stays in it)"
printf 'masq 192.168.122.0/24\nforward tcp:2222:192.168.122.50:22\n' >"$W/qnat.conf"
ip netns exec "$H" "${VG[@]}" --log-file="$W/attach.vg" "$QNAT" attach "$BR" --config "$W/qnat.conf" \
	--host 52:54:00:00:00:50,192.168.122.50,vgstatic --foreground >"$W/attach.out" 2>&1 &
SUP=$!
# Loading the BPF object under valgrind takes a while.
if ! wait_for 120 sh -c "ip netns exec $H $QNAT forward list $BR | grep -q 2222"; then
	cat "$W/attach.out" "$W/attach.vg" >&2
	die "attach did not come up under valgrind"
fi
log "  attached (supervisor pid $SUP)"

# A guest joins the bridge (the supervisor attaches to its port), leases an
# address from the managed dnsmasq and pings out: a flow to show.
ip link add v-g netns "$H" type veth peer name eth0 netns "$G" || die "guest veth"
ip -n "$G" link set eth0 up
ip -n "$H" link set v-g master "$BR" up
guest_addr=
if command -v busybox >/dev/null && command -v dnsmasq >/dev/null; then
	ip netns exec "$G" busybox udhcpc -i eth0 -n -q -t 10 -T 2 -s tests/integ/udhcpc.script >"$W/udhcpc.log" 2>&1
	guest_addr=$(ip -n "$G" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
fi
if [ -z "$guest_addr" ]; then
	log "  no DHCP lease (dnsmasq/busybox missing or too slow): static address"
	guest_addr=192.168.122.77
	ip -n "$G" addr add "$guest_addr/24" dev eth0
	ip -n "$G" route add default via 192.168.122.1
fi
wait_for 30 sh -c "ip netns exec $H $QNAT status $BR | grep -q v-g" || log "  (the supervisor has not reported port v-g yet)"
ip netns exec "$G" busybox ping -c 2 -W 2 198.51.100.2 >/dev/null 2>&1 || log "  (the guest's ping did not get through)"
log "  guest $guest_addr"

log "== commands under valgrind"
vg ct-show ct show "$BR"
grep -q "src=$guest_addr" "$W/ct-show.out" || log "  (ct show lists no flow of the guest)"
vg ct-count ct count "$BR" --json
vg status status "$BR"
vg status-json status --json
vg stats stats "$BR"
vg forward-add forward add "$BR" tcp 8080 192.168.122.60:80
vg forward-list forward list "$BR"
vg forward-del forward del "$BR" tcp 8080
vg dhcp-host-add dhcp host add "$BR" 52:54:00:12:34:56 192.168.122.61 vghost
vg dhcp-leases dhcp leases "$BR"
vg dhcp-host-del dhcp host del "$BR" 52:54:00:12:34:56
vg fdb-show fdb show "$BR"
vg doctor doctor "$BR"
vg bad-args forward add "$BR" tcp notaport 1.2.3.4

log "== config reloaded (SIGHUP): a forward more"
echo "forward udp:9090:192.168.122.51:90" >>"$W/qnat.conf"
kill -HUP "$SUP"
wait_for 60 sh -c "ip netns exec $H $QNAT forward list $BR | grep -q 9090" && log "  reloaded" ||
	log "  (the reload did not add the forward)"

log "== supervisor stopped (SIGTERM), then detach under valgrind"
# detach finds the supervisor by its name, which valgrind's process does not
# carry: stop it here, as detach would, and let valgrind report its exit.
kill -TERM "$SUP"
rc=0
for _ in $(seq 150); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$SUP" 2>/dev/null; then
	kill -KILL "$SUP"
	log "  the supervisor did not exit within 30 s of SIGTERM"
	rc=98
fi
wait "$SUP"
wrc=$?
[ $rc = 0 ] && rc=$wrc
SUP=
judge "qnat-bpf attach --foreground (the supervisor, until SIGTERM)" "$W/attach.vg" "$rc"
vg detach detach "$BR"
ip -n "$H" link show "$BR" >/dev/null 2>&1 && log "  (the bridge is still there after detach)"

if [ "$bad" -eq 0 ]; then
	echo "valgrind: no leak ($runs runs, no error, no definite leak)"
else
	echo "valgrind: $bad of $runs runs with errors or definite leaks"
	exit 1
fi
