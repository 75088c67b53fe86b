/*
 * ferryctl: the operator's CLI over ferryd's JSON admin socket. Sends one
 * request line, reads one answer line, prints it for humans (or as is with
 * --json) and exits 0, 1 (the server answered an error), 2 (usage) or 3
 * (the socket cannot be reached).
 */
#include "admin/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
