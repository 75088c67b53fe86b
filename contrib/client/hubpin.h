/*
 * hubpin: the hub keys `ferry hub` trusts, as ssh trusts host keys. The
 * first login to a hub pins the long-term key its CHALLENGE shows, in
 * known_hubs, one line per hub: "HOST:PORT HEX" (the host as given on
 * the command line, an IPv6 literal in brackets; the key as 64 hex
 * digits); a later login refuses a hub that shows another key, before
 * any proof of the password leaves. --hub-key HEX pins one key for the
 * run instead, and the file is then neither read nor written.
 *
 * The file is $XDG_CONFIG_HOME/ferry/known_hubs (default
 * ~/.config/ferry/known_hubs), or --known-hubs FILE; it is created mode
 * 0600, and the directories it needs 0700. Several clients pinning at
 * once take turns (flock), so a key is added once.
 */
#ifndef FERRY_CLIENT_HUBPIN_H
#define FERRY_CLIENT_HUBPIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUBPIN_KEY     32
#define HUBPIN_HEX     (2 * HUBPIN_KEY + 1) /* with its NUL */
#define HUBPIN_MSG_MAX 2048

/* What to check a hub's key against. */
struct hubpin {
    const char *hostport; /* the file's name for the hub: "HOST:PORT", "[::1]:PORT" */
    const char *file;     /* --known-hubs, or NULL: the default */
    bool explicit_key;    /* --hub-key: key is the only one trusted */
    uint8_t key[HUBPIN_KEY];
};

/*
 * Checks key, the one the hub showed, against p. Returns 0 when it is
 * trusted: pinned already, given, or seen for the first time (pinned now,
 * or, when the file cannot be written, trusted for this login only); msg
 * (HUBPIN_MSG_MAX bytes) then names the key when it was new. Returns
 * -EKEYREJECTED when another key is pinned, or -errno when the pins
 * cannot be read (the login must not go on); msg says why, naming the
 * file and both keys.
 */
int hubpin_check(const struct hubpin *p, const uint8_t key[HUBPIN_KEY], char *msg);

/* Parses a key given as 64 hex digits, perhaps after "ed25519:" (as the
 * hub logs it). Returns 0, or -EINVAL. */
int hubpin_parse(const char *text, uint8_t key[HUBPIN_KEY]);

/* Writes key as 64 lowercase hex digits. Returns out. */
char *hubpin_hex(const uint8_t key[HUBPIN_KEY], char out[HUBPIN_HEX]);

/* "HOST:PORT", "[V6]:PORT" for an IPv6 literal, into out. */
void hubpin_hostport(const char *host, const char *port, char *out, size_t cap);

#endif
