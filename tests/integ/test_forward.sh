#!/bin/bash
# Port forwards from outside, from the host itself (loopback and the uplink
# address) and from guests by the uplink address (hairpin): TCP and UDP, single ports and ranges, added
# and removed at runtime without disturbing open connections, conflicts
# refused, and forwards kept across a supervisor SIGKILL + re-attach; del of
# one port of a range refused, del without an address, an identical re-add,
# a forward to a free address (warned), and a localhost-only forward.
#
#   g1 192.168.122.89 ==veth== ┐
#                            virbr0 [qnat-bpf] host up0 198.51.100.1 ==veth== 198.51.100.2 ext (client)
#   g2 192.168.122.90 ==veth== ┘  (hairpin client)
. "$(dirname "$0")/lib.sh"

# The socket hooks live on the root cgroup, shared with any other instance:
# ours are the ones that use our config map.
cgroot=$(findmnt -t cgroup2 -n -o TARGET | head -1)
map_ids() { bpftool prog show id "$1" 2>/dev/null | grep -oE 'map_ids [0-9,]+' | cut -d' ' -f2 | tr , ' '; }
our_hooks() {
	local out cfg=
	out=$(in_host tc filter show dev "$UPLINK" egress | grep -oE 'id [0-9]+' | head -1 | cut -d' ' -f2)
	for m in $(map_ids "$out"); do
		bpftool map show id "$m" 2>/dev/null | grep -q "name qnat_config" && cfg=$m
	done
	for id in $(bpftool cgroup show "$cgroot" 2>/dev/null | awk '/sock_(connect|sendmsg|recvmsg)4/ {print $1}'); do
		map_ids "$id" | grep -qw "$cfg" && echo "$id"
	done
}
attached_hooks() { bpftool cgroup show "$cgroot" 2>/dev/null | awk '/sock_/ {print $1}'; }

topo_init
attach --forward tcp:8080:192.168.122.89:80
[ "$(our_hooks | wc -l)" = 3 ] || fail "attach did not add its three socket hooks"
guest_veth g1
guest_addr g1 192.168.122.89
# Guest services: TCP 80 and 9000-9002 say who they are and who called; UDP 53 echoes.
for p in 80 9000 9001 9002; do
	bg in_guest g1 socat TCP-LISTEN:$p,bind=192.168.122.89,reuseaddr,fork SYSTEM:"echo guest-$p \$SOCAT_PEERADDR; cat"
done
bg in_guest g1 socat UDP-RECVFROM:53,bind=192.168.122.89,reuseaddr,fork SYSTEM:'read l; echo udp-$l'
sleep 0.3

ask() { echo "${3:-x}" | in_ext socat -t 2 - "$1:$HOST_ADDR:$2" 2>/dev/null | head -1; }

# From outside, through the forward given to attach; the guest sees the real client.
out=$(ask TCP 8080)
[ "$out" = "guest-80 $EXT_ADDR" ] || fail "tcp 8080 via --forward: got '$out'"

# Runtime add: a TCP range and a UDP port.
qnat forward add "$BR" tcp 9000-9002 192.168.122.89 || fail "forward add range"
qnat forward add "$BR" udp 5353 192.168.122.89:53 || fail "forward add udp"
[ "$(ask TCP 9001)" = "guest-9001 $EXT_ADDR" ] || fail "tcp range port 9001"
[ "$(ask TCP 9002)" = "guest-9002 $EXT_ADDR" ] || fail "tcp range port 9002"
[ "$(ask UDP 5353 hello)" = "udp-hello" ] || fail "udp forward 5353 -> 53"

# From the host itself, to loopback and to the uplink address (socket hooks);
# the guest sees the host's gateway address as the caller.
hask() { echo "${3:-x}" | in_host socat -t 2 - "$1:$2" 2>/dev/null | head -1; }
[ "$(hask TCP 127.0.0.1:8080)" = "guest-80 $GATEWAY" ] || fail "host -> 127.0.0.1:8080: got '$(hask TCP 127.0.0.1:8080)'"
[ "$(hask TCP "$HOST_ADDR":9000)" = "guest-9000 $GATEWAY" ] || fail "host -> $HOST_ADDR:9000"
[ "$(hask UDP 127.0.0.1:5353 local)" = "udp-local" ] || fail "host udp -> 127.0.0.1:5353"
# The host's own services on other ports are untouched.
bg in_host socat TCP-LISTEN:7070,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo host-7070; cat'
wait_for 5 in_host socat -u /dev/null TCP:127.0.0.1:7070 || fail "host service did not start"
[ "$(hask TCP 127.0.0.1:7070)" = "host-7070" ] || fail "an unforwarded host port was redirected"

# Hairpin: another guest, and the server guest itself, by the uplink address;
# the server sees the gateway as the caller, so its answer comes back through us.
guest_veth g2
guest_addr g2 192.168.122.90
gask() { echo "${4:-x}" | in_guest "$1" socat -t 2 - "$2:$3" 2>/dev/null | head -1; }
[ "$(gask g2 TCP "$HOST_ADDR":8080)" = "guest-80 $GATEWAY" ] || fail "hairpin g2 -> $HOST_ADDR:8080: '$(gask g2 TCP "$HOST_ADDR":8080)'"
[ "$(gask g1 TCP "$HOST_ADDR":9002)" = "guest-9002 $GATEWAY" ] || fail "hairpin g1 -> itself by $HOST_ADDR:9002"
[ "$(gask g2 UDP "$HOST_ADDR":5353 pin)" = "udp-pin" ] || fail "hairpin udp g2 -> $HOST_ADDR:5353"
qnat stats "$BR" --json | grep -qE '"hairpin":\{"packets":[1-9]' || fail "hairpin counter did not move"

# The guest's own ICMP errors reach the client translated: a forward to a
# closed UDP port is refused, as through DNAT.
qnat forward add "$BR" udp 5999 192.168.122.89 || fail "forward add udp 5999"
out=$(echo x | in_ext socat -t 2 - UDP:"$HOST_ADDR":5999 2>&1)
echo "$out" | grep -qi "refused" || fail "the guest's port unreachable did not reach the client: $out"
qnat forward del "$BR" udp 5999 || fail "forward del udp 5999"

list=$(qnat forward list "$BR")
echo "$list" | grep -qE "tcp +\*:8080 -> 192.168.122.89:80 +hits 3" || { echo "$list" >&2; fail "list: 8080 rule/hits"; }
echo "$list" | grep -qE "tcp +\*:9000-9002 -> 192.168.122.89:9000-9002 +hits 4" || { echo "$list" >&2; fail "list: range"; }
qnat forward list "$BR" --json | grep -q '"host_port":5353' || fail "forward list --json"
qnat status "$BR" | grep -q "8080 -> 192.168.122.89:80" || fail "status does not show forwards"

# Conflicts: already forwarded, guest outside the subnet, a listening host socket.
err=$(qnat forward add "$BR" tcp 9001 192.168.122.90 2>&1) && fail "overlapping forward accepted"
echo "$err" | grep -q "already forwarded" || fail "overlap error unclear: $err"
err=$(qnat forward add "$BR" tcp 7000 10.1.2.3 2>&1) && fail "guest outside the subnet accepted"
echo "$err" | grep -q "not a guest address" || fail "subnet error unclear: $err"
bg in_host socat TCP-LISTEN:7777,reuseaddr,fork SYSTEM:'echo host-7777; cat'
wait_for 5 in_host socat -u /dev/null TCP:127.0.0.1:7777 || fail "host listener did not start"
err=$(qnat forward add "$BR" tcp 7777 192.168.122.89:80 2>&1) && fail "forward over a listening host port accepted"
echo "$err" | grep -q "in use by a socket on the host" || fail "listener error unclear: $err"
qnat forward add "$BR" tcp 7777 192.168.122.89:80 --force || fail "--force refused"
qnat forward del "$BR" tcp 7777 || fail "forward del 7777"
err=$(qnat forward del "$BR" tcp 7778 2>&1) && fail "deleting a missing forward succeeded"

# One port of a range is not deleted alone: refused, naming the range, nothing changed; the
# range goes by its whole range.
qnat forward add "$BR" udp "$HOST_ADDR":5300-5302 192.168.122.89:53 || fail "forward add udp range"
err=$(qnat forward del "$BR" udp "$HOST_ADDR":5302 2>&1) && fail "del of one port deleted the range"
echo "$err" | grep -qF "udp $HOST_ADDR:5302 is part of the forward of 5300-5302: delete the whole range" ||
	fail "del of one port: $err"
qnat forward list "$BR" | grep -qF "udp $HOST_ADDR:5300-5302 ->" || fail "a refused del changed the range"
qnat forward del "$BR" udp "$HOST_ADDR":5300-5302 || fail "del by the whole range"
qnat forward list "$BR" | grep -q ":530[0-2]" && fail "the range is still there"
# Without an address, del finds the one forward on that port.
qnat forward add "$BR" udp "$HOST_ADDR":5300 192.168.122.89:53 || fail "forward add $HOST_ADDR:5300"
qnat forward del "$BR" udp 5300 || fail "del udp 5300 did not find $HOST_ADDR:5300"
qnat forward list "$BR" | grep -q ":5300 " && fail "del udp 5300 left $HOST_ADDR:5300"
# Re-adding an identical forward succeeds and says so; a forward to an address no guest has warns.
out=$(qnat forward add "$BR" tcp 9000-9002 192.168.122.89 2>&1) || fail "re-adding an identical forward: $out"
echo "$out" | grep -q "already forwarded to 192.168.122.89, as asked" || fail "re-add says: $out"
out=$(qnat forward add "$BR" tcp 7100 192.168.122.150 2>&1) || fail "forward to a free address refused: $out"
echo "$out" | grep -q "warning: no guest has 192.168.122.150" || fail "no warning for a free address: $out"
qnat forward del "$BR" tcp 7100 || fail "del 7100"
# Localhost-only (QEMU hostfwd=tcp:127.0.0.1:2223-:22): from the host itself, not from outside.
bg in_guest g1 socat TCP-LISTEN:22,bind=192.168.122.89,reuseaddr,fork SYSTEM:"echo guest-22 \$SOCAT_PEERADDR; cat"
wait_for 5 in_guest g1 socat -u /dev/null TCP:192.168.122.89:22 || fail "guest port 22 did not start"
qnat forward add "$BR" tcp 127.0.0.1:2223 192.168.122.89:22 || fail "localhost-only forward refused"
[ "$(hask TCP 127.0.0.1:2223)" = "guest-22 $GATEWAY" ] || fail "host -> 127.0.0.1:2223: '$(hask TCP 127.0.0.1:2223)'"
[ -z "$(ask TCP 2223)" ] || fail "a localhost-only forward answers from outside"
qnat forward del "$BR" tcp 127.0.0.1:2223 || fail "del 127.0.0.1:2223"

# An open forwarded connection survives adding and removing other forwards,
# removing its own forward (existing flows are kept), and a supervisor SIGKILL.
coproc CONN { in_ext socat - TCP:"$HOST_ADDR":8080 2>/dev/null; }
read -r -t 3 greet <&"${CONN[0]}" || fail "no greeting on the long connection"
[ "${greet%% *}" = guest-80 ] || fail "long connection greeting '$greet'"
talk() { echo "$1" >&"${CONN[1]}"; read -r -t 3 back <&"${CONN[0]}" && [ "$back" = "$1" ]; }
talk one || fail "long connection: first exchange"
qnat forward add "$BR" tcp 9100 192.168.122.89:9000 || fail "add during connection"
qnat forward del "$BR" tcp 9100 || fail "del during connection"
qnat forward del "$BR" tcp 8080 || fail "del own forward"
talk two || fail "long connection broke when forwards changed"
[ -z "$(ask TCP 8080)" ] || fail "8080 still forwarded after del"

qnat forward add "$BR" tcp 8080 192.168.122.89:80 || fail "re-add 8080"
sup=$(cat /run/qnat-bpf/ns"$(ip netns exec "$NS_HOST" stat -L -c %i /proc/self/ns/net)"/"$BR"/supervisor.pid)
kill -9 "$sup"
attach --forward tcp:8080:192.168.122.89:80
talk three || fail "long connection broke across supervisor SIGKILL + re-attach"
qnat forward list "$BR" | grep -q "9000-9002" || fail "runtime forwards lost across re-attach"
[ "$(ask TCP 9000)" = "guest-9000 $EXT_ADDR" ] || fail "forward after re-attach"

# Detach removes them: the port leads nowhere.
exec {CONN[1]}>&-
ours=$(our_hooks)
[ "$(echo "$ours" | wc -l)" = 3 ] || fail "re-attach did not leave exactly its three socket hooks: $ours"
qnat detach "$BR" || fail "detach"
[ -z "$(ask TCP 9000)" ] || fail "forward still works after detach"
left=$(comm -12 <(echo "$ours" | sort) <(attached_hooks | sort))
[ -z "$left" ] || fail "detach left socket hooks on the root cgroup: $left"
pass
