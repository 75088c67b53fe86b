/*
 * ferry: the command-line client. `ferry get HOST PORT NAME MAX_SIZE`
 * fetches one file over protocol v1 and writes it atomically: into a
 * temporary file beside the target, renamed into place only when every
 * byte has arrived, removed on any failure (signals included).
 */
#include "common/addr.h"
#include "common/clock.h"
#include "common/name.h"
#include "common/size.h"
#include "common/wire.h"
#include "contrib/client/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Exit codes; documented in usage() and the README. */
enum {
    EX_OK = 0,
    EX_LOCAL = 1, /* local file: exists, cannot create, write failed (disk full) */
    EX_USAGE = 2,
    EX_CONNECT = 3,   /* cannot resolve or connect */
    EX_TOO_LARGE = 4, /* refused: size above MAX_SIZE */
    EX_TRANSFER = 5,  /* truncated, timed out, or a malformed answer */
    EX_STATUS = 10,   /* + the server's status: 11 version ... 17 server error */
};

#define RECV_BUF (1 << 20)

struct get_opts {
    const char *host, *port, *name, *output;
    uint64_t max_size;
    unsigned timeout;
    bool force, quiet, verbose;
};

/* The temporary file, for the signal handler to remove. */
static char tmp_path[PATH_MAX];

static void on_fatal_signal(int sig)
{
    if (tmp_path[0] != '\0')
        unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ferry: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ferry get [options] HOST PORT NAME MAX_SIZE\n\n"
                 "Fetches the file NAME from a ferryd at HOST (IPv4/IPv6 literal or host name)\n"
                 "and PORT. Files larger than MAX_SIZE (bytes, or with a K/M/G/T suffix:\n"
                 "powers of 1024) are refused. The file appears only once complete.\n\n"
                 "options:\n"
                 "  -o PATH        write to PATH (a directory: PATH/NAME; '-': stdout) [./NAME]\n"
                 "  -f             replace an existing file [off]\n"
                 "  -q             no progress bar [bar when stderr is a terminal]\n"
                 "  -v             trace the protocol exchange on stderr [off]\n"
                 "  -t SECONDS     connect and I/O timeout [30]\n"
                 "  -h             this help\n\n"
                 "exit codes:\n"
                 "  0 ok        1 local file error (exists, disk full)   2 usage\n"
                 "  3 cannot connect   4 file too large (refused)   5 truncated or timed out\n"
                 "  10+status: 11 version mismatch, 12 invalid name, 13 not found,\n"
                 "  14 not a regular file, 15 access denied, 16 bad request, 17 server error\n");
}

static int parse_args(int argc, char **argv, struct get_opts *o)
{
    int c;

    memset(o, 0, sizeof(*o));
    o->timeout = 30;
    if (argc < 2 || strcmp(argv[1], "get") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
            usage(stdout);
            return 1;
        }
        usage(stderr);
        return -1;
    }
    argc--;
    argv++;
    while ((c = getopt(argc, argv, "+o:fqvt:h")) != -1) {
        switch (c) {
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->force = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 't':
            o->timeout = (unsigned)strtoul(optarg, NULL, 10);
            if (o->timeout == 0)
                return fail(-1, "-t wants a number of seconds above 0");
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (argc - optind != 4) {
        usage(stderr);
        return -1;
    }
    o->host = argv[optind];
    o->port = argv[optind + 1];
    o->name = argv[optind + 2];
    if (size_parse(argv[optind + 3], &o->max_size) < 0)
        return fail(-1, "MAX_SIZE '%s' is not a size (e.g. 1048576, 512K, 10M, 2G)",
                    argv[optind + 3]);
    return 0;
}

/* Connects to the first address that answers. Returns the fd or -1. */
static int get_connect(const struct get_opts *o)
{
    struct timeval tv = {.tv_sec = o->timeout};
    struct addrinfo *res, *ai;
    int fd = -1, err = 0, rc;

    rc = addr_resolve(o->host, o->port, false, &res);
    if (rc != 0) {
        fail(0, "cannot resolve %s: %s", o->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        /* SO_SNDTIMEO also bounds connect() on Linux. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno == EINPROGRESS ? ETIMEDOUT : errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        fail(0, "cannot connect to %s port %s: %s", o->host, o->port, strerror(err));
    return fd;
}

/* Reads exactly len bytes. Returns len, or the count read before EOF, or -1. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Writes all len bytes to a file or a socket (SIGPIPE is ignored: a
 * closed peer is EPIPE). Returns 0 or -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Where the file goes: a regular file through a temporary one renamed into
 * place; or, written as a stream, stdout or an existing device or FIFO
 * (-o /dev/null): renaming over those would replace the device itself. */
struct output {
    bool to_stdout;
    bool stream; /* stdout, a device or a FIFO: written in place */
    char path[PATH_MAX];
    int fd;
};

/* Decides the target before connecting, so that a local problem costs
 * the server nothing. Returns EX_OK or an exit code (message printed). */
static int out_prepare(const struct get_opts *o, struct output *out)
{
    struct stat st;
    bool into_dir;
    int n;

    out->fd = -1;
    out->to_stdout = o->output != NULL && strcmp(o->output, "-") == 0;
    out->stream = out->to_stdout;
    if (out->to_stdout)
        return EX_OK;
    into_dir = o->output != NULL && stat(o->output, &st) == 0 && S_ISDIR(st.st_mode);
    if (into_dir)
        n = snprintf(out->path, sizeof(out->path), "%s/%s", o->output, o->name);
    else
        n = snprintf(out->path, sizeof(out->path), "%s", o->output ? o->output : o->name);
    if (n < 0 || (size_t)n >= sizeof(out->path))
        return fail(EX_USAGE, "output path too long");
    /* The name becomes a local path only if it is a plain file name. */
    if ((o->output == NULL || into_dir) && !name_valid(o->name, strlen(o->name)))
        return fail(EX_USAGE, "'%s' is not a plain file name; choose the output with -o", o->name);
    if (stat(out->path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        out->stream = true; /* nothing is replaced, so no -f needed */
        return EX_OK;
    }
    if (!o->force && lstat(out->path, &st) == 0)
        return fail(EX_LOCAL, "%s exists (use -f to replace it)", out->path);
    return EX_OK;
}

/* Creates the temporary file beside the target. Returns EX_OK or EX_LOCAL. */
static int out_open(struct output *out)
{
    char dir[PATH_MAX];
    const char *slash, *base;

    if (out->to_stdout) {
        out->fd = STDOUT_FILENO;
        return EX_OK;
    }
    if (out->stream) {
        out->fd = open(out->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (out->fd < 0)
            return fail(EX_LOCAL, "cannot open %s: %s", out->path, strerror(errno));
        return EX_OK;
    }
    slash = strrchr(out->path, '/');
    base = slash ? slash + 1 : out->path;
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out->path) : 1,
             slash ? out->path : ".");
    if (snprintf(tmp_path, sizeof(tmp_path), "%s/.%s.ferry-XXXXXX", dir, base) >=
        (int)sizeof(tmp_path))
        return fail(EX_LOCAL, "output path too long");
    out->fd = mkostemp(tmp_path, O_CLOEXEC);
    if (out->fd < 0) {
        int err = errno;
        tmp_path[0] = '\0';
        return fail(EX_LOCAL, "cannot create a file in %s: %s", dir, strerror(err));
    }
    return EX_OK;
}

/* Removes the partial file, if any. */
static void out_abort(struct output *out)
{
    if (out->to_stdout || out->fd < 0)
        return;
    if (out->stream) { /* a device or FIFO: never unlinked */
        close(out->fd);
        out->fd = -1;
        return;
    }
    close(out->fd);
    out->fd = -1;
    unlink(tmp_path);
    tmp_path[0] = '\0';
}

/* Makes the complete file durable and visible under its name. */
static int out_commit(struct output *out, bool force)
{
    mode_t mask = umask(0);
    int rc;

    umask(mask);
    if (out->to_stdout)
        return EX_OK;
    if (out->stream) {
        if (close(out->fd) < 0)
            return fail(EX_LOCAL, "%s: %s", out->path, strerror(errno));
        out->fd = -1;
        return EX_OK;
    }
    if (fchmod(out->fd, 0666 & ~mask) < 0 || fsync(out->fd) < 0 || close(out->fd) < 0) {
        int err = errno;
        out->fd = -1;
        unlink(tmp_path);
        return fail(EX_LOCAL, "%s: %s", out->path, strerror(err));
    }
    out->fd = -1;
    /* Without -f, never replace a file that appeared meanwhile. */
    rc = force ? rename(tmp_path, out->path)
               : renameat2(AT_FDCWD, tmp_path, AT_FDCWD, out->path, RENAME_NOREPLACE);
    if (rc < 0) {
        int err = errno;
        unlink(tmp_path);
        tmp_path[0] = '\0';
        if (err == EEXIST)
            return fail(EX_LOCAL, "%s exists (use -f to replace it)", out->path);
        return fail(EX_LOCAL, "cannot rename into %s: %s", out->path, strerror(err));
    }
    tmp_path[0] = '\0';
    return EX_OK;
}

/* Sends the request and reads the answer. Returns EX_OK with *resp, or an
 * exit code (message printed). */
static int get_exchange(int fd, const struct get_opts *o, struct wire_response *resp)
{
    uint8_t req[WIRE_REQUEST_HEADER + UINT16_MAX], ans[WIRE_RESPONSE_LEN];
    size_t len = wire_request_encode(req, sizeof(req), WIRE_VERSION, o->name, strlen(o->name));
    ssize_t n;

    if (len == 0)
        return fail(EX_USAGE, "NAME is longer than the protocol allows (65535 bytes)");
    if (o->verbose)
        fprintf(stderr, "> FILE_REQUEST version=%u type=0x%02x name_len=%zu name=\"%s\"\n",
                WIRE_VERSION, WIRE_FILE_REQUEST, strlen(o->name), o->name);
    if (write_all(fd, req, len) < 0)
        return fail(EX_TRANSFER, "sending the request: %s", strerror(errno));
    n = read_full(fd, ans, sizeof(ans));
    if (n < 0)
        return fail(EX_TRANSFER, "waiting for the answer: %s",
                    errno == EAGAIN ? "timed out" : strerror(errno));
    if (n < (ssize_t)sizeof(ans))
        return fail(EX_TRANSFER, "the server closed the connection without an answer");
    if (wire_response_parse(ans, resp) < 0)
        return fail(EX_TRANSFER, "malformed answer (type 0x%02x, status %u)", ans[1], ans[2]);
    if (o->verbose)
        fprintf(stderr, "< FILE_RESPONSE version=%u type=0x%02x status=%s(%u) size=%llu\n",
                resp->version, resp->type, wire_status_name(resp->status), resp->status,
                (unsigned long long)resp->size);
    if (resp->status == WIRE_VERSION_MISMATCH)
        return fail(EX_STATUS + resp->status, "protocol version mismatch (server speaks %u)",
                    resp->version);
    if (resp->status != WIRE_OK)
        return fail(EX_STATUS + resp->status, "%s: %s", o->name, wire_status_message(resp->status));
    return EX_OK;
}

/* Sends one READY/REFUSE byte. */
static int get_reply(int fd, uint8_t b, bool verbose)
{
    if (verbose)
        fprintf(stderr, "> %s (0x%02x)\n", b == WIRE_READY ? "READY" : "REFUSE", b);
    return write_all(fd, &b, 1);
}

/* Receives exactly size bytes into out. Returns EX_OK or an exit code. */
static int get_content(int fd, const struct get_opts *o, uint64_t size, struct output *out)
{
    struct progress pg;
    uint64_t got = 0;
    char *buf = malloc(RECV_BUF);
    int64_t t0 = clock_now_ns();
    int rc = EX_OK;

    if (buf == NULL)
        return fail(EX_LOCAL, "out of memory");
    prog_start(&pg, !o->quiet && isatty(STDERR_FILENO), size);
    while (got < size && rc == EX_OK) {
        size_t want = size - got < RECV_BUF ? (size_t)(size - got) : RECV_BUF;
        ssize_t n = recv(fd, buf, want, 0);

        if (n > 0) {
            if (write_all(out->fd, buf, (size_t)n) < 0)
                rc = fail(EX_LOCAL, "writing %s: %s", out->to_stdout ? "stdout" : out->path,
                          strerror(errno));
            got += (uint64_t)n;
            prog_update(&pg, got);
        } else if (n == 0 || errno != EINTR) {
            int err = n == 0 ? 0 : errno;
            rc = fail(EX_TRANSFER, "truncated transfer: received %llu of %llu bytes%s%s",
                      (unsigned long long)got, (unsigned long long)size, err ? ": " : "",
                      err == EAGAIN ? "timed out"
                      : err         ? strerror(err)
                                    : "");
        }
    }
    free(buf);
    prog_finish(&pg, got);
    if (o->verbose && rc == EX_OK)
        fprintf(stderr, "< content: %llu bytes in %.3f s\n", (unsigned long long)got,
                (double)(clock_now_ns() - t0) / 1e9);
    return rc;
}

static int get(const struct get_opts *o)
{
    struct wire_response resp;
    struct output out;
    int fd, rc;

    if ((rc = out_prepare(o, &out)) != EX_OK)
        return rc;
    if ((fd = get_connect(o)) < 0)
        return EX_CONNECT;
    rc = get_exchange(fd, o, &resp);
    if (rc == EX_OK && resp.size > o->max_size) {
        get_reply(fd, WIRE_REFUSE, o->verbose);
        rc = fail(EX_TOO_LARGE, "file too large: %llu bytes > max %llu bytes",
                  (unsigned long long)resp.size, (unsigned long long)o->max_size);
    }
    if (rc == EX_OK)
        rc = out_open(&out);
    if (rc == EX_OK && get_reply(fd, WIRE_READY, o->verbose) < 0)
        rc = fail(EX_TRANSFER, "sending READY: %s", strerror(errno));
    if (rc == EX_OK)
        rc = get_content(fd, o, resp.size, &out);
    close(fd);
    if (rc == EX_OK)
        return out_commit(&out, o->force);
    out_abort(&out);
    return rc;
}

int main(int argc, char **argv)
{
    struct get_opts o;
    int rc = parse_args(argc, argv, &o);

    if (rc != 0)
        return rc > 0 ? EX_OK : EX_USAGE;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    return get(&o);
}
