/*
 * test_store_sts - the MTA-STS policy cache in posthorn.db (RFC 8461 5.1):
 * put, get, replace by domain (any case), and persistence across a
 * re-open; each test on a fresh data_dir under /tmp, removed after.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

struct fixture {
	char		 dir[64];
	char		 data[96];
	struct store	*st;
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/posthorn-sts-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->st, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	store_close(&f->st);
	rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static void
put(struct store *st, const char *domain, const char *id,
    const char *policy, time_t fetched, time_t expires)
{
	struct sts_cache_row r;
	const char *err = NULL;

	r.domain = (char *)domain;
	r.id = (char *)id;
	r.policy = (char *)policy;
	r.fetched = fetched;
	r.expires = expires;
	if (store_sts_put(st, &r, &err) != 0)
		fail_msg("store_sts_put: %s", err);
}

static void
test_put_get_replace(void **state)
{
	struct fixture *f = *state;
	struct sts_cache_row r;
	const char *err;

	assert_int_equal(store_sts_get(f->st, "example.test", &r), 0);
	assert_null(r.policy);
	put(f->st, "Example.TEST", "20260101", "version: STSv1\r\nmode: "
	    "enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n",
	    1795000000, 1795086400);
	put(f->st, "other.test", "1", "version: STSv1\nmode: none\n"
	    "max_age: 1\n", 10, 11);
	assert_int_equal(store_sts_get(f->st, "example.test", &r), 1);
	assert_string_equal(r.domain, "example.test");
	assert_string_equal(r.id, "20260101");
	assert_string_equal(r.policy, "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx.example.test\r\nmax_age: 86400\r\n");
	assert_true(r.fetched == 1795000000);
	assert_true(r.expires == 1795086400);
	store_sts_row_free(&r);
	assert_null(r.id);
	/* Any case finds it; a new id replaces the row. */
	put(f->st, "EXAMPLE.test", "2", "new", 1795000100, 1795003700);
	assert_int_equal(store_sts_get(f->st, "eXample.test", &r), 1);
	assert_string_equal(r.id, "2");
	assert_string_equal(r.policy, "new");
	assert_true(r.expires == 1795003700);
	store_sts_row_free(&r);
	assert_int_equal(store_sts_get(f->st, "other.test", &r), 1);
	assert_string_equal(r.id, "1");
	store_sts_row_free(&r);
	/* Kept across a re-open (posthorn.db, migration 6). */
	store_close(&f->st);
	assert_int_equal(store_open(f->data, &f->st, &err), 0);
	assert_int_equal(store_sts_get(f->st, "example.test", &r), 1);
	assert_string_equal(r.policy, "new");
	store_sts_row_free(&r);
	assert_int_equal(store_sts_get(f->st, "nosuch.test", &r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_replace, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
