/*
 * test_imap_search_parse - SEARCH programs (RFC 9051 6.4.4 examples, RFC
 * 4731 RETURN, RFC 5182 "$", RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER)
 * parsed from real command lines and compared through a canonical dump:
 *
 *	KEY, KEY "string", HEADER "field" "value", SINCE yyyy-mm-dd,
 *	LARGER n, UID set, SEQ set, NOT(k), OR(k,k), AND(k k ...),
 *	MODSEQ n, MODSEQ[flag,type] n
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_search_parse.h"

static const char *const key_names[] = {
	[IMAP_SEARCH_AND] = "AND", [IMAP_SEARCH_OR] = "OR",
	[IMAP_SEARCH_NOT] = "NOT", [IMAP_SEARCH_ALL] = "ALL",
	[IMAP_SEARCH_ANSWERED] = "ANSWERED", [IMAP_SEARCH_DELETED] = "DELETED",
	[IMAP_SEARCH_DRAFT] = "DRAFT", [IMAP_SEARCH_FLAGGED] = "FLAGGED",
	[IMAP_SEARCH_NEW] = "NEW", [IMAP_SEARCH_OLD] = "OLD",
	[IMAP_SEARCH_RECENT] = "RECENT", [IMAP_SEARCH_SEEN] = "SEEN",
	[IMAP_SEARCH_UNANSWERED] = "UNANSWERED",
	[IMAP_SEARCH_UNDELETED] = "UNDELETED",
	[IMAP_SEARCH_UNDRAFT] = "UNDRAFT", [IMAP_SEARCH_UNFLAGGED] = "UNFLAGGED",
	[IMAP_SEARCH_UNSEEN] = "UNSEEN", [IMAP_SEARCH_KEYWORD] = "KEYWORD",
	[IMAP_SEARCH_UNKEYWORD] = "UNKEYWORD", [IMAP_SEARCH_BCC] = "BCC",
	[IMAP_SEARCH_BODY] = "BODY", [IMAP_SEARCH_CC] = "CC",
	[IMAP_SEARCH_FROM] = "FROM", [IMAP_SEARCH_SUBJECT] = "SUBJECT",
	[IMAP_SEARCH_TEXT] = "TEXT", [IMAP_SEARCH_TO] = "TO",
	[IMAP_SEARCH_HEADER] = "HEADER", [IMAP_SEARCH_BEFORE] = "BEFORE",
	[IMAP_SEARCH_ON] = "ON", [IMAP_SEARCH_SINCE] = "SINCE",
	[IMAP_SEARCH_SENTBEFORE] = "SENTBEFORE",
	[IMAP_SEARCH_SENTON] = "SENTON", [IMAP_SEARCH_SENTSINCE] = "SENTSINCE",
	[IMAP_SEARCH_LARGER] = "LARGER", [IMAP_SEARCH_SMALLER] = "SMALLER",
	[IMAP_SEARCH_OLDER] = "OLDER", [IMAP_SEARCH_YOUNGER] = "YOUNGER",
	[IMAP_SEARCH_UID] = "UID", [IMAP_SEARCH_SEQSET] = "SEQ",
	[IMAP_SEARCH_MODSEQ] = "MODSEQ",
};

static void dump_list(struct buf *, const struct imap_search_node *,
    const char *sep);

static void
dump_node(struct buf *b, const struct imap_search_node *n)
{
	static const char *mtype[] = { "all", "shared", "priv" };

	buf_puts(b, key_names[n->key]);
	switch (n->key) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		buf_putc(b, '(');
		dump_list(b, n->children, n->key == IMAP_SEARCH_OR ? "," :
		    " ");
		buf_putc(b, ')');
		break;
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD:
	case IMAP_SEARCH_BCC:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_CC:
	case IMAP_SEARCH_FROM:
	case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TEXT:
	case IMAP_SEARCH_TO:
		buf_puts(b, " \"");
		buf_append(b, n->str, n->str_len);
		buf_putc(b, '"');
		break;
	case IMAP_SEARCH_HEADER:
		buf_printf(b, " \"%s\" \"", n->field);
		buf_append(b, n->str, n->str_len);
		buf_putc(b, '"');
		break;
	case IMAP_SEARCH_BEFORE:
	case IMAP_SEARCH_ON:
	case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE:
		buf_printf(b, " %04d-%02d-%02d", n->date.year, n->date.month,
		    n->date.day);
		break;
	case IMAP_SEARCH_LARGER:
	case IMAP_SEARCH_SMALLER:
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		buf_printf(b, " %llu", (unsigned long long)n->number);
		break;
	case IMAP_SEARCH_MODSEQ:
		if (n->modseq_flag != NULL)
			buf_printf(b, "[%s,%s]", n->modseq_flag,
			    mtype[n->modseq_type]);
		buf_printf(b, " %llu", (unsigned long long)n->number);
		break;
	case IMAP_SEARCH_UID:
	case IMAP_SEARCH_SEQSET:
		buf_putc(b, ' ');
		if (n->seqset.searchres)
			buf_putc(b, '$');
		else
			imap_seqset_format(&n->seqset, b);
		break;
	default:
		break;
	}
}

static void
dump_list(struct buf *b, const struct imap_search_node *n, const char *sep)
{
	for (; n != NULL; n = n->next) {
		dump_node(b, n);
		if (n->next != NULL)
			buf_puts(b, sep);
	}
}

/* Parse "a SEARCH <criteria>" then the program. */
static int
parse(const char *criteria, size_t len, struct imap_search_program *prog,
    const char **err)
{
	struct buf line = BUF_INIT;
	struct imap_cmd_args cmd;
	const char *perr;
	int r;

	buf_puts(&line, "a SEARCH ");
	buf_append(&line, criteria, len);
	if (imap_parse_command(line.data, line.len, NULL, &cmd, &perr) != 0)
		fail_msg("command refused: %s: %s", criteria, perr);
	r = imap_search_parse(cmd.args, cmd.count, prog, err);
	imap_cmd_args_free(&cmd);
	buf_free(&line);
	return r;
}

#define P(lit, prog, err)	parse(lit, sizeof(lit) - 1, prog, err)

static void
check(const char *criteria, const char *want)
{
	struct imap_search_program prog;
	struct buf b = BUF_INIT;
	const char *err = NULL;

	if (parse(criteria, strlen(criteria), &prog, &err) != 0)
		fail_msg("refused %s: %s", criteria, err);
	assert_non_null(prog.root);
	assert_int_equal(prog.root->key, IMAP_SEARCH_AND);
	dump_list(&b, prog.root->children, " ");
	if (strcmp(buf_cstr(&b), want) != 0)
		fail_msg("%s: got [%s] want [%s]", criteria, buf_cstr(&b),
		    want);
	buf_free(&b);
	imap_search_program_free(&prog);
}

static void
check_bad(const char *criteria, const char *want_err)
{
	struct imap_search_program prog;
	const char *err = NULL;

	if (parse(criteria, strlen(criteria), &prog, &err) != -1)
		fail_msg("accepted %s", criteria);
	assert_non_null(err);
	if (want_err != NULL && strcmp(err, want_err) != 0)
		fail_msg("%s: error [%s] want [%s]", criteria, err, want_err);
	imap_search_program_free(&prog);
}

static void
test_rfc_examples(void **state)
{
	/* RFC 9051 6.4.4 / RFC 3501 6.4.4 */
	check("FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
	    "FLAGGED SINCE 1994-02-01 NOT(FROM \"Smith\")");
	check("TEXT \"string not in mailbox\"",
	    "TEXT \"string not in mailbox\"");
	check("OR BODY \"hello\" SUBJECT world",
	    "OR(BODY \"hello\",SUBJECT \"world\")");
	check("DELETED FROM \"SMITH\" SINCE 1-Feb-1994",
	    "DELETED FROM \"SMITH\" SINCE 1994-02-01");
	/* RFC 7162 3.1.5 */
	check("MODSEQ \"/flags/\\\\draft\" all 620162338",
	    "MODSEQ[\\draft,all] 620162338");
	check("MODSEQ 620162338", "MODSEQ 620162338");
	/* RFC 5032 */
	check("YOUNGER 259200", "YOUNGER 259200");
	check("OLDER 1 YOUNGER 4294967295", "OLDER 1 YOUNGER 4294967295");
}

static void
test_all_keys(void **state)
{
	check("ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
	    "ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN");
	check("BCC a BODY b CC c FROM d SUBJECT e TEXT f TO g",
	    "BCC \"a\" BODY \"b\" CC \"c\" FROM \"d\" SUBJECT \"e\" "
	    "TEXT \"f\" TO \"g\"");
	check("BEFORE 1-Jan-2000 ON 31-Dec-1999 SINCE \"2-Mar-2001\" "
	    "SENTBEFORE 29-Feb-2004 SENTON 01-Jan-1970 SENTSINCE 9-Sep-9999",
	    "BEFORE 2000-01-01 ON 1999-12-31 SINCE 2001-03-02 "
	    "SENTBEFORE 2004-02-29 SENTON 1970-01-01 SENTSINCE 9999-09-09");
	check("LARGER 0 SMALLER 9223372036854775807",
	    "LARGER 0 SMALLER 9223372036854775807");
	check("KEYWORD $Forwarded UNKEYWORD \"Junk\"",
	    "KEYWORD \"$Forwarded\" UNKEYWORD \"Junk\"");
	check("HEADER Message-ID \"<x@y>\" HEADER X-Spam \"\"",
	    "HEADER \"Message-ID\" \"<x@y>\" HEADER \"X-Spam\" \"\"");
	check("UID 1:* 2,4:7,9,12:* *", "UID 1:* SEQ 2,4:7,9,12:* SEQ *");
	check("UID 5:3,1", "UID 1,3:5");
	/* Case-insensitive keys; NIL as a search string is the atom. */
	check("from x Since 1-feb-1994 uNsEeN subject NIL",
	    "FROM \"x\" SINCE 1994-02-01 UNSEEN SUBJECT \"NIL\"");
	/* Literal strings, 8-bit included. */
	check("SUBJECT {6}\r\nAb\r\ncd", "SUBJECT \"Ab\r\ncd\"");
	check("BODY {4}\r\n\xc3\xa4\xc3\xb6", "BODY \"\xc3\xa4\xc3\xb6\"");
	/* MODSEQ entry types. */
	check("MODSEQ \"/flags/$Junk\" shared 0 MODSEQ \"/flags/\\\\Seen\" "
	    "PRIV 9223372036854775807",
	    "MODSEQ[$Junk,shared] 0 MODSEQ[\\Seen,priv] 9223372036854775807");
}

static void
test_groups(void **state)
{
	check("(OR FROM a FROM b) (SEEN UNSEEN)",
	    "AND(OR(FROM \"a\",FROM \"b\")) AND(SEEN UNSEEN)");
	check("OR (FROM a TO b) NOT (SEEN)",
	    "OR(AND(FROM \"a\" TO \"b\"),NOT(AND(SEEN)))");
	check("OR OR OR FROM a FROM b FROM c FROM d",
	    "OR(OR(OR(FROM \"a\",FROM \"b\"),FROM \"c\"),FROM \"d\")");
	check("NOT NOT SEEN", "NOT(NOT(SEEN))");
	check("((((ALL))))", "AND(AND(AND(AND(ALL))))");
}

static void
test_options(void **state)
{
	struct imap_search_program p;
	const char *err;

	assert_int_equal(P("CHARSET UTF-8 TEXT {6}\r\nXXXXXX", &p,
	    &err), 0);
	assert_string_equal(p.charset, "UTF-8");
	assert_false(p.has_return);
	imap_search_program_free(&p);

	assert_int_equal(P("RETURN (MIN COUNT) FLAGGED", &p, &err),
	    0);
	assert_true(p.has_return);
	assert_int_equal(p.return_opts, IMAP_SEARCH_RETURN_MIN |
	    IMAP_SEARCH_RETURN_COUNT);
	assert_null(p.charset);
	imap_search_program_free(&p);

	/* RFC 4731: RETURN () is RETURN (ALL). */
	assert_int_equal(P("RETURN () ALL", &p, &err), 0);
	assert_true(p.has_return);
	assert_int_equal(p.return_opts, IMAP_SEARCH_RETURN_ALL);
	imap_search_program_free(&p);

	assert_int_equal(P("return (save max all min count) charset "
	    "us-ascii 1:5", &p, &err), 0);
	assert_int_equal(p.return_opts, 0x1f);
	assert_string_equal(p.charset, "us-ascii");
	imap_search_program_free(&p);

	/* Either order. */
	assert_int_equal(P("CHARSET \"UTF-8\" RETURN (SAVE) ALL", &p,
	    &err), 0);
	assert_int_equal(p.return_opts, IMAP_SEARCH_RETURN_SAVE);
	assert_string_equal(p.charset, "UTF-8");
	imap_search_program_free(&p);

	/* Flags for the session. */
	assert_int_equal(P("UID $ SEEN", &p, &err), 0);
	assert_true(p.uses_searchres);
	assert_false(p.uses_modseq);
	imap_search_program_free(&p);
	assert_int_equal(P("NOT $", &p, &err), 0);
	assert_true(p.uses_searchres);
	imap_search_program_free(&p);
	assert_int_equal(P("OR SEEN MODSEQ 5", &p, &err), 0);
	assert_true(p.uses_modseq);
	assert_false(p.uses_searchres);
	imap_search_program_free(&p);
	check("$ UID $", "SEQ $ UID $");
}

static void
test_parse_keys(void **state)
{
	struct imap_cmd_args cmd;
	struct imap_search_program p;
	const char *err;

	/* SORT-style: no options recognised, CHARSET is an unknown key. */
	assert_int_equal(imap_parse_command("a X CHARSET x ALL", 17, NULL,
	    &cmd, &err), 0);
	assert_int_equal(imap_search_parse_keys(cmd.args, cmd.count, &p,
	    &err), -1);
	assert_string_equal(err, "Unknown search key: CHARSET");
	imap_search_program_free(&p);
	assert_int_equal(imap_search_parse_keys(cmd.args + 2, cmd.count - 2,
	    &p, &err), 0);
	assert_int_equal(p.root->children->key, IMAP_SEARCH_ALL);
	assert_null(p.root->children->next);
	imap_search_program_free(&p);
	imap_cmd_args_free(&cmd);
}

static void
test_errors(void **state)
{
	struct imap_search_program p;
	const char *err;

	/* No criteria at all. */
	assert_int_equal(imap_search_parse(NULL, 0, &p, &err), -1);
	assert_string_equal(err, "Missing search criteria");
	imap_search_program_free(&p);

	check_bad("CHARSET", "CHARSET needs a charset name");
	check_bad("CHARSET (a) ALL", "CHARSET needs a charset name");
	check_bad("CHARSET UTF-8", "Missing search criteria");
	check_bad("RETURN", "RETURN needs a list of options");
	check_bad("RETURN MIN ALL", "RETURN needs a list of options");
	check_bad("RETURN (FOO) ALL", "Unknown RETURN option: FOO");
	check_bad("RETURN (\"MIN\") ALL", "Invalid RETURN option");
	check_bad("RETURN (MIN) RETURN (MAX) ALL",
	    "Unknown search key: RETURN");
	check_bad("CHARSET a CHARSET b ALL", "Unknown search key: CHARSET");
	check_bad("FOO", "Unknown search key: FOO");
	check_bad("ALL FUZZY x", "Unknown search key: FUZZY");
	check_bad("NIL", "Unknown search key: NIL");
	check_bad("\"FROM\" x", "Invalid search key");
	check_bad("{4}\r\nFROM x", "Invalid search key");
	check_bad("NOT", "Missing search key");
	check_bad("OR ALL", "Missing search key");
	check_bad("FROM", "Missing search string");
	check_bad("FROM (a)", "Invalid search string");
	check_bad("FROM ~{1}\r\na", "Invalid search string");
	check_bad("HEADER Subject", "Missing search string");
	check_bad("SINCE", "Missing date");
	check_bad("SINCE 1-Foo-1994", "Invalid date");
	check_bad("SINCE 31-Feb-1994", "Invalid date");
	check_bad("BEFORE (1-Feb-1994)", "Invalid date");
	check_bad("LARGER", "Missing number");
	check_bad("LARGER abc", "Invalid number: abc");
	check_bad("LARGER -1", "Invalid number: -1");
	check_bad("LARGER \"5\"", "Invalid number: 5");
	check_bad("LARGER 9223372036854775808",
	    "Invalid number: 9223372036854775808");
	check_bad("OLDER 0", "Invalid number: 0");
	check_bad("YOUNGER 4294967296", "Invalid number: 4294967296");
	check_bad("UID", "Missing UID set");
	check_bad("UID 0", "Invalid sequence set: 0");
	check_bad("UID abc", "Invalid sequence set: abc");
	check_bad("UID \"1\"", "Invalid sequence set: 1");
	check_bad("1:0", "Invalid sequence set: 1:0");
	check_bad("1,,2", "Invalid sequence set: 1,,2");
	check_bad("$1", "Invalid sequence set: $1");
	check_bad("*x", "Invalid sequence set: *x");
	check_bad("()", "Empty search key list");
	check_bad("ALL (SEEN ())", "Empty search key list");
	check_bad("KEYWORD", "Missing keyword");
	check_bad("KEYWORD \\Seen", "Invalid keyword");
	check_bad("KEYWORD \"a b\"", "Invalid keyword");
	check_bad("KEYWORD \"\"", "Invalid keyword");
	check_bad("UNKEYWORD (x)", "Invalid keyword");
	check_bad("MODSEQ", "Missing MODSEQ value");
	check_bad("MODSEQ x", "Invalid number: x");
	check_bad("MODSEQ 9223372036854775808",
	    "Invalid number: 9223372036854775808");
	check_bad("MODSEQ \"/flags/\\\\draft\" foo 5",
	    "Invalid MODSEQ entry type");
	check_bad("MODSEQ \"/flags/\\\\draft\"", "Missing MODSEQ entry type");
	check_bad("MODSEQ \"/flags/\\\\draft\" all", "Missing number");
	check_bad("MODSEQ \"/foo/x\" all 5", "Invalid MODSEQ entry name");
	check_bad("MODSEQ \"/flags/\" all 5", "Invalid MODSEQ entry name");
	check_bad("MODSEQ \"/flags/\\\\\" all 5", "Invalid MODSEQ entry name");
	check_bad("MODSEQ \"/flags/a b\" all 5", "Invalid MODSEQ entry name");
	check_bad("MODSEQ \"/flags/a\\\\b\" all 5",
	    "Invalid MODSEQ entry name");
	check_bad("MODSEQ (x) all 5", "Invalid MODSEQ entry name");
	/* Long unknown keys are cut in the message. */
	check_bad("ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ"
	    "ABCDEFGHIJABCDEFGHIJ",
	    "Unknown search key: ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ"
	    "ABCDEFGHIJABCDEFGHIJ");
}

static void
test_depth(void **state)
{
	struct buf b = BUF_INIT;
	struct imap_search_program p;
	const char *err;

	/* 64 NOTs are fine, 65 are not. */
	for (int i = 0; i < 64; i++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	assert_int_equal(parse(b.data, b.len, &p, &err), 0);
	imap_search_program_free(&p);
	buf_reset(&b);
	for (int i = 0; i < 65; i++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	assert_int_equal(parse(b.data, b.len, &p, &err), -1);
	assert_string_equal(err, "Search criteria nested too deeply");
	imap_search_program_free(&p);
	/* 100,000 NOTs and ORs. */
	buf_reset(&b);
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "NOT ");
	buf_puts(&b, "ALL");
	{
		struct imap_parse_limits lim = { 32, 1000000 };
		struct imap_cmd_args cmd;
		struct buf line = BUF_INIT;

		buf_puts(&line, "a SEARCH ");
		buf_append(&line, b.data, b.len);
		assert_int_equal(imap_parse_command(line.data, line.len, &lim,
		    &cmd, &err), 0);
		assert_int_equal(imap_search_parse(cmd.args, cmd.count, &p,
		    &err), -1);
		assert_string_equal(err, "Search criteria nested too deeply");
		imap_search_program_free(&p);
		imap_cmd_args_free(&cmd);

		buf_reset(&line);
		buf_puts(&line, "a SEARCH");
		for (int i = 0; i < 100000; i++)
			buf_puts(&line, " OR");
		assert_int_equal(imap_parse_command(line.data, line.len, &lim,
		    &cmd, &err), 0);
		assert_int_equal(imap_search_parse(cmd.args, cmd.count, &p,
		    &err), -1);
		assert_string_equal(err, "Search criteria nested too deeply");
		imap_search_program_free(&p);
		imap_cmd_args_free(&cmd);

		/* 200 nested parentheses (allowed by the parser here). */
		lim.max_list_depth = 1000;
		buf_reset(&line);
		buf_puts(&line, "a SEARCH ");
		for (int i = 0; i < 200; i++)
			buf_putc(&line, '(');
		buf_puts(&line, "ALL");
		for (int i = 0; i < 200; i++)
			buf_putc(&line, ')');
		assert_int_equal(imap_parse_command(line.data, line.len, &lim,
		    &cmd, &err), 0);
		assert_int_equal(imap_search_parse(cmd.args, cmd.count, &p,
		    &err), -1);
		assert_string_equal(err, "Search criteria nested too deeply");
		imap_search_program_free(&p);
		imap_cmd_args_free(&cmd);

		/* 64 parentheses are still fine. */
		buf_reset(&line);
		buf_puts(&line, "a SEARCH ");
		for (int i = 0; i < 64; i++)
			buf_putc(&line, '(');
		buf_puts(&line, "ALL");
		for (int i = 0; i < 64; i++)
			buf_putc(&line, ')');
		assert_int_equal(imap_parse_command(line.data, line.len, &lim,
		    &cmd, &err), 0);
		assert_int_equal(imap_search_parse(cmd.args, cmd.count, &p,
		    &err), 0);
		imap_search_program_free(&p);
		imap_cmd_args_free(&cmd);

		/* A flat program of 9,998 keys: no depth, no stack. */
		buf_reset(&line);
		buf_puts(&line, "a SEARCH");
		for (int i = 0; i < 9998; i++)
			buf_puts(&line, " SEEN");
		assert_int_equal(imap_parse_command(line.data, line.len, NULL,
		    &cmd, &err), 0);
		assert_int_equal(imap_search_parse(cmd.args, cmd.count, &p,
		    &err), 0);
		{
			size_t n = 0;

			for (const struct imap_search_node *x =
			    p.root->children; x != NULL; x = x->next)
				n++;
			assert_int_equal(n, 9998);
		}
		imap_search_program_free(&p);
		imap_cmd_args_free(&cmd);
		buf_free(&line);
	}
	buf_free(&b);
}

/* Every prefix of a long program: parsed or refused, no leaks. */
static void
test_prefixes(void **state)
{
	static const char prog[] = "RETURN (MIN MAX) CHARSET UTF-8 OR "
	    "(FROM a SINCE 1-Feb-1994) NOT HEADER X-A \"b\" UID 1:*,5 "
	    "MODSEQ \"/flags/\\\\Seen\" all 5 KEYWORD k LARGER 10";
	struct imap_search_program p;
	const char *err;

	for (size_t i = 0; i <= sizeof(prog) - 1; i++) {
		struct buf line = BUF_INIT;
		struct imap_cmd_args cmd;

		buf_puts(&line, "a SEARCH ");
		buf_append(&line, prog, i);
		if (imap_parse_command(line.data, line.len, NULL, &cmd,
		    &err) == 0) {
			(void)imap_search_parse(cmd.args, cmd.count, &p, &err);
			imap_search_program_free(&p);
		}
		imap_cmd_args_free(&cmd);
		buf_free(&line);
	}
	assert_int_equal(parse(prog, sizeof(prog) - 1, &p, &err), 0);
	imap_search_program_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_parse_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
