/*
 * duration: parsing of time spans. See duration.h.
 *
 * Units are case-sensitive on purpose: "m" is minutes and "M" could be
 * read as months or mega, so only the lower-case spellings are taken.
 */
#include "common/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define DUR_FRAC_DIGITS 9 /* enough for the millisecond in a day; more are ignored */

/* Longest first, so that "ms" is not read as "m" then "s". */
static const struct {
    const char *unit;
    uint64_t ms;
} dur_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
};

/* Reads a unit at *p. Returns its length in milliseconds, 0 if none. */
static uint64_t dur_unit(const char **p)
{
    for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
        size_t n = strlen(dur_units[i].unit);

        if (strncmp(*p, dur_units[i].unit, n) == 0) {
            *p += n;
            return dur_units[i].ms;
        }
    }
    return 0;
}

/* A number read from the text: integer part and up to nine decimals. */
struct dur_number {
    uint64_t whole;
    uint64_t frac, scale; /* the fraction is frac / scale */
    bool overflow;        /* whole exceeds 64 bits */
};

/* Reads digits[.digits] at *p. Returns 0 or -EINVAL (not a number). */
static int dur_number(const char **p, struct dur_number *n)
{
    const char *s = *p;

    n->whole = 0;
    n->frac = 0;
    n->scale = 1;
    n->overflow = false;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n->whole > (UINT64_MAX - d) / 10)
            n->overflow = true;
        n->whole = n->whole * 10 + d;
    }
    if (*s == '.') {
        if (!isdigit((unsigned char)*++s))
            return -EINVAL;
        for (int i = 0; isdigit((unsigned char)*s); s++, i++) {
            if (i >= DUR_FRAC_DIGITS)
                continue;
            n->frac = n->frac * 10 + (unsigned)(*s - '0');
            n->scale *= 10;
        }
    }
    *p = s;
    return 0;
}

/* Adds n units of unit_ms to *total. Returns 0 or -ERANGE. */
static int dur_add(uint64_t *total, const struct dur_number *n, uint64_t unit_ms)
{
    /* frac < 10^9 and unit_ms <= 8.64e7: the product fits in 64 bits. */
    uint64_t part = n->frac * unit_ms / n->scale;

    if (n->overflow || n->whole > (UINT64_MAX - part) / unit_ms)
        return -ERANGE;
    part += n->whole * unit_ms;
    if (*total > UINT64_MAX - part)
        return -ERANGE;
    *total += part;
    return 0;
}

int dur_parse(const char *s, uint64_t *ms)
{
    struct dur_number n;
    uint64_t total = 0, unit;
    const char *p = s, *start;
    int range = 0;

    do {
        start = p;
        if (dur_number(&p, &n) < 0)
            return -EINVAL;
        unit = dur_unit(&p);
        /* A number without a unit is seconds, but only on its own. */
        if (unit == 0 && (start != s || *p != '\0'))
            return -EINVAL;
        /* Read on after an overflow: a malformed text is -EINVAL first. */
        if (range == 0)
            range = dur_add(&total, &n, unit ? unit : 1000);
    } while (*p != '\0');
    if (range != 0)
        return range;
    *ms = total;
    return 0;
}

int dur_parse_s(const char *s, uint64_t *secs)
{
    uint64_t ms;
    int rc = dur_parse(s, &ms);

    if (rc < 0)
        return rc;
    if (ms % 1000 != 0)
        return -EINVAL;
    *secs = ms / 1000;
    return 0;
}
