/*
 * log - one line per event, to standard error (systemd/journald collects it).
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  fatal() is for
 * the environment failing under us (exit 1); panic() is for our own bugs
 * (abort, so a core dump shows where).  Session lines are written with
 * log_info("s=%s smtp ...") by the session code: a session id first, then
 * key=value fields.  Passwords and other secrets are never passed here.
 *
 * Thread safe: every line is formatted into a local buffer and written with
 * a single write(2).
 */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void	log_init(const char *progname, enum log_level);
void	log_set_level(enum log_level);
int	log_level_parse(const char *, enum log_level *);
int	log_debug_enabled(void);

void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	panic(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define PH_ASSERT(expr) do {						\
	if (!(expr))							\
		panic("assertion failed: %s (%s:%d)", #expr,		\
		    __FILE__, __LINE__);				\
} while (0)

#endif
