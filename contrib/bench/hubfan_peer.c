/*
 * hubfan_peer: what ferry-hub-bench talks to, and what it reads about
 * it. See hubfan.h.
 */
#include "hubfan.h"

#include "common/clock.h"
#include "worker/hub/store.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ the database */

/* All accounts get one salt and one password, so their verifier (the
 * Ed25519 public key of hubsec_account_key(), as hub_verifier() makes
 * it) is derived once: `ferryctl hub useradd` would pay one Argon2id
 * (~60 ms) per account. */
int hf_db_prepare(const char *path, unsigned n, struct hf_bench *b, const char **why)
{
    struct store *st;
    char id[16];
    int rc;

    *why = "store_open";
    if ((rc = store_open(path, &st)) < 0)
        return rc;
    randombytes_buf(b->salt, sizeof(b->salt));
    *why = "hubsec_account_key";
    if ((rc = hubsec_account_key(b->password, strlen(b->password), b->salt, b->pk, b->sk)) < 0)
        goto out;
    b->have_key = true;
    *why = "store_user_add";
    for (unsigned i = 0; i < n && rc == 0; i++) {
        snprintf(id, sizeof(id), "u%u", i);
        rc = store_user_add(st, id, b->salt, b->pk);
    }
    *why = "store_subscribe";
    for (unsigned i = 1; i < n && rc == 0; i++) {
        snprintf(id, sizeof(id), "u%u", i);
        rc = store_subscribe(st, id, "u0");
    }
out:
    store_close(st);
    return rc;
}

/* ------------------------------------------------------------ ferryd */

/* The value after key in the log text, up to a space or the line's end. */
static bool hf_log_value(const char *text, const char *key, char *out, size_t cap)
{
    const char *p = strstr(text, key);
    size_t n = 0;

    if (p == NULL)
        return false;
    p += strlen(key);
    while (p[n] != '\0' && p[n] != ' ' && p[n] != '\n' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
    return n > 0;
}

/* Reads ferryd's log: the hub's port and pid, and that it has its key
 * (secure) or runs (plain). 1 when all are there, 0 not yet. */
static int hf_ferryd_log(struct hf_ferryd *f, const char *path, bool plain)
{
    char text[16384], v[64];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    if (!hf_log_value(text, "listening on hub=127.0.0.1:", v, sizeof(v)))
        return 0;
    f->port = (unsigned)strtoul(v, NULL, 10);
    if (!hf_log_value(text, "hub started: pid ", v, sizeof(v)))
        return 0;
    f->hub_pid = (pid_t)strtol(v, NULL, 10);
    return plain || strstr(text, "hub: key ed25519:") != NULL;
}

/* argv: the wrapper's words, ferryd and its options. */
static void hf_ferryd_argv(const struct hf_ferryd *f, const char *ferryd, char *wrap, bool plain,
                           char paths[4][300], char **argv, size_t cap)
{
    size_t n = 0;
    char *save = NULL;

    for (char *w = wrap ? strtok_r(wrap, " ", &save) : NULL; w != NULL && n + 16 < cap;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    snprintf(paths[0], 300, "%s/hub.db", f->dir);
    snprintf(paths[1], 300, "%s/admin.sock", f->dir);
    snprintf(paths[2], 300, "%s/ferryd.log", f->dir);
    snprintf(paths[3], 300, "%s/files", f->dir);
    const char *rest[] = {ferryd,           "--listen",        "native=127.0.0.1:0",
                          "--listen",       "hub=127.0.0.1:0", "--hub-db",
                          paths[0],         "--hub-wire",      plain ? "plain" : "secure",
                          "--admin-socket", paths[1],          "--log-file",
                          paths[2],         paths[3]};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
        argv[n++] = (char *)rest[i];
    if (geteuid() == 0) { /* the serving processes' user: see hf_give() */
        argv[n++] = "--user";
        argv[n++] = HF_USER;
    }
    argv[n] = NULL;
}

/* As root, ferryd's hub and workers run as HF_USER (docs/SECURITY.md):
 * the bench's directory, its database and the served directory are given
 * to that user, as an operator gives them the hub's directory. Returns 0
 * or -errno. */
static int hf_give(const char *dir)
{
    struct passwd *pw = geteuid() == 0 ? getpwnam(HF_USER) : NULL;
    char path[600];
    struct dirent *e;
    DIR *d;
    int rc = 0;

    if (pw == NULL)
        return geteuid() == 0 ? -ENOENT : 0;
    if (chown(dir, pw->pw_uid, pw->pw_gid) < 0 || (d = opendir(dir)) == NULL)
        return -errno;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lchown(path, pw->pw_uid, pw->pw_gid) < 0)
            rc = -errno;
    }
    closedir(d);
    return rc;
}

int hf_ferryd_start(struct hf_ferryd *f, const char *ferryd, const char *wrap, bool plain,
                    int64_t wait_ns)
{
    char paths[4][300], wbuf[1024], *argv[64];
    int64_t end = clock_now_ns() + wait_ns;
    int st;

    snprintf(wbuf, sizeof(wbuf), "%s", wrap ? wrap : "");
    hf_ferryd_argv(f, ferryd, wrap ? wbuf : NULL, plain, paths, argv, 64);
    if (mkdir(paths[3], 0700) < 0 && errno != EEXIST)
        return -errno;
    if ((st = hf_give(f->dir)) < 0)
        return st;
    if ((f->pid = fork()) < 0)
        return -errno;
    if (f->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* the bench gone, ferryd goes too */
        execvp(argv[0], argv);
        _exit(127);
    }
    while (clock_now_ns() < end) {
        if (hf_ferryd_log(f, paths[2], plain) == 1)
            return 0;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = 0;
            return -ECHILD;
        }
        usleep(20000);
    }
    hf_ferryd_stop(f);
    return -ETIMEDOUT;
}

/* Waits for pid for ns at most; true when it was reaped. */
static bool hf_reap(pid_t pid, int64_t ns)
{
    int64_t end = clock_now_ns() + ns;
    int st;

    while (clock_now_ns() < end) {
        if (waitpid(pid, &st, WNOHANG) != 0)
            return true;
        usleep(10000);
    }
    return false;
}

void hf_ferryd_stop(struct hf_ferryd *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    if (!hf_reap(f->pid, 30000000000LL)) { /* valgrind writes its files first */
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    f->pid = 0;
}

/* ------------------------------------------------------------ the baseline relay */

struct hf_relay {
    int fd;
    const struct sockaddr_in *to; /* the followers' addresses, [1..n) */
    unsigned n;
    bool mmsg, secure;
    uint32_t msg_id;
    uint8_t (*buf)[HUBWIRE_MAX]; /* one datagram per follower */
    size_t *len;
    struct mmsghdr *mv;
    struct iovec *iov;
};

/* A datagram as the hub's, same size: on the secure wire with the
 * envelope, its tag zero and its payload in clear. */
static size_t hf_relay_encode(const struct hf_relay *r, uint8_t *out, uint8_t op, uint32_t token,
                              uint32_t msg_id, const void *p, size_t len)
{
    uint8_t tag[HUBWIRE_TAG] = {0};
    struct hubwire_msg m = {.op = op,
                            .len = (uint8_t)len,
                            .token = token,
                            .msg_id = msg_id,
                            .payload = p,
                            .secure = r->secure,
                            .seq = msg_id,
                            .tag = tag};

    return hubwire_encode(out, &m);
}

static void hf_relay_reply(struct hf_relay *r, const struct hubwire_msg *m, uint8_t op,
                           const void *p, size_t len, const struct sockaddr_in *from)
{
    uint8_t out[HUBWIRE_MAX];
    size_t n = hf_relay_encode(r, out, op, m->token, m->msg_id, p, len);

    sendto(r->fd, out, n, 0, (const struct sockaddr *)from, sizeof(*from));
}

/* The post's forwards, one sendto each or sendmmsg by 1,024. */
static void hf_relay_fanout(struct hf_relay *r, const struct hubwire_msg *m)
{
    uint8_t line[HUBWIRE_PAYLOAD_MAX];
    size_t len = 4 + (size_t)m->len;

    if (len > sizeof(line))
        return;
    memcpy(line, "<u0>", 4);
    memcpy(line + 4, m->payload, m->len);
    r->msg_id++;
    for (unsigned i = 1; i < r->n; i++) {
        r->len[i] = hf_relay_encode(r, r->buf[i], HUB_FORWARD, i + 1, r->msg_id, line, len);
        if (!r->mmsg)
            sendto(r->fd, r->buf[i], r->len[i], 0, (const struct sockaddr *)&r->to[i],
                   sizeof(r->to[i]));
    }
    for (unsigned i = 1; r->mmsg && i < r->n; i += 1024) {
        unsigned k = r->n - i < 1024 ? r->n - i : 1024;

        for (unsigned j = 0; j < k; j++) {
            r->iov[j] = (struct iovec){.iov_base = r->buf[i + j], .iov_len = r->len[i + j]};
            r->mv[j].msg_hdr = (struct msghdr){.msg_name = (void *)&r->to[i + j],
                                               .msg_namelen = sizeof(r->to[0]),
                                               .msg_iov = &r->iov[j],
                                               .msg_iovlen = 1};
        }
        sendmmsg(r->fd, r->mv, k, 0);
    }
}

/* One datagram: a post (acked, then fanned out), a keepalive (its ack),
 * a forward ack (taken), a reset (the end: false). */
static bool hf_relay_input(struct hf_relay *r, const uint8_t *p, size_t n,
                           const struct sockaddr_in *from)
{
    struct hubwire_msg m;
    char num[12];

    if (hubwire_parse(p, n, &m) < 0)
        return true;
    switch (m.op) {
    case HUB_POST:
        hf_relay_reply(r, &m, HUB_POST_ACK, num,
                       (size_t)snprintf(num, sizeof(num), "%" PRIu32, r->msg_id + 1), from);
        hf_relay_fanout(r, &m);
        return true;
    case HUB_KEEPALIVE:
        hf_relay_reply(r, &m, HUB_KEEPALIVE_ACK, NULL, 0, from);
        return true;
    case HUB_RESET:
        return false;
    }
    return true;
}

/* Takes datagrams one recvfrom() at a time until a reset. */
static void hf_relay_loop_one(struct hf_relay *r)
{
    uint8_t in[HUBWIRE_MAX + 1];
    struct sockaddr_in from;
    bool more = true;

    while (more) {
        socklen_t alen = sizeof(from);
        ssize_t n = recvfrom(r->fd, in, sizeof(in), 0, (struct sockaddr *)&from, &alen);

        if (n < 0 && errno != EINTR)
            return;
        if (n >= 0)
            more = hf_relay_input(r, in, (size_t)n, &from);
    }
}

/* The same by recvmmsg(), 64 at most per call. */
static void hf_relay_loop_mmsg(struct hf_relay *r)
{
    enum { BATCH = 64 };
    static uint8_t in[BATCH][HUBWIRE_MAX + 1];
    struct sockaddr_in from[BATCH];
    struct mmsghdr mv[BATCH];
    struct iovec iov[BATCH];
    bool more = true;

    for (int j = 0; j < BATCH; j++) {
        iov[j] = (struct iovec){.iov_base = in[j], .iov_len = sizeof(in[j])};
        mv[j].msg_hdr = (struct msghdr){.msg_name = &from[j], .msg_iov = &iov[j], .msg_iovlen = 1};
    }
    while (more) {
        int k;

        for (int j = 0; j < BATCH; j++)
            mv[j].msg_hdr.msg_namelen = sizeof(from[j]);
        k = recvmmsg(r->fd, mv, BATCH, MSG_WAITFORONE, NULL);
        if (k < 0 && errno != EINTR)
            return;
        for (int j = 0; j < k && more; j++)
            more = hf_relay_input(r, in[j], mv[j].msg_len, &from[j]);
    }
}

/* The child: PDEATHSIG and alarm bound its life. */
static void hf_relay_child(struct hf_relay *r, unsigned seconds)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(seconds);
    r->buf = calloc(r->n, sizeof(*r->buf));
    r->len = calloc(r->n, sizeof(*r->len));
    r->mv = calloc(1024, sizeof(*r->mv));
    r->iov = calloc(1024, sizeof(*r->iov));
    if (r->buf == NULL || r->len == NULL || r->mv == NULL || r->iov == NULL)
        _exit(1);
    if (r->mmsg)
        hf_relay_loop_mmsg(r);
    else
        hf_relay_loop_one(r);
    _exit(0);
}

/* The relay's socket on 127.0.0.1:0, its address in addr. fd or -errno. */
static int hf_relay_socket(struct sockaddr_in *addr)
{
    socklen_t len = sizeof(*addr);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* The followers' addresses, as the relay sends to them. 0 or -errno. */
static int hf_relay_targets(const struct hf_bench *b, struct sockaddr_in *to)
{
    for (unsigned i = 0; i < b->n; i++) {
        socklen_t len = sizeof(to[i]);

        if (getsockname(b->s[i].fd, (struct sockaddr *)&to[i], &len) < 0)
            return -errno;
    }
    return 0;
}

pid_t hf_relay_start(const struct hf_bench *b, bool mmsg, struct sockaddr_in *addr)
{
    struct hf_relay r = {.n = b->n, .mmsg = mmsg, .secure = b->secure};
    struct sockaddr_in *to = calloc(b->n, sizeof(*to));
    int64_t left = (b->end_ns - clock_now_ns()) / 1000000000 + 5;
    pid_t pid;
    int rc;

    if (to == NULL)
        return -ENOMEM;
    r.to = to;
    if ((rc = hf_relay_targets(b, to)) < 0 || (rc = r.fd = hf_relay_socket(addr)) < 0) {
        free(to);
        return rc;
    }
    if (b->relay_rcvbuf > 0)
        setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &b->relay_rcvbuf, sizeof(b->relay_rcvbuf));
    if ((pid = fork()) == 0)
        hf_relay_child(&r, left > 0 ? (unsigned)left : 5);
    rc = pid < 0 ? -errno : pid;
    close(r.fd);
    free(to);
    return rc;
}

void hf_relay_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    if (!hf_reap(pid, 1000000000LL)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* ------------------------------------------------------------ /proc */

int64_t hf_cpu_ns(pid_t pid)
{
    char path[64];
    long long ns = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    if (fscanf(f, "%lld", &ns) != 1)
        ns = -1;
    fclose(f);
    return ns;
}

/* The value of column name in snmp's Udp: header and value lines. */
static uint64_t hf_udp_col(char *head, char *vals, const char *name)
{
    char *hs = NULL, *vs = NULL;
    char *h = strtok_r(head, " \n", &hs), *v = strtok_r(vals, " \n", &vs);

    while (h != NULL && v != NULL) {
        if (strcmp(h, name) == 0)
            return strtoull(v, NULL, 10);
        h = strtok_r(NULL, " \n", &hs);
        v = strtok_r(NULL, " \n", &vs);
    }
    return 0;
}

void hf_udp_read(struct hf_udp *u)
{
    char line[1024], head[1024] = "", vals[1024] = "";
    FILE *f = fopen("/proc/net/snmp", "re");
    const char *names[] = {"InDatagrams", "OutDatagrams", "RcvbufErrors", "SndbufErrors"};
    uint64_t *out[] = {&u->in, &u->out, &u->rcvbuf_err, &u->sndbuf_err};

    memset(u, 0, sizeof(*u));
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Udp: ", 5) != 0)
            continue;
        if (head[0] == '\0')
            snprintf(head, sizeof(head), "%s", line);
        else
            snprintf(vals, sizeof(vals), "%s", line);
    }
    if (f != NULL)
        fclose(f);
    for (size_t i = 0; i < 4; i++) {
        char h[1024], v[1024];

        memcpy(h, head, sizeof(h));
        memcpy(v, vals, sizeof(v));
        *out[i] = hf_udp_col(h, v, names[i]);
    }
}

uint64_t hf_udp_drops(unsigned port)
{
    char line[512];
    FILE *f = fopen("/proc/net/udp", "re");
    unsigned long long drops = 0, d;
    unsigned addr, p;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops */
        if (sscanf(line, " %*d: %x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*d %*u %*d %*s %llu",
                   &addr, &p, &d) == 3 &&
            p == port && addr == 0x0100007f)
            drops += d;
    }
    if (f != NULL)
        fclose(f);
    return drops;
}

int hf_hook(const char *cmd, const char *what, const char *label, pid_t pid)
{
    char line[2048];

    if (cmd == NULL)
        return 0;
    snprintf(line, sizeof(line), "%s %s '%s' %d", cmd, what, label, (int)pid);
    return system(line);
}
