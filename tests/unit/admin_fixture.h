/* A real admin socket in a temporary directory, with stub pool operations
 * that record what they were asked: the fixture of the admin module's
 * unit tests and of the fuzzers' admin regression cases (cmocka setup and
 * teardown). */
#ifndef FERRY_TESTS_ADMIN_FIXTURE_H
#define FERRY_TESTS_ADMIN_FIXTURE_H

#include "master/admin.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* What the stub pool answers, and what it was asked. */
struct admin_stub {
    enum admin_state state;
    unsigned stop_timeout;
    unsigned target;
    int resize_rc;
    unsigned resized_to, drained;
    int shutdowns;
    bool graceful;
};

struct admin_fixture {
    uv_loop_t loop;
    struct admin admin;
    struct scoreboard *sb;
    struct config cfg;   /* max-children 8, shutdown timeout 30 s */
    struct listeners ls; /* none unless a test sets some: sockets closed */
    struct admin_stub stub;
    char dir[64], path[96];
    int fd; /* a client, connected */
};

/* cmocka setup and teardown: *state is the struct admin_fixture. */
int admin_fixture_setup(void **state);
int admin_fixture_teardown(void **state);

/* A cmocka test case run in a fresh fixture. */
#define ADMIN_FIXTURE_TEST(t)                                                                      \
    cmocka_unit_test_setup_teardown(t, admin_fixture_setup, admin_fixture_teardown)

/* Sends the len bytes at line and a newline; pumps the loop until one
 * answer line is back, and returns it parsed (NULL if it is not JSON). */
json_t *admin_fixture_ask(struct admin_fixture *f, const char *line, size_t len);

#endif
