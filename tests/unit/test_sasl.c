/*
 * test_sasl - unit tests for auth/sasl: the RFC 4616 PLAIN examples and
 * hostile PLAIN messages, the LOGIN two-step exchange, and the driver's
 * wire rules (initial response, "=" for empty, "*" to cancel, strict
 * base64, length limit, nothing after the end).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64.h"
#include "auth/sasl.h"
#include "core/buf.h"

static int
plain(const char *msg, size_t len, struct sasl_creds *c)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, msg, len);
	r = sasl_plain_decode(copy, len, c);
	free(copy);
	return r;
}

#define PLAIN(lit, c)	plain(lit, sizeof(lit) - 1, c)

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void
test_plain_rfc4616(void **state)
{
	struct sasl_creds c;

	/* RFC 4616 section 4, the two examples. */
	assert_int_equal(PLAIN("\0tim\0tanstaaftanstaaf", &c), 0);
	assert_string_equal(c.authzid, "");
	assert_string_equal(c.authcid, "tim");
	assert_string_equal(c.passwd, "tanstaaftanstaaf");
	assert_false(sasl_creds_authz_differs(&c));

	assert_int_equal(PLAIN("Ursel\0Kurt\0xipj3plmq", &c), 0);
	assert_string_equal(c.authzid, "Ursel");
	assert_string_equal(c.authcid, "Kurt");
	assert_string_equal(c.passwd, "xipj3plmq");
	assert_true(sasl_creds_authz_differs(&c));

	/* authzid equal to authcid is not a proxy request. */
	assert_int_equal(PLAIN("tim\0tim\0pw", &c), 0);
	assert_false(sasl_creds_authz_differs(&c));

	/* UTF-8 identities; any bytes but NUL in the password. */
	assert_int_equal(PLAIN("\0j\xc3\xb6rg@example.org\0p\x01\xff w", &c),
	    0);
	assert_string_equal(c.authcid, "j\xc3\xb6rg@example.org");
	assert_string_equal(c.passwd, "p\x01\xff w");

	sasl_creds_wipe(&c);
	assert_true(all_zero(&c, sizeof(c)));
}

static void
test_plain_hostile(void **state)
{
	struct sasl_creds c;
	char msg[600];

	assert_int_equal(plain("", 0, &c), -1);
	assert_int_equal(PLAIN("timpw", &c), -1);		/* no NUL */
	assert_int_equal(PLAIN("tim\0pw", &c), -1);		/* one NUL */
	assert_int_equal(PLAIN("\0\0pw", &c), -1);		/* no authcid */
	assert_int_equal(PLAIN("\0tim\0", &c), -1);		/* no passwd */
	assert_int_equal(PLAIN("\0\0", &c), -1);
	assert_int_equal(PLAIN("\0tim\0pw\0", &c), -1);	/* third NUL */
	assert_int_equal(PLAIN("\0tim\0p\0w", &c), -1);
	assert_int_equal(PLAIN("\0ti\r\nm\0pw", &c), -1);	/* CRLF */
	assert_int_equal(PLAIN("a\tb\0tim\0pw", &c), -1);
	assert_int_equal(PLAIN("\0ti\x7fm\0pw", &c), -1);
	assert_int_equal(PLAIN("\0\xc3\x28\0pw", &c), -1);	/* bad UTF-8 */
	assert_int_equal(PLAIN("\0\xc0\xaf\0pw", &c), -1);	/* overlong */
	assert_int_equal(PLAIN("\0\xed\xa0\x80\0pw", &c), -1);	/* surrogate */
	assert_true(all_zero(&c, sizeof(c)));			/* wiped */

	/* 255 bytes per field is the limit. */
	memset(msg, 0, sizeof(msg));
	memset(msg + 1, 'u', 255);
	memset(msg + 257, 'p', 255);
	assert_int_equal(plain(msg, 512, &c), 0);
	assert_int_equal(strlen(c.authcid), 255);
	assert_int_equal(strlen(c.passwd), 255);
	memset(msg + 257, 'p', 256);
	assert_int_equal(plain(msg, 513, &c), -1);
	memset(msg, 0, sizeof(msg));
	memset(msg + 1, 'u', 256);
	msg[258] = 'p';
	assert_int_equal(plain(msg, 259, &c), -1);
	memset(msg, 'z', 256);
	msg[256] = '\0';
	msg[257] = 'u';
	msg[258] = '\0';
	msg[259] = 'p';
	assert_int_equal(plain(msg, 260, &c), -1);
	msg[0] = '\0';
	assert_int_equal(plain(msg, 260, &c), -1);	/* 3 NULs now */
}

/* Base64 of a literal with embedded NULs. */
static void
b64(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	base64_encode(s, len, out);
}

static void
test_driver_plain(void **state)
{
	struct sasl_server *s;
	struct buf ch = BUF_INIT, ir = BUF_INIT;
	const struct sasl_creds *c;

	assert_null(sasl_server_new("CRAM-MD5"));
	assert_null(sasl_server_new("SCRAM-SHA-256"));
	assert_null(sasl_server_new(""));
	assert_true(sasl_mech_supported("plain"));
	assert_false(sasl_mech_supported("PLAINX"));

	/* With an initial response (SASL-IR / "AUTH PLAIN <b64>"). */
	s = sasl_server_new("plain");
	assert_non_null(s);
	assert_string_equal(sasl_server_mech(s), "PLAIN");
	assert_null(sasl_server_creds(s));
	assert_string_equal("AHRpbQB0YW5zdGFhZnRhbnN0YWFm",
	    (b64("\0tim\0tanstaaftanstaaf", 21, &ir), buf_cstr(&ir)));
	assert_int_equal(sasl_server_step(s, ir.data, ir.len, &ch),
	    SASL_STEP_DONE);
	assert_int_equal(ch.len, 0);
	c = sasl_server_creds(s);
	assert_non_null(c);
	assert_string_equal(c->authcid, "tim");
	assert_string_equal(c->passwd, "tanstaaftanstaaf");
	assert_null(sasl_server_error(s));
	/* Nothing after the end; the credentials stay. */
	assert_int_equal(sasl_server_step(s, ir.data, ir.len, &ch),
	    SASL_STEP_ERROR);
	assert_non_null(sasl_server_creds(s));
	sasl_server_free(&s);
	assert_null(s);
	sasl_server_free(&s);

	/* Without: an empty challenge ("334 "), then the message. */
	s = sasl_server_new("PLAIN");
	buf_puts(&ch, "334 ");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "334 ");
	b64("Ursel\0Kurt\0xipj3plmq", 20, &ir);
	assert_int_equal(sasl_server_step(s, ir.data, ir.len, &ch),
	    SASL_STEP_DONE);
	assert_true(sasl_creds_authz_differs(sasl_server_creds(s)));
	sasl_server_free(&s);

	/* "=": an empty initial response, which PLAIN cannot accept. */
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, "=", 1, &ch), SASL_STEP_ERROR);
	assert_non_null(sasl_server_error(s));
	assert_null(sasl_server_creds(s));
	sasl_server_free(&s);

	/* Empty line after the challenge: an empty response, an error. */
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	/* Cancel. */
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "*", 1, &ch),
	    SASL_STEP_CANCELLED);
	assert_int_equal(sasl_server_step(s, ir.data, ir.len, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, "*", 1, &ch),
	    SASL_STEP_CANCELLED);
	sasl_server_free(&s);

	buf_free(&ch);
	buf_free(&ir);
}

static void
test_driver_bad_input(void **state)
{
	static const char *bad[] = {
		"AHRpbQB0YW5zdGFhZnRhbnN0YWFm=",	/* bad length */
		"AHRpbQB0YW5zd GFhZnRhbnN0YWFm",	/* whitespace */
		"AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r",
		"AHRpbQB0YW5zdGFhZnRhbnN0YWF=",		/* non-canonical */
		"**",
		"AHRpbQB0YW5zdGFhZnRhbnN0YWFm*",
		"AHRpbQ==B0YW5zdGFhZnRhbnN0YWFm",
	};
	struct sasl_server *s;
	struct buf ch = BUF_INIT;
	char *big;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = sasl_server_new("PLAIN");
		assert_int_equal(sasl_server_step(s, bad[i], strlen(bad[i]),
		    &ch), SASL_STEP_ERROR);
		assert_non_null(sasl_server_error(s));
		assert_int_equal(ch.len, 0);
		sasl_server_free(&s);
	}

	/* A NULL response after the first step is a caller error. */
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	/* Over the length limit, even if it is valid base64. */
	big = malloc(SASL_RESPONSE_MAX + 4);
	assert_non_null(big);
	memset(big, 'A', SASL_RESPONSE_MAX + 4);
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, big, SASL_RESPONSE_MAX + 4, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);
	/* At the limit it is decoded (and then refused as PLAIN). */
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_step(s, big, SASL_RESPONSE_MAX, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);
	free(big);
	buf_free(&ch);
}

static void
test_driver_login(void **state)
{
	struct sasl_server *s;
	struct buf ch = BUF_INIT, in = BUF_INIT;
	const struct sasl_creds *c;

	/* Classic: no initial response. */
	s = sasl_server_new("LOGIN");
	assert_non_null(s);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "VXNlcm5hbWU6");
	buf_reset(&ch);
	b64("tim", 3, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "UGFzc3dvcmQ6");
	assert_null(sasl_server_creds(s));
	buf_reset(&ch);
	b64("tanstaaftanstaaf", 16, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_DONE);
	assert_int_equal(ch.len, 0);
	c = sasl_server_creds(s);
	assert_non_null(c);
	assert_string_equal(c->authzid, "");
	assert_string_equal(c->authcid, "tim");
	assert_string_equal(c->passwd, "tanstaaftanstaaf");
	assert_false(sasl_creds_authz_differs(c));
	sasl_server_free(&s);

	/* User name as initial response: straight to "Password:". */
	s = sasl_server_new("login");
	b64("tim", 3, &in);
	buf_reset(&ch);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "UGFzc3dvcmQ6");
	b64("pw", 2, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_DONE);
	assert_string_equal(sasl_server_creds(s)->passwd, "pw");
	sasl_server_free(&s);

	/* Cancel at the password prompt. */
	s = sasl_server_new("LOGIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	b64("tim", 3, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "*", 1, &ch),
	    SASL_STEP_CANCELLED);
	assert_null(sasl_server_creds(s));
	sasl_server_free(&s);

	/* Empty user name / password, NUL inside, control characters. */
	s = sasl_server_new("LOGIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	s = sasl_server_new("LOGIN");
	assert_int_equal(sasl_server_step(s, "=", 1, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	s = sasl_server_new("LOGIN");
	b64("ti\0m", 4, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);

	s = sasl_server_new("LOGIN");
	b64("tim\r\n", 5, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);

	s = sasl_server_new("LOGIN");
	b64("tim", 3, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_CONTINUE);
	b64("p\0w", 3, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);

	s = sasl_server_new("LOGIN");
	b64("tim", 3, &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	buf_free(&ch);
	buf_free(&in);
}

static void
test_mech_list(void **state)
{
	struct buf b = BUF_INIT;

	sasl_mech_list(&b, true);
	assert_string_equal(buf_cstr(&b), "PLAIN LOGIN");
	buf_reset(&b);
	sasl_mech_list(&b, false);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_rfc4616),
		cmocka_unit_test(test_plain_hostile),
		cmocka_unit_test(test_driver_plain),
		cmocka_unit_test(test_driver_bad_input),
		cmocka_unit_test(test_driver_login),
		cmocka_unit_test(test_mech_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
