/*
 * http_mime: the Content-Type of a file, from its name's extension.
 *
 * One table (http_mime.c) serves the lookup, the tests and the docs. Text
 * types carry "; charset=utf-8"; a name without a known extension is
 * application/octet-stream, which browsers download rather than render.
 */
#ifndef FERRY_HTTP_MIME_H
#define FERRY_HTTP_MIME_H

#include <stddef.h>

/* The type of a name with no extension ferry knows. */
#define HTTP_MIME_DEFAULT "application/octet-stream"

/*
 * Returns the Content-Type for the file name or path name (len bytes): the
 * extension after the last '.' of the last component, compared without
 * case ("a.tar.gz" is gzip). A name whose only dot starts it (".bashrc")
 * has no extension. Never NULL; the string is static.
 */
const char *http_mime_type(const char *name, size_t len);

/* Returns the n-th table entry's extension and sets *type, or NULL past the end. */
const char *http_mime_entry(size_t n, const char **type);

#endif
