/* Unit tests for worker/hub/store.c: accounts, subscriptions and posts in
 * a real SQLite file (WAL), reopened to show what was committed stays. */
#include "worker/hub/store.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64], path[96];
static const uint8_t salt[STORE_SALT_LEN] = {1, 2, 3}, verifier[STORE_VERIFIER_LEN] = {9, 8, 7};

static int setup(void **state)
{
    struct store *s;

    snprintf(dir, sizeof(dir), "/tmp/ferry-store-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/hub.db", dir);
    if (store_open(path, &s) < 0)
        return -1;
    for (const char *const *id = (const char *const[]){"alice", "bob", "carol", NULL}; *id; id++)
        if (store_user_add(s, *id, salt, verifier) < 0)
            return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    store_close(*state);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int collect(const char *id, void *arg)
{
    char *buf = arg;

    strcat(buf, id);
    strcat(buf, ",");
    return 0;
}

static void test_accounts(void **state)
{
    struct store *s = *state;
    uint8_t salt2[STORE_SALT_LEN] = {5}, got_salt[STORE_SALT_LEN], got_ver[STORE_VERIFIER_LEN];
    char ids[128] = "";

    assert_int_equal(store_user_add(s, "alice", salt, verifier), -EEXIST);
    assert_int_equal(store_user_add(s, "no such", salt, verifier), -EINVAL);
    assert_int_equal(store_user_get(s, "alice", got_salt, got_ver), 0);
    assert_memory_equal(got_salt, salt, sizeof(salt));
    assert_memory_equal(got_ver, verifier, sizeof(verifier));
    assert_int_equal(store_user_get(s, "dave", got_salt, got_ver), -ENOENT);
    assert_int_equal(store_user_set(s, "carol", salt2, verifier), 0);
    assert_int_equal(store_user_get(s, "carol", got_salt, got_ver), 0);
    assert_int_equal(got_salt[0], 5);
    assert_int_equal(store_user_set(s, "dave", salt2, verifier), -ENOENT);
    assert_int_equal(store_users(s, collect, ids), 0);
    assert_string_equal(ids, "alice,bob,carol,");
}

static void test_subscriptions(void **state)
{
    struct store *s = *state;
    char who[128] = "";

    assert_int_equal(store_subscribe(s, "bob", "alice"), 0);
    assert_int_equal(store_subscribe(s, "carol", "alice"), 0);
    assert_int_equal(store_subscribe(s, "bob", "alice"), -EEXIST);
    assert_int_equal(store_subscribe(s, "bob", "bob"), -EINVAL);
    assert_int_equal(store_subscribe(s, "bob", "dave"), -ENOENT);
    assert_int_equal(store_followers(s, "alice", collect, who), 0);
    assert_string_equal(who, "bob,carol,");
    assert_int_equal(store_unsubscribe(s, "carol", "alice"), 0);
    assert_int_equal(store_unsubscribe(s, "carol", "alice"), -ENOENT);
    who[0] = '\0';
    assert_int_equal(store_followers(s, "alice", collect, who), 0);
    assert_string_equal(who, "bob,");
}

/* Retrieve: the followed users' posts, older than the subscription too,
 * never one's own, newest first; what was committed survives a reopen. */
static void test_posts_and_recent(void **state)
{
    struct store *s = *state;
    struct store_post got[20];
    uint32_t id[4];
    char big[STORE_TEXT_MAX + 1];
    struct stat st;

    assert_int_equal(store_post(s, "alice", "first", 5, 100, &id[0]), 0);
    assert_int_equal(store_post(s, "carol", "from carol", 10, 101, &id[1]), 0);
    assert_int_equal(store_post(s, "bob", "bob's own", 9, 102, &id[2]), 0);
    assert_int_equal(store_post(s, "alice", "a\0b", 3, 103, &id[3]), 0); /* bytes, not C text */
    assert_true(id[0] < id[1] && id[1] < id[2] && id[2] < id[3]);
    memset(big, 'x', sizeof(big));
    assert_int_equal(store_post(s, "alice", big, sizeof(big), 104, &id[0]), -E2BIG);
    assert_int_equal(store_post(s, "dave", "x", 1, 105, &id[0]), -ENOENT);
    assert_int_equal(store_subscribe(s, "bob", "alice"), 0);
    assert_int_equal(store_subscribe(s, "bob", "carol"), 0);
    assert_int_equal(store_recent(s, "bob", UINT32_MAX, 1, got), 1);
    assert_int_equal(got[0].msg_id, id[3]);
    assert_int_equal(store_recent(s, "bob", UINT32_MAX, 20, got), 3);
    assert_string_equal(got[1].text, "from carol");
    assert_string_equal(got[1].publisher, "carol");
    assert_int_equal(got[1].created, 101);
    assert_string_equal(got[2].text, "first");
    assert_int_equal(store_recent(s, "bob", id[1], 20, got), 2); /* a repeat: as of then */
    assert_int_equal(got[0].msg_id, id[1]);
    assert_int_equal(store_recent(s, "alice", UINT32_MAX, 20, got), 0); /* follows nobody */
    snprintf(big, sizeof(big), "%s-wal", path); /* WAL mode: the log beside the database */
    assert_int_equal(access(big, F_OK), 0);
    assert_int_equal(stat(path, &st), 0); /* the verifiers: ours alone */
    assert_int_equal(st.st_mode & 0777, 0600);

    store_close(s);
    assert_int_equal(store_open(path, &s), 0);
    *state = s;
    assert_int_equal(store_recent(s, "bob", UINT32_MAX, 20, got), 3);
    assert_int_equal(store_user_del(s, "carol"), 0); /* her posts and follows go with her */
    assert_int_equal(store_recent(s, "bob", UINT32_MAX, 20, got), 2);
    assert_int_equal(store_user_del(s, "carol"), -ENOENT);
}

static void test_not_a_database(void **state)
{
    char junk[128];
    struct store *s = NULL;
    FILE *f;

    (void)state;
    snprintf(junk, sizeof(junk), "%s/junk.db", dir);
    f = fopen(junk, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, not even close to one...........", f);
    fclose(f);
    assert_int_equal(store_open(junk, &s), -EIO);
    assert_int_equal(store_open("/nonexistent-dir/hub.db", &s), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscriptions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_posts_and_recent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
