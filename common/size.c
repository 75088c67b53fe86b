/*
 * size: parsing and printing of byte counts. See size.h.
 */
#include "common/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>

/* The units, matched case-insensitively. A bare letter is binary because
 * that is what ls -h, dd and most admins mean by "64K"; only the explicit
 * SI spelling ("KB") is decimal. */
static const struct {
    const char *suffix;
    uint64_t factor;
} size_units[] = {
    {"", 1},
    {"B", 1},
    {"K", 1ULL << 10},
    {"KiB", 1ULL << 10},
    {"KB", 1000ULL},
    {"M", 1ULL << 20},
    {"MiB", 1ULL << 20},
    {"MB", 1000000ULL},
    {"G", 1ULL << 30},
    {"GiB", 1ULL << 30},
    {"GB", 1000000000ULL},
    {"T", 1ULL << 40},
    {"TiB", 1ULL << 40},
    {"TB", 1000000000000ULL},
};

/* Returns the factor for a unit suffix, or 0 when it is not one. */
static uint64_t size_factor(const char *suffix)
{
    for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++)
        if (strcasecmp(suffix, size_units[i].suffix) == 0)
            return size_units[i].factor;
    return 0;
}

int size_parse(const char *s, uint64_t *out)
{
    const char *end = s;
    uint64_t v = 0, factor;

    while (isdigit((unsigned char)*end))
        end++;
    /* The form first: a bad unit is -EINVAL even on an overlong number. */
    factor = size_factor(end);
    if (end == s || factor == 0)
        return -EINVAL;
    for (const char *p = s; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (v > UINT64_MAX / factor)
        return -ERANGE;
    *out = v * factor;
    return 0;
}

char *size_format(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)n;
    int u = -1;

    if (n < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)n);
        return buf;
    }
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}
