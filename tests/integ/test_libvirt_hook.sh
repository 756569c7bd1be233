#!/bin/bash
# dist/libvirt-hook (issue 13), run exactly as libvirtd runs a network hook:
# "NETNAME started begin -" / "NETNAME stopped end -" with <hookData> on stdin.
# libvirt's part is played here: the bridge and its address.  A network with
# <forward mode='open'/> gets qnat-bpf attached (masquerading, DHCP left to
# libvirt) and detached again, the bridge left to libvirt; a NAT network
# (libvirt's own iptables) is left alone.  A second open network (a lab
# network, virbr1) shares the uplink, and outlives the first.
. "$(dirname "$0")/lib.sh"
need xmllint
FIX=$ROOT/tests/libvirt
HOOK=$WORK/network
G1=192.168.122.50

# As make install writes it, pointing at this build.
sed "s|@SBINDIR@|$(dirname "$QNAT")|g" "$ROOT/dist/libvirt-hook" >"$HOOK"
chmod +x "$HOOK"
hook() { in_host "$HOOK" "$@"; }

topo_init
in_host ip link add "$BR" type bridge || fail "bridge"
in_host ip addr add "$GATEWAY/24" dev "$BR"
in_host ip link set "$BR" up
guest_veth g1
guest_addr g1 "$G1"
ext_tcp_echo 7000

# libvirt's own NAT network, and the other operations: nothing for us.
{ echo "<hookData>"; cat "$FIX/default.xml"; echo "</hookData>"; } | hook default started begin - ||
	fail "the hook failed on a NAT network"
hook fast start begin - <"$FIX/open.xml" || fail "the hook failed on 'start'"
! qnat status "$BR" >/dev/null 2>&1 || fail "the hook attached where it should not"

hook fast started begin - <"$FIX/open.xml" || fail "the hook failed on 'started'"
qnat status "$BR" --json | jq -e '.[0].mode == "nat" and .[0].dhcp.enabled == false' >/dev/null ||
	fail "status after the hook: $(qnat status "$BR")"
out=$(echo hi | in_guest g1 timeout 5 socat -T 2 - TCP:"$EXT_ADDR":7000)
[ "$out" = echo:hi ] || fail "the guest does not get out: '$out'"
[ "$(qnat ct count "$BR")" -ge 1 ] || fail "the guest's flow is not qnat-bpf's"
# libvirtd may run it again (a restart): nothing changes.
hook fast started begin - <"$FIX/open.xml" || fail "the hook failed on a second 'started'"

# A lab network beside it: the same uplink, one data plane.
sed 's/<name>fast</<name>lab</; s/virbr0/virbr1/; s/192\.168\.122\./192.168.100./g' "$FIX/open.xml" >"$WORK/lab.xml"
in_host ip link add virbr1 type bridge || fail "bridge virbr1"
in_host ip addr add 192.168.100.1/24 dev virbr1
in_host ip link set virbr1 up
netns_add "${T}g2"
ip link add v-g2 netns "$NS_HOST" type veth peer name eth0 netns "${T}g2" || fail "veth for g2"
ip -n "${T}g2" link set eth0 up
csum_full "${T}g2" eth0
ip -n "$NS_HOST" link set v-g2 master virbr1 up
ip -n "${T}g2" addr add 192.168.100.50/24 dev eth0
ip -n "${T}g2" route add default via 192.168.100.1
hook lab started begin - <"$WORK/lab.xml" || fail "the hook failed on the lab network"
qnat status virbr1 --json | jq -e '.[0].uplink_shared_with == "virbr0"' >/dev/null ||
	fail "the lab network does not share the uplink: $(qnat status virbr1)"
for g in g1 g2; do
	out=$(echo hi | in_guest "$g" timeout 5 socat -T 2 - TCP:"$EXT_ADDR":7000)
	[ "$out" = echo:hi ] || fail "$g does not get out with both networks attached: '$out'"
done

hook fast stopped end - <"$FIX/open.xml" || fail "the hook failed on 'stopped'"
! qnat status "$BR" >/dev/null 2>&1 || fail "still attached after 'stopped'"
in_host ip link show "$BR" >/dev/null 2>&1 || fail "the detach took libvirt's bridge"
in_host ip -4 addr show dev "$BR" | grep -q "$GATEWAY/24" || fail "the detach took libvirt's address"
hook fast stopped end - <"$FIX/open.xml" || fail "a second 'stopped' failed"
out=$(echo hi | in_guest g2 timeout 5 socat -T 2 - TCP:"$EXT_ADDR":7000)
[ "$out" = echo:hi ] || fail "the lab network's guest lost its way out when 'fast' stopped: '$out'"
hook lab stopped end - <"$WORK/lab.xml" || fail "the hook failed on the lab network's 'stopped'"
! qnat status virbr1 >/dev/null 2>&1 || fail "the lab network is still attached"
log "open network: attached on 'started' (nat, no DHCP), the guest out through it; detached on 'stopped'; NAT networks left alone; a lab network shared the uplink and outlived it"
pass
