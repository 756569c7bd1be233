#!/bin/bash
# Bad input is refused cleanly: each case below runs a qnat-bpf command that
# must exit non-zero, print exactly one line on stderr naming the problem
# (KEYWORD), nothing on stdout, and change nothing in its namespace (links,
# addresses, routes, tc, forwarding sysctls, our processes, the state
# directory and state file).  Covers parse errors, a bad or missing uplink,
# a name that is not a bridge, not being root, re-attaching an attached
# bridge with other settings (each setting in turn, refused; the first
# attach keeps working), and
# commands on a bridge that is not attached (also as --json: the error on
# stderr only).  Also: `attach --help` and `help` exit 0 with usage; every
# --json listing is valid JSON (jq), status --json too with a broken bridge;
# listings pick the only attached bridge; status shows non-zero counters
# (all with -s), the port's kind, no empty forwards heading.
#
#   g1 eth0 ==veth== v-g1 ── virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#                            vx0 ==veth== vx1 (not a bridge)    d2 203.0.113.1 ==veth== d2p (second uplink)
#   second host namespace, no default route: d0 203.0.113.1 ==veth== d0p   d1 (no address) ==veth== d1p
. "$(dirname "$0")/lib.sh"
need jq setpriv

NS_NR=${T}n
FAILED=0
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# The snapshot plus the state files' contents: a refused re-attach must not
# rewrite the state of the attached bridge either.
snap() {
	ns_snapshot "$1"
	cat "/run/qnat-bpf/ns$(ns_inode "$1")"/*/state 2>/dev/null
}

# The snapshot after one case is the one before the next (a case must
# change nothing); forget them whenever the test itself changes something.
declare -A SNAP=()

case_fail() {
	log "FAIL [$*]"
	FAILED=$((FAILED + 1))
}

# bad [--ns NS] [--nobody] [--] KEYWORD ARGS...: qnat-bpf ARGS must fail as
# described at the top.
bad() {
	local ns=$NS_HOST pre=() kw rc before after
	while :; do
		case $1 in
		--ns) ns=$2; shift 2 ;;
		--nobody) pre=("${NOBODY[@]}"); shift ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	kw=$1
	shift
	before=${SNAP[$ns]:-$(snap "$ns")}
	ip netns exec "$ns" "${pre[@]}" "$QNAT" "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	after=$(snap "$ns")
	SNAP[$ns]=$after
	[ $rc -ne 0 ] || case_fail "$*: exit 0"
	[ "$(grep -c '' "$WORK/err")" = 1 ] || case_fail "$*: $(grep -c '' "$WORK/err") lines on stderr: $(cat "$WORK/err")"
	grep -qiE -e "$kw" "$WORK/err" || case_fail "$*: stderr does not say '$kw': $(cat "$WORK/err")"
	[ ! -s "$WORK/out" ] || case_fail "$*: stdout: $(head -3 "$WORK/out")"
	if [ "$before" != "$after" ]; then
		diff -u <(echo "$before") <(echo "$after") >&2
		case_fail "$*: changed the namespace"
	fi
	log "refused: qnat-bpf $* -> $(cat "$WORK/err")"
}

topo_init
# Second namespace: addresses but no default route, and a link without one.
netns_add "$NS_NR"
# (veth pairs stand in for NICs: the dummy module may not be there.)
ip -n "$NS_NR" link add d0 up type veth peer name d0p
ip -n "$NS_NR" addr add 203.0.113.1/24 dev d0
ip -n "$NS_NR" link add d1 up type veth peer name d1p
# In the host: a veth pair (a name that is not a bridge) and a second uplink.
in_host ip link add vx0 type veth peer name vx1
in_host ip link add d2 up type veth peer name d2p
in_host ip addr add 203.0.113.1/24 dev d2
for ns in "$NS_HOST" "$NS_NR"; do
	for c in all default; do ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$c.accept_dad=0"; done
done

M=(--masq "$SUBNET")
log "bad input, nothing attached"
bad -- '--bogus' attach "$BR" "${M[@]}" --bogus
bad -- '--masq.*required' attach "$BR"
bad -- 'which bridge' attach "${M[@]}"
bad -- 'unexpected argument extra' attach "$BR" "${M[@]}" extra
bad -- '--masq' attach "$BR" --masq
bad -- '--masq 10.0.0.0/33' attach "$BR" --masq 10.0.0.0/33
bad -- '--masq 10.0.0.1/24' attach "$BR" --masq 10.0.0.1/24
bad -- '--masq foo' attach "$BR" --masq foo
bad -- '--masq 0.0.0.0/1: too wide' attach "$BR" --masq 0.0.0.0/1
bad -- '--masq 127.0.0.0/24: overlaps 127.0.0.0/8 \(loopback\)' attach "$BR" --masq 127.0.0.0/24
bad -- '--masq 224.0.0.0/24: overlaps 224.0.0.0/4 \(multicast\)' attach "$BR" --masq 224.0.0.0/24
bad -- '--masq 169.254.0.0/16: overlaps 169.254.0.0/16 \(link-local\)' attach "$BR" --masq 169.254.0.0/16
bad -- '--masq 255.255.255.0/30: overlaps 240.0.0.0/4' attach "$BR" --masq 255.255.255.0/30
bad -- 'DHCP range 192.168.122.1-192.168.122.20 includes the gateway 192.168.122.1' attach "$BR" "${M[@]}" \
	--dhcp-range 192.168.122.1,192.168.122.20
# An existing bridge with another subnet: refused, not given a second one.
in_host ip link add vbr9 type bridge
in_host ip addr add 10.9.0.1/24 dev vbr9
SNAP=()
bad -- 'vbr9 already has 10.9.0.1/24, outside --masq 192.168.122.0/24: remove it' attach vbr9 "${M[@]}"
in_host ip link del vbr9
SNAP=()
bad -- 'gateway 10.0.0.1' attach "$BR" "${M[@]}" --gateway 10.0.0.1
bad -- 'gateway 192.168.122.255' attach "$BR" "${M[@]}" --gateway 192.168.122.255
bad -- 'DHCP range' attach "$BR" "${M[@]}" --dhcp-range 192.168.122.200,192.168.122.100
bad -- 'DHCP range' attach "$BR" "${M[@]}" --dhcp-range 192.168.122.10,192.168.123.20
bad -- '--port-range 0-10' attach "$BR" "${M[@]}" --port-range 0-10
bad -- '--port-range 200-100' attach "$BR" "${M[@]}" --port-range 200-100
bad -- '--port-range abc' attach "$BR" "${M[@]}" --port-range abc
bad -- '--timeout' attach "$BR" "${M[@]}" --timeout bogus=3
bad -- '--timeout' attach "$BR" "${M[@]}" --timeout udp=0
bad -- '--xdp' attach "$BR" "${M[@]}" --xdp turbo
bad -- '--host-allow tcp/0' attach "$BR" "${M[@]}" --host-allow tcp/0
bad -- '--host-allow sctp/22' attach "$BR" "${M[@]}" --host-allow sctp/22
bad -- '--host-allow tcp/9000-8000' attach "$BR" "${M[@]}" --host-allow tcp/9000-8000
bad -- '--host-allow 22' attach "$BR" "${M[@]}" --host-allow 22
bad -- '--host-allow tcp/22,' attach "$BR" "${M[@]}" --host-allow tcp/22,udp/x
bad -- '--host-allow' attach "$BR" "${M[@]}" --host-allow tcp/1,tcp/2,tcp/3,tcp/4,tcp/5,tcp/6,tcp/7,tcp/8,tcp/9,tcp/10,tcp/11,tcp/12,tcp/13,tcp/14,tcp/15,tcp/16,tcp/17
bad -- 'takes no.*--host-allow' attach "$BR" --bridged --host-allow tcp/22
bad -- 'nosuch0 does not exist' attach "$BR" "${M[@]}" --uplink nosuch0
bad --ns "$NS_NR" 'default route' attach "$BR" "${M[@]}"
bad -- 'interface name' attach virbr0-far-too-long "${M[@]}"
bad -- 'vx0.*not a bridge' attach vx0 "${M[@]}"
bad -- 'uplink.*up0' attach "$UPLINK" "${M[@]}"
bad --ns "$NS_NR" 'd1 has no IPv4 address' attach "$BR" "${M[@]}" --uplink d1
bad --nobody 'root' attach "$BR" "${M[@]}"
bad -- "$BR is not attached" detach "$BR"
bad -- 'usage' detach
bad -- 'which bridge' ct show
bad -- 'unknown command bogus' ct bogus "$BR"
bad -- 'unknown command frobnicate' frobnicate "$BR"
bad -- "$BR is not attached" ct show "$BR"
bad -- "$BR is not attached" stats "$BR"
in_host ip link show "$BR" >/dev/null 2>&1 && fail "a refused attach left $BR behind"

# ct show --json of a bridge that is not attached: one channel, stderr.
qnat ct show "$BR" --json >"$WORK/out" 2>"$WORK/err" && case_fail "ct show --json: exit 0"
[ ! -s "$WORK/out" ] || case_fail "ct show --json: an error on stdout: $(cat "$WORK/out")"
grep -q "not attached" "$WORK/err" && [ "$(grep -c '' "$WORK/err")" = 1 ] ||
	case_fail "ct show --json: stderr: $(cat "$WORK/err")"

# Help is not an error.
out=$(qnat attach --help 2>"$WORK/err") || case_fail "attach --help: non-zero exit"
echo "$out" | grep -q "Usage: qnat-bpf attach BRIDGE --masq CIDR" || case_fail "attach --help shows no usage"
[ ! -s "$WORK/err" ] || case_fail "attach --help: stderr: $(cat "$WORK/err")"
out=$(qnat help 2>"$WORK/err") || case_fail "help: non-zero exit"
echo "$out" | grep -q "qnat-bpf attach" || case_fail "help lists no attach"

log "bad input against an attached bridge"
out=$(qnat attach "$BR" "${M[@]}") || fail "attach failed"
# One summary line on stdout: bridge, subnet, gateway, mode, uplink and how it is served.
echo "$out" | grep -qE "^$BR attached: $SUBNET, gateway 192\.168\.122\.1, mode nat, uplink up0 \((TC, XDP off|XDP native|XDP generic)\)$" ||
	case_fail "attach's summary line: '$out'"
guest_veth g1
guest_dhcp g1 >/dev/null || exit 1
in_guest g1 busybox ping -c 1 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot ping out after attach"
SNAP=()
bad -- 'already attached with other settings' attach "$BR" --masq 10.9.0.0/24
bad -- 'already attached with other settings' attach "$BR" "${M[@]}" --port-range 2000-3000
# Every other setting too: refused, not merged into the running attach,
# and the message names what differs ("OPTIONS|RUNNING|ASKED").
for c in "--uplink d2|uplink up0|uplink d2" "--gateway 192.168.122.254|gateway 192.168.122.1, dhcp 192.168.122.2-192.168.122.254|gateway 192.168.122.254, dhcp 192.168.122.2-192.168.122.253" \
	"--dhcp-range 192.168.122.10,192.168.122.20|dhcp 192.168.122.2-192.168.122.254|dhcp 192.168.122.10-192.168.122.20" \
	"--no-dhcp|dhcp 192.168.122.2-192.168.122.254|no-dhcp" "--ct-max 1024|ct-max 262144|ct-max 1024" \
	"--ct-full evict|ct-full refuse|ct-full evict" "--max-flows-per-guest 5|max-flows-per-guest 0|max-flows-per-guest 5" \
	"--filtering endpoint-independent|filtering address-port-dependent|filtering endpoint-independent" \
	"--timeout udp=60|timeout udp=30|timeout udp=60" "--xdp off|xdp auto|xdp off" "--mtu 1400|the defaults|mtu 1400" \
	"--no-port-security|the defaults|no-port-security" "--fdb-ageing 60|the defaults|fdb-ageing 60" \
	"--metrics-listen 127.0.0.1:9400|the defaults|metrics 127.0.0.1:9400" \
	"--no-dhcp-checksum-fill|the defaults|no-dhcp-checksum-fill"; do
	IFS='|' read -r o run ask <<<"$c"
	# shellcheck disable=SC2086
	bad -- "already attached with other settings: it runs with $run, this attach asks for $ask; detach" \
		attach "$BR" "${M[@]}" $o
done
bad -- 'already attached with other settings: it runs with masq 192.168.122.0/24, gateway 192.168.122.1, .*asks for bridged' \
	attach "$BR" --bridged --uplink "$UPLINK"
# Another network may share the uplink (test_multi_net.sh), but not bridged, nor with another table size.
bad -- 'uplink up0 is already used by another qnat-bpf attach .virbr0.' attach virbr1 --bridged --uplink up0
bad -- 'share a conntrack table of 262144 flows: attach with --ct-max 262144' attach virbr1 --masq 10.9.0.0/24 --ct-max 1024
bad -- 'already routed via virbr0' attach virbr1 "${M[@]}" --uplink d2
bad -- 'vx0.*not a bridge' attach vx0 --masq 10.9.0.0/24 --uplink d2
bad --nobody 'root' detach "$BR"
bad --nobody 'root' attach "$BR" "${M[@]}"
in_host ip link show virbr1 >/dev/null 2>&1 && fail "a refused attach left virbr1 behind"
# The same settings again is fine, and changes nothing either.
before=$(snap "$NS_HOST")
out=$(qnat attach "$BR" "${M[@]}" 2>&1) || case_fail "attach with the same settings: exit non-zero: $out"
[ "$before" = "$(snap "$NS_HOST")" ] || case_fail "attach with the same settings changed something"
# The first attach still works, with its own settings.
in_guest g1 busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || case_fail "g1 cannot ping out after the refused attaches"
status=$(qnat status "$BR") || case_fail "status failed"
echo "$status" | grep -q "masquerade $SUBNET" || case_fail "status lost the subnet: $status"
echo "$status" | grep -q "ports 1024-65535" || case_fail "status lost the port range: $status"
echo "$status" | grep -q "^$BR: running" || case_fail "the supervisor is not running: $status"
echo "$status" | grep -q "v-g1 (veth" || case_fail "status does not name the port's kind: $status"
echo "$status" | grep -q "forwards (" && case_fail "status prints a forwards heading without forwards: $status"
echo "$status" | grep -Eq "^ +[a-z_]+ +0 pkts" && case_fail "status prints zero counters without -s: $status"
all=$(qnat status "$BR" -s) || case_fail "status -s failed"
echo "$all" | grep -Eq "^ +[a-z_]+ +0 pkts" || case_fail "status -s omits the zero counters: $all"
echo "$all" | grep -Eq "^ +ct_new +[0-9]+ flows" || case_fail "status -s: ct_new not in flows: $all"
qnat help | grep -q "ct .*del.*flush.*events" || case_fail "help omits ct del|flush|events"
# One bridge attached: the listings pick it.
qnat stats >/dev/null 2>"$WORK/err" || case_fail "stats without a bridge: $(cat "$WORK/err")"
qnat ct show >/dev/null 2>"$WORK/err" || case_fail "ct show without a bridge: $(cat "$WORK/err")"
# Every --json output is valid JSON.
for cmd in "status $BR" "status" "stats $BR" "ct show $BR" "dhcp leases $BR" "forward list $BR"; do
	# shellcheck disable=SC2086 # the words of the command
	qnat $cmd --json | jq -e . >/dev/null || case_fail "$cmd --json is not valid JSON"
done
qnat dhcp leases "$BR" --json | jq -e 'all(.[]; .hostname != "-")' >/dev/null || case_fail "dhcp leases: hostname \"-\""
# A broken bridge (its uplink gone) in status --json: still one valid document,
# the error inside it for that bridge and on stderr.
sdir=/run/qnat-bpf/ns$(ns_inode "$NS_HOST")
cp -r "$sdir/$BR" "$sdir/brokenbr"
sed -i "s/^uplink .*/uplink nosuch9/" "$sdir/brokenbr/state"
qnat status --json >"$WORK/out" 2>"$WORK/err" && case_fail "status --json with a broken bridge: exit 0"
jq -e --arg b "$BR" 'length == 2 and any(.[]; .bridge == "brokenbr" and (.error | test("no data plane")))
	and any(.[]; .bridge == $b and .conntrack != null)' "$WORK/out" >/dev/null ||
	case_fail "status --json with a broken bridge: $(cat "$WORK/out")"
grep -q "brokenbr: no data plane" "$WORK/err" || case_fail "status --json: the error is not on stderr: $(cat "$WORK/err")"
rm -rf "$sdir/brokenbr"

# The state is root's: directories 0710 (dnsmasq's group passes through to
# the hosts files it re-reads after dropping root; /run/qnat-bpf, shared by
# all namespaces, is 0711), files 0600, the hosts files 0640 for that
# group.  A user outside that group reads nothing and lists nothing;
# dnsmasq itself still reloads a static host.
dir=/run/qnat-bpf/ns$(ns_inode "$NS_HOST")/$BR
dns_pid=$(qnat status "$BR" --json | jq -r '.[0].dhcp.pid')
dns_gid=$(awk '/^Gid:/ { print $2 }' "/proc/$dns_pid/status")
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$dns_pid/status")" != 0 ] || case_fail "dnsmasq runs as root"
[ "$(stat -c '%a %u' /run/qnat-bpf)" = "711 0" ] || case_fail "/run/qnat-bpf: $(stat -c '%a %U' /run/qnat-bpf)"
for d in "${dir%/*}" "$dir"; do
	[ "$(stat -c '%a %u %g' "$d")" = "710 0 $dns_gid" ] || case_fail "$d: $(stat -c '%a %U:%G' "$d"), not 710 root:$dns_gid"
done
lib=/var/lib/qnat-bpf/netns-$NS_HOST/$BR # the leases, kept across detach: root's alone
for d in /var/lib/qnat-bpf "${lib%/*}" "$lib"; do
	[ "$(stat -c '%a %u' "$d")" = "700 0" ] || case_fail "$d: $(stat -c '%a %U' "$d"), not 700 root"
done
for f in "$dir"/{state,dnsmasq.conf,supervisor.pid} "$lib/leases"; do
	[ "$(stat -c '%a %u' "$f")" = "600 0" ] || case_fail "$f: $(stat -c '%a %U' "$f"), not 600 root"
done
for f in hostsfile addnhosts; do
	[ "$(stat -c '%a %u %g' "$dir/$f")" = "640 0 $dns_gid" ] || case_fail "$f: $(stat -c '%a %U:%G' "$dir/$f")"
done
USER_X=(setpriv --reuid=4242 --regid=4242 --clear-groups)
for f in "$dir"/{state,hostsfile,dnsmasq.conf} "$lib/leases"; do
	"${USER_X[@]}" cat "$f" >/dev/null 2>&1 && case_fail "a non-root user reads $f"
done
for d in /run/qnat-bpf "$dir"; do
	"${USER_X[@]}" ls "$d" >/dev/null 2>&1 && case_fail "a non-root user lists $d"
done
for f in "$dir/state" "$lib/leases"; do # nor does dnsmasq's group
	setpriv --reuid=65534 --regid="$dns_gid" --clear-groups cat "$f" >/dev/null 2>&1 &&
		case_fail "dnsmasq's group reads $f"
done
qnat dhcp host add "$BR" 52:54:00:aa:bb:01 192.168.122.77 permhost || case_fail "dhcp host add"
[ "$(stat -c '%a %g' "$dir/hostsfile")" = "640 $dns_gid" ] || case_fail "hostsfile rewritten as $(stat -c '%a %G' "$dir/hostsfile")"
resolves() { in_guest g1 busybox nslookup permhost "$GATEWAY" 2>&1 | grep -q 192.168.122.77; }
wait_for 5 resolves || case_fail "dnsmasq (uid $(awk '/^Uid:/ { print $2 }' "/proc/$dns_pid/status")) did not reload the hosts file"
log "state $dir: dirs 710 root:$dns_gid (dnsmasq's group), files 600, hosts files 640; uid 4242 reads nothing"

[ "$FAILED" = 0 ] || fail "$FAILED case(s) failed"
pass
