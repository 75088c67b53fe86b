/*
 * client: the error that ferry's modules return to main(). See client.h.
 */
#include "contrib/client/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void client_set(struct client_err *e, int code, bool about_file, const char *fmt, va_list ap)
{
    e->code = code;
    e->about_file = about_file;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int client_fail(struct client_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    client_set(e, code, false, fmt, ap);
    va_end(ap);
    return code;
}

int client_fail_file(struct client_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    client_set(e, code, true, fmt, ap);
    va_end(ap);
    return code;
}

void client_append(struct client_err *e, const char *fmt, ...)
{
    size_t len = strlen(e->msg);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->msg + len, sizeof(e->msg) - len, fmt, ap);
    va_end(ap);
}

void client_report(const struct client_err *e, const char *name, bool always_name)
{
    if (name != NULL && (e->about_file || always_name))
        fprintf(stderr, "ferry: %s: %s\n", name, e->msg);
    else
        fprintf(stderr, "ferry: %s\n", e->msg);
}
