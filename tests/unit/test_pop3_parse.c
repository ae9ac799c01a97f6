/*
 * test_pop3_parse - POP3 command splitting, message numbers, TOP arguments
 * and response byte-stuffing fed whole and at every split point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "pop3/pop3_parse.h"

static void
test_lines(void **state)
{
	struct pop3_cmd c;

	assert_int_equal(pop3_parse_line("USER alice", 10, &c), 0);
	assert_int_equal(c.verb, POP3_USER);
	assert_int_equal(c.arg_len, 5);
	assert_memory_equal(c.arg, "alice", 5);
	assert_int_equal(pop3_parse_line("stat", 4, &c), 0);
	assert_int_equal(c.verb, POP3_STAT);
	assert_int_equal(c.arg_len, 0);
	assert_int_equal(pop3_parse_line("top 1 10", 8, &c), 0);
	assert_int_equal(c.verb, POP3_TOP);
	assert_int_equal(c.arg_len, 4);
	/* The password is the rest of the line, spaces included. */
	assert_int_equal(pop3_parse_line("PASS a b ", 9, &c), 0);
	assert_int_equal(c.arg_len, 4);
	assert_memory_equal(c.arg, "a b ", 4);
	assert_int_equal(pop3_parse_line("STATX", 5, &c), -1);
	assert_int_equal(c.verb, POP3_UNKNOWN);
	assert_int_equal(pop3_parse_line("", 0, &c), -1);
	assert_int_equal(pop3_parse_line(" STAT", 5, &c), -1);
	assert_int_equal(pop3_parse_line("ST\0T", 4, &c), -1);
	assert_int_equal(pop3_parse_line("RETR\0 1", 7, &c), -1);
}

static void
test_numbers(void **state)
{
	uint32_t m;
	uint64_t l;

	assert_int_equal(pop3_parse_msgnum("1", 1, 5), 1);
	assert_int_equal(pop3_parse_msgnum("5", 1, 5), 5);
	assert_int_equal(pop3_parse_msgnum("6", 1, 5), 0);
	assert_int_equal(pop3_parse_msgnum("0", 1, 5), 0);
	assert_int_equal(pop3_parse_msgnum("7", 1, 0), 0);
	assert_int_equal(pop3_parse_msgnum("-1", 2, 5), 0);
	assert_int_equal(pop3_parse_msgnum("", 0, 5), 0);
	assert_int_equal(pop3_parse_msgnum("99999999999999999999", 20,
	    UINT32_MAX), 0);
	assert_int_equal(pop3_parse_msgnum("4294967295", 10, UINT32_MAX),
	    UINT32_MAX);
	assert_int_equal(pop3_parse_top("2 10", 4, 3, &m, &l), 0);
	assert_int_equal(m, 2);
	assert_int_equal(l, 10);
	assert_int_equal(pop3_parse_top("2 0", 3, 3, &m, &l), 0);
	assert_int_equal(l, 0);
	assert_int_equal(pop3_parse_top("2", 1, 3, &m, &l), -1);
	assert_int_equal(pop3_parse_top("4 1", 3, 3, &m, &l), -1);
	assert_int_equal(pop3_parse_top("2 x", 3, 3, &m, &l), -1);
	assert_int_equal(pop3_parse_top("2 ", 2, 3, &m, &l), -1);
}

static void
stuff_all_splits(const char *in, const char *want)
{
	size_t n = strlen(in);

	for (size_t a = 0; a <= n; a++)
		for (size_t b = a; b <= n; b++) {
			struct pop3_stuff st;
			struct buf out = BUF_INIT;

			pop3_stuff_init(&st);
			pop3_stuff_feed(&st, in, a, &out);
			pop3_stuff_feed(&st, in + a, b - a, &out);
			pop3_stuff_feed(&st, in + b, n - b, &out);
			pop3_stuff_finish(&st, &out);
			assert_string_equal(buf_cstr(&out), want);
			buf_free(&out);
		}
}

static void
test_stuffing(void **state)
{
	stuff_all_splits("a\r\nb\r\n", "a\r\nb\r\n.\r\n");
	stuff_all_splits(".\r\n", "..\r\n.\r\n");
	stuff_all_splits("x\r\n..y\r\n.hidden\r\n", "x\r\n...y\r\n..hidden\r\n"
	    ".\r\n");
	/* A dot inside a line is not stuffed. */
	stuff_all_splits("a.b\r\n x.\r\n", "a.b\r\n x.\r\n.\r\n");
	/* No line end at the end: one is added before the terminator. */
	stuff_all_splits("last", "last\r\n.\r\n");
	stuff_all_splits(".", "..\r\n.\r\n");
	stuff_all_splits("", ".\r\n");
	/* A bare CR does not start a line. */
	stuff_all_splits("a\r.b\r\n", "a\r.b\r\n.\r\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_stuffing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
