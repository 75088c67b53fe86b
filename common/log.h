/*
 * log: one line per event on stderr, "2026-11-21T13:45:01.123Z [4242] info: ...".
 *
 * The logging facility itself; other common/ modules never call it (they
 * return errors and let the process-role code log once, with context).
 * Every process writes whole lines with a single write(2), so lines from
 * the master and its workers interleave but never tear.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level that is written (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Returns the current level, so that callers can skip building debug text. */
enum log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_parse_level(const char *name, enum log_level *out);

/* Sends the log (every later write to stderr, in this process and in the
 * children it forks) to path, appending. Returns 0 or -errno. */
int log_open_file(const char *path);

/* Opens the log file again (after rotation), if there is one. Returns 1
 * when it did, 0 when logs go to stderr, or -errno. */
int log_reopen(void);

/* Forgets the cached pid: call in a child after fork(). */
void log_forked(void);

/*
 * A repeated failure (accept at the descriptor limit...) is an episode:
 * reported when it starts and then once per interval, with the count of
 * the failures left out, and ended once by the first success.
 */
#define LOG_RL_INTERVAL_NS (10 * 1000000000LL)

struct log_rl {
    int64_t interval_ns; /* 0: LOG_RL_INTERVAL_NS */
    int64_t last_ns;
    bool reported; /* last_ns is valid */
    unsigned missed;
    int64_t since_ns;  /* the episode's start */
    unsigned failures; /* in this episode; 0: none going on */
};

/* Counts one failure at now_ns. True when a report is due (the first of
 * an episode always is); then *missed is the number of failures left out
 * since the last report. */
bool log_rl_allow(struct log_rl *rl, int64_t now_ns, unsigned *missed);

/* Ends the episode going on, if any: true with its length in seconds and
 * its failures, for a "recovered" line; the next failure is reported at
 * once. False when nothing was failing. */
bool log_rl_end(struct log_rl *rl, int64_t now_ns, double *secs, unsigned *failures);

#define LOG_LINE_MAX 2048 /* longer lines are cut */

/* Writes msg (len bytes, no newline) as one line at the given level. */
void log_text(enum log_level level, const char *msg, size_t len);

/* Writes one line at the given level (printf format, no trailing newline). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Copies len bytes of untrusted text into dst as printable ASCII: control
 * bytes, backslash, quotes and non-ASCII become \xHH. dstlen must be at
 * least 4; always NUL-terminates, ending in "..." when dst was too small.
 * Returns dst.
 */
char *log_escape(char *dst, size_t dstlen, const void *src, size_t len);

#endif
