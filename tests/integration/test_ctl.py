"""ferryctl against the real ferryd and against fake admin sockets: tables
that fit an 80-column terminal (a pty sized with TIOCSWINSZ) with a long
file name in flight, full width into a pipe or with --wide, options after
the command, --help and --version, a server that closes the connection
(no death by SIGPIPE), a closed stdout, and socket discovery."""

import fcntl
import hashlib
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

from ferrytest import FERRYCTL, FakeServer, FerryTest, on_worker, wait_until

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
        self.assertEqual(len(lines), 11, "one line per heading, then the listeners table")
        self.assertEqual((lines[8], lines[9].split()[:2]), ("", ["PROTO", "LISTENER"]))
        self.assertEqual(lines[3], "connections 1 open  reading 0  waiting 0  keepalive 0  "
                                   "sending 1  closing 0")

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
        for cmd in ("ping", "status", "workers", "connections", "metrics", "events", "top",
                    "resize", "reopen-logs", "shutdown"):
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


def http_keepalive(port, path):
    """A persistent HTTP connection that got path's whole answer and now
    idles (keepalive): returns the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: ferry\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, f"no answer head for {path}: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), head
    length = int(re.search(rb"(?im)^content-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "the answer was cut"
        body += chunk
    return s


def rate_of(row):
    """The rate at the end of a table's row, in bytes per second."""
    value, unit = re.search(r" ([0-9.]+) (B|KiB|MiB|GiB|TiB)/s$", row).groups()
    return float(value) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB"].index(unit)


class Connections(FerryTest):
    """ferryd --mode event --workers 2 with four connections open: three
    idle HTTP keep-alives and one stalled native transfer. ferryctl
    connections shows a row each, filters them, and status counts them."""

    def setUp(self):
        super().setUp()
        self.put("big", bytes(64 << 20))
        self.put("small.txt", b"x" * 100)
        self.srv = self.serve("event", ("--workers", "2", "--keepalive-timeout", "300"),
                              listen=["native=127.0.0.1:0", "http=127.0.0.1:0"])
        http = next(port for proto, _, port in self.srv.listeners if proto == "http")
        self.keep = [http_keepalive(http, "/small.txt") for _ in range(3)]
        self.held = self.srv.stalled("big")
        for s in (*self.keep, self.held):
            self.addCleanup(s.close)
        self.keep_ports = sorted(s.getsockname()[1] for s in self.keep)
        self.held_port = self.held.getsockname()[1]
        self.plain = env_without("COLUMNS", "LC_ALL", "LC_CTYPE", LANG="C.UTF-8")
        # A connection's state changes once its bytes have gone: until then
        # a keep-alive may still be sending its answer.
        wait_until(lambda: self.states() == {"keepalive": 3, "sending": 1},
                   what="3 keep-alives and 1 transfer")

    def states(self):
        conns = self.srv.admin_json("connections")["connections"]
        return {st: sum(c["state"] == st for c in conns) for st in {c["state"] for c in conns}}

    def ctl(self, *args, env=None):
        r = self.srv.ctl(*args, env=env or self.plain)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def rows(self, lines):
        """The table's rows by peer port, and the total line's figures."""
        shown, total = map(int, re.fullmatch(r"(\d+) connections? shown of (\d+) open",
                                             lines[-1]).groups())
        rows = {}
        for line in lines[1:-1]:
            # The peer's port, whole even when its address is cut; after
            # the listener's, when that is shown.
            ports = re.findall(r" 127\.[0-9.\u2026]*:(\d+) ", line)
            self.assertTrue(ports, f"a row without its peer: {line!r}")
            rows[int(ports[-1])] = line
        self.assertEqual(len(rows), shown, "\n".join(lines))
        return rows, total

    def test_a_row_per_connection(self):
        lines = self.ctl("connections")
        self.assertRegex(lines[0], r"^SLOT +PID +ID +STATE +AGE +IDLE +REQS +PROTO +LISTENER +"
                                   r"PEER +TARGET +PROGRESS +RATE$")
        rows, total = self.rows(lines)
        self.assertEqual((len(lines), total), (6, 4))
        self.assertEqual(lines[-1], "4 connections shown of 4 open")
        self.assertEqual(sorted(rows), sorted([*self.keep_ports, self.held_port]))
        http, native = (f"127.0.0.1:{port}" for _, _, port in
                        sorted(self.srv.listeners, key=lambda l: l[0]))
        for port in self.keep_ports:
            self.assertRegex(rows[port], rf" keepalive +\S+ +\S+ +1  http +{re.escape(http)} +"
                                         rf"127\.0\.0\.1:{port} +/small\.txt +100% 100 B/100 B ")
        self.assertRegex(rows[self.held_port],
                         rf" sending +\S+ +\S+ +1  native +{re.escape(native)} +"
                         rf"127\.0\.0\.1:{self.held_port} +big +\d+% [0-9.]+ \w+/64\.0 MiB ")
        # Each row is the process's and the record's the JSON names.
        for c in self.srv.admin_json("connections")["connections"]:
            port = int(c["peer"].rsplit(":", 1)[1])
            self.assertRegex(rows[port], rf"^ +{c['slot']} +{c['pid']} +{c['id']} {c['state']} ")

    def test_filters(self):
        rows, total = self.rows(self.ctl("connections", "--state", "keepalive"))
        self.assertEqual((sorted(rows), total), (self.keep_ports, 4))
        lines = self.ctl("connections", "--state", "sending")
        self.assertEqual(lines[-1], "1 connection shown of 4 open")
        self.assertEqual(list(self.rows(lines)[0]), [self.held_port])
        rows, _ = self.rows(self.ctl("connections", "--peer", f"127.0.0.1:{self.keep_ports[1]}"))
        self.assertEqual(list(rows), [self.keep_ports[1]])
        rows, _ = self.rows(self.ctl("connections", "--peer", "127.0.0.1"))
        self.assertEqual(len(rows), 4)
        self.assertEqual(self.ctl("connections", "--peer", "[::1]"),
                         ["0 connections shown of 4 open"])
        # By process: as many rows as the workers table counts for it.
        workers = self.srv.admin_json("workers")["workers"]
        self.assertEqual(sum(w["connections"] for w in workers), 4)
        for w in workers:
            for flag, value in (("--pid", w["pid"]), ("--slot", w["slot"])):
                with self.subTest(flag=flag, value=value):
                    lines = self.ctl("connections", flag, value, "--wide")
                    rows, _ = self.rows(lines)
                    self.assertEqual(len(rows), w["connections"], "\n".join(lines))
                    for row in rows.values():
                        self.assertRegex(row, rf"^ +{w['slot']} +{w['pid']} ")
        # The filters add up.
        held = next(c for c in self.srv.admin_json("connections")["connections"]
                    if c["state"] == "sending")
        rows, _ = self.rows(self.ctl("connections", "--pid", held["pid"], "--state", "sending",
                                     "--peer", held["peer"]))
        self.assertEqual(list(rows), [self.held_port])
        self.assertEqual(self.ctl("connections", "--slot", held["slot"], "--state", "reading"),
                         ["0 connections shown of 4 open"])

    def test_bad_filters(self):
        # ferryd knows the states: it refuses one it does not have.
        r = self.srv.ctl("connections", "--state", "stuck")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertRegex(r.stderr, r"^ferryctl: bad_argument: .*state.*keepalive")
        # A slot, a pid and a peer are checked before asking.
        for flag, value in (("--slot", "x"), ("--pid", "0"), ("--peer", "localhost"),
                            ("--peer", "127.0.0.1:99999")):
            with self.subTest(flag=flag, value=value):
                r = self.srv.ctl("connections", flag, value)
                self.assertEqual((r.returncode, r.stdout), (2, ""))
                self.assertTrue(r.stderr.startswith(f"ferryctl: connections: {flag} wants "),
                                r.stderr)

    def test_json_is_the_answer(self):
        r = self.srv.ctl("--json", "connections", "--state", "keepalive")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("\n"), 1, "one line, as ferryd sent it")
        answer = json.loads(r.stdout)
        self.assertEqual((answer["ok"], answer["total"]), (True, 4))
        keys = {"slot", "pid", "id", "state", "peer", "protocol", "listener", "target",
                "requests", "received", "size", "sent", "rate_bps", "avg_rate_bps", "age_s",
                "idle_ms"}
        ports = []
        for c in answer["connections"]:
            self.assertEqual(set(c), keys)
            self.assertEqual((c["state"], c["protocol"], c["target"], c["size"], c["sent"]),
                             ("keepalive", "http", "/small.txt", 100, 100))
            ports.append(int(c["peer"].rsplit(":", 1)[1]))
        self.assertEqual(sorted(ports), self.keep_ports)
        ids = [(c["pid"], c["id"]) for c in answer["connections"]]
        self.assertEqual(len(set(ids)), 3, "a process's records are numbered apart")

    def test_status_counts_them(self):
        lines = self.ctl("status")
        self.assertIn("connections 4 open  reading 0  waiting 0  keepalive 3  sending 1  "
                      "closing 0", lines)
        self.assertRegex(lines[1], r"^limits +workers 2  worker-connections 1024  ")
        # A process's state is its one connection's, or "busy" with several.
        workers = self.srv.admin_json("workers")["workers"]
        states = {}
        for w in workers:
            conns = self.srv.admin_json("connections", "--pid", w["pid"])["connections"]
            state = {0: "idle", 1: conns[0]["state"] if conns else None}.get(len(conns), "busy")
            self.assertEqual(w["state"], state)
            states[state] = states.get(state, 0) + 1
        pool = next(l for l in lines if l.startswith("pool "))
        for state, n in states.items():
            self.assertIn(f" {n} {state}", pool)
        self.assertTrue(pool.startswith("pool        2 processes: "), pool)

    def test_workers_count_connections(self):
        lines = self.ctl("workers")
        self.assertRegex(lines[0], r"^SLOT +PID +GEN +STATE +CONNS +AGE ")
        conns = 0
        for line in lines[1:]:
            m = re.match(r" +\d+ +\d+ +\d+ +(\w+) +(\d+) ", line)
            self.assertIsNotNone(m, line)
            conns += int(m.group(2))
            if int(m.group(2)) > 1:
                self.assertEqual(m.group(1), "busy")
        self.assertEqual(conns, 4)

    def test_narrow(self):
        for cols in (80, 60, 40):
            with self.subTest(cols=cols):
                lines = self.ctl("connections", env=dict(self.plain, COLUMNS=str(cols)))
                self.assertLessEqual(max(len(l) for l in lines), cols)
                rows, total = self.rows(lines)  # each peer's port whole
                self.assertEqual((len(rows), total), (4, 4))
                self.assertRegex(lines[0], r"^ +PID .*PEER +TARGET")
                for port in self.keep_ports:  # the target's extension whole too
                    self.assertRegex(rows[port], r" /s\S*\.txt ")

    def frame(self, rows, cols=100):
        rc, out, err = run_pty(["-s", self.srv.admin, "top", "--iterations", "1"], cols=cols,
                               rows=rows, env=self.plain)
        self.assertEqual(rc, 0, err)
        frame = out.split("\x1b[H\x1b[2J")[1]
        lines = lines_of(frame.rstrip("\n"))  # the line ferryctl ends on when it quits
        self.assertLessEqual(len(lines), rows)
        for line in lines:
            self.assertLessEqual(len(line), cols)
        return lines

    def test_top_shows_processes_and_connections(self):
        lines = self.frame(60)
        self.assertEqual(lines[-1], "(q quits)")
        heads = [i for i, l in enumerate(lines) if re.match(r"^ *(SLOT +)?PID ", l)]
        self.assertEqual(len(heads), 2, "the workers' table, then the connections'")
        self.assertIn("CONNS", lines[heads[0]])
        self.assertIn("IDLE", lines[heads[1]])
        self.assertEqual(lines[-2], "4 connections shown of 4 open")
        self.assertEqual(len(lines) - 3 - heads[1], 4, "a row per connection")
        # The busiest first: the rates never grow down the table.
        rates = [rate_of(l) for l in lines[heads[1] + 1:-2]]
        self.assertEqual(rates, sorted(rates, reverse=True), "\n".join(lines))
        # A window with room for two of them: two, the busiest, and the
        # total line says so; nothing else is cut off.
        full = len(lines) - 1
        lines = self.frame(full - 1)
        self.assertEqual(lines[-1], "(q quits)")
        shown = int(re.fullmatch(r"(\d) connections? shown of 4 open", lines[-2]).group(1))
        self.assertTrue(0 < shown < 4, lines[-2])
        head = max(i for i, l in enumerate(lines) if re.match(r"^ *(SLOT +)?PID ", l))
        self.assertEqual(len(lines) - 3 - head, shown)


class SlowDownload:
    """An HTTP download of a file, read by a thread at about rate bytes a
    second (16 KiB at a time) until fast is set, then at full speed to
    the end. received counts the body and head bytes read so far; cond
    is notified on each read."""

    def __init__(self, port, path, rate, cond, fast):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n\r\n"
                          .encode())
        self.buf = bytearray(self.sock.recv(4096))  # answered: under way
        assert self.buf.startswith(b"HTTP/1.1 200 "), self.buf[:40]
        self.port = self.sock.getsockname()[1]
        self.rate, self.cond, self.fast = rate, cond, fast
        self.received = len(self.buf)
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self):
        t0 = time.monotonic()
        try:
            while True:
                if not self.fast.is_set():  # the pace: no more than rate bytes a second
                    ahead = self.received / self.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        self.fast.wait(ahead)
                chunk = self.sock.recv(16 << 10 if not self.fast.is_set() else 1 << 20)
                if not chunk:
                    break
                self.buf += chunk
                with self.cond:
                    self.received += len(chunk)
                    self.cond.notify_all()
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()

    def body(self):
        head, _, body = bytes(self.buf).partition(b"\r\n\r\n")
        return head, body


class ConnectionsUnderLoad(FerryTest):
    """ferryctl connections against live transfers: six slow HTTP
    downloads, three held by each of two event workers, and two idle
    keep-alives, one on each. Rounds of reads show every transfer's bytes
    advancing, the list's length agreeing with status, and each filter
    giving its part of the whole list."""

    ROUNDS = 3
    RATE = 256 << 10  # bytes a second per download: 16 MiB lasts a minute

    def setUp(self):
        super().setUp()
        self.data = os.urandom(16 << 20)
        self.put("big", self.data)
        self.put("small.txt", b"x" * 100)
        self.srv = self.serve("event", ("--workers", "2", "--keepalive-timeout", "300"),
                              listen=["http=127.0.0.1:0"])
        self.port = self.srv.listeners[0][2]
        wait_until(lambda: len(self.srv.admin_json("workers")["workers"]) == 2,
                   what="two workers")
        self.workers = sorted(self.srv.admin_json("workers")["workers"], key=lambda w: w["slot"])
        self.cond, self.fast = threading.Condition(), threading.Event()
        self.addCleanup(self.fast.set)  # whatever happens, the readers finish quickly
        self.downloads, self.idle, self.where = [], [], {}
        for w in self.workers:
            pid = w["pid"]
            got = on_worker(self.srv, pid, lambda: SlowDownload(
                self.port, "/big", self.RATE, self.cond, self.fast), 3)
            keep = on_worker(self.srv, pid, lambda: http_keepalive(self.port, "/small.txt"), 1)
            self.downloads += got
            self.idle += keep
            for port in [d.port for d in got] + [s.getsockname()[1] for s in keep]:
                self.where[port] = pid
        for s in self.idle:
            self.addCleanup(s.close)
        for d in self.downloads:
            d.thread.start()
        self.sending = {d.port for d in self.downloads}
        self.keepalive = {s.getsockname()[1] for s in self.idle}

    def connections(self, *filters):
        """ferryctl --json connections FILTERS: (rows by peer port, total)."""
        answer = self.srv.admin_json("connections", *filters)
        rows = {}
        for c in answer["connections"]:
            host, port = c["peer"].rsplit(":", 1)
            self.assertEqual(host, "127.0.0.1")
            self.assertNotIn(int(port), rows, "a connection listed twice")
            rows[int(port)] = c
        return rows, answer["total"]

    def test_live_rows_advance_and_agree_with_status(self):
        everyone = self.sending | self.keepalive
        before = None
        for _ in range(self.ROUNDS):
            rows, total = self.connections()
            # One answer, one snapshot: its rows are its total.
            self.assertEqual((set(rows), total), (everyone, len(everyone)))
            # status is another command, so another snapshot: nobody
            # connects, leaves or finishes meanwhile (the downloads
            # last a minute at their pace, the keep-alives five minutes),
            # the two must agree exactly, and a second list taken
            # after status shows the same connections.
            st = self.srv.admin_json("status")["connections"]
            self.assertEqual(st, {"open": 8, "reading": 0, "waiting": 0, "keepalive": 2,
                                  "sending": 6, "closing": 0})
            self.assertEqual(st["open"], len(rows))
            self.assertEqual(set(self.connections()[0]), everyone)
            # The same in ferryctl's own words.
            text = self.srv.ctl("connections").stdout.splitlines()
            self.assertEqual(text[-1], "8 connections shown of 8 open")
            self.assertEqual(len(text), 1 + 8 + 1, "\n".join(text))
            self.assertIn("connections 8 open  reading 0  waiting 0  keepalive 2  sending 6  "
                          "closing 0", self.srv.ctl("status").stdout.splitlines())
            for port, c in rows.items():
                self.assertEqual(c["pid"], self.where[port])
                if port in self.sending:
                    self.assertEqual((c["state"], c["target"], c["size"]),
                                     ("sending", "/big", len(self.data)))
                    self.assertLess(c["sent"], c["size"])
                else:
                    self.assertEqual((c["state"], c["target"], c["sent"]),
                                     ("keepalive", "/small.txt", 100))
            self.check_filters(rows)
            # Progress: each transfer's count went up since the last
            # round. The server counts what it handed to the kernel,
            # at least what its client has read: once every client has
            # read past the count seen now, the next count is larger.
            if before is not None:
                for port in self.sending:
                    self.assertGreater(rows[port]["sent"], before[port]["sent"],
                                       f"the download from port {port} did not advance")
            before = rows
            with self.cond:
                self.assertTrue(self.cond.wait_for(
                    lambda: all(d.received > rows[d.port]["sent"] + (64 << 10)
                                for d in self.downloads), timeout=15),
                    "a download stalled: " + repr(
                        {d.port: (d.received, rows[d.port]["sent"]) for d in self.downloads}))
        self.fast.set()
        for d in self.downloads:
            d.thread.join(30)
            self.assertFalse(d.thread.is_alive(), "a download unfinished after 30 s")
            self.assertIsNone(d.error)
            head, body = d.body()
            self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(self.data).digest())
        # Finished: only the keep-alives are left, in status and the list.
        wait_until(lambda: self.srv.admin_json("status")["connections"]["open"] == 2,
                   what="the downloads' connections closed")
        self.assertEqual(set(self.connections()[0]), self.keepalive)

    def check_filters(self, rows):
        """Each filter's answer is the part of the whole list (rows) that
        passes it; the live figures move between the two answers, so the
        connections are compared, not the rows' bytes."""
        union = set()
        for w in self.workers:
            by_pid, total = self.connections("--pid", w["pid"])
            by_slot, _ = self.connections("--slot", w["slot"])
            mine = {p for p, c in rows.items() if c["pid"] == w["pid"]}
            self.assertEqual(set(by_pid), mine)
            self.assertEqual(set(by_slot), mine)
            self.assertEqual(mine, {p for p, pid in self.where.items() if pid == w["pid"]})
            self.assertEqual(total, len(rows), "total counts every connection, filtered or not")
            self.assertFalse(union & mine, "a connection in two workers")
            union |= mine
            for c in by_pid.values():
                self.assertEqual((c["pid"], c["slot"]), (w["pid"], w["slot"]))
        self.assertEqual(union, set(rows))
        for state, want in (("sending", self.sending), ("keepalive", self.keepalive),
                            ("reading", set()), ("closing", set())):
            got, _ = self.connections("--state", state)
            self.assertEqual(set(got), want, state)
            self.assertEqual({p for p, c in rows.items() if c["state"] == state}, want)
        for port in sorted(rows)[:3]:
            got, _ = self.connections("--peer", f"127.0.0.1:{port}")
            self.assertEqual(set(got), {port})
        self.assertEqual(set(self.connections("--peer", "127.0.0.1")[0]), set(rows))
        self.assertEqual(self.connections("--peer", "::1")[0], {})
        # Filters together: one worker's downloads.
        w = self.workers[1]
        got, _ = self.connections("--pid", w["pid"], "--state", "sending")
        self.assertEqual(set(got), {p for p in self.sending if self.where[p] == w["pid"]})


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
            conn.sendall(b'{"ok":true,"schema":1,"workers":[]}\n')
            self.assertIn(b"connections", f.readline())
            conn.shutdown(socket.SHUT_RD)  # ferryctl's side can no longer send
            conn.sendall(b'{"ok":true,"schema":1,"total":0,"connections":[]}\n')
            done.wait(30)  # until ferryctl has finished

        fake = FakeServer(handler, path=path)
        try:
            r = self.ferryctl(path, "top", "--iterations", "3", "--interval", "0.05")
        finally:
            done.set()
        fake.join()
        self.assertClosed(r)
        self.assertEqual(r.stdout.count("SLOT"), 1, "the first frame was drawn")


class OlderFerryd(FerryTest):
    """A ferryd from before the connections command: top shows what it
    has, and no connections table."""

    def test_top_without_connections(self):
        path = os.path.join(self.tmp, "older.sock")
        workers = {"ok": True, "schema": 1, "workers": [
            {"slot": 0, "pid": 7, "generation": 1, "state": "idle", "age_s": 1,
             "requests": 0, "bytes": 0}]}

        def handler(conn):
            f = conn.makefile("rb")
            self.assertIn(b'"status"', f.readline())
            conn.sendall(json.dumps(STATUS).encode() + b"\n")
            self.assertIn(b'"workers"', f.readline())
            conn.sendall(json.dumps(workers).encode() + b"\n")
            self.assertIn(b'"connections"', f.readline())
            conn.sendall(b'{"ok":false,"schema":1,"error":"unknown_command",'
                         b'"message":"no such command"}\n')
            self.assertEqual(f.readline(), b"")  # ferryctl is done

        fake = FakeServer(handler, path=path)
        r = subprocess.run([FERRYCTL, "-s", path, "top", "--iterations", "1"],
                           capture_output=True, text=True, timeout=30,
                           env=env_without("COLUMNS"))
        fake.join()
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertRegex(r.stdout, r"\nSLOT +PID +GEN +STATE +CONNS +AGE .*\n +0 +7 +1 idle +- ")
        self.assertNotIn("connections shown", r.stdout)
        self.assertNotIn("\nconnections ", r.stdout)  # nor a status line of them


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
