/*
 * mime_serial - store a parsed MIME tree and read it back (API in mime.h).
 *
 * Format, version 1 (all integers unsigned LEB128, minimal length):
 *
 *	"PHM" 0x01			magic + version
 *	part...				pre-order, root first
 *	crc32 (4 bytes, little endian)	of everything before it
 *
 *	part = flags hdr_off hdr_len body_len body_lines nchildren
 *	       str(type) str(subtype) str(encoding) str(id) str(description)
 *	       str(md5) str(location) str(disposition) str(language)
 *	       nparams (str(name) str(value))...
 *	       ndisp_params (str(name) str(value))...
 *	       has_env (0/1) [10 x str: date subject from sender reply_to to
 *			       cc bcc in_reply_to message_id]
 *	str  = 0 for NULL, or length + 1 followed by the bytes (no NUL)
 *
 * body_off is not stored: it is always hdr_off + hdr_len.  The blob lives
 * in the database, but mime_deserialize() trusts none of it: the checksum
 * catches accidental damage, and every count, length, offset and the tree
 * shape are checked so that a forged blob cannot make the IMAP writer or
 * BODY[section] read outside the message or recurse without bound.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "mime/mime.h"

#define SERIAL_MAGIC	"PHM\x01"
#define SERIAL_MAGIC_LEN 4

/* CRC-32 (IEEE, reflected), a nibble at a time: small table, no state. */
static uint32_t
crc32_buf(const unsigned char *p, size_t n)
{
	static const uint32_t tab[16] = {
		0x00000000U, 0x1db71064U, 0x3b6e20c8U, 0x26d930acU,
		0x76dc4190U, 0x6b6b51f4U, 0x4db26158U, 0x5005713cU,
		0xedb88320U, 0xf00f9344U, 0xd6d6a3e8U, 0xcb61b38cU,
		0x9b64c2b0U, 0x86d3d2d4U, 0xa00ae278U, 0xbdbdf21cU,
	};
	uint32_t crc = 0xffffffffU;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ tab[crc & 15];
		crc = (crc >> 4) ^ tab[crc & 15];
	}
	return crc ^ 0xffffffffU;
}

/*
 * Writing.
 */

static void
put_varint(struct buf *out, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	buf_append(out, tmp, n);
}

static void
put_str(struct buf *out, const char *s)
{
	size_t len;

	if (s == NULL) {
		put_varint(out, 0);
		return;
	}
	len = strlen(s);
	put_varint(out, (uint64_t)len + 1);
	buf_append(out, s, len);
}

static void
put_params(struct buf *out, const struct mime_param *params)
{
	const struct mime_param *p;
	uint64_t n = 0;

	for (p = params; p != NULL; p = p->next)
		n++;
	put_varint(out, n);
	for (p = params; p != NULL; p = p->next) {
		put_str(out, p->name);
		put_str(out, p->value);
	}
}

static void
put_part(struct buf *out, const struct mime_part *p)
{
	const struct mime_part *c;
	uint64_t n = 0;
	const struct mime_envelope *e = p->env;

	for (c = p->children; c != NULL; c = c->next)
		n++;
	put_varint(out, p->flags);
	put_varint(out, p->hdr_off);
	put_varint(out, p->hdr_len);
	put_varint(out, p->body_len);
	put_varint(out, p->body_lines);
	put_varint(out, n);
	put_str(out, p->type);
	put_str(out, p->subtype);
	put_str(out, p->encoding);
	put_str(out, p->id);
	put_str(out, p->description);
	put_str(out, p->md5);
	put_str(out, p->location);
	put_str(out, p->disposition);
	put_str(out, p->language);
	put_params(out, p->params);
	put_params(out, p->disp_params);
	if (e == NULL) {
		buf_putc(out, 0);
		return;
	}
	buf_putc(out, 1);
	put_str(out, e->date);
	put_str(out, e->subject);
	put_str(out, e->from);
	put_str(out, e->sender);
	put_str(out, e->reply_to);
	put_str(out, e->to);
	put_str(out, e->cc);
	put_str(out, e->bcc);
	put_str(out, e->in_reply_to);
	put_str(out, e->message_id);
}

int
mime_serialize(const struct mime_part *root, struct buf *out)
{
	const struct mime_part *p = root;
	size_t start = out->len;
	uint32_t crc;
	unsigned char tail[4];

	if (root == NULL || root->parent != NULL)
		return -1;
	buf_append(out, SERIAL_MAGIC, SERIAL_MAGIC_LEN);
	for (;;) {
		put_part(out, p);
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != root && p->next == NULL)
			p = p->parent;
		if (p == root)
			break;
		p = p->next;
	}
	crc = crc32_buf((const unsigned char *)out->data + start,
	    out->len - start);
	tail[0] = (unsigned char)crc;
	tail[1] = (unsigned char)(crc >> 8);
	tail[2] = (unsigned char)(crc >> 16);
	tail[3] = (unsigned char)(crc >> 24);
	buf_append(out, tail, 4);
	return 0;
}

/*
 * Reading.
 */

struct reader {
	const unsigned char	*p;
	const unsigned char	*end;
	const char		*error;
};

static int
fail(struct reader *r, const char *why)
{
	if (r->error == NULL)
		r->error = why;
	return -1;
}

static int
get_varint(struct reader *r, uint64_t *v_r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b;

	*v_r = 0;
	for (;;) {
		if (r->p >= r->end)
			return fail(r, "truncated integer");
		b = *r->p++;
		if (shift == 63 && b > 1)
			return fail(r, "integer overflow");
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			break;
		shift += 7;
		if (shift > 63)
			return fail(r, "integer too long");
	}
	if (b == 0 && shift > 0)
		return fail(r, "non-minimal integer");
	*v_r = v;
	return 0;
}

static int
get_str(struct reader *r, char **s_r)
{
	uint64_t n;

	*s_r = NULL;
	if (get_varint(r, &n) < 0)
		return -1;
	if (n == 0)
		return 0;
	n--;
	if (n > (uint64_t)(r->end - r->p))
		return fail(r, "string past end");
	if (memchr(r->p, '\0', (size_t)n) != NULL)
		return fail(r, "NUL in string");
	*s_r = xstrndup((const char *)r->p, (size_t)n);
	r->p += n;
	return 0;
}

static int
get_params(struct reader *r, struct mime_param **head_r)
{
	struct mime_param **tail = head_r, *p;
	uint64_t n;

	if (get_varint(r, &n) < 0)
		return -1;
	/* Each parameter takes at least two bytes. */
	if (n > (uint64_t)(r->end - r->p) / 2)
		return fail(r, "parameter count past end");
	while (n-- > 0) {
		p = xcalloc(1, sizeof(*p));
		*tail = p;
		tail = &p->next;
		if (get_str(r, &p->name) < 0 || get_str(r, &p->value) < 0)
			return -1;
		if (p->name == NULL || p->value == NULL)
			return fail(r, "NULL parameter");
	}
	return 0;
}

/* Reads one part; on error the (unattached) part is freed. */
static int
get_part(struct reader *r, struct mime_part **part_r, uint64_t *nchildren_r)
{
	struct mime_part *p = xcalloc(1, sizeof(*p));
	struct mime_envelope *e;
	uint64_t flags;

	*part_r = NULL;
	if (get_varint(r, &flags) < 0 ||
	    get_varint(r, &p->hdr_off) < 0 ||
	    get_varint(r, &p->hdr_len) < 0 ||
	    get_varint(r, &p->body_len) < 0 ||
	    get_varint(r, &p->body_lines) < 0 ||
	    get_varint(r, nchildren_r) < 0 ||
	    get_str(r, &p->type) < 0 ||
	    get_str(r, &p->subtype) < 0 ||
	    get_str(r, &p->encoding) < 0 ||
	    get_str(r, &p->id) < 0 ||
	    get_str(r, &p->description) < 0 ||
	    get_str(r, &p->md5) < 0 ||
	    get_str(r, &p->location) < 0 ||
	    get_str(r, &p->disposition) < 0 ||
	    get_str(r, &p->language) < 0 ||
	    get_params(r, &p->params) < 0 ||
	    get_params(r, &p->disp_params) < 0)
		goto bad;
	if ((flags & ~(uint64_t)MIME_PART_FLAGS_ALL) != 0) {
		fail(r, "unknown flags");
		goto bad;
	}
	p->flags = (unsigned)flags;
	if (r->p >= r->end || *r->p > 1) {
		fail(r, "bad envelope marker");
		goto bad;
	}
	if (*r->p++ == 1) {
		p->env = e = xcalloc(1, sizeof(*e));
		if (get_str(r, &e->date) < 0 ||
		    get_str(r, &e->subject) < 0 ||
		    get_str(r, &e->from) < 0 ||
		    get_str(r, &e->sender) < 0 ||
		    get_str(r, &e->reply_to) < 0 ||
		    get_str(r, &e->to) < 0 ||
		    get_str(r, &e->cc) < 0 ||
		    get_str(r, &e->bcc) < 0 ||
		    get_str(r, &e->in_reply_to) < 0 ||
		    get_str(r, &e->message_id) < 0)
			goto bad;
	}
	if (p->type == NULL || p->subtype == NULL ||
	    p->type[0] == '\0' || p->subtype[0] == '\0') {
		fail(r, "missing content type");
		goto bad;
	}
	if (p->hdr_len > UINT64_MAX - p->hdr_off) {
		fail(r, "header range overflow");
		goto bad;
	}
	p->body_off = p->hdr_off + p->hdr_len;
	if (p->body_len > UINT64_MAX - p->body_off) {
		fail(r, "body range overflow");
		goto bad;
	}
	if (p->body_lines > p->body_len) {
		fail(r, "more lines than bytes");
		goto bad;
	}
	*part_r = p;
	return 0;
bad:
	mime_part_free(&p);
	return -1;
}

/* Shape rules the parser guarantees and the IMAP writer relies on. */
static int
check_shape(struct reader *r, const struct mime_part *p, uint64_t nchildren)
{
	bool want_env = p->parent == NULL || mime_part_is_message(p->parent);

	if ((p->env != NULL) != want_env)
		return fail(r, "envelope in the wrong place");
	if (nchildren > 0 && !mime_part_is_multipart(p) &&
	    !mime_part_is_message(p))
		return fail(r, "children under a leaf part");
	if (mime_part_is_message(p) && nchildren > 1)
		return fail(r, "message part with several children");
	if (mime_part_is_message(p) && nchildren == 0 &&
	    (p->flags & MIME_PART_TRUNCATED) == 0)
		return fail(r, "message part without its message");
	return 0;
}

struct frame {
	struct mime_part	*part;
	uint64_t		 remaining;
	struct mime_part	**tail;
	uint64_t		 min_off;	/* next child starts here or later */
};

struct mime_part *
mime_deserialize(const void *data, size_t len, const char **error_r)
{
	struct reader r;
	struct frame *stack = NULL;
	size_t depth = 0, nparts = 1;
	struct mime_part *root = NULL, *c;
	uint64_t n;
	const unsigned char *d = data;
	uint32_t crc;

	r.error = NULL;
	if (len < SERIAL_MAGIC_LEN + 4 ||
	    memcmp(d, SERIAL_MAGIC, SERIAL_MAGIC_LEN) != 0) {
		*error_r = "bad magic or version";
		return NULL;
	}
	crc = (uint32_t)d[len - 4] | (uint32_t)d[len - 3] << 8 |
	    (uint32_t)d[len - 2] << 16 | (uint32_t)d[len - 1] << 24;
	if (crc32_buf(d, len - 4) != crc) {
		*error_r = "checksum mismatch";
		return NULL;
	}
	r.p = d + SERIAL_MAGIC_LEN;
	r.end = d + len - 4;

	if (get_part(&r, &root, &n) < 0)
		goto bad;
	if (check_shape(&r, root, n) < 0)
		goto bad;
	stack = xreallocarray(NULL, MIME_DEPTH_HARD_MAX, sizeof(*stack));
	if (n > 0) {
		stack[0] = (struct frame){ root, n, &root->children,
		    root->body_off };
		depth = 1;
	}
	while (depth > 0) {
		struct frame *f = &stack[depth - 1];
		uint64_t end = f->part->body_off + f->part->body_len;

		if (f->remaining == 0) {
			depth--;
			continue;
		}
		if (++nparts > MIME_PARTS_HARD_MAX) {
			fail(&r, "too many parts");
			goto bad;
		}
		if (get_part(&r, &c, &n) < 0)
			goto bad;
		c->parent = f->part;
		*f->tail = c;
		f->tail = &c->next;
		f->remaining--;
		if (check_shape(&r, c, n) < 0)
			goto bad;
		if (c->hdr_off < f->min_off ||
		    c->body_off + c->body_len > end) {
			fail(&r, "part outside its parent");
			goto bad;
		}
		f->min_off = c->body_off + c->body_len;
		if (n > 0) {
			if (depth >= MIME_DEPTH_HARD_MAX) {
				fail(&r, "nesting too deep");
				goto bad;
			}
			stack[depth++] = (struct frame){ c, n, &c->children,
			    c->body_off };
		}
	}
	if (r.p != r.end) {
		fail(&r, "trailing bytes");
		goto bad;
	}
	free(stack);
	return root;
bad:
	free(stack);
	mime_part_free(&root);
	*error_r = r.error != NULL ? r.error : "corrupt";
	return NULL;
}

/*
 * The root's envelope, read in place.  Without the checksum: this is the
 * per-message step of a search over a whole mailbox, and every length is
 * still checked against the blob, so damage can only give wrong text.
 */
static int
skip_str(struct reader *r, const char **v_r, size_t *len_r)
{
	uint64_t n;

	*v_r = NULL;
	*len_r = 0;
	if (get_varint(r, &n) < 0)
		return -1;
	if (n-- == 0)
		return 0;
	if (n > (uint64_t)(r->end - r->p))
		return fail(r, "string past end");
	*v_r = (const char *)r->p;
	*len_r = (size_t)n;
	r->p += n;
	return 0;
}

int
mime_blob_envelope(const void *data, size_t len, struct mime_env_ref *env)
{
	struct reader r;
	const unsigned char *d = data;
	const char *v;
	uint64_t x, flags;
	size_t n;

	memset(env, 0, sizeof(*env));
	if (len < SERIAL_MAGIC_LEN + 4 ||
	    memcmp(d, SERIAL_MAGIC, SERIAL_MAGIC_LEN) != 0)
		return -1;
	r.error = NULL;
	r.p = d + SERIAL_MAGIC_LEN;
	r.end = d + len - 4;
	if (get_varint(&r, &flags) < 0)
		return -1;
	env->flags = (unsigned)(flags & MIME_PART_FLAGS_ALL);
	/* Offsets and lengths, nchildren; nine strings; two parameter lists. */
	for (int i = 0; i < 5; i++)
		if (get_varint(&r, &x) < 0)
			return -1;
	for (int i = 0; i < 9; i++)
		if (skip_str(&r, &v, &n) < 0)
			return -1;
	for (int list = 0; list < 2; list++) {
		if (get_varint(&r, &x) < 0 ||
		    x > (uint64_t)(r.end - r.p) / 2)
			return -1;
		while (x-- > 0)
			if (skip_str(&r, &v, &n) < 0 ||
			    skip_str(&r, &v, &n) < 0)
				return -1;
	}
	if (r.p >= r.end || *r.p++ != 1)
		return -1;
	for (int i = 0; i < MIME_ENV_FIELDS; i++)
		if (skip_str(&r, &env->v[i], &env->len[i]) < 0)
			return -1;
	return 0;
}
