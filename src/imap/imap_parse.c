/*
 * imap_parse - IMAP command and FETCH attribute parsing.  See imap_parse.h
 * for the API and the grammar accepted.
 *
 * Memory: one string arena per command, sized from the input.  Every string
 * token is followed by a separator or the end of input, or shrinks when
 * stored (quotes, escapes and literal prefixes are dropped), so the stored
 * bytes plus a NUL each never exceed len + 1; store() asserts it.  Lists
 * are built on an explicit stack (no recursion, whatever max_list_depth a
 * caller sets) and every finished array is recorded in allocs[], so
 * freeing is a flat loop.
 *
 * Threats handled here: nesting bombs (depth and argument count limits
 * checked before anything is stored), literal sizes that overflow (digit
 * by digit against IMAP_LITERAL_MAX), a framed buffer shorter than a
 * literal claims (checked, never read past len), NUL in strings that will
 * be used as C strings, and CR/LF smuggled outside literals.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "imap/imap_parse.h"

/* ---- framing helper ---- */

int
imap_literal_at_eol(const char *line, size_t len, uint64_t *size_r,
    bool *nonsync_r, bool *binary_r)
{
	size_t open, i, end;
	uint64_t v = 0;
	bool nonsync = false;

	if (len == 0 || line[len - 1] != '}')
		return 0;
	end = len - 1;
	/*
	 * Walk back over digits, '+' and '-' only: anything else before
	 * the '{' means this is not an attempted literal marker.
	 */
	for (open = end; open > 0; open--) {
		char c = line[open - 1];

		if (c == '{')
			break;
		if (!((c >= '0' && c <= '9') || c == '+' || c == '-'))
			return 0;
	}
	if (open == 0)
		return 0;
	open--;
	i = open + 1;
	if (i == end)
		return -1;
	if (line[end - 1] == '+') {
		nonsync = true;
		end--;
	}
	if (i == end)
		return -1;
	for (; i < end; i++) {
		char c = line[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (uint64_t)(c - '0');
		if (v > IMAP_LITERAL_MAX)
			return -1;
	}
	*size_r = v;
	*nonsync_r = nonsync;
	*binary_r = open > 0 && line[open - 1] == '~';
	return 1;
}

/* ---- character classes ---- */

/* ATOM-CHAR: CHAR except atom-specials. */
static bool
is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR except "+" (RFC 9051 tag). */
static bool
is_tag_char(unsigned char c)
{
	return c != '+' && (is_atom_char(c) || c == ']');
}

/* Argument atoms: also "]", "%", "*", "\"; "[" is handled separately. */
static bool
is_arg_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"' && c != '[';
}

/* ---- command parser ---- */

struct frame {
	struct imap_arg	*v;
	size_t		 n;
	size_t		 cap;
};

struct parser {
	const char		*s;
	size_t			 len;
	size_t			 pos;
	struct imap_cmd_args	*out;
	size_t			 outpos;
	size_t			 outcap;
	struct imap_parse_limits lim;
	size_t			 nargs;
	struct frame		*frames;
	size_t			 nframes;	/* allocated */
	size_t			 depth;
	const char		*error;
};

void
imap_parse_limits_default(struct imap_parse_limits *lim)
{
	lim->max_list_depth = IMAP_PARSE_DEFAULT_MAX_DEPTH;
	lim->max_args = IMAP_PARSE_DEFAULT_MAX_ARGS;
}

static void
keep_alloc(struct imap_cmd_args *out, void *p)
{
	size_t n = out->nallocs;

	/* Capacity doubles whenever the count reaches a power of two. */
	if ((n & (n - 1)) == 0)
		out->allocs = xreallocarray(out->allocs, n == 0 ? 1 : n * 2,
		    sizeof(*out->allocs));
	out->allocs[n] = p;
	out->nallocs = n + 1;
}

/* Reserve n bytes + NUL in the arena. */
static char *
store_reserve(struct parser *p, size_t n)
{
	char *dst;

	PH_ASSERT(n < p->outcap && p->outpos <= p->outcap - n - 1);
	dst = p->out->strbuf + p->outpos;
	dst[n] = '\0';
	p->outpos += n + 1;
	return dst;
}

static const char *
store(struct parser *p, const char *src, size_t n)
{
	char *dst = store_reserve(p, n);

	if (n > 0)
		memcpy(dst, src, n);
	return dst;
}

static int
fail(struct parser *p, const char *msg)
{
	p->error = msg;
	return -1;
}

static void
frame_push_arg(struct frame *f, const struct imap_arg *a)
{
	/* Keep one slot spare for the EOL terminator. */
	if (f->n + 1 >= f->cap) {
		f->cap = f->cap == 0 ? 8 : f->cap * 2;
		f->v = xreallocarray(f->v, f->cap, sizeof(*f->v));
	}
	f->v[f->n++] = *a;
}

/* Terminate a frame's array, hand it to out and reset the frame. */
static struct imap_arg *
frame_finish(struct parser *p, struct frame *f, size_t *count_r)
{
	struct imap_arg *v;

	if (f->v == NULL) {
		f->cap = 1;
		f->v = xcalloc(1, sizeof(*f->v));
	}
	v = f->v;
	memset(&v[f->n], 0, sizeof(v[f->n]));
	v[f->n].type = IMAP_ARG_EOL;
	*count_r = f->n;
	keep_alloc(p->out, v);
	f->v = NULL;
	f->n = 0;
	f->cap = 0;
	return v;
}

/* After a token: a space, ")" or the end must follow. */
static int
check_sep(struct parser *p, const char *msg)
{
	if (p->pos < p->len && p->s[p->pos] != ' ' && p->s[p->pos] != ')')
		return fail(p, msg);
	return 0;
}

static int
parse_quoted(struct parser *p, struct imap_arg *a)
{
	const char *s = p->s;
	size_t i = p->pos + 1, n = 0, k;
	char *dst;

	for (;;) {
		unsigned char c;

		if (i >= p->len)
			return fail(p, "Missing '\"'");
		c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= p->len)
				return fail(p, "Missing '\"'");
			if (s[i + 1] != '"' && s[i + 1] != '\\')
				return fail(p, "Invalid escape in quoted "
				    "string");
			i += 2;
		} else if (c == '\r' || c == '\n' || c == '\0') {
			return fail(p, "Invalid characters in quoted string");
		} else
			i++;
		n++;
	}
	dst = store_reserve(p, n);
	k = 0;
	for (size_t j = p->pos + 1; j < i; j++) {
		if (s[j] == '\\')
			j++;
		dst[k++] = s[j];
	}
	a->type = IMAP_ARG_QUOTED;
	a->str = dst;
	a->len = n;
	p->pos = i + 1;
	return check_sep(p, "Missing space after quoted string");
}

static int
parse_literal(struct parser *p, struct imap_arg *a)
{
	const char *s = p->s;
	size_t i = p->pos;
	uint64_t v = 0;
	bool binary = false, nonsync = false, any = false;

	if (s[i] == '~') {
		binary = true;
		i++;
	}
	i++;		/* '{' */
	while (i < p->len && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > IMAP_LITERAL_MAX)
			return fail(p, "Literal size too large");
		any = true;
		i++;
	}
	if (!any)
		return fail(p, "Invalid literal size");
	if (i < p->len && s[i] == '+') {
		nonsync = true;
		i++;
	}
	if (i >= p->len || s[i] != '}')
		return fail(p, "Invalid literal size");
	i++;
	if (i < p->len && s[i] == '\r')
		i++;
	if (i >= p->len || s[i] != '\n')
		return fail(p, "Missing CRLF after literal size");
	i++;
	if (v > p->len - i)
		return fail(p, "Literal data missing");
	if (!binary && memchr(s + i, '\0', (size_t)v) != NULL)
		return fail(p, "NUL in literal (use literal8)");
	a->type = IMAP_ARG_LITERAL;
	a->str = store(p, s + i, (size_t)v);
	a->len = (size_t)v;
	a->literal8 = binary;
	a->nonsync = nonsync;
	p->pos = i + (size_t)v;
	return check_sep(p, "Missing space after literal");
}

/* A quoted string inside a [section]: skip it, checking its bytes. */
static int
skip_section_quoted(struct parser *p)
{
	p->pos++;
	for (;;) {
		unsigned char c;

		if (p->pos >= p->len)
			return fail(p, "Missing '\"'");
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			return 0;
		}
		if (c == '\\') {
			if (p->pos + 1 >= p->len)
				return fail(p, "Missing '\"'");
			p->pos++;
			c = (unsigned char)p->s[p->pos];
		}
		if (c < 0x20 || c >= 0x7f)
			return fail(p, "Invalid characters in section");
		p->pos++;
	}
}

/*
 * Does the atom so far name a fetch item with a section (BODY[...],
 * BINARY.PEEK[...])?  Only those run across spaces to their "]"; in any
 * other atom "[" is an ordinary character (RFC 9051 ASTRING-CHAR).
 */
static bool
section_prefix(const char *s, size_t len)
{
	static const char *const names[] = {
		"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], s,
		    len) == 0)
			return true;
	return false;
}

static int
parse_atom(struct parser *p, struct imap_arg *a)
{
	size_t start = p->pos;

	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c == '[' && !section_prefix(p->s + start,
		    p->pos - start)) {
			p->pos++;
			continue;
		}
		if (c == '[') {
			/* Fetch section: runs to the matching "]". */
			p->pos++;
			for (;;) {
				if (p->pos >= p->len)
					return fail(p, "Missing ']'");
				c = (unsigned char)p->s[p->pos];
				if (c == ']') {
					p->pos++;
					break;
				}
				if (c == '"') {
					if (skip_section_quoted(p) < 0)
						return -1;
					continue;
				}
				if (c == '[')
					return fail(p, "Nested '[' in atom");
				if (c < 0x20 || c >= 0x7f)
					return fail(p, "Invalid characters in "
					    "section");
				p->pos++;
			}
			continue;
		}
		if (!is_arg_atom_char(c))
			break;
		p->pos++;
	}
	if (p->pos == start)
		return fail(p, "Invalid characters in atom");
	a->str = store(p, p->s + start, p->pos - start);
	a->len = p->pos - start;
	a->type = a->len == 3 && strncasecmp(a->str, "NIL", 3) == 0 ?
	    IMAP_ARG_NIL : IMAP_ARG_ATOM;
	return check_sep(p, "Invalid characters in atom");
}

static struct frame *
cur_frame(struct parser *p)
{
	return &p->frames[p->depth];
}

static int
open_list(struct parser *p)
{
	if (p->depth >= p->lim.max_list_depth)
		return fail(p, "Too deeply nested lists");
	if (p->depth + 1 >= p->nframes) {
		size_t n = p->nframes * 2;

		p->frames = xreallocarray(p->frames, n, sizeof(*p->frames));
		memset(p->frames + p->nframes, 0,
		    (n - p->nframes) * sizeof(*p->frames));
		p->nframes = n;
	}
	p->depth++;
	p->pos++;
	return 0;
}

static int
close_list(struct parser *p)
{
	struct imap_arg a;

	if (p->depth == 0)
		return fail(p, "Unexpected ')'");
	memset(&a, 0, sizeof(a));
	a.type = IMAP_ARG_LIST;
	a.list = frame_finish(p, cur_frame(p), &a.list_count);
	p->depth--;
	frame_push_arg(cur_frame(p), &a);
	p->pos++;
	return check_sep(p, "Missing space after ')'");
}

static int
parse_args(struct parser *p)
{
	for (;;) {
		struct imap_arg a;
		unsigned char c;
		int r;

		while (p->pos < p->len && p->s[p->pos] == ' ')
			p->pos++;
		if (p->pos == p->len) {
			if (p->depth > 0)
				return fail(p, "Missing ')'");
			return 0;
		}
		c = (unsigned char)p->s[p->pos];
		if (c == ')') {
			if (close_list(p) < 0)
				return -1;
			continue;
		}
		if (p->nargs >= p->lim.max_args)
			return fail(p, "Too many arguments");
		p->nargs++;
		if (c == '(') {
			if (open_list(p) < 0)
				return -1;
			continue;
		}
		memset(&a, 0, sizeof(a));
		if (c == '"')
			r = parse_quoted(p, &a);
		else if (c == '{' || (c == '~' && p->pos + 1 < p->len &&
		    p->s[p->pos + 1] == '{'))
			r = parse_literal(p, &a);
		else
			r = parse_atom(p, &a);
		if (r < 0)
			return -1;
		frame_push_arg(cur_frame(p), &a);
	}
}

static char *
upper_dup(const char *s, size_t n)
{
	char *d = xstrndup(s, n);

	for (size_t i = 0; i < n; i++)
		if (d[i] >= 'a' && d[i] <= 'z')
			d[i] = (char)(d[i] - 'a' + 'A');
	return d;
}

/* Command name at s[*i]: ATOM-CHARs up to SP or the end. */
static int
read_name(struct parser *p, size_t *i, size_t *n_r)
{
	size_t j = *i;

	while (j < p->len && is_atom_char((unsigned char)p->s[j]))
		j++;
	if (j == *i)
		return fail(p, "Missing command name");
	if (j < p->len && p->s[j] != ' ')
		return fail(p, "Invalid characters in command name");
	*n_r = j - *i;
	return 0;
}

static void
parser_cleanup(struct parser *p)
{
	for (size_t i = 0; i < p->nframes; i++)
		free(p->frames[i].v);
	free(p->frames);
	p->frames = NULL;
	p->nframes = 0;
}

static void
free_body(struct imap_cmd_args *out)
{
	for (size_t i = 0; i < out->nallocs; i++)
		free(out->allocs[i]);
	free(out->allocs);
	free(out->strbuf);
	out->allocs = NULL;
	out->nallocs = 0;
	out->strbuf = NULL;
	out->args = NULL;
	out->count = 0;
}

void
imap_cmd_args_free(struct imap_cmd_args *out)
{
	free_body(out);
	free(out->tag);
	free(out->name);
	free(out->full_name);
	memset(out, 0, sizeof(*out));
}

static int
parse_head(struct parser *p)
{
	const char *s = p->s;
	struct imap_cmd_args *out = p->out;
	size_t i = 0, n;

	while (i < p->len && is_tag_char((unsigned char)s[i]))
		i++;
	if (i == 0)
		return fail(p, p->len == 0 ? "Empty command" : "Invalid tag");
	if (i < p->len && s[i] != ' ')
		return fail(p, "Invalid characters in tag");
	out->tag = xstrndup(s, i);
	if (i == p->len)
		return fail(p, "Missing command name");
	i++;
	if (read_name(p, &i, &n) < 0)
		return -1;
	out->name = upper_dup(s + i, n);
	i += n;
	if (strcmp(out->name, "UID") == 0) {
		if (i == p->len)
			return fail(p, "Missing command after UID");
		i++;
		if (read_name(p, &i, &n) < 0)
			return -1;
		free(out->name);
		out->name = upper_dup(s + i, n);
		out->uid = true;
		i += n;
		out->full_name = xasprintf("UID %s", out->name);
	} else
		out->full_name = xstrdup(out->name);
	p->pos = i;
	return 0;
}

int
imap_parse_command(const char *buf, size_t len,
    const struct imap_parse_limits *limits, struct imap_cmd_args *out,
    const char **error_r)
{
	struct parser p;
	size_t count;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.s = buf;
	p.len = len;
	p.out = out;
	if (limits != NULL)
		p.lim = *limits;
	else
		imap_parse_limits_default(&p.lim);
	if (parse_head(&p) < 0) {
		*error_r = p.error;
		return -1;
	}
	p.outcap = len + 1;
	out->strbuf = xmalloc(p.outcap);
	p.nframes = 4;
	p.frames = xcalloc(p.nframes, sizeof(*p.frames));
	if (parse_args(&p) < 0) {
		parser_cleanup(&p);
		free_body(out);
		*error_r = p.error;
		return -1;
	}
	out->args = frame_finish(&p, &p.frames[0], &count);
	out->count = count;
	parser_cleanup(&p);
	return 0;
}

/* ---- argument helpers ---- */

bool
imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED ||
	    a->type == IMAP_ARG_LITERAL;
}

bool
imap_arg_atom_eq(const struct imap_arg *a, const char *name)
{
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return false;
	return ascii_strcaseeq_n(a->str, a->len, name);
}

const char *
imap_arg_astring(const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
	case IMAP_ARG_QUOTED:
		return a->str;
	case IMAP_ARG_LITERAL:
		if (a->literal8 || memchr(a->str, '\0', a->len) != NULL)
			return NULL;
		return a->str;
	default:
		return NULL;
	}
}

const char *
imap_arg_string(const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL)
		return NULL;
	return imap_arg_astring(a);
}

bool
imap_arg_nstring(const struct imap_arg *a, const char **str_r)
{
	if (a->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		return true;
	}
	if ((*str_r = imap_arg_string(a)) == NULL)
		return false;
	return true;
}

const struct imap_arg *
imap_arg_list(const struct imap_arg *a, size_t *count_r)
{
	if (a->type != IMAP_ARG_LIST)
		return NULL;
	*count_r = a->list_count;
	return a->list;
}

/* ---- FETCH attributes ---- */

static const struct {
	const char		*name;
	enum imap_fetch_type	 type;
} fetch_plain[] = {
	{ "ALL", IMAP_FETCH_MACRO_ALL },
	{ "FAST", IMAP_FETCH_MACRO_FAST },
	{ "FULL", IMAP_FETCH_MACRO_FULL },
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "UID", IMAP_FETCH_UID },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
	{ "EMAILID", IMAP_FETCH_EMAILID },
	{ "THREADID", IMAP_FETCH_THREADID },
	{ "PREVIEW", IMAP_FETCH_PREVIEW },
};

static bool
is_macro(enum imap_fetch_type t)
{
	return t == IMAP_FETCH_MACRO_ALL || t == IMAP_FETCH_MACRO_FAST ||
	    t == IMAP_FETCH_MACRO_FULL;
}

size_t
imap_fetch_macro_expand(enum imap_fetch_type t, enum imap_fetch_type out[5])
{
	size_t n = 0;

	if (!is_macro(t))
		return 0;
	out[n++] = IMAP_FETCH_FLAGS;
	out[n++] = IMAP_FETCH_INTERNALDATE;
	out[n++] = IMAP_FETCH_RFC822_SIZE;
	if (t == IMAP_FETCH_MACRO_FAST)
		return n;
	out[n++] = IMAP_FETCH_ENVELOPE;
	if (t == IMAP_FETCH_MACRO_FULL)
		out[n++] = IMAP_FETCH_BODY;
	return n;
}

void
imap_fetch_att_free(struct imap_fetch_att *att)
{
	for (size_t i = 0; i < att->field_count; i++)
		free(att->fields[i]);
	free(att->fields);
	free(att->parts);
	free(att->section);
	memset(att, 0, sizeof(*att));
}

struct sect {
	const char	*s;
	size_t		 len;
	size_t		 pos;
};

static bool
sect_keyword(struct sect *x, const char *kw)
{
	size_t n = strlen(kw);

	if (x->len - x->pos < n || strncasecmp(x->s + x->pos, kw, n) != 0)
		return false;
	/* The keyword must end here, at a SP or at the end. */
	if (x->pos + n < x->len && x->s[x->pos + n] != ' ')
		return false;
	x->pos += n;
	return true;
}

static bool
is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static void
add_field(struct imap_fetch_att *att, char *name)
{
	size_t n = att->field_count;

	/* Capacity doubles whenever the count reaches a power of two. */
	if ((n & (n - 1)) == 0)
		att->fields = xreallocarray(att->fields, n == 0 ? 1 : n * 2,
		    sizeof(*att->fields));
	att->fields[n] = name;
	att->field_count = n + 1;
}

/* SP "(" header-fld-name *(SP header-fld-name) ")" at the section's end. */
static int
parse_header_list(struct sect *x, struct imap_fetch_att *att,
    const char **error_r)
{
	if (x->pos >= x->len || x->s[x->pos] != ' ')
		goto bad;
	while (x->pos < x->len && x->s[x->pos] == ' ')
		x->pos++;
	if (x->pos >= x->len || x->s[x->pos] != '(')
		goto bad;
	x->pos++;
	for (;;) {
		struct buf name = BUF_INIT;

		while (x->pos < x->len && x->s[x->pos] == ' ')
			x->pos++;
		if (x->pos >= x->len)
			goto bad;
		if (x->s[x->pos] == ')') {
			x->pos++;
			break;
		}
		if (x->s[x->pos] == '"') {
			x->pos++;
			while (x->pos < x->len && x->s[x->pos] != '"') {
				if (x->s[x->pos] == '\\')
					x->pos++;
				if (x->pos >= x->len)
					break;
				buf_putc(&name, x->s[x->pos]);
				x->pos++;
			}
			if (x->pos >= x->len) {
				buf_free(&name);
				goto bad;
			}
			x->pos++;
		} else {
			while (x->pos < x->len && x->s[x->pos] != ' ' &&
			    x->s[x->pos] != ')') {
				if (!is_atom_char((unsigned char)x->s[x->pos])) {
					buf_free(&name);
					*error_r = "Invalid header field name";
					return -1;
				}
				buf_putc(&name, x->s[x->pos]);
				x->pos++;
			}
		}
		for (size_t i = 0; i < name.len; i++) {
			if (!is_ftext((unsigned char)name.data[i])) {
				buf_free(&name);
				*error_r = "Invalid header field name";
				return -1;
			}
		}
		if (name.len == 0) {
			buf_free(&name);
			*error_r = "Invalid header field name";
			return -1;
		}
		add_field(att, buf_steal(&name));
		/* Each name is followed by a space or ")". */
		if (x->pos < x->len && x->s[x->pos] != ' ' &&
		    x->s[x->pos] != ')')
			goto bad;
	}
	if (att->field_count == 0) {
		*error_r = "Empty header field list";
		return -1;
	}
	return 0;
bad:
	*error_r = "Invalid header field list";
	return -1;
}

static int
parse_section(const char *s, size_t len, struct imap_fetch_att *att,
    const char **error_r)
{
	struct sect x = { s, len, 0 };
	size_t cap = 0;
	bool binary = att->type != IMAP_FETCH_BODY_SECTION;

	/* section-part: nz-number *("." nz-number) */
	while (x.pos < len && s[x.pos] >= '0' && s[x.pos] <= '9') {
		uint64_t v = 0;

		if (s[x.pos] == '0')
			goto bad;
		while (x.pos < len && s[x.pos] >= '0' && s[x.pos] <= '9') {
			v = v * 10 + (uint64_t)(s[x.pos] - '0');
			if (v > UINT32_MAX)
				goto bad;
			x.pos++;
		}
		if (att->part_count == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			att->parts = xreallocarray(att->parts, cap,
			    sizeof(*att->parts));
		}
		att->parts[att->part_count++] = (uint32_t)v;
		if (x.pos == len)
			return 0;
		if (s[x.pos] != '.')
			goto bad;
		x.pos++;
		if (x.pos == len)
			goto bad;
	}
	if (x.pos == len)
		return 0;	/* "[]" */
	if (binary)
		goto bad;
	if (sect_keyword(&x, "HEADER.FIELDS.NOT")) {
		att->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		if (parse_header_list(&x, att, error_r) < 0)
			return -1;
	} else if (sect_keyword(&x, "HEADER.FIELDS")) {
		att->text = IMAP_SECTION_HEADER_FIELDS;
		if (parse_header_list(&x, att, error_r) < 0)
			return -1;
	} else if (sect_keyword(&x, "HEADER")) {
		att->text = IMAP_SECTION_HEADER;
	} else if (sect_keyword(&x, "TEXT")) {
		att->text = IMAP_SECTION_TEXT;
	} else if (sect_keyword(&x, "MIME")) {
		if (att->part_count == 0) {
			*error_r = "MIME needs a part number";
			return -1;
		}
		att->text = IMAP_SECTION_MIME;
	} else
		goto bad;
	if (x.pos != len)
		goto bad;
	return 0;
bad:
	*error_r = "Invalid fetch section";
	return -1;
}

/* "<" number "." nz-number ">" exactly. */
static int
parse_partial(const char *s, size_t len, struct imap_fetch_att *att)
{
	const char *dot;

	if (len < 5 || s[0] != '<' || s[len - 1] != '>')
		return -1;
	if ((dot = memchr(s, '.', len)) == NULL)
		return -1;
	if (parse_u64(s + 1, (size_t)(dot - s) - 1, INT64_MAX,
	    &att->partial_offset) < 0)
		return -1;
	if (parse_u64(dot + 1, (size_t)(s + len - 1 - dot) - 1, INT64_MAX,
	    &att->partial_count) < 0 || att->partial_count == 0)
		return -1;
	att->partial = true;
	return 0;
}

int
imap_parse_fetch_att(const char *atom, size_t len, struct imap_fetch_att *out,
    const char **error_r)
{
	static const struct {
		const char		*name;
		enum imap_fetch_type	 type;
		bool			 peek;
	} sectioned[] = {
		{ "BODY", IMAP_FETCH_BODY_SECTION, false },
		{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION, true },
		{ "BINARY", IMAP_FETCH_BINARY, false },
		{ "BINARY.PEEK", IMAP_FETCH_BINARY, true },
		{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, false },
	};
	struct imap_fetch_att att;
	const char *lb;
	size_t nlen, i, rb;
	bool found = false;

	memset(&att, 0, sizeof(att));
	if ((lb = memchr(atom, '[', len)) == NULL) {
		for (i = 0; i < sizeof(fetch_plain) / sizeof(fetch_plain[0]);
		    i++) {
			if (ascii_strcaseeq_n(atom, len, fetch_plain[i].name)) {
				att.type = fetch_plain[i].type;
				*out = att;
				return 0;
			}
		}
		*error_r = "Unknown fetch attribute";
		return -1;
	}
	nlen = (size_t)(lb - atom);
	for (i = 0; i < sizeof(sectioned) / sizeof(sectioned[0]); i++) {
		if (ascii_strcaseeq_n(atom, nlen, sectioned[i].name)) {
			att.type = sectioned[i].type;
			att.peek = sectioned[i].peek;
			found = true;
			break;
		}
	}
	if (!found) {
		*error_r = "Unknown fetch attribute";
		return -1;
	}
	/* Find the "]" closing the section, skipping quoted names. */
	for (rb = nlen + 1; rb < len && atom[rb] != ']'; rb++) {
		if (atom[rb] == '"') {
			for (rb++; rb < len && atom[rb] != '"'; rb++)
				if (atom[rb] == '\\' && rb + 1 < len)
					rb++;
			if (rb >= len)
				break;
		}
	}
	if (rb >= len) {
		*error_r = "Missing ']' in fetch section";
		return -1;
	}
	if (rb + 1 < len) {
		if (att.type == IMAP_FETCH_BINARY_SIZE ||
		    parse_partial(atom + rb + 1, len - rb - 1, &att) < 0) {
			*error_r = "Invalid partial fetch";
			return -1;
		}
	}
	if (parse_section(atom + nlen + 1, rb - nlen - 1, &att, error_r) < 0) {
		imap_fetch_att_free(&att);
		return -1;
	}
	att.section = xstrndup(atom + nlen + 1, rb - nlen - 1);
	*out = att;
	return 0;
}

void
imap_fetch_atts_free(struct imap_fetch_att *atts, size_t count)
{
	if (atts == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		imap_fetch_att_free(&atts[i]);
	free(atts);
}

/*
 * PREVIEW's modifier list (RFC 8970 3.1): "(" preview-mod *(SP
 * preview-mod) ")", where LAZY is the only preview-mod defined.
 */
static int
parse_preview_mods(const struct imap_arg *list, struct imap_fetch_att *att,
    const char **error_r)
{
	if (list->list_count == 0) {
		*error_r = "Empty PREVIEW modifier list";
		return -1;
	}
	for (size_t i = 0; i < list->list_count; i++) {
		if (!imap_arg_atom_eq(&list->list[i], "LAZY")) {
			*error_r = "Unknown PREVIEW modifier";
			return -1;
		}
		att->lazy = true;
	}
	return 0;
}

/* A list that reads as PREVIEW's modifiers: it starts with LAZY. */
static bool
is_preview_mods(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_LIST && a->list_count > 0 &&
	    imap_arg_atom_eq(&a->list[0], "LAZY");
}

int
imap_parse_fetch_args(const struct imap_arg *args, size_t count,
    struct imap_fetch_att **atts_r, size_t *count_r, size_t *used_r,
    const char **error_r)
{
	struct imap_fetch_att *atts;
	size_t n, k;

	if (count == 0) {
		*error_r = "Invalid fetch attributes";
		return -1;
	}
	*used_r = 1;
	if (args[0].type == IMAP_ARG_ATOM) {
		atts = xcalloc(1, sizeof(*atts));
		if (imap_parse_fetch_att(args[0].str, args[0].len, atts,
		    error_r) < 0) {
			free(atts);
			return -1;
		}
		if (atts[0].type == IMAP_FETCH_PREVIEW && count > 1 &&
		    is_preview_mods(&args[1])) {
			if (parse_preview_mods(&args[1], &atts[0],
			    error_r) < 0) {
				imap_fetch_atts_free(atts, 1);
				return -1;
			}
			*used_r = 2;
		}
		*atts_r = atts;
		*count_r = 1;
		return 0;
	}
	if (args[0].type != IMAP_ARG_LIST) {
		*error_r = "Invalid fetch attributes";
		return -1;
	}
	if (args[0].list_count == 0) {
		*error_r = "Empty fetch attribute list";
		return -1;
	}
	atts = xcalloc(args[0].list_count, sizeof(*atts));
	n = 0;
	for (k = 0; k < args[0].list_count; k++) {
		const struct imap_arg *a = &args[0].list[k];

		/* Right after PREVIEW (a list sets lazy, so only one). */
		if (a->type == IMAP_ARG_LIST && n > 0 &&
		    atts[n - 1].type == IMAP_FETCH_PREVIEW &&
		    !atts[n - 1].lazy) {
			if (parse_preview_mods(a, &atts[n - 1], error_r) < 0)
				goto fail;
			continue;
		}
		if (a->type != IMAP_ARG_ATOM) {
			*error_r = "Invalid fetch attributes";
			goto fail;
		}
		if (imap_parse_fetch_att(a->str, a->len, &atts[n],
		    error_r) < 0)
			goto fail;
		n++;
		if (is_macro(atts[n - 1].type)) {
			*error_r = "Fetch macros are not allowed in a list";
			goto fail;
		}
	}
	*atts_r = atts;
	*count_r = n;
	return 0;
fail:
	imap_fetch_atts_free(atts, n);
	return -1;
}

int
imap_parse_fetch_atts(const struct imap_arg *arg,
    struct imap_fetch_att **atts_r, size_t *count_r, const char **error_r)
{
	size_t used;

	return imap_parse_fetch_args(arg, 1, atts_r, count_r, &used,
	    error_r);
}

void
imap_fetch_att_response_name(const struct imap_fetch_att *att,
    struct buf *out)
{
	const char *prefix;

	switch (att->type) {
	case IMAP_FETCH_BODY_SECTION:
		prefix = "BODY[";
		break;
	case IMAP_FETCH_BINARY:
		prefix = "BINARY[";
		break;
	case IMAP_FETCH_BINARY_SIZE:
		prefix = "BINARY.SIZE[";
		break;
	default:
		if (is_macro(att->type))
			return;
		for (size_t i = 0;
		    i < sizeof(fetch_plain) / sizeof(fetch_plain[0]); i++) {
			if (fetch_plain[i].type == att->type) {
				buf_puts(out, fetch_plain[i].name);
				return;
			}
		}
		return;
	}
	buf_puts(out, prefix);
	if (att->section != NULL)
		buf_puts(out, att->section);
	buf_putc(out, ']');
	if (att->partial) {
		buf_putc(out, '<');
		buf_put_u64(out, att->partial_offset);
		buf_putc(out, '>');
	}
}
