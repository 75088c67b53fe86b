/*
 * hubadmin: the hub's account commands. See hubadmin.h.
 *
 * The slow hash (~60 ms) runs on the master's loop, which an operator's
 * command can afford; many at once would want libuv's thread pool.
 */
#include "master/hubadmin.h"

#include "common/hubipc.h"
#include "common/hubwire.h"
#include "common/log.h"
#include "master/listen.h"
#include "master/privdrop.h"
#include "worker/hub/hub.h"
#include "worker/hub/store.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Opens the hub's database as the hub's user (privdrop.h says why), or
 * fails resp. hubadmin_close() ends what it began. */
static struct store *hubadmin_open(struct admin *a, json_t *resp)
{
    struct store *s = NULL;
    int rc;

    if (a->cfg->hub_db == NULL) {
        admin_fail(resp, "no_hub", "this ferryd has no hub (--listen hub=... --hub-db PATH)");
        return NULL;
    }
    if ((rc = privdrop_act_as_serving()) < 0) {
        admin_fail(resp, "io_error", "cannot act as the hub's user: %s", strerror(-rc));
        return NULL;
    }
    if ((rc = store_open(a->cfg->hub_db, &s)) < 0) {
        privdrop_act_as_master();
        admin_fail(resp, "io_error", "cannot open %s: %s", a->cfg->hub_db, strerror(-rc));
        return NULL;
    }
    return s;
}

static void hubadmin_close(struct store *s)
{
    store_close(s);
    privdrop_act_as_master();
}

/* Reads "id" (valid) and, when want_password, "password" (1..255 bytes). */
static int hubadmin_args(json_t *req, bool want_password, const char **id, const char **password,
                         json_t *resp)
{
    *id = json_string_value(json_object_get(req, "id"));
    if (*id == NULL || !hubwire_id_valid(*id, strlen(*id)))
        return admin_fail(resp, "bad_argument", "\"id\" must be [A-Za-z0-9_]{1,32}");
    if (!want_password)
        return 0;
    /* One that could ever log in: "id&password" fits a datagram's
     * payload, and the wire strips a final newline. */
    *password = json_string_value(json_object_get(req, "password"));
    if (*password == NULL || (*password)[0] == '\0' ||
        strlen(*id) + 1 + strlen(*password) > HUBWIRE_PAYLOAD_MAX)
        return admin_fail(resp, "bad_argument",
                          "\"password\" must be 1 to %zu bytes (a login is \"id&password\" in "
                          "at most %d)",
                          HUBWIRE_PAYLOAD_MAX - 1 - strlen(*id), HUBWIRE_PAYLOAD_MAX);
    if ((*password)[strlen(*password) - 1] == '\n')
        return admin_fail(resp, "bad_argument",
                          "\"password\" may not end in a newline (the wire strips one)");
    return 0;
}

/* A fresh salt and the verifier of password. */
static int hubadmin_hash(const char *password, uint8_t salt[STORE_SALT_LEN],
                         uint8_t verifier[STORE_VERIFIER_LEN], json_t *resp)
{
    if (sodium_init() < 0)
        return admin_fail(resp, "internal", "libsodium cannot start");
    randombytes_buf(salt, STORE_SALT_LEN);
    if (hub_verifier((const uint8_t *)password, strlen(password), salt, verifier) < 0)
        return admin_fail(resp, "internal", "out of memory hashing the password");
    return 0;
}

/* The answer to a store call on id. */
static int hubadmin_result(struct store *s, int rc, const char *id, json_t *resp)
{
    if (rc == -EEXIST)
        rc = admin_fail(resp, "exists", "the hub has an account '%s' already", id);
    else if (rc == -ENOENT)
        rc = admin_fail(resp, "not_found", "the hub has no account '%s'", id);
    else if (rc < 0)
        rc = admin_fail(resp, "io_error", "the hub's database: %s", store_error(s));
    else
        json_object_set_new(resp, "id", json_string(id));
    hubadmin_close(s);
    return rc;
}

/* useradd and passwd: a fresh salt, the hash, then op on the store. */
static int hubadmin_write(struct admin *a, json_t *req, json_t *resp,
                          int (*op)(struct store *, const char *, const uint8_t *, const uint8_t *))
{
    uint8_t salt[STORE_SALT_LEN], verifier[STORE_VERIFIER_LEN];
    const char *id, *password;
    struct store *s;

    if (hubadmin_args(req, true, &id, &password, resp) < 0 || (s = hubadmin_open(a, resp)) == NULL)
        return -1;
    if (hubadmin_hash(password, salt, verifier, resp) < 0) {
        hubadmin_close(s);
        return -1;
    }
    return hubadmin_result(s, op(s, id, salt, verifier), id, resp);
}

int hubadmin_useradd(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    (void)c;
    return hubadmin_write(a, req, resp, store_user_add);
}

/* Tells the hub that id's password changed or id is gone, so that a
 * session opened with the old password does not outlive it. Best effort:
 * a hub that is down has no sessions to end. */
static void hubadmin_kick(struct admin *a, const json_t *resp)
{
    struct hubipc_req q = {.op = HUBIPC_KICK};
    const char *id = json_string_value(json_object_get(resp, "id"));
    int rc;

    if (id == NULL || !a->ls->hub_ipc_open)
        return;
    snprintf(q.name, sizeof(q.name), "%s", id);
    if ((rc = hubipc_tell(a->ls->hub_ipc[1], &q)) < 0)
        log_warn("hub: cannot tell the hub to end %s's session: %s", id, strerror(-rc));
}

int hubadmin_passwd(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    int rc;

    (void)c;
    if ((rc = hubadmin_write(a, req, resp, store_user_set)) == 0)
        hubadmin_kick(a, resp);
    return rc;
}

int hubadmin_userdel(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    const char *id, *password = NULL;
    struct store *s;
    int rc;

    (void)c;
    if (hubadmin_args(req, false, &id, &password, resp) < 0 || (s = hubadmin_open(a, resp)) == NULL)
        return -1;
    if ((rc = hubadmin_result(s, store_user_del(s, id), id, resp)) == 0)
        hubadmin_kick(a, resp);
    return rc;
}

static int hubadmin_add_id(const char *id, void *arg)
{
    return json_array_append_new(arg, json_string(id));
}

int hubadmin_users(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    json_t *list = json_array();
    struct store *s;
    int rc;

    (void)c, (void)req;
    if ((s = hubadmin_open(a, resp)) == NULL) {
        json_decref(list);
        return -1;
    }
    rc = store_users(s, hubadmin_add_id, list);
    if (rc < 0) {
        json_decref(list);
        rc = admin_fail(resp, "io_error", "the hub's database: %s", store_error(s));
    } else {
        json_object_set_new(resp, "users", list);
    }
    hubadmin_close(s);
    return rc;
}
