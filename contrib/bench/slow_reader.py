#!/usr/bin/env python3
"""A deliberately slow reader for ferryd: one download whose reads are
paced, to watch TCP flow control from the server's side.

    slow_reader.py [--rcvbuf BYTES] [--http] [--chunk BYTES]
                   [--interval SECONDS] [--duration SECONDS] HOST PORT NAME

It sets SO_RCVBUF before connecting when --rcvbuf is given (0: leave the
kernel's autotuning alone; Linux doubles the value and locks the buffer,
which also fixes the window scale offered in the SYN), asks for NAME with a
native GET (docs/PROTOCOL.md) or, with --http, an HTTP/1.1 GET, checks the
answer's status, then reads --chunk bytes every --interval seconds (the
k-th read is due at start + k * interval, so the rate is chunk / interval
whatever a read costs) until --duration passes, the body ends, or SIGTERM.

Output, one line each, on stdout (key=value, for slow-receiver.sh):
    START port=LOCAL_PORT rcvbuf=GETSOCKOPT_VALUE rate_bps=CHUNK/INTERVAL
    T t=SECONDS bytes=RECEIVED        (about once a --report seconds)
    END t=SECONDS bytes=RECEIVED rate_bps=... eof=0|1
Exit 0, or 1 with a message on stderr (cannot connect, an error answer).
Python 3 standard library only."""

import argparse
import signal
import socket
import struct
import sys
import time

GET, FILE_RESPONSE = 0x07, 0x02


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rcvbuf", type=int, default=0, help="SO_RCVBUF before connect; 0: default")
    p.add_argument("--http", action="store_true", help="HTTP GET instead of the native GET")
    p.add_argument("--chunk", type=int, default=1024, help="bytes per read [1024]")
    p.add_argument("--interval", type=float, default=0.01, help="seconds between reads [0.01]")
    p.add_argument("--duration", type=float, default=10.0, help="stop after this [10]")
    p.add_argument("--report", type=float, default=0.5, help="seconds between T lines [0.5]")
    p.add_argument("--timeout", type=float, default=10.0, help="connect and answer timeout [10]")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("name")
    a = p.parse_args(argv)
    if a.chunk < 1 or a.interval <= 0 or a.duration <= 0 or a.rcvbuf < 0:
        p.error("--chunk, --interval and --duration must be above 0, --rcvbuf not below")
    return a


def recv_exact(sock, n):
    """Exactly n bytes, or fewer if the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            break
        buf += part
    return bytes(buf)


def ask(sock, a):
    """Sends the request and reads the answer's head. Returns the body
    bytes that came with the head; raises RuntimeError on an error answer."""
    name = a.name.encode()
    if not a.http:
        sock.sendall(struct.pack(">BBHQQ", 1, GET, len(name), 0, (1 << 63) - 1) + name)
        head = recv_exact(sock, 11)
        if len(head) != 11:
            raise RuntimeError(f"answer of {len(head)} bytes")
        _, mtype, status, size = struct.unpack(">BBBQ", head)
        if mtype != FILE_RESPONSE or status != 0:
            raise RuntimeError(f"native status {status} (type {mtype}), size {size}")
        return b""
    sock.sendall(f"GET /{a.name} HTTP/1.1\r\nHost: {a.host}\r\nConnection: close\r\n\r\n"
                 .encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        part = sock.recv(4096)
        if not part or len(buf) > 65536:
            raise RuntimeError(f"no HTTP head: {buf[:80]!r}")
        buf += part
    head, _, body = buf.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if not status.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"HTTP answer {status.decode(errors='replace')}")
    return body


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop()


def main(argv):
    a = parse_args(argv)
    sock = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET)
    if a.rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    sock.settimeout(a.timeout)
    try:
        sock.connect((a.host, a.port))
        got = len(ask(sock, a))
    except (OSError, RuntimeError) as e:
        print(f"slow_reader: {a.host}:{a.port} {a.name}: {e}", file=sys.stderr)
        return 1
    rate = a.chunk / a.interval
    print(f"START port={sock.getsockname()[1]} "
          f"rcvbuf={sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)} rate_bps={rate:.0f}",
          flush=True)
    signal.signal(signal.SIGTERM, on_term)
    start = time.monotonic()
    due, report, eof = start, start + a.report, False
    end = start + a.duration
    try:
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if due > now:
                time.sleep(min(due, end) - now)
                continue
            # A read later than one interval does not make up for it in a
            # burst: the schedule restarts from now.
            due = due + a.interval if now - due < a.interval else now + a.interval
            part = recv_exact(sock, a.chunk)
            got += len(part)
            if len(part) < a.chunk:
                eof = True
                break
            if now >= report:
                print(f"T t={now - start:.3f} bytes={got}", flush=True)
                report += a.report
    except Stop:
        pass
    except OSError as e:
        print(f"slow_reader: {a.name}: {e}", file=sys.stderr)
    secs = time.monotonic() - start
    print(f"END t={secs:.3f} bytes={got} rate_bps={got / secs if secs else 0:.0f} "
          f"eof={int(eof)}", flush=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
