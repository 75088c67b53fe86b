/*
 * wire: encoding and decoding of protocol v1 messages. See wire.h.
 */
#include "common/wire.h"

#include <errno.h>
#include <string.h>

/* One table serves logs, the client's messages and the docs' list. */
static const struct {
    const char *name;
    const char *message;
} wire_statuses[WIRE_STATUS_COUNT] = {
    [WIRE_OK] = {"OK", "ok"},
    [WIRE_VERSION_MISMATCH] = {"VERSION_MISMATCH", "protocol version mismatch"},
    [WIRE_INVALID_NAME] = {"INVALID_NAME", "invalid file name"},
    [WIRE_NOT_FOUND] = {"NOT_FOUND", "file not found"},
    [WIRE_NOT_REGULAR] = {"NOT_REGULAR", "not a regular file"},
    [WIRE_ACCESS_DENIED] = {"ACCESS_DENIED", "access denied"},
    [WIRE_BAD_REQUEST] = {"BAD_REQUEST", "bad request"},
    [WIRE_SERVER_ERROR] = {"SERVER_ERROR", "server error"},
};

static int wire_fail(struct wire_request *req, enum wire_status status)
{
    req->status = status;
    return -EPROTO;
}

int wire_request_parse(const void *buf, size_t len, struct wire_request *req, size_t *need)
{
    const uint8_t *p = buf;

    memset(req, 0, sizeof(*req));
    if (len < 2) {
        *need = 2;
        return -EAGAIN;
    }
    req->version = p[0];
    req->type = p[1];
    if (req->version != WIRE_VERSION)
        return wire_fail(req, WIRE_VERSION_MISMATCH);
    if (req->type != WIRE_FILE_REQUEST)
        return wire_fail(req, WIRE_BAD_REQUEST);
    if (len < WIRE_REQUEST_HEADER) {
        *need = WIRE_REQUEST_HEADER;
        return -EAGAIN;
    }
    req->name_len = (uint16_t)(p[2] << 8 | p[3]);
    if (req->name_len == 0 || req->name_len > WIRE_NAME_MAX)
        return wire_fail(req, WIRE_INVALID_NAME);
    if (len < WIRE_REQUEST_HEADER + (size_t)req->name_len) {
        *need = WIRE_REQUEST_HEADER + (size_t)req->name_len;
        return -EAGAIN;
    }
    req->name = p + WIRE_REQUEST_HEADER;
    return 0;
}

size_t wire_request_encode(void *buf, size_t cap, uint8_t version, const void *name,
                           size_t name_len)
{
    uint8_t *p = buf;

    if (name_len > UINT16_MAX || cap < WIRE_REQUEST_HEADER + name_len)
        return 0;
    p[0] = version;
    p[1] = WIRE_FILE_REQUEST;
    p[2] = (uint8_t)(name_len >> 8);
    p[3] = (uint8_t)name_len;
    if (name_len > 0)
        memcpy(p + WIRE_REQUEST_HEADER, name, name_len);
    return WIRE_REQUEST_HEADER + name_len;
}

void wire_response_encode(void *buf, enum wire_status status, uint64_t size)
{
    uint8_t *p = buf;

    p[0] = WIRE_VERSION;
    p[1] = WIRE_FILE_RESPONSE;
    p[2] = (uint8_t)status;
    wire_put_u64(p + 3, size);
}

int wire_response_parse(const void *buf, struct wire_response *resp)
{
    const uint8_t *p = buf;

    resp->version = p[0];
    resp->type = p[1];
    resp->status = p[2];
    resp->size = wire_get_u64(p + 3);
    if (resp->type != WIRE_FILE_RESPONSE || resp->status >= WIRE_STATUS_COUNT)
        return -EPROTO;
    if (resp->status != WIRE_OK && resp->size != 0)
        return -EPROTO;
    return 0;
}

const char *wire_status_name(unsigned status)
{
    return status < WIRE_STATUS_COUNT ? wire_statuses[status].name : "UNKNOWN";
}

const char *wire_status_message(unsigned status)
{
    return status < WIRE_STATUS_COUNT ? wire_statuses[status].message : "unknown status";
}
