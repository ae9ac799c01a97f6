/*
 * fuzz_imap_session - a whole IMAP session (imap/imap_session.c, the
 * cmd_*.c commands, imap_view.c, with auth/, mime/, store/sqlite/,
 * core/conn.c and core/hub.c) against a real store; the server and its
 * data are set up by fuzz_session.h.
 *
 * Input: a control byte (how the rest is cut into the chunks the client
 * sends: fuzz_chunker), then what an IMAP client sends.  LOGIN
 * u@example.test p (or AUTHENTICATE PLAIN) logs in; u's INBOX holds five
 * messages with flags and keywords, its Archive one.  After the server's
 * "OK" to COMPRESS DEFLATE the harness deflates the rest of the input and
 * inflates the output (fuzz_session.h).  No message is \Recent (see
 * setup()).  Checked, beyond fuzz_session.h's
 * checks (no stall, the session ends, bounded output):
 *  - the output is a sequence of responses (RFC 9051 7, 9): "+ " and a
 *    text; "* " and a status (OK/NO/BAD/BYE/PREAUTH with optional
 *    [code]), "n EXISTS|RECENT|EXPUNGE", "n FETCH (name value ...)" or
 *    a keyword with values; or a tag (ASTRING-CHARs but "+") and
 *    OK/NO/BAD with a non-empty text;
 *  - values are NIL, numbers, atoms (no atom-specials), quoted strings
 *    (proper escapes; no CR, LF, NUL; 8-bit only once UTF8=ACCEPT or
 *    IMAP4rev2 is enabled), literals {n} without NUL, literal8 ~{n}, and
 *    lists of those; FETCH item names may carry a [section] and an
 *    <origin>;
 *  - the greeting is an untagged OK (or BYE); after "* BYE" at most the
 *    tagged reply of LOGOUT follows; the output ends at a line end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_session.h"
#include "imap/imap_session.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct ip {
	const char	*s;
	size_t		 len, pos;
	bool		 utf8;		/* UTF8=ACCEPT or IMAP4rev2 enabled */
	const char	*why;
};

static bool
fail(struct ip *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
	return false;
}

static bool
at(const struct ip *p, char c)
{
	return p->pos < p->len && p->s[p->pos] == c;
}

static bool
eat(struct ip *p, const char *t)
{
	size_t n = strlen(t);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, t, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static bool
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* Flags are atoms that may start with a backslash (\Seen). */
static bool
atom(struct ip *p)
{
	size_t start = p->pos;

	if (at(p, '\\'))
		p->pos++;
	while (p->pos < p->len && atom_char((unsigned char)p->s[p->pos]))
		p->pos++;
	if (p->pos == start || (p->pos == start + 1 && p->s[start] == '\\'))
		return fail(p, "empty atom or bad character");
	return true;
}

static bool
quoted(struct ip *p)
{
	p->pos++;
	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos++];

		if (c == '"')
			return true;
		if (c == '\\') {
			if (p->pos >= p->len || (p->s[p->pos] != '"' &&
			    p->s[p->pos] != '\\'))
				return fail(p, "bad escape in a quoted string");
			p->pos++;
			continue;
		}
		if (c == '\0' || c == '\r' || c == '\n')
			return fail(p, "CR, LF or NUL in a quoted string");
		if (c >= 0x80 && !p->utf8)
			return fail(p, "8-bit quoted string without UTF8");
	}
	return fail(p, "unterminated quoted string");
}

static bool
literal(struct ip *p, bool binary)
{
	uint64_t n = 0;
	size_t digits = 0;

	p->pos += binary ? 2 : 1;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		n = n * 10 + (uint64_t)(p->s[p->pos++] - '0');
		if (n > p->len)
			return fail(p, "literal longer than the output");
		digits++;
	}
	if (digits == 0 || !eat(p, "}\r\n"))
		return fail(p, "bad literal header");
	if (n > p->len - p->pos)
		return fail(p, "literal runs past the output");
	if (!binary && memchr(p->s + p->pos, '\0', (size_t)n) != NULL)
		return fail(p, "NUL in a literal (only literal8 may have one)");
	p->pos += (size_t)n;
	return true;
}

static bool values(struct ip *, char, unsigned);

static bool
value(struct ip *p, unsigned depth)
{
	if (p->pos >= p->len)
		return fail(p, "value expected");
	if (depth > 200)
		return fail(p, "nested too deep");
	switch (p->s[p->pos]) {
	case '(':
		p->pos++;
		return values(p, ')', depth + 1) && eat(p, ")");
	case '"':
		return quoted(p);
	case '{':
		return literal(p, false);
	case '~':
		if (p->pos + 1 < p->len && p->s[p->pos + 1] == '{')
			return literal(p, true);
		return atom(p);
	default:
		return atom(p);
	}
}

/*
 * Values separated by one space (or by nothing between a list's end and
 * the next list), up to end: ')' (not consumed) or '\r' (the CRLF).
 */
static bool
values(struct ip *p, char end, unsigned depth)
{
	if (at(p, end))
		return true;
	for (;;) {
		if (!value(p, depth))
			return false;
		if (at(p, end))
			return true;
		if (at(p, '(') && p->s[p->pos - 1] == ')')
			continue;
		if (!eat(p, " "))
			return fail(p, "space expected between values");
	}
}

static bool
text_to_crlf(struct ip *p, bool nonempty)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] != '\r' &&
	    p->s[p->pos] != '\n' && p->s[p->pos] != '\0')
		p->pos++;
	if (nonempty && p->pos == start)
		return fail(p, "empty text");
	if (!eat(p, "\r\n"))
		return fail(p, "text not ended by CRLF (bare CR/LF or NUL?)");
	return true;
}

/* resp-text: ["[" resp-text-code "]" SP] text */
static bool
resp_text(struct ip *p)
{
	if (at(p, '[')) {
		while (p->pos < p->len && p->s[p->pos] != ']') {
			if (p->s[p->pos] == '\r' || p->s[p->pos] == '\n' ||
			    p->s[p->pos] == '\0')
				return fail(p, "unterminated response code");
			p->pos++;
		}
		if (!eat(p, "]"))
			return fail(p, "unterminated response code");
		if (at(p, '\r'))
			return text_to_crlf(p, false);
		if (!eat(p, " "))
			return fail(p, "no space after the response code");
	}
	return text_to_crlf(p, true);
}

/* BODY[HEADER.FIELDS (A B)]<0>, BINARY.SIZE[1], UID, ... */
static bool
fetch_name(struct ip *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && atom_char((unsigned char)p->s[p->pos]) &&
	    p->s[p->pos] != '[')
		p->pos++;
	if (p->pos == start)
		return fail(p, "FETCH item name expected");
	if (at(p, '[')) {
		while (p->pos < p->len && p->s[p->pos] != ']') {
			if (p->s[p->pos] == '\r' || p->s[p->pos] == '\n')
				return fail(p, "bad section");
			p->pos++;
		}
		if (!eat(p, "]"))
			return fail(p, "bad section");
		if (eat(p, "<")) {
			size_t d = p->pos;

			while (p->pos < p->len && p->s[p->pos] >= '0' &&
			    p->s[p->pos] <= '9')
				p->pos++;
			if (p->pos == d || !eat(p, ">"))
				return fail(p, "bad <origin>");
		}
	}
	return true;
}

static bool
fetch_atts(struct ip *p)
{
	if (!eat(p, "("))
		return fail(p, "FETCH without a list");
	for (;;) {
		if (!fetch_name(p) || !eat(p, " "))
			return fail(p, "FETCH item: name SP value");
		if (!value(p, 1))
			return false;
		if (eat(p, ")"))
			return true;
		if (!eat(p, " "))
			return fail(p, "space expected between FETCH items");
	}
}

static bool
number(struct ip *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start;
}

static bool
untagged(struct ip *p, bool *bye)
{
	size_t kw = p->pos;

	if (number(p)) {
		if (!eat(p, " "))
			return fail(p, "space after the message number");
		if (eat(p, "EXISTS\r\n") || eat(p, "RECENT\r\n") ||
		    eat(p, "EXPUNGE\r\n"))
			return true;
		if (!eat(p, "FETCH "))
			return fail(p, "unknown message data");
		return fetch_atts(p) && (eat(p, "\r\n") ||
		    fail(p, "FETCH not ended by CRLF"));
	}
	if (eat(p, "OK ") || eat(p, "NO ") || eat(p, "BAD ") ||
	    eat(p, "PREAUTH ") || eat(p, "BYE ")) {
		*bye = memcmp(p->s + kw, "BYE", 3) == 0;
		return resp_text(p);
	}
	while (p->pos < p->len && p->s[p->pos] >= 'A' && p->s[p->pos] <= 'Z')
		p->pos++;
	if (p->pos == kw)
		return fail(p, "untagged response without a keyword");
	if (p->pos - kw == 7 && memcmp(p->s + kw, "ENABLED", 7) == 0) {
		const char *e = memchr(p->s + p->pos, '\n', p->len - p->pos);
		size_t n = e != NULL ? (size_t)(e - (p->s + p->pos)) :
		    p->len - p->pos;

		if (memmem(p->s + p->pos, n, "UTF8=ACCEPT", 11) != NULL ||
		    memmem(p->s + p->pos, n, "IMAP4rev2", 9) != NULL)
			p->utf8 = true;
	}
	if (eat(p, "\r\n"))
		return true;
	if (!eat(p, " "))
		return fail(p, "space after the keyword");
	return values(p, '\r', 0) && (eat(p, "\r\n") ||
	    fail(p, "response not ended by CRLF"));
}

static bool
tagged(struct ip *p)
{
	size_t start = p->pos;

	while (p->pos < p->len && (atom_char((unsigned char)p->s[p->pos]) ||
	    p->s[p->pos] == ']') && p->s[p->pos] != '+')
		p->pos++;
	if (p->pos == start || !eat(p, " "))
		return fail(p, "bad tag");
	if (!eat(p, "OK ") && !eat(p, "NO ") && !eat(p, "BAD "))
		return fail(p, "tagged response without OK/NO/BAD");
	return resp_text(p);
}

static void
check_output(const char *out, size_t len)
{
	struct ip p = { out, len, 0, false, NULL };
	bool first = true, bye = false;
	unsigned after_bye = 0;

	while (p.pos < len) {
		size_t start = p.pos;
		bool ok, is_bye = false, is_tagged = false;

		if (eat(&p, "+ "))
			ok = text_to_crlf(&p, false);
		else if (eat(&p, "* "))
			ok = untagged(&p, &is_bye);
		else {
			is_tagged = true;
			ok = tagged(&p);
		}
		FUZZ_CHECK(ok, "bad response (%s) at offset %zu: %.*s",
		    p.why ? p.why : "?", start,
		    (int)(len - start > 120 ? 120 : len - start), out + start);
		if (first)
			FUZZ_CHECK(memcmp(out, "* OK ", 5) == 0 ||
			    memcmp(out, "* BYE ", 6) == 0, "greeting");
		first = false;
		if (bye) {
			after_bye++;
			FUZZ_CHECK(after_bye == 1 && is_tagged, "a response "
			    "after * BYE: %.*s", (int)(p.pos - start > 120 ?
			    120 : p.pos - start), out + start);
		}
		bye = bye || is_bye;
	}
}

/* "tag OK DEFLATE active": the last plain line (cmd_compress). */
static bool
compress_after(const char *line, size_t len)
{
	static const char ok[] = " OK DEFLATE active\r\n";
	size_t n = sizeof(ok) - 1;

	return len > n && line[0] != '*' && line[0] != '+' &&
	    memcmp(line + len - n, ok, n) == 0 &&
	    memchr(line, ' ', len - n) == NULL;
}

/*
 * \Recent claims live in memory (imap_recent.c), not in the store that is
 * restored before every run, so a run would depend on the ones before it.
 * Everything is claimed up front instead: no message is ever \Recent, and
 * runs repeat.  Mailbox ids: the template's and those CREATE may add.
 */
static void
setup(void)
{
	static const char *const users[] = { "u@example.test",
	    "v@example.test" };

	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		struct account a;

		memset(&a, 0, sizeof(a));
		FUZZ_CHECK(store_account_get(srv->store, users[i], &a) == 1,
		    "%s", users[i]);
		for (int64_t mbox = 1; mbox <= 4096; mbox++)
			(void)imap_recent_claim(a.id, mbox, 1, UINT32_MAX);
		account_clear(&a);
	}
}

static const struct fuzz_session_proto imap = { imap_accept,
    compress_after, setup };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT;

	if (size < 1)
		return 0;
	fuzz_session_run(&imap, LISTEN_IMAP, data + 1, size - 1, data[0],
	    &out);
	check_output(out.data ? out.data : "", out.len);
	buf_free(&out);
	return 0;
}
