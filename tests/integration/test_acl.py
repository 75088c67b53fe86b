"""--allow/--deny against the real ferryd, on loopback only: every address
of 127.0.0.0/8 is this machine, so a client that binds 127.0.0.2 as its
source is "another address" than one from 127.0.0.1.

In every mode: a denied native, echo or daytime client is reset before a
byte is read or sent, an HTTP one gets 403 (raw socket and curl), each
denial is counted per listener (metrics, status), and allowed clients
are served byte for byte. Then, in event mode: an allow-list, a burst of
20 denials logged once, IPv6 and a dual-stack listener's v4-mapped
clients, the master's metrics listener, and the rules refused at start."""

import hashlib
import os
import re
import socket
import struct
import subprocess
import time
import unittest

from ferrytest import (FERRYD, READY, FerryTest, parse_response, per_mode, recv_exact, request,
                       wait_until)

DENIED_LINE = r'problem="denied: deny {}" during=accept'


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def dial(src, addr, timeout=10):
    """A connection to addr (host, port) from source address src."""
    s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(addr)
    return s


def refused(src, addr, data=b""):
    """Connects from src, sends data, reads until the server closes.
    Returns (how, bytes): "reset" when the connection was reset (at
    connect, send or recv: a server that speaks first may reset before
    connect() returns), else "eof"."""
    got = b""
    try:
        s = dial(src, addr)
    except ConnectionResetError:
        return "reset", got
    try:
        if data:
            s.sendall(data)
        while chunk := s.recv(1 << 16):
            got += chunk
        return "eof", got
    except (ConnectionResetError, BrokenPipeError):
        return "reset", got
    finally:
        s.close()


def native_fetch(src, addr, name):
    """FILE_REQUEST from src: the content, after OK and READY."""
    s = dial(src, addr)
    s.sendall(request(name))
    _, _, status, size = parse_response(recv_exact(s, 11))
    assert status == 0, f"status {status} for {name}"
    s.sendall(READY)
    data = recv_exact(s, size)
    s.close()
    return data


def echo(src, addr, data):
    s = dial(src, addr)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while chunk := s.recv(1 << 16):
        got += chunk
    s.close()
    return got


def http_get(src, addr, path):
    """One GET from src on its own connection: the whole answer."""
    s = dial(src, addr)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    got = b""
    while chunk := s.recv(1 << 16):  # a clean EOF: the 403 is not lost to a reset
        got += chunk
    s.close()
    return got


def curl(src, addr, path, out=None):
    """curl --interface src: (HTTP status, body), or the body into out."""
    host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
    cmd = ["curl", "-sS", "--max-time", "10", "--interface", src, "-o", out or "-",
           "-w", "\n%{http_code}", f"http://{host}:{addr[1]}{path}"]
    r = subprocess.run(cmd, capture_output=True, timeout=20)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}: {r.stderr!r}"
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def sha(data):
    return hashlib.sha256(data).hexdigest()


def where(srv, proto):
    """(host, port) of srv's first listener for proto."""
    for p, host, port in srv.listeners:
        if p == proto:
            return host, port
    raise AssertionError(f"no {proto} listener: {srv.listeners}")


def denied_counts(srv):
    """ferry_denied_connections_total by (protocol, listener), through the
    admin socket (no TCP listener, so no rule stands in the way)."""
    text = srv.admin_json("metrics")["text"]
    rx = r'^ferry_denied_connections_total\{listener="([^"]*)",protocol="(\w+)"\} (\d+)$'
    return {(m[2], m[1]): int(m[3]) for m in re.finditer(rx, text, re.M)}


def denied_lines(srv, rule, start=0):
    return [l for l in srv.log().splitlines()[start:] if DENIED_LINE.format(rule) in l]


class Acl:
    """The rules in one mode (MODE): every TCP protocol, denied and allowed."""

    def test_denied_before_a_byte_allowed_served(self):
        big = os.urandom(1 << 20)
        self.put("big.bin", big)
        self.put("hello.txt", b"hello\n")
        srv = self.serve(self.MODE, ("--deny", "127.0.0.1", "--allow", "all"),
                         listen=["native=127.0.0.1:0", "http=127.0.0.1:0", "echo=127.0.0.1:0",
                                 "daytime=127.0.0.1:0"])
        native, http, ech, day = (where(srv, p) for p in ("native", "http", "echo", "daytime"))
        # Denied: native and the services reset with nothing sent, whatever
        # the client sent; HTTP 403, Connection: close, then a clean close.
        self.assertEqual(refused("127.0.0.1", native, request("hello.txt")), ("reset", b""))
        self.assertEqual(refused("127.0.0.1", ech, b"ping\n"), ("reset", b""))
        self.assertEqual(refused("127.0.0.1", day), ("reset", b""))
        answer = http_get("127.0.0.1", http, "/hello.txt")
        self.assertTrue(answer.startswith(b"HTTP/1.1 403 Forbidden\r\n"), answer[:60])
        head, _, body = answer.partition(b"\r\n\r\n")
        self.assertIn(b"\r\nConnection: close", head)
        self.assertNotIn(b"hello", body)
        self.assertEqual(curl("127.0.0.1", http, "/hello.txt")[0], 403)
        srv.wait_log(DENIED_LINE.format("127.0.0.1"))
        # Allowed: another address is served, byte for byte.
        self.assertEqual(sha(native_fetch("127.0.0.2", native, "big.bin")), sha(big))
        out = os.path.join(self.tmp, "got.bin")
        self.assertEqual(curl("127.0.0.2", http, "/big.bin", out)[0], 200)
        with open(out, "rb") as f:
            self.assertEqual(sha(f.read()), sha(big))
        self.assertEqual(echo("127.0.0.2", ech, b"ping\n"), b"ping\n")
        how, line = refused("127.0.0.2", day)
        self.assertEqual(how, "eof")
        self.assertTrue(line.endswith(b"\r\n"), line)
        # Counted per listener, in the metrics and in status.
        names = {p: f"{h}:{port}" for p, h, port in srv.listeners}
        want = {("native", names["native"]): 1, ("http", names["http"]): 2,
                ("echo", names["echo"]): 1, ("daytime", names["daytime"]): 1}
        wait_until(lambda: denied_counts(srv) == want, what=f"denied counts {want}")
        st = srv.admin_json("status")
        self.assertEqual(st["totals"]["denied"], 5)
        self.assertEqual({l["protocol"]: l["denied"] for l in st["listeners"]},
                         {"native": 1, "http": 2, "echo": 1, "daytime": 1})
        self.assertIn("  5 denied", srv.ctl("status").stdout)


globals().update(per_mode(Acl))


class AclEvent(FerryTest):
    """What does not depend on the mode, in the default (event) mode."""

    def test_allow_list(self):
        """--allow 127.0.0.2 --deny all: only that address is served; a
        rule after 'all' is said to be dead, and is."""
        self.put("hello.txt", b"hello\n")
        srv = self.serve(args=("--allow", "127.0.0.2", "--deny", "all", "--allow", "127.0.0.3"),
                         listen=["native=127.0.0.1:0", "http=127.0.0.1:0"])
        native, http = where(srv, "native"), where(srv, "http")
        self.assertIn("'allow 127.0.0.3' comes after 'deny all'", srv.log())
        self.assertEqual(native_fetch("127.0.0.2", native, "hello.txt"), b"hello\n")
        self.assertEqual(curl("127.0.0.2", http, "/hello.txt"), (200, b"hello\n"))
        for src in ("127.0.0.1", "127.0.0.3"):
            self.assertEqual(refused(src, native, request("hello.txt")), ("reset", b""))
            self.assertEqual(curl(src, http, "/hello.txt")[0], 403)
        srv.wait_log(DENIED_LINE.format("all"))
        wait_until(lambda: sum(denied_counts(srv).values()) == 4, what="4 denials counted")

    def test_burst_logged_once_counted_each(self):
        """20 denied connections within a second: one log line for the
        address, 20 in the counter; another address has its own line, and
        a second later the first is logged again."""
        srv = self.serve(args=("--deny", "127.0.0.0/8"), listen=["native=127.0.0.1:0"])
        addr = where(srv, "native")
        mark = srv.mark()
        began = time.monotonic()
        for _ in range(20):
            self.assertEqual(refused("127.0.0.1", addr, request("x")), ("reset", b""))
        took = time.monotonic() - began
        wait_until(lambda: sum(denied_counts(srv).values()) == 20, what="20 denials counted")
        srv.wait_log(r"conn 127\.0\.0\.1:\d+ .*" + DENIED_LINE.format("127.0.0.0/8"), start=mark)
        time.sleep(0.2)  # a line that should not be there has had time to come
        lines = [l for l in denied_lines(srv, "127.0.0.0/8", mark) if "127.0.0.1:" in l]
        if took < 0.9:
            self.assertEqual(len(lines), 1, lines)
        else:  # a slow machine (sanitizers): still a line a second at most
            self.assertLessEqual(len(lines), 1 + int(took), lines)
        self.assertEqual(refused("127.0.0.5", addr, request("x")), ("reset", b""))
        srv.wait_log(r"conn 127\.0\.0\.5:\d+ .*denied", start=mark)
        time.sleep(1.1)
        self.assertEqual(refused("127.0.0.1", addr, request("x")), ("reset", b""))
        wait_until(lambda: len([l for l in denied_lines(srv, "127.0.0.0/8", mark)
                                if "127.0.0.1:" in l]) == len(lines) + 1,
                   what="a line again after a second")
        self.assertEqual(sum(denied_counts(srv).values()), 22)

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_ipv6_and_v4_mapped(self):
        """On a dual-stack [::] listener an IPv4 client arrives as
        ::ffff:127.0.0.1 and is matched by the IPv4 rule; ::1 by the IPv6
        one; an IPv6 rule as wide as ::/0 leaves IPv4 clients alone."""
        self.put("hello.txt", b"hello\n")
        srv = self.serve(args=("--deny", "127.0.0.1", "--deny", "::1"),
                         listen=["native=[::]:0", "http=[::]:0"])
        native, http = where(srv, "native"), where(srv, "http")
        v4, v6 = ("127.0.0.1", native[1]), ("::1", native[1])
        self.assertEqual(refused("127.0.0.1", v4, request("hello.txt")), ("reset", b""))
        self.assertEqual(refused("::1", v6, request("hello.txt")), ("reset", b""))
        self.assertEqual(native_fetch("127.0.0.2", v4, "hello.txt"), b"hello\n")
        self.assertEqual(curl("127.0.0.1", ("127.0.0.1", http[1]), "/hello.txt")[0], 403)
        self.assertEqual(curl("127.0.0.2", ("127.0.0.1", http[1]), "/hello.txt"),
                         (200, b"hello\n"))
        self.assertEqual(curl("::1", ("::1", http[1]), "/hello.txt")[0], 403)
        srv.wait_log(DENIED_LINE.format("127.0.0.1"))
        srv.wait_log(DENIED_LINE.format("::1"))
        wide = self.serve(args=("--deny", "::/0"), listen=["native=[::]:0"])
        port = where(wide, "native")[1]
        self.assertEqual(refused("::1", ("::1", port), request("hello.txt")), ("reset", b""))
        self.assertEqual(native_fetch("127.0.0.1", ("127.0.0.1", port), "hello.txt"), b"hello\n")

    def test_metrics_listener(self):
        """The master's own listener is subject too: 403, counted apart."""
        srv = self.serve(args=("--deny", "127.0.0.2"),
                         listen=["native=127.0.0.1:0", "metrics=127.0.0.1:0"])
        addr = where(srv, "metrics")
        self.assertEqual(curl("127.0.0.2", addr, "/status")[0], 403)
        code, text = curl("127.0.0.1", addr, "/metrics")
        self.assertEqual(code, 200)
        self.assertIn(f'ferry_denied_connections_total{{listener="127.0.0.1:{addr[1]}",'
                      f'protocol="metrics"}} 1\n'.encode(), text)
        srv.wait_log(r"proto=metrics status=403 " + DENIED_LINE.format("127.0.0.2"))

    def test_bad_rules_refused_at_start(self):
        """A malformed rule, a prefix too long, or bits beyond the prefix:
        usage errors (exit 2) that say which and how to write it."""
        cases = {("--deny", "10.0.0.0/33"): "the prefix is beyond /32",
                 ("--allow", "192.168.1.10/16"): "write the network, 192.168.0.0/16, or the "
                                                 "host alone, 192.168.1.10",
                 ("--deny", "2001:db8::1/32"): "write the network, 2001:db8::/32",
                 ("--deny", "example.org"): "'example.org' is not an address or network",
                 ("--allow", "::/129"): "the prefix is beyond /128"}
        for args, says in cases.items():
            r = subprocess.run([FERRYD, *args, "127.0.0.1", "0", self.root],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(says, r.stderr)


if __name__ == "__main__":
    unittest.main()
