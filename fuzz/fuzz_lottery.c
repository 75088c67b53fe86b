/*
 * fuzz_lottery: the lottery service's command parser and state machine,
 * lottery_reply() (worker/lottery.c), with a fixed deterministic source
 * of randomness (restarted for each input, so a crash reproduces).
 *
 * The input is a session's bytes: 4-byte commands, as the client sends
 * them. The random source now and then yields a value that
 * lottery_uniform() must reject, and fails (-EIO) on every 61st call.
 *
 * Invariants: each command's answer is the line docs/SERVICES.md gives,
 * shorter than LOTTERY_LINE_MAX and ending in "\n": GEN draws a number of
 * 1..45 not drawn before while fewer than six are, then "Full"; LIST shows
 * the draw in order, 0 for the rest; END answers nothing; any other value
 * is "error: unknown command N" with N the big-endian value, and changes
 * nothing. A failing random source is reported and changes nothing.
 * lottery_uniform() maps r onto r % n exactly below the largest multiple
 * of n and refuses the rest.
 */
#include "fuzz/fuzz.h"

#include "common/wire.h"
#include "worker/lottery.h"

#include <errno.h>
#include <string.h>

static uint64_t rnd_state;
static unsigned rnd_calls;

/* Fixed and deterministic: splitmix64, with rejects and failures mixed in. */
static int fixed_rnd(uint32_t *out)
{
    if (++rnd_calls % 61 == 0)
        return -EIO;
    *out = rnd_calls % 7 == 0 ? UINT32_MAX : (uint32_t)fuzz_mix(&rnd_state);
    return 0;
}

static void check_uniform(uint32_t r, uint32_t n)
{
    uint64_t whole = ((uint64_t)1 << 32) / n * n;
    uint32_t out = UINT32_MAX;
    bool ok = lottery_uniform(r, n, &out);

    FUZZ_CHECK(ok == (r < whole));
    FUZZ_CHECK(!ok || out == r % n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lottery l;
    char buf[LOTTERY_LINE_MAX], want[96];

    memset(&l, 0, sizeof(l));
    rnd_state = 0x5eed;
    rnd_calls = 0;
    for (size_t i = 0; i + LOTTERY_CMD_LEN <= size; i += LOTTERY_CMD_LEN) {
        const uint8_t *cmd = data + i;
        uint32_t value = wire_get_u32(cmd), decoded;
        enum lottery_cmd kind = lottery_command(cmd, &decoded);
        struct lottery before = l;
        int n;

        FUZZ_CHECK(decoded == value);
        FUZZ_CHECK(kind == (value == 0                          ? LOTTERY_GEN
                            : value == 1 || value == 0x01000000 ? LOTTERY_LIST
                            : value == 2 || value == 0x02000000 ? LOTTERY_END
                                                                : LOTTERY_UNKNOWN));
        check_uniform(value, (uint32_t)(i / 4 % 45) + 1);
        memset(buf, 0x7e, sizeof(buf));
        n = lottery_reply(&l, cmd, fixed_rnd, buf);
        FUZZ_CHECK(l.n <= LOTTERY_PICKS);
        if (n == -EIO) { /* the source failed: nothing drawn */
            FUZZ_CHECK(kind == LOTTERY_GEN && memcmp(&l, &before, sizeof(l)) == 0);
            continue;
        }
        if (kind == LOTTERY_END) {
            FUZZ_CHECK(n == 0 && memcmp(&l, &before, sizeof(l)) == 0);
            continue;
        }
        FUZZ_CHECK(n > 0 && n < LOTTERY_LINE_MAX && (size_t)n == strlen(buf) && buf[n - 1] == '\n');
        switch (kind) {
        case LOTTERY_GEN:
            if (before.n == LOTTERY_PICKS) {
                FUZZ_CHECK(strcmp(buf, "Full\n") == 0 && memcmp(&l, &before, sizeof(l)) == 0);
                break;
            }
            FUZZ_CHECK(l.n == before.n + 1);
            FUZZ_CHECK(l.drawn[before.n] >= 1 && l.drawn[before.n] <= LOTTERY_HIGHEST);
            for (unsigned k = 0; k < before.n; k++)
                FUZZ_CHECK(l.drawn[k] == before.drawn[k] && l.drawn[k] != l.drawn[before.n]);
            snprintf(want, sizeof(want), "New number generated: %u\n", l.drawn[before.n]);
            FUZZ_CHECK(strcmp(buf, want) == 0);
            break;
        case LOTTERY_LIST:
            snprintf(want, sizeof(want), "numbers: %u %u %u %u %u %u\n", l.n > 0 ? l.drawn[0] : 0,
                     l.n > 1 ? l.drawn[1] : 0, l.n > 2 ? l.drawn[2] : 0, l.n > 3 ? l.drawn[3] : 0,
                     l.n > 4 ? l.drawn[4] : 0, l.n > 5 ? l.drawn[5] : 0);
            FUZZ_CHECK(strcmp(buf, want) == 0 && memcmp(&l, &before, sizeof(l)) == 0);
            break;
        default:
            snprintf(want, sizeof(want), "error: unknown command %u\n", value);
            FUZZ_CHECK(strcmp(buf, want) == 0 && memcmp(&l, &before, sizeof(l)) == 0);
        }
    }
    return 0;
}
