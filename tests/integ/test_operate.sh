#!/bin/bash
# Running it for real: make install/uninstall into a prefix, the systemd unit
# validated by systemd-analyze, the man page, --help everywhere, a config
# file read by attach --config and re-read on SIGHUP (forwards and static
# hosts change, open flows stay), the supervisor in the foreground as
# systemd runs it, and QEMU's script= helper putting a real guest's TAP on
# the bridge.
#
#   QEMU guest --tap (script=qemu-ifup)-- virbr0 [qnat-bpf --config FILE] host up0 ==veth== ext
. "$(dirname "$0")/lib.sh"
need make systemd-analyze man

# Staged install, as a package build does it: DESTDIR + PREFIX, nothing outside DESTDIR.
dest=$WORK/dest
make -C "$ROOT" --no-print-directory -s install DESTDIR="$dest" PREFIX=/usr >/dev/null || fail "make install DESTDIR"
for f in usr/sbin/qnat-bpf usr/share/man/man8/qnat-bpf.8 usr/libexec/qnat-bpf/qemu-ifup \
	usr/lib/systemd/system/qnat-bpf@.service etc/qnat-bpf/virbr0.conf.example etc/libvirt/hooks/network.d/qnat-bpf; do
	[ -e "$dest/$f" ] || fail "make install DESTDIR=... did not stage $f"
done
grep -q "ExecStart=/usr/sbin/qnat-bpf attach" "$dest/usr/lib/systemd/system/qnat-bpf@.service" ||
	fail "staged unit does not point at PREFIX (not DESTDIR)"
make -C "$ROOT" --no-print-directory -s uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null || fail "make uninstall DESTDIR"
[ -z "$(find "$dest" -type f)" ] || fail "make uninstall DESTDIR left files: $(find "$dest" -type f)"

# Install into a prefix, check, uninstall.
prefix=$WORK/prefix
make -C "$ROOT" --no-print-directory -s install PREFIX="$prefix" UNITDIR="$prefix/lib/systemd/system" \
	CONFDIR="$prefix/etc/qnat-bpf" LIBVIRT_HOOKDIR="$prefix/etc/libvirt/hooks/network.d" >/dev/null || fail "make install"
for f in sbin/qnat-bpf share/man/man8/qnat-bpf.8 libexec/qnat-bpf/qemu-ifup lib/systemd/system/qnat-bpf@.service \
	share/bash-completion/completions/qnat-bpf etc/qnat-bpf/virbr0.conf.example etc/libvirt/hooks/network.d/qnat-bpf; do
	[ -e "$prefix/$f" ] || fail "make install did not install $f"
done
"$prefix/sbin/qnat-bpf" help >/dev/null || fail "installed binary does not run"
grep -q "ExecStart=$prefix/sbin/qnat-bpf attach %i --config /etc/qnat-bpf/%i.conf --foreground" \
	"$prefix/lib/systemd/system/qnat-bpf@.service" || fail "unit's ExecStart does not point at the install"
mkdir -p "$WORK/units"
cp "$prefix/lib/systemd/system/qnat-bpf@.service" "$WORK/units/"
out=$(cd "$WORK/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$WORK/units/qnat-bpf@virbr0.service" 2>&1 |
	grep -v -e "ConditionPathExists" -e "not been booted with systemd" -e "Failed to prepare filename" -e "^$")
[ -z "$out" ] || fail "systemd-analyze verify: $out"
man -l "$prefix/share/man/man8/qnat-bpf.8" 2>/dev/null | grep -q "qnat-bpf attach BRIDGE --masq CIDR" || fail "man page"
bash -n "$prefix/share/bash-completion/completions/qnat-bpf" || fail "completion script does not parse"
make -C "$ROOT" --no-print-directory -s uninstall PREFIX="$prefix" UNITDIR="$prefix/lib/systemd/system" \
	CONFDIR="$prefix/etc/qnat-bpf" LIBVIRT_HOOKDIR="$prefix/etc/libvirt/hooks/network.d" >/dev/null || fail "make uninstall"
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
for c in attach detach status ct forward dhcp stats doctor; do
	"$QNAT" "$c" --help | grep -q "qnat-bpf $c" || fail "$c --help"
done

# A config file, the supervisor in the foreground as systemd runs it.
topo_init
conf=$WORK/virbr0.conf
cat >"$conf" <<CONF
# test configuration
masq $SUBNET
port-range 20000-30000
forward tcp:8080:192.168.122.89:80
host 52:54:00:cc:00:01,192.168.122.60,vm60
CONF
in_host "$QNAT" attach "$BR" --config "$conf" --foreground >"$WORK/fg.log" 2>&1 &
fg=$!
BG_PIDS+=($fg)
wait_for 10 sh -c "ip netns exec $NS_HOST $QNAT status $BR | grep -q 'running'" || { cat "$WORK/fg.log" >&2; fail "foreground attach"; }
qnat status "$BR" | grep -q "ports 20000-30000" || fail "config's port-range not applied"
qnat forward list "$BR" | grep -q "8080 -> 192.168.122.89:80" || fail "config's forward not applied"
hosts=/run/qnat-bpf/ns$(in_host stat -L -c %i /proc/self/ns/net)/$BR/hostsfile
grep -q "52:54:00:cc:00:01,192.168.122.60,vm60" "$hosts" || fail "config's host not applied"

# Reload: a forward and a host replaced; an open forwarded connection stays.
guest_veth g1
guest_addr g1 192.168.122.89
bg in_guest g1 socat TCP-LISTEN:80,bind=192.168.122.89,reuseaddr,fork SYSTEM:'cat'
sleep 0.3
coproc CONN { in_ext socat - TCP:"$HOST_ADDR":8080 2>/dev/null; }
talk() { echo "$1" >&"${CONN[1]}"; read -r -t 3 back <&"${CONN[0]}" && [ "$back" = "$1" ]; }
talk before || fail "forwarded connection before reload"
sed -i 's/^forward .*/forward tcp:9090:192.168.122.89:80/; s/^host .*/host 52:54:00:cc:00:02,192.168.122.61,vm61/' "$conf"
pid=$(qnat status "$BR" --json | grep -oE '"supervisor_pid":[0-9]+' | cut -d: -f2)
kill -HUP "$pid"
wait_for 5 sh -c "ip netns exec $NS_HOST $QNAT forward list $BR | grep -q 9090" || fail "reload did not add the new forward"
qnat forward list "$BR" | grep -q 8080 && fail "reload kept the removed forward"
grep -q "52:54:00:cc:00:02,192.168.122.61,vm61" "$hosts" || fail "reload did not add the new host"
grep -q "52:54:00:cc:00:01" "$hosts" && fail "reload kept the removed host"
talk after || fail "the open forwarded connection broke on reload"

# systemctl stop: SIGTERM ends the foreground supervisor, the data plane stays.
kill -TERM "$pid"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null" || fail "the foreground supervisor ignored SIGTERM"
qnat status "$BR" | grep -q "NOT RUNNING" || fail "supervisor still reported running after SIGTERM"
talk stopped || fail "flows dropped when the supervisor stopped"
exec {CONN[1]}>&-

# QEMU with script=qemu-ifup: the helper enslaves the TAP, the supervisor attaches.
kernel=$("$ROOT/tests/qemu/kernel.sh" 2>/dev/null) || skip "no guest kernel for the QEMU part"
need qemu-system-x86_64
attach --config "$conf"
bg in_ext socat TCP-LISTEN:7070,bind="$EXT_ADDR",reuseaddr,fork SYSTEM:'read l; echo got-$l'
tap=vq$$
qpid=$(QNAT_IFUP="$ROOT/dist/qemu-ifup" QNAT_BRIDGE="$BR" in_host "$ROOT/tests/qemu/run-guest.sh" "$tap" \
	52:54:00:cc:00:02 "$EXT_ADDR:7070" "$WORK/qemu.log" 60)
BG_PIDS+=($qpid)
wait_for 60 grep -q QNAT-DONE "$WORK/qemu.log" || { tail -20 "$WORK/qemu.log" >&2; fail "guest did not finish"; }
grep -q "QNAT-DHCP-OK 192.168.122.61/24" "$WORK/qemu.log" || { grep QNAT "$WORK/qemu.log" >&2; fail "guest did not get its static address"; }
grep -q "QNAT-FETCH-OK got-hello-from-guest" "$WORK/qemu.log" || fail "guest could not fetch through the NAT"
pass
