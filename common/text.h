/*
 * text: appending to a fixed buffer without printf.
 *
 * For the one line formatted on every connection's path (the worker's
 * per-connection log line) and the log prefix: printf's machinery costs
 * thousands of instructions per line (measured with callgrind,
 * docs/BENCHMARKS.md), these a few each. The buffer always holds a
 * NUL-terminated string; what does not fit is cut off silently.
 */
#ifndef FERRY_TEXT_H
#define FERRY_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct text {
    char *buf;
    size_t cap; /* bytes at buf, the NUL included; at least 1 */
    size_t len; /* bytes written, never more than cap - 1 */
};

/* Starts an empty text in buf (cap bytes, cap >= 1). */
void text_init(struct text *t, char *buf, size_t cap);

/* Appends n bytes of s. */
void text_mem(struct text *t, const void *s, size_t n);

/* Appends the string s. */
void text_str(struct text *t, const char *s);

/* Appends v in decimal. */
void text_u64(struct text *t, uint64_t v);

/* Appends v / 1000 with three decimals: 12345 -> "12.345". */
void text_milli(struct text *t, uint64_t v);

/* Appends v in decimal, zero-padded to width digits (at most 20). */
void text_u64_pad(struct text *t, uint64_t v, unsigned width);

#endif
