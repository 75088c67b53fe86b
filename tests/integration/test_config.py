"""The configuration file against the real ferryd, on loopback only.

ferryd -t checks a file and says what is wrong with file and line (exit 0
or 1); ferryd -c serves what the file says, the command line overriding
it; ferryctl config prints the effective configuration, which ferryd -t
accepts back. A reload (ferryctl reload, SIGHUP) applies what may change
live: the pool size, a new listener (served byte for byte) and a removed
one (refused), the log level, redirects, per-protocol access rules; while
a download in flight on a listener that stays finishes intact. What cannot
change live (max-children) is refused with the old configuration left
running, and an invalid file never stops ferryd. A SIGHUP during a rolling
restart is carried out after it."""

import hashlib
import http.client
import os
import signal
import socket
import subprocess
import unittest

from ferrytest import FERRYD, READY, FerryTest, parse_response, recv_exact, request, wait_until


def http_get(host, port, path):
    """(status, body) of GET path."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class ConfigTest(FerryTest):
    def setUp(self):
        super().setUp()
        self.data = os.urandom(300_000)
        self.put("hello.bin", self.data)
        self.sha = hashlib.sha256(self.data).hexdigest()
        self.conf = os.path.join(self.tmp, "ferryd.conf")

    def write(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def check(self, *args):
        return subprocess.run([FERRYD, "-t", "-c", self.conf, *args], capture_output=True,
                              text=True, timeout=30)

    def base(self, extra="", listen="native = 127.0.0.1:0\n", mode="prefork"):
        return (f"; written by test_config.py\ndirectory = {self.root}\nmode = {mode}\n"
                f"workers = 2   ; inline comment\n{extra}[listen]\n{listen}")

    def test_check_valid_and_invalid(self):
        self.write(self.base())
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is valid", r.stdout)
        self.write(self.base("workers = 3\nbogus = 1\nautoindex = maybe\n")
                   + "gopher = 127.0.0.1:1\n[nowhere]\nx = 1\nthis is no entry\n")
        r = self.check()
        self.assertEqual(r.returncode, 1)
        err = r.stderr
        conf = self.conf
        self.assertIn(f"{conf}:5: workers is given twice (first on line 4)", err)
        self.assertIn(f"{conf}:6: unknown setting 'bogus'", err)
        self.assertIn(f"{conf}:7: autoindex: yes or no, not 'maybe'", err)
        self.assertIn(f"{conf}:10: listen: unknown protocol 'gopher'", err)
        self.assertIn(f"{conf}:12: unknown section [nowhere]", err)  # its first entry
        self.assertIn(f"{conf}:13: not a 'key = value'", err)
        self.assertNotIn("try 'ferryd --help'", err)
        # Without -t the same file is a usage error: exit 2, ferryd not up.
        r = subprocess.run([FERRYD, "-c", self.conf], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{conf}:6: unknown setting 'bogus'", r.stderr)
        # A missing file, and a directory that does not exist.
        r = subprocess.run([FERRYD, "-t", "-c", conf + ".missing"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read the configuration file: No such file or directory", r.stderr)
        self.write(self.base().replace(self.root, self.root + "/nope"))
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot serve directory", r.stderr)
        # A listener whose address does not resolve (.invalid never does).
        self.write(self.base("", "native = no-such-host.invalid:80\n"))
        r = self.check()
        self.assertEqual(r.returncode, 1)
        self.assertIn("native=no-such-host.invalid: cannot resolve the address", r.stderr)
        # Indented entries are entries (an INI habit), never one value.
        self.write(self.base("", "  native = 127.0.0.1:0\n  http = 127.0.0.1:0\n"))
        self.assertEqual(self.check().returncode, 0)

    def test_check_names_the_user_and_group(self):
        """-t resolves user and group as a start would: a typo is said now,
        not at the next restart."""
        for key, what in (("user = no-such-user-ferrytest\n", "no such user"),
                          ("group = no-such-group-ferrytest\n", "no such group")):
            with self.subTest(key=key):
                self.write(self.base(key))
                r = self.check()
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(what, r.stderr)

    def test_serve_from_file_and_command_line_overrides(self):
        self.write(self.base("[redirect]\n/old = /hello.bin\n",
                             "native = 127.0.0.1:0\nhttp = 127.0.0.1:0\n"))
        srv = self.serve(config=self.conf, args=("--workers", "3"))
        self.assertEqual([l[0] for l in srv.listeners], ["native", "http"])
        self.assertEqual(hashlib.sha256(srv.fetch("hello.bin")).hexdigest(), self.sha)
        status = srv.admin_json("status")
        self.assertEqual(status["limits"]["workers"], 3)  # the command line wins
        http_port = srv.listeners[1][2]
        st, _ = http_get("127.0.0.1", http_port, "/old")
        self.assertEqual(st, 301)
        # ferryctl config: the effective configuration, which -t accepts.
        r = srv.ctl("config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("workers = 3", r.stdout)
        self.assertIn("[redirect]\n/old = /hello.bin", r.stdout)
        self.assertIn("[listen]\nnative = 127.0.0.1:0\nhttp = 127.0.0.1:0", r.stdout)
        dumped = os.path.join(self.tmp, "dumped.conf")
        with open(dumped, "w") as f:
            f.write(r.stdout.replace(f"admin-socket = {srv.admin}", ""))
        r = subprocess.run([FERRYD, "-t", "-c", dumped], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_reload_applies_live_settings(self):
        self.write(self.base())
        srv = self.serve(config=self.conf)
        old_native = srv.listeners[0][2]
        # A download in flight on the listener that stays.
        s, (_, _, status, size) = srv.ask("hello.bin")
        self.assertEqual(status, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(READY)
        first = recv_exact(s, 4096)
        self.write(self.base("log-level = debug\n[access http]\ndeny = 127.0.0.1\n",
                             "native = 127.0.0.1:0\nhttp = 127.0.0.1:0\nhttp = [::1]:0\n")
                   .replace("workers = 2", "workers = 3"))
        mark = srv.mark()
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("workers: 2 -> 3", r.stdout)
        self.assertIn("log-level: info -> debug", r.stdout)
        self.assertIn("listen: + http=127.0.0.1:0", r.stdout)
        self.assertIn("[access http]: the rules changed", r.stdout)
        # The download begun before the reload finishes intact (and lets
        # its worker be replaced: the rolling restart waits for it).
        rest = recv_exact(s, size - len(first))
        s.close()
        self.assertEqual(hashlib.sha256(first + rest).hexdigest(), self.sha)
        srv.wait_log(r"rolling restart done", start=mark)
        ports = [int(line.rsplit(":", 1)[1]) for line in srv.lines[mark:]
                 if line and "listening on http=127.0.0.1:" in line]
        self.assertEqual(len(ports), 1)
        # The new HTTP listener applies its own rules: 127.0.0.1 is denied
        # there (403), while native from the same address is served.
        st, _ = http_get("127.0.0.1", ports[0], "/hello.bin")
        self.assertEqual(st, 403)
        self.assertEqual(hashlib.sha256(srv.fetch("hello.bin")).hexdigest(), self.sha)
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 3)
        # Removing the HTTP listeners: the native one stays, they close.
        self.write(self.base())
        mark = srv.mark()
        kill_hup = os.kill(srv.pid, signal.SIGHUP)
        self.assertIsNone(kill_hup)
        srv.wait_log(r"rolling restart done", start=mark)
        self.assertIsNotNone(srv.wait_log(r"reload: listen: - http=127.0.0.1:0", start=mark))

        def refused():
            try:
                socket.create_connection(("127.0.0.1", ports[0]), timeout=2).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_until(refused, what="the removed listener refuses connections")
        # A worker whose listener was shut drops it and serves the others:
        # none takes the shut socket for the pool's stop and leaves.
        self.assertNotIn("listening sockets shut down: leaving", srv.log())
        self.assertEqual(len(srv.admin_json("workers")["workers"]), 2)
        self.assertEqual(srv.listeners[0][2], old_native)
        self.assertEqual(hashlib.sha256(srv.fetch("hello.bin")).hexdigest(), self.sha)
        # The debug level is gone again with the file's line.
        self.assertIn("log-level: debug -> info", srv.log())

    def test_reload_access_log_and_warnings(self):
        log = os.path.join(self.tmp, "access.log")
        self.write(self.base(f"access-log = {log}\n"))
        srv = self.serve(config=self.conf)
        srv.fetch("hello.bin")
        wait_until(lambda: os.path.exists(log) and os.path.getsize(log) > 0,
                   what="the access log line")
        # The access log dropped, and a rule that can never match: the
        # answer lists the change and the warning; nothing is logged after.
        self.write(self.base("[access]\nallow = 127.0.0.1\ndeny = all\nallow = ::1\n"))
        mark = srv.mark()
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"access-log: {log} -> (unset)", r.stdout)
        self.assertIn("warning: 'allow ::1' comes after 'deny all'", r.stdout)
        srv.wait_log(r"rolling restart done", start=mark)
        size = os.path.getsize(log)
        self.assertEqual(hashlib.sha256(srv.fetch("hello.bin")).hexdigest(), self.sha)
        srv.wait_log(r"GET hello.bin|hello.bin", start=mark)  # its line in ferryd's log
        self.assertEqual(os.path.getsize(log), size)  # and none in the dropped access log

    def test_sighup_during_a_restart_follows_it(self):
        """ferryctl reload during a rolling restart is told busy; a SIGHUP
        then (systemctl reload twice in a row) is not lost but carried out
        once the restart is over, two of them as one reload, reading the
        file as it is by then."""
        big = os.urandom(16 << 20)
        self.put("big.bin", big)
        self.write(self.base())
        srv = self.serve(config=self.conf)
        # A download its reader holds (16 MiB: more than the socket buffers
        # take) keeps the restart from ending.
        s, (_, _, status, size) = srv.ask("big.bin")
        self.assertEqual(status, 0)
        s.sendall(READY)
        first = recv_exact(s, 4096)
        self.write(self.base("log-level = debug\n"))
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("busy", r.stderr)
        self.write(self.base("log-level = debug\n").replace("workers = 2", "workers = 3"))
        mark = srv.mark()
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_log(r"SIGHUP: a resize, restart or upgrade is under way: the reload follows it",
                     start=mark)
        os.kill(srv.pid, signal.SIGHUP)
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 2)  # not yet
        rest = recv_exact(s, size - len(first))
        s.close()
        self.assertEqual(hashlib.sha256(first + rest).digest(), hashlib.sha256(big).digest())
        applied = srv.wait_log(r"reload: workers: 2 -> 3", start=mark)
        srv.wait_log(r"rolling restart done", start=srv.lines.index(applied, mark))
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 3)
        later = srv.lines[mark:]
        self.assertEqual(sum("reload: reading" in line for line in later), 1, later)
        self.assertEqual(sum("the reload follows it" in line for line in later), 1, later)
        self.assertEqual(hashlib.sha256(srv.fetch("hello.bin")).hexdigest(), self.sha)
        self.assertEqual(srv.stop(), 0)

    def test_reload_refused_and_invalid_keep_running(self):
        self.write(self.base())
        srv = self.serve(config=self.conf)

        def worker_pids():
            pids = sorted(w["pid"] or 0 for w in srv.admin_json("workers")["workers"])
            return pids if len(pids) == 2 and 0 not in pids else None
        pids = wait_until(worker_pids, what="both workers up")
        # What cannot change live: refused whole, the other change too.
        self.write(self.base("max-children = 8\n").replace("workers = 2", "workers = 3"))
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused", r.stderr)
        self.assertIn("max-children: 64 -> 8 cannot change while ferryd runs", r.stderr)
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 2)
        # An invalid file, by SIGHUP: an error with its line, ferryd serves on.
        self.write(self.base("workers = many\n"))
        mark = srv.mark()
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_log(r"reload refused, the configuration is invalid: .*:5: workers", start=mark)
        self.assertIsNone(srv.proc.poll())
        self.assertEqual(hashlib.sha256(srv.fetch("hello.bin")).hexdigest(), self.sha)
        # The file gone: the same, by ferryctl.
        os.unlink(self.conf)
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_config", r.stderr)
        self.assertIn("cannot read the configuration file", r.stderr)
        self.assertEqual(sorted(w["pid"] for w in srv.admin_json("workers")["workers"]), pids)
        # A listener that cannot be opened (a port in use): refused, nothing
        # changed.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            self.write(self.base("", f"native = 127.0.0.1:0\nhttp = 127.0.0.1:"
                                     f"{busy.getsockname()[1]}\n").replace("workers = 2",
                                                                           "workers = 1"))
            r = srv.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn("address already in use", r.stderr)
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 2)
        self.assertEqual(srv.stop(), 0)


class ForkReloadTest(FerryTest):
    """Fork mode: the master accepts, so a reload's new listener is one
    more it watches; the limit follows workers."""

    def test_fork_mode_listener_added(self):
        self.put("a.txt", b"abc" * 1000)
        conf = os.path.join(self.tmp, "f.conf")
        with open(conf, "w") as f:
            f.write(f"directory = {self.root}\nmode = fork\n[listen]\nnative = 127.0.0.1:0\n")
        srv = self.serve(config=conf)
        with open(conf, "w") as f:
            f.write(f"directory = {self.root}\nmode = fork\nworkers = 5\n[listen]\n"
                    "native = 127.0.0.1:0\nnative = [::1]:0\n")
        mark = srv.mark()
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = srv.wait_log(r"listening on native=\[::1\]:\d+", start=mark)
        port = int(line.rsplit(":", 1)[1])
        s = socket.create_connection(("::1", port), timeout=10)
        s.sendall(request("a.txt"))
        _, _, status, size = parse_response(recv_exact(s, 11))
        self.assertEqual((status, size), (0, 3000))
        s.sendall(READY)
        self.assertEqual(recv_exact(s, size), b"abc" * 1000)
        s.close()
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 5)


if __name__ == "__main__":
    unittest.main()
