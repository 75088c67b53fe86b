/*
 * log: timestamped single-line logging to stderr. See log.h.
 */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;
static const char *log_path; /* NULL: stderr as given */

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

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int saved = errno, n, m;

    if (level > log_level)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ [%ld] %s: ", (long)tv.tv_usec / 1000,
                  (long)getpid(), log_names[level]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line; a failed log write has nowhere to be reported. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
    }
    errno = saved;
}

char *log_escape(char *dst, size_t dstlen, const void *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = src;
    size_t o = 0, room = dstlen - 4; /* keep room for "..." and the NUL */

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
