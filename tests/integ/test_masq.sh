#!/bin/bash
# Guests on veth ports get DHCP leases, reach the outside masqueraded (ICMP,
# TCP, UDP) and reach each other; outside sees only the uplink address, with
# valid checksums; ct show lists the flows.
#
#   g1 eth0 ==veth== v-g1 ┐
#                         virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g2 eth0 ==veth== v-g2 ┘
. "$(dirname "$0")/lib.sh"

topo_init
attach
guest_veth g1
guest_veth g2
a1=$(guest_dhcp g1)
a2=$(guest_dhcp g2)
log "leases: g1=$a1 g2=$a2"
case "$a1" in 192.168.122.*) ;; *) fail "g1 lease $a1 not in $SUBNET" ;; esac
[ "$a1" != "$a2" ] || fail "both guests leased $a1"
in_guest g1 ip route | grep -q "default via $GATEWAY" || fail "no default route via the gateway from DHCP"

ext_tcp_echo 8080
ext_udp_echo 5353
capture_start all "ip"

in_guest g1 busybox ping -c 3 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot ping the outside"
out=$(echo hello | in_guest g1 socat -t 2 - TCP:"$EXT_ADDR":8080,sourceport=40001) || fail "g1 tcp failed"
[ "$out" = "echo:hello" ] || fail "g1 tcp answer '$out'"
out=$(echo hi-udp | in_guest g2 socat -t 2 - UDP:"$EXT_ADDR":5353,sourceport=40002) || fail "g2 udp failed"
[ "$out" = "echo:hi-udp" ] || fail "g2 udp answer '$out'"
# A bulk transfer with GSO/TSO on the guest side, checked byte for byte.
head -c 3000000 /dev/urandom >"$WORK/blob"
bg in_ext socat -u TCP-LISTEN:8081,bind="$EXT_ADDR",reuseaddr OPEN:"$WORK/blob.out",creat,trunc
sleep 0.3
in_guest g2 socat -u OPEN:"$WORK/blob" TCP:"$EXT_ADDR":8081 || fail "bulk tcp failed"
wait_for 5 cmp -s "$WORK/blob" "$WORK/blob.out" || fail "bulk tcp payload differs"
# Guest to guest: plain L2 through the bridge, never translated.
in_guest g1 busybox ping -c 2 -W 2 "$a2" >/dev/null || fail "g1 cannot ping g2"

dump=$(capture_stop all)
[ -n "${QNAT_SHOW_DUMP:-}" ] && echo "$dump" | head -40 >&2
echo "$dump" | grep -q "$HOST_ADDR" || fail "capture saw nothing from the uplink address"
if echo "$dump" | grep -q "192\.168\.122\."; then
	echo "$dump" | grep "192\.168\.122\." | head >&2
	fail "a guest address leaked onto the uplink"
fi
if echo "$dump" | grep -qiE "bad cksum|incorrect"; then
	echo "$dump" | grep -iE "bad cksum|incorrect" | head >&2
	fail "bad checksums seen outside"
fi
# Source ports were kept (MASQUERADE keeps them when free).
echo "$dump" | grep -q "$HOST_ADDR.40001 > $EXT_ADDR.8080" || fail "tcp source port 40001 not kept"
echo "$dump" | grep -q "$HOST_ADDR.40002 > $EXT_ADDR.5353" || fail "udp source port 40002 not kept"

ct=$(qnat ct show "$BR")
echo "$ct" | grep -q "src=$a1 dst=$EXT_ADDR sport=40001 dport=8080" || { echo "$ct" >&2; fail "ct show lacks g1's tcp flow"; }
echo "$ct" | grep -q "src=$a2 dst=$EXT_ADDR sport=40002 dport=5353" || { echo "$ct" >&2; fail "ct show lacks g2's udp flow"; }
echo "$ct" | grep -q "^icmp" || fail "ct show lacks the ping"
qnat ct show "$BR" --json | grep -q '"sport":40001' || fail "ct show --json lacks the tcp flow"
qnat status "$BR" | grep -q "snat_fast" || fail "status shows no counters"
# No flow was set up by netfilter: nothing in nf_conntrack for the guests.
if [ -r /proc/net/nf_conntrack ] && in_host grep -q "192.168.122" /proc/net/nf_conntrack; then
	fail "nf_conntrack tracked guest traffic"
fi
pass
