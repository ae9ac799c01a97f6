/*
 * authres - Authentication-Results (RFC 8601) formatting and the check
 * used to strip forged fields that claim our authserv-id (see authres.h).
 *
 * The formatter first breaks the value into words that must stay whole
 * ("spf=pass", "smtp.mailfrom=example.org;", a quoted reason, each word
 * of a comment), then fills lines greedily.  Everything that reaches the
 * header is sanitized: no CR, LF or other control character can come out
 * of a value, so a hostile MAIL FROM or d= cannot inject header fields.
 */
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "authres/authres.h"

/* Length of "Authentication-Results: ". */
#define AUTHRES_NAME_COLUMNS	24

/* RFC 2045 token: CHAR except SPACE, CTLs and tspecials. */
static bool
token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!token_char((unsigned char)*s))
			return false;
	return true;
}

/* RFC 5322 atext. */
static bool
atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* dot-atom-text of len bytes (len may be 0 for "@domain"). */
static bool
dot_atom(const char *s, size_t len, bool ldh)
{
	if (len == 0)
		return !ldh;
	if (s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (ldh ? !((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') : !atext(c))
			return false;
	}
	return true;
}

/* pvalue's unquoted alternative: [ [ local-part ] "@" ] domain-name. */
static bool
addr_form(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL)
		return false;
	return dot_atom(s, (size_t)(at - s), false) &&
	    dot_atom(at + 1, strlen(at + 1), true);
}

/* Appends s as a quoted-string, controls replaced by spaces. */
static void
put_quoted(struct buf *w, const char *s)
{
	buf_putc(w, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_putc(w, '\\');
		buf_putc(w, c < 0x20 || c == 0x7f ? ' ' : (char)c);
	}
	buf_putc(w, '"');
}

static void
put_value(struct buf *w, const char *s, bool addr_ok)
{
	if (is_token(s) || (addr_ok && addr_form(s)))
		buf_puts(w, s);
	else
		put_quoted(w, s);
}

/* A keyword: kept when it is a token, else its token characters only. */
static void
put_keyword(struct buf *w, const char *s)
{
	size_t base = w->len;

	for (; s != NULL && *s != '\0'; s++)
		if (token_char((unsigned char)*s))
			buf_putc(w, *s);
	if (w->len == base)
		buf_putc(w, '?');
}

/*
 * Words: each one is NUL-terminated in words; the line filler puts a
 * space or a fold between them.
 */
static void
word_end(struct buf *words)
{
	buf_putc(words, '\0');
}

/* A comment, one word per space-separated piece, parentheses escaped. */
static void
put_comment(struct buf *words, const char *s)
{
	bool open = true, pending = false;

	buf_putc(words, '(');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ' || c == '\t' || c < 0x20 || c == 0x7f) {
			if (!open)
				pending = true;
			continue;
		}
		if (pending) {
			word_end(words);
			pending = false;
		}
		if (c == '(' || c == ')' || c == '\\')
			buf_putc(words, '\\');
		buf_putc(words, (char)c);
		open = false;
	}
	buf_putc(words, ')');
	word_end(words);
}

static void
fill_lines(struct buf *out, const struct buf *words)
{
	size_t col = AUTHRES_NAME_COLUMNS, i = 0;
	bool first = true;

	while (i < words->len) {
		const char *w = words->data + i;
		size_t len = strlen(w);

		if (!first) {
			if (col + 1 + len > AUTHRES_FOLD_COLUMN) {
				buf_puts(out, "\r\n\t");
				col = 1;
			} else {
				buf_putc(out, ' ');
				col++;
			}
		}
		buf_append(out, w, len);
		col += len;
		first = false;
		i += len + 1;
	}
}

void
authres_format(struct buf *out, const char *authserv_id,
    const struct authres_item *items, size_t n)
{
	struct buf words = BUF_INIT;

	put_value(&words, authserv_id, false);
	buf_putc(&words, ';');
	word_end(&words);
	if (n == 0) {
		buf_puts(&words, "none");
		word_end(&words);
	}
	for (size_t i = 0; i < n; i++) {
		const struct authres_item *it = &items[i];

		put_keyword(&words, it->method);
		buf_putc(&words, '=');
		put_keyword(&words, it->result);
		word_end(&words);
		if (it->comment != NULL)
			put_comment(&words, it->comment);
		if (it->reason != NULL) {
			buf_puts(&words, "reason=");
			put_value(&words, it->reason, false);
			word_end(&words);
		}
		for (size_t k = 0; k < AUTHRES_MAX_PROPS &&
		    it->props[k].ptype != NULL; k++) {
			const struct authres_prop *p = &it->props[k];

			put_keyword(&words, p->ptype);
			buf_putc(&words, '.');
			put_keyword(&words, p->property);
			buf_putc(&words, '=');
			put_value(&words, p->value != NULL ? p->value : "",
			    true);
			word_end(&words);
		}
		if (i + 1 < n) {
			/* The ";" sticks to the item's last word. */
			words.data[words.len - 1] = ';';
			word_end(&words);
		}
	}
	fill_lines(out, &words);
	buf_free(&words);
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Skips CFWS; returns false on an unterminated comment. */
static bool
skip_cfws(const char *s, size_t len, size_t *i)
{
	while (*i < len) {
		char c = s[*i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			(*i)++;
		} else if (c == '(') {
			size_t depth = 0;

			for (; *i < len; (*i)++) {
				if (s[*i] == '\\')
					(*i)++;
				else if (s[*i] == '(')
					depth++;
				else if (s[*i] == ')' && --depth == 0)
					break;
			}
			if (*i >= len)
				return false;
			(*i)++;
		} else
			break;
	}
	return true;
}

bool
authres_claims_id(const char *s, size_t len, const char *authserv_id)
{
	size_t i = 0, idlen = strlen(authserv_id), k = 0;

	if (!skip_cfws(s, len, &i) || i >= len)
		return false;
	if (s[i] == '"') {
		/* Compare the unescaped content as we go. */
		bool match = true;

		for (i++; i < len && s[i] != '"'; i++) {
			char c = s[i];

			if (c == '\\') {
				if (++i >= len)
					return false;
				c = s[i];
			}
			if (k >= idlen || lower(c) != lower(authserv_id[k]))
				match = false;
			k++;
		}
		return i < len && match && k == idlen && idlen > 0;
	}
	while (i + k < len && token_char((unsigned char)s[i + k]))
		k++;
	return k > 0 && k == idlen && strncasecmp(s + i, authserv_id, k) == 0;
}

bool
authres_field_claims_id(const char *s, size_t len, const char *authserv_id)
{
	static const char name[] = "Authentication-Results";
	size_t n = sizeof(name) - 1, i;

	if (len < n || strncasecmp(s, name, n) != 0)
		return false;
	for (i = n; i < len && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	if (i >= len || s[i] != ':')
		return false;
	i++;
	return authres_claims_id(s + i, len - i, authserv_id);
}
