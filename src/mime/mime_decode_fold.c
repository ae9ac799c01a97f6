/*
 * mime_decode_fold - Unicode simple case folding and the streaming
 * case-insensitive substring matcher for SEARCH (API in mime_decode.h).
 *
 * Matching works on folded UTF-8 bytes: the needle is folded once, the
 * text one code point at a time, and a Knuth-Morris-Pratt automaton runs
 * over the folded bytes.  Byte matching is exact here because UTF-8 is
 * self-synchronising: a valid needle can only match a valid text at
 * character boundaries.  The text is repaired on the fly (invalid bytes
 * read as U+FFFD), so the automaton always sees valid UTF-8.  Time is
 * linear in the text whatever the needle (no backtracking), memory is the
 * needle and its failure table.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_decode_int.h"
#include "mime/mime_decode_tables.h"

uint32_t
mime_fold_cp(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(fold_runs) / sizeof(fold_runs[0]);
	const struct fold_run *r;
	uint32_t off;

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	/* The last run that starts at or before cp. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fold_runs[mid].first <= cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return cp;
	r = &fold_runs[lo - 1];
	off = cp - r->first;
	if (off < (uint32_t)r->count * r->stride && off % r->stride == 0)
		return (uint32_t)((int32_t)cp + r->delta);
	return cp;
}

/*
 * Folds whole characters of s[0..len) into out; returns how many bytes
 * were used: less than len only when the input ends in an unfinished
 * character and !final.
 */
static size_t
fold_some(const unsigned char *s, size_t len, bool final, struct buf *out)
{
	size_t i = 0;
	uint32_t cp;
	int n;

	while (i < len) {
		if (s[i] < 0x80) {
			size_t start = i;
			char *d;

			while (i < len && s[i] < 0x80)
				i++;
			buf_reserve(out, i - start);
			d = out->data + out->len;
			for (size_t k = start; k < i; k++)
				*d++ = (char)(s[k] >= 'A' && s[k] <= 'Z' ?
				    s[k] + 32 : s[k]);
			out->len += i - start;
			out->data[out->len] = '\0';
			continue;
		}
		n = mime_utf8_next(s + i, len - i, &cp);
		if (n > 0) {
			mime_utf8_put(out, mime_fold_cp(cp));
			i += (size_t)n;
		} else if (n == 0 && !final) {
			break;
		} else {
			buf_append(out, UTF8_REPLACEMENT, UTF8_REPLACEMENT_LEN);
			i += n == 0 ? len - i : (size_t)-n;
		}
	}
	return i;
}

void
mime_fold_utf8(const void *p, size_t len, struct buf *out)
{
	(void)fold_some(p, len, true, out);
}

struct mime_matcher {
	char		*needle;	/* folded */
	size_t		 len;
	size_t		*fail;		/* KMP failure function */
	size_t		 q;		/* needle bytes matched */
	bool		 found;
	unsigned char	 pend[4];	/* unfinished character */
	size_t		 npend;
	struct buf	 tmp;
};

struct mime_matcher *
mime_matcher_create(const void *needle, size_t len)
{
	struct mime_matcher *m;
	struct buf folded = BUF_INIT;
	size_t k = 0;

	mime_fold_utf8(needle, len, &folded);
	if (folded.len > MIME_MATCH_NEEDLE_MAX) {
		buf_free(&folded);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->len = folded.len;
	m->needle = folded.len > 0 ? buf_steal(&folded) : NULL;
	buf_free(&folded);
	m->fail = xcalloc(m->len + 1, sizeof(*m->fail));
	for (size_t i = 1; i < m->len; i++) {
		while (k > 0 && m->needle[i] != m->needle[k])
			k = m->fail[k - 1];
		if (m->needle[i] == m->needle[k])
			k++;
		m->fail[i] = k;
	}
	buf_init(&m->tmp);
	m->found = m->len == 0;
	return m;
}

void
mime_matcher_free(struct mime_matcher **mp)
{
	struct mime_matcher *m = *mp;

	if (m == NULL)
		return;
	free(m->needle);
	free(m->fail);
	buf_free(&m->tmp);
	free(m);
	*mp = NULL;
}

void
mime_matcher_reset(struct mime_matcher *m)
{
	m->q = 0;
	m->npend = 0;
	m->found = m->len == 0;
}

bool
mime_matcher_found(const struct mime_matcher *m)
{
	return m->found;
}

static bool
kmp_run(struct mime_matcher *m, const char *s, size_t len)
{
	size_t q = m->q;

	for (size_t i = 0; i < len; i++) {
		while (q > 0 && s[i] != m->needle[q])
			q = m->fail[q - 1];
		if (s[i] == m->needle[q] && ++q == m->len) {
			m->found = true;
			return true;
		}
	}
	m->q = q;
	return false;
}

bool
mime_matcher_feed(struct mime_matcher *m, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t used, i = 0;

	if (m->found)
		return true;
	/* Finish a character cut by the previous chunk. */
	while (m->npend > 0 && i < len) {
		uint32_t cp;
		int n;

		m->pend[m->npend++] = s[i++];
		n = mime_utf8_next(m->pend, m->npend, &cp);
		if (n == 0)
			continue;
		buf_reset(&m->tmp);
		if (n > 0) {
			mime_utf8_put(&m->tmp, mime_fold_cp(cp));
		} else {
			buf_append(&m->tmp, UTF8_REPLACEMENT,
			    UTF8_REPLACEMENT_LEN);
			i--;	/* the byte that broke it is read again */
		}
		m->npend = 0;
		if (kmp_run(m, m->tmp.data, m->tmp.len))
			return true;
	}
	/*
	 * Fold and match in slices, so tmp stays small.  A slice that ends
	 * inside a character is used up to that character (at most 3 bytes
	 * short), and the next slice starts there.
	 */
	while (i < len) {
		size_t n = len - i < 8192 ? len - i : 8192;

		buf_reset(&m->tmp);
		used = fold_some(s + i, n, false, &m->tmp);
		if (kmp_run(m, m->tmp.data, m->tmp.len))
			return true;
		if (used < n && i + n == len) {
			/* The input ends inside a character. */
			memcpy(m->pend, s + i + used, n - used);
			m->npend = n - used;
			break;
		}
		i += used;
	}
	return false;
}

bool
mime_text_contains(const void *text, size_t len, const void *needle,
    size_t nlen)
{
	struct buf hay = BUF_INIT, nd = BUF_INIT;
	bool found;

	mime_fold_utf8(needle, nlen, &nd);
	if (nd.len == 0) {
		buf_free(&nd);
		return true;
	}
	/* As the matcher: an unfinished character at the end is not read. */
	(void)fold_some(text, len, false, &hay);
	found = hay.len >= nd.len &&
	    memmem(hay.data, hay.len, nd.data, nd.len) != NULL;
	buf_free(&hay);
	buf_free(&nd);
	return found;
}
