/*
 * rand: random bytes from the kernel. See rand.h.
 */
#include "common/rand.h"

#include <errno.h>
#include <sys/random.h>

int rand_bytes(void *p, size_t n)
{
    ssize_t got;

    /* Up to 256 bytes never come back short once the pool is ready; a
     * signal may still interrupt the wait for it. */
    do {
        got = getrandom(p, n, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return -errno;
    return (size_t)got == n ? 0 : -EIO;
}

int rand_u32(uint32_t *out)
{
    return rand_bytes(out, sizeof(*out));
}
