/*
 * native: protocol v1 as a state machine. See native.h.
 */
#include "worker/native.h"

#include "common/log.h"
#include "common/name.h"
#include "common/wire.h"
#include "worker/put.h"
#include "worker/tree.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum native_phase {
    NATIVE_REQUEST, /* reading the request */
    NATIVE_ANSWER,  /* FILE_REQUEST answered OK: sending the response */
    NATIVE_READY,   /* waiting for READY/REFUSE */
    NATIVE_LIST,    /* sending LIST records */
    NATIVE_PUT,     /* PUT: receiving the upload (put.c) */
    NATIVE_LAST,    /* the last bytes are queued: close once sent */
};

struct native_state {
    enum native_phase phase;
    int file; /* FILE_REQUEST: opened, waiting for READY (-1: none) */
    uint64_t size;
    struct tree_list list;
    size_t next; /* the next LIST record to send */
    struct put_state put;
};

_Static_assert(sizeof(struct native_state) <= CONN_STATE_MAX, "native state too large");

/* Why a name could not be served -> what the client is told. */
static const enum wire_status native_whys[TREE_WHY_COUNT] = {
    [TREE_WHY_NOT_FOUND] = WIRE_NOT_FOUND,  [TREE_WHY_LINK] = WIRE_NOT_REGULAR,
    [TREE_WHY_DIR] = WIRE_NOT_REGULAR,      [TREE_WHY_SPECIAL] = WIRE_NOT_REGULAR,
    [TREE_WHY_DENIED] = WIRE_ACCESS_DENIED, [TREE_WHY_TOO_LONG] = WIRE_INVALID_NAME,
    [TREE_WHY_INVALID] = WIRE_INVALID_NAME, [TREE_WHY_FAILED] = WIRE_SERVER_ERROR,
};

/* The HTTP status that means the same, for the access log's readers. */
static const int native_http_codes[WIRE_STATUS_COUNT] = {
    [WIRE_OK] = 200,           [WIRE_VERSION_MISMATCH] = 505,
    [WIRE_INVALID_NAME] = 400, [WIRE_NOT_FOUND] = 404,
    [WIRE_NOT_REGULAR] = 403,  [WIRE_ACCESS_DENIED] = 403,
    [WIRE_BAD_REQUEST] = 400,  [WIRE_SERVER_ERROR] = 500,
    [WIRE_TOO_LARGE] = 413,    [WIRE_BAD_OFFSET] = 416,
    [WIRE_BUSY] = 503,         [WIRE_UNAUTHORIZED] = 401,
};

static enum sb_outcome native_outcome(enum wire_status status)
{
    if (status == WIRE_OK)
        return SB_OUT_OK;
    return status == WIRE_SERVER_ERROR ? SB_OUT_SERVER_ERROR : SB_OUT_CLIENT_ERROR;
}

static enum conn_wait native_start(struct conn *c, int64_t now)
{
    struct native_state *st = c->state;

    st->file = -1;
    st->phase = NATIVE_REQUEST;
    c->read_deadline = c->accepted_ns + (int64_t)c->env->request_timeout_ms * 1000000;
    (void)now;
    return CONN_READ;
}

/* Queues a FILE_RESPONSE and records the answer; next is the
 * scoreboard's state after it. */
static void native_respond(struct conn *c, enum wire_status status, uint64_t size,
                           enum sb_state next)
{
    uint8_t out[WIRE_RESPONSE_LEN];

    wire_response_encode(out, status, size);
    log_debug("-> FILE_RESPONSE version=%u type=0x%02x status=%s(%u) size=%llu", WIRE_VERSION,
              WIRE_FILE_RESPONSE, wire_status_name(status), status, (unsigned long long)size);
    conn_put(c, out, sizeof(out)); /* the buffer is empty: always fits */
    c->phase = "response";
    conn_answer(c, native_outcome(status), native_http_codes[status], wire_status_name(status),
                size, next);
}

/* Answers with an error status and closes: the request is not read
 * further, and bytes still arriving are drained after the FIN. */
static enum conn_wait native_refuse(struct conn *c, enum wire_status status, uint64_t size)
{
    struct native_state *st = c->state;

    native_respond(c, status, size, SB_CLOSING);
    c->close_after = c->linger = true;
    st->phase = NATIVE_LAST;
    return CONN_WRITE;
}

/* Opens the requested name. Returns the file, or -1 with *status set. */
static int native_open(struct conn *c, const struct wire_request *req, uint64_t *size,
                       enum wire_status *status)
{
    char name[WIRE_NAME_MAX + 1];
    struct stat sb;
    int fd;

    if (!name_valid(req->name, req->name_len)) {
        *status = WIRE_INVALID_NAME;
        return -1;
    }
    memcpy(name, req->name, req->name_len);
    name[req->name_len] = '\0';
    /* A hidden name, an upload's temporary file always: NOT_FOUND. */
    fd = tree_open(c->env->dirfd, name, c->env->tree_flags, &sb);
    if (fd < 0) {
        *status = native_whys[tree_why(-fd)];
        return -1;
    }
    *status = WIRE_OK;
    *size = (uint64_t)sb.st_size;
    return fd;
}

/* FILE_REQUEST: answer, then wait for READY with the file open. */
static enum conn_wait native_file(struct conn *c, const struct wire_request *req, int64_t now)
{
    struct native_state *st = c->state;
    enum wire_status status;

    st->file = native_open(c, req, &st->size, &status);
    if (st->file < 0)
        return native_refuse(c, status, 0);
    native_respond(c, WIRE_OK, st->size, SB_WAITING);
    st->phase = NATIVE_ANSWER;
    c->read_deadline = now + (int64_t)c->env->request_timeout_ms * 1000000;
    return CONN_WRITE;
}

/* GET: the response and the content from offset in one write. */
static enum conn_wait native_get(struct conn *c, const struct wire_request *req)
{
    struct native_state *st = c->state;
    enum wire_status status;
    uint64_t size = 0;
    int fd = native_open(c, req, &size, &status);

    if (fd < 0)
        return native_refuse(c, status, 0);
    if (size > req->max_size || req->offset > size) {
        close(fd);
        return native_refuse(c, size > req->max_size ? WIRE_TOO_LARGE : WIRE_BAD_OFFSET, size);
    }
    native_respond(c, WIRE_OK, size, SB_SENDING);
    c->phase = "content";
    conn_body(c, fd, req->offset, size);
    c->close_after = true;
    st->phase = NATIVE_LAST;
    return CONN_WRITE;
}

/* Queues as many LIST records as fit. Returns CONN_WRITE, or CONN_DONE
 * when every record was sent. */
static enum conn_wait native_list_fill(struct conn *c)
{
    struct native_state *st = c->state;
    bool queued = c->out_len > 0;

    while (st->next < st->list.n) {
        const struct tree_entry *e = &st->list.v[st->next];
        size_t room, n;
        uint8_t *p = conn_room(c, &room);

        n = wire_record_encode(p, room, e->name, strlen(e->name), e->size, e->mtime,
                               WIRE_KIND_FILE);
        if (n == 0)
            break;
        conn_commit_body(c, n);
        st->next++;
        queued = true;
    }
    return queued ? CONN_WRITE : CONN_DONE;
}

/* The bytes of a listing's records: what a LIST sends after its header. */
static uint64_t native_list_bytes(const struct tree_list *l)
{
    uint64_t n = 0;

    for (size_t i = 0; i < l->n; i++)
        n += WIRE_RECORD_FIXED + strlen(l->v[i].name);
    return n;
}

/* LIST: a snapshot of the directory, sent in batches. */
static enum conn_wait native_list(struct conn *c)
{
    struct native_state *st = c->state;
    uint8_t head[WIRE_LIST_HEADER];
    /* Hidden names, and uploads under way always, are left out. */
    int rc = tree_list(c->env->dirfd, "", TREE_FILES_NATIVE, c->env->tree_flags, &st->list);
    enum wire_status status = rc < 0 ? WIRE_SERVER_ERROR : WIRE_OK;

    wire_list_header_encode(head, status, (uint32_t)st->list.n);
    conn_put(c, head, sizeof(head));
    c->phase = "content";
    conn_answer(c, native_outcome(status), native_http_codes[status], wire_status_name(status),
                native_list_bytes(&st->list), SB_SENDING);
    c->close_after = true;
    st->phase = NATIVE_LIST;
    return native_list_fill(c);
}

static const char *native_method(uint8_t type)
{
    switch (type) {
    case WIRE_FILE_REQUEST:
        return "FILE";
    case WIRE_GET_REQUEST:
        return "GET";
    case WIRE_LIST_REQUEST:
        return "LIST";
    case WIRE_PUT_REQUEST:
        return "PUT";
    }
    return "?";
}

/* What a step of a PUT came to -> what the connection waits for. Every
 * answer to a PUT ends the connection, OK included, with a lingering
 * close: content may still be on its way. */
static enum conn_wait native_put_step(struct conn *c, int rc)
{
    struct native_state *st = c->state;

    if (rc == PUT_READ)
        return CONN_READ;
    if (rc == PUT_GONE)
        return CONN_DONE;
    return native_refuse(c, (enum wire_status)rc, st->put.answer_size);
}

/* PUT: the request is in; the content follows it (some of it may be in
 * c->in already). */
static enum conn_wait native_put(struct conn *c, const struct wire_request *req, size_t need,
                                 int64_t now)
{
    struct native_state *st = c->state;
    int rc;

    log_debug("<- PUT version=%u type=0x%02x name_len=%u size=%llu token=%08x", req->version,
              req->type, req->name_len, (unsigned long long)req->size, req->token);
    rc = put_start(c, &st->put, req, now); /* it copies the name */
    conn_consume(c, need);
    if (rc == PUT_READ) {
        st->phase = NATIVE_PUT;
        rc = put_input(c, &st->put, now);
    }
    return native_put_step(c, rc);
}

/* A whole request (or a header that decided the answer) arrived. */
static enum conn_wait native_request(struct conn *c, int rc, const struct wire_request *req,
                                     size_t need, int64_t now)
{
    enum conn_wait want;

    c->cut_on_stop = false;
    strcpy(c->req.method, rc == 0 ? native_method(req->type) : "?");
    c->req.version = "FERRY/1";
    if (rc < 0) /* the header alone decided: answer, interpret nothing more */
        return native_refuse(c, req->status, 0);
    log_escape(c->req.target, sizeof(c->req.target), req->name, req->name_len);
    if (req->type == WIRE_PUT_REQUEST)
        return native_put(c, req, need, now);
    if (log_get_level() >= LOG_DEBUG)
        log_debug("<- %s version=%u type=0x%02x name_len=%u offset=%llu max_size=%llu",
                  req->type == WIRE_FILE_REQUEST ? "FILE_REQUEST" : c->req.method, req->version,
                  req->type, req->name_len, (unsigned long long)req->offset,
                  (unsigned long long)req->max_size);
    if (req->type == WIRE_LIST_REQUEST)
        want = native_list(c);
    else if (req->type == WIRE_GET_REQUEST)
        want = native_get(c, req);
    else
        want = native_file(c, req, now);
    /* Only now: req->name points into the input, which consuming moves. */
    conn_consume(c, need);
    return want;
}

/* The byte after a FILE_RESPONSE OK: READY sends the content. */
static enum conn_wait native_ready(struct conn *c)
{
    struct native_state *st = c->state;
    uint8_t b;

    if (c->in_len == 0)
        return c->eof ? conn_trouble(c, "client closed early", 0, false) : CONN_READ;
    b = c->in[0];
    conn_consume(c, 1);
    log_debug("<- %s (0x%02x)", b == WIRE_READY ? "READY" : b == WIRE_REFUSE ? "REFUSE" : "?", b);
    if (b == WIRE_REFUSE) {
        c->req.refused = true;
        return CONN_DONE;
    }
    if (b != WIRE_READY)
        return conn_trouble(c, "unexpected byte instead of READY", EPROTO, false);
    c->phase = "content";
    sb_conn_state(c->rec, SB_SENDING);
    conn_body(c, st->file, 0, st->size);
    st->file = -1; /* the connection owns it now */
    c->close_after = true;
    st->phase = NATIVE_LAST;
    return CONN_WRITE;
}

static enum conn_wait native_input(struct conn *c, int64_t now)
{
    struct native_state *st = c->state;
    struct wire_request req;
    size_t need = 0;
    int rc;

    if (st->phase == NATIVE_READY)
        return native_ready(c);
    if (st->phase == NATIVE_PUT)
        return native_put_step(c, put_input(c, &st->put, now));
    rc = wire_request_parse(c->in, c->in_len, &req, &need);
    /* A PUT where no hub is: decided as soon as its type is seen, as by a
     * server that predates PUT. */
    if (req.version == WIRE_VERSION && req.type == WIRE_PUT_REQUEST && c->env->hub_fd < 0) {
        rc = -EPROTO;
        req.status = WIRE_BAD_REQUEST;
    }
    if (rc == -EAGAIN)
        return c->eof ? conn_trouble(c, "client closed early", 0, false) : CONN_READ;
    return native_request(c, rc, &req, need, now);
}

static enum conn_wait native_sent(struct conn *c, int64_t now)
{
    struct native_state *st = c->state;

    (void)now;
    switch (st->phase) {
    case NATIVE_ANSWER:
        st->phase = NATIVE_READY;
        c->phase = "ready";
        /* READY may have come with the request. */
        return c->in_len > 0 ? native_ready(c) : CONN_READ;
    case NATIVE_LIST:
        return native_list_fill(c);
    default:
        return CONN_DONE;
    }
}

static enum conn_wait native_expired(struct conn *c, int64_t now)
{
    struct native_state *st = c->state;

    if (st->phase == NATIVE_PUT)
        return native_put_step(c, put_expired(c, &st->put, now));
    return conn_trouble(c, "timed out", ETIMEDOUT, false);
}

/* Over --max-conn-per-ip: BUSY, whatever the request, and close. */
static enum conn_wait native_busy(struct conn *c, int64_t now)
{
    (void)now;
    c->cut_on_stop = false;
    return native_refuse(c, WIRE_BUSY, 0);
}

static void native_finish(struct conn *c)
{
    struct native_state *st = c->state;

    if (st->file >= 0)
        close(st->file);
    st->file = -1;
    tree_list_free(&st->list);
    put_finish(&st->put, c->env->dirfd);
}

const struct conn_handler native_handler = {
    .proto = PROTO_NATIVE,
    .state_size = sizeof(struct native_state),
    .start = native_start,
    .input = native_input,
    .sent = native_sent,
    .expired = native_expired,
    .busy = native_busy,
    .finish = native_finish,
};
