/*
 * webstat: the master's HTTP endpoint for monitoring, `--listen
 * metrics=ADDR:PORT`: `GET /metrics` (the Prometheus exposition of
 * `ferryctl metrics`), `GET /status` and `GET /workers` (those commands'
 * JSON), and `GET /` (the live status page, master/status.html).
 * Served by the admin module's loop — the master's own, or in iterative
 * mode the admin thread's — never by a worker, so it answers under full
 * load. Read-only; one request per connection; a head must arrive whole
 * within WEBSTAT_HEAD_MS and fit in WEBSTAT_HEAD_MAX bytes, the answer be
 * taken within WEBSTAT_SEND_MS; at most WEBSTAT_CONNS connections at once
 * (more wait in the backlog); out of descriptors, accepting pauses for
 * WEBSTAT_PAUSE_MS rather than spinning.
 */
#ifndef FERRY_WEBSTAT_H
#define FERRY_WEBSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define WEBSTAT_LISTENERS 16
#define WEBSTAT_HEAD_MAX  8192
#define WEBSTAT_HEAD_MS   2000  /* the head, from accept */
#define WEBSTAT_SEND_MS   10000 /* the answer, from the head */
#define WEBSTAT_PAUSE_MS  100   /* out of descriptors: accepting waits this */
#define WEBSTAT_CONNS     64

struct admin;
struct webstat_conn;

/* The endpoint: its listeners' poll handles and its open connections. */
struct webstat {
    uv_poll_t polls[WEBSTAT_LISTENERS];
    uv_timer_t unpause; /* accepting again after running out of descriptors */
    bool paused;
    int fds[WEBSTAT_LISTENERS];
    size_t n;
    unsigned nconns;
    struct webstat_conn *conns;
    struct admin *a;
};

/* The status page (master/status.html), embedded by the build. */
extern const unsigned char webstat_page[];
extern const size_t webstat_page_len;

/* Starts serving the listening sockets fds (n of them, owned by the
 * caller) on loop, answering with a's commands. Returns 0 or a negative
 * libuv/errno code. */
int webstat_start(struct webstat *w, uv_loop_t *loop, struct admin *a, const int *fds, size_t n);

/* Stops: closes every connection and stops polling the listeners (whose
 * descriptors the caller closes after the loop has run the closes). */
void webstat_stop(struct webstat *w);

#endif
