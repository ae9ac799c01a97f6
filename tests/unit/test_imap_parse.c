/*
 * test_imap_parse - IMAP command parsing, the literal framing helper (fed
 * whole, one byte at a time and at every split point through a small
 * framer that behaves like the session), FETCH attributes, and hostile
 * input.  Arguments are compared through a canonical dump:
 *
 *	atom -> text   quoted -> "text"   NIL -> <NIL>   list -> (a b)
 *	literal -> {n}data, {n+}data, ~{n}data (data raw, may hold CR LF)
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

#define S(x)	x, sizeof(x) - 1

static void
dump_args(struct buf *b, const struct imap_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ' ');
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
			buf_append(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_NIL:
			buf_puts(b, "<NIL>");
			break;
		case IMAP_ARG_QUOTED:
			buf_putc(b, '"');
			buf_append(b, a[i].str, a[i].len);
			buf_putc(b, '"');
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(b, "%s{%zu%s}", a[i].literal8 ? "~" : "",
			    a[i].len, a[i].nonsync ? "+" : "");
			buf_append(b, a[i].str, a[i].len);
			break;
		case IMAP_ARG_LIST:
			buf_putc(b, '(');
			dump_args(b, a[i].list, a[i].list_count);
			buf_putc(b, ')');
			/* Every list is EOL-terminated. */
			assert_int_equal(a[i].list[a[i].list_count].type,
			    IMAP_ARG_EOL);
			break;
		case IMAP_ARG_EOL:
			buf_puts(b, "<EOL!>");
			break;
		}
		/* Strings are NUL-terminated. */
		if (a[i].str != NULL)
			assert_int_equal(a[i].str[a[i].len], '\0');
	}
}

/* Parse and compare tag, name, uid flag and the argument dump. */
static void
check_ok_len(const char *in, size_t len, const char *tag, const char *name,
    bool uid, const char *args, size_t args_len)
{
	struct imap_cmd_args cmd;
	const char *err = NULL;
	struct buf b = BUF_INIT;

	if (imap_parse_command(in, len, NULL, &cmd, &err) != 0)
		fail_msg("refused [%.*s]: %s", (int)len, in, err);
	assert_string_equal(cmd.tag, tag);
	assert_string_equal(cmd.name, name);
	assert_int_equal(cmd.uid, uid);
	assert_non_null(cmd.args);
	assert_int_equal(cmd.args[cmd.count].type, IMAP_ARG_EOL);
	dump_args(&b, cmd.args, cmd.count);
	if (b.len != args_len || memcmp(buf_cstr(&b), args, args_len) != 0)
		fail_msg("[%.*s]: got [%s] want [%.*s]", (int)len, in,
		    buf_cstr(&b), (int)args_len, args);
	buf_free(&b);
	imap_cmd_args_free(&cmd);
	/* Free is idempotent. */
	imap_cmd_args_free(&cmd);
}

#define OK(in, tag, name, args) \
	check_ok_len(in, sizeof(in) - 1, tag, name, false, args, \
	    sizeof(args) - 1)
#define OK_UID(in, tag, name, args) \
	check_ok_len(in, sizeof(in) - 1, tag, name, true, args, \
	    sizeof(args) - 1)

static void
check_bad_len(const char *in, size_t len, const char *tag, const char *msg)
{
	struct imap_cmd_args cmd;
	const char *err = NULL;

	if (imap_parse_command(in, len, NULL, &cmd, &err) != -1)
		fail_msg("accepted [%.*s]", (int)len, in);
	assert_non_null(err);
	if (tag == NULL)
		assert_null(cmd.tag);
	else
		assert_string_equal(cmd.tag, tag);
	if (msg != NULL && strcmp(err, msg) != 0)
		fail_msg("[%.*s]: error [%s] want [%s]", (int)len, in, err,
		    msg);
	assert_null(cmd.args);
	assert_int_equal(cmd.count, 0);
	imap_cmd_args_free(&cmd);
}

#define BAD(in, tag, msg)	check_bad_len(in, sizeof(in) - 1, tag, msg)

static void
test_basic(void **state)
{
	OK("A001 NOOP", "A001", "NOOP", "");
	OK("a capability", "a", "CAPABILITY", "");
	OK("a1 LOGIN fred secret", "a1", "LOGIN", "fred secret");
	/* The brief's example. */
	OK("a1 LOGIN {4}\r\nuser {6+}\r\nsecret", "a1", "LOGIN",
	    "{4}user {6+}secret");
	/* RFC 9051 6.3.1 / 6.3.9 / 6.4.6 / 6.3.12 examples. */
	OK("A142 SELECT INBOX", "A142", "SELECT", "INBOX");
	OK("A682 LIST \"\" *", "A682", "LIST", "\"\" *");
	OK("A101 LIST \"\" \"\"", "A101", "LIST", "\"\" \"\"");
	OK("A202 LIST ~/Mail/ %", "A202", "LIST", "~/Mail/ %");
	OK("A003 STORE 2:4 +FLAGS (\\Deleted)", "A003", "STORE",
	    "2:4 +FLAGS (\\Deleted)");
	OK("A003 APPEND saved-messages (\\Seen) {5}\r\nhello", "A003",
	    "APPEND", "saved-messages (\\Seen) {5}hello");
	OK("A003 APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 "
	    "-0700\" {5+}\r\nhello", "A003", "APPEND",
	    "saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" "
	    "{5+}hello");
	OK("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", "A654",
	    "FETCH", "2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])");
	OK("A283 SEARCH CHARSET UTF-8 TEXT {7}\r\nXXXXXXX", "A283", "SEARCH",
	    "CHARSET UTF-8 TEXT {7}XXXXXXX");
	OK("A284 SEARCH SINCE 1-Feb-1994 NOT FROM \"Smith\"", "A284",
	    "SEARCH", "SINCE 1-Feb-1994 NOT FROM \"Smith\"");
	OK("a STATUS blurdybloop (UIDNEXT MESSAGES)", "a", "STATUS",
	    "blurdybloop (UIDNEXT MESSAGES)");
	/* Tags: any ASTRING-CHAR but "+", "]" included. */
	OK("a] NOOP", "a]", "NOOP", "");
}

static void
test_uid(void **state)
{
	struct imap_cmd_args cmd;
	const char *err;

	OK_UID("a UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]"
	    "<0.2048>)", "a", "FETCH",
	    "1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>)");
	OK_UID("a uid search 1:*", "a", "SEARCH", "1:*");
	assert_int_equal(imap_parse_command(S("t1 uid Store 1 FLAGS ()"),
	    NULL, &cmd, &err), 0);
	assert_string_equal(cmd.full_name, "UID STORE");
	assert_string_equal(cmd.name, "STORE");
	assert_int_equal(cmd.count, 3);
	assert_int_equal(cmd.args[2].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[2].list_count, 0);
	assert_int_equal(cmd.args[2].list[0].type, IMAP_ARG_EOL);
	imap_cmd_args_free(&cmd);
	assert_int_equal(imap_parse_command(S("t1 noop"), NULL, &cmd, &err),
	    0);
	assert_string_equal(cmd.full_name, "NOOP");
	assert_false(cmd.uid);
	imap_cmd_args_free(&cmd);
	BAD("a UID", "a", "Missing command after UID");
	BAD("a UID ", "a", "Missing command name");
	BAD("a UID FE\"TCH", "a", "Invalid characters in command name");
}

static void
test_strings(void **state)
{
	struct imap_cmd_args cmd;
	const char *err;

	/* Escapes: only \" and \\ */
	OK("a LOGIN \"fred \\\"x\\\" \\\\y\" \"\"", "a", "LOGIN",
	    "\"fred \"x\" \\y\" \"\"");
	/* UTF-8 in quoted strings (RFC 6855); other CTLs are TEXT-CHARs. */
	OK("a SELECT \"Entw\xc3\xbcrfe\"", "a", "SELECT",
	    "\"Entw\xc3\xbcrfe\"");
	OK("a X \"tab\there\x01\"", "a", "X", "\"tab\there\x01\"");
	/* NIL, any case; quoted "NIL" is a string. */
	OK("a X NIL nil Nil \"NIL\" NILS", "a", "X",
	    "<NIL> <NIL> <NIL> \"NIL\" NILS");
	/* Literals: empty, CRLF and specials inside, literal8 with NUL. */
	OK("a X {0}\r\n", "a", "X", "{0}");
	OK("a X {0}\r\n {1}\r\n)", "a", "X", "{0} {1})");
	OK("a X {6}\r\n(\"\r\n{)", "a", "X", "{6}(\"\r\n{)");
	OK("a APPEND INBOX ~{5}\r\nh\0llo", "a", "APPEND",
	    "INBOX ~{5}h\0llo");
	OK("a APPEND INBOX ~{5+}\r\nhello", "a", "APPEND",
	    "INBOX ~{5+}hello");
	OK("a X {005}\r\nhello", "a", "X", "{5}hello");
	/* A literal that looks like a marker inside. */
	OK("a APPEND x {8}\r\nx{2}\r\nyz", "a", "APPEND", "x {8}x{2}\r\nyz");
	/* Literal as the last list element, and between lists. */
	OK("a X ({1}\r\na) ({2}\r\nbc)", "a", "X", "({1}a) ({2}bc)");
	/* Bare LF after the marker is tolerated. */
	OK("a LOGIN {4}\nuser pass", "a", "LOGIN", "{4}user pass");
	/* "~" is an atom char unless "{" follows. */
	OK("a X ~ ~a a~", "a", "X", "~ ~a a~");

	/* literal8 and NUL: astring refuses them, len is exact. */
	assert_int_equal(imap_parse_command(S("a X ~{3}\r\na\0b {3}\r\nabc"),
	    NULL, &cmd, &err), 0);
	assert_int_equal(cmd.count, 2);
	assert_true(cmd.args[0].literal8);
	assert_int_equal(cmd.args[0].len, 3);
	assert_memory_equal(cmd.args[0].str, "a\0b", 4);
	assert_null(imap_arg_astring(&cmd.args[0]));
	assert_true(imap_arg_is_string(&cmd.args[0]));
	assert_false(cmd.args[1].literal8);
	assert_string_equal(imap_arg_astring(&cmd.args[1]), "abc");
	imap_cmd_args_free(&cmd);
}

static void
test_lenient_spacing(void **state)
{
	OK("a X  a   b ", "a", "X", "a b");
	OK("a X ( a  b )", "a", "X", "(a b)");
	OK("a X (())", "a", "X", "(())");
	OK("a X ((a) (b))", "a", "X", "((a) (b))");
	OK("a NOOP ", "a", "NOOP", "");
	OK("a X (a (b (c)) ())", "a", "X", "(a (b (c)) ())");
}

static void
test_atoms_sections(void **state)
{
	/* Flags, wildcards and backslashes in atoms. */
	OK("a STORE 1 FLAGS (\\Seen \\Answered $Forwarded)", "a", "STORE",
	    "1 FLAGS (\\Seen \\Answered $Forwarded)");
	OK("a LIST \"\" %/*", "a", "LIST", "\"\" %/*");
	OK("a X a]b ]", "a", "X", "a]b ]");
	/* One atom, spaces/parens/quotes inside brackets. */
	OK("a FETCH 1 BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>", "a",
	    "FETCH", "1 BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>");
	OK("a FETCH 1 (BODY[HEADER.FIELDS (\"From\" \"X )y\")] UID)", "a",
	    "FETCH", "1 (BODY[HEADER.FIELDS (\"From\" \"X )y\")] UID)");
	OK("a FETCH 1 (BODY[] BODY[1.2.MIME] BINARY.PEEK[1]<0.10>)", "a",
	    "FETCH", "1 (BODY[] BODY[1.2.MIME] BINARY.PEEK[1]<0.10>)");
	OK("a FETCH 1 BODY[\"]\"]", "a", "FETCH", "1 BODY[\"]\"]");
	/* Brackets in search strings still balance. */
	OK("a SEARCH SUBJECT [PATCH]", "a", "SEARCH", "SUBJECT [PATCH]");
	OK("a X [a b] [] x[y]z", "a", "X", "[a b] [] x[y]z");
	/* Each struct imap_arg of a section atom is one arg. */
	{
		struct imap_cmd_args cmd;
		const char *err;

		assert_int_equal(imap_parse_command(S("a FETCH 1 "
		    "BODY[HEADER.FIELDS (a b)]<1.2>"), NULL, &cmd, &err), 0);
		assert_int_equal(cmd.count, 2);
		assert_int_equal(cmd.args[1].type, IMAP_ARG_ATOM);
		assert_string_equal(cmd.args[1].str,
		    "BODY[HEADER.FIELDS (a b)]<1.2>");
		assert_int_equal(cmd.args[1].len, 30);
		imap_cmd_args_free(&cmd);
	}
	/*
	 * Outside BODY/BINARY sections "[" is an ordinary ASTRING-CHAR: an
	 * unbalanced one is fine and spaces still separate arguments.
	 */
	{
		struct imap_cmd_args cmd;
		const char *err;

		assert_int_equal(imap_parse_command(S("a CREATE foo[bar"), NULL,
		    &cmd, &err), 0);
		assert_int_equal(cmd.count, 1);
		assert_string_equal(cmd.args[0].str, "foo[bar");
		imap_cmd_args_free(&cmd);
		assert_int_equal(imap_parse_command(S("a RENAME a[b c]d"), NULL,
		    &cmd, &err), 0);
		assert_int_equal(cmd.count, 2);
		assert_string_equal(cmd.args[0].str, "a[b");
		assert_string_equal(cmd.args[1].str, "c]d");
		imap_cmd_args_free(&cmd);
		assert_int_equal(imap_parse_command(S("a SEARCH SUBJECT foo[bar"),
		    NULL, &cmd, &err), 0);
		assert_int_equal(cmd.count, 2);
		imap_cmd_args_free(&cmd);
		/* body[ in any case still opens a section. */
		assert_int_equal(imap_parse_command(S("a FETCH 1 body.peek[1 "
		    "x]"), NULL, &cmd, &err), 0);
		assert_int_equal(cmd.count, 2);
		imap_cmd_args_free(&cmd);
	}
}

static void
test_bad_head(void **state)
{
	BAD("", NULL, "Empty command");
	BAD(" NOOP", NULL, "Invalid tag");
	BAD("+ NOOP", NULL, "Invalid tag");
	BAD("*tag* NOOP", NULL, "Invalid tag");
	BAD("* NOOP", NULL, "Invalid tag");
	BAD("a+ NOOP", NULL, "Invalid characters in tag");
	BAD("a(b NOOP", NULL, "Invalid characters in tag");
	BAD("a{1} NOOP", NULL, "Invalid characters in tag");
	BAD("a\"b NOOP", NULL, "Invalid characters in tag");
	BAD("a%b NOOP", NULL, "Invalid characters in tag");
	BAD("a*b NOOP", NULL, "Invalid characters in tag");
	BAD("a\\b NOOP", NULL, "Invalid characters in tag");
	BAD("\x80 NOOP", NULL, "Invalid tag");
	BAD("a\x80 NOOP", NULL, "Invalid characters in tag");
	BAD("a\0 NOOP", NULL, "Invalid characters in tag");
	BAD("a\tNOOP", NULL, "Invalid characters in tag");
	BAD("a1", "a1", "Missing command name");
	BAD("a1 ", "a1", "Missing command name");
	BAD("a1  NOOP", "a1", "Missing command name");
	BAD("a1 NO\"OP", "a1", "Invalid characters in command name");
	BAD("a1 NOOP(", "a1", "Invalid characters in command name");
	BAD("a1 LOGIN{4}\r\nuser", "a1", "Invalid characters in command name");
	BAD("a1 NO]OP", "a1", "Invalid characters in command name");
	BAD("a1 NOOP\r", "a1", "Invalid characters in command name");
}

static void
test_bad_args(void **state)
{
	BAD("a X (a", "a", "Missing ')'");
	BAD("a X ((a)", "a", "Missing ')'");
	BAD("a X a)", "a", "Unexpected ')'");
	BAD("a X )", "a", "Unexpected ')'");
	BAD("a X (a))", "a", "Unexpected ')'");
	BAD("a X (a)(b)", "a", "Missing space after ')'");
	BAD("a X (a)b", "a", "Missing space after ')'");
	BAD("a X \"abc", "a", "Missing '\"'");
	BAD("a X \"abc\\", "a", "Missing '\"'");
	BAD("a X \"a\\\"", "a", "Missing '\"'");
	BAD("a X \"a\\b\"", "a", "Invalid escape in quoted string");
	BAD("a X \"a\\n\"", "a", "Invalid escape in quoted string");
	BAD("a X \"a\r\nb\"", "a", "Invalid characters in quoted string");
	BAD("a X \"a\nb\"", "a", "Invalid characters in quoted string");
	BAD("a X \"a\0b\"", "a", "Invalid characters in quoted string");
	BAD("a X \"a\"b", "a", "Missing space after quoted string");
	BAD("a X \"a\"(b)", "a", "Missing space after quoted string");
	BAD("a X a\"b\"", "a", "Invalid characters in atom");
	BAD("a X a(b)", "a", "Invalid characters in atom");
	BAD("a X a{3}\r\nabc", "a", "Invalid characters in atom");
	BAD("a X a\0b", "a", "Invalid characters in atom");
	BAD("a X \0", "a", "Invalid characters in atom");
	BAD("a X \x80", "a", "Invalid characters in atom");
	BAD("a X a\xc3\xa4", "a", "Invalid characters in atom");
	BAD("a X a\tb", "a", "Invalid characters in atom");
	BAD("a X a\r\nb", "a", "Invalid characters in atom");
	BAD("a X \r\n", "a", "Invalid characters in atom");
	BAD("a X \x7f", "a", "Invalid characters in atom");
	/* Literals. */
	BAD("a X {3}\r\nab", "a", "Literal data missing");
	BAD("a X {3}", "a", "Missing CRLF after literal size");
	BAD("a X {3}\r", "a", "Missing CRLF after literal size");
	BAD("a X {3}\rabc", "a", "Missing CRLF after literal size");
	BAD("a X {3}x\r\nabc", "a", "Missing CRLF after literal size");
	BAD("a X {3} \r\nabc", "a", "Missing CRLF after literal size");
	BAD("a X {-1}\r\n", "a", "Invalid literal size");
	BAD("a X {}\r\n", "a", "Invalid literal size");
	BAD("a X {+}\r\n", "a", "Invalid literal size");
	BAD("a X {1++}\r\na", "a", "Invalid literal size");
	BAD("a X {1+2}\r\na", "a", "Invalid literal size");
	BAD("a X {3\r\nabc", "a", "Invalid literal size");
	BAD("a X { 3}\r\nabc", "a", "Invalid literal size");
	BAD("a X ~{}\r\n", "a", "Invalid literal size");
	BAD("a X {4294967296}\r\n", "a", "Literal size too large");
	BAD("a X {99999999999999999999}\r\n", "a", "Literal size too large");
	BAD("a X ~{99999999999999999999}\r\n", "a", "Literal size too large");
	BAD("a X {3}\r\nabcd", "a", "Missing space after literal");
	BAD("a X {3}\r\nabc(", "a", "Missing space after literal");
	BAD("a X {3}\r\na\0c", "a", "NUL in literal (use literal8)");
	BAD("a X {1+}\r\n\0", "a", "NUL in literal (use literal8)");
	/* Brackets. */
	BAD("a FETCH 1 BODY[", "a", "Missing ']'");
	BAD("a FETCH 1 BODY[HEADER", "a", "Missing ']'");
	BAD("a FETCH 1 (BODY[HEADER)", "a", "Missing ']'");
	BAD("a FETCH 1 BODY[HEADER.FIELDS (a[b])]", "a", "Nested '[' in atom");
	BAD("a FETCH 1 BODY[\"a]", "a", "Missing '\"'");
	BAD("a FETCH 1 BODY[\"a\\", "a", "Missing '\"'");
	BAD("a FETCH 1 BODY[\r\n]", "a", "Invalid characters in section");
	BAD("a FETCH 1 BODY[\x80]", "a", "Invalid characters in section");
	BAD("a FETCH 1 BODY[\"\x80\"]", "a", "Invalid characters in section");
	BAD("a FETCH 1 BODY[\0]", "a", "Invalid characters in section");
	BAD("a FETCH 1 BODY[](", "a", "Invalid characters in atom");
}

static void
test_limits(void **state)
{
	struct imap_parse_limits lim;
	struct imap_cmd_args cmd;
	struct buf b = BUF_INIT;
	const char *err;

	imap_parse_limits_default(&lim);
	assert_int_equal(lim.max_list_depth, 32);
	assert_int_equal(lim.max_args, 10000);

	/* 32 nested lists are fine, 33 are not. */
	buf_puts(&b, "a X ");
	for (int i = 0; i < 32; i++)
		buf_putc(&b, '(');
	buf_putc(&b, 'x');
	for (int i = 0; i < 32; i++)
		buf_putc(&b, ')');
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    0);
	imap_cmd_args_free(&cmd);
	buf_reset(&b);
	buf_puts(&b, "a X ");
	for (int i = 0; i < 33; i++)
		buf_putc(&b, '(');
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    -1);
	assert_string_equal(err, "Too deeply nested lists");
	assert_string_equal(cmd.tag, "a");
	imap_cmd_args_free(&cmd);

	/* Custom, smaller depth. */
	lim.max_list_depth = 1;
	assert_int_equal(imap_parse_command(S("a X (a) (b)"), &lim, &cmd,
	    &err), 0);
	imap_cmd_args_free(&cmd);
	assert_int_equal(imap_parse_command(S("a X ((a))"), &lim, &cmd,
	    &err), -1);
	assert_string_equal(err, "Too deeply nested lists");
	imap_cmd_args_free(&cmd);

	/* Argument count: lists count too. */
	lim.max_list_depth = 32;
	lim.max_args = 3;
	assert_int_equal(imap_parse_command(S("a X a (b)"), &lim, &cmd,
	    &err), 0);
	imap_cmd_args_free(&cmd);
	assert_int_equal(imap_parse_command(S("a X a (b c)"), &lim, &cmd,
	    &err), -1);
	assert_string_equal(err, "Too many arguments");
	imap_cmd_args_free(&cmd);
	lim.max_args = 0;
	assert_int_equal(imap_parse_command(S("a NOOP"), &lim, &cmd, &err), 0);
	imap_cmd_args_free(&cmd);
	assert_int_equal(imap_parse_command(S("a X ()"), &lim, &cmd, &err),
	    -1);
	imap_cmd_args_free(&cmd);

	/* Default 10,000 arguments: exactly at and past the limit. */
	buf_reset(&b);
	buf_puts(&b, "a X");
	for (int i = 0; i < 10000; i++)
		buf_puts(&b, " a");
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    0);
	assert_int_equal(cmd.count, 10000);
	imap_cmd_args_free(&cmd);
	buf_puts(&b, " b");
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    -1);
	assert_string_equal(err, "Too many arguments");
	imap_cmd_args_free(&cmd);
	buf_free(&b);
}

static void
test_hostile(void **state)
{
	struct imap_cmd_args cmd;
	struct imap_parse_limits lim;
	struct buf b = BUF_INIT;
	const char *err;

	/* 100,000 "(": refused at depth 33, no recursion. */
	buf_puts(&b, "a X ");
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, '(');
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    -1);
	imap_cmd_args_free(&cmd);
	/* Even with an absurd depth limit, the parser does not recurse. */
	lim.max_list_depth = 1000000;
	lim.max_args = 1000000;
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, ')');
	assert_int_equal(imap_parse_command(b.data, b.len, &lim, &cmd, &err),
	    0);
	assert_int_equal(cmd.count, 1);
	imap_cmd_args_free(&cmd);
	/* 100,000 unbalanced ")". */
	buf_reset(&b);
	buf_puts(&b, "a X a");
	for (int i = 0; i < 100000; i++)
		buf_putc(&b, ')');
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    -1);
	imap_cmd_args_free(&cmd);
	/* A huge unterminated bracket and quote. */
	buf_reset(&b);
	buf_puts(&b, "a FETCH 1 BODY[");
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "( ");
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    -1);
	assert_string_equal(err, "Missing ']'");
	imap_cmd_args_free(&cmd);
	buf_reset(&b);
	buf_puts(&b, "a X \"");
	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "\\\"");
	assert_int_equal(imap_parse_command(b.data, b.len, NULL, &cmd, &err),
	    -1);
	assert_string_equal(err, "Missing '\"'");
	imap_cmd_args_free(&cmd);
	/* A literal claiming more than the buffer holds. */
	assert_int_equal(imap_parse_command(S("a X {4294967295}\r\nabc"), NULL,
	    &cmd, &err), -1);
	assert_string_equal(err, "Literal data missing");
	imap_cmd_args_free(&cmd);
	/*
	 * Every prefix of a complex command: parsed or refused, never read
	 * past the end (ASan catches the copy being exact-length).
	 */
	{
		static const char full[] = "a1 UID FETCH 1:* (FLAGS "
		    "BODY.PEEK[HEADER.FIELDS (\"From\" To)]<0.2048> "
		    "\"q\\\"x\" {3}\r\nabc ~{2+}\r\n\0\0 NIL ((x)))";

		for (size_t i = 0; i < sizeof(full); i++) {
			char *cp = malloc(i + 1);

			memcpy(cp, full, i);
			(void)imap_parse_command(cp, i, NULL, &cmd, &err);
			imap_cmd_args_free(&cmd);
			free(cp);
		}
		assert_int_equal(imap_parse_command(full, sizeof(full) - 1,
		    NULL, &cmd, &err), 0);
		assert_int_equal(cmd.count, 2);
		assert_int_equal(cmd.args[1].list_count, 7);
		imap_cmd_args_free(&cmd);
	}
	/* Every single-byte value after a valid prefix. */
	for (int c = 0; c < 256; c++) {
		char in[16];
		int n = snprintf(in, sizeof(in), "a X a");

		in[n++] = (char)c;
		in[n++] = 'b';
		(void)imap_parse_command(in, (size_t)n, NULL, &cmd, &err);
		imap_cmd_args_free(&cmd);
	}
	buf_free(&b);
}

static void
test_helpers(void **state)
{
	struct imap_cmd_args cmd;
	const struct imap_arg *l;
	const char *err, *s;
	size_t n;

	assert_int_equal(imap_parse_command(S("a X atom \"q\" {1}\r\nl NIL "
	    "(x) ~{1}\r\nb"), NULL, &cmd, &err), 0);
	assert_int_equal(cmd.count, 6);
	/* is_string */
	assert_true(imap_arg_is_string(&cmd.args[0]));
	assert_true(imap_arg_is_string(&cmd.args[1]));
	assert_true(imap_arg_is_string(&cmd.args[2]));
	assert_false(imap_arg_is_string(&cmd.args[3]));
	assert_false(imap_arg_is_string(&cmd.args[4]));
	assert_true(imap_arg_is_string(&cmd.args[5]));
	assert_false(imap_arg_is_string(&cmd.args[6]));	/* EOL */
	/* atom_eq */
	assert_true(imap_arg_atom_eq(&cmd.args[0], "ATOM"));
	assert_true(imap_arg_atom_eq(&cmd.args[0], "atom"));
	assert_false(imap_arg_atom_eq(&cmd.args[0], "ATO"));
	assert_false(imap_arg_atom_eq(&cmd.args[1], "q"));
	assert_true(imap_arg_atom_eq(&cmd.args[3], "NIL"));
	/* astring */
	assert_string_equal(imap_arg_astring(&cmd.args[0]), "atom");
	assert_string_equal(imap_arg_astring(&cmd.args[1]), "q");
	assert_string_equal(imap_arg_astring(&cmd.args[2]), "l");
	assert_string_equal(imap_arg_astring(&cmd.args[3]), "NIL");
	assert_null(imap_arg_astring(&cmd.args[4]));
	assert_null(imap_arg_astring(&cmd.args[5]));
	assert_null(imap_arg_astring(&cmd.args[6]));
	/* string */
	assert_null(imap_arg_string(&cmd.args[0]));
	assert_string_equal(imap_arg_string(&cmd.args[1]), "q");
	assert_string_equal(imap_arg_string(&cmd.args[2]), "l");
	assert_null(imap_arg_string(&cmd.args[3]));
	/* nstring */
	assert_true(imap_arg_nstring(&cmd.args[3], &s));
	assert_null(s);
	assert_true(imap_arg_nstring(&cmd.args[1], &s));
	assert_string_equal(s, "q");
	assert_false(imap_arg_nstring(&cmd.args[0], &s));
	assert_false(imap_arg_nstring(&cmd.args[4], &s));
	/* list */
	assert_null(imap_arg_list(&cmd.args[0], &n));
	l = imap_arg_list(&cmd.args[4], &n);
	assert_non_null(l);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].str, "x");
	assert_int_equal(l[1].type, IMAP_ARG_EOL);
	imap_cmd_args_free(&cmd);
}

/* ---- framing through imap_literal_at_eol ---- */

static void
test_literal_at_eol(void **state)
{
	static const struct {
		const char	*line;
		int		 r;
		uint64_t	 size;
		bool		 nonsync;
		bool		 binary;
	} cases[] = {
		{ "a LOGIN {4}", 1, 4, false, false },
		{ "{0}", 1, 0, false, false },
		{ "a {5+}", 1, 5, true, false },
		{ "a ~{5}", 1, 5, false, true },
		{ "a ~{5+}", 1, 5, true, true },
		{ "a {007}", 1, 7, false, false },
		{ "a {4294967295}", 1, 4294967295ULL, false, false },
		{ "x{3}", 1, 3, false, false },
		{ "a {4294967296}", -1, 0, false, false },
		{ "a {99999999999999999999}", -1, 0, false, false },
		{ "a {-1}", -1, 0, false, false },
		{ "a {1+2}", -1, 0, false, false },
		{ "a {}", -1, 0, false, false },
		{ "a {+}", -1, 0, false, false },
		{ "a {-}", -1, 0, false, false },
		{ "a {1++}", -1, 0, false, false },
		{ "a {+1}", -1, 0, false, false },
		{ "a ~{}", -1, 0, false, false },
		{ "", 0, 0, false, false },
		{ "}", 0, 0, false, false },
		{ "a b", 0, 0, false, false },
		{ "abc}", 0, 0, false, false },
		{ "1}", 0, 0, false, false },
		{ "a { 1}", 0, 0, false, false },
		{ "a {1 }", 0, 0, false, false },
		{ "a {foo}", 0, 0, false, false },
		{ "a {5}}", 0, 0, false, false },
		{ "a {5}x", 0, 0, false, false },
		{ "a \"{5}\"", 0, 0, false, false },
		{ "a {5}\r", 0, 0, false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t size = 12345;
		bool ns = true, bin = true;
		int r;

		r = imap_literal_at_eol(cases[i].line, strlen(cases[i].line),
		    &size, &ns, &bin);
		if (r != cases[i].r)
			fail_msg("%s: %d", cases[i].line, r);
		if (r == 1) {
			assert_int_equal(size, cases[i].size);
			assert_int_equal(ns, cases[i].nonsync);
			assert_int_equal(bin, cases[i].binary);
		} else {
			/* Outputs untouched. */
			assert_int_equal(size, 12345);
			assert_true(ns);
			assert_true(bin);
		}
	}
	/* Length honoured: the "}" past len is not seen. */
	{
		uint64_t size;
		bool ns, bin;

		assert_int_equal(imap_literal_at_eol("a {4}", 4, &size, &ns,
		    &bin), 0);
		assert_int_equal(imap_literal_at_eol("{4}}", 3, &size, &ns,
		    &bin), 1);
	}
}

/*
 * A session-like framer: lines end in LF (CR before it stripped); a line
 * ending in a literal marker pulls N raw bytes and the next line into
 * the same command.  Complete commands are parsed and dumped.
 */
struct framer {
	struct buf	 cmd;		/* command so far, as received */
	struct buf	 line;
	uint64_t	 lit_left;
	struct buf	 log;		/* "tag NAME args\n" per command */
	size_t		 ncmds;
};

static void
framer_complete(struct framer *f)
{
	struct imap_cmd_args cmd;
	const char *err;

	if (imap_parse_command(f->cmd.data == NULL ? "" : f->cmd.data,
	    f->cmd.len, NULL, &cmd, &err) == 0) {
		buf_printf(&f->log, "%s %s ", cmd.tag, cmd.full_name);
		dump_args(&f->log, cmd.args, cmd.count);
	} else
		buf_printf(&f->log, "%s BAD %s", cmd.tag == NULL ? "*" :
		    cmd.tag, err);
	buf_putc(&f->log, '\n');
	imap_cmd_args_free(&cmd);
	buf_reset(&f->cmd);
	f->ncmds++;
}

static void
framer_feed(struct framer *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l;
		uint64_t size;
		bool ns, bin;
		int r;

		if (f->lit_left > 0) {
			buf_putc(&f->cmd, p[i]);
			f->lit_left--;
			continue;
		}
		buf_putc(&f->line, p[i]);
		if (p[i] != '\n')
			continue;
		l = f->line.len - 1;
		if (l > 0 && f->line.data[l - 1] == '\r')
			l--;
		r = imap_literal_at_eol(f->line.data, l, &size, &ns, &bin);
		if (r == 1) {
			/* Keep the line and its ending exactly. */
			buf_append(&f->cmd, f->line.data, f->line.len);
			f->lit_left = size;
		} else if (r == 0) {
			buf_append(&f->cmd, f->line.data, l);
			framer_complete(f);
		} else {
			buf_puts(&f->log, "* BAD literal\n");
			buf_reset(&f->cmd);
		}
		buf_reset(&f->line);
	}
}

static void
framer_free(struct framer *f)
{
	buf_free(&f->cmd);
	buf_free(&f->line);
	buf_free(&f->log);
}

static const char stream[] =
    "a1 LOGIN {4}\r\nuser {6+}\r\nsecret\r\n"
    "a2 NOOP\r\n"
    "a3 APPEND INBOX (\\Seen) ~{5}\r\nh\0llo\r\n"
    "a4 APPEND x {8}\r\nx{2}\r\nyz\r\n"
    "a5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>)\n"
    "a6 X {0}\r\n {0+}\r\n\r\n"
    "a7 X (\r\n"
    "a8 SEARCH CHARSET UTF-8 TEXT {4}\r\n\xc3\xa4\xc3\xb6\r\n"
    "a9 X {1}\r\n}\r\n"
    "b1 X {-1}\r\n"
    "b2 LOGIN \"a\" {2}\n\r\n\n";

static const char stream_log[] =
    "a1 LOGIN {4}user {6+}secret\n"
    "a2 NOOP \n"
    "a3 APPEND INBOX (\\Seen) ~{5}h\0llo\n"
    "a4 APPEND x {8}x{2}\r\nyz\n"
    "a5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>)\n"
    "a6 X {0} {0+}\n"
    "a7 BAD Missing ')'\n"
    "a8 SEARCH CHARSET UTF-8 TEXT {4}\xc3\xa4\xc3\xb6\n"
    "a9 X {1}}\n"
    "* BAD literal\n"
    "b2 LOGIN \"a\" {2}\r\n\n";

static void
check_log(struct framer *f, const char *what, size_t split)
{
	if (f->log.len != sizeof(stream_log) - 1 ||
	    memcmp(f->log.data, stream_log, f->log.len) != 0)
		fail_msg("%s %zu: got\n%s", what, split, buf_cstr(&f->log));
	assert_int_equal(f->lit_left, 0);
	assert_int_equal(f->line.len, 0);
}

static void
test_framing_whole(void **state)
{
	struct framer f;

	memset(&f, 0, sizeof(f));
	framer_feed(&f, stream, sizeof(stream) - 1);
	check_log(&f, "whole", 0);
	assert_int_equal(f.ncmds, 10);
	framer_free(&f);
}

static void
test_framing_bytewise(void **state)
{
	struct framer f;

	memset(&f, 0, sizeof(f));
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		framer_feed(&f, stream + i, 1);
	check_log(&f, "bytewise", 0);
	framer_free(&f);
}

static void
test_framing_splits(void **state)
{
	for (size_t split = 0; split < sizeof(stream); split++) {
		struct framer f;

		memset(&f, 0, sizeof(f));
		framer_feed(&f, stream, split);
		framer_feed(&f, stream + split, sizeof(stream) - 1 - split);
		check_log(&f, "split", split);
		framer_free(&f);
	}
	/* Three chunks: every pair of split points. */
	for (size_t a = 0; a < sizeof(stream); a += 7) {
		for (size_t b = a; b < sizeof(stream); b += 3) {
			struct framer f;

			memset(&f, 0, sizeof(f));
			framer_feed(&f, stream, a);
			framer_feed(&f, stream + a, b - a);
			framer_feed(&f, stream + b, sizeof(stream) - 1 - b);
			check_log(&f, "split3", a * 1000 + b);
			framer_free(&f);
		}
	}
}

/* ---- FETCH attributes ---- */

static void
test_fetch_plain(void **state)
{
	static const struct {
		const char		*in;
		enum imap_fetch_type	 t;
		const char		*resp;
	} cases[] = {
		{ "ALL", IMAP_FETCH_MACRO_ALL, "" },
		{ "fast", IMAP_FETCH_MACRO_FAST, "" },
		{ "Full", IMAP_FETCH_MACRO_FULL, "" },
		{ "FLAGS", IMAP_FETCH_FLAGS, "FLAGS" },
		{ "internaldate", IMAP_FETCH_INTERNALDATE, "INTERNALDATE" },
		{ "RFC822", IMAP_FETCH_RFC822, "RFC822" },
		{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, "RFC822.HEADER" },
		{ "rfc822.size", IMAP_FETCH_RFC822_SIZE, "RFC822.SIZE" },
		{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, "RFC822.TEXT" },
		{ "ENVELOPE", IMAP_FETCH_ENVELOPE, "ENVELOPE" },
		{ "BODY", IMAP_FETCH_BODY, "BODY" },
		{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, "BODYSTRUCTURE" },
		{ "uid", IMAP_FETCH_UID, "UID" },
		{ "MODSEQ", IMAP_FETCH_MODSEQ, "MODSEQ" },
		{ "preview", IMAP_FETCH_PREVIEW, "PREVIEW" },
	};
	enum imap_fetch_type ex[5];
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_fetch_att att;
		struct buf b = BUF_INIT;

		assert_int_equal(imap_parse_fetch_att(cases[i].in,
		    strlen(cases[i].in), &att, &err), 0);
		assert_int_equal(att.type, cases[i].t);
		assert_null(att.section);
		imap_fetch_att_response_name(&att, &b);
		assert_string_equal(buf_cstr(&b), cases[i].resp);
		buf_free(&b);
		imap_fetch_att_free(&att);
	}
	assert_int_equal(imap_fetch_macro_expand(IMAP_FETCH_MACRO_FAST, ex), 3);
	assert_int_equal(ex[0], IMAP_FETCH_FLAGS);
	assert_int_equal(ex[1], IMAP_FETCH_INTERNALDATE);
	assert_int_equal(ex[2], IMAP_FETCH_RFC822_SIZE);
	assert_int_equal(imap_fetch_macro_expand(IMAP_FETCH_MACRO_ALL, ex), 4);
	assert_int_equal(ex[3], IMAP_FETCH_ENVELOPE);
	assert_int_equal(imap_fetch_macro_expand(IMAP_FETCH_MACRO_FULL, ex), 5);
	assert_int_equal(ex[3], IMAP_FETCH_ENVELOPE);
	assert_int_equal(ex[4], IMAP_FETCH_BODY);
	assert_int_equal(imap_fetch_macro_expand(IMAP_FETCH_UID, ex), 0);
}

static void
fetch_ok(const char *in, struct imap_fetch_att *att)
{
	const char *err = NULL;

	if (imap_parse_fetch_att(in, strlen(in), att, &err) != 0)
		fail_msg("refused %s: %s", in, err);
}

static void
assert_resp(const struct imap_fetch_att *att, const char *want)
{
	struct buf b = BUF_INIT;

	imap_fetch_att_response_name(att, &b);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_fetch_sections(void **state)
{
	struct imap_fetch_att a;

	fetch_ok("BODY[]", &a);
	assert_int_equal(a.type, IMAP_FETCH_BODY_SECTION);
	assert_false(a.peek);
	assert_int_equal(a.part_count, 0);
	assert_int_equal(a.text, IMAP_SECTION_NONE);
	assert_string_equal(a.section, "");
	assert_false(a.partial);
	assert_resp(&a, "BODY[]");
	imap_fetch_att_free(&a);

	fetch_ok("BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>", &a);
	assert_int_equal(a.type, IMAP_FETCH_BODY_SECTION);
	assert_true(a.peek);
	assert_int_equal(a.text, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(a.field_count, 2);
	assert_string_equal(a.fields[0], "From");
	assert_string_equal(a.fields[1], "To");
	assert_true(a.partial);
	assert_int_equal(a.partial_offset, 0);
	assert_int_equal(a.partial_count, 2048);
	assert_string_equal(a.section, "HEADER.FIELDS (From To)");
	assert_resp(&a, "BODY[HEADER.FIELDS (From To)]<0>");
	imap_fetch_att_free(&a);

	/* RFC 3501 6.4.5 example. */
	fetch_ok("BODY[HEADER.FIELDS (DATE FROM)]", &a);
	assert_int_equal(a.field_count, 2);
	assert_string_equal(a.fields[0], "DATE");
	assert_string_equal(a.fields[1], "FROM");
	assert_resp(&a, "BODY[HEADER.FIELDS (DATE FROM)]");
	imap_fetch_att_free(&a);

	fetch_ok("body.peek[header.fields.not (Received X-Spam \"Cc\" "
	    "\"A\\\"b\")]", &a);
	assert_true(a.peek);
	assert_int_equal(a.text, IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_int_equal(a.field_count, 4);
	assert_string_equal(a.fields[0], "Received");
	assert_string_equal(a.fields[1], "X-Spam");
	assert_string_equal(a.fields[2], "Cc");
	assert_string_equal(a.fields[3], "A\"b");
	imap_fetch_att_free(&a);

	fetch_ok("BODY[1.2.3]", &a);
	assert_int_equal(a.part_count, 3);
	assert_int_equal(a.parts[0], 1);
	assert_int_equal(a.parts[1], 2);
	assert_int_equal(a.parts[2], 3);
	assert_int_equal(a.text, IMAP_SECTION_NONE);
	imap_fetch_att_free(&a);

	fetch_ok("BODY[4.2.MIME]", &a);
	assert_int_equal(a.part_count, 2);
	assert_int_equal(a.text, IMAP_SECTION_MIME);
	imap_fetch_att_free(&a);
	fetch_ok("BODY[3.HEADER]", &a);
	assert_int_equal(a.part_count, 1);
	assert_int_equal(a.text, IMAP_SECTION_HEADER);
	imap_fetch_att_free(&a);
	fetch_ok("BODY[3.header.fields (a)]", &a);
	assert_int_equal(a.part_count, 1);
	assert_int_equal(a.text, IMAP_SECTION_HEADER_FIELDS);
	imap_fetch_att_free(&a);
	fetch_ok("BODY[2.TEXT]<100.50>", &a);
	assert_int_equal(a.text, IMAP_SECTION_TEXT);
	assert_int_equal(a.partial_offset, 100);
	assert_int_equal(a.partial_count, 50);
	assert_resp(&a, "BODY[2.TEXT]<100>");
	imap_fetch_att_free(&a);
	fetch_ok("BODY[TEXT]", &a);
	assert_int_equal(a.text, IMAP_SECTION_TEXT);
	imap_fetch_att_free(&a);
	fetch_ok("BODY[4294967295]", &a);
	assert_int_equal(a.parts[0], 4294967295U);
	imap_fetch_att_free(&a);
	fetch_ok("BODY[]<9223372036854775807.9223372036854775807>", &a);
	assert_int_equal(a.partial_offset, 9223372036854775807ULL);
	imap_fetch_att_free(&a);
	fetch_ok("BODY[]<00.01>", &a);
	assert_int_equal(a.partial_count, 1);
	imap_fetch_att_free(&a);

	/* RFC 3516 BINARY. */
	fetch_ok("BINARY[1.2]", &a);
	assert_int_equal(a.type, IMAP_FETCH_BINARY);
	assert_false(a.peek);
	assert_int_equal(a.part_count, 2);
	assert_resp(&a, "BINARY[1.2]");
	imap_fetch_att_free(&a);
	fetch_ok("BINARY.PEEK[1]<0.100>", &a);
	assert_int_equal(a.type, IMAP_FETCH_BINARY);
	assert_true(a.peek);
	assert_resp(&a, "BINARY[1]<0>");
	imap_fetch_att_free(&a);
	fetch_ok("BINARY[]", &a);
	assert_int_equal(a.part_count, 0);
	imap_fetch_att_free(&a);
	fetch_ok("binary.size[3]", &a);
	assert_int_equal(a.type, IMAP_FETCH_BINARY_SIZE);
	assert_resp(&a, "BINARY.SIZE[3]");
	imap_fetch_att_free(&a);
}

static void
test_fetch_bad(void **state)
{
	static const char *bad[] = {
		"", "FOO", "FLAGS2", "FLAG", "BODY.PEEK", "BINARY", "BODY[",
		"BODY[MIME]", "BODY[0]", "BODY[01]", "BODY[1.]", "BODY[.1]",
		"BODY[1..2]", "BODY[1.0]", "BODY[4294967296]", "BODY[-1]",
		"BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (a:b)]", "BODY[HEADER.FIELDS (From]",
		"BODY[HEADER.FIELDS (From) x]", "BODY[HEADER.FIELDS(From)]",
		"BODY[HEADER.FIELDS (\"\")]", "BODY[HEADER.FIELDS (\"a\"b)]",
		"BODY[HEADER.FIELDS (\"a]", "BODY[HEADER.FIELDS (a\"b\")]",
		"BODY[HEADER.FIELDS (a%b)]", "BODY[HEADER.FIELDS (\"a b\")]",
		"BODY[HEADERX]", "BODY[HEADER ]", "BODY[TEXT ]", "BODY[ TEXT]",
		"BODY[TEXT.MIME]", "BODY[MIME.1]", "BODY[1.MIME.HEADER]",
		"BODY[HEADER.FIELDS.NOT]", "BODY[HEADER.FIELDS.NOTX (a)]",
		"BODY[]<0>", "BODY[]<0.0>", "BODY[]<1.2", "BODY[]1.2>",
		"BODY[]<a.b>", "BODY[]<.5>", "BODY[]<5.>", "BODY[]<1.2.3>",
		"BODY[]<9223372036854775808.1>",
		"BODY[]<1.9223372036854775808>", "BODY[]<-1.2>", "BODY[]x",
		"BODY[1][2]", "BINARY[HEADER]", "BINARY[1.MIME]",
		"BINARY[1.TEXT]", "BINARY.SIZE[1]<0.1>", "BINARY.SIZE.PEEK[1]",
		"BODY.PEEKX[]", "BODYSTRUCTURE[]", "RFC822[]", "FLAGS[]",
		"[]", "BODY.PEEK.PEEK[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_fetch_att a;
		const char *err = NULL;

		if (imap_parse_fetch_att(bad[i], strlen(bad[i]), &a, &err) !=
		    -1)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(err);
	}
	/* Specific messages. */
	{
		struct imap_fetch_att a;
		const char *err;

		assert_int_equal(imap_parse_fetch_att(S("BODY[MIME]"), &a,
		    &err), -1);
		assert_string_equal(err, "MIME needs a part number");
		assert_int_equal(imap_parse_fetch_att(S("XYZ"), &a, &err), -1);
		assert_string_equal(err, "Unknown fetch attribute");
		assert_int_equal(imap_parse_fetch_att(S("BODY[]<0>"), &a,
		    &err), -1);
		assert_string_equal(err, "Invalid partial fetch");
		assert_int_equal(imap_parse_fetch_att(S("BODY[HEADER.FIELDS "
		    "(a:b)]"), &a, &err), -1);
		assert_string_equal(err, "Invalid header field name");
		assert_int_equal(imap_parse_fetch_att(S("BODY[HEADER.FIELDS "
		    "()]"), &a, &err), -1);
		assert_string_equal(err, "Empty header field list");
		/* NUL inside. */
		assert_int_equal(imap_parse_fetch_att("BODY[\0]", 7, &a, &err),
		    -1);
		assert_int_equal(imap_parse_fetch_att("FLAGS\0", 6, &a, &err),
		    -1);
	}
}

static void
test_fetch_atts(void **state)
{
	struct imap_cmd_args cmd;
	struct imap_fetch_att *atts;
	size_t n;
	const char *err;

	assert_int_equal(imap_parse_command(S("a FETCH 1 (FLAGS "
	    "BODY.PEEK[HEADER.FIELDS (From To)]<0.2048> UID)"), NULL, &cmd,
	    &err), 0);
	assert_int_equal(imap_parse_fetch_atts(&cmd.args[1], &atts, &n, &err),
	    0);
	assert_int_equal(n, 3);
	assert_int_equal(atts[0].type, IMAP_FETCH_FLAGS);
	assert_int_equal(atts[1].type, IMAP_FETCH_BODY_SECTION);
	assert_int_equal(atts[1].field_count, 2);
	assert_int_equal(atts[2].type, IMAP_FETCH_UID);
	imap_fetch_atts_free(atts, n);
	imap_cmd_args_free(&cmd);

	assert_int_equal(imap_parse_command(S("a FETCH 1 all"), NULL, &cmd,
	    &err), 0);
	assert_int_equal(imap_parse_fetch_atts(&cmd.args[1], &atts, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(atts[0].type, IMAP_FETCH_MACRO_ALL);
	imap_fetch_atts_free(atts, n);
	imap_cmd_args_free(&cmd);

	assert_int_equal(imap_parse_command(S("a FETCH 1 BODY[1]<0.5>"), NULL,
	    &cmd, &err), 0);
	assert_int_equal(imap_parse_fetch_atts(&cmd.args[1], &atts, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(atts[0].partial_count, 5);
	imap_fetch_atts_free(atts, n);
	imap_cmd_args_free(&cmd);

	{
		static const struct {
			const char	*cmd;
			const char	*err;
		} bad[] = {
			{ "a FETCH 1 (FLAGS ALL)",
			  "Fetch macros are not allowed in a list" },
			{ "a FETCH 1 (ALL)",
			  "Fetch macros are not allowed in a list" },
			{ "a FETCH 1 ()", "Empty fetch attribute list" },
			{ "a FETCH 1 (\"FLAGS\")", "Invalid fetch attributes" },
			{ "a FETCH 1 ((FLAGS))", "Invalid fetch attributes" },
			{ "a FETCH 1 \"FLAGS\"", "Invalid fetch attributes" },
			{ "a FETCH 1 {5}\r\nFLAGS", "Invalid fetch attributes" },
			{ "a FETCH 1 NIL", "Invalid fetch attributes" },
			{ "a FETCH 1 (FLAGS BODY[0] UID)",
			  "Invalid fetch section" },
			{ "a FETCH 1 (BODY[1] BODY[HEADER.FIELDS (a)] X)",
			  "Unknown fetch attribute" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(imap_parse_command(bad[i].cmd,
			    strlen(bad[i].cmd), NULL, &cmd, &err), 0);
			atts = NULL;
			if (imap_parse_fetch_atts(&cmd.args[1], &atts, &n,
			    &err) != -1)
				fail_msg("accepted %s", bad[i].cmd);
			assert_string_equal(err, bad[i].err);
			imap_cmd_args_free(&cmd);
		}
	}
}

/* PREVIEW and its modifier list (RFC 8970 3.1), in a list and alone. */
static void
test_fetch_preview(void **state)
{
	static const struct {
		const char	*cmd;
		size_t		 n;		/* items */
		size_t		 used;		/* arguments used */
		size_t		 preview;	/* index of PREVIEW */
		bool		 lazy;
	} ok[] = {
		{ "a FETCH 1 PREVIEW", 1, 1, 0, false },
		{ "a FETCH 1 PREVIEW (LAZY)", 1, 2, 0, true },
		{ "a FETCH 1 preview (lazy LAZY)", 1, 2, 0, true },
		{ "a FETCH 1 PREVIEW (CHANGEDSINCE 1)", 1, 1, 0, false },
		{ "a FETCH 1 PREVIEW (LAZY) (CHANGEDSINCE 1)", 1, 2, 0, true },
		{ "a FETCH 1 (UID PREVIEW (LAZY) FLAGS)", 3, 1, 1, true },
		{ "a FETCH 1 (PREVIEW)", 1, 1, 0, false },
		{ "a FETCH 1 (FLAGS PREVIEW)", 2, 1, 1, false },
		{ "a FETCH 1 (PREVIEW (LAZY)) (CHANGEDSINCE 1)", 1, 1, 0,
		  true },
	};
	static const struct {
		const char	*cmd;
		const char	*err;
	} bad[] = {
		{ "a FETCH 1 (PREVIEW (FOO))", "Unknown PREVIEW modifier" },
		{ "a FETCH 1 (PREVIEW ())", "Empty PREVIEW modifier list" },
		{ "a FETCH 1 (PREVIEW (LAZY \"x\"))",
		  "Unknown PREVIEW modifier" },
		{ "a FETCH 1 (PREVIEW (LAZY) (LAZY))",
		  "Invalid fetch attributes" },
		{ "a FETCH 1 (FLAGS (LAZY))", "Invalid fetch attributes" },
		{ "a FETCH 1 ((LAZY) PREVIEW)", "Invalid fetch attributes" },
		{ "a FETCH 1 PREVIEW[1]", "Unknown fetch attribute" },
	};
	struct imap_cmd_args cmd;
	struct imap_fetch_att *atts;
	size_t n, used;
	const char *err;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(imap_parse_command(ok[i].cmd,
		    strlen(ok[i].cmd), NULL, &cmd, &err), 0);
		if (imap_parse_fetch_args(&cmd.args[1], cmd.count - 1, &atts,
		    &n, &used, &err) != 0)
			fail_msg("refused %s: %s", ok[i].cmd, err);
		assert_int_equal(n, ok[i].n);
		assert_int_equal(used, ok[i].used);
		assert_int_equal(atts[ok[i].preview].type,
		    IMAP_FETCH_PREVIEW);
		assert_int_equal(atts[ok[i].preview].lazy, ok[i].lazy);
		assert_resp(&atts[ok[i].preview], "PREVIEW");
		imap_fetch_atts_free(atts, n);
		/* The one-argument form agrees on a list. */
		if (cmd.args[1].type == IMAP_ARG_LIST) {
			assert_int_equal(imap_parse_fetch_atts(&cmd.args[1],
			    &atts, &n, &err), 0);
			assert_int_equal(n, ok[i].n);
			imap_fetch_atts_free(atts, n);
		}
		imap_cmd_args_free(&cmd);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(imap_parse_command(bad[i].cmd,
		    strlen(bad[i].cmd), NULL, &cmd, &err), 0);
		atts = NULL;
		if (imap_parse_fetch_args(&cmd.args[1], cmd.count - 1, &atts,
		    &n, &used, &err) != -1)
			fail_msg("accepted %s", bad[i].cmd);
		assert_string_equal(err, bad[i].err);
		imap_cmd_args_free(&cmd);
	}
	/* No arguments at all. */
	assert_int_equal(imap_parse_command(S("a FETCH 1"), NULL, &cmd, &err),
	    0);
	assert_int_equal(imap_parse_fetch_args(&cmd.args[1], 0, &atts, &n,
	    &used, &err), -1);
	imap_cmd_args_free(&cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_lenient_spacing),
		cmocka_unit_test(test_atoms_sections),
		cmocka_unit_test(test_bad_head),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_literal_at_eol),
		cmocka_unit_test(test_framing_whole),
		cmocka_unit_test(test_framing_bytewise),
		cmocka_unit_test(test_framing_splits),
		cmocka_unit_test(test_fetch_plain),
		cmocka_unit_test(test_fetch_sections),
		cmocka_unit_test(test_fetch_bad),
		cmocka_unit_test(test_fetch_atts),
		cmocka_unit_test(test_fetch_preview),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
