/*
 * test_imap_binary - unit tests for src/imap/imap_binary.c: the content
 * of FETCH BINARY[section] (RFC 3516) planned, measured and read in
 * windows.
 *
 * Messages are parsed with mime_parse() and read through mime_mem_read()
 * (or a reader that gives a few bytes per call, or one that fails).
 * Expected bytes are written out by hand: decoded bodies from RFC 2045
 * 6.7 / 6.8, converted headers by the rule in imap_binary.h.  Every
 * window [off, off + len) of a small section is read and compared with
 * the slice of the expected bytes; big sections cross the 64 KiB block
 * size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_binary.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"

#define S(x)	x, sizeof(x) - 1

/* At most 7 bytes per call: read_exact must loop. */
struct trickle {
	struct mime_mem	 m;
	unsigned	 calls;
	unsigned	 fail_after;	/* 0: never fail */
};

static ssize_t
trickle_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct trickle *t = ctx;

	t->calls++;
	if (t->fail_after != 0 && t->calls > t->fail_after)
		return -1;
	return mime_mem_read(&t->m, buf, len > 7 ? 7 : len, off);
}

static void
assert_mem(const char *what, const void *got, size_t gotlen, const void *exp,
    size_t explen)
{
	if (gotlen != explen || (explen > 0 && memcmp(got, exp, explen) != 0)) {
		print_error("%s: got (%zu) \"%.*s\"\nwant (%zu) \"%.*s\"\n",
		    what, gotlen, (int)gotlen, gotlen ? (const char *)got : "",
		    explen, (int)explen, (const char *)exp);
		fail();
	}
}

/* Reads window [off, off + len) whole; returns the last read result. */
static int
read_window(const struct imap_binary *b, uint64_t off, uint64_t len,
    mime_read_fn *rd, void *rctx, struct buf *out)
{
	struct imap_binary_reader *r = imap_binary_reader_create(b, off, len);
	int ret;

	buf_reset(out);
	while ((ret = imap_binary_read(r, rd, rctx, out)) == 1)
		;
	if (ret == 0)
		assert_int_equal(imap_binary_reader_done(r), out->len);
	imap_binary_reader_free(&r);
	assert_null(r);
	return ret;
}

/*
 * The section of msg at path (n numbers; whole for BINARY[]) must be exp,
 * with has_nul; every window of it (all of them when short) too.
 */
static void
check_section(const char *msg, size_t msglen, const unsigned *path, size_t n,
    bool whole, const char *exp, size_t explen, bool has_nul)
{
	struct mime_mem mem = { msg, msglen };
	struct mime_part *root = mime_parse(msg, msglen, NULL);
	const struct mime_part *part = mime_part_find(root, path, n);
	struct imap_binary b;
	struct buf out = BUF_INIT;
	size_t step = explen > 600 ? explen / 13 + 1 : 1;

	assert_non_null(part);
	assert_int_equal(imap_binary_plan(&b, part, whole, msglen,
	    mime_mem_read, &mem), 0);
	assert_int_equal(imap_binary_measure(&b, mime_mem_read, &mem), 0);
	assert_true(b.measured);
	assert_int_equal(b.size, explen);
	assert_int_equal(b.has_nul, has_nul);
	assert_int_equal(read_window(&b, 0, UINT64_MAX, mime_mem_read, &mem,
	    &out), 0);
	assert_mem("whole", out.data, out.len, exp, explen);
	for (size_t off = 0; off <= explen + 1; off += step) {
		for (size_t len = 0; len <= explen - (off < explen ? off :
		    explen) + 1; len += step) {
			size_t o = off < explen ? off : explen;
			size_t l = len < explen - o ? len : explen - o;

			assert_int_equal(read_window(&b, off, len,
			    mime_mem_read, &mem, &out), 0);
			assert_mem("window", out.data, out.len, exp + o, l);
		}
	}
	/* A reader of a few bytes per call gives the same. */
	{
		struct trickle t = { { msg, msglen }, 0, 0 };
		struct imap_binary b2;

		assert_int_equal(imap_binary_plan(&b2, part, whole, msglen,
		    trickle_read, &t), 0);
		assert_int_equal(imap_binary_measure(&b2, trickle_read, &t),
		    0);
		assert_int_equal(b2.size, explen);
		assert_int_equal(read_window(&b2, 0, explen, trickle_read, &t,
		    &out), 0);
		assert_mem("trickle", out.data, out.len, exp, explen);
		imap_binary_free(&b2);
	}
	imap_binary_free(&b);
	buf_free(&out);
	mime_part_free(&root);
}

static const char single[] =
    "From: a@example.org\r\n"
    "Subject: one\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding:\r\n"
    "  Base64\r\n"
    "X-After: yes\r\n"
    "\r\n"
    "SGVsbG8sIHdvcmxkIQ0K\r\n"
    "QUIAQ0Q=\r\n";

static void
test_single_part(void **state)
{
	static const unsigned one[] = { 1 };

	/* BINARY[1]: the decoded body, "AB\0CD" has a NUL. */
	check_section(S(single), one, 1, false, S("Hello, world!\r\nAB\0CD"),
	    true);
	/* BINARY[]: the folded field dropped, binary added at the end. */
	check_section(S(single), NULL, 0, true, S(
	    "From: a@example.org\r\n"
	    "Subject: one\r\n"
	    "Content-Type: text/plain\r\n"
	    "X-After: yes\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "Hello, world!\r\nAB\0CD"), true);
}

static void
test_identity_encodings(void **state)
{
	static const char msg[] =
	    "Subject: raw\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "caf\xc3\xa9 line\nbare LF kept\r\n";
	static const char bin[] =
	    "Subject: raw\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "\0\0x\r\n";
	static const unsigned one[] = { 1 };

	/* Copied as they are, headers included, no CRLF conversion. */
	check_section(S(msg), one, 1, false,
	    S("caf\xc3\xa9 line\nbare LF kept\r\n"), false);
	check_section(S(msg), NULL, 0, true, S(msg), false);
	check_section(S(bin), NULL, 0, true, S(bin), true);
	check_section(S(bin), one, 1, false, S("\0\0x\r\n"), true);
}

static const char nested[] =
    "Subject: nested\r\n"
    "Content-Type: multipart/mixed; boundary=\"o\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--o\r\n"
    "Content-Type: multipart/alternative; boundary=\"i\"\r\n"
    "\r\n"
    "--i\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "a=3Db =\r\n"
    "c  \r\n"
    "d\n"
    "e=\r\n"
    "--i\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>x</p>\r\n"
    "--i--\r\n"
    "\r\n"
    "--o\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "aW5uZXI=\r\n"
    "--o\r\n"
    "Content-Type: application/x-thing\r\n"
    "Content-Transfer-Encoding: x-uuencode\r\n"
    "\r\n"
    "begin 644 x\r\n"
    "--o--\r\n"
    "epilogue\r\n";

static void
test_nested(void **state)
{
	static const unsigned p1[] = { 1 }, p11[] = { 1, 1 },
	    p12[] = { 1, 2 }, p2[] = { 2 }, p21[] = { 2, 1 }, p3[] = { 3 };
	struct mime_mem mem = { nested, sizeof(nested) - 1 };
	struct mime_part *root = mime_parse(S(nested), NULL);
	struct imap_binary b;

	/* QP: "=3D", a soft break, blanks before a break dropped, bare LF
	 * made CRLF, a soft break at the very end. */
	check_section(S(nested), p11, 2, false, S("a=b c\r\nd\r\ne"), false);
	check_section(S(nested), p12, 2, false, S("<p>x</p>"), false);
	check_section(S(nested), p21, 2, false, S("inner"), false);
	/* message/rfc822: the encapsulated message converted. */
	check_section(S(nested), p2, 1, false, S(
	    "Subject: inner\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "inner"), false);
	/* A multipart: boundaries as they are, the QP leaf converted. */
	check_section(S(nested), p1, 1, false, S(
	    "--i\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "a=b c\r\nd\r\ne\r\n"
	    "--i\r\n"
	    "Content-Type: text/html\r\n"
	    "\r\n"
	    "<p>x</p>\r\n"
	    "--i--\r\n"), false);

	/* The unknown encoding fails its part and everything above it. */
	assert_false(imap_binary_decodable(root));
	assert_false(imap_binary_decodable(mime_part_find(root, p3, 1)));
	assert_true(imap_binary_decodable(mime_part_find(root, p1, 1)));
	assert_true(imap_binary_decodable(mime_part_find(root, p2, 1)));
	assert_int_equal(imap_binary_plan(&b, root, true, mem.len,
	    mime_mem_read, &mem), IMAP_BINARY_UNKNOWN_CTE);
	imap_binary_free(&b);
	assert_int_equal(imap_binary_plan(&b, mime_part_find(root, p3, 1),
	    false, mem.len, mime_mem_read, &mem), IMAP_BINARY_UNKNOWN_CTE);
	imap_binary_free(&b);
	mime_part_free(&root);
}

static void
test_header_edges(void **state)
{
	/* No empty line: the header runs to the end, a last line without
	 * a line break. */
	static const char noeoh[] =
	    "Subject: x\r\n"
	    "Content-Transfer-Encoding: base64";
	static const char noeoh2[] =
	    "Content-Transfer-Encoding: base64\r\n"
	    "Subject: x";
	/* Bare LF line ends, a C-T-E name with blanks before the colon,
	 * and a field whose name only starts like it. */
	static const char lf[] =
	    "Content-Transfer-Encoding-X: 1\n"
	    "content-transfer-encoding \t: quoted-printable\n"
	    "\n"
	    "=41=42\n";

	check_section(S(noeoh), NULL, 0, true, S(
	    "Subject: x\r\n"
	    "Content-Transfer-Encoding: binary\r\n"), false);
	check_section(S(noeoh2), NULL, 0, true, S(
	    "Subject: x\r\n"
	    "Content-Transfer-Encoding: binary\r\n"), false);
	check_section(S(lf), NULL, 0, true, S(
	    "Content-Transfer-Encoding-X: 1\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\n"
	    "AB\r\n"), false);
}

static void
test_many_cte_fields(void **state)
{
	struct buf msg = BUF_INIT, exp = BUF_INIT;
	struct mime_part *root;
	struct imap_binary b;
	struct mime_mem mem;

	buf_puts(&msg, "Subject: many\r\n");
	for (int i = 0; i < IMAP_BINARY_DROP_MAX + 50; i++)
		buf_puts(&msg, "Content-Transfer-Encoding: base64\r\n");
	buf_puts(&msg, "\r\nQUJD\r\n");
	/* The first IMAP_BINARY_DROP_MAX are dropped, the rest kept. */
	buf_puts(&exp, "Subject: many\r\n");
	for (int i = 0; i < 50; i++)
		buf_puts(&exp, "Content-Transfer-Encoding: base64\r\n");
	buf_puts(&exp, "Content-Transfer-Encoding: binary\r\n\r\nABC");
	check_section(msg.data, msg.len, NULL, 0, true, exp.data, exp.len,
	    false);
	/* And the pieces stay few: each run between dropped fields. */
	root = mime_parse(msg.data, msg.len, NULL);
	mem.data = msg.data;
	mem.len = msg.len;
	assert_int_equal(imap_binary_plan(&b, root, true, msg.len,
	    mime_mem_read, &mem), 0);
	assert_true(b.n <= 6);
	imap_binary_free(&b);
	mime_part_free(&root);
	buf_free(&msg);
	buf_free(&exp);
}

/* A 300 KB attachment: many 64 KiB blocks, windows across them. */
static void
test_big(void **state)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const unsigned p2[] = { 2 };
	struct buf msg = BUF_INIT, data = BUF_INIT;
	uint32_t x = 12345;
	size_t n = 300 * 1024;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		buf_putc(&data, (char)(x >> 16));
	}
	buf_puts(&msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\nfirst\r\n--b\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	/* Hand-rolled base64, 76 characters a line. */
	for (size_t i = 0, col = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)data.data[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;

		if (k > 1)
			v |= (uint32_t)(unsigned char)data.data[i + 1] << 8;
		if (k > 2)
			v |= (unsigned char)data.data[i + 2];
		buf_putc(&msg, b64[v >> 18 & 63]);
		buf_putc(&msg, b64[v >> 12 & 63]);
		buf_putc(&msg, k > 1 ? b64[v >> 6 & 63] : '=');
		buf_putc(&msg, k > 2 ? b64[v & 63] : '=');
		if ((col += 4) == 76) {
			buf_puts(&msg, "\r\n");
			col = 0;
		}
	}
	buf_puts(&msg, "\r\n--b--\r\n");
	check_section(msg.data, msg.len, p2, 1, false, data.data, data.len,
	    memchr(data.data, '\0', data.len) != NULL);
	buf_free(&msg);
	buf_free(&data);
}

static void
test_read_errors(void **state)
{
	static const unsigned one[] = { 1 };
	struct mime_part *root = mime_parse(S(single), NULL);
	const struct mime_part *part = mime_part_find(root, one, 1);
	struct trickle t = { { single, sizeof(single) - 1 }, 0, 0 };
	struct imap_binary b;
	struct buf out = BUF_INIT;

	/* Failing while planning the header, while measuring, while
	 * reading. */
	t.fail_after = 1;
	assert_int_equal(imap_binary_plan(&b, root, true, t.m.len,
	    trickle_read, &t), -1);
	imap_binary_free(&b);
	t.calls = 0;
	t.fail_after = 1;
	assert_int_equal(imap_binary_plan(&b, part, false, t.m.len,
	    trickle_read, &t), 0);
	assert_int_equal(imap_binary_measure(&b, trickle_read, &t), -1);
	assert_false(b.measured);
	t.fail_after = 0;
	assert_int_equal(imap_binary_measure(&b, trickle_read, &t), 0);
	t.calls = 0;
	t.fail_after = 2;
	assert_int_equal(read_window(&b, 0, b.size, trickle_read, &t, &out),
	    -1);
	/* A message shorter than its tree says: the reader notices. */
	{
		struct mime_mem shortm = { single, sizeof(single) - 10 };

		assert_int_equal(read_window(&b, 0, b.size, mime_mem_read,
		    &shortm, &out), -1);
	}
	/* A tree cut to the message size gives what is there. */
	imap_binary_free(&b);
	{
		struct mime_mem mem = { single, sizeof(single) - 1 };

		assert_int_equal(imap_binary_plan(&b, part, false, 10,
		    mime_mem_read, &mem), 0);
		assert_int_equal(b.n, 0);
		assert_int_equal(imap_binary_measure(&b, mime_mem_read, &mem),
		    0);
		assert_int_equal(b.size, 0);
		assert_int_equal(read_window(&b, 0, 5, mime_mem_read, &mem,
		    &out), 0);
		assert_int_equal(out.len, 0);
	}
	imap_binary_free(&b);
	buf_free(&out);
	mime_part_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_identity_encodings),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_header_edges),
		cmocka_unit_test(test_many_cte_fields),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_read_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
