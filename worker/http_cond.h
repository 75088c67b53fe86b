/*
 * http_cond: validators and conditional requests (RFC 9110 §8.8, §13).
 *
 * Pure: the caller passes the file's size and modification time and the
 * current time. A file's ETag is strong and made of its mtime (seconds and
 * nanoseconds) and size, so it changes whenever either does; the handler
 * sends it and Last-Modified with every 200, 206 and 304.
 *
 * Not evaluated: If-Match and If-Unmodified-Since (the parser does not keep
 * them; a read-only server has no lost update to prevent).
 */
#ifndef FERRY_HTTP_COND_H
#define FERRY_HTTP_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "worker/http_parse.h"

/* The longest ETag, quotes and NUL included: 3 hex numbers and 4 separators. */
#define HTTP_ETAG_SIZE (1 + 16 + 1 + 8 + 1 + 16 + 1 + 1)

/* What http_cond_eval() says to send. */
enum http_cond_result {
    HTTP_COND_SEND_FULL = 0, /* 200 with the whole file (any Range is ignored) */
    HTTP_COND_SEND_RANGE_OK, /* GET with a Range that may be honoured: http_range_parse() */
    HTTP_COND_NOT_MODIFIED,  /* 304 */
};

/*
 * Writes the strong ETag of a file of size bytes modified at mtime_sec +
 * mtime_nsec ns (from stat's st_mtim) to out, NUL-terminated, as
 * "\"<hex sec>.<hex nsec>-<hex size>\"". Returns its length.
 */
size_t http_etag_format(char out[HTTP_ETAG_SIZE], uint64_t size, int64_t mtime_sec,
                        long mtime_nsec);

/*
 * Returns whether an If-None-Match value (len bytes) matches etag
 * (etag_len bytes, with its quotes): "*", or a list holding an entity-tag
 * that is equal by weak comparison (RFC 9110 §8.8.3.2: a "W/" on either
 * side does not matter). A malformed value matches nothing.
 */
bool http_cond_none_match(const char *v, size_t len, const char *etag, size_t etag_len);

/*
 * Returns whether an If-Range value (len bytes) lets a Range apply (RFC
 * 9110 §13.1.5): an entity-tag equal to etag by strong comparison (neither
 * weak), or an HTTP-date equal to mtime that is a strong validator, that is
 * earlier than now (§8.8.2.2). Anything else, malformed included: false.
 */
bool http_cond_if_range(const char *v, size_t len, const char *etag, size_t etag_len, time_t mtime,
                        time_t now);

/*
 * Evaluates the preconditions of req (its spans index buf) against the file
 * whose ETag is etag (etag_len bytes) and whose modification time is mtime,
 * in the order of RFC 9110 §13.2.2: If-None-Match, else If-Modified-Since
 * (ignored when unparsable or later than now), then If-Range for a Range.
 * Returns HTTP_COND_NOT_MODIFIED (GET and HEAD only), HTTP_COND_SEND_RANGE_OK
 * (GET with Range, and If-Range absent or true), else HTTP_COND_SEND_FULL.
 * A method other than GET and HEAD gets HTTP_COND_SEND_FULL.
 */
enum http_cond_result http_cond_eval(const struct http_request *req, const char *buf,
                                     const char *etag, size_t etag_len, time_t mtime, time_t now);

#endif
