/*
 * test_dmarc - unit tests for dmarc/: record parsing (RFC 7489 6.3, 6.4,
 * 6.6.3, RFC 9091 np) on good, bad and truncated records; From-domain
 * extraction (6.6.1) from header values of every shape, including hostile
 * ones and every prefix of them; the Public Suffix List (the list's own
 * test vectors against the installed file, the built-in fallback, rule
 * parsing, punycode); and the whole evaluation against a table-driven
 * mock resolver, answering synchronously and deferred: discovery with
 * organizational-domain fallback, relaxed and strict alignment, p/sp/np,
 * pct sampling with a deterministic random function, temperror and
 * permerror, freeing while a query is outstanding.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "dmarc/dmarc.h"
#include "dmarc/psl.h"
#include "dns/dns.h"

/*
 * Records.
 */
static void
test_record_full(void **state)
{
	struct dmarc_record r;
	const char *error;
	const char *s = "v=DMARC1; p=reject; sp=quarantine; np=reject; "
	    "adkim=s; aspf=s; pct=25; ri=3600; fo=1:d; rf=afrf; "
	    "rua=mailto:agg@example.org,mailto:x@example.net!10m; "
	    "ruf=mailto:fail@example.org";

	assert_true(dmarc_record_is_dmarc(s, strlen(s)));
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.np, DMARC_POLICY_REJECT);
	assert_false(r.p_fallback);
	assert_true(r.adkim_strict);
	assert_true(r.aspf_strict);
	assert_int_equal(r.pct, 25);
	assert_int_equal(r.ri, 3600);
	assert_string_equal(r.fo, "1:d");
	assert_string_equal(r.rf, "afrf");
	assert_string_equal(r.rua,
	    "mailto:agg@example.org,mailto:x@example.net!10m");
	assert_string_equal(r.ruf, "mailto:fail@example.org");
	dmarc_record_clear(&r);
}

static void
test_record_defaults(void **state)
{
	struct dmarc_record r;
	const char *error;

	assert_int_equal(dmarc_record_parse("v=DMARC1;p=none", 15, &r,
	    &error), 0);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_UNSET);
	assert_int_equal(r.np, DMARC_POLICY_UNSET);
	assert_false(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.fo, "0");
	assert_string_equal(r.rf, "afrf");
	assert_null(r.rua);
	assert_null(r.ruf);
	dmarc_record_clear(&r);

	/* Spaces, tabs, case, a trailing ";", unknown and repeated tags. */
	const char *s = " v = DMARC1 ;\tP = Quarantine ; x=y; p=reject;"
	    " ADKIM=S ; aspf = r ; foo ; ;";
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
	assert_true(r.adkim_strict);
	assert_false(r.aspf_strict);
	dmarc_record_clear(&r);

	/* Bad optional values fall back to their defaults (6.3). */
	s = "v=DMARC1; p=reject; pct=101; ri=-1; fo=x; adkim=q; np=maybe";
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.ri, 86400);
	assert_string_equal(r.fo, "0");
	assert_false(r.adkim_strict);
	assert_int_equal(r.np, DMARC_POLICY_UNSET);
	dmarc_record_clear(&r);
	s = "v=DMARC1; p=reject; pct=0; fo=0 : 1:s";
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_int_equal(r.pct, 0);
	assert_string_equal(r.fo, "0 : 1:s");
	dmarc_record_clear(&r);
}

static void
test_record_p_fallback(void **state)
{
	struct dmarc_record r;
	const char *error;
	const char *s;

	/* No usable p=, but a valid rua: act as p=none (6.6.3). */
	s = "v=DMARC1; p=bogus; rua=mailto:a@example.org";
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_true(r.p_fallback);
	dmarc_record_clear(&r);
	s = "v=DMARC1; rua=junk, mailto:a@example.org";
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_true(r.p_fallback);
	dmarc_record_clear(&r);
	s = "v=DMARC1; p=reject; sp=odd; rua=mailto:a@example.org";
	assert_int_equal(dmarc_record_parse(s, strlen(s), &r, &error), 0);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_UNSET);
	dmarc_record_clear(&r);

	static const char *const bad[] = {
		"v=DMARC1", "v=DMARC1;", "v=DMARC1; p=", "v=DMARC1; p=bogus",
		"v=DMARC1; p=reject; sp=x", "v=DMARC1; rua=junk",
		"v=DMARC1; p=bogus; rua=:x", "v=DMARC1; p=bogus; rua=a: b",
		"v=DMARC2; p=none", "v=spf1 -all", "p=none; v=DMARC1", "",
		"v=DMARC1 p=none", "v=DMARC10; p=none", "vv=DMARC1; p=none",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (dmarc_record_parse(bad[i], strlen(bad[i]), &r,
		    &error) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(error);
		dmarc_record_clear(&r);
	}
}

static void
test_record_hostile(void **state)
{
	const char *s = "v=DMARC1; p=reject; sp=none; np=quarantine; "
	    "pct=50; rua=mailto:a@b.example; ruf=mailto:c@d.example; fo=1";
	struct dmarc_record r;
	const char *error;
	char *big;

	for (size_t n = 0; n <= strlen(s); n++) {
		(void)dmarc_record_parse(s, n, &r, &error);
		dmarc_record_clear(&r);
	}
	/* An embedded NUL ends nothing: the length rules. */
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=none\0; p=x", 23, &r,
	    &error), -1);
	dmarc_record_clear(&r);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=none;\0x=y", 22, &r,
	    &error), 0);
	dmarc_record_clear(&r);
	big = xmalloc(DMARC_RECORD_MAX + 20);
	memset(big, ' ', DMARC_RECORD_MAX + 20);
	memcpy(big, "v=DMARC1; p=none;", 17);
	assert_int_equal(dmarc_record_parse(big, DMARC_RECORD_MAX + 20, &r,
	    &error), -1);
	dmarc_record_clear(&r);
	assert_int_equal(dmarc_record_parse(big, DMARC_RECORD_MAX, &r,
	    &error), 0);
	dmarc_record_clear(&r);
	free(big);
}

/*
 * From.
 */
static void
from_ok(const char *value, const char *want)
{
	struct buf b = BUF_INIT;
	enum dmarc_from_status st;

	st = dmarc_from_domain(value, strlen(value), &b);
	if (st != DMARC_FROM_OK)
		fail_msg("\"%s\": status %d", value, (int)st);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
from_bad(const char *value, enum dmarc_from_status want)
{
	struct buf b = BUF_INIT;
	enum dmarc_from_status st;

	st = dmarc_from_domain(value, strlen(value), &b);
	if (st != want)
		fail_msg("\"%s\": status %d, want %d", value, (int)st,
		    (int)want);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_from_domain(void **state)
{
	from_ok("alice@example.org", "example.org");
	from_ok(" Alice <alice@Example.ORG>", "example.org");
	from_ok("\"Smith, John\" <john@example.org>", "example.org");
	from_ok("\"a@b, c\"@example.org", "example.org");
	from_ok("\"Joe Q. Public\" <john.q.public@example.com>",
	    "example.com");
	from_ok("john@example.com (John, \"the\" (nested) one)",
	    "example.com");
	from_ok("(c) John (x) <(y) john (z) @ (w) example.com (v) > (u)",
	    "example.com");
	from_ok("John\r\n Doe\r\n <john@example.com>", "example.com");
	from_ok("<@route1.example,@route2.example:joe@example.net>",
	    "example.net");
	from_ok("joe@mail.example.net.", "mail.example.net");
	from_ok("=?utf-8?q?J=C3=B6rg?= <jorg@example.de>", "example.de");
	from_ok("joe@b\xc3\xbc" "cher.example", "xn--bcher-kva.example");
	from_ok("\"quoted \\\" <not@this.example>\" <real@that.example>",
	    "that.example");
	from_ok("Undisclosed: joe@example.org;", "example.org");
	from_ok("joe@example.org,", "example.org");
	from_ok(", joe@example.org", "example.org");

	from_bad("", DMARC_FROM_NONE);
	from_bad("   ", DMARC_FROM_NONE);
	from_bad("<>", DMARC_FROM_NONE);
	from_bad("undisclosed-recipients:;", DMARC_FROM_NONE);
	from_bad("(just a comment)", DMARC_FROM_NONE);
	from_bad("a@example.org, b@example.org", DMARC_FROM_MULTIPLE);
	from_bad("A <a@example.org>, B <b@example.net>", DMARC_FROM_MULTIPLE);
	from_bad("group: a@example.org, b@example.org;", DMARC_FROM_MULTIPLE);
	from_bad("a@example.org b@example.org", DMARC_FROM_INVALID);
	from_bad("joe", DMARC_FROM_INVALID);
	from_bad("@example.org", DMARC_FROM_INVALID);
	from_bad("joe@", DMARC_FROM_INVALID);
	from_bad("joe@[192.0.2.1]", DMARC_FROM_INVALID);
	from_bad("joe@exa mple..org", DMARC_FROM_INVALID);
	from_bad("joe@-example.org", DMARC_FROM_INVALID);
	from_bad("joe@example.org>", DMARC_FROM_INVALID);
	from_bad("<joe@example.org", DMARC_FROM_INVALID);
	from_bad("<a@b.example> <c@d.example>", DMARC_FROM_INVALID);
	from_bad("\"unterminated <joe@example.org>", DMARC_FROM_INVALID);
	from_bad("(unterminated joe@example.org", DMARC_FROM_INVALID);
	from_bad("joe@[192.0.2.1", DMARC_FROM_INVALID);
	from_bad("joe@ex\xff" "ample.org", DMARC_FROM_INVALID);
	from_bad("<joe:x@example.org>", DMARC_FROM_INVALID);
	from_bad("<a;b@example.org>", DMARC_FROM_INVALID);
}

static void
test_from_hostile(void **state)
{
	static const char *const vals[] = {
		"\"A (B)\" <@r.example,@s.example:a\\\"b@example.org> (c (d))",
		"g: \"x, y\" <a@b.example>, (z) c@d.example;, e@[1.2.3.4]",
		"((((((((((((((((((((((((((((((((((((((((",
		"\\\\\\\\\"\"\"<<<>>>@@@:::;;;,,,",
	};
	struct buf b = BUF_INIT;
	char big[20000];

	for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
		for (size_t n = 0; n <= strlen(vals[v]); n++) {
			buf_reset(&b);
			(void)dmarc_from_domain(vals[v], n, &b);
		}
	}
	/* Deep nesting costs nothing; long values are linear. */
	memset(big, '(', sizeof(big));
	assert_int_equal(dmarc_from_domain(big, sizeof(big), &b),
	    DMARC_FROM_INVALID);
	for (size_t i = 0; i < sizeof(big); i += 2) {
		big[i] = 'a';
		big[i + 1] = ',';
	}
	assert_int_equal(dmarc_from_domain(big, sizeof(big), &b),
	    DMARC_FROM_MULTIPLE);
	for (size_t i = 0; i < sizeof(big); i += 2) {
		big[i] = 'a';
		big[i + 1] = ' ';
	}
	assert_int_equal(dmarc_from_domain(big, sizeof(big), &b),
	    DMARC_FROM_INVALID);
	buf_free(&b);
}

/*
 * Public Suffix List.
 */
static void
test_psl_punycode(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "\xe5\x85\xac\xe5\x8f\xb8.cn", "xn--55qx5d.cn" },
		{ "\xe7\xbd\x91\xe7\xbb\x9c.cn", "xn--io0a7i.cn" },
		{ "a\xc3\xa9roport.ci", "xn--aroport-bya.ci" },
		{ "M\xc3\xbc" "nchen.DE", "xn--mnchen-3ya.de" },
		{ "\xe4\xb8\xad\xe5\x9b\xbd", "xn--fiqs8s" },
		{ "EXAMPLE.com.", "example.com." },
		{ "", "" },
		/* RFC 3492 7.1 (L): a mix of ASCII and CJK. */
		{ "3\xe5\xb9\xb4" "B\xe7\xb5\x84\xe9\x87\x91\xe5\x85\xab"
		    "\xe5\x85\x88\xe7\x94\x9f",
		    "xn--3b-ww4c5e180e575a65lsy2b" },
	};
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xe5\x85", "\x80x",
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		buf_reset(&b);
		assert_int_equal(psl_to_ascii(ok[i].in, strlen(ok[i].in), &b),
		    0);
		assert_string_equal(buf_cstr(&b), ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		buf_puts(&b, "keep");
		assert_int_equal(psl_to_ascii(bad[i], strlen(bad[i]), &b), -1);
		assert_string_equal(buf_cstr(&b), "keep");
	}
	/* A label whose punycode exceeds 63 bytes. */
	buf_reset(&b);
	{
		struct buf in = BUF_INIT;

		/* 30 distinct CJK characters: about 4 bytes each. */
		for (unsigned i = 0; i < 30; i++) {
			unsigned cp = 0x4e00 + i * 397;

			buf_putc(&in, (char)(0xe0 | (cp >> 12)));
			buf_putc(&in, (char)(0x80 | ((cp >> 6) & 0x3f)));
			buf_putc(&in, (char)(0x80 | (cp & 0x3f)));
		}
		assert_int_equal(psl_to_ascii(in.data, in.len, &b), -1);
		assert_int_equal(b.len, 0);
		/* The same character 30 times is short enough. */
		buf_reset(&in);
		for (int i = 0; i < 30; i++)
			buf_puts(&in, "\xe4\xb8\xad");
		assert_int_equal(psl_to_ascii(in.data, in.len, &b), 0);
		assert_true(b.len <= 63);
		buf_free(&in);
	}
	buf_free(&b);
}

static void
org_is(const struct psl *psl, const char *name, const char *want)
{
	const char *got = psl_org_domain(psl, name);

	if (want == NULL && got != NULL)
		fail_msg("%s: org \"%s\", want none", name, got);
	if (want != NULL && (got == NULL || strcasecmp(got, want) != 0))
		fail_msg("%s: org \"%s\", want \"%s\"", name,
		    got != NULL ? got : "(none)", want);
}

/* The vectors of the list's test_psl.txt that the 2023 list still holds. */
static void
test_psl_system_file(void **state)
{
	struct psl *psl;
	const char *error;
	bool fallback;

	if (access(PSL_DEFAULT_PATH, R_OK) != 0)
		skip();
	psl = psl_load(NULL, &fallback, &error);
	assert_non_null(psl);
	assert_false(fallback);
	assert_true(psl_count(psl) > 5000);
	org_is(psl, "COM", NULL);
	org_is(psl, "example.COM", "example.com");
	org_is(psl, "WwW.example.COM", "example.com");
	org_is(psl, "b.example.uk.com", "example.uk.com");
	org_is(psl, "a.b.example.uk.com", "example.uk.com");
	org_is(psl, "test.ac", "test.ac");
	org_is(psl, "mm", NULL);
	org_is(psl, "c.mm", NULL);
	org_is(psl, "b.c.mm", "b.c.mm");
	org_is(psl, "a.b.c.mm", "b.c.mm");
	org_is(psl, "jp", NULL);
	org_is(psl, "test.jp", "test.jp");
	org_is(psl, "www.test.jp", "test.jp");
	org_is(psl, "ac.jp", NULL);
	org_is(psl, "test.ac.jp", "test.ac.jp");
	org_is(psl, "www.test.ac.jp", "test.ac.jp");
	org_is(psl, "kyoto.jp", NULL);
	org_is(psl, "test.kyoto.jp", "test.kyoto.jp");
	org_is(psl, "ide.kyoto.jp", NULL);
	org_is(psl, "b.ide.kyoto.jp", "b.ide.kyoto.jp");
	org_is(psl, "a.b.ide.kyoto.jp", "b.ide.kyoto.jp");
	org_is(psl, "c.kobe.jp", NULL);
	org_is(psl, "b.c.kobe.jp", "b.c.kobe.jp");
	org_is(psl, "a.b.c.kobe.jp", "b.c.kobe.jp");
	org_is(psl, "city.kobe.jp", "city.kobe.jp");
	org_is(psl, "www.city.kobe.jp", "city.kobe.jp");
	org_is(psl, "ck", NULL);
	org_is(psl, "test.ck", NULL);
	org_is(psl, "b.test.ck", "b.test.ck");
	org_is(psl, "a.b.test.ck", "b.test.ck");
	org_is(psl, "www.ck", "www.ck");
	org_is(psl, "www.www.ck", "www.ck");
	org_is(psl, "us", NULL);
	org_is(psl, "test.us", "test.us");
	org_is(psl, "www.test.us", "test.us");
	org_is(psl, "ak.us", NULL);
	org_is(psl, "test.ak.us", "test.ak.us");
	org_is(psl, "www.test.ak.us", "test.ak.us");
	org_is(psl, "k12.ak.us", NULL);
	org_is(psl, "test.k12.ak.us", "test.k12.ak.us");
	org_is(psl, "www.test.k12.ak.us", "test.k12.ak.us");
	org_is(psl, "xn--85x722f.com.cn", "xn--85x722f.com.cn");
	org_is(psl, "xn--55qx5d.cn", NULL);
	org_is(psl, "xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn");
	org_is(psl, "www.xn--85x722f.xn--55qx5d.cn",
	    "xn--85x722f.xn--55qx5d.cn");
	org_is(psl, "shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn");
	org_is(psl, "xn--fiqs8s", NULL);
	org_is(psl, "www.example.co.uk", "example.co.uk");
	org_is(psl, "user.github.io", "user.github.io");
	/* Not in the list: the implicit "*" rule. */
	org_is(psl, "a.b.example", "b.example");
	org_is(psl, "example", NULL);
	/* Not domains. */
	org_is(psl, "", NULL);
	org_is(psl, "a..example.com", NULL);
	org_is(psl, ".example.com", NULL);
	/* A trailing dot is ignored (and kept). */
	org_is(psl, "www.example.com.", "example.com.");
	assert_string_equal(psl_public_suffix(psl, "a.b.example.co.uk"),
	    "co.uk");
	assert_string_equal(psl_public_suffix(psl, "foo"), "foo");
	assert_null(psl_public_suffix(psl, ""));
	psl_free(&psl);
	assert_null(psl);
}

static void
test_psl_fallback_and_parse(void **state)
{
	struct psl *psl;
	const char *error;
	bool fallback;
	const char *text = "// comment\r\n\r\n  co.uk  trailing words\r\n"
	    "*.wild.example\n!not.wild.example\nbad*.example\n!\n*.\n"
	    "\xe5\x85\xac\xe5\x8f\xb8.cn\n.dot.example\nfoo.bar.\n";

	psl = psl_load("/nonexistent/psl.dat", &fallback, &error);
	assert_non_null(psl);
	assert_true(fallback);
	org_is(psl, "www.example.co.uk", "example.co.uk");
	org_is(psl, "a.b.example.com.au", "example.com.au");
	org_is(psl, "www.ck", "www.ck");
	org_is(psl, "x.y.ck", "x.y.ck");
	org_is(psl, "example.org", "example.org");
	org_is(psl, "www.example.org", "example.org");
	psl_free(&psl);

	/* Not a regular file. */
	assert_null(psl_load("/", &fallback, &error));
	assert_false(fallback);

	psl = psl_parse(text, strlen(text));
	assert_int_equal(psl_count(psl), 4);
	org_is(psl, "www.example.co.uk", "example.co.uk");
	org_is(psl, "a.b.wild.example", "a.b.wild.example");
	org_is(psl, "b.wild.example", NULL);
	org_is(psl, "x.not.wild.example", "not.wild.example");
	org_is(psl, "x.y.xn--55qx5d.cn", "y.xn--55qx5d.cn");
	org_is(psl, "x.bad.example", "bad.example");
	psl_free(&psl);

	/* An empty list still has the implicit rule. */
	psl = psl_parse("", 0);
	assert_int_equal(psl_count(psl), 0);
	org_is(psl, "a.b.c", "b.c");
	psl_free(&psl);
}

/*
 * The mock resolver (TXT, A, AAAA, MX presence).
 */
#define T_TIMEOUT	9001

struct zrr {
	const char	*name;
	int		 type;
	const char	*data;
};

struct pending {
	char		*name;
	int		 type;
	dns_cb		*cb;
	void		*ctx;
};

struct mock {
	const struct zrr *zone;
	bool		 deferred;
	struct pending	 q[4];
	size_t		 nq;
	struct buf	 log;
};

static void
mock_answer(const struct zrr *zone, const char *name, int type, dns_cb *cb,
    void *ctx)
{
	struct dns_answer ans;
	const char *txt[16];
	size_t txt_len[16];
	struct dns_mx mx[16];
	struct sockaddr_storage addr[16];
	bool exists = false, timeout = false;
	size_t n = 0;

	memset(&ans, 0, sizeof(ans));
	memset(addr, 0, sizeof(addr));
	memset(mx, 0, sizeof(mx));
	for (const struct zrr *r = zone; r->name != NULL; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		exists = true;
		if (r->type == T_TIMEOUT)
			timeout = true;
		if (r->type != type)
			continue;
		txt[n] = r->data;
		txt_len[n] = r->data != NULL ? strlen(r->data) : 0;
		addr[n].ss_family = type == DNS_T_AAAA ? AF_INET6 : AF_INET;
		n++;
	}
	ans.type = type;
	if (n > 0) {
		ans.status = DNS_OK;
		ans.n = n;
		ans.txt = txt;
		ans.txt_len = txt_len;
		ans.mx = mx;
		ans.addr = addr;
	} else if (timeout)
		ans.status = DNS_TEMPFAIL;
	else
		ans.status = exists ? DNS_NODATA : DNS_NXDOMAIN;
	cb(ctx, &ans);
}

static void
mock_lookup(void *impl, const char *name, int type, dns_cb *cb, void *ctx)
{
	struct mock *m = impl;

	buf_printf(&m->log, "%d %s\n", type, name);
	if (!m->deferred) {
		mock_answer(m->zone, name, type, cb, ctx);
		return;
	}
	assert_true(m->nq < 4);
	m->q[m->nq].name = xstrdup(name);
	m->q[m->nq].type = type;
	m->q[m->nq].cb = cb;
	m->q[m->nq].ctx = ctx;
	m->nq++;
}

static bool
mock_pump(struct mock *m)
{
	struct pending p;

	if (m->nq == 0)
		return false;
	p = m->q[0];
	memmove(&m->q[0], &m->q[1], (m->nq - 1) * sizeof(m->q[0]));
	m->nq--;
	mock_answer(m->zone, p.name, p.type, p.cb, p.ctx);
	free(p.name);
	return true;
}

#define TXT(n, d)	{ n, DNS_T_TXT, d }
#define A(n)		{ n, DNS_T_A, NULL }
#define MX(n)		{ n, DNS_T_MX, NULL }
#define TIMEOUT(n)	{ n, T_TIMEOUT, NULL }

static const struct zrr zone[] = {
	TXT("_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine; "
	    "np=reject; rua=mailto:d@example.org"),
	TXT("_dmarc.example.org", "some other text"),
	A("example.org"),
	A("www.example.org"),
	MX("mx-only.example.org"),
	TXT("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s"),
	TXT("_dmarc.sub.strict.example", "v=DMARC1; p=none"),
	TXT("_dmarc.half.example", "v=DMARC1; p=reject; pct=50"),
	TXT("_dmarc.q.example", "v=DMARC1; p=quarantine; pct=30"),
	TXT("_dmarc.zero.example", "v=DMARC1; p=reject; pct=0"),
	TXT("_dmarc.nosp.example", "v=DMARC1; p=quarantine"),
	TIMEOUT("_dmarc.temp.example"),
	TXT("_dmarc.two.example", "v=DMARC1; p=none"),
	TXT("_dmarc.two.example", "v=DMARC1; p=reject"),
	TXT("_dmarc.broken.example", "v=DMARC1; p=maybe"),
	TXT("_dmarc.ruaonly.example", "v=DMARC1; rua=mailto:r@ruaonly.example"),
	TXT("_dmarc.sub.other.example", "v=spf1 -all"),
	TXT("_dmarc.other.example", "v=DMARC1; p=reject"),
	TXT("_dmarc.example.co.uk", "v=DMARC1; p=reject"),
	TXT("_dmarc.co.uk", "v=DMARC1; p=none"),
	{ NULL, 0, NULL }
};

struct doutcome {
	int		 calls;
	enum dmarc_status result;
	enum dmarc_policy policy;
	enum dmarc_policy disposition;
	bool		 sampled_out;
	bool		 nonexistent;
	bool		 spf_aligned;
	bool		 dkim_aligned;
	char		*policy_domain;
	char		*org;
	char		*from;
	char		*dkim_domain;
	char		*reason;
	unsigned	 queries;
	unsigned	 pct;
};

static void
doutcome_free(struct doutcome *o)
{
	free(o->policy_domain);
	free(o->org);
	free(o->from);
	free(o->dkim_domain);
	free(o->reason);
	memset(o, 0, sizeof(*o));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
ddone(void *ctx, const struct dmarc_result *r)
{
	struct doutcome *o = ctx;

	o->calls++;
	o->result = r->result;
	o->policy = r->policy;
	o->disposition = r->disposition;
	o->sampled_out = r->sampled_out;
	o->nonexistent = r->nonexistent;
	o->spf_aligned = r->spf_aligned;
	o->dkim_aligned = r->dkim_aligned;
	o->policy_domain = dup_or_null(r->policy_domain);
	o->org = dup_or_null(r->org_domain);
	o->from = dup_or_null(r->from_domain);
	o->dkim_domain = dup_or_null(r->dkim_domain);
	assert_non_null(r->reason);
	o->reason = xstrdup(r->reason);
	o->queries = r->queries;
	o->pct = r->record != NULL ? r->record->pct : 999;
	assert_true((r->record != NULL) == (r->policy_domain != NULL));
}

static uint32_t
fixed_random(void *ctx)
{
	return *(uint32_t *)ctx;
}

static struct psl *test_psl;

static int
psl_setup(void **state)
{
	const char *list = "co.uk\nexample\n";

	test_psl = psl_parse(list, strlen(list));
	return 0;
}

static int
psl_teardown(void **state)
{
	psl_free(&test_psl);
	return 0;
}

/* Runs a check in both resolver modes; returns the deferred outcome. */
static void
drun(const char *from, bool spf_pass, const char *spf_domain,
    const char *const *dkim, size_t n_dkim, uint32_t roll,
    struct doutcome *o, struct buf *log)
{
	struct doutcome sync;

	for (int mode = 0; mode < 2; mode++) {
		struct mock m;
		struct dns_resolver res = { mock_lookup, &m };
		struct dmarc_check *c;
		struct dmarc_auth_inputs in;
		struct doutcome *out = mode == 0 ? &sync : o;

		memset(&m, 0, sizeof(m));
		m.zone = zone;
		m.deferred = mode == 1;
		memset(&in, 0, sizeof(in));
		in.spf_pass = spf_pass;
		in.spf_domain = spf_domain;
		in.dkim_domains = dkim;
		in.n_dkim = n_dkim;
		in.random = fixed_random;
		in.random_ctx = &roll;
		memset(out, 0, sizeof(*out));
		c = dmarc_check_new(&res, test_psl);
		dmarc_check_run(c, from, &in, ddone, out);
		while (mock_pump(&m))
			;
		assert_int_equal(out->calls, 1);
		dmarc_check_free(&c);
		if (mode == 1 && log != NULL) {
			buf_reset(log);
			buf_append(log, m.log.data, m.log.len);
		}
		buf_free(&m.log);
	}
	/* Both modes agree. */
	assert_int_equal(sync.result, o->result);
	assert_int_equal(sync.disposition, o->disposition);
	assert_int_equal(sync.queries, o->queries);
	doutcome_free(&sync);
}

static void
test_eval_alignment(void **state)
{
	static const char *const d_org[] = { "example.org" };
	static const char *const d_other[] = { "evil.example", "EXAMPLE.org." };
	static const char *const d_sub[] = { "mail.example.org" };
	struct doutcome o;
	struct buf log = BUF_INIT;

	/* Relaxed SPF: MAIL FROM a subdomain of the From domain. */
	drun("example.org", true, "bounces.example.org", NULL, 0, 0, &o, &log);
	assert_int_equal(o.result, DMARC_PASS);
	assert_true(o.spf_aligned);
	assert_false(o.dkim_aligned);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	assert_string_equal(o.policy_domain, "example.org");
	assert_string_equal(buf_cstr(&log), "16 _dmarc.example.org\n");
	doutcome_free(&o);

	/* SPF aligned but not pass: no. */
	drun("example.org", false, "example.org", NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	assert_false(o.spf_aligned);
	doutcome_free(&o);

	/* DKIM: the second signature aligns (case, trailing dot). */
	drun("example.org", false, NULL, d_other, 2, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_PASS);
	assert_true(o.dkim_aligned);
	assert_string_equal(o.dkim_domain, "EXAMPLE.org.");
	doutcome_free(&o);

	/* Subdomain From, org record: relaxed DKIM d=org aligns. */
	drun("www.example.org", false, NULL, d_org, 1, 0, &o, &log);
	assert_int_equal(o.result, DMARC_PASS);
	assert_string_equal(o.policy_domain, "example.org");
	assert_string_equal(o.org, "example.org");
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	assert_string_equal(buf_cstr(&log),
	    "16 _dmarc.www.example.org\n16 _dmarc.example.org\n");
	doutcome_free(&o);

	/* Strict: a subdomain does not align, equal names do. */
	drun("strict.example", true, "mail.strict.example", d_sub, 1, 0, &o,
	    NULL);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	doutcome_free(&o);
	drun("strict.example", true, "STRICT.example", NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_PASS);
	doutcome_free(&o);

	/* The record at the From domain wins over the org's (p=none). */
	drun("sub.strict.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_string_equal(o.policy_domain, "sub.strict.example");
	assert_int_equal(o.policy, DMARC_POLICY_NONE);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	doutcome_free(&o);

	/* PSL: co.uk is a public suffix, d=co.uk never aligns. */
	static const char *const d_couk[] = { "co.uk" };
	static const char *const d_ex_couk[] = { "dkim.example.co.uk" };
	drun("mail.example.co.uk", false, NULL, d_couk, 1, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_string_equal(o.org, "example.co.uk");
	assert_string_equal(o.policy_domain, "example.co.uk");
	doutcome_free(&o);
	drun("mail.example.co.uk", false, NULL, d_ex_couk, 1, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_PASS);
	doutcome_free(&o);
	buf_free(&log);
}

static void
test_eval_subdomain_policies(void **state)
{
	struct doutcome o;
	struct buf log = BUF_INIT;

	/* An existing subdomain: sp. */
	drun("www.example.org", false, NULL, NULL, 0, 0, &o, &log);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_false(o.nonexistent);
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	assert_string_equal(buf_cstr(&log), "16 _dmarc.www.example.org\n"
	    "16 _dmarc.example.org\n1 www.example.org\n");
	doutcome_free(&o);

	/* Only an MX: exists. */
	drun("mx-only.example.org", false, NULL, NULL, 0, 0, &o, &log);
	assert_false(o.nonexistent);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	assert_string_equal(buf_cstr(&log), "16 _dmarc.mx-only.example.org\n"
	    "16 _dmarc.example.org\n1 mx-only.example.org\n"
	    "28 mx-only.example.org\n15 mx-only.example.org\n");
	doutcome_free(&o);

	/* No A, AAAA, MX: np (RFC 9091). */
	drun("ghost.example.org", false, NULL, NULL, 0, 0, &o, NULL);
	assert_true(o.nonexistent);
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	assert_int_equal(o.queries, 5);
	doutcome_free(&o);

	/* No sp, no np: p, and no existence queries. */
	drun("ghost.nosp.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	assert_false(o.nonexistent);
	assert_int_equal(o.queries, 2);
	doutcome_free(&o);

	/* The org domain itself: p, even for np. */
	drun("example.org", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	assert_int_equal(o.queries, 1);
	doutcome_free(&o);
	buf_free(&log);
}

static void
test_eval_pct(void **state)
{
	struct doutcome o;

	/* pct=50: rolls 0..49 apply reject, 50..99 get quarantine. */
	drun("half.example", false, NULL, NULL, 0, 49, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	assert_false(o.sampled_out);
	doutcome_free(&o);
	drun("half.example", false, NULL, NULL, 0, 50, &o, NULL);
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	assert_true(o.sampled_out);
	doutcome_free(&o);
	drun("half.example", false, NULL, NULL, 0, 1049, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	doutcome_free(&o);
	/* quarantine outside the sample: none. */
	drun("q.example", false, NULL, NULL, 0, 29, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	doutcome_free(&o);
	drun("q.example", false, NULL, NULL, 0, 30, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	assert_true(o.sampled_out);
	doutcome_free(&o);
	/* pct=0: never applied. */
	drun("zero.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.disposition, DMARC_POLICY_QUARANTINE);
	assert_int_equal(o.pct, 0);
	doutcome_free(&o);
	/* A pass is never sampled. */
	drun("half.example", true, "half.example", NULL, 0, 99, &o, NULL);
	assert_int_equal(o.result, DMARC_PASS);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	assert_false(o.sampled_out);
	doutcome_free(&o);
}

static void
test_eval_errors(void **state)
{
	struct doutcome o;
	struct buf log = BUF_INIT;

	/* No record anywhere. */
	drun("nothing.example", true, "nothing.example", NULL, 0, 0, &o, &log);
	assert_int_equal(o.result, DMARC_NONE);
	assert_null(o.policy_domain);
	assert_int_equal(o.policy, DMARC_POLICY_NONE);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	assert_string_equal(buf_cstr(&log), "16 _dmarc.nothing.example\n");
	doutcome_free(&o);
	drun("a.b.nothing.example", false, NULL, NULL, 0, 0, &o, &log);
	assert_int_equal(o.result, DMARC_NONE);
	assert_string_equal(buf_cstr(&log), "16 _dmarc.a.b.nothing.example\n"
	    "16 _dmarc.nothing.example\n");
	doutcome_free(&o);

	/* DNS failure: temperror, no fallback. */
	drun("temp.example", false, NULL, NULL, 0, 0, &o, &log);
	assert_int_equal(o.result, DMARC_TEMPERROR);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	assert_string_equal(buf_cstr(&log), "16 _dmarc.temp.example\n");
	doutcome_free(&o);

	/* Several records; an unusable one. */
	drun("two.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_PERMERROR);
	doutcome_free(&o);
	drun("broken.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_PERMERROR);
	assert_non_null(strstr(o.reason, "p="));
	doutcome_free(&o);

	/* No p but a rua: p=none. */
	drun("ruaonly.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_int_equal(o.disposition, DMARC_POLICY_NONE);
	doutcome_free(&o);

	/* A TXT that is not DMARC at the subdomain: on to the org. */
	drun("sub.other.example", false, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_string_equal(o.policy_domain, "other.example");
	assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
	doutcome_free(&o);

	/* Bad From domains. */
	static const char *const bad[] = { "", "exa mple.org", "-x.example",
	    "a..b", "[192.0.2.1]", "\xff.example" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		drun(bad[i], true, bad[i], NULL, 0, 0, &o, &log);
		assert_int_equal(o.result, DMARC_PERMERROR);
		assert_int_equal(o.queries, 0);
		doutcome_free(&o);
	}
	drun(NULL, true, NULL, NULL, 0, 0, &o, NULL);
	assert_int_equal(o.result, DMARC_PERMERROR);
	doutcome_free(&o);

	/* Normalized: case, trailing dot. */
	drun("Example.ORG.", true, "example.org", NULL, 0, 0, &o, &log);
	assert_int_equal(o.result, DMARC_PASS);
	assert_string_equal(o.from, "example.org");
	assert_string_equal(buf_cstr(&log), "16 _dmarc.example.org\n");
	doutcome_free(&o);

	/* A From domain too long for "_dmarc." goes to the org domain. */
	{
		struct buf d = BUF_INIT;

		for (int i = 0; i < 3; i++)
			buf_printf(&d, "a%062d.", i);
		buf_printf(&d, "b%048d.example.org", 0);
		assert_int_equal(d.len, 253);
		drun(buf_cstr(&d), false, NULL, NULL, 0, 0, &o, &log);
		assert_int_equal(o.result, DMARC_FAIL);
		assert_true(o.nonexistent);
		assert_int_equal(o.disposition, DMARC_POLICY_REJECT);
		assert_int_equal(o.queries, 4);
		assert_int_equal(strncmp(buf_cstr(&log),
		    "16 _dmarc.example.org\n1 a0", 26), 0);
		doutcome_free(&o);
		buf_free(&d);
	}
	buf_free(&log);
}

static int dfree_calls;

static void
dfree_done(void *ctx, const struct dmarc_result *r)
{
	dfree_calls++;
}

static void
test_free_pending(void **state)
{
	struct mock m;
	struct dns_resolver res = { mock_lookup, &m };
	struct dmarc_check *c;
	struct dmarc_auth_inputs in;

	memset(&m, 0, sizeof(m));
	memset(&in, 0, sizeof(in));
	m.zone = zone;
	m.deferred = true;
	c = dmarc_check_new(&res, test_psl);
	dmarc_check_run(c, "www.example.org", &in, dfree_done, NULL);
	assert_true(mock_pump(&m));
	assert_int_equal(m.nq, 1);
	dmarc_check_free(&c);
	assert_null(c);
	assert_true(mock_pump(&m));
	assert_false(mock_pump(&m));
	assert_int_equal(dfree_calls, 0);
	buf_free(&m.log);
}

struct drerun {
	struct dmarc_check *c;
	struct dmarc_auth_inputs in;
	int		 calls;
	enum dmarc_status r[2];
};

static void
drerun_done(void *ctx, const struct dmarc_result *r)
{
	struct drerun *x = ctx;

	x->r[x->calls++] = r->result;
	if (x->calls == 1)
		dmarc_check_run(x->c, "example.org", &x->in, drerun_done, x);
	else
		dmarc_check_free(&x->c);
}

static void
test_rerun_from_done(void **state)
{
	for (int mode = 0; mode < 2; mode++) {
		struct mock m;
		struct dns_resolver res = { mock_lookup, &m };
		struct drerun x;

		memset(&m, 0, sizeof(m));
		memset(&x, 0, sizeof(x));
		m.zone = zone;
		m.deferred = mode == 1;
		x.in.spf_pass = true;
		x.in.spf_domain = "example.org";
		x.c = dmarc_check_new(&res, test_psl);
		dmarc_check_run(x.c, "temp.example", &x.in, drerun_done, &x);
		while (mock_pump(&m))
			;
		assert_int_equal(x.calls, 2);
		assert_int_equal(x.r[0], DMARC_TEMPERROR);
		assert_int_equal(x.r[1], DMARC_PASS);
		assert_null(x.c);
		buf_free(&m.log);
	}
}

static void
test_names(void **state)
{
	assert_string_equal(dmarc_status_name(DMARC_NONE), "none");
	assert_string_equal(dmarc_status_name(DMARC_PASS), "pass");
	assert_string_equal(dmarc_status_name(DMARC_FAIL), "fail");
	assert_string_equal(dmarc_status_name(DMARC_TEMPERROR), "temperror");
	assert_string_equal(dmarc_status_name(DMARC_PERMERROR), "permerror");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_NONE), "none");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE),
	    "quarantine");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_REJECT), "reject");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_full),
		cmocka_unit_test(test_record_defaults),
		cmocka_unit_test(test_record_p_fallback),
		cmocka_unit_test(test_record_hostile),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_from_hostile),
		cmocka_unit_test(test_psl_punycode),
		cmocka_unit_test(test_psl_system_file),
		cmocka_unit_test(test_psl_fallback_and_parse),
		cmocka_unit_test(test_eval_alignment),
		cmocka_unit_test(test_eval_subdomain_policies),
		cmocka_unit_test(test_eval_pct),
		cmocka_unit_test(test_eval_errors),
		cmocka_unit_test(test_free_pending),
		cmocka_unit_test(test_rerun_from_done),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, psl_setup, psl_teardown);
}
