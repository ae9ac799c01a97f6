/*
 * test_mta_sts - MTA-STS (RFC 8461): the _mta-sts TXT record (3.1), the
 * policy file (3.2) and MX pattern matching (4.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue/mta_sts.h"

static int
txt(const char *s, char *id)
{
	return sts_txt_parse(s, strlen(s), id);
}

static void
test_txt_valid(void **state)
{
	char id[STS_ID_MAX + 1];

	(void)state;
	assert_int_equal(txt("v=STSv1; id=20160831085700Z;", id), 1);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(txt("v=STSv1;id=1", id), 1);
	assert_string_equal(id, "1");
	/* *WSP around ';', extensions, the first id counts. */
	assert_int_equal(txt("v=STSv1 ;\tid=abc ; ext_1.x-y=v:a/l ; id=zz",
	    id), 1);
	assert_string_equal(id, "abc");
	/* 32 characters is the longest id. */
	assert_int_equal(txt("v=STSv1; id=0123456789abcdefghijABCDEFGHIJ01",
	    id), 1);
	assert_string_equal(id, "0123456789abcdefghijABCDEFGHIJ01");
}

static void
test_txt_invalid(void **state)
{
	char id[STS_ID_MAX + 1];

	(void)state;
	/* Not an STSv1 record at all: 0. */
	assert_int_equal(txt("v=spf1 -all", id), 0);
	assert_int_equal(txt("v=STSv10; id=1", id), 0);
	assert_int_equal(txt("v=stsv1; id=1", id), 0);
	assert_int_equal(txt("", id), 0);
	assert_int_equal(txt(" v=STSv1; id=1", id), 0);
	/* STSv1 but malformed: -1. */
	assert_int_equal(txt("v=STSv1", id), -1);
	assert_int_equal(txt("v=STSv1;", id), -1);
	assert_int_equal(txt("v=STSv1; id=", id), -1);
	assert_int_equal(txt("v=STSv1; id=a-b", id), -1);
	assert_int_equal(txt("v=STSv1; id=0123456789abcdefghij0123456789abc",
	    id), -1);
	assert_int_equal(txt("v=STSv1 id=1", id), -1);
	assert_int_equal(txt("v=STSv1; ext=1", id), -1);
	assert_int_equal(txt("v=STSv1; id=1; bad", id), -1);
	assert_int_equal(txt("v=STSv1; id=1; =x", id), -1);
	assert_int_equal(txt("v=STSv1; id=1; x=a b", id), -1);
	assert_int_equal(txt("v=STSv1; Id=1", id), -1);
	assert_int_equal(sts_txt_parse("v=STSv1; id=1\0x", 15, id), -1);
	assert_string_equal(id, "");
}

static void
test_txt_select(void **state)
{
	const char *recs[3];
	size_t lens[3];
	char id[STS_ID_MAX + 1];
	const char *why = NULL;

	(void)state;
	recs[0] = "v=spf1 -all";
	recs[1] = "v=STSv1; id=42";
	recs[2] = "something else";
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(recs[i]);
	assert_int_equal(sts_txt_select(recs, lens, 3, id, &why), 1);
	assert_string_equal(id, "42");
	/* None. */
	assert_int_equal(sts_txt_select(recs, lens, 1, id, &why), 0);
	assert_string_equal(why, "no STSv1 TXT record");
	/* Two STSv1 records: no policy, even when both are valid. */
	recs[0] = "v=STSv1; id=41";
	lens[0] = strlen(recs[0]);
	assert_int_equal(sts_txt_select(recs, lens, 2, id, &why), 0);
	assert_string_equal(why, "more than one STSv1 TXT record");
	assert_string_equal(id, "");
	/* One, malformed. */
	recs[1] = "v=STSv1; id=4-2";
	lens[1] = strlen(recs[1]);
	assert_int_equal(sts_txt_select(recs + 1, lens + 1, 1, id, &why), 0);
	assert_string_equal(why, "malformed STSv1 TXT record");
}

static void
policy_ok(const char *text, struct sts_policy *p)
{
	const char *err = NULL;

	if (sts_policy_parse(text, strlen(text), p, &err) != 0)
		fail_msg("rejected (%s): %s", err, text);
}

static void
policy_bad(const char *text, const char *want)
{
	struct sts_policy p;
	const char *err = NULL;

	if (sts_policy_parse(text, strlen(text), &p, &err) == 0)
		fail_msg("accepted: %s", text);
	assert_string_equal(err, want);
	assert_null(p.mx);
	assert_int_equal(p.nmx, 0);
}

static void
test_policy_valid(void **state)
{
	struct sts_policy p, q;

	(void)state;
	/* The example of RFC 8461 3.2, CRLF line ends. */
	policy_ok("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	    "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
	    "max_age: 604800\r\n", &p);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.nmx, 3);
	assert_string_equal(p.mx[0], "mail.example.com");
	assert_string_equal(p.mx[1], "*.example.net");
	assert_string_equal(p.mx[2], "backupmx.example.com");
	sts_policy_copy(&q, &p);
	sts_policy_free(&p);
	assert_null(p.mx);
	assert_string_equal(q.mx[1], "*.example.net");
	sts_policy_free(&q);

	/* LF only, no final line end, any order, blanks, extensions,
	 * the first of repeated fields, upper-case mx lowered. */
	policy_ok("mode:testing\nmax_age:\t86400  \nx-ext.1: some  value\n"
	    "\nversion: STSv1\nmx: MX.Example.ORG\nmode: enforce\n"
	    "max_age: 1", &p);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_int_equal(p.max_age, 86400);
	assert_int_equal(p.nmx, 1);
	assert_string_equal(p.mx[0], "mx.example.org");
	assert_string_equal(sts_mode_name(p.mode), "testing");
	sts_policy_free(&p);

	/* mode none needs no mx; max_age is capped at one year. */
	policy_ok("version: STSv1\nmode: none\nmax_age: 9999999999\n", &p);
	assert_int_equal(p.mode, STS_MODE_NONE);
	assert_int_equal(p.max_age, STS_MAX_AGE_MAX);
	assert_int_equal(p.nmx, 0);
	assert_string_equal(sts_mode_name(p.mode), "none");
	sts_policy_free(&p);
	policy_ok("version: STSv1\nmode: enforce\nmax_age: 0\nmx: a.b\n", &p);
	assert_int_equal(p.max_age, 0);
	assert_string_equal(sts_mode_name(p.mode), "enforce");
	sts_policy_free(&p);
}

static void
test_policy_invalid(void **state)
{
	char *big;

	(void)state;
	policy_bad("", "policy without version");
	policy_bad("mode: enforce\nmx: a.example\nmax_age: 1\n",
	    "policy without version");
	policy_bad("version: STSv2\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", "policy version is not STSv1");
	policy_bad("Version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", "policy without version");
	policy_bad("version: STSv1\nmx: a.example\nmax_age: 1\n",
	    "policy without mode");
	policy_bad("version: STSv1\nmode: Enforce\nmx: a.example\n"
	    "max_age: 1\n", "bad policy mode");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example\n",
	    "policy without max_age");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: -1\n", "bad policy max_age");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 12345678901\n", "bad policy max_age");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1d\n", "bad policy max_age");
	policy_bad("version: STSv1\nmode: testing\nmax_age: 1\n",
	    "policy without mx");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "mx: *.*.example\nmax_age: 1\n", "bad policy mx pattern");
	policy_bad("version: STSv1\nmode: enforce\nmx: mail*.example\n"
	    "max_age: 1\n", "bad policy mx pattern");
	policy_bad("version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n",
	    "bad policy mx pattern");
	policy_bad("version: STSv1\nmode: enforce\nmx: a..example\n"
	    "max_age: 1\n", "bad policy mx pattern");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example.\n"
	    "max_age: 1\n", "bad policy mx pattern");
	policy_bad("version: STSv1\nmode: enforce\nmx: a b.example\n"
	    "max_age: 1\n", "bad policy mx pattern");
	policy_bad("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n",
	    "malformed policy value");
	policy_bad("version STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", "malformed policy line");
	policy_bad("version: STSv1\n: x\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n", "malformed policy line");
	policy_bad("<html>\n<body>version: STSv1</body>\n",
	    "malformed policy line");
	policy_bad("version: STSv1\nmode: enforce\rmx: a.example\n"
	    "max_age: 1\n", "malformed policy value");
	policy_bad("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "ext: a\tb\nmax_age: 1\n", "malformed policy value");
	/* 64 KB at most. */
	big = malloc(STS_POLICY_MAX + 2);
	assert_non_null(big);
	memset(big, '\n', STS_POLICY_MAX + 1);
	{
		struct sts_policy p;
		const char *err = NULL;

		assert_int_equal(sts_policy_parse(big, STS_POLICY_MAX + 1, &p,
		    &err), -1);
		assert_string_equal(err, "policy larger than 64 KB");
	}
	free(big);
}

static void
test_pattern_match(void **state)
{
	struct sts_policy p;

	(void)state;
	assert_true(sts_pattern_match("mail.example.com", "mail.example.com"));
	assert_true(sts_pattern_match("mail.example.com", "MAIL.Example.COM"));
	assert_true(sts_pattern_match("mail.example.com",
	    "mail.example.com."));
	assert_false(sts_pattern_match("mail.example.com", "mail.example.co"));
	assert_false(sts_pattern_match("mail.example.com",
	    "xmail.example.com"));
	assert_false(sts_pattern_match("mail.example.com", ""));
	/* 4.1: "*." is exactly one label. */
	assert_true(sts_pattern_match("*.example.net", "mx1.example.net"));
	assert_true(sts_pattern_match("*.example.net", "MX1.EXAMPLE.NET."));
	assert_false(sts_pattern_match("*.example.net", "example.net"));
	assert_false(sts_pattern_match("*.example.net", ".example.net"));
	assert_false(sts_pattern_match("*.example.net", "a.b.example.net"));
	assert_false(sts_pattern_match("*.example.net", "mx1.example.network"));
	assert_false(sts_pattern_match("*.example.net", "mx1.xexample.net"));

	policy_ok("version: STSv1\nmode: enforce\nmx: mail.example.com\n"
	    "mx: *.example.net\nmax_age: 1\n", &p);
	assert_true(sts_mx_match(&p, "mail.example.com"));
	assert_true(sts_mx_match(&p, "b.example.net"));
	assert_false(sts_mx_match(&p, "evil.example.com"));
	assert_false(sts_mx_match(&p, "x.y.example.net"));
	sts_policy_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_valid),
		cmocka_unit_test(test_txt_invalid),
		cmocka_unit_test(test_txt_select),
		cmocka_unit_test(test_policy_valid),
		cmocka_unit_test(test_policy_invalid),
		cmocka_unit_test(test_pattern_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
