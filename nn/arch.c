#include "nn/arch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nn_qnet_config nn_qnet_config_minatar(size_t in_c, size_t n_actions)
{
    nn_qnet_config c = {0};
    c.in_h = 10;
    c.in_w = 10;
    c.in_c = in_c;
    c.n_conv = 1;
    c.conv_filters[0] = 16;
    c.n_dense = 1;
    c.dense[0] = 128;
    c.n_actions = n_actions;
    c.n_heads = 1;
    c.max_batch = 512;
    c.seed = 1;
    return c;
}

int nn_qnet_config_check(const nn_qnet_config *c, shoal_err *err)
{
    if (c->in_h == 0 || c->in_w == 0 || c->in_c == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: input shape %zux%zux%zu has a zero; "
                             "expected H x W x C >= 1", c->in_h, c->in_w, c->in_c);
    }
    if (c->n_conv > NN_QNET_MAX_CONV || c->n_dense > NN_QNET_MAX_DENSE ||
        c->n_shared > NN_QNET_MAX_DENSE) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: %zu conv, %zu shared and %zu dense layers; "
                             "at most %d, %d and %d are supported", c->n_conv, c->n_shared,
                             c->n_dense, NN_QNET_MAX_CONV, NN_QNET_MAX_DENSE, NN_QNET_MAX_DENSE);
    }
    if (c->n_conv > 0 && (c->in_h < 1 + 2 * c->n_conv || c->in_w < 1 + 2 * c->n_conv)) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: input %zux%zu is too small for %zu "
                             "unpadded 3x3 convolutions (each removes 2 rows and columns)",
                             c->in_h, c->in_w, c->n_conv);
    }
    for (size_t l = 0; l < c->n_conv; l++) {
        if (c->conv_filters[l] == 0) {
            return shoal_err_set(err, SHOAL_EINVAL, "qnet: conv layer %zu has 0 filters", l);
        }
    }
    for (size_t j = 0; j < c->n_dense; j++) {
        if (c->dense[j] == 0) {
            return shoal_err_set(err, SHOAL_EINVAL, "qnet: dense layer %zu has 0 units", j);
        }
    }
    for (size_t j = 0; j < c->n_shared; j++) {
        if (c->shared[j] == 0) {
            return shoal_err_set(err, SHOAL_EINVAL, "qnet: shared layer %zu has 0 units", j);
        }
    }
    if (c->n_actions == 0 || c->n_heads == 0 || c->n_heads > NN_QNET_MAX_HEADS) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: %zu actions and %zu heads; expected >= 1 "
                             "action and 1..%d heads", c->n_actions, c->n_heads,
                             NN_QNET_MAX_HEADS);
    }
    if (!isfinite(c->prior_scale)) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: prior scale is not finite");
    }
    if (c->max_batch == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: max_batch is 0; expected >= 1");
    }
    return SHOAL_OK;
}

/* Appends "a,b,c" (or "none") to out. */
static int put_list(char *out, size_t cap, size_t *len, const size_t *v, size_t n)
{
    if (n == 0) {
        int k = snprintf(out + *len, cap - *len, "none");
        *len += (size_t)k;
        return *len < cap;
    }
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(out + *len, cap - *len, "%s%zu", i ? "," : "", v[i]);
        *len += (size_t)k;
        if (*len >= cap) {
            return 0;
        }
    }
    return 1;
}

/* Shortest "%g" that reads back as the same float. */
static void format_float(char *out, size_t cap, float v)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(out, cap, "%.*g", prec, (double)v);
        if (strtof(out, NULL) == v) {
            return;
        }
    }
}

int nn_qnet_config_arch(const nn_qnet_config *c, char *arch, size_t cap, shoal_err *err)
{
    char prior[32];
    format_float(prior, sizeof prior, c->prior_scale);
    size_t len = 0;
    int ok = cap > 0;
    if (ok) {
        len = (size_t)snprintf(arch, cap, "qnet/v1 in=%zux%zux%zu conv=", c->in_h, c->in_w,
                               c->in_c);
        ok = len < cap && put_list(arch, cap, &len, c->conv_filters, c->n_conv);
    }
    if (ok && c->n_shared > 0) {
        len += (size_t)snprintf(arch + len, cap - len, " shared=");
        ok = len < cap && put_list(arch, cap, &len, c->shared, c->n_shared);
    }
    if (ok) {
        len += (size_t)snprintf(arch + len, cap - len, " dense=");
        ok = len < cap && put_list(arch, cap, &len, c->dense, c->n_dense);
    }
    if (ok) {
        len += (size_t)snprintf(arch + len, cap - len, " act=%zu heads=%zu duel=%d prior=%s",
                                c->n_actions, c->n_heads, c->dueling ? 1 : 0, prior);
        ok = len < cap;
    }
    if (!ok) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: architecture string needs more than %zu "
                             "bytes", cap);
    }
    return SHOAL_OK;
}

/* Parses a decimal size_t that must fill [s, end). */
static int parse_size(const char *s, const char *end, size_t *v)
{
    if (s == end) {
        return 0;
    }
    size_t acc = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9' || acc > (SIZE_MAX - 9) / 10) {
            return 0;
        }
        acc = acc * 10 + (size_t)(*p - '0');
    }
    *v = acc;
    return 1;
}

/* Parses "none" or "a,b,c" (at most max entries) from [s, end). */
static int parse_list(const char *s, const char *end, size_t *v, size_t *n, size_t max)
{
    if ((size_t)(end - s) == 4 && memcmp(s, "none", 4) == 0) {
        *n = 0;
        return 1;
    }
    *n = 0;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        if (*n == max || !parse_size(s, stop, &v[*n])) {
            return 0;
        }
        (*n)++;
        s = comma ? comma + 1 : end;
        if (comma && s == end) {
            return 0;
        }
    }
    return *n > 0;
}

static int parse_shape(const char *s, const char *end, nn_qnet_config *c)
{
    size_t dims[3], n = 0;
    while (n < 3) {
        const char *x = memchr(s, 'x', (size_t)(end - s));
        const char *stop = (x && n < 2) ? x : end;
        if (!parse_size(s, stop, &dims[n])) {
            return 0;
        }
        n++;
        s = stop + (stop < end);
        if (stop == end) {
            break;
        }
    }
    if (n != 3) {
        return 0;
    }
    c->in_h = dims[0];
    c->in_w = dims[1];
    c->in_c = dims[2];
    return 1;
}

/* One key=value token of an architecture string into the config. */
static int parse_token(nn_qnet_config *c, const char *key, size_t key_len, const char *val,
                       const char *end)
{
    size_t v;
#define KEY_IS(k) (key_len == sizeof(k) - 1 && memcmp(key, k, key_len) == 0)
    if (KEY_IS("in")) {
        return parse_shape(val, end, c);
    }
    if (KEY_IS("conv")) {
        return parse_list(val, end, c->conv_filters, &c->n_conv, NN_QNET_MAX_CONV);
    }
    if (KEY_IS("shared")) {
        return parse_list(val, end, c->shared, &c->n_shared, NN_QNET_MAX_DENSE);
    }
    if (KEY_IS("dense")) {
        return parse_list(val, end, c->dense, &c->n_dense, NN_QNET_MAX_DENSE);
    }
    if (KEY_IS("act")) {
        return parse_size(val, end, &c->n_actions);
    }
    if (KEY_IS("heads")) {
        return parse_size(val, end, &c->n_heads);
    }
    if (KEY_IS("duel")) {
        int ok = parse_size(val, end, &v) && v <= 1;
        c->dueling = (int)v;
        return ok;
    }
    if (KEY_IS("prior")) {
        char buf[32];
        size_t n = (size_t)(end - val);
        if (n == 0 || n >= sizeof buf) {
            return 0;
        }
        memcpy(buf, val, n);
        buf[n] = '\0';
        char *stop;
        c->prior_scale = strtof(buf, &stop);
        return *stop == '\0';
    }
#undef KEY_IS
    return 0;
}

int nn_qnet_config_parse(nn_qnet_config *cfg, const char *arch, shoal_err *err)
{
    /* every key but the last ("shared", absent when empty) is required */
    static const char *const keys[] = {"in",    "conv", "dense", "act",
                                       "heads", "duel", "prior", "shared"};
    const size_t n_keys = sizeof keys / sizeof keys[0];
    const char *magic = "qnet/v1 ";
    if (strncmp(arch, magic, strlen(magic)) != 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "qnet: architecture \"%.80s\" does not start with "
                             "\"qnet/v1 \"", arch);
    }
    nn_qnet_config c = *cfg;
    c.n_shared = 0;
    unsigned seen = 0;
    const char *p = arch + strlen(magic);
    while (*p) {
        const char *end = strchr(p, ' ');
        end = end ? end : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        size_t key_len = eq ? (size_t)(eq - p) : 0, bit = n_keys;
        for (size_t i = 0; eq && i < n_keys; i++) {
            if (strlen(keys[i]) == key_len && memcmp(keys[i], p, key_len) == 0) {
                bit = i;
            }
        }
        if (bit == n_keys || (seen & (1u << bit)) || !parse_token(&c, p, key_len, eq + 1, end)) {
            return shoal_err_set(err, SHOAL_EINVAL, "qnet: bad token \"%.*s\" in architecture "
                                 "\"%.80s\"", (int)(end - p), p, arch);
        }
        seen |= 1u << bit;
        p = *end ? end + 1 : end;
    }
    for (size_t i = 0; i + 1 < n_keys; i++) {
        if (!(seen & (1u << i))) {
            return shoal_err_set(err, SHOAL_EINVAL, "qnet: architecture \"%.80s\" lacks the key "
                                 "\"%s\"", arch, keys[i]);
        }
    }
    c.max_batch = 1; /* not part of the architecture; only the check needs it */
    int rc = nn_qnet_config_check(&c, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    c.max_batch = cfg->max_batch;
    c.seed = cfg->seed;
    *cfg = c;
    return SHOAL_OK;
}
