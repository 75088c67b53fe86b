/*
 * ferry-hub-bench: the hub's fan-out, measured (issue 10; docs/HUB.md,
 * docs/BENCHMARKS.md "Hub fan-out").
 *
 *   ferry-hub-bench [-n SESSIONS] [-k POSTS] [--wire secure|plain] [--quick] [options]
 *
 * 1. Makes a hub database before ferryd starts: accounts u0..u{N-1},
 *    one salt and one password for all (so the verifier costs one
 *    Argon2id, not N as `ferryctl hub useradd` would), u1..u{N-1}
 *    following u0; then starts ferryd on a temporary directory with
 *    --listen hub=127.0.0.1:0 and reads the hub's port and pid from its
 *    log. (--host/--port: a hub already running, its accounts made by
 *    --prepare DB.)
 * 2. Logs N sessions in, one UDP socket each, WINDOW handshakes in
 *    flight: HELLO, CHALLENGE (the hub's signature checked), PROOF sealed,
 *    0x80 sealed; or on --wire plain "u{i}&password", which costs the hub
 *    one Argon2id each.
 * 3. K rounds: u0 posts, every follower acks its forward (sealed), and the
 *    round ends once u0's drain mark (a keepalive sent after the last
 *    delivery) is answered: the hub reads its socket in order, so by then
 *    it has taken every ack sent before. Per round: the time from the
 *    post to the last delivery, and to the mark's answer; datagrams per
 *    second are everything sent and received in the rounds over the sum
 *    of those times. The hub's CPU time comes from /proc/PID/schedstat,
 *    the kernel's UDP drops from /proc/net/snmp.
 * 4. The baseline, same run, same sockets: a relay process that takes the
 *    post and sends a datagram of the forward's size to each follower
 *    (sendto each, then sendmmsg), and takes the acks: what the kernel
 *    and loopback allow here, with nothing of the hub's work.
 *
 * --around CMD runs "CMD start LABEL PID" before each peer's rounds and
 * "CMD stop LABEL PID" after (strace -c, callgrind_control; see
 * hub-fanout.sh). Prints a summary, a markdown table and RESULT lines.
 * Exits 0 when every login and every delivery to the hub succeeded, 1
 * when not, 2 on a usage error.
 */
#include "hubfan.h"

#include "common/clock.h"
#include "common/duration.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HF_PEERS 3 /* the hub and two baselines */

struct hf_opts {
    unsigned n, k, size, window;
    bool plain, quick, keep, sendto_base, mmsg_base, verbose;
    const char *ferryd, *wrap, *host, *prepare, *around, *dir;
    unsigned port, relay_rcvbuf;
    pid_t hub_pid;
    int64_t timeout_ns, round_ns, settle_ns;
    char ferryd_buf[PATH_MAX];
};

/* One peer's rounds and what was counted around them. */
struct hf_phase {
    const char *label;
    const char *key; /* the label in RESULT lines: hub, sendto, sendmmsg */
    struct hf_round *r;
    unsigned k, ok;
    struct hf_counts c;
    struct hf_udp udp;
    unsigned port;              /* the peer's */
    uint64_t drops;             /* by the peer's socket, during the rounds */
    int64_t peer_cpu, self_cpu; /* ns; -1 unknown */
    int64_t peer_cpu_all;       /* the settle's too: the peer's late retransmissions */
    uint64_t settle_dgrams;     /* sent and received by the bench in the settle */
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: ferry-hub-bench [options]\n"
        "  -n, --sessions N      sessions: u0 posts, u1..u{N-1} follow [1000]\n"
        "  -k, --posts K         posts, one at a time [20]\n"
        "      --quick           -n 50 -k 3, a few seconds\n"
        "      --wire W          secure or plain [secure]\n"
        "      --size BYTES      a post's text, at most 200 [64]\n"
        "      --window N        handshakes in flight [64 secure, 4 plain]\n"
        "      --ferryd PATH     [ferryd beside this program]\n"
        "      --wrap 'CMD ...'  run ferryd under CMD (valgrind ...)\n"
        "      --host ADDR --port P  a running hub (accounts from --prepare)\n"
        "      --hub-pid PID     with --host: the hub's pid, for its CPU time\n"
        "      --prepare DB      make the accounts in DB and exit\n"
        "      --baseline LIST   sendto,sendmmsg, or none [sendto,sendmmsg]\n"
        "      --relay-rcvbuf B  the relay's SO_RCVBUF [the kernel's default, as the hub's]\n"
        "      --around CMD      run 'CMD start|stop LABEL PID' around each peer's rounds\n"
        "      --timeout D       the whole run at most [300s; --quick 60s]\n"
        "      --round-timeout D one fan-out at most [30s]\n"
        "      --settle D        take late retransmissions after the rounds [2s; --quick 600ms]\n"
        "      --dir DIR         where the temporary directory goes [/tmp]\n"
        "      --keep            keep it (database, ferryd.log)\n"
        "  -v, --verbose         one line per fan-out\n"
        "  -h, --help\n");
}

/* ------------------------------------------------------------ options */

static int opt_unsigned(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int opt_duration(const char *s, int64_t *ns)
{
    uint64_t ms;

    if (dur_parse(s, &ms) < 0 || ms == 0 || ms > 86400000)
        return -1;
    *ns = (int64_t)ms * 1000000;
    return 0;
}

static int opt_baseline(struct hf_opts *o, const char *s)
{
    o->sendto_base = strstr(s, "sendto") != NULL;
    o->mmsg_base = strstr(s, "sendmmsg") != NULL;
    return o->sendto_base || o->mmsg_base || strcmp(s, "none") == 0 ? 0 : -1;
}

enum {
    O_QUICK = 256,
    O_WIRE,
    O_SIZE,
    O_WINDOW,
    O_FERRYD,
    O_WRAP,
    O_HOST,
    O_PORT,
    O_HUBPID,
    O_PREPARE,
    O_BASELINE,
    O_RCVBUF,
    O_AROUND,
    O_TIMEOUT,
    O_ROUND,
    O_SETTLE,
    O_DIR,
    O_KEEP
};

static const struct option hf_longopts[] = {
    {"sessions", required_argument, NULL, 'n'},
    {"posts", required_argument, NULL, 'k'},
    {"quick", no_argument, NULL, O_QUICK},
    {"wire", required_argument, NULL, O_WIRE},
    {"size", required_argument, NULL, O_SIZE},
    {"window", required_argument, NULL, O_WINDOW},
    {"ferryd", required_argument, NULL, O_FERRYD},
    {"wrap", required_argument, NULL, O_WRAP},
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"hub-pid", required_argument, NULL, O_HUBPID},
    {"prepare", required_argument, NULL, O_PREPARE},
    {"baseline", required_argument, NULL, O_BASELINE},
    {"relay-rcvbuf", required_argument, NULL, O_RCVBUF},
    {"around", required_argument, NULL, O_AROUND},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"round-timeout", required_argument, NULL, O_ROUND},
    {"settle", required_argument, NULL, O_SETTLE},
    {"dir", required_argument, NULL, O_DIR},
    {"keep", no_argument, NULL, O_KEEP},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One option; -1 for a bad value. */
static int opt_one(struct hf_opts *o, int c, const char *a)
{
    unsigned pid;

    switch (c) {
    case 'n':
        return opt_unsigned(a, 2, 100000, &o->n);
    case 'k':
        return opt_unsigned(a, 1, 100000, &o->k);
    case O_QUICK:
        o->quick = true;
        return 0;
    case O_WIRE:
        o->plain = strcmp(a, "plain") == 0;
        return o->plain || strcmp(a, "secure") == 0 ? 0 : -1;
    case O_SIZE:
        return opt_unsigned(a, 8, HUBWIRE_POST_MAX, &o->size);
    case O_WINDOW:
        return opt_unsigned(a, 1, 1024, &o->window);
    case O_FERRYD:
        o->ferryd = a;
        return 0;
    case O_WRAP:
        o->wrap = a;
        return 0;
    case O_HOST:
        o->host = a;
        return 0;
    case O_PORT:
        return opt_unsigned(a, 1, 65535, &o->port);
    case O_HUBPID:
        if (opt_unsigned(a, 1, INT_MAX, &pid) < 0)
            return -1;
        o->hub_pid = (pid_t)pid;
        return 0;
    case O_PREPARE:
        o->prepare = a;
        return 0;
    case O_BASELINE:
        return opt_baseline(o, a);
    case O_RCVBUF:
        return opt_unsigned(a, 1024, 1 << 30, &o->relay_rcvbuf);
    case O_AROUND:
        o->around = a;
        return 0;
    case O_TIMEOUT:
        return opt_duration(a, &o->timeout_ns);
    case O_ROUND:
        return opt_duration(a, &o->round_ns);
    case O_SETTLE:
        return opt_duration(a, &o->settle_ns);
    case O_DIR:
        o->dir = a;
        return 0;
    case O_KEEP:
        o->keep = true;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    }
    return -1;
}

/* ferryd beside this program, unless --ferryd. */
static void opt_ferryd(struct hf_opts *o)
{
    ssize_t n = readlink("/proc/self/exe", o->ferryd_buf, sizeof(o->ferryd_buf) - 8);
    char *slash;

    if (o->ferryd != NULL || n <= 0)
        return;
    o->ferryd_buf[n] = '\0';
    if ((slash = strrchr(o->ferryd_buf, '/')) != NULL) {
        strcpy(slash + 1, "ferryd");
        o->ferryd = o->ferryd_buf;
    }
}

/* Parses argv into o, defaults filled in. 0, 1 (help printed) or -1. */
static int opt_parse(struct hf_opts *o, int argc, char **argv)
{
    int c;

    *o = (struct hf_opts){.sendto_base = true, .mmsg_base = true, .dir = "/tmp"};
    while ((c = getopt_long(argc, argv, "n:k:vh", hf_longopts, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == '?' || opt_one(o, c, optarg) < 0) {
            if (c != '?')
                fprintf(stderr, "ferry-hub-bench: bad option value: %s\n", optarg);
            return -1;
        }
    }
    if (optind < argc || (o->host != NULL) != (o->port != 0)) {
        fprintf(stderr, "ferry-hub-bench: %s\n",
                optind < argc ? "no operands are taken" : "--host and --port go together");
        return -1;
    }
    o->n = o->n ? o->n : o->quick ? 50 : 1000;
    o->k = o->k ? o->k : o->quick ? 3 : 20;
    o->size = o->size ? o->size : 64;
    o->window = o->window ? o->window : o->plain ? 4 : 64;
    o->timeout_ns = o->timeout_ns ? o->timeout_ns : (o->quick ? 60 : 300) * 1000000000LL;
    o->round_ns = o->round_ns ? o->round_ns : 30000000000LL;
    o->settle_ns = o->settle_ns ? o->settle_ns : o->quick ? 600000000LL : 2000000000LL;
    opt_ferryd(o);
    return 0;
}

/* ------------------------------------------------------------ the set-up */

/* Room for n sockets and a few more. 0, or -1 said. */
static int hf_rlimit(unsigned n)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)n + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max < need) {
        fprintf(stderr,
                "ferry-hub-bench: %u sockets need %llu descriptors, the hard limit is %llu\n", n,
                (unsigned long long)need, (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : -1;
}

static void hf_rmdir(const char *dir)
{
    char sub[PATH_MAX];
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        if (unlink(sub) < 0)
            hf_rmdir(sub);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

/* The database, then ferryd. 0, or -1 said. */
static int hf_setup(const struct hf_opts *o, struct hf_bench *b, struct hf_ferryd *f)
{
    char db[sizeof(f->dir) + 16];
    const char *why;
    int64_t t = clock_now_ns();
    int rc;

    if (o->ferryd == NULL || access(o->ferryd, X_OK) < 0) {
        fprintf(stderr, "ferry-hub-bench: no ferryd to run (%s): --ferryd PATH\n",
                o->ferryd ? o->ferryd : "none found");
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/ferry-hub-bench-XXXXXX", o->dir);
    if (mkdtemp(f->dir) == NULL) {
        fprintf(stderr, "ferry-hub-bench: mkdtemp %s: %s\n", f->dir, strerror(errno));
        return -1;
    }
    snprintf(db, sizeof(db), "%s/hub.db", f->dir);
    if ((rc = hf_db_prepare(db, o->n, b, &why)) < 0) {
        fprintf(stderr, "ferry-hub-bench: %s: %s: %s\n", db, why, strerror(-rc));
        return -1;
    }
    printf("database: %u accounts and %u subscriptions in %.2f s (one Argon2id, one commit each)\n",
           o->n, o->n - 1, (double)(clock_now_ns() - t) / 1e9);
    if ((rc = hf_ferryd_start(f, o->ferryd, o->wrap, o->plain,
                              o->wrap ? 120000000000LL : 10000000000LL)) < 0) {
        fprintf(stderr,
                "ferry-hub-bench: ferryd (%s) did not start its hub: %s; see %s/ferryd.log\n",
                o->ferryd, strerror(-rc), f->dir);
        return -1;
    }
    printf("ferryd: pid %d, hub pid %d on 127.0.0.1:%u (%s wire), in %s\n", (int)f->pid,
           (int)f->hub_pid, f->port, o->plain ? "plain" : "secure", f->dir);
    return 0;
}

/* The hub's address: an IPv4 literal. 0, or -1 said. */
static int hf_peer_addr(struct sockaddr_in *a, const char *host, unsigned port)
{
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) == 1)
        return 0;
    fprintf(stderr, "ferry-hub-bench: --host takes an IPv4 address: %s\n", host);
    return -1;
}

/* ------------------------------------------------------------ phases */

static int64_t hf_self_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void hf_counts_sub(struct hf_counts *d, const struct hf_counts *a, const struct hf_counts *b)
{
    d->sent = a->sent - b->sent;
    d->received = a->received - b->received;
    d->fwd_dup = a->fwd_dup - b->fwd_dup;
    d->fwd_stale = a->fwd_stale - b->fwd_stale;
    d->retx = a->retx - b->retx;
    d->bad = a->bad - b->bad;
    d->resets = a->resets - b->resets;
    d->login_fail = a->login_fail - b->login_fail;
    d->send_err = a->send_err - b->send_err;
}

/* Logs every session in; prints the login figures. 0, or -1 when u0 or
 * every follower failed. */
static int hf_logins(struct hf_bench *b, const struct hf_opts *o, pid_t hub)
{
    struct hf_counts c0 = b->c, d;
    int64_t cpu = hub > 0 ? hf_cpu_ns(hub) : -1, t = clock_now_ns(), ns;
    unsigned online = hf_login_all(b);

    ns = clock_now_ns() - t;
    cpu = cpu >= 0 && hf_cpu_ns(hub) >= 0 ? hf_cpu_ns(hub) - cpu : -1;
    hf_counts_sub(&d, &b->c, &c0);
    printf("logins: %u of %u in %.3f s: %.0f logins/s (%s wire, %u handshakes in flight at most; "
           "%" PRIu64 " steps sent again, %" PRIu64 " failed, %" PRIu64 " answers not ours",
           online, o->n, (double)ns / 1e9, online / ((double)ns / 1e9),
           o->plain ? "plain" : "secure", o->window, d.retx, d.login_fail, d.bad);
    if (b->kdf_ns > 0)
        printf("; the client's one Argon2id, %.0f ms, included", (double)b->kdf_ns / 1e6);
    printf(")\n");
    if (cpu >= 0 && online > 0)
        printf("  hub CPU         %.3f ms per login\n", (double)cpu / 1e6 / online);
    printf("RESULT peer=login wire=%s n=%u logins=%u s=%.3f logins_s=%.0f retx=%" PRIu64 "\n",
           o->plain ? "plain" : "secure", o->n, online, (double)ns / 1e9,
           online / ((double)ns / 1e9), d.retx);
    return b->s[0].state == HF_ONLINE && online > 1 ? 0 : -1;
}

/* K rounds against the peer at pid (its CPU time, the hook's argument). */
static void hf_phase(struct hf_bench *b, const struct hf_opts *o, pid_t pid, struct hf_phase *ph)
{
    struct hf_counts c0 = b->c, c1;
    struct hf_udp u0, u1;
    int64_t p0, s0;
    uint64_t d0;

    hf_hook(o->around, "start", ph->key, pid);
    hf_udp_read(&u0);
    d0 = hf_udp_drops(ph->port);
    p0 = pid > 0 ? hf_cpu_ns(pid) : -1;
    s0 = hf_self_cpu();
    for (unsigned k = 0; k < o->k && clock_now_ns() < b->end_ns && !hf_stop; k++) {
        const struct hf_round *r = &ph->r[k];

        ph->ok += hf_round(b, k, &ph->r[k]) == 0;
        ph->k++;
        if (o->verbose)
            printf("  %s #%u: ack %.3f first %.3f last %.3f done %.3f ms, %u/%u, %" PRIu64
                   " datagrams\n",
                   ph->key, k, r->ack_ns / 1e6, r->first_ns / 1e6, r->last_ns / 1e6,
                   r->done_ns / 1e6, r->delivered, r->expected, r->dgrams);
        if (b->s[0].state != HF_ONLINE)
            break;
    }
    ph->self_cpu = hf_self_cpu() - s0;
    ph->peer_cpu = p0 >= 0 && hf_cpu_ns(pid) >= 0 ? hf_cpu_ns(pid) - p0 : -1;
    hf_udp_read(&u1);
    ph->drops = hf_udp_drops(ph->port) - d0;
    hf_hook(o->around, "stop", ph->key, pid);
    c1 = b->c;
    hf_settle(b, o->settle_ns);
    ph->settle_dgrams = b->c.sent + b->c.received - c1.sent - c1.received;
    ph->peer_cpu_all = p0 >= 0 && hf_cpu_ns(pid) >= 0 ? hf_cpu_ns(pid) - p0 : -1;
    hf_counts_sub(&ph->c, &b->c, &c0);
    ph->udp = (struct hf_udp){.in = u1.in - u0.in,
                              .out = u1.out - u0.out,
                              .rcvbuf_err = u1.rcvbuf_err - u0.rcvbuf_err,
                              .sndbuf_err = u1.sndbuf_err - u0.sndbuf_err};
}

/* A baseline: the relay on the same sockets. 0 or -1 said. */
static int hf_baseline(struct hf_bench *b, const struct hf_opts *o, bool mmsg, struct hf_phase *ph)
{
    struct sockaddr_in at;
    pid_t pid = hf_relay_start(b, mmsg, &at);
    int rc;

    if (pid < 0 || (rc = hf_repoint(b, &at)) < 0) {
        fprintf(stderr, "ferry-hub-bench: the baseline relay: %s\n",
                strerror(pid < 0 ? -(int)pid : -rc));
        hf_relay_stop(pid);
        return -1;
    }
    b->crypto = false;
    b->relay = true;
    ph->port = ntohs(at.sin_port);
    hf_phase(b, o, pid, ph);
    hf_bye(b);
    hf_relay_stop(pid);
    return 0;
}

/* ------------------------------------------------------------ the report */

static int hf_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The nearest-rank q-quantile of the n sorted values v, in ms. */
static double hf_q(const int64_t *v, unsigned n, double q)
{
    unsigned i = (unsigned)(q * n + 0.999999);

    if (n == 0)
        return 0;
    return (double)v[i == 0 ? 0 : i - 1 > n - 1 ? n - 1 : i - 1] / 1e6;
}

/* The figures of a phase's completed rounds, sorted. */
struct hf_fig {
    unsigned n;
    int64_t last[1024], first[1024], done[1024], ack[1024];
    uint64_t dgrams, lost, forwards;
    uint64_t handled; /* dgrams less those the peer's socket dropped */
    int64_t busy;     /* the sum of the rounds' times */
};

/* Every round counts for the datagrams, the time and the CPU (the
 * windows of strace, perf and /proc); the complete ones for the times. */
static void hf_figures(const struct hf_phase *ph, struct hf_fig *f)
{
    memset(f, 0, sizeof(*f));
    for (unsigned k = 0; k < ph->k; k++) {
        const struct hf_round *r = &ph->r[k];

        f->lost += r->expected - r->delivered;
        f->dgrams += r->dgrams;
        f->forwards += r->forwards;
        f->busy += r->elapsed_ns;
        if (r->done_ns == 0 || r->delivered != r->expected || f->n == 1024)
            continue;
        f->last[f->n] = r->last_ns;
        f->first[f->n] = r->first_ns;
        f->done[f->n] = r->done_ns;
        f->ack[f->n++] = r->ack_ns;
    }
    f->handled = f->dgrams > ph->drops ? f->dgrams - ph->drops : 0;
    qsort(f->last, f->n, sizeof(int64_t), hf_cmp64);
    qsort(f->first, f->n, sizeof(int64_t), hf_cmp64);
    qsort(f->done, f->n, sizeof(int64_t), hf_cmp64);
    qsort(f->ack, f->n, sizeof(int64_t), hf_cmp64);
}

/* Datagrams the peer handled per second of fan-out, and its CPU per
 * datagram in us (-1 unknown). */
static double hf_rate(const struct hf_fig *f)
{
    return f->busy > 0 ? (double)f->handled / ((double)f->busy / 1e9) : 0;
}

static double hf_cpu_per(const struct hf_phase *ph, const struct hf_fig *f)
{
    return ph->peer_cpu >= 0 && f->handled > 0 ? (double)ph->peer_cpu / 1e3 / (double)f->handled
                                               : -1;
}

static void hf_print_times(const struct hf_fig *f)
{
    printf("  post ack        median %.3f ms\n", hf_q(f->ack, f->n, 0.5));
    printf("  first delivery  median %.3f ms\n", hf_q(f->first, f->n, 0.5));
    printf("  last delivery   min %.3f  median %.3f  p90 %.3f  max %.3f ms\n",
           hf_q(f->last, f->n, 0), hf_q(f->last, f->n, 0.5), hf_q(f->last, f->n, 0.9),
           hf_q(f->last, f->n, 1));
    printf("  all acks read   median %.3f ms (the drain mark answered)\n",
           hf_q(f->done, f->n, 0.5));
}

static void hf_print_phase(const struct hf_phase *ph, const struct hf_fig *f, unsigned followers,
                           const struct hf_opts *o)
{
    printf("\n%s: %u of %u fan-outs to %u followers complete\n", ph->label, ph->ok, ph->k,
           followers);
    hf_print_times(f);
    printf("  datagrams       %" PRIu64 " sent and received by the bench, %" PRIu64
           " of them dropped by the peer's socket: %" PRIu64 " handled in %.3f s: %.0f/s\n",
           f->dgrams, ph->drops, f->handled, (double)f->busy / 1e9, hf_rate(f));
    if (ph->peer_cpu >= 0 && ph->k > 0)
        printf("  peer CPU        %.2f ms per fan-out, %.2f us per datagram handled\n",
               (double)ph->peer_cpu / 1e6 / ph->k, hf_cpu_per(ph, f));
    if (ph->peer_cpu_all >= 0 && ph->k > 0)
        printf("  and after them  %.2f ms of peer CPU and %.0f datagrams per fan-out with what "
               "came in the %.1f s after the rounds (late retransmissions, their acks)\n",
               (double)ph->peer_cpu_all / 1e6 / ph->k,
               (double)(f->dgrams + ph->settle_dgrams) / ph->k, (double)o->settle_ns / 1e9);
    printf("  bench CPU       %.2f ms per fan-out\n", (double)ph->self_cpu / 1e6 / ph->k);
    printf("  forwards again  %" PRIu64 " (the peer's retransmissions), stale %" PRIu64
           ", lost %" PRIu64 ", not ours %" PRIu64 ", resets %" PRIu64 ", our sends again %" PRIu64
           " (drain marks included), send errors %" PRIu64 "\n",
           ph->c.fwd_dup, ph->c.fwd_stale, f->lost, ph->c.bad, ph->c.resets, ph->c.retx,
           ph->c.send_err);
    printf("  kernel UDP      %" PRIu64 " in, %" PRIu64 " out, receive-buffer drops %" PRIu64
           ", send-buffer drops %" PRIu64 " (whole machine, during the rounds)\n",
           ph->udp.in, ph->udp.out, ph->udp.rcvbuf_err, ph->udp.sndbuf_err);
    printf("RESULT peer=%s fanouts=%u ok=%u followers=%u first_p50_ms=%.3f last_min_ms=%.3f "
           "last_p50_ms=%.3f last_p90_ms=%.3f last_max_ms=%.3f done_p50_ms=%.3f dgrams=%" PRIu64
           " handled=%" PRIu64 " forwards=%" PRIu64
           " handled_s=%.0f peer_cpu_ms=%.3f cpu_us_per_dgram=%.3f dup=%" PRIu64 " lost=%" PRIu64
           " peer_drops=%" PRIu64 "\n",
           ph->key, ph->k, ph->ok, followers, hf_q(f->first, f->n, 0.5), hf_q(f->last, f->n, 0),
           hf_q(f->last, f->n, 0.5), hf_q(f->last, f->n, 0.9), hf_q(f->last, f->n, 1),
           hf_q(f->done, f->n, 0.5), f->dgrams, f->handled, f->forwards, hf_rate(f),
           ph->peer_cpu >= 0 ? (double)ph->peer_cpu / 1e6 : -1.0, hf_cpu_per(ph, f), ph->c.fwd_dup,
           f->lost, ph->drops);
}

static void hf_table_row(const struct hf_phase *ph, const struct hf_fig *f)
{
    char cpu[48] = "n/a";

    if (ph->peer_cpu >= 0 && ph->k > 0)
        snprintf(cpu, sizeof(cpu), "%.2f ms, %.2f us", (double)ph->peer_cpu / 1e6 / ph->k,
                 hf_cpu_per(ph, f));
    printf("| %s | %u/%u | %.2f | %.2f / **%.2f** / %.2f / %.2f | %.2f | %.0f | **%.0f** | %s | "
           "%" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n",
           ph->label, ph->ok, ph->k, hf_q(f->first, f->n, 0.5), hf_q(f->last, f->n, 0),
           hf_q(f->last, f->n, 0.5), hf_q(f->last, f->n, 0.9), hf_q(f->last, f->n, 1),
           hf_q(f->done, f->n, 0.5), f->n ? (double)f->handled / f->n : 0, hf_rate(f), cpu,
           ph->drops, ph->c.fwd_dup, f->lost);
}

static void hf_report(const struct hf_phase *ph, unsigned nph, unsigned followers,
                      const struct hf_opts *o)
{
    static struct hf_fig f[HF_PEERS];

    for (unsigned i = 0; i < nph; i++) {
        hf_figures(&ph[i], &f[i]);
        hf_print_phase(&ph[i], &f[i], followers, o);
    }
    printf("\n| peer | fan-outs | first delivery, median ms | last delivery ms: min / **median** "
           "/ p90 / max | all acks read, median ms | datagrams handled per fan-out | "
           "datagrams/s | peer CPU per fan-out, per datagram | dropped by the peer's socket | "
           "forwards sent again | lost |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (unsigned i = 0; i < nph; i++)
        hf_table_row(&ph[i], &f[i]);
}

/* ------------------------------------------------------------ main */

static void hf_bench_init(struct hf_bench *b, const struct hf_opts *o)
{
    memset(b, 0, sizeof(*b));
    b->n = o->n;
    b->window = o->window;
    b->text_len = o->size;
    b->secure = !o->plain;
    b->crypto = true;
    b->round_ns = o->round_ns;
    b->end_ns = clock_now_ns() + o->timeout_ns;
    b->password = HF_PASSWORD;
    b->ep = -1;
    b->relay_rcvbuf = (int)o->relay_rcvbuf;
}

/* The hub's rounds, then the baselines'. Returns the phases run. */
static unsigned hf_rounds(struct hf_bench *b, const struct hf_opts *o, struct hf_ferryd *f,
                          struct hf_phase *ph)
{
    unsigned n = 0;

    ph[n].label = o->plain ? "hub, plain wire" : "hub, secure wire";
    ph[n].key = "hub";
    ph[n].port = o->host ? o->port : f->port;
    hf_phase(b, o, f->hub_pid, &ph[n++]);
    hf_logout_all(b, 2000000000LL);
    if (o->host == NULL)
        hf_ferryd_stop(f); /* the baselines run on a machine as quiet */
    if (hf_stop)
        return n;
    ph[n].label = "baseline: relay, sendto each";
    ph[n].key = "sendto";
    if (o->sendto_base && hf_baseline(b, o, false, &ph[n]) == 0)
        n++;
    ph[n].label = "baseline: relay, sendmmsg";
    ph[n].key = "sendmmsg";
    if (o->mmsg_base && hf_baseline(b, o, true, &ph[n]) == 0)
        n++;
    return n;
}

static int hf_run(const struct hf_opts *o, struct hf_bench *b, struct hf_ferryd *f)
{
    struct hf_phase ph[HF_PEERS];
    int rc;

    memset(ph, 0, sizeof(ph));
    for (unsigned i = 0; i < HF_PEERS; i++)
        if ((ph[i].r = calloc(o->k, sizeof(*ph[i].r))) == NULL)
            return -1;
    if (hf_peer_addr(&b->peer, o->host ? o->host : "127.0.0.1", o->host ? o->port : f->port) < 0)
        return -1;
    f->hub_pid = o->host ? o->hub_pid : f->hub_pid;
    if ((rc = hf_open(b)) < 0) {
        fprintf(stderr, "ferry-hub-bench: %u sockets: %s\n", o->n, strerror(-rc));
        return -1;
    }
    rc = hf_logins(b, o, f->hub_pid);
    if (rc == 0) {
        unsigned nph = hf_rounds(b, o, f, ph);

        hf_report(ph, nph, o->n - 1, o);
        rc = ph[0].ok == o->k && ph[0].c.bad == 0 && b->c.login_fail == 0 ? 0 : -1;
    }
    for (unsigned i = 0; i < HF_PEERS; i++)
        free(ph[i].r);
    return rc;
}

static void hf_on_signal(int sig)
{
    (void)sig;
    hf_stop = 1;
}

/* SIGINT and SIGTERM end the run early, cleaned up; no SA_RESTART, so a
 * wait returns at once. */
static void hf_signals(void)
{
    struct sigaction sa = {.sa_handler = hf_on_signal};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* --prepare DB: the accounts alone, for a ferryd started by hand. */
static int hf_prepare_only(const struct hf_opts *o, struct hf_bench *b)
{
    const char *why;
    int rc = hf_db_prepare(o->prepare, o->n, b, &why);

    if (rc < 0) {
        fprintf(stderr, "ferry-hub-bench: %s: %s: %s\n", o->prepare, why, strerror(-rc));
        return 1;
    }
    printf("%s: accounts u0..u%u (password %s), u1..u%u following u0\n", o->prepare, o->n - 1,
           HF_PASSWORD, o->n - 1);
    return 0;
}

int main(int argc, char **argv)
{
    struct hf_opts o;
    struct hf_bench b;
    struct hf_ferryd f = {0};
    int rc = opt_parse(&o, argc, argv);

    if (rc != 0) {
        usage(rc > 0 ? stdout : stderr);
        return rc > 0 ? 0 : 2;
    }
    hf_signals();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (hubsec_init() < 0 || hf_rlimit(o.n) < 0)
        return 1;
    hf_bench_init(&b, &o);
    if (o.prepare != NULL)
        return hf_prepare_only(&o, &b);
    printf("# ferry-hub-bench: %u sessions, %u posts of %u bytes, %s wire; %ld cores\n", o.n, o.k,
           o.size, o.plain ? "plain" : "secure", sysconf(_SC_NPROCESSORS_ONLN));
    rc = o.host == NULL && hf_setup(&o, &b, &f) < 0 ? -1 : hf_run(&o, &b, &f);
    hf_close(&b);
    hf_ferryd_stop(&f);
    if (f.dir[0] != '\0' && !o.keep)
        hf_rmdir(f.dir);
    else if (f.dir[0] != '\0')
        printf("kept %s\n", f.dir);
    if (hf_stop)
        fprintf(stderr, "ferry-hub-bench: interrupted\n");
    return rc == 0 && !hf_stop ? 0 : 1;
}
