/*
 * dkim_sign - making a DKIM-Signature field (RFC 6376 5), and reading a
 * message from its spool for both signing and verifying.
 *
 * The header section is read into memory (bounded, dkim_hdrs); the body
 * is streamed from the spool through the relaxed canonicalizer into
 * SHA-256 and never held whole.  The field is built up to "b=", folded at
 * 78 columns; that text, canonicalized, ends the signed data; the
 * signature is then appended, folded too (b= is blanked with the white
 * space around it before hashing, so its folding does not matter).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/base64.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/spool.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"

#define HEADER_CHUNK	((size_t)16 * 1024)
#define BODY_CHUNK	((size_t)64 * 1024)
#define FOLD_WIDTH	78

int
dkim_read_header(const struct spool *sp, struct dkim_hdrs *h,
    uint64_t *body_off_r, const char **error_r)
{
	char *chunk = xmalloc(HEADER_CHUNK);
	uint64_t off = 0;
	int ret = -1;

	for (;;) {
		ssize_t r = spool_pread(sp, chunk, HEADER_CHUNK, off);
		size_t used;
		int st;

		if (r < 0) {
			*error_r = "cannot read the message";
			goto out;
		}
		if (r == 0)
			break;		/* no body */
		st = dkim_hdrs_feed(h, chunk, (size_t)r, &used);
		if (st < 0) {
			*error_r = "header section too large";
			ret = -2;
			goto out;
		}
		off += used;
		if (st == 1)
			break;
	}
	if (dkim_hdrs_finish(h) < 0) {
		*error_r = "too many header fields";
		ret = -2;
		goto out;
	}
	*body_off_r = off;
	ret = 0;
out:
	free(chunk);
	return ret;
}

int
dkim_read_body(const struct spool *sp, uint64_t off,
    void (*feed)(void *, const char *, size_t), void *ctx,
    const char **error_r)
{
	char *chunk = xmalloc(BODY_CHUNK);
	int ret = 0;

	for (;;) {
		ssize_t r = spool_pread(sp, chunk, BODY_CHUNK, off);

		if (r < 0) {
			*error_r = "cannot read the message";
			ret = -1;
			break;
		}
		if (r == 0)
			break;
		feed(ctx, chunk, (size_t)r);
		off += (uint64_t)r;
	}
	free(chunk);
	return ret;
}

/*
 * What we sign: these fields as often as they occur, and the first four
 * once more (an h= entry with no field left signs "absent", so adding one
 * later breaks the signature).  Then every List-* field.
 */
static const struct {
	const char	*name;
	bool		 oversign;
} sign_fields[] = {
	{ "From", true },
	{ "To", true },
	{ "Cc", true },
	{ "Subject", true },
	{ "Date", false },
	{ "Message-ID", false },
	{ "In-Reply-To", false },
	{ "References", false },
	{ "MIME-Version", false },
	{ "Content-Type", false },
	{ "Content-Transfer-Encoding", false },
	{ "Reply-To", false },
};

static size_t
count_fields(const struct dkim_hdrs *h, const char *name, size_t len)
{
	size_t c = 0;

	for (size_t i = 0; i < h->n; i++)
		if (dkim_hdrs_is(h, i, name, len))
			c++;
	return c;
}

static int
add_name(struct dkim_name *names, size_t *n, const char *p, size_t len,
    size_t times)
{
	for (size_t k = 0; k < times; k++) {
		if (*n == DKIM_H_MAX)
			return -1;
		names[*n].p = p;
		names[*n].len = len;
		(*n)++;
	}
	return 0;
}

/* A List-* name we can put in h= as it is. */
static bool
list_name(const char *p, size_t len)
{
	if (len <= 5 || !ascii_strcaseeq_n(p, 5, "List-"))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static int
choose_names(const struct dkim_hdrs *h, struct dkim_name *names, size_t *n,
    const char **error_r)
{
	*n = 0;
	if (count_fields(h, "From", 4) == 0) {
		*error_r = "the message has no From field";
		return -1;
	}
	for (size_t k = 0; k < sizeof(sign_fields) / sizeof(sign_fields[0]);
	    k++) {
		const char *name = sign_fields[k].name;
		size_t len = strlen(name);
		size_t c = count_fields(h, name, len);

		if (add_name(names, n, name, len,
		    c + (sign_fields[k].oversign ? 1 : 0)) < 0)
			goto many;
	}
	for (size_t i = 0; i < h->n; i++) {
		const char *p = h->raw.data + h->f[i].off;
		size_t len = h->f[i].name_len;
		bool seen = false;

		if (!list_name(p, len))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = dkim_hdrs_is(h, j, p, len);
		if (!seen &&
		    add_name(names, n, p, len, count_fields(h, p, len)) < 0)
			goto many;
	}
	return 0;
many:
	*error_r = "too many header fields to sign";
	return -1;
}

/*
 * Folding at FOLD_WIDTH columns: a unit goes on the current line after a
 * space, or on a new line after CRLF SP.
 */
struct fold {
	struct buf	*out;
	size_t		 col;
};

static void
fold_unit(struct fold *f, const char *s, size_t len)
{
	if (f->col + 1 + len > FOLD_WIDTH) {
		buf_puts(f->out, "\r\n ");
		f->col = 1;
	} else {
		buf_putc(f->out, ' ');
		f->col++;
	}
	buf_append(f->out, s, len);
	f->col += len;
}

/* A piece that may follow the text before it directly or after a fold. */
static void
fold_piece(struct fold *f, const char *s, size_t len)
{
	if (f->col + len > FOLD_WIDTH) {
		buf_puts(f->out, "\r\n ");
		f->col = 1;
	}
	buf_append(f->out, s, len);
	f->col += len;
}

/* Text that may be cut anywhere (base64 allows FWS between any chars). */
static void
fold_any(struct fold *f, const char *s, size_t len)
{
	while (len > 0) {
		size_t room, n;

		if (f->col >= FOLD_WIDTH) {
			buf_puts(f->out, "\r\n ");
			f->col = 1;
		}
		room = FOLD_WIDTH - f->col;
		n = len < room ? len : room;
		buf_append(f->out, s, n);
		f->col += n;
		s += n;
		len -= n;
	}
}

static void
md_update(void *ctx, const void *p, size_t len)
{
	if (EVP_DigestUpdate(ctx, p, len) != 1)
		panic("dkim: SHA-256 failed");
}

static void
body_feed(void *ctx, const char *p, size_t len)
{
	dkim_body_canon_feed(ctx, p, len);
}

int
dkim_sign(const struct dkim_signer *sg, const struct spool *sp, time_t now,
    struct buf *header_out, const char **error_r)
{
	struct dkim_hdrs h;
	struct dkim_name *names = NULL;
	struct dkim_body_canon bc;
	struct buf field = BUF_INIT, data = BUF_INIT, tmp = BUF_INIT;
	struct buf sig = BUF_INIT;
	struct fold f;
	EVP_MD_CTX *md = NULL;
	unsigned char bh[32];
	uint64_t body_off;
	size_t n;
	int ret = -1;

	dkim_hdrs_init(&h);
	if (dkim_read_header(sp, &h, &body_off, error_r) < 0)
		goto out;
	names = xcalloc(DKIM_H_MAX, sizeof(*names));
	if (choose_names(&h, names, &n, error_r) < 0)
		goto out;

	/* bh=: the body, relaxed, streamed. */
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		panic("dkim: SHA-256 failed");
	dkim_body_canon_init(&bc, DKIM_CANON_RELAXED, UINT64_MAX, md_update,
	    md);
	if (dkim_read_body(sp, body_off, body_feed, &bc, error_r) < 0)
		goto out;
	dkim_body_canon_finish(&bc);
	if (EVP_DigestFinal_ex(md, bh, NULL) != 1)
		panic("dkim: SHA-256 failed");

	/* The field up to "b=". */
	buf_puts(&field, "DKIM-Signature:");
	f.out = &field;
	f.col = field.len;
	buf_printf(&tmp, "v=1;");
	fold_unit(&f, tmp.data, tmp.len);
	buf_reset(&tmp);
	buf_printf(&tmp, "a=%s;", dkim_alg_name(dkim_signer_alg(sg)));
	fold_unit(&f, tmp.data, tmp.len);
	fold_unit(&f, "c=relaxed/relaxed;", strlen("c=relaxed/relaxed;"));
	buf_reset(&tmp);
	buf_printf(&tmp, "d=%s;", dkim_signer_domain(sg));
	fold_unit(&f, tmp.data, tmp.len);
	buf_reset(&tmp);
	buf_printf(&tmp, "s=%s;", dkim_signer_selector(sg));
	fold_unit(&f, tmp.data, tmp.len);
	buf_reset(&tmp);
	buf_printf(&tmp, "t=%llu;",
	    (unsigned long long)(now > 0 ? (uint64_t)now : 0));
	fold_unit(&f, tmp.data, tmp.len);
	for (size_t k = 0; k < n; k++) {
		buf_reset(&tmp);
		if (k == 0)
			buf_puts(&tmp, "h=");
		buf_append(&tmp, names[k].p, names[k].len);
		buf_putc(&tmp, k + 1 < n ? ':' : ';');
		if (k == 0)
			fold_unit(&f, tmp.data, tmp.len);
		else
			fold_piece(&f, tmp.data, tmp.len);
	}
	buf_reset(&tmp);
	buf_puts(&tmp, "bh=");
	base64_encode(bh, sizeof(bh), &tmp);
	buf_putc(&tmp, ';');
	fold_unit(&f, tmp.data, tmp.len);
	/* "b=" with room for some of the signature on the same line. */
	if (f.col + 1 + 2 + 8 > FOLD_WIDTH) {
		buf_puts(&field, "\r\n b=");
		f.col = 3;
	} else {
		buf_puts(&field, " b=");
		f.col += 3;
	}

	/* The signed data: the h= fields, then this one without CRLF. */
	dkim_hash_headers(&h, DKIM_CANON_RELAXED, names, n, &data);
	dkim_header_canon(DKIM_CANON_RELAXED, field.data, field.len, &data);
	buf_truncate(&data, data.len - 2);
	if (dkim_signer_sign(sg, data.data, data.len, &sig, error_r) < 0)
		goto out;
	fold_any(&f, sig.data, sig.len);
	buf_puts(&field, "\r\n");
	buf_append(header_out, field.data, field.len);
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	free(names);
	dkim_hdrs_free(&h);
	buf_free(&field);
	buf_free(&data);
	buf_free(&tmp);
	buf_free(&sig);
	return ret;
}
