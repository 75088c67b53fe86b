/*
 * progress: terminal progress bar and summary line. See progress.h.
 *
 * The bar must never wrap: a wrapped line cannot be redrawn with '\r' and
 * leaves a trail of half-lines. So every redraw asks the terminal for its
 * width (an ioctl ten times a second costs nothing, and needs no SIGWINCH
 * handler, which a process without a controlling terminal would not get
 * anyway), leaves the last column free (writing there makes some
 * terminals wrap early) and drops parts, least useful first, until the
 * line fits.
 */
#include "contrib/client/progress.h"

#include "common/clock.h"
#include "common/size.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROG_REDRAW_NS 100000000LL
#define PROG_BAR_MIN   10 /* a shorter bar says nothing the percentage does not */
#define PROG_BAR_MAX   40
#define PROG_COLS_DEF  80
#define PROG_LINE_MAX  512

/* The parts of the bar line, in display order. */
enum prog_part { PART_PCT, PART_BAR, PART_DONE, PART_TOTAL, PART_RATE, PART_TIME, PART_COUNT };

/* What goes when the line is too wide, first to last. Before any of it,
 * the bar shrinks from PROG_BAR_MAX to PROG_BAR_MIN cells. */
static const enum prog_part prog_drop_order[] = {PART_TIME,  PART_RATE, PART_BAR,
                                                 PART_TOTAL, PART_DONE, PART_PCT};

#define PROG_NDROP (sizeof(prog_drop_order) / sizeof(prog_drop_order[0]))

/* A bar is drawn and its line not ended: set by prog_draw(), cleared by
 * prog_finish(), read by a signal handler. */
static volatile sig_atomic_t prog_open;

bool prog_line_open(void)
{
    return prog_open != 0;
}

enum prog_mode prog_mode_for_stderr(bool quiet, bool report)
{
    if (quiet)
        return PROG_OFF;
    if (!isatty(STDERR_FILENO))
        return PROG_SUMMARY;
    return report ? PROG_REPORT : PROG_BAR;
}

/* The terminal's width: the tty's, else $COLUMNS, else 80. */
static int prog_columns(void)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");
    char *end;
    long n;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (env != NULL) {
        n = strtol(env, &end, 10);
        if (end != env && *end == '\0' && n > 0 && n <= 65535)
            return (int)n;
    }
    return PROG_COLS_DEF;
}

/* Writes secs as "1:05" or "1:02:05" into buf; "--:--" past 10^6 hours
 * (a stalled rate), before the conversion could overflow. */
static void prog_clock(double secs, char *buf, size_t len)
{
    unsigned long s = secs < 3.6e9 ? (unsigned long)secs : 0;

    if (s == 0 && secs >= 3.6e9)
        snprintf(buf, len, "--:--");
    else if (s >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
}

/* Fills the text of every part but the bar, each with its leading space. */
static void prog_parts(const struct progress *pg, uint64_t done, unsigned pct, double secs,
                       bool final, char parts[PART_COUNT][64])
{
    double rate = secs > 0 && done > pg->base ? (double)(done - pg->base) / secs : 0;
    char a[24], b[24];

    snprintf(parts[PART_PCT], 64, "%3u%%", pct);
    parts[PART_BAR][0] = '\0';
    snprintf(parts[PART_DONE], 64, " %s", size_format(done, a, sizeof(a)));
    snprintf(parts[PART_TOTAL], 64, " / %s", size_format(pg->total, a, sizeof(a)));
    snprintf(parts[PART_RATE], 64, "  %s/s", size_format((uint64_t)rate, a, sizeof(a)));
    if (final && secs < 60) {
        snprintf(parts[PART_TIME], 64, "  in %.2f s", secs);
    } else if (final) {
        prog_clock(secs, b, sizeof(b));
        snprintf(parts[PART_TIME], 64, "  in %s", b);
    } else if (rate > 0 && done < pg->total) {
        prog_clock((double)(pg->total - done) / rate, b, sizeof(b));
        snprintf(parts[PART_TIME], 64, "  ETA %s", b);
    } else {
        snprintf(parts[PART_TIME], 64, "  ETA --:--");
    }
}

/* Draws a bar of cells cells, pct full, into buf (cells + 4 bytes). */
static void prog_bar(char *buf, int cells, unsigned pct)
{
    int fill = (int)(pct > 100 ? 100 : pct) * cells / 100;

    memcpy(buf, " [", 2);
    memset(buf + 2, '#', (size_t)fill);
    memset(buf + 2 + fill, ' ', (size_t)(cells - fill));
    memcpy(buf + 2 + cells, "]", 2);
}

/* Keeps the parts that fit in width columns, dropping them in
 * prog_drop_order; sizes the bar. Returns the bar's cells (0: none). */
static int prog_fit(char parts[PART_COUNT][64], int width, bool keep[PART_COUNT])
{
    int used = 0, cells;

    for (int i = 0; i < PART_COUNT; i++) {
        keep[i] = true;
        used += (int)strlen(parts[i]); /* the bar's text is still empty */
    }
    for (size_t d = 0; d <= PROG_NDROP; d++) {
        if (!keep[PART_BAR] && used <= width)
            return 0;
        cells = width - used - 3; /* " [" and "]" */
        if (keep[PART_BAR] && cells >= PROG_BAR_MIN)
            return cells > PROG_BAR_MAX ? PROG_BAR_MAX : cells;
        if (d < PROG_NDROP) {
            keep[prog_drop_order[d]] = false;
            used -= (int)strlen(parts[prog_drop_order[d]]);
        }
    }
    return 0; /* not reached: with nothing kept, 0 <= width */
}

/* Lays the parts out in at most width columns; returns the line's length. */
static size_t prog_layout(char parts[PART_COUNT][64], unsigned pct, int width, char *line)
{
    bool keep[PART_COUNT];
    int cells = prog_fit(parts, width, keep);
    size_t n = 0;

    if (cells > 0)
        prog_bar(parts[PART_BAR], cells, pct);
    for (int i = 0; i < PART_COUNT; i++) {
        if (keep[i]) {
            memcpy(line + n, parts[i], strlen(parts[i]));
            n += strlen(parts[i]);
        }
    }
    return n;
}

static void prog_draw(struct progress *pg, uint64_t done, int64_t now, bool final)
{
    double secs = (double)(now - pg->start_ns) / 1e9;
    unsigned pct = pg->total ? (unsigned)((double)done * 100 / (double)pg->total) : 100;
    char parts[PART_COUNT][64], line[PROG_LINE_MAX];
    size_t n;

    prog_parts(pg, done, pct, secs, final, parts);
    line[0] = '\r';
    n = 1 + prog_layout(parts, pct, prog_columns() - 1, line + 1);
    /* One write per redraw (stderr is unbuffered): never half a line. */
    memcpy(line + n, "\033[K", 3);
    fwrite(line, 1, n + 3, stderr);
    prog_open = 1;
    pg->drawn_ns = now;
}

void prog_start(struct progress *pg, enum prog_mode mode, const char *label, uint64_t total,
                uint64_t base)
{
    pg->mode = mode;
    pg->label = label;
    pg->total = total;
    pg->base = base;
    pg->start_ns = clock_now_ns();
    pg->drawn_ns = 0;
}

void prog_update(struct progress *pg, uint64_t done)
{
    int64_t now;

    if (pg->mode != PROG_BAR && pg->mode != PROG_REPORT)
        return;
    now = clock_now_ns();
    if (now - pg->drawn_ns >= PROG_REDRAW_NS)
        prog_draw(pg, done, now, false);
}

/* "ferry: NAME: 1.0 MiB in 0.12 s (8.3 MiB/s)", for logs and pipes; a
 * resume adds ", resumed at 2.0 MiB" (the figures are what arrived). */
static void prog_summary(const struct progress *pg, uint64_t done, int64_t now)
{
    double secs = (double)(now - pg->start_ns) / 1e9;
    uint64_t got = done > pg->base ? done - pg->base : 0;
    char a[24], rate[24], resumed[48] = "";

    if (pg->base > 0)
        snprintf(resumed, sizeof(resumed), ", resumed at %s", size_format(pg->base, a, sizeof(a)));
    if (secs > 0)
        fprintf(stderr, "ferry: %s: %s in %.2f s (%s/s)%s\n", pg->label,
                size_format(got, a, sizeof(a)), secs,
                size_format((uint64_t)((double)got / secs), rate, sizeof(rate)), resumed);
    else
        fprintf(stderr, "ferry: %s: %s%s\n", pg->label, size_format(got, a, sizeof(a)), resumed);
}

void prog_finish(struct progress *pg, uint64_t done, bool ok)
{
    int64_t now = clock_now_ns();

    if (pg->mode == PROG_BAR) {
        prog_draw(pg, done, now, ok);
        fputc('\n', stderr);
        prog_open = 0;
        return;
    }
    if (pg->mode == PROG_REPORT && pg->drawn_ns != 0)
        fputs("\r\033[K", stderr); /* the line is the summary's, or the error's */
    prog_open = 0;
    if ((pg->mode == PROG_SUMMARY || pg->mode == PROG_REPORT) && ok)
        prog_summary(pg, done, now);
}
