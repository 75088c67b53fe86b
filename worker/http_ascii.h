/*
 * http_ascii: the byte helpers the HTTP modules share.
 *
 * HTTP's case-insensitive parts (field names, methods aside, tokens,
 * schemes, range units) are ASCII-only (RFC 9110 §5.1), so these never
 * consult the locale the way tolower() and strncasecmp() may.
 */
#ifndef FERRY_HTTP_ASCII_H
#define FERRY_HTTP_ASCII_H

#include <stdbool.h>
#include <stddef.h>

/* Returns c in lower case when it is an ASCII capital, else c. */
static inline unsigned char http_ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* Returns whether c is an ASCII digit. */
static inline bool http_ascii_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Returns whether c is SP or HT (OWS, RFC 9110 §5.6.3). */
static inline bool http_ascii_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Returns whether a (n bytes) equals the lower-case b (n bytes) ignoring ASCII case. */
static inline bool http_ascii_ci_equal(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (http_ascii_lower((unsigned char)a[i]) != (unsigned char)b[i])
            return false;
    return true;
}

#endif
