/*
 * test_scram - unit tests for auth/scram: the RFC 7677 section 3 example
 * (keys, every message byte for byte), stored credentials (make, the
 * text form both ways and its malformed variants, the unknown-user
 * stand-in), and the server's message checks against hostile
 * client-first and client-final messages: every prefix, every one-byte
 * change, every rule of the RFC 5802 grammar.  The client side is
 * computed here, independently, with OpenSSL.
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
#include <openssl/sha.h>

#include "auth/base64.h"
#include "auth/scram.h"
#include "core/buf.h"

/* RFC 7677 section 3. */
#define RFC_USER	"user"
#define RFC_PASS	"pencil"
#define RFC_CNONCE	"rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_FIRST	"n,,n=user,r=" RFC_CNONCE
#define RFC_SFIRST	"r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_FINAL_WO	"c=biws,r=" RFC_CNONCE RFC_SNONCE
#define RFC_PROOF	"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_FINAL	RFC_FINAL_WO ",p=" RFC_PROOF
#define RFC_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/*
 * StoredKey and ServerKey for "pencil" with that salt, from Python's
 * hashlib/hmac; the proof and signature above follow from them, which is
 * what ties them to the RFC.
 */
#define RFC_STOREDKEY	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
#define RFC_SERVERKEY	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_STORED	"SCRAM-SHA-256$4096:" RFC_SALT "$" RFC_STOREDKEY ":" \
			    RFC_SERVERKEY

#define ERR_ORDER	"SCRAM exchange out of order"
#define ERR_FIRST	"malformed SCRAM client-first message"
#define ERR_FINAL	"malformed SCRAM client-final message"
#define ERR_AUTH	"authentication failed"

/* A literal and its length, NULs included. */
#define L(lit)		lit, sizeof(lit) - 1

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
b64_is(const void *p, size_t len, const char *expect)
{
	struct buf b = BUF_INIT;

	base64_encode(p, len, &b);
	assert_string_equal(buf_cstr(&b), expect);
	buf_free(&b);
}

static void
unb64(const char *s, void *out, size_t expect_len)
{
	struct buf b = BUF_INIT;

	assert_int_equal(base64_decode(s, strlen(s), &b), 0);
	assert_int_equal(b.len, expect_len);
	memcpy(out, b.data, b.len);
	buf_free(&b);
}

static void
rfc_creds(struct scram_creds *c)
{
	unsigned char salt[16];

	unb64(RFC_SALT, salt, sizeof(salt));
	assert_int_equal(scram_creds_make_salt(RFC_PASS, salt, sizeof(salt),
	    4096, c), 0);
}

/* The message layer sees exact-size heap copies, so ASan catches any
 * read past the end. */
static int
first(struct scram_server *x, const char *msg, size_t len, const char **err)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, msg, len);
	r = scram_server_client_first(x, copy, len, err);
	free(copy);
	return r;
}

static int
final(struct scram_server *x, const char *msg, size_t len, struct buf *out,
    const char **err)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, msg, len);
	r = scram_server_client_final(x, copy, len, out, err);
	free(copy);
	return r;
}

/* A server that has sent the RFC's server-first message. */
static struct scram_server *
rfc_server(const struct scram_creds *c)
{
	struct scram_server *x = scram_server_new();
	struct buf out = BUF_INIT;
	const char *err = NULL;

	assert_int_equal(scram_server_set_nonce(x, RFC_SNONCE), 0);
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), 0);
	assert_int_equal(scram_server_first(x, c, &out, &err), 0);
	assert_string_equal(buf_cstr(&out), RFC_SFIRST);
	buf_free(&out);
	return x;
}

/*
 * The client's half: from the password and the messages so far, the
 * client-final message (wo + ",p=" proof) and the server-final message
 * the client expects.
 */
static void
client_final(const char *password, const char *first_bare,
    const char *sfirst, const char *wo, struct buf *msg, struct buf *sfinal)
{
	unsigned char salted[32], ck[32], sk[32], cs[32], svk[32], ss[32];
	unsigned char proof[32];
	struct buf salt = BUF_INIT, am = BUF_INIT;
	const char *s = strstr(sfirst, ",s="), *i = strstr(sfirst, ",i=");
	unsigned int n;

	assert_non_null(s);
	assert_non_null(i);
	assert_int_equal(base64_decode(s + 3, (size_t)(i - s - 3), &salt), 0);
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
	    (unsigned char *)salt.data, (int)salt.len, atoi(i + 3),
	    EVP_sha256(), 32, salted), 1);
	buf_printf(&am, "%s,%s,%s", first_bare, sfirst, wo);
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
	buf_printf(msg, "%s,p=", wo);
	base64_encode(proof, 32, msg);
	buf_reset(sfinal);
	buf_puts(sfinal, "v=");
	base64_encode(ss, 32, sfinal);
	buf_free(&salt);
	buf_free(&am);
}

static void
test_creds_rfc7677(void **state)
{
	struct scram_creds c, p;
	struct buf b = BUF_INIT;

	rfc_creds(&c);
	assert_int_equal(c.iter, 4096);
	assert_int_equal(c.salt_len, 16);
	assert_false(c.fake);
	b64_is(c.salt, c.salt_len, RFC_SALT);
	b64_is(c.stored_key, 32, RFC_STOREDKEY);
	b64_is(c.server_key, 32, RFC_SERVERKEY);

	assert_int_equal(scram_creds_format(&c, &b), 0);
	assert_string_equal(buf_cstr(&b), RFC_STORED);
	/* Appends. */
	assert_int_equal(scram_creds_format(&c, &b), 0);
	assert_string_equal(buf_cstr(&b), RFC_STORED RFC_STORED);

	assert_int_equal(scram_creds_parse(RFC_STORED, &p), 0);
	assert_int_equal(p.iter, 4096);
	assert_int_equal(p.salt_len, 16);
	assert_memory_equal(p.salt, c.salt, 16);
	assert_memory_equal(p.stored_key, c.stored_key, 32);
	assert_memory_equal(p.server_key, c.server_key, 32);
	assert_false(p.fake);

	/* iter 0 is the default; the salt may live in *out. */
	assert_int_equal(scram_creds_make_salt(RFC_PASS, c.salt, c.salt_len,
	    0, &c), 0);
	assert_int_equal(c.iter, 4096);
	b64_is(c.salt, c.salt_len, RFC_SALT);
	b64_is(c.stored_key, 32, RFC_STOREDKEY);

	scram_creds_wipe(&c);
	assert_true(all_zero(&c, sizeof(c)));
	buf_free(&b);
}

static void
test_creds_make(void **state)
{
	struct scram_creds a, b, p;
	struct buf s = BUF_INIT;
	unsigned char salt[65];

	assert_int_equal(scram_creds_make("correct horse", 0, &a), 0);
	assert_int_equal(a.iter, SCRAM_ITER_DEFAULT);
	assert_int_equal(a.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(scram_creds_make("correct horse", 5000, &b), 0);
	assert_int_equal(b.iter, 5000);
	/* Fresh salt each time, hence different keys. */
	assert_memory_not_equal(a.salt, b.salt, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);

	/* Round trip through the text form. */
	assert_int_equal(scram_creds_format(&b, &s), 0);
	assert_int_equal(strncmp(buf_cstr(&s), "SCRAM-SHA-256$5000:", 19), 0);
	assert_int_equal(scram_creds_parse(buf_cstr(&s), &p), 0);
	assert_int_equal(p.iter, 5000);
	assert_int_equal(p.salt_len, b.salt_len);
	assert_memory_equal(p.salt, b.salt, b.salt_len);
	assert_memory_equal(p.stored_key, b.stored_key, 32);
	assert_memory_equal(p.server_key, b.server_key, 32);

	/* Refused arguments leave *out wiped. */
	assert_int_equal(scram_creds_make("pw", 4095, &a), -1);
	assert_true(all_zero(&a, sizeof(a)));
	assert_int_equal(scram_creds_make("pw", 1, &a), -1);
	assert_int_equal(scram_creds_make("pw", (uint32_t)SCRAM_ITER_MAX + 1,
	    &a), -1);
	assert_int_equal(scram_creds_make("", 0, &a), -1);
	assert_true(all_zero(&a, sizeof(a)));
	memset(salt, 7, sizeof(salt));
	assert_int_equal(scram_creds_make_salt("pw", salt, 15, 0, &a), -1);
	assert_int_equal(scram_creds_make_salt("pw", salt, 65, 0, &a), -1);
	assert_int_equal(scram_creds_make_salt("pw", salt, 64, 0, &a), 0);
	assert_int_equal(a.salt_len, 64);
	buf_reset(&s);
	assert_int_equal(scram_creds_format(&a, &s), 0);
	assert_int_equal(scram_creds_parse(buf_cstr(&s), &p), 0);
	assert_int_equal(p.salt_len, 64);
	assert_memory_equal(p.salt, salt, 64);

	/* Format refuses what parse would refuse, and fakes. */
	buf_reset(&s);
	b = a;
	b.salt_len = 15;
	assert_int_equal(scram_creds_format(&b, &s), -1);
	b.salt_len = 65;
	assert_int_equal(scram_creds_format(&b, &s), -1);
	b = a;
	b.iter = 0;
	assert_int_equal(scram_creds_format(&b, &s), -1);
	b.iter = (uint32_t)SCRAM_ITER_MAX + 1;
	assert_int_equal(scram_creds_format(&b, &s), -1);
	b = a;
	b.fake = true;
	assert_int_equal(scram_creds_format(&b, &s), -1);
	assert_int_equal(s.len, 0);
	buf_free(&s);
}

static void
test_creds_parse_bad(void **state)
{
#define SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define K1	RFC_STOREDKEY
#define K2	RFC_SERVERKEY
	static const char *bad[] = {
		"",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-256",
		"scram-sha-256$4096:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-1$4096:" SALT "$" K1 ":" K2,
		"{SCRAM-SHA-256}4096," SALT "," K1 "," K2,
		" SCRAM-SHA-256$4096:" SALT "$" K1 ":" K2,
		/* iteration count */
		"SCRAM-SHA-256$:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$0:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$04096:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$+4096:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$-4096:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$ 4096:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$4096 :" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$4o96:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$2147483648:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$4294967296:" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$99999999999999999999999:" SALT "$" K1 ":" K2,
		/* structure */
		"SCRAM-SHA-256$4096",
		"SCRAM-SHA-256$4096:" SALT,
		"SCRAM-SHA-256$4096:" SALT "$",
		"SCRAM-SHA-256$4096:" SALT "$" K1,
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":",
		"SCRAM-SHA-256$4096$" SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$4096:" SALT ":" K1 ":" K2,
		"SCRAM-SHA-256$4096:" SALT "$" K1 "$" K2,
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":" K2 ":",
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":" K2 "$",
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":" K2 ":" K2,
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":" K2 "\n",
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":" K2 " ",
		"SCRAM-SHA-256$4096: " SALT "$" K1 ":" K2,
		"SCRAM-SHA-256$4096:$" K1 ":" K2,
		"SCRAM-SHA-256$4096:" SALT "$:" K2,
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":",
		/* base64: non-canonical, unpadded, foreign alphabet */
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gR==$" K1 ":" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ$" K1 ":" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$" K1 ":" K2,
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsU_jb6gQ==$" K1 ":" K2,
		"SCRAM-SHA-256$4096:" SALT "$"
		    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY:" K2,
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":"
		    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dV=",
		/* lengths: 15- and 65-byte salts, 31- and 33-byte keys */
		"SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAA$" K1 ":" K2,
		"SCRAM-SHA-256$4096:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$" K1 ":" K2,
		"SCRAM-SHA-256$4096:" SALT "$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:" K2,
		"SCRAM-SHA-256$4096:" SALT "$" K1 ":"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct scram_creds c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0x55, sizeof(c));
		if (scram_creds_parse(bad[i], &c) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(all_zero(&c, sizeof(c)));
	}

	/* Edges that parse: the smallest and largest counts (a weak count
	 * is refused only when used), and a 64-byte salt. */
	assert_int_equal(scram_creds_parse("SCRAM-SHA-256$1:" SALT "$" K1 ":"
	    K2, &c), 0);
	assert_int_equal(c.iter, 1);
	assert_int_equal(scram_creds_parse("SCRAM-SHA-256$2147483647:" SALT
	    "$" K1 ":" K2, &c), 0);
	assert_int_equal(c.iter, 2147483647);
	assert_int_equal(scram_creds_parse("SCRAM-SHA-256$4096:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAA==$" K1 ":" K2, &c), 0);
	assert_int_equal(c.salt_len, 64);
	assert_true(all_zero(c.salt, 64));
#undef SALT
#undef K1
#undef K2
}

static void
test_creds_fake(void **state)
{
	unsigned char secret[32], secret2[32];
	struct scram_creds a, b, c;

	memset(secret, 1, sizeof(secret));
	memset(secret2, 2, sizeof(secret2));
	scram_creds_fake("user", secret, &a);
	scram_creds_fake("user", secret, &b);
	assert_true(a.fake);
	assert_int_equal(a.iter, 4096);
	assert_int_equal(a.salt_len, 16);
	/* HMAC-SHA-256(32 x 0x01, "user")[0..16), from Python's hmac. */
	b64_is(a.salt, a.salt_len, "gtvIa6il3MD8NLC+yKsuRg==");
	/* Stable salt, random keys. */
	assert_memory_equal(a.salt, b.salt, 16);
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);
	assert_memory_not_equal(a.server_key, b.server_key, 32);
	scram_creds_fake("User", secret, &c);
	assert_memory_not_equal(a.salt, c.salt, 16);
	scram_creds_fake("user", secret2, &c);
	assert_memory_not_equal(a.salt, c.salt, 16);
	scram_creds_fake("", secret, &c);
	assert_int_equal(c.salt_len, 16);
}

static void
test_server_rfc7677(void **state)
{
	struct scram_creds c;
	struct scram_server *x;
	struct buf out = BUF_INIT, msg = BUF_INIT, sf = BUF_INIT;
	const char *err = NULL;

	rfc_creds(&c);
	x = scram_server_new();
	assert_string_equal(scram_server_authcid(x), "");
	assert_int_equal(scram_server_set_nonce(x, RFC_SNONCE), 0);
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), 0);
	assert_string_equal(scram_server_authcid(x), "user");
	assert_string_equal(scram_server_authzid(x), "");
	buf_puts(&out, "keep:");
	assert_int_equal(scram_server_first(x, &c, &out, &err), 0);
	assert_string_equal(buf_cstr(&out), "keep:" RFC_SFIRST);

	/* Our own client computes the RFC's proof and signature. */
	client_final(RFC_PASS, "n=user,r=" RFC_CNONCE, RFC_SFIRST,
	    RFC_FINAL_WO, &msg, &sf);
	assert_string_equal(buf_cstr(&msg), RFC_FINAL);
	assert_string_equal(buf_cstr(&sf), RFC_SFINAL);

	buf_reset(&out);
	assert_int_equal(final(x, RFC_FINAL, strlen(RFC_FINAL), &out, &err),
	    0);
	assert_string_equal(buf_cstr(&out), RFC_SFINAL);
	/* Done: nothing more is accepted. */
	assert_int_equal(final(x, RFC_FINAL, strlen(RFC_FINAL), &out, &err),
	    -1);
	assert_string_equal(err, ERR_ORDER);
	scram_server_free(&x);
	assert_null(x);
	scram_server_free(&x);

	/* The parsed stored form serves as well. */
	assert_int_equal(scram_creds_parse(RFC_STORED, &c), 0);
	x = rfc_server(&c);
	buf_reset(&out);
	assert_int_equal(final(x, RFC_FINAL, strlen(RFC_FINAL), &out, &err),
	    0);
	assert_string_equal(buf_cstr(&out), RFC_SFINAL);
	scram_server_free(&x);

	buf_free(&out);
	buf_free(&msg);
	buf_free(&sf);
}

/* Every prefix and every one-byte change of the RFC's client-final. */
static void
test_server_final_mutations(void **state)
{
	static const char repl[] = { ',', '=', 'A', 'p', 'c', 'r', '\0',
	    '\x7f', ' ' };
	const char *msg = RFC_FINAL, *err;
	size_t len = strlen(msg);
	struct scram_creds c;
	struct scram_server *x;
	struct buf out = BUF_INIT;
	char *m = malloc(len);

	assert_non_null(m);
	rfc_creds(&c);
	for (size_t cut = 0; cut < len; cut++) {
		x = rfc_server(&c);
		err = NULL;
		assert_int_equal(final(x, msg, cut, &out, &err), -1);
		assert_non_null(err);
		assert_int_equal(out.len, 0);
		scram_server_free(&x);
	}
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(repl); k++) {
			if (msg[i] == repl[k])
				continue;
			memcpy(m, msg, len);
			m[i] = repl[k];
			x = rfc_server(&c);
			if (final(x, m, len, &out, &err) != -1)
				fail_msg("accepted change at %zu to %#x", i,
				    repl[k]);
			assert_int_equal(out.len, 0);
			scram_server_free(&x);
		}
		/* Flip each bit of each byte too. */
		for (int bit = 0; bit < 8; bit++) {
			memcpy(m, msg, len);
			m[i] ^= (char)(1 << bit);
			x = rfc_server(&c);
			assert_int_equal(final(x, m, len, &out, &err), -1);
			scram_server_free(&x);
		}
	}
	free(m);
	buf_free(&out);
}

static void
test_server_first_bad(void **state)
{
	static const struct {
		const char	*msg;
		size_t		 len;
		const char	*err;
	} bad[] = {
		{ L(""), ERR_FIRST },
		{ L("n"), ERR_FIRST },
		{ L("n,"), ERR_FIRST },
		{ L("n,,"), ERR_FIRST },
		{ L("n,,n=user"), ERR_FIRST },
		{ L("n,,n=user,"), ERR_FIRST },
		{ L("n,,n=user,r"), ERR_FIRST },
		{ L("n,,n=user,r="), "malformed SCRAM nonce" },
		{ L("n,,r=abc,n=user"), ERR_FIRST },		/* order */
		{ L("n,,r=abc"), ERR_FIRST },
		{ L("n,n=user,r=abc"), ERR_FIRST },	/* no authzid slot */
		{ L(",,n=user,r=abc"), ERR_FIRST },
		{ L("x,,n=user,r=abc"), ERR_FIRST },
		{ L("nn,,n=user,r=abc"), ERR_FIRST },
		{ L("N,,n=user,r=abc"), ERR_FIRST },
		{ L(" n,,n=user,r=abc"), ERR_FIRST },
		{ L("n ,,n=user,r=abc"), ERR_FIRST },
		/* channel binding */
		{ L("p=tls-unique,,n=user,r=abc"),
		    "SCRAM channel binding not supported" },
		{ L("p=tls-server-end-point,a=x,n=user,r=abc"),
		    "SCRAM channel binding not supported" },
		{ L("p,,n=user,r=abc"), ERR_FIRST },
		/* authzid */
		{ L("n,a=,n=user,r=abc"), ERR_FIRST },
		{ L("n,a,n=user,r=abc"), ERR_FIRST },
		{ L("n,b=x,n=user,r=abc"), ERR_FIRST },
		{ L("n,a=x=,n=user,r=abc"), ERR_FIRST },
		{ L("n,a=x,a=y,n=user,r=abc"), ERR_FIRST },
		/* mandatory extension */
		{ L("n,,m=ext,n=user,r=abc"),
		    "SCRAM mandatory extension not supported" },
		{ L("n,,m=,n=user,r=abc"),
		    "SCRAM mandatory extension not supported" },
		/* user name */
		{ L("n,,n=,r=abc"), ERR_FIRST },
		{ L("n,,n,r=abc"), ERR_FIRST },
		{ L("n,,u=user,r=abc"), ERR_FIRST },
		{ L("n,,n=us=er,r=abc"), ERR_FIRST },
		{ L("n,,n=user=,r=abc"), ERR_FIRST },
		{ L("n,,n=user=2,r=abc"), ERR_FIRST },
		{ L("n,,n=user=2D,r=abc"), ERR_FIRST },
		{ L("n,,n=user=3C,r=abc"), ERR_FIRST },
		{ L("n,,n==,r=abc"), ERR_FIRST },
		{ L("n,,n=user,n=user,r=abc"), ERR_FIRST },	/* duplicate */
		{ L("n,,n=us\0er,r=abc"), ERR_FIRST },
		/* nonce */
		{ L("n,,n=user,r=ab c"), "malformed SCRAM nonce" },
		{ L("n,,n=user,r=ab\x7f"), "malformed SCRAM nonce" },
		{ L("n,,n=user,r=ab\x01"), "malformed SCRAM nonce" },
		{ L("n,,n=user,r=ab\t"), "malformed SCRAM nonce" },
		{ L("n,,n=user,r=\xc3\xa9t\xc3\xa9"), "malformed SCRAM nonce" },
		{ L("n,,n=user,r=ab\0"), ERR_FIRST },
		/* extensions */
		{ L("n,,n=user,r=abc,"), ERR_FIRST },
		{ L("n,,n=user,r=abc,,"), ERR_FIRST },
		{ L("n,,n=user,r=abc,r=abc"), ERR_FIRST },
		{ L("n,,n=user,r=abc,n=user"), ERR_FIRST },
		{ L("n,,n=user,r=abc,m=x"), ERR_FIRST },
		{ L("n,,n=user,r=abc,p=x"), ERR_FIRST },
		{ L("n,,n=user,r=abc,c=x"), ERR_FIRST },
		{ L("n,,n=user,r=abc,x=1,x=2"), ERR_FIRST },
		{ L("n,,n=user,r=abc,x="), ERR_FIRST },
		{ L("n,,n=user,r=abc,x"), ERR_FIRST },
		{ L("n,,n=user,r=abc,xy=1"), ERR_FIRST },
		{ L("n,,n=user,r=abc,1=2"), ERR_FIRST },
		{ L("n,,n=user,r=abc,==2"), ERR_FIRST },
	};
	struct scram_server *x;
	const char *err;
	char name[1000];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = scram_server_new();
		err = NULL;
		if (first(x, bad[i].msg, bad[i].len, &err) != -1)
			fail_msg("accepted: %s", bad[i].msg);
		assert_string_equal(err, bad[i].err);
		assert_string_equal(scram_server_authcid(x), "");
		assert_string_equal(scram_server_authzid(x), "");
		/* A failed exchange stays failed. */
		assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err),
		    -1);
		assert_string_equal(err, ERR_ORDER);
		scram_server_free(&x);
	}

	/* 255 bytes of name is the limit, counted after decoding. */
	memcpy(name, "n,,n=", 5);
	memset(name + 5, 'u', 255);
	memcpy(name + 260, ",r=abc", 7);
	x = scram_server_new();
	assert_int_equal(first(x, name, strlen(name), &err), 0);
	assert_int_equal(strlen(scram_server_authcid(x)), 255);
	scram_server_free(&x);
	memset(name + 5, 'u', 256);
	memcpy(name + 261, ",r=abc", 7);
	x = scram_server_new();
	assert_int_equal(first(x, name, strlen(name), &err), -1);
	scram_server_free(&x);
	for (int i = 0; i < 255; i++)
		memcpy(name + 5 + 3 * i, "=2C", 3);
	memcpy(name + 5 + 765, ",r=abc", 7);
	x = scram_server_new();
	assert_int_equal(first(x, name, strlen(name), &err), 0);
	assert_int_equal(strlen(scram_server_authcid(x)), 255);
	assert_int_equal(scram_server_authcid(x)[254], ',');
	scram_server_free(&x);
	memcpy(name + 5 + 765, "u,r=abc", 8);
	x = scram_server_new();
	assert_int_equal(first(x, name, strlen(name), &err), -1);
	scram_server_free(&x);
}

static void
test_server_first_good(void **state)
{
	static const struct {
		const char	*msg;
		const char	*authcid;
		const char	*authzid;
		const char	*gs2;
	} good[] = {
		{ "n,,n=user,r=abc", "user", "", "n,," },
		{ "y,,n=user,r=abc", "user", "", "y,," },
		{ "n,a=admin,n=user,r=abc", "user", "admin", "n,a=admin," },
		{ "n,a=a=2Cb,n=a=3Db=2cc=3dd,r=abc", "a=b,c=d", "a,b", NULL },
		{ "n,,n=j\xc3\xb6rg,r=abc", "j\xc3\xb6rg", "", NULL },
		{ "n,,n=user,r=!\"#$%&'()*+-./09:;<=>?@AZ[\\]^_`az{|}~", "user",
		    "", NULL },
		{ "n,,n=user,r=abc,x=1,Y=\xc3\xa9,z==", "user", "", NULL },
	};
	struct scram_creds c;
	struct scram_server *x;
	struct buf out = BUF_INIT, msg = BUF_INIT, sf = BUF_INIT;
	struct buf wo = BUF_INIT, gs2 = BUF_INIT;
	const char *err;

	assert_int_equal(scram_creds_make("secret", 0, &c), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *bare;

		x = scram_server_new();
		assert_int_equal(first(x, good[i].msg, strlen(good[i].msg),
		    &err), 0);
		assert_string_equal(scram_server_authcid(x), good[i].authcid);
		assert_string_equal(scram_server_authzid(x), good[i].authzid);
		/* Complete the exchange: the gs2 header and the bare message
		 * (extensions included) must be what the proof covers. */
		bare = strstr(good[i].msg, ",n=") + 1;
		buf_reset(&gs2);
		buf_append(&gs2, good[i].msg, (size_t)(bare - good[i].msg));
		if (good[i].gs2 != NULL)
			assert_string_equal(buf_cstr(&gs2), good[i].gs2);
		buf_reset(&out);
		assert_int_equal(scram_server_first(x, &c, &out, &err), 0);
		buf_reset(&wo);
		buf_puts(&wo, "c=");
		base64_encode(gs2.data, gs2.len, &wo);
		buf_puts(&wo, ",");
		buf_append(&wo, out.data, strstr(out.data, ",s=") - out.data);
		client_final("secret", bare, buf_cstr(&out), buf_cstr(&wo),
		    &msg, &sf);
		buf_reset(&out);
		assert_int_equal(final(x, msg.data, msg.len, &out, &err), 0);
		assert_string_equal(buf_cstr(&out), buf_cstr(&sf));
		scram_server_free(&x);
	}
	buf_free(&out);
	buf_free(&msg);
	buf_free(&sf);
	buf_free(&wo);
	buf_free(&gs2);
}

static void
test_server_final_bad(void **state)
{
#define NONCE	RFC_CNONCE RFC_SNONCE
	static const struct {
		const char	*msg;
		size_t		 len;
		const char	*err;
	} bad[] = {
		{ L(""), ERR_FINAL },
		{ L(","), ERR_FINAL },
		{ L("p=" RFC_PROOF), ERR_FINAL },
		{ L(",p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,p=" RFC_PROOF), ERR_FINAL },
		{ L("r=" NONCE ",p=" RFC_PROOF), ERR_FINAL },
		{ L("r=" NONCE ",c=biws,p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,r=" NONCE), ERR_FINAL },
		{ L("c=biws,r=" NONCE ","), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",p="), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",p=" RFC_PROOF ","), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",p=" RFC_PROOF ",x=1"), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",p=" RFC_PROOF ",p=" RFC_PROOF),
		    ERR_FINAL },
		{ L("c=biws,c=biws,r=" NONCE ",p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",r=" NONCE ",p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",m=x,p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",x=,p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",x=1,x=1,p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,,r=" NONCE ",p=" RFC_PROOF), ERR_FINAL },
		{ L("c=biws,r=" NONCE ",p=" RFC_PROOF "\0"), ERR_FINAL },
		/* proof: short, long, bad base64 */
		{ L("c=biws,r=" NONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7An"), ERR_FINAL },
		{ L("c=biws,r=" NONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQA"),
		    ERR_FINAL },
		{ L("c=biws,r=" NONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ"),
		    ERR_FINAL },
		{ L("c=biws,r=" NONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR="),
		    ERR_FINAL },
		{ L("c=biws,r=" NONCE
		    ",p=dHzbZapWIk4jUhN-Ute9ytag9zjfMHgsqmmiz7AndVQ="),
		    ERR_FINAL },
		/* channel binding */
		{ L("c=biw,r=" NONCE ",p=" RFC_PROOF), ERR_FINAL },
		{ L("c=,r=" NONCE ",p=" RFC_PROOF),
		    "SCRAM channel binding mismatch" },
		{ L("c=eSws,r=" NONCE ",p=" RFC_PROOF),		/* "y,," */
		    "SCRAM channel binding mismatch" },
		{ L("c=biw=,r=" NONCE ",p=" RFC_PROOF),		/* "n,"  */
		    "SCRAM channel binding mismatch" },
		{ L("c=biwsAA==,r=" NONCE ",p=" RFC_PROOF),	/* "n,,\0" */
		    "SCRAM channel binding mismatch" },
		{ L("c=cD10bHMtdW5pcXVlLCw=,r=" NONCE ",p=" RFC_PROOF),
		    "SCRAM channel binding mismatch" },	/* "p=tls-unique,," */
		/* nonce */
		{ L("c=biws,r=,p=" RFC_PROOF), "SCRAM nonce mismatch" },
		{ L("c=biws,r=" RFC_CNONCE ",p=" RFC_PROOF),
		    "SCRAM nonce mismatch" },
		{ L("c=biws,r=" NONCE "x,p=" RFC_PROOF),
		    "SCRAM nonce mismatch" },
		{ L("c=biws,r=" RFC_CNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,p="
		    RFC_PROOF), "SCRAM nonce mismatch" },
		{ L("c=biws,r=x" NONCE ",p=" RFC_PROOF),
		    "SCRAM nonce mismatch" },
		/* well-formed, wrong proof */
		{ L("c=biws,r=" NONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU="),
		    ERR_AUTH },
		{ L("c=biws,r=" NONCE
		    ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
		    ERR_AUTH },
		/* an extension the proof did not cover */
		{ L("c=biws,r=" NONCE ",x=1,p=" RFC_PROOF), ERR_AUTH },
	};
	struct scram_creds c;
	struct scram_server *x;
	struct buf out = BUF_INIT;
	const char *err;

	rfc_creds(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = rfc_server(&c);
		err = NULL;
		buf_reset(&out);
		if (final(x, bad[i].msg, bad[i].len, &out, &err) != -1)
			fail_msg("accepted: %s", bad[i].msg);
		assert_string_equal(err, bad[i].err);
		assert_int_equal(out.len, 0);
		scram_server_free(&x);
	}
	buf_free(&out);
#undef NONCE
}

static void
test_server_creds_and_order(void **state)
{
	struct scram_creds c, weak;
	struct scram_server *x;
	struct buf out = BUF_INIT, msg = BUF_INIT, sf = BUF_INIT;
	struct buf wo = BUF_INIT;
	const char *err;
	const char *p;

	rfc_creds(&c);

	/* Fake credentials never verify, even with the right proof. */
	weak = c;
	weak.fake = true;
	x = rfc_server(&weak);
	assert_int_equal(final(x, RFC_FINAL, strlen(RFC_FINAL), &out, &err),
	    -1);
	assert_string_equal(err, ERR_AUTH);
	scram_server_free(&x);

	/* Credentials out of range are refused. */
	weak = c;
	weak.iter = 4095;
	x = scram_server_new();
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), 0);
	assert_int_equal(scram_server_first(x, &weak, &out, &err), -1);
	assert_string_equal(err, "unusable stored SCRAM credentials");
	assert_int_equal(out.len, 0);
	scram_server_free(&x);
	weak = c;
	weak.salt_len = 15;
	x = scram_server_new();
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), 0);
	assert_int_equal(scram_server_first(x, &weak, &out, &err), -1);
	scram_server_free(&x);
	assert_int_equal(scram_creds_parse("SCRAM-SHA-256$1000:" RFC_SALT "$"
	    RFC_STOREDKEY ":" RFC_SERVERKEY, &weak), 0);
	x = scram_server_new();
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), 0);
	assert_int_equal(scram_server_first(x, &weak, &out, &err), -1);
	scram_server_free(&x);

	/* Out of order. */
	x = scram_server_new();
	assert_int_equal(scram_server_first(x, &c, &out, &err), -1);
	assert_string_equal(err, ERR_ORDER);
	scram_server_free(&x);
	x = scram_server_new();
	assert_int_equal(final(x, RFC_FINAL, strlen(RFC_FINAL), &out, &err),
	    -1);
	assert_string_equal(err, ERR_ORDER);
	scram_server_free(&x);
	x = scram_server_new();
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), 0);
	assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err), -1);
	assert_string_equal(err, ERR_ORDER);
	scram_server_free(&x);
	x = rfc_server(&c);
	assert_int_equal(scram_server_first(x, &c, &out, &err), -1);
	assert_string_equal(err, ERR_ORDER);
	scram_server_free(&x);

	/* The nonce hook. */
	x = scram_server_new();
	assert_int_equal(scram_server_set_nonce(x, ""), -1);
	assert_int_equal(scram_server_set_nonce(x, "a,b"), -1);
	assert_int_equal(scram_server_set_nonce(x, "a b"), -1);
	assert_int_equal(scram_server_set_nonce(x, "a\x7f"), -1);
	assert_int_equal(scram_server_set_nonce(x, "\xc3\xa9"), -1);
	assert_int_equal(scram_server_set_nonce(x,
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4"), -1);
	assert_int_equal(scram_server_set_nonce(x,
	    "0123456789012345678901234567890123456789012345678901234567890123"),
	    0);
	scram_server_free(&x);
	x = rfc_server(&c);
	assert_int_equal(scram_server_set_nonce(x, "abc"), -1);
	scram_server_free(&x);

	/* The random nonce: 32 base64 characters after the client's, new
	 * for each exchange, and a full exchange with it works. */
	for (int i = 0; i < 2; i++) {
		static char prev[64];

		x = scram_server_new();
		assert_int_equal(first(x, RFC_FIRST, strlen(RFC_FIRST), &err),
		    0);
		buf_reset(&out);
		assert_int_equal(scram_server_first(x, &c, &out, &err), 0);
		assert_int_equal(strncmp(out.data, "r=" RFC_CNONCE, 22), 0);
		p = strstr(out.data, ",s=");
		assert_non_null(p);
		assert_int_equal(p - out.data, 22 + 32);
		for (const char *q = out.data + 22; q < p; q++)
			assert_true(*q > 0x20 && *q < 0x7f && *q != ',');
		assert_string_equal(p, ",s=" RFC_SALT ",i=4096");
		if (i == 1)
			assert_memory_not_equal(prev, out.data + 22, 32);
		memcpy(prev, out.data + 22, 32);
		buf_reset(&wo);
		buf_puts(&wo, "c=biws,");
		buf_append(&wo, out.data, (size_t)(p - out.data));
		client_final(RFC_PASS, "n=user,r=" RFC_CNONCE, buf_cstr(&out),
		    buf_cstr(&wo), &msg, &sf);
		buf_reset(&out);
		assert_int_equal(final(x, msg.data, msg.len, &out, &err), 0);
		assert_string_equal(buf_cstr(&out), buf_cstr(&sf));
		scram_server_free(&x);
	}

	/* A wrong password, computed properly: authentication failed. */
	x = rfc_server(&c);
	client_final("pencil2", "n=user,r=" RFC_CNONCE, RFC_SFIRST,
	    RFC_FINAL_WO, &msg, &sf);
	buf_reset(&out);
	assert_int_equal(final(x, msg.data, msg.len, &out, &err), -1);
	assert_string_equal(err, ERR_AUTH);
	assert_int_equal(out.len, 0);
	scram_server_free(&x);

	buf_free(&out);
	buf_free(&msg);
	buf_free(&sf);
	buf_free(&wo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creds_rfc7677),
		cmocka_unit_test(test_creds_make),
		cmocka_unit_test(test_creds_parse_bad),
		cmocka_unit_test(test_creds_fake),
		cmocka_unit_test(test_server_rfc7677),
		cmocka_unit_test(test_server_final_mutations),
		cmocka_unit_test(test_server_first_bad),
		cmocka_unit_test(test_server_first_good),
		cmocka_unit_test(test_server_final_bad),
		cmocka_unit_test(test_server_creds_and_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
