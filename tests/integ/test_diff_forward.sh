#!/bin/bash
# Differential test, port forwards: the same scenarios under the kernel
# (libvirt's rules plus the documented `iptables -t nat -A PREROUTING -p tcp
# -d HOSTADDR --dport P -j DNAT --to GUEST:GP` and a FORWARD accept for it)
# and under qnat-bpf (`forward add`), compared line by line (diff_lib.sh).
# From outside, TCP (1 MB each way), UDP and a port range reach g1, which
# sees the real client and its port; a forward to a closed guest port
# refuses (RST; ICMP port unreachable translated back); an unforwarded port
# stays closed; g2's own outbound flow from a forwarded port number; an open
# forwarded connection survives the removal of its forward, new ones are
# refused; SYN/SYN-ACK fields, checksums, ICMP errors as the ends see them.  The directions PREROUTING
# DNAT cannot serve (from the host itself to 127.0.0.1 and to the uplink
# address, hairpin from a guest by the uplink address) fail under the kernel
# and work under qnat-bpf: the allow-listed improvements, printed.
#
#   g1 192.168.122.10 eth0 ==veth== v-g1 ┐  (services: tcp 80-82 9000-9001 8090, udp 53)
#                                        virbr0 192.168.122.1 host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g2 192.168.122.11 eth0 ==veth== v-g2 ┘  [kernel: iptables DNAT | qnat: qnat-bpf]   (client)
#   forwards 198.51.100.1: tcp 8080->80 8081->81 8082->82 8085->85 (closed) 9000-9001, udp 5353->53 5354->54 (closed)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/diff_lib.sh"
need iptables

# Deliberate improvements.  PREROUTING sees neither the host's own
# connections (they go through OUTPUT) nor, usefully, a guest's: the DNATed
# SYN reaches g1 from g2's (or g1's own) address and the answer goes straight
# back over the bridge, never un-NATed (g2 even refuses the stray UDP answer
# with a port unreachable).  qnat-bpf forwards all of them, with the gateway
# as the caller so that answers come back through it.
why_host="PREROUTING DNAT does not see the host's own sockets; qnat's connect4/sendmsg4 hooks do"
why_pin="hairpin: the kernel's answer bypasses the DNAT; qnat SNATs the caller to the gateway"
allow host.lo.tcp refused "ok guest-80 GW" "$why_host"
allow host.uplink.tcp refused "ok guest-80 GW" "$why_host"
allow host.lo.udp refused "ok udp-x GW" "$why_host"
allow pin.g2.tcp "timeout|reset|refused" "ok guest-80 GW" "$why_pin"
allow pin.g2.udp "noreply|refused" "ok udp-pin GW" "$why_pin"
allow pin.g1self.tcp "timeout|reset|refused" "ok guest-82 GW" "$why_pin"
allow g1.icmp_err.G2_udp_port_eph_unreachable ".* G2 > G1: ICMP G2 udp port eph unreachable, .* G1.53 > G2.eph: .*" \
	"<missing>" "$why_pin"
# Deliberate, not PREROUTING's limit: qnat-bpf never hands a forwarded host
# port to a masqueraded flow (commit ecba570), so g2's outbound flow from
# port 8080 leaves from another port.  The kernel keeps 8080 (the tuple is
# unique), after which a packet from that server port to the forward belongs
# to g2's flow, not to the forward.
allow g2.out_from_fwd_port "ok UPLINK:same-port" "ok UPLINK:other-port" "SNAT keeps forwarded host ports free"

# What the kernel with libvirt's rules gives.
expect ext.tcp "ok guest-80 EXT"
expect ext.up "rc=0 peer=EXT intact"
expect ext.down "rc=0 intact"
expect ext.udp "ok udp-hello EXT"
expect ext.range "ok guest-9001 EXT"
expect ext.unforwarded refused
expect ext.closed_tcp refused
expect ext.closed_udp refused
expect g2.out_from_fwd_port "ok UPLINK:same-port"
expect long.after_del "two"
expect ext.tcp_after_del refused
expect ext.guest_sources 0
expect g1.unforwarded_seen 0
expect g1.from_ext_ports "80 81 82 85 9001"
expect fwd.client_port kept
expect ext.bad_checksums 0
expect g1.bad_checksums 0

head -c 1000000 /dev/urandom >"$WORK/blob"

scenarios() {
	local p
	fwd_rule add tcp 8080 80
	fwd_rule add tcp 8081 81
	fwd_rule add tcp 8082 82
	fwd_rule add tcp 9000-9001
	fwd_rule add udp 5353 53
	fwd_rule add tcp 8085 85
	fwd_rule add udp 5354 54

	# g1's services say who they are and who called; 81 takes a file, 82 gives one.
	for p in 80 9000 9001 8090; do
		bg in_guest g1 socat TCP-LISTEN:$p,bind="$G1",reuseaddr,fork SYSTEM:"echo \"guest-$p \$SOCAT_PEERADDR\"; cat"
	done
	bg in_guest g1 socat -u TCP-LISTEN:81,bind="$G1",reuseaddr \
		SYSTEM:"echo \"\$SOCAT_PEERADDR\" >$MW/up.peer; cat >$MW/up.out"
	bg in_guest g1 socat TCP-LISTEN:82,bind="$G1",reuseaddr,fork \
		SYSTEM:"echo \"guest-82 \$SOCAT_PEERADDR\"; if [ \"\$SOCAT_PEERADDR\" = $EXT_ADDR ]; then cat $WORK/blob; fi"
	bg in_guest g1 socat UDP-RECVFROM:53,bind="$G1",reuseaddr,fork SYSTEM:'read l; echo "udp-$l $SOCAT_PEERADDR"'
	# ext: who called, for g2's outbound flow.
	bg in_ext socat TCP-LISTEN:8083,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'echo "$SOCAT_PEERADDR:$SOCAT_PEERPORT"'
	wait_for 5 in_guest g1 socat -u /dev/null TCP:"$G1":80 || fail "$MODE: g1 services did not start"
	wait_for 5 in_ext socat -u /dev/null TCP:"$EXT_ADDR":8083 || fail "$MODE: ext service did not start"

	# From outside: g1 sees the real client; 1 MB each way.
	obs ext.tcp "$(outcome ext socat -t 3 - TCP:"$HOST_ADDR":8080 </dev/null)"
	in_ext timeout 8 socat -u OPEN:"$WORK/blob" TCP:"$HOST_ADDR":8081
	p=$?
	wait_for 5 cmp -s "$WORK/blob" "$MW/up.out"
	obs ext.up "rc=$p peer=$(cat "$MW/up.peer" 2>/dev/null) $(cmp -s "$WORK/blob" "$MW/up.out" && echo intact || echo differs)"
	in_ext timeout 8 socat -u TCP:"$HOST_ADDR":8082 OPEN:"$MW/down.out",creat,trunc
	p=$?
	obs ext.down "rc=$p $(tail -c +$(($(head -1 "$MW/down.out" | wc -c) + 1)) "$MW/down.out" | cmp -s - "$WORK/blob" && echo intact || echo differs)"
	obs ext.udp "$(echo hello | udp_ask ext "$HOST_ADDR" 5353)"
	obs ext.range "$(outcome ext socat -t 3 - TCP:"$HOST_ADDR":9001 </dev/null)"
	# Forwarded to a closed port of g1: its RST, its ICMP port unreachable
	# (translated back like any answer) refuse the client.
	obs ext.closed_tcp "$(outcome ext socat -u /dev/null TCP:"$HOST_ADDR":8085,connect-timeout=2)"
	obs ext.closed_udp "$(echo x | udp_ask ext "$HOST_ADDR" 5354 0 1.5)"
	obs ext.unforwarded "$(outcome ext socat -u /dev/null TCP:"$HOST_ADDR":8090,connect-timeout=2)"
	# g2's own flow from the forwarded port number (allow-listed above).
	obs g2.out_from_fwd_port "$(outcome g2 socat -t 3 - TCP:"$EXT_ADDR":8083,sourceport=8080 </dev/null |
		sed -E 's/:8080$/:same-port/; s/:[0-9]+$/:other-port/')"

	# The directions PREROUTING does not serve: the allow-listed improvements.
	obs host.lo.tcp "$(outcome host socat -t 3 - TCP:127.0.0.1:8080,connect-timeout=2 </dev/null)"
	obs host.uplink.tcp "$(outcome host socat -t 3 - TCP:"$HOST_ADDR":8080,connect-timeout=2 </dev/null)"
	obs host.lo.udp "$(echo x | udp_ask host "127.0.0.1" 5353)"
	obs pin.g2.tcp "$(outcome g2 socat -t 3 - TCP:"$HOST_ADDR":8080,connect-timeout=2 </dev/null)"
	obs pin.g2.udp "$(echo pin | udp_ask g2 "$HOST_ADDR" 5353 0 1.5)"
	obs pin.g1self.tcp "$(outcome g1 socat -t 3 - TCP:"$HOST_ADDR":8082,connect-timeout=2 </dev/null)"

	# An open forwarded connection outlives its forward; new ones are refused.
	coproc LONG { in_ext socat - TCP:"$HOST_ADDR":8080 2>/dev/null; }
	p=
	read -r -t 3 p <&"${LONG[0]}"
	obs long.greeting "$p"
	echo one >&"${LONG[1]}"
	p=
	read -r -t 3 p <&"${LONG[0]}"
	obs long.before_del "$p"
	fwd_rule del tcp 8080 80
	echo two >&"${LONG[1]}"
	p=
	read -r -t 3 p <&"${LONG[0]}"
	obs long.after_del "$p"
	obs ext.tcp_after_del "$(outcome ext socat -t 3 - TCP:"$HOST_ADDR":8080,connect-timeout=2 </dev/null)"
	exec {LONG[1]}>&-
	wait "$LONG_PID" 2>/dev/null
}

captures() {
	local e g
	obs ext.guest_sources "$(cap_count ext "src net $SUBNET")"
	obs g1.unforwarded_seen "$(cap_count g1 "tcp dst port 8090 and src host $EXT_ADDR")"
	# Which of g1's ports ext's connection attempts reached at all.
	obs g1.from_ext_ports "$(tcpdump -nn -r "$MW/g1.pcap" "src host $EXT_ADDR and tcp[tcpflags] = tcp-syn" 2>/dev/null |
		awk '{ sub(/.*> /, ""); sub(/:.*/, ""); print }' | sed -E 's/.*\.//' | sort -u | tr '\n' ' ')"
	# DNAT keeps the client's port; the SYN as g1 gets it and the SYN-ACK as
	# ext gets it come through the same (TTL, DF, window, options).
	e=$(tcpdump -nn -r "$MW/ext.pcap" "dst host $HOST_ADDR and dst port 8080 and tcp[tcpflags] = tcp-syn" 2>/dev/null |
		grep -o "$EXT_ADDR\.[0-9]*" | sort -u)
	g=$(tcpdump -nn -r "$MW/g1.pcap" "dst host $G1 and dst port 80 and tcp[tcpflags] = tcp-syn" 2>/dev/null |
		grep -o "$EXT_ADDR\.[0-9]*" | sort -u)
	# (ext also tried 8080 after the forward was removed: g1's set is a subset.)
	obs fwd.client_port "$([ -n "$g" ] && [ -z "$(comm -13 <(echo "$e") <(echo "$g"))" ] && echo kept || echo changed)"
	obs g1.fwd_syn "$(cap_lines g1 "src host $EXT_ADDR and dst port 80 and tcp[tcpflags] = tcp-syn" | head -1)"
	obs ext.fwd_synack "$(cap_lines ext "src port 8080 and tcp[tcpflags] = tcp-syn|tcp-ack" | head -1)"
	obs ext.fwd_udp_reply "$(cap_lines ext "src host $HOST_ADDR and udp src port 5353" | head -1 | sed -E 's/(sum ok\]).*/\1/')"
	# Checksums of what crossed the NAT (not the host's own packets).
	obs ext.bad_checksums "$(cap_lines ext "src host $HOST_ADDR and (src port 8080 or src port 8081 or src port 8082 or src port 9001 or src port 5353)" | grep -c incorrect)"
	obs g1.bad_checksums "$(cap_lines g1 "src host $EXT_ADDR" | grep -c incorrect)"
	obs_icmp_errors ext g1
}

diff_run
pass
