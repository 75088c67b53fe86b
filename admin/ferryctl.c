/*
 * ferryctl: the operator's CLI over ferryd's JSON admin socket. Sends one
 * request line, reads one answer line, prints it for humans, fitted to
 * the terminal (or as is with --json), and exits 0, 1 (the server
 * answered an error), 2 (usage) or 3 (the socket cannot be reached, or
 * ferryd closed the connection).
 *
 * SIGPIPE is ignored, for two reasons: ferryd may close the connection
 * while we write (a master out of descriptors drops it), which must be
 * exit 3 with a message, not death by signal; and a reader of our stdout
 * that leaves ("ferryctl events | head -1") must end us quietly, with 0,
 * as it ends any filter, which we do on EPIPE and as soon as poll() says
 * the reader has gone, rather than at the next event.
 */
#include "admin/ctl.h"
#include "admin/fmt.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define CTL_TIMEOUT_S  10 /* an answer, unless the command says (upgrade) */
#define CTL_ANSWER_MAX (16 << 20)

/* ---- output -------------------------------------------------------- */

/* True when stdout's reader has gone (a closed pipe) or stdout is gone. */
static bool ctl_out_gone(void)
{
    struct pollfd p = {.fd = STDOUT_FILENO, .events = 0};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

/* Flushes stdout. Returns 0; 1 when its reader has gone (we should stop,
 * quietly); -1 after saying why it failed otherwise (a full disk). */
static int ctl_flush(void)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    if (errno == EPIPE || ctl_out_gone())
        return 1;
    fprintf(stderr, "ferryctl: cannot write the output: %s\n", strerror(errno ? errno : EIO));
    return -1;
}

/* The width to print at now: the terminal's, or $COLUMNS, or none. */
static unsigned ctl_out_width(const struct ctl_args *a, unsigned *rows)
{
    struct winsize ws = {0};
    bool tty = isatty(STDOUT_FILENO);

    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
        ws.ws_col = ws.ws_row = 0;
    if (rows != NULL)
        *rows = tty ? ws.ws_row : 0;
    return ctl_width(a->wide, tty, ws.ws_col, getenv("COLUMNS"));
}

/* ---- the connection ------------------------------------------------ */

/* Connects to path. Returns the fd, or -1 after saying why. */
static unsigned ctl_timeout_s = CTL_TIMEOUT_S;

static int ctl_connect(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = ctl_timeout_s};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "ferryctl: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        fprintf(stderr, "ferryctl: cannot reach %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Says why the connection failed: errno err, or 0 for an end of stream. */
static void ctl_say_lost(const char *path, int err)
{
    if (err == 0 || err == EPIPE || err == ECONNRESET)
        fprintf(stderr, "ferryctl: %s: ferryd closed the connection%s\n", path,
                err == 0 ? " without an answer" : "");
    else if (err == EAGAIN || err == EWOULDBLOCK)
        fprintf(stderr, "ferryctl: %s: no answer in %u s\n", path, ctl_timeout_s);
    else
        fprintf(stderr, "ferryctl: %s: %s\n", path, strerror(err));
}

/* Buffered line reading from the socket. */
struct ctl_reader {
    int fd;
    const char *path;
    char *buf;
    size_t len, cap;
    bool follow;   /* wait for ever, and for stdout's reader leaving */
    bool out_gone; /* it left */
    bool eof;      /* ferryd closed the connection */
};

/* In follow mode: waits until the socket has data. Returns false when
 * stdout's reader left first. */
static bool ctl_wait(struct ctl_reader *r)
{
    struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = STDOUT_FILENO, .events = 0}};

    while (poll(p, 2, -1) < 0) {
        if (errno != EINTR)
            return true; /* let recv() say what is wrong */
    }
    r->out_gone = (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    return !r->out_gone;
}

/* Returns the next line (malloc'd, without '\n'), or NULL at the end or on
 * an error (said, unless quiet_eof and the peer simply closed). */
static char *ctl_read_line(struct ctl_reader *r, bool quiet_eof)
{
    for (;;) {
        char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        ssize_t n;

        if (nl != NULL) {
            size_t k = (size_t)(nl - r->buf);
            char *line = strndup(r->buf, k);
            r->len -= k + 1;
            memmove(r->buf, nl + 1, r->len);
            return line;
        }
        if (r->len + 4096 > r->cap) {
            char *p = r->cap < CTL_ANSWER_MAX ? realloc(r->buf, r->cap ? r->cap * 2 : 65536) : NULL;
            if (p == NULL) {
                fprintf(stderr, "ferryctl: %s: answer too long\n", r->path);
                return NULL;
            }
            r->buf = p;
            r->cap = r->cap ? r->cap * 2 : 65536;
        }
        if (r->follow && !ctl_wait(r))
            return NULL;
        n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r->eof = n == 0;
            if (n < 0 || !quiet_eof)
                ctl_say_lost(r->path, n < 0 ? errno : 0);
            return NULL;
        }
        r->len += (size_t)n;
    }
}

/* Sends req as one line. MSG_NOSIGNAL: a closed connection is EPIPE, not
 * SIGPIPE, even where SIGPIPE is not ignored. Returns 0, or -1 after
 * saying why. */
static int ctl_send(int fd, const char *path, json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0, off = 0;
    int err = text ? 0 : ENOMEM;

    if (text != NULL)
        text[len++] = '\n'; /* over the NUL: text is not a string any more */
    while (err == 0 && off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

        if (n >= 0)
            off += (size_t)n;
        else if (errno != EINTR)
            err = errno;
    }
    free(text);
    if (err != 0)
        ctl_say_lost(path, err);
    return err ? -1 : 0;
}

/* ---- commands ------------------------------------------------------ */

/* Prints the events that follow a subscribe answer until ferryd closes
 * (exit 0), stdout's reader leaves (0, quietly) or the connection fails. */
static int ctl_follow(const struct ctl_args *a, struct ctl_reader *r)
{
    struct timeval none = {0};
    int out = 0;
    char *line;

    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)); /* wait for ever */
    r->follow = true;
    while (out == 0 && (line = ctl_read_line(r, true)) != NULL) {
        json_t *ev = json_loads(line, 0, NULL);

        if (a->json)
            printf("%s\n", line);
        else if (ev != NULL)
            a->cmd->print(stdout, ev, ctl_out_width(a, NULL));
        json_decref(ev);
        free(line);
        out = ctl_flush();
    }
    if (out < 0)
        return CTL_SERVER_ERROR;
    /* ferryd stopping ends the stream, and so does our reader leaving. */
    return out > 0 || r->out_gone || r->eof ? CTL_OK : CTL_UNREACHABLE;
}

/* Asks one question on the open connection; returns the decoded answer or
 * NULL (said why). */
static json_t *ctl_ask(struct ctl_reader *r, const char *cmd)
{
    json_t *req = json_pack("{s:s}", "cmd", cmd), *resp = NULL;
    char *line = ctl_send(r->fd, r->path, req) == 0 ? ctl_read_line(r, false) : NULL;

    json_decref(req);
    if (line != NULL)
        resp = json_loads(line, 0, NULL);
    free(line);
    return resp;
}

/* Writes frame (lines) to stdout, on a terminal at most rows lines of it
 * (0: all) and then "(q quits)" on the last line, cut to width and
 * unterminated so that nothing scrolls. */
static void ctl_top_show(const char *frame, bool tty, unsigned width, unsigned rows)
{
    unsigned shown = 0, total = 0;
    char last[64];
    const char *p;

    for (p = frame; *p != '\0'; p++)
        total += *p == '\n';
    if (!tty) {
        fputs(frame, stdout);
        return;
    }
    fputs("\033[H\033[2J", stdout); /* home, clear */
    for (p = frame; *p != '\0' && (rows == 0 || shown + 1 < rows); shown++) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

        fwrite(p, 1, n, stdout);
        p += n;
    }
    if (shown < total)
        snprintf(last, sizeof(last), "(q quits; %u more lines)", total - shown);
    else
        snprintf(last, sizeof(last), "(q quits)");
    printf("%.*s", width != CUT_WIDE && width < sizeof(last) ? (int)width : (int)sizeof(last),
           last);
}

/* The lines of text. */
static size_t ctl_lines(const char *text, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n;
}

/* How many connections fit under the used lines of a frame on a window
 * of rows (0: no window, all of them): the rows less the "(q quits)"
 * line, a blank one, the table's header and its total line. */
static size_t ctl_top_room(unsigned rows, size_t used)
{
    if (rows == 0)
        return FMT_ALL;
    return rows > used + 4 ? rows - used - 4 : 0;
}

/* Draws one frame of top: the status report, the workers table, then the
 * connections, the busiest first, as many as the window has room for,
 * at the terminal's size now (it may have been resized). A ferryd without
 * the connections command (it answers an error) shows no such table. */
static int ctl_top_frame(const struct ctl_args *a, struct ctl_reader *r, bool tty)
{
    json_t *st = ctl_ask(r, "status"), *ws = st ? ctl_ask(r, "workers") : NULL;
    json_t *cs = ws ? ctl_ask(r, "connections") : NULL;
    char *frame = NULL;
    size_t len = 0;
    unsigned rows, width = ctl_out_width(a, &rows);
    FILE *m = cs ? open_memstream(&frame, &len) : NULL;

    if (m != NULL) {
        fmt_status(m, st, width);
        fputc('\n', m);
        fmt_workers(m, ws, width);
        if (json_is_true(json_object_get(cs, "ok"))) {
            fflush(m);
            fputc('\n', m);
            fmt_connections_top(m, cs, width, ctl_top_room(tty ? rows : 0, ctl_lines(frame, len)));
        }
        fclose(m);
        ctl_top_show(frame, tty, width, rows);
    }
    free(frame);
    json_decref(st);
    json_decref(ws);
    json_decref(cs);
    return m != NULL ? 0 : -1;
}

/* Waits up to secs for a key on a terminal; returns true when it was q,
 * or when stdout's reader has gone. */
static bool ctl_top_quit(bool tty, double secs)
{
    struct pollfd p[2] = {{.fd = STDOUT_FILENO, .events = 0},
                          {.fd = STDIN_FILENO, .events = POLLIN}};
    char c;

    if (poll(p, tty ? 2 : 1, (int)(secs * 1000)) <= 0)
        return false;
    if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
        return true;
    return read(STDIN_FILENO, &c, 1) <= 0 || c == 'q' || c == 'Q';
}

/* top: frames every interval until q (a terminal) or the iterations. */
static int ctl_top(const struct ctl_args *a, struct ctl_reader *r)
{
    bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    json_t *iv = json_object_get(a->req, "interval"), *it = json_object_get(a->req, "iterations");
    double interval = iv ? json_real_value(iv) : 1;
    unsigned iterations = it ? (unsigned)json_real_value(it) : 0; /* 0: until q */
    struct termios saved, raw;
    int rc = CTL_OK, out = 0;

    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* keys without Enter, unechoed */
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        tty = false;
    }
    for (unsigned i = 0; iterations == 0 || i < iterations; i++) {
        if (ctl_top_frame(a, r, tty) < 0) {
            rc = CTL_UNREACHABLE;
            break;
        }
        if ((out = ctl_flush()) != 0 || i + 1 == iterations || ctl_top_quit(tty, interval))
            break;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fputc('\n', stdout);
    }
    return out < 0 ? CTL_SERVER_ERROR : rc;
}

/* Prints the answer; returns the exit code. */
static int ctl_report(const struct ctl_args *a, const char *line)
{
    json_error_t jerr;
    json_t *resp = json_loads(line, 0, &jerr);
    int rc;

    if (resp == NULL || !json_is_object(resp)) {
        fprintf(stderr, "ferryctl: unreadable answer: %s\n", resp ? "not an object" : jerr.text);
        json_decref(resp);
        return CTL_SERVER_ERROR;
    }
    rc = json_is_true(json_object_get(resp, "ok")) ? CTL_OK : CTL_SERVER_ERROR;
    if (a->json)
        printf("%s\n", line);
    else if (rc == CTL_OK)
        a->cmd->print(stdout, resp, ctl_out_width(a, NULL));
    if (rc != CTL_OK) {
        const char *code = json_string_value(json_object_get(resp, "error"));
        const char *msg = json_string_value(json_object_get(resp, "message"));
        /* A refused reload's problems (as ferryd -t says them), a failed
         * upgrade's steps: each on a line. */
        static const char *const lists[] = {"problems", "steps"};
        json_t *p;
        size_t i;

        fprintf(stderr, "ferryctl: %s: %s\n", code ? code : "error", msg ? msg : "(no message)");
        for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
            json_array_foreach(json_object_get(resp, lists[l]), i, p)
                fprintf(stderr, "  %s\n", json_string_value(p));
        }
    }
    json_decref(resp);
    return rc;
}

/* Runs the parsed command against the socket at path; returns the exit
 * code. */
static int ctl_run(const struct ctl_args *a, const char *path)
{
    struct ctl_reader r = {.path = path};
    char *answer;
    int rc, out;

    if (a->cmd->timeout_s > 0)
        ctl_timeout_s = a->cmd->timeout_s;
    r.fd = ctl_connect(path);
    if (r.fd < 0)
        return CTL_UNREACHABLE;
    if (a->cmd->live) {
        rc = ctl_top(a, &r);
    } else {
        answer = ctl_send(r.fd, path, a->req) == 0 ? ctl_read_line(&r, false) : NULL;
        rc = answer != NULL ? ctl_report(a, answer) : CTL_UNREACHABLE;
        free(answer);
        /* A stream's reader needs the answer before the events. */
        if ((out = ctl_flush()) != 0)
            rc = out < 0 ? CTL_SERVER_ERROR : rc;
        else if (rc == CTL_OK && a->cmd->stream)
            rc = ctl_follow(a, &r);
    }
    free(r.buf);
    close(r.fd);
    return rc;
}

/* Answers --help, --version and usage errors; returns the exit code. */
static int ctl_parsed(int rc, const struct ctl_args *a, const char *err)
{
    if (rc == CTL_HELP) {
        if (a->cmd != NULL)
            ctl_cmd_usage(stdout, a->cmd);
        else
            ctl_usage(stdout);
        return ctl_flush() < 0 ? CTL_SERVER_ERROR : CTL_OK;
    }
    if (rc == CTL_VERSION) {
        printf("ferryctl %s\n", FERRY_VERSION);
        return ctl_flush() < 0 ? CTL_SERVER_ERROR : CTL_OK;
    }
    fprintf(stderr, "ferryctl: %s\n", err);
    if (a->cmd != NULL)
        ctl_cmd_usage(stderr, a->cmd);
    else
        ctl_usage(stderr);
    return CTL_USAGE;
}

int main(int argc, char **argv)
{
    struct ctl_args a;
    char err[4096], found[PATH_MAX];
    const char *path;
    int rc;

    setlocale(LC_CTYPE, ""); /* for the ellipsis: "…" on a UTF-8 terminal */
    signal(SIGPIPE, SIG_IGN);
    rc = ctl_parse(argc, argv, &a, err, sizeof(err));
    if (rc != CTL_RUN)
        return ctl_parsed(rc, &a, err);
    path = a.socket;
    if (path == NULL && (rc = ctl_find_socket(found, sizeof(found), err, sizeof(err))) != 0) {
        fprintf(stderr, "ferryctl: %s\n", err);
        json_decref(a.req);
        return rc;
    }
    rc = ctl_run(&a, path != NULL ? path : found);
    json_decref(a.req);
    return rc;
}
