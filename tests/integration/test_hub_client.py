"""`ferry hub`, the hub's client, against the real ferryd on the plain wire,
as the course grades it: three clients in pipes (a publisher, a subscriber
and a bystander), each fed lines on stdin and read line by line on stdout.
Login and must-login-first; logout and its errors; subscribe and post (no
feed before, the feed after); unsubscribe and post; retrieve 1 and 20 in
order across publishers; a reset caused by the client (reset#) and by the
server (junk#, spurious#); the session timeout; a script that pipes more
lines than the client queues. Then every case again through hubrelay.py
at 20 % drop, duplication and reordering both ways, with the same exact
outputs. Last, bad datagrams against the hub over raw UDP.

No sleep synchronises anything: every read of a client's stdout waits on
the pipe (select) with a deadline, and every wait on ferryd on its log.
state# is the barrier of a script: it is answered in its turn, after the
answer to every line before it."""

import itertools
import os
import random
import re
import select
import socket
import struct
import subprocess
import threading
import time
import unittest

from ferrytest import FERRY, FerryTest
from hubrelay import Relay
from test_hub import Client as RawClient, admin, have_ipv6, hub_port

USERS = ("alice", "bob", "carol")
# A line comes within this, or ferry has given up on the hub (23.5 s), or
# something is wrong.
LINE_TIMEOUT = 25.0
LOSS = {"drop": 0.2, "dup": 0.2, "reorder": 0.2}

KEEPALIVE, RETRIEVE, POST, KEEPALIVE_ACK, POST_ACK, RETRIEVE_END, MUST_LOGIN = (
    0x0E, 0x40, 0x30, 0x8E, 0xB0, 0xC1, 0xF0)

DB_NUMBERS = itertools.count()

# The one slow case, a hub that never answers (ferry gives up after 8
# sends, 23.5 s), runs beside the others: setUpModule() starts it and
# HubUnreachable, the last class by name, reads its end.
UNREACHABLE = {}


def setUpModule():
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 0))  # takes datagrams, answers none
    proc = subprocess.Popen([FERRY, "hub", "127.0.0.1", str(hole.getsockname()[1])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(b"login#alice&alice-pw\nsubscribe#bob\n")
    proc.stdin.close()
    UNREACHABLE.update(hole=hole, proc=proc, started=time.monotonic())


def tearDownModule():
    proc = UNREACHABLE.pop("proc", None)
    if proc is not None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    if "hole" in UNREACHABLE:
        UNREACHABLE.pop("hole").close()


class HubClient:
    """One `ferry hub` in pipes: lines in, lines out, reads bounded."""

    def __init__(self, test, target, *opts, name="client"):
        host, port = target
        self.test, self.name = test, name
        self.proc = subprocess.Popen([FERRY, "hub", *opts, host, str(port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out = b""
        self.err = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read_err, daemon=True)
        self.reader.start()
        test.addCleanup(self.kill)

    def _read_err(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.err.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()

    def wait_err(self, pattern):
        """The first stderr line that matches pattern, as it comes (bounded)."""
        rx, deadline = re.compile(pattern), time.monotonic() + LINE_TIMEOUT
        with self.cond:
            while not (hits := [line for line in self.err if rx.search(line)]):
                left = deadline - time.monotonic()
                if left <= 0:
                    self.test.fail(f"{self.name}: no stderr line /{pattern}/: {self.err}")
                self.cond.wait(left)
            return hits[0]

    def token(self):
        """The token of this client's session (it runs with -v)."""
        return self.wait_err(r"^< LOGIN_ACK_OK token ([0-9a-f]{8})").split()[3]

    def send(self, *lines):
        self.proc.stdin.write("".join(line + "\n" for line in lines).encode())
        self.proc.stdin.flush()

    def _line(self, deadline):
        """The next line of stdout, or None at its end; fails past deadline."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                self.test.fail(f"{self.name}: no line within {LINE_TIMEOUT} s (stdout so far "
                               f"{self.out!r}; stderr {self.err})")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    if self.out:
                        break
                    return None
                self.out += chunk
        line, _, self.out = self.out.partition(b"\n")
        return line.decode()

    def expect(self, *lines):
        """The next lines of stdout are these, exactly, in this order."""
        got = []
        for want in lines:
            got.append(self._line(time.monotonic() + LINE_TIMEOUT))
            if got[-1] != want:
                break
        self.test.assertEqual(got, list(lines[:len(got)]), f"{self.name}: stderr {self.err}")

    def warnings(self):
        """What ferry said on stderr, "ferry: hub: " taken off (after finish())."""
        return [line.removeprefix("ferry: hub: ") for line in self.err]

    def finish(self):
        """Ends stdin and checks that ferry exits 0 with nothing more to say."""
        self.proc.stdin.close()
        rest, deadline = [], time.monotonic() + LINE_TIMEOUT
        while (line := self._line(deadline)) is not None:
            rest.append(line)
        rc = self.proc.wait(timeout=LINE_TIMEOUT)
        self.reader.join(timeout=5)
        self.test.assertEqual((rc, rest), (0, []), f"{self.name}: stderr {self.err}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if not f.closed:
                f.close()


class HubClientCase(FerryTest):
    """A ferryd with a plain-wire hub (test hooks on) and the three users;
    RELAY, when set, puts hubrelay.py with these rates between the clients
    and the hub."""
    RELAY = None

    def start(self, *args, v6=False, retrieve=False):
        if v6 and not have_ipv6():
            self.skipTest("no IPv6 on this host")
        hubs = ["127.0.0.1", *(["[::1]"] if v6 else [])]
        db = os.path.join(self.tmp, f"hub-{next(DB_NUMBERS)}.db")
        self.srv = self.serve("event", ("--workers", "1", "--hub-db", db, "--hub-wire", "plain",
                                        "--hub-test-hooks", *args),
                              listen=["native=127.0.0.1:0", *(f"hub={h}:0" for h in hubs)])
        self.port = hub_port(self.srv, "127.0.0.1")
        self.port6 = hub_port(self.srv, "[::1]") if v6 else None
        self.srv.wait_log(r"hub started: pid \d+ slot \d+")
        for user in USERS:
            r = admin(self.srv.admin, cmd="hub-useradd", id=user, password=f"{user}-pw")
            self.assertTrue(r["ok"], r)
        self.target = ("127.0.0.1", self.port)
        self.relay = None
        if self.RELAY is not None:
            down = self.retrieve_down() if retrieve else None
            self.relay = Relay(self.target, **self.RELAY, down=down, lifetime=120).start()
            self.addCleanup(self.relay.stop)
            self.target = self.relay.addr
        return self.srv

    def client(self, name, *opts, v6=False):
        return HubClient(self, ("::1", self.port6) if v6 else self.target, *opts, name=name)

    def login(self, *clients):
        """Logs each client in as its name, all at once."""
        for c in clients:
            c.send(f"login#{c.name}&{c.name}-pw")
        for c in clients:
            c.expect("login_ack#successful")

    def finish(self, *clients):
        for c in clients:
            c.finish()

    def wait_log_direct(self, pattern):
        """Waits for a hub log line, without the relay only: through it the
        datagram the line is about may be lost (the client's output says
        what the client saw either way)."""
        if self.relay is None:
            self.srv.wait_log(pattern)

    def retrieve_down(self):
        """The relay's hub-to-client rates for a retrieve. A retrieve's
        answer is several datagrams and its end (0xC1) says nothing of how
        many, so a client cannot tell a line lost or held back behind the
        end from one that never was: until the hub's 0xC1 names its count
        (ferry hub waits for that many lines, asking again, once it does),
        the hub's answers are only duplicated here, not dropped or
        reordered; the client's requests still are."""
        c = RawClient(("127.0.0.1", self.port))
        self.addCleanup(c.close)
        c.login("carol", "carol-pw", nonce=0x7E57)
        c.send(RETRIEVE, "0")
        op, _, _, payload = c.recv()
        self.assertEqual(op, RETRIEVE_END)
        c.send(0x1F)  # logout: carol logs in again as a client
        self.assertEqual(c.recv()[0], 0x8F)
        return None if payload.isdigit() else {"drop": 0.0, "reorder": 0.0}


class Cases:
    """The course's cases; each runs directly and through the relay."""

    def test_login_and_must_login_first(self):
        self.start()
        a, b = self.client("alice"), self.client("bob")
        a.send("post#too early", "subscribe#bob", "login#alice&wrong", "login#nobody&x",
               "login#alice&alice-pw", "state#")
        a.expect("error#must_login_first", "error#must_login_first", "login_ack#failed",
                 "login_ack#failed", "login_ack#successful", "ONLINE")
        b.send("login#bob&bob-pw", "state#")
        b.expect("login_ack#successful", "ONLINE")
        self.finish(a, b)

    def test_logout_and_its_errors(self):
        self.start()
        a = self.client("alice")
        a.send("logout#", "login#alice&alice-pw", "logout#", "logout#", "post#after logout",
               "state#", "login#alice&alice-pw", "post#back again", "state#")
        a.expect("error#must_login_first", "login_ack#successful", "logout_ack#successful",
                 "error#must_login_first", "error#must_login_first", "OFFLINE",
                 "login_ack#successful", "post_ack#successful", "ONLINE")
        self.finish(a)

    def test_subscribe_and_post(self):
        v6 = self.RELAY is None and have_ipv6()  # the subscriber over IPv6 when it can
        self.start(v6=v6)
        pub, sub, by = self.client("alice"), self.client("bob", v6=v6), self.client("carol")
        self.login(pub, sub, by)
        pub.send("post#before anyone follows")
        pub.expect("post_ack#successful")
        # No feed before: the subscribe's ack is bob's next line.
        sub.send("subscribe#alice", "subscribe#alice", "subscribe#bob", "subscribe#nobody",
                 "state#")
        sub.expect("subscribe_ack#successful", "subscribe_ack#failed", "subscribe_ack#failed",
                   "subscribe_ack#failed", "ONLINE")
        pub.send("post#hello followers")
        pub.expect("post_ack#successful")
        sub.expect("<alice>hello followers")
        # One more round trip, so that a copy of the forward has had its
        # chance to show: it is acked again, never printed again.
        sub.send("subscribe#alice")
        sub.expect("subscribe_ack#failed")
        by.send("state#")
        by.expect("ONLINE")
        self.finish(pub, sub, by)

    def test_unsubscribe_and_post(self):
        self.start()
        pub, sub, by = self.client("alice"), self.client("bob"), self.client("carol")
        self.login(pub, sub, by)
        sub.send("subscribe#alice")
        sub.expect("subscribe_ack#successful")
        sub.send("unsubscribe#alice", "unsubscribe#alice", "unsubscribe#carol", "state#")
        sub.expect("unsubscribe_ack#successful", "unsubscribe_ack#failed",
                   "unsubscribe_ack#failed", "ONLINE")
        pub.send("post#nobody follows now")
        pub.expect("post_ack#successful")
        sub.send("subscribe#carol")  # a round trip after the post: still no feed
        sub.expect("subscribe_ack#successful")
        self.finish(pub, sub, by)

    def test_retrieve_in_order_across_publishers(self):
        self.start(retrieve=True)
        alice, bob, carol = self.client("alice"), self.client("bob"), self.client("carol")
        self.login(alice, bob, carol)
        alice.send("post#a1", "post#a2")
        alice.expect("post_ack#successful", "post_ack#successful")
        carol.send("post#c1")
        carol.expect("post_ack#successful")
        bob.send("post#bob's own")
        bob.expect("post_ack#successful")
        alice.send("post#a3")
        alice.expect("post_ack#successful")
        carol.send("post#c2")
        carol.expect("post_ack#successful")
        # Posts older than the subscriptions included, newest first, never
        # bob's own; state# marks the end of the retrieve.
        bob.send("subscribe#alice", "subscribe#carol", "retrieve#1", "state#", "retrieve#20",
                 "state#")
        bob.expect("subscribe_ack#successful", "subscribe_ack#successful", "<carol>c2",
                   "ONLINE", "<carol>c2", "<alice>a3", "<carol>c1", "<alice>a2", "<alice>a1",
                   "ONLINE")
        self.finish(alice, bob, carol)

    def test_reset_caused_by_the_client(self):
        self.start()
        a = self.client("alice")
        self.login(a)
        a.send("reset#", "state#", "post#after the reset")
        a.expect("session#reset_by_client", "OFFLINE", "error#must_login_first")
        self.wait_log_direct(r"hub: session of alice \(token [0-9a-f]{8}\) ended: "
                             r"reset by the client")
        a.send("reset#")  # no session: refused on stderr, nothing sent
        a.send("login#alice&alice-pw", "post#again")
        a.expect("login_ack#successful", "post_ack#successful")
        self.finish(a)
        self.assertEqual(a.warnings(), ["reset#: no session (login# first); not sent"])

    def test_reset_caused_by_the_server_junk(self):
        """junk#: a forward ack for a msg_id never forwarded; the hub
        resets the session."""
        self.start()
        a = self.client("alice")
        self.login(a)
        a.send("junk#", "state#", "post#after the reset")
        a.expect("session#reset_by_server", "OFFLINE", "error#must_login_first")
        self.wait_log_direct(r"hub: session of alice .* ended: out of order")
        self.finish(a)

    def test_reset_caused_by_the_server_spurious(self):
        """spurious#: the hub (--hub-test-hooks) answers a spurious post
        ack; the client, outside its state machine, resets the session."""
        self.start()
        a = self.client("alice")
        self.login(a)
        a.send("spurious#", "state#", "post#after the reset")
        a.expect("error#unexpected_message", "session#reset_by_client", "OFFLINE",
                 "error#must_login_first")
        self.wait_log_direct(r"hub: session of alice .* ended: reset by the client")
        self.finish(a)
        self.assertEqual(len(a.warnings()), 1, a.err)
        self.assertRegex(a.warnings()[0], r"^POST_ACK \(0xb0, msg_id 0\) is outside the state "
                         r"machine in state ONLINE: session reset$")

    def test_session_timeout(self):
        """A client that keeps quiet past --hub-session-timeout loses its
        session; one whose keepalives are shorter keeps it."""
        self.start("--hub-session-timeout", "1")
        quiet = self.client("alice", "-v", "--hub-keepalive", "1h")
        chatty = self.client("bob", "-v", "--hub-keepalive", "200ms")
        self.login(quiet, chatty)
        # By its token: a login sent again across the timeout may have
        # outlived a first session of the same user.
        self.srv.wait_log(rf"hub: session of alice \(token {quiet.token()}\) ended: silent for "
                          r"the session timeout")
        # Its reset came (through the relay, perhaps not): the same lines.
        quiet.send("post#too late", "state#")
        quiet.expect("session#reset_by_server", "error#must_login_first", "OFFLINE")
        chatty.send("post#still here")
        chatty.expect("post_ack#successful")
        self.assertNotRegex(self.srv.log(), rf"session of bob \(token {chatty.token()}\)")
        self.finish(quiet, chatty)

    def test_a_script_pipes_more_lines_than_the_queue(self):
        """Lines beyond the client's queue (64) wait in the pipe; at the
        end of stdin every one is answered before ferry exits 0."""
        n = 100 if self.RELAY is None else 8
        self.start()
        pub, sub = self.client("alice"), self.client("bob")
        self.login(pub, sub)
        sub.send("subscribe#alice")
        sub.expect("subscribe_ack#successful")
        pub.send(*(f"post#line {i}" for i in range(n)))
        pub.expect(*["post_ack#successful"] * n)
        feed = [sub._line(time.monotonic() + LINE_TIMEOUT) for _ in range(n)]
        want = [f"<alice>line {i}" for i in range(n)]
        if self.RELAY is None:  # the hub forwards in order
            self.assertEqual(feed, want)
        else:  # the relay may reorder them; nothing is lost or repeated
            self.assertCountEqual(feed, want)
        self.finish(pub, sub)


class HubClientDirect(Cases, HubClientCase):
    """The cases, the clients straight to the hub."""

    def test_usage(self):
        for args, message in (
                (["--hub-wire", "secure", "::1", "1"], "ferry: --hub-wire secure is not built "
                 "yet (issue 10): use --hub-wire plain against a hub on the plain wire"),
                (["--hub-keepalive", "0", "::1", "1"], "ferry: --hub-keepalive '0' is not a "
                 "positive duration (e.g. 20, 500ms, 1m)"),
                (["-t", "5", "::1", "1"], "ferry: option '--timeout' does not apply to 'hub'"),
                (["h"], "ferry: expected HOST PORT, got 1 argument")):
            with self.subTest(args=args):
                r = subprocess.run([FERRY, "hub", *args], capture_output=True, text=True,
                                   stdin=subprocess.DEVNULL, timeout=10)
                self.assertEqual((r.returncode, r.stdout), (2, ""))
                self.assertEqual(r.stderr.splitlines()[0], message)
        r = subprocess.run([FERRY, "hub", "no-such-host.invalid", "1"], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_lines_refused_on_stderr(self):
        """A line that is no command, or a bad argument, is refused on
        stderr in its turn; stdout and the state do not change."""
        self.start()
        a = self.client("alice")
        a.send("hello", "login#alice", "login#bad id&x", "subscribe#", "retrieve#ten",
               "logout#now", "postfile#/etc/hosts", "post#" + "x" * 256, "junk#", "state#",
               "login#alice&alice-pw", "login#alice&alice-pw", "post#" + "y" * 201, "state#")
        a.expect("OFFLINE", "login_ack#successful", "error#post longer than 200 bytes",
                 "ONLINE")
        self.finish(a)
        self.assertEqual(a.warnings(), [
            "'hello' is not a command (login#ID&PASSWORD, subscribe#ID, unsubscribe#ID, "
            "post#TEXT, retrieve#N, logout#, state#, reset#, junk#, spurious#); not sent",
            "login# wants ID&PASSWORD; not sent",
            "login#: 'bad id' is not a user id ([A-Za-z0-9_], 1 to 32); not sent",
            "subscribe#: '' is not a user id ([A-Za-z0-9_], 1 to 32); not sent",
            "retrieve# wants a count (retrieve#10); not sent",
            "logout# takes nothing after the '#'; not sent",
            "postfile# is not supported yet (file announcements are still to come, issue 10)"
            "; not sent",
            "post#: a post is at most 200 bytes, this one 256; not sent",
            "junk#: no session (login# first); not sent",
            "login#: logged in as alice already (logout# first); not sent"])


class HubClientLossy(Cases, HubClientCase):
    """The cases again through hubrelay.py: 20 % of the datagrams dropped,
    20 % duplicated, 20 % held back so that later ones pass them, both
    ways; the outputs stay exactly the same."""
    RELAY = LOSS


class HubBadDatagrams(HubClientCase):
    """What a hub does with datagrams no client should send: each gets its
    right answer or none, and the hub goes on serving. Silence is shown
    without waiting: the hub takes one socket's datagrams in order, so
    when the answer to a keepalive sent after them is the next datagram,
    none of them was answered."""

    def raw(self):
        c = RawClient(("127.0.0.1", self.port))
        self.addCleanup(c.close)
        return c

    def assert_silent_then_alive(self, c):
        msg_id = c.send(KEEPALIVE)
        self.assertEqual(c.recv()[0::2], (KEEPALIVE_ACK, msg_id))

    def test_bad_datagrams(self):
        self.start()
        c = self.raw()
        self.assertEqual(c.ask_login("alice", "wrong")[0], 0x81)  # wrong password
        token = c.login("alice", "alice-pw")
        # A forged token: must-login-first, and the real session is untouched.
        c.send(POST, "forged", token=token ^ 0x5A5A5A5A)
        self.assertEqual(c.recv()[0:2], (MUST_LOGIN, token ^ 0x5A5A5A5A))
        # A replayed datagram: the same answer, applied once.
        seq = c.seq + 1
        post = struct.pack(">BBBBII", 0x46, 0x52, POST, 6, token, seq) + b"replay"
        c.sock.sendto(post, c.addr)
        first = c.recv()
        c.sock.sendto(post, c.addr)
        self.assertEqual(c.recv(), first)
        self.assertEqual(first[0], POST_ACK)
        c.seq = seq
        # An older request replayed after a newer one: dropped unanswered.
        c.ask(POST, "newer")
        c.sock.sendto(post, c.addr)
        self.assert_silent_then_alive(c)
        # Malformed: short, truncated, oversized, a secure envelope on the
        # plain wire, wrong magic, random bytes.
        head = struct.pack(">BBBBII", 0x46, 0x52, POST, 255, token, c.seq + 1)
        rng = random.Random(10)
        bad = [b"", b"FR", head[:11], head + b"x" * 100, head + b"x" * 256,
               head + b"x" * (255 + 24), head + b"x" * 2000, b"GR" + head[2:] + b"x" * 255,
               *(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
                 for _ in range(50))]
        for d in bad:
            c.sock.sendto(d, c.addr)
        self.assert_silent_then_alive(c)
        # The replayed post was stored once.
        b = self.raw()
        b.login("bob", "bob-pw", nonce=0xB0B)
        self.assertEqual(b.ask(0x20, "alice")[0], 0x90)
        b.send(RETRIEVE, "10")
        texts = []
        while (m := b.recv())[0] != RETRIEVE_END:
            texts.append(m[3])
        self.assertEqual(texts, [b"<alice>newer", b"<alice>replay"])
        self.assertNotRegex(self.srv.log(), r"hub exited")


class HubUnreachable(unittest.TestCase):
    """A hub that never answers: the login is sent 8 times, the same
    datagram, over 19.5 s; 4 s later ferry prints error#hub_unreachable,
    and since stdin has ended with a line still waiting, it gives that
    line up unsent and exits 5."""

    def test_a_hub_that_never_answers(self):
        proc, hole = UNREACHABLE["proc"], UNREACHABLE["hole"]
        proc.wait(timeout=LINE_TIMEOUT + 10)  # its few lines fit the pipes
        took = time.monotonic() - UNREACHABLE["started"]
        out, err = proc.stdout.read(), proc.stderr.read()
        self.assertEqual((proc.returncode, out), (5, b"error#hub_unreachable\n"), err)
        self.assertEqual(err.decode(), "ferry: hub: the hub does not answer; 1 line of stdin "
                         "not sent\n")
        self.assertGreater(took, 23.0)
        hole.setblocking(False)
        sent = []
        while True:
            try:
                sent.append(hole.recv(512))
            except BlockingIOError:
                break
        self.assertEqual(len(sent), 8)  # and never the subscribe
        self.assertEqual(len(set(sent)), 1, sent)  # the same login, nonce and all
        self.assertEqual(sent[0][2], 0x10)


if __name__ == "__main__":
    unittest.main()
