/*
 * adminpath: where ferryd's admin socket lives. See adminpath.h.
 */
#include "common/adminpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest socket file name under $XDG_RUNTIME_DIR, for deciding
 * whether that directory can hold one at all. */
#define APATH_LONGEST_NAME "/ferryd-65535.sock"

/* $XDG_RUNTIME_DIR counts only when a socket fits under it: ferryd would
 * fail to bind there, and ferryctl would look where no ferryd can be. */
static bool apath_xdg_usable(const char *xdg)
{
    return xdg != NULL && xdg[0] == '/' && strlen(xdg) + sizeof(APATH_LONGEST_NAME) <= APATH_MAX;
}

static void apath_set(struct apath_place *p, const char *dir, const char *prefix)
{
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    snprintf(p->prefix, sizeof(p->prefix), "%s", prefix);
}

size_t apath_places(uid_t uid, const char *xdg, struct apath_place *places)
{
    char prefix[APATH_PREFIX_MAX];
    size_t n = 0;

    if (uid == 0) {
        apath_set(&places[n++], "/run/ferry", "ferryd-");
        /* Root may talk to anyone's ferryd: those that fell back to /tmp
         * too (ferryd-UID-PORT.sock of every UID). */
        apath_set(&places[n++], "/tmp", "ferryd-");
        return n;
    }
    if (apath_xdg_usable(xdg))
        apath_set(&places[n++], xdg, "ferryd-");
    snprintf(prefix, sizeof(prefix), "ferryd-%ld-", (long)uid);
    apath_set(&places[n++], "/tmp", prefix);
    /* Not a default for anyone but root; searched so that a member of
     * root's ferryd's --admin-group finds its socket. */
    apath_set(&places[n++], "/run/ferry", "ferryd-");
    return n;
}

int apath_join(const struct apath_place *place, unsigned port, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s%u.sock", place->dir, place->prefix, port);

    return n < 0 || (size_t)n >= len || (size_t)n >= APATH_MAX ? -ENAMETOOLONG : 0;
}

int apath_pattern(const struct apath_place *place, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s*.sock", place->dir, place->prefix);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool apath_match(const struct apath_place *place, const char *name)
{
    size_t np = strlen(place->prefix), n = strlen(name);

    return n >= np + sizeof(".sock") - 1 && strncmp(name, place->prefix, np) == 0 &&
           strcmp(name + n - (sizeof(".sock") - 1), ".sock") == 0;
}

bool apath_owner_ok(const char *name, uid_t owner)
{
    const char *p = name + sizeof("ferryd-") - 1, *q;
    unsigned long uid;
    char *end;

    if (strncmp(name, "ferryd-", sizeof("ferryd-") - 1) != 0 || (q = strchr(p, '-')) == NULL ||
        p == q || strspn(p, "0123456789") != (size_t)(q - p))
        return true; /* ferryd-PORT.sock: no owner in the name */
    uid = strtoul(p, &end, 10);
    return end == q && (uid_t)uid == owner;
}

int apath_default_for(uid_t uid, const char *xdg, unsigned port, char *buf, size_t len)
{
    struct apath_place places[APATH_PLACES_MAX];

    apath_places(uid, xdg, places);
    return apath_join(&places[0], port, buf, len);
}

int apath_default(unsigned port, char *buf, size_t len)
{
    return apath_default_for(geteuid(), getenv("XDG_RUNTIME_DIR"), port, buf, len);
}
