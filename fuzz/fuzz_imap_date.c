/*
 * fuzz_imap_date - IMAP dates, date-times and RFC 5322 Date: values
 * (imap/imap_date.h).
 *
 * Input: one date string, tried with all three parsers.  Checked:
 *  - failures leave the outputs untouched;
 *  - an IMAP date is in range (year 1..9999, day valid for the month) and
 *    survives date -> time -> date, for every second of that day;
 *  - a date-time or RFC 5322 date has a zone within +-23:59, and
 *    imap_datetime_format() of its instant in its zone is a 28-byte quoted
 *    date-time that parses back to the same instant and zone (when the
 *    local time is inside the years 1..9999 the formatter covers), and
 *    names the same calendar day as imap_date_from_time().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fuzz_common.h"
#include "imap/imap_date.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define T_SENTINEL	((time_t)0x5a5a5a5a)
#define TZ_SENTINEL	123456

static void
check_instant(time_t t, int tz, const char *what)
{
	char out[IMAP_DATETIME_SIZE];
	const int64_t tmin = -62135596800LL, tmax = 253402300799LL;
	int64_t local = (int64_t)t + (int64_t)tz * 60;
	time_t t2 = T_SENTINEL;
	int tz2 = TZ_SENTINEL;
	struct imap_date d, d2;

	FUZZ_CHECK(tz >= -1439 && tz <= 1439, "%s: zone %d", what, tz);
	memset(out, 0x7f, sizeof(out));
	imap_datetime_format(t, tz, out);
	FUZZ_CHECK(out[IMAP_DATETIME_SIZE - 1] == '\0' &&
	    strlen(out) == IMAP_DATETIME_SIZE - 1 && out[0] == '"' &&
	    out[IMAP_DATETIME_SIZE - 2] == '"', "%s: formatted '%.*s'", what,
	    IMAP_DATETIME_SIZE, out);
	FUZZ_CHECK(imap_datetime_parse(out, strlen(out), &t2, &tz2) == 0,
	    "%s: own output %s does not parse", what, out);
	if (local < tmin || local > tmax)
		return;
	FUZZ_CHECK(t2 == t && tz2 == tz, "%s: %s reads back as %lld %d, "
	    "was %lld %d", what, out, (long long)t2, tz2, (long long)t, tz);
	imap_date_from_time(t, tz, &d);
	/* The day is space-padded in a date-time, not in a date. */
	FUZZ_CHECK(imap_date_parse(out + 1 + (out[1] == ' '),
	    11 - (out[1] == ' '), &d2) == 0 &&
	    d.year == d2.year && d.month == d2.month && d.day == d2.day,
	    "%s: %s is not %04d-%02d-%02d", what, out, d.year, d.month,
	    d.day);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct imap_date d, d2;
	time_t t;
	int tz;

	memset(&d, 0x5a, sizeof(d));
	if (imap_date_parse(in, size, &d) == 0) {
		static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31,
		    30, 31, 30, 31 };

		FUZZ_CHECK(d.year >= 1 && d.year <= 9999 && d.month >= 1 &&
		    d.month <= 12 && d.day >= 1 && d.day <= mdays[d.month - 1],
		    "date %d-%d-%d", d.year, d.month, d.day);
		t = imap_date_to_time(&d);
		for (int64_t s = 0; s < 86400; s += 86399 / 7) {
			imap_date_from_time((time_t)(t + s), 0, &d2);
			FUZZ_CHECK(d2.year == d.year && d2.month == d.month &&
			    d2.day == d.day, "date %d-%d-%d +%llds is "
			    "%d-%d-%d", d.year, d.month, d.day, (long long)s,
			    d2.year, d2.month, d2.day);
		}
		imap_date_from_time((time_t)(t - 1), 0, &d2);
		FUZZ_CHECK(d2.day != d.day, "the day before is the same day");
	} else {
		FUZZ_CHECK(d.year == 0x5a5a5a5a && d.month == 0x5a5a5a5a &&
		    d.day == 0x5a5a5a5a, "failed date parse wrote output");
	}

	t = T_SENTINEL;
	tz = TZ_SENTINEL;
	if (imap_datetime_parse(in, size, &t, &tz) == 0)
		check_instant(t, tz, "date-time");
	else
		FUZZ_CHECK(t == T_SENTINEL && tz == TZ_SENTINEL,
		    "failed date-time parse wrote output");

	t = T_SENTINEL;
	tz = TZ_SENTINEL;
	if (imap_date_parse_rfc5322(in, size, &t, &tz) == 0)
		check_instant(t, tz, "rfc5322");
	else
		FUZZ_CHECK(t == T_SENTINEL && tz == TZ_SENTINEL,
		    "failed RFC 5322 parse wrote output");
	return 0;
}
