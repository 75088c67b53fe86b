/*
 * fuzz_wire_request: the native protocol's request decoder,
 * wire_request_parse() (common/wire.c), with every request type, PUT
 * included.
 *
 * Invariants: the result is 0, -EAGAIN or -EPROTO; a complete request is
 * exactly the bytes its encoder makes of the decoded fields (so nothing
 * is lost or invented), its name inside the request; -EAGAIN asks for
 * more than was given; -EPROTO carries one of the three statuses the
 * header may decide. The outcome depends only on the bytes: every prefix
 * of a complete request asks for more, never past the request's length,
 * and the request alone (a buffer of exactly *need bytes, what follows
 * cut off) decodes the same.
 */
#include "fuzz/fuzz.h"

#include "common/name.h"
#include "common/wire.h"

#include <errno.h>
#include <string.h>

/* What the fields re-encode to; 0 when the type has no encoder here. */
static size_t encode_again(const struct wire_request *r, uint8_t *out, size_t cap)
{
    switch (r->type) {
    case WIRE_FILE_REQUEST:
        return wire_request_encode(out, cap, r->version, r->name, r->name_len);
    case WIRE_GET_REQUEST:
        return wire_get_encode(out, cap, r->version, r->name, r->name_len, r->offset, r->max_size);
    case WIRE_PUT_REQUEST:
        return wire_put_encode(out, cap, r->version, r->name, r->name_len, r->size, r->token);
    case WIRE_LIST_REQUEST:
        if (cap < WIRE_REQUEST_HEADER)
            return 0;
        wire_list_encode(out);
        return WIRE_REQUEST_HEADER;
    }
    return 0;
}

static void check_complete(const uint8_t *buf, size_t len, const struct wire_request *r,
                           size_t need)
{
    uint8_t again[WIRE_REQUEST_MAX];
    size_t head = r->type == WIRE_GET_REQUEST   ? WIRE_GET_HEADER
                  : r->type == WIRE_PUT_REQUEST ? WIRE_PUT_HEADER
                                                : WIRE_REQUEST_HEADER;

    FUZZ_CHECK(r->version == WIRE_VERSION);
    FUZZ_CHECK(need <= len && need <= WIRE_REQUEST_MAX);
    FUZZ_CHECK(need == head + r->name_len);
    if (r->type == WIRE_LIST_REQUEST) {
        FUZZ_CHECK(r->name_len == 0);
    } else {
        FUZZ_CHECK(r->name_len >= 1);
        FUZZ_CHECK(r->name_len <=
                   (r->type == WIRE_PUT_REQUEST ? WIRE_PUT_NAME_MAX : WIRE_NAME_MAX));
        FUZZ_CHECK(r->name == buf + head);
        /* name_valid() judges what the decoder let through, never beyond it. */
        (void)name_valid(r->name, r->name_len);
    }
    FUZZ_CHECK(encode_again(r, again, sizeof(again)) == need);
    FUZZ_CHECK(memcmp(again, buf, need) == 0);
}

/* Decodes buf[0, len) from a buffer of exactly len bytes. */
static int parse_exact(const uint8_t *data, size_t len, struct wire_request *r, size_t *need)
{
    uint8_t *buf = fuzz_copy(data, len);
    int rc = wire_request_parse(buf, len, r, need);

    if (rc == 0 && r->name != NULL)
        r->name = data + (r->name - buf); /* the same offset, in the caller's bytes */
    free(buf);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_request r, r2;
    size_t need = 0, need2 = 0;
    int rc = parse_exact(data, size, &r, &need);

    FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO);
    if (rc == -EAGAIN) {
        FUZZ_CHECK(need > size && need <= WIRE_REQUEST_MAX);
        if (size >= 2)
            FUZZ_CHECK(r.version == data[0] && r.type == data[1]);
    }
    if (rc == -EPROTO) {
        FUZZ_CHECK(size >= 2);
        FUZZ_CHECK(r.status == WIRE_VERSION_MISMATCH || r.status == WIRE_BAD_REQUEST ||
                   r.status == WIRE_INVALID_NAME);
        FUZZ_CHECK((r.status == WIRE_VERSION_MISMATCH) == (data[0] != WIRE_VERSION));
    }
    if (rc != 0)
        return 0;
    check_complete(data, size, &r, need);
    /* Each shorter prefix asks for more, and never for more than the request. */
    for (size_t l = 0; l < need; l++) {
        int rc2 = wire_request_parse(data, l, &r2, &need2);

        FUZZ_CHECK(rc2 == -EAGAIN);
        FUZZ_CHECK(need2 > l && need2 <= need);
    }
    /* The request alone decodes the same. */
    FUZZ_CHECK(parse_exact(data, need, &r2, &need2) == 0);
    FUZZ_CHECK(need2 == need && r2.name_len == r.name_len && r2.offset == r.offset &&
               r2.max_size == r.max_size && r2.size == r.size && r2.token == r.token);
    return 0;
}
