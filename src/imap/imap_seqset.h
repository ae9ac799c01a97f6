/*
 * imap_seqset - IMAP sequence sets (RFC 9051 sequence-set, RFC 5182 "$").
 *
 * A set is kept as a sorted array of disjoint, non-adjacent ranges, so a
 * set covering a 100,000-message mailbox ("1:*") costs one range and a
 * lookup is a binary search.  "*" cannot be placed before the mailbox size
 * is known, so the star elements of a parsed set are kept aside: every
 * element that mentions "*" ("*", "n:*", "*:n") covers an interval that
 * contains the star value s, so together they are the single interval
 * [min(star_lo, s), max(star_hi, s)].  imap_seqset_resolve() folds that in.
 *
 *	struct imap_seqset set;
 *	if (imap_seqset_parse(arg, len, &set) < 0) -> BAD
 *	if (set.searchres) -> use the saved SEARCHRES result instead
 *	imap_seqset_resolve(&set, exists_or_max_uid);
 *	for each set.ranges[i] ... ; imap_seqset_free(&set);
 *
 * The formatters write the compact form ("1:3,5") used by UIDPLUS, ESEARCH
 * and QRESYNC responses.
 */
#ifndef POSTHORN_IMAP_SEQSET_H
#define POSTHORN_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct imap_seq_range {
	uint32_t	 lo;
	uint32_t	 hi;		/* lo <= hi */
};

struct imap_seqset {
	struct imap_seq_range	*ranges;	/* sorted, merged; owned */
	size_t			 count;
	size_t			 cap;
	bool			 has_star;	/* unresolved "*" elements */
	uint32_t		 star_lo;	/* see above; valid if has_star */
	uint32_t		 star_hi;
	bool			 searchres;	/* the set was "$" */
};

#define IMAP_SEQSET_INIT	{ NULL, 0, 0, false, UINT32_MAX, 0, false }

void	 imap_seqset_init(struct imap_seqset *);
void	 imap_seqset_free(struct imap_seqset *);

/*
 * Parse sequence-set syntax of exactly len bytes: comma-separated numbers
 * (1..4294967295, no leading zeros), "*" and ranges of those in either
 * order; or "$" alone, which only sets searchres.  Empty elements, 0,
 * overflow, spaces and any other byte are refused.  out is initialised
 * here; it is left empty (nothing to free) when -1 is returned.
 */
int	 imap_seqset_parse(const char *, size_t, struct imap_seqset *out);

/* Membership; star_value stands for "*" if the set is unresolved. */
bool	 imap_seqset_contains(const struct imap_seqset *, uint32_t value,
	    uint32_t star_value);

/*
 * Replace the star elements by their interval for the given star value
 * (the highest sequence number or UID in use).  With star_value 0 (an
 * empty mailbox) "*" alone matches nothing and "n:*" is "1:n".
 */
void	 imap_seqset_resolve(struct imap_seqset *, uint32_t star_value);

/* Add lo..hi (in any order) keeping the set sorted and merged. */
void	 imap_seqset_add_range(struct imap_seqset *, uint32_t lo, uint32_t hi);

/* Number of values in the resolved ranges (star elements not counted). */
uint64_t imap_seqset_count(const struct imap_seqset *);

/*
 * Highest number written in the set, "*" excluded (0 if none): what a
 * caller compares with EXISTS to reject invalid sequence numbers.
 */
uint32_t imap_seqset_max_value(const struct imap_seqset *);

/* Iterate over the values of the resolved ranges in ascending order. */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t			 idx;
	uint64_t		 next;
};

void	 imap_seqset_iter_init(struct imap_seqset_iter *,
	    const struct imap_seqset *);
bool	 imap_seqset_iter_next(struct imap_seqset_iter *, uint32_t *value);

/*
 * Append the set in compact form to out ("1:3,5"); unresolved star
 * elements are written as "n:*" / "*".  Appends nothing for an empty set.
 */
void	 imap_seqset_format(const struct imap_seqset *, struct buf *out);

/*
 * Append the values of an ascending array in compact form; duplicates are
 * collapsed.  A value lower than its predecessor starts a new element, so
 * the output stays a valid set for unsorted input and keeps its order
 * (what COPYUID needs).  Appends nothing when n is 0.
 */
void	 imap_seqset_format_array(const uint32_t *, size_t n, struct buf *out);

#endif
