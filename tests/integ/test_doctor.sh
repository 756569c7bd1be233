#!/bin/bash
# doctor: all checks pass on a healthy attach; it fails (exit 1) on every way
# of blocking DHCP, DNS or forwarding in iptables and nftables (INPUT and
# FORWARD policies, an inet table's input policy, DNS alone dropped (named
# as DNS), a drop in another table, a DROP rule, iptables-legacy's policy
# and rule), on an MTU mismatch (naming the lowered port), the host policy
# taken off the bridge, and a dead dnsmasq; the test follows each advice.
#
#   g1 ==veth (mtu 1400)== ┐
#                          virbr0 [qnat-bpf] host up0 ==veth== ext
#   g2 ==veth (mtu 1500)== ┘
. "$(dirname "$0")/lib.sh"
need iptables nft

topo_init
attach
guest_veth g1
guest_veth g2
out=$(qnat doctor "$BR") || { echo "$out" >&2; fail "doctor fails on a healthy attach"; }
echo "$out" | grep -qE "^ok +dnsmasq +dnsmasq \(pid [0-9]+\) listens" || fail "dnsmasq check: $out"
echo "$out" | grep -qE "^ok +forward-policy" || fail "forward policy check: $out"
echo "$out" | grep -qE "^ok +host-policy +guests reach DHCP, DNS and ICMP on the host$" || fail "host policy check: $out"
qnat doctor "$BR" --json | grep -q '"check":"mtu"' || fail "doctor --json"

# Each way of blocking DHCP, DNS or forwarding, in iptables and in nftables:
# doctor exits 1 naming it; its advice, followed as printed, makes doctor
# pass and the guest work again.
lease_ok() { guest_dhcp g1 >/dev/null; }
# A fragmented datagram takes the kernel's forward path (the slow path).
ext_udp_echo 7000
frag_ok() {
	in_guest g1 sh -c "{ head -c 3000 /dev/zero | tr '\\0' a; echo; } | socat -T 2 - UDP:$EXT_ADDR:7000" | grep -q '^echo:a'
}
# doctor_catches CHECK PATTERN: doctor fails, its CHECK line matches PATTERN;
# then runs the fix the line gives (after "in that chain: ").
doctor_catches() {
	local out line
	out=$(qnat doctor "$BR") && fail "doctor exits 0 with $2: $out"
	line=$(echo "$out" | grep -E "^fail +$1 .*$2" | head -1)
	[ -n "$line" ] || fail "$1 not caught ($2): $out"
	log "caught: $line"
	in_host sh -c "${line##*in that chain: }" || fail "the advice does not run: $line"
	out=$(qnat doctor "$BR") || fail "doctor still fails after its advice: $out"
}
lease_ok
frag_ok || fail "fragmented UDP does not get through on a healthy attach"

# iptables -P INPUT DROP: guests get no lease.
in_host iptables -P INPUT DROP
in_guest g1 busybox udhcpc -i eth0 -n -q -t 2 -T 1 -s "$UDHCPC_SCRIPT" >/dev/null 2>&1 &&
	fail "a lease through an INPUT DROP policy: the test breaks nothing"
doctor_catches input-policy "table ip filter chain INPUT drops DHCP and DNS from guests \\(policy drop\\).*iptables -I INPUT -i virbr0 -j ACCEPT"
lease_ok
in_host iptables -F INPUT
in_host iptables -P INPUT ACCEPT

# An nft inet table whose input chain has policy drop.
in_host nft add table inet t1
in_host nft add chain inet t1 input '{ type filter hook input priority 0; policy drop; }'
doctor_catches input-policy "table inet t1 chain input .*nft insert rule inet t1 input iifname virbr0 accept"
lease_ok
in_host nft delete table inet t1

# DNS alone dropped (a rule in an inet table): doctor names DNS, not DHCP.
qnat dhcp host add "$BR" 52:54:00:aa:00:99 192.168.122.99 dnsprobe || fail "dhcp host add"
dns_ok() { in_guest g1 timeout 3 busybox nslookup -type=a dnsprobe "$GATEWAY" 2>&1 | grep -q 192.168.122.99; }
dns_ok || fail "no DNS answer on a healthy attach: $(in_guest g1 timeout 3 busybox nslookup -type=a dnsprobe "$GATEWAY" 2>&1)"
in_host nft add table inet t3
in_host nft add chain inet t3 input '{ type filter hook input priority 0; policy accept; }'
in_host nft add rule inet t3 input udp dport 53 drop
dns_ok && fail "DNS through a udp dport 53 drop: the test breaks nothing"
lease_ok
doctor_catches input-policy "table inet t3 chain input drops DNS from guests \\(udp 53\\) \\(rule \"udp dport 53 drop\"\\).*nft insert rule inet t3 input iifname virbr0 accept"
dns_ok || fail "DNS still blocked after doctor's advice"
in_host nft delete table inet t3

# A forward drop in another nft table: an iptables ACCEPT cannot override it.
in_host iptables -P FORWARD DROP
in_host nft add table ip t2
in_host nft add chain ip t2 fw '{ type filter hook forward priority 0; policy drop; }'
frag_ok && fail "fragments through a forward drop: the test breaks nothing"
out=$(qnat doctor "$BR") && fail "doctor exits 0 with two forward drops"
echo "$out" | grep -qE "^fail +forward-policy .*table ip filter chain FORWARD .*iptables -I FORWARD -i virbr0" ||
	fail "iptables FORWARD DROP policy not caught: $out"
in_host iptables -I FORWARD -i "$BR" -j ACCEPT
in_host iptables -I FORWARD -o "$BR" -j ACCEPT
doctor_catches forward-policy "table ip t2 chain fw .*nft insert rule ip t2 fw iifname virbr0 accept; nft insert rule ip t2 fw oifname virbr0 accept"
frag_ok || fail "fragmented UDP still blocked after doctor's advice"
in_host nft delete table ip t2
in_host iptables -F FORWARD
in_host iptables -P FORWARD ACCEPT

# A FORWARD -j DROP rule, not a policy.
in_host iptables -A FORWARD -j DROP
frag_ok && fail "fragments through a FORWARD DROP rule: the test breaks nothing"
doctor_catches forward-policy "table ip filter chain FORWARD .*rule .*drop.*iptables -I FORWARD -i virbr0 -j ACCEPT"
frag_ok || fail "fragmented UDP still blocked after doctor's advice"
in_host iptables -F FORWARD

# iptables-legacy's rules, which nft list ruleset does not show: its INPUT
# policy and a FORWARD DROP rule; the advice is iptables-legacy's.
if in_host iptables-legacy -L INPUT >/dev/null 2>&1; then
	in_host iptables-legacy -P INPUT DROP
	in_guest g1 busybox udhcpc -i eth0 -n -q -t 2 -T 1 -s "$UDHCPC_SCRIPT" >/dev/null 2>&1 &&
		fail "a lease through an iptables-legacy INPUT DROP policy: the test breaks nothing"
	doctor_catches input-policy "iptables-legacy table filter chain INPUT drops DHCP and DNS .*iptables-legacy -I INPUT -i virbr0 -j ACCEPT"
	lease_ok
	in_host iptables-legacy -F INPUT
	in_host iptables-legacy -P INPUT ACCEPT
	in_host iptables-legacy -A FORWARD -j DROP
	frag_ok && fail "fragments through an iptables-legacy FORWARD DROP rule: the test breaks nothing"
	doctor_catches forward-policy "iptables-legacy table filter chain FORWARD .*rule .*drop.*iptables-legacy -I FORWARD -i virbr0 -j ACCEPT; iptables-legacy -I FORWARD -o virbr0 -j ACCEPT"
	frag_ok || fail "fragmented UDP still blocked after doctor's iptables-legacy advice"
	in_host iptables-legacy -F FORWARD
else
	log "no iptables-legacy here: its checks skipped"
fi

# One port lowered: the bridge follows the smallest port; the one to blame is v-g1.
ip -n "$NS_HOST" link set v-g1 mtu 1400
out=$(qnat doctor "$BR") && fail "doctor exits 0 with an MTU mismatch"
line=$(echo "$out" | grep -E "^fail +mtu .*v-g1 1400")
[ -n "$line" ] || fail "MTU mismatch does not name v-g1 1400: $out"
echo "$line" | grep -q "v-g2" && fail "MTU mismatch blames v-g2: $line"
ip -n "$NS_HOST" link set v-g1 mtu "$(echo "$line" | sed -n 's/.*mtu \([0-9]*\))$/\1/p')"
out=$(qnat doctor "$BR") || fail "doctor still fails after its MTU advice: $out"
frag_ok || fail "no traffic after the MTU fix"

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
