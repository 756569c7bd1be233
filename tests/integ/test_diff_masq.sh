#!/bin/bash
# Differential test, masquerade: the same scenarios under the kernel (bridge +
# libvirt's iptables rules: MASQUERADE, FORWARD accept/reject) and under
# qnat-bpf, with what the guests and the external host observe compared line
# by line (see diff_lib.sh).  Scenarios: TCP 1 MB up and down and UDP (small,
# and fragmented 3000-byte datagrams) from a guest, source port kept; 4000
# bytes with the first fragment last (fragsend), from g1 and from ext; two
# guests on the same source port to the same server at once; a host socket
# on the guest's source port (allow-listed); 200 short TCP connections from
# two guests in parallel batches; ping (TTL, identifier), traceroute, UDP/TCP
# to a closed port refused, and every ICMP error the guest and ext receive;
# nothing from outside reaches a guest, addressed directly (TCP, UDP, ping)
# or via a random port of the host; libvirt's exemptions (224.0.0.0/24 and
# 255.255.255.255 never masqueraded, guest to guest and guest to host keep
# the guest's address; host services are reached only under libvirt:
# allow-listed); the SYN and SYN-ACK as the far ends see them, valid
# checksums; no guest source address on the uplink.
#
#   g1 192.168.122.10 eth0 ==veth== v-g1 ┐
#                                        virbr0 192.168.122.1 host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g2 192.168.122.11 eth0 ==veth== v-g2 ┘  [kernel: iptables | qnat: qnat-bpf]      (route 192.168.122.0/24 via host)
#   captures for the whole mode: ext eth0, g1 eth0, g2 eth0
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/diff_lib.sh"
need iptables
FRAGSEND=${FRAGSEND:-$ROOT/build/fragsend}
[ -x "$FRAGSEND" ] || fail "$FRAGSEND not built (run make)"

# Deliberate differences.  qnat-bpf has no view of the host's own flows the
# way nf_conntrack has, so it never hands a guest's flow a port that a host
# socket holds (DESIGN.md, "Connection tracking"): a guest connecting from
# the port of a listening host socket leaves from another port, where
# MASQUERADE keeps it.  Everything else must be indistinguishable.
why="SNAT never reuses a port a host socket holds"
allow hostsock.tcp "ok UPLINK:same-port" "ok UPLINK:other-port" "$why"
allow hostsock.udp "ok UPLINK:same-port h" "ok UPLINK:other-port h" "$why"
# Packets from outside addressed straight to a guest are kept out by both:
# libvirt REJECTs them (the sender gets port unreachable from the uplink),
# qnat-bpf drops them silently (counted as drop_no_flow): nothing about the
# guests is given away, and no ICMP is sent for a stranger.
why="strangers addressed to a guest are dropped, not rejected"
allow in.tcp "refused" "timeout" "$why"
allow in.udp "refused" "noreply" "$why"
for k in G1_tcp_port_7000_unreachable G1_udp_port_7001_unreachable G1_protocol_1_id_unreachable \
	G1_protocol_1_port_eph_unreachable; do
	allow "ext.icmp_err.$k" ".*unreachable.*" "<missing>" "$why"
done
# libvirt lets guests reach every host service (its INPUT rules only add
# ACCEPTs for DNS and DHCP); qnat-bpf keeps other host services from guests
# unless --host-allow opens them (counted as drop_host; test_host_policy.sh).
why="guests reach only DHCP and DNS on the host unless --host-allow"
allow g2h.gateway "ok G1" "timeout" "$why"
allow g2h.uplink_addr "ok G1" "timeout" "$why"

# What libvirt's setup gives (the oracle must behave, or the harness is broken).
expect tcp_up.peer UPLINK:10001
expect tcp_up.bytes intact
expect tcp_down.bytes "rc=0 intact"
expect udp.small "ok UPLINK:10002 hello"
expect udp.big "UPLINK:10003 intact"
expect frag_rev "ok intact"
expect frag_rev.peer UPLINK:10700
expect frag_out_rev "UPLINK:10701 intact"
expect two.tcp.g1 "UPLINK:10100 echo:a echo:b"
expect two.tcp.g2 "UPLINK:other-port echo:a echo:b"
expect two.udp.g2 "ok UPLINK:other-port u2"
expect hostsock.tcp "ok UPLINK:same-port"
expect many.ok 200/200
expect many.sources "200 UPLINK"
expect many.distinct_tuples 200
expect ping.out "rc=0 ttl=63 2 packets received"
for k in closed.udp closed.tcp in.tcp in.udp in.host_tcp in.host_udp; do expect $k refused; done
for k in g2g.tcp g2g.udp g2h.gateway g2h.uplink_addr; do expect $k "ok G1"; done
for k in ext.guest_sources ext.mcast_bcast g1.got_in g1.got_in_host_port; do expect $k 0; done
expect g2.mcast_bcast 2
for k in ext.bad_checksums g1.bad_checksums g2.bad_checksums; do expect $k 0; done
expect ping.id kept
expect traceroute ".* 1 GW 2 EXT"

head -c 1000000 /dev/urandom >"$WORK/blob"
BIG=$(head -c 1500 /dev/urandom | od -An -tx1 | tr -d ' \n')   # 3000 characters
head -c 2000 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/fragdata"   # 4000
TCP="socat -t 3 -"
# ext's "who" service: the caller's address:port, then each line back as echo:LINE.
WHO_ECHO='
import asyncio, sys
async def serve(r, w):
    a, p = w.get_extra_info("peername")[:2]
    w.write(b"%s:%d\n" % (a.encode(), p))
    while (l := await r.readline()):
        w.write(b"echo:" + l)
    await w.drain()
    w.close()
async def main():
    s = await asyncio.start_server(serve, sys.argv[1], int(sys.argv[2]), backlog=1024, reuse_address=True)
    await s.serve_forever()
asyncio.run(main())
'
# MANY ADDR PORT N BATCH: N short connections to the who service, BATCH open
# at once; one line each: "ADDR:PORT echo:x" as the server saw it, or an error.
MANY='
import asyncio, sys
addr, port, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
async def one():
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), 5)
        w.write(b"x\n")
        w.write_eof()
        out = await asyncio.wait_for(r.read(), 5)
        w.close()
        return " ".join(out.decode().split())
    except Exception as e:
        return "error " + type(e).__name__
async def main():
    for b in range(0, n, batch):
        for line in await asyncio.gather(*(one() for _ in range(min(batch, n - b)))):
            print(line)
asyncio.run(main())
'

scenarios() {
	local out a b

	# Services.  ext: 8081 takes a file, 8082 gives one, 8083 tells the caller
	# who it is and echoes lines, UDP 5353 the same.
	bg in_ext socat -u TCP-LISTEN:8081,bind="$EXT_ADDR",reuseaddr \
		SYSTEM:"echo \"\$SOCAT_PEERADDR:\$SOCAT_PEERPORT\" >$MW/up.peer; cat >$MW/up.out"
	bg in_ext socat -u OPEN:"$WORK/blob" TCP-LISTEN:8082,bind="$EXT_ADDR",reuseaddr
	bg in_ext "$PY" -c "$WHO_ECHO" "$EXT_ADDR" 8083
	bg in_ext socat UDP-RECVFROM:5355,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'read l; sleep 0.3; echo late'
	bg in_ext socat UDP-RECVFROM:5353,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'read l; echo "$SOCAT_PEERADDR:$SOCAT_PEERPORT $l"'
	# g1: traps that answer if anything from outside gets in.
	bg in_guest g1 socat TCP-LISTEN:7000,reuseaddr,fork SYSTEM:'echo got-in'
	bg in_guest g1 socat UDP-RECVFROM:7001,reuseaddr,fork SYSTEM:'echo got-in'
	bg in_guest g1 socat TCP-LISTEN:7002,reuseaddr,fork SYSTEM:'echo got-in'
	bg in_guest g1 socat UDP-RECVFROM:7003,reuseaddr,fork SYSTEM:'echo got-in'
	# g2 and the host: who called.
	bg in_guest g2 socat TCP-LISTEN:7100,bind="$G2",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
	bg in_guest g2 socat UDP-RECVFROM:7101,bind="$G2",reuseaddr,fork SYSTEM:'read l; echo $SOCAT_PEERADDR'
	bg in_host socat TCP-LISTEN:7200,bind="$GATEWAY",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
	bg in_host socat TCP-LISTEN:7201,bind="$HOST_ADDR",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
	wait_for 5 in_ext socat -u /dev/null TCP:"$EXT_ADDR":8083 || fail "$MODE: ext services did not start"
	wait_for 5 in_host socat -u /dev/null TCP:"$HOST_ADDR":7201 || fail "$MODE: host services did not start"
	wait_for 5 in_guest g2 socat -u /dev/null TCP:"$G2":7100 || fail "$MODE: g2 service did not start"

	# TCP 1 MB each way from g1; the server sees the uplink address, port kept.
	in_guest g1 timeout 8 socat -u OPEN:"$WORK/blob" TCP:"$EXT_ADDR":8081,sourceport=10001
	obs tcp_up.client "rc=$?"
	wait_for 5 cmp -s "$WORK/blob" "$MW/up.out"
	obs tcp_up.peer "$(cat "$MW/up.peer" 2>/dev/null)"
	obs tcp_up.bytes "$(cmp -s "$WORK/blob" "$MW/up.out" && echo intact || echo "differs $(stat -c %s "$MW/up.out" 2>/dev/null)")"
	in_guest g1 timeout 8 socat -u TCP:"$EXT_ADDR":8082,sourceport=10004 OPEN:"$MW/down.out",creat,trunc
	obs tcp_down.bytes "rc=$? $(cmp -s "$WORK/blob" "$MW/down.out" && echo intact || echo "differs $(stat -c %s "$MW/down.out")")"

	# UDP: a small datagram, port kept; a 3000-byte one (fragments both ways).
	obs udp.small "$(echo hello | udp_ask g1 "$EXT_ADDR" 5353 10002)"
	out=$(echo "$BIG" | udp_ask g1 "$EXT_ADDR" 5353 10003)
	out=${out#ok }
	obs udp.big "${out%% *} $([ "${out#* }" = "$BIG" ] && echo intact || echo "differs ${#out}")"

	# ext answers 4000 bytes in fragments, the first one last: the kernel
	# reassembles them (nf_defrag), qnat-bpf stashes the early ones.
	# (sh -c: a background job's stdin would be /dev/null)
	bg in_ext sh -c "exec $FRAGSEND --order reverse --answer $EXT_ADDR:5360 <$WORK/fragdata >$MW/fragrev.peer"
	wait_for 5 sh -c "ip netns exec $NS_EXT ss -Hlun 'sport = :5360' | grep -q ." || fail "$MODE: fragsend did not start"
	out=$(echo hi | udp_ask g1 "$EXT_ADDR" 5360 10700)
	obs frag_rev "$([ "$out" = "ok $(cat "$WORK/fragdata")" ] && echo ok intact || echo "${out:0:7} ${#out}")"
	wait_for 5 test -s "$MW/fragrev.peer"
	obs frag_rev.peer "$(cat "$MW/fragrev.peer")"
	# And g1 sends ext 4000 bytes the same way.
	bg in_ext "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5361))
s.settimeout(8)
d, a = s.recvfrom(65535)
open(sys.argv[2], "wb").write(d)
print("%s:%d" % a)
' "$EXT_ADDR" "$MW/fragout.back" >"$MW/fragout.peer"
	wait_for 5 sh -c "ip netns exec $NS_EXT ss -Hlun 'sport = :5361' | grep -q ." || fail "$MODE: ext listener did not start"
	in_guest g1 "$FRAGSEND" --order reverse "$G1:10701" "$EXT_ADDR:5361" <"$WORK/fragdata"
	wait_for 5 test -s "$MW/fragout.peer"
	obs frag_out_rev "$(cat "$MW/fragout.peer") $(cmp -s "$WORK/fragdata" "$MW/fragout.back" && echo intact || echo differs)"

	# Two guests, one source port, one server, at the same time.
	( (echo a; sleep 1.5; echo b) | in_guest g1 $TCP TCP:"$EXT_ADDR":8083,sourceport=10100 >"$MW/two.g1" 2>&1) &
	a=$!
	wait_for 3 grep -q echo:a "$MW/two.g1"
	( (echo a; sleep 0.3; echo b) | in_guest g2 $TCP TCP:"$EXT_ADDR":8083,sourceport=10100 >"$MW/two.g2" 2>&1) &
	b=$!
	wait "$a" "$b"
	obs two.tcp.g1 "$(cat "$MW/two.g1")"
	obs two.tcp.g2 "$(sed -E '1s/:10100$/:same-port/; 1s/:[0-9]+$/:other-port/' "$MW/two.g2")"
	obs two.udp.g1 "$(echo u1 | udp_ask g1 "$EXT_ADDR" 5353 10200)"
	out=$(echo u2 | udp_ask g2 "$EXT_ADDR" 5353 10200)
	obs two.udp.g2 "$(sed -E 's/:10200 /:same-port /; s/:[0-9]+ /:other-port /' <<<"$out")"

	# A host socket listening on the port a guest connects from.
	bg in_host socat TCP-LISTEN:10500,reuseaddr,fork SYSTEM:'echo host'
	bg in_host socat UDP-RECVFROM:10501,reuseaddr,fork SYSTEM:'echo host'
	wait_for 5 in_host socat -u /dev/null TCP:127.0.0.1:10500
	obs hostsock.tcp "$(outcome g1 socat -t 3 - TCP:"$EXT_ADDR":8083,sourceport=10500 </dev/null |
		sed -E 's/:10500$/:same-port/; s/:[0-9]+$/:other-port/')"
	obs hostsock.udp "$(echo h | udp_ask g1 "$EXT_ADDR" 5353 10501 |
		sed -E 's/:10501 /:same-port /; s/:[0-9]+ /:other-port /')"

	# 200 short TCP connections: 100 from each guest, both at once, in
	# batches of 50 open together.
	in_guest g1 "$PY" -c "$MANY" "$EXT_ADDR" 8083 100 50 >"$MW/many.g1" &
	a=$!
	in_guest g2 "$PY" -c "$MANY" "$EXT_ADDR" 8083 100 50 >"$MW/many.g2" &
	b=$!
	wait "$a" "$b"
	obs many.ok "$(cat "$MW"/many.* | grep -c ' echo:x$')/200"
	obs many.sources "$(cut -d: -f1 "$MW"/many.* | sort | uniq -c)"
	obs many.distinct_tuples "$(cut -d' ' -f1 "$MW"/many.* | sort -u | wc -l)"

	# ICMP: ping out; closed ports refused (UDP by ICMP port unreachable).
	out=$(in_guest g1 busybox ping -c 2 -W 2 "$EXT_ADDR" 2>&1)
	obs ping.out "rc=$? $(grep -o 'ttl=[0-9]*' <<<"$out" | sort -u) $(grep -o '[0-9]* packets received' <<<"$out")"
	obs closed.udp "$(echo x | udp_ask g1 "$EXT_ADDR" 9 11000)"
	obs closed.tcp "$(outcome g1 socat -u /dev/null TCP:"$EXT_ADDR":9,connect-timeout=2)"
	# A late answer to a guest whose socket is gone: the guest's port
	# unreachable goes back out translated (seen in ext.icmp_err below).
	echo x | in_guest g1 socat -u - UDP:"$EXT_ADDR":5355,sourceport=10600
	sleep 0.8
	# Traceroute: the hops (their answers are in g1.icmp_err below).
	obs traceroute "$(in_guest g1 busybox traceroute -n -m 3 -w 1 -q 1 "$EXT_ADDR" 2>&1 | sed -E 's/[0-9.]+ ms//g')"

	# Nothing gets in: ext addresses g1 directly, or the host on a random port.
	obs in.tcp "$(outcome ext socat -u /dev/null TCP:"$G1":7000,connect-timeout=2)"
	obs in.udp "$(echo x | udp_ask ext "$G1" 7001 0 1.5)"
	out=$(in_ext busybox ping -c 1 -W 1 "$G1" 2>&1)
	obs in.ping "rc=$? $(grep -o '[0-9]* packets received' <<<"$out")"
	obs in.host_tcp "$(outcome ext socat -u /dev/null TCP:"$HOST_ADDR":7002,connect-timeout=2)"
	obs in.host_udp "$(echo x | udp_ask ext "$HOST_ADDR" 7003)"

	# libvirt's exemptions: multicast and broadcast stay on the bridge;
	# guest to guest and guest to host keep the guest's address (host
	# services: allow-listed above).
	echo mdns | in_guest g1 socat -u - UDP-DATAGRAM:224.0.0.251:5353
	echo bcast | in_guest g1 socat -u - UDP-DATAGRAM:255.255.255.255:9999,broadcast
	obs g2g.tcp "$(outcome g1 $TCP TCP:"$G2":7100 </dev/null)"
	obs g2g.udp "$(echo x | udp_ask g1 "$G2" 7101)"
	obs g2h.gateway "$(outcome g1 $TCP TCP:"$GATEWAY":7200 </dev/null)"
	obs g2h.uplink_addr "$(outcome g1 $TCP TCP:"$HOST_ADDR":7201 </dev/null)"
}

# What the captures saw, once they are stopped.
captures() {
	obs ext.echo_ttl "$(cap_read ext "src host $HOST_ADDR and icmp[icmptype] = icmp-echo" | grep -o 'ttl [0-9]*' | sort -u)"
	obs ext.guest_sources "$(cap_count ext "src net $SUBNET")"
	obs ext.mcast_bcast "$(cap_count ext "dst host 224.0.0.251 or dst host 255.255.255.255")"
	obs g2.mcast_bcast "$(cap_count g2 "src host $G1 and (dst host 224.0.0.251 or dst host 255.255.255.255)")"
	obs g1.got_in "$(cap_count g1 "src host $EXT_ADDR and (dst port 7000 or dst port 7001 or icmp[icmptype] = icmp-echo)")"
	obs g1.got_in_host_port "$(cap_count g1 "dst port 7002 or dst port 7003")"
	# The first SYN of the upload as ext sees it and the SYN-ACK as g1 sees
	# it: TTL, DF, TOS, window, options must come through the same.
	obs ext.syn "$(cap_lines ext "src port 10001 and tcp[tcpflags] = tcp-syn" | head -1)"
	obs g1.synack "$(cap_lines g1 "dst port 10001 and tcp[tcpflags] = tcp-syn|tcp-ack" | head -1)"
	# The echo identifier is kept, as MASQUERADE keeps it when free.
	obs ping.id "$([ "$(cap_read g1 "dst host $EXT_ADDR and icmp[icmptype] = icmp-echo" | grep -o 'request, id [0-9]*' | sort -u)" = \
		"$(cap_read ext "src host $HOST_ADDR and icmp[icmptype] = icmp-echo" | grep -o 'request, id [0-9]*' | sort -u)" ] && echo kept || echo changed)"
	# Checksums of what crossed the NAT (on the guests' side, the host's own
	# packets leave with partial checksums on a veth: not counted).
	obs ext.bad_checksums "$(cap_lines ext "src host $HOST_ADDR" | grep -c incorrect)"
	for cap in g1 g2; do
		obs "$cap.bad_checksums" "$(cap_lines "$cap" "not src host $GATEWAY and not src host $HOST_ADDR" | grep -c incorrect)"
	done
	obs_icmp_errors g1 ext
}

diff_run
pass
