#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int shoal_err_vset(shoal_err *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        err->code = code;
    }
    return code;
}

int shoal_err_set(shoal_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    shoal_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int shoal_err_prefix(shoal_err *err, const char *fmt, ...)
{
    if (!err) {
        return SHOAL_EINVAL;
    }
    char prefix[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Shift the old message right and put the prefix in front; the tail is cut if need be. */
    size_t cap = sizeof err->msg;
    size_t plen = strnlen(prefix, cap - 3);
    size_t olen = strnlen(err->msg, cap - 1);
    if (plen + 2 + olen > cap - 1) {
        olen = cap - 1 - plen - 2;
    }
    memmove(err->msg + plen + 2, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + olen] = '\0';
    return err->code;
}

const char *shoal_err_name(int code)
{
    static const char *const names[] = {
        "OK", "EINVAL", "ENOMEM", "EIO", "EPROTO", "EVERSION", "ECORRUPT",
        "ETIMEOUT", "ENOTFOUND", "EAGAIN", "EARCH", "EINTERRUPTED", "ESTATE",
    };
    if (code < 0 || (size_t)code >= sizeof names / sizeof names[0]) {
        return "E?";
    }
    return names[code];
}
