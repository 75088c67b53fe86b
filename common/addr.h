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

#define ADDR_STR_MAX  64  /* "[ipv6%scope]:port" */
#define ADDR_HOST_MAX 256 /* a host name is at most 253 bytes, plus the NUL */

/*
 * Resolves host and port to TCP addresses (passive: for bind). Returns 0
 * with *out to free with freeaddrinfo(), or a getaddrinfo() error code for
 * gai_strerror(); EAI_SYSTEM leaves errno set. (The one place in common/
 * that does not return -errno: the resolver has its own error space.)
 */
int addr_resolve(const char *host, const char *port, bool passive, struct addrinfo **out);

/* The same for socktype: SOCK_STREAM (TCP) or SOCK_DGRAM (UDP). */
int addr_resolve_type(const char *host, const char *port, bool passive, int socktype,
                      struct addrinfo **out);

/* Writes "1.2.3.4:80" or "[::1]:80" into buf (ADDR_STR_MAX bytes); an
 * IPv4-mapped IPv6 address prints as IPv4. Returns buf. */
char *addr_format(const struct sockaddr *sa, char *buf);

/* The address alone: "1.2.3.4", "::1" (ADDR_STR_MAX bytes). Returns buf. */
char *addr_format_host(const struct sockaddr *sa, char *buf);

/*
 * Splits an address argument into host and port, without resolving or
 * logging anything:
 *   host, 1.2.3.4, ::1, [::1]           -> the host, *port = -1
 *   host:PORT, 1.2.3.4:PORT, [::1]:PORT -> the host and *port
 * A bare IPv6 address (two colons or more, no brackets) is all host: its
 * port needs the brackets. The brackets are removed from the host. PORT is
 * decimal digits, 0..65535. Returns 0 with host (a NUL-terminated string of
 * hostlen bytes at most) and *port set; -EINVAL for a malformed argument
 * ("", "[::1", "[::1]x", "[]", ":80", "host:", "host:http", "host:65536");
 * -ENAMETOOLONG when the host does not fit in hostlen (ADDR_HOST_MAX is
 * always enough for a valid one). On error host and *port are untouched.
 */
int addr_split(const char *arg, char *host, size_t hostlen, int *port);

/* Parses a decimal port, digits only. Returns it (0..65535) or -EINVAL. */
int addr_port_parse(const char *s);

/* Returns the port of an AF_INET or AF_INET6 address, host order; 0 otherwise. */
unsigned addr_port(const struct sockaddr *sa);

#endif
