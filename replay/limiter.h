/* Rate limiter, as Reverb's SampleToInsertRatio: no sample before the ring holds min_size
 * transitions, and the difference d = inserted·samples_per_insert − sampled kept inside the
 * band [c − tolerance, c + tolerance] around c = samples_per_insert·min_size (the first
 * min_size inserts have no samples to match). The limiter only decides; the server acts:
 * a sample reply waits while it would push d below the band (the learner is too far ahead),
 * and insert acks (credits) wait while d is above it (the actors are too far ahead). Data is
 * never dropped. samples_per_insert = 0 turns the ratio off, leaving only min_size.
 *
 * A sample of n can wait forever only if n > 2·tolerance while the ratio is on, so the
 * server refuses such requests (replay_limiter_max_batch).
 *
 *     replay_limiter_init(&lim, &cfg);
 *     replay_limiter_inserted(&lim, 64);
 *     if (replay_limiter_can_sample(&lim, size, 32)) { ...; replay_limiter_sampled(&lim, 32); }
 */
#ifndef SHOAL_REPLAY_LIMITER_H
#define SHOAL_REPLAY_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct replay_limiter_config {
    uint64_t min_size;         /* agent transitions before the first sample */
    double samples_per_insert; /* 0: no ratio */
    double tolerance;          /* half-width of the band, in sampled transitions */
} replay_limiter_config;

typedef struct replay_limiter {
    replay_limiter_config cfg;
    uint64_t inserted;        /* agent transitions */
    uint64_t sampled;         /* transitions served through the limiter */
    double insert_blocked_s;  /* time during which at least one insert ack waited */
    double sample_blocked_s;  /* time during which at least one sample reply waited */
    uint64_t last_ns;
    bool acks_waiting;
    bool samples_waiting;
} replay_limiter;

/* EINVAL when the numbers are negative or not finite, or min_size exceeds capacity (the
 * ring could never reach it). */
int replay_limiter_check(const replay_limiter_config *cfg, uint64_t capacity, shoal_err *err);

void replay_limiter_init(replay_limiter *l, const replay_limiter_config *cfg);

/* Largest sample batch that can ever be served (SIZE_MAX without a ratio). */
size_t replay_limiter_max_batch(const replay_limiter *l);

/* Whether a sample of n may be served now, with `size` agent transitions stored. */
bool replay_limiter_can_sample(const replay_limiter *l, uint64_t size, size_t n);

/* Whether held insert acks may be released. */
bool replay_limiter_can_ack(const replay_limiter *l);

void replay_limiter_inserted(replay_limiter *l, size_t n);
void replay_limiter_sampled(replay_limiter *l, size_t n);

/* Records, at now_ns, whether acks and samples are waiting; the time since the previous call
 * is charged to each kind that was waiting then. */
void replay_limiter_account(replay_limiter *l, bool acks_waiting, bool samples_waiting,
                            uint64_t now_ns);

#endif
