#include "env/trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

#define TRACE_MAX_BYTES (256u << 20)
#define MAX_OBS_BYTES 4096

typedef struct header {
    char game[64];
    uint64_t seed;
    double sticky;
    int ramping;
    int full_obs;
    long long steps; /* -1: not given */
} header;

uint64_t env_obs_fnv1a(const void *obs, obs_shape shape, obs_dtype dtype)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t n = (size_t)shape.h * shape.w * shape.c;
    const uint8_t *b = obs;
    for (size_t i = 0; i < n; i++) {
        uint8_t v = dtype == OBS_DTYPE_BIT ? (uint8_t)((b[i >> 3] >> (i & 7)) & 1) : b[i];
        h ^= v;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Value of key in a header line ("... key=value ..."), copied into out; 0 when found. */
static int header_value(const char *line, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=') {
            size_t len = strcspn(p + klen + 1, " \n");
            if (len >= cap) {
                return -1;
            }
            memcpy(out, p + klen + 1, len);
            out[len] = '\0';
            return 0;
        }
    }
    return -1;
}

static int parse_header(const char *path, const char *line, header *h, shoal_err *err)
{
    char v[64];
    if (strncmp(line, "# minatar-trace v1 ", 19) != 0) {
        return shoal_err_set(err, SHOAL_EINVAL,
                             "%s:1: not a minatar trace (expected '# minatar-trace v1 ...')",
                             path);
    }
    if (header_value(line, "game", h->game, sizeof h->game) != 0 ||
        header_value(line, "seed", v, sizeof v) != 0) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s:1: header lacks game= or seed=", path);
    }
    h->seed = strtoull(v, NULL, 10);
    h->sticky = header_value(line, "sticky", v, sizeof v) == 0 ? strtod(v, NULL) : 0.1;
    h->ramping = header_value(line, "ramping", v, sizeof v) == 0 ? atoi(v) : 1;
    h->full_obs = header_value(line, "obs", v, sizeof v) == 0 && strcmp(v, "full") == 0;
    h->steps = header_value(line, "steps", v, sizeof v) == 0 ? atoll(v) : -1;
    return SHOAL_OK;
}

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes hex into out (exactly n bytes); -1 on a bad digit or length. */
static int decode_hex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Lists the (row, column, channel) values where ours and theirs differ. */
static void describe_cells(char *out, size_t cap, const uint8_t *ours, const uint8_t *theirs,
                           obs_shape s, obs_dtype dtype)
{
    size_t used = strlen(out);
    int shown = 0;
    for (uint32_t y = 0; y < s.h; y++) {
        for (uint32_t x = 0; x < s.w; x++) {
            for (uint32_t c = 0; c < s.c; c++) {
                int a = env_obs_value(ours, s, dtype, y, x, c);
                int b = env_obs_value(theirs, s, dtype, y, x, c);
                if (a != b && shown < 8 && used < cap) {
                    int n = snprintf(out + used, cap - used,
                                     " (row %u, col %u, channel %u: ours %d, trace %d)", y, x, c,
                                     a, b);
                    used += n > 0 ? (size_t)n : 0;
                    shown++;
                }
            }
        }
    }
}

typedef struct replay {
    const char *path;
    env *e;
    header h;
    uint8_t obs[MAX_OBS_BYTES], want[MAX_OBS_BYTES];
    env_trace_result *res;
} replay;

/* Compares our observation with the fields "hash [hex]"; fills res->detail on a mismatch.
 * Returns 1 on match, 0 on mismatch, -1 on a malformed field. */
static int compare_obs(replay *r, const char *what, const char *hash_text, const char *hex)
{
    obs_shape s = env_obs_shape(r->e);
    obs_dtype dtype = env_obs_dtype(r->e);
    size_t bytes = env_obs_bytes(r->e);
    char ours_hash[17];
    snprintf(ours_hash, sizeof ours_hash, "%016" PRIx64, env_obs_fnv1a(r->obs, s, dtype));
    if (hex) {
        if (decode_hex(hex, r->want, bytes) != 0) {
            return -1;
        }
        if (memcmp(r->want, r->obs, bytes) != 0) {
            snprintf(r->res->detail, sizeof r->res->detail, "%s: observation differs:", what);
            describe_cells(r->res->detail, sizeof r->res->detail, r->obs, r->want, s, dtype);
            return 0;
        }
    }
    if (strcmp(ours_hash, hash_text) != 0) {
        snprintf(r->res->detail, sizeof r->res->detail,
                 "%s: observation hash %s, trace has %s", what, ours_hash, hash_text);
        return 0;
    }
    return 1;
}

/* Splits line into at most max space-separated fields; returns the count. */
static int split(char *line, char **fields, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " ", &save); tok && n < max;
         tok = strtok_r(NULL, " ", &save)) {
        fields[n++] = tok;
    }
    return n;
}

/* One R or S line. Returns 1 to go on, 0 at the first mismatch, -1 when malformed. */
static int check_line(replay *r, char *line, size_t line_no)
{
    char *f[10];
    char what[96];
    int n = split(line, f, 10);
    int want_fields = r->h.full_obs ? 1 : 0;
    if (n >= 1 && strcmp(f[0], "R") == 0) {
        if (n != 3 + want_fields) {
            return -1;
        }
        env_reset(r->e, r->obs);
        r->res->n_episodes++;
        snprintf(what, sizeof what, "line %zu (reset of episode %s)", line_no, f[1]);
        return compare_obs(r, what, f[2], want_fields ? f[3] : NULL);
    }
    if (n < 1 || strcmp(f[0], "S") != 0 || n != 7 + want_fields) {
        return -1;
    }
    unsigned long agent = strtoul(f[2], NULL, 10);
    if (agent >= env_n_actions(r->e)) {
        return -1;
    }
    env_step_result s = env_step(r->e, (uint32_t)agent, r->obs);
    r->res->n_steps++;
    snprintf(what, sizeof what, "line %zu (step t=%s)", line_no, f[1]);
    unsigned long eff = strtoul(f[3], NULL, 10);
    double reward = strtod(f[4], NULL);
    int terminal = atoi(f[5]);
    if (env_last_action(r->e) != eff || (double)s.reward != reward ||
        (int)s.terminal != terminal) {
        snprintf(r->res->detail, sizeof r->res->detail,
                 "%s: ours effective action %u, reward %g, terminal %d; trace %lu, %g, %d", what,
                 env_last_action(r->e), (double)s.reward, (int)s.terminal, eff, reward,
                 terminal);
        return 0;
    }
    return compare_obs(r, what, f[6], want_fields ? f[7] : NULL);
}

static int replay_lines(replay *r, char *text, shoal_err *err)
{
    size_t line_no = 1;
    char *line = strchr(text, '\n');
    for (line = line ? line + 1 : NULL; line && *line; line_no++) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        int ok = check_line(r, line, line_no + 1);
        if (ok < 0) {
            return shoal_err_set(err, SHOAL_EINVAL,
                                 "%s:%zu: malformed line; expected 'R episode hash [hex]' or "
                                 "'S t action effective reward terminal hash [hex]'",
                                 r->path, line_no + 1);
        }
        if (ok == 0) {
            return SHOAL_OK;
        }
        line = nl ? nl + 1 : NULL;
    }
    if (r->h.steps >= 0 && (uint64_t)r->h.steps != r->res->n_steps) {
        snprintf(r->res->detail, sizeof r->res->detail,
                 "end of file: %" PRIu64 " step lines, the header says steps=%lld (truncated "
                 "file?)", r->res->n_steps, r->h.steps);
        return SHOAL_OK;
    }
    r->res->match = true;
    return SHOAL_OK;
}

int env_trace_check(const env_registry *reg, const char *path, env_trace_result *res,
                    shoal_err *err)
{
    memset(res, 0, sizeof *res);
    uint8_t *data = NULL;
    size_t n = 0;
    replay *r = NULL;
    int rc = file_read_all(path, TRACE_MAX_BYTES, &data, &n, err);
    if (rc != SHOAL_OK) {
        return rc;
    }
    r = calloc(1, sizeof *r);
    char *text = realloc(data, n + 1);
    if (!r || !text) {
        rc = shoal_err_set(err, SHOAL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    data = (uint8_t *)text;
    text[n] = '\0';
    r->path = path;
    r->res = res;
    if ((rc = parse_header(path, text, &r->h, err)) != SHOAL_OK) {
        goto done;
    }
    char name[96];
    snprintf(name, sizeof name, "minatar/%s", r->h.game);
    env_options o;
    env_options_default(&o);
    o.sticky = r->h.sticky;
    o.ramping = r->h.ramping != 0;
    o.full_action_set = true;
    r->e = env_make(reg, name, &o, err);
    if (!r->e) {
        rc = shoal_err_prefix(err, "%s:1", path);
        goto done;
    }
    if (env_obs_bytes(r->e) > MAX_OBS_BYTES) {
        rc = shoal_err_set(err, SHOAL_EINVAL, "%s: observations of %zu bytes are too large",
                           path, env_obs_bytes(r->e));
        goto done;
    }
    env_seed(r->e, r->h.seed);
    rc = replay_lines(r, text, err);
done:
    if (r) {
        env_free(r->e);
    }
    free(r);
    free(data);
    return rc;
}
