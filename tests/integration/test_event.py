"""Event mode: each worker multiplexes many connections. Thousands of
downloads at once, slow clients that cost no worker, a worker killed with
hundreds of connections, drains, the connection limit, descriptor
exhaustion, the watchdog's two levels, and cold files read ahead off the
loop. Every loop here is bounded in count and time."""

import hashlib
import json
import os
import re
import resource
import select
import selectors
import signal
import socket
import threading
import time
import unittest

from ferrytest import (FerryTest, READY, children_of, on_worker, parse_response, prlimit,
                       recv_exact, request, wait_until)


def assert_ends(test, socks, deadline, t0, what):
    """Each of socks sees its end (EOF or a reset) before deadline (a
    time.monotonic() value); t0: when what should end them began."""
    for s in socks:
        try:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            while s.recv(65536):
                pass
        except (socket.timeout, TimeoutError):
            test.fail(f"{what}: still open {time.monotonic() - t0:.2f} s after the trigger")
        except ConnectionResetError:
            pass


def raise_nofile(n):
    """This test process may hold n descriptors (the hard limit allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n


def http_get(path, keep=False):
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\n"
            f"{'' if keep else 'Connection: close'}\r\n\r\n").encode()


def split_response(data):
    """(status, headers dict, body) of one whole HTTP response in data."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(l.split(": ", 1) for l in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}, body


def read_response(sock):
    """Reads one HTTP response with a Content-Length; returns (status, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed inside a head: {buf!r}")
        buf += chunk
    status, fields, body = split_response(buf)
    body += recv_exact(sock, int(fields["content-length"]) - len(body))
    return status, body


def cpu_seconds(pid):
    """User + system CPU time of pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class EventTest(FerryTest):

    def serve_event(self, *args, listen=None):
        srv = self.serve("event", args, listen=listen or ["http=127.0.0.1:0"])
        srv.http = srv.listeners[0][1:]
        return srv

    def keepalive(self, srv, path="/small"):
        """A connection that made one request and now sits idle."""
        s = socket.create_connection(srv.http, timeout=10)
        s.sendall(http_get(path, keep=True))
        status, _ = read_response(s)
        self.assertEqual(status, 200)
        self.addCleanup(s.close)
        return s

    def assert_eof(self, s, within, what):
        t0 = time.monotonic()
        assert_ends(self, [s], t0 + within, t0, what)

    def workers(self, srv):
        return srv.admin_json("workers")["workers"]


class Concurrency(EventTest):

    def test_two_thousand_downloads_at_once_are_all_right(self):
        """2,000 clients download a 256 KiB file at once through two
        workers: all are held at the same time (the scoreboard shows them),
        every copy has the right SHA-256."""
        n = 2000
        if not raise_nofile(n + 64):
            self.skipTest("the hard descriptor limit is below 2,064")
        data = os.urandom(256 << 10)
        want = hashlib.sha256(data).hexdigest()
        self.put("f", data)
        srv = self.serve_event("--workers", "2", "--io-timeout", "60")
        sel = selectors.DefaultSelector()
        bufs = {}
        try:
            for _ in range(n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # held mid-transfer
                s.connect(srv.http)
                s.sendall(http_get("/f"))
                s.setblocking(False)
                bufs[s] = bytearray()
            st = wait_until(lambda: (lambda c: c if c["open"] >= n * 9 // 10 else None)(
                srv.admin_json("status")["connections"]), timeout=30, what="the downloads held")
            self.assertGreaterEqual(st["sending"], n * 9 // 10)
            per_worker = [w["connections"] for w in self.workers(srv)]
            self.assertEqual(len(per_worker), 2)
            self.assertGreaterEqual(sum(per_worker), n * 9 // 10, per_worker)
            for s in bufs:
                sel.register(s, selectors.EVENT_READ)
            deadline = time.monotonic() + 120
            while sel.get_map() and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    chunk = key.fileobj.recv(1 << 16)
                    if chunk:
                        bufs[key.fileobj] += chunk
                    else:
                        sel.unregister(key.fileobj)
            self.assertFalse(sel.get_map(), "downloads unfinished after 120 s")
        finally:
            sel.close()
            for s in bufs:
                s.close()
        bad = 0
        for buf in bufs.values():
            status, _, body = split_response(bytes(buf))
            bad += status != 200 or hashlib.sha256(body).hexdigest() != want
        self.assertEqual(bad, 0, f"{bad} of {n} downloads wrong")
        self.assertEqual(srv.admin_json("status")["totals"]["outcomes"]["ok"], n)


class SlowClients(EventTest):

    def test_slowloris_and_silent_readers_hold_no_worker(self):
        """One worker; 200 heads trickling a byte every 0.5 s and 30 readers
        that read nothing: a normal client is served at once all along,
        and every attacker is closed by its deadline."""
        self.put("small", os.urandom(4096))
        self.put("big", os.urandom(8 << 20))
        raise_nofile(400)
        srv = self.serve_event("--workers", "1", "--header-timeout", "3", "--io-timeout", "3")
        loris, readers = [], []
        t0 = time.monotonic()
        for _ in range(200):
            s = socket.create_connection(srv.http, timeout=10)
            s.sendall(b"G")
            loris.append(s)
        for _ in range(30):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(srv.http)
            s.sendall(http_get("/big"))
            readers.append(s)
        worst, served = 0.0, 0
        trickled = 0
        while time.monotonic() - t0 < 2.5:  # the attack, with the probe beside it
            for s in loris:
                try:
                    s.sendall(b"E")
                except OSError:
                    pass
            trickled += 1
            for _ in range(5):
                t = time.monotonic()
                c = socket.create_connection(srv.http, timeout=5)
                c.sendall(http_get("/small"))
                status, body = read_response(c)
                c.close()
                self.assertEqual((status, len(body)), (200, 4096))
                worst = max(worst, time.monotonic() - t)
                served += 1
            time.sleep(0.5)  # the attackers' pace, not synchronisation
        self.assertGreater(served, 10)
        # Behind them, it would wait out --header-timeout (3 s).
        self.assertLess(worst, 2.0, "a normal client waited behind the slow ones")
        for s in loris:  # 408, then the close, by the whole-head deadline
            self.assert_eof(s, 6, "a slowloris head")
        # The readers are cut by --io-timeout (the log says so) before their
        # sockets are read: reading one would let its transfer finish.
        wait_until(lambda: srv.log().count('file="/big" status=200') >= 30, timeout=10,
                   what="every silent reader cut")
        big = [l for l in srv.log().splitlines() if 'file="/big"' in l]
        self.assertEqual([l for l in big if 'problem="timed out' not in l], [])
        for s in readers:
            self.assert_eof(s, 10, "a reader that reads nothing")
        self.assertLess(time.monotonic() - t0, 16)
        self.assertGreaterEqual(srv.log().count("status=408"), 200)
        self.assertEqual(len(children_of(srv.pid)), 1)  # the same worker did it all
        for s in loris + readers:
            s.close()


class KillAndDrain(EventTest):

    def test_kill9_of_a_worker_with_500_connections(self):
        """SIGKILL of the worker holding 500 downloads: a new client is
        served whole by the replacement within a second of the kill, before
        the 500 are read; each of them sees a short read of the right
        bytes, never wrong ones."""
        data = os.urandom(1 << 20)
        self.put("f", data)
        raise_nofile(700)
        srv = self.serve_event("--workers", "1", "--io-timeout", "60")
        old = wait_until(lambda: children_of(srv.pid), what="the worker")[0]
        socks = []
        for _ in range(500):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(srv.http)
            s.sendall(http_get("/f"))
            socks.append(s)
        wait_until(lambda: srv.admin_json("status")["connections"]["sending"] == 500,
                   timeout=30, what="500 downloads held")
        want = hashlib.sha256(data).digest()
        # The old worker's end is waited for on its pidfd (readable once it
        # has exited): a connection made before that could still be taken
        # by it, and cut.
        pidfd = os.pidfd_open(old)
        self.addCleanup(os.close, pidfd)
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        self.assertTrue(select.select([pidfd], [], [], 5)[0], "the killed worker lingers")
        # A new client, before the 500 are read: served whole, by the
        # replacement, within a second of the kill.
        c = socket.create_connection(srv.http, timeout=5)
        c.sendall(http_get("/f"))
        status, body = read_response(c)
        served = time.monotonic() - t0
        c.close()
        self.assertEqual((status, hashlib.sha256(body).digest()), (200, want))
        self.assertLess(served, 1.0, f"a new client served {served:.3f} s after the kill")
        new = [p for p in children_of(srv.pid) if p != old]
        self.assertEqual(len(new), 1, "one replacement")
        new = new[0]
        short = 0
        for s in socks:
            s.settimeout(10)
            buf = bytearray()
            try:
                while chunk := s.recv(1 << 16):
                    buf += chunk
            except ConnectionResetError:
                pass
            s.close()
            _, _, body = split_response(bytes(buf))
            self.assertEqual(bytes(body), data[:len(body)], "wrong bytes after the kill")
            short += len(body) < len(data)
        self.assertEqual(short, 500)
        c = socket.create_connection(srv.http, timeout=5)
        c.sendall(http_get("/f"))
        self.assertEqual(read_response(c), (200, data))
        c.close()
        self.assertEqual(children_of(srv.pid), [new])

    def owners(self, srv, socks):
        """The worker pid holding each of socks (by the client's port)."""
        by_peer = {c["peer"]: c["pid"] for c in srv.admin_json("connections")["connections"]}
        return [by_peer[f"127.0.0.1:{s.getsockname()[1]}"] for s in socks]

    def start_transfer(self, srv):
        """A download of /big whose client reads nothing yet (a 4 KiB
        receive window): the transfer stays in progress until read.
        Returns (socket, the first bytes)."""
        t = socket.socket()
        t.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        t.connect(srv.http)
        t.sendall(http_get("/big"))
        t.settimeout(30)
        self.addCleanup(t.close)
        return t, t.recv(4096)

    def drain_setup(self, srv, idle_a, idle_b):
        """Workers A (the lower slot: a rolling restart's first) and B:
        idle_a idle keep-alives and a 16 MiB transfer in progress on A,
        idle_b idle keep-alives on B. Returns (A, B, {pid: keep-alives},
        (transfer socket, its first bytes), the file's bytes)."""
        data = os.urandom(16 << 20)
        self.put("big", data)
        self.put("small", b"s" * 100)
        wait_until(lambda: len(self.workers(srv)) == 2, what="two workers")
        a, b = (w["pid"] for w in sorted(self.workers(srv), key=lambda w: w["slot"]))
        idle = {a: on_worker(srv, a, lambda: self.keepalive(srv), idle_a),
                b: on_worker(srv, b, lambda: self.keepalive(srv), idle_b)}
        t = on_worker(srv, a, lambda: self.start_transfer(srv), 1)[0]
        self.assertEqual(self.owners(srv, [*idle[a], *idle[b], t[0]]),
                         [a] * idle_a + [b] * idle_b + [a])
        wait_until(lambda: srv.admin_json("status")["connections"] ==
                   {"open": idle_a + idle_b + 1, "reading": 0, "waiting": 0,
                    "keepalive": idle_a + idle_b, "sending": 1, "closing": 0},
                   what="the keep-alives idle and the transfer under way")
        return a, b, idle, t, data

    def assert_eof_by(self, socks, deadline, t0, what):
        assert_ends(self, socks, deadline, t0, what)

    def assert_served(self, socks, what):
        """Each of socks, a keep-alive still open, answers a request."""
        for s in socks:
            s.sendall(http_get("/small", keep=True))
            self.assertEqual(read_response(s), (200, b"s" * 100), what)

    def assert_in_progress(self, srv, t, size):
        """The transfer of t is still being sent: not finished, not cut."""
        rows = srv.admin_json("connections", "--peer",
                              f"127.0.0.1:{t[0].getsockname()[1]}")["connections"]
        self.assertEqual([(c["state"], c["size"]) for c in rows], [("sending", size)])
        self.assertLess(rows[0]["sent"], size)

    def finish_transfer(self, t, data):
        """Reads the rest of t at full speed: the whole file, right."""
        s, head = t
        buf = bytearray(head)
        while chunk := s.recv(1 << 20):
            buf += chunk
        status, _, body = split_response(bytes(buf))
        self.assertEqual((status, len(body), hashlib.sha256(body).digest()),
                         (200, len(data), hashlib.sha256(data).digest()))

    # The drains: with --keepalive-timeout 300, an idle keep-alive that
    # closes within DRAIN_AT_ONCE of the trigger was closed by the drain,
    # not by its timeout; the transfer, unread meanwhile, is then checked
    # to be still under way, and read whole afterwards.
    DRAIN_AT_ONCE = 5.0

    def test_sigterm_closes_idle_keepalives_and_finishes_transfers(self):
        """SIGTERM tells every worker at once: every idle keep-alive closes
        at once, A's transfer goes on and finishes whole, ferryd exits 0."""
        srv = self.serve_event("--workers", "2", "--keepalive-timeout", "300")
        a, b, idle, t, data = self.drain_setup(srv, 4, 4)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        self.assert_eof_by(idle[a] + idle[b], t0 + self.DRAIN_AT_ONCE, t0,
                           "an idle keep-alive after SIGTERM")
        self.assert_in_progress(srv, t, len(data))
        self.finish_transfer(t, data)
        self.assertEqual(srv.stop(), 0)

    def test_hup_rolling_restart_drains_each_worker(self):
        """HUP replaces one worker at a time, A first: A's idle keep-alives
        close at once while its transfer goes on, and B's still serve;
        once A has finished and left, B's turn closes B's at once too."""
        srv = self.serve_event("--workers", "2", "--keepalive-timeout", "300")
        a, b, idle, t, data = self.drain_setup(srv, 4, 4)
        a_fd, b_fd = os.pidfd_open(a), os.pidfd_open(b)  # readable once the process exits
        self.addCleanup(os.close, a_fd)
        self.addCleanup(os.close, b_fd)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGHUP)
        self.assert_eof_by(idle[a], t0 + self.DRAIN_AT_ONCE, t0, "an idle keep-alive of A")
        self.assert_served(idle[b], "B is not told before A has left")
        self.assert_in_progress(srv, t, len(data))
        self.assertEqual(select.select([a_fd], [], [], 0)[0], [], "A left before its transfer")
        self.finish_transfer(t, data)
        self.assertTrue(select.select([a_fd], [], [], 10)[0], "A still there after its transfer")
        t1 = time.monotonic()
        self.assert_eof_by(idle[b], t1 + self.DRAIN_AT_ONCE, t1, "an idle keep-alive of B")
        self.assertTrue(select.select([b_fd], [], [], 10)[0], "B still there with nothing to do")
        srv.wait_log(r"rolling restart done: 2 worker\(s\) replaced")
        self.assertEqual(len(children_of(srv.pid)), 2)
        self.assertFalse({a, b} & set(children_of(srv.pid)))
        self.keepalive(srv).close()  # the new workers serve

    def test_resize_down_drains_the_retired_worker(self):
        """resize 2 -> 1 retires the worker holding fewer connections, A
        (4 against B's 6): A's idle keep-alives close at once while its
        transfer goes on; B's are untouched, before and after A leaves."""
        srv = self.serve_event("--workers", "2", "--keepalive-timeout", "300")
        a, b, idle, t, data = self.drain_setup(srv, 3, 6)
        a_fd = os.pidfd_open(a)
        self.addCleanup(os.close, a_fd)
        t0 = time.monotonic()
        r = srv.ctl("resize", "1", "--no-wait")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_eof_by(idle[a], t0 + self.DRAIN_AT_ONCE, t0, "an idle keep-alive of A")
        self.assert_served(idle[b], "a keep-alive of the worker that stays")
        self.assert_in_progress(srv, t, len(data))
        self.finish_transfer(t, data)
        self.assertTrue(select.select([a_fd], [], [], 10)[0], "A still there after its transfer")
        self.assertEqual(children_of(srv.pid), [b])
        self.assert_served(idle[b], "a keep-alive of the worker that stays")


class Limits(EventTest):

    def test_a_full_worker_stops_accepting_until_one_closes(self):
        """--worker-connections 4: a fifth client waits in the backlog (the
        worker reports itself full, the pool at its limit) and is served
        as soon as one of the four closes."""
        self.put("small", b"s" * 100)
        srv = self.serve_event("--workers", "1", "--worker-connections", "4")
        held = [self.keepalive(srv) for _ in range(4)]
        w = wait_until(lambda: (lambda ws: ws[0] if ws[0]["full"] else None)(self.workers(srv)),
                       what="the worker full")
        self.assertEqual(w["connections"], 4)
        fifth = socket.create_connection(srv.http, timeout=10)
        fifth.sendall(http_get("/small"))
        wait_until(lambda: srv.admin_json("status")["saturation"]["listen_queue"] == 1,
                   what="the fifth client in the backlog")
        wait_until(lambda: srv.admin_json("status")["saturation"]["at_limit_count"] >= 1,
                   what="the pool at its limit")  # sampled once a second
        self.assertEqual(srv.admin_json("status")["limits"]["worker_connections"], 4)
        held[0].close()
        self.assertEqual(read_response(fifth), (200, b"s" * 100))
        fifth.close()
        srv.wait_log(r"every worker holds 4 connections \(--worker-connections\): new ones wait")

    def test_descriptor_exhaustion_pauses_without_spinning(self):
        """The worker limited to 64 descriptors and 100 clients: it pauses
        accepting (one line), burns no CPU meanwhile, and serves again once
        descriptors are free."""
        self.put("small", b"s" * 100)
        srv = self.serve_event("--workers", "1")
        worker = wait_until(lambda: children_of(srv.pid), what="the worker")[0]
        mark = srv.mark()
        prlimit(worker, resource.RLIMIT_NOFILE, (64, 64))
        idle = [self.keepalive(srv) for _ in range(40)]
        more = []
        for _ in range(60):  # kept alive: each holds a descriptor once accepted
            s = socket.create_connection(srv.http, timeout=10)
            s.sendall(http_get("/small", keep=True))
            more.append(s)
        srv.wait_log(r"accept: Too many open files: accepting paused", start=mark)
        cpu0, t0 = cpu_seconds(worker), time.monotonic()
        time.sleep(1.0)  # a second of the pause, measured: not synchronisation
        used = cpu_seconds(worker) - cpu0
        self.assertLess(used, 0.2 * (time.monotonic() - t0), "the paused worker spins")
        paused = [l for l in srv.log().splitlines()[mark:] if "accepting paused" in l]
        self.assertEqual(len(paused), 1, paused)
        for s in idle:
            s.close()
        # Every client is answered; one accepted on the last descriptor
        # finds none left for the file: a clear 500, never silence.
        statuses = [read_response(s)[0] for s in more]
        for s in more:
            s.close()
        self.assertLessEqual(set(statuses), {200, 500})
        self.assertGreaterEqual(statuses.count(200), 55, statuses)
        srv.wait_log(r"accepting again after", start=mark)


class Watchdog(EventTest):

    def test_a_stuck_connection_is_closed_not_its_worker(self):
        self.put("big", bytes(64 << 20))
        self.put("small", b"s" * 100)
        srv = self.serve_event("--workers", "1", "--stall-timeout", "1", "--io-timeout", "60")
        worker = wait_until(lambda: children_of(srv.pid), what="the worker")[0]
        idle = self.keepalive(srv)
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(srv.http)
        stuck.sendall(http_get("/big"))
        stuck.recv(4096)
        line = srv.wait_log(r'connection stuck: pid \d+ slot 0 peer 127\.0\.0\.1:\d+ sending '
                            r'"/big" \(\d+ of 67108864 bytes sent\), no progress for \d+\.\d s '
                            r'\(connection \d+\.\d s old\): closing it')
        self.assertIn(f"pid {worker} ", line)
        srv.wait_log(r'file="/big" status=200 .*problem="stuck: closed by the watchdog"')
        self.assert_eof(stuck, 5, "the stuck connection")
        stuck.close()
        idle.sendall(http_get("/small", keep=True))  # its neighbour goes on
        self.assertEqual(read_response(idle), (200, b"s" * 100))
        self.assertEqual(children_of(srv.pid), [worker])
        totals = srv.admin_json("status")["totals"]
        self.assertEqual((totals["kills"], totals["crashes"]), (0, 0))

    def test_a_worker_whose_loop_stops_turning_is_replaced(self):
        srv = self.serve_event("--workers", "1", "--stall-timeout", "1")
        worker = wait_until(lambda: children_of(srv.pid), what="the worker")[0]
        os.kill(worker, signal.SIGSTOP)  # a loop stuck in a call, as far as anyone can see
        srv.wait_log(rf"worker stuck: pid {worker} slot 0: its loop made no turn for \d+\.\d s: "
                     r"killing it", timeout=10)
        wait_until(lambda: [p for p in children_of(srv.pid) if p != worker],
                   what="a replacement")
        self.assertEqual(srv.admin_json("status")["totals"]["kills"], 1)


class Signals(EventTest):

    def test_sigwinch_is_ignored_where_it_means_nothing(self):
        """SIGWINCH (a terminal's resize reaches the whole process group)
        asks an event worker to look for connections to cut; any other
        serving process ignores it: no spinning, still serving."""
        self.put("small", b"s" * 100)
        for mode in ("iterative", "prefork", "event"):
            with self.subTest(mode=mode):
                srv = self.serve(mode, ("--workers", "1"), listen=["http=127.0.0.1:0"])
                srv.http = srv.listeners[0][1:]
                self.keepalive(srv).close()
                server = srv.pid if mode == "iterative" else children_of(srv.pid)[0]
                os.kill(server, signal.SIGWINCH)
                cpu0, t0 = cpu_seconds(server), time.monotonic()
                time.sleep(0.5)  # half a second of the aftermath, measured
                self.assertLess(cpu_seconds(server) - cpu0, 0.1 * (time.monotonic() - t0) + 0.02)
                self.keepalive(srv).close()
                srv.stop()

    def test_a_rolling_restart_is_bounded_by_the_shutdown_timeout(self):
        """HUP while a transfer never ends: the old worker is killed after
        --shutdown-timeout and the restart completes."""
        self.put("big", bytes(64 << 20))
        srv = self.serve_event("--workers", "1", "--shutdown-timeout", "1", "--min-rate", "0")
        old = wait_until(lambda: children_of(srv.pid), what="the worker")[0]
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(srv.http)
        stuck.sendall(http_get("/big"))
        stuck.recv(4096)
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(rf"rolling restart: pid {old} still busy after the shutdown timeout of 1 s: "
                     r"killing it")
        srv.wait_log(r"rolling restart done: 1 worker\(s\) replaced")
        self.assertNotIn(old, children_of(srv.pid))
        self.assertEqual(srv.admin_json("status")["totals"]["kills"], 1)
        stuck.close()


class ColdFiles(EventTest):

    def evict(self, path):
        with open(path, "rb") as f:  # written back, then dropped from the page cache
            os.fsync(f.fileno())
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)

    def test_a_small_cold_file_is_read_off_the_loop_too(self):
        """A body small enough to travel with its head is read with the
        probe itself; not cached, it is read by the thread pool first."""
        data = os.urandom(3000)
        self.evict(self.put("small-cold", data))
        srv = self.serve_event("--workers", "1")
        c = socket.create_connection(srv.http, timeout=30)
        c.sendall(http_get("/small-cold", keep=True))
        self.assertEqual(read_response(c), (200, data))
        waits = srv.admin_json("status")["totals"]["disk_waits"]
        if waits == 0:
            self.skipTest("the file stayed cached (this filesystem ignores DONTNEED)")
        c.sendall(http_get("/small-cold", keep=True))  # cached now: no wait
        self.assertEqual(read_response(c), (200, data))
        c.close()
        self.assertEqual(srv.admin_json("status")["totals"]["disk_waits"], waits)

    def test_a_file_not_in_the_page_cache_is_read_ahead_off_the_loop(self):
        data = os.urandom(8 << 20)
        path = self.put("cold", data)
        self.evict(path)
        srv = self.serve_event("--workers", "1")
        c = socket.create_connection(srv.http, timeout=30)
        c.sendall(http_get("/cold"))
        status, body = read_response(c)
        c.close()
        self.assertEqual((status, hashlib.sha256(body).digest()),
                         (200, hashlib.sha256(data).digest()))
        waits = srv.admin_json("status")["totals"]["disk_waits"]
        if waits == 0:
            self.skipTest("the file stayed cached (this filesystem ignores DONTNEED)")
        self.assertGreaterEqual(waits, 1)
        c = socket.create_connection(srv.http, timeout=30)  # now cached: no wait
        c.sendall(http_get("/cold"))
        self.assertEqual(read_response(c)[1], data)
        c.close()
        self.assertEqual(srv.admin_json("status")["totals"]["disk_waits"], waits)


if __name__ == "__main__":
    unittest.main()
