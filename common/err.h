/* Errors: every fallible function returns an int code (SHOAL_OK = 0) or NULL and fills a
 * shoal_err owned by the caller with a message a user can act on. No globals, no
 * thread-locals: the error travels with the call.
 *
 *     shoal_err err = {0};
 *     if (config_load_file(cfg, path, &err) != SHOAL_OK) { fprintf(stderr, "%s\n", err.msg); }
 */
#ifndef SHOAL_COMMON_ERR_H
#define SHOAL_COMMON_ERR_H

#include <stdarg.h>

enum {
    SHOAL_OK = 0,
    SHOAL_EINVAL = 1,   /* bad argument or bad input from a user or config */
    SHOAL_ENOMEM = 2,   /* allocation failed */
    SHOAL_EIO = 3,      /* file or socket I/O failed */
    SHOAL_EPROTO = 4,   /* malformed, truncated or oversized message */
    SHOAL_EVERSION = 5, /* wire or file format version not supported */
    SHOAL_ECORRUPT = 6, /* checksum mismatch or inconsistent file */
    SHOAL_ETIMEOUT = 7, /* a bounded wait ran out */
    SHOAL_ENOTFOUND = 8,/* unknown name, key or file */
    SHOAL_EAGAIN = 9,   /* nothing available now; try again */
    SHOAL_EARCH = 10,   /* network architecture mismatch */
    SHOAL_EINTERRUPTED = 11, /* stopped by a signal */
    SHOAL_ESTATE = 12,  /* operation not valid in the object's current state */
};

typedef struct shoal_err {
    int code;
    char msg[256];
} shoal_err;

/* Sets err (when not NULL) to code and the formatted message; returns code. */
int shoal_err_set(shoal_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* shoal_err_set with the arguments in a va_list (for functions that take a format of their
 * own, such as the plugin host's fail). */
int shoal_err_vset(shoal_err *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Prepends "prefix: " to err's message, keeping its code; returns the code. */
int shoal_err_prefix(shoal_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Static name of a code ("EPROTO"); "E?" for an unknown one. */
const char *shoal_err_name(int code);

#endif
