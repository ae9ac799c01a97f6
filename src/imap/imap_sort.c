/*
 * imap_sort - SORT ordering (RFC 5256 section 3, RFC 5957) and the
 * simplified i;unicode-casemap comparator.  See imap_sort.h.
 *
 * Every string criterion is mapped to its comparison key once per message
 * before sorting; the sort itself then only compares integers and bytes.
 * The sort is a bottom-up merge sort of an index array (no qsort_r, whose
 * signature differs between libcs; no recursion; O(n log n) on any
 * input, which quicksort does not promise).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "imap/imap_sort.h"

/*
 * Code points whose key differs from themselves: key = cp + delta for cp
 * in [lo, hi] with (cp - lo) % step == 0.  Generated from the Unicode 14
 * character database: simple case folding (CaseFolding.txt status C and
 * S), then the simple titlecase mapping of the result.  Sorted by lo.
 */
struct casemap_run {
	uint32_t	 lo;
	uint32_t	 hi;
	int32_t		 delta;
	uint32_t	 step;
};

static const struct casemap_run casemap_runs[] = {
	{ 0x61, 0x7a, -32, 1 }, { 0xb5, 0xb5, 743, 1 }, { 0xe0, 0xf6, -32, 1 },
	{ 0xf8, 0xfe, -32, 1 }, { 0xff, 0xff, 121, 1 },
	{ 0x101, 0x12f, -1, 2 }, { 0x131, 0x131, -232, 1 },
	{ 0x133, 0x137, -1, 2 }, { 0x13a, 0x148, -1, 2 },
	{ 0x14b, 0x177, -1, 2 }, { 0x17a, 0x17e, -1, 2 },
	{ 0x17f, 0x17f, -300, 1 }, { 0x180, 0x180, 195, 1 },
	{ 0x183, 0x185, -1, 2 }, { 0x188, 0x188, -1, 1 },
	{ 0x18c, 0x18c, -1, 1 }, { 0x192, 0x192, -1, 1 },
	{ 0x195, 0x195, 97, 1 }, { 0x199, 0x199, -1, 1 },
	{ 0x19a, 0x19a, 163, 1 }, { 0x19e, 0x19e, 130, 1 },
	{ 0x1a1, 0x1a5, -1, 2 }, { 0x1a8, 0x1a8, -1, 1 },
	{ 0x1ad, 0x1ad, -1, 1 }, { 0x1b0, 0x1b0, -1, 1 },
	{ 0x1b4, 0x1b6, -1, 2 }, { 0x1b9, 0x1b9, -1, 1 },
	{ 0x1bd, 0x1bd, -1, 1 }, { 0x1bf, 0x1bf, 56, 1 },
	{ 0x1c4, 0x1c4, 1, 1 }, { 0x1c6, 0x1c6, -1, 1 },
	{ 0x1c7, 0x1c7, 1, 1 }, { 0x1c9, 0x1c9, -1, 1 },
	{ 0x1ca, 0x1ca, 1, 1 }, { 0x1cc, 0x1dc, -1, 2 },
	{ 0x1dd, 0x1dd, -79, 1 }, { 0x1df, 0x1ef, -1, 2 },
	{ 0x1f1, 0x1f1, 1, 1 }, { 0x1f3, 0x1f5, -1, 2 },
	{ 0x1f9, 0x21f, -1, 2 }, { 0x223, 0x233, -1, 2 },
	{ 0x23c, 0x23c, -1, 1 }, { 0x23f, 0x240, 10815, 1 },
	{ 0x242, 0x242, -1, 1 }, { 0x247, 0x24f, -1, 2 },
	{ 0x250, 0x250, 10783, 1 }, { 0x251, 0x251, 10780, 1 },
	{ 0x252, 0x252, 10782, 1 }, { 0x253, 0x253, -210, 1 },
	{ 0x254, 0x254, -206, 1 }, { 0x256, 0x257, -205, 1 },
	{ 0x259, 0x259, -202, 1 }, { 0x25b, 0x25b, -203, 1 },
	{ 0x25c, 0x25c, 42319, 1 }, { 0x260, 0x260, -205, 1 },
	{ 0x261, 0x261, 42315, 1 }, { 0x263, 0x263, -207, 1 },
	{ 0x265, 0x265, 42280, 1 }, { 0x266, 0x266, 42308, 1 },
	{ 0x268, 0x268, -209, 1 }, { 0x269, 0x269, -211, 1 },
	{ 0x26a, 0x26a, 42308, 1 }, { 0x26b, 0x26b, 10743, 1 },
	{ 0x26c, 0x26c, 42305, 1 }, { 0x26f, 0x26f, -211, 1 },
	{ 0x271, 0x271, 10749, 1 }, { 0x272, 0x272, -213, 1 },
	{ 0x275, 0x275, -214, 1 }, { 0x27d, 0x27d, 10727, 1 },
	{ 0x280, 0x280, -218, 1 }, { 0x282, 0x282, 42307, 1 },
	{ 0x283, 0x283, -218, 1 }, { 0x287, 0x287, 42282, 1 },
	{ 0x288, 0x288, -218, 1 }, { 0x289, 0x289, -69, 1 },
	{ 0x28a, 0x28b, -217, 1 }, { 0x28c, 0x28c, -71, 1 },
	{ 0x292, 0x292, -219, 1 }, { 0x29d, 0x29d, 42261, 1 },
	{ 0x29e, 0x29e, 42258, 1 }, { 0x345, 0x345, 84, 1 },
	{ 0x371, 0x373, -1, 2 }, { 0x377, 0x377, -1, 1 },
	{ 0x37b, 0x37d, 130, 1 }, { 0x3ac, 0x3ac, -38, 1 },
	{ 0x3ad, 0x3af, -37, 1 }, { 0x3b1, 0x3c1, -32, 1 },
	{ 0x3c2, 0x3c2, -31, 1 }, { 0x3c3, 0x3cb, -32, 1 },
	{ 0x3cc, 0x3cc, -64, 1 }, { 0x3cd, 0x3ce, -63, 1 },
	{ 0x3d0, 0x3d0, -62, 1 }, { 0x3d1, 0x3d1, -57, 1 },
	{ 0x3d5, 0x3d5, -47, 1 }, { 0x3d6, 0x3d6, -54, 1 },
	{ 0x3d7, 0x3d7, -8, 1 }, { 0x3d9, 0x3ef, -1, 2 },
	{ 0x3f0, 0x3f0, -86, 1 }, { 0x3f1, 0x3f1, -80, 1 },
	{ 0x3f2, 0x3f2, 7, 1 }, { 0x3f3, 0x3f3, -116, 1 },
	{ 0x3f4, 0x3f4, -92, 1 }, { 0x3f5, 0x3f5, -96, 1 },
	{ 0x3f8, 0x3f8, -1, 1 }, { 0x3fb, 0x3fb, -1, 1 },
	{ 0x430, 0x44f, -32, 1 }, { 0x450, 0x45f, -80, 1 },
	{ 0x461, 0x481, -1, 2 }, { 0x48b, 0x4bf, -1, 2 },
	{ 0x4c2, 0x4ce, -1, 2 }, { 0x4cf, 0x4cf, -15, 1 },
	{ 0x4d1, 0x52f, -1, 2 }, { 0x561, 0x586, -48, 1 },
	{ 0x13f8, 0x13fd, -8, 1 }, { 0x1c80, 0x1c80, -6254, 1 },
	{ 0x1c81, 0x1c81, -6253, 1 }, { 0x1c82, 0x1c82, -6244, 1 },
	{ 0x1c83, 0x1c84, -6242, 1 }, { 0x1c85, 0x1c85, -6243, 1 },
	{ 0x1c86, 0x1c86, -6236, 1 }, { 0x1c87, 0x1c87, -6181, 1 },
	{ 0x1c88, 0x1c88, 35266, 1 }, { 0x1c90, 0x1cba, -3008, 1 },
	{ 0x1cbd, 0x1cbf, -3008, 1 }, { 0x1d79, 0x1d79, 35332, 1 },
	{ 0x1d7d, 0x1d7d, 3814, 1 }, { 0x1d8e, 0x1d8e, 35384, 1 },
	{ 0x1e01, 0x1e95, -1, 2 }, { 0x1e9b, 0x1e9b, -59, 1 },
	{ 0x1e9e, 0x1e9e, -7615, 1 }, { 0x1ea1, 0x1eff, -1, 2 },
	{ 0x1f00, 0x1f07, 8, 1 }, { 0x1f10, 0x1f15, 8, 1 },
	{ 0x1f20, 0x1f27, 8, 1 }, { 0x1f30, 0x1f37, 8, 1 },
	{ 0x1f40, 0x1f45, 8, 1 }, { 0x1f51, 0x1f57, 8, 2 },
	{ 0x1f60, 0x1f67, 8, 1 }, { 0x1f70, 0x1f71, 74, 1 },
	{ 0x1f72, 0x1f75, 86, 1 }, { 0x1f76, 0x1f77, 100, 1 },
	{ 0x1f78, 0x1f79, 128, 1 }, { 0x1f7a, 0x1f7b, 112, 1 },
	{ 0x1f7c, 0x1f7d, 126, 1 }, { 0x1f80, 0x1f87, 8, 1 },
	{ 0x1f90, 0x1f97, 8, 1 }, { 0x1fa0, 0x1fa7, 8, 1 },
	{ 0x1fb0, 0x1fb1, 8, 1 }, { 0x1fb3, 0x1fb3, 9, 1 },
	{ 0x1fbe, 0x1fbe, -7205, 1 }, { 0x1fc3, 0x1fc3, 9, 1 },
	{ 0x1fd0, 0x1fd1, 8, 1 }, { 0x1fe0, 0x1fe1, 8, 1 },
	{ 0x1fe5, 0x1fe5, 7, 1 }, { 0x1ff3, 0x1ff3, 9, 1 },
	{ 0x2126, 0x2126, -7549, 1 }, { 0x212a, 0x212a, -8415, 1 },
	{ 0x212b, 0x212b, -8294, 1 }, { 0x214e, 0x214e, -28, 1 },
	{ 0x2170, 0x217f, -16, 1 }, { 0x2184, 0x2184, -1, 1 },
	{ 0x24d0, 0x24e9, -26, 1 }, { 0x2c30, 0x2c5f, -48, 1 },
	{ 0x2c61, 0x2c61, -1, 1 }, { 0x2c65, 0x2c65, -10795, 1 },
	{ 0x2c66, 0x2c66, -10792, 1 }, { 0x2c68, 0x2c6c, -1, 2 },
	{ 0x2c73, 0x2c73, -1, 1 }, { 0x2c76, 0x2c76, -1, 1 },
	{ 0x2c81, 0x2ce3, -1, 2 }, { 0x2cec, 0x2cee, -1, 2 },
	{ 0x2cf3, 0x2cf3, -1, 1 }, { 0x2d00, 0x2d25, -7264, 1 },
	{ 0x2d27, 0x2d27, -7264, 1 }, { 0x2d2d, 0x2d2d, -7264, 1 },
	{ 0xa641, 0xa66d, -1, 2 }, { 0xa681, 0xa69b, -1, 2 },
	{ 0xa723, 0xa72f, -1, 2 }, { 0xa733, 0xa76f, -1, 2 },
	{ 0xa77a, 0xa77c, -1, 2 }, { 0xa77f, 0xa787, -1, 2 },
	{ 0xa78c, 0xa78c, -1, 1 }, { 0xa791, 0xa793, -1, 2 },
	{ 0xa794, 0xa794, 48, 1 }, { 0xa797, 0xa7a9, -1, 2 },
	{ 0xa7b5, 0xa7c3, -1, 2 }, { 0xa7c8, 0xa7ca, -1, 2 },
	{ 0xa7d1, 0xa7d1, -1, 1 }, { 0xa7d7, 0xa7d9, -1, 2 },
	{ 0xa7f6, 0xa7f6, -1, 1 }, { 0xab53, 0xab53, -928, 1 },
	{ 0xab70, 0xabbf, -38864, 1 }, { 0xff41, 0xff5a, -32, 1 },
	{ 0x10428, 0x1044f, -40, 1 }, { 0x104d8, 0x104fb, -40, 1 },
	{ 0x10597, 0x105a1, -39, 1 }, { 0x105a3, 0x105b1, -39, 1 },
	{ 0x105b3, 0x105b9, -39, 1 }, { 0x105bb, 0x105bc, -39, 1 },
	{ 0x10cc0, 0x10cf2, -64, 1 }, { 0x118c0, 0x118df, -32, 1 },
	{ 0x16e60, 0x16e7f, -32, 1 }, { 0x1e922, 0x1e943, -34, 1 },
};

#define NRUNS	(sizeof(casemap_runs) / sizeof(casemap_runs[0]))

static uint32_t
casemap_cp(uint32_t cp)
{
	size_t lo = 0, hi = NRUNS;

	if (cp < 0x80)
		return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
	/* The last run whose lo <= cp. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (casemap_runs[mid].lo <= cp)
			lo = mid;
		else
			hi = mid;
	}
	if (cp < casemap_runs[lo].lo || cp > casemap_runs[lo].hi ||
	    (cp - casemap_runs[lo].lo) % casemap_runs[lo].step != 0)
		return cp;
	return (uint32_t)((int32_t)cp + casemap_runs[lo].delta);
}

/*
 * One shortest-form UTF-8 sequence at s[*i] (no surrogates, nothing above
 * U+10FFFF): returns 0 and advances *i, or -1 and leaves *i.
 */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp_r)
{
	size_t p = *i, n;
	uint32_t cp, min;
	unsigned char c = s[p];

	if (c < 0x80) {
		n = 0;
		cp = c;
		min = 0;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return -1;
	if (len - p - 1 < n)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if ((s[p + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[p + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	*i = p + n + 1;
	return 0;
}

static void
utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		buf_putc(out, (char)cp);
		return;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, b, 4);
	}
}

void
imap_casemap_simple(const char *s, size_t len, struct buf *out, void *ctx)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	buf_reserve(out, len);
	while (i < len) {
		if (u[i] < 0x80) {
			/* The common case, without the table. */
			buf_putc(out, (char)(u[i] >= 'a' && u[i] <= 'z' ?
			    u[i] - 32 : u[i]));
			i++;
		} else if (utf8_next(u, len, &i, &cp) == 0)
			utf8_put(out, casemap_cp(cp));
		else
			buf_putc(out, (char)u[i++]);
	}
}

time_t
imap_sort_date(const struct imap_sortmsg *m)
{
	return m->sent_valid ? m->sent : m->internaldate;
}

/*
 * Merge sort.  Runs of SMALL are insertion-sorted in place, then merged
 * pairwise between v and a scratch array until one run covers all.
 */
#define SMALL	16

static void
insertion_sort(uint32_t *v, size_t n, imap_sort_cmp_fn *cmp, void *ctx)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;

		while (j > 0 && cmp(ctx, v[j - 1], x) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

void
imap_sort_indexes(uint32_t *v, size_t n, imap_sort_cmp_fn *cmp, void *ctx)
{
	uint32_t *tmp, *src, *dst, *t;

	for (size_t i = 0; i < n; i += SMALL)
		insertion_sort(v + i, n - i < SMALL ? n - i : SMALL, cmp, ctx);
	if (n <= SMALL)
		return;
	tmp = xreallocarray(NULL, n, sizeof(*tmp));
	src = v;
	dst = tmp;
	for (size_t w = SMALL; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = mid + w < n ? mid + w : n;
			size_t a = lo, b = mid, o = lo;

			while (a < mid && b < hi) {
				/* Ties take the left run: stable. */
				if (cmp(ctx, src[b], src[a]) < 0)
					dst[o++] = src[b++];
				else
					dst[o++] = src[a++];
			}
			while (a < mid)
				dst[o++] = src[a++];
			while (b < hi)
				dst[o++] = src[b++];
		}
		t = src;
		src = dst;
		dst = t;
		if (w > SIZE_MAX / 2)
			break;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
}

/* Keys of the string criteria: key i of criterion k in keys[k]. */
#define NSTRKEYS	6

struct sort_ctx {
	const struct imap_sortmsg	*msgs;
	const struct imap_sort_crit	*crit;
	size_t				 ncrit;
	struct buf			 arena;
	/* Per string key kind: offsets into arena, n + 1 of them. */
	size_t				*off[NSTRKEYS];
	/* Per criterion: which off[] it uses, or -1. */
	int				*slot;
};

static int
strkey_kind(enum imap_sort_key k)
{
	switch (k) {
	case IMAP_SORT_CC:
		return 0;
	case IMAP_SORT_FROM:
		return 1;
	case IMAP_SORT_SUBJECT:
		return 2;
	case IMAP_SORT_TO:
		return 3;
	case IMAP_SORT_DISPLAYFROM:
		return 4;
	case IMAP_SORT_DISPLAYTO:
		return 5;
	default:
		return -1;
	}
}

static const char *
strkey_value(const struct imap_sortmsg *m, int kind)
{
	switch (kind) {
	case 0:
		return m->cc;
	case 1:
		return m->from;
	case 2:
		return m->subject;
	case 3:
		return m->to;
	case 4:
		return m->display_from;
	default:
		return m->display_to;
	}
}

static int
cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_time(time_t a, time_t b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_key(const struct sort_ctx *c, int kind, uint32_t a, uint32_t b)
{
	const size_t *off = c->off[kind];
	size_t la = off[a + 1] - off[a], lb = off[b + 1] - off[b];
	int r;

	if (la == 0 || lb == 0)
		return la < lb ? -1 : la > lb;
	r = memcmp(c->arena.data + off[a], c->arena.data + off[b],
	    la < lb ? la : lb);
	if (r != 0)
		return r;
	return la < lb ? -1 : la > lb;
}

static int
sort_cmp(void *ctxp, uint32_t a, uint32_t b)
{
	const struct sort_ctx *c = ctxp;
	const struct imap_sortmsg *ma = &c->msgs[a], *mb = &c->msgs[b];
	int r;

	for (size_t k = 0; k < c->ncrit; k++) {
		switch (c->crit[k].key) {
		case IMAP_SORT_ARRIVAL:
			r = cmp_time(ma->internaldate, mb->internaldate);
			break;
		case IMAP_SORT_DATE:
			r = cmp_time(imap_sort_date(ma), imap_sort_date(mb));
			break;
		case IMAP_SORT_SIZE:
			r = cmp_num(ma->size, mb->size);
			break;
		default:
			r = cmp_key(c, c->slot[k], a, b);
			break;
		}
		if (r != 0)
			return c->crit[k].reverse ? -r : r;
	}
	r = cmp_num(ma->seq, mb->seq);
	return r != 0 ? r : cmp_num(a, b);
}

void
imap_sort(const struct imap_sortmsg *msgs, size_t n,
    const struct imap_sort_crit *crit, size_t ncrit,
    imap_casemap_fn *casemap, void *casemap_ctx, uint32_t *order)
{
	struct sort_ctx c;

	if (casemap == NULL)
		casemap = imap_casemap_simple;
	memset(&c, 0, sizeof(c));
	c.msgs = msgs;
	c.crit = crit;
	c.ncrit = ncrit;
	buf_init(&c.arena);
	c.slot = xreallocarray(NULL, ncrit + 1, sizeof(*c.slot));
	for (size_t k = 0; k < ncrit; k++) {
		int kind = strkey_kind(crit[k].key);

		c.slot[k] = kind;
		if (kind < 0 || c.off[kind] != NULL)
			continue;
		c.off[kind] = xreallocarray(NULL, n + 1, sizeof(size_t));
		for (size_t i = 0; i < n; i++) {
			const char *s = strkey_value(&msgs[i], kind);

			c.off[kind][i] = c.arena.len;
			if (s != NULL)
				casemap(s, strlen(s), &c.arena, casemap_ctx);
		}
		c.off[kind][n] = c.arena.len;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	imap_sort_indexes(order, n, sort_cmp, &c);
	for (int k = 0; k < NSTRKEYS; k++)
		free(c.off[k]);
	free(c.slot);
	buf_free(&c.arena);
}
