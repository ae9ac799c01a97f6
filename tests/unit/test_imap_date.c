/*
 * test_imap_date - IMAP date, date-time, INTERNALDATE formatting and RFC
 * 5322 Date: parsing.  Expected epoch values were computed by hand
 * (days since 1970 * 86400 + seconds) and cross-checked with timegm.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap_date.h"

#define S(x)	x, sizeof(x) - 1

static void
test_date_ok(void **state)
{
	struct imap_date d;

	assert_int_equal(imap_date_parse(S("1-Feb-1994"), &d), 0);
	assert_int_equal(d.year, 1994);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 1);
	assert_int_equal((long long)imap_date_to_time(&d), 760060800LL);

	assert_int_equal(imap_date_parse(S("01-feb-1994"), &d), 0);
	assert_int_equal(d.day, 1);
	assert_int_equal(imap_date_parse(S("\"17-JUL-1996\""), &d), 0);
	assert_int_equal(d.month, 7);
	assert_int_equal(d.day, 17);
	assert_int_equal(imap_date_parse(S("29-Feb-2000"), &d), 0);
	assert_int_equal((long long)imap_date_to_time(&d), 951782400LL);
	assert_int_equal(imap_date_parse(S("31-Dec-1969"), &d), 0);
	assert_int_equal((long long)imap_date_to_time(&d), -86400LL);
	assert_int_equal(imap_date_parse(S("1-Jan-1970"), &d), 0);
	assert_int_equal((long long)imap_date_to_time(&d), 0);
	assert_int_equal(imap_date_parse(S("1-Jan-0001"), &d), 0);
	assert_int_equal((long long)imap_date_to_time(&d), -62135596800LL);
	for (int m = 0; m < 12; m++) {
		static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
		    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		char tmp[32];
		int n = snprintf(tmp, sizeof(tmp), "5-%s-2010", mon[m]);

		assert_int_equal(imap_date_parse(tmp, (size_t)n, &d), 0);
		assert_int_equal(d.month, m + 1);
	}
}

static void
test_date_bad(void **state)
{
	static const char *bad[] = {
		"", "1-Feb-94", "1-Feb-19944", "001-Feb-1994", "-Feb-1994",
		"1-Fe-1994", "1-Febr-1994", "1 Feb 1994", "1-Feb-1994 ",
		" 1-Feb-1994", "0-Feb-1994", "32-Jan-1994", "29-Feb-1900",
		"30-Feb-2000", "31-Apr-2020", "1-Feb-0000", "1-Xyz-1994",
		"\"1-Feb-1994", "1-Feb-1994\"", "\"\"", "1-Feb-199a",
		"+1-Feb-1994", "1-Feb--994",
	};
	struct imap_date d = { 7, 7, 7 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_date_parse(bad[i], strlen(bad[i]), &d) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	/* NUL inside and outputs untouched. */
	assert_int_equal(imap_date_parse("1-Feb\0-1994", 11, &d), -1);
	assert_int_equal(imap_date_parse("1-F\0b-1994", 10, &d), -1);
	assert_int_equal(d.year, 7);
}

static void
test_from_time(void **state)
{
	struct imap_date d;

	imap_date_from_time(837596665, 0, &d);
	assert_int_equal(d.year, 1996);
	assert_int_equal(d.month, 7);
	assert_int_equal(d.day, 17);
	/* 09:44 UTC is still the 17th at -0700 but the 18th at +1500. */
	imap_date_from_time(837596665, -600, &d);
	assert_int_equal(d.day, 16);
	imap_date_from_time(837596665, 900, &d);
	assert_int_equal(d.day, 18);
	imap_date_from_time(-1, 0, &d);
	assert_int_equal(d.year, 1969);
	assert_int_equal(d.month, 12);
	assert_int_equal(d.day, 31);
	imap_date_from_time(951782400, 0, &d);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 29);
}

static void
test_datetime_ok(void **state)
{
	time_t t;
	int tz;

	assert_int_equal(imap_datetime_parse(
	    S("17-Jul-1996 02:44:25 -0700"), &t, &tz), 0);
	assert_int_equal((long long)t, 837596665LL);
	assert_int_equal(tz, -420);
	assert_int_equal(imap_datetime_parse(
	    S("\"17-Jul-1996 02:44:25 -0700\""), &t, &tz), 0);
	assert_int_equal((long long)t, 837596665LL);
	/* Space-padded, zero-padded and bare one-digit days. */
	assert_int_equal(imap_datetime_parse(
	    S(" 7-Jul-1996 02:44:25 -0700"), &t, &tz), 0);
	assert_int_equal((long long)t, 836732665LL);
	assert_int_equal(imap_datetime_parse(
	    S("07-Jul-1996 02:44:25 -0700"), &t, &tz), 0);
	assert_int_equal((long long)t, 836732665LL);
	assert_int_equal(imap_datetime_parse(
	    S("7-Jul-1996 02:44:25 -0700"), &t, &tz), 0);
	assert_int_equal((long long)t, 836732665LL);
	assert_int_equal(imap_datetime_parse(
	    S("17-Jul-1996 09:44:25 +0000"), &t, &tz), 0);
	assert_int_equal((long long)t, 837596665LL);
	assert_int_equal(tz, 0);
	assert_int_equal(imap_datetime_parse(
	    S("17-Jul-1996 19:14:25 +0930"), &t, &tz), 0);
	assert_int_equal((long long)t, 837596665LL);
	assert_int_equal(tz, 570);
	assert_int_equal(imap_datetime_parse(
	    S("19-Jan-2038 03:14:08 +0000"), &t, &tz), 0);
	assert_int_equal((long long)t, 2147483648LL);
	assert_int_equal(imap_datetime_parse(
	    S("31-Dec-9999 23:59:59 +0000"), &t, &tz), 0);
	assert_int_equal((long long)t, 253402300799LL);
}

static void
test_datetime_bad(void **state)
{
	static const char *bad[] = {
		"", "17-Jul-1996", "17-Jul-1996 02:44:25", "17-Jul-1996 02:44 -0700",
		"17-Jul-1996 2:44:25 -0700", "17-Jul-1996 02:44:25 0700",
		"17-Jul-1996 02:44:25 -070", "17-Jul-1996 02:44:25 -07000",
		"17-Jul-1996  02:44:25 -0700", "17-Jul-1996 24:00:00 +0000",
		"17-Jul-1996 23:60:00 +0000", "17-Jul-1996 23:59:61 +0000",
		"17-Jul-1996 02:44:25 +2400", "17-Jul-1996 02:44:25 +0060",
		"  7-Jul-1996 02:44:25 -0700", " 17-Jul-1996 02:44:25 -0700",
		"31-Jun-1996 02:44:25 -0700", "17-Jul-96 02:44:25 -0700",
		"17-Jul-1996T02:44:25 -0700", "17-Jul-1996 02:44:25 -0700 ",
		"Wed, 17 Jul 1996 02:44:25 -0700",
	};
	time_t t = 5;
	int tz = 5;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_datetime_parse(bad[i], strlen(bad[i]), &t, &tz) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(imap_datetime_parse(
	    "17-Jul-1996 02:44:25 -07\0" "0", 26, &t, &tz), -1);
	assert_int_equal((long long)t, 5);
	assert_int_equal(tz, 5);
}

static void
test_datetime_format(void **state)
{
	char out[IMAP_DATETIME_SIZE];
	time_t t;
	int tz;

	imap_datetime_format(837596665, -420, out);
	assert_string_equal(out, "\"17-Jul-1996 02:44:25 -0700\"");
	imap_datetime_format(836732665, -420, out);
	assert_string_equal(out, "\" 7-Jul-1996 02:44:25 -0700\"");
	imap_datetime_format(0, 0, out);
	assert_string_equal(out, "\" 1-Jan-1970 00:00:00 +0000\"");
	imap_datetime_format(837596665, 570, out);
	assert_string_equal(out, "\"17-Jul-1996 19:14:25 +0930\"");
	imap_datetime_format(-1, 0, out);
	assert_string_equal(out, "\"31-Dec-1969 23:59:59 +0000\"");
	imap_datetime_format(1709208000, 60, out);
	assert_string_equal(out, "\"29-Feb-2024 13:00:00 +0100\"");
	/* Clamps. */
	imap_datetime_format(253402300799LL + 1000, 0, out);
	assert_string_equal(out, "\"31-Dec-9999 23:59:59 +0000\"");
	imap_datetime_format(-62135596800LL - 5, 0, out);
	assert_string_equal(out, "\" 1-Jan-0001 00:00:00 +0000\"");
	imap_datetime_format(0, 5000, out);
	assert_string_equal(out, "\" 1-Jan-1970 23:59:00 +2359\"");
	assert_int_equal(strlen(out), IMAP_DATETIME_SIZE - 1);
	/* Round trip over a range of instants and zones. */
	for (long long x = -3000000000LL; x < 4000000000LL; x += 98765431) {
		for (int z = -720; z <= 840; z += 195) {
			imap_datetime_format((time_t)x, z, out);
			assert_int_equal(imap_datetime_parse(out, strlen(out),
			    &t, &tz), 0);
			assert_int_equal((long long)t, x);
			assert_int_equal(tz, z);
		}
	}
}

static void
test_rfc5322_ok(void **state)
{
	static const struct {
		const char	*in;
		long long	 t;
		int		 tz;
	} ok[] = {
		/* RFC 5322 A.1.1 */
		{ "Fri, 21 Nov 1997 09:55:06 -0600", 880127706LL, -360 },
		{ "21 Nov 1997 09:55:06 -0600", 880127706LL, -360 },
		{ "Friday, 21 Nov 1997 09:55:06 -0600", 880127706LL, -360 },
		{ "Fri 21 Nov 1997 09:55:06 -0600", 880127706LL, -360 },
		{ "fri, 21 nov 1997 09:55:06 -0600", 880127706LL, -360 },
		/* RFC 5322 A.5: comments and folding. */
		{ "Thu,\r\n      13\r\n        Feb\r\n          1969\r\n"
		  "      23:32\r\n               -0330 (Newfoundland Time)",
		  -27723480LL, -210 },
		{ "(x) Fri, (y (nested) ) 21 Nov 1997 09:55:06 -0600",
		  880127706LL, -360 },
		/* RFC 5322 A.6.2: obsolete 2-digit year, named zone. */
		{ "21 Nov 97 09:55:06 GMT", 880127706LL - 6 * 3600, 0 },
		{ "Fri, 21 Nov 1997 09:55:06 CST", 880127706LL, -360 },
		{ "Fri, 21 Nov 1997 10:55:06 CDT", 880127706LL, -300 },
		{ "Fri, 21 Nov 1997 10:55:06 EST", 880127706LL, -300 },
		{ "Fri, 21 Nov 1997 11:55:06 EST", 880127706LL + 3600, -300 },
		{ "Fri, 21 Nov 1997 07:55:06 PST", 880127706LL, -480 },
		{ "Fri, 21 Nov 1997 08:55:06 PDT", 880127706LL, -420 },
		{ "Fri, 21 Nov 1997 08:55:06 MST", 880127706LL, -420 },
		{ "Fri, 21 Nov 1997 09:55:06 MDT", 880127706LL, -360 },
		{ "Fri, 21 Nov 1997 11:55:06 EDT", 880127706LL, -240 },
		{ "Fri, 21 Nov 1997 15:55:06 UT", 880127706LL, 0 },
		{ "Fri, 21 Nov 1997 15:55:06 Z", 880127706LL, 0 },
		{ "Fri, 21 Nov 1997 15:55:06 Q", 880127706LL, 0 },
		{ "Fri, 21 Nov 1997 15:55:06 XYZT", 880127706LL, 0 },
		/* Missing seconds, missing zone, trailing comment. */
		{ "Fri, 21 Nov 1997 15:55 +0000", 880127700LL, 0 },
		{ "Fri, 21 Nov 1997 15:55:06", 880127706LL, 0 },
		{ "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", 1057049557LL, 120 },
		{ "1 Jul 2003 10:52:37 +0200 junk after", 1057049557LL, 120 },
		{ "01-Jul-2003 10:52:37 +0200", 1057049557LL, 120 },
		{ "1 July 2003 10:52:37 +0200", 1057049557LL, 120 },
		/* Year windows: 49 -> 2049, 50 -> 1950, 3 digits + 1900. */
		{ "1 Jan 49 00:00:00 +0000", 2493072000LL, 0 },
		{ "1 Jan 50 00:00:00 +0000", -631152000LL, 0 },
		{ "1 Jan 097 00:00:00 +0000", 852076800LL, 0 },
		{ "  Sat,  1 Jan 2000   0:00:00   +0000  ", 946684800LL, 0 },
	};
	time_t t;
	int tz;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (imap_date_parse_rfc5322(ok[i].in, strlen(ok[i].in),
		    &t, &tz) != 0)
			fail_msg("refused %s", ok[i].in);
		if ((long long)t != ok[i].t || tz != ok[i].tz)
			fail_msg("%s: got %lld %d", ok[i].in, (long long)t, tz);
	}
}

static void
test_rfc5322_bad(void **state)
{
	static const char *bad[] = {
		"", "   ", "garbage", "Fri, 21 Nov", "Fri, 21 Nov 1997",
		"Fri, 32 Nov 1997 09:55:06 -0600", "Fri, 21 Foo 1997 09:55:06",
		"Fri, 21 Nov 1997 25:55:06 -0600", "Fri, 21 Nov 1997 09:60:06",
		"Fri, 21 Nov 1997 09:55:61", "Fri, 21 Nov 1997 09:55:06 -06",
		"Fri, 21 Nov 1997 09:55:06 +2400", "Fri, 21 Nov 1997 09 55",
		"Fri, 21 Nov 1 09:55:06", "Fri, 21 Nov 19977 09:55:06",
		"Blah, 21 Nov 1997 09:55:06", "Fri, 123 Nov 1997 09:55:06",
		"Nov 21 1997 09:55:06", "Fri, 29 Feb 1997 09:55:06",
		"(unterminated Fri, 21 Nov 1997 09:55:06", "Fri, 21 Nov 0000 1:00",
		"Fri, 21 Nov 1997 9:5:06",
	};
	time_t t = 42;
	int tz = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_date_parse_rfc5322(bad[i], strlen(bad[i]), &t,
		    &tz) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal((long long)t, 42);
	assert_int_equal(tz, 42);
}

static void
test_rfc5322_hostile(void **state)
{
	char big[20000];
	time_t t;
	int tz;

	/* Deep comment nesting, then a date: no stack, bounded, refused. */
	memset(big, '(', sizeof(big));
	assert_int_equal(imap_date_parse_rfc5322(big, sizeof(big), &t, &tz),
	    -1);
	/* Long digit runs are tokens too long to be a day. */
	memset(big, '9', sizeof(big));
	assert_int_equal(imap_date_parse_rfc5322(big, sizeof(big), &t, &tz),
	    -1);
	/* Every prefix of a valid date: no out-of-bounds reads (ASan). */
	{
		const char *d = "Fri, 21 Nov 1997 09:55:06 -0600 (CST)";
		size_t n = strlen(d);

		for (size_t i = 0; i <= n; i++) {
			char *cp = malloc(i + 1);

			memcpy(cp, d, i);
			(void)imap_date_parse_rfc5322(cp, i, &t, &tz);
			(void)imap_datetime_parse(cp, i, &t, &tz);
			free(cp);
		}
	}
	/* NUL bytes end nothing: they are simply not date characters. */
	assert_int_equal(imap_date_parse_rfc5322("21 Nov\0 1997 09:55", 18,
	    &t, &tz), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_ok),
		cmocka_unit_test(test_date_bad),
		cmocka_unit_test(test_from_time),
		cmocka_unit_test(test_datetime_ok),
		cmocka_unit_test(test_datetime_bad),
		cmocka_unit_test(test_datetime_format),
		cmocka_unit_test(test_rfc5322_ok),
		cmocka_unit_test(test_rfc5322_bad),
		cmocka_unit_test(test_rfc5322_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
