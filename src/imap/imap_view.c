/*
 * imap_view - the selected mailbox as one session sees it: the uid of every
 * message number, its flags, and how far the store's change feed has been
 * read.  Message numbers change only when this session announces EXPUNGE.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn.h"
#include "core/hub.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "server.h"
#include "store/store.h"

void
imap_condstore_enable(struct imap_session *s)
{
	if (s->enabled & IMAP_EN_CONDSTORE)
		return;
	s->enabled |= IMAP_EN_CONDSTORE;
	if (s->view != NULL)
		imap_send(s, "* OK [HIGHESTMODSEQ %llu] Highest",
		    (unsigned long long)s->view->modseq);
}

void
imap_write_vanished(struct buf *b, bool earlier, const uint32_t *uids,
    size_t n)
{
	if (n == 0)
		return;
	buf_puts(b, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
	imap_seqset_format_array(uids, n, b);
	buf_puts(b, "\r\n");
}

struct imap_view *
imap_view_new(const struct mailbox_info *mi, bool readonly)
{
	struct imap_view *v = xcalloc(1, sizeof(*v));

	v->mailbox = mi->id;
	v->name = xstrdup(mi->name);
	v->readonly = readonly;
	v->uidvalidity = mi->uidvalidity;
	v->uidnext = mi->uidnext;
	v->modseq = mi->highestmodseq;
	v->first_recent = mi->first_recent_uid;
	buf_init(&v->keywords);
	return v;
}

void
imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;

	if (v == NULL)
		return;
	hub_unsubscribe(&v->sub);
	free(v->name);
	free(v->uids);
	free(v->flags);
	free(v->kwhash);
	free(v->gone);
	free(v->searchres);
	buf_free(&v->keywords);
	free(v);
	*vp = NULL;
}

static void
view_grow(struct imap_view *v, uint32_t need)
{
	uint32_t ncap;

	if (need <= v->cap)
		return;
	ncap = v->cap ? v->cap : 64;
	while (ncap < need)
		ncap *= 2;
	v->uids = xreallocarray(v->uids, ncap, sizeof(*v->uids));
	v->flags = xreallocarray(v->flags, ncap, sizeof(*v->flags));
	v->kwhash = xreallocarray(v->kwhash, ncap, sizeof(*v->kwhash));
	v->cap = ncap;
}

bool
imap_view_add_keywords(struct imap_view *v, const char *kws)
{
	const char *p = kws;
	bool added = false;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *q = v->keywords.data;
		bool known = false;

		while (q != NULL && *q != '\0') {
			const char *qe = strchr(q, ' ');
			size_t qn = qe ? (size_t)(qe - q) : strlen(q);

			if (qn == n && strncasecmp(q, p, n) == 0) {
				known = true;
				break;
			}
			q = qe ? qe + 1 : NULL;
		}
		if (!known && n > 0 && v->keywords.len < 8192) {
			if (v->keywords.len > 0)
				buf_putc(&v->keywords, ' ');
			buf_append(&v->keywords, p, n);
			added = true;
		}
		p = e ? e + 1 : NULL;
	}
	return added;
}

static void
write_flag_names(struct buf *b, const struct imap_view *v, bool perm)
{
	buf_puts(b, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	if (v->keywords.len > 0) {
		buf_putc(b, ' ');
		buf_append(b, v->keywords.data, v->keywords.len);
	}
	if (perm)
		buf_puts(b, " \\*");
	buf_putc(b, ')');
}

void
imap_view_write_flags(const struct imap_view *v, struct buf *b)
{
	buf_puts(b, "* FLAGS ");
	write_flag_names(b, v, false);
	buf_puts(b, "\r\n* OK [PERMANENTFLAGS ");
	if (v->readonly)
		buf_puts(b, "()");
	else
		write_flag_names(b, v, true);
	buf_puts(b, "] Flags permitted.\r\n");
}

void
imap_view_learn_keywords(struct imap_session *s, const char *kws)
{
	struct buf b = BUF_INIT;

	if (s->view == NULL || kws == NULL || *kws == '\0' ||
	    !imap_view_add_keywords(s->view, kws))
		return;
	imap_view_write_flags(s->view, &b);
	imap_send_buf(s, &b);
	buf_free(&b);
}

static void
load_cb(void *ctx, const struct mail_row *r)
{
	struct imap_view *v = ctx;

	view_grow(v, v->count + 1);
	v->uids[v->count] = r->uid;
	v->flags[v->count] = (uint8_t)(r->flags & MAIL_FLAGS_ALL);
	v->kwhash[v->count] = imap_keyword_hash(r->keywords);
	if (r->keywords != NULL && *r->keywords != '\0')
		imap_view_add_keywords(v, r->keywords);
	v->count++;
}

int
imap_view_load(struct imap_view *v, int64_t account, const char **error_r)
{
	struct mailbox_info mi;

	/* Read the counter first: everything up to it is in the scan. */
	if (store_mailbox_get_id(srv->store, account, v->mailbox, &mi) != 1) {
		*error_r = "Mailbox doesn't exist";
		return -1;
	}
	v->modseq = mi.highestmodseq;
	v->uidnext = mi.uidnext;
	v->uidvalidity = mi.uidvalidity;
	v->count = 0;
	v->recent = 0;
	switch (imap_snap_load(v, account, mi.highestmodseq, error_r)) {
	case 1:
		break;
	case 0:
		if (store_mails_scan(srv->store, account, v->mailbox, 0,
		    load_cb, v, error_r) < 0)
			return -1;
		imap_snap_put(v, account);
		break;
	default:
		return -1;
	}
	if (v->count > 0 && v->uids[v->count - 1] >= v->uidnext)
		v->uidnext = v->uids[v->count - 1] + 1;
	return 0;
}

void
imap_view_claim_recent(struct imap_view *v, int64_t account,
    uint32_t stored_first)
{
	/* EXAMINE must not take \Recent from anyone (RFC 3501 6.3.2). */
	uint32_t first = v->readonly ?
	    imap_recent_peek(account, v->mailbox, stored_first) :
	    imap_recent_claim(account, v->mailbox, stored_first, v->uidnext);

	v->first_recent = first;
	/* Claimed all the same, so IMAP4rev1 sessions don't see it. */
	if (v->no_recent)
		return;
	for (uint32_t i = v->count; i-- > 0 && v->uids[i] >= first;) {
		if (!(v->flags[i] & VIEW_RECENT)) {
			v->flags[i] |= VIEW_RECENT;
			v->recent++;
		}
	}
}

static void
changed_cb(void *ctx)
{
	struct imap_session *s = ctx;

	if (s->view == NULL)
		return;
	s->view->dirty = true;
	if (s->idling)
		imap_view_sync(s, true);
}

void
imap_view_watch(struct imap_session *s)
{
	s->view->sub = hub_subscribe(s->account, s->view->mailbox, changed_cb,
	    s);
}

uint32_t
imap_view_index(const struct imap_view *v, uint32_t uid, bool *found)
{
	uint32_t lo = 0, hi = v->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < v->count && v->uids[lo] == uid;
	return lo;
}

uint32_t
imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	bool found;
	uint32_t i = imap_view_index(v, uid, &found);

	return found ? i + 1 : 0;
}

bool
imap_view_is_gone(const struct imap_view *v, uint32_t idx)
{
	uint32_t uid = v->uids[idx];

	for (uint32_t i = 0; i < v->ngone; i++)
		if (v->gone[i] == uid)
			return true;
	return false;
}

struct sync_ctx {
	struct imap_session *s;
	struct buf	 out;
	struct imap_changes ch;
};

static void
changes_row(void *ctx, const struct mail_row *r)
{
	struct imap_changes *ch = ctx;

	ch->rows = xgrowarray(ch->rows, ch->nrows, sizeof(*ch->rows));
	ch->kws = xgrowarray(ch->kws, ch->nrows, sizeof(*ch->kws));
	ch->rows[ch->nrows] = *r;
	ch->kws[ch->nrows] = r->keywords ? xstrdup(r->keywords) : NULL;
	ch->rows[ch->nrows].keywords = ch->kws[ch->nrows];
	ch->nrows++;
}

static void
changes_expunge(void *ctx, uint32_t uid)
{
	struct imap_changes *ch = ctx;

	ch->expunged = xgrowarray(ch->expunged, ch->nexpunged,
	    sizeof(*ch->expunged));
	ch->expunged[ch->nexpunged++] = uid;
}

int
imap_changes_read(int64_t account, int64_t mailbox, uint64_t since,
    struct imap_changes *ch, const char **error_r)
{
	memset(ch, 0, sizeof(*ch));
	return store_mails_scan(srv->store, account, mailbox, since,
	    changes_row, ch, error_r) < 0 || store_expunged_scan(srv->store,
	    account, mailbox, since, changes_expunge, ch, error_r) < 0 ?
	    -1 : 0;
}

void
imap_changes_free(struct imap_changes *ch)
{
	for (size_t i = 0; i < ch->nrows; i++)
		free(ch->kws[i]);
	free(ch->kws);
	free(ch->rows);
	free(ch->expunged);
	memset(ch, 0, sizeof(*ch));
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
imap_view_drop_marked(struct imap_view *v)
{
	uint32_t w = 0;

	for (uint32_t i = 0; i < v->count; i++) {
		if (v->flags[i] == VIEW_DROP)
			continue;
		v->uids[w] = v->uids[i];
		v->flags[w] = v->flags[i];
		v->kwhash[w] = v->kwhash[i];
		w++;
	}
	v->count = w;
}

static void
announce_expunges(struct imap_session *s)
{
	struct imap_view *v = s->view;

	if (v->ngone == 0)
		return;
	/* Remove from the highest number down so numbers stay valid. */
	for (uint32_t i = v->count; i-- > 0;) {
		bool gone = false;

		for (uint32_t j = 0; j < v->ngone; j++)
			if (v->gone[j] == v->uids[i]) {
				gone = true;
				break;
			}
		if (gone) {
			/* QRESYNC: one VANISHED for all (RFC 7162 3.2.10). */
			if (!(s->enabled & IMAP_EN_QRESYNC))
				imap_send(s, "* %u EXPUNGE", i + 1);
			if (v->flags[i] & VIEW_RECENT)
				v->recent--;
			v->flags[i] = VIEW_DROP;
		}
	}
	if (s->enabled & IMAP_EN_QRESYNC) {
		struct buf b = BUF_INIT;
		uint32_t *uids = xcalloc(v->ngone, sizeof(*uids));

		memcpy(uids, v->gone, v->ngone * sizeof(*uids));
		qsort(uids, v->ngone, sizeof(*uids), uid_cmp);
		imap_write_vanished(&b, false, uids, v->ngone);
		imap_send_buf(s, &b);
		buf_free(&b);
		free(uids);
	}
	imap_view_drop_marked(v);
	v->ngone = 0;
}

void
imap_view_sync(struct imap_session *s, bool allow_expunge)
{
	struct imap_view *v = s->view;
	struct mailbox_info mi;
	struct sync_ctx sc;
	const char *err;
	uint32_t old_count, old_recent;
	bool newkw = false, grew;
	int r;

	if (v == NULL)
		return;
	if (!v->dirty) {
		if (allow_expunge && v->ngone > 0)
			announce_expunges(s);
		return;
	}
	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	r = store_mailbox_get_id(srv->store, s->account, v->mailbox, &mi);
	if (r != 1) {
		/* Deleted or renamed away under us. */
		if (r == 0) {
			imap_send(s, "* BYE Selected mailbox was deleted, have "
			    "to disconnect.");
			conn_close(s->conn, "mailbox deleted");
		}
		return;
	}
	v->dirty = false;
	if (imap_changes_read(s->account, v->mailbox, v->modseq, &sc.ch,
	    &err) < 0) {
		log_warnx("s=%s imap sync failed: %s", s->conn->sid, err);
		v->dirty = true;
		goto out;
	}
	old_count = v->count;
	old_recent = v->recent;
	/* A new keyword is announced before any FETCH shows it. */
	for (size_t i = 0; i < sc.ch.nrows; i++)
		if (sc.ch.rows[i].keywords != NULL &&
		    imap_view_add_keywords(v, sc.ch.rows[i].keywords))
			newkw = true;
	if (newkw) {
		imap_view_write_flags(v, &sc.out);
		imap_send_buf(s, &sc.out);
	}
	for (size_t i = 0; i < sc.ch.nrows; i++) {
		const struct mail_row *row = &sc.ch.rows[i];
		uint32_t kh = imap_keyword_hash(row->keywords);
		bool found;
		uint32_t idx = imap_view_index(v, row->uid, &found);

		if (found) {
			uint8_t nf = (uint8_t)((v->flags[idx] & VIEW_RECENT) |
			    (row->flags & MAIL_FLAGS_ALL));

			if (nf != v->flags[idx] || kh != v->kwhash[idx]) {
				struct buf b = BUF_INIT;

				v->flags[idx] = nf;
				v->kwhash[idx] = kh;
				buf_printf(&b, "* %u FETCH (", idx + 1);
				if (s->enabled & IMAP_EN_CONDSTORE)
					buf_printf(&b, "UID %u ", row->uid);
				buf_puts(&b, "FLAGS ");
				imap_write_flags(&b, nf & MAIL_FLAGS_ALL,
				    (nf & VIEW_RECENT) != 0, row->keywords);
				if (s->enabled & IMAP_EN_CONDSTORE)
					buf_printf(&b, " MODSEQ (%llu)",
					    (unsigned long long)row->modseq);
				buf_puts(&b, ")\r\n");
				imap_send_buf(s, &b);
				buf_free(&b);
			}
			continue;
		}
		if (row->uid < v->uidnext && (v->count == 0 ||
		    row->uid <= v->uids[v->count - 1]))
			continue;	/* expunged before we saw it */
		if (v->count > 0 && row->uid <= v->uids[v->count - 1])
			continue;
		view_grow(v, v->count + 1);
		v->uids[v->count] = row->uid;
		v->flags[v->count] = (uint8_t)(row->flags & MAIL_FLAGS_ALL);
		v->kwhash[v->count] = kh;
		v->count++;
		if (row->uid >= v->uidnext)
			v->uidnext = row->uid + 1;
	}
	for (size_t i = 0; i < sc.ch.nexpunged; i++) {
		bool found, dup = false;
		uint32_t idx = imap_view_index(v, sc.ch.expunged[i], &found);

		if (!found)
			continue;
		/*
		 * Added by this sync and gone already (the two scans race):
		 * the client never heard of it, so no EXPUNGE may name its
		 * number (RFC 9051 7.5.1).
		 */
		if (idx >= old_count) {
			memmove(&v->uids[idx], &v->uids[idx + 1],
			    (v->count - idx - 1) * sizeof(*v->uids));
			memmove(&v->flags[idx], &v->flags[idx + 1],
			    (v->count - idx - 1) * sizeof(*v->flags));
			memmove(&v->kwhash[idx], &v->kwhash[idx + 1],
			    (v->count - idx - 1) * sizeof(*v->kwhash));
			v->count--;
			continue;
		}
		for (uint32_t j = 0; j < v->ngone; j++)
			if (v->gone[j] == sc.ch.expunged[i])
				dup = true;
		if (dup)
			continue;
		v->gone = xgrowarray(v->gone, v->ngone, sizeof(*v->gone));
		v->gone[v->ngone++] = sc.ch.expunged[i];
	}
	/* New mail is recent for the first session to hear of it. */
	grew = v->count > old_count;
	if (grew)
		imap_view_claim_recent(v, s->account, v->first_recent);
	if (mi.highestmodseq > v->modseq)
		v->modseq = mi.highestmodseq;
	if (allow_expunge)
		announce_expunges(s);
	/* After the EXPUNGEs: EXISTS counts what the client has left. */
	if (grew)
		imap_send(s, "* %u EXISTS", v->count);
	if (v->recent != old_recent)
		imap_send(s, "* %u RECENT", v->recent);
out:
	imap_changes_free(&sc.ch);
	buf_free(&sc.out);
}

int
imap_view_resolve(struct imap_view *v, const char *set, bool uid,
    uint32_t **idx_r)
{
	struct imap_seqset ss;
	struct imap_seqset_iter it;
	uint32_t *idx = NULL, n = 0, value;

	*idx_r = NULL;
	imap_seqset_init(&ss);
	if (imap_seqset_parse(set, strlen(set), &ss) < 0) {
		imap_seqset_free(&ss);
		return -1;
	}
	if (ss.searchres) {
		/* "$": the saved result, uids or not (RFC 5182 2.1). */
		imap_seqset_free(&ss);
		idx = xcalloc(v->nsearchres + 1, sizeof(*idx));
		for (uint32_t i = 0; i < v->nsearchres; i++) {
			bool found;
			uint32_t k = imap_view_index(v, v->searchres[i], &found);

			if (found)
				idx[n++] = k;
		}
		*idx_r = idx;
		return (int)n;
	}
	if (uid) {
		uint32_t star = v->count > 0 ? v->uids[v->count - 1] : 0;

		/* "*" is the highest uid; with no messages it matches none
		 * but a range "n:*" still means n:(uidnext-1). */
		if (star == 0)
			star = v->uidnext > 1 ? v->uidnext - 1 : 0;
		if (star == 0 && ss.has_star) {
			imap_seqset_free(&ss);
			return 0;
		}
		imap_seqset_resolve(&ss, star);
		idx = xcalloc(v->count ? v->count : 1, sizeof(*idx));
		/* Walk the view: bounded by the mailbox, not the set. */
		for (uint32_t i = 0; i < v->count; i++)
			if (imap_seqset_contains(&ss, v->uids[i], star))
				idx[n++] = i;
	} else {
		if (v->count == 0) {
			imap_seqset_free(&ss);
			return -2;
		}
		imap_seqset_resolve(&ss, v->count);
		if (imap_seqset_max_value(&ss) > v->count) {
			imap_seqset_free(&ss);
			return -2;
		}
		idx = xcalloc(v->count, sizeof(*idx));
		imap_seqset_iter_init(&it, &ss);
		while (imap_seqset_iter_next(&it, &value))
			idx[n++] = value - 1;
	}
	imap_seqset_free(&ss);
	*idx_r = idx;
	return (int)n;
}
