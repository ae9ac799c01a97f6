/*
 * cmd_search - SEARCH and UID SEARCH (RFC 9051 6.4.4), evaluated on a
 * worker over the session's view.  Each message's data is loaded only as
 * far as the keys need it: flags from the view, size and dates from the
 * store's metadata, the header for address and subject keys, the body for
 * BODY and TEXT.
 *
 * Strings match as RFC 9051 says: case-insensitive substrings, after
 * decoding.  Header values are unfolded and their RFC 2047 words decoded;
 * bodies are the text parts of the message (any depth, message/rfc822
 * included) with their transfer encoding undone, their charset converted
 * to UTF-8 and HTML made text; both sides are compared after Unicode
 * simple case folding (mime_decode.h).  Search strings in another
 * CHARSET are converted to UTF-8 first; a charset iconv does not know is
 * NO [BADCHARSET].  Bodies are read from the store in blocks, never whole.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap_date.h"
#include "imap_search_eval.h"
#include "imap_search_parse.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "mime/mime.h"
#include "mime/mime_addr.h"
#include "mime/mime_decode.h"
#include "server.h"
#include "store/fts_index.h"
#include "store/store.h"

/* Most BODY/TEXT keys of one search answered from the index. */
#define FTS_KEYS_MAX	16

/* The full-text index as one search uses it (store.h). */
struct fts_use {
	bool		 on;		/* the search has BODY or TEXT */
	struct store_fts_docs docs;	/* indexed before this search */
	struct {
		const struct imap_search_node *node;
		int64_t	*ids;		/* messages containing it */
		size_t	 n;
	}		 keys[FTS_KEYS_MAX];
	size_t		 nkeys;
	bool		 unindexed;	/* met a message the index lacks */
};

struct search_ctx {
	struct imap_search_program prog;
	uint32_t	*hits;		/* view indexes */
	uint32_t	 nhits;
	uint64_t	 max_modseq;	/* of the hits, for MODSEQ searches */
	uint64_t	 min_max_modseq;	/* of the MIN and MAX hits only */
	int		 rc;
	const char	*error;
	time_t		 now;
	struct imap_session *s;
	struct fts_use	 fts;
	struct store_meta_cursor *cur;	/* metadata in uid order */
	bool		 cur_failed;
};

/* What has been loaded of the message being tested. */
struct msgdata {
	struct search_ctx *c;
	struct imap_session *s;
	uint32_t	 idx;
	bool		 meta_tried, meta_ok;
	struct mail_meta m;
	bool		 root_tried;
	struct mime_part *root;
	bool		 env_tried, env_ok;
	struct mime_env_ref env;	/* points into m.mime */
	bool		 hdr_tried;
	struct buf	 hdr;
};

static void
search_ctx_free(void *p)
{
	struct search_ctx *c = p;

	imap_search_program_free(&c->prog);
	free(c->hits);
	free(c);
}

static bool
load_meta(struct msgdata *d)
{
	struct search_ctx *c = d->c;
	struct imap_view *v = d->s->view;
	const char *err;

	if (d->meta_tried)
		return d->meta_ok;
	d->meta_tried = true;
	/* The search walks the view in uid order: one walk of the store. */
	if (c->cur == NULL && !c->cur_failed &&
	    (c->cur = store_meta_cursor_open(srv->store, d->s->account,
	    v->mailbox, &err)) == NULL)
		c->cur_failed = true;
	if (c->cur != NULL)
		d->meta_ok = store_meta_cursor_get(c->cur, v->uids[d->idx],
		    &d->m) == 1;
	else
		d->meta_ok = store_mail_meta(srv->store, d->s->account,
		    v->mailbox, v->uids[d->idx], true, &d->m) == 1;
	return d->meta_ok;
}

static const struct mime_part *
load_root(struct msgdata *d)
{
	const char *err;

	if (!d->root_tried) {
		d->root_tried = true;
		if (load_meta(d))
			d->root = mime_deserialize(d->m.mime.data,
			    d->m.mime.len, &err);
	}
	return d->root;
}

/*
 * The envelope's field f: 1 with its raw value, 0 if the message has
 * none, -1 if not known from the stored structure (a value cut at the
 * parser's limit): then the header has to be read.
 */
static int
env_field(struct msgdata *d, enum mime_env_field f, const char **v_r,
    size_t *len_r)
{
	if (!d->env_tried) {
		d->env_tried = true;
		d->env_ok = load_meta(d) && mime_blob_envelope(d->m.mime.data,
		    d->m.mime.len, &d->env) == 0 &&
		    !(d->env.flags & MIME_PART_HDR_TRUNCATED);
	}
	if (!d->env_ok)
		return -1;
	*v_r = d->env.v[f];
	*len_r = d->env.len[f];
	return *v_r != NULL;
}

static bool
load_header(struct msgdata *d)
{
	const struct mime_part *root;
	const char *err;

	if (d->hdr_tried)
		return d->hdr.data != NULL;
	d->hdr_tried = true;
	if (!load_meta(d))
		return false;
	root = load_root(d);
	return store_body_read(srv->store, d->s->account, d->m.message_id,
	    root ? root->hdr_off : 0, root ? (size_t)root->hdr_len :
	    (size_t)d->m.size, &d->hdr, &err) == 0 && d->hdr.data != NULL;
}

/* Reads the stored message for the MIME walk (mime_read_fn). */
struct body_reader {
	struct msgdata	*d;
	struct buf	 tmp;
	bool		 failed;
};

static ssize_t
body_read(void *ctx, void *dst, size_t len, uint64_t off)
{
	struct body_reader *r = ctx;
	const char *err;

	buf_reset(&r->tmp);
	if (store_body_read(srv->store, r->d->s->account,
	    r->d->m.message_id, off, len, &r->tmp, &err) < 0) {
		r->failed = true;
		return -1;
	}
	if (r->tmp.len > 0)
		memcpy(dst, r->tmp.data, r->tmp.len);
	return (ssize_t)r->tmp.len;
}

static bool
body_text_fn(void *ctx, const struct mime_part *p, const char *s, size_t len)
{
	/* Stop the walk once found. */
	return !mime_matcher_feed(ctx, s, len);
}

static bool
id_in(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ids[mid] == id)
			return true;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* -1: not indexed, 0: indexed but incomplete, 1: complete. */
static int
fts_state(const struct fts_use *f, int64_t id)
{
	size_t lo = 0, hi = f->docs.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->docs.ids[mid] == id)
			return f->docs.complete[mid] ? 1 : 0;
		if (f->docs.ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Is str in the decoded text of the body's text parts?  Answered by the
 * full-text index when it has the message whole and the key was looked
 * up there, otherwise by decoding the message as a stream (and the
 * message is left for fts_index, in the background: fts_end).
 */
static bool
body_match(struct search_ctx *c, struct msgdata *d,
    const struct imap_search_node *n)
{
	const char *str = n->str;
	size_t len = n->str_len;
	struct body_reader r;
	struct mime_matcher *m;
	bool hit;

	if (load_root(d) == NULL)
		return false;
	if (c->fts.on) {
		int state = fts_state(&c->fts, d->m.message_id);

		if (state == 1) {
			for (size_t i = 0; i < c->fts.nkeys; i++)
				if (c->fts.keys[i].node == n)
					return id_in(c->fts.keys[i].ids,
					    c->fts.keys[i].n,
					    d->m.message_id);
		} else if (state == -1)
			c->fts.unindexed = true;
	}
	if ((m = mime_matcher_create(str, len)) == NULL)
		return false;
	if (mime_matcher_found(m)) {
		mime_matcher_free(&m);
		return true;
	}
	memset(&r, 0, sizeof(r));
	r.d = d;
	buf_init(&r.tmp);
	(void)mime_text_walk(d->root, body_read, &r, MIME_WALK_HTML, 0,
	    body_text_fn, m);
	hit = mime_matcher_found(m);
	if (r.failed)
		log_warnx("search: reading message %lld failed",
		    (long long)d->m.message_id);
	buf_free(&r.tmp);
	mime_matcher_free(&m);
	return hit;
}

/*
 * An address list written back the way Dovecot's message_address_write()
 * does: "name <local@domain>" or "local@domain", groups as "group: ...;",
 * joined by ", ".  Comments, quotes and folding inside an address are
 * gone, so "<a (x)@ (y) b.org>" is found as "a@b.org".
 */
static void
address_normalize(const char *v, size_t len, struct buf *out)
{
	struct mime_addr *list = mime_addr_parse(v, len), *a;
	bool first = true;

	for (a = list; a != NULL; a = a->next) {
		if (mime_addr_is_group_end(a)) {
			buf_putc(out, ';');
			first = false;
			continue;
		}
		if (!first)
			buf_puts(out, ", ");
		if (mime_addr_is_group_start(a)) {
			buf_puts(out, a->mailbox);
			buf_puts(out, ": ");
			first = true;
			continue;
		}
		first = false;
		if (a->name != NULL && a->name[0] != '\0') {
			buf_puts(out, a->name);
			buf_putc(out, ' ');
		}
		if ((a->name != NULL && a->name[0] != '\0') || a->adl != NULL)
			buf_putc(out, '<');
		if (a->adl != NULL) {
			buf_puts(out, a->adl);
			buf_putc(out, ':');
		}
		buf_puts(out, a->mailbox);
		buf_putc(out, '@');
		buf_puts(out, a->host);
		if ((a->name != NULL && a->name[0] != '\0') || a->adl != NULL)
			buf_putc(out, '>');
	}
	mime_addr_free(&list);
}

/*
 * Does the raw value of a field contain str?  Unfolded and RFC 2047
 * decoded; with addr (FROM, TO, CC, BCC, as in Dovecot) first normalized
 * as an address list, except for the empty string, which only asks
 * whether the field is there.
 */
static bool
value_match(const char *v, size_t vlen, const char *str, size_t len,
    bool addr, struct buf *val, struct buf *norm)
{
	buf_reset(val);
	if (addr && len > 0) {
		buf_reset(norm);
		address_normalize(v, vlen, norm);
		(void)mime_header_decode(norm->data ? norm->data : "",
		    norm->len, val);
	} else
		(void)mime_header_decode(v, vlen, val);
	return mime_text_contains(val->data ? val->data : "", val->len, str,
	    len);
}

/*
 * Does a header field named name (NULL: any field, the field name
 * included) contain str?  Values are unfolded and RFC 2047 decoded; with
 * addr (FROM, TO, CC, BCC, as in Dovecot) a value is first normalized as
 * an address list, except for the empty string, which only asks whether
 * the field is there.
 */
static bool
header_match(struct msgdata *d, const char *name, const char *str, size_t len,
    bool addr)
{
	const char *h, *end;
	size_t nl = name != NULL ? strlen(name) : 0;
	struct buf val = BUF_INIT, norm = BUF_INIT;
	bool hit = false;

	if (!load_header(d))
		return false;
	h = d->hdr.data;
	end = h + d->hdr.len;
	while (h < end && !hit) {
		const char *colon, *p = h, *vstart;

		/* The field runs to the first line not starting a fold. */
		for (;;) {
			const char *e = memchr(p, '\n', (size_t)(end - p));

			p = e ? e + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		if (*h == '\r' || *h == '\n')
			break;		/* the empty line ending the header */
		colon = memchr(h, ':', (size_t)(p - h));
		if (colon == NULL) {
			h = p;
			continue;
		}
		if (name != NULL) {
			/* Field names end at the colon, blanks allowed. */
			const char *ne = colon;

			while (ne > h && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			if ((size_t)(ne - h) != nl ||
			    strncasecmp(h, name, nl) != 0) {
				h = p;
				continue;
			}
			vstart = colon + 1;
		} else
			vstart = h;
		hit = value_match(vstart, (size_t)(p - vstart), str, len, addr,
		    &val, &norm);
		h = p;
	}
	buf_free(&val);
	buf_free(&norm);
	return hit;
}

/*
 * SUBJECT, FROM, TO, CC, BCC: RFC 9051 names the envelope's field, which
 * the stored structure holds, so the header is read only when it cannot
 * say (the field's name for that case).
 */
static bool
envelope_match(struct msgdata *d, enum mime_env_field f, const char *name,
    const char *str, size_t len, bool addr)
{
	struct buf val = BUF_INIT, norm = BUF_INIT;
	const char *v;
	size_t vlen;
	bool hit;

	switch (env_field(d, f, &v, &vlen)) {
	case -1:
		return header_match(d, name, str, len, addr);
	case 0:
		return false;
	}
	hit = value_match(v, vlen, str, len, addr, &val, &norm);
	buf_free(&val);
	buf_free(&norm);
	return hit;
}

static time_t
day_start(const struct imap_date *dt)
{
	return imap_date_to_time(dt);
}

static bool
date_cmp(enum imap_search_key k, time_t t, const struct imap_date *dt)
{
	time_t d0 = day_start(dt);

	switch (k) {
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_SENTBEFORE:
		return t < d0;
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SENTON:
		return t >= d0 && t < d0 + 86400;
	default:
		return t >= d0;
	}
}

static bool eval(struct search_ctx *, struct msgdata *,
    const struct imap_search_node *);

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool
eval_and(struct search_ctx *c, struct msgdata *d,
    const struct imap_search_node *n)
{
	for (; n != NULL; n = n->next)
		if (!eval(c, d, n))
			return false;
	return true;
}

static bool
eval(struct search_ctx *c, struct msgdata *d, const struct imap_search_node *n)
{
	struct imap_view *v = d->s->view;
	uint8_t fl = v->flags[d->idx];
	uint32_t uid = v->uids[d->idx];

	switch (n->key) {
	case IMAP_SEARCH_AND:
		return eval_and(c, d, n->children);
	case IMAP_SEARCH_OR:
		return eval(c, d, n->children) ||
		    (n->children->next != NULL &&
		    eval(c, d, n->children->next));
	case IMAP_SEARCH_NOT:
		return !eval(c, d, n->children);
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_ANSWERED:
		return fl & MAIL_ANSWERED;
	case IMAP_SEARCH_DELETED:
		return fl & MAIL_DELETED;
	case IMAP_SEARCH_DRAFT:
		return fl & MAIL_DRAFT;
	case IMAP_SEARCH_FLAGGED:
		return fl & MAIL_FLAGGED;
	case IMAP_SEARCH_SEEN:
		return fl & MAIL_SEEN;
	case IMAP_SEARCH_RECENT:
		return fl & VIEW_RECENT;
	case IMAP_SEARCH_NEW:
		return (fl & VIEW_RECENT) && !(fl & MAIL_SEEN);
	case IMAP_SEARCH_OLD:
		return !(fl & VIEW_RECENT);
	case IMAP_SEARCH_UNANSWERED:
		return !(fl & MAIL_ANSWERED);
	case IMAP_SEARCH_UNDELETED:
		return !(fl & MAIL_DELETED);
	case IMAP_SEARCH_UNDRAFT:
		return !(fl & MAIL_DRAFT);
	case IMAP_SEARCH_UNFLAGGED:
		return !(fl & MAIL_FLAGGED);
	case IMAP_SEARCH_UNSEEN:
		return !(fl & MAIL_SEEN);
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD: {
		bool has = false;

		if (v->kwhash[d->idx] != 0 && load_meta(d)) {
			const char *p = buf_cstr(&d->m.keywords);
			size_t kl = strlen(n->str);

			while (*p != '\0') {
				const char *e = strchr(p, ' ');
				size_t l = e ? (size_t)(e - p) : strlen(p);

				if (l == kl && strncasecmp(p, n->str, l) == 0)
					has = true;
				p += l + (e ? 1 : 0);
			}
		}
		return n->key == IMAP_SEARCH_KEYWORD ? has : !has;
	}
	case IMAP_SEARCH_LARGER:
		return load_meta(d) && d->m.size > n->number;
	case IMAP_SEARCH_SMALLER:
		return load_meta(d) && d->m.size < n->number;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
		return load_meta(d) && date_cmp(n->key, d->m.internaldate,
		    &n->date);
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE: {
		time_t t;
		int tz;
		const char *date;
		size_t dlen;

		if (env_field(d, MIME_ENV_DATE, &date, &dlen) == -1) {
			const struct mime_part *root = load_root(d);

			if (root == NULL || root->env == NULL ||
			    (date = root->env->date) == NULL)
				return false;
			dlen = strlen(date);
		} else if (date == NULL)
			return false;
		if (imap_date_parse_rfc5322(date, dlen, &t, &tz) < 0)
			return false;
		/* The date as written, whatever its zone (RFC 3501). */
		return date_cmp(n->key, t + (time_t)tz * 60, &n->date);
	}
	case IMAP_SEARCH_OLDER:
		return load_meta(d) &&
		    d->m.internaldate <= c->now - (time_t)n->number;
	case IMAP_SEARCH_YOUNGER:
		return load_meta(d) &&
		    d->m.internaldate >= c->now - (time_t)n->number;
	case IMAP_SEARCH_FROM:
		return envelope_match(d, MIME_ENV_FROM, "From", n->str,
		    n->str_len, true);
	case IMAP_SEARCH_TO:
		return envelope_match(d, MIME_ENV_TO, "To", n->str,
		    n->str_len, true);
	case IMAP_SEARCH_CC:
		return envelope_match(d, MIME_ENV_CC, "Cc", n->str,
		    n->str_len, true);
	case IMAP_SEARCH_BCC:
		return envelope_match(d, MIME_ENV_BCC, "Bcc", n->str,
		    n->str_len, true);
	case IMAP_SEARCH_SUBJECT:
		return envelope_match(d, MIME_ENV_SUBJECT, "Subject", n->str,
		    n->str_len, false);
	case IMAP_SEARCH_HEADER:
		return header_match(d, n->field, n->str, n->str_len, false);
	case IMAP_SEARCH_BODY:
		return body_match(c, d, n);
	case IMAP_SEARCH_TEXT:
		return header_match(d, NULL, n->str, n->str_len, false) ||
		    body_match(c, d, n);
	case IMAP_SEARCH_UID:
	case IMAP_SEARCH_SEQSET:
		if (n->seqset.searchres)
			return v->nsearchres > 0 && bsearch(&uid, v->searchres,
			    v->nsearchres, sizeof(uint32_t), uid_cmp) != NULL;
		if (n->key == IMAP_SEARCH_UID)
			return imap_seqset_contains(&n->seqset, uid,
			    v->count ? v->uids[v->count - 1] : 0);
		return imap_seqset_contains(&n->seqset, d->idx + 1, v->count);
	case IMAP_SEARCH_MODSEQ:
		return load_meta(d) && d->m.modseq >= n->number;
	}
	return false;
}

/* Finds the BODY and TEXT keys of a program (depth is bounded). */
static void
fts_keys(struct search_ctx *c, const struct imap_search_node *n)
{
	struct fts_use *f = &c->fts;

	for (; n != NULL; n = n->next) {
		if (n->key == IMAP_SEARCH_BODY || n->key == IMAP_SEARCH_TEXT) {
			struct buf folded = BUF_INIT;
			const char *err;

			f->on = true;
			mime_fold_utf8(n->str, n->str_len, &folded);
			if (f->nkeys < FTS_KEYS_MAX &&
			    mime_utf8_count(folded.data ? folded.data : "",
			    folded.len) >= STORE_FTS_MIN_CHARS) {
				if (store_fts_match(srv->store,
				    c->s->account, folded.data, folded.len,
				    &f->keys[f->nkeys].ids,
				    &f->keys[f->nkeys].n, &err) == 0)
					f->keys[f->nkeys++].node = n;
				else
					log_warnx("search: full-text index: "
					    "%s", err);
			}
			buf_free(&folded);
		}
		fts_keys(c, n->children);
	}
}

static void
fts_begin(struct search_ctx *c)
{
	const char *err;

	fts_keys(c, c->prog.root);
	if (c->fts.on && store_fts_docs(srv->store, c->s->account,
	    &c->fts.docs, &err) < 0) {
		/* Without the list, nothing is taken from the index. */
		log_warnx("search: full-text index: %s", err);
		c->fts.nkeys = 0;
	}
}

static void
fts_end(struct search_ctx *c)
{
	struct fts_use *f = &c->fts;

	if (f->unindexed)
		fts_index_kick(srv->store, c->s->account);
	for (size_t i = 0; i < f->nkeys; i++)
		free(f->keys[i].ids);
	store_fts_docs_free(&f->docs);
	memset(f, 0, sizeof(*f));
}

/* The loop of SEARCH, also run by SORT and THREAD: imap_search_eval.h. */
void
imap_search_eval(struct imap_session *s,
    const struct imap_search_program *prog, imap_search_hit_fn *hit,
    void *hit_ctx, struct imap_search_hits *out)
{
	struct imap_view *v = s->view;
	struct search_ctx ec;

	/* eval() takes the program and the clock from a search_ctx. */
	memset(&ec, 0, sizeof(ec));
	ec.prog = *prog;		/* borrowed: never freed here */
	ec.now = time(NULL);
	ec.s = s;
	fts_begin(&ec);
	memset(out, 0, sizeof(*out));
	out->idx = xcalloc(v->count + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < v->count; i++) {
		struct msgdata d;

		if (imap_view_is_gone(v, i))
			continue;
		memset(&d, 0, sizeof(d));
		d.c = &ec;
		d.s = s;
		d.idx = i;
		mail_meta_init(&d.m);
		buf_init(&d.hdr);
		if (eval(&ec, &d, prog->root)) {
			out->idx[out->n++] = i;
			if (prog->uses_modseq && load_meta(&d)) {
				if (d.m.modseq > out->max_modseq)
					out->max_modseq = d.m.modseq;
				if (out->n == 1)
					out->first_modseq = d.m.modseq;
				out->last_modseq = d.m.modseq;
			}
			if (hit != NULL && load_meta(&d))
				hit(hit_ctx, i, &d.m, load_root(&d));
			else if (hit != NULL)
				hit(hit_ctx, i, NULL, NULL);
		}
		mail_meta_free(&d.m);
		mime_part_free(&d.root);
		buf_free(&d.hdr);
	}
	store_meta_cursor_close(&ec.cur);
	fts_end(&ec);
}

static void
search_work(struct imap_cmd *cmd)
{
	struct search_ctx *c = cmd->ctx;
	struct imap_search_hits h;

	imap_search_eval(cmd->s, &c->prog, NULL, NULL, &h);
	c->hits = h.idx;
	c->nhits = h.n;
	c->max_modseq = h.max_modseq;
	c->min_max_modseq = 0;
	if (c->prog.return_opts & IMAP_SEARCH_RETURN_MIN)
		c->min_max_modseq = h.first_modseq;
	if ((c->prog.return_opts & IMAP_SEARCH_RETURN_MAX) &&
	    h.last_modseq > c->min_max_modseq)
		c->min_max_modseq = h.last_modseq;
	c->rc = 0;
}

/*
 * SAVE (RFC 5182 2.1): the whole result, or only its MIN and/or MAX when
 * those are the only other options asked for.
 */
static void
save_result(struct search_ctx *c, struct imap_view *v)
{
	unsigned o = c->prog.return_opts;
	uint32_t n = 0;

	free(v->searchres);
	v->searchres = xcalloc(c->nhits + 1, sizeof(uint32_t));
	if (c->nhits > 0 && (o & (IMAP_SEARCH_RETURN_MIN |
	    IMAP_SEARCH_RETURN_MAX)) && !(o & (IMAP_SEARCH_RETURN_ALL |
	    IMAP_SEARCH_RETURN_COUNT))) {
		if (o & IMAP_SEARCH_RETURN_MIN)
			v->searchres[n++] = v->uids[c->hits[0]];
		if ((o & IMAP_SEARCH_RETURN_MAX) && (n == 0 ||
		    v->uids[c->hits[c->nhits - 1]] != v->searchres[0]))
			v->searchres[n++] = v->uids[c->hits[c->nhits - 1]];
	} else
		for (uint32_t i = 0; i < c->nhits; i++)
			v->searchres[n++] = v->uids[c->hits[i]];
	v->nsearchres = n;
}

static void
search_done(struct imap_cmd *cmd)
{
	struct search_ctx *c = cmd->ctx;
	struct imap_session *s = cmd->s;
	struct imap_view *v = s->view;
	struct buf out = BUF_INIT;
	unsigned o = c->prog.return_opts;

	/* IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4). */
	if (s->enabled & IMAP_EN_REV2)
		c->prog.has_return = true;
	if (o & IMAP_SEARCH_RETURN_SAVE)
		save_result(c, v);
	if (c->prog.has_return && o == IMAP_SEARCH_RETURN_SAVE) {
		/* SAVE alone: no ESEARCH response (RFC 5182 2.1). */
	} else if (c->prog.has_return) {
		if ((o & ~IMAP_SEARCH_RETURN_SAVE) == 0)
			o |= IMAP_SEARCH_RETURN_ALL;
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", cmd->a.tag,
		    cmd->a.uid ? " UID" : "");
		if (c->nhits > 0 && (o & IMAP_SEARCH_RETURN_MIN))
			buf_printf(&out, " MIN %u", cmd->a.uid ?
			    v->uids[c->hits[0]] : c->hits[0] + 1);
		if (c->nhits > 0 && (o & IMAP_SEARCH_RETURN_MAX))
			buf_printf(&out, " MAX %u", cmd->a.uid ?
			    v->uids[c->hits[c->nhits - 1]] :
			    c->hits[c->nhits - 1] + 1);
		if (o & IMAP_SEARCH_RETURN_COUNT)
			buf_printf(&out, " COUNT %u", c->nhits);
		if (c->nhits > 0 && (o & IMAP_SEARCH_RETURN_ALL)) {
			uint32_t *vals = xcalloc(c->nhits, sizeof(uint32_t));

			for (uint32_t i = 0; i < c->nhits; i++)
				vals[i] = cmd->a.uid ? v->uids[c->hits[i]] :
				    c->hits[i] + 1;
			buf_puts(&out, " ALL ");
			imap_seqset_format_array(vals, c->nhits, &out);
			free(vals);
		}
		/*
		 * RFC 7162 3.1.5: the highest modseq of what was found, or
		 * with MIN/MAX alone of the messages returned (RFC 4731 3.2).
		 */
		if (c->prog.uses_modseq && c->nhits > 0)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)
			    ((o & (IMAP_SEARCH_RETURN_ALL |
			    IMAP_SEARCH_RETURN_COUNT)) ? c->max_modseq :
			    c->min_max_modseq));
		buf_puts(&out, "\r\n");
	} else {
		buf_puts(&out, "* SEARCH");
		for (uint32_t i = 0; i < c->nhits; i++) {
			buf_printf(&out, " %u", cmd->a.uid ?
			    v->uids[c->hits[i]] : c->hits[i] + 1);
			if (out.len > (size_t)64 * 1024) {
				imap_send_buf(s, &out);
				buf_reset(&out);
			}
		}
		if (c->prog.uses_modseq && c->nhits > 0)
			buf_printf(&out, " (MODSEQ %llu)",
			    (unsigned long long)c->max_modseq);
		buf_puts(&out, "\r\n");
	}
	imap_send_buf(s, &out);
	buf_free(&out);
	imap_cmd_done(cmd, "OK", "%s completed.", cmd->a.uid ? "UID SEARCH" :
	    "Search");
}

/* A failed SEARCH ... RETURN (SAVE) leaves an empty saved result. */
static void
search_fail(struct imap_cmd *cmd, const char *status, const char *text)
{
	struct search_ctx *c = cmd->ctx;
	struct imap_view *v = cmd->s->view;

	if (c->prog.return_opts & IMAP_SEARCH_RETURN_SAVE) {
		free(v->searchres);
		v->searchres = NULL;
		v->nsearchres = 0;
	}
	imap_cmd_done(cmd, status, "%s", text);
}

void
imap_search_strings_to_utf8(struct imap_search_node *n, const char *charset)
{
	for (; n != NULL; n = n->next) {
		if (n->str != NULL) {
			struct buf u = BUF_INIT;

			(void)mime_charset_to_utf8(charset, n->str, n->str_len,
			    &u);
			free(n->str);
			n->str_len = u.len;
			n->str = buf_steal(&u);
		}
		imap_search_strings_to_utf8(n->children, charset);
	}
}

void
cmd_search(struct imap_cmd *cmd)
{
	struct search_ctx *c = xcalloc(1, sizeof(*c));
	const char *err;

	cmd->ctx = c;
	cmd->ctx_free = search_ctx_free;
	if (imap_search_parse(cmd->a.args, cmd->a.count, &c->prog,
	    &err) < 0) {
		search_fail(cmd, "BAD", err);
		return;
	}
	if (c->prog.charset != NULL &&
	    !mime_charset_supported(c->prog.charset)) {
		search_fail(cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return;
	}
	if (c->prog.charset != NULL)
		imap_search_strings_to_utf8(c->prog.root, c->prog.charset);
	if (c->prog.uses_modseq)
		imap_condstore_enable(cmd->s);
	imap_cmd_async(cmd, search_work, search_done);
}
