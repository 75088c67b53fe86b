/* Unit tests for master/upgrade: the names' escaping, and what a new
 * master takes from its environment (LISTEN_FDS for this pid alone, the
 * names in order, the channel after the sockets), then removes. */
#include "master/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static void test_escape_round_trip(void **state)
{
    static const char *const names[] = {"http=[::1] 8080", "native=127.0.0.1 0", "admin",
                                        "x=100% sure:yes", ""};
    char esc[LSN_KEY_MAX * 3], back[LSN_KEY_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(upgrade_escape(names[i], esc, sizeof(esc)), 0);
        assert_null(strchr(esc, ':')); /* the list's separator never appears inside */
        assert_int_equal(upgrade_unescape(esc, strlen(esc), back, sizeof(back)), 0);
        assert_string_equal(back, names[i]);
    }
    assert_int_equal(upgrade_escape("http=[::1] 8080", esc, sizeof(esc)), 0);
    assert_string_equal(esc, "http=[%3A%3A1] 8080");
    assert_int_equal(upgrade_escape("a:b", esc, 5), -ENAMETOOLONG); /* "a%3Ab" needs 6 */
    assert_int_equal(upgrade_unescape("%3", 2, back, sizeof(back)), -EINVAL);
    assert_int_equal(upgrade_unescape("%41", 3, back, sizeof(back)), -EINVAL);
    assert_int_equal(upgrade_unescape("abcd", 4, back, 4), -EINVAL); /* no room for the NUL */
}

/* Puts fresh descriptors at 3.. (n sockets, then the channel), as a
 * predecessor would, and sets the variables for pid. */
static void hand_down(int n, long pid, const char *names, bool channel)
{
    char buf[64];

    for (int i = 0; i < n + (channel ? 1 : 0); i++) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

        assert_true(fd >= 0);
        if (fd != 3 + i) {
            assert_int_equal(dup2(fd, 3 + i), 3 + i);
            close(fd);
        }
    }
    snprintf(buf, sizeof(buf), "%ld", pid);
    setenv("LISTEN_PID", buf, 1);
    snprintf(buf, sizeof(buf), "%d", n);
    setenv("LISTEN_FDS", buf, 1);
    setenv("LISTEN_FDNAMES", names, 1);
    if (channel) {
        snprintf(buf, sizeof(buf), "%d", 3 + n);
        setenv("FERRY_UPGRADE_FD", buf, 1);
    }
}

static void close_handed(int n)
{
    for (int i = 0; i < n; i++)
        close(3 + i);
}

static void test_inherited(void **state)
{
    struct upgrade_fd fds[8];
    int channel = 0;

    (void)state;
    hand_down(3, getpid(), "http=[%3A%3A1] 0:native=127.0.0.1 0:admin", true);
    assert_int_equal(upgrade_inherited(fds, 8, &channel), 3);
    assert_int_equal(fds[0].fd, 3);
    assert_string_equal(fds[0].name, "http=[::1] 0");
    assert_string_equal(fds[1].name, "native=127.0.0.1 0");
    assert_int_equal(fds[2].fd, 5);
    assert_string_equal(fds[2].name, "admin");
    assert_int_equal(channel, 6);
    assert_true(fcntl(3, F_GETFD) & FD_CLOEXEC); /* not handed to the workers by mistake */
    assert_null(getenv("LISTEN_FDS"));           /* nor the variables */
    assert_null(getenv("LISTEN_PID"));
    assert_null(getenv("LISTEN_FDNAMES"));
    assert_null(getenv("FERRY_UPGRADE_FD"));
    close_handed(4);
}

static void test_inherited_refused(void **state)
{
    struct upgrade_fd fds[8];
    int channel = 0;

    (void)state;
    /* Another process's descriptors (its pid): none taken, variables gone. */
    hand_down(2, getpid() + 1, "a:b", false);
    assert_int_equal(upgrade_inherited(fds, 8, &channel), 0);
    assert_int_equal(channel, -1);
    assert_null(getenv("LISTEN_FDS"));
    /* Names that do not match the count, or too many descriptors. */
    hand_down(2, getpid(), "a", false);
    assert_int_equal(upgrade_inherited(fds, 8, &channel), -EINVAL);
    hand_down(2, getpid(), "a:b:c", false);
    assert_int_equal(upgrade_inherited(fds, 8, &channel), -EINVAL);
    hand_down(2, getpid(), "a:b", false);
    assert_int_equal(upgrade_inherited(fds, 1, &channel), -EINVAL);
    hand_down(2, getpid(), "a:%zz", false);
    assert_int_equal(upgrade_inherited(fds, 8, &channel), -EINVAL);
    /* Nothing handed down at all. */
    assert_int_equal(upgrade_inherited(fds, 8, &channel), 0);
    close_handed(2);
}

/* The path it was started from, as nginx takes it: argv[0], links left
 * alone; a bare name from $PATH; else the running binary. */
static void test_exe(void **state)
{
    char self[4096], cwd[4096], want[8300];
    ssize_t n;

    (void)state;
    assert_int_equal(upgrade_exe_init("/opt/ferry/current/sbin/ferryd"), 0);
    assert_string_equal(upgrade_exe(), "/opt/ferry/current/sbin/ferryd");
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(upgrade_exe_init("build/bin/ferryd"), 0);
    snprintf(want, sizeof(want), "%s/build/bin/ferryd", cwd);
    assert_string_equal(upgrade_exe(), want);
    setenv("PATH", "/nonexistent:/bin:/usr/bin", 1);
    assert_int_equal(upgrade_exe_init("sh"), 0);
    assert_true(strcmp(upgrade_exe(), "/bin/sh") == 0 || strcmp(upgrade_exe(), "/usr/bin/sh") == 0);
    assert_int_equal(upgrade_exe_init("no-such-ferryd-anywhere"), 0);
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    assert_string_equal(upgrade_exe(), self);
}

int main(void)
{
    /* The tests place descriptors at 3.. as a predecessor does: whatever
     * this process inherited there (ctest leaves one open) is not ours. */
    for (int fd = 3; fd <= 6; fd++)
        close(fd);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_round_trip),
        cmocka_unit_test(test_inherited),
        cmocka_unit_test(test_inherited_refused),
        cmocka_unit_test(test_exe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
