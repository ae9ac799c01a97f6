/*
 * test_smtp_parse - unit tests for smtp/smtp_parse: command splitting,
 * EHLO arguments, MAIL/RCPT paths and ESMTP parameters, xtext, relay
 * tricks.  Every parser is also run on every prefix of its input in an
 * exact-size heap copy (so ASan sees any read past the end) and on
 * pseudo-random garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "smtp/smtp_parse.h"

static const struct smtp_parse_opts utf8_opts = { .smtputf8 = true };

/* Exact-size copy so that an over-read trips ASan. */
static char *
dup_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static int
mail(const char *arg, const struct smtp_parse_opts *opts,
    struct smtp_path *p, const char **err)
{
	size_t len = strlen(arg);
	char *c = dup_exact(arg, len);
	int r;

	*err = NULL;
	r = smtp_parse_mail_from(c, len, opts, p, err);
	free(c);
	if (r < 0)
		assert_non_null(*err);
	return r;
}

static int
rcpt(const char *arg, const struct smtp_parse_opts *opts,
    struct smtp_path *p, const char **err)
{
	size_t len = strlen(arg);
	char *c = dup_exact(arg, len);
	int r;

	*err = NULL;
	r = smtp_parse_rcpt_to(c, len, opts, p, err);
	free(c);
	if (r < 0)
		assert_non_null(*err);
	return r;
}

/* ---- smtp_cmd_split ------------------------------------------------ */

static void
split_ok(const char *line, enum smtp_cmd_verb verb, const char *arg)
{
	struct smtp_cmd cmd;

	assert_int_equal(smtp_cmd_split(line, strlen(line), &cmd), 0);
	assert_int_equal(cmd.verb, verb);
	assert_int_equal(cmd.arg_len, strlen(arg));
	assert_memory_equal(cmd.arg, arg, cmd.arg_len);
}

static void
test_cmd_split_verbs(void **state)
{
	static const struct {
		const char		*line;
		enum smtp_cmd_verb	 verb;
		const char		*name;
	} t[] = {
		{ "HELO x", SMTP_CMD_HELO, "HELO" },
		{ "ehlo x", SMTP_CMD_EHLO, "EHLO" },
		{ "Mail FROM:<>", SMTP_CMD_MAIL, "MAIL" },
		{ "RCPT TO:<a@b>", SMTP_CMD_RCPT, "RCPT" },
		{ "data", SMTP_CMD_DATA, "DATA" },
		{ "RSET", SMTP_CMD_RSET, "RSET" },
		{ "NOOP", SMTP_CMD_NOOP, "NOOP" },
		{ "QuIt", SMTP_CMD_QUIT, "QUIT" },
		{ "VRFY x", SMTP_CMD_VRFY, "VRFY" },
		{ "EXPN x", SMTP_CMD_EXPN, "EXPN" },
		{ "HELP", SMTP_CMD_HELP, "HELP" },
		{ "StartTLS", SMTP_CMD_STARTTLS, "STARTTLS" },
		{ "AUTH PLAIN", SMTP_CMD_AUTH, "AUTH" },
		{ "BDAT 10 LAST", SMTP_CMD_BDAT, "BDAT" },
	};
	struct smtp_cmd cmd;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(smtp_cmd_split(t[i].line, strlen(t[i].line),
		    &cmd), 0);
		assert_int_equal(cmd.verb, t[i].verb);
		assert_string_equal(cmd.name, t[i].name);
	}
}

static void
test_cmd_split_args(void **state)
{
	split_ok("MAIL FROM:<a@b> SIZE=10", SMTP_CMD_MAIL,
	    "FROM:<a@b> SIZE=10");
	split_ok("EHLO   example.org  \t", SMTP_CMD_EHLO, "example.org");
	split_ok("NOOP\tx", SMTP_CMD_NOOP, "x");
	split_ok("QUIT", SMTP_CMD_QUIT, "");
	split_ok("QUIT   ", SMTP_CMD_QUIT, "");
	split_ok("BDAT 100 LAST", SMTP_CMD_BDAT, "100 LAST");
	/* Unknown verbs: a prefix or an extension of a verb is not it. */
	split_ok("MAILX FROM:<>", SMTP_CMD_UNKNOWN, "FROM:<>");
	split_ok("MAI", SMTP_CMD_UNKNOWN, "");
	split_ok("XYZZY plugh", SMTP_CMD_UNKNOWN, "plugh");
	split_ok("", SMTP_CMD_UNKNOWN, "");
	split_ok(" MAIL FROM:<>", SMTP_CMD_UNKNOWN, "MAIL FROM:<>");
	split_ok("STARTTLSX", SMTP_CMD_UNKNOWN, "");
}

static void
test_cmd_split_nul(void **state)
{
	struct smtp_cmd cmd;

	assert_int_equal(smtp_cmd_split("DATA\0", 5, &cmd), -1);
	assert_int_equal(cmd.verb, SMTP_CMD_UNKNOWN);
	assert_int_equal(cmd.arg_len, 0);
	assert_int_equal(smtp_cmd_split("MA\0IL FROM:<>", 13, &cmd), -1);
	assert_int_equal(smtp_cmd_split("\0", 1, &cmd), -1);
	assert_int_equal(smtp_cmd_split("RCPT TO:<a@b\0>", 15, &cmd), -1);
	assert_int_equal(smtp_cmd_split(NULL, 0, &cmd), 0);
	assert_int_equal(cmd.verb, SMTP_CMD_UNKNOWN);
}

/* ---- EHLO ------------------------------------------------------------ */

static void
helo_ok(const char *arg, const char *want)
{
	char name[SMTP_DOMAIN_MAX + 1];
	char *c = dup_exact(arg, strlen(arg));

	assert_int_equal(smtp_parse_helo_arg(c, strlen(arg), name), 0);
	assert_string_equal(name, want);
	free(c);
}

static void
helo_bad(const char *arg)
{
	char name[SMTP_DOMAIN_MAX + 1];
	char *c = dup_exact(arg, strlen(arg));

	assert_int_equal(smtp_parse_helo_arg(c, strlen(arg), name), -1);
	free(c);
}

static void
test_helo(void **state)
{
	char big[301];

	helo_ok("Mail.Example.COM", "mail.example.com");
	helo_ok("localhost", "localhost");
	helo_ok("192.0.2.1", "192.0.2.1");	/* digits are labels too */
	helo_ok("[192.0.2.1]", "[192.0.2.1]");
	helo_ok("[IPv6:2001:DB8::1]", "[IPv6:2001:db8::1]");
	helo_ok("[ipv6:::1]", "[IPv6:::1]");
	helo_ok("xn--bcher-kva.example", "xn--bcher-kva.example");

	helo_bad("");
	helo_bad("two words");
	helo_ok("Under_Score.example", "under_score.example");
	helo_ok("DESKTOP_1", "desktop_1");
	helo_bad("a_.b c");
	helo_bad("example.com.");
	helo_bad(".example.com");
	helo_bad("a..b");
	helo_bad("-lead.example");
	helo_bad("trail-.example");
	helo_bad("[1.2.3]");
	helo_bad("[300.1.1.1]");
	helo_bad("[192.0.2.1");
	helo_bad("192.0.2.1]");
	helo_bad("[IPv6:zz::1]");
	helo_bad("b\xc3\xbc" "cher.example");	/* U-label before SMTPUTF8 */
	helo_bad("host\r\n");
	helo_bad("<host>");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 60; i < sizeof(big) - 1; i += 61)
		big[i] = '.';
	helo_bad(big);				/* 300 > 255 */
	{
		char name[SMTP_DOMAIN_MAX + 1];

		/* 253 bytes: labels of 60 + dots: still valid. */
		assert_int_equal(smtp_parse_helo_arg(big, 253, name), 0);
		assert_int_equal(strlen(name), 253);
		assert_int_equal(smtp_parse_helo_arg(big, 254, name), -1);
	}
}

/* ---- MAIL / RCPT paths -------------------------------------------- */

static void
test_mail_basic(void **state)
{
	struct smtp_path p;
	const char *err;

	assert_int_equal(mail("FROM:<User.Name@Example.COM>", NULL, &p,
	    &err), 0);
	assert_string_equal(p.addr, "User.Name@example.com");
	assert_string_equal(p.local, "User.Name");
	assert_string_equal(p.domain, "example.com");
	assert_false(p.null_path);
	assert_false(p.had_route);
	assert_false(p.quoted);
	assert_int_equal(p.nparams, 0);

	/* Keyword case and a space after the colon (Postfix tolerates). */
	assert_int_equal(mail("from: <a@b.example>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "a@b.example");
	assert_int_equal(mail("FROM:   <a@b.example>", NULL, &p, &err), 0);

	/* Null reverse-path. */
	assert_int_equal(mail("FROM:<>", NULL, &p, &err), 0);
	assert_true(p.null_path);
	assert_string_equal(p.addr, "");
	assert_int_equal(mail("FROM:<> SIZE=100 BODY=8BITMIME", NULL, &p,
	    &err), 0);
	assert_true(p.null_path);
	assert_int_equal(p.nparams, 2);

	/* atext specials are fine in a dot-string. */
	assert_int_equal(mail("FROM:<a!#$%&'*+-/=?^_`{|}~b@x.example>",
	    NULL, &p, &err), 0);
	assert_string_equal(p.local, "a!#$%&'*+-/=?^_`{|}~b");

	/* Address literals. */
	assert_int_equal(mail("FROM:<a@[192.0.2.1]>", NULL, &p, &err), 0);
	assert_string_equal(p.domain, "[192.0.2.1]");
	assert_int_equal(mail("FROM:<a@[IPv6:2001:DB8::1]>", NULL, &p,
	    &err), 0);
	assert_string_equal(p.addr, "a@[IPv6:2001:db8::1]");
}

static void
test_mail_syntax_errors(void **state)
{
	static const char *syntax[] = {
		"FROM:a@b.example",		/* no brackets */
		"FROM a@b",
		"FROM<a@b>",
		"TO:<a@b>",
		"",
		"FROM:",
		"FROM:\t<a@b>",
		"FRO:<a@b>",
	};
	static const char *bad[] = {
		"FROM:<a@b.example",
		"FROM:<user@example.com.>",
		"FROM:<a@b@c>",
		"FROM:<user@@x>",
		"FROM:<\"unterminated@x>",
		"FROM:<@x>",
		"FROM:<a@>",
		"FROM:<@>",
		"FROM:<@route:>",
		"FROM:<a>",
		"FROM:<Postmaster>",		/* RCPT only */
		"FROM:<.a@x>",
		"FROM:<a.@x>",
		"FROM:<a..b@x>",
		"FROM:<a b@x>",
		"FROM:<a@b c>",
		"FROM:<a@-b.example>",
		"FROM:<a@b_c.example>",
		"FROM:<a@[1.2.3]>",
		"FROM:<a@[1.2.3.4>",
		"FROM:<a@[1.2.3.4]x>",
		"FROM:<a@[[1.2.3.4]]>",
		"FROM:<a@[Foo:bar]>",
		"FROM:<<a@b>>",
		"FROM:<a@b>>",
		"FROM:<\"\"@x>",		/* empty local part */
		"FROM:<\"a\"b@x>",
		"FROM:<a\"b\"@x>",
		"FROM:<\"a\\\"@x>",		/* escaped closing quote */
		"FROM:<a\x01" "b@x>",
		"FROM:<a@x\x7f>",
		"FROM:<\"a\tb\"@x>",
		"FROM:<a@x>\r",
		"FROM:<@a..b:u@x>",
		"FROM:<@a,u@x>",
		"FROM:<@a:@b:u@x>",
		"FROM:<@a,:u@x>",
		"FROM:<@[1.2.3.4]:u@x>",
		"FROM:<a@b>x",
	};
	struct smtp_path p;
	const char *err;

	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		assert_int_equal(mail(syntax[i], NULL, &p, &err), -1);
		assert_string_equal(err,
		    "501 5.5.4 Syntax: MAIL FROM:<address>");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mail(bad[i], NULL, &p, &err) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(strncmp(err, "501 5.", 6) == 0);
	}
	assert_int_equal(mail("FROM:<a@b@c>", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.1.7 Bad sender address syntax");
	assert_int_equal(mail("FROM:<a@b>x", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.5.4 Malformed parameter");
}

static void
test_rcpt(void **state)
{
	struct smtp_path p;
	const char *err;

	assert_int_equal(rcpt("TO:<Bob@Example.org>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "Bob@example.org");
	assert_int_equal(rcpt("to: <bob@example.org> NOTIFY=NEVER", NULL,
	    &p, &err), 0);
	assert_int_equal(p.nparams, 1);

	/* <Postmaster>, any case, no domain: RCPT only. */
	assert_int_equal(rcpt("TO:<Postmaster>", NULL, &p, &err), 0);
	assert_true(p.postmaster);
	assert_string_equal(p.addr, "postmaster");
	assert_string_equal(p.domain, "");
	assert_int_equal(rcpt("TO:<POSTMASTER>", NULL, &p, &err), 0);
	assert_true(p.postmaster);
	assert_int_equal(rcpt("TO:<postmaster@Example.org>", NULL, &p, &err),
	    0);
	assert_false(p.postmaster);
	assert_string_equal(p.addr, "postmaster@example.org");
	assert_int_equal(rcpt("TO:<\"Postmaster\">", NULL, &p, &err), -1);
	assert_int_equal(rcpt("TO:<postmistress>", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.1.3 Bad recipient address syntax");

	/* No null forward-path. */
	assert_int_equal(rcpt("TO:<>", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.1.3 Bad recipient address syntax");
	assert_int_equal(rcpt("FROM:<a@b>", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.5.4 Syntax: RCPT TO:<address>");
	assert_int_equal(rcpt("TO:a@b", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.5.4 Syntax: RCPT TO:<address>");
}

static void
test_source_route(void **state)
{
	struct smtp_path p;
	const char *err;

	assert_int_equal(rcpt("TO:<@route:user@x>", NULL, &p, &err), 0);
	assert_true(p.had_route);
	assert_string_equal(p.addr, "user@x");
	assert_int_equal(mail("FROM:<@a.example,@B.example:User@D.example>",
	    NULL, &p, &err), 0);
	assert_true(p.had_route);
	assert_string_equal(p.addr, "User@d.example");
	assert_int_equal(rcpt("TO:<@a:Postmaster>", NULL, &p, &err), -1);
}

static void
test_quoted_local(void **state)
{
	struct smtp_path p;
	const char *err;

	assert_int_equal(rcpt("TO:<\"a b\"@X.example>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a b\"@x.example");
	assert_string_equal(p.local, "\"a b\"");
	assert_true(p.quoted);
	/* Needless quoting and escapes are dropped. */
	assert_int_equal(rcpt("TO:<\"abc\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "abc@x");
	assert_false(p.quoted);
	assert_int_equal(rcpt("TO:<\"a.b\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "a.b@x");
	assert_int_equal(rcpt("TO:<\"a\\ b\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a b\"@x");
	assert_int_equal(rcpt("TO:<\"\\a\\b\\c\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "abc@x");
	/* Needed escapes are kept. */
	assert_int_equal(rcpt("TO:<\"a\\\"b\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a\\\"b\"@x");
	assert_int_equal(rcpt("TO:<\"a\\\\b\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a\\\\b\"@x");
	/* Dot-string rules do not apply inside quotes. */
	assert_int_equal(rcpt("TO:<\"a..b.\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a..b.\"@x");
	/* '>' and '@' inside quotes do not end anything. */
	assert_int_equal(rcpt("TO:<\"a>b@c\"@x>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a>b@c\"@x");
}

static void
test_lengths(void **state)
{
	char arg[600], dom[200];
	struct smtp_path p;
	const char *err;
	size_t n;

	/* Local part: 64 is fine, 65 is not. */
	memset(arg, 0, sizeof(arg));
	memcpy(arg, "TO:<", 4);
	memset(arg + 4, 'l', 64);
	memcpy(arg + 68, "@x>", 4);
	assert_int_equal(rcpt(arg, NULL, &p, &err), 0);
	assert_int_equal(strlen(p.local), 64);
	memset(arg + 4, 'l', 65);
	memcpy(arg + 69, "@x>", 4);
	assert_int_equal(rcpt(arg, NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.1.3 Recipient local part too long");

	/* Quoted: 64 with the quotes is the limit. */
	memset(arg, 0, sizeof(arg));
	memcpy(arg, "TO:<\"", 5);
	memset(arg + 5, ' ', 62);
	memcpy(arg + 67, "\"@x>", 5);
	assert_int_equal(rcpt(arg, NULL, &p, &err), 0);
	assert_int_equal(strlen(p.local), 64);
	memset(arg + 5, ' ', 63);
	memcpy(arg + 68, "\"@x>", 5);
	assert_int_equal(rcpt(arg, NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.1.3 Recipient local part too long");

	/* Path: 256 octets with the brackets is fine, 257 is not. */
	memset(dom, 'd', sizeof(dom));
	dom[63] = '.';
	dom[127] = '.';
	n = 256 - 2 - 64 - 1;		/* 189 bytes of domain */
	memset(arg, 0, sizeof(arg));
	memcpy(arg, "FROM:<", 6);
	memset(arg + 6, 'l', 64);
	arg[70] = '@';
	memcpy(arg + 71, dom, n);
	arg[71 + n] = '>';
	assert_int_equal(mail(arg, NULL, &p, &err), 0);
	assert_int_equal(strlen(p.addr), 254);
	memcpy(arg + 71, dom, n + 1);
	arg[72 + n] = '>';
	assert_int_equal(mail(arg, NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.1.7 Sender path too long");

	/* A huge path is refused without scanning it all. */
	{
		size_t big = 100000;
		char *h = malloc(big + 1);

		assert_non_null(h);
		memcpy(h, "TO:<", 4);
		memset(h + 4, 'a', big - 4);
		h[big] = '\0';
		assert_int_equal(rcpt(h, NULL, &p, &err), -1);
		assert_string_equal(err, "501 5.1.3 Recipient path too long");
		free(h);
	}
}

static void
test_utf8(void **state)
{
	struct smtp_parse_opts no = { .smtputf8 = false };
	struct smtp_path p;
	const char *err;

	/* 用户@例子.广告 */
	const char *r = "TO:<\xe7\x94\xa8\xe6\x88\xb7@"
	    "\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>";
	const char *m = "FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>";

	assert_int_equal(rcpt(r, NULL, &p, &err), -1);
	assert_string_equal(err,
	    "553 5.6.7 Non-ASCII recipient address requires SMTPUTF8");
	assert_int_equal(rcpt(r, &no, &p, &err), -1);
	assert_int_equal(rcpt(r, &utf8_opts, &p, &err), 0);
	assert_true(p.utf8);
	assert_string_equal(p.local, "\xe7\x94\xa8\xe6\x88\xb7");

	/* MAIL: needs both the server's offer and the parameter. */
	assert_int_equal(mail(m, &utf8_opts, &p, &err), -1);
	assert_string_equal(err,
	    "553 5.6.7 Non-ASCII sender address requires SMTPUTF8");
	{
		char buf[128];

		strcpy(buf, m);
		strcat(buf, " SMTPUTF8");
		assert_int_equal(mail(buf, NULL, &p, &err), -1);
		assert_int_equal(mail(buf, &utf8_opts, &p, &err), 0);
		assert_true(p.utf8);
		assert_string_equal(p.addr,
		    "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
	}
	/* ASCII path + SMTPUTF8 param: fine, not flagged. */
	assert_int_equal(mail("FROM:<a@b> SMTPUTF8", &utf8_opts, &p, &err), 0);
	assert_false(p.utf8);

	/* Malformed UTF-8 is refused even with SMTPUTF8. */
	assert_int_equal(rcpt("TO:<\xc3\x28@x>", &utf8_opts, &p, &err), -1);
	assert_int_equal(rcpt("TO:<\xc3\x41@x>", &utf8_opts, &p, &err), -1);
	assert_string_equal(err,
	    "501 5.1.3 Recipient address is not valid UTF-8");
	assert_int_equal(rcpt("TO:<\xc0\xaf@x>", &utf8_opts, &p, &err), -1);
	assert_int_equal(rcpt("TO:<\xed\xa0\x80@x>", &utf8_opts, &p, &err),
	    -1);
	assert_int_equal(rcpt("TO:<\xf4\x90\x80\x80@x>", &utf8_opts, &p,
	    &err), -1);
	assert_int_equal(rcpt("TO:<a\xe2\x82@x>", &utf8_opts, &p, &err), -1);
	assert_int_equal(rcpt("TO:<\"\xc3\xa9 x\"@x>", &utf8_opts, &p, &err),
	    0);
	assert_string_equal(p.addr, "\"\xc3\xa9 x\"@x");
	/* 8-bit parameter values only with SMTPUTF8. */
	assert_int_equal(rcpt("TO:<a@b> X=\xc3\xa9", NULL, &p, &err), -1);
	assert_int_equal(rcpt("TO:<a@b> X=\xc3\xa9", &utf8_opts, &p, &err), 0);
}

/* ---- parameters ------------------------------------------------------ */

static void
test_params_split(void **state)
{
	struct smtp_path p;
	const struct smtp_param *sp;
	const char *err;
	char arg[512];

	static const char line[] =
	    "FROM:<a@b>  size=100 Body=8bitmime  SMTPUTF8 ";

	/* In place: the values point into the argument. */
	assert_int_equal(smtp_parse_mail_from(line, sizeof(line) - 1,
	    &utf8_opts, &p, &err), 0);
	assert_int_equal(p.nparams, 3);
	assert_string_equal(p.params[0].keyword, "SIZE");
	assert_int_equal(p.params[0].value_len, 3);
	assert_memory_equal(p.params[0].value, "100", 3);
	assert_string_equal(p.params[1].keyword, "BODY");
	assert_memory_equal(p.params[1].value, "8bitmime", 8);
	assert_string_equal(p.params[2].keyword, "SMTPUTF8");
	assert_null(p.params[2].value);
	sp = smtp_path_param(&p, "body");
	assert_ptr_equal(sp, &p.params[1]);
	assert_null(smtp_path_param(&p, "RET"));

	assert_int_equal(mail("FROM:<a@b> SIZE=1 size=2", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.5.4 Duplicate parameter");
	assert_int_equal(mail("FROM:<a@b> SIZE=", NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.5.4 Malformed parameter");
	assert_int_equal(mail("FROM:<a@b> =1", NULL, &p, &err), -1);
	assert_int_equal(mail("FROM:<a@b> -X=1", NULL, &p, &err), -1);
	assert_int_equal(mail("FROM:<a@b> X_Y=1", NULL, &p, &err), -1);
	assert_int_equal(mail("FROM:<a@b> ENVID=a=b", NULL, &p, &err), -1);
	assert_int_equal(mail("FROM:<a@b> X-Y=a", NULL, &p, &err), 0);
	assert_string_equal(p.params[0].keyword, "X-Y");
	assert_int_equal(mail("FROM:<a@b>SIZE=1", NULL, &p, &err), -1);

	/* Keyword length limit. */
	strcpy(arg, "FROM:<a@b> ");
	memset(arg + 11, 'K', SMTP_PARAM_KEYWORD_MAX);
	arg[11 + SMTP_PARAM_KEYWORD_MAX] = '\0';
	assert_int_equal(mail(arg, NULL, &p, &err), 0);
	arg[11 + SMTP_PARAM_KEYWORD_MAX] = 'K';
	arg[12 + SMTP_PARAM_KEYWORD_MAX] = '\0';
	assert_int_equal(mail(arg, NULL, &p, &err), -1);

	/* Parameter count limit. */
	strcpy(arg, "FROM:<a@b>");
	for (int i = 0; i < SMTP_PARAMS_MAX; i++) {
		size_t n = strlen(arg);

		arg[n++] = ' ';
		arg[n++] = 'P';
		arg[n++] = (char)('A' + i);
		arg[n] = '\0';
	}
	assert_int_equal(mail(arg, NULL, &p, &err), 0);
	assert_int_equal(p.nparams, SMTP_PARAMS_MAX);
	strcat(arg, " PZ");
	assert_int_equal(mail(arg, NULL, &p, &err), -1);
	assert_string_equal(err, "501 5.5.4 Too many parameters");
}

static const struct smtp_param *
one_param(const char *arg, struct smtp_path *p)
{
	const char *err;

	/* Parsed in place: the values point into the (static) argument. */
	if (smtp_parse_mail_from(arg, strlen(arg), &utf8_opts, p, &err) != 0)
		fail_msg("%s: %s", arg, err);
	assert_int_equal(p->nparams, 1);
	return &p->params[0];
}

static void
test_param_values(void **state)
{
	struct smtp_path p;
	struct buf b = BUF_INIT;
	uint64_t sz;
	enum smtp_body body;
	enum smtp_ret ret;
	unsigned notify;
	const char *type;
	size_t tlen;

	assert_int_equal(smtp_param_size(one_param("FROM:<> SIZE=12345", &p),
	    &sz), 0);
	assert_int_equal(sz, 12345);
	assert_int_equal(smtp_param_size(one_param("FROM:<> SIZE=0", &p),
	    &sz), 0);
	assert_int_equal(sz, 0);
	assert_int_equal(smtp_param_size(one_param(
	    "FROM:<> SIZE=18446744073709551615", &p), &sz), 0);
	assert_true(sz == UINT64_MAX);
	assert_int_equal(smtp_param_size(one_param(
	    "FROM:<> SIZE=18446744073709551616", &p), &sz), -1);
	assert_int_equal(smtp_param_size(one_param(
	    "FROM:<> SIZE=99999999999999999999999", &p), &sz), -1);
	assert_int_equal(smtp_param_size(one_param("FROM:<> SIZE=12a", &p),
	    &sz), -1);
	assert_int_equal(smtp_param_size(one_param("FROM:<> SIZE=-1", &p),
	    &sz), -1);
	assert_int_equal(smtp_param_size(one_param("FROM:<> SIZE", &p), &sz),
	    -1);

	assert_int_equal(smtp_param_body(one_param("FROM:<> BODY=7bit", &p),
	    &body), 0);
	assert_int_equal(body, SMTP_BODY_7BIT);
	assert_int_equal(smtp_param_body(one_param("FROM:<> BODY=8BITMIME",
	    &p), &body), 0);
	assert_int_equal(body, SMTP_BODY_8BITMIME);
	assert_int_equal(smtp_param_body(one_param("FROM:<> BODY=BinaryMIME",
	    &p), &body), 0);
	assert_int_equal(body, SMTP_BODY_BINARYMIME);
	assert_int_equal(smtp_param_body(one_param("FROM:<> BODY=8BIT", &p),
	    &body), -1);
	assert_int_equal(smtp_param_body(one_param("FROM:<> BODY", &p),
	    &body), -1);

	assert_int_equal(smtp_param_flag(one_param("FROM:<> SMTPUTF8", &p)),
	    0);
	assert_int_equal(smtp_param_flag(one_param("FROM:<> SMTPUTF8=yes",
	    &p)), -1);

	assert_int_equal(smtp_param_ret(one_param("FROM:<> RET=FULL", &p),
	    &ret), 0);
	assert_int_equal(ret, SMTP_RET_FULL);
	assert_int_equal(smtp_param_ret(one_param("FROM:<> RET=hdrs", &p),
	    &ret), 0);
	assert_int_equal(ret, SMTP_RET_HDRS);
	assert_int_equal(smtp_param_ret(one_param("FROM:<> RET=NONE", &p),
	    &ret), -1);

	assert_int_equal(smtp_param_notify(one_param(
	    "FROM:<> NOTIFY=SUCCESS,failure", &p), &notify), 0);
	assert_int_equal(notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	assert_int_equal(smtp_param_notify(one_param(
	    "FROM:<> NOTIFY=DELAY,SUCCESS,FAILURE", &p), &notify), 0);
	assert_int_equal(notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
	    SMTP_NOTIFY_DELAY);
	assert_int_equal(smtp_param_notify(one_param("FROM:<> NOTIFY=Never",
	    &p), &notify), 0);
	assert_int_equal(notify, SMTP_NOTIFY_NEVER);
	static const char *bad_notify[] = {
		"FROM:<> NOTIFY=NEVER,SUCCESS", "FROM:<> NOTIFY=SUCCESS,NEVER",
		"FROM:<> NOTIFY=SUCCESS,SUCCESS", "FROM:<> NOTIFY=SUCCESS,",
		"FROM:<> NOTIFY=,SUCCESS", "FROM:<> NOTIFY=SUCCESS,,DELAY",
		"FROM:<> NOTIFY=ALWAYS", "FROM:<> NOTIFY",
	};
	for (size_t i = 0; i < sizeof(bad_notify) / sizeof(bad_notify[0]);
	    i++)
		assert_int_equal(smtp_param_notify(one_param(bad_notify[i],
		    &p), &notify), -1);

	/* ENVID (RFC 3461 examples use xtext like this). */
	assert_int_equal(smtp_param_envid(one_param("FROM:<> ENVID=QQ314159",
	    &p), &b), 0);
	assert_string_equal(buf_cstr(&b), "QQ314159");
	assert_int_equal(smtp_param_envid(one_param(
	    "FROM:<> ENVID=a+2Bb+3Dc+20d", &p), &b), 0);
	assert_string_equal(buf_cstr(&b), "a+b=c d");
	assert_int_equal(smtp_param_envid(one_param("FROM:<> ENVID=a+2", &p),
	    &b), -1);
	assert_int_equal(smtp_param_envid(one_param("FROM:<> ENVID=a+ZZ", &p),
	    &b), -1);
	assert_int_equal(smtp_param_envid(one_param("FROM:<> ENVID=a+0D+0A",
	    &p), &b), -1);
	assert_int_equal(smtp_param_envid(one_param("FROM:<> ENVID=a+C3+A9",
	    &p), &b), -1);
	assert_int_equal(smtp_param_envid(one_param("FROM:<> ENVID", &p),
	    &b), -1);
	{
		char arg[200];

		strcpy(arg, "FROM:<> ENVID=");
		memset(arg + 14, 'e', SMTP_ENVID_MAX);
		arg[14 + SMTP_ENVID_MAX] = '\0';
		assert_int_equal(smtp_param_envid(one_param(arg, &p), &b), 0);
		assert_int_equal(b.len, SMTP_ENVID_MAX);
		strcat(arg, "e");
		assert_int_equal(smtp_param_envid(one_param(arg, &p), &b), -1);
	}

	/* ORCPT */
	assert_int_equal(smtp_param_orcpt(one_param(
	    "FROM:<> ORCPT=rfc822;Bob@Example.COM", &p), &type, &tlen, &b), 0);
	assert_int_equal(tlen, 6);
	assert_memory_equal(type, "rfc822", 6);
	assert_string_equal(buf_cstr(&b), "Bob@Example.COM");
	assert_int_equal(smtp_param_orcpt(one_param(
	    "FROM:<> ORCPT=rfc822;a+2Bb@x", &p), &type, &tlen, &b), 0);
	assert_string_equal(buf_cstr(&b), "a+b@x");
	assert_int_equal(smtp_param_orcpt(one_param(
	    "FROM:<> ORCPT=utf-8;j+C3+B6rg@x", &p), &type, &tlen, &b), 0);
	assert_memory_equal(type, "utf-8", 5);
	assert_string_equal(buf_cstr(&b), "j\xc3\xb6rg@x");
	static const char *bad_orcpt[] = {
		"FROM:<> ORCPT=;a@b", "FROM:<> ORCPT=rfc822",
		"FROM:<> ORCPT=rfc822;", "FROM:<> ORCPT=rf(c;a@b",
		"FROM:<> ORCPT=rfc822;a+0Ab", "FROM:<> ORCPT=rfc822;a+C3",
		"FROM:<> ORCPT=rfc822;a+2", "FROM:<> ORCPT",
	};
	for (size_t i = 0; i < sizeof(bad_orcpt) / sizeof(bad_orcpt[0]); i++)
		assert_int_equal(smtp_param_orcpt(one_param(bad_orcpt[i], &p),
		    &type, &tlen, &b), -1);
	{
		char arg[700];

		strcpy(arg, "FROM:<> ORCPT=rfc822;");
		memset(arg + 21, 'o', SMTP_ORCPT_MAX - 7);
		arg[21 + SMTP_ORCPT_MAX - 7] = '\0';
		assert_int_equal(smtp_param_orcpt(one_param(arg, &p), &type,
		    &tlen, &b), 0);
		strcat(arg, "o");
		assert_int_equal(smtp_param_orcpt(one_param(arg, &p), &type,
		    &tlen, &b), -1);
	}
	buf_free(&b);
}

static void
test_xtext(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(smtp_xtext_decode("", 0, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(smtp_xtext_decode("+41+42c+7e", 10, &b), 0);
	assert_string_equal(buf_cstr(&b), "ABc~");
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("+00", 3, &b), 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], '\0');
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("a+4", 3, &b), -1);
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("a+", 2, &b), -1);
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("a b", 3, &b), -1);
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("a=b", 3, &b), -1);
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("a+g0", 4, &b), -1);
	buf_reset(&b);
	assert_int_equal(smtp_xtext_decode("\x80", 1, &b), -1);
	buf_free(&b);
}

static void
test_relay_tricks(void **state)
{
	struct smtp_path p;
	const char *err;

	assert_true(smtp_addr_has_relay_tricks("user%other@local.test"));
	assert_true(smtp_addr_has_relay_tricks("host!user@local.test"));
	assert_true(smtp_addr_has_relay_tricks("\"a@b\"@local.test"));
	assert_true(smtp_addr_has_relay_tricks("\"a%b\"@local.test"));
	assert_false(smtp_addr_has_relay_tricks("user@local.test"));
	assert_false(smtp_addr_has_relay_tricks("user+tag@local.test"));
	assert_false(smtp_addr_has_relay_tricks("postmaster"));
	assert_false(smtp_addr_has_relay_tricks(""));

	/* The parser accepts them; the session refuses them. */
	assert_int_equal(rcpt("TO:<user%other@local.test>", NULL, &p, &err),
	    0);
	assert_string_equal(p.addr, "user%other@local.test");
	assert_true(smtp_addr_has_relay_tricks(p.addr));
	assert_int_equal(rcpt("TO:<\"a@b\"@local.test>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"a@b\"@local.test");
	assert_true(smtp_addr_has_relay_tricks(p.addr));
	assert_int_equal(rcpt("TO:<\"x!y\"@local.test>", NULL, &p, &err), 0);
	assert_string_equal(p.addr, "x!y@local.test");
	assert_true(smtp_addr_has_relay_tricks(p.addr));
}

/* ---- robustness ------------------------------------------------------ */

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void
run_all(const char *s, size_t len)
{
	char *c = dup_exact(s, len);
	struct smtp_cmd cmd;
	struct smtp_path p;
	char name[SMTP_DOMAIN_MAX + 1];
	const char *err;
	struct buf b = BUF_INIT;

	(void)smtp_cmd_split(c, len, &cmd);
	(void)smtp_parse_helo_arg(c, len, name);
	if (smtp_parse_mail_from(c, len, &utf8_opts, &p, &err) == 0) {
		for (size_t i = 0; i < p.nparams; i++) {
			const char *t;
			size_t tl;
			uint64_t u;
			unsigned n;

			(void)smtp_param_size(&p.params[i], &u);
			(void)smtp_param_notify(&p.params[i], &n);
			(void)smtp_param_envid(&p.params[i], &b);
			(void)smtp_param_orcpt(&p.params[i], &t, &tl, &b);
		}
		assert_true(strlen(p.addr) <= SMTP_PATH_MAX);
		(void)smtp_addr_has_relay_tricks(p.addr);
	}
	if (smtp_parse_rcpt_to(c, len, NULL, &p, &err) == 0)
		(void)smtp_addr_has_relay_tricks(p.addr);
	(void)smtp_xtext_decode(c, len, &b);
	buf_free(&b);
	free(c);
}

static void
test_prefixes(void **state)
{
	static const char *lines[] = {
		"FROM:<@a.example,@b.example:\"x\\\"y z\"@[IPv6:2001:db8::1]>"
		    " SIZE=100 BODY=8BITMIME ENVID=a+2Bb ORCPT=rfc822;a+2Bb@c",
		"TO:<postmaster> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x@y",
		"FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8",
		"TO:<a@[192.0.2.1]>",
	};
	struct smtp_path p;
	const char *err;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t len = strlen(lines[i]);

		for (size_t n = 0; n <= len; n++)
			run_all(lines[i], n);
	}
	/* The complete lines parse. */
	assert_int_equal(mail(lines[0], NULL, &p, &err), 0);
	assert_string_equal(p.addr, "\"x\\\"y z\"@[IPv6:2001:db8::1]");
	assert_int_equal(p.nparams, 4);
	assert_int_equal(rcpt(lines[1], NULL, &p, &err), 0);
	assert_true(p.postmaster);
}

static void
test_random(void **state)
{
	static const char alphabet[] = "<>@\":.,[]\\ =+;aZ09-\x01\x80\xc3\xa9"
	    "FROMTO:";
	char s[300];

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rng() % sizeof(s);

		for (size_t i = 0; i < len; i++) {
			if (rng() % 4 == 0)
				s[i] = (char)(rng() & 0xff);
			else
				s[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		}
		if (len >= 6 && rng() % 2)
			memcpy(s, rng() % 2 ? "FROM:<" : "TO:<\"", 5);
		run_all(s, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_split_verbs),
		cmocka_unit_test(test_cmd_split_args),
		cmocka_unit_test(test_cmd_split_nul),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_mail_basic),
		cmocka_unit_test(test_mail_syntax_errors),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_source_route),
		cmocka_unit_test(test_quoted_local),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_params_split),
		cmocka_unit_test(test_param_values),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_relay_tricks),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
