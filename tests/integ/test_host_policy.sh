#!/bin/bash
# What guests may reach on the host itself (issue 8): by default DHCP, DNS
# (UDP and TCP) and ping on the gateway; a host service on 0.0.0.0 is kept
# from guests by the gateway address, the uplink address and the subnet
# broadcast, each drop counted (drop_host).  The host's own connections to
# guests keep working (TCP, connected and unconnected UDP, ping), and so do
# forwards from the host and hairpin.  --host-allow tcp/PORT opens that port
# only; --host-allow all (here from a config file) is libvirt's behaviour.  IPv6 (fd00:122::/64 on the
# bridge and both guests): the same, over TCP.
#
#   g1 (DHCP)         ==veth== v-g1 ┐
#                                   virbr0 192.168.122.1 (dnsmasq) [qnat-bpf] host up0 198.51.100.1 ==veth== ext
#   g2 192.168.122.90 ==veth== v-g2 ┘  host: tcp 0.0.0.0:2222, udp 0.0.0.0:2223
#   g2: tcp 7100 and udp 7101 answer with the caller's address; IPv6: host tcp [::]:2224, g2 tcp 7102
. "$(dirname "$0")/lib.sh"
need jq
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "missing python3"
G2=192.168.122.90
H6=fd00:122::1
G2_6=fd00:122::90

counter() { qnat stats "$BR" --json | jq -e ".counters.$1.packets"; }
tcp_to() { in_guest g1 timeout 5 socat -T 2 - TCP:"$1":"$2",connect-timeout=2 </dev/null 2>/dev/null; }
tcp6_to() { in_guest g1 timeout 5 socat -T 2 - TCP6:"[$1]":"$2",connect-timeout=2 </dev/null 2>/dev/null; }
udp_to() { echo ping | in_guest g1 timeout 3 socat -T 1.5 - UDP:"$1":"$2" 2>/dev/null; }
# A DNS query over TCP (RFC 1035 4.2.2: length-prefixed): prints the answer's first address.
DNS_TCP='
import socket, struct, sys
name = b"".join(bytes([len(l)]) + l.encode() for l in sys.argv[2].split(".")) + b"\0"
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
s = socket.create_connection((sys.argv[1], 53), timeout=3)
s.sendall(struct.pack(">H", len(q)) + q)
r = s.recv(4096)[2:]
if struct.unpack(">H", r[6:8])[0] > 0:
    print(socket.inet_ntoa(r[-4:]))
'

topo_init
# The bridge is ours, so that a detach leaves it and its ports for the next attach.
in_host ip link add "$BR" type bridge || fail "bridge"
in_host ip link set "$BR" up
attach --host 52:54:00:aa:bb:99,192.168.122.99,fixedhost --forward tcp:8080:$G2:7100
guest_veth g1
guest_veth g2
guest_addr g2 "$G2"
in_host ip addr add "$H6/64" dev "$BR" nodad
ip -n "${T}g1" addr add fd00:122::10/64 dev eth0 nodad
ip -n "${T}g2" addr add "$G2_6/64" dev eth0 nodad
bg in_guest g2 socat TCP6-LISTEN:7102,bind="[$G2_6]",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
bg in_host socat TCP6-LISTEN:2224,ipv6only=1,reuseaddr,fork SYSTEM:"echo \$SOCAT_PEERADDR >>$WORK/reached; echo host-tcp6"
bg in_guest g2 socat TCP-LISTEN:7100,bind="$G2",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
bg in_guest g2 socat UDP-RECVFROM:7101,bind="$G2",reuseaddr,fork SYSTEM:'read l; echo $SOCAT_PEERADDR'
# Host services on every address: they note who reached them.
bg in_host socat TCP-LISTEN:2222,reuseaddr,fork SYSTEM:"echo \$SOCAT_PEERADDR >>$WORK/reached; echo host-tcp"
bg in_host socat UDP-RECVFROM:2223,reuseaddr,fork SYSTEM:"echo \$SOCAT_PEERADDR >>$WORK/reached; read l; echo host-udp"
wait_for 5 in_host sh -c "ss -Hltn 'sport = :2222' | grep -q ." || fail "host tcp service did not start"
wait_for 5 in_guest g2 socat -u /dev/null TCP:"$G2":7100 || fail "g2 service did not start"

# DHCP, DNS over UDP and TCP, and ping, on the gateway.
a1=$(guest_dhcp g1)
in_guest g1 busybox nslookup fixedhost "$GATEWAY" 2>&1 | grep -q 192.168.122.99 || fail "DNS over UDP on the gateway"
out=$(in_guest g1 "$PY" -c "$DNS_TCP" "$GATEWAY" fixedhost 2>&1)
[ "$out" = 192.168.122.99 ] || fail "DNS over TCP on the gateway: '$out'"
in_guest g1 busybox ping -c 1 -W 2 "$GATEWAY" >/dev/null || fail "the guest cannot ping the gateway"
in_guest g1 busybox ping -c 1 -W 2 "$HOST_ADDR" >/dev/null || fail "the guest cannot ping the uplink address"

# Other host services: dropped, counted, never reached.
drop0=$(counter drop_host)
for addr in "$GATEWAY" "$HOST_ADDR"; do
	out=$(tcp_to "$addr" 2222) && fail "g1 reached the host's tcp 2222 by $addr: '$out'"
	out=$(udp_to "$addr" 2223) && [ -n "$out" ] && fail "g1 reached the host's udp 2223 by $addr: '$out'"
done
echo ping | in_guest g1 socat -u - UDP-DATAGRAM:192.168.122.255:2223,broadcast
out=$(tcp6_to "$H6" 2224) && fail "g1 reached the host's tcp6 2224: '$out'"
sleep 0.3
drops=$(($(counter drop_host) - drop0))
[ "$drops" -ge 6 ] || fail "6 attempts on host services, drop_host counted $drops"
[ ! -s "$WORK/reached" ] || fail "host services were reached: $(cat "$WORK/reached")"
log "default: DHCP, DNS (udp+tcp), ping work; tcp/udp to the gateway, the uplink address, the broadcast, tcp6: drop_host +$drops"

# The host's own connections to guests, and forwards from the host and by hairpin.
hostcheck() {
	local out
	out=$(in_host timeout 5 socat -T 2 - TCP:"$G2":7100 </dev/null 2>/dev/null)
	[ "$out" = "$GATEWAY" ] || fail "$1: host -> g2 tcp: '$out'"
	out=$(echo x | in_host timeout 3 socat -T 2 - UDP:"$G2":7101 2>/dev/null)
	[ "$out" = "$GATEWAY" ] || fail "$1: host -> g2 udp (connected): '$out'"
	out=$(echo x | in_host timeout 3 socat -T 2 - UDP-DATAGRAM:"$G2":7101 2>/dev/null)
	[ "$out" = "$GATEWAY" ] || fail "$1: host -> g2 udp (unconnected): '$out'"
	in_host busybox ping -c 1 -W 2 "$G2" >/dev/null || fail "$1: the host cannot ping g2"
	out=$(in_host timeout 5 socat -T 2 - TCP6:"[$G2_6]":7102 </dev/null 2>/dev/null)
	[ "$out" = "[fd00:0122:0000:0000:0000:0000:0000:0001]" ] || fail "$1: host -> g2 tcp6: '$out'"
	out=$(in_host timeout 5 socat -T 2 - TCP:127.0.0.1:8080 </dev/null 2>/dev/null)
	[ "$out" = "$GATEWAY" ] || fail "$1: host -> 127.0.0.1:8080 (forward): '$out'"
	out=$(tcp_to "$HOST_ADDR" 8080)
	[ "$out" = "$GATEWAY" ] || fail "$1: hairpin g1 -> $HOST_ADDR:8080: '$out'"
}
hostcheck default
qnat status "$BR" | grep -q "host services open to guests: DHCP, DNS, ICMP$" || fail "status: host services line"
[ "$(qnat status "$BR" --json | jq -r '.[0].host_allow')" = "" ] || fail "status --json: host_allow"

# --host-allow tcp/2222: that port on every host address, nothing else.
qnat detach "$BR" || fail "detach"
attach --host 52:54:00:aa:bb:99,192.168.122.99,fixedhost --forward tcp:8080:$G2:7100 --host-allow tcp/2222,udp/5000-5001 --host-allow tcp/2224
out=$(tcp6_to "$H6" 2224)
[ "$out" = host-tcp6 ] || fail "--host-allow tcp/2224: g1 -> [$H6]:2224 got '$out'"
for addr in "$GATEWAY" "$HOST_ADDR"; do
	out=$(tcp_to "$addr" 2222)
	[ "$out" = host-tcp ] || fail "--host-allow tcp/2222: g1 -> $addr:2222 got '$out'"
done
drop0=$(counter drop_host)
out=$(udp_to "$GATEWAY" 2223) && [ -n "$out" ] && fail "--host-allow tcp/2222 let udp 2223 in"
[ "$(counter drop_host)" -gt "$drop0" ] || fail "udp 2223 with --host-allow tcp/2222: not counted"
qnat status "$BR" | grep -q "DHCP, DNS, ICMP, tcp/2222,udp/5000-5001,tcp/2224$" || fail "status: --host-allow not shown"
[ "$(qnat status "$BR" --json | jq -r '.[0].host_allow')" = tcp/2222,udp/5000-5001,tcp/2224 ] || fail "status --json: host_allow"
hostcheck "--host-allow tcp/2222"

# --host-allow all: libvirt's behaviour, every service (from a config file).
qnat detach "$BR" || fail "detach"
: >"$WORK/reached"
printf '# libvirt-like\nhost-allow all\n' >"$WORK/all.conf"
attach --config "$WORK/all.conf"
out=$(udp_to "$GATEWAY" 2223)
[ "$out" = host-udp ] || fail "--host-allow all: g1 -> udp 2223 got '$out'"
qnat status "$BR" | grep -q "all open to guests" || fail "status: --host-allow all not shown"
pass
