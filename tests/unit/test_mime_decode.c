/*
 * test_mime_decode - unit tests for src/mime/mime_decode*.c: transfer
 * encodings, charsets, UTF-8 repair, RFC 2047 / 2231 header decoding,
 * case folding and the streaming matcher, HTML to text, text extraction,
 * RFC 8970 previews and RFC 5256 base subjects.
 *
 * Every expected value is exact and was worked out by hand from the RFCs
 * (2045 6.7/6.8, 2047 section 8, 2231 sections 3-5, 5256 2.1) or the
 * charset tables.  Every streaming decoder is also fed each input split at
 * every byte position and one byte at a time, and must give the same
 * bytes and flags.  A few large inputs check that nothing is quadratic
 * (they would take minutes if it were).
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
#include "mime/mime.h"
#include "mime/mime_decode.h"

#define FFFD	"\xef\xbf\xbd"

/*
 * Helpers.
 */

static void
assert_bytes(const struct buf *b, const char *exp, size_t explen)
{
	if (b->len != explen || (explen > 0 && memcmp(b->data, exp,
	    explen) != 0)) {
		print_error("got (%zu) \"%.*s\"\nwant (%zu) \"%.*s\"\n",
		    b->len, (int)b->len, b->len > 0 ? b->data : "", explen,
		    (int)explen, exp);
		fail();
	}
}

/* One chunk, every two-chunk split, and one byte at a time. */
static void
check_cte(enum mime_cte cte, const char *in, size_t inlen, const char *exp,
    size_t explen, unsigned flags)
{
	struct mime_cte_decoder *d;
	struct buf out = BUF_INIT;

	assert_int_equal(mime_cte_decode_all(cte, in, inlen, &out), flags);
	assert_bytes(&out, exp, explen);
	d = mime_cte_decoder_create(cte);
	for (size_t split = 0; split <= inlen; split++) {
		buf_reset(&out);
		mime_cte_decode(d, in, split, &out);
		mime_cte_decode(d, in + split, inlen - split, &out);
		assert_int_equal(mime_cte_decoder_finish(d, &out), flags);
		assert_bytes(&out, exp, explen);
	}
	buf_reset(&out);
	for (size_t i = 0; i < inlen; i++)
		mime_cte_decode(d, in + i, 1, &out);
	assert_int_equal(mime_cte_decoder_finish(d, &out), flags);
	assert_bytes(&out, exp, explen);
	mime_cte_decoder_free(&d);
	assert_null(d);
	buf_free(&out);
}

#define CTE(cte, in, exp, flags) \
	check_cte(cte, in, sizeof(in) - 1, exp, sizeof(exp) - 1, flags)

static void
check_conv(const char *cs, const char *in, size_t inlen, const char *exp,
    size_t explen, unsigned flags)
{
	struct mime_charset_conv *c;
	struct buf out = BUF_INIT;

	assert_int_equal(mime_charset_to_utf8(cs, in, inlen, &out), flags);
	assert_bytes(&out, exp, explen);
	assert_true(mime_utf8_valid(out.data, out.len));
	c = mime_charset_conv_create(cs);
	for (size_t split = 0; split <= inlen; split++) {
		buf_reset(&out);
		mime_charset_conv_feed(c, in, split, &out);
		mime_charset_conv_feed(c, in + split, inlen - split, &out);
		assert_int_equal(mime_charset_conv_finish(c, &out), flags);
		assert_bytes(&out, exp, explen);
	}
	buf_reset(&out);
	for (size_t i = 0; i < inlen; i++)
		mime_charset_conv_feed(c, in + i, 1, &out);
	assert_int_equal(mime_charset_conv_finish(c, &out), flags);
	assert_bytes(&out, exp, explen);
	mime_charset_conv_free(&c);
	assert_null(c);
	buf_free(&out);
}

#define CONV(cs, in, exp, flags) \
	check_conv(cs, in, sizeof(in) - 1, exp, sizeof(exp) - 1, flags)

static void
check_hdr(const char *in, const char *exp, unsigned flags)
{
	struct buf out = BUF_INIT;

	assert_int_equal(mime_header_decode(in, strlen(in), &out), flags);
	assert_bytes(&out, exp, strlen(exp));
	buf_free(&out);
}

/* Matcher result with the haystack fed whole, split anywhere, by bytes. */
static bool
match_all_ways(const char *hay, const char *needle)
{
	struct mime_matcher *m = mime_matcher_create(needle, strlen(needle));
	size_t len = strlen(hay);
	bool whole;

	assert_non_null(m);
	whole = mime_matcher_feed(m, hay, len);
	assert_int_equal(whole, mime_matcher_found(m));
	assert_int_equal(whole, mime_text_contains(hay, len, needle,
	    strlen(needle)));
	for (size_t split = 0; split <= len; split++) {
		mime_matcher_reset(m);
		(void)mime_matcher_feed(m, hay, split);
		(void)mime_matcher_feed(m, hay + split, len - split);
		assert_int_equal(mime_matcher_found(m), whole);
	}
	mime_matcher_reset(m);
	for (size_t i = 0; i < len; i++)
		(void)mime_matcher_feed(m, hay + i, 1);
	assert_int_equal(mime_matcher_found(m), whole);
	mime_matcher_free(&m);
	assert_null(m);
	return whole;
}

static struct mime_part *
parse(const char *msg)
{
	return mime_parse(msg, strlen(msg), NULL);
}

/* mime_text_extract() of a message in memory; returns its result. */
static int
extract(const char *msg, unsigned flags, size_t max, struct buf *out)
{
	struct mime_part *root = parse(msg);
	struct mime_mem mem = { msg, strlen(msg) };
	int ret;

	buf_reset(out);
	ret = mime_text_extract(root, mime_mem_read, &mem, flags, max, 0,
	    out);
	mime_part_free(&root);
	return ret;
}

static void
check_extract(const char *msg, unsigned flags, const char *exp)
{
	struct buf out = BUF_INIT;

	assert_int_equal(extract(msg, flags, 1 << 20, &out), 0);
	assert_bytes(&out, exp, strlen(exp));
	buf_free(&out);
}

static void
check_preview(const char *msg, const char *exp)
{
	struct mime_part *root = parse(msg);
	struct mime_mem mem = { msg, strlen(msg) };
	struct buf out = BUF_INIT;

	assert_int_equal(mime_preview(root, mime_mem_read, &mem, &out), 0);
	assert_bytes(&out, exp, strlen(exp));
	assert_true(mime_utf8_count(out.data, out.len) <= MIME_PREVIEW_MAX);
	mime_part_free(&root);
	buf_free(&out);
}

static void
check_subject(const char *in, const char *exp, bool refwd)
{
	struct buf out = BUF_INIT;

	assert_int_equal(mime_base_subject(in, strlen(in), &out), refwd);
	assert_bytes(&out, exp, strlen(exp));
	buf_free(&out);
}

/*
 * Content-Transfer-Encoding.
 */

static void
test_cte_parse(void **state)
{
	(void)state;
	assert_int_equal(mime_cte_parse(NULL), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse(""), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse(" \t"), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse("7bit"), MIME_CTE_7BIT);
	assert_int_equal(mime_cte_parse("8BIT"), MIME_CTE_8BIT);
	assert_int_equal(mime_cte_parse("Binary"), MIME_CTE_BINARY);
	assert_int_equal(mime_cte_parse("Quoted-Printable"), MIME_CTE_QP);
	assert_int_equal(mime_cte_parse(" base64 "), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse("BASE64"), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse("x-uuencode"), MIME_CTE_UNKNOWN);
	assert_int_equal(mime_cte_parse("base-64"), MIME_CTE_UNKNOWN);
	assert_int_equal(mime_cte_parse("7bits"), MIME_CTE_UNKNOWN);
}

static void
test_qp(void **state)
{
	(void)state;
	/* RFC 2045 6.7 rule 5: soft line breaks. */
	CTE(MIME_CTE_QP, "Now's the time =\r\nfor all folk to come=\r\n"
	    " to the aid of their country.", "Now's the time for all folk "
	    "to come to the aid of their country.", 0);
	/* Rule 3: blanks before a line break are dropped. */
	CTE(MIME_CTE_QP, "foo  \r\nbar=\n", "foo\r\nbar", 0);
	CTE(MIME_CTE_QP, "foo \t \nbar", "foo\r\nbar", 0);
	CTE(MIME_CTE_QP, "a \r\n", "a\r\n", 0);
	CTE(MIME_CTE_QP, "foo\t=\nbar", "foo\tbar", 0);
	CTE(MIME_CTE_QP, "foo = \n=01", "foo \x01", 0);
	CTE(MIME_CTE_QP, "foo =\t\r\nbar", "foo bar", 0);
	CTE(MIME_CTE_QP, "a b\tc", "a b\tc", 0);
	/* Encoded line breaks stand for CRLF; "=0A" is a byte. */
	CTE(MIME_CTE_QP, "\n\n", "\r\n\r\n", 0);
	CTE(MIME_CTE_QP, "\r\n\n\n\r\n", "\r\n\r\n\r\n\r\n", 0);
	CTE(MIME_CTE_QP, "=0A=0D  ", "\n\r", 0);
	/* Hex in either case. */
	CTE(MIME_CTE_QP, "=66=6f=6f=42=61=72", "fooBar", 0);
	CTE(MIME_CTE_QP, "caf=C3=A9 caf=c3=a9", "caf\xc3\xa9 caf\xc3\xa9", 0);
	CTE(MIME_CTE_QP, "=DE=AD=BE=EF", "\xde\xad\xbe\xef", 0);
	CTE(MIME_CTE_QP, "=00", "\0", 0);
	/* Raw 8-bit passes. */
	CTE(MIME_CTE_QP, "\xc3\x9c" "berm=c3=a4\xc3\x9f" "ig",
	    "\xc3\x9c" "berm\xc3\xa4\xc3\x9f" "ig", 0);
	/* "=" not followed by hex: kept literally, as Dovecot does. */
	CTE(MIME_CTE_QP, "foo= =66", "foo= f", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "foo=A", "foo=A", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "foo=Ax", "foo=Ax", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "foo=Ax=xy", "foo=Ax=xy", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "=FJ=X1", "=FJ=X1", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "a==41", "a=A", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "= \tx", "= \tx", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "1 =< 2", "1 =< 2", MIME_DEC_INVALID);
	/* A soft break with CR but no LF. */
	CTE(MIME_CTE_QP, "a=\rb", "a=\rb", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "a= \rb", "a= \rb", MIME_DEC_INVALID);
	/* A bare CR is kept, with the blanks before it. */
	CTE(MIME_CTE_QP, "a\rb", "a\rb", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "a \rb", "a \rb", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "a\r", "a\r", MIME_DEC_INVALID);
	/*
	 * End of input: the line break of the last line belongs to the
	 * boundary, so "=" and blanks there are a soft break / trailing.
	 */
	CTE(MIME_CTE_QP, "foo=", "foo", 0);
	CTE(MIME_CTE_QP, "foo= \t", "foo", 0);
	CTE(MIME_CTE_QP, "foo=\r", "foo", 0);
	CTE(MIME_CTE_QP, "foo   ", "foo", 0);
	CTE(MIME_CTE_QP, "Trailing Whitesp=C3=A4ce =\r\n        ",
	    "Trailing Whitesp\xc3\xa4" "ce ", 0);
	CTE(MIME_CTE_QP, "foo=4", "foo=4", MIME_DEC_INVALID);
	CTE(MIME_CTE_QP, "", "", 0);
	CTE(MIME_CTE_QP, "=", "", 0);
	CTE(MIME_CTE_QP, "=\r\n", "", 0);
	CTE(MIME_CTE_QP, "=\r\n=\r\n", "", 0);
	/* A character split by a soft break joins up. */
	CTE(MIME_CTE_QP, "=E3=81=93=E3=82=8C=E3=81=AF=E5=A2=\r\n=83",
	    "\xe3\x81\x93\xe3\x82\x8c\xe3\x81\xaf\xe5\xa2\x83", 0);
	/* Boundary-looking text after a soft break is data. */
	CTE(MIME_CTE_QP, "=C3=9C=\r\n-------", "\xc3\x9c-------", 0);
}

static void
test_qp_long_blanks(void **state)
{
	char in[400], exp[400];
	size_t n = 300;

	(void)state;
	/* A run of blanks past MIME_QP_BLANKS_MAX is kept (and flagged). */
	memset(in, ' ', n);
	memcpy(in + n, "x\r\n", 3);
	check_cte(MIME_CTE_QP, in, n + 3, in, n + 3, MIME_DEC_INVALID);
	memcpy(in + n, "\r\n", 2);
	memset(exp, ' ', n);
	memcpy(exp + n, "\r\n", 2);
	check_cte(MIME_CTE_QP, in, n + 2, exp, n + 2, MIME_DEC_INVALID);
	/* Up to the limit trailing blanks still go. */
	n = MIME_QP_BLANKS_MAX;
	memset(in, '\t', n);
	memcpy(in + n, "\r\ny", 3);
	check_cte(MIME_CTE_QP, in, n + 3, "\r\ny", 3, 0);
	/* "=" and a long run of blanks is still a soft break. */
	in[0] = '=';
	memset(in + 1, ' ', 350);
	memcpy(in + 351, "\r\nz", 3);
	check_cte(MIME_CTE_QP, in, 354, "z", 1, 0);
}

static void
test_base64(void **state)
{
	(void)state;
	CTE(MIME_CTE_BASE64, "SGVsbG8gd29ybGQ=", "Hello world", 0);
	CTE(MIME_CTE_BASE64, "SGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n",
	    "Hello world", 0);
	CTE(MIME_CTE_BASE64, "SGVsbG8=", "Hello", 0);
	CTE(MIME_CTE_BASE64, "QQ==", "A", 0);
	CTE(MIME_CTE_BASE64, "QUI=", "AB", 0);
	CTE(MIME_CTE_BASE64, "QUJD", "ABC", 0);
	CTE(MIME_CTE_BASE64, "", "", 0);
	CTE(MIME_CTE_BASE64, " \t\r\n", "", 0);
	CTE(MIME_CTE_BASE64, "3q2+7w==", "\xde\xad\xbe\xef", 0);
	CTE(MIME_CTE_BASE64, "AA==", "\0", 0);
	/* Garbage characters are skipped, and flagged. */
	CTE(MIME_CTE_BASE64, "SGV*sbG8=", "Hello", MIME_DEC_INVALID);
	CTE(MIME_CTE_BASE64, "S.G.V.s", "Hel", MIME_DEC_INVALID);
	CTE(MIME_CTE_BASE64, "\xc3\xa9QQ==", "A", MIME_DEC_INVALID);
	/* Missing padding is decoded, and flagged. */
	CTE(MIME_CTE_BASE64, "SGVsbG8", "Hello", MIME_DEC_INVALID);
	CTE(MIME_CTE_BASE64, "QQ", "A", MIME_DEC_INVALID);
	/* A dangling sextet makes no byte. */
	CTE(MIME_CTE_BASE64, "QUJDR", "ABC", MIME_DEC_INVALID);
	CTE(MIME_CTE_BASE64, "Q", "", MIME_DEC_INVALID);
	/* Decoding stops at '='; what follows is flagged. */
	CTE(MIME_CTE_BASE64, "SGVsbG8=\r\nAAAA", "Hello", MIME_DEC_INVALID);
	CTE(MIME_CTE_BASE64, "SGVsbG8=\r\n", "Hello", 0);
	CTE(MIME_CTE_BASE64, "=QUJD", "", MIME_DEC_INVALID);
	/* Non-zero padding bits. */
	CTE(MIME_CTE_BASE64, "QR==", "A", MIME_DEC_INVALID);
}

static void
test_passthrough(void **state)
{
	(void)state;
	CTE(MIME_CTE_7BIT, "a=41\r\nb \r\n", "a=41\r\nb \r\n", 0);
	CTE(MIME_CTE_8BIT, "caf\xc3\xa9\n", "caf\xc3\xa9\n", 0);
	CTE(MIME_CTE_BINARY, "\0\xff\r", "\0\xff\r", 0);
	CTE(MIME_CTE_UNKNOWN, "begin 644 x\n`\nend\n",
	    "begin 644 x\n`\nend\n", MIME_DEC_UNKNOWN_CTE);
	CTE(MIME_CTE_UNKNOWN, "", "", MIME_DEC_UNKNOWN_CTE);
}

/*
 * Charsets and UTF-8.
 */

static void
test_charset_names(void **state)
{
	char out[MIME_CHARSET_NAME_MAX];
	char longname[100];

	(void)state;
	assert_true(mime_charset_normalize("UTF-8", out));
	assert_string_equal(out, "utf-8");
	assert_true(mime_charset_normalize(" utf8 ", out));
	assert_string_equal(out, "utf-8");
	assert_true(mime_charset_normalize("US-ASCII", out));
	assert_string_equal(out, "us-ascii");
	assert_true(mime_charset_normalize("ANSI_X3.4-1968", out));
	assert_string_equal(out, "us-ascii");
	assert_true(mime_charset_normalize("Latin1", out));
	assert_string_equal(out, "windows-1252");
	assert_true(mime_charset_normalize("ISO-8859-1", out));
	assert_string_equal(out, "windows-1252");
	assert_true(mime_charset_normalize("Shift_JIS", out));
	assert_string_equal(out, "cp932");
	assert_true(mime_charset_normalize("GB2312", out));
	assert_string_equal(out, "gb18030");
	assert_true(mime_charset_normalize("ks_c_5601-1987", out));
	assert_string_equal(out, "cp949");
	assert_true(mime_charset_normalize("KOI8-R", out));
	assert_string_equal(out, "koi8-r");
	assert_true(mime_charset_normalize("X-Unknown", out));
	assert_string_equal(out, "x-unknown");
	assert_true(mime_charset_normalize("unknown-8bit", out));
	assert_string_equal(out, "x-unknown");
	assert_false(mime_charset_normalize("utf-8//TRANSLIT", out));
	assert_string_equal(out, "");
	assert_false(mime_charset_normalize("utf 8", out));
	assert_false(mime_charset_normalize("", out));
	assert_false(mime_charset_normalize("  ", out));
	assert_false(mime_charset_normalize(NULL, out));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(mime_charset_normalize(longname, out));
	longname[MIME_CHARSET_NAME_MAX - 1] = '\0';
	assert_true(mime_charset_normalize(longname, out));
	longname[MIME_CHARSET_NAME_MAX - 1] = 'a';
	longname[MIME_CHARSET_NAME_MAX] = '\0';
	assert_false(mime_charset_normalize(longname, out));
}

static void
test_charset_supported(void **state)
{
	(void)state;
	assert_true(mime_charset_supported("UTF-8"));
	assert_true(mime_charset_supported("utf8"));
	assert_true(mime_charset_supported("US-ASCII"));
	assert_true(mime_charset_supported("iso-8859-1"));
	assert_true(mime_charset_supported("ISO-8859-15"));
	assert_true(mime_charset_supported("windows-1252"));
	assert_true(mime_charset_supported("KOI8-R"));
	assert_true(mime_charset_supported("Shift_JIS"));
	assert_true(mime_charset_supported("ISO-2022-JP"));
	assert_true(mime_charset_supported("GB2312"));
	assert_true(mime_charset_supported("EUC-KR"));
	assert_true(mime_charset_supported("Big5"));
	assert_false(mime_charset_supported("x-unknown"));
	assert_false(mime_charset_supported("unknown-8bit"));
	assert_false(mime_charset_supported("no-such-charset"));
	assert_false(mime_charset_supported("utf-8//IGNORE"));
	assert_false(mime_charset_supported(""));
	assert_false(mime_charset_supported(NULL));
}

static void
test_charset_conv(void **state)
{
	(void)state;
	/* utf-8 and us-ascii: validated, not converted. */
	CONV("UTF-8", "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 "
	    "\xf0\x9f\x98\x80", 0);
	CONV("us-ascii", "plain", "plain", 0);
	CONV("us-ascii", "caf\xc3\xa9", "caf\xc3\xa9", 0);
	CONV(NULL, "caf\xc3\xa9", "caf\xc3\xa9", 0);
	/* iso-8859-1 is read as windows-1252. */
	CONV("ISO-8859-1", "caf\xe9 na\xefve", "caf\xc3\xa9 na\xc3\xafve", 0);
	CONV("latin1", "\x93quoted\x94 \x80" "5", "\xe2\x80\x9cquoted"
	    "\xe2\x80\x9d \xe2\x82\xac" "5", 0);
	CONV("iso-8859-1", "\x81\x8d\x8f\x90\x9d",
	    "\xc2\x81\xc2\x8d\xc2\x8f\xc2\x90\xc2\x9d", 0);
	CONV("iso-8859-1", "\xff\xa0", "\xc3\xbf\xc2\xa0", 0);
	CONV("windows-1252", "\x80\x9f\x96", "\xe2\x82\xac\xc5\xb8"
	    "\xe2\x80\x93", 0);
	/* iso-8859-15: euro and oe where latin1 has currency and 1/2. */
	CONV("ISO-8859-15", "\xa4 \xbd \xe9", "\xe2\x82\xac \xc5\x93 "
	    "\xc3\xa9", 0);
	CONV("KOI8-R", "\xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, "
	    "\xd0\xbc\xd0\xb8\xd1\x80", 0);
	/* Shift_JIS (read as CP932: 0x5C is a backslash). */
	CONV("Shift_JIS", "\x93\xfa\x96\x7b\\", "\xe6\x97\xa5\xe6\x9c\xac\\",
	    0);
	CONV("Shift_JIS", "a\x93", "a" FFFD, MIME_DEC_INVALID);
	/* ISO-2022-JP: stateful, split inside the escapes too. */
	CONV("ISO-2022-JP", "\x1b$BF|K\\\x1b(B!", "\xe6\x97\xa5\xe6\x9c\xac!",
	    0);
	CONV("GB2312", "\xd6\xd0\xce\xc4", "\xe4\xb8\xad\xe6\x96\x87", 0);
	CONV("EUC-KR", "\xc7\xd1\xb1\xdb", "\xed\x95\x9c\xea\xb8\x80", 0);
	/* Invalid bytes: one U+FFFD per run, conversion goes on. */
	CONV("GB2312", "\xd6\xd0\xff\xce\xc4", "\xe4\xb8\xad" FFFD
	    "\xe6\x96\x87", MIME_DEC_INVALID);
	CONV("UTF-8", "a\xffz", "a" FFFD "z", MIME_DEC_INVALID);
	CONV("UTF-8", "a\xff\xfe\xfdz", "a" FFFD "z", MIME_DEC_INVALID);
	CONV("UTF-8", "\xc3", FFFD, MIME_DEC_INVALID);
	CONV("UTF-8", "\xe2\x82" "A", FFFD "A", MIME_DEC_INVALID);
	CONV("UTF-8", "\xc0\xaf", FFFD, MIME_DEC_INVALID);
	CONV("UTF-8", "\xed\xa0\x80", FFFD, MIME_DEC_INVALID);
	CONV("UTF-8", "\xf4\x90\x80\x80", FFFD, MIME_DEC_INVALID);
	CONV("UTF-8", "\xe0\x9f\xbf", FFFD, MIME_DEC_INVALID);
	CONV("UTF-8", FFFD, FFFD, 0);
	/* Unknown charsets are read as UTF-8 (Dovecot). */
	CONV("x-unknown", "caf\xc3\xa9", "caf\xc3\xa9",
	    MIME_DEC_UNKNOWN_CHARSET);
	CONV("no-such-charset", "caf\xe9", "caf" FFFD,
	    MIME_DEC_UNKNOWN_CHARSET | MIME_DEC_INVALID);
	CONV("utf-8//TRANSLIT", "x", "x", MIME_DEC_UNKNOWN_CHARSET);
	/*
	 * glibc drops punctuation from names, so these reach its own UTF-8
	 * decoder, which passes 5-byte forms: iconv output is checked too.
	 */
	CONV("u+tf-8", "a\xfa\x80\x80\x80\x80" "b\xc3\xa9", "a" FFFD "b"
	    "\xc3\xa9", MIME_DEC_INVALID);
	CONV("ut(f-8)", "\xed\xa0\x80", FFFD, MIME_DEC_INVALID);
	CONV("UTF-16BE", "\x00h\x00i\xd8\x3d\xde\x00", "hi\xf0\x9f\x98\x80",
	    0);
	CONV("UTF-16LE", "h\x00i", "h" FFFD, MIME_DEC_INVALID);
	/* UTF-7 (RFC 2152 examples), built in. */
	CONV("UTF-7", "Hi Mom -+Jjo--!", "Hi Mom -\xe2\x98\xba-!", 0);
	CONV("utf-7", "A+ImIDkQ.", "A\xe2\x89\xa2\xce\x91.", 0);
	CONV("utf-7", "1 +- 1 = 2, +AGEAYgBj-", "1 + 1 = 2, abc", 0);
	CONV("utf-7", "+2D3eAA-", "\xf0\x9f\x98\x80", 0);
	CONV("utf-7", "+2D0-x", FFFD "x", MIME_DEC_INVALID);
	CONV("utf-7", "+3gA-", FFFD, MIME_DEC_INVALID);
	CONV("utf-7", "+Jjp-", "\xe2\x98\xba" FFFD, MIME_DEC_INVALID);
	CONV("utf-7", "a+!b\xff", "a" FFFD "!b" FFFD, MIME_DEC_INVALID);
	CONV("utf-7", "+", FFFD, MIME_DEC_INVALID);
	CONV("utf-7", "+Jjo", "\xe2\x98\xba", 0);
	CONV("utf-7", "++/8-+A/8-", "\xef\xaf\xbf\xcf\xbf", 0);
	/* glibc buffers the last letter (a point may follow): flushed. */
	CONV("windows-1255", "\xf9\xe1", "\xd7\xa9\xd7\x91", 0);
}

/*
 * Long inputs through iconv, whose 4 KiB blocks then fall everywhere in
 * the pattern (ISO-2022-JP escapes included), fed in odd chunk sizes.
 */
static void
check_conv_long(const char *cs, const char *pat, size_t plen,
    const char *upat, size_t ulen)
{
	static const size_t chunks[] = { 1, 7, 4095, 4096, 4097, 100000 };
	struct buf in = BUF_INIT, exp = BUF_INIT, out = BUF_INIT;
	struct mime_charset_conv *c;

	while (in.len < 30000) {
		buf_append(&in, pat, plen);
		buf_append(&exp, upat, ulen);
	}
	c = mime_charset_conv_create(cs);
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		buf_reset(&out);
		for (size_t off = 0; off < in.len; off += chunks[k])
			mime_charset_conv_feed(c, in.data + off,
			    in.len - off < chunks[k] ? in.len - off :
			    chunks[k], &out);
		assert_int_equal(mime_charset_conv_finish(c, &out), 0);
		assert_bytes(&out, exp.data, exp.len);
	}
	mime_charset_conv_free(&c);
	buf_free(&in);
	buf_free(&exp);
	buf_free(&out);
}

#define CONV_LONG(cs, pat, upat) \
	check_conv_long(cs, pat, sizeof(pat) - 1, upat, sizeof(upat) - 1)

static void
test_charset_long(void **state)
{
	(void)state;
	CONV_LONG("koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4, ",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, ");
	CONV_LONG("iso-2022-jp", "\x1b$BF|K\\\x1b(B!",
	    "\xe6\x97\xa5\xe6\x9c\xac!");
	CONV_LONG("shift_jis", "\x93\xfa\x96\x7bx",
	    "\xe6\x97\xa5\xe6\x9c\xacx");
	CONV_LONG("utf-16be", "\xd8\x3d\xde\x00\x00" "a",
	    "\xf0\x9f\x98\x80" "a");
}

/* A character cut by the first 4 KiB block, finished by a short one. */
static void
test_charset_block_edge(void **state)
{
	struct buf in = BUF_INIT, exp = BUF_INIT;

	(void)state;
	for (int i = 0; i < 4095; i++) {
		buf_putc(&in, 'a');
		buf_putc(&exp, 'a');
	}
	buf_append(&in, "\x93\xfa" "xyz", 5);
	buf_append(&exp, "\xe6\x97\xa5" "xyz", 6);
	check_conv("shift_jis", in.data, in.len, exp.data, exp.len, 0);
	/* ... and one never finished. */
	buf_truncate(&in, 4096);
	buf_truncate(&exp, 4095);
	buf_append(&exp, FFFD, 3);
	check_conv("shift_jis", in.data, in.len, exp.data, exp.len,
	    MIME_DEC_INVALID);
	buf_free(&in);
	buf_free(&exp);
}

static void
test_charset_known(void **state)
{
	struct mime_charset_conv *c;

	(void)state;
	c = mime_charset_conv_create("koi8-r");
	assert_true(mime_charset_conv_known(c));
	mime_charset_conv_free(&c);
	c = mime_charset_conv_create("x-unknown");
	assert_false(mime_charset_conv_known(c));
	mime_charset_conv_free(&c);
	mime_charset_conv_free(&c);
}

static void
test_utf8(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_true(mime_utf8_valid("", 0));
	assert_true(mime_utf8_valid("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	    12));
	assert_false(mime_utf8_valid("\xc3", 1));
	assert_false(mime_utf8_valid("\xc1\xbf", 2));
	assert_false(mime_utf8_valid("\xed\xbf\xbf", 3));
	assert_false(mime_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(mime_utf8_valid("\xf8\x88\x80\x80\x80", 5));
	assert_true(mime_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_true(mime_utf8_valid("\xef\xbf\xbf", 3));

	assert_true(mime_utf8_repair("ok", 2, &out));
	assert_bytes(&out, "ok", 2);
	buf_reset(&out);
	assert_false(mime_utf8_repair("a\x80\x80" "b\xc3", 5, &out));
	assert_bytes(&out, "a" FFFD "b" FFFD, 8);
	buf_reset(&out);
	/* Valid U+FFFD between two runs is not merged with them. */
	assert_false(mime_utf8_repair("\xff" FFFD "\xff", 5, &out));
	assert_bytes(&out, FFFD FFFD FFFD, 9);
	buf_reset(&out);
	assert_false(mime_utf8_repair("\xe2\x82\xe2\x82\xac", 5, &out));
	assert_bytes(&out, FFFD "\xe2\x82\xac", 6);
	buf_reset(&out);

	mime_utf8_put(&out, 0x41);
	mime_utf8_put(&out, 0xe9);
	mime_utf8_put(&out, 0x20ac);
	mime_utf8_put(&out, 0x1f600);
	mime_utf8_put(&out, 0xd800);
	mime_utf8_put(&out, 0x110000);
	assert_bytes(&out, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" FFFD FFFD,
	    16);
	assert_int_equal(mime_utf8_count(out.data, out.len), 6);
	buf_free(&out);
}

/*
 * Header fields.
 */

static void
test_rfc2047_examples(void **state)
{
	(void)state;
	/* RFC 2047 section 8. */
	check_hdr("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
	    "Keith Moore <moore@cs.utk.edu>", 0);
	check_hdr("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
	    "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>", 0);
	check_hdr("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
	    "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>", 0);
	check_hdr("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
	    "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	    "If you can read this you understand the example.", 0);
	check_hdr("=?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>",
	    "Olle J\xc3\xa4rnefors <ojarnef@admin.kth.se>", 0);
	check_hdr("Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
	    "    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
	    "Nathaniel Borenstein <nsb@thumper.bellcore.com>    ("
	    "\xd7\x9d\xd7\x95\xd7\x9c\xd7\xa9 \xd7\x9f\xd7\x91 "
	    "\xd7\x99\xd7\x9c\xd7\x98\xd7\xa4\xd7\xa0)", 0);
	/* The display table of section 8. */
	check_hdr("(=?ISO-8859-1?Q?a?=)", "(a)", 0);
	check_hdr("(=?ISO-8859-1?Q?a?= b)", "(a b)", 0);
	check_hdr("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)", 0);
	check_hdr("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)", 0);
	check_hdr("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)",
	    0);
	check_hdr("(=?ISO-8859-1?Q?a_b?=)", "(a b)", 0);
	check_hdr("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)", 0);
	/* RFC 2231 section 5: charset*language. */
	check_hdr("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore", 0);
	check_hdr("=?utf-8*de-DE?B?R3LDvMOfZSBhdXMgS8O2bG4=?=",
	    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln", 0);
}

static void
test_rfc2047_lenient(void **state)
{
	(void)state;
	/* A character split between two words of one charset. */
	check_hdr("=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?=", "caf\xc3\xa9", 0);
	check_hdr("=?UTF-8?B?w6k=?= =?utf-8?B?w6k=?=", "\xc3\xa9\xc3\xa9", 0);
	check_hdr("=?utf-8?B?4oI=?= =?utf-8?B?rA==?=", "\xe2\x82\xac", 0);
	/* ...but not across charsets. */
	check_hdr("=?iso-8859-1?q?caf=E9?= =?utf-8?q?=C3=A9?=",
	    "caf\xc3\xa9\xc3\xa9", 0);
	check_hdr("=?utf-8?q?=C3?= =?iso-8859-1?q?=E9?=", FFFD "\xc3\xa9",
	    MIME_DEC_INVALID);
	/* Blanks between a word and text stay; unfolding drops CRLF. */
	check_hdr("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c", 0);
	check_hdr("=?utf-8?q?a?= ", "a ", 0);
	check_hdr(" =?utf-8?q?a?=", " a", 0);
	check_hdr("Hello\r\n World", "Hello World", 0);
	check_hdr("Hello\r\n\tWorld\n", "Hello\tWorld", 0);
	/* Words inside tokens, blanks inside the text (common clients). */
	check_hdr("foo=?utf-8?q?bar?=baz", "foobarbaz", 0);
	check_hdr("=?utf-8?q?a b?=", "a b", 0);
	check_hdr("=?utf-8?q?" "?=", "", 0);
	check_hdr("=?utf-8?b?" "?=", "", 0);
	check_hdr("=?utf-8?Q?=3D=3F?=", "=?", 0);
	check_hdr("=?utf-8?Q?a=ZZ?=", "a=ZZ", MIME_DEC_INVALID);
	check_hdr("=?utf-8?B?w6*k=?=", "\xc3\xa9", MIME_DEC_INVALID);
	/* Malformed words are left as they are. */
	check_hdr("=?utf-8?x?abc?=", "=?utf-8?x?abc?=", 0);
	check_hdr("=?utf-8?q?abc", "=?utf-8?q?abc", 0);
	check_hdr("=?utf-8?q?abc?", "=?utf-8?q?abc?", 0);
	check_hdr("=?" "?q?abc?=", "=?" "?q?abc?=", 0);
	check_hdr("=?*en?q?abc?=", "=?*en?q?abc?=", 0);
	check_hdr("=?utf 8?q?abc?=", "=?utf 8?q?abc?=", 0);
	check_hdr("=?utf-8?qq?abc?=", "=?utf-8?qq?abc?=", 0);
	check_hdr("a=?b", "a=?b", 0);
	check_hdr("=?", "=?", 0);
	check_hdr("=", "=", 0);
	check_hdr("", "", 0);
	/* A broken word next to a good one. */
	check_hdr("=?x?=?utf-8?q?ok?=", "=?x?ok", 0);
	/* Unknown charsets are read as UTF-8. */
	check_hdr("=?x-foo?q?caf=C3=A9?=", "caf\xc3\xa9",
	    MIME_DEC_UNKNOWN_CHARSET);
	check_hdr("=?utf-8//IGNORE?q?a?=", "a", MIME_DEC_UNKNOWN_CHARSET);
	/* Raw 8-bit text: UTF-8 (RFC 6532), or repaired. */
	check_hdr("Gr\xc3\xbc\xc3\x9f" "e", "Gr\xc3\xbc\xc3\x9f" "e", 0);
	check_hdr("Gr\xfc\xdf" "e", "Gr" FFFD "e", MIME_DEC_INVALID);
}

/* Parameters are taken from a real Content-Type parse. */
static void
check_param(const char *ct, const char *name, int found, const char *exp,
    unsigned flags)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	struct mime_part *root;
	unsigned got = 0xff;

	buf_printf(&msg, "Content-Type: %s\r\n\r\nbody\r\n", ct);
	root = mime_parse(msg.data, msg.len, NULL);
	assert_int_equal(mime_param_decode(root->params, name, &out, &got),
	    found);
	if (found) {
		assert_int_equal(got, flags);
		assert_bytes(&out, exp, strlen(exp));
	} else {
		assert_int_equal(got, 0);
		assert_int_equal(out.len, 0);
	}
	mime_part_free(&root);
	buf_free(&msg);
	buf_free(&out);
}

static void
test_rfc2231(void **state)
{
	(void)state;
	/* RFC 2231 section 3: continuations. */
	check_param("message/external-body; access-type=URL;\r\n"
	    " URL*0=\"ftp://\";\r\n"
	    " URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
	    "url", 1, "ftp://cs.utk.edu/pub/moore/bulk-mailer/"
	    "bulk-mailer.tar", 0);
	/* Section 4: charset and language. */
	check_param("application/x-stuff;\r\n"
	    " title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
	    "title", 1, "This is ***fun***", 0);
	/* Section 4.1: both together. */
	check_param("application/x-stuff;\r\n"
	    " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
	    " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
	    " title*2=\"isn't it!\"",
	    "title", 1, "This is even more ***fun*** isn't it!", 0);
	/* Filenames as mailers send them. */
	check_param("application/pdf; name*=UTF-8''%E2%82%AC%20rates.pdf",
	    "name", 1, "\xe2\x82\xac rates.pdf", 0);
	check_param("text/plain; name*=iso-8859-1'de'M%FCller.txt",
	    "name", 1, "M\xc3\xbcller.txt", 0);
	check_param("text/plain; name*=''%41", "name", 1, "A", 0);
	check_param("application/pdf; name*0*=UTF-8''%C3;"
	    " name*1*=%A9t%C3%A9.pdf", "name", 1,
	    "\xc3\xa9t\xc3\xa9.pdf", 0);
	check_param("text/plain; NAME*1=\"b\"; name*0=\"a\"", "name", 1, "ab",
	    0);
	check_param("text/plain; name*0=a; name*2=c", "name", 1, "a", 0);
	check_param("text/plain; name*0=a; name*0=z; name*1=b", "name", 1,
	    "ab", 0);
	check_param("text/plain; name*1=b", "name", 0, "", 0);
	check_param("text/plain; name*00=a; name*0=b", "name", 1, "b", 0);
	check_param("text/plain; name*0=a; name*1000=b", "name", 1, "a", 0);
	check_param("text/plain; name*0=a; name*1x=b", "name", 1, "a", 0);
	/* The extended form wins over the plain one. */
	check_param("text/plain; name=\"plain.txt\";"
	    " name*=utf-8''ext.txt", "name", 1, "ext.txt", 0);
	check_param("text/plain; name=\"plain.txt\"; name*0=\"sec\"",
	    "name", 1, "sec", 0);
	/* Encoded-words in plain values (Outlook, Gmail). */
	check_param("text/plain; name=\"=?UTF-8?B?w6kudHh0?=\"", "name", 1,
	    "\xc3\xa9.txt", 0);
	check_param("text/plain; name=\"caf\xc3\xa9.txt\"", "name", 1,
	    "caf\xc3\xa9.txt", 0);
	check_param("text/plain; name=\"caf\xe9.txt\"", "name", 1,
	    "caf" FFFD ".txt", MIME_DEC_INVALID);
	/* Broken extended values. */
	check_param("text/plain; name*=%41%4", "name", 1, "A%4",
	    MIME_DEC_INVALID);
	check_param("text/plain; name*=utf-8''100%", "name", 1, "100%",
	    MIME_DEC_INVALID);
	check_param("text/plain; name*=x-bogus''caf%C3%A9", "name", 1,
	    "caf\xc3\xa9", MIME_DEC_UNKNOWN_CHARSET);
	check_param("text/plain; name*=koi8-r''%F0%D2%C9", "name", 1,
	    "\xd0\x9f\xd1\x80\xd0\xb8", 0);
	check_param("text/plain; other=x", "name", 0, "", 0);
	check_param("text/plain; names=x; nam=y", "name", 0, "", 0);
}

/*
 * Case folding and matching.
 */

static void
test_fold(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(mime_fold_cp('A'), 'a');
	assert_int_equal(mime_fold_cp('Z'), 'z');
	assert_int_equal(mime_fold_cp('a'), 'a');
	assert_int_equal(mime_fold_cp('@'), '@');
	assert_int_equal(mime_fold_cp('['), '[');
	assert_int_equal(mime_fold_cp(0xc9), 0xe9);		/* É */
	assert_int_equal(mime_fold_cp(0xd7), 0xd7);		/* × */
	assert_int_equal(mime_fold_cp(0xdf), 0xdf);		/* ß */
	assert_int_equal(mime_fold_cp(0x1e9e), 0xdf);		/* ẞ */
	assert_int_equal(mime_fold_cp(0xb5), 0x3bc);		/* µ */
	assert_int_equal(mime_fold_cp(0x100), 0x101);		/* Ā */
	assert_int_equal(mime_fold_cp(0x101), 0x101);
	assert_int_equal(mime_fold_cp(0x12e), 0x12f);
	assert_int_equal(mime_fold_cp(0x130), 0x130);		/* İ */
	assert_int_equal(mime_fold_cp(0x178), 0xff);		/* Ÿ */
	assert_int_equal(mime_fold_cp(0x1c4), 0x1c6);		/* Ǆ */
	assert_int_equal(mime_fold_cp(0x1c5), 0x1c6);		/* ǅ */
	assert_int_equal(mime_fold_cp(0x3a3), 0x3c3);		/* Σ */
	assert_int_equal(mime_fold_cp(0x3c2), 0x3c3);		/* ς */
	assert_int_equal(mime_fold_cp(0x391), 0x3b1);		/* Α */
	assert_int_equal(mime_fold_cp(0x386), 0x3ac);		/* Ά */
	assert_int_equal(mime_fold_cp(0x345), 0x3b9);
	assert_int_equal(mime_fold_cp(0x410), 0x430);		/* А */
	assert_int_equal(mime_fold_cp(0x42f), 0x44f);		/* Я */
	assert_int_equal(mime_fold_cp(0x401), 0x451);		/* Ё */
	assert_int_equal(mime_fold_cp(0x460), 0x461);		/* Ѡ */
	assert_int_equal(mime_fold_cp(0x531), 0x561);		/* Ա */
	assert_int_equal(mime_fold_cp(0x10a0), 0x2d00);		/* Ⴀ */
	assert_int_equal(mime_fold_cp(0x13f8), 0x13f0);	/* Cherokee */
	assert_int_equal(mime_fold_cp(0xab70), 0x13a0);
	assert_int_equal(mime_fold_cp(0x1e00), 0x1e01);
	assert_int_equal(mime_fold_cp(0x1f08), 0x1f00);		/* Ἀ */
	assert_int_equal(mime_fold_cp(0x2126), 0x3c9);		/* Ω */
	assert_int_equal(mime_fold_cp(0x212a), 'k');		/* K */
	assert_int_equal(mime_fold_cp(0x2160), 0x2170);		/* Ⅰ */
	assert_int_equal(mime_fold_cp(0xff21), 0xff41);		/* Ａ */
	assert_int_equal(mime_fold_cp(0x10400), 0x10428);	/* Deseret */
	assert_int_equal(mime_fold_cp(0x1e900), 0x1e922);	/* Adlam */
	assert_int_equal(mime_fold_cp(0x4e2d), 0x4e2d);		/* 中 */
	assert_int_equal(mime_fold_cp(0x10ffff), 0x10ffff);

	mime_fold_utf8("HeLLo W\xc3\x96RLD", 12, &out);
	assert_bytes(&out, "hello w\xc3\xb6rld", 12);
	buf_reset(&out);
	/* ΟΔΥΣΣΕΥΣ -> οδυσσευσ */
	mime_fold_utf8("\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95"
	    "\xce\xa5\xce\xa3", 16, &out);
	assert_bytes(&out, "\xce\xbf\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5"
	    "\xcf\x85\xcf\x83", 16);
	buf_reset(&out);
	/* Kelvin sign (3 bytes) folds to one byte; invalid -> U+FFFD. */
	mime_fold_utf8("\xe2\x84\xaa\xff", 4, &out);
	assert_bytes(&out, "k" FFFD, 4);
	buf_free(&out);
}

static void
test_matcher(void **state)
{
	struct mime_matcher *m;
	char *big;

	(void)state;
	assert_true(match_all_ways("Hello World", "WORLD"));
	assert_true(match_all_ways("Hello World", "o w"));
	assert_false(match_all_ways("Hello World", "worlds"));
	assert_false(match_all_ways("Hello", "hello world"));
	assert_true(match_all_ways("", ""));
	assert_true(match_all_ways("abc", ""));
	assert_false(match_all_ways("", "a"));
	/* Needles across multibyte characters and chunk edges. */
	assert_true(match_all_ways("xx\xc3\x89" "COLEyy", "\xc3\xa9" "cole"));
	assert_true(match_all_ways("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95"
	    "\xd0\xa2 \xd0\xbc\xd0\xb8\xd1\x80", "\xd0\xbf\xd1\x80\xd0\xb8"
	    "\xd0\xb2\xd0\xb5\xd1\x82"));
	assert_true(match_all_ways("\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3"
	    "\xce\x95\xce\xa5\xce\xa3", "\xcf\x83\xcf\x83\xce\xb5\xcf\x85"
	    "\xcf\x82"));
	assert_true(match_all_ways("Temperature 300\xe2\x84\xaa", "300k"));
	assert_true(match_all_ways("STRA\xe1\xba\x9e" "E", "stra\xc3\x9f"));
	assert_false(match_all_ways("STRASSE", "stra\xc3\x9f" "e"));
	assert_false(match_all_ways("\xc3\xa9", "e"));
	/* KMP: partial matches that overlap. */
	assert_true(match_all_ways("aaaaaaaaab", "aaab"));
	assert_true(match_all_ways("abababcabababd", "ababd"));
	assert_false(match_all_ways("abababcababab", "ababd"));
	/* Invalid bytes read as U+FFFD and never match ASCII. */
	assert_false(match_all_ways("a\xff" "b", "ab"));
	assert_true(match_all_ways("a\xff" "b", "a" FFFD "b"));
	assert_true(match_all_ways("x\xe2\x82" "y", "x" FFFD "y"));

	/* A found needle stays found; reset forgets it. */
	m = mime_matcher_create("ab", 2);
	assert_true(mime_matcher_feed(m, "xab", 3));
	assert_true(mime_matcher_feed(m, "zz", 2));
	mime_matcher_reset(m);
	assert_false(mime_matcher_found(m));
	assert_false(mime_matcher_feed(m, "xa", 2));
	assert_true(mime_matcher_feed(m, "B", 1));
	mime_matcher_free(&m);
	mime_matcher_free(&m);

	/* Needle limit. */
	big = malloc(MIME_MATCH_NEEDLE_MAX + 1);
	memset(big, 'A', MIME_MATCH_NEEDLE_MAX + 1);
	assert_null(mime_matcher_create(big, MIME_MATCH_NEEDLE_MAX + 1));
	m = mime_matcher_create(big, MIME_MATCH_NEEDLE_MAX);
	assert_non_null(m);
	mime_matcher_free(&m);
	free(big);
}

/*
 * A 50 MB body searched in 64 KiB chunks, needle at the very end and cut
 * by a chunk edge: linear time, and the text is never held.
 */
static void
test_matcher_large(void **state)
{
	size_t total = 50 * 1024 * 1024, chunk = 65536, off;
	struct mime_matcher *m;
	char *buf = malloc(chunk);

	(void)state;
	m = mime_matcher_create("aaaaaaaaaaaaaaaaaaab", 20);
	for (off = 0; off + chunk <= total; off += chunk) {
		memset(buf, 'A', chunk);
		if (off + chunk == total)
			buf[chunk - 1] = 'B';
		assert_int_equal(mime_matcher_feed(m, buf, chunk),
		    off + chunk == total);
	}
	mime_matcher_free(&m);
	free(buf);
}

/*
 * HTML.
 */

static void
check_html(const char *html, const char *exp)
{
	struct buf msg = BUF_INIT, out = BUF_INIT;
	struct mime_part *root;
	struct mime_body_decoder *d;
	size_t len = strlen(html);

	buf_printf(&msg, "Content-Type: text/html; charset=utf-8\r\n\r\n%s",
	    html);
	root = mime_parse(msg.data, msg.len, NULL);
	d = mime_body_decoder_create(root, MIME_BODY_UTF8 | MIME_BODY_HTML);
	mime_body_decode(d, html, len, &out);
	assert_int_equal(mime_body_decoder_finish(d, &out), 0);
	assert_bytes(&out, exp, strlen(exp));
	for (size_t split = 0; split <= len; split++) {
		buf_reset(&out);
		mime_body_decode(d, html, split, &out);
		mime_body_decode(d, html + split, len - split, &out);
		(void)mime_body_decoder_finish(d, &out);
		assert_bytes(&out, exp, strlen(exp));
	}
	mime_body_decoder_free(&d);
	mime_part_free(&root);
	buf_free(&msg);
	buf_free(&out);
}

static void
test_html(void **state)
{
	(void)state;
	check_html("<html><head><title>T</title><style>p{}</style></head>"
	    "<body><p>Hello&nbsp;<b>World</b> &amp; &lt;you&gt; &#233; "
	    "&#xE9; &quot;q&quot;</p><script>x<y</script><div>Next</div>"
	    "</body></html>",
	    "Hello World & <you> \xc3\xa9 \xc3\xa9 \"q\"\nNext");
	check_html("<!-- <p>hidden</p> -->A<a href=\"x>y\" title='q>'>B</a> "
	    "&bogus; &amp &#150; &#0; 1 < 2<br/>C<!DOCTYPE x><?xml y?>D",
	    "AB &bogus; &amp \xe2\x80\x93 " FFFD " 1 < 2\nCD");
	check_html("caf&eacute;s &Auml;&szlig;&euro;&hellip;&apos;",
	    "caf\xc3\xa9s \xc3\x84\xc3\x9f\xe2\x82\xac\xe2\x80\xa6'");
	check_html("&#65&#66;&#x43;&#X44;&#99999999999;&#xD800;&#65x",
	    "ABCD" FFFD FFFD "Ax");
	check_html("&#;&#x;&;& &&amp;", "&#;&#x;&;& &&");
	check_html("a&#32;&#x0a;&#9;b&#xe9;", "a b\xc3\xa9");
	check_html("<script>if (a</b) x='</script'; </SCRIPT >after",
	    "after");
	check_html("<STYLE type=\"text/css\">a{}</style\t>x", "x");
	check_html("  lots \r\n\t of   \n space  ", "lots of space");
	check_html("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr>"
	    "</table>", "a b\nc");
	check_html("<ul><li>one<li>two</ul><h1>T</h1><p></p><p></p>x",
	    "one\ntwo\nT\nx");
	check_html("a<span>b</span>c<img src=x alt=y>d", "abcd");
	check_html("<p class=x\"y\">t</p>", "t");
	check_html("<div don't>t</div>", "t");
	check_html("<!-->x-->y", "y");
	check_html("<!---->z", "z");
	check_html("<!-- a -- b -->c", "c");
	check_html("<![CDATA[x]]>y", "y");
	check_html("x<", "x<");
	check_html("x&amp", "x&amp");
	check_html("<averyveryverylongtagname>t</averyveryverylongtagname>",
	    "t");
	check_html("<p>unclosed <!-- comment", "unclosed");
	check_html("<title>only a title", "");
	check_html("", "");
}

/* Hostile markup: big, and linear. */
static void
test_html_large(void **state)
{
	static const char *const pats[] = { "<", "&", "<!--", "<a x=\"",
	    "&#1234567", "</scrip", "<script>", "a ", "<br>" };
	size_t n = 4 * 1024 * 1024;
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct mime_part *root;
	struct mime_body_decoder *d;

	(void)state;
	root = parse("Content-Type: text/html\r\n\r\n");
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		size_t pl = strlen(pats[i]);

		buf_reset(&in);
		while (in.len < n)
			buf_append(&in, pats[i], pl);
		d = mime_body_decoder_create(root, MIME_BODY_UTF8 |
		    MIME_BODY_HTML);
		buf_reset(&out);
		for (size_t off = 0; off < in.len; off += 4096)
			mime_body_decode(d, in.data + off, in.len - off < 4096 ?
			    in.len - off : 4096, &out);
		(void)mime_body_decoder_finish(d, &out);
		mime_body_decoder_free(&d);
		assert_true(out.len <= in.len * 3);
		assert_true(mime_utf8_valid(out.data, out.len));
	}
	mime_part_free(&root);
	buf_free(&in);
	buf_free(&out);
}

/*
 * Text extraction.
 */

static const char msg_alt[] =
    "From: a@example.org\r\n"
    "Subject: test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=E9 cr=E8me=\r\n"
    " br=FBl=E9e\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PHA+Q2Fmw6kgPGI+Y3LDqG1lPC9iPjwvcD4=\r\n"
    "--b1--\r\n"
    "epilogue\r\n";

static const char msg_mixed[] =
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>only html</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: image/png\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "iVBORw0KGgo=\r\n"
    "--outer\r\n"
    "Content-Type: text/plain; name=notes.txt\r\n"
    "Content-Disposition: attachment; filename=notes.txt\r\n"
    "\r\n"
    "attached notes\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "Content-Type: text/plain; charset=koi8-r\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
    "--outer--\r\n";

static void
test_extract(void **state)
{
	struct buf out = BUF_INIT;

	(void)state;
	check_extract(msg_alt, MIME_WALK_ONE_ALTERNATIVE | MIME_WALK_HTML,
	    "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e");
	check_extract(msg_alt, MIME_WALK_HTML,
	    "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e\n"
	    "Caf\xc3\xa9 cr\xc3\xa8me");
	check_extract(msg_alt, 0,
	    "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e\n"
	    "<p>Caf\xc3\xa9 <b>cr\xc3\xa8me</b></p>");
	check_extract(msg_mixed, MIME_WALK_ONE_ALTERNATIVE | MIME_WALK_HTML,
	    "only html\nattached notes\n"
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	check_extract(msg_mixed, MIME_WALK_HTML | MIME_WALK_NO_ATTACHMENTS |
	    MIME_WALK_NO_MESSAGES, "only html");
	check_extract("Subject: x\r\n\r\nHello\r\n", 0, "Hello\r\n");
	check_extract("Subject: x\r\n\r\n", 0, "");
	check_extract("Content-Type: application/pdf\r\n\r\n%PDF", 0, "");
	check_extract("Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "no boundary\r\n", 0, "");
	check_extract("Content-Type: text/plain; charset=utf-16le\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\naABpAA==\r\n", 0,
	    "hi");
	check_extract("Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR",
	    0, "BEGIN:VCALENDAR");
	/* An alternative without text/plain: the multipart holding html. */
	check_extract("Content-Type: multipart/alternative; boundary=a\r\n"
	    "\r\n--a\r\nContent-Type: application/x-rtf\r\n\r\n{\\rtf}\r\n"
	    "--a\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
	    "--r\r\nContent-Type: text/html\r\n\r\n<b>rich</b>\r\n"
	    "--r\r\nContent-Type: image/png\r\n\r\nPNG\r\n--r--\r\n"
	    "--a\r\nContent-Type: text/enriched\r\n\r\n<bold>x</bold>\r\n"
	    "--a--\r\n", MIME_WALK_ONE_ALTERNATIVE | MIME_WALK_HTML, "rich");
	check_extract("Content-Type: multipart/alternative; boundary=a\r\n"
	    "\r\n--a\r\nContent-Type: image/gif\r\n\r\nGIF\r\n--a--\r\n",
	    MIME_WALK_ONE_ALTERNATIVE, "");

	/* The bound cuts at a character boundary and says so. */
	assert_int_equal(extract("Subject: x\r\n\r\n\xc3\xa9\xc3\xa9\xc3\xa9",
	    0, 3, &out), 1);
	assert_bytes(&out, "\xc3\xa9", 2);
	assert_int_equal(extract("Subject: x\r\n\r\n\xc3\xa9\xc3\xa9\xc3\xa9",
	    0, 6, &out), 0);
	assert_bytes(&out, "\xc3\xa9\xc3\xa9\xc3\xa9", 6);
	assert_int_equal(extract("Subject: x\r\n\r\nabc", 0, 0, &out), 1);
	assert_int_equal(out.len, 0);
	assert_int_equal(extract(msg_alt, MIME_WALK_HTML, 21, &out), 1);
	assert_bytes(&out, "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e",
	    21);
	buf_free(&out);
}

/* FETCH BINARY: the transfer encoding alone, unknown ones flagged. */
static void
test_body_binary(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n3q2+7w==\r\n"
	    "--b\r\nContent-Type: text/plain; charset=koi8-r\r\n"
	    "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
	    "--b--\r\n";
	struct mime_part *root = parse(msg);
	struct mime_body_decoder *d;
	const struct mime_part *p;
	struct buf out = BUF_INIT;

	(void)state;
	p = root->children;
	d = mime_body_decoder_create(p, 0);
	mime_body_decode(d, msg + p->body_off, (size_t)p->body_len, &out);
	assert_int_equal(mime_body_decoder_finish(d, &out), 0);
	assert_bytes(&out, "\xde\xad\xbe\xef", 4);
	mime_body_decoder_free(&d);
	assert_null(d);
	buf_reset(&out);
	p = p->next;
	d = mime_body_decoder_create(p, MIME_BODY_UTF8 | MIME_BODY_HTML);
	mime_body_decode(d, msg + p->body_off, (size_t)p->body_len, &out);
	assert_int_equal(mime_body_decoder_finish(d, &out),
	    MIME_DEC_UNKNOWN_CTE);
	assert_bytes(&out, "begin", 5);
	mime_body_decoder_free(&d);
	mime_body_decoder_free(&d);
	mime_part_free(&root);
	buf_free(&out);
}

static ssize_t
failing_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	(void)ctx;
	(void)buf;
	(void)len;
	(void)off;
	return -1;
}

static bool
count_fn(void *ctx, const struct mime_part *p, const char *s, size_t len)
{
	size_t *n = ctx;

	(void)p;
	(void)s;
	*n += len;
	return true;
}

static bool
stop_fn(void *ctx, const struct mime_part *p, const char *s, size_t len)
{
	(void)ctx;
	(void)p;
	(void)s;
	(void)len;
	return false;
}

static void
test_walk(void **state)
{
	struct mime_part *root = parse(msg_alt);
	struct mime_mem mem = { msg_alt, sizeof(msg_alt) - 1 };
	struct mime_mem cut = { msg_alt, 239 };
	struct buf out = BUF_INIT;
	size_t n = 0;

	(void)state;
	assert_int_equal(mime_text_walk(root, failing_read, NULL, 0, 0,
	    count_fn, &n), -1);
	assert_int_equal(mime_text_extract(root, failing_read, NULL, 0, 100,
	    0, &out), -1);
	assert_int_equal(mime_preview(root, failing_read, NULL, &out), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(mime_text_walk(root, mime_mem_read, &mem, 0, 0,
	    stop_fn, NULL), 1);
	/* max_read: only the first 10 raw bytes of the first part. */
	assert_int_equal(mime_text_walk(root, mime_mem_read, &mem, 0, 10,
	    count_fn, &n), 1);
	/* "Caf=E9 cr=" -> "Caf\xc3\xa9 cr" */
	assert_int_equal(n, 8);
	/* A message shorter than its tree says: read what is there. */
	n = 0;
	assert_int_equal(mime_text_walk(root, mime_mem_read, &cut, 0, 0,
	    count_fn, &n), 0);
	/* "...=\r\n br=" -> "Caf\xc3\xa9 cr\xc3\xa8me br" */
	assert_int_equal(n, 15);
	mime_part_free(&root);
	buf_free(&out);
}

/*
 * RFC 8970 preview.
 */

static void
test_preview(void **state)
{
	struct buf msg = BUF_INIT, exp = BUF_INIT;

	(void)state;
	check_preview(msg_alt, "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
	    "e");
	check_preview(msg_mixed, "only html");
	check_preview("Subject: x\r\n\r\n  Hello,\r\n\r\n  this   is\ta "
	    "test.  \r\n", "Hello, this is a test.");
	check_preview("Subject: x\r\n\r\n> quoted\r\nreply\r\n text\r\n",
	    "reply text");
	check_preview("Subject: x\r\n\r\nOn Monday you wrote:\r\n> q\r\n"
	    "> more\r\nAnswer.\r\n", "On Monday you wrote: Answer.");
	check_preview("Subject: x\r\n\r\n> only quoted\r\n>more\r\n",
	    ">only quoted more");
	check_preview("Subject: x\r\n\r\n\xef\xbb\xbf" "a\x01\x7f" "b\xc2\x85"
	    "c\xe2\x80\x8b" "d\xc2\xa0" "e\xe3\x80\x80" "f\t\xe2\x80\xa8g",
	    "abcd e f g");
	check_preview("Subject: x\r\n\r\n \r\n\t\r\n", "");
	check_preview("Subject: x\r\n\r\n", "");
	check_preview("Content-Type: image/gif\r\n\r\nGIF89a", "");
	check_preview("Content-Type: text/plain\r\n"
	    "Content-Disposition: attachment\r\n\r\nsecret", "");
	/* The first part with text only. */
	check_preview("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\n\r\n \r\n--b\r\n\r\nsecond\r\n--b\r\n\r\nthird\r\n"
	    "--b--\r\n", "second");
	check_preview("Content-Type: text/html; charset=windows-1252\r\n\r\n"
	    "<style>x</style><p>\x93Hi\x94 &amp; <b>bye</b></p>",
	    "\xe2\x80\x9cHi\xe2\x80\x9d & bye");

	/* 300 characters: exactly 256 are kept, 2-byte ones too. */
	buf_puts(&msg, "Subject: x\r\n\r\n");
	for (int i = 0; i < 300; i++)
		buf_puts(&msg, "\xc3\xa9");
	for (int i = 0; i < MIME_PREVIEW_MAX; i++)
		buf_puts(&exp, "\xc3\xa9");
	check_preview(msg.data, exp.data);
	/* A space that would be the 256th character is not written. */
	buf_reset(&msg);
	buf_reset(&exp);
	buf_puts(&msg, "Subject: x\r\n\r\n");
	for (int i = 0; i < 255; i++)
		buf_putc(&msg, 'x');
	buf_puts(&msg, " yz");
	for (int i = 0; i < 255; i++)
		buf_putc(&exp, 'x');
	check_preview(msg.data, exp.data);
	buf_free(&msg);
	buf_free(&exp);
}

/*
 * RFC 5256 base subject.
 */

static void
test_base_subject(void **state)
{
	(void)state;
	check_subject("test", "test", false);
	check_subject("Re: test", "test", true);
	check_subject("RE: [list] test", "test", true);
	check_subject("[list] Re: test", "test", true);
	check_subject("[a][b] Re: test", "test", true);
	check_subject("Re [foo]: test", "test", true);
	check_subject("re:re:fwd: x", "x", true);
	check_subject("Re: Re: Re: x", "x", true);
	check_subject("fwd:hello", "hello", true);
	check_subject("FW: hello", "hello", true);
	check_subject("Fwd : hi", "hi", true);
	check_subject("Fwd: test (fwd)", "test", true);
	check_subject("test (fwd) (FWD)", "test", true);
	check_subject("hello\t(fwd)", "hello", true);
	check_subject("[fwd: hello]", "hello", true);
	check_subject("[Fwd: Re: hello (fwd)]", "hello", true);
	check_subject("[fwd: [fwd: x]]", "x", true);
	check_subject("Fw: Re: [a] b (fwd)", "b", true);
	check_subject("Re:", "", true);
	check_subject("Re: [x]", "[x]", true);
	check_subject("[blob]", "[blob]", false);
	check_subject("[a][b] c", "c", false);
	check_subject("[a] [b] [c]", "[c]", false);
	check_subject("[fwd: a] b", "b", false);
	check_subject("Rex: hello", "Rex: hello", false);
	check_subject("Re hello", "Re hello", false);
	check_subject("Re: [unclosed", "[unclosed", true);
	check_subject("[unclosed Re: x", "[unclosed Re: x", false);
	check_subject("   hello    world  ", "hello world", false);
	check_subject("a\t\t b\r\n c", "a b c", false);
	check_subject("", "", false);
	check_subject("   ", "", false);
	check_subject("(fwd)", "", true);
	check_subject("=?utf-8?q?Re:_caf=C3=A9?=", "caf\xc3\xa9", true);
	check_subject("=?iso-8859-1?q?AW:_Gr=FC=DFe?=", "AW: Gr\xc3\xbc\xc3\x9f"
	    "e", false);
	check_subject("Re: =?utf-8?B?0J/RgNC40LLQtdGC?= (fwd)",
	    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", true);
	check_subject("[\xd0\xa1\xd0\xbf\xd0\xb8\xd1\x81\xd0\xbe\xd0\xba] Re: "
	    "x", "x", true);
}

/* Inputs that would be quadratic if blobs or wrappers were rescanned. */
static void
test_base_subject_large(void **state)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t n = 200000;

	(void)state;
	for (size_t i = 0; i < n; i++)
		buf_puts(&in, "[a]");
	buf_puts(&in, "x");
	assert_false(mime_base_subject(in.data, in.len, &out));
	assert_bytes(&out, "x", 1);

	buf_reset(&in);
	buf_reset(&out);
	for (size_t i = 0; i < n; i++)
		buf_puts(&in, "[fwd:");
	buf_puts(&in, "x");
	for (size_t i = 0; i < n; i++)
		buf_puts(&in, "]");
	assert_true(mime_base_subject(in.data, in.len, &out));
	assert_bytes(&out, "x", 1);

	/* Each step-(3) try reads every blob: remembered, not redone. */
	buf_reset(&in);
	buf_reset(&out);
	for (size_t i = 0; i < n; i++)
		buf_puts(&in, "[a]");
	buf_puts(&in, " Re");
	assert_false(mime_base_subject(in.data, in.len, &out));
	assert_bytes(&out, "Re", 2);

	buf_reset(&in);
	buf_reset(&out);
	for (size_t i = 0; i < n; i++)
		buf_puts(&in, "Re: ");
	for (size_t i = 0; i < n; i++)
		buf_puts(&in, "(fwd)");
	assert_true(mime_base_subject(in.data, in.len, &out));
	assert_int_equal(out.len, 0);
	buf_free(&in);
	buf_free(&out);
}

/* Long header values with many candidate encoded-words. */
static void
test_header_large(void **state)
{
	static const char *const pats[] = { "=?", "=?a?q?", "=?a?q?x",
	    "=?utf-8?q?=C3?=", "=?utf-8?b?w6k=?= " };
	struct buf in = BUF_INIT, out = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		buf_reset(&in);
		buf_reset(&out);
		while (in.len < 2 * 1024 * 1024)
			buf_puts(&in, pats[i]);
		(void)mime_header_decode(in.data, in.len, &out);
		assert_true(mime_utf8_valid(out.data, out.len));
	}
	buf_free(&in);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cte_parse),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_qp_long_blanks),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_charset_names),
		cmocka_unit_test(test_charset_supported),
		cmocka_unit_test(test_charset_conv),
		cmocka_unit_test(test_charset_long),
		cmocka_unit_test(test_charset_block_edge),
		cmocka_unit_test(test_charset_known),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_rfc2047_examples),
		cmocka_unit_test(test_rfc2047_lenient),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_matcher),
		cmocka_unit_test(test_matcher_large),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_html_large),
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_body_binary),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_preview),
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_base_subject_large),
		cmocka_unit_test(test_header_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
