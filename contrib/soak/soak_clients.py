"""The chaos soak's clients (soak.py starts them): native over a raw
socket (GET, or FILE_REQUEST then READY), HTTP/1.1 over one persistent
connection, the real `ferry get`, and `ferry get` into a tiny tmpfs; each
download classified as ok, failed (with its reason, and whether a SIGKILL
or a truncate explains it) or corrupt. Python 3 standard library only."""

import hashlib
import http.client
import os
import random
import re
import socket
import struct
import subprocess
import time

MiB = 1 << 20
IO_TIMEOUT = 20.0        # a client gives up after this long without progress
MAX_GET = 64 * MiB       # MAX_SIZE of every native request
DISK_MB = 2              # the disk-full client's tmpfs
# The corpus's 3 MiB + 1 and 5 MiB + 7 files: never mutated, so a file the
# disk-full client picks as too big is still too big when ferryd serves it
# (in iterative mode that can be seconds later, behind the other clients).
TOO_BIG = ("f03", "f04")
STATUS = {0: "OK", 1: "VERSION_MISMATCH", 2: "INVALID_NAME", 3: "NOT_FOUND",
          4: "NOT_REGULAR", 5: "ACCESS_DENIED", 6: "BAD_REQUEST", 7: "SERVER_ERROR",
          8: "TOO_LARGE", 9: "BAD_OFFSET", 10: "BUSY"}


def now():
    return time.monotonic()


def classify(run, proto, name, t0, t1, length, sha, error, port=None):
    """Counts one download: ok, failed (error says why) or corrupt; port
    (the client's) finds its connection in ferryd's log for an example."""
    st = run.stats
    st.add(f"{proto}.attempts")
    with st.lock:
        st.times[proto].append(t1 - t0)
    if error is None:
        verdict = run.corpus.verify(name, t0, t1, length, sha)
        if verdict.startswith("ok"):
            st.add("ok")
            st.add(f"{proto}.ok")
            st.add("bytes", length)
            if verdict == "ok-append":
                st.add("ok_during_append")
            return
        st.add("corrupt")
        cur = run.corpus.current(name)
        st.example("corrupt", f"{proto} {name}: {length} bytes sha256 {sha[:16]}..., "
                   f"no version matches (now {cur.length} bytes {cur.sha[:16]}...), "
                   f"{t1 - t0:.3f} s", port)
        return
    st.add("failed")
    st.add(f"{proto}.failed")
    reason = f"{proto}: {error}"
    with st.lock:
        st.reasons[reason] += 1
    # A failure is expected only when a worker was SIGKILLed or the file was
    # truncated while the download ran; any other is unexplained.
    if run.corpus.truncated_during(name, t0, t1):
        st.add("failed_truncate")
    elif st.killed_during(t0 - 0.05, t1 + 0.05):
        st.add("failed_kill")
    else:
        st.add("unexplained")
        st.example("unexplained", f"{proto} {name}: {error} after {t1 - t0:.3f} s", port)


def error_text(e):
    """A short, stable reason for an exception (numbers dropped)."""
    if isinstance(e, socket.timeout):
        return f"timeout: no progress for {IO_TIMEOUT:.0f} s"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, ConnectionResetError):
        return "connection reset"
    if isinstance(e, BrokenPipeError):
        return "broken pipe"
    if isinstance(e, http.client.RemoteDisconnected):
        return "closed before the answer"
    return re.sub(r"\d+", "N", f"{type(e).__name__}: {e}")[:80]


# --- Clients --------------------------------------------------------------

def recv_into_hash(sock, size, h):
    """Reads up to size bytes into h; returns how many arrived before EOF."""
    got = 0
    while got < size:
        chunk = sock.recv(min(size - got, 256 * 1024))
        if not chunk:
            break
        h.update(chunk)
        got += len(chunk)
    return got


def native_download(port, name, use_get, where):
    """(length, sha256, error) of one native download over a raw socket:
    GET (one round trip) or FILE_REQUEST then READY. where[0] is set to
    the local port (to find the connection in ferryd's log)."""
    h = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as s:
        where[0] = s.getsockname()[1]
        raw = name.encode()
        if use_get:
            s.sendall(struct.pack(">BBHQQ", 1, 7, len(raw), 0, MAX_GET) + raw)
        else:
            s.sendall(struct.pack(">BBH", 1, 1, len(raw)) + raw)
        head = b""
        while len(head) < 11:
            chunk = s.recv(11 - len(head))
            if not chunk:
                return 0, None, "closed before the answer"
            head += chunk
        _, _, status, size = struct.unpack(">BBBQ", head)
        if status != 0:
            return 0, None, f"status {STATUS.get(status, status)}"
        if not use_get:
            s.sendall(b"\x03")
        got = recv_into_hash(s, size, h)
        if got < size:
            return got, None, "short body (truncated transfer)"
        if s.recv(1):
            return got, None, "bytes beyond the announced size"
    return size, h.hexdigest(), None


def native_client(run, idx):
    rng = random.Random(run.args.seed * 1000 + idx)
    while not run.stop.is_set():
        name = rng.choice(run.names)
        t0 = now()
        where = [None]
        try:
            length, sha, err = native_download(run.ferryd.native, name, rng.random() < 0.5, where)
        except OSError as e:
            length, sha, err = 0, None, error_text(e)
        classify(run, "native", name, t0, now(), length, sha, err, where[0])
        run.stop.wait(rng.uniform(0, 0.01) if err is None else 0.1)


class HttpClient:
    """One persistent HTTP/1.1 connection, reopened when the server closes
    it. A request that fails on a reused connection before any byte of the
    answer is sent once more on a new one, as browsers and curl do: the
    server may close an idle kept-alive connection at any time (a rolling
    restart, --keepalive-timeout)."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.local = None  # the local port of the last request

    def get(self, path):
        """(status, length, sha256 or None, error or None, headers)."""
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=IO_TIMEOUT)
            try:
                self.conn.request("GET", path)
                self.local = self.conn.sock.getsockname()[1] if self.conn.sock else None
                resp = self.conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                self.close()
                if reused and attempt == 0:
                    continue
                return None, 0, None, error_text(e), {}, attempt
            return self.body(resp) + (attempt,)
        raise AssertionError("unreachable")

    def body(self, resp):
        h = hashlib.sha256()
        got = 0
        headers = dict(resp.getheaders())
        try:
            while True:
                chunk = resp.read(256 * 1024)
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return resp.status, got, None, error_text(e), headers
        length = headers.get("Content-Length")
        if length is not None and got < int(length):
            self.close()
            return resp.status, got, None, "short body (truncated transfer)", headers
        if resp.will_close:
            self.close()
        return resp.status, got, h.hexdigest(), None, headers

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def http_client(run, idx):
    rng = random.Random(run.args.seed * 1000 + idx)
    client = HttpClient(run.ferryd.http)
    try:
        while not run.stop.is_set():
            name = rng.choice(run.names)
            t0 = now()
            status, length, sha, err, _, retried = client.get("/" + name)
            if retried:
                run.stats.add("keepalive_retries")
            if err is None and status != 200:
                err, sha = f"status {status}", None
                client.close()
            classify(run, "http", name, t0, now(), length, sha, err, client.local)
            run.stop.wait(rng.uniform(0, 0.01) if err is None else 0.1)
    finally:
        client.close()


def ferry_get(run, name, outdir):
    """Runs `ferry get -q -f -o OUTDIR`; (exit code, stderr)."""
    cmd = [os.path.join(run.args.bin, "ferry"), "get", "-q", "-f", "-t", f"{IO_TIMEOUT:.0f}",
           "-o", outdir, "127.0.0.1", str(run.ferryd.native), name, str(MAX_GET)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=IO_TIMEOUT * 3,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, "ferry get did not finish (killed)"
    return r.returncode, r.stderr.strip()


def sha256_path(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            n += len(block)
    return n, h.hexdigest()


def ferry_client(run, idx):
    """The real client: `ferry get` processes, into a directory of its own."""
    rng = random.Random(run.args.seed * 1000 + idx)
    outdir = os.path.join(run.tmp, f"client-{idx}")
    os.mkdir(outdir)
    while not run.stop.is_set():
        name = rng.choice(run.names)
        t0 = now()
        rc, err = ferry_get(run, name, outdir)
        t1 = now()
        out = os.path.join(outdir, name)
        if rc == 0:
            length, sha = sha256_path(out)
            classify(run, "ferry", name, t0, t1, length, sha, None)
        else:
            msg = err.splitlines()[-1] if err else "(no message)"
            msg = re.sub(r"\d+(\.\d+)?( ?[KMG]i?B)?", "N", msg.replace(out, "OUT"))[:90]
            classify(run, "ferry", name, t0, t1, 0, None, f"exit {rc}: {msg}")
            if not err:
                run.stats.add("ferry_silent_failure")
        for left in os.listdir(outdir):
            if left != name or rc != 0:
                run.stats.add("ferry_leftovers")
                run.stats.example("leftover", f"{outdir}/{left} after exit {rc}")
            os.unlink(os.path.join(outdir, left))
        run.stop.wait(rng.uniform(0, 0.05) if rc == 0 else 0.1)


def diskfull_client(run, mnt):
    """`ferry get` into a DISK_MB tmpfs: a file too big must fail with a
    message naming ENOSPC and leave nothing behind; a small one must arrive
    whole. The directory is checked after every attempt."""
    rng = random.Random(run.args.seed * 1000 + 999)
    cap = DISK_MB * MiB
    big = False  # so the first attempt is a big one: a short run makes few
    while not run.stop.is_set():
        big = not big
        if big:
            pool = list(TOO_BIG)
        else:
            sizes = {n: run.corpus.current(n).length for n in run.names}
            pool = [n for n, s in sizes.items() if s <= cap // 2]
        if not pool:
            run.stop.wait(0.5)
            continue
        name = rng.choice(pool)
        t0 = now()
        rc, err = ferry_get(run, name, mnt)
        t1 = now()
        left = os.listdir(mnt)
        enospc = "No space left" in err or "ENOSPC" in err
        if rc == 0:
            length, sha = sha256_path(os.path.join(mnt, name))
            verdict = run.corpus.verify(name, t0, t1, length, sha)
            run.stats.add("diskfull.fit_ok" if verdict.startswith("ok") else "diskfull.corrupt")
            if not verdict.startswith("ok"):
                run.stats.add("corrupt")
                run.stats.example("corrupt", f"ferry get into tmpfs {name}: {length} bytes")
            left = [x for x in left if x != name]
        elif enospc:
            run.stats.add("diskfull.enospc_ok" if rc == 1 else "diskfull.bad")
            if rc != 1:
                run.stats.example("diskfull", f"{name}: exit {rc} (1 expected): {err}")
        elif err and (run.corpus.truncated_during(name, t0, t1)
                      or run.stats.killed_during(t0 - 0.05, t1 + 0.05)):
            run.stats.add("diskfull.other_failure")  # a kill or a truncate: fine
        else:
            run.stats.add("diskfull.bad")
            run.stats.example("diskfull", f"{name}: exit {rc}, not ENOSPC: {err or '(no message)'}")
        if left:
            run.stats.add("diskfull.leftovers")
            run.stats.example("diskfull", f"{name}: exit {rc}: left behind {left}")
        for x in os.listdir(mnt):
            os.unlink(os.path.join(mnt, x))
        run.stop.wait(rng.uniform(0.1, 0.4))
