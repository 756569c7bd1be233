#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""VLAN-tagged frames for the tests (the kernel here has no 802.1Q devices).

  vlanframes.py send IFACE DSTMAC VID COUNT [DSTIP [SRCIP]]
  vlanframes.py recv IFACE VID COUNT [SECS]

send: COUNT 802.1Q frames (VID) from IFACE to DSTMAC, each IPv4/UDP from
SRCIP (10.60.0.1) to DSTIP (10.60.0.2) port 4789->4790, payloads of 200-1400
bytes that depend on their sequence number.
recv: waits for COUNT such frames, rebuilding a tag the kernel moved into
the packet's metadata; prints "got N tagged, B bad, U untagged" and exits
0 only when all COUNT arrived tagged with VID and byte for byte as sent.
"""
import socket
import struct
import sys
import time

from inetcsum import csum

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
SPORT, DPORT = 4789, 4790


def payload(seq):
    n = 200 + (seq * 97) % 1201
    return bytes((seq * 31 + i * 7) & 0xFF for i in range(n))


def frame(dst, src, vid, seq, dstip, srcip):
    data = struct.pack("!I", seq) + payload(seq)
    saddr, daddr = socket.inet_aton(srcip), socket.inet_aton(dstip)
    udp = struct.pack("!HHHH", SPORT, DPORT, 8 + len(data), 0) + data
    ucs = csum(saddr + daddr + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ucs) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0, saddr, daddr)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst + src + struct.pack("!HH", 0x8100, vid) + struct.pack("!H", 0x0800) + ip + udp


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def send(iface, dst, vid, count, dstip="10.60.0.2", srcip="10.60.0.1"):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = s.getsockname()[4]
    for seq in range(count):
        s.send(frame(mac(dst), src, vid, seq, dstip, srcip))
        time.sleep(0.002)
    return 0


def recv(iface, vid, count, secs=10.0):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((iface, 0))
    print("ready", flush=True)
    good, bad, untagged, seen = 0, 0, 0, set()
    end = time.time() + secs
    while len(seen) < count and time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            data, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(20))
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        for level, typ, aux in anc:
            if level == SOL_PACKET and typ == PACKET_AUXDATA:
                status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", aux[:20])
                if status & TP_STATUS_VLAN_VALID:
                    data = data[:12] + struct.pack("!HH", tpid or 0x8100, tci) + data[12:]
        inner = data[12:14] == b"\x08\x00" and data[14 + 20:14 + 24] == struct.pack("!HH", SPORT, DPORT)
        tagged = data[12:14] == b"\x81\x00" and data[16:18] == b"\x08\x00" and \
            data[18 + 20:18 + 24] == struct.pack("!HH", SPORT, DPORT)
        if inner:
            untagged += 1
            continue
        if not tagged:
            continue
        seq = struct.unpack("!I", data[18 + 28:18 + 32])[0]
        ips = [socket.inet_ntoa(data[18 + o:18 + o + 4]) for o in (12, 16)]
        if data == frame(data[:6], data[6:12], vid, seq, ips[1], ips[0]):
            if seq not in seen:
                good += 1
                seen.add(seq)
        else:
            bad += 1
    print("got %d tagged, %d bad, %d untagged" % (good, bad, untagged), flush=True)
    return 0 if good == count and not bad and not untagged else 1


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 5 and a[0] == "send":
        sys.exit(send(a[1], a[2], int(a[3]), int(a[4]), *a[5:7]))
    if len(a) >= 4 and a[0] == "recv":
        sys.exit(recv(a[1], int(a[2]), int(a[3]), float(a[4]) if len(a) > 4 else 10.0))
    sys.exit(__doc__)
