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

/* Sends req as one line and reads one answer line. Returns a malloc'd
 * NUL-terminated line, or NULL after saying why. */
static char *ctl_exchange(int fd, const char *path, json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT), *ans = NULL;
    size_t len = 0, cap = 0;

    if (text == NULL)
        return NULL;
    if (dprintf(fd, "%s\n", text) < 0) {
        fprintf(stderr, "ferryctl: cannot write to %s: %s\n", path, strerror(errno));
        free(text);
        return NULL;
    }
    free(text);
    for (;;) {
        ssize_t n;

        if (len + 4096 + 1 > cap) {
            char *p = cap < CTL_ANSWER_MAX ? realloc(ans, cap = cap ? cap * 2 : 65536) : NULL;
            if (p == NULL)
                break;
            ans = p;
        }
        n = recv(fd, ans + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "ferryctl: %s: %s\n", path,
                    n == 0            ? "closed without an answer"
                    : errno == EAGAIN ? "no answer in time"
                                      : strerror(errno));
            break;
        }
        len += (size_t)n;
        ans[len] = '\0';
        if (memchr(ans, '\n', len) != NULL) {
            *strchr(ans, '\n') = '\0';
            return ans;
        }
    }
    free(ans);
    return NULL;
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
    answer = ctl_exchange(fd, path, a.req);
    close(fd);
    json_decref(a.req);
    if (answer == NULL)
        return CTL_UNREACHABLE;
    rc = ctl_report(&a, answer);
    free(answer);
    return rc;
}
