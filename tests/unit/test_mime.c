/*
 * test_mime - unit tests for src/mime: the streaming MIME parser, section
 * lookup, serialization and the RFC 5322 address parser.
 *
 * Expected offsets were computed by hand (byte counts of the literal
 * messages below); every message is also parsed at every split point and in
 * chunks of 1, 2, 3, 7 and 64 bytes, and the serialized trees must be
 * identical.  Hostile inputs check the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "mime/mime.h"
#include "mime/mime_addr.h"

/*
 * Helpers.
 */

static struct mime_part *
parse_chunked(const char *msg, size_t len, size_t chunk,
    const struct mime_limits *lim)
{
	struct mime_parser *ps = mime_parser_create(lim);

	for (size_t off = 0; off < len; off += chunk)
		mime_parser_feed(ps, msg + off,
		    len - off < chunk ? len - off : chunk);
	return mime_parser_finish(&ps);
}

static void
serialize_to(const struct mime_part *p, struct buf *b)
{
	buf_reset(b);
	assert_int_equal(mime_serialize(p, b), 0);
}

/*
 * Parse whole, at every split point (for short messages) and in odd chunk
 * sizes; the trees must serialize identically.  Returns the whole parse.
 */
static struct mime_part *
parse_all_ways(const char *msg, size_t len, const struct mime_limits *lim)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64 };
	struct buf ref = BUF_INIT, got = BUF_INIT;
	struct mime_part *root, *p;
	struct mime_parser *ps;

	root = mime_parse(msg, len, lim);
	serialize_to(root, &ref);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		p = parse_chunked(msg, len, chunks[i], lim);
		serialize_to(p, &got);
		assert_int_equal(got.len, ref.len);
		assert_memory_equal(got.data, ref.data, ref.len);
		mime_part_free(&p);
	}
	if (len <= 2048) {
		for (size_t split = 0; split <= len; split++) {
			ps = mime_parser_create(lim);
			mime_parser_feed(ps, msg, split);
			mime_parser_feed(ps, msg + split, len - split);
			p = mime_parser_finish(&ps);
			serialize_to(p, &got);
			assert_int_equal(got.len, ref.len);
			assert_memory_equal(got.data, ref.data, ref.len);
			mime_part_free(&p);
		}
	}
	/* Round trip through the store format. */
	p = mime_deserialize(ref.data, ref.len, &(const char *){ NULL });
	assert_non_null(p);
	serialize_to(p, &got);
	assert_int_equal(got.len, ref.len);
	assert_memory_equal(got.data, ref.data, ref.len);
	mime_part_free(&p);
	buf_free(&ref);
	buf_free(&got);
	return root;
}

#define PARSE(m)	parse_all_ways((m), sizeof(m) - 1, NULL)

static void
check_part(const struct mime_part *p, const char *type, const char *subtype,
    uint64_t hdr_off, uint64_t hdr_len, uint64_t body_len, uint64_t lines)
{
	assert_non_null(p);
	assert_string_equal(p->type, type);
	assert_string_equal(p->subtype, subtype);
	assert_int_equal(p->hdr_off, hdr_off);
	assert_int_equal(p->hdr_len, hdr_len);
	assert_int_equal(p->body_off, hdr_off + hdr_len);
	assert_int_equal(p->body_len, body_len);
	assert_int_equal(p->body_lines, lines);
}

static const struct mime_part *
sec(const struct mime_part *root, const char *path)
{
	unsigned v[32];
	size_t n = 0;

	while (*path != '\0') {
		v[n] = 0;
		while (*path >= '0' && *path <= '9')
			v[n] = v[n] * 10 + (unsigned)(*path++ - '0');
		n++;
		if (*path == '.')
			path++;
	}
	return mime_part_find(root, v, n);
}

/* The body of a part, as BODY[section] would send it. */
static void
check_body(const char *msg, const struct mime_part *p, const char *want)
{
	assert_non_null(p);
	assert_int_equal(p->body_len, strlen(want));
	assert_memory_equal(msg + p->body_off, want, strlen(want));
}

/*
 * Structure and offsets.
 */

static const char nested_msg[] =
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "\r\n"
    "plain\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner msg\r\n"
    "\r\n"
    "body\r\n"
    "--outer--\r\n";

static void
test_nested_offsets(void **state)
{
	struct mime_part *root = PARSE(nested_msg);
	const struct mime_part *p;

	assert_int_equal(sizeof(nested_msg) - 1, 273);
	check_part(root, "multipart", "mixed", 0, 49, 224, 19);
	assert_string_equal(mime_param_get(root->params, "boundary"), "outer");
	assert_int_equal(root->flags, 0);
	assert_non_null(root->env);

	p = sec(root, "1");
	check_part(p, "multipart", "alternative", 58, 55, 78, 8);
	assert_null(p->env);
	p = sec(root, "1.1");
	check_part(p, "text", "plain", 122, 2, 5, 0);
	check_body(nested_msg, p, "plain");
	p = sec(root, "1.2");
	check_part(p, "text", "html", 140, 27, 13, 1);
	check_body(nested_msg, p, "<b>html</b>\r\n");
	assert_null(sec(root, "1.3"));

	p = sec(root, "2");
	check_part(p, "message", "rfc822", 202, 32, 26, 2);
	assert_null(p->env);
	assert_non_null(p->children);
	assert_null(p->children->next);
	check_part(p->children, "text", "plain", 234, 22, 4, 0);
	assert_non_null(p->children->env);
	assert_string_equal(p->children->env->subject, "inner msg");
	/* 2.1 of a non-multipart encapsulated message: its body. */
	assert_ptr_equal(sec(root, "2.1"), p->children);
	assert_null(sec(root, "2.2"));
	assert_null(sec(root, "3"));
	assert_null(sec(root, "0"));
	assert_ptr_equal(mime_part_find(root, NULL, 0), root);
	assert_int_equal(mime_part_count(root), 6);
	assert_int_equal(mime_part_total_size(sec(root, "1.2")), 27 + 13);
	mime_part_free(&root);
	assert_null(root);
}

/* The same structure with bare LF line ends. */
static void
test_bare_lf(void **state)
{
	static const char m[] =
	    "Content-Type: multipart/mixed; boundary=outer\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "one\n"
	    "two\n"
	    "--outer\n"
	    "\n"
	    "three\n"
	    "\n"
	    "--outer--\n";
	struct mime_part *root = PARSE(m);

	/* 47 + 8 = 55: part 1 header 26, body "one\ntwo" */
	check_part(root, "multipart", "mixed", 0, 47, sizeof(m) - 1 - 47, 10);
	check_part(sec(root, "1"), "text", "plain", 55, 26, 7, 1);
	check_body(m, sec(root, "1"), "one\ntwo");
	/* 55 + 26 + 7 + 1 + 8 = 97 */
	check_part(sec(root, "2"), "text", "plain", 97, 1, 6, 1);
	check_body(m, sec(root, "2"), "three\n");
	mime_part_free(&root);
}

/* RFC 3501 6.4.5 example structure; every section's body is its name. */
static const char rfc3501_msg[] =
    "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
    "--a\r\nContent-Type: text/plain\r\n\r\n1\r\n"
    "--a\r\nContent-Type: application/octet-stream\r\n\r\n2\r\n"
    "--a\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: three\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\n3.1\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\n\r\n3.2\r\n"
    "--b--\r\n"
    "--a\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
    "--c\r\nContent-Type: image/gif\r\n\r\n4.1\r\n"
    "--c\r\nContent-Type: message/rfc822\r\n\r\n"
    "Subject: four\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n"
    "--d\r\nContent-Type: text/plain\r\n\r\n4.2.1\r\n"
    "--d\r\nContent-Type: multipart/alternative; boundary=e\r\n\r\n"
    "--e\r\nContent-Type: text/plain\r\n\r\n4.2.2.1\r\n"
    "--e\r\nContent-Type: text/richtext\r\n\r\n4.2.2.2\r\n"
    "--e--\r\n"
    "--d--\r\n"
    "--c--\r\n"
    "--a--\r\n";

static void
test_section_find(void **state)
{
	static const struct {
		const char *path, *type, *subtype;
	} want[] = {
		{ "1", "text", "plain" },
		{ "2", "application", "octet-stream" },
		{ "3.1", "text", "plain" },
		{ "3.2", "application", "octet-stream" },
		{ "4.1", "image", "gif" },
		{ "4.2.1", "text", "plain" },
		{ "4.2.2.1", "text", "plain" },
		{ "4.2.2.2", "text", "richtext" },
	};
	struct mime_part *root = PARSE(rfc3501_msg);
	const struct mime_part *p;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		p = sec(root, want[i].path);
		assert_non_null(p);
		assert_string_equal(p->type, want[i].type);
		assert_string_equal(p->subtype, want[i].subtype);
		check_body(rfc3501_msg, p, want[i].path);
	}
	p = sec(root, "3");
	assert_string_equal(p->type, "message");
	assert_string_equal(p->children->env->subject, "three");
	/* BODY[3] is the whole encapsulated message. */
	assert_int_equal(p->body_off, p->children->hdr_off);
	assert_int_equal(p->body_len, mime_part_total_size(p->children));
	p = sec(root, "4.2");
	assert_string_equal(p->subtype, "rfc822");
	assert_string_equal(p->children->env->subject, "four");
	p = sec(root, "4.2.2");
	assert_string_equal(p->subtype, "alternative");
	assert_null(sec(root, "5"));
	assert_null(sec(root, "4.3"));
	assert_null(sec(root, "4.2.3"));
	assert_null(sec(root, "3.3"));
	/* A leaf has only part 1 (itself), as in Dovecot. */
	assert_ptr_equal(sec(root, "1.1"), sec(root, "1"));
	assert_null(sec(root, "1.2"));
	assert_int_equal(mime_part_count(root), 15);
	mime_part_free(&root);
}

/*
 * A message that is itself message/rfc822 (imaptest fetch-body-message-
 * rfc822-x2): part 1 is the root (its body is the encapsulated message),
 * 1.1 the encapsulated message's part 1, and so on one level per number.
 */
static void
test_section_find_top_message(void **state)
{
	static const char m[] =
	    "Content-Type: message/rfc822\r\n\r\n"
	    "Subject: mid\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: sub\r\n\r\nHello world\r\n";
	struct mime_part *root = PARSE(m);
	const struct mime_part *mid, *sub;

	mid = root->children;
	assert_non_null(mid);
	sub = mid->children;
	assert_non_null(sub);
	assert_string_equal(sub->env->subject, "sub");
	assert_ptr_equal(sec(root, "1"), root);
	assert_ptr_equal(sec(root, "1.1"), mid);
	assert_ptr_equal(sec(root, "1.1.1"), sub);
	check_body(m, sec(root, "1.1.1"), "Hello world\r\n");
	assert_null(sec(root, "2"));
	assert_null(sec(root, "1.2"));
	assert_null(sec(root, "1.1.2"));
	assert_null(sec(root, "1.1.1.2"));
	mime_part_free(&root);
}

static void
test_simple_and_envelope(void **state)
{
	static const char m[] =
	    "Received: from x\r\n"
	    "  by y\r\n"
	    "date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
	    "FROM: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	    "Subject: afternoon\r\n"
	    "\tmeeting  \r\n"
	    "Subject: second subject ignored\r\n"
	    "To: mooch@owatagu.example\r\n"
	    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
	    "In-Reply-To: <x@y>\r\n"
	    "Cc:\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	    "\r\n"
	    "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
	struct mime_part *root = PARSE(m);
	const struct mime_envelope *e = root->env;

	check_part(root, "text", "plain", 0, sizeof(m) - 1 - 55, 55, 1);
	assert_string_equal(mime_param_get(root->params, "charset"),
	    "US-ASCII");
	assert_string_equal(root->params->name, "charset");
	assert_string_equal(e->date, "Mon, 7 Feb 1994 21:52:25 -0800 (PST)");
	assert_string_equal(e->from,
	    "Fred Foobar <foobar@Blurdybloop.example>");
	/* Unfolded: the CRLF goes, the tab stays; trailing space trimmed. */
	assert_string_equal(e->subject, "afternoon\tmeeting");
	assert_string_equal(e->to, "mooch@owatagu.example");
	assert_string_equal(e->message_id,
	    "<B27397-0100000@Blurdybloop.example>");
	assert_string_equal(e->in_reply_to, "<x@y>");
	assert_string_equal(e->cc, "");
	assert_null(e->sender);
	assert_null(e->reply_to);
	assert_null(e->bcc);
	assert_null(root->encoding);
	assert_null(root->children);
	assert_ptr_equal(sec(root, "1"), root);
	mime_part_free(&root);
}

static void
test_degenerate_messages(void **state)
{
	static const char hdr_only[] = "Subject: no body\r\nFrom: a@b\r\n";
	static const char hdr_nolf[] = "Subject: x";
	static const char blank[] = "\r\n";
	static const char body_only[] = "\r\nbody\r\n";
	struct mime_part *root;

	root = parse_all_ways("", 0, NULL);
	check_part(root, "text", "plain", 0, 0, 0, 0);
	assert_null(root->env->subject);
	mime_part_free(&root);

	root = PARSE(hdr_only);
	check_part(root, "text", "plain", 0, sizeof(hdr_only) - 1, 0, 0);
	assert_string_equal(root->env->subject, "no body");
	assert_string_equal(root->env->from, "a@b");
	mime_part_free(&root);

	root = PARSE(hdr_nolf);
	check_part(root, "text", "plain", 0, 10, 0, 0);
	assert_string_equal(root->env->subject, "x");
	mime_part_free(&root);

	root = PARSE(blank);
	check_part(root, "text", "plain", 0, 2, 0, 0);
	mime_part_free(&root);

	root = PARSE(body_only);
	check_part(root, "text", "plain", 0, 2, 6, 1);
	mime_part_free(&root);
}

/*
 * Boundary handling.
 */

static void
test_boundary_padding_and_outer_close(void **state)
{
	static const char m[] =
	    "Content-Type: multipart/mixed; boundary=\"o\"\r\n"
	    "\r\n"
	    "--o \t \r\n"
	    "Content-Type: multipart/alternative; boundary=i\r\n"
	    "\r\n"
	    "--i\r\n"
	    "\r\n"
	    "A\r\n"
	    "--inot a boundary\r\n"
	    "--i-- x\r\n"
	    "--o\r\n"
	    "\r\n"
	    "B\r\n"
	    "--o--  \r\n"
	    "epilogue\r\n"
	    "--o\r\n";
	struct mime_part *root = PARSE(m);
	const struct mime_part *p;

	/* header 47; "--o \t \r\n" = 8 -> part 1 at 55 */
	check_part(root, "multipart", "mixed", 0, 47, sizeof(m) - 1 - 47, 14);
	assert_int_equal(root->flags, 0);
	p = sec(root, "1");
	/* 1 header: 51 bytes; its body runs to the CRLF before "--o" */
	check_part(p, "multipart", "alternative", 55, 51, 36, 4);
	/* The outer boundary closed it: no "--i--" close was seen. */
	assert_int_equal(p->flags, MIME_PART_UNTERMINATED);
	p = sec(root, "1.1");
	check_part(p, "text", "plain", 111, 2, 29, 2);
	check_body(m, p, "A\r\n--inot a boundary\r\n--i-- x");
	p = sec(root, "2");
	check_part(p, "text", "plain", 149, 2, 1, 0);
	check_body(m, p, "B");
	assert_null(sec(root, "3"));
	mime_part_free(&root);
}

static void
test_header_cut_by_boundary(void **state)
{
	static const char m[] =
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/html\r\n"
	    "--b\r\n"
	    "--b\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "--b--\r\n";
	struct mime_part *root = PARSE(m);
	const struct mime_part *p;

	p = sec(root, "1");
	/* 45 + 5 = 50; the CRLF before "--b" is not the header's. */
	check_part(p, "text", "html", 50, 23, 0, 0);
	p = sec(root, "2");
	/* 50 + 25 + 5 = 80: empty part, the line is the next boundary */
	check_part(p, "text", "plain", 80, 0, 0, 0);
	p = sec(root, "3");
	/* 85: header cut; the message gets an empty encapsulated message */
	check_part(p, "message", "rfc822", 85, 28, 0, 0);
	check_part(p->children, "text", "plain", 113, 0, 0, 0);
	assert_non_null(p->children->env);
	assert_int_equal(root->flags, 0);
	mime_part_free(&root);
}

static void
test_unterminated_and_empty_multiparts(void **state)
{
	static const char never[] =
	    "Content-Type: multipart/mixed; boundary=zz\r\n"
	    "\r\n"
	    "no boundary ever\r\n"
	    "--z\r\n";
	static const char no_final[] =
	    "Content-Type: multipart/mixed; boundary=zz\r\n"
	    "\r\n"
	    "--zz\r\n"
	    "\r\n"
	    "one\r\n"
	    "--zz\r\n"
	    "\r\n"
	    "two\r\n";
	static const char empty[] =
	    "Content-Type: multipart/mixed; boundary=zz\r\n"
	    "\r\n"
	    "--zz--\r\n";
	static const char noparam[] =
	    "Content-Type: multipart/mixed\r\n"
	    "\r\n"
	    "--zz\r\n"
	    "\r\n"
	    "x\r\n";
	static const char eof_delim[] =
	    "Content-Type: multipart/mixed; boundary=zz\r\n"
	    "\r\n"
	    "--zz\r\n"
	    "\r\n"
	    "x\r\n"
	    "--zz";
	struct mime_part *root;

	root = PARSE(never);
	check_part(root, "multipart", "mixed", 0, 46, 23, 2);
	assert_null(root->children);
	assert_int_equal(root->flags, MIME_PART_UNTERMINATED);
	mime_part_free(&root);

	root = PARSE(no_final);
	assert_int_equal(root->flags, MIME_PART_UNTERMINATED);
	check_body(no_final, sec(root, "1"), "one");
	/* The last part runs to the end of the message. */
	check_body(no_final, sec(root, "2"), "two\r\n");
	assert_int_equal(sec(root, "2")->body_lines, 1);
	mime_part_free(&root);

	root = PARSE(empty);
	assert_null(root->children);
	assert_int_equal(root->flags, 0);
	mime_part_free(&root);

	root = PARSE(noparam);
	assert_string_equal(root->type, "multipart");
	assert_null(root->children);
	assert_int_equal(root->body_len, 11);
	mime_part_free(&root);

	/* A delimiter at EOF without a line break starts no part. */
	root = PARSE(eof_delim);
	assert_int_equal(mime_part_count(root), 2);
	check_body(eof_delim, sec(root, "1"), "x");
	mime_part_free(&root);
}

static void
test_digest_defaults(void **state)
{
	static const char m[] =
	    "Content-Type: multipart/digest; boundary=d\r\n"
	    "\r\n"
	    "--d\r\n"
	    "\r\n"
	    "From: a@b\r\n"
	    "Subject: one\r\n"
	    "\r\n"
	    "first\r\n"
	    "--d\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "explicit\r\n"
	    "--d\r\n"
	    "Content-Type: bogus\r\n"
	    "\r\n"
	    "malformed type\r\n"
	    "--d--\r\n";
	struct mime_part *root = PARSE(m);
	const struct mime_part *p;

	p = sec(root, "1");
	assert_string_equal(p->type, "message");
	assert_string_equal(p->subtype, "rfc822");
	assert_string_equal(p->children->env->subject, "one");
	/* Inside a message the default is text/plain again. */
	check_part(p->children, "text", "plain", 53, 27, 5, 0);
	assert_ptr_equal(sec(root, "1.1"), p->children);
	assert_string_equal(sec(root, "2")->type, "text");
	/* A malformed Content-Type means text/plain, even in a digest. */
	p = sec(root, "3");
	assert_string_equal(p->type, "text");
	assert_string_equal(p->subtype, "plain");
	assert_null(p->params);
	mime_part_free(&root);
}

/*
 * Header fields.
 */

static void
test_content_type_parsing(void **state)
{
	static const struct {
		const char *value, *type, *subtype, *params;
	} cases[] = {
		{ "text/plain", "text", "plain", "" },
		{ " Text / HTML ; Charset = \"UTF-8\" ", "text", "html",
		    "charset=UTF-8;" },
		{ "(comment) image/png (c2); name=\"a \\\"b\\\".png\"",
		    "image", "png", "name=a \"b\".png;" },
		{ "multipart/mixed; boundary=----=_Part_1.2; x=y",
		    "multipart", "mixed", "boundary=----=_Part_1.2;x=y;" },
		{ "application/x; junk; a=1;; b=\"2\"; c", "application", "x",
		    "a=1;b=2;" },
		{ "application/x; filename*0*=us-ascii'en'a; filename*1=b",
		    "application", "x",
		    "filename*0*=us-ascii'en'a;filename*1=b;" },
		{ "text/plain; a=\"unterminated", "text", "plain",
		    "a=unterminated;" },
		{ "text/plain; a=", "text", "plain", "a=;" },
		/* Malformed: text/plain, parameters dropped. */
		{ "text", "text", "plain", "" },
		{ "/plain", "text", "plain", "" },
		{ "text/", "text", "plain", "" },
		{ "", "text", "plain", "" },
		{ "tex\"t/plain; charset=x", "text", "plain", "" },
		{ "image/", "text", "plain", "" },
	};
	struct buf msg = BUF_INIT, pl = BUF_INIT;
	struct mime_part *root;
	const struct mime_param *p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&msg);
		buf_printf(&msg, "Content-Type: %s\r\n\r\nx", cases[i].value);
		root = mime_parse(msg.data, msg.len, NULL);
		assert_string_equal(root->type, cases[i].type);
		assert_string_equal(root->subtype, cases[i].subtype);
		buf_reset(&pl);
		for (p = root->params; p != NULL; p = p->next)
			buf_printf(&pl, "%s=%s;", p->name, p->value);
		assert_string_equal(buf_cstr(&pl), cases[i].params);
		mime_part_free(&root);
	}
	buf_free(&msg);
	buf_free(&pl);
}

static void
test_other_content_fields(void **state)
{
	static const char m[] =
	    "Content-Transfer-Encoding: Base64 (comment)\r\n"
	    "Content-ID: <id@x>\r\n"
	    "Content-Description: a\r\n"
	    " description\r\n"
	    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	    "Content-Location: http://x.test/a\r\n"
	    "Content-Disposition: attachment; filename=\"a b.pdf\";\r\n"
	    "\tsize=10\r\n"
	    "Content-Language: en, fr\r\n"
	    "Content-Disposition: inline\r\n"
	    "Content-Type: application/pdf\r\n"
	    "\r\n";
	static const char bad_cte[] =
	    "Content-Transfer-Encoding: 7bit garbage\r\n"
	    "Content-Disposition: ;filename=x\r\n"
	    "\r\n";
	struct mime_part *root = PARSE(m);

	assert_string_equal(root->encoding, "Base64");
	assert_string_equal(root->id, "<id@x>");
	assert_string_equal(root->description, "a description");
	assert_string_equal(root->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	assert_string_equal(root->location, "http://x.test/a");
	assert_string_equal(root->disposition, "attachment");
	assert_string_equal(mime_param_get(root->disp_params, "filename"),
	    "a b.pdf");
	assert_string_equal(mime_param_get(root->disp_params, "size"), "10");
	assert_string_equal(root->language, "en, fr");
	mime_part_free(&root);

	root = PARSE(bad_cte);
	assert_null(root->encoding);
	assert_null(root->disposition);
	assert_null(root->disp_params);
	mime_part_free(&root);
}

static void
test_odd_header_lines(void **state)
{
	static const char m[] =
	    " leading continuation\r\n"
	    "no colon line\r\n"
	    "\rstray cr line\r\n"
	    "Subject : spaced name\r\n"
	    "Sub ject: not a name\r\n"
	    "From: a\0b@c\r\n"
	    "To: x\ry\r\n"
	    ":empty name\r\n"
	    "\r\n"
	    "body";
	struct mime_part *root = parse_all_ways(m, sizeof(m) - 1, NULL);

	assert_string_equal(root->env->subject, "spaced name");
	/* NUL bytes are dropped from kept values; a lone CR stays. */
	assert_string_equal(root->env->from, "ab@c");
	assert_string_equal(root->env->to, "x\ry");
	assert_int_equal(root->hdr_len, sizeof(m) - 1 - 4);
	check_body(m, root, "body");
	mime_part_free(&root);
}

static void
test_header_value_cap(void **state)
{
	static const char m[] =
	    "Subject: 0123456789abcdefXYZ\r\n"
	    " more\r\n"
	    "From: short\r\n"
	    "\r\n";
	struct mime_limits lim = { 0, 0, 16, 0 };
	struct mime_part *root = parse_all_ways(m, sizeof(m) - 1, &lim);

	assert_string_equal(root->env->subject, "0123456789abcdef");
	assert_string_equal(root->env->from, "short");
	assert_int_equal(root->flags, MIME_PART_HDR_TRUNCATED);
	assert_int_equal(root->hdr_len, sizeof(m) - 1);
	mime_part_free(&root);
}

/*
 * Limits.
 */

static const char limit_msg[] =
    "Content-Type: multipart/mixed; boundary=\"1\"\n"
    "\n"
    "--1\n"
    "Content-Type: multipart/mixed; boundary=\"2\"\n"
    "\n"
    "--2\n"
    "Content-Type: text/plain\n"
    "\n"
    "1\n"
    "--2\n"
    "Content-Type: text/plain\n"
    "\n"
    "22\n"
    "--1\n"
    "Content-Type: text/plain\n"
    "\n"
    "333\n";

static void
test_depth_limit(void **state)
{
	struct mime_limits lim = { 2, 0, 0, 0 };
	struct mime_part *root;
	const struct mime_part *p;

	root = parse_all_ways(limit_msg, sizeof(limit_msg) - 1, &lim);
	assert_int_equal(mime_part_count(root), 3);
	/* 45 header; 45+4 = 49 */
	check_part(root, "multipart", "mixed", 0, 45, 148, 15);
	p = sec(root, "1");
	/* Not split: everything up to "\n--1" is its body. */
	check_part(p, "multipart", "mixed", 49, 45, 64, 7);
	assert_int_equal(p->flags, MIME_PART_TRUNCATED);
	assert_null(p->children);
	p = sec(root, "2");
	check_part(p, "text", "plain", 163, 26, 4, 1);
	check_body(limit_msg, p, "333\n");
	mime_part_free(&root);

	/* A message/rfc822 at the limit keeps its content as body. */
	lim.max_depth = 1;
	root = parse_all_ways("Content-Type: message/rfc822\n\nSubject: x\n\nb",
	    43, &lim);
	assert_int_equal(root->flags, MIME_PART_TRUNCATED);
	assert_null(root->children);
	assert_int_equal(root->body_len, 13);
	mime_part_free(&root);
}

static void
test_parts_limit(void **state)
{
	struct mime_limits lim = { 0, 4, 0, 0 };
	struct mime_part *root;
	const struct mime_part *p;

	root = parse_all_ways(limit_msg, sizeof(limit_msg) - 1, &lim);
	assert_int_equal(mime_part_count(root), 4);
	check_part(root, "multipart", "mixed", 0, 45, 148, 15);
	check_part(sec(root, "1"), "multipart", "mixed", 49, 45, 99, 12);
	check_part(sec(root, "1.1"), "text", "plain", 98, 26, 1, 0);
	/* The fourth part takes the rest of the message. */
	p = sec(root, "1.2");
	check_part(p, "text", "plain", 130, 26, 37, 5);
	assert_int_equal(p->flags, MIME_PART_TRUNCATED);
	assert_null(sec(root, "2"));
	mime_part_free(&root);
}

/* 10,000 nested multiparts: depth stops at 100, memory stays small. */
static void
test_hostile_nesting(void **state)
{
	struct buf m = BUF_INIT;
	struct mime_part *root;
	const struct mime_part *p;
	unsigned depth = 0;

	for (unsigned i = 0; i < 10000; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%u\r\n"
		    "\r\n--b%u\r\n", i, i);
	buf_puts(&m, "\r\ntext\r\n");
	for (unsigned i = 10000; i-- > 0;)
		buf_printf(&m, "--b%u--\r\n", i);
	root = parse_chunked(m.data, m.len, 4096, NULL);
	for (p = root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, 99);	/* 100 levels, root included */
	assert_int_equal(p->flags, MIME_PART_TRUNCATED);
	assert_int_equal(mime_part_count(root), 100);
	assert_int_equal(root->body_off + root->body_len, m.len);
	mime_part_free(&root);

	/* The same with message/rfc822 nesting. */
	buf_reset(&m);
	for (unsigned i = 0; i < 10000; i++)
		buf_puts(&m, "Content-Type: message/rfc822\r\n\r\n");
	root = parse_chunked(m.data, m.len, 7, NULL);
	assert_int_equal(mime_part_count(root), 100);
	mime_part_free(&root);
	buf_free(&m);
}

/* 100,000 parts: the 10,000th takes the rest. */
static void
test_hostile_many_parts(void **state)
{
	struct buf m = BUF_INIT, ser = BUF_INIT;
	struct mime_part *root, *back;
	const struct mime_part *p, *last = NULL;
	const char *err = NULL;

	buf_puts(&m, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (unsigned i = 0; i < 100000; i++)
		buf_puts(&m, "--x\r\n\r\np\r\n");
	buf_puts(&m, "--x--\r\n");
	root = parse_chunked(m.data, m.len, 65536, NULL);
	assert_int_equal(mime_part_count(root), 10000);
	for (p = root->children; p != NULL; p = p->next)
		last = p;
	assert_int_equal(last->flags, MIME_PART_TRUNCATED);
	assert_int_equal(last->body_off + last->body_len, m.len);
	/* Child 1 starts at 45 + 5; each part + delimiter is 10 bytes. */
	assert_int_equal(last->hdr_off, 45 + 5 + 9998 * 10);
	assert_ptr_equal(sec(root, "9999"), last);
	assert_null(sec(root, "10000"));

	serialize_to(root, &ser);
	back = mime_deserialize(ser.data, ser.len, &err);
	assert_non_null(back);
	assert_int_equal(mime_part_count(back), 10000);
	mime_part_free(&back);
	mime_part_free(&root);
	buf_free(&ser);
	buf_free(&m);
}

/* A 10 MB header line is skipped, never buffered. */
static void
test_hostile_long_lines(void **state)
{
	const size_t big = 10 * 1024 * 1024;
	struct buf m = BUF_INIT;
	struct mime_part *root;
	char *fill = malloc(big);

	assert_non_null(fill);
	memset(fill, 'a', big);
	buf_puts(&m, "Subject: ");
	buf_append(&m, fill, big);
	buf_puts(&m, "\r\nX-Junk: ");
	buf_append(&m, fill, big);
	buf_puts(&m, "\r\n");
	buf_append(&m, fill, big);	/* a name without a colon */
	buf_puts(&m, "\r\nContent-Type: multipart/mixed; boundary=q\r\n"
	    "\r\n--q\r\n\r\n");
	memset(fill, '-', big);
	buf_append(&m, fill, big);	/* looks like a boundary, is not */
	buf_puts(&m, "\r\n--q");
	memset(fill, ' ', big);
	buf_append(&m, fill, big);	/* padding: still a boundary line */
	buf_puts(&m, "\r\n\r\nlast\r\n--q--\r\n");

	root = parse_chunked(m.data, m.len, 65536, NULL);
	assert_int_equal(strlen(root->env->subject), 64 * 1024);
	assert_true((root->flags & MIME_PART_HDR_TRUNCATED) != 0);
	assert_int_equal(mime_part_count(root), 3);
	assert_int_equal(sec(root, "1")->body_len, big);
	check_body(m.data, sec(root, "2"), "last");
	mime_part_free(&root);

	/* A folded header of 10 MB in short lines is capped as well. */
	buf_reset(&m);
	buf_puts(&m, "Subject: x");
	for (size_t i = 0; i < big / 8; i++)
		buf_puts(&m, "\r\n abcd");
	buf_puts(&m, "\r\n\r\n");
	root = parse_chunked(m.data, m.len, 1000, NULL);
	assert_int_equal(strlen(root->env->subject), 64 * 1024);
	assert_int_equal(root->hdr_len, m.len);
	mime_part_free(&root);
	free(fill);
	buf_free(&m);
}

/*
 * Random structural fuzz: chunk invariance and round trip on messages
 * assembled from MIME-significant fragments.
 */
static void
test_random_fragments(void **state)
{
	static const char *frag[] = {
		"--b", "--b--", "--c", "--c--", "\r\n", "\n", "\r", " ", "-",
		"x", ":", "Content-Type: multipart/mixed; boundary=b\r\n",
		"Content-Type: multipart/digest; boundary=c\r\n",
		"Content-Type: message/rfc822\r\n", "Subject: s\r\n",
		"Content-Type: multipart/alternative; boundary=\"b\"\r\n",
		"\r\n\r\n", "Content-Type: text/plain\r\n", "\t",
	};
	const size_t nfrag = sizeof(frag) / sizeof(frag[0]);
	struct mime_limits lim = { 6, 40, 32, 8 };
	uint32_t seed = 12345;
	struct buf m = BUF_INIT;
	struct mime_part *root;

	for (unsigned iter = 0; iter < 600; iter++) {
		buf_reset(&m);
		for (unsigned k = 0; k < 40; k++) {
			seed = seed * 1103515245U + 12345U;
			buf_puts(&m, frag[(seed >> 16) % nfrag]);
		}
		root = parse_all_ways(m.data, m.len,
		    iter % 2 == 0 ? NULL : &lim);
		mime_part_free(&root);
	}
	buf_free(&m);
}

/*
 * Serialization.
 */

static uint32_t
crc32_ref(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffU;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1)));
	}
	return c ^ 0xffffffffU;
}

static void
check_env_field(const struct mime_env_ref *e, enum mime_env_field f,
    const char *want)
{
	if (want == NULL) {
		assert_null(e->v[f]);
		return;
	}
	assert_non_null(e->v[f]);
	assert_int_equal(e->len[f], strlen(want));
	assert_memory_equal(e->v[f], want, e->len[f]);
}

/* The root's envelope read in place agrees with the built tree. */
static void
test_blob_envelope(void **state)
{
	static const char msg[] =
	    "Date: Mon, 2 Nov 2026 10:00:00 +0100\r\n"
	    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and\r\n more\r\n"
	    "From: Ann <ann@example.org>\r\n"
	    "To: bob@example.test, carl@example.test\r\n"
	    "Subject: second, ignored\r\n"
	    "Content-Type: multipart/mixed; boundary=b; x=\"y z\"\r\n"
	    "Content-Disposition: inline; filename=a.txt\r\n"
	    "\r\n--b\r\n\r\npart\r\n--b--\r\n";
	struct mime_limits lim = { 0, 0, 8, 0 };
	struct mime_part *root = PARSE(msg);
	struct mime_env_ref e;
	struct buf ser = BUF_INIT;
	const struct mime_envelope *env = root->env;

	serialize_to(root, &ser);
	assert_int_equal(mime_blob_envelope(ser.data, ser.len, &e), 0);
	assert_int_equal(e.flags, 0);
	check_env_field(&e, MIME_ENV_DATE, env->date);
	check_env_field(&e, MIME_ENV_SUBJECT, env->subject);
	check_env_field(&e, MIME_ENV_FROM, "Ann <ann@example.org>");
	check_env_field(&e, MIME_ENV_TO, env->to);
	check_env_field(&e, MIME_ENV_CC, NULL);
	check_env_field(&e, MIME_ENV_MESSAGE_ID, NULL);
	assert_non_null(strstr(env->subject, "more"));
	/* Every prefix fails or stays inside the blob (ASan watches). */
	for (size_t cut = 0; cut < ser.len; cut++) {
		unsigned char *copy = malloc(cut ? cut : 1);

		memcpy(copy, ser.data, cut);
		if (mime_blob_envelope(copy, cut, &e) == 0)
			for (int f = 0; f < MIME_ENV_FIELDS; f++)
				if (e.v[f] != NULL)
					assert_true(e.v[f] + e.len[f] <=
					    (const char *)copy + cut);
		free(copy);
	}
	assert_int_equal(mime_blob_envelope("XYZ\001abcd", 8, &e), -1);
	mime_part_free(&root);

	/* A value cut at the parser's limit is flagged as such. */
	root = mime_parse(msg, sizeof(msg) - 1, &lim);
	serialize_to(root, &ser);
	assert_int_equal(mime_blob_envelope(ser.data, ser.len, &e), 0);
	assert_true((e.flags & MIME_PART_HDR_TRUNCATED) != 0);
	assert_int_equal(e.len[MIME_ENV_SUBJECT], 8);
	mime_part_free(&root);
	buf_free(&ser);
}

static void
test_serial_damage(void **state)
{
	struct mime_part *root = PARSE(nested_msg), *p;
	struct buf ser = BUF_INIT;
	unsigned char *copy;
	const char *err;
	static const unsigned char masks[] = { 0x01, 0x10, 0x80, 0xff };

	assert_int_equal(crc32_ref((const unsigned char *)"123456789", 9),
	    0xcbf43926U);
	serialize_to(root, &ser);
	copy = malloc(ser.len);
	for (size_t cut = 0; cut < ser.len; cut++) {
		memcpy(copy, ser.data, cut);
		err = NULL;
		p = mime_deserialize(copy, cut, &err);
		assert_null(p);
		assert_non_null(err);
	}
	for (size_t i = 0; i < ser.len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			memcpy(copy, ser.data, ser.len);
			copy[i] ^= masks[k];
			err = NULL;
			p = mime_deserialize(copy, ser.len, &err);
			assert_null(p);
			assert_non_null(err);
		}
	}
	/* A subtree is not a root. */
	assert_int_equal(mime_serialize(root->children, &ser), -1);
	free(copy);
	buf_free(&ser);
	mime_part_free(&root);
}

/* Hand-built blobs with a valid checksum but forged content. */
struct forge {
	struct buf b;
};

static void
fv(struct forge *f, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;

		v >>= 7;
		if (v != 0)
			c |= 0x80;
		buf_putc(&f->b, (char)c);
	} while (v != 0);
}

static void
fs(struct forge *f, const char *s)
{
	if (s == NULL) {
		fv(f, 0);
		return;
	}
	fv(f, strlen(s) + 1);
	buf_puts(&f->b, s);
}

static void
fpart(struct forge *f, uint64_t flags, uint64_t hoff, uint64_t hlen,
    uint64_t blen, uint64_t lines, uint64_t nchildren, const char *type,
    const char *subtype, bool env)
{
	fv(f, flags);
	fv(f, hoff);
	fv(f, hlen);
	fv(f, blen);
	fv(f, lines);
	fv(f, nchildren);
	fs(f, type);
	fs(f, subtype);
	for (int i = 0; i < 7; i++)
		fs(f, NULL);
	fv(f, 0);
	fv(f, 0);
	buf_putc(&f->b, env ? 1 : 0);
	if (env)
		for (int i = 0; i < 10; i++)
			fs(f, i == 1 ? "subj" : NULL);
}

static void
fbegin(struct forge *f)
{
	buf_init(&f->b);
	buf_append(&f->b, "PHM\x01", 4);
}

static const char *
fend(struct forge *f)
{
	uint32_t crc = crc32_ref((const unsigned char *)f->b.data, f->b.len);
	const char *err = NULL;
	struct mime_part *p;
	unsigned char t[4] = { (unsigned char)crc,
	    (unsigned char)(crc >> 8), (unsigned char)(crc >> 16),
	    (unsigned char)(crc >> 24) };

	buf_append(&f->b, t, 4);
	p = mime_deserialize(f->b.data, f->b.len, &err);
	buf_free(&f->b);
	if (p != NULL) {
		mime_part_free(&p);
		return "ok";
	}
	return err;
}

static void
test_serial_forged(void **state)
{
	struct forge f;

	fbegin(&f);
	fpart(&f, 0, 0, 10, 5, 1, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "ok");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 1, "multipart", "mixed", true);
	fpart(&f, 0, 12, 4, 20, 0, 0, "text", "plain", false);
	assert_string_equal(fend(&f), "part outside its parent");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 2, "multipart", "mixed", true);
	fpart(&f, 0, 12, 2, 6, 0, 0, "text", "plain", false);
	fpart(&f, 0, 15, 2, 2, 0, 0, "text", "plain", false);
	assert_string_equal(fend(&f), "part outside its parent");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 1, "multipart", "mixed", true);
	fpart(&f, 0, 12, 2, 6, 0, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "envelope in the wrong place");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 0, "text", "plain", false);
	assert_string_equal(fend(&f), "envelope in the wrong place");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 1, "text", "plain", true);
	fpart(&f, 0, 12, 2, 6, 0, 0, "text", "plain", false);
	assert_string_equal(fend(&f), "children under a leaf part");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 2, "message", "rfc822", true);
	fpart(&f, 0, 10, 2, 6, 0, 0, "text", "plain", true);
	fpart(&f, 0, 18, 2, 6, 0, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "message part with several children");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 20, 0, 0, "message", "rfc822", true);
	assert_string_equal(fend(&f), "message part without its message");

	fbegin(&f);
	fpart(&f, MIME_PART_TRUNCATED, 0, 10, 20, 0, 0, "message", "rfc822",
	    true);
	assert_string_equal(fend(&f), "ok");

	fbegin(&f);
	fpart(&f, 0x80, 0, 10, 20, 0, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "unknown flags");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 5, 6, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "more lines than bytes");

	fbegin(&f);
	fpart(&f, 0, UINT64_MAX, 10, 5, 0, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "header range overflow");

	fbegin(&f);
	fpart(&f, 0, 0, 10, UINT64_MAX, 0, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "body range overflow");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 5, 0, 0, "", "plain", true);
	assert_string_equal(fend(&f), "missing content type");

	fbegin(&f);
	fpart(&f, 0, 0, 10, 5, 0, 0, "text", "plain", true);
	buf_putc(&f.b, 0);
	assert_string_equal(fend(&f), "trailing bytes");

	fbegin(&f);
	fv(&f, 0);
	buf_append(&f.b, "\x80\x00", 2);	/* non-minimal 0 */
	assert_string_equal(fend(&f), "non-minimal integer");

	fbegin(&f);
	fv(&f, 0);
	buf_append(&f.b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
	assert_string_equal(fend(&f), "integer overflow");

	fbegin(&f);
	fv(&f, 0);
	fv(&f, 0);
	fv(&f, 10);
	fv(&f, 5);
	fv(&f, 0);
	fv(&f, 0);
	fv(&f, 1000);			/* type length past the end */
	buf_puts(&f.b, "text");
	assert_string_equal(fend(&f), "string past end");

	fbegin(&f);
	fv(&f, 0);
	fv(&f, 0);
	fv(&f, 10);
	fv(&f, 5);
	fv(&f, 0);
	fv(&f, 0);
	fv(&f, 6);
	buf_append(&f.b, "te\0xt", 5);
	assert_string_equal(fend(&f), "NUL in string");

	fbegin(&f);
	fv(&f, 0);
	fv(&f, 0);
	fv(&f, 10);
	fv(&f, 5);
	fv(&f, 0);
	fv(&f, 0);
	fs(&f, "text");
	fs(&f, "plain");
	for (int i = 0; i < 7; i++)
		fs(&f, NULL);
	fv(&f, 1000000);		/* parameter count */
	assert_string_equal(fend(&f), "parameter count past end");

	fbegin(&f);
	fv(&f, 0);
	fv(&f, 0);
	fv(&f, 10);
	fv(&f, 5);
	fv(&f, 0);
	fv(&f, 0);
	fs(&f, "text");
	fs(&f, "plain");
	for (int i = 0; i < 7; i++)
		fs(&f, NULL);
	fv(&f, 1);
	fs(&f, NULL);			/* NULL parameter name */
	fs(&f, "v");
	assert_string_equal(fend(&f), "NULL parameter");

	/* Nesting deeper than MIME_DEPTH_HARD_MAX. */
	fbegin(&f);
	for (unsigned i = 0; i <= MIME_DEPTH_HARD_MAX; i++)
		fpart(&f, 0, 0, 0, 1000, 0, 1, "message", "rfc822", true);
	fpart(&f, 0, 0, 0, 0, 0, 0, "text", "plain", true);
	assert_string_equal(fend(&f), "nesting too deep");

	/* Bad magic, too short, bad checksum. */
	assert_null(mime_deserialize("PHM\x02\0\0\0\0", 8, &(const char *){0}));
	assert_null(mime_deserialize("PHM", 3, &(const char *){0}));
	{
		const char *err = NULL;

		assert_null(mime_deserialize("PHM\x01\0\0\0\0", 8, &err));
		assert_string_equal(err, "checksum mismatch");
	}
}

/*
 * Addresses.
 */

/* Renders a list as "name|adl|mailbox|host!" per element ("-" = NULL). */
static char *
addr_str(const char *s)
{
	struct mime_addr *list = mime_addr_parse(s, strlen(s)), *a;
	struct buf b = BUF_INIT;

	for (a = list; a != NULL; a = a->next)
		buf_printf(&b, "%s|%s|%s|%s%s;", a->name ? a->name : "-",
		    a->adl ? a->adl : "-", a->mailbox ? a->mailbox : "-",
		    a->host ? a->host : "-", a->invalid ? "!" : "");
	mime_addr_free(&list);
	return buf_steal(&b);
}

static void
test_addresses(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "Mary Smith <mary@x.test>", "Mary Smith|-|mary|x.test;" },
		{ "jdoe@example.org", "-|-|jdoe|example.org;" },
		{ "\"Joe Q. Public\" <john.q.public@example.com>",
		    "Joe Q. Public|-|john.q.public|example.com;" },
		{ "Joe Q. Public <john.q.public@example.com>",
		    "Joe Q. Public|-|john.q.public|example.com;" },
		{ "Mary Smith <mary@x.test>, jdoe@example.org, "
		    "Who? <one@y.test>",
		    "Mary Smith|-|mary|x.test;-|-|jdoe|example.org;"
		    "Who?|-|one|y.test;" },
		{ "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" "
		    "<sysservices@example.net>",
		    "-|-|boss|nil.test;Giant; \"Big\" Box|-|sysservices|"
		    "example.net;" },
		/* RFC 5322 A.1.3 group */
		{ "A Group:Ed Jones <c@a.test>,joe@where.test,John "
		    "<jdoe@one.test>;",
		    "-|-|A Group|-;Ed Jones|-|c|a.test;-|-|joe|where.test;"
		    "John|-|jdoe|one.test;-|-|-|-;" },
		{ "Undisclosed recipients:;",
		    "-|-|Undisclosed recipients|-;-|-|-|-;" },
		{ "g1: a@b;, x@y, g2:;",
		    "-|-|g1|-;-|-|a|b;-|-|-|-;-|-|x|y;-|-|g2|-;-|-|-|-;" },
		/* obsolete route */
		{ "<@a.test,@b.test:user@c.test>",
		    "-|@a.test,@b.test|user|c.test;" },
		{ "Foo <@a.test, ,@b.test : user@c.test>",
		    "Foo|@a.test,@b.test|user|c.test;" },
		/* encoded words stay raw */
		{ "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
		    "=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=|-|keld|dkuug.dk;" },
		{ "=?utf-8?q?a?= =?utf-8?q?b?= <ab@x>",
		    "=?utf-8?q?a?= =?utf-8?q?b?=|-|ab|x;" },
		/* RFC 5322 A.5 comments */
		{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his "
		    "host)>", "Pete|-|pete|silly.test;" },
		{ "jdoe@example.org (John Doe)",
		    "John Doe|-|jdoe|example.org;" },
		{ "(lead) jdoe@example.org", "-|-|jdoe|example.org;" },
		{ "\"john doe\"@example.com", "-|-|john doe|example.com;" },
		{ "john . doe @ example . com", "-|-|john.doe|example.com;" },
		{ "user@[192.168.0.1]", "-|-|user|[192.168.0.1];" },
		{ "a..b.@x", "-|-|a..b.|x;" },
		{ "\"\" <a@b>", "-|-|a|b;" },
		{ "a@b, , ,c@d", "-|-|a|b;-|-|c|d;" },
		{ "müller@bücher.example", "-|-|müller|bücher.example;" },
		/* garbage */
		{ "", "" },
		{ "   ", "" },
		{ ">>> ;;", "" },
		{ "foo", "-|-|foo|MISSING_DOMAIN!;" },
		{ "<>", "-|-|MISSING_MAILBOX|MISSING_DOMAIN!;" },
		{ "@example.com", "-|-|MISSING_MAILBOX|example.com!;" },
		{ "John Smith john@example.com, x@y",
		    "-|-|John|MISSING_DOMAIN!;-|-|x|y;" },
		{ "Group: a@b", "-|-|Group|-!;-|-|a|b;-|-|-|-;" },
		{ "<a@b", "-|-|a|b!;" },
		{ "Name <a@b> junk, c@d", "Name|-|a|b!;-|-|c|d;" },
		{ "<a b@c>", "-|-|a|MISSING_DOMAIN!;" },
		{ "<@a.test user@c.test>", "-|@a.test|user|c.test!;" },
		{ "\"unterminated <a@b>",
		    "-|-|unterminated <a@b>|MISSING_DOMAIN!;" },
		{ "a@b (unterminated", "unterminated|-|a|b;" },
		{ "g: x: y;", "-|-|g|-;-|-|x|MISSING_DOMAIN!;-|-|-|-;" },
	};
	char *got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = addr_str(cases[i].in);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("addr \"%s\": got \"%s\" want \"%s\"",
			    cases[i].in, got, cases[i].out);
		free(got);
	}
}

static void
test_address_groups_api(void **state)
{
	static const char s[] = "Team: a@b;";
	struct mime_addr *list = mime_addr_parse(s, sizeof(s) - 1);

	assert_non_null(list);
	assert_true(mime_addr_is_group_start(list));
	assert_false(mime_addr_is_group_end(list));
	assert_false(mime_addr_is_group_start(list->next));
	assert_true(mime_addr_is_group_end(list->next->next));
	assert_null(list->next->next->next);
	mime_addr_free(&list);
	assert_null(list);
}

/* Random bytes from an alphabet of specials: no crash, ASan clean. */
static void
test_address_fuzz(void **state)
{
	static const char alpha[] = "<>@,;:\"\\()[]. \tab=?\r\n\x80";
	uint32_t seed = 7;
	char s[64];
	struct mime_addr *list;

	for (unsigned iter = 0; iter < 50000; iter++) {
		size_t n;

		seed = seed * 1103515245U + 12345U;
		n = (seed >> 16) % sizeof(s);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245U + 12345U;
			s[i] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		list = mime_addr_parse(s, n);
		for (struct mime_addr *a = list; a != NULL; a = a->next) {
			/* Either a mailbox or a group marker. */
			if (a->host == NULL)
				assert_null(a->name);
			else
				assert_non_null(a->mailbox);
		}
		mime_addr_free(&list);
	}
}

/* A tree shifted past added header fields equals the tree of the whole. */
static void
test_shift(void **state)
{
	static const char msg[] =
	    "From: a@example.com\r\n"
	    "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
	    "--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	    "--x\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: inner\r\nContent-Type: multipart/alternative; "
	    "boundary=y\r\n\r\n--y\r\n\r\none\r\n--y\r\n\r\ntwo\r\n--y--\r\n"
	    "--x--\r\n";
	static const char pre[] =
	    "Authentication-Results: mx.example.test; spf=pass\r\n"
	    "\tsmtp.mailfrom=example.com\r\n";
	struct buf whole = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	struct mime_part *shifted, *ref;

	(void)state;
	buf_puts(&whole, pre);
	buf_puts(&whole, msg);
	shifted = mime_parse(msg, sizeof(msg) - 1, NULL);
	ref = mime_parse(whole.data, whole.len, NULL);
	assert_true(mime_part_count(ref) == 6);
	serialize_to(ref, &a);
	serialize_to(shifted, &b);
	assert_false(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	mime_part_shift(shifted, sizeof(pre) - 1);
	serialize_to(shifted, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	mime_part_free(&shifted);
	mime_part_free(&ref);
	buf_free(&whole);
	buf_free(&a);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_offsets),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_section_find),
		cmocka_unit_test(test_section_find_top_message),
		cmocka_unit_test(test_simple_and_envelope),
		cmocka_unit_test(test_degenerate_messages),
		cmocka_unit_test(test_boundary_padding_and_outer_close),
		cmocka_unit_test(test_header_cut_by_boundary),
		cmocka_unit_test(test_unterminated_and_empty_multiparts),
		cmocka_unit_test(test_digest_defaults),
		cmocka_unit_test(test_content_type_parsing),
		cmocka_unit_test(test_other_content_fields),
		cmocka_unit_test(test_odd_header_lines),
		cmocka_unit_test(test_header_value_cap),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_parts_limit),
		cmocka_unit_test(test_hostile_nesting),
		cmocka_unit_test(test_hostile_many_parts),
		cmocka_unit_test(test_hostile_long_lines),
		cmocka_unit_test(test_random_fragments),
		cmocka_unit_test(test_serial_damage),
		cmocka_unit_test(test_serial_forged),
		cmocka_unit_test(test_blob_envelope),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_address_groups_api),
		cmocka_unit_test(test_address_fuzz),
		cmocka_unit_test(test_shift),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
