#include "replay/limiter.h"

#include <math.h>

int replay_limiter_check(const replay_limiter_config *cfg, uint64_t capacity, shoal_err *err)
{
    if (!(cfg->samples_per_insert >= 0.0) || !isfinite(cfg->samples_per_insert) ||
        !(cfg->tolerance >= 0.0) || !isfinite(cfg->tolerance)) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.samples_per_insert (%g) and "
                             "replay.tolerance (%g) must be finite and >= 0",
                             cfg->samples_per_insert, cfg->tolerance);
    }
    if (cfg->min_size > capacity) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.min_size %llu exceeds replay.capacity "
                             "%llu: the ring could never hold enough to sample",
                             (unsigned long long)cfg->min_size, (unsigned long long)capacity);
    }
    if (cfg->samples_per_insert > 0.0 && cfg->tolerance < 1.0) {
        return shoal_err_set(err, SHOAL_EINVAL, "replay.tolerance %g is below 1 with a "
                             "samples-per-insert ratio: no batch could ever be sampled; use at "
                             "least the learner's batch size", cfg->tolerance);
    }
    return SHOAL_OK;
}

void replay_limiter_init(replay_limiter *l, const replay_limiter_config *cfg)
{
    *l = (replay_limiter){.cfg = *cfg};
}

static double diff(const replay_limiter *l)
{
    return (double)l->inserted * l->cfg.samples_per_insert - (double)l->sampled;
}

static double centre(const replay_limiter *l)
{
    return l->cfg.samples_per_insert * (double)l->cfg.min_size;
}

size_t replay_limiter_max_batch(const replay_limiter *l)
{
    if (l->cfg.samples_per_insert <= 0.0) {
        return SIZE_MAX;
    }
    return (size_t)floor(2.0 * l->cfg.tolerance);
}

bool replay_limiter_can_sample(const replay_limiter *l, uint64_t size, size_t n)
{
    if (size < l->cfg.min_size) {
        return false;
    }
    if (l->cfg.samples_per_insert <= 0.0) {
        return true;
    }
    return diff(l) - (double)n >= centre(l) - l->cfg.tolerance;
}

bool replay_limiter_can_ack(const replay_limiter *l)
{
    if (l->cfg.samples_per_insert <= 0.0) {
        return true;
    }
    return diff(l) <= centre(l) + l->cfg.tolerance;
}

void replay_limiter_inserted(replay_limiter *l, size_t n)
{
    l->inserted += n;
}

void replay_limiter_sampled(replay_limiter *l, size_t n)
{
    l->sampled += n;
}

void replay_limiter_account(replay_limiter *l, bool acks_waiting, bool samples_waiting,
                            uint64_t now_ns)
{
    if (l->last_ns && now_ns > l->last_ns) {
        double dt = (double)(now_ns - l->last_ns) * 1e-9;
        l->insert_blocked_s += l->acks_waiting ? dt : 0.0;
        l->sample_blocked_s += l->samples_waiting ? dt : 0.0;
    }
    l->last_ns = now_ns;
    l->acks_waiting = acks_waiting;
    l->samples_waiting = samples_waiting;
}
