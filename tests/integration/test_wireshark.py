"""The Wireshark dissector contrib/wireshark/ferry.lua, run by tshark over
captures and checked field by field: live captures (dumpcap on loopback)
of the real ferryd serving the native protocol (a PUT included, through a
hub on the plain wire) and the lottery service, and the small pcaps
contrib/wireshark/mkpcap.py writes: messages split across TCP segments at
chosen bytes, several in one segment, PUTs on both wires (a MAC split
across segments), and the hub protocol.

Needs tshark built with Lua, and dumpcap allowed to capture on lo (root)
for the live tests (Debian: tshark; contrib/deps.sh --test installs it).
"""

import functools
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

from ferrytest import READY, REFUSE, FerryTest, ferry, recv_exact
from test_hub import Client as HubClient, admin, hub_port, put as hub_put

HERE = os.path.dirname(os.path.abspath(__file__))
WS_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "contrib", "wireshark"))
LUA = os.path.join(WS_DIR, "ferry.lua")
sys.path.insert(0, WS_DIR)
import mkpcap  # noqa: E402  (beside the dissector, not a package)

TSHARK = shutil.which("tshark")
DUMPCAP = shutil.which("dumpcap")
OURS = ("ferry", "ferryhub", "ferrylottery")

# The hub's opcodes as the issue names them: the dissector must agree.
HUB_NAMES = {
    0x00: "SESSION_RESET", 0xF0: "MUST_LOGIN_FIRST", 0xF1: "ERROR", 0x10: "LOGIN",
    0x80: "LOGIN_ACK_OK", 0x81: "LOGIN_ACK_FAILED", 0x20: "SUBSCRIBE", 0x90: "SUBSCRIBE_ACK_OK",
    0x91: "SUBSCRIBE_ACK_FAILED", 0x21: "UNSUBSCRIBE", 0xA0: "UNSUBSCRIBE_ACK_OK",
    0xA1: "UNSUBSCRIBE_ACK_FAILED", 0x30: "POST", 0xB0: "POST_ACK", 0xB1: "FORWARD",
    0x31: "FORWARD_ACK", 0x32: "FILE_NOTIFICATION_ACK", 0xB2: "FILE_NOTIFICATION",
    0x40: "RETRIEVE", 0xC0: "RETRIEVE_ACK", 0xC1: "END_OF_RETRIEVE", 0x1F: "LOGOUT",
    0x8F: "LOGOUT_ACK", 0x0E: "KEEPALIVE", 0x8E: "KEEPALIVE_ACK", 0x7F: "TEST_HOOK",
    0x11: "LOGIN_PROOF", 0x82: "LOGIN_CHALLENGE",  # the secure wire's login
}

# The hub's expert infos (their names show as fields beneath _ws.expert),
# and its fields whose values are raw bytes (compared by their hex value).
HUB_EXPERTS = ("ferryhub.bad_length", "ferryhub.unknown_opcode", "ferryhub.bad_payload",
               "ferryhub.wrong_form", "ferryhub.unknown_kdf")
HUB_BYTES = ("ferryhub.hello.eph", "ferryhub.hello.padding", "ferryhub.challenge.salt",
             "ferryhub.challenge.eph", "ferryhub.challenge.hub_key", "ferryhub.challenge.sig",
             "ferryhub.payload_bytes", "ferryhub.ciphertext", "ferryhub.tag")
HUB_HEADER = ("ferryhub.magic", "ferryhub.opcode", "ferryhub.payload_len", "ferryhub.token",
              "ferryhub.msg_id", "ferryhub.direction", "ferryhub.mode")


def hub_experts(want):
    """The expert infos the dissector adds to the datagram want
    (mkpcap.hub_messages()), as (name, words of its message)."""
    op, sealed = want["opcode"], "ct_len" in want
    payload = want.get("payload", b"")
    if "malformed" in want:
        return [("ferryhub.bad_length", "neither plain (17) nor secure (41)")]
    if op == 0x10 and sealed:
        return [("ferryhub.wrong_form", "LOGIN in a secure envelope")]
    if op == 0x82 and sealed:
        return [("ferryhub.wrong_form", "LOGIN_CHALLENGE in a secure envelope")]
    if op == 0x11 and not sealed:
        return [("ferryhub.wrong_form", "LOGIN_PROOF outside the secure envelope")]
    if op == 0x11 and want["ct_len"] != 64:
        return [("ferryhub.bad_payload", f"LOGIN_PROOF of {want['ct_len']} bytes")]
    if op == 0x82 and not payload:
        return [("ferryhub.bad_payload", "CHALLENGE without a payload")]
    if op == 0x82 and len(payload) != mkpcap.HELLO_LEN:
        return [("ferryhub.bad_payload", f"CHALLENGE of {len(payload)} bytes, not 145")]
    if op == 0x82 and want["challenge"]["kdf"] != 1:
        return [("ferryhub.unknown_kdf", f"Unknown key derivation {want['challenge']['kdf']}")]
    return []


def hub_fields(m):
    """The message's ferryhub fields beyond the header, expert infos left
    out: name -> shown value (hex for raw bytes)."""
    return {name: (m.fields[name][0].get("value") if name in HUB_BYTES else m.get(name))
            for name in m.fields
            if name.startswith("ferryhub.") and name not in HUB_HEADER + HUB_EXPERTS}


@functools.lru_cache(maxsize=None)
def tshark_problem():
    """Why tshark cannot run the dissector here, or None."""
    if not TSHARK:
        return "tshark is not installed (Debian: apt-get install -y tshark)"
    version = subprocess.run([TSHARK, "-v"], capture_output=True, text=True, timeout=30).stdout
    if "with Lua" not in version:
        return "this tshark is built without Lua"
    return None


class Msg:
    """One message as the dissector shows it: a top-level item of one of
    our protocols in PDML, with every field beneath it."""

    def __init__(self, proto, frame, stream):
        self.proto, self.frame, self.stream = proto.get("name"), frame, stream
        self.text = proto.get("showname")
        self.fields = {}
        for f in proto.iter("field"):
            self.fields.setdefault(f.get("name"), []).append(f)

    def __contains__(self, name):
        return name in self.fields

    def all(self, name):
        return [f.get("show") for f in self.fields.get(name, [])]

    def get(self, name):
        values = self.all(name)
        return values[0] if values else None

    def int(self, name):
        v = self.get(name)
        return None if v is None else int(v, 0)

    def vs(self, name):
        """The value string of an enumerated field: 'Status: OK (0)' -> OK."""
        showname = self.fields[name][0].get("showname")
        return re.match(r"[^:]*: (.*) \((?:0x)?[0-9a-fA-F]+\)$", showname).group(1)

    def __repr__(self):
        return f"<{self.text} frame {self.frame}>"


# The native protocol's expert infos, and its fields whose values are raw
# bytes (compared by their hex value).
NATIVE_EXPERTS = ("ferry.bad_version", "ferry.bad_type", "ferry.bad_name", "ferry.bad_list",
                  "ferry.error_status", "ferry.extra_bytes", "ferry.mismatch")
NATIVE_BYTES = ("ferry.put.mac", "ferry.extra")


def native_fields(m):
    """Every ferry field of the message, expert infos left out: name ->
    shown value (hex for raw bytes); each shows once in a message."""
    out = {}
    for name, fields in m.fields.items():
        if name.startswith("ferry.") and name not in NATIVE_EXPERTS:
            assert len(fields) == 1, (name, m)
            out[name] = fields[0].get("value" if name in NATIVE_BYTES else "show")
    return out


def native_summary(m):
    """One line per native message, from its fields alone."""
    if "ferry.content_bytes" in m:
        return ("content", m.int("ferry.content_bytes"), m.int("ferry.content_offset"),
                m.int("ferry.content_remaining"))
    if "ferry.put.mac" in m:
        return f"MAC {m.fields['ferry.put.mac'][0].get('value')}"
    if "ferry.extra" in m and "ferry.type" not in m:
        return f"unexpected {m.fields['ferry.extra'][0].get('value')}"
    if "ferry.record" in m:
        return (f"record {m.get('ferry.record.name')} size={m.get('ferry.record.size')} "
                f"mtime={m.get('ferry.record.mtime')} kind={m.vs('ferry.record.kind')}")
    kind = m.vs("ferry.type")
    if m.get("ferry.version") not in (None, "1"):
        return f"{kind} version={m.get('ferry.version')}"
    if kind == "FILE_REQUEST":
        return f"FILE_REQUEST {m.get('ferry.name')}"
    if kind == "GET":
        return (f"GET {m.get('ferry.name')} offset={m.get('ferry.offset')} "
                f"max_size={m.get('ferry.max_size')}")
    if kind == "PUT":
        return (f"PUT {m.get('ferry.name') or '-'} size={m.get('ferry.put.size')} "
                f"token={m.get('ferry.put.token')}")
    if kind == "FILE_RESPONSE":
        return f"FILE_RESPONSE {m.vs('ferry.status')} size={m.get('ferry.size')}"
    if kind == "LIST_RESPONSE":
        return f"LIST_RESPONSE {m.vs('ferry.status')} count={m.get('ferry.count')}"
    return kind  # LIST, READY, REFUSE


def merge_content(lines):
    """Consecutive content pieces as one line: bytes in all, the first
    one's file offset, what the last one says is still due."""
    out = []
    for line in lines:
        if isinstance(line, tuple):
            _, n, offset, left = line
            if out and out[-1].startswith("content "):
                total, first = re.match(r"content (\d+) bytes from (\d+)", out[-1]).groups()
                n, offset = n + int(total), int(first)
                out.pop()
            line = f"content {n} bytes from {offset}, {left} left"
        out.append(line)
    return out


def lottery_summary(m):
    if "ferrylottery.cmd" in m:
        name = m.get("ferrylottery.cmd_name")
        if name == "unknown":
            return f"unknown {m.get('ferrylottery.cmd')}"
        # The command's value string says the same as its name field.
        assert m.vs("ferrylottery.cmd") == name, (m.vs("ferrylottery.cmd"), name)
        return name
    kind = m.get("ferrylottery.kind")
    if kind == "NEW_NUMBER":
        return f"NEW_NUMBER {m.get('ferrylottery.number')}"
    if kind == "NUMBERS":
        return "NUMBERS " + " ".join(m.all("ferrylottery.list_number"))
    if kind == "ERROR":
        return f"ERROR {m.get('ferrylottery.error_cmd')}"
    return kind


class Capture:
    """dumpcap on lo, writing classic pcap into a pipe that a thread reads
    packet by packet, so that the test knows when what it sent has been
    captured: start() returns once a probe datagram shows in the capture,
    stop() once a second one does (everything sent before it is in)."""

    def __init__(self, test, bpf):
        self.test = test
        self.probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.probe.bind(("127.0.0.1", 0))
        self.probe_port = self.probe.getsockname()[1]
        self.token = secrets.token_hex(8).encode()
        self.packets = []
        self.header = b""
        self.cond = threading.Condition()
        self.done = False
        self.err = open(os.path.join(test.tmp, "dumpcap.err"), "w+")
        self.proc = subprocess.Popen(
            [DUMPCAP, "-q", "-i", "lo", "-f", f"({bpf}) or (udp port {self.probe_port})", "-P",
             "-w", "-"], stdout=subprocess.PIPE, stderr=self.err, stdin=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        out = self.proc.stdout
        try:
            self.header = out.read(24)
            while True:
                head = out.read(16)
                if len(head) < 16:
                    break
                data = out.read(struct.unpack("<IIII", head)[2])
                with self.cond:
                    self.packets.append((head, data))
                    self.cond.notify_all()
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def _errors(self):
        self.err.seek(0)
        return self.err.read()

    def sync(self, what, timeout=10.0):
        """Sends probe datagrams until one shows in the capture."""
        marker = b"ferry-ws-probe " + self.token + b" " + what
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(marker in data for _, data in self.packets):
                if self.done:
                    errors = self._errors()
                    if "permission" in errors.lower() or "not permitted" in errors.lower():
                        self.test.skipTest("dumpcap may not capture on lo here: " + errors)
                    raise AssertionError("dumpcap stopped:\n" + errors)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"probe {what!r} not captured within {timeout}s:\n"
                                         + self._errors())
                self.probe.sendto(marker, ("127.0.0.1", self.probe_port))
                self.cond.wait(min(left, 0.05))

    def start(self):
        self.sync(b"start")
        return self

    def stop(self, path):
        """Ends the capture and writes what it holds, probes left out."""
        self.sync(b"end")
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        self.proc.stdout.close()
        self.probe.close()
        self.err.close()
        with open(path, "wb") as f:
            f.write(self.header)
            for head, data in self.packets:
                if self.token not in data:
                    f.write(head + data)
        return path

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        self.proc.stdout.close()
        self.probe.close()
        if not self.err.closed:
            self.err.close()


class WiresharkTest(FerryTest):

    def setUp(self):
        super().setUp()
        problem = tshark_problem()
        if problem:
            self.skipTest(problem)
        # tshark with a home of its own: no personal preferences, and no
        # copy of ferry.lua among the personal plugins to clash with ours.
        home = os.path.join(self.tmp, "home")
        os.mkdir(home)
        self.env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"))

    def tshark(self, pcap, *args):
        """tshark with the dissector over pcap; returns stdout. Fails on
        a Lua error, at loading or in any packet."""
        r = subprocess.run([TSHARK, "-n", "-r", pcap, "-X", f"lua_script:{LUA}", *args],
                           capture_output=True, text=True, timeout=60, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in (r.stderr, r.stdout):
            self.assertNotIn("Lua: Error", text)
            self.assertNotIn("Lua Error", text)
        return r.stdout

    def decode(self, pcap, *args):
        """Every packet as (frame number, tcp.stream, [Msg...]) from PDML;
        fails if any packet was malformed for Wireshark."""
        root = ET.fromstring(self.tshark(pcap, "-T", "pdml", *args))
        packets = []
        for packet in root.iter("packet"):
            frame = stream = None
            msgs = []
            for proto in packet.findall("proto"):
                name = proto.get("name")
                if name == "frame":
                    frame = int(proto.find("field[@name='frame.number']").get("show"))
                elif name == "tcp":
                    stream = int(proto.find("field[@name='tcp.stream']").get("show"))
                elif name == "_ws.malformed":
                    self.fail(f"frame {frame} malformed: {proto.get('showname')}")
                elif name in OURS:
                    msgs.append(Msg(proto, frame, stream))
            packets.append((frame, stream, msgs))
        return packets

    def messages(self, pcap, *args, proto=None):
        """Our messages in capture order, by tcp.stream (None for UDP)."""
        by_stream = {}
        for _, stream, msgs in self.decode(pcap, *args):
            for m in msgs:
                if proto is None or m.proto == proto:
                    by_stream.setdefault(stream, []).append(m)
        return by_stream

    def capture(self, port):
        if not DUMPCAP:
            self.skipTest("dumpcap is not installed (Debian: apt-get install -y tshark)")
        cap = Capture(self, f"tcp port {port}")
        self.addCleanup(cap.kill)
        return cap.start()

    def generated(self):
        """The scripted pcaps, written afresh by mkpcap.py's command line."""
        out = os.path.join(self.tmp, "pcaps")
        r = subprocess.run([sys.executable, os.path.join(WS_DIR, "mkpcap.py"), out],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {name: os.path.join(out, f"{name}.pcap") for name in ("native", "lottery", "hub")}

    # ------------------------------------------------------------ live

    def test_native_live(self):
        """Every native exchange against the real ferryd and its client."""
        blob = os.urandom(100_000)
        self.put("blob.bin", blob)
        self.put("hello.txt", b"hello, ferry\n")
        self.put("a.txt", b"abc")
        srv = self.serve(args=("--workers", "1"))
        cap = self.capture(srv.port)

        got = ferry("get", "-o", "-", "127.0.0.1", srv.port, "blob.bin", "1M")
        self.assertEqual((got.returncode, got.stdout), (0, blob), got.stderr)
        s, answer = srv.ask("hello.txt")
        s.sendall(READY)
        self.assertEqual(recv_exact(s, 100), b"hello, ferry\n")
        s.close()
        s, answer = srv.ask("blob.bin")
        s.sendall(REFUSE)
        self.assertEqual(recv_exact(s, 100), b"")
        s.close()
        listing = ferry("ls", "127.0.0.1", srv.port)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        s, answer = srv.ask("nope")
        self.assertEqual(answer[2], 3)
        self.assertEqual(recv_exact(s, 100), b"")
        s.close()
        s = srv.connect()
        s.sendall(struct.pack(">BBHQQ", 1, 7, 9, 7, 1000) + b"hello.txt")
        self.assertEqual(recv_exact(s, 100)[11:], b"ferry\n")
        s.close()
        pcap = cap.stop(os.path.join(self.tmp, "native-live.pcap"))

        mtime = {n: int(os.stat(os.path.join(self.root, n)).st_mtime)
                 for n in ("a.txt", "blob.bin", "hello.txt")}
        expected = [
            ["GET blob.bin offset=0 max_size=1048576", "FILE_RESPONSE OK size=100000",
             "content 100000 bytes from 0, 0 left"],
            ["FILE_REQUEST hello.txt", "FILE_RESPONSE OK size=13", "READY",
             "content 13 bytes from 0, 0 left"],
            ["FILE_REQUEST blob.bin", "FILE_RESPONSE OK size=100000", "REFUSE"],
            ["LIST", "LIST_RESPONSE OK count=3",
             f"record a.txt size=3 mtime={mtime['a.txt']} kind=regular file",
             f"record blob.bin size=100000 mtime={mtime['blob.bin']} kind=regular file",
             f"record hello.txt size=13 mtime={mtime['hello.txt']} kind=regular file"],
            ["FILE_REQUEST nope", "FILE_RESPONSE NOT_FOUND size=0"],
            ["GET hello.txt offset=7 max_size=1000", "FILE_RESPONSE OK size=13",
             "content 6 bytes from 7, 0 left"],
        ]
        by_stream = self.messages(pcap, "-d", f"tcp.port=={srv.port},ferry")
        self.assertEqual(sorted(by_stream), list(range(len(expected))), by_stream)
        for stream, want in enumerate(expected):
            with self.subTest(stream=stream):
                lines = [native_summary(m) for m in by_stream[stream]]
                self.assertEqual(merge_content(lines), want)
        # 100000 bytes are more than one IPv4 packet holds: counted piece
        # by piece, never taken for messages.
        pieces = [m for m in by_stream[0] if "ferry.content_bytes" in m]
        self.assertGreaterEqual(len(pieces), 2)
        self.assertEqual([m.int("ferry.content_remaining") for m in pieces][-1], 0)
        # The answer names its request's frame.
        get_frame = by_stream[0][0].frame
        self.assertEqual(by_stream[0][1].int("ferry.request_in"), get_frame)

    def test_native_put_live(self):
        """PUTs to the real ferryd with a hub on the plain wire: one stored
        (content, then OK, nothing after it: the plain wire), one with a
        token that is no session (UNAUTHORIZED before any content)."""
        db = self.hub_db()
        srv = self.serve(args=("--workers", "1", "--hub-db", db, "--hub-wire", "plain"),
                         listen=["native=127.0.0.1:0", "hub=127.0.0.1:0"])
        hub = HubClient(("127.0.0.1", hub_port(srv, "127.0.0.1")))
        self.addCleanup(hub.close)
        srv.wait_log(r"hub started: pid \d+ slot \d+")
        r = admin(srv.admin, cmd="hub-useradd", id="alice", password="alice-pw")
        self.assertTrue(r["ok"], r)
        token = hub.login("alice", "alice-pw")
        cap = self.capture(srv.port)
        data = os.urandom(40000)
        self.assertEqual(hub_put(srv, token, "report.bin", data), (0, len(data)))
        dead = token ^ 0x5A5A5A5A
        self.assertEqual(hub_put(srv, dead, "x.txt", b"", size=1), (11, 0))
        pcap = cap.stop(os.path.join(self.tmp, "put-live.pcap"))
        with open(os.path.join(self.root, "report.bin"), "rb") as f:
            self.assertEqual(f.read(), data)

        by_stream = self.messages(pcap, "-d", f"tcp.port=={srv.port},ferry")
        self.assertEqual(sorted(by_stream), [0, 1], by_stream)
        s0, s1 = by_stream[0], by_stream[1]
        self.assertEqual(merge_content([native_summary(m) for m in s0]), [
            f"PUT report.bin size={len(data)} token=0x{token:08x}",
            f"content {len(data)} bytes from 0, 0 left", f"FILE_RESPONSE OK size={len(data)}"])
        self.assertEqual([native_summary(m) for m in s1], [
            f"PUT x.txt size=1 token=0x{dead:08x}", "FILE_RESPONSE UNAUTHORIZED size=0"])
        self.assertEqual(s0[-1].get("ferry.put.wire"), "plain")
        self.assertEqual(s0[-1].int("ferry.request_in"), s0[0].frame)
        self.assertNotIn("ferry.put.wire", s1[-1])
        self.assertEqual(s1[-1].all("_ws.expert.message"), ["UNAUTHORIZED"])

    def test_lottery_live(self):
        """A lottery session against the real ferryd's service: the numbers
        the dissector reads are the ones the client received."""
        srv = self.serve(listen=["lottery=127.0.0.1:0"], args=("--workers", "1"))
        cap = self.capture(srv.port)
        s = srv.connect()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = s.makefile("rb")

        def lines(n):
            return [reader.readline().decode().rstrip("\n") for _ in range(n)]

        s.sendall(struct.pack(">7I", *[0] * 7))  # seven GENs in one segment
        gens = lines(7)
        drawn = [int(re.fullmatch(r"New number generated: (\d+)", g).group(1)) for g in gens[:6]]
        self.assertEqual(gens[6], "Full")
        s.sendall(b"\x01\x00\x00\x00")  # LIST, little-endian
        numbers = lines(1)
        self.assertEqual(numbers, ["numbers: " + " ".join(map(str, drawn))])
        s.sendall(struct.pack(">I", 9))
        self.assertEqual(lines(1), ["error: unknown command 9"])
        s.sendall(b"\x00\x00\x00")  # LIST, big-endian, in two writes
        s.sendall(b"\x01")
        self.assertEqual(lines(1), numbers)
        s.sendall(struct.pack(">I", 2))  # END: the server closes
        self.assertEqual(reader.read(), b"")
        reader.close()
        s.close()
        pcap = cap.stop(os.path.join(self.tmp, "lottery-live.pcap"))

        by_stream = self.messages(pcap, "-d", f"tcp.port=={srv.port},ferrylottery")
        self.assertEqual(list(by_stream), [0])
        want = (["GEN"] * 7 + [f"NEW_NUMBER {n}" for n in drawn] + ["FULL"]
                + ["LIST (little-endian)", "NUMBERS " + " ".join(map(str, drawn))]
                + ["unknown 9", "ERROR 9", "LIST", "NUMBERS " + " ".join(map(str, drawn)), "END"])
        self.assertEqual([lottery_summary(m) for m in by_stream[0]], want)
        self.assertTrue(all(m.proto == "ferrylottery" for m in by_stream[0]))

    # ------------------------------------------------------------ generated

    def test_native_reassembly_and_heuristic(self):
        """Messages split across segments, content beside a response, LIST
        records spanning segments; ports 12345 (registered) and 40123 (the
        heuristic); the same in tshark's two passes."""
        pcap = self.generated()["native"]
        expected = [
            ["FILE_REQUEST hello.txt", "FILE_RESPONSE OK size=18", "READY",
             "content 18 bytes from 0, 0 left"],
            ["GET data.bin offset=2 max_size=1048576", "FILE_RESPONSE OK size=100",
             "content 98 bytes from 2, 0 left"],
            ["LIST", "LIST_RESPONSE OK count=3",
             "record a.txt size=3 mtime=1700000000 kind=regular file",
             "record big.bin size=1099511627776 mtime=1600000000 kind=regular file",
             "record hello.txt size=18 mtime=-1 kind=regular file"],
            ["FILE_REQUEST nope", "FILE_RESPONSE NOT_FOUND size=0"],
            ["FILE_REQUEST big.iso", "FILE_RESPONSE OK size=5000000", "REFUSE"],
            ["GET x offset=0 max_size=1000", "FILE_RESPONSE TOO_LARGE size=2000000000"],
            ["FILE_REQUEST version=2", "FILE_RESPONSE VERSION_MISMATCH size=0"],
        ]
        expected = dict(enumerate(expected))
        mac = mkpcap.put_mac(b"report.pdf").hex()
        wrong = mkpcap.put_mac(b"wrong").hex()
        expected.update({  # the PUTs, field by field in test_native_put
            9: ["PUT hello.txt size=6 token=0x7ef6a28a", "content 6 bytes from 0, 0 left",
                "FILE_RESPONSE OK size=6"],
            10: ["PUT report.pdf size=1000 token=0x7ef6a28a", "content 1000 bytes from 0, 0 left",
                 f"MAC {mac}", "FILE_RESPONSE OK size=1000"],
            11: ["PUT hello.txt size=6 token=0xdeadbeef", "FILE_RESPONSE UNAUTHORIZED size=0",
                 "content 6 bytes from 0, 0 left"],
            12: ["PUT notes.txt size=20 token=0x7ef6a28a", "content 20 bytes from 0, 0 left",
                 f"MAC {wrong}", "FILE_RESPONSE UNAUTHORIZED size=0"],
            13: ["PUT .env size=0 token=0x7ef6a28a", "FILE_RESPONSE INVALID_NAME size=0"],
            14: ["PUT - size=5 token=0x7ef6a28a", "FILE_RESPONSE INVALID_NAME size=0"],
            17: ["PUT a.txt size=4 token=0x7ef6a28a", "content 4 bytes from 0, 0 left",
                 "FILE_RESPONSE OK size=4", f"unexpected {mkpcap.put_mac(b'late').hex()}"],
            18: ["PUT b.txt size=4 token=0x7ef6a28a", "content 4 bytes from 0, 0 left",
                 f"MAC {mkpcap.put_mac(b'b.txt').hex()}", "unexpected 010203",
                 "FILE_RESPONSE UNAUTHORIZED size=0"],
            19: ["PUT c.txt size=10 token=0x7ef6a28a", "content 4 bytes from 0, 6 left",
                 "FILE_RESPONSE OK size=9", "content 6 bytes from 4, 0 left"],
        })
        for passes in ((), ("-2",)):
            with self.subTest(passes=passes):
                by_stream = self.messages(pcap, *passes)
                # Streams 7, 8, 15 and 16 are not ferry's: the heuristic
                # leaves them.
                self.assertEqual(sorted(by_stream), sorted(expected))
                for stream, want in expected.items():
                    lines = [native_summary(m) for m in by_stream[stream]]
                    self.assertEqual(merge_content(lines), want, f"stream {stream}")
                # Where each piece was decoded: the response split 5+6 in the
                # frame of its second half, the content counted per segment.
                s0 = by_stream[0]
                self.assertEqual([(m.frame, native_summary(m)) for m in s0[1:]], [
                    (6, "FILE_RESPONSE OK size=18"), (7, "READY"),
                    (8, ("content", 10, 0, 8)), (9, ("content", 8, 10, 0))])
                s1 = by_stream[1]
                self.assertEqual([m.frame for m in s1], [17, 18, 18, 19])
                self.assertEqual([native_summary(m) for m in s1[2:]],
                                 [("content", 30, 2, 68), ("content", 68, 32, 0)])
                self.assertEqual([m.frame for m in by_stream[2]], [26, 27, 28, 28, 29])
                self.assertEqual(by_stream[3][0].frame, 37)  # request split 3+5
        # The README's way: plain fields, one line per packet.
        out = self.tshark(pcap, "-T", "fields", "-e", "frame.number", "-e", "ferry.type", "-e",
                          "ferry.name", "-e", "ferry.status", "-e", "ferry.size", "-e",
                          "ferry.content_bytes", "-Y", "tcp.stream == 0 && ferry")
        self.assertEqual(out.splitlines(), ["4\t0x01\thello.txt\t\t\t", "6\t0x02\t\t0\t18\t",
                                            "7\t0x03\t\t\t\t", "8\t\t\t\t\t10",
                                            "9\t\t\t\t\t8"])
        # Streams 4, 5 and 10 (port 40123) are found by the heuristic alone.
        without = self.messages(pcap, "--disable-heuristic", "ferry_tcp")
        self.assertEqual(sorted(without), [0, 1, 2, 3, 6, 9, 11, 12, 13, 14, 17, 18, 19])

    def test_native_put(self):
        """PUT (type 0x08), every field of every message: the plain wire
        (header, name and content each split), the secure wire's MAC split
        across segments and found by the heuristic, a dead token refused
        before the content (which still comes), a wrong MAC in the
        request's own segment, names a PUT may not take, bytes that are
        not a MAC, an OK that does not fit; the same in tshark's two
        passes."""
        # mkpcap writes PROTOCOL.md's example, byte for byte.
        self.assertEqual(mkpcap.put(b"hello.txt", 6, mkpcap.PUT_TOKEN) + mkpcap.PUT_HELLO,
                         bytes.fromhex("01 08 00 09 00 00 00 00 00 00 00 06 7e f6 a2 8a"
                                       "68 65 6c 6c 6f 2e 74 78 74 68 65 6c 6c 6f 0a"))
        self.assertEqual(mkpcap.file_response(mkpcap.UNAUTHORIZED, 0),
                         bytes.fromhex("01 02 0b 00 00 00 00 00 00 00 00"))
        pcap = self.generated()["native"]

        def put(name, size, token, name_len=None):
            f = {"ferry.version": "1", "ferry.type": "0x08",
                 "ferry.name_len": str(len(name) if name_len is None else name_len),
                 "ferry.put.size": str(size), "ferry.put.token": f"0x{token:08x}"}
            return {**f, "ferry.name": name} if name else f

        def content(n, offset, left):
            return {"ferry.content_bytes": str(n), "ferry.content_offset": str(offset),
                    "ferry.content_remaining": str(left)}

        def response(status, size, request_in, wire=None):
            f = {"ferry.version": "1", "ferry.type": "0x02", "ferry.status": str(status),
                 "ferry.size": str(size), "ferry.request_in": str(request_in)}
            return {**f, "ferry.put.wire": wire} if wire else f

        token, dead = mkpcap.PUT_TOKEN, mkpcap.PUT_DEAD_TOKEN
        refused = [("ferry.error_status", "UNAUTHORIZED")]
        invalid = [("ferry.error_status", "INVALID_NAME")]
        # stream -> [(frame, fields, [(expert, words of its message)])]
        expected = {
            9: [(88, put("hello.txt", 6, token), []),  # header 87 + name 88
                (89, content(3, 0, 3), []), (90, content(3, 3, 0), []),
                (91, response(0, 6, 88, "plain"), [])],
            10: [(98, put("report.pdf", 1000, token), []),
                 (99, content(600, 0, 400), []), (100, content(400, 600, 0), []),
                 (101, {"ferry.put.mac": mkpcap.put_mac(b"report.pdf").hex()}, []),
                 (102, response(0, 1000, 98, "secure"), [])],
            11: [(109, put("hello.txt", 6, dead), []),
                 (110, response(11, 0, 109), refused),
                 (111, content(6, 0, 0), [])],
            12: [(118, put("notes.txt", 20, token), []), (118, content(20, 0, 0), []),
                 (118, {"ferry.put.mac": mkpcap.put_mac(b"wrong").hex()}, []),
                 (119, response(11, 0, 118, "secure"), refused)],
            13: [(126, put(".env", 0, token), [("ferry.bad_name", "Invalid name for a PUT")]),
                 (127, response(2, 0, 126), invalid)],
            14: [(134, put(None, 5, token, name_len=101),
                  [("ferry.bad_name", "Name length 101 (a PUT's name is 1-100 bytes)")]),
                 (135, response(2, 0, 134), invalid)],
            # Bytes after an OK are no MAC; bytes after a MAC are unexpected.
            17: [(159, put("a.txt", 4, token), []), (160, content(4, 0, 0), []),
                 (161, response(0, 4, 159, "plain"), []),
                 (162, {"ferry.extra": mkpcap.put_mac(b"late").hex()},
                  [("ferry.extra_bytes", "answered the PUT OK: not a MAC")])],
            18: [(169, put("b.txt", 4, token), []), (170, content(4, 0, 0), []),
                 (170, {"ferry.put.mac": mkpcap.put_mac(b"b.txt").hex()}, []),
                 (170, {"ferry.extra": "010203"},
                  [("ferry.extra_bytes", "Bytes beyond what the protocol allows")]),
                 (171, response(11, 0, 169, "secure"), refused)],
            19: [(178, put("c.txt", 10, token), []), (179, content(4, 0, 6), []),
                 (180, response(0, 9, 178),
                  [("ferry.mismatch", "PUT answered OK with 6 bytes of its content still due"),
                   ("ferry.mismatch", "PUT of 10 bytes answered OK with size 9")]),
                 (181, content(6, 4, 0), [])],
        }
        for passes in ((), ("-2",)):
            by_stream = self.messages(pcap, *passes)
            for stream, want in expected.items():
                with self.subTest(passes=passes, stream=stream):
                    msgs = by_stream[stream]
                    self.assertEqual([(m.frame, native_fields(m)) for m in msgs],
                                     [(frame, fields) for frame, fields, _ in want])
                    for m, (_, _, experts) in zip(msgs, want):
                        self.assertEqual(sorted(n for n, fs in m.fields.items()
                                                if n in NATIVE_EXPERTS for _ in fs),
                                         sorted(name for name, _ in experts))
                        messages = m.all("_ws.expert.message")
                        self.assertEqual(len(messages), len(experts), messages)
                        for (_, words), message in zip(experts, messages):
                            self.assertIn(words, message)
                    self.assertEqual(msgs[0].vs("ferry.type"), "PUT")
                    status = [m for m in msgs if "ferry.status" in m][0]
                    self.assertEqual(status.vs("ferry.status"),
                                     {0: "OK", 2: "INVALID_NAME", 11: "UNAUTHORIZED"}[
                                         status.int("ferry.status")])
        # The README's way: plain fields, one line per packet.
        out = self.tshark(pcap, "-T", "fields", "-e", "frame.number", "-e", "ferry.type", "-e",
                          "ferry.name", "-e", "ferry.put.size", "-e", "ferry.put.token", "-e",
                          "ferry.content_bytes", "-e", "ferry.put.mac", "-e", "ferry.status",
                          "-e", "ferry.put.wire", "-Y", "tcp.stream == 10 && ferry")
        mac = mkpcap.put_mac(b"report.pdf").hex()
        self.assertEqual(out.splitlines(), [
            "98\t0x08\treport.pdf\t1000\t0x7ef6a28a\t\t\t\t", "99\t\t\t\t\t600\t\t\t",
            "100\t\t\t\t\t400\t\t\t", f"101\t\t\t\t\t\t{mac}\t\t",
            "102\t0x02\t\t\t\t\t\t0\tsecure"])
        # Filters by the new names.
        out = self.tshark(pcap, "-T", "fields", "-e", "frame.number", "-Y",
                          "ferry.status == 11 || ferry.put.mac || ferry.type == 8")
        self.assertEqual(out.split(), ["88", "98", "101", "109", "110", "118", "119", "126",
                                       "134", "159", "169", "170", "171", "178"])

    def test_lottery_reassembly(self):
        """Commands split 3+1, several in one segment, one split across
        two; an answer line split across segments; END little-endian."""
        pcap = self.generated()["lottery"]
        port = mkpcap.LOTTERY_PORT
        by_stream = self.messages(pcap, "-d", f"tcp.port=={port},ferrylottery")
        self.assertEqual([lottery_summary(m) for m in by_stream[0]], [
            "GEN", "NEW_NUMBER 17", "LIST", "NUMBERS 17 0 0 0 0 0",
            "GEN", "LIST (little-endian)", "unknown 7", "GEN",
            "NEW_NUMBER 42", "NUMBERS 17 42 0 0 0 0", "ERROR 7", "NEW_NUMBER 5", "END"])
        self.assertEqual([m.frame for m in by_stream[0]],
                         [4, 5, 7, 8, 9, 9, 9, 10, 11, 11, 12, 12, 13])
        self.assertEqual([lottery_summary(m) for m in by_stream[1]],
                         ["GEN", "FULL", "END (little-endian)"])
        numbers = by_stream[0][9]
        self.assertEqual(numbers.get("ferrylottery.drawn"), "2")
        self.assertEqual(numbers.get("ferrylottery.answer"), "numbers: 17 42 0 0 0 0")
        le = by_stream[0][5]
        self.assertEqual((le.int("ferrylottery.cmd"), le.get("ferrylottery.little_endian")),
                         (16777216, "1"))
        # No default port and no heuristic: without Decode As nothing of
        # ours claims it (nor does the native heuristic take 00 00 00 00).
        self.assertEqual(self.messages(pcap), {})

    def test_hub(self):
        """Every opcode in plain datagrams, secure envelopes, a malformed
        length, the heuristic on another port, a stranger left alone; the
        secure wire's login (HELLO, CHALLENGE, sealed PROOF), told from
        the plain wire's id&password by its shape, and its edges."""
        pcap = self.generated()["hub"]
        packets = self.decode(pcap)
        sent = mkpcap.hub_messages()
        self.assertEqual(len(packets), len(sent) + 2)
        self.assertEqual([p[2] for p in packets[-2:]], [[], []], "datagrams not the hub's")
        for mode in ("payload", "ct_len"):  # every opcode, plain and secure
            self.assertEqual({m["opcode"] for m in sent if mode in m}, set(HUB_NAMES))
        for (frame, _, msgs), want in zip(packets, sent):
            with self.subTest(frame=frame, opcode=hex(want["opcode"])):
                self.assertEqual(len(msgs), 1)
                m = msgs[0]
                self.assertEqual(m.proto, "ferryhub")
                self.assertEqual(m.int("ferryhub.opcode"), want["opcode"])
                self.assertEqual(m.vs("ferryhub.opcode"), HUB_NAMES[want["opcode"]])
                self.assertEqual(m.int("ferryhub.magic"), 0x4652)
                self.assertEqual(m.int("ferryhub.token"), want["token"])
                self.assertEqual(m.int("ferryhub.msg_id"), want["msg_id"])
                direction = ("either way" if want["opcode"] == 0 else
                             "client to server" if want["opcode"] < 0x80 else "server to client")
                self.assertEqual(m.get("ferryhub.direction"), direction)
                experts = hub_experts(want)
                self.assertEqual(sorted(n for n in m.fields if n in HUB_EXPERTS),
                                 sorted(name for name, _ in experts))
                messages = m.all("_ws.expert.message")
                self.assertEqual(len(messages), len(experts), messages)
                for (_, words), message in zip(experts, messages):
                    self.assertIn(words, message)
                if "payload" in want:
                    self.check_plain(m, want)
                elif "malformed" in want:
                    self.assertEqual(m.get("ferryhub.mode"), "malformed")
                    self.assertEqual(hub_fields(m), {})
                else:
                    self.assertEqual(m.get("ferryhub.mode"), "secure")
                    n = want["ct_len"]
                    self.assertEqual(m.int("ferryhub.ciphertext_len"), n)
                    ct = mkpcap.hub_datagram(want)[12:12 + n].hex()
                    self.assertEqual(m.int("ferryhub.seq"), want["seq"])
                    # Nothing but the envelope: no payload, no login fields.
                    self.assertEqual(hub_fields(m), {
                        **({"ferryhub.ciphertext": ct} if n else {}),
                        "ferryhub.ciphertext_len": str(n), "ferryhub.seq": str(want["seq"]),
                        "ferryhub.tag": want["tag"].hex()})
                    if want["opcode"] == 0x11:  # the PROOF: a sealed signature
                        self.assertEqual("signature" in
                                         m.fields["ferryhub.ciphertext"][0].get("showname"),
                                         n == 64)
        # The README's way: plain fields, one line per packet.
        out = self.tshark(pcap, "-T", "fields", "-e", "ferryhub.opcode", "-e", "ferryhub.token",
                          "-e", "ferryhub.msg_id", "-e", "ferryhub.publisher", "-e",
                          "ferryhub.text", "-Y", "ferryhub.opcode == 0xb1")
        self.assertEqual(out.splitlines(), ["0xb1\t0x5ec0ffee\t12\tbob\thi alice",
                                            "0xb1\t0x5ec0ffee\t39\t\t"])
        # The logins, the same way: which form, whose, and the challenges.
        out = self.tshark(pcap, "-T", "fields", "-e", "ferryhub.opcode", "-e", "ferryhub.mode",
                          "-e", "ferryhub.login.form", "-e", "ferryhub.login.id", "-e",
                          "ferryhub.hello.id", "-e", "ferryhub.challenge.kdf", "-Y",
                          "(ferryhub.opcode == 0x10 || ferryhub.opcode == 0x11 ||"
                          " ferryhub.opcode == 0x82) && ferryhub.token == 0")
        self.assertEqual(out.splitlines(), [
            "0x10\tplain\tpassword\talice\t\t",
            "0x10\tplain\thello\t\talice\t",
            "0x82\tplain\t\t\t\t1",
            "0x11\tsecure\t\t\t\t",
            "0x10\tplain\thello\t\tThe_quick_brown_fox_jumps_over_1\t",
            "0x10\tplain\tpassword\tcarol\t\t",
            "0x10\tplain\tpassword\tdave\t\t",
            "0x10\tplain\tpassword\terin\t\t",
            "0x11\tplain\t\t\t\t",
            "0x82\tsecure\t\t\t\t",
            "0x11\tsecure\t\t\t\t",
            "0x82\tplain\t\t\t\t2",
            "0x82\tplain\t\t\t\t",
            "0x82\tplain\t\t\t\t",
        ])
        # A HELLO never shows a password, nor the login.id of the plain form.
        out = self.tshark(pcap, "-T", "fields", "-e", "ferryhub.login.id", "-e",
                          "ferryhub.login.password", "-Y", 'ferryhub.login.form == "hello"')
        self.assertEqual(out.splitlines(), ["\t", "\t"])

    def check_plain(self, m, want):
        raw = want["payload"]
        op = want["opcode"]
        self.assertEqual(m.get("ferryhub.mode"), "plain")
        self.assertEqual(m.int("ferryhub.payload_len"), len(raw))
        # Binary payloads (a HELLO, a CHALLENGE, a stray PROOF) are shown
        # field by field, never as text.
        binary = "hello" in want or op in (0x11, 0x82)
        # Text with a NUL in it (a login zero-padded like a HELLO) shows
        # up to the NUL: compare its bytes.
        nul = not binary and b"\0" in raw
        if binary:
            self.assertNotIn("ferryhub.payload", m)
        elif nul:
            self.assertEqual(m.fields["ferryhub.payload"][0].get("value"), raw.hex())
        else:
            self.assertEqual(m.get("ferryhub.payload"), raw.decode() or None)
        payload = "" if binary else raw.decode()
        fields = hub_fields(m)
        fields.pop("ferryhub.payload", None)
        if nul:
            fields["ferryhub.login.password"] = (
                m.fields["ferryhub.login.password"][0].get("value"))
        login = {}
        if op == 0x10 and "hello" in want:
            hello = want["hello"]
            login = {"ferryhub.login.form": "hello", "ferryhub.hello.eph": hello["eph"].hex(),
                     "ferryhub.hello.id_len": str(len(hello["id"])),
                     "ferryhub.hello.id": hello["id"],
                     "ferryhub.hello.padding": "00" * (mkpcap.HELLO_LEN - 33 - len(hello["id"]))}
        elif op == 0x10:
            user, password = payload.split("&", 1)
            login = {"ferryhub.login.form": "password", "ferryhub.login.id": user,
                     "ferryhub.login.password": password.encode().hex() if nul else password}
        challenge = {"ferryhub.payload_bytes": raw.hex()} if raw else {}
        if "challenge" in want:
            c = want["challenge"]
            challenge = {"ferryhub.challenge.salt": c["salt"].hex(),
                         "ferryhub.challenge.kdf": str(c["kdf"]),
                         "ferryhub.challenge.eph": c["eph"].hex(),
                         "ferryhub.challenge.hub_key": c["hub_key"].hex(),
                         "ferryhub.challenge.sig": c["sig"].hex()}
            self.assertEqual(m.vs("ferryhub.challenge.kdf"),
                             "Argon2id v1.3, interactive limits" if c["kdf"] == 1 else "Unknown")
        expected = {
            0x10: login,
            0x82: challenge,
            0x11: {"ferryhub.payload_bytes": raw.hex()},
            0x20: {"ferryhub.subscribe.id": "bob"},
            0x21: {"ferryhub.subscribe.id": "bob"},
            0x30: {"ferryhub.text": payload},
            0xB1: {"ferryhub.publisher": "bob", "ferryhub.text": "hi alice"},
            0xC0: {"ferryhub.publisher": "bob", "ferryhub.text": "an older line"},
            0xB2: {"ferryhub.publisher": "bob", "ferryhub.file.name": "report.pdf",
                   "ferryhub.file.size": "12345", "ferryhub.file.sha256": mkpcap.SHA},
            0x40: {"ferryhub.retrieve.count": "3"},
            0xF1: {"ferryhub.reason": "unknown opcode"},
        }.get(op, {})
        self.assertEqual(fields, expected)


if __name__ == "__main__":
    unittest.main()
