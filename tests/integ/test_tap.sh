#!/bin/bash
# Guests behind real TAPs (taprelay stands in for QEMU), added after attach:
# the supervisor attaches tc_port_in to each new TAP by itself (status lists
# it as a tap, tc shows the program, the guest's packets are translated by
# it: snat_fast), the guest leases an address and reaches ext by ICMP, TCP
# and UDP.  A port that leaves the bridge (nomaster, or its TAP vanishing
# with its process) is forgotten within seconds.  Then, re-attached with
# --xdp native on the veth uplink, a TAP guest downloads 1 MB from ext intact
# while the replies are reverse-NATed in XDP and redirected into the TAP
# (rnat_xdp counts them).
#
#   g1 eth0 (tap) <-taprelay-> t-g1 ┐
#   g2 eth0 (tap) <-taprelay-> t-g2 ┤ virbr0 192.168.122.1 [qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g3 eth0 (tap) <-taprelay-> t-g3 ┘   (phase 2: XDP native on up0)
. "$(dirname "$0")/lib.sh"
need jq tc

# counter NAME packets|bytes: the data plane's counter now.
counter() { qnat stats "$BR" --json | jq -e ".counters.$1.$2"; }
port_listed() { qnat status "$BR" --json | jq -e --arg n "$1" '.[0].ports | any(.name == $n and .kind == "tap")'; }
port_gone() { qnat status "$BR" --json | jq -e --arg n "$1" '.[0].ports | all(.name != $n)'; }
has_port_prog() { in_host tc filter show dev "$1" ingress | grep -q tc_port_in; }
taprelay_pid() { pgrep -xf "$TAPRELAY t-$1 ${T}$1 eth0"; }

topo_init
attach
qnat status "$BR" --json | jq -e . >/dev/null || fail "status --json is not valid JSON"
qnat stats "$BR" --json | jq -e . >/dev/null || fail "stats --json is not valid JSON"

# --- Phase 1: TAP guest joins after attach; the supervisor takes it over.
guest_tap g1
wait_for 5 port_listed t-g1 || { qnat status "$BR" >&2; fail "status does not list t-g1 as a tap port"; }
qnat status "$BR" | grep -E "ports:.* t-g1[ #(].*tap" >/dev/null || { qnat status "$BR" >&2; fail "status text does not show t-g1 as tap"; }
has_port_prog t-g1 || { in_host tc filter show dev t-g1 ingress >&2; fail "no tc_port_in on t-g1 ingress"; }
a1=$(guest_dhcp g1)
log "lease: g1=$a1"
case "$a1" in 192.168.122.*) ;; *) fail "g1 lease $a1 not in $SUBNET" ;; esac

ext_tcp_echo 8080
ext_udp_echo 5353
snat0=$(counter snat_fast packets) || fail "no snat_fast counter"
rnat0=$(counter rnat_tc packets) || fail "no rnat_tc counter"

in_guest g1 busybox ping -c 3 -W 2 "$EXT_ADDR" >/dev/null || fail "g1 cannot ping ext through its TAP"
out=$(printf 'one\ntwo\n' | in_guest g1 socat -t 2 - TCP:"$EXT_ADDR":8080,sourceport=40011) || fail "g1 tcp failed"
[ "$out" = "$(printf 'echo:one\necho:two')" ] || fail "g1 tcp answer '$out'"
out=$(echo hi-udp | in_guest g1 socat -t 2 - UDP:"$EXT_ADDR":5353,sourceport=40012) || fail "g1 udp failed"
[ "$out" = "echo:hi-udp" ] || fail "g1 udp answer '$out'"

# The TAP's own program translated the guest's packets (not the uplink's
# egress catch-all), and replies went straight back to the TAP from TC.
snat1=$(counter snat_fast packets)
rnat1=$(counter rnat_tc packets)
[ $((snat1 - snat0)) -ge 8 ] || fail "snat_fast grew by $((snat1 - snat0)) only: t-g1's program did not translate"
[ $((rnat1 - rnat0)) -ge 8 ] || fail "rnat_tc grew by $((rnat1 - rnat0)) only: replies did not go straight to the TAP"
ct=$(qnat ct show "$BR")
echo "$ct" | grep -q "src=$a1 dst=$EXT_ADDR sport=40011 dport=8080" || { echo "$ct" >&2; fail "ct show lacks g1's tcp flow"; }
echo "$ct" | grep -q "src=$a1 dst=$EXT_ADDR sport=40012 dport=5353" || { echo "$ct" >&2; fail "ct show lacks g1's udp flow"; }

# Ports leaving the bridge are forgotten: taken out of the bridge...
in_host ip link set t-g1 nomaster
wait_for 5 port_gone t-g1 || { qnat status "$BR" >&2; fail "t-g1 left the bridge but status still lists it"; }
! has_port_prog t-g1 || fail "tc_port_in still on t-g1 after it left the bridge"
# ...or deleted with the process holding the TAP.
guest_tap g2
wait_for 5 port_listed t-g2 || fail "status does not list t-g2"
pid=$(taprelay_pid g2) || fail "no taprelay for g2"
kill "$pid"
wait_for 5 port_gone t-g2 || { qnat status "$BR" >&2; fail "t-g2 vanished but status still lists it"; }

# --- Phase 2: native XDP on the uplink redirects replies into a TAP.
qnat detach "$BR" || fail "detach failed"
attach --xdp native
qnat status "$BR" --json | jq -e '.[0].uplink_xdp == "native"' >/dev/null || fail "status does not show native XDP"
in_host ip -d link show "$UPLINK" | grep -qw "xdp" || fail "no native XDP program on $UPLINK"
guest_tap g3
wait_for 5 port_listed t-g3 || fail "status does not list t-g3"
a3=$(guest_dhcp g3)
log "lease: g3=$a3"

head -c 1048576 /dev/urandom >"$WORK/blob"
bg in_ext socat -u OPEN:"$WORK/blob" TCP-LISTEN:9000,bind="$EXT_ADDR",reuseaddr
wait_for 5 in_ext sh -c "ss -Hltn 'sport = :9000' | grep -q ."  || fail "file server did not start"
xdp0=$(counter rnat_xdp packets)
xdpb0=$(counter rnat_xdp bytes)
in_guest g3 timeout 20 socat -u TCP:"$EXT_ADDR":9000 OPEN:"$WORK/blob.out",creat,trunc || fail "g3 download failed"
cmp "$WORK/blob" "$WORK/blob.out" || fail "g3 received different data"
xdp1=$(counter rnat_xdp packets)
xdpb1=$(counter rnat_xdp bytes)
log "rnat_xdp: +$((xdp1 - xdp0)) packets, +$((xdpb1 - xdpb0)) bytes"
[ "$xdp1" -gt "$xdp0" ] || fail "rnat_xdp did not grow: replies were not redirected by XDP"
# Every data segment took the XDP path, not just the handshake.
[ $((xdpb1 - xdpb0)) -ge 1048576 ] || fail "only $((xdpb1 - xdpb0)) bytes of 1 MB went through XDP"
pass
