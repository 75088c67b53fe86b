#!/usr/bin/env python3
"""slow-receiver.sh's measuring half: samples the server's sockets and
scoreboard while slow readers run, times fast clients beside them, and
prints the tables. Python 3 standard library, plus ss(8) from iproute2.

    slow_sample.py sample --admin SOCK --port N [--port N] --pid FERRYD
                          --duration S [--every S] --out FILE
    slow_sample.py probe --native HOST:PORT --http HOST:PORT --small NAME
                         --big NAME --duration S --out FILE
    slow_sample.py table --samples FILE --readers FILE --probe FILE
                         --baseline FILE --title TEXT [--outputs DIR]

sample: every --every seconds (0.2) one `ss -tinmH` of every TCP socket
  on the listeners' ports, both ends (the server's socket and the
  reader's), and one `connections` answer of the admin socket; the whole
  series goes to FILE as JSON, with ferryd's CPU time over the run.
probe: fast clients, one after another for --duration seconds: a native
  GET and an HTTP GET of the small file every 50 ms, a native GET of the
  big file every 500 ms, each on a new connection, each timed from
  connect to the last byte (2 s at most: slower counts as failed).
table: one markdown table of the slow readers and one of the fast
  clients, from those files. --readers has one line per reader:
  TARGET RATE_BPS LABEL... (TARGET the file it downloads, by which its
  connection is found in the scoreboard). With --outputs, a reader that
  left DIR/TARGET.out (slow_reader.py's output) is checked against the
  sockets: a "note:" line says when its own count and the rate derived
  from ss differ by more than 10 %.

How the figures are derived is said once, in docs/BENCHMARKS.md
("Slow receivers"); the definitions are also beside the code below."""

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

# ferryd's listeners set TCP_NOTSENT_LOWAT to this (master/listen.c): a
# socket polls writable again once fewer than half of it are unsent.
NOTSENT_LOWAT = 256 * 1024
KIB = 1024.0

# --------------------------------------------------------------- sampling

SS_FIELDS = {  # name in ss -tinm output -> key; counters absent when 0
    "bytes_acked": "acked", "bytes_received": "received", "notsent": "notsent",
    "snd_wnd": "snd_wnd", "mss": "mss", "rcv_space": "rcv_space",
    "rcv_ssthresh": "rcv_ssthresh", "cwnd": "cwnd",
}
SS_MS = {"busy": "busy_ms", "rwnd_limited": "rwnd_ms", "sndbuf_limited": "sndbuf_ms"}


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def parse_ss(text):
    """ss -tinmH output -> list of dicts, one per socket: lport, pport,
    recvq, sendq, skmem fields (rb, tb, w...), wscale and SS_FIELDS."""
    socks, cur = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            tok = line.split()
            addrs = [i for i, t in enumerate(tok) if re.fullmatch(r"\S*:\d+", t)]
            if len(addrs) < 2:
                cur = None
                continue
            i = addrs[0]
            cur = {"recvq": int(tok[i - 2]), "sendq": int(tok[i - 1]),
                   "lport": port_of(tok[i]), "pport": port_of(tok[i + 1])}
            socks.append(cur)
            continue
        if cur is None:
            continue
        m = re.search(r"skmem:\(([^)]*)\)", line)
        if m:
            for kv in m.group(1).split(","):
                k = re.match(r"([a-z]+)(\d+)", kv)
                if k:
                    cur["sk_" + k.group(1)] = int(k.group(2))
        m = re.search(r"wscale:(\d+),(\d+)", line)
        if m:
            cur["snd_wscale"], cur["rcv_wscale"] = int(m.group(1)), int(m.group(2))
        for name, key in SS_FIELDS.items():
            m = re.search(r"(?<![a-z_])" + name + r":(\d+)", line)
            if m:
                cur[key] = int(m.group(1))
        for name, key in SS_MS.items():
            m = re.search(r"(?<![a-z_])" + name + r":(\d+)ms", line)
            if m:
                cur[key] = int(m.group(1))
    return socks


def ss_sample(ports):
    flt = " or ".join(f"sport = :{p} or dport = :{p}" for p in ports)
    out = subprocess.run(["ss", "-tinmH", f"( {flt} )"], capture_output=True, text=True,
                         timeout=5)
    return parse_ss(out.stdout)


class Admin:
    """One connection to ferryd's admin socket, newline-delimited JSON."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.buf = b""

    def ask(self, cmd):
        self.sock.sendall(json.dumps(cmd).encode() + b"\n")
        while b"\n" not in self.buf:
            part = self.sock.recv(1 << 16)
            if not part:
                raise OSError("admin socket closed")
            self.buf += part
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def cpu_seconds(pid):
    """User + system CPU of pid and its children (the workers), from /proc."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def cmd_sample(a):
    admin = Admin(a.admin)
    cpu0 = cpu_seconds(a.pid)
    workers0 = admin.ask({"cmd": "workers"}).get("workers", [])
    t0 = time.monotonic()
    samples = []
    n = int(a.duration / a.every) + 1  # bounded: one sample per tick at most
    for k in range(n):
        due = t0 + k * a.every
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        t = time.monotonic() - t0
        ss = ss_sample(a.port)
        conns = admin.ask({"cmd": "connections"}).get("connections", [])
        samples.append({"t": round(t, 4), "ss": ss, "conns": conns})
    secs = time.monotonic() - t0
    workers1 = admin.ask({"cmd": "workers"}).get("workers", [])
    result = {"ports": a.port, "duration": secs, "cpu_s": cpu_seconds(a.pid) - cpu0,
              "workers": [workers0, workers1], "samples": samples}
    with open(a.out, "w") as f:
        json.dump(result, f)
    return 0

# ------------------------------------------------------------ fast probes


def timed(fn, timeout):
    """Milliseconds fn took, or None when it failed or took over timeout."""
    t = time.monotonic()
    try:
        fn(timeout)
    except (OSError, ValueError):
        return None
    ms = (time.monotonic() - t) * 1000
    return ms if ms <= timeout * 1000 else None


def read_all(sock, n):
    got = 0
    while got < n:
        part = sock.recv(min(n - got, 1 << 20))
        if not part:
            raise ValueError(f"short: {got} of {n}")
        got += len(part)


def native_get(addr, name, timeout):
    host, port = addr
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack(">BBHQQ", 1, 7, len(name), 0, 1 << 40) + name.encode())
        head = b""
        while len(head) < 11:
            part = s.recv(11 - len(head))
            if not part:
                raise ValueError("no answer")
            head += part
        _, _, status, size = struct.unpack(">BBBQ", head)
        if status != 0:
            raise ValueError(f"status {status}")
        read_all(s, size)


def http_get(addr, name, timeout):
    host, port = addr
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET /{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            part = s.recv(65536)
            if not part:
                raise ValueError("no head")
            buf += part
        head, _, body = buf.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError(head[:40])
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        read_all(s, int(m.group(1)) - len(body))


def hostport(text):
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def cmd_probe(a):
    nat, web = hostport(a.native), hostport(a.http)
    kinds = {"native GET small": [], "HTTP GET small": [], "native GET big": []}
    t0 = time.monotonic()
    for k in range(int(a.duration / 0.05) + 1):
        due = t0 + k * 0.05
        now = time.monotonic()
        if now - t0 >= a.duration:
            break
        if due > now:
            time.sleep(due - now)
        kinds["native GET small"].append(timed(lambda t: native_get(nat, a.small, t), a.timeout))
        kinds["HTTP GET small"].append(timed(lambda t: http_get(web, a.small, t), a.timeout))
        if k % 10 == 0:
            kinds["native GET big"].append(timed(lambda t: native_get(nat, a.big, t), a.timeout))
    with open(a.out, "w") as f:
        json.dump({"duration": time.monotonic() - t0, "small": a.small, "big": a.big,
                   "kinds": kinds}, f)
    return 0

# ----------------------------------------------------------------- tables


def pct(values, q):
    """The q-quantile (nearest rank) of a non-empty list."""
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(q * len(v) + 0.999999) - 1))]


def num(x):
    """KiB or ms for a table: one decimal below 100, whole above."""
    if x is None:
        return "n/a"
    return f"{x:.1f}" if abs(x) < 100 else f"{x:.0f}"


def series(data, target):
    """The samples of the reader downloading target: a list of
    (t, server socket, reader socket, scoreboard record)."""
    out = []
    for s in data["samples"]:
        conn = next((c for c in s["conns"]
                     if (c.get("target") or "").lstrip("/") == target), None)
        if conn is None:
            continue
        pport = port_of(conn["peer"])
        srv = next((x for x in s["ss"] if x["pport"] == pport and x["lport"] in data["ports"]),
                   None)
        rdr = next((x for x in s["ss"] if x["lport"] == pport and x["pport"] in data["ports"]),
                   None)
        if srv is not None and rdr is not None:
            out.append((s["t"], srv, rdr, conn))
    return out


def blocked(srv):
    """True when the server's socket would not poll writable: more than
    half of TCP_NOTSENT_LOWAT unsent, or the send buffer two thirds full
    (the kernel's wake-up rules, tcp_poll()). A write that waits, waits
    for exactly this to end, in a blocking worker and in an event loop."""
    if srv.get("notsent", 0) * 2 >= NOTSENT_LOWAT:
        return True
    return "sk_w" in srv and "sk_tb" in srv and srv["sk_w"] * 3 >= srv["sk_tb"] * 2


def sent_of(srv):
    """Bytes the server's kernel accepted so far: acknowledged + queued."""
    return srv.get("acked", 0) + srv["sendq"]


def got_of(rdr):
    """Bytes the reader's program took so far: what its socket received,
    less what still waits in its receive queue. (Not the server's acked
    count: a receiver may hold its ACK back for a segment it has.)"""
    return max(0, rdr.get("received", 0) - rdr["recvq"])


def in_flight(srv, rdr):
    """Bytes ferryd wrote that the reader's program has not read: not the
    plain sum of the two queues, which counts twice what the reader holds
    and has not acknowledged yet."""
    return max(0, sent_of(srv) - got_of(rdr))


def rate_between(points, t_from, t_to):
    """KiB/s between the last (t, bytes) points at or before t_from and
    t_to; None when they are the same point."""
    a = [p for p in points if p[0] <= t_from]
    b = [p for p in points if p[0] <= t_to]
    if not a or not b or b[-1][0] <= a[-1][0]:
        return None
    return (b[-1][1] - a[-1][1]) / (b[-1][0] - a[-1][0]) / KIB


def reader_row(data, target, rate_bps, label):
    pts = series(data, target)
    dur = data["duration"]
    if not pts:
        return [label, num(rate_bps / KIB)] + ["n/a"] * 12
    has_wnd = any("snd_wnd" in x for s in data["samples"] for x in s["ss"])
    srv_last, rdr_last = pts[-1][1], pts[-1][2]
    # got: steady state only, from the first sample after 1 s to the last.
    steady = [p for p in pts if p[0] >= min(1.0, dur / 4)]
    got = None
    if len(steady) >= 2:
        (ta, _, ra, _), (tb, _, rb, _) = steady[0], steady[-1]
        got = (got_of(rb) - got_of(ra)) / (tb - ta) / KIB
    inflight = max(in_flight(p[1], p[2]) for p in pts)
    wnds = [p[1].get("snd_wnd", 0) for p in pts] if has_wnd else []
    zero = 100.0 * sum(1 for w in wnds if w == 0) / len(wnds) if wnds else None
    blk = 100.0 * sum(1 for p in pts if blocked(p[1])) / len(pts)
    busy = srv_last.get("busy_ms", 0)
    rwnd = 100.0 * srv_last.get("rwnd_ms", 0) / busy if busy else 0.0
    gap = max(p[3].get("idle_ms", 0) for p in pts) / 1000.0
    # Throughput over time: what the server's kernel accepted, per second,
    # from the connection's start (its age in the first sample: it may
    # predate the first sample by a few ms) to 1 s, then over thirds of
    # the rest.
    start = pts[0][0] - pts[0][3].get("age_s", 0.0)
    sent = [(start, 0)] + [(p[0], sent_of(p[1])) for p in pts]
    first = min(1.0, dur / 4)
    edges = [start, first] + [first + (dur - first) * k / 3 for k in (1, 2, 3)]
    over = [rate_between(sent, edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    wscale = f"{srv_last['snd_wscale']}" if "snd_wscale" in srv_last else "n/a"
    rcvbuf = max(p[2].get("sk_rb", 0) for p in pts) / KIB
    return [label, num(rate_bps / KIB), num(got), num(rcvbuf), wscale,
            num(inflight / KIB), num(max(p[1]["sendq"] for p in pts) / KIB),
            num(max(p[2]["recvq"] for p in pts) / KIB),
            f"{num(min(wnds) / KIB)}..{num(max(wnds) / KIB)}" if wnds else "n/a",
            num(zero), num(blk), num(rwnd), f"{gap:.2f}",
            " → ".join(num(x) for x in over)]


READER_HEAD = ["reader", "set KiB/s", "got KiB/s", "rcvbuf KiB", "wscale",
               "in flight KiB", "Send-Q KiB", "Recv-Q KiB", "window KiB",
               "zero window %", "blocked %", "rwnd-limited %", "write gap s",
               "sent KiB/s: 1st s → thirds"]
FAST_HEAD = ["fast client", "n", "failed", "p50 ms", "p99 ms", "max ms",
             "baseline p50 ms", "baseline p99 ms"]


def markdown(head, rows, right_from=1):
    """A markdown table padded for a terminal."""
    width = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) if i < right_from else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, width))) + " |"
    rule = "|" + "|".join("-" * (w + 1) + (":" if i >= right_from else "-")
                          for i, w in enumerate(width)) + "|"
    return "\n".join([line(head), rule] + [line(r) for r in rows])


def ms(x):
    """Milliseconds for a table: loopback latencies want two decimals."""
    return "n/a" if x is None else f"{x:.2f}" if x < 10 else f"{x:.0f}"


def fast_rows(probe, base):
    rows = []
    for kind, values in probe["kinds"].items():
        name = kind.replace("small", probe["small"]).replace("big", probe["big"])
        ok = [v for v in values if v is not None]
        bok = [v for v in base["kinds"].get(kind, []) if v is not None]
        rows.append([name, str(len(values)), str(len(values) - len(ok)),
                     ms(pct(ok, 0.5) if ok else None), ms(pct(ok, 0.99) if ok else None),
                     ms(max(ok) if ok else None),
                     ms(pct(bok, 0.5) if bok else None), ms(pct(bok, 0.99) if bok else None)])
    return rows


def cmd_table(a):
    with open(a.samples) as f:
        data = json.load(f)
    with open(a.probe) as f:
        probe = json.load(f)
    with open(a.baseline) as f:
        base = json.load(f)
    readers = []
    with open(a.readers) as f:
        for line in f:
            if line.strip():
                target, rate, label = line.split(None, 2)
                readers.append((target, int(rate), label.strip()))
    rows = [reader_row(data, t, r, lab) for t, r, lab in readers]
    notes = []
    for (target, _, label), row in zip(readers, rows):
        own = reader_says(a.outputs, target)
        if own is not None and row[2] != "n/a" and abs(float(row[2]) / own - 1) > 0.1:
            notes.append(f"note: {label}: the reader counted {num(own)} KiB/s, "
                         f"the sockets say {row[2]}")
    slots = sorted({c["slot"] for s in data["samples"] for c in s["conns"]
                    if (c.get("target") or "").lstrip("/") in {t for t, _, _ in readers}})
    print(f"### {a.title}")
    print()
    print(markdown(READER_HEAD, rows))
    print()
    print(markdown(FAST_HEAD, fast_rows(probe, base)))
    print()
    print(f"ferryd: the slow connections sat on worker slot(s) "
          f"{', '.join(map(str, slots)) or 'none'}; "
          f"requests answered during the run, by slot: {served(data)}; "
          f"ferryd's CPU over the {data['duration']:.1f} s: {data['cpu_s']:.2f} s; "
          f"{len(data['samples'])} samples.")
    print()
    for n in notes:
        print(n)
    return 0


def served(data):
    """'0: 402, 1: 399': requests each worker (by slot) answered between
    the first and the last sample; a worker that changed in between
    (another pid) is left out."""
    before, after = data.get("workers", [[], []])
    start = {(w["slot"], w["pid"]): w["requests"] for w in before}
    out = [f"{w['slot']}: {w['requests'] - start[(w['slot'], w['pid'])]}"
           for w in sorted(after, key=lambda w: w["slot"]) if (w["slot"], w["pid"]) in start]
    return ", ".join(out) or "n/a"


def reader_says(directory, target):
    """KiB/s slow_reader.py reported for target in its END line, or None."""
    if not directory:
        return None
    try:
        with open(os.path.join(directory, target + ".out")) as f:
            m = re.search(r"^END .*rate_bps=(\d+)", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) / KIB if m and int(m.group(1)) > 0 else None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--admin", required=True)
    s.add_argument("--port", type=int, action="append", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--every", type=float, default=0.2)
    s.add_argument("--out", required=True)
    s = sub.add_parser("probe")
    s.add_argument("--native", required=True)
    s.add_argument("--http", required=True)
    s.add_argument("--small", required=True)
    s.add_argument("--big", required=True)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--timeout", type=float, default=2.0)
    s.add_argument("--out", required=True)
    s = sub.add_parser("table")
    for opt in ("--samples", "--readers", "--probe", "--baseline", "--title"):
        s.add_argument(opt, required=True)
    s.add_argument("--outputs")
    a = p.parse_args(argv)
    return {"sample": cmd_sample, "probe": cmd_probe, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
