/*
 * pool: the master's supervision of its children in fork and prefork
 * modes, on a libuv loop: signals, child exits, respawn and shutdown
 * timers, and in fork mode the listening sockets.
 */
#ifndef FERRY_POOL_H
#define FERRY_POOL_H

#include "common/scoreboard.h"
#include "master/config.h"
#include "master/listen.h"

#include <sys/types.h>

/* How the pool starts. */
struct pool_start {
    int dirfd;              /* the served directory; the pool's, then (a reload may change it) */
    const char *admin_path; /* the admin socket */
    gid_t admin_group;
    int admin_fd;   /* the admin socket handed down by an upgrade, or -1: bind admin_path */
    int upgrade_fd; /* the channel to the master this one replaces, or -1 (master/upgrade.h) */
    /* Listeners handed down that the configuration no longer names: the
     * pool shuts them down once it took over (master/poolup.h). */
    const int *dropped;
    size_t ndropped;
};

/*
 * Runs the pool until it has stopped. The pool takes ownership of ls (it
 * closes them when shutdown begins), of cfg (a reload replaces what it
 * holds), and of st's descriptors: st->dirfd is the directory it served
 * last, for the caller to close. Returns the exit code: 0 when every
 * transfer finished, 1 when a child had to be killed; or -1 when it could
 * not start (logged).
 */
int pool_run(struct config *cfg, struct scoreboard *sb, struct listeners *ls,
             struct pool_start *st);

#endif
