/*
 * fuzz_admin: the admin socket's request handling (master/admin.c,
 * master/admin_cmd.c, master/hubadmin.c): the line framing, the JSON
 * request (jansson, duplicates rejected), the command table and every
 * command's argument parsing, driven through a real admin socket in a
 * temporary directory, as tests/unit/test_admin.c does, with stub pool
 * operations. Each input is what one client writes (a '\n' is added at
 * the end); the client is the socket's owner, so control commands run.
 *
 * The stub pool: a resize with drain_timeout_s 13 is busy, 14 finds the
 * pool stopping; otherwise an odd target finishes at once (inside the
 * call) and an even one later, once the loop is idle, so that answers
 * that wait behind it are exercised. No hub database: hub-* commands
 * check their arguments, then answer no_hub. The scoreboard holds a small
 * pool (three workers, three connections) for status, workers,
 * connections and metrics to report on.
 *
 * Invariants: every non-empty request line gets exactly one answer line,
 * in order (none after "subscribe", which turns the connection into an
 * event stream), and no more; each answer is a JSON object with a boolean
 * "ok" and "schema": 1, and a failure carries a known "error" code and a
 * "message". Which stage refuses a line agrees with an independent
 * reading: not JSON (duplicate keys included) is bad_json, not an object
 * or no string "cmd" is bad_request, a "cmd" that is not exactly a
 * command's name is unknown_command; ping and subscribe always succeed;
 * an accepted resize's target is within 1..--max-children.
 */
#include "fuzz/fuzz.h"

#include "common/clock.h"
#include "common/log.h"
#include "master/admin.h"
#include "master/admin_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define INPUT_MAX (16 * 1024) /* far below ADMIN_LINE_MAX: line_too_long is not ours */

static struct {
    uv_loop_t loop;
    struct admin admin;
    struct scoreboard *sb;
    struct config cfg;
    struct listeners ls;
    char dir[80], path[96];
    uint64_t deferred; /* a resize to finish once the loop is idle */
    unsigned deferred_to;
} fx;

static enum admin_state stub_state(void *ctx)
{
    (void)ctx;
    return ADMIN_RUNNING;
}

static void stub_shutdown(void *ctx, bool graceful, int timeout_s)
{
    (void)ctx, (void)graceful, (void)timeout_s;
}

static unsigned stub_stop_timeout(void *ctx)
{
    (void)ctx;
    return 30;
}

static int stub_reopen(void *ctx)
{
    (void)ctx;
    return 0;
}

static unsigned stub_target(void *ctx)
{
    (void)ctx;
    return 2;
}

static int stub_resize(void *ctx, unsigned workers, unsigned drain_s, uint64_t token)
{
    struct admin_resize_result r = {.from = 2, .to = workers, .seconds = 0.25};

    (void)ctx;
    FUZZ_CHECK(workers >= 1 && workers <= cfg_max_workers(&fx.cfg));
    if (drain_s == 13)
        return -EBUSY;
    if (drain_s == 14)
        return -ESHUTDOWN;
    if (token != 0 && workers % 2 == 1) {
        admin_resize_done(&fx.admin, token, &r); /* "the pool may finish at once" */
    } else if (token != 0) {
        FUZZ_CHECK(fx.deferred == 0); /* one answer pending per connection at most */
        fx.deferred = token;
        fx.deferred_to = workers;
    }
    return 0;
}

static const struct admin_ops stub_ops = {
    .state = stub_state,
    .shutdown = stub_shutdown,
    .stop_timeout = stub_stop_timeout,
    .reopen_logs = stub_reopen,
    .target = stub_target,
    .resize = stub_resize,
};

/* A pool to report on, as test_admin.c's event_pool(): two listeners, three
 * workers, slot 0 sending one file and reading a request, slot 1 holding a
 * kept-alive connection, slot 2 idle. */
static void fake_pool(void)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(1111)};
    struct sockaddr_in6 v6 = {
        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(2222)};
    struct scoreboard *sb = fx.sb;
    struct sb_conn *r;

    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    fx.ls.fds[0] = fx.ls.fds[1] = -1;
    fx.ls.n = 2;
    fx.ls.proto[0] = PROTO_NATIVE;
    strcpy(fx.ls.names[0], "127.0.0.1:4242");
    fx.ls.proto[1] = PROTO_HTTP;
    strcpy(fx.ls.names[1], "[::1]:8080");
    for (int i = 0; i < 3; i++)
        if (sb_claim(sb, SB_KIND_WORKER) != i)
            abort();
        else
            sb_worker_start(&sb->slots[i], 100 + i);
    r = sb_rec(sb, 0, 0);
    sb_conn_begin(&sb->slots[0], r, 0, 0, (struct sockaddr *)&v4, clock_now_ns());
    sb_req_answer(&sb->slots[0], r, SB_OUT_OK, "big", 1000, SB_WAITING);
    sb_conn_state(r, SB_SENDING);
    sb_conn_progress(&sb->slots[0], r, 100);
    r = sb_rec(sb, 0, 2);
    sb_conn_begin(&sb->slots[0], r, 2, 1, (struct sockaddr *)&v6, clock_now_ns());
    sb_conn_received(r, 5);
    r = sb_rec(sb, 1, 0);
    sb_conn_begin(&sb->slots[1], r, 0, 1, (struct sockaddr *)&v6, clock_now_ns());
    sb_req_answer(&sb->slots[1], r, SB_OUT_OK, "/x", 3, SB_SENDING);
    sb_conn_progress(&sb->slots[1], r, 3);
    sb_req_next(r, SB_KEEPALIVE);
}

static void cleanup(void)
{
    admin_close(&fx.admin);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    uv_loop_close(&fx.loop);
    sb_destroy(fx.sb);
    rmdir(fx.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    /* Under $TMPDIR when it is short: fuzz/run.sh points it at its own
     * temporary directory, so that a crashed run leaves nothing behind. */
    if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 40)
        tmp = "/tmp";
    snprintf(fx.dir, sizeof(fx.dir), "%s/ferry-fuzz-admin-XXXXXX", tmp);
    if (mkdtemp(fx.dir) == NULL)
        abort();
    snprintf(fx.path, sizeof(fx.path), "%s/a.sock", fx.dir);
    fx.cfg.max_children = 8;
    fx.cfg.shutdown_timeout = 30;
    fx.sb = sb_create(8, 4);
    if (fx.sb == NULL)
        abort();
    fake_pool();
    if (uv_loop_init(&fx.loop) != 0 || admin_open(&fx.admin, &fx.loop, fx.path, (gid_t)-1, &fx.cfg,
                                                  fx.sb, &fx.ls, &stub_ops, NULL) != 0)
        abort();
    atexit(cleanup);
    return 0;
}

/* What a line's answer must be, as far as the first stages decide it. */
struct expect {
    const char *error; /* the stage's error, or NULL: the command's own */
    const char *cmd;   /* the command, when it is one */
};

static struct expect expect_of(const char *line, size_t len)
{
    struct expect e = {NULL, NULL};
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *cmd;

    if (req == NULL) {
        e.error = "bad_json";
        return e;
    }
    cmd = json_object_get(req, "cmd");
    if (!json_is_object(req) || !json_is_string(cmd)) {
        e.error = "bad_request";
    } else {
        /* The dispatch table itself: a command added there is fuzzed here.
         * A name is a C string: jansson refuses "\u0000" without
         * JSON_ALLOW_NUL, here as in the daemon. */
        const struct admin_cmd *c = admin_cmd_find(json_string_value(cmd));

        e.cmd = c != NULL ? c->name : NULL;
        e.error = c != NULL ? NULL : "unknown_command";
    }
    json_decref(req);
    return e;
}

static bool known_error(const char *code)
{
    static const char *const codes[] = {"bad_argument", "out_of_range", "no_hub",
                                        "unsupported",  "busy",         "stopping",
                                        "io_error",     "exists",       "not_found"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

static void check_answer(const char *text, size_t len, const struct expect *e)
{
    json_t *resp = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ok = json_object_get(resp, "ok");
    const char *err = json_string_value(json_object_get(resp, "error"));

    FUZZ_CHECK(json_is_object(resp) && json_is_boolean(ok));
    FUZZ_CHECK(json_integer_value(json_object_get(resp, "schema")) == ADMIN_SCHEMA);
    if (json_is_false(ok))
        FUZZ_CHECK(err != NULL && json_is_string(json_object_get(resp, "message")));
    if (e->error != NULL) {
        FUZZ_CHECK(json_is_false(ok) && strcmp(err, e->error) == 0);
    } else if (json_is_false(ok)) {
        FUZZ_CHECK(known_error(err));
        FUZZ_CHECK(strcmp(e->cmd, "ping") != 0 && strcmp(e->cmd, "subscribe") != 0);
    } else if (strcmp(e->cmd, "resize") == 0 && json_object_get(resp, "to") != NULL) {
        json_int_t to = json_integer_value(json_object_get(resp, "to"));
        FUZZ_CHECK(to >= 1 && to <= (json_int_t)cfg_max_workers(&fx.cfg));
    }
    json_decref(resp);
}

static int client_connect(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    strcpy(sun.sun_path, fx.path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        abort();
    return fd;
}

/* Pumps the loop until n answer lines arrived on fd; returns them (malloc'd). */
static char *read_answers(int fd, size_t n, size_t *len)
{
    size_t cap = 65536, got = 0, lines = 0;
    char *buf = malloc(cap);

    for (int spins = 0; lines < n; spins++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        FUZZ_CHECK(spins < 20000); /* an answer that never comes */
        uv_run(&fx.loop, UV_RUN_NOWAIT);
        if (fx.deferred != 0) {
            struct admin_resize_result res = {.from = 2, .to = fx.deferred_to};
            uint64_t token = fx.deferred;

            fx.deferred = 0;
            admin_resize_done(&fx.admin, token, &res);
        }
        if (poll(&p, 1, 0) != 1)
            continue;
        if (cap - got < 4096)
            buf = realloc(buf, cap *= 2);
        r = read(fd, buf + got, cap - got);
        FUZZ_CHECK(r > 0); /* the server never closes on a well-formed client */
        for (ssize_t i = 0; i < r; i++)
            lines += buf[got + (size_t)i] == '\n';
        got += (size_t)r;
    }
    *len = got;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct expect expects[INPUT_MAX];
    char *in, *answers, *a;
    size_t n = 0, alen = 0, start = 0;
    int fd;

    if (size > INPUT_MAX)
        return 0;
    in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\n';
    for (size_t i = 0; i <= size; i++) { /* the lines, up to a subscribe */
        if (in[i] != '\n')
            continue;
        if (i > start) {
            const char *cmd = (expects[n++] = expect_of(in + start, i - start)).cmd;

            if (cmd != NULL && strcmp(cmd, "subscribe") == 0)
                break; /* the stream of events that follows is no answer */
        }
        start = i + 1;
    }
    fd = client_connect();
    FUZZ_CHECK(write(fd, in, size + 1) == (ssize_t)size + 1);
    answers = read_answers(fd, n, &alen);
    a = answers;
    for (size_t k = 0; k < n; k++) {
        char *nl = memchr(a, '\n', alen - (size_t)(a - answers));
        check_answer(a, (size_t)(nl - a), &expects[k]);
        a = nl + 1;
    }
    FUZZ_CHECK(a == answers + alen); /* nothing more than one answer per line */
    uv_run(&fx.loop, UV_RUN_NOWAIT);
    FUZZ_CHECK(recv(fd, answers, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN); /* nor later */
    close(fd);
    for (int spins = 0; fx.admin.conns != NULL; spins++) {
        FUZZ_CHECK(spins < 20000);
        uv_run(&fx.loop, UV_RUN_NOWAIT);
    }
    FUZZ_CHECK(fx.deferred == 0);
    free(answers);
    free(in);
    return 0;
}
