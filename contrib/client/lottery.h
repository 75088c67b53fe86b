/*
 * lottery: `ferry lottery`, a session with ferryd's lottery service
 * (docs/SERVICES.md). Commands are read from stdin, one a line, and sent
 * as 4-byte big-endian integers: 0 GEN, 1 LIST, 2 END, or any other number
 * up to 2^32-1 (the server names it unknown). The server answers each but
 * END with one line, printed on stdout as it comes; END ends the session
 * and the server closes the connection.
 */
#ifndef FERRY_CLIENT_LOTTERY_H
#define FERRY_CLIENT_LOTTERY_H

#include "contrib/client/client.h"

/*
 * Runs one session with the lottery service of o. On a terminal each
 * command is asked for with the prompt "Command (0:GEN 1:LIST 2:END): "
 * on stderr; from a pipe or a file there is no prompt, so that stdout
 * holds only the answers. A line that is neither a number up to 2^32-1
 * nor GEN, LIST or END (any case) is refused on stderr and not sent; an
 * empty line is skipped. END, or the end of stdin, sends END and waits for
 * the server to close. o->timeout_ms bounds each answer, not the wait for
 * stdin. Returns EX_OK once the server closed after END, or an exit code
 * with e set: EX_CONNECT; EX_TRANSFER when the server closes, resets or
 * times out first, sends what nobody asked for, or answers END;
 * EX_LOCAL when stdin or stdout fails.
 */
int lot_session(const struct client_opts *o, struct client_err *e);

#endif
