#!/bin/bash
# Leases survive detach and attach: dnsmasq's lease file lives under
# /var/lib/qnat-bpf/netns-NAME/BRIDGE/ (root's, 0700), not in /run.  The
# guest leases .X, the bridge is detached (and deleted) and attached again:
# the lease is still listed, the guest gets the same .X, and a forward to
# .X works again.  (lib.sh's cleanup removes this namespace's directory.)
. "$(dirname "$0")/lib.sh"

topo_init
attach
guest_veth g1
a=$(guest_dhcp g1)
dir=/var/lib/qnat-bpf/netns-$NS_HOST/$BR
[ -s "$dir/leases" ] || fail "no lease file in $dir"
grep -q " $a " "$dir/leases" || fail "$a not in $dir/leases: $(cat "$dir/leases")"
for d in /var/lib/qnat-bpf /var/lib/qnat-bpf/netns-"$NS_HOST" "$dir"; do
	[ "$(stat -c %a:%U "$d")" = 700:root ] || fail "$d is $(stat -c %a:%U "$d"), not 700:root"
done
bg in_guest g1 socat TCP-LISTEN:80,bind="$a",reuseaddr,fork SYSTEM:'echo guest-80'
qnat forward add "$BR" tcp 8080 "$a":80 || fail "forward add"
ask() { in_ext socat -t 2 - TCP:"$HOST_ADDR":8080 </dev/null 2>/dev/null | head -1; }
wait_for 5 sh -c "[ \"\$(ip netns exec $NS_EXT socat -t 2 - TCP:$HOST_ADDR:8080 </dev/null 2>/dev/null)\" = guest-80 ]" ||
	fail "forward to $a does not work"

qnat detach "$BR" || fail "detach"
[ -s "$dir/leases" ] || fail "detach removed the lease file"
attach
ip -n "$NS_HOST" link set v-g1 master "$BR" up || fail "enslave v-g1 again"
qnat dhcp leases "$BR" | grep -q " $a/24 " || fail "the lease of $a is gone after detach and attach: $(qnat dhcp leases "$BR")"
b=$(guest_dhcp g1)
[ "$b" = "$a" ] || fail "the guest moved from $a to $b"
qnat forward add "$BR" tcp 8080 "$a":80 || fail "forward add after attach"
[ "$(ask)" = guest-80 ] || fail "forward to $a does not work after detach and attach"
pass
