/*
 * fmt: ferryctl's human output, from the admin socket's JSON answers:
 * aligned tables and sizes and rates in human units, like ps and top,
 * fitted to a width. Every printer takes the width in display columns;
 * CUT_WIDE (0) means no limit: full width, nothing cut. Within a width no
 * line is longer: tables drop their least useful columns and cut long
 * cells (targets, peers, addresses) in the middle with an ellipsis,
 * keeping an extension or a port whole; a number is never cut (its
 * column goes instead); reports and events wrap onto indented
 * continuation lines.
 */
#ifndef FERRY_FMT_H
#define FERRY_FMT_H

#include "admin/cut.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes "1h02m", "3m05s" or "12.3s" for a number of seconds into buf. */
char *fmt_duration(double s, char *buf, size_t len);

/* Writes "1.2 GiB/s" for a rate in bytes per second into buf. */
char *fmt_rate(double bps, char *buf, size_t len);

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
