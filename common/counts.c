#include "common/counts.h"

#include <stdlib.h>

typedef struct slot {
    uint64_t code;
    uint64_t count; /* 0: empty */
} slot;

struct count_table {
    slot *slots;
    size_t mask;
    size_t n_codes, max_codes;
    uint64_t overflow;
};

count_table *count_table_new(size_t slots, const char *what, shoal_err *err)
{
    if (slots < 16 || (slots & (slots - 1))) {
        shoal_err_set(err, SHOAL_EINVAL, "%s = %zu; expected a power of two >= 16 (e.g. "
                      "1048576)", what, slots);
        return NULL;
    }
    count_table *t = calloc(1, sizeof *t);
    if (t) {
        t->slots = calloc(slots, sizeof *t->slots);
    }
    if (!t || !t->slots) {
        count_table_free(t);
        shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory for %zu count slots", what, slots);
        return NULL;
    }
    t->mask = slots - 1;
    t->max_codes = slots / 8 * 7;
    return t;
}

void count_table_free(count_table *t)
{
    if (!t) {
        return;
    }
    free(t->slots);
    free(t);
}

/* SplitMix64's finaliser spreads codes that differ in few bits over the whole table. */
static size_t home_of(uint64_t code, size_t mask)
{
    code ^= code >> 30;
    code *= 0xbf58476d1ce4e5b9ull;
    code ^= code >> 27;
    code *= 0x94d049bb133111ebull;
    code ^= code >> 31;
    return (size_t)code & mask;
}

/* The slot holding code, or the empty slot where it would go (the table is never full because
 * inserts stop at 7/8). */
static slot *find(const count_table *t, uint64_t code)
{
    for (size_t i = home_of(code, t->mask);; i = (i + 1) & t->mask) {
        slot *s = &t->slots[i];
        if (s->count == 0 || s->code == code) {
            return s;
        }
    }
}

/* code's slot, claimed if new; NULL when new and the table is full. */
static slot *claim(count_table *t, uint64_t code)
{
    slot *s = find(t, code);
    if (s->count == 0) {
        if (t->n_codes >= t->max_codes) {
            return NULL;
        }
        s->code = code;
        t->n_codes++;
    }
    return s;
}

uint64_t count_table_add(count_table *t, uint64_t code, uint64_t n)
{
    if (n == 0) {
        return count_table_get(t, code);
    }
    slot *s = claim(t, code);
    if (!s) {
        t->overflow += n;
        return n;
    }
    s->count += n;
    return s->count;
}

uint64_t count_table_raise(count_table *t, uint64_t code, uint64_t n)
{
    if (n == 0) {
        return count_table_get(t, code);
    }
    slot *s = claim(t, code);
    if (!s) {
        return n;
    }
    if (s->count < n) {
        s->count = n;
    }
    return s->count;
}

uint64_t count_table_get(const count_table *t, uint64_t code)
{
    return find(t, code)->count;
}

size_t count_table_codes(const count_table *t)
{
    return t->n_codes;
}

uint64_t count_table_overflow(const count_table *t)
{
    return t->overflow;
}
