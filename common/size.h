/*
 * size: byte counts for humans, both ways ("10M" <-> 10485760).
 */
#ifndef FERRY_SIZE_H
#define FERRY_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a decimal byte count with an optional K, M, G or T suffix (powers
 * of 1024, case-insensitive, an optional trailing 'B' or 'iB'). Returns 0,
 * or -EINVAL for anything else and -ERANGE when it exceeds 2^64-1.
 */
int size_parse(const char *s, uint64_t *out);

/* Writes n as "512 B", "4.0 KiB", "1.2 GiB"... into buf; returns buf. */
char *size_format(uint64_t n, char *buf, size_t len);

#endif
