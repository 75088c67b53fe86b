/*
 * hubcli_wire: the plain wire of `ferry hub`. See hubcli_wire.h.
 */
#include "contrib/client/hubcli_wire.h"

#include <errno.h>
#include <string.h>

static int plain_encode(void *ctx, const struct hubwire_msg *m, uint8_t *out)
{
    (void)ctx;
    if (m->secure)
        return -EINVAL; /* an envelope is the secure wire's */
    return (int)hubwire_encode(out, m);
}

static int plain_decode(void *ctx, uint8_t *p, size_t n, struct hubwire_msg *m)
{
    (void)ctx;
    if (hubwire_parse(p, n, m) < 0 || m->secure)
        return -EBADMSG; /* a secure envelope means another hub's wire: not ours */
    return 0;
}

int hubcli_wire_plain(struct hubcli_wire *w)
{
    memset(w, 0, sizeof(*w));
    w->name = "plain";
    w->encode = plain_encode;
    w->decode = plain_decode;
    return 0;
}

void hubcli_wire_free(struct hubcli_wire *w)
{
    if (w->free != NULL)
        w->free(w->ctx);
    memset(w, 0, sizeof(*w));
}
