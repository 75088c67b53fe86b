/*
 * store: the hub's durable state in SQLite (docs/HUB.md): accounts,
 * subscriptions and posts, in one database file in WAL mode.
 *
 * Durability is the hub's promise: a call that returns 0 has committed
 * (synchronous=FULL: the WAL is synced at each commit), so the hub acks
 * only what a SIGKILL or a power cut cannot take back. One connection,
 * one process (the hub); no call blocks on another process's lock for
 * more than a short busy timeout. Nothing here logs: errors come back as
 * -errno (-EIO for a database error, whose text store_error() gives).
 *
 * Accounts hold no password: a salt and a verifier derived from the
 * password by a slow hash (the caller's; opaque bytes here).
 */
#ifndef FERRY_HUB_STORE_H
#define FERRY_HUB_STORE_H

#include "common/hubwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ID_MAX       HUBWIRE_ID_MAX
#define STORE_SALT_LEN     16
#define STORE_VERIFIER_LEN 32
#define STORE_TEXT_MAX     200 /* a post's text */

struct store;

/* A post as read back. */
struct store_post {
    uint32_t msg_id; /* increasing, assigned at store_post() */
    char publisher[STORE_ID_MAX + 1];
    char text[STORE_TEXT_MAX + 1];
    int64_t created; /* Unix seconds */
};

/* Opens (creating when absent) the database at path and its schema.
 * Returns 0 with *out set, or -errno (-EIO: not a database, or locked). */
int store_open(const char *path, struct store **out);

/* Closes it; NULL is allowed. */
void store_close(struct store *s);

/* The last database error's text, for the caller's log line. */
const char *store_error(const struct store *s);

/* Accounts. user_add: -EEXIST when id exists, -EINVAL for a bad id.
 * user_get, user_del, user_set: -ENOENT when there is none. */
int store_user_add(struct store *s, const char *id, const uint8_t salt[STORE_SALT_LEN],
                   const uint8_t verifier[STORE_VERIFIER_LEN]);
int store_user_get(struct store *s, const char *id, uint8_t salt[STORE_SALT_LEN],
                   uint8_t verifier[STORE_VERIFIER_LEN]);
int store_user_set(struct store *s, const char *id, const uint8_t salt[STORE_SALT_LEN],
                   const uint8_t verifier[STORE_VERIFIER_LEN]);
int store_user_del(struct store *s, const char *id);

/* Calls fn(id, arg) for every account, in id order; stops early when fn
 * returns non-zero. Returns 0 or -errno. */
int store_users(struct store *s, int (*fn)(const char *id, void *arg), void *arg);

/* An uploaded file as recorded: whose, what, and which file it is in the
 * served directory (device and inode as placed). */
struct store_file {
    const char *name, *publisher;
    uint64_t size;
    const uint8_t *sha256; /* 32 bytes */
    uint64_t dev, ino;
};

/* Uploaded files (docs/HUB.md "Files"). file_owner: the publisher whose
 * upload name is, with the device and inode it placed; 0 or -ENOENT.
 * file_put: records (or replaces) f, committed. 0 or -errno. */
int store_file_owner(struct store *s, const char *name, char publisher[STORE_ID_MAX + 1],
                     uint64_t *dev, uint64_t *ino);
int store_file_put(struct store *s, const struct store_file *f, int64_t now);

/* The hub's secret named name, len bytes (at most 64) into out: made from
 * getrandom() and committed the first time it is asked for, the same
 * value ever after. 0 or -errno. */
int store_secret(struct store *s, const char *name, uint8_t *out, size_t len);

/* follower follows publisher. -ENOENT: either is no account; -EEXIST:
 * already; -EINVAL: oneself. */
int store_subscribe(struct store *s, const char *follower, const char *publisher);

/* -ENOENT when follower did not follow publisher. */
int store_unsubscribe(struct store *s, const char *follower, const char *publisher);

/* Calls fn(follower, arg) for each follower of publisher. Returns 0 or
 * -errno. */
int store_followers(struct store *s, const char *publisher,
                    int (*fn)(const char *follower, void *arg), void *arg);

/* Stores a post of publisher (len bytes of text, at most STORE_TEXT_MAX)
 * at now (Unix seconds), committed before it returns; *msg_id is its
 * number. -E2BIG for a longer text, -ENOENT for no such account. */
int store_post(struct store *s, const char *publisher, const char *text, size_t len, int64_t now,
               uint32_t *msg_id);

/* The n most recent posts with msg_id <= upto (UINT32_MAX: all) of the
 * users follower follows now (older than the subscription included, never
 * follower's own), newest first, into out (room for n). upto lets a
 * repeated retrieve answer the same posts as the first. Returns how many,
 * or -errno. */
int store_recent(struct store *s, const char *follower, uint32_t upto, unsigned n,
                 struct store_post *out);

#endif
