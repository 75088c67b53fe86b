/*
 * http_range: the Range request field (RFC 9110 §14.1-14.4) against a file
 * of a known size, and the Content-Range that answers it.
 *
 * Pure: no I/O, no allocation. ferry serves one range with 206; a request
 * for several satisfiable ranges gets the whole file with 200 (RFC 9110
 * §14.2 lets a server ignore Range), which spares multipart/byteranges and
 * the many-small-ranges amplification it invites. Numbers of any length
 * are read exactly: one over 2^64-1 is larger than any file, so as a first
 * position it is unsatisfiable and as a last position or suffix length it
 * reaches the end of the file, as RFC 9110 §14.1.1 reads them.
 */
#ifndef FERRY_HTTP_RANGE_H
#define FERRY_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum http_range_result {
    HTTP_RANGE_OK = 0,        /* one range: answer 206 with *r */
    HTTP_RANGE_MULTI,         /* several satisfiable ranges: answer 200, whole file */
    HTTP_RANGE_UNSATISFIABLE, /* answer 416, http_range_content_range(out, NULL, size) */
    HTTP_RANGE_IGNORE,        /* invalid or not in bytes: answer 200, whole file */
};

/* A range of bytes, both ends included. */
struct http_range {
    uint64_t first;
    uint64_t last;
};

/*
 * Reads the Range field value v (len bytes, without surrounding whitespace)
 * against a file of size bytes. Returns HTTP_RANGE_OK with *r set (last
 * clamped to size - 1; a suffix "-n" is the last n bytes or the whole
 * file), HTTP_RANGE_MULTI, HTTP_RANGE_UNSATISFIABLE (no range overlaps the
 * file: "a-" with a >= size, "-0", any int-range on an empty file), or
 * HTTP_RANGE_IGNORE (the unit is not "bytes", case-insensitive, or the value
 * is not a valid range-set, "5-3" included; also a suffix range on an empty
 * file, which RFC 9110 calls satisfiable but no byte range can express).
 * Unsatisfiable ranges among satisfiable ones are dropped (RFC 9110 §14.1.1).
 */
enum http_range_result http_range_parse(const char *v, size_t len, uint64_t size,
                                        struct http_range *r);

/* Returns the bytes in r. */
uint64_t http_range_length(const struct http_range *r);

/* The longest Content-Range value, NUL included: "bytes " + 3 numbers. */
#define HTTP_CONTENT_RANGE_SIZE (6 + 20 + 1 + 20 + 1 + 20 + 1)

/*
 * Writes the Content-Range value for r ("bytes 0-99/1000") to out,
 * NUL-terminated, or when r is NULL the one a 416 carries: "bytes ", an
 * asterisk, a slash and the size. Returns its length.
 */
size_t http_range_content_range(char out[HTTP_CONTENT_RANGE_SIZE], const struct http_range *r,
                                uint64_t size);

#endif
