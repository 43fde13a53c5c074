#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "replay_fixtures.h"

#define OB FX_OB
#define MAXN FX_MAXN

typedef fx_batch batch;

static void make_batch(batch *b, uint32_t first_id, size_t n, float priority)
{
    fx_batch_fill(b, 0, first_id, n, priority, false);
}

static replay_store_config store_config(size_t cap, size_t demo_cap)
{
    replay_store_config c = {.capacity = cap, .demo_capacity = demo_cap, .alpha = 1.0,
                             .epsilon = 0.0, .epsilon_demo = 1.0, .seed = 3, .max_batch = MAXN};
    c.spec = fx_spec();
    return c;
}

static replay_store *store(size_t cap, size_t demo_cap)
{
    shoal_err err = {0};
    replay_store_config c = store_config(cap, demo_cap);
    replay_store *s = replay_store_new(&c, &err);
    cr_assert_not_null(s, "%s", err.msg);
    return s;
}

static void insert(replay_store *s, uint32_t first_id, size_t n, float priority, bool demo)
{
    static batch b;
    shoal_err err = {0};
    make_batch(&b, first_id, n, priority);
    cr_assert_eq(replay_store_insert(s, &b.t, demo, &err), SHOAL_OK, "%s", err.msg);
}

static replay_sample *sample_buf(void)
{
    replay_sample *x = replay_sample_new(MAXN, OB, NULL);
    cr_assert_not_null(x);
    return x;
}

static void sample(replay_store *s, replay_sample *x, size_t n, double frac, double beta)
{
    shoal_err err = {0};
    replay_sample_req req = {.batch_size = n, .demo_fraction = frac, .beta = beta};
    cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_OK, "%s", err.msg);
}

Test(replay_store, obs_spec_parse_gives_fifty_bytes_for_minatar_and_rejects_bad_text)
{
    obs_spec sp;
    shoal_err err = {0};
    cr_assert_eq(obs_spec_parse("10,10,4", "bit", &sp, &err), SHOAL_OK);
    cr_assert_eq(sp.bytes, 50);
    cr_assert_eq(obs_spec_parse("84,84,4", "uint8", &sp, &err), SHOAL_OK);
    cr_assert_eq(sp.bytes, 84 * 84 * 4);
    cr_assert_eq(obs_spec_parse("10,10", "bit", &sp, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "H,W,C") != NULL);
    cr_assert_eq(obs_spec_parse("10,0,4", "bit", &sp, &err), SHOAL_EINVAL);
    cr_assert_eq(obs_spec_parse("10,10,4", "int16", &sp, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "int16") != NULL);
}

Test(replay_store, the_ring_evicts_in_fifo_order)
{
    replay_store *s = store(8, 0);
    insert(s, 0, 5, 1.0f, false);
    insert(s, 5, 6, 1.0f, false); /* 11 inserted into 8 slots: ids 0, 1, 2 are gone */
    replay_totals t = replay_store_totals(s);
    cr_assert_eq(t.size, 8);
    cr_assert_eq(replay_store_counters_get(s).inserted, 11);
    replay_sample *x = sample_buf();
    bool seen[11] = {0};
    for (int r = 0; r < 50; r++) {
        sample(s, x, 16, 0.0, 0.4);
        for (size_t j = 0; j < x->count; j++) {
            uint32_t id;
            memcpy(&id, x->obs + j * OB, sizeof id);
            cr_assert_eq(id, x->action[j], "obs and columns travel together");
            cr_assert_eq(x->next_obs[j * OB + OB - 1], 0xAB);
            cr_assert_float_eq(x->reward[j], (float)id * 0.5f, 0.0f);
            cr_assert_eq(x->key[j] & 0xFFFFFFFFu, id % 8, "id %u lives in slot id mod 8", id);
            seen[id] = true;
        }
    }
    for (uint32_t id = 0; id < 11; id++) {
        cr_assert_eq(seen[id], id >= 3, "id %u: the three oldest must be evicted", id);
    }
    replay_sample_free(x);
    replay_store_free(s);
}

Test(replay_store, a_priority_update_for_an_overwritten_slot_is_ignored)
{
    replay_store *s = store(4, 0);
    insert(s, 0, 4, 1.0f, false);
    replay_sample *x = sample_buf();
    sample(s, x, 4, 0.0, 0.4);
    uint64_t old_key = x->key[0];
    size_t slot = old_key & 0xFFFFFFFFu;
    insert(s, 100, 4, 2.0f, false); /* overwrites every slot */
    float p = 50.0f;
    size_t applied = 99;
    shoal_err err = {0};
    cr_assert_eq(replay_store_update(s, &old_key, &p, 1, &applied, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(applied, 0);
    cr_assert_eq(replay_store_counters_get(s).stale_updates, 1);
    cr_assert_float_eq(replay_store_totals(s).agent, 8.0, 1e-9, "tree unchanged");
    cr_assert_float_eq(replay_store_priority_of(s, old_key), -1.0, 0.0);
    /* the fresh key of the same slot does apply */
    uint64_t new_key = (old_key & ~((uint64_t)REPLAY_KEY_GEN_MASK << 32)) |
                       ((((old_key >> 32) & REPLAY_KEY_GEN_MASK) + 1) << 32);
    cr_assert_eq(new_key & 0xFFFFFFFFu, slot);
    cr_assert_eq(replay_store_update(s, &new_key, &p, 1, &applied, &err), SHOAL_OK);
    cr_assert_eq(applied, 1);
    cr_assert_float_eq(replay_store_totals(s).agent, 6.0 + 50.0, 1e-9);
    replay_sample_free(x);
    replay_store_free(s);
}

Test(replay_store, bad_updates_are_rejected_whole_before_any_is_applied)
{
    replay_store *s = store(4, 2);
    insert(s, 0, 4, 1.0f, false);
    replay_sample *x = sample_buf();
    sample(s, x, 2, 0.0, 0.4);
    shoal_err err = {0};
    uint64_t keys[2] = {x->key[0], ((uint64_t)1 << 32) | 7}; /* slot 7 of a 4-slot ring */
    float pr[2] = {9.0f, 1.0f};
    cr_assert_eq(replay_store_update(s, keys, pr, 2, NULL, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "out of range") != NULL, "%s", err.msg);
    cr_assert_float_eq(replay_store_totals(s).agent, 4.0, 1e-9, "first key not applied");
    keys[1] = x->key[1];
    pr[1] = NAN;
    cr_assert_eq(replay_store_update(s, keys, pr, 2, NULL, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "priority[1]") != NULL, "%s", err.msg);
    pr[1] = -1.0f;
    cr_assert_eq(replay_store_update(s, keys, pr, 2, NULL, &err), SHOAL_EINVAL);
    keys[1] = REPLAY_KEY_DEMO_BIT | ((uint64_t)1 << 32) | 2; /* demo slot 2 of 2 */
    pr[1] = 1.0f;
    cr_assert_eq(replay_store_update(s, keys, pr, 2, NULL, &err), SHOAL_EINVAL);
    cr_assert_float_eq(replay_store_totals(s).agent, 4.0, 1e-9);
    replay_sample_free(x);
    replay_store_free(s);
}

Test(replay_store, bad_inserts_store_nothing)
{
    replay_store *s = store(4, 3);
    static batch b;
    shoal_err err = {0};
    make_batch(&b, 0, 3, 1.0f);
    b.priority[2] = INFINITY;
    cr_assert_eq(replay_store_insert(s, &b.t, false, &err), SHOAL_EINVAL);
    cr_assert_eq(replay_store_totals(s).size, 0);
    make_batch(&b, 0, 3, 1.0f);
    b.t.n_heads = 40;
    cr_assert_eq(replay_store_insert(s, &b.t, false, &err), SHOAL_EINVAL);
    b.t.n_heads = 4;
    cr_assert_eq(replay_store_insert(s, &b.t, false, &err), SHOAL_EINVAL, "heads without masks");
    b.t.mask = b.mask;
    cr_assert_eq(replay_store_insert(s, &b.t, false, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_store_heads(s), 4);
    b.t.n_heads = 8;
    cr_assert_eq(replay_store_insert(s, &b.t, false, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "heads") != NULL);
    insert(s, 10, 3, 1.0f, true);
    make_batch(&b, 20, 1, 1.0f);
    cr_assert_eq(replay_store_insert(s, &b.t, true, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "demo store full") != NULL, "%s", err.msg);
    cr_assert_eq(replay_store_totals(s).demo_size, 3);
    replay_store_free(s);
}

Test(replay_store, demonstrations_are_never_evicted_and_the_demo_fraction_is_exact)
{
    replay_store *s = store(16, 10);
    insert(s, 1000, 10, 1.0f, true);
    for (uint32_t r = 0; r < 20; r++) { /* 10x the ring's capacity */
        insert(s, r * 8, 8, 1.0f, false);
    }
    replay_totals t = replay_store_totals(s);
    cr_assert_eq(t.demo_size, 10);
    cr_assert_eq(t.size, 16);
    replay_sample *x = sample_buf();
    const size_t sizes[] = {1, 4, 7, 64, 100};
    const double fracs[] = {0.0, 0.25, 0.5, 1.0};
    bool seen_demo[10] = {0};
    for (size_t a = 0; a < 5; a++) {
        for (size_t f = 0; f < 4; f++) {
            sample(s, x, sizes[a], fracs[f], 0.6);
            size_t want = (size_t)floor(fracs[f] * (double)sizes[a] + 0.5);
            cr_assert_eq(x->n_demo, want, "batch %zu fraction %g", sizes[a], fracs[f]);
            size_t n = 0;
            for (size_t j = 0; j < x->count; j++) {
                n += x->demo[j];
                cr_assert_eq(x->demo[j], x->action[j] >= 1000);
                cr_assert_eq(!!(x->key[j] & REPLAY_KEY_DEMO_BIT), x->demo[j]);
                if (x->demo[j]) {
                    seen_demo[x->action[j] - 1000] = true;
                }
            }
            cr_assert_eq(n, want);
        }
    }
    for (size_t i = 0; i < 10; i++) {
        cr_assert(seen_demo[i], "demo %zu still sampled after 10x capacity of inserts", i);
    }
    replay_sample_req req = {.batch_size = 32, .demo_only = true, .beta = 0.4};
    cr_assert_eq(replay_store_sample(s, &req, x, NULL), SHOAL_OK);
    cr_assert_eq(x->n_demo, 32, "demo-only sampling for DQfD pre-training");
    replay_sample_free(x);
    replay_store_free(s);
}

Test(replay_store, sampling_a_missing_population_is_an_error)
{
    replay_store *s = store(8, 4);
    replay_sample *x = sample_buf();
    shoal_err err = {0};
    replay_sample_req req = {.batch_size = 4, .demo_fraction = 0.0, .beta = 0.4};
    cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    insert(s, 0, 4, 1.0f, false);
    req.demo_fraction = 0.25;
    cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_ESTATE);
    cr_assert(strstr(err.msg, "demo") != NULL, "%s", err.msg);
    req.demo_fraction = 1.5;
    cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_EINVAL);
    req.demo_fraction = 0.0;
    req.batch_size = MAXN + 1;
    cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_EINVAL);
    replay_sample_free(x);
    replay_store_free(s);
}

/* algorithms.md §2.2: leaves (1,2,3,4), N = 4, beta = 1: w = (1, .5, .3333, .25). With alpha
 * 0.5 and epsilon 0 the priorities (1,4,9,16) give the same leaves. */
Test(replay_store, importance_weights_match_the_hand_computation)
{
    shoal_err err = {0};
    replay_store_config c = store_config(4, 0);
    c.alpha = 0.5;
    replay_store *s = replay_store_new(&c, &err);
    static batch b;
    make_batch(&b, 0, 4, 0.0f);
    for (size_t i = 0; i < 4; i++) {
        b.priority[i] = (float)((i + 1) * (i + 1));
    }
    cr_assert_eq(replay_store_insert(s, &b.t, false, &err), SHOAL_OK);
    cr_assert_float_eq(replay_store_totals(s).agent, 10.0, 1e-9);
    replay_sample *x = sample_buf();
    const double want1[4] = {1.0, 0.5, 1.0 / 3.0, 0.25};
    for (int r = 0; r < 20; r++) {
        sample(s, x, 64, 0.0, 1.0);
        double wmin = 1.0;
        for (size_t j = 0; j < x->count; j++) {
            uint32_t id = x->action[j];
            cr_assert_float_eq(x->leaf[j], (double)(id + 1), 1e-9);
            wmin = fmin(wmin, x->weight[j]);
            /* batch max normalisation: relative to the smallest leaf drawn in this batch */
            double smallest = 4.0;
            for (size_t k = 0; k < x->count; k++) {
                smallest = fmin(smallest, x->leaf[k]);
            }
            cr_assert_float_eq(x->weight[j], smallest / (double)(id + 1), 1e-6);
        }
        cr_assert_float_eq(wmin, want1[3], 1e-6, "64 draws always include leaf 4");
    }
    /* beta 0.4: raw (4 * P)^-0.4, normalised by the batch max (leaf 1 is always drawn) */
    sample(s, x, 64, 0.0, 0.4);
    for (size_t j = 0; j < x->count; j++) {
        double leaf = (double)(x->action[j] + 1);
        double want = pow(4.0 * leaf / 10.0, -0.4) / pow(4.0 * 1.0 / 10.0, -0.4);
        cr_assert_float_eq(x->weight[j], want, 1e-6);
    }
    replay_sample_free(x);
    replay_store_free(s);
}

/* The weights are computed as (min ratio / ratio)^β in float; the reference is the definition,
 * (N·P(i))^-β divided by the batch's largest, in double. */
Test(replay_store, importance_weights_match_a_double_reference_within_a_few_ulps)
{
    enum { N = 512 };
    double ratio[N];
    float w[N];
    uint64_t x = 0x9E3779B97F4A7C15u;
    const double betas[] = {0.0, 0.4, 0.7, 1.0};
    for (size_t b = 0; b < sizeof betas / sizeof betas[0]; b++) {
        double beta = betas[b];
        for (size_t i = 0; i < N; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            /* N·P(i) over eight decades, as a store of skewed priorities gives */
            ratio[i] = pow(10.0, -4.0 + 8.0 * (double)(x >> 11) / 9007199254740992.0);
        }
        replay_importance_weights(w, ratio, N, beta);
        double max = 0.0;
        for (size_t i = 0; i < N; i++) {
            max = fmax(max, pow(ratio[i], -beta));
        }
        float largest = 0.0f;
        for (size_t i = 0; i < N; i++) {
            double want = pow(ratio[i], -beta) / max;
            cr_assert(fabs((double)w[i] - want) <= 4.0 * FLT_EPSILON * want,
                      "beta %g ratio %g: weight %.9g, double reference %.9g", beta, ratio[i],
                      (double)w[i], want);
            largest = fmaxf(largest, w[i]);
        }
        cr_assert_eq(largest, 1.0f, "the largest weight is exactly 1");
    }
}

/* DQfD: one mixed tree with the demo bonus eps_d. Agent priority 1 (eps 0), demo priority 0
 * with eps_d 1: equal leaves, so demos are drawn in proportion to their count. */
Test(replay_store, mixed_sampling_applies_the_demo_bonus)
{
    replay_store *s = store(30, 10);
    insert(s, 0, 30, 1.0f, false);
    insert(s, 1000, 10, 0.0f, true);
    replay_totals t = replay_store_totals(s);
    cr_assert_float_eq(t.demo, 0.0, 0.0);
    cr_assert_float_eq(t.demo_bonus, 10.0, 1e-9);
    replay_sample *x = sample_buf();
    shoal_err err = {0};
    replay_sample_req req = {.batch_size = 40, .mixed = true, .beta = 0.5};
    size_t demos = 0;
    for (int r = 0; r < 100; r++) {
        cr_assert_eq(replay_store_sample(s, &req, x, &err), SHOAL_OK, "%s", err.msg);
        demos += x->n_demo;
        for (size_t j = 0; j < x->count; j++) {
            cr_assert_float_eq(x->weight[j], 1.0f, 1e-6, "equal leaves give equal weights");
        }
    }
    cr_assert_eq(demos, 1000, "stratified: exactly a quarter of each 40-batch (10 of 40)");
    replay_sample_free(x);
    replay_store_free(s);
}

Test(replay_store, save_and_load_round_trip_identically)
{
    replay_store *a = store(16, 8);
    insert(a, 0, 21, 1.5f, false);
    insert(a, 500, 5, 0.5f, true);
    replay_sample *x = sample_buf(), *y = sample_buf();
    sample(a, x, 8, 0.25, 0.4);
    float pr[8];
    for (size_t j = 0; j < 8; j++) {
        pr[j] = 0.1f * (float)(j + 1);
    }
    cr_assert_eq(replay_store_update(a, x->key, pr, 8, NULL, NULL), SHOAL_OK);
    char path[] = "/tmp/shoal-store-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w+b");
    shoal_err err = {0};
    replay_cio w = {.f = f, .what = path};
    cr_assert_eq(replay_store_save(a, &w, &err), SHOAL_OK, "%s", err.msg);
    rewind(f);
    replay_store *b = store(16, 8);
    replay_cio r = {.f = f, .what = path};
    cr_assert_eq(replay_store_load(b, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(r.crc, w.crc);
    replay_totals ta = replay_store_totals(a), tb = replay_store_totals(b);
    cr_assert_eq(memcmp(&ta, &tb, sizeof ta), 0, "totals bit-identical");
    replay_store_counters ca = replay_store_counters_get(a), cb = replay_store_counters_get(b);
    cr_assert_eq(memcmp(&ca, &cb, sizeof ca), 0);
    for (int k = 0; k < 5; k++) {
        sample(a, x, 32, 0.25, 0.4);
        sample(b, y, 32, 0.25, 0.4);
        cr_assert_eq(memcmp(x->key, y->key, 32 * sizeof *x->key), 0, "same draws after restore");
        cr_assert_eq(memcmp(x->obs, y->obs, 32 * OB), 0);
        cr_assert_eq(memcmp(x->weight, y->weight, 32 * sizeof *x->weight), 0);
    }
    /* truncated: refused, store left empty */
    fflush(f);
    cr_assert_eq(ftruncate(fd, (off_t)(w.offset - 7)), 0);
    rewind(f);
    replay_cio r2 = {.f = f, .what = path};
    cr_assert_eq(replay_store_load(b, &r2, &err), SHOAL_ECORRUPT);
    cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    cr_assert_eq(replay_store_totals(b).size, 0);
    /* another capacity: refused with the reason */
    replay_store *c = store(32, 8);
    rewind(f);
    replay_cio r3 = {.f = f, .what = path};
    cr_assert_eq(replay_store_load(c, &r3, &err), SHOAL_EINVAL);
    cr_assert(strstr(err.msg, "replay.capacity") != NULL, "%s", err.msg);
    fclose(f);
    unlink(path);
    replay_sample_free(x);
    replay_sample_free(y);
    replay_store_free(a);
    replay_store_free(b);
    replay_store_free(c);
}

/* DAgger's label-only demonstrations: sampled with the label flag and discount 0, their
 * priority never moved by a TD error, and both kept by a checkpoint. */
Test(replay_store, label_only_transitions_keep_their_flag_and_priority)
{
    replay_store *a = store(16, 32);
    static batch b;
    shoal_err err = {0};
    make_batch(&b, 100, 10, 1.0f);
    b.t.label = true;
    cr_assert_eq(replay_store_insert(a, &b.t, false, &err), SHOAL_EINVAL, "labels are demos");
    cr_assert(strstr(err.msg, "demo store"), "%s", err.msg);
    cr_assert_eq(replay_store_insert(a, &b.t, true, &err), SHOAL_OK, "%s", err.msg);
    insert(a, 200, 10, 1.0f, true); /* plain demonstrations, discount 0.99 */
    insert(a, 0, 8, 1.0f, false);
    replay_sample *x = sample_buf();
    shoal_err e2 = {0};
    replay_sample_req req = {.batch_size = 20, .beta = 0.4, .demo_only = true};
    cr_assert_eq(replay_store_sample(a, &req, x, &e2), SHOAL_OK, "%s", e2.msg);
    float pr[20];
    for (size_t j = 0; j < 20; j++) {
        bool label = x->action[j] < 200;
        cr_assert_eq(x->label[j], label, "row %zu action %u", j, x->action[j]);
        cr_assert_eq(x->discount[j], label ? 0.0f : 0.99f);
        cr_assert_not(signbit(x->discount[j]), "the store's marker stays inside");
        pr[j] = 7.0f;
    }
    size_t applied = 0;
    cr_assert_eq(replay_store_update(a, x->key, pr, 20, &applied, NULL), SHOAL_OK);
    for (size_t j = 0; j < 20; j++) {
        cr_assert_eq(replay_store_priority_of(a, x->key[j]), x->label[j] ? 1.0 : 7.0);
    }
    cr_assert_eq(applied, 10, "only the plain demonstrations take new priorities");
    /* A checkpoint keeps the labels as labels. */
    char path[] = "/tmp/shoal-store-label-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w+b");
    replay_cio w = {.f = f, .what = path};
    cr_assert_eq(replay_store_save(a, &w, &err), SHOAL_OK, "%s", err.msg);
    rewind(f);
    replay_store *c = store(16, 32);
    replay_cio r = {.f = f, .what = path};
    cr_assert_eq(replay_store_load(c, &r, &err), SHOAL_OK, "%s", err.msg);
    cr_assert_eq(replay_store_sample(c, &req, x, &e2), SHOAL_OK, "%s", e2.msg);
    size_t labels = 0;
    for (size_t j = 0; j < 20; j++) {
        cr_assert_eq(x->label[j], x->action[j] < 200);
        labels += x->label[j];
    }
    cr_assert_gt(labels, 0);
    fclose(f);
    unlink(path);
    replay_sample_free(x);
    replay_store_free(a);
    replay_store_free(c);
}

Test(replay_store, footprint_covers_the_columns)
{
    replay_store *s = store(1000, 100);
    size_t fp = replay_store_footprint(s);
    cr_assert_geq(fp, 1100 * (2 * OB + 28));
    cr_assert_lt(fp, 1100 * (2 * OB + 28) + 64 * 1024);
    replay_store_free(s);
}

Test(replay_store, bad_configurations_are_refused)
{
    shoal_err err = {0};
    replay_store_config c = store_config(0, 0);
    cr_assert_null(replay_store_new(&c, &err));
    cr_assert(strstr(err.msg, "replay.capacity") != NULL);
    c = store_config(10, 0);
    c.alpha = 2.0;
    cr_assert_null(replay_store_new(&c, &err));
    cr_assert(strstr(err.msg, "alpha") != NULL);
    c = store_config(10, 0);
    c.spec.dtype = 9;
    cr_assert_null(replay_store_new(&c, &err));
    cr_assert(strstr(err.msg, "dtype") != NULL);
}

Test(replay_store, the_priority_histogram_follows_inserts_evictions_updates_and_clears)
{
    replay_store *s = store(4, 2);
    insert(s, 0, 3, 0.5f, false); /* bin 8 */
    insert(s, 10, 2, 20.0f, true); /* demonstrations are not counted */
    uint64_t h[REPLAY_PRIORITY_BINS];
    replay_store_priority_hist(s, h);
    cr_assert_eq(h[8], 3);
    insert(s, 3, 2, 0.0f, false); /* fills slot 3, evicts slot 0 (0.5) */
    replay_store_priority_hist(s, h);
    cr_assert_eq(h[8], 2);
    cr_assert_eq(h[0], 2);
    shoal_err err = {0};
    uint64_t key = ((uint64_t)1 << 32) | 1; /* slot 1, first generation */
    float p = 5.0f;
    cr_assert_eq(replay_store_update(s, &key, &p, 1, NULL, &err), SHOAL_OK, "%s", err.msg);
    replay_store_priority_hist(s, h);
    cr_assert_eq(h[8], 1);
    cr_assert_eq(h[10], 1);
    uint64_t sum = 0;
    for (size_t k = 0; k < REPLAY_PRIORITY_BINS; k++) {
        sum += h[k];
    }
    cr_assert_eq(sum, 4, "one count per stored agent transition");
    replay_store_clear(s);
    replay_store_priority_hist(s, h);
    cr_assert_eq(h[0] + h[8] + h[10], 0);
    replay_store_free(s);
}
