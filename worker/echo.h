/*
 * echo: the echo (RFC 862) and upcase services as connection handlers
 * (conn.h): every byte the client sends comes back (upcase: ASCII letters
 * upper-cased, every other byte as it was) until the client closes, at
 * most --echo-max-bytes per connection: exactly that many are echoed, and
 * one more ends the connection after them.
 *
 * Memory is bounded whatever the client does: while an answer waits to
 * be sent nothing more is read, so a client that writes without reading
 * fills its own socket buffers and then waits; --io-timeout and --min-rate
 * end it.
 */
#ifndef FERRY_ECHO_H
#define FERRY_ECHO_H

#include "worker/conn.h"

#include <stddef.h>
#include <stdint.h>

extern const struct conn_handler echo_handler;
extern const struct conn_handler upcase_handler;

/* Copies n bytes from src to dst, ASCII a-z upper-cased. */
void echo_upcase(uint8_t *dst, const uint8_t *src, size_t n);

#endif
