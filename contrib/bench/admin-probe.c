/*
 * ferry-admin-probe: how fast the admin socket answers.
 *
 *   ferry-admin-probe SOCKET SECONDS [INTERVAL_MS]
 *
 * Sends {"cmd":"status"} on one connection every INTERVAL_MS (default 10)
 * for SECONDS, timing each answer from the write to its last byte, and
 * prints "RESULT n=... p50_ms=... p99_ms=... max_ms=... errors=...".
 * Run it beside a load (contrib/bench/run.sh does) to see whether the
 * master still answers while every worker is busy.
 */
#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX 100000

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* One status round trip. Returns its time in ns, or -1. */
static int64_t probe_once(int fd)
{
    static const char req[] = "{\"cmd\":\"status\"}\n";
    char buf[65536];
    int64_t t0 = clock_now_ns();

    if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n <= 0)
            return -1;
        if (memchr(buf, '\n', (size_t)n) != NULL) /* one answer line per request */
            return clock_now_ns() - t0;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int64_t *lat, end;
    long interval = argc > 3 ? atol(argv[3]) : 10, n = 0, errors = 0;
    int fd;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: ferry-admin-probe SOCKET SECONDS [INTERVAL_MS]\n"
               "Asks ferryd's admin socket for status every INTERVAL_MS [10] for SECONDS\n"
               "and prints the round trips' percentiles.\n");
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("ferry-admin-probe %s\n", FERRY_VERSION);
        return 0;
    }
    if (argc < 3 || strlen(argv[1]) >= sizeof(sun.sun_path) || interval < 0) {
        fprintf(stderr,
                "ferry-admin-probe: %s\nusage: ferry-admin-probe SOCKET SECONDS "
                "[INTERVAL_MS]\n",
                argc < 3       ? "expected SOCKET SECONDS"
                : interval < 0 ? "a negative interval"
                               : "socket path too long");
        return 2;
    }
    strcpy(sun.sun_path, argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    lat = malloc(PROBE_MAX * sizeof(*lat));
    if (fd < 0 || lat == NULL || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        fprintf(stderr, "ferry-admin-probe: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    end = clock_now_ns() + (int64_t)(atof(argv[2]) * 1e9);
    while (clock_now_ns() < end && n < PROBE_MAX) {
        struct timespec pause = {.tv_nsec = interval * 1000000};
        int64_t ns = probe_once(fd);

        if (ns < 0) {
            errors++;
            break;
        }
        lat[n++] = ns;
        nanosleep(&pause, NULL);
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    printf("RESULT n=%ld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%ld\n", n,
           n ? (double)lat[n / 2] / 1e6 : 0, n ? (double)lat[(n * 99) / 100] / 1e6 : 0,
           n ? (double)lat[n - 1] / 1e6 : 0, errors);
    free(lat);
    close(fd);
    return errors > 0 || n == 0;
}
