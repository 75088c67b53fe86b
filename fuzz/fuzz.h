/*
 * fuzz: what every libFuzzer target in fuzz/ shares (docs/FUZZING.md).
 *
 * A target checks invariants, not only that nothing crashed: FUZZ_CHECK
 * names the broken one on stderr and aborts, which libFuzzer reports as a
 * crash and saves the input for (fuzz/run.sh prints where).
 */
#ifndef FERRY_FUZZ_H
#define FERRY_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points (declared here for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with the broken invariant's text when cond is false. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd copy of exactly n bytes (1 for n == 0), so that AddressSanitizer
 * catches a read one byte past what a decoder was given. */
static inline uint8_t *fuzz_copy(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);

    if (c == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        c[i] = ((const uint8_t *)p)[i];
    return c;
}

/* A small deterministic generator (splitmix64) for split points and the
 * like, seeded from the input so that a crash reproduces from the file. */
static inline uint64_t fuzz_mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A seed from the input's bytes (FNV-1a). */
static inline uint64_t fuzz_seed(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    return h;
}

#endif
