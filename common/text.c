/*
 * text: printf-free appending. See text.h.
 */
#include "common/text.h"

#include <string.h>

void text_init(struct text *t, char *buf, size_t cap)
{
    t->buf = buf;
    t->cap = cap;
    t->len = 0;
    buf[0] = '\0';
}

void text_mem(struct text *t, const void *s, size_t n)
{
    size_t room = t->cap - 1 - t->len;

    if (n > room)
        n = room;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

void text_str(struct text *t, const char *s)
{
    text_mem(t, s, strlen(s));
}

void text_u64_pad(struct text *t, uint64_t v, unsigned width)
{
    char digits[20];
    unsigned n = 0;

    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && n < sizeof(digits));
    while (n < width && n < sizeof(digits))
        digits[sizeof(digits) - 1 - n++] = '0';
    text_mem(t, digits + sizeof(digits) - n, n);
}

void text_u64(struct text *t, uint64_t v)
{
    text_u64_pad(t, v, 1);
}

void text_milli(struct text *t, uint64_t v)
{
    text_u64(t, v / 1000);
    text_mem(t, ".", 1);
    text_u64_pad(t, v % 1000, 3);
}
