/*
 * native: the native file protocol (docs/PROTOCOL.md) as a connection
 * handler (conn.h): FILE_REQUEST with its READY step, GET in one round
 * trip from any offset, and LIST. One request per connection.
 *
 * Timing: the whole request must arrive within --request-timeout of
 * accept (one deadline, however the bytes trickle in), and READY within
 * --request-timeout of the response. A stop cuts a connection whose
 * request is incomplete; one that has its answer is served to the end.
 */
#ifndef FERRY_NATIVE_H
#define FERRY_NATIVE_H

#include "worker/conn.h"

extern const struct conn_handler native_handler;

#endif
