"""ferryctl against the real ferryd and against fake admin sockets: tables
that fit an 80-column terminal (a pty sized with TIOCSWINSZ) with a long
file name in flight, full width into a pipe or with --wide, options after
the command, --help and --version, a server that closes the connection
(no death by SIGPIPE), a closed stdout, and socket discovery."""

import fcntl
import json
import os
import re
import select
import socket
import stat
import struct
import subprocess
import termios
import threading
import time
import unittest

from ferrytest import FERRYCTL, FakeServer, FerryTest, wait_until

# The longest valid name: 255 bytes of printable ASCII, recognisable at
# both ends so that a middle cut shows.
LONG = "START-" + "n" * 241 + "-END.iso"
assert len(LONG) == 255
ESC = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def env_without(*names, **extra):
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(extra)
    return env


def run_pty(args, cols=80, rows=24, env=None, timeout=20):
    """Runs ferryctl ARGS with stdin and stdout a pty of cols x rows;
    returns (exit code, output as text without \\r, stderr)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen([FERRYCTL, *args], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer of the pty has gone
                break
            if not chunk:
                break
            out += chunk
        rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
        err = proc.stderr.read().decode()
        proc.stderr.close()
    return rc, out.decode().replace("\r", ""), err


def lines_of(text):
    """The lines of a screen, escape sequences removed."""
    return ESC.sub("", text).split("\n")


class Fitting(FerryTest):
    """A transfer in flight with the longest valid name: its row is far
    wider than 80 columns until ferryctl fits it."""

    def setUp(self):
        super().setUp()
        self.put(LONG, bytes(64 << 20))
        self.srv = self.serve("prefork", ("--workers", "2"))
        self.held = self.srv.stalled(LONG)
        wait_until(lambda: any("transfer" in w for w in self.srv.admin_json("workers")["workers"]),
                   what="a worker with the transfer")
        self.utf8 = env_without("LC_ALL", "LC_CTYPE", "COLUMNS", LANG="C.UTF-8")

    def tearDown(self):
        self.held.close()
        super().tearDown()

    def assertFits(self, lines, width):
        for line in lines:
            self.assertLessEqual(len(line), width, f"a line of {len(line)} columns: {line!r}")

    def test_workers_fit_80_columns(self):
        rc, out, err = run_pty(["-s", self.srv.admin, "workers"], env=self.utf8)
        self.assertEqual(rc, 0, err)
        lines = [l for l in lines_of(out) if l]
        self.assertFits(lines, 80)
        self.assertEqual(len(lines), 3, "the header and a row per worker, none wrapped")
        self.assertRegex(lines[0], r"PID +STATE +.*PEER +TARGET +PROGRESS +RATE$")
        self.assertNotIn("LISTENER", lines[0])  # the first to go after GEN and REQS
        row = next(l for l in lines if "sending" in l)
        self.assertIn("\u2026", row)  # the name is cut with an ellipsis...
        self.assertIn("START-", row)  # ...in the middle: both ends stay
        self.assertIn("-END.iso", row)
        self.assertRegex(row, r"127\.0\.0\.1:\d+ ")
        self.assertRegex(row, r" +\d+% of 64\.0 MiB ")

    def test_narrow_columns_keep_the_port_and_whole_numbers(self):
        # The tryout: at COLUMNS=60 PEER showed "127.…900" and RATE
        # "2.1 Mi…"; at 50 a cell was "…" alone. A cut keeps the port and
        # the extension; a number shows whole or its column goes.
        port = self.held.getsockname()[1]
        pid = next(w["pid"] for w in self.srv.admin_json("workers")["workers"]
                   if "transfer" in w)
        for cols in (80, 60, 50, 40):
            with self.subTest(cols=cols):
                r = self.srv.ctl("workers", env=dict(self.utf8, COLUMNS=str(cols)))
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.splitlines()
                self.assertFits(lines, cols)
                self.assertEqual(len(lines), 3, "the header and a row per worker, none wrapped")
                head, row = lines[0], next(l for l in lines if re.match(rf" *{pid} ", l))
                self.assertRegex(head, r"^ +PID .*PEER +TARGET")
                self.assertRegex(row, rf" 127\.[0-9.\u2026]*:{port} ", "the port stays whole")
                self.assertRegex(row, r"START-?.*\u2026.*\.iso")
                for line in lines:
                    self.assertFalse(line.endswith("\u2026"), f"a line cut: {line!r}")
                    self.assertNotIn(" \u2026 ", line, f"a cell cut to nothing: {line!r}")
                if "RATE" in head:
                    self.assertRegex(row, r" \d+(\.\d)? (B|KiB|MiB|GiB)/s$")
                if "DONE" in head:
                    self.assertRegex(row, r" \d+% ")
                if "PROGRESS" in head:
                    self.assertRegex(row, r" \d+% of 64\.0 MiB ")

    def test_a_c_locale_gets_three_dots(self):
        rc, out, err = run_pty(["-s", self.srv.admin, "workers"],
                               env=env_without("LC_ALL", "LC_CTYPE", "COLUMNS", LANG="C"))
        self.assertEqual(rc, 0, err)
        self.assertFits(lines_of(out), 80)
        self.assertNotIn("\u2026", out)
        self.assertIn("START-", out)
        self.assertIn("...", out)

    def test_status_fits_80_columns(self):
        rc, out, err = run_pty(["-s", self.srv.admin, "status"], env=self.utf8)
        self.assertEqual(rc, 0, err)
        self.assertFits(lines_of(out), 80)
        self.assertIn("shutdown-timeout 30s", out)  # wrapped, not lost
        self.assertIn("respawns", out)
        self.assertIn("client_error 0", out)
        # The listeners table, its one row whole.
        self.assertRegex(out, r"\nPROTO +LISTENER +CONNS +OK .*SENT\r?\n")
        self.assertRegex(out, rf"\nnative +127\.0\.0\.1:{self.srv.port} +1 +1 ")

    def test_top_redraws_within_the_window(self):
        rc, out, err = run_pty(["-s", self.srv.admin, "top", "--iterations", "2", "--interval",
                                "0.2"], env=self.utf8)
        self.assertEqual(rc, 0, err)
        frames = out.split("\x1b[H\x1b[2J")[1:]
        self.assertEqual(len(frames), 2)
        for frame in frames:
            lines = lines_of(frame)
            self.assertFits(lines, 80)
            self.assertLessEqual(len([l for l in lines if l]), 24, "the frame fits the window")
            self.assertIn("START-", frame)
            self.assertIn("(q quits", frame)

    def test_top_on_a_short_window_says_what_it_left_out(self):
        rc, out, err = run_pty(["-s", self.srv.admin, "top", "--iterations", "1"], rows=8,
                               env=self.utf8)
        self.assertEqual(rc, 0, err)
        frame = out.split("\x1b[H\x1b[2J")[1]
        self.assertLessEqual(len(lines_of(frame.rstrip("\n"))), 8)
        self.assertRegex(frame, r"\(q quits; \d+ more lines\)")

    def test_wide_on_a_terminal(self):
        rc, out, err = run_pty(["-s", self.srv.admin, "workers", "--wide"], env=self.utf8)
        self.assertEqual(rc, 0, err)
        self.assertIn(LONG, out)
        self.assertIn("GEN", out)
        self.assertRegex(out, rf" native +127\.0\.0\.1:{self.srv.port} +127\.0\.0\.1:\d+ +{LONG} ")
        self.assertNotIn("\u2026", out)

    def test_a_pipe_gets_full_width(self):
        r = self.srv.ctl("workers", env=env_without("COLUMNS"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(LONG, r.stdout)
        self.assertGreater(max(len(l) for l in r.stdout.splitlines()), 255)
        r = self.srv.ctl("status", env=env_without("COLUMNS"))
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 10, "one line per heading, then the listeners table")
        self.assertEqual((lines[7], lines[8].split()[:2]), ("", ["PROTO", "LISTENER"]))

    def test_columns_is_obeyed_in_a_pipe_too(self):
        # Decided: $COLUMNS is an explicit request (watch(1) sets it), so it
        # counts into a pipe as well; without it a pipe gets full width.
        r = self.srv.ctl("workers", env=dict(self.utf8, COLUMNS="60"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFits(r.stdout.splitlines(), 60)
        self.assertIn("\u2026", r.stdout)
        r = self.srv.ctl("status", env=dict(self.utf8, COLUMNS="60"))
        self.assertFits(r.stdout.splitlines(), 60)
        r = self.srv.ctl("workers", "--wide", env=dict(self.utf8, COLUMNS="60"))
        self.assertIn(LONG, r.stdout)
        # On a terminal, its own size wins over a stale $COLUMNS.
        rc, out, err = run_pty(["-s", self.srv.admin, "workers"], cols=100,
                               env=dict(self.utf8, COLUMNS="60"))
        self.assertEqual(rc, 0, err)
        widths = [len(l) for l in lines_of(out)]
        self.assertLessEqual(max(widths), 100)
        self.assertGreater(max(widths), 60)


class Options(FerryTest):

    def setUp(self):
        super().setUp()
        self.srv = self.serve("prefork", ("--workers", "3"))

    def ferryctl(self, *args, **kw):
        return subprocess.run([FERRYCTL, *args], capture_output=True, text=True, timeout=30,
                              **kw)

    def test_options_after_the_command(self):
        for args in (("status", "--json", "-s", self.srv.admin),
                     ("status", "-s", self.srv.admin, "--json"),
                     ("--json", "status", "--socket=" + self.srv.admin),
                     ("-s" + self.srv.admin, "--json", "status")):
            with self.subTest(args=args):
                r = self.ferryctl(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["pid"], self.srv.pid)

    def test_resize_minus_two_is_a_size(self):
        r = self.ferryctl("resize", "-2", "-s", self.srv.admin, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((json.loads(r.stdout)["from"], json.loads(r.stdout)["to"]), (3, 1))
        r = self.ferryctl("-s", self.srv.admin, "resize", "--no-wait", "+1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resizing 1 -> 2", r.stdout)

    def test_help_and_version(self):
        r = self.ferryctl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^ferryctl \d+\.\d+\.\d+\n$")
        self.assertEqual(self.ferryctl("-V").stdout, r.stdout)
        r = self.ferryctl("--help")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn("exit codes", r.stdout)
        for cmd in ("ping", "status", "workers", "metrics", "events", "top", "resize",
                    "reopen-logs", "shutdown"):
            for flag in ("--help", "-h"):
                with self.subTest(cmd=cmd, flag=flag):
                    r = self.ferryctl(cmd, flag)
                    self.assertEqual((r.returncode, r.stderr), (0, ""))
                    self.assertTrue(r.stdout.startswith(f"usage: ferryctl [OPTIONS] {cmd}"))
                    self.assertLessEqual(max(len(l) for l in r.stdout.splitlines()), 80)
        self.assertIn("--drain-timeout S", self.ferryctl("resize", "--help").stdout)
        # --help asks no server: the ferryd is untouched.
        r = self.ferryctl("shutdown", "--help", "-s", self.srv.admin)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.srv.admin_json("status")["state"], "running")

    def test_usage_errors(self):
        r = self.ferryctl("resize", "-x", "-s", self.srv.admin)
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        first, rest = r.stderr.split("\n", 1)
        self.assertEqual(first, "ferryctl: resize: '-x' is not N, +N or -N")
        self.assertTrue(rest.startswith("usage: ferryctl [OPTIONS] resize N|+N|-N"))
        r = self.ferryctl("frobnicate")
        self.assertEqual(r.returncode, 2)
        first, rest = r.stderr.split("\n", 1)
        self.assertEqual(first, "ferryctl: unknown command 'frobnicate'")
        self.assertIn("commands (each answers --help)", rest)
        r = self.ferryctl("status", "--bogus")
        self.assertEqual(r.stderr.split("\n", 1)[0], "ferryctl: status: unknown option '--bogus'")
        self.assertEqual(self.srv.admin_json("status")["limits"]["workers"], 3)


STATUS = {"ok": True, "schema": 1, "version": "0.1.0", "pid": 1, "mode": "prefork",
          "state": "running", "uptime_s": 1, "listeners": [], "limits": {}, "pool": {},
          "totals": {}, "throughput": {}, "saturation": {}}


class ClosedConnection(FerryTest):
    """ferryd may close the admin connection at any time (a master out of
    descriptors drops it): exit 3 with a message, never death by SIGPIPE."""

    def ferryctl(self, path, *args):
        return subprocess.run([FERRYCTL, "-s", path, *args], capture_output=True, text=True,
                              timeout=30, env=env_without("COLUMNS"))

    def assertClosed(self, r):
        self.assertNotEqual(r.returncode, -13, "killed by SIGPIPE")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("ferryd closed the connection", r.stderr)

    def test_closed_at_once(self):
        # Whether ferryctl writes before or after the close, the same answer.
        path = os.path.join(self.tmp, "at-once.sock")
        fake = FakeServer(lambda conn: None, path=path, n=5)
        for _ in range(5):
            self.assertClosed(self.ferryctl(path, "status"))
        fake.join()

    def test_closed_after_part_of_the_request(self):
        path = os.path.join(self.tmp, "part.sock")
        fake = FakeServer(lambda conn: conn.recv(5), path=path)
        self.assertClosed(self.ferryctl(path, "workers"))
        fake.join()

    def test_closed_while_writing(self):
        # The server stops reading after top's first frame: the next request
        # meets a closed connection, EPIPE every time.
        path = os.path.join(self.tmp, "writing.sock")
        done = threading.Event()

        def handler(conn):
            f = conn.makefile("rb")
            self.assertIn(b"status", f.readline())
            conn.sendall(json.dumps(STATUS).encode() + b"\n")
            self.assertIn(b"workers", f.readline())
            conn.shutdown(socket.SHUT_RD)  # ferryctl's side can no longer send
            conn.sendall(b'{"ok":true,"schema":1,"workers":[]}\n')
            done.wait(30)  # until ferryctl has finished

        fake = FakeServer(handler, path=path)
        try:
            r = self.ferryctl(path, "top", "--iterations", "3", "--interval", "0.05")
        finally:
            done.set()
        fake.join()
        self.assertClosed(r)
        self.assertEqual(r.stdout.count("SLOT"), 1, "the first frame was drawn")


class ClosedStdout(FerryTest):

    """"ferryctl events | head -1": once head has its line and leaves,
    ferryctl ends at once and quietly (exit 0, as a filter), not at the next
    event, which may never come."""

    def events(self, srv, *args):
        proc = subprocess.Popen([FERRYCTL, "-s", srv.admin, *args, "events"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env_without("COLUMNS"))
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait(timeout=10)))
        self.addCleanup(proc.stderr.close)
        return proc

    def assertQuietEnd(self, proc):
        proc.stdout.close()
        self.assertEqual(proc.wait(timeout=5), 0)
        self.assertEqual(proc.stderr.read(), b"")

    def test_json_events_into_head(self):
        srv = self.serve("prefork", ("--workers", "1"))
        proc = self.events(srv, "--json")
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        self.assertTrue(ready, "no subscribe answer within 10 s")
        self.assertTrue(json.loads(proc.stdout.readline())["subscribed"])
        self.assertQuietEnd(proc)  # no event comes: only the closed pipe ends it

    def test_events_into_head(self):
        srv = self.serve("prefork", ("--workers", "1"))
        proc = self.events(srv)
        line, deadline = b"", time.monotonic() + 10
        while not line and time.monotonic() < deadline:
            # Until ferryctl has subscribed (it prints nothing until then),
            # a resize's events may pass it by: resize again.
            self.assertEqual(srv.ctl("resize", "+1").returncode, 0)
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                line = proc.stdout.readline()
        self.assertRegex(line, rb"^\d{4}-\d\d-\d\dT\S+ resize_started ")
        self.assertQuietEnd(proc)


class Discovery(FerryTest):
    """Without -s: every place the rule allows, only sockets this user may
    open; one is used, several are listed, none says where it looked."""

    def setUp(self):
        super().setUp()
        self.xdg = os.path.join(self.tmp, "xdg")
        os.mkdir(self.xdg, 0o700)
        self.wrapper = ()
        self.uid = os.geteuid()
        if self.uid == 0:  # root searches /run/ferry only: test the user case as nobody
            os.chown(self.xdg, 65534, 65534)
            self.wrapper = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
            self.uid = 65534
        self.env = env_without("FERRY_ADMIN_SOCKET", "COLUMNS", XDG_RUNTIME_DIR=self.xdg)

    def ferryctl(self, *args, env=None):
        return subprocess.run([*self.wrapper, FERRYCTL, *args], capture_output=True, text=True,
                              timeout=30, env=env or self.env)

    def fake_socket(self, name):
        path = os.path.join(self.xdg, name)
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        self.addCleanup(s.close)
        os.chmod(path, 0o666)
        return path

    def test_none_one_several(self):
        r = self.ferryctl("ping")
        self.assertEqual(r.returncode, 3)
        self.assertIn(f"no ferryd admin socket in {self.xdg}/ferryd-*.sock, "
                      f"/tmp/ferryd-{self.uid}-*.sock, /run/ferry/ferryd-*.sock", r.stderr)
        srv = self.serve("prefork", ("--workers", "1"), admin=False, env=self.env,
                         wrapper=self.wrapper)
        real = os.path.join(self.xdg, f"ferryd-{srv.port}.sock")
        srv.wait_log(re.escape(f"admin socket {real}"))
        r = self.ferryctl("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], srv.pid)
        # A look-alike this user may not open does not count.
        closed = self.fake_socket("ferryd-1.sock")
        os.chmod(closed, 0o600 if os.geteuid() == 0 else 0)
        self.assertEqual(self.ferryctl("ping").returncode, 0)
        other = self.fake_socket("ferryd-2.sock")
        r = self.ferryctl("ping")
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertEqual(r.stderr.splitlines(),
                         ["ferryctl: 2 ferryd admin sockets found:",
                          *(f"  {p}" for p in sorted([other, real])),
                          "pick one with -s PATH or FERRY_ADMIN_SOCKET=PATH"])
        r = self.ferryctl("ping", env=dict(self.env, FERRY_ADMIN_SOCKET=real))
        self.assertEqual((r.returncode, r.stdout), (0, "pong\n"), r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run ferryd as root")
    def test_admin_group_member_finds_roots_socket(self):
        theirs = [n for n in os.listdir("/run/ferry") if n.startswith("ferryd-")] \
            if os.path.isdir("/run/ferry") else []
        if theirs:
            self.skipTest(f"other ferryd sockets in /run/ferry: {theirs}")
        srv = self.serve("prefork", ("--workers", "1", "--admin-group", "nogroup"), admin=False)
        path = f"/run/ferry/ferryd-{srv.port}.sock"
        # Killed at tear-down, ferryd would leave it for the next test to find.
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        srv.wait_log(re.escape(f"admin socket {path}"))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
        member = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        r = subprocess.run([*member, FERRYCTL, "--json", "status"], capture_output=True,
                           text=True, timeout=30, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], srv.pid)
        # Root, too, finds it there.
        r = subprocess.run([FERRYCTL, "ping"], capture_output=True, text=True, timeout=30,
                           env=self.env)
        self.assertEqual((r.returncode, r.stdout), (0, "pong\n"), r.stderr)
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main()
