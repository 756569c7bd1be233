# libvirt's ip6tables rules for a NAT network with <nat ipv6='yes'/> and
# <ip family='ipv6' address='fd00:122::1' prefix='64'/> on virbr0: the IPv6
# half of libvirt-iptables.sh (its LIBVIRT_FWX, FWI, FWO and PRT chains'
# rules, in their order), the oracle of tests/integ/test_diff_ipv6.sh.  No
# multicast exemptions: libvirt adds those for IPv4 only.  Run with sh -e
# inside the host namespace.
ip6tables -A FORWARD -i virbr0 -o virbr0 -j ACCEPT
ip6tables -A FORWARD -d fd00:122::/64 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ip6tables -A FORWARD -s fd00:122::/64 -i virbr0 -j ACCEPT
ip6tables -A FORWARD -i virbr0 -j REJECT
ip6tables -A FORWARD -o virbr0 -j REJECT
ip6tables -t nat -A POSTROUTING -s fd00:122::/64 ! -d fd00:122::/64 -p tcp -j MASQUERADE --to-ports 1024-65535
ip6tables -t nat -A POSTROUTING -s fd00:122::/64 ! -d fd00:122::/64 -p udp -j MASQUERADE --to-ports 1024-65535
ip6tables -t nat -A POSTROUTING -s fd00:122::/64 ! -d fd00:122::/64 -j MASQUERADE
