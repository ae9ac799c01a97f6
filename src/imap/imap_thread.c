/*
 * imap_thread - THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256
 * section 4), the Message-ID list parser and the thread-list writer.  See
 * imap_thread.h for the interface.
 *
 * REFERENCES follows the RFC's steps; where it leaves room we do what
 * Dovecot does (src/lib-storage/index/index-thread*.c), so clients see the
 * same trees from both:
 *  - Step 1: the Message-ID of a message is the first valid msg-id of
 *    its header; a later message with the same one gets a unique id (so
 *    nothing can reference it).  References are linked pairwise, a link
 *    never replaces an existing parent and never closes a loop; then the
 *    message's own parent link is broken when it differs from its last
 *    reference (also when it has none), and the new one is made unless
 *    that would close a loop.  A message that names itself last in its
 *    References therefore ends up a root, as in Dovecot.
 *  - Step 3: a dummy that is not a root disappears and its children go
 *    to the nearest real ancestor, or to the top-level dummy when there
 *    is none; a top-level dummy left with one child gives way to it.
 *    This is the RFC's promotion done in one pass.
 *  - Steps 4 and 6: siblings by (sent date, seq); a top-level dummy sorts
 *    as its first child.  Children of the root are only dummies or real
 *    messages; below the root there are real messages only.
 *
 * Threats: everything here comes from message headers, i.e. from anyone
 * who can send mail to the mailbox.  A naive "is B an ancestor of A" walk
 * per link is quadratic on crafted deep chains, so ancestry is answered
 * by a link-cut forest; Message-IDs and subjects go into hash tables with
 * a random SipHash key per call, so colliding ids cannot be precomputed;
 * the writer and every tree walk are iterative, so a 100,000-deep chain
 * cannot overflow the stack.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "imap/imap_thread.h"

#define NONE	IMAP_THREAD_NONE
#define UNSET	(IMAP_THREAD_NONE - 1)
/* Node indexes stay below this; UNSET and NONE are markers. */
#define NODES_MAX	(IMAP_THREAD_NONE - 2)

/*
 * SipHash-2-4 (Aumasson, Bernstein), keyed per call.
 */
struct sipkey {
	uint64_t	 k0, k1;
};

static uint64_t
rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

static uint64_t
siphash(const struct sipkey *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v[4], m, b = (uint64_t)len << 56;
	size_t end = len - (len & 7);

	v[0] = key->k0 ^ 0x736f6d6570736575ULL;
	v[1] = key->k1 ^ 0x646f72616e646f6dULL;
	v[2] = key->k0 ^ 0x6c7967656e657261ULL;
	v[3] = key->k1 ^ 0x7465646279746573ULL;
	for (size_t i = 0; i < end; i += 8) {
		m = 0;
		for (int k = 7; k >= 0; k--)
			m = (m << 8) | p[i + k];
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	for (size_t k = 0; k < (len & 7); k++)
		b |= (uint64_t)p[end + k] << (8 * k);
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * A string -> uint32_t table.  Keys live back to back in one arena; a
 * candidate key is appended to the arena by the caller and then interned:
 * kept when new, cut off again when already present.
 */
struct strtab {
	struct buf	 arena;
	size_t		*off;		/* entry i: arena[off[i], off[i + 1]) */
	uint64_t	*hash;
	uint32_t	*val;
	size_t		 count;
	size_t		 cap;
	uint32_t	*slots;		/* entry index or NONE */
	size_t		 mask;
	struct sipkey	 key;
};

static void
strtab_init(struct strtab *t, size_t expect)
{
	size_t size = 16;

	memset(t, 0, sizeof(*t));
	buf_init(&t->arena);
	while (size / 2 < expect && size < SIZE_MAX / 4)
		size *= 2;
	t->slots = xreallocarray(NULL, size, sizeof(*t->slots));
	for (size_t i = 0; i < size; i++)
		t->slots[i] = NONE;
	t->mask = size - 1;
	t->cap = 16;
	t->off = xreallocarray(NULL, t->cap + 1, sizeof(*t->off));
	t->hash = xreallocarray(NULL, t->cap, sizeof(*t->hash));
	t->val = xreallocarray(NULL, t->cap, sizeof(*t->val));
	t->off[0] = 0;
	random_bytes(&t->key, sizeof(t->key));
}

static void
strtab_free(struct strtab *t)
{
	buf_free(&t->arena);
	free(t->off);
	free(t->hash);
	free(t->val);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static void
strtab_grow_slots(struct strtab *t)
{
	size_t size = (t->mask + 1) * 2;

	if (size > SIZE_MAX / 4)
		fatalx("thread: string table too large");
	free(t->slots);
	t->slots = xreallocarray(NULL, size, sizeof(*t->slots));
	for (size_t i = 0; i < size; i++)
		t->slots[i] = NONE;
	t->mask = size - 1;
	for (size_t e = 0; e < t->count; e++) {
		size_t s = (size_t)t->hash[e] & t->mask;

		while (t->slots[s] != NONE)
			s = (s + 1) & t->mask;
		t->slots[s] = (uint32_t)e;
	}
}

/*
 * Interns the key arena[start, arena.len).  Returns its entry index; sets
 * *created when it is new (the caller then sets val[]).
 */
static uint32_t
strtab_intern(struct strtab *t, size_t start, bool *created)
{
	const char *k = t->arena.data + start;
	size_t len = t->arena.len - start;
	uint64_t h = siphash(&t->key, k, len);
	size_t s = (size_t)h & t->mask;
	uint32_t e;

	for (; (e = t->slots[s]) != NONE; s = (s + 1) & t->mask) {
		if (t->hash[e] == h && t->off[e + 1] - t->off[e] == len &&
		    memcmp(t->arena.data + t->off[e], k, len) == 0) {
			buf_truncate(&t->arena, start);
			*created = false;
			return e;
		}
	}
	if (t->count >= NODES_MAX)
		fatalx("thread: too many strings");
	if (t->count == t->cap) {
		t->cap *= 2;
		t->off = xreallocarray(t->off, t->cap + 1, sizeof(*t->off));
		t->hash = xreallocarray(t->hash, t->cap, sizeof(*t->hash));
		t->val = xreallocarray(t->val, t->cap, sizeof(*t->val));
	}
	e = (uint32_t)t->count++;
	/* Entries are appended in arena order, so off[e] == start. */
	t->off[e + 1] = t->arena.len;
	t->hash[e] = h;
	t->val[e] = NONE;
	t->slots[s] = e;
	if (t->count > (t->mask + 1) / 2)
		strtab_grow_slots(t);
	*created = true;
	return e;
}

/*
 * Message-ID lists.
 */
static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Normalizes the text between '<' and '>' into out; false if invalid. */
static bool
msgid_normalize(const char *c, size_t n, struct buf *out)
{
	size_t start = out->len, i = 0, len;
	const char *r;

	while (i < n) {
		if (is_ws(c[i])) {
			i++;
		} else if (c[i] == '(') {
			unsigned depth = 1;

			for (i++; i < n && depth > 0; i++) {
				if (c[i] == '\\' && i + 1 < n)
					i++;
				else if (c[i] == '(')
					depth++;
				else if (c[i] == ')')
					depth--;
			}
			if (depth > 0)
				return false;
		} else if (c[i] == '"') {
			for (i++; i < n && c[i] != '"'; i++) {
				if (c[i] == '\\' && i + 1 < n)
					i++;
				if (c[i] != '\r' && c[i] != '\n')
					buf_putc(out, c[i]);
			}
			if (i == n)
				return false;
			i++;
		} else
			buf_putc(out, c[i++]);
	}
	len = out->len - start;
	if (len < 3)
		return false;
	r = memchr(out->data + start + 1, '@', len - 2);
	return r != NULL;
}

bool
imap_msgid_next(const char *s, size_t len, size_t *pos, struct buf *out)
{
	size_t p = *pos, start = out->len;

	while (p < len) {
		const char *lt = memchr(s + p, '<', len - p);
		size_t b, q;

		if (lt == NULL)
			break;
		b = (size_t)(lt - s) + 1;
		for (q = b; q < len && s[q] != '>'; q++) {
			if (s[q] == '<')
				b = q + 1;
		}
		if (q == len)
			break;
		if (msgid_normalize(s + b, q - b, out)) {
			*pos = q + 1;
			return true;
		}
		buf_truncate(out, start);
		p = q + 1;
	}
	*pos = len;
	return false;
}

/*
 * Tree building.
 */
struct rnode {
	uint32_t	 msg;		/* index into msgs, or NONE: dummy */
	uint32_t	 parent;
	uint32_t	 nchild;	/* step 1: children by parent links */
	uint32_t	 first;		/* from step 2 on: child list */
	uint32_t	 next;
	/* Link-cut forest: splay children and (path-)parent. */
	uint32_t	 lc, rc, lp;
};

struct tctx {
	const struct imap_sortmsg *msgs;
	size_t		 n;
	time_t		*date;		/* imap_sort_date() of each message */
	struct rnode	*t;
	size_t		 nt;
	size_t		 cap;
	uint32_t	*tmp;		/* scratch for sorting siblings */
	size_t		 tmpcap;
	uint32_t	*refs;		/* step 1: one message's references */
	size_t		 refcap;
};

static uint32_t
node_new(struct tctx *c, uint32_t msg)
{
	struct rnode *x;

	if (c->nt >= NODES_MAX)
		fatalx("thread: too many nodes");
	if (c->nt == c->cap) {
		c->cap = c->cap < 64 ? 64 : c->cap * 2;
		c->t = xreallocarray(c->t, c->cap, sizeof(*c->t));
	}
	x = &c->t[c->nt];
	x->msg = msg;
	x->parent = x->first = x->next = NONE;
	x->lc = x->rc = x->lp = NONE;
	x->nchild = 0;
	return (uint32_t)c->nt++;
}

static bool
is_dummy(const struct tctx *c, uint32_t x)
{
	return c->t[x].msg == NONE;
}

/*
 * Link-cut forest (Sleator-Tarjan), rooted, without re-rooting: it mirrors
 * the parent links of step 1 and answers "root of x" in amortized
 * O(log n).  Splay trees hold the preferred paths ordered by depth; lp is
 * the splay parent, or for a splay root the path-parent.
 */
static bool
lct_is_splay_root(const struct rnode *t, uint32_t x)
{
	uint32_t p = t[x].lp;

	return p == NONE || (t[p].lc != x && t[p].rc != x);
}

static void
lct_rotate(struct rnode *t, uint32_t x)
{
	uint32_t p = t[x].lp, g = t[p].lp;

	if (!lct_is_splay_root(t, p)) {
		if (t[g].lc == p)
			t[g].lc = x;
		else
			t[g].rc = x;
	}
	t[x].lp = g;
	if (t[p].lc == x) {
		t[p].lc = t[x].rc;
		if (t[x].rc != NONE)
			t[t[x].rc].lp = p;
		t[x].rc = p;
	} else {
		t[p].rc = t[x].lc;
		if (t[x].lc != NONE)
			t[t[x].lc].lp = p;
		t[x].lc = p;
	}
	t[p].lp = x;
}

static void
lct_splay(struct rnode *t, uint32_t x)
{
	while (!lct_is_splay_root(t, x)) {
		uint32_t p = t[x].lp;

		if (!lct_is_splay_root(t, p)) {
			uint32_t g = t[p].lp;

			if ((t[g].lc == p) == (t[p].lc == x))
				lct_rotate(t, p);
			else
				lct_rotate(t, x);
		}
		lct_rotate(t, x);
	}
}

static void
lct_access(struct rnode *t, uint32_t x)
{
	uint32_t last = NONE;

	for (uint32_t y = x; y != NONE; y = t[y].lp) {
		lct_splay(t, y);
		t[y].rc = last;
		last = y;
	}
	lct_splay(t, x);
}

static uint32_t
lct_root(struct rnode *t, uint32_t x)
{
	lct_access(t, x);
	while (t[x].lc != NONE)
		x = t[x].lc;
	lct_splay(t, x);
	return x;
}

/* Makes the tree root c a child of p. */
static void
lct_link(struct rnode *t, uint32_t c, uint32_t p)
{
	lct_access(t, c);
	t[c].lp = p;
}

/* Detaches c (not a root) from its parent. */
static void
lct_cut(struct rnode *t, uint32_t c)
{
	lct_access(t, c);
	t[t[c].lc].lp = NONE;
	t[c].lc = NONE;
}

/*
 * Step 1 links.  "If a message already has a parent, don't change the
 * existing link"; "do not create a link that would introduce a loop",
 * i.e. when c is p or an ancestor of p.  c has no parent here, so it is
 * an ancestor of p exactly when it is p's root; a childless c cannot be.
 */
static void
ref_link(struct tctx *c, uint32_t p, uint32_t ch)
{
	struct rnode *t = c->t;

	if (p == ch || t[ch].parent != NONE)
		return;
	if (t[ch].nchild > 0 && lct_root(t, p) == ch)
		return;
	t[ch].parent = p;
	t[p].nchild++;
	lct_link(t, ch, p);
}

static void
ref_cut(struct tctx *c, uint32_t ch)
{
	struct rnode *t = c->t;

	t[t[ch].parent].nchild--;
	t[ch].parent = NONE;
	lct_cut(t, ch);
}

/*
 * The node of the next valid msg-id of h[*pos..len) (a new dummy when the
 * id is new), or NONE when there is none left.
 */
static uint32_t
ref_next(struct tctx *c, struct strtab *ids, const char *h, size_t len,
    size_t *pos)
{
	size_t start = ids->arena.len;
	bool created;
	uint32_t e;

	if (!imap_msgid_next(h, len, pos, &ids->arena))
		return NONE;
	e = strtab_intern(ids, start, &created);
	if (created)
		ids->val[e] = node_new(c, NONE);
	return ids->val[e];
}

static int
seq_cmp(const struct imap_sortmsg *m, uint32_t a, uint32_t b)
{
	if (m[a].seq != m[b].seq)
		return m[a].seq < m[b].seq ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int
cmp_msg_seq(void *ctxp, uint32_t a, uint32_t b)
{
	const struct tctx *c = ctxp;

	return seq_cmp(c->msgs, a, b);
}

/* Sent date, then seq: the sibling order of steps 4 and 6. */
static int
date_cmp(const struct tctx *c, uint32_t a, uint32_t b)
{
	if (c->date[a] != c->date[b])
		return c->date[a] < c->date[b] ? -1 : 1;
	return seq_cmp(c->msgs, a, b);
}

static int
cmp_node_date(void *ctxp, uint32_t a, uint32_t b)
{
	const struct tctx *c = ctxp;

	return date_cmp(c, c->t[a].msg, c->t[b].msg);
}

/* Stores reference i of the current message. */
static void
refs_push(struct tctx *c, size_t i, uint32_t node)
{
	if (i == c->refcap) {
		c->refcap = c->refcap == 0 ? 16 : c->refcap * 2;
		c->refs = xreallocarray(c->refs, c->refcap, sizeof(*c->refs));
	}
	c->refs[i] = node;
}

/* Step 1 for message m. */
static void
thread_add_msg(struct tctx *c, struct strtab *ids, uint32_t m)
{
	const struct imap_sortmsg *msg = &c->msgs[m];
	const char *h = msg->message_id;
	size_t start = ids->arena.len, pos = 0, nref = 0, len;
	uint32_t self, last, r;
	bool created;

	/* The message's own id: new, a dummy so far, or a duplicate. */
	if (h != NULL && imap_msgid_next(h, strlen(h), &pos, &ids->arena)) {
		uint32_t e = strtab_intern(ids, start, &created);

		if (created)
			self = ids->val[e] = node_new(c, m);
		else if (is_dummy(c, ids->val[e])) {
			self = ids->val[e];
			c->t[self].msg = m;
		} else
			self = node_new(c, m);
	} else
		self = node_new(c, m);

	/* References, else the first valid msg-id of In-Reply-To. */
	if ((h = msg->references) != NULL) {
		len = strlen(h);
		pos = 0;
		while ((r = ref_next(c, ids, h, len, &pos)) != NONE) {
			refs_push(c, nref++, r);
		}
	}
	if (nref == 0 && (h = msg->in_reply_to) != NULL) {
		pos = 0;
		if ((r = ref_next(c, ids, h, strlen(h), &pos)) != NONE) {
			refs_push(c, nref++, r);
		}
	}

	/* (A) pairwise links; (B) the message's own parent. */
	for (size_t i = 1; i < nref; i++)
		ref_link(c, c->refs[i - 1], c->refs[i]);
	last = nref > 0 ? c->refs[nref - 1] : NONE;
	if (c->t[self].parent != NONE && c->t[self].parent != last)
		ref_cut(c, self);
	if (last != NONE)
		ref_link(c, last, self);
}

static void
child_add(struct tctx *c, uint32_t p, uint32_t ch)
{
	c->t[ch].parent = p;
	c->t[ch].next = c->t[p].first;
	c->t[p].first = ch;
}

/* Sorts the child list of p by (sent date, seq). */
static void
children_sort(struct tctx *c, uint32_t p)
{
	size_t k = 0;
	uint32_t x, *v;

	for (x = c->t[p].first; x != NONE; x = c->t[x].next) {
		if (k == c->tmpcap) {
			c->tmpcap = c->tmpcap == 0 ? 64 : c->tmpcap * 2;
			c->tmp = xreallocarray(c->tmp, c->tmpcap,
			    sizeof(*c->tmp));
		}
		c->tmp[k++] = x;
	}
	if (k < 2)
		return;
	v = c->tmp;
	imap_sort_indexes(v, k, cmp_node_date, c);
	c->t[p].first = v[0];
	for (size_t i = 0; i + 1 < k; i++)
		c->t[v[i]].next = v[i + 1];
	c->t[v[k - 1]].next = NONE;
}

/* The first child by (sent date, seq) of a dummy: its stand-in. */
static uint32_t
children_min(const struct tctx *c, uint32_t p)
{
	uint32_t best = c->t[p].first;

	for (uint32_t x = best; x != NONE; x = c->t[x].next) {
		if (date_cmp(c, c->t[x].msg, c->t[best].msg) < 0)
			best = x;
	}
	return best;
}

/* A child of the root, from step 2 on. */
struct troot {
	uint32_t	 node;
	uint32_t	 rep;		/* message it sorts as */
	uint32_t	 sid;		/* thread subject entry, or NONE */
	bool		 gone;		/* no longer a child of the root */
};

struct rootvec {
	struct troot	*v;
	size_t		 n;
	size_t		 cap;
};

static void
root_push(struct rootvec *r, uint32_t node, uint32_t rep)
{
	if (r->n == r->cap) {
		r->cap = r->cap == 0 ? 64 : r->cap * 2;
		r->v = xreallocarray(r->v, r->cap, sizeof(*r->v));
	}
	r->v[r->n].node = node;
	r->v[r->n].rep = rep;
	r->v[r->n].sid = NONE;
	r->v[r->n].gone = false;
	r->n++;
}

struct rootsort {
	const struct tctx	*c;
	const struct troot	*r;
};

static int
cmp_root(void *ctxp, uint32_t a, uint32_t b)
{
	const struct rootsort *s = ctxp;

	return date_cmp(s->c, s->r[a].rep, s->r[b].rep);
}

/*
 * Sorts the roots that are not gone by their rep; returns the count and
 * their indexes in *order_r (malloc'ed).
 */
static size_t
roots_sorted(const struct tctx *c, const struct rootvec *r,
    uint32_t **order_r)
{
	struct rootsort rs = { c, r->v };
	uint32_t *o = xreallocarray(NULL, r->n > 0 ? r->n : 1, sizeof(*o));
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (!r->v[i].gone)
			o[k++] = (uint32_t)i;
	}
	imap_sort_indexes(o, k, cmp_root, &rs);
	*order_r = o;
	return k;
}

/*
 * Steps 2 and 3: the parentless nodes are the children of the root; a
 * dummy below the root is spliced out, its children going to the nearest
 * ancestor that is real or a root (anc[], filled along dummy chains
 * without recursion); a top-level dummy with no children disappears and
 * one with a single child gives way to it.  The phase-1 parent links are
 * turned into child lists here.
 */
static void
refs_prune(struct tctx *c, struct rootvec *roots)
{
	uint32_t *anc, *stack;

	anc = xreallocarray(NULL, c->nt > 0 ? c->nt : 1, sizeof(*anc));
	stack = xreallocarray(NULL, c->nt > 0 ? c->nt : 1, sizeof(*stack));
	for (size_t i = 0; i < c->nt; i++)
		anc[i] = UNSET;
	for (size_t i = 0; i < c->nt; i++) {
		size_t sp = 0;
		uint32_t y = (uint32_t)i, v;

		while (is_dummy(c, y) && c->t[y].parent != NONE &&
		    anc[y] == UNSET) {
			stack[sp++] = y;
			y = c->t[y].parent;
		}
		if (sp == 0)
			continue;
		if (!is_dummy(c, y) || c->t[y].parent == NONE)
			v = y;
		else
			v = anc[y];
		while (sp > 0)
			anc[stack[--sp]] = v;
	}
	free(stack);
	for (size_t i = 0; i < c->nt; i++) {
		uint32_t p = c->t[i].parent;

		if (is_dummy(c, (uint32_t)i) || p == NONE)
			continue;
		if (is_dummy(c, p) && c->t[p].parent != NONE)
			p = anc[p];
		c->t[i].next = c->t[p].first;
		c->t[p].first = (uint32_t)i;
	}
	free(anc);
	for (size_t i = 0; i < c->nt; i++) {
		uint32_t x = (uint32_t)i, f = c->t[i].first;

		if (c->t[x].parent != NONE)
			continue;
		if (is_dummy(c, x)) {
			if (f == NONE)
				continue;
			if (c->t[f].next == NONE) {
				c->t[x].first = NONE;
				x = f;
			}
		}
		root_push(roots, x, is_dummy(c, x) ?
		    c->t[children_min(c, x)].msg : c->t[x].msg);
	}
}

/*
 * Step 5, over the roots in step 4 order.  (B) keeps one root per thread
 * subject: a dummy beats a message, a non-reply beats a reply, otherwise
 * the first stays.  (C) merges every other root with that subject into
 * the entry: two dummies pool their children; a message joins a dummy,
 * and a reply joins a non-reply, as its child; otherwise a new dummy
 * takes both and the entry.
 */
static void
refs_subjects(struct tctx *c, struct rootvec *roots, const uint32_t *order,
    size_t k, imap_casemap_fn *casemap, void *casemap_ctx)
{
	const struct imap_sortmsg *msgs = c->msgs;
	struct strtab subj;
	bool created;

	strtab_init(&subj, k);
	for (size_t j = 0; j < k; j++) {
		uint32_t i = order[j], e, h;
		const struct imap_sortmsg *m = &msgs[roots->v[i].rep];
		size_t start = subj.arena.len;

		if (m->subject != NULL)
			casemap(m->subject, strlen(m->subject), &subj.arena,
			    casemap_ctx);
		if (subj.arena.len == start)
			continue;			/* (ii) empty */
		e = strtab_intern(&subj, start, &created);
		roots->v[i].sid = e;
		if (created) {
			subj.val[e] = i;
			continue;
		}
		h = subj.val[e];
		if (!is_dummy(c, roots->v[h].node) &&
		    (is_dummy(c, roots->v[i].node) ||
		    (msgs[roots->v[h].rep].subject_reply &&
		    !m->subject_reply)))
			subj.val[e] = i;
	}
	for (size_t j = 0; j < k; j++) {
		uint32_t i = order[j], e = roots->v[i].sid, h, cur, x, nx, d;
		bool cur_dummy, h_dummy;

		if (roots->v[i].gone || e == NONE || subj.val[e] == i)
			continue;
		h = subj.val[e];
		cur = roots->v[i].node;
		cur_dummy = is_dummy(c, cur);
		h_dummy = is_dummy(c, roots->v[h].node);
		if (cur_dummy && h_dummy) {
			for (x = c->t[cur].first; x != NONE; x = nx) {
				nx = c->t[x].next;
				child_add(c, roots->v[h].node, x);
			}
			c->t[cur].first = NONE;
			roots->v[i].gone = true;
		} else if (cur_dummy) {
			/*
			 * Cannot happen: a dummy always takes the entry in
			 * (B).  Kept so that the tree stays valid anyway.
			 */
			child_add(c, cur, roots->v[h].node);
			roots->v[h].gone = true;
			subj.val[e] = i;
		} else if (h_dummy || (msgs[roots->v[i].rep].subject_reply &&
		    !msgs[roots->v[h].rep].subject_reply)) {
			child_add(c, roots->v[h].node, cur);
			roots->v[i].gone = true;
		} else {
			d = node_new(c, NONE);
			child_add(c, d, roots->v[h].node);
			child_add(c, d, cur);
			roots->v[h].gone = true;
			roots->v[i].gone = true;
			root_push(roots, d, NONE);	/* rep: step 6 */
			roots->v[roots->n - 1].sid = e;
			subj.val[e] = (uint32_t)(roots->n - 1);
		}
	}
	strtab_free(&subj);
}

/*
 * Copies the forest below the virtual root vr (parent links set) into
 * th->nodes in pre-order.
 */
static void
tree_emit(struct tctx *c, uint32_t vr, struct imap_thread *th)
{
	uint32_t *outidx, x, k = 0;

	th->nodes = xreallocarray(NULL, c->nt > 0 ? c->nt : 1,
	    sizeof(*th->nodes));
	outidx = xreallocarray(NULL, c->nt > 0 ? c->nt : 1, sizeof(*outidx));
	for (size_t i = 0; i < c->nt; i++)
		outidx[i] = NONE;
	/* Pass 1: number the nodes in pre-order. */
	x = c->t[vr].first;
	while (x != NONE) {
		outidx[x] = k++;
		if (c->t[x].first != NONE) {
			x = c->t[x].first;
			continue;
		}
		while (x != vr && c->t[x].next == NONE)
			x = c->t[x].parent;
		x = x == vr ? NONE : c->t[x].next;
	}
	/* Pass 2: the links, renumbered. */
	for (size_t i = 0; i < c->nt; i++) {
		struct imap_thread_node *o;
		const struct rnode *r = &c->t[i];

		if (outidx[i] == NONE)
			continue;
		o = &th->nodes[outidx[i]];
		o->msg = r->msg;
		o->parent = r->parent == vr ? NONE : outidx[r->parent];
		o->first_child = r->first == NONE ? NONE : outidx[r->first];
		o->next = r->next == NONE ? NONE : outidx[r->next];
		if (r->parent == vr)
			th->nroots++;
	}
	th->nnodes = k;
	th->first_root = k > 0 ? 0 : NONE;
	free(outidx);
}

/*
 * Step 6 and the result: every set of siblings by sent date, the roots
 * too (a dummy as its first child), below a virtual root; then parent
 * links and the pre-order copy into th.
 */
static void
forest_finish(struct tctx *c, struct rootvec *roots, struct imap_thread *th)
{
	uint32_t *order, vr;
	size_t k;

	for (size_t i = 0; i < c->nt; i++) {
		if (c->t[i].first != NONE)
			children_sort(c, (uint32_t)i);
	}
	for (size_t i = 0; i < roots->n; i++) {
		if (!roots->v[i].gone && is_dummy(c, roots->v[i].node))
			roots->v[i].rep =
			    c->t[c->t[roots->v[i].node].first].msg;
	}
	k = roots_sorted(c, roots, &order);
	vr = node_new(c, NONE);
	for (size_t j = k; j > 0; j--)
		child_add(c, vr, roots->v[order[j - 1]].node);
	free(order);
	for (size_t i = 0; i < c->nt; i++) {
		for (uint32_t x = c->t[i].first; x != NONE; x = c->t[x].next)
			c->t[x].parent = (uint32_t)i;
	}
	tree_emit(c, vr, th);
}

static void
build_references(struct tctx *c, struct imap_thread *th,
    imap_casemap_fn *casemap, void *casemap_ctx)
{
	struct strtab ids;
	struct rootvec roots = { NULL, 0, 0 };
	uint32_t *order;
	size_t k;
	bool sorted = true;

	/* Step 1, by ascending seq ("the first (lowest sequence number)"). */
	order = xreallocarray(NULL, c->n > 0 ? c->n : 1, sizeof(*order));
	for (size_t i = 0; i < c->n; i++) {
		order[i] = (uint32_t)i;
		if (i > 0 && c->msgs[i - 1].seq > c->msgs[i].seq)
			sorted = false;
	}
	if (!sorted)
		imap_sort_indexes(order, c->n, cmp_msg_seq, c);
	c->cap = c->n + 64;
	c->t = xreallocarray(NULL, c->cap, sizeof(*c->t));
	strtab_init(&ids, c->n * 2);
	for (size_t i = 0; i < c->n; i++)
		thread_add_msg(c, &ids, order[i]);
	strtab_free(&ids);
	free(order);

	refs_prune(c, &roots);
	/* Step 4, then 5 in that order. */
	k = roots_sorted(c, &roots, &order);
	refs_subjects(c, &roots, order, k, casemap, casemap_ctx);
	free(order);
	forest_finish(c, &roots, th);
	free(roots.v);
}

/*
 * ORDEREDSUBJECT: sort by (base subject, sent date, seq); each run of one
 * subject is a thread whose first message is the parent of all others;
 * threads by the sent date (then seq) of their first message.
 */
struct subjsort {
	const struct tctx *c;
	const char	*arena;
	size_t		*off;
};

static int
cmp_subj_key(const struct subjsort *s, uint32_t a, uint32_t b)
{
	size_t la = s->off[a + 1] - s->off[a], lb = s->off[b + 1] - s->off[b];
	int r = 0;

	if (la > 0 && lb > 0)
		r = memcmp(s->arena + s->off[a], s->arena + s->off[b],
		    la < lb ? la : lb);
	if (r != 0)
		return r;
	return la < lb ? -1 : la > lb;
}

static int
cmp_subj(void *ctxp, uint32_t a, uint32_t b)
{
	const struct subjsort *s = ctxp;
	int r = cmp_subj_key(s, a, b);

	return r != 0 ? r : date_cmp(s->c, a, b);
}

static void
build_orderedsubject(struct tctx *c, struct imap_thread *th,
    imap_casemap_fn *casemap, void *casemap_ctx)
{
	const struct imap_sortmsg *msgs = c->msgs;
	struct buf arena = BUF_INIT;
	struct rootvec roots = { NULL, 0, 0 };
	struct subjsort s;
	uint32_t *order;

	s.c = c;
	s.off = xreallocarray(NULL, c->n + 1, sizeof(*s.off));
	for (size_t i = 0; i < c->n; i++) {
		s.off[i] = arena.len;
		if (msgs[i].subject != NULL)
			casemap(msgs[i].subject, strlen(msgs[i].subject),
			    &arena, casemap_ctx);
	}
	s.off[c->n] = arena.len;
	s.arena = arena.data;
	order = xreallocarray(NULL, c->n > 0 ? c->n : 1, sizeof(*order));
	for (size_t i = 0; i < c->n; i++)
		order[i] = (uint32_t)i;
	imap_sort_indexes(order, c->n, cmp_subj, &s);

	/* Node i is message i; each run is a first message + children. */
	c->cap = c->n + 1;
	c->t = xreallocarray(NULL, c->cap, sizeof(*c->t));
	for (size_t i = 0; i < c->n; i++)
		node_new(c, (uint32_t)i);
	for (size_t i = 0, j; i < c->n; i = j) {
		for (j = i + 1; j < c->n &&
		    cmp_subj_key(&s, order[i], order[j]) == 0; j++)
			child_add(c, order[i], order[j]);
		root_push(&roots, order[i], order[i]);
	}
	free(order);
	free(s.off);
	buf_free(&arena);
	forest_finish(c, &roots, th);
	free(roots.v);
}

struct imap_thread *
imap_thread_build(enum imap_thread_alg alg, const struct imap_sortmsg *msgs,
    size_t n, imap_casemap_fn *casemap, void *casemap_ctx)
{
	struct imap_thread *th = xcalloc(1, sizeof(*th));
	struct tctx c;

	if (n >= (size_t)1 << 31)
		fatalx("thread: %zu messages", n);
	if (casemap == NULL)
		casemap = imap_casemap_simple;
	memset(&c, 0, sizeof(c));
	c.msgs = msgs;
	c.n = n;
	c.date = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*c.date));
	for (size_t i = 0; i < n; i++)
		c.date[i] = imap_sort_date(&msgs[i]);
	if (alg == IMAP_THREAD_ORDEREDSUBJECT)
		build_orderedsubject(&c, th, casemap, casemap_ctx);
	else
		build_references(&c, th, casemap, casemap_ctx);
	free(c.t);
	free(c.tmp);
	free(c.refs);
	free(c.date);
	return th;
}

void
imap_thread_free(struct imap_thread **thp)
{
	struct imap_thread *th = *thp;

	if (th == NULL)
		return;
	*thp = NULL;
	free(th->nodes);
	free(th);
}

/*
 * thread-list = "(" (thread-members / thread-nested) ")"
 * thread-members = nz-number *(SP nz-number) [SP thread-nested]
 * thread-nested = 2*thread-list
 *
 * A message with one child continues its chain ("3 6"); one with several
 * lists each child in parentheses ("6 (4 23)(44 7 96)"); a top-level
 * dummy is only its children's lists ("((3)(5))").  So a node is in
 * parentheses when it is a root, or a child of a dummy, or one of two or
 * more siblings.
 */
static bool
wrapped(const struct imap_thread *th, uint32_t x)
{
	const struct imap_thread_node *nd = th->nodes;
	uint32_t p = nd[x].parent;

	return p == NONE || nd[p].msg == NONE ||
	    nd[nd[p].first_child].next != NONE;
}

void
imap_thread_write(const struct imap_thread *th,
    const struct imap_sortmsg *msgs, bool uid, struct buf *out)
{
	const struct imap_thread_node *nd = th->nodes;
	uint32_t x = th->first_root;

	while (x != NONE) {
		if (wrapped(th, x))
			buf_putc(out, '(');
		if (nd[x].msg != NONE) {
			const struct imap_sortmsg *m = &msgs[nd[x].msg];

			buf_put_u64(out, uid ? m->uid : m->seq);
			if (nd[x].first_child != NONE)
				buf_putc(out, ' ');
		}
		if (nd[x].first_child != NONE) {
			x = nd[x].first_child;
			continue;
		}
		/* Close x and every ancestor whose last child is done. */
		for (;;) {
			if (wrapped(th, x))
				buf_putc(out, ')');
			if (nd[x].next != NONE) {
				x = nd[x].next;
				break;
			}
			x = nd[x].parent;
			if (x == NONE)
				break;
		}
	}
}
