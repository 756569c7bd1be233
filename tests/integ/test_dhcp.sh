#!/bin/bash
# DHCP like libvirt's: a static host added at runtime is honoured (address
# and DNS name) without dropping existing leases, removed again, and
# `dhcp leases` shows the columns of `virsh net-dhcp-leases` (aligned);
# `dhcp host list` and status show the static hosts; --mtu sets the
# bridge's and the ports' MTU and hands it out with option 26.
#
#   g1 (52:54:00:aa:00:01) ==veth== ┐
#                                   virbr0 192.168.122.1 (dnsmasq) [qnat-bpf] host up0 ==veth== ext
#   g2 (52:54:00:aa:00:02) ==veth== ┘
. "$(dirname "$0")/lib.sh"

topo_init
attach
guest_veth g1 52:54:00:aa:00:01
guest_veth g2 52:54:00:aa:00:02

# g1 leases from the range first, with a hostname.
in_guest g1 busybox udhcpc -i eth0 -n -q -t 6 -T 1 -x hostname:alpha -s "$UDHCPC_SCRIPT" >/dev/null 2>&1 ||
	fail "g1 got no lease"
a1=$(ip -n "${T}g1" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
leases=$(qnat dhcp leases "$BR")
echo "$leases" | grep -qE "Expiry Time +MAC address +Protocol +IP address +Hostname +Client ID or DUID" ||
	fail "leases header is not virsh's: $leases"
echo "$leases" | grep -qE "52:54:00:aa:00:01 +ipv4 +$a1/24 +alpha " || fail "g1's lease not listed: $leases"
qnat dhcp leases "$BR" --json | grep -q "\"ipaddr\":\"$a1\"" || fail "leases --json"
# The columns line up under the header: each field starts where its heading does.
hdr=$(echo "$leases" | head -1) row=$(echo "$leases" | grep 52:54:00:aa:00:01)
for col in "MAC address:52:54:00:aa:00:01" "IP address:$a1/24" "Hostname:alpha"; do
	h=${hdr%%"${col%%:*}"*} r=${row%%"${col#*:}"*}
	[ "${#h}" = "${#r}" ] || fail "dhcp leases: ${col%%:*} column at ${#r}, its heading at ${#h}: $leases"
done

# A static host for g2, added while dnsmasq runs.
qnat dhcp host add "$BR" 52:54:00:AA:00:02 192.168.122.50 web1 || fail "dhcp host add"
err=$(qnat dhcp host add "$BR" 52:54:00:aa:00:03 192.168.122.50 other 2>&1) && fail "duplicate address accepted"
echo "$err" | grep -q "already given" || fail "duplicate error unclear: $err"
err=$(qnat dhcp host add "$BR" 52:54:00:aa:00:03 10.0.0.5 2>&1) && fail "address outside the subnet accepted"
err=$(qnat dhcp host add "$BR" nonsense 192.168.122.51 2>&1) && fail "bad MAC accepted"
qnat dhcp host add "$BR" 52:54:00:aa:00:04 192.168.122.52 || fail "dhcp host add without a name"
# Listed by dhcp host list (text, JSON with a null hostname) and in status.
out=$(qnat dhcp host list "$BR")
echo "$out" | grep -qE "^ MAC address +IP address +Hostname$" || fail "dhcp host list header: $out"
echo "$out" | grep -qE "^ 52:54:00:aa:00:02 +192.168.122.50 +web1$" || fail "dhcp host list: $out"
echo "$out" | grep -qE "^ 52:54:00:aa:00:04 +192.168.122.52 +-$" || fail "dhcp host list (no name): $out"
qnat dhcp host list "$BR" --json | jq -e '. == [{"mac":"52:54:00:aa:00:02","ip":"192.168.122.50","hostname":"web1"},
	{"mac":"52:54:00:aa:00:04","ip":"192.168.122.52","hostname":null}]' >/dev/null ||
	fail "dhcp host list --json: $(qnat dhcp host list "$BR" --json)"
qnat status "$BR" | grep -qE "^    static host 52:54:00:aa:00:02 +192.168.122.50 +web1$" || fail "status: no static host: $(qnat status "$BR")"
qnat status "$BR" --json | jq -e '[.. | .static_hosts? // empty | .[].ip] == ["192.168.122.50","192.168.122.52"]' >/dev/null ||
	fail "status --json: static hosts: $(qnat status "$BR" --json)"
qnat dhcp host del "$BR" 52:54:00:aa:00:04 || fail "dhcp host del (no name)"
sleep 0.5
a2=$(guest_dhcp g2)
[ "$a2" = 192.168.122.50 ] || fail "static host not honoured: g2 got $a2"
in_guest g1 busybox nslookup web1 "$GATEWAY" 2>&1 | grep -q "192.168.122.50" || fail "web1 does not resolve via dnsmasq"
# The reload kept g1's lease.
qnat dhcp leases "$BR" | grep -q "52:54:00:aa:00:01" || fail "g1's lease lost by the reload"

qnat dhcp host del "$BR" 52:54:00:aa:00:02 || fail "dhcp host del"
qnat dhcp host del "$BR" 52:54:00:aa:00:02 2>/dev/null && fail "deleting a missing host succeeded"
hostsfile=/run/qnat-bpf/ns$(in_host stat -L -c %i /proc/self/ns/net)/$BR/hostsfile
grep -q "52:54:00:aa:00:02" "$hostsfile" && fail "host still in the hosts file"

# DHCP checksum fill (the default): dnsmasq's replies reach the guest with
# complete UDP checksums; with --no-dhcp-checksum-fill they carry the partial
# sum the host left for offload.
dhcp_sum() {
	in_guest "$1" tcpdump -i eth0 --immediate-mode -nn -vv -l -U -w "$WORK/d.pcap" udp port 68 >/dev/null 2>"$WORK/d.err" &
	local cap=$!
	wait_for 5 grep -q "listening on" "$WORK/d.err"
	guest_dhcp "$1" >/dev/null
	sleep 0.3
	kill "$cap"; wait "$cap" 2>/dev/null
	tcpdump -nn -vv -r "$WORK/d.pcap" 2>/dev/null | grep -E "192.168.122.1.67 > .*(udp sum ok|bad udp cksum)"
}
qnat detach "$BR" || fail "detach"
attach
ip -n "$NS_HOST" link set v-g1 master "$BR"
sums=$(dhcp_sum g1)
[ -n "$sums" ] || fail "no DHCP reply captured"
echo "$sums" | grep -q "bad udp cksum" && fail "DHCP reply with a bad checksum by default: $sums"
echo "$sums" | grep -q "udp sum ok" || fail "DHCP reply checksum not verified: $sums"
qnat detach "$BR" || fail "detach"
attach --no-dhcp-checksum-fill
ip -n "$NS_HOST" link set v-g1 master "$BR"
sums=$(dhcp_sum g1)
echo "$sums" | grep -q "bad udp cksum" || fail "--no-dhcp-checksum-fill: the reply's checksum was filled anyway: $sums"

# --mtu: the bridge and its ports take it, and DHCP hands it out (option 26).
# (detach deleted the bridge it had created: a bridge of our own this time,
# its port enslaved before the attach)
qnat detach "$BR" || fail "detach"
ip -n "$NS_HOST" link add "$BR" type bridge
ip -n "$NS_HOST" link set v-g1 master "$BR"
attach --mtu 1400
[ "$(ip -n "$NS_HOST" -o link show "$BR" | grep -oE 'mtu [0-9]+')" = "mtu 1400" ] || fail "bridge MTU not 1400"
[ "$(ip -n "$NS_HOST" -o link show v-g1 | grep -oE 'mtu [0-9]+')" = "mtu 1400" ] || fail "port MTU not 1400"
guest_veth g3
mtu1400() { ip -n "$NS_HOST" -o link show v-g3 | grep -q 'mtu 1400'; }
wait_for 5 mtu1400 || fail "a port joining later keeps MTU 1500"
ip -n "${T}g3" link set eth0 mtu 1500
guest_dhcp g3 >/dev/null
[ "$(ip -n "${T}g3" -o link show eth0 | grep -oE 'mtu [0-9]+')" = "mtu 1400" ] || fail "DHCP did not hand out MTU 1400"
pass
