/* Unit tests for common/wire: every message, every truncation, every
 * malformed header. */
#include "common/wire.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_request_roundtrip(void **state)
{
    uint8_t buf[WIRE_REQUEST_MAX];
    struct wire_request req;
    size_t need = 0, len = wire_request_encode(buf, sizeof(buf), 1, "hello.txt", 9);

    (void)state;
    assert_int_equal(len, 13);
    assert_memory_equal(buf, "\x01\x01\x00\x09hello.txt", 13);
    assert_int_equal(wire_request_parse(buf, len, &req, &need), 0);
    assert_int_equal(req.version, 1);
    assert_int_equal(req.type, WIRE_FILE_REQUEST);
    assert_int_equal(req.name_len, 9);
    assert_memory_equal(req.name, "hello.txt", 9);
}

/* Every proper prefix of a valid request asks for more, and says how much. */
static void test_request_every_truncation(void **state)
{
    uint8_t buf[WIRE_REQUEST_MAX];
    struct wire_request req;
    size_t len = wire_request_encode(buf, sizeof(buf), 1, "abc", 3);

    (void)state;
    for (size_t cut = 0; cut < len; cut++) {
        size_t need = 0;
        assert_int_equal(wire_request_parse(buf, cut, &req, &need), -EAGAIN);
        assert_true(need > cut);
        assert_true(need <= len);
    }
}

static void test_request_version_decided_after_two_bytes(void **state)
{
    struct wire_request req;
    size_t need = 0;

    (void)state;
    assert_int_equal(wire_request_parse("\x02", 1, &req, &need), -EAGAIN);
    assert_int_equal(need, 2);
    assert_int_equal(wire_request_parse("\x02\x01", 2, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_VERSION_MISMATCH);
    assert_int_equal(wire_request_parse("\x00\x01\x00\x01x", 5, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_VERSION_MISMATCH);
    assert_int_equal(wire_request_parse("\xff\xff", 2, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_VERSION_MISMATCH);
}

static void test_request_bad_type(void **state)
{
    static const uint8_t types[] = {0x00, 0x02, 0x03, 0x04, 0x7f, 0xff};
    uint8_t buf[4] = {1, 0, 0, 1};
    struct wire_request req;
    size_t need;

    (void)state;
    for (size_t i = 0; i < sizeof(types); i++) {
        buf[1] = types[i];
        assert_int_equal(wire_request_parse(buf, 2, &req, &need), -EPROTO);
        assert_int_equal(req.status, WIRE_BAD_REQUEST);
    }
}

static void test_request_name_len_bounds(void **state)
{
    struct wire_request req;
    size_t need;

    (void)state;
    assert_int_equal(wire_request_parse("\x01\x01\x00\x00", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_INVALID_NAME);
    assert_int_equal(wire_request_parse("\x01\x01\x01\x00", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_INVALID_NAME);
    assert_int_equal(wire_request_parse("\x01\x01\xff\xff", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_INVALID_NAME);
    /* 255 is the longest: it asks for the name rather than failing. */
    assert_int_equal(wire_request_parse("\x01\x01\x00\xff", 4, &req, &need), -EAGAIN);
    assert_int_equal(need, 4 + 255);
}

static void test_request_encode_limits(void **state)
{
    uint8_t buf[8];

    (void)state;
    assert_int_equal(wire_request_encode(buf, sizeof(buf), 1, "12345", 5), 0);
    assert_int_equal(wire_request_encode(buf, sizeof(buf), 1, "1234", 4), 8);
    assert_int_equal(wire_request_encode(buf, sizeof(buf), 7, "", 0), 4);
    assert_int_equal(buf[0], 7);
    assert_int_equal(wire_request_encode(buf, SIZE_MAX, 1, "x", 70000), 0);
}

static void test_response_roundtrip(void **state)
{
    uint8_t buf[WIRE_RESPONSE_LEN];
    struct wire_response resp;

    (void)state;
    wire_response_encode(buf, WIRE_OK, UINT64_MAX);
    assert_memory_equal(buf, "\x01\x02\x00\xff\xff\xff\xff\xff\xff\xff\xff", 11);
    assert_int_equal(wire_response_parse(buf, &resp), 0);
    assert_true(resp.size == UINT64_MAX);
    wire_response_encode(buf, WIRE_OK, 0x0102030405060708ULL);
    assert_memory_equal(buf + 3, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    for (unsigned st = 0; st < WIRE_STATUS_COUNT; st++) {
        wire_response_encode(buf, (enum wire_status)st, 0);
        assert_int_equal(wire_response_parse(buf, &resp), 0);
        assert_int_equal(resp.status, st);
        assert_int_equal(resp.size, 0);
    }
}

static void test_response_malformed(void **state)
{
    uint8_t buf[WIRE_RESPONSE_LEN];
    struct wire_response resp;

    (void)state;
    wire_response_encode(buf, WIRE_OK, 5);
    buf[1] = 0x01; /* wrong type */
    assert_int_equal(wire_response_parse(buf, &resp), -EPROTO);
    wire_response_encode(buf, WIRE_OK, 5);
    buf[2] = WIRE_STATUS_COUNT; /* unknown status */
    assert_int_equal(wire_response_parse(buf, &resp), -EPROTO);
    wire_response_encode(buf, WIRE_NOT_FOUND, 5); /* error with a size */
    assert_int_equal(wire_response_parse(buf, &resp), -EPROTO);
    wire_response_encode(buf, WIRE_OK, 5);
    buf[0] = 9; /* another version is reported, not rejected */
    assert_int_equal(wire_response_parse(buf, &resp), 0);
    assert_int_equal(resp.version, 9);
}

static void test_status_table(void **state)
{
    (void)state;
    assert_string_equal(wire_status_name(WIRE_NOT_FOUND), "NOT_FOUND");
    assert_string_equal(wire_status_message(WIRE_NOT_FOUND), "file not found");
    assert_string_equal(wire_status_message(WIRE_INVALID_NAME), "invalid file name");
    assert_string_equal(wire_status_name(WIRE_STATUS_COUNT), "UNKNOWN");
    for (unsigned st = 0; st < WIRE_STATUS_COUNT; st++) {
        assert_string_not_equal(wire_status_name(st), "UNKNOWN");
        assert_string_not_equal(wire_status_message(st), "unknown status");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_roundtrip),
        cmocka_unit_test(test_request_every_truncation),
        cmocka_unit_test(test_request_version_decided_after_two_bytes),
        cmocka_unit_test(test_request_bad_type),
        cmocka_unit_test(test_request_name_len_bounds),
        cmocka_unit_test(test_request_encode_limits),
        cmocka_unit_test(test_response_roundtrip),
        cmocka_unit_test(test_response_malformed),
        cmocka_unit_test(test_status_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
