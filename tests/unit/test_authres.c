/*
 * test_authres - unit tests for authres/: the Authentication-Results value
 * (RFC 8601 2.2) as formatted for a typical SPF/DKIM/DMARC set, folding
 * at 78 columns, quoting of values that are not tokens (and of hostile
 * ones holding CR/LF), comments, "none"; and recognition of fields that
 * claim our authserv-id through CFWS, comments, quoted strings and case,
 * at every truncation of the value and on random bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authres/authres.h"
#include "core/buf.h"

/* Every line within 78 columns (the first after the field name). */
static void
assert_folded(const char *v, size_t longest_word)
{
	size_t col = 24;

	for (const char *p = v; *p != '\0'; p++) {
		if (p[0] == '\r') {
			assert_int_equal(p[1], '\n');
			assert_int_equal(p[2], '\t');
			if (col > 78)
				assert_true(col - 1 <= longest_word);
			col = 0;
			p++;
			continue;
		}
		assert_true(*p != '\n');
		col++;
	}
	if (col > 78)
		assert_true(col - 1 <= longest_word);
}

/* Unfolds and turns the fold's TAB into the space it replaced. */
static char *
unfold(const char *v)
{
	struct buf b = BUF_INIT;

	for (const char *p = v; *p != '\0'; p++) {
		if (p[0] == '\r' && p[1] == '\n' && p[2] == '\t') {
			buf_putc(&b, ' ');
			p += 2;
		} else
			buf_putc(&b, *p);
	}
	return buf_steal(&b);
}

static void
test_format_example(void **state)
{
	struct authres_item items[] = {
		{ "spf", "pass", NULL, NULL,
		    { { "smtp", "mailfrom", "example.org" } } },
		{ "dkim", "pass", NULL, NULL,
		    { { "header", "d", "example.org" },
		      { "header", "s", "sel" } } },
		{ "dmarc", "pass", NULL, NULL,
		    { { "header", "from", "example.org" } } },
	};
	struct buf b = BUF_INIT;
	char *u;

	authres_format(&b, "mail.example.test", items, 3);
	assert_string_equal(buf_cstr(&b),
	    "mail.example.test; spf=pass smtp.mailfrom=example.org;\r\n"
	    "\tdkim=pass header.d=example.org header.s=sel; dmarc=pass\r\n"
	    "\theader.from=example.org");
	assert_folded(buf_cstr(&b), 0);
	u = unfold(buf_cstr(&b));
	assert_string_equal(u, "mail.example.test; spf=pass "
	    "smtp.mailfrom=example.org; dkim=pass header.d=example.org "
	    "header.s=sel; dmarc=pass header.from=example.org");
	free(u);

	/* Appends: whatever is in the buffer stays. */
	buf_reset(&b);
	buf_puts(&b, "X");
	authres_format(&b, "mx.test", items, 1);
	assert_string_equal(buf_cstr(&b),
	    "Xmx.test; spf=pass smtp.mailfrom=example.org");
	buf_free(&b);
}

static void
test_format_none(void **state)
{
	struct buf b = BUF_INIT;

	authres_format(&b, "mail.example.test", NULL, 0);
	assert_string_equal(buf_cstr(&b), "mail.example.test; none");
	buf_reset(&b);
	/* An authserv-id that is not a token is quoted. */
	authres_format(&b, "odd id", NULL, 0);
	assert_string_equal(buf_cstr(&b), "\"odd id\"; none");
	buf_free(&b);
}

static void
test_format_quoting(void **state)
{
	struct authres_item items[] = {
		{ "spf", "fail", NULL, "sender IP is 192.0.2.1",
		    { { "smtp", "mailfrom", "user@example.org" },
		      { "smtp", "helo", "mx.example.org" } } },
		{ "dkim", "fail", "signature verification failed", NULL,
		    { { "header", "d", "example.org" },
		      { "header", "b", "abc/+=" } } },
		{ "spf", "none", NULL, NULL,
		    { { "smtp", "mailfrom", "@example.org" } } },
		{ "auth", "pass", NULL, NULL,
		    { { "smtp", "auth", "a b@example.org" } } },
		{ "iprev", "pass", NULL, "a (nested) \\ comment",
		    { { "policy", "iprev", "192.0.2.1" } } },
	};
	struct buf b = BUF_INIT;
	char *u;

	authres_format(&b, "mx.test", items, 5);
	u = unfold(buf_cstr(&b));
	assert_string_equal(u, "mx.test; spf=fail (sender IP is 192.0.2.1) "
	    "smtp.mailfrom=user@example.org smtp.helo=mx.example.org; "
	    "dkim=fail reason=\"signature verification failed\" "
	    "header.d=example.org header.b=\"abc/+=\"; spf=none "
	    "smtp.mailfrom=@example.org; auth=pass "
	    "smtp.auth=\"a b@example.org\"; iprev=pass "
	    "(a \\(nested\\) \\\\ comment) policy.iprev=192.0.2.1");
	assert_folded(buf_cstr(&b), 0);
	free(u);
	buf_free(&b);
}

/* Nothing from a value can end the field or start another one. */
static void
test_format_hostile(void **state)
{
	struct authres_item items[] = {
		{ "spf", "pass", "x\r\nBcc: a@evil.example", "c\r\nX-Y: z",
		    { { "smtp", "mailfrom", "e\"vil\\\r\n@example.org" },
		      { "smtp", "helo", "" } } },
		{ "s p f", "pa;ss", NULL, NULL,
		    { { "smtp", "mail from", NULL } } },
	};
	struct buf b = BUF_INIT;
	const char *v;
	char *u;

	authres_format(&b, "mx.test\r\nX: y", items, 2);
	v = buf_cstr(&b);
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			/* Only our own folds. */
			assert_memory_equal(p - (*p == '\n'), "\r\n\t", 3);
			p += *p == '\r';
		}
	}
	u = unfold(v);
	assert_non_null(strstr(u, "\"mx.test  X: y\"; spf=pass"));
	assert_non_null(strstr(u, "reason=\"x  Bcc: a@evil.example\""));
	assert_non_null(strstr(u, "(c X-Y: z)"));
	assert_non_null(strstr(u,
	    "smtp.mailfrom=\"e\\\"vil\\\\  @example.org\""));
	assert_non_null(strstr(u, "smtp.helo=\"\""));
	/* Keywords keep only their token characters. */
	assert_non_null(strstr(u, "; spf=pass smtp.mailfrom=\"\""));
	free(u);
	buf_free(&b);
}

static void
test_format_folding(void **state)
{
	struct authres_item items[3];
	struct buf b = BUF_INIT, longw = BUF_INIT;
	char *u;

	memset(items, 0, sizeof(items));
	items[0].method = "spf";
	items[0].result = "softfail";
	items[0].comment = "domain of transitioning someone@example.org "
	    "does not designate 2001:db8:85a3:8d3:1319:8a2e:370:7348 as "
	    "permitted sender";
	items[0].props[0] = (struct authres_prop){ "smtp", "mailfrom",
	    "someone@example.org" };
	for (int i = 0; i < 100; i++)
		buf_putc(&longw, 'a' + i % 26);
	items[1].method = "dkim";
	items[1].result = "pass";
	items[1].props[0] = (struct authres_prop){ "header", "d",
	    "example.org" };
	items[1].props[1] = (struct authres_prop){ "header", "b",
	    buf_cstr(&longw) };
	for (int k = 2; k < AUTHRES_MAX_PROPS; k++)
		items[1].props[k] = (struct authres_prop){ "header", "x",
		    "y" };
	items[2].method = "dmarc";
	items[2].result = "fail";
	items[2].props[0] = (struct authres_prop){ "header", "from",
	    "example.org" };
	authres_format(&b, "a-rather-long-authserv-id.mail.example.test",
	    items, 3);
	assert_folded(buf_cstr(&b), 109);
	u = unfold(buf_cstr(&b));
	assert_non_null(strstr(u, "(domain of transitioning "
	    "someone@example.org does not designate "
	    "2001:db8:85a3:8d3:1319:8a2e:370:7348 as permitted sender)"));
	assert_non_null(strstr(u, "header.x=y header.x=y header.x=y "
	    "header.x=y; dmarc=fail"));
	free(u);
	/* The 100-byte word sits alone on its line. */
	assert_non_null(strstr(buf_cstr(&b), "\r\n\theader.b="));
	buf_free(&b);
	buf_free(&longw);
}

static void
claims(const char *v, bool want)
{
	bool got = authres_claims_id(v, strlen(v), "mail.example.test");

	if (got != want)
		fail_msg("\"%s\": %d, want %d", v, got, want);
}

static void
test_claims(void **state)
{
	claims("mail.example.test; spf=pass smtp.mailfrom=example.org", true);
	claims("mail.example.test", true);
	claims("MAIL.Example.TEST; none", true);
	claims("  \t mail.example.test 1; none", true);
	claims("\r\n\tmail.example.test;\r\n\tspf=pass", true);
	claims("(comment) mail.example.test; none", true);
	claims("(a (nested \\) comment) here)mail.example.test(x); none",
	    true);
	claims("\"mail.example.test\"; none", true);
	claims("\"Mail.Ex\\ample.test\"; none", true);
	claims("mail.example.test(comment); none", true);

	claims("", false);
	claims("   ", false);
	claims("; none", false);
	claims("mail.example.test.evil; none", false);
	claims("evil.mail.example.test; none", false);
	claims("mail.example.tes; none", false);
	claims("mail.example.testx", false);
	claims("example.test; none", false);
	claims("(unterminated mail.example.test; none", false);
	claims("(a (b) mail.example.test; none", false);
	claims("\"mail.example.test", false);
	claims("\"mail.example.test\\", false);
	claims("\"mail.example.test \"; none", false);
	claims("\"\"; none", false);
	claims("mail.example.test@x; none", true);	/* "@" ends a token */
	claims("x mail.example.test; none", false);

	/* Only len bytes count. */
	assert_true(authres_claims_id("mail.example.testing", 17,
	    "mail.example.test"));
	assert_false(authres_claims_id("mail.example.test", 16,
	    "mail.example.test"));
	assert_true(authres_claims_id("mail.example.test\0; x", 21,
	    "mail.example.test"));
	/* An empty id claims nothing. */
	assert_false(authres_claims_id("x; none", 7, ""));
	assert_false(authres_claims_id("\"\"; none", 8, ""));
}

static void
test_claims_every_prefix(void **state)
{
	const char *v = " (c (d) \\( e) \"mail.example.test\" ; spf=pass";
	const char *t = "\tMAIL.EXAMPLE.TEST (x); dkim=none";
	size_t idend;

	/* The quoted id is complete once its closing quote is in. */
	idend = (size_t)(strstr(v, "test\"") - v) + 5;
	for (size_t n = 0; n <= strlen(v); n++)
		assert_int_equal(authres_claims_id(v, n, "mail.example.test"),
		    n >= idend);
	/* A token id at exactly its length. */
	idend = 18;
	for (size_t n = 0; n <= strlen(t); n++)
		assert_int_equal(authres_claims_id(t, n, "mail.example.test"),
		    n >= idend);
}

static void
test_claims_random(void **state)
{
	static const char alpha[] = "()\\\" \t\r\nmail.example.test;@x";
	char buf[64];
	uint32_t seed = 1;

	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(round % 64);

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		(void)authres_claims_id(buf, n, "mail.example.test");
		(void)authres_field_claims_id(buf, n, "mail.example.test");
	}
}

static void
test_field_claims(void **state)
{
	static const struct {
		const char	*f;
		bool		 want;
	} t[] = {
		{ "Authentication-Results: mail.example.test; none", true },
		{ "authentication-results:mail.example.test; none", true },
		{ "AUTHENTICATION-RESULTS \t: (x)\r\n mail.example.test;",
		    true },
		{ "Authentication-Results: other.example; none", false },
		{ "Authentication-Results mail.example.test; none", false },
		{ "X-Authentication-Results: mail.example.test; none", false },
		{ "Authentication-Results-Original: mail.example.test", false },
		{ "Authentication-Result: mail.example.test", false },
		{ "ARC-Authentication-Results: i=1; mail.example.test", false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (authres_field_claims_id(t[i].f, strlen(t[i].f),
		    "mail.example.test") != t[i].want)
			fail_msg("\"%s\"", t[i].f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_example),
		cmocka_unit_test(test_format_none),
		cmocka_unit_test(test_format_quoting),
		cmocka_unit_test(test_format_hostile),
		cmocka_unit_test(test_format_folding),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_claims_every_prefix),
		cmocka_unit_test(test_claims_random),
		cmocka_unit_test(test_field_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
