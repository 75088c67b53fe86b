/*
 * http_date: HTTP-date (RFC 9110 §5.6.7), without strftime, strptime,
 * timegm or the locale.
 *
 * Pure: the clock is never read; the one rule that needs the current time
 * (RFC 850's two-digit years) takes it as an argument. Dates are in the
 * proleptic Gregorian calendar, UTC, without leap seconds, years 0000-9999.
 */
#ifndef FERRY_HTTP_DATE_H
#define FERRY_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN  29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_DATE_SIZE 30 /* with the NUL */

/*
 * Writes t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") to out,
 * NUL-terminated. Returns 0, or -ERANGE when t's year is outside 0-9999
 * (out is then "").
 */
int http_date_format(time_t t, char out[HTTP_DATE_SIZE]);

/*
 * Reads an HTTP-date in any of the three formats a recipient must accept:
 * IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT", its year taken
 * as the one nearest now that is at most 50 years after it) and asctime
 * ("Sun Nov  6 08:49:37 1994"). Returns 0 with *out set, or -EINVAL when s
 * (len bytes) is none of them exactly: names are case-sensitive ("GMT"
 * included), no extra whitespace, a real calendar date, second 00-59, and
 * the day name must be the date's.
 */
int http_date_parse(const char *s, size_t len, time_t now, time_t *out);

#endif
