/*
 * log.h - the one log line format of every cfaas binary.
 *
 *   2026-11-23T05:27:52.123Z watchdog info Forking fprocess. call_id=...
 *
 * Fields: UTC time with milliseconds, component, level, message, then
 * optional key=value context. Lines go to stderr in one write(2), so lines
 * of concurrent threads never interleave. Library code in common/ does not
 * log; binaries do, through LOG_*.
 */
#ifndef CFAAS_LOG_H
#define CFAAS_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the component name (static string) and the lowest level written. */
void log_setup(const char *component, enum log_level min);

/* Writes one line. ctx ("call_id=..."), may be NULL. */
void log_line(enum log_level level, const char *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define LOG_DEBUG(...) log_line(LOG_DEBUG, NULL, __VA_ARGS__)
#define LOG_INFO(...) log_line(LOG_INFO, NULL, __VA_ARGS__)
#define LOG_WARN(...) log_line(LOG_WARN, NULL, __VA_ARGS__)
#define LOG_ERROR(...) log_line(LOG_ERROR, NULL, __VA_ARGS__)
/* The same with a context string, e.g. "call_id=abc function=hello". */
#define LOGC(level, ctx, ...) log_line(LOG_##level, ctx, __VA_ARGS__)

#endif
