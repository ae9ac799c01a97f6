/*
 * test_sasl - unit tests for auth/sasl: the RFC 4616 PLAIN examples and
 * hostile PLAIN messages, the LOGIN two-step exchange, the driver's wire
 * rules (initial response, "=" for empty, "*" to cancel, strict base64,
 * length limit, nothing after the end), and SCRAM-SHA-256 through the
 * driver: the RFC 7677 exchange in base64 byte for byte, full exchanges
 * against a client computed here with OpenSSL, wrong passwords, unknown
 * users, and the NEED_CREDS ordering rules.  The SCRAM message grammar
 * itself is tested in test_scram.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth/base64.h"
#include "auth/sasl.h"
#include "auth/scram.h"
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
	assert_null(sasl_server_new("SCRAM-SHA-1"));
	assert_null(sasl_server_new("SCRAM-SHA-256-PLUS"));
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
	assert_string_equal(buf_cstr(&b), "SCRAM-SHA-256 PLAIN LOGIN");
	buf_reset(&b);
	sasl_mech_list(&b, false);
	assert_string_equal(buf_cstr(&b), "SCRAM-SHA-256");
	buf_free(&b);

	assert_true(sasl_mech_supported("scram-sha-256"));
	assert_true(sasl_mech_is_plaintext("PLAIN"));
	assert_true(sasl_mech_is_plaintext("login"));
	assert_false(sasl_mech_is_plaintext("SCRAM-SHA-256"));
	assert_false(sasl_mech_is_plaintext("CRAM-MD5"));
}

/* RFC 7677 section 3, and the same messages in base64 as they cross the
 * wire (checked with Python's base64). */
#define RFC_CNONCE	"rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_FIRST	"n,,n=user,r=" RFC_CNONCE
#define RFC_FIRST_B64	"biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="
#define RFC_SFIRST	"r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_SFIRST_B64	"cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1" \
			"eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9" \
			"PSxpPTQwOTY="
#define RFC_FINAL	"c=biws,r=" RFC_CNONCE RFC_SNONCE \
			",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_FINAL_B64	"Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEy" \
			"UmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4r" \
			"VXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ=="
#define RFC_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
#define RFC_SFINAL_B64	"dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJz" \
			"amw5NUc0PQ=="

static void
rfc_creds(struct scram_creds *c)
{
	struct buf salt = BUF_INIT;

	assert_int_equal(base64_decode(RFC_SALT, strlen(RFC_SALT), &salt), 0);
	assert_int_equal(scram_creds_make_salt("pencil", salt.data, salt.len,
	    4096, c), 0);
	buf_free(&salt);
}

/* Step with the base64 of a raw message. */
static int
step_raw(struct sasl_server *s, const char *raw, size_t len, struct buf *ch)
{
	struct buf in = BUF_INIT;
	int r;

	base64_encode(raw, len, &in);
	r = sasl_server_step(s, in.data != NULL ? in.data : "", in.len, ch);
	buf_free(&in);
	return r;
}

static void
unb64_ch(const struct buf *ch, struct buf *raw)
{
	buf_reset(raw);
	assert_int_equal(base64_decode(ch->data, ch->len, raw), 0);
	buf_putc(raw, '\0');
	raw->len--;
}

/*
 * The client's half, computed here: from the password and the messages
 * so far, the client-final message and the server-final one to expect.
 */
static void
client_final(const char *password, const char *bare, const char *sfirst,
    const char *gs2, struct buf *msg, struct buf *sfinal)
{
	unsigned char salted[32], ck[32], sk[32], cs[32], svk[32], ss[32];
	unsigned char proof[32];
	struct buf salt = BUF_INIT, am = BUF_INIT, wo = BUF_INIT;
	const char *s = strstr(sfirst, ",s="), *i = strstr(sfirst, ",i=");
	unsigned int n;

	assert_non_null(s);
	assert_non_null(i);
	buf_puts(&wo, "c=");
	base64_encode(gs2, strlen(gs2), &wo);
	buf_putc(&wo, ',');
	buf_append(&wo, sfirst, (size_t)(s - sfirst));
	assert_int_equal(base64_decode(s + 3, (size_t)(i - s - 3), &salt), 0);
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
	    (unsigned char *)salt.data, (int)salt.len, atoi(i + 3),
	    EVP_sha256(), 32, salted), 1);
	buf_printf(&am, "%s,%s,%s", bare, sfirst, buf_cstr(&wo));
	assert_non_null(HMAC(EVP_sha256(), salted, 32,
	    (const unsigned char *)"Client Key", 10, ck, &n));
	assert_non_null(SHA256(ck, 32, sk));
	assert_non_null(HMAC(EVP_sha256(), sk, 32, (unsigned char *)am.data,
	    am.len, cs, &n));
	for (int k = 0; k < 32; k++)
		proof[k] = ck[k] ^ cs[k];
	assert_non_null(HMAC(EVP_sha256(), salted, 32,
	    (const unsigned char *)"Server Key", 10, svk, &n));
	assert_non_null(HMAC(EVP_sha256(), svk, 32, (unsigned char *)am.data,
	    am.len, ss, &n));
	buf_reset(msg);
	buf_printf(msg, "%s,p=", buf_cstr(&wo));
	base64_encode(proof, 32, msg);
	buf_reset(sfinal);
	buf_puts(sfinal, "v=");
	base64_encode(ss, 32, sfinal);
	buf_free(&salt);
	buf_free(&am);
	buf_free(&wo);
}

/*
 * A client exchange up to the client-final step, whose result is
 * returned; the server-first message goes to sfirst.  When that step
 * continues, its challenge must be the server-final message the client
 * computed.
 */
static int
scram_client(struct sasl_server *s, const char *gs2, const char *bare,
    const char *password, const struct scram_creds *creds,
    struct buf *sfirst)
{
	struct buf first = BUF_INIT, ch = BUF_INIT, fin = BUF_INIT;
	struct buf v = BUF_INIT, raw = BUF_INIT;
	int r;

	buf_printf(&first, "%s%s", gs2, bare);
	assert_int_equal(step_raw(s, first.data, first.len, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(ch.len, 0);
	assert_false(sasl_server_authenticated(s));
	assert_int_equal(sasl_server_set_scram(s, creds, &ch),
	    SASL_STEP_CONTINUE);
	unb64_ch(&ch, sfirst);
	client_final(password, bare, buf_cstr(sfirst), gs2, &fin, &v);
	buf_reset(&ch);
	r = step_raw(s, fin.data, fin.len, &ch);
	if (r == SASL_STEP_CONTINUE) {
		unb64_ch(&ch, &raw);
		assert_string_equal(buf_cstr(&raw), buf_cstr(&v));
	} else
		assert_int_equal(ch.len, 0);
	buf_free(&first);
	buf_free(&ch);
	buf_free(&fin);
	buf_free(&v);
	buf_free(&raw);
	return r;
}

static void
test_scram_rfc7677(void **state)
{
	struct sasl_server *s;
	struct scram_creds c;
	struct buf ch = BUF_INIT, in = BUF_INIT, raw = BUF_INIT;
	const struct sasl_creds *cr;

	rfc_creds(&c);
	b64(RFC_FIRST, strlen(RFC_FIRST), &in);
	assert_string_equal(buf_cstr(&in), RFC_FIRST_B64);

	/* With the client-first message as initial response. */
	s = sasl_server_new("scram-sha-256");
	assert_non_null(s);
	assert_string_equal(sasl_server_mech(s), "SCRAM-SHA-256");
	assert_false(sasl_server_authenticated(s));
	assert_null(sasl_server_creds(s));
	assert_int_equal(sasl_server_set_test_nonce(s, RFC_SNONCE), 0);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(ch.len, 0);
	assert_null(sasl_server_error(s));
	cr = sasl_server_creds(s);
	assert_non_null(cr);
	assert_string_equal(cr->authcid, "user");
	assert_string_equal(cr->authzid, "");
	assert_string_equal(cr->passwd, "");
	assert_false(sasl_server_authenticated(s));

	buf_puts(&ch, "+ ");
	assert_int_equal(sasl_server_set_scram(s, &c, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), "+ " RFC_SFIRST_B64);
	buf_consume(&ch, 2);
	unb64_ch(&ch, &raw);
	assert_string_equal(buf_cstr(&raw), RFC_SFIRST);
	assert_false(sasl_server_authenticated(s));

	b64(RFC_FINAL, strlen(RFC_FINAL), &in);
	assert_string_equal(buf_cstr(&in), RFC_FINAL_B64);
	buf_reset(&ch);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), RFC_SFINAL_B64);
	unb64_ch(&ch, &raw);
	assert_string_equal(buf_cstr(&raw), RFC_SFINAL);
	assert_true(sasl_server_authenticated(s));

	/* The client's empty response ends it. */
	buf_reset(&ch);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_DONE);
	assert_int_equal(ch.len, 0);
	assert_true(sasl_server_authenticated(s));
	cr = sasl_server_creds(s);
	assert_string_equal(cr->authcid, "user");
	assert_string_equal(cr->passwd, "");
	assert_false(sasl_creds_authz_differs(cr));
	/* Nothing after the end; it stays authenticated. */
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_ERROR);
	assert_true(sasl_server_authenticated(s));
	assert_int_equal(sasl_server_set_scram(s, &c, &ch), SASL_STEP_ERROR);
	assert_true(sasl_server_authenticated(s));
	sasl_server_free(&s);
	assert_null(s);

	/* Without initial response: an empty challenge first; "=" as the
	 * final empty response. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_set_test_nonce(s, RFC_SNONCE), 0);
	buf_reset(&ch);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(ch.len, 0);
	b64(RFC_FIRST, strlen(RFC_FIRST), &in);
	assert_int_equal(sasl_server_step(s, in.data, in.len, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(sasl_server_set_scram(s, &c, &ch),
	    SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), RFC_SFIRST_B64);
	buf_reset(&ch);
	assert_int_equal(sasl_server_step(s, RFC_FINAL_B64,
	    strlen(RFC_FINAL_B64), &ch), SASL_STEP_CONTINUE);
	assert_string_equal(buf_cstr(&ch), RFC_SFINAL_B64);
	assert_int_equal(sasl_server_step(s, "=", 1, &ch), SASL_STEP_DONE);
	assert_true(sasl_server_authenticated(s));
	sasl_server_free(&s);

	buf_free(&ch);
	buf_free(&in);
	buf_free(&raw);
}

static void
random_printable(char *out, size_t len)
{
	unsigned char r[64];

	assert_true(len < sizeof(r));
	assert_int_equal(RAND_bytes(r, (int)len), 1);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(0x21 + r[i] % 94);
	out[len] = '\0';
}

static void
test_scram_full_exchange(void **state)
{
	struct sasl_server *s;
	struct scram_creds made, stored;
	struct buf db = BUF_INIT, sf = BUF_INIT, ch = BUF_INIT;
	struct buf bare = BUF_INIT;
	char password[33], cnonce[25];
	const struct sasl_creds *cr;

	random_printable(password, 32);
	/* ',' is not allowed in a nonce. */
	random_printable(cnonce, 24);
	for (char *p = cnonce; *p != '\0'; p++)
		if (*p == ',')
			*p = '.';
	/* As the password is set: derive, store as text; at login: parse. */
	assert_int_equal(scram_creds_make(password, 0, &made), 0);
	assert_int_equal(scram_creds_format(&made, &db), 0);
	assert_int_equal(scram_creds_parse(buf_cstr(&db), &stored), 0);
	scram_creds_wipe(&made);

	buf_printf(&bare, "n=j=2Cdoe=3D,r=%s", cnonce);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "n,a=j=2Cdoe=3D,", buf_cstr(&bare),
	    password, &stored, &sf), SASL_STEP_CONTINUE);
	assert_true(sasl_server_authenticated(s));
	/* The server's nonce: the client's, then 32 base64 characters. */
	assert_int_equal(strncmp(sf.data + 2, cnonce, 24), 0);
	assert_int_equal(strchr(sf.data, ',') - sf.data, 2 + 24 + 32);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_DONE);
	cr = sasl_server_creds(s);
	assert_string_equal(cr->authcid, "j,doe=");
	assert_string_equal(cr->authzid, "j,doe=");
	assert_false(sasl_creds_authz_differs(cr));
	assert_string_equal(cr->passwd, "");
	sasl_server_free(&s);

	/* "y": the client could bind but thinks we cannot; a proxy
	 * request shows in the credentials. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "y,a=admin,", buf_cstr(&bare),
	    password, &stored, &sf), SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_DONE);
	assert_true(sasl_creds_authz_differs(sasl_server_creds(s)));
	sasl_server_free(&s);

	buf_free(&db);
	buf_free(&sf);
	buf_free(&ch);
	buf_free(&bare);
}

static void
test_scram_wrong_password(void **state)
{
	struct sasl_server *s;
	struct scram_creds c;
	struct buf sf = BUF_INIT, ch = BUF_INIT;

	rfc_creds(&c);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "n,,", "n=user,r=abcdef", "Pencil",
	    &c, &sf), SASL_STEP_ERROR);
	assert_string_equal(sasl_server_error(s), SASL_ERROR_AUTH_FAILED);
	assert_false(sasl_server_authenticated(s));
	/* The name stays for the log. */
	assert_string_equal(sasl_server_creds(s)->authcid, "user");
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_ERROR);
	assert_false(sasl_server_authenticated(s));
	sasl_server_free(&s);

	/* The right one still works with the same credentials. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "n,,", "n=user,r=abcdef", "pencil",
	    &c, &sf), SASL_STEP_CONTINUE);
	sasl_server_free(&s);
	buf_free(&sf);
	buf_free(&ch);
}

static void
test_scram_unknown_user(void **state)
{
	static const unsigned char secret[SCRAM_SECRET_LEN] = {
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	};
	struct sasl_server *s;
	struct buf sf1 = BUF_INIT, sf2 = BUF_INIT, sf3 = BUF_INIT;
	struct buf ch = BUF_INIT;

	/* Two attempts for the same unknown user: the same salt and count
	 * (HMAC-SHA-256(secret, "user"), first 16 bytes, from Python), a
	 * new nonce, and a failure at the proof like a wrong password. */
	for (int i = 0; i < 2; i++) {
		s = sasl_server_new("SCRAM-SHA-256");
		sasl_server_set_scram_secret(s, secret);
		assert_int_equal(scram_client(s, "n,,", "n=user,r=abcdef",
		    "pencil", NULL, i == 0 ? &sf1 : &sf2), SASL_STEP_ERROR);
		assert_string_equal(sasl_server_error(s),
		    SASL_ERROR_AUTH_FAILED);
		assert_false(sasl_server_authenticated(s));
		assert_string_equal(sasl_server_creds(s)->authcid, "user");
		sasl_server_free(&s);
	}
	assert_string_equal(strstr(sf1.data, ",s="),
	    ",s=gtvIa6il3MD8NLC+yKsuRg==,i=4096");
	assert_string_equal(strstr(sf2.data, ",s="),
	    ",s=gtvIa6il3MD8NLC+yKsuRg==,i=4096");
	assert_memory_not_equal(sf1.data, sf2.data, 2 + 6 + 32);

	/* Another name, another salt. */
	s = sasl_server_new("SCRAM-SHA-256");
	sasl_server_set_scram_secret(s, secret);
	assert_int_equal(scram_client(s, "n,,", "n=usr,r=abcdef", "pencil",
	    NULL, &sf3), SASL_STEP_ERROR);
	assert_string_not_equal(strstr(sf3.data, ",s="), strstr(sf1.data,
	    ",s="));
	sasl_server_free(&s);

	/* No secret: refused rather than a salt that changes each time. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(sasl_server_set_scram(s, NULL, &ch),
	    SASL_STEP_ERROR);
	assert_non_null(sasl_server_error(s));
	assert_int_equal(ch.len, 0);
	assert_int_equal(step_raw(s, "x", 1, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	/* The secret is ignored by other mechanisms. */
	s = sasl_server_new("PLAIN");
	sasl_server_set_scram_secret(s, secret);
	sasl_server_free(&s);

	buf_free(&sf1);
	buf_free(&sf2);
	buf_free(&sf3);
	buf_free(&ch);
}

static void
test_scram_driver_rules(void **state)
{
	static const struct {
		const char	*msg;
		size_t		 len;
	} bad_first[] = {
		{ "p=tls-unique,,n=user,r=abc", 26 },
		{ "n,,m=x,n=user,r=abc", 19 },
		{ "n,,n=user,r=a b", 15 },
		{ "n,,n=us\x01" "er,r=abc", 16 },	/* identity rules */
		{ "n,,n=\xc3\x28,r=abc", 13 },
		{ "n,,n=\xed\xa0\x80,r=abc", 14 },
		{ "n,a=x\ry,n=user,r=abc", 20 },
		{ "n,,n=us\0er,r=abc", 16 },
		{ "", 0 },
	};
	struct sasl_server *s;
	struct scram_creds c, weak;
	struct buf ch = BUF_INIT, sf = BUF_INIT;
	char *big;
	size_t n;

	rfc_creds(&c);
	for (size_t i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]);
	    i++) {
		s = sasl_server_new("SCRAM-SHA-256");
		if (step_raw(s, bad_first[i].msg, bad_first[i].len, &ch) !=
		    SASL_STEP_ERROR)
			fail_msg("accepted #%zu", i);
		assert_non_null(sasl_server_error(s));
		assert_null(sasl_server_creds(s));
		assert_int_equal(ch.len, 0);
		assert_int_equal(sasl_server_set_scram(s, &c, &ch),
		    SASL_STEP_ERROR);
		sasl_server_free(&s);
	}
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=\xc3\x28,r=abc", 13, &ch),
	    SASL_STEP_ERROR);
	assert_string_equal(sasl_server_error(s), "malformed SCRAM user name");
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "p=tls-unique,,n=user,r=abc", 26, &ch),
	    SASL_STEP_ERROR);
	assert_string_equal(sasl_server_error(s),
	    "SCRAM channel binding not supported");
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(s, "=", 1, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(s, "bix=", 4, &ch),
	    SASL_STEP_ERROR);
	assert_string_equal(sasl_server_error(s),
	    "invalid base64 in client response");
	sasl_server_free(&s);

	/* A client response while the credentials are being looked up. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(sasl_server_step(s, "", 0, &ch), SASL_STEP_ERROR);
	assert_int_equal(sasl_server_set_scram(s, &c, &ch), SASL_STEP_ERROR);
	assert_int_equal(ch.len, 0);
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(sasl_server_step(s, "*", 1, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	/* Credentials when none are expected. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_set_scram(s, &c, &ch), SASL_STEP_ERROR);
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_ERROR);
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_set_scram(s, &c, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);
	s = sasl_server_new("PLAIN");
	assert_int_equal(sasl_server_set_scram(s, &c, &ch), SASL_STEP_ERROR);
	assert_int_equal(sasl_server_set_test_nonce(s, "abc"), -1);
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_NEED_CREDS);
	buf_reset(&ch);
	assert_int_equal(sasl_server_set_scram(s, &c, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_set_test_nonce(s, "abc"), -1);
	assert_int_equal(sasl_server_set_scram(s, &c, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	/* Stored credentials we refuse to use. */
	assert_int_equal(scram_creds_parse("SCRAM-SHA-256$1000:" RFC_SALT
	    "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", &weak), 0);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_NEED_CREDS);
	buf_reset(&ch);
	assert_int_equal(sasl_server_set_scram(s, &weak, &ch),
	    SASL_STEP_ERROR);
	assert_string_equal(sasl_server_error(s),
	    "unusable stored SCRAM credentials");
	assert_int_equal(ch.len, 0);
	sasl_server_free(&s);

	/* Cancel at each step; after the server-final message it takes
	 * the verified proof back. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(s, "*", 1, &ch),
	    SASL_STEP_CANCELLED);
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,,n=user,r=abc", 15, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_int_equal(sasl_server_set_scram(s, &c, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "*", 1, &ch),
	    SASL_STEP_CANCELLED);
	assert_false(sasl_server_authenticated(s));
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "n,,", "n=user,r=abc", "pencil", &c,
	    &sf), SASL_STEP_CONTINUE);
	assert_true(sasl_server_authenticated(s));
	assert_int_equal(sasl_server_step(s, "*", 1, &ch),
	    SASL_STEP_CANCELLED);
	assert_false(sasl_server_authenticated(s));
	sasl_server_free(&s);

	/* Anything but an empty answer to the server-final message. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "n,,", "n=user,r=abc", "pencil", &c,
	    &sf), SASL_STEP_CONTINUE);
	assert_int_equal(step_raw(s, "v", 1, &ch), SASL_STEP_ERROR);
	assert_false(sasl_server_authenticated(s));
	assert_non_null(sasl_server_error(s));
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(scram_client(s, "n,,", "n=user,r=abc", "pencil", &c,
	    &sf), SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, "!", 1, &ch), SASL_STEP_ERROR);
	assert_false(sasl_server_authenticated(s));
	sasl_server_free(&s);

	/* A missing response after the empty challenge. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch),
	    SASL_STEP_CONTINUE);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_STEP_ERROR);
	sasl_server_free(&s);

	/* The length limit: a client-first message of exactly
	 * SASL_RESPONSE_MAX base64 characters is taken, a longer one not. */
	n = SASL_RESPONSE_MAX / 4 * 3;
	big = malloc(n + 3);
	assert_non_null(big);
	memcpy(big, "n,,n=user,r=", 12);
	memset(big + 12, 'x', n + 3 - 12);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, big, n, &ch), SASL_STEP_NEED_CREDS);
	sasl_server_free(&s);
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, big, n + 3, &ch), SASL_STEP_ERROR);
	assert_string_equal(sasl_server_error(s), "client response too long");
	sasl_server_free(&s);
	free(big);

	/* Names: escapes decoded, a proxy request visible. */
	s = sasl_server_new("SCRAM-SHA-256");
	assert_int_equal(step_raw(s, "n,a=admin,n=a=2Cb=3Dc,r=abc", 27, &ch),
	    SASL_STEP_NEED_CREDS);
	assert_string_equal(sasl_server_creds(s)->authcid, "a,b=c");
	assert_string_equal(sasl_server_creds(s)->authzid, "admin");
	assert_true(sasl_creds_authz_differs(sasl_server_creds(s)));
	sasl_server_free(&s);

	buf_free(&ch);
	buf_free(&sf);
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
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_full_exchange),
		cmocka_unit_test(test_scram_wrong_password),
		cmocka_unit_test(test_scram_unknown_user),
		cmocka_unit_test(test_scram_driver_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
