/*
 * adminpath: the one rule for where ferryd's admin socket lives, shared by
 * ferryd (which binds its default path) and ferryctl (which searches every
 * place the rule allows). The rule, for a server on port PORT:
 *
 *   root                     /run/ferry/ferryd-PORT.sock
 *   anyone else, if usable   $XDG_RUNTIME_DIR/ferryd-PORT.sock
 *   anyone else              /tmp/ferryd-UID-PORT.sock
 *
 * $XDG_RUNTIME_DIR is usable when it is absolute and short enough for a
 * socket path; otherwise it counts as unset, for ferryd and ferryctl
 * alike, so that both always agree. Nothing here touches the file system
 * or logs: ferryd creates /run/ferry itself.
 */
#ifndef FERRY_ADMINPATH_H
#define FERRY_ADMINPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

/* Bytes in a Unix socket path, its NUL included (108 on Linux). */
#define APATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* The longest file name prefix: "ferryd-" and a uid and '-'. */
#define APATH_PREFIX_MAX 32

/* The places a client searches, at most: $XDG_RUNTIME_DIR, /tmp, /run/ferry. */
#define APATH_PLACES_MAX 3

/* A directory where sockets are named PREFIX PORT ".sock"; a client looks
 * for PREFIX*.sock there. */
struct apath_place {
    char dir[APATH_MAX];
    char prefix[APATH_PREFIX_MAX];
};

/*
 * Fills places (room for APATH_PLACES_MAX) with where a client running as
 * uid, with $XDG_RUNTIME_DIR xdg (NULL: unset), looks for sockets. The
 * first is where a server run the same way puts its own, so the default
 * path is derived from the same list. Root looks in /run/ferry only;
 * anyone else in $XDG_RUNTIME_DIR (if usable), /tmp (ferryd-UID-*) and
 * /run/ferry (root's ferryd, for members of its --admin-group). Returns
 * how many places it filled (at least one).
 */
size_t apath_places(uid_t uid, const char *xdg, struct apath_place *places);

/* Writes place's socket path for port into buf. Returns 0 or
 * -ENAMETOOLONG (len, or a socket address, is too small for it). */
int apath_join(const struct apath_place *place, unsigned port, char *buf, size_t len);

/* Writes place's search pattern ("DIR/PREFIX*.sock") into buf, for
 * messages. Returns 0 or -ENAMETOOLONG. */
int apath_pattern(const struct apath_place *place, char *buf, size_t len);

/* Returns true when name (a file name, no directory) is a socket name of
 * place: PREFIX, something, ".sock". */
bool apath_match(const struct apath_place *place, const char *name);

/* False when name says whose socket it is ("ferryd-UID-PORT.sock", as in
 * /tmp, which anyone may write to) and owner is someone else: another
 * user's socket posing as that UID's ferryd. Other names: true. */
bool apath_owner_ok(const char *name, uid_t owner);

/* Writes the default path for a server on port run as uid with
 * $XDG_RUNTIME_DIR xdg (NULL: unset) into buf. Returns 0 or -ENAMETOOLONG. */
int apath_default_for(uid_t uid, const char *xdg, unsigned port, char *buf, size_t len);

/* apath_default_for() for this process: geteuid() and $XDG_RUNTIME_DIR. */
int apath_default(unsigned port, char *buf, size_t len);

#endif
