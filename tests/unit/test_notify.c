/* Unit tests for common/notify: a real AF_UNIX datagram socket stands for
 * the service manager, bound to a path and to an abstract name in turn;
 * each call's datagram is read back byte for byte. Without
 * $NOTIFY_SOCKET nothing is sent; a bad address is refused. */
#include "common/notify.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* The fake manager: its socket and the $NOTIFY_SOCKET text naming it. */
struct manager {
    int fd;
    char env[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    char dir[64]; /* the path case's temporary directory, else "" */
};

/* Binds a datagram socket to a path in a fresh temporary directory
 * (abstract == false) or to an abstract name, and points
 * $NOTIFY_SOCKET at it. */
static void manager_open(struct manager *m, bool abstract)
{
    static unsigned serial; /* a failed test leaves its name bound */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;

    memset(m, 0, sizeof(*m));
    m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(m->fd >= 0);
    if (abstract) {
        /* Unique per run: two test runs at once must not meet. */
        snprintf(m->env, sizeof(m->env), "@ferry-test-notify-%ld-%ld-%u", (long)getpid(),
                 (long)time(NULL), serial++);
        memcpy(sa.sun_path + 1, m->env + 1, strlen(m->env) - 1);
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(m->env));
    } else {
        snprintf(m->dir, sizeof(m->dir), "/tmp/ferry-notify-XXXXXX");
        assert_non_null(mkdtemp(m->dir));
        snprintf(m->env, sizeof(m->env), "%s/notify", m->dir);
        memcpy(sa.sun_path, m->env, strlen(m->env) + 1);
        len = (socklen_t)sizeof(sa);
    }
    assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", m->env, 1), 0);
}

static void manager_close(struct manager *m)
{
    close(m->fd);
    if (m->dir[0] != '\0') {
        unlink(m->env);
        rmdir(m->dir);
    }
    unsetenv("NOTIFY_SOCKET");
}

/* Reads the one datagram waiting (none waiting fails the test) and
 * checks it is exactly want. */
static void expect_datagram(struct manager *m, const char *want)
{
    char buf[NOTIFY_MAX + 64];
    ssize_t n = recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT);

    assert_true(n >= 0);
    assert_int_equal((size_t)n, strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
}

/* Nothing is waiting on the manager's socket. */
static void expect_nothing(struct manager *m)
{
    char buf[16];

    assert_int_equal(recv(m->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
}

/* Every call's datagram, through the given kind of address. */
static void check_all_messages(bool abstract)
{
    struct manager m;
    char want[64], buf[128];
    unsigned long long usec;
    ssize_t n;

    manager_open(&m, abstract);
    assert_true(notify_enabled());
    assert_int_equal(notify_ready(), 0);
    expect_datagram(&m, "READY=1");
    assert_int_equal(notify_stopping(), 0);
    expect_datagram(&m, "STOPPING=1");
    assert_int_equal(notify_status("serving %d workers", 4), 0);
    expect_datagram(&m, "STATUS=serving 4 workers");
    assert_int_equal(notify_mainpid(4242), 0);
    expect_datagram(&m, "MAINPID=4242");
    assert_int_equal(notify_send("READY=1\nSTATUS=up"), 0);
    expect_datagram(&m, "READY=1\nSTATUS=up");
    snprintf(want, sizeof(want), "MAINPID=%ld", (long)getpid());
    assert_int_equal(notify_mainpid(getpid()), 0);
    expect_datagram(&m, want);

    /* RELOADING=1 carries the monotonic clock, in microseconds. */
    assert_int_equal(notify_reloading(), 0);
    n = recv(m.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu", &usec), 1);
    assert_true(usec > 0);
    expect_nothing(&m);
    manager_close(&m);
}

static void test_path_socket(void **state)
{
    (void)state;
    check_all_messages(false);
}

static void test_abstract_socket(void **state)
{
    (void)state;
    check_all_messages(true);
}

/* Unset or empty: nothing sent, success, and no socket touched. */
static void test_unset_is_a_noop(void **state)
{
    struct manager m;

    (void)state;
    manager_open(&m, false);
    unsetenv("NOTIFY_SOCKET");
    assert_false(notify_enabled());
    assert_int_equal(notify_ready(), 0);
    assert_int_equal(notify_reloading(), 0);
    assert_int_equal(notify_stopping(), 0);
    assert_int_equal(notify_status("x"), 0);
    assert_int_equal(notify_mainpid(1), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_false(notify_enabled());
    assert_int_equal(notify_ready(), 0);
    expect_nothing(&m);
    manager_close(&m);
}

/* A status stays one line: control bytes become spaces; a long one is
 * cut to one datagram of NOTIFY_MAX bytes. */
static void test_status_one_line(void **state)
{
    struct manager m;
    char buf[NOTIFY_MAX + 64], big[NOTIFY_MAX * 2];
    ssize_t n;

    (void)state;
    manager_open(&m, true);
    assert_int_equal(notify_status("a\nREADY=1\tb"), 0);
    expect_datagram(&m, "STATUS=a READY=1 b");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(notify_status("%s", big), 0);
    n = recv(m.fd, buf, sizeof(buf), MSG_DONTWAIT);
    assert_int_equal(n, NOTIFY_MAX);
    assert_memory_equal(buf, "STATUS=xxx", 10);
    manager_close(&m);
}

/* Addresses that are none, and states that do not fit. */
static void test_errors(void **state)
{
    char big[NOTIFY_MAX + 2], longpath[200];
    struct manager m;

    (void)state;
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    assert_int_equal(notify_ready(), -EAFNOSUPPORT);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    assert_int_equal(notify_ready(), -EAFNOSUPPORT);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(notify_ready(), -EINVAL);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    assert_int_equal(notify_ready(), -ENAMETOOLONG);
    longpath[0] = '@';
    setenv("NOTIFY_SOCKET", longpath, 1);
    assert_int_equal(notify_ready(), -ENAMETOOLONG);
    /* Nobody bound there: the kernel's answer comes back. */
    setenv("NOTIFY_SOCKET", "/nonexistent/ferry/notify", 1);
    assert_int_equal(notify_ready(), -ENOENT);
    assert_int_equal(notify_mainpid(0), -EINVAL);

    manager_open(&m, false);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(notify_send(big), -EMSGSIZE);
    expect_nothing(&m);
    manager_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_socket),     cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_unset_is_a_noop), cmocka_unit_test(test_status_one_line),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
