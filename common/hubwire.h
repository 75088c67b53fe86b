/*
 * hubwire: the hub's datagrams (docs/HUB.md), pure encoding and decoding;
 * no I/O, no state.
 *
 * Every datagram begins with a 12-byte header in network byte order:
 *   u8 magic1 0x46 'F', u8 magic2 0x52 'R', u8 opcode, u8 payload_len,
 *   u32 token, u32 msg_id
 * then payload_len bytes of payload. In the secure wire the payload is
 * ciphertext and an envelope follows it: u64 seq, then a 16-byte AEAD
 * tag. A datagram is one or the other by its length alone. Opcodes below
 * 0x80 go from client to server, the others from server to client; a
 * reset (0x00) goes both ways.
 */
#ifndef FERRY_HUBWIRE_H
#define FERRY_HUBWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBWIRE_MAGIC1      0x46
#define HUBWIRE_MAGIC2      0x52
#define HUBWIRE_HEADER      12
#define HUBWIRE_PAYLOAD_MAX 255
#define HUBWIRE_TAG         16
#define HUBWIRE_ENVELOPE    (8 + HUBWIRE_TAG) /* secure: u64 seq, tag */
#define HUBWIRE_MAX         (HUBWIRE_HEADER + HUBWIRE_PAYLOAD_MAX + HUBWIRE_ENVELOPE)
#define HUBWIRE_POST_MAX    200 /* a post's text: every forward fits the u8 length */

enum hubwire_op {
    HUB_RESET = 0x00,
    HUB_KEEPALIVE = 0x0E,
    HUB_LOGIN = 0x10,
    HUB_LOGIN_PROOF = 0x11, /* secure wire: the second step of a login */
    HUB_LOGOUT = 0x1F,
    HUB_SUBSCRIBE = 0x20,
    HUB_UNSUBSCRIBE = 0x21,
    HUB_POST = 0x30,
    HUB_FORWARD_ACK = 0x31,
    HUB_FILE_ACK = 0x32,
    HUB_RETRIEVE = 0x40,
    HUB_TEST_HOOK = 0x7F,
    HUB_LOGIN_OK = 0x80,
    HUB_LOGIN_FAILED = 0x81,
    HUB_LOGIN_CHALLENGE = 0x82, /* secure wire: the answer to a login's first step */
    HUB_KEEPALIVE_ACK = 0x8E,
    HUB_LOGOUT_ACK = 0x8F,
    HUB_SUBSCRIBE_OK = 0x90,
    HUB_SUBSCRIBE_FAILED = 0x91,
    HUB_UNSUBSCRIBE_OK = 0xA0,
    HUB_UNSUBSCRIBE_FAILED = 0xA1,
    HUB_POST_ACK = 0xB0,
    HUB_FORWARD = 0xB1,
    HUB_FILE_NOTE = 0xB2,
    HUB_RETRIEVE_ACK = 0xC0,
    HUB_RETRIEVE_END = 0xC1,
    HUB_MUST_LOGIN = 0xF0,
    HUB_ERROR = 0xF1,
};

/* One datagram, decoded; payload points into the caller's buffer. */
struct hubwire_msg {
    uint8_t op;
    uint8_t len; /* payload bytes */
    uint32_t token;
    uint32_t msg_id;
    const uint8_t *payload;
    bool secure;        /* an envelope follows the payload */
    uint64_t seq;       /* secure only */
    const uint8_t *tag; /* secure only: HUBWIRE_TAG bytes */
};

/*
 * Decodes the n bytes of a datagram into m. Returns 0, or -EBADMSG when
 * it is not one of ours: shorter than a header, wrong magic, or a length
 * that is neither header + payload_len nor that plus the envelope (such a
 * datagram is dropped unanswered and counted as rejected).
 */
int hubwire_parse(const uint8_t *p, size_t n, struct hubwire_msg *m);

/* Writes m's header and payload (secure: and envelope) into out, which
 * has room for HUBWIRE_MAX bytes. Returns the datagram's length. */
size_t hubwire_encode(uint8_t *out, const struct hubwire_msg *m);

#define HUBWIRE_ID_MAX 32 /* a user id: [A-Za-z0-9_]{1,32} */

/* True when the len bytes at id form a user id: [A-Za-z0-9_]{1,32}. The
 * one rule for the hub, its store, its admin commands and its client. */
bool hubwire_id_valid(const void *id, size_t len);

/* The opcode's name ("LOGIN_ACK_OK", as the dissector names it), or NULL for an unknown opcode. */
const char *hubwire_op_name(uint8_t op);

/* True when op goes from client to server: below 0x80 (the reset, 0x00,
 * goes both ways). */
bool hubwire_from_client(uint8_t op);

#endif
