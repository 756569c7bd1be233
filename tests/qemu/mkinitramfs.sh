#!/bin/sh
# Build the tiny initramfs for qnat QEMU test guests.
#
# Usage: mkinitramfs.sh OUT.cpio.gz
#
# Contents: Debian's static busybox (/bin/busybox, package busybox-static),
# the virtio-net-pci driver stack of the kernel that kernel.sh picks (its
# /lib/modules/VERSION, or $QNAT_MODULES_DIR), an /init that does DHCP and
# an optional TCP exchange, and prints QNAT-* marker lines on the serial
# console (see the /init below). OUT is replaced atomically.
set -eu

die() {
	echo "mkinitramfs.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: mkinitramfs.sh OUT.cpio.gz"
out=$1
here=$(cd "$(dirname "$0")" && pwd)
bb=/bin/busybox

kernel=$("$here/kernel.sh")
kver=${kernel##*/vmlinuz-}
moddir=${QNAT_MODULES_DIR:-/lib/modules/$kver}
[ -r "$moddir/modules.dep" ] || die "no $moddir/modules.dep for $kernel"
if [ ! -x "$bb" ] || ! "$bb" --list | grep -qx udhcpc; then
	die "$bb missing or without udhcpc (apt-get install busybox-static)"
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/qnat-initramfs.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp.$$"' EXIT INT TERM

mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" \
	"$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp" "$stage/etc" \
	"$stage/lib/modules"
chmod 755 "$stage"
chmod 1777 "$stage/tmp"
cp "$bb" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"

# Module file (relative to $moddir) for a module name, "" if not a module.
modpath() {
	awk -F: -v n="$1" '{
		p = $1; sub(/.*\//, "", p); sub(/\.ko(\.(xz|zst|gz))?$/, "", p)
		gsub(/-/, "_", p)
		if (p == n) { print $1; exit }
	}' "$moddir/modules.dep"
}

# Append a module and, first, its dependencies. modules.dep lists the
# dependencies so that loading them last-to-first works (as modprobe does).
order=""
add_path() {
	case " $order " in *" $1 "*) return 0 ;; esac
	deps=$(awk -F: -v m="$1" '$1 == m { print $2; exit }' "$moddir/modules.dep")
	rev=""
	for d in $deps; do rev="$d $rev"; done
	for d in $rev; do add_path "$d"; done
	order="$order $1"
}

for m in virtio_pci virtio_net; do
	p=$(modpath "$m")
	if [ -n "$p" ]; then
		add_path "$p"
	elif grep -Eq "/$m\.ko" "$moddir/modules.builtin"; then
		:
	else
		die "module $m neither in $moddir/modules.dep nor built in"
	fi
done

: >"$stage/etc/qnat-modules"
for p in $order; do
	name=${p##*/}
	name=${name%%.ko*}
	case "$p" in
	*.ko.xz) xz -dc "$moddir/$p" >"$stage/lib/modules/$name.ko" ;;
	*.ko.zst) zstd -dcq "$moddir/$p" >"$stage/lib/modules/$name.ko" ;;
	*.ko.gz) gzip -dc "$moddir/$p" >"$stage/lib/modules/$name.ko" ;;
	*.ko) cp "$moddir/$p" "$stage/lib/modules/$name.ko" ;;
	*) die "unexpected module file $p" ;;
	esac
	echo "$name" >>"$stage/etc/qnat-modules"
done

cat >"$stage/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc hook: apply the lease with ip(8), record it in /tmp/lease.
# shellcheck disable=SC2154 # interface, ip, mask, ... come from udhcpc
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	prefix=$mask
	[ -n "$prefix" ] || eval "$(ipcalc -p "$ip" "${subnet:-255.255.255.255}")"
	prefix=${prefix:-$PREFIX}
	ip addr flush dev "$interface"
	ip addr add "$ip/$prefix" ${broadcast:+broadcast "$broadcast"} \
		dev "$interface"
	gw=
	for r in $router; do
		ip route add default via "$r" dev "$interface" && gw=$r && break
	done
	echo "$ip/$prefix router ${gw:-none}" >/tmp/lease
	;;
esac
exit 0
EOF

cat >"$stage/init" <<'EOF'
#!/bin/sh
# qnat test guest: DHCP on eth0, optional TCP exchange, then power off.
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
stty -onlcr 2>/dev/null	# plain LF line ends in the log
echo	# the firmware leaves the cursor mid-line: markers start lines

for m in $(cat /etc/qnat-modules); do
	insmod "/lib/modules/$m.ko" || echo "QNAT-INSMOD-FAIL $m"
done

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
	usleep 100000
	i=$((i + 1))
done
ip link set eth0 up

dhcp=0
if udhcpc -i eth0 -n -q -t 5 -T 2 -s /udhcpc.script >/tmp/udhcpc.log 2>&1 &&
   [ -s /tmp/lease ]; then
	dhcp=1
	echo "QNAT-DHCP-OK $(cat /tmp/lease)"
else
	cat /tmp/udhcpc.log
	echo "QNAT-DHCP-FAIL"
fi

fetch=
for arg in $(cat /proc/cmdline); do
	case "$arg" in qnat.fetch=*) fetch=${arg#qnat.fetch=} ;; esac
done
if [ -n "$fetch" ]; then
	ans=
	if [ $dhcp = 1 ]; then
		ans=$(echo hello-from-guest |
			timeout 15 nc -w 5 "${fetch%:*}" "${fetch##*:}" 2>/dev/null |
			head -n 1 | tr -d '\r')
	fi
	if [ -n "$ans" ]; then
		echo "QNAT-FETCH-OK $ans"
	else
		echo "QNAT-FETCH-FAIL"
	fi
fi

read -r up _ </proc/uptime
echo "QNAT-UPTIME $up"
echo "QNAT-DONE"
poweroff -f
EOF
chmod 755 "$stage/init" "$stage/udhcpc.script"

(cd "$stage" && find . | LC_ALL=C sort |
	"$bb" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
