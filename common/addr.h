/*
 * addr: host/port resolution and printing, shared by ferryd, ferry and
 * ferry-bench.
 */
#ifndef FERRY_ADDR_H
#define FERRY_ADDR_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define ADDR_STR_MAX 64 /* "[ipv6%scope]:port" */

/*
 * Resolves host and port to TCP addresses (passive: for bind). Returns 0
 * with *out to free with freeaddrinfo(), or a getaddrinfo() error code for
 * gai_strerror(); EAI_SYSTEM leaves errno set. (The one place in common/
 * that does not return -errno: the resolver has its own error space.)
 */
int addr_resolve(const char *host, const char *port, bool passive, struct addrinfo **out);

/* Writes "1.2.3.4:80" or "[::1]:80" into buf (ADDR_STR_MAX bytes); returns buf. */
char *addr_format(const struct sockaddr *sa, char *buf);

/* Returns the port of an AF_INET or AF_INET6 address, host order; 0 otherwise. */
unsigned addr_port(const struct sockaddr *sa);

#endif
