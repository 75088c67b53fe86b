/*
 * wire: the native file protocol, version 1 (docs/PROTOCOL.md).
 *
 * Pure encoding and decoding of the three messages; no I/O. All integers
 * are big-endian. One request per connection:
 *   client FILE_REQUEST  -> server FILE_RESPONSE (status, u64 size)
 *   client READY|REFUSE  -> server content (exactly size bytes), close.
 */
#ifndef FERRY_WIRE_H
#define FERRY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION       1
#define WIRE_FILE_REQUEST  0x01
#define WIRE_FILE_RESPONSE 0x02
#define WIRE_READY         0x03
#define WIRE_REFUSE        0x04

#define WIRE_REQUEST_HEADER 4   /* version, type, u16 name_len */
#define WIRE_NAME_MAX       255 /* longest valid name */
#define WIRE_REQUEST_MAX    (WIRE_REQUEST_HEADER + WIRE_NAME_MAX)
#define WIRE_RESPONSE_LEN   11 /* version, type, status, u64 size */

enum wire_status {
    WIRE_OK = 0,
    WIRE_VERSION_MISMATCH = 1,
    WIRE_INVALID_NAME = 2,
    WIRE_NOT_FOUND = 3,
    WIRE_NOT_REGULAR = 4,
    WIRE_ACCESS_DENIED = 5,
    WIRE_BAD_REQUEST = 6,
    WIRE_SERVER_ERROR = 7,
    WIRE_STATUS_COUNT
};

/* A decoded FILE_REQUEST; name points into the caller's buffer. */
struct wire_request {
    uint8_t version;
    uint8_t type;
    uint16_t name_len;
    const uint8_t *name;
    enum wire_status status; /* what to answer when parsing fails with -EPROTO */
};

/* A decoded FILE_RESPONSE. */
struct wire_response {
    uint8_t version;
    uint8_t type;
    uint8_t status;
    uint64_t size;
};

/*
 * Decodes a FILE_REQUEST from the first len bytes received. Returns 0 when
 * the request is complete (req filled), -EAGAIN when more bytes are needed
 * (*need is then the total length required so far), or -EPROTO when the
 * bytes already decide the answer: req->status is then VERSION_MISMATCH
 * (after two bytes), BAD_REQUEST (unknown type) or INVALID_NAME (name_len 0
 * or over WIRE_NAME_MAX, decided from the header alone). The name's content
 * is not checked here: that is name_valid().
 */
int wire_request_parse(const void *buf, size_t len, struct wire_request *req, size_t *need);

/*
 * Encodes a FILE_REQUEST with any version and name (tests send hostile
 * ones). Returns the encoded length, or 0 when cap is too small or
 * name_len does not fit in 16 bits.
 */
size_t wire_request_encode(void *buf, size_t cap, uint8_t version, const void *name,
                           size_t name_len);

/* Encodes the 11-byte FILE_RESPONSE with version WIRE_VERSION. */
void wire_response_encode(void *buf, enum wire_status status, uint64_t size);

/*
 * Decodes an 11-byte FILE_RESPONSE. Returns 0, or -EPROTO when the type is
 * not FILE_RESPONSE, the status is unknown, or a non-OK status carries a
 * size. The version is reported as sent, for the caller to judge.
 */
int wire_response_parse(const void *buf, struct wire_response *resp);

/* Returns the status's wire name ("NOT_FOUND"), or "UNKNOWN". */
const char *wire_status_name(unsigned status);

/* Returns the status's human message ("file not found"), or "unknown status". */
const char *wire_status_message(unsigned status);

/* Big-endian helpers shared by the encoders and their users. */
static inline void wire_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t wire_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
