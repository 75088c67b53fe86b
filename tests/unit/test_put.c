/* Unit tests for the native PUT (worker/put.c) through the native handler,
 * without a network: the upload is fed into the connection's input all at
 * once and one byte at a time, and the hub is a fake one, a thread on the
 * other end of a socket pair that answers scripted replies through
 * common/hubipc and records what it was asked. The served directory is a
 * temporary one under /tmp. */
#include "common/hubipc.h"
#include "common/wire.h"
#include "worker/native.h"
#include "worker/put.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define NOW        1000000000000LL /* a monotonic "now", far from 0 */
#define SEC        1000000000LL
#define MAX_UPLOAD (1 << 20)
#define HUB_WAIT   300 /* ms: what the worker waits for a hub answer here */
#define TOKEN      0x7ef6a28a

static char root[64];
static int dirfd_ = -1;
static struct scoreboard *sb;

/* What the fake hub answers, per op (HUBIPC_AUTH..HUBIPC_ANNOUNCE). */
struct script {
    uint8_t status[4];
    bool silent[4]; /* no answer at all */
    bool secure, may_replace;
    const char *owned; /* may_replace: the file the publisher's upload placed, as it is now */
    const char *race;  /* created with "racer" when VERIFY comes: another writer */
};

struct hub {
    int sv[2]; /* [0] the workers' end, [1] the hub's */
    pthread_t thread;
    atomic_bool stop;
    bool running;
    struct script script;
    struct hubipc_req asked[8]; /* what it was asked, in order */
    unsigned nasked, conversations;
};

/* What the upload came to. */
struct result {
    enum conn_wait want;
    uint8_t out[64];
    size_t out_len;
    struct wire_response resp; /* when out holds one */
    const char *problem;
    int err;
    bool server_fault;
};

static void write_file(const char *name, const char *text)
{
    int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* The file's content (NUL-terminated in buf), or -1 when there is none. */
static ssize_t read_file(const char *name, char *buf, size_t cap)
{
    int fd = openat(dirfd_, name, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0, r;

    if (fd < 0)
        return -1;
    while ((r = read(fd, buf + n, cap - 1 - (size_t)n)) > 0)
        n += r;
    close(fd);
    buf[n] = '\0';
    return n;
}

/* Temporary files of uploads in the directory. */
static unsigned temps(void)
{
    DIR *d = opendir(root);
    struct dirent *e;
    unsigned n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, PUT_TEMP_PREFIX, strlen(PUT_TEMP_PREFIX)) == 0;
    closedir(d);
    return n;
}

/* The one temporary file's mode. */
static mode_t temp_mode(void)
{
    DIR *d = opendir(root);
    struct dirent *e;
    struct stat st;
    mode_t mode = 07777;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, PUT_TEMP_PREFIX, strlen(PUT_TEMP_PREFIX)) == 0 &&
            fstatat(dirfd_, e->d_name, &st, 0) == 0)
            mode = st.st_mode & 07777;
    closedir(d);
    return mode;
}

static void hub_converse(struct hub *h, int fd)
{
    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        struct hubipc_req q;
        struct hubipc_rep rep;
        int rc;

        if (poll(&p, 1, 10) <= 0)
            continue;
        if ((rc = hubipc_recv(fd, &q)) == -EAGAIN)
            continue;
        if (rc < 0 || q.op < HUBIPC_AUTH || q.op > HUBIPC_ANNOUNCE)
            return; /* the worker closed its end */
        if (h->nasked < sizeof(h->asked) / sizeof(h->asked[0]))
            h->asked[h->nasked++] = q;
        if (q.op == HUBIPC_VERIFY && h->script.race != NULL)
            write_file(h->script.race, "racer");
        if (h->script.silent[q.op])
            continue;
        memset(&rep, 0, sizeof(rep));
        rep.status = h->script.status[q.op];
        rep.secure = h->script.secure;
        rep.may_replace = h->script.may_replace;
        if (h->script.owned != NULL) { /* what the hub recorded at its ANNOUNCE */
            struct stat fs;

            if (fstatat(dirfd_, h->script.owned, &fs, 0) == 0)
                rep.dev = fs.st_dev, rep.ino = fs.st_ino;
        }
        strcpy(rep.publisher, "alice");
        hubipc_reply(fd, &rep);
    }
}

static void *hub_main(void *arg)
{
    struct hub *h = arg;

    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = h->sv[1], .events = POLLIN};
        int fd;

        if (poll(&p, 1, 10) <= 0 || (fd = hubipc_accept(h->sv[1])) < 0)
            continue;
        h->conversations++;
        hub_converse(h, fd);
        close(fd);
    }
    return NULL;
}

/* Makes the socket pair; with run, a thread answers on it by script s
 * (else nobody reads: a hub that is down). */
static void hub_start(struct hub *h, const struct script *s, bool run)
{
    memset(h, 0, sizeof(*h));
    h->script = *s;
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, h->sv), 0);
    atomic_store(&h->stop, false);
    h->running = run;
    if (run)
        assert_int_equal(pthread_create(&h->thread, NULL, hub_main, h), 0);
}

static void hub_stop(struct hub *h)
{
    atomic_store(&h->stop, true);
    if (h->running)
        pthread_join(h->thread, NULL);
    close(h->sv[0]);
    close(h->sv[1]);
}

/* A script whose every answer is OK. */
static struct script all_ok(void)
{
    return (struct script){.status = {WIRE_OK, WIRE_OK, WIRE_OK, WIRE_OK}};
}

/* env_of()'s tree flags: TREE_HIDDEN where a test serves as with
 * --serve-hidden. */
static unsigned env_tree_flags;

static struct conn_env env_of(int hub_fd)
{
    return (struct conn_env){.dirfd = dirfd_,
                             .tree_flags = env_tree_flags,
                             .chunk = 65536,
                             .io_timeout_ms = 30000,
                             .request_timeout_ms = 10000,
                             .min_rate = 1024,
                             .slot = &sb->slots[0],
                             .recs = sb_rec(sb, 0, 0),
                             .hub_fd = hub_fd,
                             .hub_max_upload = MAX_UPLOAD,
                             .hub_timeout_ms = HUB_WAIT};
}

/* A native connection without a socket in record k, its input buffer
 * ready. */
static void conn_start_k(struct conn *c, const struct conn_env *env, uint32_t k)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};

    assert_int_equal(conn_init(c, CONN_STATE_MAX), 0);
    c->rec = &env->recs[k];
    c->rec_k = k;
    conn_attach(c, env, &native_handler, -1, 0, (struct sockaddr *)&peer, NOW);
    c->in = malloc(CONN_IN_MAX);
    assert_non_null(c->in);
    c->in_cap = CONN_IN_MAX;
    c->req.active = true;
}

static void conn_start(struct conn *c, const struct conn_env *env)
{
    conn_start_k(c, env, 0);
}

/* Feeds len bytes, step at a time, while the handler wants input. */
static enum conn_wait feed(struct conn *c, const void *msg, size_t len, size_t step)
{
    enum conn_wait want = CONN_READ;
    size_t at = 0;

    while (want == CONN_READ && at < len) {
        size_t n = len - at < step ? len - at : step;

        if (n > c->in_cap - c->in_len)
            n = c->in_cap - c->in_len;
        assert_true(n > 0); /* the handler must consume what it took */
        memcpy(c->in + c->in_len, (const char *)msg + at, n);
        c->in_len += n;
        at += n;
        want = c->h->input(c, NOW);
    }
    return want;
}

/* Copies what c came to into r. */
static void take(const struct conn *c, enum conn_wait want, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->want = want;
    r->out_len = c->out_len - c->out_off;
    assert_true(r->out_len <= sizeof(r->out));
    memcpy(r->out, c->out + c->out_off, r->out_len);
    if (r->out_len == WIRE_RESPONSE_LEN)
        assert_int_equal(wire_response_parse(r->out, &r->resp), 0);
    r->problem = c->problem;
    r->err = c->err;
    r->server_fault = c->server_fault;
}

static void conn_end(struct conn *c)
{
    conn_close(c, NOW);
    conn_free(c);
}

/* A PUT of name with content, and mac (NULL: none) after it. Returns its
 * length; *msg is malloc'd. */
static size_t put_msg(uint8_t **msg, const char *name, size_t name_len, const void *content,
                      size_t len, uint64_t size, const uint8_t *mac)
{
    size_t head, total = WIRE_PUT_HEADER + name_len + len + (mac != NULL ? HUBIPC_MAC : 0);

    *msg = malloc(total);
    assert_non_null(*msg);
    head = wire_put_encode(*msg, total, 1, name, name_len, size, TOKEN);
    assert_int_equal(head, WIRE_PUT_HEADER + name_len);
    memcpy(*msg + head, content, len);
    if (mac != NULL)
        memcpy(*msg + head + len, mac, HUBIPC_MAC);
    return total;
}

/* One whole upload under script s (the hub running, or down), fed step
 * bytes at a time; the connection is closed before the result returns. */
static void upload(const struct script *s, bool run, const char *name, const void *content,
                   size_t len, const uint8_t *mac, size_t step, struct result *r, struct hub *h)
{
    struct conn c;
    struct conn_env env;
    uint8_t *msg;
    size_t n = put_msg(&msg, name, strlen(name), content, len, len, mac);

    hub_start(h, s, run);
    env = env_of(h->sv[0]);
    conn_start(&c, &env);
    take(&c, feed(&c, msg, n, step), r);
    conn_end(&c);
    hub_stop(h);
    free(msg);
}

static void assert_status(const struct result *r, enum wire_status status, uint64_t size)
{
    assert_int_equal(r->want, CONN_WRITE);
    assert_int_equal(r->out_len, WIRE_RESPONSE_LEN);
    assert_int_equal(r->resp.status, status);
    assert_true(r->resp.size == size);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/ferry-put-XXXXXX");
    assert_non_null(mkdtemp(root));
    dirfd_ = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd_ >= 0);
    sb = sb_create(1, 2); /* two connections at once: test_put_temp_hidden */
    assert_non_null(sb);
    assert_int_equal(sb_claim(sb, SB_KIND_WORKER), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    close(dirfd_);
    sb_destroy(sb);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Each test starts from an empty directory. */
static int empty_dir(void **state)
{
    DIR *d = opendir(root);
    struct dirent *e;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(dirfd_, e->d_name, 0);
    closedir(d);
    return 0;
}

/* The whole exchange: the file byte for byte under its name, nothing else
 * left, and the hub asked AUTH, VERIFY (with the content's SHA-256) and
 * ANNOUNCE, in one conversation. */
static void test_put_ok(void **state)
{
    static uint8_t content[100000];
    static char got[sizeof(content) + 1];
    uint8_t sha[HUBIPC_SHA256];
    struct script s = all_ok();
    struct result r;
    struct hub h;
    struct stat st;

    (void)state;
    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i * 7 + (i >> 8));
    upload(&s, true, "big.bin", content, sizeof(content), NULL, sizeof(content), &r, &h);
    assert_status(&r, WIRE_OK, sizeof(content));
    assert_memory_equal(r.out, "\x01\x02\x00\x00\x00\x00\x00\x00\x01\x86\xa0", 11);
    assert_int_equal(read_file("big.bin", got, sizeof(got)), sizeof(content));
    assert_memory_equal(got, content, sizeof(content));
    assert_int_equal(fstatat(dirfd_, "big.bin", &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(temps(), 0);
    assert_int_equal(h.conversations, 1);
    assert_int_equal(h.nasked, 3);
    assert_int_equal(h.asked[0].op, HUBIPC_AUTH);
    assert_int_equal(h.asked[1].op, HUBIPC_VERIFY);
    assert_int_equal(h.asked[2].op, HUBIPC_ANNOUNCE);
    crypto_hash_sha256(sha, content, sizeof(content));
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(h.asked[i].token, TOKEN);
        assert_true(h.asked[i].size == sizeof(content));
        assert_string_equal(h.asked[i].name, "big.bin");
    }
    assert_memory_equal(h.asked[1].sha256, sha, sizeof(sha));
    assert_memory_equal(h.asked[2].sha256, sha, sizeof(sha));
}

/* An empty file is a file: no content, straight to VERIFY. */
static void test_put_empty(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;
    char got[8];

    (void)state;
    upload(&s, true, "empty", "", 0, NULL, 1, &r, &h);
    assert_status(&r, WIRE_OK, 0);
    assert_int_equal(read_file("empty", got, sizeof(got)), 0);
    assert_int_equal(h.nasked, 3);
    assert_int_equal(temps(), 0);
}

/* The secure wire: 32 bytes of MAC after the content go to VERIFY. */
static void test_put_secure(void **state)
{
    uint8_t mac[HUBIPC_MAC];
    struct script s = all_ok();
    struct result r;
    struct hub h;
    char got[32];

    (void)state;
    s.secure = true;
    for (size_t i = 0; i < sizeof(mac); i++)
        mac[i] = (uint8_t)(0xa0 + i);
    upload(&s, true, "sealed.txt", "sealed", 6, mac, 1, &r, &h);
    assert_status(&r, WIRE_OK, 6);
    assert_int_equal(read_file("sealed.txt", got, sizeof(got)), 6);
    assert_string_equal(got, "sealed"); /* the MAC is not content */
    assert_int_equal(h.asked[1].op, HUBIPC_VERIFY);
    assert_memory_equal(h.asked[1].mac, mac, sizeof(mac));
}

/* A wrong MAC: UNAUTHORIZED at VERIFY, the temporary file gone. */
static void test_put_mac_refused(void **state)
{
    uint8_t mac[HUBIPC_MAC] = {0};
    struct script s = all_ok();
    struct result r;
    struct hub h;

    (void)state;
    s.secure = true;
    s.status[HUBIPC_VERIFY] = WIRE_UNAUTHORIZED;
    upload(&s, true, "forged.txt", "forged", 6, mac, 6, &r, &h);
    assert_status(&r, WIRE_UNAUTHORIZED, 0);
    assert_memory_equal(r.out, "\x01\x02\x0b\x00\x00\x00\x00\x00\x00\x00\x00", 11);
    assert_int_equal(h.nasked, 2); /* never announced */
    assert_int_equal(read_file("forged.txt", (char[8]){0}, 8), -1);
    assert_int_equal(temps(), 0);
}

/* A token that is no live session: UNAUTHORIZED before any content is
 * read or any file made. */
static void test_put_unauthorized(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;

    (void)state;
    s.status[HUBIPC_AUTH] = WIRE_UNAUTHORIZED;
    upload(&s, true, "a.txt", "abc", 3, NULL, 1, &r, &h);
    assert_status(&r, WIRE_UNAUTHORIZED, 0);
    assert_int_equal(h.nasked, 1);
    assert_int_equal(read_file("a.txt", (char[8]){0}, 8), -1);
    assert_int_equal(temps(), 0);
}

/* The name exists and is not this publisher's: refused, the file as it
 * was. */
static void test_put_access_denied(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;
    char got[32];

    (void)state;
    write_file("taken.txt", "original");
    upload(&s, true, "taken.txt", "intruder", 8, NULL, 8, &r, &h);
    assert_status(&r, WIRE_ACCESS_DENIED, 0);
    assert_int_equal(h.nasked, 1);
    assert_int_equal(read_file("taken.txt", got, sizeof(got)), 8);
    assert_string_equal(got, "original");
    assert_int_equal(temps(), 0);
}

/* The name is taken while the content arrives: the rename that never
 * replaces finds it, and the racer's file stays. */
static void test_put_access_denied_at_rename(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;
    char got[32];

    (void)state;
    s.race = "race.txt";
    upload(&s, true, "race.txt", "mine", 4, NULL, 4, &r, &h);
    assert_status(&r, WIRE_ACCESS_DENIED, 0);
    assert_int_equal(h.nasked, 2); /* verified, never announced */
    assert_int_equal(read_file("race.txt", got, sizeof(got)), 5);
    assert_string_equal(got, "racer");
    assert_int_equal(temps(), 0);
}

/* An earlier upload of this publisher's is replaced. */
static void test_put_replace(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;
    char got[32];
    struct stat placed;

    (void)state;
    s.may_replace = true;
    s.owned = "mine.txt";
    write_file("mine.txt", "version one");
    upload(&s, true, "mine.txt", "v2", 2, NULL, 1, &r, &h);
    assert_status(&r, WIRE_OK, 2);
    assert_int_equal(read_file("mine.txt", got, sizeof(got)), 2);
    assert_string_equal(got, "v2");
    assert_int_equal(temps(), 0);
    /* The ANNOUNCE says which file it placed. */
    assert_int_equal(fstatat(dirfd_, "mine.txt", &placed, 0), 0);
    assert_int_equal(h.asked[2].op, HUBIPC_ANNOUNCE);
    assert_int_equal(h.asked[2].ino, (uint64_t)placed.st_ino);
    assert_int_equal(h.asked[2].dev, (uint64_t)placed.st_dev);
}

/* The publisher's earlier upload is no longer the file under that name
 * (an operator put another there): not the publisher's to replace. */
static void test_put_replace_not_a_file_it_placed(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;
    char got[32];

    (void)state;
    s.may_replace = true;
    s.owned = "placed.txt"; /* the hub's record: another inode than mine.txt's */
    write_file("placed.txt", "x");
    write_file("mine.txt", "the operator's");
    upload(&s, true, "mine.txt", "v2", 2, NULL, 1, &r, &h);
    assert_status(&r, WIRE_ACCESS_DENIED, 0);
    assert_int_equal(read_file("mine.txt", got, sizeof(got)), 14);
    assert_string_equal(got, "the operator's");
    assert_int_equal(temps(), 0);
}

/* Over --hub-max-upload: TOO_LARGE with the limit, the hub not asked. */
static void test_put_too_large(void **state)
{
    struct script s = all_ok();
    struct conn_env env;
    struct conn c;
    struct result r;
    struct hub h;
    uint8_t msg[64];
    size_t n = wire_put_encode(msg, sizeof(msg), 1, "huge", 4, MAX_UPLOAD + 1, TOKEN);

    (void)state;
    hub_start(&h, &s, true);
    env = env_of(h.sv[0]);
    conn_start(&c, &env);
    take(&c, feed(&c, msg, n, 1), &r);
    assert_status(&r, WIRE_TOO_LARGE, MAX_UPLOAD);
    assert_true(c.linger && c.close_after); /* the content still comes: drained */
    conn_end(&c);
    hub_stop(&h);
    assert_int_equal(h.conversations, 0);
    /* The limit itself is fine. */
    n = wire_put_encode(msg, sizeof(msg), 1, "huge", 4, MAX_UPLOAD, TOKEN);
    hub_start(&h, &s, true);
    env = env_of(h.sv[0]);
    conn_start(&c, &env);
    assert_int_equal(feed(&c, msg, n, n), CONN_READ);
    conn_end(&c);
    hub_stop(&h);
    assert_int_equal(temps(), 0); /* the unfinished upload left nothing */
}

/* Names: one component, not hidden, printable ASCII, 100 bytes at most. */
static void test_put_invalid_names(void **state)
{
    static const char *bad[] = {".env", "a/b", "..", ".", "tab\there", "/etc", ".ferry-put-0"};
    char name[HUBIPC_NAME_MAX + 2];
    struct script s = all_ok();
    struct result r;
    struct hub h;

    (void)state;
    /* --serve-hidden or not: an upload never makes a dot-file. */
    for (env_tree_flags = 0; env_tree_flags <= TREE_HIDDEN; env_tree_flags += TREE_HIDDEN) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            upload(&s, true, bad[i], "x", 1, NULL, 1, &r, &h);
            assert_status(&r, WIRE_INVALID_NAME, 0);
            assert_int_equal(h.conversations, 0);
        }
    }
    env_tree_flags = 0;
    memset(name, 'n', sizeof(name));
    name[HUBIPC_NAME_MAX + 1] = '\0'; /* 101 bytes: decided from the header */
    upload(&s, true, name, "x", 1, NULL, 1, &r, &h);
    assert_status(&r, WIRE_INVALID_NAME, 0);
    assert_int_equal(h.conversations, 0);
    name[HUBIPC_NAME_MAX] = '\0'; /* 100: the longest */
    upload(&s, true, name, "x", 1, NULL, 1, &r, &h);
    assert_status(&r, WIRE_OK, 1);
    assert_int_equal(temps(), 0);
}

/* No hub (no descriptor): BAD_REQUEST as soon as the type is seen, as a
 * server that predates PUT answers. */
static void test_put_no_hub(void **state)
{
    const struct conn_env env = env_of(-1);
    struct conn c;
    struct result r;

    (void)state;
    conn_start(&c, &env);
    take(&c, feed(&c, "\x01\x08", 2, 1), &r);
    assert_status(&r, WIRE_BAD_REQUEST, 0);
    conn_end(&c);
}

/* The client closes halfway: no answer, and the half-written file, mode 0
 * while it is written, goes. */
static void test_put_client_vanishes(void **state)
{
    struct script s = all_ok();
    struct conn_env env;
    struct conn c;
    struct result r;
    struct hub h;
    uint8_t *msg;
    size_t n = put_msg(&msg, "half.txt", 8, "0123456789", 10, 10, NULL);

    (void)state;
    hub_start(&h, &s, true);
    env = env_of(h.sv[0]);
    conn_start(&c, &env);
    assert_int_equal(feed(&c, msg, n - 5, 1), CONN_READ);
    assert_int_equal(temps(), 1);
    assert_int_equal(temp_mode(), 0);
    c.eof = true;
    take(&c, c.h->input(&c, NOW), &r);
    assert_int_equal(r.want, CONN_DONE);
    assert_int_equal(r.out_len, 0);
    assert_non_null(r.problem);
    assert_false(r.server_fault);
    assert_int_equal(temps(), 0);
    conn_end(&c);
    hub_stop(&h);
    assert_int_equal(h.nasked, 1);
    assert_int_equal(read_file("half.txt", (char[8]){0}, 8), -1);
    free(msg);
}

/* A GET of temp answers NOT_FOUND, and a LIST counts listed files. */
static void assert_temp_hidden(const struct conn_env *env, const char *temp, uint32_t listed)
{
    uint8_t req[64], ver, st;
    uint32_t count;
    struct result r;
    struct conn c;

    conn_start_k(&c, env, 1);
    take(&c, feed(&c, req, wire_get_encode(req, sizeof(req), 1, temp, strlen(temp), 0, 100), 64),
         &r);
    assert_status(&r, WIRE_NOT_FOUND, 0);
    conn_end(&c);
    conn_start_k(&c, env, 1);
    wire_list_encode(req);
    assert_int_equal(feed(&c, req, WIRE_REQUEST_HEADER, 4), CONN_WRITE);
    assert_int_equal(wire_list_header_parse(c.out + c.out_off, &ver, &st, &count), 0);
    assert_int_equal(st, WIRE_OK);
    assert_int_equal(count, listed);
    conn_end(&c);
}

/* The temporary file of an upload under way (mode 0) is not there for
 * native clients, --serve-hidden or not: GET answers NOT_FOUND, LIST
 * leaves it out (and shows a dot-file only with the flag). */
static void test_put_temp_hidden(void **state)
{
    struct script s = all_ok();
    struct conn_env env;
    struct conn up;
    struct hub h;
    uint8_t *msg;
    char temp[sizeof(((struct dirent *)0)->d_name)] = "";
    size_t n = put_msg(&msg, "wip.txt", 7, "0123456789", 10, 10, NULL);
    DIR *d;
    struct dirent *e;

    (void)state;
    write_file("shown.txt", "x");
    write_file(".dot", "d");
    hub_start(&h, &s, true);
    env = env_of(h.sv[0]);
    conn_start_k(&up, &env, 0);
    assert_int_equal(feed(&up, msg, n - 5, n), CONN_READ);
    assert_non_null(d = opendir(root));
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, PUT_TEMP_PREFIX, strlen(PUT_TEMP_PREFIX)) == 0)
            snprintf(temp, sizeof(temp), "%s", e->d_name);
    closedir(d);
    assert_int_equal(strlen(temp), PUT_TEMP_LEN);
    env.tree_flags = 0;
    assert_temp_hidden(&env, temp, 1); /* shown.txt alone */
    env.tree_flags = TREE_HIDDEN;
    assert_temp_hidden(&env, temp, 2); /* .dot and shown.txt */
    conn_end(&up);
    hub_stop(&h);
    free(msg);
    assert_int_equal(temps(), 0);
}

/* A client that stalls (--io-timeout) or trickles (--min-rate) is cut,
 * and its file goes; one that keeps the rate goes on. */
static void test_put_client_stalls(void **state)
{
    struct script s = all_ok();
    struct conn_env env;
    struct conn c;
    struct result r;
    struct hub h;
    uint8_t *msg, filler[20000] = {0};
    size_t head = WIRE_PUT_HEADER + 8;

    (void)state;
    put_msg(&msg, "slow.txt", 8, filler, sizeof(filler), sizeof(filler), NULL);
    hub_start(&h, &s, true);
    /* --io-timeout: no byte for 30 s. */
    env = env_of(h.sv[0]);
    env.min_rate = 0;
    conn_start(&c, &env);
    assert_int_equal(feed(&c, msg, head + 100, head + 100), CONN_READ);
    assert_true(c.read_deadline == NOW + 30 * SEC);
    take(&c, c.h->expired(&c, NOW + 30 * SEC), &r);
    assert_int_equal(r.want, CONN_DONE);
    assert_int_equal(r.err, ETIMEDOUT);
    assert_int_equal(temps(), 0);
    conn_end(&c);
    /* --min-rate: 10 KiB in the first 10 s keeps it; 100 bytes in the
     * next is too slow. */
    env.min_rate = 1024;
    conn_start(&c, &env);
    assert_int_equal(feed(&c, msg, head + 10240, head + 10240), CONN_READ);
    assert_true(c.read_deadline == NOW + 10 * SEC);
    assert_int_equal(c.h->expired(&c, NOW + 10 * SEC), CONN_READ);
    assert_true(c.read_deadline == NOW + 20 * SEC);
    assert_int_equal(feed(&c, msg + head + 10240, 100, 100), CONN_READ);
    take(&c, c.h->expired(&c, NOW + 20 * SEC), &r);
    assert_int_equal(r.want, CONN_DONE);
    assert_string_equal(r.problem, "client too slow: below --min-rate");
    assert_int_equal(temps(), 0);
    conn_end(&c);
    hub_stop(&h);
    free(msg);
}

/* A hub that takes the question and never answers: SERVER_ERROR after the
 * timeout; one that is down (nobody reads): the same. */
static void test_put_hub_silent(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;
    struct timespec t0, t1;
    int64_t ms;

    (void)state;
    s.silent[HUBIPC_AUTH] = true;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    upload(&s, true, "a.txt", "abc", 3, NULL, 3, &r, &h);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_status(&r, WIRE_SERVER_ERROR, 0);
    assert_true(r.server_fault);
    assert_int_equal(r.err, ETIMEDOUT);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= HUB_WAIT && ms < HUB_WAIT + 1000);
    assert_int_equal(temps(), 0);
    upload(&s, false, "a.txt", "abc", 3, NULL, 3, &r, &h);
    assert_status(&r, WIRE_SERVER_ERROR, 0);
    assert_int_equal(temps(), 0);
}

/* The hub gone for good (its end closed): SERVER_ERROR at once. */
static void test_put_hub_gone(void **state)
{
    struct script s = all_ok();
    struct conn_env env;
    struct conn c;
    struct result r;
    struct hub h;
    uint8_t *msg;
    size_t n = put_msg(&msg, "a.txt", 5, "abc", 3, 3, NULL);

    (void)state;
    hub_start(&h, &s, false);
    close(h.sv[1]);
    h.sv[1] = -1;
    env = env_of(h.sv[0]);
    conn_start(&c, &env);
    take(&c, feed(&c, msg, n, n), &r);
    assert_status(&r, WIRE_SERVER_ERROR, 0);
    assert_string_equal(r.problem, "hub unreachable");
    conn_end(&c);
    hub_stop(&h);
    free(msg);
}

/* The announcement fails after the file is in place: it is taken back, so
 * that nothing unannounced stays and a retry finds the name free. */
static void test_put_announce_fails(void **state)
{
    struct script s = all_ok();
    struct result r;
    struct hub h;

    (void)state;
    s.silent[HUBIPC_ANNOUNCE] = true;
    upload(&s, true, "late.txt", "abc", 3, NULL, 3, &r, &h);
    assert_status(&r, WIRE_SERVER_ERROR, 0);
    assert_int_equal(h.nasked, 3);
    assert_int_equal(read_file("late.txt", (char[8]){0}, 8), -1);
    assert_int_equal(temps(), 0);
    s.silent[HUBIPC_ANNOUNCE] = false;
    s.status[HUBIPC_ANNOUNCE] = WIRE_UNAUTHORIZED; /* the session ended meanwhile */
    upload(&s, true, "late.txt", "abc", 3, NULL, 3, &r, &h);
    assert_status(&r, WIRE_UNAUTHORIZED, 0);
    assert_int_equal(read_file("late.txt", (char[8]){0}, 8), -1);
}

/* The disk refuses a write (a file size limit stands in for a full disk):
 * SERVER_ERROR, and no file under either name. */
static void test_put_write_fails(void **state)
{
    static uint8_t content[8192];
    struct script s = all_ok();
    struct rlimit old, small;
    struct result r;
    struct hub h;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 1000;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    upload(&s, true, "full.bin", content, sizeof(content), NULL, 4096, &r, &h);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_status(&r, WIRE_SERVER_ERROR, 0);
    assert_int_equal(r.err, EFBIG);
    assert_int_equal(h.nasked, 1);
    assert_int_equal(read_file("full.bin", (char[8]){0}, 8), -1);
    assert_int_equal(temps(), 0);
}

/* Through a real socket and the connection engine (conn.c's reads, the
 * answer's send and the lingering close), as every driver runs it. */
static void test_put_through_socket(void **state)
{
    static uint8_t content[100000];
    static char got[sizeof(content) + 1];
    struct sockaddr_in peer = {.sin_family = AF_INET};
    struct script s = all_ok();
    struct conn_env env;
    struct conn c;
    struct hub h;
    uint8_t *msg, answer[WIRE_RESPONSE_LEN];
    size_t n, at = 0;
    enum conn_wait want;
    int sv[2];

    (void)state;
    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (uint8_t)(i ^ (i >> 9));
    n = put_msg(&msg, "sock.bin", 8, content, sizeof(content), sizeof(content), NULL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    hub_start(&h, &s, true);
    env = env_of(h.sv[0]);
    assert_int_equal(conn_init(&c, CONN_STATE_MAX), 0);
    c.rec = &env.recs[0];
    c.rec_k = 0;
    want = conn_open(&c, &env, &native_handler, sv[0], 0, (struct sockaddr *)&peer, NOW);
    while (want == CONN_READ && at < n) {
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        size_t chunk = n - at < 7000 ? n - at : 7000;

        assert_int_equal(write(sv[1], msg + at, chunk), (ssize_t)chunk);
        at += chunk;
        while (want == CONN_READ && !c.draining && poll(&p, 1, 0) > 0)
            want = conn_ready(&c, NOW);
    }
    assert_true(c.draining); /* answered: the lingering close waits for the client */
    assert_int_equal(read(sv[1], answer, sizeof(answer)), (ssize_t)sizeof(answer));
    assert_memory_equal(answer, "\x01\x02\x00\x00\x00\x00\x00\x00\x01\x86\xa0", 11);
    close(sv[1]);
    assert_int_equal(conn_ready(&c, NOW), CONN_DONE); /* the client's FIN ends the linger */
    conn_close(&c, NOW);
    conn_free(&c);
    hub_stop(&h);
    free(msg);
    assert_int_equal(read_file("sock.bin", got, sizeof(got)), sizeof(content));
    assert_memory_equal(got, content, sizeof(content));
    assert_int_equal(temps(), 0);
}

/* The answer does not depend on how the bytes arrive. */
static void same_either_way(const struct script *s, const char *name, const char *content,
                            const uint8_t *mac)
{
    size_t len = strlen(content);
    struct result whole, bytewise;
    struct hub h;
    char a[64], b[64];
    ssize_t na, nb;

    upload(s, true, name, content, len, mac, SIZE_MAX, &whole, &h);
    na = read_file(name, a, sizeof(a));
    empty_dir(NULL);
    upload(s, true, name, content, len, mac, 1, &bytewise, &h);
    nb = read_file(name, b, sizeof(b));
    empty_dir(NULL);
    assert_int_equal(whole.want, bytewise.want);
    assert_int_equal(whole.out_len, bytewise.out_len);
    assert_memory_equal(whole.out, bytewise.out, whole.out_len);
    assert_int_equal(na, nb);
    if (na > 0)
        assert_memory_equal(a, b, (size_t)na);
}

static void test_put_same_either_way(void **state)
{
    static const uint8_t mac[HUBIPC_MAC] = {1, 2, 3};
    struct script s = all_ok();

    (void)state;
    same_either_way(&s, "ok.txt", "some content", NULL);
    same_either_way(&s, ".hidden", "x", NULL);
    same_either_way(&s, "ten.txt", "0123456789", NULL);
    s.secure = true;
    same_either_way(&s, "sealed.txt", "sealed content", mac);
    s.status[HUBIPC_VERIFY] = WIRE_UNAUTHORIZED;
    same_either_way(&s, "forged.txt", "forged content", mac);
    s.status[HUBIPC_AUTH] = WIRE_UNAUTHORIZED;
    same_either_way(&s, "stranger.txt", "abc", NULL);
}

/* The sweep removes a dead worker's temporary file once it is older than
 * max_age, and nothing else: not a fresh one, not an ordinary file, not
 * a directory named like one. */
static void test_put_sweep(void **state)
{
    struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
    char buf[16];

    (void)state;
    write_file(".ferry-put-00000000000000aa", "dead");
    write_file(".ferry-put-00000000000000bb", "live");
    write_file("old.txt", "keep");
    assert_int_equal(mkdirat(dirfd_, ".ferry-put-00000000000000cc", 0700), 0);
    assert_int_equal(utimensat(dirfd_, ".ferry-put-00000000000000aa", old, 0), 0);
    assert_int_equal(utimensat(dirfd_, "old.txt", old, 0), 0);
    assert_int_equal(utimensat(dirfd_, ".ferry-put-00000000000000cc", old, 0), 0);
    assert_int_equal(put_sweep(dirfd_, 35, 1035), 0); /* 35 s old: not older than 35 */
    assert_int_equal(put_sweep(dirfd_, 35, 1036), 1);
    assert_int_equal(read_file(".ferry-put-00000000000000aa", buf, sizeof(buf)), -1);
    assert_int_equal(read_file(".ferry-put-00000000000000bb", buf, sizeof(buf)), 4);
    assert_int_equal(read_file("old.txt", buf, sizeof(buf)), 4);
    assert_int_equal(unlinkat(dirfd_, ".ferry-put-00000000000000cc", AT_REMOVEDIR), 0);
    assert_int_equal(put_sweep(-1, 35, 1037), -EBADF);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, empty_dir)
    const struct CMUnitTest tests[] = {
        T(test_put_ok),
        T(test_put_empty),
        T(test_put_secure),
        T(test_put_mac_refused),
        T(test_put_unauthorized),
        T(test_put_access_denied),
        T(test_put_access_denied_at_rename),
        T(test_put_replace),
        T(test_put_replace_not_a_file_it_placed),
        T(test_put_too_large),
        T(test_put_invalid_names),
        T(test_put_no_hub),
        T(test_put_client_vanishes),
        T(test_put_temp_hidden),
        T(test_put_client_stalls),
        T(test_put_hub_silent),
        T(test_put_hub_gone),
        T(test_put_announce_fails),
        T(test_put_write_fails),
        T(test_put_through_socket),
        T(test_put_same_either_way),
        T(test_put_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
