/*
 * tree: the served directory, opened safely. Every path is resolved
 * beneath the root with no symbolic link followed anywhere in it
 * (openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel
 * has it, else a walk of O_NOFOLLOW opens, one component at a time), and
 * the last component is judged before it is opened: anything but a
 * regular file or a directory is refused unopened, so a FIFO's blocked
 * writer is never woken and a device's open has no side effects. The file
 * is then opened O_NONBLOCK and judged again by fstat() of the descriptor.
 *
 * What is hidden is decided here too, once for every protocol: a path with
 * a component beginning with '.' (".env", ".git/config") is answered as a
 * missing one and left out of listings, unless the caller's flags say
 * TREE_HIDDEN (--serve-hidden). The check is on the names as given, before
 * anything is opened, so it holds whichever way the path is resolved and
 * tells nothing of what exists.
 */
#ifndef FERRY_TREE_H
#define FERRY_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* What the served tree shows: the server's policy, which each protocol
 * passes from its connection's (conn_env.tree_flags). */
enum tree_flags {
    TREE_HIDDEN = 1u << 0, /* names beginning with '.' are served and listed */
};

/* Names beginning with this are the server's own: an upload's temporary
 * file (worker/put.h). Never served nor listed, whatever the flags. */
#define TREE_OWN_PREFIX ".ferry-put-"

/*
 * Opens the regular file at path (relative to dirfd: "name" or "a/b/name";
 * "" is the root) as flags allow. Returns the descriptor with *st filled,
 * or -errno: -ENOENT (also for a hidden path: a component beginning with
 * '.' without TREE_HIDDEN, or with TREE_OWN_PREFIX), -EACCES..., -EISDIR
 * for a directory (*st filled), -ELOOP for a symbolic link anywhere in the
 * path, -ENOTDIR when a component is not a directory, -ENXIO for any other
 * kind of file, -EINVAL for an empty, "." or ".." component (callers never
 * send one: a second line of defence).
 */
int tree_open(int dirfd, const char *path, unsigned flags, struct stat *st);

/* Why a path could not be served, whatever the protocol: each protocol
 * maps these to its own answers (native.c, http.c). */
enum tree_why {
    TREE_WHY_NOT_FOUND, /* no such entry, or a component is not a directory */
    TREE_WHY_LINK,      /* a symbolic link, anywhere in the path */
    TREE_WHY_DIR,       /* a directory where a file was wanted */
    TREE_WHY_SPECIAL,   /* a FIFO, socket or device: never opened */
    TREE_WHY_DENIED,    /* the server may not read it */
    TREE_WHY_TOO_LONG,  /* a name or path over the system's limits */
    TREE_WHY_INVALID,   /* an empty, "." or ".." component */
    TREE_WHY_FAILED,    /* anything else: the server's trouble */
    TREE_WHY_COUNT
};

/* Classifies a tree_open() or tree_list() error (a positive errno). */
enum tree_why tree_why(int err);

/* Forces the component walk even where openat2() exists (tests). */
void tree_force_walk(bool on);

/* One entry of a listing. */
struct tree_entry {
    const char *name; /* into the list's own storage */
    uint64_t size;
    int64_t mtime; /* Unix seconds */
    bool dir;
};

/* A sorted snapshot of a directory. */
struct tree_list {
    struct tree_entry *v;
    size_t n, cap;
    char *names; /* the names, NUL-terminated, back to back */
    size_t names_len, names_cap;
};

#define TREE_LIST_MAX 1000000 /* entries: the bound on one listing's memory */

/* What a listing keeps. */
enum tree_filter {
    TREE_FILES_NATIVE, /* regular files whose names are valid native names */
    TREE_FILES_DIRS,   /* regular files and directories */
};

/*
 * Lists the directory at path (as tree_open resolves it with flags) into
 * *list, sorted by name (strcmp), keeping what filter says (symbolic links
 * and special files never, hidden names as flags say). Returns 0, or
 * -errno (-EFBIG beyond TREE_LIST_MAX entries). The list owns its memory:
 * tree_list_free().
 */
int tree_list(int dirfd, const char *path, enum tree_filter filter, unsigned flags,
              struct tree_list *list);

/* Frees a list's memory (and zeroes it); safe on a zeroed list. */
void tree_list_free(struct tree_list *list);

#endif
