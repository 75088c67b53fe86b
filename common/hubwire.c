/*
 * hubwire: the hub's datagrams. See hubwire.h.
 */
#include "common/hubwire.h"

#include "common/wire.h"

#include <errno.h>
#include <string.h>

/* Names as the dissector (contrib/wireshark/ferry.lua) shows them. */
static const char *const hubwire_names[256] = {
    [HUB_RESET] = "SESSION_RESET",
    [HUB_KEEPALIVE] = "KEEPALIVE",
    [HUB_LOGIN] = "LOGIN",
    [HUB_LOGIN_PROOF] = "LOGIN_PROOF",
    [HUB_LOGOUT] = "LOGOUT",
    [HUB_SUBSCRIBE] = "SUBSCRIBE",
    [HUB_UNSUBSCRIBE] = "UNSUBSCRIBE",
    [HUB_POST] = "POST",
    [HUB_FORWARD_ACK] = "FORWARD_ACK",
    [HUB_FILE_ACK] = "FILE_NOTIFICATION_ACK",
    [HUB_RETRIEVE] = "RETRIEVE",
    [HUB_TEST_HOOK] = "TEST_HOOK",
    [HUB_LOGIN_OK] = "LOGIN_ACK_OK",
    [HUB_LOGIN_FAILED] = "LOGIN_ACK_FAILED",
    [HUB_LOGIN_CHALLENGE] = "LOGIN_CHALLENGE",
    [HUB_KEEPALIVE_ACK] = "KEEPALIVE_ACK",
    [HUB_LOGOUT_ACK] = "LOGOUT_ACK",
    [HUB_SUBSCRIBE_OK] = "SUBSCRIBE_ACK_OK",
    [HUB_SUBSCRIBE_FAILED] = "SUBSCRIBE_ACK_FAILED",
    [HUB_UNSUBSCRIBE_OK] = "UNSUBSCRIBE_ACK_OK",
    [HUB_UNSUBSCRIBE_FAILED] = "UNSUBSCRIBE_ACK_FAILED",
    [HUB_POST_ACK] = "POST_ACK",
    [HUB_FORWARD] = "FORWARD",
    [HUB_FILE_NOTE] = "FILE_NOTIFICATION",
    [HUB_RETRIEVE_ACK] = "RETRIEVE_ACK",
    [HUB_RETRIEVE_END] = "END_OF_RETRIEVE",
    [HUB_MUST_LOGIN] = "MUST_LOGIN_FIRST",
    [HUB_ERROR] = "ERROR",
};

int hubwire_parse(const uint8_t *p, size_t n, struct hubwire_msg *m)
{
    size_t plain;

    if (n < HUBWIRE_HEADER || p[0] != HUBWIRE_MAGIC1 || p[1] != HUBWIRE_MAGIC2)
        return -EBADMSG;
    memset(m, 0, sizeof(*m));
    m->op = p[2];
    m->len = p[3];
    m->token = wire_get_u32(p + 4);
    m->msg_id = wire_get_u32(p + 8);
    m->payload = p + HUBWIRE_HEADER;
    plain = HUBWIRE_HEADER + (size_t)m->len;
    if (n == plain)
        return 0;
    if (n != plain + HUBWIRE_ENVELOPE)
        return -EBADMSG;
    m->secure = true;
    m->seq = wire_get_u64(p + plain);
    m->tag = p + plain + 8;
    return 0;
}

size_t hubwire_encode(uint8_t *out, const struct hubwire_msg *m)
{
    size_t n = HUBWIRE_HEADER + (size_t)m->len;

    out[0] = HUBWIRE_MAGIC1;
    out[1] = HUBWIRE_MAGIC2;
    out[2] = m->op;
    out[3] = m->len;
    wire_put_u32(out + 4, m->token);
    wire_put_u32(out + 8, m->msg_id);
    if (m->len > 0)
        memmove(out + HUBWIRE_HEADER, m->payload, m->len); /* may be encrypted in place */
    if (!m->secure)
        return n;
    wire_put_u64(out + n, m->seq);
    memmove(out + n + 8, m->tag, HUBWIRE_TAG);
    return n + HUBWIRE_ENVELOPE;
}

bool hubwire_id_valid(const void *id, size_t len)
{
    const uint8_t *p = id;

    if (len < 1 || len > HUBWIRE_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            return false;
    }
    return true;
}

const char *hubwire_op_name(uint8_t op)
{
    return hubwire_names[op];
}

bool hubwire_from_client(uint8_t op)
{
    return op < 0x80;
}
