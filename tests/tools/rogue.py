#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A hostile guest's frames, and a victim that counts what reaches it.

  rogue.py send IFACE KIND COUNT [SRC6 [DST6 [TARGET6]]]
  rogue.py recv IFACE SRCMAC SECS [ADDR6]

send KIND, COUNT times, from IFACE's MAC:
  dhcp4     a DHCPOFFER (UDP 67 -> 68) to the broadcast address
  dhcp6     a DHCPv6 ADVERTISE (UDP 547 -> 546) to ff02::1
  ra        a router advertisement (prefix fd00:bad::/64, autonomous) to ff02::1
  ra-hbh    the same behind a Hop-by-Hop options header
  ra-frag   the same behind a fragment header (an atomic fragment)
  redirect  an ICMPv6 redirect to ff02::1
  na        an unsolicited, overriding neighbour advertisement for TARGET6
  udp6      a UDP datagram SRC6 -> DST6 port 7777
SRC6 defaults to fe80::bad (a link-local source, as routers use).

recv counts, for SECS seconds, the frames from SRCMAC that are any of the
above (and, with ADDR6, any IPv6 frame from ADDR6 or advertising it), and
prints "dhcp4 N dhcp6 N ra N redirect N na N from6 N"; it prints "ready"
once listening.
"""
import socket
import struct
import sys
import time

from inetcsum import csum

ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
BCAST = b"\xff" * 6
ALL_NODES_MAC = bytes.fromhex("333300000001")


def a6(s):
    return socket.inet_pton(socket.AF_INET6, s)


def l4_csum(src, dst, proto, seg):
    return csum(src + dst + struct.pack("!IxxxB", len(seg), proto) + seg) or 0xFFFF


def ip6(src, dst, nh, payload, hops=255):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hops) + src + dst + payload


def udp6(src, dst, sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    seg = seg[:6] + struct.pack("!H", l4_csum(src, dst, 17, seg)) + seg[8:]
    return ip6(src, dst, 17, seg, 64)


def icmp6(src, dst, body):
    seg = body[:2] + b"\0\0" + body[4:]
    return seg[:2] + struct.pack("!H", l4_csum(src, dst, 58, seg)) + seg[4:]


def ra_body(mac):
    prefix = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + a6("fd00:bad::")
    lladdr = struct.pack("!BB", 1, 1) + mac
    return struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + prefix + lladdr


def frame(kind, mac, src6, dst6, target6):
    src = a6(src6)
    if kind == "dhcp4":
        bootp = struct.pack("!BBBBIHH4s4s4s4s16s", 2, 1, 6, 0, 0x1234, 0, 0x8000, b"\0" * 4,
                            socket.inet_aton("192.168.122.222"), socket.inet_aton("192.168.122.66"),
                            b"\0" * 4, b"\xff" * 16)
        bootp += b"\0" * 192 + b"\x63\x82\x53\x63" + b"\x35\x01\x02" + b"\x36\x04\xc0\xa8\x7a\x42" + b"\xff"
        udp = struct.pack("!HHHH", 67, 68, 8 + len(bootp), 0) + bootp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                         socket.inet_aton("192.168.122.66"), b"\xff" * 4)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        return BCAST + mac + struct.pack("!H", ETH_P_IP) + ip + udp
    dst = a6(dst6)
    if kind == "dhcp6":
        pkt = udp6(src, dst, 547, 546, b"\x02\x12\x34\x56")
    elif kind == "udp6":
        pkt = udp6(src, dst, 7777, 7777, b"spoofed")
    elif kind == "ra":
        pkt = ip6(src, dst, 58, icmp6(src, dst, ra_body(mac)))
    elif kind == "ra-hbh":
        pkt = ip6(src, dst, 0, struct.pack("!BB", 58, 0) + b"\x01\x04\0\0\0\0" + icmp6(src, dst, ra_body(mac)))
    elif kind == "ra-frag":
        pkt = ip6(src, dst, 44, struct.pack("!BBHI", 58, 0, 0, 0x5A5A) + icmp6(src, dst, ra_body(mac)))
    elif kind == "redirect":
        body = struct.pack("!BBHI", 137, 0, 0, 0) + a6("fe80::bad") + a6("fd00:122::30")
        pkt = ip6(src, dst, 58, icmp6(src, dst, body))
    elif kind == "na":
        body = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + a6(target6) + struct.pack("!BB", 2, 1) + mac
        pkt = ip6(src, dst, 58, icmp6(src, dst, body))
    else:
        sys.exit("rogue.py: unknown kind " + kind)
    # Every IPv6 kind goes to the all-nodes MAC: the bridge floods it to every port.
    return ALL_NODES_MAC + mac + struct.pack("!H", ETH_P_IPV6) + pkt


def send(iface, kind, count, src6="fe80::bad", dst6="ff02::1", target6="::"):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    f = frame(kind, s.getsockname()[4], src6, dst6, target6)
    for _ in range(count):
        s.send(f)
        time.sleep(0.01)


def classify(f, addr6):
    """The kinds a frame is (several may apply)."""
    kinds = []
    proto = struct.unpack("!H", f[12:14])[0]
    if proto == ETH_P_IP and len(f) >= 14 + 28 and f[23] == 17:
        ihl = (f[14] & 15) * 4
        if struct.unpack("!H", f[14 + ihl:16 + ihl])[0] == 67:
            kinds.append("dhcp4")
    if proto != ETH_P_IPV6 or len(f) < 54:
        return kinds
    src, nh, off = f[22:38], f[20], 54
    for _ in range(4):
        if nh in (0, 43, 60) and len(f) >= off + 2:
            nh, off = f[off], off + (f[off + 1] + 1) * 8
        elif nh == 44 and len(f) >= off + 8:
            nh, off = f[off], off + 8
    if addr6 and src == addr6:
        kinds.append("from6")
    if nh == 17 and len(f) >= off + 8 and struct.unpack("!H", f[off:off + 2])[0] == 547:
        kinds.append("dhcp6")
    if nh == 58 and len(f) > off:
        t = f[off]
        if t == 134:
            kinds.append("ra")
        elif t == 137:
            kinds.append("redirect")
        elif t == 136 and addr6 and f[off + 8:off + 24] == addr6:
            kinds.append("na")
    return kinds


def recv(iface, srcmac, secs, addr6=None):
    want = bytes(int(x, 16) for x in srcmac.split(":"))
    addr = a6(addr6) if addr6 else None
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.2)
    counts = dict.fromkeys(("dhcp4", "dhcp6", "ra", "redirect", "na", "from6"), 0)
    print("ready", flush=True)
    end = time.time() + secs
    while time.time() < end:
        try:
            f, meta = s.recvfrom(65535)
        except socket.timeout:
            continue
        if meta[2] == socket.PACKET_OUTGOING or f[6:12] != want:
            continue
        for k in classify(f, addr):
            counts[k] += 1
    print(" ".join("%s %d" % kv for kv in counts.items()), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "send":
        send(a[1], a[2], int(a[3]), *a[4:7])
    elif len(a) >= 4 and a[0] == "recv":
        recv(a[1], a[2], float(a[3]), *a[4:5])
    else:
        sys.exit(__doc__)
