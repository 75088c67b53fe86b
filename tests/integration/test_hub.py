"""The hub (plain wire) against the real ferryd: its process beside the
workers, accounts through the admin socket, and the course's exchanges
over UDP with raw sockets: login and must-login-first, subscribe and post
(a forward to the online follower), unsubscribe, retrieve in order,
logout, a reset from the client, the session timeout; SIGKILL of the hub
(replaced, every acknowledged post still there); its figures in status,
workers, ferryctl and the metrics; the configuration's refusals. Every
wait is bounded by a socket timeout or a polling deadline."""

import itertools
import json
import os
import re
import signal
import socket
import struct
import subprocess
import unittest

from ferrytest import (FERRYCTL, FERRYD, FerryTest, children_of, parse_response, recv_exact,
                       sha256_file, wait_until)
from test_metrics import Metrics, http_get

LOGIN, SUBSCRIBE, UNSUBSCRIBE, POST, FORWARD_ACK, RETRIEVE, LOGOUT, RESET = (
    0x10, 0x20, 0x21, 0x30, 0x31, 0x40, 0x1F, 0x00)
LOGIN_OK, LOGIN_FAILED, SUB_OK, SUB_FAILED, UNSUB_OK, UNSUB_FAILED = (
    0x80, 0x81, 0x90, 0x91, 0xA0, 0xA1)
POST_ACK, FORWARD, RETRIEVE_ACK, RETRIEVE_END, LOGOUT_ACK, MUST_LOGIN = (
    0xB0, 0xB1, 0xC0, 0xC1, 0x8F, 0xF0)
FILE_NOTE, FILE_ACK = 0xB2, 0x32
# Native FILE_RESPONSE statuses a PUT can get (docs/PROTOCOL.md).
OK, INVALID_NAME, ACCESS_DENIED, TOO_LARGE, UNAUTHORIZED = 0, 2, 5, 8, 11


def put(srv, token, name, data, size=None):
    """A native PUT of data as name with token (plain wire: no MAC).
    Returns the FILE_RESPONSE's (status, size)."""
    name = name.encode()
    head = struct.pack(">BBHQI", 1, 0x08, len(name), len(data) if size is None else size, token)
    with srv.connect() as s:
        s.sendall(head + name)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the content: the answer is waiting
        _, _, status, length = parse_response(recv_exact(s, 11))
    return status, length


class Client:
    """One UDP socket speaking the plain wire; seq counts its requests."""

    def __init__(self, addr, timeout=5):
        self.addr = addr
        self.sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET,
                                  socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.token, self.seq = 0, 0

    def send(self, op, payload=b"", msg_id=None, token=None):
        if isinstance(payload, str):
            payload = payload.encode()
        if msg_id is None:
            self.seq += 1
            msg_id = self.seq
        head = struct.pack(">BBBBII", 0x46, 0x52, op, len(payload),
                           self.token if token is None else token, msg_id)
        self.sock.sendto(head + payload, self.addr)
        return msg_id

    def recv(self):
        """(opcode, token, msg_id, payload) of the next datagram."""
        data, _ = self.sock.recvfrom(1024)
        op, length, token, msg_id = struct.unpack(">xxBBII", data[:12])
        assert data[:2] == b"FR" and len(data) == 12 + length, data
        return op, token, msg_id, data[12:]

    def ask(self, op, payload=b""):
        """Sends a request; returns its answer, checking the echoed seq."""
        seq = self.send(op, payload)
        answer = self.recv()
        assert answer[2] == seq or answer[0] == FORWARD, (answer, seq)
        return answer

    def login(self, user, password, nonce=0x1234):
        op, token, msg_id, _ = self.ask_login(user, password, nonce)
        assert op == LOGIN_OK, hex(op)
        self.token = token
        return token

    def ask_login(self, user, password, nonce=0x1234):
        self.send(LOGIN, f"{user}&{password}", msg_id=nonce, token=0)
        return self.recv()

    def silent(self, wait=0.3):
        """True when nothing arrives within wait (a negative check)."""
        self.sock.settimeout(wait)
        try:
            self.sock.recvfrom(1024)
            return False
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(5)

    def close(self):
        self.sock.close()


def admin(path, **req):
    """One JSON request on the admin socket; returns the decoded answer."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)


DB_NUMBERS = itertools.count()


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def hub_port(srv, host):
    """The port of srv's hub listener on host."""
    line = srv.wait_log(r"listening on hub=%s:\d+" % re.escape(host))
    return int(line.split("hub=")[1].rsplit(":", 1)[1].split()[0])


class Hub(FerryTest):

    def start(self, *args, mode="event", hubs=("127.0.0.1", "[::1]"), users=True):
        """A ferryd with a hub on the plain wire, which these tests speak
        in raw datagrams (the secure wire's are in test_hub_client), and
        the accounts alice, bob and carol unless users is false."""
        if "[::1]" in hubs and not have_ipv6():
            self.skipTest("no IPv6 on this host")
        self.db = self.hub_db(f"hub-{next(DB_NUMBERS)}.db")  # one per server
        srv = self.serve(mode, ("--workers", "1", "--hub-db", self.db, "--hub-wire", "plain",
                                *args),
                         listen=["native=127.0.0.1:0", *(f"hub={h}:0" for h in hubs)])
        self.port = hub_port(srv, hubs[0])
        self.port6 = hub_port(srv, "[::1]") if "[::1]" in hubs else None
        srv.wait_log(r"hub started: pid \d+ slot \d+")
        if users:
            self.add_users(srv)
        return srv

    def add_users(self, srv):
        for user in ("alice", "bob", "carol"):
            r = admin(srv.admin, cmd="hub-useradd", id=user, password=f"{user}-pw")
            self.assertTrue(r["ok"], r)

    def client(self, v6=False):
        c = Client(("::1", self.port6) if v6 else ("127.0.0.1", self.port))
        self.addCleanup(c.close)
        return c

    def test_accounts(self):
        srv = self.start()
        self.assertEqual(admin(srv.admin, cmd="hub-users")["users"], ["alice", "bob", "carol"])
        r = admin(srv.admin, cmd="hub-useradd", id="alice", password="x")
        self.assertEqual((r["ok"], r["error"]), (False, "exists"))
        r = admin(srv.admin, cmd="hub-useradd", id="bad id", password="x")
        self.assertEqual(r["error"], "bad_argument")
        self.assertTrue(admin(srv.admin, cmd="hub-userdel", id="carol")["ok"])
        self.assertEqual(admin(srv.admin, cmd="hub-userdel", id="carol")["error"],
                         "not_found")
        secret = "correct-horse-battery-staple"
        self.assertTrue(admin(srv.admin, cmd="hub-passwd", id="bob", password=secret)["ok"])
        b = self.client()
        self.assertEqual(b.ask_login("bob", "bob-pw")[0], LOGIN_FAILED)
        b.login("bob", secret)
        # The password is nowhere in the database, only its verifier.
        for path in (self.db, self.db + "-wal"):
            if os.path.exists(path):
                with open(path, "rb") as f:
                    self.assertNotIn(secret.encode(), f.read())

    def test_ferryctl_hub(self):
        """ferryctl hub useradd|passwd|userdel|users: the password twice on
        stdin when it is not a terminal."""
        srv = self.start(hubs=("127.0.0.1",))

        def ctl(*args, stdin=""):
            return subprocess.run([FERRYCTL, "-s", srv.admin, "hub", *args], input=stdin,
                                  capture_output=True, text=True, timeout=30)
        r = ctl("useradd", "dave", stdin="dave-pw\ndave-pw\n")
        self.assertEqual((r.returncode, r.stdout), (0, "hub: done for dave\n"), r.stderr)
        r = ctl("useradd", "erin", stdin="one\ntwo\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the two passwords differ", r.stderr)
        r = ctl("useradd", "dave", stdin="x\nx\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already", r.stderr)
        self.assertEqual(ctl("users").stdout, "alice\nbob\ncarol\ndave\n")
        d = self.client()
        d.login("dave", "dave-pw")
        self.assertEqual(ctl("userdel", "dave").returncode, 0)
        self.assertEqual(ctl("users").stdout, "alice\nbob\ncarol\n")
        r = ctl("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected useradd ID", r.stderr)

    def test_login_and_must_login_first(self):
        self.start()
        a = self.client()
        self.assertEqual(a.ask(SUBSCRIBE, "bob")[0], MUST_LOGIN)
        self.assertEqual(a.ask_login("alice", "wrong")[0], LOGIN_FAILED)
        self.assertEqual(a.ask_login("nobody", "x")[0], LOGIN_FAILED)
        token = a.login("alice", "alice-pw")
        self.assertNotEqual(token, 0)
        # The same login datagram again: the same token.
        self.assertEqual(a.ask_login("alice", "alice-pw")[1], token)
        self.assertEqual(a.ask(LOGOUT)[0], LOGOUT_ACK)
        self.assertEqual(a.ask(SUBSCRIBE, "bob")[0], MUST_LOGIN)

    def test_subscribe_post_forward_unsubscribe_retrieve(self):
        srv = self.start()
        a, b, c = self.client(), self.client(v6=True), self.client()
        a.login("alice", "alice-pw")
        b.login("bob", "bob-pw")
        c.login("carol", "carol-pw")
        self.assertEqual(a.ask(POST, "before anyone follows")[0], POST_ACK)
        self.assertTrue(b.silent())  # no feed before subscribing
        self.assertEqual(b.ask(SUBSCRIBE, "alice\n")[0], SUB_OK)  # the course's newline
        self.assertEqual(b.ask(SUBSCRIBE, "alice")[0], SUB_FAILED)  # twice
        self.assertEqual(b.ask(SUBSCRIBE, "bob")[0], SUB_FAILED)  # oneself
        self.assertEqual(b.ask(SUBSCRIBE, "carol")[0], SUB_OK)
        op, _, _, body = a.ask(POST, "hello followers")
        self.assertEqual(op, POST_ACK)
        post_id = int(body)
        op, token, msg_id, text = b.recv()
        self.assertEqual((op, msg_id, text), (FORWARD, post_id, b"<alice>hello followers"))
        b.send(FORWARD_ACK, msg_id=post_id)
        self.assertTrue(c.silent())  # carol follows nobody
        self.assertEqual(c.ask(POST, "carol speaks")[0], POST_ACK)
        op, _, carol_id, text = b.recv()
        self.assertEqual(text, b"<carol>carol speaks")
        b.send(FORWARD_ACK, msg_id=carol_id)
        # Retrieve: newest first, older than the subscription included.
        seq = b.send(RETRIEVE, "20")
        got = []
        while True:
            op, _, msg_id, text = b.recv()
            if op == RETRIEVE_END:
                self.assertEqual(msg_id, seq)
                break
            self.assertEqual(op, RETRIEVE_ACK)
            got.append(text)
        self.assertEqual(got, [b"<carol>carol speaks", b"<alice>hello followers",
                               b"<alice>before anyone follows"])
        seq = b.send(RETRIEVE, "1")
        self.assertEqual(b.recv()[3], b"<carol>carol speaks")
        self.assertEqual(b.recv()[0], RETRIEVE_END)
        # Unsubscribed: no more feed.
        self.assertEqual(b.ask(UNSUBSCRIBE, "alice")[0], UNSUB_OK)
        self.assertEqual(b.ask(UNSUBSCRIBE, "alice")[0], UNSUB_FAILED)
        self.assertEqual(a.ask(POST, "anyone?")[0], POST_ACK)
        self.assertTrue(b.silent())
        srv.wait_log(r"hub started")  # still the first hub: nothing crashed
        self.assertNotRegex(srv.log(), r"hub exited")

    def test_reset_from_the_client_and_the_timeout(self):
        srv = self.start("--hub-session-timeout", "2")
        a = self.client()
        a.login("alice", "alice-pw")
        a.send(RESET)
        self.assertEqual(a.ask(POST, "x")[0], MUST_LOGIN)
        srv.wait_log(r"hub: session of alice \(token [0-9a-f]{8}\) ended: reset by the client")
        a.login("alice", "alice-pw")
        # Silent for the timeout: the hub resets the session, not before
        # (half of it here: room for a pause between login and silent()).
        self.assertTrue(a.silent(1.0))
        op, token, _, _ = a.recv()
        self.assertEqual((op, token), (RESET, a.token))
        self.assertEqual(a.ask(POST, "x")[0], MUST_LOGIN)
        srv.wait_log(r"hub: session of alice .* ended: silent for the session timeout")

    def test_sigkill_of_the_hub_loses_nothing_acknowledged(self):
        """Posts one after another; the hub is SIGKILLed the moment the
        fifth ack arrives, while a sixth post is already on its way: every
        acknowledged post is retrievable from the new hub, along with the
        subscription made before, and nothing unacknowledged counts."""
        srv = self.start()
        a, c = self.client(), self.client()
        a.login("alice", "alice-pw")
        c.login("carol", "carol-pw")
        self.assertEqual(c.ask(SUBSCRIBE, "alice")[0], SUB_OK)
        hub = int(srv.wait_log(r"hub started: pid (\d+)").split("pid ")[1].split()[0])
        for i in range(5):
            seq = a.send(POST, f"post {i}")
            if i == 4:
                a.send(POST, "post 5, maybe lost")  # in flight as the hub dies
            while True:  # carol's forwards are not alice's business
                op, _, msg_id, _ = a.recv()
                if msg_id == seq:
                    break
            self.assertEqual(op, POST_ACK)
        os.kill(hub, signal.SIGKILL)
        srv.wait_log(rf"hub exited: pid {hub} slot \d+ killed by signal 9")
        srv.wait_log(r"hub started: pid (?!%d\b)\d+" % hub)
        b = self.client()
        b.login("bob", "bob-pw")
        # Its session died with the hub. (The new hub may first answer the
        # post that was in flight, from the socket's queue: skipped.)
        seq = a.send(POST, "after")
        while (answer := a.recv())[2] != seq:
            pass
        self.assertEqual(answer[0], MUST_LOGIN)
        self.assertEqual(b.ask(SUBSCRIBE, "alice")[0], SUB_OK)
        b.send(RETRIEVE, "10")
        texts = []
        while True:
            op, _, _, text = b.recv()
            if op == RETRIEVE_END:
                break
            texts.append(text)
        if texts and texts[0] == b"<alice>post 5, maybe lost":
            texts.pop(0)  # stored before the kill, its ack lost: allowed
        self.assertEqual(texts, [f"<alice>post {i}".encode() for i in range(4, -1, -1)])
        c2 = self.client()
        c2.login("carol", "carol-pw")
        self.assertEqual(c2.ask(SUBSCRIBE, "alice")[0], SUB_FAILED)  # still following
        self.assertEqual(len(children_of(srv.pid)), 2)  # the worker and the new hub

    def figures(self, srv, **want):
        """status's hub object once its figures read want: the hub
        publishes them as its loop goes to wait, after the datagrams that
        changed them, so a reader polls (bounded)."""
        return wait_until(lambda: (h := srv.admin_json("status")["hub"]) and all(
            h[k] == v for k, v in want.items()) and h, what=f"the hub's figures {want}")

    def test_figures_in_status_workers_and_metrics(self):
        """Two users online, a subscription, one post forwarded once and a
        garbage datagram: status, workers, ferryctl and /metrics show the
        hub's figures, and the pool's counts leave the hub out."""
        srv = self.start("--listen", "metrics=127.0.0.1:0", hubs=("127.0.0.1",))
        web = next((h, p) for proto, h, p in srv.listeners if proto == "metrics")
        a, b = self.client(), self.client()
        a.login("alice", "alice-pw")
        b.login("bob", "bob-pw")
        self.assertEqual(b.ask(SUBSCRIBE, "alice")[0], SUB_OK)
        op, _, _, body = a.ask(POST, "hello")
        self.assertEqual(op, POST_ACK)
        op, _, msg_id, _ = b.recv()
        self.assertEqual((op, msg_id), (FORWARD, int(body)))
        b.send(FORWARD_ACK, msg_id=msg_id)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
            junk.sendto(b"no hub datagram", ("127.0.0.1", self.port))
        hub = self.figures(srv, rejected=1)
        self.assertEqual((hub["sessions_online"], hub["posts"], hub["forwards"]), (2, 1, 1))
        self.assertEqual((hub["resets_sent"], hub["resets_received"]), (0, 0))
        self.assertEqual((hub["exits"], hub["crashes"], hub["state"]), (0, 0, "idle"))
        hub_pid = int(srv.wait_log(r"hub started: pid (\d+)").split("pid ")[1].split()[0])
        self.assertEqual(hub["pid"], hub_pid)
        st = srv.admin_json("status")
        self.assertEqual(st["pool"]["processes"], 1)  # --workers 1: the hub is no pool worker
        self.assertEqual(st["totals"]["worker_exits"], 0)
        rows = srv.admin_json("workers")["workers"]
        self.assertEqual(sorted(w["kind"] for w in rows), ["hub", "worker"])
        row = next(w for w in rows if w["kind"] == "hub")
        self.assertEqual((row["pid"], row["slot"]), (hub_pid, hub["slot"]))
        self.assertEqual((row["hub"]["sessions_online"], row["hub"]["posts"],
                          row["hub"]["forwards"], row["hub"]["rejected"]), (2, 1, 1, 1))
        status, _, text = http_get(*web, "/metrics")
        self.assertEqual(status, 200)
        m = Metrics(text.decode())
        self.assertEqual(m.types["ferry_hub_sessions_online"], "gauge")
        self.assertEqual(m.types["ferry_hub_posts_total"], "counter")
        self.assertEqual([m.get("ferry_hub_" + k) for k in (
            "sessions_online", "posts_total", "forwards_total", "rejected_total",
            "resets_sent_total", "crashes_total")], [2, 1, 1, 1, 0, 0])
        self.assertEqual(m.total("ferry_workers"), 1)
        self.assertEqual(len([k for k in m.samples if k[0] == "ferry_worker_connections"]), 1)
        r = srv.ctl("status")
        self.assertRegex(r.stdout, rf"\nhub +pid {hub_pid} idle  2 online  1 posts  1 forwards ")
        self.assertIn("\npool        1 processes: 1 idle\n", r.stdout)
        r = srv.ctl("--wide", "workers")
        self.assertRegex(r.stdout, rf"^SLOT +PID +GEN +KIND +STATE ")
        self.assertRegex(r.stdout, rf"\n +{hub['slot']} +{hub_pid} +1 hub +idle ")

    def test_figures_count_across_a_crash_of_the_hub(self):
        """SIGKILL of the hub: its posts stay counted, its sessions are
        gone, its exit is a hub crash, never a pool worker's."""
        srv = self.start(hubs=("127.0.0.1",))
        a = self.client()
        a.login("alice", "alice-pw")
        self.assertEqual(a.ask(POST, "kept")[0], POST_ACK)
        self.figures(srv, posts=1, sessions_online=1)
        hub = int(srv.wait_log(r"hub started: pid (\d+)").split("pid ")[1].split()[0])
        os.kill(hub, signal.SIGKILL)
        srv.wait_log(rf"hub exited: pid {hub} slot \d+ killed by signal 9")
        new = int(srv.wait_log(r"hub started: pid (?!%d\b)\d+" % hub).split("pid ")[1].split()[0])
        st = self.figures(srv, pid=new)
        self.assertEqual((st["posts"], st["sessions_online"], st["exits"], st["crashes"]),
                         (1, 0, 1, 1))
        totals = srv.admin_json("status")["totals"]
        self.assertEqual((totals["worker_exits"], totals["crashes"]), (0, 0))
        m = Metrics(srv.admin_json("metrics")["text"])
        self.assertEqual((m.get("ferry_hub_crashes_total"), m.get("ferry_worker_crashes_total"),
                          m.get("ferry_hub_posts_total")), (1, 0, 1))

    def test_every_mode_answers_from_the_address_written_to(self):
        """Two hub listeners of one family: a client connected to the second
        hears from the second (a reply from the first would be filtered out
        by its connected socket). In fork and prefork mode as in event."""
        for mode in ("fork", "prefork"):
            with self.subTest(mode=mode):
                srv = self.start(mode=mode, hubs=("127.0.0.1", "127.0.0.2"))
                c = Client(("127.0.0.2", hub_port(srv, "127.0.0.2")))
                self.addCleanup(c.close)
                c.sock.connect(c.addr)
                c.login("alice", "alice-pw")
                self.assertEqual(c.ask(SUBSCRIBE, "bob")[0], SUB_OK)
                srv.stop()
                self.servers.remove(srv)

    def test_nobody_binds_beside_the_hub(self):
        """No SO_REUSEADDR on the hub's sockets: another process cannot bind
        its port, even with SO_REUSEADDR, and take its datagrams."""
        self.start(hubs=("127.0.0.1",))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.assertRaises(OSError):
            s.bind(("127.0.0.1", self.port))

    def test_the_pool_leaves_the_hub_its_slot(self):
        srv = self.start("--max-children", "3", hubs=("127.0.0.1",))
        r = admin(srv.admin, cmd="resize", workers=3)
        self.assertEqual(r["error"], "out_of_range", r)
        self.assertIn("less the hub's slot", r["message"])
        self.assertTrue(admin(srv.admin, cmd="resize", workers=2)["ok"])

    def test_put_stores_and_announces_a_file(self):
        """A PUT by a live session: stored byte for byte, never under a
        temporary name; announced to a follower as a file notification
        (acked by 0x32), to a course follower as a forward, and kept as a
        post; another user may not replace it, its publisher may; a dead
        token, a hidden name and an oversized file are refused."""
        srv = self.start("--hub-max-upload", "64K", hubs=("127.0.0.1",))
        a, b, c = self.client(), self.client(), self.client()
        ta = a.login("alice", "alice-pw")
        tb = b.login("bob", "bob-pw")
        c.login("carol", "carol-pw", nonce=0)  # a course session
        self.assertEqual(b.ask(SUBSCRIBE, "alice")[0], SUB_OK)
        self.assertEqual(c.ask(SUBSCRIBE, "alice")[0], SUB_OK)
        data = os.urandom(40000)
        self.assertEqual(put(srv, ta, "report.bin", data), (OK, len(data)))
        path = os.path.join(self.root, "report.bin")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual([n for n in os.listdir(self.root) if n.startswith(".ferry-put")], [])
        digest = sha256_file(path)
        op, _, note_id, text = b.recv()
        self.assertEqual((op, text), (FILE_NOTE, f"<alice>report.bin {len(data)} {digest}".encode()))
        b.send(FILE_ACK, msg_id=note_id)
        op, _, fwd_id, text = c.recv()
        self.assertEqual((op, fwd_id, text),
                         (FORWARD, note_id, f"<alice>file report.bin {len(data)} {digest}".encode()))
        c.send(FORWARD_ACK, msg_id=fwd_id)
        seq = b.send(RETRIEVE, "1")
        self.assertEqual(b.recv()[3], f"<alice>file report.bin {len(data)} {digest}".encode())
        op, _, msg_id, _ = b.recv()
        self.assertEqual((op, msg_id), (RETRIEVE_END, seq))
        self.assertEqual(srv.fetch("report.bin"), data)  # served like any file
        # bob may not replace alice's file; alice may.
        self.assertEqual(put(srv, tb, "report.bin", b"bob's"), (ACCESS_DENIED, 0))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(put(srv, ta, "report.bin", b"v2"), (OK, 2))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"v2")
        self.assertEqual(b.recv()[0], FILE_NOTE)
        # An operator put another file there since: not alice's to replace.
        with open(path + ".new", "wb") as f:
            f.write(b"the operator's")
        os.replace(path + ".new", path)
        self.assertEqual(put(srv, ta, "report.bin", b"v3"), (ACCESS_DENIED, 0))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"the operator's")
        # Refusals: a dead token, a hidden name, too large.
        self.assertEqual(put(srv, 0x5EEDF00D, "x.txt", b"x"), (UNAUTHORIZED, 0))
        self.assertEqual(put(srv, ta, ".env", b"x")[0], INVALID_NAME)
        self.assertEqual(put(srv, ta, "big.bin", b"", size=65537)[0], TOO_LARGE)
        for name in ("x.txt", ".env", "big.bin"):
            self.assertFalse(os.path.exists(os.path.join(self.root, name)), name)
        self.assertEqual([n for n in os.listdir(self.root) if n.startswith(".ferry-put")], [])
        srv.wait_log(r"hub: alice uploaded report.bin \(40000 bytes\), announced as post \d+")

    def test_passwd_and_userdel_end_the_live_session(self):
        """A session opened with the old password does not outlive a
        passwd, nor a session its account: the hub resets it at once."""
        srv = self.start(hubs=("127.0.0.1",))
        a, b = self.client(), self.client()
        a.login("alice", "alice-pw")
        b.login("bob", "bob-pw")
        self.assertTrue(admin(srv.admin, cmd="hub-passwd", id="alice", password="new-pw")["ok"])
        op, token, _, _ = a.recv()
        self.assertEqual((op, token), (RESET, a.token))
        srv.wait_log(r"hub: session of alice \(token [0-9a-f]{8}\) ended: its account was "
                     r"removed or its password changed")
        self.assertEqual(a.ask(POST, "x")[0], MUST_LOGIN)
        self.assertEqual(a.ask_login("alice", "alice-pw")[0], LOGIN_FAILED)
        a.login("alice", "new-pw")
        self.assertTrue(admin(srv.admin, cmd="hub-userdel", id="bob")["ok"])
        self.assertEqual(b.recv()[0], RESET)
        self.assertEqual(a.ask(POST, "still here")[0], POST_ACK)  # alice untouched

    def test_a_new_source_address_moves_the_session(self):
        """NAT rebinding: a datagram with bob's token from another socket
        moves his session there; his forwards follow it."""
        self.start(hubs=("127.0.0.1",))
        a, b = self.client(), self.client()
        a.login("alice", "alice-pw")
        b.login("bob", "bob-pw")
        self.assertEqual(b.ask(SUBSCRIBE, "alice")[0], SUB_OK)
        moved = self.client()
        moved.token, moved.seq = b.token, b.seq
        self.assertEqual(moved.ask(SUBSCRIBE, "carol")[0], SUB_OK)  # from the new address
        self.assertEqual(a.ask(POST, "where are you")[0], POST_ACK)
        op, _, msg_id, text = moved.recv()
        self.assertEqual((op, text), (FORWARD, b"<alice>where are you"))
        moved.send(FORWARD_ACK, msg_id=msg_id)
        self.assertTrue(b.silent())  # the old address hears nothing more

    def test_hup_rolls_the_workers_and_leaves_the_hub(self):
        """A HUP replaces every worker one at a time; the hub's process, its
        sessions and their tokens stay."""
        srv = self.start(hubs=("127.0.0.1",))
        hub = int(re.search(r"hub started: pid (\d+)", srv.log()).group(1))
        worker = int(re.search(r"worker started: pid (\d+)", srv.log()).group(1))
        a = self.client()
        a.login("alice", "alice-pw")
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_log(r"rolling restart done: 1 worker\(s\) replaced")
        self.assertNotIn(worker, children_of(srv.pid))
        self.assertEqual(a.ask(POST, "still here")[0], POST_ACK)  # same session
        self.assertNotRegex(srv.log(), r"hub exited")
        self.assertIn(hub, children_of(srv.pid))

    def test_a_hub_dying_young_is_restarted_with_back_off(self):
        """Killed right after it started, twice, the hub is started again
        after a back-off that doubles; its figures keep counting."""
        # No accounts yet: each takes an Argon2id hash and an fsync on the
        # master's loop, and under ASan three of them could outlast the
        # second within which a death counts as young.
        srv = self.start(hubs=("127.0.0.1",), users=False)
        for n in (1, 2):
            hub = int(re.findall(r"hub started: pid (\d+)", srv.log())[-1])
            os.kill(hub, signal.SIGKILL)
            srv.wait_log(rf"hub exited: pid {hub} slot \d+ killed by signal 9")
            line = srv.wait_log(rf"hub died \d+ ms after start \({n} in a row\): next start in "
                                r"\d+ ms")
            delay = int(line.rsplit("in ", 1)[1].split()[0])
            self.assertEqual(delay, 100 << (n - 1), line)
            srv.wait_log(r"hub started: pid (?!%d\b)\d+" % hub)
        self.add_users(srv)
        a = self.client()
        a.login("alice", "alice-pw")  # the third hub serves

    def test_a_worker_killed_mid_upload_leaves_nothing(self):
        """The temporary file of an upload whose worker was SIGKILLed is
        removed once it is older than a live upload can be, and the next
        upload works."""
        srv = self.start("--io-timeout", "1", hubs=("127.0.0.1",))
        a = self.client()
        ta = a.login("alice", "alice-pw")
        head = struct.pack(">BBHQI", 1, 0x08, len(b"cut.bin"), 1000, ta) + b"cut.bin"
        s = srv.connect()
        self.addCleanup(s.close)
        s.sendall(head + b"x" * 10)
        temps = lambda: [n for n in os.listdir(self.root) if n.startswith(".ferry-put-")]
        wait_until(lambda: temps(), what="the upload's temporary file")
        worker = int(re.search(r"worker started: pid (\d+)", srv.log()).group(1))
        os.kill(worker, signal.SIGKILL)
        srv.wait_log(r"removed 1 temporary file of uploads cut by a worker's death", timeout=20)
        self.assertEqual(temps(), [])
        self.assertFalse(os.path.exists(os.path.join(self.root, "cut.bin")))
        self.assertEqual(put(srv, ta, "next.bin", b"after"), (OK, 5))

    def test_a_graceful_stop_lets_an_upload_finish(self):
        """SIGTERM while a PUT's content is still coming: the worker
        finishes it, and the hub, stopped only once the workers are gone,
        still answers it (OK, the file in place); then ferryd exits 0."""
        srv = self.start(hubs=("127.0.0.1",))
        a = self.client()
        ta = a.login("alice", "alice-pw")
        data = os.urandom(50000)
        s = srv.connect()
        self.addCleanup(s.close)
        s.sendall(struct.pack(">BBHQI", 1, 0x08, 8, len(data), ta) + b"late.bin" + data[:1000])
        wait_until(lambda: any(n.startswith(".ferry-put-") for n in os.listdir(self.root)),
                   what="the upload under way")
        mark = srv.mark()
        os.kill(srv.pid, signal.SIGTERM)
        srv.wait_log(r"stopping gracefully", start=mark)
        s.sendall(data[1000:])
        self.assertEqual(parse_response(recv_exact(s, 11))[2:], (OK, len(data)))
        with open(os.path.join(self.root, "late.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(srv.wait_exit(timeout=30), 0)
        log = srv.log()
        self.assertLess(log.rindex("worker exited"), log.index("hub exited"), log)

    def test_configuration_refusals(self):
        r = subprocess.run([FERRYD, "--listen", "native=127.0.0.1:0", "--hub-db", "x", self.root],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--hub-db without a hub", r.stderr)
        cases = [
            (["--mode", "iterative", "--hub-db", "x"], "the iterative mode does not have"),
            ([], "--hub-db PATH"),
            (["--hub-db", "x", "--hub-wire", "plain", "--listen", "hub=0.0.0.0:0"],
             "loopback only"),
            (["--hub-db", "x", "--hub-wire", "clear"], "--hub-wire clear: secure or plain"),
            (["--hub-db", "x", "--mode", "fork", "--max-children", "1"], "no slot for a worker"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                r = subprocess.run([FERRYD, "--listen", "native=127.0.0.1:0", "--listen",
                                    "hub=127.0.0.1:0", *args, self.root],
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)


if __name__ == "__main__":
    unittest.main()
