/*
 * output: the temporary file, the .part file and the rename. See output.h.
 */
#include "contrib/client/output.h"

#include "common/name.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The temporary file being written, for the signal handler to remove. A
 * .part is never put here: an interrupted download is what -c resumes. */
static char out_tmp[PATH_MAX];

/* The .part of this download (-c), for the signal handler to say what it
 * keeps; out_part_set says the path is whole (it is written outside the
 * handler, which may run at any moment). */
static char out_part_path[PATH_MAX];
static volatile sig_atomic_t out_part_set;

/* Appends s to buf at *len (room: size), cut if it is full: no stdio, for
 * the signal handler. */
static void out_put(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (n > size - *len)
        n = size - *len;
    memcpy(buf + *len, s, n);
    *len += n;
}

/* Writes n as size_format() does ("512 B", "31.2 MiB", the tenth rounded
 * half to even as printf's "%.1f") into buf, of 32 bytes, without stdio:
 * for the signal handler. Returns buf. */
static char *out_size(uint64_t n, char *buf)
{
    static const char *const units[] = {" B", " KiB", " MiB", " GiB", " TiB", " PiB", " EiB"};
    uint64_t whole = n, tenth = 0, mask, half, scaled;
    unsigned u = 0;
    char digits[24];
    size_t i = sizeof(digits), len = 0;

    while (u < 6 && (n >> (10 * u)) >= 1024)
        u++;
    if (u > 0) {
        mask = (1ULL << (10 * u)) - 1;
        half = 1ULL << (10 * u - 1);
        whole = n >> (10 * u);
        scaled = (n & mask) * 10; /* below 10 * 2^60: no overflow */
        tenth = scaled >> (10 * u);
        if ((scaled & mask) > half || ((scaled & mask) == half && tenth % 2 == 1))
            tenth++;
        if (tenth == 10) {
            whole++;
            tenth = 0;
        }
    }
    digits[--i] = '\0';
    if (u > 0) {
        digits[--i] = (char)('0' + tenth);
        digits[--i] = '.';
    }
    do {
        digits[--i] = (char)('0' + whole % 10);
        whole /= 10;
    } while (whole > 0);
    out_put(buf, 31, &len, digits + i);
    out_put(buf, 31, &len, units[u]);
    buf[len] = '\0';
    return buf;
}

/* Says what the .part keeps, if it keeps anything. Async-signal-safe. */
static void out_say_kept(const char *why, bool fresh_line)
{
    char msg[PATH_MAX + 128], size[32];
    struct stat st;
    size_t len = 0;

    if (!out_part_set || lstat(out_part_path, &st) < 0 || st.st_size <= 0)
        return;
    out_part_set = 0; /* once, whatever signal comes next */
    out_put(msg, sizeof(msg), &len, fresh_line ? "\nferry: " : "ferry: ");
    out_put(msg, sizeof(msg), &len, why);
    out_put(msg, sizeof(msg), &len, "; ");
    out_put(msg, sizeof(msg), &len, out_size((uint64_t)st.st_size, size));
    out_put(msg, sizeof(msg), &len, " kept in ");
    out_put(msg, sizeof(msg), &len, out_part_path);
    out_put(msg, sizeof(msg), &len, " (ferry get -c resumes)\n");
    if (write(STDERR_FILENO, msg, len) < 0)
        return; /* nowhere left to say it */
}

void out_on_signal(const char *why, bool fresh_line)
{
    if (out_tmp[0] != '\0')
        unlink(out_tmp);
    out_say_kept(why, fresh_line);
}

/* Tells the signal handler about out's .part (-c), or that there is none
 * (NULL). */
static void out_part_watch(const char *part)
{
    out_part_set = 0;
    if (part == NULL)
        return;
    snprintf(out_part_path, sizeof(out_part_path), "%s", part);
    out_part_set = 1;
}

const char *out_label(const struct output *out)
{
    return out->to_stdout ? "stdout" : out->path;
}

/* Fills out->path from -o and name. Returns EX_OK or an exit code. */
static int out_target(const struct client_opts *o, const char *name, struct output *out,
                      struct client_err *e)
{
    struct stat st;
    bool into_dir = o->output != NULL && stat(o->output, &st) == 0 && S_ISDIR(st.st_mode);
    int n;

    if (into_dir) /* "d/" and "d" alike: one slash between */
        n = snprintf(out->path, sizeof(out->path), "%s%s%s", o->output,
                     o->output[strlen(o->output) - 1] == '/' ? "" : "/", name);
    else
        n = snprintf(out->path, sizeof(out->path), "%s", o->output ? o->output : name);
    if (n < 0 || (size_t)n >= sizeof(out->path))
        return client_fail(e, EX_USAGE, "output path too long");
    /* The name becomes a local path only if it is a plain file name. */
    if ((o->output == NULL || into_dir) && !name_valid(name, strlen(name)))
        return client_fail(e, EX_USAGE, "'%s' is not a plain file name; choose the output with -o",
                           name);
    return EX_OK;
}

/* -c: measures path.part, the bytes a previous run kept. */
static int out_measure_part(struct output *out, struct client_err *e)
{
    struct stat st;

    if (out->stream)
        return client_fail(e, EX_USAGE,
                           "-c needs a file to write into (not stdout, a device or a FIFO)");
    if (snprintf(out->part, sizeof(out->part), "%s.part", out->path) >= (int)sizeof(out->part))
        return client_fail(e, EX_USAGE, "output path too long");
    out->have = 0;
    if (lstat(out->part, &st) < 0) {
        if (errno != ENOENT)
            return client_fail(e, EX_LOCAL, "%s: %s", out->part, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        return client_fail(e, EX_LOCAL, "%s is not a regular file", out->part);
    } else {
        out->have = (uint64_t)st.st_size;
    }
    out_part_watch(out->part);
    return EX_OK;
}

/* -c and path exists (without -f): with no path.part beside it, it may be
 * a complete earlier download, which the server's size will tell (exists);
 * with one, which of the two is meant is not ours to guess. */
static int out_existing(struct output *out, const struct stat *st, struct client_err *e)
{
    struct stat part;

    if (snprintf(out->part, sizeof(out->part), "%s.part", out->path) >= (int)sizeof(out->part))
        return client_fail(e, EX_USAGE, "output path too long");
    if (lstat(out->part, &part) == 0)
        return client_fail(e, EX_LOCAL,
                           "%s exists, and so does %s: use -f to resume %s and replace %s, or "
                           "remove one of them",
                           out->path, out->part, out->part, out->path);
    if (!S_ISREG(st->st_mode))
        return client_fail(e, EX_LOCAL, "%s exists (use -f to replace it)", out->path);
    out->exists = true;
    out->exists_size = (uint64_t)st->st_size;
    return EX_OK;
}

int out_prepare(const struct client_opts *o, const char *name, struct output *out,
                struct client_err *e)
{
    struct stat st;
    int rc;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    out->resume = o->resume;
    out->to_stdout = o->output != NULL && strcmp(o->output, "-") == 0;
    out->stream = out->to_stdout;
    if (!out->to_stdout && (rc = out_target(o, name, out, e)) != EX_OK)
        return rc;
    if (!out->to_stdout && stat(out->path, &st) == 0 && !S_ISREG(st.st_mode) &&
        !S_ISDIR(st.st_mode))
        out->stream = true; /* nothing is replaced, so no -f needed */
    if (!out->stream && !o->force && lstat(out->path, &st) == 0)
        return out->resume
                   ? out_existing(out, &st, e)
                   : client_fail(e, EX_LOCAL, "%s exists (use -f to replace it)", out->path);
    return out->resume ? out_measure_part(out, e) : EX_OK;
}

/* Creates the hidden temporary file beside the target. */
static int out_open_temp(struct output *out, struct client_err *e)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(out->path, '/'), *base = slash ? slash + 1 : out->path;
    int err;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out->path) : 1,
             slash ? out->path : ".");
    if (snprintf(out_tmp, sizeof(out_tmp), "%s/.%s.ferry-XXXXXX", dir, base) >=
        (int)sizeof(out_tmp)) {
        out_tmp[0] = '\0';
        return client_fail(e, EX_LOCAL, "output path too long");
    }
    out->fd = mkostemp(out_tmp, O_CLOEXEC);
    if (out->fd < 0) {
        err = errno;
        out_tmp[0] = '\0';
        return client_fail(e, EX_LOCAL, "cannot create a file in %s: %s", dir, strerror(err));
    }
    memcpy(out->part, out_tmp, sizeof(out->part));
    return EX_OK;
}

/* Opens path.part at its end, checking it still holds what was measured
 * (the request's offset was taken from it). */
static int out_open_part(struct output *out, struct client_err *e)
{
    off_t end;

    out->fd = open(out->part, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out->fd < 0)
        return client_fail(e, EX_LOCAL, "cannot open %s: %s", out->part, strerror(errno));
    /* Two ferry -c on one file would interleave their bytes. */
    if (flock(out->fd, LOCK_EX | LOCK_NB) < 0)
        return client_fail(e, EX_LOCAL, "%s: %s", out->part,
                           errno == EWOULDBLOCK ? "another ferry is writing it" : strerror(errno));
    end = lseek(out->fd, 0, SEEK_END);
    if (end < 0)
        return client_fail(e, EX_LOCAL, "%s: %s", out->part, strerror(errno));
    if ((uint64_t)end != out->have)
        return client_fail(e, EX_LOCAL, "%s changed meanwhile (%lld bytes, not %llu)", out->part,
                           (long long)end, (unsigned long long)out->have);
    return EX_OK;
}

int out_open(struct output *out, struct client_err *e)
{
    if (out->to_stdout) {
        out->fd = STDOUT_FILENO;
        return EX_OK;
    }
    if (out->stream) {
        out->fd = open(out->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (out->fd < 0)
            return client_fail(e, EX_LOCAL, "cannot open %s: %s", out->path, strerror(errno));
        return EX_OK;
    }
    return out->resume ? out_open_part(out, e) : out_open_temp(out, e);
}

int out_rewind(struct output *out, struct client_err *e)
{
    if (ftruncate(out->fd, 0) < 0 || lseek(out->fd, 0, SEEK_SET) < 0)
        return client_fail(e, EX_LOCAL, "%s: %s", out->part, strerror(errno));
    out->have = 0;
    return EX_OK;
}

/* Closes the file written in place (stdout is left open). */
static int out_close_stream(struct output *out)
{
    int rc = 0;

    if (!out->to_stdout && out->fd >= 0)
        rc = close(out->fd);
    out->fd = -1;
    return rc;
}

void out_abort(struct output *out)
{
    struct stat st;

    out_part_watch(NULL);             /* the caller says what is kept */
    if (out->stream || out->fd < 0) { /* a device or FIFO: never unlinked */
        out_close_stream(out);
        return;
    }
    if (out->resume) /* what arrived must survive a crash, to be resumed */
        fsync(out->fd);
    if (out->resume && fstat(out->fd, &st) == 0)
        out->have = (uint64_t)st.st_size;
    close(out->fd);
    out->fd = -1;
    if (!out->resume)
        unlink(out->part);
    out_tmp[0] = '\0';
}

/* The rename failed: a temporary file goes, a complete .part stays. */
static int out_rename_failed(struct output *out, int err, struct client_err *e)
{
    const char *kept = out->resume ? "; the file is complete in " : "";

    if (!out->resume)
        unlink(out->part);
    out_tmp[0] = '\0';
    if (err == EEXIST)
        return client_fail(e, EX_LOCAL, "%s exists (use -f to replace it)%s%s", out->path, kept,
                           out->resume ? out->part : "");
    return client_fail(e, EX_LOCAL, "cannot rename into %s: %s%s%s", out->path, strerror(err), kept,
                       out->resume ? out->part : "");
}

int out_commit(struct output *out, bool force, struct client_err *e)
{
    mode_t mask = umask(0);
    int rc, err = 0;

    umask(mask);
    out_part_watch(NULL); /* whole now: nothing to resume */
    if (out->stream) {
        if (out_close_stream(out) < 0)
            return client_fail(e, EX_LOCAL, "%s: %s", out_label(out), strerror(errno));
        return EX_OK;
    }
    if (fchmod(out->fd, 0666 & ~mask) < 0 || fsync(out->fd) < 0)
        err = errno;
    if (close(out->fd) < 0 && err == 0)
        err = errno;
    out->fd = -1;
    if (err != 0) { /* a disk that fills at fsync(): the file is not whole */
        if (!out->resume)
            unlink(out->part);
        out_tmp[0] = '\0';
        return client_fail(e, EX_LOCAL, "%s: %s", out->path, strerror(err));
    }
    /* Without -f, never replace a file that appeared meanwhile. */
    rc = force ? rename(out->part, out->path)
               : renameat2(AT_FDCWD, out->part, AT_FDCWD, out->path, RENAME_NOREPLACE);
    if (rc < 0)
        return out_rename_failed(out, errno, e);
    out_tmp[0] = '\0';
    return EX_OK;
}
