/*
 * imap_seqset - sequence-set parsing, lookup and formatting.  See
 * imap_seqset.h for the representation.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "imap/imap_seqset.h"

void
imap_seqset_init(struct imap_seqset *set)
{
	set->ranges = NULL;
	set->count = 0;
	set->cap = 0;
	set->has_star = false;
	set->star_lo = UINT32_MAX;
	set->star_hi = 0;
	set->searchres = false;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	imap_seqset_init(set);
}

static void
push_range(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->count == set->cap) {
		set->cap = set->cap == 0 ? 8 : set->cap * 2;
		set->ranges = xreallocarray(set->ranges, set->cap,
		    sizeof(*set->ranges));
	}
	set->ranges[set->count].lo = lo;
	set->ranges[set->count].hi = hi;
	set->count++;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Sort and merge overlapping or adjacent ranges. */
static void
normalize(struct imap_seqset *set)
{
	size_t w = 0;

	if (set->count < 2)
		return;
	qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	for (size_t r = 1; r < set->count; r++) {
		struct imap_seq_range *cur = &set->ranges[w];
		const struct imap_seq_range *nx = &set->ranges[r];

		/* Adjacent: cur->hi + 1 == nx->lo, without overflowing. */
		if (nx->lo <= cur->hi ||
		    (cur->hi != UINT32_MAX && nx->lo == cur->hi + 1)) {
			if (nx->hi > cur->hi)
				cur->hi = nx->hi;
		} else
			set->ranges[++w] = *nx;
	}
	set->count = w + 1;
}

/* nz-number / "*" at s[*i]; *star set for "*".  Leaves *i past it. */
static int
parse_num(const char *s, size_t len, size_t *i, uint32_t *v, bool *star)
{
	uint64_t x = 0;
	size_t p = *i;

	if (p >= len)
		return -1;
	if (s[p] == '*') {
		*star = true;
		*i = p + 1;
		return 0;
	}
	if (s[p] < '1' || s[p] > '9')
		return -1;
	while (p < len && s[p] >= '0' && s[p] <= '9') {
		x = x * 10 + (uint64_t)(s[p] - '0');
		if (x > UINT32_MAX)
			return -1;
		p++;
	}
	*star = false;
	*v = (uint32_t)x;
	*i = p;
	return 0;
}

static void
add_star(struct imap_seqset *set, bool other_is_num, uint32_t other)
{
	set->has_star = true;
	if (!other_is_num)
		return;
	if (other < set->star_lo)
		set->star_lo = other;
	if (other > set->star_hi)
		set->star_hi = other;
}

int
imap_seqset_parse(const char *s, size_t len, struct imap_seqset *out)
{
	struct imap_seqset set;
	size_t i = 0;

	imap_seqset_init(out);
	if (len == 1 && s[0] == '$') {
		out->searchres = true;
		return 0;
	}
	imap_seqset_init(&set);
	for (;;) {
		uint32_t a = 0, b = 0;
		bool sa, sb;

		if (parse_num(s, len, &i, &a, &sa) < 0)
			goto fail;
		if (i < len && s[i] == ':') {
			i++;
			if (parse_num(s, len, &i, &b, &sb) < 0)
				goto fail;
			if (sa && sb)
				add_star(&set, false, 0);
			else if (sa)
				add_star(&set, true, b);
			else if (sb)
				add_star(&set, true, a);
			else if (a <= b)
				push_range(&set, a, b);
			else
				push_range(&set, b, a);
		} else if (sa)
			add_star(&set, false, 0);
		else
			push_range(&set, a, a);
		if (i == len)
			break;
		if (s[i] != ',')
			goto fail;
		i++;
	}
	normalize(&set);
	*out = set;
	return 0;
fail:
	imap_seqset_free(&set);
	return -1;
}

static bool
ranges_contain(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];

		if (v < r->lo)
			hi = mid;
		else if (v > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static void
star_interval(const struct imap_seqset *set, uint32_t s, uint32_t *lo,
    uint32_t *hi)
{
	*lo = set->star_lo < s ? set->star_lo : s;
	*hi = set->star_hi > s ? set->star_hi : s;
	if (*lo == 0)
		*lo = 1;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t v,
    uint32_t star_value)
{
	if (v == 0)
		return false;
	if (set->has_star) {
		uint32_t lo, hi;

		star_interval(set, star_value, &lo, &hi);
		if (lo <= hi && v >= lo && v <= hi)
			return true;
	}
	return ranges_contain(set, v);
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value)
{
	uint32_t lo, hi;

	if (!set->has_star)
		return;
	star_interval(set, star_value, &lo, &hi);
	set->has_star = false;
	set->star_lo = UINT32_MAX;
	set->star_hi = 0;
	if (hi == 0 || lo > hi)
		return;
	imap_seqset_add_range(set, lo, hi);
}

void
imap_seqset_add_range(struct imap_seqset *set, uint32_t lo, uint32_t hi)
{
	struct imap_seq_range *last;

	if (lo > hi) {
		uint32_t t = lo;

		lo = hi;
		hi = t;
	}
	if (set->count == 0) {
		push_range(set, lo, hi);
		return;
	}
	last = &set->ranges[set->count - 1];
	if (lo >= last->lo) {
		/* The common case: appending in ascending order. */
		if (lo <= last->hi ||
		    (last->hi != UINT32_MAX && lo == last->hi + 1)) {
			if (hi > last->hi)
				last->hi = hi;
			return;
		}
		push_range(set, lo, hi);
		return;
	}
	push_range(set, lo, hi);
	normalize(set);
}

uint64_t
imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		n += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

uint32_t
imap_seqset_max_value(const struct imap_seqset *set)
{
	uint32_t m = 0;

	if (set->count > 0)
		m = set->ranges[set->count - 1].hi;
	if (set->has_star && set->star_hi > m)
		m = set->star_hi;
	return m;
}

void
imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set)
{
	it->set = set;
	it->idx = 0;
	it->next = set->count > 0 ? set->ranges[0].lo : 0;
}

bool
imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *value)
{
	const struct imap_seqset *set = it->set;

	if (it->idx >= set->count)
		return false;
	*value = (uint32_t)it->next;
	if (it->next >= set->ranges[it->idx].hi) {
		it->idx++;
		if (it->idx < set->count)
			it->next = set->ranges[it->idx].lo;
	} else
		it->next++;
	return true;
}

static void
put_elem(struct buf *out, bool *first, uint32_t lo, uint32_t hi)
{
	if (!*first)
		buf_putc(out, ',');
	*first = false;
	buf_put_u64(out, lo);
	if (hi != lo) {
		buf_putc(out, ':');
		buf_put_u64(out, hi);
	}
}

void
imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	bool first = true;

	for (size_t i = 0; i < set->count; i++)
		put_elem(out, &first, set->ranges[i].lo, set->ranges[i].hi);
	if (!set->has_star)
		return;
	if (!first)
		buf_putc(out, ',');
	if (set->star_lo > set->star_hi) {
		buf_putc(out, '*');
		return;
	}
	buf_put_u64(out, set->star_lo);
	buf_puts(out, ":*");
	if (set->star_hi != set->star_lo) {
		buf_putc(out, ',');
		buf_put_u64(out, set->star_hi);
		buf_puts(out, ":*");
	}
}

void
imap_seqset_format_array(const uint32_t *v, size_t n, struct buf *out)
{
	bool first = true;
	size_t i = 0;

	while (i < n) {
		uint32_t lo = v[i], hi = v[i];

		for (i++; i < n; i++) {
			if (v[i] == hi)
				continue;
			if (hi != UINT32_MAX && v[i] == hi + 1) {
				hi = v[i];
				continue;
			}
			break;
		}
		put_elem(out, &first, lo, hi);
	}
}
