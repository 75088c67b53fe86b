"""ferryd's Prometheus metrics against the real ferryd, in every mode: the
exposition passes promtool after real downloads, the duration histogram
counts every connection, the process_* figures match /proc, a listener's
queue gauge rises while connections wait, and in prefork mode a respawned
worker continues its slot's series while crashes and kills are told apart."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from ferrytest import (FERRYD, FerryTest, children_of, ferry, per_mode, request, wait_until)

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')
PER_WORKER = ("ferry_worker_requests_total", "ferry_worker_sent_bytes_total",
              "ferry_worker_transfer_size_bytes", "ferry_worker_transfer_sent_bytes")


def unescape(value):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


class Metrics:
    """One parsed exposition: the text, each family's type and each
    sample's value keyed by (name, sorted label pairs)."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.samples = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
                continue
            if line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            labels = tuple(sorted((k, unescape(v)) for k, v in LABEL.findall(m.group(2) or "")))
            self.samples[(m.group(1), labels)] = float(m.group(3))

    def get(self, name, **labels):
        """A sample's value, or None when there is none."""
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def total(self, name, **labels):
        """The sum of the samples of name whose labels include labels."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= set(ls))

    def series(self, names):
        """The (name, labels) keys of every sample of the named families."""
        return {key for key in self.samples if key[0] in names}


def scrape(srv):
    """The metrics command over the raw admin socket."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(srv.admin)
        with s.makefile("rwb") as f:
            f.write(b'{"cmd": "metrics"}\n')
            f.flush()
            resp = json.loads(f.readline())
    finally:
        s.close()
    assert resp["ok"], resp
    return Metrics(resp["text"])


class MetricsInMode:
    MODE = None
    ARGS = ("--workers", "2")

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("data.bin", os.urandom(300 * 1024))
        self.put("big", bytes(64 << 20))
        self.srv = self.serve(self.MODE, self.ARGS)

    def download(self, name, i):
        out = os.path.join(self.tmp, f"out-{i}")
        r = ferry("get", "-q", "-o", out, "127.0.0.1", self.srv.port, name, "1G")
        self.assertEqual(r.returncode, 0, r.stderr)

    def closed_connections(self, n):
        """Waits until n connections have closed (a worker counts one as it
        closes, just after the client saw its last byte)."""
        return wait_until(lambda: (m := scrape(self.srv)).get(
            "ferry_connection_duration_seconds_count") == n and m, what=f"{n} closed connections")

    @unittest.skipUnless(shutil.which("promtool"), "promtool (Debian's prometheus) not installed")
    def test_promtool_is_clean_after_downloads(self):
        for i, name in enumerate(("hello.txt", "data.bin", "hello.txt")):
            self.download(name, i)
        s, (_, _, status, _) = self.srv.ask("missing")
        s.close()
        m = self.closed_connections(4)
        check = subprocess.run(["promtool", "check", "metrics"], input=m.text, text=True,
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, "", "no lint findings either")
        # One listener: every series carries it and its protocol, and the
        # native statuses are counted by outcome (NOT_FOUND: client_error).
        lis = {"listener": f"127.0.0.1:{self.srv.port}", "protocol": "native"}
        self.assertEqual(m.get("ferry_connections_total", **lis), 4)
        self.assertEqual(m.get("ferry_responses_total", **lis, outcome="ok"), 3)
        self.assertEqual(m.get("ferry_responses_total", **lis, outcome="client_error"), 1)
        self.assertEqual(m.get("ferry_responses_total", **lis, outcome="server_error"), 0)
        self.assertEqual(m.get("ferry_responses_total", **lis, outcome="redirect"), 0)
        self.assertEqual(m.get("ferry_sent_bytes_total", **lis), 12 + 300 * 1024)
        self.assertEqual(m.get("ferry_connections_total"), None, "no unlabelled total")
        for family in ("ferry_connections_total", "ferry_responses_total",
                       "ferry_sent_bytes_total", "ferry_listen_queue_length"):
            for key in m.series((family,)):
                self.assertLessEqual(set(lis.items()), set(key[1]), key)
        # Counters rather than rates, and no label that changes with a pid.
        self.assertNotIn("per_second", m.text)
        self.assertFalse([k for k in m.samples if "pid" in dict(k[1])])
        version = subprocess.run([FERRYD, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.split()[1]
        self.assertEqual(m.get("ferry_build_info", version=version, native_protocol="1"), 1)
        for key in m.series(PER_WORKER):
            self.assertEqual([k for k, _ in key[1]], ["slot"])

    def test_histogram_counts_every_connection(self):
        for i in range(3):
            self.assertEqual(self.srv.fetch("hello.txt"), b"hello\n")
        self.download("data.bin", 0)
        s, _ = self.srv.ask("../etc/passwd")  # INVALID_NAME: a connection all the same
        s.close()
        s, _ = self.srv.ask("hello.txt")  # answered, then REFUSEd by going away
        s.close()
        m = self.closed_connections(6)
        self.assertEqual(m.types["ferry_connection_duration_seconds"], "histogram")
        self.assertEqual(m.total("ferry_connections_total"), 6)
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in m.samples.items()
                          if k[0] == "ferry_connection_duration_seconds_bucket"))
        self.assertEqual(buckets[-1], (float("inf"), 6))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "buckets are cumulative")
        self.assertEqual(m.get("ferry_connection_duration_seconds_count"), 6)
        total = m.get("ferry_connection_duration_seconds_sum")
        self.assertGreater(total, 0)
        self.assertLess(total, 6 * 30)

    def test_process_figures_match_proc(self):
        pid = self.srv.pid
        m = scrape(self.srv)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        self.assertLessEqual(abs(m.get("process_open_fds") - fds), 2,
                             (m.get("process_open_fds"), fds))
        with open(f"/proc/{pid}/limits") as f:
            soft = next(l.split()[3] for l in f if l.startswith("Max open files"))
        self.assertEqual(m.get("process_max_fds"), None if soft == "unlimited" else int(soft))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as f:
            btime = next(int(l.split()[1]) for l in f if l.startswith("btime "))
        tck = os.sysconf("SC_CLK_TCK")
        self.assertAlmostEqual(m.get("process_start_time_seconds"), btime + int(fields[19]) / tck,
                               delta=1.0)
        self.assertLess(abs(m.get("process_start_time_seconds") - time.time()), 300)
        self.assertGreaterEqual(m.get("process_cpu_seconds_total"), 0)
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        self.assertLess(abs(m.get("process_resident_memory_bytes") - rss), max(4 << 20, rss // 4))
        self.assertGreaterEqual(m.get("process_virtual_memory_bytes"),
                                m.get("process_resident_memory_bytes"))
        self.assertEqual(m.types["process_cpu_seconds_total"], "counter")


globals().update(per_mode(MetricsInMode))


class ListenQueue:
    """With the only worker held by a stalled transfer, the next
    connections wait in the accept queue, and the gauge shows them."""
    MODE = None

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(64 << 20))
        # Event mode: a worker of one connection, so that one transfer fills it.
        one = ("--worker-connections", "1") if self.MODE == "event" else ()
        self.srv = self.serve(self.MODE, ("--workers", "1", "--backlog", "16", *one))

    def test_queue_gauge_rises_while_connections_wait(self):
        lis = {"listener": f"127.0.0.1:{self.srv.port}", "protocol": "native"}
        m = scrape(self.srv)
        self.assertEqual(m.get("ferry_listen_queue_length", **lis), 0)
        self.assertEqual(m.get("ferry_listen_queue_limit", **lis), 16)
        held = self.srv.stalled(small_window=False)
        waiting = []
        try:
            if self.MODE == "fork":  # the only child is busy: the master stops accepting
                wait_until(lambda: scrape(self.srv).get("ferry_pool_at_limit_total") >= 1,
                           what="fork mode at its limit")
            for _ in range(3):
                s = self.srv.connect()
                # A request's bytes make it acceptable (TCP_DEFER_ACCEPT);
                # one for a missing file is answered and closed at once.
                s.sendall(request("missing"))
                waiting.append(s)
            wait_until(lambda: scrape(self.srv).get("ferry_listen_queue_length", **lis) == 3,
                       what="3 connections in the accept queue")
        finally:
            held.close()
        # Freed, the worker serves them and the queue empties.
        wait_until(lambda: scrape(self.srv).get("ferry_listen_queue_length", **lis) == 0,
                   what="the accept queue drained")
        for s in waiting:
            s.close()


globals().update(per_mode(ListenQueue))


def http_get(host, port, path, method="GET"):
    """One request on a fresh connection: (status, headers, body)."""
    s = socket.create_connection((host, port), timeout=10)
    try:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(l.split(": ", 1) for l in lines[1:])
    assert int(fields["Content-Length"]) == len(body) or method == "HEAD", fields
    return int(lines[0].split()[1]), fields, body


class MetricsOverHttp:
    """--listen metrics=ADDR:PORT: the master serves GET /metrics and
    GET /status itself, so they answer while every worker is busy."""

    def setUp(self):
        super().setUp()
        self.put("big", bytes(64 << 20))
        self.put("hello.txt", b"hello\n")
        self.srv = self.serve(self.MODE, ("--workers", "1"),
                              listen=["native=127.0.0.1:0", "metrics=127.0.0.1:0"])
        self.web = next((h, p) for proto, h, p in self.srv.listeners if proto == "metrics")

    def test_metrics_and_status(self):
        self.assertEqual(self.srv.fetch("hello.txt"), b"hello\n")
        wait_until(lambda: scrape(self.srv).get("ferry_connection_duration_seconds_count") == 1,
                   what="the fetch counted")
        status, fields, body = http_get(*self.web, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(fields["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        lis = {"listener": f"127.0.0.1:{self.srv.port}", "protocol": "native"}
        self.assertEqual(Metrics(body.decode()).get("ferry_connections_total", **lis), 1)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=body, timeout=30,
                                   capture_output=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        status, fields, body = http_get(*self.web, "/status")
        st = json.loads(body)
        self.assertEqual((status, fields["Content-Type"]), (200, "application/json"))
        self.assertEqual((st["ok"], st["mode"], st["totals"]["requests"]), (True, self.MODE, 1))
        self.assertEqual(http_get(*self.web, "/nope")[0], 404)
        self.assertEqual(http_get(*self.web, "/metrics", "POST")[0], 405)
        self.assertEqual(http_get(*self.web, "/status", "HEAD")[2], b"")
        # Workers never see the metrics listener: one, serving native only.
        self.assertNotIn("metrics", [l["protocol"] for l in st["listeners"]])

    def test_answers_while_every_worker_is_busy(self):
        s = self.srv.stalled()  # the only worker (or process) is inside a transfer
        wait_until(lambda: scrape(self.srv).get("ferry_workers", state="sending") == 1,
                   what="the worker sending")
        t0 = time.monotonic()
        status, _, body = http_get(*self.web, "/metrics")
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(Metrics(body.decode()).get("ferry_workers", state="sending"), 1)
        s.close()

    @unittest.skipUnless(shutil.which("prometheus"), "prometheus (Debian's) not installed")
    def test_a_real_prometheus_scrapes_it(self):
        if self.MODE != "event":
            self.skipTest("one Prometheus run is enough: the endpoint is the same in every mode")
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        conf = os.path.join(self.tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global: {scrape_interval: 1s}\nscrape_configs:\n"
                    f"  - job_name: ferry\n    static_configs: [{{targets: ['{self.web[0]}:"
                    f"{self.web[1]}']}}]\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={conf}",
                                 f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (prom.terminate(), prom.wait(timeout=30)))

        def scraped():
            try:
                status, _, body = http_get("127.0.0.1", port,
                                           "/api/v1/query?query=ferry_build_info")
            except OSError:
                return False
            result = json.loads(body)["data"]["result"] if status == 200 else []
            return result and result[0]["metric"]
        metric = wait_until(scraped, timeout=60, what="Prometheus to scrape ferryd")
        self.assertEqual((metric["job"], metric["native_protocol"]), ("ferry", "1"))


    def test_status_page_in_chromium(self):
        # The page at /: a headless Chromium runs its script, which reads
        # /status and /workers; a transfer in progress appears with a bar
        # that advances from one look to the next.
        chromium = shutil.which("chromium")
        if chromium is None:
            self.skipTest("chromium is not installed (Debian: apt-get install -y chromium)")
        if self.MODE != "event":
            self.skipTest("one browser run is enough: the page is the same in every mode")
        status, fields, page = http_get(*self.web, "/")
        self.assertEqual((status, fields["Content-Type"]), (200, "text/html; charset=utf-8"))
        self.assertIn(b'fetch(p, {cache: "no-store"})', page)  # self-contained: no other asset
        self.assertNotIn(b"src=", page)
        reader = socket.create_connection(("127.0.0.1", self.srv.port), timeout=30)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        # A native GET of "big" from offset 0, any size (docs/PROTOCOL.md).
        reader.sendall(bytes([1, 7, 0, 3]) + (0).to_bytes(8, "big") + (1 << 40).to_bytes(8, "big")
                       + b"big")
        stop = time.monotonic() + 60

        def trickle():  # ~1 MiB/s, so the bar moves but never finishes
            while time.monotonic() < stop:
                try:
                    if not reader.recv(16384):
                        return
                except OSError:
                    return
                time.sleep(0.015)
        threading.Thread(target=trickle, daemon=True).start()
        self.addCleanup(reader.close)

        def look():
            profile = os.path.join(self.tmp, f"chromium-{time.monotonic_ns()}")
            r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                "--disable-quic", "--no-first-run",
                                "--disable-background-networking", "--disable-component-update",
                                "--disable-sync", f"--user-data-dir={profile}",
                                "--virtual-time-budget=3000", "--dump-dom",
                                f"http://{self.web[0]}:{self.web[1]}/"],
                               capture_output=True, text=True, timeout=60)
            m = re.search(r'<progress max="(\d+)" value="(\d+)" data-target="big"', r.stdout)
            self.assertIsNotNone(m, r.stdout[-2000:] + r.stderr[-2000:])
            self.assertIn("event, running", r.stdout)
            return int(m.group(1)), int(m.group(2))
        size, first = look()
        self.assertEqual(size, 64 << 20)
        wait_until(lambda: look()[1] > first, timeout=30, what="the bar to advance")


globals().update(per_mode(MetricsOverHttp))


class PreforkLifecycle(FerryTest):
    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(64 << 20))

    def test_respawned_worker_keeps_its_series(self):
        srv = self.serve("prefork", ("--workers", "2"))
        kids = wait_until(lambda: len(children_of(srv.pid)) == 2 and children_of(srv.pid))
        for _ in range(4):
            srv.fetch("hello.txt")
        before = scrape(srv)
        series = before.series(PER_WORKER)
        self.assertEqual(len(series), 2 * len(PER_WORKER))
        self.assertEqual({tuple(k for k, _ in key[1]) for key in series}, {("slot",)})
        # Kill a worker that served some of them (one may have served all).
        busy = [dict(key[1])["slot"] for key, v in before.samples.items()
                if key[0] == "ferry_worker_requests_total" and v > 0]
        pids = {str(w["slot"]): w["pid"] for w in srv.admin_json("workers")["workers"]}
        victim = pids[busy[0]]
        self.assertIn(victim, kids)
        mark = srv.mark()
        os.kill(victim, signal.SIGKILL)
        srv.wait_log(r"worker started: pid (\d+)", start=mark)
        after = wait_until(lambda: (m := scrape(srv)).get("ferry_workers", state="idle") == 2
                           and m, what="the replacement worker idle")
        self.assertEqual(after.series(PER_WORKER), series, "the same label sets, no new series")
        self.assertEqual(after.get("ferry_worker_respawns_total"), 1)
        self.assertEqual(after.get("ferry_worker_crashes_total"), 1)
        self.assertEqual(after.get("ferry_worker_kills_total"), 0)
        self.assertEqual(after.get("ferry_worker_exits_total"), 1)
        # Totals keep what the dead worker did; its slot's counter restarted.
        self.assertEqual(after.total("ferry_connections_total"), 4)
        self.assertLess(sum(v for k, v in after.samples.items()
                            if k[0] == "ferry_worker_requests_total"), 4)

    def test_watchdog_kill_is_a_kill_not_a_crash(self):
        srv = self.serve("prefork", ("--workers", "1", "--stall-timeout", "1"))
        s = srv.stalled()
        try:
            m = wait_until(lambda: (m := scrape(srv)).get("ferry_worker_kills_total") == 1 and m,
                           timeout=20, what="the watchdog's kill counted")
        finally:
            s.close()
        self.assertEqual(m.get("ferry_worker_crashes_total"), 0)
        self.assertEqual(m.get("ferry_worker_exits_total"), 1)


if __name__ == "__main__":
    unittest.main()
