/*
 * test_buf - unit tests for core/buf: the empty buffer, appends that grow
 * it (byte by byte and in bulk, with NUL bytes inside), buf_printf output of
 * every length from 0 to 300 after every prefix length from 0 to 200 (so
 * every capacity boundary is hit exactly, one short and one over), consume,
 * truncate, steal, put_u64, reserve, and the size-overflow guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"

/* The invariants every buf must keep. */
static void
check_buf(const struct buf *b)
{
	if (b->data == NULL) {
		assert_int_equal(b->len, 0);
		assert_int_equal(b->cap, 0);
		assert_string_equal(buf_cstr(b), "");
		return;
	}
	assert_true(b->cap >= b->len + 1);
	assert_true(b->data[b->len] == '\0');
	assert_ptr_equal(buf_cstr(b), b->data);
}

static void
test_empty(void **state)
{
	struct buf a = BUF_INIT, b;

	check_buf(&a);
	assert_null(a.data);
	assert_string_equal(buf_cstr(&a), "");
	buf_reset(&a);
	check_buf(&a);
	buf_consume(&a, 0);
	buf_consume(&a, 10);
	check_buf(&a);
	buf_truncate(&a, 0);
	buf_truncate(&a, 5);
	check_buf(&a);
	buf_free(&a);
	buf_free(&a);			/* twice is fine */
	check_buf(&a);
	buf_free_secret(&a);
	memset(&b, 0xa5, sizeof(b));
	buf_init(&b);
	check_buf(&b);
	/* Appending nothing still leaves a valid C string. */
	buf_append(&b, "", 0);
	check_buf(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	buf_puts(&b, "");
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_append_growth(void **state)
{
	struct buf b = BUF_INIT;
	char *ref = malloc(20000);
	size_t reallocs = 0, lastcap = 0;

	assert_non_null(ref);
	for (size_t i = 0; i < 20000; i++) {
		char c = (char)(i * 31 + 7);	/* includes NUL bytes */

		ref[i] = c;
		if (i % 3 == 0)
			buf_putc(&b, c);
		else
			buf_append(&b, &c, 1);
		assert_int_equal(b.len, i + 1);
		check_buf(&b);
		if (b.cap != lastcap) {
			reallocs++;
			lastcap = b.cap;
		}
	}
	assert_memory_equal(b.data, ref, 20000);
	/* Geometric growth: a handful of reallocations, not one per byte. */
	assert_true(reallocs <= 12);
	buf_free(&b);

	/* Bulk appends across many sizes, checked against a reference. */
	for (size_t chunk = 1; chunk < 300; chunk += 7) {
		size_t off = 0;

		while (off + chunk <= 20000) {
			buf_append(&b, ref + off, chunk);
			off += chunk;
			check_buf(&b);
		}
		assert_int_equal(b.len, off);
		assert_memory_equal(b.data, ref, off);
		buf_free(&b);
	}
	/* One append much bigger than the first allocation. */
	buf_puts(&b, "x");
	buf_append(&b, ref, 20000);
	assert_int_equal(b.len, 20001);
	assert_true(b.data[0] == 'x');
	assert_memory_equal(b.data + 1, ref, 20000);
	check_buf(&b);
	buf_free(&b);
	free(ref);
}

static void
test_puts_putc(void **state)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "hello");
	buf_putc(&b, ' ');
	buf_puts(&b, "world");
	buf_putc(&b, '\0');
	buf_putc(&b, '!');
	assert_int_equal(b.len, 13);
	assert_memory_equal(b.data, "hello world\0!", 13);
	assert_string_equal(buf_cstr(&b), "hello world");
	check_buf(&b);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_non_null(b.data);	/* keeps its memory */
	check_buf(&b);
	buf_free(&b);
}

static void
test_reserve(void **state)
{
	struct buf b = BUF_INIT;
	char *p;

	buf_reserve(&b, 1000);
	assert_true(b.cap >= 1001);
	assert_int_equal(b.len, 0);
	/* No reallocation while the reserved room lasts. */
	p = b.data;
	for (int i = 0; i < 1000; i++)
		buf_putc(&b, 'a');
	assert_ptr_equal(b.data, p);
	check_buf(&b);
	/* Reserving what is already there changes nothing. */
	buf_reset(&b);
	buf_reserve(&b, 10);
	assert_ptr_equal(b.data, p);
	buf_free(&b);
}

/*
 * "NULL until first use; always NUL-terminated after": a buffer whose
 * first use is buf_reserve() must still read back as "".
 */
static void
test_reserve_terminates(void **state)
{
	static const size_t sizes[] = { 0, 1, 63, 64, 1000 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct buf b = BUF_INIT;
		bool ok;

		/* Dirty the heap so a fresh block is unlikely to start 0. */
		{
			char *junk = malloc(sizes[i] + 64);

			assert_non_null(junk);
			memset(junk, 'J', sizes[i] + 64);
			free(junk);
		}
		buf_reserve(&b, sizes[i]);
		ok = b.data != NULL && b.len == 0 && b.cap >= sizes[i] + 1 &&
		    memchr(b.data, '\0', 1) != NULL;
		buf_free(&b);		/* before asserting: no leak */
		assert_true(ok);
	}
}

static void
test_printf_basic(void **state)
{
	struct buf b = BUF_INIT;
	char big[1001];

	buf_printf(&b, "%s", "");
	assert_int_equal(b.len, 0);
	check_buf(&b);
	buf_printf(&b, "%d-%s-%llu", -42, "x", 18446744073709551615ULL);
	assert_string_equal(buf_cstr(&b), "-42-x-18446744073709551615");
	assert_int_equal(b.len, strlen("-42-x-18446744073709551615"));
	buf_printf(&b, "%c", 'Z');
	assert_string_equal(buf_cstr(&b), "-42-x-18446744073709551615Z");
	buf_free(&b);

	/* Longer than the first 64 bytes tried. */
	memset(big, 'q', 1000);
	big[1000] = '\0';
	buf_printf(&b, "<%s>", big);
	assert_int_equal(b.len, 1002);
	assert_true(b.data[0] == '<' && b.data[1001] == '>');
	assert_memory_equal(b.data + 1, big, 1000);
	check_buf(&b);
	buf_printf(&b, "%0200d", 7);
	assert_int_equal(b.len, 1202);
	assert_true(b.data[1201] == '7' && b.data[1002] == '0');
	check_buf(&b);
	buf_free(&b);

	/* Very long, in a buffer that already holds binary data. */
	buf_append(&b, "a\0b", 3);
	{
		size_t n = 100000;
		char *s = malloc(n + 1);

		assert_non_null(s);
		for (size_t i = 0; i < n; i++)
			s[i] = (char)('a' + i % 26);
		s[n] = '\0';
		buf_printf(&b, "%s|%zu", s, n);
		assert_int_equal(b.len, 3 + n + 7);
		assert_memory_equal(b.data, "a\0b", 3);
		assert_memory_equal(b.data + 3, s, n);
		assert_string_equal(b.data + 3 + n, "|100000");
		free(s);
	}
	check_buf(&b);
	buf_free(&b);
}

static void
vp(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/*
 * Every prefix length (which sets both len and cap) against every output
 * length, compared with snprintf: this covers output that fits exactly,
 * one byte short of fitting, and one byte over.
 */
static void
test_printf_boundaries(void **state)
{
	char out[301], pre[201];
	unsigned exact = 0, over = 0;

	for (size_t i = 0; i < 300; i++)
		out[i] = (char)('A' + i % 23);
	out[300] = '\0';
	for (size_t i = 0; i < 200; i++)
		pre[i] = (char)('a' + i % 19);
	pre[200] = '\0';
	for (size_t p = 0; p <= 200; p++) {
		for (size_t n = 0; n <= 300; n++) {
			struct buf b = BUF_INIT;
			size_t room;

			buf_append(&b, pre, p);
			/* What buf_vprintf will see after reserving 64. */
			buf_reserve(&b, 64);
			room = b.cap - b.len;
			if (n + 1 == room)
				exact++;
			if (n == room)
				over++;
			if ((n & 1) != 0)
				buf_printf(&b, "%.*s", (int)n, out);
			else
				vp(&b, "%s", out + 300 - n);
			assert_int_equal(b.len, p + n);
			assert_memory_equal(b.data, pre, p);
			if ((n & 1) != 0)
				assert_memory_equal(b.data + p, out, n);
			else
				assert_memory_equal(b.data + p, out + 300 - n,
				    n);
			check_buf(&b);
			buf_free(&b);
		}
	}
	/* The loop did hit both boundaries many times. */
	assert_true(exact > 100);
	assert_true(over > 100);
}

static void
test_consume(void **state)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "0123456789");
	buf_consume(&b, 0);
	assert_string_equal(buf_cstr(&b), "0123456789");
	buf_consume(&b, 3);
	assert_string_equal(buf_cstr(&b), "3456789");
	assert_int_equal(b.len, 7);
	check_buf(&b);
	buf_consume(&b, 6);
	assert_string_equal(buf_cstr(&b), "9");
	assert_int_equal(b.len, 1);
	buf_consume(&b, 1);		/* exactly everything */
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	check_buf(&b);
	buf_puts(&b, "abc");
	buf_consume(&b, 100);		/* more than there is */
	assert_int_equal(b.len, 0);
	check_buf(&b);
	/* Binary data moves intact. */
	buf_append(&b, "x\0y\0z", 5);
	buf_consume(&b, 1);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\0y\0z", 4);
	check_buf(&b);
	/* Appending after a consume continues at the end. */
	buf_puts(&b, "!");
	assert_memory_equal(b.data, "\0y\0z!", 5);
	buf_free(&b);
}

static void
test_truncate(void **state)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "abcdef");
	buf_truncate(&b, 6);		/* == len: nothing */
	assert_string_equal(buf_cstr(&b), "abcdef");
	buf_truncate(&b, 100);		/* > len: nothing */
	assert_string_equal(buf_cstr(&b), "abcdef");
	assert_int_equal(b.len, 6);
	buf_truncate(&b, 4);
	assert_string_equal(buf_cstr(&b), "abcd");
	assert_int_equal(b.len, 4);
	check_buf(&b);
	buf_truncate(&b, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(b.len, 0);
	check_buf(&b);
	buf_puts(&b, "xy");
	assert_string_equal(buf_cstr(&b), "xy");
	buf_free(&b);
}

static void
test_steal(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	/* From an empty buf: a heap "" the caller frees. */
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	check_buf(&b);

	buf_puts(&b, "take me");
	s = buf_steal(&b);
	assert_string_equal(s, "take me");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	check_buf(&b);
	/* The buf is usable again and independent of the stolen data. */
	buf_puts(&b, "again");
	assert_string_equal(s, "take me");
	assert_string_equal(buf_cstr(&b), "again");
	free(s);
	buf_free(&b);
}

static void
test_put_u64(void **state)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{ 0, "0" }, { 1, "1" }, { 9, "9" }, { 10, "10" }, { 99, "99" },
		{ 100, "100" }, { 4294967295ULL, "4294967295" },
		{ 4294967296ULL, "4294967296" },
		{ 9223372036854775807ULL, "9223372036854775807" },
		{ 10000000000000000000ULL, "10000000000000000000" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		buf_put_u64(&b, cases[i].v);
		assert_string_equal(buf_cstr(&b), cases[i].s);
		assert_int_equal(b.len, strlen(cases[i].s));
	}
	buf_reset(&b);
	buf_puts(&b, "UID ");
	buf_put_u64(&b, 42);
	buf_putc(&b, ' ');
	buf_put_u64(&b, 0);
	assert_string_equal(buf_cstr(&b), "UID 42 0");
	check_buf(&b);
	buf_free(&b);
}

static void
test_free_secret(void **state)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "hunter2");
	buf_free_secret(&b);
	check_buf(&b);
	assert_null(b.data);
	buf_puts(&b, "x");
	assert_string_equal(buf_cstr(&b), "x");
	buf_free(&b);
}

/* Runs fn in a child and returns its wait status. */
static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void
reserve_huge_empty(void)
{
	struct buf b = BUF_INIT;

	buf_reserve(&b, SIZE_MAX);
}

static void
reserve_huge_nonempty(void)
{
	static struct buf b = BUF_INIT;

	buf_puts(&b, "abc");
	buf_reserve(&b, SIZE_MAX - 3);
}

static void
test_reserve_overflow(void **state)
{
	int st;

	/* len + more + 1 would wrap: fatalx (exit 1), never a tiny buffer. */
	st = in_child(reserve_huge_empty);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	st = in_child(reserve_huge_nonempty);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append_growth),
		cmocka_unit_test(test_puts_putc),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_reserve_terminates),
		cmocka_unit_test(test_printf_basic),
		cmocka_unit_test(test_printf_boundaries),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_put_u64),
		cmocka_unit_test(test_free_secret),
		cmocka_unit_test(test_reserve_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
