/*
 * fuzz_name: file name validation, name_valid() (common/name.c), checked
 * against the rule as docs/PROTOCOL.md states it and against the other
 * places a name travels.
 *
 * Invariants: a valid name is 1..255 bytes of printable ASCII, never holds
 * '/' or NUL, and is neither "." nor ".."; the verdict equals an
 * independent reading of that rule. A valid name survives a FILE_REQUEST
 * and a LIST record unchanged, and as an HTTP path ("/" and the name
 * percent-encoded, worker/http_target.c) decodes back to itself as one
 * segment: no valid name can become a path or climb out of the root.
 */
#include "fuzz/fuzz.h"

#include "common/name.h"
#include "common/wire.h"
#include "worker/http_target.h"

#include <errno.h>
#include <string.h>

/* The rule, read independently of common/name.c. */
static bool name_rule(const uint8_t *p, size_t n)
{
    if (n < 1 || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && memcmp(p, "..", 2) == 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '/')
            return false;
    return true;
}

static void check_wire(const uint8_t *name, size_t n)
{
    uint8_t buf[WIRE_REQUEST_MAX], rec_buf[WIRE_RECORD_MAX];
    struct wire_request req;
    struct wire_record rec;
    size_t len = wire_request_encode(buf, sizeof(buf), WIRE_VERSION, name, n), need = 0;

    FUZZ_CHECK(len == WIRE_REQUEST_HEADER + n);
    FUZZ_CHECK(wire_request_parse(buf, len, &req, &need) == 0);
    FUZZ_CHECK(req.name_len == n && memcmp(req.name, name, n) == 0 && name_valid(req.name, n));
    len = wire_record_encode(rec_buf, sizeof(rec_buf), name, n, 1, 2, WIRE_KIND_FILE);
    FUZZ_CHECK(len == WIRE_RECORD_FIXED + n);
    FUZZ_CHECK(wire_record_parse(rec_buf, len, &rec, &need) == 0);
    FUZZ_CHECK(rec.name_len == n && memcmp(rec.name, name, n) == 0);
}

static void check_http(const uint8_t *name, size_t n)
{
    char enc[1 + 3 * 255 + 1], out[256];
    size_t enc_len = 0;
    struct http_path res;

    enc[0] = '/';
    FUZZ_CHECK(http_target_encode((const char *)name, n, enc + 1, sizeof(enc) - 1, &enc_len) == 0);
    FUZZ_CHECK(http_target_decode(enc, 1 + enc_len, out, sizeof(out), &res) == 0);
    FUZZ_CHECK(res.len == n && memcmp(out, name, n) == 0 && out[n] == '\0');
    FUZZ_CHECK(!res.is_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *name = fuzz_copy(data, size);
    bool valid = name_valid(name, size);

    FUZZ_CHECK(valid == name_rule(data, size));
    if (valid) {
        FUZZ_CHECK(size >= 1 && size <= WIRE_NAME_MAX);
        FUZZ_CHECK(memchr(data, '/', size) == NULL && memchr(data, '\0', size) == NULL);
        FUZZ_CHECK(!(size == 1 && data[0] == '.') &&
                   !(size == 2 && data[0] == '.' && data[1] == '.'));
        check_wire(data, size);
        check_http(data, size);
    }
    free(name);
    return 0;
}
