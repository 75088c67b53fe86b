/* Unit tests for master/metrics: the exposition of a known snapshot. */
#include "master/metrics.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *render(const struct scoreboard *sb, const struct config *cfg)
{
    struct snap_history h;
    struct snapshot s;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_int_equal(snap_init(&s, sb->nslots), 0);
    assert_int_equal(snap_history_init(&h, sb->nslots), 0);
    assert_int_equal(snap_take(sb, &s), 0);
    metrics_render(out, &s, &h, cfg);
    fclose(out);
    snap_history_free(&h);
    snap_free(&s);
    return text;
}

static void test_exposition(void **state)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};
    struct config cfg = {.max_children = 8};
    struct scoreboard *sb = sb_create(8);
    int a = sb_claim(sb), b = sb_claim(sb);
    char *t;

    (void)state;
    sb->pool.target = 2;
    sb_worker_start(&sb->slots[a], 100);
    sb_worker_start(&sb->slots[b], 101);
    sb_conn_begin(&sb->slots[a], (struct sockaddr *)&peer);
    sb_conn_answer(&sb->slots[a], WIRE_OK, "f", 1000);
    sb_set_state(&sb->slots[a], SB_SENDING);
    sb_conn_progress(&sb->slots[a], 300);
    sb_conn_begin(&sb->slots[b], (struct sockaddr *)&peer);
    sb_conn_answer(&sb->slots[b], WIRE_NOT_FOUND, NULL, 0);
    sb_set_state(&sb->slots[b], SB_IDLE);
    t = render(sb, &cfg);
    assert_non_null(
        strstr(t, "# TYPE ferry_connections_total counter\nferry_connections_total 2\n"));
    assert_non_null(strstr(t, "ferry_responses_total{status=\"OK\"} 1\n"));
    assert_non_null(strstr(t, "ferry_responses_total{status=\"NOT_FOUND\"} 1\n"));
    assert_non_null(strstr(t, "ferry_responses_total{status=\"SERVER_ERROR\"} 0\n"));
    assert_non_null(strstr(t, "ferry_sent_bytes_total 300\n"));
    assert_non_null(strstr(t, "ferry_workers{state=\"sending\"} 1\n"));
    assert_non_null(strstr(t, "ferry_workers{state=\"idle\"} 1\n"));
    assert_non_null(strstr(t, "ferry_workers_target 2\n"));
    assert_non_null(strstr(t, "ferry_max_children 8\n"));
    assert_non_null(strstr(t, "ferry_worker_transfer_size_bytes{slot=\"0\",pid=\"100\"} 1000\n"));
    assert_non_null(strstr(t, "ferry_worker_transfer_sent_bytes{slot=\"0\",pid=\"100\"} 300\n"));
    assert_non_null(strstr(t, "ferry_worker_transfer_size_bytes{slot=\"1\",pid=\"101\"} 0\n"));
    assert_non_null(strstr(t, "ferry_requests_per_second{window=\"60s\"} 0\n"));
    /* Every sample's family was declared before it, with HELP and TYPE. */
    for (char *line = t; *line; line = strchr(line, '\n') + 1) {
        char name[128], decl[160];
        size_t n = strcspn(line, "{ ");

        if (line[0] == '#')
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)n, line);
        snprintf(decl, sizeof(decl), "# TYPE %s ", name);
        assert_non_null(strstr(t, decl));
        snprintf(decl, sizeof(decl), "# HELP %s ", name);
        assert_true(strstr(t, decl) < line);
    }
    free(t);
    sb_destroy(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exposition)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
