/* Regression cases from the fuzzers (fuzz/, docs/FUZZING.md): each input
 * a fuzz target once failed on, minimised, with the answer it must get.
 * The admin cases go through a real admin socket in a temporary
 * directory, with stub pool operations, as tests/unit/test_admin.c does. */
#include "master/admin.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

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
    (void)ctx, (void)workers, (void)drain_s, (void)token;
    fail_msg("no case here may reach the pool");
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

struct fixture {
    uv_loop_t loop;
    struct admin admin;
    struct scoreboard *sb;
    struct config cfg;
    struct listeners ls;
    char dir[64], path[96];
    int fd;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};

    assert_non_null(f);
    strcpy(f->dir, "/tmp/ferry-test-fuzz-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/a.sock", f->dir);
    f->cfg.max_children = 8;
    f->cfg.shutdown_timeout = 30;
    f->sb = sb_create(8, 4);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(admin_open(&f->admin, &f->loop, f->path, (gid_t)-1, &f->cfg, f->sb, &f->ls,
                                &stub_ops, NULL),
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
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sb_destroy(f->sb);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Sends len bytes and a newline; pumps the loop until one answer is back. */
static json_t *ask(struct fixture *f, const char *line, size_t len)
{
    char buf[65536];
    size_t got = 0;

    assert_int_equal(write(f->fd, line, len), (ssize_t)len);
    assert_int_equal(write(f->fd, "\n", 1), 1);
    for (int spins = 0; spins < 10000; spins++) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (poll(&p, 1, 1) == 1) {
            ssize_t n = read(f->fd, buf + got, sizeof(buf) - got - 1);
            assert_true(n > 0);
            got += (size_t)n;
            if (memchr(buf, '\n', got) != NULL)
                return json_loadb(buf, got, 0, NULL);
        }
    }
    fail_msg("no answer");
    return NULL;
}

/* A failure's answer: {"ok": false, "schema": 1, "error": code, "message": text}. */
static void assert_failure(json_t *r, const char *code)
{
    const char *err = json_string_value(json_object_get(r, "error"));

    assert_non_null(r);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "schema")), 1);
    assert_non_null(err);
    assert_string_equal(err, code);
    assert_true(json_is_string(json_object_get(r, "message")));
}

/* fuzz_admin: "+N" past LLONG_MAX saturates strtoll(), and adding the
 * current target to it overflowed a long long (UBSan: signed integer
 * overflow in admin_workers_arg()); without UBSan it wrapped to a negative
 * count. It is out of range, and reported as the large number it is. */
static void test_admin_relative_workers_overflow(void **state)
{
    static const char line[] =
        "{\"cmd\":\"resize\",\"workers\":\"+19223372036854775807\",\"wait\":false}";
    json_t *r = ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "out_of_range");
    assert_null(strstr(json_string_value(json_object_get(r, "message")), "asked for -"));
    json_decref(r);
}

/* fuzz_admin: a bad_json answer quotes jansson's error text, which quotes
 * the request up to the bad byte, here cut inside the two-byte UTF-8
 * character U+0233: the message was not UTF-8, json_string() refused it,
 * and the answer went out without a "message". */
static void test_admin_bad_json_message_cut_utf8(void **state)
{
    static const char line[] = "\"\\\xc8\xb3";
    json_t *r = ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "bad_json");
    json_decref(r);
}

/* fuzz_admin: "no command \"%.64s\"" cuts a long name after 64 bytes,
 * here inside "é" (0xC3 0xA9): the same missing "message". */
static void test_admin_unknown_command_message_cut_utf8(void **state)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "{\"cmd\":\"%.63s\xc3\xa9\"}",
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    json_t *r = ask(*state, line, (size_t)n);

    assert_failure(r, "unknown_command");
    json_decref(r);
}

/* fuzz_admin's own list of commands had fallen behind the dispatch table
 * (no reload, config, upgrade) and took "reload" for unknown. The daemon
 * was right: without a reload operation (as in these stubs) it is
 * unsupported. The harness now asks the table. */
static void test_admin_reload_without_operation(void **state)
{
    static const char line[] = "{\"cmd\":\"reload\"}";
    json_t *r = ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "unsupported");
    json_decref(r);
}

/* Command names are matched as C strings, which is sound only because
 * "\u0000" never parses (no JSON_ALLOW_NUL): "ping\u0000x" must not run
 * ping. */
static void test_admin_command_name_with_nul(void **state)
{
    static const char line[] = "{\"cmd\":\"ping\\u0000x\"}";
    json_t *r = ask(*state, line, sizeof(line) - 1);

    assert_failure(r, "bad_json");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admin_relative_workers_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_bad_json_message_cut_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_unknown_command_message_cut_utf8, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_reload_without_operation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_command_name_with_nul, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
