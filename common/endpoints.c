#include "common/endpoints.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

typedef struct parser {
    const char *start, *p, *end, *name;
    shoal_err *err;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && isspace((unsigned char)*ps->p)) {
        ps->p++;
    }
}

static int expect(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != c) {
        return shoal_err_set(ps->err, SHOAL_EINVAL, "%s: expected '%c' at byte %zu; the file "
                             "should look like {\"replay\": [\"tcp://h:p\"], \"params\": "
                             "\"tcp://h:p\"}", ps->name, c, (size_t)(ps->p - ps->start));
    }
    ps->p++;
    return SHOAL_OK;
}

static int string(parser *ps, char *out, size_t cap)
{
    if (expect(ps, '"') != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\') {
            return shoal_err_set(ps->err, SHOAL_EINVAL, "%s: escapes are not supported in "
                                 "endpoints", ps->name);
        }
        ps->p++;
    }
    size_t len = (size_t)(ps->p - start);
    if (ps->p >= ps->end || len >= cap) {
        return shoal_err_set(ps->err, SHOAL_EINVAL, "%s: unterminated string or a string longer "
                             "than %zu bytes", ps->name, cap - 1);
    }
    if (out) {
        memcpy(out, start, len);
        out[len] = '\0';
    }
    ps->p++;
    return SHOAL_OK;
}

static int replay_array(parser *ps, endpoint_file *out)
{
    if (expect(ps, '[') != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    skip_ws(ps);
    out->n_replay = 0;
    while (ps->p < ps->end && *ps->p != ']') {
        if (out->n_replay == ENDPOINTS_MAX_SHARDS) {
            return shoal_err_set(ps->err, SHOAL_EINVAL, "%s: more than %d replay endpoints",
                                 ps->name, ENDPOINTS_MAX_SHARDS);
        }
        if (string(ps, out->replay[out->n_replay], ENDPOINTS_MAX_LEN) != SHOAL_OK) {
            return SHOAL_EINVAL;
        }
        out->n_replay++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
        }
    }
    return expect(ps, ']');
}

int endpoints_parse(const char *text, size_t len, const char *name,
                            endpoint_file *out, shoal_err *err)
{
    memset(out, 0, sizeof *out);
    parser ps = {.start = text, .p = text, .end = text + len, .name = name, .err = err};
    if (expect(&ps, '{') != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    skip_ws(&ps);
    while (ps.p < ps.end && *ps.p != '}') {
        char key[64];
        if (string(&ps, key, sizeof key) != SHOAL_OK || expect(&ps, ':') != SHOAL_OK) {
            return SHOAL_EINVAL;
        }
        skip_ws(&ps);
        int rc;
        if (strcmp(key, "replay") == 0) {
            rc = replay_array(&ps, out);
        } else if (strcmp(key, "params") == 0) {
            rc = string(&ps, out->params, sizeof out->params);
        } else if (ps.p < ps.end && *ps.p == '"') {
            rc = string(&ps, NULL, (size_t)(ps.end - ps.p) + 1);
        } else {
            rc = shoal_err_set(err, SHOAL_EINVAL, "%s: key '%s' holds something other than a "
                               "string; only \"replay\" (array) and \"params\" are read", name,
                               key);
        }
        if (rc != SHOAL_OK) {
            return rc;
        }
        skip_ws(&ps);
        if (ps.p < ps.end && *ps.p == ',') {
            ps.p++;
            skip_ws(&ps);
        }
    }
    if (expect(&ps, '}') != SHOAL_OK) {
        return SHOAL_EINVAL;
    }
    if (out->n_replay == 0 || !out->params[0]) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s: needs a non-empty \"replay\" array and a "
                             "\"params\" endpoint", name);
    }
    return SHOAL_OK;
}

int endpoints_read(const char *path, endpoint_file *out, shoal_err *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    int rc = file_read_all(path, 1 << 20, &data, &n, err);
    if (rc == SHOAL_ENOTFOUND) {
        return shoal_err_set(err, rc, "%s does not exist; the trainer writes it once its shards "
                             "and learner are listening (is the run started, and is this its "
                             "run folder?)", path);
    }
    if (rc != SHOAL_OK) {
        return rc;
    }
    rc = endpoints_parse((const char *)data, n, path, out, err);
    free(data);
    return rc;
}

int endpoints_join_replay(const endpoint_file *ep, char *buf, size_t cap,
                                  shoal_err *err)
{
    size_t used = 0;
    for (size_t i = 0; i < ep->n_replay; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? "," : "", ep->replay[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            return shoal_err_set(err, SHOAL_EINVAL, "%zu replay endpoints do not fit in %zu "
                                 "bytes", ep->n_replay, cap);
        }
        used += (size_t)w;
    }
    return SHOAL_OK;
}

int endpoints_write(const char *path, const endpoint_file *ep, shoal_err *err)
{
    atomic_file af;
    if (atomic_file_open(&af, path, err) != SHOAL_OK) {
        return SHOAL_EIO;
    }
    fprintf(af.f, "{\"replay\": [");
    for (size_t i = 0; i < ep->n_replay; i++) {
        fprintf(af.f, "%s\"%s\"", i ? ", " : "", ep->replay[i]);
    }
    fprintf(af.f, "], \"params\": \"%s\"}\n", ep->params);
    return atomic_file_commit(&af, err);
}

int endpoints_split(const char *list, char *out, size_t cap, size_t width, size_t *n,
                    shoal_err *err)
{
    *n = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= width || *n == cap) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "'%s': expected 1..%zu comma-separated items (endpoints such "
                                 "as tcp://host:5555, or paths), each shorter than %zu bytes",
                                 list, cap, width);
        }
        memcpy(out + *n * width, p, len);
        out[*n * width + len] = '\0';
        (*n)++;
        p = end ? end + 1 : p + len;
    }
    if (*n == 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "an empty list; pass at least one item, e.g. "
                             "--replay tcp://127.0.0.1:5555");
    }
    return SHOAL_OK;
}

int endpoints_with_host(const char *endpoint, const char *host, char *out, size_t cap,
                        shoal_err *err)
{
    const char *port = strrchr(endpoint, ':');
    const char *scheme = strstr(endpoint, "://");
    if (!port || !scheme || port < scheme + 3 || !port[1]) {
        return shoal_err_set(err, SHOAL_EINVAL, "endpoint '%s' is not of the form tcp://HOST:PORT",
                             endpoint);
    }
    char tmp[ENDPOINTS_MAX_LEN];
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(tmp, sizeof tmp, "%.*s%s%s%s%s", (int)(scheme + 3 - endpoint), endpoint,
                     v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= sizeof tmp || (size_t)n >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "endpoint for host '%s' is too long", host);
    }
    memcpy(out, tmp, (size_t)n + 1);
    return SHOAL_OK;
}

int endpoints_host(const char *endpoint, char *out, size_t cap, shoal_err *err)
{
    const char *scheme = strstr(endpoint, "://");
    const char *port = strrchr(endpoint, ':');
    if (!scheme || !port || port < scheme + 3) {
        return shoal_err_set(err, SHOAL_EINVAL, "endpoint '%s' is not of the form tcp://HOST:PORT",
                             endpoint);
    }
    const char *h = scheme + 3;
    size_t len = (size_t)(port - h);
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h++;
        len -= 2;
    }
    if (len == 0 || len >= cap) {
        return shoal_err_set(err, SHOAL_EINVAL, "endpoint '%s': no host, or one too long",
                             endpoint);
    }
    memcpy(out, h, len);
    out[len] = '\0';
    return SHOAL_OK;
}
