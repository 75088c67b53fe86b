/*
 * log: timestamped single-line logging to stderr. See log.h.
 *
 * The hot path is the per-connection line: the pid is cached (refreshed
 * after fork), the date is formatted once per second and the prefix is
 * put together without printf (common/text.h); log_text() takes a message
 * its caller built the same way, so that line costs no printf at all and
 * one write(2).
 *
 * Under systemd, when stderr is the journal's stream ($JOURNAL_STREAM
 * names its device and inode), lines carry a syslog priority prefix
 * ("<6>") instead of a timestamp: the journal stamps them itself.
 */
#include "common/log.h"

#include "common/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;
static const char *log_path; /* NULL: stderr as given */
/* Per thread: iterative mode logs from its admin thread too. */
static _Thread_local pid_t log_pid;  /* 0: not known yet (or just forked) */
static _Atomic int log_journal = -1; /* stderr is the journal: 1; not: 0; -1: unknown */
static _Thread_local struct {
    time_t sec;
    char text[24]; /* "2026-11-21T13:45:01" */
} log_date;

/* syslog priorities of the levels, for the journal's "<N>" prefix. */
static const char log_priority[] = {'3', '4', '6', '7'};

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    log_level = level;
}

enum log_level log_get_level(void)
{
    return log_level;
}

int log_parse_level(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* True when stderr is the stream $JOURNAL_STREAM ("DEV:INODE") names. */
static bool log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_forked(void)
{
    log_pid = 0;
}

bool log_rl_allow(struct log_rl *rl, int64_t now_ns, unsigned *missed)
{
    int64_t interval = rl->interval_ns > 0 ? rl->interval_ns : LOG_RL_INTERVAL_NS;

    if (rl->failures++ == 0)
        rl->since_ns = now_ns;
    if (rl->reported && now_ns - rl->last_ns < interval) {
        rl->missed++;
        return false;
    }
    *missed = rl->missed;
    rl->missed = 0;
    rl->last_ns = now_ns;
    rl->reported = true;
    return true;
}

bool log_rl_end(struct log_rl *rl, int64_t now_ns, double *secs, unsigned *failures)
{
    if (rl->failures == 0)
        return false;
    *secs = (double)(now_ns - rl->since_ns) / 1e9;
    *failures = rl->failures;
    rl->failures = 0;
    rl->missed = 0;
    rl->reported = false;
    return true;
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd < 0)
        return -errno;
    /* Onto stderr: log lines, and any library's stray message, go there. */
    if (dup2(fd, STDERR_FILENO) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    close(fd);
    log_path = path;
    log_journal = -1; /* stderr changed: look again */
    return 0;
}

int log_reopen(void)
{
    int rc;

    if (log_path == NULL)
        return 0;
    rc = log_open_file(log_path);
    return rc < 0 ? rc : 1;
}

/* Writes the line's prefix into t. */
static void log_prefix(struct text *t, enum log_level level)
{
    struct timeval tv;
    struct tm tm;

    if (log_pid == 0)
        log_pid = getpid();
    if (log_journal < 0)
        log_journal = log_stderr_is_journal();
    if (log_journal) {
        char prio[4] = {'<', log_priority[level], '>', '\0'};
        text_str(t, prio);
    } else {
        gettimeofday(&tv, NULL);
        if (tv.tv_sec != log_date.sec || log_date.text[0] == '\0') {
            gmtime_r(&tv.tv_sec, &tm);
            strftime(log_date.text, sizeof(log_date.text), "%Y-%m-%dT%H:%M:%S", &tm);
            log_date.sec = tv.tv_sec;
        }
        text_str(t, log_date.text);
        text_str(t, ".");
        text_u64_pad(t, (uint64_t)tv.tv_usec / 1000, 3);
        text_str(t, "Z ");
    }
    text_str(t, "[");
    text_u64(t, (uint64_t)log_pid);
    text_str(t, "] ");
    text_str(t, log_names[level]);
    text_str(t, ": ");
}

void log_text(enum log_level level, const char *msg, size_t len)
{
    char line[LOG_LINE_MAX + 1];
    struct text t;
    int saved = errno;

    if (level > log_level)
        return;
    text_init(&t, line, sizeof(line) - 1); /* room kept for the newline */
    log_prefix(&t, level);
    text_mem(&t, msg, len);
    line[t.len++] = '\n';
    /* One write per line; a failed log write has nowhere to be reported. */
    if (write(STDERR_FILENO, line, t.len) < 0) {
    }
    errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX];
    va_list ap;
    int saved = errno, n;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    errno = saved;
    if (n < 0)
        n = 0;
    log_text(level, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

char *log_escape(char *dst, size_t dstlen, const void *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = src;
    size_t o = 0, need = 0, room;

    /* Room for "..." only when the whole text does not fit: a name that
     * fits exactly is never cut. */
    for (size_t i = 0; i < len; i++)
        need += s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '"' ? 1 : 4;
    room = need < dstlen ? dstlen - 1 : dstlen - 4;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        int plain = c >= 0x20 && c < 0x7f && c != '\\' && c != '"';

        if (o + (plain ? 1 : 4) > room) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    dst[o] = '\0';
    return dst;
}
