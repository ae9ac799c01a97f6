/*
 * imap_sort - the algorithm layer of IMAP SORT (RFC 5256 section 3) and
 * SORT=DISPLAY (RFC 5957): pure functions over plain per-message records
 * that the caller fills from the store.  No I/O, no store, no parsing of
 * the command's arguments.  imap_thread uses the same records.
 *
 *	struct imap_sortmsg *m = calloc(n, sizeof(*m));	(fill one per
 *							 searched message)
 *	struct imap_sort_crit crit[] = {
 *		{ IMAP_SORT_SUBJECT, false }, { IMAP_SORT_DATE, true },
 *	};
 *	uint32_t *order = calloc(n, sizeof(*order));
 *	imap_sort(m, n, crit, 2, NULL, NULL, order);
 *	for (i = 0; i < n; i++) -> m[order[i]].seq (or .uid for UID SORT)
 *
 * Ordering (RFC 5256 section 3): criteria in turn, REVERSE flipping only
 * its own criterion; messages equal on every criterion are in ascending
 * sequence number order (never reversed).  Missing strings (NULL) sort as
 * the empty string, so first.  DATE is the sent date (Date: header in UTC,
 * section 2.2), or INTERNALDATE when the Date: header is missing or could
 * not be parsed.  Sizes and times compare as numbers.
 *
 * String comparison: RFC 5256 requires the I18NLEVEL=1 collation, i.e.
 * "i;unicode-casemap" (RFC 5051): each string is turned into a canonical
 * key which is compared octet by octet.  That shape is the comparator
 * interface here: an imap_casemap_fn appends the key of a UTF-8 string to
 * a buf, and keys are compared with memcmp (a key that is a prefix of
 * another sorts first).  Each string is mapped once per command, not once
 * per comparison, so an expensive full implementation (titlecase + NFKD
 * from the decoding library) costs O(n) mappings.  NULL selects
 * imap_casemap_simple() below.
 */
#ifndef POSTHORN_IMAP_SORT_H
#define POSTHORN_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/*
 * One searched message.  Strings are NUL-terminated UTF-8 owned by the
 * caller and only read during the call; NULL means the header (or the
 * address) is absent.  Each field names who reads it; the caller only has
 * to fill what the command at hand uses.
 */
struct imap_sortmsg {
	uint32_t	 seq;		/* 1-based; final tie-breaker */
	uint32_t	 uid;		/* only written out (UID THREAD) */
	time_t		 internaldate;	/* ARRIVAL, DATE fallback */
	time_t		 sent;		/* Date: header, UTC */
	bool		 sent_valid;	/* false: no parseable Date: */
	/*
	 * RFC 5256 2.1 base subject extraction removed a subj-refwd, a
	 * "(fwd)" trailer or a [fwd: ...] wrapper: the message is a reply
	 * or a forward (THREAD=REFERENCES step 5).
	 */
	bool		 subject_reply;
	uint64_t	 size;		/* RFC822.SIZE (SIZE) */
	const char	*subject;	/* base subject (SUBJECT, THREAD) */
	/* addr-mailbox of the first address of the header (FROM/TO/CC). */
	const char	*from;
	const char	*to;
	const char	*cc;
	/*
	 * RFC 5957: the decoded display-name of the first address, or when
	 * it has none (or it is empty) its addr-spec "mailbox@host"
	 * (DISPLAYFROM/DISPLAYTO).
	 */
	const char	*display_from;
	const char	*display_to;
	/* Raw header values (THREAD=REFERENCES); see imap_thread.h. */
	const char	*message_id;
	const char	*in_reply_to;
	const char	*references;
};

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,		/* RFC 5957 */
	IMAP_SORT_DISPLAYTO,		/* RFC 5957 */
};

struct imap_sort_crit {
	enum imap_sort_key	 key;
	bool			 reverse;	/* preceded by REVERSE */
};

/*
 * Comparator: appends the comparison key of the UTF-8 string s (len
 * bytes, no NUL needed) to out.  Two strings are equal for SORT and
 * THREAD when their keys are byte-equal.  Must not fail; invalid UTF-8
 * must still give a deterministic key.
 */
typedef void	 imap_casemap_fn(const char *s, size_t len, struct buf *out,
		    void *ctx);

/*
 * The built-in comparator, a simplified i;unicode-casemap: every code
 * point is mapped to the simple titlecase of its simple case folding
 * (Unicode 14 CaseFolding C+S, then UnicodeData titlecase), without
 * the NFKD step.  So "a" and "A", "σ", "ς" and "Σ", "ǆ", "ǅ" and "Ǆ",
 * KELVIN SIGN and "k" are equal, and because keys are upper/titlecase
 * "_" (0x5F) sorts after letters, as in i;ascii-casemap, i;unicode-casemap
 * and Dovecot.  Precomposed and decomposed accents are not equal (that
 * needs NFKD), and "ß" is not "ss" (full folding).  Bytes that are not
 * valid UTF-8 are copied as they are.  ctx is unused.
 */
void	 imap_casemap_simple(const char *, size_t, struct buf *, void *ctx);

/* The sent date of RFC 5256 2.2: sent if sent_valid, else internaldate. */
time_t	 imap_sort_date(const struct imap_sortmsg *);

/*
 * Sorts the n messages by the ncrit criteria (ncrit 0: by sequence
 * number) and writes the resulting order as indexes into msgs to
 * order[0..n).  casemap NULL means imap_casemap_simple.  O(n log n)
 * comparisons after n key mappings per string criterion.
 */
void	 imap_sort(const struct imap_sortmsg *msgs, size_t n,
	    const struct imap_sort_crit *crit, size_t ncrit,
	    imap_casemap_fn *casemap, void *casemap_ctx, uint32_t *order);

/*
 * The merge sort underneath, for other users of the records: sorts the
 * index array v[0..n) by cmp(ctx, a, b) (<0, 0, >0); stable, O(n log n)
 * worst case, n extra indexes of memory.
 */
typedef int	 imap_sort_cmp_fn(void *ctx, uint32_t a, uint32_t b);
void	 imap_sort_indexes(uint32_t *v, size_t n, imap_sort_cmp_fn *cmp,
	    void *ctx);

#endif
