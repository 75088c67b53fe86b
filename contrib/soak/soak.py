#!/usr/bin/env python3
"""The chaos soak's driver (contrib/soak/soak.sh runs it): for each mode,
a real ferryd started from a configuration file in a temporary directory,
serving ~50 random files to N concurrent clients (half native, half HTTP,
a few of the native ones the real `ferry get`), each downloading random
files in a loop and checking every byte's SHA-256, while a chaos thread
SIGKILLs workers (timing their respawn), resizes the pool, sends SIGHUP
and edits the file for `ferryctl reload`, a mutator truncates, grows and
replaces files, a disk-full client runs `ferry get` into a tiny tmpfs,
and a sampler records the RSS and descriptors of the master and the
workers. Then one table per mode and the verdicts; exit 0 only when no
download was corrupt and every verdict passed. Python 3 standard library
only; docs/BENCHMARKS.md ("Chaos soak") says what each figure means.

    soak.py --bin DIR [--duration S] [--mode MODE|all] [--clients N]
            [--seed N] [--json FILE] [--keep]
"""

import argparse
import array
import collections
import ctypes
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from soak_clients import (DISK_MB, IO_TIMEOUT, TOO_BIG, diskfull_client, ferry_client,
                          http_client, native_client)
from soak_report import report, results, summary

MODES = ("iterative", "fork", "prefork", "event")
MiB = 1 << 20
FOLIO = 2 * MiB          # the largest page-cache folio on x86-64 (PMD): see truncate
MAX_FILE = 6 * MiB       # sizes 0 .. 6 MiB, log-uniform
NFILES = 50
# Pool size and resize bounds per mode (fork: the concurrency limit).
POOL = {"fork": (32, 16, 48), "prefork": (8, 4, 12), "event": (3, 2, 6)}


def now():
    return time.monotonic()


def log(msg):
    print(f"soak: {msg}", flush=True)


# --- The corpus: every version of every file, regenerable from seeds ------

def generate(segments, limit=None):
    """The bytes of a version: its segments concatenated, cut at limit. A
    segment (seed, length, kept) is the first kept of length bytes drawn
    from seed (randbytes(n) is no prefix of randbytes(n + k): a truncated
    segment is drawn whole, then cut)."""
    out = bytearray()
    for seed, length, kept in segments:
        if limit is not None and len(out) >= limit:
            break
        out += random.Random(seed).randbytes(length)[:kept]
    return bytes(out if limit is None else out[:limit])


class Version:
    """One content a name had: its segments, length and hash, and the
    window [created, superseded] in which a server could serve it."""

    def __init__(self, segments, created, grown_from=None):
        self.segments = segments
        data = generate(segments)
        self.length = len(data)
        self.sha = hashlib.sha256(data).hexdigest()
        self.created = created
        self.superseded = None
        # A grow is an append: a reader whose open raced it may see any
        # length between the old and the new one (a prefix of the new).
        self.grown_from = grown_from


class Bookkeeping(Exception):
    """The soak's own record of a file disagrees with the file: a bug in
    the soak, not in ferryd."""


class Corpus:
    """The served files and their history. Mutations: replace (write a new
    file and rename() it over the name), grow (append) and truncate
    (shrink in place, to a 2 MiB boundary), never a rewrite in place."""

    def __init__(self, root, rng):
        self.root = root
        self.rng = rng
        self.lock = threading.Lock()
        self.versions = {}       # name -> [Version]
        self.truncated = set()   # names whose next mutation must be a replace
        self.truncations = collections.defaultdict(list)  # name -> [[start, end]]
        self.next_seed = rng.randrange(1 << 30)
        self.counts = collections.Counter()
        # The edge cases, two files the disk-full client cannot fit, the rest
        # drawn. The two too-big files are never mutated (see TOO_BIG).
        sizes = [0, 1, 100, 3 * MiB + 1, 5 * MiB + 7] + [self.size() for _ in range(NFILES - 5)]
        for i, size in enumerate(sizes):
            name = f"f{i:02d}"
            v = Version([(self.seed(), size, size)], now())
            self.write(name, v.segments, replace=False)
            self.versions[name] = [v]
        assert all(self.versions[n][-1].length > DISK_MB * MiB + 64 * 1024 for n in TOO_BIG)

    def size(self):
        return int(2 ** self.rng.uniform(9, 22.58))  # 512 B .. 6 MiB

    def seed(self):
        self.next_seed += 1
        return self.next_seed

    def names(self):
        return sorted(self.versions)

    def path(self, name):
        return os.path.join(self.root, name)

    def write(self, name, segments, replace=True):
        data = generate(segments)
        if not replace:
            with open(self.path(name), "wb") as f:
                f.write(data)
            return
        # Hidden names are never served: the temporary file cannot be fetched.
        tmp = os.path.join(self.root, f".soak-tmp-{name}")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self.path(name))

    def current(self, name):
        with self.lock:
            return self.versions[name][-1]

    def mutate(self, name, op):
        """Applies op (replace, grow, truncate) to name; returns the op done."""
        with self.lock:
            old = self.versions[name][-1]
            if name in self.truncated or old.length == 0 and op == "truncate" \
                    or op == "grow" and old.length >= MAX_FILE:
                op = "replace"  # after a truncate, only a replace (see below)
            segs_new = self.seed(), self.size(), self.rng.randrange(1, 512 * 1024)
            keep = (self.rng.randrange(max(1, old.length)) // FOLIO) * FOLIO
        start = now()
        if op == "replace":
            new = Version([(segs_new[0], segs_new[1], segs_new[1])], start)
        elif op == "grow":
            new = Version(old.segments + [(segs_new[0], segs_new[2], segs_new[2])], start,
                          grown_from=old.length)
        else:
            # Truncating inside a page-cache folio zeroes the rest of that
            # folio, and the bytes of it that sendfile() already queued but
            # the client has not read yet arrive as zeros: a complete
            # transfer with wrong bytes (any sendfile server, nginx's too).
            # A folio holds up to 2 MiB: shrink to a multiple of that only.
            # For the same reason a truncated file is never grown again: the
            # appended bytes would replace, under a reader of the old
            # length, bytes it had not read yet.
            segs, left = [], keep
            for seed, length, kept in old.segments:
                if left <= 0:
                    break
                segs.append((seed, length, min(kept, left)))
                left -= min(kept, left)
            new = Version(segs, start)
        with self.lock:
            # Listed before the change is made, so that a download finishing
            # meanwhile finds it (and a truncation that cut it short).
            self.versions[name].append(new)
            window = [start, None]  # None: under way
            if op == "truncate":
                self.truncations[name].append(window)
        if op == "replace":
            self.write(name, new.segments)
        elif op == "grow":
            with open(self.path(name), "ab") as f:
                f.write(generate(new.segments[-1:]))
        else:
            os.truncate(self.path(name), new.length)
        end = now()
        # The soak checks itself: the file now holds exactly the version it
        # will judge downloads by (only this thread writes the files).
        with open(self.path(name), "rb") as f:
            on_disk = hashlib.sha256(f.read()).hexdigest()
        with self.lock:
            old.superseded = end
            window[1] = end
            if op == "truncate":
                self.truncated.add(name)
            else:
                self.truncated.discard(name)
            self.counts[op] += 1
            # Versions no download in flight can still be served are dropped
            # (a download is given up after IO_TIMEOUT without progress; a
            # generous margin on top).
            hist = self.versions[name]
            while len(hist) > 1 and hist[0].superseded is not None \
                    and hist[0].superseded < end - 600:
                hist.pop(0)
        if on_disk != new.sha:
            raise Bookkeeping(f"{op} {name}: the file's SHA-256 is not the version recorded")
        return op

    def truncated_during(self, name, t0, t1):
        with self.lock:
            return any(a <= t1 and (b is None or b >= t0)
                       for a, b in self.truncations.get(name, ()))

    def verify(self, name, t0, t1, length, sha):
        """'ok' if (length, sha) is a version of name that existed during
        [t0, t1] ('ok-append' for a prefix a racing append explains), else
        'corrupt'."""
        with self.lock:
            cands = [v for v in self.versions[name]
                     if v.created <= t1 and (v.superseded is None or v.superseded >= t0)]
        for v in cands:
            if v.length == length and v.sha == sha:
                return "ok"
        for v in cands:
            if v.grown_from is not None and v.grown_from < length < v.length:
                if hashlib.sha256(generate(v.segments, length)).hexdigest() == sha:
                    return "ok-append"
        return "corrupt"


# --- ferryd and its admin socket ------------------------------------------

class Admin:
    """A persistent connection to the admin socket (newline-delimited JSON)."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""

    def call(self, cmd, **args):
        """The decoded answer of cmd, or None when ferryd cannot be reached."""
        for _ in range(2):  # one reconnection
            try:
                if self.sock is None:
                    self.sock = socket.socket(socket.AF_UNIX)
                    self.sock.settimeout(10)
                    self.sock.connect(self.path)
                    self.buf = b""
                self.sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
                while b"\n" not in self.buf:
                    chunk = self.sock.recv(1 << 16)
                    if not chunk:
                        raise ConnectionError("closed")
                    self.buf += chunk
                line, self.buf = self.buf.split(b"\n", 1)
                return json.loads(line)
            except (OSError, ValueError):
                self.close()
        return None

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def pdeathsig():
    """In the child before exec: die with the driver, whatever kills it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Ferryd:
    """ferryd -c CONF --admin-socket SOCK, its stderr in a log file."""

    def __init__(self, binary, tmp, mode, root):
        self.binary = binary
        self.mode = mode
        self.root = root
        self.conf = os.path.join(tmp, "ferryd.conf")
        self.sock = os.path.join(tmp, "admin.sock")
        self.logpath = os.path.join(tmp, "ferryd.log")
        self.workers = POOL[mode][0] if mode in POOL else None
        self.keepalive = 5
        self.redirect = ("/moved-0", "/f00")
        self.write_conf()
        self.logf = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(binary, "ferryd"), "-c", self.conf, "--admin-socket", self.sock],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.logf,
            preexec_fn=pdeathsig)
        self.pid = self.proc.pid
        deadline = now() + 10
        while "admin socket " not in self.log():
            if self.proc.poll() is not None or now() > deadline:
                raise RuntimeError(f"ferryd did not start:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        ports = dict(re.findall(r"listening on (\w+)=127\.0\.0\.1:(\d+)", self.log()))
        self.native, self.http = int(ports["native"]), int(ports["http"])

    def write_conf(self):
        lines = [f"directory = {self.root}", f"mode = {self.mode}", "log-level = info",
                 "shutdown-timeout = 15", f"keepalive-timeout = {self.keepalive}"]
        if self.workers is not None:
            lines.append(f"workers = {self.workers}")
        lines += ["", "[listen]", "native = 127.0.0.1:0", "http = 127.0.0.1:0", "",
                  "[redirect]", f"{self.redirect[0]} = {self.redirect[1]}", ""]
        with open(self.conf + ".new", "w") as f:
            f.write("\n".join(lines))
        os.rename(self.conf + ".new", self.conf)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def ctl(self, *args, timeout=40):
        """ferryctl --json ARGS: (exit code, decoded answer or None, stderr)."""
        try:
            r = subprocess.run([os.path.join(self.binary, "ferryctl"), "-s", self.sock,
                                "--json", *map(str, args)], capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return -1, None, "ferryctl timed out"
        try:
            answer = json.loads(r.stdout) if r.stdout.strip() else None
        except ValueError:
            answer = None
        return r.returncode, answer, r.stderr.strip()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=45):
        """SIGTERM, then its exit code (None if it had to be SIGKILLed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            rc = None
        self.logf.close()
        return rc


def proc_figures(pid):
    """(RSS bytes, open descriptors) of pid, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration, ValueError):
        return None


# --- Statistics -----------------------------------------------------------

class Stats:
    """Counters shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = collections.Counter()
        self.reasons = collections.Counter()
        self.examples = collections.defaultdict(list)
        self.kill_times = []     # (start, end) of each SIGKILL sent
        self.respawn_ms = []
        self.killed_pids = set()  # every pid SIGKILLed, for the log's exits
        self.times = collections.defaultdict(lambda: array.array("d"))  # proto -> seconds

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n

    def example(self, kind, text, port=None, limit=10):
        """Keeps the first examples of a kind; with the client's port, the
        wall-clock time, to find ferryd's log line of that connection."""
        with self.lock:
            if len(self.examples[kind]) < limit:
                self.examples[kind].append([text, port, time.time()])

    def killed_during(self, t0, t1):
        with self.lock:
            return any(a <= t1 and b >= t0 for a, b in self.kill_times)


class Run:
    """What every thread of one mode's run shares."""

    def __init__(self, args, mode, tmp, corpus, ferryd, stats):
        self.args = args
        self.mode = mode
        self.tmp = tmp
        self.corpus = corpus
        self.ferryd = ferryd
        self.stats = stats
        self.stop = threading.Event()
        self.names = corpus.names()
        self.mutable = [n for n in self.names if n not in TOO_BIG]


# --- Chaos ----------------------------------------------------------------

def pool_steady(admin, timeout=20.0):
    """Waits until the pool is running at its target; returns the target
    (None on timeout)."""
    deadline = now() + timeout
    while now() < deadline:
        st = admin.call("status")
        wk = admin.call("workers")
        if st and wk and st.get("ok") and wk.get("ok"):
            target = st["limits"]["workers"]
            n = sum(1 for w in wk["workers"] if w.get("kind", "worker") == "worker")
            if st["state"] == "running" and n == target:
                return target
        time.sleep(0.05)
    return None


def chaos_kill(run, admin, rng):
    """SIGKILLs a random worker (prefork, event: one at least 2 s old, as a
    younger one is restarted with back-off on purpose; fork: a child) and,
    where the pool respawns, times the slot count back to the target."""
    st, f = run.stats, run.ferryd
    respawns = run.mode in ("prefork", "event")
    target = pool_steady(admin, 10) if respawns else None
    if respawns and target is None:
        st.add("kill.skipped_not_steady")
        return
    cands = []
    for _ in range(8):  # a rolling restart may have left only young workers
        rc, answer, err = f.ctl("workers")
        if rc != 0 or not answer:
            st.add("admin_errors")
            st.example("admin", f"ferryctl workers: exit {rc}: {err}")
            return
        cands = [w for w in answer["workers"] if w.get("kind", "worker") == "worker"
                 and (not respawns or w["age_s"] >= 2.0) and w["state"] != "exiting"]
        if run.mode == "fork":
            cands = [w for w in cands if w["state"] == "sending"] or cands
        if cands or run.stop.wait(0.5):
            break
    if not cands:
        st.add("kill.skipped_no_candidate")
        return
    victim = rng.choice(cands)["pid"]
    t_kill = now()
    with st.lock:
        st.kill_times.append((t_kill, t_kill))
    try:
        os.kill(victim, signal.SIGKILL)
    except ProcessLookupError:
        st.add("kill.gone")
        return
    st.add("kills")
    with st.lock:
        st.killed_pids.add(victim)
    if not respawns:
        return
    deadline = t_kill + 15
    while now() < deadline:  # every ~10 ms
        wk = admin.call("workers")
        if wk and wk.get("ok"):
            pids = [w["pid"] for w in wk["workers"] if w.get("kind", "worker") == "worker"]
            if victim not in pids and len(pids) == target:
                with st.lock:
                    st.respawn_ms.append((now() - t_kill) * 1000)
                return
        time.sleep(0.01)
    st.add("respawn_timeouts")
    st.example("respawn", f"pid {victim} killed: pool not back to {target} within 15 s")


def chaos_resize(run, admin, rng):
    st, f = run.stats, run.ferryd
    if run.mode == "iterative":
        if st.c["resize.refused"] == 0:  # once: it must be refused, and say so
            rc, answer, _ = f.ctl("resize", 2)
            ok = rc == 1 and answer and answer.get("error") == "unsupported"
            st.add("resize.refused" if ok else "resize.bad")
            if not ok:
                st.example("resize", f"iterative resize: exit {rc}: {answer}")
        return
    _, lo, hi = POOL[run.mode]
    st_ = admin.call("status")
    if not st_ or not st_.get("ok"):
        return
    cur = st_["limits"]["workers"]
    if rng.random() < 0.5:
        delta = rng.choice((-2, -1, 1, 2))
        to = max(lo, min(hi, cur + delta))
        arg = f"{to - cur:+d}" if to != cur else str(to)
    else:
        to = rng.randint(lo, hi)
        arg = str(to)
    rc, answer, err = f.ctl("resize", arg, "--drain-timeout", 10)
    if rc == 0 and answer and answer.get("ok") and answer.get("to") == to:
        st.add("resize.up" if to > cur else "resize.down" if to < cur else "resize.same")
        if run.mode != "fork" and pool_steady(admin, 15) != to:
            st.add("resize.bad")
            st.example("resize", f"resize {arg}: the pool did not settle at {to}")
    elif answer and answer.get("error") == "busy":
        st.add("resize.busy")
    else:
        st.add("resize.bad")
        st.example("resize", f"resize {arg}: exit {rc}: {answer or err}")


def chaos_hup(run, admin, rng):
    os.kill(run.ferryd.pid, signal.SIGHUP)
    run.stats.add("hups")
    time.sleep(0.2)


def http_status(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status, r.getheader("Location")
    except (OSError, http.client.HTTPException):
        return None, None
    finally:
        c.close()


def chaos_reload(run, admin, rng):
    """Edits the file (keepalive-timeout 5 <-> 6 and the redirect's name
    and target), then `ferryctl reload`: the answer must name both changes,
    `config` must show the new timeout and HTTP the new redirect. The
    timeout flips from what runs, not from the last edit: a SIGHUP that
    came during a restart reloads after it, and may have applied an edit
    this function saw refused as busy."""
    st, f = run.stats, run.ferryd
    old = (f.keepalive, f.redirect)
    n = st.c["reload.ok"] + st.c["reload.busy"] + st.c["reload.unsupported"] + 1
    running = {s["key"]: s["value"] for s in (admin.call("config") or {}).get("settings", [])
               if s["section"] == ""}
    f.keepalive = 11 - int(running.get("keepalive-timeout", f.keepalive))
    f.redirect = (f"/moved-{n}", "/" + rng.choice(run.names))
    f.write_conf()
    for attempt in range(3):
        rc, answer, err = f.ctl("reload")
        if not (answer and answer.get("error") == "busy"):
            break
        time.sleep(1)
    if answer and answer.get("error") == "unsupported" and run.mode == "iterative":
        st.add("reload.unsupported")
        f.keepalive, f.redirect = old
        f.write_conf()
        return
    if answer and answer.get("error") == "busy":
        st.add("reload.busy")  # the edit stays: a queued SIGHUP's reload may apply it
        return
    changes = " | ".join(answer.get("changes", [])) if answer else ""
    if rc != 0 or not answer or not answer.get("ok") \
            or "keepalive-timeout" not in changes or "redirect" not in changes:
        st.add("reload.bad")
        st.example("reload", f"reload: exit {rc}: {answer or err}")
        return
    st.add("reload.ok")
    # The workers started before it keep the old configuration until the
    # rolling restart replaces them: wait for it, then look.
    if run.mode != "fork":
        pool_steady(admin, 20)
    cfg = admin.call("config")
    live = {s["key"]: s["value"] for s in (cfg or {}).get("settings", []) if s["section"] == ""}
    status, where = None, None
    for _ in range(20):
        status, where = http_status(f.http, f.redirect[0])
        if status == 301:
            break
        time.sleep(0.25)
    if str(live.get("keepalive-timeout")) == str(f.keepalive) and status == 301 \
            and where and where.endswith(f.redirect[1]):
        st.add("reload.verified")
    else:
        st.add("reload.bad")
        st.example("reload", f"after reload: keepalive-timeout {live.get('keepalive-timeout')} "
                   f"(want {f.keepalive}); GET {f.redirect[0]} -> {status} {where}")


def chaos_thread(run, deadline):
    """One action at a time, 0.5 to 2 s apart, until the deadline: each
    kind once, then drawn at random (kills weigh 4, resizes 2, SIGHUP and
    reload 1)."""
    rng = random.Random(run.args.seed * 7 + MODES.index(run.mode))
    admin = Admin(run.ferryd.sock)
    # Connected now, not at the first action that asks (in fork mode the
    # first reload, maybe well after the warm-up): the master's descriptor
    # count, judged flat, holds this connection in every sample.
    admin.call("ping")
    actions = [(chaos_kill, 4), (chaos_resize, 2), (chaos_hup, 1), (chaos_reload, 1)]
    if run.mode == "iterative":  # no worker to kill; resize, reload refused
        actions = [(chaos_resize, 1), (chaos_hup, 1), (chaos_reload, 1)]
    fns = [a for a, w in actions for _ in range(w)]
    first = [a for a, _ in actions]  # each once first, so a short run has them all
    try:
        for i in range(100000):
            if run.stop.wait(rng.uniform(0.5, 2.0)) or now() >= deadline:
                break
            fn = first[i] if i < len(first) else rng.choice(fns)
            try:
                fn(run, admin, rng)
            except Exception as e:  # noqa: BLE001 -- counted, and the run goes on
                run.stats.add("chaos_errors")
                run.stats.example("chaos", f"{fn.__name__}: {type(e).__name__}: {e}")
    finally:
        admin.close()


def mutator_thread(run, deadline):
    """A file mutation every 0.2 to 1 s: replace 50 %, grow 30 %, truncate 20 %."""
    rng = random.Random(run.args.seed * 13 + MODES.index(run.mode))
    for _ in range(100000):
        if run.stop.wait(rng.uniform(0.2, 1.0)) or now() >= deadline:
            break
        op = rng.choices(("replace", "grow", "truncate"), (5, 3, 2))[0]
        try:
            run.corpus.mutate(rng.choice(run.mutable), op)
        except Bookkeeping as e:
            run.stats.add("bookkeeping_errors")
            run.stats.example("bookkeeping", str(e))
        except OSError as e:
            run.stats.add("mutation_errors")
            run.stats.example("mutation", f"{op}: {e}")


# --- Sampling -------------------------------------------------------------

def sample(run, admin, t0):
    """One sample: the master's RSS and descriptors, the workers' (sum,
    max); per worker its descriptors less the connections it holds."""
    m = proc_figures(run.ferryd.pid)
    wk = admin.call("workers") or {}
    rss, fds = [], []
    for w in wk.get("workers", []):
        if w.get("kind", "worker") != "worker" or w["pid"] == run.ferryd.pid:
            continue
        fig = proc_figures(w["pid"])
        if fig:
            rss.append(fig[0])
            fds.append(fig[1])
    return {"t": round(now() - t0, 1), "master_rss": m[0] if m else None,
            "master_fds": m[1] if m else None, "workers": len(rss),
            "workers_rss_sum": sum(rss), "workers_rss_max": max(rss, default=None),
            "workers_fds_sum": sum(fds), "workers_fds_max": max(fds, default=None)}


def sampler_thread(run, samples, t0, deadline, every):
    admin = Admin(run.ferryd.sock)
    try:
        for _ in range(100000):
            samples.append(sample(run, admin, t0))
            if not run.ferryd.alive():
                break
            if run.stop.wait(every) or now() >= deadline:
                break
        samples.append(sample(run, admin, t0))
    finally:
        admin.close()


def quiet(run, admin, timeout=20.0):
    """Master and worker descriptors with no connection open: (master fds,
    [worker fds]), or None if connections stay open."""
    deadline = now() + timeout
    while now() < deadline:
        st = admin.call("status")
        if st and st.get("ok") and st["connections"]["open"] == 0 and st["state"] == "running":
            m = proc_figures(run.ferryd.pid)
            wk = admin.call("workers") or {}
            w = [proc_figures(x["pid"]) for x in wk.get("workers", [])
                 if x["pid"] != run.ferryd.pid]
            if m:
                return m[1], sorted(x[1] for x in w if x)
        time.sleep(0.1)
    return None


# --- One mode -------------------------------------------------------------

def mount_tmpfs(path):
    """Mounts a DISK_MB tmpfs at path; True if done (root only)."""
    if os.geteuid() != 0:
        log("not root: the disk-full client is skipped (it mounts a tmpfs)")
        return False
    os.mkdir(path)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755",
                        "ferry-soak", path], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"cannot mount a tmpfs ({r.stderr.strip()}): the disk-full client is skipped")
        return False
    return True


def umount(path):
    for args in (["umount", path], ["umount", "-l", path]):
        if subprocess.run(args, capture_output=True).returncode == 0:
            return
    log(f"WARNING: could not unmount {path}")


def run_mode(args, mode):
    """Runs one mode for args.duration seconds; returns its result dict."""
    tmp = tempfile.mkdtemp(prefix=f"ferrysoak-{mode}-")
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    mnt = os.path.join(tmp, "diskfull")
    mounted = False
    ferryd = None
    threads = []
    run = None
    res = {"mode": mode, "duration_s": args.duration, "clients": args.clients, "seed": args.seed}
    try:
        mounted = mount_tmpfs(mnt) if not args.no_diskfull else False
        phases = [("start", now())]
        corpus = Corpus(root, random.Random(args.seed * 31 + MODES.index(mode)))
        ferryd = Ferryd(args.bin, tmp, mode, root)
        stats = Stats()
        run = Run(args, mode, tmp, corpus, ferryd, stats)
        admin = Admin(ferryd.sock)
        log(f"{mode}: ferryd pid {ferryd.pid}, native {ferryd.native}, http {ferryd.http}, "
            f"{len(run.names)} files ({sum(corpus.current(n).length for n in run.names) / MiB:.1f} MiB), "
            f"{args.duration} s, {args.clients} clients, seed {args.seed}, in {tmp}")
        # Settle (one of each admin command, so lazy descriptors are open).
        for cmd in ("status", "workers", "config"):
            admin.call(cmd)
        if mode in ("prefork", "event"):
            pool_steady(admin, 10)
        q0 = quiet(run, admin)
        phases.append(("setup", now()))
        t0 = now()
        deadline = t0 + args.duration
        n_http = args.clients // 2
        n_native = args.clients - n_http
        n_ferry = min(3, max(1, n_native // 10)) if n_native >= 2 else 0
        for i in range(args.clients):
            if i < n_http:
                fn = http_client
            elif i < n_http + n_ferry:
                fn = ferry_client
            else:
                fn = native_client
            threads.append(threading.Thread(target=fn, args=(run, i), daemon=True,
                                            name=f"{fn.__name__}-{i}"))
        if mounted:
            threads.append(threading.Thread(target=diskfull_client, args=(run, mnt), daemon=True,
                                            name="diskfull_client"))
        samples = []
        every = max(1.0, min(5.0, args.duration / 12))
        aux = [threading.Thread(target=chaos_thread, args=(run, deadline), daemon=True,
                                name="chaos"),
               threading.Thread(target=mutator_thread, args=(run, deadline), daemon=True,
                                name="mutator"),
               threading.Thread(target=sampler_thread, args=(run, samples, t0, deadline, every),
                                daemon=True, name="sampler")]
        for t in threads + aux:
            t.start()
        for _ in range(int(args.duration * 2) + 10):
            if now() >= deadline or not ferryd.alive():
                break
            time.sleep(min(0.5, max(0.0, deadline - now())))
        run.stop.set()
        phases.append(("run", now()))
        join_deadline = now() + IO_TIMEOUT * 3 + 10
        for t in threads + aux:
            t.join(timeout=max(0.1, join_deadline - now()))
        hung = [t.name for t in threads + aux if t.is_alive()]
        phases.append(("clients' last downloads", now()))
        running = ferryd.alive()
        # Back to the initial pool size, so the quiet figures compare.
        if running and mode in POOL:
            for _ in range(10):
                rc, answer, _ = ferryd.ctl("resize", POOL[mode][0])
                if rc == 0:
                    break
                time.sleep(1)
            if mode != "fork":  # fork mode's children come and go
                pool_steady(admin, 20)
        q1 = quiet(run, admin) if running else None
        phases.append(("idle check", now()))
        admin.close()
        rc = ferryd.stop()
        text = ferryd.log()
        phases.append(("stop", now()))
        log(f"{mode}: " + ", ".join(f"{name} {b - a:.1f} s" for (_, a), (name, b)
                                    in zip(phases, phases[1:])))
        res.update(results(run, samples, q0, q1, hung, running, rc, text, mounted))
        res["tmp"] = tmp
        return res
    finally:
        if run is not None:
            run.stop.set()
        if ferryd is not None and ferryd.alive():
            ferryd.proc.kill()
            ferryd.proc.wait(timeout=10)
        if mounted:
            # The clients are stopped (or hung in a process we kill with the tree).
            umount(mnt)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="ferry's chaos soak (contrib/soak/soak.sh)")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--duration", type=int, default=600)
    ap.add_argument("--mode", default="all", choices=MODES + ("all",))
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-diskfull", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    args.bin = os.path.abspath(args.bin)
    with open(os.path.join(args.bin, "ferryd"), "rb") as f:
        args.sanitized = b"__asan_init" in f.read()
    if args.sanitized:
        log("ferryd is built with AddressSanitizer: RSS is shown, not judged")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    modes = MODES if args.mode == "all" else (args.mode,)
    out = []
    try:
        for mode in modes:
            r = run_mode(args, mode)
            report(r)
            out.append(r)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if out:
            if len(out) > 1:
                summary(out)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump({"seed": args.seed, "duration_s": args.duration,
                               "clients": args.clients, "modes": {r["mode"]: r for r in out},
                               "pass": all(r["pass"] for r in out) and len(out) == len(modes)},
                              f, indent=1)
    ok = all(r["pass"] for r in out) and len(out) == len(modes)
    print(f"\nsoak: {'PASS' if ok else 'FAIL'} (seed {args.seed}; rerun with --seed {args.seed})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
