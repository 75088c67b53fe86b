/*
 * fmt: ferryctl's human output, from the admin socket's JSON answers:
 * aligned tables and sizes and rates in human units, like ps and top,
 * fitted to a width. Every printer takes the width in display columns;
 * FMT_WIDE (0) means no limit: full width, nothing cut. Within a width no
 * line is longer: tables drop their least useful columns and cut long
 * cells (targets, peers, addresses) in the middle with an ellipsis;
 * reports and events wrap onto indented continuation lines.
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

/* Writes s into buf cut to at most cols display columns: the middle
 * replaced by the ellipsis, so a file's extension and a peer's port stay.
 * Returns buf. */
char *fmt_cut(const char *s, size_t cols, char *buf, size_t len);

/* Prints a status answer as a short report, then a table of the listeners
 * (or a line saying they are closed). */
void fmt_status(FILE *out, json_t *resp, unsigned width);

/* Prints a workers answer as a table, one row per process: its connection
 * (protocol, listener, peer, target) and transfer when it has one. */
void fmt_workers(FILE *out, json_t *resp, unsigned width);

/* Prints one event as "TIME event key=value ..." (or nothing for the
 * subscribe answer itself). */
void fmt_event(FILE *out, json_t *ev, unsigned width);

/* Prints a resize answer (one short line, whatever the width). */
void fmt_resize(FILE *out, json_t *resp, unsigned width);

/* Prints a shutdown answer (one short line, whatever the width). */
void fmt_shutdown(FILE *out, json_t *resp, unsigned width);

#endif
