/*
 * test_imap_utf7 - modified UTF-7 (RFC 3501 5.1.3) conversions, strictness
 * and canonical form, and mailbox name checks.
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
#include "imap/imap_utf7.h"

static const struct {
	const char	*utf7;
	const char	*utf8;
} pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&-", "&" },
	{ "a&-b&-&-", "a&b&&" },
	/* RFC 3501 5.1.3 example. */
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	  "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "&AMk-", "\xc3\x89" },
	{ "&AMQA1gDc-", "\xc3\x84\xc3\x96\xc3\x9c" },
	/* U+1F600 as a surrogate pair. */
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },
	{ "a&2D3eAA-b", "a\xf0\x9f\x98\x80" "b" },
	/* Controls and DEL are encoded. */
	{ "&AH8-", "\x7f" },
	{ "&ZeVnLIqeAAE-x", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\x01x" },
	{ "&ANw-n&AO8-c&APg-d&AOk- &- co",
	  "\xc3\x9cn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 & co" },
	{ " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
	  " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~" },
};

static void
test_pairs(void **state)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const char *u7 = pairs[i].utf7, *u8 = pairs[i].utf8;

		buf_reset(&b);
		if (imap_utf7_to_utf8(u7, strlen(u7), &b) != 0)
			fail_msg("decode %s", u7);
		assert_int_equal(b.len, strlen(u8));
		assert_memory_equal(buf_cstr(&b), u8, b.len);
		buf_reset(&b);
		if (imap_utf8_to_utf7(u8, strlen(u8), &b) != 0)
			fail_msg("encode %s", u7);
		assert_string_equal(buf_cstr(&b), u7);
		assert_true(imap_utf7_is_valid(u7, strlen(u7)));
	}
	/* Converters append. */
	buf_reset(&b);
	buf_puts(&b, "x/");
	assert_int_equal(imap_utf7_to_utf8("&AMk-", 5, &b), 0);
	assert_string_equal(buf_cstr(&b), "x/\xc3\x89");
	buf_free(&b);
}

static void
test_bad_utf7(void **state)
{
	static const char *bad[] = {
		"&",			/* not closed */
		"&AMk",			/* not closed */
		"a&",
		"&AGE-",		/* 'a' encoded */
		"&ACY-",		/* '&' encoded */
		"&ACA-",		/* SP encoded */
		"&AH4-",		/* '~' encoded */
		"&AMk-&AMk-",		/* two runs back to back */
		"&U,BTFw-&ZeVnLIqe-",
		"&AMl-",		/* padding bits not zero */
		"&AMkA-",		/* one base64 char too many */
		"&AMkAyQA-",		/* 10 leftover bits: one char too many */
		"&A-",			/* 6 bits: no code unit */
		"&AA-",			/* 12 bits */
		"&2D0-",		/* lone high surrogate */
		"&3gA-",		/* lone low surrogate */
		"&2D3YPQ-",		/* high + high */
		"&AAA-",		/* U+0000 */
		"&=-", "&/-", "&AM k-", "&AM.k-",	/* not base64 */
		"\x01", "\t", "a\x7f", "\x80", "\xc3\x89",	/* raw bytes */
		"&--",			/* fine "&-" then "-": valid! see below */
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		buf_puts(&b, "keep");
		if (imap_utf7_to_utf8(bad[i], strlen(bad[i]), &b) != -1)
			fail_msg("accepted %s", bad[i]);
		/* Restored to the length it had. */
		assert_string_equal(buf_cstr(&b), "keep");
		assert_false(imap_utf7_is_valid(bad[i], strlen(bad[i])));
	}
	/* "&--" is "&" followed by "-". */
	buf_reset(&b);
	assert_int_equal(imap_utf7_to_utf8("&--", 3, &b), 0);
	assert_string_equal(buf_cstr(&b), "&-");
	/* A run followed by "&-" is not two runs. */
	buf_reset(&b);
	assert_int_equal(imap_utf7_to_utf8("&AMk-&-", 7, &b), 0);
	assert_string_equal(buf_cstr(&b), "\xc3\x89&");
	/* NUL byte in input. */
	assert_false(imap_utf7_is_valid("a\0b", 3));
	buf_free(&b);
}

static void
test_bad_utf8(void **state)
{
	static const char *bad[] = {
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80", "\xff", "\xfe", "\x80", "\xbf",
		"\xe6\x97", "\xc3", "\xf0\x9f\x98", "a\xc3(", "\xe6(\x97",
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		if (imap_utf8_to_utf7(bad[i], strlen(bad[i]), &b) != -1)
			fail_msg("accepted utf-8 #%zu", i);
		assert_int_equal(b.len, 0);
		assert_false(imap_utf8_is_valid(bad[i], strlen(bad[i])));
	}
	/* U+0000 is refused even though it is valid UTF-8. */
	assert_int_equal(imap_utf8_to_utf7("a\0b", 3, &b), -1);
	/* Boundaries that are valid. */
	assert_true(imap_utf8_is_valid("\xc2\x80\xdf\xbf\xe0\xa0\x80"
	    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 18));
	buf_reset(&b);
	assert_int_equal(imap_utf8_to_utf7("\xf4\x8f\xbf\xbf", 4, &b), 0);
	assert_string_equal(buf_cstr(&b), "&2,,f,w-");
	buf_reset(&b);
	assert_int_equal(imap_utf7_to_utf8("&2,,f,w-", 8, &b), 0);
	assert_memory_equal(b.data, "\xf4\x8f\xbf\xbf", 4);
	buf_free(&b);
}

/*
 * Exhaustive over short strings of a small alphabet: whatever the decoder
 * accepts, the encoder reproduces byte for byte (one spelling per name),
 * and is_valid agrees with the decoder.
 */
static void
test_canonical_exhaustive(void **state)
{
	static const char alpha[] = "&-AMkl2D3e,+a";
	const size_t na = sizeof(alpha) - 1;
	char s[7];
	struct buf d = BUF_INIT, e = BUF_INIT;
	size_t accepted = 0;

	for (size_t len = 0; len <= 6; len++) {
		size_t total = 1;

		for (size_t k = 0; k < len; k++)
			total *= na;
		for (size_t x = 0; x < total; x++) {
			size_t y = x;
			int r;

			for (size_t k = 0; k < len; k++) {
				s[k] = alpha[y % na];
				y /= na;
			}
			buf_reset(&d);
			r = imap_utf7_to_utf8(s, len, &d);
			assert_int_equal(r == 0, imap_utf7_is_valid(s, len));
			if (r != 0)
				continue;
			accepted++;
			buf_reset(&e);
			assert_int_equal(imap_utf8_to_utf7(d.data == NULL ?
			    "" : d.data, d.len, &e), 0);
			assert_int_equal(e.len, len);
			assert_memory_equal(e.data == NULL ? "" : e.data, s,
			    len);
		}
	}
	assert_true(accepted > 1000);
	buf_free(&d);
	buf_free(&e);
}

/* Round trip of pseudo-random code point strings UTF-8 -> 7 -> 8. */
static void
test_roundtrip_random(void **state)
{
	struct buf u8 = BUF_INIT, u7 = BUF_INIT, back = BUF_INIT;
	uint32_t seed = 12345;

	for (int iter = 0; iter < 5000; iter++) {
		int n = (int)(seed % 12);

		buf_reset(&u8);
		for (int k = 0; k < n; k++) {
			uint32_t cp;
			char tmp[4];
			size_t l;

			seed = seed * 1103515245 + 12345;
			switch ((seed >> 16) % 4) {
			case 0:
				cp = 0x20 + (seed >> 8) % 95;
				break;
			case 1:
				cp = 1 + (seed >> 8) % 0x7ff;
				break;
			case 2:
				cp = 0x800 + (seed >> 4) % 0xf000;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0x4e00;
				break;
			default:
				cp = 0x10000 + (seed >> 2) % 0x100000;
				break;
			}
			if (cp < 0x80) {
				tmp[0] = (char)cp;
				l = 1;
			} else if (cp < 0x800) {
				tmp[0] = (char)(0xc0 | (cp >> 6));
				tmp[1] = (char)(0x80 | (cp & 0x3f));
				l = 2;
			} else if (cp < 0x10000) {
				tmp[0] = (char)(0xe0 | (cp >> 12));
				tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				tmp[2] = (char)(0x80 | (cp & 0x3f));
				l = 3;
			} else {
				tmp[0] = (char)(0xf0 | (cp >> 18));
				tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
				tmp[3] = (char)(0x80 | (cp & 0x3f));
				l = 4;
			}
			buf_append(&u8, tmp, l);
		}
		seed = seed * 1103515245 + 12345;
		buf_reset(&u7);
		buf_reset(&back);
		assert_int_equal(imap_utf8_to_utf7(buf_cstr(&u8), u8.len,
		    &u7), 0);
		assert_true(imap_utf7_is_valid(buf_cstr(&u7), u7.len));
		for (size_t k = 0; k < u7.len; k++)
			assert_true(u7.data[k] >= 0x20 && u7.data[k] <= 0x7e);
		assert_int_equal(imap_utf7_to_utf8(buf_cstr(&u7), u7.len,
		    &back), 0);
		assert_int_equal(back.len, u8.len);
		assert_memory_equal(buf_cstr(&back), buf_cstr(&u8), u8.len);
	}
	buf_free(&u8);
	buf_free(&u7);
	buf_free(&back);
}

static void
test_mailbox_check(void **state)
{
	static const char *ok[] = {
		"INBOX", "a", "a/b", "a/b/c", "Entw\xc3\xbcrfe",
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/x", "a.b", "..a", "a..",
		".a/b.", "Sent Items", "a b/ c ", "~peter/mail", "&",
		"1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16",
	};
	static const struct {
		const char	*name;
		const char	*err;
	} bad[] = {
		{ "", "Empty mailbox name" },
		{ "/", "Empty hierarchy level in mailbox name" },
		{ "/a", "Empty hierarchy level in mailbox name" },
		{ "a/", "Empty hierarchy level in mailbox name" },
		{ "a//b", "Empty hierarchy level in mailbox name" },
		{ ".", "\".\" and \"..\" are not valid mailbox name levels" },
		{ "..", "\".\" and \"..\" are not valid mailbox name levels" },
		{ "a/./b", "\".\" and \"..\" are not valid mailbox name "
		  "levels" },
		{ "a/..", "\".\" and \"..\" are not valid mailbox name levels" },
		{ "a\tb", "Control characters in mailbox name" },
		{ "a\rb", "Control characters in mailbox name" },
		{ "a\nb", "Control characters in mailbox name" },
		{ "a\x7f", "Control characters in mailbox name" },
		{ "\x1f", "Control characters in mailbox name" },
		{ "a\xc3", "Mailbox name is not valid UTF-8" },
		{ "\xed\xa0\x80", "Mailbox name is not valid UTF-8" },
		{ "\xc0\xaf", "Mailbox name is not valid UTF-8" },
		{ "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
		  "Mailbox hierarchy too deep" },
	};
	const char *err;
	char big[300];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		err = NULL;
		if (imap_mailbox_name_check(ok[i], strlen(ok[i]), '/',
		    &err) != 0)
			fail_msg("refused %s: %s", ok[i], err);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (imap_mailbox_name_check(bad[i].name, strlen(bad[i].name),
		    '/', &err) != -1)
			fail_msg("accepted #%zu", i);
		assert_string_equal(err, bad[i].err);
	}
	/* NUL byte. */
	assert_int_equal(imap_mailbox_name_check("a\0b", 3, '/', &err), -1);
	assert_string_equal(err, "Control characters in mailbox name");
	/* 255 bytes ok, 256 not. */
	memset(big, 'x', sizeof(big));
	assert_int_equal(imap_mailbox_name_check(big, 255, '/', &err), 0);
	assert_int_equal(imap_mailbox_name_check(big, 256, '/', &err), -1);
	assert_string_equal(err, "Mailbox name too long");
	/* Another separator. */
	assert_int_equal(imap_mailbox_name_check("a.b", 3, '.', &err), 0);
	assert_int_equal(imap_mailbox_name_check("a..b", 4, '.', &err), -1);
	assert_int_equal(imap_mailbox_name_check(".a", 2, '.', &err), -1);
	assert_int_equal(imap_mailbox_name_check("a/./b", 5, '.', &err), 0);
	assert_int_equal(imap_mailbox_name_check("a//b", 4, '.', &err), 0);
}

static void
test_mailbox_normalize(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "inbox", "INBOX" }, { "InBoX", "INBOX" }, { "INBOX", "INBOX" },
		{ "inbox/Sub", "INBOX/Sub" }, { "iNbOx/inbox", "INBOX/inbox" },
		{ "inboxes", "inboxes" }, { "inbox.x", "inbox.x" },
		{ "my/inbox", "my/inbox" }, { "inbo", "inbo" }, { "", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tmp[32];

		snprintf(tmp, sizeof(tmp), "%s", cases[i].in);
		imap_mailbox_name_normalize(tmp, strlen(tmp), '/');
		assert_string_equal(tmp, cases[i].out);
	}
	{
		char tmp[] = "inbox.x";

		imap_mailbox_name_normalize(tmp, 7, '.');
		assert_string_equal(tmp, "INBOX.x");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_bad_utf7),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_canonical_exhaustive),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_mailbox_check),
		cmocka_unit_test(test_mailbox_normalize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
