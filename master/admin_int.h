/*
 * admin_int: what the admin socket's transport (admin.c) and its commands
 * (admin_cmd.c) share. Not for the rest of ferryd: that is admin.h.
 */
#ifndef FERRY_ADMIN_INT_H
#define FERRY_ADMIN_INT_H

#include "master/admin.h"

#include <jansson.h>

struct admin_conn {
    uv_pipe_t pipe;
    struct admin *a;
    struct admin_conn *next;
    bool control; /* may use control commands */
    bool closing;
    size_t discard;  /* > 0: cut off; bytes still to drop before closing */
    bool in_lines;   /* admin_lines() is on the stack */
    bool subscribed; /* an event stream now: input is ignored */
    uint64_t token;  /* != 0: pending holds an answer still to come */
    json_t *pending;
    pid_t pid;
    uid_t uid;
    size_t len;
    char buf[ADMIN_LINE_MAX + 1];
};

/* A command handler: 0 (resp answers), -1 (resp holds the error) or 1
 * (the answer comes later: resp now belongs to the connection). */
typedef int (*admin_fn)(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);

/* A command: its name, whether it is a control command (owner and root
 * only), its handler and what to do once it was answered, if ok. */
struct admin_cmd {
    const char *name;
    bool control; /* false: read-only, open to --admin-group */
    admin_fn fn;
    void (*after)(struct admin *a, json_t *req);
};

/* Returns the command named name, or NULL. */
const struct admin_cmd *admin_cmd_find(const char *name);

/* A new answer: {"ok": false, "schema": 1}, for a command to fill ("ok"
 * is settled once it ran). */
json_t *admin_response(void);

/* Records a stable error code and a human message in resp; returns -1. */
int admin_fail(json_t *resp, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An ISO-8601 UTC time, or null for 0. */
json_t *admin_time(int64_t unix_s);

#endif
