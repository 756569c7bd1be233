# Sourced by tools/bench.sh: TCP over IPv6 through NAT66 (issue 14), on
# instances with none of the harness's XDP, CPUs not pinned, as tcp.sh does
# for IPv4.  The guest has the static address fd00:122::10 (SLAAC's result,
# without waiting for an RA); the sink is 2001:db8:ff::2.
#
#   tcp6_bulk  one iperf3 stream from a veth guest, up and down (-R), Gbit/s
#   tcp6_tap   the same from a guest behind a TAP (taprelay --vnet)
#
# Contenders: ip6tables (libvirt's rules for <nat ipv6='yes'/>, tests/libvirt-ip6tables.sh:
# MASQUERADE and its FORWARD rules), nftables (the same in nft), route (plain IPv6
# forwarding, no NAT: the kernel's ceiling of this path), qnat-bpf (--masq6).
TCP6_C=${TCP6_C:-"ip6tables nftables route qnat-bpf"}
PREFIX6=fd00:122::/64
GW6=fd00:122::1
G6=fd00:122::10
EXT6=2001:db8:ff::1
SINK6=2001:db8:ff::2

# libvirt's rules, shared with the differential tests.
libvirt_ip6tables() {
	in_ns "$1" h sh -e <"$(dirname "${BASH_SOURCE[0]}")/../../tests/libvirt-ip6tables.sh"
}

libvirt_nftables6() {
	in_ns "$1" h nft -f - <<RULES
table ip6 libvirt_network {
	chain forward { type filter hook forward priority 0; policy accept;
		iifname "virbr0" oifname "virbr0" accept
		oifname "virbr0" ip6 daddr $PREFIX6 ct state related,established accept
		iifname "virbr0" ip6 saddr $PREFIX6 accept
		iifname "virbr0" reject
		oifname "virbr0" reject
	}
	chain guest_nat { type nat hook postrouting priority 100; policy accept;
		meta l4proto tcp ip6 saddr $PREFIX6 ip6 daddr != $PREFIX6 masquerade to :1024-65535
		meta l4proto udp ip6 saddr $PREFIX6 ip6 daddr != $PREFIX6 masquerade to :1024-65535
		ip6 saddr $PREFIX6 ip6 daddr != $PREFIX6 masquerade
	}
}
RULES
}

# tcp6_setup PREFIX KIND CONTENDERS: one instance each (KIND veth or relay).
tcp6_setup() {
	local pfx=$1 kind=$2 c i h pf
	log "== tcp6: building $(wc -w <<<"$3") $kind instances"
	for c in $3; do
		i=$pfx-$c h=$(nsname "$i" h)
		topo "$i" 1 "$kind"
		in_ns "$i" h sysctl -qw net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-iptables=0
		ip -n "$h" -6 addr add $EXT6/64 dev up0 nodad
		ip -n "$(nsname "$i" e)" -6 addr add $SINK6/64 dev eth0 nodad
		ip -n "$h" -6 route add default via $SINK6
		ip -n "$(nsname "$i" g1)" -6 addr add $G6/64 dev eth0 nodad
		ip -n "$(nsname "$i" g1)" -6 route add default via $GW6
		case $c in
		qnat-bpf) qnat_attach "$i" --masq6 $PREFIX6 ;; # the bridge gets GW6 and forwarding from attach
		*)
			ip -n "$h" -6 addr add $GW6/64 dev virbr0 nodad
			in_ns "$i" h sysctl -qw net.ipv6.conf.all.forwarding=1
			case $c in
			ip6tables) libvirt_ip6tables "$i" ;;
			nftables) libvirt_nftables6 "$i" ;;
			route) ip -n "$(nsname "$i" e)" -6 route add $PREFIX6 via $EXT6 ;;
			*) die "unknown tcp6 contender $c" ;;
			esac
			;;
		esac
		pf=/run/qbench-$PFX-iperf6-$i.pid
		in_ns "$i" e iperf3 -s -B $SINK6 -D -I "$pf" || die "iperf3 server"
		sleep 0.2
		INST_PIDS[$i]+=" $(cat "$pf")"
		rm -f "$pf"
		in_ns "$i" g1 busybox ping -6 -c 1 -W 5 $SINK6 >/dev/null || die "tcp6: $c: the guest cannot reach $SINK6"
	done
}

tcp6_setup t6 veth "$TCP6_C"
tcp6_setup tt6 relay "$TCP6_C"
for r in $(seq "$ROUNDS"); do
	log "== tcp6: round $r of $ROUNDS"
	for c in $TCP6_C; do tcp_bulk tcp6_bulk "t6-$c" "$c" $SINK6; done
	for c in $TCP6_C; do tcp_bulk tcp6_tap "tt6-$c" "$c" $SINK6; done
done
for c in $TCP6_C; do instance_del "t6-$c" && instance_del "tt6-$c"; done
