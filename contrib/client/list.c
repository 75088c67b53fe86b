/*
 * list: the LIST exchange and its two printings. See list.h.
 *
 * The whole listing is read before anything is printed, so that a
 * listing cut short prints nothing (a script's JSON parser never sees half
 * an array). Its memory grows with the records that arrive, never with
 * the count the server announces.
 */
#include "contrib/client/list.h"

#include "common/size.h"
#include "contrib/client/net.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIST_BUF (64 * 1024)

/* Received bytes not yet decoded: buf[start, end). */
struct list_reader {
    int fd;
    uint8_t buf[LIST_BUF];
    size_t start, end;
};

/* Ensures want bytes are buffered. Returns 1, 0 at EOF, or -1 (errno). */
static int list_fill(struct list_reader *r, size_t want)
{
    if (r->end - r->start >= want)
        return 1;
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
    while (r->end < want) {
        ssize_t n = recv(r->fd, r->buf + r->end, sizeof(r->buf) - r->end, 0);

        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        r->end += (size_t)n;
    }
    return 1;
}

/* The error for a read that failed or ended early. */
static int list_short(int rc, const char *what, struct client_err *e)
{
    if (rc < 0)
        return client_fail(e, EX_TRANSFER, "reading the %s: %s", what,
                           errno == EAGAIN ? "timed out" : strerror(errno));
    return client_fail(e, EX_TRANSFER, "the server closed the connection in the %s", what);
}

/* Appends one record. Returns EX_OK or EX_LOCAL. */
static int list_add(struct list *l, const struct wire_record *rec, struct client_err *e)
{
    struct list_entry *le;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct list_entry *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL)
            return client_fail(e, EX_LOCAL, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    le = &l->v[l->n++];
    le->name_len = rec->name_len;
    memcpy(le->name, rec->name, rec->name_len);
    le->name[rec->name_len] = '\0';
    le->size = rec->size;
    le->mtime = rec->mtime;
    return EX_OK;
}

/* Reads count records. Returns EX_OK or an exit code. */
static int list_records(struct list_reader *r, uint32_t count, struct list *l, struct client_err *e)
{
    struct wire_record rec;
    size_t need = 2;
    int rc;

    for (uint32_t i = 0; i < count; i++) {
        while ((rc = wire_record_parse(r->buf + r->start, r->end - r->start, &rec, &need)) ==
               -EAGAIN) {
            int got = list_fill(r, need);

            if (got < 0)
                return list_short(got, "listing", e);
            if (got == 0)
                return client_fail(e, EX_TRANSFER, "truncated listing: received %u of %u records",
                                   i, count);
        }
        if (rc < 0)
            return client_fail(e, EX_TRANSFER, "malformed record %u of %u (name length %u)", i + 1,
                               count, (unsigned)(r->buf[r->start] << 8 | r->buf[r->start + 1]));
        r->start += need;
        if (rec.kind == WIRE_KIND_FILE && (rc = list_add(l, &rec, e)) != EX_OK)
            return rc;
    }
    return EX_OK;
}

/* A LIST answered with a FILE_RESPONSE: the status says why. */
static int list_refused(struct list_reader *r, struct client_err *e)
{
    struct wire_response resp;
    int got = list_fill(r, WIRE_RESPONSE_LEN);

    if (got <= 0)
        return list_short(got, "answer", e);
    if (r->buf[r->start] != WIRE_VERSION)
        return client_fail(e, EX_STATUS + WIRE_VERSION_MISMATCH,
                           "protocol version mismatch (server speaks %u)", r->buf[r->start]);
    if (wire_response_parse(r->buf + r->start, &resp) < 0 || resp.status == WIRE_OK)
        return client_fail(e, EX_TRANSFER, "malformed answer to LIST (FILE_RESPONSE status %u)",
                           r->buf[r->start + 2]);
    if (resp.status == WIRE_BAD_REQUEST)
        return client_fail(e, EX_STATUS + resp.status, "server does not support LIST");
    return client_fail(e, EX_STATUS + resp.status, "LIST: %s", wire_status_message(resp.status));
}

/* Reads the answer's header, then the records. */
static int list_answer(struct list_reader *r, bool verbose, struct list *l, struct client_err *e)
{
    uint8_t version, status;
    uint32_t count;
    int got = list_fill(r, 2);

    if (got <= 0)
        return got < 0 ? list_short(got, "answer", e)
                       : client_fail(e, EX_TRANSFER,
                                     "the server closed the connection without an answer");
    if (r->buf[1] == WIRE_FILE_RESPONSE)
        return list_refused(r, e);
    if (r->buf[1] != WIRE_LIST_RESPONSE)
        return client_fail(e, EX_TRANSFER,
                           "not a ferry server? its answer starts with 0x%02x 0x%02x (\"%c%c\")",
                           r->buf[0], r->buf[1], isprint(r->buf[0]) ? r->buf[0] : '.',
                           isprint(r->buf[1]) ? r->buf[1] : '.');
    if ((got = list_fill(r, WIRE_LIST_HEADER)) <= 0)
        return list_short(got, "answer", e);
    if (r->buf[0] != WIRE_VERSION)
        return client_fail(e, EX_STATUS + WIRE_VERSION_MISMATCH,
                           "protocol version mismatch (server speaks %u)", r->buf[0]);
    if (wire_list_header_parse(r->buf, &version, &status, &count) < 0)
        return client_fail(e, EX_TRANSFER, "malformed answer (LIST_RESPONSE status %u)", r->buf[2]);
    if (verbose)
        fprintf(stderr, "< LIST_RESPONSE version=%u type=0x%02x status=%s(%u) count=%u\n", version,
                WIRE_LIST_RESPONSE, wire_status_name(status), status, count);
    if (status != WIRE_OK)
        return client_fail(e, EX_STATUS + status, "LIST: %s", wire_status_message(status));
    r->start = WIRE_LIST_HEADER;
    return list_records(r, count, l, e);
}

int list_fetch(const struct client_opts *o, struct list *l, struct client_err *e)
{
    struct list_reader *r = NULL;
    uint8_t req[WIRE_REQUEST_HEADER];
    int fd, rc;

    memset(l, 0, sizeof(*l));
    if ((fd = net_connect(o, e)) < 0)
        return EX_CONNECT;
    wire_list_encode(req);
    if (o->verbose)
        fprintf(stderr, "> LIST version=%u type=0x%02x\n", WIRE_VERSION, WIRE_LIST_REQUEST);
    if (net_write_all(fd, req, sizeof(req)) < 0) {
        rc = client_fail(e, EX_TRANSFER, "sending the request: %s", strerror(errno));
    } else if ((r = calloc(1, sizeof(*r))) == NULL) {
        rc = client_fail(e, EX_LOCAL, "out of memory");
    } else {
        r->fd = fd;
        rc = list_answer(r, o->verbose, l, e);
    }
    free(r);
    close(fd);
    if (rc != EX_OK)
        list_free(l);
    return rc;
}

void list_free(struct list *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Writes a name for a terminal: a hostile server's control bytes are
 * shown as \xNN, never interpreted. */
static void list_put_name(const struct list_entry *le, FILE *out)
{
    for (size_t i = 0; i < le->name_len; i++) {
        unsigned char c = (unsigned char)le->name[i];

        if (c >= 0x20 && c < 0x7f)
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
}

/* mtime as local "YYYY-MM-DD HH:MM", or "?" when it is out of range. */
static void list_time(int64_t mtime, char *buf, size_t len)
{
    time_t t = (time_t)mtime;
    struct tm tm;

    if ((int64_t)t != mtime || localtime_r(&t, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, len, "?");
}

void list_print_table(const struct list *l, FILE *out)
{
    char size[24], when[64];

    if (l->n == 0)
        return;
    fprintf(out, "%10s  %-16s  %s\n", "SIZE", "MODIFIED", "NAME");
    for (size_t i = 0; i < l->n; i++) {
        list_time(l->v[i].mtime, when, sizeof(when));
        fprintf(out, "%10s  %-16s  ", size_format(l->v[i].size, size, sizeof(size)), when);
        list_put_name(&l->v[i], out);
        fputc('\n', out);
    }
}

/* Writes a JSON string: '"' and '\' escaped, any byte outside printable
 * ASCII as \u00XX (a valid name has none; a hostile server's might). */
static void list_json_string(const char *s, size_t len, FILE *out)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void list_print_json(const struct list *l, FILE *out)
{
    fputc('[', out);
    for (size_t i = 0; i < l->n; i++) {
        fputs(i == 0 ? "\n  {\"name\": " : ",\n  {\"name\": ", out);
        list_json_string(l->v[i].name, l->v[i].name_len, out);
        fprintf(out, ", \"size\": %llu, \"mtime\": %lld}", (unsigned long long)l->v[i].size,
                (long long)l->v[i].mtime);
    }
    fputs(l->n ? "\n]\n" : "]\n", out);
}
