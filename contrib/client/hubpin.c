/*
 * hubpin: known_hubs and --hub-key. See hubpin.h.
 */
#include "contrib/client/hubpin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HUBPIN_FILE_MAX (1 << 20) /* a known_hubs larger than this is no known_hubs */

/* What the file says of one hub. */
enum hubpin_found { HUBPIN_ABSENT, HUBPIN_SAME, HUBPIN_OTHER };

/* known_hubs, open. */
struct hubpin_file {
    const char *path;
    int fd;        /* locked; or -errno: it could not be opened */
    bool writable; /* a new key may be added */
    char *text;    /* what it holds, NUL-ended */
};

char *hubpin_hex(const uint8_t key[HUBPIN_KEY], char out[HUBPIN_HEX])
{
    static const char digits[] = "0123456789abcdef";

    for (int i = 0; i < HUBPIN_KEY; i++) {
        out[2 * i] = digits[key[i] >> 4];
        out[2 * i + 1] = digits[key[i] & 15];
    }
    out[2 * HUBPIN_KEY] = '\0';
    return out;
}

static int hubpin_nibble(char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    return h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
}

/* Parses exactly 64 hex digits at text (len bytes). 0 or -EINVAL. */
static int hubpin_parse_len(const char *text, size_t len, uint8_t key[HUBPIN_KEY])
{
    if (len != 2 * HUBPIN_KEY)
        return -EINVAL;
    for (int i = 0; i < HUBPIN_KEY; i++) {
        int hi = hubpin_nibble(text[2 * i]), lo = hubpin_nibble(text[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int hubpin_parse(const char *text, uint8_t key[HUBPIN_KEY])
{
    if (strncmp(text, "ed25519:", 8) == 0)
        text += 8;
    return hubpin_parse_len(text, strlen(text), key);
}

void hubpin_hostport(const char *host, const char *port, char *out, size_t cap)
{
    snprintf(out, cap, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

/* ------------------------------------------------------------ the file */

/* The file: given, else $XDG_CONFIG_HOME/ferry/known_hubs (an absolute
 * XDG_CONFIG_HOME only, as the XDG spec says), else
 * $HOME/.config/ferry/known_hubs. 0, or -ENOENT with no home at all. */
static int hubpin_path(const struct hubpin *p, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    const struct passwd *pw;
    int n;

    if (p->file != NULL)
        n = snprintf(out, cap, "%s", p->file);
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, cap, "%s/ferry/known_hubs", xdg);
    else {
        if ((home == NULL || home[0] == '\0') && (pw = getpwuid(getuid())) != NULL)
            home = pw->pw_dir;
        if (home == NULL || home[0] == '\0')
            return -ENOENT;
        n = snprintf(out, cap, "%s/.config/ferry/known_hubs", home);
    }
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Makes the directories path's file needs, each 0700. 0 or -errno. */
static int hubpin_mkdirs(const char *path)
{
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s", path);
    for (char *s = strchr(dir + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    return 0;
}

/* Reads the whole file at fd into a fresh NUL-ended buffer. 0 or -errno. */
static int hubpin_slurp(int fd, char **out)
{
    struct stat st;
    char *buf;
    size_t got = 0;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || st.st_size > HUBPIN_FILE_MAX)
        return -EINVAL;
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        return -ENOMEM;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    return 0;
}

/* Looks hostport up in text, line by line ("#" comments and blank lines
 * skipped; the first line of the hub counts). Returns what it found, the
 * key into pinned, or -EBADMSG for a line of the hub whose key does not
 * read. */
static int hubpin_find(const char *text, const char *hostport, const uint8_t key[HUBPIN_KEY],
                       uint8_t pinned[HUBPIN_KEY])
{
    size_t hlen = strlen(hostport);

    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
        const char *k = line + hlen + 1;
        size_t klen;

        if ((size_t)(end - line) > hlen && memcmp(line, hostport, hlen) == 0 && line[hlen] == ' ') {
            klen = (size_t)(end - k);
            if (klen > 0 && k[klen - 1] == '\r')
                klen--;
            if (hubpin_parse_len(k, klen, pinned) < 0)
                return -EBADMSG;
            return memcmp(pinned, key, HUBPIN_KEY) == 0 ? HUBPIN_SAME : HUBPIN_OTHER;
        }
        line = nl ? nl + 1 : end;
    }
    return HUBPIN_ABSENT;
}

/* Appends the hub's line to f (after a newline, when its last line has
 * none). Returns 0 or -errno. */
static int hubpin_append(const struct hubpin_file *f, const char *hostport,
                         const uint8_t key[HUBPIN_KEY])
{
    char line[HUBPIN_MSG_MAX], hex[HUBPIN_HEX];
    const char *text = f->text;
    size_t tlen = strlen(text);
    int n =
        snprintf(line, sizeof(line), "%s%s %s\n", tlen > 0 && text[tlen - 1] != '\n' ? "\n" : "",
                 hostport, hubpin_hex(key, hex));

    if (n < 0 || (size_t)n >= sizeof(line))
        return -ENAMETOOLONG;
    if (write(f->fd, line, (size_t)n) != n) /* O_APPEND: one write, one line */
        return errno ? -errno : -EIO;
    return fsync(f->fd) < 0 ? -errno : 0;
}

/* Opens the file to read and, when it may, to add to: locked, so that
 * clients pinning at once take turns. Returns the descriptor (*writable
 * set), or -errno. */
static int hubpin_open(const char *path, bool *writable)
{
    int fd, err;

    hubpin_mkdirs(path); /* a failure shows at the open */
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    *writable = fd >= 0;
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (flock(fd, *writable ? LOCK_EX : LOCK_SH) < 0) {
        err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* ------------------------------------------------------------ the verdict */

/* Writes a message into msg (HUBPIN_MSG_MAX bytes), cut if it is long. */
static void hubpin_say(char *msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void hubpin_say(char *msg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, HUBPIN_MSG_MAX, fmt, ap);
    va_end(ap);
}

/* A key that could not be pinned is trusted for this login only, as
 * every first contact is: said, and 0. */
static int hubpin_unsaved(const struct hubpin *p, const char *hex, const char *path,
                          const char *what, int err, char *msg)
{
    hubpin_say(msg,
               "hub: %s shows key ed25519:%s; not pinned: cannot %s %s: %s (trusted for this "
               "login only)",
               p->hostport, hex, what, path, strerror(err));
    return 0;
}

/* The verdict on key of what f says (found: hubpin_find()'s, or -errno
 * when f could not be read). Returns 0, -EKEYREJECTED or -errno, msg set
 * but for a key pinned already. */
static int hubpin_verdict(const struct hubpin *p, const struct hubpin_file *f, int found,
                          const uint8_t key[HUBPIN_KEY], const uint8_t pinned[HUBPIN_KEY],
                          char *msg)
{
    const char *path = f->path;
    char hex[HUBPIN_HEX], old[HUBPIN_HEX];
    int rc;

    hubpin_hex(key, hex);
    switch (found) {
    case HUBPIN_SAME:
        return 0;
    case HUBPIN_OTHER:
        hubpin_say(msg,
                   "hub: %s shows key ed25519:%s, but %s pins ed25519:%s for it: refused, the "
                   "password's proof not sent. Someone may be in the middle; if the hub's key "
                   "did change, remove its line from %s",
                   p->hostport, hex, path, hubpin_hex(pinned, old), path);
        return -EKEYREJECTED;
    case HUBPIN_ABSENT:
        if (!f->writable)
            return hubpin_unsaved(p, hex, path, "write", EACCES, msg);
        if ((rc = hubpin_append(f, p->hostport, key)) < 0)
            return hubpin_unsaved(p, hex, path, "write", -rc, msg);
        hubpin_say(msg, "hub: %s is new: its key ed25519:%s is pinned now in %s", p->hostport, hex,
                   path);
        return 0;
    }
    hubpin_say(msg,
               "hub: cannot read the pinned key of %s in %s: %s; not logging in to a hub whose "
               "key cannot be checked",
               p->hostport, path, found == -EBADMSG ? "its line holds no key" : strerror(-found));
    return found;
}

/* The file's verdict on key. Returns 0 (trusted; msg names a new key),
 * -EKEYREJECTED, or -errno; msg says why. */
static int hubpin_check_file(const struct hubpin *p, const char *path,
                             const uint8_t key[HUBPIN_KEY], char *msg)
{
    struct hubpin_file f = {.path = path};
    char hex[HUBPIN_HEX];
    uint8_t pinned[HUBPIN_KEY];
    int found, rc;

    f.fd = hubpin_open(path, &f.writable);
    if (f.fd == -ENOENT) /* nothing pinned, and nowhere to pin it */
        return hubpin_unsaved(p, hubpin_hex(key, hex), path, "create", ENOENT, msg);
    found = f.fd;
    if (f.fd >= 0 && (found = hubpin_slurp(f.fd, &f.text)) == 0)
        found = hubpin_find(f.text, p->hostport, key, pinned);
    rc = hubpin_verdict(p, &f, found, key, pinned, msg);
    free(f.text);
    if (f.fd >= 0)
        close(f.fd); /* and unlocked */
    return rc;
}

int hubpin_check(const struct hubpin *p, const uint8_t key[HUBPIN_KEY], char *msg)
{
    char path[PATH_MAX], hex[HUBPIN_HEX], want[HUBPIN_HEX];
    int rc;

    msg[0] = '\0';
    if (p->explicit_key) {
        if (memcmp(p->key, key, HUBPIN_KEY) == 0)
            return 0;
        hubpin_say(msg,
                   "hub: %s shows key ed25519:%s, not the one given with --hub-key (ed25519:%s): "
                   "refused, the password's proof not sent",
                   p->hostport, hubpin_hex(key, hex), hubpin_hex(p->key, want));
        return -EKEYREJECTED;
    }
    if ((rc = hubpin_path(p, path, sizeof(path))) < 0) {
        hubpin_say(msg,
                   "hub: %s shows key ed25519:%s; not pinned: no known_hubs (%s; give "
                   "--known-hubs FILE) (trusted for this login only)",
                   p->hostport, hubpin_hex(key, hex), rc == -ENOENT ? "no $HOME" : strerror(-rc));
        return 0;
    }
    return hubpin_check_file(p, path, key, msg);
}
