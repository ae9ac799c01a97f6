/*
 * mime - streaming RFC 5322 / MIME structure parser (API in mime.h).
 *
 * Design: a byte-driven state machine that only ever looks at line starts.
 * Every line is one of: part of a header block (parsed a byte at a time,
 * values kept up to max_header_field), a body line (skipped with memchr),
 * or a boundary line.  A line is a boundary candidate only when it begins
 * with "--" while some multipart is open; its first max_boundary + 4 bytes
 * are copied into a fixed buffer and, at the LF, compared with the open
 * boundaries through a length + FNV hash filter, so a hostile message costs
 * O(depth) integer compares per "--" line at most.  Nothing is ever
 * rescanned, so time is linear in the input and memory is bounded by the
 * limits plus the retained header values (each capped).
 *
 * Offsets: body_lines temporarily holds the LF count at body start while a
 * part is open; close_part() turns it into the count of LFs in the body.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "mime/mime.h"

#define NAME_MAX_LEN	32	/* longest header name we care about + slack */

enum pstate {
	ST_HEADER,
	ST_BODY,
};

enum hstate {
	H_START,	/* at the start of a header line */
	H_CR,		/* a CR at the start of the line */
	H_NAME,		/* reading the field name */
	H_VALUE,	/* keeping the value */
	H_SKIP,		/* ignoring the rest of the line */
};

enum cstate {
	C_OFF,		/* no multipart open: no candidate */
	C_ON,		/* the line so far may be a boundary line */
	C_DEAD,
};

enum field {
	F_NONE = 0,
	F_CT,
	F_CTE,
	F_CID,
	F_CDESC,
	F_CMD5,
	F_CLOC,
	F_CDISP,
	F_CLANG,
	F_DATE,		/* first envelope field */
	F_SUBJECT,
	F_FROM,
	F_SENDER,
	F_REPLY_TO,
	F_TO,
	F_CC,
	F_BCC,
	F_IN_REPLY_TO,
	F_MESSAGE_ID,
};

static const struct {
	const char	*name;
	enum field	 field;
} field_names[] = {
	{ "content-type", F_CT },
	{ "content-transfer-encoding", F_CTE },
	{ "content-id", F_CID },
	{ "content-description", F_CDESC },
	{ "content-md5", F_CMD5 },
	{ "content-location", F_CLOC },
	{ "content-disposition", F_CDISP },
	{ "content-language", F_CLANG },
	{ "date", F_DATE },
	{ "subject", F_SUBJECT },
	{ "from", F_FROM },
	{ "sender", F_SENDER },
	{ "reply-to", F_REPLY_TO },
	{ "to", F_TO },
	{ "cc", F_CC },
	{ "bcc", F_BCC },
	{ "in-reply-to", F_IN_REPLY_TO },
	{ "message-id", F_MESSAGE_ID },
};

struct boundary {
	char			*str;
	size_t			 len;
	uint32_t		 hash;
	struct mime_part	*owner;
	unsigned		 depth;		/* of owner */
	struct mime_part	**tail;		/* where owner's next child goes */
};

struct mime_parser {
	struct mime_limits	 lim;
	struct mime_part	*root;
	struct mime_part	*cur;		/* innermost open part */
	unsigned		 cur_depth;
	unsigned		 nparts;
	bool			 exhausted;	/* max_parts reached */
	enum pstate		 state;

	uint64_t		 off;		/* offset of the next byte */
	uint64_t		 lf;		/* LFs before off */
	bool			 line_start;	/* next byte begins a line */
	uint64_t		 line_off;	/* where the current line began */
	uint64_t		 line_lf;
	unsigned		 prev_nl;	/* 1 or 2: previous line's break */
	unsigned char		 last;		/* previous byte */

	enum cstate		 cand;
	size_t			 cand_len;
	size_t			 cand_cap;
	char			*cand_buf;

	enum hstate		 hs;
	char			 name[NAME_MAX_LEN];
	size_t			 name_len;
	bool			 name_ws;
	enum field		 field;		/* value being kept, or F_NONE */
	bool			 pending_cr;
	uint32_t		 seen;		/* fields met in this header */
	struct buf		 val;

	struct boundary		*bnd;
	size_t			 nbnd;
	size_t			 bndcap;
};

/*
 * Small lexical helpers shared by the structured-field parsers.
 */

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

static bool
is_token_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !is_tspecial(c);
}

static void
lower_n(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

/* Skip whitespace and (nested) comments; an open comment runs to the end. */
static void
skip_cfws(const char *s, size_t len, size_t *pos)
{
	size_t i = *pos;

	while (i < len) {
		if (is_wsp((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '(') {
			unsigned depth = 1;

			for (i++; i < len && depth > 0; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')')
					depth--;
			}
		} else
			break;
	}
	*pos = i;
}

static size_t
scan_token(const char *s, size_t len, size_t pos)
{
	while (pos < len && is_token_char((unsigned char)s[pos]))
		pos++;
	return pos;
}

/*
 * Quoted string starting at s[*pos] == '"'; appends the unescaped content
 * to out.  An unterminated string runs to the end of the value.
 */
static void
read_quoted(const char *s, size_t len, size_t *pos, struct buf *out)
{
	size_t i = *pos + 1;

	while (i < len && s[i] != '"') {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		buf_putc(out, s[i]);
		i++;
	}
	if (i < len)
		i++;
	*pos = i;
}

/* Skip to the next ';' that is not inside quotes or a comment. */
static void
skip_to_semicolon(const char *s, size_t len, size_t *pos)
{
	size_t i = *pos;

	while (i < len && s[i] != ';') {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\' && i + 1 < len)
					i++;
			if (i < len)
				i++;
		} else if (s[i] == '(') {
			skip_cfws(s, len, &i);
		} else
			i++;
	}
	*pos = i;
}

/*
 * ;name=value parameters (RFC 2045 5.1).  Lenient: garbage between
 * parameters is skipped up to the next ';', a parameter without '=' is
 * dropped, and an unquoted value runs to ';', whitespace or a comment (real
 * mail has unquoted boundaries with '=' in them).  RFC 2231 names such as
 * "filename*0*" are kept as they are.
 */
static struct mime_param *
parse_params(const char *s, size_t len, size_t pos)
{
	struct mime_param *head = NULL, **tail = &head, *p;
	struct buf v = BUF_INIT;
	size_t ns, ne;

	for (;;) {
		skip_cfws(s, len, &pos);
		if (pos >= len)
			break;
		if (s[pos] != ';') {
			skip_to_semicolon(s, len, &pos);
			continue;
		}
		pos++;
		skip_cfws(s, len, &pos);
		ns = pos;
		ne = scan_token(s, len, pos);
		if (ne == ns)
			continue;
		pos = ne;
		skip_cfws(s, len, &pos);
		if (pos >= len || s[pos] != '=')
			continue;
		pos++;
		skip_cfws(s, len, &pos);
		buf_reset(&v);
		if (pos < len && s[pos] == '"') {
			read_quoted(s, len, &pos, &v);
		} else {
			size_t vs = pos;

			while (pos < len && s[pos] != ';' && s[pos] != '(' &&
			    !is_wsp((unsigned char)s[pos]))
				pos++;
			buf_append(&v, s + vs, pos - vs);
		}
		p = xcalloc(1, sizeof(*p));
		p->name = xstrndup(s + ns, ne - ns);
		lower_n(p->name, ne - ns);
		p->value = xstrndup(buf_cstr(&v), strlen(buf_cstr(&v)));
		*tail = p;
		tail = &p->next;
	}
	buf_free(&v);
	return head;
}

static void
params_free(struct mime_param *p)
{
	struct mime_param *next;

	for (; p != NULL; p = next) {
		next = p->next;
		free(p->name);
		free(p->value);
		free(p);
	}
}

/*
 * Content-Type: type "/" subtype *(";" parameter).  Anything that does not
 * start with two tokens around a '/' is malformed and means text/plain
 * (RFC 2045 5.2, Dovecot).
 */
static void
parse_content_type(struct mime_part *part, const char *s, size_t len)
{
	size_t pos = 0, ts, te, ss, se;

	skip_cfws(s, len, &pos);
	ts = pos;
	te = scan_token(s, len, pos);
	pos = te;
	skip_cfws(s, len, &pos);
	if (te == ts || pos >= len || s[pos] != '/')
		goto bad;
	pos++;
	skip_cfws(s, len, &pos);
	ss = pos;
	se = scan_token(s, len, pos);
	if (se == ss)
		goto bad;
	part->type = xstrndup(s + ts, te - ts);
	lower_n(part->type, te - ts);
	part->subtype = xstrndup(s + ss, se - ss);
	lower_n(part->subtype, se - ss);
	part->params = parse_params(s, len, se);
	return;
bad:
	part->type = xstrdup("text");
	part->subtype = xstrdup("plain");
}

/* A single token and nothing else but CFWS, or NULL. */
static char *
parse_lone_token(const char *s, size_t len)
{
	size_t pos = 0, ts, te;

	skip_cfws(s, len, &pos);
	ts = pos;
	te = scan_token(s, len, pos);
	pos = te;
	skip_cfws(s, len, &pos);
	if (te == ts || pos != len)
		return NULL;
	return xstrndup(s + ts, te - ts);
}

/* Content-Disposition: token *(";" parameter); NULL token -> absent. */
static void
parse_disposition(struct mime_part *part, const char *s, size_t len)
{
	size_t pos = 0, ts, te;

	skip_cfws(s, len, &pos);
	ts = pos;
	te = scan_token(s, len, pos);
	if (te == ts)
		return;
	part->disposition = xstrndup(s + ts, te - ts);
	part->disp_params = parse_params(s, len, te);
}

/*
 * Boundary stack.
 */

static uint32_t
fnv_add(uint32_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619U;
	}
	return h;
}

#define FNV_INIT	2166136261U

static void
boundary_push(struct mime_parser *ps, struct mime_part *owner,
    const char *val)
{
	struct boundary *b;
	size_t len = strlen(val);

	/* Trailing whitespace cannot be told from transport padding. */
	while (len > 0 && is_wsp((unsigned char)val[len - 1]))
		len--;
	if (len == 0 || len > ps->lim.max_boundary ||
	    memchr(val, '\r', len) != NULL || memchr(val, '\n', len) != NULL)
		return;
	if (ps->nbnd == ps->bndcap) {
		ps->bndcap = ps->bndcap ? ps->bndcap * 2 : 8;
		ps->bnd = xreallocarray(ps->bnd, ps->bndcap, sizeof(*ps->bnd));
	}
	b = &ps->bnd[ps->nbnd++];
	b->str = xstrndup(val, len);
	b->len = len;
	b->hash = fnv_add(FNV_INIT, val, len);
	b->owner = owner;
	b->depth = ps->cur_depth;
	b->tail = &owner->children;
	owner->flags |= MIME_PART_UNTERMINATED;
}

static void
boundary_pop_to(struct mime_parser *ps, size_t n)
{
	while (ps->nbnd > n)
		free(ps->bnd[--ps->nbnd].str);
}

/*
 * Does the candidate line name an open boundary?  Longest match first
 * (a delimiter "--b" beats a close "--b'--" of a shorter b'), innermost
 * first among equal strings.
 */
static bool
cand_match(struct mime_parser *ps, size_t *idx_r, bool *close_r)
{
	const char *s = ps->cand_buf;
	size_t n = ps->cand_len;
	uint32_t hpre, hfull;
	bool can_close;

	while (n > 2 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r'))
		n--;
	if (n <= 2)
		return false;
	s += 2;
	n -= 2;
	can_close = n >= 3 && s[n - 1] == '-' && s[n - 2] == '-';
	if (n >= 2) {
		hpre = fnv_add(FNV_INIT, s, n - 2);
		hfull = fnv_add(hpre, s + n - 2, 2);
	} else {
		hpre = 0;
		hfull = fnv_add(FNV_INIT, s, n);
	}
	for (size_t i = ps->nbnd; i-- > 0;) {
		const struct boundary *b = &ps->bnd[i];

		if (b->len == n && b->hash == hfull &&
		    memcmp(b->str, s, n) == 0) {
			*idx_r = i;
			*close_r = false;
			return true;
		}
	}
	if (!can_close)
		return false;
	for (size_t i = ps->nbnd; i-- > 0;) {
		const struct boundary *b = &ps->bnd[i];

		if (b->len == n - 2 && b->hash == hpre &&
		    memcmp(b->str, s, n - 2) == 0) {
			*idx_r = i;
			*close_r = true;
			return true;
		}
	}
	return false;
}

/*
 * Parts.
 */

static struct mime_part *
part_new(struct mime_parser *ps, struct mime_part *parent, uint64_t off)
{
	struct mime_part *p = xcalloc(1, sizeof(*p));

	p->parent = parent;
	p->hdr_off = off;
	p->body_off = off;
	if (parent == NULL || mime_part_is_message(parent))
		p->env = xcalloc(1, sizeof(*p->env));
	ps->nparts++;
	if (ps->nparts >= ps->lim.max_parts) {
		/* The stack is dropped at the end of the current line. */
		ps->exhausted = true;
		p->flags |= MIME_PART_TRUNCATED;
	}
	return p;
}

static bool
can_split(const struct mime_parser *ps)
{
	return !ps->exhausted && ps->cur_depth + 1 < ps->lim.max_depth;
}

/* body_lines holds the LF count at body start until the part closes. */
static void
close_part(struct mime_part *p, uint64_t end, uint64_t end_lf)
{
	p->body_len = end - p->body_off;
	p->body_lines = end_lf - p->body_lines;
}

static char **
env_slot(struct mime_envelope *env, enum field f)
{
	switch (f) {
	case F_DATE:		return &env->date;
	case F_SUBJECT:		return &env->subject;
	case F_FROM:		return &env->from;
	case F_SENDER:		return &env->sender;
	case F_REPLY_TO:	return &env->reply_to;
	case F_TO:		return &env->to;
	case F_CC:		return &env->cc;
	case F_BCC:		return &env->bcc;
	case F_IN_REPLY_TO:	return &env->in_reply_to;
	case F_MESSAGE_ID:	return &env->message_id;
	default:		return NULL;
	}
}

/* Store the value of the header that just ended. */
static void
header_commit(struct mime_parser *ps)
{
	struct mime_part *p = ps->cur;
	const char *v;
	size_t len;
	char **slot = NULL;

	if (ps->field == F_NONE)
		return;
	v = buf_cstr(&ps->val);
	len = ps->val.len;
	while (len > 0 && is_wsp((unsigned char)v[len - 1]))
		len--;
	switch (ps->field) {
	case F_CT:
		parse_content_type(p, v, len);
		break;
	case F_CTE:
		p->encoding = parse_lone_token(v, len);
		break;
	case F_CDISP:
		parse_disposition(p, v, len);
		break;
	case F_CID:
		slot = &p->id;
		break;
	case F_CDESC:
		slot = &p->description;
		break;
	case F_CMD5:
		slot = &p->md5;
		break;
	case F_CLOC:
		slot = &p->location;
		break;
	case F_CLANG:
		slot = &p->language;
		break;
	default:
		slot = env_slot(p->env, ps->field);
		break;
	}
	if (slot != NULL && *slot == NULL)
		*slot = xstrndup(v, len);
	ps->field = F_NONE;
	buf_reset(&ps->val);
}

static void
name_done(struct mime_parser *ps)
{
	enum field f = F_NONE;

	for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]);
	    i++) {
		if (strlen(field_names[i].name) == ps->name_len &&
		    memcmp(field_names[i].name, ps->name, ps->name_len) == 0) {
			f = field_names[i].field;
			break;
		}
	}
	if (f == F_NONE || (ps->seen & (1U << f)) != 0 ||
	    (f >= F_DATE && ps->cur->env == NULL)) {
		ps->hs = H_SKIP;
		return;
	}
	ps->seen |= 1U << f;
	ps->field = f;
	ps->pending_cr = false;
	buf_reset(&ps->val);
	ps->hs = H_VALUE;
}

static void
value_put(struct mime_parser *ps, char c)
{
	if (ps->val.len >= ps->lim.max_header_field) {
		/* Keep what we have; skip the rest without buffering. */
		ps->cur->flags |= MIME_PART_HDR_TRUNCATED;
		ps->hs = H_SKIP;
		return;
	}
	buf_putc(&ps->val, c);
}

static void
value_byte(struct mime_parser *ps, unsigned char c)
{
	if (ps->pending_cr) {
		/* A CR that was not part of a line break. */
		ps->pending_cr = false;
		value_put(ps, '\r');
		if (ps->hs != H_VALUE)
			return;
	}
	if (c == '\r') {
		ps->pending_cr = true;
		return;
	}
	if (c == '\0')
		return;
	if (ps->val.len == 0 && (c == ' ' || c == '\t'))
		return;
	value_put(ps, (char)c);
}

static void
header_byte(struct mime_parser *ps, unsigned char c)
{
	switch (ps->hs) {
	case H_START:
		if (c == '\r') {
			ps->hs = H_CR;
			return;
		}
		if (c == ' ' || c == '\t') {
			/* Folded continuation of the previous field. */
			if (ps->field != F_NONE &&
			    ps->val.len < ps->lim.max_header_field) {
				ps->hs = H_VALUE;
				value_byte(ps, c);
			} else
				ps->hs = H_SKIP;
			return;
		}
		header_commit(ps);
		ps->name_len = 0;
		ps->name_ws = false;
		ps->hs = H_NAME;
		/* FALLTHROUGH */
	case H_NAME:
		if (c == ':') {
			name_done(ps);
		} else if (c == ' ' || c == '\t') {
			ps->name_ws = true;
		} else if (ps->name_ws || ps->name_len >= sizeof(ps->name)) {
			/* Not a name we keep: no known name has spaces. */
			ps->hs = H_SKIP;
		} else {
			ps->name[ps->name_len++] = (c >= 'A' && c <= 'Z') ?
			    (char)(c - 'A' + 'a') : (char)c;
		}
		return;
	case H_CR:
		/* A lone CR starting a line: garbage, ignore the line. */
		header_commit(ps);
		ps->hs = H_SKIP;
		return;
	case H_VALUE:
		value_byte(ps, c);
		return;
	case H_SKIP:
		return;
	}
}

/*
 * The header of ps->cur ended at body_off (after its empty line, or where a
 * boundary line or the end of input cut it short).  Decide the content type
 * and what the body holds.
 */
static void
header_done(struct mime_parser *ps, uint64_t body_off, uint64_t body_lf)
{
	struct mime_part *p = ps->cur, *c;
	const char *bval;

	header_commit(ps);
	ps->seen = 0;
	ps->pending_cr = false;
	p->hdr_len = body_off - p->hdr_off;
	p->body_off = body_off;
	p->body_lines = body_lf;
	ps->state = ST_BODY;

	if (p->type == NULL) {
		const struct mime_part *par = p->parent;

		if (par != NULL && strcmp(par->type, "multipart") == 0 &&
		    strcmp(par->subtype, "digest") == 0) {
			p->type = xstrdup("message");
			p->subtype = xstrdup("rfc822");
		} else {
			p->type = xstrdup("text");
			p->subtype = xstrdup("plain");
		}
	}

	if (mime_part_is_multipart(p)) {
		if (!can_split(ps))
			p->flags |= MIME_PART_TRUNCATED;
		else if ((bval = mime_param_get(p->params, "boundary")) != NULL)
			boundary_push(ps, p, bval);
	} else if (mime_part_is_message(p)) {
		if (!can_split(ps)) {
			p->flags |= MIME_PART_TRUNCATED;
		} else {
			c = part_new(ps, p, body_off);
			c->body_lines = body_lf;
			p->children = c;
			ps->cur = c;
			ps->cur_depth++;
			ps->state = ST_HEADER;
			ps->hs = H_START;
		}
	}
}

/*
 * A boundary line of ps->bnd[idx] began at ps->line_off.  The innermost
 * open part ends before the line break preceding it (unless it is empty);
 * every part up to the boundary's owner ends there too.
 */
static void
boundary_event(struct mime_parser *ps, size_t idx, bool close, bool has_lf)
{
	struct mime_part *owner = ps->bnd[idx].owner, *p, *c;
	uint64_t start, end, end_lf;

	PH_ASSERT(owner != NULL);	/* the multipart that declared it */
	start = ps->state == ST_HEADER ? ps->cur->hdr_off : ps->cur->body_off;
	if (ps->line_off > start) {
		end = ps->line_off - ps->prev_nl;
		end_lf = ps->line_lf - 1;
	} else {
		end = ps->line_off;
		end_lf = ps->line_lf;
	}
	/* A header cut short; a message/rfc822 gets an empty child. */
	while (ps->state == ST_HEADER)
		header_done(ps, end, end_lf);
	for (p = ps->cur; p != owner; p = p->parent) {
		PH_ASSERT(p != NULL);
		close_part(p, end, end_lf);
	}
	/* Inner boundaries that never closed are forgotten. */
	boundary_pop_to(ps, idx + 1);
	ps->cur = owner;
	ps->cur_depth = ps->bnd[idx].depth;
	ps->state = ST_BODY;
	if (close) {
		owner->flags &= ~MIME_PART_UNTERMINATED;
		boundary_pop_to(ps, idx);
	} else if (has_lf && ps->exhausted) {
		/*
		 * Closing the header above may have created the last part
		 * allowed: the rest is body of the owner, like every
		 * boundary once the limit is reached.
		 */
		owner->flags |= MIME_PART_TRUNCATED;
		boundary_pop_to(ps, 0);
	} else if (has_lf) {
		struct mime_part **tail = ps->bnd[idx].tail;

		c = part_new(ps, owner, ps->off);
		*tail = c;
		ps->bnd[idx].tail = &c->next;
		ps->cur = c;
		ps->cur_depth++;
		ps->state = ST_HEADER;
		ps->hs = H_START;
	}
}

static void
line_begin(struct mime_parser *ps)
{
	ps->line_start = false;
	ps->line_off = ps->off;
	ps->line_lf = ps->lf;
	ps->cand = ps->nbnd > 0 ? C_ON : C_OFF;
	ps->cand_len = 0;
	ps->hs = H_START;
}

static void
cand_byte(struct mime_parser *ps, unsigned char c)
{
	if (ps->cand_len < 2) {
		if (c != '-') {
			ps->cand = C_DEAD;
			return;
		}
	} else if (ps->cand_len >= ps->cand_cap) {
		/* Only transport padding may follow what we kept. */
		if (c != ' ' && c != '\t' && c != '\r')
			ps->cand = C_DEAD;
		return;
	}
	ps->cand_buf[ps->cand_len++] = (char)c;
}

/* End of the current line; nl is its break length (0: end of input). */
static void
line_end(struct mime_parser *ps, unsigned nl)
{
	size_t idx;
	bool close;

	if (ps->cand == C_ON && cand_match(ps, &idx, &close)) {
		boundary_event(ps, idx, close, nl > 0);
	} else if (ps->state == ST_HEADER && nl > 0) {
		switch (ps->hs) {
		case H_START:
		case H_CR:
			/* The empty line: body starts at the next line. */
			header_done(ps, ps->off, ps->lf);
			break;
		case H_VALUE:
			ps->pending_cr = false;
			break;
		case H_NAME:	/* a line without a colon: ignored */
		case H_SKIP:
			break;
		}
	}
	if (ps->exhausted && ps->nbnd > 0)
		boundary_pop_to(ps, 0);
	ps->cand = C_OFF;
	ps->prev_nl = nl;
	ps->line_start = true;
}

struct mime_parser *
mime_parser_create(const struct mime_limits *lim)
{
	static const struct mime_limits defaults = MIME_LIMITS_DEFAULT;
	struct mime_parser *ps = xcalloc(1, sizeof(*ps));

	ps->lim = lim != NULL ? *lim : defaults;
	if (ps->lim.max_depth == 0)
		ps->lim.max_depth = defaults.max_depth;
	if (ps->lim.max_depth > MIME_DEPTH_HARD_MAX)
		ps->lim.max_depth = MIME_DEPTH_HARD_MAX;
	if (ps->lim.max_parts == 0)
		ps->lim.max_parts = defaults.max_parts;
	if (ps->lim.max_parts > MIME_PARTS_HARD_MAX)
		ps->lim.max_parts = MIME_PARTS_HARD_MAX;
	if (ps->lim.max_header_field == 0)
		ps->lim.max_header_field = defaults.max_header_field;
	if (ps->lim.max_boundary == 0)
		ps->lim.max_boundary = defaults.max_boundary;
	if (ps->lim.max_boundary > 65536)
		ps->lim.max_boundary = 65536;

	ps->cand_cap = ps->lim.max_boundary + 4;
	ps->cand_buf = xmalloc(ps->cand_cap);
	ps->state = ST_HEADER;
	ps->hs = H_START;
	ps->line_start = true;
	ps->prev_nl = 1;
	buf_init(&ps->val);
	ps->root = ps->cur = part_new(ps, NULL, 0);
	return ps;
}

void
mime_parser_feed(struct mime_parser *ps, const void *data, size_t len)
{
	const unsigned char *p = data, *end, *nl;
	unsigned char c;

	if (len == 0)
		return;
	end = p + len;
	while (p < end) {
		if (ps->line_start)
			line_begin(ps);
		if (ps->cand != C_ON &&
		    (ps->state == ST_BODY || ps->hs == H_SKIP)) {
			/* Nothing to look at before the LF. */
			nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL) {
				ps->off += (uint64_t)(end - p);
				ps->last = end[-1];
				return;
			}
			if (nl > p) {
				ps->off += (uint64_t)(nl - p);
				ps->last = nl[-1];
				p = nl;
			}
		}
		c = *p++;
		if (c == '\n') {
			unsigned brk = ps->last == '\r' &&
			    ps->off > ps->line_off ? 2 : 1;

			ps->off++;
			ps->lf++;
			ps->last = c;
			line_end(ps, brk);
			continue;
		}
		if (ps->cand == C_ON)
			cand_byte(ps, c);
		if (ps->state == ST_HEADER)
			header_byte(ps, c);
		ps->off++;
		ps->last = c;
	}
}

struct mime_part *
mime_parser_finish(struct mime_parser **pp)
{
	struct mime_parser *ps = *pp;
	struct mime_part *root, *p;

	*pp = NULL;
	if (!ps->line_start)
		line_end(ps, 0);	/* last line without a break */
	while (ps->state == ST_HEADER)
		header_done(ps, ps->off, ps->lf);
	for (p = ps->cur; p != NULL; p = p->parent)
		close_part(p, ps->off, ps->lf);
	root = ps->root;
	boundary_pop_to(ps, 0);
	free(ps->bnd);
	free(ps->cand_buf);
	buf_free(&ps->val);
	free(ps);
	return root;
}

struct mime_part *
mime_parse(const void *data, size_t len, const struct mime_limits *lim)
{
	struct mime_parser *ps = mime_parser_create(lim);

	mime_parser_feed(ps, data, len);
	return mime_parser_finish(&ps);
}

static void
env_free(struct mime_envelope *env)
{
	if (env == NULL)
		return;
	free(env->date);
	free(env->subject);
	free(env->from);
	free(env->sender);
	free(env->reply_to);
	free(env->to);
	free(env->cc);
	free(env->bcc);
	free(env->in_reply_to);
	free(env->message_id);
	free(env);
}

static void
part_free_one(struct mime_part *p)
{
	free(p->type);
	free(p->subtype);
	params_free(p->params);
	free(p->encoding);
	free(p->id);
	free(p->description);
	free(p->md5);
	free(p->location);
	free(p->disposition);
	params_free(p->disp_params);
	free(p->language);
	env_free(p->env);
	free(p);
}

/* Post-order walk through parent links: no recursion, any depth. */
void
mime_part_free(struct mime_part **pp)
{
	struct mime_part *start = *pp, *p, *next;

	*pp = NULL;
	if (start == NULL)
		return;
	PH_ASSERT(start->parent == NULL);
	p = start;
	for (;;) {
		if (p->children != NULL) {
			next = p->children;
			p->children = NULL;
			p = next;
			continue;
		}
		if (p == start) {
			part_free_one(p);
			return;
		}
		next = p->next != NULL ? p->next : p->parent;
		part_free_one(p);
		p = next;
	}
}

uint64_t
mime_part_total_size(const struct mime_part *p)
{
	return p->hdr_len + p->body_len;
}

bool
mime_part_is_multipart(const struct mime_part *p)
{
	return p->type != NULL && strcmp(p->type, "multipart") == 0;
}

bool
mime_part_is_message(const struct mime_part *p)
{
	return p->type != NULL && strcmp(p->type, "message") == 0 &&
	    p->subtype != NULL && (strcmp(p->subtype, "rfc822") == 0 ||
	    strcmp(p->subtype, "global") == 0);
}

size_t
mime_part_count(const struct mime_part *root)
{
	const struct mime_part *p = root;
	size_t n = 0;

	while (p != NULL) {
		n++;
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != root && p->next == NULL)
			p = p->parent;
		if (p == root)
			break;
		p = p->next;
	}
	return n;
}

void
mime_part_shift(struct mime_part *root, uint64_t delta)
{
	struct mime_part *p = root;

	root->hdr_len += delta;
	root->body_off += delta;
	for (p = root->children; p != NULL && p != root;) {
		p->hdr_off += delta;
		p->body_off += delta;
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != root && p->next == NULL)
			p = p->parent;
		if (p == root)
			break;
		p = p->next;
	}
}

const char *
mime_param_get(const struct mime_param *p, const char *name)
{
	for (; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p->value;
	return NULL;
}

const struct mime_part *
mime_part_find(const struct mime_part *root, const unsigned *section,
    size_t n)
{
	const struct mime_part *p = root;

	for (size_t i = 0; i < n && p != NULL; i++) {
		unsigned idx = section[i];

		if (idx == 0)
			return NULL;
		/*
		 * The root is the message itself, not a part that
		 * encapsulates one: a top-level message/rfc822 has part 1
		 * (its body, the whole encapsulated message), and only 1.N
		 * looks inside (RFC 3501 6.4.5, as Dovecot does).
		 */
		if (i > 0 && mime_part_is_message(p) && p->children != NULL)
			p = p->children;	/* into the encapsulated message */
		if (mime_part_is_multipart(p)) {
			p = p->children;
			while (p != NULL && --idx > 0)
				p = p->next;
		} else if (idx != 1)
			return NULL;
	}
	return p;
}
