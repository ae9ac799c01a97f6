/*
 * test_dkim - unit tests for dkim/: tag lists (valid and hostile), the
 * RFC 6376 3.4.5 canonicalization example, body canonicalization fed
 * whole, at every split point and byte by byte, header section splitting,
 * the RFC 8463 Appendix A message verified with the RFC's key records
 * (both signatures pass), signing with the RFC's Ed25519 key (the body
 * hash and the signature header are fixed because Ed25519 is
 * deterministic), sign-then-verify round trips for rsa-sha256 and
 * ed25519-sha256 and what must break them (changed header or body, an
 * added From, Cc or Subject, a removed line), x= expiry, l=, t=s, revoked
 * keys, wrong key types, DNS errors, more than DKIM_MAX_SIGS signatures,
 * malformed signatures (neutral, no DNS), freeing with lookups out, large
 * messages in a file spool, and the RFC 8601 result text.
 *
 * DNS is a table: the mock answers at once, or queues the lookups so the
 * test can see that they are all out together before answering them.
 */
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/spool.h"
#include "dkim/dkim.h"
#include "dns/dns.h"

/*
 * RFC 8463 Appendix A.
 */
static const char rfc8463_msg[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

/* The same message before signing. */
#define RFC8463_UNSIGNED \
    "From: Joe SixPack <joe@football.example.com>\r\n" \
    "To: Suzie Q <suzie@shopping.example.net>\r\n" \
    "Subject: Is dinner ready?\r\n" \
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n" \
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n" \
    "\r\n" \
    "Hi.\r\n" \
    "\r\n" \
    "We lost the game.  Are you hungry yet?\r\n" \
    "\r\n" \
    "Joe.\r\n"

#define RFC_ED_NAME	"brisbane._domainkey.football.example.com"
#define RFC_RSA_NAME	"test._domainkey.football.example.com"
#define RFC_ED_TXT \
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
/* Three strings in the zone, one text once joined. */
#define RFC_RSA_TXT \
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR" \
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC" \
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3" \
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
#define RFC_ED_SEED	"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
#define RFC_T		1528637909

/* A message with everything dkim_sign() picks, and one it does not. */
#define TEST_MSG \
    "Received: from a.example by b.example;\r\n" \
    " Fri, 1 May 2026 10:00:00 +0000\r\n" \
    "From: Ada <ada@example.com>\r\n" \
    "To: Grace <grace@example.org>\r\n" \
    "Subject: Hello   there\r\n" \
    "Date: Fri, 1 May 2026 10:00:00 +0000\r\n" \
    "Message-ID: <m1@example.com>\r\n" \
    "MIME-Version: 1.0\r\n" \
    "Content-Type: text/plain; charset=utf-8\r\n" \
    "List-Id: <list.example.com>\r\n" \
    "list-unsubscribe: <mailto:leave@example.com>\r\n" \
    "X-Mailer: test\r\n" \
    "\r\n" \
    "Hi.\r\n" \
    "\r\n" \
    "We lost the game.  Are you hungry yet?\r\n" \
    "\r\n" \
    "Joe.\r\n"

#define TEST_H	"From:From:To:To:Cc:Subject:Subject:Date:Message-ID:" \
    "MIME-Version:Content-Type:List-Id:list-unsubscribe"

/*
 * Helpers.
 */

static void
spool_put(struct spool *sp, const char *s, size_t len)
{
	spool_init(sp, "/tmp");
	assert_int_equal(spool_write(sp, s, len), 0);
}

/* s with the first `from` replaced by `to` (which must be there). */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *r;

	assert_non_null(p);
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	assert_non_null(r);
	memcpy(r, s, (size_t)(p - s));
	strcpy(r + (p - s), to);
	strcat(r, p + strlen(from));
	return r;
}

static char *
concat(const char *a, const char *b)
{
	char *r = malloc(strlen(a) + strlen(b) + 1);

	assert_non_null(r);
	strcpy(r, a);
	strcat(r, b);
	return r;
}

/* A table-driven resolver. */
struct mock_rec {
	const char	*name;
	enum dns_status	 status;
	const char	*txt[3];	/* NULL-terminated */
};

struct mock_q {
	char		 name[300];
	dns_cb		*cb;
	void		*ctx;
};

struct mock {
	const struct mock_rec *recs;
	size_t		 nrecs;
	bool		 deferred;	/* queue, answer in mock_flush() */
	size_t		 lookups;
	char		 asked[8][300];
	struct mock_q	 q[8];
	size_t		 nq;
};

static void
mock_answer(struct mock *m, const char *name, dns_cb *cb, void *ctx)
{
	struct dns_answer a;
	size_t lens[3];

	memset(&a, 0, sizeof(a));
	a.type = DNS_T_TXT;
	a.status = DNS_NXDOMAIN;
	for (size_t i = 0; i < m->nrecs; i++) {
		if (strcasecmp(m->recs[i].name, name) != 0)
			continue;
		a.status = m->recs[i].status;
		while (a.n < 3 && m->recs[i].txt[a.n] != NULL) {
			lens[a.n] = strlen(m->recs[i].txt[a.n]);
			a.n++;
		}
		a.txt = (const char **)m->recs[i].txt;
		a.txt_len = lens;
		if (a.status != DNS_OK)
			a.n = 0;
		if (a.status == DNS_TEMPFAIL)
			a.error = "timeout";
		break;
	}
	cb(ctx, &a);
}

static void
mock_lookup(void *impl, const char *name, int type, dns_cb *cb, void *ctx)
{
	struct mock *m = impl;

	assert_int_equal(type, DNS_T_TXT);
	if (m->lookups < 8)
		snprintf(m->asked[m->lookups], sizeof(m->asked[0]), "%s",
		    name);
	m->lookups++;
	if (!m->deferred) {
		mock_answer(m, name, cb, ctx);
		return;
	}
	assert_true(m->nq < 8);
	snprintf(m->q[m->nq].name, sizeof(m->q[0].name), "%s", name);
	m->q[m->nq].cb = cb;
	m->q[m->nq].ctx = ctx;
	m->nq++;
}

static void
mock_flush(struct mock *m)
{
	size_t n = m->nq;

	m->nq = 0;
	for (size_t i = 0; i < n; i++)
		mock_answer(m, m->q[i].name, m->q[i].cb, m->q[i].ctx);
}

struct outcome {
	int		 calls;
	struct dkim_results r;
	char		 text[4096];
};

static void
on_done(void *ctx, const struct dkim_results *r)
{
	struct outcome *o = ctx;
	struct buf b = BUF_INIT;

	o->calls++;
	o->r = *r;
	dkim_results_format(r, &b);
	snprintf(o->text, sizeof(o->text), "%s", buf_cstr(&b));
	buf_free(&b);
}

static void
verify_len(const char *msg, size_t len, struct mock *m, time_t now,
    struct outcome *o)
{
	struct dns_resolver res = { mock_lookup, m };
	struct dkim_verify *v;
	struct spool sp;

	memset(o, 0, sizeof(*o));
	spool_put(&sp, msg, len);
	v = dkim_verify_new(&res);
	dkim_verify_run(v, &sp, now, on_done, o);
	if (m->deferred) {
		assert_int_equal(o->calls, 0);
		mock_flush(m);
	}
	assert_int_equal(o->calls, 1);
	dkim_verify_free(&v);
	assert_null(v);
	spool_free(&sp);
	/* Nothing left on the thread's OpenSSL error queue (TLS reads it). */
	assert_int_equal(ERR_peek_error(), 0);
}

static void
verify(const char *msg, struct mock *m, time_t now, struct outcome *o)
{
	verify_len(msg, strlen(msg), m, now, o);
}

static const struct mock_rec rfc_recs[] = {
	{ RFC_ED_NAME, DNS_OK, { RFC_ED_TXT, NULL } },
	{ RFC_RSA_NAME, DNS_OK, { RFC_RSA_TXT, NULL } },
};

static void
mock_init(struct mock *m, const struct mock_rec *recs, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->recs = recs;
	m->nrecs = n;
}

/*
 * Keys made once for the whole run.
 */
struct keys {
	char		 dir[64];
	char		 rsa[96], ed[96], rfc_ed[96];
	struct buf	 rsa_txt, ed_txt;
	struct dkim_signer *rsa_sg, *ed_sg, *rfc_sg;
	struct mock_rec	 recs[2];
};

static struct keys K;

static void
write_rfc_key(const char *path)
{
	struct buf seed = BUF_INIT;
	EVP_PKEY *pkey;
	FILE *fp;

	assert_int_equal(base64_decode(RFC_ED_SEED, strlen(RFC_ED_SEED),
	    &seed), 0);
	assert_int_equal(seed.len, 32);
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    (unsigned char *)seed.data, seed.len);
	assert_non_null(pkey);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(fp);
	EVP_PKEY_free(pkey);
	buf_free(&seed);
}

static int
group_setup(void **state)
{
	const char *error = NULL;

	snprintf(K.dir, sizeof(K.dir), "/tmp/test_dkim.XXXXXX");
	if (mkdtemp(K.dir) == NULL)
		return -1;
	snprintf(K.rsa, sizeof(K.rsa), "%s/rsa.pem", K.dir);
	snprintf(K.ed, sizeof(K.ed), "%s/ed.pem", K.dir);
	snprintf(K.rfc_ed, sizeof(K.rfc_ed), "%s/rfc.pem", K.dir);
	if (dkim_key_generate(DKIM_RSA_SHA256, K.rsa, &K.rsa_txt,
	    &error) < 0 ||
	    dkim_key_generate(DKIM_ED25519_SHA256, K.ed, &K.ed_txt,
	    &error) < 0) {
		fprintf(stderr, "keygen: %s\n", error);
		return -1;
	}
	write_rfc_key(K.rfc_ed);
	K.rsa_sg = dkim_signer_load("Example.COM", "rsa1", K.rsa, &error);
	K.ed_sg = dkim_signer_load("example.com", "ed1", K.ed, &error);
	K.rfc_sg = dkim_signer_load("football.example.com", "brisbane",
	    K.rfc_ed, &error);
	if (K.rsa_sg == NULL || K.ed_sg == NULL || K.rfc_sg == NULL) {
		fprintf(stderr, "load: %s\n", error);
		return -1;
	}
	K.recs[0] = (struct mock_rec){ "rsa1._domainkey.example.com", DNS_OK,
	    { buf_cstr(&K.rsa_txt), NULL } };
	K.recs[1] = (struct mock_rec){ "ed1._domainkey.example.com", DNS_OK,
	    { buf_cstr(&K.ed_txt), NULL } };
	return 0;
}

static int
group_teardown(void **state)
{
	dkim_signer_free(&K.rsa_sg);
	dkim_signer_free(&K.ed_sg);
	dkim_signer_free(&K.rfc_sg);
	buf_free(&K.rsa_txt);
	buf_free(&K.ed_txt);
	unlink(K.rsa);
	unlink(K.ed);
	unlink(K.rfc_ed);
	return rmdir(K.dir);
}

/* msg signed by sg (dkim_sign at `now`), as a new string. */
static char *
sign(const struct dkim_signer *sg, const char *msg, time_t now)
{
	struct buf h = BUF_INIT;
	const char *error = NULL;
	struct spool sp;
	char *r;

	spool_put(&sp, msg, strlen(msg));
	if (dkim_sign(sg, &sp, now, &h, &error) < 0)
		fail_msg("dkim_sign: %s", error);
	spool_free(&sp);
	r = concat(buf_cstr(&h), msg);
	buf_free(&h);
	return r;
}

static void
md_cb(void *ctx, const void *p, size_t len)
{
	assert_int_equal(EVP_DigestUpdate(ctx, p, len), 1);
}

/*
 * A DKIM-Signature made from tag text, for what dkim_sign() never writes
 * (simple canonicalization, l=, x=, i=, other h= lists): `tags` is all
 * before bh=, h is the h= list again for the hashing.
 */
static char *
custom_sign(const struct dkim_signer *sg, const char *msg, enum dkim_canon hc,
    enum dkim_canon bc, uint64_t l, const char *tags, const char *h)
{
	struct dkim_name names[DKIM_H_MAX];
	struct buf field = BUF_INIT, data = BUF_INIT, out = BUF_INIT;
	struct dkim_body_canon c;
	struct dkim_hdrs hd;
	struct spool sp;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char bh[32];
	const char *error, *item;
	uint64_t body_off;
	size_t pos = 0, len, n = 0;
	char *r;

	spool_put(&sp, msg, strlen(msg));
	dkim_hdrs_init(&hd);
	assert_int_equal(dkim_read_header(&sp, &hd, &body_off, &error), 0);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	dkim_body_canon_init(&c, bc, l, md_cb, md);
	dkim_body_canon_feed(&c, msg + body_off, strlen(msg) - body_off);
	dkim_body_canon_finish(&c);
	assert_int_equal(EVP_DigestFinal_ex(md, bh, NULL), 1);
	buf_printf(&field, "DKIM-Signature: %s bh=", tags);
	base64_encode(bh, sizeof(bh), &field);
	buf_puts(&field, "; b=");
	while (dkim_tags_item(h, strlen(h), &pos, &item, &len) == 1) {
		names[n].p = item;
		names[n++].len = len;
	}
	dkim_hash_headers(&hd, hc, names, n, &data);
	dkim_header_canon(hc, field.data, field.len, &data);
	buf_truncate(&data, data.len - 2);
	assert_int_equal(dkim_signer_sign(sg, data.data, data.len, &field,
	    &error), 0);
	buf_puts(&field, "\r\n");
	buf_puts(&out, buf_cstr(&field));
	buf_puts(&out, msg);
	r = strdup(buf_cstr(&out));
	buf_free(&field);
	buf_free(&data);
	buf_free(&out);
	dkim_hdrs_free(&hd);
	spool_free(&sp);
	EVP_MD_CTX_free(md);
	return r;
}

/*
 * Tag lists.
 */

static void
test_tags_valid(void **state)
{
	const char *s = " v=1; a = rsa-sha256;\r\n\td=example.com ;"
	    "b= abc\r\n def ; h=from : to ;";
	struct dkim_taglist tl;
	const struct dkim_tag *t;
	const char *error = NULL;

	assert_int_equal(dkim_tags_parse(s, strlen(s), &tl, &error), 0);
	assert_int_equal(tl.n, 5);
	t = dkim_tags_find(&tl, "a");
	assert_non_null(t);
	assert_int_equal(t->value_len, 10);
	assert_memory_equal(t->value, "rsa-sha256", 10);
	t = dkim_tags_find(&tl, "b");
	assert_non_null(t);
	/* Inner FWS kept, outer FWS out of the value but in the span. */
	assert_int_equal(t->value_len, 9);
	assert_memory_equal(t->value, "abc\r\n def", 9);
	assert_int_equal(s[t->raw_start - 1], '=');
	assert_int_equal(s[t->raw_end], ';');
	assert_int_equal(t->raw_end - t->raw_start, 11);
	t = dkim_tags_find(&tl, "d");
	assert_memory_equal(t->value, "example.com", t->value_len);
	assert_null(dkim_tags_find(&tl, "V"));	/* case-sensitive */
	assert_null(dkim_tags_find(&tl, "x"));

	/* Empty values, a last tag without ';', names with digits and _. */
	s = "a=;b_2=x y";
	assert_int_equal(dkim_tags_parse(s, strlen(s), &tl, &error), 0);
	assert_int_equal(tl.n, 2);
	assert_int_equal(tl.tag[0].value_len, 0);
	assert_int_equal(tl.tag[1].name_len, 3);
	assert_int_equal(tl.tag[1].value_len, 3);
	assert_int_equal(tl.tag[1].raw_end, strlen(s));
	/* A bare LF folds too (messages stored with LF). */
	s = "a=1;\n b=2;\n";
	assert_int_equal(dkim_tags_parse(s, strlen(s) - 1, &tl, &error), 0);
	assert_int_equal(tl.n, 2);
	/* Exactly DKIM_TAGS_MAX tags. */
	{
		struct buf b = BUF_INIT;

		for (int i = 0; i < DKIM_TAGS_MAX; i++)
			buf_printf(&b, "t%d=%d;", i, i);
		assert_int_equal(dkim_tags_parse(b.data, b.len, &tl, &error),
		    0);
		assert_int_equal(tl.n, DKIM_TAGS_MAX);
		buf_printf(&b, "z=1");
		assert_int_equal(dkim_tags_parse(b.data, b.len, &tl, &error),
		    -1);
		assert_string_equal(error, "too many tags");
		buf_free(&b);
	}
}

static void
test_tags_malformed(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;	/* 0: strlen */
	} bad[] = {
		{ "", 0 }, { " \t ", 0 }, { ";", 0 }, { "a=1;;b=2", 0 },
		{ "a=1; ;", 0 }, { "=1", 0 }, { "1a=2", 0 }, { "_a=2", 0 },
		{ "a", 0 }, { "a;b=1", 0 }, { "a b=1", 0 }, { "a=1; a=2", 0 },
		{ "a=1\r\nb=2", 0 }, { "a=1\r\n", 0 }, { "a=1\r", 0 },
		{ "a=1\rb=2", 0 }, { "a=1\n", 0 }, { "a=\x01", 0 },
		{ "a=\x7f", 0 }, { "a=x\0y", 5 }, { "a=b=c;=", 0 },
		{ "a-b=1", 0 }, { "a=1;\r\n", 0 }, { "a=\r\n\r\n x", 0 },
		{ "é=1", 0 },
	};
	struct dkim_taglist tl;
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		char *copy = malloc(len + 1);

		/* An exact-size copy: ASan sees any read past the end. */
		memcpy(copy, bad[i].in, len);
		error = NULL;
		if (dkim_tags_parse(copy, len, &tl, &error) != -1)
			fail_msg("accepted: case %zu", i);
		assert_non_null(error);
		free(copy);
	}
	/* "a=b=c" is fine: '=' is a VALCHAR. */
	assert_int_equal(dkim_tags_parse("a=b=c", 5, &tl, &error), 0);

	/* Too long, before anything is looked at. */
	{
		char *big = malloc(DKIM_TAGLIST_MAX + 1);

		memset(big, 'x', DKIM_TAGLIST_MAX + 1);
		memcpy(big, "a=", 2);
		assert_int_equal(dkim_tags_parse(big, DKIM_TAGLIST_MAX + 1,
		    &tl, &error), -1);
		assert_string_equal(error, "tag list too long");
		assert_int_equal(dkim_tags_parse(big, DKIM_TAGLIST_MAX, &tl,
		    &error), 0);
		free(big);
	}
	assert_int_equal(dkim_tags_parse("a=1; a=1", 8, &tl, &error), -1);
	assert_string_equal(error, "duplicate tag");
}

static void
test_tags_item(void **state)
{
	const char *v = "from : to :\r\n subject:Date", *item;
	static const char *const want[] = { "from", "to", "subject", "Date" };
	size_t pos = 0, len, n = 0;

	while (dkim_tags_item(v, strlen(v), &pos, &item, &len) == 1) {
		assert_true(n < 4);
		assert_int_equal(len, strlen(want[n]));
		assert_memory_equal(item, want[n], len);
		n++;
	}
	assert_int_equal(n, 4);
	/* A trailing ':' leaves an empty last item; "" has none. */
	pos = n = 0;
	while (dkim_tags_item("a:", 2, &pos, &item, &len) == 1)
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(len, 0);
	pos = 0;
	assert_int_equal(dkim_tags_item("", 0, &pos, &item, &len), 0);
}

static void
test_b64_fws(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(dkim_b64_decode("YWJj\r\n ZGVm", 11, &b), 0);
	assert_string_equal(buf_cstr(&b), "abcdef");
	buf_reset(&b);
	assert_int_equal(dkim_b64_decode("YW Jj", 5, &b), 0);
	assert_string_equal(buf_cstr(&b), "abc");
	buf_reset(&b);
	assert_int_equal(dkim_b64_decode("YW!j", 4, &b), -1);
	assert_int_equal(dkim_b64_decode("YWJ", 3, &b), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/*
 * Canonicalization.
 */

static void
canon_fields(const char *hdr, enum dkim_canon c, struct buf *out)
{
	struct dkim_hdrs h;
	size_t used;

	dkim_hdrs_init(&h);
	assert_int_equal(dkim_hdrs_feed(&h, hdr, strlen(hdr), &used), 1);
	assert_int_equal(used, strlen(hdr));
	assert_int_equal(dkim_hdrs_finish(&h), 0);
	for (size_t i = 0; i < h.n; i++)
		dkim_header_canon(c, h.raw.data + h.f[i].off, h.f[i].len, out);
	dkim_hdrs_free(&h);
}

/* RFC 6376 3.4.5. */
static void
test_canon_rfc6376_example(void **state)
{
	const char *hdr = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n";
	struct buf b = BUF_INIT;

	canon_fields(hdr, DKIM_CANON_RELAXED, &b);
	assert_string_equal(buf_cstr(&b), "a:X\r\nb:Y Z\r\n");
	buf_reset(&b);
	canon_fields(hdr, DKIM_CANON_SIMPLE, &b);
	assert_string_equal(buf_cstr(&b), "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	buf_reset(&b);
	/* Empty values, white space only, upper-case names. */
	dkim_header_canon(DKIM_CANON_RELAXED, "X-Empty:", 8, &b);
	dkim_header_canon(DKIM_CANON_RELAXED, "SUBJECT: \t ", 11, &b);
	dkim_header_canon(DKIM_CANON_RELAXED, "To:a\r\n \r\n b", 11, &b);
	assert_string_equal(buf_cstr(&b), "x-empty:\r\nsubject:\r\nto:a b\r\n");
	buf_reset(&b);
	/* simple writes every line end as CRLF. */
	dkim_header_canon(DKIM_CANON_SIMPLE, "A: 1\n 2\r 3", 10, &b);
	assert_string_equal(buf_cstr(&b), "A: 1\r\n 2\r\n 3\r\n");
	buf_free(&b);
}

struct collect {
	struct buf	 b;
	size_t		 calls;
};

static void
collect_cb(void *ctx, const void *p, size_t len)
{
	struct collect *c = ctx;

	assert_true(len > 0);
	buf_append(&c->b, p, len);
	c->calls++;
}

static void
body_canon(enum dkim_canon canon, uint64_t limit, const char *in, size_t len,
    size_t split, bool bytewise, struct buf *out, uint64_t *total)
{
	struct dkim_body_canon bc;
	struct collect c = { BUF_INIT, 0 };

	dkim_body_canon_init(&bc, canon, limit, collect_cb, &c);
	if (bytewise) {
		for (size_t i = 0; i < len; i++) {
			char *one = malloc(1);

			*one = in[i];
			dkim_body_canon_feed(&bc, one, 1);
			free(one);
		}
	} else {
		dkim_body_canon_feed(&bc, in, split);
		dkim_body_canon_feed(&bc, in + split, len - split);
	}
	dkim_body_canon_finish(&bc);
	buf_reset(out);
	buf_append(out, c.b.data != NULL ? c.b.data : "", c.b.len);
	if (total != NULL)
		*total = bc.total;
	buf_free(&c.b);
}

static void
test_body_canon(void **state)
{
	static const struct {
		const char	*in, *simple, *relaxed;
	} cases[] = {
		/* RFC 6376 3.4.5 */
		{ " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n",
		    " C\r\nD E\r\n" },
		/* The empty body rule: CRLF when simple, nothing relaxed. */
		{ "", "\r\n", "" },
		{ "\r\n", "\r\n", "" },
		{ "\r\n\r\n\r\n", "\r\n", "" },
		/* No CRLF at the end: one is added. */
		{ "abc", "abc\r\n", "abc\r\n" },
		{ "abc  \t", "abc  \t\r\n", "abc\r\n" },
		/* Bare LF and bare CR end lines. */
		{ "a\n\nb\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
		{ "a\rb", "a\r\nb\r\n", "a\r\nb\r\n" },
		{ "a\r", "a\r\n", "a\r\n" },
		{ "a\r\r\n", "a\r\n", "a\r\n" },
		{ "a\r\r\nb", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n" },
		/* White space lines: content when simple, empty relaxed. */
		{ "  \r\n \t \r\n", "  \r\n \t \r\n", "" },
		{ "x\r\n  \r\ny", "x\r\n  \r\ny\r\n", "x\r\n\r\ny\r\n" },
		{ "a \r\n\r\n  \r\n", "a \r\n\r\n  \r\n", "a\r\n" },
		{ " a\t\tb \r\n", " a\t\tb \r\n", " a b\r\n" },
		{ "\r\n\r\nX", "\r\n\r\nX\r\n", "\r\n\r\nX\r\n" },
		{ "\t\r\n", "\t\r\n", "" },
		/* NUL is content. */
		{ "a\tb", "a\tb\r\n", "a b\r\n" },
	};
	struct buf out = BUF_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		for (size_t split = 0; split <= len; split++) {
			body_canon(DKIM_CANON_SIMPLE, UINT64_MAX, cases[i].in,
			    len, split, false, &out, NULL);
			if (strcmp(buf_cstr(&out), cases[i].simple) != 0)
				fail_msg("simple case %zu split %zu", i,
				    split);
			body_canon(DKIM_CANON_RELAXED, UINT64_MAX,
			    cases[i].in, len, split, false, &out, NULL);
			if (strcmp(buf_cstr(&out), cases[i].relaxed) != 0)
				fail_msg("relaxed case %zu split %zu", i,
				    split);
		}
		body_canon(DKIM_CANON_SIMPLE, UINT64_MAX, cases[i].in, len, 0,
		    true, &out, NULL);
		assert_string_equal(buf_cstr(&out), cases[i].simple);
		body_canon(DKIM_CANON_RELAXED, UINT64_MAX, cases[i].in, len,
		    0, true, &out, NULL);
		assert_string_equal(buf_cstr(&out), cases[i].relaxed);
	}
	/* NUL bytes are content. */
	body_canon(DKIM_CANON_RELAXED, UINT64_MAX, "a\0b", 3, 1, false, &out,
	    NULL);
	assert_int_equal(out.len, 5);
	assert_memory_equal(out.data, "a\0b\r\n", 5);
	buf_free(&out);
}

static void
test_body_canon_limit(void **state)
{
	struct buf out = BUF_INIT;
	uint64_t total;
	const char *in = "abc \r\ndef\r\n\r\n";

	for (size_t split = 0; split <= strlen(in); split++) {
		body_canon(DKIM_CANON_RELAXED, 5, in, strlen(in), split,
		    false, &out, &total);
		assert_string_equal(buf_cstr(&out), "abc\r\n");
		assert_int_equal(total, 10);
	}
	body_canon(DKIM_CANON_SIMPLE, 0, in, strlen(in), 3, false, &out,
	    &total);
	assert_int_equal(out.len, 0);
	assert_int_equal(total, 11);
	buf_free(&out);
}

static void
b64_sha256(const void *p, size_t len, struct buf *out)
{
	unsigned char md[32];

	assert_int_equal(EVP_Digest(p, len, md, NULL, EVP_sha256(), NULL), 1);
	buf_reset(out);
	base64_encode(md, sizeof(md), out);
}

/* Known body hashes: the empty bodies, and RFC 6376 / RFC 8463's body. */
static void
test_body_hashes(void **state)
{
	struct buf out = BUF_INIT, h = BUF_INIT;
	const char *body = "Hi.\r\n\r\nWe lost the game.  Are you hungry "
	    "yet?\r\n\r\nJoe.\r\n\r\n";

	body_canon(DKIM_CANON_SIMPLE, UINT64_MAX, "", 0, 0, false, &out,
	    NULL);
	b64_sha256(out.data, out.len, &h);
	assert_string_equal(buf_cstr(&h),
	    "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	body_canon(DKIM_CANON_RELAXED, UINT64_MAX, "", 0, 0, false, &out,
	    NULL);
	b64_sha256("", 0, &h);
	assert_int_equal(out.len, 0);
	assert_string_equal(buf_cstr(&h),
	    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	body_canon(DKIM_CANON_RELAXED, UINT64_MAX, body, strlen(body), 7,
	    false, &out, NULL);
	b64_sha256(out.data, out.len, &h);
	assert_string_equal(buf_cstr(&h),
	    "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	buf_free(&out);
	buf_free(&h);
}

/* A million empty lines cost counters, not memory, and come to nothing. */
static void
test_body_canon_many_empty_lines(void **state)
{
	struct dkim_body_canon bc;
	struct collect c = { BUF_INIT, 0 };
	char *crlf = malloc(2 * 1000);

	for (int i = 0; i < 1000; i++)
		memcpy(crlf + 2 * i, "\r\n", 2);
	dkim_body_canon_init(&bc, DKIM_CANON_SIMPLE, UINT64_MAX, collect_cb,
	    &c);
	dkim_body_canon_feed(&bc, "x", 1);
	for (int i = 0; i < 1000; i++)
		dkim_body_canon_feed(&bc, crlf, 2000);
	dkim_body_canon_finish(&bc);
	assert_string_equal(buf_cstr(&c.b), "x\r\n");
	free(crlf);
	buf_free(&c.b);
}

/*
 * The header section.
 */

static void
test_hdrs_split(void **state)
{
	static const struct {
		const char	*in;
		size_t		 used;		/* header bytes; 0: all */
		int		 ret;		/* feed() of the whole */
		size_t		 n;
		const char	*last;		/* the last field, raw */
	} cases[] = {
		{ "A: 1\r\nB: 2\r\n\tcont\r\n\r\nbody", 21, 1, 2,
		    "B: 2\r\n\tcont" },
		{ "A: 1\nB: 2\n cont\n\nbody\n", 17, 1, 2, "B: 2\n cont" },
		{ "A: 1\rB: 2\r\rbody", 11, 1, 2, "B: 2" },
		{ "A: 1\r\nB: 2", 0, 0, 2, "B: 2" },
		{ "A: 1\r\nB: 2\r\n", 0, 0, 2, "B: 2" },
		{ "A: 1\r\nB: 2\r", 0, 0, 2, "B: 2" },
		{ "\r\nbody", 2, 1, 0, NULL },
		{ "", 0, 0, 0, NULL },
		{ " lead\r\nA: 1\r\n\r\n", 15, 1, 2, "A: 1" },
		{ "no colon\r\n\r\n", 12, 1, 1, "no colon" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in;
		size_t len = strlen(in);
		size_t want = cases[i].used ? cases[i].used : len;

		for (size_t split = 0; split <= len; split++) {
			struct dkim_hdrs h;
			size_t used, total = 0;
			int r;

			dkim_hdrs_init(&h);
			r = dkim_hdrs_feed(&h, in, split, &used);
			total = used;
			if (r == 0) {
				r = dkim_hdrs_feed(&h, in + split,
				    len - split, &used);
				total += used;
			}
			if (r != cases[i].ret || total != want)
				fail_msg("case %zu split %zu: %d %zu", i,
				    split, r, total);
			assert_int_equal(dkim_hdrs_finish(&h), 0);
			assert_int_equal(h.n, cases[i].n);
			if (cases[i].last != NULL) {
				const struct dkim_field *f = &h.f[h.n - 1];

				assert_int_equal(f->len,
				    strlen(cases[i].last));
				assert_memory_equal(h.raw.data + f->off,
				    cases[i].last, f->len);
			}
			dkim_hdrs_free(&h);
		}
	}
	/* Name matching: trailing blanks before ':' are not the name. */
	{
		struct dkim_hdrs h;
		size_t used;

		dkim_hdrs_init(&h);
		dkim_hdrs_feed(&h, "From : x\r\nfrom:y\r\nX\r\n\r\n", 24,
		    &used);
		dkim_hdrs_finish(&h);
		assert_int_equal(h.n, 3);
		assert_true(dkim_hdrs_is(&h, 0, "FROM", 4));
		assert_true(dkim_hdrs_is(&h, 1, "From", 4));
		assert_false(dkim_hdrs_is(&h, 2, "X", 1));
		assert_false(h.f[2].has_colon);
		dkim_hdrs_free(&h);
	}
}

static void
test_hdrs_limits(void **state)
{
	struct dkim_hdrs h;
	struct buf b = BUF_INIT;
	size_t used;

	/* Bytes: refused as soon as the limit is passed. */
	buf_puts(&b, "X: ");
	while (b.len < DKIM_HDRS_MAX + 10)
		buf_putc(&b, 'a');
	dkim_hdrs_init(&h);
	assert_int_equal(dkim_hdrs_feed(&h, b.data, b.len, &used), -1);
	assert_true(h.raw.len <= DKIM_HDRS_MAX);
	dkim_hdrs_free(&h);
	/* Fields. */
	buf_reset(&b);
	for (int i = 0; i <= DKIM_FIELDS_MAX; i++)
		buf_puts(&b, "a:\r\n");
	buf_puts(&b, "\r\n");
	dkim_hdrs_init(&h);
	assert_int_equal(dkim_hdrs_feed(&h, b.data, b.len, &used), 1);
	assert_int_equal(dkim_hdrs_finish(&h), -1);
	dkim_hdrs_free(&h);
	buf_free(&b);
}

/*
 * RFC 8463 Appendix A.
 */

static void
test_rfc8463_verify(void **state)
{
	struct mock m;
	struct outcome o;

	mock_init(&m, rfc_recs, 2);
	verify(rfc8463_msg, &m, RFC_T + 86400, &o);
	assert_int_equal(o.r.n, 2);
	assert_int_equal(o.r.ignored, 0);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_int_equal(o.r.sig[1].result, DKIM_PASS);
	assert_string_equal(o.r.sig[0].d, "football.example.com");
	assert_string_equal(o.r.sig[0].s, "brisbane");
	assert_string_equal(o.r.sig[0].i, "@football.example.com");
	assert_int_equal(o.r.sig[0].alg, DKIM_ED25519_SHA256);
	assert_int_equal(o.r.sig[0].key_bits, 256);
	assert_int_equal(o.r.sig[0].t, RFC_T);
	assert_string_equal(o.r.sig[1].s, "test");
	assert_int_equal(o.r.sig[1].alg, DKIM_RSA_SHA256);
	assert_int_equal(o.r.sig[1].key_bits, 1024);
	assert_string_equal(o.text,
	    "dkim=pass header.d=football.example.com header.s=brisbane "
	    "header.a=ed25519-sha256 header.b=\"/gCrinpc\"; "
	    "dkim=pass header.d=football.example.com header.s=test "
	    "header.a=rsa-sha256 header.b=F45dVWDf");
	assert_int_equal(m.lookups, 2);
	assert_string_equal(m.asked[0], RFC_ED_NAME);
	assert_string_equal(m.asked[1], RFC_RSA_NAME);

	/* Asynchronous answers: both lookups are out before either one. */
	mock_init(&m, rfc_recs, 2);
	m.deferred = true;
	verify(rfc8463_msg, &m, RFC_T, &o);
	assert_int_equal(m.lookups, 2);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_int_equal(o.r.sig[1].result, DKIM_PASS);

	/* Stored with bare LFs, it still verifies. */
	{
		char *lf = strdup(rfc8463_msg), *w = lf;

		for (const char *p = rfc8463_msg; *p != '\0'; p++)
			if (*p != '\r')
				*w++ = *p;
		*w = '\0';
		mock_init(&m, rfc_recs, 2);
		verify(lf, &m, RFC_T, &o);
		assert_int_equal(o.r.sig[0].result, DKIM_PASS);
		assert_int_equal(o.r.sig[1].result, DKIM_PASS);
		free(lf);
	}
}

static void
test_rfc8463_tampered(void **state)
{
	static const struct {
		const char	*from, *to;
		enum dkim_reason reason;
	} edits[] = {
		{ "hungry", "angry", DKIM_R_BODY_HASH },
		{ "dinner", "lunch", DKIM_R_SIGNATURE },
		/* h= lists From twice: a From added anywhere is signed. */
		{ "From: Joe", "From: Mallory <m@evil.example>\r\nFrom: Joe",
		    DKIM_R_SIGNATURE },
		{ "Message-ID:", "Subject: Free money\r\nMessage-ID:",
		    DKIM_R_SIGNATURE },
		{ "\r\n\r\nHi.", "\r\nFrom: x@evil.example\r\n\r\nHi.",
		    DKIM_R_SIGNATURE },
		{ "Joe.\r\n", "", DKIM_R_BODY_HASH },
	};
	struct mock m;
	struct outcome o;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *msg = replace(rfc8463_msg, edits[i].from, edits[i].to);

		mock_init(&m, rfc_recs, 2);
		verify(msg, &m, RFC_T, &o);
		for (int k = 0; k < 2; k++) {
			assert_int_equal(o.r.sig[k].result, DKIM_FAIL);
			assert_int_equal(o.r.sig[k].reason, edits[i].reason);
		}
		free(msg);
	}
	/* What relaxed/relaxed forgives: an unsigned field, white space,
	 * empty lines at the end, names in other case. */
	{
		static const char *const ok[][2] = {
			{ "Message-ID:", "X-Spam: no\r\nMessage-ID:" },
			{ "Subject: Is dinner", "Subject:  Is \t dinner" },
			{ "Joe.\r\n", "Joe.\r\n\r\n\r\n" },
			{ "lost the game.", "lost  the\tgame." },
			{ "To: Suzie", "TO:Suzie" },
		};

		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			char *msg = replace(rfc8463_msg, ok[i][0], ok[i][1]);

			mock_init(&m, rfc_recs, 2);
			verify(msg, &m, RFC_T, &o);
			assert_int_equal(o.r.sig[0].result, DKIM_PASS);
			assert_int_equal(o.r.sig[1].result, DKIM_PASS);
			free(msg);
		}
	}
}

/*
 * The RFC's Ed25519 key signs deterministically: the whole field is
 * fixed.  (Cross-checked with dkimpy, see tests/unit/dkim_interop.py.)
 */
static const char rfc_key_signature[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; s=brisbane; t=1528637909; "
    "h=From:From:To:To:Cc:\r\n"
    " Subject:Subject:Date:Message-ID;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; "
    "b=aHfUC/k5+vn7mGmX3si5SujlTd\r\n"
    " oW98Dmxw9tq4rc/exS1EYayG6njYyCaHEaI1A8fNCgsVeatRhaP4GCbPgGAA==\r\n";

static void
test_rfc8463_sign(void **state)
{
	struct buf txt = BUF_INIT, h = BUF_INIT;
	struct mock m;
	struct outcome o;
	struct spool sp;
	const char *error;
	char *signed_msg;

	dkim_signer_dns_txt(K.rfc_sg, &txt);
	assert_string_equal(buf_cstr(&txt), RFC_ED_TXT);
	assert_int_equal(dkim_signer_alg(K.rfc_sg), DKIM_ED25519_SHA256);

	spool_put(&sp, RFC8463_UNSIGNED, strlen(RFC8463_UNSIGNED));
	assert_int_equal(dkim_sign(K.rfc_sg, &sp, RFC_T, &h, &error), 0);
	spool_free(&sp);
	assert_string_equal(buf_cstr(&h), rfc_key_signature);

	signed_msg = concat(buf_cstr(&h), RFC8463_UNSIGNED);
	mock_init(&m, rfc_recs, 2);
	verify(signed_msg, &m, RFC_T, &o);
	assert_int_equal(o.r.n, 1);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	free(signed_msg);
	buf_free(&txt);
	buf_free(&h);
}

/*
 * Round trips with generated keys.
 */

static void
check_folding(const char *field)
{
	const char *line = field, *eol;

	assert_true(strncmp(field, "DKIM-Signature: v=1; a=", 23) == 0);
	while ((eol = strstr(line, "\r\n")) != NULL) {
		assert_true(eol - line <= 78);
		if (line != field)
			assert_int_equal(*line, ' ');
		line = eol + 2;
	}
	assert_int_equal(*line, '\0');	/* ends in CRLF */
}

static void
roundtrip(const struct dkim_signer *sg, const char *alg)
{
	struct mock m;
	struct outcome o;
	char *msg = sign(sg, TEST_MSG, 1777777777), *end;
	struct dkim_taglist tl;
	const struct dkim_tag *t;
	const char *error;

	/* The field: folded, the tags we promise. */
	end = strstr(msg, "\r\nReceived:");
	assert_non_null(end);
	end += 2;
	*end = '\0';
	check_folding(msg);
	{
		char *unfolded = strdup(msg + 15), *w = unfolded;

		for (const char *p = msg + 15; *p != '\0'; p++)
			if (*p != '\r' && *p != '\n')
				*w++ = *p;
		*w = '\0';
		assert_int_equal(dkim_tags_parse(unfolded, strlen(unfolded),
		    &tl, &error), 0);
		t = dkim_tags_find(&tl, "a");
		assert_int_equal(t->value_len, strlen(alg));
		assert_memory_equal(t->value, alg, t->value_len);
		t = dkim_tags_find(&tl, "h");
		/* Folding put single spaces after some colons. */
		{
			char h[512];
			size_t n = 0;

			for (size_t i = 0; i < t->value_len; i++)
				if (t->value[i] != ' ')
					h[n++] = t->value[i];
			h[n] = '\0';
			assert_string_equal(h, TEST_H);
		}
		t = dkim_tags_find(&tl, "t");
		assert_memory_equal(t->value, "1777777777", 10);
		assert_null(dkim_tags_find(&tl, "l"));
		assert_null(dkim_tags_find(&tl, "x"));
		t = dkim_tags_find(&tl, "d");
		assert_memory_equal(t->value, "example.com;", t->value_len + 1);
		free(unfolded);
	}
	*end = 'R';

	mock_init(&m, K.recs, 2);
	verify(msg, &m, 1777777777, &o);
	assert_int_equal(o.r.n, 1);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_string_equal(o.r.sig[0].d, "example.com");
	assert_string_equal(o.r.sig[0].i, "");
	assert_int_equal(m.lookups, 1);

	/* What must break it. */
	{
		static const struct {
			const char	*from, *to;
			enum dkim_reason reason;
		} edits[] = {
			{ "Subject: Hello", "Subject: Hullo",
			    DKIM_R_SIGNATURE },
			{ "hungry", "angry", DKIM_R_BODY_HASH },
			{ "Joe.\r\n", "", DKIM_R_BODY_HASH },
			{ "Hi.\r\n", "Hi!\r\n", DKIM_R_BODY_HASH },
			/* Additions of oversigned fields, above or below. */
			{ "Received:", "From: Eve <eve@evil.example>\r\n"
			    "Received:", DKIM_R_SIGNATURE },
			{ "X-Mailer:", "From: Eve <eve@evil.example>\r\n"
			    "X-Mailer:", DKIM_R_SIGNATURE },
			{ "X-Mailer:", "Cc: eve@evil.example\r\nX-Mailer:",
			    DKIM_R_SIGNATURE },
			{ "X-Mailer:", "To: eve@evil.example\r\nX-Mailer:",
			    DKIM_R_SIGNATURE },
			{ "X-Mailer:", "Subject: Urgent\r\nX-Mailer:",
			    DKIM_R_SIGNATURE },
			{ "List-Id: <list", "List-Id: <other",
			    DKIM_R_SIGNATURE },
			{ "Date: Fri", "Date: Sat", DKIM_R_SIGNATURE },
			{ "d=example.com", "d=example.org",
			    DKIM_R_KEY_MISSING },
		};

		for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]);
		    i++) {
			char *bad = replace(msg, edits[i].from, edits[i].to);

			mock_init(&m, K.recs, 2);
			verify(bad, &m, 1777777777, &o);
			if (o.r.sig[0].reason != edits[i].reason)
				fail_msg("%s edit %zu: %s", alg, i, o.text);
			free(bad);
		}
	}
	/* What may change: unsigned fields, Received added on the way. */
	{
		char *ok = replace(msg, "X-Mailer: test", "X-Mailer: other");
		char *ok2 = concat("Received: from c by d; Sat, 2 May 2026 "
		    "10:00:00 +0000\r\n", ok);

		mock_init(&m, K.recs, 2);
		verify(ok2, &m, 1777777777, &o);
		assert_int_equal(o.r.sig[0].result, DKIM_PASS);
		free(ok);
		free(ok2);
	}
	free(msg);
}

static void
test_roundtrip_rsa(void **state)
{
	assert_true(strncmp(buf_cstr(&K.rsa_txt), "v=DKIM1; k=rsa; p=MIIB",
	    22) == 0);
	roundtrip(K.rsa_sg, "rsa-sha256");
}

static void
test_roundtrip_ed25519(void **state)
{
	assert_true(strncmp(buf_cstr(&K.ed_txt), "v=DKIM1; k=ed25519; p=",
	    22) == 0);
	assert_int_equal(K.ed_txt.len, 22 + 44);
	roundtrip(K.ed_sg, "ed25519-sha256");
}

/* Both signers on one message, and the header.b prefixes. */
static void
test_two_signers(void **state)
{
	char *once = sign(K.ed_sg, TEST_MSG, 1777777777);
	char *twice = sign(K.rsa_sg, once, 1777777777);
	struct mock m;
	struct outcome o;

	mock_init(&m, K.recs, 2);
	verify(twice, &m, 1777777777, &o);
	assert_int_equal(o.r.n, 2);
	assert_string_equal(o.r.sig[0].s, "rsa1");
	assert_string_equal(o.r.sig[1].s, "ed1");
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_int_equal(o.r.sig[1].result, DKIM_PASS);
	free(once);
	free(twice);
}

/* A 1.5 MB body: the spool is a file, the body is streamed. */
static void
test_large_message(void **state)
{
	struct buf b = BUF_INIT;
	struct mock m;
	struct outcome o;
	char *msg;

	buf_puts(&b, "From: a@example.com\r\nSubject: big\r\n\r\n");
	while (b.len < 1500000)
		buf_puts(&b, "0123456789 abcdefghij  ABCDEFGHIJ\t0123456789"
		    "0123456789 abcdefghij ABCDEFGHIJ 0123456789\r\n");
	msg = sign(K.ed_sg, buf_cstr(&b), 1777777777);
	mock_init(&m, K.recs, 2);
	verify(msg, &m, 1777777777, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	msg[strlen(msg) - 5] = 'X';
	verify(msg, &m, 1777777777, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_BODY_HASH);
	free(msg);
	buf_free(&b);
}

/*
 * Tags the signer does not write, signed here.
 */

static void
test_simple_canon_and_l(void **state)
{
	struct mock m;
	struct outcome o;
	char *msg, *more;

	/* simple/simple: exact bytes matter. */
	msg = custom_sign(K.ed_sg, TEST_MSG, DKIM_CANON_SIMPLE,
	    DKIM_CANON_SIMPLE, UINT64_MAX, "v=1; a=ed25519-sha256; "
	    "c=simple/simple; d=example.com; s=ed1; h=from:subject;",
	    "from:subject");
	mock_init(&m, K.recs, 2);
	verify(msg, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	more = replace(msg, "Subject: Hello", "Subject:  Hello");
	verify(more, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_SIGNATURE);
	free(more);
	more = replace(msg, "hungry yet?", "hungry yet? ");
	verify(more, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_BODY_HASH);
	free(more);
	/* simple still drops empty lines at the end. */
	more = concat(msg, "\r\n\r\n");
	verify(more, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	free(more);
	free(msg);

	/* c=relaxed alone is relaxed/simple. */
	msg = custom_sign(K.rsa_sg, TEST_MSG, DKIM_CANON_RELAXED,
	    DKIM_CANON_SIMPLE, UINT64_MAX, "v=1; a=rsa-sha256; c=relaxed; "
	    "d=example.com; s=rsa1; h=from:to;", "from:to");
	verify(msg, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	free(msg);

	/* l=5: "Hi.\r\n" is signed, what follows is not (but noted). */
	msg = custom_sign(K.ed_sg, TEST_MSG, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, 5, "v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.com; s=ed1; l=5; h=from;", "from");
	more = replace(msg, "hungry", "angry");
	verify(more, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_true(o.r.sig[0].has_l);
	assert_int_equal(o.r.sig[0].l, 5);
	free(more);
	more = replace(msg, "Hi.", "Ho.");
	verify(more, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_BODY_HASH);
	free(more);
	free(msg);
	/* l= longer than the body. */
	msg = custom_sign(K.ed_sg, TEST_MSG, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, 100000, "v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.com; s=ed1; l=100000; h=from;",
	    "from");
	verify(msg, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_BODY_SHORT);
	assert_int_equal(o.r.sig[0].result, DKIM_FAIL);
	free(msg);
}

static void
test_expiry(void **state)
{
	struct mock m;
	struct outcome o;
	char *msg = custom_sign(K.ed_sg, TEST_MSG, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, UINT64_MAX, "v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.com; s=ed1; t=1000; x=2000; "
	    "h=from;", "from");

	mock_init(&m, K.recs, 2);
	verify(msg, &m, 2000, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_true(o.r.sig[0].has_x);
	assert_int_equal(o.r.sig[0].x, 2000);
	verify(msg, &m, 2001, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_FAIL);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_EXPIRED);
	{
		const char *want = "dkim=fail reason=\"signature expired\" "
		    "header.d=example.com header.s=ed1 "
		    "header.a=ed25519-sha256 header.b=";
		const char *b = o.text + strlen(want);

		/* 8 random characters, quoted when they hold '/' or '='. */
		assert_true(strncmp(o.text, want, strlen(want)) == 0);
		if (strpbrk(b, "/=") != NULL) {
			assert_int_equal(strlen(b), 10);
			assert_true(b[0] == '"' && b[9] == '"');
		} else
			assert_int_equal(strlen(b), 8);
	}
	free(msg);
}

static void
test_identity(void **state)
{
	struct mock_rec recs[1];
	struct buf txt = BUF_INIT;
	struct mock m;
	struct outcome o;
	char *sub, *same;

	sub = custom_sign(K.ed_sg, TEST_MSG, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, UINT64_MAX, "v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.com; s=ed1; i=ada@News.Example.com; "
	    "h=from;", "from");
	same = custom_sign(K.ed_sg, TEST_MSG, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, UINT64_MAX, "v=1; a=ed25519-sha256; "
	    "c=relaxed/relaxed; d=example.com; s=ed1; i=@example.com; "
	    "h=from;", "from");
	mock_init(&m, K.recs, 2);
	verify(sub, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_string_equal(o.r.sig[0].i, "ada@News.Example.com");

	/* t=s: i= must be in d= itself. */
	buf_printf(&txt, "%s; t=s:y", buf_cstr(&K.ed_txt));
	recs[0] = (struct mock_rec){ "ed1._domainkey.example.com", DNS_OK,
	    { buf_cstr(&txt), NULL } };
	mock_init(&m, recs, 1);
	verify(sub, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_STRICT);
	assert_true(o.r.sig[0].testing);
	verify(same, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	assert_true(o.r.sig[0].testing);
	free(sub);
	free(same);
	buf_free(&txt);
}

/*
 * Keys in DNS.
 */

static void
test_key_problems(void **state)
{
	struct mock_rec recs[1];
	struct buf rsa_as_ed = BUF_INIT;
	struct mock m;
	struct outcome o;
	char *msg = sign(K.ed_sg, TEST_MSG, 1777777777);
	static const struct {
		enum dns_status	 status;
		const char	*txt;
		enum dkim_reason reason;
		const char	*text;
	} cases[] = {
		{ DNS_OK, "v=DKIM1; k=ed25519; p=", DKIM_R_KEY_REVOKED,
		    "dkim=fail reason=\"key revoked\"" },
		{ DNS_OK, "v=DKIM1; k=rsa; p=AAAA", DKIM_R_KEY_TYPE,
		    "dkim=permerror reason=\"key type mismatch\"" },
		{ DNS_OK, "v=DKIM1; p=AAAA", DKIM_R_KEY_TYPE, NULL },
		{ DNS_OK, "v=DKIM1; k=foo; p=AAAA", DKIM_R_KEY_TYPE, NULL },
		{ DNS_OK, "v=DKIM1; k=ed25519; p=AAAA", DKIM_R_KEY_SYNTAX,
		    "dkim=permerror reason=\"bad key record\"" },
		{ DNS_OK, "v=DKIM1; k=ed25519; p=!!!", DKIM_R_KEY_SYNTAX,
		    NULL },
		{ DNS_OK, "garbage", DKIM_R_KEY_SYNTAX, NULL },
		{ DNS_OK, NULL, DKIM_R_KEY_MISSING, NULL },
		{ DNS_NXDOMAIN, NULL, DKIM_R_KEY_MISSING,
		    "dkim=permerror reason=\"no key\"" },
		{ DNS_NODATA, NULL, DKIM_R_KEY_MISSING, NULL },
		{ DNS_TEMPFAIL, NULL, DKIM_R_KEY_TEMPFAIL,
		    "dkim=temperror reason=\"key lookup failed\" "
		    "header.d=example.com header.s=ed1 "
		    "header.a=ed25519-sha256" },
		{ DNS_BOGUS, NULL, DKIM_R_KEY_TEMPFAIL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		recs[0] = (struct mock_rec){ "ed1._domainkey.example.com",
		    cases[i].status, { cases[i].txt, NULL } };
		mock_init(&m, recs, 1);
		verify(msg, &m, 0, &o);
		if (o.r.sig[0].reason != cases[i].reason)
			fail_msg("case %zu: %s", i, o.text);
		assert_int_equal(o.r.sig[0].result,
		    dkim_reason_result(cases[i].reason));
		if (cases[i].text != NULL && strncmp(o.text, cases[i].text,
		    strlen(cases[i].text)) != 0)
			fail_msg("case %zu: %s", i, o.text);
	}
	/* Several records: the first usable one. */
	recs[0] = (struct mock_rec){ "ed1._domainkey.example.com", DNS_OK,
	    { "v=spf1 -all", buf_cstr(&K.ed_txt), NULL } };
	mock_init(&m, recs, 1);
	verify(msg, &m, 0, &o);
	assert_int_equal(o.r.sig[0].result, DKIM_PASS);
	/* The RSA key published for an Ed25519 signature. */
	buf_puts(&rsa_as_ed, buf_cstr(&K.rsa_txt));
	recs[0] = (struct mock_rec){ "ed1._domainkey.example.com", DNS_OK,
	    { buf_cstr(&rsa_as_ed), NULL } };
	mock_init(&m, recs, 1);
	verify(msg, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_KEY_TYPE);
	/* Another Ed25519 key: the signature does not match. */
	recs[0] = (struct mock_rec){ "ed1._domainkey.example.com", DNS_OK,
	    { RFC_ED_TXT, NULL } };
	mock_init(&m, recs, 1);
	verify(msg, &m, 0, &o);
	assert_int_equal(o.r.sig[0].reason, DKIM_R_SIGNATURE);
	buf_free(&rsa_as_ed);
	free(msg);
}

static void
test_key_record_parse(void **state)
{
	static const struct {
		const char	*txt;
		enum dkim_alg	 alg;
		int		 ret;
		enum dkim_reason reason;
	} cases[] = {
		{ RFC_ED_TXT, DKIM_ED25519_SHA256, 0, DKIM_R_OK },
		{ RFC_RSA_TXT, DKIM_RSA_SHA256, 0, DKIM_R_OK },
		{ RFC_ED_TXT "; h=sha256:sha1; s=email; t=y",
		    DKIM_ED25519_SHA256, 0, DKIM_R_OK },
		{ RFC_ED_TXT "; s=*", DKIM_ED25519_SHA256, 0, DKIM_R_OK },
		{ RFC_ED_TXT "; h=sha1", DKIM_ED25519_SHA256, -1,
		    DKIM_R_KEY_HASH },
		{ RFC_ED_TXT "; s=tlsrpt", DKIM_ED25519_SHA256, -1,
		    DKIM_R_KEY_SERVICE },
		{ "k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlr"
		    "wIaaPcHURo=", DKIM_ED25519_SHA256, -1, DKIM_R_KEY_SYNTAX },
		{ "v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlr"
		    "wIaaPcHURo=", DKIM_ED25519_SHA256, -1, DKIM_R_KEY_SYNTAX },
		{ "v=DKIM1; k=ed25519", DKIM_ED25519_SHA256, -1,
		    DKIM_R_KEY_SYNTAX },
		{ "v=DKIM1; k=ed25519; p=11qYAYKx CrfVS/7TyWQHOg7hcvPapiMlr"
		    "wIaaPcHURo=", DKIM_ED25519_SHA256, 0, DKIM_R_OK },
		{ "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlr"
		    "wIaaPcHUR=", DKIM_ED25519_SHA256, -1, DKIM_R_KEY_SYNTAX },
		{ "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlr"
		    "wIaaPcHURo=; p=", DKIM_ED25519_SHA256, -1,
		    DKIM_R_KEY_SYNTAX },
		{ "v=DKIM1; k=rsa; p=", DKIM_RSA_SHA256, -1,
		    DKIM_R_KEY_REVOKED },
	};
	struct dkim_key_info info;
	enum dkim_reason reason;
	EVP_PKEY *pkey;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = dkim_key_record_parse(cases[i].txt,
		    strlen(cases[i].txt), cases[i].alg, &pkey, &info, &reason);

		if (r != cases[i].ret || reason != cases[i].reason)
			fail_msg("case %zu: %d %d", i, r, (int)reason);
		assert_true((r == 0) == (pkey != NULL));
		EVP_PKEY_free(pkey);
	}
	assert_int_equal(dkim_key_record_parse(RFC_ED_TXT "; t=y:s:x",
	    strlen(RFC_ED_TXT "; t=y:s:x"), DKIM_ED25519_SHA256, &pkey, &info,
	    &reason), 0);
	assert_true(info.testing && info.strict);
	EVP_PKEY_free(pkey);
	/* A NUL in the record. */
	assert_int_equal(dkim_key_record_parse("v=DKIM1; p=\0AAA", 15,
	    DKIM_RSA_SHA256, &pkey, &info, &reason), -1);
	assert_null(pkey);

	/*
	 * RSA: 512 bits is too small, an EC key is not RSA, PKCS#1
	 * RSAPublicKey is accepted.
	 */
	{
		EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)512);
		EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		unsigned char *der = NULL;
		struct buf txt = BUF_INIT;
		int len;

		assert_non_null(small);
		len = i2d_PUBKEY(small, &der);
		buf_puts(&txt, "v=DKIM1; p=");
		base64_encode(der, (size_t)len, &txt);
		OPENSSL_free(der);
		assert_int_equal(dkim_key_record_parse(txt.data, txt.len,
		    DKIM_RSA_SHA256, &pkey, &info, &reason), -1);
		assert_int_equal(reason, DKIM_R_KEY_SIZE);
		EVP_PKEY_free(small);

		assert_non_null(ec);
		der = NULL;
		len = i2d_PUBKEY(ec, &der);
		buf_reset(&txt);
		buf_puts(&txt, "v=DKIM1; k=rsa; p=");
		base64_encode(der, (size_t)len, &txt);
		OPENSSL_free(der);
		assert_int_equal(dkim_key_record_parse(txt.data, txt.len,
		    DKIM_RSA_SHA256, &pkey, &info, &reason), -1);
		assert_int_equal(reason, DKIM_R_KEY_TYPE);
		EVP_PKEY_free(ec);
		assert_int_equal(ERR_peek_error(), 0);

		/* The RFC 8463 key as RSAPublicKey: drop the SPKI wrapper. */
		buf_reset(&txt);
		assert_int_equal(dkim_b64_decode(RFC_RSA_TXT + 18,
		    strlen(RFC_RSA_TXT) - 18, &txt), 0);
		{
			struct buf t2 = BUF_INIT;

			buf_puts(&t2, "v=DKIM1; k=rsa; p=");
			/* SPKI: 22 bytes of header before RSAPublicKey. */
			base64_encode(txt.data + 22, txt.len - 22, &t2);
			assert_int_equal(dkim_key_record_parse(t2.data,
			    t2.len, DKIM_RSA_SHA256, &pkey, &info, &reason),
			    0);
			assert_int_equal(info.bits, 1024);
			EVP_PKEY_free(pkey);
			buf_free(&t2);
		}
		buf_free(&txt);
	}
}

/*
 * Signatures refused before any lookup.
 */

static void
test_bad_signatures(void **state)
{
	static const struct {
		const char	*from, *to;
		enum dkim_reason reason;
	} edits[] = {
		{ "v=1; a=ed25519", "v=2; a=ed25519", DKIM_R_VERSION },
		{ "v=1; a=ed25519", "a=ed25519", DKIM_R_SYNTAX },
		{ "a=ed25519-sha256", "a=rsa-sha1", DKIM_R_ALGORITHM },
		{ "a=ed25519-sha256", "a=ed448-sha256", DKIM_R_ALGORITHM },
		{ "c=relaxed/relaxed", "c=relaxed/fancy", DKIM_R_CANON },
		{ "c=relaxed/relaxed", "c=nowsp", DKIM_R_CANON },
		{ "q=dns/txt", "q=http/json", DKIM_R_QUERY },
		{ "h=from : to :\r\n subject : date : message-id : from : "
		    "subject : date;", "h=to : subject;",
		    DKIM_R_FROM_UNSIGNED },
		{ "h=from : to :", "h=from : : to :", DKIM_R_SYNTAX },
		{ "h=from : to :", "h=fr om : to :", DKIM_R_SYNTAX },
		{ "i=@football.example.com", "i=@example.com", DKIM_R_DOMAIN },
		{ "i=@football.example.com", "i=@xfootball.example.com",
		    DKIM_R_DOMAIN },
		{ "i=@football.example.com", "i=joe", DKIM_R_SYNTAX },
		{ "i=@football.example.com", "i=joe@", DKIM_R_SYNTAX },
		{ "bh=2jUS", "bh=2jU", DKIM_R_SYNTAX },
		{ "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
		    "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVO",
		    DKIM_R_SYNTAX },
		{ "b=/gCrinpc", "b=/gCri!npc", DKIM_R_SYNTAX },
		{ "d=football.example.com", "d=football..example.com",
		    DKIM_R_SYNTAX },
		{ "d=football.example.com", "d=", DKIM_R_SYNTAX },
		{ "s=brisbane", "s=bris bane", DKIM_R_SYNTAX },
		{ "s=brisbane", "s=brisbane; s=test", DKIM_R_SYNTAX },
		{ "t=1528637909", "t=15286x", DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909; x=1528637908",
		    DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909; l=-1", DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909; l=99999999999999999999999",
		    DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909;;", DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909; =", DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909\x01", DKIM_R_SYNTAX },
		{ "t=1528637909", "t=1528637909; x=1528637910",
		    DKIM_R_EXPIRED },
	};
	struct mock m;
	struct outcome o;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *msg = replace(rfc8463_msg, edits[i].from, edits[i].to);

		mock_init(&m, rfc_recs, 2);
		verify(msg, &m, RFC_T + 10, &o);
		if (o.r.sig[0].reason != edits[i].reason)
			fail_msg("edit %zu: %s", i, o.text);
		/* Decided without DNS; the RSA signature is untouched. */
		assert_int_equal(m.lookups, 1);
		assert_string_equal(m.asked[0], RFC_RSA_NAME);
		assert_int_equal(o.r.sig[1].result, DKIM_PASS);
		free(msg);
	}
	/* A neutral result still names what it can. */
	{
		char *msg = replace(rfc8463_msg, "v=1; a=ed25519",
		    "v=2; a=ed25519");

		mock_init(&m, rfc_recs, 2);
		verify(msg, &m, RFC_T, &o);
		assert_true(strncmp(o.text, "dkim=neutral reason=\"unsupported "
		    "version\" header.d=football.example.com header.s=brisbane "
		    "header.a=ed25519-sha256 header.b=\"/gCrinpc\"; dkim=pass",
		    strlen("dkim=neutral reason=\"unsupported version\" "
		    "header.d=football.example.com header.s=brisbane "
		    "header.a=ed25519-sha256 header.b=\"/gCrinpc\"; "
		    "dkim=pass")) == 0);
		free(msg);
	}
	/* Garbage tag list: nothing usable to show. */
	{
		char *msg = concat("DKIM-Signature: ;;;\r\n", rfc8463_msg);

		mock_init(&m, rfc_recs, 2);
		verify(msg, &m, RFC_T, &o);
		assert_int_equal(o.r.n, 3);
		assert_int_equal(o.r.sig[0].reason, DKIM_R_SYNTAX);
		assert_string_equal(o.r.sig[0].d, "");
		assert_true(strncmp(o.text, "dkim=neutral reason=\"bad "
		    "signature syntax\"; dkim=pass", 45) == 0);
		free(msg);
	}
}

static void
test_too_many_signatures(void **state)
{
	struct buf b = BUF_INIT;
	const char *sigs_end = strstr(rfc8463_msg, "From: Joe");
	struct mock m;
	struct outcome o;

	/* 8 signatures: the RFC's two, four times. */
	for (int i = 0; i < 4; i++)
		buf_append(&b, rfc8463_msg, (size_t)(sigs_end - rfc8463_msg));
	buf_puts(&b, sigs_end);
	mock_init(&m, rfc_recs, 2);
	m.deferred = true;
	verify(buf_cstr(&b), &m, RFC_T, &o);
	assert_int_equal(o.r.n, DKIM_MAX_SIGS);
	assert_int_equal(o.r.ignored, 8 - DKIM_MAX_SIGS);
	assert_int_equal(m.lookups, DKIM_MAX_SIGS);
	for (size_t i = 0; i < DKIM_MAX_SIGS; i++)
		assert_int_equal(o.r.sig[i].result, DKIM_PASS);
	buf_free(&b);
}

static void
test_unsigned_and_odd_messages(void **state)
{
	struct mock m;
	struct outcome o;
	struct buf b = BUF_INIT;

	mock_init(&m, rfc_recs, 2);
	verify(RFC8463_UNSIGNED, &m, 0, &o);
	assert_int_equal(o.r.n, 0);
	assert_string_equal(o.text, "dkim=none");
	assert_int_equal(m.lookups, 0);
	verify("", &m, 0, &o);
	assert_string_equal(o.text, "dkim=none");
	verify("\r\n\r\n", &m, 0, &o);
	assert_string_equal(o.text, "dkim=none");

	/* A header section over the limit: one permerror. */
	buf_puts(&b, "X: ");
	while (b.len < DKIM_HDRS_MAX + 10)
		buf_putc(&b, 'a');
	buf_puts(&b, "\r\n\r\nbody\r\n");
	verify(buf_cstr(&b), &m, 0, &o);
	assert_int_equal(o.r.n, 1);
	assert_int_equal(o.r.sig[0].result, DKIM_PERMERROR);
	assert_string_equal(o.text,
	    "dkim=permerror reason=\"header section too large\"");
	buf_free(&b);

	/* Only a signature field, no body: body hash of "". */
	mock_init(&m, rfc_recs, 2);
	{
		const char *end = strstr(rfc8463_msg, "\r\n\r\n");
		char *hdr = strndup(rfc8463_msg,
		    (size_t)(end - rfc8463_msg) + 2);

		verify(hdr, &m, RFC_T, &o);
		assert_int_equal(o.r.sig[0].reason, DKIM_R_BODY_HASH);
		free(hdr);
	}
}

/* Freed with the lookups out: no callback, no leak, no use after free. */
static void
test_free_while_pending(void **state)
{
	struct dns_resolver res;
	struct dkim_verify *v;
	struct mock m;
	struct outcome o;
	struct spool sp;

	mock_init(&m, rfc_recs, 2);
	m.deferred = true;
	res.lookup = mock_lookup;
	res.impl = &m;
	memset(&o, 0, sizeof(o));
	spool_put(&sp, rfc8463_msg, strlen(rfc8463_msg));
	v = dkim_verify_new(&res);
	dkim_verify_run(v, &sp, RFC_T, on_done, &o);
	assert_int_equal(m.nq, 2);
	dkim_verify_free(&v);
	mock_flush(&m);
	assert_int_equal(o.calls, 0);
	spool_free(&sp);
	/* Never run. */
	v = dkim_verify_new(&res);
	dkim_verify_free(&v);
	dkim_verify_free(&v);
}

static void
free_in_done(void *ctx, const struct dkim_results *r)
{
	struct dkim_verify **vp = ctx;

	assert_int_equal(r->sig[0].result, DKIM_PASS);
	dkim_verify_free(vp);
}

static void
test_free_in_done(void **state)
{
	struct dns_resolver res = { mock_lookup, NULL };
	struct dkim_verify *v;
	struct mock m;
	struct spool sp;

	for (int deferred = 0; deferred < 2; deferred++) {
		mock_init(&m, rfc_recs, 2);
		m.deferred = deferred;
		res.impl = &m;
		spool_put(&sp, rfc8463_msg, strlen(rfc8463_msg));
		v = dkim_verify_new(&res);
		dkim_verify_run(v, &sp, RFC_T, free_in_done, &v);
		if (deferred)
			mock_flush(&m);
		assert_null(v);
		spool_free(&sp);
	}
}

/*
 * RFC 8601 text.
 */

static void
test_format(void **state)
{
	struct dkim_results r;
	struct buf b = BUF_INIT;

	memset(&r, 0, sizeof(r));
	r.n = 3;
	r.sig[0].result = DKIM_PASS;
	strcpy(r.sig[0].d, "example.com");
	strcpy(r.sig[0].s, "sel");
	r.sig[0].alg_known = true;
	r.sig[0].alg = DKIM_RSA_SHA256;
	strcpy(r.sig[0].b, "ABCDEFGHIJKLMN");
	r.sig[1] = r.sig[0];
	strcpy(r.sig[1].b, "ABCDEFGHIJxyz");
	r.sig[2] = r.sig[0];
	strcpy(r.sig[2].b, "ab/=");
	r.sig[2].result = DKIM_FAIL;
	r.sig[2].reason = DKIM_R_BODY_HASH;
	r.sig[2].alg = DKIM_ED25519_SHA256;

	assert_int_equal(dkim_result_b_prefix(&r, 0), 11);
	assert_int_equal(dkim_result_b_prefix(&r, 2), 4);
	dkim_result_format(&r, 0, &b);
	/* Same first 10 characters as sig 1: 11 are shown. */
	assert_string_equal(buf_cstr(&b), "dkim=pass header.d=example.com "
	    "header.s=sel header.a=rsa-sha256 header.b=ABCDEFGHIJK");
	buf_reset(&b);
	dkim_result_format(&r, 2, &b);
	assert_string_equal(buf_cstr(&b), "dkim=fail reason=\"body hash "
	    "mismatch\" header.d=example.com header.s=sel "
	    "header.a=ed25519-sha256 header.b=\"ab/=\"");
	buf_reset(&b);
	r.n = 1;
	strcpy(r.sig[0].b, "ABCDEFGHIJKLMN");
	dkim_results_format(&r, &b);
	assert_string_equal(buf_cstr(&b), "dkim=pass header.d=example.com "
	    "header.s=sel header.a=rsa-sha256 header.b=ABCDEFGH");
	buf_free(&b);

	for (int i = DKIM_R_OK; i <= DKIM_R_HEADER; i++) {
		const char *t = dkim_reason_text((enum dkim_reason)i);

		assert_null(strchr(t, '"'));
		assert_null(strchr(t, '\\'));
	}
	assert_string_equal(dkim_result_name(DKIM_NEUTRAL), "neutral");
	assert_string_equal(dkim_alg_name(DKIM_ED25519_SHA256),
	    "ed25519-sha256");
}

/*
 * Keys on disk and signing errors.
 */

static void
test_keys(void **state)
{
	struct buf txt = BUF_INIT;
	const char *error = NULL;
	struct dkim_signer *sg;
	struct stat st;
	char path[128];
	FILE *fp;

	assert_int_equal(stat(K.rsa, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(K.ed, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never over an existing file. */
	assert_int_equal(dkim_key_generate(DKIM_ED25519_SHA256, K.ed, &txt,
	    &error), -1);
	assert_non_null(error);
	assert_int_equal(txt.len, 0);
	/* The record printed again from the loaded key. */
	dkim_signer_dns_txt(K.rsa_sg, &txt);
	assert_string_equal(buf_cstr(&txt), buf_cstr(&K.rsa_txt));
	assert_string_equal(dkim_signer_domain(K.rsa_sg), "example.com");
	assert_string_equal(dkim_signer_selector(K.rsa_sg), "rsa1");
	buf_free(&txt);

	/* Refused loads. */
	assert_null(dkim_signer_load("exa mple.com", "s", K.ed, &error));
	assert_null(dkim_signer_load("example.com", "s..x", K.ed, &error));
	assert_null(dkim_signer_load("example.com", "", K.ed, &error));
	assert_null(dkim_signer_load("example.com", "s", "/nonexistent/k",
	    &error));
	snprintf(path, sizeof(path), "%s/junk.pem", K.dir);
	fp = fopen(path, "w");
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n", fp);
	fclose(fp);
	assert_null(dkim_signer_load("example.com", "s", path, &error));
	unlink(path);
	/* An encrypted key is refused, not prompted for. */
	{
		EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

		fp = fopen(path, "w");
		assert_int_equal(PEM_write_PrivateKey(fp, pkey,
		    EVP_aes_128_cbc(), (unsigned char *)"secret", 6, NULL,
		    NULL), 1);
		fclose(fp);
		EVP_PKEY_free(pkey);
		assert_null(dkim_signer_load("example.com", "s", path,
		    &error));
		unlink(path);
	}
	/* Neither RSA nor Ed25519; RSA too small. */
	{
		EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    "P-256");
		EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)512);

		fp = fopen(path, "w");
		PEM_write_PrivateKey(fp, ec, NULL, NULL, 0, NULL, NULL);
		fclose(fp);
		assert_null(dkim_signer_load("example.com", "s", path,
		    &error));
		assert_string_equal(error, "key is neither RSA nor Ed25519");
		unlink(path);
		fp = fopen(path, "w");
		PEM_write_PrivateKey(fp, small, NULL, NULL, 0, NULL, NULL);
		fclose(fp);
		assert_null(dkim_signer_load("example.com", "s", path,
		    &error));
		unlink(path);
		EVP_PKEY_free(ec);
		EVP_PKEY_free(small);
	}
	/* A traditional "BEGIN RSA PRIVATE KEY" file loads too. */
	{
		EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)1024);
		BIO *bio = BIO_new_file(path, "w");
		char line[64];

		assert_non_null(rsa);
		assert_non_null(bio);
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio,
		    rsa, NULL, NULL, 0, NULL, NULL), 1);
		BIO_free(bio);
		EVP_PKEY_free(rsa);
		fp = fopen(path, "r");
		assert_non_null(fgets(line, sizeof(line), fp));
		fclose(fp);
		assert_string_equal(line, "-----BEGIN RSA PRIVATE KEY-----\n");
	}
	sg = dkim_signer_load("example.com", "sel_1.a", path, &error);
	assert_non_null(sg);
	dkim_signer_free(&sg);
	assert_null(sg);
	dkim_signer_free(&sg);
	unlink(path);
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_sign_errors(void **state)
{
	struct buf h = BUF_INIT, b = BUF_INIT;
	const char *error = NULL;
	struct spool sp;

	spool_put(&sp, "To: a@example.com\r\n\r\nno From\r\n", 31);
	assert_int_equal(dkim_sign(K.ed_sg, &sp, 0, &h, &error), -1);
	assert_string_equal(error, "the message has no From field");
	assert_int_equal(h.len, 0);
	spool_free(&sp);

	/* Too many fields to list in h=. */
	buf_puts(&b, "From: a@example.com\r\n");
	for (int i = 0; i < DKIM_H_MAX; i++)
		buf_puts(&b, "List-Id: x\r\n");
	buf_puts(&b, "\r\n");
	spool_put(&sp, b.data, b.len);
	assert_int_equal(dkim_sign(K.ed_sg, &sp, 0, &h, &error), -1);
	assert_string_equal(error, "too many header fields to sign");
	spool_free(&sp);
	buf_free(&b);

	/* A header-only message signs (empty body). */
	spool_put(&sp, "From: a@example.com\r\n", 21);
	assert_int_equal(dkim_sign(K.ed_sg, &sp, 0, &h, &error), 0);
	assert_non_null(strstr(buf_cstr(&h),
	    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"));
	spool_free(&sp);
	buf_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_valid),
		cmocka_unit_test(test_tags_malformed),
		cmocka_unit_test(test_tags_item),
		cmocka_unit_test(test_b64_fws),
		cmocka_unit_test(test_canon_rfc6376_example),
		cmocka_unit_test(test_body_canon),
		cmocka_unit_test(test_body_canon_limit),
		cmocka_unit_test(test_body_hashes),
		cmocka_unit_test(test_body_canon_many_empty_lines),
		cmocka_unit_test(test_hdrs_split),
		cmocka_unit_test(test_hdrs_limits),
		cmocka_unit_test(test_rfc8463_verify),
		cmocka_unit_test(test_rfc8463_tampered),
		cmocka_unit_test(test_rfc8463_sign),
		cmocka_unit_test(test_roundtrip_rsa),
		cmocka_unit_test(test_roundtrip_ed25519),
		cmocka_unit_test(test_two_signers),
		cmocka_unit_test(test_large_message),
		cmocka_unit_test(test_simple_canon_and_l),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_key_problems),
		cmocka_unit_test(test_key_record_parse),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_too_many_signatures),
		cmocka_unit_test(test_unsigned_and_odd_messages),
		cmocka_unit_test(test_free_while_pending),
		cmocka_unit_test(test_free_in_done),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_sign_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
