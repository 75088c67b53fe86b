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
    [WIRE_TOO_LARGE] = {"TOO_LARGE", "file larger than the size allowed"},
    [WIRE_BAD_OFFSET] = {"BAD_OFFSET", "offset beyond the end of the file"},
    [WIRE_BUSY] = {"BUSY", "server busy: too many connections from this address"},
    [WIRE_UNAUTHORIZED] = {"UNAUTHORIZED", "not authorized: no live hub session, or a wrong MAC"},
};

static int wire_fail(struct wire_request *req, enum wire_status status)
{
    req->status = status;
    return -EPROTO;
}

/* Asks for more bytes: the request is at least want bytes long. */
static int wire_more(size_t *need, size_t want)
{
    *need = want;
    return -EAGAIN;
}

/* The fixed header of a request of this type, and its longest name. */
static size_t wire_header_len(uint8_t type, size_t *name_max)
{
    *name_max = type == WIRE_PUT_REQUEST ? WIRE_PUT_NAME_MAX : WIRE_NAME_MAX;
    if (type == WIRE_GET_REQUEST)
        return WIRE_GET_HEADER;
    return type == WIRE_PUT_REQUEST ? WIRE_PUT_HEADER : WIRE_REQUEST_HEADER;
}

/* The part of a request after the version and type bytes. */
static int wire_request_body(const uint8_t *p, size_t len, struct wire_request *req, size_t *need)
{
    size_t name_max, head = wire_header_len(req->type, &name_max);

    if (len < head)
        return wire_more(need, head);
    req->name_len = (uint16_t)(p[2] << 8 | p[3]);
    if (req->type == WIRE_LIST_REQUEST) {
        if (req->name_len != 0)
            return wire_fail(req, WIRE_BAD_REQUEST);
        *need = head;
        return 0;
    }
    if (req->name_len == 0 || req->name_len > name_max)
        return wire_fail(req, WIRE_INVALID_NAME);
    if (req->type == WIRE_GET_REQUEST) {
        req->offset = wire_get_u64(p + 4);
        req->max_size = wire_get_u64(p + 12);
    } else if (req->type == WIRE_PUT_REQUEST) {
        req->size = wire_get_u64(p + 4);
        req->token = wire_get_u32(p + 12);
    }
    if (len < head + req->name_len)
        return wire_more(need, head + req->name_len);
    req->name = p + head;
    *need = head + req->name_len;
    return 0;
}

int wire_request_parse(const void *buf, size_t len, struct wire_request *req, size_t *need)
{
    const uint8_t *p = buf;

    memset(req, 0, sizeof(*req));
    if (len < 2)
        return wire_more(need, 2);
    req->version = p[0];
    req->type = p[1];
    if (req->version != WIRE_VERSION)
        return wire_fail(req, WIRE_VERSION_MISMATCH);
    if (req->type != WIRE_FILE_REQUEST && req->type != WIRE_GET_REQUEST &&
        req->type != WIRE_LIST_REQUEST && req->type != WIRE_PUT_REQUEST)
        return wire_fail(req, WIRE_BAD_REQUEST);
    return wire_request_body(p, len, req, need);
}

/* The version, type and u16 that begin every request. */
static void wire_put_head(uint8_t *p, uint8_t version, uint8_t type, size_t len16)
{
    p[0] = version;
    p[1] = type;
    p[2] = (uint8_t)(len16 >> 8);
    p[3] = (uint8_t)len16;
}

size_t wire_request_encode(void *buf, size_t cap, uint8_t version, const void *name,
                           size_t name_len)
{
    uint8_t *p = buf;

    if (name_len > UINT16_MAX || cap < WIRE_REQUEST_HEADER + name_len)
        return 0;
    wire_put_head(p, version, WIRE_FILE_REQUEST, name_len);
    if (name_len > 0)
        memcpy(p + WIRE_REQUEST_HEADER, name, name_len);
    return WIRE_REQUEST_HEADER + name_len;
}

size_t wire_get_encode(void *buf, size_t cap, uint8_t version, const void *name, size_t name_len,
                       uint64_t offset, uint64_t max_size)
{
    uint8_t *p = buf;

    if (name_len > UINT16_MAX || cap < WIRE_GET_HEADER + name_len)
        return 0;
    wire_put_head(p, version, WIRE_GET_REQUEST, name_len);
    wire_put_u64(p + 4, offset);
    wire_put_u64(p + 12, max_size);
    if (name_len > 0)
        memcpy(p + WIRE_GET_HEADER, name, name_len);
    return WIRE_GET_HEADER + name_len;
}

size_t wire_put_encode(void *buf, size_t cap, uint8_t version, const void *name, size_t name_len,
                       uint64_t size, uint32_t token)
{
    uint8_t *p = buf;

    if (name_len > UINT16_MAX || cap < WIRE_PUT_HEADER + name_len)
        return 0;
    wire_put_head(p, version, WIRE_PUT_REQUEST, name_len);
    wire_put_u64(p + 4, size);
    wire_put_u32(p + 12, token);
    if (name_len > 0)
        memcpy(p + WIRE_PUT_HEADER, name, name_len);
    return WIRE_PUT_HEADER + name_len;
}

void wire_list_encode(void *buf)
{
    wire_put_head(buf, WIRE_VERSION, WIRE_LIST_REQUEST, 0);
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
    /* Only OK and the two GET statuses about the size carry one. */
    if (resp->status != WIRE_OK && resp->status != WIRE_TOO_LARGE &&
        resp->status != WIRE_BAD_OFFSET && resp->size != 0)
        return -EPROTO;
    return 0;
}

void wire_list_header_encode(void *buf, enum wire_status status, uint32_t count)
{
    uint8_t *p = buf;

    p[0] = WIRE_VERSION;
    p[1] = WIRE_LIST_RESPONSE;
    p[2] = (uint8_t)status;
    wire_put_u32(p + 3, count);
}

int wire_list_header_parse(const void *buf, uint8_t *version, uint8_t *status, uint32_t *count)
{
    const uint8_t *p = buf;

    *version = p[0];
    *status = p[2];
    *count = wire_get_u32(p + 3);
    if (p[1] != WIRE_LIST_RESPONSE || *status >= WIRE_STATUS_COUNT)
        return -EPROTO;
    if (*status != WIRE_OK && *count != 0)
        return -EPROTO;
    return 0;
}

size_t wire_record_encode(void *buf, size_t cap, const void *name, size_t name_len, uint64_t size,
                          int64_t mtime, uint8_t kind)
{
    uint8_t *p = buf;

    if (name_len == 0 || name_len > WIRE_NAME_MAX || cap < WIRE_RECORD_FIXED + name_len)
        return 0;
    p[0] = (uint8_t)(name_len >> 8);
    p[1] = (uint8_t)name_len;
    memcpy(p + 2, name, name_len);
    p += 2 + name_len;
    wire_put_u64(p, size);
    wire_put_u64(p + 8, (uint64_t)mtime);
    p[16] = kind;
    return WIRE_RECORD_FIXED + name_len;
}

int wire_record_parse(const void *buf, size_t len, struct wire_record *rec, size_t *need)
{
    const uint8_t *p = buf;

    memset(rec, 0, sizeof(*rec));
    if (len < 2)
        return wire_more(need, 2);
    rec->name_len = (uint16_t)(p[0] << 8 | p[1]);
    if (rec->name_len == 0 || rec->name_len > WIRE_NAME_MAX)
        return -EPROTO;
    if (len < WIRE_RECORD_FIXED + (size_t)rec->name_len)
        return wire_more(need, WIRE_RECORD_FIXED + (size_t)rec->name_len);
    rec->name = p + 2;
    p += 2 + rec->name_len;
    rec->size = wire_get_u64(p);
    rec->mtime = (int64_t)wire_get_u64(p + 8);
    rec->kind = p[16];
    *need = WIRE_RECORD_FIXED + rec->name_len;
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
