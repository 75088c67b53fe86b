/*
 * hub: the hub's process (docs/HUB.md). One libuv loop, no threads: the
 * UDP listeners the master opened, the sessions (session.h) and their
 * timers, and the SQLite store (store.h). The master forks it as the hub
 * row of its process table, restarts it with back-off if it dies, and
 * stops it with SIGTERM.
 */
#ifndef FERRY_HUB_H
#define FERRY_HUB_H

#include "common/scoreboard.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hub_config {
    const int *fds; /* the UDP listeners, bound, non-blocking */
    size_t nfds;
    const char *db_path;
    bool plain;  /* --hub-wire plain: the course protocol; else the secure wire */
    int ipc_fd;  /* the workers' uploads come through it (common/hubipc.h) */
    int64_t session_timeout_ns;
    bool test_hooks;
    struct sb_slot *slot;        /* the hub's scoreboard slot */
    struct sb_hub_live *figures; /* where its figures go, for status and the metrics */
};

/* Serves until SIGTERM or SIGINT. Returns the process's exit code: 0
 * after a stop, 1 when it could not start (logged). */
int hub_run(const struct hub_config *cfg);

/* The verifier an account stores for password: the public key of the
 * account key pair hubsec_account_key() derives (Argon2id, interactive
 * limits, then Ed25519). Returns 0 or -ENOMEM (the hash's memory). */
int hub_verifier(const uint8_t *password, size_t len, const uint8_t salt[16], uint8_t verifier[32]);

#endif
