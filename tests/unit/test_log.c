/* Unit tests for common/log's two line formats. stderr is a temporary
 * file (log_open_file() puts it there, as --log-file does); with
 * $JOURNAL_STREAM naming that file's device and inode, stderr is "the
 * journal": lines carry the syslog priority ("<6>") and no timestamp.
 * Otherwise, and when the variable names another stream or nothing
 * readable, lines keep their own UTC timestamp. */
#include "common/log.h"

#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char log_dir[64];
static char log_path[96];
static int saved_stderr = -1; /* cmocka reports failures there */

/* Sends the log to a fresh temporary file; keeps the real stderr. */
static int setup(void **state)
{
    (void)state;
    snprintf(log_dir, sizeof(log_dir), "/tmp/ferry-log-XXXXXX");
    if (mkdtemp(log_dir) == NULL)
        return -1;
    snprintf(log_path, sizeof(log_path), "%s/ferryd.log", log_dir);
    saved_stderr = dup(STDERR_FILENO);
    if (saved_stderr < 0 || log_open_file(log_path) < 0)
        return -1;
    log_set_level(LOG_DEBUG);
    return 0;
}

/* Gives stderr back to cmocka and removes the file. */
static int teardown(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
    unlink(log_path);
    rmdir(log_dir);
    unsetenv("JOURNAL_STREAM");
    log_set_level(LOG_INFO);
    return 0;
}

/* Empties the log file and has log look at stderr again, as it does
 * whenever log_open_file() moved it. */
static void log_restart(void)
{
    assert_int_equal(truncate(log_path, 0), 0);
    assert_int_equal(log_open_file(log_path), 0);
}

/* The log file's whole text (at most 4 KiB). stderr is given back to
 * cmocka first, so that a failing assertion after it is seen; the next
 * log_restart() or log_reopen() moves it to the file again. */
static const char *log_read(void)
{
    static char text[4096];
    ssize_t n;
    int fd;

    assert_true(dup2(saved_stderr, STDERR_FILENO) == STDERR_FILENO);
    fd = open(log_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    assert_true(n >= 0);
    text[n] = '\0';
    return text;
}

/* Sets $JOURNAL_STREAM to the device and inode of the log file, or of
 * another inode when other is true. */
static void journal_is_log(bool other)
{
    struct stat st;
    char env[64];

    assert_int_equal(stat(log_path, &st), 0);
    snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + (other ? 1 : 0));
    assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t rx;
    int rc;

    assert_int_equal(regcomp(&rx, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
    rc = regexec(&rx, text, 0, NULL, 0);
    regfree(&rx);
    if (rc != 0)
        fail_msg("'%s' does not match /%s/", text, pattern);
}

/* stderr is the journal: "<N>[pid] level: message", N the syslog
 * priority, for every level. */
static void test_journal_priority_prefix(void **state)
{
    char want[256];
    long pid = (long)getpid();

    (void)state;
    journal_is_log(false);
    log_restart();
    log_error("e %d", 1);
    log_warn("w");
    log_info("i");
    log_debug("d");
    log_text(LOG_INFO, "raw text", 8);
    snprintf(want, sizeof(want),
             "<3>[%ld] error: e 1\n<4>[%ld] warn: w\n<6>[%ld] info: i\n<7>[%ld] debug: d\n"
             "<6>[%ld] info: raw text\n",
             pid, pid, pid, pid, pid);
    assert_string_equal(log_read(), want);
}

/* No $JOURNAL_STREAM: the timestamped format, no priority. */
static void test_plain_stderr_has_timestamps(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    log_restart();
    log_warn("plain");
    assert_matches(log_read(), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                               "\\[[0-9]+\\] warn: plain\n$");
}

/* $JOURNAL_STREAM names another stream (stderr was redirected away from
 * the journal, e.g. ferryd started by hand from a unit's shell), or is
 * not DEV:INODE at all: stderr is not the journal. */
static void test_other_stream_is_not_the_journal(void **state)
{
    const char *stamped = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[^ ]+Z \\[[0-9]+\\] info: x\n$";

    (void)state;
    journal_is_log(true);
    log_restart();
    log_info("x");
    assert_matches(log_read(), stamped);
    setenv("JOURNAL_STREAM", "garbage", 1);
    log_restart();
    log_info("x");
    assert_matches(log_read(), stamped);
}

/* The answer is cached but asked again whenever stderr moves: after
 * log_open_file() the new stream is looked at afresh. */
static void test_reopen_looks_again(void **state)
{
    (void)state;
    unsetenv("JOURNAL_STREAM");
    log_restart();
    log_info("a");
    assert_matches(log_read(), "^[0-9]{4}-.* info: a\n$");
    journal_is_log(false);
    assert_int_equal(log_reopen(), 1); /* as SIGUSR1 */
    log_info("b");
    assert_matches(log_read(), "\n<6>\\[[0-9]+\\] info: b\n$");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journal_priority_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_stderr_has_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_stream_is_not_the_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_looks_again, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
