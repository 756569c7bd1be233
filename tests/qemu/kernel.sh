#!/bin/sh
# Print the path of the kernel image used for QEMU guests: $QNAT_KERNEL if
# set, else the newest Debian cloud kernel (/boot/vmlinuz-*-cloud-amd64,
# package linux-image-cloud-amd64). Exits 1 with a message if there is none.
set -eu

if [ -n "${QNAT_KERNEL:-}" ]; then
	if [ ! -r "$QNAT_KERNEL" ]; then
		echo "kernel.sh: QNAT_KERNEL=$QNAT_KERNEL is not readable" >&2
		exit 1
	fi
	echo "$QNAT_KERNEL"
	exit 0
fi

k=$(for f in /boot/vmlinuz-*-cloud-amd64; do
	[ -e "$f" ] && echo "$f"
done | sort -V | tail -n 1)
if [ -z "$k" ]; then
	echo "kernel.sh: no /boot/vmlinuz-*-cloud-amd64" \
		"(apt-get install linux-image-cloud-amd64)" >&2
	exit 1
fi
if [ ! -r "$k" ]; then
	echo "kernel.sh: $k is not readable (run as root)" >&2
	exit 1
fi
echo "$k"
