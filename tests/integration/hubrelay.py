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
                 lifetime=120.0, listen=("127.0.0.1", 0), down=None, log=sys.stderr):
        if seed is None:
            env = os.environ.get("HUBRELAY_SEED")
            seed = int(env) if env else random.SystemRandom().randrange(1 << 32)
        self.seed = seed
        self.upstream = upstream
        self.lifetime = lifetime
        rates = {"drop": drop, "dup": dup, "reorder": reorder, "delay": delay}
        self.rates = {"up": dict(rates), "down": {**rates, **(down or {})}}
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
        print(f"hubrelay: seed {seed} (HUBRELAY_SEED={seed} draws the same); "
              f"{self.describe()}", file=log)

    def describe(self):
        return "; ".join(f"{d}: " + ", ".join(f"{k} {v:g}" for k, v in self.rates[d].items())
                         for d in DIRECTIONS)

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
            self._impair("up", rngs["up"], data, lambda d, s=up: s.send(d))

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
            self._impair("down", rng, data, lambda d, c=client: self.sock.sendto(d, c))

    def _impair(self, direction, rng, data, send):
        """Drops, duplicates, delays or holds back one datagram."""
        r, st = self.rates[direction], self.stats[direction]
        st["in"] += 1
        if rng.random() < r["drop"]:
            st["dropped"] += 1
            return
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
    p.add_argument("--seed", type=int, help="[HUBRELAY_SEED, else random]")
    p.add_argument("--lifetime", type=float, default=3600.0, help="seconds, then exit [3600]")
    a = p.parse_args()
    relay = Relay(a.upstream, a.drop, a.dup, a.reorder, a.delay, a.seed, a.lifetime, a.listen)
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
