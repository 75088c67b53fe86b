/*
 * daytime: the daytime service (RFC 867) as a connection handler
 * (conn.h): one line, the server's local time as ctime() writes it,
 * "Tue Nov 24 12:38:05 2026\r\n", then close. What the client sends is
 * not read (a FIN follows the line, and stray bytes are drained).
 */
#ifndef FERRY_DAYTIME_H
#define FERRY_DAYTIME_H

#include "worker/conn.h"

#include <stddef.h>
#include <time.h>

#define DAYTIME_LINE_MAX 64

extern const struct conn_handler daytime_handler;

/* Writes the line for when (local time) into buf (cap bytes, NUL
 * included). Returns its length without the NUL, 0 when it does not fit. */
size_t daytime_format(char *buf, size_t cap, time_t when);

#endif
