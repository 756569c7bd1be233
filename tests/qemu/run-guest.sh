#!/bin/sh
# Boot a throwaway QEMU guest on a TAP, in the background.
#
# Usage: run-guest.sh TAPNAME MAC FETCH_IP:PORT LOGFILE [TIMEOUT_SECS]
#
# Starts qemu-system-x86_64 (TCG; KVM first with QNAT_QEMU_KVM=1) with the
# Debian cloud kernel (kernel.sh) and the test initramfs (mkinitramfs.sh,
# cached as ${TMPDIR:-/tmp}/qnat-initramfs-UID.cpio.gz and rebuilt when
# missing or older than these scripts or the kernel), with one
# virtio-net-pci NIC with address MAC on "-netdev tap,ifname=TAPNAME".
# QEMU creates TAPNAME itself in the current network namespace, as an
# operator's QEMU would, unless a TAP of that name already exists.
#
# It does NOT wait for the guest: it prints QEMU's pid on stdout and returns
# at once, so the caller can attach TAPNAME to a bridge once it appears
# (poll "ip link show TAPNAME"; it appears well before the guest's DHCP).
# QEMU is not a child of the caller (a small keeper process is, and reaps
# it at once): wait for it by polling "kill -0 PID", or watch LOGFILE for
# QNAT-DONE. The keeper kills QEMU (TERM, then KILL 3 s later) after
# TIMEOUT_SECS (default 120); killing PID earlier is fine.
# Environment: QEMU (binary, default qemu-system-x86_64), QNAT_QEMU_ARGS
# (extra arguments, word-split, e.g. "-machine q35"), QNAT_KERNEL (kernel.sh),
# QNAT_IFUP (QEMU's script= for the TAP, as an operator sets it; default: none).
#
# LOGFILE gets the guest's serial console and QEMU's own errors. The guest
# prints QNAT-DHCP-OK IP/PREFIX router GW (or QNAT-DHCP-FAIL), then, unless
# FETCH is "-", sends "hello-from-guest\n" over TCP to FETCH_IP:PORT and
# prints QNAT-FETCH-OK <first answer line> (or QNAT-FETCH-FAIL), then
# QNAT-UPTIME <secs> and QNAT-DONE, and powers off (QEMU exits).
set -eu

die() {
	echo "run-guest.sh: $*" >&2
	exit 1
}

[ $# -eq 4 ] || [ $# -eq 5 ] ||
	die "usage: run-guest.sh TAPNAME MAC FETCH_IP:PORT|- LOGFILE [TIMEOUT_SECS]"
tap=$1
mac=$2
fetch=$3
log=$4
timeout=${5:-120}

if [ ${#tap} -lt 1 ] || [ ${#tap} -gt 15 ]; then
	die "bad TAP name: $tap"
fi
x='[0-9a-fA-F][0-9a-fA-F]'
# shellcheck disable=SC2254 # $x is a pattern on purpose
case "$mac" in
$x:$x:$x:$x:$x:$x) ;;
*) die "bad MAC: $mac" ;;
esac
case "$fetch" in
-) ;;
*[!0-9.:]* | *:*:* | :* | *:) die "bad FETCH_IP:PORT: $fetch" ;;
*:*) ;;
*) die "bad FETCH_IP:PORT: $fetch" ;;
esac
case "$timeout" in
'' | *[!0-9]* | 0) die "bad TIMEOUT_SECS: $timeout" ;;
esac

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null ||
	die "$qemu not found (apt-get install qemu-system-x86)"
here=$(cd "$(dirname "$0")" && pwd)
kernel=$("$here/kernel.sh")

initrd=${TMPDIR:-/tmp}/qnat-initramfs-$(id -u).cpio.gz
if [ ! -s "$initrd" ] || [ -n "$(find "$here/mkinitramfs.sh" \
	"$here/run-guest.sh" "$here/kernel.sh" "$kernel" -newer "$initrd")" ]; then
	"$here/mkinitramfs.sh" "$initrd" >&2
fi

append="console=ttyS0 panic=-1 quiet"
[ "$fetch" = - ] || append="$append qnat.fetch=$fetch"
# TCG unless asked: a /dev/kvm that opens is no proof that KVM runs a guest
# (nested KVM on this project's test VMs hangs before the kernel's first line).
accel="-accel tcg"
if [ "${QNAT_QEMU_KVM:-0}" = 1 ]; then
	accel="-accel kvm -accel tcg"	# QEMU falls back if KVM fails
fi

: >"$log"
# A background keeper starts QEMU, hands its pid out through the command
# substitution, then detaches from it and acts as watchdog. Being QEMU's
# parent it reaps QEMU at once (so "kill -0 PID" fails as soon as QEMU has
# exited) and a timed-out QEMU's pid cannot be reused before its kill -9.
qpid=$(
	(
		# shellcheck disable=SC2086 # $accel, $QNAT_QEMU_ARGS: split
		"$qemu" $accel ${QNAT_QEMU_ARGS:-} -m 256 -smp 1 -no-user-config \
			-nodefaults -nographic -no-reboot -serial stdio -monitor none \
			-kernel "$kernel" -initrd "$initrd" -append "$append" \
			-netdev "tap,id=n0,ifname=$tap,script=${QNAT_IFUP:-no},downscript=no" \
			-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=" \
			</dev/null >>"$log" 2>&1 &
		q=$!
		echo "$q"
		exec </dev/null >/dev/null 2>&1
		n=0
		limit=$((timeout * 5))
		while read -r _ _ st _ <"/proc/$q/stat" && [ "$st" != Z ]; do
			if [ "$n" -eq "$limit" ]; then
				echo "run-guest.sh: timeout after ${timeout}s," \
					"killing QEMU" >>"$log"
				kill "$q" || true
			elif [ "$n" -eq $((limit + 15)) ]; then
				kill -9 "$q" || true
			fi
			sleep 0.2
			n=$((n + 1))
		done
		wait "$q" || true
	) &
)
[ -n "$qpid" ] || die "could not start $qemu"
echo "$qpid"
