/*
 * cmd_fetch - FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2).
 *
 * The response is streamed: one message at a time is turned into segments
 * (formatted text, or a byte range of the stored message), and segments are
 * written while the output queue stays under FETCH_HIGH; the command goes
 * to sleep and is continued when the queue drains.  A 50 MB BODY[] never
 * sits in memory, and a FETCH 1:* of a big mailbox never builds its answer
 * whole.  Body items without .PEEK set \Seen first (one durable store on a
 * worker), so the responses can carry the new FLAGS.
 *
 * BINARY[section] (RFC 3516, RFC 9051 6.4.5) is planned and measured per
 * message before its response is built (imap_binary.h): the literal's
 * length is the decoded size, and "~{n}" (literal8) marks a section that
 * holds NUL; then it is decoded a block at a time while it is written.
 * That work and PREVIEW (RFC 8970, mime_preview()) run here for a small
 * message and on a worker for a big one (FETCH_INLINE_MAX), so the loop
 * is never held by a 50 MB attachment.  A section with an encoding we
 * cannot decode fails the command with NO [UNKNOWN-CTE] (RFC 3516 4.3)
 * once the other messages have been answered (the answer given on the
 * imap mailing list for FETCH 1:* BINARY[1]); that message gets no
 * response and is left out of the \Seen update.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "imap_binary.h"
#include "imap_bodystructure.h"
#include "imap_date.h"
#include "imap_quote.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "server.h"
#include "store/store.h"

#define FETCH_HIGH	((size_t)256 * 1024)
#define FETCH_CHUNK	((size_t)64 * 1024)
/* BINARY and PREVIEW of bigger messages are prepared on a worker. */
#define FETCH_INLINE_MAX ((size_t)256 * 1024)
/* Messages left to fetch for which one walk of the mailbox beats lookups. */
#define FETCH_CURSOR_MIN 8

enum fetch_seg_kind {
	SEG_TEXT,			/* bytes of ctx->text */
	SEG_BLOB,			/* bytes of the message */
	SEG_BINARY,			/* bytes of a BINARY section */
};

struct fetch_seg {
	enum fetch_seg_kind kind;
	size_t		 off;		/* text: offset in ctx->text */
	uint64_t	 len;
	uint64_t	 blob_off;	/* blob, binary: offset in the content */
	size_t		 att;		/* binary: its item */
};

/* Reading the stored message through a mime_read_fn. */
struct msg_read {
	int64_t		 account;
	int64_t		 message_id;
	struct buf	 buf;
	const char	*error;
};

/* A BINARY or BINARY.SIZE item of the current message. */
struct fetch_bin {
	struct imap_binary b;
	bool		 nil;		/* no such part */
};

struct fetch_ctx {
	struct imap_fetch_att *atts;
	size_t		 natts;
	uint32_t	*idx;
	uint32_t	 n;
	uint32_t	 pos;
	bool		 need_meta;
	bool		 need_mime;
	bool		 want_uid;
	bool		 want_flags;
	bool		 want_modseq;
	bool		 sets_seen;
	bool		 check_cte;	/* BINARY items with \Seen set */
	bool		 condstore;	/* UID and MODSEQ with \Seen set now */
	/* \Seen set by this command: their responses include FLAGS. */
	uint32_t	*seen_uids;
	size_t		 nseen;
	struct flag_change *changes;
	int		 rc;
	const char	*error;

	/* CHANGEDSINCE (RFC 7162 3.1.4.1), VANISHED (3.2.6). */
	bool		 changedsince;
	uint64_t	 since;
	bool		 vanished;

	/* The message being prepared. */
	bool		 heavy;		/* has BINARY or PREVIEW items */
	bool		 loaded;	/* m and root are message f->pos */
	bool		 meta;		/* m was read */
	bool		 worked;	/* bins and preview are done */
	struct mail_meta m;
	struct mime_part *root;
	struct fetch_bin *bins;		/* one per item */
	struct buf	 preview;
	int		 work_rc;	/* 0, -1, IMAP_BINARY_UNKNOWN_CTE */
	bool		 unknown_cte;	/* answer NO [UNKNOWN-CTE] */
	struct msg_read	 rd;

	/* The message being written. */
	struct buf	 text;
	struct fetch_seg *segs;
	size_t		 nsegs;
	size_t		 seg;
	uint64_t	 seg_done;
	int64_t		 message_id;
	struct buf	 chunk;
	struct imap_binary_reader *reader;
};

static void fetch_continue(struct imap_cmd *);

static ssize_t
msg_read(void *ctx, void *dst, size_t len, uint64_t off)
{
	struct msg_read *r = ctx;

	buf_reset(&r->buf);
	if (store_body_read(srv->store, r->account, r->message_id, off, len,
	    &r->buf, &r->error) < 0)
		return -1;
	if (r->buf.len > 0)
		memcpy(dst, r->buf.data, r->buf.len);
	return (ssize_t)r->buf.len;
}

static void
message_clear(struct fetch_ctx *f)
{
	mime_part_free(&f->root);
	mail_meta_free(&f->m);
	mail_meta_init(&f->m);
	f->loaded = false;
	f->meta = false;
	f->worked = false;
	f->work_rc = 0;
}

static void
fetch_ctx_free(void *p)
{
	struct fetch_ctx *f = p;

	message_clear(f);
	mail_meta_free(&f->m);
	for (size_t i = 0; f->bins != NULL && i < f->natts; i++)
		imap_binary_free(&f->bins[i].b);
	free(f->bins);
	buf_free(&f->preview);
	buf_free(&f->rd.buf);
	imap_binary_reader_free(&f->reader);
	imap_fetch_atts_free(f->atts, f->natts);
	free(f->idx);
	free(f->seen_uids);
	free(f->changes);
	free(f->segs);
	buf_free(&f->text);
	buf_free(&f->chunk);
	free(f);
}

/*
 * A literal must not hold NUL (RFC 9051 4.3: binary strings go only in
 * the literal8 of a BINARY item), but a stored message may: BODY[] and its
 * kin send 0x80 in its place, as Dovecot does, so the length stays.
 */
static void
replace_nul(char *p, size_t n)
{
	char *z;

	while (n > 0 && (z = memchr(p, '\0', n)) != NULL) {
		*z = (char)0x80;
		n -= (size_t)(z - p) + 1;
		p = z + 1;
	}
}

static void
seg_text_flush(struct fetch_ctx *f, size_t *mark)
{
	if (f->text.len > *mark) {
		f->segs = xgrowarray(f->segs, f->nsegs, sizeof(*f->segs));
		f->segs[f->nsegs].kind = SEG_TEXT;
		f->segs[f->nsegs].off = *mark;
		f->segs[f->nsegs].len = f->text.len - *mark;
		f->nsegs++;
		*mark = f->text.len;
	}
}

static void
seg_blob(struct fetch_ctx *f, size_t *mark, uint64_t off, uint64_t len)
{
	seg_text_flush(f, mark);
	if (len == 0)
		return;
	f->segs = xgrowarray(f->segs, f->nsegs, sizeof(*f->segs));
	f->segs[f->nsegs].kind = SEG_BLOB;
	f->segs[f->nsegs].blob_off = off;
	f->segs[f->nsegs].len = len;
	f->nsegs++;
}

/* Bytes [off, off + len) of the BINARY section of item att. */
static void
seg_binary(struct fetch_ctx *f, size_t *mark, size_t att, uint64_t off,
    uint64_t len)
{
	seg_text_flush(f, mark);
	if (len == 0)
		return;
	f->segs = xgrowarray(f->segs, f->nsegs, sizeof(*f->segs));
	f->segs[f->nsegs].kind = SEG_BINARY;
	f->segs[f->nsegs].blob_off = off;
	f->segs[f->nsegs].len = len;
	f->segs[f->nsegs].att = att;
	f->nsegs++;
}

/* Is a header line's field name in the list? */
static bool
field_listed(const char *line, size_t len, char **fields, size_t n)
{
	const char *colon = memchr(line, ':', len);
	size_t nl;

	if (colon == NULL)
		return false;
	nl = (size_t)(colon - line);
	while (nl > 0 && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
		nl--;
	for (size_t i = 0; i < n; i++)
		if (strlen(fields[i]) == nl &&
		    strncasecmp(fields[i], line, nl) == 0)
			return true;
	return false;
}

/*
 * HEADER.FIELDS / HEADER.FIELDS.NOT: the chosen fields (with their folded
 * continuation lines) followed by the empty line that ends a header.
 */
static void
filter_header(const char *h, size_t len, char **fields, size_t n, bool not,
    struct buf *out)
{
	size_t i = 0;
	bool keep = false;

	while (i < len) {
		const char *nl = memchr(h + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - h) + 1 : len;
		size_t llen = end - i;

		if (llen == 0 || h[i] == '\r' || h[i] == '\n')
			break;		/* the empty line ending the header */
		if (h[i] != ' ' && h[i] != '\t')
			keep = field_listed(h + i, llen, fields, n) != not;
		if (keep) {
			buf_append(out, h + i, llen);
			if (h[end - 1] != '\n')
				buf_append(out, "\r\n", 2);
		}
		i = end;
	}
	buf_append(out, "\r\n", 2);
}

/* Writes one body section item; returns false on a store error. */
static bool
write_section(struct imap_session *s, struct fetch_ctx *f,
    const struct imap_fetch_att *att, const struct mail_meta *m,
    const struct mime_part *root, size_t *mark)
{
	const struct mime_part *part = root;
	uint64_t off = 0, len = m->size;
	bool filtered = false, nil = false;
	struct buf hdr = BUF_INIT, tmp = BUF_INIT;
	const char *err;

	if (att->part_count > 0) {
		part = mime_part_find(root, (const unsigned *)att->parts,
		    att->part_count);
		if (part == NULL)
			nil = true;
	}
	if (!nil) {
		switch (att->text) {
		case IMAP_SECTION_NONE:
			if (att->part_count > 0) {
				off = part->body_off;
				len = part->body_len;
			}
			break;
		case IMAP_SECTION_MIME:
			off = part->hdr_off;
			len = part->hdr_len;
			break;
		case IMAP_SECTION_HEADER:
		case IMAP_SECTION_HEADER_FIELDS:
		case IMAP_SECTION_HEADER_FIELDS_NOT:
		case IMAP_SECTION_TEXT:
			if (att->part_count > 0) {
				if (!mime_part_is_message(part) ||
				    part->children == NULL) {
					nil = true;
					break;
				}
				part = part->children;
			}
			if (att->text == IMAP_SECTION_TEXT) {
				off = part->body_off;
				len = part->body_len;
			} else {
				off = part->hdr_off;
				len = part->hdr_len;
				filtered = att->text != IMAP_SECTION_HEADER;
			}
			break;
		}
	}
	if (off > m->size)
		off = m->size;
	if (len > m->size - off)
		len = m->size - off;
	imap_fetch_att_response_name(att, &f->text);
	buf_putc(&f->text, ' ');
	if (nil) {
		buf_puts(&f->text, "NIL");
		return true;
	}
	if (filtered) {
		if (store_body_read(srv->store, s->account, m->message_id, off,
		    (size_t)len, &hdr, &err) < 0) {
			log_warnx("s=%s imap fetch: %s", s->conn->sid, err);
			buf_free(&hdr);
			return false;
		}
		filter_header(hdr.data ? hdr.data : "", hdr.len, att->fields,
		    att->field_count,
		    att->text == IMAP_SECTION_HEADER_FIELDS_NOT, &tmp);
		buf_free(&hdr);
		if (tmp.len > 0)
			replace_nul(tmp.data, tmp.len);
		off = 0;
		len = tmp.len;
	}
	if (att->partial) {
		uint64_t po = att->partial_offset, pc = att->partial_count;

		if (po > len)
			po = len;
		if (pc > len - po)
			pc = len - po;
		off += po;
		len = pc;
	}
	buf_printf(&f->text, "{%llu}\r\n", (unsigned long long)len);
	if (filtered) {
		buf_append(&f->text, tmp.data + (off), (size_t)len);
		buf_free(&tmp);
	} else
		seg_blob(f, mark, off, len);
	return true;
}

/*
 * BINARY[section]<partial> and BINARY.SIZE[section] of item i, planned
 * and measured by message_work().  A missing part is NIL (size 0), as
 * BODY[] of one.
 */
static void
write_binary(struct fetch_ctx *f, size_t i, const struct imap_fetch_att *att,
    size_t *mark)
{
	const struct fetch_bin *fb = &f->bins[i];
	uint64_t off = 0, len = fb->b.size;

	imap_fetch_att_response_name(att, &f->text);
	buf_putc(&f->text, ' ');
	if (att->type == IMAP_FETCH_BINARY_SIZE) {
		buf_put_u64(&f->text, fb->nil ? 0 : fb->b.size);
		return;
	}
	if (fb->nil) {
		buf_puts(&f->text, "NIL");
		return;
	}
	if (att->partial) {
		off = att->partial_offset < len ? att->partial_offset : len;
		len -= off;
		if (len > att->partial_count)
			len = att->partial_count;
	}
	/* literal8 only for content with NUL (RFC 3516 4.3). */
	buf_printf(&f->text, "%s{%llu}\r\n", fb->b.has_nul ? "~" : "",
	    (unsigned long long)len);
	seg_binary(f, mark, i, off, len);
}

static bool
wants_seen(const struct imap_fetch_att *a)
{
	return ((a->type == IMAP_FETCH_BODY_SECTION && !a->peek) ||
	    (a->type == IMAP_FETCH_BINARY && !a->peek) ||
	    a->type == IMAP_FETCH_RFC822 || a->type == IMAP_FETCH_RFC822_TEXT);
}

static bool
was_seen_now(const struct fetch_ctx *f, uint32_t uid)
{
	for (size_t i = 0; i < f->nseen; i++)
		if (f->seen_uids[i] == uid)
			return true;
	return false;
}

static struct mime_part *
reparse(struct imap_session *s, const struct mail_meta *m)
{
	struct mime_parser *mp = mime_parser_create(NULL);
	struct buf chunk = BUF_INIT;
	const char *err;

	for (uint64_t off = 0; off < m->size; off += FETCH_CHUNK) {
		buf_reset(&chunk);
		if (store_body_read(srv->store, s->account, m->message_id, off,
		    FETCH_CHUNK, &chunk, &err) < 0 || chunk.len == 0)
			break;
		mime_parser_feed(mp, chunk.data, chunk.len);
	}
	buf_free(&chunk);
	return mime_parser_finish(&mp);
}

/*
 * Reads the meta data and MIME tree of message f->pos; false = skip it.
 * *cur walks the mailbox for this run of the loop (fetch_continue).
 */
static bool
load_message(struct imap_session *s, struct fetch_ctx *f,
    struct store_meta_cursor **cur)
{
	struct imap_view *v = s->view;
	uint32_t idx = f->idx[f->pos];
	uint32_t uid = v->uids[idx];
	const char *err;

	message_clear(f);
	if (imap_view_is_gone(v, idx))
		return false;
	f->meta = f->need_meta || v->kwhash[idx] != 0;
	if (f->meta && *cur == NULL && f->n - f->pos >= FETCH_CURSOR_MIN)
		*cur = store_meta_cursor_open(srv->store, s->account,
		    v->mailbox, &err);
	if (f->meta && (*cur != NULL ? store_meta_cursor_get(*cur, uid,
	    &f->m) : store_mail_meta(srv->store, s->account, v->mailbox, uid,
	    f->need_mime, &f->m)) != 1)
		return false;
	if (f->need_mime) {
		f->root = mime_deserialize(f->m.mime.data, f->m.mime.len,
		    &err);
		if (f->root == NULL) {
			/* A damaged structure: parse the stored bytes again. */
			log_warnx("s=%s imap uid %u: bad MIME structure (%s), "
			    "re-parsing", s->conn->sid, uid, err);
			f->root = reparse(s, &f->m);
		}
	}
	f->loaded = true;
	return true;
}

/*
 * The BINARY sections and PREVIEW of the loaded message: reads the
 * message, on a worker for a big one, so it touches f alone.
 */
static void
message_work(struct fetch_ctx *f)
{
	f->rd.message_id = f->m.message_id;
	f->rd.error = NULL;
	f->work_rc = 0;
	for (size_t i = 0; i < f->natts && f->work_rc == 0; i++) {
		const struct imap_fetch_att *a = &f->atts[i];
		struct fetch_bin *fb = &f->bins[i];
		const struct mime_part *part = f->root;

		switch (a->type) {
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			imap_binary_free(&fb->b);
			fb->nil = false;
			if (a->part_count > 0)
				part = mime_part_find(f->root,
				    (const unsigned *)a->parts, a->part_count);
			if (part == NULL) {
				fb->nil = true;
				break;
			}
			f->work_rc = imap_binary_plan(&fb->b, part,
			    a->part_count == 0, f->m.size, msg_read, &f->rd);
			if (f->work_rc == 0)
				f->work_rc = imap_binary_measure(&fb->b,
				    msg_read, &f->rd);
			break;
		case IMAP_FETCH_PREVIEW:
			buf_reset(&f->preview);
			if (mime_preview(f->root, msg_read, &f->rd,
			    &f->preview) < 0)
				f->work_rc = -1;
			break;
		default:
			break;
		}
	}
}

static void
work_async(struct imap_cmd *cmd)
{
	message_work(cmd->ctx);
}

static void
work_done(struct imap_cmd *cmd)
{
	struct fetch_ctx *f = cmd->ctx;

	f->worked = true;
	cmd->cont = fetch_continue;
	fetch_continue(cmd);
}

/* Builds the segments of the loaded message f->pos; false = skip it. */
static bool
build_message(struct imap_session *s, struct fetch_ctx *f)
{
	struct imap_view *v = s->view;
	uint32_t idx = f->idx[f->pos];
	uint32_t uid = v->uids[idx];
	struct mime_part *root = f->root;
	size_t mark = 0;
	bool first = true, ok = true, flags_done = false;
	bool need_meta = f->meta;

	buf_reset(&f->text);
	f->nsegs = 0;
	f->seg = 0;
	f->seg_done = 0;
	if (f->work_rc == IMAP_BINARY_UNKNOWN_CTE) {
		/*
		 * No items.  drop_undecodable() kept \Seen off it, unless
		 * its stored tree was damaged: then at least the new FLAGS.
		 */
		f->unknown_cte = true;
		if (!was_seen_now(f, uid))
			return false;
		ok = false;
	} else if (f->work_rc < 0) {
		log_warnx("s=%s imap fetch uid %u: reading the message "
		    "failed: %s", s->conn->sid, uid, f->rd.error ?
		    f->rd.error : "short read");
		return false;
	}
	f->message_id = f->m.message_id;
	/* A keyword new to this session: FLAGS first (RFC 3501 7.2.6). */
	if (need_meta)
		imap_view_learn_keywords(s, buf_cstr(&f->m.keywords));
	buf_printf(&f->text, "* %u FETCH (", idx + 1);
#define SEP() do { if (!first) buf_putc(&f->text, ' '); first = false; } \
	while (0)
	if (f->want_uid) {
		SEP();
		buf_printf(&f->text, "UID %u", uid);
	}
	for (size_t i = 0; i < f->natts && ok; i++) {
		const struct imap_fetch_att *a = &f->atts[i];
		char date[IMAP_DATETIME_SIZE];

		switch (a->type) {
		case IMAP_FETCH_UID:
			if (f->want_uid)
				break;
			SEP();
			buf_printf(&f->text, "UID %u", uid);
			break;
		case IMAP_FETCH_FLAGS:
			SEP();
			buf_puts(&f->text, "FLAGS ");
			imap_write_flags(&f->text, v->flags[idx] &
			    MAIL_FLAGS_ALL, (v->flags[idx] & VIEW_RECENT) != 0,
			    need_meta ? buf_cstr(&f->m.keywords) : NULL);
			flags_done = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
			SEP();
			imap_datetime_format(f->m.internaldate, 0, date);
			buf_printf(&f->text, "INTERNALDATE %s", date);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			SEP();
			buf_printf(&f->text, "RFC822.SIZE %llu",
			    (unsigned long long)f->m.size);
			break;
		case IMAP_FETCH_MODSEQ:
			SEP();
			buf_printf(&f->text, "MODSEQ (%llu)",
			    (unsigned long long)f->m.modseq);
			break;
		case IMAP_FETCH_EMAILID:
			/* The stored message: copies share it (RFC 8474). */
			SEP();
			buf_printf(&f->text, "EMAILID (E%lld)",
			    (long long)f->m.message_id);
			break;
		case IMAP_FETCH_THREADID:
			/* No thread ids (yet): NIL, as RFC 8474 4.2 allows. */
			SEP();
			buf_puts(&f->text, "THREADID NIL");
			break;
		case IMAP_FETCH_ENVELOPE:
			SEP();
			buf_puts(&f->text, "ENVELOPE ");
			imap_write_envelope(&f->text, root->env);
			break;
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
			SEP();
			buf_puts(&f->text, a->type == IMAP_FETCH_BODY ?
			    "BODY " : "BODYSTRUCTURE ");
			imap_write_bodystructure(&f->text, root,
			    a->type == IMAP_FETCH_BODYSTRUCTURE);
			break;
		case IMAP_FETCH_RFC822:
			SEP();
			buf_printf(&f->text, "RFC822 {%llu}\r\n",
			    (unsigned long long)f->m.size);
			seg_blob(f, &mark, 0, f->m.size);
			break;
		case IMAP_FETCH_RFC822_HEADER:
			SEP();
			buf_printf(&f->text, "RFC822.HEADER {%llu}\r\n",
			    (unsigned long long)root->hdr_len);
			seg_blob(f, &mark, root->hdr_off, root->hdr_len);
			break;
		case IMAP_FETCH_RFC822_TEXT:
			SEP();
			buf_printf(&f->text, "RFC822.TEXT {%llu}\r\n",
			    (unsigned long long)root->body_len);
			seg_blob(f, &mark, root->body_off, root->body_len);
			break;
		case IMAP_FETCH_BODY_SECTION:
			SEP();
			ok = write_section(s, f, a, &f->m, root, &mark);
			break;
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			SEP();
			write_binary(f, i, a, &mark);
			break;
		case IMAP_FETCH_PREVIEW:
			/* Always computed, LAZY or not (RFC 8970 3.1). */
			SEP();
			buf_puts(&f->text, "PREVIEW ");
			imap_write_string(&f->text, f->preview.data ?
			    f->preview.data : "", f->preview.len);
			break;
		default:
			break;
		}
	}
	if (!ok && f->work_rc == 0)
		return false;
	if (was_seen_now(f, uid)) {
		if (!flags_done) {
			SEP();
			buf_puts(&f->text, "FLAGS ");
			imap_write_flags(&f->text, v->flags[idx] &
			    MAIL_FLAGS_ALL, (v->flags[idx] & VIEW_RECENT) != 0,
			    need_meta ? buf_cstr(&f->m.keywords) : NULL);
		}
		/* RFC 7162 3.1: a FETCH that set \Seen reports both. */
		if (f->condstore && !f->want_uid) {
			SEP();
			buf_printf(&f->text, "UID %u", uid);
		}
		if (f->condstore && !f->want_modseq) {
			SEP();
			buf_printf(&f->text, "MODSEQ (%llu)",
			    (unsigned long long)f->m.modseq);
		}
	}
#undef SEP
	buf_puts(&f->text, ")\r\n");
	seg_text_flush(f, &mark);
	return true;
}

/* Writes (part of) the current segment; false when the conn was closed. */
static bool
write_segment(struct imap_session *s, struct fetch_ctx *f)
{
	struct fetch_seg *sg = &f->segs[f->seg];
	struct conn *c = s->conn;
	const char *err = NULL;
	uint64_t left;
	size_t n;
	int r;

	switch (sg->kind) {
	case SEG_TEXT:
		conn_write(c, f->text.data + sg->off, (size_t)sg->len);
		f->seg++;
		return true;
	case SEG_BLOB:
		left = sg->len - f->seg_done;
		n = left > FETCH_CHUNK ? FETCH_CHUNK : (size_t)left;
		buf_reset(&f->chunk);
		if (store_body_read(srv->store, s->account, f->message_id,
		    sg->blob_off + f->seg_done, n, &f->chunk, &err) < 0 ||
		    f->chunk.len != n)
			break;
		replace_nul(f->chunk.data, n);
		conn_write(c, f->chunk.data, n);
		f->seg_done += n;
		if (f->seg_done == sg->len) {
			f->seg++;
			f->seg_done = 0;
		}
		return true;
	case SEG_BINARY:
		if (f->reader == NULL) {
			f->reader = imap_binary_reader_create(
			    &f->bins[sg->att].b, sg->blob_off, sg->len);
			f->rd.message_id = f->message_id;
		}
		buf_reset(&f->chunk);
		r = imap_binary_read(f->reader, msg_read, &f->rd, &f->chunk);
		if (f->chunk.len > 0)
			conn_write(c, f->chunk.data, f->chunk.len);
		if (r < 0 || (r == 0 &&
		    imap_binary_reader_done(f->reader) != sg->len)) {
			err = f->rd.error;
			break;
		}
		if (r == 0) {
			imap_binary_reader_free(&f->reader);
			f->seg++;
		}
		return true;
	}
	/* The literal's length is promised: all we can do is disconnect. */
	log_warnx("s=%s imap fetch read failed: %s", c->sid,
	    err != NULL ? err : "short read");
	conn_close(c, "store read error");
	return false;
}

/*
 * Streams messages while the socket takes them.  The messages' metadata
 * comes from one walk of the mailbox (a read snapshot), closed before
 * anything else may run: the end of the command, a worker, a full socket.
 */
static void
fetch_continue(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct fetch_ctx *f = cmd->ctx;
	struct conn *c = s->conn;
	struct store_meta_cursor *cur = NULL;

	while (conn_outq(c) < FETCH_HIGH && !c->closing) {
		if (f->seg < f->nsegs) {
			if (!write_segment(s, f)) {
				store_meta_cursor_close(&cur);
				return;
			}
			continue;
		}
		if (f->pos >= f->n) {
			store_meta_cursor_close(&cur);
			cmd->cont = NULL;
			if (f->unknown_cte)
				imap_cmd_done(cmd, "NO", "[UNKNOWN-CTE] Can't "
				    "decode a part: unknown "
				    "Content-Transfer-Encoding.");
			else
				imap_cmd_done(cmd, "OK", "%s completed.",
				    cmd->a.uid ? "UID FETCH" : "Fetch");
			return;
		}
		if (!f->loaded && !load_message(s, f, &cur)) {
			f->nsegs = 0;
			f->pos++;
			continue;
		}
		if (f->heavy && !f->worked) {
			if (f->m.size > FETCH_INLINE_MAX) {
				store_meta_cursor_close(&cur);
				cmd->cont = NULL;
				imap_cmd_async(cmd, work_async, work_done);
				return;
			}
			message_work(f);
			f->worked = true;
		}
		if (!build_message(s, f))
			f->nsegs = 0;
		message_clear(f);
		f->pos++;
	}
	store_meta_cursor_close(&cur);
}

/* Can every BINARY item of the message be decoded? */
static bool
message_decodable(const struct fetch_ctx *f, const struct mime_part *root)
{
	for (size_t i = 0; i < f->natts; i++) {
		const struct imap_fetch_att *a = &f->atts[i];
		const struct mime_part *part = root;

		if (a->type != IMAP_FETCH_BINARY &&
		    a->type != IMAP_FETCH_BINARY_SIZE)
			continue;
		if (a->part_count > 0)
			part = mime_part_find(root, (const unsigned *)a->parts,
			    a->part_count);
		if (part != NULL && !imap_binary_decodable(part))
			return false;
	}
	return true;
}

/*
 * A message with a BINARY section we cannot decode gets no response (the
 * command fails with [UNKNOWN-CTE]), so it is not marked \Seen either.
 * Only the stored MIME trees are read.
 */
static void
drop_undecodable(struct imap_session *s, struct fetch_ctx *f)
{
	size_t w = 0;

	for (size_t i = 0; i < f->nseen; i++) {
		struct mail_meta m;
		struct mime_part *root = NULL;
		const char *err;
		bool ok = true;

		mail_meta_init(&m);
		if (store_mail_meta(srv->store, s->account, s->view->mailbox,
		    f->seen_uids[i], true, &m) == 1 &&
		    (root = mime_deserialize(m.mime.data, m.mime.len,
		    &err)) != NULL)
			ok = message_decodable(f, root);
		mime_part_free(&root);
		mail_meta_free(&m);
		if (ok)
			f->seen_uids[w++] = f->seen_uids[i];
	}
	f->nseen = w;
}

static void
seen_work(struct imap_cmd *cmd)
{
	struct fetch_ctx *f = cmd->ctx;
	struct imap_session *s = cmd->s;

	if (f->check_cte)
		drop_undecodable(s, f);
	f->changes = xcalloc(f->nseen + 1, sizeof(*f->changes));
	if (f->nseen == 0) {
		f->rc = 0;
		return;
	}
	f->rc = store_mails_flags(srv->store, s->account, s->view->mailbox,
	    f->seen_uids, f->nseen, FLAGS_ADD, MAIL_SEEN, NULL,
	    STORE_UNCONDITIONAL, f->changes,
	    &f->error);
}

static void
seen_done(struct imap_cmd *cmd)
{
	struct fetch_ctx *f = cmd->ctx;
	struct imap_view *v = cmd->s->view;

	if (f->rc < 0) {
		imap_cmd_done(cmd, "NO", "[SERVERBUG] %s", f->error);
		return;
	}
	for (size_t i = 0; i < f->nseen; i++) {
		uint32_t seq = imap_view_seq(v, f->seen_uids[i]);

		if (seq != 0 && f->changes[i].changed)
			v->flags[seq - 1] |= MAIL_SEEN;
	}
	cmd->cont = fetch_continue;
	fetch_continue(cmd);
}

/* FETCH modifiers: (CHANGEDSINCE modseq [VANISHED]).  0, or -1 (done). */
static int
fetch_modifiers(struct imap_cmd *cmd, struct fetch_ctx *f,
    const struct imap_arg *arg)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *m;
	size_t n;

	if ((m = imap_arg_list(arg, &n)) == NULL || n == 0) {
		imap_cmd_done(cmd, "BAD", "Invalid FETCH modifiers");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_eq(&m[i], "CHANGEDSINCE") && i + 1 < n &&
		    m[i + 1].type == IMAP_ARG_ATOM &&
		    parse_u64(m[i + 1].str, m[i + 1].len, INT64_MAX,
		    &f->since) == 0 && !f->changedsince) {
			f->changedsince = true;
			i++;
		} else if (imap_arg_atom_eq(&m[i], "VANISHED") &&
		    !f->vanished) {
			f->vanished = true;
		} else {
			imap_cmd_done(cmd, "BAD", "Invalid FETCH modifiers");
			return -1;
		}
	}
	if (!f->changedsince) {
		imap_cmd_done(cmd, "BAD", "FETCH modifiers need CHANGEDSINCE");
		return -1;
	}
	/* VANISHED: UID FETCH with QRESYNC enabled only (3.2.6). */
	if (f->vanished && (!cmd->a.uid || !(s->enabled & IMAP_EN_QRESYNC))) {
		imap_cmd_done(cmd, "BAD", "VANISHED needs UID FETCH and "
		    "QRESYNC");
		return -1;
	}
	imap_condstore_enable(s);
	return 0;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct since_ctx {
	uint32_t	*uids;
	size_t		 n;
	struct imap_seqset *set;
};

static void
since_row_cb(void *ctx, const struct mail_row *r)
{
	struct since_ctx *c = ctx;

	c->uids = xgrowarray(c->uids, c->n, sizeof(*c->uids));
	c->uids[c->n++] = r->uid;
}

static void
since_gone_cb(void *ctx, uint32_t uid)
{
	struct since_ctx *c = ctx;

	if (!imap_seqset_contains(c->set, uid, UINT32_MAX))
		return;
	c->uids = xgrowarray(c->uids, c->n, sizeof(*c->uids));
	c->uids[c->n++] = uid;
}

/*
 * CHANGEDSINCE keeps only messages whose modseq is above it and adds the
 * MODSEQ item; VANISHED first reports the uids of the set expunged since
 * (RFC 7162 3.2.6).  Returns 0, or -1 after answering.
 */
static int
changedsince_filter(struct imap_cmd *cmd, struct fetch_ctx *f,
    const char *set)
{
	struct imap_session *s = cmd->s;
	struct imap_view *v = s->view;
	struct since_ctx c = { NULL, 0, NULL };
	const char *err;
	uint32_t w = 0;

	if (f->vanished) {
		struct imap_seqset ss;
		struct buf out = BUF_INIT;

		imap_seqset_init(&ss);
		(void)imap_seqset_parse(set, strlen(set), &ss);
		imap_seqset_resolve(&ss, v->uidnext > 1 ? v->uidnext - 1 : 1);
		c.set = &ss;
		if (store_expunged_scan(srv->store, s->account, v->mailbox,
		    f->since, since_gone_cb, &c, &err) < 0) {
			imap_seqset_free(&ss);
			free(c.uids);
			imap_cmd_done(cmd, "NO", "[SERVERBUG] %s", err);
			return -1;
		}
		imap_write_vanished(&out, true, c.uids, c.n);
		imap_send_buf(s, &out);
		buf_free(&out);
		imap_seqset_free(&ss);
		free(c.uids);
		c.uids = NULL;
		c.n = 0;
	}
	if (store_mails_scan(srv->store, s->account, v->mailbox, f->since,
	    since_row_cb, &c, &err) < 0) {
		free(c.uids);
		imap_cmd_done(cmd, "NO", "[SERVERBUG] %s", err);
		return -1;
	}
	for (uint32_t i = 0; i < f->n; i++)
		if (c.n > 0 && bsearch(&v->uids[f->idx[i]], c.uids, c.n,
		    sizeof(*c.uids), u32_cmp) != NULL)
			f->idx[w++] = f->idx[i];
	f->n = w;
	free(c.uids);
	/* CHANGEDSINCE implies the MODSEQ item. */
	if (!f->want_modseq) {
		f->atts = xreallocarray(f->atts, f->natts + 1,
		    sizeof(*f->atts));
		memset(&f->atts[f->natts], 0, sizeof(f->atts[0]));
		f->atts[f->natts++].type = IMAP_FETCH_MODSEQ;
		f->want_modseq = true;
	}
	f->need_meta = true;
	return 0;
}

void
cmd_fetch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_view *v = s->view;
	struct fetch_ctx *f;
	const char *set, *err;
	size_t used;
	int n;

	if (cmd->a.count < 2 ||
	    (set = imap_arg_astring(&cmd->a.args[0])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid FETCH arguments");
		return;
	}
	f = xcalloc(1, sizeof(*f));
	buf_init(&f->text);
	buf_init(&f->chunk);
	buf_init(&f->preview);
	buf_init(&f->rd.buf);
	mail_meta_init(&f->m);
	f->rd.account = s->account;
	cmd->ctx = f;
	cmd->ctx_free = fetch_ctx_free;
	/* Items (PREVIEW may take a list of its own), then modifiers. */
	if (imap_parse_fetch_args(&cmd->a.args[1], cmd->a.count - 1,
	    &f->atts, &f->natts, &used, &err) < 0) {
		imap_cmd_done(cmd, "BAD", "%s", err);
		return;
	}
	if (cmd->a.count - 1 - used > 1) {
		imap_cmd_done(cmd, "BAD", "Invalid FETCH arguments");
		return;
	}
	if (cmd->a.count - 1 - used == 1 &&
	    fetch_modifiers(cmd, f, &cmd->a.args[1 + used]) < 0)
		return;
	/* Expand macros in place (ALL, FAST, FULL). */
	for (size_t i = 0; i < f->natts; i++) {
		enum imap_fetch_type ex[5];
		size_t k = imap_fetch_macro_expand(f->atts[i].type, ex);

		if (k == 0)
			continue;
		imap_fetch_atts_free(f->atts, f->natts);
		f->atts = xcalloc(k, sizeof(*f->atts));
		for (size_t j = 0; j < k; j++)
			f->atts[j].type = ex[j];
		f->natts = k;
		break;
	}
	for (size_t i = 0; i < f->natts; i++) {
		const struct imap_fetch_att *a = &f->atts[i];

		switch (a->type) {
		case IMAP_FETCH_FLAGS:
			f->want_flags = true;
			break;
		case IMAP_FETCH_UID:
			break;
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			f->check_cte = true;
			/* FALLTHROUGH */
		case IMAP_FETCH_PREVIEW:
			f->heavy = true;
			f->need_meta = true;
			f->need_mime = true;
			break;
		case IMAP_FETCH_MODSEQ:
			imap_condstore_enable(s);
			f->want_modseq = true;
			f->need_meta = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
		case IMAP_FETCH_RFC822_SIZE:
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_EMAILID:
			f->need_meta = true;
			break;
		case IMAP_FETCH_THREADID:
			break;
		default:
			f->need_meta = true;
			f->need_mime = true;
			break;
		}
		if (wants_seen(a) && !v->readonly)
			f->sets_seen = true;
	}
	f->want_uid = cmd->a.uid;
	f->condstore = (s->enabled & IMAP_EN_CONDSTORE) != 0;
	if (f->condstore && f->sets_seen)
		f->need_meta = true;
	f->check_cte = f->check_cte && f->sets_seen;
	n = imap_view_resolve(v, set, cmd->a.uid, &f->idx);
	if (n < 0) {
		imap_cmd_done(cmd, "BAD", n == -1 ? "Invalid sequence set" :
		    "Invalid messageset");
		return;
	}
	f->n = (uint32_t)n;
	if (f->changedsince && changedsince_filter(cmd, f, set) < 0)
		return;
	if (f->heavy)
		f->bins = xcalloc(f->natts, sizeof(*f->bins));
	if (f->sets_seen) {
		f->seen_uids = xcalloc(f->n + 1, sizeof(uint32_t));
		for (uint32_t i = 0; i < f->n; i++) {
			uint32_t idx = f->idx[i];

			if (!(v->flags[idx] & MAIL_SEEN) &&
			    !imap_view_is_gone(v, idx))
				f->seen_uids[f->nseen++] = v->uids[idx];
		}
		if (f->nseen > 0) {
			imap_cmd_async(cmd, seen_work, seen_done);
			return;
		}
	}
	cmd->cont = fetch_continue;
	fetch_continue(cmd);
}
