/*
 * cmd_store - STORE (RFC 3501 6.4.6), COPY (6.4.7) and MOVE (RFC 6851),
 * with UIDPLUS's COPYUID (RFC 4315).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "server.h"
#include "store/store.h"

struct store_job {
	uint32_t	*uids;
	size_t		 n;
	enum store_flag_op op;
	uint32_t	 flags;
	struct buf	 keywords;
	bool		 silent;
	uint64_t	 unchangedsince;	/* STORE_UNCONDITIONAL: none */
	struct flag_change *changes;
	char		**kws;		/* keywords after the change */
	int64_t		 dst;
	bool		 move;
	uint32_t	*new_uids;
	uint32_t	 dst_uidvalidity;
	int		 rc;
	const char	*error;
};

static void
store_job_free(void *p)
{
	struct store_job *j = p;

	if (j->kws != NULL)
		for (size_t i = 0; i < j->n; i++)
			free(j->kws[i]);
	free(j->kws);
	free(j->uids);
	free(j->changes);
	free(j->new_uids);
	buf_free(&j->keywords);
	free(j);
}

static struct store_job *
store_job_new(struct imap_cmd *cmd)
{
	struct store_job *j = xcalloc(1, sizeof(*j));

	buf_init(&j->keywords);
	cmd->ctx = j;
	cmd->ctx_free = store_job_free;
	return j;
}

/*
 * Resolves the set argument into the uids of messages still present.
 * Returns 0, or -1 after answering the command.
 */
static int
set_to_uids(struct imap_cmd *cmd, const struct imap_arg *arg,
    struct store_job *j)
{
	struct imap_view *v = cmd->s->view;
	const char *set;
	uint32_t *idx;
	int n;

	if ((set = imap_arg_astring(arg)) == NULL ||
	    (n = imap_view_resolve(v, set, cmd->a.uid, &idx)) == -1) {
		imap_cmd_done(cmd, "BAD", "Invalid sequence set");
		return -1;
	}
	if (n == -2) {
		imap_cmd_done(cmd, "BAD", "Invalid messageset");
		return -1;
	}
	j->uids = xcalloc((size_t)n + 1, sizeof(uint32_t));
	for (int i = 0; i < n; i++)
		if (!imap_view_is_gone(v, idx[i]))
			j->uids[j->n++] = v->uids[idx[i]];
	free(idx);
	return 0;
}

static void
store_work(struct imap_cmd *cmd)
{
	struct store_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;

	j->changes = xcalloc(j->n + 1, sizeof(*j->changes));
	j->rc = store_mails_flags(srv->store, s->account, s->view->mailbox,
	    j->uids, j->n, j->op, j->flags,
	    j->keywords.len ? buf_cstr(&j->keywords) : NULL, j->unchangedsince,
	    j->changes, &j->error);
	if (j->rc < 0 || j->silent)
		return;
	j->kws = xcalloc(j->n + 1, sizeof(char *));
	for (size_t i = 0; i < j->n; i++) {
		struct mail_meta m;

		mail_meta_init(&m);
		if (store_mail_meta(srv->store, s->account, s->view->mailbox,
		    j->uids[i], false, &m) == 1) {
			j->changes[i].flags = m.flags;
			j->kws[i] = xstrdup(buf_cstr(&m.keywords));
		}
		mail_meta_free(&m);
	}
}

static void
store_done(struct imap_cmd *cmd)
{
	struct store_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;
	struct imap_view *v = s->view;
	struct buf out = BUF_INIT, modified = BUF_INIT;
	bool condstore = (s->enabled & IMAP_EN_CONDSTORE) != 0;
	uint32_t *failed;
	size_t nfailed = 0;

	if (j->rc < 0) {
		imap_cmd_done(cmd, "NO", "[SERVERBUG] %s", j->error);
		return;
	}
	if (j->keywords.len > 0)
		imap_view_learn_keywords(s, buf_cstr(&j->keywords));
	failed = xcalloc(j->n + 1, sizeof(*failed));
	for (size_t i = 0; i < j->n; i++) {
		uint32_t seq = imap_view_seq(v, j->uids[i]);
		uint32_t idx;
		const char *kw = j->kws ? j->kws[i] : NULL;

		/*
		 * modseq 0: expunged by another session meanwhile.  Like
		 * Dovecot, skip it; its EXPUNGE follows in a later sync.
		 */
		if (seq == 0 || j->changes[i].uid == 0 ||
		    j->changes[i].modseq == 0)
			continue;
		idx = seq - 1;
		if (j->changes[i].conflict) {
			failed[nfailed++] = cmd->a.uid ? j->uids[i] : seq;
			continue;
		}
		if (j->changes[i].changed || kw != NULL) {
			v->flags[idx] = (uint8_t)((v->flags[idx] &
			    VIEW_RECENT) | (j->changes[i].flags &
			    MAIL_FLAGS_ALL));
			if (kw != NULL)
				v->kwhash[idx] = imap_keyword_hash(kw);
		}
		/*
		 * .SILENT: no FLAGS; under CONDSTORE the new MODSEQ of what
		 * changed is still reported (RFC 7162 3.1.3).
		 */
		if (j->silent && !(condstore && j->changes[i].changed))
			continue;
		/* Another session's new keyword: FLAGS first (7.2.6). */
		if (!j->silent && kw != NULL)
			imap_view_learn_keywords(s, kw);
		buf_printf(&out, "* %u FETCH (", seq);
		if (cmd->a.uid || condstore)
			buf_printf(&out, "UID %u ", j->uids[i]);
		if (!j->silent) {
			buf_puts(&out, "FLAGS ");
			imap_write_flags(&out, v->flags[idx] & MAIL_FLAGS_ALL,
			    (v->flags[idx] & VIEW_RECENT) != 0, kw);
			if (condstore)
				buf_putc(&out, ' ');
		}
		if (condstore)
			buf_printf(&out, "MODSEQ (%llu)",
			    (unsigned long long)j->changes[i].modseq);
		buf_puts(&out, ")\r\n");
		if (out.len > (size_t)64 * 1024) {
			imap_send_buf(s, &out);
			buf_reset(&out);
		}
	}
	imap_send_buf(s, &out);
	buf_free(&out);
	if (nfailed > 0) {
		/* Sequence numbers of a STORE are ascending too. */
		imap_seqset_format_array(failed, nfailed, &modified);
		imap_cmd_done(cmd, "OK", "[MODIFIED %s] Conditional STORE "
		    "failed", buf_cstr(&modified));
	} else
		imap_cmd_done(cmd, "OK", "Store completed.");
	buf_free(&modified);
	free(failed);
}

void
cmd_store(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct store_job *j;
	const char *item, *err;
	char *dot;
	char name[32];
	size_t a = 0;

	j = store_job_new(cmd);
	j->unchangedsince = STORE_UNCONDITIONAL;
	/* STORE set [(UNCHANGEDSINCE modseq)] item flags (RFC 7162 3.1.3) */
	if (cmd->a.count >= 2 && cmd->a.args[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *m;
		size_t nm;

		m = imap_arg_list(&cmd->a.args[1], &nm);
		if (nm != 2 || !imap_arg_atom_eq(&m[0], "UNCHANGEDSINCE") ||
		    m[1].type != IMAP_ARG_ATOM || parse_u64(m[1].str,
		    m[1].len, INT64_MAX, &j->unchangedsince) < 0) {
			imap_cmd_done(cmd, "BAD", "Invalid STORE modifier");
			return;
		}
		imap_condstore_enable(s);
		a = 1;
	}
	if (cmd->a.count < 3 + a || cmd->a.args[1 + a].type != IMAP_ARG_ATOM) {
		imap_cmd_done(cmd, "BAD", "Invalid STORE arguments");
		return;
	}
	item = cmd->a.args[1 + a].str;
	if (strlen(item) >= sizeof(name)) {
		imap_cmd_done(cmd, "BAD", "Invalid STORE item");
		return;
	}
	snprintf(name, sizeof(name), "%s", item);
	if ((dot = strchr(name, '.')) != NULL) {
		if (strcasecmp(dot, ".SILENT") != 0) {
			imap_cmd_done(cmd, "BAD", "Invalid STORE item");
			return;
		}
		*dot = '\0';
		j->silent = true;
	}
	if (strcasecmp(name, "FLAGS") == 0)
		j->op = FLAGS_SET;
	else if (strcasecmp(name, "+FLAGS") == 0)
		j->op = FLAGS_ADD;
	else if (strcasecmp(name, "-FLAGS") == 0)
		j->op = FLAGS_REMOVE;
	else {
		imap_cmd_done(cmd, "BAD", "Invalid STORE item");
		return;
	}
	if (cmd->a.count == 3 + a) {
		if (imap_parse_flags(&cmd->a.args[2 + a], &j->flags,
		    &j->keywords, false, &err) < 0) {
			imap_cmd_done(cmd, "BAD", "%s", err);
			return;
		}
	} else {
		/* Flags without parentheses, as some clients send them. */
		struct buf kw = BUF_INIT;

		for (size_t i = 2 + a; i < cmd->a.count; i++) {
			uint32_t f;

			if (imap_parse_flags(&cmd->a.args[i], &f, &kw, false,
			    &err) < 0 || cmd->a.args[i].type ==
			    IMAP_ARG_LIST) {
				buf_free(&kw);
				imap_cmd_done(cmd, "BAD", "Invalid flags");
				return;
			}
			j->flags |= f;
			if (kw.len > 0) {
				if (j->keywords.len > 0)
					buf_putc(&j->keywords, ' ');
				buf_append(&j->keywords, kw.data, kw.len);
			}
		}
		buf_free(&kw);
	}
	if (set_to_uids(cmd, &cmd->a.args[0], j) < 0)
		return;
	if (s->view->readonly) {
		imap_cmd_done(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (j->n == 0) {
		imap_cmd_done(cmd, "OK", "Store completed.");
		return;
	}
	imap_cmd_async(cmd, store_work, store_done);
}

static void
copy_work(struct imap_cmd *cmd)
{
	struct store_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;

	j->new_uids = xcalloc(j->n + 1, sizeof(uint32_t));
	j->rc = store_mails_copy(srv->store, s->account, s->view->mailbox,
	    j->uids, j->n, j->dst, j->move, j->move ? 0 :
	    imap_account_quota(s), j->new_uids, &j->dst_uidvalidity,
	    &j->error);
}

static void
copy_done(struct imap_cmd *cmd)
{
	struct store_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;
	struct buf src = BUF_INIT, dst = BUF_INIT;
	uint32_t *a, *b;
	size_t n = 0;

	if (j->rc == STORE_OVERQUOTA) {
		imap_cmd_done(cmd, "NO", "[OVERQUOTA] Quota exceeded (mailbox "
		    "for user is full)");
		return;
	}
	if (j->rc < 0) {
		imap_cmd_done(cmd, "NO", "[SERVERBUG] %s", j->error);
		return;
	}
	a = xcalloc(j->n + 1, sizeof(uint32_t));
	b = xcalloc(j->n + 1, sizeof(uint32_t));
	for (size_t i = 0; i < j->n; i++)
		if (j->new_uids[i] != 0) {
			a[n] = j->uids[i];
			b[n] = j->new_uids[i];
			n++;
		}
	if (n > 0) {
		imap_seqset_format_array(a, n, &src);
		/* New uids are ascending in the order of the source. */
		imap_seqset_format_array(b, n, &dst);
	}
	if (j->move) {
		s->view->dirty = true;
		if (n > 0)
			imap_send(s, "* OK [COPYUID %u %s %s] Moved UIDs.",
			    j->dst_uidvalidity, buf_cstr(&src),
			    buf_cstr(&dst));
		imap_cmd_done(cmd, "OK", "Move completed.");
	} else if (n > 0)
		imap_cmd_done(cmd, "OK", "[COPYUID %u %s %s] Copy completed.",
		    j->dst_uidvalidity, buf_cstr(&src), buf_cstr(&dst));
	else
		imap_cmd_done(cmd, "OK", "Copy completed.");
	free(a);
	free(b);
	buf_free(&src);
	buf_free(&dst);
}

void
cmd_copy(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mailbox_info mi;
	struct store_job *j;
	struct buf name = BUF_INIT;
	const char *wire, *err;
	int r;

	if (cmd->a.count != 2 ||
	    (wire = imap_arg_astring(&cmd->a.args[1])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	j = store_job_new(cmd);
	j->move = strcmp(cmd->a.name, "MOVE") == 0;
	if (set_to_uids(cmd, &cmd->a.args[0], j) < 0)
		return;
	if (imap_mailbox_from_wire(cmd->s, wire, &name, &err) < 0) {
		imap_cmd_done(cmd, "NO", "[TRYCREATE] %s", err);
		buf_free(&name);
		return;
	}
	r = store_mailbox_get(srv->store, s->account, buf_cstr(&name), &mi);
	buf_free(&name);
	if (r <= 0) {
		imap_cmd_done(cmd, "NO", r == 0 ? "[TRYCREATE] Mailbox "
		    "doesn't exist" : "[SERVERBUG] Internal error");
		return;
	}
	if (j->move && s->view->readonly) {
		imap_cmd_done(cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	/* A MOVE into the selected mailbox gives new uids (as Dovecot). */
	j->dst = mi.id;
	if (j->n == 0) {
		imap_cmd_done(cmd, "OK", "%s completed.", j->move ? "Move" :
		    "Copy");
		return;
	}
	imap_cmd_async(cmd, copy_work, copy_done);
}
