/*
 * lottery: the lottery service (docs/SERVICES.md) as a connection handler
 * (conn.h), and its state machine as pure functions for the tests.
 *
 * Each connection draws its own six distinct numbers of 1-45. The client
 * sends commands, 4-byte big-endian unsigned integers, several per write
 * if it likes: 0 GEN draws the next number ("New number generated: N", or
 * "Full" once six are drawn), 1 LIST answers "numbers: a b c d e f" in
 * draw order with 0 for those not drawn yet, 2 END closes the session.
 * Answers are one line each, ending in "\n". The little-endian encodings
 * of 1 and 2 (01 00 00 00, 02 00 00 00: no valid big-endian command) are
 * taken as LIST and END, so that a client writing its native int on x86
 * works unmodified. Anything else: "error: unknown command N", and the
 * session goes on. A command arriving in pieces waits for the rest.
 */
#ifndef FERRY_LOTTERY_H
#define FERRY_LOTTERY_H

#include "worker/conn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOTTERY_PICKS    6
#define LOTTERY_HIGHEST  45
#define LOTTERY_CMD_LEN  4
#define LOTTERY_LINE_MAX 48 /* the longest answer: "error: unknown command 4294967295\n" */

enum lottery_cmd { LOTTERY_GEN = 0, LOTTERY_LIST = 1, LOTTERY_END = 2, LOTTERY_UNKNOWN };

/* One session's draw, in draw order. */
struct lottery {
    uint8_t drawn[LOTTERY_PICKS];
    unsigned n;
};

/* A source of uniformly random 32-bit values: 0 or -errno. */
typedef int (*lottery_rand_fn)(uint32_t *out);

extern const struct conn_handler lottery_handler;

/* Decodes the 4 bytes of a command into *value (big-endian) and what it
 * means. */
enum lottery_cmd lottery_command(const uint8_t b[LOTTERY_CMD_LEN], uint32_t *value);

/* Maps r, uniform over 2^32 values, onto [0, n) without bias: false when
 * r lies in the incomplete last span of n values and must be drawn
 * again (a bare r % n would favour the low numbers). */
bool lottery_uniform(uint32_t r, uint32_t n, uint32_t *out);

/* Draws the next number, uniformly among those not drawn yet. Returns it
 * (1..45), 0 when six are drawn, or -errno from rnd. */
int lottery_draw(struct lottery *l, lottery_rand_fn rnd);

/* Runs one command: writes its answer line into buf (at least
 * LOTTERY_LINE_MAX bytes). Returns the line's length, 0 for END (no
 * answer: the session ends), or -errno from rnd. */
int lottery_reply(struct lottery *l, const uint8_t cmd[LOTTERY_CMD_LEN], lottery_rand_fn rnd,
                  char *buf);

#endif
