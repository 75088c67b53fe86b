/*
 * addr: resolution and printing of socket addresses. See addr.h.
 */
#include "common/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int addr_resolve(const char *host, const char *port, bool passive, struct addrinfo **out)
{
    struct addrinfo hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : AI_ADDRCONFIG);
    return getaddrinfo(host, port, &hints, out);
}

char *addr_format(const struct sockaddr *sa, char *buf)
{
    char host[INET6_ADDRSTRLEN + 16];

    if (getnameinfo(sa,
                    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in),
                    host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0) {
        snprintf(buf, ADDR_STR_MAX, "?");
        return buf;
    }
    snprintf(buf, ADDR_STR_MAX, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             addr_port(sa));
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
