/*
 * mime_decode_text - the text of a message: one part's decoded body
 * (Content-Transfer-Encoding, charset, HTML to text), the walk over the
 * text parts of a message, full-text extraction and the RFC 8970 preview
 * (API in mime_decode.h).
 *
 * The HTML converter is a streaming byte machine over UTF-8 (the charset
 * is converted first; a <meta charset> is not looked at).  It keeps at
 * most a tag name (HT_NAME_MAX), an entity (HT_ENT_MAX) and a few flags
 * between chunks, so hostile markup (unclosed comments, endless
 * attributes, a script that never ends) costs time linear in its length
 * and no memory.  Whitespace is collapsed while writing: one pending
 * space or line break is written before the next visible character, so
 * the output never starts or ends with blanks.
 *
 * The walk is iterative (next sibling, else parent), so a tree as deep as
 * MIME_DEPTH_HARD_MAX costs no stack, and it reads part bodies in
 * MIME_TEXT_BLOCK pieces: a part is never held whole.  Its pieces of text
 * always end at a character boundary (every stage holds back unfinished
 * characters), which the extraction cut and the preview rely on.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_decode_int.h"
#include "mime/mime_decode_tables.h"

/*
 * HTML to text.
 */

#define HT_NAME_MAX	16	/* longest tag name we tell apart */
#define HT_ENT_MAX	32	/* longest entity we try to read */

enum ht_state {
	HT_TEXT,
	HT_ENTITY,	/* after '&' */
	HT_LT,		/* after '<' */
	HT_NAME,	/* tag name, after '<' or "</" */
	HT_TAG,		/* attributes, up to '>' */
	HT_TAG_DQ,	/* attribute value in "" */
	HT_TAG_SQ,	/* attribute value in '' */
	HT_BANG,	/* "<!" */
	HT_BANG_DASH,	/* "<!-" */
	HT_COMMENT,	/* "<!--" up to "-->" */
	HT_DECL,	/* <!DOCTYPE ...>, <?xml ...?>, <![CDATA[...]]> */
	HT_RAW,		/* script/style/title content, to its end tag */
};

struct html {
	enum ht_state	 st;
	char		 name[HT_NAME_MAX];
	size_t		 nlen;
	bool		 closing;	/* "</" */
	bool		 after_eq;	/* last non-blank in a tag: '=' */
	char		 ent[HT_ENT_MAX];
	size_t		 nent;
	unsigned	 dashes;	/* in a comment: '-' just before */
	const char	*raw;		/* element whose content is dropped */
	size_t		 raw_match;	/* bytes of "</" raw matched */
	bool		 started;	/* something visible written */
	bool		 space;		/* a blank is pending */
	bool		 newline;	/* a line break is pending */
};

/* Elements that end a line (HTML block-level and friends), sorted. */
static const char *const ht_blocks[] = {
	"address", "article", "aside", "blockquote", "body", "br",
	"caption", "center", "dd", "details", "dialog", "div", "dl", "dt",
	"fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
	"h3", "h4", "h5", "h6", "header", "hr", "html", "legend", "li",
	"main", "menu", "nav", "ol", "option", "p", "pre", "section",
	"summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
};

/* Elements whose content is not text. */
static const char *const ht_raws[] = { "script", "style", "title" };

static int
strcmp_p(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

static bool
ht_is_block(const char *name)
{
	return bsearch(name, ht_blocks, sizeof(ht_blocks) /
	    sizeof(ht_blocks[0]), sizeof(ht_blocks[0]), strcmp_p) != NULL;
}

static int
entity_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct html_entity *)elem)->name);
}

static void
ht_init(struct html *h)
{
	memset(h, 0, sizeof(*h));
	h->st = HT_TEXT;
}

/* Writes visible text, after the pending blank or line break. */
static void
ht_put(struct html *h, const void *p, size_t n, struct buf *out)
{
	if (h->started && h->newline)
		buf_putc(out, '\n');
	else if (h->started && h->space)
		buf_putc(out, ' ');
	h->newline = h->space = false;
	h->started = true;
	buf_append(out, p, n);
}

static void
ht_put_cp(struct html *h, uint32_t cp, struct buf *out)
{
	char u[4];

	ht_put(h, u, mime_utf8_encode(cp, u), out);
}

static bool
ht_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool
ht_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
ht_alnum(unsigned char c)
{
	return ht_alpha(c) || (c >= '0' && c <= '9');
}

static bool
ht_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Can c continue the entity read so far ("#", "#x", digits, a name)? */
static bool
ht_entity_char(const struct html *h, unsigned char c)
{
	if (h->nent == 0)
		return ht_alnum(c) || c == '#';
	if (h->ent[0] != '#')
		return ht_alnum(c);
	if (h->nent == 1 && (c == 'x' || c == 'X'))
		return true;
	if (h->nent >= 2 && (h->ent[1] == 'x' || h->ent[1] == 'X'))
		return ht_hex(c);
	return c >= '0' && c <= '9';
}

/* The '>' of a tag: what the element means for the text. */
static void
ht_tag_end(struct html *h)
{
	h->name[h->nlen] = '\0';
	h->st = HT_TEXT;
	if (ht_is_block(h->name)) {
		h->newline = true;
	} else if (strcmp(h->name, "td") == 0 || strcmp(h->name, "th") == 0) {
		h->space = true;
	} else if (!h->closing) {
		for (size_t i = 0; i < sizeof(ht_raws) / sizeof(ht_raws[0]);
		    i++) {
			if (strcmp(h->name, ht_raws[i]) == 0) {
				h->raw = ht_raws[i];
				h->raw_match = 0;
				h->st = HT_RAW;
			}
		}
	}
}

/*
 * The entity in h->ent (without '&'; semi: it ended with ';').  Unknown
 * ones are written as they were.
 */
static void
ht_entity(struct html *h, bool semi, struct buf *out)
{
	const struct html_entity *e;
	uint32_t v = 0;
	size_t i = 1;
	bool hex, digits = false;

	h->ent[h->nent] = '\0';
	if (h->nent > 0 && h->ent[0] == '#') {
		hex = h->nent > 1 && (h->ent[1] == 'x' || h->ent[1] == 'X');
		if (hex)
			i = 2;
		for (; i < h->nent; i++) {
			int d = hex ? -1 : h->ent[i] - '0';

			if (hex && h->ent[i] >= '0' && h->ent[i] <= '9')
				d = h->ent[i] - '0';
			else if (hex && h->ent[i] >= 'a' && h->ent[i] <= 'f')
				d = h->ent[i] - 'a' + 10;
			else if (hex && h->ent[i] >= 'A' && h->ent[i] <= 'F')
				d = h->ent[i] - 'A' + 10;
			if (d < 0 || d > 9 + 6 * hex)
				break;
			digits = true;
			if (v <= 0x10ffff)
				v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (digits && i == h->nent) {
			if (v >= 0x80 && v <= 0x9f)
				v = mime_cp1252_c1[v - 0x80];
			else if (v == 0)
				v = 0xfffd;
			/* &#32; and &#10; are blanks like the real ones. */
			if (v < 0x80 && ht_blank((unsigned char)v))
				h->space = true;
			else
				ht_put_cp(h, v, out);
			return;
		}
	} else if (semi && h->nent > 0 &&
	    (e = bsearch(h->ent, html_entities, sizeof(html_entities) /
	    sizeof(html_entities[0]), sizeof(html_entities[0]),
	    entity_cmp)) != NULL) {
		if (e->cp == 0xa0)
			h->space = true;
		else
			ht_put_cp(h, e->cp, out);
		return;
	}
	ht_put(h, "&", 1, out);
	if (h->nent > 0)
		ht_put(h, h->ent, h->nent, out);
	if (semi)
		ht_put(h, ";", 1, out);
}

static void
ht_feed(struct html *h, const unsigned char *s, size_t len, struct buf *out)
{
	size_t i = 0, start;
	unsigned char c;

	/* "continue" without i++: the byte is read again in HT_TEXT. */
	while (i < len) {
		c = s[i];
		switch (h->st) {
		case HT_TEXT:
			start = i;
			while (i < len && s[i] != '<' && s[i] != '&' &&
			    !ht_blank(s[i]))
				i++;
			if (i > start) {
				ht_put(h, s + start, i - start, out);
				continue;
			}
			if (c == '<') {
				h->st = HT_LT;
			} else if (c == '&') {
				h->nent = 0;
				h->st = HT_ENTITY;
			} else
				h->space = true;
			break;
		case HT_ENTITY:
			if (ht_entity_char(h, c) && h->nent < HT_ENT_MAX - 1) {
				h->ent[h->nent++] = (char)c;
				break;
			}
			h->st = HT_TEXT;
			if (c == ';') {
				ht_entity(h, true, out);
				break;
			}
			ht_entity(h, false, out);
			continue;
		case HT_LT:
			h->closing = false;
			h->nlen = 0;
			h->after_eq = false;
			if (c == '/') {
				h->closing = true;
				h->st = HT_NAME;
			} else if (ht_alpha(c)) {
				h->st = HT_NAME;
				continue;
			} else if (c == '!') {
				h->st = HT_BANG;
			} else if (c == '?') {
				h->st = HT_DECL;
			} else {
				/* "a < b": not a tag. */
				ht_put(h, "<", 1, out);
				h->st = HT_TEXT;
				continue;
			}
			break;
		case HT_NAME:
			if (ht_alnum(c) || c == '-' || c == ':') {
				/* Too long: no element we know, keep it so. */
				if (h->nlen < HT_NAME_MAX - 1)
					h->name[h->nlen++] = (char)(c >= 'A' &&
					    c <= 'Z' ? c - 'A' + 'a' : c);
				else
					h->name[0] = '-';
				break;
			}
			h->st = HT_TAG;
			continue;
		case HT_TAG:
			if (c == '>') {
				ht_tag_end(h);
			} else if (c == '"' && h->after_eq) {
				h->st = HT_TAG_DQ;
			} else if (c == '\'' && h->after_eq) {
				h->st = HT_TAG_SQ;
			} else if (!ht_blank(c)) {
				h->after_eq = c == '=';
			}
			break;
		case HT_TAG_DQ:
		case HT_TAG_SQ:
			if (c == (h->st == HT_TAG_DQ ? '"' : '\'')) {
				h->after_eq = false;
				h->st = HT_TAG;
			}
			break;
		case HT_BANG:
			h->st = c == '-' ? HT_BANG_DASH : c == '>' ? HT_TEXT :
			    HT_DECL;
			break;
		case HT_BANG_DASH:
			h->dashes = 0;
			h->st = c == '-' ? HT_COMMENT : c == '>' ? HT_TEXT :
			    HT_DECL;
			break;
		case HT_COMMENT:
			if (c == '>' && h->dashes >= 2)
				h->st = HT_TEXT;
			else if (c == '-')
				h->dashes++;
			else
				h->dashes = 0;
			break;
		case HT_DECL:
			if (c == '>')
				h->st = HT_TEXT;
			break;
		case HT_RAW: {
			size_t rl = strlen(h->raw);
			unsigned char want;

			if (h->raw_match == 2 + rl) {
				/* "</script" then: the end tag, or not. */
				if (ht_blank(c) || c == '/' || c == '>') {
					h->closing = true;
					h->nlen = rl;
					memcpy(h->name, h->raw, rl);
					h->after_eq = false;
					h->st = HT_TAG;
					continue;
				}
				h->raw_match = 0;
			}
			want = h->raw_match == 0 ? '<' : h->raw_match == 1 ?
			    '/' : (unsigned char)h->raw[h->raw_match - 2];
			if ((c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c) == want)
				h->raw_match++;
			else
				h->raw_match = c == '<' ? 1 : 0;
			break;
		}
		}
		i++;
	}
}

static void
ht_finish(struct html *h, struct buf *out)
{
	if (h->st == HT_ENTITY)
		ht_entity(h, false, out);
	else if (h->st == HT_LT)
		ht_put(h, "<", 1, out);
	ht_init(h);
}

/*
 * One part's body.
 */

struct mime_body_decoder {
	struct mime_cte_decoder	 *cte;
	struct mime_charset_conv *conv;	/* text parts with UTF8 */
	struct html		 *html;	/* text/html with HTML */
	struct buf		  a, b;	/* between the stages */
};

struct mime_body_decoder *
mime_body_decoder_create(const struct mime_part *p, unsigned flags)
{
	struct mime_body_decoder *d = xcalloc(1, sizeof(*d));
	bool text = p->type != NULL && strcmp(p->type, "text") == 0;

	d->cte = mime_cte_decoder_create(mime_cte_parse(p->encoding));
	if (text && (flags & MIME_BODY_UTF8) != 0)
		d->conv = mime_charset_conv_create(mime_param_get(p->params,
		    "charset"));
	if (text && (flags & MIME_BODY_HTML) != 0 && p->subtype != NULL &&
	    strcmp(p->subtype, "html") == 0) {
		d->html = xmalloc(sizeof(*d->html));
		ht_init(d->html);
	}
	buf_init(&d->a);
	buf_init(&d->b);
	return d;
}

void
mime_body_decoder_free(struct mime_body_decoder **dp)
{
	struct mime_body_decoder *d = *dp;

	if (d == NULL)
		return;
	mime_cte_decoder_free(&d->cte);
	mime_charset_conv_free(&d->conv);
	free(d->html);
	buf_free(&d->a);
	buf_free(&d->b);
	free(d);
	*dp = NULL;
}

/* a holds CTE output; runs the later stages into out. */
static void
body_stages(struct mime_body_decoder *d, bool final, unsigned *flags,
    struct buf *out)
{
	struct buf *src = &d->a;

	if (d->conv != NULL) {
		buf_reset(&d->b);
		mime_charset_conv_feed(d->conv, d->a.data, d->a.len, &d->b);
		if (final)
			*flags |= mime_charset_conv_finish(d->conv, &d->b);
		src = &d->b;
	}
	if (d->html != NULL) {
		ht_feed(d->html, (const unsigned char *)src->data, src->len,
		    out);
		if (final)
			ht_finish(d->html, out);
	} else
		buf_append(out, src->data, src->len);
}

void
mime_body_decode(struct mime_body_decoder *d, const void *p, size_t len,
    struct buf *out)
{
	if (d->conv == NULL && d->html == NULL) {
		mime_cte_decode(d->cte, p, len, out);
		return;
	}
	buf_reset(&d->a);
	mime_cte_decode(d->cte, p, len, &d->a);
	body_stages(d, false, &(unsigned){ 0 }, out);
}

unsigned
mime_body_decoder_finish(struct mime_body_decoder *d, struct buf *out)
{
	unsigned flags;

	if (d->conv == NULL && d->html == NULL)
		return mime_cte_decoder_finish(d->cte, out);
	buf_reset(&d->a);
	flags = mime_cte_decoder_finish(d->cte, &d->a);
	body_stages(d, true, &flags, out);
	return flags;
}

/*
 * The walk.
 */

ssize_t
mime_mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct mime_mem *m = ctx;

	if (off >= m->len)
		return 0;
	if (len > m->len - off)
		len = m->len - (size_t)off;
	memcpy(buf, (const char *)m->data + off, len);
	return (ssize_t)len;
}

static bool
is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return p->type != NULL && strcmp(p->type, type) == 0 &&
	    (subtype == NULL || (p->subtype != NULL &&
	    strcmp(p->subtype, subtype) == 0));
}

static bool
one_alternative(const struct mime_part *p, unsigned flags)
{
	return (flags & MIME_WALK_ONE_ALTERNATIVE) != 0 &&
	    is_type(p, "multipart", "alternative");
}

/* The child of a multipart/alternative that holds the best text. */
static const struct mime_part *
best_alternative(const struct mime_part *alt)
{
	const struct mime_part *c, *best = NULL;
	int score, best_score = 0;

	for (c = alt->children; c != NULL; c = c->next) {
		if (is_type(c, "text", "plain"))
			score = 4;
		else if (is_type(c, "text", "html"))
			score = 3;
		else if (is_type(c, "multipart", NULL))
			score = 2;
		else if (is_type(c, "text", NULL) || mime_part_is_message(c))
			score = 1;
		else
			score = 0;
		if (score > best_score) {
			best = c;
			best_score = score;
		}
	}
	return best;
}

/* After p's subtree: the next part to look at, or NULL. */
static const struct mime_part *
walk_next(const struct mime_part *p, const struct mime_part *root,
    unsigned flags)
{
	while (p != root) {
		if (p->next != NULL && !one_alternative(p->parent, flags))
			return p->next;
		p = p->parent;
	}
	return NULL;
}

struct walk {
	mime_read_fn	*rd;
	void		*rctx;
	uint64_t	 max_read;	/* 0: none */
	uint64_t	 nread;
	mime_text_fn	*fn;
	void		*fctx;
	char		*block;
	struct buf	 text;
};

/* Returns 0 when the part is done, 1 to stop the walk, -1 on error. */
static int
walk_part(struct walk *w, const struct mime_part *p, unsigned bflags)
{
	struct mime_body_decoder *d = mime_body_decoder_create(p, bflags);
	uint64_t off = p->body_off, left = p->body_len;
	int ret = 0;
	ssize_t r;
	size_t n;

	while (left > 0) {
		n = left < MIME_TEXT_BLOCK ? (size_t)left : MIME_TEXT_BLOCK;
		if (w->max_read != 0 && n > w->max_read - w->nread)
			n = (size_t)(w->max_read - w->nread);
		if (n == 0) {
			ret = 1;
			break;
		}
		if ((r = w->rd(w->rctx, w->block, n, off)) < 0) {
			mime_body_decoder_free(&d);
			return -1;
		}
		if (r == 0)
			break;
		if ((size_t)r > n)
			r = (ssize_t)n;
		if ((size_t)r < n)
			left = (uint64_t)r;	/* the message ends here */
		w->nread += (uint64_t)r;
		off += (uint64_t)r;
		left -= (uint64_t)r;
		buf_reset(&w->text);
		mime_body_decode(d, w->block, (size_t)r, &w->text);
		if (w->text.len > 0 &&
		    !w->fn(w->fctx, p, w->text.data, w->text.len)) {
			mime_body_decoder_free(&d);
			return 1;
		}
	}
	buf_reset(&w->text);
	(void)mime_body_decoder_finish(d, &w->text);
	mime_body_decoder_free(&d);
	if (w->text.len > 0 && !w->fn(w->fctx, p, w->text.data, w->text.len))
		return 1;
	return ret;
}

int
mime_text_walk(const struct mime_part *root, mime_read_fn *rd, void *rctx,
    unsigned flags, uint64_t max_read, mime_text_fn *fn, void *fctx)
{
	const struct mime_part *p = root;
	unsigned bflags = MIME_BODY_UTF8;
	struct walk w;
	int ret = 0;

	if ((flags & MIME_WALK_HTML) != 0)
		bflags |= MIME_BODY_HTML;
	memset(&w, 0, sizeof(w));
	w.rd = rd;
	w.rctx = rctx;
	w.max_read = max_read;
	w.fn = fn;
	w.fctx = fctx;
	w.block = xmalloc(MIME_TEXT_BLOCK);
	buf_init(&w.text);
	while (p != NULL && ret == 0) {
		if (p->children != NULL) {
			if (one_alternative(p, flags)) {
				const struct mime_part *c = best_alternative(p);

				if (c != NULL) {
					p = c;
					continue;
				}
			} else if (!mime_part_is_message(p) ||
			    (flags & MIME_WALK_NO_MESSAGES) == 0) {
				p = p->children;
				continue;
			}
		} else if (is_type(p, "text", NULL) &&
		    ((flags & MIME_WALK_NO_ATTACHMENTS) == 0 ||
		    p->disposition == NULL ||
		    strcasecmp(p->disposition, "attachment") != 0)) {
			ret = walk_part(&w, p, bflags);
		}
		p = walk_next(p, root, flags);
	}
	free(w.block);
	buf_free(&w.text);
	return ret;
}

/*
 * Full-text extraction.
 */

struct extract {
	struct buf		*out;
	size_t			 left;	/* bytes still allowed */
	const struct mime_part	*part;	/* last part written */
	bool			 cut;
};

static bool
extract_fn(void *ctx, const struct mime_part *p, const char *s, size_t len)
{
	struct extract *x = ctx;

	if (x->part != NULL && x->part != p) {
		if (x->left == 0) {
			x->cut = true;
			return false;
		}
		buf_putc(x->out, '\n');
		x->left--;
	}
	x->part = p;
	if (len > x->left) {
		/* Back up to the start of the character that does not fit. */
		len = x->left;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		buf_append(x->out, s, len);
		x->left = 0;
		x->cut = true;
		return false;
	}
	buf_append(x->out, s, len);
	x->left -= len;
	return true;
}

int
mime_text_extract(const struct mime_part *root, mime_read_fn *rd, void *rctx,
    unsigned flags, size_t max_bytes, uint64_t max_read, struct buf *out)
{
	struct extract x;
	int ret;

	memset(&x, 0, sizeof(x));
	x.out = out;
	x.left = max_bytes;
	ret = mime_text_walk(root, rd, rctx, flags, max_read, extract_fn, &x);
	if (ret < 0)
		return -1;
	return x.cut || ret > 0 ? 1 : 0;
}

/*
 * RFC 8970 preview.
 */

struct pv_text {
	struct buf	 b;
	size_t		 chars;
	size_t		 max;
	bool		 space;		/* a blank is pending */
};

struct preview {
	struct pv_text		 main, quoted;
	const struct mime_part	*part;
	bool			 line_start;
	bool			 in_quote;
};

static bool
pv_blank(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n' ||
	    cp == '\f' || cp == '\v' || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static bool
pv_dropped(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfeff ||
	    cp == 0x200b;
}

/* Adds one character; false when t is full. */
static bool
pv_add(struct pv_text *t, const char *s, size_t n)
{
	size_t need = 1 + (t->space && t->chars > 0);

	if (t->chars + need > t->max)
		return false;
	if (need == 2)
		buf_putc(&t->b, ' ');
	buf_append(&t->b, s, n);
	t->chars += need;
	t->space = false;
	return true;
}

static bool
preview_fn(void *ctx, const struct mime_part *p, const char *s, size_t len)
{
	struct preview *pv = ctx;
	struct pv_text *t;
	size_t i = 0;
	uint32_t cp;
	int n;

	if (pv->part != p) {
		/* Only the first part with any text. */
		if (pv->main.chars > 0 || pv->quoted.chars > 0)
			return false;
		pv->part = p;
		pv->line_start = true;
	}
	while (i < len) {
		n = mime_utf8_next((const unsigned char *)s + i, len - i, &cp);
		if (n <= 0) {
			i++;
			continue;
		}
		if (pv->line_start) {
			pv->line_start = false;
			pv->in_quote = cp == '>';
			if (pv->in_quote) {
				i += (size_t)n;
				continue;
			}
		}
		t = pv->in_quote ? &pv->quoted : &pv->main;
		if (cp == '\n') {
			pv->line_start = true;
			t->space = true;
		} else if (pv_blank(cp)) {
			t->space = true;
		} else if (!pv_dropped(cp)) {
			if (!pv_add(t, s + i, (size_t)n) && t == &pv->main)
				return false;
		}
		i += (size_t)n;
	}
	return true;
}

int
mime_preview(const struct mime_part *root, mime_read_fn *rd, void *rctx,
    struct buf *out)
{
	struct preview pv;
	int ret;

	memset(&pv, 0, sizeof(pv));
	buf_init(&pv.main.b);
	buf_init(&pv.quoted.b);
	pv.main.max = MIME_PREVIEW_MAX;
	pv.quoted.max = MIME_PREVIEW_MAX - 1;	/* the '>' */
	ret = mime_text_walk(root, rd, rctx, MIME_WALK_HTML |
	    MIME_WALK_ONE_ALTERNATIVE | MIME_WALK_NO_ATTACHMENTS,
	    MIME_PREVIEW_MAX_READ, preview_fn, &pv);
	if (ret >= 0) {
		if (pv.main.chars > 0) {
			buf_append(out, pv.main.b.data, pv.main.b.len);
		} else if (pv.quoted.chars > 0) {
			buf_putc(out, '>');
			buf_append(out, pv.quoted.b.data, pv.quoted.b.len);
		}
	}
	buf_free(&pv.main.b);
	buf_free(&pv.quoted.b);
	return ret < 0 ? -1 : 0;
}
