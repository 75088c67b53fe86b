/*
 * notify: systemd's readiness protocol, by hand. See notify.h.
 *
 * The whole protocol is one sendmsg(2) of text to the datagram socket
 * $NOTIFY_SOCKET names; the manager reads the sender's credentials from
 * the socket itself, so nothing but the text is sent. A socket of our
 * own per call: the master sends a handful of these in its life, and an
 * fd kept open would leak into every worker forked after.
 */
#include "common/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* How long a send may wait for room in the manager's queue: it empties
 * it at once unless it is wedged, and the master's loop must not hang. */
#define NOTIFY_SEND_TIMEOUT_S 1

bool notify_enabled(void)
{
    const char *env = getenv("NOTIFY_SOCKET");

    return env != NULL && env[0] != '\0';
}

/* Fills *sa and *len from $NOTIFY_SOCKET's text: a path, or '@' and a
 * name in the abstract namespace (the '@' stands for the leading NUL,
 * and the address is exactly as long as the name: no NUL after it). */
static int notify_address(const char *text, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(text);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (text[0] == '/') {
        if (n >= sizeof(sa->sun_path))
            return -ENAMETOOLONG;
        memcpy(sa->sun_path, text, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (text[0] != '@')
        return -EAFNOSUPPORT;
    if (n < 2)
        return -EINVAL;
    if (n > sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    sa->sun_path[0] = '\0';
    memcpy(sa->sun_path + 1, text + 1, n - 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return 0;
}

int notify_send(const char *state)
{
    const char *env = getenv("NOTIFY_SOCKET");
    struct timeval tv = {.tv_sec = NOTIFY_SEND_TIMEOUT_S};
    struct sockaddr_un sa;
    struct iovec iov;
    struct msghdr msg;
    socklen_t salen;
    size_t len = strlen(state);
    ssize_t sent;
    int fd = -1, rc;

    if (env == NULL || env[0] == '\0')
        return 0;
    if ((rc = notify_address(env, &sa, &salen)) < 0)
        return rc;
    if (len > NOTIFY_MAX)
        return -EMSGSIZE;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
        goto fail;
    iov = (struct iovec){.iov_base = (void *)state, .iov_len = len};
    msg = (struct msghdr){.msg_name = &sa, .msg_namelen = salen, .msg_iov = &iov, .msg_iovlen = 1};
    do {
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        goto fail;
    close(fd);
    /* A datagram goes whole or not at all. */
    return (size_t)sent == len ? 0 : -EIO;

fail:
    rc = -errno; /* EAGAIN: SO_SNDTIMEO ran out */
    close(fd);
    return rc;
}

int notify_ready(void)
{
    return notify_send("READY=1");
}

int notify_reloading(void)
{
    char state[64];
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return -errno;
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    return notify_send(state);
}

int notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int notify_status(const char *fmt, ...)
{
    char state[NOTIFY_MAX + 1] = "STATUS=";
    size_t pre = strlen(state);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(state + pre, sizeof(state) - pre, fmt, ap);
    va_end(ap);
    /* A newline would start an assignment of the caller's making. */
    for (char *p = state + pre; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return notify_send(state);
}

int notify_mainpid(pid_t pid)
{
    char state[32];

    if (pid < 1)
        return -EINVAL;
    snprintf(state, sizeof(state), "MAINPID=%ld", (long)pid);
    return notify_send(state);
}
