/*
 * ferry: the command-line client. `ferry get HOST PORT NAME MAX_SIZE` (or
 * HOST:PORT NAME MAX_SIZE) fetches one file over protocol v1 and writes it
 * atomically: into a temporary file beside the target, renamed into place
 * only when every byte has arrived, removed on any failure (signals
 * included).
 */
#include "common/addr.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/name.h"
#include "common/size.h"
#include "common/wire.h"
#include "contrib/client/progress.h"

#include <ctype.h>
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

#define RECV_BUF        (1 << 20)
#define OPERANDS_MAX    5 /* get HOST PORT NAME MAX_SIZE; more are only counted */
#define TIMEOUT_DEFAULT 30000

struct get_opts {
    char host[ADDR_HOST_MAX], port[8];
    const char *name, *output;
    uint64_t max_size;
    uint64_t timeout_ms;
    bool force, quiet, verbose;
};

/* The command line's operands, in order, options taken out. */
struct operands {
    const char *v[OPERANDS_MAX];
    int n;
};

/* One table for getopt_long() and --help. */
static const struct {
    const char *name;
    int val;
    const char *arg, *help, *defval;
} cli_options[] = {
    {"output", 'o', "PATH", "output file or directory; '-': stdout", "./NAME"},
    {"force", 'f', NULL, "replace an existing file", "off"},
    {"quiet", 'q', NULL, "no progress bar or summary line; errors only", "off"},
    {"verbose", 'v', NULL, "trace the protocol exchange on stderr", "off"},
    {"timeout", 't', "DURATION", "connect and I/O timeout, e.g. 30, 500ms, 2m", "30s"},
    {"help", 'h', NULL, "this help", NULL},
    {"version", 'V', NULL, "print the version", NULL},
};

#define CLI_NOPTIONS (sizeof(cli_options) / sizeof(cli_options[0]))

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

static const char usage_synopsis[] = "usage: ferry get [options] HOST PORT NAME MAX_SIZE\n"
                                     "       ferry get [options] HOST:PORT NAME MAX_SIZE\n"
                                     "       ferry --help | --version\n";

static void usage(FILE *out)
{
    fputs(usage_synopsis, out);
    fputs("\nFetches the file NAME from a ferryd at HOST and PORT. HOST is a host name or\n"
          "an IPv4 or IPv6 literal; the port may be attached: host:PORT, 1.2.3.4:PORT,\n"
          "[::1]:PORT (an IPv6 address takes brackets when a port follows). Files\n"
          "larger than MAX_SIZE are refused; the file appears only once complete.\n\n"
          "MAX_SIZE: bytes, or with a unit in any case: K M G T and KiB MiB GiB TiB are\n"
          "powers of 1024 (10M = 10485760), KB MB GB TB powers of 1000 (10MB = 10000000).\n"
          "DURATION: a number of seconds, or with a unit: ms s m h d (1m30s, 1.5h).\n\n"
          "Options may come anywhere on the line; '--' ends them (for a NAME\n"
          "starting with '-'). Default in brackets.\n\n",
          out);
    for (size_t i = 0; i < CLI_NOPTIONS; i++) {
        char left[40];

        snprintf(left, sizeof(left), "-%c, --%s%s%s", cli_options[i].val, cli_options[i].name,
                 cli_options[i].arg ? " " : "", cli_options[i].arg ? cli_options[i].arg : "");
        fprintf(out, "  %-24s %s", left, cli_options[i].help);
        if (cli_options[i].defval)
            fprintf(out, " [%s]", cli_options[i].defval);
        fputc('\n', out);
    }
    fputs("\nOn a terminal a progress bar shows on stderr; otherwise one summary line\n"
          "when the file is complete. -q silences both, not errors nor -v's trace.\n\n"
          "exit codes:\n"
          "  0 ok        1 local file error (exists, disk full)   2 usage\n"
          "  3 cannot connect   4 file too large (refused)   5 truncated or timed out\n"
          "  10+status: 11 version mismatch, 12 invalid name, 13 not found,\n"
          "  14 not a regular file, 15 access denied, 16 bad request, 17 server error\n",
          out);
}

/* Prints "ferry: PROBLEM" then the synopsis, on stderr. Returns -1. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ferry: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%sRun 'ferry --help' for the options, units and exit codes.\n",
            usage_synopsis);
    return -1;
}

/* Names the problem with an option getopt_long() refused; arg is the
 * command-line word it was in. Returns -1. */
static int option_error(int c, const char *arg, const struct option *longopts)
{
    size_t len = strcspn(arg, "=");
    int matches = 0;

    if (strncmp(arg, "--", 2) != 0) /* a short option, perhaps in a cluster */
        return c == ':' ? usage_error("option '-%c' needs a value", optopt)
                        : usage_error("unknown option '-%c'", optopt);
    if (c == ':')
        return usage_error("option '%.*s' needs a value", (int)len, arg);
    if (optopt != 0) /* a known option given a value it does not take */
        return usage_error("option '%.*s' takes no value", (int)len, arg);
    for (const struct option *lo = longopts; lo->name != NULL; lo++)
        matches += strncmp(lo->name, arg + 2, len - 2) == 0;
    if (matches > 1)
        return usage_error("ambiguous option '%.*s'", (int)len, arg);
    return usage_error("unknown option '%.*s'", (int)len, arg);
}

static int parse_timeout(const char *arg, struct get_opts *o)
{
    int rc = dur_parse(arg, &o->timeout_ms);

    if (rc == -ERANGE)
        return usage_error("timeout '%s' is too long", arg);
    if (rc < 0)
        return usage_error("invalid timeout '%s': give seconds or a number with a unit "
                           "ms, s, m, h or d (e.g. 30, 500ms, 2m)",
                           arg);
    if (o->timeout_ms == 0)
        return usage_error("timeout '%s' is zero: it must be at least 1ms", arg);
    return 0;
}

/* Keeps an operand, in order, whatever options surround it. */
static void add_operand(struct operands *ops, const char *arg)
{
    if (ops->n < OPERANDS_MAX)
        ops->v[ops->n] = arg;
    ops->n++;
}

/* Applies one option. Returns 0, 1 (help or version printed) or -1. */
static int apply_option(int c, struct get_opts *o, struct operands *ops)
{
    switch (c) {
    case 1:
        add_operand(ops, optarg);
        return 0;
    case 'o':
        o->output = optarg;
        return 0;
    case 'f':
        o->force = true;
        return 0;
    case 'q':
        o->quiet = true;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    case 't':
        return parse_timeout(optarg, o);
    case 'h':
        usage(stdout);
        return 1;
    case 'V':
        printf("ferry %s\n", FERRY_VERSION);
        return 1;
    }
    return -1;
}

/* Runs getopt_long() over the whole line. Returns 0, 1 (done) or -1. */
static int parse_options(int argc, char **argv, struct get_opts *o, struct operands *ops)
{
    struct option longopts[CLI_NOPTIONS + 1];
    /* '-': operands come back in place (permutation even under
     * POSIXLY_CORRECT); ':': a missing value is told apart. */
    char optstring[3 + 2 * CLI_NOPTIONS] = "-:";
    size_t len = 2;
    int c, rc, before;

    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < CLI_NOPTIONS; i++) {
        longopts[i].name = cli_options[i].name;
        longopts[i].has_arg = cli_options[i].arg ? required_argument : no_argument;
        longopts[i].val = cli_options[i].val;
        optstring[len++] = (char)cli_options[i].val;
        if (cli_options[i].arg)
            optstring[len++] = ':';
    }
    optstring[len] = '\0';
    opterr = 0;
    while ((before = optind, c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        /* optind moves on once a word is used up: "-zf" stays on its
         * word after 'z', "--frce" and "-fz" do not. */
        if (c == '?' || c == ':')
            return option_error(c, argv[optind > before ? optind - 1 : optind], longopts);
        if ((rc = apply_option(c, o, ops)) != 0)
            return rc;
    }
    for (; optind < argc; optind++) /* after "--" */
        add_operand(ops, argv[optind]);
    return 0;
}

/* Takes HOST PORT or HOST:PORT from the operands. Returns how many it used
 * (1 or 2), or -1 (message printed). */
static int parse_address(const struct operands *ops, struct get_opts *o)
{
    const char *expect = "HOST PORT NAME MAX_SIZE";
    int port = -1, want = 5, args = ops->n - 1;

    if (ops->n >= 2) {
        if (addr_split(ops->v[1], o->host, sizeof(o->host), &port) < 0)
            return usage_error("'%s' is not a host, host:PORT or [IPv6]:PORT", ops->v[1]);
        if (port >= 0) {
            expect = "HOST:PORT NAME MAX_SIZE";
            want = 4;
        }
    }
    if (ops->n != want) {
        char hint[ADDR_HOST_MAX + 64] = "";

        /* "::1 80 f 1M" is right, "::1:80 f 1M" is not: say why. */
        if (want == 5 && ops->n == 4 && strchr(ops->v[1], ':') != strrchr(ops->v[1], ':'))
            snprintf(hint, sizeof(hint),
                     " (an IPv6 address with a port takes brackets: "
                     "[::1]:PORT)");
        else if (want == 4 && ops->n == 5)
            snprintf(hint, sizeof(hint), " ('%s' already holds the port)", ops->v[1]);
        return usage_error("expected %s, got %d argument%s%s", expect, args, args == 1 ? "" : "s",
                           hint);
    }
    if (want == 5 && (port = addr_port_parse(ops->v[2])) < 0)
        return usage_error("PORT must be a number from 1 to 65535, got '%s'", ops->v[2]);
    if (port == 0)
        return usage_error("PORT must be a number from 1 to 65535, got 0");
    snprintf(o->port, sizeof(o->port), "%d", port);
    return want - 3;
}

/* Returns 0 (o filled), 1 (help or version printed: exit 0) or -1 (usage
 * error printed). */
static int parse_args(int argc, char **argv, struct get_opts *o)
{
    struct operands ops = {.n = 0};
    const char *max;
    int rc, used;

    memset(o, 0, sizeof(*o));
    o->timeout_ms = TIMEOUT_DEFAULT;
    if ((rc = parse_options(argc, argv, o, &ops)) != 0)
        return rc;
    if (ops.n == 0)
        return usage_error("no command given (the command is 'get')");
    if (strcmp(ops.v[0], "get") != 0)
        return usage_error("unknown command '%s' (the command is 'get')", ops.v[0]);
    if ((used = parse_address(&ops, o)) < 0)
        return -1;
    o->name = ops.v[1 + used];
    max = ops.v[2 + used];
    rc = size_parse(max, &o->max_size);
    if (rc == -ERANGE)
        return usage_error("MAX_SIZE '%s' is above 2^64-1 bytes", max);
    if (rc < 0)
        return usage_error("MAX_SIZE '%s' is not a size (e.g. 1048576, 512K, 10M, 10MB, 2GiB)",
                           max);
    return 0;
}

/* Connects to the first address that answers. Returns the fd or -1. */
static int get_connect(const struct get_opts *o)
{
    struct timeval tv = {.tv_sec = (time_t)(o->timeout_ms / 1000),
                         .tv_usec = (suseconds_t)(o->timeout_ms % 1000 * 1000)};
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
    if (into_dir) /* "d/" and "d" alike: one slash between */
        n = snprintf(out->path, sizeof(out->path), "%s%s%s", o->output,
                     o->output[strlen(o->output) - 1] == '/' ? "" : "/", o->name);
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
    /* Not a FILE_RESPONSE at all (an HTTP server answers "HTTP/1.1 ..."):
     * say what was there rather than blame a version. */
    if (ans[1] != WIRE_FILE_RESPONSE)
        return fail(EX_TRANSFER,
                    "not a ferry server? its answer starts with 0x%02x 0x%02x (\"%c%c\")", ans[0],
                    ans[1], isprint(ans[0]) ? ans[0] : '.', isprint(ans[1]) ? ans[1] : '.');
    /* Another version's answer means nothing in version 1's terms: not
     * even its status. */
    if (ans[0] != WIRE_VERSION && o->verbose)
        fprintf(stderr, "< FILE_RESPONSE version=%u (not %u: the rest is not read)\n", ans[0],
                WIRE_VERSION);
    if (ans[0] != WIRE_VERSION)
        return fail(EX_STATUS + WIRE_VERSION_MISMATCH,
                    "protocol version mismatch (server speaks %u)", ans[0]);
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
    prog_start(&pg, prog_mode_for_stderr(o->quiet), o->name, size);
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
    prog_finish(&pg, got, rc == EX_OK);
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
