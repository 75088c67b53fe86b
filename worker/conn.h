/*
 * conn: one client connection, the contract between a protocol handler
 * and the driver that moves its bytes.
 *
 * A handler (native.c, http.c) is a state machine over one connection: it
 * is called when bytes arrived (conn.in), when everything it queued was
 * sent, or when its deadline passed, and answers what it waits for next:
 * CONN_READ, CONN_WRITE or CONN_DONE. It never blocks, never reads the
 * clock (it is given `now`) and never touches the socket: it parses
 * conn.in, queues a response (bytes in conn.out, then a range of a file),
 * and sets the read deadline. The engine here does every system call on
 * the socket, non-blocking: recv into the input buffer (pipelined bytes
 * stay there), send of the queued bytes, sendfile of the body, resumed
 * after EAGAIN. A driver (serve.c: one connection per process, poll on
 * one socket) calls conn_open(), then conn_ready() or conn_expired() as
 * poll says, and conn_close() once it is DONE; the event driver to come
 * does the same for many connections on one loop.
 */
#ifndef FERRY_CONN_H
#define FERRY_CONN_H

#include "common/acl.h"
#include "common/proto.h"
#include "common/scoreboard.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define CONN_IN_FIRST        4096               /* input buffer at first; grows to CONN_IN_MAX */
#define CONN_IN_MAX          (32 * 1024)        /* a request head's limits (8 + 16 KiB) and room */
#define CONN_OUT_CAP         (16 * 1024)        /* a response head, or a batch of LIST records */
#define CONN_STATE_MAX       512                /* the largest handler state */
#define CONN_RATE_WINDOW_S   10                 /* --min-rate is measured over windows this long */
#define CONN_LINGER_NS       (5 * 1000000000LL) /* a lingering close, at most (less --io-timeout) */
#define CONN_LINGER_QUIET_NS (20 * 1000000LL)   /* nothing from the client this long: close */
#define CONN_LINGER_BYTES    (16 << 20)         /* discarded by a lingering close, at most */

/* What a connection waits for. CONN_DISK: the next chunk of the body is
 * not in the page cache (only with env.disk_probe); the driver reads it
 * ahead off its loop (conn_disk_range()), then calls conn_ready(). */
enum conn_wait { CONN_READ, CONN_WRITE, CONN_DONE, CONN_DISK };

struct conn;
struct http_config; /* worker/http.h */

/* What every connection of a process shares. */
struct conn_env {
    int dirfd;               /* the served directory, O_DIRECTORY|O_PATH */
    unsigned tree_flags;     /* what of it is shown (worker/tree.h: TREE_HIDDEN) */
    size_t chunk;            /* bytes per sendfile() call */
    int io_timeout_ms;       /* bound on waiting for room to send */
    int request_timeout_ms;  /* native: the request, and READY */
    uint64_t min_rate;       /* bytes/s a reader must take, per window (0: any) */
    uint64_t echo_max_bytes; /* echo, upcase: bytes echoed per connection */
    struct scoreboard *sb;   /* the whole pool's, for --max-conn-per-ip */
    unsigned max_per_ip;     /* connections from one address, pool-wide (0: any) */
    struct sb_slot *slot;    /* this process's scoreboard slot */
    struct sb_conn *recs;    /* and its connection records */
    const struct http_config *http;
    /* Each listener's --allow/--deny rules (NULL: none), by index: the
     * command line's for every listener until listeners have their own. */
    const struct acl *acl[PROTO_LISTENERS_MAX];
    /* Native PUT (worker/put.c): this process's end of the socket to the
     * hub's process (common/hubipc.h; -1: no hub, and PUT is answered
     * BAD_REQUEST), the largest upload (--hub-max-upload), and how long
     * one question to the hub may wait (0: HUBIPC_TIMEOUT_MS). */
    int hub_fd;
    uint64_t hub_max_upload;
    int hub_timeout_ms;
    /* The event driver's: send one chunk per conn_ready() (a big file
     * does not hold up the loop), and never let sendfile() wait for the
     * disk (CONN_DISK). */
    bool one_chunk;
    bool disk_probe;
    /* Called once per request when it is over (and once for a connection
     * that ends in trouble before any answer): the log line. */
    void (*report)(const struct conn *c, int64_t now);
};

/* A protocol handler: the callbacks of its state machine. Each returns
 * what the connection waits for next. */
struct conn_handler {
    enum proto proto;
    size_t state_size; /* bytes of state it keeps per connection (<= CONN_STATE_MAX) */
    /* A connection was accepted: set the read deadline. */
    enum conn_wait (*start)(struct conn *c, int64_t now);
    /* Bytes arrived (c->in, c->in_len), or the peer closed (c->eof). */
    enum conn_wait (*input)(struct conn *c, int64_t now);
    /* Everything queued was sent. */
    enum conn_wait (*sent)(struct conn *c, int64_t now);
    /* The read deadline passed. */
    enum conn_wait (*expired)(struct conn *c, int64_t now);
    /* Just accepted, but over --max-conn-per-ip: queue the protocol's
     * "busy" answer and close. */
    enum conn_wait (*busy)(struct conn *c, int64_t now);
    /* Just accepted, but denied by --allow/--deny: queue the protocol's
     * refusal (HTTP's 403) and close. NULL: the connection is closed at
     * once with a reset, not a byte read or sent (conn_attach). */
    enum conn_wait (*denied)(struct conn *c, int64_t now);
    /* The connection closes: release what the state holds (may be NULL). */
    void (*finish)(struct conn *c);
};

/* The request in hand, for the log line and the scoreboard. */
struct conn_req {
    bool active;                /* bytes of it arrived, or it was answered */
    bool answered;              /* a response went out (or is going) */
    bool refused;               /* native: the client sent REFUSE */
    char method[8];             /* "GET", "HEAD", "FILE", "LIST"... */
    char target[SB_TARGET_MAX]; /* escaped for logs */
    const char *version;        /* "HTTP/1.1", "FERRY/1": the access log's protocol */
    char referer[128];          /* escaped; HTTP only */
    char agent[128];            /* User-Agent, escaped; HTTP only */
    char status[24];            /* "OK", "NOT_FOUND", "200"... */
    int code;                   /* HTTP status code, or its equivalent for a native status */
    enum sb_outcome outcome;
    uint64_t size; /* what the answer announced */
    uint64_t sent; /* body bytes sent */
    int64_t start_ns;
};

struct conn {
    int fd;
    unsigned listener;
    /* Its scoreboard record, k-th of the process's: set by the driver
     * before conn_open(). */
    struct sb_conn *rec;
    uint32_t rec_k;
    union sb_addr peer;
    int64_t accepted_ns;
    time_t wall; /* Unix seconds at the event being handled (Date, logs) */
    const struct conn_env *env;
    const struct conn_handler *h;
    void *state; /* the handler's, state_size bytes, zeroed by conn_open */
    size_t state_size;
    enum conn_wait want;

    /* Input: bytes received and not yet consumed by the handler. */
    uint8_t *in;
    size_t in_len, in_cap;
    bool eof; /* the peer closed its side */

    /* Output: out[out_off..out_len), then body_fd from body_off to body_end.
     * Bytes of out from out_body on are content (a page, LIST records):
     * counted as sent like the file's. */
    uint8_t *out;
    size_t out_len, out_off, out_body;
    int body_fd;
    uint64_t body_off, body_end;
    bool close_after; /* this response ends the connection (cork, FIN with it) */
    bool corked;
    bool linger; /* unread bytes may follow: half-close, then drain */
    /* The lingering close under way (linger): the answer is queued in
     * full, the write side shut; bytes arriving are discarded until the
     * client closes or goes quiet (conn.c). */
    bool draining;
    int64_t drain_until;  /* the linger ends then at the latest */
    uint64_t drain_bytes; /* discarded so far */
    bool reported;        /* the request's report is written: not again */
    bool broken;          /* a socket call failed: close without lingering */

    int64_t read_deadline; /* set by the handler */
    int64_t write_deadline;
    /* --min-rate: the window in progress while a response is sent. */
    int64_t rate_end;   /* 0: no window (nothing being sent) */
    uint64_t rate_from; /* out_total when it began */
    uint64_t out_total; /* bytes sent on this connection */
    bool cut_on_stop;   /* waiting for a request: a stop ends the wait */
    bool busy;          /* refused at once: over --max-conn-per-ip */
    bool denied;        /* refused at once: by --allow/--deny */
    bool reset;         /* close with a reset (SO_LINGER 0), not a FIN */
    bool disk_ok;       /* the next chunk was read ahead: send it unprobed */
    int64_t disk_since; /* CONN_DISK since then */
    unsigned requests;  /* answered on this connection */

    struct conn_req req;
    /* Connection-level trouble, or NULL. */
    const char *problem;
    const char *about; /* what it is about (the rule that denied), or NULL */
    const char *phase; /* when: "request", "response", "ready", "content" */
    int err;           /* errno behind problem, or 0 */
    bool server_fault; /* problem was ours, not the client's */
};

/* Sets up a connection with state_size bytes of handler state (once per
 * process in the blocking driver, with CONN_STATE_MAX for any protocol;
 * per connection in the event driver, with its handler's state_size); the
 * buffers come when first needed. Returns 0 or -ENOMEM. */
int conn_init(struct conn *c, size_t state_size);

/* Frees everything. */
void conn_free(struct conn *c);

/* Frees the buffers while they are empty (an idle connection of the event
 * driver holds no buffer); they come back when needed. */
void conn_trim(struct conn *c);

/* CONN_DISK: the file and the range to read ahead. */
void conn_disk_range(const struct conn *c, int *fd, uint64_t *off, size_t *len);

/*
 * Takes the accepted non-blocking socket fd (the connection owns it from
 * here) from peer on listener, accepted at now, and runs the handler's
 * start and a first read (the request is usually there already). Returns
 * what to wait for.
 */
enum conn_wait conn_open(struct conn *c, const struct conn_env *env, const struct conn_handler *h,
                         int fd, unsigned listener, const struct sockaddr *peer, int64_t now);

/* conn_open() without the first read: the connection is set up and its
 * handler started, for a caller that feeds c->in itself (the handlers'
 * unit tests). */
void conn_attach(struct conn *c, const struct conn_env *env, const struct conn_handler *h, int fd,
                 unsigned listener, const struct sockaddr *peer, int64_t now);

/* The socket is ready for what c->want said: reads or writes as far as it
 * goes, running the handler. Returns what to wait for next. */
enum conn_wait conn_ready(struct conn *c, int64_t now);

/* The deadline of the current wait (CLOCK_MONOTONIC ns). */
int64_t conn_deadline(const struct conn *c);

/* The deadline passed. Returns what to wait for next. */
enum conn_wait conn_expired(struct conn *c, int64_t now);

/* The process stops: a connection waiting for a request (cut_on_stop) is
 * cut; a transfer in flight, or a lingering close, goes on. Returns what
 * to wait for next. */
enum conn_wait conn_stop(struct conn *c, int64_t now);

/* Ends the connection at once with problem (a shutdown's deadline). */
enum conn_wait conn_cut(struct conn *c, const char *problem, int err);

/* True when c waits, idle, for its client: a persistent connection
 * between two requests, or a service's session between two exchanges
 * (nothing of the next one received). Another client may have its place
 * (the blocking driver), and a stop closes it. */
bool conn_idle(const struct conn *c);

/* Releases everything and closes the socket: handler's finish, a last
 * report, the scoreboard's end of connection. */
void conn_close(struct conn *c, int64_t now);

/*
 * For handlers.
 */

/* Queues n bytes for sending. Returns 0, or -ENOBUFS when out is full. */
int conn_put(struct conn *c, const void *p, size_t n);

/* Queues n bytes of content (counted in the bytes sent). Returns 0 or
 * -ENOBUFS. */
int conn_put_body(struct conn *c, const void *p, size_t n);

/* Room left in out, and where: for building a response in place; then
 * conn_commit() the bytes written. */
uint8_t *conn_room(struct conn *c, size_t *room);
void conn_commit(struct conn *c, size_t n);

/* The same, for content. */
void conn_commit_body(struct conn *c, size_t n);

/* Queues the body: bytes [off, end) of file, sent after the queued bytes.
 * The connection owns file from here and closes it. */
void conn_body(struct conn *c, int file, uint64_t off, uint64_t end);

/* Drops the first n bytes of input (a request was consumed). */
void conn_consume(struct conn *c, size_t n);

/* Records connection-level trouble; returns CONN_DONE. */
enum conn_wait conn_trouble(struct conn *c, const char *problem, int err, bool server_fault);

/* A response to the request in hand is queued: records it (status as
 * text, code, outcome, what is served and its size) in c->req and on the
 * scoreboard, whose state becomes next (SB_SENDING or SB_WAITING). */
void conn_answer(struct conn *c, enum sb_outcome outcome, int code, const char *status,
                 uint64_t size, enum sb_state next);

/* The request is over: report it (the log line) and reset c->req. */
void conn_request_end(struct conn *c, int64_t now);

#endif
