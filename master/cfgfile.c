/*
 * cfgfile: libinih with line numbers. See cfgfile.h.
 */
#include "master/cfgfile.h"

#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct cfgfile_read {
    FILE *f;
    char *buf; /* getline()'s */
    size_t cap;
    unsigned line;     /* of the text last handed to libinih */
    unsigned bad_line; /* the first line too long or holding a NUL byte */
    int err;           /* a read error (errno) */
    cfgfile_entry_fn fn;
    void *user;
};

/* Notes the first line that libinih is not given. */
static void cfgfile_bad(struct cfgfile_read *r)
{
    if (r->bad_line == 0)
        r->bad_line = r->line;
}

/*
 * libinih's reader: one whole line per call, counted. Debian's libinih
 * does not pass line numbers to the handler (INI_HANDLER_LINENO is 0),
 * but it calls the handler for a line before it reads the next, so the
 * count here is the line of every entry. A line libinih could not take
 * whole (too long for its buffer of num bytes, or holding a NUL byte,
 * which would cut it) reaches it blank, and is reported instead.
 */
static char *cfgfile_gets(char *str, int num, void *stream)
{
    struct cfgfile_read *r = stream;
    ssize_t n;
    size_t body, lead;

    errno = 0;
    n = getline(&r->buf, &r->cap, r->f);
    if (n < 0) {
        r->err = errno; /* 0 at the end of the file */
        return NULL;
    }
    r->line++;
    body = (size_t)n;
    if (body > 0 && r->buf[body - 1] == '\n')
        body--;
    if (body > 0 && r->buf[body - 1] == '\r') /* CRLF: libinih would keep the CR */
        body--;
    /* Leading blanks go: an indented entry is an entry, never libinih's
     * continuation of the one before (a value of several lines), which
     * would make "  http = ..." under "native = ..." part of its value. */
    lead = strspn(r->buf, " \t");
    lead = lead > body ? body : lead;
    body -= lead;
    if (memchr(r->buf + lead, '\0', body) != NULL || body + 1 > (size_t)num) {
        cfgfile_bad(r);
        body = 0;
    }
    memcpy(str, r->buf + lead, body); /* libinih needs no newline */
    str[body] = '\0';
    return str;
}

static int cfgfile_entry(void *user, const char *section, const char *name, const char *value)
{
    struct cfgfile_read *r = user;

    r->fn(r->user, section, name, value, r->line);
    return 1; /* go on: every entry is judged, and every error reported */
}

int cfgfile_read(const char *path, cfgfile_entry_fn fn, void *user, unsigned *bad_line)
{
    struct cfgfile_read r = {.fn = fn, .user = user};
    int rc;

    *bad_line = 0;
    r.f = fopen(path, "re");
    if (r.f == NULL)
        return -errno;
    /* The stream is the state (the line count), and the handler's user is
     * the same: libinih passes each its own pointer. */
    rc = ini_parse_stream(cfgfile_gets, &r, cfgfile_entry, &r);
    fclose(r.f);
    free(r.buf);
    if (r.err != 0)
        return -r.err;
    if (rc < 0)
        return -ENOMEM; /* -2: libinih's allocation (not with INI_USE_STACK) */
    if (r.bad_line != 0 && (rc == 0 || r.bad_line < (unsigned)rc))
        rc = (int)r.bad_line;
    if (rc > 0) {
        *bad_line = (unsigned)rc;
        return -EINVAL;
    }
    return 0;
}
