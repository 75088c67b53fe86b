"""The ferry client against the real ferryd (and a scripted fake server for
what ferryd never does): files land whole or not at all, and every failure
has one clear message and its documented exit code. GET by default, with
the fallback to FILE_REQUEST for older servers; -c resume, --rate, --many
and ls. Also its command line (address forms, units, options anywhere),
its progress bar on a pty of a given width, and ferry-bench's share of the
same argument forms and its two request modes."""

import fcntl
import hashlib
import json
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

from ferrytest import (BIN, FERRY, FakeServer, FerryTest, ferry, recv_exact, sha256_file,
                       wait_until)

FERRY_BENCH = os.path.join(BIN, "ferry-bench")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
SUMMARY = r"ferry: {}: {} in \d+\.\d\d s \(\d+(\.\d)? (B|KiB|MiB|GiB)/s\)\n"


FILE_REQUEST, LIST, GET = 0x01, 0x05, 0x07
OK, BAD_REQUEST, TOO_LARGE, BAD_OFFSET = 0, 6, 8, 9


def read_any(conn):
    """Reads one request of any type: returns (type, name, offset, max_size);
    type None when the client closed first."""
    head = recv_exact(conn, 2)
    if len(head) < 2:
        return None, b"", 0, 0
    if head[1] == GET:
        n, offset, max_size = struct.unpack(">HQQ", recv_exact(conn, 18))
        return GET, recv_exact(conn, n), offset, max_size
    n = struct.unpack(">H", recv_exact(conn, 2))[0]
    return head[1], recv_exact(conn, n), 0, 0


def response(status, size=0, version=1):
    """A FILE_RESPONSE."""
    return struct.pack(">BBBQ", version, 2, status, size)


def record(name, size, mtime, kind=0):
    """One LIST record."""
    name = name.encode() if isinstance(name, str) else name
    return struct.pack(">H", len(name)) + name + struct.pack(">QqB", size, mtime, kind)


def send_quietly(conn, data):
    """sendall() to a client that may already have gone (it decided)."""
    try:
        conn.sendall(data)
    except OSError:
        pass


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


def human(n):
    """A byte count as ferry prints it: "512 B", "31.2 MiB"."""
    if n < 1024:
        return f"{n} B"
    v, unit = n / 1024, 0
    while v >= 1024 and unit < 5:
        v, unit = v / 1024, unit + 1
    return f"{v:.1f} {('KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB')[unit]}"


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
        # GET says TOO_LARGE at once; FILE_REQUEST (an older server) is refused.
        self.srv.wait_log(r'file="data.bin" status=(TOO_LARGE|OK bytes=0/\d+ .*refused)')
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
            ([], "ferry: no command given (the commands are 'get', 'ls', 'echo', 'upcase', "
                 "'daytime', 'lottery' and 'hub')"),
            (["put", "h", "1", "n", "1"],
             "ferry: unknown command 'put' (the commands are 'get', 'ls', 'echo', 'upcase', "
             "'daytime', 'lottery' and 'hub')"),
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
        self.assertIn(b"> GET version=1", r.stderr)
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
        for line in ('> GET version=1 type=0x07 name_len=9 offset=0 max_size=1073741824 '
                     'name="hello.txt"',
                     "< FILE_RESPONSE version=1 type=0x02 status=OK(0) size=6",
                     "< content: 6 bytes"):
            self.assertIn(line, trace)
        # One round trip: no READY, no second request.
        self.assertNotIn("READY", trace)
        self.assertNotIn("FILE_REQUEST", trace)

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
        self.assertIn(b"> GET version=1", r.stderr)
        self.assertEqual(len(re.findall(SUMMARY.format(r"hello\.txt", "6 B"),
                                        r.stderr.decode())), 1)
        r = self.get("-v", "-q", "-f", name="hello.txt")
        self.assertIn(b"> GET version=1", r.stderr)
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
    """Answers a correct ferryd never gives, and the older servers' ones."""

    def run_against(self, handler, *args, max_size="1G", n=1, name="f"):
        fake = FakeServer(handler, n=n)
        r = ferry("get", *args, "127.0.0.1", fake.port, name, max_size, cwd=self.tmp)
        fake.join()
        return r

    def left(self):
        return sorted(set(os.listdir(self.tmp)) - {"root"})

    def test_truncated_transfer(self):
        def short(conn):
            self.assertEqual(read_any(conn)[0], GET)
            conn.sendall(response(OK, 1000) + b"x" * 500)
        r = self.run_against(short)
        self.assertEqual(r.returncode, 5)
        self.assertEqual(r.stderr.decode().strip(),
                         "ferry: truncated transfer: received 500 of 1000 bytes")
        self.assertEqual(self.left(), [], "the partial file is removed")

    def test_version_mismatch(self):
        def future(conn):
            read_any(conn)
            conn.sendall(response(1, version=2))
        r = self.run_against(future)
        self.assertEqual(r.returncode, 11)
        self.assertEqual(r.stderr.decode().strip(),
                         "ferry: protocol version mismatch (server speaks 2)")

    def test_other_response_versions_are_refused(self):
        # Whatever the status says: in another version it means nothing,
        # and the content that follows is not written anywhere.
        for version in (0, 2, 255):
            with self.subTest(version=version):
                def other(conn):
                    read_any(conn)
                    send_quietly(conn, response(OK, 5, version=version) + b"xxxxx")
                r = self.run_against(other)
                self.assertEqual(r.returncode, 11, r.stderr)
                self.assertEqual(r.stderr.decode().strip(),
                                 f"ferry: protocol version mismatch (server speaks {version})")
                self.assertEqual(self.left(), [], "no file left behind")

    def test_an_http_server_is_not_a_version_mismatch(self):
        def http(conn):
            read_any(conn)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        r = self.run_against(http)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(r.stderr.decode().strip(),
                         'ferry: not a ferry server? its answer starts with 0x48 0x54 ("HT")')
        self.assertEqual(self.left(), [])

    def test_malformed_answers(self):
        # Wrong type, unknown status, a size on NOT_FOUND, a short answer.
        for answer in (struct.pack(">BBBQ", 1, 9, 0, 1), response(99), response(3, 5),
                       b"\x01\x02"):
            with self.subTest(answer=answer):
                def bad(conn):
                    read_any(conn)
                    conn.sendall(answer)
                r = self.run_against(bad)
                self.assertEqual(r.returncode, 5, r.stderr)
                self.assertEqual(self.left(), [])

    def test_stalled_server_times_out(self):
        release = threading.Event()
        def stall(conn):
            read_any(conn)
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
                    read_any(conn)
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

    def interrupted(self, *args, sig=signal.SIGINT):
        """A download of 1 GiB that stops after 64 KiB; sig then. Returns
        what the directory held while it ran, and what ferry said."""
        release = threading.Event()
        def slow(conn):
            read_any(conn)
            conn.sendall(response(OK, 1 << 30) + b"y" * 65536)
            release.wait(30)
        fake = FakeServer(slow)
        proc = subprocess.Popen([FERRY, "get", *args, "127.0.0.1", str(fake.port), "f", "2G"],
                                cwd=self.tmp, stderr=subprocess.PIPE)
        try:
            # The file grows as the bytes arrive: then it is mid-transfer.
            def written():
                files = self.left()
                return files if files and os.path.getsize(
                    os.path.join(self.tmp, files[0])) == 65536 else None
            during = wait_until(written, what="the first 64 KiB written")
            proc.send_signal(sig)
            # Killed by the signal, as before: the shell says 130 or 143.
            self.assertEqual(proc.wait(timeout=30), -sig)
            said = proc.stderr.read().decode()
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
            proc.stderr.close()
            fake.join()
        return during, said

    def test_interrupted_download_leaves_nothing(self):
        during, said = self.interrupted()
        self.assertEqual(len(during), 1, during)
        self.assertTrue(during[0].startswith(".f.ferry-"), during)
        self.assertEqual(self.left(), [], "the temporary file is gone after SIGINT")
        self.assertNotIn("kept", said)

    def test_interrupted_download_with_continue_keeps_the_part(self):
        during, said = self.interrupted("-c")
        self.assertEqual(during, ["f.part"])
        self.assertEqual(self.left(), ["f.part"], "kept for the next -c")
        self.assertEqual(slurp(os.path.join(self.tmp, "f.part")), b"y" * 65536)
        self.assertEqual(said, "ferry: interrupted; 64.0 KiB kept in f.part (ferry get -c resumes)\n")

    def test_terminated_download_with_continue_says_so_once(self):
        during, said = self.interrupted("-c", "-q", sig=signal.SIGTERM)
        self.assertEqual(self.left(), ["f.part"])
        self.assertEqual(said, "ferry: terminated; 64.0 KiB kept in f.part (ferry get -c resumes)\n")

    def test_fallback_to_file_request(self):
        """An older server answers GET with BAD_REQUEST: asked again, once,
        with FILE_REQUEST + READY."""
        seen = []
        def old(conn):
            mtype, name, _, _ = read_any(conn)
            seen.append((mtype, name))
            if mtype != FILE_REQUEST:
                conn.sendall(response(BAD_REQUEST))
                return
            conn.sendall(response(OK, 6))
            self.assertEqual(recv_exact(conn, 1), b"\x03")
            conn.sendall(b"hello\n")
        r = self.run_against(old, "-v", n=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(seen, [(GET, b"f"), (FILE_REQUEST, b"f")])
        self.assertEqual(slurp(os.path.join(self.tmp, "f")), b"hello\n")
        trace = r.stderr.decode()
        self.assertIn("status=BAD_REQUEST(6)", trace)
        self.assertIn("* the server predates GET: asking again with FILE_REQUEST", trace)
        self.assertIn("> READY (0x03)", trace)

    def test_fallback_happens_once(self):
        # BAD_REQUEST to FILE_REQUEST too: that is the answer (exit 16).
        seen = []
        def refuse(conn):
            seen.append(read_any(conn)[0])
            conn.sendall(response(BAD_REQUEST))
        r = self.run_against(refuse, n=2)
        self.assertEqual(r.returncode, 16, r.stderr)
        self.assertEqual(r.stderr.decode().strip(), "ferry: f: bad request")
        self.assertEqual(seen, [GET, FILE_REQUEST])
        self.assertEqual(self.left(), [])

    def test_fallback_with_continue_starts_over(self):
        # An older server cannot resume: the .part is rewritten whole.
        with open(os.path.join(self.tmp, "f.part"), "wb") as f:
            f.write(b"stale")
        def old(conn):
            if read_any(conn)[0] != FILE_REQUEST:
                conn.sendall(response(BAD_REQUEST))
                return
            conn.sendall(response(OK, 6))
            recv_exact(conn, 1)
            conn.sendall(b"hello\n")
        r = self.run_against(old, "-c", n=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.left(), ["f"])
        self.assertEqual(slurp(os.path.join(self.tmp, "f")), b"hello\n")

    def test_complete_output_against_an_old_server(self):
        # No GET, so no offset to ask with: FILE_REQUEST tells the size,
        # REFUSE declines the content.
        with open(os.path.join(self.tmp, "f"), "wb") as f:
            f.write(b"hello\n")
        seen = []
        def old(conn):
            mtype = read_any(conn)[0]
            seen.append(mtype)
            if mtype != FILE_REQUEST:
                conn.sendall(response(BAD_REQUEST))
                return
            conn.sendall(response(OK, 6))
            seen.append(recv_exact(conn, 1))
        r = self.run_against(old, "-c", n=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.decode(), "ferry: f: already complete (6 B in f)\n")
        self.assertEqual(seen, [GET, FILE_REQUEST, b"\x04"])
        self.assertEqual(self.left(), ["f"])

    def test_get_too_large_says_the_real_size(self):
        seen = []
        def big(conn):
            seen.append(read_any(conn))
            conn.sendall(response(TOO_LARGE, 123456789))
        r = self.run_against(big, max_size="1M")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(r.stderr.decode().strip(),
                         "ferry: file too large: 123456789 bytes > max 1048576 bytes")
        self.assertEqual(seen, [(GET, b"f", 0, 1 << 20)], "MAX_SIZE travels as max_size")
        self.assertEqual(self.left(), [])

    def test_server_ignoring_max_size_is_still_refused(self):
        def careless(conn):
            read_any(conn)
            send_quietly(conn, response(OK, 5000) + b"z" * 5000)
        r = self.run_against(careless, max_size="1K")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(self.left(), [])

    def test_bad_offset_keeps_the_part(self):
        """The .part is longer than the file now is: the file changed. ferry
        stops (exit 19) and keeps the .part rather than guess."""
        part = os.path.join(self.tmp, "f.part")
        with open(part, "wb") as f:
            f.write(b"p" * 100)
        seen = []
        def shrunk(conn):
            seen.append(read_any(conn))
            conn.sendall(response(BAD_OFFSET, 40))
        r = self.run_against(shrunk, "-c")
        self.assertEqual(r.returncode, 19, r.stderr)
        self.assertEqual(seen, [(GET, b"f", 100, 1 << 30)])
        self.assertEqual(r.stderr.decode().strip(),
                         "ferry: the file changed on the server: it is 40 bytes, fewer than the "
                         "100 in f.part; remove f.part (or drop -c) to fetch it afresh")
        self.assertEqual(self.left(), ["f.part"])
        self.assertEqual(slurp(part), b"p" * 100)

    def test_part_kept_only_with_continue(self):
        data = os.urandom(100000)
        def half(conn):
            _, _, offset, _ = read_any(conn)
            send_quietly(conn, response(OK, len(data)) + data[offset:offset + 50000])
        r = self.run_against(half)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(self.left(), [], "without -c the partial file goes")
        r = self.run_against(half, "-c")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(r.stderr.decode(), "ferry: truncated transfer: received 50000 of 100000 "
                         "bytes; 48.8 KiB kept in f.part (ferry get -c resumes)\n")
        self.assertEqual(self.left(), ["f.part"])
        self.assertEqual(slurp(os.path.join(self.tmp, "f.part")), data[:50000])
        # Without -c an existing .part is left alone (and the download is whole).
        def whole(conn):
            read_any(conn)
            conn.sendall(response(OK, len(data)) + data)
        r = self.run_against(whole)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.left(), ["f", "f.part"])
        self.assertEqual(slurp(os.path.join(self.tmp, "f.part")), data[:50000])
        # With -c it is resumed from its length, then renamed into place.
        os.unlink(os.path.join(self.tmp, "f"))
        seen = []
        def rest(conn):
            _, _, offset, _ = read_any(conn)
            seen.append(offset)
            conn.sendall(response(OK, len(data)) + data[offset:])
        r = self.run_against(rest, "-c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(seen, [50000])
        self.assertEqual(self.left(), ["f"])
        self.assertEqual(slurp(os.path.join(self.tmp, "f")), data)

    def test_continue_needs_a_file(self):
        for output in ("-", "/dev/null"):
            with self.subTest(output=output):
                r = ferry("get", "-c", "-o", output, "127.0.0.1", "1", "f", "1K", cwd=self.tmp)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"-c needs a file to write into", r.stderr)


class ListAgainstFakes(FerryTest):
    """ferry ls against scripted answers: escaping, old servers, short lists."""

    def ls(self, handler, *args, host="127.0.0.1"):
        fake = FakeServer(handler, host=host)
        address = f"[{host}]:{fake.port}" if ":" in host else f"{host}:{fake.port}"
        r = ferry("ls", *args, address)
        fake.join()
        return r

    def listing(self, records, count=None, tail=b""):
        """A handler answering LIST with these records."""
        def answer(conn):
            self.assertEqual(recv_exact(conn, 4), b"\x01\x05\x00\x00")
            n = len(records) if count is None else count
            conn.sendall(struct.pack(">BBBI", 1, 6, 0, n) + b"".join(records) + tail)
        return answer

    def test_table_and_json_escape_names(self):
        mtime = 1700000000
        records = [record('a"b\\c', 3, mtime), record("big", 5 << 30, -86400),
                   record("dir", 0, mtime, kind=1), record("esc\x1b[2J", 1536, mtime)]
        r = self.ls(self.listing(records), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got, [{"name": 'a"b\\c', "size": 3, "mtime": mtime},
                               {"name": "big", "size": 5 << 30, "mtime": -86400},
                               {"name": "esc\x1b[2J", "size": 1536, "mtime": mtime}],
                         "a kind this client cannot fetch is left out")
        self.assertNotIn(b"\x1b", r.stdout)
        r = self.ls(self.listing(records))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))
        self.assertEqual(lines[0].split(), ["SIZE", "MODIFIED", "NAME"])
        self.assertEqual(lines[1].split(), ["3", "B", *when.split(), 'a"b\\c'])
        self.assertEqual(lines[2].split()[:2], ["5.0", "GiB"])
        self.assertEqual(lines[3].split(), ["1.5", "KiB", *when.split(), "esc\\x1b[2J"])
        self.assertEqual(len(lines), 4)

    def test_empty_listing(self):
        r = self.ls(self.listing([]), "--json")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, []))
        r = self.ls(self.listing([]))
        self.assertEqual((r.returncode, r.stdout), (0, b""))

    def test_server_without_list(self):
        def old(conn):
            recv_exact(conn, 4)
            conn.sendall(response(BAD_REQUEST))
        r = self.ls(old)
        self.assertEqual(r.returncode, 16)
        self.assertEqual(r.stderr.decode().strip(), "ferry: server does not support LIST")
        self.assertEqual(r.stdout, b"")

    def test_truncated_listing_prints_nothing(self):
        records = [record("a", 1, 0), record("b", 2, 0)]
        r = self.ls(self.listing(records, count=3), "--json")
        self.assertEqual(r.returncode, 5)
        self.assertEqual(r.stderr.decode().strip(),
                         "ferry: truncated listing: received 2 of 3 records")
        self.assertEqual(r.stdout, b"", "no half array for a script to parse")

    def test_malformed_listings(self):
        cases = [(struct.pack(">BBBI", 1, 6, 7, 2), 5),    # an error status with a count
                 (struct.pack(">BBBI", 1, 6, 7, 0), 17),   # SERVER_ERROR
                 (struct.pack(">BBBI", 2, 6, 0, 0), 11),   # another version
                 (struct.pack(">BBBI", 1, 6, 0, 1) + b"\x00\x00" + b"\x00" * 17, 5),  # name_len 0
                 (response(OK, 0), 5)]                    # a FILE_RESPONSE saying OK
        for answer, code in cases:
            with self.subTest(answer=answer):
                def bad(conn):
                    recv_exact(conn, 4)
                    conn.sendall(answer)
                r = self.ls(bad)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertEqual(r.stdout, b"")

    def test_ipv6(self):
        r = self.ls(self.listing([record("six", 6, 0)]), "--json", host="::1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [{"name": "six", "size": 6, "mtime": 0}])


class GetListResume(FerryTest):
    """GET, -c, --rate, --many and ls against the real ferryd."""

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

    def path(self, name):
        return os.path.join(self.out, name)

    def test_get_is_one_round_trip(self):
        r = self.get("-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(self.path("data.bin")), hashlib.sha256(self.data).hexdigest())
        trace = r.stderr.decode()
        self.assertIn("> GET version=1 type=0x07 name_len=8 offset=0 max_size=1073741824", trace)
        self.assertIn(f"< FILE_RESPONSE version=1 type=0x02 status=OK(0) size={len(self.data)}",
                      trace)
        self.assertNotIn("BAD_REQUEST", trace, "the server knows GET: no fallback")
        self.assertNotIn("READY", trace)

    def test_resume_after_a_cut(self):
        # A deterministic cut: a fake server sends the first half, then closes.
        half = len(self.data) // 2
        def cut(conn):
            self.assertEqual(read_any(conn)[:3], (GET, b"data.bin", 0))
            send_quietly(conn, response(OK, len(self.data)) + self.data[:half])
        fake = FakeServer(cut)
        r = ferry("get", "-c", "127.0.0.1", fake.port, "data.bin", "1G", cwd=self.out)
        fake.join()
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(os.listdir(self.out), ["data.bin.part"])
        self.assertEqual(os.path.getsize(self.path("data.bin.part")), half)
        # The real server sends the rest, and only the rest.
        r = self.get("-c", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        trace = r.stderr.decode()
        self.assertIn(f"> GET version=1 type=0x07 name_len=8 offset={half} ", trace)
        self.assertIn(f"< content: {len(self.data) - half} bytes", trace)
        self.assertIn("resumed at 1.5 MiB", trace)
        self.assertEqual(os.listdir(self.out), ["data.bin"])
        self.assertEqual(sha256_file(self.path("data.bin")), hashlib.sha256(self.data).hexdigest())

    def test_resume_of_a_complete_part(self):
        with open(self.path("hello.txt.part"), "wb") as f:
            f.write(b"hello\n")
        r = self.get("-c", "-v", name="hello.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"offset=6 ", r.stderr)
        self.assertIn(b"< content: 0 bytes", r.stderr)
        self.assertEqual(os.listdir(self.out), ["hello.txt"])
        self.assertEqual(slurp(self.path("hello.txt")), b"hello\n")

    def test_resume_when_the_file_shrank(self):
        with open(self.path("hello.txt.part"), "wb") as f:
            f.write(b"a much longer old version\n")
        r = self.get("-c", name="hello.txt")
        self.assertEqual(r.returncode, 19, r.stderr)
        self.assertIn(b"the file changed on the server: it is 6 bytes, fewer than the 26 in "
                      b"hello.txt.part", r.stderr)
        self.assertEqual(os.listdir(self.out), ["hello.txt.part"])

    def slow_get(self, *args):
        """ferry get -c at 512 KiB/s of data.bin, in the background."""
        return subprocess.Popen([FERRY, "get", "-c", "--rate", "512K", *args, "127.0.0.1",
                                 str(self.srv.port), "data.bin", "1G"], cwd=self.out,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

    def part_has(self, least):
        def grown():
            try:
                return os.path.getsize(self.path("data.bin.part")) >= least
            except FileNotFoundError:
                return False
        wait_until(grown, what=f"{least} bytes in data.bin.part")

    def test_interrupted_resume_says_what_is_kept(self):
        """Ctrl-C, then SIGTERM, then a -c that finishes: each stop says
        once how much the .part keeps; the exit is the signal's."""
        for sig, why, least in ((signal.SIGINT, "interrupted", 256 << 10),
                                (signal.SIGTERM, "terminated", 1 << 20)):
            with self.subTest(sig=sig):
                proc = self.slow_get()
                try:
                    self.part_has(least)
                    proc.send_signal(sig)
                    _, err = proc.communicate(timeout=30)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                self.assertEqual(proc.returncode, -sig, err)
                kept = os.path.getsize(self.path("data.bin.part"))
                self.assertLess(kept, len(self.data))
                self.assertEqual(err.decode(), f"ferry: {why}; {human(kept)} kept in "
                                 "data.bin.part (ferry get -c resumes)\n")
                self.assertEqual(slurp(self.path("data.bin.part")), self.data[:kept])
        r = self.get("-c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(b"kept", r.stderr)
        self.assertEqual(os.listdir(self.out), ["data.bin"])
        self.assertEqual(slurp(self.path("data.bin")), self.data)

    def test_failed_resume_says_what_is_kept(self):
        """The worker dies mid-transfer: the failure's message and exit
        code, then what the .part keeps; the next -c finishes."""
        proc = self.slow_get()
        try:
            self.part_has(256 << 10)
            worker = next(w["pid"] for w in self.srv.admin_json("workers")["workers"]
                          if "transfer" in w)
            os.kill(worker, signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 5, err)
        kept = os.path.getsize(self.path("data.bin.part"))
        self.assertRegex(err.decode(), rf"^ferry: truncated transfer: received {kept} of "
                         rf"{len(self.data)} bytes(: [^;]+)?; {re.escape(human(kept))} kept in "
                         r"data\.bin\.part \(ferry get -c resumes\)\n$")
        r = self.get("-c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slurp(self.path("data.bin")), self.data)

    def test_continue_on_a_complete_output(self):
        """curl -C - and wget -c say "nothing to do": so does -c, once the
        server's size says the output is complete."""
        self.assertEqual(self.get().returncode, 0)
        before = os.stat(self.path("data.bin"))
        r = self.get("-c", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        said = r.stderr.decode()
        self.assertIn(f"> GET version=1 type=0x07 name_len=8 offset={len(self.data)} ", said)
        self.assertIn(f"status=OK(0) size={len(self.data)}", said)
        self.assertTrue(said.endswith("ferry: data.bin: already complete (3.0 MiB in data.bin)\n"),
                        said)
        self.assertNotIn("content", said)
        after = os.stat(self.path("data.bin"))
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns))
        self.assertEqual(os.listdir(self.out), ["data.bin"])
        r = self.get("-c", "-q")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        # With --many, a line for each file, like the summary's.
        r = ferry("get", "--many", "-c", "127.0.0.1", self.srv.port, "1G", "data.bin",
                  "hello.txt", cwd=self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stderr.decode().splitlines()
        self.assertEqual(lines[0], "ferry: data.bin: already complete (3.0 MiB in data.bin)")
        self.assertRegex(lines[1], "^" + SUMMARY.format(r"hello\.txt", "6 B")[:-2] + "$")

    def test_continue_on_an_incomplete_or_other_output(self):
        """An output of another size is not ours to append to: refused
        (exit 1, untouched), with what to do, which then works."""
        with open(self.path("data.bin"), "wb") as f:
            f.write(self.data[:1000])
        r = self.get("-c")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "ferry: data.bin exists with 1000 B of the server's 3.0 MiB: use -f to "
                         "fetch it afresh, or rename it to data.bin.part for -c to resume it\n")
        self.assertEqual(slurp(self.path("data.bin")), self.data[:1000])
        os.rename(self.path("data.bin"), self.path("data.bin.part"))
        r = self.get("-c", "-v")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"offset=1000 ", r.stderr)
        self.assertEqual(slurp(self.path("data.bin")), self.data)
        # Longer than the server's: the server says BAD_OFFSET.
        with open(self.path("hello.txt"), "wb") as f:
            f.write(b"a much longer old version\n")
        r = self.get("-c", name="hello.txt")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "ferry: hello.txt exists with 26 B, more than the server's 6 B: another "
                         "file? use -f to replace it\n")
        r = self.get("-c", "-f", name="hello.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(slurp(self.path("hello.txt")), b"hello\n")
        # An output and a .part: which one is meant is not ferry's to guess.
        with open(self.path("hello.txt.part"), "wb") as f:
            f.write(b"hel")
        r = self.get("-c", name="hello.txt")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "ferry: hello.txt exists, and so does hello.txt.part: use -f to resume "
                         "hello.txt.part and replace hello.txt, or remove one of them\n")
        self.assertEqual(sorted(os.listdir(self.out)), ["data.bin", "hello.txt", "hello.txt.part"])
        # Not found stays not found, whatever is on disk.
        with open(self.path("nope"), "wb") as f:
            f.write(b"x")
        r = self.get("-c", name="nope")
        self.assertEqual((r.returncode, r.stderr.decode()), (13, "ferry: nope: file not found\n"))

    def test_too_large_from_get(self):
        r = self.get(max_size="1M")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(r.stderr.decode().strip(),
                         f"ferry: file too large: {len(self.data)} bytes > max 1048576 bytes")
        self.srv.wait_log(r'file="data.bin" status=TOO_LARGE')
        self.assertEqual(os.listdir(self.out), [])

    def test_rate_makes_a_slow_reader(self):
        """1 MiB at 256 KiB/s lasts about 4 s; meanwhile the server shows the
        transfer in state sending (slowed, not failed)."""
        self.put("mib.bin", os.urandom(1 << 20))
        t0 = time.monotonic()
        proc = subprocess.Popen([FERRY, "get", "-q", "--rate", "256K/s", "127.0.0.1",
                                 str(self.srv.port), "mib.bin", "1M"], cwd=self.out,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            def sending():
                return [w for w in self.srv.admin_json("workers")["workers"]
                        if w.get("state") == "sending" and "transfer" in w]
            busy = wait_until(sending, timeout=3, what="a worker sending to the slow reader")[0]
            t = busy["transfer"]
            self.assertEqual(t.get("target", t.get("file")), "mib.bin")  # the field's new name
            self.assertLess(t["sent"], 1 << 20)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        took = time.monotonic() - t0
        self.assertEqual(proc.returncode, 0, err)
        self.assertGreaterEqual(took, 3.0, "256 KiB/s for 1 MiB")
        self.assertEqual(slurp(self.path("mib.bin")), slurp(os.path.join(self.root, "mib.bin")))
        self.srv.wait_log(r'file="mib.bin" status=OK bytes=1048576/1048576')

    def test_rate_usage_errors(self):
        for rate, message in (("0", "is zero"), ("fast", "is not a rate"), ("1M/h", "not a rate"),
                              ("99999999999999999999", "above 2^64-1")):
            with self.subTest(rate=rate):
                r = self.get("--rate", rate)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr.decode().splitlines()[0])

    def test_many_exits_with_the_worst(self):
        r = ferry("get", "--many", f"127.0.0.1:{self.srv.port}", "1M", "hello.txt", "nope",
                  "data.bin", cwd=self.out)
        lines = r.stderr.decode().splitlines()
        # 0 (ok), 13 (not found), 4 (too large): the highest is 13.
        self.assertEqual(r.returncode, 13, r.stderr)
        self.assertEqual(len(lines), 3, lines)
        self.assertRegex(lines[0], "^" + SUMMARY.format(r"hello\.txt", "6 B")[:-2] + "$")
        self.assertEqual(lines[1], "ferry: nope: file not found")
        self.assertEqual(lines[2], f"ferry: data.bin: file too large: {len(self.data)} bytes > "
                                   "max 1048576 bytes")
        self.assertEqual(sorted(os.listdir(self.out)), ["hello.txt"])
        # -q: the failures only; all good: 0.
        r = ferry("get", "--many", "-q", "-f", "127.0.0.1", self.srv.port, "1G", "hello.txt",
                  "data.bin", cwd=self.out)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(slurp(self.path("data.bin")), self.data)
        r = ferry("get", "--many", "-q", "-o", "sub", "127.0.0.1", self.srv.port, "1G",
                  "hello.txt", cwd=self.out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"with --many, -o must name a directory", r.stderr)
        os.mkdir(self.path("sub"))
        r = ferry("get", "--many", "-q", "-o", "sub", "127.0.0.1", self.srv.port, "1G",
                  "hello.txt", "data.bin", cwd=self.out)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(sorted(os.listdir(self.path("sub"))), ["data.bin", "hello.txt"])

    def served(self):
        """What ls should show: the regular files of the root, by name."""
        files = []
        for name in sorted(os.listdir(self.root), key=os.fsencode):
            st = os.lstat(os.path.join(self.root, name))
            if stat.S_ISREG(st.st_mode):
                files.append({"name": name, "size": st.st_size, "mtime": int(st.st_mtime)})
        return files

    def test_ls_table_and_json(self):
        self.put('quote"and\\back', b"q" * 1536)
        os.mkdir(os.path.join(self.root, "adir"))
        os.symlink("hello.txt", os.path.join(self.root, "link"))
        os.utime(os.path.join(self.root, "hello.txt"), (0, 946684800))
        r = ferry("ls", "--json", "127.0.0.1", self.srv.port)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = self.served()
        self.assertEqual([f["name"] for f in want], ["data.bin", "hello.txt", 'quote"and\\back'])
        self.assertEqual(json.loads(r.stdout), want)
        r = ferry("ls", f"127.0.0.1:{self.srv.port}")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        rows = [line.split(None, 4) for line in r.stdout.decode().splitlines()]
        self.assertEqual(rows[0], ["SIZE", "MODIFIED", "NAME"])
        sizes = {"data.bin": ["3.0", "MiB"], "hello.txt": ["6", "B"],
                 'quote"and\\back': ["1.5", "KiB"]}
        for row, f in zip(rows[1:], want):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(f["mtime"])).split()
            self.assertEqual(row, sizes[f["name"]] + when + [f["name"]])
        self.assertEqual(len(rows), 4)

    def test_ipv6(self):
        v6 = self.serve("prefork", ("--workers", "1"), address="::1")
        for address in ((f"[::1]:{v6.port}",), ("::1", str(v6.port)), ("[::1]", str(v6.port))):
            with self.subTest(address=address):
                r = ferry("get", "-q", "-o", "-", *address, "hello.txt", "1K")
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"hello\n", b""))
                r = ferry("ls", "--json", *address)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), self.served())


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
                     ("127.0.0.1", "0"), ("--request", "put", "127.0.0.1", v4.port)):
            with self.subTest(args=args):
                r = subprocess.run([FERRY_BENCH, *map(str, args), "4K"], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)


    def test_request_modes(self):
        """GET (the default) and FILE_REQUEST both fetch the file whole; the
        summary says which was measured."""
        self.put("64K", b"x" * 65536)
        srv = self.serve("prefork", ("--workers", "2"))
        for args, label in (((), "GET"), (("--request", "get"), "GET"),
                            (("--request", "file"), "FILE_REQUEST"), (("-b", "-r", "file"),
                                                                      "FILE_REQUEST"),
                            (("-b",), "GET")):
            with self.subTest(args=args):
                r = subprocess.run([FERRY_BENCH, *args, "-c", "2", "-n", "20", "127.0.0.1",
                                    str(srv.port), "64K"], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertRegex(r.stdout, rf"^20 {label} requests in ")
                self.assertRegex(r.stdout, r"RESULT .* errors=0 requests=20")
                # 20 x (11 + 65536) bytes, whichever the exchange.
                self.assertIn(f"{20 * 65547 / 1e6:.1f} MB read", r.stdout)


if __name__ == "__main__":
    unittest.main()
