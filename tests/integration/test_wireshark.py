"""The Wireshark dissector contrib/wireshark/ferry.lua, run by tshark over
captures and checked field by field: live captures (dumpcap on loopback)
of the real ferryd serving the native protocol and the lottery service,
and the small pcaps contrib/wireshark/mkpcap.py writes: messages split
across TCP segments at chosen bytes, several in one segment, and the hub
protocol, whose server does not exist yet.

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
}


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


def native_summary(m):
    """One line per native message, from its fields alone."""
    if "ferry.content_bytes" in m:
        return ("content", m.int("ferry.content_bytes"), m.int("ferry.content_offset"),
                m.int("ferry.content_remaining"))
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
        for passes in ((), ("-2",)):
            with self.subTest(passes=passes):
                by_stream = self.messages(pcap, *passes)
                # Streams 7 and 8 are not ferry's: the heuristic leaves them.
                self.assertEqual(sorted(by_stream), list(range(len(expected))))
                for stream, want in enumerate(expected):
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
        # Streams 4 and 5 (port 40123) are found by the heuristic alone.
        without = self.messages(pcap, "--disable-heuristic", "ferry_tcp")
        self.assertEqual(sorted(without), [0, 1, 2, 3, 6])

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
        length, the heuristic on another port, a stranger left alone."""
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
                if "payload" in want:
                    self.check_plain(m, want)
                elif "malformed" in want:
                    self.assertEqual(m.get("ferryhub.mode"), "malformed")
                    self.assertIn("neither plain (17) nor secure (41)",
                                  " ".join(m.all("_ws.expert.message")))
                else:
                    self.assertEqual(m.get("ferryhub.mode"), "secure")
                    n = want["ct_len"]
                    self.assertEqual(m.int("ferryhub.ciphertext_len"), n)
                    self.assertEqual((m.get("ferryhub.ciphertext") or "").replace(":", ""),
                                     mkpcap.hub_datagram(want)[12:12 + n].hex())
                    self.assertEqual(m.int("ferryhub.seq"), want["seq"])
                    self.assertEqual(m.get("ferryhub.tag").replace(":", ""), want["tag"].hex())
                    self.assertNotIn("ferryhub.payload", m)
        # The README's way: plain fields, one line per packet.
        out = self.tshark(pcap, "-T", "fields", "-e", "ferryhub.opcode", "-e", "ferryhub.token",
                          "-e", "ferryhub.msg_id", "-e", "ferryhub.publisher", "-e",
                          "ferryhub.text", "-Y", "ferryhub.opcode == 0xb1")
        self.assertEqual(out.splitlines(), ["0xb1\t0x5ec0ffee\t12\tbob\thi alice",
                                            "0xb1\t0x5ec0ffee\t39\t\t"])

    def check_plain(self, m, want):
        payload = want["payload"].decode()
        op = want["opcode"]
        self.assertEqual(m.get("ferryhub.mode"), "plain")
        self.assertEqual(m.int("ferryhub.payload_len"), len(payload))
        self.assertEqual(m.get("ferryhub.payload"), payload or None)
        fields = {name: m.get(name) for name in m.fields
                  if name.startswith("ferryhub.") and name not in
                  ("ferryhub.magic", "ferryhub.opcode", "ferryhub.payload_len", "ferryhub.token",
                   "ferryhub.msg_id", "ferryhub.direction", "ferryhub.mode", "ferryhub.payload")}
        expected = {
            0x10: {"ferryhub.login.id": "alice", "ferryhub.login.password": "s3cret"},
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
