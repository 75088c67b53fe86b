/*
 * store: the hub's state in SQLite. See store.h.
 */
#include "worker/hub/store.h"

#include "common/hubwire.h"
#include "common/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct store {
    sqlite3 *db;
};

/* WAL: readers never wait for the writer; FULL: a commit is on the disk
 * when it returns (NORMAL would lose the last commits at a power cut). */
static const char store_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS accounts("
    "  id TEXT PRIMARY KEY, salt BLOB NOT NULL, verifier BLOB NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS subscriptions("
    "  follower TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  publisher TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  since INTEGER NOT NULL, PRIMARY KEY (follower, publisher));"
    "CREATE INDEX IF NOT EXISTS subscriptions_by_publisher ON subscriptions(publisher);"
    /* AUTOINCREMENT: a msg_id is never reused, even after its post is gone. */
    "CREATE TABLE IF NOT EXISTS posts("
    "  msg_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  publisher TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  text BLOB NOT NULL, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS posts_by_publisher ON posts(publisher, msg_id);"
    /* Files uploaded and announced: who may replace each. */
    "CREATE TABLE IF NOT EXISTS files("
    "  name TEXT PRIMARY KEY,"
    "  publisher TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  size INTEGER NOT NULL, sha256 BLOB NOT NULL, created INTEGER NOT NULL,"
    "  dev INTEGER NOT NULL, ino INTEGER NOT NULL);"
    /* The hub's own keys (store_secret()). */
    "CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL);";

/* An SQLite result code as -errno. */
static int store_errno(int rc)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return -EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return -ENOENT;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    }
    return -EIO;
}

/* Applies the schema. A database just created by another process (the
 * master and the hub both open it) may be switching to WAL, which takes
 * a lock the busy handler does not wait for: tried again, for a second
 * at most. Returns an SQLite result code. */
static int store_schema_apply(struct store *s)
{
    int rc = SQLITE_BUSY;

    for (int i = 0; i < 100 && (rc & 0xff) == SQLITE_BUSY; i++) {
        if (i > 0)
            usleep(10000);
        rc = sqlite3_exec(s->db, store_schema, NULL, NULL, NULL);
    }
    return rc;
}

int store_open(const char *path, struct store **out)
{
    struct store *s;
    int rc, fd;

    /* Created by us, readable by us alone: it holds the password
     * verifiers (SQLite gives its -wal and -shm files the same mode). */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST)
        return -errno;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return -ENOMEM;
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, 1000);
        rc = store_schema_apply(s);
    }
    if (rc != SQLITE_OK) {
        rc = store_errno(rc);
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    free(s);
}

const char *store_error(const struct store *s)
{
    return sqlite3_errmsg(s->db);
}

/* Runs a statement that returns no rows; finalises it. Returns 0 or -errno;
 * *changes (when not NULL) is how many rows it changed. */
static int store_run(struct store *s, sqlite3_stmt *st, int *changes)
{
    int rc = st == NULL ? sqlite3_errcode(s->db) : sqlite3_step(st);

    if (st != NULL && sqlite3_finalize(st) != SQLITE_OK && rc == SQLITE_DONE)
        rc = sqlite3_errcode(s->db);
    if (changes != NULL)
        *changes = rc == SQLITE_DONE ? sqlite3_changes(s->db) : 0;
    return store_errno(rc == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(s->db));
}

/* Prepares sql. Returns the statement, or NULL (the database's error
 * says why, and store_run() turns it into -errno). */
static sqlite3_stmt *store_sql(struct store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

static int store_user_write(struct store *s, const char *sql, const char *id,
                            const uint8_t salt[STORE_SALT_LEN],
                            const uint8_t verifier[STORE_VERIFIER_LEN], int *changes)
{
    sqlite3_stmt *st = store_sql(s, sql);

    if (st != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, salt, STORE_SALT_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, verifier, STORE_VERIFIER_LEN, SQLITE_STATIC);
    }
    return store_run(s, st, changes);
}

int store_user_add(struct store *s, const char *id, const uint8_t salt[STORE_SALT_LEN],
                   const uint8_t verifier[STORE_VERIFIER_LEN])
{
    if (!hubwire_id_valid(id, strlen(id)))
        return -EINVAL;
    return store_user_write(s,
                            "INSERT INTO accounts(id, salt, verifier, created) "
                            "VALUES (?1, ?2, ?3, CAST(strftime('%s', 'now') AS INTEGER))",
                            id, salt, verifier, NULL);
}

int store_user_set(struct store *s, const char *id, const uint8_t salt[STORE_SALT_LEN],
                   const uint8_t verifier[STORE_VERIFIER_LEN])
{
    int changes = 0, rc;

    rc = store_user_write(s, "UPDATE accounts SET salt = ?2, verifier = ?3 WHERE id = ?1", id, salt,
                          verifier, &changes);
    return rc < 0 ? rc : changes == 0 ? -ENOENT : 0;
}

int store_user_get(struct store *s, const char *id, uint8_t salt[STORE_SALT_LEN],
                   uint8_t verifier[STORE_VERIFIER_LEN])
{
    sqlite3_stmt *st = store_sql(s, "SELECT salt, verifier FROM accounts WHERE id = ?1");
    int rc;

    if (st == NULL)
        return store_errno(sqlite3_extended_errcode(s->db));
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_SALT_LEN &&
        sqlite3_column_bytes(st, 1) == STORE_VERIFIER_LEN) {
        memcpy(salt, sqlite3_column_blob(st, 0), STORE_SALT_LEN);
        memcpy(verifier, sqlite3_column_blob(st, 1), STORE_VERIFIER_LEN);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? -ENOENT : rc == SQLITE_ROW ? -EIO : store_errno(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_user_del(struct store *s, const char *id)
{
    sqlite3_stmt *st = store_sql(s, "DELETE FROM accounts WHERE id = ?1");
    int changes = 0, rc;

    if (st != NULL)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = store_run(s, st, &changes);
    return rc < 0 ? rc : changes == 0 ? -ENOENT : 0;
}

/* Steps st, calling fn with its first column as text per row; finalises
 * it. Returns 0 or -errno. */
static int store_each(struct store *s, sqlite3_stmt *st, int (*fn)(const char *, void *), void *arg)
{
    int rc;

    if (st == NULL)
        return store_errno(sqlite3_extended_errcode(s->db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn((const char *)sqlite3_column_text(st, 0), arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_errno(rc);
}

int store_users(struct store *s, int (*fn)(const char *id, void *arg), void *arg)
{
    return store_each(s, store_sql(s, "SELECT id FROM accounts ORDER BY id"), fn, arg);
}

int store_subscribe(struct store *s, const char *follower, const char *publisher)
{
    sqlite3_stmt *st;

    if (strcmp(follower, publisher) == 0)
        return -EINVAL;
    st = store_sql(s, "INSERT INTO subscriptions(follower, publisher, since) "
                      "VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER))");
    if (st != NULL) {
        sqlite3_bind_text(st, 1, follower, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, publisher, -1, SQLITE_STATIC);
    }
    return store_run(s, st, NULL);
}

int store_unsubscribe(struct store *s, const char *follower, const char *publisher)
{
    sqlite3_stmt *st =
        store_sql(s, "DELETE FROM subscriptions WHERE follower = ?1 AND publisher = ?2");
    int changes = 0, rc;

    if (st != NULL) {
        sqlite3_bind_text(st, 1, follower, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, publisher, -1, SQLITE_STATIC);
    }
    rc = store_run(s, st, &changes);
    return rc < 0 ? rc : changes == 0 ? -ENOENT : 0;
}

int store_followers(struct store *s, const char *publisher,
                    int (*fn)(const char *follower, void *arg), void *arg)
{
    sqlite3_stmt *st =
        store_sql(s, "SELECT follower FROM subscriptions WHERE publisher = ?1 ORDER BY follower");

    if (st != NULL)
        sqlite3_bind_text(st, 1, publisher, -1, SQLITE_STATIC);
    return store_each(s, st, fn, arg);
}

int store_post(struct store *s, const char *publisher, const char *text, size_t len, int64_t now,
               uint32_t *msg_id)
{
    sqlite3_stmt *st;
    int rc;

    if (len > STORE_TEXT_MAX)
        return -E2BIG;
    st = store_sql(s, "INSERT INTO posts(publisher, text, created) VALUES (?1, ?2, ?3)");
    if (st != NULL) {
        sqlite3_bind_text(st, 1, publisher, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
    }
    rc = store_run(s, st, NULL);
    if (rc == 0)
        *msg_id = (uint32_t)sqlite3_last_insert_rowid(s->db);
    return rc;
}

int store_recent(struct store *s, const char *follower, uint32_t upto, unsigned n,
                 struct store_post *out)
{
    sqlite3_stmt *st =
        store_sql(s, "SELECT p.msg_id, p.publisher, p.text, p.created "
                     "FROM posts p JOIN subscriptions f ON f.publisher = p.publisher "
                     "WHERE f.follower = ?1 AND p.msg_id <= ?3 ORDER BY p.msg_id DESC LIMIT ?2");
    unsigned got = 0;
    int rc = SQLITE_DONE;

    if (st == NULL)
        return store_errno(sqlite3_extended_errcode(s->db));
    sqlite3_bind_text(st, 1, follower, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, n);
    sqlite3_bind_int64(st, 3, upto);
    while (got < n && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_post *p = &out[got++];
        int len = sqlite3_column_bytes(st, 2);

        p->msg_id = (uint32_t)sqlite3_column_int64(st, 0);
        snprintf(p->publisher, sizeof(p->publisher), "%s", sqlite3_column_text(st, 1));
        len = len > STORE_TEXT_MAX ? STORE_TEXT_MAX : len;
        if (len > 0) /* an empty blob is NULL */
            memcpy(p->text, sqlite3_column_blob(st, 2), (size_t)len);
        p->text[len] = '\0';
        p->created = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    if (got < n && rc != SQLITE_DONE)
        return store_errno(rc);
    return (int)got;
}

/* Reads the secret name into out when it has len bytes. 0, -ENOENT none,
 * -EIO another length or a database error. */
static int store_secret_get(struct store *s, const char *name, uint8_t *out, size_t len)
{
    sqlite3_stmt *st = store_sql(s, "SELECT value FROM secrets WHERE name = ?1");
    int rc;

    if (st == NULL)
        return store_errno(sqlite3_extended_errcode(s->db));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len) {
        memcpy(out, sqlite3_column_blob(st, 0), len);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? -ENOENT : rc == SQLITE_ROW ? -EIO : store_errno(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_secret(struct store *s, const char *name, uint8_t *out, size_t len)
{
    uint8_t fresh[64];
    sqlite3_stmt *st;
    int rc;

    if (len > sizeof(fresh))
        return -EINVAL;
    if ((rc = store_secret_get(s, name, out, len)) != -ENOENT)
        return rc;
    if ((rc = rand_bytes(fresh, len)) < 0)
        return rc;
    /* OR IGNORE: of two processes making it at once, the first one wins
     * and both read its value back. */
    st = store_sql(s, "INSERT OR IGNORE INTO secrets(name, value) VALUES(?1, ?2)");
    if (st != NULL) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, fresh, (int)len, SQLITE_STATIC);
    }
    rc = store_run(s, st, NULL);
    explicit_bzero(fresh, sizeof(fresh));
    return rc < 0 ? rc : store_secret_get(s, name, out, len);
}

int store_file_owner(struct store *s, const char *name, char publisher[STORE_ID_MAX + 1],
                     uint64_t *dev, uint64_t *ino)
{
    sqlite3_stmt *st = store_sql(s, "SELECT publisher, dev, ino FROM files WHERE name = ?1");
    int rc;

    if (st == NULL)
        return store_errno(sqlite3_extended_errcode(s->db));
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) <= STORE_ID_MAX) {
        snprintf(publisher, STORE_ID_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
        *dev = (uint64_t)sqlite3_column_int64(st, 1);
        *ino = (uint64_t)sqlite3_column_int64(st, 2);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? -ENOENT : rc == SQLITE_ROW ? -EIO : store_errno(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_file_put(struct store *s, const struct store_file *f, int64_t now)
{
    sqlite3_stmt *st = store_sql(s, "INSERT OR REPLACE INTO files(name, publisher, size, sha256, "
                                    "created, dev, ino) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");

    if (st != NULL) {
        sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, f->publisher, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)f->size);
        sqlite3_bind_blob(st, 4, f->sha256, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)f->dev);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)f->ino);
    }
    return store_run(s, st, NULL);
}
