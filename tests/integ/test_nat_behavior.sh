#!/bin/bash
# NAT behaviour as RFC 5780 discovery sees it (coturn's turnutils_natdiscovery
# against a two-address STUN server): Linux MASQUERADE and qnat-bpf both show
# endpoint-independent mapping and address-and-port-dependent filtering;
# qnat-bpf --filtering endpoint-independent shows endpoint-independent
# filtering ("full cone"), which MASQUERADE cannot do.
#
#   g1 ==veth== virbr0 [MASQUERADE | qnat-bpf] host up0 ==veth== ext 198.51.100.2 + .3 (STUN)
. "$(dirname "$0")/lib.sh"
need turnserver turnutils_natdiscovery iptables

# $1: kernel | qnat; the rest: qnat attach options.  Prints the two verdicts.
discover() {
	local mode=$1 UPLINK_CAPTURE_KIND=qnat
	shift
	[ "$mode" = kernel ] && UPLINK_CAPTURE_KIND=kernel
	topo_init
	ip -n "$NS_EXT" addr add 198.51.100.3/24 dev eth0
	if [ "$mode" = kernel ]; then
		ip -n "$NS_HOST" link add "$BR" type bridge
		ip -n "$NS_HOST" addr add "$GATEWAY/24" dev "$BR"
		ip -n "$NS_HOST" link set "$BR" up
		in_host sysctl -qw net.ipv4.ip_forward=1
		in_host iptables -t nat -A POSTROUTING -s "$SUBNET" ! -d "$SUBNET" -p udp -j MASQUERADE --to-ports 1024-65535
	else
		attach --no-dhcp "$@"
	fi
	guest_veth g1
	guest_addr g1 192.168.122.10
	bg in_ext turnserver -n --stun-only --no-cli --no-tls --no-dtls -L "$EXT_ADDR" -L 198.51.100.3 -p 3478 \
		--log-file stdout --simple-log --pidfile "$WORK/turn.pid" --userdb "$WORK/turndb" >"$WORK/turn.log" 2>&1
	wait_for 5 grep -q "Total General servers" "$WORK/turn.log" || fail "STUN server did not start"
	timeout 40 ip netns exec "${T}g1" turnutils_natdiscovery -m -f "$EXT_ADDR" 2>&1 |
		grep -E "^NAT with" | tr '\n' ' '
	[ "$mode" = qnat ] && qnat detach "$BR"
	for p in "${BG_PIDS[@]}"; do bg_kill "$p"; done
	BG_PIDS=()
	namespaces_del
	T=q$(printf '%04x' $((RANDOM)))$$ NS_HOST=${T}h NS_EXT=${T}e
}

masq=$(discover kernel)
log "MASQUERADE: $masq"
echo "$masq" | grep -q "Endpoint Independent Mapping" || fail "the oracle did not run: '$masq'"
qnat_default=$(discover qnat)
log "qnat-bpf:   $qnat_default"
[ "$qnat_default" = "$masq" ] || fail "qnat-bpf's NAT behaviour differs from MASQUERADE"
eif=$(discover qnat --filtering endpoint-independent)
log "qnat-bpf --filtering endpoint-independent: $eif"
echo "$eif" | grep -q "Endpoint Independent Mapping" || fail "EIF mode lost endpoint-independent mapping: $eif"
echo "$eif" | grep -q "Endpoint Independent Filtering" || fail "EIF mode does not filter endpoint-independently: $eif"
pass
