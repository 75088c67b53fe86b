"""Operations files, checked against the real tools and the real ferryd:

- contrib/systemd/ferryd.service passes systemd-analyze verify, its
  required settings are there, its exposure (systemd-analyze security)
  stays low, and its SystemCallFilter allows every system call ferryd
  makes (counted with strace over a run that starts every kind of process
  and exercises reopen, reload and stop);
- contrib/logrotate/ferryd rotates a running ferryd's log files for real,
  and its postrotate makes ferryd reopen them, through ferryctl and
  through the SIGUSR1 fallback;
- contrib/ferryd.conf uses only ferryd's options, sections and the line
  length libinih allows.

Environment: FERRY_BIN, FERRY_SOURCE_DIR, FERRY_MAN_DIR (set by ctest).
"""

import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import unittest
import urllib.request

from ferrytest import FERRYCTL, FERRYD, FerryTest, children_of, wait_until

SOURCE = os.environ.get("FERRY_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
MAN_DIR = os.environ.get("FERRY_MAN_DIR") or os.path.join(os.path.dirname(FERRYD), "..", "man")
UNIT = os.path.join(SOURCE, "contrib", "systemd", "ferryd.service")
LOGROTATE = os.path.join(SOURCE, "contrib", "logrotate", "ferryd")
EXAMPLE = os.path.join(SOURCE, "contrib", "ferryd.conf")
INSTALLED_FERRYD = "/usr/sbin/ferryd"


def worker_user():
    """(name, uid, gid) of the user ferryd's workers run as: the caller's,
    or, as root, the default ferryd drops to (ferry if it exists, else
    nobody), so that the files a worker must reopen are its own, as the
    package makes them."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, os.geteuid(), os.getegid()
    for name in ("ferry", "nobody"):
        try:
            e = pwd.getpwnam(name)
            return name, e.pw_uid, e.pw_gid
        except KeyError:
            pass
    return "root", 0, 0


def unit_settings(text):
    """{key: [values]} of the unit's lines, in order."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def syscall_set(names):
    """The system calls systemd's filter names allow: @groups expanded."""
    calls, seen = set(), set()

    def expand(name):
        if name in seen:
            return
        seen.add(name)
        if not name.startswith("@"):
            calls.add(name)
            return
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                             text=True, timeout=60, check=True).stdout
        for line in out.splitlines()[1:]:
            item = line.strip()
            if item and not item.startswith("#"):
                expand(item)

    for name in names:
        expand(name)
    return calls


class LoggedFerryd:
    """A ferryd whose log goes to --log-file (so the Server helper, which
    reads stderr, does not fit): started, waited for until its admin
    socket is up, its listeners read from the file."""

    def __init__(self, test, mode, args, listen, wrapper=()):
        self.log = os.path.join(test.tmp, "logs", "ferryd.log")
        self.access = os.path.join(test.tmp, "logs", "access.log")
        self.admin = os.path.join(test.tmp, "admin.sock")
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        # As the package has them: the worker user's, for workers reopen
        # them with its rights.
        _, uid, gid = worker_user()
        for path in (self.log, self.access):
            with open(path, "a"):
                pass
            os.chown(path, uid, gid)
            os.chmod(path, 0o640)
        cmd = [*wrapper, FERRYD, "--mode", mode, "--log-file", self.log, "--access-log",
               self.access, "--admin-socket", self.admin, *args]
        for spec in listen:
            cmd += ["--listen", spec]
        with open(os.path.join(test.tmp, "stderr.txt"), "ab") as err:
            self.proc = subprocess.Popen([*cmd, test.root], stdin=subprocess.DEVNULL, stderr=err)
        test.addCleanup(self.kill)
        wait_until(lambda: self.proc.poll() is None and "admin socket" in self.text(),
                   timeout=30, what="ferryd's admin socket in its log file")
        self.ports = {proto: int(port) for proto, port in
                      re.findall(r"listening on (\w+)=127\.0\.0\.1:(\d+)", self.text())}

    def text(self, path=None):
        try:
            with open(path or self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def get(self, name="hello.txt"):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['http']}/{name}",
                                    timeout=10) as r:
            return r.read()

    def ctl(self, *args):
        return subprocess.run([FERRYCTL, "-s", self.admin, *args], capture_output=True,
                              text=True, timeout=30)

    def kill(self):
        """Kills ferryd (or its wrapper) and every process below it."""
        if self.proc.poll() is None:
            below, todo = [], [self.proc.pid]
            while todo:
                kids = children_of(todo.pop())
                below += kids
                todo += kids
            for pid in below:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait(timeout=10)


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
class UnitTest(FerryTest):

    def setUp(self):
        super().setUp()
        with open(UNIT) as f:
            self.text = f.read()
        self.settings = unit_settings(self.text)

    def verify(self, text):
        """systemd-analyze verify on text saved as ferryd.service, the
        Documentation= pages looked up among the built ones."""
        path = os.path.join(self.tmp, "ferryd.service")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, MANPATH=os.path.abspath(MAN_DIR) + ":")
        return subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                              timeout=60, env=env)

    def test_verify(self):
        # verify fails on an ExecStart= binary that is not there: with
        # ferry not installed, the copy verified runs the built ferryd,
        # and that path is the only change.
        text = self.text
        if not os.access(INSTALLED_FERRYD, os.X_OK):
            text = text.replace(f"ExecStart={INSTALLED_FERRYD} ",
                                f"ExecStart={os.path.abspath(FERRYD)} ")
            diff = [(a, b) for a, b in zip(self.text.splitlines(), text.splitlines()) if a != b]
            self.assertEqual(len(diff), 1, diff)
        p = self.verify(text)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))

    def test_verify_is_strict(self):
        # The same check fails when a binary or a manual page is missing:
        # a clean verify above means something.
        p = self.verify(self.text.replace("ExecStart=/usr/sbin/ferryd ",
                                          "ExecStart=/nonexistent/ferryd "))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/ferryd", p.stdout + p.stderr)
        p = self.verify(self.text.replace("man:ferryd(8)", "man:ferryd-nonexistent(8)"))
        self.assertIn("ferryd-nonexistent", p.stdout + p.stderr)

    def test_required_settings(self):
        s = self.settings
        self.assertEqual(s["Type"], ["notify"])
        self.assertEqual(s["ExecStart"], ["/usr/sbin/ferryd -c /etc/ferry/ferryd.conf"])
        self.assertEqual(s["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(s["KillMode"], ["mixed"])
        # Above ferryd's default --shutdown-timeout (30 s): the graceful
        # stop finishes before systemd's SIGKILL.
        self.assertGreater(int(s["TimeoutStopSec"][0].rstrip("s")), 30)
        for key, want in (("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                          ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"),
                          ("RuntimeDirectory", "ferry")):
            self.assertEqual(s[key], [want], key)
        caps = " ".join(s["CapabilityBoundingSet"]).split()
        # Exactly what the master keeps of its own (master/privdrop.c):
        # one more would be unused, one fewer breaks a restart or a reload.
        self.assertEqual(sorted(caps), sorted(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL",
                                               "CAP_SETGID", "CAP_SETUID",
                                               "CAP_NET_BIND_SERVICE"]))
        paths = " ".join(s["ReadWritePaths"]).split()
        self.assertEqual(sorted(p.lstrip("-") for p in paths), ["/var/lib/ferry", "/var/log/ferry"])
        # Every setting is explained: the line above each is a comment
        # (or another setting of the same block).
        lines = self.text.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^[A-Z]\w+=", line) and not line.startswith(("Description=", "WantedBy=")):
                self.assertRegex(lines[i - 1], r"^(#|[A-Z]\w+=)", f"line {i + 1}: {line}")

    def test_exposure(self):
        # systemd's own score of the sandbox: 3.2 when written; 10 is none.
        path = os.path.join(self.tmp, "ferryd.service")
        with open(path, "w") as f:
            f.write(self.text)
        p = subprocess.run(["systemd-analyze", "security", "--offline=true", path],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for ferryd.service: ([\d.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        self.assertLessEqual(float(m.group(1)), 4.0, p.stdout)

    @unittest.skipUnless(shutil.which("strace"), "strace not installed (contrib/deps.sh --test)")
    def test_syscall_filter_allows_what_ferryd_calls(self):
        filters = [name for value in self.settings["SystemCallFilter"] for name in value.split()]
        self.assertFalse(any(n.startswith("~") for n in filters), "a deny list is not checked here")
        allowed = syscall_set(filters)
        self.assertIn("sendfile", allowed)

        # Every kind of process: the master, event workers, the hub;
        # logs to files, so that reopening them is exercised too.
        os.chmod(self.root, 0o755)
        self.put("hello.txt", b"hello\n")
        counts = os.path.join(self.tmp, "strace.txt")
        hub = os.path.join(self.tmp, "hub")  # the hub's, as /var/lib/ferry
        os.mkdir(hub, 0o750)
        os.chown(hub, *worker_user()[1:])
        srv = LoggedFerryd(self, "event", ("--workers", "2", "--hub-db",
                                           os.path.join(hub, "hub.db")),
                           ["native=127.0.0.1:0", "http=127.0.0.1:0", "metrics=127.0.0.1:0",
                            "echo=127.0.0.1:0", "hub=127.0.0.1:0"],
                           wrapper=("strace", "-f", "-qq", "-c", "-o", counts))
        master = children_of(srv.proc.pid)[0]
        self.put("big.bin", os.urandom(1 << 20))  # sent with sendfile()
        for _ in range(2):
            self.assertEqual(srv.get(), b"hello\n")
            self.assertEqual(len(srv.get("big.bin")), 1 << 20)
            r = subprocess.run([os.path.join(os.path.dirname(FERRYD), "ferry"), "get", "-o", "-",
                                f"127.0.0.1:{srv.ports['native']}", "big.bin", "2M"],
                               capture_output=True, timeout=30)
            self.assertEqual((r.returncode, len(r.stdout)), (0, 1 << 20), r.stderr)
            with urllib.request.urlopen(f"http://127.0.0.1:{srv.ports['metrics']}/metrics",
                                        timeout=10) as r:
                self.assertIn(b"ferry_build_info", r.read())
        for cmd in (("status",), ("workers",), ("reopen-logs",)):
            self.assertEqual(srv.ctl(*cmd).returncode, 0, cmd)
        os.kill(master, signal.SIGUSR1)
        os.kill(master, signal.SIGHUP)  # reload (with -c) and the rolling restart
        wait_until(lambda: "rolling restart done" in srv.text(), timeout=30,
                   what="the rolling restart in the log")
        self.assertEqual(srv.get(), b"hello\n")
        os.kill(master, signal.SIGTERM)
        self.assertEqual(srv.proc.wait(timeout=60), 0)

        used = set()
        with open(counts) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                    used.add(fields[-1])
        self.assertIn("sendfile", used)  # the counts were read
        self.assertEqual(sorted(used - allowed), [],
                         "system calls ferryd makes that the unit's SystemCallFilter refuses")


@unittest.skipUnless(shutil.which("logrotate"), "logrotate not installed (contrib/deps.sh --test)")
class LogrotateTest(FerryTest):
    """The shipped file, pointed at a temporary directory and at the
    workers' user instead of ferry:adm (the package test checks the file
    as shipped, with the user the package makes); the postrotate script
    is run unchanged."""

    def setUp(self):
        super().setUp()
        self.logged = []  # the ferryd started, to stop between subtests

    def config(self, logs):
        with open(LOGROTATE) as f:
            text = f.read()
        self.assertIn("/var/log/ferry/*.log {", text)
        self.assertIn("create 0640 ferry adm", text)
        user, _, gid = worker_user()
        group = grp.getgrgid(gid).gr_name
        text = text.replace("/var/log/ferry/", logs + "/").replace(
            "create 0640 ferry adm", f"create 0640 {user} {group}")
        path = os.path.join(self.tmp, "logrotate.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def rotate(self, conf, env):
        return subprocess.run(["logrotate", "-f", "-s", os.path.join(self.tmp, "state"), conf],
                              capture_output=True, text=True, timeout=60, env=env)

    def rotation(self, mode, env_for):
        os.chmod(self.root, 0o755)
        self.put("hello.txt", b"hello\n")
        srv = LoggedFerryd(self, mode, (), ["http=127.0.0.1:0"])
        self.logged.append(srv)
        self.assertEqual(srv.get(), b"hello\n")
        wait_until(lambda: "hello.txt" in srv.text(srv.access), what="the first access line")
        conf = self.config(os.path.dirname(srv.log))
        # -d: the whole file read and explained, nothing done.
        p = subprocess.run(["logrotate", "-d", "-s", os.path.join(self.tmp, "state"), conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("error:", p.stdout + p.stderr)
        # For real: each file moved to .1 and a new one made, 0640.
        p = self.rotate(conf, env_for(srv))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for path in (srv.log, srv.access):
            self.assertTrue(os.path.exists(path + ".1"), path)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o640, path)
        # ferryd reopened both: the next request lands in the new files.
        # (A worker reopens between two connections: the first request
        # may still be served by one that has not yet.)
        def in_new_files():
            srv.get()
            return "hello.txt" in srv.text(srv.access) and "conn " in srv.text()
        wait_until(in_new_files, what="a request logged in the new files")
        self.assertIn("hello.txt", srv.text(srv.access + ".1"))
        return srv

    def test_postrotate_through_ferryctl(self):
        # ferryctl finds the admin socket: here through the variable.
        def env_for(srv):
            return dict(os.environ, FERRY_ADMIN_SOCKET=srv.admin,
                        PATH=os.path.dirname(os.path.abspath(FERRYCTL)) + ":" + os.environ["PATH"])
        self.rotation("event", env_for)

    def test_postrotate_falls_back_to_sigusr1(self):
        # ferryctl fails (no socket there): SIGUSR1 to every process named
        # 'ferryd: master' or 'ferryd: iterati'. pkill is wrapped to
        # signal this test's children alone, never another ferryd on the
        # machine; the name pattern is the file's own.
        shim = os.path.join(self.tmp, "shim")
        os.mkdir(shim)
        with open(os.path.join(shim, "pkill"), "w") as f:
            f.write(f'#!/bin/sh\nexec {shutil.which("pkill")} -P {os.getpid()} "$@"\n')
        os.chmod(os.path.join(shim, "pkill"), 0o755)

        def env_for(srv):
            return dict(os.environ, FERRY_ADMIN_SOCKET=os.path.join(self.tmp, "none.sock"),
                        PATH=shim + ":" + os.path.dirname(os.path.abspath(FERRYCTL)) + ":"
                        + os.environ["PATH"])
        for mode in ("event", "iterative"):
            with self.subTest(mode=mode):
                try:
                    self.rotation(mode, env_for)
                finally:  # the next mode starts afresh
                    for srv in self.logged:
                        srv.kill()
                    shutil.rmtree(os.path.join(self.tmp, "logs"), ignore_errors=True)
                    if os.path.exists(os.path.join(self.tmp, "state")):
                        os.remove(os.path.join(self.tmp, "state"))


class ExampleConfigTest(unittest.TestCase):
    """contrib/ferryd.conf, as libinih will read it: every key, commented
    out or not, is one of ferryd's options."""

    SECTIONS = ("listen", "redirect", "access")
    PROTOCOLS = ("native", "http", "echo", "upcase", "daytime", "lottery", "hub", "metrics")
    # Added with the configuration file (the lead's branch): not in
    # ferryd --help yet.
    MORE = ("user", "group", "no-seccomp")

    def setUp(self):
        out = subprocess.run([FERRYD, "--help"], capture_output=True, text=True, timeout=30).stdout
        self.options = set(re.findall(r"(?m)^  --([a-z][a-z0-9-]*)", out)) | set(self.MORE)
        self.options -= {"listen", "allow", "deny", "redirect", "help", "version"}
        with open(EXAMPLE) as f:
            self.lines = f.read().splitlines()

    def entries(self):
        """(line number, section, key, value, commented) of every setting."""
        section = ""
        for n, line in enumerate(self.lines, 1):
            body = line.lstrip()
            commented = body.startswith(";")
            body = body.lstrip(";").strip()
            if re.fullmatch(r"\[[^]]+\]", body):
                section = body[1:-1]
                continue
            m = re.fullmatch(r"(/?[a-z][a-z0-9./-]*) = (\S+)(\s+;.*)?", body)
            if m:
                yield n, section, m.group(1), m.group(2), commented

    def test_line_length(self):
        for n, line in enumerate(self.lines, 1):
            self.assertLessEqual(len(line), 199, f"line {n}")

    def test_keys_and_sections(self):
        seen = []
        for n, section, key, value, commented in self.entries():
            where = f"contrib/ferryd.conf:{n}: {key}"
            if section == "":
                self.assertIn(key, self.options | {"directory"}, where)
            elif section == "listen":
                self.assertIn(key, self.PROTOCOLS, where)
                self.assertRegex(value, r"^(\[[0-9a-f:]+\]|[0-9.]+):\d+$", where)
            elif section == "redirect":
                self.assertTrue(key.startswith("/"), where)
            else:
                self.assertIn(section.split()[0], ("access",), where)
                if " " in section:
                    self.assertIn(section.split()[1], self.PROTOCOLS, where)
                self.assertIn(key, ("allow", "deny"), where)
            if not commented:
                seen.append((section, key, value))
        for want in (("", "directory", "/srv/ferry"), ("", "user", "ferry"),
                     ("listen", "native", "0.0.0.0:12345"), ("listen", "http", "[::]:8080")):
            self.assertIn(want, seen)

    def test_flags_are_yes_or_no(self):
        flags = {"autoindex", "serve-hidden", "ipv6-only", "no-seccomp", "hub-allow-plain",
                 "hub-test-hooks"}
        for n, section, key, value, _ in self.entries():
            if section == "" and key in flags:
                self.assertIn(value, ("yes", "no"), f"line {n}")


if __name__ == "__main__":
    unittest.main()
