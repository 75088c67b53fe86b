/*
 * tree: safe opens and listings beneath the served directory. See tree.h.
 */
#include "worker/tree.h"

#include "common/name.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TREE_PATH_MAX 4096

static bool tree_walk_only; /* openat2() missing, or forced by a test */

static const struct {
    int err;
    enum tree_why why;
} tree_whys[] = {
    {ENOENT, TREE_WHY_NOT_FOUND}, {ENOTDIR, TREE_WHY_NOT_FOUND}, {ELOOP, TREE_WHY_LINK},
    {EISDIR, TREE_WHY_DIR},       {ENXIO, TREE_WHY_SPECIAL},     {ENODEV, TREE_WHY_SPECIAL},
    {EACCES, TREE_WHY_DENIED},    {EPERM, TREE_WHY_DENIED},      {ENAMETOOLONG, TREE_WHY_TOO_LONG},
    {EINVAL, TREE_WHY_INVALID},
};

enum tree_why tree_why(int err)
{
    for (size_t i = 0; i < sizeof(tree_whys) / sizeof(tree_whys[0]); i++) {
        if (tree_whys[i].err == err)
            return tree_whys[i].why;
    }
    return TREE_WHY_FAILED;
}

void tree_force_walk(bool on)
{
    tree_walk_only = on;
}

/* True for a component no path may hold. */
static bool tree_bad_component(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.');
}

/* True for a name flags keep out of sight (tree.h): the server's own
 * always, any other beginning with '.' unless TREE_HIDDEN. */
static bool tree_hidden(const char *s, size_t len, unsigned flags)
{
    size_t own = sizeof(TREE_OWN_PREFIX) - 1;

    if (len == 0 || s[0] != '.')
        return false;
    if (len >= own && memcmp(s, TREE_OWN_PREFIX, own) == 0)
        return true;
    return !(flags & TREE_HIDDEN);
}

/* Judges every component of path by its name alone, before anything is
 * opened: -EINVAL for one no path may hold, -ENOENT for a hidden one (as
 * if it did not exist, whether it does or not), else 0. */
static int tree_check_names(const char *path, unsigned flags)
{
    for (const char *p = path;; p += strcspn(p, "/") + 1) {
        size_t len = strcspn(p, "/");

        if (tree_bad_component(p, len))
            return -EINVAL;
        if (tree_hidden(p, len, flags))
            return -ENOENT;
        if (p[len] == '\0')
            return 0;
    }
}

/* Opens directory dir (a path of several components) beneath dirfd with
 * openat2(): the kernel refuses symbolic links and any escape. */
static int tree_openat2(int dirfd, const char *dir)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, dirfd, dir, &how, sizeof(how));

    return fd < 0 ? -errno : (int)fd;
}

/* What a failed O_NOFOLLOW open of name in at means: the kernel says
 * ENOTDIR or ELOOP for a symbolic link, depending on the flags; the
 * contract (tree.h) is -ELOOP for a link, -ENOTDIR for a file in the way. */
static int tree_nofollow_err(int at, const char *name, int err)
{
    struct stat st;

    if ((err == ENOTDIR || err == ELOOP) && fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
    return -err;
}

/* The same, one O_NOFOLLOW component at a time (kernels before 5.6, or
 * where a filter refuses openat2). A symbolic link fails with ENOTDIR or
 * ELOOP; ".." never gets here. */
static int tree_walk(int dirfd, const char *dir)
{
    char comp[NAME_MAX + 1];
    int cur = -1;

    for (const char *p = dir; *p != '\0';) {
        size_t len = strcspn(p, "/");
        int next;

        if (len > NAME_MAX) {
            if (cur >= 0)
                close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        next = openat(cur >= 0 ? cur : dirfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            int err = tree_nofollow_err(cur >= 0 ? cur : dirfd, comp, errno);
            if (cur >= 0)
                close(cur);
            return err;
        }
        if (cur >= 0)
            close(cur);
        cur = next;
        p += len + (p[len] == '/');
    }
    return cur;
}

/* Opens the directory holding path's last component: dirfd itself when
 * path has one component (*parent = -1, nothing to close). Sets *leaf. */
static int tree_parent(int dirfd, const char *path, unsigned flags, int *parent, const char **leaf)
{
    char dir[TREE_PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t len;
    int fd;

    *parent = -1;
    if ((fd = tree_check_names(path, flags)) < 0)
        return fd;
    *leaf = slash != NULL ? slash + 1 : path;
    if (slash == NULL)
        return 0;
    len = (size_t)(slash - path);
    if (len >= sizeof(dir))
        return -ENAMETOOLONG;
    memcpy(dir, path, len);
    dir[len] = '\0';
    fd = tree_walk_only ? -ENOSYS : tree_openat2(dirfd, dir);
    if (fd == -ENOSYS || fd == -EPERM) { /* EPERM: a seccomp filter's answer */
        tree_walk_only = fd == -ENOSYS;
        fd = tree_walk(dirfd, dir);
    }
    if (fd == -ELOOP || fd == -EXDEV)
        fd = fd == -EXDEV ? -EINVAL : -ELOOP;
    if (fd < 0)
        return fd;
    *parent = fd;
    return 0;
}

/* Judges the entry from its lstat: 0 for a regular file, else -errno. */
static int tree_judge(const struct stat *st)
{
    if (S_ISREG(st->st_mode))
        return 0;
    if (S_ISDIR(st->st_mode))
        return -EISDIR;
    return S_ISLNK(st->st_mode) ? -ELOOP : -ENXIO;
}

/* Opens leaf in at, judged before and after. */
static int tree_open_leaf(int at, const char *leaf, struct stat *st)
{
    int fd, rc;

    if (fstatat(at, leaf, st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if ((rc = tree_judge(st)) < 0)
        return rc;
    /* O_NONBLOCK and O_NOFOLLOW in case the entry was swapped meanwhile. */
    fd = openat(at, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, st) < 0) {
        rc = -errno;
    } else {
        rc = tree_judge(st);
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int tree_open(int dirfd, const char *path, unsigned flags, struct stat *st)
{
    const char *leaf;
    int parent, fd;

    if (path[0] == '\0') {
        if (fstat(dirfd, st) < 0)
            return -errno;
        return S_ISDIR(st->st_mode) ? -EISDIR : -ENOTDIR;
    }
    if ((fd = tree_parent(dirfd, path, flags, &parent, &leaf)) < 0)
        return fd;
    fd = tree_open_leaf(parent >= 0 ? parent : dirfd, leaf, st);
    if (parent >= 0)
        close(parent);
    return fd;
}

/* Opens the directory at path for reading its entries. */
static int tree_open_dir(int dirfd, const char *path, unsigned flags)
{
    const char *leaf;
    struct stat st;
    int parent, fd, rc;

    if (path[0] == '\0') {
        parent = -1;
        leaf = ".";
    } else if ((rc = tree_parent(dirfd, path, flags, &parent, &leaf)) < 0) {
        return rc;
    }
    fd =
        openat(parent >= 0 ? parent : dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    rc = fd < 0 ? tree_nofollow_err(parent >= 0 ? parent : dirfd, leaf, errno) : 0;
    if (parent >= 0)
        close(parent);
    if (rc == 0 && fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        rc = -ENOTDIR;
    if (rc < 0 && fd >= 0)
        close(fd);
    return rc < 0 ? rc : fd;
}

/* Appends one entry (its name copied into the list's storage). */
static int tree_list_add(struct tree_list *l, const char *name, const struct stat *st)
{
    size_t len = strlen(name) + 1;

    if (l->n == TREE_LIST_MAX)
        return -EFBIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct tree_entry *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (l->names_len + len > l->names_cap) {
        size_t cap = l->names_cap ? l->names_cap * 2 : 4096;
        char *names;

        while (cap < l->names_len + len)
            cap *= 2;
        if ((names = realloc(l->names, cap)) == NULL)
            return -ENOMEM;
        l->names = names;
        l->names_cap = cap;
    }
    memcpy(l->names + l->names_len, name, len);
    /* Offsets now, pointers once the storage stops moving. */
    l->v[l->n++] = (struct tree_entry){
        .name = (const char *)(uintptr_t)l->names_len,
        .size = (uint64_t)st->st_size,
        .mtime = (int64_t)st->st_mtim.tv_sec,
        .dir = S_ISDIR(st->st_mode),
    };
    l->names_len += len;
    return 0;
}

/* True when the entry belongs in a listing of this kind (hidden names
 * are already left out). */
static bool tree_keep(int dfd, enum tree_filter filter, const char *name, const struct stat *st)
{
    if (filter == TREE_FILES_NATIVE) /* what a FILE_REQUEST would serve */
        return S_ISREG(st->st_mode) && name_valid(name, strlen(name)) &&
               faccessat(dfd, name, R_OK, AT_EACCESS) == 0;
    return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode);
}

static int tree_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tree_entry *)a)->name, ((const struct tree_entry *)b)->name);
}

/* True when an entry named so is certainly not listed: spares its stat. */
static bool tree_skip(const struct dirent *e, unsigned flags)
{
    size_t len = strlen(e->d_name);

    if (e->d_type != DT_UNKNOWN && e->d_type != DT_REG && e->d_type != DT_DIR)
        return true;
    return tree_bad_component(e->d_name, len) || tree_hidden(e->d_name, len, flags);
}

/* Reads every entry of the open directory d into l. */
static int tree_read_dir(DIR *d, enum tree_filter filter, unsigned flags, struct tree_list *l)
{
    struct dirent *e;
    struct stat st;
    int rc = 0;

    /* errno is reset before each readdir() (continue included): only its
     * own failure may be left in it at the end, not a skipped entry's
     * fstatat(). */
    for (errno = 0; rc == 0 && (e = readdir(d)) != NULL; errno = 0) {
        if (tree_skip(e, flags))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* removed meanwhile */
        if (tree_keep(dirfd(d), filter, e->d_name, &st))
            rc = tree_list_add(l, e->d_name, &st);
    }
    if (rc == 0 && errno != 0)
        rc = -errno;
    return rc;
}

int tree_list(int dirfd, const char *path, enum tree_filter filter, unsigned flags,
              struct tree_list *list)
{
    int fd = tree_open_dir(dirfd, path, flags), rc;
    DIR *d;

    memset(list, 0, sizeof(*list));
    if (fd < 0)
        return fd;
    if ((d = fdopendir(fd)) == NULL) {
        rc = -errno;
        close(fd);
        return rc;
    }
    rc = tree_read_dir(d, filter, flags, list);
    closedir(d);
    if (rc < 0) {
        tree_list_free(list);
        return rc;
    }
    for (size_t i = 0; i < list->n; i++)
        list->v[i].name = list->names + (uintptr_t)list->v[i].name;
    if (list->n > 1) /* qsort(NULL, 0) is undefined */
        qsort(list->v, list->n, sizeof(list->v[0]), tree_entry_cmp);
    return 0;
}

void tree_list_free(struct tree_list *list)
{
    free(list->v);
    free(list->names);
    memset(list, 0, sizeof(*list));
}
