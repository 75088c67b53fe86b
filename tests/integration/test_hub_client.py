"""`ferry hub`, the hub's client, against the real ferryd, as the course
grades it: three clients in pipes (a publisher, a subscriber and a
bystander), each fed lines on stdin and read line by line on stdout.
Login and must-login-first; logout and its errors; subscribe and post (no
feed before, the feed after); unsubscribe and post; retrieve 1 and 20 in
order across publishers; a reset caused by the client (reset#) and by the
server (junk#, spurious#); the session timeout; a script that pipes more
lines than the client queues. Each case runs on both wires: the secure
one, the default (ferryd without --hub-wire, the password on the line
after login#ID), and the plain one; and every case again through
hubrelay.py at 20 % drop, duplication and reordering both ways, with the
same exact outputs. Then what only the secure wire has: the hub's key
pinned on first use and a wrong one refused before the proof, the
password from the next line of a pipe and at a terminal's prompt (a
pty), without echo, a replayed sealed datagram
dropped (and counted by the hub); files on both wires: postfile# and
--auto-fetch end to end, a name taken by another user, a digest that
does not match. Last, bad datagrams against the hub over raw UDP.

The lossy cases run side by side (SideBySide, at most PARALLEL at once,
each with its own ferryd, relay and clients): they wait on back-off
timers, not on the CPU, and one after the other they would take most of
two minutes.

No sleep synchronises anything: every read of a client's stdout waits on
the pipe (select) with a deadline, and every wait on ferryd on its log.
state# is the barrier of a script: it is answered in its turn, after the
answer to every line before it. Nothing is written under $HOME: every
client is given --known-hubs (or --hub-key, or XDG_CONFIG_HOME) inside the
test's directory."""

import concurrent.futures
import hashlib
import itertools
import os
import pty
import random
import re
import select
import socket
import struct
import subprocess
import termios
import threading
import time
import unittest

from ferrytest import FERRY, FerryTest, wait_until
from hubrelay import Relay
from test_hub import Client as RawClient, admin, have_ipv6, hub_port

USERS = ("alice", "bob", "carol")
# A line comes within this, or ferry has given up on the hub (23.5 s), or
# something is wrong.
LINE_TIMEOUT = 25.0
# drop_run: never more than 3 drops in a row, so that a case fails for a bug and
# never for 8 drops in a row of one request (hubrelay.py).
LOSS = {"drop": 0.2, "dup": 0.2, "reorder": 0.2, "drop_run": 3}
PARALLEL = 10  # lossy cases at once

KEEPALIVE, RETRIEVE, POST, KEEPALIVE_ACK, POST_ACK, RETRIEVE_END, MUST_LOGIN = (
    0x0E, 0x40, 0x30, 0x8E, 0xB0, 0xC1, 0xF0)
SUBSCRIBE_OK, FILE_NOTE = 0x90, 0xB2
PIN_NOTE = re.compile(r"^\S+ is new: its key ed25519:[0-9a-f]{64} is pinned now in ")
ENVELOPE = 24  # a sealed datagram's u64 seq and tag, after the payload
NO_KEY = "00" * 32  # a --hub-key no hub has: the unreachable client never reads known_hubs


def sealed(data, op=None):
    """Whether data is a sealed datagram (of opcode op)."""
    return (len(data) == 12 + data[3] + ENVELOPE and data[:2] == b"FR"
            and (op is None or data[2] == op))

DB_NUMBERS = itertools.count()

# The one slow case, a hub that never answers (ferry gives up after 8
# sends, 23.5 s), runs beside the others: setUpModule() starts it and
# HubUnreachable, the last class by name, reads its end.
UNREACHABLE = {}


def setUpModule():
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 0))  # takes datagrams, answers none
    proc = subprocess.Popen([FERRY, "hub", "--hub-key", NO_KEY, "127.0.0.1",
                             str(hole.getsockname()[1])],
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

    def __init__(self, test, target, *opts, name="client", env=None):
        host, port = target
        self.test, self.name = test, name
        self.proc = subprocess.Popen([FERRY, "hub", *opts, host, str(port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
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

    def warnings(self, pins=False):
        """What ferry said on stderr, "ferry: hub: " taken off (after
        finish()); the note of a hub key pinned on first use only with pins."""
        lines = [line.removeprefix("ferry: hub: ") for line in self.err]
        return [line for line in lines if pins or not PIN_NOTE.match(line)]

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
    """A ferryd with a hub on WIRE (test hooks on) and the three users;
    RELAY, when set, puts hubrelay.py with these rates between the clients
    and the hub. The secure wire is ferryd's default: no --hub-wire."""
    RELAY = None
    WIRE = "secure"

    def start(self, *args, v6=False, retrieve=False, record=False):
        if v6 and not have_ipv6():
            self.skipTest("no IPv6 on this host")
        hubs = ["127.0.0.1", *(["[::1]"] if v6 else [])]
        db = self.hub_db(f"hub-{next(DB_NUMBERS)}.db")
        wire = ("--hub-wire", "plain") if self.WIRE == "plain" else ()
        self.srv = self.serve("event", ("--workers", "1", "--hub-db", db, *wire,
                                        "--hub-test-hooks", *args),
                              listen=["native=127.0.0.1:0", *(f"hub={h}:0" for h in hubs)])
        self.port = hub_port(self.srv, "127.0.0.1")
        self.port6 = hub_port(self.srv, "[::1]") if v6 else None
        self.files_port = next(p for proto, _, p in self.srv.listeners if proto == "native")
        self.known_hubs = os.path.join(self.tmp, "known_hubs")
        self.srv.wait_log(r"hub started: pid \d+ slot \d+")
        self.hub_key = (self.srv.wait_log(r"hub: key ed25519:[0-9a-f]{64}").split("ed25519:")[1][:64]
                        if self.WIRE == "secure" else None)
        for user in USERS:
            r = admin(self.srv.admin, cmd="hub-useradd", id=user, password=f"{user}-pw")
            self.assertTrue(r["ok"], r)
        self.target = ("127.0.0.1", self.port)
        self.relay = None
        if self.RELAY is not None or record:
            down = self.retrieve_down() if retrieve else None
            self.relay = Relay(self.target, **(self.RELAY or {}), down=down, lifetime=120,
                               record=record).start()
            self.addCleanup(self.relay.stop)
            self.target = self.relay.addr
        return self.srv

    def wire_opts(self):
        """The client's options for this hub's wire and files."""
        wire = (["--hub-wire", "plain"] if self.WIRE == "plain"
                else ["--known-hubs", self.known_hubs])
        return [*wire, "--files-port", str(self.files_port)]

    def client(self, name, *opts, v6=False, env=None):
        return HubClient(self, ("::1", self.port6) if v6 else self.target, *self.wire_opts(),
                         *opts, name=name, env=env)

    def login_lines(self, user, password=None):
        """A login's lines: the secure wire's password on the next line
        (as a script gives it), the plain wire's on the login's."""
        password = password or f"{user}-pw"
        if self.WIRE == "secure":
            return [f"login#{user}", password]
        return [f"login#{user}&{password}"]

    def login(self, *clients):
        """Logs each client in as its name, all at once."""
        for c in clients:
            c.send(*self.login_lines(c.name))
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
        reordered; the client's requests still are. A raw socket can ask
        only on the plain wire; the secure wire's 0xC1 is the same code's,
        and the plain wire's cases ask it."""
        if self.WIRE == "secure":
            return None
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
        # Ten keepalives per timeout: through the relay (at most 3 drops
        # in a row, some held back to be reordered) on a busy machine.
        self.start("--hub-session-timeout", "2")
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
    """The cases on the secure wire, the clients straight to the hub."""


class HubClientLossy(Cases, HubClientCase):
    """The cases on the secure wire through hubrelay.py: 20 % of the
    datagrams dropped, 20 % duplicated, 20 % held back so that later ones
    pass them, both ways; the outputs stay exactly the same."""
    RELAY = LOSS


class HubClientPlainDirect(Cases, HubClientCase):
    """The cases on the plain wire, the clients straight to the hub."""
    WIRE = "plain"

    def test_usage(self):
        for args, message in (
                (["--hub-wire", "tls", "::1", "1"], "ferry: --hub-wire 'tls': the wires are "
                 "secure and plain"),
                (["--hub-keepalive", "0", "::1", "1"], "ferry: --hub-keepalive '0' is not a "
                 "positive duration (e.g. 20, 500ms, 1m)"),
                (["-t", "5", "::1", "1"], "ferry: option '--timeout' does not apply to 'hub'"),
                (["--hub-key", "abc", "::1", "1"], "ferry: --hub-key 'abc' is not a hub key: 64 "
                 "hex digits, as the hub logs it ('hub: key ed25519:HEX')"),
                (["--hub-key", NO_KEY, "--known-hubs", "f", "::1", "1"], "ferry: --hub-key and "
                 "--known-hubs: give one (with --hub-key the file is neither read nor written)"),
                (["--hub-wire", "plain", "--hub-key", NO_KEY, "::1", "1"], "ferry: --hub-key: "
                 "the plain wire has no hub key to check"),
                (["--files-port", "0", "::1", "1"], "ferry: --files-port must be a number from 1 "
                 "to 65535, got '0'"),
                (["--auto-fetch", "/no/such/dir", "::1", "1"], "ferry: --auto-fetch "
                 "'/no/such/dir' is not a directory"),
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
               "login#alice&alice-pw", "login#alice&alice-pw", "post#" + "y" * 201,
               "postfile#", "postfile#" + self.tmp, "postfile#dir/.env",
               "postfile#" + "n" * 101, "postfile#/no/such/file", "state#")
        a.expect("OFFLINE", "login_ack#successful", "error#post longer than 200 bytes",
                 "ONLINE")
        self.finish(a)
        self.assertEqual(a.warnings(), [
            "'hello' is not a command (login#ID&PASSWORD, subscribe#ID, unsubscribe#ID, "
            "post#TEXT, postfile#PATH, retrieve#N, logout#, state#, reset#, junk#, spurious#); "
            "not sent",
            "login# wants ID&PASSWORD; not sent",
            "login#: 'bad id' is not a user id ([A-Za-z0-9_], 1 to 32); not sent",
            "subscribe#: '' is not a user id ([A-Za-z0-9_], 1 to 32); not sent",
            "retrieve# wants a count (retrieve#10); not sent",
            "logout# takes nothing after the '#'; not sent",
            "postfile#: no session (login# first); not sent",
            "post#: a post is at most 200 bytes, this one 256; not sent",
            "junk#: no session (login# first); not sent",
            "login#: logged in as alice already (logout# first); not sent",
            "postfile# wants the path of a file (postfile#notes.txt); not sent",
            f"postfile#: {self.tmp} is not a regular file; not sent",
            "postfile#: the name '.env' starts with '.' (the hub takes no hidden names); not sent",
            "postfile#: the name '" + "n" * 40 + "...' is 101 bytes, over the hub's 100; not sent",
            "postfile#: cannot open /no/such/file: No such file or directory; not sent"])


class HubClientPlainLossy(Cases, HubClientCase):
    """The cases on the plain wire through hubrelay.py, as above."""
    WIRE = "plain"
    RELAY = LOSS


class HubSecure(HubClientCase):
    """What only the secure wire has, the clients straight to the hub."""

    def hub_figures(self, **want):
        """status's hub object once its figures read want (the hub
        publishes them as its loop goes to wait: polled, bounded)."""
        return wait_until(lambda: (h := self.srv.admin_json("status")["hub"]) and all(
            h[k] == v for k, v in want.items()) and h, what=f"the hub's figures {want}")

    def test_a_wrong_pinned_key_is_refused_before_the_proof(self):
        """known_hubs pins another key for this hub, or --hub-key names
        another: error#hub_key_mismatch, stderr names the file and both
        keys, no PROOF leaves, the hub has no session; the right key
        given with --hub-key logs in and leaves known_hubs alone."""
        self.start()
        wrong = "5a" * 32
        with open(self.known_hubs, "w") as f:
            f.write(f"# pinned by hand\n127.0.0.1:{self.port} {wrong}\n")
        a = self.client("alice", "-v")
        a.send(*self.login_lines("alice"), "state#")
        a.expect("error#hub_key_mismatch", "OFFLINE")
        b = HubClient(self, self.target, "-v", "--hub-key", wrong, name="bob")
        b.send(*self.login_lines("bob"), "state#")
        b.expect("error#hub_key_mismatch", "OFFLINE")
        self.finish(a, b)
        self.assertIn(f"127.0.0.1:{self.port} shows key ed25519:{self.hub_key}, but "
                      f"{self.known_hubs} pins ed25519:{wrong} for it: refused, the password's "
                      "proof not sent. Someone may be in the middle; if the hub's key did "
                      f"change, remove its line from {self.known_hubs}", a.warnings())
        self.assertIn(f"127.0.0.1:{self.port} shows key ed25519:{self.hub_key}, not the "
                      f"one given with --hub-key (ed25519:{wrong}): refused, the password's "
                      "proof not sent", b.warnings())
        for c in (a, b):
            self.assertFalse([l for l in c.err if l.startswith("> LOGIN_PROOF")], c.err)
        self.assertEqual(self.hub_figures(sessions_online=0)["sessions_online"], 0)
        self.assertNotRegex(self.srv.log(), r"session of (alice|bob)")
        with open(self.known_hubs) as f:
            self.assertEqual(f.read(), f"# pinned by hand\n127.0.0.1:{self.port} {wrong}\n")
        c = HubClient(self, self.target, "--hub-key", "ed25519:" + self.hub_key, name="carol")
        c.send(*self.login_lines("carol"))
        c.expect("login_ack#successful")
        self.finish(c)
        self.assertEqual(c.warnings(), [])
        self.hub_figures(sessions_online=1)

    def test_first_use_pins_the_key(self):
        """The first login pins the hub's key (one line on stderr names
        it) in a file made 0600 in a directory made 0700; the next login
        finds it there and says nothing. Without --known-hubs the file is
        $XDG_CONFIG_HOME/ferry/known_hubs."""
        self.start()
        xdg = os.path.join(self.tmp, "xdg")
        env = {**os.environ, "XDG_CONFIG_HOME": xdg}
        a = HubClient(self, self.target, name="alice", env=env)
        a.send(*self.login_lines("alice"))
        a.expect("login_ack#successful")
        self.finish(a)
        path = os.path.join(xdg, "ferry", "known_hubs")
        self.assertEqual(a.warnings(pins=True), [f"127.0.0.1:{self.port} is new: its key "
                                        f"ed25519:{self.hub_key} is pinned now in {path}"])
        with open(path) as f:
            self.assertEqual(f.read(), f"127.0.0.1:{self.port} {self.hub_key}\n")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.dirname(path)).st_mode & 0o777, 0o700)
        b = HubClient(self, self.target, name="bob", env=env)
        b.send(*self.login_lines("bob"))
        b.expect("login_ack#successful")
        self.finish(b)
        self.assertEqual(b.warnings(), [])
        with open(path) as f:
            self.assertEqual(f.read(), f"127.0.0.1:{self.port} {self.hub_key}\n")

    def test_the_password_from_the_next_line_of_a_pipe(self):
        """login#ID takes the next line as its password, never as a
        command, and -v never shows it; a login#ID at the end of stdin
        has none, and is refused."""
        self.start()
        a = self.client("alice", "-v")
        a.send("login#alice", "not-alices-pw", "state#", "login#alice", "alice-pw\r", "state#",
               "logout#")
        a.expect("login_ack#failed", "OFFLINE", "login_ack#successful", "ONLINE",
                 "logout_ack#successful")
        a.proc.stdin.write(b"login#alice")  # and no password after it: stdin ends
        a.finish()
        self.assertEqual([w for w in a.warnings(pins=True) if not w.startswith(("<", ">", "*"))],
                         [f"127.0.0.1:{self.port} is new: its key ed25519:{self.hub_key} "
                          f"is pinned now in {self.known_hubs}",
                          "login#alice: no password (none at the prompt, or stdin ended); "
                          "not sent"])
        self.assertFalse([l for l in a.err if "alice-pw" in l or "alices-pw" in l], a.err)

    def test_the_password_at_a_terminal_prompt(self):
        """On a terminal, login#ID prompts on stderr and reads the password
        from /dev/tty with the echo off; the echo is back after."""
        self.start()
        pid, fd = pty.fork()
        if pid == 0:  # the child: ferry on the pty, its controlling terminal
            try:
                os.execv(FERRY, [FERRY, "hub", *self.wire_opts(), "127.0.0.1", str(self.port)])
            finally:
                os._exit(127)
        self.addCleanup(self.reap, pid, fd)
        os.write(fd, b"login#alice\n")
        self.read_tty(fd, b"ferry: password for alice at 127.0.0.1:%d: " % self.port)
        os.write(fd, b"alice-pw\n")
        seen = self.read_tty(fd, b"login_ack#successful\r\n")
        self.assertNotIn(b"alice-pw", seen)
        self.assertTrue(termios.tcgetattr(fd)[3] & termios.ECHO)
        os.write(fd, b"state#\n")
        self.read_tty(fd, b"ONLINE\r\n")

    def read_tty(self, fd, want):
        """What the terminal shows up to and with want (bounded)."""
        seen, deadline = b"", time.monotonic() + LINE_TIMEOUT
        while want not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"the terminal never showed {want!r}: {seen!r}")
            if select.select([fd], [], [], left)[0]:
                seen += os.read(fd, 4096)
        return seen

    @staticmethod
    def reap(pid, fd):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)

    def test_a_replayed_sealed_datagram_is_dropped(self):
        """The relay records alice's sealed post and sends it to the hub
        again from her address: the hub drops it unanswered and counts it
        rejected, and the post is stored once. A sealed answer sent to the
        client again is dropped too (-v says why), and printed once."""
        self.start(record=True)
        a, b = self.client("alice", "-v"), self.client("bob")
        self.login(a, b)
        b.send("subscribe#alice")
        b.expect("subscribe_ack#successful")
        a.send("post#once")
        a.expect("post_ack#successful")
        b.expect("<alice>once")
        post = self.relay.wait_for(lambda d, _, data: d == "up" and sealed(data, POST))
        ack = self.relay.wait_for(lambda d, _, data: d == "down" and sealed(data, POST_ACK))
        before = self.hub_figures()["rejected"]
        mark = self.relay.mark()
        self.relay.replay(post)
        self.hub_figures(rejected=before + 1)
        self.relay.replay(ack)
        a.wait_err(r"^< \d+ bytes dropped: replayed")
        a.send("subscribe#carol", "state#")
        a.expect("subscribe_ack#successful", "ONLINE")
        # Nothing came down for the replayed post: the next datagram from
        # the hub to alice is the subscribe's ack.
        first = self.relay.wait_for(lambda d, c, data: d == "down" and c == self.relay.recorded[
            post][1], start=mark)
        self.assertEqual(self.relay.recorded[first][2][2], SUBSCRIBE_OK)
        b.send("retrieve#5", "state#")
        b.expect("<alice>once", "ONLINE")
        self.finish(a, b)
        self.assertEqual(self.hub_figures()["rejected"], before + 1)


    def test_forged_and_malformed_datagrams_are_dropped(self):
        """From alice's own address, with her live token: a sealed post
        with one bit changed, her sealed post's header changed, a
        truncated one, an oversized one, and random bytes. The hub answers
        none, counts each rejected, and alice's session goes on."""
        self.start(record=True)
        a = self.client("alice", "-v")
        self.login(a)
        a.send("post#genuine")
        a.expect("post_ack#successful")
        post = self.relay.wait_for(lambda d, _, data: d == "up" and sealed(data, POST))
        _, client, data = self.relay.recorded[post]
        bit = bytearray(data)
        bit[12] ^= 1  # the ciphertext
        head = bytearray(data)
        head[2] = RETRIEVE  # the header is authenticated too
        rng = random.Random(1)
        bad = [bytes(bit), bytes(head), data[:7], data + bytes(300),
               bytes(rng.randrange(256) for _ in range(64)), b""]
        before = self.hub_figures()["rejected"]
        mark = self.relay.mark()
        for d in bad:
            self.relay.inject(client, d)
        self.hub_figures(rejected=before + len(bad))
        a.send("subscribe#bob", "state#")
        a.expect("subscribe_ack#successful", "ONLINE")
        first = self.relay.wait_for(lambda d, c, _: d == "down" and c == client, start=mark)
        self.assertEqual(self.relay.recorded[first][2][2], SUBSCRIBE_OK)
        self.finish(a)


class Files:
    """postfile# and --auto-fetch, end to end, on either wire."""

    def test_postfile_and_auto_fetch(self):
        """alice uploads a file; bob, who follows her with --auto-fetch,
        sees its notification and finds it in his directory, byte for
        byte; bob may not post a file under alice's name."""
        self.start()
        inbox = os.path.join(self.tmp, "inbox")
        os.mkdir(inbox)
        data = os.urandom(300000)
        path = os.path.join(self.tmp, "report.bin")
        with open(path, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        a, b = self.client("alice"), self.client("bob", "--auto-fetch", inbox)
        self.login(a, b)
        b.send("subscribe#alice")
        b.expect("subscribe_ack#successful")
        a.send(f"postfile#{path}")
        a.expect("postfile_ack#successful")
        b.expect(f"<alice>file report.bin {len(data)} {digest}", "file#fetched report.bin")
        with open(os.path.join(inbox, "report.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        with open(os.path.join(self.root, "report.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.listdir(inbox), ["report.bin"])
        b.send(f"postfile#{path}", "state#")
        b.expect("postfile_ack#failed", "ONLINE")
        self.finish(a, b)
        self.assertIn(f"postfile#{path}: refused: ACCESS_DENIED (the name is taken by a file "
                      "another user uploaded)", b.warnings())

    def test_auto_fetch_replaces_only_what_it_fetched(self):
        """A file of the announced name already in bob's directory, which
        this run did not fetch, is left alone (no follower may clobber a
        file by announcing its name); a name it fetched before is
        replaced by the new version."""
        self.start()
        inbox = os.path.join(self.tmp, "inbox")
        os.mkdir(inbox)
        with open(os.path.join(inbox, "mine.txt"), "wb") as f:
            f.write(b"bob's own\n")
        src = {n: os.path.join(self.tmp, n) for n in ("mine.txt", "news.txt")}
        a, b = self.client("alice"), self.client("bob", "--auto-fetch", inbox)
        self.login(a, b)
        b.send("subscribe#alice")
        b.expect("subscribe_ack#successful")
        for n, body in (("mine.txt", b"alice's\n"), ("news.txt", b"one\n"), ("news.txt", b"two!\n")):
            with open(src[n], "wb") as f:
                f.write(body)
            a.send(f"postfile#{src[n]}")
            a.expect("postfile_ack#successful")
            digest = hashlib.sha256(body).hexdigest()
            outcome = "error#fetch_failed" if n == "mine.txt" else "file#fetched"
            b.expect(f"<alice>file {n} {len(body)} {digest}", f"{outcome} {n}")
        with open(os.path.join(inbox, "mine.txt"), "rb") as f:
            self.assertEqual(f.read(), b"bob's own\n")
        with open(os.path.join(inbox, "news.txt"), "rb") as f:
            self.assertEqual(f.read(), b"two!\n")
        self.finish(a, b)

    def test_a_digest_that_does_not_match_keeps_nothing(self):
        """The file changes on the server between its announcement and
        bob's download (the relay holds the notification back meanwhile):
        error#fetch_failed, the reason on stderr, nothing in the
        directory."""
        self.start(record=True)
        inbox = os.path.join(self.tmp, "inbox")
        os.mkdir(inbox)
        path = os.path.join(self.tmp, "notes.txt")
        with open(path, "wb") as f:
            f.write(b"version one\n")
        a = HubClient(self, ("127.0.0.1", self.port), *self.wire_opts(), name="alice")
        b = self.client("bob", "--auto-fetch", inbox)
        self.login(a, b)
        b.send("subscribe#alice")
        b.expect("subscribe_ack#successful")
        self.relay.hold("down")
        a.send(f"postfile#{path}")
        a.expect("postfile_ack#successful")
        # The header is in clear on both wires: the opcode tells the notification.
        self.relay.wait_for(lambda d, _, data: d == "down" and data[2] == FILE_NOTE)
        with open(os.path.join(self.root, "notes.txt.new"), "wb") as f:
            f.write(b"version two\n")  # the same size, another digest
        os.replace(os.path.join(self.root, "notes.txt.new"), os.path.join(self.root, "notes.txt"))
        self.relay.release("down")
        digest, got = (hashlib.sha256(v).hexdigest() for v in (b"version one\n",
                                                                  b"version two\n"))
        b.expect(f"<alice>file notes.txt 12 {digest}", "error#fetch_failed notes.txt")
        self.finish(a, b)
        self.assertEqual(os.listdir(inbox), [])
        self.assertIn(f"fetching notes.txt: its SHA-256 is {got}, not the {digest} "
                      "announced; not kept", b.warnings())


class HubFilesSecure(Files, HubClientCase):
    """postfile# and --auto-fetch on the secure wire (the upload's MAC)."""


class HubFilesPlain(Files, HubClientCase):
    """postfile# and --auto-fetch on the plain wire."""
    WIRE = "plain"


class HubBadDatagrams(HubClientCase):
    """What a hub does with datagrams no client should send: each gets its
    right answer or none, and the hub goes on serving. Silence is shown
    without waiting: the hub takes one socket's datagrams in order, so
    when the answer to a keepalive sent after them is the next datagram,
    none of them was answered."""
    WIRE = "plain"

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


class _Outcome(unittest.TestResult):
    """One test's outcome on its own thread, kept as the calls to make
    on the real result afterwards."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def addSuccess(self, test):
        self.calls.append(("addSuccess", ()))

    def addFailure(self, test, err):
        self.calls.append(("addFailure", (err,)))

    def addError(self, test, err):
        self.calls.append(("addError", (err,)))

    def addSkip(self, test, reason):
        self.calls.append(("addSkip", (reason,)))

    def addExpectedFailure(self, test, err):
        self.calls.append(("addExpectedFailure", (err,)))

    def addUnexpectedSuccess(self, test):
        self.calls.append(("addUnexpectedSuccess", ()))

    def addSubTest(self, test, subtest, err):
        self.calls.append(("addSubTest", (subtest, err)))


class SideBySide(unittest.TestSuite):
    """Runs its tests at once, PARALLEL at a time, each on a thread of its
    own, then reports them to the result in order."""

    def run(self, result, debug=False):
        tests = list(self)
        outcomes = [_Outcome() for _ in tests]
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            for done in [pool.submit(t, o) for t, o in zip(tests, outcomes)]:
                done.result()
        for test, outcome in zip(tests, outcomes):
            result.startTest(test)
            for name, args in outcome.calls:
                getattr(result, name)(test, *args)
            result.stopTest(test)
        return result


def _flat(suite):
    for t in suite:
        yield from (_flat(t) if isinstance(t, unittest.TestSuite) else (t,))


def load_tests(loader, tests, pattern):
    """The module's tests in order, but the lossy cases side by side, and
    HubUnreachable last (its hub has been silent since setUpModule)."""
    lossy = (HubClientLossy, HubClientPlainLossy)
    every = list(_flat(tests))
    suite = unittest.TestSuite(t for t in every if not isinstance(t, (*lossy, HubUnreachable)))
    suite.addTest(SideBySide(t for t in every if isinstance(t, lossy)))
    suite.addTests(t for t in every if isinstance(t, HubUnreachable))
    return suite


if __name__ == "__main__":
    unittest.main()
