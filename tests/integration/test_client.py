"""The ferry client against the real ferryd (and a scripted fake server for
what ferryd never does): files land whole or not at all, and every failure
has one clear message and its documented exit code."""

import hashlib
import os
import pty
import signal
import socket
import stat
import struct
import subprocess
import threading
import unittest

from ferrytest import (FERRY, FakeServer, FerryTest, ferry, read_request, recv_exact,
                       sha256_file)


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
        self.assertEqual(r.stderr, b"", "quiet when stderr is not a terminal")

    def test_output_options(self):
        self.assertEqual(self.get("-o", "renamed").returncode, 0)
        self.assertEqual(open(os.path.join(self.out, "renamed"), "rb").read(), self.data)
        os.mkdir(os.path.join(self.out, "sub"))
        self.assertEqual(self.get("-o", "sub").returncode, 0)
        self.assertEqual(open(os.path.join(self.out, "sub", "data.bin"), "rb").read(), self.data)
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
        for args in ([], ["get"], ["put", "h", "1", "n", "1"], ["get", "h", "1", "n", "1Q"]):
            r = ferry(*args)
            self.assertEqual(r.returncode, 2, args)
        self.assertEqual(ferry("--help").returncode, 0)

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
        r = subprocess.run([FERRY, "get", "127.0.0.1", str(self.srv.port), "data.bin", "1G"],
                           cwd=self.out, stderr=slave, stdout=subprocess.DEVNULL, timeout=60)
        os.close(slave)
        shown = b""
        try:
            while chunk := os.read(master, 4096):
                shown += chunk
        except OSError:  # EIO once the terminal is drained
            pass
        os.close(master)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"100% [########################] 3.0 MiB / 3.0 MiB", shown)
        self.assertEqual(self.get("-q", "-f").stderr, b"")


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


if __name__ == "__main__":
    unittest.main()
