"""The ferry client's service commands (echo, upcase, daytime, lottery)
against the real ferryd, on IPv4 and IPv6: what reaches stdout byte for
byte, the line on stderr, the exit codes (0, 2 usage, 3 cannot connect, 5
cut short); a terminal's prompt through a pseudo-terminal. A few servers
that misbehave as ferryd never does (a wrong byte, a silent peer) come
from FakeServer. Every run is bounded in time."""

import hashlib
import os
import pty
import re
import socket
import subprocess
import threading
import time
import unittest

from ferrytest import FERRY, FakeServer, ferry, per_mode, recv_exact, wait_until

LISTEN = ["echo=127.0.0.1:0", "upcase=127.0.0.1:0", "daytime=127.0.0.1:0", "lottery=127.0.0.1:0",
          "echo=[::1]:0", "upcase=[::1]:0", "daytime=[::1]:0", "lottery=[::1]:0"]
HOSTS = ("127.0.0.1", "::1")
PROMPT = "Command (0:GEN 1:LIST 2:END): "
NEW = re.compile(r"^New number generated: (\d+)$")


def upcase(data):
    return bytes(b - 32 if 0x61 <= b <= 0x7a else b for b in data)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def run(*args, data=b"", timeout=60):
    """ferry with data on stdin (a pipe); returns the CompletedProcess."""
    return subprocess.run([FERRY, *map(str, args)], input=data, capture_output=True,
                          timeout=timeout)


def refused_port():
    """A port on 127.0.0.1 bound but not listening (connect is refused),
    and its socket, to close once done."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


class ServiceClients:
    """One ferryd per test with every service on both loopbacks, in each
    mode (per_mode below)."""

    def setUp(self):
        super().setUp()
        self.srv = self.serve(self.MODE, ("--workers", "2"), listen=LISTEN)

    def addr(self, proto, host="127.0.0.1", srv=None):
        """HOST PORT of a listener, as two operands."""
        srv = srv or self.srv
        port = next(p for pr, h, p in srv.listeners if pr == proto and h == host)
        return host, port

    # --- echo and upcase -----------------------------------------------

    def test_echo_text_prints_it_and_the_round_trip(self):
        for host in HOSTS:
            with self.subTest(host=host):
                r = run("echo", *self.addr("echo", host), "hello,", "world")
                self.assertEqual((r.returncode, r.stdout), (0, b"hello, world\n"), r.stderr)
                self.assertRegex(r.stderr.decode(), r"^ferry: echo: 13 bytes, rtt \d+\.\d\d ms\n$")
        # HOST:PORT, -q, '--' before a TEXT that starts with '-', empty TEXT.
        host, port = self.addr("echo", "::1")
        r = run("echo", "-q", f"[{host}]:{port}", "--", "-n", "x")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"-n x\n", b""))
        r = run("echo", "-q", *self.addr("echo"), "")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"\n", b""))

    def test_upcase_text(self):
        r = run("upcase", "-q", *self.addr("upcase", "::1"), "Hello, wörld 42")
        self.assertEqual((r.returncode, r.stdout), (0, "HELLO, WöRLD 42\n".encode()), r.stderr)

    def test_echo_stdin_300k_random_bytes(self):
        data = os.urandom(300 << 10)
        for host in HOSTS:
            with self.subTest(host=host):
                r = run("echo", *self.addr("echo", host), data=data)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(sha(r.stdout), sha(data))
                self.assertRegex(r.stderr.decode(),
                                 r"^ferry: echo: 307200 bytes in \d+\.\d\d m?s \(.*/s\)\n$")

    def test_upcase_every_byte_value_from_stdin(self):
        data = bytes(range(256)) * 3
        for host in HOSTS:
            with self.subTest(host=host):
                r = run("upcase", "-q", *self.addr("upcase", host), data=data)
                self.assertEqual((r.returncode, r.stderr), (0, b""))
                self.assertEqual(r.stdout, upcase(data))

    def test_echo_stdin_far_beyond_the_socket_buffers(self):
        # 6 MiB through small server buffers: ferry must read the echo
        # while it writes, or both ends would wait on each other.
        srv = self.serve(None, ("--workers", "1", "--echo-max-bytes", "8M", "--sndbuf", "16K"),
                         listen=["echo=127.0.0.1:0"])
        data = os.urandom(6 << 20)
        r = run("echo", "-q", *self.addr("echo", srv=srv), data=data)
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        self.assertEqual(sha(r.stdout), sha(data))

    def test_echo_past_the_max_bytes_fails_with_what_came_back(self):
        srv = self.serve(None, ("--workers", "1", "--echo-max-bytes", "1000"),
                         listen=["echo=127.0.0.1:0", "upcase=[::1]:0"])
        data = os.urandom(1000)
        r = run("echo", "-q", *self.addr("echo", srv=srv), data=data)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, data, b""))
        r = run("echo", *self.addr("echo", srv=srv), data=data + b"!")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(r.stdout, data)
        self.assertEqual(r.stderr.decode(), "ferry: the server closed the connection after "
                                            "echoing 1000 of the 1001 bytes sent\n")
        # TEXT: 1000 letters and the newline; upcase, over IPv6.
        r = run("upcase", *self.addr("upcase", "::1", srv=srv), "a" * 1000)
        self.assertEqual((r.returncode, r.stdout), (5, b"A" * 1000), r.stderr)
        self.assertIn(b"after echoing 1000 of the 1001 bytes sent", r.stderr)
        # Far more than the limit: still exactly the limit on stdout.
        big = os.urandom(300 << 10)
        r = run("echo", *self.addr("echo", srv=srv), data=big)
        self.assertEqual((r.returncode, r.stdout), (5, big[:1000]), r.stderr)
        self.assertRegex(r.stderr.decode(), r"^ferry: .* after echoing 1000 of the \d+ bytes")

    def test_an_echo_that_differs_is_caught_at_its_first_wrong_byte(self):
        def corrupt(conn):
            data = recv_exact(conn, 12)
            conn.sendall(data[:4] + b"X" + data[5:])

        def chatty(conn):
            conn.sendall(recv_exact(conn, 12) + b"more")

        for handler, out, message in (
                (corrupt, b"hell", "ferry: the echo differs from what was sent at offset 4: "
                                   "0x58, not 0x6f\n"),
                (chatty, b"hello world\n", "ferry: the server sent back more than it was sent: "
                                           "4 bytes after the 12 sent\n")):
            with self.subTest(handler=handler.__name__):
                fake = FakeServer(handler)
                r = run("echo", "127.0.0.1", fake.port, "hello", "world")
                fake.join()
                self.assertEqual((r.returncode, r.stdout, r.stderr.decode()), (5, out, message))
        # upcase checks against the upper-cased byte.
        fake = FakeServer(lambda conn: conn.sendall(recv_exact(conn, 3)))
        r = run("upcase", "127.0.0.1", fake.port, "ab")
        fake.join()
        self.assertEqual((r.returncode, r.stdout), (5, b""))
        self.assertEqual(r.stderr.decode(), "ferry: the echo differs from what was sent at offset "
                                            "0: 0x61, not 0x41 (the byte sent, upper-cased)\n")

    def test_a_silent_server_times_out(self):
        for cmd in ("echo", "daytime"):
            with self.subTest(cmd=cmd):
                done = threading.Event()

                def silent(conn):  # until the client is done, 10 s at most
                    if cmd == "echo":
                        recv_exact(conn, 6)
                    done.wait(10)

                fake = FakeServer(silent)
                start = time.monotonic()
                r = run(cmd, "-t", "300ms", "127.0.0.1", fake.port,
                        *(["hello"] if cmd == "echo" else []))
                took = time.monotonic() - start
                done.set()
                fake.join()
                self.assertEqual((r.returncode, r.stdout), (5, b""), r.stderr)
                self.assertIn(b"timed out", r.stderr)
                self.assertLess(took, 2.5)  # -t 300ms, and a client started

    # --- daytime -------------------------------------------------------

    def test_daytime_prints_the_local_time(self):
        for host in HOSTS:
            with self.subTest(host=host):
                before = time.time()
                r = run("daytime", *self.addr("daytime", host))
                self.assertEqual((r.returncode, r.stderr), (0, b""))
                line = r.stdout.decode()
                self.assertRegex(line, r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d "
                                       r"\d{4}\n$")
                told = time.mktime(time.strptime(line.strip(), "%a %b %d %H:%M:%S %Y"))
                self.assertLess(abs(told - before), 5)

    # --- lottery -------------------------------------------------------

    def lottery(self, script, host="127.0.0.1", srv=None):
        return run("lottery", *self.addr("lottery", host, srv), data=script.encode())

    def test_lottery_through_a_pipe(self):
        script = "0\n" * 7 + "1\n7\nabc\n-1\n\n 4294967295 \n4294967296\nlist\nEND\n0\n"
        for host in HOSTS:
            with self.subTest(host=host):
                r = self.lottery(script, host)
                self.assertEqual(r.returncode, 0, r.stderr)
                lines = r.stdout.decode().split("\n")
                self.assertEqual(lines[-1], "")
                drawn = [int(NEW.match(l).group(1)) for l in lines[:6]]
                self.assertEqual(len(set(drawn)), 6, lines)
                self.assertTrue(all(1 <= n <= 45 for n in drawn), drawn)
                listed = "numbers: " + " ".join(map(str, drawn))
                # Nothing after END: its GEN is not sent.
                self.assertEqual(lines[6:-1], ["Full", listed, "error: unknown command 7",
                                               "error: unknown command 4294967295", listed])
                # Refused locally, each named, none sent; no prompt in a pipe.
                errors = r.stderr.decode().splitlines()
                self.assertEqual(len(errors), 3, errors)
                for bad, message in zip(("abc", "-1", "4294967296"), errors):
                    self.assertTrue(message.startswith(f"ferry: '{bad}' is not a command"),
                                    message)
                self.assertNotIn(PROMPT, r.stderr.decode())
        # The server saw a whole session, ended by END.
        self.srv.wait_log(r"conn \[::1\]:\d+ proto=lottery .*status=OK")
        self.assertNotRegex(self.srv.log(), r"proto=lottery .*problem=")

    def test_lottery_end_of_stdin_ends_the_session(self):
        for script, want in (("0\n1", 2), ("", 0), ("gen\nLIST\n", 2)):
            with self.subTest(script=script):
                r = self.lottery(script)
                self.assertEqual((r.returncode, r.stderr), (0, b""))
                lines = r.stdout.decode().splitlines()
                self.assertEqual(len(lines), want, lines)
                if want:
                    self.assertTrue(lines[-1].startswith("numbers: "), lines)
        # Each session's line logged (the client may exit first), none
        # with a problem.
        wait_until(lambda: self.srv.log().count("proto=lottery ") >= 3, what="3 sessions logged")
        self.assertNotRegex(self.srv.log(), r"proto=lottery .*problem=")

    def test_lottery_prompts_on_a_terminal(self):
        master, slave = pty.openpty()
        proc = subprocess.Popen([FERRY, "lottery", *map(str, self.addr("lottery"))], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(slave)
        try:
            os.write(master, b"0\n1\n\x04")  # two commands, then ^D
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
            os.close(master)
        self.assertEqual(proc.returncode, 0, err)
        lines = out.decode().splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[0], NEW)
        # A prompt per line read and one at the ^D, which ends that line.
        self.assertEqual(err.decode(), PROMPT * 3 + "\n")

    def test_lottery_server_gone_is_exit_5(self):
        # The real server closes a session idle for --io-timeout: ferry
        # notices while it waits for stdin, not at the next command.
        srv = self.serve(None, ("--workers", "1", "--io-timeout", "1"),
                         listen=["lottery=127.0.0.1:0"])
        proc = subprocess.Popen([FERRY, "lottery", *map(str, self.addr("lottery", srv=srv))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"0\n")
            proc.stdin.flush()
            start = time.monotonic()
            proc.wait(timeout=10)
            took = time.monotonic() - start
            out, err = proc.stdout.read(), proc.stderr.read()
        finally:
            proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout, proc.stderr):
                f.close()
        self.assertEqual(proc.returncode, 5, err)
        self.assertRegex(out.decode(), r"^New number generated: \d+\n$")
        self.assertEqual(err.decode(), "ferry: the server closed the connection while ferry "
                                       "waited for a command\n")
        self.assertLess(took, 5)
        # A server that takes a command and closes without an answer.
        fake = FakeServer(lambda conn: recv_exact(conn, 4))
        r = run("lottery", "127.0.0.1", fake.port, data=b"1\n")
        fake.join()
        self.assertEqual((r.returncode, r.stdout), (5, b""))
        self.assertEqual(r.stderr.decode(), "ferry: the server closed the connection without "
                                            "answering command 1\n")

    # --- every command -------------------------------------------------

    def test_connection_refused_is_exit_3(self):
        s, port = refused_port()
        try:
            for cmd in ("echo", "upcase", "daytime", "lottery"):
                with self.subTest(cmd=cmd):
                    r = run(cmd, f"127.0.0.1:{port}", data=b"x\n")
                    self.assertEqual((r.returncode, r.stdout), (3, b""))
                    self.assertEqual(r.stderr.decode(), f"ferry: cannot connect to 127.0.0.1 "
                                                        f"port {port}: Connection refused\n")
        finally:
            s.close()

    def test_usage_errors_are_exit_2(self):
        cases = [
            (["echo"], "ferry: expected HOST PORT [TEXT...], got 0 arguments", "echo|upcase"),
            (["upcase", "h"], "ferry: expected HOST PORT [TEXT...], got 1 argument",
             "echo|upcase"),
            (["echo", "::1:7"], "ferry: expected HOST PORT [TEXT...], got 1 argument (an IPv6 "
             "address with a port takes brackets: [::1]:PORT)", "echo|upcase"),
            (["echo", "h", "0", "x"], "ferry: PORT must be a number from 1 to 65535, got 0",
             "echo|upcase"),
            (["echo", "h", "1", "-n"], "ferry: unknown option '-n'", "echo|upcase"),
            (["daytime", "h", "1", "x"], "ferry: expected HOST PORT, got 3 arguments", "daytime"),
            (["daytime", "h:1", "2"], "ferry: expected HOST:PORT, got 2 arguments ('h:1' "
             "already holds the port)", "daytime"),
            (["lottery", "h"], "ferry: expected HOST PORT, got 1 argument", "lottery"),
            (["lottery", "-q", "h", "1"], "ferry: option '--quiet' does not apply to 'lottery'",
             "lottery"),
            (["daytime", "--json", "h", "1"], "ferry: option '--json' does not apply to "
             "'daytime'", "daytime"),
            (["upcase", "-o", "x", "h", "1"], "ferry: option '--output' does not apply to "
             "'upcase'", "echo|upcase"),
            (["echo", "-t", "0", "h", "1"], "ferry: timeout '0' is zero: it must be at least "
             "1ms", "echo|upcase"),
            (["lottery", "[::1", "1"], "ferry: '[::1' is not a host, host:PORT or [IPv6]:PORT",
             "lottery"),
        ]
        for args, first, synopsis in cases:
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual((r.returncode, r.stdout), (2, b""), r.stderr)
                lines = r.stderr.decode().splitlines()
                self.assertEqual(lines[0], first)
                self.assertTrue(lines[1].startswith(f"usage: ferry {synopsis} [options] HOST"),
                                lines)
        r = run("toss", "h", "1")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode().splitlines()[0],
                         "ferry: unknown command 'toss' (the commands are 'get', 'ls', 'echo', "
                         "'upcase', 'daytime', 'lottery' and 'hub')")

    def test_help(self):
        r = ferry("--help")
        self.assertEqual((r.returncode, r.stderr), (0, b""))
        for form in (b"ferry echo|upcase [options] HOST PORT [TEXT...]",
                     b"ferry daytime [options] HOST PORT", b"ferry lottery [options] HOST PORT"):
            self.assertIn(form, r.stdout)
        for cmd, words in (("echo", (b"TEXT", b"newline", b"rtt", b"--timeout", b"--quiet")),
                           ("upcase", (b"upper-cases", b"exit codes")),
                           ("daytime", (b"carriage return", b"--timeout")),
                           ("lottery", (PROMPT.encode(), b"big-endian", b"END"))):
            with self.subTest(cmd=cmd):
                r = ferry(cmd, "--help")
                self.assertEqual((r.returncode, r.stderr), (0, b""))
                self.assertTrue(r.stdout.startswith(b"usage: ferry "), r.stdout[:60])
                for word in words:
                    self.assertIn(word, r.stdout)
                self.assertNotIn(b"--output", r.stdout)


globals().update(per_mode(ServiceClients))


if __name__ == "__main__":
    unittest.main()
