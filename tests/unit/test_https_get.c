/*
 * test_https_get - the HTTP/1.x response parser of the MTA-STS policy
 * fetch: Content-Length, chunked and close-delimited bodies, fed at every
 * split point; status codes, media types, size limits, malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue/https_get.h"

#define POLICY	"version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\n" \
		"max_age: 86400\r\n"

/*
 * Every prefix of resp before want_at bytes needs more; from want_at on
 * (without eof) it is complete with body.  want_at = 0: only at eof.
 */
static void
complete_at(const char *resp, size_t want_at, const char *body,
    const char *type)
{
	size_t len = strlen(resp);
	struct http_response r;
	const char *err = NULL;

	for (size_t n = 0; n <= len; n++) {
		int rc = http_response_parse(resp, n, false, 65536, &r, &err);

		if (want_at == 0 || n < want_at) {
			if (rc != 0)
				fail_msg("prefix %zu: rc %d (%s)", n, rc,
				    rc < 0 ? err : "");
			continue;
		}
		assert_int_equal(rc, 1);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body.len, strlen(body));
		assert_memory_equal(r.body.data, body, r.body.len);
		assert_string_equal(r.media_type, type);
		buf_free(&r.body);
	}
	assert_int_equal(http_response_parse(resp, len, true, 65536, &r, &err),
	    1);
	assert_int_equal(r.body.len, strlen(body));
	assert_memory_equal(r.body.data, body, r.body.len);
	buf_free(&r.body);
}

static void
test_content_length(void **state)
{
	char resp[1024];

	(void)state;
	snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nServer: x\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(POLICY), POLICY);
	complete_at(resp, strlen(resp), POLICY, "text/plain");
	/* Bytes after the body are not ours. */
	strcat(resp, "garbage");
	{
		struct http_response r;
		const char *err;

		assert_int_equal(http_response_parse(resp, strlen(resp), false,
		    65536, &r, &err), 1);
		assert_int_equal(r.body.len, strlen(POLICY));
		buf_free(&r.body);
	}
	/* LF-only header lines, an empty body. */
	complete_at("HTTP/1.0 200\nContent-Length: 0\nContent-Type: "
	    "Text/Plain\n\n", strlen("HTTP/1.0 200\nContent-Length: 0\n"
	    "Content-Type: Text/Plain\n\n"), "", "text/plain");
}

static void
test_chunked(void **state)
{
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "f\r\nversion: STSv1\r\r\n"
	    "1A;name=value\r\n\nmode: enforce\r\nmx: mx.exa\r\n"
	    "0\r\nX-Trailer: 1\r\n\r\n";

	(void)state;
	complete_at(resp, strlen(resp),
	    "version: STSv1\r\nmode: enforce\r\nmx: mx.exa", "text/plain");
}

static void
test_close_delimited(void **state)
{
	(void)state;
	complete_at("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
	    POLICY, 0, POLICY, "text/plain");
}

static void
bad(const char *resp, bool eof, size_t max, const char *want)
{
	struct http_response r;
	const char *err = NULL;

	assert_int_equal(http_response_parse(resp, strlen(resp), eof, max, &r,
	    &err), -1);
	assert_string_equal(err, want);
	assert_null(r.body.data);
}

static void
test_status(void **state)
{
	struct http_response r;
	const char *err;
	const char *moved = "HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n"
	    "Content-Length: 1000\r\n\r\n";

	(void)state;
	/* Other answers are complete once the headers are there. */
	assert_int_equal(http_response_parse(moved, strlen(moved), false,
	    65536, &r, &err), 1);
	assert_int_equal(r.status, 301);
	assert_int_equal(r.body.len, 0);
	buf_free(&r.body);
	assert_int_equal(http_response_parse("HTTP/1.1 404 Not Found\r\n\r\n",
	    26, false, 65536, &r, &err), 1);
	assert_int_equal(r.status, 404);
	buf_free(&r.body);
	bad("HTTP/2 200 OK\r\n\r\n", false, 100, "malformed HTTP status line");
	bad("HTTP/1.1 20 OK\r\n\r\n", false, 100, "malformed HTTP status line");
	bad("HTTP/1.1 200OK\r\n\r\n", false, 100, "malformed HTTP status line");
	bad("SSH-2.0-OpenSSH\r\n", false, 100, "malformed HTTP status line");
}

static void
test_errors(void **state)
{
	char *big;

	(void)state;
	bad("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", false, 100,
	    "body too large");
	bad("HTTP/1.1 200 OK\r\n\r\n0123456789", false, 5, "body too large");
	bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "6\r\n0123456789", false, 5, "body too large");
	bad("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", true, 100,
	    "truncated HTTP body");
	bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\n01234\r\n", true, 100, "truncated HTTP body");
	bad("HTTP/1.1 200 OK\r\nContent-Le", true, 100,
	    "truncated HTTP response");
	bad("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
	    "\r\n", false, 100, "conflicting Content-Length");
	bad("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", false, 100,
	    "bad Content-Length");
	bad("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 100,
	    "bad Content-Length");
	bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    false, 100, "unsupported Transfer-Encoding");
	bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "x\r\n", false, 100, "bad chunk size");
	bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nabX\r\n", false, 100, "bad chunk end");
	bad("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", false, 100,
	    "malformed HTTP header field");
	bad("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, 100,
	    "malformed HTTP header field");
	/* Headers are limited whether a line end came or not. */
	big = malloc(HTTP_HEADER_MAX + 100);
	assert_non_null(big);
	memset(big, 'a', HTTP_HEADER_MAX + 99);
	big[HTTP_HEADER_MAX + 99] = '\0';
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	bad(big, false, 100, "HTTP header too large");
	big[HTTP_HEADER_MAX + 50] = '\n';
	bad(big, false, 100, "HTTP header too large");
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_close_delimited),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
