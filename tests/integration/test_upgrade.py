"""The binary upgrade against the real ferryd, on loopback only.

ferryd runs from a copy of the built binary in the test's directory, so
that the test can replace the file as a package upgrade would (a new file
renamed over the path). While clients download over native and HTTP
without pause (bounded in count and time) and check every byte,
`ferryctl upgrade` starts the file at that path, hands it the sockets,
and the old master drains and exits 0: no download fails, none is
refused or reset. A new binary that exits at once, or cannot be executed,
leaves the old master serving (ferryctl says why, exit 1), under the same
load. SIGUSR2 does the same as ferryctl, and a hub's process moves over
to the new master once the old one's is gone."""

import hashlib
import http.client
import os
import re
import shutil
import signal
import stat
import threading
import time
import unittest

from ferrytest import FERRYD, FerryTest, per_mode, wait_until


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


class Load:
    """Clients fetching over native and HTTP until stopped, at most
    `limit` fetches each and `seconds` long; every failure is kept."""

    def __init__(self, srv, name, sha, http_port, threads=4, limit=5000, seconds=60):
        self.srv, self.name, self.sha, self.http_port = srv, name, sha, http_port
        self.stop = threading.Event()
        self.ok = 0
        self.errors = []
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + seconds
        self.threads = [threading.Thread(target=self.run, args=(i % 2 == 0, limit), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def fetch_http(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request("GET", "/" + self.name)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise AssertionError(f"HTTP {r.status}")
            return body
        finally:
            conn.close()

    def run(self, native, limit):
        for _ in range(limit):
            if self.stop.is_set() or time.monotonic() > self.deadline:
                return
            try:
                data = self.srv.fetch(self.name) if native else self.fetch_http()
                if hashlib.sha256(data).hexdigest() != self.sha:
                    raise AssertionError("corrupt")
                with self.lock:
                    self.ok += 1
            except Exception as e:  # refused, reset, short: all count
                with self.lock:
                    self.errors.append(f"{'native' if native else 'http'}: {e!r}")

    def count(self):
        with self.lock:
            return self.ok

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        return self.ok, self.errors


class UpgradeMixin:
    MODE = None

    def setUp(self):
        super().setUp()
        self.data = os.urandom(256 * 1024)
        self.put("file.bin", self.data)
        self.sha = hashlib.sha256(self.data).hexdigest()
        self.bindir = os.path.join(self.tmp, "sbin")
        os.mkdir(self.bindir)
        self.exe = os.path.join(self.bindir, "ferryd")
        shutil.copy(FERRYD, self.exe)
        self.successors = []
        self.addCleanup(self.stop_successors)

    def stop_successors(self):
        """The new masters are no children of the test: stopped by pid."""
        for pid in self.successors:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in self.successors:
            wait_until(lambda: not alive(pid), timeout=30, what=f"pid {pid} to stop")

    def replace_exe(self, source=None, text=None):
        """Renames a new file over the binary's path, as dpkg does."""
        tmp = self.exe + ".new"
        if text is not None:
            with open(tmp, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o755)
        else:
            shutil.copy(source, tmp)
        os.rename(tmp, self.exe)

    def test_upgrade_under_load(self):
        # ferryd must run from self.exe: Server runs FERRYD, so swap it in.
        srv = self.serve_from_copy()
        http_port = srv.listeners[1][2]
        load = Load(srv, "file.bin", self.sha, http_port)
        wait_until(lambda: load.count() >= 20, timeout=30, what="the load to be under way")
        self.replace_exe(FERRYD)  # the "new" version: a new inode at the path
        r = srv.ctl("upgrade", timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"pid (\d+) serves; pid (\d+) drains and exits", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        new, old = int(m.group(1)), int(m.group(2))
        self.successors.append(new)
        self.assertEqual(old, srv.pid)
        self.assertIn(f"started {self.exe} as pid {new}", r.stdout)
        self.assertEqual(srv.proc.wait(timeout=60), 0)  # the old master drained and left
        before = load.count()
        wait_until(lambda: load.count() >= before + 20, timeout=30,
                   what="downloads served by the new master")
        ok, errors = load.finish()
        self.assertEqual(errors, [], f"{len(errors)} failed of {ok + len(errors)}")
        # The new master answers on the same admin socket, with its own pid.
        st = srv.admin_json("status")
        self.assertEqual(st["pid"], new)
        self.assertEqual(hashlib.sha256(srv.fetch("file.bin")).hexdigest(), self.sha)

    def test_failed_upgrade_leaves_old_serving(self):
        srv = self.serve_from_copy(upgrade_timeout=2)
        http_port = srv.listeners[1][2]
        load = Load(srv, "file.bin", self.sha, http_port)
        wait_until(lambda: load.count() >= 20, timeout=30, what="the load to be under way")
        # A binary that exits at once.
        self.replace_exe(text="#!/bin/sh\nexit 3\n")
        r = srv.ctl("upgrade", timeout=90)
        self.assertEqual(r.returncode, 1)
        self.assertIn("upgrade_failed", r.stderr)
        self.assertIn("exited with status 3 before it was serving", r.stderr)
        self.assertIn(f"this master (pid {srv.pid}) serves on", r.stderr)
        # One that is not serving in time (--upgrade-timeout 2): stopped.
        self.replace_exe(text="#!/bin/sh\nexec sleep 5\n")  # deaf to ABORT: gone by itself
        r = srv.ctl("upgrade", timeout=90)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"pid \d+ was not serving within 2 s: stopped it")
        # One that cannot be executed at all.
        os.chmod(self.exe, 0o644)
        r = srv.ctl("upgrade", timeout=90)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"cannot execute {self.exe}: Permission denied", r.stderr)
        before = load.count()
        wait_until(lambda: load.count() >= before + 20, timeout=30, what="downloads go on")
        ok, errors = load.finish()
        self.assertEqual(errors, [], f"{len(errors)} failed of {ok + len(errors)}")
        self.assertEqual(srv.admin_json("status")["pid"], srv.pid)
        self.assertIsNone(srv.proc.poll())
        self.assertEqual(srv.stop(), 0)

    def test_second_upgrade_waits_for_the_first_master(self):
        srv = self.serve_from_copy()
        self.put("big", bytes(32 << 20))
        stalled = srv.stalled("big")  # the old master drains it, slowly
        r = srv.ctl("upgrade", timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        new = int(re.search(r"pid (\d+) serves", r.stdout).group(1))
        self.successors.append(new)
        # The new master serves, the old one still drains: a second upgrade
        # is refused until it is gone (one channel each way).
        r = srv.ctl("upgrade", timeout=90)
        self.assertEqual(r.returncode, 1)
        self.assertIn("busy", r.stderr)
        self.assertIsNone(srv.proc.poll())  # still draining
        self.assertEqual(srv.admin_json("status")["pid"], new)  # one master answers
        stalled.close()
        self.assertEqual(srv.proc.wait(timeout=60), 0)

        def upgrade():  # None while the new master has yet to see the EOF
            r = srv.ctl("upgrade", timeout=90)
            return None if r.returncode == 1 and "busy" in r.stderr else r
        r = wait_until(upgrade, timeout=30, what="the channel's end to be seen")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.successors.append(int(re.search(r"pid (\d+) serves", r.stdout).group(1)))

    def serve_from_copy(self, upgrade_timeout=30):
        """A ferryd run from self.exe. The upgrade timeout is short only
        where a test waits it out: a successor under ASan, beside a load
        on both cores, may take more than 2 s to have its workers idle."""
        import ferrytest
        saved = ferrytest.FERRYD
        ferrytest.FERRYD = self.exe
        try:
            return self.serve(self.MODE, args=("--workers", "2", "--upgrade-timeout",
                                               str(upgrade_timeout)),
                              listen=["native=127.0.0.1:0", "http=127.0.0.1:0"])
        finally:
            ferrytest.FERRYD = saved


globals().update(per_mode(UpgradeMixin, modes=("fork", "prefork", "event")))


class IterativeUpgradeTest(FerryTest):
    """Iterative mode has no master to hand over to: SIGUSR2 is ignored,
    ferryctl upgrade says so, and the server serves on."""

    def test_iterative_refuses(self):
        self.put("a.txt", b"abc")
        srv = self.serve("iterative")
        os.kill(srv.pid, signal.SIGUSR2)
        r = srv.ctl("upgrade")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsupported", r.stderr)
        self.assertEqual(srv.fetch("a.txt"), b"abc")
        self.assertIsNone(srv.proc.poll())
        self.assertEqual(srv.stop(), 0)


class HubUpgradeTest(FerryTest):
    """SIGUSR2, with a hub: the new master starts its hub once the old
    one's is gone (they would share the socket otherwise)."""

    def test_sigusr2_moves_the_hub(self):
        import ferrytest
        exe = os.path.join(self.tmp, "ferryd")
        shutil.copy(FERRYD, exe)
        saved, ferrytest.FERRYD = ferrytest.FERRYD, exe
        try:
            srv = self.serve("event", args=("--workers", "1", "--hub-db",
                                            self.hub_db(), "--hub-wire",
                                            "plain"),
                             listen=["native=127.0.0.1:0", "hub=127.0.0.1:0"])
        finally:
            ferrytest.FERRYD = saved
        srv.wait_log(rf"\[{srv.pid}\] info: hub started: pid")
        mark = srv.mark()
        os.kill(srv.pid, signal.SIGUSR2)
        line = srv.wait_log(r"upgrade: pid (\d+) is serving", start=mark, timeout=60)
        new = int(re.search(r"pid (\d+) is serving", line).group(1))
        self.addCleanup(lambda: alive(new) and os.kill(new, signal.SIGTERM))
        self.assertEqual(srv.proc.wait(timeout=60), 0)
        hub_gone = srv.wait_log(rf"\[{srv.pid}\] info: hub exited", start=mark)
        started = srv.wait_log(rf"\[{new}\] info: hub started: pid", start=mark, timeout=30)
        self.assertLess(srv.lines.index(hub_gone), srv.lines.index(started))
        os.kill(new, signal.SIGTERM)
        wait_until(lambda: not alive(new), timeout=30, what="the new master to stop")


if __name__ == "__main__":
    unittest.main()
