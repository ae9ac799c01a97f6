/*
 * test_imap_bodystructure - unit tests for src/imap/imap_quote and
 * src/imap/imap_bodystructure, plus the golden MIME corpus.
 *
 * Golden files: tests/golden/mime/NAME.eml is a stored message and
 * NAME.ref holds the expected lines
 *	BODYSTRUCTURE <value>
 *	BODY <value>
 *	ENVELOPE <value>
 *	SECTION <path> <hdr_off> <hdr_len> <body_off> <body_len> <lines>
 *	SECTION <path> NONE
 * ('#' starts a comment line).  The directory is GOLDEN_DIR when defined,
 * else found next to this source file (__FILE__/../golden/mime), else
 * tests/golden/mime relative to the working directory.  Each message is
 * parsed whole, one byte at a time and in 7-byte chunks, and through a
 * serialize / deserialize round trip; all must print the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_bodystructure.h"
#include "imap/imap_quote.h"
#include "mime/mime.h"

/*
 * imap_quote
 */

static void
check_astring(const char *in, size_t len, const char *want, size_t wlen)
{
	struct buf b = BUF_INIT;

	imap_write_astring(&b, in, len);
	assert_int_equal(b.len, wlen);
	assert_memory_equal(b.data, want, wlen);
	buf_free(&b);
}

static void
check_string(const char *in, size_t len, const char *want, size_t wlen)
{
	struct buf b = BUF_INIT;

	imap_write_string(&b, in, len);
	assert_int_equal(b.len, wlen);
	assert_memory_equal(b.data, want, wlen);
	buf_free(&b);
}

#define ASTR(in, want)	check_astring(in, sizeof(in) - 1, want, \
			    sizeof(want) - 1)
#define STR(in, want)	check_string(in, sizeof(in) - 1, want, \
			    sizeof(want) - 1)

static void
test_quote(void **state)
{
	struct buf b = BUF_INIT;
	char *big;

	ASTR("INBOX", "INBOX");
	ASTR("a]b", "a]b");			/* ']' is an ASTRING-CHAR */
	/* '[' is too, but "BINARY[" would read back as a fetch section. */
	ASTR("BINARY[", "\"BINARY[\"");
	ASTR("body.peek[x]", "\"body.peek[x]\"");
	ASTR("foo[bar", "\"foo[bar\"");
	ASTR("", "\"\"");
	ASTR("two words", "\"two words\"");
	ASTR("a(b", "\"a(b\"");
	ASTR("a{b", "\"a{b\"");
	ASTR("100%", "\"100%\"");
	ASTR("*", "\"*\"");
	ASTR("q\"d", "\"q\\\"d\"");
	ASTR("back\\slash", "\"back\\\\slash\"");
	ASTR("tab\there", "\"tab\there\"");
	ASTR("caf\xc3\xa9", "{5}\r\ncaf\xc3\xa9");
	ASTR("a\r\nb", "{4}\r\na\r\nb");

	STR("plain", "\"plain\"");
	STR("", "\"\"");
	STR("\"\\", "\"\\\"\\\\\"");
	STR("nul\0byte", "{7}\r\nnulbyte");
	STR("\0", "{0}\r\n");
	STR("lf\n", "{3}\r\nlf\n");

	imap_write_nstring(&b, NULL);
	imap_write_nstring(&b, "x");
	imap_write_nstring_len(&b, NULL, 3);
	imap_write_nstring_len(&b, "abc", 2);
	assert_string_equal(buf_cstr(&b), "NIL\"x\"NIL\"ab\"");

	/* 1023 bytes are quoted, 1024 go as a literal. */
	big = malloc(1024);
	memset(big, 'a', 1024);
	buf_reset(&b);
	imap_write_string(&b, big, 1023);
	assert_int_equal(b.len, 1025);
	assert_int_equal(b.data[0], '"');
	buf_reset(&b);
	imap_write_string(&b, big, 1024);
	assert_int_equal(b.len, 8 + 1024);
	assert_memory_equal(b.data, "{1024}\r\n", 8);
	free(big);
	buf_free(&b);

	assert_true(imap_is_atom_char('a'));
	assert_false(imap_is_atom_char(' '));
	assert_false(imap_is_atom_char(']'));
	assert_false(imap_is_atom_char(0x7f));
	assert_false(imap_is_atom_char(0x80));
}

/*
 * Writer edge cases that the golden corpus does not reach.
 */

static char *
bodystructure_of(const char *msg, size_t len, bool ext,
    const struct mime_limits *lim)
{
	struct mime_part *root = mime_parse(msg, len, lim);
	struct buf b = BUF_INIT;

	imap_write_bodystructure(&b, root, ext);
	mime_part_free(&root);
	return buf_steal(&b);
}

static void
test_writer_edges(void **state)
{
	static const char trunc[] =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: message/rfc822; x=1\r\n\r\n"
	    "Subject: hidden\r\n\r\nbody\r\n--b--\r\n";
	static const char lang[] =
	    "Content-Language: (c) en-GB ,, (x) fr (unterminated\r\n"
	    "Content-Disposition: INLINE\r\n"
	    "Content-Type: Text/Enriched\r\n\r\n";
	static const char empty_lang[] = "Content-Language: ,\r\n\r\n";
	static const char eightbit[] =
	    "Content-Type: text/plain; name=\"caf\xc3\xa9\"\r\n"
	    "Content-Description: line\r\n two\r\n\r\nx";
	struct mime_limits lim = { 2, 0, 0, 0 };
	char *s;

	/* message/rfc822 not parsed because of the depth limit. */
	s = bodystructure_of(trunc, sizeof(trunc) - 1, true, &lim);
	assert_string_equal(s, "((\"application\" \"octet-stream\" "
	    "(\"x\" \"1\") NIL NIL \"7bit\" 23 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"b\") NIL NIL NIL)");
	free(s);

	s = bodystructure_of(lang, sizeof(lang) - 1, true, NULL);
	assert_string_equal(s, "(\"text\" \"enriched\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0 NIL (\"INLINE\" NIL) "
	    "(\"en-GB\" \"fr\") NIL)");
	free(s);

	s = bodystructure_of(empty_lang, sizeof(empty_lang) - 1, true, NULL);
	assert_string_equal(s, "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
	free(s);

	/* 8-bit values go out as literals; the fold is gone. */
	s = bodystructure_of(eightbit, sizeof(eightbit) - 1, false, NULL);
	assert_string_equal(s, "(\"text\" \"plain\" (\"name\" {5}\r\n"
	    "caf\xc3\xa9 \"charset\" \"us-ascii\") NIL \"line two\" \"7bit\" "
	    "1 0)");
	free(s);
}

static void
test_envelope_edges(void **state)
{
	struct mime_envelope env;
	struct buf b = BUF_INIT;

	imap_write_envelope(&b, NULL);
	assert_string_equal(buf_cstr(&b),
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");

	/* Empty Sender / Reply-To fall back to From; empty To is NIL. */
	memset(&env, 0, sizeof(env));
	env.from = "a@b";
	env.sender = "";
	env.reply_to = " , ";
	env.to = "";
	env.subject = "";
	buf_reset(&b);
	imap_write_envelope(&b, &env);
	assert_string_equal(buf_cstr(&b), "(NIL \"\" ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL "
	    "NIL)");

	/* No From at all: Sender / Reply-To are NIL too. */
	memset(&env, 0, sizeof(env));
	env.subject = "caf\xc3\xa9";
	buf_reset(&b);
	imap_write_envelope(&b, &env);
	assert_string_equal(buf_cstr(&b),
	    "(NIL {5}\r\ncaf\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL)");

	buf_reset(&b);
	imap_write_address_list(&b, "\"q\\\"x\" <a@b>");
	assert_string_equal(buf_cstr(&b), "((\"q\\\"x\" NIL \"a\" \"b\"))");
	buf_free(&b);
}

/*
 * Golden corpus.
 */

static const char *const golden_names[] = {
	"simple", "no_content_type", "alternative", "attachment", "nested3",
	"rfc822", "digest", "unclosed_boundary", "missing_final", "bare_lf",
	"addresses", "header_only", "empty", "boundary_edge",
};

static char golden_dir[4096];

static void
find_golden_dir(void)
{
#ifdef GOLDEN_DIR
	snprintf(golden_dir, sizeof(golden_dir), "%s", GOLDEN_DIR);
#else
	const char *file = __FILE__, *slash = strrchr(file, '/');

	if (slash != NULL)
		snprintf(golden_dir, sizeof(golden_dir),
		    "%.*s/../golden/mime", (int)(slash - file), file);
	else
		snprintf(golden_dir, sizeof(golden_dir), "../golden/mime");
	if (access(golden_dir, R_OK) != 0)
		snprintf(golden_dir, sizeof(golden_dir), "tests/golden/mime");
#endif
}

static int
read_file(const char *name, const char *ext, struct buf *out)
{
	char path[4200];
	FILE *f;
	char tmp[8192];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.%s", golden_dir, name, ext);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	buf_reset(out);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(out, tmp, n);
	fclose(f);
	return 0;
}

static void
render(const struct mime_part *root, const char *kind, struct buf *out)
{
	buf_reset(out);
	if (strcmp(kind, "BODYSTRUCTURE") == 0)
		imap_write_bodystructure(out, root, true);
	else if (strcmp(kind, "BODY") == 0)
		imap_write_bodystructure(out, root, false);
	else
		imap_write_envelope(out, root->env);
}

static void
check_section(const char *name, const struct mime_part *root,
    const char *line)
{
	unsigned path[64];
	size_t n = 0;
	const char *p = line;
	const struct mime_part *part;
	char want[200], got[200];

	while (*p >= '0' && *p <= '9' && n < 64) {
		path[n] = 0;
		while (*p >= '0' && *p <= '9')
			path[n] = path[n] * 10 + (unsigned)(*p++ - '0');
		n++;
		if (*p == '.')
			p++;
	}
	assert_int_equal(*p, ' ');
	part = mime_part_find(root, path, n);
	snprintf(want, sizeof(want), "%s", p + 1);
	if (part == NULL)
		snprintf(got, sizeof(got), "NONE");
	else
		snprintf(got, sizeof(got), "%llu %llu %llu %llu %llu",
		    (unsigned long long)part->hdr_off,
		    (unsigned long long)part->hdr_len,
		    (unsigned long long)part->body_off,
		    (unsigned long long)part->body_len,
		    (unsigned long long)part->body_lines);
	if (strcmp(want, got) != 0)
		fail_msg("%s: SECTION %s: got \"%s\"", name, line, got);
}

/* Compare every .ref line against one parse of the message. */
static void
check_ref(const char *name, const char *how, const struct mime_part *root,
    const struct buf *ref)
{
	struct buf out = BUF_INIT;
	const char *line = ref->data, *end = ref->data + ref->len, *nl, *sp;
	char kind[32];
	unsigned nkinds = 0;

	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		if (*line == '#' || nl == line) {
			line = nl + 1;
			continue;
		}
		sp = memchr(line, ' ', (size_t)(nl - line));
		assert_non_null(sp);
		assert_true((size_t)(sp - line) < sizeof(kind));
		memcpy(kind, line, (size_t)(sp - line));
		kind[sp - line] = '\0';
		if (strcmp(kind, "SECTION") == 0) {
			char sline[256];

			snprintf(sline, sizeof(sline), "%.*s",
			    (int)(nl - sp - 1), sp + 1);
			check_section(name, root, sline);
		} else {
			render(root, kind, &out);
			if (out.len != (size_t)(nl - sp - 1) ||
			    memcmp(out.data, sp + 1, out.len) != 0)
				fail_msg("%s (%s): %s\n got: %s\nwant: %.*s",
				    name, how, kind, buf_cstr(&out),
				    (int)(nl - sp - 1), sp + 1);
			nkinds++;
		}
		line = nl + 1;
	}
	assert_int_equal(nkinds, 3);
	buf_free(&out);
}

static struct mime_part *
parse_in_chunks(const struct buf *msg, size_t chunk)
{
	struct mime_parser *ps = mime_parser_create(NULL);

	for (size_t off = 0; off < msg->len; off += chunk)
		mime_parser_feed(ps, msg->data + off,
		    msg->len - off < chunk ? msg->len - off : chunk);
	return mime_parser_finish(&ps);
}

static void
test_golden(void **state)
{
	struct buf msg = BUF_INIT, ref = BUF_INIT, ser = BUF_INIT;
	struct mime_part *root, *back;
	const char *err = NULL;

	find_golden_dir();
	for (size_t i = 0; i < sizeof(golden_names) / sizeof(golden_names[0]);
	    i++) {
		const char *name = golden_names[i];

		if (read_file(name, "eml", &msg) < 0 ||
		    read_file(name, "ref", &ref) < 0)
			fail_msg("golden %s not found in %s", name, golden_dir);

		root = mime_parse(msg.data, msg.len, NULL);
		check_ref(name, "whole", root, &ref);

		buf_reset(&ser);
		assert_int_equal(mime_serialize(root, &ser), 0);
		back = mime_deserialize(ser.data, ser.len, &err);
		if (back == NULL)
			fail_msg("%s: deserialize: %s", name, err);
		check_ref(name, "deserialized", back, &ref);
		mime_part_free(&back);
		mime_part_free(&root);

		root = parse_in_chunks(&msg, 1);
		check_ref(name, "1-byte chunks", root, &ref);
		mime_part_free(&root);
		root = parse_in_chunks(&msg, 7);
		check_ref(name, "7-byte chunks", root, &ref);
		mime_part_free(&root);
	}
	buf_free(&msg);
	buf_free(&ref);
	buf_free(&ser);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_writer_edges),
		cmocka_unit_test(test_envelope_edges),
		cmocka_unit_test(test_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
