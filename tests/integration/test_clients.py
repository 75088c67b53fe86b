"""The programs people really use, unmodified, against the real ferryd
serving HTTP and the native protocol side by side: curl, wget, Python's
urllib and headless Chromium over HTTP (files by sha256, ranges, directory
indexes, redirects, resume); the ferry client and contrib/python over the
native protocol (resume parity, a LIST of 100,000 files); and a traversal
corpus sent byte for byte over both protocols in every mode, with a marker
file outside the root whose bytes must never come back.

Each client test skips, saying which Debian package provides the program,
when the program is missing: curl (curl), wget (wget), chromium (chromium).
"""

import hashlib
import html
import html.parser
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

from ferrytest import (READY, STATUS, FerryTest, Server, ferry, per_mode, recv_exact,
                       sha256_file)

CONTRIB = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "python"))
sys.path.insert(0, CONTRIB)
import ferry_client as fc  # noqa: E402

LISTEN = ["http=127.0.0.1:0", "native=127.0.0.1:0"]
MiB = 1 << 20
PACKAGES = {"curl": "curl", "wget": "wget", "chromium": "chromium"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-proxy-server"]
# No proxy may stand between a client and the loopback server.
CLIENT_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def slurp(path):
    with open(path, "rb") as f:
        return f.read()


def program(test, name):
    """The program's path, or skips the test naming the package to install."""
    path = shutil.which(name)
    if path is None and name == "chromium" and os.access("/usr/bin/chromium", os.X_OK):
        path = "/usr/bin/chromium"
    if path is None:
        test.skipTest(f"{name} is not installed (Debian: apt-get install -y {PACKAGES[name]})")
    return path


def run(argv, timeout=60, **kw):
    """Runs a client with no proxy, no stdin; bounded."""
    return subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=CLIENT_ENV, **kw)


class Links(html.parser.HTMLParser):
    """The (href, text) of every <a> of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self._href = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self.links.append([self._href, ""])

    def handle_data(self, data):
        if self._href is not None:
            self.links[-1][1] += data

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None


def links(page):
    if isinstance(page, bytes):
        page = page.decode()
    p = Links()
    p.feed(page)
    p.close()
    return [tuple(link) for link in p.links]


# ---------------------------------------------------------------------------
# A served tree with names that need encoding (space, UTF-8, HTML specials).

SUB = "sub dir"
ODD = "n\u00e4me & <b> 'q'.txt"
PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ferry page</title></head>
<body><p id="greeting">Hello &amp; welcome</p>
<script>const p = document.createElement("p"); p.id = "js"; p.textContent = "script ran";
document.body.appendChild(p);</script></body></html>
"""
FETCH_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pending</title></head>
<body><pre id="out">pending</pre>
<script>
async function hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d, b => b.toString(16).padStart(2, "0")).join("");
}
async function run() {
  const r = {};
  try {
    const full = await fetch("big.bin", {cache: "no-store"});
    const fb = await full.arrayBuffer();
    r.full = {status: full.status, length: fb.byteLength, sha256: await hex(fb),
              type: full.headers.get("content-type")};
    const part = await fetch("big.bin", {cache: "no-store", headers: {"Range": "bytes=1000-1999"}});
    const pb = await part.arrayBuffer();
    r.range = {status: part.status, length: pb.byteLength, sha256: await hex(pb),
               contentRange: part.headers.get("content-range")};
    const text = await fetch("hello.txt", {cache: "no-store"});
    r.text = {status: text.status, text: await text.text()};
    const index = await fetch("./", {cache: "no-store"});
    const doc = new DOMParser().parseFromString(await index.text(), "text/html");
    r.index = {status: index.status,
               hrefs: Array.from(doc.querySelectorAll("a"), a => a.getAttribute("href"))};
    // Every link of the index, followed as the browser resolves it.
    r.followed = {};
    for (const href of r.index.hrefs) {
      const f = await fetch(new URL(href, location.href), {cache: "no-store"});
      r.followed[href] = [f.status, await hex(await f.arrayBuffer())];
    }
    // The odd name, by its link in the subdirectory's index.
    const sub = await fetch("sub%20dir/", {cache: "no-store"});
    const sdoc = new DOMParser().parseFromString(await sub.text(), "text/html");
    const link = Array.from(sdoc.querySelectorAll("a")).find(a => a.textContent.startsWith("n"));
    const odd = await fetch(new URL(link.getAttribute("href"), sub.url), {cache: "no-store"});
    r.odd = {text: link.textContent, status: odd.status, sha256: await hex(await odd.arrayBuffer())};
    const dir = await fetch("sub%20dir", {cache: "no-store"});
    r.redirect = {status: dir.status, redirected: dir.redirected, url: dir.url};
    const missing = await fetch("nope.txt", {cache: "no-store"});
    r.missing = missing.status;
  } catch (e) {
    r.error = String(e);
  }
  document.getElementById("out").textContent = JSON.stringify(r);
  document.title = "done";
}
run();
</script></body></html>
"""


def make_tree(root):
    """Fills root; returns {relative path: bytes} of every regular file."""
    files = {
        "hello.txt": b"hello, ferry\n",
        "empty.txt": b"",
        "big.bin": os.urandom(3 * MiB + 12345),
        "page.html": PAGE,
        "fetch.html": FETCH_PAGE,
        f"{SUB}/{ODD}": b"odd name\n" * 100,
        f"{SUB}/deep/leaf.bin": os.urandom(70 * 1024 + 1),
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return files


def index_of(files, rel_dir):
    """The (href, text) links ferryd's index of rel_dir ("" the root) must
    hold: "../" outside the root, then the entries sorted bytewise."""
    prefix = rel_dir + "/" if rel_dir else ""
    entries = {}
    for rel in files:
        if rel.startswith(prefix):
            first, _, rest = rel[len(prefix):].partition("/")
            entries[first] = bool(rest)
    want = [] if not rel_dir else [("../", "../")]
    for name in sorted(entries, key=lambda n: n.encode()):
        slash = "/" if entries[name] else ""
        want.append((urllib.parse.quote(name, safe="") + slash, name + slash))
    return want


class ClosePipes:
    """Closes each ferryd's stderr pipe once the test is over (FerryTest
    kills the server and joins its reader, but leaves the pipe open)."""

    def serve(self, *args, **kw):
        srv = super().serve(*args, **kw)
        self.addCleanup(srv.proc.stderr.close)  # cleanups run after tearDown
        return srv


class HttpClients(ClosePipes, FerryTest):
    """One ferryd (prefork, HTTP and native listeners, --autoindex) over
    the tree above, per test."""

    def setUp(self):
        super().setUp()
        self.files = make_tree(self.root)
        self.srv = self.serve("prefork", ["--autoindex"], listen=LISTEN)
        ports = {proto: (host, port) for proto, host, port in self.srv.listeners}
        self.http_host, self.http_port = ports["http"]
        self.native_host, self.native_port = ports["native"]
        self.base = f"http://{self.http_host}:{self.http_port}"
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)

    def url(self, rel):
        return self.base + "/" + urllib.parse.quote(rel)

    def partial(self, rel, n, name):
        """A partial download: the first n bytes of a good copy of rel."""
        path = os.path.join(self.out, name)
        shutil.copyfile(os.path.join(self.root, rel), path)
        os.truncate(path, n)
        return path

    def wait_served(self, proto, target, status, sent, size=None, start=0):
        """Waits for ferryd's log line of a request: what it sent, proof of
        a resume that asked for the tail only."""
        size = sent if size is None else size
        return self.srv.wait_log(rf'proto={proto} file="{re.escape(target)}" status={status} '
                                 rf'bytes={sent}/{size} ', timeout=10, start=start)


class Curl(HttpClients):

    def curl(self, *args, check=True):
        r = run([program(self, "curl"), "-q", "-sS", "--max-time", "30", *map(str, args)])
        if check:
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r

    def test_files_on_one_kept_alive_connection(self):
        """Every file, each by sha256, in one curl run: the first transfer
        connects, the others reuse its connection (keep-alive works)."""
        args, outs = [], []
        for i, rel in enumerate(self.files):
            outs.append(os.path.join(self.out, f"f{i}"))
            args += ["-o", outs[-1], self.url(rel)]
        r = self.curl("--fail", "-w", "%{http_code} %{num_connects} %{content_type}\\n", *args)
        report = r.stdout.decode().splitlines()
        self.assertEqual(len(report), len(self.files), report)
        for (rel, data), out, line in zip(self.files.items(), outs, report):
            code, connects, ctype = line.split(" ", 2)
            self.assertEqual(code, "200", rel)
            self.assertEqual(sha256_file(out), sha(data), rel)
            if rel.endswith(".html"):
                self.assertTrue(ctype.startswith("text/html"), (rel, ctype))
        self.assertEqual([l.split()[1] for l in report], ["1"] + ["0"] * (len(report) - 1),
                         "curl did not reuse the connection")

    def test_ranges(self):
        data = self.files["big.bin"]
        for spec, first, last in (("1000-1999", 1000, 1999), ("-500", len(data) - 500,
                                                               len(data) - 1),
                                  (f"{len(data) - 10}-", len(data) - 10, len(data) - 1)):
            out, head = os.path.join(self.out, "r"), os.path.join(self.out, "h")
            r = self.curl("-r", spec, "-D", head, "-o", out, "-w", "%{http_code}",
                          self.url("big.bin"))
            self.assertEqual(r.stdout, b"206", spec)
            self.assertEqual(slurp(out), data[first:last + 1], spec)
            self.assertIn(f"content-range: bytes {first}-{last}/{len(data)}\r\n",
                          slurp(head).decode().lower(), spec)
        r = self.curl("-r", f"{len(data)}-", "-o", os.devnull, "-w", "%{http_code}",
                      self.url("big.bin"))
        self.assertEqual(r.stdout, b"416")

    def test_index_redirect_and_missing(self):
        r = self.curl("--fail", self.base + "/")
        self.assertEqual(links(r.stdout), index_of(self.files, ""))
        # The directory without its slash: 301, and curl -L lands on the index.
        r = self.curl("-o", os.devnull, "-w", "%{http_code} %{redirect_url}", self.url(SUB))
        self.assertEqual(r.stdout.decode(), f"301 {self.url(SUB)}/")
        r = self.curl("--fail", "-L", self.url(SUB))
        self.assertEqual(links(r.stdout), index_of(self.files, SUB))
        r = self.curl("--fail", self.url(SUB + "/deep/"))
        self.assertEqual(links(r.stdout), index_of(self.files, SUB + "/deep"))
        r = self.curl("-o", os.devnull, "-w", "%{http_code}", self.url("nope.txt"))
        self.assertEqual(r.stdout, b"404")

    def test_conditional(self):
        """curl --etag-compare (If-None-Match) and -z (If-Modified-Since)
        get 304 for an unchanged file, 200 once it changed."""
        out, etag = os.path.join(self.out, "h"), os.path.join(self.out, "etag")
        self.curl("--fail", "--etag-save", etag, "-o", out, self.url("hello.txt"))
        self.assertRegex(slurp(etag).decode(), r'^"[^"]+"\s*$')
        for args in (("--etag-compare", etag), ("-z", out)):
            r = self.curl("-o", os.path.join(self.out, "again"), "-w", "%{http_code}", *args,
                          self.url("hello.txt"))
            self.assertEqual(r.stdout, b"304", args)
        self.put("hello.txt", b"changed, and longer\n")
        r = self.curl("-o", os.path.join(self.out, "again"), "-w", "%{http_code}",
                      "--etag-compare", etag, self.url("hello.txt"))
        self.assertEqual(r.stdout, b"200")
        self.assertEqual(slurp(os.path.join(self.out, "again")), b"changed, and longer\n")

    def test_resume(self):
        """curl -C - appends the missing tail to a truncated good copy (the
        server sends only the tail), and leaves a complete file alone."""
        data = self.files["big.bin"]
        for cut in (1, 1234567, len(data) - 1):
            part = self.partial("big.bin", cut, f"part{cut}")
            mark = self.srv.mark()
            self.curl("--fail", "-C", "-", "-o", part, self.url("big.bin"))
            self.assertEqual(sha256_file(part), sha(data), cut)
            self.wait_served("http", "/big.bin", 206, len(data) - cut, start=mark)
        whole = self.partial("big.bin", len(data), "whole")
        self.curl("-C", "-", "-o", whole, self.url("big.bin"))
        self.assertEqual(sha256_file(whole), sha(data))


class Wget(HttpClients):

    def wget(self, *args, check=True):
        r = run([program(self, "wget"), "--no-config", "-nv", "--tries=1", "--timeout=30",
                 *map(str, args)])
        if check:
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r

    def test_files_range_and_missing(self):
        for i, (rel, data) in enumerate(self.files.items()):
            out = os.path.join(self.out, f"f{i}")
            self.wget("-O", out, self.url(rel))
            self.assertEqual(sha256_file(out), sha(data), rel)
        data = self.files["big.bin"]
        out = os.path.join(self.out, "range")
        # wget's own range request (a Range header given with --header
        # confuses wget itself: it retries a 206 it did not ask for).
        r = self.wget("-S", "--start-pos=100", "-O", out, self.url("big.bin"))
        self.assertIn("HTTP/1.1 206 Partial Content", r.stderr.decode())
        self.assertEqual(slurp(out), data[100:])
        r = self.wget("-O", os.path.join(self.out, "nope"), self.url("nope.txt"), check=False)
        self.assertEqual(r.returncode, 8, r.stderr)  # 8: the server answered an error
        self.assertIn("404", r.stderr.decode())

    def test_recursive_mirror_of_the_index(self):
        """wget -r follows the autoindex links and gets every file."""
        self.wget("-r", "-np", "-nH", "-e", "robots=off", "-P", self.out, self.base + "/")
        got = {}
        for d, _, names in os.walk(self.out):
            for n in names:
                rel = os.path.relpath(os.path.join(d, n), self.out)
                if os.path.basename(rel) != "index.html":
                    got[rel] = sha256_file(os.path.join(d, n))
        self.assertEqual(got, {rel: sha(data) for rel, data in self.files.items()})
        self.assertEqual(links(slurp(os.path.join(self.out, "index.html"))),
                         index_of(self.files, ""))
        self.assertEqual(links(slurp(os.path.join(self.out, SUB, "index.html"))),
                         index_of(self.files, SUB))

    def test_resume(self):
        data = self.files["big.bin"]
        part = self.partial("big.bin", 999_999, "part")
        mark = self.srv.mark()
        self.wget("-c", "-O", part, self.url("big.bin"))
        self.assertEqual(sha256_file(part), sha(data))
        self.wait_served("http", "/big.bin", 206, len(data) - 999_999, start=mark)
        whole = self.partial("big.bin", len(data), "whole")
        mark = self.srv.mark()
        self.wget("-c", "-O", whole, self.url("big.bin"))  # 416: "already fully retrieved"
        self.assertEqual(sha256_file(whole), sha(data))
        self.srv.wait_log(r'proto=http file="/big.bin" status=416 ', start=mark)

    def test_timestamping(self):
        """wget -N: the second run asks If-Modified-Since and gets 304."""
        self.wget("-N", "-P", self.out, self.url("hello.txt"))
        local = os.path.join(self.out, "hello.txt")
        self.assertEqual(os.stat(local).st_mtime // 1,
                         os.stat(os.path.join(self.root, "hello.txt")).st_mtime // 1)
        mark = self.srv.mark()
        self.wget("-N", "-P", self.out, self.url("hello.txt"))
        self.srv.wait_log(r'proto=http file="/hello.txt" status=304 ', start=mark)
        self.assertEqual(slurp(local), self.files["hello.txt"])


class Urllib(HttpClients):

    def setUp(self):
        super().setUp()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def open(self, url, **kw):
        return self.opener.open(urllib.request.Request(url, **kw), timeout=30)

    def test_files_range_head_index(self):
        for rel, data in self.files.items():
            with self.open(self.url(rel)) as r:
                self.assertEqual(r.status, 200, rel)
                self.assertEqual(int(r.headers["Content-Length"]), len(data), rel)
                self.assertEqual(sha(r.read()), sha(data), rel)
        data = self.files["big.bin"]
        with self.open(self.url("big.bin"), headers={"Range": "bytes=100-199"}) as r:
            self.assertEqual(r.status, 206)
            self.assertEqual(r.headers["Content-Range"], f"bytes 100-199/{len(data)}")
            self.assertEqual(r.read(), data[100:200])
        with self.open(self.url("big.bin"), method="HEAD") as r:
            self.assertEqual(int(r.headers["Content-Length"]), len(data))
            self.assertEqual(r.read(), b"")
        with self.open(self.base + "/") as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
            self.assertEqual(links(r.read()), index_of(self.files, ""))
        with self.open(self.url(SUB)) as r:  # 301 followed
            self.assertEqual(r.url, self.url(SUB) + "/")
            self.assertEqual(links(r.read()), index_of(self.files, SUB))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.open(self.url("nope.txt"))
        self.assertEqual(cm.exception.code, 404)
        cm.exception.close()
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.open(self.url("big.bin"), headers={"Range": f"bytes={len(data)}-"})
        self.assertEqual(cm.exception.code, 416)
        self.assertEqual(cm.exception.headers["Content-Range"], f"bytes */{len(data)}")
        cm.exception.close()


class Chromium(HttpClients):
    """Headless Chromium: three runs at once, each with a fresh profile."""

    def test_dom_index_page_and_fetch(self):
        chromium = program(self, "chromium")
        jobs = {
            "index": ["--dump-dom", self.base + "/"],
            "page": ["--dump-dom", self.url("page.html")],
            "fetch": ["--virtual-time-budget=5000", "--dump-dom", self.url("fetch.html")],
        }
        procs = {}
        try:
            for what, args in jobs.items():
                profile = tempfile.mkdtemp(prefix=f"chromium-{what}-", dir=self.tmp)
                procs[what] = subprocess.Popen(
                    [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                    env=CLIENT_ENV)
            dom = {}
            for what, p in procs.items():
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 0, err.decode(errors="replace")[-2000:])
                dom[what] = out.decode()
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)

        self.assertEqual(links(dom["index"]), index_of(self.files, ""), dom["index"])
        self.assertIn('<p id="greeting">Hello &amp; welcome</p>', dom["page"])
        self.assertIn('<p id="js">script ran</p>', dom["page"], "not run as HTML")

        m = re.search(r'<pre id="out">(.*?)</pre>', dom["fetch"], re.S)
        self.assertIsNotNone(m, dom["fetch"])
        self.assertNotEqual(m.group(1), "pending", "the page's fetches did not finish in time")
        r = json.loads(html.unescape(m.group(1)))
        self.assertNotIn("error", r, r)
        data = self.files["big.bin"]
        self.assertEqual(r["full"], {"status": 200, "length": len(data), "sha256": sha(data),
                                     "type": "application/octet-stream"})
        self.assertEqual(r["range"], {"status": 206, "length": 1000, "sha256": sha(data[1000:2000]),
                                      "contentRange": f"bytes 1000-1999/{len(data)}"})
        self.assertEqual(r["text"], {"status": 200, "text": self.files["hello.txt"].decode()})
        self.assertEqual(r["index"], {"status": 200,
                                      "hrefs": [h for h, _ in index_of(self.files, "")]})
        for href, (status, digest) in r["followed"].items():
            self.assertEqual(status, 200, href)
            rel = urllib.parse.unquote(href)
            if not rel.endswith("/"):
                self.assertEqual(digest, sha(self.files[rel]), href)
        self.assertEqual(r["odd"], {"text": ODD, "status": 200,
                                    "sha256": sha(self.files[f"{SUB}/{ODD}"])})
        self.assertEqual(r["redirect"], {"status": 200, "redirected": True,
                                         "url": self.url(SUB) + "/"})
        self.assertEqual(r["missing"], 404)


class ResumeParity(HttpClients):
    """The same partial file, resumed over HTTP (curl -C -) and over the
    native protocol (ferry get -c, and contrib/python's get(offset=)),
    becomes the same file, and each server sent only the missing tail."""

    def test_resume_parity(self):
        data = self.files["big.bin"]
        cut = 2_000_003
        want = sha(data)
        curl = program(self, "curl")

        part = self.partial("big.bin", cut, "curl.bin")
        mark = self.srv.mark()
        r = run([curl, "-q", "-sS", "--fail", "--max-time", "30", "-C", "-", "-o", part,
                 self.url("big.bin")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(part), want)
        self.wait_served("http", "/big.bin", 206, len(data) - cut, start=mark)

        out = os.path.join(self.out, "ferry.bin")
        self.partial("big.bin", cut, "ferry.bin.part")
        mark = self.srv.mark()
        r = ferry("get", "-q", "-c", "-o", out, self.native_host, self.native_port, "big.bin",
                  "10M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(out), want)
        self.assertFalse(os.path.exists(out + ".part"))
        self.wait_served("native", "big.bin", "OK", len(data) - cut, len(data), start=mark)

        out = os.path.join(self.out, "py.bin")
        self.partial("big.bin", cut, "py.bin.part")
        size = fc.get(self.native_host, self.native_port, "big.bin", 10 * MiB, out, offset=cut)
        self.assertEqual(size, len(data))
        self.assertEqual(sha256_file(out), want)

        # Already complete: curl gets 416 and keeps the file; ferry asks from
        # offset == size, gets OK with no content, and renames the .part.
        whole = self.partial("big.bin", len(data), "curl-whole.bin")
        r = run([curl, "-q", "-sS", "--max-time", "30", "-C", "-", "-o", whole,
                 self.url("big.bin")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(whole), want)
        out = os.path.join(self.out, "ferry-whole.bin")
        self.partial("big.bin", len(data), "ferry-whole.bin.part")
        mark = self.srv.mark()
        r = ferry("get", "-q", "-c", "-o", out, self.native_host, self.native_port, "big.bin",
                  "10M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(out), want)
        self.wait_served("native", "big.bin", "OK", 0, len(data), start=mark)

        # A partial file longer than the server's: both refuse to guess.
        for name in ("curl-long.bin", "ferry-long.bin.part"):
            with open(os.path.join(self.out, name), "wb") as f:
                f.write(data + b"extra")
        r = run([curl, "-q", "-sS", "--fail", "--max-time", "30", "-C", "-", "-o",
                 os.path.join(self.out, "curl-long.bin"), self.url("big.bin")])
        self.assertEqual(r.returncode, 22, r.stderr)  # 416 Range Not Satisfiable
        r = ferry("get", "-q", "-c", "-o", os.path.join(self.out, "ferry-long.bin"),
                  self.native_host, self.native_port, "big.bin", "10M")
        self.assertEqual(r.returncode, 19, r.stderr)
        for name in ("curl-long.bin", "ferry-long.bin.part"):
            self.assertEqual(slurp(os.path.join(self.out, name)), data + b"extra", name)


    def test_resume_beyond_4gib(self):
        """Offsets past 2^32, on a sparse 5 GiB file whose last bytes are
        known: each client appends exactly the tail after a sparse prefix."""
        size, cut = 5 << 30, (5 << 30) - 100
        tail = os.urandom(100)
        with open(os.path.join(self.root, "huge.bin"), "wb") as f:
            f.truncate(size)
            f.seek(cut)
            f.write(tail)
        curl = program(self, "curl")

        def check(path, who):
            self.assertEqual(os.path.getsize(path), size, who)
            with open(path, "rb") as f:
                f.seek(cut - 4)
                self.assertEqual(f.read(), bytes(4) + tail, who)

        def sparse(name):
            path = os.path.join(self.out, name)
            with open(path, "wb") as f:
                f.truncate(cut)
            return path

        part = sparse("curl.bin")
        mark = self.srv.mark()
        r = run([curl, "-q", "-sS", "--fail", "--max-time", "30", "-C", "-", "-o", part,
                 self.url("huge.bin")])
        self.assertEqual(r.returncode, 0, r.stderr)
        check(part, "curl")
        self.wait_served("http", "/huge.bin", 206, 100, start=mark)

        out = os.path.join(self.out, "ferry.bin")
        sparse("ferry.bin.part")
        mark = self.srv.mark()
        r = ferry("get", "-q", "-c", "-o", out, self.native_host, self.native_port, "huge.bin",
                  "6G")
        self.assertEqual(r.returncode, 0, r.stderr)
        check(out, "ferry get -c")
        self.wait_served("native", "huge.bin", "OK", 100, size, start=mark)

        out = os.path.join(self.out, "py.bin")
        sparse("py.bin.part")
        self.assertEqual(fc.get(self.native_host, self.native_port, "huge.bin", 6 << 30, out,
                                offset=cut), size)
        check(out, "ferry_client.get")


# ---------------------------------------------------------------------------
# Traversal corpus.

# HTTP targets, sent verbatim in "GET TARGET HTTP/1.1".
HTTP_CORPUS = [
    b"/../marker.txt",
    b"/../../../../../../../../etc/passwd",
    b"/%2e%2e/marker.txt",
    b"/%2E%2e/marker.txt",
    b"/%2e%2E%2fmarker.txt",
    b"/.%2e/marker.txt",
    b"/%2e./marker.txt",
    b"/..%2fmarker.txt",
    b"/..%2Fmarker.txt",
    b"/%2f..%2fmarker.txt",
    b"/%252e%252e/marker.txt",
    b"/%252e%252e%252fmarker.txt",
    b"/%25%32%65%25%32%65/marker.txt",
    b"/%c0%ae%c0%ae/marker.txt",
    b"/%c0%ae%c0%ae%c0%afmarker.txt",
    b"/%e0%80%ae%e0%80%ae/marker.txt",
    b"/%u002e%u002e/marker.txt",
    b"/..%5cmarker.txt",
    b"/..\\marker.txt",
    b"/%2e%2e%5c%2e%2e%5cetc%5cpasswd",
    b"/..%00/marker.txt",
    b"/a.txt%00.html",
    b"/%00../marker.txt",
    b"/./../marker.txt",
    b"/././%2e%2e/marker.txt",
    b"/dir/../../marker.txt",
    b"/dir/%2e%2e/%2e%2e/marker.txt",
    b"/dir/..%2f..%2fmarker.txt",
    b"//../marker.txt",
    b"//etc/passwd",
    b"///etc/passwd",
    b"/%2fetc%2fpasswd",
    b"/...",
    b"/.../marker.txt",
    b"/..;/marker.txt",
    b"/....//marker.txt",
    b"/..%20/marker.txt",
    b"../marker.txt",
    b"marker.txt",
    b"/secret/passwd",
    b"/secret/",
    b"/secret",
    b"/secret/../secret/passwd",
    b"/escape/marker.txt",
    b"/escape/",
    b"/marker-link.txt",
    b"/alias.txt",
    b"/dir/link/file.txt",
    b"/dir/link/",
    b"/dir/link%2ffile.txt",
    b"/dir/abslink/file.txt",
    b"/proc/self/root/etc/passwd",
    b"http://x/../../etc/passwd",
    b"http://x/%2e%2e/marker.txt",
    b"HTTP://x/../marker.txt",
    b"http://x/secret/passwd",
    b"http://x/dir/link/file.txt",
    b"http://x/..",
    b"*",
]

# Native names, sent as FILE_REQUEST and as GET, with the status
# docs/PROTOCOL.md prescribes.
NATIVE_CORPUS = [
    (b"../marker.txt", "INVALID_NAME"),
    (b"../../../../../../etc/passwd", "INVALID_NAME"),
    (b"..", "INVALID_NAME"),
    (b".", "INVALID_NAME"),
    (b"/etc/passwd", "INVALID_NAME"),
    (None, "INVALID_NAME"),  # the marker's absolute path, filled in later
    (b"./a.txt", "INVALID_NAME"),
    (b"a.txt/", "INVALID_NAME"),
    (b"//marker.txt", "INVALID_NAME"),
    (b"secret/passwd", "INVALID_NAME"),
    (b"escape/marker.txt", "INVALID_NAME"),
    (b"dir/link/file.txt", "INVALID_NAME"),
    (b"other/file.txt", "INVALID_NAME"),
    (b"a.txt\x00", "INVALID_NAME"),
    (b"\x00../marker.txt", "INVALID_NAME"),
    (b"..\x00", "INVALID_NAME"),
    (b"\xc0\xae\xc0\xae", "INVALID_NAME"),
    (b"\xc0\xae\xc0\xae\xc0\xafmarker.txt", "INVALID_NAME"),
    ("\uff0e\uff0e".encode(), "INVALID_NAME"),
    (b"a.txt\n", "INVALID_NAME"),
    (b"../" * 85, "INVALID_NAME"),
    (b"x" * 256, "INVALID_NAME"),
    (b"", "INVALID_NAME"),
    (b"%2e%2e%2fmarker.txt", "NOT_FOUND"),
    (b"%2e%2e", "NOT_FOUND"),
    (b"%2E%2e", "NOT_FOUND"),
    (b"..%2fmarker.txt", "NOT_FOUND"),
    (b"%252e%252e%252fmarker.txt", "NOT_FOUND"),
    (b"%c0%ae%c0%ae", "NOT_FOUND"),
    (b"..\\marker.txt", "NOT_FOUND"),
    (b"\\etc\\passwd", "NOT_FOUND"),
    (b"...", "NOT_FOUND"),
    (b".. ", "NOT_FOUND"),
    (b"marker.txt", "NOT_FOUND"),
    (b"secret", "NOT_REGULAR"),
    (b"escape", "NOT_REGULAR"),
    (b"marker-link.txt", "NOT_REGULAR"),
    (b"alias.txt", "NOT_REGULAR"),
    (b"dir", "NOT_REGULAR"),
    (b"other", "NOT_REGULAR"),
]
NATIVE_REFUSALS = {STATUS["INVALID_NAME"], STATUS["NOT_FOUND"], STATUS["NOT_REGULAR"]}
STATUS_NAME = {v: k for k, v in STATUS.items()}


def read_all(sock):
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return bytes(data)
        data += chunk


def http_raw(host, port, target, timeout=10):
    """GET target (bytes, verbatim); returns the whole answer up to the close."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return read_all(s)


def native_raw(host, port, frame, timeout=10):
    """Sends one native request frame; says READY to a FILE_REQUEST answered
    OK. Returns (11-byte answer, everything after it up to the close)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(frame)
        head = recv_exact(s, 11)
        if len(head) == 11 and head[2] == 0 and frame[1] == 1:
            s.sendall(READY)
        return head, read_all(s)


def file_request(name):
    return struct.pack(">BBH", 1, 1, len(name)) + name


def get_request(name, offset=0, max_size=1 << 40):
    return struct.pack(">BBHQQ", 1, 7, len(name), offset, max_size) + name


class TraversalCorpus(ClosePipes):
    """The corpus against one ferryd (both listeners, --autoindex) per mode.

    tmp/marker.txt and tmp/outside/marker.txt hold a unique token; the root
    holds a.txt, other/file.txt, dir/ and symbolic links: secret -> /etc,
    escape -> ../outside, marker-link.txt -> ../outside/marker.txt,
    alias.txt -> a.txt, dir/link -> ../other, dir/abslink -> ROOT/other."""

    MODE = None

    def setUp(self):
        super().setUp()
        self.token = f"FERRY-MARKER-{uuid.uuid4().hex}".encode()
        outside = os.path.join(self.tmp, "outside")
        os.mkdir(outside)
        for path in (os.path.join(self.tmp, "marker.txt"), os.path.join(outside, "marker.txt")):
            with open(path, "wb") as f:
                f.write(self.token + b"\n")
        self.marker = os.path.join(self.tmp, "marker.txt")
        self.put("a.txt", b"inside\n")
        os.makedirs(os.path.join(self.root, "other"))
        self.put("other/file.txt", b"other file\n")
        os.mkdir(os.path.join(self.root, "dir"))
        os.symlink("/etc", os.path.join(self.root, "secret"))
        os.symlink("../outside", os.path.join(self.root, "escape"))
        os.symlink("../outside/marker.txt", os.path.join(self.root, "marker-link.txt"))
        os.symlink("a.txt", os.path.join(self.root, "alias.txt"))
        os.symlink("../other", os.path.join(self.root, "dir", "link"))
        os.symlink(os.path.join(self.root, "other"), os.path.join(self.root, "dir", "abslink"))
        self.srv = self.serve(self.MODE, ["--autoindex"], listen=LISTEN)
        self.ports = {proto: (host, port) for proto, host, port in self.srv.listeners}

    def leaks(self, data):
        return self.token in data or b"root:x:0:0" in data

    def test_corpus(self):
        host, port = self.ports["http"]
        problems = []

        # Controls: the server does serve what is inside, by both routes.
        ok = http_raw(host, port, b"/a.txt")
        self.assertTrue(ok.startswith(b"HTTP/1.1 200 ") and ok.endswith(b"\r\n\r\ninside\n"), ok)
        ok = http_raw(host, port, b"/other/file.txt")
        self.assertTrue(ok.endswith(b"\r\n\r\nother file\n"), ok)
        index = http_raw(host, port, b"/")
        self.assertEqual([h for h, _ in links(index.partition(b"\r\n\r\n")[2])],
                         ["a.txt", "dir/", "other/"], index)  # no symbolic link listed

        for target in HTTP_CORPUS:
            answer = http_raw(host, port, target)
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
            if self.leaks(answer):
                problems.append(f"HTTP {target!r}: LEAKED outside bytes: {answer[:300]!r}")
            elif m is None or int(m.group(1)) not in (400, 403, 404):
                problems.append(f"HTTP {target!r}: {answer[:200]!r}")

        host, port = self.ports["native"]
        self.assertEqual(native_raw(host, port, get_request(b"a.txt")),
                         (b"\x01\x02\x00" + struct.pack(">Q", 7), b"inside\n"))
        corpus = [(os.fsencode(self.marker) if n is None else n, s) for n, s in NATIVE_CORPUS]
        for name, want in corpus:
            for kind, frame in (("FILE_REQUEST", file_request(name)),
                                ("GET", get_request(name))):
                head, rest = native_raw(host, port, frame)
                status = head[2] if len(head) == 11 else None
                got = STATUS_NAME.get(status, status)
                if self.leaks(head + rest):
                    problems.append(f"native {kind} {name!r}: LEAKED outside bytes")
                elif status not in NATIVE_REFUSALS or rest:
                    problems.append(f"native {kind} {name!r}: {head!r} + {len(rest)} bytes")
                elif got != want:
                    problems.append(f"native {kind} {name!r}: {got}, PROTOCOL.md says {want}")
        # LIST names regular files directly in the root: never a link.
        self.assertEqual([e.name for e in fc.list_files(host, port, timeout=10)], ["a.txt"])

        self.assertFalse(problems, f"{len(problems)} of {len(HTTP_CORPUS)} HTTP and "
                         f"{2 * len(corpus)} native requests:\n" + "\n".join(problems))


for _name, _cls in per_mode(TraversalCorpus).items():
    _cls.__module__ = __name__
    globals()[_name] = _cls
del _name, _cls


# ---------------------------------------------------------------------------

class HugeList(ClosePipes, FerryTest):
    """LIST of 100,000 files, through the ferry client and contrib/python,
    and the HTTP index of the same directory."""

    N = 100_000

    def fast_dir(self):
        """A directory for 100,000 files: on /dev/shm when it has room
        (creating and removing them on a busy disk takes 3 s to 20 s, on
        tmpfs under 1 s; the files are sparse, so only inodes are used)."""
        try:
            vfs = os.statvfs("/dev/shm")
            if vfs.f_favail > 2 * self.N and os.access("/dev/shm", os.W_OK):
                base = tempfile.mkdtemp(prefix="ferrytest-list-", dir="/dev/shm")
                self.addCleanup(shutil.rmtree, base, ignore_errors=True)
                os.chmod(base, 0o755)
                os.mkdir(os.path.join(base, "root"))
                return os.path.join(base, "root")
        except OSError:
            pass
        return self.root

    def test_list_100k(self):
        t0 = time.monotonic()
        root = self.fast_dir()
        for i in range(self.N):  # names that sort apart from their numbers: "10" < "2"
            fd = os.open(os.path.join(root, str(i)), os.O_WRONLY | os.O_CREAT, 0o644)
            if i % 97:
                os.ftruncate(fd, i % 97)
            os.close(fd)
        made = time.time()
        names = sorted((str(i) for i in range(self.N)), key=str.encode)
        srv = Server(root, "prefork", ["--autoindex"], listen=LISTEN)
        self.servers.append(srv)
        self.addCleanup(srv.proc.stderr.close)
        ports = {proto: (host, port) for proto, host, port in srv.listeners}
        host, port = ports["native"]
        t1 = time.monotonic()

        r = ferry("ls", "--json", host, port, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        listing = json.loads(r.stdout)
        self.assertEqual(len(listing), self.N)
        self.assertEqual([e["name"] for e in listing], names)  # all there, sorted bytewise
        for e in listing[::997] + listing[-3:]:
            self.assertEqual(e["size"], int(e["name"]) % 97, e)
            self.assertLessEqual(e["mtime"], made + 1, e)
        t2 = time.monotonic()

        entries = fc.list_files(host, port, timeout=60)
        self.assertEqual([(e.name, e.size, e.mtime) for e in entries],
                         [(e["name"], e["size"], e["mtime"]) for e in listing])
        t3 = time.monotonic()

        host, port = ports["http"]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://{host}:{port}/", timeout=60) as resp:
            page = resp.read().decode()
        self.assertEqual(re.findall(r'<tr><td><a href="([^"]*)">', page), names)
        t4 = time.monotonic()
        self.assertLess(t4 - t0, 60, "LIST of 100,000 files took too long")
        if os.environ.get("FERRY_TIMINGS"):
            print(f"\n100k in {root}: create {t1 - t0:.2f}s, ferry ls {t2 - t1:.2f}s, "
                  f"python list {t3 - t2:.2f}s, http index {t4 - t3:.2f}s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
