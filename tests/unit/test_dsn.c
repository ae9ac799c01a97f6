/*
 * test_dsn - the delivery status notifications of queue/dsn.c: the
 * RFC 3464 shape, lines within RFC 5322's 998 even with the longest
 * address and reply text, and the RFC 6533 form for SMTPUTF8 mail and
 * UTF-8 addresses (global types, "utf-8;" address type, UTF-8 text).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/spool.h"
#include "queue/dsn.h"
#include "queue/smtp_client.h"
#include "store/store.h"

#define T0	1790000000

/* The DSN for the recipients of m, as text. */
static void
build(const struct queue_msg *m, enum dsn_kind kind, bool full,
    struct buf *out)
{
	struct spool sp;
	struct buf orig = BUF_INIT;
	size_t which[4];
	char chunk[4096];
	uint64_t off = 0;
	ssize_t n;

	for (size_t i = 0; i < m->nrcpts; i++)
		which[i] = i;
	buf_puts(&orig, "From: a@b.example\r\nSubject: hi\r\n\r\n");
	spool_init(&sp, "/tmp");
	assert_int_equal(dsn_build(&sp, kind, "mx.example.test", m, which,
	    m->nrcpts, &orig, full, T0 + 60), 0);
	while ((n = spool_pread(&sp, chunk, sizeof(chunk), off)) > 0) {
		buf_append(out, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	spool_free(&sp);
	buf_free(&orig);
}

static void
check_lines(const struct buf *b, bool ascii)
{
	size_t start = 0;

	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (ascii && c >= 0x80)
			fail_msg("8-bit byte at %zu", i);
		if (c == '\n') {
			assert_true(i > 0 && b->data[i - 1] == '\r');
			if (i - start - 1 > 998)
				fail_msg("a line of %zu bytes", i - start - 1);
			start = i + 1;
		}
	}
}

static void
test_ascii_long(void **state)
{
	char addr[300], reason[SMTPC_TEXT_MAX + 1];
	struct queue_rcpt r;
	struct queue_msg m;
	struct buf out = BUF_INIT;

	(void)state;
	/* The longest address SMTP takes, the longest reply kept. */
	memset(addr, 'a', 64);
	snprintf(addr + 64, sizeof(addr) - 64, "@%0190d.example", 0);
	memset(reason, 'x', SMTPC_TEXT_MAX);
	memcpy(reason, "550 5.1.1 ", 10);
	reason[SMTPC_TEXT_MAX] = '\0';
	memset(&r, 0, sizeof(r));
	r.addr = addr;
	r.state = QRCPT_FAILED;
	r.last_error = reason;
	r.remote = "mx.remote.example[192.0.2.1]";
	r.last_try = T0;
	memset(&m, 0, sizeof(m));
	memcpy(m.id, "0123456789abcdef", 17);
	m.sender = "s@example.test";
	m.created = T0;
	m.rcpts = &r;
	m.nrcpts = 1;
	assert_false(dsn_is_global(&m, (size_t[]){ 0 }, 1));
	build(&m, DSN_FAILED, false, &out);
	check_lines(&out, true);
	assert_non_null(strstr(buf_cstr(&out),
	    "report-type=delivery-status;"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Content-Type: message/delivery-status\r\n"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(buf_cstr(&out), "Final-Recipient: rfc822; "));
	assert_non_null(strstr(buf_cstr(&out), "Diagnostic-Code: smtp; 550 "));
	assert_non_null(strstr(buf_cstr(&out),
	    "Remote-MTA: dns; mx.remote.example\r\n"));
	buf_free(&out);
}

static void
test_global(void **state)
{
	struct queue_rcpt r[2];
	struct queue_msg m;
	struct buf out = BUF_INIT;

	(void)state;
	memset(r, 0, sizeof(r));
	r[0].addr = "\xc3\xbc@remote.example";	/* ü */
	r[0].last_error = "550 5.1.1 no such user";
	r[1].addr = "plain@remote.example";
	r[1].last_error = "550 5.1.1 no such user";
	memset(&m, 0, sizeof(m));
	memcpy(m.id, "0123456789abcdef", 17);
	m.sender = "s@example.test";
	m.created = T0;
	m.rcpts = r;
	m.nrcpts = 2;
	/* A UTF-8 recipient alone makes it global. */
	assert_true(dsn_is_global(&m, (size_t[]){ 0 }, 1));
	assert_false(dsn_is_global(&m, (size_t[]){ 1 }, 1));
	build(&m, DSN_FAILED, true, &out);
	check_lines(&out, false);
	assert_non_null(strstr(buf_cstr(&out),
	    "report-type=global-delivery-status;"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Content-Type: message/global-delivery-status\r\n"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Content-Type: message/global\r\n"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Final-Recipient: utf-8; \xc3\xbc@remote.example\r\n"));
	assert_non_null(strstr(buf_cstr(&out),
	    "Final-Recipient: rfc822; plain@remote.example\r\n"));
	buf_free(&out);

	/* An SMTPUTF8 message: global even with ASCII addresses. */
	m.smtputf8 = true;
	m.nrcpts = 1;
	m.rcpts = &r[1];
	assert_true(dsn_is_global(&m, (size_t[]){ 0 }, 1));
	build(&m, DSN_FAILED, false, &out);
	assert_non_null(strstr(buf_cstr(&out),
	    "Content-Type: message/global-headers\r\n"));
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_long),
		cmocka_unit_test(test_global),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
