/* The admin tests' fixture: tests/unit/admin_fixture.h. */
#include "tests/unit/admin_fixture.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
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
    return ((struct admin_stub *)ctx)->state;
}

static unsigned stub_stop_timeout(void *ctx)
{
    return ((struct admin_stub *)ctx)->stop_timeout;
}

static void stub_shutdown(void *ctx, bool graceful, int timeout_s)
{
    struct admin_stub *s = ctx;

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
    return ((struct admin_stub *)ctx)->target;
}

static int stub_resize(void *ctx, unsigned workers, unsigned drain_s, uint64_t token)
{
    struct admin_stub *s = ctx;

    (void)token;
    s->resized_to = workers;
    s->drained = drain_s;
    return s->resize_rc; /* never completes: tests use "wait": false */
}

/* No reload, config file or upgrade: those answer "unsupported". */
static const struct admin_ops stub_ops = {
    .state = stub_state,
    .shutdown = stub_shutdown,
    .stop_timeout = stub_stop_timeout,
    .reopen_logs = stub_reopen,
    .target = stub_target,
    .resize = stub_resize,
};

int admin_fixture_setup(void **state)
{
    struct admin_fixture *f = calloc(1, sizeof(*f));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};

    assert_non_null(f);
    strcpy(f->dir, "/tmp/ferry-test-admin-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/a.sock", f->dir);
    f->cfg.max_children = 8;
    f->cfg.shutdown_timeout = 30;
    f->stub.target = 2;
    f->sb = sb_create(8, 4);
    assert_non_null(f->sb);
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

int admin_fixture_teardown(void **state)
{
    struct admin_fixture *f = *state;

    close(f->fd);
    admin_close(&f->admin);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* let the handles finish closing */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sb_destroy(f->sb);
    rmdir(f->dir);
    free(f);
    return 0;
}

json_t *admin_fixture_ask(struct admin_fixture *f, const char *line, size_t len)
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
    fail_msg("no answer to %.*s", (int)len, line);
    return NULL;
}
