"""The process pool: concurrency in every mode, the fork-mode limit,
worker replacement and back-off, graceful and forced shutdown, and the
master's start-up errors."""

import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from ferrytest import (FERRYD, READY, FerryTest, children_of, ferry, per_mode, recv_exact,
                       sha256_file, signal_pending, wait_until)


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
        s.close()

    def test_zero_shutdown_timeout_stops_at_once(self):
        self.put("big", bytes(64 << 20))
        srv = self.serve(self.MODE, ("--workers", "1", "--shutdown-timeout", "0"))
        s = srv.stalled()
        t0 = time.monotonic()
        self.assertEqual(srv.stop(), 1)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(children_of(srv.pid), [])
        s.close()

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
        s.close()


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

    def test_prefork_replaces_a_killed_worker(self):
        srv = self.serve("prefork", ("--workers", "2"))
        kids = wait_until(lambda: len(children_of(srv.pid)) == 2 and children_of(srv.pid))
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

    def test_prefork_backs_off_when_workers_keep_dying(self):
        srv = self.serve("prefork", ("--workers", "1"))
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
        srv = self.serve("prefork", ("--workers", "3"))
        kids = wait_until(lambda: len(children_of(srv.pid)) == 3 and children_of(srv.pid))
        srv.kill()  # SIGKILL: no chance to clean up
        wait_until(lambda: not any(os.path.exists(f"/proc/{k}") and
                                   open(f"/proc/{k}/stat").read().split(") ")[1][0] != "Z"
                                   for k in kids), what="orphaned workers to die")

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
                         f"ferryd: cannot listen on 127.0.0.1:{srv.port}: address already in use")

    def test_startup_errors(self):
        cases = [(["--workers", "100", "--max-children", "8", "127.0.0.1", "0", self.root], 2,
                  "--workers 100 exceeds --max-children 8"),
                 (["--mode", "threads", "127.0.0.1", "0", self.root], 2, "unknown mode 'threads'"),
                 (["--io-timeout", "0", "127.0.0.1", "0", self.root], 2, "out of range"),
                 (["127.0.0.1", "70000", self.root], 2, "PORT must be 0..65535"),
                 (["127.0.0.1", "0"], 2, "expected ADDRESS PORT DIRECTORY"),
                 (["127.0.0.1", "0", "/nonexistent"], 1, "cannot serve directory"),
                 (["no-such-host.invalid", "0", self.root], 1, "cannot resolve")]
        for args, code, message in cases:
            with self.subTest(args=args):
                r = subprocess.run([FERRYD, *args], capture_output=True, timeout=10)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(message, r.stderr.decode())
        r = subprocess.run([FERRYD, "--help"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        for option in ("--mode", "--workers", "--max-children", "--chunk-size", "--io-timeout",
                       "--shutdown-timeout", "--log-level"):
            self.assertIn(option, r.stdout.decode())

    def test_host_name_listens_on_every_address(self):
        # Whatever localhost resolves to here (127.0.0.1, maybe ::1), ferryd
        # listens on all of it, on one port.
        hosts = {ai[4][0] for ai in socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM,
                                                       flags=socket.AI_PASSIVE)}
        srv = self.serve("prefork", ("--workers", "1"), address="localhost")
        for host in hosts:
            shown = f"[{host}]" if ":" in host else host
            srv.wait_log(rf"listening on {re.escape(shown)}:{srv.port}")
        for host in hosts:
            r = ferry("get", "-o", "-", host, srv.port, "hello.txt", "1K")
            self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), host)

    def test_debug_log_shows_headers(self):
        srv = self.serve("prefork", ("--workers", "1", "--log-level", "debug"))
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        srv.wait_log(r"<- FILE_REQUEST version=1 type=0x01 name_len=9")
        srv.wait_log(r"-> FILE_RESPONSE version=1 type=0x02 status=OK\(0\) size=6")
        srv.wait_log(r"<- READY \(0x03\)")


globals().update(per_mode(Parallel))
del Parallel

if __name__ == "__main__":
    unittest.main()
