/* Unit tests for the protocol handlers (worker/native.c, worker/http.c) as
 * state machines, without a socket: a request is fed into the
 * connection's input all at once and one byte at a time, and both must
 * give the same answer, byte for byte (the queued response, and the same
 * range of the same file as its body). Then the answers themselves are
 * checked for a few requests of each protocol, pipelining included. */
#include "common/wire.h"
#include "worker/http.h"
#include "worker/native.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define NOW 1000000000000LL /* a monotonic "now", far from 0 */

/* What a handler queued in answer: the bytes, and the body's file range. */
struct answer {
    enum conn_wait want;
    char out[CONN_OUT_CAP + 1];
    size_t out_len;
    ino_t body_ino; /* 0: no body */
    uint64_t body_off, body_end;
    bool close_after;
    struct sb_conn rec; /* the connection's scoreboard record then */
};

static char root[64];
static int dirfd_ = -1;
static struct scoreboard *sb;
static const struct http_config http_cfg = {
    .header_timeout_ms = 10000,
    .keepalive_timeout_ms = 5000,
    .keepalive_requests = 100,
};

static void put_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    char path[128];

    (void)state;
    snprintf(root, sizeof(root), "/tmp/ferry-handlers-XXXXXX");
    assert_non_null(mkdtemp(root));
    put_file("hello.txt", "hello\n");
    put_file("b.txt", "0123456789");
    snprintf(path, sizeof(path), "%s/dir", root);
    assert_int_equal(mkdir(path, 0755), 0);
    dirfd_ = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd_ >= 0);
    sb = sb_create(1, 2); /* two connections at once: same_either_way() */
    assert_non_null(sb);
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    close(dirfd_);
    sb_destroy(sb);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static struct conn_env env_of(void)
{
    return (struct conn_env){.dirfd = dirfd_,
                             .chunk = 65536,
                             .io_timeout_ms = 30000,
                             .request_timeout_ms = 10000,
                             .slot = &sb->slots[0],
                             .recs = sb_rec(sb, 0, 0),
                             .http = &http_cfg};
}

/* Copies what c has queued into a. */
static void take(const struct conn *c, enum conn_wait want, struct answer *a)
{
    struct stat st;

    a->want = want;
    a->out_len = c->out_len - c->out_off;
    memcpy(a->out, c->out + c->out_off, a->out_len);
    a->out[a->out_len] = '\0';
    a->body_ino = c->body_fd >= 0 && fstat(c->body_fd, &st) == 0 ? st.st_ino : 0;
    a->body_off = c->body_off;
    a->body_end = c->body_end;
    a->close_after = c->close_after;
}

/*
 * Feeds req (len bytes) step bytes at a time into a new connection of h
 * in the process's record k, until the handler stops asking for input;
 * fills a with its answer. c stays open for the caller (closed with
 * conn_close()).
 */
static void feed(struct conn *c, const struct conn_env *env, const struct conn_handler *h,
                 uint32_t k, const void *req, size_t len, size_t step, struct answer *a)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};
    enum conn_wait want = CONN_READ;
    size_t at = 0;

    c->rec = &env->recs[k];
    c->rec_k = k;
    conn_attach(c, env, h, -1, 0, (struct sockaddr *)&peer, NOW);
    assert_int_equal(c->rec->state, SB_READING);
    /* The input buffer comes with the first read, which this replaces:
     * the connection owns it from here (conn_free). */
    if (c->in == NULL) {
        c->in = malloc(CONN_IN_MAX);
        assert_non_null(c->in);
        c->in_cap = CONN_IN_MAX;
    }
    c->wall = 1700000000; /* a fixed Date */
    while (want == CONN_READ && at < len) {
        size_t n = len - at < step ? len - at : step;

        memcpy(c->in + c->in_len, (const char *)req + at, n);
        c->in_len += n;
        c->req.active = true;
        at += n;
        want = h->input(c, NOW);
    }
    take(c, want, a);
    a->rec = *c->rec;
}

/* The answer to req must not depend on how its bytes arrive. */
static void same_either_way(const struct conn_handler *h, const void *req, size_t len,
                            struct answer *whole)
{
    const struct conn_env env = env_of();
    struct conn c1, c2;
    struct answer bytewise;

    assert_int_equal(conn_init(&c1, CONN_STATE_MAX), 0);
    assert_int_equal(conn_init(&c2, CONN_STATE_MAX), 0);
    feed(&c1, &env, h, 0, req, len, len, whole);
    feed(&c2, &env, h, 1, req, len, 1, &bytewise);
    assert_int_equal(whole->want, bytewise.want);
    assert_int_equal(whole->out_len, bytewise.out_len);
    assert_memory_equal(whole->out, bytewise.out, whole->out_len);
    assert_int_equal(whole->body_ino, bytewise.body_ino);
    assert_int_equal(whole->body_off, bytewise.body_off);
    assert_int_equal(whole->body_end, bytewise.body_end);
    /* Each in its own record, which says the same either way. */
    assert_int_equal(whole->rec.state, bytewise.rec.state);
    assert_int_equal(whole->rec.requests, bytewise.rec.requests);
    assert_int_equal(whole->rec.size, bytewise.rec.size);
    assert_string_equal(whole->rec.target, bytewise.rec.target);
    assert_int_equal(sb->slots[0].conns, 2);
    assert_int_equal(sb->slots[0].state, SB_BUSY);
    conn_close(&c1, NOW);
    assert_int_equal(sb->slots[0].state, SB_BUSY); /* c2 is open still */
    assert_int_equal(sb_rec(sb, 0, 0)->state, SB_EMPTY);
    conn_close(&c2, NOW);
    assert_int_equal(sb_rec(sb, 0, 1)->state, SB_EMPTY);
    assert_int_equal(sb->slots[0].conns, 0);
    assert_int_equal(sb->slots[0].state, SB_IDLE);
    conn_free(&c1);
    conn_free(&c2);
}

static ino_t ino_of(const char *name)
{
    struct stat st;

    assert_int_equal(fstatat(dirfd_, name, &st, 0), 0);
    return st.st_ino;
}

static void test_native_file_request(void **state)
{
    uint8_t req[64];
    size_t n = wire_request_encode(req, sizeof(req), 1, "hello.txt", 9);
    struct answer a;
    struct wire_response r;

    (void)state;
    same_either_way(&native_handler, req, n, &a);
    assert_int_equal(a.want, CONN_WRITE);
    assert_int_equal(a.out_len, WIRE_RESPONSE_LEN);
    assert_int_equal(wire_response_parse(a.out, &r), 0);
    assert_int_equal(r.status, WIRE_OK);
    assert_int_equal(r.size, 6);
    assert_int_equal(a.body_ino, 0); /* not before READY */
    /* Answered, waiting for READY: the record says so. */
    assert_int_equal(a.rec.state, SB_WAITING);
    assert_int_equal(a.rec.requests, 1);
    assert_int_equal(a.rec.size, 6);
    assert_string_equal(a.rec.target, "hello.txt");
}

static void test_native_get_from_an_offset(void **state)
{
    uint8_t req[64];
    size_t n = wire_get_encode(req, sizeof(req), 1, "b.txt", 5, 4, 100);
    struct answer a;
    struct wire_response r;

    (void)state;
    same_either_way(&native_handler, req, n, &a);
    assert_int_equal(wire_response_parse(a.out, &r), 0);
    assert_int_equal(r.status, WIRE_OK);
    assert_int_equal(r.size, 10); /* the full size, whatever the offset */
    assert_int_equal(a.body_ino, ino_of("b.txt"));
    assert_int_equal(a.body_off, 4);
    assert_int_equal(a.body_end, 10);
    assert_true(a.close_after); /* corked: the FIN leaves with the body */
}

/* Bytes after the request (READY, or a client's garbage) must not change
 * what is served: the name is read before the input moves. */
static void test_native_trailing_bytes(void **state)
{
    uint8_t req[128];
    size_t n = wire_get_encode(req, sizeof(req), 1, "b.txt", 5, 0, 100);
    struct answer a;

    (void)state;
    memcpy(req + n,
           "\x03"
           "abcdefghijklmnopqrstuvwxyz",
           27);
    same_either_way(&native_handler, req, n + 27, &a);
    assert_int_equal(a.body_ino, ino_of("b.txt"));
    n = wire_request_encode(req, sizeof(req), 1, "hello.txt", 9);
    memcpy(req + n,
           "\x03"
           "abc"
           "b.txt",
           9);
    same_either_way(&native_handler, req, n + 9, &a);
    assert_int_equal(wire_get_u64((const uint8_t *)a.out + 3), 6); /* hello.txt's size */
}

static void test_native_statuses(void **state)
{
    static const struct {
        const char *name;
        uint64_t offset, max;
        enum wire_status status;
        uint64_t size;
    } cases[] = {
        {"b.txt", 0, 9, WIRE_TOO_LARGE, 10},   {"b.txt", 11, 100, WIRE_BAD_OFFSET, 10},
        {"b.txt", 10, 100, WIRE_OK, 10},       {"nope", 0, 100, WIRE_NOT_FOUND, 0},
        {"dir", 0, 100, WIRE_NOT_REGULAR, 0},  {"..", 0, 100, WIRE_INVALID_NAME, 0},
        {"a/b", 0, 100, WIRE_INVALID_NAME, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t req[64];
        size_t n = wire_get_encode(req, sizeof(req), 1, cases[i].name, strlen(cases[i].name),
                                   cases[i].offset, cases[i].max);
        struct answer a;
        struct wire_response r;

        same_either_way(&native_handler, req, n, &a);
        assert_int_equal(wire_response_parse(a.out, &r), 0);
        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(r.size, cases[i].size);
    }
}

static void test_native_header_decides(void **state)
{
    struct answer a;
    struct wire_response r;

    (void)state;
    /* A version 2 request: answered after its second byte, whatever follows. */
    same_either_way(&native_handler, "\x02\x01\x00\x05hello", 9, &a);
    assert_int_equal(wire_response_parse(a.out, &r), 0);
    assert_int_equal(r.status, WIRE_VERSION_MISMATCH);
    same_either_way(&native_handler, "\x01\x05\x00\x01", 4, &a); /* LIST with a u16 */
    assert_int_equal(wire_response_parse(a.out, &r), 0);
    assert_int_equal(r.status, WIRE_BAD_REQUEST);
}

static void test_native_list(void **state)
{
    uint8_t req[WIRE_LIST_HEADER], ver, st;
    uint32_t count;
    struct answer a;
    struct wire_record rec;
    size_t need, at = WIRE_LIST_HEADER;

    (void)state;
    wire_list_encode(req);
    same_either_way(&native_handler, req, 4, &a);
    assert_int_equal(wire_list_header_parse(a.out, &ver, &st, &count), 0);
    assert_int_equal(count, 2); /* the directory "dir" is not listed */
    assert_int_equal(wire_record_parse(a.out + at, a.out_len - at, &rec, &need), 0);
    assert_memory_equal(rec.name, "b.txt", 5);
    at += need;
    assert_int_equal(wire_record_parse(a.out + at, a.out_len - at, &rec, &need), 0);
    assert_memory_equal(rec.name, "hello.txt", 9);
    assert_int_equal(rec.size, 6);
    assert_int_equal(at + need, a.out_len);
}

static void test_http_get(void **state)
{
    const char *req = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    struct answer a;

    (void)state;
    same_either_way(&http_handler, req, strlen(req), &a);
    assert_int_equal(a.want, CONN_WRITE);
    assert_non_null(strstr(a.out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(a.out, "\r\nContent-Length: 6\r\n"));
    assert_non_null(strstr(a.out, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(a.out, "\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"));
    assert_null(strstr(a.out, "Connection: close"));
    assert_int_equal(a.body_ino, ino_of("hello.txt"));
    assert_int_equal(a.body_end - a.body_off, 6);
    assert_int_equal(a.rec.state, SB_SENDING);
    assert_int_equal(a.rec.requests, 1);
    assert_int_equal(a.rec.size, 6);
    assert_string_equal(a.rec.target, "/hello.txt");
}

static void test_http_answers(void **state)
{
    static const struct {
        const char *req, *status;
        bool closes;
    } cases[] = {
        {"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n", false},
        {"GET /b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-4\r\n\r\n", "HTTP/1.1 206 ", false},
        {"GET /b.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=20-\r\n\r\n", "HTTP/1.1 416 ", false},
        {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 ", false},
        {"GET /dir HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 301 ", false},
        {"GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 ", false}, /* no autoindex */
        {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 ", false},
        {"GET /../x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 ", false},
        {"GET /hello.txt HTTP/1.1\nHost: x\n\n", "HTTP/1.1 400 ", true},
        {"GET /hello.txt HTTP/1.0\r\n\r\n", "HTTP/1.1 200 ", true},
        {"GET /hello.txt HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 ", true},
        {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 501 ", true},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct answer a;

        same_either_way(&http_handler, cases[i].req, strlen(cases[i].req), &a);
        assert_int_equal(a.want, CONN_WRITE);
        if (strncmp(a.out, cases[i].status, strlen(cases[i].status)) != 0)
            fail_msg("%s -> %.40s", cases[i].req, a.out);
        assert_int_equal(a.close_after, cases[i].closes);
    }
}

/* Two requests in one read: the second is answered once the first is sent. */
static void test_http_pipelined(void **state)
{
    const char *req = "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const struct conn_env env = env_of();
    struct answer first, second;
    struct conn c;

    (void)state;
    assert_int_equal(conn_init(&c, CONN_STATE_MAX), 0);
    feed(&c, &env, &http_handler, 1, req, strlen(req), strlen(req), &first);
    assert_int_equal(first.body_ino, ino_of("hello.txt"));
    assert_string_equal(first.rec.target, "/hello.txt");
    /* What the engine does once everything queued has left. */
    close(c.body_fd);
    c.body_fd = -1;
    c.out_len = c.out_off = 0;
    take(&c, http_handler.sent(&c, NOW), &second);
    assert_int_equal(second.want, CONN_WRITE);
    assert_int_equal(second.body_ino, ino_of("b.txt"));
    assert_non_null(strstr(second.out, "Connection: close\r\n"));
    assert_true(second.close_after);
    /* The same connection, its record on to the second request. */
    assert_ptr_equal(c.rec, sb_rec(sb, 0, 1));
    assert_int_equal(c.rec->state, SB_SENDING);
    assert_int_equal(c.rec->requests, 2);
    assert_int_equal(c.rec->size, 10);
    assert_string_equal(c.rec->target, "/b.txt");
    assert_int_equal(sb_rec(sb, 0, 0)->state, SB_EMPTY); /* record 0 was never used */
    conn_close(&c, NOW);
    assert_int_equal(c.rec->state, SB_EMPTY);
    assert_int_equal(sb->slots[0].state, SB_IDLE);
    conn_free(&c);
}

/* Accepts a connection of h from peer (a dotted quad) with env, as
 * conn_open() does before its first read; the caller closes it. */
static void accept_from(struct conn *c, const struct conn_env *env, const struct conn_handler *h,
                        const char *peer)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};

    assert_int_equal(inet_pton(AF_INET, peer, &sin.sin_addr), 1);
    assert_int_equal(conn_init(c, CONN_STATE_MAX), 0);
    c->rec = &env->recs[0];
    c->rec_k = 0;
    conn_attach(c, env, h, -1, 0, (struct sockaddr *)&sin, NOW);
}

/* --allow/--deny, decided at accept: a denied native client is done with
 * nothing queued and nothing read, to be reset; an HTTP one has its 403
 * queued, then a lingering close; an allowed one starts as ever. Each
 * denial is counted on the listener's row of the pool-wide block. */
static void test_denied_at_accept(void **state)
{
    struct conn_env env = env_of();
    struct acl acl = {0};
    struct acl_rule r;
    uint64_t workers[PROTO_LISTENERS_MAX], master[PROTO_LISTENERS_MAX];
    struct conn c;

    (void)state;
    assert_int_equal(acl_parse(&r, false, "127.0.0.0/8"), 0);
    assert_int_equal(acl_add(&acl, &r), 0);
    env.acl[0] = &acl;
    env.sb = sb;
    accept_from(&c, &env, &native_handler, "127.0.0.9");
    assert_int_equal(c.want, CONN_DONE);
    assert_true(c.denied && c.reset);
    assert_int_equal(c.out_len, 0);
    assert_null(c.in);
    assert_string_equal(c.problem, "denied");
    assert_string_equal(c.about, "deny 127.0.0.0/8");
    conn_close(&c, NOW);
    conn_free(&c);
    accept_from(&c, &env, &http_handler, "127.0.0.9");
    assert_int_equal(c.want, CONN_WRITE);
    assert_true(c.denied && c.linger && !c.reset);
    c.out[c.out_len] = '\0';
    assert_memory_equal(c.out, "HTTP/1.1 403 Forbidden\r\n", 24);
    assert_non_null(strstr((char *)c.out, "\r\nConnection: close\r\n"));
    assert_null(c.in);
    conn_close(&c, NOW);
    conn_free(&c);
    sb_read_denied(sb, workers, master);
    assert_int_equal(workers[0], 2);
    assert_int_equal(master[0], 0);
    accept_from(&c, &env, &native_handler, "10.0.0.1");
    assert_int_equal(c.want, CONN_READ);
    assert_false(c.denied || c.reset);
    assert_null(c.problem);
    conn_close(&c, NOW);
    conn_free(&c);
    acl_free(&acl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_file_request),
        cmocka_unit_test(test_native_get_from_an_offset),
        cmocka_unit_test(test_native_statuses),
        cmocka_unit_test(test_native_trailing_bytes),
        cmocka_unit_test(test_native_header_decides),
        cmocka_unit_test(test_native_list),
        cmocka_unit_test(test_http_get),
        cmocka_unit_test(test_http_answers),
        cmocka_unit_test(test_http_pipelined),
        cmocka_unit_test(test_denied_at_accept),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
