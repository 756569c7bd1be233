#!/bin/bash
# Hostile guests.  g1 (the victim) keeps a TCP conversation and a UDP stream
# with ext running throughout; g2 (the attacker) tries its tricks:
#   (a) sources outside the subnet (10.66.0.5, 192.168.123.5, the uplink's
#       own address, ext's own address): not translated, dropped, counted
#       one for one in drop_spoof, and nothing of it leaves the uplink
#       (capture on ext).
#   (b) the victim's own address as source.  KNOWN GAP with
#       --no-port-security (like libvirt's network without an nwfilter;
#       in-subnet source addresses are not checked), on which (a) to (d) run: the
#       attacker can open flows in the victim's name and gets their replies
#       (translated to the victim's address, sent to the attacker's port and
#       MAC); a packet injected on the victim's exact tuple moves the
#       victim's flow to the attacker's port until the victim's next packet
#       moves it back ("replies follow the guest"), so replies in between go
#       to the attacker.  Recorded and printed, not failed on.  What does
#       hold and is asserted: the victim's conversation is never broken and
#       loses no exchange, and its flows point back at its own port after
#       its next packet.
#   (b') the same on a plain attach (port security is on by default;
#       re-attached, fresh guests g5, g6):
#       the attacker's spoofed packets are dropped at its port and counted
#       (drop_port_ip), no flow opens in the victim's name, no reply is
#       diverted, the victim's conversation is untouched.
#   (c) host services: DHCP (a lease) and DNS (a --host name) on the gateway
#       work.  A host service listening on 0.0.0.0:2222 is not reachable from
#       a guest by the gateway address nor by the uplink address (libvirt's
#       NAT network lets guests reach every host service); the attempts are
#       counted in drop_host.  More in test_host_policy.sh.
#   (d) unsolicited inbound: after g1 sends a bare ACK, a FIN, a RST (TCP)
#       and a datagram (UDP) to ext:7000 (and a bare ACK that ext drops
#       silently: its flow lives at most 300 s, as nf_conntrack's
#       unacknowledged timeout, not tcp_established's 5 days), ext opening connections or sending
#       to the translated ports from another source port, or from another
#       address (198.51.100.4) with the right port, reaches nothing in g1
#       (capture in g1's namespace: address-and-port-dependent filtering);
#       neither does ext addressing g1's private address directly (counted
#       drop_no_flow).  The control - ext answering from the very port g1
#       wrote to - does reach g1, so the capture is known to work.
#   (e) a guest filling the conntrack table: tests/integ/test_ct_limits.sh
#       (--max-flows-per-guest, --ct-full refuse|evict; the other guest's
#       connection keeps working).
#
#   victim   g1 eth0 ==veth== v-g1 ┐
#                                  virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 (+.4) ext
#   attacker g2 eth0 ==veth== v-g2 ┘  host: 0.0.0.0:2222                                     tcp-echo :8080, udp-echo :5353
#   (b': re-attached plain, victim g5 and attacker g6 on veths, same roles)
. "$(dirname "$0")/lib.sh"
need jq
flowgen_init
EXT2=198.51.100.4
ATTACKER=192.168.122.20

counter() { qnat stats "$BR" --json | jq -e ".counters.$1.packets"; }
raw() { local ns=$1; shift; ip netns exec "$ns" "$FLOWGEN" raw "$@" || fail "flowgen raw $*"; }
# Captures in any of our namespaces (lib.sh's capture_* are ext's).
cap_start() { # NS NAME FILTER...
	ip netns exec "$1" tcpdump -i eth0 --immediate-mode -nn -l -U -w "$WORK/$2.pcap" "${@:3}" >/dev/null 2>"$WORK/$2.err" &
	BG_PIDS+=($!)
	eval "CAP_$2=\$!"
	wait_for 5 grep -q "listening on" "$WORK/$2.err" || fail "tcpdump $2 did not start"
}
cap_stop() { # NAME
	local pid
	pid=$(eval echo "\$CAP_$1")
	sleep 0.3
	bg_kill "$pid"
	wait "$pid" 2>/dev/null
	tcpdump -nn -r "$WORK/$1.pcap" 2>/dev/null
}
# The victim's flow for PROTO SPORT: its port in ct show.
flow_port() {
	qnat ct show "$BR" --json | jq -r --arg s "$a1" --arg p "$1" --argjson sp "$2" \
		'.[] | select(.proto == $p and .orig.src == $s and .orig.sport == $sp) | .port'
}
victim_figures() { echo "tcp $(st g1tcp echoed)/$(st g1tcp sent) lost $(st g1tcp lost) broken $(st g1tcp broken), udp lost $(st g1udp lost)/$(st g1udp sent)"; }

topo_init
attach --no-port-security --host 52:54:00:aa:bb:99,192.168.122.99,fixedhost
guest_veth g1
guest_veth g2
a1=$(guest_dhcp g1)
guest_addr g2 "$ATTACKER"
log "victim g1=$a1, attacker g2=$ATTACKER"
flowgen_bg "$NS_EXT" echo8080 tcp-echo 8080 --bind "$EXT_ADDR"
flowgen_bg "$NS_EXT" echo5353 udp-echo 5353 --bind "$EXT_ADDR"
sleep 0.3
flowgen_bg "${T}g1" g1tcp tcp-talk "$EXT_ADDR" 8080 --sport 40100 --stall 5000
flowgen_bg "${T}g1" g1udp udp-talk "$EXT_ADDR" 5353 --sport 40200
talking() { [ "$(st g1tcp echoed)" -ge 5 ] && [ "$(st g1udp received)" -ge 5 ]; }
wait_for 5 talking || fail "the victim's conversation does not start"

# --- (a) sources outside the subnet.
capture_start spoof "ip"
spoof0=$(counter drop_spoof)
for src in 10.66.0.5 192.168.123.5 "$HOST_ADDR" "$EXT_ADDR"; do
	raw "${T}g2" "$src" 1234 "$EXT_ADDR" 5353 udp --count 10
	raw "${T}g2" "$src" 1234 "$EXT_ADDR" 8080 tcp S --count 10
done
sleep 0.5
spoofed=$(($(counter drop_spoof) - spoof0))
dump=$(capture_stop spoof)
if echo "$dump" | grep -E "\.1234 >|10\.66\.|192\.168\.12[0-9]\." >&2; then
	fail "spoofed packets left the uplink"
fi
[ "$spoofed" = 80 ] || fail "80 spoofed packets sent, drop_spoof counted $spoofed"
log "(a) 80 packets from 4 foreign sources: drop_spoof +$spoofed, 0 seen on ext"

# --- (b) the victim's address, from the attacker.
cap_start "${T}g2" atk "udp or tcp"
b_before=$(victim_figures)
# b1: a new flow in the victim's name.
raw "${T}g2" "$a1" 41000 "$EXT_ADDR" 5353 udp --count 3
sleep 0.5
b1_port=$(flow_port udp 41000)
# b2: one packet on each of the victim's live tuples.
raw "${T}g2" "$a1" 40200 "$EXT_ADDR" 5353 udp
raw "${T}g2" "$a1" 40100 "$EXT_ADDR" 8080 tcp A
sleep 1.5
atk=$(cap_stop atk)
diverted_new=$(echo "$atk" | grep -c "$EXT_ADDR.5353 > $a1.41000")
diverted_udp=$(echo "$atk" | grep -c "$EXT_ADDR.5353 > $a1.40200")
diverted_tcp=$(echo "$atk" | grep -c "$EXT_ADDR.8080 > $a1.40100")
log "(b) KNOWN GAP with --no-port-security: a flow opened by the attacker as $a1 sits on port $b1_port" \
	"and its $diverted_new replies went to the attacker; after one injected packet on each of the victim's" \
	"tuples the attacker got $diverted_udp of the victim's UDP replies and $diverted_tcp TCP segments"
log "(b) victim before: $b_before; after: $(victim_figures)"
[ "$(flow_port udp 40200)" = v-g1 ] || fail "the victim's UDP flow stays on $(flow_port udp 40200) after its own packets"
[ "$(flow_port tcp 40100)" = v-g1 ] || fail "the victim's TCP flow stays on $(flow_port tcp 40100) after its own packets"
[ "$(st g1tcp broken)" = 0 ] && [ "$(st g1tcp lost)" = 0 ] || fail "the victim's TCP conversation broke: $(victim_figures)"
[ "$(st g1udp lost)" -le "$diverted_udp" ] || fail "the victim lost more UDP replies than were diverted: $(victim_figures)"

# --- (c) host services.
in_guest g1 busybox nslookup fixedhost "$GATEWAY" 2>&1 | grep -q "192.168.122.99" ||
	fail "DNS on the gateway does not answer for a --host name"
bg in_host socat TCP-LISTEN:2222,reuseaddr,fork SYSTEM:'echo "peer:$SOCAT_PEERADDR"'
wait_for 5 in_host sh -c "ss -Hltn 'sport = :2222' | grep -q ."  || fail "host service did not start"
host0=$(counter drop_host)
via_gw=$(in_guest g1 timeout 5 socat -T 2 - TCP:"$GATEWAY":2222,connect-timeout=2 </dev/null 2>/dev/null)
via_up=$(in_guest g1 timeout 5 socat -T 2 - TCP:"$HOST_ADDR":2222,connect-timeout=2 </dev/null 2>/dev/null)
host_drops=$(($(counter drop_host) - host0))
log "(c) DHCP and DNS on the gateway work; host service 0.0.0.0:2222 from a guest:" \
	"by $GATEWAY: ${via_gw:-not reachable}; by $HOST_ADDR: ${via_up:-not reachable}; drop_host +$host_drops"
[ -z "$via_gw$via_up" ] || fail "a guest reached the host's service on 2222: '$via_gw' '$via_up'"
[ "$host_drops" -ge 2 ] || fail "2 connection attempts to a host service, drop_host counted $host_drops"

# --- (d) unsolicited inbound.
in_ext ip addr add "$EXT2/24" dev eth0
in_ext ip route add 192.168.122.0/24 via "$HOST_ADDR"
raw "${T}g1" "$a1" 41100 "$EXT_ADDR" 7000 tcp A
raw "${T}g1" "$a1" 41101 "$EXT_ADDR" 7000 tcp F
raw "${T}g1" "$a1" 41102 "$EXT_ADDR" 7000 tcp R
raw "${T}g1" "$a1" 41200 "$EXT_ADDR" 7000 udp
# A bare ACK into the void (ext drops port 7009 silently): a flow picked up
# mid-stream that nothing answers must not hold its slot for tcp_established
# (5 days); nf_conntrack gives it 300 s (tcp_timeout_unacknowledged).
in_ext nft add table inet hostile
in_ext nft add chain inet hostile in '{ type filter hook input priority 0; }'
in_ext nft add rule inet hostile in tcp dport 7009 drop
raw "${T}g1" "$a1" 41103 "$EXT_ADDR" 7009 tcp A
sleep 0.3
odd=$(qnat ct show "$BR" | grep -E "sport=4110[0-3] dport=700[09]" | awk '{print $2 "/" $3}' | tr '\n' ' ')
log "(d) flows made by g1's bare ACK, FIN, RST to ext:7000 and a bare ACK to silent ext:7009 (state/expires): $odd"
void=$(qnat ct show "$BR" --json | jq -e '.[] | select(.orig.sport == 41103) | .expires') || fail "no flow for the bare ACK"
[ "$void" -le 300 ] || fail "an unanswered bare ACK holds a flow for $void s"
cap_start "${T}g1" inbound "dst host $a1 and (tcp or udp or icmp) and not port 40100 and not port 40200 and not port 67 and not port 68"
noflow0=$(counter drop_no_flow)
for p in 41100 41101 41102; do
	for flags in S SA A; do
		raw "$NS_EXT" "$EXT_ADDR" 7001 "$HOST_ADDR" $p tcp $flags # another source port
		raw "$NS_EXT" "$EXT2" 7000 "$HOST_ADDR" $p tcp $flags     # another source address
	done
done
raw "$NS_EXT" "$EXT_ADDR" 7001 "$HOST_ADDR" 41200 udp
raw "$NS_EXT" "$EXT2" 7000 "$HOST_ADDR" 41200 udp
# Straight at the guest's private address.
raw "$NS_EXT" "$EXT_ADDR" 7000 "$a1" 41200 udp
raw "$NS_EXT" "$EXT_ADDR" 7000 "$a1" 41100 tcp S
in_ext busybox ping -c 1 -W 1 "$a1" >/dev/null 2>&1
noflow=$(($(counter drop_no_flow) - noflow0))
# The control: from the very address and port g1 wrote to.
raw "$NS_EXT" "$EXT_ADDR" 7000 "$HOST_ADDR" 41200 udp
sleep 0.3
seen=$(cap_stop inbound)
if echo "$seen" | grep -v "$EXT_ADDR.7000 > $a1.41200:" | grep -q "IP "; then
	echo "$seen" >&2
	fail "unsolicited packets from outside reached the guest"
fi
echo "$seen" | grep -q "$EXT_ADDR.7000 > $a1.41200:" || fail "the control datagram did not reach g1: capture broken?"
[ "$noflow" -ge 3 ] || fail "packets to the guest's private address not counted in drop_no_flow (+$noflow)"
log "(d) 20 unsolicited packets to g1's translated ports from other ports/addresses, 3 to its private address" \
	"(drop_no_flow +$noflow): 0 reached g1; the control did"
log "victim over the whole test: $(victim_figures)"
[ "$(st g1tcp broken)" = 0 ] && [ "$(st g1tcp lost)" = 0 ] || fail "the victim's TCP conversation broke"
v_default=$(victim_figures)

# --- (b') the same tricks on a plain attach (port security on by default): the gap is closed.
bg_kill "$PID_g1tcp"
bg_kill "$PID_g1udp"
qnat detach "$BR" || fail "detach failed"
attach
guest_veth g5
guest_veth g6
a1=$(guest_dhcp g5)
a6=$(guest_dhcp g6)
for n in g1tcp g1udp; do rm -f "$WORK/$n.stats"; done
flowgen_bg "${T}g5" g1tcp tcp-talk "$EXT_ADDR" 8080 --sport 40100 --stall 5000
flowgen_bg "${T}g5" g1udp udp-talk "$EXT_ADDR" 5353 --sport 40200
wait_for 5 talking || fail "the victim's conversation does not start under port security"
bound() { qnat status "$BR" | grep -q "v-g6 .*\[.* $a6 (lease)"; }
wait_for 5 bound || fail "the attacker's port is not bound to its lease $a6"
cap_start "${T}g6" atk2 "udp or tcp"
ps0=$(counter drop_port_ip)
raw "${T}g6" "$a1" 41000 "$EXT_ADDR" 5353 udp --count 3
raw "${T}g6" "$a1" 40200 "$EXT_ADDR" 5353 udp
raw "${T}g6" "$a1" 40100 "$EXT_ADDR" 8080 tcp A
raw "${T}g6" 10.66.0.5 1234 "$EXT_ADDR" 5353 udp
sleep 1
atk=$(cap_stop atk2)
refused=$(($(counter drop_port_ip) - ps0))
[ "$(flow_port udp 41000)" = "" ] || fail "with port security the attacker still opened a flow as $a1"
echo "$atk" | grep -q " > $a1\." && fail "with port security the attacker still got the victim's replies"
[ "$refused" = 6 ] || fail "6 spoofed packets under port security, drop_port_ip +$refused"
[ "$(st g1tcp broken)" = 0 ] && [ "$(st g1tcp lost)" = 0 ] && [ "$(st g1udp lost)" = 0 ] ||
	fail "the victim was disturbed under port security: $(victim_figures)"
log "(b') plain attach (port security): the attacker's 6 spoofed packets dropped (drop_port_ip +$refused), no flow opened," \
	"0 replies diverted; victim: $(victim_figures)"
log "victim without port security: $v_default; with: $(victim_figures); (b) gap without it: $diverted_new+$diverted_udp+$diverted_tcp packets diverted to the attacker"
pass
