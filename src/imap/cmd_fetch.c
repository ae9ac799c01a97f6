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
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "imap_bodystructure.h"
#include "imap_date.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "mime/mime.h"
#include "server.h"
#include "store/store.h"

#define FETCH_HIGH	(256 * 1024)
#define FETCH_CHUNK	(64 * 1024)

struct fetch_seg {
	bool		 blob;
	size_t		 off;		/* text: offset in ctx->text */
	uint64_t	 len;
	uint64_t	 blob_off;	/* blob: offset in the message */
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

	/* The message being written. */
	struct buf	 text;
	struct fetch_seg *segs;
	size_t		 nsegs;
	size_t		 seg;
	uint64_t	 seg_done;
	int64_t		 message_id;
	struct buf	 chunk;
};

static void
fetch_ctx_free(void *p)
{
	struct fetch_ctx *f = p;

	imap_fetch_atts_free(f->atts, f->natts);
	free(f->idx);
	free(f->seen_uids);
	free(f->changes);
	free(f->segs);
	buf_free(&f->text);
	buf_free(&f->chunk);
	free(f);
}

static void
seg_text_flush(struct fetch_ctx *f, size_t *mark)
{
	if (f->text.len > *mark) {
		f->segs = xgrowarray(f->segs, f->nsegs, sizeof(*f->segs));
		f->segs[f->nsegs].blob = false;
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
	f->segs[f->nsegs].blob = true;
	f->segs[f->nsegs].blob_off = off;
	f->segs[f->nsegs].len = len;
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

static bool
wants_seen(const struct imap_fetch_att *a)
{
	return ((a->type == IMAP_FETCH_BODY_SECTION && !a->peek) ||
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

/* Builds the segments of message f->idx[f->pos]; false = skip it. */
static bool
build_message(struct imap_session *s, struct fetch_ctx *f)
{
	struct imap_view *v = s->view;
	uint32_t idx = f->idx[f->pos];
	uint32_t uid = v->uids[idx];
	struct mail_meta m;
	struct mime_part *root = NULL;
	size_t mark = 0;
	bool first = true, ok = true, flags_done = false;
	bool need_meta = f->need_meta || v->kwhash[idx] != 0;
	const char *err;

	buf_reset(&f->text);
	f->nsegs = 0;
	f->seg = 0;
	f->seg_done = 0;
	mail_meta_init(&m);
	if (imap_view_is_gone(v, idx))
		return false;
	if (need_meta && store_mail_meta(srv->store, s->account, v->mailbox,
	    uid, f->need_mime, &m) != 1) {
		mail_meta_free(&m);
		return false;
	}
	if (f->need_mime) {
		root = mime_deserialize(m.mime.data, m.mime.len, &err);
		if (root == NULL) {
			/* A damaged structure: parse the stored bytes again. */
			log_warnx("s=%s imap uid %u: bad MIME structure (%s), "
			    "re-parsing", s->conn->sid, uid, err);
			root = reparse(s, &m);
		}
	}
	f->message_id = m.message_id;
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
			    need_meta ? buf_cstr(&m.keywords) : NULL);
			flags_done = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
			SEP();
			imap_datetime_format(m.internaldate, 0, date);
			buf_printf(&f->text, "INTERNALDATE %s", date);
			break;
		case IMAP_FETCH_RFC822_SIZE:
			SEP();
			buf_printf(&f->text, "RFC822.SIZE %llu",
			    (unsigned long long)m.size);
			break;
		case IMAP_FETCH_MODSEQ:
			SEP();
			buf_printf(&f->text, "MODSEQ (%llu)",
			    (unsigned long long)m.modseq);
			break;
		case IMAP_FETCH_EMAILID:
			/* The stored message: copies share it (RFC 8474). */
			SEP();
			buf_printf(&f->text, "EMAILID (E%lld)",
			    (long long)m.message_id);
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
			    (unsigned long long)m.size);
			seg_blob(f, &mark, 0, m.size);
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
			ok = write_section(s, f, a, &m, root, &mark);
			break;
		default:
			break;
		}
	}
	if (was_seen_now(f, uid)) {
		if (!flags_done) {
			SEP();
			buf_puts(&f->text, "FLAGS ");
			imap_write_flags(&f->text, v->flags[idx] &
			    MAIL_FLAGS_ALL, (v->flags[idx] & VIEW_RECENT) != 0,
			    need_meta ? buf_cstr(&m.keywords) : NULL);
		}
		/* RFC 7162 3.1: a FETCH that set \Seen reports both. */
		if (f->condstore && !f->want_uid) {
			SEP();
			buf_printf(&f->text, "UID %u", uid);
		}
		if (f->condstore && !f->want_modseq) {
			SEP();
			buf_printf(&f->text, "MODSEQ (%llu)",
			    (unsigned long long)m.modseq);
		}
	}
#undef SEP
	buf_puts(&f->text, ")\r\n");
	seg_text_flush(f, &mark);
	mime_part_free(&root);
	mail_meta_free(&m);
	return ok;
}

static void
fetch_continue(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct fetch_ctx *f = cmd->ctx;
	struct conn *c = s->conn;
	const char *err;

	while (conn_outq(c) < FETCH_HIGH && !c->closing) {
		if (f->seg < f->nsegs) {
			struct fetch_seg *sg = &f->segs[f->seg];

			if (!sg->blob) {
				conn_write(c, f->text.data + sg->off,
				    (size_t)sg->len);
				f->seg++;
				continue;
			}
			{
				uint64_t left = sg->len - f->seg_done;
				size_t n = left > FETCH_CHUNK ? FETCH_CHUNK :
				    (size_t)left;

				buf_reset(&f->chunk);
				if (store_body_read(srv->store, s->account,
				    f->message_id, sg->blob_off + f->seg_done,
				    n, &f->chunk, &err) < 0 ||
				    f->chunk.len != n) {
					/* The literal's length is promised:
					 * all we can do is disconnect. */
					log_warnx("s=%s imap fetch read "
					    "failed: %s", c->sid, err);
					conn_close(c, "store read error");
					return;
				}
				conn_write(c, f->chunk.data, n);
				f->seg_done += n;
				if (f->seg_done == sg->len) {
					f->seg++;
					f->seg_done = 0;
				}
			}
			continue;
		}
		if (f->pos >= f->n) {
			cmd->cont = NULL;
			imap_cmd_done(cmd, "OK", "%s completed.",
			    cmd->a.uid ? "UID FETCH" : "Fetch");
			return;
		}
		if (!build_message(s, f))
			f->nsegs = 0;
		f->pos++;
	}
}

static void
seen_work(struct imap_cmd *cmd)
{
	struct fetch_ctx *f = cmd->ctx;
	struct imap_session *s = cmd->s;

	f->changes = xcalloc(f->nseen + 1, sizeof(*f->changes));
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
fetch_modifiers(struct imap_cmd *cmd, struct fetch_ctx *f)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *m;
	size_t n;

	if ((m = imap_arg_list(&cmd->a.args[2], &n)) == NULL || n == 0) {
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
	int n;

	if ((cmd->a.count != 2 && cmd->a.count != 3) ||
	    (set = imap_arg_astring(&cmd->a.args[0])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid FETCH arguments");
		return;
	}
	f = xcalloc(1, sizeof(*f));
	buf_init(&f->text);
	buf_init(&f->chunk);
	cmd->ctx = f;
	cmd->ctx_free = fetch_ctx_free;
	if (cmd->a.count == 3 && fetch_modifiers(cmd, f) < 0)
		return;
	if (imap_parse_fetch_atts(&cmd->a.args[1], &f->atts, &f->natts,
	    &err) < 0) {
		imap_cmd_done(cmd, "BAD", "%s", err);
		return;
	}
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
			imap_cmd_done(cmd, "BAD", "BINARY is not supported");
			return;
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
	n = imap_view_resolve(v, set, cmd->a.uid, &f->idx);
	if (n < 0) {
		imap_cmd_done(cmd, "BAD", n == -1 ? "Invalid sequence set" :
		    "Invalid messageset");
		return;
	}
	f->n = (uint32_t)n;
	if (f->changedsince && changedsince_filter(cmd, f, set) < 0)
		return;
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
