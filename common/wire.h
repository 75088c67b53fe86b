/*
 * wire: the native file protocol, version 1 (docs/PROTOCOL.md).
 *
 * Pure encoding and decoding; no I/O. All integers are big-endian. One
 * request per connection, of four kinds:
 *   FILE_REQUEST -> FILE_RESPONSE (status, u64 size);
 *                   client READY|REFUSE -> content (size bytes), close.
 *   GET          -> FILE_RESPONSE; when OK, the content from the request's
 *                   offset to the end follows at once, then close.
 *   LIST         -> LIST_RESPONSE (status, u32 count), count records, close.
 *   PUT          (an upload for the hub to announce) is followed by size
 *                bytes of content, and on the hub's secure wire a MAC ->
 *                FILE_RESPONSE (OK with the size stored), close.
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
#define WIRE_LIST_REQUEST  0x05
#define WIRE_LIST_RESPONSE 0x06
#define WIRE_GET_REQUEST   0x07
#define WIRE_PUT_REQUEST   0x08

#define WIRE_REQUEST_HEADER 4   /* version, type, u16 name_len */
#define WIRE_NAME_MAX       255 /* longest valid name */
#define WIRE_GET_HEADER     20  /* version, type, u16 name_len, u64 offset, u64 max_size */
#define WIRE_PUT_HEADER     16  /* version, type, u16 name_len, u64 size, u32 token */
#define WIRE_PUT_NAME_MAX   100 /* a PUT's name: the hub announces it (HUBIPC_NAME_MAX) */
#define WIRE_PUT_MAC        32  /* after a PUT's content, on the hub's secure wire */
#define WIRE_REQUEST_MAX    (WIRE_GET_HEADER + WIRE_NAME_MAX) /* the longest request */
#define WIRE_RESPONSE_LEN   11                                /* version, type, status, u64 size */
#define WIRE_LIST_HEADER    7                                 /* version, type, status, u32 count */
#define WIRE_RECORD_FIXED   19 /* u16 name_len, u64 size, i64 mtime, u8 kind */
#define WIRE_RECORD_MAX     (WIRE_RECORD_FIXED + WIRE_NAME_MAX)
#define WIRE_KIND_FILE      0 /* the only kind listed today */

enum wire_status {
    WIRE_OK = 0,
    WIRE_VERSION_MISMATCH = 1,
    WIRE_INVALID_NAME = 2,
    WIRE_NOT_FOUND = 3,
    WIRE_NOT_REGULAR = 4,
    WIRE_ACCESS_DENIED = 5,
    WIRE_BAD_REQUEST = 6,
    WIRE_SERVER_ERROR = 7,
    WIRE_TOO_LARGE = 8,     /* GET: size > max_size, the size field the real size; PUT: the limit */
    WIRE_BAD_OFFSET = 9,    /* GET: offset > size; the size field is the real size */
    WIRE_BUSY = 10,         /* too many connections from the client's address */
    WIRE_UNAUTHORIZED = 11, /* PUT: no live hub session for the token, or a wrong MAC */
    WIRE_STATUS_COUNT
};

/* A decoded request of any type; name points into the caller's buffer. */
struct wire_request {
    uint8_t version;
    uint8_t type;      /* WIRE_FILE_REQUEST, _GET_, _LIST_ or _PUT_REQUEST */
    uint16_t name_len; /* 0 for LIST */
    const uint8_t *name;
    uint64_t offset;         /* GET only */
    uint64_t max_size;       /* GET only */
    uint64_t size;           /* PUT only: the content's length, which follows the request */
    uint32_t token;          /* PUT only: the uploader's hub session */
    enum wire_status status; /* what to answer when parsing fails with -EPROTO */
};

/* A decoded LIST record; name points into the caller's buffer. */
struct wire_record {
    uint16_t name_len;
    const uint8_t *name;
    uint64_t size;
    int64_t mtime; /* Unix seconds */
    uint8_t kind;  /* WIRE_KIND_FILE */
};

/* A decoded FILE_RESPONSE. */
struct wire_response {
    uint8_t version;
    uint8_t type;
    uint8_t status;
    uint64_t size;
};

/*
 * Decodes a request (FILE_REQUEST, GET, LIST or PUT) from the first len
 * bytes received. Returns 0 when the request is complete (req filled; the
 * request is *need bytes long, and bytes after it are not the request's:
 * a PUT's content among them), -EAGAIN when more bytes are needed (*need
 * is then the total length required so far; req->version and req->type
 * are set once two bytes are there), or -EPROTO when the bytes already
 * decide the answer: req->status is then VERSION_MISMATCH (after two
 * bytes), BAD_REQUEST (unknown type, or a LIST whose u16 is not 0) or
 * INVALID_NAME (name_len 0 or over WIRE_NAME_MAX, WIRE_PUT_NAME_MAX for a
 * PUT, decided from the header alone). The name's content is not checked
 * here: that is name_valid().
 */
int wire_request_parse(const void *buf, size_t len, struct wire_request *req, size_t *need);

/*
 * Encodes a FILE_REQUEST with any version and name (tests send hostile
 * ones). Returns the encoded length, or 0 when cap is too small or
 * name_len does not fit in 16 bits.
 */
size_t wire_request_encode(void *buf, size_t cap, uint8_t version, const void *name,
                           size_t name_len);

/* Encodes a GET request (any version and name, as above). Returns the
 * encoded length, or 0 when it does not fit. */
size_t wire_get_encode(void *buf, size_t cap, uint8_t version, const void *name, size_t name_len,
                       uint64_t offset, uint64_t max_size);

/* Encodes a PUT request's header and name (any version and name, as
 * above); the content is not the encoder's. Returns the encoded length, or
 * 0 when it does not fit. */
size_t wire_put_encode(void *buf, size_t cap, uint8_t version, const void *name, size_t name_len,
                       uint64_t size, uint32_t token);

/* Encodes the 4-byte LIST request. */
void wire_list_encode(void *buf);

/* Encodes the 11-byte FILE_RESPONSE with version WIRE_VERSION. */
void wire_response_encode(void *buf, enum wire_status status, uint64_t size);

/*
 * Decodes an 11-byte FILE_RESPONSE. Returns 0, or -EPROTO when the type is
 * not FILE_RESPONSE, the status is unknown, or a non-OK status carries a
 * size. The version is reported as sent, for the caller to judge.
 */
int wire_response_parse(const void *buf, struct wire_response *resp);

/* Encodes the 7-byte LIST_RESPONSE header with version WIRE_VERSION. */
void wire_list_header_encode(void *buf, enum wire_status status, uint32_t count);

/* Decodes a 7-byte LIST_RESPONSE header. Returns 0, or -EPROTO when the
 * type is not LIST_RESPONSE, the status is unknown, or a non-OK status
 * carries a count. The version is reported in *version for the caller. */
int wire_list_header_parse(const void *buf, uint8_t *version, uint8_t *status, uint32_t *count);

/* Encodes one LIST record. Returns its length, or 0 when cap is too small
 * or name_len is 0 or over WIRE_NAME_MAX. */
size_t wire_record_encode(void *buf, size_t cap, const void *name, size_t name_len, uint64_t size,
                          int64_t mtime, uint8_t kind);

/* Decodes one LIST record from the first len bytes. Returns 0 (*need is
 * its length), -EAGAIN (*need: the length needed so far) or -EPROTO
 * (name_len 0 or over WIRE_NAME_MAX). */
int wire_record_parse(const void *buf, size_t len, struct wire_record *rec, size_t *need);

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

static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
