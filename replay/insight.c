#include "replay/insight.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "replay/store.h"

#define TIME_BUCKETS 4096u
#define RATE_SNAPSHOTS 11u /* one a second: rates over the last ~10 s */

typedef struct rate_snapshot {
    uint64_t t_ns, inserted, sampled;
} rate_snapshot;

struct replay_insight_rec {
    size_t cap;
    size_t width;       /* slots per time bucket */
    uint64_t *bucket_ns; /* (cap / width rounded up) last write; 0: before this start */
    /* The window: ring of the last REPLAY_AGE_WINDOW sampled transitions. */
    uint32_t *age;      /* inserts; agent transitions only */
    float *age_s;       /* seconds; < 0 when unknown */
    uint8_t *demo;
    size_t head, n;
    double *scratch;    /* (REPLAY_AGE_WINDOW) for percentiles */
    rate_snapshot snap[RATE_SNAPSHOTS];
    size_t snap_head, n_snap;
};

replay_insight_rec *replay_insight_rec_new(size_t capacity, shoal_err *err)
{
    replay_insight_rec *r = calloc(1, sizeof *r);
    if (!r) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the replay introspection recorder");
        return NULL;
    }
    r->cap = capacity ? capacity : 1;
    r->width = (r->cap + TIME_BUCKETS - 1) / TIME_BUCKETS;
    r->bucket_ns = calloc((r->cap + r->width - 1) / r->width, sizeof *r->bucket_ns);
    r->age = calloc(REPLAY_AGE_WINDOW, sizeof *r->age);
    r->age_s = calloc(REPLAY_AGE_WINDOW, sizeof *r->age_s);
    r->demo = calloc(REPLAY_AGE_WINDOW, sizeof *r->demo);
    r->scratch = calloc(REPLAY_AGE_WINDOW, sizeof *r->scratch);
    if (!r->bucket_ns || !r->age || !r->age_s || !r->demo || !r->scratch) {
        shoal_err_set(err, SHOAL_ENOMEM, "cannot allocate the replay introspection recorder");
        replay_insight_rec_free(r);
        return NULL;
    }
    return r;
}

void replay_insight_rec_free(replay_insight_rec *r)
{
    if (!r) {
        return;
    }
    free(r->bucket_ns);
    free(r->age);
    free(r->age_s);
    free(r->demo);
    free(r->scratch);
    free(r);
}

void replay_insight_rec_inserted(replay_insight_rec *r, uint64_t inserted_before, size_t n,
                                 uint64_t now_ns)
{
    /* Only the last cap transitions of a batch survive in the ring. */
    if (n > r->cap) {
        inserted_before += n - r->cap;
        n = r->cap;
    }
    uint64_t i = inserted_before, end = inserted_before + n;
    while (i < end) {
        size_t slot = (size_t)(i % r->cap);
        size_t bucket = slot / r->width;
        r->bucket_ns[bucket] = now_ns;
        size_t next = (bucket + 1) * r->width;
        i += (next < r->cap ? next : r->cap) - slot;
    }
}

void replay_insight_rec_sampled(replay_insight_rec *r, const uint64_t *keys, size_t n,
                                uint64_t inserted, uint64_t now_ns)
{
    uint64_t newest = inserted ? (inserted - 1) % r->cap : 0;
    for (size_t j = 0; j < n; j++) {
        size_t w = (r->head + r->n) % REPLAY_AGE_WINDOW;
        if (r->n == REPLAY_AGE_WINDOW) {
            r->head = (r->head + 1) % REPLAY_AGE_WINDOW;
        } else {
            r->n++;
        }
        bool demo = (keys[j] & REPLAY_KEY_DEMO_BIT) != 0;
        r->demo[w] = demo;
        r->age[w] = 0;
        r->age_s[w] = -1.0f;
        if (demo) {
            continue;
        }
        uint64_t slot = (keys[j] & 0xFFFFFFFFu) % r->cap;
        r->age[w] = (uint32_t)((newest + r->cap - slot) % r->cap);
        uint64_t t = r->bucket_ns[slot / r->width];
        if (t && t <= now_ns) {
            r->age_s[w] = (float)((double)(now_ns - t) * 1e-9);
        }
    }
}

void replay_insight_rec_tick(replay_insight_rec *r, uint64_t now_ns, uint64_t inserted,
                             uint64_t sampled)
{
    if (r->n_snap) {
        const rate_snapshot *last = &r->snap[(r->snap_head + r->n_snap - 1) % RATE_SNAPSHOTS];
        if (now_ns < last->t_ns + 1000000000u) {
            return;
        }
    }
    size_t w = (r->snap_head + r->n_snap) % RATE_SNAPSHOTS;
    if (r->n_snap == RATE_SNAPSHOTS) {
        r->snap_head = (r->snap_head + 1) % RATE_SNAPSHOTS;
    } else {
        r->n_snap++;
    }
    r->snap[w] = (rate_snapshot){now_ns, inserted, sampled};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentiles q50 and q90 of v[0..n), sorted in place; 0 when n is 0. */
static void percentiles(double *v, size_t n, double *p50, double *p90)
{
    *p50 = *p90 = 0.0;
    if (n == 0) {
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
    *p50 = v[(size_t)ceil(0.5 * (double)n) - 1];
    *p90 = v[(size_t)ceil(0.9 * (double)n) - 1];
}

void replay_insight_rec_fill(replay_insight_rec *r, uint64_t now_ns, uint64_t inserted,
                             uint64_t sampled, replay_insight *out)
{
    out->window = (uint32_t)r->n;
    out->window_demo = 0;
    size_t n_agent = 0;
    for (size_t j = 0; j < r->n; j++) {
        size_t k = (r->head + j) % REPLAY_AGE_WINDOW;
        out->window_demo += r->demo[k];
        if (!r->demo[k]) {
            r->scratch[n_agent++] = r->age[k];
        }
    }
    percentiles(r->scratch, n_agent, &out->age_p50, &out->age_p90);
    size_t n_aged = 0;
    for (size_t j = 0; j < r->n; j++) {
        size_t k = (r->head + j) % REPLAY_AGE_WINDOW;
        if (!r->demo[k] && r->age_s[k] >= 0.0f) {
            r->scratch[n_aged++] = r->age_s[k];
        }
    }
    out->window_aged = (uint32_t)n_aged;
    percentiles(r->scratch, n_aged, &out->age_s_p50, &out->age_s_p90);
    out->inserts_per_s = out->samples_per_s = 0.0;
    if (r->n_snap) {
        const rate_snapshot *old = &r->snap[r->snap_head];
        double dt = (double)(now_ns - old->t_ns) * 1e-9;
        if (now_ns > old->t_ns && dt >= 1e-3) {
            out->inserts_per_s = (double)(inserted - old->inserted) / dt;
            out->samples_per_s = (double)(sampled - old->sampled) / dt;
        }
    }
}

/* ---- shared with the clients (replay/client.h) ---- */

size_t replay_priority_bin(double priority)
{
    if (!(priority >= 1e-4)) {
        return 0;
    }
    size_t k = 1;
    while (k < REPLAY_PRIORITY_BINS - 1 && priority >= replay_priority_bin_low(k + 1)) {
        k++;
    }
    return k;
}

double replay_priority_bin_low(size_t k)
{
    /* 10^(-4 + (k-1)/2), written out so that the edges are exact decimal constants. */
    static const double low[REPLAY_PRIORITY_BINS] = {
        0.0, 1e-4, 3.1622776601683794e-4, 1e-3, 3.1622776601683794e-3, 1e-2,
        3.1622776601683794e-2, 1e-1, 3.1622776601683794e-1, 1.0, 3.1622776601683795, 10.0};
    return k < REPLAY_PRIORITY_BINS ? low[k] : INFINITY;
}

/* Mean of a and b weighted by their counts. */
static double weighted(double a, uint64_t na, double b, uint64_t nb)
{
    return na + nb ? (a * (double)na + b * (double)nb) / (double)(na + nb) : 0.0;
}

void replay_insight_merge(replay_insight *into, const replay_insight *s)
{
    uint64_t agent_in = into->window - into->window_demo, agent_s = s->window - s->window_demo;
    into->age_p50 = weighted(into->age_p50, agent_in, s->age_p50, agent_s);
    into->age_p90 = weighted(into->age_p90, agent_in, s->age_p90, agent_s);
    into->age_s_p50 = weighted(into->age_s_p50, into->window_aged, s->age_s_p50, s->window_aged);
    into->age_s_p90 = weighted(into->age_s_p90, into->window_aged, s->age_s_p90, s->window_aged);
    into->window += s->window;
    into->window_demo += s->window_demo;
    into->window_aged += s->window_aged;
    into->inserts_per_s += s->inserts_per_s;
    into->samples_per_s += s->samples_per_s;
    into->insert_holds += s->insert_holds;
    into->sample_holds += s->sample_holds;
    into->insert_wait_s = fmax(into->insert_wait_s, s->insert_wait_s);
    into->sample_wait_s = fmax(into->sample_wait_s, s->sample_wait_s);
    for (size_t k = 0; k < REPLAY_PRIORITY_BINS; k++) {
        into->priority_hist[k] += s->priority_hist[k];
    }
}
