/*
 * crowd_diag: TCP states of a server's sockets through sock_diag, one
 * filtered dump per address family.
 */
#include "crowd_diag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int diag_open(void)
{
    struct timeval tv = {.tv_sec = 2};
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* Sends the dump request for family's sockets with local port port. */
static int diag_request(int fd, int family, uint16_t port)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
        struct nlattr nla;
        struct inet_diag_bc_op bc[4];
    } req;
    struct sockaddr_nl nl = {.nl_family = AF_NETLINK};

    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.r.sdiag_family = (uint8_t)family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = 0xfff & ~(1u << TCP_LISTEN | 1u << TCP_TIME_WAIT);
    req.nla.nla_type = INET_DIAG_REQ_BYTECODE;
    req.nla.nla_len = sizeof(req.nla) + sizeof(req.bc);
    /* The kernel's filter: sport >= port, then sport <= port. A jump of
     * the remaining length + 4 rejects; one that ends exactly accepts. */
    req.bc[0] = (struct inet_diag_bc_op){INET_DIAG_BC_S_GE, 8, 20};
    req.bc[1] = (struct inet_diag_bc_op){0, 0, port};
    req.bc[2] = (struct inet_diag_bc_op){INET_DIAG_BC_S_LE, 8, 12};
    req.bc[3] = (struct inet_diag_bc_op){0, 0, port};
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
        return -errno;
    return 0;
}

/* Reads one dump's answers into state. Returns 0 or -errno. */
static int diag_read(int fd, uint8_t *state, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        int left = (int)n;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (struct nlmsghdr *h = buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            const struct nlmsgerr *e = NLMSG_DATA(h);

            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR)
                return e->error < 0 ? e->error : -EIO;
            if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
                state[ntohs(m->id.idiag_dport)] = m->idiag_state;
        }
    }
}

int diag_states(int fd, uint16_t port, uint8_t *state, void *buf, size_t len)
{
    static const int families[] = {AF_INET, AF_INET6}; /* IPv4 may be mapped into IPv6 */
    int rc;

    memset(state, 0, DIAG_PORTS);
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        if ((rc = diag_request(fd, families[i], port)) < 0 ||
            (rc = diag_read(fd, state, buf, len)) < 0)
            return rc;
    }
    return 0;
}
