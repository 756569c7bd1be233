#!/bin/bash
# Differential test, IPv6 (issue 14): the same scenarios under the kernel,
# set up as libvirt does for <nat ipv6='yes'/> (virbr0 with fd00:122::1/64,
# IPv6 forwarding, dnsmasq's router advertisements with ra-only, libvirt's
# ip6tables rules: tests/libvirt-ip6tables.sh) and under qnat-bpf (attach
# --masq6 fd00:122::/64, its own dnsmasq for the RAs), with what the guests
# and ext observe compared (diff_lib.sh).  Scenarios: SLAAC and the RA's
# default route; TCP and UDP from a guest, ext sees the uplink's IPv6
# address and the guest's source port; ping6 (hop limit, identifier); two
# guests on one source port (the first keeps it, the second's is changed),
# TCP and UDP; a 300 kB upload to far across a 1280-MTU hop arrives intact
# and the guest learns the path MTU from the translated Packet Too Big;
# traceroute6 hops (times dropped); unsolicited ping6 and TCP from ext to a
# guest's address (ext routes the prefix via the host) are kept out; IPv6
# port forwards, TCP and UDP, from ext (ip6tables DNAT against forward add:
# the guest sees ext's own address and port), a port not forwarded closed; the
# SYN as ext sees it, checksums, the ICMPv6 errors g1 and ext receive; no
# guest address on the uplink.  Then the same scenarios routed: libvirt's
# <forward mode='route'/> (plain forwarding, its FORWARD rules, no NAT)
# against --route6 2001:db8:122::/64: ext sees the guests' own addresses and
# reaches them unsolicited.  The IPv4 side of diff_mode (static addresses,
# libvirt's iptables) runs underneath, not observed here.
#
# DIFF_QNAT_ARGS="--port-range 20000-29999" makes the test fail (the guests'
# source ports are no longer kept: tcp.peer, udp.peer, two.*.g1, ext.syn
# differ in the masquerade section).
#
#   g1 eth0 ==veth== v-g1 ┐                                                                       (mtu 1280)
#                         virbr0 fd00:122::1/64 host up0 2001:db8:ff::1 ==veth== eth0 2001:db8:ff::2 ext xf ==== far 2001:db8:fa::2
#   g2 eth0 ==veth== v-g2 ┘  [kernel: ip6tables + dnsmasq RA | qnat: qnat-bpf]      (route the guests' /64 via host)
#   routed: virbr0 2001:db8:122::1/64, --route6 2001:db8:122::/64
#   captures for the whole mode: ext eth0, g1 eth0, g2 eth0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/diff_lib.sh"
need ip6tables dnsmasq

MASQ6=$SUBNET6
NORM_SED0=$NORM_SED

# Each mode: the uplink's IPv6, far behind the 1280 hop, ext's route to the prefix.
topo_extra() {
	NS_FAR=${T}f
	topo_ip6
	far6_init
	ip -n "$NS_EXT" -6 route add "$SUBNET6" via "$HOST6_ADDR" || fail "ext's route to $SUBNET6"
}

# The kernel's IPv6 the way libvirt sets it up: the gateway address on the
# bridge, forwarding, its ip6tables rules (NAT or routed), dnsmasq sending
# RAs (libvirt's dhcp-range=PREFIX,ra-only).
kernel6() {
	ip -n "$NS_HOST" -6 addr add "$GW6/64" dev "$BR" nodad || fail "IPv6 on $BR"
	in_host sysctl -qw net.ipv6.conf.all.forwarding=1
	if [ "$ROUTED" = 1 ]; then
		routed_rules
	else
		in_host sh -e <"$ROOT/tests/libvirt-ip6tables.sh"
	fi || fail "ip6tables rules"
	bg in_host dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --port=0 --strict-order \
		--pid-file="$MW/dnsmasq.pid" --except-interface=lo --bind-dynamic --interface="$BR" \
		--enable-ra --dhcp-range="${SUBNET6%/*},ra-only,64" --dhcp-leasefile="$MW/leases"
}

# Addresses by role: the SLAAC addresses differ per mode.
norm6() {
	local s='' a
	for a in "$A1=G1" "$A2=G2" "$GW6=GW" "$HOST6_ADDR=UPLINK" "$EXT6_ADDR=EXT" "$FAR6_ADDR=FAR"; do
		s+="s/$(ip6_full "${a%%=*}")\\b/${a#*=}/g;s/${a%%=*}\\b/${a#*=}/g;"
	done
	NORM_SED=$s$NORM_SED0
}

# libvirt's ip6tables rules for <forward mode='route'/>: forwarding to and
# from the prefix on virbr0, no NAT, the rest rejected.
routed_rules() {
	in_host sh -e <<EOF
ip6tables -A FORWARD -i $BR -o $BR -j ACCEPT
ip6tables -A FORWARD -d $SUBNET6 -o $BR -j ACCEPT
ip6tables -A FORWARD -s $SUBNET6 -i $BR -j ACCEPT
ip6tables -A FORWARD -i $BR -j REJECT
ip6tables -A FORWARD -o $BR -j REJECT
EOF
}

ROUTED=0
GW6=fd00:122::1
DIFF_ATTACH="--masq6 $SUBNET6"
# Masquerade.  Deliberate differences: packets from outside addressed
# straight to a guest are kept out by both, but libvirt REJECTs them (the
# sender gets an ICMPv6 port unreachable from the host) where qnat-bpf drops
# them silently (drop_no_flow): nothing about the guests given away, no ICMP
# for a stranger.
why="strangers addressed to a guest are dropped, not rejected"
allow in.tcp refused timeout "$why"
allow ext.icmp6_err.UPLINK_EXT_destination_unreachable "[1-9].*" "<missing>" "$why"

expect slaac "G1 G2"
expect ra.default "via LL proto ra"
expect tcp.peer "ok peer=UPLINK port=10001"
expect udp.peer "ok peer=UPLINK port=10002"
expect ping.out "rc=0 ttl=63 2 packets received"
expect ping.id kept
expect two.tcp.g1 "peer=UPLINK port=10100"
expect two.tcp.g2 "peer=UPLINK changed"
expect two.udp.g1 "ok peer=UPLINK port=10200"
expect two.udp.g2 "ok peer=UPLINK changed"
expect pmtu.upload "rc=0 intact"
expect pmtu.route "mtu 1280"
expect traceroute ".* 2 EXT 3 FAR"
expect in.ping "rc=1 0 packets received"
expect in.tcp refused
expect fwd.tcp "ok peer=EXT port=10400"
expect fwd.udp "ok peer=EXT port=10401"
expect fwd.closed refused
for k in ext.guest_sources g1.got_in ext.bad_checksums g1.bad_checksums; do expect $k 0; done
expect g1.icmp6_err.EXT_G1_packet_too_big "[1-9].*"
expect g1.icmp6_err.GW_G1_time_exceeded "1 .*"
expect ext.icmp6_err.UPLINK_EXT_destination_unreachable "[1-9].*"

head -c 300000 /dev/urandom >"$WORK/up.bin"
TCP6="socat -T 3 -"

scenarios() {
	local out a b
	[ "$MODE" = kernel ] && kernel6
	A1=$(guest_slaac g1 "$SUBNET6") || exit 1
	A2=$(guest_slaac g2 "$SUBNET6") || exit 1
	norm6
	obs slaac "$A1 $A2"
	obs ra.default "$(in_guest g1 ip -6 route show default | grep -oE 'via fe80::[^ ]+|proto ra' | sed 's/fe80::.*/LL/')"

	ext6_peer_tcp 7000
	ext6_peer_udp 7001
	bg in_far socat -u TCP6-LISTEN:7002,reuseaddr OPEN:"$MW/far.out",creat,trunc
	bg in_guest g1 socat TCP6-LISTEN:7100,reuseaddr,fork SYSTEM:'echo got-in'
	wait_for 5 sh -c "ip netns exec $NS_FAR ss -ltn | grep -q :7002" || fail "$MODE: far's listener"

	# TCP and UDP: ext sees the uplink's address, the guest's port kept.
	obs tcp.peer "$(outcome g1 $TCP6 TCP6:["$EXT6_ADDR"]:7000,sourceport=10001 </dev/null)"
	obs udp.peer "$(echo x | outcome g1 $TCP6 UDP6:["$EXT6_ADDR"]:7001,sourceport=10002)"

	# ping6: the hop limit the answer comes back with, the identifier (captures).
	out=$(in_guest g1 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" 2>&1)
	obs ping.out "rc=$? $(grep -o 'ttl=[0-9]*' <<<"$out" | sort -u) $(grep -o '[0-9]* packets received' <<<"$out")"

	# Two guests, one source port, at the same time: g1 holds its
	# connection open (the peer answers at its EOF) while g2 connects.
	( (sleep 1.5) | in_guest g1 $TCP6 TCP6:["$EXT6_ADDR"]:7000,sourceport=10100 >"$MW/two.g1" 2>&1) &
	a=$!
	wait_for 3 sh -c "ip netns exec ${T}g1 ss -Htn state established '( sport = :10100 )' | grep -q ."
	in_guest g2 $TCP6 TCP6:["$EXT6_ADDR"]:7000,sourceport=10100 </dev/null >"$MW/two.g2" 2>&1 &
	b=$!
	wait "$a" "$b"
	obs two.tcp.g1 "$(cat "$MW/two.g1")"
	obs two.tcp.g2 "$(sed -E 's/port=10100$/kept/; s/port=[0-9]+$/changed/' "$MW/two.g2")"
	obs two.udp.g1 "$(echo u1 | outcome g1 $TCP6 UDP6:["$EXT6_ADDR"]:7001,sourceport=10200)"
	obs two.udp.g2 "$(echo u2 | outcome g2 $TCP6 UDP6:["$EXT6_ADDR"]:7001,sourceport=10200 |
		sed -E 's/port=10200$/kept/; s/port=[0-9]+$/changed/')"

	# PMTU: 300 kB to far across the 1280 hop; no router fragments IPv6.
	in_guest g1 timeout 10 socat -u OPEN:"$WORK/up.bin" TCP6:["$FAR6_ADDR"]:7002,sourceport=10300
	out=$?
	wait_for 5 cmp -s "$WORK/up.bin" "$MW/far.out"
	obs pmtu.upload "rc=$out $(cmp -s "$WORK/up.bin" "$MW/far.out" && echo intact || echo "differs $(stat -c %s "$MW/far.out" 2>/dev/null)")"
	obs pmtu.route "$(in_guest g1 ip -6 route get "$FAR6_ADDR" | grep -o 'mtu [0-9]*')"

	# traceroute6: the hops, without their times.
	obs traceroute "$(in_guest g1 busybox traceroute6 -n -q 1 -w 2 -m 5 "$FAR6_ADDR" 2>&1 | sed -E 's/[0-9.]+ ms//g')"

	# Nothing unsolicited gets in, though ext routes the prefix to the host.
	out=$(in_ext busybox ping -6 -c 1 -W 1 "$A1" 2>&1)
	obs in.ping "rc=$? $(grep -o '[0-9]* packets received' <<<"$out")"
	obs in.tcp "$(outcome ext socat -T 2 - TCP6:["$A1"]:7100,connect-timeout=2 </dev/null)"
	[ "$ROUTED" = 0 ] && forwards6
	return 0
}

# IPv6 port forwards, TCP [UPLINK]:8080 -> [G1]:7200 and UDP 8081 -> 7201:
# ip6tables DNAT as an admin adds it next to libvirt's rules, or forward add.
# g1 answers with what it sees of the client; 8082 stays closed.
forwards6() {
	local p
	ext6_peer_script
	bg in_guest g1 socat TCP6-LISTEN:7200,reuseaddr,fork EXEC:"$WORK/peer6.sh"
	bg in_guest g1 socat UDP6-RECVFROM:7201,reuseaddr,fork EXEC:"$WORK/peer6.sh"
	wait_for 5 sh -c "ip netns exec ${T}g1 ss -ltn | grep -q :7200" || fail "$MODE: g1's forwarded service"
	for p in tcp:8080:7200 udp:8081:7201; do
		set -- ${p//:/ }
		if [ "$MODE" = kernel ]; then
			in_host ip6tables -t nat -A PREROUTING -i "$UPLINK" -p "$1" -d "$HOST6_ADDR" --dport "$2" \
				-j DNAT --to-destination "[$A1]:$3" &&
				in_host ip6tables -I FORWARD -o "$BR" -p "$1" -d "$A1" --dport "$3" -j ACCEPT
		else
			qnat forward add "$BR" "$1" "[$HOST6_ADDR]:$2" "[$A1]:$3" >/dev/null
		fi || fail "$MODE: the IPv6 forward $p"
	done
	obs fwd.tcp "$(outcome ext $TCP6 TCP6:["$HOST6_ADDR"]:8080,sourceport=10400 </dev/null)"
	obs fwd.udp "$(echo x | outcome ext $TCP6 UDP6:["$HOST6_ADDR"]:8081,sourceport=10401)"
	obs fwd.closed "$(outcome ext socat -T 2 - TCP6:["$HOST6_ADDR"]:8082,connect-timeout=2 </dev/null)"
}

# ICMPv6 errors (destination unreachable, packet too big, time exceeded,
# parameter problem) in capture CAP, one observation per sender, receiver
# and kind ("ext.icmp6_err.EXT_UPLINK_packet_too_big"): how many, the first.
obs_icmp6_errors() {
	cap_lines "$1" "icmp6 and ip6[40] >= 1 and ip6[40] <= 4" |
		sed -E 's/flowlabel 0x[0-9a-f]+/flowlabel/; s/, length [0-9]+.*//; s/ \[\|icmp6\]$//' |
		awk -v cap="$1" 'match($0, /\) [^ ]+ > [^ ]+: .*ICMP6, [^,]+/) {
			split(substr($0, RSTART + 2, RLENGTH - 2), w, " "); t = substr($0, index($0, "ICMP6, ") + 7); sub(/,.*/, "", t); sub(/ in-transit.*/, "", t)
			k = cap ".icmp6_err." w[1] "_" w[3] "_" t; sub(/:_/, "_", k); gsub(/ /, "_", k)
			if (!(k in n)) { first[k] = $0; keys[++nk] = k } n[k]++ }
			END { for (i = 1; i <= nk; i++) print keys[i] " " n[keys[i]] " " first[keys[i]] }' >>"$OBS"
}

captures() {
	obs ext.guest_sources "$(cap_count ext "ip6 and src net $MASQ6")"
	# (routed: which guests' own addresses ext saw)
	[ "$ROUTED" = 0 ] || obs ext.routed_sources "$(tcpdump -nn -r "$MW/ext.pcap" "ip6 and src net $SUBNET6" 2>/dev/null |
		awk '{ sub(/\.[0-9]+$/, "", $3); print $3 }' | norm | sort -u)"
	obs g1.got_in "$(cap_count g1 "ip6 and src host $EXT6_ADDR and (dst port 7100 or (icmp6 and ip6[40] = 128))")"
	# The echo identifier is kept, as MASQUERADE keeps it when free.
	obs ping.id "$([ "$(cap_read g1 "ip6 dst host $EXT6_ADDR and icmp6 and ip6[40] = 128" | grep -o 'request, id [0-9]*' | sort -u)" = \
		"$(cap_read ext "ip6 dst host $EXT6_ADDR and icmp6 and ip6[40] = 128" | grep -o 'request, id [0-9]*' | sort -u)" ] && echo kept || echo changed)"
	# The upload's SYN as ext sees it: hop limit, traffic class, window,
	# options (the guest's flow label is random per connection).
	obs ext.syn "$(cap_lines ext "ip6 and src port 10001 and ip6[6] = 6 and ip6[53] & 0x12 = 0x02" | head -1 |
		sed -E 's/flowlabel 0x[0-9a-f]+/flowlabel/')"
	# (not the host's own RST for the closed port 8082: its checksum is left to offload)
	obs ext.bad_checksums "$(cap_lines ext "ip6 and (src host $HOST6_ADDR or src net $SUBNET6) and not src port 8082" |
		grep -c incorrect)"
	obs g1.bad_checksums "$(cap_lines g1 "ip6 and not src host $GW6 and not src net fe80::/10" | grep -c incorrect)"
	obs_icmp6_errors g1
	obs_icmp6_errors ext
}

# Routed (--route6): ext sees the guests' own addresses and may reach them
# unsolicited, as libvirt's routed networks allow; no difference allowed.
section_routed() {
	ALLOW_K=() ALLOW_Q=() ALLOW_WHY=() EXPECT=()
	T0=${T0}r
	ROUTED=1
	SUBNET6=2001:db8:122::/64
	GW6=2001:db8:122::1
	DIFF_ATTACH="--route6 $SUBNET6"
	log "routed: --route6 $SUBNET6"
	expect slaac "G1 G2"
	expect tcp.peer "ok peer=G1 port=10001"
	expect udp.peer "ok peer=G1 port=10002"
	expect ping.out "rc=0 ttl=63 2 packets received"
	expect two.tcp.g2 "peer=G2 kept"
	expect two.udp.g2 "ok peer=G2 kept"
	expect pmtu.upload "rc=0 intact"
	expect pmtu.route "mtu 1280"
	expect traceroute ".* 1 GW 2 EXT 3 FAR"
	expect in.ping "rc=0 1 packets received"
	expect in.tcp "ok got-in"
	expect ping.id kept
	expect ext.guest_sources 0
	expect ext.routed_sources "G1 G2"
	expect g1.got_in "[1-9][0-9]*"
	diff_run
}

diff_run
section_routed
pass
