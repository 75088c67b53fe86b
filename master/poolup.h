/*
 * poolup: the pool's side of a binary upgrade (master/upgrade.h), as the
 * master being replaced (the predecessor) and as the new one (the
 * successor): when each may hand over, what is said to the operator, and
 * what happens to the hub in between (docs/UPGRADE.md).
 */
#ifndef FERRY_POOLUP_H
#define FERRY_POOLUP_H

#include "master/upgrade.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct pool;

/* A pool's upgrade state. Zeroed: none. A master is the successor of the
 * one before it (up) until that one is gone, and may be the predecessor
 * of the one after it (down) once it took over: two channels, never the
 * same one. */
struct poolup {
    struct upgrade up;   /* to the master this one replaces, until it exits */
    struct upgrade down; /* to the master replacing this one */
    bool predecessor;    /* this master started a successor, not yet ready */
    bool handed_over;    /* predecessor: the successor serves; this master drains */
    bool successor;      /* this master was started by one, not yet handed over */
    bool hub_wait;       /* successor: its hub waits for the predecessor's to go */
    bool hub_gone;       /* predecessor: HUB_GONE was said */
    bool aborted;        /* successor: the predecessor gave up on it (ABORT) */
    bool took_over;      /* successor: it did (the admin socket's path is its own) */
    /* Predecessor: a successor given up on (ABORT) that has not left
     * after a grace of --shutdown-timeout is killed: it may be stopped. */
    uv_timer_t reap;
    pid_t given_up;
    /* Successor: listeners handed down that the configuration dropped,
     * kept open (and accepted from by the predecessor) until it took
     * over, then shut down for every process. */
    int dropped[UPGRADE_FDS_MAX];
    size_t ndropped;
    uint64_t token; /* the admin client waiting for the outcome, or 0 */
    int64_t t0;
    uv_timer_t ready; /* successor: looks for its workers to be up */
    char steps[1024]; /* what happened, one line each, for the operator */
    size_t nsteps;
};

/* Sets up the handles on p's loop; a successor (upgrade_fd handed down)
 * starts watching its channel and its workers, holding the admin socket
 * until it took over, and takes the n listeners in dropped to shut down
 * then. Returns 0 or a libuv error. */
int poolup_init(struct pool *p, int upgrade_fd, const int *dropped, size_t n);

/* True when p may not start a hub yet (a successor whose predecessor's hub
 * still runs). */
bool poolup_hub_waits(const struct pool *p);

/* The admin op and SIGUSR2: starts the successor. Returns 0 (the outcome
 * comes by admin_answer(token) and the log), -EBUSY, -ESHUTDOWN or
 * -errno. */
int poolup_start(void *ctx, uint64_t token);

/* A child that is no pool slot's was reaped: the successor, if it is
 * ours. */
void poolup_reaped(struct pool *p, pid_t pid, int wstatus);

/* A hub was reaped: a predecessor tells its successor that the hub's
 * socket is free. */
void poolup_hub_reaped(struct pool *p);

/* True while an upgrade is under way, or the master before this one still
 * drains (a reload, a resize or another upgrade waits). */
bool poolup_busy(const struct pool *p);

/* The pool stops for its own reasons (SIGTERM...): a predecessor gives up
 * on its successor, which stops too. */
void poolup_stopping(struct pool *p);

/* True when this master may tell systemd it stops (a successor before it
 * took over, or a predecessor that handed over, speaks for no service). */
bool poolup_owns_service(const struct pool *p);

/* Closes the channels (the pool is finishing). */
void poolup_close(struct pool *p);

#endif
