/*
 * mime - streaming RFC 5322 / MIME (RFC 2045, 2046) structure parser.
 *
 * The parser is fed the bytes of one stored message in order, in chunks of
 * any size, and builds the part tree that IMAP BODYSTRUCTURE / ENVELOPE,
 * BODY[section] and the webmail need: byte ranges of every header and body,
 * line counts, and the few header values those consumers print.  It never
 * keeps the message: memory is bounded by the limits below plus the retained
 * values, and every byte is looked at a constant number of times.
 *
 *	struct mime_parser *p = mime_parser_create(NULL);
 *	mime_parser_feed(p, chunk, len);	(repeat)
 *	struct mime_part *root = mime_parser_finish(&p);
 *	...
 *	mime_part_free(&root);
 *
 * Parsing never fails: malformed input gets a defined fallback (documented
 * at each field) in the spirit of Dovecot's lib-mail:
 *  - Lines end at LF; a CR right before it belongs to the line ending.
 *  - Header values are unfolded (the CRLF of a fold is removed, the
 *    whitespace kept), leading and trailing whitespace is trimmed and NUL
 *    bytes are dropped.  For every field below the first occurrence wins.
 *  - Content-* headers are honoured without MIME-Version (like Dovecot's
 *    default, non-strict mode).
 *  - A boundary line is "--" boundary ["--"] followed only by spaces, tabs
 *    or CRs up to the LF (RFC 2046 plus trailing-whitespace tolerance).  Any
 *    enclosing multipart's boundary is recognised too, and closes all inner
 *    parts (RFC 2046 5.1.2); if a line matches several, the longest boundary
 *    wins, then the innermost.  A boundary line also ends a header block
 *    that has no empty line yet.
 *  - A multipart whose boundary never appears (or that has no usable
 *    boundary parameter) has no children.  Like Dovecot, the IMAP writer
 *    then shows one empty text/plain part.
 *  - Past max_depth a multipart or message/rfc822 part is not split: its
 *    content is its body and it gets MIME_PART_TRUNCATED.  When the
 *    max_parts-th part is created, boundary recognition stops for good: the
 *    rest of the message is body of that part (also MIME_PART_TRUNCATED)
 *    and of its ancestors, as Dovecot does.
 */
#ifndef POSTHORN_MIME_H
#define POSTHORN_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Absolute ceilings; mime_parser_create() clamps the limits to them. */
#define MIME_DEPTH_HARD_MAX	1024U
#define MIME_PARTS_HARD_MAX	1000000U

struct mime_limits {
	unsigned	max_depth;	  /* levels, root included; 100 */
	unsigned	max_parts;	  /* parts, root included; 10000 */
	size_t		max_header_field; /* bytes kept of one value; 64 KiB */
	size_t		max_boundary;	  /* longest usable boundary; 200 */
};

#define MIME_LIMITS_DEFAULT	{ 100, 10000, (size_t)64 * 1024, 200 }

struct mime_param {
	char			*name;	/* lowercased, never NULL */
	char			*value;	/* unquoted, never NULL */
	struct mime_param	*next;
};

/*
 * Raw header values (unfolded, trimmed), NULL when the header is absent.
 * From..Bcc are parsed with mime_addr_parse() by the consumer.
 */
struct mime_envelope {
	char	*date;
	char	*subject;
	char	*from;
	char	*sender;
	char	*reply_to;
	char	*to;
	char	*cc;
	char	*bcc;
	char	*in_reply_to;
	char	*message_id;
};

/* A limit (depth or parts) stopped the parser from splitting this part. */
#define MIME_PART_TRUNCATED	0x01U
/* At least one retained header value was cut at max_header_field. */
#define MIME_PART_HDR_TRUNCATED	0x02U
/* Multipart whose close delimiter ("--boundary--") never appeared. */
#define MIME_PART_UNTERMINATED	0x04U
#define MIME_PART_FLAGS_ALL	0x07U

struct mime_part {
	struct mime_part	*parent;
	struct mime_part	*children;	/* first child */
	struct mime_part	*next;		/* next sibling */

	/*
	 * Offsets are absolute in the message.  The header block includes
	 * its terminating empty line; body_off == hdr_off + hdr_len.  Inside
	 * a multipart a body ends before the line break that precedes the
	 * next boundary line (RFC 2046).  body_lines counts the LFs inside
	 * [body_off, body_off + body_len) (what Dovecot reports).
	 */
	uint64_t	hdr_off, hdr_len;
	uint64_t	body_off, body_len;
	uint64_t	body_lines;

	/*
	 * Content-Type, lowercased; never NULL once parsed.  Default
	 * text/plain, or message/rfc822 directly under multipart/digest.  A
	 * malformed Content-Type gives text/plain without parameters (RFC
	 * 2045 5.2; the IMAP writer adds charset us-ascii).
	 */
	char			*type;
	char			*subtype;
	struct mime_param	*params;	/* RFC 2231 forms kept raw */

	char	*encoding;	/* Content-Transfer-Encoding token, as given */
	char	*id;		/* Content-ID, raw */
	char	*description;	/* Content-Description, raw */
	char	*md5;		/* Content-MD5, raw */
	char	*location;	/* Content-Location, raw */
	char	*disposition;	/* Content-Disposition token, as given */
	struct mime_param *disp_params;
	char	*language;	/* Content-Language, raw */

	/*
	 * Non-NULL for the root and for the child of a message/rfc822
	 * (or message/global) part: the encapsulated message.
	 */
	struct mime_envelope *env;

	unsigned	flags;		/* MIME_PART_* */
};

struct mime_parser;

/* limits NULL means MIME_LIMITS_DEFAULT; zero fields take the default. */
struct mime_parser *mime_parser_create(const struct mime_limits *);
void	 mime_parser_feed(struct mime_parser *, const void *, size_t);
/*
 * Ends the input, frees the parser and sets *pp to NULL.  Returns the root
 * part (never NULL); the caller owns it and frees it with mime_part_free().
 */
struct mime_part *mime_parser_finish(struct mime_parser **pp);
/* Frees a whole tree given its root; sets *pp to NULL.  NULL is fine. */
void	 mime_part_free(struct mime_part **pp);

/* Convenience: parse a complete message held in memory. */
struct mime_part *mime_parse(const void *, size_t, const struct mime_limits *);

/* hdr_len + body_len: the size of BODY[section] including its MIME header. */
uint64_t mime_part_total_size(const struct mime_part *);
bool	 mime_part_is_multipart(const struct mime_part *);
/* message/rfc822 or message/global (RFC 9051): has an encapsulated message. */
bool	 mime_part_is_message(const struct mime_part *);
/* Number of parts in the tree rooted here (iterative). */
size_t	 mime_part_count(const struct mime_part *);
/*
 * For header fields of delta bytes put before the message the tree was
 * parsed from (Authentication-Results, DKIM-Signature): the root's header
 * grows by delta, every other part moves by delta.
 */
void	 mime_part_shift(struct mime_part *root, uint64_t delta);
/* Value of the first parameter called name (lowercase), or NULL. */
const char *mime_param_get(const struct mime_param *, const char *name);

/*
 * Resolve an IMAP section number path (RFC 3501 6.4.5) such as 1.2.3; n == 0
 * returns root.  For a non-multipart part, part 1 is the part itself; for a
 * message/rfc822 part, N.M looks inside the encapsulated message (part N's
 * only child).  So BODY[3] is part 3's body (the whole encapsulated
 * message), and 3.HEADER / 3.TEXT are the header / body of part 3's child.
 * The root counts as the message, not as a part: when it is itself
 * message/rfc822, BODY[1] is its body and 1.HEADER, 1.1 look inside.
 * Returns NULL when the path names no part.  The result points into root.
 */
const struct mime_part *mime_part_find(const struct mime_part *root,
	    const unsigned *section, size_t n);

/*
 * Serialization for the store: a versioned, checksummed binary form that
 * round-trips exactly.  mime_serialize() appends to out and returns 0 (-1
 * only if part is not a root).  mime_deserialize() treats the blob as
 * untrusted: it checks lengths, counts, depth, offsets and tree shape and
 * returns NULL with *error_r set (static string) on any corruption.
 */
int	 mime_serialize(const struct mime_part *, struct buf *out);
struct mime_part *mime_deserialize(const void *, size_t,
	    const char **error_r);

/*
 * The root's envelope fields and flags read in place from a serialized
 * tree, for searching many messages: nothing is allocated and the tree is
 * not built.  v[i] points into the blob (not NUL-terminated), NULL when
 * the message lacks the field; values are raw and unfolded, as kept by
 * the parser (the first field of each name, at most max_header_field
 * bytes: MIME_PART_HDR_TRUNCATED in flags says one was cut).  Returns 0,
 * or -1 if the blob is not one.
 */
enum mime_env_field {
	MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM, MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO, MIME_ENV_TO, MIME_ENV_CC, MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO, MIME_ENV_MESSAGE_ID, MIME_ENV_FIELDS
};

struct mime_env_ref {
	const char	*v[MIME_ENV_FIELDS];
	size_t		 len[MIME_ENV_FIELDS];
	unsigned	 flags;		/* the root's MIME_PART_* */
};

int	 mime_blob_envelope(const void *, size_t, struct mime_env_ref *);

#endif
