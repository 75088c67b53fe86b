/*
 * hubfile: postfile#'s upload and --auto-fetch's download. See hubfile.h.
 */
#include "contrib/client/hubfile.h"

#include "common/wire.h"
#include "contrib/client/fetch.h"
#include "contrib/client/net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HUBFILE_CHUNK (64 * 1024)

int hubfile_open(const char *path, struct hubfile_src *src, struct client_err *e)
{
    struct stat st;
    /* O_NONBLOCK: a FIFO's open does not wait for a writer. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), err;

    if (fd < 0)
        return client_fail(e, EX_LOCAL, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        err = errno;
        close(fd);
        return client_fail(e, EX_LOCAL, "%s: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return client_fail(e, EX_LOCAL, "%s is not a regular file", path);
    }
    src->fd = fd;
    src->size = (uint64_t)st.st_size;
    return EX_OK;
}

/* Sends the PUT's header and name. Returns EX_OK or an exit code. */
static int hubfile_head(const struct hubfile_put *q, int sock, uint64_t size, struct client_err *e)
{
    uint8_t req[WIRE_PUT_HEADER + WIRE_PUT_NAME_MAX];
    size_t nlen = strlen(q->name);
    size_t len = wire_put_encode(req, sizeof(req), WIRE_VERSION, q->name, nlen, size, q->token);

    if (len == 0 || nlen > WIRE_PUT_NAME_MAX)
        return client_fail(e, EX_USAGE, "the name is longer than a PUT takes (%d bytes)",
                           WIRE_PUT_NAME_MAX);
    if (q->o->verbose)
        fprintf(stderr,
                "> PUT version=%u type=0x%02x name_len=%zu size=%llu token=%08x name=\"%s\"\n",
                WIRE_VERSION, WIRE_PUT_REQUEST, nlen, (unsigned long long)size, (unsigned)q->token,
                q->name);
    if (net_write_all(sock, req, len) < 0)
        return client_fail(e, EX_TRANSFER, "sending the request: %s", strerror(errno));
    return EX_OK;
}

/* Whether the server has said something already: a refusal before the
 * content (or its close). What is left need not be sent then. */
static bool hubfile_answered(int sock)
{
    struct pollfd pf = {.fd = sock, .events = POLLIN};

    return poll(&pf, 1, 0) > 0;
}

/* Writes n bytes of content. Returns EX_OK (*early set when the server
 * closed its side: its answer is waiting), or an exit code. */
static int hubfile_send(int sock, const uint8_t *buf, size_t n, bool *early, struct client_err *e)
{
    if (net_write_all(sock, buf, n) == 0)
        return EX_OK;
    if (errno == EPIPE || errno == ECONNRESET) {
        *early = true;
        return EX_OK;
    }
    return client_fail(e, EX_TRANSFER, "sending the content: %s", strerror(errno));
}

/* Streams the content, hashing it on the way. Returns EX_OK (*early:
 * the server answered before the end), or an exit code. */
static int hubfile_content(int sock, struct hubfile_src *src, crypto_hash_sha256_state *st,
                           bool *early, struct client_err *e)
{
    uint8_t *buf = malloc(HUBFILE_CHUNK);
    uint64_t sent = 0;
    int rc = EX_OK;

    if (buf == NULL)
        return client_fail(e, EX_LOCAL, "out of memory");
    while (rc == EX_OK && sent < src->size && !*early) {
        size_t want = src->size - sent < HUBFILE_CHUNK ? (size_t)(src->size - sent) : HUBFILE_CHUNK;
        ssize_t n;

        if ((*early = hubfile_answered(sock)))
            break;
        n = read(src->fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = client_fail(e, EX_LOCAL, "reading the file: %s", strerror(errno));
        else if (n == 0) /* the server sees the connection cut: it keeps nothing */
            rc = client_fail(e, EX_LOCAL, "the file shrank while it was sent (%llu of %llu bytes)",
                             (unsigned long long)sent, (unsigned long long)src->size);
        else {
            crypto_hash_sha256_update(st, buf, (unsigned long long)n);
            rc = hubfile_send(sock, buf, (size_t)n, early, e);
            sent += (uint64_t)n;
        }
    }
    free(buf);
    return rc;
}

/* The secure wire's MAC after the content, if the wire has one. */
static int hubfile_mac(const struct hubfile_put *q, int sock, uint64_t size,
                       crypto_hash_sha256_state *st, struct client_err *e)
{
    uint8_t sha[crypto_hash_sha256_BYTES], mac[WIRE_PUT_MAC];
    bool early = false;
    int rc;

    crypto_hash_sha256_final(st, sha);
    if (q->mac == NULL)
        return EX_OK;
    if ((rc = q->mac(q->ctx, q->name, size, sha, mac)) < 0)
        return client_fail(e, EX_LOCAL, "no session key for the upload's MAC: %s", strerror(-rc));
    if (q->o->verbose)
        fprintf(stderr, "> MAC (%d bytes, under the session's key)\n", WIRE_PUT_MAC);
    rc = hubfile_send(sock, mac, sizeof(mac), &early, e);
    sodium_memzero(mac, sizeof(mac));
    return rc;
}

int hubfile_put(const struct hubfile_put *q, struct hubfile_src *src, unsigned *status,
                uint64_t *size, struct client_err *e)
{
    crypto_hash_sha256_state st;
    struct wire_response resp;
    bool early = false;
    int sock = net_connect(q->o, e), rc = EX_CONNECT;

    crypto_hash_sha256_init(&st);
    if (sock >= 0)
        rc = hubfile_head(q, sock, src->size, e);
    if (rc == EX_OK)
        rc = hubfile_content(sock, src, &st, &early, e);
    if (rc == EX_OK && !early)
        rc = hubfile_mac(q, sock, src->size, &st, e);
    if (rc == EX_OK)
        rc = fetch_response(sock, q->o->verbose, &resp, e);
    if (sock >= 0)
        close(sock);
    close(src->fd);
    src->fd = -1;
    if (rc == EX_OK) {
        *status = resp.status;
        *size = resp.size;
    }
    return rc;
}

const char *hubfile_put_status(unsigned status)
{
    switch (status) {
    case WIRE_INVALID_NAME:
        return "the hub takes no file of that name";
    case WIRE_ACCESS_DENIED:
        return "the name is taken by a file another user uploaded";
    case WIRE_BAD_REQUEST:
        return "no hub runs beside that server, or it predates uploads: see --files-port";
    case WIRE_TOO_LARGE:
        return "over the hub's upload limit";
    case WIRE_UNAUTHORIZED:
        return "the session is not live at the hub, or the upload's MAC is wrong";
    }
    return wire_status_message(status);
}

int hubfile_fetch(const struct client_opts *o, const char *dir, const char *name, uint64_t size,
                  const uint8_t sha256[32], bool replace, struct client_err *e)
{
    struct client_opts fo = *o;
    struct fetch_session s;

    fo.output = dir;
    /* An announcement of a name fetched before is its new version; any
     * other file of that name is the user's, and no follower may clobber
     * it by announcing its name. */
    fo.force = replace;
    fo.quiet = true;
    fo.resume = false;
    fo.many = false;
    fo.rate = 0;
    fo.max_size = size;
    fetch_init(&s, &fo);
    s.sha256 = sha256;
    return fetch_file(&s, name, e);
}
