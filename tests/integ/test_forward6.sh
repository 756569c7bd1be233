#!/bin/bash
# IPv6 port forwards with --masq6 (issue 14): ext reaches g1's SLAAC
# address through [HOST6]:8080 (TCP) and [HOST6]:5353 (UDP), the guest sees
# ext's real address, and its port unreachable comes back translated;
# dnat_new counts them, ct show --family ipv6 shows the flow [FORWARD],
# forward list the rules; a port not forwarded stays closed, forward del
# closes it again; the forwards survive a supervisor SIGKILL + re-attach,
# which brings one more by --forward.  Refused, one line, nothing changed:
# an IPv6 forward on a network without --masq6, a guest outside the prefix,
# a host address not the uplink's IPv6 one, IPv4 mixed with IPv6, bad syntax.
#
#   g1 eth0 ==veth== v-g1 ─ virbr0 fd00:122::1 [qnat-bpf] host up0 2001:db8:ff::1 ==veth== 2001:db8:ff::2 ext (client)
. "$(dirname "$0")/lib.sh"
need jq

SUBNET6=fd00:122::/64
H6="[$HOST6_ADDR]"
topo_init
topo_ip6

# refused ARGS...: the command fails with one line of error, matching $PAT, and the rules stay as they were.
refused() {
	local before err
	before=$(qnat forward list "$BR" --json)
	err=$(qnat forward "$@" 2>&1) && fail "forward $* succeeded"
	[ "$(echo "$err" | wc -l)" = 1 ] || fail "forward $*: not one line: $err"
	echo "$err" | grep -q "$PAT" || fail "forward $*: unclear: $err"
	[ "$(qnat forward list "$BR" --json)" = "$before" ] || fail "a refused forward $* changed the rules"
}

# Without --masq6 there is no IPv6 to forward to.
attach
PAT="needs --masq6" refused add "$BR" tcp "$H6":8080 "[fd00:122::5]:80"
qnat detach "$BR" >&2 || fail "detach"

attach --masq6 "$SUBNET6"
guest_veth g1
a1=$(guest_slaac g1 "$SUBNET6")
log "SLAAC: g1=$a1"
ext6=$(ip6_full "$EXT6_ADDR")
bg in_guest g1 socat TCP6-LISTEN:80,bind=["$a1"],reuseaddr,fork SYSTEM:'a=${SOCAT_PEERADDR#[}; echo "guest-80 ${a%]}"; cat'
bg in_guest g1 socat UDP6-RECVFROM:53,bind=["$a1"],reuseaddr,fork SYSTEM:'read l; echo "udp-$l"'
bg in_guest g1 socat TCP6-LISTEN:81,bind=["$a1"],reuseaddr,fork SYSTEM:'echo guest-81; cat'
wait_for 5 sh -c "ip netns exec ${T}g1 ss -ltn | grep -q ':80 ' && ip netns exec ${T}g1 ss -ltn | grep -q ':81 '" || fail "g1's services did not start"

ask() { echo "${3:-x}" | in_ext socat -t 2 - "$1:$H6:$2,connect-timeout=2" 2>/dev/null | head -1; }

c0=$(counters)
qnat forward add "$BR" tcp "$H6":8080 "[$a1]:80" || fail "forward add tcp [HOST6]:8080"
qnat forward add "$BR" udp "$H6":5353 "[$a1]:53" || fail "forward add udp [HOST6]:5353"
out=$(ask TCP6 8080)
[ "$out" = "guest-80 $ext6" ] || fail "tcp [HOST6]:8080: got '$out', not the guest seeing $ext6"
out=$(ask UDP6 5353 hello)
[ "$out" = "udp-hello" ] || fail "udp [HOST6]:5353: got '$out'"
c1=$(counters)
[ "$(cdelta "$c0" "$c1" dnat_new)" -ge 2 ] || fail "dnat_new: $(cdelta "$c0" "$c1" dnat_new)"
ct=$(qnat ct show "$BR" --family ipv6 --proto tcp)
echo "$ct" | grep "src=$EXT6_ADDR dst=$HOST6_ADDR" | grep "dport=8080" | grep "src=$a1 dst=$EXT6_ADDR sport=80" |
	grep -q "\[FORWARD\]" || fail "ct show --family ipv6: no forwarded flow: $ct"
list=$(qnat forward list "$BR")
echo "$list" | grep -qF "tcp [$HOST6_ADDR]:8080 -> [$a1]:80  hits 1" || { echo "$list" >&2; fail "forward list: tcp rule"; }
echo "$list" | grep -qF "udp [$HOST6_ADDR]:5353 -> [$a1]:53" || { echo "$list" >&2; fail "forward list: udp rule"; }
qnat forward list "$BR" --json | jq -e ".forwards | any(.host_addr == \"$HOST6_ADDR\" and .host_port == 8080)" \
	>/dev/null || fail "forward list --json: $(qnat forward list "$BR" --json)"

# The guest's own ICMPv6 errors reach the client translated: a forward to a closed UDP port is refused.
qnat forward add "$BR" udp "$H6":5999 "[$a1]" || fail "forward add udp [HOST6]:5999"
out=$(echo x | in_ext socat -t 2 - UDP6:"$H6":5999 2>&1)
echo "$out" | grep -qi "refused" || fail "the guest's port unreachable did not reach the client: $out"
qnat forward del "$BR" udp "$H6":5999 || fail "forward del udp [HOST6]:5999"

# Not forwarded: closed (g1 listens on 81, but nothing leads there).
[ -z "$(ask TCP6 8081)" ] || fail "an unforwarded port reached the guest"
# IPv4 forwards are their own: an IPv4 rule on 8080 does not clash with the IPv6 one.
qnat forward add "$BR" tcp 8080 192.168.122.89:80 || fail "an IPv4 forward on 8080 clashed with the IPv6 one"
qnat forward del "$BR" tcp 8080 || fail "del the IPv4 forward on 8080"
[ "$(ask TCP6 8080)" = "guest-80 $ext6" ] || fail "deleting the IPv4 rule on 8080 took the IPv6 one"

# Refusals, one line each, nothing changed.
PAT="already forwarded" refused add "$BR" tcp "$H6":8080 "[$a1]:81"
PAT="not a guest address of fd00:122::/64" refused add "$BR" tcp "$H6":8082 "[fd00:999::5]:80"
PAT="not the uplink's IPv6 address" refused add "$BR" tcp "[2001:db8:ff::9]":8082 "[$a1]:80"
PAT="not both" refused add "$BR" tcp "$H6":8082 192.168.122.89:80
PAT="not both" refused add "$BR" tcp "$HOST_ADDR":8082 "[$a1]:80"
PAT="not both" refused add "$BR" tcp 8082 "[$a1]:80"
PAT="expected" refused add "$BR" tcp "$HOST6_ADDR":8082 "[$a1]:80"
PAT="expected" refused add "$BR" tcp "$H6" "[$a1]:80"
PAT="expected" refused add "$BR" tcp "$H6":8082 "$a1:80"
PAT="expected" refused add "$BR" tcp "[2001:db8:ff::1:8082" "[$a1]:80"
PAT="no forward of tcp \[$HOST6_ADDR\]:8083" refused del "$BR" tcp "$H6":8083

# The forward outlives its supervisor: SIGKILL, attach again, still there and working.
sup=$(cat /run/qnat-bpf/ns"$(ip netns exec "$NS_HOST" stat -L -c %i /proc/self/ns/net)"/"$BR"/supervisor.pid)
kill -9 "$sup"
# Gone (or a zombie), so that the attach repairs rather than finds it running.
wait_for 5 sh -c "[ ! -e /proc/$sup ] || [ \"\$(cut -d' ' -f3 /proc/$sup/stat)\" = Z ]" || fail "the supervisor outlived SIGKILL"
# The attach brings an IPv6 --forward too.
out=$(attach --masq6 "$SUBNET6" --forward "tcp:$H6:8090:[$a1]:80" 2>&1)
echo "$out" | grep -q "already attached" && fail "re-attach found the killed supervisor running: $out"
qnat forward list "$BR" | grep -qF "tcp [$HOST6_ADDR]:8080 -> [$a1]:80" || fail "the IPv6 forward is gone after re-attach"
[ "$(ask TCP6 8080)" = "guest-80 $ext6" ] || fail "tcp [HOST6]:8080 after re-attach"
[ "$(ask TCP6 8090)" = "guest-80 $ext6" ] || fail "tcp [HOST6]:8090 from --forward: $(qnat forward list "$BR")"
qnat forward del "$BR" tcp "$H6":8090 || fail "forward del tcp [HOST6]:8090"

# del closes it again.
qnat forward del "$BR" tcp "$H6":8080 || fail "forward del tcp [HOST6]:8080"
qnat forward del "$BR" udp "$H6":5353 || fail "forward del udp [HOST6]:5353"
qnat forward list "$BR" | grep -q "\[" && fail "forward list still shows IPv6 rules: $(qnat forward list "$BR")"
[ -z "$(ask TCP6 8080)" ] || fail "tcp [HOST6]:8080 still forwarded after del"
pass
