#!/bin/bash
# libvirt's network XML as attach's input (--libvirt-xml, issue 13), and
# --dry-run on every form of attach.
#   - tests/libvirt/default.xml (libvirt's default network) and full.xml (every
#     element qnat-bpf takes): the dnsmasq configuration carries the directives
#     libvirt writes for the same XML (tests/libvirt/*.conf, in libvirt's
#     order; the state directory spelled DIR), and dnsmasq --test accepts it
#   - --dry-run changes nothing, and gives the same files from options, from
#     a config file and from the XML
#   - malformed XML and elements qnat-bpf cannot honour: one line naming the
#     element, nothing changed
#   - a real attach from the XML on stdin: a guest gets a lease and a name
#     from --dns-host, and reaches ext
. "$(dirname "$0")/lib.sh"
FIX=$ROOT/tests/libvirt

topo_init

# The section of a dry run after "# NAME", up to the next section.
section() { awk -v h="# $1" '$0 == h { on = 1; next } /^# (dnsmasq configuration|dnsmasq hosts file)$/ { on = 0 } on' "$2"; }
nothing_changed() {
	! in_host ip link show "$1" >/dev/null 2>&1 || fail "$2: $1 was created"
	[ -z "$(in_host sh -c "ls -d /run/qnat-bpf/ns$(ns_inode "$NS_HOST")/$1 2>/dev/null")" ] || fail "$2: a state directory for $1"
	! pgrep -f "qnat-bpf/ns$(ns_inode "$NS_HOST")/$1/dnsmasq.conf" >/dev/null || fail "$2: dnsmasq started for $1"
}
# Every line of the expected file, in its order, among the generated ones.
libvirt_lines() {
	local want=$1 got=$2 dir
	dir=$(sed -n 's|^pid-file=\(.*\)/dnsmasq.pid$|\1|p' "$got")
	[ -n "$dir" ] || fail "$want: no pid-file line in the generated configuration"
	sed "s|$dir|DIR|g" "$got" >"$got.norm"
	awk 'NR == FNR { want[++n] = $0; next } i < n && $0 == want[i + 1] { i++ } END { if (i < n) { print want[i + 1]; exit 1 } }' \
		"$want" "$got.norm" >"$WORK/missing" ||
		{ cat "$got.norm" >&2; fail "$(basename "$want"): libvirt's '$(cat "$WORK/missing")' missing or out of order"; }
	in_host dnsmasq --test --conf-file="$got" >/dev/null 2>"$WORK/test.err" ||
		fail "$(basename "$want"): dnsmasq refuses it: $(cat "$WORK/test.err")"
}

# libvirt's default network.
qnat attach --libvirt-xml "$FIX/default.xml" --dry-run >"$WORK/default.out" || fail "dry run of default.xml"
nothing_changed virbr0 "dry run of default.xml"
grep -qx "masq 192.168.122.0/24" "$WORK/default.out" && grep -qx "gateway 192.168.122.1" "$WORK/default.out" &&
	grep -qx "uplink $UPLINK" "$WORK/default.out" && grep -qx "mode nat" "$WORK/default.out" ||
	fail "default.xml's settings: $(cat "$WORK/default.out")"
section "dnsmasq configuration" "$WORK/default.out" >"$WORK/default.conf"
libvirt_lines "$FIX/default.conf" "$WORK/default.conf"
[ -z "$(section "dnsmasq hosts file" "$WORK/default.out")" ] || fail "default.xml has no static hosts"

# The same network from options and from a config file: the same dry run.
qnat attach virbr0 --masq 192.168.122.0/24 --dry-run >"$WORK/opts.out" || fail "dry run with options"
printf 'masq 192.168.122.0/24\n' >"$WORK/virbr0.conf"
qnat attach virbr0 --config "$WORK/virbr0.conf" --dry-run >"$WORK/config.out" || fail "dry run with --config"
diff "$WORK/default.out" "$WORK/opts.out" >&2 || fail "default.xml and the options differ"
diff "$WORK/default.out" "$WORK/config.out" >&2 || fail "default.xml and the config file differ"
nothing_changed virbr0 "dry runs with options and --config"
log "default.xml: libvirt's directives; the same dry run from options and a config file; nothing changed"

# Every element.
qnat attach --libvirt-xml - --dry-run <"$FIX/full.xml" >"$WORK/full.out" || fail "dry run of full.xml"
nothing_changed virbr7 "dry run of full.xml"
for want in "port-range 20000-29999" "mtu 1400" "domain lab.example" domain-local-only "dhcp-lease-time 2h" \
	"dns-host 192.168.100.5,printer" "dns-host 192.168.100.5,printer.lab.example" "uplink $UPLINK" \
	"dhcp-option option:ntp-server,192.168.100.1"; do
	grep -qxF "$want" "$WORK/full.out" || fail "full.xml: no '$want' in $(cat "$WORK/full.out")"
done
section "dnsmasq configuration" "$WORK/full.out" >"$WORK/full.conf"
libvirt_lines "$FIX/full.conf" "$WORK/full.conf"
grep -qx "dhcp-option=option:ntp-server,192.168.100.1" "$WORK/full.conf" || fail "full.xml: the <dhcp><option>"
section "dnsmasq hosts file" "$WORK/full.out" >"$WORK/full.hosts"
printf '52:54:00:aa:00:01,192.168.100.10,db\n52:54:00:aa:00:02,192.168.100.11,web.lab.example\n' |
	diff - "$WORK/full.hosts" >&2 || fail "full.xml's hosts file"
log "full.xml: every element, libvirt's directives, dnsmasq --test accepts them"

# What cannot be honoured, and what is not XML: one line naming it, nothing changed.
bad() {
	local what=$1 xml=$2
	echo "$xml" | qnat attach --libvirt-xml - >"$WORK/out" 2>"$WORK/err" && fail "$what: accepted"
	[ "$(wc -l <"$WORK/err")" = 1 ] || fail "$what: not one line: $(cat "$WORK/err")"
	grep -qF "$3" "$WORK/err" || fail "$what: '$(cat "$WORK/err")' does not name '$3'"
	nothing_changed virbr9 "$what"
}
NET="<network><bridge name='virbr9'/><forward mode='nat'/>"
IP="<ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.2' end='10.9.0.9'/></dhcp></ip>"
bad "truncated XML" "$NET$IP" "not libvirt network XML"
bad "another root" "<domain type='kvm'/>" "not <network>"
bad "<bandwidth>" "$NET<bandwidth><inbound average='1000'/></bandwidth>$IP</network>" "<bandwidth>"
bad "<portgroup>" "$NET<portgroup name='x'/>$IP</network>" "<portgroup>"
bad "IPv6 <ip>" "$NET$IP<ip family='ipv6' address='fd00::1' prefix='64'/></network>" "<ip> family='ipv6'"
for m in bridge hostdev passthrough; do
	bad "forward mode $m" "<network><bridge name='virbr9'/><forward mode='$m'/>$IP</network>" "<forward> mode='$m'"
done
bad "a bad address" "$NET<ip address='10.9.0.300' prefix='24'/></network>" "<ip address='10.9.0.300'>"
bad "a bad range" "$NET<ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.2' end='x'/></dhcp></ip></network>" \
	"<range>"
# The same settings as options: bad values are one line, nothing changed.
# badopt KEYWORD OPTION...: refused, saying KEYWORD.
badopt() {
	local kw=$1
	shift
	qnat attach virbr9 --masq 10.9.0.0/24 "$@" >"$WORK/out" 2>"$WORK/err" && fail "$*: accepted"
	[ "$(wc -l <"$WORK/err")" = 1 ] && grep -qF -- "$kw" "$WORK/err" || fail "$*: $(cat "$WORK/err")"
	nothing_changed virbr9 "$*"
}
badopt --dns-host --dns-host 10.9.0.5
badopt --dns-host --dns-host 10.9.0.5,-bad-
badopt --dhcp-lease-time --dhcp-lease-time 0
badopt --dhcp-lease-time --dhcp-lease-time 3x
badopt --domain --domain "a b"
badopt "not a host name" --host 52:54:00:aa:00:01,10.9.0.10,web..example
badopt --dns-txt --dns-txt "$(printf 'a,b\nserver=6.6.6.6')"
badopt "--forward needs --mode nat" --mode isolated --forward tcp:8080:10.9.0.10:80
log "malformed XML, another root, <bandwidth>, <portgroup>, IPv6, forward modes bridge/hostdev/passthrough, bad option values: refused by name"

# A real attach from the XML on stdin, with the DNS options on top.
in_host ip link add "$BR" type bridge || fail "bridge"
in_host ip link set "$BR" up
qnat attach --libvirt-xml - --domain lab.example --dns-host 192.168.122.7,printer.lab.example \
	--host 52:54:00:aa:bb:99,192.168.122.99,vm1.lab.example <"$FIX/default.xml" || fail "attach from default.xml"
guest_veth g1
ext_tcp_echo 7000
addr=$(guest_dhcp g1)
in_guest g1 busybox nslookup printer.lab.example "$GATEWAY" 2>&1 | grep -q 192.168.122.7 ||
	fail "--dns-host: printer.lab.example"
in_guest g1 busybox nslookup vm1.lab.example "$GATEWAY" 2>&1 | grep -q 192.168.122.99 || fail "an FQDN --host"
out=$(echo hi | in_guest g1 timeout 5 socat -T 2 - TCP:"$EXT_ADDR":7000)
[ "$out" = echo:hi ] || fail "the guest does not reach ext: '$out'"
log "attach from default.xml on stdin: lease $addr, --dns-host and FQDN --host names, out to ext"
pass
