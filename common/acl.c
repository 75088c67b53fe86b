/*
 * acl: allow/deny rules by address. See acl.h.
 */
#include "common/acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Address bits of a family: 32 or 128. */
static unsigned acl_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

/* Reads the prefix: decimal digits only. Returns it (1000 for more than
 * three digits: beyond any family), or -EINVAL. */
static int acl_prefix(const char *s)
{
    size_t n = strspn(s, "0123456789");

    if (n == 0 || s[n] != '\0')
        return -EINVAL;
    return n > 3 ? 1000 : atoi(s);
}

/* True when bits beyond prefix are set in net; clears them. */
static bool acl_mask(uint8_t *net, unsigned prefix, unsigned bits)
{
    bool set = false;

    for (unsigned i = prefix; i < bits; i++) {
        uint8_t m = (uint8_t)(0x80u >> (i % 8));

        set = set || (net[i / 8] & m);
        net[i / 8] &= (uint8_t)~m;
    }
    return set;
}

/* The rule's canonical text: the action, then "all", the host alone (a
 * full prefix), or the network and its prefix. */
static void acl_text(struct acl_rule *r)
{
    const char *action = r->allow ? "allow" : "deny";
    char addr[INET6_ADDRSTRLEN];

    if (r->family == AF_UNSPEC) {
        snprintf(r->text, sizeof(r->text), "%s all", action);
        return;
    }
    inet_ntop(r->family, r->net, addr, sizeof(addr));
    if (r->prefix == acl_bits(r->family))
        snprintf(r->text, sizeof(r->text), "%s %s", action, addr);
    else
        snprintf(r->text, sizeof(r->text), "%s %s/%u", action, addr, r->prefix);
}

/* A v4-mapped network (::ffff:0:0/96 and within) becomes the IPv4 one it
 * names: peers arriving in that form are matched as IPv4. */
static void acl_unmap(struct acl_rule *r)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (r->family != AF_INET6 || r->prefix < 96 || memcmp(r->net, mapped, 12) != 0)
        return;
    memmove(r->net, r->net + 12, 4);
    memset(r->net + 4, 0, 12);
    r->family = AF_INET;
    r->prefix -= 96;
}

int acl_parse(struct acl_rule *r, bool allow, const char *text)
{
    char addr[INET6_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    int prefix = -1, rc = 0;

    memset(r, 0, sizeof(*r));
    r->allow = allow;
    if (strcmp(text, "all") == 0) {
        r->family = AF_UNSPEC;
        acl_text(r);
        return 0;
    }
    if (len == 0 || len >= sizeof(addr))
        return -EINVAL;
    memcpy(addr, text, len);
    addr[len] = '\0';
    r->family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(r->family, addr, r->net) != 1)
        return -EINVAL;
    if (slash != NULL && (prefix = acl_prefix(slash + 1)) < 0)
        return -EINVAL;
    if (prefix > (int)acl_bits(r->family))
        return -ERANGE;
    r->prefix = (uint8_t)(prefix >= 0 ? (unsigned)prefix : acl_bits(r->family));
    if (acl_mask(r->net, r->prefix, acl_bits(r->family)))
        rc = -EDOM;
    acl_unmap(r);
    acl_text(r);
    return rc;
}

int acl_add(struct acl *a, const struct acl_rule *r)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct acl_rule *rules = realloc(a->rules, cap * sizeof(*rules));

        if (rules == NULL)
            return -ENOMEM;
        a->rules = rules;
        a->cap = cap;
    }
    a->rules[a->n++] = *r;
    return 0;
}

void acl_free(struct acl *a)
{
    free(a->rules);
    a->rules = NULL;
    a->n = a->cap = 0;
}

/* True when the first prefix bits of x and net agree. */
static bool acl_within(const uint8_t *x, const uint8_t *net, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;
    uint8_t m = (uint8_t)(0xffu << (8 - rest));

    if (memcmp(x, net, whole) != 0)
        return false;
    return rest == 0 || (x[whole] & m) == net[whole];
}

/* The peer's family and address bytes as the rules see them: a v4-mapped
 * IPv6 address is IPv4. Returns the family, or AF_UNSPEC for another. */
static int acl_peer(const struct sockaddr *peer, const uint8_t **bytes)
{
    if (peer->sa_family == AF_INET) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
        return AF_INET;
    }
    if (peer->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;

        *bytes = a6->s6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(a6))
            return AF_INET6;
        *bytes += 12;
        return AF_INET;
    }
    return AF_UNSPEC;
}

const struct acl_rule *acl_match(const struct acl *a, const struct sockaddr *peer)
{
    const uint8_t *bytes = NULL;
    int family;

    if (a == NULL || a->n == 0)
        return NULL;
    family = acl_peer(peer, &bytes);
    for (size_t i = 0; i < a->n; i++) {
        const struct acl_rule *r = &a->rules[i];

        if (r->family == AF_UNSPEC)
            return r;
        if (r->family == family && acl_within(bytes, r->net, r->prefix))
            return r;
    }
    return NULL;
}

const struct acl_rule *acl_denied_by(const struct acl *a, const struct sockaddr *peer)
{
    const struct acl_rule *r = acl_match(a, peer);

    return r != NULL && !r->allow ? r : NULL;
}

long acl_unreachable(const struct acl *a)
{
    for (size_t i = 0; i + 1 < a->n; i++) {
        if (a->rules[i].family == AF_UNSPEC)
            return (long)i + 1;
    }
    return -1;
}
