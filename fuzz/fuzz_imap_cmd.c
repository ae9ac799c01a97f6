/*
 * fuzz_imap_cmd - IMAP commands through imap_parse, imap_search_parse,
 * imap_seqset and imap_quote.
 *
 * Input: what a client sends.  The harness frames it as the session does:
 * lines end at LF (a CR before it dropped); a line for which
 * imap_literal_at_eol() returns 1 is followed by that many literal bytes
 * (as many as there are) and the next line; -1 ends the input, as the
 * session closes.  Each framed command goes through imap_parse_command()
 * with the default limits and with tight ones, then:
 *  - every atom anywhere through imap_parse_fetch_att(); the FETCH
 *    argument of FETCH / UID FETCH through imap_parse_fetch_atts(), with
 *    imap_fetch_att_response_name() and imap_fetch_macro_expand();
 *  - SEARCH arguments through imap_search_parse(), SORT / THREAD keys
 *    through imap_search_parse_keys();
 *  - the first argument of FETCH/STORE/COPY/MOVE/SEARCH... through
 *    imap_seqset_parse();
 *  - every string argument through imap_write_astring() and
 *    imap_write_string(), and the result parsed back.
 * Checked: the argument tree is well formed (EOL-terminated lists,
 * NUL-terminated strings, depth and count within the limits, upper-case
 * names, an error leaves no arguments); fetch items are consistent (parts
 * only with sections, partial counts >= 1); search trees have the right
 * arity (OR two children, NOT one) and stay within IMAP_SEARCH_MAX_DEPTH;
 * and what imap_quote writes parses back to the same bytes (NULs dropped).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "imap/imap_parse.h"
#include "imap/imap_quote.h"
#include "imap/imap_search_parse.h"
#include "imap/imap_seqset.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	quote_roundtrip(const struct imap_arg *);

static void
check_att(const struct imap_fetch_att *a)
{
	struct buf b = BUF_INIT;
	enum imap_fetch_type ex[5];
	size_t n;
	bool sectioned = a->type == IMAP_FETCH_BODY_SECTION ||
	    a->type == IMAP_FETCH_BINARY || a->type == IMAP_FETCH_BINARY_SIZE;

	if (!sectioned) {
		FUZZ_CHECK(a->part_count == 0 && a->field_count == 0 &&
		    !a->partial, "section data on a plain item");
	} else {
		FUZZ_CHECK(a->section != NULL, "section text missing");
		FUZZ_CHECK(a->part_count == 0 || a->parts != NULL,
		    "parts array missing");
		for (size_t i = 0; i < a->part_count; i++)
			FUZZ_CHECK(a->parts[i] != 0, "part number 0");
		for (size_t i = 0; i < a->field_count; i++)
			FUZZ_CHECK(a->fields[i] != NULL && a->fields[i][0],
			    "empty header field name");
		if (a->text == IMAP_SECTION_MIME)
			FUZZ_CHECK(a->part_count > 0, "MIME without a part");
		if (a->type != IMAP_FETCH_BODY_SECTION)
			FUZZ_CHECK(a->text == IMAP_SECTION_NONE,
			    "BINARY with a section text");
		if (a->type == IMAP_FETCH_BINARY_SIZE)
			FUZZ_CHECK(!a->partial, "BINARY.SIZE partial");
	}
	if (a->partial)
		FUZZ_CHECK(a->partial_count >= 1 &&
		    a->partial_offset <= INT64_MAX &&
		    a->partial_count <= INT64_MAX, "partial %llu.%llu",
		    (unsigned long long)a->partial_offset,
		    (unsigned long long)a->partial_count);
	n = imap_fetch_macro_expand(a->type, ex);
	FUZZ_CHECK(n <= 5, "macro expands to %zu", n);
	for (size_t i = 0; i < n; i++) {
		enum imap_fetch_type ex2[5];

		FUZZ_CHECK(imap_fetch_macro_expand(ex[i], ex2) == 0,
		    "a macro expands to a macro");
	}
	imap_fetch_att_response_name(a, &b);
	buf_free(&b);
}

/* Every atom is tried as a fetch item. */
static void
try_fetch_att(const struct imap_arg *a)
{
	struct imap_fetch_att att;
	const char *err;

	memset(&att, 0xa5, sizeof(att));
	if (imap_parse_fetch_att(a->str, a->len, &att, &err) == 0) {
		check_att(&att);
		imap_fetch_att_free(&att);
	} else
		FUZZ_CHECK(err != NULL, "fetch att error without message");
}

/* Walk an argument array; returns the number of arguments in it. */
static size_t
walk(const struct imap_arg *args, size_t count, unsigned depth,
    const struct imap_parse_limits *lim)
{
	size_t total = 0;
	const char *s;

	FUZZ_CHECK(depth <= lim->max_list_depth, "depth %u > %u", depth,
	    lim->max_list_depth);
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		total++;
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
		case IMAP_ARG_QUOTED:
		case IMAP_ARG_LITERAL:
			FUZZ_CHECK(a->str != NULL && a->str[a->len] == '\0',
			    "string not NUL-terminated");
			if (a->type != IMAP_ARG_LITERAL)
				FUZZ_CHECK(memchr(a->str, '\0', a->len) == NULL,
				    "NUL in a non-literal");
			FUZZ_CHECK(imap_arg_is_string(a) ==
			    (a->type != IMAP_ARG_NIL), "imap_arg_is_string");
			if (a->type == IMAP_ARG_NIL)
				FUZZ_CHECK(imap_arg_atom_eq(a, "NIL"), "NIL");
			if (a->type == IMAP_ARG_ATOM) {
				FUZZ_CHECK(a->len > 0, "empty atom");
				try_fetch_att(a);
			}
			s = imap_arg_astring(a);
			if (s != NULL)
				FUZZ_CHECK(strlen(s) == a->len,
				    "astring length");
			(void)imap_arg_string(a);
			(void)imap_arg_nstring(a, &s);
			quote_roundtrip(a);
			break;
		case IMAP_ARG_LIST: {
			size_t n;
			const struct imap_arg *l = imap_arg_list(a, &n);

			FUZZ_CHECK(l == a->list && n == a->list_count,
			    "imap_arg_list");
			FUZZ_CHECK(a->list != NULL &&
			    a->list[a->list_count].type == IMAP_ARG_EOL,
			    "list not EOL-terminated");
			FUZZ_CHECK(a->str == NULL, "list with a string");
			total += walk(a->list, a->list_count, depth + 1, lim);
			break;
		}
		case IMAP_ARG_EOL:
			FUZZ_CHECK(false, "EOL inside an array at %zu of %zu",
			    i, count);
			break;
		default:
			FUZZ_CHECK(false, "argument type %d", (int)a->type);
		}
	}
	FUZZ_CHECK(args[count].type == IMAP_ARG_EOL, "array not terminated");
	return total;
}

/* Strings written by imap_quote must parse back to the same bytes. */
static void
quote_roundtrip(const struct imap_arg *a)
{
	struct buf in = BUF_INIT, want = BUF_INIT;
	struct imap_cmd_args c;
	const char *err, *s;
	int mode;

	if (a->type == IMAP_ARG_NIL)
		return;
	for (size_t i = 0; i < a->len; i++)
		if (a->str[i] != '\0')
			buf_putc(&want, a->str[i]);
	for (mode = 0; mode < 2; mode++) {
		buf_reset(&in);
		buf_puts(&in, "q NOOP ");
		if (mode == 0)
			imap_write_astring(&in, a->str, a->len);
		else
			imap_write_string(&in, a->str, a->len);
		memset(&c, 0, sizeof(c));
		FUZZ_CHECK(imap_parse_command(in.data, in.len, NULL, &c,
		    &err) == 0, "written %s does not parse: %s",
		    mode ? "string" : "astring", err);
		FUZZ_CHECK(c.count == 1, "written string gave %zu args",
		    c.count);
		s = mode == 0 ? imap_arg_astring(&c.args[0]) :
		    imap_arg_string(&c.args[0]);
		FUZZ_CHECK(s != NULL && fuzz_mem_eq(s, c.args[0].len,
		    want.data, want.len),
		    "written %s reads back differently (%zu bytes, want %zu)",
		    mode ? "string" : "astring", c.args[0].len, want.len);
		imap_cmd_args_free(&c);
	}
	buf_free(&in);
	buf_free(&want);
}

static void
walk_search(const struct imap_search_node *n, unsigned depth)
{
	size_t kids;

	/* AND nodes for parentheses, plus OR/NOT, one level each. */
	FUZZ_CHECK(depth <= 2 * IMAP_SEARCH_MAX_DEPTH + 2, "search depth %u",
	    depth);
	for (; n != NULL; n = n->next) {
		const struct imap_search_node *c;

		kids = 0;
		for (c = n->children; c != NULL; c = c->next)
			kids++;
		switch (n->key) {
		case IMAP_SEARCH_OR:
			FUZZ_CHECK(kids == 2, "OR with %zu children", kids);
			break;
		case IMAP_SEARCH_NOT:
			FUZZ_CHECK(kids == 1, "NOT with %zu children", kids);
			break;
		case IMAP_SEARCH_AND:
			break;
		default:
			FUZZ_CHECK(kids == 0, "key %d with children",
			    (int)n->key);
		}
		if (n->str != NULL)
			FUZZ_CHECK(n->str[n->str_len] == '\0', "str not "
			    "NUL-terminated");
		if (n->key == IMAP_SEARCH_HEADER)
			FUZZ_CHECK(n->field != NULL && n->str != NULL,
			    "HEADER without field or value");
		if (n->key == IMAP_SEARCH_UID || n->key == IMAP_SEARCH_SEQSET)
			for (size_t i = 0; i < n->seqset.count; i++)
				FUZZ_CHECK(n->seqset.ranges[i].lo <=
				    n->seqset.ranges[i].hi, "range");
		walk_search(n->children, depth + 1);
	}
}

static void
try_seqset(const struct imap_arg *a)
{
	struct imap_seqset set;

	if (a->type != IMAP_ARG_ATOM)
		return;
	if (imap_seqset_parse(a->str, a->len, &set) == 0) {
		imap_seqset_resolve(&set, 100);
		(void)imap_seqset_count(&set);
		imap_seqset_free(&set);
	}
}

static void
command(const char *buf, size_t len, const struct imap_parse_limits *lim)
{
	struct imap_cmd_args c;
	struct imap_search_program prog;
	struct imap_fetch_att *atts;
	size_t natts;
	const char *err;

	memset(&c, 0, sizeof(c));
	if (imap_parse_command(buf, len, lim, &c, &err) < 0) {
		FUZZ_CHECK(err != NULL, "error without message");
		FUZZ_CHECK(c.count == 0, "error with %zu arguments", c.count);
		imap_cmd_args_free(&c);
		imap_cmd_args_free(&c);
		return;
	}
	FUZZ_CHECK(c.tag != NULL && c.tag[0] != '\0', "no tag");
	FUZZ_CHECK(c.name != NULL && c.full_name != NULL, "no name");
	for (const char *p = c.name; *p != '\0'; p++)
		FUZZ_CHECK(*p < 'a' || *p > 'z', "name not upper case: %s",
		    c.name);
	FUZZ_CHECK(c.args != NULL, "no argument array");
	FUZZ_CHECK(walk(c.args, c.count, 0, lim) <= lim->max_args,
	    "more than %zu arguments", lim->max_args);

	if (c.count >= 1 && (strcmp(c.name, "FETCH") == 0 ||
	    strcmp(c.name, "STORE") == 0 || strcmp(c.name, "COPY") == 0 ||
	    strcmp(c.name, "MOVE") == 0 || strcmp(c.name, "EXPUNGE") == 0))
		try_seqset(&c.args[0]);
	if (strcmp(c.name, "FETCH") == 0 && c.count >= 2) {
		if (imap_parse_fetch_atts(&c.args[1], &atts, &natts,
		    &err) == 0) {
			FUZZ_CHECK(natts >= 1, "no fetch items");
			for (size_t i = 0; i < natts; i++)
				check_att(&atts[i]);
			imap_fetch_atts_free(atts, natts);
		} else
			FUZZ_CHECK(err != NULL, "fetch error without message");
	}
	if (strcmp(c.name, "SEARCH") == 0) {
		memset(&prog, 0, sizeof(prog));
		if (imap_search_parse(c.args, c.count, &prog, &err) == 0) {
			FUZZ_CHECK(prog.root != NULL &&
			    prog.root->key == IMAP_SEARCH_AND, "root");
			walk_search(prog.root, 0);
		} else
			FUZZ_CHECK(err != NULL, "search error without message");
		imap_search_program_free(&prog);
	}
	if ((strcmp(c.name, "SORT") == 0 || strcmp(c.name, "THREAD") == 0) &&
	    c.count > 2) {
		memset(&prog, 0, sizeof(prog));
		if (imap_search_parse_keys(c.args + 2, c.count - 2, &prog,
		    &err) == 0)
			walk_search(prog.root, 0);
		imap_search_program_free(&prog);
	}
	imap_cmd_args_free(&c);
	imap_cmd_args_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct imap_parse_limits def, tight = { 3, 24 };

	imap_parse_limits_default(&def);
	while (p < end) {
		const char *start = p, *cmd_end;
		int lit;

		/* Frame one command. */
		for (;;) {
			const char *lf = memchr(p, '\n', (size_t)(end - p));
			const char *line_end = lf != NULL ? lf : end;
			size_t n = (size_t)(line_end - p);
			uint64_t lsize;
			bool nonsync, binary;

			if (n > 0 && p[n - 1] == '\r')
				n--;
			cmd_end = p + n;
			lit = imap_literal_at_eol(p, n, &lsize, &nonsync,
			    &binary);
			FUZZ_CHECK(lit >= -1 && lit <= 1, "literal_at_eol %d",
			    lit);
			if (lit == 1)
				FUZZ_CHECK(lsize <= IMAP_LITERAL_MAX, "size");
			p = lf != NULL ? lf + 1 : end;
			if (lit != 1 || lf == NULL)
				break;
			if (lsize > (uint64_t)(end - p))
				lsize = (uint64_t)(end - p);
			p += lsize;
		}
		if (lit < 0)
			break;

		/* A copy, so reads past the command are caught. */
		size_t len = (size_t)(cmd_end - start);
		char *copy = malloc(len > 0 ? len : 1);

		memcpy(copy, start, len);
		command(copy, len, &def);
		command(copy, len, &tight);
		free(copy);
	}
	return 0;
}
