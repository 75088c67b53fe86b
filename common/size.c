/*
 * size: parsing and printing of byte counts. See size.h.
 */
#include "common/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>

static int size_shift(const char *suffix, unsigned *shift)
{
    static const char units[] = "KMGT";

    *shift = 0;
    if (*suffix == '\0' || strcasecmp(suffix, "B") == 0)
        return 0;
    for (unsigned i = 0; units[i] != '\0'; i++) {
        if (toupper((unsigned char)suffix[0]) != units[i])
            continue;
        if (suffix[1] == '\0' || strcasecmp(suffix + 1, "B") == 0 ||
            strcasecmp(suffix + 1, "iB") == 0) {
            *shift = 10 * (i + 1);
            return 0;
        }
    }
    return -EINVAL;
}

int size_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    if (size_shift(p, &shift) < 0)
        return -EINVAL;
    if (shift > 0 && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = v << shift;
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
