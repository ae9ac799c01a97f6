/*
 * log - one line per event, to standard error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "posthorn";
static enum log_level log_lvl = LOG_LVL_INFO;

void
log_init(const char *progname, enum log_level lvl)
{
	log_prog = progname;
	log_lvl = lvl;
}

void
log_set_level(enum log_level lvl)
{
	log_lvl = lvl;
}

int
log_debug_enabled(void)
{
	return log_lvl >= LOG_LVL_DEBUG;
}

int
log_level_parse(const char *s, enum log_level *lvl)
{
	if (strcasecmp(s, "error") == 0)
		*lvl = LOG_LVL_ERROR;
	else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		*lvl = LOG_LVL_WARN;
	else if (strcasecmp(s, "info") == 0)
		*lvl = LOG_LVL_INFO;
	else if (strcasecmp(s, "debug") == 0)
		*lvl = LOG_LVL_DEBUG;
	else
		return -1;
	return 0;
}

static void
log_vline(enum log_level lvl, const char *tag, int errnum, const char *fmt,
    va_list ap)
{
	char line[4096];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (lvl > log_lvl)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s: %s",
	    ts.tv_nsec / 1000000, log_prog, tag);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (errnum != 0 && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r < sizeof(line) - n ?
			    (size_t)r : sizeof(line) - n - 1;
	}
	/* Control characters from peers never reach the log verbatim. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, lvl, tag, useerr)					\
void									\
name(const char *fmt, ...)						\
{									\
	int saved = errno;						\
	va_list ap;							\
	va_start(ap, fmt);						\
	log_vline(lvl, tag, (useerr) ? saved : 0, fmt, ap);		\
	va_end(ap);							\
	errno = saved;							\
}

LOG_FN(log_info, LOG_LVL_INFO, "", 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, "debug: ", 0)
LOG_FN(log_warn, LOG_LVL_WARN, "warning: ", 1)
LOG_FN(log_warnx, LOG_LVL_WARN, "warning: ", 0)
LOG_FN(log_error, LOG_LVL_ERROR, "error: ", 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LVL_ERROR, "fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LVL_ERROR, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LVL_ERROR, "panic: ", 0, fmt, ap);
	va_end(ap);
	abort();
}
