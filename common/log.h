/* Logging: one line per message, "2026-11-22T10:31:07.123Z INFO  learner/1 message", to stderr
 * and optionally appended to a file. The logger is the one process-wide object we allow
 * (STYLE.md); main() configures it once, library code only calls log_*().
 *
 *     log_setup("actor", 3, LOG_INFO, "runs/x/log/actor-3.log", &err);
 *     log_info("connected to %s", endpoint);
 *     log_close();
 */
#ifndef SHOAL_COMMON_LOG_H
#define SHOAL_COMMON_LOG_H

#include "common/err.h"

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO = 1,
    LOG_WARN = 2,
    LOG_ERROR = 3,
    LOG_OFF = 4,
} log_level;

/* Sets role, rank and minimum level; file_path (may be NULL) is opened for appending.
 * EIO when the file cannot be opened (stderr logging still works). Thread-safe to log after. */
int log_setup(const char *role, int rank, log_level level, const char *file_path, shoal_err *err);

/* Sets the lowest level also copied to stderr (default: the level of log_setup). Roles under
 * `shoal train` keep stderr for warnings and errors and write everything to their log file. */
void log_set_stderr_level(log_level level);

/* Parses "debug", "info", "warn", "error" or "off". EINVAL names the valid values. */
int log_level_parse(const char *name, log_level *level, shoal_err *err);

/* Changes the role and rank shown, e.g. after MPI has assigned them. */
void log_set_identity(const char *role, int rank);

/* Whether messages at level are written. */
int log_enabled(log_level level);

/* Writes one line at level (thread-safe; each line is written whole). */
void log_write(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Closes the log file; later messages go to stderr only. */
void log_close(void);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
