/*
 * mime_decode_int - what the mime_decode*.c files share and nobody else
 * uses: the UTF-8 stepping primitive and the streaming UTF-8 repairer.
 */
#ifndef POSTHORN_MIME_DECODE_INT_H
#define POSTHORN_MIME_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define UTF8_REPLACEMENT	"\xef\xbf\xbd"
#define UTF8_REPLACEMENT_LEN	3

/* windows-1252 bytes 0x80-0x9F as code points (HTML reads &#128; so too). */
extern const uint16_t mime_cp1252_c1[32];

/*
 * One character of UTF-8 at s (len > 0): returns its length (1-4) and sets
 * *cp; returns 0 when s[0..len) is a valid but unfinished prefix; returns
 * -n when the first n bytes (n >= 1: the "maximal subpart" of Unicode
 * 3.9) cannot start a character.
 */
int	 mime_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* UTF-8 of a code point (U+FFFD for an invalid one); returns 1-4. */
size_t	 mime_utf8_encode(uint32_t, char[4]);

/*
 * Streaming repair: valid UTF-8 goes through, a run of invalid bytes
 * becomes one U+FFFD, and an unfinished character at the end of a chunk
 * is held back (at most 3 bytes).
 */
struct utf8_stream {
	unsigned char	 pend[4];
	size_t		 npend;
	bool		 bad;		/* last written: a U+FFFD */
	bool		 invalid;	/* something was replaced */
};

void	 utf8_stream_init(struct utf8_stream *);
void	 utf8_stream_feed(struct utf8_stream *, const void *, size_t,
	    struct buf *out);
/* Returns true if something was replaced; resets the stream. */
bool	 utf8_stream_finish(struct utf8_stream *, struct buf *out);

#endif
