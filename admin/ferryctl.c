/*
 * ferryctl: the operator's CLI over ferryd's JSON admin socket. Sends one
 * request line, reads one answer line, prints it for humans (or as is with
 * --json) and exits 0, 1 (the server answered an error), 2 (usage) or 3
 * (the socket cannot be reached).
 */
#include "admin/ctl.h"
#include "admin/fmt.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define CTL_TIMEOUT_S  10
#define CTL_ANSWER_MAX (16 << 20)

/* Connects to path. Returns the fd, or -1 after saying why. */
static int ctl_connect(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = CTL_TIMEOUT_S};
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

/* Buffered line reading from the socket. */
struct ctl_reader {
    int fd;
    const char *path;
    char *buf;
    size_t len, cap;
};

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
        n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 || !quiet_eof)
                fprintf(stderr, "ferryctl: %s: %s\n", r->path,
                        n == 0            ? "closed without an answer"
                        : errno == EAGAIN ? "no answer in time"
                                          : strerror(errno));
            return NULL;
        }
        r->len += (size_t)n;
    }
}

/* Sends req as one line. Returns 0, or -1 after saying why. */
static int ctl_send(int fd, const char *path, json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT);
    int rc = text != NULL && dprintf(fd, "%s\n", text) >= 0 ? 0 : -1;

    if (rc < 0)
        fprintf(stderr, "ferryctl: cannot write to %s: %s\n", path, strerror(errno));
    free(text);
    return rc;
}

/* Prints the events that follow a subscribe answer until ferryd closes. */
static int ctl_follow(const struct ctl_args *a, struct ctl_reader *r)
{
    struct timeval none = {0};
    char *line;

    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)); /* wait for ever */
    while ((line = ctl_read_line(r, true)) != NULL) {
        json_t *ev = json_loads(line, 0, NULL);

        if (a->json) {
            printf("%s\n", line);
            fflush(stdout);
        } else if (ev != NULL) {
            a->cmd->print(stdout, ev);
        }
        json_decref(ev);
        free(line);
    }
    return CTL_OK;
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

/* Draws one frame of top: the status report, then the workers table. */
static int ctl_top_frame(struct ctl_reader *r, bool tty)
{
    json_t *st = ctl_ask(r, "status"), *ws = st ? ctl_ask(r, "workers") : NULL;
    int rc = st && ws ? 0 : -1;

    if (rc == 0) {
        if (tty)
            fputs("\033[H\033[2J", stdout); /* home, clear */
        fmt_status(stdout, st);
        fputc('\n', stdout);
        fmt_workers(stdout, ws);
        if (tty)
            fputs("\n(q quits)", stdout);
        fflush(stdout);
    }
    json_decref(st);
    json_decref(ws);
    return rc;
}

/* Waits up to secs for a key on a terminal; returns true when it was q. */
static bool ctl_top_quit(bool tty, double secs)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    char c;

    if (!tty) {
        poll(NULL, 0, (int)(secs * 1000));
        return false;
    }
    if (poll(&p, 1, (int)(secs * 1000)) <= 0)
        return false;
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
    int rc = CTL_OK;

    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* keys without Enter, unechoed */
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        tty = false;
    }
    for (unsigned i = 0; iterations == 0 || i < iterations; i++) {
        if (ctl_top_frame(r, tty) < 0) {
            rc = CTL_UNREACHABLE;
            break;
        }
        if (i + 1 == iterations || ctl_top_quit(tty, interval))
            break;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fputc('\n', stdout);
    }
    return rc;
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
        a->cmd->print(stdout, resp);
    fflush(stdout); /* a stream's reader needs the answer before the events */
    if (rc != CTL_OK) {
        const char *code = json_string_value(json_object_get(resp, "error"));
        const char *msg = json_string_value(json_object_get(resp, "message"));
        fprintf(stderr, "ferryctl: %s: %s\n", code ? code : "error", msg ? msg : "(no message)");
    }
    json_decref(resp);
    return rc;
}

int main(int argc, char **argv)
{
    struct ctl_args a;
    char err[512], path[512];
    char *answer;
    int rc, fd;

    rc = ctl_parse(argc, argv, &a, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0) {
            ctl_usage(stdout);
            return CTL_OK;
        }
        fprintf(stderr, "ferryctl: %s\ntry 'ferryctl --help'\n", err);
        return CTL_USAGE;
    }
    if (a.socket != NULL)
        snprintf(path, sizeof(path), "%s", a.socket);
    else if ((rc = ctl_find_socket(path, sizeof(path), err, sizeof(err))) != 0) {
        fprintf(stderr, "ferryctl: %s\n", err);
        json_decref(a.req);
        return rc;
    }
    fd = ctl_connect(path);
    if (fd < 0) {
        json_decref(a.req);
        return CTL_UNREACHABLE;
    }
    struct ctl_reader r = {.fd = fd, .path = path};
    if (a.cmd->live) {
        rc = ctl_top(&a, &r);
        json_decref(a.req);
        free(r.buf);
        close(fd);
        return rc;
    }
    answer = ctl_send(fd, path, a.req) == 0 ? ctl_read_line(&r, false) : NULL;
    json_decref(a.req);
    rc = answer != NULL ? ctl_report(&a, answer) : CTL_UNREACHABLE;
    free(answer);
    if (rc == CTL_OK && a.cmd->stream)
        rc = ctl_follow(&a, &r);
    free(r.buf);
    close(fd);
    return rc;
}
