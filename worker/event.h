/*
 * event: the event driver (--mode event). One process holds up to
 * --worker-connections connections of every listener and drives them all
 * through the same handlers as the blocking driver (conn.h), so that a
 * slow client or an idle keep-alive costs memory, never a process.
 *
 * The loop: libuv watches each connection's socket (a uv_poll_t; the
 * handlers and sendfile stay ferry's), every deadline sits in one heap
 * (deadline.h) and the wait's timeout is the earliest. The worker waits in
 * an epoll set of its own above libuv's (libuv's backend descriptor, the
 * listeners and the wake eventfd), because the listeners need
 * EPOLLEXCLUSIVE, which libuv cannot ask for: a connection wakes one
 * waiting worker, not all of them.
 *
 * Fairness: a connection sends at most one chunk per turn of the loop.
 * The disk: before each chunk, one read that never blocks tells whether
 * it is in the page cache; when it is not, libuv's thread pool reads it
 * ahead and the connection waits (CONN_DISK) while the others go on.
 */
#ifndef FERRY_EVENT_H
#define FERRY_EVENT_H

#include "worker/worker.h"

/* Serves at most max_conns connections at once until asked to stop, then
 * finishes what it holds (idle keep-alive connections close at once). The
 * loop turns at least every beat_ms (its stamp on the scoreboard is what
 * the watchdog reads). Returns the process's exit code: 0 after a clean
 * stop, 1 when it could not go on. */
int event_run(const struct worker_config *cfg, uint32_t max_conns, int beat_ms);

#endif
