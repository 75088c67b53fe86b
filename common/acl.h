/*
 * acl: who may connect, as nginx's allow/deny. An ordered list of rules,
 * each "allow" or "deny" of a network (10.0.0.0/8, 2001:db8::/32), a host
 * (127.0.0.1, ::1) or "all"; a client is judged by the first rule that
 * matches its address, and one that matches none is allowed.
 *
 * A rule is IPv4 or IPv6 (or all): an IPv4 client is matched by the IPv4
 * rules, also when it arrives on a dual-stack listener as ::ffff:a.b.c.d,
 * so one rule covers it on every listener; an IPv6 client by the IPv6
 * rules. A rule written in that v4-mapped form (::ffff:10.0.0.0/104) is
 * taken as the IPv4 rule it means (10.0.0.0/8).
 *
 * Parsing is strict: a network with bits set beyond its prefix
 * (192.168.1.10/16) is refused, not masked (nginx warns and masks): on an
 * access rule, guessing between the host and the network it sits in
 * would open (or close) a whole network by a typo.
 *
 * The list is built once, before the workers fork, and only read after:
 * matching takes no lock and makes no system call.
 */
#ifndef FERRY_ACL_H
#define FERRY_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ACL_TEXT_MAX 64 /* "allow " + the longest IPv6 text + "/128" */

struct acl_rule {
    bool allow;
    uint8_t family;          /* AF_INET, AF_INET6, or AF_UNSPEC for "all" */
    uint8_t prefix;          /* leading bits of net that an address must share */
    uint8_t net[16];         /* the network, host bits zero (IPv4: the first 4 bytes) */
    char text[ACL_TEXT_MAX]; /* canonical: "deny 10.0.0.0/8", "allow ::1", "deny all" */
};

/* The rules, in the order they were given. Zeroed is empty. */
struct acl {
    struct acl_rule *rules;
    size_t n, cap;
};

/*
 * Parses text, "all", an address (a host: /32 or /128) or ADDRESS/PREFIX,
 * IPv4 or IPv6, into *r with the given action. Returns 0; -EINVAL when text
 * is no address or CIDR; -ERANGE when the prefix is beyond the family's
 * bits (33 for IPv4, 129 for IPv6); -EDOM when bits are set beyond the
 * prefix, *r then holding the network those bits are masked to (its text
 * names it, for the caller's message).
 */
int acl_parse(struct acl_rule *r, bool allow, const char *text);

/* Appends a copy of r to a. Returns 0 or -ENOMEM. */
int acl_add(struct acl *a, const struct acl_rule *r);

/* Frees the rules; a is empty again. */
void acl_free(struct acl *a);

/* The first rule of a that matches peer (AF_INET or AF_INET6; any other
 * family is matched by "all" alone), or NULL when none does. a may be
 * NULL: no rules. */
const struct acl_rule *acl_match(const struct acl *a, const struct sockaddr *peer);

/* The rule that denies peer: the first that matches it, when it is a
 * deny. NULL when peer is allowed (an allow matched first, or nothing did). */
const struct acl_rule *acl_denied_by(const struct acl *a, const struct sockaddr *peer);

/* The index of the first rule that comes after an "all" rule and so never
 * matches, or -1 when there is none (for a warning). */
long acl_unreachable(const struct acl *a);

#endif
