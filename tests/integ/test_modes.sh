#!/bin/bash
# libvirt's forward modes (--mode, issue 13), one after the other on the same
# bridge and guests: what reaches out, what reaches in.
#   nat:      out as the uplink address; nothing in; host services kept from guests
#   route:    out with the guest's own address, in to any guest; host policy kept
#   open:     as route, and no policy of ours: host services reachable
#   isolated: no uplink and no default route needed; DHCP, DNS and the other
#             guest work, nothing goes out, nothing comes in
#
#   g1 (DHCP)         ==veth== v-g1 ┐
#                                   virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== ext
#   g2 192.168.122.90 ==veth== v-g2 ┘  host: tcp 0.0.0.0:2222      ext: tcp 7001 answers the caller's address
. "$(dirname "$0")/lib.sh"
need jq
G2=192.168.122.90
# route and open put guest addresses on the uplink: that is what they are for.
UPLINK_CAPTURE_KIND=routed

counter() { qnat stats "$BR" --json | jq -e ".counters.$1.packets"; }
# What the far end saw as our address, or nothing.
peer_of() { in_guest "$1" timeout 4 socat -T 2 - TCP:"$2":"$3",connect-timeout=2 </dev/null 2>/dev/null; }

topo_init
in_ext ip route add "$SUBNET" via "$HOST_ADDR"
in_host ip link add "$BR" type bridge || fail "bridge"
in_host ip link set "$BR" up
guest_veth g1
guest_veth g2
guest_addr g2 "$G2"
bg in_ext socat TCP-LISTEN:7001,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
bg in_guest g2 socat TCP-LISTEN:7100,bind="$G2",reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'
bg in_host socat TCP-LISTEN:2222,reuseaddr,fork SYSTEM:'echo host'
wait_for 5 in_ext socat -u /dev/null TCP:"$EXT_ADDR":7001 || fail "ext service did not start"
wait_for 5 in_guest g2 socat -u /dev/null TCP:"$G2":7100 || fail "g2 service did not start"
wait_for 5 in_host socat -u /dev/null TCP:127.0.0.1:2222 || fail "host service did not start"

# The mode's common part: a lease, DNS for a --host name, the other guest.
start() {
	qnat attach "$BR" --masq "$SUBNET" --mode "$1" --host 52:54:00:aa:bb:99,192.168.122.99,fixedhost ||
		fail "attach --mode $1"
	qnat status "$BR" --json | jq -e ".[0].mode == \"$1\"" >/dev/null || fail "status does not say mode $1"
	A1=$(guest_dhcp g1)
	in_guest g1 busybox nslookup fixedhost "$GATEWAY" 2>&1 | grep -q 192.168.122.99 || fail "$1: DNS on the gateway"
	in_guest g1 busybox ping -c 1 -W 2 "$G2" >/dev/null || fail "$1: g1 cannot ping g2"
}

start nat
[ "$(peer_of g1 "$EXT_ADDR" 7001)" = "$HOST_ADDR" ] || fail "nat: g1 does not leave as $HOST_ADDR"
peer_of g1 "$GATEWAY" 2222 && fail "nat: g1 reached a host service"
out=$(in_ext timeout 4 socat -T 2 - TCP:"$G2":7100,connect-timeout=2 </dev/null 2>/dev/null) &&
	fail "nat: ext reached g2 directly: '$out'"
qnat detach "$BR" || fail "detach nat"
log "nat: out as $HOST_ADDR, nothing in, host services closed"

start route
[ "$(peer_of g1 "$EXT_ADDR" 7001)" = "$A1" ] || fail "route: g1 does not leave as itself ($A1)"
fast=$(counter snat_fast)
[ "$(in_ext timeout 4 socat -T 2 - TCP:"$G2":7100,connect-timeout=2 </dev/null)" = "$EXT_ADDR" ] ||
	fail "route: ext does not reach g2 untranslated"
[ "$fast" -gt 0 ] || fail "route: not forwarded on the fast path (snat_fast $fast)"
peer_of g1 "$GATEWAY" 2222 && fail "route: g1 reached a host service"
[ "$(qnat ct count "$BR")" = 0 ] || fail "route: flows were tracked"
qnat detach "$BR" || fail "detach route"
log "route: out and in untranslated (fast path: $fast packets), host services closed"

start open
[ "$(peer_of g1 "$EXT_ADDR" 7001)" = "$A1" ] || fail "open: g1 does not leave as itself ($A1)"
[ "$(in_ext timeout 4 socat -T 2 - TCP:"$G2":7100,connect-timeout=2 </dev/null)" = "$EXT_ADDR" ] ||
	fail "open: ext does not reach g2"
[ "$(peer_of g1 "$GATEWAY" 2222)" = host ] || fail "open: g1 cannot reach the host service: a policy of ours"
qnat detach "$BR" || fail "detach open"
log "open: out and in untranslated, host services open"

# Isolated needs neither an uplink nor a default route.
in_host ip route del default
qnat attach "$BR" --masq "$SUBNET" --mode isolated --uplink "$UPLINK" 2>"$WORK/err" &&
	fail "isolated took --uplink"
grep -q "takes no --uplink" "$WORK/err" || fail "isolated --uplink: $(cat "$WORK/err")"
in_host ip route add default via "$EXT_ADDR"
in_host ip route del default
start isolated
in_host ip route add default via "$EXT_ADDR" # as if the host got one later: still nothing leaves
# libvirt's dhcp-option=3: no router in the lease; a guest that sets one itself gets no further.
[ -z "$(ip -n "${T}g1" route show default)" ] || fail "isolated: the lease gave a default route"
ip -n "${T}g1" route add default via "$GATEWAY"
leak=$(counter drop_leak)
peer_of g1 "$EXT_ADDR" 7001 && fail "isolated: g1 reached ext"
peer_of g1 "$HOST_ADDR" 2222 && fail "isolated: g1 reached the host beyond the network"
out=$(in_ext timeout 4 socat -T 2 - TCP:"$G2":7100,connect-timeout=2 </dev/null 2>/dev/null) &&
	fail "isolated: ext reached g2: '$out'"
[ "$(counter drop_leak)" -gt "$leak" ] || fail "isolated: nothing counted as kept in"
qnat status "$BR" >/dev/null || fail "isolated: status"
qnat detach "$BR" || fail "detach isolated"
[ -z "$(in_host tc filter show dev "$BR" ingress)" ] || fail "isolated: detach left programs on $BR"
log "isolated: DHCP, DNS and g2 reached without an uplink; nothing out, nothing in"
pass
