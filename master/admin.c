/*
 * admin: the JSON admin socket's transport: the socket, connections and
 * their limits, line framing, answers, deferred answers and events. The
 * commands are admin_cmd.c. See admin.h and docs/ADMIN.md.
 */
#include "master/admin_int.h"

#include "common/addr.h"
#include "common/adminpath.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- responses --------------------------------------------------------- */

static void admin_conn_free(uv_handle_t *h)
{
    free(h->data);
}

/* Closes c (at once; pending writes are dropped) and unlinks it. */
static void admin_conn_close(struct admin_conn *c)
{
    struct admin_conn **pp;

    if (c->closing)
        return;
    c->closing = true;
    c->a->subscribers -= c->subscribed;
    json_decref(c->pending); /* a resize finishing later finds no one */
    c->pending = NULL;
    c->token = 0;
    for (pp = &c->a->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&c->pipe, admin_conn_free);
}

static void admin_after_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

/* Ends c's output once what was queued has been written; the connection
 * closes when the client closes its end (or the discard bound is hit). */
static void admin_half_close(struct admin_conn *c)
{
    uv_shutdown_t *req = malloc(sizeof(*req));

    if (req == NULL || c->closing ||
        uv_shutdown(req, (uv_stream_t *)&c->pipe, admin_after_shutdown) < 0) {
        free(req);
        admin_conn_close(c);
    }
}

struct admin_write {
    uv_write_t req;
    char *text;
};

static void admin_after_write(uv_write_t *req, int status)
{
    struct admin_write *w = (struct admin_write *)req;

    (void)status;
    free(w->text);
    free(w);
}

/* Queues len bytes of text (malloc'd, ending in '\n'; taken over) to c. A
 * client that lets too much pile up unread is cut off rather than allowed
 * to grow memory. */
static void admin_send_text(struct admin_conn *c, char *text, size_t len)
{
    struct admin_write *w;
    uv_buf_t buf;

    if (c->closing) {
        free(text);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > ADMIN_QUEUE_MAX) {
        log_warn("admin: client pid %ld does not read its answers: cutting it off", (long)c->pid);
        free(text);
        admin_conn_close(c);
        return;
    }
    w = malloc(sizeof(*w));
    if (w == NULL) {
        free(text);
        admin_conn_close(c);
        return;
    }
    w->text = text;
    buf = uv_buf_init(text, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, admin_after_write) < 0) {
        admin_after_write(&w->req, 0);
        admin_conn_close(c);
    }
}

/* Dumps j as one line: malloc'd text ending in '\n', its length in *len. */
static char *admin_dump(json_t *j, size_t *len)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));

    if (text == NULL)
        return NULL;
    *len = strlen(text);
    text[(*len)++] = '\n'; /* json_dumps' NUL becomes the line end */
    return text;
}

/* Queues resp as one line to c, and frees resp. */
static void admin_send(struct admin_conn *c, json_t *resp)
{
    size_t len;
    char *text = admin_dump(resp, &len);

    json_decref(resp);
    if (text != NULL)
        admin_send_text(c, text, len);
}

/* ---- events and deferred answers --------------------------------------- */

static void admin_lines(struct admin_conn *c);
static void admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void admin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

bool admin_wants_events(const struct admin *a)
{
    return a->listening && a->subscribers > 0;
}

void admin_event(struct admin *a, const char *name, json_t *fields)
{
    json_t *ev = json_object();
    char *text;
    size_t len;

    json_object_set_new(ev, "event", json_string(name));
    json_object_set_new(ev, "schema", json_integer(ADMIN_SCHEMA));
    json_object_set_new(ev, "time", admin_time(time(NULL)));
    if (fields != NULL)
        json_object_update(ev, fields);
    json_decref(fields);
    text = admin_dump(ev, &len);
    json_decref(ev);
    if (text == NULL || !admin_wants_events(a)) {
        free(text);
        return;
    }
    for (struct admin_conn *c = a->conns, *next; c != NULL; c = next) {
        char *copy;

        next = c->next; /* sending may close and unlink c */
        if (!c->subscribed || (copy = malloc(len)) == NULL)
            continue;
        memcpy(copy, text, len);
        admin_send_text(c, copy, len);
    }
    free(text);
}

void admin_answer(struct admin *a, uint64_t token, json_t *fields, const char *error,
                  const char *message)
{
    struct admin_conn *c;
    json_t *resp;

    for (c = a->conns; c != NULL && c->token != token; c = c->next)
        ;
    if (token == 0 || c == NULL) { /* nobody waits, or the client left */
        json_decref(fields);
        return;
    }
    resp = c->pending;
    c->pending = NULL;
    c->token = 0;
    json_object_update(resp, fields);
    json_decref(fields);
    if (error != NULL)
        admin_fail(resp, error, "%s", message);
    else
        json_object_set_new(resp, "ok", json_true());
    admin_send(c, resp);
    if (!c->in_lines && !c->closing) { /* requests that waited behind it */
        admin_lines(c);
        uv_read_start((uv_stream_t *)&c->pipe, admin_alloc, admin_read);
    }
}

void admin_resize_done(struct admin *a, uint64_t token, const struct admin_resize_result *r)
{
    admin_answer(a, token,
                 json_pack("{s:i,s:i,s:i,s:i,s:i,s:f}", "from", r->from, "to", r->to, "started",
                           r->started, "retired", r->retired, "killed", r->killed, "time_s",
                           (double)llround(r->seconds * 1e3) / 1e3),
                 NULL, NULL);
}

/* Answers one request line. */
static void admin_line(struct admin_conn *c, const char *line, size_t len)
{
    const struct admin_cmd *cmd = NULL;
    json_t *req, *resp = admin_response(), *name;
    json_error_t jerr;
    int rc;

    req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL)
        rc =
            admin_fail(resp, "bad_json", "malformed JSON at column %d: %s", jerr.column, jerr.text);
    else if (!json_is_object(req))
        rc = admin_fail(resp, "bad_request", "a request is a JSON object");
    else if (!json_is_string(name = json_object_get(req, "cmd")))
        rc = admin_fail(resp, "bad_request", "a request names its command in \"cmd\"");
    else if ((cmd = admin_cmd_find(json_string_value(name))) == NULL)
        rc = admin_fail(resp, "unknown_command", "no command \"%.64s\"", json_string_value(name));
    else if (cmd->control && !c->control)
        rc = admin_fail(resp, "permission_denied", "\"%s\" is for the owner and root", cmd->name);
    else
        rc = cmd->fn(c->a, c, req, resp);
    if (rc < 0 && cmd != NULL && cmd->control && !c->control)
        log_warn("admin: denied \"%s\" to uid %ld (pid %ld)", cmd->name, (long)c->uid,
                 (long)c->pid);
    if (rc == 1) { /* answered later, by admin_resize_done() */
        json_decref(req);
        return;
    }
    json_object_set_new(resp, "ok", json_boolean(rc == 0));
    admin_send(c, resp);
    if (rc == 0 && cmd->after != NULL)
        cmd->after(c->a, req);
    json_decref(req);
}

static void admin_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct admin_conn *c = h->data;

    (void)suggested;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

/* Answers every complete line in the buffer; keeps the partial rest. */
static void admin_lines(struct admin_conn *c)
{
    char *start = c->buf, *nl;

    /* While an answer is pending, later requests wait: answers stay in order. */
    c->in_lines = true;
    while (!c->closing && c->token == 0 && !c->subscribed &&
           (nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
        if (nl > start)
            admin_line(c, start, (size_t)(nl - start));
        start = nl + 1;
    }
    c->in_lines = false;
    c->len -= (size_t)(start - c->buf);
    memmove(c->buf, start, c->len);
}

static void admin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct admin_conn *c = s->data;
    json_t *resp;

    (void)buf;
    if (nread < 0 || (c->discard > 0 && (size_t)nread >= c->discard)) {
        admin_conn_close(c);
        return;
    }
    if (c->discard > 0) { /* cut off: drop input until the client closes */
        c->discard -= (size_t)nread;
        return;
    }
    c->len += (size_t)nread;
    admin_lines(c);
    if (c->subscribed) { /* an event stream: what the client sends is dropped */
        c->len = 0;
        return;
    }
    if (!c->closing && c->len == sizeof(c->buf) && c->token != 0) {
        uv_read_stop(s); /* whole requests wait behind a pending answer */
        return;
    }
    if (!c->closing && c->len == sizeof(c->buf)) {
        log_warn("admin: request line over %d bytes from pid %ld: cut off", ADMIN_LINE_MAX,
                 (long)c->pid);
        resp = admin_response();
        admin_fail(resp, "line_too_long", "a request line may not exceed %d bytes", ADMIN_LINE_MAX);
        admin_send(c, resp);
        /* Closing with unread input would reset the client before it reads
         * the answer: half-close, then drop what it still sends (bounded). */
        c->len = 0;
        c->discard = ADMIN_QUEUE_MAX;
        admin_half_close(c);
    }
}

/* ---- connections ------------------------------------------------------- */

/* True when pid's process has gid among its groups (/proc, since
 * SO_PEERCRED reports only the primary group). */
static bool admin_peer_in_group(pid_t pid, gid_t primary, gid_t group)
{
    char path[64], line[1024];
    bool found = primary == group;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (found || (f = fopen(path, "re")) == NULL)
        return found;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *p = line + 7, *end;

        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        for (unsigned long g; (g = strtoul(p, &end, 10)), end != p; p = end)
            found |= (gid_t)g == group;
    }
    fclose(f);
    return found;
}

/* Decides what the peer may do. Returns false when it may do nothing. */
static bool admin_identify(struct admin *a, struct admin_conn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return false;
    c->pid = cred.pid;
    c->uid = cred.uid;
    c->control = cred.uid == 0 || cred.uid == a->owner;
    return c->control ||
           (a->group != (gid_t)-1 && admin_peer_in_group(cred.pid, cred.gid, a->group));
}

#define ADMIN_ACCEPT_PAUSE_MS 100 /* out of descriptors: retry after */

static void admin_on_listen(uv_poll_t *h, int status, int events);

static void admin_on_unpause(uv_timer_t *t)
{
    struct admin *a = t->data;

    if (a->listening && !a->released && !a->held)
        uv_poll_start(&a->server, UV_READABLE, admin_on_listen);
}

/* accept() failed for want of descriptors or memory. The client waits in
 * the backlog (libuv's own accept would close it unseen): pause, retry,
 * and say so once per interval. */
static void admin_accept_pause(struct admin *a, int err)
{
    unsigned missed;

    if (log_rl_allow(&a->accept_rl, clock_now_ns(), &missed))
        log_warn("admin: cannot accept a connection: %s: retrying every %d ms (%u more since "
                 "the last report)",
                 strerror(err), ADMIN_ACCEPT_PAUSE_MS, missed);
    uv_poll_stop(&a->server);
    uv_timer_start(&a->unpause, admin_on_unpause, ADMIN_ACCEPT_PAUSE_MS, 0);
}

/* A connection was accepted: if accepting had been paused, say it is over. */
static void admin_accept_resumed(struct admin *a)
{
    unsigned failures;
    double secs;

    if (log_rl_end(&a->accept_rl, clock_now_ns(), &secs, &failures))
        log_info("admin: accepting again after %.1f s paused (%u failed accepts)", secs, failures);
}

/* Takes over the accepted socket fd as a client connection. */
static void admin_conn_open(struct admin *a, int fd)
{
    struct admin_conn *c = calloc(1, sizeof(*c));
    json_t *resp;

    if (c == NULL) {
        close(fd);
        admin_accept_pause(a, ENOMEM);
        return;
    }
    c->a = a;
    uv_pipe_init(a->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = a->conns;
    a->conns = c;
    if (uv_pipe_open(&c->pipe, fd) < 0) {
        close(fd);
        admin_conn_close(c);
        return;
    }
    if (!admin_identify(a, c)) {
        log_warn("admin: denied a connection from uid %ld (pid %ld)", (long)c->uid, (long)c->pid);
        resp = admin_response();
        admin_fail(resp, "permission_denied", "this socket is for its owner, root%s",
                   a->group != (gid_t)-1 ? " and the admin group" : "");
        admin_send(c, resp);
        c->discard = ADMIN_QUEUE_MAX;
        admin_half_close(c);
    }
    uv_read_start((uv_stream_t *)&c->pipe, admin_alloc, admin_read);
}

/* The socket is readable: accepts what is pending (a bounded batch). */
static void admin_on_listen(uv_poll_t *h, int status, int events)
{
    struct admin *a = h->data;

    (void)status;
    (void)events;
    for (int i = 0; i < 16; i++) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd >= 0) {
            admin_accept_resumed(a);
            admin_conn_open(a, fd);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            admin_accept_pause(a, errno);
            return;
        } else if (errno != ECONNABORTED && errno != EINTR) {
            return; /* EAGAIN: nothing more pending */
        }
    }
}

static void admin_on_sample(uv_timer_t *t)
{
    struct admin *a = t->data;

    if (snap_take(a->sb, &a->snap) == 0)
        snap_history_add(&a->hist, &a->snap);
}

/* ---- the socket -------------------------------------------------------- */

int admin_default_path(char *buf, size_t len, unsigned port)
{
    if (geteuid() == 0)
        mkdir("/run/ferry", 0755); /* EEXIST is fine; bind reports the rest */
    return apath_default(port, buf, len);
}

/* Makes path free to bind: absent, or a stale socket nobody answers on
 * (removed). Returns 0, -EADDRINUSE (a live server), -EEXIST (not a
 * socket) or -errno. */
static int admin_claim_path(const struct sockaddr_un *sun)
{
    struct stat st;
    int fd, rc;

    if (lstat(sun->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
    close(fd);
    if (rc == 0)
        return -EADDRINUSE;
    if (errno != ECONNREFUSED)
        return -errno;
    return unlink(sun->sun_path) < 0 ? -errno : 0;
}

/*
 * Locks the directory that will hold path (flock), so that two ferryd
 * starting on one path cannot both find a stale socket and the second
 * remove the first's fresh one. Returns the lock's fd (close it to
 * unlock), or -1 when the directory cannot be opened or stays locked for
 * a second (then no lock: bind still fails on a live path).
 */
#define ADMIN_LOCK_TRIES 100 /* x 10 ms */

static int admin_lock_dir(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');
    int fd;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Anyone who can open the directory can hold a lock on it: wait a
     * second at most, then go on without (bind still fails on a live path). */
    for (int i = 0; fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
        if (errno != EWOULDBLOCK || i == ADMIN_LOCK_TRIES) {
            close(fd);
            fd = -1;
            break;
        }
        usleep(10000);
    }
    return fd;
}

/* Claims path, binds and listens with the right mode. Returns the fd or
 * -errno. */
static int admin_listen_fd_locked(const char *path, gid_t group)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    mode_t old;
    int fd, rc;

    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, path);
    if ((rc = admin_claim_path(&sun)) < 0)
        return rc;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* The mode is set at bind time: no window with a wider one. */
    old = umask(group != (gid_t)-1 ? 0117 : 0177);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc < 0) {
        /* Not ours: a racing ferryd may have bound it meanwhile. */
        rc = errno == EADDRINUSE ? -EADDRINUSE : -errno;
        close(fd);
        return rc;
    }
    if ((group != (gid_t)-1 && chown(path, (uid_t)-1, group) < 0) || listen(fd, 64) < 0) {
        rc = -errno;
        close(fd);
        unlink(path); /* ours: bound just now */
        return rc;
    }
    return fd;
}

/* Binds and listens on path with the right mode, the claim and the bind
 * made under the directory's lock. Returns the fd or -errno. */
static int admin_listen_fd(const char *path, gid_t group)
{
    int lock = admin_lock_dir(path), fd = admin_listen_fd_locked(path, group);

    if (lock >= 0)
        close(lock);
    return fd;
}

/* Starts accepting on the bound socket fd and the once-a-second sampler.
 * Returns 0 or a libuv error (-errno); fd then stays the caller's. */
static int admin_start(struct admin *a, uv_loop_t *loop, int fd)
{
    int rc;

    if ((rc = uv_poll_init(loop, &a->server, fd)) < 0)
        return rc;
    a->server.data = a;
    a->fd = fd;
    if ((rc = uv_poll_start(&a->server, UV_READABLE, admin_on_listen)) < 0) {
        uv_close((uv_handle_t *)&a->server, NULL);
        return rc;
    }
    uv_timer_init(loop, &a->unpause);
    a->unpause.data = a;
    uv_timer_init(loop, &a->sampler);
    a->sampler.data = a;
    uv_timer_start(&a->sampler, admin_on_sample, 0, 1000);
    return 0;
}

int admin_open(struct admin *a, uv_loop_t *loop, const char *path, gid_t group,
               const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
               const struct admin_ops *ops, void *ops_ctx)
{
    return admin_open_fd(a, loop, path, -1, group, cfg, sb, ls, ops, ops_ctx);
}

int admin_open_fd(struct admin *a, uv_loop_t *loop, const char *path, int fd, gid_t group,
                  const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
                  const struct admin_ops *ops, void *ops_ctx)
{
    bool handed_down = fd >= 0;
    int rc;

    memset(a, 0, sizeof(*a));
    if (snprintf(a->path, sizeof(a->path), "%s", path) >= (int)sizeof(a->path))
        return -ENAMETOOLONG;
    if (snap_init(&a->snap, sb->nslots, sb->conns_per_slot) < 0 ||
        snap_history_init(&a->hist, sb->nslots, sb->conns_per_slot) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    if (fd < 0) /* none handed down: bind the path */
        fd = admin_listen_fd(path, group);
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    a->loop = loop;
    a->cfg = cfg;
    a->sb = sb;
    /* A socket handed down is the path of the master before too: it is
     * left in place unless this one is told it owns it (pool_finish). */
    a->keep_path = handed_down;
    a->owner = geteuid();
    a->group = group;
    a->ops = ops;
    a->ops_ctx = ops_ctx;
    a->ls = ls;
    a->accept_rl.interval_ns = LOG_RL_INTERVAL_NS;
    if ((rc = admin_start(a, loop, fd)) < 0) {
        close(fd);
        if (!handed_down)
            unlink(path);
        goto fail; /* libuv's errors are -errno on Unix */
    }
    a->listening = true;
    if (ls->nweb > 0 && (rc = webstat_start(&a->web, loop, a, ls->web_fds, ls->nweb)) < 0) {
        admin_close(a);
        return rc;
    }
    return 0;
fail:
    snap_free(&a->snap);
    snap_history_free(&a->hist);
    return rc;
}

const char *admin_strerror(int rc)
{
    if (rc == -EADDRINUSE)
        return "in use by another running ferryd";
    if (rc == -EEXIST)
        return "exists and is not a socket";
    return strerror(-rc);
}

void admin_close(struct admin *a)
{
    if (!a->listening)
        return;
    a->listening = false;
    webstat_stop(&a->web);
    while (a->conns != NULL)
        admin_conn_close(a->conns);
    if (!a->released) {
        uv_close((uv_handle_t *)&a->server, NULL);
        close(a->fd); /* a poll handle does not own its descriptor */
        a->fd = -1;
        if (!a->keep_path)
            unlink(a->path);
    }
    uv_close((uv_handle_t *)&a->unpause, NULL);
    uv_close((uv_handle_t *)&a->sampler, NULL);
    snap_free(&a->snap);
    snap_history_free(&a->hist);
}

void admin_hold(struct admin *a, bool hold)
{
    if (!a->listening || a->released || a->held == hold)
        return;
    a->held = hold;
    if (hold)
        uv_poll_stop(&a->server);
    else
        uv_poll_start(&a->server, UV_READABLE, admin_on_listen);
}

void admin_release(struct admin *a)
{
    if (!a->listening || a->released)
        return;
    a->released = true;
    webstat_stop(&a->web); /* the metrics listeners go with it (their fds: the caller's) */
    uv_timer_stop(&a->unpause);
    uv_close((uv_handle_t *)&a->server, NULL);
    close(a->fd);
    a->fd = -1;
}

/* ---- a loop of its own (iterative mode) -------------------------------- */

static void admin_thread_on_stop(uv_async_t *h)
{
    struct admin_thread *t = h->data;

    admin_close(&t->admin);
    uv_close((uv_handle_t *)&t->stop, NULL);
}

static void *admin_thread_main(void *arg)
{
    struct admin_thread *t = arg;

    uv_run(&t->loop, UV_RUN_DEFAULT);
    return NULL;
}

int admin_thread_open(struct admin_thread *t, const char *path, gid_t group,
                      const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
                      const struct admin_ops *ops, void *ops_ctx)
{
    int rc;

    if ((rc = uv_loop_init(&t->loop)) < 0)
        return rc;
    rc = admin_open(&t->admin, &t->loop, path, group, cfg, sb, ls, ops, ops_ctx);
    if (rc < 0) {
        uv_run(&t->loop, UV_RUN_DEFAULT); /* finishes closing what admin_open began */
        uv_loop_close(&t->loop);
        return rc;
    }
    uv_async_init(&t->loop, &t->stop, admin_thread_on_stop);
    t->stop.data = t;
    return 0;
}

int admin_thread_run(struct admin_thread *t, bool go)
{
    sigset_t all, old;
    int rc = -ECANCELED;

    if (go) {
        /* Signals belong to the serving thread: the new one starts with all
         * blocked, but SIGSYS, its own seccomp trap (worker/sandbox.h): a
         * blocked one would kill unheard, the call neither recorded nor named. */
        sigfillset(&all);
        sigdelset(&all, SIGSYS);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = -pthread_create(&t->tid, NULL, admin_thread_main, t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (rc < 0) {
        admin_thread_on_stop(&t->stop);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        uv_loop_close(&t->loop);
    }
    return rc;
}

int admin_thread_start(struct admin_thread *t, const char *path, gid_t group,
                       const struct config *cfg, struct scoreboard *sb, const struct listeners *ls,
                       const struct admin_ops *ops, void *ops_ctx)
{
    int rc = admin_thread_open(t, path, group, cfg, sb, ls, ops, ops_ctx);

    return rc < 0 ? rc : admin_thread_run(t, true);
}

void admin_thread_stop(struct admin_thread *t)
{
    uv_async_send(&t->stop);
    pthread_join(t->tid, NULL);
    uv_loop_close(&t->loop);
}
