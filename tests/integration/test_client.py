"""The ferry client against the real ferryd (and a scripted fake server for
what ferryd never does): files land whole or not at all, and every failure
has one clear message and its documented exit code. Also its command line
(address forms, units, options anywhere), its progress bar on a pty of a
given width, and ferry-bench's share of the same argument forms."""

import fcntl
import hashlib
import os
import pty
import re
import signal
import socket
import stat
import struct
import subprocess
import termios
import threading
import time
import unittest

from ferrytest import (BIN, FERRY, FakeServer, FerryTest, ferry, read_request, recv_exact,
                       sha256_file)

FERRY_BENCH = os.path.join(BIN, "ferry-bench")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
SUMMARY = r"ferry: {}: {} in \d+\.\d\d s \(\d+(\.\d)? (B|KiB|MiB|GiB)/s\)\n"


def project_version():
    """The version CMake gives FERRY_VERSION, from the top CMakeLists.txt."""
    top = os.path.join(os.path.dirname(__file__), "..", "..", "CMakeLists.txt")
    with open(top) as f:
        return re.search(r"project\(ferry VERSION ([0-9.]+)", f.read()).group(1)


def set_columns(fd, cols, rows=24):
    """Sets a pty's window size (on either side of it)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def slurp(path):
    with open(path, "rb") as f:
        return f.read()


def visible_widths(shown):
    """The visible width of every piece of terminal output between two
    carriage returns or newlines, escape sequences taken out."""
    return [len(ANSI.sub(b"", piece)) for piece in re.split(rb"[\r\n]", shown)]


class Client(FerryTest):

    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)
        self.data = os.urandom(3 * 1024 * 1024 + 17)
        self.put("data.bin", self.data)
        self.put("hello.txt", b"hello\n")
        self.srv = self.serve("prefork", ("--workers", "2"))

    def get(self, *args, name="data.bin", max_size="1G", **kw):
        return ferry("get", *args, "127.0.0.1", self.srv.port, name, max_size, cwd=self.out, **kw)

    def assert_out_empty(self):
        self.assertEqual(os.listdir(self.out), [], "no file, no temporary left behind")

    def test_download_to_cwd(self):
        r = self.get()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(os.path.join(self.out, "data.bin")),
                         hashlib.sha256(self.data).hexdigest())
        self.assertEqual(os.listdir(self.out), ["data.bin"])
        # Not a terminal: no bar, one summary line (-q: not even that).
        self.assertRegex(r.stderr.decode(), "^" + SUMMARY.format(r"data\.bin", r"3\.0 MiB") + "$")
        self.assertEqual(self.get("-q", "-f").stderr, b"")

    def test_output_options(self):
        self.assertEqual(self.get("-o", "renamed").returncode, 0)
        self.assertEqual(open(os.path.join(self.out, "renamed"), "rb").read(), self.data)
        os.mkdir(os.path.join(self.out, "sub"))
        self.assertEqual(self.get("-o", "sub").returncode, 0)
        self.assertEqual(open(os.path.join(self.out, "sub", "data.bin"), "rb").read(), self.data)
        r = self.get("-o", "sub/")  # a trailing slash: the same place, named once
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"ferry: sub/data.bin exists", r.stderr)
        r = self.get("-o", "-")
        self.assertEqual((r.returncode, r.stdout), (0, self.data))

    def test_devices_and_fifos_are_written_not_replaced(self):
        # -o /dev/null discards, with or without -f, and leaves the device be.
        for args in (("-o", "/dev/null"), ("-f", "-o", "/dev/null")):
            r = self.get(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(stat.S_ISCHR(os.stat("/dev/null").st_mode), "still a device")
        r = self.get("-f", "-o", "/dev/full")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"No space left on device", r.stderr)
        self.assertTrue(stat.S_ISCHR(os.stat("/dev/full").st_mode), "not unlinked on failure")
        fifo = os.path.join(self.tmp, "pipe")
        os.mkfifo(fifo)
        got = []
        reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
        reader.start()
        r = self.get("-o", fifo)
        reader.join(30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(got, [self.data])
        self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode))
        self.assert_out_empty()

    def test_existing_file_needs_force(self):
        target = os.path.join(self.out, "data.bin")
        with open(target, "wb") as f:
            f.write(b"precious")
        r = self.get()
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"exists (use -f to replace it)", r.stderr)
        self.assertEqual(open(target, "rb").read(), b"precious")
        self.assertEqual(self.get("-f").returncode, 0)
        self.assertEqual(open(target, "rb").read(), self.data)
        self.assertEqual(os.listdir(self.out), ["data.bin"])

    def test_too_large_is_refused(self):
        r = self.get(max_size="10485")
        self.assertEqual(r.returncode, 4)
        self.assertEqual(r.stderr.decode().strip(),
                         f"ferry: file too large: {len(self.data)} bytes > max 10485 bytes")
        self.assert_out_empty()
        self.srv.wait_log(r'file="data.bin" status=OK bytes=0/\d+ .*refused')
        self.assertEqual(self.get(max_size="3M").returncode, 4)
        self.assertEqual(self.get(max_size="4M").returncode, 0)

    def test_server_statuses(self):
        os.mkdir(os.path.join(self.root, "adir"))
        cases = [("nope", 13, "ferry: nope: file not found"),
                 ("adir", 14, "ferry: adir: not a regular file"),
                 ("..", 12, "ferry: ..: invalid file name")]
        for name, code, message in cases:
            with self.subTest(name=name):
                r = self.get("-o", "x", name=name)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertEqual(r.stderr.decode().strip(), message)
                self.assert_out_empty()

    def test_unsafe_name_needs_output(self):
        r = self.get(name="../etc/passwd")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"not a plain file name", r.stderr)

    def test_usage_errors(self):
        port = str(self.srv.port)
        cases = [
            ([], "ferry: no command given (the command is 'get')"),
            (["put", "h", "1", "n", "1"], "ferry: unknown command 'put' (the command is 'get')"),
            (["get"], "ferry: expected HOST PORT NAME MAX_SIZE, got 0 arguments"),
            (["get", "h", "1"], "ferry: expected HOST PORT NAME MAX_SIZE, got 2 arguments"),
            (["get", "h", "1", "n", "1M", "x"],
             "ferry: expected HOST PORT NAME MAX_SIZE, got 5 arguments"),
            (["get", "h:1", "2", "n", "1M"],
             "ferry: expected HOST:PORT NAME MAX_SIZE, got 4 arguments ('h:1' already holds "
             "the port)"),
            (["get", "::1:" + port, "n", "1M"],
             "ferry: expected HOST PORT NAME MAX_SIZE, got 3 arguments (an IPv6 address with "
             "a port takes brackets: [::1]:PORT)"),
            (["get", "h", "1", "n", "1Q"],
             "ferry: MAX_SIZE '1Q' is not a size (e.g. 1048576, 512K, 10M, 10MB, 2GiB)"),
            (["get", "h", "1", "n", "18446744073709551616"],
             "ferry: MAX_SIZE '18446744073709551616' is above 2^64-1 bytes"),
            (["get", "127.0.0.1", port, "n", "1M", "--frce"], "ferry: unknown option '--frce'"),
            (["get", "-z", "h", "1", "n", "1M"], "ferry: unknown option '-z'"),
            (["get", "-fz", "h", "1", "n", "1M"], "ferry: unknown option '-z'"),
            (["get", "--quiet", "-zf", "h", "1", "n", "1M"], "ferry: unknown option '-z'"),
            (["get", "h", "1", "n", "1M", "-t"], "ferry: option '-t' needs a value"),
            (["get", "h", "1", "n", "1M", "--timeout"], "ferry: option '--timeout' needs a value"),
            (["get", "--force=yes", "h", "1", "n", "1M"],
             "ferry: option '--force' takes no value"),
            (["get", "--ver", "h", "1", "n", "1M"], "ferry: ambiguous option '--ver'"),
        ]
        for args, first in cases:
            with self.subTest(args=args):
                r = ferry(*args, cwd=self.out)
                self.assertEqual(r.returncode, 2, r.stderr)
                lines = r.stderr.decode().splitlines()
                self.assertEqual(lines[0], first)
                self.assertTrue(lines[1].startswith("usage: ferry get"), lines)
                self.assertEqual(r.stdout, b"")
                self.assert_out_empty()

    def test_help_and_version(self):
        for args in (["--help"], ["-h"], ["get", "--help"], ["get", "127.0.0.1", "1", "-h"]):
            with self.subTest(args=args):
                r = ferry(*args)
                self.assertEqual((r.returncode, r.stderr), (0, b""))
                self.assertTrue(r.stdout.startswith(b"usage: ferry get [options] HOST PORT"))
                for word in (b"--output", b"--force", b"--quiet", b"--verbose", b"--timeout",
                             b"KiB", b"KB", b"[::1]:PORT", b"exit codes"):
                    self.assertIn(word, r.stdout)
        for args in (["--version"], ["-V"], ["get", "--version"]):
            with self.subTest(args=args):
                r = ferry(*args)
                self.assertEqual((r.returncode, r.stderr), (0, b""))
                self.assertEqual(r.stdout.decode(), f"ferry {project_version()}\n")

    def test_options_anywhere(self):
        first = self.get()
        self.assertEqual(first.returncode, 0, first.stderr)
        with open(os.path.join(self.out, "data.bin"), "wb") as f:
            f.write(b"old")
        # After the operands, GNU style.
        r = ferry("get", "127.0.0.1", self.srv.port, "data.bin", "10M", "-f", cwd=self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slurp(os.path.join(self.out, "data.bin")), self.data)
        r = ferry("get", "127.0.0.1", "-o", "between", self.srv.port, "hello.txt", "1K", "-q",
                  cwd=self.out)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(slurp(os.path.join(self.out, "between")), b"hello\n")
        # Before the command too.
        r = ferry("-q", "get", "-o", "-", "127.0.0.1", self.srv.port, "hello.txt", "1K")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""))

    def test_long_options(self):
        r = ferry("get", "--output=-", "--quiet", "--timeout", "10s", "127.0.0.1", self.srv.port,
                  "hello.txt", "1K")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""))
        with open(os.path.join(self.out, "hello.txt"), "wb") as f:
            f.write(b"old")
        r = ferry("get", "--force", "--verbose", "--timeout=1m30s", "--output", "hello.txt",
                  "127.0.0.1", self.srv.port, "hello.txt", "1K", cwd=self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"> READY (0x03)", r.stderr)
        self.assertEqual(slurp(os.path.join(self.out, "hello.txt")), b"hello\n")

    def test_double_dash_ends_options(self):
        self.put("-dash", b"dashing\n")
        r = ferry("get", "127.0.0.1", self.srv.port, "-dash", "1K", cwd=self.out)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode().splitlines()[0], "ferry: unknown option '-d'")
        r = ferry("get", "-q", "127.0.0.1", self.srv.port, "--", "-dash", "1K", cwd=self.out)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(slurp(os.path.join(self.out, "-dash")), b"dashing\n")
        r = ferry("get", "-o", "-", "--", "127.0.0.1", self.srv.port, "-dash", "1K")
        self.assertEqual((r.returncode, r.stdout), (0, b"dashing\n"), r.stderr)

    def test_max_size_units(self):
        # data.bin is 3 MiB + 17 bytes = 3145745 bytes. KB and MB are decimal,
        # K, M and KiB, MiB binary, the letters in any case.
        size = len(self.data)
        cases = [("3145745", 0), ("3145744", 4), ("3145745B", 0),
                 ("3146KB", 0), ("3145KB", 4), ("3146kb", 0), ("3146kB", 0),
                 ("3073K", 0), ("3072K", 4), ("3073KiB", 0), ("3073kib", 0), ("3072KiB", 4),
                 ("4MB", 0), ("3MB", 4), ("3mb", 4), ("4M", 0), ("3M", 4), ("3MiB", 4),
                 ("1GB", 0), ("1gib", 0), ("1T", 0), ("1tb", 0)]
        for max_size, code in cases:
            with self.subTest(max_size=max_size):
                r = self.get("-q", "-o", "-", max_size=max_size)
                self.assertEqual(r.returncode, code, r.stderr)
                if code == 4:
                    self.assertIn(f"file too large: {size} bytes > max".encode(), r.stderr)

    def test_bad_timeouts_are_usage_errors(self):
        for value in ("5x", "", "-1", "0", "0s", "0ms", "5S", "5 s", "1m30", "1.5.5s",
                      "99999999999999999999999h"):
            with self.subTest(value=value):
                r = self.get("-t", value)
                self.assertEqual(r.returncode, 2, r.stderr)
                first = r.stderr.decode().splitlines()[0]
                self.assertTrue(first.startswith(f"ferry: invalid timeout '{value}'") or
                                first.startswith(f"ferry: timeout '{value}' is"), first)
                self.assert_out_empty()

    def test_address_forms(self):
        v6 = self.serve("prefork", ("--workers", "1"), address="::1")
        forms = [("127.0.0.1:%d" % self.srv.port,), ("localhost:%d" % self.srv.port,),
                 ("127.0.0.1", str(self.srv.port)), ("[::1]:%d" % v6.port,),
                 ("[::1]", str(v6.port)), ("::1", str(v6.port))]
        for address in forms:
            with self.subTest(address=address):
                r = ferry("get", "-q", "-o", "-", *address, "hello.txt", "1K")
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""))

    def test_malformed_addresses(self):
        port = str(self.srv.port)
        for host in ("[::1", "[::1]x", "[]", "[]:" + port, ":" + port, "127.0.0.1:",
                     "127.0.0.1:http", "127.0.0.1:65536", "::1]:" + port):
            with self.subTest(host=host):
                r = ferry("get", host, "hello.txt", "1K", cwd=self.out)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.decode().splitlines()[0],
                                 f"ferry: '{host}' is not a host, host:PORT or [IPv6]:PORT")
        for bad_port in ("0", "65536", "http", "", "80x", "8 0"):
            with self.subTest(port=bad_port):
                r = ferry("get", "127.0.0.1", bad_port, "hello.txt", "1K", cwd=self.out)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("PORT must be a number from 1 to 65535",
                              r.stderr.decode().splitlines()[0])
        self.assert_out_empty()

    def test_connection_refused(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # bound, not listening: connect is refused
        port = s.getsockname()[1]
        r = ferry("get", "127.0.0.1", port, "x", "1M", cwd=self.out)
        s.close()
        self.assertEqual(r.returncode, 3)
        self.assertIn(f"cannot connect to 127.0.0.1 port {port}: Connection refused".encode(),
                      r.stderr)

    def test_unresolvable_host(self):
        r = ferry("get", "no-such-host.invalid", 1, "x", "1M", cwd=self.out)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"cannot resolve no-such-host.invalid", r.stderr)

    def test_verbose_trace(self):
        r = self.get("-v", name="hello.txt")
        self.assertEqual(r.returncode, 0)
        trace = r.stderr.decode()
        for line in ('> FILE_REQUEST version=1 type=0x01 name_len=9 name="hello.txt"',
                     "< FILE_RESPONSE version=1 type=0x02 status=OK(0) size=6",
                     "> READY (0x03)", "< content: 6 bytes"):
            self.assertIn(line, trace)

    def test_ipv6_and_host_name(self):
        v6 = self.serve("prefork", ("--workers", "1"), address="::1")
        r = ferry("get", "-o", "-", "::1", v6.port, "hello.txt", "1K")
        self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), r.stderr)
        r = ferry("get", "-o", "-", "localhost", self.srv.port, "hello.txt", "1K")
        self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), r.stderr)

    def test_disk_full_on_stdout(self):
        with open("/dev/full", "wb") as full:
            r = self.get("-o", "-", stdout=full)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"writing stdout: No space left on device", r.stderr)

    def test_disk_full_leaves_nothing(self):
        small = os.path.join(self.tmp, "small")
        os.mkdir(small)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small],
                               capture_output=True)
        if mount.returncode != 0:
            self.skipTest("cannot mount a small tmpfs here: " + mount.stderr.decode().strip())
        self.addCleanup(subprocess.run, ["umount", small])
        r = ferry("get", "127.0.0.1", self.srv.port, "data.bin", "1G", cwd=small)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"No space left on device", r.stderr)
        self.assertEqual(os.listdir(small), [])

    def test_progress_bar_on_a_terminal(self):
        master, slave = pty.openpty()
        set_columns(slave, 80)
        r = subprocess.run([FERRY, "get", "127.0.0.1", str(self.srv.port), "data.bin", "1G"],
                           cwd=self.out, stderr=slave, stdout=subprocess.DEVNULL, timeout=60)
        os.close(slave)
        shown = read_pty(master)
        self.assertEqual(r.returncode, 0)
        final = ANSI.sub(b"", shown.split(b"\r")[-2])
        self.assertRegex(final.decode(), r"^100% \[#{10,40}\] 3\.0 MiB / 3\.0 MiB  .*/s  in ")
        self.assertTrue(shown.endswith(b"\x1b[K\r\n"), shown[-20:])
        self.assertTrue(max(visible_widths(shown)) < 80)
        self.assertEqual(self.get("-q", "-f").stderr, b"")

    def test_summary_line_on_a_pipe(self):
        r = self.get(name="hello.txt")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stderr.decode(), "^" + SUMMARY.format(r"hello\.txt", "6 B") + "$")
        self.assertNotIn(b"\r", r.stderr)
        self.assertNotIn(b"\x1b", r.stderr)
        # -v adds the trace; -q silences the summary, not the trace it was asked for.
        r = self.get("-v", "-f", name="hello.txt")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"> READY (0x03)", r.stderr)
        self.assertEqual(len(re.findall(SUMMARY.format(r"hello\.txt", "6 B"),
                                        r.stderr.decode())), 1)
        r = self.get("-v", "-q", "-f", name="hello.txt")
        self.assertIn(b"> READY (0x03)", r.stderr)
        self.assertNotIn(b"ferry: hello.txt:", r.stderr)
        # On failure the error is the only line.
        r = self.get(max_size="1K")
        self.assertEqual(r.returncode, 4)
        self.assertEqual(len(r.stderr.splitlines()), 1)


def read_pty(master):
    """Everything a pty shows until its last writer is gone; closes it."""
    shown = b""
    try:
        while chunk := os.read(master, 4096):
            shown += chunk
    except OSError:  # EIO once the terminal is drained
        pass
    os.close(master)
    return shown


class SlowTransfer:
    """The ferry client writing a file to a pipe that this process drains
    at about 6 MiB/s, with its stderr on a pty: a transfer that lasts over
    a second, so that the bar is redrawn a dozen times. Between two reads
    the pty is drained too, so that self.shown holds everything the client
    wrote to it so far; then on_draw(n), n the redraws seen, may act."""

    PACE = 0.01  # seconds between two reads of at most 64 KiB: paces, never synchronises

    def __init__(self, port, name, cols=None, env=None, on_draw=None):
        self.master, slave = pty.openpty()
        if cols is not None:
            set_columns(slave, cols)
        self.proc = subprocess.Popen([FERRY, "get", "-o", "-", "127.0.0.1", str(port), name, "1G"],
                                     stdout=subprocess.PIPE, stderr=slave,
                                     stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.shown = b""
        self.on_draw = on_draw

    def drain(self):
        """Reads what the pty holds; False once the client closed it."""
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except BlockingIOError:
                return True
            except OSError:  # EIO: no writer left and nothing to read
                return False
            if not chunk:
                return False
            self.shown += chunk

    def run(self, timeout=60):
        """Drains the output; returns (exit code, bytes received)."""
        deadline = time.monotonic() + timeout
        data = bytearray()
        try:
            while chunk := os.read(self.proc.stdout.fileno(), 65536):
                data += chunk
                self.drain()
                if self.on_draw:
                    self.on_draw(self.shown.count(b"\r"))
                if time.monotonic() > deadline:
                    raise AssertionError("slow transfer still running after %ss" % timeout)
                time.sleep(self.PACE)
            rc = self.proc.wait(timeout=10)
            os.set_blocking(self.master, True)
            self.drain()
            return rc, bytes(data)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc.stdout.close()
            os.close(self.master)


class ProgressBar(FerryTest):
    """The bar on a real terminal (a pty) at several widths."""

    def setUp(self):
        super().setUp()
        self.data = os.urandom(8 << 20)
        self.put("slow.bin", self.data)
        self.srv = self.serve("prefork", ("--workers", "1"))

    def transfer(self, **kw):
        t = SlowTransfer(self.srv.port, "slow.bin", **kw)
        rc, data = t.run()
        self.assertEqual(rc, 0)
        self.assertEqual(data, self.data)
        self.assertGreaterEqual(t.shown.count(b"\r"), 5, "redrawn several times")
        return t.shown

    def assert_fits(self, shown, cols):
        widths = visible_widths(shown)
        self.assertLess(max(widths), cols, [w for w in widths if w >= cols])
        # Every redraw starts with \r and clears what a longer one left.
        for draw in shown.split(b"\r")[1:]:
            if draw.strip(b"\n"):
                self.assertTrue(draw.rstrip(b"\n").endswith(b"\x1b[K"), draw)

    def test_bar_fits_the_width(self):
        for cols in (120, 80, 40, 20):
            with self.subTest(cols=cols):
                shown = self.transfer(cols=cols)
                self.assert_fits(shown, cols)
                final = ANSI.sub(b"", shown.split(b"\r")[-2]).decode()
                self.assertTrue(final.startswith("100%"), final)
                if cols >= 80:  # room for everything: a bar, bytes, rate, ETA
                    self.assertRegex(ANSI.sub(b"", shown).decode(),
                                     r"\d+% \[#* *\] \d.* / 8\.0 MiB  .*/s  ETA \d+:\d\d")
                if cols == 40:  # the bar shrinks, the time and rate go
                    self.assertRegex(final, r"^100% \[#{10,}\] 8\.0 MiB / 8\.0 MiB$")
                if cols == 20:  # then the bar, then the total
                    self.assertEqual(final, "100% 8.0 MiB")

    def test_bar_follows_a_resize(self):
        marks = {}

        def shrink(draws):
            if "at" not in marks and draws >= 3:
                set_columns(t.master, 30)  # no SIGWINCH: the pty is not its terminal
                marks["at"] = len(t.shown)
        t = SlowTransfer(self.srv.port, "slow.bin", cols=120, on_draw=shrink)
        rc, data = t.run()
        self.assertEqual((rc, data == self.data), (0, True))
        self.assertIn("at", marks)
        before, after = t.shown[:marks["at"]], t.shown[marks["at"]:]
        self.assertTrue(max(visible_widths(before)) > 40, "wide at first")
        # One redraw may have measured the width just before the resize:
        # skip it, every later one fits.
        later = b"\r".join(after.split(b"\r")[2:])
        self.assertGreaterEqual(later.count(b"\r"), 3)
        self.assert_fits(later, 30)

    def test_columns_variable_without_a_window_size(self):
        env = dict(os.environ, COLUMNS="50")
        shown = self.transfer(cols=None, env=env)  # a pty's size is 0x0 until set
        self.assert_fits(shown, 50)
        self.assertTrue(max(visible_widths(shown)) > 40, "the width is used")

class ClientAgainstFakes(FerryTest):
    """Answers a correct ferryd never gives."""

    def run_against(self, handler, *args, max_size="1G"):
        fake = FakeServer(handler)
        r = ferry("get", *args, "127.0.0.1", fake.port, "f", max_size, cwd=self.tmp)
        fake.join()
        return r

    def left(self):
        return sorted(set(os.listdir(self.tmp)) - {"root"})

    def test_truncated_transfer(self):
        def short(conn):
            read_request(conn)
            conn.sendall(struct.pack(">BBBQ", 1, 2, 0, 1000))
            self.assertEqual(recv_exact(conn, 1), b"\x03")
            conn.sendall(b"x" * 500)
        r = self.run_against(short)
        self.assertEqual(r.returncode, 5)
        self.assertIn(b"truncated transfer: received 500 of 1000 bytes", r.stderr)
        self.assertEqual(self.left(), [], "the partial file is removed")

    def test_version_mismatch(self):
        def future(conn):
            read_request(conn)
            conn.sendall(struct.pack(">BBBQ", 2, 2, 1, 0))
        r = self.run_against(future)
        self.assertEqual(r.returncode, 11)
        self.assertEqual(r.stderr.decode().strip(),
                         "ferry: protocol version mismatch (server speaks 2)")

    def test_other_response_versions_are_refused(self):
        # Whatever the status says: in another version it means nothing.
        for version in (0, 2, 255):
            with self.subTest(version=version):
                got = []

                def other(conn):
                    read_request(conn)
                    conn.sendall(struct.pack(">BBBQ", version, 2, 0, 5))
                    got.append(recv_exact(conn, 1))  # READY would be a mistake
                    conn.sendall(b"xxxxx")
                r = self.run_against(other)
                self.assertEqual(r.returncode, 11, r.stderr)
                self.assertEqual(r.stderr.decode().strip(),
                                 f"ferry: protocol version mismatch (server speaks {version})")
                self.assertEqual(got, [b""], "no READY: the client closed")
                self.assertEqual(self.left(), [], "no file left behind")

    def test_an_http_server_is_not_a_version_mismatch(self):
        def http(conn):
            read_request(conn)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        r = self.run_against(http)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(r.stderr.decode().strip(),
                         'ferry: not a ferry server? its answer starts with 0x48 0x54 ("HT")')
        self.assertEqual(self.left(), [])

    def test_malformed_answers(self):
        for answer in (struct.pack(">BBBQ", 1, 9, 0, 1), struct.pack(">BBBQ", 1, 2, 99, 0),
                       struct.pack(">BBBQ", 1, 2, 3, 5), b"\x01\x02"):
            with self.subTest(answer=answer):
                def bad(conn):
                    read_request(conn)
                    conn.sendall(answer)
                r = self.run_against(bad)
                self.assertEqual(r.returncode, 5, r.stderr)
                self.assertEqual(self.left(), [])

    def test_stalled_server_times_out(self):
        release = threading.Event()
        def stall(conn):
            read_request(conn)
            release.wait(30)
        fake = FakeServer(stall)
        r = ferry("get", "-t", "1", "127.0.0.1", fake.port, "f", "1G", cwd=self.tmp)
        release.set()
        fake.join()
        self.assertEqual(r.returncode, 5)
        self.assertIn(b"timed out", r.stderr)

    def test_timeout_units(self):
        # 500ms is half a second (it used to be read as 500 seconds).
        for value, low, high in (("500ms", 0.45, 10), ("0.5s", 0.45, 10), ("1s", 0.95, 10)):
            with self.subTest(value=value):
                release = threading.Event()

                def stall(conn):
                    read_request(conn)
                    release.wait(30)
                fake = FakeServer(stall)
                t0 = time.monotonic()
                r = ferry("get", "-t", value, "127.0.0.1", fake.port, "f", "1G", cwd=self.tmp,
                          timeout=20)
                took = time.monotonic() - t0
                release.set()
                fake.join()
                self.assertEqual(r.returncode, 5, r.stderr)
                self.assertIn(b"waiting for the answer: timed out", r.stderr)
                self.assertTrue(low <= took < high, f"-t {value} took {took:.2f}s")

    def test_interrupted_download_leaves_nothing(self):
        started = threading.Event()
        release = threading.Event()
        def slow(conn):
            read_request(conn)
            conn.sendall(struct.pack(">BBBQ", 1, 2, 0, 1 << 30))
            recv_exact(conn, 1)
            conn.sendall(b"y" * 65536)
            started.set()
            release.wait(30)
        fake = FakeServer(slow)
        proc = subprocess.Popen([FERRY, "get", "127.0.0.1", str(fake.port), "f", "2G"],
                                cwd=self.tmp, stderr=subprocess.DEVNULL)
        self.assertTrue(started.wait(30))
        # The temporary file exists while the transfer runs...
        temp = [n for n in self.left() if n.startswith(".f.ferry-")]
        self.assertEqual(len(temp), 1, self.left())
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=30), -signal.SIGINT)
        release.set()
        fake.join()
        self.assertEqual(self.left(), [], "...and is gone after SIGINT")


class Bench(FerryTest):
    """ferry-bench takes the same address and duration forms as ferry."""

    def test_address_forms_and_duration(self):
        self.put("4K", b"x" * 4096)
        v4 = self.serve("prefork", ("--workers", "1"))
        v6 = self.serve("prefork", ("--workers", "1"), address="::1")
        for args in (("-n", "3", "127.0.0.1", v4.port), ("-n", "3", f"127.0.0.1:{v4.port}"),
                     ("-n", "3", f"[::1]:{v6.port}"), ("-n", "3", "[::1]", v6.port),
                     ("-d", "300ms", f"127.0.0.1:{v4.port}")):
            with self.subTest(args=args):
                t0 = time.monotonic()
                r = subprocess.run([FERRY_BENCH, *map(str, args), "4K"], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertRegex(r.stdout, r"RESULT .* errors=0 requests=[1-9]")
                self.assertLess(time.monotonic() - t0, 10)
        for args in (("-d", "5x", "127.0.0.1", v4.port), ("127.0.0.1:1", "2"), ("[::1", "1"),
                     ("127.0.0.1", "0")):
            with self.subTest(args=args):
                r = subprocess.run([FERRY_BENCH, *map(str, args), "4K"], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    unittest.main()
