/*
 * test_dns - decoding the rdata libunbound hands back (dns_answer_decode):
 * TXT character-strings joined (a length past the end stops the record),
 * MX preference and name, sorted, the null MX; names that are no host
 * names (any byte may be in a DNS label) left out; A/AAAA by length;
 * PTR (not the root); TLSA with its data copied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/dns.h"

#define RD(s)	((const unsigned char *)(s)), (sizeof(s) - 1)

struct rdset {
	const unsigned char *rd[8];
	int		 len[8];
	size_t		 n;
};

static void
add(struct rdset *s, const unsigned char *p, size_t len)
{
	s->rd[s->n] = p;
	s->len[s->n] = (int)len;
	s->n++;
}

static void
test_txt(void **state)
{
	struct rdset s = { 0 };
	struct dns_answer a;

	(void)state;
	add(&s, RD("\x07v=spf1 \x04-all"));
	add(&s, RD("\x03" "a\0b"));
	add(&s, RD("\x02ok\x09short"));		/* length past the end */
	add(&s, RD(""));
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_TXT, s.rd, s.len, s.n),
	    0);
	assert_int_equal(a.n, 4);
	assert_int_equal(a.txt_len[0], 11);
	assert_memory_equal(a.txt[0], "v=spf1 -all", 11);
	assert_int_equal(a.txt_len[1], 3);
	assert_memory_equal(a.txt[1], "a\0b", 3);
	assert_int_equal(a.txt_len[2], 2);
	assert_string_equal(a.txt[2], "ok");
	assert_int_equal(a.txt_len[3], 0);
	dns_answer_free(&a);
}

static void
test_mx(void **state)
{
	struct rdset s = { 0 };
	struct dns_answer a;

	(void)state;
	add(&s, RD("\x00\x14\x03MX2\x07" "Example\x03org\x00"));
	add(&s, RD("\x00\x0a\x03mx1\x07" "example\x03org\x00"));
	add(&s, RD("\x00\x05\x03" "a b\x07" "example\x00"));	/* space */
	add(&s, RD("\x00\x05\x04" "a.b\n\x00"));		/* dot, LF */
	add(&s, RD("\x00\x05\x02" "a\0\x00"));			/* NUL */
	add(&s, RD("\x00\x05\x40"));				/* label > 63 */
	add(&s, RD("\x00\x05\x05" "ab"));			/* truncated */
	add(&s, RD("\x00\x1e\x0bmx_3-backup\x00"));
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_MX, s.rd, s.len, s.n),
	    0);
	assert_int_equal(a.n, 3);
	assert_int_equal(a.mx[0].pref, 10);
	assert_string_equal(a.mx[0].name, "mx1.example.org");
	assert_int_equal(a.mx[1].pref, 20);
	assert_string_equal(a.mx[1].name, "mx2.example.org");
	assert_int_equal(a.mx[2].pref, 30);
	assert_string_equal(a.mx[2].name, "mx_3-backup");
	dns_answer_free(&a);

	/* RFC 7505: "0 ." is the null MX, an empty name. */
	memset(&s, 0, sizeof(s));
	add(&s, RD("\x00\x00\x00"));
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_MX, s.rd, s.len, s.n),
	    0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.mx[0].name, "");
	dns_answer_free(&a);
}

static void
test_addr_ptr_tlsa(void **state)
{
	struct rdset s = { 0 };
	struct dns_answer a;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *s6;
	char txt[64];

	(void)state;
	add(&s, RD("\xc0\x00\x02\x01"));
	add(&s, RD("\xc0\x00\x02"));		/* wrong length */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_A, s.rd, s.len, s.n), 0);
	assert_int_equal(a.n, 1);
	sin = (const void *)&a.addr[0];
	assert_int_equal(sin->sin_family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, txt,
	    sizeof(txt)), "192.0.2.1");
	dns_answer_free(&a);

	memset(&s, 0, sizeof(s));
	add(&s, RD("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"));
	add(&s, RD("\xc0\x00\x02\x01"));	/* an A record's length */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_AAAA, s.rd, s.len, s.n),
	    0);
	assert_int_equal(a.n, 1);
	s6 = (const void *)&a.addr[0];
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &s6->sin6_addr, txt,
	    sizeof(txt)), "2001:db8::1");
	dns_answer_free(&a);

	memset(&s, 0, sizeof(s));
	add(&s, RD("\x04mail\x07" "Example\x03org\x00"));
	add(&s, RD("\x04ma;l\x07" "example\x03org\x00"));
	add(&s, RD("\x00"));			/* the root */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_PTR, s.rd, s.len, s.n),
	    0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.names[0], "mail.example.org");
	dns_answer_free(&a);

	memset(&s, 0, sizeof(s));
	add(&s, RD("\x03\x01\x01\xaa\xbb"));
	add(&s, RD("\x03\x01\x01"));		/* no data */
	memset(&a, 0, sizeof(a));
	assert_int_equal(dns_answer_decode(&a, DNS_T_TLSA, s.rd, s.len, s.n),
	    0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.tlsa[0].usage, 3);
	assert_int_equal(a.tlsa[0].len, 2);
	assert_memory_equal(a.tlsa[0].data, "\xaa\xbb", 2);
	dns_answer_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_addr_ptr_tlsa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
