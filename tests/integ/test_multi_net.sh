#!/bin/bash
# Several networks on one uplink (issue 13): virbr0, brB and brC masquerade
# out of up0 and share its data plane (one port space, one conntrack table).
# The second and third attach just work; traffic runs in all three at once;
# two guests on two networks use the same source port to the same server and
# get different reply tuples; status, ct and counters are per network; a
# host port forwarded by one network is refused to another; a guest does not
# reach another NAT network's guest (libvirt rejects that too); a restart of
# one, and an upgrade of one to another build, keep its flows, the others'
# and the uplink's XDP; detaching one, the owner of the
# uplink's programs among them, leaves the others and their flows; the last
# takes the uplink's programs away.  No address of any of the subnets leaves.
#
#   gA ==veth== virbr0 192.168.122.1 ─┐
#   gB ==veth== brB    192.168.100.1 ─┼─ host 198.51.100.1 up0 ==veth== ext
#   gC ==veth== brC    192.168.101.1 ─┘
. "$(dirname "$0")/lib.sh"
need jq
need socat
need make
# Another build of this source (every BPF program differs, the maps do not), for brB's upgrade.
make -s -C "$ROOT" BUILD="$WORK/b2" QNAT_DEFS=-DQNAT_BUILD_TAG=2 "$WORK/b2/qnat-bpf" >"$WORK/b2.log" 2>&1 &
MK2=$!
SUBNET=192.168.96.0/19 # the uplink capture's leak check: all three subnets
NETS=(virbr0:192.168.122 brB:192.168.100 brC:192.168.101)
net_of() { for n in "${NETS[@]}"; do [ "${n%%:*}" = "$1" ] && echo "${n#*:}"; done; }

topo_init
ext_tcp_echo 7000
bg in_ext socat -u TCP-LISTEN:7002,bind="$EXT_ADDR",reuseaddr,fork OPEN:/dev/null
wait_for 5 in_ext socat -u /dev/null TCP:"$EXT_ADDR:7002" || fail "sink did not start"

# guest G on bridge BR_, address .10 of its network
guest_on() {
	local g=$1 br=$2 ns=${T}$1 p
	p=$(net_of "$br")
	netns_add "$ns"
	ip link add "v-$g" netns "$NS_HOST" type veth peer name eth0 netns "$ns" || fail "veth for $g"
	ip -n "$ns" link set eth0 up
	csum_full "$ns" eth0
	ip -n "$NS_HOST" link set "v-$g" master "$br" up || fail "enslave v-$g"
	ip -n "$ns" addr add "$p.10/24" dev eth0
	ip -n "$ns" route add default via "$p.1"
}
# guest G's echo from ext through the masquerade, or fail saying WHEN
echo_ok() {
	local r
	r=$(echo hi | in_guest "$1" timeout 5 socat -T 2 - TCP:"$EXT_ADDR":7000)
	[ "$r" = echo:hi ] || fail "$1 $2: no echo ('$r')"
}
has_xdp() { in_host ip -d link show "$UPLINK" | grep -q "prog/xdp"; }
counter() { qnat stats "$1" --json | jq ".counters.$2.packets // .counters.$2.flows // 0"; }

out=$(qnat attach virbr0 --masq 192.168.122.0/24 --xdp native) || fail "attach virbr0: $out"
for n in brB brC; do
	extra=()
	[ "$n" = brC ] && extra=(--metrics-listen 127.0.0.1:9411) # brC serves metrics: its network's
	out=$(qnat attach "$n" --masq "$(net_of $n).0/24" "${extra[@]}") ||
		fail "attach $n on the same uplink: $out"
	echo "$out" | grep -q "XDP native, shared with virbr0" || fail "attach $n does not say it shares the uplink: $out"
done
qnat status brC --json | jq -e '.[0].uplink_shared_with == "virbr0,brB"' >/dev/null ||
	fail "status brC: $(qnat status brC)"
has_xdp || fail "the uplink lost its XDP program"
for n in "${NETS[@]}"; do guest_on "g${n%%:*}" "${n%%:*}"; done
# Each supervisor sees every port join; each takes only its own bridge's, and leaves the others'.
sleep 1
for n in "${NETS[@]}"; do
	br=${n%%:*}
	wait_for 5 sh -c "ip netns exec $NS_HOST tc filter show dev v-g$br ingress | grep -q tc_port_in" ||
		fail "v-g$br has no tc_port_in (another network's supervisor took it away?)"
	qnat status "$br" --json | jq -e "[.[0].ports[].name] == [\"v-g$br\"]" >/dev/null ||
		fail "status $br lists ports: $(qnat status "$br" --json | jq -c '[.[0].ports[].name]')"
done
log "three networks attached on $UPLINK, XDP native kept, status names the others"

# Traffic in all three at once: 4 MB up from each guest, and an echo.
pids=()
for n in "${NETS[@]}"; do
	br=${n%%:*}
	in_guest "g$br" sh -c "head -c 4000000 /dev/zero | socat -u - TCP:$EXT_ADDR:7002" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a bulk upload failed"; done
for n in "${NETS[@]}"; do
	br=${n%%:*}
	echo_ok "g$br" "with all three networks busy"
	[ "$(counter "$br" snat_fast)" -gt 100 ] || fail "$br counted no fast-path packets: $(qnat stats "$br")"
done
body=$(printf 'GET /metrics HTTP/1.0\r\n\r\n' | in_host socat -t 2 - TCP:127.0.0.1:9411)
m=$(echo "$body" | sed -n 's/^qnat_packets_total{bridge="brC",reason="snat_fast"} //p' | tr -d '\r')
[ "${m:-0}" = "$(counter brC snat_fast)" ] || fail "brC's metrics: snat_fast '$m', stats $(counter brC snat_fast)"
echo "$body" | grep -q 'bridge="virbr0"\|bridge="brB"' && fail "brC's metrics show another network"
log "4 MB from each network at once, and echoes: all through the data plane; brC's metrics are its own"

# Two guests, two networks, one source port, one server: two reply tuples.
bg in_guest gvirbr0 socat TCP:"$EXT_ADDR":7000,sourceport=40000 EXEC:'sleep 30'
bg in_guest gbrB socat TCP:"$EXT_ADDR":7000,sourceport=40000 EXEC:'sleep 30'
wait_for 5 sh -c "[ \$(ip netns exec $NS_EXT ss -Htn state established '( sport = :7000 )' | wc -l) -ge 2 ]" ||
	fail "both connections from port 40000 should be up: $(in_ext ss -tn)"
ports=$(in_ext ss -Htn state established '( sport = :7000 )' | awk '{print $4}' | sort -u)
[ "$(echo "$ports" | wc -l)" = 2 ] || fail "ext should see two source ports: $ports"
a=$(qnat ct show virbr0 --json | jq -r '.[] | select(.orig.sport == 40000) | .reply.dport')
b=$(qnat ct show brB --json | jq -r '.[] | select(.orig.sport == 40000) | .reply.dport')
[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] || fail "reply ports: virbr0 '$a', brB '$b'"
qnat ct show brC --json | jq -e 'map(select(.orig.sport == 40000)) | length == 0' >/dev/null ||
	fail "brC's ct shows another network's flow"
log "source port 40000 from virbr0 and brB: ext sees $(echo $ports), ct shows each network its own"

# A forwarded host port belongs to one network; another network's guest is out of reach.
qnat forward add virbr0 tcp 2222 192.168.122.10:22 >/dev/null || fail "forward on virbr0"
err=$(qnat forward add brB tcp 2222 192.168.100.10:22 2>&1) && fail "brB took virbr0's host port 2222"
echo "$err" | grep -q "another network" || fail "the refusal does not say why: $err"
before=$(counter brB drop_other_net)
in_guest gbrB timeout 3 socat -u /dev/null TCP:192.168.122.10:9,connect-timeout=1 2>/dev/null &&
	fail "a brB guest reached virbr0's guest"
[ "$(counter brB drop_other_net)" -gt "$before" ] || fail "drop_other_net did not count"
log "port 2222 refused to brB ($err); brB -> virbr0's guest dropped"

# brB's supervisor dies; attach again: its flows, the others' and the uplink's XDP stay.
nA=$(qnat ct count virbr0) nB=$(qnat ct count brB) nC=$(qnat ct count brC)
sup=$(qnat status brB --json | jq -r '.[0].supervisor_pid')
kill -KILL "$sup"
qnat attach brB --masq 192.168.100.0/24 >&2 || fail "re-attach brB"
[ "$(qnat ct count brB)" = "$nB" ] || fail "brB's flows: $nB before, $(qnat ct count brB) after"
[ "$(qnat ct count virbr0)" = "$nA" ] || fail "virbr0 lost flows in brB's restart"
has_xdp || fail "brB's restart took the uplink's XDP away"
echo_ok gbrB "after the restart"
log "brB restarted: flows kept (virbr0 $nA, brB $nB, brC $nC), XDP still on $UPLINK"

# brB upgraded to another build while its supervisor runs: the uplink's programs are that build's now.
wait "$MK2" || fail "building the other build: $(tail -5 "$WORK/b2.log")"
nB=$(qnat ct count brB) nA=$(qnat ct count virbr0)
up_id=$(in_host tc filter show dev "$UPLINK" ingress | grep -o 'tc_uplink_in tag [0-9a-f]*')
out=$(ip netns exec "$NS_HOST" "$WORK/b2/qnat-bpf" attach brB --masq 192.168.100.0/24) || fail "upgrade brB: $out"
echo "$out" | grep -q "^brB: upgraded from build .* to .*, $nB flows kept" || fail "upgrade report: $out"
[ "$(qnat ct count virbr0)" = "$nA" ] || fail "virbr0 lost flows in brB's upgrade"
has_xdp || fail "brB's upgrade took the uplink's XDP away"
[ "$(in_host tc filter show dev "$UPLINK" ingress | grep -o 'tc_uplink_in tag [0-9a-f]*')" != "$up_id" ] ||
	fail "the uplink's programs are not the new build's"
for g in gvirbr0 gbrB; do
	echo_ok "$g" "after brB's upgrade"
done
log "brB upgraded: $out; virbr0's $nA flows and the uplink's XDP kept"

# brD's bridge is deleted under it, then brD detached: its slot goes, the others stay.
qnat attach brD --masq 192.168.102.0/24 >&2 || fail "attach brD"
nA=$(qnat ct count virbr0) nB=$(qnat ct count brB) nC=$(qnat ct count brC)
in_host ip link del brD
qnat detach brD || fail "detach brD after its bridge went"
[ "$(qnat ct count virbr0)" = "$nA" ] && [ "$(qnat ct count brB)" = "$nB" ] && [ "$(qnat ct count brC)" = "$nC" ] ||
	fail "detaching brD (bridge gone) took others' flows: $nA $nB $nC -> $(qnat ct count virbr0) $(qnat ct count brB) $(qnat ct count brC)"
has_xdp && in_host tc filter show dev "$UPLINK" ingress | grep -q tc_uplink_in || fail "brD's detach took the uplink's programs"
echo_ok gbrC "after brD's detach"
log "brD's bridge deleted, then brD detached: the others' flows ($nA, $nB, $nC) and the uplink stay"

# Detach brB, then virbr0 (which attached the uplink's programs): the rest goes on.
qnat detach brB || fail "detach brB"
[ "$(qnat ct count virbr0)" -ge "$nA" ] && [ "$(qnat ct count brC)" -ge "$nC" ] ||
	fail "detaching brB took others' flows"
qnat detach virbr0 || fail "detach virbr0"
[ "$(qnat ct count brC)" -ge "$nC" ] || fail "detaching virbr0 took brC's flows"
echo_ok gbrC "after the others left"
[ "$(qnat ct count brC)" -gt "$nC" ] || fail "brC's new flow is not in the data plane"
in_host tc filter show dev "$UPLINK" ingress | grep -q tc_uplink_in || fail "the uplink's programs left with virbr0"
qnat detach brC || fail "detach brC"
in_host tc filter show dev "$UPLINK" ingress | grep -q tc_uplink_in && fail "the last detach left tc_uplink_in"
has_xdp && fail "the last detach left XDP on the uplink"
log "brB, then virbr0 detached: brC kept its flows and traffic; brC last: the uplink is clean"
pass
