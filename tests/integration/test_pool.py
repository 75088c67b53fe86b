"""The process pool: concurrency in every mode, the fork-mode limit,
worker replacement and back-off, graceful and forced shutdown, and the
master's start-up errors."""

import hashlib
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time
import unittest

from ferrytest import (FERRYCTL, FERRYD, READY, FerryTest, Inotify, children_of, ferry, prlimit,
                       parse_response, per_mode, recv_exact, request, sha256_file,
                       signal_pending, wait_until)


class Parallel:
    MODE = None

    def test_parallel_downloads_verified(self):
        sums = {}
        for i in range(24):
            data = os.urandom(4096 + i * 97_000)
            self.put(f"f{i:02d}", data)
            sums[f"f{i:02d}"] = hashlib.sha256(data).hexdigest()
        srv = self.serve(self.MODE, ("--workers", "4"))
        out = os.path.join(self.tmp, "out")
        os.mkdir(out)
        procs = [subprocess.Popen([os.path.join(os.path.dirname(FERRYD), "ferry"), "get", "-q",
                                   "127.0.0.1", str(srv.port), name, "10M"], cwd=out)
                 for name in sums]
        self.assertEqual([p.wait(timeout=120) for p in procs], [0] * len(procs))
        for name, digest in sums.items():
            self.assertEqual(sha256_file(os.path.join(out, name)), digest, name)
        self.assertEqual(srv.stop(), 0)
        # Every connection is in the totals, folded from reaped children too.
        self.assertRegex(srv.log(), r"stopped.*: 24 connections, 24 requests")

    def test_sigterm_lets_a_transfer_finish(self):
        data = os.urandom(48 << 20)
        self.put("big", data)
        srv = self.serve(self.MODE, ("--workers", "2"))
        s, (_, _, status, size) = srv.ask("big")
        s.sendall(READY)
        head = recv_exact(s, 1 << 20)
        kids = children_of(srv.pid)
        mark = srv.mark()
        srv.proc.send_signal(signal.SIGTERM)
        if self.MODE != "iterative":
            srv.wait_log(r"SIGTERM: stopping gracefully", start=mark)
        rest = recv_exact(s, size)  # everything, then EOF
        self.assertEqual(hashlib.sha256(head + rest).digest(), hashlib.sha256(data).digest())
        self.assertEqual(srv.stop(), 0)
        for kid in kids:
            self.assertFalse(os.path.exists(f"/proc/{kid}/stat") and kid in children_of(srv.pid))
        self.assertEqual(children_of(srv.pid), [])

    def test_shutdown_timeout_kills(self):
        self.put("big", bytes(64 << 20))
        srv = self.serve(self.MODE, ("--workers", "1", "--shutdown-timeout", "1"))
        s = srv.stalled()
        t0 = time.monotonic()
        self.assertEqual(srv.stop(), 1)
        self.assertLess(time.monotonic() - t0, 10)
        pattern = "cut by shutdown" if self.MODE == "iterative" else "shutdown timeout of 1 s passed"
        self.assertIn(pattern, srv.log())
        if self.MODE != "iterative":  # the master's SIGKILL is a kill, not a crash
            self.assertRegex(srv.log(), r"stopped \(.*\): .* 0 crashes, 1 kills")
        s.close()

    def test_zero_shutdown_timeout_stops_at_once(self):
        self.put("big", bytes(64 << 20))
        srv = self.serve(self.MODE, ("--workers", "1", "--shutdown-timeout", "0"))
        s = srv.stalled()
        t0 = time.monotonic()
        self.assertEqual(srv.stop(), 1)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(children_of(srv.pid), [])
        if self.MODE != "iterative":
            self.assertRegex(srv.log(), r"stopped \(.*\): .* 0 crashes, 1 kills")
        s.close()

    def test_stopping_under_load_loses_no_accepted_client(self):
        # A stop racing new children (fork) or fresh workers: a child gets
        # the SIGTERM before its handlers exist only blocked, so none dies of
        # it, every connection accepted is answered, and none is a crash.
        self.put("4K", os.urandom(4096))
        # Fork mode forks a child per connection: several rounds give the
        # stop many chances to land between a fork and the child's handlers.
        for _ in range(6 if self.MODE == "fork" else 1):
            srv = self.serve(self.MODE, ("--workers", "8"))
            bench = subprocess.Popen([os.path.join(os.path.dirname(FERRYD), "ferry-bench"),
                                      "-c", "16", "-d", "20", "127.0.0.1", str(srv.port), "4K"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self.addCleanup(bench.kill)
            wait_until(lambda: srv.admin_json("status")["totals"]["requests"] > 1000,
                       what="load", timeout=30)
            self.assertEqual(srv.stop(), 0)
            bench.kill()
            bench.wait(timeout=10)
            bench.stdout.close()
            self.assertNotIn("killed by signal 15", srv.log())
            m = re.search(r"stopped: (\d+) connections, (\d+) requests, .* (\d+) crashes",
                          srv.log())
            self.assertIsNotNone(m, srv.log())
            self.assertEqual(m.group(3), "0")
            self.assertEqual(m.group(1), m.group(2))  # every accepted connection answered

    def test_second_signal_stops_now(self):
        self.put("big", bytes(64 << 20))
        srv = self.serve(self.MODE, ("--workers", "1", "--shutdown-timeout", "60"))
        s = srv.stalled()
        mark = srv.mark()
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGINT)
        if self.MODE != "iterative":
            srv.wait_log(r"SIGINT: stopping gracefully", start=mark)
        else:  # no log line: wait until the first signal was delivered
            wait_until(lambda: not signal_pending(srv.pid, signal.SIGINT), what="delivery")
        srv.proc.send_signal(signal.SIGINT)
        self.assertEqual(srv.stop(), 1)
        self.assertLess(time.monotonic() - t0, 10)
        if self.MODE != "iterative":  # stopped now: the child was killed, not crashed
            self.assertRegex(srv.log(), r"stopped \(.*\): .* 0 crashes, 1 kills")
        s.close()


def lowest_free_fd(pid):
    """The descriptor number pid's next open() would get: a limit of it
    leaves no room for one more."""
    used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
    return min(set(range(len(used) + 1)) - used)


class Stopping:
    """Stops wait only for transfers in flight: a connection still sending
    its request is cut at once, and new clients are refused at once."""
    MODE = None

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(64 << 20))

    def half_sent(self, srv, n=1):
        """n connections that sent 2 of a request's bytes, each accepted by
        a serving process (their state is "reading")."""
        conns = []
        for _ in range(n):
            c = srv.connect()
            c.sendall(b"\x01\x01")
            conns.append(c)
        wait_until(lambda: sum(w["state"] == "reading"
                               for w in srv.admin_json("workers")["workers"]) == n,
                   what=f"{n} request(s) being read")
        return conns

    def test_sigterm_with_an_idle_and_a_half_sent_request(self):
        srv = self.serve(self.MODE, ("--workers", "2", "--request-timeout", "60",
                                     "--shutdown-timeout", "30"))
        idle = srv.connect()  # says nothing: waits in the kernel (deferred accept)
        half, = self.half_sent(srv)
        t0 = time.monotonic()
        self.assertEqual(srv.stop(timeout=20), 0)
        self.assertLess(time.monotonic() - t0, 3.0, "the stop waited for a request")
        # The idle connection never reached a process (deferred accept): the
        # kernel dropped it with the listener, and says so once it speaks.
        idle.sendall(b"\x01")
        for c in (idle, half):
            c.settimeout(5)
            try:
                self.assertEqual(c.recv(10), b"")  # closed, nothing sent
            except ConnectionResetError:
                pass
        self.assertRegex(srv.log(), r'problem="cut by stop before the request was complete" '
                                    r'during=request')
        self.assertNotIn("killing", srv.log())

    def test_new_clients_are_refused_during_a_graceful_stop(self):
        srv = self.serve(self.MODE, ("--workers", "1", "--shutdown-timeout", "60"))
        transfer = srv.stalled(small_window=False)  # in flight: the stop waits for it
        mark = srv.mark()
        srv.proc.send_signal(signal.SIGTERM)
        if self.MODE != "iterative":
            srv.wait_log(r"SIGTERM: stopping gracefully", start=mark)
        else:  # no log line: wait until the signal was handled
            wait_until(lambda: not signal_pending(srv.pid, signal.SIGTERM), what="delivery")
        t0 = time.monotonic()
        with self.assertRaises(ConnectionRefusedError):
            srv.connect(timeout=5)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertIsNone(srv.proc.poll())  # still finishing the transfer
        st = srv.admin_json("status")
        self.assertEqual((st["state"], st["listeners"]), ("stopping", []))
        r = srv.ctl("shutdown", "--timeout", "5")  # a second one changes nothing
        self.assertEqual(r.stdout, "already stopping: transfers in flight may finish within "
                                   "60s (the timeout in force)\n")
        self.assertEqual(len(recv_exact(transfer, 64 << 20)), (64 << 20) - 4096)
        self.assertEqual(srv.stop(), 0)

    def test_accepting_pauses_at_the_descriptor_limit_and_recovers(self):
        srv = self.serve(self.MODE, ("--workers", "1"))
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        # The process that accepts: the worker, or the master in fork mode.
        workers_accept = self.MODE in ("prefork", "event")
        acceptor = children_of(srv.pid)[0] if workers_accept else srv.pid
        # Only a prefork worker needs looking at: in iterative mode the
        # acceptor is idle once the fetch returned, and the admin socket's
        # own connection would free a descriptor under the limit set below.
        wait_until(lambda: not workers_accept or
                   all(w["state"] == "idle" for w in srv.admin_json("workers")["workers"]),
                   what="the worker idle")
        soft, hard = prlimit(acceptor, resource.RLIMIT_NOFILE)
        mark = srv.mark()
        prlimit(acceptor, resource.RLIMIT_NOFILE, (lowest_free_fd(acceptor), hard))
        waiting = srv.connect()
        waiting.sendall(request("hello.txt"))
        srv.wait_log(r"accept: Too many open files: accepting paused, retrying every 100 ms",
                     start=mark)
        # Let several retries (every 100 ms) fail while the limit holds: the
        # log must stay at one line. A pause for the load, not a sync.
        time.sleep(0.5)
        prlimit(acceptor, resource.RLIMIT_NOFILE, (soft, hard))
        (_, _, status, size) = parse_response(recv_exact(waiting, 11))
        self.assertEqual((status, size), (0, 6))  # served once descriptors are free
        paused = [l for l in srv.log().splitlines()[mark:] if "accepting paused" in l]
        self.assertEqual(len(paused), 1, paused)
        line = srv.wait_log(r"accepting again after \d+\.\d s paused \((\d+) failed",
                            start=mark)
        self.assertGreater(int(re.search(r"\((\d+) failed", line).group(1)), 1)
        waiting.close()
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")


class Pool(FerryTest):

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(32 << 20))

    def hold(self, srv):
        """A connection answered OK whose client never says READY: it keeps
        its server busy until released with READY."""
        s, (_, _, status, _) = srv.ask("hello.txt")
        self.assertEqual(status, 0)
        return s

    def half_sent(self, srv, n):
        return Stopping_prefork.half_sent(self, srv, n)

    def test_resize_down_does_not_wait_for_half_sent_requests(self):
        srv = self.serve("prefork", ("--workers", "2", "--request-timeout", "60"))
        idle = srv.connect()  # says nothing: stays in the kernel (deferred accept)
        self.addCleanup(idle.close)
        self.half_sent(srv, 2)  # both workers busy reading: one must go anyway
        t0 = time.monotonic()
        r = srv.admin_json("resize", "-1")
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertEqual((r["to"], r["retired"], r["killed"]), (1, 1, 0))
        self.assertLess(r["time_s"], 3.0)

    def test_drain_timeout_kills_are_kills(self):
        srv = self.serve("prefork", ("--workers", "2"))
        stalled = [srv.stalled(), srv.stalled()]  # both workers in transfers
        r = srv.admin_json("resize", "1", "--drain-timeout", "0")
        self.assertEqual((r["retired"], r["killed"]), (0, 1))
        totals = srv.admin_json("status")["totals"]
        self.assertEqual((totals["crashes"], totals["kills"]), (0, 1))
        for s in stalled:
            s.close()

    def test_admin_socket_at_the_descriptor_limit(self):
        # The master out of descriptors cannot take an admin connection: it
        # says so (once), the client waits in the backlog instead of being
        # dropped unseen, and is answered once descriptors free up.
        srv = self.serve("prefork", ("--workers", "1"))
        self.assertEqual(srv.ctl("ping").returncode, 0)
        # The master closes the ping's connection after answering: only
        # then is its descriptor free (else it would free one under the
        # limit set below). /proc/net/unix lists the master's end as a
        # connected socket (state 03) on the admin path until then.
        def admin_connected():
            with open("/proc/net/unix") as f:
                return any(l.split()[5] == "03" and l.rstrip().endswith(srv.admin)
                           for l in f.readlines()[1:] if len(l.split()) >= 8)
        wait_until(lambda: not admin_connected(), what="the ping's connection closed")
        soft, hard = prlimit(srv.pid, resource.RLIMIT_NOFILE)
        mark = srv.mark()
        prlimit(srv.pid, resource.RLIMIT_NOFILE, (lowest_free_fd(srv.pid), hard))
        ctl = [subprocess.Popen([FERRYCTL, "-s", srv.admin, "ping"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE) for _ in range(3)]
        srv.wait_log(r"admin: cannot accept a connection: Too many open files: retrying every "
                     r"100 ms", start=mark)
        self.assertEqual([p.poll() for p in ctl], [None] * 3)  # waiting, not dropped
        prlimit(srv.pid, resource.RLIMIT_NOFILE, (soft, hard))
        for p in ctl:
            out, err = p.communicate(timeout=20)
            self.assertEqual((p.returncode, out), (0, b"pong\n"), err)
        lines = [l for l in srv.log().splitlines()[mark:] if "cannot accept" in l]
        self.assertEqual(len(lines), 1, lines)

    def test_iterative_reopens_the_log_once(self):
        # One process: the admin thread's reopen (dup2 onto stderr) serves
        # the serving thread too; it used to signal it to reopen again.
        log, sock = os.path.join(self.tmp, "ferryd.log"), os.path.join(self.tmp, "i.sock")
        proc = subprocess.Popen([FERRYD, "--mode", "iterative", "--log-file", log,
                                 "--admin-socket", sock, "127.0.0.1", "0", self.root])
        self.addCleanup(proc.kill)
        def port():
            with open(log) as f:
                m = re.search(r"listening on native=127\.0\.0\.1:(\d+)", f.read())
            return m and os.path.exists(sock) and int(m.group(1))
        p = wait_until(lambda: os.path.exists(log) and port(), what="ferryd up")
        fetch = lambda: ferry("get", "-o", "-", "127.0.0.1", p, "hello.txt", "1K").stdout
        watch = Inotify(log)
        self.addCleanup(watch.close)
        r = subprocess.run([FERRYCTL, "-s", sock, "reopen-logs"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, "log file reopened\n"), r.stderr)
        self.assertEqual(fetch(), b"hello\n")  # through the serving loop, where it reopened
        self.assertEqual(watch.opens(), 1)
        proc.send_signal(signal.SIGUSR1)  # from outside: the serving thread reopens
        wait_until(lambda: not signal_pending(proc.pid, signal.SIGUSR1), what="delivery")
        self.assertEqual(fetch(), b"hello\n")
        self.assertEqual(watch.opens(), 2)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0)

    def test_journal_lines_have_a_priority_and_no_timestamp(self):
        # Under systemd, stderr is the journal's stream and $JOURNAL_STREAM
        # names it (device:inode): the journal stamps lines itself.
        r, w = os.pipe()
        st = os.fstat(w)
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        proc = subprocess.Popen([FERRYD, "--mode", "iterative", "--log-level", "debug",
                                 "--admin-socket", os.path.join(self.tmp, "j.sock"),
                                 "127.0.0.1", "0", self.root], stderr=w, env=env)
        os.close(w)
        with os.fdopen(r) as log:
            first = log.readline()
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            lines = [first] + log.readlines()
        self.assertRegex(lines[0], rf"^<6>\[{proc.pid}\] info: ferryd .* starting")
        for line in lines:
            self.assertRegex(line, r"^<[3467]>\[\d+\] (error|warn|info|debug): ")
        # A stream that is not the journal's keeps its timestamps.
        srv = self.serve("iterative", env=dict(os.environ, JOURNAL_STREAM="1:2"))
        self.assertRegex(srv.log(), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] info: ")

    def test_options_anywhere_and_bracketed_addresses(self):
        srv = self.serve("prefork", ("--workers", "1"), address="[::1]")
        self.assertEqual(srv.host, "::1")
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        # ADDRESS:PORT DIRECTORY, options after the operands, durations.
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
        proc = subprocess.Popen([FERRYD, f"[::1]:{port}", self.root, "--mode", "iterative",
                                 "--request-timeout", "5s", "--admin-socket",
                                 os.path.join(self.tmp, "b.sock")],
                                stderr=subprocess.PIPE, text=True)
        try:
            for line in proc.stderr:
                if "admin socket" in line:
                    break
            r = ferry("get", "-o", "-", f"[::1]:{port}", "hello.txt", "1K")
            self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), r.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            proc.stderr.close()

    def test_fork_never_exceeds_its_limit(self):
        srv = self.serve("fork", ("--workers", "2"))
        held = [self.hold(srv), self.hold(srv)]
        self.assertEqual(len(wait_until(lambda: children_of(srv.pid), what="2 children")), 2)
        # A third client is accepted by the kernel but not served...
        third = srv.connect()
        third.sendall(b"\x01\x01\x00\x09hello.txt")
        third.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            third.recv(11)
        self.assertEqual(len(children_of(srv.pid)), 2)
        # ...until a slot frees.
        held[0].sendall(READY)
        self.assertEqual(recv_exact(held[0], 100), b"hello\n")
        third.settimeout(10)
        self.assertEqual(recv_exact(third, 11)[2], 0)
        self.assertLessEqual(len(children_of(srv.pid)), 2)
        for s in (held[1], third):
            s.sendall(READY)
            self.assertEqual(recv_exact(s, 100), b"hello\n")

    def test_iterative_serves_one_at_a_time(self):
        srv = self.serve("iterative")
        first = self.hold(srv)
        second = srv.connect()
        second.sendall(b"\x01\x01\x00\x09hello.txt")
        second.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            second.recv(11)
        self.assertEqual(children_of(srv.pid), [], "no children in iterative mode")
        first.sendall(READY)
        self.assertEqual(recv_exact(first, 100), b"hello\n")
        second.settimeout(10)
        self.assertEqual(recv_exact(second, 11)[2], 0)

    def test_fork_children_die_with_the_master(self):
        srv = self.serve("fork", ("--workers", "4"))
        held = self.hold(srv)
        kids = wait_until(lambda: children_of(srv.pid))
        srv.kill()
        wait_until(lambda: not any(os.path.exists(f"/proc/{k}") and
                                   open(f"/proc/{k}/stat").read().split(") ")[1][0] != "Z"
                                   for k in kids), what="orphaned children to die")
        held.close()

    def test_port_in_use(self):
        srv = self.serve("prefork", ("--workers", "1"))
        r = subprocess.run([FERRYD, "127.0.0.1", str(srv.port), self.root], capture_output=True,
                           timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode().strip(),
                         f"ferryd: cannot listen on native=127.0.0.1:{srv.port}: address already in use")

    def test_startup_errors(self):
        cases = [(["--workers", "100", "--max-children", "8", "127.0.0.1", "0", self.root], 2,
                  "--workers 100 exceeds --max-children 8"),
                 (["--mode", "threads", "127.0.0.1", "0", self.root], 2, "unknown mode 'threads'"),
                 (["--io-timeout", "0", "127.0.0.1", "0", self.root], 2, "out of range"),
                 (["--request-timeout", "5x", "127.0.0.1", "0", self.root], 2,
                  "--request-timeout: not a whole number of seconds: '5x'"),
                 (["--request-timeout", "1500ms", "127.0.0.1", "0", self.root], 2,
                  "not a whole number of seconds"),
                 (["[::1", "0", self.root], 2, "'[::1' is not an address"),
                 (["[::1]:0", "0", self.root], 2, "carries a port already"),
                 (["--frobnicate", "127.0.0.1", "0", self.root], 2,
                  "unknown or incomplete option '--frobnicate'"),
                 (["127.0.0.1", "70000", self.root], 2, "PORT must be 0..65535"),
                 (["127.0.0.1", "0"], 2, "expected ADDRESS PORT DIRECTORY: the DIRECTORY is "
                  "missing"),
                 (["::1:4242", self.root], 2, "takes brackets: [::1]:PORT"),
                 (["127.0.0.1", "0", "/nonexistent"], 1, "cannot serve directory"),
                 (["no-such-host.invalid", "0", self.root], 1, "cannot resolve")]
        for args, code, message in cases:
            with self.subTest(args=args):
                r = subprocess.run([FERRYD, *args], capture_output=True, timeout=10)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(message, r.stderr.decode())
        for help_arg in ("--help", "-h"):
            r = subprocess.run([FERRYD, "127.0.0.1", help_arg], capture_output=True, timeout=10)
            self.assertEqual((r.returncode, r.stderr), (0, b""))
            for option in ("--mode", "--workers", "--max-children", "--chunk-size", "--io-timeout",
                           "--request-timeout", "--shutdown-timeout", "--log-level"):
                self.assertIn(option, r.stdout.decode())
        for version_arg in ("--version", "-V"):
            r = subprocess.run([FERRYD, version_arg], capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout.decode(), r"^ferryd \d+\.\d+\.\d+")

    def test_host_name_listens_on_every_address(self):
        # Whatever localhost resolves to here (127.0.0.1, maybe ::1), ferryd
        # listens on all of it, on one port.
        hosts = {ai[4][0] for ai in socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)}
        srv = self.serve("prefork", ("--workers", "1"), address="localhost")
        for host in hosts:
            shown = f"[{host}]" if ":" in host else host
            srv.wait_log(rf"listening on native={re.escape(shown)}:{srv.port}")
        for host in hosts:
            r = ferry("get", "-o", "-", host, srv.port, "hello.txt", "1K")
            self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), host)

    def test_debug_log_shows_headers(self):
        srv = self.serve("prefork", ("--workers", "1", "--log-level", "debug"))
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        srv.wait_log(r"<- FILE_REQUEST version=1 type=0x01 name_len=9")
        srv.wait_log(r"-> FILE_RESPONSE version=1 type=0x02 status=OK\(0\) size=6")
        srv.wait_log(r"<- READY \(0x03\)")


class PoolWorkers:
    """What a pool of workers does in both pool modes (MODE): a restart
    that does not wait for a half-sent request, titles, replacement of a
    killed worker and its back-off, children dying with the master."""
    MODE = None

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")

    def half_sent(self, srv, n):
        return Stopping_prefork.half_sent(self, srv, n)

    def test_hup_does_not_wait_for_a_half_sent_request(self):
        srv = self.serve(self.MODE, ("--workers", "2", "--request-timeout", "60"))
        idle = srv.connect()  # says nothing: stays in the kernel (deferred accept)
        self.addCleanup(idle.close)
        half = self.half_sent(srv, 1)
        old = set(children_of(srv.pid))
        mark = srv.mark()
        srv.proc.send_signal(signal.SIGHUP)
        line = srv.wait_log(r"rolling restart done: 2 worker\(s\) replaced in (\d+\.\d+) s",
                            start=mark, timeout=20)
        self.assertLess(float(re.search(r"in (\d+\.\d+) s", line).group(1)), 3.0)
        self.assertFalse(old & set(children_of(srv.pid)))
        half[0].settimeout(5)
        self.assertIn(half[0].recv(10), (b"",))
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")

    def test_process_titles(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        def title(pid):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")[0].decode()
            with open(f"/proc/{pid}/comm") as f:
                return cmdline, f.read().strip()
        self.assertEqual(title(srv.pid),
                         (f"ferryd: master 127.0.0.1:{srv.port} {self.root}", "ferryd: master"))
        kids = wait_until(lambda: len(children_of(srv.pid)) == 2 and children_of(srv.pid))
        # The scoreboard and /proc agree once both workers have started
        # (on a loaded machine a worker may still be starting).
        slots = wait_until(lambda: (s := {w["pid"]: w["slot"] for w in srv.admin_json(
            "workers")["workers"]}) and set(s) == set(kids) and s, what="both workers listed")
        for kid in kids:
            self.assertEqual(title(kid), (f"ferryd: worker {slots[kid]}", "ferryd: worker"))
        # The title took the argument area: what was parsed from it survived.
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        self.assertEqual(srv.admin_json("status")["mode"], self.MODE)

    def test_replaces_a_killed_worker(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        kids = wait_until(lambda: len(children_of(srv.pid)) == 2 and children_of(srv.pid))
        for kid in kids:  # in /proc before the master logged the fork
            srv.wait_log(rf"worker started: pid {kid} ")
        mark = srv.mark()
        os.kill(kids[0], signal.SIGKILL)
        srv.wait_log(rf"worker exited: pid {kids[0]} slot \d+ killed by signal 9", start=mark)
        line = srv.wait_log(r"worker started: pid (\d+)", start=mark, timeout=2)
        new = int(re.search(r"pid (\d+)", line).group(1))
        self.assertNotIn(new, kids)
        self.assertEqual(sorted(children_of(srv.pid)), sorted([kids[1], new]))
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        self.assertEqual(srv.stop(), 0)
        self.assertIn("1 crashes", srv.log())

    def test_backs_off_when_workers_keep_dying(self):
        srv = self.serve(self.MODE, ("--workers", "1"))
        mark = 0
        for attempt in range(3):
            line = srv.wait_log(r"worker started: pid (\d+)", start=mark)
            mark = srv.lines.index(line) + 1
            os.kill(int(re.search(r"pid (\d+)", line).group(1)), signal.SIGKILL)
        srv.wait_log(r"died \d+ ms after start \(3 in a row\): next start in 400 ms", start=0)
        self.assertIn("(1 in a row): next start in 100 ms", srv.log())
        self.assertIn("(2 in a row): next start in 200 ms", srv.log())
        srv.wait_log(r"worker started", start=mark)  # it does come back
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")

    def test_children_die_with_the_master(self):
        srv = self.serve(self.MODE, ("--workers", "3"))
        kids = wait_until(lambda: len(children_of(srv.pid)) == 3 and children_of(srv.pid))
        srv.kill()  # SIGKILL: no chance to clean up
        wait_until(lambda: not any(os.path.exists(f"/proc/{k}") and
                                   open(f"/proc/{k}/stat").read().split(") ")[1][0] != "Z"
                                   for k in kids), what="orphaned workers to die")


class MaxRequests:
    """--max-requests: a worker at its limit asks to be replaced and serves on
    until its replacement runs, so that even a pool of one never stops
    accepting."""
    MODE = None
    REACHED = r"worker pid (\d+) slot \d+ reached its limit of (\d+) connections"
    SERVED = r"worker pid (\d+) slot \d+ served (\d+) connections: replaced \(--max-requests\)"

    def replacements(self, srv):
        """{pid: (limit, served)} of the workers replaced so far."""
        log = srv.log()
        limits = {int(p): int(n) for p, n in re.findall(self.REACHED, log)}
        return {int(p): (limits.get(int(p)), int(n)) for p, n in re.findall(self.SERVED, log)}

    def wait_replaced(self, srv, n):
        return wait_until(lambda: len(self.replacements(srv)) >= n and self.replacements(srv),
                          what=f"{n} replacements")

    def test_replaced_after_n_connections_without_a_gap(self):
        data = os.urandom(100_000)
        self.put("f", data)
        srv = self.serve(self.MODE, ("--workers", "1", "--max-requests", "5"))
        # A worker at its limit serves on until its replacement runs, so
        # how many connections three replacements take is not fixed (CI
        # saw 8 and 9 per worker): fetch until they happened, bounded.
        fetched, deadline = 0, time.monotonic() + 30
        while len(self.replacements(srv)) < 3:
            self.assertLess(fetched, 300, "3 replacements within 300 connections")
            self.assertLess(time.monotonic(), deadline, "3 replacements within 30 s")
            # raises on a refused or reset connection
            self.assertEqual(hashlib.sha256(srv.fetch("f")).digest(),
                             hashlib.sha256(data).digest())
            fetched += 1
        done = self.replacements(srv)
        for pid, (limit, served) in done.items():
            self.assertEqual(limit, 5)
            self.assertGreaterEqual(served, 5)  # never before its limit
            self.assertNotIn(pid, children_of(srv.pid))
        self.assertGreaterEqual(srv.admin_json("status")["totals"]["retired_max_requests"],
                                len(done))
        self.assertEqual(srv.stop(), 0)
        self.assertRegex(srv.log(), rf"stopped.*: {fetched} connections, {fetched} requests.*"
                                    r" 0 crashes, 0 kills")

    def test_the_worker_rings_the_master(self):
        """The worker's word reaches the master at once, through the
        doorbell pipe (as root, from a worker that is no longer root: no
        signal could), not only through the master's scan a second later."""
        self.put("hello.txt", b"hello\n")
        srv = self.serve(self.MODE, ("--workers", "1", "--max-requests", "2", "--log-level",
                                     "debug"))
        for _ in range(2):
            self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        srv.wait_log(self.REACHED)
        srv.wait_log(r"debug: the doorbell rang: a worker reached --max-requests")
        self.wait_replaced(srv, 1)

    def test_a_continuous_client_is_never_refused(self):
        self.put("hello.txt", b"hello\n")
        srv = self.serve(self.MODE, ("--workers", "1", "--max-requests", "2"))
        errors, deadline, fetched = [], time.monotonic() + 20, 0
        while len(self.replacements(srv)) < 6 and time.monotonic() < deadline:
            try:
                self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
                fetched += 1
            except (ConnectionRefusedError, ConnectionResetError) as e:
                errors.append(e)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(self.replacements(srv)), 6, f"{fetched} fetched")

    def test_jitter_varies_the_limit_within_bounds(self):
        self.put("hello.txt", b"hello\n")
        srv = self.serve(self.MODE, ("--workers", "1", "--max-requests", "3",
                                     "--max-requests-jitter", "5"))
        for _ in range(400):
            if len(self.replacements(srv)) >= 10:
                break
            self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        done = self.wait_replaced(srv, 10)
        for pid, (limit, served) in done.items():
            self.assertIn(limit, range(3, 9), pid)
            # A connection or two that came while its replacement started
            # is served too: no gap, so a worker may leave a little late.
            self.assertGreaterEqual(served, limit, pid)
        self.assertGreater(len({limit for limit, _ in done.values()}), 1, done)


globals().update(per_mode(Parallel))
globals().update(per_mode(Stopping))
globals().update(per_mode(PoolWorkers, ("prefork", "event")))
globals().update(per_mode(MaxRequests, ("prefork", "event")))
del Parallel, Stopping, PoolWorkers, MaxRequests

if __name__ == "__main__":
    unittest.main()
