/*
 * cmd_append - APPEND (RFC 3501 6.3.11) with UIDPLUS's APPENDUID
 * (RFC 4315).  The message literal was streamed into a spool while the
 * command was read (imap_session.c); here it is parsed and stored durably
 * on a worker.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap_date.h"
#include "imap_seqset.h"
#include "imap_session.h"
#include "mime/mime.h"
#include "server.h"
#include "store/store.h"

/* One message of an APPEND (several with MULTIAPPEND, RFC 3502). */
struct append_msg {
	uint32_t	 flags;
	struct buf	 keywords;
	time_t		 date;
	struct buf	 mime;
	uint32_t	 uid;
};

struct append_job {
	struct buf	 name;
	struct mailbox_info mi;
	struct append_msg *msgs;
	size_t		 n;
	int		 rc;
	const char	*error;
	uint32_t	 uidvalidity;
};

static void
append_job_free(void *p)
{
	struct append_job *j = p;

	buf_free(&j->name);
	for (size_t i = 0; i < j->n; i++) {
		buf_free(&j->msgs[i].keywords);
		buf_free(&j->msgs[i].mime);
	}
	free(j->msgs);
	free(j);
}

/* Parses a spooled message; false when it could not be read back. */
static bool
parse_spool(const struct spool *sp, struct buf *ser)
{
	struct mime_parser *mp = mime_parser_create(NULL);
	struct mime_part *root;
	char chunk[65536];
	uint64_t off = 0;

	while (off < sp->size) {
		ssize_t n = spool_pread(sp, chunk, sizeof(chunk), off);

		if (n <= 0)
			break;
		mime_parser_feed(mp, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	root = mime_parser_finish(&mp);
	if (off == sp->size)
		mime_serialize(root, ser);
	mime_part_free(&root);
	return off == sp->size;
}

static void
append_work(struct imap_cmd *cmd)
{
	struct append_job *j = cmd->ctx;
	struct store_msg *msgs = xcalloc(j->n, sizeof(*msgs));
	uint32_t *flags = xcalloc(j->n, sizeof(*flags));
	uint32_t *uids = xcalloc(j->n, sizeof(*uids));
	const char **kws = xcalloc(j->n, sizeof(*kws));

	j->rc = 0;
	for (size_t i = 0; i < j->n; i++) {
		struct append_msg *a = &j->msgs[i];

		if (!parse_spool(&cmd->spools[i], &a->mime)) {
			j->rc = -1;
			j->error = "reading the message back failed";
			goto out;
		}
		msgs[i].spool = &cmd->spools[i];
		msgs[i].mime = a->mime.data;
		msgs[i].mime_len = a->mime.len;
		msgs[i].internaldate = a->date;
		flags[i] = a->flags;
		kws[i] = a->keywords.len ? buf_cstr(&a->keywords) : NULL;
	}
	j->rc = store_append_many(srv->store, cmd->s->account, j->mi.id, msgs,
	    j->n, flags, kws, imap_account_quota(cmd->s), uids,
	    &j->uidvalidity, &j->error);
	for (size_t i = 0; j->rc == 0 && i < j->n; i++)
		j->msgs[i].uid = uids[i];
out:
	free(msgs);
	free(flags);
	free(uids);
	free(kws);
}

static void
append_done(struct imap_cmd *cmd)
{
	struct append_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;
	uint32_t *uids;
	struct buf set = BUF_INIT;

	if (j->rc == STORE_OVERQUOTA) {
		imap_cmd_done(cmd, "NO", "[OVERQUOTA] Quota exceeded (mailbox "
		    "for user is full)");
		return;
	}
	if (j->rc < 0) {
		log_warnx("s=%s imap append failed: %s", s->conn->sid,
		    j->error);
		imap_cmd_done(cmd, "NO", "[UNAVAILABLE] Message could not "
		    "be saved, try again later");
		return;
	}
	if (s->view != NULL && s->view->mailbox == j->mi.id)
		s->view->dirty = true;
	/* The new uids are consecutive, so a set is short (RFC 4315). */
	uids = xcalloc(j->n, sizeof(*uids));
	for (size_t i = 0; i < j->n; i++)
		uids[i] = j->msgs[i].uid;
	imap_seqset_format_array(uids, j->n, &set);
	imap_cmd_done(cmd, "OK", "[APPENDUID %u %s] Append completed.",
	    j->uidvalidity, buf_cstr(&set));
	buf_free(&set);
	free(uids);
}

/*
 * APPEND mailbox [flags] [date-time] literal, and with MULTIAPPEND more
 * [flags] [date-time] literal groups.  Each literal was streamed into
 * cmd->spools in order and stands here as an empty literal argument.
 */
void
cmd_append(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *args = cmd->a.args;
	struct append_job *j;
	const char *wire, *err;
	size_t i = 1;
	int r, tz;

	if (cmd->a.count < 2 || cmd->nspools == 0 ||
	    args[cmd->a.count - 1].type != IMAP_ARG_LITERAL) {
		imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	buf_init(&j->name);
	cmd->ctx = j;
	cmd->ctx_free = append_job_free;
	if ((wire = imap_arg_astring(&args[0])) == NULL ||
	    imap_mailbox_from_wire(wire, &j->name, &err) < 0) {
		imap_cmd_done(cmd, "NO", "[TRYCREATE] Invalid mailbox name");
		return;
	}
	j->msgs = xcalloc(cmd->nspools, sizeof(*j->msgs));
	while (i < cmd->a.count) {
		struct append_msg *a;

		if (j->n == cmd->nspools) {
			imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
			return;
		}
		a = &j->msgs[j->n++];
		buf_init(&a->keywords);
		buf_init(&a->mime);
		a->date = time(NULL);
		if (args[i].type == IMAP_ARG_LIST) {
			if (imap_parse_flags(&args[i], &a->flags,
			    &a->keywords, true, &err) < 0) {
				imap_cmd_done(cmd, "BAD", "%s", err);
				return;
			}
			i++;
		}
		if (i < cmd->a.count && args[i].type == IMAP_ARG_QUOTED) {
			if (imap_datetime_parse(args[i].str, args[i].len,
			    &a->date, &tz) < 0) {
				imap_cmd_done(cmd, "BAD", "Invalid date-time");
				return;
			}
			i++;
		}
		if (i >= cmd->a.count || args[i].type != IMAP_ARG_LITERAL ||
		    args[i].len != 0) {
			imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
			return;
		}
		i++;
	}
	if (j->n != cmd->nspools) {
		imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
		return;
	}
	for (size_t k = 0; k < j->n; k++) {
		if (cmd->spools[k].error != 0) {
			imap_cmd_done(cmd, "NO", "[UNAVAILABLE] Message could "
			    "not be saved, try again later");
			return;
		}
		if (cmd->spools[k].size == 0) {
			imap_cmd_done(cmd, "NO", "Can't save a zero byte "
			    "message.");
			return;
		}
	}
	r = store_mailbox_get(srv->store, s->account, buf_cstr(&j->name),
	    &j->mi);
	if (r <= 0) {
		imap_cmd_done(cmd, "NO", r == 0 ? "[TRYCREATE] Mailbox "
		    "doesn't exist" : "[SERVERBUG] Internal error");
		return;
	}
	imap_cmd_async(cmd, append_work, append_done);
}
