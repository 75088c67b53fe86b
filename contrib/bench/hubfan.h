/*
 * hubfan: the parts of ferry-hub-bench (hub-fanout.c), a load generator
 * for the hub's fan-out (docs/HUB.md, docs/BENCHMARKS.md "Hub fan-out").
 *
 * hubfan_client.c: N sessions, one UDP socket each, in one epoll loop:
 * the logins (secure handshake or plain), then rounds of one post by u0
 * fanned out to the N-1 followers, each forward acked as a client does.
 * hubfan_peer.c: what the client talks to and about: the hub's database
 * made before ferryd starts, ferryd itself, the baseline relay (a
 * trivial UDP fan-out), and the counters read from /proc.
 */
#ifndef FERRY_HUBFAN_H
#define FERRY_HUBFAN_H

#include "common/hubsec.h"
#include "common/hubwire.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HF_RTO_NS      500000000LL   /* the first wait for an answer, doubling */
#define HF_RTO_CAP_NS  4000000000LL  /* as the hub's and ferry hub's back-off */
#define HF_TRIES       8             /* sends of one step before it is given up */
#define HF_KEEPALIVE   20000000000LL /* a session silent this long sends 0x0E */
#define HF_MARK_ID     0x7f000000u   /* keepalive msg_ids of the drain marks */
#define HF_MARK_RTO_NS 1000000LL     /* a mark is sent again each ms (a full queue drops it) */
#define HF_MARK_TRIES  250
#define HF_PASSWORD    "bench-password"
/* Started as root, ferryd runs its hub and workers as this user. */
#define HF_USER "nobody"

enum hf_state { HF_IDLE, HF_HELLO, HF_PROOF, HF_ONLINE, HF_FAILED };

/* One session: its socket, handshake, keys and the request in flight. */
struct hf_sess {
    int fd;
    uint8_t state;
    uint8_t tries;    /* sends of the step or request in flight */
    uint8_t pending;  /* the request op awaiting its answer; 0 none */
    uint32_t nonce;   /* the login's */
    uint32_t token;   /* once logged in */
    uint32_t seq;     /* the last request's sequence number */
    uint32_t pend_id; /* msg_id of the request in flight */
    uint32_t last_fwd;
    int64_t due; /* when the step in flight is sent again; 0: nothing */
    int64_t rto;
    int64_t last_tx;
    struct hubsec_hello hello;
    uint8_t eph_sk[HUBSEC_KX_SK];
    uint8_t sig[HUBSEC_SIG]; /* the PROOF's, resealed when sent again */
    struct hubsec_keys keys;
};

/* What one fan-out round measured. */
struct hf_round {
    int64_t ack_ns;     /* post sent -> its post ack */
    int64_t first_ns;   /* -> the first follower's forward */
    int64_t last_ns;    /* -> the last follower's forward: the time to last delivery */
    int64_t done_ns;    /* -> the drain mark's answer: every ack before it was read */
    int64_t elapsed_ns; /* -> the round's end: done_ns, or its bound */
    unsigned delivered, expected;
    uint64_t forwards; /* forwards received in it, copies included */
    uint64_t dgrams;   /* datagrams the bench sent and received in it */
};

/* Counters of a phase (logins, or one peer's fan-out rounds). */
struct hf_counts {
    uint64_t sent, received;
    uint64_t fwd_dup;    /* forwards seen again: the peer's retransmissions */
    uint64_t fwd_stale;  /* forwards of an earlier post arriving late */
    uint64_t retx;       /* our own sends again: handshake steps, posts, marks */
    uint64_t bad;        /* not ours, not authentic, or content not as posted */
    uint64_t resets;     /* 0x00 or 0xF0 from the peer: a session ended */
    uint64_t login_fail; /* 0x81, or a handshake given up */
    uint64_t send_err;   /* send() refused: counted as lost, sent again */
};

struct hf_bench {
    /* settings */
    unsigned n, window, text_len;
    bool secure;      /* the wire's datagrams are sealed (sizes too) */
    bool crypto;      /* false for the baseline: sealed sizes, zero tags, nothing opened */
    bool relay;       /* talking to the baseline relay: its tokens are i + 1 */
    int relay_rcvbuf; /* the relay's SO_RCVBUF; 0: the kernel's default, as the hub's */
    int64_t round_ns; /* one round's bound */
    int64_t end_ns;   /* the whole run's bound */
    const char *password;
    /* the peer's address: each socket is connected to it */
    struct sockaddr_in peer;
    int ep;
    struct hf_sess *s;
    /* the account key, derived once per salt (all accounts share it) */
    bool have_key;
    uint8_t salt[HUBSEC_SALT], pk[HUBSEC_PK], sk[HUBSEC_SK];
    int64_t kdf_ns; /* time spent deriving it during the logins */
    bool have_hub;
    uint8_t hub_pk[HUBSEC_PK];
    /* logins */
    unsigned started, inflight, online;
    int64_t next_tick;
    /* the round in flight */
    struct hf_round *cur;
    int64_t t0;
    char line[HUBWIRE_PAYLOAD_MAX + 1]; /* "<u0>text", as forwarded */
    size_t line_len;
    bool acked, marked;
    struct hf_counts c;
};

/* hubfan_client.c */

/* Set by SIGINT or SIGTERM: every loop ends at once, the run cleans up. */
extern volatile sig_atomic_t hf_stop;

/* Opens n sockets connected to peer, in one epoll set. 0 or -errno. */
int hf_open(struct hf_bench *b);
/* Points every socket at a new peer (the baseline relay), sessions as
 * if logged in with token i + 1. 0 or -errno. */
int hf_repoint(struct hf_bench *b, const struct sockaddr_in *peer);
void hf_close(struct hf_bench *b);
/* Logs every session in, window at a time. Returns how many are online. */
unsigned hf_login_all(struct hf_bench *b);
/* One post by u0 (post k) fanned out; fills r. 0, or -ETIMEDOUT when
 * some follower did not get it within the round's bound. */
int hf_round(struct hf_bench *b, unsigned k, struct hf_round *r);
/* Takes and acks whatever comes for ns (late retransmissions). */
void hf_settle(struct hf_bench *b, int64_t ns);
/* Every session logs out, answers awaited for ns at most. */
void hf_logout_all(struct hf_bench *b, int64_t ns);
/* u0 resets its session: ends the relay. */
void hf_bye(struct hf_bench *b);

/* hubfan_peer.c */

/* Makes n accounts u0..u{n-1} (one salt, one password: one Argon2id) and
 * subscribes u1..u{n-1} to u0. Sets the key into b. 0 or -errno; *why
 * says which step failed. */
int hf_db_prepare(const char *path, unsigned n, struct hf_bench *b, const char **why);

struct hf_ferryd {
    pid_t pid, hub_pid;
    unsigned port;
    char dir[256];
};
/* Starts ferryd (wrap: words put before it, e.g. valgrind) on dir with
 * the hub on 127.0.0.1:0 and waits for its hub. 0 or -errno. */
int hf_ferryd_start(struct hf_ferryd *f, const char *ferryd, const char *wrap, bool plain,
                    int64_t wait_ns);
void hf_ferryd_stop(struct hf_ferryd *f);

/* Forks the baseline relay on a socket of its own: it acks a post and
 * sends it to each follower (sendto each, or sendmmsg by 1,024), takes
 * the acks, answers keepalives, and ends at a reset. Sets *addr to its
 * address. Returns its pid or -errno. */
pid_t hf_relay_start(const struct hf_bench *b, bool mmsg, struct sockaddr_in *addr);
void hf_relay_stop(pid_t pid);

/* CPU time of a process in ns (/proc/PID/schedstat), -1 unknown. */
int64_t hf_cpu_ns(pid_t pid);
/* /proc/net/snmp's UDP counters. */
struct hf_udp {
    uint64_t in, out, rcvbuf_err, sndbuf_err;
};
void hf_udp_read(struct hf_udp *u);
/* Datagrams dropped by the UDP socket bound to 127.0.0.1:port (its own
 * count, /proc/net/udp); 0 when there is none. */
uint64_t hf_udp_drops(unsigned port);
/* Runs "cmd what label pid" through sh; its exit status. */
int hf_hook(const char *cmd, const char *what, const char *label, pid_t pid);

#endif
