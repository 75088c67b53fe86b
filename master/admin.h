/*
 * admin: the JSON admin socket (docs/ADMIN.md).
 *
 * A Unix stream socket on a libuv loop: newline-delimited JSON, one
 * request object per line ({"cmd": "status"}), one response object per
 * line, in order, many clients at once. Peers are identified with
 * SO_PEERCRED: the owner's uid and root may use every command, members of
 * --admin-group the read-only ones. A line over 64 KiB, or a client that
 * lets more than 1 MiB of answers pile up unread, is cut off; the loop
 * never blocks on a client.
 *
 * The module runs on whichever loop it is given: the master's, or in
 * iterative mode a loop of its own in a thread, since that process is busy
 * serving. What it cannot do itself it asks through admin_ops.
 */
#ifndef FERRY_ADMIN_H
#define FERRY_ADMIN_H

#include "common/log.h"
#include "common/scoreboard.h"
#include "master/config.h"
#include "master/listen.h"
#include "master/snapshot.h"
#include "master/webstat.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>
#include <uv.h>

#define ADMIN_SCHEMA    1
#define ADMIN_LINE_MAX  (64 * 1024)
#define ADMIN_QUEUE_MAX (1024 * 1024)

enum admin_state { ADMIN_RUNNING, ADMIN_DRAINING, ADMIN_STOPPING };

struct admin_ops {
    /* The pool's state now. */
    enum admin_state (*state)(void *ctx);
    /* Stops as SIGTERM does (graceful, with timeout_s; < 0: the configured
     * one), or at once. A graceful request while stopping changes nothing. */
    void (*shutdown)(void *ctx, bool graceful, int timeout_s);
    /* While stopping: the shutdown timeout in force, in seconds. */
    unsigned (*stop_timeout)(void *ctx);
    /* Reopens the log file in every process. Returns 1 (reopened), 0 (logs
     * go to stderr) or -errno. */
    int (*reopen_logs)(void *ctx);
    /* The current worker target (prefork size, fork-mode limit). */
    unsigned (*target)(void *ctx);
    /* Starts a resize to workers, retiring surplus workers within drain_s.
     * Returns 0 and later calls admin_resize_done(token) (token 0: nobody
     * waits), or -EBUSY (a resize is under way), -ESHUTDOWN (stopping),
     * -ENOTSUP (this mode cannot). NULL: resizing is not supported. */
    int (*resize)(void *ctx, unsigned workers, unsigned drain_s, uint64_t token);
    /* Reads the configuration again and applies it (SIGHUP): what changed
     * in *changes, why not in *problems. Returns 0, -EINVAL (invalid),
     * -EPERM (a setting that cannot change live), -EBUSY, -ESHUTDOWN or
     * -errno (could not open what it adds). NULL: this mode cannot. */
    int (*reload)(void *ctx, struct cfg_report *changes, struct cfg_report *problems);
    /* Starts a binary upgrade (master/upgrade.h); returns 0 and later
     * calls admin_answer(token), or -EBUSY, -ESHUTDOWN or -errno (nothing
     * started). NULL: this mode cannot. */
    int (*upgrade)(void *ctx, uint64_t token);
};

/* What a finished resize did, for its answer. */
struct admin_resize_result {
    unsigned from, to;
    unsigned started, retired, killed;
    double seconds;
};

struct admin {
    uv_loop_t *loop;
    uv_poll_t server; /* the listening socket; accepted by hand (admin.c) */
    int fd;
    uv_timer_t sampler, unpause;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    bool listening;
    bool released;  /* the socket is another master's now (admin_release) */
    bool held;      /* not accepting for now (admin_hold) */
    bool keep_path; /* admin_close() leaves the path: another master uses it */
    const struct config *cfg;
    struct scoreboard *sb;
    const struct listeners *ls; /* for names and queue depths */
    struct log_rl accept_rl;    /* failed accepts, logged once per interval */
    uid_t owner;
    gid_t group; /* (gid_t)-1: none */
    const struct admin_ops *ops;
    void *ops_ctx;
    struct snapshot snap;
    struct snap_history hist;
    struct admin_conn *conns; /* open client connections */
    struct webstat web;       /* --listen metrics=...: GET /metrics, /status */
    unsigned subscribers;     /* of those, event streams */
    uint64_t next_token;
};

/*
 * Writes the default socket path for port into buf: ferryd-PORT.sock
 * under /run/ferry as root, else under $XDG_RUNTIME_DIR, else /tmp (as
 * ferryd-UID-PORT.sock). Returns 0 or -ENAMETOOLONG.
 */
int admin_default_path(char *buf, size_t len, unsigned port);

/*
 * Binds the socket at path (mode 0600, 0660 with a group), replacing a
 * stale socket file; a live one (another ferryd answering) is -EADDRINUSE,
 * a path that is not a socket -EEXIST. Starts accepting and the once-a-
 * second sampler on loop. Returns 0 or -errno; on failure nothing is left
 * open.
 */
int admin_open(struct admin *a, uv_loop_t *loop, const char *path, gid_t group,
               const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
               const struct admin_ops *ops, void *ops_ctx);

/* admin_open() on fd, a listening socket at path handed down by the
 * master this one replaces (master/upgrade.h); fd -1: as admin_open(). */
int admin_open_fd(struct admin *a, uv_loop_t *loop, const char *path, int fd, gid_t group,
                  const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
                  const struct admin_ops *ops, void *ops_ctx);

/* Stops (hold) or resumes accepting on the socket: a new master holds it
 * until the one it replaces handed over, so that one master answers. */
void admin_hold(struct admin *a, bool hold);

/* A binary upgrade handed the socket over: stops accepting on it and on
 * the metrics listeners, and closes this master's copy, leaving the path
 * to the new master; the connections open are still answered. */
void admin_release(struct admin *a);

/* True when someone follows the events: callers skip building them
 * otherwise (fork mode would build two per connection for nobody). */
bool admin_wants_events(const struct admin *a);

/*
 * Sends an event to every subscriber: {"event": name, "schema": 1, "time":
 * ISO-8601, ...fields}. Takes ownership of fields (NULL: none).
 */
void admin_event(struct admin *a, const char *name, json_t *fields);

/* Answers the resize that token names, if its client is still there. */
void admin_resize_done(struct admin *a, uint64_t token, const struct admin_resize_result *r);

/* Answers the request that token names, if its client is still there:
 * with fields (taken; merged into the answer) and ok, or with the error
 * code and message. */
void admin_answer(struct admin *a, uint64_t token, json_t *fields, const char *error,
                  const char *message);

/* Explains an admin_open() error for a start-up message. */
const char *admin_strerror(int rc);

/* Closes every client and the socket, and removes the socket file. The
 * handles finish closing when the loop next runs. */
void admin_close(struct admin *a);

/* The admin socket on a loop of its own, in a thread that has every
 * signal blocked (iterative mode: the main thread is busy serving). */
struct admin_thread {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t tid;
    struct admin admin;
};

/* admin_open() on a new loop, then runs it in a new thread. 0 or -errno. */
int admin_thread_start(struct admin_thread *t, const char *path, gid_t group,
                       const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
                       const struct admin_ops *ops, void *ops_ctx);

/* admin_thread_start() in two steps, for a caller that confines itself
 * between them (the thread then inherits the confinement: iterative mode,
 * master/privdrop.h): admin_open() on a new loop (0 or -errno), then the
 * thread. admin_thread_run() with go false, or failing, closes what the
 * first step opened; it returns 0 or -errno (-ECANCELED: not go). */
int admin_thread_open(struct admin_thread *t, const char *path, gid_t group,
                      const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
                      const struct admin_ops *ops, void *ops_ctx);
int admin_thread_run(struct admin_thread *t, bool go);

/* Closes the socket and joins the thread. */
void admin_thread_stop(struct admin_thread *t);

#endif
