/*
 * fuzz_imap_seqset - IMAP sequence sets (imap/imap_seqset.h).
 *
 * Input: sequence-set text, optionally followed by a NUL and binary data:
 * 32-bit values (native order) used as star values, as ranges for
 * imap_seqset_add_range() and as an array for imap_seqset_format_array().
 * Checked:
 *  - a refused set leaves nothing to free; an accepted one is sorted,
 *    merged (disjoint and not adjacent), lo <= hi, never contains 0;
 *  - "$" alone sets searchres and nothing else;
 *  - imap_seqset_format() output parses back to the same set (ranges and
 *    star interval), for unresolved and resolved sets;
 *  - after imap_seqset_resolve() no star is left; imap_seqset_contains()
 *    before resolving agrees with membership after it; the iterator
 *    yields exactly imap_seqset_count() ascending values (small sets);
 *    imap_seqset_max_value() is the largest written number;
 *  - add_range keeps the invariants and contains both ends;
 *    format_array output parses and contains every array value.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "imap/imap_seqset.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_shape(const struct imap_seqset *s)
{
	FUZZ_CHECK(s->count <= s->cap, "count %zu > cap %zu", s->count,
	    s->cap);
	for (size_t i = 0; i < s->count; i++) {
		FUZZ_CHECK(s->ranges[i].lo >= 1 &&
		    s->ranges[i].lo <= s->ranges[i].hi, "range %u:%u",
		    s->ranges[i].lo, s->ranges[i].hi);
		if (i > 0)
			FUZZ_CHECK(s->ranges[i - 1].hi < UINT32_MAX &&
			    s->ranges[i - 1].hi + 1 < s->ranges[i].lo,
			    "ranges %u:%u and %u:%u not merged",
			    s->ranges[i - 1].lo, s->ranges[i - 1].hi,
			    s->ranges[i].lo, s->ranges[i].hi);
	}
}

static bool
same_set(const struct imap_seqset *a, const struct imap_seqset *b)
{
	if (a->count != b->count || a->has_star != b->has_star ||
	    a->searchres != b->searchres)
		return false;
	if (a->has_star && (a->star_lo != b->star_lo ||
	    a->star_hi != b->star_hi))
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (a->ranges[i].lo != b->ranges[i].lo ||
		    a->ranges[i].hi != b->ranges[i].hi)
			return false;
	return true;
}

static bool
in_ranges(const struct imap_seqset *s, uint32_t v)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->ranges[i].lo <= v && v <= s->ranges[i].hi)
			return true;
	return false;
}

static void
format_roundtrip(const struct imap_seqset *s)
{
	struct buf b = BUF_INIT;
	struct imap_seqset again;

	imap_seqset_format(s, &b);
	if (s->count == 0 && !s->has_star) {
		FUZZ_CHECK(b.len == 0, "empty set formatted as '%s'",
		    buf_cstr(&b));
		buf_free(&b);
		return;
	}
	FUZZ_CHECK(imap_seqset_parse(b.data, b.len, &again) == 0,
	    "formatted set '%s' does not parse", buf_cstr(&b));
	/* The star interval may be written as "n:*" with n anywhere in it. */
	FUZZ_CHECK(again.count == s->count && again.has_star == s->has_star,
	    "formatted set '%s' parses differently", buf_cstr(&b));
	for (size_t i = 0; i < s->count; i++)
		FUZZ_CHECK(again.ranges[i].lo == s->ranges[i].lo &&
		    again.ranges[i].hi == s->ranges[i].hi,
		    "formatted set '%s' range %zu differs", buf_cstr(&b), i);
	if (s->has_star)
		for (uint32_t star = 0; star < 8; star++)
			for (uint32_t v = 1; v < 8; v++)
				FUZZ_CHECK(imap_seqset_contains(&again, v,
				    star) == imap_seqset_contains(s, v, star),
				    "'%s': contains(%u, *=%u) differs",
				    buf_cstr(&b), v, star);
	imap_seqset_free(&again);
	buf_free(&b);
}

static void
check_resolved(const struct imap_seqset *orig, uint32_t star)
{
	struct imap_seqset r;
	struct imap_seqset_iter it;
	uint64_t count, n = 0, prev = 0;
	uint32_t v, probes[] = { 0, 1, 2, 3, star, star - 1, star + 1,
	    UINT32_MAX, UINT32_MAX - 1, 100, 1000 };

	imap_seqset_init(&r);
	for (size_t i = 0; i < orig->count; i++)
		imap_seqset_add_range(&r, orig->ranges[i].hi,
		    orig->ranges[i].lo);
	r.has_star = orig->has_star;
	r.star_lo = orig->star_lo;
	r.star_hi = orig->star_hi;
	FUZZ_CHECK(same_set(&r, orig), "copy differs");
	imap_seqset_resolve(&r, star);
	FUZZ_CHECK(!r.has_star, "star left after resolve");
	check_shape(&r);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (probes[i] == 0)
			continue;
		FUZZ_CHECK(imap_seqset_contains(orig, probes[i], star) ==
		    imap_seqset_contains(&r, probes[i], 0),
		    "contains(%u) with *=%u changes on resolve", probes[i],
		    star);
		FUZZ_CHECK(imap_seqset_contains(&r, probes[i], 0) ==
		    in_ranges(&r, probes[i]), "contains(%u) wrong", probes[i]);
	}
	for (size_t i = 0; i < r.count; i++) {
		FUZZ_CHECK(imap_seqset_contains(&r, r.ranges[i].lo, 0) &&
		    imap_seqset_contains(&r, r.ranges[i].hi, 0),
		    "range ends not contained");
		if (r.ranges[i].lo > 1)
			FUZZ_CHECK(!imap_seqset_contains(&r,
			    r.ranges[i].lo - 1, 0), "gap contained");
	}
	count = imap_seqset_count(&r);
	if (count <= 5000) {
		imap_seqset_iter_init(&it, &r);
		while (imap_seqset_iter_next(&it, &v)) {
			FUZZ_CHECK(n == 0 || v > prev, "iterator not ascending");
			FUZZ_CHECK(in_ranges(&r, v), "iterator value %u", v);
			prev = v;
			n++;
			FUZZ_CHECK(n <= count, "iterator runs past count");
		}
		FUZZ_CHECK(n == count, "iterated %llu of %llu",
		    (unsigned long long)n, (unsigned long long)count);
	}
	format_roundtrip(&r);
	imap_seqset_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *bin = nul != NULL ? nul + 1 : data + size;
	size_t nvals = (size_t)(data + size - bin) / 4;
	uint32_t *vals = malloc((nvals > 0 ? nvals : 1) * sizeof(uint32_t));
	struct imap_seqset set, extra;
	struct buf b = BUF_INIT;

	memcpy(vals, bin, nvals * sizeof(uint32_t));
	memset(&set, 0xa5, sizeof(set));
	if (imap_seqset_parse(text, tlen, &set) == 0) {
		check_shape(&set);
		if (set.searchres) {
			FUZZ_CHECK(tlen == 1 && text[0] == '$' &&
			    set.count == 0 && !set.has_star, "searchres");
		} else {
			uint32_t max = imap_seqset_max_value(&set);

			FUZZ_CHECK(set.count > 0 || set.has_star, "empty set");
			FUZZ_CHECK(set.count == 0 ||
			    max >= set.ranges[set.count - 1].hi, "max_value");
			format_roundtrip(&set);
			check_resolved(&set, 0);
			check_resolved(&set, 1);
			check_resolved(&set, 7);
			check_resolved(&set, UINT32_MAX);
			for (size_t i = 0; i < nvals && i < 4; i++)
				check_resolved(&set, vals[i]);
		}
		imap_seqset_free(&set);
	} else {
		FUZZ_CHECK(set.ranges == NULL && set.count == 0,
		    "refused set holds ranges");
	}

	/* add_range and format_array on the binary values. */
	imap_seqset_init(&extra);
	for (size_t i = 0; i + 1 < nvals && i < 64; i += 2) {
		uint32_t lo = vals[i] != 0 ? vals[i] : 1;
		uint32_t hi = vals[i + 1] != 0 ? vals[i + 1] : 1;

		imap_seqset_add_range(&extra, lo, hi);
		check_shape(&extra);
		FUZZ_CHECK(imap_seqset_contains(&extra, lo, 0) &&
		    imap_seqset_contains(&extra, hi, 0), "added range missing");
	}
	format_roundtrip(&extra);
	imap_seqset_free(&extra);

	for (size_t i = 0; i < nvals; i++)
		if (vals[i] == 0)
			vals[i] = 1;
	imap_seqset_format_array(vals, nvals, &b);
	if (nvals == 0) {
		FUZZ_CHECK(b.len == 0, "empty array formatted");
	} else {
		FUZZ_CHECK(imap_seqset_parse(b.data, b.len, &set) == 0,
		    "format_array output '%s' does not parse", buf_cstr(&b));
		for (size_t i = 0; i < nvals; i++)
			FUZZ_CHECK(imap_seqset_contains(&set, vals[i], 0),
			    "format_array lost %u", vals[i]);
		imap_seqset_free(&set);
	}
	buf_free(&b);
	free(vals);
	return 0;
}
