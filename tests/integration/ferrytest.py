"""Helpers for ferry's integration tests: start the real ferryd on a free
loopback port over a temporary directory, talk to it with the real ferry
client or raw sockets, and read its log as it is written.

Environment: FERRY_BIN (the build's bin/ directory), FERRY_KEEP_TMP=1 to
keep each test's temporary directory for debugging."""

import ctypes
import grp
import hashlib
import itertools
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BIN = os.environ.get("FERRY_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
FERRYD = os.path.join(BIN, "ferryd")
FERRY = os.path.join(BIN, "ferry")
FERRYCTL = os.path.join(BIN, "ferryctl")
MODES = ("iterative", "fork", "prefork", "event")

STATUS = {"OK": 0, "VERSION_MISMATCH": 1, "INVALID_NAME": 2, "NOT_FOUND": 3,
          "NOT_REGULAR": 4, "ACCESS_DENIED": 5, "BAD_REQUEST": 6, "SERVER_ERROR": 7}
READY, REFUSE = b"\x03", b"\x04"


def request(name, version=1, mtype=1):
    """Encodes a FILE_REQUEST; name may be str or bytes, valid or not."""
    if isinstance(name, str):
        name = name.encode()
    return struct.pack(">BBH", version, mtype, len(name)) + name


def parse_response(data):
    """Decodes an 11-byte FILE_RESPONSE into (version, type, status, size)."""
    assert len(data) == 11, f"response of {len(data)} bytes: {data!r}"
    return struct.unpack(">BBBQ", data)


def recv_exact(sock, n):
    """Reads n bytes, or fewer if the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def children_of(pid):
    """Pids whose parent is pid, from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return kids


def proc_state(pid):
    """The state letter of pid in /proc (R, S, T...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def on_worker(srv, pid, make, n):
    """n results of make(), each a connection made and answered, all taken
    by the event worker pid of srv: the other workers are stopped
    meanwhile (SIGSTOP), and a connection wakes only a worker waiting on
    the listener (EPOLLEXCLUSIVE), so pid takes each one. Left alone, an
    idle pool hands connections made one after another all to the same
    worker. make() must return only once its connection was answered."""
    others = [p for p in children_of(srv.pid) if p != pid]
    try:
        for p in others:
            os.kill(p, signal.SIGSTOP)
        for p in others:  # the stop is asynchronous: /proc says when it took
            wait_until(lambda: proc_state(p) == "T", what=f"worker {p} stopped")
        return [make() for _ in range(n)]
    finally:
        for p in others:
            os.kill(p, signal.SIGCONT)


def signal_pending(pid, sig):
    """True while sig is pending for pid (a second one would merge into it)."""
    with open(f"/proc/{pid}/status") as f:
        masks = {k: int(v, 16) for k, v in (l.split(":\t") for l in f if l[:6] in ("SigPnd", "ShdPnd"))}
    return any(m & (1 << (sig - 1)) for m in masks.values())


def serving_ids():
    """(uid, gid) that a ferryd started here runs its serving processes as:
    as root, the default rule (docs/SECURITY.md: 'ferry' where that user
    exists, else nobody:nogroup); as anyone else, this process's."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    try:
        pw = pwd.getpwnam("ferry")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        pw = pwd.getpwnam("nobody")
    try:
        return pw.pw_uid, grp.getgrnam("nogroup").gr_gid
    except KeyError:
        return pw.pw_uid, pw.pw_gid


def proc_ids(pid):
    """(uid, gid) of pid, from /proc: as root, ferryd's serving processes
    run as a user of their own (docs/SECURITY.md)."""
    with open(f"/proc/{pid}/status") as f:
        ids = {k: int(v.split()[0]) for k, v in (l.split(":", 1) for l in f) if k in ("Uid", "Gid")}
    return ids["Uid"], ids["Gid"]


def prlimit(pid, res, limits=None):
    """resource.prlimit() on pid, made as pid's own user when that is not
    this process's: on another user's process it needs CAP_SYS_RESOURCE,
    which root lacks in some containers."""
    args = (pid, res) if limits is None else (pid, res, limits)
    uid, gid = proc_ids(pid)
    if uid == os.geteuid():
        return resource.prlimit(*args)
    rfd, wfd = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            soft, hard = resource.prlimit(*args)
            os.write(wfd, f"{soft} {hard}".encode())
            os._exit(0)
        except BaseException as e:  # reported by the parent
            os.write(wfd, repr(e).encode())
            os._exit(1)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        out = f.read()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"prlimit as uid {uid}: {out}"
    return tuple(int(v) for v in out.split())


def wait_until(predicate, timeout=10.0, what="condition"):
    """Polls a state the kernel gives no signal for (e.g. /proc), bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Inotify:
    """Counts IN_OPEN events on one path (inotify through ctypes)."""
    IN_OPEN, IN_NONBLOCK = 0x20, 0o4000

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_OPEN)
        assert wd >= 0, os.strerror(ctypes.get_errno())
        self.count = 0

    def opens(self):
        """IN_OPEN events so far (queued synchronously by open())."""
        while True:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                return self.count
            while data:
                _, mask, _, name_len = struct.unpack("iIII", data[:16])
                self.count += bool(mask & self.IN_OPEN)
                data = data[16 + name_len:]

    def close(self):
        os.close(self.fd)


_server_ids = itertools.count()


class Server:
    """A running ferryd. Its stderr is read by a thread into self.lines;
    wait_log() blocks on a condition variable until a line matches."""

    def __init__(self, directory, mode=None, args=(), address="127.0.0.1",
                 preexec_fn=None, wrapper=(), admin=None, env=None, listen=None, config=None):
        # Each server's admin socket lives beside its directory unless the
        # test says otherwise (admin=False: ferryd's default path).
        self.admin = admin if admin is not None else os.path.join(
            os.path.dirname(directory), f"admin-{next(_server_ids)}.sock")
        admin_args = ("--admin-socket", self.admin) if admin is not False else ()
        # listen=["http=[::1]:0", ...] replaces the positional ADDRESS PORT.
        where = [a for spec in listen for a in ("--listen", spec)] if listen else [address, "0"]
        # mode=None: ferryd's default (event), as a user who names none gets;
        # FERRY_MODE runs those in another mode (tests/CMakeLists.txt), where
        # neither a configuration file nor the arguments choose one.
        chosen = None
        if mode is None and config is None and "--mode" not in args:
            mode = chosen = os.environ.get("FERRY_MODE") or None
        mode_args = ("--mode", mode) if mode else ()
        # config=PATH: "-c PATH", and the file names the listeners and the
        # directory (args may still override them).
        if config is not None:
            self.cmd = [*wrapper, FERRYD, "-c", config, *mode_args, *admin_args, *args]
        else:
            self.cmd = [*wrapper, FERRYD, *mode_args, *admin_args, *args, *where, directory]
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(self.cmd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     preexec_fn=preexec_fn, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait_log(r"admin socket |listening on", timeout=10)
        self.pid = self.proc.pid
        self.wait_log(r"admin socket ", timeout=10)  # ready for ferryctl too
        if chosen is not None:  # the run FERRY_MODE asked for is that mode's
            self.wait_log(rf"starting: mode {chosen},", timeout=1)
        # Every listener, in order: (protocol, host, port); the first is
        # the default for connect().
        self.listeners = [(m.group(1), m.group(2).strip("[]"), int(m.group(3)))
                          for m in (re.search(r"listening on (\w+)=(\S+):(\d+)", line)
                                    for line in list(self.lines)) if m]
        _, self.host, self.port = self.listeners[0]

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF marker
            self.cond.notify_all()

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Returns the first log line at index >= start matching pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        raise AssertionError(f"ferryd exited before logging /{pattern}/:\n"
                                             + self.log())
                    if rx.search(line):
                        return line
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line /{pattern}/ within {timeout}s:\n"
                                         + self.log())
                self.cond.wait(left)

    def mark(self):
        """Index of the next log line, for wait_log(start=...)."""
        with self.cond:
            return len(self.lines)

    def wait_exit(self, timeout):
        """Waits for ferryd to exit and for its last log line to be read
        (the pipe outlives the process by a moment); returns the exit code.
        The wait for the log is bounded: after an upgrade the new master
        holds the same pipe open."""
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def log(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def connect(self, timeout=10):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((self.host, self.port))
        return s

    def ask(self, name, **kw):
        """Sends a request; returns (socket, (version, type, status, size))."""
        s = self.connect()
        s.sendall(request(name, **kw))
        return s, parse_response(recv_exact(s, 11))

    def fetch(self, name):
        """Fetches name over a raw socket; returns its bytes."""
        s, (_, _, status, size) = self.ask(name)
        assert status == 0, f"status {status} for {name!r}"
        s.sendall(READY)
        data = recv_exact(s, size)
        s.close()
        assert len(data) == size
        return data

    def ctl(self, *args, timeout=30, wrapper=(), env=None):
        """Runs ferryctl against this server's admin socket."""
        return subprocess.run([*wrapper, FERRYCTL, "-s", self.admin, *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, env=env)

    def admin_json(self, *args):
        """ferryctl --json ARGS, decoded; asserts it succeeded."""
        import json
        r = self.ctl("--json", *args)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def stalled(self, name="big", small_window=True):
        """A transfer of name whose client does not read: a busy worker.
        With a 4 KiB receive window it crawls for good; without, reading
        it later finishes it at full speed."""
        s, _ = self.ask(name)
        if small_window:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(READY)
        recv_exact(s, 4096)
        return s

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals ferryd and waits for it; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def ferry(*args, cwd=None, timeout=60, stdout=subprocess.PIPE, **kw):
    """Runs the ferry client; returns the CompletedProcess (text stderr)."""
    return subprocess.run([FERRY, *map(str, args)], cwd=cwd, timeout=timeout, stdout=stdout,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **kw)


class FerryTest(unittest.TestCase):
    """A temporary directory per test (self.tmp, served dir self.root) and
    ferryd instances stopped at the end, whatever happens."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ferrytest-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "root")
        os.mkdir(self.root)
        self.servers = []
        # A cleanup, registered first so it runs last: after the test's own
        # cleanups (a tmpfs mounted inside, say, is unmounted by then).
        self.addCleanup(self._remove_tmp)

    def _remove_tmp(self):
        if os.environ.get("FERRY_KEEP_TMP"):
            print(f"\nkept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def tearDown(self):
        # A failed test shows the end of each ferryd's log: in CI it is all
        # there is to read afterwards.
        result = getattr(self._outcome, "result", None)
        if any(t is self for t, _ in getattr(result, "failures", []) + getattr(result, "errors", [])):
            for srv in self.servers:
                tail = "\n".join(srv.log().splitlines()[-60:])
                sys.stderr.write(f"\n--- ferryd pid {srv.proc.pid}, its last log lines:\n{tail}\n")
        for srv in self.servers:
            srv.kill()
            for kid in children_of(srv.pid):
                os.kill(kid, signal.SIGKILL)
            srv.reader.join(timeout=5)
            # A sanitizer report from any ferryd process fails the test, even
            # one from a child whose death the test did not notice.
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                self.assertNotIn(marker, srv.log())

    def serving_dir(self, name):
        """A new directory in self.tmp where the serving processes may make
        files: given to their user, as an operator does for the hub's
        database or, in iterative mode, the log files (docs/SECURITY.md)."""
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(path, *serving_ids())
        return path

    def hub_db(self, name="hub.db"):
        """A path for a hub's database in a directory of the serving user's,
        and the served directory theirs too: uploads land there."""
        if os.geteuid() == 0:
            os.chown(self.root, *serving_ids())
        return os.path.join(self.serving_dir("hubdb"), name)

    def serve(self, mode=None, args=(), **kw):
        srv = Server(self.root, mode, args, **kw)
        self.servers.append(srv)
        return srv

    def put(self, name, data):
        path = os.path.join(self.root, name)
        with open(path, "wb") as f:
            f.write(data)
        return path


def per_mode(cls, modes=MODES):
    """Makes one TestCase class per mode from a mixin with a MODE attribute."""
    made = {}
    for mode in modes:
        name = f"{cls.__name__}_{mode}"
        made[name] = type(name, (cls, FerryTest), {"MODE": mode})
    return made


class FakeServer:
    """A server that runs handler(conn) in a thread for up to n connections:
    for behaviour a correct ferryd never shows (truncation, other versions,
    malformed answers, closing at once). On loopback TCP, or on the Unix
    socket path when one is given (a fake admin socket)."""

    def __init__(self, handler, host="127.0.0.1", path=None, n=1):
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.bind(path)
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            self.sock.bind((host, 0))
            self.port = self.sock.getsockname()[1]
        self.path = path
        self.sock.listen(8)
        self.sock.settimeout(30)
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(handler, n), daemon=True)
        self.thread.start()

    def _run(self, handler, n):
        try:
            for _ in range(n):
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(30)
                    handler(conn)
        except Exception as e:  # reported by join()
            self.error = e

    def join(self):
        self.thread.join(timeout=30)
        self.sock.close()
        if self.error:
            raise self.error


def read_request(conn):
    """Reads one FILE_REQUEST; returns the name bytes."""
    header = recv_exact(conn, 4)
    return recv_exact(conn, struct.unpack(">H", header[2:4])[0])
