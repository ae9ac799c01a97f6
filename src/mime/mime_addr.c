/*
 * mime_addr - RFC 5322 address-list parser for IMAP ENVELOPE (API in
 * mime_addr.h).
 *
 * Recursive descent over the unfolded header value with one cursor.  The
 * only backtracking is the one RFC 5322 forces: a phrase is read to see
 * whether '<' (name-addr) or ':' (group) follows, and if neither does the
 * same text is read again as an addr-spec, so every byte is looked at a
 * bounded number of times.  Comments are skipped with a depth counter, not
 * recursion.  Every loop either consumes input or stops.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "mime/mime_addr.h"

struct ap {
	const char		*s;
	size_t			 len;
	size_t			 pos;
	struct buf		 comment;	/* content of the last comment */
	struct mime_addr	*head;
	struct mime_addr	**tail;
	struct mime_addr	*last;		/* last element emitted */
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 5322 atext, plus 8-bit bytes (RFC 6532 and real-world mail). */
static bool
is_atext(char ch)
{
	unsigned char c = (unsigned char)ch;

	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static char
peek(const struct ap *ap)
{
	return ap->pos < ap->len ? ap->s[ap->pos] : '\0';
}

static bool
at_end(const struct ap *ap)
{
	return ap->pos >= ap->len;
}

/*
 * Skip whitespace and comments.  The text of the last comment is kept in
 * ap->comment (escapes removed, nested parentheses kept, trimmed).
 */
static void
skip_cfws(struct ap *ap)
{
	while (!at_end(ap)) {
		char c = ap->s[ap->pos];

		if (is_wsp(c)) {
			ap->pos++;
			continue;
		}
		if (c != '(')
			break;
		buf_reset(&ap->comment);
		{
			unsigned depth = 1;

			ap->pos++;
			while (!at_end(ap)) {
				c = ap->s[ap->pos++];
				if (c == '\\' && !at_end(ap)) {
					c = ap->s[ap->pos++];
				} else if (c == '(') {
					depth++;
				} else if (c == ')') {
					if (--depth == 0)
						break;
				}
				if (ap->comment.len > 0 || !is_wsp(c))
					buf_putc(&ap->comment, c);
			}
		}
		while (ap->comment.len > 0 &&
		    is_wsp(ap->comment.data[ap->comment.len - 1]))
			buf_truncate(&ap->comment, ap->comment.len - 1);
	}
}

/*
 * Quoted string at '"': content appended unescaped (out may be NULL to
 * skip it); an unterminated string runs to the end.
 */
static void
read_quoted(struct ap *ap, struct buf *out)
{
	ap->pos++;
	while (!at_end(ap) && ap->s[ap->pos] != '"') {
		if (ap->s[ap->pos] == '\\' && ap->pos + 1 < ap->len)
			ap->pos++;
		if (out != NULL)
			buf_putc(out, ap->s[ap->pos]);
		ap->pos++;
	}
	if (!at_end(ap))
		ap->pos++;
}

static void
read_dotted_run(struct ap *ap, struct buf *out)
{
	size_t start = ap->pos;

	while (!at_end(ap) && (is_atext(ap->s[ap->pos]) ||
	    ap->s[ap->pos] == '.'))
		ap->pos++;
	buf_append(out, ap->s + start, ap->pos - start);
}

/*
 * phrase = 1*word, obs-phrase allows '.'; words are joined by one space.
 * Returns the number of words.
 */
static unsigned
read_phrase(struct ap *ap, struct buf *out)
{
	unsigned n = 0;
	char c;

	for (;;) {
		skip_cfws(ap);
		c = peek(ap);
		if (c != '"' && c != '.' && !is_atext(c))
			break;
		if (n++ > 0)
			buf_putc(out, ' ');
		if (c == '"')
			read_quoted(ap, out);
		else
			read_dotted_run(ap, out);
	}
	return n;
}

static bool
ends_with_dot(const struct buf *b)
{
	return b->len > 0 && b->data[b->len - 1] == '.';
}

/*
 * local-part = dot-atom / quoted-string / obs-local-part (words joined by
 * dots, CFWS around them).  Dots are taken as they come ("a..b", ".a").
 */
static bool
read_local_part(struct ap *ap, struct buf *out)
{
	bool got = false;
	char c;

	for (;;) {
		skip_cfws(ap);
		c = peek(ap);
		if (c == '"')
			read_quoted(ap, out);
		else if (c == '.' || is_atext(c))
			read_dotted_run(ap, out);
		else
			break;
		got = true;
		skip_cfws(ap);
		c = peek(ap);
		if (c == '.' || (ends_with_dot(out) && (c == '"' ||
		    is_atext(c))))
			continue;
		break;
	}
	return got;
}

/* domain = dot-atom / domain-literal (kept with its brackets). */
static bool
read_domain(struct ap *ap, struct buf *out)
{
	size_t start;

	skip_cfws(ap);
	if (peek(ap) == '[') {
		start = ap->pos++;
		while (!at_end(ap) && ap->s[ap->pos] != ']') {
			if (ap->s[ap->pos] == '\\' && ap->pos + 1 < ap->len)
				ap->pos++;
			ap->pos++;
		}
		if (!at_end(ap))
			ap->pos++;
		buf_append(out, ap->s + start, ap->pos - start);
		skip_cfws(ap);
		return true;
	}
	if (peek(ap) != '.' && !is_atext(peek(ap)))
		return false;
	for (;;) {
		read_dotted_run(ap, out);
		skip_cfws(ap);
		if (peek(ap) == '.' || (ends_with_dot(out) &&
		    is_atext(peek(ap))))
			continue;
		break;
	}
	return true;
}

static char *
buf_dup(const struct buf *b)
{
	return xstrndup(buf_cstr(b), b->len);
}

static struct mime_addr *
emit(struct ap *ap)
{
	struct mime_addr *a = xcalloc(1, sizeof(*a));

	*ap->tail = a;
	ap->tail = &a->next;
	ap->last = a;
	return a;
}

static void
fill_missing(struct mime_addr *a)
{
	if (a->mailbox == NULL) {
		a->mailbox = xstrdup(MIME_ADDR_MISSING_MAILBOX);
		a->invalid = true;
	}
	if (a->host == NULL) {
		a->host = xstrdup(MIME_ADDR_MISSING_DOMAIN);
		a->invalid = true;
	}
}

/*
 * Skip unreadable text up to the next ',' (or ';' in a group) without
 * consuming it; quoted strings, comments and <...> are skipped whole.
 * Always consumes at least one byte unless already at a stop character.
 */
static void
skip_garbage(struct ap *ap, bool in_group)
{
	while (!at_end(ap)) {
		char c = ap->s[ap->pos];

		if (c == ',' || (in_group && c == ';'))
			break;
		if (c == '"') {
			read_quoted(ap, NULL);
		} else if (c == '(') {
			skip_cfws(ap);
		} else if (c == '<') {
			while (!at_end(ap) && ap->s[ap->pos] != '>')
				ap->pos++;
			if (!at_end(ap))
				ap->pos++;
		} else
			ap->pos++;
	}
}

/* "<" [obs-route] addr-spec ">", with ap->pos at '<'. */
static void
read_angle_addr(struct ap *ap, struct mime_addr *a)
{
	struct buf tmp = BUF_INIT;

	ap->pos++;
	skip_cfws(ap);
	if (peek(ap) == '@') {
		/* obs-route: "@a,@b:" */
		while (peek(ap) == '@') {
			if (tmp.len > 0)
				buf_putc(&tmp, ',');
			buf_putc(&tmp, '@');
			ap->pos++;
			if (!read_domain(ap, &tmp))
				a->invalid = true;
			while (peek(ap) == ',') {
				ap->pos++;
				skip_cfws(ap);
			}
		}
		a->adl = buf_dup(&tmp);
		if (peek(ap) == ':')
			ap->pos++;
		else
			a->invalid = true;
		skip_cfws(ap);
	}
	buf_reset(&tmp);
	if (read_local_part(ap, &tmp))
		a->mailbox = buf_dup(&tmp);
	if (peek(ap) == '@') {
		ap->pos++;
		buf_reset(&tmp);
		if (read_domain(ap, &tmp))
			a->host = buf_dup(&tmp);
	}
	skip_cfws(ap);
	if (peek(ap) == '>') {
		ap->pos++;
	} else {
		a->invalid = true;
		while (!at_end(ap) && ap->s[ap->pos] != '>')
			ap->pos++;
		if (!at_end(ap))
			ap->pos++;
	}
	buf_free(&tmp);
}

/* addr-spec, possibly followed by a comment that serves as the name. */
static void
read_addr_spec(struct ap *ap)
{
	struct buf tmp = BUF_INIT;
	struct mime_addr *a;
	bool got_local;

	buf_reset(&ap->comment);
	got_local = read_local_part(ap, &tmp);
	if (!got_local && peek(ap) != '@') {
		/* Nothing readable here: no address at all. */
		buf_free(&tmp);
		return;
	}
	a = emit(ap);
	if (got_local)
		a->mailbox = buf_dup(&tmp);
	if (peek(ap) == '@') {
		ap->pos++;
		buf_reset(&tmp);
		if (read_domain(ap, &tmp))
			a->host = buf_dup(&tmp);
	}
	skip_cfws(ap);
	if (ap->comment.len > 0)
		a->name = buf_dup(&ap->comment);
	fill_missing(a);
	buf_free(&tmp);
}

/* mailbox = name-addr / addr-spec */
static void
read_mailbox(struct ap *ap)
{
	struct buf name = BUF_INIT;
	size_t start = ap->pos;
	struct mime_addr *a;

	read_phrase(ap, &name);
	if (peek(ap) == '<') {
		a = emit(ap);
		if (name.len > 0)
			a->name = buf_dup(&name);
		read_angle_addr(ap, a);
		fill_missing(a);
	} else {
		ap->pos = start;
		read_addr_spec(ap);
	}
	buf_free(&name);
}

/*
 * After an element: expect a separator, else flag the element read (if
 * any: prev is what was last emitted before it) and skip the garbage.
 */
static void
after_element(struct ap *ap, const struct mime_addr *prev, bool in_group)
{
	char c;

	skip_cfws(ap);
	c = peek(ap);
	if (at_end(ap) || c == ',' || (in_group && c == ';'))
		return;
	if (ap->last != prev)
		ap->last->invalid = true;
	skip_garbage(ap, in_group);
}

/* group = display-name ":" [group-list] ";"; ap->pos is after ':'. */
static void
read_group(struct ap *ap, struct buf *name)
{
	struct mime_addr *start, *prev;

	start = emit(ap);
	start->mailbox = buf_dup(name);
	for (;;) {
		skip_cfws(ap);
		if (at_end(ap)) {
			start->invalid = true;
			break;
		}
		if (peek(ap) == ';') {
			ap->pos++;
			break;
		}
		if (peek(ap) == ',') {
			ap->pos++;
			continue;
		}
		prev = ap->last;
		read_mailbox(ap);
		after_element(ap, prev, true);
	}
	(void)emit(ap);		/* group end: all NULL */
}

static void
read_address(struct ap *ap)
{
	struct buf name = BUF_INIT;
	size_t start = ap->pos;
	unsigned words;

	words = read_phrase(ap, &name);
	if (words > 0 && peek(ap) == ':') {
		ap->pos++;
		read_group(ap, &name);
	} else {
		ap->pos = start;
		read_mailbox(ap);
	}
	buf_free(&name);
}

struct mime_addr *
mime_addr_parse(const char *s, size_t len)
{
	struct ap ap;
	const struct mime_addr *prev;
	size_t before;

	memset(&ap, 0, sizeof(ap));
	ap.s = s;
	ap.len = len;
	ap.tail = &ap.head;
	buf_init(&ap.comment);
	for (;;) {
		skip_cfws(&ap);
		if (at_end(&ap))
			break;
		if (peek(&ap) == ',') {
			ap.pos++;
			continue;
		}
		before = ap.pos;
		prev = ap.last;
		read_address(&ap);
		after_element(&ap, prev, false);
		if (ap.pos == before)
			ap.pos++;	/* a stray ';', '>' ...: never loop */
	}
	buf_free(&ap.comment);
	return ap.head;
}

void
mime_addr_free(struct mime_addr **pp)
{
	struct mime_addr *a = *pp, *next;

	*pp = NULL;
	for (; a != NULL; a = next) {
		next = a->next;
		free(a->name);
		free(a->adl);
		free(a->mailbox);
		free(a->host);
		free(a);
	}
}

bool
mime_addr_is_group_start(const struct mime_addr *a)
{
	return a->host == NULL && a->mailbox != NULL;
}

bool
mime_addr_is_group_end(const struct mime_addr *a)
{
	return a->host == NULL && a->mailbox == NULL;
}
