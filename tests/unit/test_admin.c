/* Unit tests for master/admin: request parsing and validation, driven
 * in-process through a real admin socket in a temporary directory, with
 * stub pool operations. Every error path of the request handling. */
#include "master/admin.h"
#include "tests/unit/admin_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The fixture's client asks line (a C string). */
static json_t *ask(struct admin_fixture *f, const char *line)
{
    return admin_fixture_ask(f, line, strlen(line));
}

/* Every way a request can be wrong, and the code it gets. */
static void test_error_paths(void **state)
{
    static const struct {
        const char *line, *error;
    } cases[] = {
        {"{", "bad_json"},
        {"nonsense", "bad_json"},
        {"{\"cmd\":\"ping\",\"cmd\":\"status\"}", "bad_json"},
        {"[\"ping\"]", "bad_request"},
        {"\"ping\"", "bad_json"},
        {"{}", "bad_request"},
        {"{\"cmd\":null}", "bad_request"},
        {"{\"cmd\":[]}", "bad_request"},
        {"{\"cmd\":\"PING\"}", "unknown_command"},
        {"{\"cmd\":\"frobnicate\"}", "unknown_command"},
        {"{\"cmd\":\"shutdown\",\"graceful\":1}", "bad_argument"},
        {"{\"cmd\":\"shutdown\",\"timeout_s\":1.5}", "bad_argument"},
        {"{\"cmd\":\"shutdown\",\"timeout_s\":-1}", "out_of_range"},
        {"{\"cmd\":\"shutdown\",\"timeout_s\":86401}", "out_of_range"},
        {"{\"cmd\":\"resize\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":\"3\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":\"+\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":\"+1x\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":true}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":0}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":9}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":\"-2\"}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":\"+7\"}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":3,\"drain_timeout_s\":\"1\"}", "bad_argument"},
        {"{\"cmd\":\"resize\",\"workers\":3,\"drain_timeout_s\":-5}", "out_of_range"},
        {"{\"cmd\":\"resize\",\"workers\":3,\"wait\":\"no\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"state\":\"nonsense\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"state\":\"idle\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"state\":\"busy\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"state\":\"SENDING\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"state\":3}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"state\":null}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"slot\":\"x\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"slot\":\"1\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"slot\":1.5}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"slot\":-1}", "out_of_range"},
        {"{\"cmd\":\"connections\",\"pid\":\"x\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"pid\":0}", "out_of_range"},
        {"{\"cmd\":\"connections\",\"peer\":5}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"peer\":\"\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"peer\":\"bogus\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"peer\":\"1.2.3.4:99999\"}", "bad_argument"},
        {"{\"cmd\":\"connections\",\"peer\":[\"::1\"]}", "bad_argument"},
    };
    struct admin_fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *r = ask(f, cases[i].line);
        const char *err = json_string_value(json_object_get(r, "error"));

        if (!json_is_false(json_object_get(r, "ok")) || err == NULL ||
            strcmp(err, cases[i].error) != 0 ||
            json_integer_value(json_object_get(r, "schema")) != 1 ||
            !json_is_string(json_object_get(r, "message")))
            fail_msg("%s: expected %s, got %s", cases[i].line, cases[i].error, err ? err : "ok");
        json_decref(r);
    }
    assert_int_equal(f->stub.shutdowns, 0); /* nothing acted on a bad request */
    assert_int_equal(f->stub.resized_to, 0);
}

static void test_valid_requests_reach_the_pool(void **state)
{
    struct admin_fixture *f = *state;
    json_t *r;

    r = ask(f, "{\"cmd\":\"resize\",\"workers\":\"+3\",\"drain_timeout_s\":7,\"wait\":false}");
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(json_integer_value(json_object_get(r, "to")), 5);
    assert_int_equal(f->stub.resized_to, 5);
    assert_int_equal(f->stub.drained, 7);
    json_decref(r);
    f->stub.resize_rc = -EBUSY;
    r = ask(f, "{\"cmd\":\"resize\",\"workers\":4,\"wait\":false}");
    assert_string_equal(json_string_value(json_object_get(r, "error")), "busy");
    json_decref(r);
    r = ask(f, "{\"cmd\":\"shutdown\",\"graceful\":false}");
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_int_equal(f->stub.shutdowns, 1); /* acted on once answered */
    assert_false(f->stub.graceful);
    json_decref(r);
    r = ask(f, "{\"cmd\":\"reopen-logs\"}");
    assert_true(json_is_false(json_object_get(r, "reopened")));
    json_decref(r);
}

/* A second graceful shutdown while stopping reports the timeout in force,
 * not the configured default, and says the stop was under way. */
static void test_shutdown_while_stopping(void **state)
{
    struct admin_fixture *f = *state;
    json_t *r;

    f->stub.state = ADMIN_STOPPING;
    f->stub.stop_timeout = 100;
    r = ask(f, "{\"cmd\":\"shutdown\"}");
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_true(json_is_true(json_object_get(r, "already_stopping")));
    assert_int_equal(json_integer_value(json_object_get(r, "timeout_s")), 100);
    json_decref(r);
    r = ask(f, "{\"cmd\":\"shutdown\",\"timeout_s\":5}"); /* changes nothing */
    assert_int_equal(json_integer_value(json_object_get(r, "timeout_s")), 100);
    json_decref(r);
    f->stub.state = ADMIN_RUNNING;
    r = ask(f, "{\"cmd\":\"shutdown\"}");
    assert_null(json_object_get(r, "already_stopping"));
    assert_int_equal(json_integer_value(json_object_get(r, "timeout_s")), 30);
    json_decref(r);
}

/* Two listeners, as --listen native=127.0.0.1:4242 --listen http=[::1]:8080
 * give (their sockets closed: no accept queue to read). */
static void two_listeners(struct listeners *ls)
{
    memset(ls, 0, sizeof(*ls));
    ls->fds[0] = ls->fds[1] = -1;
    ls->n = 2;
    ls->proto[0] = PROTO_NATIVE;
    strcpy(ls->names[0], "127.0.0.1:4242");
    ls->proto[1] = PROTO_HTTP;
    strcpy(ls->names[1], "[::1]:8080");
}

/* The row status reports for a listener, as compact JSON. */
static char *row_of(json_t *status, size_t i)
{
    return json_dumps(json_array_get(json_object_get(status, "listeners"), i),
                      JSON_COMPACT | JSON_SORT_KEYS);
}

/* status: a row per listener with its own figures, and the totals by
 * outcome over all of them; a busy worker says which listener took its
 * connection. */
static void test_figures_by_listener(void **state)
{
    struct admin_fixture *f = *state;
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 v6 = {
        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(12345)};
    int a = sb_claim(f->sb, SB_KIND_WORKER), b = sb_claim(f->sb, SB_KIND_WORKER);
    struct sb_slot *sa = &f->sb->slots[a], *sb = &f->sb->slots[b];
    struct sb_conn *ra = sb_rec(f->sb, a, 0), *rb = sb_rec(f->sb, b, 0);
    json_t *r, *w, *t;
    char *row;

    two_listeners(&f->ls);
    sb_worker_start(sa, 100);
    sb_worker_start(sb, 101);
    /* a: a native download that was not found, then one under way. */
    sb_conn_begin(sa, ra, 0, 0, (struct sockaddr *)&v4, clock_now_ns());
    sb_req_answer(sa, ra, SB_OUT_CLIENT_ERROR, "nope", 0, SB_CLOSING);
    sb_conn_end(sa, ra, clock_now_ns());
    sb_conn_begin(sa, ra, 0, 0, (struct sockaddr *)&v4, clock_now_ns());
    sb_req_answer(sa, ra, SB_OUT_OK, "big", 1000, SB_SENDING);
    sb_conn_progress(sa, ra, 100);
    /* b: two HTTP requests on one persistent connection, now idle on it. */
    sb_conn_begin(sb, rb, 0, 1, (struct sockaddr *)&v6, clock_now_ns());
    sb_req_answer(sb, rb, SB_OUT_OK, "/a", 7, SB_SENDING);
    sb_conn_progress(sb, rb, 7);
    sb_req_next(rb, SB_KEEPALIVE);
    sb_req_answer(sb, rb, SB_OUT_REDIRECT, "/b", 0, SB_SENDING);
    sb_req_next(rb, SB_KEEPALIVE);
    /* Denials (--allow/--deny): two on the HTTP listener, one on the
     * master's own (metrics), in the totals alone. */
    sb_count_denied(f->sb, false, 1);
    sb_count_denied(f->sb, false, 1);
    sb_count_denied(f->sb, true, 0);

    r = ask(f, "{\"cmd\":\"status\"}");
    row = row_of(r, 0);
    assert_string_equal(row,
                        "{\"address\":\"127.0.0.1:4242\",\"bytes\":100,\"connections\":2,"
                        "\"denied\":0,\"protocol\":\"native\",\"requests\":{\"client_error\":1,"
                        "\"ok\":1,\"redirect\":0,\"server_error\":0}}");
    free(row);
    row = row_of(r, 1);
    assert_string_equal(row, "{\"address\":\"[::1]:8080\",\"bytes\":7,\"connections\":1,"
                             "\"denied\":2,\"protocol\":\"http\",\"requests\":{\"client_error\":0,"
                             "\"ok\":1,\"redirect\":1,\"server_error\":0}}");
    free(row);
    t = json_object_get(r, "totals");
    assert_int_equal(json_integer_value(json_object_get(t, "connections")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 4);
    assert_int_equal(json_integer_value(json_object_get(t, "bytes")), 107);
    assert_int_equal(json_integer_value(json_object_get(t, "denied")), 3);
    row = json_dumps(json_object_get(t, "outcomes"), JSON_COMPACT);
    assert_string_equal(row, "{\"ok\":2,\"redirect\":1,\"client_error\":1,\"server_error\":0}");
    free(row);
    assert_null(json_object_get(t, "status"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "pool"), "keepalive")),
                     1);
    json_decref(r);

    r = ask(f, "{\"cmd\":\"workers\"}");
    w = json_object_get(r, "workers");
    t = json_object_get(json_array_get(w, 0), "transfer");
    assert_string_equal(json_string_value(json_object_get(t, "protocol")), "native");
    assert_string_equal(json_string_value(json_object_get(t, "listener")), "127.0.0.1:4242");
    assert_string_equal(json_string_value(json_object_get(t, "target")), "big");
    assert_string_equal(json_string_value(json_object_get(t, "peer")), "127.0.0.1:0");
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 1);
    assert_null(json_object_get(t, "file"));
    /* The idle persistent connection is busy: it shows, its last request too. */
    t = json_object_get(json_array_get(w, 1), "transfer");
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 1), "state")),
                        "keepalive");
    assert_string_equal(json_string_value(json_object_get(t, "protocol")), "http");
    assert_string_equal(json_string_value(json_object_get(t, "listener")), "[::1]:8080");
    assert_string_equal(json_string_value(json_object_get(t, "peer")), "[::1]:12345");
    assert_string_equal(json_string_value(json_object_get(t, "target")), "/b");
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 2);
    json_decref(r);

    /* A listener index the master does not know names nothing. */
    f->ls.n = 1;
    r = ask(f, "{\"cmd\":\"workers\"}");
    t = json_object_get(json_array_get(json_object_get(r, "workers"), 1), "transfer");
    assert_true(json_is_null(json_object_get(t, "protocol")));
    assert_true(json_is_null(json_object_get(t, "listener")));
    json_decref(r);
    /* Stopping: the listeners are closed, and none is reported. */
    f->ls.n = 2;
    f->stub.state = ADMIN_STOPPING;
    r = ask(f, "{\"cmd\":\"status\"}");
    assert_int_equal(json_array_size(json_object_get(r, "listeners")), 0);
    json_decref(r);
    f->stub.state = ADMIN_RUNNING;
}

/* Member k of object o, as a string (NULL if it is not one) or an
 * integer (0 if it is not one). */
static const char *str_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t int_of(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* Record k of slot opens a connection on listener from peer. */
static struct sb_conn *open_conn(struct scoreboard *sb, int slot, uint32_t k, unsigned listener,
                                 const void *peer)
{
    struct sb_conn *r = sb_rec(sb, slot, k);

    sb_conn_begin(&sb->slots[slot], r, k, listener, peer, clock_now_ns());
    return r;
}

/*
 * An event-mode pool: slot 0 (pid 100) holds two connections, record 0
 * from 127.0.0.1:1111 sending /big and record 2 from [::1]:2222 reading
 * (record 1 used and closed); slot 1 (pid 101) one connection from
 * ::ffff:10.0.0.7:3333 kept alive after /x; slot 2 (pid 102) none.
 */
static void event_pool(struct admin_fixture *f)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(1111)};
    struct sockaddr_in6 v6 = {
        .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT, .sin6_port = htons(2222)};
    struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(3333)};
    struct scoreboard *sb = f->sb;
    struct sb_conn *r;

    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    inet_pton(AF_INET6, "::ffff:10.0.0.7", &mapped.sin6_addr);
    two_listeners(&f->ls);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sb_claim(sb, SB_KIND_WORKER), i);
        sb_worker_start(&sb->slots[i], 100 + i);
    }
    r = open_conn(sb, 0, 0, 0, &v4);
    sb_req_answer(&sb->slots[0], r, SB_OUT_OK, "big", 1000, SB_WAITING);
    sb_conn_state(r, SB_SENDING);
    sb_conn_progress(&sb->slots[0], r, 100);
    r = open_conn(sb, 0, 1, 0, &v4);
    sb_conn_end(&sb->slots[0], r, clock_now_ns());
    r = open_conn(sb, 0, 2, 1, &v6);
    sb_conn_received(r, 5);
    sb_set_full(&sb->slots[0], true);
    r = open_conn(sb, 1, 0, 1, &mapped);
    sb_req_answer(&sb->slots[1], r, SB_OUT_OK, "/x", 3, SB_SENDING);
    sb_conn_progress(&sb->slots[1], r, 3);
    sb_req_next(r, SB_KEEPALIVE);
}

/* Asks "connections" with the filters in args ("" for none); returns the
 * list, after checking the answer's shape. The caller decrefs *resp. */
static json_t *connections(struct admin_fixture *f, const char *args, json_t **resp)
{
    char line[256];
    json_t *r, *list;

    snprintf(line, sizeof(line), "{\"cmd\":\"connections\"%s%s}", args[0] ? "," : "", args);
    r = ask(f, line);
    if (!json_is_true(json_object_get(r, "ok")))
        fail_msg("%s: %s", line, json_string_value(json_object_get(r, "error")));
    list = json_object_get(r, "connections");
    assert_true(json_is_array(list));
    /* total: every open connection, filtered or not. */
    assert_true(json_integer_value(json_object_get(r, "total")) >=
                (json_int_t)json_array_size(list));
    *resp = r;
    return list;
}

/* How many connections args lets through. */
static size_t count_of(struct admin_fixture *f, const char *args)
{
    json_t *r, *list = connections(f, args, &r);
    size_t n = json_array_size(list);

    json_decref(r);
    return n;
}

/* The "total" of the answer to args. */
static json_int_t total_of(struct admin_fixture *f, const char *args)
{
    json_t *r;
    json_int_t n;

    connections(f, args, &r);
    n = json_integer_value(json_object_get(r, "total"));
    json_decref(r);
    return n;
}

/* The (slot, id) of each connection args lets through, as "0/0 0/2". */
static char *ids_of(struct admin_fixture *f, const char *args, char *buf, size_t len)
{
    json_t *r, *list = connections(f, args, &r);
    size_t at = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *o = json_array_get(list, i);

        at += (size_t)snprintf(buf + at, len - at, "%s%lld/%lld", i ? " " : "",
                               (long long)int_of(o, "slot"), (long long)int_of(o, "id"));
    }
    json_decref(r);
    return buf;
}

/* connections: one row per open record, with its process, its record
 * number, its state and its transfer. */
static void test_connections(void **state)
{
    struct admin_fixture *f = *state;
    json_t *r, *list, *o;

    event_pool(f);
    list = connections(f, "", &r);
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(int_of(r, "total"), 3);
    o = json_array_get(list, 0);
    assert_int_equal(int_of(o, "slot"), 0);
    assert_int_equal(int_of(o, "pid"), 100);
    assert_int_equal(int_of(o, "id"), 0);
    assert_string_equal(str_of(o, "state"), "sending");
    assert_string_equal(str_of(o, "peer"), "127.0.0.1:1111");
    assert_string_equal(str_of(o, "target"), "big");
    assert_string_equal(str_of(o, "protocol"), "native");
    assert_string_equal(str_of(o, "listener"), "127.0.0.1:4242");
    assert_int_equal(int_of(o, "size"), 1000);
    assert_int_equal(int_of(o, "sent"), 100);
    assert_int_equal(int_of(o, "requests"), 1);
    assert_true(json_is_integer(json_object_get(o, "rate_bps")));
    assert_true(json_is_number(json_object_get(o, "age_s")));
    o = json_array_get(list, 1);
    assert_int_equal(int_of(o, "slot"), 0);
    assert_int_equal(int_of(o, "pid"), 100);
    assert_int_equal(int_of(o, "id"), 2);
    assert_string_equal(str_of(o, "state"), "reading");
    assert_string_equal(str_of(o, "peer"), "[::1]:2222");
    assert_true(json_is_null(json_object_get(o, "target")));
    assert_string_equal(str_of(o, "protocol"), "http");
    assert_int_equal(int_of(o, "received"), 5);
    assert_int_equal(int_of(o, "sent"), 0);
    assert_int_equal(int_of(o, "requests"), 0);
    o = json_array_get(list, 2);
    assert_int_equal(int_of(o, "slot"), 1);
    assert_int_equal(int_of(o, "pid"), 101);
    assert_int_equal(int_of(o, "id"), 0);
    assert_string_equal(str_of(o, "state"), "keepalive");
    assert_string_equal(str_of(o, "peer"), "10.0.0.7:3333"); /* v4-mapped prints as v4 */
    assert_string_equal(str_of(o, "target"), "/x");
    assert_int_equal(int_of(o, "sent"), 3);
    json_decref(r);
}

/* Each filter alone, and together: a connection must pass all. */
static void test_connections_filters(void **state)
{
    static const struct {
        const char *args, *ids;
    } cases[] = {
        {"\"slot\":0", "0/0 0/2"},
        {"\"slot\":1", "1/0"},
        {"\"slot\":2", ""},
        {"\"slot\":7", ""},
        {"\"pid\":101", "1/0"},
        {"\"pid\":100", "0/0 0/2"},
        {"\"pid\":999", ""},
        {"\"peer\":\"127.0.0.1\"", "0/0"},
        {"\"peer\":\"127.0.0.1:1111\"", "0/0"},
        {"\"peer\":\"127.0.0.1:1112\"", ""},
        {"\"peer\":\"127.0.0.2\"", ""},
        {"\"peer\":\"::1\"", "0/2"},
        {"\"peer\":\"[::1]\"", "0/2"},
        {"\"peer\":\"[::1]:2222\"", "0/2"},
        {"\"peer\":\"::1:2222\"", ""},
        {"\"peer\":\"10.0.0.7\"", "1/0"},
        {"\"peer\":\"10.0.0.7:3333\"", "1/0"},
        {"\"state\":\"reading\"", "0/2"},
        {"\"state\":\"sending\"", "0/0"},
        {"\"state\":\"keepalive\"", "1/0"},
        {"\"state\":\"waiting\"", ""},
        {"\"state\":\"closing\"", ""},
        {"\"slot\":0,\"state\":\"sending\"", "0/0"},
        {"\"slot\":0,\"peer\":\"::1\"", "0/2"},
        {"\"slot\":1,\"peer\":\"127.0.0.1\"", ""},
        {"\"pid\":100,\"state\":\"keepalive\"", ""},
        {"\"slot\":1,\"pid\":101,\"peer\":\"10.0.0.7\",\"state\":\"keepalive\"", "1/0"},
    };
    struct admin_fixture *f = *state;
    char ids[64];

    event_pool(f);
    assert_int_equal(count_of(f, ""), 3);
    assert_int_equal(total_of(f, "\"slot\":2"), 3); /* total: the pool's, not the filter's */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(ids_of(f, cases[i].args, ids, sizeof(ids)), cases[i].ids) != 0)
            fail_msg("{%s}: expected \"%s\", got \"%s\"", cases[i].args, cases[i].ids, ids);
    }
    /* The list follows the scoreboard: a closed connection is gone. */
    sb_conn_end(&f->sb->slots[0], sb_rec(f->sb, 0, 0), clock_now_ns());
    assert_string_equal(ids_of(f, "\"slot\":0", ids, sizeof(ids)), "0/2");
}

/* status: the open connections by state and the per-worker limit;
 * workers: each process's connection count, full flag and state (its one
 * connection's when it holds exactly one). */
static void test_status_and_workers_in_event_mode(void **state)
{
    struct admin_fixture *f = *state;
    json_t *r, *c, *w, *o;
    char *text;

    event_pool(f);
    r = ask(f, "{\"cmd\":\"status\"}");
    c = json_object_get(r, "connections");
    text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"closing\":0,\"keepalive\":1,\"open\":3,\"reading\":1,"
                              "\"sending\":1,\"waiting\":0}");
    free(text);
    assert_int_equal(int_of(json_object_get(r, "limits"), "worker_connections"), 4);
    o = json_object_get(r, "pool");
    json_decref(r);
    /* The per-client limits, as configured (0: off). */
    f->cfg.min_rate = 2048;
    f->cfg.max_conn_per_ip = 7;
    f->cfg.keepalive_timeout = 300;
    r = ask(f, "{\"cmd\":\"status\"}");
    o = json_object_get(r, "limits");
    assert_int_equal(int_of(o, "min_rate_bps"), 2048);
    assert_int_equal(int_of(o, "max_conn_per_ip"), 7);
    assert_int_equal(int_of(o, "keepalive_timeout_s"), 300);
    o = json_object_get(r, "pool");
    assert_int_equal(int_of(o, "processes"), 3);
    assert_int_equal(int_of(o, "busy"), 1);
    assert_int_equal(int_of(o, "keepalive"), 1);
    assert_int_equal(int_of(o, "idle"), 1);
    assert_int_equal(int_of(o, "sending"), 0);
    assert_int_equal(int_of(o, "reading"), 0);
    assert_int_equal(int_of(json_object_get(r, "totals"), "connections"), 4);
    json_decref(r);

    r = ask(f, "{\"cmd\":\"workers\"}");
    w = json_object_get(r, "workers");
    assert_int_equal(json_array_size(w), 3);
    o = json_array_get(w, 0);
    assert_int_equal(int_of(o, "pid"), 100);
    assert_int_equal(int_of(o, "connections"), 2);
    assert_string_equal(str_of(o, "state"), "busy");
    assert_true(json_is_true(json_object_get(o, "full")));
    assert_null(json_object_get(o, "transfer")); /* which one? see connections */
    assert_int_equal(int_of(o, "bytes"), 100);
    o = json_array_get(w, 1);
    assert_int_equal(int_of(o, "pid"), 101);
    assert_int_equal(int_of(o, "connections"), 1);
    assert_string_equal(str_of(o, "state"), "keepalive");
    assert_true(json_is_false(json_object_get(o, "full")));
    assert_string_equal(str_of(json_object_get(o, "transfer"), "target"), "/x");
    assert_string_equal(str_of(json_object_get(o, "transfer"), "peer"), "10.0.0.7:3333");
    o = json_array_get(w, 2);
    assert_int_equal(int_of(o, "pid"), 102);
    assert_int_equal(int_of(o, "connections"), 0);
    assert_string_equal(str_of(o, "state"), "idle");
    assert_null(json_object_get(o, "transfer"));
    json_decref(r);

    /* Slot 0's last connection but one closes: it reads as that one. */
    sb_conn_end(&f->sb->slots[0], sb_rec(f->sb, 0, 2), clock_now_ns());
    r = ask(f, "{\"cmd\":\"workers\"}");
    o = json_array_get(json_object_get(r, "workers"), 0);
    assert_int_equal(int_of(o, "connections"), 1);
    assert_string_equal(str_of(o, "state"), "sending");
    assert_string_equal(str_of(json_object_get(o, "transfer"), "target"), "big");
    json_decref(r);
    r = ask(f, "{\"cmd\":\"status\"}");
    c = json_object_get(r, "connections");
    assert_int_equal(int_of(c, "open"), 2);
    assert_int_equal(int_of(c, "reading"), 0);
    assert_int_equal(int_of(json_object_get(r, "pool"), "busy"), 0);
    assert_int_equal(int_of(json_object_get(r, "pool"), "sending"), 1);
    json_decref(r);
}

/* With a hub: status has its object (its process, its figures across
 * restarts, its exits), the pool's counts leave it out, and its workers
 * row says kind hub with its own figures; every other row says worker.
 * Without a hub listener, status has no hub object. */
static void test_hub_in_status_and_workers(void **state)
{
    struct admin_fixture *f = *state;
    struct sb_hub fig = {.online = 2, .posts = 1, .forwards = 1, .rejected = 1};
    int w = sb_claim(f->sb, SB_KIND_WORKER), h = sb_claim(f->sb, SB_KIND_HUB);
    json_t *r, *o, *list;

    sb_worker_start(&f->sb->slots[w], 100);
    sb_worker_start(&f->sb->slots[h], 101);
    sb_hub_publish(&f->sb->hub, &fig);
    r = ask(f, "{\"cmd\":\"status\"}");
    assert_null(json_object_get(r, "hub")); /* no hub listener: none configured */
    json_decref(r);
    f->ls.nhub = 1;
    f->ls.hub_fds[0] = -1;
    r = ask(f, "{\"cmd\":\"status\"}");
    o = json_object_get(r, "hub");
    assert_int_equal(int_of(o, "slot"), h);
    assert_int_equal(int_of(o, "pid"), 101);
    assert_string_equal(str_of(o, "state"), "idle");
    assert_int_equal(int_of(o, "sessions_online"), 2);
    assert_int_equal(int_of(o, "posts"), 1);
    assert_int_equal(int_of(o, "forwards"), 1);
    assert_int_equal(int_of(o, "retransmissions"), 0);
    assert_int_equal(int_of(o, "duplicates"), 0);
    assert_int_equal(int_of(o, "resets_sent"), 0);
    assert_int_equal(int_of(o, "resets_received"), 0);
    assert_int_equal(int_of(o, "rejected"), 1);
    assert_int_equal(int_of(o, "exits"), 0);
    assert_int_equal(int_of(o, "crashes"), 0);
    assert_int_equal(int_of(json_object_get(r, "pool"), "processes"), 1);
    assert_int_equal(int_of(json_object_get(r, "pool"), "idle"), 1);
    json_decref(r);

    r = ask(f, "{\"cmd\":\"workers\"}");
    list = json_object_get(r, "workers");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str_of(json_array_get(list, 0), "kind"), "worker");
    assert_null(json_object_get(json_array_get(list, 0), "hub"));
    o = json_array_get(list, 1);
    assert_string_equal(str_of(o, "kind"), "hub");
    assert_int_equal(int_of(o, "pid"), 101);
    assert_int_equal(int_of(json_object_get(o, "hub"), "sessions_online"), 2);
    assert_int_equal(int_of(json_object_get(o, "hub"), "rejected"), 1);
    json_decref(r);

    /* Reaped (crashed): no process, its counters kept, no sessions, and
     * the pool's exits untouched. */
    sb_release(f->sb, h, SB_EXIT_CRASH);
    r = ask(f, "{\"cmd\":\"status\"}");
    o = json_object_get(r, "hub");
    assert_true(json_is_null(json_object_get(o, "pid")));
    assert_true(json_is_null(json_object_get(o, "slot")));
    assert_int_equal(int_of(o, "sessions_online"), 0);
    assert_int_equal(int_of(o, "posts"), 1);
    assert_int_equal(int_of(o, "exits"), 1);
    assert_int_equal(int_of(o, "crashes"), 1);
    assert_int_equal(int_of(json_object_get(r, "totals"), "worker_exits"), 0);
    assert_int_equal(int_of(json_object_get(r, "totals"), "crashes"), 0);
    json_decref(r);
}

static void test_default_path(void **state)
{
    char buf[108];

    (void)state;
    assert_int_equal(admin_default_path(buf, sizeof(buf), 12345), 0);
    assert_non_null(strstr(buf, "ferryd-"));
    assert_non_null(strstr(buf, "12345.sock"));
    assert_int_equal(admin_default_path(buf, 8, 12345), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ADMIN_FIXTURE_TEST(test_error_paths),
        ADMIN_FIXTURE_TEST(test_valid_requests_reach_the_pool),
        ADMIN_FIXTURE_TEST(test_shutdown_while_stopping),
        ADMIN_FIXTURE_TEST(test_figures_by_listener),
        ADMIN_FIXTURE_TEST(test_connections),
        ADMIN_FIXTURE_TEST(test_connections_filters),
        ADMIN_FIXTURE_TEST(test_status_and_workers_in_event_mode),
        ADMIN_FIXTURE_TEST(test_hub_in_status_and_workers),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
