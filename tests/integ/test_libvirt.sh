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
#   - IPv6 <ip>, as libvirt maps it: <nat ipv6='yes'/> is --masq6, a nat
#     network without it and route/open ones --route6, the address
#     --gateway6, its <dhcp><range> --dhcp6-range (dry runs); a real attach
#     from such XML where a SLAAC guest pings ext over NAT66; a /56, two
#     IPv6 <ip>s, a bad address, an isolated network, an IPv6 <host>:
#     refused in one line, nothing changed
. "$(dirname "$0")/lib.sh"
FIX=$ROOT/tests/libvirt

# The IPv6 real attach's prefix: its --masq6 comes from the XML, not the command line.
SUBNET6=fd00:126::/64
LEAK6_PREFIX=$SUBNET6
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
log "malformed XML, another root, <bandwidth>, <portgroup>, forward modes bridge/hostdev/passthrough, bad option values: refused by name"

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

# IPv6 (libvirt's <ip family='ipv6'>).  xml6 FORWARD [IP6-ATTRS [IP6-INNER]]: a network with it.
xml6() {
	echo "<network><name>v6</name><bridge name='virbr6'/>$1
  <ip address='10.6.0.1' prefix='24'><dhcp><range start='10.6.0.2' end='10.6.0.99'/></dhcp></ip>
  <ip family='ipv6' ${2:-address='fd00:6::1' prefix='64'}>${3-<dhcp><range start='fd00:6::100' end='fd00:6::1ff'/></dhcp>}</ip>
</network>"
}
# dry6 WHAT FORWARD [...]: a dry run of xml6's network, nothing changed; its output in $WORK/v6.out.
dry6() {
	local what=$1
	shift
	xml6 "$@" | qnat attach --libvirt-xml - --dry-run >"$WORK/v6.out" 2>"$WORK/v6.err" ||
		fail "$what: dry run: $(cat "$WORK/v6.err")"
	nothing_changed virbr6 "$what"
}
# has LINE... / hasnt ERE: the dry run's settings for $what.
has() { for l in "$@"; do grep -qxF "$l" "$WORK/v6.out" || fail "$what: no '$l' in: $(grep -v '^timeout' "$WORK/v6.out")"; done; }
hasnt() { ! grep -qE "$1" "$WORK/v6.out" || fail "$what: '$1' in: $(grep -E "$1" "$WORK/v6.out")"; }
NAT6="<forward mode='nat'><nat ipv6='yes'/></forward>"
# NAT66 masquerades behind the uplink's global IPv6 address: without one, the dry run says so.
xml6 "$NAT6" | qnat attach --libvirt-xml - --dry-run >"$WORK/out" 2>"$WORK/err" && fail "masq6 without uplink IPv6: accepted"
[ "$(wc -l <"$WORK/err")" = 1 ] && grep -q "no global IPv6 address" "$WORK/err" ||
	fail "masq6 without uplink IPv6: $(cat "$WORK/err")"
nothing_changed virbr6 "masq6 without uplink IPv6"
topo_ip6
what="<nat ipv6='yes'/>"
dry6 "$what" "$NAT6"
has "masq 10.6.0.0/24" "mode nat" "masq6 fd00:6::/64" "gateway6 fd00:6::1" \
	"dhcp6-range fd00:6::100,fd00:6::1ff"
hasnt '^route6 '
section "dnsmasq configuration" "$WORK/v6.out" >"$WORK/v6.conf"
grep -qx "enable-ra" "$WORK/v6.conf" && grep -qx "dhcp-range=fd00:6::100,fd00:6::1ff,slaac,64" "$WORK/v6.conf" ||
	fail "<nat ipv6='yes'/>: no RA and DHCPv6 range in: $(cat "$WORK/v6.conf")"
in_host dnsmasq --test --conf-file="$WORK/v6.conf" >/dev/null 2>"$WORK/test.err" ||
	fail "<nat ipv6='yes'/>: dnsmasq refuses it: $(cat "$WORK/test.err")"
# The order of the elements does not matter: <forward> after the IPv6 <ip>.
{ echo "<network><bridge name='virbr6'/><ip family='ipv6' address='fd00:6::1' prefix='64'/>"
  echo "<ip address='10.6.0.1' prefix='24'/>$NAT6</network>"; } |
	qnat attach --libvirt-xml - --dry-run >"$WORK/v6.out" 2>"$WORK/v6.err" || fail "<forward> last: $(cat "$WORK/v6.err")"
what="<forward> last"
has "masq6 fd00:6::/64" "gateway6 fd00:6::1"
# libvirt routes IPv6 on a nat network without ipv6='yes', and on route and open ones.
for fw in "<forward mode='nat'/>" "<forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>" \
	"<forward mode='route'/>" "<forward mode='open'/>"; do
	what=$fw
	dry6 "$fw" "$fw" "address='fd00:6::1'" ""
	has "route6 fd00:6::/64" "gateway6 fd00:6::1"
	hasnt '^(masq6|dhcp6-range) '
	section "dnsmasq configuration" "$WORK/v6.out" | grep -qx "dhcp-range=fd00:6::,ra-only,64" ||
		fail "$fw: no ra-only range: $(section "dnsmasq configuration" "$WORK/v6.out")"
done
log "IPv6 <ip>: <nat ipv6='yes'/> gives masq6 and gateway6 and dhcp6-range (dnsmasq --test accepts it), in any order; nat without it, route and open give route6; nothing changed"

# What cannot be honoured in IPv6: one line naming it, nothing changed.
bad6() {
	local what=$1
	xml6 "${4-$NAT6}" "$2" "${5-}" | qnat attach --libvirt-xml - >"$WORK/out" 2>"$WORK/err" && fail "$what: accepted"
	[ "$(wc -l <"$WORK/err")" = 1 ] || fail "$what: not one line: $(cat "$WORK/err")"
	grep -qF "$3" "$WORK/err" || fail "$what: '$(cat "$WORK/err")' does not name '$3'"
	nothing_changed virbr6 "$what"
	log "  $what: $(cat "$WORK/err")"
}
bad6 "prefix 56" "address='fd00:6::1' prefix='56'" "<ip family='ipv6' prefix='56'>"
bad6 "two IPv6 <ip>s" "address='fd00:6::1' prefix='64'/><ip family='ipv6' address='fd00:7::1' prefix='64'" \
	"a second IPv6 one"
bad6 "a bad IPv6 address" "address='fd00:6::zz' prefix='64'" "<ip family='ipv6' address='fd00:6::zz'>"
bad6 "an IPv4 address as IPv6" "address='10.6.0.1' prefix='64'" "not an IPv6 address"
bad6 "the /64's own address" "address='fd00:6::' prefix='64'" "<ip family='ipv6' address='fd00:6::'>"
bad6 "an isolated network" "address='fd00:6::1' prefix='64'" "isolated" ""
bad6 "an IPv6 <host>" "address='fd00:6::1' prefix='64'" "<host> in an IPv6 <dhcp>" "$NAT6" \
	"<dhcp><host id='0:4:7e:7d:f0:7d:a8:bc:c5:d2:13:32:11:ed:16:ea:84:63' ip='fd00:6::10'/></dhcp>"
bad6 "a <lease> in an IPv6 <range>" "address='fd00:6::1' prefix='64'" "<lease> in an IPv6 <range>" "$NAT6" \
	"<dhcp><range start='fd00:6::100' end='fd00:6::1ff'><lease expiry='1' unit='hours'/></range></dhcp>"
log "IPv6 refusals: a /56, two IPv6 <ip>s, bad addresses, isolated, IPv6 <host> and <lease>: one line each, nothing changed"

# A real attach from such XML: a SLAAC guest reaches ext over NAT66.
qnat detach "$BR" >&2 || fail "detach $BR"
BR=virbr6
xml6 "$NAT6" "address='fd00:126::1' prefix='64'" "" | qnat attach --libvirt-xml - >&2 || fail "attach from the IPv6 XML"
qnat status "$BR" | grep -q "ipv6 masquerade $SUBNET6 gateway fd00:126::1" || fail "status: $(qnat status "$BR")"
guest_veth g6
a6=$(guest_slaac g6 "$SUBNET6")
in_guest g6 busybox ping -6 -c 2 -W 2 "$EXT6_ADDR" >/dev/null || fail "the SLAAC guest $a6 cannot ping6 ext"
log "attach from IPv6 XML: SLAAC $a6 pings6 $EXT6_ADDR, masqueraded"
pass
