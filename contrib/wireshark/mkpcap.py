#!/usr/bin/env python3
"""Writes small pcaps of ferry's protocols for the Wireshark dissector
(ferry.lua) and its tests: exchanges that a live capture of the real ferryd
cannot produce on demand (a message split across TCP segments at a chosen
byte, several messages in one segment) and the hub protocol, whose server
does not exist yet.

    python3 contrib/wireshark/mkpcap.py DIR    # writes DIR/native.pcap,
                                               # DIR/lottery.pcap, DIR/hub.pcap

Classic pcap, Ethernet/IPv4; TCP conversations open with a handshake,
carry exact sequence and acknowledgement numbers, and close with FINs.
Checksums are computed. The output is the same on every run: the scenarios
below are the contract the tests check the dissector's output against.
"""

import hashlib
import os
import struct
import sys

LINKTYPE_ETHERNET = 1
T0 = 1_700_000_000  # capture start, Unix seconds


def checksum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip4(addr):
    return bytes(int(x) for x in addr.split("."))


class Pcap:
    """A classic pcap file being written; one frame every millisecond."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        self.usec = 0
        self.ident = 0

    def close(self):
        self.f.close()

    def frame(self, src, dst, proto, l4):
        """Writes one Ethernet/IPv4 frame carrying the layer-4 bytes l4."""
        self.ident += 1
        header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.ident, 0x4000, 64,
                             proto, 0, ip4(src), ip4(dst))
        header = header[:10] + struct.pack(">H", checksum(header)) + header[12:]
        eth = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
        data = eth + header + l4
        self.usec += 1000
        sec, usec = divmod(self.usec, 1_000_000)
        self.f.write(struct.pack("<IIII", T0 + sec, usec, len(data), len(data)) + data)

    def udp(self, src, dst, payload):
        """One UDP datagram; src and dst are (address, port)."""
        head = struct.pack(">HHHH", src[1], dst[1], 8 + len(payload), 0)
        pseudo = ip4(src[0]) + ip4(dst[0]) + struct.pack(">BBH", 0, 17, len(head) + len(payload))
        ck = checksum(pseudo + head + payload) or 0xFFFF
        self.frame(src[0], dst[0], 17, head[:6] + struct.pack(">H", ck) + payload)


FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


class TcpFlow:
    """One TCP connection written to a Pcap: handshake at creation, then
    segments from either side in the order given, then close()."""

    def __init__(self, pcap, client, server):
        self.pcap = pcap
        self.ends = {True: client, False: server}  # keyed by "from the client"
        self.seq = {True: 1000 + client[1], False: 5000 + server[1]}
        self.segment(True, b"", SYN)
        self.seq[True] += 1
        self.segment(False, b"", SYN | ACK, ack=self.seq[True])
        self.seq[False] += 1
        self.segment(True, b"", ACK)

    def segment(self, from_client, payload, flags, ack=None):
        src, dst = self.ends[from_client], self.ends[not from_client]
        if ack is None:
            ack = self.seq[not from_client]
        head = struct.pack(">HHIIBBHHH", src[1], dst[1], self.seq[from_client] & 0xFFFFFFFF,
                           ack & 0xFFFFFFFF if flags & ACK else 0, 5 << 4, flags, 65535, 0, 0)
        pseudo = ip4(src[0]) + ip4(dst[0]) + struct.pack(">BBH", 0, 6, len(head) + len(payload))
        ck = checksum(pseudo + head + payload)
        self.pcap.frame(src[0], dst[0], 6, head[:16] + struct.pack(">H", ck) + head[18:] + payload)

    def send(self, from_client, *pieces):
        """Each piece is one segment (PSH, ACK)."""
        for piece in pieces:
            self.segment(from_client, piece, PSH | ACK)
            self.seq[from_client] += len(piece)

    def client(self, *pieces):
        self.send(True, *pieces)

    def server(self, *pieces):
        self.send(False, *pieces)

    def close(self):
        """The server closes first, as ferryd does after an answer."""
        for side in (False, True):
            self.segment(side, b"", FIN | ACK)
            self.seq[side] += 1
        self.segment(False, b"", ACK)


# ---------------------------------------------------------------- native

def file_request(name, version=1):
    return struct.pack(">BBH", version, 1, len(name)) + name


def get(name, offset, max_size):
    return struct.pack(">BBHQQ", 1, 7, len(name), offset, max_size) + name


def file_response(status, size):
    return struct.pack(">BBBQ", 1, 2, status, size)


def list_response(records, status=0):
    out = struct.pack(">BBBI", 1, 6, status, len(records))
    for name, size, mtime in records:
        out += struct.pack(">H", len(name)) + name + struct.pack(">Qq", size, mtime) + b"\0"
    return out


def content(n):
    """n bytes that no reader could take for a message header."""
    return bytes((0xC0 + i) % 256 for i in range(n))


NATIVE_PORT = 12345     # ferry's default: dissected without Decode As
NATIVE_HEUR_PORT = 40123  # no registration: the heuristic must find it
LIST_RECORDS = [(b"a.txt", 3, 1700000000), (b"big.bin", 1 << 40, 1600000000),
                (b"hello.txt", 18, -1)]


def write_native(path):
    """Streams, in order (tcp.stream = index):
    0 FILE_REQUEST hello.txt, FILE_RESPONSE OK 18 split 5+6, READY,
      content 10+8
    1 GET data.bin offset 2 max 1 MiB (split 7+rest); FILE_RESPONSE OK 100
      with 30 bytes of content in its segment, then 68
    2 LIST; LIST_RESPONSE of LIST_RECORDS whose records span segments
    3 FILE_REQUEST nope split 3+5, NOT_FOUND
    4 (port 40123) FILE_REQUEST big.iso, OK 5000000, REFUSE
    5 (port 40123) GET x, TOO_LARGE 2000000000
    6 FILE_REQUEST version 2, VERSION_MISMATCH
    7 (port 40127) another protocol whose third segment looks like a
      FILE_REQUEST: not ferry (the heuristic looks at first bytes only)
    8 (port 40128) starts like a FILE_REQUEST whose name_len (9) does not
      match the segment (5 name bytes): not claimed by the heuristic
    """
    p = Pcap(path)
    srv = ("127.0.0.1", NATIVE_PORT)

    t = TcpFlow(p, ("127.0.0.1", 50000), srv)
    t.client(file_request(b"hello.txt"))
    r = file_response(0, 18)
    t.server(r[:5], r[5:])
    t.client(b"\x03")
    t.server(content(10), content(8))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50001), srv)
    g = get(b"data.bin", 2, 1 << 20)
    t.client(g[:7], g[7:])
    t.server(file_response(0, 100) + content(30), content(68))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50002), srv)
    t.client(b"\x01\x05\x00\x00")
    lr = list_response(LIST_RECORDS)
    # header + 4 bytes of record 1 | the rest of 1, record 2, 1 byte of 3 | the rest
    r1 = 7 + 2 + 5 + 17
    r2 = r1 + 2 + 7 + 17
    t.server(lr[:11], lr[11:r2 + 1], lr[r2 + 1:])
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50003), srv)
    fr = file_request(b"nope")
    t.client(fr[:3], fr[3:])
    t.server(file_response(3, 0))
    t.close()

    heur = ("127.0.0.1", NATIVE_HEUR_PORT)
    t = TcpFlow(p, ("127.0.0.1", 50004), heur)
    t.client(file_request(b"big.iso"))
    t.server(file_response(0, 5_000_000))
    t.client(b"\x04")
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50005), heur)
    t.client(get(b"x", 0, 1000))
    t.server(file_response(8, 2_000_000_000))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50006), srv)
    t.client(file_request(b"hello.txt", version=2))
    t.server(file_response(1, 0))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50007), ("127.0.0.1", 40127))
    t.client(b"HELLO\r\n")
    t.server(b"OK\r\n")
    t.client(file_request(b"hello.txt"))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50008), ("127.0.0.1", 40128))
    t.client(b"\x01\x01\x00\x09hello", b"\x01\x02\x03\x04")
    t.close()
    p.close()


# ---------------------------------------------------------------- lottery

LOTTERY_PORT = 7777  # no default port: decode as ferrylottery


def cmd(n, little=False):
    return struct.pack("<I" if little else ">I", n)


def write_lottery(path):
    """Stream 0: GEN; LIST split 3+1; GEN + LIST little-endian + 7 + half of
    GEN in one segment, the other half next; END. Stream 1: GEN answered
    Full, then END little-endian. Answers as the server writes them, one
    line split across two segments."""
    p = Pcap(path)
    srv = ("127.0.0.1", LOTTERY_PORT)
    t = TcpFlow(p, ("127.0.0.1", 51000), srv)
    t.client(cmd(0))
    t.server(b"New number generated: 17\n")
    c = cmd(1)
    t.client(c[:3], c[3:])
    t.server(b"numbers: 17 0 0 0 0 0\n")
    many = cmd(0) + cmd(1, little=True) + cmd(7) + cmd(0)
    t.client(many[:14], many[14:])
    t.server(b"New number generated: 42\nnumbers: 17 42 0 0 0 0\nerror: unkn",
             b"own command 7\nNew number generated: 5\n")
    t.client(cmd(2))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 51001), srv)
    t.client(cmd(0))
    t.server(b"Full\n")
    t.client(cmd(2, little=True))
    t.close()
    p.close()


# ---------------------------------------------------------------- hub

HUB_PORT = 12345        # ferry's default, UDP
HUB_HEUR_PORT = 40124   # no registration: the heuristic must find it
TOKEN = 0x5EC0FFEE
SHA = hashlib.sha256(b"report").hexdigest()

# (opcode, from the client, payload): every opcode once, in a plausible
# order; hub_messages() sends them plain, then again in secure envelopes.
HUB_PLAIN = [
    (0x10, True, b"alice&s3cret"),
    (0x80, False, b""),
    (0x81, False, b""),
    (0x20, True, b"bob"),
    (0x90, False, b""),
    (0x91, False, b""),
    (0x21, True, b"bob"),
    (0xA0, False, b""),
    (0xA1, False, b""),
    (0x30, True, b"hello everyone"),
    (0xB0, False, b""),
    (0xB1, False, b"<bob>hi alice"),
    (0x31, True, b""),
    (0xB2, False, b"<bob>report.pdf 12345 " + SHA.encode()),
    (0x32, True, b""),
    (0x40, True, b"3"),
    (0xC0, False, b"<bob>an older line"),
    (0xC1, False, b""),
    (0x0E, True, b""),
    (0x8E, False, b""),
    (0x7F, True, b"drop-next"),
    (0xF0, False, b""),
    (0xF1, False, b"unknown opcode"),
    (0x00, True, b""),
    (0x00, False, b""),
    (0x1F, True, b""),
    (0x8F, False, b""),
]


def hub_header(opcode, plen, token, msg_id):
    return struct.pack(">BBBBII", 0x46, 0x52, opcode, plen, token, msg_id)


def hub_messages():
    """Every datagram of hub.pcap in order, as dicts of what it says:
    opcode, client (bool), token, msg_id, and payload (plain) or
    ct_len/seq/tag (secure), or malformed; port is the server's."""
    out = []
    msg_id = 1
    for opcode, client, payload in HUB_PLAIN:
        token = 0 if opcode == 0x10 else TOKEN
        out.append(dict(port=HUB_PORT, opcode=opcode, client=client, token=token, msg_id=msg_id,
                        payload=payload))
        msg_id += 1
    # The same exchange in secure envelopes: as much ciphertext as there
    # was plaintext, a sequence number counted per direction.
    seq = {True: 0, False: 0}
    for opcode, client, payload in HUB_PLAIN:
        seq[client] += 1
        tag = hashlib.sha256(b"tag%d" % msg_id).digest()[:16]
        out.append(dict(port=HUB_PORT, opcode=opcode, client=client, token=TOKEN, msg_id=msg_id,
                        ct_len=len(payload), seq=seq[client], tag=tag))
        msg_id += 1
    # On another port, found by the heuristic.
    out.append(dict(port=HUB_HEUR_PORT, opcode=0x30, client=True, token=TOKEN, msg_id=msg_id,
                    payload=b"over the heuristic"))
    msg_id += 1
    # payload_len 5 but 9 bytes follow: neither plain nor secure.
    out.append(dict(port=HUB_PORT, opcode=0x30, client=True, token=TOKEN, msg_id=msg_id,
                    malformed=b"abcdefghi", plen=5))
    return out


def hub_datagram(m):
    if "payload" in m:
        body = m["payload"]
        return hub_header(m["opcode"], len(body), m["token"], m["msg_id"]) + body
    if "malformed" in m:
        return hub_header(m["opcode"], m["plen"], m["token"], m["msg_id"]) + m["malformed"]
    ct = hashlib.shake_256(b"ct%d" % m["msg_id"]).digest(m["ct_len"])
    return (hub_header(m["opcode"], m["ct_len"], m["token"], m["msg_id"]) + ct
            + struct.pack(">Q", m["seq"]) + m["tag"])


def write_hub(path):
    """hub_messages() as datagrams, then two UDP datagrams on other ports
    that are not the hub's: "FR" with no known opcode, and "FR" with a
    known opcode but a length that adds up to neither form. The heuristic
    must leave both alone."""
    p = Pcap(path)
    client = ("127.0.0.1", 52000)
    for m in hub_messages():
        srv = ("127.0.0.1", m["port"])
        src, dst = (client, srv) if m["client"] else (srv, client)
        p.udp(src, dst, hub_datagram(m))
    p.udp(client, ("127.0.0.1", 40125), b"FR\x55\x01notferry at all")
    p.udp(client, ("127.0.0.1", 40126), hub_header(0x10, 5, 0, 1) + b"abc")
    p.close()


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print(f"usage: {argv[0]} DIR   (writes DIR/native.pcap, lottery.pcap, hub.pcap)",
              file=sys.stderr)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    write_native(os.path.join(argv[1], "native.pcap"))
    write_lottery(os.path.join(argv[1], "lottery.pcap"))
    write_hub(os.path.join(argv[1], "hub.pcap"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
