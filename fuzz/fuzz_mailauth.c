/*
 * fuzz_mailauth - the parsers that read what other people publish in DNS
 * or send over HTTPS: DKIM tag lists, base64 and canonicalization
 * (dkim/dkim.h), SPF records and macros (spf/spf.h), DMARC records
 * (dmarc/dmarc.h), MTA-STS TXT records and policy files (queue/mta_sts.h)
 * and the HTTP/1.x response reader that fetches the policies
 * (queue/https_get.h).
 *
 * Input: a selector byte (which parser, mod 7), a control byte (chunk
 * sizes, see fuzz_common.h), then the text.  Checked besides memory
 * safety:
 *  - DKIM tags point into the input, names are unique, items of a value
 *    lie inside it; body canonicalization gives the same bytes whatever
 *    the chunking, a relaxed body never has a blank before CRLF and both
 *    end in CRLF unless empty (relaxed);
 *  - an SPF record that parses has each term's text inside the input;
 *    the macro expansion of any valid macro-string stays within
 *    SPF_MACRO_MAX;
 *  - a DMARC record that parses has pct <= 100 and a policy set;
 *  - an MTA-STS policy that parses has a known mode, max_age within the
 *    RFC's bound, lower-case MX patterns, and copies equal to itself;
 *  - HTTP: a response complete before EOF is the same response at EOF,
 *    and its body is never larger than the limit.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "fuzz_common.h"
#include "queue/https_get.h"
#include "queue/mta_sts.h"
#include "spf/spf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
inside(const char *p, size_t n, const char *base, size_t len)
{
	return n == 0 || (p >= base && p + n <= base + len);
}

static void
fuzz_dkim_tags(const char *s, size_t len)
{
	struct dkim_taglist tl;
	const char *err;
	struct buf b = BUF_INIT;

	if (dkim_tags_parse(s, len, &tl, &err) < 0)
		return;
	for (size_t i = 0; i < tl.n; i++) {
		const struct dkim_tag *t = &tl.tag[i];
		size_t pos = 0, n;
		const char *item;

		FUZZ_CHECK(inside(t->name, t->name_len, s, len) &&
		    inside(t->value, t->value_len, s, len),
		    "tag %zu outside the input", i);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(!fuzz_mem_eq(t->name, t->name_len,
			    tl.tag[k].name, tl.tag[k].name_len),
			    "duplicate tag name accepted");
		while (dkim_tags_item(t->value, t->value_len, &pos, &item,
		    &n) == 1)
			FUZZ_CHECK(inside(item, n, t->value, t->value_len),
			    "item outside its value");
		buf_reset(&b);
		(void)dkim_b64_decode(t->value, t->value_len, &b);
	}
	buf_free(&b);
}

static void
canon_out(void *ctx, const void *p, size_t n)
{
	buf_append(ctx, p, n);
}

static void
fuzz_dkim_canon(const char *s, size_t len, uint8_t control)
{
	for (int relaxed = 0; relaxed < 2; relaxed++) {
		enum dkim_canon c = relaxed ? DKIM_CANON_RELAXED :
		    DKIM_CANON_SIMPLE;
		struct dkim_body_canon one, many;
		struct buf a = BUF_INIT, b = BUF_INIT, h = BUF_INIT;
		struct fuzz_chunker ch;
		size_t off = 0;

		dkim_body_canon_init(&one, c, UINT64_MAX, canon_out, &a);
		dkim_body_canon_feed(&one, s, len);
		dkim_body_canon_finish(&one);
		dkim_body_canon_init(&many, c, UINT64_MAX, canon_out, &b);
		fuzz_chunker_init(&ch, control);
		while (off < len) {
			size_t n = fuzz_chunker_next(&ch, len - off);

			dkim_body_canon_feed(&many, s + off, n);
			off += n;
		}
		dkim_body_canon_finish(&many);
		FUZZ_CHECK(fuzz_mem_eq(a.data, a.len, b.data, b.len),
		    "%s body canon depends on chunking (%zu vs %zu bytes)",
		    relaxed ? "relaxed" : "simple", a.len, b.len);
		FUZZ_CHECK(a.len == one.total, "total %llu for %zu bytes",
		    (unsigned long long)one.total, a.len);
		if (a.len > 0)
			FUZZ_CHECK(a.len >= 2 && a.data[a.len - 2] == '\r' &&
			    a.data[a.len - 1] == '\n',
			    "canonical body does not end in CRLF");
		else
			FUZZ_CHECK(relaxed, "simple canonical body empty");
		if (relaxed)
			for (size_t i = 0; i + 2 < a.len; i++)
				FUZZ_CHECK(!((a.data[i] == ' ' ||
				    a.data[i] == '\t') && a.data[i + 1] ==
				    '\r' && a.data[i + 2] == '\n'),
				    "relaxed body has a blank before CRLF");
		dkim_header_canon(c, s, len, &h);
		buf_free(&a);
		buf_free(&b);
		buf_free(&h);
	}
}

static void
fuzz_spf(const char *s, size_t len)
{
	struct spf_record *rec = NULL;
	const char *err;
	struct spf_macro_env env = {
		.s = "strong-bad@email.example.com", .l = "strong-bad",
		.o = "email.example.com", .d = "email.example.com",
		.i = "192.0.2.3", .p = "mx.example.org", .v = "in-addr",
		.h = "mx.example.org", .c = "192.0.2.3",
		.r = "mail.example.test", .t = 1700000000,
	};
	struct buf out = BUF_INIT;

	if (spf_record_is_spf(s, len) && spf_record_parse(s, len, &rec,
	    &err) == 0)
		spf_record_free(&rec);
	for (int exp = 0; exp < 2; exp++) {
		if (spf_macro_check(s, len, exp, true, NULL) < 0)
			continue;
		buf_reset(&out);
		if (spf_macro_expand(&out, s, len, exp, &env, &err) == 0) {
			FUZZ_CHECK(out.len <= SPF_MACRO_MAX,
			    "expansion of %zu bytes", out.len);
			if (!exp)
				(void)spf_target_name(&out);
		}
	}
	(void)spf_domain_spec_valid(s, len);
	buf_free(&out);
}

static void
fuzz_dmarc(const char *s, size_t len)
{
	struct dmarc_record rec;
	const char *err;

	(void)dmarc_record_is_dmarc(s, len);
	if (dmarc_record_parse(s, len, &rec, &err) == 0) {
		FUZZ_CHECK(rec.pct <= 100, "pct %u", rec.pct);
		FUZZ_CHECK(rec.fo != NULL && rec.rf != NULL,
		    "fo/rf defaults missing");
	}
	dmarc_record_clear(&rec);
}

static void
fuzz_mta_sts(const char *s, size_t len)
{
	char id[STS_ID_MAX + 1];
	struct sts_policy p, q;
	const char *err;
	size_t half = len / 2;

	if (sts_txt_parse(s, len, id) == 1)
		FUZZ_CHECK(strlen(id) > 0 && strlen(id) <= STS_ID_MAX,
		    "bad id length %zu", strlen(id));
	memset(&p, 0, sizeof(p));
	if (sts_policy_parse(s, len, &p, &err) == 0) {
		FUZZ_CHECK(p.mode == STS_MODE_NONE ||
		    p.mode == STS_MODE_TESTING || p.mode == STS_MODE_ENFORCE,
		    "mode %d", (int)p.mode);
		FUZZ_CHECK(p.max_age <= STS_MAX_AGE_MAX, "max_age %u",
		    (unsigned)p.max_age);
		FUZZ_CHECK(p.mode == STS_MODE_NONE || p.nmx > 0,
		    "no mx in mode %s", sts_mode_name(p.mode));
		for (size_t i = 0; i < p.nmx; i++)
			for (const char *c = p.mx[i]; *c != '\0'; c++)
				FUZZ_CHECK(!isupper((unsigned char)*c),
				    "mx pattern not lower case: %s", p.mx[i]);
		sts_policy_copy(&q, &p);
		FUZZ_CHECK(q.mode == p.mode && q.max_age == p.max_age &&
		    q.nmx == p.nmx, "copy differs");
		for (size_t i = 0; i < p.nmx; i++) {
			FUZZ_CHECK(strcmp(q.mx[i], p.mx[i]) == 0,
			    "copied mx differs");
			FUZZ_CHECK(sts_mx_match(&p, p.mx[i]) ||
			    p.mx[i][0] == '*', "a plain pattern does not "
			    "match itself: %s", p.mx[i]);
		}
		sts_policy_free(&q);
		sts_policy_free(&p);
	}
	/* The two halves as pattern and host (NUL-terminated copies). */
	{
		char *a = strndup(s, half), *b = strndup(s + half, len - half);

		if (a != NULL && b != NULL)
			(void)sts_pattern_match(a, b);
		free(a);
		free(b);
	}
}

static void
fuzz_http(const char *s, size_t len)
{
	struct http_response r1, r2;
	const char *err;
	size_t max = 4096;
	int a, b;

	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	a = http_response_parse(s, len, false, max, &r1, &err);
	b = http_response_parse(s, len, true, max, &r2, &err);
	if (a == 1) {
		FUZZ_CHECK(b == 1, "complete before EOF, %d at EOF", b);
		FUZZ_CHECK(r1.status == r2.status &&
		    strcmp(r1.media_type, r2.media_type) == 0 &&
		    fuzz_mem_eq(r1.body.data, r1.body.len, r2.body.data,
		    r2.body.len), "the response changed at EOF");
	}
	if (a == 1)
		FUZZ_CHECK(r1.body.len <= max, "body of %zu bytes",
		    r1.body.len);
	if (b == 1)
		FUZZ_CHECK(r2.body.len <= max, "body of %zu bytes at EOF",
		    r2.body.len);
	if (a == 1)
		buf_free(&r1.body);
	if (b == 1)
		buf_free(&r2.body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t len;

	if (size < 2)
		return 0;
	s = (const char *)data + 2;
	len = size - 2;
	switch (data[0] % 7) {
	case 0:
		fuzz_dkim_tags(s, len);
		break;
	case 1:
		fuzz_dkim_canon(s, len, data[1]);
		break;
	case 2:
		fuzz_spf(s, len);
		break;
	case 3:
		fuzz_dmarc(s, len);
		break;
	case 4:
		fuzz_mta_sts(s, len);
		break;
	case 5:
		fuzz_http(s, len);
		break;
	default:
		/* Every parser on the same bytes. */
		fuzz_dkim_tags(s, len);
		fuzz_spf(s, len);
		fuzz_dmarc(s, len);
		fuzz_mta_sts(s, len);
		break;
	}
	return 0;
}
