#!/bin/bash
# A guest behind qnat-bpf fetches a page from an "internet" host, all in
# network namespaces that are removed afterwards:
#
#   guest eth0 ==veth== vnet0 ┐
#                      virbr0 192.168.122.1 [qnat-bpf] host eth0 198.51.100.1 ==veth== 198.51.100.2 web
set -eu
cd "$(dirname "$0")/.."
QNAT=$PWD/build/qnat-bpf
id=$$
HOST=qdemo-host-$id WEB=qdemo-web-$id GUEST=qdemo-guest-$id
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
	set +e
	ip netns exec "$HOST" "$QNAT" detach virbr0 2>/dev/null
	[ -n "${web_pid:-}" ] && kill "$web_pid" 2>/dev/null
	for ns in "$GUEST" "$WEB" "$HOST"; do ip netns del "$ns" 2>/dev/null; done
	rm -f "${web:-}"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it builds network namespaces)" >&2; exit 1; }

step "A host with an uplink, and a web server outside"
for ns in "$HOST" "$WEB" "$GUEST"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add eth0 netns "$HOST" type veth peer name eth0 netns "$WEB"
ip -n "$HOST" addr add 198.51.100.1/24 dev eth0 && ip -n "$HOST" link set eth0 up
ip -n "$WEB" addr add 198.51.100.2/24 dev eth0 && ip -n "$WEB" link set eth0 up
ip -n "$HOST" route add default via 198.51.100.2
web=$(mktemp /tmp/qdemo-web.XXXXXX)
printf '#!/bin/sh\nread -r req\nprintf "HTTP/1.0 200 OK\\r\\n\\r\\nHello from outside. You are %%s\\n" "$SOCAT_PEERADDR"\n' >"$web"
chmod +x "$web"
ip netns exec "$WEB" socat TCP-LISTEN:80,bind=198.51.100.2,reuseaddr,fork EXEC:"$web" &
web_pid=$!

step "One command replaces libvirt's NAT network"
run ip netns exec "$HOST" "$QNAT" attach virbr0 --masq 192.168.122.0/24

step "A guest plugs into the bridge and asks for an address"
ip link add vnet0 netns "$HOST" type veth peer name eth0 netns "$GUEST"
ip -n "$HOST" link set vnet0 master virbr0 up
ip -n "$GUEST" link set eth0 up
run ip netns exec "$GUEST" busybox udhcpc -i eth0 -n -q -t 6 -T 1 -s "$PWD/tests/integ/udhcpc.script"
run ip -n "$GUEST" -4 -br addr show dev eth0

step "The guest fetches a page: the server sees the host's address"
sleep 0.2
printf 'GET / HTTP/1.0\r\n\r\n' | run ip netns exec "$GUEST" socat -t 2 - TCP:198.51.100.2:80

step "The flow, as qnat-bpf tracks it"
run ip netns exec "$HOST" "$QNAT" ct show virbr0
step "What is attached where"
run ip netns exec "$HOST" "$QNAT" status virbr0

step "Detach: the host is as it was"
run ip netns exec "$HOST" "$QNAT" detach virbr0
run ip -n "$HOST" -br link
