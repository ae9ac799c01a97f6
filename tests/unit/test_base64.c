/*
 * test_base64 - unit tests for auth/base64: the RFC 4648 section 10 test
 * vectors, strict decoding as SASL needs it (padding, no whitespace,
 * canonical trailing bits), the tolerant MIME decoder, streamed at every
 * split point, and round trips of every byte value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64.h"
#include "core/buf.h"

static const struct {
	const char	*plain;
	const char	*enc;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

#define NVEC	(sizeof(rfc4648) / sizeof(rfc4648[0]))

/* Decode strictly from an exact-size heap copy. */
static int
dec(const char *s, size_t len, struct buf *out)
{
	char *c = malloc(len ? len : 1);
	int r;

	assert_non_null(c);
	memcpy(c, s, len);
	r = base64_decode(c, len, out);
	free(c);
	return r;
}

static void
test_rfc4648_vectors(void **state)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < NVEC; i++) {
		size_t pl = strlen(rfc4648[i].plain);

		buf_reset(&b);
		base64_encode(rfc4648[i].plain, pl, &b);
		assert_string_equal(buf_cstr(&b), rfc4648[i].enc);
		assert_int_equal(base64_encoded_len(pl),
		    strlen(rfc4648[i].enc));

		buf_reset(&b);
		assert_int_equal(dec(rfc4648[i].enc, strlen(rfc4648[i].enc),
		    &b), 0);
		assert_int_equal(b.len, pl);
		assert_memory_equal(buf_cstr(&b), rfc4648[i].plain, pl);

		buf_reset(&b);
		assert_int_equal(base64_decode_mime(rfc4648[i].enc,
		    strlen(rfc4648[i].enc), &b), 0);
		assert_string_equal(buf_cstr(&b), rfc4648[i].plain);
	}
	/* The SASL LOGIN challenges. */
	buf_reset(&b);
	base64_encode("Username:", 9, &b);
	assert_string_equal(buf_cstr(&b), "VXNlcm5hbWU6");
	buf_reset(&b);
	base64_encode("Password:", 9, &b);
	assert_string_equal(buf_cstr(&b), "UGFzc3dvcmQ6");
	/* Appends. */
	buf_reset(&b);
	buf_puts(&b, "334 ");
	base64_encode("\xff\xfe", 2, &b);
	assert_string_equal(buf_cstr(&b), "334 //4=");
	buf_free(&b);
}

static void
test_strict_rejects(void **state)
{
	static const char *bad[] = {
		"Zg", "Zg=", "Z", "Zm9vY",	/* length not a multiple of 4 */
		"Zh==",				/* low 4 bits not zero */
		"Zm9=",				/* low 2 bits not zero */
		"Zg==Zg==",			/* padding in the middle */
		"Zg=a", "Z===", "====", "=Zm9", "Zm=v",
		"Zm9v\r\n", " Zm9v", "Zm 9v", "Zm9v ", "Zm9\tv",
		"Zm9-", "Zm9_",			/* base64url is not base64 */
		"Zm9vYmFy====",
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		buf_puts(&b, "keep");
		if (dec(bad[i], strlen(bad[i]), &b) != -1)
			fail_msg("accepted: %s", bad[i]);
		/* On error out is back to what it held. */
		assert_string_equal(buf_cstr(&b), "keep");
	}
	/* NUL and 8-bit bytes. */
	assert_int_equal(dec("Zm9\0", 4, &b), -1);
	assert_int_equal(dec("Zm9\x80", 4, &b), -1);
	assert_int_equal(dec("\0\0\0\0", 4, &b), -1);
	/* Canonical forms with the same prefix are fine. */
	buf_reset(&b);
	assert_int_equal(dec("Zg==", 4, &b), 0);
	assert_int_equal(dec("Zm8=", 4, &b), 0);
	assert_string_equal(buf_cstr(&b), "ffo");
	buf_free(&b);
}

static void
test_roundtrip(void **state)
{
	unsigned char all[256];
	struct buf e = BUF_INIT, d = BUF_INIT;

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= sizeof(all); n++) {
		for (size_t off = 0; off < 3 && off + n <= sizeof(all); off++) {
			buf_reset(&e);
			buf_reset(&d);
			base64_encode(all + off, n, &e);
			assert_int_equal(e.len, base64_encoded_len(n));
			assert_int_equal(dec(e.data ? e.data : "", e.len, &d),
			    0);
			assert_int_equal(d.len, n);
			if (n > 0)
				assert_memory_equal(d.data, all + off, n);
		}
	}
	assert_int_equal(base64_encoded_len(SIZE_MAX), 0);
	buf_free(&e);
	buf_free(&d);
}

static void
mime_expect(const char *in, const char *want, int ret)
{
	size_t len = strlen(in), wl = strlen(want);
	struct buf b = BUF_INIT;
	struct base64_mime_state st;

	assert_int_equal(base64_decode_mime(in, len, &b), ret);
	assert_int_equal(b.len, wl);
	assert_memory_equal(buf_cstr(&b), want, wl);
	/* Streamed: every 2-way split, and byte by byte. */
	for (size_t i = 0; i <= len; i++) {
		buf_reset(&b);
		base64_mime_init(&st);
		base64_mime_feed(&st, in, i, &b);
		base64_mime_feed(&st, in + i, len - i, &b);
		assert_int_equal(base64_mime_finish(&st, &b), ret);
		assert_int_equal(b.len, wl);
		assert_memory_equal(buf_cstr(&b), want, wl);
	}
	buf_reset(&b);
	base64_mime_init(&st);
	for (size_t i = 0; i < len; i++)
		base64_mime_feed(&st, in + i, 1, &b);
	assert_int_equal(base64_mime_finish(&st, &b), ret);
	assert_int_equal(b.len, wl);
	buf_free(&b);
}

static void
test_mime(void **state)
{
	/* Clean. */
	mime_expect("Zm9v\r\nYmFy\r\n", "foobar", 0);
	mime_expect("Zm9vYg==\r\n", "foob", 0);
	mime_expect(" Zm9v\tYmE=\r\n", "fooba", 0);
	mime_expect("Zm\r\n9v\r\nYg\r\n==", "foob", 0);
	mime_expect("", "", 0);
	mime_expect("\r\n", "", 0);
	/* Forgiven, and flagged. */
	mime_expect("Zm9vYg", "foob", 1);		/* no padding */
	mime_expect("Zm9vYmE", "fooba", 1);
	mime_expect("Zm9v!YmFy", "foobar", 1);		/* garbage skipped */
	mime_expect("Zg==garbage", "f", 1);		/* stops at '=' */
	mime_expect("Zg==Zg==", "f", 1);
	mime_expect("Zm9vY", "foo", 1);			/* 6 dangling bits */
	mime_expect("Zh==", "f", 1);			/* non-canonical bits */
	mime_expect("Zm9v=", "foo", 1);			/* stray pad */
	mime_expect("Z=", "", 1);
	mime_expect("\x80\x7fZm9v", "foo", 1);
	{
		struct buf b = BUF_INIT;

		assert_int_equal(base64_decode_mime("Zm\0\09v", 6, &b), 1);
		assert_string_equal(buf_cstr(&b), "foo");
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_strict_rejects),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_mime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
