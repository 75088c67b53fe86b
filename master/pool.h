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

/*
 * Runs the pool, with its admin socket at admin_path, until it has
 * stopped. The pool takes ownership of ls (it closes them when shutdown
 * begins). Returns the exit code: 0 when every transfer finished, 1 when
 * a child had to be killed; or -1 when it could not start (logged).
 */
int pool_run(const struct config *cfg, struct scoreboard *sb, struct listeners *ls, int dirfd,
             const char *admin_path, gid_t admin_group);

#endif
