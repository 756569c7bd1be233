#!/bin/bash
# xdp_port_in on TAP ports: attached natively to each TAP by default (ports
# the supervisor takes over), guest-to-guest frames between TAPs
# really take it (l2_port_xdp counts them) and arrive; ping to the outside
# still works.  The uplink here is a veth: known flows go on through TC
# (snat_fast) until the outside end runs native XDP, and then leave from XDP
# (snat_xdp), pings and a TCP upload alike, to the next hop's new MAC as soon
# as it changes, and through TC again once it stops.  IPv6 (--masq6) the
# same: a known NAT66 flow's pings and datagrams leave from XDP (snat6_xdp),
# from the host's IPv6 address, and their replies come back.  Detach takes
# the program off every TAP; --port-xdp off never puts it there.
#
#   g1 eth0 (tap) <-taprelay-> t-g1 ┐
#   g2 eth0 (tap) <-taprelay-> t-g2 ┴ virbr0 192.168.122.1 [qnat-bpf] host up0 ==veth== ext
. "$(dirname "$0")/lib.sh"
need jq

counter() { qnat stats "$BR" --json | jq -e ".counters.$1.$2"; }
has_xdp() { in_host ip -d link show "$1" | grep -q "prog/xdp"; }
port_listed() { qnat status "$BR" --json | jq -e --arg n "$1" '.[0].ports | any(.name == $n and .kind == "tap")'; }
xmit_is() { qnat status "$BR" --json | jq -e ".[0].uplink_xdp_xmit == $1" >/dev/null; }
# An upload through the NAT: ext hashes what arrives and sends the hash back.
upload_ok() {
	local sum
	head -c 300000 /dev/urandom >"$WORK/upload"
	sum=$(in_guest g1 socat -t 10 -T 10 - TCP:"$EXT_ADDR:5001" <"$WORK/upload") || return 1
	[ "${sum%% *}" = "$(md5sum <"$WORK/upload" | cut -d' ' -f1)" ]
}
xdp_prog_named() { in_host ip -d -j link show "$1" | jq -e '.[0].xdp.prog.name == "xdp_port_in"'; }

topo_init
topo_ip6
attach --masq6 "$SUBNET6"
guest_tap g1 # the supervisor attaches the TAPs as they join
guest_tap g2
wait_for 5 port_listed t-g2 || fail "t-g2 not taken over"
for t in t-g1 t-g2; do
	wait_for 5 has_xdp "$t" || { in_host ip -d link show "$t" >&2; fail "no XDP program on $t"; }
done
xdp_prog_named t-g1 >/dev/null || { in_host ip -d -j link show t-g1 >&2; fail "t-g1's XDP program is not xdp_port_in"; }
a6=$(guest_slaac g1 "$SUBNET6") # first: its eth0 down and up would take DHCP's default route
a1=$(guest_dhcp g1)
a2=$(guest_dhcp g2)
log "leases: g1=$a1 g2=$a2; SLAAC: g1=$a6"

in_guest g1 busybox ping -c 2 -W 2 "$a2" >/dev/null || fail "g1 cannot ping g2" # the FDB learns both
x0=$(counter l2_port_xdp packets) || fail "no l2_port_xdp counter"
in_guest g1 busybox ping -c 5 -W 2 "$a2" >/dev/null || fail "g1 cannot ping g2 a second time"
x1=$(counter l2_port_xdp packets)
[ $((x1 - x0)) -ge 5 ] || fail "l2_port_xdp grew by $((x1 - x0)) only: guest-to-guest frames did not take XDP"
s0=$(counter snat_fast packets)
in_guest g1 busybox ping -c 3 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot ping ext"
s1=$(counter snat_fast packets)
[ $((s1 - s0)) -ge 3 ] || fail "snat_fast grew by $((s1 - s0)) only: the flow out did not reach TC"
xmit_is false || fail "status says XDP sends to a veth uplink whose peer runs no XDP"

# The outside end takes XDP frames now: the supervisor notices within its 2 s pass.
[ -f "$XDP_PASS_OBJ" ] || fail "$XDP_PASS_OBJ not built"
in_ext ip link set eth0 xdpdrv obj "$XDP_PASS_OBJ" sec xdp || fail "cannot put XDP on ext's eth0"
wait_for 6 xmit_is true || fail "status does not say XDP sends to the uplink, whose peer runs XDP"
bg in_ext socat TCP-LISTEN:5001,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:md5sum
x0=$(counter snat_xdp packets)
in_guest g1 busybox ping -c 3 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot ping ext through XDP"
x1=$(counter snat_xdp packets)
[ $((x1 - x0)) -ge 2 ] || fail "snat_xdp grew by $((x1 - x0)) only: pings did not leave from XDP"
wait_for 5 upload_ok || fail "a 300 kB upload through XDP arrived damaged or not at all"
x2=$(counter snat_xdp packets)
[ $((x2 - x1)) -ge 50 ] || fail "snat_xdp grew by $((x2 - x1)) in a 300 kB upload: TCP did not leave from XDP"
# A next hop that changes its MAC: a flow's cached one goes with the neighbour event.
ext_udp_echo 5002
udp_once() { in_guest g1 socat -T 2 - UDP:"$EXT_ADDR:5002",sourceport=40000,reuseaddr <<<"$1"; }
[ "$(udp_once a)" = echo:a ] && [ "$(udp_once b)" = echo:b ] || fail "no UDP echo through XDP"
in_ext ip link set eth0 address 02:00:00:00:77:77
in_host ip neigh replace "$EXT_ADDR" lladdr 02:00:00:00:77:77 dev "$UPLINK"
x0=$(counter snat_xdp packets)
[ "$(udp_once c)" = echo:c ] || fail "no UDP echo once ext's MAC changed: XDP kept the flow's old next hop"
x1=$(counter snat_xdp packets)
[ $((x1 - x0)) -ge 1 ] || fail "the datagram after the MAC change did not leave from XDP"
# IPv6: the first packet of a flow opens it in TC, the next leave from XDP.
in_guest g1 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" >/dev/null || fail "g1 cannot ping6 ext"
y0=$(counter snat6_xdp packets) || fail "no snat6_xdp counter"
in_guest g1 busybox ping -6 -c 5 -W 2 "$EXT6_ADDR" >/dev/null || fail "g1 cannot ping6 ext through XDP"
y1=$(counter snat6_xdp packets)
[ $((y1 - y0)) -ge 4 ] || fail "snat6_xdp grew by $((y1 - y0)) only: IPv6 pings did not leave from XDP"
ext6_peer_udp 7011
udp6_once() { echo "$1" | in_guest g1 socat -T 3 - UDP6:["$EXT6_ADDR"]:7011,sourceport=40011,reuseaddr; }
host6=$(ip6_full "$HOST6_ADDR")
u=$(udp6_once a) || fail "no UDP answer over IPv6"
[ "$u" = "peer=$host6 port=40011" ] || fail "ext saw g1's first datagram as '$u', not the uplink's address and port 40011"
y0=$(counter snat6_xdp packets)
for d in b c d; do
	u=$(udp6_once "$d") || fail "no UDP answer over IPv6 through XDP"
	[ "$u" = "peer=$host6 port=40011" ] || fail "ext saw g1's datagram through XDP as '$u'"
done
y1=$(counter snat6_xdp packets)
[ $((y1 - y0)) -ge 3 ] || fail "snat6_xdp grew by $((y1 - y0)) in 3 datagrams: UDP over IPv6 did not leave from XDP"
qnat ct show "$BR" --family ipv6 --proto udp | grep -q "src=$a6 dst=$EXT6_ADDR sport=40011 dport=7011" ||
	fail "ct show: g1's UDP flow: $(qnat ct show "$BR" --family ipv6)"

in_ext ip link set eth0 xdpdrv off
wait_for 6 xmit_is false || fail "status still says XDP sends to the uplink, whose peer stopped XDP"
s0=$(counter snat_fast packets)
in_guest g1 busybox ping -c 3 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot ping ext once the peer stops XDP"
s1=$(counter snat_fast packets)
[ $((s1 - s0)) -ge 3 ] || fail "snat_fast grew by $((s1 - s0)) only: flows did not go back to TC"

qnat detach "$BR" || fail "detach failed"
for t in t-g1 t-g2; do
	! has_xdp "$t" || fail "XDP program left on $t after detach"
done

attach --port-xdp off
for t in t-g1 t-g2; do # detach removed the bridge it had made
	ip -n "$NS_HOST" link set "$t" master "$BR" up || fail "enslave $t again"
done
wait_for 5 port_listed t-g1 || fail "t-g1 not attached again"
wait_for 5 port_listed t-g2 || fail "t-g2 not attached again"
for t in t-g1 t-g2; do
	! has_xdp "$t" || fail "--port-xdp off, yet XDP on $t"
done
in_guest g1 busybox ping -c 2 -W 2 "$a2" >/dev/null || fail "g1 cannot ping g2 with --port-xdp off"
pass
