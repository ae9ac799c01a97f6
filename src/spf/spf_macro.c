/*
 * spf_macro - RFC 7208 section 7 macros: syntax checks, domain-spec
 * syntax, expansion with transformers and delimiters, URL escaping of
 * upper-case letters, and the 253-byte truncation of query names.
 *
 * Pure functions over (pointer, length); nothing here does DNS: the
 * caller looks %{p} up first (spf_macro_uses_p) and passes it in the
 * environment.  Expansions are capped at SPF_MACRO_MAX bytes so that a
 * record full of "%{s}" cannot make us allocate without bound.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "spf/spf.h"

static bool
macro_delim(unsigned char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	    c == '_' || c == '=';
}

static bool
macro_letter_ok(unsigned char c, bool exp_letters)
{
	switch (tolower(c)) {
	case 's': case 'l': case 'o': case 'd': case 'i': case 'p':
	case 'h': case 'v':
		return true;
	case 'c': case 'r': case 't':
		return exp_letters;
	default:
		return false;
	}
}

/* One parsed "%{...}": letter, digit transformer, reversal, delimiters. */
struct macro_expand {
	unsigned char	 letter;	/* as written (case tells escaping) */
	unsigned	 digits;	/* 0: none */
	bool		 reverse;
	const char	*delims;
	size_t		 ndelims;
};

/*
 * Parses a macro-expand whose "%{" starts at s[*ip]; *ip is left after
 * the "}".  Returns 0 or -1.
 */
static int
macro_parse_braces(const char *s, size_t len, size_t *ip, bool exp_letters,
    struct macro_expand *m)
{
	size_t i = *ip + 2, nd = 0;
	unsigned v = 0;

	if (i >= len || !macro_letter_ok((unsigned char)s[i], exp_letters))
		return -1;
	m->letter = (unsigned char)s[i++];
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		/* Saturate: no domain has more than 127 labels anyway. */
		if (v < 1000)
			v = v * 10 + (unsigned)(s[i] - '0');
		nd++;
		i++;
	}
	/* "If a DIGIT is specified, the value MUST be nonzero." */
	if (nd > 0 && v == 0)
		return -1;
	m->digits = v;
	m->reverse = false;
	if (i < len && (s[i] == 'r' || s[i] == 'R')) {
		m->reverse = true;
		i++;
	}
	m->delims = s + i;
	while (i < len && macro_delim((unsigned char)s[i]))
		i++;
	m->ndelims = (size_t)(s + i - m->delims);
	if (i >= len || s[i] != '}')
		return -1;
	*ip = i + 1;
	return 0;
}

int
spf_macro_check(const char *s, size_t len, bool exp_text, bool all_letters,
    bool *ends_macro_r)
{
	struct macro_expand m;
	bool ends_macro = false;
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 1 >= len)
				return -1;
			c = (unsigned char)s[i + 1];
			if (c == '%' || c == '_' || c == '-') {
				i += 2;
			} else if (c == '{') {
				if (macro_parse_braces(s, len, &i,
				    exp_text || all_letters, &m) == -1)
					return -1;
			} else
				return -1;
			ends_macro = true;
			continue;
		}
		if ((c >= 0x21 && c <= 0x7e) || (exp_text && c == ' ')) {
			ends_macro = false;
			i++;
			continue;
		}
		return -1;
	}
	if (ends_macro_r != NULL)
		*ends_macro_r = ends_macro;
	return 0;
}

/*
 * toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static bool
toplabel_valid(const char *s, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			dash = true;
		else if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return alpha || dash;
}

bool
spf_domain_spec_valid(const char *s, size_t len)
{
	bool ends_macro;
	size_t b, e;

	if (len == 0 || spf_macro_check(s, len, false, false,
	    &ends_macro) == -1)
		return false;
	if (ends_macro)
		return true;
	/* domain-end = "." toplabel [ "." ] */
	e = len;
	if (s[e - 1] == '.')
		e--;
	b = e;
	while (b > 0 && (isalnum((unsigned char)s[b - 1]) || s[b - 1] == '-'))
		b--;
	if (b == 0 || s[b - 1] != '.')
		return false;
	return toplabel_valid(s + b, e - b);
}

bool
spf_macro_uses_p(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '%')
			continue;
		if (s[i + 1] == '{' && i + 2 < len &&
		    (s[i + 2] == 'p' || s[i + 2] == 'P'))
			return true;
		i++;		/* skip the escaped character or the '{' */
	}
	return false;
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static void
url_escape(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

struct part {
	const char	*p;
	size_t		 len;
};

/*
 * Splits value on the delimiters (default "."), reverses when asked,
 * keeps the right-most digits parts and joins them with dots (7.3).
 */
static void
macro_transform(struct buf *out, const char *v, size_t vlen,
    const struct macro_expand *m)
{
	const char *delims = m->ndelims > 0 ? m->delims : ".";
	size_t ndelims = m->ndelims > 0 ? m->ndelims : 1;
	struct part *parts;
	size_t n = 0, start = 0, first;

	/* At most vlen + 1 parts. */
	parts = xreallocarray(NULL, vlen + 1, sizeof(*parts));
	for (size_t i = 0; i <= vlen; i++) {
		if (i == vlen || memchr(delims, v[i], ndelims) != NULL) {
			parts[n].p = v + start;
			parts[n].len = i - start;
			n++;
			start = i + 1;
		}
	}
	if (m->reverse) {
		for (size_t i = 0; i < n / 2; i++) {
			struct part t = parts[i];

			parts[i] = parts[n - 1 - i];
			parts[n - 1 - i] = t;
		}
	}
	first = (m->digits > 0 && m->digits < n) ? n - m->digits : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			buf_putc(out, '.');
		buf_append(out, parts[i].p, parts[i].len);
	}
	free(parts);
}

static const char *
macro_value(const struct spf_macro_env *env, unsigned char letter,
    char *tbuf, size_t tlen)
{
	switch (tolower(letter)) {
	case 's': return env->s;
	case 'l': return env->l;
	case 'o': return env->o;
	case 'd': return env->d;
	case 'i': return env->i;
	case 'p': return env->p;
	case 'v': return env->v;
	case 'h': return env->h;
	case 'c': return env->c;
	case 'r': return env->r;
	case 't':
		snprintf(tbuf, tlen, "%" PRIu64, env->t);
		return tbuf;
	default:
		return NULL;
	}
}

int
spf_macro_expand(struct buf *out, const char *s, size_t len, bool exp_text,
    const struct spf_macro_env *env, const char **error_r)
{
	struct buf tmp = BUF_INIT;
	struct macro_expand m;
	size_t i = 0, base = out->len;
	char tbuf[32];

	if (spf_macro_check(s, len, exp_text, false, NULL) == -1) {
		*error_r = "macro syntax error";
		return -1;
	}
	while (i < len) {
		const char *v;

		if (out->len - base > SPF_MACRO_MAX)
			goto toolong;
		if (s[i] != '%') {
			buf_putc(out, s[i++]);
			continue;
		}
		switch (s[i + 1]) {
		case '%':
			buf_putc(out, '%');
			i += 2;
			continue;
		case '_':
			buf_putc(out, ' ');
			i += 2;
			continue;
		case '-':
			buf_puts(out, "%20");
			i += 2;
			continue;
		}
		/* Checked above: a valid "%{...}". */
		if (macro_parse_braces(s, len, &i, exp_text, &m) == -1) {
			*error_r = "macro syntax error";
			goto fail;
		}
		v = macro_value(env, m.letter, tbuf, sizeof(tbuf));
		if (v == NULL) {
			*error_r = "macro value not available";
			goto fail;
		}
		buf_reset(&tmp);
		if (m.digits > 0 || m.reverse || m.ndelims > 0)
			macro_transform(&tmp, v, strlen(v), &m);
		else
			buf_puts(&tmp, v);
		if (tmp.len > SPF_MACRO_MAX)
			goto toolong;
		if (isupper(m.letter))
			url_escape(out, buf_cstr(&tmp), tmp.len);
		else
			buf_append(out, buf_cstr(&tmp), tmp.len);
	}
	if (out->len - base > SPF_MACRO_MAX)
		goto toolong;
	buf_free(&tmp);
	return 0;
toolong:
	*error_r = "macro expansion too long";
fail:
	buf_free(&tmp);
	buf_truncate(out, base);
	return -1;
}

int
spf_target_name(struct buf *b)
{
	size_t label = 0;

	if (b->len > 0 && b->data[b->len - 1] == '.')
		buf_truncate(b, b->len - 1);
	while (b->len > 253) {
		const char *dot = memchr(b->data, '.', b->len);

		if (dot == NULL)
			return -1;
		buf_consume(b, (size_t)(dot - b->data) + 1);
	}
	if (b->len == 0)
		return -1;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (b->data[i] == '\0' || ++label > 63)
			return -1;
	}
	return label == 0 ? -1 : 0;
}
