/* Visit counts of 64-bit codes (SimHash codes of observations): a fixed-size open-addressing
 * table, planned at start. Actors count their own visits in one (actor/explore.c); a replay
 * shard keeps one for the codes its actors send with their batches and returns the fleet's
 * counts with each acknowledgement (exploration.counts = shared).
 *
 * The table has `slots` slots (a power of two, >= 16; 16 bytes each). When it is 7/8 full, codes
 * never seen before are no longer stored: count_table_add returns the visits it was asked to add
 * as if the code were new, and count_table_overflow says how many such visits there were.
 * Linear probing from a SplitMix64-mixed home slot, so codes that differ in a few bits spread
 * over the whole table. Never allocates after count_table_new; one thread at a time.
 *
 *     count_table *t = count_table_new(1u << 20, &err);
 *     uint64_t n = count_table_add(t, code, 1);    // visits of code so far, this one included
 */
#ifndef SHOAL_COMMON_COUNTS_H
#define SHOAL_COMMON_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct count_table count_table;

/* A table of `slots` slots, all empty. NULL with EINVAL (slots not a power of two >= 16, named
 * as `what`) or ENOMEM. */
count_table *count_table_new(size_t slots, const char *what, shoal_err *err);

/* NULL is fine. */
void count_table_free(count_table *t);

/* Adds n visits of code and returns its count after them (n when the table is full and code
 * was not stored). */
uint64_t count_table_add(count_table *t, uint64_t code, uint64_t n);

/* Raises code's count to at least n (a count heard from elsewhere that includes ours); returns
 * the count after it. */
uint64_t count_table_raise(count_table *t, uint64_t code, uint64_t n);

/* Visits of code so far (0 if never). */
uint64_t count_table_get(const count_table *t, uint64_t code);

/* Distinct codes stored; visits of new codes refused because the table was full. */
size_t count_table_codes(const count_table *t);
uint64_t count_table_overflow(const count_table *t);

#endif
