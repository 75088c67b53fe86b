"""contrib/python/ferry_client.py, a second implementation of the protocol
written from docs/PROTOCOL.md alone, against the real ferryd (GET, LIST,
every status, resume, IPv6, its command line) and against scripted fake
servers for what ferryd never does (a server that predates GET, malformed
or truncated answers)."""

import hashlib
import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

from ferrytest import FERRYD, FakeServer, FerryTest, Server, recv_exact, sha256_file

CONTRIB = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "python"))
sys.path.insert(0, CONTRIB)
import ferry_client as fc  # noqa: E402

MiB = 1 << 20


def sha(data):
    return hashlib.sha256(data).hexdigest()


def slurp(path):
    with open(path, "rb") as f:
        return f.read()


def run_cli(*args, cwd=None, timeout=60):
    env = dict(os.environ, PYTHONPATH=CONTRIB)
    return subprocess.run([sys.executable, "-m", "ferry_client", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def ferryd_has_listen():
    """Whether this ferryd takes --listen PROTO=ADDR:PORT (newer builds)."""
    try:
        r = subprocess.run([FERRYD, "--help"], capture_output=True, text=True, timeout=10)
    except OSError:
        return False
    return "--listen" in r.stdout


class RealServer(FerryTest):
    """The client against ferryd itself."""

    ADDRESS = "127.0.0.1"

    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)
        self.small = b"hello\n"
        self.big = os.urandom(MiB)
        self.put("small.txt", self.small)
        self.put("empty", b"")
        self.put("big.bin", self.big)
        # A short request timeout only makes a server that mishandles a
        # request fail sooner; a correct exchange never comes near it.
        self.srv = self.serve("prefork", args=("--workers", "2", "--request-timeout", "3"),
                              address=self.ADDRESS)
        self.host, self.port = self.srv.host, self.srv.port

    def get(self, name, max_size=16 * MiB, dest=None, **kw):
        return fc.get(self.host, self.port, name, max_size, dest, timeout=15, **kw)

    def dest(self, name="f"):
        return os.path.join(self.out, name)

    def assertNothingWritten(self):
        self.assertEqual(os.listdir(self.out), [])


class Get(RealServer):

    def test_files_arrive_whole(self):
        for name, data in (("small.txt", self.small), ("empty", b""), ("big.bin", self.big)):
            with self.subTest(name=name):
                dest = self.dest(name)
                self.assertEqual(self.get(name, dest=dest), len(data))
                self.assertEqual(sha256_file(dest), sha(data))
                self.assertFalse(os.path.exists(fc.part_path(dest)))

    def test_to_a_file_object(self):
        buf = io.BytesIO()
        self.assertEqual(self.get("big.bin", dest=buf), MiB)
        self.assertEqual(sha(buf.getvalue()), sha(self.big))

    def test_max_size_equal_to_the_size_is_accepted(self):
        buf = io.BytesIO()
        self.assertEqual(self.get("big.bin", MiB, buf), MiB)
        self.assertEqual(buf.getvalue(), self.big)

    def test_replaces_an_existing_destination_atomically(self):
        dest = self.dest()
        with open(dest, "wb") as f:
            f.write(b"old contents, longer than the new ones")
        self.get("small.txt", dest=dest)
        self.assertEqual(slurp(dest), self.small)

    def test_resume_produces_an_identical_file(self):
        for k in (1, 4096, 65536 + 3, MiB - 1, MiB):
            with self.subTest(offset=k):
                dest = self.dest(f"big-{k}")
                with open(fc.part_path(dest), "wb") as f:
                    f.write(self.big[:k])
                self.assertEqual(self.get("big.bin", dest=dest, offset=k), MiB)
                self.assertEqual(sha256_file(dest), sha(self.big))
                self.assertFalse(os.path.exists(fc.part_path(dest)))

    def test_resume_appends_only_what_follows_the_offset(self):
        # Local bytes the server does not have: the result shows that only
        # size - offset bytes came over and that they were appended.
        dest = self.dest()
        with open(fc.part_path(dest), "wb") as f:
            f.write(b"#" * 1000 + b"stale tail, cut at the offset")
        self.get("big.bin", dest=dest, offset=1000)
        self.assertEqual(slurp(dest), b"#" * 1000 + self.big[1000:])

    def test_offset_into_a_file_object(self):
        buf = io.BytesIO()
        self.assertEqual(self.get("big.bin", dest=buf, offset=12345), MiB)
        self.assertEqual(buf.getvalue(), self.big[12345:])

    def test_too_large_carries_the_size(self):
        dest = self.dest()
        with self.assertRaises(fc.TooLarge) as cm:
            self.get("big.bin", MiB - 1, dest)
        self.assertEqual((cm.exception.status, cm.exception.size), (8, MiB))
        self.assertNothingWritten()

    def test_bad_offset_carries_the_size(self):
        with self.assertRaises(fc.BadOffset) as cm:
            self.get("small.txt", dest=io.BytesIO(), offset=len(self.small) + 1)
        self.assertEqual((cm.exception.status, cm.exception.size), (9, len(self.small)))

    def test_too_large_is_judged_before_bad_offset(self):
        with self.assertRaises(fc.TooLarge) as cm:
            self.get("big.bin", 10, io.BytesIO(), offset=MiB + 1)
        self.assertEqual(cm.exception.size, MiB)

    def test_offset_at_the_end_is_a_complete_download(self):
        buf = io.BytesIO()
        self.assertEqual(self.get("small.txt", dest=buf, offset=len(self.small)), len(self.small))
        self.assertEqual(buf.getvalue(), b"")
        dest = self.dest()
        with open(fc.part_path(dest), "wb") as f:
            f.write(self.small)
        self.get("small.txt", dest=dest, offset=len(self.small))
        self.assertEqual(slurp(dest), self.small)

    def test_error_answer_leaves_the_partial_file_alone(self):
        dest = self.dest()
        with open(fc.part_path(dest), "wb") as f:
            f.write(b"partial")
        with self.assertRaises(fc.BadOffset):
            self.get("small.txt", dest=dest, offset=7)
        self.assertEqual(slurp(fc.part_path(dest)), b"partial")
        self.assertFalse(os.path.exists(dest))

    def test_not_found(self):
        with self.assertRaises(fc.NotFound) as cm:
            self.get("missing", dest=self.dest())
        self.assertEqual(cm.exception.status, 3)
        self.assertNothingWritten()

    def test_invalid_names(self):
        for name in ("a/b", "..", ".", "", "x" * 256, "tab\there", b"caf\xc3\xa9", b"\x7f",
                     "/etc/passwd"):
            with self.subTest(name=name):
                with self.assertRaises(fc.InvalidName) as cm:
                    self.get(name, dest=self.dest())
                self.assertEqual(cm.exception.status, 2)
        self.assertNothingWritten()

    def test_name_of_255_bytes_is_valid(self):
        self.put("n" * 255, b"long name")
        buf = io.BytesIO()
        self.get("n" * 255, dest=buf)
        self.assertEqual(buf.getvalue(), b"long name")

    def test_name_too_long_to_encode(self):
        with self.assertRaises(fc.InvalidName):
            self.get("x" * 65536, dest=self.dest())

    def test_not_regular(self):
        os.mkdir(os.path.join(self.root, "dir"))
        os.symlink("small.txt", os.path.join(self.root, "link"))
        os.symlink("nowhere", os.path.join(self.root, "dangling"))
        os.mkfifo(os.path.join(self.root, "fifo"))
        for name in ("dir", "link", "dangling", "fifo"):
            with self.subTest(name=name):
                with self.assertRaises(fc.NotRegular) as cm:
                    self.get(name, dest=self.dest())
                self.assertEqual(cm.exception.status, 4)
        self.assertNothingWritten()

    @unittest.skipIf(os.geteuid() == 0, "root reads a mode 000 file anyway")
    def test_access_denied(self):
        os.chmod(self.put("secret", b"s"), 0)
        with self.assertRaises(fc.AccessDenied):
            self.get("secret", dest=self.dest())
        self.assertNothingWritten()


class List(RealServer):

    def test_sorted_with_sizes_and_mtimes(self):
        names = ["b", "B", "a", "a b", "_", "~tilde", "Z1", "-dash", "a.txt", "n" * 255]
        for i, name in enumerate(names):
            path = self.put(name, os.urandom(i * 1000 + 1))
            os.utime(path, (1700000000 + i, 1700000000 + 7 * i))
        os.utime(os.path.join(self.root, "big.bin"), (0, -86400))  # before 1970: i64
        got = fc.list(self.host, self.port, timeout=15)
        expected = []
        for name in sorted(os.listdir(self.root), key=os.fsencode):
            st = os.stat(os.path.join(self.root, name))
            expected.append(fc.Entry(name, st.st_size, int(st.st_mtime), 0))
        self.assertEqual(got, expected)
        self.assertEqual([e.name for e in got], sorted((e.name for e in got), key=str.encode))
        by_name = {e.name: e for e in got}
        self.assertEqual(by_name["a b"].mtime, 1700000000 + 7 * names.index("a b"))
        self.assertEqual(by_name["big.bin"].size, MiB)
        if os.stat(os.path.join(self.root, "big.bin")).st_mtime == -86400:
            self.assertEqual(by_name["big.bin"].mtime, -86400)

    def test_only_what_a_request_would_serve(self):
        os.mkdir(os.path.join(self.root, "dir"))
        self.put(os.path.join("dir", "inner"), b"not directly inside")
        os.symlink("small.txt", os.path.join(self.root, "link"))
        os.symlink("nowhere", os.path.join(self.root, "dangling"))
        os.mkfifo(os.path.join(self.root, "fifo"))
        for bad in (b"tab\there", b"caf\xc3\xa9", b"new\nline", b"del\x7f"):
            with open(os.path.join(os.fsencode(self.root), bad), "wb") as f:
                f.write(b"invalid name")
        got = fc.list(self.host, self.port, timeout=15)
        self.assertEqual([e.name for e in got], ["big.bin", "empty", "small.txt"])
        self.assertEqual([e.size for e in got], [MiB, 0, len(self.small)])
        self.assertEqual({e.kind for e in got}, {0})
        # Every listed name can be fetched as listed.
        for e in got:
            buf = io.BytesIO()
            self.assertEqual(self.get(e.name, dest=buf), e.size)
            self.assertEqual(len(buf.getvalue()), e.size)

    def test_empty_directory(self):
        for name in os.listdir(self.root):
            os.unlink(os.path.join(self.root, name))
        self.assertEqual(fc.list(self.host, self.port, timeout=15), [])

    def test_two_thousand_files(self):
        expected = []
        for i in range(2000):
            name = f"file-{i:04d}.dat"
            path = self.put(name, b"x" * (i % 97))
            os.utime(path, (1600000000 + i, 1600000000 + i))
            expected.append(fc.Entry(name, i % 97, 1600000000 + i, 0))
        got = [e for e in fc.list(self.host, self.port, timeout=30)
               if e.name.startswith("file-")]
        self.assertEqual(len(got), 2000)
        self.assertEqual(got, expected)


class IPv6(RealServer):
    ADDRESS = "::1"

    @classmethod
    def setUpClass(cls):
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError as e:
            raise unittest.SkipTest(f"no IPv6 loopback here: {e}")

    def test_get_and_list_over_ipv6(self):
        self.assertEqual(self.host, "::1")
        buf = io.BytesIO()
        self.assertEqual(self.get("big.bin", dest=buf), MiB)
        self.assertEqual(sha(buf.getvalue()), sha(self.big))
        self.assertEqual([e.name for e in fc.list("::1", self.port, timeout=15)],
                         ["big.bin", "empty", "small.txt"])

    @unittest.skipUnless(ferryd_has_listen(), "this ferryd has no --listen option yet")
    def test_listen_native_ipv6(self):
        srv = Server(self.root, "prefork", ("--workers", "2"), listen=["native=[::1]:0"])
        self.servers.append(srv)
        self.assertEqual(srv.host, "::1")
        buf = io.BytesIO()
        self.assertEqual(fc.get("::1", srv.port, "big.bin", MiB, buf, timeout=15), MiB)
        self.assertEqual(sha(buf.getvalue()), sha(self.big))
        self.assertEqual([(e.name, e.size) for e in fc.list("::1", srv.port, timeout=15)],
                         [("big.bin", MiB), ("empty", 0), ("small.txt", len(self.small))])

    def test_cli_accepts_brackets(self):
        r = run_cli("get", "[::1]", self.port, "small.txt", "1K", "-o", "-")
        self.assertEqual((r.returncode, r.stdout), (0, self.small), r.stderr)
        r = run_cli("ls", "[::1]", self.port, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["name"] for e in json.loads(r.stdout)], ["big.bin", "empty", "small.txt"])


class Cli(RealServer):

    def cli(self, *args):
        return run_cli(*args, cwd=self.out)

    def test_get_into_the_current_directory(self):
        r = self.cli("get", self.host, self.port, "big.bin", "1M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(os.path.join(self.out, "big.bin")), sha(self.big))
        self.assertEqual(os.listdir(self.out), ["big.bin"])

    def test_get_to_stdout_and_to_a_path(self):
        r = self.cli("get", self.host, self.port, "small.txt", "6", "-o", "-")
        self.assertEqual((r.returncode, r.stdout), (0, self.small), r.stderr)
        r = self.cli("get", self.host, self.port, "small.txt", "1K", "-o", "copy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slurp(os.path.join(self.out, "copy")), self.small)
        r = self.cli("get", self.host, self.port, "small.txt", "1K", "-o", "copy")
        self.assertEqual(r.returncode, 1, r.stderr)  # exists, no -f
        self.assertIn(b"exists", r.stderr)

    def test_continue(self):
        with open(os.path.join(self.out, "big.bin.part"), "wb") as f:
            f.write(self.big[:300000])
        r = self.cli("get", self.host, self.port, "big.bin", "1M", "-c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"resumed at 300000", r.stderr)
        self.assertEqual(sha256_file(os.path.join(self.out, "big.bin")), sha(self.big))
        self.assertEqual(os.listdir(self.out), ["big.bin"])

    def test_continue_stops_when_the_file_shrank(self):
        part = os.path.join(self.out, "small.txt.part")
        with open(part, "wb") as f:
            f.write(b"a longer file that was replaced")
        r = self.cli("get", self.host, self.port, "small.txt", "1M", "-c")
        self.assertEqual(r.returncode, 19, r.stderr)
        self.assertIn(b"the file changed on the server", r.stderr)
        self.assertEqual(slurp(part), b"a longer file that was replaced")  # kept, untouched
        self.assertFalse(os.path.exists(os.path.join(self.out, "small.txt")))

    def test_status_exit_codes(self):
        os.mkdir(os.path.join(self.root, "dir"))
        for args, code, text in (
                (("missing", "1K"), 13, b"not found"),
                (("big.bin", "1023K"), 4, b"1048576 bytes > max 1047552 bytes"),
                (("dir", "1K"), 14, b"not a regular file"),
                (("a/b", "1K", "-o", "x"), 12, b"invalid name"),    # judged by the server
                (("..", "1K"), 12, b"invalid name"),                # refused locally
                (("..", "1K", "-o", "x"), 12, b"invalid name")):
            with self.subTest(args=args):
                r = self.cli("get", self.host, self.port, *args)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(text, r.stderr)
        self.assertEqual(os.listdir(self.out), [])

    def test_usage_exit_code(self):
        for args in (("get", self.host, self.port, "f"), ("get", self.host, "port", "f", "1K"),
                     ("get", self.host, self.port, "f", "1Q"), ("ls",), ("frobnicate",),
                     ("get", self.host, self.port, "f", "1K", "-o", "-", "-c")):
            with self.subTest(args=args):
                self.assertEqual(self.cli(*args).returncode, 2)

    def test_connect_failure_exit_code(self):
        with socket.socket() as s:  # bound, never listening: connections are refused
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            r = self.cli("get", "127.0.0.1", port, "f", "1K")
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertEqual(self.cli("ls", "127.0.0.1", port).returncode, 3)

    def test_ls_json_and_text(self):
        os.utime(os.path.join(self.root, "small.txt"), (1700000000, 1700000000))
        r = self.cli("ls", self.host, self.port, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        expected = []
        for name in ("big.bin", "empty", "small.txt"):
            st = os.stat(os.path.join(self.root, name))
            expected.append({"name": name, "size": st.st_size, "mtime": int(st.st_mtime),
                             "kind": 0})
        self.assertEqual(got, expected)
        r = self.cli("ls", self.host, self.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[2].split(), ["6", "2023-11-14T22:13:20Z", "small.txt"])


# --- scripted peers ------------------------------------------------------------

def read_any_request(conn):
    """Reads a FILE_REQUEST, GET or LIST; returns (type, offset, max_size, name)."""
    head = recv_exact(conn, 4)
    mtype, n = head[1], struct.unpack(">H", head[2:4])[0]
    offset = max_size = None
    if mtype == 7:
        offset, max_size = struct.unpack(">QQ", recv_exact(conn, 16))
    name = recv_exact(conn, n) if mtype != 5 else b""
    return mtype, offset, max_size, name


def response(status, size=0, version=1):
    return struct.pack(">BBBQ", version, 2, status, size)


class Fake(unittest.TestCase):

    def setUp(self):
        self.tmp = self.enterContext(tempfile.TemporaryDirectory())
        self.dest = os.path.join(self.tmp, "f")

    def against(self, handler, call, n=1):
        fake = FakeServer(handler, n=n)
        try:
            return call(fake.port)
        finally:
            fake.join()

    def get(self, handler, max_size=MiB, dest=None, n=1, **kw):
        return self.against(handler, lambda port: fc.get("127.0.0.1", port, "f", max_size,
                                                         dest or self.dest, timeout=10, **kw), n)

    def old_server(self, data, seen):
        """A server that predates GET: BAD_REQUEST to it, then FILE_REQUEST."""
        def handler(conn):
            mtype, offset, max_size, name = read_any_request(conn)
            seen.append((mtype, offset, max_size, name))
            if mtype != 1:
                conn.sendall(response(6))
                return
            conn.sendall(response(0, len(data)))
            reply = recv_exact(conn, 1)
            seen.append(reply)
            if reply == b"\x03":
                conn.sendall(data)
        return handler

    def test_fallback_to_file_request(self):
        data, seen = os.urandom(200000), []
        self.assertEqual(self.get(self.old_server(data, seen), n=2), len(data))
        self.assertEqual(sha256_file(self.dest), sha(data))
        self.assertEqual(seen, [(7, 0, MiB, b"f"), (1, None, None, b"f"), b"\x03"])

    def test_fallback_resumes_by_skipping(self):
        data, seen = os.urandom(200000), []
        with open(fc.part_path(self.dest), "wb") as f:
            f.write(data[:70000])
        self.get(self.old_server(data, seen), n=2, offset=70000)
        self.assertEqual(slurp(self.dest), data)
        self.assertEqual(seen[0], (7, 70000, MiB, b"f"))

    def test_fallback_refuses_what_is_too_large(self):
        seen = []
        with self.assertRaises(fc.TooLarge) as cm:
            self.get(self.old_server(b"x" * 5000, seen), max_size=4999, n=2)
        self.assertEqual(cm.exception.size, 5000)
        self.assertEqual(seen[-1], b"\x04")
        self.assertEqual(os.listdir(self.tmp), [])

    def test_fallback_refuses_a_bad_offset(self):
        seen = []
        with self.assertRaises(fc.BadOffset) as cm:
            self.get(self.old_server(b"x" * 50, seen), dest=io.BytesIO(), offset=51, n=2)
        self.assertEqual((cm.exception.size, seen[-1]), (50, b"\x04"))

    def test_fallback_happens_once(self):
        def handler(conn):
            read_any_request(conn)
            conn.sendall(response(6))
        with self.assertRaises(fc.BadRequest):
            self.get(handler, n=2)

    def answer_with(self, payload):
        def handler(conn):
            read_any_request(conn)
            conn.sendall(payload)
        return handler

    def test_malformed_file_responses(self):
        for payload, error in (
                (response(12), fc.ProtocolError),                       # unknown status
                (response(255), fc.ProtocolError),
                (struct.pack(">BBBI", 1, 6, 0, 0), fc.ProtocolError),   # LIST_RESPONSE to GET
                (struct.pack(">BBBQ", 1, 3, 0, 0), fc.ProtocolError),   # not a response type
                (response(0, 2 * MiB), fc.ProtocolError),               # OK above max_size
                (response(0, 1, version=2), fc.VersionMismatch),
                (b"\x02", fc.VersionMismatch),
                (response(0, 10)[:5], fc.TruncatedError),
                (b"", fc.TruncatedError)):
            with self.subTest(payload=payload):
                with self.assertRaises(error):
                    self.get(self.answer_with(payload))
                self.assertEqual(os.listdir(self.tmp), [])

    def test_truncated_header_says_what_was_expected(self):
        for payload in (b"", b"\x01", response(0, 10)[:5]):
            with self.subTest(payload=payload):
                with self.assertRaises(fc.TruncatedError) as cm:
                    self.get(self.answer_with(payload))
                self.assertEqual((cm.exception.expected, cm.exception.received), (11, len(payload)))
                self.assertIn(f"FILE_RESPONSE: received {len(payload)} of 11 bytes",
                              str(cm.exception))

    def test_ok_below_the_offset_is_a_protocol_error(self):
        with self.assertRaises(fc.ProtocolError):
            self.get(self.answer_with(response(0, 10)), dest=io.BytesIO(), offset=11)

    def test_statuses_map_to_exceptions(self):
        for status, cls in fc.STATUS_ERRORS.items():
            with self.subTest(status=status):
                with self.assertRaises(cls) as cm:
                    # BAD_REQUEST makes the client fall back: a second connection.
                    self.get(self.answer_with(response(status, 77 if status >= 8 else 0)),
                             n=2 if status == 6 else 1)
                self.assertIsInstance(cm.exception, fc.StatusError)
                self.assertEqual(cm.exception.status, status)
                if status >= 8:
                    self.assertEqual(cm.exception.size, 77)

    def test_statuses_match_the_protocol(self):
        """One exception per status of PROTOCOL.md's table, named after it
        (NOT_FOUND: NotFound), each with its own message; no other."""
        path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "PROTOCOL.md")
        with open(path) as f:
            section = f.read().split("## 2. FILE_RESPONSE", 1)[1].split("\n## ", 1)[0]
        table = {int(n): name for n, name in re.findall(r"^\|\s*(\d+)\s*\|\s*([A-Z_]+)\s*\|",
                                                        section, re.M)}
        self.assertEqual(table.pop(0), "OK")
        self.assertEqual(table[11], "UNAUTHORIZED")
        snake = {status: re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).upper()
                 for status, cls in fc.STATUS_ERRORS.items()}
        self.assertEqual(snake, table)
        texts = [cls.TEXT for cls in fc.STATUS_ERRORS.values()]
        self.assertEqual(len(set(texts)), len(texts))
        self.assertIs(fc.STATUS_ERRORS[11], fc.Unauthorized)
        self.assertIn("Unauthorized", fc.__all__)
        e = fc.Unauthorized("up.txt")
        self.assertEqual((e.status, e.name, e.size), (11, "up.txt", 0))
        self.assertEqual(str(e), "not authorized: no live hub session, or a wrong MAC: up.txt")

    def test_cli_unauthorized_exit_code(self):
        fake = FakeServer(self.answer_with(response(11)))
        r = run_cli("get", "127.0.0.1", fake.port, "f", "1K", cwd=self.tmp)
        fake.join()
        self.assertEqual(r.returncode, 21, r.stderr)  # 10 + status
        self.assertIn(b"not authorized: no live hub session, or a wrong MAC: f", r.stderr)
        self.assertEqual(os.listdir(self.tmp), [])

    def test_truncated_content_keeps_a_resumable_part(self):
        data = os.urandom(1000)
        with self.assertRaises(fc.TruncatedError) as cm:
            self.get(self.answer_with(response(0, 1000) + data[:400]))
        self.assertEqual((cm.exception.expected, cm.exception.received), (1000, 400))
        self.assertFalse(os.path.exists(self.dest))
        self.assertEqual(slurp(fc.part_path(self.dest)), data[:400])

        def rest(conn):
            _, offset, _, _ = read_any_request(conn)
            self.assertEqual(offset, 400)
            conn.sendall(response(0, 1000) + data[400:])
        self.get(rest, offset=os.path.getsize(fc.part_path(self.dest)))
        self.assertEqual(slurp(self.dest), data)
        self.assertEqual(os.listdir(self.tmp), ["f"])

    def test_truncated_before_any_content_leaves_nothing(self):
        with self.assertRaises(fc.TruncatedError) as cm:
            self.get(self.answer_with(response(0, 1000)))
        self.assertEqual((cm.exception.expected, cm.exception.received), (1000, 0))
        self.assertEqual(os.listdir(self.tmp), [])

    def test_silence_times_out_as_a_truncation(self):
        release = threading.Event()

        def stall(conn):
            read_any_request(conn)
            conn.sendall(response(0, 1000) + b"x" * 10)
            release.wait(30)
        fake = FakeServer(stall)
        try:
            with self.assertRaises(fc.TruncatedError) as cm:
                fc.get("127.0.0.1", fake.port, "f", MiB, self.dest, timeout=0.5)
        finally:
            release.set()
            fake.join()
        self.assertIn("timed out", str(cm.exception))
        self.assertEqual(slurp(fc.part_path(self.dest)), b"x" * 10)

    def list_against(self, payload):
        return self.against(self.answer_with(payload),
                            lambda port: fc.list("127.0.0.1", port, timeout=10))

    @staticmethod
    def record(name, size=1, mtime=0, kind=0):
        return struct.pack(">H", len(name)) + name + struct.pack(">QqB", size, mtime, kind)

    def test_list_decodes_the_documented_example(self):
        example = bytes.fromhex("01 06 00 00 00 00 01 00 05 61 2e 74 78 74 00 00 00 00 00 00 00 03"
                                "00 00 00 00 65 53 f1 00 00")
        self.assertEqual(self.list_against(example), [fc.Entry("a.txt", 3, 1700000000, 0)])

    def test_list_signed_mtime_and_large_size(self):
        payload = (struct.pack(">BBBI", 1, 6, 0, 1)
                   + self.record(b"old", (1 << 64) - 1, -1))
        self.assertEqual(self.list_against(payload), [fc.Entry("old", (1 << 64) - 1, -1, 0)])

    def test_list_errors(self):
        head = lambda count, status=0: struct.pack(">BBBI", 1, 6, status, count)  # noqa: E731
        for payload, error in (
                (response(6), fc.BadRequest),                  # a server that predates LIST
                (response(1), fc.VersionMismatch),
                (response(0), fc.ProtocolError),               # OK FILE_RESPONSE to LIST
                (head(0, 7), fc.ServerError),
                (head(0, 3), fc.ProtocolError),
                (head(1) + struct.pack(">H", 0) + b"\0" * 17, fc.ProtocolError),   # name_len 0
                (head(1) + self.record(b"../x"), fc.ProtocolError),
                (head(2) + self.record(b"b") + self.record(b"a"), fc.ProtocolError),  # unsorted
                (head(2) + self.record(b"a") + self.record(b"a"), fc.ProtocolError),  # duplicate
                (head(2) + self.record(b"a"), fc.TruncatedError),
                (head(1) + self.record(b"abc")[:10], fc.TruncatedError),
                (head(1)[:4], fc.TruncatedError)):
            with self.subTest(payload=payload):
                with self.assertRaises(error):
                    self.list_against(payload)

    def test_list_request_bytes(self):
        seen = []

        def handler(conn):
            seen.append(recv_exact(conn, 4))
            conn.sendall(struct.pack(">BBBI", 1, 6, 0, 0))
        self.assertEqual(self.against(handler, lambda port: fc.list("127.0.0.1", port)), [])
        self.assertEqual(seen, [b"\x01\x05\x00\x00"])

    def test_get_request_bytes_match_the_documented_example(self):
        seen = []

        def handler(conn):
            seen.append(recv_exact(conn, 29))
            conn.sendall(response(0, 6) + b"llo\n")
        buf = io.BytesIO()
        self.against(handler, lambda port: fc.get("127.0.0.1", port, "hello.txt", MiB, buf,
                                                  offset=2))
        self.assertEqual(seen[0], bytes.fromhex(
            "01 07 00 09 00 00 00 00 00 00 00 02 00 00 00 00 00 10 00 00"
            "68 65 6c 6c 6f 2e 74 78 74"))
        self.assertEqual(buf.getvalue(), b"llo\n")

    def test_cli_protocol_error_exit_code(self):
        fake = FakeServer(self.answer_with(response(0, 100) + b"short"))
        r = run_cli("get", "127.0.0.1", fake.port, "f", "1K", cwd=self.tmp)
        fake.join()
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn(b"received 5 of 100 bytes", r.stderr)
        self.assertEqual(os.listdir(self.tmp), ["f.part"])


if __name__ == "__main__":
    unittest.main()
