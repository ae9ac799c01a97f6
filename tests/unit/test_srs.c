/*
 * test_srs - Sender Rewriting Scheme: forward, reverse, hops, forgery.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/srs.h"

static const unsigned char key[SRS_SECRET_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char other[SRS_SECRET_LEN] = "another secret, just as long..";
#define NOW	((time_t)1795000000)
#define DAY	((time_t)86400)

static void
fwd(const char *in, const char *dom, time_t now, char *out)
{
	assert_int_equal(srs_forward(key, in, dom, now, out, SRS_ADDR_MAX), 0);
}

static void
rev_ok(const char *in, time_t now, const char *want)
{
	char out[SRS_ADDR_MAX];
	const char *err = "x";

	assert_int_equal(srs_reverse(key, in, now, out, sizeof(out), &err), 0);
	assert_null(err);
	assert_string_equal(out, want);
}

static void
rev_bad(const unsigned char *k, const char *in, time_t now, const char *why)
{
	char out[SRS_ADDR_MAX];
	const char *err = NULL;

	assert_int_equal(srs_reverse(k, in, now, out, sizeof(out), &err), -1);
	assert_string_equal(err, why);
}

static void
test_srs0(void **state)
{
	char a[SRS_ADDR_MAX], b[SRS_ADDR_MAX];

	(void)state;
	fwd("alice@example.org", "mx.example.test", NOW, a);
	/* SRS0=HHHH=TT=example.org=alice@mx.example.test */
	assert_int_equal(strncmp(a, "SRS0=", 5), 0);
	assert_true(a[9] == '=' && a[12] == '=');
	assert_string_equal(a + 13, "example.org=alice@mx.example.test");
	assert_true(srs_is_srs(a));
	assert_false(srs_is_srs("alice@example.org"));
	assert_false(srs_is_srs("SRS0alice@example.org"));
	/* Deterministic within a day, and reversible for 21 days. */
	fwd("alice@example.org", "mx.example.test", NOW + 1, b);
	assert_string_equal(a, b);
	rev_ok(a, NOW, "alice@example.org");
	rev_ok(a, NOW + 21 * DAY, "alice@example.org");
	rev_bad(key, a, NOW + 23 * DAY, "expired");
	/* Hash and timestamp case do not matter (some MTAs lower-case). */
	for (char *p = b; *p != '@'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	rev_ok(b, NOW, "alice@example.org");
	/* Local parts with '=' and '+' survive. */
	fwd("a=b+c@example.org", "mx.example.test", NOW, a);
	rev_ok(a, NOW, "a=b+c@example.org");
}

static void
test_forgery(void **state)
{
	char a[SRS_ADDR_MAX], t[SRS_ADDR_MAX];

	(void)state;
	fwd("alice@example.org", "mx.example.test", NOW, a);
	/* Another secret, another user or domain: refused. */
	rev_bad(other, a, NOW, "bad hash");
	strcpy(t, a);
	memcpy(strstr(t, "alice"), "mallo", 5);
	rev_bad(key, t, NOW, "bad hash");
	strcpy(t, a);
	memcpy(strstr(t, "example.org"), "example.net", 11);
	rev_bad(key, t, NOW, "bad hash");
	/* Malformed forms. */
	rev_bad(key, "SRS0=abcd@mx.example.test", NOW, "malformed");
	rev_bad(key, "SRS0=abcd=AA=@mx.example.test", NOW, "malformed");
	rev_bad(key, "SRS0=abcd=A=d=u@mx.example.test", NOW, "malformed");
	rev_bad(key, "SRS0=abcd=!!=d=u@mx.example.test", NOW, "malformed");
	rev_bad(key, "SRS1=abcd@mx.example.test", NOW, "malformed");
	rev_bad(key, "SRS1=abcd=host=@mx.example.test", NOW, "malformed");
	rev_bad(key, "plain@mx.example.test", NOW, "malformed");
	rev_bad(key, "SRS0=", NOW, "malformed");
	/* A wrong hash of the right length. */
	rev_bad(key, "SRS0=AAAA=AA=example.org=alice@mx.example.test", NOW,
	    "bad hash");
	/* Too long for the output. */
	{
		char big[600];

		memset(big, 'x', 300);
		strcpy(big + 300, "@example.org");
		assert_int_equal(srs_forward(key, big, "mx.example.test", NOW,
		    a, 64), -1);
		assert_int_equal(srs_forward(key, "no-at-sign",
		    "mx.example.test", NOW, a, sizeof(a)), -1);
		assert_int_equal(srs_forward(key, "@example.org",
		    "mx.example.test", NOW, a, sizeof(a)), -1);
	}
}

/* A second forwarder makes SRS1; reversing goes back one hop at a time. */
static void
test_srs1(void **state)
{
	char first[SRS_ADDR_MAX], second[SRS_ADDR_MAX], third[SRS_ADDR_MAX];

	(void)state;
	fwd("alice@example.org", "first.example", NOW, first);
	fwd(first, "second.example", NOW, second);
	assert_int_equal(strncmp(second, "SRS1=", 5), 0);
	assert_non_null(strstr(second, "=first.example=="));
	assert_non_null(strstr(second, "@second.example"));
	rev_ok(second, NOW, first);
	/* A third hop keeps the first hop, not the second. */
	fwd(second, "third.example", NOW, third);
	assert_int_equal(strncmp(third, "SRS1=", 5), 0);
	assert_non_null(strstr(third, "=first.example=="));
	assert_non_null(strstr(third, "@third.example"));
	rev_ok(third, NOW, first);
	/* SRS1 has no timestamp of its own: the SRS0 inside carries it. */
	rev_bad(other, second, NOW, "bad hash");
}

static void
test_ours(void **state)
{
	char a[SRS_ADDR_MAX], out[SRS_ADDR_MAX] = "unchanged";
	const char *err = NULL;

	(void)state;
	fwd("alice@example.org", "mx.example.test", NOW, a);
	assert_int_equal(srs_reverse_ours(key, "MX.example.test", a, NOW, out,
	    sizeof(out), &err), 1);
	assert_string_equal(out, "alice@example.org");
	strcpy(out, "unchanged");
	assert_int_equal(srs_reverse_ours(key, "other.example", a, NOW, out,
	    sizeof(out), &err), 0);
	assert_int_equal(srs_reverse_ours(key, "mx.example.test",
	    "bob@mx.example.test", NOW, out, sizeof(out), &err), 0);
	assert_string_equal(out, "unchanged");
	assert_int_equal(srs_reverse_ours(other, "mx.example.test", a, NOW,
	    out, sizeof(out), &err), -1);
	assert_string_equal(err, "bad hash");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srs0),
		cmocka_unit_test(test_forgery),
		cmocka_unit_test(test_srs1),
		cmocka_unit_test(test_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
