/*
 * hubpass: the password prompt. See hubpass.h.
 */
#include "contrib/client/hubpass.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

/* The terminal whose echo is off, and how to put it back, for the
 * signal handler: hubpass_tty is set last, once hubpass_saved is whole. */
static struct termios hubpass_saved;
static volatile sig_atomic_t hubpass_tty = -1;

void hubpass_on_signal(void)
{
    int fd = hubpass_tty;

    if (fd >= 0)
        tcsetattr(fd, TCSAFLUSH, &hubpass_saved);
}

/* Reads one line, byte by byte (nothing beyond it is taken from the
 * terminal). Returns its length, or -errno. */
static ssize_t hubpass_line(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    for (;;) {
        char ch;
        ssize_t n = read(fd, &ch, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return len > 0 ? (ssize_t)len : -ENODATA;
        if (ch == '\n')
            break;
        if (len + 1 >= cap)
            return -EMSGSIZE; /* the rest of the line stays unread: it is not ours */
        buf[len++] = ch;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return (ssize_t)len;
}

ssize_t hubpass_read(const char *prompt, char *buf, size_t cap)
{
    struct termios quiet;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    ssize_t n;

    if (fd < 0)
        return -ENXIO;
    if (tcgetattr(fd, &hubpass_saved) < 0) {
        close(fd);
        return -ENXIO;
    }
    quiet = hubpass_saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ECHONL; /* the newline shows: the next line starts afresh */
    hubpass_tty = fd;
    /* The echo goes off before the prompt shows, so that nothing typed
     * after the prompt is echoed; what was typed before it, with the echo
     * on, is dropped. */
    tcsetattr(fd, TCSAFLUSH, &quiet);
    fputs(prompt, stderr);
    fflush(stderr);
    n = hubpass_line(fd, buf, cap);
    tcsetattr(fd, TCSAFLUSH, &hubpass_saved);
    hubpass_tty = -1;
    close(fd);
    if (n < 0)
        sodium_memzero(buf, cap);
    return n;
}
