/*
 * fmt: ferryctl's human output, from the admin socket's JSON answers:
 * aligned tables and sizes and rates in human units, like ps and top.
 */
#ifndef FERRY_FMT_H
#define FERRY_FMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes "1h02m", "3m05s" or "12.3s" for a number of seconds into buf. */
char *fmt_duration(double s, char *buf, size_t len);

/* Writes "1.2 GiB/s" for a rate in bytes per second into buf. */
char *fmt_rate(double bps, char *buf, size_t len);

/* Prints a status answer. */
void fmt_status(FILE *out, json_t *resp);

/* Prints a workers answer as a table, one row per process. */
void fmt_workers(FILE *out, json_t *resp);

/* Prints one event as "TIME event key=value ..." (or nothing for the
 * subscribe answer itself). */
void fmt_event(FILE *out, json_t *ev);

/* Prints a resize answer. */
void fmt_resize(FILE *out, json_t *resp);

/* Prints a shutdown answer. */
void fmt_shutdown(FILE *out, json_t *resp);

#endif
