/*
 * lottery: the lottery client. See lottery.h.
 *
 * The session is strictly one command, one answer. While it waits for
 * the next line of stdin it also watches the socket, so that a server that
 * goes away (its idle limit, a restart) is reported at once rather than
 * at the next command, and stdin is read through a buffer of its own
 * rather than stdio's, so that poll() sees what is really left.
 */
#include "contrib/client/lottery.h"

#include "contrib/client/net.h"
#include "contrib/client/services.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOT_PROMPT     "Command (0:GEN 1:LIST 2:END): "
#define LOT_LINE_MAX   256  /* a command line; a longer one is refused */
#define LOT_ANSWER_MAX 1024 /* an answer line; a longer one is not the lottery's */

/* LOT_END_LE: END as x86 writes an int; the server takes it for END, so
 * the session ends here as for 2. */
enum { LOT_GEN = 0, LOT_LIST = 1, LOT_END = 2 };
#define LOT_END_LE 0x02000000u

/* The commands by name, for the input and the trace. */
static const struct lot_name {
    const char *name;
    uint32_t cmd;
} lot_names[] = {{"GEN", LOT_GEN}, {"LIST", LOT_LIST}, {"END", LOT_END}};

#define LOT_NNAMES (sizeof(lot_names) / sizeof(lot_names[0]))

/* What lot_line() found on stdin. */
enum lot_input { LOT_LINE, LOT_LONG, LOT_EOF };

struct lot {
    const struct client_opts *o;
    int sock;
    bool tty;         /* stdin is a terminal: prompt */
    bool prompt_open; /* the prompt is on stderr, its line not ended */
    bool in_eof;
    bool overlong; /* the line being read is too long: skipped */
    size_t len;
    char in[LOT_LINE_MAX + 1]; /* stdin's bytes not yet taken as lines */
};

/* The command's name, or "unknown". */
static const char *lot_name_of(uint32_t cmd)
{
    for (size_t i = 0; i < LOT_NNAMES; i++)
        if (lot_names[i].cmd == cmd)
            return lot_names[i].name;
    return "unknown";
}

/* The server spoke, or went away, while nothing was asked: either way the
 * session is over. Returns EX_TRANSFER. */
static int lot_unasked(struct lot *l, struct client_err *e)
{
    char byte;
    ssize_t n = recv(l->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return EX_OK;
    if (n == 0)
        return client_fail(e, EX_TRANSFER,
                           "the server closed the connection while ferry waited for a command");
    if (n < 0)
        return client_fail(e, EX_TRANSFER, "connection lost while waiting for a command: %s",
                           strerror(errno));
    return client_fail(e, EX_TRANSFER, "the server sent bytes that no command asked for");
}

/* Waits until stdin or the socket has something; reads stdin's bytes.
 * Returns EX_OK, or an exit code with e set. */
static int lot_read(struct lot *l, struct client_err *e)
{
    struct pollfd pf[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                           {.fd = l->sock, .events = POLLIN}};
    ssize_t n;
    int rc;

    if (poll(pf, 2, -1) < 0)
        return errno == EINTR ? EX_OK : client_fail(e, EX_LOCAL, "poll: %s", strerror(errno));
    if (pf[1].revents && (rc = lot_unasked(l, e)) != EX_OK)
        return rc;
    if (!pf[0].revents)
        return EX_OK;
    n = read(STDIN_FILENO, l->in + l->len, LOT_LINE_MAX - l->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return EX_OK;
    if (n < 0)
        return client_fail(e, EX_LOCAL, "reading stdin: %s", strerror(errno));
    l->in_eof = n == 0;
    l->len += (size_t)n;
    return EX_OK;
}

/* The next line of stdin, without its newline, into line (LOT_LINE_MAX +
 * 1 bytes); the last line may lack one. Returns EX_OK with *got set, or an
 * exit code with e set. */
static int lot_line(struct lot *l, char *line, enum lot_input *got, struct client_err *e)
{
    for (;;) {
        char *nl = memchr(l->in, '\n', l->len);
        size_t take = nl ? (size_t)(nl - l->in) : l->len;
        int rc;

        if (nl != NULL || (l->in_eof && (l->len > 0 || l->overlong))) {
            memcpy(line, l->in, take);
            line[take] = '\0';
            take += nl != NULL;
            memmove(l->in, l->in + take, l->len - take);
            l->len -= take;
            *got = l->overlong ? LOT_LONG : LOT_LINE;
            l->overlong = false;
            return EX_OK;
        }
        if (l->in_eof) {
            *got = LOT_EOF;
            return EX_OK;
        }
        if (l->len == LOT_LINE_MAX) { /* no newline in sight: skip to it */
            l->overlong = true;
            l->len = 0;
        }
        if ((rc = lot_read(l, e)) != EX_OK)
            return rc;
    }
}

/* Strips the spaces around a line in place; returns where it starts. */
static char *lot_trim(char *line)
{
    size_t len;

    while (isspace((unsigned char)*line))
        line++;
    len = strlen(line);
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        line[--len] = '\0';
    return line;
}

/* The command a trimmed, non-empty line names: decimal digits up to
 * 2^32-1, or a name in any case. Returns true with *cmd set. */
static bool lot_parse(const char *s, uint32_t *cmd)
{
    unsigned long long v;

    for (size_t i = 0; i < LOT_NNAMES; i++)
        if (strcasecmp(s, lot_names[i].name) == 0) {
            *cmd = lot_names[i].cmd;
            return true;
        }
    if (s[strspn(s, "0123456789")] != '\0')
        return false;
    errno = 0;
    v = strtoull(s, NULL, 10);
    if (errno != 0 || v > UINT32_MAX)
        return false;
    *cmd = (uint32_t)v;
    return true;
}

/* Sends cmd as 4 bytes, big-endian. Returns EX_OK or EX_TRANSFER. */
static int lot_send(struct lot *l, uint32_t cmd, struct client_err *e)
{
    uint8_t b[4] = {(uint8_t)(cmd >> 24), (uint8_t)(cmd >> 16), (uint8_t)(cmd >> 8), (uint8_t)cmd};

    if (l->o->verbose)
        fprintf(stderr, "> %02x %02x %02x %02x (%" PRIu32 ": %s)\n", b[0], b[1], b[2], b[3], cmd,
                lot_name_of(cmd));
    if (net_write_all(l->sock, b, sizeof(b)) < 0)
        return client_fail(e, EX_TRANSFER, "sending command %" PRIu32 ": %s", cmd,
                           services_strerror(errno));
    return EX_OK;
}

/* Prints an answer line on stdout, control bytes but its newline as \xNN.
 * Returns EX_OK or EX_LOCAL. */
static int lot_print(const char *buf, size_t len, struct client_err *e)
{
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    putchar('\n');
    if (fflush(stdout) != 0 || ferror(stdout))
        return client_fail(e, EX_LOCAL, "writing stdout: %s", strerror(errno));
    return EX_OK;
}

/* Reads the answer to cmd, one line, and prints it. The line is taken
 * from the socket up to its newline and no further (peeked first), so
 * that bytes after it stay there to be noticed as unasked. Returns EX_OK
 * or an exit code with e set. */
static int lot_answer(struct lot *l, uint32_t cmd, struct client_err *e)
{
    char buf[LOT_ANSWER_MAX];
    size_t len = 0;

    for (;;) {
        ssize_t n = recv(l->sock, buf + len, sizeof(buf) - len, MSG_PEEK);
        char *nl;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return client_fail(e, EX_TRANSFER, "waiting for the answer to command %" PRIu32 ": %s",
                               cmd, services_strerror(errno));
        if (n == 0)
            return client_fail(e, EX_TRANSFER,
                               "the server closed the connection %s command %" PRIu32,
                               len ? "in the middle of its answer to" : "without answering", cmd);
        nl = memchr(buf + len, '\n', (size_t)n);
        if (nl != NULL)
            n = nl - (buf + len) + 1;
        if (recv(l->sock, buf + len, (size_t)n, 0) != n) /* what was peeked */
            return client_fail(e, EX_TRANSFER, "receiving the answer: %s", strerror(errno));
        len += (size_t)n;
        if (nl != NULL)
            break;
        if (len == sizeof(buf))
            return client_fail(e, EX_TRANSFER,
                               "an answer longer than %d bytes: not a lottery server?",
                               LOT_ANSWER_MAX);
    }
    if (l->o->verbose)
        fprintf(stderr, "< %zu bytes\n", len);
    return lot_print(buf, len, e);
}

/* Sends END and waits for the server to close, as it must. Returns EX_OK
 * or EX_TRANSFER. */
static int lot_end(struct lot *l, struct client_err *e)
{
    char buf[64];
    ssize_t n;
    int rc = lot_send(l, LOT_END, e);

    if (rc != EX_OK)
        return rc;
    while ((n = recv(l->sock, buf, sizeof(buf), 0)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return client_fail(e, EX_TRANSFER, "waiting for the server to close after END: %s",
                           services_strerror(errno));
    if (n > 0)
        return client_fail(e, EX_TRANSFER, "the server answered END instead of closing");
    if (l->o->verbose)
        fprintf(stderr, "* the server closed the connection\n");
    return EX_OK;
}

/* Reads commands and has them answered until END or the end of stdin. */
static int lot_loop(struct lot *l, struct client_err *e)
{
    char line[LOT_LINE_MAX + 1];
    enum lot_input got;
    uint32_t cmd = 0;
    int rc;

    for (;;) {
        const char *s;

        if (l->tty && !l->prompt_open) {
            fputs(LOT_PROMPT, stderr);
            l->prompt_open = true;
        }
        if ((rc = lot_line(l, line, &got, e)) != EX_OK)
            return rc;
        if (got == LOT_EOF && l->prompt_open) /* ^D: the line is still open */
            fputc('\n', stderr);
        l->prompt_open = false; /* else the terminal ended its line */
        if (got == LOT_EOF)
            break;
        s = lot_trim(line);
        if (got == LOT_LONG) {
            fprintf(stderr, "ferry: a command is at most %d characters; not sent\n",
                    LOT_LINE_MAX - 1);
        } else if (*s != '\0' && !lot_parse(s, &cmd)) {
            fprintf(stderr,
                    "ferry: '%.40s' is not a command (0 GEN, 1 LIST, 2 END, or a number up to "
                    "4294967295); not sent\n",
                    s);
        } else if (*s != '\0' && (cmd == LOT_END || cmd == LOT_END_LE)) {
            break;
        } else if (*s != '\0') {
            if ((rc = lot_send(l, cmd, e)) != EX_OK || (rc = lot_answer(l, cmd, e)) != EX_OK)
                return rc;
        }
    }
    return lot_end(l, e);
}

int lot_session(const struct client_opts *o, struct client_err *e)
{
    struct lot *l = calloc(1, sizeof(*l));
    int rc;

    if (l == NULL)
        return client_fail(e, EX_LOCAL, "out of memory");
    l->o = o;
    l->tty = isatty(STDIN_FILENO);
    if ((l->sock = net_connect(o, e)) < 0) {
        free(l);
        return EX_CONNECT;
    }
    rc = lot_loop(l, e);
    if (l->prompt_open) /* an error at the prompt starts a line of its own */
        fputc('\n', stderr);
    close(l->sock);
    free(l);
    return rc;
}
