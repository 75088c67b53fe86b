/*
 * hubpass: a password typed on the terminal for `ferry hub`'s login#ID
 * (docs/HUB.md, "Client"): the prompt on stderr, the line read from
 * /dev/tty with its echo off, and the echo put back after, or by a fatal
 * signal's handler (hubpass_on_signal()) if one comes meanwhile.
 */
#ifndef FERRY_CLIENT_HUBPASS_H
#define FERRY_CLIENT_HUBPASS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Prints prompt on stderr and reads one line from the terminal without
 * echo into buf (cap bytes, NUL-ended, without its newline). Blocks until
 * the line is typed. Returns its length, or -errno: -ENXIO there is no
 * terminal, -ENODATA the input ended first, -EMSGSIZE the line does not
 * fit (what was read is wiped).
 */
ssize_t hubpass_read(const char *prompt, char *buf, size_t cap);

/* For a fatal signal's handler: puts the terminal's echo back if a
 * prompt has it off. Async-signal-safe. */
void hubpass_on_signal(void);

#endif
