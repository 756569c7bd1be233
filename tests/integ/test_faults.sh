#!/bin/bash
# Faults under load.  While g1 talks to ext on a long TCP connection (a line
# every 100 ms, each echo checked) plus a UDP stream (a datagram every 100
# ms), and g2 holds its own long TCP conversation, each fault below is
# injected and the exchanges lost, the connections broken and the datagrams
# lost across it are counted and printed:
#   (a) dnsmasq SIGKILLed: restarted, the lease file kept (the leases listed
#       before are listed after, g3 renews to the same address); no traffic
#       lost at all.
#   (b) g2's TAP removed and re-added (taprelay killed and restarted with the
#       same names, same MAC): the port is forgotten, then attached again;
#       g2's connection survives (TCP retransmits across the gap) or is
#       redialled, new connections work; g1 loses nothing meanwhile.
#   (c) g1 moved to a new TAP (new port t-g1n, same namespace, MAC and IP;
#       the old TAP stays on the bridge): its TCP connection keeps working
#       because the flow's port follows the guest's next packet (ct shows
#       t-g1n), nothing broken.
#   (d) the uplink down for 1 s and up again (the default route restored as
#       the network configuration would): established TCP survives, as it
#       would with MASQUERADE; new flows work after.
#   (e) the uplink's address changed (198.51.100.1 -> .3): new flows leave
#       from .3 (capture on ext); after the change no packet leaves with the
#       old address .1 and none with a guest address; the old TCP flows are
#       dropped cleanly (reset, then redialled through .3) and the UDP stream
#       carries on through .3, as MASQUERADE does (it flushes the flows of an
#       address that goes away).
#   (f) port exhaustion (re-attached with --port-range 20000-20009): 10 TCP
#       flows to ext:9000 succeed, the 11th fails and drop_no_port counts it,
#       while flows to ext:9001 and UDP to ext:9000 still work (a mapping is
#       per reply tuple).
#
#   g1 eth0 (tap) <-taprelay-> t-g1  ┐  (c: g1 eth1 <-taprelay-> t-g1n, MAC/IP of eth0)
#   g2 eth0 (tap) <-taprelay-> t-g2  ┤ virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g3 eth0 ==veth== v-g3            ┘                                   (e: up0 -> 198.51.100.3)  tcp-echo :8080 :9000 :9001
#                                                                                                 udp-echo :5353 :9000
. "$(dirname "$0")/lib.sh"
need jq tc
flowgen_init
NEW_ADDR=198.51.100.3

status_json() { qnat status "$BR" --json | jq -e ".[0]$1"; }
port_listed() { status_json "| .ports | any(.name == \"$1\" and .kind == \"tap\")"; }
port_gone() { status_json "| .ports | all(.name != \"$1\")"; }
dns_pid() { status_json '.dhcp | select(.state == "running") | .pid'; }
counter() { qnat stats "$BR" --json | jq -e ".counters.$1.packets"; }
# Waits until stream NAME's KEY grows by N from now.
grows() { local n=$1 k=$2 by=$3 v0; v0=$(st "$n" "$k"); _grown() { [ "$(st "$n" "$k")" -ge $((v0 + by)) ]; }; wait_for "$4" _grown; }

ext_server() { # MODE PORT NAME
	flowgen_bg "$NS_EXT" "$3" "$1" "$2" --bind "$EXT_ADDR"
	_up() { [ -s "$WORK/$1.stats" ]; }
	wait_for 5 _up "$3" || fail "ext $1 on $2 did not start"
}

# The phase bookkeeping: figures at the start, deltas at the end.
STREAMS="g1tcp g1udp g2tcp"
FIG=()
phase_begin() {
	for s in $STREAMS; do cp "$WORK/$s.stats" "$WORK/$s.before"; done
}
d() { echo $(($(st "$1" "$2") - $(sed -n "s/^$2=//p" "$WORK/$1.before"))); }
phase_end() { # LABEL: prints the phase's figures, leaves them in G1_LOST, G1_BROKEN, U_LOST, G2_*
	local label=$1
	sleep 1.3 # the UDP stream judges a datagram lost after 1 s
	G1_LOST=$(d g1tcp lost) G1_BROKEN=$(d g1tcp broken) G1_LATE=$(d g1tcp late)
	G2_LOST=$(d g2tcp lost) G2_BROKEN=$(d g2tcp broken) G2_LATE=$(d g2tcp late)
	U_LOST=$(d g1udp lost) U_SENT=$(d g1udp sent)
	log "$label: g1 tcp: $(d g1tcp echoed)/$(d g1tcp sent) exchanges, lost $G1_LOST, late(>1s) $G1_LATE," \
		"broken $G1_BROKEN, max rtt $(st g1tcp max_rtt_ms) ms | g1 udp: lost $U_LOST of $U_SENT |" \
		"g2 tcp: $(d g2tcp echoed)/$(d g2tcp sent) exchanges, lost $G2_LOST, late $G2_LATE, broken $G2_BROKEN"
	FIG+=(" ${label%% *} g1 tcp $G1_LOST/$G1_BROKEN, g2 tcp $G2_LOST/$G2_BROKEN, g1 udp $U_LOST")
}
# The talkers talk: each stream's echoes grow within SECS.
flowing() { grows g1tcp echoed 3 "$1" && grows g1udp received 3 "$1" && grows g2tcp echoed 3 "$1"; }
one_shot() { # GUEST PORT: a new TCP connection, one line echoed
	local out
	out=$(echo "new" | in_guest "$1" timeout 5 socat -t 2 - TCP:"$EXT_ADDR":"$2") && [ "$out" = "echo:new" ]
}

topo_init
attach
guest_tap g1
guest_tap g2
guest_veth g3
wait_for 5 port_listed t-g1 && wait_for 5 port_listed t-g2 || fail "TAPs not attached"
a1=$(guest_dhcp g1)
a2=$(guest_dhcp g2)
a3=$(guest_dhcp g3)
mac1=$(ip -n "${T}g1" -o link show eth0 | grep -o 'link/ether [^ ]*' | cut -d' ' -f2)
mac2=$(ip -n "${T}g2" -o link show eth0 | grep -o 'link/ether [^ ]*' | cut -d' ' -f2)
log "leases: g1=$a1 ($mac1) g2=$a2 ($mac2) g3=$a3"

ext_server tcp-echo 8080 echo8080
ext_server udp-echo 5353 echo5353
flowgen_bg "${T}g1" g1tcp tcp-talk "$EXT_ADDR" 8080 --sport 40100 --stall 10000
flowgen_bg "${T}g1" g1udp udp-talk "$EXT_ADDR" 5353 --sport 40200
flowgen_bg "${T}g2" g2tcp tcp-talk "$EXT_ADDR" 8080 --sport 40300 --stall 10000
flowing 5 || fail "the talkers do not get their echoes before any fault"

# --- (a) dnsmasq SIGKILLed.
leases_before=$(qnat dhcp leases "$BR" --json | jq -c '[.[] | {mac, ipaddr}] | sort')
[ "$(echo "$leases_before" | jq length)" = 3 ] || fail "3 leases expected before the kill: $leases_before"
phase_begin
dns=$(dns_pid) || fail "dnsmasq not running"
kill -KILL "$dns"
new_dns() { local p; p=$(dns_pid) && [ "$p" != "$dns" ] && kill -0 "$p"; }
wait_for 5 new_dns || fail "dnsmasq was not restarted within 5 s"
leases_after=$(qnat dhcp leases "$BR" --json | jq -c '[.[] | {mac, ipaddr}] | sort')
[ "$leases_after" = "$leases_before" ] || fail "leases before the kill $leases_before, after $leases_after"
in_guest g3 ip -4 addr flush dev eth0
[ "$(guest_dhcp g3)" = "$a3" ] || fail "g3 did not renew to $a3 from the restarted dnsmasq"
flowing 3 || fail "traffic stopped after dnsmasq's restart"
phase_end "(a) dnsmasq SIGKILL"
[ "$G1_LOST$G1_BROKEN$U_LOST$G2_LOST$G2_BROKEN" = 00000 ] || fail "traffic lost across a dnsmasq restart"

# --- (b) g2's TAP removed and re-added with the same names and MAC.
phase_begin
kill "$(taprelay_pid t-g2 g2 eth0)" || fail "no taprelay for g2"
wait_for 5 port_gone t-g2 || fail "t-g2 vanished but is still listed"
tap_start g2 t-g2 eth0
in_guest g2 ip link set eth0 address "$mac2"
in_guest g2 ip link set eth0 up
wait_for 5 port_listed t-g2 || { qnat status "$BR" >&2; fail "the re-added t-g2 was not attached"; }
in_host tc filter show dev t-g2 ingress | grep -q tc_port_in || fail "no tc_port_in on the re-added t-g2"
[ "$(guest_dhcp g2)" = "$a2" ] || fail "g2 did not get its address $a2 back"
one_shot g2 8080 || fail "g2 cannot open a new connection after its TAP came back"
grows g2tcp echoed 3 15 || fail "g2's conversation neither survived nor was redialled"
phase_end "(b) g2 TAP removed+re-added"
g2_connects=$(st g2tcp connects)
log "(b) g2's connection $([ "$G2_BROKEN" = 0 ] && echo survived || echo "was redialled ($g2_connects connects)")"
[ "$G1_LOST$G1_BROKEN$U_LOST" = 000 ] || fail "g1 lost traffic while g2's TAP was replaced"

# --- (c) g1 moves to a new TAP; the old one stays on the bridge.
phase_begin
tap_start g1 t-g1n eth1
wait_for 5 port_listed t-g1n || fail "t-g1n not attached"
in_guest g1 ip link set eth1 address "$mac1"
in_guest g1 sh -c "ip link set eth1 up && ip addr del $a1/24 dev eth0 && ip link set eth0 down &&
	ip addr add $a1/24 dev eth1 && ip route replace default via $GATEWAY dev eth1" || fail "cannot move g1 to eth1"
flowing 5 || fail "g1's traffic stopped after the move to t-g1n"
g1_port() { qnat ct show "$BR" --json | jq -e -r --arg s "$a1" '.[] | select(.proto == "tcp" and .orig.src == $s and .orig.sport == 40100) | .port'; }
on_new_port() { [ "$(g1_port)" = t-g1n ]; }
wait_for 3 on_new_port || fail "g1's flow still points at port $(g1_port), not t-g1n"
phase_end "(c) g1 moved to t-g1n"
[ "$G1_BROKEN" = 0 ] && [ "$G1_LOST" = 0 ] || fail "g1's connection broke when it moved to a new TAP"
[ "$U_LOST" -le 3 ] || fail "g1's UDP stream lost $U_LOST datagrams in the move"

# --- (d) the uplink down for 2 s, then up.
phase_begin
in_host ip link set "$UPLINK" down
sleep 1
in_host ip link set "$UPLINK" up
in_host ip route replace default via "$EXT_ADDR"
flowing 15 || fail "traffic did not come back after the uplink came up"
one_shot g3 8080 || fail "no new flow after the uplink came back"
phase_end "(d) uplink down 1 s"
[ "$G1_BROKEN" = 0 ] && [ "$G2_BROKEN" = 0 ] || fail "an established connection broke across the uplink outage"

# --- (e) the uplink's address changes.
phase_begin
in_host sysctl -qw net.ipv4.conf."$UPLINK".promote_secondaries=1
in_host ip addr add "$NEW_ADDR/24" dev "$UPLINK"
in_host ip addr del "$HOST_ADDR/24" dev "$UPLINK"
in_host ip route replace default via "$EXT_ADDR"
new_addr() { [ "$(qnat status "$BR" --json | jq -r ".[0].uplink_address")" = "$NEW_ADDR" ]; }
wait_for 5 new_addr || fail "the supervisor did not follow the uplink to $NEW_ADDR"
sleep 0.2
capture_start after "ip"
# ext learns the new address; replies to .1 have nowhere to go.
in_ext ip neigh flush dev eth0
one_shot g3 8080 || fail "no new flow after the address change"
flowing 15 || fail "traffic did not come back after the address change"
dump=$(capture_stop after)
phase_end "(e) uplink address $HOST_ADDR -> $NEW_ADDR"
old_src="(^|[ ])${HOST_ADDR//./\\.}(\.[0-9]+)? >"
if echo "$dump" | grep -qE "$old_src"; then
	echo "$dump" | grep -E "$old_src" | head -5 >&2
	fail "packets left with the old address $HOST_ADDR after the change"
fi
echo "$dump" | grep -q "192\.168\.122\." && fail "a guest address leaked onto the uplink"
echo "$dump" | grep -qE "${NEW_ADDR//./\\.}\.[0-9]+ > ${EXT_ADDR//./\\.}\.8080: Flags \[S\]" ||
	fail "no new connection from $NEW_ADDR seen on ext"
ct_old=$(qnat ct show "$BR" --json | jq --arg a "$HOST_ADDR" '[.[] | select(.reply.dst == $a)] | length')
[ "$ct_old" = 0 ] || fail "$ct_old flows still translate to the old address $HOST_ADDR"

# --- (f) port exhaustion towards one destination.
for s in g1tcp g1udp g2tcp; do bg_kill "$(eval echo "\$PID_$s")"; done
qnat detach "$BR" || fail "detach failed"
attach --port-range 20000-20009
# detach took away the bridge it had made: a fresh guest on the new one.
guest_veth g4
guest_addr g4 192.168.122.44
ext_server tcp-echo 9000 echo9000
ext_server tcp-echo 9001 echo9001
ext_server udp-echo 9000 uecho9000
in_guest g4 "$FLOWGEN" tcp-hold "$EXT_ADDR" 9000 10 --timeout 3000 >"$WORK/hold10" &
BG_PIDS+=($!)
ten() { [ "$(grep -c . "$WORK/hold10")" = 10 ]; }
wait_for 40 ten || fail "the 10 flows did not finish: $(cat "$WORK/hold10")"
ok10=$(grep -c '^ok' "$WORK/hold10")
retries=$(counter drop_no_port)
[ "$ok10" = 10 ] || fail "only $ok10 of 10 flows to ext:9000 succeeded with 10 ports"
in_guest g4 "$FLOWGEN" tcp-hold "$EXT_ADDR" 9000 1 --timeout 2000 >"$WORK/hold11" &
BG_PIDS+=($!)
one() { [ "$(grep -c . "$WORK/hold11")" = 1 ]; }
wait_for 10 one || fail "the 11th flow did not finish"
nop=$(counter drop_no_port)
grep -q '^fail' "$WORK/hold11" || fail "an 11th flow to ext:9000 succeeded with only 10 ports"
[ "$nop" -gt "$retries" ] || fail "the 11th flow's refusal was not counted in drop_no_port ($retries -> $nop)"
one_shot g4 9001 || fail "a flow to another destination (ext:9001) failed while ext:9000 was exhausted"
out=$(echo hi | in_guest g4 timeout 5 socat -t 2 - UDP:"$EXT_ADDR":9000) && [ "$out" = "echo:hi" ] ||
	fail "UDP to ext:9000 failed while TCP to it was exhausted"
log "(f) ports 20000-20009: 10/10 flows to ext:9000 (SYNs refused on the way: $retries), 11th refused" \
	"(drop_no_port $retries -> $nop), ext:9001 and udp ext:9000 fine"
log "figures, lost exchanges/broken connections (TCP), lost datagrams (UDP): $(IFS=';'; echo "${FIG[*]}");" \
	"(f) 11th flow refused, drop_no_port +$((nop - retries))"
pass
