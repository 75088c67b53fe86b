/*
 * size: byte counts for humans, both ways ("10M" <-> 10485760).
 */
#ifndef FERRY_SIZE_H
#define FERRY_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a decimal byte count (digits only: no sign, space or fraction)
 * with an optional unit, letters in any case:
 *   nothing or B          bytes
 *   K, M, G, T            binary: 1024, 1024^2, 1024^3, 1024^4 (as ls -h, dd)
 *   KiB, MiB, GiB, TiB    binary too (IEC names)
 *   KB, MB, GB, TB        decimal: 1000, 1000^2, 1000^3, 1000^4 (SI)
 * so "64K" = "64kib" = 65536 and "64KB" = "64kB" = 64000. Returns 0 with
 * *out set, -EINVAL for anything else (*out untouched), or -ERANGE when
 * the value exceeds 2^64-1.
 */
int size_parse(const char *s, uint64_t *out);

/* Writes n as "512 B", "4.0 KiB", "1.2 GiB"... into buf; returns buf. */
char *size_format(uint64_t n, char *buf, size_t len);

#endif
