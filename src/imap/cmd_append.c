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
#include "imap_session.h"
#include "mime/mime.h"
#include "server.h"
#include "store/store.h"

struct append_job {
	struct buf	 name;
	struct mailbox_info mi;
	uint32_t	 flags;
	struct buf	 keywords;
	time_t		 date;
	int		 rc;
	const char	*error;
	uint32_t	 uid;
	uint32_t	 uidvalidity;
};

static void
append_job_free(void *p)
{
	struct append_job *j = p;

	buf_free(&j->name);
	buf_free(&j->keywords);
	free(j);
}

static void
append_work(struct imap_cmd *cmd)
{
	struct append_job *j = cmd->ctx;
	struct spool *sp = &cmd->spools[0];
	struct mime_parser *mp = mime_parser_create(NULL);
	struct mime_part *root;
	struct store_msg msg;
	struct buf ser = BUF_INIT;
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
	if (off != sp->size) {
		j->rc = -1;
		j->error = "reading the message back failed";
		mime_part_free(&root);
		return;
	}
	mime_serialize(root, &ser);
	mime_part_free(&root);
	memset(&msg, 0, sizeof(msg));
	msg.spool = sp;
	msg.mime = ser.data;
	msg.mime_len = ser.len;
	msg.internaldate = j->date;
	j->rc = store_append(srv->store, cmd->s->account, j->mi.id, &msg,
	    j->flags, j->keywords.len ? buf_cstr(&j->keywords) : NULL,
	    imap_account_quota(cmd->s), &j->uid, &j->uidvalidity, &j->error);
	buf_free(&ser);
}

static void
append_done(struct imap_cmd *cmd)
{
	struct append_job *j = cmd->ctx;
	struct imap_session *s = cmd->s;

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
	imap_cmd_done(cmd, "OK", "[APPENDUID %u %u] Append completed.",
	    j->uidvalidity, j->uid);
}

void
cmd_append(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const struct imap_arg *args = cmd->a.args;
	struct append_job *j;
	const char *wire, *err;
	size_t i = 1;
	int r, tz;

	if (cmd->a.count < 2 || cmd->a.count > 4 || cmd->nspools != 1 ||
	    args[cmd->a.count - 1].type != IMAP_ARG_LITERAL) {
		imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	buf_init(&j->name);
	buf_init(&j->keywords);
	cmd->ctx = j;
	cmd->ctx_free = append_job_free;
	j->date = time(NULL);
	if ((wire = imap_arg_astring(&args[0])) == NULL ||
	    imap_mailbox_from_wire(wire, &j->name, &err) < 0) {
		imap_cmd_done(cmd, "NO", "[TRYCREATE] Invalid mailbox name");
		return;
	}
	if (i < cmd->a.count - 1 && args[i].type == IMAP_ARG_LIST) {
		if (imap_parse_flags(&args[i], &j->flags, &j->keywords, true,
		    &err) < 0) {
			imap_cmd_done(cmd, "BAD", "%s", err);
			return;
		}
		i++;
	}
	if (i < cmd->a.count - 1) {
		if (args[i].type != IMAP_ARG_QUOTED ||
		    imap_datetime_parse(args[i].str, args[i].len, &j->date,
		    &tz) < 0) {
			imap_cmd_done(cmd, "BAD", "Invalid date-time");
			return;
		}
		i++;
	}
	if (i != cmd->a.count - 1) {
		imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
		return;
	}
	if (cmd->spools[0].error != 0) {
		imap_cmd_done(cmd, "NO", "[UNAVAILABLE] Message could not be "
		    "saved, try again later");
		return;
	}
	if (cmd->spools[0].size == 0) {
		imap_cmd_done(cmd, "NO", "Can't save a zero byte message.");
		return;
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
