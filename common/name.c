/*
 * name: file name validation. See name.h.
 */
#include "common/name.h"

#include "common/wire.h"

#include <string.h>

bool name_valid(const void *name, size_t len)
{
    const unsigned char *p = name;

    if (len == 0 || len > WIRE_NAME_MAX)
        return false;
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        /* NUL and '/' are the two bytes the kernel would read as path syntax. */
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '/')
            return false;
    }
    return true;
}
