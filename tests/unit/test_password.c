/*
 * test_password - unit tests for auth/password and auth/crypt_region:
 * hashes made and checked with the kept region equal libxcrypt's own
 * (fresh memory), whatever earlier hashes left in the region, across
 * region sizes; the region is lent again, released on request, and left
 * alone by every other kind of mapping.
 */
#include <sys/mman.h>

#include <crypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypt_region.h"
#include "auth/password.h"

/* libxcrypt, outside enter/leave: a fresh mapping, as without us. */
static void
plain_crypt(const char *pw, const char *setting, char *out, size_t outlen)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));

	assert_non_null(cd);
	assert_non_null(crypt_rn(pw, setting, cd, sizeof(*cd)));
	assert_true(cd->output[0] == '$');
	snprintf(out, outlen, "%s", cd->output);
	free(cd);
}

static void
kept_crypt(const char *pw, const char *setting, char *out, size_t outlen)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));

	assert_non_null(cd);
	crypt_region_enter();
	assert_non_null(crypt_rn(pw, setting, cd, sizeof(*cd)));
	crypt_region_leave();
	assert_true(cd->output[0] == '$');
	snprintf(out, outlen, "%s", cd->output);
	free(cd);
}

static void
setting(unsigned cost, unsigned seed, char *out, size_t outlen)
{
	char rnd[16];

	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (char)(seed * 31 + i * 7);
	assert_non_null(crypt_gensalt_rn("$y$", cost, rnd, sizeof(rnd), out,
	    (int)outlen));
}

static void
test_same_as_libxcrypt(void **state)
{
	/* Costs 1-3: 1, 2 and 4 MiB regions, interleaved. */
	static const unsigned costs[] = { 1, 1, 2, 1, 3, 3, 2 };
	struct crypt_region_stats st0, st;
	char set[CRYPT_GENSALT_OUTPUT_SIZE], want[CRYPT_OUTPUT_SIZE];
	char got[CRYPT_OUTPUT_SIZE], pw[32];

	(void)state;
	crypt_region_release();
	crypt_region_stats(&st0);
	for (unsigned i = 0; i < sizeof(costs) / sizeof(costs[0]); i++) {
		setting(costs[i], i, set, sizeof(set));
		snprintf(pw, sizeof(pw), "password-%u", i);
		plain_crypt(pw, set, want, sizeof(want));
		kept_crypt(pw, set, got, sizeof(got));
		assert_string_equal(got, want);
		/* Again, over what this hash left in the region. */
		kept_crypt(pw, set, got, sizeof(got));
		assert_string_equal(got, want);
		/* A different password over it gives a different hash. */
		kept_crypt("other", set, got, sizeof(got));
		assert_string_not_equal(got, want);
	}
	crypt_region_stats(&st);
	/* A new mapping only where the size changed: 1 2 1 3 2 -> 5. */
	assert_int_equal(st.maps - st0.maps, 5);
	assert_int_equal(st.reuses - st0.reuses, 7 * 3 - 5);
	assert_true(st.kept >= 2 * 1024 * 1024);
	crypt_region_release();
	crypt_region_stats(&st);
	assert_int_equal(st.kept, 0);
}

static void
test_password_verify(void **state)
{
	struct crypt_region_stats st0, st;
	char *h;

	(void)state;
	/* The first check makes the dummy hash unknown users are checked on. */
	assert_false(password_verify("x", NULL));
	crypt_region_release();
	crypt_region_stats(&st0);
	h = password_hash("correct horse");
	assert_non_null(h);
	assert_memory_equal(h, "$y$", 3);
	assert_true(password_verify("correct horse", h));
	assert_false(password_verify("correct horsf", h));
	assert_false(password_verify("", h));
	assert_true(password_verify("correct horse", h));
	crypt_region_stats(&st);
	/* One 16 MiB region mapped for the hash, lent to the four checks. */
	assert_int_equal(st.maps - st0.maps, 1);
	assert_int_equal(st.reuses - st0.reuses, 4);
	assert_true(st.kept >= 16 * 1024 * 1024);
	password_idle();
	crypt_region_stats(&st);
	assert_int_equal(st.kept, 0);
	assert_true(password_verify("correct horse", h));
	crypt_region_stats(&st);
	assert_int_equal(st.maps - st0.maps, 2);
	password_idle();
	free(h);
}

static void
test_other_mappings(void **state)
{
	struct crypt_region_stats st0, st;
	const size_t big = 2 * 1024 * 1024;
	char *a, *b, *c;

	(void)state;
	crypt_region_release();
	crypt_region_stats(&st0);

	/* Not inside enter/leave: plain system calls. */
	a = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	assert_true(a != MAP_FAILED);
	a[0] = 1;
	assert_int_equal(munmap(a, big), 0);
	crypt_region_stats(&st);
	assert_int_equal(st.maps, st0.maps);

	crypt_region_enter();
	a = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	/* Lent already: a second one is the kernel's. */
	b = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	/* Small, shared, or with a hint: the kernel's. */
	c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	assert_true(a != MAP_FAILED && b != MAP_FAILED && c != MAP_FAILED);
	assert_true(a != b);
	memset(a, 'a', big);
	memset(b, 'b', big);
	c[0] = 'c';
	assert_int_equal(munmap(b, big), 0);
	assert_int_equal(munmap(c, 4096), 0);
	assert_int_equal(munmap(a, big), 0);
	crypt_region_leave();
	crypt_region_stats(&st);
	assert_int_equal(st.maps - st0.maps, 1);
	assert_int_equal(st.kept, big);

	/* Lent again: the same memory, as the last user left it. */
	crypt_region_enter();
	b = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	assert_ptr_equal(a, b);
	assert_int_equal(b[big - 1], 'a');
	assert_int_equal(munmap(b, big), 0);
	crypt_region_leave();

	/* Unmapping part of the kept region ends the keeping. */
	assert_int_equal(munmap(a + 4096, 4096), 0);
	crypt_region_stats(&st);
	assert_int_equal(st.kept, 0);

	/* Left mapped when libxcrypt returns: not kept. */
	crypt_region_enter();
	a = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	assert_true(a != MAP_FAILED);
	crypt_region_leave();
	crypt_region_stats(&st);
	assert_int_equal(st.kept, 0);
	assert_int_equal(munmap(a, big), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_libxcrypt),
		cmocka_unit_test(test_password_verify),
		cmocka_unit_test(test_other_mappings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
