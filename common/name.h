/*
 * name: what a client may ask for. A name is a name, never a path: 1 to
 * 255 bytes of printable ASCII (0x20-0x7E) without '/', and neither "."
 * nor "..". Anything else is answered INVALID_NAME.
 */
#ifndef FERRY_NAME_H
#define FERRY_NAME_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when the len bytes at name form a valid file name. */
bool name_valid(const void *name, size_t len);

#endif
