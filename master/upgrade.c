/*
 * upgrade: the binary upgrade's processes and channel. See upgrade.h.
 */
#include "master/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

#define UPGRADE_FD_START 3 /* systemd's SD_LISTEN_FDS_START */
#define UPGRADE_ENV_MAX  256

static char upgrade_path[PATH_MAX];

/* argv0 found in $PATH, as the shell found it, into upgrade_path.
 * Returns 0 or -ENOENT. */
static int upgrade_exe_search(const char *argv0)
{
    const char *path = getenv("PATH");

    for (const char *p = path; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ":");

        if (len > 0 &&
            snprintf(upgrade_path, sizeof(upgrade_path), "%.*s/%s", (int)len, p, argv0) <
                (int)sizeof(upgrade_path) &&
            access(upgrade_path, X_OK) == 0)
            return 0;
        p += len + (p[len] == ':');
    }
    return -ENOENT;
}

int upgrade_exe_init(const char *argv0)
{
    char cwd[PATH_MAX];
    ssize_t n;

    /* The path as given, not resolved: started as /opt/ferry/current/ferryd
     * through a symbolic link, an upgrade runs what the link names then. */
    if (argv0 != NULL && argv0[0] == '/') {
        snprintf(upgrade_path, sizeof(upgrade_path), "%s", argv0);
        return 0;
    }
    if (argv0 != NULL && strchr(argv0, '/') != NULL && getcwd(cwd, sizeof(cwd)) != NULL &&
        snprintf(upgrade_path, sizeof(upgrade_path), "%s/%s", cwd, argv0) <
            (int)sizeof(upgrade_path))
        return 0;
    if (argv0 != NULL && strchr(argv0, '/') == NULL && upgrade_exe_search(argv0) == 0)
        return 0;
    /* Otherwise the binary that runs, as the kernel names it. */
    n = readlink("/proc/self/exe", upgrade_path, sizeof(upgrade_path) - 1);
    if (n < 0) {
        upgrade_path[0] = '\0';
        return -errno;
    }
    upgrade_path[n] = '\0';
    return 0;
}

const char *upgrade_exe(void)
{
    return upgrade_path;
}

int upgrade_escape(const char *name, char *out, size_t len)
{
    size_t o = 0;

    for (const char *p = name; *p != '\0'; p++) {
        const char *rep = *p == ':' ? "%3A" : *p == '%' ? "%25" : NULL;
        size_t n = rep ? 3 : 1;

        if (o + n >= len)
            return -ENAMETOOLONG;
        memcpy(out + o, rep ? rep : p, n);
        o += n;
    }
    if (o >= len)
        return -ENAMETOOLONG;
    out[o] = '\0';
    return 0;
}

int upgrade_unescape(const char *in, size_t n, char *out, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = in[i];

        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            if (strncmp(in + i, "%3A", 3) == 0)
                c = ':';
            else if (strncmp(in + i, "%25", 3) == 0)
                c = '%';
            else
                return -EINVAL;
            i += 2;
        }
        if (o + 1 >= len)
            return -EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* A variable's value as a number; -1 when absent or no number. */
static long upgrade_env_num(const char *name)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    return errno != 0 || *end != '\0' || n < 0 ? -1 : n;
}

/* Splits LISTEN_FDNAMES into the names of out[0..n). Returns 0 or
 * -EINVAL. */
static int upgrade_names(struct upgrade_fd *out, size_t n)
{
    const char *names = getenv("LISTEN_FDNAMES"), *p = names;

    if (names == NULL)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, ":");

        if (upgrade_unescape(p, len, out[i].name, sizeof(out[i].name)) < 0)
            return -EINVAL;
        p += len;
        if (*p == ':')
            p++;
        else if (i + 1 < n)
            return -EINVAL;
    }
    return *p == '\0' ? 0 : -EINVAL;
}

long upgrade_inherited(struct upgrade_fd *out, size_t max, int *channel)
{
    long pid = upgrade_env_num("LISTEN_PID"), n = upgrade_env_num("LISTEN_FDS");
    long ch = upgrade_env_num("FERRY_UPGRADE_FD");
    long rc = 0;

    *channel = -1;
    if (pid != (long)getpid() || n <= 0) /* not for this process */
        goto done;
    if ((size_t)n > max || upgrade_names(out, (size_t)n) < 0) {
        rc = -EINVAL;
        goto done;
    }
    for (long i = 0; i < n; i++) {
        out[i].fd = UPGRADE_FD_START + (int)i;
        fcntl(out[i].fd, F_SETFD, FD_CLOEXEC); /* handed down again only on purpose */
    }
    if (ch == UPGRADE_FD_START + n) {
        *channel = (int)ch;
        fcntl(*channel, F_SETFD, FD_CLOEXEC);
    }
    rc = n;
done:
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    unsetenv("FERRY_UPGRADE_FD");
    return rc;
}

/* The variables the successor is given (one upgrade at a time). */
static struct {
    char pid[32]; /* written by the child, which alone knows it */
    char count[32];
    char channel[32];
} upgrade_vars;

/* The environment of the successor: this one without the variables of an
 * earlier hand-down, then the new ones. The caller frees the array and
 * its first new string, *names. NULL when out of memory. */
static char **upgrade_env(const struct upgrade_fd *fds, size_t n, char **names)
{
    static const char *const ours[] = {
        "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=", "FERRY_UPGRADE_FD="};
    size_t count = 0, k = 0, len = sizeof("LISTEN_FDNAMES=");
    char **env, *p;

    while (environ[count] != NULL)
        count++;
    for (size_t i = 0; i < n; i++)
        len += strlen(fds[i].name) * 3 + 1; /* each byte escaped at worst, and a ':' */
    env = calloc(count + 5, sizeof(char *));
    *names = malloc(len);
    if (env == NULL || *names == NULL) {
        free(env);
        free(*names);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        bool skip = false;

        for (size_t j = 0; j < sizeof(ours) / sizeof(ours[0]); j++)
            skip |= strncmp(environ[i], ours[j], strlen(ours[j])) == 0;
        if (!skip)
            env[k++] = environ[i];
    }
    p = *names + sprintf(*names, "LISTEN_FDNAMES=");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ':';
        upgrade_escape(fds[i].name, p, len - (size_t)(p - *names));
        p += strlen(p);
    }
    snprintf(upgrade_vars.count, sizeof(upgrade_vars.count), "LISTEN_FDS=%zu", n);
    snprintf(upgrade_vars.channel, sizeof(upgrade_vars.channel), "FERRY_UPGRADE_FD=%zu",
             UPGRADE_FD_START + n);
    env[k++] = *names;
    env[k++] = upgrade_vars.pid;
    env[k++] = upgrade_vars.count;
    env[k++] = upgrade_vars.channel;
    return env;
}

/* The child, between fork() and execve(): the descriptors to 3.., the
 * channel after them, nothing else open; LISTEN_PID; the new binary. On
 * failure says so on the channel and exits. Never returns. */
static void upgrade_child(const char *exe, char *const argv[], char **env,
                          const struct upgrade_fd *fds, size_t n, int channel)
{
    int moved[UPGRADE_FDS_MAX + 1], top = UPGRADE_FD_START + (int)n + 1, err;
    struct sigaction sa = {.sa_handler = SIG_DFL};
    char msg[32];

    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* the loop's handlers are not the new binary's */
    /* First above every target and every source, so that placing one
     * never overwrites another still to be placed. */
    for (size_t i = 0; i < n; i++)
        top = fds[i].fd >= top ? fds[i].fd + 1 : top;
    top = channel >= top ? channel + 1 : top;
    for (size_t i = 0; i <= n; i++) {
        moved[i] = fcntl(i < n ? fds[i].fd : channel, F_DUPFD, top);
        if (moved[i] < 0)
            goto fail;
    }
    for (size_t i = 0; i <= n; i++) {
        if (dup2(moved[i], UPGRADE_FD_START + (int)i) < 0) /* dup2 clears CLOEXEC */
            goto fail;
    }
    close_range(UPGRADE_FD_START + (unsigned)n + 1, ~0U, 0);
    channel = UPGRADE_FD_START + (int)n;
    snprintf(upgrade_vars.pid, sizeof(upgrade_vars.pid), "LISTEN_PID=%ld", (long)getpid());
    execve(exe, argv, env);
fail:
    err = errno;
    snprintf(msg, sizeof(msg), "EXEC %d", err);
    send(channel, msg, strlen(msg), MSG_NOSIGNAL);
    _exit(127);
}

/* The channel is readable: one message, or the other end gone. */
static void upgrade_on_readable(uv_poll_t *h, int status, int events)
{
    struct upgrade *u = h->data;
    char msg[64];
    ssize_t n;
    long arg = 0;

    (void)status;
    (void)events;
    n = recv(u->fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        upgrade_close(u);
        u->on_event(u, UPGRADE_CLOSED, 0);
        return;
    }
    msg[n] = '\0';
    if (sscanf(msg, "READY %ld", &arg) == 1) {
        uv_timer_stop(&u->timer);
        u->on_event(u, UPGRADE_READY, arg);
    } else if (sscanf(msg, "EXEC %ld", &arg) == 1) {
        uv_timer_stop(&u->timer);
        u->on_event(u, UPGRADE_EXEC_FAILED, arg);
    } else if (strcmp(msg, "HANDED_OVER") == 0) {
        u->on_event(u, UPGRADE_HANDED_OVER, 0);
    } else if (strcmp(msg, "HUB_GONE") == 0) {
        u->on_event(u, UPGRADE_HUB_GONE, 0);
    } else if (strcmp(msg, "ABORT") == 0) {
        u->on_event(u, UPGRADE_ABORT, 0);
    }
}

void upgrade_flush(struct upgrade *u)
{
    /* Each call takes one message; a closed channel ends it (CLOSED). */
    for (int i = 0; i < 8 && u->active; i++) {
        char c;

        if (recv(u->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0)
            return; /* nothing waits */
        upgrade_on_readable(&u->poll, 0, UV_READABLE);
    }
}

static void upgrade_on_timeout(uv_timer_t *t)
{
    struct upgrade *u = t->data;

    u->on_event(u, UPGRADE_TIMEOUT, 0);
}

/* Watches fd on loop. Returns 0 or a libuv error (fd then closed). */
static int upgrade_watch(struct upgrade *u, uv_loop_t *loop, int fd)
{
    int rc;

    u->fd = fd;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    if ((rc = uv_poll_init_socket(loop, &u->poll, fd)) < 0) {
        uv_close((uv_handle_t *)&u->timer, NULL);
        close(fd);
        u->fd = -1;
        return rc;
    }
    u->poll.data = u;
    uv_poll_start(&u->poll, UV_READABLE, upgrade_on_readable);
    u->active = true;
    return 0;
}

int upgrade_attach(struct upgrade *u, uv_loop_t *loop, int channel)
{
    return upgrade_watch(u, loop, channel);
}

pid_t upgrade_start(struct upgrade *u, uv_loop_t *loop, char *const argv[],
                    const struct upgrade_fd *fds, size_t n, unsigned timeout_ms)
{
    int pair[2], rc;
    char **env, *names;
    sigset_t all, old;
    pid_t pid;

    if (u->active) /* one channel, one upgrade */
        return -EBUSY;
    if (upgrade_path[0] == '\0')
        return -ENOENT;
    if (n > UPGRADE_FDS_MAX)
        return -EMFILE;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
        return -errno;
    if ((env = upgrade_env(fds, n, &names)) == NULL) {
        close(pair[0]);
        close(pair[1]);
        return -ENOMEM;
    }
    /* As proc_fork(): no handler of the loop may run in the child. Unlike
     * a worker, the successor outlives this master: no PDEATHSIG. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0)
        upgrade_child(upgrade_path, argv, env, fds, n, pair[1]);
    rc = -errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(env);
    free(names);
    close(pair[1]);
    if (pid < 0) {
        close(pair[0]);
        return rc;
    }
    if ((rc = upgrade_watch(u, loop, pair[0])) < 0) {
        kill(pid, SIGTERM);
        return rc;
    }
    u->pid = pid;
    uv_timer_start(&u->timer, upgrade_on_timeout, timeout_ms, 0);
    return pid;
}

int upgrade_send(struct upgrade *u, const char *msg)
{
    if (u->fd < 0)
        return -EPIPE;
    return send(u->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

void upgrade_close(struct upgrade *u)
{
    if (!u->active)
        return;
    u->active = false;
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, NULL);
    uv_close((uv_handle_t *)&u->poll, NULL);
    close(u->fd);
    u->fd = -1;
}
