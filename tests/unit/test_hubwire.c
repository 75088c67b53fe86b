/* Unit tests for common/hubwire.c: the hub's header, plain and secure,
 * byte by byte; what is rejected; opcode names and directions. */
#include "common/hubwire.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* A course-style login: client_a&password, nonce 0x01020304. */
static const uint8_t login[] = {0x46, 0x52, 0x10, 0x11, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02,
                                0x03, 0x04, 'c',  'l',  'i',  'e',  'n',  't',  '_',  'a',
                                '&',  'p',  'a',  's',  's',  'w',  'o',  'r',  'd'};

static void test_parse_plain(void **state)
{
    struct hubwire_msg m;

    (void)state;
    assert_int_equal(hubwire_parse(login, sizeof(login), &m), 0);
    assert_int_equal(m.op, HUB_LOGIN);
    assert_int_equal(m.len, 17);
    assert_int_equal(m.token, 0xdeadbeef);
    assert_int_equal(m.msg_id, 0x01020304);
    assert_memory_equal(m.payload, "client_a&password", 17);
    assert_false(m.secure);
}

static void test_encode_is_parse_reversed(void **state)
{
    uint8_t payload[HUBWIRE_PAYLOAD_MAX], out[HUBWIRE_MAX], tag[HUBWIRE_TAG];
    struct hubwire_msg m, back;

    (void)state;
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 13);
    memset(tag, 0xa5, sizeof(tag));
    for (unsigned len = 0; len <= HUBWIRE_PAYLOAD_MAX; len++) {
        for (int secure = 0; secure <= 1; secure++) {
            m = (struct hubwire_msg){.op = HUB_FORWARD,
                                     .len = (uint8_t)len,
                                     .token = 7,
                                     .msg_id = 0xfffffffe,
                                     .payload = payload,
                                     .secure = secure,
                                     .seq = 0x0102030405060708ull,
                                     .tag = tag};
            size_t n = hubwire_encode(out, &m);

            assert_int_equal(n, HUBWIRE_HEADER + len + (secure ? HUBWIRE_ENVELOPE : 0));
            assert_int_equal(hubwire_parse(out, n, &back), 0);
            assert_int_equal(back.op, HUB_FORWARD);
            assert_int_equal(back.len, len);
            assert_int_equal(back.msg_id, 0xfffffffe);
            assert_memory_equal(back.payload, payload, len);
            assert_int_equal(back.secure, secure);
            if (secure) {
                assert_int_equal(back.seq, 0x0102030405060708ull);
                assert_memory_equal(back.tag, tag, HUBWIRE_TAG);
                assert_int_equal(out[HUBWIRE_HEADER + len], 0x01); /* big-endian seq */
            }
        }
    }
    assert_memory_equal(out, "\x46\x52\xb1\xff\x00\x00\x00\x07\xff\xff\xff\xfe", 12);
}

static void test_rejects(void **state)
{
    uint8_t d[64];
    struct hubwire_msg m;

    (void)state;
    memcpy(d, login, sizeof(login));
    assert_int_equal(hubwire_parse(d, 11, &m), -EBADMSG);                 /* short */
    assert_int_equal(hubwire_parse(d, sizeof(login) - 1, &m), -EBADMSG);  /* truncated payload */
    assert_int_equal(hubwire_parse(d, sizeof(login) + 1, &m), -EBADMSG);  /* a byte too many */
    assert_int_equal(hubwire_parse(d, sizeof(login) + 23, &m), -EBADMSG); /* envelope cut */
    assert_int_equal(hubwire_parse(d, sizeof(login) + 24, &m), 0);        /* the envelope */
    d[1] = 'S';
    assert_int_equal(hubwire_parse(d, sizeof(login), &m), -EBADMSG);
    d[1] = 0x52;
    d[0] = 0;
    assert_int_equal(hubwire_parse(d, sizeof(login), &m), -EBADMSG);
}

static void test_names_and_directions(void **state)
{
    (void)state;
    assert_string_equal(hubwire_op_name(HUB_LOGIN_OK), "LOGIN_ACK_OK");
    assert_string_equal(hubwire_op_name(HUB_RETRIEVE_END), "END_OF_RETRIEVE");
    assert_string_equal(hubwire_op_name(HUB_RESET), "SESSION_RESET");
    assert_null(hubwire_op_name(0x55));
    assert_true(hubwire_from_client(HUB_RESET));
    assert_true(hubwire_from_client(HUB_TEST_HOOK));
    assert_false(hubwire_from_client(HUB_LOGIN_OK));
    assert_false(hubwire_from_client(HUB_ERROR));
    /* Every named opcode below 0x80 is a client's, every other a server's
     * (but the reset): the table and the rule agree. */
    for (int op = 0; op < 256; op++)
        if (hubwire_op_name((uint8_t)op) != NULL && op != HUB_RESET)
            assert_int_equal(hubwire_from_client((uint8_t)op), op < 0x80);
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(hubwire_id_valid("client_a", 8));
    assert_true(hubwire_id_valid("abcdefghijklmnopqrstuvwxyz012345", 32));
    assert_false(hubwire_id_valid("abcdefghijklmnopqrstuvwxyz0123456", 33));
    assert_false(hubwire_id_valid("", 0));
    assert_false(hubwire_id_valid("a&b", 3));
    assert_false(hubwire_id_valid("\xc3\xa9", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain), cmocka_unit_test(test_encode_is_parse_reversed),
        cmocka_unit_test(test_rejects),     cmocka_unit_test(test_names_and_directions),
        cmocka_unit_test(test_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
