/*
 * fuzz_mime - the streaming MIME parser (mime/mime.h), its serialization
 * and the IMAP BODYSTRUCTURE / ENVELOPE writers (imap_bodystructure.h).
 *
 * Input: one control byte, then a message.  Control bits 0-5 choose the
 * chunk sizes (fuzz_common.h), bits 6-7 the limits: the defaults, a small
 * depth/part budget, tiny header/boundary limits, or both tiny.  Checked:
 *  - parsing in chunks gives exactly the tree of mime_parse() on the whole
 *    message (compared through mime_serialize());
 *  - the tree keeps the header's promises: body_off == hdr_off + hdr_len,
 *    every range inside the message and inside its parent's body,
 *    siblings in order, body_lines == the LFs in the body, lowercase
 *    types, depth and part count within the limits, envelopes exactly on
 *    the root and under message parts, children only under multipart and
 *    message parts, mime_part_count() / mime_part_find() consistent;
 *  - mime_serialize -> mime_deserialize -> mime_serialize reproduces the
 *    same bytes (abort() if not), and the writers give the same output for
 *    the parsed and the deserialized tree;
 *  - BODYSTRUCTURE, BODY, ENVELOPE and every address list written are
 *    each exactly one well-formed IMAP value (fuzz_imap_value_check()).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "imap/imap_bodystructure.h"
#include "mime/mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct ctx {
	const char		*msg;
	size_t			 len;
	uint32_t		*lf_before;	/* LFs in msg[0, i) */
	struct mime_limits	 lim;
	size_t			 nparts;
};

static bool
is_lower(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

static void
check_part(struct ctx *x, const struct mime_part *p, unsigned depth)
{
	const struct mime_part *c;
	uint64_t end = p->body_off + p->body_len, min_off;
	size_t nkids = 0;
	bool want_env;

	x->nparts++;
	FUZZ_CHECK(depth <= x->lim.max_depth, "depth %u > %u", depth,
	    x->lim.max_depth);
	FUZZ_CHECK(p->body_off == p->hdr_off + p->hdr_len,
	    "body_off %llu != %llu + %llu", (unsigned long long)p->body_off,
	    (unsigned long long)p->hdr_off, (unsigned long long)p->hdr_len);
	FUZZ_CHECK(end >= p->body_off && end <= x->len,
	    "part ends at %llu, message has %zu", (unsigned long long)end,
	    x->len);
	FUZZ_CHECK(p->body_lines == x->lf_before[end] -
	    x->lf_before[p->body_off], "body_lines %llu, LFs %u",
	    (unsigned long long)p->body_lines,
	    x->lf_before[end] - x->lf_before[p->body_off]);
	FUZZ_CHECK(p->type != NULL && p->subtype != NULL && p->type[0] &&
	    p->subtype[0] && is_lower(p->type) && is_lower(p->subtype),
	    "content type '%s/%s'", p->type ? p->type : "(null)",
	    p->subtype ? p->subtype : "(null)");
	for (const struct mime_param *q = p->params; q != NULL; q = q->next)
		FUZZ_CHECK(q->name != NULL && q->value != NULL &&
		    is_lower(q->name), "parameter name");
	for (const struct mime_param *q = p->disp_params; q != NULL;
	    q = q->next)
		FUZZ_CHECK(q->name != NULL && q->value != NULL &&
		    is_lower(q->name), "disposition parameter name");
	FUZZ_CHECK((p->flags & ~MIME_PART_FLAGS_ALL) == 0, "flags %#x",
	    p->flags);
	FUZZ_CHECK(mime_part_total_size(p) == p->hdr_len + p->body_len,
	    "total size");
	want_env = p->parent == NULL || mime_part_is_message(p->parent);
	FUZZ_CHECK((p->env != NULL) == want_env, "envelope on %s/%s, "
	    "parent %s", p->type, p->subtype, p->parent ? "set" : "none");

	min_off = p->body_off;
	for (c = p->children; c != NULL; c = c->next) {
		nkids++;
		FUZZ_CHECK(c->parent == p, "parent link");
		FUZZ_CHECK(c->hdr_off >= min_off &&
		    c->body_off + c->body_len <= end,
		    "child [%llu, %llu) outside [%llu, %llu)",
		    (unsigned long long)c->hdr_off,
		    (unsigned long long)(c->body_off + c->body_len),
		    (unsigned long long)min_off, (unsigned long long)end);
		min_off = c->body_off + c->body_len;
		check_part(x, c, depth + 1);
	}
	if (nkids > 0)
		FUZZ_CHECK(mime_part_is_multipart(p) || mime_part_is_message(p),
		    "children under %s/%s", p->type, p->subtype);
	if (mime_part_is_message(p))
		FUZZ_CHECK(nkids <= 1, "message part with %zu children",
		    nkids);
	if (mime_part_is_multipart(p) && p->parent == NULL) {
		unsigned idx;
		size_t i = 0;

		for (c = p->children; c != NULL; c = c->next) {
			idx = (unsigned)++i;
			FUZZ_CHECK(mime_part_find(p, &idx, 1) == c,
			    "mime_part_find(%u)", idx);
		}
		idx = (unsigned)(i + 1);
		FUZZ_CHECK(mime_part_find(p, &idx, 1) == NULL,
		    "mime_part_find past the end");
	}
}

static void
write_all(const struct mime_part *root, struct buf *out)
{
	const struct mime_envelope *e = root->env;
	const char *lists[6];
	size_t start;

	start = out->len;
	imap_write_bodystructure(out, root, true);
	FUZZ_CHECK(fuzz_imap_value_check(out->data + start, out->len - start),
	    "BODYSTRUCTURE is not one IMAP value: %s", out->data + start);
	buf_putc(out, '\n');
	start = out->len;
	imap_write_bodystructure(out, root, false);
	FUZZ_CHECK(fuzz_imap_value_check(out->data + start, out->len - start),
	    "BODY is not one IMAP value: %s", out->data + start);
	buf_putc(out, '\n');
	start = out->len;
	imap_write_envelope(out, e);
	FUZZ_CHECK(fuzz_imap_value_check(out->data + start, out->len - start),
	    "ENVELOPE is not one IMAP value: %s", out->data + start);
	if (e == NULL)
		return;
	lists[0] = e->from;
	lists[1] = e->sender;
	lists[2] = e->reply_to;
	lists[3] = e->to;
	lists[4] = e->cc;
	lists[5] = e->bcc;
	for (size_t i = 0; i < 6; i++) {
		buf_putc(out, '\n');
		start = out->len;
		imap_write_address_list(out, lists[i]);
		FUZZ_CHECK(fuzz_imap_value_check(out->data + start,
		    out->len - start), "address list is not one IMAP value: "
		    "%s", out->data + start);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mime_limits profiles[4] = {
		MIME_LIMITS_DEFAULT,
		{ 3, 8, 64 * 1024, 200 },
		{ 100, 10000, 16, 8 },
		{ 2, 3, 4, 2 },
	};
	struct ctx x;
	struct mime_parser *mp;
	struct mime_part *whole, *chunked, *back;
	struct fuzz_chunker ch;
	struct buf s1 = BUF_INIT, s2 = BUF_INIT, s3 = BUF_INIT,
	    w1 = BUF_INIT, w2 = BUF_INIT;
	const char *err = NULL;
	uint8_t control;

	if (size == 0)
		return 0;
	control = data[0];
	x.msg = (const char *)data + 1;
	x.len = size - 1;
	x.lim = profiles[control >> 6];
	x.nparts = 0;
	x.lf_before = malloc((x.len + 1) * sizeof(uint32_t));
	x.lf_before[0] = 0;
	for (size_t i = 0; i < x.len; i++)
		x.lf_before[i + 1] = x.lf_before[i] + (x.msg[i] == '\n');

	whole = mime_parse(x.msg, x.len, &x.lim);
	FUZZ_CHECK(whole != NULL && whole->parent == NULL, "no root");

	mp = mime_parser_create(&x.lim);
	fuzz_chunker_init(&ch, control);
	for (size_t off = 0; off < x.len;) {
		size_t n = fuzz_chunker_next(&ch, x.len - off);

		mime_parser_feed(mp, x.msg + off, n);
		off += n;
	}
	chunked = mime_parser_finish(&mp);
	FUZZ_CHECK(mp == NULL && chunked != NULL, "finish");

	FUZZ_CHECK(mime_serialize(whole, &s1) == 0, "serialize");
	FUZZ_CHECK(mime_serialize(chunked, &s2) == 0, "serialize");
	FUZZ_CHECK(fuzz_mem_eq(s1.data, s1.len, s2.data, s2.len),
	    "chunked parse differs from whole parse (%zu vs %zu bytes)",
	    s2.len, s1.len);

	check_part(&x, whole, 1);
	FUZZ_CHECK(x.nparts <= x.lim.max_parts, "%zu parts > %u", x.nparts,
	    x.lim.max_parts);
	FUZZ_CHECK(mime_part_count(whole) == x.nparts, "mime_part_count %zu,"
	    " walked %zu", mime_part_count(whole), x.nparts);
	FUZZ_CHECK(whole->hdr_off == 0, "root starts at %llu",
	    (unsigned long long)whole->hdr_off);

	back = mime_deserialize(s1.data, s1.len, &err);
	FUZZ_CHECK(back != NULL, "own serialization refused: %s", err);
	FUZZ_CHECK(mime_serialize(back, &s3) == 0, "serialize");
	FUZZ_CHECK(fuzz_mem_eq(s1.data, s1.len, s3.data, s3.len),
	    "serialize -> deserialize -> serialize differs");

	write_all(whole, &w1);
	write_all(back, &w2);
	FUZZ_CHECK(fuzz_mem_eq(w1.data, w1.len, w2.data, w2.len),
	    "IMAP output differs after deserialization");

	mime_part_free(&whole);
	mime_part_free(&chunked);
	mime_part_free(&back);
	FUZZ_CHECK(whole == NULL, "mime_part_free");
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&s3);
	buf_free(&w1);
	buf_free(&w2);
	free(x.lf_before);
	return 0;
}
