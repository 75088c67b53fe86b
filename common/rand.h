/*
 * rand: random bytes from the kernel (getrandom), for tokens, nonces,
 * lottery draws and temporary names. No buffering across calls: a forked
 * child must never reuse bytes its parent held.
 */
#ifndef FERRY_RAND_H
#define FERRY_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Fills the n bytes at p. 0, or -errno (-EIO for a short read). */
int rand_bytes(void *p, size_t n);

/* One uniformly random 32-bit value. 0 or -errno. */
int rand_u32(uint32_t *out);

#endif
