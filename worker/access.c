/*
 * access: the Combined Log Format access log. See access.h.
 */
#include "worker/access.h"

#include "common/addr.h"
#include "common/text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ACCESS_LINE_MAX 2048

static int access_out = -1;
/* A copy: the configuration that named it may be replaced by a reload. */
static char access_path_buf[PATH_MAX];
static const char *access_path; /* NULL: stdout, never reopened */

int access_open(const char *path)
{
    int fd;

    if (strcmp(path, "-") == 0) {
        access_close(); /* a file before (a reload): this process's copy goes */
        access_out = STDOUT_FILENO;
        access_path = NULL;
        return 0;
    }
    if (strlen(path) >= sizeof(access_path_buf))
        return -ENAMETOOLONG;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    if (access_out >= 0 && access_out != STDOUT_FILENO) {
        /* Onto the same number: this process keeps writing where it did
         * (each process reopens for itself, on SIGUSR1). */
        if (dup2(fd, access_out) < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        close(fd);
    } else {
        access_out = fd;
    }
    if (path != access_path_buf) /* reopening passes the copy itself */
        snprintf(access_path_buf, sizeof(access_path_buf), "%s", path);
    access_path = access_path_buf;
    return 0;
}

void access_close(void)
{
    if (access_out >= 0 && access_out != STDOUT_FILENO)
        close(access_out);
    access_out = -1;
    access_path = NULL;
}

int access_reopen(void)
{
    int rc;

    if (access_path == NULL)
        return 0;
    rc = access_open(access_path);
    return rc < 0 ? rc : 1;
}

int access_fd(void)
{
    return access_out;
}

static const char *const access_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* [10/Oct/2000:13:55:36 +0000] */
static void access_time(struct text *t, time_t when)
{
    struct tm tm;

    gmtime_r(&when, &tm);
    text_str(t, "[");
    text_u64_pad(t, (uint64_t)tm.tm_mday, 2);
    text_str(t, "/");
    text_str(t, access_months[tm.tm_mon]);
    text_str(t, "/");
    text_u64(t, (uint64_t)tm.tm_year + 1900);
    text_str(t, ":");
    text_u64_pad(t, (uint64_t)tm.tm_hour, 2);
    text_str(t, ":");
    text_u64_pad(t, (uint64_t)tm.tm_min, 2);
    text_str(t, ":");
    text_u64_pad(t, (uint64_t)tm.tm_sec, 2);
    text_str(t, " +0000]");
}

/* "value", or "-" when empty; the value is escaped already. */
static void access_quoted(struct text *t, const char *s)
{
    text_str(t, "\"");
    text_str(t, s[0] != '\0' ? s : "-");
    text_str(t, "\"");
}

size_t access_format(const struct conn *c, char *buf, size_t cap)
{
    const struct conn_req *r = &c->req;
    char addr[ADDR_STR_MAX], *colon;
    struct text t;

    /* The host without the port: "1.2.3.4", "::1". */
    addr_format(&c->peer.sa, addr);
    colon = strrchr(addr, ':');
    if (colon != NULL)
        *colon = '\0';
    text_init(&t, buf, cap - 1); /* room for the newline */
    text_str(&t, addr[0] == '[' ? addr + 1 : addr);
    if (addr[0] == '[' && t.len > 0 && buf[t.len - 1] == ']')
        t.len--;
    text_str(&t, " - - ");
    access_time(&t, c->wall);
    text_str(&t, " \"");
    if (r->method[0] == '\0') { /* answered before its request line was read */
        text_str(&t, "-");
    } else {
        text_str(&t, r->method);
        text_str(&t, r->target[0] ? " " : "");
        text_str(&t, r->target);
        text_str(&t, " ");
        text_str(&t, r->version != NULL ? r->version : "-");
    }
    text_str(&t, "\" ");
    text_u64(&t, (uint64_t)r->code);
    text_str(&t, " ");
    if (r->sent > 0)
        text_u64(&t, r->sent);
    else
        text_str(&t, "-");
    text_str(&t, " ");
    access_quoted(&t, r->referer);
    text_str(&t, " ");
    access_quoted(&t, r->agent);
    buf[t.len++] = '\n';
    buf[t.len] = '\0';
    return t.len;
}

void access_write(const struct conn *c)
{
    char line[ACCESS_LINE_MAX];
    size_t n;

    if (access_out < 0 || !c->req.answered)
        return;
    n = access_format(c, line, sizeof(line));
    if (write(access_out, line, n) < 0) {
        /* a full disk loses access lines, never a request */
    }
}
