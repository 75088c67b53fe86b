/*
 * put: an upload over the native protocol, announced by the hub. See
 * put.h.
 */
#include "worker/put.h"

#include "common/log.h"
#include "common/name.h"
#include "common/rand.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(WIRE_PUT_NAME_MAX == HUBIPC_NAME_MAX, "a PUT's name is what the hub announces");
_Static_assert(WIRE_PUT_MAC == HUBIPC_MAC, "the MAC after the content is what VERIFY checks");
_Static_assert(crypto_hash_sha256_BYTES == HUBIPC_SHA256, "SHA-256 is 32 bytes");

#define PUT_NS_PER_MS 1000000LL

/* A name an upload may take: a valid native name (name.h: printable
 * ASCII, no '/'), no longer than the hub's announcement carries, and not
 * hidden: nothing starting with '.', so no upload meets a temporary file
 * or makes a dot-file. */
static bool put_name_valid(const uint8_t *name, size_t len)
{
    return len <= HUBIPC_NAME_MAX && name_valid(name, len) && name[0] != '.';
}

bool put_temp_name(const void *name, size_t len)
{
    return len >= sizeof(PUT_TEMP_PREFIX) - 1 &&
           memcmp(name, PUT_TEMP_PREFIX, sizeof(PUT_TEMP_PREFIX) - 1) == 0;
}

/* Records the server's own trouble for the request's log line. Returns
 * WIRE_SERVER_ERROR, the answer. */
static int put_fault(struct conn *c, const char *problem, int err)
{
    c->problem = problem;
    c->err = err;
    c->server_fault = true;
    return WIRE_SERVER_ERROR;
}

static void put_release(struct put_state *st, int dirfd)
{
    if (st->has_file)
        close(st->file);
    if (st->has_temp)
        unlinkat(dirfd, st->temp, 0);
    if (st->has_hub)
        close(st->hub);
    st->has_file = st->has_temp = st->has_hub = false;
}

void put_finish(struct put_state *st, int dirfd)
{
    put_release(st, dirfd);
}

/* Every outcome of an upload, OK included, ends here: what it still holds
 * is released (a temporary file left is unlinked). Returns status. */
static int put_end(struct conn *c, struct put_state *st, int status)
{
    put_release(st, c->env->dirfd);
    st->phase = PUT_OVER;
    return status;
}

/* The upload ends without an answer (the client closed, stalled, or is
 * too slow). Returns PUT_GONE. */
static int put_cut(struct conn *c, struct put_state *st, const char *problem, int err)
{
    put_end(c, st, PUT_GONE);
    conn_trouble(c, problem, err, false);
    return PUT_GONE;
}

/*
 * Asks the hub about the upload: op, with st->q (one conversation for the
 * upload's questions, opened at the first). Returns the status it answers
 * (OK, ACCESS_DENIED, UNAUTHORIZED or SERVER_ERROR), or SERVER_ERROR with
 * the problem recorded when it cannot be asked, is silent for the timeout,
 * or answers something else.
 */
static int put_ask(struct conn *c, struct put_state *st, uint8_t op, struct hubipc_rep *rep)
{
    int timeout = c->env->hub_timeout_ms > 0 ? c->env->hub_timeout_ms : HUBIPC_TIMEOUT_MS;
    int rc;

    if (!st->has_hub) {
        if ((rc = hubipc_open(c->env->hub_fd)) < 0)
            return put_fault(c, "hub unreachable", -rc);
        st->hub = rc;
        st->has_hub = true;
    }
    st->q.op = op;
    memset(rep, 0, sizeof(*rep));
    if ((rc = hubipc_call(st->hub, &st->q, rep, timeout)) < 0)
        return put_fault(c, rc == -ETIMEDOUT ? "hub did not answer" : "hub unreachable", -rc);
    switch (rep->status) {
    case WIRE_OK:
    case WIRE_ACCESS_DENIED:
    case WIRE_UNAUTHORIZED:
        return rep->status;
    case WIRE_SERVER_ERROR:
        return put_fault(c, "hub failed", 0);
    }
    return put_fault(c, "hub answered an unknown status", EBADMSG);
}

/* What holds name in the directory now: nothing (PUT_FREE), the very
 * file this publisher's earlier upload placed (PUT_THEIRS: rep says it
 * may replace, and the device and inode are the ones recorded), or
 * anything else (PUT_TAKEN: another user's, or an operator's since). */
enum put_holder { PUT_FREE, PUT_THEIRS, PUT_TAKEN };

static enum put_holder put_holder(int dirfd, const char *name, const struct hubipc_rep *rep)
{
    struct stat sb;

    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return PUT_FREE;
    if (rep->may_replace && (uint64_t)sb.st_dev == rep->dev && (uint64_t)sb.st_ino == rep->ino)
        return PUT_THEIRS;
    return PUT_TAKEN;
}

/*
 * Creates the temporary file: a fresh random name, O_EXCL (never an entry
 * that is there, a symbolic link included), mode 0 while it is written so
 * that nobody but root opens a half-written file. Returns 0 or -errno.
 */
static int put_create(int dirfd, struct put_state *st)
{
    static const char hex[] = "0123456789abcdef";

    for (int tries = 0; tries < 4; tries++) {
        uint8_t r[8];
        char *p = st->temp + sizeof(PUT_TEMP_PREFIX) - 1;
        int fd, rc;

        if ((rc = rand_bytes(r, sizeof(r))) < 0)
            return rc;
        memcpy(st->temp, PUT_TEMP_PREFIX, sizeof(PUT_TEMP_PREFIX) - 1);
        for (size_t i = 0; i < sizeof(r); i++) {
            *p++ = hex[r[i] >> 4];
            *p++ = hex[r[i] & 15];
        }
        *p = '\0';
        fd = openat(dirfd, st->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
        if (fd >= 0) {
            st->file = fd;
            st->has_file = st->has_temp = true;
            return 0;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

/* Writes all n bytes. Returns 0 or -errno (-ENOSPC: the disk is full). */
static int put_write(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The read deadline: the stall bound, or the end of the --min-rate window
 * when that comes first. */
static void put_deadline(struct conn *c, const struct put_state *st)
{
    c->read_deadline =
        st->window_end != 0 && st->window_end < st->stall_at ? st->window_end : st->stall_at;
}

/*
 * --min-rate, as a response is held to it (conn.c), the other way: over
 * each CONN_RATE_WINDOW_S the client must have sent min_rate bytes a
 * second, or a client trickling a byte now and then would hold its
 * connection (and, but in the event mode, a process) for ever. Returns
 * false when the window that ended fell short; else true, and a new
 * window begins where one ended.
 */
static bool put_rate_ok(struct conn *c, struct put_state *st, int64_t now)
{
    if (st->window_end == 0 || now < st->window_end)
        return true;
    if (st->received - st->window_from < c->env->min_rate * CONN_RATE_WINDOW_S)
        return false;
    st->window_end = now + (int64_t)CONN_RATE_WINDOW_S * 1000000000;
    st->window_from = st->received;
    return true;
}

int put_start(struct conn *c, struct put_state *st, const struct wire_request *req, int64_t now)
{
    struct hubipc_rep rep;
    int status, rc;

    if (c->env->hub_fd < 0) /* no hub: a type this server does not take */
        return WIRE_BAD_REQUEST;
    if (!put_name_valid(req->name, req->name_len))
        return WIRE_INVALID_NAME;
    if (req->size > c->env->hub_max_upload) {
        st->answer_size = c->env->hub_max_upload;
        return WIRE_TOO_LARGE;
    }
    memset(&st->q, 0, sizeof(st->q)); /* its padding crosses to the hub too */
    st->q.token = req->token;
    st->q.size = req->size;
    memcpy(st->q.name, req->name, req->name_len);
    if ((status = put_ask(c, st, HUBIPC_AUTH, &rep)) != WIRE_OK)
        return put_end(c, st, status);
    log_debug("PUT \"%s\" size=%llu by %s, %s wire%s", st->q.name, (unsigned long long)req->size,
              rep.publisher, rep.secure ? "secure" : "plain",
              rep.may_replace ? ", may replace" : "");
    st->secure = rep.secure;
    /* Not this publisher's to replace: refused before the content, not
     * after. A name free now may not be replaced at the rename either
     * (whatever takes it meanwhile is not the publisher's). */
    switch (put_holder(c->env->dirfd, st->q.name, &rep)) {
    case PUT_TAKEN:
        return put_end(c, st, WIRE_ACCESS_DENIED);
    case PUT_THEIRS:
        st->may_replace = true;
        break;
    case PUT_FREE:
        st->may_replace = false;
        break;
    }
    if ((rc = put_create(c->env->dirfd, st)) < 0)
        return put_end(c, st, put_fault(c, "cannot create the temporary file", -rc));
    crypto_hash_sha256_init(&st->sha);
    st->left = req->size;
    st->phase = PUT_CONTENT;
    c->phase = "upload";
    /* The content is not held to --request-timeout (64 MiB would not fit
     * in 10 s on a slow link) but to progress and a rate, as a response. */
    st->stall_at = now + c->env->io_timeout_ms * PUT_NS_PER_MS;
    st->window_end = c->env->min_rate > 0 ? now + (int64_t)CONN_RATE_WINDOW_S * 1000000000 : 0;
    put_deadline(c, st);
    return PUT_READ;
}

/* Moves the content, then the MAC, from c->in into the upload. Returns
 * PUT_READ, or SERVER_ERROR when the file cannot be written. */
static int put_take(struct conn *c, struct put_state *st, int64_t now)
{
    size_t n = 0, m;
    int rc;

    if (st->phase == PUT_CONTENT) {
        n = c->in_len < st->left ? c->in_len : (size_t)st->left;
        if (n > 0 && (rc = put_write(st->file, c->in, n)) < 0)
            return put_end(c, st, put_fault(c, "cannot write the upload", -rc));
        crypto_hash_sha256_update(&st->sha, c->in, n);
        st->left -= n;
        if (st->left == 0)
            st->phase = st->secure ? PUT_MAC : PUT_ALL_IN;
    }
    if (st->phase == PUT_MAC) {
        m = c->in_len - n < HUBIPC_MAC - st->mac_len ? c->in_len - n : HUBIPC_MAC - st->mac_len;
        memcpy(st->q.mac + st->mac_len, c->in + n, m);
        st->mac_len += m;
        n += m;
        if (st->mac_len == HUBIPC_MAC)
            st->phase = PUT_ALL_IN;
    }
    if (n > 0) {
        conn_consume(c, n);
        st->received += n;
        st->stall_at = now + c->env->io_timeout_ms * PUT_NS_PER_MS;
    }
    return PUT_READ;
}

/* Gives the file its final mode, syncs and closes it, and notes which
 * file it is. Returns 0 or -errno. */
static int put_seal(struct put_state *st)
{
    struct stat sb;
    int rc = 0;

    if (fchmod(st->file, 0644) < 0 || fsync(st->file) < 0 || fstat(st->file, &sb) < 0)
        rc = -errno;
    else {
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
    }
    if (close(st->file) < 0 && rc == 0)
        rc = -errno;
    st->has_file = false;
    return rc;
}

/* Renames the temporary file to a name that is free. Returns 0, -EEXIST
 * when it is taken, or -errno. */
static int put_rename_new(int dirfd, struct put_state *st)
{
    if (renameat2(dirfd, st->temp, dirfd, st->q.name, RENAME_NOREPLACE) == 0) {
        st->has_temp = false;
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* A file system without RENAME_NOREPLACE: a hard link is as exclusive. */
    if (linkat(dirfd, st->temp, dirfd, st->q.name, 0) < 0)
        return -errno;
    if (unlinkat(dirfd, st->temp, 0) == 0)
        st->has_temp = false;
    return 0;
}

/* Puts the file in place: under a free name, or over this publisher's
 * earlier upload where the hub allows it. Returns 0 (a new name), 1 (an
 * earlier upload replaced), -EEXIST or -EISDIR when the name is not the
 * upload's to take, or -errno. */
static int put_place(int dirfd, struct put_state *st)
{
    int rc = put_rename_new(dirfd, st);

    if (rc != -EEXIST || !st->may_replace)
        return rc;
    if (renameat(dirfd, st->temp, dirfd, st->q.name) < 0)
        return -errno;
    st->has_temp = false;
    return 1;
}

/* Syncs the directory, so that the rename survives a power cut. The
 * served directory's descriptor is O_PATH: fsync needs one of its own. */
static int put_sync_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* The file is in place but the upload failed after all (the hub did not
 * take the announcement): a file the upload added is removed again,
 * unless another has taken its name meanwhile, so that a retry finds the
 * name free; one that replaced an earlier upload stays, the earlier being
 * gone. Returns status. */
static int put_unplace(struct conn *c, struct put_state *st, int status)
{
    struct stat sb;

    if (st->placed && fstatat(c->env->dirfd, st->q.name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        sb.st_dev == st->dev && sb.st_ino == st->ino)
        unlinkat(c->env->dirfd, st->q.name, 0);
    st->placed = false;
    return put_end(c, st, status);
}

/* Every byte is in: verified, synced, placed, announced. Returns the status
 * to answer. */
static int put_complete(struct conn *c, struct put_state *st)
{
    int dirfd = c->env->dirfd, status, rc;
    struct hubipc_rep rep;

    crypto_hash_sha256_final(&st->sha, st->q.sha256);
    /* On the plain wire, with no MAC, the hub checks the token again. */
    if ((status = put_ask(c, st, HUBIPC_VERIFY, &rep)) != WIRE_OK)
        return put_end(c, st, status);
    if ((rc = put_seal(st)) < 0)
        return put_end(c, st, put_fault(c, "cannot sync the upload", -rc));
    rc = put_place(dirfd, st);
    if (rc == -EEXIST || rc == -EISDIR || rc == -ENOTEMPTY)
        return put_end(c, st, WIRE_ACCESS_DENIED);
    if (rc < 0)
        return put_end(c, st, put_fault(c, "cannot rename the upload into place", -rc));
    st->placed = rc == 0;
    if ((rc = put_sync_dir(dirfd)) < 0)
        return put_unplace(c, st, put_fault(c, "cannot sync the directory", -rc));
    st->q.dev = (uint64_t)st->dev;
    st->q.ino = (uint64_t)st->ino;
    if ((status = put_ask(c, st, HUBIPC_ANNOUNCE, &rep)) != WIRE_OK)
        return put_unplace(c, st, status);
    st->answer_size = st->q.size;
    return put_end(c, st, WIRE_OK);
}

int put_input(struct conn *c, struct put_state *st, int64_t now)
{
    int rc = put_take(c, st, now);

    if (rc != PUT_READ)
        return rc;
    if (st->phase == PUT_ALL_IN)
        return put_complete(c, st);
    if (c->eof)
        return put_cut(c, st, "client closed during the upload", 0);
    if (!put_rate_ok(c, st, now))
        return put_cut(c, st, "client too slow: below --min-rate", 0);
    put_deadline(c, st);
    return PUT_READ;
}

int put_expired(struct conn *c, struct put_state *st, int64_t now)
{
    if (now >= st->stall_at)
        return put_cut(c, st, "timed out", ETIMEDOUT);
    if (!put_rate_ok(c, st, now))
        return put_cut(c, st, "client too slow: below --min-rate", 0);
    put_deadline(c, st);
    return PUT_READ;
}

int put_sweep(int dirfd, int64_t max_age_s, time_t now)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *e;
    struct stat st;
    int removed = 0;

    if (d == NULL) {
        int err = errno;

        if (fd >= 0)
            close(fd);
        return -err;
    }
    while ((e = readdir(d)) != NULL) {
        /* Only a temporary file nobody has written to for longer than a
         * live upload may stall: one still being written is left alone. */
        if (!put_temp_name(e->d_name, strlen(e->d_name)) ||
            fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            now - st.st_mtime <= max_age_s)
            continue;
        if (unlinkat(dirfd, e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
