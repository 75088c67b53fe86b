/*
 * http_target: from a request's path to a name under the served root, and
 * back from a name to text for an href, a Location or an HTML page.
 *
 * Pure: no I/O, no allocation. http_target_decode() percent-decodes the path
 * once, then splits it into segments: empty and "." segments disappear, a
 * ".." segment is refused (never resolved, not even when it would stay under
 * the root), so what comes out is a relative path that cannot leave the root
 * whatever openat() makes of it. A "%2F" decodes to a '/' that separates
 * segments like any other: "/..%2f" is refused, not a file named "../".
 */
#ifndef FERRY_HTTP_TARGET_H
#define FERRY_HTTP_TARGET_H

#include <stdbool.h>
#include <stddef.h>

/* What http_target_decode() found beside the path. */
struct http_path {
    size_t len;  /* the decoded path's bytes, NUL excluded; 0 for the root */
    bool is_dir; /* the path ended in '/' or "/." (RFC 3986 §5.2.4), or is the root */
};

/*
 * Decodes the path of a target (the part before '?': "/a/b%20c/", or ""
 * for the root) into out, cap bytes, as a NUL-terminated relative path
 * ("a/b c", "" for the root) without empty, "." or ".." segments. Returns
 * 0; -EINVAL (answer 400) when path does not start with '/', holds an
 * invalid escape ("%zz", "%4"), decodes to a byte under 0x20 or 0x7F (NUL
 * included), or has a ".." segment; -ENAMETOOLONG (answer 414) when the
 * result and its NUL do not fit in cap bytes. out is "" after an error.
 */
int http_target_decode(const char *path, size_t len, char *out, size_t cap, struct http_path *res);

/*
 * Writes s (len bytes) to out (cap bytes) NUL-terminated, with & < > " '
 * escaped for HTML text and attribute values, and sets *out_len. Returns 0,
 * or -ENOSPC when it does not fit (out is then "").
 */
int http_target_escape_html(const char *s, size_t len, char *out, size_t cap, size_t *out_len);

/*
 * Writes s (len bytes) to out (cap bytes) NUL-terminated, percent-encoded
 * for a URI path (RFC 3986): unreserved bytes and '/' stay, every other
 * byte becomes %XX; sets *out_len. Returns 0, or -ENOSPC when it does not
 * fit (out is then "").
 */
int http_target_encode(const char *s, size_t len, char *out, size_t cap, size_t *out_len);

#endif
