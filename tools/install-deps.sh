#!/bin/sh
# Installs the Debian 12 packages qnat-bpf builds, runs and tests with.
set -e
if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (it uses apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
	make gcc libc6-dev clang llvm libclang-rt-14-dev pkg-config bpftool valgrind \
	libbpf-dev libelf-dev zlib1g-dev libnl-3-dev libnl-route-3-dev libxml2-dev libxml2-utils \
	iproute2 dnsmasq-base ethtool socat tcpdump busybox-static util-linux procps coturn jq python3 \
	qemu-system-x86 linux-image-cloud-amd64 iperf3 iptables nftables gnuplot-nox
