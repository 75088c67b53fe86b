"""HTTP/1.1 against the real ferryd, in every mode, on loopback: curl for
the happy paths, raw sockets for framing, keep-alive and timing. Two
servers per class are shared by the cheap checks (both HTTP + native; `main`:
--redirect, --header-timeout 2; `auto`: --autoindex, --keepalive-requests 2,
--keepalive-timeout 1); tests that need their own options, logs or
process count start their own."""

import email.utils
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from ferrytest import (FERRYD, READY, Server, children_of, ferry, per_mode, recv_exact, request,
                       sha256_file, wait_until)

SPARSE_SIZE = 5 << 30
SPARSE_END_AT = SPARSE_SIZE - 1000
SPARSE_END = b"ferry: bytes near the end of a 5 GiB file"
SPARSE_4G = b"FOUR-GIB"  # at exactly 2^32: a 32-bit offset would read byte 0
WEIRD = "<b>&\"x'.txt"
OLD = 1_700_000_000  # a fixed mtime, long past: Last-Modified is a strong validator
MANY = 300
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def ferry_version():
    out = subprocess.run([FERRYD, "--version"], capture_output=True, text=True, timeout=10).stdout
    return re.match(r"ferryd (\S+)", out).group(1)


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Response:
    """A parsed response: status, reason, headers (lower-case name -> list
    of values), body."""

    def __init__(self, head, body=b""):
        assert head.endswith(b"\r\n\r\n"), head
        assert b"\n" not in head.replace(b"\r\n", b""), f"bare LF in {head!r}"
        lines = head[:-4].decode("latin-1").split("\r\n")
        self.version, status, self.reason = (lines[0].split(" ", 2) + [""])[:3]
        self.status = int(status)
        self.headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            assert colon and name == name.strip(), f"bad field line {line!r}"
            self.headers.setdefault(name.lower(), []).append(value.strip())
        self.head, self.body = head, body

    def h(self, name):
        """The field's value (asserting it is sent once), or None."""
        values = self.headers.get(name.lower())
        if values is None:
            return None
        assert len(values) == 1, f"{name} sent {len(values)} times"
        return values[0]

    def __repr__(self):
        return f"<{self.status} {self.headers} body {len(self.body)}B {self.body[:60]!r}>"


def url_host(host):
    return f"[{host}]" if ":" in host else host


def curl(host, port, path, *args, head=False):
    """Runs curl on http://host:port/path; returns the Response."""
    cmd = ["curl", "-sS", "--max-time", "10", "--path-as-is", "-I" if head else "-i", *args,
           f"http://{url_host(host)}:{port}{path}"]
    r = subprocess.run(cmd, capture_output=True, timeout=20)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}: {r.stderr!r}"
    head_end = r.stdout.index(b"\r\n\r\n") + 4
    return Response(r.stdout[:head_end], r.stdout[head_end:])


class Wire:
    """A raw HTTP connection: send bytes, read responses framed by
    Content-Length, check the end."""

    def __init__(self, host, port, timeout=10):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)
        return self

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError(f"EOF; had {self.buf[:200]!r}")
        self.buf += chunk

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        r = Response(self.buf[:end])
        self.buf = self.buf[end:]
        n = 0 if head_only or r.status in (204, 304) else int(r.h("content-length"))
        while len(self.buf) < n:
            self._fill()
        r.body, self.buf = self.buf[:n], self.buf[n:]
        return r

    def rest(self, timeout=5):
        """Everything until the peer closes (a reset fails the test)."""
        self.sock.settimeout(timeout)
        data, self.buf = self.buf, b""
        while True:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return data
            data += chunk

    def close(self):
        self.sock.close()


def req(method, path, *fields, version="1.1", host="x"):
    """A request head: method path version, Host (unless None), fields."""
    lines = [f"{method} {path} HTTP/{version}"] + ([f"Host: {host}"] if host else []) + list(fields)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def native_get(name, max_size=1 << 40):
    """A native GET message (one round trip)."""
    name = name.encode()
    return struct.pack(">BBHQQ", 1, 7, len(name), 0, max_size) + name


def many_name(i):
    return f"{i:04d}-" + "n" * 150 + " &.txt"


def make_tree(root):
    """The served files; returns {url path: bytes} of the regular files
    whose content the tests compare."""
    files = {
        "/index.html": b"<!DOCTYPE html><title>ferry</title>the root's index\n",
        "/a/b/ref.html": b"<p>ref</p>" + os.urandom(5000).hex().encode(),
        "/a/b/index.html": b"the index of /a/b/\n",
        "/a/note.txt": b"a has no index\n",
        "/blob.bin": os.urandom(300_000),
        "/style.css": b"p{}", "/app.js": b"1;", "/data.json": b"{}", "/pic.png": b"\x89PNG",
        "/doc.txt": b"text\n", "/noext": b"?", "/arch.tar.gz": b"\x1f\x8b",
        "/new.txt": b"the new place\n",
        "/etag.txt": b"version 1\n",
        "/empty.txt": b"",
        "/sp ace/index.html": b"spaced\n",
        "/list/plain.txt": b"plain\n",
        "/list/" + WEIRD: b"weird\n",
        "/list/.hidden": b"hidden\n",
    }
    os.makedirs(os.path.join(root, "list", "sub"))
    os.makedirs(os.path.join(root, "idxdir", "index.html"))  # an index that is no file
    os.makedirs(os.path.join(root, "many"))
    for i in range(MANY):  # a listing several times the output buffer
        with open(os.path.join(root, "many", many_name(i)), "wb") as f:
            f.write(b"m" * i)
    for path, data in files.items():
        full = os.path.join(root, path[1:])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    os.utime(os.path.join(root, "blob.bin"), (OLD, OLD))
    with open(os.path.join(root, "sparse.bin"), "wb") as f:
        f.truncate(SPARSE_SIZE)
        f.seek(1 << 32)
        f.write(SPARSE_4G)
        f.seek(SPARSE_END_AT)
        f.write(SPARSE_END)
    return files


class Http:
    MODE = None

    # --- shared servers -------------------------------------------------

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ctmp = tempfile.mkdtemp(prefix="ferrytest-http-")
        os.chmod(cls.ctmp, 0o755)
        cls.croot = os.path.join(cls.ctmp, "root")
        cls.files = make_tree(cls.croot)
        cls.version = ferry_version()
        cls.shared = []
        try:
            cls.main = cls._shared(("--workers", "3", "--header-timeout", "2",
                                    "--redirect", "/old.txt=/new.txt"),
                                   ["http=127.0.0.1:0", "native=127.0.0.1:0"])
            cls.auto = cls._shared(("--workers", "2", "--autoindex", "--keepalive-requests", "2",
                                    "--keepalive-timeout", "1"),
                                   ["http=127.0.0.1:0", "native=127.0.0.1:0"])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _shared(cls, args, listen):
        srv = Server(cls.croot, cls.MODE, args, listen=listen)
        cls.shared.append(srv)
        srv.http = next((h, p) for proto, h, p in srv.listeners if proto == "http")
        return srv

    @classmethod
    def tearDownClass(cls):
        logs = []
        for srv in cls.shared:
            srv.kill()
            for kid in children_of(srv.pid):
                os.kill(kid, signal.SIGKILL)
            srv.reader.join(timeout=5)
            logs.append(srv.log())
        if os.environ.get("FERRY_KEEP_TMP"):
            print(f"\nkept {cls.ctmp}")
        else:
            shutil.rmtree(cls.ctmp, ignore_errors=True)
        super().tearDownClass()
        for log in logs:
            for marker in SANITIZER_MARKERS:
                assert marker not in log, log

    def tearDown(self):
        super().tearDown()
        for srv in self.shared:  # a sanitizer report fails the test that caused it
            for marker in SANITIZER_MARKERS:
                self.assertNotIn(marker, srv.log())

    # --- helpers --------------------------------------------------------

    def get(self, path, *args, srv=None, head=False):
        host, port = (srv or self.main).http
        return curl(host, port, path, *args, head=head)

    def wire(self, srv=None):
        host, port = (srv or self.main).http
        w = Wire(host, port)
        self.addCleanup(w.close)
        return w

    def assert_page(self, r, code):
        """An error or redirect: code, and a short HTML body naming it."""
        self.assertEqual(r.status, code, r)
        self.assertEqual(r.h("content-type"), "text/html; charset=utf-8")
        self.assertEqual(int(r.h("content-length")), len(r.body))
        self.assertLess(len(r.body), 1024)
        self.assertIn(f"<title>{code} {r.reason}</title>".encode(), r.body)

    def assert_closes(self, w, what):
        """The server closes after its answer: EOF, no more bytes."""
        try:
            self.assertEqual(w.rest(), b"", f"{what}: bytes after the answer")
        except ConnectionResetError:
            self.fail(f"{what}: reset instead of a clean close")
        except TimeoutError:
            self.fail(f"{what}: still open after 5 s")

    # --- GET, HEAD, headers -------------------------------------------

    def test_get_and_head_files(self):
        """Files and directory indexes, bytes compared by sha256; HEAD has
        the GET's headers and no body; one log line per request."""
        mark = self.main.mark()
        for path, file in (("/", "/index.html"), ("/index.html", "/index.html"),
                           ("/a/b/ref.html", "/a/b/ref.html"), ("/a/b/", "/a/b/index.html"),
                           ("/blob.bin", "/blob.bin"), ("/sp%20ace/", "/sp ace/index.html"),
                           ("/empty.txt", "/empty.txt")):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(sha(r.body), sha256_file(os.path.join(self.croot, file[1:])))
                self.assertEqual(int(r.h("content-length")), len(self.files[file]))
                h = self.get(path, head=True)
                self.assertEqual(h.status, 200)
                self.assertEqual(h.body, b"")
                for name in ("content-length", "content-type", "etag", "last-modified"):
                    self.assertEqual(h.h(name), r.h(name), name)
        size = len(self.files["/a/b/ref.html"])
        self.main.wait_log(r'conn 127\.0\.0\.1:\d+ proto=http file="/a/b/ref\.html" status=200 '
                           rf'bytes={size}/{size} time=\d+\.\d+ms$', start=mark)
        self.main.wait_log(r'conn 127\.0\.0\.1:\d+ proto=http file="/a/b/ref\.html" status=200 '
                           rf'bytes=0/{size} time=', start=mark)  # the HEAD

    def test_response_headers(self):
        """Content-Type from the extension table, Date, Last-Modified,
        ETag (changing with the file), Accept-Ranges, Server."""
        types = {"/index.html": "text/html; charset=utf-8", "/style.css": "text/css; charset=utf-8",
                 "/app.js": "text/javascript; charset=utf-8", "/data.json": "application/json",
                 "/pic.png": "image/png", "/doc.txt": "text/plain; charset=utf-8",
                 "/arch.tar.gz": "application/gzip", "/noext": "application/octet-stream"}
        etags = set()
        for path, ctype in types.items():
            with self.subTest(path=path):
                before = time.time()
                r = self.get(path)
                self.assertEqual(r.h("content-type"), ctype)
                self.assertEqual(r.h("content-length"), str(len(self.files[path])))
                self.assertEqual(r.h("server"), f"ferry/{self.version}")
                self.assertEqual(r.h("accept-ranges"), "bytes")
                date = email.utils.parsedate_to_datetime(r.h("date")).timestamp()
                self.assertLessEqual(abs(date - before), 3)
                self.assertRegex(r.h("date"), r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")
                mtime = os.stat(os.path.join(self.croot, path[1:])).st_mtime
                self.assertEqual(r.h("last-modified"), http_date(int(mtime)))
                self.assertRegex(r.h("etag"), r'^"[0-9a-f]+\.[0-9a-f]+-[0-9a-f]+"$')
                etags.add(r.h("etag"))
        self.assertEqual(len(etags), len(types), "one ETag per file")
        # A change of content (same size) and of mtime: a new ETag.
        first = self.get("/etag.txt").h("etag")
        path = os.path.join(self.croot, "etag.txt")
        with open(path, "wb") as f:
            f.write(b"version 2\n")
        os.utime(path, ns=(os.stat(path).st_mtime_ns + 1_000_000_007,) * 2)
        r = self.get("/etag.txt")
        self.assertEqual(r.body, b"version 2\n")
        self.assertNotEqual(r.h("etag"), first)
        # An error page carries Date and Server, not the validators.
        r = self.get("/nope")
        self.assert_page(r, 404)
        self.assertEqual(r.h("server"), f"ferry/{self.version}")
        self.assertIsNotNone(r.h("date"))
        self.assertIsNone(r.h("etag"))

    # --- directories, redirects, autoindex ---------------------------

    def test_directories_and_redirects(self):
        """A directory without its slash: 301 to the slashed form, query
        kept; without index.html and --autoindex: 404; --redirect: 301."""
        for path, location in (("/a/b", "/a/b/"), ("/a/b?x=1&y=%20z", "/a/b/?x=1&y=%20z"),
                               ("/sp%20ace", "/sp%20ace/"), ("/a", "/a/"), ("/old.txt", "/new.txt")):
            with self.subTest(path=path):
                r = self.get(path)
                self.assert_page(r, 301)
                self.assertEqual(r.h("location"), location)
                h = self.get(path, head=True)
                self.assertEqual((h.status, h.h("location"), h.body), (301, location, b""))
        self.assertEqual(self.get("/new.txt").body, self.files["/new.txt"])
        self.assert_page(self.get("/a/"), 404)  # no index.html, no --autoindex
        self.assert_page(self.get("/list/"), 404)
        self.assert_page(self.get("/index.html/"), 404)  # a file is no directory
        self.assert_page(self.get("/nope/"), 404)
        self.assert_page(self.get("/idxdir/"), 404)  # its index.html is a directory

    def test_autoindex(self):
        """--autoindex lists a directory without index.html, every name
        escaped for HTML and percent-encoded in its href; dot-files hidden;
        a directory with an index.html still serves it."""
        r = self.get("/list/", srv=self.auto)
        self.assertEqual((r.status, r.h("content-type")), (200, "text/html; charset=utf-8"))
        self.assertEqual(int(r.h("content-length")), len(r.body))
        page = r.body.decode()
        self.assertIn('<a href="%3Cb%3E%26%22x%27.txt">&lt;b&gt;&amp;&quot;x&#39;.txt</a>', page)
        self.assertNotIn(WEIRD, page)
        self.assertNotIn("<b>", page)
        self.assertIn('<a href="plain.txt">plain.txt</a>', page)
        self.assertIn('<a href="sub/">sub/</a>', page)
        self.assertIn('<a href="../">', page)
        self.assertNotIn(".hidden", page)
        self.assertIn("Index of /list/", page)
        self.assertLess(page.index("%3Cb%3E"), page.index("plain.txt"), "sorted by name")
        # The href leads to the file.
        f = self.get("/list/%3Cb%3E%26%22x%27.txt", srv=self.auto)
        self.assertEqual((f.status, f.body), (200, self.files["/list/" + WEIRD]))
        h = self.get("/list/", srv=self.auto, head=True)
        self.assertEqual((h.status, h.h("content-length"), h.body), (200, r.h("content-length"), b""))
        self.assertEqual(self.get("/list/sub/", srv=self.auto).status, 200)
        self.assertEqual(self.get("/list", srv=self.auto).h("location"), "/list/")
        self.assertEqual(self.get("/", srv=self.auto).body, self.files["/index.html"])
        self.assertEqual(self.get("/a/b/", srv=self.auto).body, self.files["/a/b/index.html"])
        self.assertIn(b'<a href="note.txt">', self.get("/a/", srv=self.auto).body)
        r = self.get("/idxdir/", srv=self.auto)  # an index.html that is a directory is listed
        self.assertEqual(r.status, 200, r)
        self.assertIn(b'<a href="index.html/">index.html/</a>', r.body)

    def test_autoindex_large_listing(self):
        """A listing larger than the output buffer, sent in parts: its
        Content-Length is exact, and the connection serves on after it."""
        w = self.wire(self.auto)
        r = w.send(req("GET", "/many/")).response()
        self.assertEqual(r.status, 200, r)
        self.assertGreater(len(r.body), 3 * 16384)
        names = re.findall(rb'<a href="([^"]+)">', r.body)
        self.assertEqual(names[1:], [n.replace(" ", "%20").replace("&", "%26").encode()
                                     for n in map(many_name, range(MANY))])
        self.assertTrue(r.body.endswith(b"</html>\n"))
        self.assertIn(f">{many_name(MANY - 1).replace('&', '&amp;')}</a></td><td>{MANY - 1}<"
                      .encode(), r.body)
        self.assertEqual(w.send(req("GET", "/doc.txt")).response().body, b"text\n")

    # --- conditionals and ranges -------------------------------------

    def test_conditional_requests(self):
        """If-None-Match (exact, list, *, weak) and If-Modified-Since give
        304 without a body; If-Range gives 206 only when it matches."""
        full = self.get("/blob.bin")
        etag, lm = full.h("etag"), full.h("last-modified")
        self.assertEqual(lm, http_date(OLD))
        for inm in (etag, f'"nope", {etag}', "*", "W/" + etag, f"W/\"x\" ,W/{etag}"):
            with self.subTest(if_none_match=inm):
                r = self.get("/blob.bin", "-H", f"If-None-Match: {inm}")
                self.assertEqual((r.status, r.body), (304, b""), r)
                self.assertEqual((r.h("etag"), r.h("last-modified")), (etag, lm))
                self.assertIsNone(r.h("content-length"))
                self.assertEqual(self.get("/blob.bin", "-H", f"If-None-Match: {inm}",
                                          head=True).status, 304)
        for inm in ('"nope"', etag[:-2] + '"', "W/\"x\""):
            self.assertEqual(self.get("/blob.bin", "-H", f"If-None-Match: {inm}").status, 200)
        for ims, code in ((lm, 304), (http_date(OLD + 100), 304), (http_date(OLD - 1), 200)):
            with self.subTest(if_modified_since=ims):
                r = self.get("/blob.bin", "-H", f"If-Modified-Since: {ims}")
                self.assertEqual(r.status, code, r)
                self.assertEqual(len(r.body), 0 if code == 304 else len(full.body))
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
        r = self.get("/blob.bin", "-H", 'If-None-Match: "nope"', "-H", f"If-Modified-Since: {lm}")
        self.assertEqual(r.status, 200)
        # If-Range: a matching validator lets the Range apply, any other
        # gets the whole file.
        for if_range, code in ((etag, 206), (lm, 206), ('"nope"', 200), ("W/" + etag, 200),
                               (http_date(OLD + 1), 200)):
            with self.subTest(if_range=if_range):
                r = self.get("/blob.bin", "-H", "Range: bytes=10-19", "-H", f"If-Range: {if_range}")
                self.assertEqual(r.status, code, r)
                self.assertEqual(r.body, full.body[10:20] if code == 206 else full.body)

    def test_ranges(self):
        """One range: 206 with Content-Range and exactly its bytes; past
        the end: 416 with bytes */size; several, or invalid: 200 whole."""
        data = self.files["/blob.bin"]
        size = len(data)
        for spec, first, last in (("0-99", 0, 99), ("1000-", 1000, size - 1),
                                  ("-500", size - 500, size - 1), ("7-7", 7, 7),
                                  (f"{size - 10}-{size * 10}", size - 10, size - 1),
                                  (f"-{size * 2}", 0, size - 1), ("0-0,-0", 0, 0)):
            with self.subTest(range=spec):
                r = self.get("/blob.bin", "-H", f"Range: bytes={spec}")
                self.assertEqual(r.status, 206, r)
                self.assertEqual(r.h("content-range"), f"bytes {first}-{last}/{size}")
                self.assertEqual(int(r.h("content-length")), last - first + 1)
                self.assertEqual(sha(r.body), sha(data[first:last + 1]))
        for spec in (f"{size}-", f"{size}-{size + 5}", "-0"):
            with self.subTest(range=spec):
                r = self.get("/blob.bin", "-H", f"Range: bytes={spec}")
                self.assert_page(r, 416)
                self.assertEqual(r.h("content-range"), f"bytes */{size}")
        for spec in ("bytes=0-1,5-9", "bytes=0-10,20-30,-5", "bytes=5-3", "items=0-1", "bytes=x"):
            with self.subTest(range=spec):
                r = self.get("/blob.bin", "-H", f"Range: {spec}")
                self.assertEqual(r.status, 200, r)
                self.assertIsNone(r.h("content-range"))
                self.assertEqual(sha(r.body), sha(data))
        # HEAD: range handling is defined for GET only (RFC 9110 §14.2).
        r = self.get("/blob.bin", "-H", "Range: bytes=0-9", head=True)
        self.assertEqual((r.status, r.h("content-length")), (200, str(size)))

    def test_sparse_file_over_4gib(self):
        """Offsets past 2^32 (and 2^31) in a 5 GiB sparse file."""
        r = self.get("/sparse.bin", head=True)
        self.assertEqual((r.status, r.h("content-length")), (200, str(SPARSE_SIZE)))
        end = SPARSE_END_AT + len(SPARSE_END) - 1
        r = self.get("/sparse.bin", "-H", f"Range: bytes={SPARSE_END_AT}-{end}")
        self.assertEqual(r.status, 206, r)
        self.assertEqual(r.h("content-range"), f"bytes {SPARSE_END_AT}-{end}/{SPARSE_SIZE}")
        self.assertEqual(r.body, SPARSE_END)
        r = self.get("/sparse.bin", "-H", "Range: bytes=-1000")
        self.assertEqual(r.body, SPARSE_END + bytes(1000 - len(SPARSE_END)))
        r = self.get("/sparse.bin", "-H", f"Range: bytes={1 << 32}-{(1 << 32) + 7}")
        self.assertEqual((r.status, r.body), (206, SPARSE_4G))
        r = self.get("/sparse.bin", "-H", f"Range: bytes={SPARSE_SIZE}-")
        self.assertEqual((r.status, r.h("content-range")), (416, f"bytes */{SPARSE_SIZE}"))

    # --- keep-alive and pipelining ------------------------------------

    def test_keepalive_by_version_and_connection(self):
        """HTTP/1.1 persists by default; HTTP/1.0 only with keep-alive
        (and says so); Connection: close is honoured."""
        w = self.wire()
        for path in ("/index.html", "/a/b/ref.html"):
            r = w.send(req("GET", path)).response()
            self.assertEqual((r.status, r.body), (200, self.files[path]))
            self.assertIsNone(r.h("connection"))
        r = w.send(req("GET", "/doc.txt", "Connection: close")).response()
        self.assertEqual((r.status, r.h("connection"), r.body), (200, "close", b"text\n"))
        self.assert_closes(w, "HTTP/1.1 with Connection: close")

        w = self.wire()
        r = w.send(req("GET", "/doc.txt", version="1.0", host=None)).response()
        self.assertEqual((r.status, r.version, r.h("connection")), (200, "HTTP/1.1", "close"))
        self.assert_closes(w, "HTTP/1.0 without keep-alive")

        w = self.wire()
        for path in ("/doc.txt", "/index.html"):
            r = w.send(req("GET", path, "Connection: Keep-Alive", version="1.0")).response()
            self.assertEqual((r.status, r.h("connection"), r.body),
                             (200, "keep-alive", self.files[path]))
        r = w.send(req("HEAD", "/doc.txt", version="1.0")).response(head_only=True)
        self.assertEqual((r.status, r.h("connection")), (200, "close"))
        self.assert_closes(w, "the HTTP/1.0 request without keep-alive")

    def test_pipelined_requests_in_order(self):
        """Three requests in one write, a HEAD among them: three answers,
        in order, framed right."""
        w = self.wire()
        w.send(req("GET", "/a/b/ref.html") + req("HEAD", "/blob.bin") + req("GET", "/doc.txt")
               + req("GET", "/nope") + req("GET", "/index.html", "Connection: close"))
        r = w.response()
        self.assertEqual((r.status, r.body), (200, self.files["/a/b/ref.html"]))
        r = w.response(head_only=True)
        self.assertEqual((r.status, r.h("content-length")), (200, str(len(self.files["/blob.bin"]))))
        self.assertEqual(w.response().body, b"text\n")
        self.assertEqual(w.response().status, 404)
        r = w.response()
        self.assertEqual((r.status, r.body), (200, self.files["/index.html"]))
        self.assert_closes(w, "after the last pipelined request")

    def test_keepalive_requests_limit(self):
        """--keepalive-requests 2: the second answer says close, then EOF;
        a third pipelined request is not answered."""
        w = self.wire(self.auto)
        r = w.send(req("GET", "/doc.txt")).response()
        self.assertIsNone(r.h("connection"))
        r = w.send(req("GET", "/doc.txt")).response()
        self.assertEqual((r.status, r.h("connection")), (200, "close"))
        self.assert_closes(w, "after --keepalive-requests")
        w = self.wire(self.auto)
        w.send(req("GET", "/doc.txt") * 3)
        self.assertEqual(w.response().status, 200)
        self.assertEqual(w.response().h("connection"), "close")
        self.assert_closes(w, "pipelined beyond --keepalive-requests")
        # Far more pipelined than the server reads before closing: the
        # unread requests must not reset the connection before the last
        # answer arrives (the server lingers).
        w = self.wire(self.auto)
        sender = threading.Thread(target=self.send_quietly, args=(w, req("GET", "/doc.txt") * 2000))
        sender.start()
        self.addCleanup(sender.join, 10)
        self.assertEqual(w.response().status, 200)
        r = w.response()
        self.assertEqual((r.status, r.h("connection"), r.body), (200, "close", b"text\n"))

    @staticmethod
    def send_quietly(w, data):
        try:
            w.sock.sendall(data)
        except OSError:
            pass  # the server closed: expected once it answered its limit

    def test_keepalive_timeout_closes_idle_silently(self):
        """--keepalive-timeout 1: an idle persistent connection is closed
        without a byte, after about a second."""
        w = self.wire(self.auto)
        self.assertEqual(w.send(req("GET", "/doc.txt")).response().status, 200)
        t0 = time.monotonic()
        self.assert_closes(w, "idle keep-alive")
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 0.8, "closed before --keepalive-timeout")
        self.assertLess(elapsed, 2.5, "not closed at --keepalive-timeout")
        # A new connection that sends nothing is no keep-alive: it is
        # dropped silently too, at --header-timeout (10 s), so not waited for.

    def test_empty_lines_between_requests(self):
        """CRLFs after a request (RFC 9112 §2.2) leave the connection idle:
        the next request is served, and an idle one still closes silently
        at --keepalive-timeout, not with a 408 at --header-timeout."""
        w = self.wire()
        self.assertEqual(w.send(req("GET", "/doc.txt") + b"\r\n").response().status, 200)
        r = w.send(b"\r\n\r\n" + req("GET", "/index.html")).response()
        self.assertEqual((r.status, r.body), (200, self.files["/index.html"]))
        w = self.wire(self.auto)
        self.assertEqual(w.send(req("GET", "/doc.txt") + b"\r\n").response().status, 200)
        t0 = time.monotonic()
        w.send(b"\r\n")
        self.assert_closes(w, "idle after empty lines")
        self.assertLess(time.monotonic() - t0, 2.5, "not closed at --keepalive-timeout")

    # --- errors -------------------------------------------------------

    def test_malformed_requests_answered_then_closed(self):
        """Malformed framing: the right code, a short HTML page, then EOF
        (bytes the client still sends are discarded)."""
        cases = [
            (400, b"GET /index.html HTTP/1.1\nHost: x\n\n"),
            (400, b"GET /index.html HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"),
            (400, b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n"),
            (400, b"GET /index.html HTTP/1.1\r\nX: y\r\n\r\n"),  # no Host
            (400, b"GET /index.html HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
            (400, b"GET  /index.html HTTP/1.1\r\nHost: x\r\n\r\n"),
            (400, b"GET /index.html HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n"),
            (400, b"GET /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n"),
            (400, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
            (414, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
            (414, self.line_of(8193) + b"Host: x\r\n\r\n"),
            (431, b"GET / HTTP/1.1\r\nHost: x\r\n"
             + b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"p" * 90) for i in range(180)) + b"\r\n"),
            (431, b"GET / HTTP/1.1\r\n" + self.fields_of(16385) + b"\r\n"),
            (501, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            (505, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
            (505, b"GET / HTTP/3.1\r\nHost: x\r\n\r\n"),
        ]
        mark = self.main.mark()
        for code, raw in cases:
            with self.subTest(code=code, raw=raw[:60]):
                w = self.wire()
                r = w.send(raw).response()
                self.assert_page(r, code)
                self.assertEqual(r.h("connection"), "close")
                self.assert_closes(w, f"{code}")
        self.main.wait_log(r'proto=http file="\S*" status=414', start=mark)
        # At the limits exactly: served.
        w = self.wire()
        r = w.send(self.line_of(8192) + self.fields_of(16384) + b"\r\n").response()
        self.assertEqual((r.status, r.body), (200, b"text\n"))
        # The server still serves.
        self.assertEqual(self.get("/doc.txt").body, b"text\n")

    @staticmethod
    def line_of(n):
        """A request line of n bytes (CRLF excluded) for /doc.txt."""
        line = b"GET /doc.txt?" + b"q" * (n - 22) + b" HTTP/1.1"
        assert len(line) == n
        return line + b"\r\n"

    @staticmethod
    def fields_of(n):
        """Field lines of n bytes, CRLFs included, Host first."""
        pad = n - len(b"Host: x\r\n") - len(b"X-Pad: \r\n")
        fields = b"Host: x\r\nX-Pad: " + b"p" * pad + b"\r\n"
        assert len(fields) == n
        return fields

    def test_error_codes(self):
        """404, 405 with Allow (POST, DELETE, OPTIONS *), 400 for a bad
        escape or a .. segment: a page, and the connection goes on (unless
        a request body was sent)."""
        w = self.wire()
        for raw, code in ((req("GET", "/nope"), 404), (req("GET", "/a/nope/x"), 404),
                          (req("GET", "/index.html%00"), 400), (req("GET", "/%zz"), 400),
                          (req("GET", "/%4"), 400), (req("GET", "/a/../index.html"), 400),
                          (req("GET", "/a/%2e%2e/index.html"), 400),
                          (req("GET", "/..%2findex.html"), 400),
                          (req("DELETE", "/index.html"), 405), (req("OPTIONS", "*"), 405),
                          (req("POST", "/index.html"), 405), (req("PUT", "/x"), 405),
                          (req("CONNECT", "x:443"), 405), (req("get", "/doc.txt"), 405),
                          (req("HEAD", "/nope"), 404)):
            with self.subTest(raw=raw):
                r = w.send(raw).response(head_only=raw.startswith(b"HEAD"))
                self.assertEqual(r.status, code, r)
                if raw.startswith(b"HEAD"):
                    self.assertEqual(r.h("content-type"), "text/html; charset=utf-8")
                else:
                    self.assert_page(r, code)
                self.assertEqual(r.h("allow"), "GET, HEAD" if code == 405 else None)
                self.assertIsNone(r.h("connection"))
        self.assertEqual(w.send(req("GET", "/doc.txt")).response().body, b"text\n")
        # A body is never read: the answer closes the connection.
        w = self.wire()
        r = w.send(req("POST", "/index.html", "Content-Length: 5") + b"hello").response()
        self.assert_page(r, 405)
        self.assertEqual((r.h("allow"), r.h("connection")), ("GET, HEAD", "close"))
        self.assert_closes(w, "after a request with a body")

    def test_error_after_head_request_has_body(self):
        """An error answered before the next head is parsed (malformed,
        408) after a HEAD on the same connection still sends its page."""
        w = self.wire()
        w.send(req("HEAD", "/doc.txt") + b"GET / HTTP/1.1\nHost: x\n\n")
        self.assertEqual(w.response(head_only=True).status, 200)
        self.assert_page(w.response(), 400)
        self.assert_closes(w, "400 after a HEAD")

    def test_header_timeout_slowloris(self):
        """--header-timeout 2: a head trickling a byte a second gets 408
        two seconds after accept (the bytes never extend the deadline),
        then EOF."""
        head = req("GET", "/index.html", "X-Slow: " + "s" * 40)
        w = self.wire()
        t0 = time.monotonic()
        w.send(head[:1])
        sent, answer = 1, b""
        while time.monotonic() - t0 < 8 and sent < len(head) - 1:
            readable, _, _ = select.select([w.sock], [], [], 1.0)
            if readable:
                answer = w.sock.recv(4096)
                break
            try:
                w.send(head[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
        elapsed = time.monotonic() - t0
        self.assertTrue(answer, f"no answer after {elapsed:.1f}s, {sent} bytes trickled")
        self.assertGreater(elapsed, 1.7, "408 before the deadline")
        self.assertLess(elapsed, 3.5, "408 well after the deadline")
        w.buf = answer
        r = w.response()
        self.assert_page(r, 408)
        self.assertEqual(r.h("connection"), "close")
        self.assert_closes(w, "408")

    def test_header_timeout_on_kept_alive_connection(self):
        """The next head on a persistent connection is due within
        --header-timeout of its first byte (not of the last answer)."""
        w = self.wire()
        self.assertEqual(w.send(req("GET", "/doc.txt")).response().status, 200)
        time.sleep(1.0)  # idle, well within --keepalive-timeout (5 s): the scenario, not a wait
        t0 = time.monotonic()
        w.send(b"GET /doc.txt HTTP/1.1\r\nHost: x\r\n")
        r = w.response()
        elapsed = time.monotonic() - t0
        self.assert_page(r, 408)
        self.assertGreater(elapsed, 1.7, "408 counted from the previous answer")
        self.assertLess(elapsed, 3.5, "408 well after the deadline")
        self.assert_closes(w, "408")

    # --- one worker, several clients, several listeners ---------------

    def test_idle_keepalive_yields_to_waiting_client(self):
        """With one worker (fork: one child at most) and --keepalive-timeout
        30, an idle persistent connection does not keep a second client
        waiting. In event mode the worker serves both: the idle one stays."""
        self.put("doc.txt", b"text\n")
        self.put("index.html", b"index\n")
        srv = self.serve(self.MODE, ("--workers", "1", "--keepalive-timeout", "30"),
                         listen=["http=127.0.0.1:0"])
        srv.http = (srv.host, srv.port)
        for tail in (b"", b"\r\n"):  # an idle connection may have sent empty lines
            with self.subTest(tail=tail):
                mark = srv.mark()
                idle = self.wire(srv)
                self.assertEqual(idle.send(req("GET", "/doc.txt") + tail).response().status, 200)
                srv.wait_log(r'file="/doc.txt" status=200', start=mark)  # answered: now idle
                t0 = time.monotonic()
                r = self.get("/index.html", srv=srv)
                elapsed = time.monotonic() - t0
                self.assertEqual(r.status, 200)
                # Waiting on it would take the keep-alive timeout, 5 s.
                self.assertLess(elapsed, 3.0, "the second client waited on the idle connection")
                if self.MODE == "event":  # held beside the other, not yielded
                    self.assertEqual(idle.send(req("GET", "/doc.txt")).response().status, 200)
                    idle.close()
                    continue
                self.assert_closes(idle, "the idle connection yielded")

    def test_listeners_served_alternately(self):
        """With one worker and a native and an HTTP listener, each served
        in turn: the clients queued on both while the worker is busy are
        accepted alternately, not one listener's backlog first. (Event
        mode: a worker of one connection at most, held the same way.)"""
        self.put("hello.txt", b"hello\n")
        with open(os.path.join(self.root, "index.html"), "wb") as f:
            f.write(b"index\n")
        one = ("--worker-connections", "1") if self.MODE == "event" else ()
        srv = self.serve(self.MODE, ("--workers", "1", *one),
                         listen=["http=127.0.0.1:0", "native=127.0.0.1:0"])
        (_, hh, hp), (_, nh, np_) = srv.listeners
        # Both served, one after the other.
        for _ in range(2):
            self.assertEqual(curl(hh, hp, "/hello.txt").body, b"hello\n")
            self.assertEqual(self.native(nh, np_), b"hello\n")
        # Hold the worker with a head begun, queue two clients per listener.
        busy = Wire(hh, hp)
        self.addCleanup(busy.close)
        busy.send(b"GET /index.html HTTP/1.1\r\n")
        wait_until(lambda: srv.admin_json("status")["pool"]["reading"] == 1,
                   what="the worker reading")
        mark = srv.mark()
        clients = []
        for i in range(2):
            n = socket.create_connection((nh, np_), timeout=10)
            n.sendall(native_get("hello.txt"))
            h = Wire(hh, hp)
            h.send(req("GET", "/hello.txt", "Connection: close"))
            clients += [n, h]
            self.addCleanup(n.close)
            self.addCleanup(h.close)
        wait_until(lambda: srv.admin_json("status")["saturation"]["listen_queue"] == 4,
                   what="four clients queued")
        busy.send(b"Host: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(busy.response().status, 200)
        for c in clients:
            if isinstance(c, Wire):
                self.assertEqual(c.response().body, b"hello\n")
            else:
                self.assertEqual(recv_exact(c, 11 + 6)[11:], b"hello\n")
        order = []
        for _ in range(5):
            line = srv.wait_log(r"conn \S+ proto=", start=mark)
            mark = srv.lines.index(line) + 1
            order.append(re.search(r"proto=(\w+)", line).group(1))
        self.assertEqual(order, ["http", "native", "http", "native", "http"])

    def native(self, host, port, name="hello.txt"):
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(native_get(name))
            data = recv_exact(s, 1 << 20)
        self.assertEqual(data[2], 0, f"native status {data[2]}")
        return data[11:]

    # --- access log ---------------------------------------------------

    def test_access_log(self):
        """One Combined Log Format line per request, HTTP and native,
        untrusted text escaped; reopened on SIGUSR1 and reopen-logs."""
        self.put("hello.txt", b"hello\n")
        # Iterative mode's one process reopens as the serving user: after a
        # rotation it makes the new file itself (docs/SECURITY.md).
        log = os.path.join(self.serving_dir("logs") if self.MODE == "iterative" else self.tmp,
                           "access.log")
        srv = self.serve(self.MODE, ("--workers", "1", "--access-log", log),
                         listen=["http=127.0.0.1:0", "native=127.0.0.1:0"])
        (_, hh, hp), (_, nh, np_) = srv.listeners
        clf = re.compile(r'^(\S+) - - \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "([^"]*)" '
                         r'(\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$')

        def lines(path=log, n=None):
            def read():
                try:
                    with open(path, "rb") as f:
                        got = f.read().decode("ascii").splitlines()
                except FileNotFoundError:
                    return None
                return got if n is None or len(got) >= n else None
            return wait_until(read, timeout=5, what=f"{n} lines in {path}")

        curl(hh, hp, "/hello.txt", "-A", "curl-test", "-e", "http://ref/")
        w = Wire(hh, hp)
        w.send(req("GET", "/hello.txt?q=1", 'User-Agent: a"b\\c\td\xffe', "Connection: close"))
        self.assertEqual(w.response().status, 200)
        w.close()
        curl(hh, hp, "/nope", head=True)
        s = socket.create_connection((nh, np_), timeout=10)
        s.sendall(request("hello.txt") + READY)
        self.assertEqual(recv_exact(s, 11 + 6)[11:], b"hello\n")
        s.close()
        r = ferry("get", "-q", "-o", "-", nh, np_, "hello.txt", "1M")
        self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), r.stderr)
        got = lines(n=5)
        self.assertEqual(len(got), 5, got)
        parsed = [clf.match(line) for line in got]
        self.assertTrue(all(parsed), got)
        when = time.strftime("%d/%b/%Y", time.gmtime())
        self.assertEqual(parsed[0].groups()[2:],
                         ("GET /hello.txt HTTP/1.1", "200", "6", "http://ref/", "curl-test"))
        self.assertEqual(parsed[0].group(1), "127.0.0.1")
        self.assertTrue(parsed[0].group(2).startswith(when))
        self.assertEqual(parsed[1].groups()[2:6], ("GET /hello.txt?q=1 HTTP/1.1", "200", "6", "-"))
        self.assertEqual(parsed[1].group(7), r"a\x22b\x5cc\x09d\xffe")
        self.assertEqual(parsed[2].groups()[2:5], ("HEAD /nope HTTP/1.1", "404", "-"))
        self.assertEqual(parsed[3].groups()[2:5], ("FILE hello.txt FERRY/1", "200", "6"))
        self.assertEqual(parsed[4].groups()[2:5], ("GET hello.txt FERRY/1", "200", "6"))

        # Rotation: SIGUSR1 to the master, then ferryctl reopen-logs.
        for how, rotated in (("SIGUSR1", log + ".1"), ("reopen-logs", log + ".2")):
            with self.subTest(reopen=how):
                os.rename(log, rotated)
                if how == "SIGUSR1":
                    os.kill(srv.pid, signal.SIGUSR1)
                    wait_until(lambda: os.path.exists(log), what="the log reopened")
                    if self.MODE != "iterative":
                        srv.wait_log("log file reopened")
                        srv.ctl("status")  # the loop is past the signal: workers told
                else:
                    r = srv.ctl("reopen-logs")
                    self.assertEqual(r.returncode, 0, r.stderr)
                before = len(lines(rotated))
                curl(hh, hp, f"/hello.txt?after={how}")
                new = lines(n=1)
                self.assertEqual(len(new), 1, new)
                self.assertIn(f"GET /hello.txt?after={how} HTTP/1.1", new[0])
                self.assertEqual(len(lines(rotated)), before, "a line went to the rotated file")

    # --- IPv6 -----------------------------------------------------------

    def test_ipv6_and_dual_stack(self):
        """http=[::1] serves IPv6; http=[::] serves IPv4 clients too, and
        logs them as plain IPv4."""
        if not have_ipv6():
            self.skipTest("no IPv6 on this host")
        self.put("hello.txt", b"hello\n")
        log = os.path.join(self.tmp, "access.log")
        srv = self.serve(self.MODE, ("--workers", "1", "--access-log", log),
                         listen=["http=[::1]:0", "http=[::]:0"])
        (_, h1, p1), (_, h2, p2) = srv.listeners
        self.assertEqual((h1, h2), ("::1", "::"))
        self.assertEqual(curl("::1", p1, "/hello.txt").body, b"hello\n")
        srv.wait_log(r'conn \[::1\]:\d+ proto=http file="/hello.txt" status=200')
        mark = srv.mark()
        self.assertEqual(curl("127.0.0.1", p2, "/hello.txt?v4").body, b"hello\n")
        line = srv.wait_log(r'file="/hello.txt\?v4"', start=mark)
        self.assertRegex(line, r"conn 127\.0\.0\.1:\d+ proto=http")
        self.assertEqual(curl("::1", p2, "/hello.txt?v6").body, b"hello\n")
        srv.wait_log(r'file="/hello.txt\?v6"')

        def three_lines():
            try:
                with open(log) as f:
                    got = f.read().splitlines()
            except FileNotFoundError:
                return None
            return got if len(got) >= 3 else None
        got = wait_until(three_lines, timeout=5, what="3 access log lines")
        self.assertTrue(got[0].startswith("::1 - - ["), got)
        self.assertTrue(got[1].startswith("127.0.0.1 - - ["), got)
        self.assertIn("/hello.txt?v4", got[1])
        self.assertTrue(got[2].startswith("::1 - - ["), got)

    def test_ipv6_only(self):
        """--ipv6-only: an http=[::] listener refuses IPv4 clients."""
        if not have_ipv6():
            self.skipTest("no IPv6 on this host")
        self.put("hello.txt", b"hello\n")
        # A port free on both families (a dual-stack probe held it): with
        # port 0 the kernel may pick one that another server holds on IPv4.
        probe = socket.socket(socket.AF_INET6)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        probe.bind(("::", 0))
        port = probe.getsockname()[1]
        probe.close()
        srv = self.serve(self.MODE, ("--workers", "1", "--ipv6-only"),
                         listen=[f"http=[::]:{port}"])
        self.assertEqual(curl("::1", srv.port, "/hello.txt").body, b"hello\n")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()

    def test_max_conn_per_ip(self):
        """--max-conn-per-ip: over the limit, counted across the pool, a
        native client gets BUSY (whatever its request) and an HTTP client
        503 with Retry-After, then the connection closes; refusals are
        logged once a second per address; the limit frees with the
        connection that held it."""
        if self.MODE == "iterative":
            self.skipTest("one connection at a time: a second is never open beside the first")
        self.put("big", bytes(64 << 20))
        self.put("hello.txt", b"hello\n")
        srv = self.serve(self.MODE, ("--workers", "3", "--max-conn-per-ip", "1",
                                     "--io-timeout", "30", "--min-rate", "0"),
                         listen=["native=127.0.0.1:0", "http=127.0.0.1:0"])
        (_, host, nport), (_, _, hport) = srv.listeners
        holder = socket.create_connection((host, nport), timeout=10)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        holder.sendall(native_get("big"))
        self.assertEqual(recv_exact(holder, 11)[2], 0)  # OK: it holds one connection
        mark = srv.mark()
        for raw in (struct.pack(">BBH", 1, 5, 0), native_get("hello.txt"), b"\x07"):
            s = socket.create_connection((host, nport), timeout=10)
            s.sendall(raw)
            self.assertEqual(recv_exact(s, 11), bytes([1, 2, 10]) + bytes(8))  # BUSY, size 0
            self.assertEqual(s.recv(10), b"")  # then closed
            s.close()
        s = socket.create_connection((host, hport), timeout=10)
        s.sendall(req("GET", "/hello.txt"))
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 503 "), answer[:40])
        self.assertIn(b"\r\nRetry-After: 1\r\n", answer)
        self.assertIn(b"\r\nConnection: close\r\n", answer)
        srv.wait_log(r"status=BUSY .*problem=\"over --max-conn-per-ip\"", start=mark)
        refused = [l for l in srv.log().splitlines()[mark:] if "over --max-conn-per-ip" in l]
        self.assertEqual(len(refused), 1)  # 4 refusals within a second: one line, pool-wide
        holder.close()
        wait_until(lambda: curl(host, hport, "/hello.txt").status == 200,
                   what="served again once the holder left")

globals().update(per_mode(Http))


if __name__ == "__main__":
    unittest.main()
