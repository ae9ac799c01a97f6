/*
 * base64 - RFC 4648 section 4 base64, strict and MIME-tolerant.
 *
 *	base64_encode()		bytes -> base64 with padding, no line breaks
 *	base64_decode()		strict: SASL (RFC 4422 / 4954 / 3501)
 *	base64_decode_mime()	tolerant: MIME bodies (RFC 2045 6.8)
 *	base64_mime_*()		the tolerant decoder, streamed (chunks may be
 *				cut anywhere)
 *
 * All functions append to a struct buf and never read past the given
 * length; no input is a C string.
 */
#ifndef POSTHORN_BASE64_H
#define POSTHORN_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Length of the encoding of n bytes (no NUL); 0 on overflow when n > 0. */
size_t	 base64_encoded_len(size_t n);

/* Append the padded encoding of len bytes to out. */
void	 base64_encode(const void *, size_t len, struct buf *out);

/*
 * Strict decode, appended to out: the length must be a multiple of 4,
 * padding is required, '=' may only end the input (one or two of them),
 * no whitespace or other character outside the alphabet, and the unused
 * bits of the last quantum must be zero (so every byte string has exactly
 * one accepted encoding).  Empty input decodes to nothing.  Returns 0, or
 * -1 with out truncated back to its length at entry.
 */
int	 base64_decode(const char *, size_t len, struct buf *out);

/*
 * Tolerant decode for MIME: characters outside the alphabet (CR, LF,
 * blanks, and garbage) are skipped, decoding stops at the first '=',
 * missing padding is accepted and a dangling single character (6 bits) is
 * dropped.  Appends to out; returns 0 for clean input (only CR/LF/SP/HTAB
 * skipped and a complete final quantum), 1 when anything else had to be
 * forgiven, so the MIME layer can flag the part.  Never fails.
 */
int	 base64_decode_mime(const char *, size_t len, struct buf *out);

struct base64_mime_state {
	uint32_t	acc;		/* bits not yet output */
	unsigned	nchars;		/* sextets in acc (0..3) */
	bool		ended;		/* '=' seen: the rest is ignored */
	bool		irregular;	/* something was forgiven */
};

void	 base64_mime_init(struct base64_mime_state *);
void	 base64_mime_feed(struct base64_mime_state *, const char *, size_t,
	    struct buf *out);
/* Flush what is left; returns 0 or 1 as base64_decode_mime(). */
int	 base64_mime_finish(struct base64_mime_state *, struct buf *out);

#endif
