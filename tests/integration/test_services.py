"""The small services (echo, upcase, daytime, lottery) in every mode, over
raw sockets on IPv4 and IPv6: bytes end to end, the echo limit, a client
that writes without reading, 200 lottery sessions at once, daytime's line
without deferred accept; then, in event mode, what the admin socket shows
and how a stop ends an idle session. Every loop is bounded in count and
time."""

import hashlib
import os
import signal
import socket
import struct
import threading
import time
import unittest

from ferrytest import FerryTest, MODES, children_of, per_mode, recv_exact, wait_until

LISTEN = ["echo=127.0.0.1:0", "upcase=127.0.0.1:0", "daytime=127.0.0.1:0",
          "lottery=127.0.0.1:0", "echo=[::1]:0", "lottery=[::1]:0", "daytime=[::1]:0"]

GEN, LIST, END = (struct.pack(">I", n) for n in (0, 1, 2))


def where(srv, proto, host="127.0.0.1"):
    """The (host, port) of srv's listener for proto on host."""
    for p, h, port in srv.listeners:
        if p == proto and h == host:
            return h, port
    raise AssertionError(f"no {proto} listener on {host}: {srv.listeners}")


def dial(addr, timeout=10):
    s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def read_all(s, limit=64 << 20):
    """Everything until the peer closes (bounded)."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def echo_through(addr, data):
    """Sends data from a thread while reading the echo (the server stops
    reading while its answer is not read); half-closes after the last
    byte. Returns what came back before the server closed."""
    s = dial(addr)

    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    got = read_all(s)
    t.join(timeout=10)
    s.close()
    return got


def lottery_lines(text):
    """A session's answer lines, and the numbers its GENs drew."""
    lines = text.decode().split("\n")
    assert lines[-1] == "", f"not newline-terminated: {text!r}"
    drawn = [int(l.rsplit(" ", 1)[1]) for l in lines if l.startswith("New number generated: ")]
    return lines[:-1], drawn


class ServicesMixin:
    """One server per test with every service, on the class's mode."""

    def setUp(self):
        super().setUp()
        self.srv = self.serve(self.MODE, ("--workers", "2"), listen=LISTEN)

    def test_echo_round_trips_random_bytes(self):
        data = os.urandom(300 << 10)
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                got = echo_through(where(self.srv, "echo", host), data)
                self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())
        self.srv.wait_log(r"conn \[::1\]:\d+ proto=echo .*status=OK bytes=307200/0")

    def test_upcase_touches_only_ascii_letters(self):
        data = bytes(range(256)) * 4
        want = bytes(b - 32 if 0x61 <= b <= 0x7a else b for b in data)
        self.assertEqual(echo_through(where(self.srv, "upcase"), data), want)

    def test_daytime_sends_the_local_time_at_once(self):
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                before = time.time()
                s = dial(where(self.srv, "daytime", host))
                line = read_all(s)  # the whole answer, then the server's FIN
                s.close()
                # No deferred accept: a client that never speaks is answered
                # at once, not after --request-timeout (10 s).
                self.assertLess(time.time() - before, 3)
                self.assertRegex(line, rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \d{4}\r\n$")
                told = time.mktime(time.strptime(line.decode().strip(), "%a %b %d %H:%M:%S %Y"))
                self.assertLess(abs(told - before), 5)

    def test_lottery_session(self):
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                s = dial(where(self.srv, "lottery", host))
                # Seven GENs, LIST, an unknown command, LIST as x86 writes
                # an int, END; and a GEN after END that is never answered.
                s.sendall(GEN * 7 + LIST + struct.pack(">I", 77) + b"\x01\0\0\0" + END + GEN)
                lines, drawn = lottery_lines(read_all(s))
                s.close()
                self.assertEqual(len(drawn), 6)
                self.assertEqual(len(set(drawn)), 6)
                self.assertTrue(all(1 <= n <= 45 for n in drawn), drawn)
                listed = "numbers: " + " ".join(map(str, drawn))
                self.assertEqual(lines[6:], ["Full", listed, "error: unknown command 77", listed])

    def test_lottery_command_in_pieces_waits_for_the_rest(self):
        s = dial(where(self.srv, "lottery"))
        s.sendall(LIST[:3])
        s.settimeout(0.3)  # a negative check: nothing comes for half a command
        self.assertRaises(socket.timeout, s.recv, 100)
        s.settimeout(10)
        s.sendall(LIST[3:] + GEN[:1])
        self.assertEqual(recv_exact(s, 21), b"numbers: 0 0 0 0 0 0\n")
        s.sendall(GEN[1:] + END)
        lines, drawn = lottery_lines(read_all(s))
        s.close()
        self.assertEqual(len(drawn), 1)

    def test_two_hundred_lottery_sessions_at_once(self):
        socks = [dial(where(self.srv, "lottery")) for _ in range(200)]
        for s in socks:
            s.sendall(GEN * 6 + LIST + END)
        draws = set()
        for s in socks:
            lines, drawn = lottery_lines(read_all(s))
            s.close()
            self.assertEqual(len(lines), 7)
            self.assertEqual(len(set(drawn)), 6, lines)
            self.assertTrue(all(1 <= n <= 45 for n in drawn), drawn)
            self.assertEqual(lines[6], "numbers: " + " ".join(map(str, drawn)))
            draws.add(tuple(drawn))
        # Each session draws its own: 200 sets of 6 from 45 do not repeat
        # (8e9 equally likely ordered draws).
        self.assertGreater(len(draws), 195)


class EchoLimitMixin:

    def test_echo_max_bytes_echoes_exactly_that_many(self):
        srv = self.serve(self.MODE, ("--workers", "1", "--echo-max-bytes", "1000"),
                         listen=["echo=127.0.0.1:0"])
        addr = where(srv, "echo")
        data = os.urandom(1000)
        self.assertEqual(echo_through(addr, data), data)  # the limit itself: all of it
        self.assertEqual(echo_through(addr, data + b"!"), data)
        srv.wait_log(r'proto=echo .*bytes=1000/0 .*problem="over --echo-max-bytes"')

    def test_the_whole_limit_arrives_while_the_client_still_sends(self):
        """1 MiB echoed, then the close, while the client is still sending
        its second MiB: the FIN follows the last echoed byte, and what the
        client sends meanwhile is discarded, not answered with a reset that
        would destroy the echo still in flight."""
        srv = self.serve(self.MODE, ("--workers", "1"), listen=["echo=127.0.0.1:0"])
        data = os.urandom(2 << 20)
        s = dial(where(srv, "echo"))
        got, errors = bytearray(), []

        def send():
            try:
                s.sendall(data)
            except OSError as e:  # the server shut its side: expected
                errors.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        try:
            while len(got) <= (1 << 20):  # bounded: the limit and a byte more
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError as e:
            self.fail(f"reset after {len(got)} bytes: {e}")
        s.close()
        t.join(timeout=10)
        self.assertEqual(len(got), 1 << 20)
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(data[:1 << 20]).digest())

    def test_a_client_that_never_reads_is_bounded_and_closed(self):
        srv = self.serve(self.MODE, ("--workers", "1", "--io-timeout", "2", "--min-rate", "0"),
                         listen=["echo=127.0.0.1:0"])
        worker = (wait_until(lambda: children_of(srv.pid), what="a worker")[0]
                  if self.MODE in ("prefork", "event") else None)
        rss_before = rss_kib(worker) if worker else 0
        s = dial(where(srv, "echo"))
        s.setblocking(False)
        pushed, stalled_since, start = 0, None, time.monotonic()
        block = b"x" * 65536
        # Push until the server stops taking bytes for 0.5 s (its answer
        # is not read, so it reads no more): bounded by 64 MiB and 20 s.
        while pushed < (64 << 20) and time.monotonic() - start < 20:
            try:
                pushed += s.send(block)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 0.5:
                    break
                time.sleep(0.01)
        self.assertLess(pushed, 32 << 20, "the server kept reading: it buffers without bound")
        if worker:  # what the kernel holds is the sockets', not the worker's
            self.assertLess(rss_kib(worker) - rss_before, 2048)
        line = srv.wait_log(r'proto=echo .*problem="timed out', timeout=15)
        self.assertRegex(line, r"bytes=\d+/0")
        s.setblocking(True)
        s.settimeout(10)
        try:
            read_all(s)  # the echoed part, then FIN or a reset: the server is done with it
        except ConnectionResetError:
            pass
        s.close()
        self.assertEqual(echo_through(where(srv, "echo"), b"next"), b"next")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))




class SessionsMixin:
    """What an operator sees of a session, how a stop ends it, and how an
    idle one gives way to a waiting client."""

    def test_an_idle_session_is_visible_and_a_stop_closes_it(self):
        srv = self.serve(self.MODE, ("--workers", "1"), listen=LISTEN)
        s = dial(where(srv, "echo"))
        s.sendall(b"ping")
        self.assertEqual(recv_exact(s, 4), b"ping")

        def mine():
            conns = srv.admin_json("connections")["connections"]
            return [(c["protocol"], c["state"]) for c in conns
                    if c["peer"].endswith(f":{s.getsockname()[1]}")]
        # The record turns idle just after the answer leaves: polled.
        wait_until(lambda: mine() == [("echo", "keepalive")], what="the idle session's record")
        listeners = {(l["protocol"], l["address"]) for l in srv.admin_json("status")["listeners"]}
        self.assertIn(("lottery", f"[::1]:{where(srv, 'lottery', '::1')[1]}"), listeners)
        mark = srv.mark()
        srv.proc.send_signal(signal.SIGTERM)
        self.assertEqual(read_all(s), b"")  # closed at once, not after --io-timeout
        s.close()
        srv.wait_log(r'proto=echo .*problem="closed by stop while idle"', start=mark)
        self.assertEqual(srv.proc.wait(timeout=30), 0)  # the one SIGTERM: a graceful stop

    def test_an_idle_session_gives_way_to_a_waiting_client(self):
        """One serving process: an idle echo session holds it only until
        another client waits (the blocking modes close the idle session, as
        they close an idle keep-alive; event mode serves both)."""
        srv = self.serve(self.MODE, ("--workers", "1", "--max-children", "1"), listen=LISTEN)
        s = dial(where(srv, "echo"))
        s.sendall(b"ping")
        self.assertEqual(recv_exact(s, 4), b"ping")
        start = time.monotonic()
        d = dial(where(srv, "daytime"))
        self.assertRegex(read_all(d), rb"\d{4}\r\n$")
        d.close()
        # Held, it would be until --io-timeout (30 s).
        self.assertLess(time.monotonic() - start, 4, "the idle session held the process")
        if self.MODE != "event":  # fork at --max-children 1 too: its child yields
            self.assertEqual(read_all(s), b"")
            srv.wait_log(r'proto=echo .*problem="closed while idle: a client was waiting"')
        else:
            s.sendall(b"pong")
            self.assertEqual(recv_exact(s, 4), b"pong")
        s.close()


globals().update(per_mode(ServicesMixin))
globals().update(per_mode(EchoLimitMixin))
globals().update(per_mode(SessionsMixin))


class Misc(FerryTest):

    def test_unknown_protocol_names_the_services(self):
        import subprocess
        from ferrytest import FERRYD
        r = subprocess.run([FERRYD, "--listen", "chargen=127.0.0.1:0", self.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown protocol 'chargen' (native, http, echo, upcase, daytime, lottery",
                      r.stderr)


if __name__ == "__main__":
    unittest.main()
