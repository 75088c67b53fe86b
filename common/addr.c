/*
 * addr: resolution and printing of socket addresses. See addr.h.
 */
#include "common/addr.h"

#include "common/text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int addr_resolve(const char *host, const char *port, bool passive, struct addrinfo **out)
{
    return addr_resolve_type(host, port, passive, SOCK_STREAM, out);
}

int addr_resolve_type(const char *host, const char *port, bool passive, int socktype,
                      struct addrinfo **out)
{
    struct addrinfo hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_protocol = socktype == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
    return getaddrinfo(host, port, &hints, out);
}

/* On every connection's log line: inet_ntop() and text_*, not
 * getnameinfo() and snprintf() (several times the instructions). */
/* Dotted quad; glibc's inet_ntop() calls sprintf() for it. */
static void addr_text_v4(struct text *t, const uint8_t *b)
{
    for (int i = 0; i < 4; i++) {
        text_u64(t, b[i]);
        text_str(t, i < 3 ? "." : "");
    }
}

char *addr_format_host(const struct sockaddr *sa, char *buf)
{
    char *colon;

    addr_format(sa, buf);
    if (buf[0] == '[') { /* "[::1]:80" -> "::1" */
        colon = strrchr(buf, ']');
        if (colon != NULL)
            *colon = '\0';
        memmove(buf, buf + 1, strlen(buf));
        return buf;
    }
    if ((colon = strrchr(buf, ':')) != NULL)
        *colon = '\0';
    return buf;
}

char *addr_format(const struct sockaddr *sa, char *buf)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    char host[INET6_ADDRSTRLEN];
    struct text t;

    text_init(&t, buf, ADDR_STR_MAX);
    if (sa->sa_family == AF_INET) {
        addr_text_v4(&t, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    } else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        /* An IPv4 client of a dual-stack listener is an IPv4 client. */
        addr_text_v4(&t, in6->sin6_addr.s6_addr + 12);
    } else if (sa->sa_family == AF_INET6 &&
               inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host))) {
        text_str(&t, "[");
        text_str(&t, host);
        if (in6->sin6_scope_id != 0) { /* link-local: which interface */
            text_str(&t, "%");
            text_u64(&t, in6->sin6_scope_id);
        }
        text_str(&t, "]");
    } else {
        text_str(&t, "?");
        return buf;
    }
    text_str(&t, ":");
    text_u64(&t, addr_port(sa));
    return buf;
}

unsigned addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

int addr_port_parse(const char *s)
{
    int port = 0;

    if (*s == '\0')
        return -EINVAL;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        port = port * 10 + (*s - '0');
        if (port > 65535)
            return -EINVAL;
    }
    return port;
}

/* Where the host and the port lie in an argument. */
struct addr_span {
    const char *host;
    size_t hostlen;
    const char *port; /* NULL when none */
};

/* "[host]" or "[host]:port". Returns 0 or -EINVAL. */
static int addr_span_bracketed(const char *arg, struct addr_span *sp)
{
    const char *close = strchr(arg, ']');

    if (close == NULL)
        return -EINVAL;
    sp->host = arg + 1;
    sp->hostlen = (size_t)(close - sp->host);
    if (close[1] == ':')
        sp->port = close + 2;
    else if (close[1] != '\0')
        return -EINVAL;
    return 0;
}

/* "host", "host:port" or a bare IPv6 address. */
static void addr_span_plain(const char *arg, struct addr_span *sp)
{
    const char *colon = strchr(arg, ':');

    sp->host = arg;
    sp->hostlen = strlen(arg);
    /* Two colons or more: an IPv6 address, which has no room for a port. */
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        sp->hostlen = (size_t)(colon - arg);
        sp->port = colon + 1;
    }
}

int addr_split(const char *arg, char *host, size_t hostlen, int *port)
{
    struct addr_span sp = {NULL, 0, NULL};
    int p = -1;

    if (arg[0] != '[')
        addr_span_plain(arg, &sp);
    else if (addr_span_bracketed(arg, &sp) < 0)
        return -EINVAL;
    /* An empty host, or a stray bracket left in it, is a typo. */
    if (sp.hostlen == 0 || memchr(sp.host, '[', sp.hostlen) || memchr(sp.host, ']', sp.hostlen))
        return -EINVAL;
    if (sp.port != NULL && (p = addr_port_parse(sp.port)) < 0)
        return -EINVAL;
    if (sp.hostlen >= hostlen)
        return -ENAMETOOLONG;
    memcpy(host, sp.host, sp.hostlen);
    host[sp.hostlen] = '\0';
    *port = p;
    return 0;
}
