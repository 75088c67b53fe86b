/*
 * hubipc: a worker's conversation with the hub about an upload. See
 * hubipc.h.
 */
#include "common/hubipc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Sends fd over the shared socket in a one-byte datagram. */
static int hubipc_send_fd(int shared, int fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    char byte = 'F';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;

    memset(cbuf, 0, sizeof(cbuf));
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    /* Non-blocking: a hub that is down does not read, and its queue full
     * must not hold the worker. */
    return sendmsg(shared, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int hubipc_open(int shared)
{
    int sv[2], rc;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    rc = hubipc_send_fd(shared, sv[1]);
    close(sv[1]); /* the hub holds its own copy now, or nobody does */
    if (rc < 0) {
        close(sv[0]);
        return rc == -EAGAIN ? -ETIMEDOUT : rc;
    }
    return sv[0];
}

static int64_t hubipc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be readable until the deadline (ms, CLOCK_MONOTONIC): a
 * signal does not start the wait afresh. Returns 0, -ETIMEDOUT or -errno. */
static int hubipc_wait(int fd, int64_t deadline)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;

    for (;;) {
        int64_t left = deadline - hubipc_now_ms();

        rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (rc > 0)
            return 0;
        if (rc == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int hubipc_call(int fd, const struct hubipc_req *req, struct hubipc_rep *rep, int timeout_ms)
{
    int64_t deadline = hubipc_now_ms() + timeout_ms;
    ssize_t n;
    int rc;

    if (send(fd, req, sizeof(*req), MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
        return errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
    if ((rc = hubipc_wait(fd, deadline)) < 0)
        return rc;
    /* MSG_TRUNC: the length of the message, not of what fitted, so that
     * a longer one is refused rather than cut to size. */
    n = recv(fd, rep, sizeof(*rep), MSG_TRUNC);
    if (n == 0)
        return -EPIPE;
    if (n < 0)
        return errno == ECONNRESET ? -EPIPE : -errno;
    if (n != (ssize_t)sizeof(*rep))
        return -EBADMSG;
    rep->publisher[sizeof(rep->publisher) - 1] = '\0';
    return 0;
}

int hubipc_tell(int shared, const struct hubipc_req *req)
{
    int fd = hubipc_open(shared), rc = 0;

    if (fd < 0)
        return fd;
    /* A fresh pair's buffer takes one request: this never waits. */
    if (send(fd, req, sizeof(*req), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(*req))
        rc = -errno;
    close(fd);
    return rc;
}

int hubipc_accept(int shared)
{
    char cbuf[CMSG_SPACE(sizeof(int))], byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;
    int fd = -1;

    if (recvmsg(shared, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
    if (fd < 0 || (mh.msg_flags & MSG_CTRUNC)) {
        if (fd >= 0)
            close(fd);
        return -EBADMSG;
    }
    return fd;
}

int hubipc_recv(int fd, struct hubipc_req *req)
{
    ssize_t n = recv(fd, req, sizeof(*req), MSG_DONTWAIT | MSG_TRUNC); /* as in hubipc_call */

    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : errno == ECONNRESET ? -EPIPE : -errno;
    if (n == 0)
        return -EPIPE;
    if (n != (ssize_t)sizeof(*req) || memchr(req->name, '\0', sizeof(req->name)) == NULL)
        return -EBADMSG;
    return 0;
}

int hubipc_reply(int fd, const struct hubipc_rep *rep)
{
    return send(fd, rep, sizeof(*rep), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(*rep)
               ? 0
               : -errno;
}
