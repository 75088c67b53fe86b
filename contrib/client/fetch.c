/*
 * fetch: the GET and FILE_REQUEST exchanges and the content. See fetch.h.
 */
#include "contrib/client/fetch.h"

#include "common/clock.h"
#include "common/size.h"
#include "common/wire.h"
#include "contrib/client/net.h"
#include "contrib/client/output.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FETCH_BUF      (1 << 20)
#define FETCH_FALLBACK (-1) /* not an exit code: ask again with FILE_REQUEST */

/* One connection's request and what its answer announced. */
struct fetch_xfer {
    int fd;
    uint8_t type;     /* WIRE_GET_REQUEST or WIRE_FILE_REQUEST */
    uint64_t offset;  /* the first byte that will arrive */
    uint64_t size;    /* the file's full size */
    const char *part; /* -c: the .part the offset was measured from */
};

void fetch_init(struct fetch_session *s, const struct client_opts *o)
{
    s->o = o;
    s->mode = prog_mode_for_stderr(o->quiet, o->many);
    s->legacy = false;
    s->sha256 = NULL;
}

/* Encodes and sends x's request for name. Returns EX_OK or an exit code. */
static int fetch_send(const struct fetch_session *s, const char *name, const struct fetch_xfer *x,
                      struct client_err *e)
{
    static uint8_t req[WIRE_GET_HEADER + UINT16_MAX];
    size_t nlen = strlen(name), len;

    if (x->type == WIRE_GET_REQUEST)
        len =
            wire_get_encode(req, sizeof(req), WIRE_VERSION, name, nlen, x->offset, s->o->max_size);
    else
        len = wire_request_encode(req, sizeof(req), WIRE_VERSION, name, nlen);
    if (len == 0)
        return client_fail(e, EX_USAGE, "NAME is longer than the protocol allows (65535 bytes)");
    if (s->o->verbose && x->type == WIRE_GET_REQUEST)
        fprintf(stderr,
                "> GET version=%u type=0x%02x name_len=%zu offset=%llu max_size=%llu "
                "name=\"%s\"\n",
                WIRE_VERSION, WIRE_GET_REQUEST, nlen, (unsigned long long)x->offset,
                (unsigned long long)s->o->max_size, name);
    else if (s->o->verbose)
        fprintf(stderr, "> FILE_REQUEST version=%u type=0x%02x name_len=%zu name=\"%s\"\n",
                WIRE_VERSION, WIRE_FILE_REQUEST, nlen, name);
    if (net_write_all(x->fd, req, len) < 0)
        return client_fail(e, EX_TRANSFER, "sending the request: %s", strerror(errno));
    return EX_OK;
}

int fetch_response(int fd, bool verbose, struct wire_response *resp, struct client_err *e)
{
    uint8_t ans[WIRE_RESPONSE_LEN];
    ssize_t n = net_read_full(fd, ans, sizeof(ans));

    if (n < 0)
        return client_fail(e, EX_TRANSFER, "waiting for the answer: %s",
                           errno == EAGAIN ? "timed out" : strerror(errno));
    if (n < (ssize_t)sizeof(ans))
        return client_fail(e, EX_TRANSFER, "the server closed the connection without an answer");
    /* Not a FILE_RESPONSE at all (an HTTP server answers "HTTP/1.1 ..."):
     * say what was there rather than blame a version. */
    if (ans[1] != WIRE_FILE_RESPONSE)
        return client_fail(
            e, EX_TRANSFER, "not a ferry server? its answer starts with 0x%02x 0x%02x (\"%c%c\")",
            ans[0], ans[1], isprint(ans[0]) ? ans[0] : '.', isprint(ans[1]) ? ans[1] : '.');
    /* Another version's answer means nothing in version 1's terms: not
     * even its status. */
    if (ans[0] != WIRE_VERSION && verbose)
        fprintf(stderr, "< FILE_RESPONSE version=%u (not %u: the rest is not read)\n", ans[0],
                WIRE_VERSION);
    if (ans[0] != WIRE_VERSION)
        return client_fail(e, EX_STATUS + WIRE_VERSION_MISMATCH,
                           "protocol version mismatch (server speaks %u)", ans[0]);
    if (wire_response_parse(ans, resp) < 0)
        return client_fail(e, EX_TRANSFER, "malformed answer (type 0x%02x, status %u)", ans[1],
                           ans[2]);
    if (verbose)
        fprintf(stderr, "< FILE_RESPONSE version=%u type=0x%02x status=%s(%u) size=%llu\n",
                resp->version, resp->type, wire_status_name(resp->status), resp->status,
                (unsigned long long)resp->size);
    return EX_OK;
}

/* The file is smaller than the bytes we asked to skip: with -c, the
 * .part is of another file; we stop rather than guess which is right. */
static int fetch_changed(const struct fetch_xfer *x, struct client_err *e)
{
    if (x->part != NULL)
        return client_fail(e, EX_STATUS + WIRE_BAD_OFFSET,
                           "the file changed on the server: it is %llu bytes, fewer than the "
                           "%llu in %s; remove %s (or drop -c) to fetch it afresh",
                           (unsigned long long)x->size, (unsigned long long)x->offset, x->part,
                           x->part);
    return client_fail_file(e, EX_STATUS + WIRE_BAD_OFFSET,
                            "offset %llu is beyond the end of the file (%llu bytes)",
                            (unsigned long long)x->offset, (unsigned long long)x->size);
}

/* Turns an answer into what happens next: EX_OK (content follows, after
 * READY for a FILE_REQUEST), FETCH_FALLBACK, or an exit code. */
static int fetch_judge(const struct fetch_session *s, struct fetch_xfer *x,
                       const struct wire_response *resp, struct client_err *e)
{
    uint8_t refuse = WIRE_REFUSE;

    x->size = resp->size;
    switch (resp->status) {
    case WIRE_OK:
        if (x->size > s->o->max_size) { /* FILE_REQUEST, or a server that ignored max_size */
            if (x->type == WIRE_FILE_REQUEST) {
                if (s->o->verbose)
                    fprintf(stderr, "> REFUSE (0x%02x)\n", WIRE_REFUSE);
                net_write_all(x->fd, &refuse, 1); /* closing says as much */
            }
            break;
        }
        return x->size < x->offset ? fetch_changed(x, e) : EX_OK;
    case WIRE_BAD_REQUEST:
        if (x->type == WIRE_GET_REQUEST)
            return FETCH_FALLBACK;
        return client_fail_file(e, EX_STATUS + resp->status, "%s",
                                wire_status_message(resp->status));
    case WIRE_TOO_LARGE:
        break;
    case WIRE_BAD_OFFSET:
        return fetch_changed(x, e);
    case WIRE_VERSION_MISMATCH:
        return client_fail(e, EX_STATUS + resp->status,
                           "protocol version mismatch (server speaks %u)", resp->version);
    default:
        return client_fail_file(e, EX_STATUS + resp->status, "%s",
                                wire_status_message(resp->status));
    }
    return client_fail(e, EX_TOO_LARGE, "file too large: %llu bytes > max %llu bytes",
                       (unsigned long long)x->size, (unsigned long long)s->o->max_size);
}

/* Connects, asks, and judges the answer. Returns EX_OK with x->fd open,
 * FETCH_FALLBACK or an exit code (x->fd closed). */
static int fetch_exchange(const struct fetch_session *s, const char *name, struct fetch_xfer *x,
                          struct client_err *e)
{
    struct wire_response resp;
    int rc;

    if ((x->fd = net_connect(s->o, e)) < 0)
        return EX_CONNECT;
    rc = fetch_send(s, name, x, e);
    if (rc == EX_OK)
        rc = fetch_response(x->fd, s->o->verbose, &resp, e);
    if (rc == EX_OK)
        rc = fetch_judge(s, x, &resp, e);
    if (rc != EX_OK) {
        close(x->fd);
        x->fd = -1;
    }
    return rc;
}

/* GET from the bytes already held, or FILE_REQUEST for a server that
 * predates GET (learnt here once, then remembered by the session). */
static int fetch_ask(struct fetch_session *s, const char *name, uint64_t have, struct fetch_xfer *x,
                     struct client_err *e)
{
    int rc;

    if (!s->legacy) {
        x->type = WIRE_GET_REQUEST;
        x->offset = have;
        rc = fetch_exchange(s, name, x, e);
        if (rc != FETCH_FALLBACK)
            return rc;
        if (s->o->verbose)
            fprintf(stderr, "* the server predates GET: asking again with FILE_REQUEST\n");
        s->legacy = true;
    }
    x->type = WIRE_FILE_REQUEST;
    x->offset = 0;
    return fetch_exchange(s, name, x, e);
}

/* The message for a transfer that ended early (fetch_kept() adds what
 * the .part keeps). */
static int fetch_truncated(const struct fetch_xfer *x, uint64_t done, int err, struct client_err *e)
{
    return client_fail(e, EX_TRANSFER, "truncated transfer: received %llu of %llu bytes%s%s",
                       (unsigned long long)done, (unsigned long long)x->size, err ? ": " : "",
                       err == EAGAIN ? "timed out"
                       : err         ? strerror(err)
                                     : "");
}

/* With s->sha256: whether the content hashed into st is what was
 * announced. Returns EX_OK or EX_TRANSFER with e set. */
static int fetch_digest(const struct fetch_session *s, crypto_hash_sha256_state *st,
                        struct client_err *e)
{
    uint8_t got[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof(got) + 1], want[sizeof(hex)];

    crypto_hash_sha256_final(st, got);
    if (sodium_memcmp(got, s->sha256, sizeof(got)) == 0)
        return EX_OK;
    return client_fail(e, EX_TRANSFER, "its SHA-256 is %s, not the %s announced; not kept",
                       sodium_bin2hex(hex, sizeof(hex), got, sizeof(got)),
                       sodium_bin2hex(want, sizeof(want), s->sha256, sizeof(got)));
}

/* Receives the content, from x->offset to x->size, into out (with
 * s->sha256, checking its digest: from offset 0 only). Returns EX_OK or
 * an exit code. */
static int fetch_content(const struct fetch_session *s, const char *name,
                         const struct fetch_xfer *x, struct output *out, struct client_err *e)
{
    struct progress pg;
    struct net_rate rate;
    crypto_hash_sha256_state st;
    uint64_t done = x->offset;
    char *buf;
    int64_t t0 = clock_now_ns();
    int rc = EX_OK;

    if (s->sha256 != NULL && x->offset != 0)
        return client_fail(e, EX_USAGE, "a digest is checked over the whole file, not a resume");
    if ((buf = malloc(FETCH_BUF)) == NULL)
        return client_fail(e, EX_LOCAL, "out of memory");
    crypto_hash_sha256_init(&st);
    net_rate_init(&rate, s->o->rate);
    prog_start(&pg, s->mode, name, x->size, x->offset);
    while (done < x->size && rc == EX_OK) {
        size_t want = x->size - done < FETCH_BUF ? (size_t)(x->size - done) : FETCH_BUF;
        ssize_t n = net_recv(x->fd, buf, want, &rate);

        if (n > 0) {
            if (s->sha256 != NULL)
                crypto_hash_sha256_update(&st, (const uint8_t *)buf, (unsigned long long)n);
            if (net_write_all(out->fd, buf, (size_t)n) < 0)
                rc = client_fail(e, EX_LOCAL, "writing %s: %s", out_label(out), strerror(errno));
            done += (uint64_t)n;
            prog_update(&pg, done);
        } else if (n == 0 || errno != EINTR) {
            rc = fetch_truncated(x, done, n == 0 ? 0 : errno, e);
        }
    }
    free(buf);
    if (rc == EX_OK && s->sha256 != NULL)
        rc = fetch_digest(s, &st, e);
    prog_finish(&pg, done, rc == EX_OK);
    if (s->o->verbose && rc == EX_OK)
        fprintf(stderr, "< content: %llu bytes in %.3f s\n", (unsigned long long)(done - x->offset),
                (double)(clock_now_ns() - t0) / 1e9);
    return rc;
}

/* Says READY: the FILE_REQUEST exchange's second step. */
static int fetch_ready(const struct fetch_session *s, int fd, struct client_err *e)
{
    uint8_t ready = WIRE_READY;

    if (s->o->verbose)
        fprintf(stderr, "> READY (0x%02x)\n", WIRE_READY);
    if (net_write_all(fd, &ready, 1) < 0)
        return client_fail(e, EX_TRANSFER, "sending READY: %s", strerror(errno));
    return EX_OK;
}

/* -c, and the output is there without a .part: asks for what follows its
 * bytes (GET at its size). The server answers OK and sends nothing when
 * it is complete: ferry says so, and that is a success. A size that
 * differs (OK with more, BAD_OFFSET with fewer) means another file or a
 * partial one that is not ours: refused, saying what to do. Returns EX_OK
 * or an exit code. */
static int fetch_complete(struct fetch_session *s, const char *name, const struct output *out,
                          struct client_err *e)
{
    struct fetch_xfer x = {.fd = -1};
    uint8_t refuse = WIRE_REFUSE;
    char have[32], size[32];
    int rc;

    if (s->o->verbose)
        fprintf(stderr, "* %s exists, without %s.part: asking whether it is complete\n", out->path,
                out->path);
    rc = fetch_ask(s, name, out->exists_size, &x, e);
    if (rc != EX_OK && rc != EX_STATUS + WIRE_BAD_OFFSET)
        return rc;
    if (rc == EX_OK && x.type == WIRE_FILE_REQUEST) { /* the old way: no, thanks */
        if (s->o->verbose)
            fprintf(stderr, "> REFUSE (0x%02x)\n", WIRE_REFUSE);
        net_write_all(x.fd, &refuse, 1);
    }
    if (x.fd >= 0)
        close(x.fd);
    size_format(out->exists_size, have, sizeof(have));
    size_format(x.size, size, sizeof(size));
    if (rc == EX_OK && x.size == out->exists_size) {
        if (s->mode != PROG_OFF)
            fprintf(stderr, "ferry: %s: already complete (%s in %s)\n", name, have, out->path);
        return EX_OK;
    }
    if (x.size > out->exists_size)
        return client_fail(e, EX_LOCAL,
                           "%s exists with %s of the server's %s: use -f to fetch it afresh, or "
                           "rename it to %s.part for -c to resume it",
                           out->path, have, size, out->path);
    return client_fail(e, EX_LOCAL,
                       "%s exists with %s, more than the server's %s: another file? use -f to "
                       "replace it",
                       out->path, have, size);
}

/* After a failure with -c, whether a later -c can pick up from the .part
 * (not when the server's file changed: that message says what to do).
 * A local error counts only once the .part was open (written to). */
static bool fetch_resumable(int rc, bool opened)
{
    return rc == EX_CONNECT || rc == EX_TRANSFER || rc == EX_STATUS + WIRE_SERVER_ERROR ||
           (rc == EX_LOCAL && opened);
}

int fetch_file(struct fetch_session *s, const char *name, struct client_err *e)
{
    struct fetch_xfer x = {.fd = -1};
    struct output out;
    char kept[32];
    bool opened;
    int rc;

    if ((rc = out_prepare(s->o, name, &out, e)) != EX_OK)
        return rc;
    if (out.exists)
        return fetch_complete(s, name, &out, e);
    x.part = out.resume ? out.part : NULL;
    rc = fetch_ask(s, name, out.have, &x, e);
    if (rc == EX_OK)
        rc = out_open(&out, e);
    opened = rc == EX_OK;
    /* An old server sends it all: the .part starts over. */
    if (rc == EX_OK && out.resume && x.offset < out.have)
        rc = out_rewind(&out, e);
    if (rc == EX_OK && x.type == WIRE_FILE_REQUEST)
        rc = fetch_ready(s, x.fd, e);
    if (rc == EX_OK)
        rc = fetch_content(s, name, &x, &out, e);
    if (x.fd >= 0)
        close(x.fd);
    if (rc == EX_OK)
        return out_commit(&out, s->o->force, e);
    out_abort(&out);
    /* Said once, here: the failure, then what a -c will pick up. */
    if (out.resume && out.have > 0 && fetch_resumable(rc, opened))
        client_append(e, "; %s kept in %s (ferry get -c resumes)",
                      size_format(out.have, kept, sizeof(kept)), out.part);
    return rc;
}
