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


def put(name, size, token, name_len=None):
    """A PUT's header and name; the content is sent apart."""
    return struct.pack(">BBHQI", 1, 8, len(name) if name_len is None else name_len, size,
                       token) + name


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

# PUTs (docs/PROTOCOL.md section 8). The first is the document's example,
# byte for byte; MACs are made-up bytes (the dissector checks no
# cryptography).
PUT_TOKEN = 0x7EF6A28A      # PROTOCOL.md's example token
PUT_DEAD_TOKEN = 0xDEADBEEF  # no live session: UNAUTHORIZED
PUT_HELLO = b"hello\n"
PUT_REPORT = content(1000)
PUT_NOTES = content(20)
UNAUTHORIZED = 11


def put_mac(label):
    return hashlib.shake_256(b"ferry put mac " + label).digest(32)


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
    9 PUT hello.txt, plain wire, PROTOCOL.md's example: header 16 | name |
      content 3 | 3, then FILE_RESPONSE OK 6
    10 (port 40123) PUT report.pdf on the secure wire: header and name (the
      heuristic's first segment) | content 600 | content 400 + 10 bytes of
      the MAC | its other 22 bytes, then OK 1000
    11 PUT hello.txt with a dead token: header and name, UNAUTHORIZED at
      once, then the content, still sent (the server drains it)
    12 PUT notes.txt on the secure wire with a wrong MAC: header, name,
      content 20 and the MAC in one segment, then UNAUTHORIZED
    13 PUT .env, size 0 (a name a PUT may not take): INVALID_NAME
    14 PUT with name_len 101 (over a PUT's 100), the header alone:
      INVALID_NAME without the name being read
    15 (port 40129) a PUT's header, name and content in the first segment:
      not claimed by the heuristic (not a request alone)
    16 (port 40130) a PUT with a 101-byte name exactly filling the first
      segment (a FILE_REQUEST could have it, a PUT not): not claimed
    17 PUT a.txt, content 4, OK 4, then 32 bytes from the client: not a
      MAC (the server had answered OK), unexpected bytes
    18 PUT b.txt: content 4, a MAC and 3 bytes more in one segment; then
      UNAUTHORIZED: the 3 bytes are unexpected
    19 PUT c.txt of 10 bytes answered OK 9 after 4 bytes of content (an
      answer that does not fit), then the other 6
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

    t = TcpFlow(p, ("127.0.0.1", 50009), srv)
    pr = put(b"hello.txt", len(PUT_HELLO), PUT_TOKEN)
    t.client(pr[:16], pr[16:], PUT_HELLO[:3], PUT_HELLO[3:])
    t.server(file_response(0, len(PUT_HELLO)))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50010), heur)
    mac = put_mac(b"report.pdf")
    t.client(put(b"report.pdf", len(PUT_REPORT), PUT_TOKEN), PUT_REPORT[:600],
             PUT_REPORT[600:] + mac[:10], mac[10:])
    t.server(file_response(0, len(PUT_REPORT)))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50011), srv)
    t.client(put(b"hello.txt", len(PUT_HELLO), PUT_DEAD_TOKEN))
    t.server(file_response(UNAUTHORIZED, 0))
    t.client(PUT_HELLO)
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50012), srv)
    t.client(put(b"notes.txt", len(PUT_NOTES), PUT_TOKEN) + PUT_NOTES + put_mac(b"wrong"))
    t.server(file_response(UNAUTHORIZED, 0))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50013), srv)
    t.client(put(b".env", 0, PUT_TOKEN))
    t.server(file_response(2, 0))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50014), srv)
    t.client(put(b"", 5, PUT_TOKEN, name_len=101))
    t.server(file_response(2, 0))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50015), ("127.0.0.1", 40129))
    t.client(put(b"hello.txt", len(PUT_HELLO), PUT_TOKEN) + PUT_HELLO)
    t.server(file_response(0, len(PUT_HELLO)))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50016), ("127.0.0.1", 40130))
    t.client(put(b"n" * 101, 1, PUT_TOKEN), b"x")
    t.server(file_response(2, 0))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50017), srv)
    t.client(put(b"a.txt", 4, PUT_TOKEN), content(4))
    t.server(file_response(0, 4))
    t.client(put_mac(b"late"))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50018), srv)
    t.client(put(b"b.txt", 4, PUT_TOKEN), content(4) + put_mac(b"b.txt") + b"\x01\x02\x03")
    t.server(file_response(UNAUTHORIZED, 0))
    t.close()

    t = TcpFlow(p, ("127.0.0.1", 50019), srv)
    t.client(put(b"c.txt", 10, PUT_TOKEN), content(4))
    t.server(file_response(0, 9))
    t.client(content(10)[4:])
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


# The secure wire's login (common/hubsec.h): HELLO (0x10, plain), CHALLENGE
# (0x82, plain), then the PROOF (0x11, sealed). Keys, salt and signatures
# are made-up bytes, the same on every run: the dissector checks no
# cryptography.
HUB_NONCE = 0x2F1D9A03  # the login's nonce: the msg_id of all three
HELLO_LEN = 145         # HUBSEC_HELLO_LEN, HUBSEC_CHALLENGE_LEN


def made_up(label, n):
    return hashlib.shake_256(b"ferry hub pcap " + label).digest(n)


def hello(eph, user_id):
    """hubsec_hello_encode: eph (32), u8 id length, id, zeros to 145."""
    out = eph + bytes([len(user_id)]) + user_id
    return out + bytes(HELLO_LEN - len(out))


def challenge(salt, kdf, eph, hub_key, sig):
    """hubsec_challenge_encode: salt (16), kdf (1), eph (32), hub (32), sig (64)."""
    return salt + bytes([kdf]) + eph + hub_key + sig


def challenge_fields(label, kdf=1):
    return dict(salt=made_up(label + b" salt", 16), kdf=kdf, eph=made_up(label + b" eph", 32),
                hub_key=made_up(b"hub key", 32), sig=made_up(label + b" sig", 64))


# Logins of 145 bytes that are "id&password" text, not a HELLO: byte 32
# a valid id length (a space, 32) and 32 id characters, but no zero
# padding; zero-padded, but with 33 id characters ('!'); zero-padded, but
# with an id of 5 characters not all of [A-Za-z0-9_].
LONG_LOGIN = b"carol&" + b"x" * 26 + b" " + b"A" * 32 + b"z" * 80
ID33_LOGIN = b"dave&" + b"y" * 27 + b"!" + b"B" * 33 + bytes(HELLO_LEN - 66)
BADID_LOGIN = b"erin&" + b"v" * 27 + b"\x05" + b"a-b.c" + bytes(HELLO_LEN - 38)


def hub_messages():
    """Every datagram of hub.pcap in order, as dicts of what it says:
    opcode, client (bool), token, msg_id, and payload (plain) or
    ct_len/seq/tag (secure), or malformed; port is the server's. A HELLO
    adds hello (eph, id), a CHALLENGE of 145 bytes challenge (salt, kdf,
    eph, hub_key, sig)."""
    out = []
    msg_id = 1
    for opcode, client, payload in HUB_PLAIN:
        token = 0 if opcode == 0x10 else TOKEN
        out.append(dict(port=HUB_PORT, opcode=opcode, client=client, token=token, msg_id=msg_id,
                        payload=payload))
        msg_id += 1
    # The secure wire's login: HELLO and CHALLENGE plain, then the PROOF
    # sealed under the keys they give (the session's: its sequence number
    # 1 towards the hub), all three with token 0 and the login's nonce.
    seq = {True: 0, False: 0}
    eph = made_up(b"client eph", 32)
    out.append(dict(port=HUB_PORT, opcode=0x10, client=True, token=0, msg_id=HUB_NONCE,
                    payload=hello(eph, b"alice"), hello=dict(eph=eph, id="alice")))
    ch = challenge_fields(b"alice")
    out.append(dict(port=HUB_PORT, opcode=0x82, client=False, token=0, msg_id=HUB_NONCE,
                    payload=challenge(**ch), challenge=ch))
    seq[True] += 1
    out.append(dict(port=HUB_PORT, opcode=0x11, client=True, token=0, msg_id=HUB_NONCE,
                    ct_len=64, seq=seq[True], tag=made_up(b"proof tag", 16)))
    # The same exchange in secure envelopes: as much ciphertext as there
    # was plaintext, a sequence number counted per direction.
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
    # The login's edges: a HELLO with the longest id; three 145-byte text
    # logins shaped almost like one; a PROOF outside its envelope and a
    # CHALLENGE inside one (forms neither end sends); a sealed PROOF too
    # short for a signature; a CHALLENGE with an unknown key derivation,
    # one that is too short and one that is empty.
    nonce = HUB_NONCE + 1
    eph = made_up(b"client eph 2", 32)
    long_id = "The_quick_brown_fox_jumps_over_1"
    out.append(dict(port=HUB_PORT, opcode=0x10, client=True, token=0, msg_id=nonce,
                    payload=hello(eph, long_id.encode()), hello=dict(eph=eph, id=long_id)))
    out.append(dict(port=HUB_PORT, opcode=0x10, client=True, token=0, msg_id=nonce + 1,
                    payload=LONG_LOGIN))
    out.append(dict(port=HUB_PORT, opcode=0x10, client=True, token=0, msg_id=nonce + 2,
                    payload=ID33_LOGIN))
    out.append(dict(port=HUB_PORT, opcode=0x10, client=True, token=0, msg_id=nonce + 3,
                    payload=BADID_LOGIN))
    out.append(dict(port=HUB_PORT, opcode=0x11, client=True, token=0, msg_id=nonce,
                    payload=made_up(b"plain proof", 64)))
    out.append(dict(port=HUB_PORT, opcode=0x82, client=False, token=0, msg_id=nonce,
                    ct_len=HELLO_LEN, seq=1, tag=made_up(b"sealed challenge tag", 16)))
    out.append(dict(port=HUB_PORT, opcode=0x11, client=True, token=0, msg_id=nonce + 4,
                    ct_len=63, seq=1, tag=made_up(b"short proof tag", 16)))
    ch = challenge_fields(b"kdf 2", kdf=2)
    out.append(dict(port=HUB_PORT, opcode=0x82, client=False, token=0, msg_id=nonce + 4,
                    payload=challenge(**ch), challenge=ch))
    out.append(dict(port=HUB_PORT, opcode=0x82, client=False, token=0, msg_id=nonce + 5,
                    payload=made_up(b"short challenge", 16)))
    out.append(dict(port=HUB_PORT, opcode=0x82, client=False, token=0, msg_id=nonce + 6,
                    payload=b""))
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
