#!/bin/bash
# A real QEMU guest (virtio-net on a TAP that QEMU creates, TCG) on an
# attached bridge: the TAP is enslaved the way an operator's ifup script
# does it, the supervisor attaches to it by itself, the guest's kernel
# leases an address from the managed dnsmasq (192.168.122.0/24, router
# 192.168.122.1) and does a TCP exchange with ext through the NAT.  ct show
# lists the flow from the leased address; ext sees only the uplink address,
# with valid checksums (virtio hands over CHECKSUM_PARTIAL skbs).
#
#   QEMU guest virtio-net ── vnetN (tap, QEMU's) ── virbr0 192.168.122.1 [qnat-bpf]
#                                                   host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#                                                                                  (socat: "got-LINE")
. "$(dirname "$0")/lib.sh"
need jq
QEMU_KIT=$ROOT/tests/qemu
command -v "${QEMU:-qemu-system-x86_64}" >/dev/null || skip "no ${QEMU:-qemu-system-x86_64}"
"$QEMU_KIT/kernel.sh" >/dev/null 2>&1 || skip "no guest kernel ($("$QEMU_KIT/kernel.sh" 2>&1))"

PORT=7070
TAP=vnet$((RANDOM % 1000))
MAC=$(printf '52:54:00:%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))
GLOG=$WORK/guest.log

topo_init
# Complete checksums on the wire (as a NIC writes them): ext's tcpdump then
# checks what qnat-bpf made of the guest's partial checksums.
csum_full "$NS_HOST" "$UPLINK"
attach
# shellcheck disable=SC2016 # $l is the responder shell's
bg in_ext socat TCP-LISTEN:$PORT,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'read l; echo got-$l'
wait_for 5 in_ext sh -c "ss -Hltn 'sport = :$PORT' | grep -q ." || fail "responder on $PORT did not start"
capture_start all "ip"

# ct show, sampled while the guest runs: a flow must be seen before expiry.
bg sh -c "while :; do ip netns exec $NS_HOST $QNAT ct show $BR; sleep 0.3; done >$WORK/ct.log 2>&1"

qpid=$(in_host "$QEMU_KIT/run-guest.sh" "$TAP" "$MAC" "$EXT_ADDR:$PORT" "$GLOG" 90) || fail "run-guest.sh failed"
[ -n "$qpid" ] || fail "run-guest.sh printed no pid"
BG_PIDS+=("$qpid")
log "QEMU pid $qpid, tap $TAP, mac $MAC"
wait_for 30 in_host ip link show "$TAP" || { cat "$GLOG" >&2; fail "QEMU did not create $TAP"; }
# What an operator's ifup script does (QEMU runs with script=no).
in_host ip link set "$TAP" master "$BR" up || fail "cannot enslave $TAP"
port_on() { qnat status "$BR" --json | jq -e --arg n "$TAP" '.[0].ports | any(.name == $n and .kind == "tap")'; }
wait_for 5 port_on || { qnat status "$BR" >&2; fail "the supervisor did not attach to $TAP"; }
in_host tc filter show dev "$TAP" ingress | grep -q tc_port_in || fail "no tc_port_in on $TAP"

wait_for 60 grep -q QNAT-DONE "$GLOG" || { tail -30 "$GLOG" >&2; fail "the guest did not finish within 60 s"; }
# QEMU powers off by itself; once it is gone its pid must not be killed
# at cleanup (the keeper reaps it at once, the pid may be reused).
wait_for 10 sh -c "! kill -0 $qpid" || fail "QEMU did not exit after QNAT-DONE"
for i in "${!BG_PIDS[@]}"; do [ "${BG_PIDS[$i]}" = "$qpid" ] && unset "BG_PIDS[$i]"; done
glog=$(tr -d '\r' <"$GLOG")
dhcp=$(echo "$glog" | grep -m1 '^QNAT-DHCP-OK ') || { echo "$glog" | tail -30 >&2; fail "the guest got no DHCP lease"; }
log "$dhcp"
read -r _ cidr _ router <<<"$dhcp"
ip=${cidr%/*}
case "$ip" in 192.168.122.*) ;; *) fail "the guest leased $ip, not in $SUBNET" ;; esac
[ "${cidr#*/}" = 24 ] || fail "the guest's lease has prefix /${cidr#*/}, not /24"
[ "$router" = "$GATEWAY" ] || fail "the guest's router is $router, not $GATEWAY"
fetch=$(echo "$glog" | grep -m1 '^QNAT-FETCH') || fail "no fetch result in the guest log"
[ "$fetch" = "QNAT-FETCH-OK got-hello-from-guest" ] || { echo "$glog" | tail -20 >&2; fail "guest fetch: $fetch"; }

# The flow from the leased address, as ct show reported it.
flow="^tcp .*src=$ip dst=$EXT_ADDR sport=[0-9]+ dport=$PORT "
qnat ct show "$BR" >>"$WORK/ct.log" 2>&1
grep -Eq "$flow" "$WORK/ct.log" || { tail -20 "$WORK/ct.log" >&2; fail "ct show never listed tcp $ip -> $EXT_ADDR:$PORT"; }

dump=$(capture_stop all)
echo "$dump" | grep -Eq "$HOST_ADDR\.[0-9]+ > $EXT_ADDR\.$PORT:" || { echo "$dump" | head -20 >&2; fail "ext saw no connection from $HOST_ADDR"; }
if echo "$dump" | grep -q "192\.168\.122\."; then
	echo "$dump" | grep "192\.168\.122\." | head >&2
	fail "a guest address leaked onto the uplink"
fi
if echo "$dump" | grep -qiE "bad cksum|incorrect"; then
	echo "$dump" | grep -iE "bad cksum|incorrect" | head >&2
	fail "bad checksums seen outside"
fi
pass
