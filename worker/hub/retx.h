/*
 * retx: one hub session's datagrams awaiting their ack (forwards today,
 * file notifications later), each with the back-off that says when it is
 * sent again and when the session is given up (docs/HUB.md).
 *
 * An entry is due at once when added; each send moves it RETX_FIRST_NS
 * later, doubling per send up to RETX_CAP_NS: sends at 0, 0.5, 1.5, 3.5,
 * 7.5, 11.5, 15.5 and 19.5 s. An entry sent RETX_TRIES times and still
 * unacked one back-off later (23.5 s) means the session is lost: the
 * caller sees it come due with tries == RETX_TRIES.
 *
 * Entries are keyed by msg_id: a post's server msg_id is unique, so a
 * session has at most one entry per msg_id. The last RETX_RECENT msg_ids
 * acked are remembered, so that an ack the network duplicated (or one the
 * client sent for a retransmission that crossed its first ack) is told
 * apart from an ack for something never sent, which is out of order.
 *
 * Pure: no clock, no I/O, no logging; times are the caller's monotonic
 * nanoseconds. An entry holds its own copy of the payload, so nothing
 * outside the struct retx needs to live as long as it.
 */
#ifndef FERRY_RETX_H
#define FERRY_RETX_H

#include "common/hubwire.h"

#include <stdbool.h>
#include <stdint.h>

#define RETX_FIRST_NS 500000000LL  /* the wait after the first send */
#define RETX_CAP_NS   4000000000LL /* no wait is longer */
#define RETX_TRIES    8            /* sends before the session is lost */
#define RETX_WINDOW   256          /* entries one session may have outstanding */
#define RETX_RECENT   32           /* acked msg_ids remembered */
/* From the first send to the loss: 0.5 + 1 + 2 + 4 * 5 s. A client that
 * retransmits on the same schedule gives up within it too. */
#define RETX_SPAN_NS 23500000000LL

/* One datagram awaiting its ack. Read freely; change only through retx_*. */
struct retx_entry {
    int64_t due;     /* next send; after RETX_TRIES sends, when the session is lost */
    uint32_t msg_id; /* the post's */
    uint8_t op;      /* what is sent: HUB_FORWARD (HUB_FILE_NOTE later) */
    uint8_t len;     /* payload bytes */
    uint8_t tries;   /* sends so far */
    uint8_t payload[HUBWIRE_PAYLOAD_MAX];
};

struct retx {
    struct retx_entry *v; /* in the order added */
    uint32_t n, cap;
    uint32_t recent[RETX_RECENT]; /* ring of acked msg_ids */
    uint32_t nacked;              /* acks ever; the ring's next slot is nacked % RETX_RECENT */
};

enum retx_ack {
    RETX_ACKED,     /* it was outstanding and is no more */
    RETX_DUPLICATE, /* acked already, recently: ignore it */
    RETX_UNKNOWN,   /* never outstanding (or long ago): out of order */
};

/* Makes r empty; it allocates nothing until the first retx_add(). */
void retx_init(struct retx *r);

/* Frees r's entries; r is empty afterwards (its acked msg_ids forgotten)
 * and may be used or freed again. */
void retx_free(struct retx *r);

/* The wait after the tries-th send (tries >= 1): 0.5 s doubling, capped
 * at 4 s. */
int64_t retx_backoff(unsigned tries);

/* Queues a copy of op's payload (len bytes) for msg_id, due at now.
 * Returns 0; -EEXIST when msg_id is outstanding already (nothing
 * changes); -ENOSPC when RETX_WINDOW entries are outstanding; -ENOMEM. */
int retx_add(struct retx *r, uint8_t op, uint32_t msg_id, const uint8_t *payload, uint8_t len,
             int64_t now);

/* Takes the ack of op (the opcode the entry sends) for msg_id: removes
 * the entry and remembers its msg_id. Returns what the ack was. */
enum retx_ack retx_ack(struct retx *r, uint8_t op, uint32_t msg_id);

/* The entry due first at or before now (ties: the one added first), left
 * in place; NULL when none is due. When its tries is RETX_TRIES the
 * session is lost; otherwise the caller sends it and calls retx_sent(). */
struct retx_entry *retx_due(struct retx *r, int64_t now);

/* Records that e was sent at now: one more try, due one back-off later. */
void retx_sent(struct retx_entry *e, int64_t now);

/* The earliest due time of all entries, INT64_MAX when none. */
int64_t retx_next(const struct retx *r);

/* How many entries are outstanding. */
uint32_t retx_count(const struct retx *r);

#endif
