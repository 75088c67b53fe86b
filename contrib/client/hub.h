/*
 * hub: `ferry hub HOST PORT`, the interactive client of ferryd's
 * publish/subscribe hub (docs/HUB.md, "Client"). Lines on stdin
 * (login#ID&PASSWORD, subscribe#ID, post#TEXT, ...), the course's lines
 * on stdout. This file is the loop: one poll() over stdin and a connected
 * UDP socket; the protocol is hubcli.c, the bytes on the wire
 * hubcli_wire.c.
 */
#ifndef FERRY_CLIENT_HUB_H
#define FERRY_CLIENT_HUB_H

#include "contrib/client/client.h"

/*
 * Runs the client against the hub at o->host port o->port until stdin
 * ends and every line it gave has been answered (or given up: the hub
 * unreachable). o->hub_keepalive_ms spaces the keepalives; o->hub_wire
 * must be "plain" for now. stdout is line-buffered even in a pipe.
 * Returns EX_OK, or an exit code with e set: EX_CONNECT when the name
 * does not resolve or no socket can be connected; EX_TRANSFER when, after
 * stdin ended, the hub stopped answering with lines still waiting;
 * EX_LOCAL when stdin or stdout fails.
 */
int hub_session(const struct client_opts *o, struct client_err *e);

#endif
