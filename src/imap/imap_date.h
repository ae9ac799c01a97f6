/*
 * imap_date - IMAP dates and date-times (RFC 9051/3501) and RFC 5322 Date:
 * header values, parsed and formatted without the C library's time zone
 * machinery (no mktime, no TZ, no locale).
 *
 *	date      "1-Feb-1994", "01-Feb-1994"          (SEARCH BEFORE/ON/SINCE)
 *	date-time "17-Jul-1996 02:44:25 -0700"        (APPEND, INTERNALDATE)
 *	RFC 5322  "Tue, 1 Jul 2003 10:52:37 +0200"    (SENTBEFORE/SENTON/...)
 *
 * All parsers take (pointer, length); the input need not be NUL-terminated
 * and may contain NUL bytes (which make it invalid).  They return 0 on
 * success and -1 on any syntax or range error, leaving outputs untouched
 * on failure.  Times are seconds since the epoch in UTC; zone offsets are
 * minutes east of UTC (-0700 is -420).
 */
#ifndef POSTHORN_IMAP_DATE_H
#define POSTHORN_IMAP_DATE_H

#include <stddef.h>
#include <time.h>

struct imap_date {
	int	year;		/* 1..9999 */
	int	month;		/* 1..12 */
	int	day;		/* 1..31, valid for the month */
};

/* Quoted date-time incl. both DQUOTEs, plus NUL. */
#define IMAP_DATETIME_SIZE	29

/*
 * IMAP date: date-day "-" date-month "-" date-year, day 1 or 2 digits,
 * month name case-insensitive, year 4 digits; optionally wrapped in
 * DQUOTEs.  The day is checked against the month (29-Feb only in leap
 * years).
 */
int	 imap_date_parse(const char *, size_t, struct imap_date *);

/* UTC midnight at the start of the date. */
time_t	 imap_date_to_time(const struct imap_date *);

/* The calendar date that time t falls on in zone tz_min. */
void	 imap_date_from_time(time_t, int tz_min, struct imap_date *);

/*
 * IMAP date-time: day ("7", " 7" or "07") "-" Mon "-" yyyy SP hh:mm:ss SP
 * (+|-)hhmm; optionally wrapped in DQUOTEs.  *t_r is the UTC instant and
 * *tz_min_r the zone offset given.
 */
int	 imap_datetime_parse(const char *, size_t, time_t *t_r, int *tz_min_r);

/*
 * Write the INTERNALDATE form of t as seen in zone tz_min, DQUOTEs
 * included, e.g. "\"17-Jul-1996 02:44:25 -0700\"" (day space-padded).
 * tz_min is clamped to +-23:59 and t to the years 1..9999.
 */
void	 imap_datetime_format(time_t, int tz_min, char out[IMAP_DATETIME_SIZE]);

/*
 * RFC 5322 date-time, tolerant of the obsolete forms found in old mail:
 * optional day of week (with or without comma), 2- and 3-digit years,
 * missing seconds, named zones (UT, GMT, EST ... PDT, military letters;
 * unknown names count as +0000), a missing zone (+0000), comments and
 * folding whitespace anywhere, and trailing junk after the zone.  Returns
 * -1 if no day, month, year and time can be found or any is out of range.
 */
int	 imap_date_parse_rfc5322(const char *, size_t, time_t *t_r,
	    int *tz_min_r);

#endif
