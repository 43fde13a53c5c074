#include "common/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cli_match(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0) {
        return false;
    }
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return true;
    }
    if (arg[len] != '\0') {
        return false;
    }
    if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        *value = NULL;
    }
    return true;
}

bool cli_flag(const char *arg, const char *flag)
{
    return strcmp(arg, flag) == 0;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_parse_u64(const char *text, const char *option, uint64_t *out, shoal_err *err)
{
    if (!text || !*text || *text == '-') {
        return shoal_err_set(err, SHOAL_EINVAL, "%s needs a non-negative integer", option);
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    uint64_t scale = 1;
    if (*end == 'k' || *end == 'K') {
        scale = 1000;
        end++;
    } else if (*end == 'M') {
        scale = 1000000;
        end++;
    } else if (*end == 'G') {
        scale = 1000000000;
        end++;
    }
    if (errno || end == text || *end != '\0' || (v > 0 && UINT64_MAX / v < scale)) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s '%s' is not a non-negative integer", option,
                             text);
    }
    *out = (uint64_t)v * scale;
    return SHOAL_OK;
}

int cli_parse_double(const char *text, const char *option, double *out, shoal_err *err)
{
    if (!text) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s needs a number", option);
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v)) {
        return shoal_err_set(err, SHOAL_EINVAL, "%s '%s' is not a finite number", option, text);
    }
    *out = v;
    return SHOAL_OK;
}
