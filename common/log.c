#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"

static struct {
    pthread_mutex_t lock;
    char role[32];
    int rank;
    log_level level;        /* lowest level written anywhere */
    log_level stderr_level; /* lowest level also written to stderr */
    FILE *file;
} logger = {PTHREAD_MUTEX_INITIALIZER, "shoal", 0, LOG_INFO, LOG_INFO, NULL};

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

void log_set_identity(const char *role, int rank)
{
    pthread_mutex_lock(&logger.lock);
    snprintf(logger.role, sizeof logger.role, "%s", role ? role : "shoal");
    logger.rank = rank;
    pthread_mutex_unlock(&logger.lock);
}

int log_setup(const char *role, int rank, log_level level, const char *file_path, shoal_err *err)
{
    log_set_identity(role, rank);
    pthread_mutex_lock(&logger.lock);
    logger.level = level;
    logger.stderr_level = level;
    if (logger.file) {
        fclose(logger.file);
        logger.file = NULL;
    }
    int rc = SHOAL_OK;
    if (file_path && file_path[0]) {
        logger.file = fopen(file_path, "a");
        if (!logger.file) {
            rc = shoal_err_set(err, SHOAL_EIO, "cannot open log file %s: %s", file_path,
                               strerror(errno));
        }
    }
    pthread_mutex_unlock(&logger.lock);
    return rc;
}

void log_set_stderr_level(log_level level)
{
    pthread_mutex_lock(&logger.lock);
    logger.stderr_level = level;
    pthread_mutex_unlock(&logger.lock);
}

int log_level_parse(const char *name, log_level *level, shoal_err *err)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, names[i]) == 0) {
            *level = (log_level)i;
            return SHOAL_OK;
        }
    }
    return shoal_err_set(err, SHOAL_EINVAL,
                         "unknown log level '%s'; valid: debug, info, warn, error, off", name);
}

int log_enabled(log_level level)
{
    return level >= logger.level && level < LOG_OFF;
}

void log_write(log_level level, const char *fmt, ...)
{
    if (!log_enabled(level)) {
        return;
    }
    char when[40];
    clock_iso8601(when, sizeof when);
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&logger.lock);
    char line[2200];
    int n = snprintf(line, sizeof line, "%s %-5s %s/%d %s\n", when, level_names[level],
                     logger.role, logger.rank, text);
    size_t len = n < 0 ? 0 : ((size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    if (level >= logger.stderr_level || !logger.file) {
        fwrite(line, 1, len, stderr);
    }
    if (logger.file) {
        fwrite(line, 1, len, logger.file);
        fflush(logger.file);
    }
    pthread_mutex_unlock(&logger.lock);
}

void log_close(void)
{
    pthread_mutex_lock(&logger.lock);
    if (logger.file) {
        fclose(logger.file);
        logger.file = NULL;
    }
    pthread_mutex_unlock(&logger.lock);
}
