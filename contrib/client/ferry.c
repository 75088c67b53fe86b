/*
 * ferry: the command-line client of protocol v1 and of the small services.
 *
 *   ferry get HOST PORT NAME MAX_SIZE          one file, one round trip (GET)
 *   ferry get --many HOST PORT MAX_SIZE NAME...  several, in turn
 *   ferry ls HOST PORT                         the served directory (LIST)
 *   ferry echo|upcase HOST PORT [TEXT...]      bytes there and back, checked
 *   ferry daytime HOST PORT                    the server's time
 *   ferry lottery HOST PORT                    a session of commands on stdin
 *   ferry hub HOST PORT                        the publish/subscribe hub's client
 *
 * (HOST:PORT wherever HOST PORT is.) A file is written atomically: into a
 * temporary file beside the target, renamed into place only when every
 * byte has arrived, removed on any failure (signals included) — unless -c
 * keeps it as NAME.part, to be resumed. This file is the command line; the
 * work is in fetch.c (downloads), list.c (ls), output.c (files), net.c
 * (sockets and pacing), progress.c (the bar), services.c (echo, upcase,
 * daytime), lottery.c and hub.c (with hubcli.c, the hub's state machine;
 * hubcli_wire.c, its wires; hubpin.c, the hub keys trusted; hubpass.c,
 * the password prompt; hubfile.c, uploads and fetches).
 */
#include "common/duration.h"
#include "common/size.h"
#include "contrib/client/client.h"
#include "contrib/client/fetch.h"
#include "contrib/client/hub.h"
#include "contrib/client/hubpass.h"
#include "contrib/client/hubpin.h"
#include "contrib/client/list.h"
#include "contrib/client/lottery.h"
#include "contrib/client/output.h"
#include "contrib/client/progress.h"
#include "contrib/client/services.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TIMEOUT_DEFAULT       30000
#define HUB_KEEPALIVE_DEFAULT 20000 /* below the hub's 60 s session timeout */

/* The commands as bits, for the options that apply to some of them. */
enum {
    CMD_GET = 1 << 0,
    CMD_LS = 1 << 1,
    CMD_ECHO = 1 << 2,
    CMD_UPCASE = 1 << 3,
    CMD_DAYTIME = 1 << 4,
    CMD_LOTTERY = 1 << 5,
    CMD_HUB = 1 << 6,
    CMD_TEXT = CMD_ECHO | CMD_UPCASE,
    CMD_ANY = (1 << 7) - 1,
};
/* long options without a letter */
enum {
    OPT_RATE = 256,
    OPT_MANY,
    OPT_JSON,
    OPT_HUB_KEEPALIVE,
    OPT_HUB_WIRE,
    OPT_KNOWN_HUBS,
    OPT_HUB_KEY,
    OPT_FILES_PORT,
    OPT_AUTO_FETCH,
};

/* One table for getopt_long(), --help and the check that an option
 * belongs to the command. */
static const struct cli_option {
    const char *name;
    int val;
    const char *arg, *help, *defval;
    unsigned cmds;
} cli_options[] = {
    {"output", 'o', "PATH", "output file or directory; '-': stdout", "./NAME", CMD_GET},
    {"force", 'f', NULL, "replace an existing file", "off", CMD_GET},
    {"continue", 'c', NULL, "resume from NAME.part; keep it after a failure", "off", CMD_GET},
    {"rate", OPT_RATE, "BYTES/s", "receive at most this fast: 256K, 1M/s", "unlimited", CMD_GET},
    {"many", OPT_MANY, NULL, "fetch each NAME in turn (MAX_SIZE comes first)", "off", CMD_GET},
    {"quiet", 'q', NULL, "no progress bar, summary or rtt line; errors only", "off",
     CMD_GET | CMD_TEXT},
    {"json", OPT_JSON, NULL, "print the listing as one JSON array", "off", CMD_LS},
    {"hub-keepalive", OPT_HUB_KEEPALIVE, "S", "logged in and idle, a keepalive every S", "20s",
     CMD_HUB},
    {"hub-wire", OPT_HUB_WIRE, "WIRE", "secure or plain, as the hub's", "secure", CMD_HUB},
    {"known-hubs", OPT_KNOWN_HUBS, "FILE", "the hub keys pinned", "~/.config/ferry/known_hubs",
     CMD_HUB},
    {"hub-key", OPT_HUB_KEY, "HEX", "trust only this hub key, pin none", "off", CMD_HUB},
    {"files-port", OPT_FILES_PORT, "PORT", "ferryd's native port, for files", "PORT", CMD_HUB},
    {"auto-fetch", OPT_AUTO_FETCH, "DIR", "fetch each file announced into DIR", "off", CMD_HUB},
    {"verbose", 'v', NULL, "trace the protocol exchange on stderr", "off", CMD_ANY},
    /* The hub's client has its own clock: retransmission, then a verdict. */
    {"timeout", 't', "DURATION", "connect and I/O timeout, e.g. 30, 500ms, 2m", "30s",
     CMD_ANY & ~CMD_HUB},
    {"help", 'h', NULL, "this help (per command: ferry ls --help)", NULL, CMD_ANY},
    {"version", 'V', NULL, "print the version", NULL, CMD_ANY},
};

#define CLI_NOPTIONS (sizeof(cli_options) / sizeof(cli_options[0]))

/* The command line's operands, in order, options taken out. */
struct operands {
    const char **v; /* argc entries */
    int n;
};

/* The command line, parsed. */
struct cmdline {
    const struct command *cmd;
    struct client_opts o;
    const char **names; /* get: one NAME, or with --many every NAME; echo: TEXT */
    int nnames;
    unsigned given; /* bit i: cli_options[i] was on the line */
};

/* The operands that follow HOST PORT (or HOST:PORT) in each form. */
struct form {
    const char *rest; /* for messages */
    int nrest;        /* how many */
    bool more;        /* ...or more */
};

static const struct form form_get = {" NAME MAX_SIZE", 2, false};
static const struct form form_many = {" MAX_SIZE NAME...", 2, true};
static const struct form form_bare = {"", 0, false};
static const struct form form_text = {" [TEXT...]", 0, true};

/* Each command's forms, one a line, each to follow "ferry ". */
static const char synopsis_get[] = "get [options] HOST PORT NAME MAX_SIZE\n"
                                   "get [options] HOST:PORT NAME MAX_SIZE\n"
                                   "get --many [options] HOST PORT MAX_SIZE NAME...\n";
static const char synopsis_ls[] = "ls [options] HOST PORT\n"
                                  "ls [options] HOST:PORT\n";
static const char synopsis_text[] = "echo|upcase [options] HOST PORT [TEXT...]\n";
static const char synopsis_daytime[] = "daytime [options] HOST PORT\n";
static const char synopsis_lottery[] = "lottery [options] HOST PORT\n";
static const char synopsis_hub[] = "hub [options] HOST PORT\n";

static const char usage_get[] =
    "\nget fetches the file NAME from a ferryd at HOST and PORT, in one round trip\n"
    "(GET; a server that predates it is asked again the old way). Files larger\n"
    "than MAX_SIZE are refused; the file appears only once complete. With -c an\n"
    "interrupted download is kept as NAME.part (beside the output; ferry says how\n"
    "much) and the next -c asks only for the rest; if the server's file is now\n"
    "smaller, ferry stops (exit 19) rather than guess. An output already there\n"
    "without a .part is asked about: the server's size says 'already complete'\n"
    "(exit 0), else it is refused. Without -c a NAME.part is left alone. --many\n"
    "fetches each NAME in turn into the current directory (or -o DIR), one line\n"
    "each, and exits with the highest exit code of them all.\n";

static const char usage_ls[] =
    "\nls lists the files a ferryd at HOST and PORT serves: size, local modification\n"
    "time and name, sorted by name; --json prints [{\"name\", \"size\", \"mtime\"}...]\n"
    "with mtime in Unix seconds.\n";

static const char usage_text[] =
    "\necho sends TEXT, its words joined by spaces and followed by a newline, to the\n"
    "echo service at HOST and PORT, or without TEXT all of stdin, and prints what\n"
    "comes back on stdout; upcase does the same with the upcase service, which\n"
    "upper-cases ASCII letters. Every byte is checked against the one sent\n"
    "(upper-cased for upcase) before it is printed, so stdout only ever holds what\n"
    "was expected: ferry stops at the first byte that differs, and when the server\n"
    "closes before echoing everything (it bounds the bytes of a connection). stdin\n"
    "is sent while the echo is read, so input of any size flows; its end\n"
    "half-closes the connection. Then one line on stderr: with TEXT the bytes and\n"
    "the round-trip time ('ferry: echo: 6 bytes, rtt 0.21 ms'), from stdin the\n"
    "bytes, the time and the rate.\n";

static const char usage_daytime[] =
    "\ndaytime prints the line the daytime service at HOST and PORT sends, the\n"
    "server's local time ('Tue Nov 24 12:38:05 2026'), without its carriage return.\n";

static const char usage_lottery[] =
    "\nlottery plays a session with the lottery service at HOST and PORT. Commands\n"
    "come from stdin, one a line: 0 or GEN draws a number (of six, 1 to 45), 1 or\n"
    "LIST lists them in draw order (0: not drawn yet), 2 or END ends the session;\n"
    "any other number up to 4294967295 is sent too, for the server to refuse. Each\n"
    "goes as a 4-byte big-endian integer; each answer line is printed on stdout.\n"
    "On a terminal ferry prompts 'Command (0:GEN 1:LIST 2:END): ' on stderr; from\n"
    "a pipe or a file it does not, so stdout holds only the answers:\n"
    "  printf '0\\n0\\n1\\n' | ferry lottery HOST PORT\n"
    "A line that is no command is refused on stderr, not sent, and the session\n"
    "goes on. The end of stdin sends END; exit 0 once the server has closed.\n"
    "-t bounds each answer, not your typing (the server has its own idle limit).\n";

static const char usage_hub[] =
    "\nhub is the client of the publish/subscribe hub at HOST and PORT (UDP; ferryd\n"
    "--listen hub=). Lines on stdin, one a line: login#ID (the password is asked for\n"
    "on the terminal, without echo, or read from the next line when stdin is not a\n"
    "terminal) or login#ID&PASSWORD (which lands in the shell's history),\n"
    "subscribe#ID, unsubscribe#ID, post#TEXT, postfile#PATH (uploads the file to\n"
    "the hub's ferryd, which announces it to the followers), retrieve#N, logout#,\n"
    "state# (prints the state), and the course's test hooks reset#, junk# and\n"
    "spurious#. stdout gets the course's lines (login_ack#successful, <alice>some\n"
    "text, ...; docs/HUB.md lists them), line-buffered in a pipe. Each line is\n"
    "handled once the one before has its answer, so a script may pipe many:\n"
    "  printf 'login#bob\\nbob-pw\\nsubscribe#alice\\nretrieve#10\\n' | ferry hub ::1 12345\n"
    "The secure wire, the default, signs the login (the password never leaves) and\n"
    "seals every datagram; the hub's key is pinned in known_hubs the first time, and\n"
    "a hub that shows another key later is refused (error#hub_key_mismatch). With\n"
    "--auto-fetch DIR each file announced (<alice>file NAME SIZE SHA256) is fetched\n"
    "into DIR, kept only if its SHA-256 matches: file#fetched NAME, or\n"
    "error#fetch_failed NAME and why on stderr. A request is sent again at 0.5,\n"
    "1.5, 3.5, ... s; after 8 sends without an answer ferry prints\n"
    "error#hub_unreachable. A line that is no command is refused on stderr, not\n"
    "sent. At the end of stdin ferry finishes what is in flight, then exits (it\n"
    "does not log out: the session ends at the hub's timeout).\n";

static const char usage_host[] =
    "\nHOST is a host name (every address it has is tried, in order) or an IPv4 or\n"
    "IPv6 literal; the port may be attached: host:PORT, 1.2.3.4:PORT, [::1]:PORT\n"
    "(an IPv6 address takes brackets when a port follows).\n";

static const char usage_sizes[] =
    "MAX_SIZE, --rate: bytes, or with a unit in any case: K M G T and KiB MiB GiB\n"
    "TiB are powers of 1024 (10M = 10485760), KB MB GB TB powers of 1000\n"
    "(10MB = 10000000); --rate may end in /s.\n";

static const char usage_options_intro[] =
    "DURATION: a number of seconds, or with a unit: ms s m h d (1m30s, 1.5h).\n\n"
    "Options may come anywhere on the line; '--' ends them (for a NAME or TEXT\n"
    "starting with '-'). Default in brackets.\n\n";

static const char usage_progress[] =
    "\nOn a terminal a progress bar shows on stderr; otherwise one summary line\n"
    "when the file is complete (with --many, one line per file whatever the\n"
    "outcome). -q silences both, not errors nor -v's trace.\n";

static const char usage_exit[] =
    "\nexit codes:\n"
    "  0 ok        1 local file error (exists, disk full)   2 usage\n"
    "  3 cannot connect   4 file too large (refused)   5 truncated or timed out\n"
    "  10+status: 11 version mismatch, 12 invalid name, 13 not found,\n"
    "  14 not a regular file, 15 access denied, 16 bad request (ls: no LIST),\n"
    "  17 server error, 19 offset beyond the end (-c: the file shrank), 20 server busy\n"
    "  --many: the highest code of its files\n";

static const char usage_exit_hub[] =
    "\nexit codes (hub):\n"
    "  0 ok (stdin ended, every line handled)   1 reading stdin or writing stdout failed\n"
    "  2 usage   3 cannot resolve HOST or open a socket to it\n"
    "  5 after stdin ended the hub stopped answering, with lines still waiting\n";

static const char usage_exit_services[] =
    "\nexit codes (echo, upcase, daytime, lottery):\n"
    "  0 ok   1 reading stdin or writing stdout failed   2 usage   3 cannot connect\n"
    "  5 the server closed or reset the connection early, timed out, or answered\n"
    "    what it should not (echo: a byte other than the one sent)\n";

static int run_get(const struct cmdline *cl);
static int run_ls(const struct cmdline *cl);
static int run_echo(const struct cmdline *cl);
static int run_daytime(const struct cmdline *cl);
static int run_lottery(const struct cmdline *cl);
static int run_hub(const struct cmdline *cl);

/* A command's texts in --help, in their order there: the synopsis (its
 * forms one a line, each to follow "ferry "), what it does, what follows
 * the options (or NULL), the exit codes. */
enum { TEXT_SYNOPSIS, TEXT_ABOUT, TEXT_NOTES, TEXT_EXITS, TEXT_COUNT };

static const char *const help_get[TEXT_COUNT] = {synopsis_get, usage_get, usage_progress,
                                                 usage_exit};
static const char *const help_ls[TEXT_COUNT] = {synopsis_ls, usage_ls, NULL, usage_exit};
static const char *const help_text[TEXT_COUNT] = {synopsis_text, usage_text, NULL,
                                                  usage_exit_services};
static const char *const help_daytime[TEXT_COUNT] = {synopsis_daytime, usage_daytime, NULL,
                                                     usage_exit_services};
static const char *const help_lottery[TEXT_COUNT] = {synopsis_lottery, usage_lottery, NULL,
                                                     usage_exit_services};
static const char *const help_hub[TEXT_COUNT] = {synopsis_hub, usage_hub, NULL, usage_exit_hub};

/* The commands: one table for the dispatch, the operands, --help and
 * the messages. Commands that share a text share its pointer (echo and
 * upcase: all of them), so that the full --help prints it once. */
static const struct command {
    const char *name;
    unsigned bit;
    const struct form *form; /* get --many: form_many */
    const char *const *text; /* TEXT_COUNT of them */
    int (*run)(const struct cmdline *cl);
} commands[] = {
    {"get", CMD_GET, &form_get, help_get, run_get},
    {"ls", CMD_LS, &form_bare, help_ls, run_ls},
    {"echo", CMD_ECHO, &form_text, help_text, run_echo},
    {"upcase", CMD_UPCASE, &form_text, help_text, run_echo},
    {"daytime", CMD_DAYTIME, &form_bare, help_daytime, run_daytime},
    {"lottery", CMD_LOTTERY, &form_bare, help_lottery, run_lottery},
    {"hub", CMD_HUB, &form_bare, help_hub, run_hub},
};

#define CLI_NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command on the line once it is known, so that a usage error shows
 * its forms rather than every command's. */
static const struct command *usage_for;

/* The command called name, or NULL. */
static const struct command *command_named(const char *name)
{
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* Whether commands[i]'s text t came with an earlier command already
 * (echo and upcase share theirs). */
static bool text_seen(size_t i, int t)
{
    for (size_t j = 0; j < i; j++)
        if (commands[j].text[t] == commands[i].text[t])
            return true;
    return false;
}

/* The synopsis: of one command, or of all (cmd NULL). */
static void usage_synopsis(FILE *out, const struct command *cmd)
{
    const char *lead = "usage: ferry ";

    for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
        const char *p = commands[i].text[TEXT_SYNOPSIS];

        if (cmd ? &commands[i] != cmd : text_seen(i, TEXT_SYNOPSIS))
            continue;
        while (*p != '\0') {
            size_t len = strcspn(p, "\n");

            fprintf(out, "%s%.*s\n", lead, (int)len, p);
            lead = "       ferry ";
            p += len + (p[len] == '\n');
        }
    }
    if (cmd == NULL)
        fputs("       ferry --help | --version\n", out);
}

/* "get, ls, ..." of the commands in cmds, quoted when quote. */
static char *command_list(unsigned cmds, bool quote, char *buf, size_t len)
{
    size_t at = 0, n = 0, k = 0;
    int w;

    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        n += (commands[i].bit & cmds) != 0;
    buf[0] = '\0';
    for (size_t i = 0; i < CLI_NCOMMANDS && at < len; i++) {
        const char *sep = k == 0 ? "" : k == n - 1 && quote ? " and " : ", ";

        if (!(commands[i].bit & cmds))
            continue;
        k++;
        w = snprintf(buf + at, len - at, quote ? "%s'%s'" : "%s%s", sep, commands[i].name);
        at += (size_t)w;
    }
    return buf;
}

/* The options of cmds, one a line, with their defaults. */
static void usage_options(FILE *out, unsigned cmds)
{
    for (size_t i = 0; i < CLI_NOPTIONS; i++) {
        const struct cli_option *op = &cli_options[i];
        char left[48], which[96];
        int col;

        if (!(op->cmds & cmds))
            continue;
        if (op->val < 256)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", op->val, op->name, op->arg ? " " : "",
                     op->arg ? op->arg : "");
        else /* long only: aligned with the other long names */
            snprintf(left, sizeof(left), "    --%s%s%s", op->name, op->arg ? " " : "",
                     op->arg ? op->arg : "");
        col = fprintf(out, "  %-24s %s", left, op->help);
        if (op->defval)
            col += fprintf(out, " [%s]", op->defval);
        /* The commands it is for, on a line of its own past 80 columns. */
        if (cmds == CMD_ANY && op->cmds != CMD_ANY) {
            command_list(op->cmds, false, which, sizeof(which));
            if (col + (int)strlen(which) + 3 > 80)
                fprintf(out, "\n%26s", "");
            fprintf(out, " (%s)", which);
        }
        fputc('\n', out);
    }
}

/* Prints text t of cmd, or of every command (cmd NULL), each text once. */
static void usage_texts(FILE *out, const struct command *cmd, int t)
{
    for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
        const char *text = commands[i].text[t];

        if (text != NULL && (cmd ? &commands[i] == cmd : !text_seen(i, t)))
            fputs(text, out);
    }
}

/* --help: of one command, or of all (cmd NULL). */
static void usage(FILE *out, const struct command *cmd)
{
    usage_synopsis(out, cmd);
    usage_texts(out, cmd, TEXT_ABOUT);
    fputs(usage_host, out);
    if (cmd == NULL || cmd->bit == CMD_GET)
        fputs(usage_sizes, out);
    fputs(usage_options_intro, out);
    usage_options(out, cmd ? cmd->bit : CMD_ANY);
    usage_texts(out, cmd, TEXT_NOTES);
    usage_texts(out, cmd, TEXT_EXITS);
}

/* Prints "ferry: PROBLEM" then the synopsis, on stderr. Returns -1. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "ferry: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage_synopsis(stderr, usage_for);
    fprintf(stderr, "Run 'ferry %s%s--help' for the options, units and exit codes.\n",
            usage_for ? usage_for->name : "", usage_for ? " " : "");
    return -1;
}

/* Names the problem with an option getopt_long() refused; arg is the
 * command-line word it was in. Returns -1. */
static int option_error(int c, const char *arg, const struct option *longopts)
{
    size_t len = strcspn(arg, "=");
    int matches = 0;

    if (strncmp(arg, "--", 2) != 0) /* a short option, perhaps in a cluster */
        return c == ':' ? usage_error("option '-%c' needs a value", optopt)
                        : usage_error("unknown option '-%c'", optopt);
    if (c == ':')
        return usage_error("option '%.*s' needs a value", (int)len, arg);
    if (optopt != 0) /* a known option given a value it does not take */
        return usage_error("option '%.*s' takes no value", (int)len, arg);
    for (const struct option *lo = longopts; lo->name != NULL; lo++)
        matches += strncmp(lo->name, arg + 2, len - 2) == 0;
    if (matches > 1)
        return usage_error("ambiguous option '%.*s'", (int)len, arg);
    return usage_error("unknown option '%.*s'", (int)len, arg);
}

static int parse_timeout(const char *arg, struct client_opts *o)
{
    int rc = dur_parse(arg, &o->timeout_ms);

    if (rc == -ERANGE)
        return usage_error("timeout '%s' is too long", arg);
    if (rc < 0)
        return usage_error("invalid timeout '%s': give seconds or a number with a unit "
                           "ms, s, m, h or d (e.g. 30, 500ms, 2m)",
                           arg);
    if (o->timeout_ms == 0)
        return usage_error("timeout '%s' is zero: it must be at least 1ms", arg);
    return 0;
}

/* --rate: a size, perhaps followed by "/s". */
static int parse_rate(const char *arg, struct client_opts *o)
{
    char buf[64];
    size_t len = strlen(arg);
    int rc;

    if (len >= 2 && strcmp(arg + len - 2, "/s") == 0)
        len -= 2;
    if (len >= sizeof(buf))
        return usage_error("--rate '%s' is not a rate (e.g. 256K, 1M/s, 500KB/s)", arg);
    memcpy(buf, arg, len);
    buf[len] = '\0';
    rc = size_parse(buf, &o->rate);
    if (rc == -ERANGE)
        return usage_error("--rate '%s' is above 2^64-1 bytes/s", arg);
    if (rc < 0)
        return usage_error("--rate '%s' is not a rate (e.g. 256K, 1M/s, 500KB/s)", arg);
    if (o->rate == 0)
        return usage_error("--rate '%s' is zero: it must be at least 1 byte/s", arg);
    return 0;
}

/* --hub-keepalive: a positive duration. */
static int parse_keepalive(const char *arg, struct client_opts *o)
{
    int rc = dur_parse(arg, &o->hub_keepalive_ms);

    if (rc == -ERANGE)
        return usage_error("--hub-keepalive '%s' is too long", arg);
    if (rc < 0 || o->hub_keepalive_ms == 0)
        return usage_error("--hub-keepalive '%s' is not a positive duration (e.g. 20, 500ms, 1m)",
                           arg);
    return 0;
}

/* --hub-wire: secure or plain, as ferryd's. */
static int parse_wire(const char *arg, struct client_opts *o)
{
    if (strcmp(arg, "secure") != 0 && strcmp(arg, "plain") != 0)
        return usage_error("--hub-wire '%s': the wires are secure and plain", arg);
    o->hub_wire = strcmp(arg, "secure") == 0 ? "secure" : "plain";
    return 0;
}

/* --hub-key: the hub's key as it logs it, "ed25519:HEX" or the HEX. */
static int parse_hub_key(const char *arg, struct client_opts *o)
{
    if (hubpin_parse(arg, o->hub_key) < 0)
        return usage_error("--hub-key '%s' is not a hub key: 64 hex digits, as the hub logs it "
                           "('hub: key ed25519:HEX')",
                           arg);
    o->has_hub_key = true;
    return 0;
}

/* --files-port: a port number. */
static int parse_files_port(const char *arg, struct client_opts *o)
{
    int port = addr_port_parse(arg);

    if (port <= 0 || port > UINT16_MAX)
        return usage_error("--files-port must be a number from 1 to 65535, got '%s'", arg);
    snprintf(o->files_port, sizeof(o->files_port), "%u", (unsigned)(uint16_t)port);
    return 0;
}

/* The command named by the first operand, or NULL. */
static const struct command *command_of(const struct operands *ops)
{
    return ops->n > 0 ? command_named(ops->v[0]) : NULL;
}

/* Applies one option. Returns 0, 1 (help or version printed) or -1. */
static int apply_option(int c, struct cmdline *cl, struct operands *ops)
{
    struct client_opts *o = &cl->o;

    switch (c) {
    case 1:
        ops->v[ops->n++] = optarg;
        if (ops->n == 1)
            usage_for = command_of(ops);
        return 0;
    case 'o':
        o->output = optarg;
        return 0;
    case 'f':
        o->force = true;
        return 0;
    case 'c':
        o->resume = true;
        return 0;
    case OPT_RATE:
        return parse_rate(optarg, o);
    case OPT_MANY:
        o->many = true;
        return 0;
    case 'q':
        o->quiet = true;
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_HUB_KEEPALIVE:
        return parse_keepalive(optarg, o);
    case OPT_HUB_WIRE:
        return parse_wire(optarg, o);
    case OPT_KNOWN_HUBS:
        o->known_hubs = optarg;
        return 0;
    case OPT_HUB_KEY:
        return parse_hub_key(optarg, o);
    case OPT_FILES_PORT:
        return parse_files_port(optarg, o);
    case OPT_AUTO_FETCH:
        o->auto_fetch = optarg;
        return 0;
    case 'v':
        o->verbose = true;
        return 0;
    case 't':
        return parse_timeout(optarg, o);
    case 'h':
        usage(stdout, command_of(ops));
        return 1;
    case 'V':
        printf("ferry %s\n", FERRY_VERSION);
        return 1;
    }
    return -1;
}

/* Marks the option c as given, for the check against the command. */
static void mark_given(struct cmdline *cl, int c)
{
    for (size_t i = 0; i < CLI_NOPTIONS; i++)
        if (cli_options[i].val == c)
            cl->given |= 1u << i;
}

/* Runs getopt_long() over the whole line. Returns 0, 1 (done) or -1. */
static int parse_options(int argc, char **argv, struct cmdline *cl, struct operands *ops)
{
    struct option longopts[CLI_NOPTIONS + 1];
    /* '-': operands come back in place (permutation even under
     * POSIXLY_CORRECT); ':': a missing value is told apart. */
    char optstring[3 + 2 * CLI_NOPTIONS] = "-:";
    size_t len = 2;
    int c, rc, before;

    memset(longopts, 0, sizeof(longopts));
    for (size_t i = 0; i < CLI_NOPTIONS; i++) {
        longopts[i].name = cli_options[i].name;
        longopts[i].has_arg = cli_options[i].arg ? required_argument : no_argument;
        longopts[i].val = cli_options[i].val;
        if (cli_options[i].val >= 256)
            continue;
        optstring[len++] = (char)cli_options[i].val;
        if (cli_options[i].arg)
            optstring[len++] = ':';
    }
    optstring[len] = '\0';
    opterr = 0;
    while ((before = optind, c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        /* optind moves on once a word is used up: "-zf" stays on its
         * word after 'z', "--frce" and "-fz" do not. */
        if (c == '?' || c == ':')
            return option_error(c, argv[optind > before ? optind - 1 : optind], longopts);
        mark_given(cl, c);
        if ((rc = apply_option(c, cl, ops)) != 0)
            return rc;
    }
    for (; optind < argc; optind++) /* after "--" */
        ops->v[ops->n++] = argv[optind];
    return 0;
}

/* The usage error for operands that do not fit form f. */
static int operands_error(const struct operands *ops, const struct form *f, bool attached)
{
    char hint[ADDR_HOST_MAX + 64] = "";
    int args = ops->n - 1, want = 1 + (attached ? 1 : 2) + f->nrest;

    /* "::1 80 f 1M" is right, "::1:80 f 1M" is not: say why. */
    if (!attached && ops->n == want - 1 && strchr(ops->v[1], ':') != strrchr(ops->v[1], ':'))
        snprintf(hint, sizeof(hint), " (an IPv6 address with a port takes brackets: [::1]:PORT)");
    else if (attached && ops->n == want + 1 && !f->more)
        snprintf(hint, sizeof(hint), " ('%s' already holds the port)", ops->v[1]);
    return usage_error("expected %s%s, got %d argument%s%s", attached ? "HOST:PORT" : "HOST PORT",
                       f->rest, args, args == 1 ? "" : "s", hint);
}

/* Takes HOST PORT or HOST:PORT from the operands after the command, then
 * checks the count against f. Returns how many operands the address used
 * (1 or 2), or -1 (message printed). */
static int parse_address(const struct operands *ops, const struct form *f, struct client_opts *o)
{
    int port = -1, naddr = 2, want;

    if (ops->n >= 2) {
        if (addr_split(ops->v[1], o->host, sizeof(o->host), &port) < 0)
            return usage_error("'%s' is not a host, host:PORT or [IPv6]:PORT", ops->v[1]);
        if (port >= 0)
            naddr = 1;
    }
    want = 1 + naddr + f->nrest;
    if (f->more ? ops->n < want : ops->n != want)
        return operands_error(ops, f, naddr == 1);
    if (naddr == 2 && (port = addr_port_parse(ops->v[2])) < 0)
        return usage_error("PORT must be a number from 1 to 65535, got '%s'", ops->v[2]);
    if (port == 0)
        return usage_error("PORT must be a number from 1 to 65535, got 0");
    snprintf(o->port, sizeof(o->port), "%d", port);
    return naddr;
}

static int parse_max_size(const char *max, struct client_opts *o)
{
    int rc = size_parse(max, &o->max_size);

    if (rc == -ERANGE)
        return usage_error("MAX_SIZE '%s' is above 2^64-1 bytes", max);
    if (rc < 0)
        return usage_error("MAX_SIZE '%s' is not a size (e.g. 1048576, 512K, 10M, 10MB, 2GiB)",
                           max);
    return 0;
}

/* The hub's options that go together, or do not: --hub-key and
 * --known-hubs are the secure wire's, and one excludes the other;
 * --auto-fetch wants a directory. */
static int check_hub_options(const struct client_opts *o)
{
    struct stat st;

    if (strcmp(o->hub_wire, "plain") == 0 && (o->has_hub_key || o->known_hubs != NULL))
        return usage_error("--%s: the plain wire has no hub key to check",
                           o->has_hub_key ? "hub-key" : "known-hubs");
    if (o->has_hub_key && o->known_hubs != NULL)
        return usage_error("--hub-key and --known-hubs: give one (with --hub-key the file is "
                           "neither read nor written)");
    if (o->auto_fetch != NULL && (stat(o->auto_fetch, &st) < 0 || !S_ISDIR(st.st_mode)))
        return usage_error("--auto-fetch '%s' is not a directory", o->auto_fetch);
    return 0;
}

/* Refuses an option the command does not take, and -o for --many that is
 * not a directory (every file would land on one path). */
static int check_options(const struct cmdline *cl)
{
    struct stat st;

    for (size_t i = 0; i < CLI_NOPTIONS; i++)
        if ((cl->given & (1u << i)) && !(cli_options[i].cmds & cl->cmd->bit))
            return usage_error("option '--%s' does not apply to '%s'", cli_options[i].name,
                               cl->cmd->name);
    if (cl->o.many && cl->o.output != NULL && (stat(cl->o.output, &st) < 0 || !S_ISDIR(st.st_mode)))
        return usage_error("with --many, -o must name a directory ('%s' is not one)", cl->o.output);
    return cl->cmd->bit == CMD_HUB ? check_hub_options(&cl->o) : 0;
}

/* The operands of the command in cl->cmd. Returns 0 or -1. */
static int parse_operands(const struct operands *ops, struct cmdline *cl)
{
    const struct form *f = cl->o.many ? &form_many : cl->cmd->form;
    int used = parse_address(ops, f, &cl->o);

    if (used < 0)
        return -1;
    if (cl->cmd->bit != CMD_GET) { /* the operands after the address, if any */
        cl->names = ops->v + 1 + used;
        cl->nnames = ops->n - 1 - used;
        return 0;
    }
    if (cl->o.many) {
        cl->names = ops->v + 2 + used;
        cl->nnames = ops->n - 2 - used;
        return parse_max_size(ops->v[1 + used], &cl->o);
    }
    cl->names = ops->v + 1 + used;
    cl->nnames = 1;
    return parse_max_size(ops->v[2 + used], &cl->o);
}

/* Returns 0 (cl filled), 1 (help or version printed: exit 0) or -1 (usage
 * error printed). ops->v must hold argc entries. */
static int parse_args(int argc, char **argv, struct cmdline *cl, struct operands *ops)
{
    char names[128];
    int rc;

    memset(cl, 0, sizeof(*cl));
    cl->o.timeout_ms = TIMEOUT_DEFAULT;
    cl->o.hub_keepalive_ms = HUB_KEEPALIVE_DEFAULT;
    cl->o.hub_wire = "secure"; /* as ferryd's */
    if ((rc = parse_options(argc, argv, cl, ops)) != 0)
        return rc;
    command_list(CMD_ANY, true, names, sizeof(names));
    if (ops->n == 0)
        return usage_error("no command given (the commands are %s)", names);
    if ((cl->cmd = command_of(ops)) == NULL)
        return usage_error("unknown command '%s' (the commands are %s)", ops->v[0], names);
    if (check_options(cl) < 0)
        return -1;
    return parse_operands(ops, cl);
}

/* ferry get, one file or --many: the highest exit code of them all. */
static int run_get(const struct cmdline *cl)
{
    struct fetch_session s;
    int worst = EX_OK;

    fetch_init(&s, &cl->o);
    for (int i = 0; i < cl->nnames; i++) {
        struct client_err e;
        int rc = fetch_file(&s, cl->names[i], &e);

        if (rc != EX_OK)
            client_report(&e, cl->names[i], cl->o.many);
        if (rc > worst)
            worst = rc;
    }
    return worst;
}

/* ferry ls. */
static int run_ls(const struct cmdline *cl)
{
    struct client_err e;
    struct list l;
    int rc = list_fetch(&cl->o, &l, &e);

    if (rc != EX_OK) {
        client_report(&e, NULL, false);
        return rc;
    }
    if (cl->o.json)
        list_print_json(&l, stdout);
    else
        list_print_table(&l, stdout);
    list_free(&l);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        client_fail(&e, EX_LOCAL, "writing stdout: %s", strerror(errno));
        client_report(&e, NULL, false);
        return EX_LOCAL;
    }
    return EX_OK;
}

/* Prints a service's error, if any; returns rc. */
static int run_report(int rc, const struct client_err *e)
{
    if (rc != EX_OK)
        client_report(e, NULL, false);
    return rc;
}

/* ferry echo and ferry upcase. */
static int run_echo(const struct cmdline *cl)
{
    struct client_err e;

    return run_report(services_echo(&cl->o, cl->cmd->bit == CMD_UPCASE, cl->names, cl->nnames, &e),
                      &e);
}

/* ferry daytime. */
static int run_daytime(const struct cmdline *cl)
{
    struct client_err e;

    return run_report(services_daytime(&cl->o, &e), &e);
}

/* ferry lottery. */
static int run_lottery(const struct cmdline *cl)
{
    struct client_err e;

    return run_report(lot_session(&cl->o, &e), &e);
}

/* ferry hub. */
static int run_hub(const struct cmdline *cl)
{
    struct client_err e;

    return run_report(hub_session(&cl->o, &e), &e);
}

/* Cleans up and says what -c keeps, then dies of sig: the shell sees
 * 130 for SIGINT, 143 for SIGTERM, as from any program it interrupts. */
static void on_fatal_signal(int sig)
{
    out_on_signal(sig == SIGINT    ? "interrupted"
                  : sig == SIGTERM ? "terminated"
                                   : "hung up",
                  prog_line_open());
    hubpass_on_signal(); /* a password prompt's echo back on */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Installs on_fatal_signal() for SIGINT, SIGTERM and SIGHUP, each blocking
 * the others while it runs, so that only one of them speaks. */
static void catch_fatal_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&sa.sa_mask, sigs[i]);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

int main(int argc, char **argv)
{
    struct operands ops = {.v = calloc((size_t)argc + 1, sizeof(char *)), .n = 0};
    struct cmdline cl;
    int rc;

    if (ops.v == NULL)
        return EX_LOCAL;
    rc = parse_args(argc, argv, &cl, &ops);
    if (rc != 0) {
        free(ops.v);
        return rc > 0 ? EX_OK : EX_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    catch_fatal_signals();
    rc = cl.cmd->run(&cl);
    free(ops.v);
    return rc;
}
