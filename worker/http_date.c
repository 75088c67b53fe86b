/*
 * http_date: HTTP-date formatting and parsing. See http_date.h.
 *
 * Days from 1970-01-01 to a civil date and back use Howard Hinnant's
 * algorithms (http://howardhinnant.github.io/date_algorithms.html): exact
 * for every Gregorian date, no tables, no loops over years.
 *
 * Parsing is strict where being wrong costs nothing: a date that does not
 * parse makes If-Modified-Since or If-Range not apply (RFC 9110 §13.1.3,
 * §13.1.5), and the client gets the full response. So a wrong day name,
 * "gmt", "Feb 30" or a leap second (time_t cannot hold one) are -EINVAL.
 */
#include "worker/http_date.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char *const hd_days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const hd_days_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};
static const char *const hd_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Returns the days from 1970-01-01 to y-m-d. */
static int64_t hd_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Sets y-m-d to the date days after 1970-01-01. */
static void hd_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Returns the day of the week (0 Sunday) of the day days after 1970-01-01, a Thursday. */
static unsigned hd_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

/* Splits t into whole days since the epoch and seconds into the day. */
static int64_t hd_split(time_t t, int64_t *secs)
{
    int64_t days = (int64_t)t / 86400;

    *secs = (int64_t)t % 86400;
    if (*secs < 0) {
        *secs += 86400;
        days--;
    }
    return days;
}

/* Writes v as width decimal digits. */
static void hd_put(char *p, unsigned v, unsigned width)
{
    while (width-- > 0) {
        p[width] = (char)('0' + v % 10);
        v /= 10;
    }
}

int http_date_format(time_t t, char out[HTTP_DATE_SIZE])
{
    int64_t secs, days = hd_split(t, &secs), y;
    unsigned m, d;

    hd_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        out[0] = '\0';
        return -ERANGE;
    }
    memcpy(out, "Sun, 00 Jan 0000 00:00:00 GMT", HTTP_DATE_SIZE);
    memcpy(out, hd_days[hd_weekday(days)], 3);
    hd_put(out + 5, d, 2);
    memcpy(out + 8, hd_months[m - 1], 3);
    hd_put(out + 12, (unsigned)y, 4);
    hd_put(out + 17, (unsigned)(secs / 3600), 2);
    hd_put(out + 20, (unsigned)(secs / 60 % 60), 2);
    hd_put(out + 23, (unsigned)(secs % 60), 2);
    return 0;
}

/* ---- Parsing: a cursor that stops at the first mismatch ---- */

struct hd_scan {
    const char *s;
    size_t len;
    size_t pos;
    bool ok;
};

/* Expects the literal lit. */
static void hd_lit(struct hd_scan *c, const char *lit)
{
    size_t n = strlen(lit);

    if (c->ok && c->len - c->pos >= n && memcmp(c->s + c->pos, lit, n) == 0)
        c->pos += n;
    else
        c->ok = false;
}

/* Expects n digits; returns their value. */
static unsigned hd_num(struct hd_scan *c, size_t n)
{
    unsigned v = 0;

    for (size_t i = 0; i < n && c->ok; i++) {
        unsigned char ch = c->pos < c->len ? (unsigned char)c->s[c->pos] : 0;
        if (ch < '0' || ch > '9')
            c->ok = false;
        else
            v = v * 10 + (ch - '0'), c->pos++;
    }
    return v;
}

/* Expects one of the count names; returns its index. */
static unsigned hd_name(struct hd_scan *c, const char *const *names, unsigned count)
{
    for (unsigned i = 0; i < count && c->ok; i++) {
        size_t n = strlen(names[i]);
        if (c->len - c->pos >= n && memcmp(c->s + c->pos, names[i], n) == 0) {
            c->pos += n;
            return i;
        }
    }
    c->ok = false;
    return 0;
}

/* A date's parts, as read. */
struct hd_parts {
    int64_t year;
    unsigned month; /* 1-12 */
    unsigned day, hour, min, sec, wday;
};

/* "08:49:37" */
static void hd_time(struct hd_scan *c, struct hd_parts *p)
{
    p->hour = hd_num(c, 2);
    hd_lit(c, ":");
    p->min = hd_num(c, 2);
    hd_lit(c, ":");
    p->sec = hd_num(c, 2);
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static void hd_imf(struct hd_scan *c, struct hd_parts *p)
{
    p->wday = hd_name(c, hd_days, 7);
    hd_lit(c, ", ");
    p->day = hd_num(c, 2);
    hd_lit(c, " ");
    p->month = hd_name(c, hd_months, 12) + 1;
    hd_lit(c, " ");
    p->year = hd_num(c, 4);
    hd_lit(c, " ");
    hd_time(c, p);
    hd_lit(c, " GMT");
}

/* "Sunday, 06-Nov-94 08:49:37 GMT"; the year is fixed up later. */
static void hd_rfc850(struct hd_scan *c, struct hd_parts *p)
{
    p->wday = hd_name(c, hd_days_long, 7);
    hd_lit(c, ", ");
    p->day = hd_num(c, 2);
    hd_lit(c, "-");
    p->month = hd_name(c, hd_months, 12) + 1;
    hd_lit(c, "-");
    p->year = hd_num(c, 2);
    hd_lit(c, " ");
    hd_time(c, p);
    hd_lit(c, " GMT");
}

/* "Sun Nov  6 08:49:37 1994" or "Sun Nov 06 08:49:37 1994" */
static void hd_asctime(struct hd_scan *c, struct hd_parts *p)
{
    p->wday = hd_name(c, hd_days, 7);
    hd_lit(c, " ");
    p->month = hd_name(c, hd_months, 12) + 1;
    hd_lit(c, " ");
    if (c->ok && c->pos < c->len && c->s[c->pos] == ' ') {
        c->pos++;
        p->day = hd_num(c, 1);
    } else {
        p->day = hd_num(c, 2);
    }
    hd_lit(c, " ");
    hd_time(c, p);
    hd_lit(c, " ");
    p->year = hd_num(c, 4);
}

/* RFC 9110 §5.6.7: a two-digit year more than 50 years after now is in the past. */
static int64_t hd_full_year(unsigned yy, time_t now)
{
    int64_t secs, y;
    unsigned m, d;
    int64_t year;

    hd_civil_from_days(hd_split(now, &secs), &y, &m, &d);
    year = y - (y % 100 + 100) % 100 + yy;
    if (year > y + 50)
        year -= 100;
    else if (year + 100 <= y + 50)
        year += 100;
    return year;
}

static bool hd_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Checks the parts and turns them into *out. */
static int hd_make(const struct hd_parts *p, time_t *out)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned last = mdays[p->month - 1] + (p->month == 2 && hd_leap(p->year));
    int64_t days, t;

    if (p->day < 1 || p->day > last || p->hour > 23 || p->min > 59 || p->sec > 59)
        return -EINVAL;
    days = hd_days_from_civil(p->year, p->month, p->day);
    if (hd_weekday(days) != p->wday)
        return -EINVAL;
    t = days * 86400 + p->hour * 3600 + p->min * 60 + p->sec;
    if ((int64_t)(time_t)t != t)
        return -EINVAL;
    *out = (time_t)t;
    return 0;
}

int http_date_parse(const char *s, size_t len, time_t now, time_t *out)
{
    struct hd_scan c = {s, len, 0, true};
    struct hd_parts p = {0};
    bool rfc850 = len > 3 && s[3] != ',' && s[3] != ' ';

    if (len > 3 && s[3] == ',')
        hd_imf(&c, &p);
    else if (rfc850)
        hd_rfc850(&c, &p);
    else
        hd_asctime(&c, &p);
    if (!c.ok || c.pos != len)
        return -EINVAL;
    if (rfc850)
        p.year = hd_full_year((unsigned)p.year, now);
    return hd_make(&p, out);
}
