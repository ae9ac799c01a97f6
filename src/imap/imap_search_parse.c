/*
 * imap_search_parse - SEARCH criteria into a tree.  See imap_search_parse.h.
 *
 * Recursion is bounded by IMAP_SEARCH_MAX_DEPTH (each NOT, OR and
 * parenthesized group is one level); siblings are linked lists walked in
 * loops, so a flat program of 10,000 keys costs no stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "core/xmalloc.h"
#include "imap/imap_search_parse.h"

enum arg_kind {
	ARG_NONE,
	ARG_STRING,		/* astring */
	ARG_HEADER,		/* astring astring */
	ARG_DATE,
	ARG_SIZE,		/* number64 */
	ARG_INTERVAL,		/* nz-number (RFC 5032) */
	ARG_SEQSET,
	ARG_KEYWORD,		/* flag-keyword */
	ARG_NOT,
	ARG_OR,
	ARG_MODSEQ,
};

static const struct {
	const char		*name;
	enum imap_search_key	 key;
	enum arg_kind		 kind;
} search_keys[] = {
	{ "ALL", IMAP_SEARCH_ALL, ARG_NONE },
	{ "ANSWERED", IMAP_SEARCH_ANSWERED, ARG_NONE },
	{ "BCC", IMAP_SEARCH_BCC, ARG_STRING },
	{ "BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE },
	{ "BODY", IMAP_SEARCH_BODY, ARG_STRING },
	{ "CC", IMAP_SEARCH_CC, ARG_STRING },
	{ "DELETED", IMAP_SEARCH_DELETED, ARG_NONE },
	{ "DRAFT", IMAP_SEARCH_DRAFT, ARG_NONE },
	{ "FLAGGED", IMAP_SEARCH_FLAGGED, ARG_NONE },
	{ "FROM", IMAP_SEARCH_FROM, ARG_STRING },
	{ "HEADER", IMAP_SEARCH_HEADER, ARG_HEADER },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, ARG_KEYWORD },
	{ "LARGER", IMAP_SEARCH_LARGER, ARG_SIZE },
	{ "MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ },
	{ "NEW", IMAP_SEARCH_NEW, ARG_NONE },
	{ "NOT", IMAP_SEARCH_NOT, ARG_NOT },
	{ "OLD", IMAP_SEARCH_OLD, ARG_NONE },
	{ "OLDER", IMAP_SEARCH_OLDER, ARG_INTERVAL },
	{ "ON", IMAP_SEARCH_ON, ARG_DATE },
	{ "OR", IMAP_SEARCH_OR, ARG_OR },
	{ "RECENT", IMAP_SEARCH_RECENT, ARG_NONE },
	{ "SEEN", IMAP_SEARCH_SEEN, ARG_NONE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE },
	{ "SENTON", IMAP_SEARCH_SENTON, ARG_DATE },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE },
	{ "SINCE", IMAP_SEARCH_SINCE, ARG_DATE },
	{ "SMALLER", IMAP_SEARCH_SMALLER, ARG_SIZE },
	{ "SUBJECT", IMAP_SEARCH_SUBJECT, ARG_STRING },
	{ "TEXT", IMAP_SEARCH_TEXT, ARG_STRING },
	{ "TO", IMAP_SEARCH_TO, ARG_STRING },
	{ "UID", IMAP_SEARCH_UID, ARG_SEQSET },
	{ "UNANSWERED", IMAP_SEARCH_UNANSWERED, ARG_NONE },
	{ "UNDELETED", IMAP_SEARCH_UNDELETED, ARG_NONE },
	{ "UNDRAFT", IMAP_SEARCH_UNDRAFT, ARG_NONE },
	{ "UNFLAGGED", IMAP_SEARCH_UNFLAGGED, ARG_NONE },
	{ "UNKEYWORD", IMAP_SEARCH_UNKEYWORD, ARG_KEYWORD },
	{ "UNSEEN", IMAP_SEARCH_UNSEEN, ARG_NONE },
	{ "YOUNGER", IMAP_SEARCH_YOUNGER, ARG_INTERVAL },
};

struct cursor {
	const struct imap_arg	*a;
	size_t			 n;
	size_t			 i;
};

struct sctx {
	struct imap_search_program *prog;
	const char		*error;
};

static int
fail(struct sctx *x, const char *msg)
{
	x->error = msg;
	return -1;
}

/* "<what>: <atom>" into the program's error buffer. */
static int
fail_arg(struct sctx *x, const char *what, const struct imap_arg *a)
{
	char *e = x->prog->error;
	size_t n, max = 60;
	int k;

	k = snprintf(e, sizeof(x->prog->error), "%s: ", what);
	n = a->str != NULL ? a->len : 0;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n &&
	    (size_t)k + 1 < sizeof(x->prog->error); i++) {
		unsigned char c = (unsigned char)a->str[i];

		e[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	e[k] = '\0';
	x->error = e;
	return -1;
}

static struct imap_search_node *
node_new(enum imap_search_key key)
{
	struct imap_search_node *n = xcalloc(1, sizeof(*n));

	n->key = key;
	imap_seqset_init(&n->seqset);
	return n;
}

void
imap_search_node_free(struct imap_search_node *n)
{
	while (n != NULL) {
		struct imap_search_node *next = n->next;

		imap_search_node_free(n->children);
		free(n->str);
		free(n->field);
		free(n->modseq_flag);
		imap_seqset_free(&n->seqset);
		free(n);
		n = next;
	}
}

static bool
is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

static const struct imap_arg *
next_arg(struct sctx *x, struct cursor *c, const char *what)
{
	if (c->i >= c->n) {
		x->error = what;
		return NULL;
	}
	return &c->a[c->i++];
}

static int
take_string(struct sctx *x, struct cursor *c, char **str_r, size_t *len_r)
{
	const struct imap_arg *a;
	const char *s;

	if ((a = next_arg(x, c, "Missing search string")) == NULL)
		return -1;
	if ((s = imap_arg_astring(a)) == NULL)
		return fail(x, "Invalid search string");
	*str_r = xstrndup(s, a->len);
	if (len_r != NULL)
		*len_r = a->len;
	return 0;
}

static int
take_number(struct sctx *x, struct cursor *c, uint64_t max, bool nonzero,
    uint64_t *v)
{
	const struct imap_arg *a;

	if ((a = next_arg(x, c, "Missing number")) == NULL)
		return -1;
	if (a->type != IMAP_ARG_ATOM || parse_u64(a->str, a->len, max, v) < 0 ||
	    (nonzero && *v == 0))
		return fail_arg(x, "Invalid number", a);
	return 0;
}

static int
take_seqset(struct sctx *x, const struct imap_arg *a,
    struct imap_search_node *n)
{
	if (a->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(a->str, a->len, &n->seqset) < 0)
		return fail_arg(x, "Invalid sequence set", a);
	if (n->seqset.searchres)
		x->prog->uses_searchres = true;
	return 0;
}

static int
take_modseq(struct sctx *x, struct cursor *c, struct imap_search_node *n)
{
	const struct imap_arg *a, *t;
	const char *s;

	x->prog->uses_modseq = true;
	if (c->i >= c->n)
		return fail(x, "Missing MODSEQ value");
	a = &c->a[c->i];
	if (a->type != IMAP_ARG_ATOM) {
		/* entry-name SP entry-type-req */
		c->i++;
		if ((s = imap_arg_string(a)) == NULL ||
		    a->len <= 7 || strncasecmp(s, "/flags/", 7) != 0)
			return fail(x, "Invalid MODSEQ entry name");
		for (size_t i = 7; i < a->len; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (!is_atom_char(ch) && !(i == 7 && ch == '\\'))
				return fail(x, "Invalid MODSEQ entry name");
		}
		if (a->len == 8 && s[7] == '\\')
			return fail(x, "Invalid MODSEQ entry name");
		if ((t = next_arg(x, c, "Missing MODSEQ entry type")) == NULL)
			return -1;
		if (imap_arg_atom_eq(t, "all"))
			n->modseq_type = IMAP_SEARCH_MODSEQ_ALL;
		else if (imap_arg_atom_eq(t, "shared"))
			n->modseq_type = IMAP_SEARCH_MODSEQ_SHARED;
		else if (imap_arg_atom_eq(t, "priv"))
			n->modseq_type = IMAP_SEARCH_MODSEQ_PRIV;
		else
			return fail(x, "Invalid MODSEQ entry type");
		n->modseq_flag = xstrndup(s + 7, a->len - 7);
	}
	return take_number(x, c, INT64_MAX, false, &n->number);
}

static int parse_key(struct sctx *, struct cursor *, unsigned int,
    struct imap_search_node **);

/* Keys of c into an AND node's children, in order. */
static int
parse_keys_into(struct sctx *x, struct cursor *c, unsigned int depth,
    struct imap_search_node *and)
{
	struct imap_search_node **tail = &and->children;

	while (c->i < c->n) {
		if (parse_key(x, c, depth, tail) < 0)
			return -1;
		tail = &(*tail)->next;
	}
	return 0;
}

static int
parse_key(struct sctx *x, struct cursor *c, unsigned int depth,
    struct imap_search_node **node_r)
{
	const struct imap_arg *a;
	struct imap_search_node *n;
	const char *s;
	size_t k;

	if ((a = next_arg(x, c, "Missing search key")) == NULL)
		return -1;
	if (a->type == IMAP_ARG_LIST) {
		struct cursor sub = { a->list, a->list_count, 0 };

		if (depth >= IMAP_SEARCH_MAX_DEPTH)
			return fail(x, "Search criteria nested too deeply");
		if (a->list_count == 0)
			return fail(x, "Empty search key list");
		*node_r = n = node_new(IMAP_SEARCH_AND);
		return parse_keys_into(x, &sub, depth + 1, n);
	}
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
		return fail(x, "Invalid search key");
	for (k = 0; k < sizeof(search_keys) / sizeof(search_keys[0]); k++)
		if (ascii_strcaseeq_n(a->str, a->len, search_keys[k].name))
			break;
	if (k == sizeof(search_keys) / sizeof(search_keys[0])) {
		char c0 = a->str[0];

		if ((c0 >= '0' && c0 <= '9') || c0 == '*' || c0 == '$') {
			*node_r = n = node_new(IMAP_SEARCH_SEQSET);
			return take_seqset(x, a, n);
		}
		return fail_arg(x, "Unknown search key", a);
	}
	*node_r = n = node_new(search_keys[k].key);
	switch (search_keys[k].kind) {
	case ARG_NONE:
		return 0;
	case ARG_STRING:
		return take_string(x, c, &n->str, &n->str_len);
	case ARG_HEADER:
		if (take_string(x, c, &n->field, NULL) < 0)
			return -1;
		return take_string(x, c, &n->str, &n->str_len);
	case ARG_DATE:
		if ((a = next_arg(x, c, "Missing date")) == NULL)
			return -1;
		if ((s = imap_arg_astring(a)) == NULL ||
		    imap_date_parse(s, a->len, &n->date) < 0)
			return fail(x, "Invalid date");
		return 0;
	case ARG_SIZE:
		return take_number(x, c, INT64_MAX, false, &n->number);
	case ARG_INTERVAL:
		return take_number(x, c, UINT32_MAX, true, &n->number);
	case ARG_SEQSET:
		if ((a = next_arg(x, c, "Missing UID set")) == NULL)
			return -1;
		return take_seqset(x, a, n);
	case ARG_KEYWORD:
		if ((a = next_arg(x, c, "Missing keyword")) == NULL)
			return -1;
		if ((s = imap_arg_astring(a)) == NULL || a->len == 0)
			return fail(x, "Invalid keyword");
		for (size_t i = 0; i < a->len; i++)
			if (!is_atom_char((unsigned char)s[i]))
				return fail(x, "Invalid keyword");
		n->str = xstrndup(s, a->len);
		n->str_len = a->len;
		return 0;
	case ARG_NOT:
		if (depth >= IMAP_SEARCH_MAX_DEPTH)
			return fail(x, "Search criteria nested too deeply");
		return parse_key(x, c, depth + 1, &n->children);
	case ARG_OR:
		if (depth >= IMAP_SEARCH_MAX_DEPTH)
			return fail(x, "Search criteria nested too deeply");
		if (parse_key(x, c, depth + 1, &n->children) < 0)
			return -1;
		return parse_key(x, c, depth + 1, &n->children->next);
	case ARG_MODSEQ:
		return take_modseq(x, c, n);
	}
	return fail(x, "Invalid search key");
}

static int
parse_return(struct sctx *x, const struct imap_arg *a)
{
	struct imap_search_program *p = x->prog;
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RETURN_MIN },
		{ "MAX", IMAP_SEARCH_RETURN_MAX },
		{ "ALL", IMAP_SEARCH_RETURN_ALL },
		{ "COUNT", IMAP_SEARCH_RETURN_COUNT },
		{ "SAVE", IMAP_SEARCH_RETURN_SAVE },
	};

	if (a->type != IMAP_ARG_LIST)
		return fail(x, "RETURN needs a list of options");
	for (size_t i = 0; i < a->list_count; i++) {
		const struct imap_arg *o = &a->list[i];
		size_t k;

		for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (imap_arg_atom_eq(o, opts[k].name))
				break;
		if (k == sizeof(opts) / sizeof(opts[0])) {
			if (o->type == IMAP_ARG_ATOM)
				return fail_arg(x, "Unknown RETURN option", o);
			return fail(x, "Invalid RETURN option");
		}
		p->return_opts |= opts[k].bit;
	}
	if (a->list_count == 0)
		p->return_opts = IMAP_SEARCH_RETURN_ALL;
	p->has_return = true;
	return 0;
}

static int
parse_program(const struct imap_arg *args, size_t count,
    struct imap_search_program *out, bool options, const char **error_r)
{
	struct sctx x = { out, NULL };
	struct cursor c = { args, count, 0 };
	bool seen_ret = false, seen_cs = false;

	memset(out, 0, sizeof(*out));
	while (options && c.i < c.n) {
		const struct imap_arg *a = &c.a[c.i];

		if (!seen_ret && imap_arg_atom_eq(a, "RETURN")) {
			c.i++;
			if (c.i >= c.n) {
				x.error = "RETURN needs a list of options";
				goto fail;
			}
			if (parse_return(&x, &c.a[c.i++]) < 0)
				goto fail;
			seen_ret = true;
		} else if (!seen_cs && imap_arg_atom_eq(a, "CHARSET")) {
			const char *s;

			c.i++;
			if (c.i >= c.n ||
			    (s = imap_arg_astring(&c.a[c.i])) == NULL) {
				x.error = "CHARSET needs a charset name";
				goto fail;
			}
			out->charset = xstrndup(s, c.a[c.i].len);
			c.i++;
			seen_cs = true;
		} else
			break;
	}
	if (c.i >= c.n) {
		x.error = "Missing search criteria";
		goto fail;
	}
	out->root = node_new(IMAP_SEARCH_AND);
	if (parse_keys_into(&x, &c, 0, out->root) < 0)
		goto fail;
	return 0;
fail:
	*error_r = x.error;
	return -1;
}

int
imap_search_parse(const struct imap_arg *args, size_t count,
    struct imap_search_program *out, const char **error_r)
{
	return parse_program(args, count, out, true, error_r);
}

int
imap_search_parse_keys(const struct imap_arg *args, size_t count,
    struct imap_search_program *out, const char **error_r)
{
	return parse_program(args, count, out, false, error_r);
}

void
imap_search_program_free(struct imap_search_program *p)
{
	free(p->charset);
	imap_search_node_free(p->root);
	p->charset = NULL;
	p->root = NULL;
}
