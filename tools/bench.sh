#!/bin/bash
# Side-by-side TCP benchmark: the same namespace topology under each
# contender, run interleaved (A B C D A B C D ...), median and spread per
# contender, ratios to iptables MASQUERADE.  Writes build/bench/tcp.json.
#
#   guest 192.168.122.10 ==veth== vg ┐
#                                 virbr0 192.168.122.1 host up0 198.51.100.1 ==veth== 198.51.100.2 sink
#
# Contenders: iptables  kernel bridge + libvirt's iptables rules (MASQUERADE, nf_conntrack)
#             nftables  kernel bridge + libvirt's nftables rules (masquerade)
#             route     kernel bridge + plain routing, no NAT (sink routes the subnet back)
#             qnat-bpf  qnat-bpf attach virbr0 --masq 192.168.122.0/24 (defaults)
set -eu
cd "$(dirname "$0")/.."
QNAT=$PWD/build/qnat-bpf
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}
CONTENDERS=${CONTENDERS:-"iptables nftables route qnat-bpf"}
OUT=${OUT:-build/bench}
id=$$
H=qb-h-$id E=qb-e-$id G=qb-g-$id
mkdir -p "$OUT"
raw=$OUT/tcp.raw
: >"$raw"

[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }
for c in iperf3 iptables nft; do command -v $c >/dev/null || { echo "bench.sh: needs $c (make deps)" >&2; exit 1; }; done

teardown() {
	ip netns exec "$H" "$QNAT" detach virbr0 >/dev/null 2>&1 || true
	pkill -f "iperf3 -s -B 198.51.100.2" 2>/dev/null || true
	for ns in "$G" "$E" "$H"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap teardown EXIT

setup() {
	local c=$1
	for ns in "$H" "$E" "$G"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
	ip link add up0 netns "$H" type veth peer name eth0 netns "$E"
	ip -n "$H" addr add 198.51.100.1/24 dev up0 && ip -n "$H" link set up0 up
	ip -n "$E" addr add 198.51.100.2/24 dev eth0 && ip -n "$E" link set eth0 up
	ip -n "$H" route add default via 198.51.100.2
	ip link add vg netns "$H" type veth peer name eth0 netns "$G"
	ip -n "$G" link set eth0 up
	if [ "$c" = qnat-bpf ]; then
		ip netns exec "$H" "$QNAT" attach virbr0 --masq 192.168.122.0/24 --no-dhcp
	else
		ip -n "$H" link add virbr0 type bridge
		ip -n "$H" addr add 192.168.122.1/24 dev virbr0
		ip -n "$H" link set virbr0 up
		ip netns exec "$H" sysctl -qw net.ipv4.ip_forward=1
	fi
	ip -n "$H" link set vg master virbr0 up
	ip -n "$G" addr add 192.168.122.10/24 dev eth0
	ip -n "$G" route add default via 192.168.122.1
	case $c in
	iptables) ip netns exec "$H" sh -e <<'RULES' ;;
iptables -A FORWARD -i virbr0 -o virbr0 -j ACCEPT
iptables -A FORWARD -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -s 192.168.122.0/24 -i virbr0 -j ACCEPT
iptables -A FORWARD -i virbr0 -j REJECT
iptables -A FORWARD -o virbr0 -j REJECT
iptables -t nat -A POSTROUTING -s 192.168.122.0/24 -d 224.0.0.0/24 -j RETURN
iptables -t nat -A POSTROUTING -s 192.168.122.0/24 -d 255.255.255.255/32 -j RETURN
iptables -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p tcp -j MASQUERADE --to-ports 1024-65535
iptables -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p udp -j MASQUERADE --to-ports 1024-65535
iptables -t nat -A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE
RULES
	nftables) ip netns exec "$H" nft -f - <<'RULES' ;;
table ip libvirt_network {
	chain forward { type filter hook forward priority 0; policy accept;
		iifname "virbr0" oifname "virbr0" counter accept
		oifname "virbr0" ip daddr 192.168.122.0/24 ct state related,established counter accept
		iifname "virbr0" ip saddr 192.168.122.0/24 counter accept
		iifname "virbr0" counter reject
		oifname "virbr0" counter reject
	}
	chain guest_nat { type nat hook postrouting priority 100; policy accept;
		ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 counter return
		ip saddr 192.168.122.0/24 ip daddr 255.255.255.255 counter return
		meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade to :1024-65535
		meta l4proto udp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade to :1024-65535
		ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter masquerade
	}
}
RULES
	route) ip -n "$E" route add 192.168.122.0/24 via 198.51.100.1 ;;
	esac
	ip netns exec "$E" iperf3 -s -B 198.51.100.2 -D -1 >/dev/null
	sleep 0.3
}

# One iperf3 run; prints Gbit/s received.
run_tcp() {
	local dir=$1 json
	json=$(ip netns exec "$G" iperf3 -c 198.51.100.2 -t "$SECS" -J $([ "$dir" = down ] && echo -R)) || { echo 0; return; }
	echo "$json" | awk '/"sum_received"/ {f=1} f && /"bits_per_second"/ {gsub(/[,]/,""); printf "%.2f\n", $2/1e9; exit}'
}

brnf=off
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ] && brnf=on
echo "# TCP bulk, 1 stream, ${SECS}s, $ROUNDS interleaved rounds; br_netfilter: $brnf; kernel $(uname -r); $(nproc) CPUs"
for r in $(seq "$ROUNDS"); do
	for c in $CONTENDERS; do
		for dir in up down; do
			setup "$c"
			v=$(run_tcp "$dir")
			teardown
			echo "$c $dir $v" >>"$raw"
			printf '  round %d  %-9s %-4s %6s Gbit/s\n' "$r" "$c" "$dir" "$v"
		done
	done
done

# Median, min-max, ratio to iptables; JSON with every figure.
awk -v contenders="$CONTENDERS" -v brnf="$brnf" -v json="$OUT/tcp.json" '
function median(arr, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
	return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $3 }
END {
	split(contenders, cs, " ")
	for (d = 1; d <= 2; d++) {
		dir = d == 1 ? "up" : "down"
		for (i = 1; i in cs; i++) {
			k = cs[i] SUBSEP dir; m = n[k]; delete a
			for (j = 1; j <= m; j++) a[j] = v[k, j]
			med[k] = median(a, m); lo[k] = a[1]; hi[k] = a[m]
		}
	}
	printf "\n%-10s %-5s %8s %15s %12s\n", "contender", "dir", "median", "min-max", "vs iptables"
	printf "{\"br_netfilter\":\"%s\",\"unit\":\"Gbit/s\",\"results\":[", brnf > json
	sep = ""
	for (d = 1; d <= 2; d++) {
		dir = d == 1 ? "up" : "down"
		for (i = 1; i in cs; i++) {
			k = cs[i] SUBSEP dir; base = med["iptables" SUBSEP dir]
			ratio = base > 0 ? med[k] / base : 0
			printf "%-10s %-5s %8.2f %7.2f-%-7.2f %11.2fx\n", cs[i], dir, med[k], lo[k], hi[k], ratio
			printf "%s{\"contender\":\"%s\",\"direction\":\"%s\",\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,\"ratio_iptables\":%.3f,\"runs\":[", sep, cs[i], dir, med[k], lo[k], hi[k], ratio > json
			for (j = 1; j <= n[k]; j++) printf "%s%s", (j > 1 ? "," : ""), v[k, j] > json
			printf "]}" > json
			sep = ","
		}
	}
	print "]}" > json
}' "$raw"
echo "(every figure: $OUT/tcp.json)"
