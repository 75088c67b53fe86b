"""Least privilege and the sandbox (docs/SECURITY.md), against the real
ferryd.

As root (the cases that need a user to become are skipped otherwise, and
say so): every worker and the hub run as the user named, with its groups
alone, no_new_privs set, under seccomp (/proc/PID/status), unable to
become root again; the master keeps its six capabilities; a download and
an HTTP GET are byte-exact; the logs are reopened after a rotation by
workers that are no longer root, into files they were handed; the default
user follows the rule for this machine; --user root warns; unknown names
and unreachable directories are refused at start; started as someone
else, ferryd changes no identity and warns of nothing.

Every start, root or not: the test hook shows Landlock refusing a file
outside the served directory that the serving user could read by its
mode, in every mode; a worker (and the hub) that makes a forbidden call
dies of SIGSYS, the master names the call, counts it and replaces the
process, and the pool serves on; --no-seccomp lets the call through."""

import grp
import os
import pwd
import re
import signal
import subprocess
import unittest

from ferrytest import (FERRYCTL, FERRYD, MODES, FerryTest, children_of, ferry, serving_ids,
                       sha256_file, wait_until)
from test_metrics import http_get

ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody")
try:
    NOGROUP = grp.getgrnam("nogroup").gr_gid
except KeyError:
    NOGROUP = NOBODY.pw_gid
# The master's capabilities (privdrop.h): CHOWN, DAC_OVERRIDE, KILL, SETGID,
# SETUID, NET_BIND_SERVICE; of those, what this process has at all.
MASTER_CAPS = (1 << 0) | (1 << 1) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 10)


def status(pid):
    """/proc/PID/status as {field: value}."""
    with open(f"/proc/{pid}/status") as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def ids(uid):
    """A Uid: or Gid: line for uid in all four places."""
    return "\t".join([str(uid)] * 4)


def skip_unless_kernel_has(srv, what):
    """Skips the test when ferryd said at start that the kernel lacks what
    (Landlock, seccomp filters): nothing to check there."""
    marks = {"landlock": "Landlock is unavailable", "seccomp": "seccomp filters are unavailable"}
    line = next((l for l in srv.log().splitlines() if marks[what] in l), None)
    if line is not None:
        raise unittest.SkipTest(f"this kernel: {line}")


def needs_root(test):
    return unittest.skipUnless(ROOT, "needs root: ferryd only changes user when started as "
                                     "root")(test)


class Drop(FerryTest):

    def give_nobody(self, path):
        os.chown(path, NOBODY.pw_uid, NOGROUP)
        return path

    def confined(self, pid, uid, gid, groups):
        # A child just forked drops and confines itself before it serves:
        # the allow-list is the last step (/proc gives no other signal).
        wait_until(lambda: status(pid)["Seccomp"] == "2", what=f"{pid} confined")
        st = status(pid)
        self.assertEqual(st["Uid"], ids(uid), pid)
        self.assertEqual(st["Gid"], ids(gid), pid)
        self.assertEqual(st["Groups"].split(), [str(g) for g in groups], pid)
        self.assertEqual(st["NoNewPrivs"], "1", pid)
        self.assertEqual(st["Seccomp"], "2", pid)
        self.assertEqual(int(st["CapEff"], 16), 0, pid)

    @needs_root
    def test_workers_and_hub_run_as_nobody(self):
        big = os.urandom(3 << 20)
        self.put("big", big)
        self.give_nobody(self.root)  # uploads land there
        db = os.path.join(self.tmp, "db")
        os.mkdir(db)
        self.give_nobody(db)
        srv = self.serve("prefork", ("--workers", "2", "--user", "nobody", "--group", "nogroup",
                                     "--hub-db", os.path.join(db, "hub.db"), "--hub-wire",
                                     "plain"),
                         listen=["native=127.0.0.1:0", "http=127.0.0.1:0", "hub=127.0.0.1:0"])
        srv.wait_log(r"info: the workers and the hub run as nobody:nogroup$")
        srv.wait_log(r"hub started: pid \d+")
        kids = wait_until(lambda: len(children_of(srv.pid)) == 3 and children_of(srv.pid),
                          what="two workers and the hub")
        for pid in kids:
            self.confined(pid, NOBODY.pw_uid, NOGROUP, [NOGROUP])
        # The master: root, its six capabilities, the bounding set too.
        st = status(srv.pid)
        mine = int(status(os.getpid())["CapBnd"], 16)
        for field in ("CapEff", "CapPrm", "CapBnd"):
            self.assertEqual(int(st[field], 16), MASTER_CAPS & mine, field)
        self.assertEqual(int(st["CapInh"], 16), 0)
        self.assertEqual(st["Uid"], ids(0))
        # Served byte for byte, natively and over HTTP.
        (_, nh, np_), (_, hh, hp) = srv.listeners[:2]
        out = os.path.join(self.tmp, "got")
        r = ferry("get", "-q", "-o", out, nh, np_, "big", "10M")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha256_file(out), sha256_file(os.path.join(self.root, "big")))
        code, _, body = http_get(hh, hp, "/big")
        self.assertEqual((code, body == big), (200, True))

    @needs_root
    def test_no_way_back_to_root(self):
        # Without the allow-list (which would kill it for trying), setuid(0)
        # fails in the worker all the same.
        srv = self.serve("prefork", ("--workers", "1", "--no-seccomp", "--user", "nobody"),
                         env=dict(os.environ, FERRY_TEST_HOOK="syscall:setuid"))
        srv.wait_log(r"warn: sandbox: the seccomp allow-list is off \(--no-seccomp\)")
        srv.wait_log(r"test hook: setuid 0: Operation not permitted")

    @needs_root
    def test_logs_reopened_after_a_rotation(self):
        """The master opened the logs as root and handed them over; after a
        rotation it makes the new files, hands them over, and the workers,
        no longer root, reopen them: their lines land in the new files."""
        self.put("hello.txt", b"hello\n")
        for mode in ("prefork", "event"):
            with self.subTest(mode=mode):
                self.rotate(mode)

    def rotate(self, mode):
        logs = os.path.join(self.tmp, f"logs-{mode}")
        os.mkdir(logs)  # root's, 0755: the workers cannot make files in it
        log, acc, sock = (os.path.join(logs, n) for n in ("ferryd.log", "access.log", "a.sock"))
        proc = subprocess.Popen([FERRYD, "--mode", mode, "--workers", "2", "--user", "nobody",
                                 "--log-file", log, "--access-log", acc, "--admin-socket", sock,
                                 "127.0.0.1", "0", self.root], stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def read(path):
            try:
                with open(path) as f:
                    return f.read()
            except FileNotFoundError:
                return ""
        wait_until(lambda: "admin socket" in read(log) and read(log).count("worker started") >= 2,
                   what="start-up lines in the log file")
        port = int(re.search(r"listening on native=127\.0\.0\.1:(\d+)", read(log)).group(1))

        def fetch_and_wait(path_log, path_acc, n):
            r = ferry("get", "-q", "-o", "-", "127.0.0.1", port, "hello.txt", "1K")
            self.assertEqual((r.returncode, r.stdout), (0, b"hello\n"), r.stderr)
            wait_until(lambda: read(path_log).count("conn ") >= n and
                       read(path_acc).count("FERRY/1") >= n, what="the lines of a fetch")

        fetch_and_wait(log, acc, 1)
        for path in (log, acc):
            self.assertEqual(os.stat(path).st_uid, NOBODY.pw_uid, "handed over at start")
        for i, how in enumerate(("reopen-logs", "SIGUSR1"), 1):
            os.rename(log, f"{log}.{i}")
            os.rename(acc, f"{acc}.{i}")
            if how == "SIGUSR1":
                proc.send_signal(signal.SIGUSR1)
                wait_until(lambda: "log file reopened" in read(log), what="the master's reopen")
                r = subprocess.run([FERRYCTL, "-s", sock, "ping"], capture_output=True)
            else:
                r = subprocess.run([FERRYCTL, "-s", sock, "reopen-logs"], capture_output=True,
                                   text=True)
                self.assertEqual(r.stdout, "log file reopened\n", r.stderr)
            fetch_and_wait(log, acc, 1)
            conn = [l for l in read(log).splitlines() if "conn " in l][0]
            self.assertNotIn(f"[{proc.pid}]", conn, "a worker's line, not the master's")
            for path in (log, acc):
                self.assertEqual(os.stat(path).st_uid, NOBODY.pw_uid, "the new file handed over")
            self.assertEqual(read(f"{log}.{i}").count("conn "), 1, "nothing more in the old one")
            self.assertEqual(read(f"{acc}.{i}").count("FERRY/1"), 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(proc.stderr.read(), b"", "nothing went to stderr")
        self.assertNotIn("cannot reopen", read(log))

    @needs_root
    def test_default_user(self):
        """No --user: 'ferry' where this machine has that user, else
        nobody:nogroup, and the log says which."""
        srv = self.serve("event", ("--workers", "1"))
        uid, gid = serving_ids()
        if uid == NOBODY.pw_uid:
            srv.wait_log(r"info: the workers run as nobody:nogroup \(no 'ferry' user\)$")
        else:
            srv.wait_log(r"info: the workers run as ferry:")
        (pid,) = wait_until(lambda: children_of(srv.pid), what="the worker")
        wait_until(lambda: status(pid)["Seccomp"] == "2", what="the worker confined")
        st = status(pid)
        self.assertEqual((st["Uid"], st["Gid"]), (ids(uid), ids(gid)))

    @needs_root
    def test_user_root_keeps_root_with_a_warning(self):
        # With a hub: SQLite, seeing root, gives its -wal and -shm files the
        # database's owner (fchown), which the hub's list must allow; the
        # key line comes once the hub has written its keys.
        srv = self.serve("prefork", ("--workers", "1", "--user", "root", "--hub-db",
                                     os.path.join(self.tmp, "hub.db")),
                         listen=["native=127.0.0.1:0", "hub=127.0.0.1:0"])
        srv.wait_log(r"warn: --user root: the workers and the hub run as root, on purpose")
        srv.wait_log(r"hub: key ed25519:")
        # Served by the one worker: it is confined by then.
        self.put("hello.txt", b"hello\n")
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        pid = int(re.search(r"worker started: pid (\d+)", srv.log()).group(1))
        st = status(pid)
        self.assertEqual((st["Uid"], st["NoNewPrivs"], st["Seccomp"]), (ids(0), "1", "2"))
        # Stopped, every child's end is in the log: none by the filter.
        self.assertEqual(srv.stop(), 0)
        self.assertNotIn("policy violation", srv.log())

    def test_unknown_user_or_group(self):
        for args, what in ((("--user", "no-such-user-ferrytest"), "no such user"),
                           (("--group", "no-such-group-ferrytest"), "no such group")):
            r = subprocess.run([FERRYD, *args, "127.0.0.1", "0", self.root],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(what, r.stderr)

    @needs_root
    def test_what_the_user_cannot_reach_is_said_at_start(self):
        os.chmod(self.root, 0o700)
        r = subprocess.run([FERRYD, "--user", "nobody", "--admin-socket",
                            os.path.join(self.tmp, "a.sock"), "127.0.0.1", "0", self.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"the served directory {self.root} is not readable by nobody", r.stderr)
        os.chmod(self.root, 0o755)
        r = subprocess.run([FERRYD, "--user", "nobody", "--admin-socket",
                            os.path.join(self.tmp, "a.sock"), "--listen", "native=127.0.0.1:0",
                            "--listen", "hub=127.0.0.1:0", "--hub-db",
                            os.path.join(self.tmp, "hub.db"), self.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"the directory of the hub's database, {self.tmp}, is not writable by "
                      "nobody", r.stderr)

    @needs_root
    def test_not_root_changes_nothing(self):
        """Started as nobody: no identity changes, no warning, the same
        sandbox; --user may only name nobody."""
        run = os.path.join(self.tmp, "run")
        os.mkdir(run)
        self.give_nobody(run)
        as_nobody = ("setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOGROUP}",
                     "--clear-groups")
        srv = self.serve("prefork", ("--workers", "1"), wrapper=as_nobody,
                         admin=os.path.join(run, "admin.sock"))
        self.put("hello.txt", b"hello\n")
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        (pid,) = children_of(srv.pid)
        self.confined(pid, NOBODY.pw_uid, NOGROUP, [])
        master = status(srv.pid)
        self.assertEqual((master["Uid"], master["Gid"]), (ids(NOBODY.pw_uid), ids(NOGROUP)))
        self.assertEqual(master["CapBnd"], status(os.getpid())["CapBnd"], "no capability call")
        self.assertNotRegex(srv.log(), r"warn:|run as")
        r = subprocess.run([*as_nobody, FERRYD, "--user", "root", "127.0.0.1", "0", self.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("only root may run the serving processes as someone else", r.stderr)


class Reload(FerryTest):

    @needs_root
    def test_a_new_directory_is_checked_then_confines_the_new_workers(self):
        """A reload to a directory the workers' user cannot read is refused
        with the reason, and ferryd serves on; once readable, the reload
        applies and the new workers serve from it: their Landlock rules
        follow the directory (rules for the old one would refuse every
        open beneath the new)."""
        new = os.path.join(self.tmp, "new")
        os.mkdir(new, 0o700)
        with open(os.path.join(new, "fresh.txt"), "wb") as f:
            f.write(b"fresh\n")
        os.chmod(os.path.join(new, "fresh.txt"), 0o644)
        self.put("old.txt", b"old\n")
        conf = os.path.join(self.tmp, "ferryd.conf")

        def write(directory):
            with open(conf, "w") as f:
                f.write(f"directory = {directory}\nmode = prefork\nworkers = 1\nuser = nobody\n"
                        "[listen]\nnative = 127.0.0.1:0\n")
        write(self.root)
        srv = self.serve(config=conf)
        skip_unless_kernel_has(srv, "landlock")
        write(new)
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f"the served directory {new} is not readable by nobody", r.stderr)
        self.assertEqual(srv.fetch("old.txt"), b"old\n")
        os.chmod(new, 0o755)
        mark = srv.mark()
        r = srv.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"directory: {self.root} -> {new}", r.stdout)
        srv.wait_log(r"rolling restart done", start=mark)
        self.assertEqual(srv.fetch("fresh.txt"), b"fresh\n")
        self.assertEqual(srv.stop(), 0)


class Landlock(FerryTest):

    def test_a_file_outside_the_served_directory_is_out_of_reach(self):
        """A worker told to open a file beside the served directory, mode
        0644 (its user may read it), is refused; one inside opens; in every
        mode."""
        outside = os.path.join(self.tmp, "outside.txt")
        with open(outside, "w") as f:
            f.write("not served\n")
        os.chmod(outside, 0o644)
        inside = self.put("inside.txt", b"served\n")
        hook = f"open:{outside},open:{inside}"
        for mode in MODES:
            with self.subTest(mode=mode):
                srv = self.serve(mode, ("--workers", "1"),
                                 env=dict(os.environ, FERRY_TEST_HOOK=hook))
                skip_unless_kernel_has(srv, "landlock")
                self.assertEqual(srv.fetch("inside.txt"), b"served\n")  # fork mode: a child
                srv.wait_log(rf"test hook: open {re.escape(outside)}: Permission denied")
                srv.wait_log(rf"test hook: open {re.escape(inside)}: opened")
                self.assertEqual(srv.stop(), 0)


class Seccomp(FerryTest):

    def test_a_forbidden_call_kills_names_counts_and_is_replaced(self):
        """The first worker and the hub call execve: each dies of SIGSYS,
        the master says which call, counts both, starts new ones, and the
        pool serves."""
        self.put("hello.txt", b"hello\n")
        srv = self.serve("prefork", ("--workers", "1", "--hub-db", self.hub_db(), "--hub-wire",
                                     "plain"),
                         listen=["native=127.0.0.1:0", "metrics=127.0.0.1:0", "hub=127.0.0.1:0"],
                         env=dict(os.environ, FERRY_TEST_HOOK="syscall:execve"))
        skip_unless_kernel_has(srv, "seccomp")
        for kind in ("worker", "hub"):
            line = srv.wait_log(rf"error: policy violation: {kind} (\d+) called execve \(\d+\): "
                                r"killed$")
            pid = re.search(r"(\d+) called", line).group(1)
            srv.wait_log(rf"{kind} exited: pid {pid} slot \d+ killed by signal "
                         rf"{int(signal.SIGSYS)}")
        srv.wait_log(r"ferryd: policy violation: system call \d+ is not allowed: killed")
        wait_until(lambda: len(children_of(srv.pid)) == 2, what="a new worker and hub")
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        _, mh, mp = srv.listeners[1]
        _, _, body = http_get(mh, mp, "/metrics")
        self.assertIn(b"\nferry_policy_violations_total 2\n", body)
        self.assertIn(b"\nferry_worker_crashes_total 1\n", body)

    def test_a_socket_of_a_new_family_kills(self):
        srv = self.serve("event", ("--workers", "1"),
                         env=dict(os.environ, FERRY_TEST_HOOK="socket:AF_PACKET"))
        skip_unless_kernel_has(srv, "seccomp")
        srv.wait_log(r"policy violation: worker \d+ called socket \(\d+\): killed")
        self.put("hello.txt", b"hello\n")
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")

    def test_no_seccomp_lets_the_call_through(self):
        srv = self.serve("prefork", ("--workers", "1", "--no-seccomp"),
                         env=dict(os.environ, FERRY_TEST_HOOK="syscall:execve"))
        srv.wait_log(r"test hook: execve /nonexistent/ferry-test-hook: No such file or directory")
        (pid,) = children_of(srv.pid)
        self.assertEqual(status(pid)["Seccomp"], "0")
        self.put("hello.txt", b"hello\n")
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        self.assertEqual(children_of(srv.pid), [pid], "the same worker serves")
        self.assertEqual(srv.stop(), 0)
        self.assertNotIn("policy violation", srv.log())


if __name__ == "__main__":
    unittest.main()
