/*
 * fuzz_mime_decode - the decoders of mime/mime_decode.h.
 *
 * Input: a control byte (chunking, fuzz_common.h), a selector byte, then
 * data.  The selector's low 3 bits pick what is run, the rest a variant
 * (encoding, charset, flags, bound):
 *  0 Content-Transfer-Encoding: a chunked decode gives the same bytes and
 *    flags as a one-shot decode; base64 never grows, quoted-printable
 *    grows only by turning LF into CRLF; unknown encodings copy.
 *  1 charset conversion (a list of charsets, stateful ones included):
 *    chunked = one-shot, bytes and flags; the converter gives the same
 *    again after finish (state reset); output valid UTF-8 that
 *    mime_utf8_repair() leaves alone.
 *  2 header fields: mime_header_decode() gives valid UTF-8;
 *    mime_base_subject() gives valid UTF-8 with single spaces and no
 *    blank at either end, and is a fixed point (a second run changes
 *    nothing and finds no reply/forward) unless its output holds "=?".
 *  3 folding and matching: the first n bytes are a needle; the streaming
 *    matcher, fed in chunks, agrees with mime_text_contains() (memmem on
 *    the folded text); folding gives valid UTF-8 and is idempotent.
 *  4 messages: a byte picks the bound and walk flags, the rest is parsed
 *    as a message; mime_text_extract() gives valid UTF-8 within its bound,
 *    all the walk's text when it returns 0; every walk piece is valid
 *    UTF-8; mime_preview() gives at most 256 code points of valid
 *    UTF-8 without controls, without blanks at the ends and without two
 *    blanks in a row.
 *  5 parameters: "Content-Type: text/plain;" + data is parsed and
 *    mime_param_decode() of name/filename/title gives valid UTF-8.
 *  6 HTML: a text/html body decoder fed in chunks gives the same text as
 *    fed whole; valid UTF-8, no blank at either end.
 *  7 mime_utf8_repair(): valid output, identity on valid input, equal to
 *    a chunked mime_charset_to_utf8("utf-8").
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const charsets[] = {
	"utf-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-8859-15",
	"koi8-r", "shift_jis", "iso-2022-jp", "gb2312", "euc-kr", "big5",
	"utf-16", "utf-7", "x-unknown", "euc-jp", "utf-32", "iso-2022-kr",
	"cp1255", "tcvn", "gb18030", "iso-2022-cn-ext", NULL,
};

static void
check_utf8(const struct buf *b, const char *what)
{
	FUZZ_CHECK(mime_utf8_valid(b->data, b->len), "%s: invalid UTF-8",
	    what);
}

static void
fuzz_cte(struct fuzz_chunker *ch, unsigned v, const char *s, size_t len)
{
	static const enum mime_cte ctes[] = { MIME_CTE_7BIT, MIME_CTE_8BIT,
	    MIME_CTE_BINARY, MIME_CTE_QP, MIME_CTE_BASE64, MIME_CTE_UNKNOWN };
	enum mime_cte cte = ctes[v % 6];
	struct buf whole = BUF_INIT, parts = BUF_INIT;
	struct mime_cte_decoder *d;
	unsigned f1, f2;
	size_t lf = 0;

	f1 = mime_cte_decode_all(cte, s, len, &whole);
	d = mime_cte_decoder_create(cte);
	for (size_t off = 0, n; off < len; off += n) {
		n = fuzz_chunker_next(ch, len - off);
		mime_cte_decode(d, s + off, n, &parts);
	}
	f2 = mime_cte_decoder_finish(d, &parts);
	mime_cte_decoder_free(&d);
	FUZZ_CHECK(f1 == f2, "cte %d flags %u vs %u", (int)cte, f1, f2);
	FUZZ_CHECK(fuzz_mem_eq(whole.data, whole.len, parts.data, parts.len),
	    "cte %d: chunked output differs", (int)cte);
	for (size_t i = 0; i < len; i++)
		lf += s[i] == '\n';
	switch (cte) {
	case MIME_CTE_BASE64:
		FUZZ_CHECK(whole.len <= len / 4 * 3 + 2, "base64 grew");
		break;
	case MIME_CTE_QP:
		FUZZ_CHECK(whole.len <= len + lf, "qp grew");
		break;
	default:
		FUZZ_CHECK(fuzz_mem_eq(whole.data, whole.len, s, len),
		    "passthrough changed the data");
		FUZZ_CHECK((f1 == MIME_DEC_UNKNOWN_CTE) ==
		    (cte == MIME_CTE_UNKNOWN), "passthrough flags %u", f1);
		break;
	}
	buf_free(&whole);
	buf_free(&parts);
}

static void
fuzz_charset(struct fuzz_chunker *ch, unsigned v, const char *s, size_t len)
{
	const char *cs = charsets[v % (sizeof(charsets) / sizeof(charsets[0]))];
	struct buf whole = BUF_INIT, parts = BUF_INIT, rep = BUF_INIT;
	struct mime_charset_conv *c;
	unsigned f1, f2;

	f1 = mime_charset_to_utf8(cs, s, len, &whole);
	c = mime_charset_conv_create(cs);
	for (size_t off = 0, n; off < len; off += n) {
		n = fuzz_chunker_next(ch, len - off);
		mime_charset_conv_feed(c, s + off, n, &parts);
	}
	f2 = mime_charset_conv_finish(c, &parts);
	/* finish resets the converter (shift state, BOM) for a new input. */
	mime_charset_conv_feed(c, s, len, &rep);
	FUZZ_CHECK(mime_charset_conv_finish(c, &rep) == f1 &&
	    fuzz_mem_eq(whole.data, whole.len, rep.data, rep.len),
	    "%s: not reset by finish", cs ? cs : "NULL");
	mime_charset_conv_free(&c);
	FUZZ_CHECK(f1 == f2, "%s: flags %u vs %u", cs ? cs : "NULL", f1, f2);
	FUZZ_CHECK(fuzz_mem_eq(whole.data, whole.len, parts.data, parts.len),
	    "%s: chunked output differs", cs ? cs : "NULL");
	check_utf8(&whole, "charset");
	buf_reset(&rep);
	FUZZ_CHECK(mime_utf8_repair(whole.data, whole.len, &rep) &&
	    fuzz_mem_eq(whole.data, whole.len, rep.data, rep.len),
	    "repair changed converted text");
	buf_free(&whole);
	buf_free(&parts);
	buf_free(&rep);
}

static void
fuzz_header(const char *s, size_t len)
{
	struct buf out = BUF_INIT, again = BUF_INIT;
	bool refwd;

	(void)mime_header_decode(s, len, &out);
	check_utf8(&out, "header");
	buf_reset(&out);
	(void)mime_base_subject(s, len, &out);
	check_utf8(&out, "base subject");
	if (out.len > 0) {
		FUZZ_CHECK(out.data[0] != ' ' && out.data[out.len - 1] != ' ',
		    "base subject has a blank at an end");
		FUZZ_CHECK(memmem(out.data, out.len, "  ", 2) == NULL &&
		    memchr(out.data, '\t', out.len) == NULL &&
		    memchr(out.data, '\n', out.len) == NULL,
		    "base subject whitespace not collapsed");
	}
	if (out.len == 0 || memmem(out.data, out.len, "=?", 2) == NULL) {
		refwd = mime_base_subject(out.data, out.len, &again);
		FUZZ_CHECK(!refwd && fuzz_mem_eq(out.data, out.len, again.data,
		    again.len), "base subject is not a fixed point: \"%.*s\" "
		    "-> \"%.*s\"", (int)out.len, out.data ? out.data : "",
		    (int)again.len, again.data ? again.data : "");
	}
	buf_free(&out);
	buf_free(&again);
}

static void
fuzz_match(struct fuzz_chunker *ch, unsigned v, const char *s, size_t len)
{
	size_t nlen = v < len ? v : len;
	struct buf f1 = BUF_INIT, f2 = BUF_INIT;
	struct mime_matcher *m;
	bool one;

	m = mime_matcher_create(s, nlen);
	FUZZ_CHECK(m != NULL, "short needle refused");
	for (size_t off = nlen, n; off < len; off += n) {
		n = fuzz_chunker_next(ch, len - off);
		(void)mime_matcher_feed(m, s + off, n);
	}
	one = mime_text_contains(s + nlen, len - nlen, s, nlen);
	FUZZ_CHECK(mime_matcher_found(m) == one, "matcher %d, contains %d",
	    mime_matcher_found(m), one);
	mime_matcher_free(&m);
	mime_fold_utf8(s, len, &f1);
	check_utf8(&f1, "fold");
	mime_fold_utf8(f1.data, f1.len, &f2);
	FUZZ_CHECK(fuzz_mem_eq(f1.data, f1.len, f2.data, f2.len),
	    "folding is not idempotent");
	buf_free(&f1);
	buf_free(&f2);
}

static bool
walk_fn(void *ctx, const struct mime_part *p, const char *s, size_t len)
{
	size_t *n = ctx;

	(void)p;
	FUZZ_CHECK(mime_utf8_valid(s, len), "walk piece is not UTF-8");
	*n += len;
	return true;
}

static void
fuzz_message(const char *s, size_t len)
{
	static const size_t maxes[4] = { 0, 7, 256, 1 << 20 };
	struct mime_mem mem;
	struct buf out = BUF_INIT;
	struct mime_part *root;
	size_t max, n = 0, chars;
	unsigned flags;
	int ret;

	/* One more byte: the bound and the walk flags. */
	if (len == 0)
		return;
	max = maxes[(unsigned char)s[0] & 3];
	flags = ((unsigned char)s[0] >> 2) & 0x0f;
	s++;
	len--;
	mem.data = s;
	mem.len = len;
	root = mime_parse(s, len, NULL);
	ret = mime_text_extract(root, mime_mem_read, &mem, flags, max, 0,
	    &out);
	FUZZ_CHECK(ret == 0 || ret == 1, "extract returned %d", ret);
	FUZZ_CHECK(out.len <= max, "extract: %zu bytes over %zu", out.len,
	    max);
	check_utf8(&out, "extract");
	FUZZ_CHECK(mime_text_walk(root, mime_mem_read, &mem, flags, 0,
	    walk_fn, &n) == 0, "walk did not finish");
	FUZZ_CHECK(ret == 1 || n <= out.len, "extract lost text");

	buf_reset(&out);
	FUZZ_CHECK(mime_preview(root, mime_mem_read, &mem, &out) == 0,
	    "preview failed");
	check_utf8(&out, "preview");
	chars = mime_utf8_count(out.data, out.len);
	FUZZ_CHECK(chars <= MIME_PREVIEW_MAX, "preview %zu chars", chars);
	if (out.len > 0) {
		FUZZ_CHECK(out.data[0] != ' ' && out.data[out.len - 1] != ' ',
		    "preview has a blank at an end");
		FUZZ_CHECK(memmem(out.data, out.len, "  ", 2) == NULL,
		    "preview has two blanks");
		for (size_t i = 0; i < out.len; i++)
			FUZZ_CHECK((unsigned char)out.data[i] >= 0x20 &&
			    out.data[i] != 0x7f, "preview has a control");
	}
	mime_part_free(&root);
	buf_free(&out);
}

static void
fuzz_params(const char *s, size_t len)
{
	static const char *const names[] = { "name", "filename", "title" };
	struct buf msg = BUF_INIT, out = BUF_INIT;
	struct mime_part *root;
	unsigned flags;

	buf_puts(&msg, "Content-Type: text/plain;");
	buf_append(&msg, s, len);
	buf_puts(&msg, "\r\n\r\n");
	root = mime_parse(msg.data, msg.len, NULL);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		buf_reset(&out);
		if (mime_param_decode(root->params, names[i], &out,
		    &flags) == 0)
			FUZZ_CHECK(out.len == 0 && flags == 0,
			    "absent parameter wrote");
		check_utf8(&out, "parameter");
	}
	mime_part_free(&root);
	buf_free(&msg);
	buf_free(&out);
}

static void
fuzz_html(struct fuzz_chunker *ch, const char *s, size_t len)
{
	static const char msg[] = "Content-Type: text/html\r\n\r\n";
	struct buf whole = BUF_INIT, parts = BUF_INIT;
	struct mime_body_decoder *d;
	struct mime_part *root;
	unsigned f1, f2;

	root = mime_parse(msg, sizeof(msg) - 1, NULL);
	d = mime_body_decoder_create(root, MIME_BODY_UTF8 | MIME_BODY_HTML);
	mime_body_decode(d, s, len, &whole);
	f1 = mime_body_decoder_finish(d, &whole);
	for (size_t off = 0, n; off < len; off += n) {
		n = fuzz_chunker_next(ch, len - off);
		mime_body_decode(d, s + off, n, &parts);
	}
	f2 = mime_body_decoder_finish(d, &parts);
	mime_body_decoder_free(&d);
	FUZZ_CHECK(f1 == f2, "html flags %u vs %u", f1, f2);
	FUZZ_CHECK(fuzz_mem_eq(whole.data, whole.len, parts.data, parts.len),
	    "html: chunked output differs");
	check_utf8(&whole, "html");
	if (whole.len > 0)
		FUZZ_CHECK(whole.data[0] != ' ' && whole.data[0] != '\n' &&
		    whole.data[whole.len - 1] != ' ' &&
		    whole.data[whole.len - 1] != '\n',
		    "html text has a blank at an end");
	mime_part_free(&root);
	buf_free(&whole);
	buf_free(&parts);
}

static void
fuzz_repair(struct fuzz_chunker *ch, const char *s, size_t len)
{
	struct buf out = BUF_INIT, parts = BUF_INIT;
	struct mime_charset_conv *c = mime_charset_conv_create("utf-8");
	bool valid;

	valid = mime_utf8_repair(s, len, &out);
	check_utf8(&out, "repair");
	FUZZ_CHECK(valid == mime_utf8_valid(s, len), "repair verdict");
	if (valid)
		FUZZ_CHECK(fuzz_mem_eq(out.data, out.len, s, len),
		    "repair changed valid text");
	for (size_t off = 0, n; off < len; off += n) {
		n = fuzz_chunker_next(ch, len - off);
		mime_charset_conv_feed(c, s + off, n, &parts);
	}
	(void)mime_charset_conv_finish(c, &parts);
	mime_charset_conv_free(&c);
	FUZZ_CHECK(fuzz_mem_eq(out.data, out.len, parts.data, parts.len),
	    "chunked repair differs");
	buf_free(&out);
	buf_free(&parts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_chunker ch;
	unsigned sel, v;
	char *s;
	size_t len;

	if (size < 2)
		return 0;
	fuzz_chunker_init(&ch, data[0]);
	sel = data[1] & 7;
	v = data[1] >> 3;
	len = size - 2;
	/* An exact-size copy, so ASan sees any read past the end. */
	s = malloc(len > 0 ? len : 1);
	memcpy(s, data + 2, len);
	switch (sel) {
	case 0:
		fuzz_cte(&ch, v, s, len);
		break;
	case 1:
		fuzz_charset(&ch, v, s, len);
		break;
	case 2:
		fuzz_header(s, len);
		break;
	case 3:
		fuzz_match(&ch, v, s, len);
		break;
	case 4:
		fuzz_message(s, len);
		break;
	case 5:
		fuzz_params(s, len);
		break;
	case 6:
		fuzz_html(&ch, s, len);
		break;
	case 7:
		fuzz_repair(&ch, s, len);
		break;
	}
	free(s);
	return 0;
}
