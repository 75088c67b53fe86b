/*
 * fmt: ferryctl's human output, from the admin socket's JSON answers:
 * aligned tables and sizes and rates in human units, like ps and top,
 * fitted to a width. Every printer takes the width in display columns;
 * FMT_WIDE (0) means no limit: full width, nothing cut. Within a width no
 * line is longer: tables drop their least useful columns and cut long
 * cells (targets, peers, addresses) in the middle with an ellipsis,
 * keeping an extension or a port whole; a number is never cut (its
 * column goes instead); reports and events wrap onto indented
 * continuation lines.
 */
#ifndef FERRY_FMT_H
#define FERRY_FMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A width meaning "no limit": a pipe, or --wide. */
#define FMT_WIDE 0u

/* Writes "1h02m", "3m05s" or "12.3s" for a number of seconds into buf. */
char *fmt_duration(double s, char *buf, size_t len);

/* Writes "1.2 GiB/s" for a rate in bytes per second into buf. */
char *fmt_rate(double bps, char *buf, size_t len);

/* Returns the display width of the UTF-8 string s: its code points (wide
 * East Asian characters count as one). */
size_t fmt_cols(const char *s);

/* Returns the ellipsis that marks a cut: "…" when LC_CTYPE is UTF-8
 * (setlocale() decides), else "..." so that a C-locale terminal shows no
 * mojibake. */
const char *fmt_ellipsis(void);

/* What a cut keeps whole at the end of a cell. */
enum fmt_keep {
    FMT_KEEP_NONE, /* nothing in particular: the middle goes */
    FMT_KEEP_PORT, /* an address's port: "10.0.…:4242", "[2001:db8…:1]:443" */
    FMT_KEEP_EXT,  /* a file name's extension: "debian-12…VD-1.iso" */
};

/* Writes s into buf cut to at most cols display columns: the middle
 * replaced by the ellipsis, the start and the end kept. Returns buf. */
char *fmt_cut(const char *s, size_t cols, char *buf, size_t len);

/* Returns the display width of the end of s that a cut of kind keep keeps
 * whole: the port after the last ':' (from the ']' of "[::1]:443"), the
 * extension after the last '.' of the last path component (8 columns at
 * most, not a dot file's), else 0. */
size_t fmt_keep_cols(const char *s, enum fmt_keep keep);

/* Returns the narrowest that s can be cut to and stay recognisable: 8
 * columns, or 4 before the ellipsis and the end that keep names; s's own
 * width when that is less. */
size_t fmt_cut_min(const char *s, enum fmt_keep keep);

/* As fmt_cut(), with the end that keep names whole whenever cols leaves
 * room for it and a column before the ellipsis (fmt_cut_min() always
 * does). Returns buf. */
char *fmt_cut_keep(const char *s, size_t cols, enum fmt_keep keep, char *buf, size_t len);

/* Prints s cut to cols columns as fmt_cut_keep() cuts it, keeping its
 * end as keep says, however long s is. */
void fmt_put_cut(FILE *out, const char *s, size_t cols, enum fmt_keep keep);

/* Prints line and a newline, its end replaced by the ellipsis if it is
 * wider than width (FMT_WIDE: never): the last resort, for a width
 * narrower than a table's last column (a few columns). */
void fmt_put_line(FILE *out, const char *line, unsigned width);

/* Replaces the control characters in s, which came from the server, with
 * '?' (printed raw they would move the cursor or recolour the terminal).
 * Returns s. */
char *fmt_clean(char *s);

/* Prints a status answer as a short report (with the open connections by
 * state when the answer has them), then a table of the listeners (or a
 * line saying they are closed). */
void fmt_status(FILE *out, json_t *resp, unsigned width);

/* Prints a workers answer as a table, one row per process: how many
 * connections it holds ("3", "1024 full" at its limit), and the one
 * connection (protocol, listener, peer, target) and transfer when it
 * holds exactly one. */
void fmt_workers(FILE *out, json_t *resp, unsigned width);

/* A number of rows meaning "every one". */
#define FMT_ALL SIZE_MAX

/* Prints a connections answer as a table, one row per connection in the
 * answer's order (its process, state, peer, target, progress, rate, age
 * and idle time), then "N connections shown of M open". */
void fmt_connections(FILE *out, json_t *resp, unsigned width);

/* As fmt_connections(), for top: the busiest first (the fastest, then the
 * oldest), at most max rows (FMT_ALL: every one), so that the total line
 * says how many were left out. */
void fmt_connections_top(FILE *out, json_t *resp, unsigned width, size_t max);

/* Prints one event as "TIME event key=value ..." (or nothing for the
 * subscribe answer itself). */
void fmt_event(FILE *out, json_t *ev, unsigned width);

/* Prints a resize answer (one short line, whatever the width). */
void fmt_resize(FILE *out, json_t *resp, unsigned width);

/* Prints a shutdown answer (one short line, whatever the width). */
void fmt_shutdown(FILE *out, json_t *resp, unsigned width);

#endif
