/*
 * test_imap_seqset - sequence-set parsing (RFC 9051 section 9 examples),
 * star resolution, lookup, iteration and compact formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "imap/imap_seqset.h"

#define S(x)	x, sizeof(x) - 1

/* Format a set into a static string for comparisons. */
static const char *
fmt(const struct imap_seqset *set)
{
	static char out[4096];
	struct buf b = BUF_INIT;

	imap_seqset_format(set, &b);
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_free(&b);
	return out;
}

static void
check(const char *in, const char *expect_fmt)
{
	struct imap_seqset set;

	if (imap_seqset_parse(in, strlen(in), &set) != 0)
		fail_msg("refused %s", in);
	assert_string_equal(fmt(&set), expect_fmt);
	imap_seqset_free(&set);
}

static void
test_parse_ok(void **state)
{
	check("1", "1");
	check("4294967295", "4294967295");
	check("1,3:5,7:9", "1,3:5,7:9");
	check("5:3", "3:5");
	check("3:3", "3");
	/* Sorted and merged, overlaps and adjacency. */
	check("9,1,5", "1,5,9");
	check("1,2,3,4", "1:4");
	check("10:20,15:25,1:9", "1:25");
	check("4294967294,4294967295,1", "1,4294967294:4294967295");
	check("4294967295:1", "1:4294967295");
	check("7,7,7", "7");
	/* Star elements kept aside. */
	check("*", "*");
	check("*:*", "*");
	check("7:*", "7:*");
	check("*:7", "7:*");
	check("1,3:5,7:*", "1,3:5,7:*");
	check("2:*,9:*,1", "1,2:*,9:*");
}

static void
test_parse_bad(void **state)
{
	static const char *bad[] = {
		"", "0", "0:5", "5:0", "01", "1,", ",1", "1,,2", ":", "1:",
		":1", "1:2:3", "4294967296", "99999999999999999999", "1 ",
		" 1", "1, 2", "a", "1a", "*1", "1*", "**", "$1", "1,$", "$$",
		"-1", "+1", "1;2", "1.2", "1:*:2", "*,", "1:-2",
	};
	struct imap_seqset set;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_seqset_parse(bad[i], strlen(bad[i]), &set) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(set.count, 0);
		assert_null(set.ranges);
		imap_seqset_free(&set);
	}
	/* Embedded NUL. */
	assert_int_equal(imap_seqset_parse("1\0002", 3, &set), -1);
	/* The length is honoured: "12" seen as "1". */
	assert_int_equal(imap_seqset_parse("12", 1, &set), 0);
	assert_string_equal(fmt(&set), "1");
	imap_seqset_free(&set);
}

static void
test_searchres(void **state)
{
	struct imap_seqset set;

	assert_int_equal(imap_seqset_parse(S("$"), &set), 0);
	assert_true(set.searchres);
	assert_int_equal(set.count, 0);
	assert_false(set.has_star);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse(S("1"), &set), 0);
	assert_false(set.searchres);
	imap_seqset_free(&set);
}

static void
test_contains_star(void **state)
{
	struct imap_seqset set;

	/* RFC 9051: with 15 messages, 2,4:7,9,12:* is 2,4,5,6,7,9,12..15. */
	assert_int_equal(imap_seqset_parse(S("2,4:7,9,12:*"), &set), 0);
	{
		static const int in[] = { 2, 4, 5, 6, 7, 9, 12, 13, 14, 15 };
		size_t k = 0;

		for (uint32_t v = 0; v <= 20; v++) {
			bool want = k < 10 && (uint32_t)in[k] == v;

			if (want)
				k++;
			if (imap_seqset_contains(&set, v, 15) != want)
				fail_msg("value %u", v);
		}
	}
	/* "12:*" with only 10 messages is 10:12. */
	assert_true(imap_seqset_contains(&set, 10, 10));
	assert_true(imap_seqset_contains(&set, 12, 10));
	assert_false(imap_seqset_contains(&set, 13, 10));
	assert_false(imap_seqset_contains(&set, 8, 10));
	assert_int_equal(imap_seqset_max_value(&set), 12);
	imap_seqset_resolve(&set, 15);
	assert_false(set.has_star);
	assert_string_equal(fmt(&set), "2,4:7,9,12:15");
	assert_int_equal(imap_seqset_count(&set), 10);
	imap_seqset_free(&set);

	/* "*:4" with 2 messages is 2:4; "*" alone with 0 is nothing. */
	assert_int_equal(imap_seqset_parse(S("*:4"), &set), 0);
	imap_seqset_resolve(&set, 2);
	assert_string_equal(fmt(&set), "2:4");
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse(S("*"), &set), 0);
	assert_false(imap_seqset_contains(&set, 1, 0));
	assert_true(imap_seqset_contains(&set, 7, 7));
	assert_false(imap_seqset_contains(&set, 6, 7));
	imap_seqset_resolve(&set, 0);
	assert_string_equal(fmt(&set), "");
	assert_int_equal(imap_seqset_count(&set), 0);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse(S("5:*"), &set), 0);
	imap_seqset_resolve(&set, 0);
	assert_string_equal(fmt(&set), "1:5");
	imap_seqset_free(&set);
	/* Star merging with explicit ranges. */
	assert_int_equal(imap_seqset_parse(S("1:3,*"), &set), 0);
	imap_seqset_resolve(&set, 4);
	assert_string_equal(fmt(&set), "1:4");
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse(S("3:*,100:*"), &set), 0);
	imap_seqset_resolve(&set, 50);
	assert_string_equal(fmt(&set), "3:100");
	imap_seqset_free(&set);
	/* UID set over the full range. */
	assert_int_equal(imap_seqset_parse(S("1:*"), &set), 0);
	imap_seqset_resolve(&set, UINT32_MAX);
	assert_string_equal(fmt(&set), "1:4294967295");
	assert_int_equal(imap_seqset_count(&set), 4294967295ULL);
	assert_true(imap_seqset_contains(&set, UINT32_MAX, 0));
	assert_false(imap_seqset_contains(&set, 0, 0));
	imap_seqset_free(&set);
}

static void
test_iter(void **state)
{
	struct imap_seqset set;
	struct imap_seqset_iter it;
	uint32_t v, got[16];
	size_t n = 0;

	assert_int_equal(imap_seqset_parse(S("8,1:3,4294967294:4294967295"),
	    &set), 0);
	imap_seqset_iter_init(&it, &set);
	while (imap_seqset_iter_next(&it, &v))
		got[n++] = v;
	assert_int_equal(n, 6);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 2);
	assert_int_equal(got[2], 3);
	assert_int_equal(got[3], 8);
	assert_int_equal(got[4], 4294967294U);
	assert_int_equal(got[5], 4294967295U);
	assert_false(imap_seqset_iter_next(&it, &v));
	imap_seqset_free(&set);

	imap_seqset_iter_init(&it, &set);
	assert_false(imap_seqset_iter_next(&it, &v));
}

static void
test_add_range(void **state)
{
	struct imap_seqset set = IMAP_SEQSET_INIT;

	imap_seqset_add_range(&set, 5, 5);
	imap_seqset_add_range(&set, 6, 6);
	imap_seqset_add_range(&set, 9, 7);
	imap_seqset_add_range(&set, 20, 30);
	assert_string_equal(fmt(&set), "5:9,20:30");
	imap_seqset_add_range(&set, 1, 2);	/* out of order */
	assert_string_equal(fmt(&set), "1:2,5:9,20:30");
	imap_seqset_add_range(&set, 3, 4);
	assert_string_equal(fmt(&set), "1:9,20:30");
	imap_seqset_add_range(&set, 25, UINT32_MAX);
	imap_seqset_add_range(&set, UINT32_MAX, UINT32_MAX);
	assert_string_equal(fmt(&set), "1:9,20:4294967295");
	imap_seqset_free(&set);
}

static void
test_format_array(void **state)
{
	static const uint32_t a[] = { 1, 2, 3, 5, 7, 8, 10 };
	static const uint32_t dup[] = { 4, 4, 5, 5, 6, 9, 9 };
	static const uint32_t uns[] = { 5, 6, 1, 2, 9 };
	static const uint32_t top[] = { 4294967294U, 4294967295U,
	    4294967295U };
	struct buf b = BUF_INIT;

	imap_seqset_format_array(a, 7, &b);
	assert_string_equal(buf_cstr(&b), "1:3,5,7:8,10");
	buf_reset(&b);
	imap_seqset_format_array(dup, 7, &b);
	assert_string_equal(buf_cstr(&b), "4:6,9");
	buf_reset(&b);
	imap_seqset_format_array(uns, 5, &b);
	assert_string_equal(buf_cstr(&b), "5:6,1:2,9");
	buf_reset(&b);
	imap_seqset_format_array(top, 3, &b);
	assert_string_equal(buf_cstr(&b), "4294967294:4294967295");
	buf_reset(&b);
	imap_seqset_format_array(a, 0, &b);
	assert_int_equal(b.len, 0);
	imap_seqset_format_array(a + 6, 1, &b);
	assert_string_equal(buf_cstr(&b), "10");
	/* Appends. */
	imap_seqset_format_array(a, 1, &b);
	assert_string_equal(buf_cstr(&b), "101");
	buf_free(&b);
}

/* 100,000 single elements in reverse order: sorted, merged, fast. */
static void
test_large(void **state)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct imap_seqset set;
	uint32_t *arr;
	size_t n = 0;

	for (uint32_t v = 200000; v >= 2; v -= 2) {
		buf_put_u64(&in, v);
		if (v > 2)
			buf_putc(&in, ',');
	}
	assert_int_equal(imap_seqset_parse(in.data, in.len, &set), 0);
	assert_int_equal(set.count, 100000);
	assert_int_equal(set.ranges[0].lo, 2);
	assert_int_equal(set.ranges[99999].hi, 200000);
	assert_true(imap_seqset_contains(&set, 100000, 0));
	assert_false(imap_seqset_contains(&set, 100001, 0));
	assert_int_equal(imap_seqset_count(&set), 100000);
	/* Format back via the array formatter: same bytes as formatter. */
	arr = malloc(100000 * sizeof(*arr));
	for (uint32_t v = 2; v <= 200000; v += 2)
		arr[n++] = v;
	imap_seqset_format_array(arr, n, &out);
	assert_memory_equal(out.data, "2,4,6,8,10,", 11);
	{
		struct buf f = BUF_INIT;

		imap_seqset_format(&set, &f);
		assert_int_equal(f.len, out.len);
		assert_memory_equal(f.data, out.data, f.len);
		buf_free(&f);
	}
	free(arr);
	imap_seqset_free(&set);
	/* Adjacent elements collapse into one range. */
	buf_reset(&in);
	for (uint32_t v = 100000; v >= 1; v--) {
		buf_put_u64(&in, v);
		if (v > 1)
			buf_putc(&in, ',');
	}
	assert_int_equal(imap_seqset_parse(in.data, in.len, &set), 0);
	assert_int_equal(set.count, 1);
	assert_string_equal(fmt(&set), "1:100000");
	imap_seqset_free(&set);
	buf_free(&in);
	buf_free(&out);
}

/* Every prefix of a valid set parses or fails cleanly. */
static void
test_prefixes(void **state)
{
	const char *s = "1,3:5,7:*,4294967295";
	size_t n = strlen(s);

	for (size_t i = 0; i <= n; i++) {
		char *cp = malloc(i + 1);
		struct imap_seqset set;
		int r;

		memcpy(cp, s, i);
		r = imap_seqset_parse(cp, i, &set);
		/* Valid exactly when the prefix ends on a number or "*". */
		if (i == 0 || cp[i - 1] == ',' || cp[i - 1] == ':')
			assert_int_equal(r, -1);
		else
			assert_int_equal(r, 0);
		imap_seqset_free(&set);
		free(cp);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_searchres),
		cmocka_unit_test(test_contains_star),
		cmocka_unit_test(test_iter),
		cmocka_unit_test(test_add_range),
		cmocka_unit_test(test_format_array),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
