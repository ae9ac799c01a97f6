/*
 * imap_binary - the content of FETCH BINARY[section] as a list of pieces,
 * measured and read in blocks.  See imap_binary.h.
 *
 * Threats: the message is untrusted and its MIME tree comes from the
 * store (checked when deserialized).  Ranges are cut to the message size
 * and never go backwards; headers are scanned a block at a time keeping
 * only the first bytes of a line, so a header of any length costs no
 * memory; the number of pieces a header adds is capped.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "imap/imap_binary.h"
#include "mime/mime.h"

static const char cte_binary[] = "Content-Transfer-Encoding: binary\r\n";
static const char crlf[] = "\r\n";

/* Reads exactly len bytes at off; -1 if rd fails or the message ends. */
static int
read_exact(mime_read_fn *rd, void *rctx, char *dst, size_t len,
    uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = rd(rctx, dst + got, len - got, off + got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void
add_piece(struct imap_binary *b, enum imap_binary_kind kind,
    enum mime_cte cte, const char *text, uint64_t off, uint64_t len)
{
	struct imap_binary_piece *pc;

	b->pieces = xgrowarray(b->pieces, b->n, sizeof(*b->pieces));
	pc = &b->pieces[b->n++];
	memset(pc, 0, sizeof(*pc));
	pc->kind = kind;
	pc->cte = cte;
	pc->text = text;
	pc->off = off;
	pc->len = len;
}

static void
add_text(struct imap_binary *b, const char *text)
{
	add_piece(b, IMAP_BINARY_TEXT, MIME_CTE_BINARY, text, 0,
	    strlen(text));
}

struct planner {
	struct imap_binary *b;
	uint64_t	 cur;		/* copied (or skipped) up to here */
	uint64_t	 size;		/* of the message */
	mime_read_fn	*rd;
	void		*rctx;
	char		*block;
};

/* Copies the message as it is from p->cur up to to. */
static void
plan_raw(struct planner *p, uint64_t to)
{
	struct imap_binary *b = p->b;
	struct imap_binary_piece *last = b->n > 0 ? &b->pieces[b->n - 1] :
	    NULL;

	if (to > p->size)
		to = p->size;
	if (to <= p->cur)
		return;
	if (last != NULL && last->kind == IMAP_BINARY_RAW &&
	    last->off + last->len == p->cur)
		last->len += to - p->cur;
	else
		add_piece(b, IMAP_BINARY_RAW, MIME_CTE_BINARY, NULL, p->cur,
		    to - p->cur);
	p->cur = to;
}

/* Skips the message from p->cur up to to. */
static void
plan_skip(struct planner *p, uint64_t to)
{
	if (to > p->size)
		to = p->size;
	if (to > p->cur)
		p->cur = to;
}

/* Does a header line (its first hl bytes) start a C-T-E field? */
static bool
is_cte_field(const char *head, size_t hl)
{
	static const char name[] = "Content-Transfer-Encoding";
	const char *colon = memchr(head, ':', hl);
	size_t n;

	if (colon == NULL)
		return false;
	n = (size_t)(colon - head);
	while (n > 0 && (head[n - 1] == ' ' || head[n - 1] == '\t'))
		n--;
	return n == sizeof(name) - 1 && strncasecmp(head, name, n) == 0;
}

struct hdr_scan {
	uint64_t	 line;		/* where the current line starts */
	char		 head[64];	/* its first bytes */
	size_t		 hl;
	bool		 drop;		/* the current field is dropped */
	bool		 eoh;		/* the empty line was seen */
	unsigned	 dropped;	/* fields dropped */
};

/* The line [st->line, end) of a header is complete. */
static void
header_line(struct planner *p, struct hdr_scan *st, uint64_t end)
{
	if ((st->hl == 1 && st->head[0] == '\n') ||
	    (st->hl == 2 && st->head[0] == '\r' && st->head[1] == '\n')) {
		plan_raw(p, st->line);
		add_text(p->b, cte_binary);
		st->eoh = true;
		return;
	}
	if (st->hl == 0 || (st->head[0] != ' ' && st->head[0] != '\t')) {
		st->drop = st->dropped < IMAP_BINARY_DROP_MAX &&
		    is_cte_field(st->head, st->hl);
		if (st->drop)
			st->dropped++;
	}
	if (st->drop) {
		plan_raw(p, st->line);
		plan_skip(p, end);
	}
	st->line = end;
	st->hl = 0;
}

/*
 * The header of a decoded leaf: its Content-Transfer-Encoding fields
 * dropped, "Content-Transfer-Encoding: binary" added before the empty
 * line (or at the end of a header that has none).
 */
static int
plan_header(struct planner *p, const struct mime_part *part)
{
	struct hdr_scan st;
	uint64_t off = part->hdr_off, end = part->hdr_off + part->hdr_len;
	bool partial_line = false;

	if (end > p->size)
		end = p->size;
	plan_raw(p, off);
	if (off < p->cur)
		off = p->cur;
	memset(&st, 0, sizeof(st));
	st.line = off;
	while (off < end && !st.eoh) {
		size_t n = end - off > IMAP_BINARY_BLOCK ? IMAP_BINARY_BLOCK :
		    (size_t)(end - off);

		if (read_exact(p->rd, p->rctx, p->block, n, off) < 0)
			return -1;
		for (size_t i = 0; i < n && !st.eoh; i++) {
			char c = p->block[i];

			if (st.hl < sizeof(st.head))
				st.head[st.hl++] = c;
			if (c == '\n')
				header_line(p, &st, off + i + 1);
		}
		off += n;
	}
	if (st.eoh)
		return 0;
	if (st.line < end) {
		/* A last line without a line break. */
		header_line(p, &st, end);
		partial_line = !st.drop;
	}
	plan_raw(p, end);
	if (partial_line)
		add_text(p->b, crlf);
	add_text(p->b, cte_binary);
	return 0;
}

/* A base64 or quoted-printable leaf: header (when included) and body. */
static int
plan_leaf(struct planner *p, const struct mime_part *part, enum mime_cte cte,
    bool with_header)
{
	uint64_t off = part->body_off, end = part->body_off + part->body_len;

	if (with_header && plan_header(p, part) < 0)
		return -1;
	plan_raw(p, off);
	if (end > p->size)
		end = p->size;
	if (off < p->cur)
		off = p->cur;
	if (end > off)
		add_piece(p->b, IMAP_BINARY_DECODE, cte, NULL, off, end - off);
	plan_skip(p, end);
	return 0;
}

bool
imap_binary_decodable(const struct mime_part *part)
{
	const struct mime_part *q = part;

	for (;;) {
		if (mime_cte_parse(q->encoding) == MIME_CTE_UNKNOWN)
			return false;
		if (q->children != NULL) {
			q = q->children;
			continue;
		}
		while (q != part && q->next == NULL)
			q = q->parent;
		if (q == part)
			return true;
		q = q->next;
	}
}

int
imap_binary_plan(struct imap_binary *b, const struct mime_part *part,
    bool whole, uint64_t msg_size, mime_read_fn *rd, void *rctx)
{
	struct planner p;
	const struct mime_part *q = part;
	int ret = 0;

	memset(b, 0, sizeof(*b));
	if (!imap_binary_decodable(part))
		return IMAP_BINARY_UNKNOWN_CTE;
	memset(&p, 0, sizeof(p));
	p.b = b;
	p.size = msg_size;
	p.rd = rd;
	p.rctx = rctx;
	p.cur = whole ? part->hdr_off : part->body_off;
	if (p.cur > msg_size)
		p.cur = msg_size;
	p.block = xmalloc(IMAP_BINARY_BLOCK);
	/* Pre-order walk of the subtree, without recursion. */
	for (;;) {
		enum mime_cte cte = mime_cte_parse(q->encoding);

		if (q->children != NULL) {
			q = q->children;
			continue;
		}
		if ((cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP) &&
		    plan_leaf(&p, q, cte, q != part || whole) < 0) {
			ret = -1;
			break;
		}
		while (q != part && q->next == NULL)
			q = q->parent;
		if (q == part)
			break;
		q = q->next;
	}
	if (ret == 0)
		plan_raw(&p, part->body_off + part->body_len);
	free(p.block);
	return ret;
}

int
imap_binary_measure(struct imap_binary *b, mime_read_fn *rd, void *rctx)
{
	char *block = xmalloc(IMAP_BINARY_BLOCK);
	struct buf out = BUF_INIT;
	int ret = 0;

	b->size = 0;
	b->has_nul = false;
	for (size_t i = 0; i < b->n && ret == 0; i++) {
		struct imap_binary_piece *pc = &b->pieces[i];
		struct mime_cte_decoder *dec = NULL;
		uint64_t done = 0;

		pc->out_len = pc->kind == IMAP_BINARY_DECODE ? 0 : pc->len;
		/* Raw bytes are read only to look for NUL. */
		if (pc->kind == IMAP_BINARY_TEXT ||
		    (pc->kind == IMAP_BINARY_RAW && b->has_nul)) {
			b->size += pc->out_len;
			continue;
		}
		if (pc->kind == IMAP_BINARY_DECODE)
			dec = mime_cte_decoder_create(pc->cte);
		while (done < pc->len) {
			size_t n = pc->len - done > IMAP_BINARY_BLOCK ?
			    IMAP_BINARY_BLOCK : (size_t)(pc->len - done);

			if (read_exact(rd, rctx, block, n,
			    pc->off + done) < 0) {
				ret = -1;
				break;
			}
			done += n;
			if (dec == NULL) {
				if (memchr(block, '\0', n) != NULL) {
					b->has_nul = true;
					break;
				}
				continue;
			}
			buf_reset(&out);
			mime_cte_decode(dec, block, n, &out);
			if (done == pc->len)
				(void)mime_cte_decoder_finish(dec, &out);
			pc->out_len += out.len;
			if (out.len > 0 && memchr(out.data, '\0', out.len))
				b->has_nul = true;
		}
		if (dec != NULL)
			mime_cte_decoder_free(&dec);
		b->size += pc->out_len;
	}
	buf_free(&out);
	free(block);
	b->measured = ret == 0;
	return ret;
}

void
imap_binary_free(struct imap_binary *b)
{
	free(b->pieces);
	memset(b, 0, sizeof(*b));
}

struct imap_binary_reader {
	const struct imap_binary *b;
	size_t		 idx;		/* current piece */
	uint64_t	 raw_done;	/* of its input */
	uint64_t	 out_pos;	/* section offset of its next output */
	uint64_t	 win_off;
	uint64_t	 win_len;
	uint64_t	 done;		/* window bytes appended */
	struct mime_cte_decoder *dec;
	char		*block;
	struct buf	 tmp;
};

struct imap_binary_reader *
imap_binary_reader_create(const struct imap_binary *b, uint64_t off,
    uint64_t len)
{
	struct imap_binary_reader *r = xcalloc(1, sizeof(*r));

	if (off > b->size)
		off = b->size;
	if (len > b->size - off)
		len = b->size - off;
	r->b = b;
	r->win_off = off;
	r->win_len = len;
	buf_init(&r->tmp);
	/* Skip the pieces before the window; enter a copied one at off. */
	while (r->idx < b->n &&
	    r->out_pos + b->pieces[r->idx].out_len <= off) {
		r->out_pos += b->pieces[r->idx].out_len;
		r->idx++;
	}
	if (r->idx < b->n && b->pieces[r->idx].kind != IMAP_BINARY_DECODE &&
	    r->out_pos < off) {
		r->raw_done = off - r->out_pos;
		r->out_pos = off;
	}
	return r;
}

/* Output at r->out_pos: appends what falls into the window. */
static void
emit(struct imap_binary_reader *r, const char *data, size_t n,
    struct buf *out)
{
	uint64_t s = r->out_pos, e = r->out_pos + n;
	uint64_t we = r->win_off + r->win_len;

	if (s < r->win_off)
		s = r->win_off;
	if (e > we)
		e = we;
	if (e > s) {
		buf_append(out, data + (s - r->out_pos), (size_t)(e - s));
		r->done += e - s;
	}
	r->out_pos += n;
}

int
imap_binary_read(struct imap_binary_reader *r, mime_read_fn *rd, void *rctx,
    struct buf *out)
{
	const struct imap_binary_piece *pc;
	uint64_t left;
	size_t n;

	if (r->done == r->win_len)
		return 0;
	if (r->idx >= r->b->n)
		return -1;
	pc = &r->b->pieces[r->idx];
	left = pc->len - r->raw_done;
	if (pc->kind == IMAP_BINARY_TEXT) {
		emit(r, pc->text + r->raw_done, (size_t)left, out);
		r->raw_done = pc->len;
	} else {
		n = left > IMAP_BINARY_BLOCK ? IMAP_BINARY_BLOCK :
		    (size_t)left;
		/* A copied piece is read no further than the window. */
		if (pc->kind == IMAP_BINARY_RAW &&
		    n > r->win_off + r->win_len - r->out_pos)
			n = (size_t)(r->win_off + r->win_len - r->out_pos);
		if (r->block == NULL)
			r->block = xmalloc(IMAP_BINARY_BLOCK);
		if (read_exact(rd, rctx, r->block, n, pc->off +
		    r->raw_done) < 0)
			return -1;
		r->raw_done += n;
		if (pc->kind == IMAP_BINARY_RAW) {
			emit(r, r->block, n, out);
		} else {
			if (r->dec == NULL)
				r->dec = mime_cte_decoder_create(pc->cte);
			buf_reset(&r->tmp);
			mime_cte_decode(r->dec, r->block, n, &r->tmp);
			if (r->raw_done == pc->len) {
				(void)mime_cte_decoder_finish(r->dec, &r->tmp);
				mime_cte_decoder_free(&r->dec);
			}
			emit(r, r->tmp.data, r->tmp.len, out);
		}
	}
	if (r->raw_done == pc->len) {
		r->idx++;
		r->raw_done = 0;
	}
	return r->done == r->win_len ? 0 : 1;
}

uint64_t
imap_binary_reader_done(const struct imap_binary_reader *r)
{
	return r->done;
}

void
imap_binary_reader_free(struct imap_binary_reader **rp)
{
	struct imap_binary_reader *r = *rp;

	if (r == NULL)
		return;
	if (r->dec != NULL)
		mime_cte_decoder_free(&r->dec);
	buf_free(&r->tmp);
	free(r->block);
	free(r);
	*rp = NULL;
}
