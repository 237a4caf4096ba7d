/* common/base/sr_log.h - one logfmt line per call, to stderr.
 *
 *   ts=2026-01-01T12:00:00.123Z level=info worker=sr-status fac=FSM
 *   src=handler.c:88 msg="stage run queued -> processing" run=1f.. stage=2
 *
 * The message convention: the format string is the human message followed
 * by the caller's own "key=value" fields, separated by spaces:
 *
 *   SR_INFO("FSM", "stage run %s -> %s run=%s stage=%s", a, b, run, stage);
 *
 * The text before the first "key=" token (key: [A-Za-z_][A-Za-z0-9_.]*, at
 * the start or after a space) becomes msg="..." (quoted and escaped); the
 * rest is copied as is. Field values that may hold spaces or quotes should
 * be quoted by the caller: err="%s" (a quote or backslash inside a quoted
 * value is escaped: the value ends at the first quote followed by the end
 * or by " key="; one left open is closed); keep
 * "x=y" out of the message text itself. Control characters are
 * escaped everywhere, so a call is always exactly one line. Lines are cut
 * at SR_LOG_LINE_MAX bytes and written with one write(2), which keeps them
 * whole when several threads or processes share stderr (PIPE_BUF).
 *
 * Threads: any thread may log. The level, the worker name and the output
 * fd are process-wide; set them in main() before any thread starts.
 */
#ifndef SR_LOG_H
#define SR_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "sr_err.h"

typedef enum sr_log_level {
        SR_LOG_ERROR,
        SR_LOG_WARN,
        SR_LOG_INFO,
        SR_LOG_DEBUG,
        SR_LOG__COUNT /* not a level; keep last */
} sr_log_level_t;

/** Longest line written, newline included (Linux PIPE_BUF). */
#define SR_LOG_LINE_MAX 4096

/**
 * Messages above this level are dropped before any formatting.
 * Default SR_LOG_INFO. Set once in main() before threads start.
 */
extern sr_log_level_t sr_log_max_level;

/**
 * @brief Parse "error", "warn", "info" or "debug" (any case).
 * @param[out] out set only when the text is a level name.
 * @returns true on success, false if @p s names no level.
 */
bool sr_log_level_parse(const char *s, sr_log_level_t *out);

/** @brief "error", "warn", "info", "debug"; "?" if out of range. */
const char *sr_log_level_name(sr_log_level_t level);

/**
 * @brief Add "worker=<name>" to every line (NULL or "" removes it).
 * The name is copied (up to 63 bytes). Call before threads start.
 */
void sr_log_set_name(const char *name);

/**
 * @brief Send lines to @p fd instead of stderr (2); a hook for tests.
 * The fd stays the caller's. Call before threads start.
 * @returns the previous fd.
 */
int sr_log_set_fd(int fd);

/**
 * @brief Format and write one line. Does not check the level: use the
 * SR_LOG/SR_ERROR/... macros, which do, before evaluating arguments.
 * @param fac  short upper-case facility, usually the module ("STORE").
 * @param file source file (basename is logged); @p line its line.
 */
void sr_log_write(sr_log_level_t level, const char *fac, const char *file,
                  int line, const char *fmt, ...) SR_PRINTF(5, 6);

/** @brief va_list variant of sr_log_write(), for foreign log callbacks. */
void sr_log_vwrite(sr_log_level_t level, const char *fac, const char *file,
                   int line, const char *fmt, va_list ap) SR_PRINTF(5, 0);

/** @brief True if a line at @p level would be written. */
static inline bool sr_log_is_enabled(sr_log_level_t level)
{
        return level <= sr_log_max_level;
}

#define SR_LOG(level, fac, ...)                                          \
        do {                                                             \
                if ((level) <= sr_log_max_level)                         \
                        sr_log_write((level), (fac), __FILE__, __LINE__, \
                                     __VA_ARGS__);                       \
        } while (0)
#define SR_ERROR(fac, ...) SR_LOG(SR_LOG_ERROR, fac, __VA_ARGS__)
#define SR_WARN(fac, ...) SR_LOG(SR_LOG_WARN, fac, __VA_ARGS__)
#define SR_INFO(fac, ...) SR_LOG(SR_LOG_INFO, fac, __VA_ARGS__)
#define SR_DEBUG(fac, ...) SR_LOG(SR_LOG_DEBUG, fac, __VA_ARGS__)

#endif /* SR_LOG_H */
