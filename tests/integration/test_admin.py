"""The admin socket and ferryctl against the real ferryd, in every mode:
every command, malformed and oversized requests, many clients, a client
that never reads, permissions, start-up conflicts, and answers that come
quickly while every worker is busy."""

import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import termios
import threading
import time
import unittest

from ferrytest import (FERRYCTL, FERRYD, READY, STATUS, FerryTest, Server, children_of, on_worker,
                       parse_response, per_mode, recv_exact, request, sha256_file, signal_pending,
                       wait_until)


def admin_conn(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    return s, s.makefile("rwb")


def ask(f, line):
    f.write(line if isinstance(line, bytes) else json.dumps(line).encode())
    f.write(b"\n")
    f.flush()
    return json.loads(f.readline())


class Admin:
    MODE = None

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(64 << 20))
        # Iterative mode's one process removes its socket at the end as the
        # serving user: in a directory of theirs (docs/SECURITY.md).
        admin = (os.path.join(self.serving_dir("run"), "admin.sock")
                 if self.MODE == "iterative" else None)
        self.srv = self.serve(self.MODE, ("--workers", "2"), admin=admin)

    def test_ping_and_json_passthrough(self):
        r = self.srv.ctl("ping")
        self.assertEqual((r.returncode, r.stdout), (0, "pong\n"))
        r = self.srv.ctl("--json", "ping")
        self.assertEqual(json.loads(r.stdout), {"ok": True, "schema": 1, "pong": True})

    def test_subscribe_and_reopen_are_answered(self):
        s, f = admin_conn(self.srv.admin)
        self.assertEqual(ask(f, {"cmd": "subscribe"}),
                         {"ok": True, "schema": 1, "subscribed": True})
        s.close()
        r = self.srv.admin_json("reopen-logs")
        self.assertEqual(r["reopened"], False)

    def test_status(self):
        for _ in range(3):
            self.assertEqual(self.srv.fetch("hello.txt"), b"hello\n")
        s, (_, _, status, _) = self.srv.ask("missing")
        self.assertEqual(status, STATUS["NOT_FOUND"])
        s.close()

        def counted():  # a worker counts bytes once sendfile() returned:
            st = self.srv.admin_json("status")  # the client may have them first
            return st["totals"]["bytes"] == 18 and st
        st = wait_until(counted, what="the bytes sent counted")
        self.assertEqual((st["ok"], st["schema"], st["mode"], st["state"]),
                         (True, 1, self.MODE, "running"))
        self.assertEqual(st["pid"], self.srv.pid)
        self.assertEqual(st["limits"]["max_children"], 64)
        self.assertEqual(st["totals"]["connections"], 4)
        # Native statuses by outcome: OK is ok, NOT_FOUND a client error.
        self.assertEqual(st["totals"]["outcomes"],
                         {"ok": 3, "redirect": 0, "client_error": 1, "server_error": 0})
        self.assertNotIn("status", st["totals"])
        self.assertEqual(st["totals"]["bytes"], 18)
        # The one listener, and its row: the same figures as the totals.
        self.assertEqual(st["listeners"], [
            {"protocol": "native", "address": f"127.0.0.1:{self.srv.port}", "connections": 4,
             "bytes": 18,
             "requests": {"ok": 3, "redirect": 0, "client_error": 1, "server_error": 0},
             "denied": 0}])
        self.assertEqual(set(st["throughput"]), {"1s", "10s", "60s"})
        self.assertEqual(st["saturation"]["listen_queue"], 0)
        human = self.srv.ctl("status").stdout
        self.assertIn(f"ferryd {st['version']}  pid {self.srv.pid}  {self.MODE}  running", human)
        self.assertIn("4 connections  4 requests", human)
        self.assertIn("\noutcomes    ok 3  redirect 0  client_error 1  server_error 0\n", human)
        self.assertRegex(human, r"\nPROTO +LISTENER +CONNS +OK +REDIRECT +CLIENT_ERROR +"
                                r"SERVER_ERROR +SENT\n"
                                rf"native +127\.0\.0\.1:{self.srv.port} +4 +3 +0 +1 +0 +18 B\n")

    def test_status_reports_the_per_client_limits(self):
        """status's limits carry --min-rate, --max-conn-per-ip and
        --keepalive-timeout as configured, ferryctl status shows them, and
        the per-address limit reported is the one enforced: one connection
        past it gets BUSY, counted as a client error, not as denied."""
        lim = self.srv.admin_json("status")["limits"]  # the defaults
        self.assertEqual((lim["min_rate_bps"], lim["max_conn_per_ip"], lim["keepalive_timeout_s"]),
                         (1024, 0, 5))
        self.assertRegex(self.srv.ctl("status").stdout,
                         r"min-rate 1\.0 KiB/s\s+max-conn-per-ip off\s+keepalive-timeout 5s\n")
        srv = self.serve(self.MODE, ("--workers", "3", "--min-rate", "2048",
                                     "--max-conn-per-ip", "2", "--keepalive-timeout", "300"))
        lim = srv.admin_json("status")["limits"]
        self.assertEqual((lim["min_rate_bps"], lim["max_conn_per_ip"], lim["keepalive_timeout_s"]),
                         (2048, 2, 300))
        r = srv.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout,
                         r"min-rate 2\.0 KiB/s\s+max-conn-per-ip 2\s+keepalive-timeout 300s\n")
        if self.MODE == "iterative":
            return  # one connection at a time: a second is never open beside the first
        held = [srv.stalled("big") for _ in range(2)]
        for s in held:
            self.addCleanup(s.close)
        wait_until(lambda: srv.admin_json("status")["connections"]["open"] == 2,
                   what="two connections from 127.0.0.1 held")
        s, (_, _, status, size) = srv.ask("hello.txt")
        self.assertEqual((status, size), (10, 0))  # BUSY: the third from one address
        s.close()
        st = srv.admin_json("status")
        self.assertEqual(st["totals"]["outcomes"]["client_error"], 1)
        self.assertEqual(st["totals"]["denied"], 0)

    def test_workers_show_a_live_transfer(self):
        s = self.srv.stalled()
        def sending():
            ws = self.srv.admin_json("workers")["workers"]
            return [w for w in ws if "transfer" in w and w["transfer"]["sent"] > 0]
        busy = wait_until(sending, what="a worker with a transfer under way")[0]
        t = busy["transfer"]
        self.assertEqual((t["target"], t["size"], busy["state"]), ("big", 64 << 20, "sending"))
        self.assertEqual((t["protocol"], t["listener"], t["requests"]),
                         ("native", f"127.0.0.1:{self.srv.port}", 1))
        self.assertNotIn("file", t)
        self.assertRegex(t["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertLess(t["sent"], t["size"])
        self.assertGreaterEqual(t["idle_ms"], 0)
        expected = {"iterative": 1, "fork": 1, "prefork": 2, "event": 2}[self.MODE]
        self.assertEqual(len(self.srv.admin_json("workers")["workers"]), expected)
        self.assertRegex(self.srv.ctl("workers").stdout, r"sending .* native .* big +\s+0% ")
        wide = self.srv.ctl("workers", "--wide").stdout.splitlines()
        self.assertRegex(wide[0], r" PROTO +LISTENER +PEER +TARGET +PROGRESS +RATE$")
        self.assertRegex("\n".join(wide), rf"sending .* native +127\.0\.0\.1:{self.srv.port} +"
                                          r"127\.0\.0\.1:\d+ +big ")
        s.close()

    def test_answers_quickly_while_every_worker_is_busy(self):
        held = [self.srv.stalled()] + ([self.srv.stalled()] if self.MODE != "iterative" else [])
        if self.MODE == "prefork":
            wait_until(lambda: self.srv.admin_json("status")["pool"].get("sending") == 2,
                       what="both workers sending")
        worst = 0
        for _ in range(20):
            t0 = time.monotonic()
            self.assertEqual(self.srv.ctl("status").returncode, 0)
            worst = max(worst, time.monotonic() - t0)
        # A status that waited for the held transfers would never answer;
        # the bound leaves room for a ferryctl started under ASan on a
        # loaded machine.
        self.assertLess(worst, 2.0, "status must not wait for the transfers")
        for s in held:
            s.close()

    @unittest.skipUnless(shutil.which("promtool"), "promtool (Debian's prometheus) not installed")
    def test_metrics_pass_promtool(self):
        self.assertEqual(self.srv.fetch("hello.txt"), b"hello\n")
        s = self.srv.stalled()
        wait_until(lambda: "transfer" in str(self.srv.admin_json("workers")))
        text = self.srv.admin_json("metrics")["text"]
        labels = f'listener="127.0.0.1:{self.srv.port}",protocol="native"'
        self.assertIn(f'ferry_responses_total{{{labels},outcome="ok"}} 2', text)
        self.assertIn(f'ferry_connections_total{{{labels}}} 2', text)
        self.assertRegex(text, r'ferry_worker_transfer_size_bytes\{slot="\d+"\} 67108864')
        declared = [l for l in text.splitlines() if l.startswith("#")]
        self.assertEqual([l for l in self.srv.ctl("metrics").stdout.splitlines()
                          if l.startswith("#")], declared)  # ferryctl prints the same families
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(check.stdout + check.stderr, "", "no lint findings either")
        s.close()

    def test_malformed_requests_keep_the_connection(self):
        s, f = admin_conn(self.srv.admin)
        cases = [(b"{not json", "bad_json"), (b"[1,2]", "bad_request"), (b"{}", "bad_request"),
                 (b'{"cmd": 7}', "bad_request"), (b'{"cmd": "frobnicate"}', "unknown_command"),
                 (b'{"cmd": "shutdown", "graceful": "yes"}', "bad_argument"),
                 (b'{"cmd": "shutdown", "timeout_s": "soon"}', "bad_argument"),
                 (b'{"cmd": "shutdown", "timeout_s": 100000}', "out_of_range"),
                 (b'{"cmd": "ping", "cmd": "status"}', "bad_json")]
        for line, code in cases:
            with self.subTest(line=line):
                r = ask(f, line)
                self.assertEqual((r["ok"], r["schema"], r["error"]), (False, 1, code))
                self.assertTrue(r["message"])
        self.assertEqual(ask(f, {"cmd": "ping"})["pong"], True)  # still usable
        # Several requests in one write are answered in order.
        f.write(b'{"cmd":"ping"}\n{"cmd":"workers"}\n\n{"cmd":"ping"}\n')
        f.flush()
        self.assertIn("pong", json.loads(f.readline()))
        self.assertIn("workers", json.loads(f.readline()))
        self.assertIn("pong", json.loads(f.readline()))
        s.close()

    def test_oversized_line_is_cut_off(self):
        s, f = admin_conn(self.srv.admin)
        s.sendall(b'{"cmd": "ping", "pad": "' + b"x" * (70 * 1024))
        r = json.loads(f.readline())
        self.assertEqual((r["ok"], r["error"]), (False, "line_too_long"))
        self.assertEqual(f.readline(), b"")  # then closed
        self.srv.wait_log(r"admin: request line over 65536 bytes")
        self.assertEqual(self.srv.ctl("ping").returncode, 0)

    def test_client_that_never_reads_is_cut_off(self):
        s, _ = admin_conn(self.srv.admin)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        line = b'{"cmd":"status"}\n'
        try:
            for _ in range(200):
                s.sendall(line * 50)  # 10,000 answers of ~1 KB that nobody reads
        except OSError:
            pass  # cut off while still writing: what we want
        self.srv.wait_log(r"does not read its answers: cutting it off")
        t0 = time.monotonic()
        self.assertEqual(self.srv.ctl("ping").returncode, 0)
        self.assertLess(time.monotonic() - t0, 1)
        s.close()

    def test_many_clients_at_once(self):
        errors = []
        def client():
            try:
                s, f = admin_conn(self.srv.admin)
                for i in range(20):
                    r = ask(f, {"cmd": "status" if i % 2 else "workers"})
                    if not r["ok"]:
                        errors.append(r)
                s.close()
            except Exception as e:
                errors.append(e)
        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])

    def test_shutdown_with_a_transfer_in_flight(self):
        s, (_, _, status, size) = self.srv.ask("big")
        s.sendall(READY)
        head = recv_exact(s, 1 << 20)
        r = self.srv.ctl("shutdown", "--timeout", "20")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stopping gracefully", r.stdout)
        if self.MODE != "iterative":  # iterative closes the socket only at the end
            self.assertEqual(self.srv.admin_json("status")["state"], "stopping")
        self.assertEqual(len(head) + len(recv_exact(s, size)), size)
        self.assertEqual(self.srv.stop(), 0)
        self.assertFalse(os.path.exists(self.srv.admin), "the socket file is removed")

    def test_shutdown_now(self):
        s = self.srv.stalled()
        r = self.srv.ctl("--json", "shutdown", "--now")
        self.assertEqual(json.loads(r.stdout)["graceful"], False)
        self.assertEqual(self.srv.proc.wait(timeout=10), 1)
        s.close()


class AdminSocket(FerryTest):

    def test_socket_mode_and_stale_file(self):
        path = os.path.join(self.tmp, "stale.sock")
        dead = socket.socket(socket.AF_UNIX)
        dead.bind(path)
        dead.close()  # a socket file nobody answers on
        srv = self.serve("prefork", ("--workers", "1"), admin=path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(srv.ctl("ping").returncode, 0)

    def test_live_socket_is_a_startup_error(self):
        srv = self.serve("prefork", ("--workers", "1"))
        for mode in ("prefork", "iterative"):
            r = subprocess.run([FERRYD, "--mode", mode, "--admin-socket", srv.admin, "127.0.0.1",
                                "0", self.root], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"cannot open the admin socket {srv.admin}: in use by another running "
                          "ferryd", r.stderr)
        self.assertEqual(srv.ctl("ping").returncode, 0, "the first one is untouched")

    def test_path_that_is_not_a_socket(self):
        path = os.path.join(self.tmp, "file")
        open(path, "w").write("keep me")
        r = subprocess.run([FERRYD, "--admin-socket", path, "127.0.0.1", "0", self.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists and is not a socket", r.stderr)
        self.assertEqual(open(path).read(), "keep me")

    def test_default_path_and_discovery(self):
        xdg = os.path.join(self.tmp, "xdg")
        os.mkdir(xdg, 0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=xdg)
        wrapper = ()
        if os.geteuid() == 0:  # as root the default is /run/ferry: test the user case as nobody
            os.chown(xdg, 65534, 65534)
            os.chmod(self.tmp, 0o755)
            wrapper = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        srv = self.serve("prefork", ("--workers", "1"), admin=False, env=env, wrapper=wrapper)
        expected = os.path.join(xdg, f"ferryd-{srv.port}.sock")
        srv.wait_log(re.escape(f"admin socket {expected}"))
        env.pop("FERRY_ADMIN_SOCKET", None)
        r = subprocess.run([*wrapper, FERRYCTL, "ping"], capture_output=True, text=True, env=env,
                           timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, "pong\n"), r.stderr)
        r = subprocess.run([FERRYCTL, "ping"], capture_output=True, text=True, timeout=10,
                           env=dict(env, FERRY_ADMIN_SOCKET=expected))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_ferryctl_exit_codes(self):
        r = subprocess.run([FERRYCTL, "-s", os.path.join(self.tmp, "none.sock"), "ping"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot reach", r.stderr)
        self.assertEqual(subprocess.run([FERRYCTL, "frob"], capture_output=True).returncode, 2)
        self.assertEqual(subprocess.run([FERRYCTL], capture_output=True).returncode, 2)
        r = subprocess.run([FERRYCTL, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("exit codes", r.stdout)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to act as another user")
    def test_permissions(self):
        srv = self.serve("prefork", ("--workers", "1", "--admin-group", "nogroup"))
        st = os.stat(srv.admin)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        # A member of the admin group reads...
        self.assertEqual(srv.ctl("status", wrapper=nobody).returncode, 0)
        # ...but may not control, and the denial is logged.
        r = srv.ctl("shutdown", wrapper=nobody)
        self.assertEqual(r.returncode, 1)
        self.assertIn("permission_denied", r.stderr)
        srv.wait_log(r'admin: denied "shutdown" to uid 65534')
        # Someone in neither the owner's uid nor the group cannot connect at all.
        other = ("setpriv", "--reuid=65534", "--regid=65533", "--clear-groups")
        r = srv.ctl("ping", wrapper=other)
        self.assertEqual(r.returncode, 3)
        self.assertIn("Permission denied", r.stderr)
        self.assertEqual(srv.ctl("ping").returncode, 0)


globals().update(per_mode(Admin))


def ipv6_loopback():
    """True when this host can listen on ::1 (a container may have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class TwoListeners:
    """One pool behind two listeners: each connection is counted on the
    listener that took it, in status, workers and metrics alike. The second
    listener is on ::1 where the host has IPv6, else another IPv4 port."""
    MODE = None

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(64 << 20))
        self.v6 = ipv6_loopback()
        second = "native=[::1]:0" if self.v6 else "native=127.0.0.1:0"
        self.srv = self.serve(self.MODE, ("--workers", "2"),
                              listen=["native=127.0.0.1:0", second])
        self.assertEqual(len(self.srv.listeners), 2, self.srv.log())
        self.addr = [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for _, h, p in self.srv.listeners]

    def connect(self, i):
        _, host, port = self.srv.listeners[i]
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(10)
        s.connect((host, port))
        return s

    def ask(self, i, name):
        """A FILE_REQUEST on listener i; returns (socket, status, size)."""
        s = self.connect(i)
        s.sendall(request(name))
        _, _, status, size = parse_response(recv_exact(s, 11))
        return s, status, size

    def fetch(self, i, name):
        s, status, size = self.ask(i, name)
        self.assertEqual(status, STATUS["OK"])
        s.sendall(READY)
        data = recv_exact(s, size)
        s.close()
        return data

    def test_each_listener_counts_its_own(self):
        self.assertEqual(self.fetch(0, "hello.txt"), b"hello\n")
        self.assertEqual(self.fetch(0, "hello.txt"), b"hello\n")
        self.assertEqual(self.fetch(1, "hello.txt"), b"hello\n")
        s, status, _ = self.ask(1, "missing")
        self.assertEqual(status, STATUS["NOT_FOUND"])
        s.close()
        row = lambda conns, nbytes, ok, client: {
            "protocol": "native", "connections": conns, "bytes": nbytes,
            "requests": {"ok": ok, "redirect": 0, "client_error": client, "server_error": 0},
            "denied": 0}
        want = [dict(row(2, 12, 2, 0), address=self.addr[0]),
                dict(row(2, 6, 1, 1), address=self.addr[1])]
        # A worker counts the bytes once the kernel took them: the client
        # may have them a moment before.
        st = wait_until(lambda: (st := self.srv.admin_json("status"))["listeners"] == want and st,
                        what=f"the listeners' rows to be {want}")
        self.assertEqual(st["totals"]["connections"], 4)
        self.assertEqual(st["totals"]["outcomes"],
                         {"ok": 3, "redirect": 0, "client_error": 1, "server_error": 0})
        human = self.srv.ctl("status").stdout
        self.assertRegex(human, rf"\nnative +{re.escape(self.addr[0])} +2 +2 +0 +0 +0 +12 B\n")
        self.assertRegex(human, rf"\nnative +{re.escape(self.addr[1])} +2 +1 +0 +1 +0 +6 B\n")

        # A transfer held on the second listener shows where it came in.
        held = self.connect(1)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        held.sendall(request("big"))
        self.assertEqual(parse_response(recv_exact(held, 11))[2], STATUS["OK"])
        held.sendall(READY)
        recv_exact(held, 4096)
        def busy():
            return [w["transfer"] for w in self.srv.admin_json("workers")["workers"]
                    if w.get("transfer", {}).get("sent", 0) > 0]
        t = wait_until(busy, what="the held transfer under way")[0]
        self.assertEqual((t["protocol"], t["listener"], t["target"], t["requests"]),
                         ("native", self.addr[1], "big", 1))
        peer = r"\[::1\]:\d+" if self.v6 else r"127\.0\.0\.1:\d+"
        self.assertRegex(t["peer"], rf"^{peer}$")
        wide = self.srv.ctl("workers", "--wide").stdout
        self.assertRegex(wide, rf"sending .* native +{re.escape(self.addr[1])} +{peer} +big ")

        m = self.srv.admin_json("metrics")["text"]
        for addr, conns in zip(self.addr, (2, 3)):
            labels = f'listener="{addr}",protocol="native"'
            self.assertIn(f"\nferry_connections_total{{{labels}}} {conns}\n", m)
            self.assertIn(f"\nferry_listen_queue_limit{{{labels}}} ", m)
        self.assertIn(f'\nferry_responses_total{{listener="{self.addr[1]}",protocol="native",'
                      f'outcome="client_error"}} 1\n', m)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=m, text=True,
                                   capture_output=True, timeout=30)
            self.assertEqual((check.returncode, check.stdout + check.stderr), (0, ""))
        held.close()


globals().update(per_mode(TwoListeners))
del Admin


class ResizeFixture:

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.put("big", bytes(64 << 20))

    def workers(self, srv):
        return len(srv.admin_json("workers")["workers"])


class Resize(ResizeFixture):
    """A pool's resize, in both pool modes (MODE)."""
    MODE = None

    def stalled_on_each(self, srv, **kw):
        """A stalled transfer held by each of the two workers. An event
        worker takes many connections, and an idle pool hands them all to
        one: each is placed on its worker (on_worker)."""
        if self.MODE != "event":
            return [srv.stalled(**kw), srv.stalled(**kw)]
        pids = wait_until(lambda: len(children_of(srv.pid)) == 2 and children_of(srv.pid))
        return [on_worker(srv, pid, lambda: srv.stalled(**kw), 1)[0] for pid in pids]

    def test_grow_and_shrink_match_when_the_command_returns(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        r = srv.ctl("resize", "+2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resized 2 -> 4", r.stdout)
        self.assertEqual(self.workers(srv), 4)
        self.assertEqual(len(children_of(srv.pid)), 4)
        r = srv.admin_json("resize", "-3")
        self.assertEqual((r["from"], r["to"], r["retired"], r["killed"]), (4, 1, 3, 0))
        self.assertEqual(self.workers(srv), 1)
        self.assertEqual(len(children_of(srv.pid)), 1)
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 1)
        self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        self.assertEqual(srv.admin_json("status")["totals"]["crashes"], 0)

    def test_resize_under_load_loses_nothing(self):
        data = os.urandom(8 << 20)
        self.put("data", data)
        srv = self.serve(self.MODE, ("--workers", "4"))
        out = os.path.join(self.tmp, "out")
        os.mkdir(out)
        procs = [subprocess.Popen([os.path.join(os.path.dirname(FERRYD), "ferry"), "get", "-q",
                                   "-o", f"f{i}", "127.0.0.1", str(srv.port), "data", "1G"],
                                  cwd=out) for i in range(20)]
        for size in ("+4", "-6", "+3", "5"):
            r = srv.admin_json("resize", size)
            self.assertEqual(self.workers(srv), r["to"])
            self.assertEqual(len(children_of(srv.pid)), r["to"])
        self.assertEqual([p.wait(timeout=120) for p in procs], [0] * 20)
        digest = hashlib.sha256(data).hexdigest()
        for i in range(20):
            self.assertEqual(sha256_file(os.path.join(out, f"f{i}")), digest)

    def test_drain_timeout_kills_a_stalled_transfer(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        held = self.stalled_on_each(srv)
        wait_until(lambda: srv.admin_json("status")["pool"].get("sending") == 2)
        t0 = time.monotonic()
        r = srv.admin_json("resize", "1", "--drain-timeout", "1")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertEqual((r["retired"], r["killed"]), (0, 1))
        self.assertGreaterEqual(r["time_s"], 1.0)
        srv.wait_log(r"drain timeout of 1 s passed: killing 1 busy worker")
        self.assertEqual(self.workers(srv), 1)
        self.assertEqual(srv.admin_json("status")["totals"]["crashes"], 0)
        for s in held:
            s.close()

    def test_draining_state_and_busy(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        held = self.stalled_on_each(srv, small_window=False)
        wait_until(lambda: srv.admin_json("status")["pool"].get("sending") == 2)
        r = srv.ctl("resize", "1", "--no-wait")
        self.assertIn("resizing 2 -> 1 (not waiting)", r.stdout)
        self.assertEqual(srv.admin_json("status")["state"], "draining")
        r = srv.ctl("resize", "3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("busy", r.stderr)
        for s in held:  # the transfers finish: the chosen worker retires
            while s.recv(1 << 20):
                pass
            s.close()
        wait_until(lambda: srv.admin_json("status")["state"] == "running", what="running again")
        self.assertEqual(self.workers(srv), 1)

    def test_answers_stay_in_order_behind_a_resize(self):
        srv = self.serve(self.MODE, ("--workers", "1"))
        s, f = admin_conn(srv.admin)
        f.write(b'{"cmd":"resize","workers":3}\n{"cmd":"ping"}\n')
        f.flush()
        first, second = json.loads(f.readline()), json.loads(f.readline())
        self.assertEqual((first["to"], first["started"]), (3, 2))
        self.assertEqual(second["pong"], True)
        s.close()

    def test_range_and_types(self):
        srv = self.serve(self.MODE, ("--workers", "2", "--max-children", "8"))
        s, f = admin_conn(srv.admin)
        for workers, code in ((0, "out_of_range"), (9, "out_of_range"), ("-2", "out_of_range"),
                              ("+7", "out_of_range"), ("two", "bad_argument"), (2.5, "bad_argument"),
                              ("+", "bad_argument"), ("+1x", "bad_argument")):
            with self.subTest(workers=workers):
                r = ask(f, {"cmd": "resize", "workers": workers})
                self.assertEqual((r["ok"], r["error"]), (False, code))
        self.assertEqual(ask(f, {"cmd": "resize", "workers": 8})["to"], 8)
        s.close()

    def test_ttin_and_ttou(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        os.kill(srv.pid, signal.SIGTTIN)
        wait_until(lambda: len(children_of(srv.pid)) == 3, what="3 workers after SIGTTIN")
        os.kill(srv.pid, signal.SIGTTOU)
        srv.wait_log(r"resize 3 -> 2 done")
        self.assertEqual(len(children_of(srv.pid)), 2)
        self.assertEqual(srv.admin_json("status")["limits"]["workers"], 2)


globals().update(per_mode(Resize, ("prefork", "event")))


class ResizeOtherModes(ResizeFixture, FerryTest):
    """Where there is no pool of workers to resize."""

    def test_fork_mode_changes_the_limit(self):
        srv = self.serve("fork", ("--workers", "4"))
        r = srv.admin_json("resize", "1")
        self.assertEqual((r["from"], r["to"]), (4, 1))
        held, _ = srv.ask("hello.txt")
        wait_until(lambda: len(children_of(srv.pid)) == 1)
        second = srv.connect()
        second.sendall(b"\x01\x01\x00\x09hello.txt")
        second.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            second.recv(11)  # the limit is now 1
        held.sendall(READY)
        recv_exact(held, 100)
        second.settimeout(10)
        self.assertEqual(recv_exact(second, 11)[2], 0)

    def test_iterative_refuses(self):
        srv = self.serve("iterative")
        r = srv.ctl("resize", "2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsupported: iterative mode has no pool to resize", r.stderr)


class Events(FerryTest):

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")

    def subscribe(self, srv):
        s, f = admin_conn(srv.admin)
        self.assertEqual(ask(f, {"cmd": "subscribe"}),
                         {"ok": True, "schema": 1, "subscribed": True})
        return s, f

    def next_event(self, f, name):
        """Reads events until one named name; returns it and those before."""
        seen = []
        while True:
            line = f.readline()
            self.assertTrue(line, f"stream ended before {name}; saw {seen}")
            ev = json.loads(line)
            self.assertEqual(ev["schema"], 1)
            self.assertRegex(ev["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            if ev["event"] == name:
                return ev, seen
            seen.append(ev)

    def test_a_resize_as_events(self):
        srv = self.serve("prefork", ("--workers", "2"))
        s, f = self.subscribe(srv)
        self.assertEqual(srv.ctl("resize", "+1").returncode, 0)
        done, before = self.next_event(f, "resize_done")
        self.assertEqual([e["event"] for e in before], ["resize_started", "worker_started"])
        self.assertEqual((before[0]["from"], before[0]["to"]), (2, 3))
        self.assertIn(before[1]["pid"], children_of(srv.pid))
        self.assertEqual((done["started"], done["retired"]), (1, 0))
        self.assertEqual(srv.ctl("resize", "-2").returncode, 0)
        done, before = self.next_event(f, "resize_done")
        exits = [e for e in before if e["event"] == "worker_exited"]
        self.assertEqual(len(exits), 2)
        self.assertTrue(all(e["retired"] and not e["crashed"] and e["status"] == 0
                            for e in exits))
        s.close()

    def test_a_killed_worker_and_shutdown(self):
        srv = self.serve("prefork", ("--workers", "1"))
        s, f = self.subscribe(srv)
        victim = wait_until(lambda: children_of(srv.pid))[0]
        os.kill(victim, signal.SIGKILL)
        ev, _ = self.next_event(f, "worker_exited")
        self.assertEqual((ev["pid"], ev["signal"], ev["status"], ev["crashed"]),
                         (victim, 9, None, True))
        ev, _ = self.next_event(f, "worker_started")  # its replacement
        srv.proc.send_signal(signal.SIGTERM)
        ev, _ = self.next_event(f, "shutdown_started")
        self.assertEqual((ev["graceful"], ev["cause"]), (True, "SIGTERM"))
        ev, _ = self.next_event(f, "shutdown_progress")
        self.assertEqual(ev["children_left"], 0)
        s.close()

    def test_fork_limit_events(self):
        srv = self.serve("fork", ("--workers", "1"))
        s, f = self.subscribe(srv)
        held, _ = srv.ask("hello.txt")
        second = srv.connect()
        second.sendall(b"\x01\x01\x00\x09hello.txt")
        ev, _ = self.next_event(f, "pool_at_limit")
        self.assertEqual(ev["limit"], 1)
        held.sendall(READY)
        recv_exact(held, 100)
        ev, _ = self.next_event(f, "pool_below_limit")
        self.assertEqual(recv_exact(second, 11)[2], 0)
        self.assertGreaterEqual(srv.admin_json("status")["saturation"]["at_limit_count"], 1)
        s.close()

    def test_ferryctl_events_follows_until_ferryd_stops(self):
        srv = self.serve("prefork", ("--workers", "1"))
        follower = subprocess.Popen([FERRYCTL, "-s", srv.admin, "--json", "events"], text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Its first line is the answer to subscribe: from then on it sees everything.
        ready, _, _ = select.select([follower.stdout], [], [], 10)
        self.assertTrue(ready, "ferryctl events printed nothing within 10 s")
        self.assertEqual(json.loads(follower.stdout.readline())["subscribed"], True)
        self.assertEqual(srv.ctl("resize", "2").returncode, 0)
        self.assertEqual(srv.stop(), 0)
        out, err = follower.communicate(timeout=10)
        self.assertEqual(follower.returncode, 0, err)
        events = [json.loads(l) for l in out.splitlines()]
        names = [e["event"] for e in events]
        self.assertEqual(names[:3], ["resize_started", "worker_started", "resize_done"])
        self.assertIn("shutdown_started", names)


class LogRotation:
    MODE = None

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_reopen_after_rotation(self):
        self.put("hello.txt", b"hello\n")
        # Iterative mode's one process reopens as the serving user: after a
        # rotation it makes the new file itself (docs/SECURITY.md).
        log = os.path.join(self.serving_dir("logs") if self.MODE == "iterative" else self.tmp,
                           "ferryd.log")
        admin = os.path.join(self.tmp, "rot.sock")
        proc = subprocess.Popen([FERRYD, "--mode", self.MODE, "--workers", "2", "--log-file", log,
                                 "--admin-socket", admin, "127.0.0.1", "0", self.root],
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        # Logs go to the file: wait for it to say the admin socket is up.
        wait_until(lambda: os.path.exists(log) and "admin socket" in self.read(log),
                   what="start-up lines in the log file")
        port = int(re.search(r"listening on native=127\.0\.0\.1:(\d+)", self.read(log)).group(1))
        fetch = lambda: ferry_get(port)
        fetch()
        os.rename(log, log + ".1")
        r = subprocess.run([FERRYCTL, "-s", admin, "reopen-logs"], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout), (0, "log file reopened\n"), r.stderr)
        fetch()
        wait_until(lambda: os.path.exists(log) and "conn " in self.read(log), what="a conn line")
        self.assertEqual(self.read(log + ".1").count("conn "), 1, "the first only")
        self.assertEqual(self.read(log).count("conn "), 1, "the second only")
        # SIGUSR1 does the same.
        os.rename(log, log + ".2")
        proc.send_signal(signal.SIGUSR1)
        if self.MODE != "iterative":  # the master says so in the new file
            wait_until(lambda: os.path.exists(log) and "log file reopened" in self.read(log))
        else:  # the serving thread reopens once the signal is delivered
            wait_until(lambda: not signal_pending(proc.pid, signal.SIGUSR1))
        fetch()
        wait_until(lambda: os.path.exists(log) and "conn " in self.read(log))
        self.assertEqual(self.read(log + ".2").count("conn "), 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertEqual(proc.stderr.read(), "", "nothing went to stderr")
        self.assertIn("stopped:", self.read(log))


def ferry_get(port):
    r = subprocess.run([os.path.join(os.path.dirname(FERRYD), "ferry"), "get", "-o", "-",
                        "127.0.0.1", str(port), "hello.txt", "1K"], capture_output=True,
                       timeout=30)
    assert r.returncode == 0 and r.stdout == b"hello\n", r.stderr


class NoLogFile(FerryTest):

    def test_reopen_without_a_log_file(self):
        srv = self.serve("prefork", ("--workers", "1"))
        r = srv.ctl("reopen-logs")
        self.assertEqual((r.returncode, r.stdout), (0, "logs go to stderr: nothing to reopen\n"))


globals().update(per_mode(LogRotation))
del LogRotation


class RollingRestart:
    """SIGHUP's rolling restart, in both pool modes (MODE)."""
    MODE = None


    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")
        self.data = os.urandom(48 << 20)
        self.put("big", self.data)

    def test_sighup_replaces_every_worker_without_refusing_anyone(self):
        srv = self.serve(self.MODE, ("--workers", "2"))
        old = sorted(wait_until(lambda: len(children_of(srv.pid)) == 2 and children_of(srv.pid)))
        events, f = admin_conn(srv.admin)
        ask(f, {"cmd": "subscribe"})
        s, (_, _, status, size) = srv.ask("big")  # a transfer in flight...
        s.sendall(READY)
        head = recv_exact(s, 1 << 20)
        os.kill(srv.pid, signal.SIGHUP)
        for _ in range(20):  # ...and clients keep being served all along
            self.assertEqual(srv.fetch("hello.txt"), b"hello\n")
        rest = recv_exact(s, size)  # the busy worker finishes, then leaves
        self.assertEqual(hashlib.sha256(head + rest).digest(), hashlib.sha256(self.data).digest())
        srv.wait_log(r"rolling restart done: 2 worker\(s\) replaced")
        new = children_of(srv.pid)
        self.assertEqual(len(new), 2)
        self.assertFalse(set(new) & set(old), "every worker is new")
        seen = []
        while not seen or seen[-1] != "restart_done":
            seen.append(json.loads(f.readline())["event"])
        self.assertEqual(seen[:2], ["reload", "restart_started"])  # a reload, then the restart
        self.assertEqual(seen.count("restart_progress"), 2)
        st = srv.admin_json("status")
        self.assertEqual((st["state"], st["totals"]["crashes"]), ("running", 0))
        events.close()


globals().update(per_mode(RollingRestart, ("prefork", "event")))


class HupElsewhere(FerryTest):
    """SIGHUP where there is no pool to restart, and to a worker."""

    def setUp(self):
        super().setUp()
        self.put("hello.txt", b"hello\n")

    def test_sighup_elsewhere(self):
        fork = self.serve("fork", ("--workers", "2"))
        os.kill(fork.pid, signal.SIGHUP)
        fork.wait_log(r"reload: fork mode starts a fresh child per connection: nothing to restart")
        self.assertEqual(fork.fetch("hello.txt"), b"hello\n")
        it = self.serve("iterative")
        os.kill(it.pid, signal.SIGHUP)
        wait_until(lambda: not signal_pending(it.pid, signal.SIGHUP))
        self.assertEqual(it.fetch("hello.txt"), b"hello\n")  # ignored, still serving
        pre = self.serve("prefork", ("--workers", "1"))
        worker = wait_until(lambda: children_of(pre.pid))[0]
        os.kill(worker, signal.SIGHUP)  # a hangup is not a reason for a worker to die
        wait_until(lambda: not signal_pending(worker, signal.SIGHUP))
        self.assertEqual(pre.fetch("hello.txt"), b"hello\n")
        self.assertEqual(children_of(pre.pid), [worker])


class Watchdog(FerryTest):

    def setUp(self):
        super().setUp()
        self.put("big", bytes(64 << 20))

    def test_a_stuck_transfer_is_reported_and_killed(self):
        for mode in ("prefork", "fork"):
            with self.subTest(mode=mode):
                srv = self.serve(mode, ("--workers", "2", "--stall-timeout", "1"))
                s, f = admin_conn(srv.admin)
                ask(f, {"cmd": "subscribe"})
                stuck = srv.stalled()  # never another byte read
                while True:
                    ev = json.loads(f.readline())
                    if ev["event"] == "worker_stuck":
                        break
                self.assertEqual((ev["target"], ev["size"], ev["phase"]),
                                 ("big", 64 << 20, "sending"))
                self.assertNotIn("file", ev)
                self.assertLess(ev["sent"], ev["size"])
                self.assertGreaterEqual(ev["idle_s"], 1)  # over the 1 s limit, to the ms
                line = srv.wait_log(r'worker stuck: pid \d+ slot \d+ peer 127\.0\.0\.1:\d+ sending '
                                    r'"big" \((\d+) of 67108864 bytes sent\), no progress for '
                                    r'\d+\.\d s \(connection \d+\.\d s old\): killing it')
                self.assertGreater(int(re.search(r"\((\d+) of", line).group(1)), 0)
                srv.wait_log(r"killed by signal 9 \(Killed\), as the master asked")
                totals = srv.admin_json("status")["totals"]
                self.assertEqual((totals["crashes"], totals["kills"]), (0, 1))
                stuck.close()
                s.close()

    def test_the_log_names_the_phase_that_stalled(self):
        # With --request-timeout far above --stall-timeout, the watchdog
        # sees a request stuck half-sent and a READY that never comes.
        srv = self.serve("prefork", ("--workers", "2", "--stall-timeout", "1",
                                     "--request-timeout", "60"))
        half = srv.connect()
        half.sendall(b"\x01\x01\x00\x09hel")  # 7 of 13 bytes, then silence
        line = srv.wait_log(r"worker stuck: .* reading a request \((\d+) bytes received\)")
        self.assertEqual(re.search(r"\((\d+) bytes received", line).group(1), "7")
        self.put("hello.txt", b"hello")
        mark = srv.mark()
        waiting, (_, _, status, size) = srv.ask("hello.txt")  # and never READY
        self.assertEqual((status, size), (0, 5))
        srv.wait_log(r'worker stuck: .* waiting for the client after answering "hello.txt" \(5 bytes\)',
                     start=mark)
        wait_until(lambda: srv.admin_json("status")["totals"]["kills"] == 2, what="two kills")
        self.assertEqual(srv.admin_json("status")["totals"]["crashes"], 0)
        half.close()
        waiting.close()

    def test_a_slow_but_moving_client_is_left_alone(self):
        srv = self.serve("prefork", ("--workers", "1", "--stall-timeout", "2"))
        s, (_, _, status, size) = srv.ask("big")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        s.sendall(READY)
        got, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 4:  # 4 s at ~320 KB/s: slow, but moving
            got += len(recv_exact(s, 64 * 1024))
            time.sleep(0.2)  # the client's own pace, not synchronisation
        self.assertNotIn("worker stuck", srv.log())
        w = srv.admin_json("workers")["workers"][0]
        self.assertEqual(w["state"], "sending")
        self.assertGreater(w["transfer"]["sent"], got - 1)
        s.close()


class Top(FerryTest):

    def test_top_on_a_terminal_quits_on_q(self):
        self.put("big", bytes(64 << 20))
        srv = self.serve("prefork", ("--workers", "2"))
        s = srv.stalled()
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(FERRYCTL, [FERRYCTL, "-s", srv.admin, "top", "--interval", "0.2"])
        before = termios.tcgetattr(fd)
        screen = b""
        deadline = time.monotonic() + 10
        while b"(q quits)" not in screen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                screen += os.read(fd, 65536)
        self.assertIn(b"\x1b[H\x1b[2J", screen)  # a full-screen frame
        self.assertRegex(screen, rb"SLOT +PID.*PROGRESS +RATE")
        self.assertRegex(screen, rb"sending .* big +  0% ")
        while True:  # a second frame: it refreshes
            ready, _, _ = select.select([fd], [], [], 5)
            self.assertTrue(ready, "no second frame")
            chunk = os.read(fd, 65536)
            if b"\x1b[H\x1b[2J" in chunk:
                break
        os.write(fd, b"q")
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(termios.tcgetattr(fd)[3], before[3], "terminal modes restored")
        os.close(fd)
        s.close()

    def test_top_in_batch(self):
        srv = self.serve("fork", ("--workers", "2"))
        r = srv.ctl("top", "--iterations", "3", "--interval", "0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("SLOT"), 3)
        self.assertNotIn("\x1b[", r.stdout, "no terminal control codes into a pipe")


if __name__ == "__main__":
    unittest.main()
