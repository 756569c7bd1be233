#!/bin/bash
# detach leaves nothing: after attach, guests on a veth and a TAP port, DHCP
# leases, pings and TCP (so conntrack, leases, XDP and tc programs all exist),
# detach puts the host namespace back exactly as it was before attach: the
# same links, addresses, routes, qdiscs and tc filters, forwarding sysctls,
# no qnat-bpf/dnsmasq process in the namespace, no /run/qnat-bpf/ns<inode>,
# no program of ours left in `bpftool net show`, and none of the socket
# hooks it hung on the (shared) cgroup2 root.
#  (a) virbr0 did not exist: attach creates it (XDP native), detach deletes
#      it; the ports that joined it stay, released, without clsact/filters.
#  (b) virbr0 existed, down, with the ports enslaved and no address: attach
#      adds 192.168.122.1/24 and brings it up (XDP generic); detach takes
#      back only that, and keeps the bridge and its ports.
#  (c) as (b), but the uplink is deleted before detach: detach still takes
#      back the rest, including the socket hooks on the cgroup root.
#
#   g1 eth0 ==veth== v-g1 ┐
#                         virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g2 eth0 (tap) <- taprelay -> t-g2 ┘
. "$(dirname "$0")/lib.sh"
need bpftool tc jq findmnt

OUR_PROGS='tc_port_in|tc_uplink_in|tc_uplink_out|xdp_uplink_in'

# Every forwarding sysctl of the host namespace to 0, so a change shows
# (globbed inside the namespace: its own interfaces).
fwd_off() {
	in_host sh -c 'for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding; do
		echo 0 >$f || exit 1; done' || fail "cannot zero forwarding"
	in_host sh -c 'cat /proc/sys/net/ipv4/conf/*/forwarding' | grep -qvx 0 && fail "forwarding is not 0"
	return 0
}

# Our programs attached anywhere in the host namespace: tc (bpftool net
# show names them) and XDP (bpftool shows only an id there; ip -d names it).
our_progs() {
	in_host bpftool net show | grep -oE "$OUR_PROGS"
	in_host ip -d link show | grep -oE "prog/xdp[a-z]* id [0-9]+ name [a-z_]+" | awk '{ print $NF }'
}

fwd_of() { in_host cat "/proc/sys/net/ipv4/conf/$1/forwarding"; }

# The socket hooks (host-local forwards) this attach hung on the cgroup2
# root, which every namespace shares: the sock_* programs there that use a
# map of our uplink program.  Prints their ids.
CG2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
our_sock_hooks() {
	local up maps id
	[ -n "$CG2" ] || return 0
	up=$(in_host bpftool net show -j | jq -r '.[0].tc[] | select(.name | startswith("tc_uplink_in")) | .id')
	[ -n "$up" ] || return 0
	maps=$(bpftool prog show id "$up" -j | jq -c .map_ids)
	for id in $(bpftool cgroup show "$CG2" -j | jq -r '.[] | select(.name | startswith("sock_")) | .id'); do
		bpftool prog show id "$id" -j 2>/dev/null |
			jq -e --argjson m "$maps" '[.map_ids[] | select(. as $x | $m | index($x))] | length > 0' >/dev/null &&
			echo "$id"
	done
}

# Leases, pings and TCP from both guests; checks that what detach must take
# back really exists now.
traffic_and_check() {
	local a1 a2 out n dir
	dir=/run/qnat-bpf/ns$(ns_inode "$NS_HOST")/$BR
	a1=$(guest_dhcp g1) || exit 1
	a2=$(guest_dhcp g2) || exit 1
	log "leases: g1=$a1 g2=$a2"
	for g in g1 g2; do
		in_guest $g busybox ping -c 2 -W 2 "$EXT_ADDR" >/dev/null || fail "$g cannot ping the outside"
		out=$(echo "hi-$g" | in_guest $g socat -t 2 - TCP:"$EXT_ADDR":8080) || fail "$g tcp failed"
		[ "$out" = "echo:hi-$g" ] || fail "$g tcp answer '$out'"
	done
	n=$(qnat ct count "$BR")
	[ "${n:-0}" -ge 4 ] || fail "expected >= 4 flows (2 pings, 2 tcp), ct count says '$n'"
	[ "$(grep -c . "$dir/leases" 2>/dev/null)" -ge 2 ] || fail "dnsmasq recorded no leases in $dir/leases"
	out=$(our_progs)
	for p in ${OUR_PROGS//|/ }; do
		echo "$out" | grep -qx "$p" || fail "program $p is not attached while attached"
	done
	[ "$(fwd_of "$BR")" = 1 ] && [ "$(fwd_of "$UPLINK")" = 1 ] || fail "attach did not enable forwarding"
	out=$(ns_procs "$NS_HOST")
	echo "$out" | grep -q '^qnat-bpf ' || fail "no supervisor in the host namespace"
	echo "$out" | grep -q '^dnsmasq ' || fail "no dnsmasq in the host namespace"
	HOOKS=$(our_sock_hooks)
	[ -z "$CG2" ] || [ "$(echo "$HOOKS" | grep -c .)" = 3 ] || fail "expected 3 socket hooks on $CG2, found '$HOOKS'"
}

# Detach, then compare with the snapshot taken before attach.
detach_and_compare() {
	local before=$1 after
	qnat detach "$BR" || fail "detach failed"
	after=$(ns_snapshot)
	if [ "$before" != "$after" ]; then
		diff -u <(echo "$before") <(echo "$after") >&2
		fail "the host namespace differs after detach (- before attach, + after detach)"
	fi
	# Said again, for a clear message (the diff covers them too).
	[ -z "$(our_progs)" ] || fail "still attached after detach: $(our_progs | tr '\n' ' ')"
	# Nothing at all was attached before: bpftool lists only its headings.
	in_host bpftool net show | grep -vE '^(xdp:|tc:|flow_dissector:|)$' >&2 &&
		fail "bpftool net show lists programs after detach"
	# (bpftool prints nothing at all for a cgroup without programs.)
	for id in $HOOKS; do
		bpftool cgroup show "$CG2" -j | jq -r '.[].id' | grep -qx "$id" &&
			fail "socket hook $id is still on $CG2 after detach"
	done
	[ -z "$(ns_procs "$NS_HOST")" ] || fail "processes left after detach: $(ns_procs "$NS_HOST" | tr '\n' ' ')"
	[ ! -e "/run/qnat-bpf/ns$(ns_inode "$NS_HOST")" ] || fail "state directory left after detach"
	[ "$(fwd_of "$UPLINK")" = 0 ] || fail "uplink forwarding not restored to 0"
	for p in v-g1 t-g2; do
		in_host tc qdisc show dev $p | grep -q clsact && fail "clsact left on port $p"
	done
	return 0
}

topo_init
# No IPv6 DAD in the host: ns_snapshot would wait for it at every port change.
for c in all default "$UPLINK"; do in_host sysctl -qw "net.ipv6.conf.$c.accept_dad=0"; done
ext_tcp_echo 8080

log "(a) attach creates the bridge"
# The ports exist before attach (made on a scratch bridge, then released),
# so they are in both snapshots; they join virbr0 once attach created it.
in_host ip link add tmpbr type bridge || fail "scratch bridge"
BR=tmpbr guest_veth g1
BR=tmpbr guest_tap g2
in_host ip link set v-g1 nomaster
in_host ip link set t-g2 nomaster
in_host ip link del tmpbr
fwd_off
in_host ip link show "$BR" >/dev/null 2>&1 && fail "$BR exists before attach"
before=$(ns_snapshot)
# What a dead namespace with this one's inode left (inodes are reused at
# once): another cookie, another bridge.  It must not outlive our detach.
stale=/run/qnat-bpf/ns$(ns_inode "$NS_HOST")
mkdir -p "$stale/deadbr" && echo 1 >"$stale/netns-cookie" && touch "$stale/deadbr/state" ||
	fail "cannot plant a dead namespace's state"
attach --xdp native
[ ! -e "$stale/deadbr" ] || fail "a dead namespace's state under $stale was not reclaimed"
in_host ip link show "$UPLINK" | grep -q "xdp" || fail "no XDP on the uplink with --xdp native"
in_host ip link set v-g1 master "$BR" || fail "enslave v-g1"
in_host ip link set t-g2 master "$BR" || fail "enslave t-g2"
# The supervisor attaches to new ports on the netlink event.
wait_for 5 sh -c "ip netns exec $NS_HOST bpftool net show | grep -c tc_port_in | grep -qx 2" ||
	fail "the supervisor did not attach to the new ports"
traffic_and_check
detach_and_compare "$before"
in_host ip link show "$BR" >/dev/null 2>&1 && fail "the bridge attach created is still there"
in_host ip link show v-g1 >/dev/null 2>&1 && in_host ip link show t-g2 >/dev/null 2>&1 ||
	fail "detach deleted a port of the bridge"

log "(b) the bridge exists, down, with its ports"
in_host ip link add "$BR" type bridge || fail "create $BR"
# Up once and down again, like a bridge taken out of use (a never-up device
# has the noop qdisc; the first up gives it noqueue for good).
in_host ip link set "$BR" up
in_host ip link set "$BR" down
in_host ip link set v-g1 master "$BR" || fail "enslave v-g1"
in_host ip link set t-g2 master "$BR" || fail "enslave t-g2"
fwd_off
before=$(ns_snapshot)
attach --xdp generic
in_host ip link show "$UPLINK" | grep -q "xdpgeneric" || fail "no generic XDP on the uplink with --xdp generic"
in_host ip -4 addr show dev "$BR" | grep -q "inet $GATEWAY/24" || fail "attach did not add $GATEWAY/24"
traffic_and_check
detach_and_compare "$before"
in_host ip link show "$BR" >/dev/null 2>&1 || fail "detach deleted a bridge it did not create"
[ "$(in_host ip -o link show master "$BR" | wc -l)" = 2 ] || fail "the bridge lost its ports"
in_host ip -4 addr show dev "$BR" | grep -q inet && fail "an IPv4 address is left on $BR"

log "(c) the uplink is gone before detach"
attach --xdp generic
traffic_and_check
in_host ip link del "$UPLINK" || fail "cannot delete the uplink"
qnat detach "$BR" || fail "detach without an uplink failed"
for id in $HOOKS; do
	bpftool cgroup show "$CG2" -j | jq -r '.[].id' | grep -qx "$id" &&
		fail "socket hook $id is still on $CG2 after detach without an uplink"
done
[ -z "$(ns_procs "$NS_HOST")" ] || fail "processes left after detach: $(ns_procs "$NS_HOST" | tr '\n' ' ')"
[ ! -e "/run/qnat-bpf/ns$(ns_inode "$NS_HOST")" ] || fail "state directory left after detach"
in_host ip link show "$BR" | grep -q ",UP" && fail "$BR left up"
in_host ip -4 addr show dev "$BR" | grep -q inet && fail "an IPv4 address is left on $BR"
[ "$(fwd_of "$BR")" = 0 ] || fail "bridge forwarding not restored to 0"
in_host tc filter show dev v-g1 ingress | grep -q tc_port_in && fail "tc_port_in left on v-g1"
pass
