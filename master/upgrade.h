/*
 * upgrade: replacing the running ferryd binary without refusing a
 * connection, as nginx's USR2 does (docs/UPGRADE.md).
 *
 * The running master (the predecessor) starts the file at the path it was
 * itself started from, handing it every listening socket, the admin
 * socket's included, as inherited descriptors named in the environment by
 * systemd's convention (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; the names
 * are the listeners' keys, master/listen.h), and one end of a channel
 * (FERRY_UPGRADE_FD). The new master (the successor) adopts the sockets
 * its configuration still names, starts its workers and says READY on the
 * channel; both pools accept from the same queues meanwhile, so nothing
 * waits and nothing is refused. The predecessor then answers HANDED_OVER,
 * stops its admin socket, and drains and exits as a graceful stop does,
 * except that it never shuts the listeners down (they are the
 * successor's now); its hub stops at once, and HUB_GONE on the channel
 * lets the successor start its own on the same socket. A successor that
 * fails to start, exits or is not ready within the timeout leaves the
 * predecessor serving as before.
 *
 * Messages are single datagrams (a SOCK_SEQPACKET pair): "READY PID",
 * "EXEC ERRNO" (the successor could not be executed), "HANDED_OVER",
 * "HUB_GONE", "ABORT" (the predecessor gave up on it: it stops). The
 * channel closing without HANDED_OVER or ABORT means the predecessor
 * died: the successor takes over.
 */
#ifndef FERRY_UPGRADE_H
#define FERRY_UPGRADE_H

#include "master/listen.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

#define UPGRADE_FDS_MAX    (3 * LSN_MAX + 1) /* every listener, and the admin socket */
#define UPGRADE_ADMIN_NAME "admin"           /* the admin socket's name */

/* A descriptor handed down, and its name. */
struct upgrade_fd {
    int fd;
    char name[LSN_KEY_MAX];
};

/* Records the path this binary was started from, as nginx does: argv0
 * when it holds a '/' (made absolute against the working directory, links
 * left unresolved), else the first match in $PATH, else /proc/self/exe.
 * Call once at start, before anything may change the directory. Returns 0
 * or -errno. */
int upgrade_exe_init(const char *argv0);

/* The path upgrade_exe_init() recorded ("" when it failed). */
const char *upgrade_exe(void);

/*
 * Successor: takes the descriptors handed to this process (LISTEN_PID is
 * this pid), at most max, into out, and the channel into *channel (-1
 * when none); then removes the variables from the environment, so that
 * the workers do not take them for theirs. Returns how many; an
 * unnamed or malformed set is -EINVAL (and nothing is taken).
 */
long upgrade_inherited(struct upgrade_fd *out, size_t max, int *channel);

/* Writes name escaped for LISTEN_FDNAMES (':' and '%' as %3A and %25)
 * into out. Returns 0, or -ENAMETOOLONG. */
int upgrade_escape(const char *name, char *out, size_t len);

/* The inverse of upgrade_escape() for the n bytes of in. Returns 0 or
 * -EINVAL. */
int upgrade_unescape(const char *in, size_t n, char *out, size_t len);

enum upgrade_event {
    UPGRADE_READY,       /* predecessor: the successor is serving (arg: its pid) */
    UPGRADE_HANDED_OVER, /* successor: the predecessor leaves: ours alone now */
    UPGRADE_HUB_GONE,    /* successor: the predecessor's hub is gone */
    UPGRADE_CLOSED,      /* the other end is gone (arg: 0) */
    UPGRADE_EXEC_FAILED, /* predecessor: the successor could not start (arg: errno) */
    UPGRADE_TIMEOUT,     /* predecessor: no READY in time */
    UPGRADE_ABORT,       /* successor: the predecessor gave up on it */
};

/* One end of an upgrade, on the master's loop. */
struct upgrade {
    uv_poll_t poll;
    uv_timer_t timer;
    int fd;    /* the channel; -1: none */
    pid_t pid; /* predecessor: the successor's */
    bool active;
    void (*on_event)(struct upgrade *u, enum upgrade_event ev, long arg);
    void *data;
};

/*
 * Predecessor: starts upgrade_exe() with argv as a new master, handing it
 * the n descriptors of fds under their names; events follow on loop, with
 * UPGRADE_TIMEOUT after timeout_ms without READY. Returns the successor's
 * pid, or -errno (nothing started; -EBUSY while u is in use).
 */
pid_t upgrade_start(struct upgrade *u, uv_loop_t *loop, char *const argv[],
                    const struct upgrade_fd *fds, size_t n, unsigned timeout_ms);

/* Successor: watches the channel handed down. Returns 0 or a libuv error. */
int upgrade_attach(struct upgrade *u, uv_loop_t *loop, int channel);

/* Handles the messages already waiting, now (the successor's last words
 * may arrive after its exit is seen). */
void upgrade_flush(struct upgrade *u);

/* Sends one message. Returns 0 or -errno. */
int upgrade_send(struct upgrade *u, const char *msg);

/* Closes this end (the handles close on the loop). Idempotent. */
void upgrade_close(struct upgrade *u);

#endif
