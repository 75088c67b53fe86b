/* Unit tests for common/wire: every message (FILE_REQUEST, GET, LIST, PUT
 * and their answers), every truncation, every malformed header. */
#include "common/wire.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* A GET round trip: every field, the largest offset and max_size included. */
static void test_get_roundtrip(void **state)
{
    static const uint64_t values[] = {0, 1, 2, 0x0102030405060708ULL, UINT64_MAX};
    uint8_t buf[WIRE_REQUEST_MAX];
    struct wire_request req;
    size_t need, len;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint64_t off = values[i], max = values[sizeof(values) / sizeof(values[0]) - 1 - i];

        len = wire_get_encode(buf, sizeof(buf), 1, "hello.txt", 9, off, max);
        assert_int_equal(len, WIRE_GET_HEADER + 9);
        need = 0;
        assert_int_equal(wire_request_parse(buf, len, &req, &need), 0);
        assert_int_equal(need, len);
        assert_int_equal(req.version, 1);
        assert_int_equal(req.type, WIRE_GET_REQUEST);
        assert_int_equal(req.name_len, 9);
        assert_memory_equal(req.name, "hello.txt", 9);
        assert_true(req.offset == off);
        assert_true(req.max_size == max);
    }
}

/* The example of docs/PROTOCOL.md section 5, byte for byte. */
static void test_get_protocol_example(void **state)
{
    static const uint8_t want[] = {0x01, 0x07, 0x00, 0x09, 0,   0,   0,   0,    0,  0,
                                   0,    2,    0,    0,    0,   0,   0,   0x10, 0,  0,
                                   'h',  'e',  'l',  'l',  'o', '.', 't', 'x',  't'};
    uint8_t buf[64];

    (void)state;
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 1, "hello.txt", 9, 2, 1 << 20),
                     sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

/* Every proper prefix of a valid GET asks for more: 2 bytes, then the
 * 20-byte header, then the name. */
static void test_get_every_truncation(void **state)
{
    uint8_t buf[WIRE_REQUEST_MAX];
    struct wire_request req;
    size_t len = wire_get_encode(buf, sizeof(buf), 1, "abc", 3, 7, 9);

    (void)state;
    assert_int_equal(len, WIRE_GET_HEADER + 3);
    for (size_t cut = 0; cut < len; cut++) {
        size_t need = 0, want = cut < 2 ? 2 : cut < WIRE_GET_HEADER ? WIRE_GET_HEADER : len;

        assert_int_equal(wire_request_parse(buf, cut, &req, &need), -EAGAIN);
        assert_int_equal(need, want);
    }
}

/* Bytes after a complete GET (a pipelining client) are not the request's. */
static void test_get_trailing_bytes_ignored(void **state)
{
    uint8_t buf[WIRE_REQUEST_MAX + 16];
    struct wire_request req;
    size_t need = 0, len = wire_get_encode(buf, sizeof(buf), 1, "a.txt", 5, 0, 100);

    (void)state;
    memcpy(buf + len, "\x01\x05\x00\x00garbage", 11);
    assert_int_equal(wire_request_parse(buf, len + 11, &req, &need), 0);
    assert_int_equal(need, len);
    assert_int_equal(req.name_len, 5);
    assert_memory_equal(req.name, "a.txt", 5);
}

/* name_len 0 or over 255 is decided from the 20-byte header alone. */
static void test_get_name_len_bounds(void **state)
{
    uint8_t buf[WIRE_GET_HEADER + 300], name[256];
    struct wire_request req;
    size_t need;

    (void)state;
    memset(name, 'x', sizeof(name));
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 1, "", 0, 0, 1), WIRE_GET_HEADER);
    assert_int_equal(wire_request_parse(buf, WIRE_GET_HEADER, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_INVALID_NAME);
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 1, name, 256, 0, 1), WIRE_GET_HEADER + 256);
    assert_int_equal(wire_request_parse(buf, WIRE_GET_HEADER, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_INVALID_NAME);
    /* Before the header is whole nothing is decided. */
    assert_int_equal(wire_request_parse(buf, WIRE_GET_HEADER - 1, &req, &need), -EAGAIN);
    assert_int_equal(need, WIRE_GET_HEADER);
    /* 255 is the longest: it asks for the name. */
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 1, name, 255, 0, 1), WIRE_GET_HEADER + 255);
    assert_int_equal(wire_request_parse(buf, WIRE_GET_HEADER, &req, &need), -EAGAIN);
    assert_int_equal(need, WIRE_GET_HEADER + 255);
    assert_int_equal(wire_request_parse(buf, WIRE_GET_HEADER + 255, &req, &need), 0);
}

static void test_get_encode_limits(void **state)
{
    uint8_t buf[WIRE_GET_HEADER + 4];

    (void)state;
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 1, "12345", 5, 0, 0), 0);
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 1, "1234", 4, 0, 0), WIRE_GET_HEADER + 4);
    assert_int_equal(wire_get_encode(buf, WIRE_GET_HEADER - 1, 1, "", 0, 0, 0), 0);
    assert_int_equal(wire_get_encode(buf, SIZE_MAX, 1, "x", 70000, 0, 0), 0);
    assert_int_equal(wire_get_encode(buf, sizeof(buf), 9, "", 0, 0, 0), WIRE_GET_HEADER);
    assert_int_equal(buf[0], 9); /* any version, for tests of hostile clients */
}

static void test_list_request(void **state)
{
    uint8_t buf[8];
    struct wire_request req;
    size_t need = 0;

    (void)state;
    memset(buf, 0xee, sizeof(buf));
    wire_list_encode(buf);
    assert_memory_equal(buf, "\x01\x05\x00\x00", 4);
    assert_int_equal(buf[4], 0xee); /* exactly four bytes written */
    assert_int_equal(wire_request_parse(buf, 8, &req, &need), 0);
    assert_int_equal(need, WIRE_REQUEST_HEADER);
    assert_int_equal(req.type, WIRE_LIST_REQUEST);
    assert_int_equal(req.name_len, 0);
    for (size_t cut = 0; cut < 4; cut++) {
        assert_int_equal(wire_request_parse(buf, cut, &req, &need), -EAGAIN);
        assert_int_equal(need, cut < 2 ? 2 : 4);
    }
    assert_int_equal(wire_request_parse("\x01\x05\x00\x01", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_BAD_REQUEST);
    assert_int_equal(wire_request_parse("\x01\x05\x01\x00", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_BAD_REQUEST);
    assert_int_equal(wire_request_parse("\x01\x05\xff\xff", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_BAD_REQUEST);
    assert_int_equal(wire_request_parse("\x02\x05\x00\x00", 4, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_VERSION_MISMATCH);
}

static void test_list_header(void **state)
{
    uint8_t buf[WIRE_LIST_HEADER], version, status;
    uint32_t count;

    (void)state;
    wire_list_header_encode(buf, WIRE_OK, 1);
    assert_memory_equal(buf, "\x01\x06\x00\x00\x00\x00\x01", 7);
    wire_list_header_encode(buf, WIRE_OK, UINT32_MAX);
    assert_int_equal(wire_list_header_parse(buf, &version, &status, &count), 0);
    assert_int_equal(version, 1);
    assert_int_equal(status, WIRE_OK);
    assert_true(count == UINT32_MAX);
    wire_list_header_encode(buf, WIRE_SERVER_ERROR, 0);
    assert_int_equal(wire_list_header_parse(buf, &version, &status, &count), 0);
    assert_int_equal(status, WIRE_SERVER_ERROR);
    assert_int_equal(count, 0);
    wire_list_header_encode(buf, WIRE_SERVER_ERROR, 3); /* an error with records */
    assert_int_equal(wire_list_header_parse(buf, &version, &status, &count), -EPROTO);
    wire_list_header_encode(buf, WIRE_OK, 0);
    buf[2] = WIRE_STATUS_COUNT; /* unknown status */
    assert_int_equal(wire_list_header_parse(buf, &version, &status, &count), -EPROTO);
    wire_list_header_encode(buf, WIRE_OK, 0);
    buf[1] = WIRE_FILE_RESPONSE; /* wrong type */
    assert_int_equal(wire_list_header_parse(buf, &version, &status, &count), -EPROTO);
    wire_list_header_encode(buf, WIRE_OK, 0);
    buf[0] = 7; /* another version is reported, not rejected */
    assert_int_equal(wire_list_header_parse(buf, &version, &status, &count), 0);
    assert_int_equal(version, 7);
}

/* The record of docs/PROTOCOL.md section 7, then a round trip. */
static void test_record_roundtrip(void **state)
{
    static const uint8_t want[] = {0, 5, 'a', '.', 't', 'x', 't', 0,    0,    0,    0, 0,
                                   0, 0, 3,   0,   0,   0,   0,   0x65, 0x53, 0xf1, 0, 0};
    uint8_t buf[WIRE_RECORD_MAX];
    struct wire_record rec;
    size_t need = 0;

    (void)state;
    assert_int_equal(wire_record_encode(buf, sizeof(buf), "a.txt", 5, 3, 1700000000, 0),
                     sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(wire_record_parse(buf, sizeof(want), &rec, &need), 0);
    assert_int_equal(need, sizeof(want));
    assert_int_equal(rec.name_len, 5);
    assert_memory_equal(rec.name, "a.txt", 5);
    assert_int_equal(rec.size, 3);
    assert_true(rec.mtime == 1700000000);
    assert_int_equal(rec.kind, WIRE_KIND_FILE);
}

/* Before 1970 (a negative mtime) and the extremes survive the trip. */
static void test_record_extremes(void **state)
{
    static const int64_t mtimes[] = {-1, -86400, INT64_MIN, INT64_MAX, 0};
    uint8_t buf[WIRE_RECORD_MAX];
    struct wire_record rec;
    size_t need, len;

    (void)state;
    for (size_t i = 0; i < sizeof(mtimes) / sizeof(mtimes[0]); i++) {
        len = wire_record_encode(buf, sizeof(buf), "\"q\\", 3, UINT64_MAX, mtimes[i], 0);
        assert_int_equal(len, WIRE_RECORD_FIXED + 3);
        assert_int_equal(wire_record_parse(buf, len, &rec, &need), 0);
        assert_true(rec.mtime == mtimes[i]);
        assert_true(rec.size == UINT64_MAX);
        assert_memory_equal(rec.name, "\"q\\", 3);
    }
}

/* Every proper prefix of a record asks for more; bytes after it (the next
 * record) are not its own. */
static void test_record_every_truncation(void **state)
{
    uint8_t buf[2 * WIRE_RECORD_MAX];
    struct wire_record rec;
    size_t need, len = wire_record_encode(buf, sizeof(buf), "abc", 3, 10, 20, 0);

    (void)state;
    for (size_t cut = 0; cut < len; cut++) {
        need = 0;
        assert_int_equal(wire_record_parse(buf, cut, &rec, &need), -EAGAIN);
        assert_int_equal(need, cut < 2 ? 2 : len);
    }
    assert_int_equal(wire_record_encode(buf + len, sizeof(buf) - len, "de", 2, 1, 2, 0),
                     WIRE_RECORD_FIXED + 2);
    assert_int_equal(wire_record_parse(buf, sizeof(buf), &rec, &need), 0);
    assert_int_equal(need, len);
    assert_int_equal(wire_record_parse(buf + need, sizeof(buf) - need, &rec, &need), 0);
    assert_memory_equal(rec.name, "de", 2);
}

static void test_record_name_len_bounds(void **state)
{
    uint8_t buf[WIRE_RECORD_MAX + 8], name[256];
    struct wire_record rec;
    size_t need;

    (void)state;
    memset(name, 'n', sizeof(name));
    assert_int_equal(wire_record_parse("\x00\x00", 2, &rec, &need), -EPROTO);
    assert_int_equal(wire_record_parse("\x01\x00", 2, &rec, &need), -EPROTO);
    assert_int_equal(wire_record_parse("\xff\xff", 2, &rec, &need), -EPROTO);
    assert_int_equal(wire_record_parse("\x00\xff", 2, &rec, &need), -EAGAIN);
    assert_int_equal(need, WIRE_RECORD_FIXED + 255);
    assert_int_equal(wire_record_encode(buf, sizeof(buf), name, 0, 0, 0, 0), 0);
    assert_int_equal(wire_record_encode(buf, sizeof(buf), name, 256, 0, 0, 0), 0);
    assert_int_equal(wire_record_encode(buf, sizeof(buf), name, 255, 0, 0, 0), WIRE_RECORD_MAX);
    assert_int_equal(wire_record_encode(buf, WIRE_RECORD_MAX - 1, name, 255, 0, 0, 0), 0);
    assert_int_equal(wire_record_parse(buf, WIRE_RECORD_MAX, &rec, &need), 0);
    assert_int_equal(rec.name_len, 255);
}

/* The GET statuses about the size carry one; no other error status may. */
static void test_response_sizes_by_status(void **state)
{
    uint8_t buf[WIRE_RESPONSE_LEN];
    struct wire_response resp;

    (void)state;
    for (unsigned st = 0; st < WIRE_STATUS_COUNT; st++) {
        bool sized = st == WIRE_OK || st == WIRE_TOO_LARGE || st == WIRE_BAD_OFFSET;

        wire_response_encode(buf, (enum wire_status)st, 123456789);
        assert_int_equal(wire_response_parse(buf, &resp), sized ? 0 : -EPROTO);
        if (sized) {
            assert_int_equal(resp.status, st);
            assert_int_equal(resp.size, 123456789);
        }
    }
    wire_response_encode(buf, WIRE_TOO_LARGE, UINT64_MAX);
    assert_int_equal(wire_response_parse(buf, &resp), 0);
    assert_true(resp.size == UINT64_MAX);
    assert_string_equal(wire_status_name(WIRE_TOO_LARGE), "TOO_LARGE");
    assert_string_equal(wire_status_name(WIRE_BAD_OFFSET), "BAD_OFFSET");
}

/* A PUT round trip: every field, the extremes of size and token included. */
static void test_put_roundtrip(void **state)
{
    static const uint64_t sizes[] = {0, 1, 0x0102030405060708ULL, UINT64_MAX};
    static const uint32_t tokens[] = {0, 1, 0x7ef6a28a, UINT32_MAX};
    uint8_t buf[WIRE_PUT_HEADER + WIRE_PUT_NAME_MAX];
    struct wire_request req;
    size_t need, len;

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        len = wire_put_encode(buf, sizeof(buf), 1, "hello.txt", 9, sizes[i], tokens[i]);
        assert_int_equal(len, WIRE_PUT_HEADER + 9);
        need = 0;
        assert_int_equal(wire_request_parse(buf, len, &req, &need), 0);
        assert_int_equal(need, len);
        assert_int_equal(req.version, 1);
        assert_int_equal(req.type, WIRE_PUT_REQUEST);
        assert_int_equal(req.name_len, 9);
        assert_memory_equal(req.name, "hello.txt", 9);
        assert_true(req.size == sizes[i]);
        assert_true(req.token == tokens[i]);
        assert_true(req.offset == 0 && req.max_size == 0); /* GET's, not PUT's */
    }
}

/* The example of docs/PROTOCOL.md section 8, byte for byte: the header
 * and name, then the content, which is not the request's. */
static void test_put_protocol_example(void **state)
{
    static const uint8_t want[] = {0x01, 0x08, 0x00, 0x09, 0,    0,   0,   0,   0,   0,   0,
                                   6,    0x7e, 0xf6, 0xa2, 0x8a, 'h', 'e', 'l', 'l', 'o', '.',
                                   't',  'x',  't',  'h',  'e',  'l', 'l', 'o', '\n'};
    uint8_t buf[64];
    struct wire_request req;
    size_t need = 0;

    (void)state;
    assert_int_equal(wire_put_encode(buf, sizeof(buf), 1, "hello.txt", 9, 6, 0x7ef6a28a), 25);
    memcpy(buf + 25, "hello\n", 6);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(wire_request_parse(buf, sizeof(want), &req, &need), 0);
    assert_int_equal(need, 25);
    assert_true(req.size == 6);
    assert_true(req.token == 0x7ef6a28a);
}

/* Every proper prefix of a PUT asks for more: 2 bytes, then the 16-byte
 * header, then the name; split anywhere, the whole is the same request. */
static void test_put_every_truncation(void **state)
{
    uint8_t buf[WIRE_PUT_HEADER + 8];
    struct wire_request req;
    size_t len = wire_put_encode(buf, sizeof(buf), 1, "abc", 3, 77, 5);

    (void)state;
    assert_int_equal(len, WIRE_PUT_HEADER + 3);
    for (size_t cut = 0; cut < len; cut++) {
        size_t need = 0, want = cut < 2 ? 2 : cut < WIRE_PUT_HEADER ? WIRE_PUT_HEADER : len;

        assert_int_equal(wire_request_parse(buf, cut, &req, &need), -EAGAIN);
        assert_int_equal(need, want);
        if (cut >= 2) /* the type is known from the second byte on */
            assert_int_equal(req.type, WIRE_PUT_REQUEST);
    }
    /* Content after the name is not parsed: any bytes at all. */
    memset(buf + len, 0xff, sizeof(buf) - len);
    for (size_t end = len; end <= sizeof(buf); end++) {
        size_t need = 0;

        assert_int_equal(wire_request_parse(buf, end, &req, &need), 0);
        assert_int_equal(need, len);
        assert_true(req.size == 77 && req.token == 5);
        assert_memory_equal(req.name, "abc", 3);
    }
}

/* A PUT's name is 1..100 bytes (the hub announces it), decided from the
 * 16-byte header alone. */
static void test_put_name_len_bounds(void **state)
{
    static const size_t bad[] = {0, WIRE_PUT_NAME_MAX + 1, 255};
    uint8_t buf[WIRE_PUT_HEADER + 300], name[256];
    struct wire_request req;
    size_t need;

    (void)state;
    memset(name, 'x', sizeof(name));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wire_put_encode(buf, sizeof(buf), 1, name, bad[i], 1, 1),
                         WIRE_PUT_HEADER + bad[i]);
        assert_int_equal(wire_request_parse(buf, WIRE_PUT_HEADER, &req, &need), -EPROTO);
        assert_int_equal(req.status, WIRE_INVALID_NAME);
        assert_int_equal(wire_request_parse(buf, WIRE_PUT_HEADER - 1, &req, &need), -EAGAIN);
    }
    assert_int_equal(wire_put_encode(buf, sizeof(buf), 1, name, WIRE_PUT_NAME_MAX, 1, 1),
                     WIRE_PUT_HEADER + WIRE_PUT_NAME_MAX);
    assert_int_equal(wire_request_parse(buf, WIRE_PUT_HEADER, &req, &need), -EAGAIN);
    assert_int_equal(need, WIRE_PUT_HEADER + WIRE_PUT_NAME_MAX);
    assert_int_equal(wire_request_parse(buf, need, &req, &need), 0);
    /* Another version is decided from the first two bytes, as always. */
    buf[0] = 2;
    assert_int_equal(wire_request_parse(buf, 2, &req, &need), -EPROTO);
    assert_int_equal(req.status, WIRE_VERSION_MISMATCH);
}

static void test_put_encode_limits(void **state)
{
    uint8_t buf[WIRE_PUT_HEADER + 4];

    (void)state;
    assert_int_equal(wire_put_encode(buf, sizeof(buf), 1, "12345", 5, 0, 0), 0);
    assert_int_equal(wire_put_encode(buf, sizeof(buf), 1, "1234", 4, 0, 0), WIRE_PUT_HEADER + 4);
    assert_int_equal(wire_put_encode(buf, WIRE_PUT_HEADER - 1, 1, "", 0, 0, 0), 0);
    assert_int_equal(wire_put_encode(buf, SIZE_MAX, 1, "x", 70000, 0, 0), 0);
    assert_int_equal(wire_put_encode(buf, sizeof(buf), 9, "", 0, 0, 0), WIRE_PUT_HEADER);
    assert_int_equal(buf[0], 9);
}

/* UNAUTHORIZED (11) is a status of its own, sizeless. */
static void test_status_unauthorized(void **state)
{
    uint8_t buf[WIRE_RESPONSE_LEN];
    struct wire_response resp;

    (void)state;
    assert_int_equal(WIRE_UNAUTHORIZED, 11);
    assert_string_equal(wire_status_name(WIRE_UNAUTHORIZED), "UNAUTHORIZED");
    wire_response_encode(buf, WIRE_UNAUTHORIZED, 0);
    assert_memory_equal(buf, "\x01\x02\x0b\0\0\0\0\0\0\0\0", 11);
    assert_int_equal(wire_response_parse(buf, &resp), 0);
    assert_int_equal(resp.status, WIRE_UNAUTHORIZED);
    /* The next value is still unknown. */
    buf[2] = 12;
    assert_int_equal(wire_response_parse(buf, &resp), -EPROTO);
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
        cmocka_unit_test(test_get_roundtrip),
        cmocka_unit_test(test_get_protocol_example),
        cmocka_unit_test(test_get_every_truncation),
        cmocka_unit_test(test_get_trailing_bytes_ignored),
        cmocka_unit_test(test_get_name_len_bounds),
        cmocka_unit_test(test_get_encode_limits),
        cmocka_unit_test(test_list_request),
        cmocka_unit_test(test_list_header),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_record_extremes),
        cmocka_unit_test(test_record_every_truncation),
        cmocka_unit_test(test_record_name_len_bounds),
        cmocka_unit_test(test_response_sizes_by_status),
        cmocka_unit_test(test_put_roundtrip),
        cmocka_unit_test(test_put_protocol_example),
        cmocka_unit_test(test_put_every_truncation),
        cmocka_unit_test(test_put_name_len_bounds),
        cmocka_unit_test(test_put_encode_limits),
        cmocka_unit_test(test_status_unauthorized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
