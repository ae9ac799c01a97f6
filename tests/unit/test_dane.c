/*
 * test_dane - the TLSA usability filter of RFC 7672 3.1: DANE-TA(2) and
 * DANE-EE(3) with a known selector and matching type count; PKIX usages
 * and malformed records do not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "queue/dane.h"

static const unsigned char d32[32] = { 1, 2, 3 };
static const unsigned char d64[64] = { 4, 5, 6 };
static const unsigned char cert[3] = { 0x30, 0x01, 0x00 };

static struct dns_tlsa
rec(unsigned u, unsigned s, unsigned m, const unsigned char *d, size_t len)
{
	struct dns_tlsa t;

	t.usage = (uint8_t)u;
	t.selector = (uint8_t)s;
	t.mtype = (uint8_t)m;
	t.data = d;
	t.len = len;
	return t;
}

static void
test_usable(void **state)
{
	struct dns_tlsa t;

	(void)state;
	/* The common ones: 3 1 1, 2 0 1, 3 0 2, 2 1 0. */
	t = rec(3, 1, 1, d32, 32);
	assert_true(dane_tlsa_usable(&t));
	t = rec(2, 0, 1, d32, 32);
	assert_true(dane_tlsa_usable(&t));
	t = rec(3, 0, 2, d64, 64);
	assert_true(dane_tlsa_usable(&t));
	t = rec(2, 1, 0, cert, sizeof(cert));
	assert_true(dane_tlsa_usable(&t));
	/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable. */
	t = rec(0, 1, 1, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	t = rec(1, 1, 1, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	/* Unknown usage, selector, matching type. */
	t = rec(4, 1, 1, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	t = rec(255, 1, 1, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	t = rec(3, 2, 1, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	t = rec(3, 1, 3, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	/* Digest lengths must fit the matching type. */
	t = rec(3, 1, 1, d64, 64);
	assert_false(dane_tlsa_usable(&t));
	t = rec(3, 1, 2, d32, 32);
	assert_false(dane_tlsa_usable(&t));
	t = rec(3, 1, 1, d32, 31);
	assert_false(dane_tlsa_usable(&t));
	/* No data at all. */
	t = rec(3, 1, 0, cert, 0);
	assert_false(dane_tlsa_usable(&t));
	t = rec(3, 1, 1, NULL, 32);
	assert_false(dane_tlsa_usable(&t));
}

static void
test_filter(void **state)
{
	struct dns_tlsa in[5], *out = NULL;
	size_t n;

	(void)state;
	in[0] = rec(1, 1, 1, d32, 32);		/* PKIX-EE */
	in[1] = rec(3, 1, 1, d32, 32);
	in[2] = rec(0, 0, 1, d32, 32);		/* PKIX-TA */
	in[3] = rec(2, 0, 2, d64, 64);
	in[4] = rec(3, 1, 1, d32, 20);		/* short digest */
	n = dane_tlsa_filter(in, 5, &out);
	assert_int_equal(n, 2);
	assert_non_null(out);
	assert_int_equal(out[0].usage, 3);
	assert_int_equal(out[0].len, 32);
	/* Copies, not pointers into the answer. */
	assert_ptr_not_equal(out[0].data, d32);
	assert_memory_equal(out[0].data, d32, 32);
	assert_int_equal(out[1].usage, 2);
	assert_int_equal(out[1].selector, 0);
	assert_int_equal(out[1].mtype, 2);
	assert_memory_equal(out[1].data, d64, 64);
	dane_tlsa_free(out, n);

	/* Only unusable records: none, and nothing allocated. */
	n = dane_tlsa_filter(in, 1, &out);
	assert_int_equal(n, 0);
	assert_null(out);
	dane_tlsa_free(out, n);
	n = dane_tlsa_filter(NULL, 0, &out);
	assert_int_equal(n, 0);
	assert_null(out);

	assert_string_equal(dane_usage_name(3), "DANE-EE");
	assert_string_equal(dane_usage_name(2), "DANE-TA");
	assert_string_equal(dane_usage_name(0), "PKIX-TA");
	assert_string_equal(dane_usage_name(1), "PKIX-EE");
	assert_string_equal(dane_usage_name(9), "usage unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
