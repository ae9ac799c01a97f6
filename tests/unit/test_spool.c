/*
 * test_spool - unit tests for core/spool: a message kept in memory up to
 * exactly SPOOL_MEM_MAX bytes and moved to an unlinked file in tmpdir at
 * SPOOL_MEM_MAX + 1, positional reads across that boundary (and past the
 * end), spool_move and spool_reset, and write errors when tmpdir is
 * unusable (spool_write returns -1 and ->error keeps the errno).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/spool.h"

#define TOTAL	(SPOOL_MEM_MAX + 100000)

struct fixture {
	char	 dir[64];
	unsigned char *ref;	/* TOTAL bytes of pattern */
};

static unsigned char
pat(uint64_t i)
{
	return (unsigned char)((i * 131) ^ (i >> 8) ^ (i >> 16));
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_spool.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if ((f->ref = malloc(TOTAL)) == NULL)
		return -1;
	for (uint64_t i = 0; i < TOTAL; i++)
		f->ref[i] = pat(i);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* Fails (and so flags a leftover file) unless the dir is empty. */
	if (rmdir(f->dir) < 0) {
		fprintf(stderr, "rmdir %s: %s\n", f->dir, strerror(errno));
		return -1;
	}
	free(f->ref);
	free(f);
	return 0;
}

/* Number of directory entries other than . and .. */
static int
dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Reads [off, off+len) and compares with the reference pattern. */
static void
check_read(const struct spool *s, const unsigned char *ref, uint64_t off,
    size_t len)
{
	unsigned char *p = malloc(len + 1);
	size_t want;
	ssize_t r;

	assert_non_null(p);
	want = off >= s->size ? 0 : (len > s->size - off ?
	    (size_t)(s->size - off) : len);
	r = spool_pread(s, p, len, off);
	assert_int_equal(r, (ssize_t)want);
	if (want > 0)
		assert_memory_equal(p, ref + off, want);
	free(p);
}

static void
test_memory(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	unsigned char c;

	spool_init(&s, f->dir);
	assert_int_equal(s.fd, -1);
	assert_true(s.size == 0);
	assert_int_equal(s.error, 0);
	assert_ptr_equal(s.tmpdir, f->dir);
	/* Reading an empty spool gives 0, never touches memory. */
	assert_int_equal(spool_pread(&s, &c, 1, 0), 0);
	assert_int_equal(spool_write(&s, "", 0), 0);
	assert_true(s.size == 0);

	assert_int_equal(spool_write(&s, f->ref, 1000), 0);
	assert_int_equal(spool_write(&s, f->ref + 1000, 24), 0);
	assert_true(s.size == 1024);
	assert_int_equal(s.fd, -1);
	check_read(&s, f->ref, 0, 1024);
	check_read(&s, f->ref, 1, 10);
	check_read(&s, f->ref, 1000, 100);	/* clipped to 24 */
	check_read(&s, f->ref, 1023, 1);
	check_read(&s, f->ref, 1024, 1);	/* at the end: 0 */
	check_read(&s, f->ref, 5000, 10);	/* past the end: 0 */
	check_read(&s, f->ref, UINT64_MAX, 10);
	check_read(&s, f->ref, 7, 0);
	assert_int_equal(dir_entries(f->dir), 0);
	spool_free(&s);
	assert_int_equal(s.fd, -1);
	assert_true(s.size == 0);
	spool_free(&s);			/* twice is fine */
}

static void
test_threshold(void **state)
{
	struct fixture *f = *state;
	struct spool s;

	spool_init(&s, f->dir);
	/* Exactly SPOOL_MEM_MAX stays in memory. */
	assert_int_equal(spool_write(&s, f->ref, SPOOL_MEM_MAX - 1), 0);
	assert_int_equal(s.fd, -1);
	assert_int_equal(spool_write(&s, f->ref + SPOOL_MEM_MAX - 1, 1), 0);
	assert_int_equal(s.fd, -1);
	assert_true(s.size == SPOOL_MEM_MAX);
	assert_int_equal(s.mem.len, SPOOL_MEM_MAX);
	check_read(&s, f->ref, 0, SPOOL_MEM_MAX);
	/* One more byte moves it to a file and frees the memory. */
	assert_int_equal(spool_write(&s, f->ref + SPOOL_MEM_MAX, 1), 0);
	assert_true(s.fd >= 0);
	assert_null(s.mem.data);
	assert_int_equal(s.mem.len, 0);
	assert_true(s.size == SPOOL_MEM_MAX + 1);
	/* The file is unlinked: nothing visible in tmpdir. */
	assert_int_equal(dir_entries(f->dir), 0);
	check_read(&s, f->ref, 0, SPOOL_MEM_MAX + 1);
	check_read(&s, f->ref, SPOOL_MEM_MAX - 10, 20);	/* clipped: 11 */
	check_read(&s, f->ref, SPOOL_MEM_MAX, 1);
	check_read(&s, f->ref, SPOOL_MEM_MAX + 1, 1);
	/* Keep writing into the file in odd-sized pieces. */
	for (uint64_t off = SPOOL_MEM_MAX + 1; off < TOTAL;) {
		size_t n = TOTAL - off < 4093 ? (size_t)(TOTAL - off) : 4093;

		assert_int_equal(spool_write(&s, f->ref + off, n), 0);
		off += n;
	}
	assert_true(s.size == TOTAL);
	check_read(&s, f->ref, 0, TOTAL);
	/* Reads straddling the old boundary at every small offset. */
	for (uint64_t off = SPOOL_MEM_MAX - 40; off < SPOOL_MEM_MAX + 40;
	    off++)
		check_read(&s, f->ref, off, 64);
	check_read(&s, f->ref, TOTAL - 5, 100);
	check_read(&s, f->ref, TOTAL, 100);
	spool_free(&s);
	assert_int_equal(s.fd, -1);
}

static void
test_crossing_write(void **state)
{
	struct fixture *f = *state;
	struct spool s;

	/* A write that starts in memory and ends past the limit. */
	spool_init(&s, f->dir);
	assert_int_equal(spool_write(&s, f->ref, SPOOL_MEM_MAX - 5), 0);
	assert_int_equal(s.fd, -1);
	assert_int_equal(spool_write(&s, f->ref + SPOOL_MEM_MAX - 5, 10), 0);
	assert_true(s.fd >= 0);
	assert_true(s.size == SPOOL_MEM_MAX + 5);
	check_read(&s, f->ref, 0, SPOOL_MEM_MAX + 5);
	check_read(&s, f->ref, SPOOL_MEM_MAX - 7, 9);
	spool_free(&s);

	/* One big first write goes straight to the file. */
	spool_init(&s, f->dir);
	assert_int_equal(spool_write(&s, f->ref, TOTAL), 0);
	assert_true(s.fd >= 0);
	assert_null(s.mem.data);
	assert_true(s.size == TOTAL);
	check_read(&s, f->ref, 0, TOTAL);
	spool_free(&s);
}

static void
test_move_reset(void **state)
{
	struct fixture *f = *state;
	struct spool a, b;
	int fd;

	/* In memory. */
	spool_init(&a, f->dir);
	assert_int_equal(spool_write(&a, f->ref, 5000), 0);
	spool_move(&b, &a);
	assert_true(b.size == 5000);
	assert_int_equal(b.fd, -1);
	assert_ptr_equal(b.tmpdir, f->dir);
	check_read(&b, f->ref, 0, 5000);
	assert_true(a.size == 0);
	assert_int_equal(a.fd, -1);
	assert_null(a.mem.data);
	assert_ptr_equal(a.tmpdir, f->dir);
	/* The source is reusable and independent. */
	assert_int_equal(spool_write(&a, "xyz", 3), 0);
	check_read(&b, f->ref, 0, 5000);
	spool_free(&a);
	spool_free(&b);

	/* In a file. */
	spool_init(&a, f->dir);
	assert_int_equal(spool_write(&a, f->ref, SPOOL_MEM_MAX + 10), 0);
	fd = a.fd;
	assert_true(fd >= 0);
	spool_move(&b, &a);
	assert_int_equal(b.fd, fd);
	assert_int_equal(a.fd, -1);
	assert_true(a.size == 0);
	check_read(&b, f->ref, 0, SPOOL_MEM_MAX + 10);
	/* Freeing the (now empty) source does not close b's file. */
	spool_free(&a);
	check_read(&b, f->ref, SPOOL_MEM_MAX - 3, 10);
	assert_true(fcntl(fd, F_GETFD) >= 0);

	/* Reset closes the file, keeps tmpdir, clears everything. */
	spool_reset(&b);
	assert_int_equal(b.fd, -1);
	assert_true(b.size == 0);
	assert_int_equal(b.error, 0);
	assert_ptr_equal(b.tmpdir, f->dir);
	assert_true(fcntl(fd, F_GETFD) < 0 && errno == EBADF);
	assert_int_equal(spool_write(&b, f->ref, 10), 0);
	check_read(&b, f->ref, 0, 10);
	spool_free(&b);
}

static void
test_bad_tmpdir(void **state)
{
	struct fixture *f = *state;
	struct spool s;
	char missing[128], file[128];
	unsigned char back[16];
	int fd;

	/* A directory that does not exist. */
	snprintf(missing, sizeof(missing), "%s/does/not/exist", f->dir);
	spool_init(&s, missing);
	/* Small messages never need the directory. */
	assert_int_equal(spool_write(&s, f->ref, 100), 0);
	assert_int_equal(s.error, 0);
	assert_int_equal(spool_write(&s, f->ref + 100, SPOOL_MEM_MAX), -1);
	assert_int_equal(s.error, ENOENT);
	/* Nothing of the failed write was counted; what was there stays. */
	assert_true(s.size == 100);
	assert_int_equal(s.fd, -1);
	check_read(&s, f->ref, 0, 100);
	/* The error sticks: later writes fail too, even tiny ones. */
	assert_int_equal(spool_write(&s, "x", 1), -1);
	assert_int_equal(spool_write(&s, "", 0), -1);
	assert_int_equal(s.error, ENOENT);
	assert_true(s.size == 100);
	/* Reset clears the error (and the directory is still missing). */
	spool_reset(&s);
	assert_int_equal(s.error, 0);
	assert_ptr_equal(s.tmpdir, missing);
	assert_int_equal(spool_write(&s, "x", 1), 0);
	spool_free(&s);

	/* A first write that is too big fails at once. */
	spool_init(&s, missing);
	assert_int_equal(spool_write(&s, f->ref, SPOOL_MEM_MAX + 1), -1);
	assert_int_equal(s.error, ENOENT);
	assert_true(s.size == 0);
	spool_free(&s);

	/* tmpdir is a plain file. */
	snprintf(file, sizeof(file), "%s/plainfile", f->dir);
	fd = open(file, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	spool_init(&s, file);
	assert_int_equal(spool_write(&s, f->ref, SPOOL_MEM_MAX + 1), -1);
	assert_int_equal(s.error, ENOTDIR);
	spool_free(&s);
	assert_int_equal(unlink(file), 0);

	/* NULL tmpdir means /tmp. */
	spool_init(&s, NULL);
	assert_int_equal(spool_write(&s, f->ref, SPOOL_MEM_MAX + 1), 0);
	assert_true(s.fd >= 0);
	assert_int_equal(spool_pread(&s, back, sizeof(back),
	    SPOOL_MEM_MAX - 8), (ssize_t)sizeof(back) - 7);
	assert_memory_equal(back, f->ref + SPOOL_MEM_MAX - 8, 9);
	spool_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threshold, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crossing_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_move_reset, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_tmpdir, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
