/*
 * cmd_mailbox - IMAP mailbox commands: SELECT, EXAMINE, CREATE, DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, CLOSE, UNSELECT,
 * EXPUNGE (and UID EXPUNGE, RFC 4315).
 *
 * Names travel in modified UTF-7 and are stored in UTF-8; the hierarchy
 * separator is "/".  imap_mailbox_from_wire() refuses names that could
 * reach outside the account or confuse clients ("..", empty levels,
 * control characters).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "core/util.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "imap_utf7.h"
#include "server.h"
#include "store/store.h"

struct mbox_job {
	struct buf	 name;
	struct buf	 name2;
	struct mailbox_info mi;
	struct imap_view *view;
	bool		 readonly;
	bool		 on;
	unsigned	 su;
	int		 rc;
	const char	*error;
	uint32_t	*uids;
	size_t		 nuids;
	/* SELECT (QRESYNC (uidvalidity modseq [known-uids])). */
	bool		 qresync;
	uint32_t	 q_uidvalidity;
	uint64_t	 q_modseq;
	struct imap_seqset q_known;
	struct buf	 q_out;		/* VANISHED and FETCH responses */
};

static void
mbox_job_free(void *p)
{
	struct mbox_job *j = p;

	buf_free(&j->name);
	buf_free(&j->name2);
	imap_view_free(&j->view);
	free(j->uids);
	imap_seqset_free(&j->q_known);
	buf_free(&j->q_out);
	free(j);
}

static struct mbox_job *
mbox_job_new(struct imap_cmd *cmd)
{
	struct mbox_job *j = xcalloc(1, sizeof(*j));

	buf_init(&j->name);
	buf_init(&j->name2);
	imap_seqset_init(&j->q_known);
	buf_init(&j->q_out);
	cmd->ctx = j;
	cmd->ctx_free = mbox_job_free;
	return j;
}

/* Reads argument i as a mailbox name into out (UTF-8).  0 or -1 (done). */
static int
mailbox_arg(struct imap_cmd *cmd, size_t i, struct buf *out)
{
	const char *wire, *err;

	if (i >= cmd->a.count ||
	    (wire = imap_arg_astring(&cmd->a.args[i])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid mailbox name argument");
		return -1;
	}
	if (imap_mailbox_from_wire(cmd->s, wire, out, &err) < 0) {
		imap_cmd_done(cmd, "NO", "[CANNOT] %s", err);
		return -1;
	}
	return 0;
}

struct qresync_ctx {
	struct mbox_job	*j;
	uint32_t	*uids;
	size_t		 n;
};

static void
qresync_gone_cb(void *ctx, uint32_t uid)
{
	struct qresync_ctx *q = ctx;

	if (q->j->q_known.count > 0 &&
	    !imap_seqset_contains(&q->j->q_known, uid, UINT32_MAX))
		return;
	q->uids = xgrowarray(q->uids, q->n, sizeof(*q->uids));
	q->uids[q->n++] = uid;
}

static void
qresync_row_cb(void *ctx, const struct mail_row *r)
{
	struct qresync_ctx *q = ctx;
	struct mbox_job *j = q->j;
	uint32_t seq = imap_view_seq(j->view, r->uid);

	if (seq == 0)
		return;
	buf_printf(&j->q_out, "* %u FETCH (UID %u FLAGS ", seq, r->uid);
	imap_write_flags(&j->q_out, r->flags & MAIL_FLAGS_ALL,
	    (j->view->flags[seq - 1] & VIEW_RECENT) != 0, r->keywords);
	buf_printf(&j->q_out, " MODSEQ (%llu))\r\n",
	    (unsigned long long)r->modseq);
}

/*
 * QRESYNC (RFC 7162 3.2.5): what vanished and what changed since the
 * client's modseq, when its uidvalidity is still the mailbox's.
 */
static int
qresync_work(struct mbox_job *j, int64_t account)
{
	struct qresync_ctx q = { j, NULL, 0 };
	struct buf v = BUF_INIT;

	if (j->q_uidvalidity != j->view->uidvalidity)
		return 0;
	if (store_expunged_scan(srv->store, account, j->mi.id, j->q_modseq,
	    qresync_gone_cb, &q, &j->error) < 0) {
		free(q.uids);
		return -1;
	}
	imap_write_vanished(&v, true, q.uids, q.n);
	free(q.uids);
	buf_append(&j->q_out, v.data, v.len);
	buf_free(&v);
	return store_mails_scan(srv->store, account, j->mi.id, j->q_modseq,
	    qresync_row_cb, &q, &j->error);
}

static void
select_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;
	int64_t account = cmd->s->account;
	uint32_t stored = 0;

	j->rc = 0;
	j->view = imap_view_new(&j->mi, j->readonly);
	j->view->first_recent = UINT32_MAX;
	j->view->no_recent = (cmd->s->enabled & IMAP_EN_REV2) != 0;
	if (imap_view_load(j->view, account, &j->error) < 0) {
		j->rc = -1;
		return;
	}
	/*
	 * Persist the claim so a restart doesn't make old mail recent: a
	 * write, so only when mail came since the last claim.  What arrives
	 * between the lookup and now is claimed in memory, like mail that
	 * arrives while selected.
	 */
	if (!j->readonly && j->mi.first_recent_uid >= j->mi.uidnext)
		stored = j->mi.first_recent_uid;
	else if (!j->readonly && store_mailbox_claim_recent(srv->store,
	    account, j->mi.id, &stored, &j->error) < 0) {
		j->rc = -1;
		return;
	}
	/* EXAMINE shows \Recent without taking it (RFC 3501 6.3.2). */
	imap_view_claim_recent(j->view, account, j->readonly ?
	    j->mi.first_recent_uid : stored);
	if (j->qresync && qresync_work(j, account) < 0)
		j->rc = -1;
}

static void
select_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *j = cmd->ctx;
	struct imap_view *v;
	struct buf b = BUF_INIT;

	if (j->rc < 0) {
		imap_cmd_done(cmd, "NO", "%s", j->error ? j->error :
		    "Select failed");
		return;
	}
	v = s->view = j->view;
	j->view = NULL;
	s->state = IMAP_SELECTED;
	imap_view_watch(s);
	imap_view_write_flags(v, &b);
	buf_printf(&b, "* %u EXISTS\r\n", v->count);
	if (s->enabled & IMAP_EN_REV2) {
		/*
		 * RFC 9051 6.3.2: no RECENT and no [UNSEEN]; a LIST response
		 * gives the mailbox name as the server spells it.
		 */
		buf_puts(&b, "* LIST () \"/\" ");
		imap_mailbox_to_wire(s, v->name, &b);
		buf_puts(&b, "\r\n");
	} else {
		buf_printf(&b, "* %u RECENT\r\n", v->recent);
		for (uint32_t i = 0; i < v->count; i++)
			if (!(v->flags[i] & MAIL_SEEN)) {
				buf_printf(&b, "* OK [UNSEEN %u] First "
				    "unseen.\r\n", i + 1);
				break;
			}
	}
	buf_printf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n", v->uidvalidity,
	    v->uidnext);
	/* Modseqs are persistent: always announced (RFC 7162 3.1.2.1). */
	buf_printf(&b, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    (unsigned long long)v->modseq);
	buf_printf(&b, "* OK [MAILBOXID (M%lld)] Ok\r\n",
	    (long long)v->mailbox);
	buf_append(&b, j->q_out.data, j->q_out.len);
	imap_send_buf(s, &b);
	buf_free(&b);
	imap_cmd_done(cmd, "OK", "[%s] %s completed.", v->readonly ?
	    "READ-ONLY" : "READ-WRITE", v->readonly ? "Examine" : "Select");
}

/*
 * SELECT/EXAMINE parameters (RFC 4466): CONDSTORE, and QRESYNC (uidvalidity
 * modseq [known-uids [seq-match-data]]).  The seq-match-data is an
 * optimization the server may ignore: we report every expunge since modseq
 * among the known uids.  Returns 0, or -1 after answering.
 */
static int
select_params(struct imap_cmd *cmd, struct mbox_job *j)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *p, *q;
	size_t n, nq;

	if ((p = imap_arg_list(&cmd->a.args[1], &n)) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid SELECT parameters");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_eq(&p[i], "CONDSTORE")) {
			s->enabled |= IMAP_EN_CONDSTORE;
			continue;
		}
		if (!imap_arg_atom_eq(&p[i], "QRESYNC") || i + 1 >= n ||
		    (q = imap_arg_list(&p[i + 1], &nq)) == NULL ||
		    nq < 2 || nq > 4) {
			imap_cmd_done(cmd, "BAD", "Invalid SELECT parameters");
			return -1;
		}
		if (!(s->enabled & IMAP_EN_QRESYNC)) {
			imap_cmd_done(cmd, "BAD", "QRESYNC is not enabled");
			return -1;
		}
		{
			uint64_t uv, ms;
			const char *ks;

			if (q[0].type != IMAP_ARG_ATOM ||
			    parse_u64(q[0].str, q[0].len, UINT32_MAX, &uv) < 0 ||
			    uv == 0 || q[1].type != IMAP_ARG_ATOM ||
			    parse_u64(q[1].str, q[1].len, INT64_MAX, &ms) < 0 ||
			    ms == 0 || (nq >= 3 &&
			    ((ks = imap_arg_astring(&q[2])) == NULL ||
			    imap_seqset_parse(ks, strlen(ks), &j->q_known) < 0 ||
			    j->q_known.has_star || j->q_known.searchres)) ||
			    (nq == 4 && q[3].type != IMAP_ARG_LIST)) {
				imap_cmd_done(cmd, "BAD", "Invalid QRESYNC "
				    "parameters");
				return -1;
			}
			j->qresync = true;
			j->q_uidvalidity = (uint32_t)uv;
			j->q_modseq = ms;
		}
		i++;
	}
	return 0;
}

void
cmd_select(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *j;
	int r;

	/* RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected. */
	if (s->view != NULL) {
		imap_view_free(&s->view);
		s->state = IMAP_AUTH;
		imap_send(s, "* OK [CLOSED] Previous mailbox closed.");
	}
	if (cmd->a.count != 1 && cmd->a.count != 2) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0)
		return;
	if (cmd->a.count == 2 && select_params(cmd, j) < 0)
		return;
	j->readonly = strcmp(cmd->a.name, "EXAMINE") == 0;
	r = store_mailbox_get(srv->store, s->account, buf_cstr(&j->name),
	    &j->mi);
	if (r <= 0) {
		imap_cmd_done(cmd, "NO", r == 0 ? "[NONEXISTENT] Mailbox "
		    "doesn't exist: %s" : "[SERVERBUG] Internal error%s",
		    r == 0 ? buf_cstr(&j->name) : "");
		return;
	}
	imap_cmd_async(cmd, select_work, select_done);
}

static void
simple_done(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;

	if (j->rc < 0) {
		const char *e = j->error ? j->error : "Operation failed";

		if (strstr(e, "exists already") != NULL)
			imap_cmd_done(cmd, "NO", "[ALREADYEXISTS] %s", e);
		else if (strstr(e, "doesn't exist") != NULL)
			imap_cmd_done(cmd, "NO", "[NONEXISTENT] %s", e);
		else
			imap_cmd_done(cmd, "NO", "%s", e);
		return;
	}
	imap_cmd_done(cmd, "OK", "%s completed.", cmd->a.name);
}

static void
create_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;

	j->rc = store_mailbox_create(srv->store, cmd->s->account,
	    buf_cstr(&j->name), j->su, &j->error);
}

static const struct {
	unsigned bit;
	const char *name;
} special_uses[] = {
	{ MBOX_SU_ALL, "\\All" }, { MBOX_SU_ARCHIVE, "\\Archive" },
	{ MBOX_SU_DRAFTS, "\\Drafts" }, { MBOX_SU_FLAGGED, "\\Flagged" },
	{ MBOX_SU_JUNK, "\\Junk" }, { MBOX_SU_SENT, "\\Sent" },
	{ MBOX_SU_TRASH, "\\Trash" },
};

static void
write_special_use(struct buf *b, unsigned su)
{
	for (size_t i = 0; i < sizeof(special_uses) / sizeof(special_uses[0]);
	    i++)
		if (su & special_uses[i].bit) {
			buf_putc(b, ' ');
			buf_puts(b, special_uses[i].name);
		}
}

/*
 * CREATE name (USE (\Drafts ...)) (RFC 6154 3): 0, or -1 after answering
 * ([USEATTR] for an attribute we do not know).
 */
static int
create_params(struct imap_cmd *cmd, struct mbox_job *j)
{
	const struct imap_arg *p, *u;
	size_t n, nu;

	if ((p = imap_arg_list(&cmd->a.args[1], &n)) == NULL || n != 2 ||
	    !imap_arg_atom_eq(&p[0], "USE") ||
	    (u = imap_arg_list(&p[1], &nu)) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid CREATE parameters");
		return -1;
	}
	for (size_t i = 0; i < nu; i++) {
		size_t k;

		for (k = 0; k < sizeof(special_uses) / sizeof(special_uses[0]);
		    k++)
			if (imap_arg_atom_eq(&u[i], special_uses[k].name))
				break;
		if (k == sizeof(special_uses) / sizeof(special_uses[0])) {
			imap_cmd_done(cmd, "NO", "[USEATTR] Unsupported "
			    "special-use attribute");
			return -1;
		}
		j->su |= special_uses[k].bit;
	}
	return 0;
}

void
cmd_create(struct imap_cmd *cmd)
{
	struct mbox_job *j;

	if (cmd->a.count != 1 && cmd->a.count != 2) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0)
		return;
	if (cmd->a.count == 2 && create_params(cmd, j) < 0)
		return;
	if (strcmp(buf_cstr(&j->name), "INBOX") == 0) {
		imap_cmd_done(cmd, "NO", "[ALREADYEXISTS] Mailbox exists "
		    "already");
		return;
	}
	imap_cmd_async(cmd, create_work, simple_done);
}

static void
delete_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;

	j->rc = store_mailbox_delete(srv->store, cmd->s->account,
	    buf_cstr(&j->name), &j->error);
}

void
cmd_delete(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *j;

	if (cmd->a.count != 1) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0)
		return;
	if (s->view != NULL && strcmp(s->view->name, buf_cstr(&j->name)) ==
	    0) {
		imap_cmd_done(cmd, "NO", "[INUSE] Can't delete the selected "
		    "mailbox");
		return;
	}
	imap_cmd_async(cmd, delete_work, simple_done);
}

static void
rename_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;

	j->rc = store_mailbox_rename(srv->store, cmd->s->account,
	    buf_cstr(&j->name), buf_cstr(&j->name2), &j->error);
}

void
cmd_rename(struct imap_cmd *cmd)
{
	struct mbox_job *j;

	if (cmd->a.count != 2) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0 ||
	    mailbox_arg(cmd, 1, &j->name2) < 0)
		return;
	imap_cmd_async(cmd, rename_work, simple_done);
}

static void
subscribe_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;

	j->rc = store_mailbox_subscribe(srv->store, cmd->s->account,
	    buf_cstr(&j->name), j->on, &j->error);
}

void
cmd_subscribe(struct imap_cmd *cmd)
{
	struct mbox_job *j;

	if (cmd->a.count != 1) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0)
		return;
	j->on = strcmp(cmd->a.name, "SUBSCRIBE") == 0;
	imap_cmd_async(cmd, subscribe_work, simple_done);
}

/*
 * LIST pattern matching: '*' matches anything, '%' anything but the
 * separator.  INBOX matches case-insensitively.  Iterative with one
 * backtracking point per wildcard kind is not enough for '%' and '*'
 * mixed, so this is the classic recursive matcher with a depth bound
 * (patterns are at most a few hundred bytes).
 */
static bool
list_match(const char *p, const char *n, int depth)
{
	if (depth > 64)
		return false;
	for (; *p != '\0'; p++, n++) {
		if (*p == '*' || *p == '%') {
			bool star = *p == '*';

			while (p[1] == '*' || p[1] == '%') {
				star |= p[1] == '*';
				p++;
			}
			for (;; n++) {
				if (list_match(p + 1, n, depth + 1))
					return true;
				if (*n == '\0' || (!star && *n == '/'))
					return false;
			}
		}
		if (*n == '\0' || *p != *n)
			return false;
	}
	return *n == '\0';
}

static bool
name_matches(const char *pattern, const char *name)
{
	/* "inbox" in any case names INBOX. */
	if (strncasecmp(pattern, "INBOX", 5) == 0 &&
	    (pattern[5] == '\0' || pattern[5] == '/') &&
	    strncmp(name, "INBOX", 5) == 0) {
		char *p = xasprintf("INBOX%s", pattern + 5);
		bool m;

		m = list_match(p, name, 0);
		free(p);
		return m;
	}
	return list_match(pattern, name, 0);
}

/*
 * Patterns are in the names' wire form too; an invalid one is matched as
 * given.
 */
static void
pattern_to_utf8(const struct imap_session *s, const char *wire,
    struct buf *out)
{
	buf_reset(out);
	if (IMAP_UTF8_NAMES(s) ||
	    imap_utf7_to_utf8(wire, strlen(wire), out) < 0) {
		buf_reset(out);
		buf_puts(out, wire);
	}
}

static void
deleted_cb(void *ctx, const struct mail_row *r)
{
	if (r->flags & MAIL_DELETED)
		(*(uint32_t *)ctx)++;
}

static uint32_t
count_deleted(struct imap_session *s, int64_t mailbox)
{
	const char *err;
	uint32_t n = 0;

	(void)store_mails_scan(srv->store, s->account, mailbox, 0,
	    deleted_cb, &n, &err);
	return n;
}

struct list_ctx {
	char		**names;
	unsigned	*su;
	bool		*exists;
	size_t		 n;
};

static void
list_add(struct list_ctx *lc, const char *name, unsigned su, bool exists)
{
	lc->names = xgrowarray(lc->names, lc->n, sizeof(char *));
	lc->su = xgrowarray(lc->su, lc->n, sizeof(unsigned));
	lc->exists = xgrowarray(lc->exists, lc->n, sizeof(bool));
	lc->names[lc->n] = xstrdup(name);
	lc->su[lc->n] = su;
	lc->exists[lc->n] = exists;
	lc->n++;
}

static void
list_collect(void *ctx, const struct mailbox_info *mi)
{
	list_add(ctx, mi->name, mi->special_use, true);
}

static void
lsub_collect(void *ctx, const char *name)
{
	list_add(ctx, name, 0, false);
}

static void
list_ctx_free(struct list_ctx *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		free(lc->names[i]);
	free(lc->names);
	free(lc->su);
	free(lc->exists);
	memset(lc, 0, sizeof(*lc));
}

static ssize_t
list_find(const struct list_ctx *lc, const char *name)
{
	for (size_t i = 0; i < lc->n; i++)
		if (strcmp(lc->names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Does any name of lc lie below name? */
static bool
has_children(const struct list_ctx *lc, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < lc->n; i++)
		if (strncmp(lc->names[i], name, nl) == 0 &&
		    lc->names[i][nl] == '/')
			return true;
	return false;
}

/*
 * Messages no session has claimed as \Recent yet: the store's mark is as
 * of the last SELECT; sessions claim new mail in memory (imap_recent.c).
 * Counted only when asked: a count per mailbox lookup would make every
 * delivery into a never-selected mailbox cost its size.
 */
static uint32_t
status_recent(struct imap_session *s, const struct mailbox_info *mi)
{
	uint32_t first = imap_recent_peek(s->account, mi->id,
	    mi->first_recent_uid), n;

	if (first < mi->first_recent_uid)
		first = mi->first_recent_uid;
	if (first >= mi->uidnext || store_mailbox_count_from(srv->store,
	    s->account, mi->id, first, &n) < 0)
		return 0;
	return n;
}

/*
 * The items of a STATUS response for mi (without the name), or -1 for an
 * item we do not know.
 */
static int
write_status_items(struct imap_session *s, const struct mailbox_info *mi,
    const struct imap_arg *items, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *it = &items[i];

		if (i > 0)
			buf_putc(out, ' ');
		if (imap_arg_atom_eq(it, "MESSAGES"))
			buf_printf(out, "MESSAGES %u", mi->messages);
		else if (imap_arg_atom_eq(it, "RECENT"))
			buf_printf(out, "RECENT %u", status_recent(s, mi));
		else if (imap_arg_atom_eq(it, "UIDNEXT"))
			buf_printf(out, "UIDNEXT %u", mi->uidnext);
		else if (imap_arg_atom_eq(it, "UIDVALIDITY"))
			buf_printf(out, "UIDVALIDITY %u", mi->uidvalidity);
		else if (imap_arg_atom_eq(it, "UNSEEN"))
			buf_printf(out, "UNSEEN %u", mi->unseen);
		else if (imap_arg_atom_eq(it, "HIGHESTMODSEQ")) {
			imap_condstore_enable(s);
			buf_printf(out, "HIGHESTMODSEQ %llu",
			    (unsigned long long)mi->highestmodseq);
		} else if (imap_arg_atom_eq(it, "SIZE"))	/* RFC 8438 */
			buf_printf(out, "SIZE %llu",
			    (unsigned long long)mi->size);
		else if (imap_arg_atom_eq(it, "APPENDLIMIT"))	/* RFC 7889 */
			buf_printf(out, "APPENDLIMIT %llu",
			    (unsigned long long)srv->cfg->message_size);
		else if (imap_arg_atom_eq(it, "MAILBOXID"))	/* RFC 8474 */
			buf_printf(out, "MAILBOXID (M%lld)",
			    (long long)mi->id);
		else if (imap_arg_atom_eq(it, "DELETED"))	/* RFC 9051 */
			buf_printf(out, "DELETED %u", count_deleted(s,
			    mi->id));
		else
			return -1;
	}
	return 0;
}

/* LIST-EXTENDED options (RFC 5258, 6154, 5819). */
#define LSEL_SUBSCRIBED		0x01
#define LSEL_REMOTE		0x02
#define LSEL_RECURSIVE		0x04
#define LSEL_SPECIAL_USE	0x08
#define LRET_SUBSCRIBED		0x01
#define LRET_CHILDREN		0x02
#define LRET_SPECIAL_USE	0x04
#define LRET_STATUS		0x08

struct list_req {
	unsigned	 sel;
	unsigned	 ret;
	const struct imap_arg *status;	/* LIST-STATUS items */
	size_t		 nstatus;
	struct buf	*patterns;	/* reference + pattern, UTF-8 */
	size_t		 npatterns;
	bool		 extended;
};

static void
list_req_free(struct list_req *r)
{
	for (size_t i = 0; i < r->npatterns; i++)
		buf_free(&r->patterns[i]);
	free(r->patterns);
	r->patterns = NULL;
	r->npatterns = 0;
}

static bool
list_matches(const struct list_req *r, const char *name)
{
	for (size_t i = 0; i < r->npatterns; i++)
		if (name_matches(buf_cstr(&r->patterns[i]), name))
			return true;
	return false;
}

static int
list_options(const struct imap_arg *a, bool select, struct list_req *r)
{
	const struct imap_arg *o;
	size_t n;

	if ((o = imap_arg_list(a, &n)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (select && imap_arg_atom_eq(&o[i], "SUBSCRIBED"))
			r->sel |= LSEL_SUBSCRIBED;
		else if (select && imap_arg_atom_eq(&o[i], "REMOTE"))
			r->sel |= LSEL_REMOTE;
		else if (select && imap_arg_atom_eq(&o[i], "RECURSIVEMATCH"))
			r->sel |= LSEL_RECURSIVE;
		else if (select && imap_arg_atom_eq(&o[i], "SPECIAL-USE"))
			r->sel |= LSEL_SPECIAL_USE;
		else if (!select && imap_arg_atom_eq(&o[i], "SUBSCRIBED"))
			r->ret |= LRET_SUBSCRIBED;
		else if (!select && imap_arg_atom_eq(&o[i], "CHILDREN"))
			r->ret |= LRET_CHILDREN;
		else if (!select && imap_arg_atom_eq(&o[i], "SPECIAL-USE"))
			r->ret |= LRET_SPECIAL_USE;
		else if (!select && imap_arg_atom_eq(&o[i], "STATUS") &&
		    i + 1 < n && (r->status = imap_arg_list(&o[i + 1],
		    &r->nstatus)) != NULL && r->nstatus > 0) {
			r->ret |= LRET_STATUS;
			i++;
		} else
			return -1;
	}
	return 0;
}

/* Parses LIST's arguments; 0, or -1 after answering BAD. */
static int
list_parse(struct imap_cmd *cmd, struct list_req *r)
{
	const struct imap_arg *a = cmd->a.args;
	size_t n = cmd->a.count, i = 0;
	struct buf ref = BUF_INIT;
	const char *refw;

	memset(r, 0, sizeof(*r));
	if (i < n && a[i].type == IMAP_ARG_LIST) {
		if (list_options(&a[i], true, r) < 0)
			goto bad;
		r->extended = true;
		i++;
	}
	if (i + 2 > n || (refw = imap_arg_astring(&a[i])) == NULL)
		goto bad;
	pattern_to_utf8(cmd->s, refw, &ref);
	i++;
	{
		const struct imap_arg *pl = &a[i];
		size_t np = 1;

		if (a[i].type == IMAP_ARG_LIST) {
			pl = imap_arg_list(&a[i], &np);
			r->extended = true;
			if (np == 0)
				goto bad;
		}
		r->patterns = xcalloc(np, sizeof(*r->patterns));
		for (size_t k = 0; k < np; k++) {
			const char *p = imap_arg_astring(&pl[k]);
			struct buf u = BUF_INIT;

			if (p == NULL)
				goto bad;
			pattern_to_utf8(cmd->s, p, &u);
			buf_init(&r->patterns[k]);
			/* RFC 3501 6.3.8: the reference is a prefix. */
			buf_append(&r->patterns[k], ref.data ? ref.data : "",
			    ref.len);
			buf_append(&r->patterns[k], u.data ? u.data : "",
			    u.len);
			r->npatterns++;
			buf_free(&u);
		}
		i++;
	}
	if (i < n) {
		if (!imap_arg_atom_eq(&a[i], "RETURN") || i + 2 != n ||
		    list_options(&a[i + 1], false, r) < 0)
			goto bad;
		r->extended = true;
	}
	/* RECURSIVEMATCH alone is an error (RFC 5258 3). */
	if ((r->sel & LSEL_RECURSIVE) &&
	    !(r->sel & (LSEL_SUBSCRIBED | LSEL_SPECIAL_USE)))
		goto bad;
	if (r->sel & LSEL_SUBSCRIBED)
		r->ret |= LRET_SUBSCRIBED;
	buf_free(&ref);
	return 0;
bad:
	buf_free(&ref);
	list_req_free(r);
	imap_cmd_done(cmd, "BAD", "Invalid LIST arguments");
	return -1;
}


/*
 * Does some name below name satisfy the selection (RECURSIVEMATCH) without
 * being listed itself, i.e. without matching a pattern (RFC 5258 3.5)?
 */
static bool
child_selected(const struct list_req *r, const struct list_ctx *subs,
    const struct list_ctx *all, const char *name)
{
	size_t nl = strlen(name);

	if (r->sel & LSEL_SUBSCRIBED) {
		for (size_t i = 0; i < subs->n; i++)
			if (strncmp(subs->names[i], name, nl) == 0 &&
			    subs->names[i][nl] == '/' &&
			    !list_matches(r, subs->names[i]))
				return true;
	}
	if (r->sel & LSEL_SPECIAL_USE) {
		for (size_t i = 0; i < all->n; i++)
			if (all->su[i] != 0 &&
			    strncmp(all->names[i], name, nl) == 0 &&
			    all->names[i][nl] == '/' &&
			    !list_matches(r, all->names[i]))
				return true;
	}
	return false;
}

/*
 * LSUB: a subscribed name the pattern does not reach ("%" stops above it)
 * makes its unsubscribed ancestors that match appear as \Noselect
 * (RFC 3501 6.3.9).  They are collected in par, each once.
 */
static void
lsub_parents(const struct list_req *r, const struct list_ctx *subs,
    const char *name, struct list_ctx *par)
{
	char *p, *sl;

	if (list_matches(r, name))
		return;
	p = xstrdup(name);
	while ((sl = strrchr(p, '/')) != NULL) {
		*sl = '\0';
		if (list_find(subs, p) < 0 && list_find(par, p) < 0 &&
		    list_matches(r, p))
			list_add(par, p, 0, false);
	}
	free(p);
}

static void
list_line(struct imap_session *s, const struct list_req *r,
    const struct list_ctx *all, const struct list_ctx *subs,
    const char *name, bool childinfo, struct buf *out)
{
	ssize_t ai = list_find(all, name);
	bool exists = ai >= 0, sub = list_find(subs, name) >= 0;
	bool sp = false;

	buf_puts(out, "* LIST (");
	if (!exists) {
		buf_puts(out, "\\NonExistent");
		sp = true;
	} else {
		buf_puts(out, has_children(all, name) ? "\\HasChildren" :
		    "\\HasNoChildren");
		sp = true;
		write_special_use(out, all->su[ai]);
	}
	if ((r->ret & LRET_SUBSCRIBED) && sub)
		buf_puts(out, sp ? " \\Subscribed" : "\\Subscribed");
	buf_puts(out, ") \"/\" ");
	imap_mailbox_to_wire(s, name, out);
	if (childinfo) {
		buf_puts(out, " (\"CHILDINFO\" (");
		if (r->sel & LSEL_SUBSCRIBED)
			buf_puts(out, "\"SUBSCRIBED\"");
		if ((r->sel & LSEL_SPECIAL_USE) && (r->sel & LSEL_SUBSCRIBED))
			buf_putc(out, ' ');
		if (r->sel & LSEL_SPECIAL_USE)
			buf_puts(out, "\"SPECIAL-USE\"");
		buf_puts(out, "))");
	}
	buf_puts(out, "\r\n");
	/* LIST-STATUS (RFC 5819): for mailboxes that can be selected. */
	if ((r->ret & LRET_STATUS) && exists) {
		struct mailbox_info mi;
		struct buf st = BUF_INIT;

		if (store_mailbox_get(srv->store, s->account, name, &mi) == 1 &&
		    write_status_items(s, &mi, r->status, r->nstatus, &st) ==
		    0) {
			buf_puts(out, "* STATUS ");
			imap_mailbox_to_wire(s, name, out);
			buf_printf(out, " (%s)\r\n", buf_cstr(&st));
		}
		buf_free(&st);
	}
}

void
cmd_list(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct list_ctx all, subs;
	struct list_req r;
	struct buf out = BUF_INIT;
	bool lsub = strcmp(cmd->a.name, "LSUB") == 0;

	memset(&all, 0, sizeof(all));
	memset(&subs, 0, sizeof(subs));
	if (list_parse(cmd, &r) < 0)
		return;
	if (lsub && r.extended) {
		list_req_free(&r);
		imap_cmd_done(cmd, "BAD", "Invalid LSUB arguments");
		return;
	}
	if (r.npatterns == 1 && r.patterns[0].len == 0 && !lsub &&
	    r.sel == 0) {
		/* RFC 3501 6.3.8: the hierarchy delimiter. */
		imap_send(s, "* LIST (\\Noselect) \"/\" \"\"");
		list_req_free(&r);
		imap_cmd_done(cmd, "OK", "List completed.");
		return;
	}
	if ((r.ret & LRET_STATUS) && r.nstatus > 0) {
		struct mailbox_info dummy;
		struct buf t = BUF_INIT;

		memset(&dummy, 0, sizeof(dummy));
		if (write_status_items(s, &dummy, r.status, r.nstatus, &t) <
		    0) {
			buf_free(&t);
			list_req_free(&r);
			imap_cmd_done(cmd, "BAD", "Invalid STATUS item");
			return;
		}
		buf_free(&t);
	}
	if (store_mailbox_list(srv->store, s->account, list_collect, &all) < 0 ||
	    store_subscription_list(srv->store, s->account, lsub_collect,
	    &subs) < 0) {
		imap_cmd_done(cmd, "NO", "[SERVERBUG] Internal error");
		goto out;
	}
	if (lsub) {
		struct list_ctx par;

		memset(&par, 0, sizeof(par));
		for (size_t i = 0; i < subs.n; i++) {
			lsub_parents(&r, &subs, subs.names[i], &par);
			if (!list_matches(&r, subs.names[i]))
				continue;
			buf_puts(&out, "* LSUB () \"/\" ");
			imap_mailbox_to_wire(s, subs.names[i], &out);
			buf_puts(&out, "\r\n");
		}
		for (size_t i = 0; i < par.n; i++) {
			buf_puts(&out, "* LSUB (\\Noselect) \"/\" ");
			imap_mailbox_to_wire(s, par.names[i], &out);
			buf_puts(&out, "\r\n");
		}
		list_ctx_free(&par);
	} else if (r.sel & (LSEL_SUBSCRIBED | LSEL_SPECIAL_USE)) {
		/*
		 * Selected by subscription or special use: subscribed names
		 * may not exist (\NonExistent); with RECURSIVEMATCH a parent
		 * of a selected name is listed with CHILDINFO.
		 */
		struct list_ctx *base = (r.sel & LSEL_SUBSCRIBED) ? &subs :
		    &all;

		for (size_t i = 0; i < base->n; i++) {
			const char *name = base->names[i];
			bool sel = true;

			if (!list_matches(&r, name))
				continue;
			if ((r.sel & LSEL_SPECIAL_USE)) {
				ssize_t ai = list_find(&all, name);

				sel = ai >= 0 && all.su[ai] != 0;
			}
			if (sel)
				list_line(s, &r, &all, &subs, name,
				    (r.sel & LSEL_RECURSIVE) &&
				    child_selected(&r, &subs, &all, name),
				    &out);
			if (out.len > (size_t)64 * 1024) {
				imap_send_buf(s, &out);
				buf_reset(&out);
			}
		}
		if (r.sel & LSEL_RECURSIVE)
			for (size_t i = 0; i < all.n; i++) {
				const char *name = all.names[i];
				bool listed = (r.sel & LSEL_SUBSCRIBED) ?
				    list_find(&subs, name) >= 0 :
				    all.su[i] != 0;

				if (listed || !list_matches(&r, name) ||
				    !child_selected(&r, &subs, &all, name))
					continue;
				list_line(s, &r, &all, &subs, name, true,
				    &out);
			}
	} else {
		for (size_t i = 0; i < all.n; i++) {
			if (!list_matches(&r, all.names[i]))
				continue;
			list_line(s, &r, &all, &subs, all.names[i], false,
			    &out);
			if (out.len > (size_t)64 * 1024) {
				imap_send_buf(s, &out);
				buf_reset(&out);
			}
		}
	}
	imap_send_buf(s, &out);
	imap_cmd_done(cmd, "OK", "%s completed.", lsub ? "Lsub" : "List");
out:
	list_ctx_free(&all);
	list_ctx_free(&subs);
	list_req_free(&r);
	buf_free(&out);
}

void
cmd_status(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mailbox_info mi;
	struct buf name = BUF_INIT, out = BUF_INIT, items_out = BUF_INIT;
	const struct imap_arg *items;
	size_t n;
	int r;

	if (cmd->a.count != 2 ||
	    (items = imap_arg_list(&cmd->a.args[1], &n)) == NULL || n == 0) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	if (mailbox_arg(cmd, 0, &name) < 0) {
		buf_free(&name);
		return;
	}
	r = store_mailbox_get(srv->store, s->account, buf_cstr(&name), &mi);
	if (r <= 0) {
		imap_cmd_done(cmd, "NO", r == 0 ? "[NONEXISTENT] Mailbox "
		    "doesn't exist" : "[SERVERBUG] Internal error");
		buf_free(&name);
		return;
	}
	if (write_status_items(s, &mi, items, n, &items_out) < 0) {
		imap_cmd_done(cmd, "BAD", "Invalid status item");
		goto out;
	}
	buf_puts(&out, "* STATUS ");
	imap_mailbox_to_wire(cmd->s, mi.name, &out);
	buf_printf(&out, " (%s)\r\n", buf_cstr(&items_out));
	imap_send_buf(s, &out);
	imap_cmd_done(cmd, "OK", "Status completed.");
out:
	buf_free(&name);
	buf_free(&out);
	buf_free(&items_out);
}

static void
expunge_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;

	j->rc = store_mails_expunge(srv->store, s->account, s->view->mailbox,
	    j->uids, j->nuids, true, NULL, NULL, &j->error);
}

static void
expunge_done(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;

	if (j->rc < 0) {
		imap_cmd_done(cmd, "NO", "[SERVERBUG] %s", j->error);
		return;
	}
	s->view->dirty = true;
	imap_cmd_done(cmd, "OK", "Expunge completed.");
}

void
cmd_expunge(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mbox_job *j;

	if (s->view->readonly) {
		imap_cmd_done(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	j = mbox_job_new(cmd);
	if (cmd->a.uid) {
		uint32_t *idx;
		const char *set;
		int n;

		if (cmd->a.count != 1 ||
		    (set = imap_arg_astring(&cmd->a.args[0])) == NULL ||
		    (n = imap_view_resolve(s->view, set, true, &idx)) < 0) {
			imap_cmd_done(cmd, "BAD", "Invalid UID set");
			return;
		}
		j->uids = xcalloc((size_t)n + 1, sizeof(uint32_t));
		for (int i = 0; i < n; i++)
			j->uids[i] = s->view->uids[idx[i]];
		j->nuids = (size_t)n;
		free(idx);
		if (n == 0) {
			imap_cmd_done(cmd, "OK", "Expunge completed.");
			return;
		}
	} else if (cmd->a.count != 0) {
		imap_cmd_done(cmd, "BAD", "EXPUNGE takes no arguments");
		return;
	}
	imap_cmd_async(cmd, expunge_work, expunge_done);
}

static void
close_done(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	imap_view_free(&s->view);
	s->state = IMAP_AUTH;
	imap_cmd_done(cmd, "OK", "%s completed.", strcmp(cmd->a.name,
	    "CLOSE") == 0 ? "Close" : "Unselect");
}

void
cmd_close(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;

	if (cmd->a.count != 0) {
		imap_cmd_done(cmd, "BAD", "No arguments allowed");
		return;
	}
	/* CLOSE expunges silently; UNSELECT (RFC 3691) does not. */
	if (strcmp(cmd->a.name, "CLOSE") == 0 && !s->view->readonly) {
		mbox_job_new(cmd);
		imap_cmd_async(cmd, expunge_work, close_done);
		return;
	}
	close_done(cmd);
}
