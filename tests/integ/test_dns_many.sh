#!/bin/bash
# DNS to an outside resolver from many guests at once (issue 3), through
# libvirt's iptables MASQUERADE (the oracle) and then through qnat-bpf: ext
# runs a real resolver (dnsmasq answering the zone example.test); 8 guests
# each send 200 A queries at the same moment, 150 from sockets on random
# source ports and 50 over one socket that every guest binds to port 5300,
# at most 24 outstanding per guest.  Every query must be answered to the
# guest that asked, on the socket that asked, with its ID, its name and the
# zone's address; the resolver must see every query, all from the uplink
# address, from 1208 distinct ports, port 5300 for one guest only.  Under
# qnat-bpf, ct show must hold each guest's 151 flows, replied, on distinct
# outside ports, and busybox nslookup checks a stock client too.  (Nothing
# leaks onto the uplink: lib.sh's uplink capture.)
#
#   g1 192.168.122.11 ==veth== ┐
#   ...                         virbr0 [kernel: iptables | qnat: qnat-bpf] host up0 198.51.100.1 ==veth== eth0 198.51.100.2 ext
#   g8 192.168.122.18 ==veth== ┘                                                            dnsmasq :53 example.test
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/diff_lib.sh"
need dnsmasq iptables

GUESTS=8 PER_GUEST=200 SHARED=50 SHARED_PORT=5300 ZONE_ADDR=203.0.113.7
# Sockets, i.e. flows to the resolver: each guest's random-port ones and its shared one.
FLOWS=$((GUESTS * (PER_GUEST - SHARED + 1)))

# CLIENT NAME SERVER DIR N SHARED PORT ADDR: opens its sockets, creates
# DIR/ready-NAME, and once DIR/go exists fires N queries (SHARED of them on
# PORT); prints "NAME sent N answered N wrong N missing N in S s" and exits
# 0 only if every answer came back right (ADDR).
CLIENT='
import os, random, selectors, socket, struct, sys, time
name, server, d = sys.argv[1], sys.argv[2], sys.argv[3]
n, shared, shared_port, want = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
window = 24

def qname(s):
    return b"".join(bytes([len(l)]) + l.encode() for l in s.split(".")) + b"\0"

shared_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
shared_sock.bind(("", shared_port))
queries = []                     # (socket, id, name)
used = set()
for i in range(n):
    if i % (n // shared) == 0:
        s = shared_sock
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("", 0))          # a random source port, as a stub resolver uses
    while True:
        qid = random.randrange(65536)
        if (s.fileno(), qid) not in used:
            break
    used.add((s.fileno(), qid))
    queries.append((s, qid, "q%d.%s.example.test" % (i, name)))

sel = selectors.DefaultSelector()
for s in {q[0] for q in queries}:
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
pending = {}                     # (fileno, id) -> name
answered = wrong = 0
open(os.path.join(d, "ready-" + name), "w").close()
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.005)
start = time.time()
nxt = 0
deadline = time.time() + 20
while (nxt < n or pending) and time.time() < deadline:
    while nxt < n and len(pending) < window:
        s, qid, qn = queries[nxt]
        s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname(qn) + b"\0\1\0\1", (server, 53))
        pending[(s.fileno(), qid)] = qn
        nxt += 1
    for key, _ in sel.select(0.5):
        while True:
            try:
                msg, peer = key.fileobj.recvfrom(2048)
            except BlockingIOError:
                break
            qid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
            qn = pending.pop((key.fileobj.fileno(), qid), None)
            q = qname(qn) if qn else b""
            ok = (qn and peer == (server, 53) and flags & 0x800f == 0x8000 and qd == 1 and an >= 1
                  and msg[12:12 + len(q)].lower() == q and msg[-4:] == socket.inet_aton(want))
            if ok:
                answered += 1
            else:
                wrong += 1
                print("wrong answer on port %d from %s: id %d %r" % (key.fileobj.getsockname()[1], peer, qid, msg), file=sys.stderr)
print("%s sent %d answered %d wrong %d missing %d in %.2f s" % (name, nxt, answered, wrong, len(pending), time.time() - start))
sys.exit(0 if answered == n and wrong == 0 else 1)
'

# burst: the resolver in ext, the guests, every guest's queries at once.
# Checks the answers, and what the resolver saw: every query, only ever from
# the uplink address, from as many outside ports as the guests had sockets
# (distinct tuples), and port SHARED_PORT for one guest's socket only.
burst() {
	local i pids=() bad=0 total=$((GUESTS * PER_GUEST)) seen
	bg in_ext dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
		--listen-address="$EXT_ADDR" --port=53 --address=/example.test/"$ZONE_ADDR" \
		--log-queries=extra --log-facility="$MW/resolver.log" --pid-file= 2>>"$MW/resolver.log"
	wait_for 5 grep -q "started" "$MW/resolver.log" || fail "$MODE: the resolver did not start"
	for i in $(seq "$GUESTS"); do
		guest_veth "g$i"
		guest_addr "g$i" "192.168.122.$((10 + i))"
	done
	for i in $(seq "$GUESTS"); do
		in_guest "g$i" "$PY" -c "$CLIENT" "g$i" "$EXT_ADDR" "$MW" "$PER_GUEST" "$SHARED" "$SHARED_PORT" "$ZONE_ADDR" \
			>"$MW/client-g$i" 2>&1 &
		pids+=($!)
	done
	# All at once: every guest has its sockets open before the first query.
	ready() { [ "$(compgen -G "$MW/ready-*" | wc -l)" = "$GUESTS" ]; }
	wait_for 60 ready || fail "$MODE: the clients did not get ready"
	touch "$MW/go"
	for i in $(seq "$GUESTS"); do
		wait "${pids[i - 1]}" || bad=$((bad + 1))
		log "$MODE: $(cat "$MW/client-g$i")"
	done
	[ "$bad" = 0 ] || fail "$MODE: $bad of $GUESTS guests did not get every answer right"

	# "... SERIAL ADDR/PORT query[A] NAME from ADDR": the ADDR/PORT of each query.
	sed -nE 's|.* ([0-9.]+/[0-9]+) query\[A\] q[0-9]+\.g[0-9]+\.example\.test from .*|\1|p' "$MW/resolver.log" >"$MW/seen"
	seen=$(wc -l <"$MW/seen")
	[ "$seen" = "$total" ] || fail "$MODE: the resolver logged $seen queries, expected $total"
	[ "$(cut -d/ -f1 "$MW/seen" | sort -u)" = "$HOST_ADDR" ] ||
		fail "$MODE: the resolver saw queries from $(cut -d/ -f1 "$MW/seen" | sort -u | tr '\n' ' ')"
	[ "$(sort -u "$MW/seen" | wc -l)" = "$FLOWS" ] ||
		fail "$MODE: the resolver saw $(sort -u "$MW/seen" | wc -l) source ports, expected $FLOWS"
	[ "$(grep -c "/$SHARED_PORT\$" "$MW/seen")" = "$SHARED" ] ||
		fail "$MODE: $(grep -c "/$SHARED_PORT\$" "$MW/seen") queries came from port $SHARED_PORT, expected one guest's $SHARED"
	log "$MODE: $total queries from $GUESTS guests at once, every one answered to its guest; the resolver saw $FLOWS ports of $HOST_ADDR"
}

# The oracle: a bridge and libvirt's rules (MASQUERADE), as in diff_lib.sh.
MODE=kernel T=${T0}k NS_HOST=${T0}kh NS_EXT=${T0}ke MW=$WORK/kernel UPLINK_CAPTURE_KIND=kernel
mkdir -p "$MW"
topo_init
ip -n "$NS_HOST" link add "$BR" type bridge || fail "bridge"
ip -n "$NS_HOST" addr add "$GATEWAY/24" dev "$BR"
ip -n "$NS_HOST" link set "$BR" up
in_host sysctl -qw net.ipv4.ip_forward=1
libvirt_rules || fail "iptables rules"
burst
diff_mode_end

MODE=qnat T=${T0}q NS_HOST=${T0}qh NS_EXT=${T0}qe MW=$WORK/qnat UPLINK_CAPTURE_KIND=qnat
mkdir -p "$MW"
topo_init
attach
burst
# Conntrack: each guest's 150 random-port sockets and its shared socket,
# one flow each to the resolver, replied, every outside port distinct.
ct=$(qnat ct show "$BR" --proto udp --dst "$EXT_ADDR")
flows=$(echo "$ct" | grep -c " dport=53 .* sport=53 ")
[ "$flows" = "$FLOWS" ] || fail "ct show: $flows flows to the resolver, expected $FLOWS"
for i in $(seq "$GUESTS"); do
	n=$(echo "$ct" | grep -c "src=192.168.122.$((10 + i)) dst=$EXT_ADDR ")
	[ "$n" = $((FLOWS / GUESTS)) ] || fail "ct show: g$i has $n flows, expected $((FLOWS / GUESTS))"
done
ports=$(echo "$ct" | grep -oE "dst=$HOST_ADDR sport=53 dport=[0-9]+" | cut -d= -f4)
[ "$(echo "$ports" | sort -u | wc -l)" = "$FLOWS" ] || fail "ct show: two flows share an outside port"
shared=$(echo "$ct" | grep -E "sport=$SHARED_PORT dport=53 ")
[ "$(echo "$shared" | wc -l)" = "$GUESTS" ] || fail "ct show: not $GUESTS flows from port $SHARED_PORT"
kept=$(echo "$shared" | grep -c "dst=$HOST_ADDR sport=53 dport=$SHARED_PORT ")
[ "$kept" = 1 ] || fail "ct show: port $SHARED_PORT kept for $kept guests, expected exactly 1"
echo "$ct" | grep " dport=53 " | grep -vq "REPLIED" && fail "ct show: a flow to the resolver was never replied"
log "ct show: $flows flows to the resolver, all replied, $flows outside ports, port $SHARED_PORT kept once"

out=$(in_guest g1 busybox nslookup www.example.test "$EXT_ADDR" 2>&1)
echo "$out" | grep -q "Address: $ZONE_ADDR" || fail "busybox nslookup through qnat-bpf: $out"
pass
