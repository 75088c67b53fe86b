/*
 * http_mime: extension to Content-Type. See http_mime.h.
 *
 * Types are the IANA-registered ones where one exists (text/javascript per
 * RFC 9239, application/zstd per RFC 8878, image/vnd.microsoft.icon), the
 * de facto ones otherwise (application/x-xz, application/x-tar). Every
 * text type names its charset (RFC 6657 defaults some to US-ASCII);
 * application/json has no charset parameter (RFC 8259 §11: always UTF-8)
 * and application/xml takes its encoding from the document. A ".gz" file
 * is served as application/gzip, never with Content-Encoding, so that a
 * browser saves the archive rather than unpacking it.
 */
#include "worker/http_mime.h"

#include <string.h>

#include "worker/http_ascii.h"

#define UTF8 "; charset=utf-8"

static const struct {
    const char *ext; /* lower case */
    const char *type;
} http_mime_table[] = {
    {"html", "text/html" UTF8},
    {"htm", "text/html" UTF8},
    {"css", "text/css" UTF8},
    {"js", "text/javascript" UTF8},
    {"mjs", "text/javascript" UTF8},
    {"json", "application/json"},
    {"txt", "text/plain" UTF8},
    {"md", "text/markdown" UTF8},
    {"csv", "text/csv" UTF8},
    {"xml", "application/xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"xz", "application/x-xz"},
    {"zst", "application/zstd"},
    {"tar", "application/x-tar"},
    {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"iso", "application/x-iso9660-image"},
    {"deb", "application/vnd.debian.binary-package"},
    {"rpm", "application/x-rpm"},
};

#define HTTP_MIME_COUNT (sizeof(http_mime_table) / sizeof(http_mime_table[0]))

const char *http_mime_type(const char *name, size_t len)
{
    size_t dot = len, ext;

    while (dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/')
        dot--;
    /* No dot, or a dot that starts the last component: no extension. */
    if (dot <= 1 || name[dot - 1] != '.' || name[dot - 2] == '/')
        return HTTP_MIME_DEFAULT;
    ext = len - dot;
    for (size_t i = 0; i < HTTP_MIME_COUNT; i++)
        if (strlen(http_mime_table[i].ext) == ext &&
            http_ascii_ci_equal(name + dot, http_mime_table[i].ext, ext))
            return http_mime_table[i].type;
    return HTTP_MIME_DEFAULT;
}

const char *http_mime_entry(size_t n, const char **type)
{
    if (n >= HTTP_MIME_COUNT)
        return NULL;
    *type = http_mime_table[n].type;
    return http_mime_table[n].ext;
}
