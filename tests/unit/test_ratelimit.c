/*
 * test_ratelimit - per-minute limits per key, sliding window, forgetting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/ratelimit.h"

#define MIN	60000ULL
#define T0	(1000 * MIN)	/* a window boundary */

static void
test_limit(void **state)
{
	struct ratelimit *rl = ratelimit_new(3);

	(void)state;
	assert_false(ratelimit_hit(rl, "192.0.2.1", T0));
	assert_false(ratelimit_hit(rl, "192.0.2.1", T0 + 10));
	assert_false(ratelimit_hit(rl, "192.0.2.1", T0 + 20));
	assert_true(ratelimit_hit(rl, "192.0.2.1", T0 + 30));
	/* Refused events count: still over. */
	assert_true(ratelimit_hit(rl, "192.0.2.1", T0 + 40));
	/* Another key has its own count. */
	assert_false(ratelimit_hit(rl, "192.0.2.2", T0 + 50));
	assert_int_equal(ratelimit_keys(rl), 2);
	ratelimit_free(&rl);
	assert_null(rl);
}

/* A burst at the end of a minute still counts at the start of the next. */
static void
test_sliding(void **state)
{
	struct ratelimit *rl = ratelimit_new(10);

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_false(ratelimit_hit(rl, "k", T0 + MIN - 100 + i));
	/* 1 s into the next window: 10 * 59/60 (9) + 1, then + 2 > 10. */
	assert_false(ratelimit_hit(rl, "k", T0 + MIN + 1000));
	assert_true(ratelimit_hit(rl, "k", T0 + MIN + 1001));
	/* Half a minute on: 10 * 30/60 + 3 = 8, let through. */
	assert_false(ratelimit_hit(rl, "k", T0 + MIN + MIN / 2));
	/* Two windows later everything is forgotten. */
	for (int i = 0; i < 10; i++)
		assert_false(ratelimit_hit(rl, "k", T0 + 3 * MIN + i));
	assert_true(ratelimit_hit(rl, "k", T0 + 3 * MIN + 20));
	ratelimit_free(&rl);
}

static void
test_unlimited_and_forgetting(void **state)
{
	struct ratelimit *rl = ratelimit_new(0);
	char key[32];

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_false(ratelimit_hit(rl, "k", T0));
	assert_int_equal(ratelimit_keys(rl), 0);
	ratelimit_free(&rl);
	assert_false(ratelimit_hit(NULL, "k", T0));

	/* Many keys once, then time passes: the sweep forgets them. */
	rl = ratelimit_new(5);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "2001:db8::%x", i);
		assert_false(ratelimit_hit(rl, key, T0));
	}
	assert_int_equal(ratelimit_keys(rl), 5000);
	for (int i = 0; i < 4096; i++)
		(void)ratelimit_hit(rl, "other", T0 + 3 * MIN);
	assert_true(ratelimit_keys(rl) <= 1);
	ratelimit_free(&rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_sliding),
		cmocka_unit_test(test_unlimited_and_forgetting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
