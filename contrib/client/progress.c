/*
 * progress: terminal progress bar. See progress.h.
 */
#include "contrib/client/progress.h"

#include "common/clock.h"
#include "common/size.h"

#include <stdio.h>

#define PROG_REDRAW_NS 100000000LL
#define PROG_WIDTH     24

static void prog_draw(struct progress *pg, uint64_t done, int64_t now)
{
    double secs = (double)(now - pg->start_ns) / 1e9;
    double rate = secs > 0 ? (double)done / secs : 0;
    unsigned pct = pg->total ? (unsigned)((double)done * 100 / (double)pg->total) : 100;
    char bar[PROG_WIDTH + 1], got[24], all[24], speed[24], eta[32] = "--:--";

    for (int i = 0; i < PROG_WIDTH; i++)
        bar[i] = i < (int)(pct * PROG_WIDTH / 100) ? '#' : ' ';
    bar[PROG_WIDTH] = '\0';
    if (rate > 0 && done < pg->total) {
        unsigned long left = (unsigned long)((double)(pg->total - done) / rate);
        snprintf(eta, sizeof(eta), "%lu:%02lu", left / 60, left % 60);
    }
    fprintf(stderr, "\r%3u%% [%s] %s / %s  %s/s  ETA %s \033[K", pct, bar,
            size_format(done, got, sizeof(got)), size_format(pg->total, all, sizeof(all)),
            size_format((uint64_t)rate, speed, sizeof(speed)), eta);
    pg->drawn_ns = now;
}

void prog_start(struct progress *pg, bool enabled, uint64_t total)
{
    pg->enabled = enabled;
    pg->total = total;
    pg->start_ns = clock_now_ns();
    pg->drawn_ns = 0;
}

void prog_update(struct progress *pg, uint64_t done)
{
    int64_t now;

    if (!pg->enabled)
        return;
    now = clock_now_ns();
    if (now - pg->drawn_ns >= PROG_REDRAW_NS)
        prog_draw(pg, done, now);
}

void prog_finish(struct progress *pg, uint64_t done)
{
    if (!pg->enabled)
        return;
    prog_draw(pg, done, clock_now_ns());
    fputc('\n', stderr);
}
