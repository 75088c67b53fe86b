/* Unit tests for ferryctl's argument parsing and table formatting. */
#include "admin/ctl.h"
#include "admin/fmt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int parse(struct ctl_args *a, char *err, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;

    argv[argc++] = "ferryctl";
    va_start(ap, err);
    for (char *s; (s = va_arg(ap, char *)) != NULL;)
        argv[argc++] = s;
    va_end(ap);
    argv[argc] = NULL;
    return ctl_parse(argc, argv, a, err, 256);
}

static void test_parse_commands(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "status", NULL), 0);
    assert_string_equal(a.cmd->name, "status");
    assert_string_equal(json_string_value(json_object_get(a.req, "cmd")), "status");
    assert_false(a.json);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "-s", "/x.sock", "--json", "workers", NULL), 0);
    assert_string_equal(a.socket, "/x.sock");
    assert_true(a.json);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "--help", NULL), 1);
}

static void test_parse_shutdown(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "shutdown", "--now", "--timeout", "5", NULL), 0);
    assert_true(json_is_false(json_object_get(a.req, "graceful")));
    assert_int_equal(json_integer_value(json_object_get(a.req, "timeout_s")), 5);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "shutdown", NULL), 0);
    assert_null(json_object_get(a.req, "graceful"));
    json_decref(a.req);
    /* Options after the command word belong to the command, not ferryctl. */
    assert_int_equal(parse(&a, err, "shutdown", "--json", NULL), -1);
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", "soon", NULL), -1);
    assert_non_null(strstr(err, "--timeout wants seconds"));
    assert_int_equal(parse(&a, err, "shutdown", "--timeout", "-1", NULL), -1);
    assert_int_equal(parse(&a, err, "shutdown", "extra", NULL), -1);
}

static void test_parse_resize(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    /* "-2" after the command word is a size, not an option. */
    assert_int_equal(parse(&a, err, "resize", "-2", NULL), 0);
    assert_string_equal(json_string_value(json_object_get(a.req, "workers")), "-2");
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "--json", "resize", "+3", "--no-wait", NULL), 0);
    assert_true(a.json);
    assert_string_equal(json_string_value(json_object_get(a.req, "workers")), "+3");
    assert_true(json_is_false(json_object_get(a.req, "wait")));
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", "5", "--drain-timeout", "7", NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(a.req, "workers")), 5);
    assert_int_equal(json_integer_value(json_object_get(a.req, "drain_timeout_s")), 7);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "resize", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "0", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "two", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "2", "--drain-timeout", "x", NULL), -1);
    assert_int_equal(parse(&a, err, "resize", "2", "3", NULL), -1);
}

static void test_parse_top(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, "top", NULL), 0);
    assert_true(a.cmd->live);
    assert_null(json_object_get(a.req, "interval"));
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "top", "--interval", "0.5", "--iterations", "3", NULL), 0);
    assert_float_equal(json_real_value(json_object_get(a.req, "interval")), 0.5, 1e-9);
    assert_float_equal(json_real_value(json_object_get(a.req, "iterations")), 3, 1e-9);
    json_decref(a.req);
    assert_int_equal(parse(&a, err, "top", "--interval", "0", NULL), -1);
    assert_int_equal(parse(&a, err, "top", "--iterations", "1.5", NULL), -1);
    assert_int_equal(parse(&a, err, "top", "now", NULL), -1);
    assert_int_equal(parse(&a, err, "events", NULL), 0);
    assert_string_equal(json_string_value(json_object_get(a.req, "cmd")), "subscribe");
    json_decref(a.req);
}

static void test_parse_errors(void **state)
{
    struct ctl_args a;
    char err[256];

    (void)state;
    assert_int_equal(parse(&a, err, NULL), -1);
    assert_string_equal(err, "no command given");
    assert_int_equal(parse(&a, err, "frobnicate", NULL), -1);
    assert_string_equal(err, "unknown command 'frobnicate'");
    assert_int_equal(parse(&a, err, "--bogus", "status", NULL), -1);
    assert_int_equal(parse(&a, err, "-s", NULL), -1);
    assert_int_equal(parse(&a, err, "status", "now", NULL), -1);
    assert_string_equal(err, "status takes no arguments");
}

static void test_units(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(fmt_duration(12.34, buf, sizeof(buf)), "12.3s");
    assert_string_equal(fmt_duration(185, buf, sizeof(buf)), "3m05s");
    assert_string_equal(fmt_duration(3720, buf, sizeof(buf)), "1h02m");
    assert_string_equal(fmt_duration(90000, buf, sizeof(buf)), "1d01h");
    assert_string_equal(fmt_rate(1.5 * 1024 * 1024, buf, sizeof(buf)), "1.5 MiB/s");
    assert_string_equal(fmt_rate(0, buf, sizeof(buf)), "0 B/s");
}

/* Renders fn's output for a JSON answer into a string. */
static char *render(void (*fn)(FILE *, json_t *), const char *json)
{
    json_t *r = json_loads(json, 0, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(r);
    fn(out, r);
    fclose(out);
    json_decref(r);
    return text;
}

static void test_workers_table(void **state)
{
    char *t = render(fmt_workers,
                     "{\"ok\":true,\"workers\":[{\"slot\":0,\"pid\":42,\"generation\":3,"
                     "\"state\":\"sending\",\"age_s\":65,\"requests\":7,\"bytes\":2048,"
                     "\"transfer\":{\"peer\":\"127.0.0.1:5\",\"file\":\"big.iso\",\"size\":400,"
                     "\"sent\":100,\"rate_bps\":2048,\"avg_rate_bps\":1,\"idle_ms\":0}},"
                     "{\"slot\":1,\"pid\":43,\"generation\":1,\"state\":\"idle\",\"age_s\":1,"
                     "\"requests\":0,\"bytes\":0}]}");
    char *second = strchr(t, '\n') + 1, *third = strchr(second, '\n') + 1;

    (void)state;
    assert_true(strncmp(t, "SLOT", 4) == 0 || strncmp(t + 1, "SLOT", 4) == 0);
    assert_non_null(strstr(second, "   0      42    3 sending     1m05s"));
    assert_non_null(strstr(second, "big.iso"));
    assert_non_null(strstr(second, " 25% 100 B/400 B"));
    assert_non_null(strstr(second, "2.0 KiB/s"));
    assert_non_null(strstr(third, "idle"));
    /* The columns line up: every row as long as the header up to RATE. */
    assert_int_equal(strstr(t, "RATE") - t, strstr(second, "2.0 KiB/s") - second);
    free(t);
}

static void test_status_text(void **state)
{
    char *t = render(fmt_status,
                     "{\"ok\":true,\"version\":\"0.1.0\",\"pid\":9,\"mode\":\"fork\",\"state\":"
                     "\"running\",\"uptime_s\":3700,\"listeners\":[\"127.0.0.1:1\"],\"limits\":"
                     "{\"workers\":4,\"max_children\":64,\"io_timeout_s\":30,"
                     "\"shutdown_timeout_s\":30,\"chunk_size\":65536},\"pool\":{\"processes\":3,"
                     "\"idle\":0,\"sending\":3},\"totals\":{\"connections\":10,\"requests\":9,"
                     "\"bytes\":1048576,\"status\":{\"OK\":8,\"NOT_FOUND\":1,\"INVALID_NAME\":0},"
                     "\"worker_exits\":7,\"crashes\":0,\"respawns\":0},\"throughput\":{\"1s\":"
                     "{\"requests_per_s\":5,\"bytes_per_s\":1024}},\"saturation\":"
                     "{\"listen_queue\":2,\"listen_backlog\":511,\"at_limit_count\":4,"
                     "\"last_at_limit\":\"2026-11-21T14:00:00Z\"}}");

    (void)state;
    assert_non_null(strstr(t, "ferryd 0.1.0  pid 9  fork  running  up 1h01m\n"));
    assert_non_null(strstr(t, "3 processes: 3 sending\n"));
    assert_non_null(strstr(t, "1.0 MiB sent"));
    assert_non_null(strstr(t, "statuses    OK 8 NOT_FOUND 1\n"));
    assert_non_null(strstr(t, "1s: 5 req/s 1.0 KiB/s"));
    assert_non_null(strstr(t, "listen queue 2/511  at limit 4 times (last 2026-11-21T14:00:00Z)"));
    free(t);
}

static void test_event_line(void **state)
{
    char *t = render(fmt_event, "{\"event\":\"worker_exited\",\"schema\":1,\"time\":"
                                "\"2026-11-21T14:00:00Z\",\"slot\":3,\"pid\":42,\"signal\":null,"
                                "\"crashed\":false,\"cause\":\"SIGTERM\"}");

    (void)state;
    assert_string_equal(t, "2026-11-21T14:00:00Z worker_exited slot=3 pid=42 signal=null "
                           "crashed=false cause=\"SIGTERM\"\n");
    free(t);
    t = render(fmt_event, "{\"ok\":true,\"schema\":1,\"subscribed\":true}");
    assert_string_equal(t, ""); /* the subscribe answer prints nothing */
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_commands), cmocka_unit_test(test_parse_shutdown),
        cmocka_unit_test(test_parse_errors),   cmocka_unit_test(test_units),
        cmocka_unit_test(test_parse_resize),   cmocka_unit_test(test_event_line),
        cmocka_unit_test(test_parse_top),      cmocka_unit_test(test_workers_table),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
