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
};

static void
mbox_job_free(void *p)
{
	struct mbox_job *j = p;

	buf_free(&j->name);
	buf_free(&j->name2);
	imap_view_free(&j->view);
	free(j->uids);
	free(j);
}

static struct mbox_job *
mbox_job_new(struct imap_cmd *cmd)
{
	struct mbox_job *j = xcalloc(1, sizeof(*j));

	buf_init(&j->name);
	buf_init(&j->name2);
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
	if (imap_mailbox_from_wire(wire, out, &err) < 0) {
		imap_cmd_done(cmd, "NO", "[CANNOT] %s", err);
		return -1;
	}
	return 0;
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

static void
select_work(struct imap_cmd *cmd)
{
	struct mbox_job *j = cmd->ctx;
	int64_t account = cmd->s->account;
	uint32_t stored;

	j->rc = 0;
	j->view = imap_view_new(&j->mi, j->readonly);
	j->view->first_recent = UINT32_MAX;
	if (imap_view_load(j->view, account, &j->error) < 0) {
		j->rc = -1;
		return;
	}
	if (j->readonly)
		return;
	/* Persist the claim so a restart doesn't make old mail recent. */
	if (store_mailbox_claim_recent(srv->store, account, j->mi.id, &stored,
	    &j->error) < 0) {
		j->rc = -1;
		return;
	}
	imap_view_claim_recent(j->view, account, stored);
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
	buf_puts(&b, "* FLAGS ");
	write_flag_names(&b, v, false);
	buf_puts(&b, "\r\n* OK [PERMANENTFLAGS ");
	if (v->readonly)
		buf_puts(&b, "()");
	else
		write_flag_names(&b, v, true);
	buf_puts(&b, "] Flags permitted.\r\n");
	buf_printf(&b, "* %u EXISTS\r\n* %u RECENT\r\n", v->count,
	    v->recent);
	for (uint32_t i = 0; i < v->count; i++)
		if (!(v->flags[i] & MAIL_SEEN)) {
			buf_printf(&b, "* OK [UNSEEN %u] First unseen.\r\n",
			    i + 1);
			break;
		}
	buf_printf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n", v->uidvalidity,
	    v->uidnext);
	imap_send_buf(s, &b);
	buf_free(&b);
	imap_cmd_done(cmd, "OK", "[%s] %s completed.", v->readonly ?
	    "READ-ONLY" : "READ-WRITE", v->readonly ? "Examine" : "Select");
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
	if (cmd->a.count != 1) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0)
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
	    buf_cstr(&j->name), 0, &j->error);
}

void
cmd_create(struct imap_cmd *cmd)
{
	struct mbox_job *j;

	if (cmd->a.count != 1) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = mbox_job_new(cmd);
	if (mailbox_arg(cmd, 0, &j->name) < 0)
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
		char *p = xstrdup(pattern);
		bool m;

		memcpy(p, "INBOX", 5);
		m = list_match(p, name, 0);
		free(p);
		return m;
	}
	return list_match(pattern, name, 0);
}

/* Patterns are modified UTF-7 too; an invalid one is matched as given. */
static void
pattern_to_utf8(const char *wire, struct buf *out)
{
	buf_reset(out);
	if (imap_utf7_to_utf8(wire, strlen(wire), out) < 0) {
		buf_reset(out);
		buf_puts(out, wire);
	}
}

struct list_ctx {
	struct imap_session *s;
	const char	*pattern;
	bool		 lsub;
	char		**names;
	unsigned	*su;
	size_t		 n;
};

static void
list_collect(void *ctx, const struct mailbox_info *mi)
{
	struct list_ctx *lc = ctx;

	lc->names = xreallocarray(lc->names, lc->n + 1, sizeof(char *));
	lc->su = xreallocarray(lc->su, lc->n + 1, sizeof(unsigned));
	lc->names[lc->n] = xstrdup(mi->name);
	lc->su[lc->n] = mi->special_use;
	lc->n++;
}

static void
lsub_collect(void *ctx, const char *name)
{
	struct list_ctx *lc = ctx;

	lc->names = xreallocarray(lc->names, lc->n + 1, sizeof(char *));
	lc->su = xreallocarray(lc->su, lc->n + 1, sizeof(unsigned));
	lc->names[lc->n] = xstrdup(name);
	lc->su[lc->n] = 0;
	lc->n++;
}

static void
write_special_use(struct buf *b, unsigned su)
{
	static const struct {
		unsigned bit;
		const char *name;
	} tab[] = {
		{ MBOX_SU_ALL, "\\All" }, { MBOX_SU_ARCHIVE, "\\Archive" },
		{ MBOX_SU_DRAFTS, "\\Drafts" },
		{ MBOX_SU_FLAGGED, "\\Flagged" }, { MBOX_SU_JUNK, "\\Junk" },
		{ MBOX_SU_SENT, "\\Sent" }, { MBOX_SU_TRASH, "\\Trash" },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (su & tab[i].bit) {
			buf_putc(b, ' ');
			buf_puts(b, tab[i].name);
		}
}

void
cmd_list(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct list_ctx lc;
	struct buf ref = BUF_INIT, pat = BUF_INIT, full = BUF_INIT;
	struct buf out = BUF_INIT;
	const char *r, *p;
	int rc;

	memset(&lc, 0, sizeof(lc));
	lc.lsub = strcmp(cmd->a.name, "LSUB") == 0;
	if (cmd->a.count != 2 ||
	    (r = imap_arg_astring(&cmd->a.args[0])) == NULL ||
	    (p = imap_arg_astring(&cmd->a.args[1])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	if (*p == '\0' && !lc.lsub) {
		/* RFC 3501 6.3.8: the hierarchy delimiter. */
		imap_send(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_cmd_done(cmd, "OK", "List completed.");
		return;
	}
	pattern_to_utf8(r, &ref);
	pattern_to_utf8(p, &pat);
	/* RFC 3501 6.3.8: the reference is a prefix, taken as given. */
	buf_append(&full, ref.data ? ref.data : "", ref.len);
	buf_append(&full, pat.data ? pat.data : "", pat.len);
	lc.s = s;
	lc.pattern = buf_cstr(&full);
	rc = lc.lsub ? store_subscription_list(srv->store, s->account,
	    lsub_collect, &lc) : store_mailbox_list(srv->store, s->account,
	    list_collect, &lc);
	if (rc < 0) {
		imap_cmd_done(cmd, "NO", "[SERVERBUG] Internal error");
		goto out;
	}
	for (size_t i = 0; i < lc.n; i++) {
		bool children = false;
		size_t nl = strlen(lc.names[i]);

		if (!name_matches(lc.pattern, lc.names[i]))
			continue;
		for (size_t k = 0; k < lc.n && !lc.lsub; k++)
			if (strncmp(lc.names[k], lc.names[i], nl) == 0 &&
			    lc.names[k][nl] == '/')
				children = true;
		buf_printf(&out, "* %s (", lc.lsub ? "LSUB" : "LIST");
		if (!lc.lsub)
			buf_puts(&out, children ? "\\HasChildren" :
			    "\\HasNoChildren");
		write_special_use(&out, lc.su[i]);
		buf_puts(&out, ") \"/\" ");
		imap_mailbox_to_wire(lc.names[i], &out);
		buf_puts(&out, "\r\n");
		if (out.len > 64 * 1024) {
			imap_send_buf(s, &out);
			buf_reset(&out);
		}
	}
	imap_send_buf(s, &out);
	imap_cmd_done(cmd, "OK", "%s completed.", lc.lsub ? "Lsub" : "List");
out:
	for (size_t i = 0; i < lc.n; i++)
		free(lc.names[i]);
	free(lc.names);
	free(lc.su);
	buf_free(&ref);
	buf_free(&pat);
	buf_free(&full);
	buf_free(&out);
}

void
cmd_status(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mailbox_info mi;
	struct buf name = BUF_INIT, out = BUF_INIT;
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
	buf_puts(&out, "* STATUS ");
	imap_mailbox_to_wire(mi.name, &out);
	buf_puts(&out, " (");
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *it = &items[i];

		if (i > 0)
			buf_putc(&out, ' ');
		if (imap_arg_atom_eq(it, "MESSAGES"))
			buf_printf(&out, "MESSAGES %u", mi.messages);
		else if (imap_arg_atom_eq(it, "RECENT"))
			buf_printf(&out, "RECENT %u", mi.recent);
		else if (imap_arg_atom_eq(it, "UIDNEXT"))
			buf_printf(&out, "UIDNEXT %u", mi.uidnext);
		else if (imap_arg_atom_eq(it, "UIDVALIDITY"))
			buf_printf(&out, "UIDVALIDITY %u", mi.uidvalidity);
		else if (imap_arg_atom_eq(it, "UNSEEN"))
			buf_printf(&out, "UNSEEN %u", mi.unseen);
		else {
			imap_cmd_done(cmd, "BAD", "Invalid status item");
			buf_free(&name);
			buf_free(&out);
			return;
		}
	}
	buf_puts(&out, ")\r\n");
	imap_send_buf(s, &out);
	imap_cmd_done(cmd, "OK", "Status completed.");
	buf_free(&name);
	buf_free(&out);
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
