/* Unit tests for master/admin: request parsing and validation, driven
 * in-process through a real admin socket in a temporary directory, with
 * stub pool operations. Every error path of the request handling. */
#include "master/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

struct stub {
    enum admin_state state;
    unsigned stop_timeout;
    unsigned target;
    int resize_rc;
    unsigned resized_to, drained;
    int shutdowns;
    bool graceful;
};

static enum admin_state stub_state(void *ctx)
{
    return ((struct stub *)ctx)->state;
}

static unsigned stub_stop_timeout(void *ctx)
{
    return ((struct stub *)ctx)->stop_timeout;
}

static void stub_shutdown(void *ctx, bool graceful, int timeout_s)
{
    struct stub *s = ctx;
    (void)timeout_s;
    s->shutdowns++;
    s->graceful = graceful;
}

static int stub_reopen(void *ctx)
{
    (void)ctx;
    return 0;
}

static unsigned stub_target(void *ctx)
{
    return ((struct stub *)ctx)->target;
}

static int stub_resize(void *ctx, unsigned workers, unsigned drain_s, uint64_t token)
{
    struct stub *s = ctx;
    (void)token;
    s->resized_to = workers;
    s->drained = drain_s;
    return s->resize_rc; /* never completes: tests use "wait": false */
}

static const struct admin_ops stub_ops = {
    .state = stub_state,
    .shutdown = stub_shutdown,
    .stop_timeout = stub_stop_timeout,
    .reopen_logs = stub_reopen,
    .target = stub_target,
    .resize = stub_resize,
};

struct fixture {
    uv_loop_t loop;
    struct admin admin;
    struct scoreboard *sb;
    struct config cfg;
    struct listeners ls; /* none unless a test sets some: sockets closed */
    struct stub stub;
    char dir[64], path[96];
    int fd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};

    strcpy(f->dir, "/tmp/ferry-test-admin-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/a.sock", f->dir);
    f->cfg.max_children = 8;
    f->cfg.shutdown_timeout = 30;
    f->stub.target = 2;
    f->sb = sb_create(8);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(admin_open(&f->admin, &f->loop, f->path, (gid_t)-1, &f->cfg, f->sb, &f->ls,
                                &stub_ops, &f->stub),
                     0);
    strcpy(sun.sun_path, f->path);
    f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(f->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    close(f->fd);
    admin_close(&f->admin);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* let the handles finish closing */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sb_destroy(f->sb);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Sends line and pumps the loop until one answer line is back. */
static json_t *ask(struct fixture *f, const char *line)
{
    char buf[65536];
    size_t len = 0;

    assert_int_equal(write(f->fd, line, strlen(line)), (ssize_t)strlen(line));
    assert_int_equal(write(f->fd, "\n", 1), 1);
    for (int spins = 0; spins < 10000; spins++) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (poll(&p, 1, 1) == 1) {
            ssize_t n = read(f->fd, buf + len, sizeof(buf) - len - 1);
            assert_true(n > 0);
            len += (size_t)n;
            if (memchr(buf, '\n', len) != NULL)
                return json_loadb(buf, len, 0, NULL);
        }
    }
    fail_msg("no answer to %s", line);
    return NULL;
}

/* Every way a request can be wrong, and the code it gets. */
static void test_error_paths(void **state)
{
    static const struct {
        const char *line, *error;
    } cases[] = {
        {"{", "bad_json"},
        {"nonsense", "bad_json"},
        {"{\"cmd\":\"ping\",\"cmd\":\"status\"}", "bad_json"},
        {"[\"ping\"]", "bad_request"},
        {"\"ping\"", "bad_json"},
        {"{}", "bad_request"},
        {"{\"cmd\":null}", "bad_request"},
        {"{\"cmd\":[]}", "bad_request"},
        {"{\"cmd\":\"PING\"}", "unknown_command"},
        {"{\"cmd\":\"frobnicate\"}", "unknown_command"},
        {"{\"cmd\":\"shutdown\",\"graceful\":1}", "bad_argument"},
        {"{\"cmd\":\"shutdown\",\"timeout_s\":1.5}", "bad_argument"},
        {"{\"cmd\":\"shutdown\",\"timeout_s\":-1}", "out_of_range"},
        {"{\"cmd\":\"shutdown\",\"timeout_s\":86401}", "out_of_range"},
        {"{\"cmd\":\"resize\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":\"3\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":\"+\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":\"+1x\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":true}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":0}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":9}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":\"-2\"}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":\"+7\"}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":3,\"drain_timeout_s\":\"1\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":3,\"drain_timeout_s\":-5}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":3,\"wait\":\"no\"}", "bad_argument"},
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = ask(f, cases[i].line);
        const char *err = json_string_value(json_object_get(r, "error"));

        if (!json_is_false(json_object_get(r, "ok")) || err == NULL ||
            strcmp(err, cases[i].error) != 0 ||
            json_integer_value(json_object_get(r, "schema")) != 1 ||
            !json_is_string(json_object_get(r, "message")))
            fail_msg("%s: expected %s, got %s", cases[i].line, cases[i].error, err ? err : "ok");
        json_decref(r);
    }
    assert_int_equal(f->stub.shutdowns, 0); /* nothing acted on a bad request */
    assert_int_equal(f->stub.resized_to, 0);
}

static void test_valid_requests_reach_the_pool(void **state)
{
    struct fixture *f = *state;
    json_t *r;

    r = ask(f, "{\"cmd\":\"resize\",\"workers\":\"+3\",\"drain_timeout_s\":7,\"wait\":false}");
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "to")), 5);
    assert_int_equal(f->stub.resized_to, 5);
    assert_int_equal(f->stub.drained, 7);
    json_decref(r);
    f->stub.resize_rc = -EBUSY;
    r = ask(f, "{\"cmd\":\"resize\",\"workers\":4,\"wait\":false}");
    assert_string_equal(json_string_value(json_object_get(r, "error")), "busy");
    json_decref(r);
    r = ask(f, "{\"cmd\":\"shutdown\",\"graceful\":false}");
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(f->stub.shutdowns, 1); /* acted on once answered */
    assert_false(f->stub.graceful);
    json_decref(r);
    r = ask(f, "{\"cmd\":\"reopen-logs\"}");
    assert_true(json_is_false(json_object_get(r, "reopened")));
    json_decref(r);
}

/* A second graceful shutdown while stopping reports the timeout in force,
 * not the configured default, and says the stop was under way. */
static void test_shutdown_while_stopping(void **state)
{
    struct fixture *f = *state;
    json_t *r;

    f->stub.state = ADMIN_STOPPING;
    f->stub.stop_timeout = 100;
    r = ask(f, "{\"cmd\":\"shutdown\"}");
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_true(json_is_true(json_object_get(r, "already_stopping")));
    assert_int_equal(json_integer_value(json_object_get(r, "timeout_s")), 100);
    json_decref(r);
    r = ask(f, "{\"cmd\":\"shutdown\",\"timeout_s\":5}"); /* changes nothing */
    assert_int_equal(json_integer_value(json_object_get(r, "timeout_s")), 100);
    json_decref(r);
    f->stub.state = ADMIN_RUNNING;
    r = ask(f, "{\"cmd\":\"shutdown\"}");
    assert_null(json_object_get(r, "already_stopping"));
    assert_int_equal(json_integer_value(json_object_get(r, "timeout_s")), 30);
    json_decref(r);
}

/* Two listeners, as --listen native=127.0.0.1:4242 --listen http=[::1]:8080
 * give (their sockets closed: no accept queue to read). */
static void two_listeners(struct listeners *ls)
{
    memset(ls, 0, sizeof(*ls));
    ls->fds[0] = ls->fds[1] = -1;
    ls->n = 2;
    ls->proto[0] = PROTO_NATIVE;
    strcpy(ls->names[0], "127.0.0.1:4242");
    ls->proto[1] = PROTO_HTTP;
    strcpy(ls->names[1], "[::1]:8080");
}

/* The row status reports for a listener, as compact JSON. */
static char *row_of(json_t *status, size_t i)
{
    return json_dumps(json_array_get(json_object_get(status, "listeners"), i),
                      JSON_COMPACT | JSON_SORT_KEYS);
}

/* status: a row per listener with its own figures, and the totals by
 * outcome over all of them; a busy worker says which listener took its
 * connection. */
static void test_figures_by_listener(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 v6 = {
        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(12345)};
    int a = sb_claim(f->sb), b = sb_claim(f->sb);
    json_t *r, *w, *t;
    char *row;

    two_listeners(&f->ls);
    sb_worker_start(&f->sb->slots[a], 100);
    sb_worker_start(&f->sb->slots[b], 101);
    /* a: a native download that was not found, then one under way. */
    sb_conn_begin(&f->sb->slots[a], 0, (struct sockaddr *)&v4, clock_now_ns());
    sb_req_answer(&f->sb->slots[a], SB_OUT_CLIENT_ERROR, "nope", 0, SB_CLOSING);
    sb_conn_end(&f->sb->slots[a], clock_now_ns());
    sb_conn_begin(&f->sb->slots[a], 0, (struct sockaddr *)&v4, clock_now_ns());
    sb_req_answer(&f->sb->slots[a], SB_OUT_OK, "big", 1000, SB_SENDING);
    sb_conn_progress(&f->sb->slots[a], 100);
    /* b: two HTTP requests on one persistent connection, now idle on it. */
    sb_conn_begin(&f->sb->slots[b], 1, (struct sockaddr *)&v6, clock_now_ns());
    sb_req_answer(&f->sb->slots[b], SB_OUT_OK, "/a", 7, SB_SENDING);
    sb_conn_progress(&f->sb->slots[b], 7);
    sb_req_next(&f->sb->slots[b], SB_KEEPALIVE);
    sb_req_answer(&f->sb->slots[b], SB_OUT_REDIRECT, "/b", 0, SB_SENDING);
    sb_req_next(&f->sb->slots[b], SB_KEEPALIVE);

    r = ask(f, "{\"cmd\":\"status\"}");
    row = row_of(r, 0);
    assert_string_equal(row, "{\"address\":\"127.0.0.1:4242\",\"bytes\":100,\"connections\":2,"
                             "\"protocol\":\"native\",\"requests\":{\"client_error\":1,\"ok\":1,"
                             "\"redirect\":0,\"server_error\":0}}");
    free(row);
    row = row_of(r, 1);
    assert_string_equal(row, "{\"address\":\"[::1]:8080\",\"bytes\":7,\"connections\":1,"
                             "\"protocol\":\"http\",\"requests\":{\"client_error\":0,\"ok\":1,"
                             "\"redirect\":1,\"server_error\":0}}");
    free(row);
    t = json_object_get(r, "totals");
    assert_int_equal(json_integer_value(json_object_get(t, "connections")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 4);
    assert_int_equal(json_integer_value(json_object_get(t, "bytes")), 107);
    row = json_dumps(json_object_get(t, "outcomes"), JSON_COMPACT);
    assert_string_equal(row, "{\"ok\":2,\"redirect\":1,\"client_error\":1,\"server_error\":0}");
    free(row);
    assert_null(json_object_get(t, "status"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "pool"), "keepalive")),
                     1);
    json_decref(r);

    r = ask(f, "{\"cmd\":\"workers\"}");
    w = json_object_get(r, "workers");
    t = json_object_get(json_array_get(w, 0), "transfer");
    assert_string_equal(json_string_value(json_object_get(t, "protocol")), "native");
    assert_string_equal(json_string_value(json_object_get(t, "listener")), "127.0.0.1:4242");
    assert_string_equal(json_string_value(json_object_get(t, "target")), "big");
    assert_string_equal(json_string_value(json_object_get(t, "peer")), "127.0.0.1:0");
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 1);
    assert_null(json_object_get(t, "file"));
    /* The idle persistent connection is busy: it shows, its last request too. */
    t = json_object_get(json_array_get(w, 1), "transfer");
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 1), "state")),
                        "keepalive");
    assert_string_equal(json_string_value(json_object_get(t, "protocol")), "http");
    assert_string_equal(json_string_value(json_object_get(t, "listener")), "[::1]:8080");
    assert_string_equal(json_string_value(json_object_get(t, "peer")), "[::1]:12345");
    assert_string_equal(json_string_value(json_object_get(t, "target")), "/b");
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 2);
    json_decref(r);

    /* A listener index the master does not know names nothing. */
    f->ls.n = 1;
    r = ask(f, "{\"cmd\":\"workers\"}");
    t = json_object_get(json_array_get(json_object_get(r, "workers"), 1), "transfer");
    assert_true(json_is_null(json_object_get(t, "protocol")));
    assert_true(json_is_null(json_object_get(t, "listener")));
    json_decref(r);
    /* Stopping: the listeners are closed, and none is reported. */
    f->ls.n = 2;
    f->stub.state = ADMIN_STOPPING;
    r = ask(f, "{\"cmd\":\"status\"}");
    assert_int_equal(json_array_size(json_object_get(r, "listeners")), 0);
    json_decref(r);
    f->stub.state = ADMIN_RUNNING;
}

static void test_default_path(void **state)
{
    char buf[108];

    (void)state;
    assert_int_equal(admin_default_path(buf, sizeof(buf), 12345), 0);
    assert_non_null(strstr(buf, "ferryd-"));
    assert_non_null(strstr(buf, "12345.sock"));
    assert_int_equal(admin_default_path(buf, 8, 12345), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_error_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_requests_reach_the_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_while_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_figures_by_listener, setup, teardown),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
