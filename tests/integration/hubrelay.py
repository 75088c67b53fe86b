"""hubrelay: a lossy UDP relay between hub clients and the hub, for tests.

It listens on one loopback port and forwards every datagram a client sends
there to the hub, and every answer back to that client, through one
upstream socket per client source address (so that the hub sees each
client at an address of its own, as it would without the relay). On the
way, in both directions, it drops, duplicates, delays and reorders
datagrams at the rates it was given.

The randomness is seeded and printed on stderr ("hubrelay: seed 1234 ..."):
HUBRELAY_SEED=1234 in the environment makes the next relays draw the same
numbers. Each flow (a client, one direction) draws from a generator of its
own, seeded from the seed, the flow's order of appearance and its
direction, so that what happens to one client's datagrams does not depend
on how they interleave with another's.

From a test (a thread of its own, ended by stop() or after lifetime s):

    with Relay(("127.0.0.1", hub_port), drop=0.2, dup=0.2, reorder=0.2) as relay:
        ... clients send to relay.addr ...

drop_run=N bounds the drops in a row of each flow to N: a client's
retransmission (8 sends) then always gets through, so that a test fails for
a bug, never for eight drops in a row (0.36^8 per request at 20 % each way:
a few runs in a hundred of a suite with hundreds of requests).

With record=True it keeps every datagram it took, in order, with its
direction and client (relay.wait_for() waits for one that matches);
relay.replay() sends one of them again, as its sender did, so that a test
can replay a sealed datagram. relay.hold("down") keeps a direction's
datagrams back until relay.release("down"), so that a test can act
between a datagram's arrival and its delivery without a race.

From a shell:

    python3 hubrelay.py --upstream 127.0.0.1:12345 --drop 0.2 --dup 0.2 --reorder 0.2
"""

import argparse
import errno
import heapq
import itertools
import os
import random
import selectors
import socket
import sys
import threading
import time

DIRECTIONS = ("up", "down")  # up: client to hub; down: hub to client
REORDER_HOLD = (0.005, 0.030)  # a reordered datagram is held this long: later ones pass it
DUP_GAP = (0.0, 0.010)  # a duplicate follows its original within this


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Relay:
    """The relay; rates are probabilities per datagram, delay seconds.
    down={"drop": 0, ...} overrides rates for the hub-to-client direction."""

    def __init__(self, upstream, drop=0.0, dup=0.0, reorder=0.0, delay=0.0, seed=None,
                 lifetime=120.0, listen=("127.0.0.1", 0), down=None, log=sys.stderr,
                 record=False, drop_run=None):
        if seed is None:
            env = os.environ.get("HUBRELAY_SEED")
            seed = int(env) if env else random.SystemRandom().randrange(1 << 32)
        self.seed = seed
        self.upstream = upstream
        self.lifetime = lifetime
        rates = {"drop": drop, "dup": dup, "reorder": reorder, "delay": delay}
        self.rates = {"up": dict(rates), "down": {**rates, **(down or {})}}
        self.drop_run = drop_run
        self._runs = {}  # (client, direction) -> drops in a row
        self.stats = {d: dict.fromkeys(("in", "dropped", "duplicated", "reordered"), 0)
                      for d in DIRECTIONS}
        self.sock = socket.socket(_family(listen[0]), socket.SOCK_DGRAM)
        self.sock.bind(listen)
        self.sock.setblocking(False)
        self.addr = self.sock.getsockname()[:2]
        self._flows = {}  # client address -> (upstream socket, {direction: random.Random})
        self._clients = {}  # upstream socket -> client address
        self._flow_numbers = itertools.count()
        self._queue = []  # (due, n, send, data): datagrams held back
        self._n = itertools.count()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.sock, selectors.EVENT_READ)
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._stop = False
        self._thread = None
        self.record = record
        self.recorded = []  # (direction, client, data), in arrival order
        self._cond = threading.Condition()  # guards recorded and held
        self._held = {d: None for d in DIRECTIONS}  # a list while held: (send, data)
        print(f"hubrelay: seed {seed} (HUBRELAY_SEED={seed} draws the same); "
              f"{self.describe()}", file=log)

    def describe(self):
        run = f"; at most {self.drop_run} drops in a row" if self.drop_run is not None else ""
        return "; ".join(f"{d}: " + ", ".join(f"{k} {v:g}" for k, v in self.rates[d].items())
                         for d in DIRECTIONS) + run

    # -- running

    def start(self):
        self._thread = threading.Thread(target=self.run, name="hubrelay", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.close()

    def close(self):
        for key in list(self._sel.get_map().values()):
            self._sel.unregister(key.fileobj)
            key.fileobj.close()
        self._wake_w.close()

    # -- for tests: recording, replaying, holding back

    def wait_for(self, match, timeout=10.0, start=0):
        """The index of the first recorded datagram from start on for which
        match(direction, client, data) holds, waiting (bounded) for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.recorded):
                    if match(*self.recorded[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"hubrelay: no such datagram within {timeout} s")
                self._cond.wait(left)

    def mark(self):
        """The index the next recorded datagram will have."""
        with self._cond:
            return len(self.recorded)

    def replay(self, index):
        """Sends recorded datagram index again, as it went: up through its
        client's upstream socket (the hub sees the client's address), down
        to the client."""
        direction, client, data = self.recorded[index]
        if direction == "up":
            self._flows[client][0].send(data)
        else:
            self.sock.sendto(data, client)

    def inject(self, client, data):
        """Sends data to the hub through client's upstream socket, as if
        that client had sent it (a forgery from its address)."""
        self._flows[client][0].send(data)

    def hold(self, direction):
        """Keeps direction's datagrams back (after their impairment) until release()."""
        with self._cond:
            if self._held[direction] is None:
                self._held[direction] = []

    def release(self, direction):
        """Sends what hold() kept back, in order, and stops holding."""
        with self._cond:
            held, self._held[direction] = self._held[direction] or [], None
        for send, data in held:
            self._send(send, data)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def run(self):
        """The loop, until stop() or lifetime seconds."""
        end = time.monotonic() + self.lifetime
        while not self._stop:
            now = time.monotonic()
            if now >= end:
                break
            wait = end - now
            if self._queue:
                wait = min(wait, max(0.0, self._queue[0][0] - now))
            for key, _ in self._sel.select(wait):
                if key.fileobj is self.sock:
                    self._from_clients()
                elif key.fileobj is self._wake_r:
                    self._wake_r.recv(64)
                else:
                    self._from_hub(key.fileobj)
            self._release(time.monotonic())

    # -- datagrams

    def _flow(self, client):
        """The upstream socket and generators of a client, made on its first datagram."""
        flow = self._flows.get(client)
        if flow is None:
            up = socket.socket(_family(self.upstream[0]), socket.SOCK_DGRAM)
            up.connect(self.upstream)
            up.setblocking(False)
            k = next(self._flow_numbers)
            rngs = {d: random.Random(f"{self.seed}/{k}/{d}") for d in DIRECTIONS}
            flow = self._flows[client] = (up, rngs)
            self._clients[up] = client
            self._sel.register(up, selectors.EVENT_READ)
        return flow

    def _from_clients(self):
        while True:
            try:
                data, client = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error for an earlier send to a client gone
            up, rngs = self._flow(client[:2])
            self._note("up", client[:2], data)
            self._impair("up", rngs["up"], data, self._sender("up", lambda d, s=up: s.send(d)),
                         (client[:2], "up"))

    def _from_hub(self, up):
        client = self._clients[up]
        while True:
            try:
                data = up.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno == errno.ECONNREFUSED:  # the hub is not there (now): a loss
                    continue
                return
            rng = self._flows[client][1]["down"]
            self._note("down", client, data)
            self._impair("down", rng, data,
                         self._sender("down", lambda d, c=client: self.sock.sendto(d, c)),
                         (client, "down"))

    def _note(self, direction, client, data):
        if self.record:
            with self._cond:
                self.recorded.append((direction, client, data))
                self._cond.notify_all()

    def _sender(self, direction, send):
        """send, or, while direction is held, a keeper of what it would send."""
        def held_or_sent(data):
            with self._cond:
                if self._held[direction] is not None:
                    self._held[direction].append((send, data))
                    return
            send(data)
        return held_or_sent

    def _impair(self, direction, rng, data, send, flow):
        """Drops, duplicates, delays or holds back one datagram."""
        r, st = self.rates[direction], self.stats[direction]
        st["in"] += 1
        drop = rng.random() < r["drop"]
        run = self._runs.get(flow, 0) + 1 if drop else 0
        if drop and (self.drop_run is None or run <= self.drop_run):
            self._runs[flow] = run
            st["dropped"] += 1
            return
        self._runs[flow] = 0
        copies = 1
        if rng.random() < r["dup"]:
            st["duplicated"] += 1
            copies = 2
        now = time.monotonic()
        for i in range(copies):
            wait = r["delay"]
            if rng.random() < r["reorder"]:
                st["reordered"] += 1
                wait += rng.uniform(*REORDER_HOLD)
            if i > 0:
                wait += rng.uniform(*DUP_GAP)
            if wait <= 0:
                self._send(send, data)
            else:
                heapq.heappush(self._queue, (now + wait, next(self._n), send, data))

    def _release(self, now):
        while self._queue and self._queue[0][0] <= now:
            _, _, send, data = heapq.heappop(self._queue)
            self._send(send, data)

    @staticmethod
    def _send(send, data):
        try:
            send(data)
        except OSError:
            pass  # a full buffer or an ICMP error: one more loss


def _address(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    p = argparse.ArgumentParser(description="A lossy UDP relay in front of a ferry hub.")
    p.add_argument("--upstream", required=True, type=_address, help="the hub, HOST:PORT")
    p.add_argument("--listen", default="127.0.0.1:0", type=_address, help="[127.0.0.1:0]")
    for name in ("drop", "dup", "reorder"):
        p.add_argument(f"--{name}", type=float, default=0.0, help="probability per datagram")
    p.add_argument("--delay", type=float, default=0.0, help="seconds added to every datagram")
    p.add_argument("--drop-run", type=int, help="at most this many drops in a row per flow")
    p.add_argument("--seed", type=int, help="[HUBRELAY_SEED, else random]")
    p.add_argument("--lifetime", type=float, default=3600.0, help="seconds, then exit [3600]")
    a = p.parse_args()
    relay = Relay(a.upstream, a.drop, a.dup, a.reorder, a.delay, a.seed, a.lifetime, a.listen,
                  drop_run=a.drop_run)
    host, port = relay.addr
    print(f"hubrelay: listening on {'[%s]' % host if ':' in host else host}:{port}",
          file=sys.stderr, flush=True)
    try:
        relay.run()
    except KeyboardInterrupt:
        pass
    relay.close()
    print(f"hubrelay: {relay.stats}", file=sys.stderr)


if __name__ == "__main__":
    main()
