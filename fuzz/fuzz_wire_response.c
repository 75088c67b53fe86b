/*
 * fuzz_wire_response: the native protocol's answers as a client decodes
 * them (common/wire.c): wire_response_parse() on the first 11 bytes,
 * wire_list_header_parse() on the first 7, then wire_record_parse() over
 * the records that follow a LIST_RESPONSE header, one after another.
 *
 * Invariants: an accepted FILE_RESPONSE or LIST_RESPONSE header has a
 * known status, carries a size or count only where the protocol allows
 * one, and re-encodes to the same bytes; a rejected one breaks one of
 * those rules. A record is taken whole (name 1..255 bytes, inside it) and
 * re-encodes to the same bytes; -EAGAIN asks for more than was given, and
 * every prefix of a record asks for more.
 */
#include "fuzz/fuzz.h"

#include "common/wire.h"

#include <errno.h>
#include <string.h>

static void check_response(const uint8_t *data)
{
    uint8_t *buf = fuzz_copy(data, WIRE_RESPONSE_LEN), again[WIRE_RESPONSE_LEN];
    struct wire_response resp;
    int rc = wire_response_parse(buf, &resp);
    bool sized = data[2] == WIRE_OK || data[2] == WIRE_TOO_LARGE || data[2] == WIRE_BAD_OFFSET;
    bool valid = data[1] == WIRE_FILE_RESPONSE && data[2] < WIRE_STATUS_COUNT &&
                 (sized || wire_get_u64(data + 3) == 0);

    FUZZ_CHECK(rc == 0 || rc == -EPROTO);
    FUZZ_CHECK((rc == 0) == valid);
    FUZZ_CHECK(resp.version == data[0]);
    if (rc == 0) {
        wire_response_encode(again, (enum wire_status)resp.status, resp.size);
        FUZZ_CHECK(memcmp(again + 1, data + 1, WIRE_RESPONSE_LEN - 1) == 0);
        FUZZ_CHECK(strcmp(wire_status_name(resp.status), "UNKNOWN") != 0);
    }
    free(buf);
}

static void check_list_header(const uint8_t *data)
{
    uint8_t *buf = fuzz_copy(data, WIRE_LIST_HEADER), again[WIRE_LIST_HEADER];
    uint8_t version, status;
    uint32_t count;
    int rc = wire_list_header_parse(buf, &version, &status, &count);
    bool valid = data[1] == WIRE_LIST_RESPONSE && data[2] < WIRE_STATUS_COUNT &&
                 (data[2] == WIRE_OK || wire_get_u32(data + 3) == 0);

    FUZZ_CHECK(rc == 0 || rc == -EPROTO);
    FUZZ_CHECK((rc == 0) == valid);
    FUZZ_CHECK(version == data[0]);
    if (rc == 0) {
        wire_list_header_encode(again, (enum wire_status)status, count);
        FUZZ_CHECK(memcmp(again + 1, data + 1, WIRE_LIST_HEADER - 1) == 0);
    }
    free(buf);
}

/* Decodes one record at p (len bytes, copied exactly). Returns its length, or 0. */
static size_t check_record(const uint8_t *p, size_t len)
{
    uint8_t *buf = fuzz_copy(p, len), again[WIRE_RECORD_MAX];
    struct wire_record rec, rec2;
    size_t need = 0, need2 = 0;
    int rc = wire_record_parse(buf, len, &rec, &need);

    FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO);
    if (rc == -EAGAIN)
        FUZZ_CHECK(need > len && need <= WIRE_RECORD_MAX);
    if (rc == -EPROTO) {
        unsigned n = (unsigned)p[0] << 8 | p[1];
        FUZZ_CHECK(len >= 2 && (n == 0 || n > WIRE_NAME_MAX));
    }
    if (rc != 0) {
        free(buf);
        return 0;
    }
    FUZZ_CHECK(rec.name_len >= 1 && rec.name_len <= WIRE_NAME_MAX);
    FUZZ_CHECK(need == WIRE_RECORD_FIXED + rec.name_len && need <= len);
    FUZZ_CHECK(rec.name == buf + 2);
    FUZZ_CHECK(wire_record_encode(again, sizeof(again), rec.name, rec.name_len, rec.size, rec.mtime,
                                  rec.kind) == need);
    FUZZ_CHECK(memcmp(again, p, need) == 0);
    for (size_t l = 0; l < need; l++) {
        FUZZ_CHECK(wire_record_parse(p, l, &rec2, &need2) == -EAGAIN);
        FUZZ_CHECK(need2 > l && need2 <= need);
    }
    free(buf);
    return need;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off, n;

    if (size >= WIRE_RESPONSE_LEN)
        check_response(data);
    if (size < WIRE_LIST_HEADER)
        return 0;
    check_list_header(data);
    for (off = WIRE_LIST_HEADER; off < size; off += n)
        if ((n = check_record(data + off, size - off)) == 0)
            break;
    return 0;
}
