#!/bin/bash
# doctor: all checks pass on a healthy attach; it catches a planted FORWARD
# DROP policy (what Docker and ufw do), an MTU mismatch between the bridge
# and a port, the host policy taken off the bridge, and a dead dnsmasq,
# each with a fix to apply.
#
#   g1 ==veth (mtu 1400)== ┐
#                          virbr0 [qnat-bpf] host up0 ==veth== ext
#   g2 ==veth (mtu 1500)== ┘
. "$(dirname "$0")/lib.sh"
need iptables

topo_init
attach
guest_veth g1
guest_veth g2
out=$(qnat doctor "$BR") || { echo "$out" >&2; fail "doctor fails on a healthy attach"; }
echo "$out" | grep -qE "^ok +dnsmasq +dnsmasq \(pid [0-9]+\) listens" || fail "dnsmasq check: $out"
echo "$out" | grep -qE "^ok +forward-policy" || fail "forward policy check: $out"
echo "$out" | grep -qE "^ok +host-policy +guests reach DHCP, DNS and ICMP on the host$" || fail "host policy check: $out"
qnat doctor "$BR" --json | grep -q '"check":"mtu"' || fail "doctor --json"

in_host iptables -P FORWARD DROP
# One port lowered: the bridge follows the smallest port, the other port does not.
ip -n "$NS_HOST" link set v-g1 mtu 1400
out=$(qnat doctor "$BR")
echo "$out" | grep -qE "^warn +forward-policy .*iptables -I FORWARD -i virbr0 -j ACCEPT" ||
	fail "FORWARD DROP not caught: $out"
echo "$out" | grep -qE "^warn +mtu .*v-g2 1500" || fail "MTU mismatch not caught: $out"
in_host iptables -P FORWARD ACCEPT

# dnsmasq gone and not coming back (its supervisor stopped): a failure, exit 1.
sup=$(cat /run/qnat-bpf/ns"$(in_host stat -L -c %i /proc/self/ns/net)"/"$BR"/supervisor.pid)
kill -STOP "$sup"
pkill -KILL -f "dnsmasq .*ns$(in_host stat -L -c %i /proc/self/ns/net)/$BR/" || fail "no dnsmasq to kill"
sleep 0.3
out=$(qnat doctor "$BR") && fail "doctor exits 0 with dnsmasq dead"
echo "$out" | grep -qE "^fail +dnsmasq" || fail "dead dnsmasq not caught: $out"
kill -CONT "$sup"
wait_for 5 sh -c "ip netns exec $NS_HOST $QNAT doctor $BR >/dev/null" || fail "doctor still failing after dnsmasq came back"
# The host policy's filters removed from the bridge: guests reach every host service.
in_host tc filter del dev "$BR" ingress
out=$(qnat doctor "$BR") && fail "doctor exits 0 without the host policy"
echo "$out" | grep -qE "^fail +host-policy .*missing" || fail "missing host policy not caught: $out"
pass
