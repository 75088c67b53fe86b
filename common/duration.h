/*
 * duration: time spans for humans ("30", "500ms", "1m30s" -> milliseconds),
 * for command-line options such as ferry's -t.
 */
#ifndef FERRY_DURATION_H
#define FERRY_DURATION_H

#include <stdint.h>

/*
 * Parses a duration into milliseconds. A bare number is seconds ("30");
 * otherwise one or more number-unit pairs, no spaces ("500ms", "1m30s",
 * "1h", "2d"), units lower case: ms, s, m (minutes), h, d (24 h). A number
 * is digits with an optional fraction ("1.5s", "0.25h"); the result is
 * rounded down to the millisecond. Zero is valid here: callers that need
 * a positive span check for it. Returns 0 with *ms set; -EINVAL for
 * anything else (a sign, a space, an unknown unit, an empty string), *ms
 * untouched; -ERANGE when the total exceeds 2^64-1 ms.
 */
int dur_parse(const char *s, uint64_t *ms);

/* As dur_parse(), for a whole number of seconds ("30", "30s", "5m"; not
 * "1500ms"): 0 with *secs set, or -EINVAL / -ERANGE. */
int dur_parse_s(const char *s, uint64_t *secs);

#endif
