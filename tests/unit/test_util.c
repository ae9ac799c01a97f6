/*
 * test_util - unit tests for core/util: bounded number parsing (parse_u64
 * at its overflow boundaries, parse_size, parse_duration, parse_bool), host
 * name and address-literal syntax (RFC 5321 4.1.2, 4.1.3, 4.5.3.1.2),
 * random_id, rfc5322_date (RFC 5322 3.3), timingsafe_eq and the key of
 * per-address limits (ip_limit_key).
 */
#include <arpa/inet.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/util.h"

#define U64_MAX_STR	"18446744073709551615"

/* Parses a NUL-terminated string; *out is set to a canary before. */
static int
pu(const char *s, uint64_t max, uint64_t *out)
{
	*out = 0xdeadbeef;
	return parse_u64(s, strlen(s), max, out);
}

static void
test_parse_u64_basic(void **state)
{
	uint64_t v;

	assert_int_equal(pu("0", UINT64_MAX, &v), 0);
	assert_true(v == 0);
	assert_int_equal(pu("7", UINT64_MAX, &v), 0);
	assert_true(v == 7);
	assert_int_equal(pu("1234567890", UINT64_MAX, &v), 0);
	assert_true(v == 1234567890ULL);
	assert_int_equal(pu("000123", UINT64_MAX, &v), 0);
	assert_true(v == 123);
	/* Only len bytes are looked at. */
	v = 0;
	assert_int_equal(parse_u64("123abc", 3, UINT64_MAX, &v), 0);
	assert_true(v == 123);
	assert_int_equal(parse_u64("99", 1, UINT64_MAX, &v), 0);
	assert_true(v == 9);
}

static void
test_parse_u64_refused(void **state)
{
	static const char *const bad[] = {
		"", "+1", "-1", "-0", " 1", "1 ", " ", "1a", "a1", "0x10",
		"1.0", "1,000", "1e3", "/", ":", "12:", "\t5", "5\n",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pu(bad[i], UINT64_MAX, &v), -1);
		/* The output is untouched on failure. */
		assert_true(v == 0xdeadbeef);
	}
	/* Zero length is empty even when the pointer has digits. */
	assert_int_equal(parse_u64("12", 0, UINT64_MAX, &v), -1);
	/* An embedded NUL is not a digit. */
	assert_int_equal(parse_u64("1\0002", 3, UINT64_MAX, &v), -1);
}

static void
test_parse_u64_small_max(void **state)
{
	uint64_t v;

	/* max = 0: only zeros. */
	assert_int_equal(pu("0", 0, &v), 0);
	assert_true(v == 0);
	assert_int_equal(pu("000", 0, &v), 0);
	assert_true(v == 0);
	assert_int_equal(pu("1", 0, &v), -1);
	assert_int_equal(pu("10", 0, &v), -1);
	/* max = 1 */
	assert_int_equal(pu("1", 1, &v), 0);
	assert_true(v == 1);
	assert_int_equal(pu("01", 1, &v), 0);
	assert_true(v == 1);
	assert_int_equal(pu("2", 1, &v), -1);
	assert_int_equal(pu("10", 1, &v), -1);
	/* max = 5: every digit above is refused, leading zeros are fine. */
	for (char d = '0'; d <= '9'; d++) {
		char s[3] = { '0', d, '\0' };

		assert_int_equal(pu(s, 5, &v), d <= '5' ? 0 : -1);
		if (d <= '5')
			assert_true(v == (uint64_t)(d - '0'));
		assert_int_equal(pu(s + 1, 5, &v), d <= '5' ? 0 : -1);
	}
	/* max = 9 and 10 around the first two-digit number. */
	assert_int_equal(pu("9", 9, &v), 0);
	assert_true(v == 9);
	assert_int_equal(pu("10", 9, &v), -1);
	assert_int_equal(pu("10", 10, &v), 0);
	assert_true(v == 10);
	assert_int_equal(pu("11", 10, &v), -1);
	assert_int_equal(pu("19", 19, &v), 0);
	assert_int_equal(pu("20", 19, &v), -1);
	/* Port range. */
	assert_int_equal(pu("65535", 65535, &v), 0);
	assert_true(v == 65535);
	assert_int_equal(pu("65536", 65535, &v), -1);
	assert_int_equal(pu("65540", 65535, &v), -1);
	assert_int_equal(pu("99999", 65535, &v), -1);
}

static void
test_parse_u64_overflow(void **state)
{
	uint64_t v;

	assert_int_equal(pu(U64_MAX_STR, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(pu("00" U64_MAX_STR, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(pu("18446744073709551614", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX - 1);
	/* One past, and every last digit past. */
	assert_int_equal(pu("18446744073709551616", UINT64_MAX, &v), -1);
	assert_int_equal(pu("18446744073709551619", UINT64_MAX, &v), -1);
	assert_int_equal(pu("18446744073709551620", UINT64_MAX, &v), -1);
	assert_int_equal(pu("18446744073709551700", UINT64_MAX, &v), -1);
	/* 21 digits: would wrap to something small if unchecked. */
	assert_int_equal(pu("184467440737095516150", UINT64_MAX, &v), -1);
	assert_int_equal(pu("36893488147419103232", UINT64_MAX, &v), -1);
	assert_int_equal(pu("99999999999999999999", UINT64_MAX, &v), -1);
	assert_int_equal(pu("100000000000000000000", UINT64_MAX, &v), -1);
	assert_true(v == 0xdeadbeef);
	/* max just below UINT64_MAX */
	assert_int_equal(pu("18446744073709551614", UINT64_MAX - 1, &v), 0);
	assert_true(v == UINT64_MAX - 1);
	assert_int_equal(pu(U64_MAX_STR, UINT64_MAX - 1, &v), -1);
	/* max = UINT64_MAX / 10 (the multiplication boundary). */
	assert_int_equal(pu("1844674407370955161", UINT64_MAX / 10, &v), 0);
	assert_true(v == UINT64_MAX / 10);
	assert_int_equal(pu("1844674407370955162", UINT64_MAX / 10, &v), -1);
	assert_int_equal(pu("18446744073709551610", UINT64_MAX / 10, &v),
	    -1);
	/* INT64_MAX */
	assert_int_equal(pu("9223372036854775807", INT64_MAX, &v), 0);
	assert_true(v == (uint64_t)INT64_MAX);
	assert_int_equal(pu("9223372036854775808", INT64_MAX, &v), -1);
	/* A max that is not a power of ten minus one. */
	assert_int_equal(pu("1000", 1000, &v), 0);
	assert_int_equal(pu("1001", 1000, &v), -1);
	assert_int_equal(pu("999", 1000, &v), 0);
	assert_true(v == 999);
}

static int
ps(const char *s, uint64_t *out)
{
	*out = 0xdeadbeef;
	return parse_size(s, out);
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} ok[] = {
		{ "0", 0 },
		{ "1048576", 1048576 },
		{ "1k", 1024 },
		{ "512k", 512 * 1024 },
		{ "512K", 512 * 1024 },
		{ "10m", 10 * 1024 * 1024 },
		{ "10M", 10 * 1024 * 1024 },
		{ "1g", 1024ULL * 1024 * 1024 },
		{ "2G", 2ULL * 1024 * 1024 * 1024 },
		{ "1t", 1024ULL * 1024 * 1024 * 1024 },
		{ "0k", 0 },
		{ " 64k", 64 * 1024 },		/* surrounding space trimmed */
		{ "64k \t", 64 * 1024 },
		{ U64_MAX_STR, UINT64_MAX },
		{ "17179869183g", 17179869183ULL * 1024 * 1024 * 1024 },
		{ "18014398509481983k", 18014398509481983ULL * 1024 },
	};
	static const char *const bad[] = {
		"", " ", "k", "M", "-1", "+1", "1.5m", "10MB", "10 m", "10b",
		"10x", "m10", "1kk", "0x10",
		"17179869184g",		/* 2^64 */
		"18014398509481984k",	/* 2^64 */
		"18446744073709551616",
		"16777216t",		/* 2^64 */
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(ps(ok[i].in, &v), 0);
		assert_true(v == ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ps(bad[i], &v), -1);
		assert_true(v == 0xdeadbeef);
	}
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} ok[] = {
		{ "0", 0 },
		{ "300", 300 },
		{ "30s", 30 },
		{ "30S", 30 },
		{ "5m", 300 },
		{ "5M", 300 },
		{ "2h", 7200 },
		{ "1d", 86400 },
		{ "1w", 604800 },
		{ " 10m ", 600 },
	};
	static const char *const bad[] = {
		"", "s", "m", "-5s", "5ms", "500ms", "1y", "1.5h", "1 h",
		"1hh", "h1", "30sec",
		"307445734561825861m",	/* > UINT64_MAX / 60 */
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 0xdeadbeef;
		assert_int_equal(parse_duration(ok[i].in, &v), 0);
		assert_true(v == ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 0xdeadbeef;
		assert_int_equal(parse_duration(bad[i], &v), -1);
		assert_true(v == 0xdeadbeef);
	}
	/* The largest minutes value that fits. */
	assert_int_equal(parse_duration("307445734561825860m", &v), 0);
	assert_true(v == 307445734561825860ULL * 60);
}

static void
test_parse_bool(void **state)
{
	static const char *const yes[] = { "yes", "on", "true", "1", "YES",
	    "On", "TRUE", "tRuE" };
	static const char *const no[] = { "no", "off", "false", "0", "NO",
	    "Off", "FALSE" };
	static const char *const bad[] = { "", "y", "n", "2", " yes", "yes ",
	    "enabled", "nope", "10", "00", "t", "f", "yess" };
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		assert_int_equal(parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		assert_int_equal(parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = true;
		assert_int_equal(parse_bool(bad[i], &b), -1);
		assert_true(b);
	}
}

static bool
dv(const char *s)
{
	/* Exact-size heap copy so ASan sees any read past len. */
	size_t n = strlen(s);
	char *c = malloc(n ? n : 1);
	bool r;

	assert_non_null(c);
	memcpy(c, s, n);
	r = domain_valid(c, n);
	free(c);
	return r;
}

/* n copies of 'a'. */
static char *
rep(char ch, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static void
test_domain_valid_syntax(void **state)
{
	static const char *const ok[] = {
		"a", "example.com", "EXAMPLE.COM", "mail.example.test",
		"a-b.c", "a--b.c", "xn--bcher-kva.example", "1.2.3.4",
		"0a.9z", "a.b.c.d.e.f.g", "localhost",
	};
	static const char *const bad[] = {
		"", ".", "..", ".example.com", "example.com.", "a..b",
		"-a.com", "a-.com", "a.-b", "a.b-", "-", "a.-", "a_b.com",
		"_dmarc.example.com", "a b.com", "a@b.com", "a/b", "[1.2.3.4]",
		"a:b", "exa\tmple.com", "a.b.", "a.b\n",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(dv(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(dv(bad[i]));
	/* Only len bytes count. */
	assert_true(domain_valid("example.com.", 11));
	assert_false(domain_valid("example.com", 0));
	assert_false(domain_valid("a\0b", 3));
	/* 8-bit bytes (U-labels, RFC 6531) pass through. */
	assert_true(dv("b\xc3\xbc" "cher.example"));
}

static void
test_domain_valid_lengths(void **state)
{
	char *l63 = rep('a', 63), *l64 = rep('b', 64), *l61 = rep('c', 61),
	    *l62 = rep('d', 62);
	char buf[600];

	/* Label of 63 is fine, 64 is not, first, middle or last. */
	snprintf(buf, sizeof(buf), "%s.com", l63);
	assert_true(dv(buf));
	snprintf(buf, sizeof(buf), "%s.com", l64);
	assert_false(dv(buf));
	snprintf(buf, sizeof(buf), "x.%s.com", l63);
	assert_true(dv(buf));
	snprintf(buf, sizeof(buf), "x.%s.com", l64);
	assert_false(dv(buf));
	snprintf(buf, sizeof(buf), "example.%s", l63);
	assert_true(dv(buf));
	snprintf(buf, sizeof(buf), "example.%s", l64);
	assert_false(dv(buf));
	assert_true(dv(l63));
	assert_false(dv(l64));

	/* 63+1+63+1+63+1+61 = 253 is the longest; 254 is refused. */
	snprintf(buf, sizeof(buf), "%s.%s.%s.%s", l63, l63, l63, l61);
	assert_int_equal(strlen(buf), 253);
	assert_true(dv(buf));
	snprintf(buf, sizeof(buf), "%s.%s.%s.%s", l63, l63, l63, l62);
	assert_int_equal(strlen(buf), 254);
	assert_false(dv(buf));
	/* 254 made of short labels too. */
	buf[0] = '\0';
	while (strlen(buf) < 252)
		strcat(buf, "a.");
	strcat(buf, "bc");
	assert_int_equal(strlen(buf), 254);
	assert_false(dv(buf));
	buf[253] = '\0';
	assert_true(dv(buf));
	free(l63);
	free(l64);
	free(l61);
	free(l62);
}

static bool
alv(const char *s)
{
	size_t n = strlen(s);
	char *c = malloc(n ? n : 1);
	bool r;

	assert_non_null(c);
	memcpy(c, s, n);
	r = addr_literal_valid(c, n);
	free(c);
	return r;
}

static void
test_addr_literal_valid(void **state)
{
	static const char *const ok[] = {
		"[1.2.3.4]", "[0.0.0.0]", "[255.255.255.255]", "[127.0.0.1]",
		"[IPv6:::1]", "[IPv6:2001:db8::1]", "[ipv6:2001:DB8::1]",
		"[IPV6:fe80::1:2:3:4]", "[IPv6:::ffff:192.0.2.1]",
		"[IPv6:1:2:3:4:5:6:7:8]",
	};
	static const char *const bad[] = {
		"", "[", "]", "[]", "[ ]", "1.2.3.4", "[1.2.3.4", "1.2.3.4]",
		"[1.2.3]", "[1.2.3.4.5]", "[256.1.1.1]", "[1.2.3.4 ]",
		" [1.2.3.4]", "[::1]", "[2001:db8::1]", "[IPv6:1.2.3.4]",
		"[IPv6:]", "[IPv6:::1", "[IPv6:1:2:3:4:5:6:7:8:9]",
		"[IPv6::::1]", "[IPv6: ::1]", "[example.com]", "[IPv4:1.2.3.4]",
		"[1.2.3.4]x",
	};
	char big[200];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(alv(ok[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(alv(bad[i]));
	/* Only len bytes count. */
	assert_true(addr_literal_valid("[1.2.3.4]xyz", 9));
	/* Overlong input is refused, not copied into a small buffer. */
	memset(big, '1', sizeof(big));
	big[0] = '[';
	big[sizeof(big) - 1] = ']';
	assert_false(addr_literal_valid(big, sizeof(big)));
	memcpy(big, "[IPv6:", 6);
	assert_false(addr_literal_valid(big, sizeof(big)));
}

static void
test_random_id(void **state)
{
	char ids[200][ID_HEX_LEN + 1];
	unsigned seen[16] = { 0 };

	for (size_t i = 0; i < 200; i++) {
		memset(ids[i], 'X', sizeof(ids[i]));
		random_id(ids[i]);
		assert_int_equal(strlen(ids[i]), ID_HEX_LEN);
		for (size_t j = 0; j < ID_HEX_LEN; j++) {
			char c = ids[i][j];

			assert_true((c >= '0' && c <= '9') ||
			    (c >= 'a' && c <= 'f'));
			seen[c <= '9' ? c - '0' : c - 'a' + 10]++;
		}
		/* 64 random bits: a repeat means the generator is broken. */
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	/* 3200 digits: every one of the 16 shows up. */
	for (size_t i = 0; i < 16; i++)
		assert_true(seen[i] > 0);
}

static void
date_in(const char *tz, time_t t, char *out, size_t len)
{
	setenv("TZ", tz, 1);
	tzset();
	rfc5322_date(t, out, len);
}

static void
test_rfc5322_date(void **state)
{
	static const char *const re_str =
	    "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [1-9][0-9]? "
	    "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
	    "[0-9]{4} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] "
	    "[+-][0-9]{4}$";
	static const char *const zones[] = { "UTC", "IST-5:30", "NST3:30",
	    "XYZ-14", "ABC12" };
	char *oldtz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	regex_t re;
	char out[64];
	time_t now = time(NULL);

	assert_int_equal(regcomp(&re, re_str, REG_EXTENDED | REG_NOSUB), 0);

	date_in("UTC", 0, out, sizeof(out));
	assert_string_equal(out, "Thu, 1 Jan 1970 00:00:00 +0000");
	date_in("UTC", 1700000000, out, sizeof(out));
	assert_string_equal(out, "Tue, 14 Nov 2023 22:13:20 +0000");
	date_in("UTC", 951782400, out, sizeof(out));
	assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 +0000");
	/* Offsets east and west, with minutes (POSIX TZ: sign inverted). */
	date_in("IST-5:30", 1700000000, out, sizeof(out));
	assert_string_equal(out, "Wed, 15 Nov 2023 03:43:20 +0530");
	date_in("NST3:30", 1700000000, out, sizeof(out));
	assert_string_equal(out, "Tue, 14 Nov 2023 18:43:20 -0330");
	date_in("XYZ-14", 1700000000, out, sizeof(out));
	assert_string_equal(out, "Wed, 15 Nov 2023 12:13:20 +1400");
	date_in("ABC12", 1700000000, out, sizeof(out));
	assert_string_equal(out, "Tue, 14 Nov 2023 10:13:20 -1200");

	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++)
		for (time_t t = now - 400 * 86400; t < now + 400 * 86400;
		    t += 86400 * 7 + 3607) {
			date_in(zones[z], t, out, sizeof(out));
			assert_int_equal(regexec(&re, out, 0, NULL, 0), 0);
		}
	/* A short buffer is truncated, still NUL-terminated. */
	memset(out, 'X', sizeof(out));
	date_in("UTC", 0, out, 10);
	assert_string_equal(out, "Thu, 1 Ja");
	assert_true(out[10] == 'X');
	regfree(&re);

	if (oldtz != NULL) {
		setenv("TZ", oldtz, 1);
		free(oldtz);
	} else
		unsetenv("TZ");
	tzset();
}

static void
test_timingsafe_eq(void **state)
{
	unsigned char a[64], b[64];

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 37 + 128);
	assert_true(timingsafe_eq(a, b, sizeof(a)));
	assert_true(timingsafe_eq(a, b, 0));
	assert_true(timingsafe_eq("x", "y", 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1u << bit);
			assert_false(timingsafe_eq(a, b, sizeof(a)));
			/* A difference past n does not count. */
			assert_true(timingsafe_eq(a, b, i));
			b[i] ^= (unsigned char)(1u << bit);
		}
	}
	assert_true(timingsafe_eq("secret\0x", "secret\0x", 8));
	assert_false(timingsafe_eq("secret\0x", "secret\0y", 8));
}

static void
test_ascii_helpers(void **state)
{
	char s[] = "MiXeD.Case-123@EXAMPLE.com\xc3\x84";

	ascii_lower(s);
	assert_string_equal(s, "mixed.case-123@example.com\xc3\x84");
	assert_true(ascii_strcaseeq_n("HELO x", 4, "helo"));
	assert_false(ascii_strcaseeq_n("HELO x", 5, "helo"));
	assert_false(ascii_strcaseeq_n("HEL", 3, "helo"));
	assert_true(ascii_strcaseeq_n("", 0, ""));
}

static void
key_is(const char *ip, unsigned bits, const char *want)
{
	char out[INET6_ADDRSTRLEN + 4];

	ip_limit_key(ip, bits, out, sizeof(out));
	assert_string_equal(out, want);
}

static void
test_ip_limit_key(void **state)
{
	(void)state;
	/* IPv4 is itself, also when it comes IPv4-mapped. */
	key_is("192.0.2.77", 84, "192.0.2.77");
	key_is("::ffff:192.0.2.77", 84, "192.0.2.77");
	/* IPv6: the network, cut inside a group at /84. */
	key_is("2001:db8:1:2:3:4:5:6", 84, "2001:db8:1:2:3::/84");
	key_is("2001:db8:1:2:3fff:ffff:ffff:ffff", 84,
	    "2001:db8:1:2:3fff:f000::/84");
	key_is("2001:db8:1:2:3000::1", 84, "2001:db8:1:2:3000::/84");
	key_is("2001:db8:1:2:ffff::1", 64, "2001:db8:1:2::/64");
	key_is("2001:db8:1:2:ffff::1", 57, "2001:db8:1::/57");
	key_is("2001:db8:1:ff:ffff::1", 57, "2001:db8:1:80::/57");
	key_is("::1", 84, "::/84");
	/* 128: each address alone, as written. */
	key_is("2001:db8::1", 128, "2001:db8::1");
	/* Not an address: copied. */
	key_is("unknown", 84, "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64_basic),
		cmocka_unit_test(test_parse_u64_refused),
		cmocka_unit_test(test_parse_u64_small_max),
		cmocka_unit_test(test_parse_u64_overflow),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_domain_valid_syntax),
		cmocka_unit_test(test_domain_valid_lengths),
		cmocka_unit_test(test_addr_literal_valid),
		cmocka_unit_test(test_random_id),
		cmocka_unit_test(test_rfc5322_date),
		cmocka_unit_test(test_timingsafe_eq),
		cmocka_unit_test(test_ascii_helpers),
		cmocka_unit_test(test_ip_limit_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
