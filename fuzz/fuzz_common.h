/*
 * fuzz_common - helpers shared by the libFuzzer harnesses in fuzz/.
 *
 *	FUZZ_CHECK(cond, fmt, ...)	a property the code under test must
 *					keep; prints what failed and abort()s,
 *					which libFuzzer reports as a crash
 *	struct fuzz_chunker		fuzzer-chosen chunk sizes for the
 *					streaming APIs (one control byte)
 *	fuzz_imap_value_check()		is this exactly one well-formed IMAP
 *					response value (list, string, NIL)?
 *	fuzz_mem_eq()			byte strings equal (NULL-safe)
 *	fuzz_memmem_count()		occurrences of a needle
 *
 * Everything is static inline: each harness is one translation unit linked
 * against the project's sources, and nothing here is part of posthorn.
 */
#ifndef POSTHORN_FUZZ_COMMON_H
#define POSTHORN_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "FUZZ PROPERTY FAILED at %s:%d: %s\n  ",\
		    __FILE__, __LINE__, #cond);				\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n");					\
		abort();						\
	}								\
} while (0)

/*
 * Chunk sizes from one control byte: bits 0-2 pick the largest chunk
 * (0 = the whole input in one call), the remaining bits seed a small
 * xorshift generator, so the fuzzer can vary where the cuts fall.
 */
struct fuzz_chunker {
	size_t		 max;		/* 0: one chunk */
	uint32_t	 rng;
};

static inline void
fuzz_chunker_init(struct fuzz_chunker *c, uint8_t control)
{
	static const size_t maxes[8] = { 0, 1, 2, 3, 7, 16, 64, 1024 };

	c->max = maxes[control & 7];
	c->rng = 0x9e3779b9U ^ ((uint32_t)control * 0x01000193U);
}

/* Length of the next chunk, at least 1 and at most left. */
static inline size_t
fuzz_chunker_next(struct fuzz_chunker *c, size_t left)
{
	size_t n;

	if (c->max == 0 || left == 0)
		return left;
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 17;
	c->rng ^= c->rng << 5;
	n = 1 + c->rng % c->max;
	return n < left ? n : left;
}

/* Equal byte strings; either pointer may be NULL when its length is 0. */
static inline bool
fuzz_mem_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static inline size_t
fuzz_memmem_count(const char *hay, size_t len, const char *needle, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; n > 0 && i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			count++;
	return count;
}

/*
 * IMAP response value syntax (RFC 9051 section 9), as a server writes it:
 * NIL, a number or atom, a quoted string (no CR, LF, NUL or 8-bit byte;
 * only '"' and '\' escaped), a literal "{n}\r\n" + n bytes without NUL,
 * or a parenthesized list of those separated by single spaces (or by
 * nothing between two lists).  On success advances *pos past the value.
 */
static inline bool
fuzz_imap_value_at(const char *s, size_t len, size_t *pos, unsigned depth)
{
	size_t i = *pos;

	if (i >= len || depth > 2000)
		return false;
	if (s[i] == '(') {
		i++;
		if (i < len && s[i] == ')') {
			*pos = i + 1;
			return true;
		}
		for (;;) {
			if (!fuzz_imap_value_at(s, len, &i, depth + 1))
				return false;
			if (i < len && s[i] == ')') {
				*pos = i + 1;
				return true;
			}
			/*
			 * Lists may follow a list without a space (the
			 * addresses of an address list, the bodies of a
			 * multipart); anything else is separated by one.
			 */
			if (i < len && s[i] == '(' && s[i - 1] == ')')
				continue;
			if (i >= len || s[i] != ' ')
				return false;
			i++;
		}
	}
	if (s[i] == '"') {
		for (i++; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '"') {
				*pos = i + 1;
				return true;
			}
			if (c == '\\') {
				if (++i >= len || (s[i] != '"' && s[i] != '\\'))
					return false;
				continue;
			}
			if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
				return false;
		}
		return false;
	}
	if (s[i] == '{') {
		uint64_t n = 0;

		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			n = n * 10 + (uint64_t)(s[i] - '0');
			if (n > len)
				return false;
			i++;
		}
		if (len - i < 3 || memcmp(s + i, "}\r\n", 3) != 0)
			return false;
		i += 3;
		if (n > len - i || memchr(s + i, '\0', (size_t)n) != NULL)
			return false;
		*pos = i + (size_t)n;
		return true;
	}
	/* Atom, number or NIL: anything up to a space or ')'. */
	{
		size_t start = i;

		while (i < len && s[i] != ' ' && s[i] != ')' && s[i] != '(') {
			unsigned char c = (unsigned char)s[i];

			if (c <= 0x20 || c >= 0x7f || c == '"' || c == '{' ||
			    c == '%' || c == '*')
				return false;
			i++;
		}
		if (i == start)
			return false;
		*pos = i;
		return true;
	}
}

/* True when s/len is exactly one value as above. */
static inline bool
fuzz_imap_value_check(const char *s, size_t len)
{
	size_t pos = 0;

	return fuzz_imap_value_at(s, len, &pos, 0) && pos == len;
}

#endif
