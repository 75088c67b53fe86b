/*
 * services: `ferry echo`, `ferry upcase` and `ferry daytime`, clients of
 * ferryd's small TCP services (docs/SERVICES.md). echo and upcase send
 * bytes and check every byte that comes back before printing it; daytime
 * prints the one line it is sent. (`ferry lottery` is lottery.c.)
 */
#ifndef FERRY_CLIENT_SERVICES_H
#define FERRY_CLIENT_SERVICES_H

#include "contrib/client/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Sends TEXT, the nwords words joined by single spaces and followed by
 * "\n", or the whole of stdin when nwords is 0, to the echo service of o
 * (the upcase service when upcase), and writes to stdout what comes back.
 * Each byte is checked against the byte sent (upper-cased for upcase)
 * before it is written, so stdout only ever holds a prefix of the expected
 * answer. stdin is read while the echo is read, so input of any size
 * flows; its end half-closes the connection. Unless o->quiet, one line on
 * stderr at the end: the bytes and the round-trip time (TEXT) or the time
 * taken (stdin). Returns EX_OK, or an exit code with e set: EX_CONNECT;
 * EX_TRANSFER when the server closes or resets before echoing everything,
 * is silent for o->timeout_ms, or sends a byte not the one expected;
 * EX_LOCAL when reading stdin or writing stdout fails.
 */
int services_echo(const struct client_opts *o, bool upcase, const char *const *words, int nwords,
                  struct client_err *e);

/*
 * Reads what the daytime service of o sends until it closes, and prints
 * it on stdout: the carriage return before each newline dropped, other
 * control bytes as \xNN, a newline at the end. Returns EX_OK, or an exit
 * code with e set: EX_CONNECT; EX_TRANSFER for no answer, a reset, a
 * timeout or an answer longer than any time line.
 */
int services_daytime(const struct client_opts *o, struct client_err *e);

/* Writes timeout_ms for a message, "30 s" or "500 ms", into buf; returns
 * buf. */
char *services_span(uint64_t timeout_ms, char *buf, size_t len);

/* What a failed recv() or send() means, for a message: "timed out" for
 * EAGAIN (the socket's timeout), else strerror(err). */
const char *services_strerror(int err);

#endif
