/*
 * imap_binary - what FETCH BINARY[section] and BINARY.SIZE[section] send
 * (RFC 3516, RFC 9051 6.4.5): the section with its Content-Transfer-
 * Encoding undone.  Pure: the message is read through the caller's
 * mime_read_fn, nothing is kept but a short list of pieces.
 *
 *	struct imap_binary b;
 *	imap_binary_plan(&b, part, whole, size, rd, rctx);  the pieces
 *	imap_binary_measure(&b, rd, rctx);		size, NUL
 *	r = imap_binary_reader_create(&b, off, len);	a window of it
 *	while (imap_binary_read(r, rd, rctx, out) == 1) ...
 *	imap_binary_reader_free(&r);
 *	imap_binary_free(&b);
 *
 * The section is a list of pieces: byte ranges of the message copied as
 * they are, byte ranges decoded (base64, quoted-printable), and a fixed
 * text.  As Dovecot does (index-mail-binary.c):
 *  - a leaf part gives its body decoded; 7bit, 8bit and binary bodies
 *    are copied as they are (no CRLF conversion: RFC 3516 4.3 says the
 *    server SHOULD NOT, though Dovecot does);
 *  - the whole message (BINARY[], whole) and a part with children (a
 *    multipart, or a message/rfc822 whose content is the encapsulated
 *    message) give their bytes with every base64 or quoted-printable leaf
 *    below decoded, and in that leaf's header every Content-Transfer-
 *    Encoding field dropped and "Content-Transfer-Encoding: binary" put
 *    before the empty line that ends it; everything else (headers,
 *    boundaries, preamble, epilogue) as it is;
 *  - an unknown encoding anywhere in the section fails the whole
 *    section (IMAP_BINARY_UNKNOWN_CTE, answered NO [UNKNOWN-CTE],
 *    RFC 3516 4.3).
 *
 * Cost: planning reads the headers of the decoded leaves (when the
 * header is part of the section); measuring reads the section once (a
 * copied range only until a NUL has been seen); a reader reads from the first piece the window touches (for a
 * decoded piece, from its start) to the end of the window.  All in
 * blocks of IMAP_BINARY_BLOCK bytes: memory stays bounded whatever the
 * size of the part.  Pieces: at most a few per part, plus one per
 * Content-Transfer-Encoding field dropped (at most
 * IMAP_BINARY_DROP_MAX of them per header; any more are kept).
 */
#ifndef POSTHORN_IMAP_BINARY_H
#define POSTHORN_IMAP_BINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime/mime_decode.h"

struct buf;
struct mime_part;

#define IMAP_BINARY_BLOCK	((size_t)64 * 1024)
#define IMAP_BINARY_DROP_MAX	100
#define IMAP_BINARY_UNKNOWN_CTE	(-2)

enum imap_binary_kind {
	IMAP_BINARY_RAW,	/* [off, off + len) of the message */
	IMAP_BINARY_DECODE,	/* [off, off + len) decoded with cte */
	IMAP_BINARY_TEXT,	/* text (static), len bytes */
};

struct imap_binary_piece {
	enum imap_binary_kind kind;
	enum mime_cte	 cte;
	const char	*text;
	uint64_t	 off;
	uint64_t	 len;
	uint64_t	 out_len;	/* bytes produced; set by measure */
};

struct imap_binary {
	struct imap_binary_piece *pieces;
	size_t		 n;
	uint64_t	 size;		/* set by measure */
	bool		 has_nul;	/* set by measure */
	bool		 measured;
};

/*
 * Whether every part of the section (part and everything below it) has
 * an encoding mime_cte_parse() knows; imap_binary_plan() fails with
 * IMAP_BINARY_UNKNOWN_CTE exactly when it has not.  Reads nothing.
 */
bool	 imap_binary_decodable(const struct mime_part *part);
/*
 * Plans the content of part (of a message of msg_size bytes): its body,
 * or with whole its header too (BINARY[] of the root).  Ranges past
 * msg_size are cut.  Returns 0; IMAP_BINARY_UNKNOWN_CTE when a part of
 * the section has an encoding mime_cte_parse() does not know; -1 when rd
 * failed.  b is zeroed first and needs imap_binary_free() in every case.
 */
int	 imap_binary_plan(struct imap_binary *b,
	    const struct mime_part *part, bool whole, uint64_t msg_size,
	    mime_read_fn *rd, void *rctx);
/*
 * Reads the section once: its size, whether it holds a NUL byte (then
 * FETCH sends it as a literal8, RFC 3516 4.3) and each piece's out_len.
 * Returns 0, or -1 when rd failed or returned less than asked.
 */
int	 imap_binary_measure(struct imap_binary *b, mime_read_fn *rd,
	    void *rctx);
void	 imap_binary_free(struct imap_binary *b);

struct imap_binary_reader;

/*
 * A reader of bytes [off, off + len) of a measured section (cut to its
 * size).  b must outlive the reader and stay unchanged.
 */
struct imap_binary_reader *imap_binary_reader_create(
	    const struct imap_binary *b, uint64_t off, uint64_t len);
/*
 * Appends the next bytes of the window to out, reading at most one block
 * of the message (possibly appending nothing, while a decoded piece is
 * read up to the window).  Returns 1 when more follows, 0 when the window
 * is complete, -1 when rd failed or the message does not give what was
 * measured.
 */
int	 imap_binary_read(struct imap_binary_reader *, mime_read_fn *rd,
	    void *rctx, struct buf *out);
/* Bytes of the window appended so far. */
uint64_t imap_binary_reader_done(const struct imap_binary_reader *);
void	 imap_binary_reader_free(struct imap_binary_reader **);

#endif
