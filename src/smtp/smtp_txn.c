/*
 * smtp_txn - the SMTP mail transaction (RFC 5321 3.3): MAIL, RCPT, DATA
 * and BDAT (RFC 3030), with the DSN (RFC 3461) and SMTPUTF8 (RFC 6531)
 * parameters.
 *
 * Recipients are resolved while RCPT is read (local accounts, aliases,
 * remote domains for authenticated senders); the message is streamed into
 * a spool and the MIME parser at once (DATA through the dot-unstuffing
 * reader, BDAT chunks as they are); the durable commit (local mailboxes
 * and the outbound queue) runs on a worker and only then is "250" sent
 * (DESIGN.md "Mail flow").  A recipient that asked for NOTIFY=SUCCESS and
 * was delivered locally gets its "delivered" report from here; the queue
 * reports the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "mime/mime.h"
#include "mime/mime_addr.h"
#include "queue/dsn.h"
#include "queue/queue.h"
#include "server.h"
#include "smtp_int.h"
#include "srs.h"
#include "store/store.h"

static bool
need_auth(struct smtp_session *s)
{
	if (!s->submission || s->authenticated)
		return false;
	if (!s->conn->tls && !server_plaintext_ok(s->conn))
		smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
	else
		smtp_reply(s, "530 5.7.0 Authentication required");
	return true;
}

/*
 * Whether an authenticated user may send as addr: mail to it reaches
 * their account (their address, user+tag, an alias naming them).
 */
static bool
sender_owned(struct smtp_session *s, const char *addr)
{
	struct rcpt_resolution rr;
	const char *err;
	bool owned = false;

	rcpt_resolution_init(&rr);
	if (store_resolve_rcpt(srv->store, addr, &rr, &err) == 1)
		for (size_t i = 0; i < rr.naccounts; i++)
			if (rr.account_ids[i] == s->auth_account)
				owned = true;
	rcpt_resolution_free(&rr);
	return owned;
}

void
smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_parse_opts opts = { true };
	struct smtp_path path;
	struct buf envid = BUF_INIT;
	const char *err;
	bool utf8 = false;
	int ret = 0;

	if (!s->helo_seen) {
		smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (need_auth(s))
		return;
	if (s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (conn_message_rate_hit(s->conn)) {
		log_info("s=%s smtp message rate exceeded from=%s",
		    s->conn->sid, s->conn->peer_ip);
		smtp_reply(s, "450 4.7.1 Error: too much mail from %s",
		    s->conn->peer_ip);
		return;
	}
	/* UTF-8 is allowed when this very command says SMTPUTF8. */
	if (smtp_parse_mail_from(cmd->arg, cmd->arg_len, &opts, &path,
	    &err) < 0) {
		smtp_reply(s, "%s", err);
		smtp_bad_command(s);
		return;
	}
	for (size_t i = 0; i < path.nparams; i++) {
		const struct smtp_param *p = &path.params[i];

		if (strcmp(p->keyword, "SIZE") == 0) {
			uint64_t size;

			if (smtp_param_size(p, &size) < 0) {
				smtp_reply(s, "501 5.5.4 Bad SIZE parameter");
				goto out;
			}
			if (size > srv->cfg->message_size) {
				smtp_reply(s, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				goto out;
			}
			s->declared_size = size;
		} else if (strcmp(p->keyword, "BODY") == 0) {
			enum smtp_body body;

			if (smtp_param_body(p, &body) < 0 ||
			    body == SMTP_BODY_BINARYMIME) {
				smtp_reply(s, "501 5.5.4 Unsupported BODY "
				    "parameter");
				goto out;
			}
		} else if (strcmp(p->keyword, "SMTPUTF8") == 0) {
			if (smtp_param_flag(p) < 0) {
				smtp_reply(s, "501 5.5.4 SMTPUTF8 takes no "
				    "value");
				goto out;
			}
			utf8 = true;
		} else if (strcmp(p->keyword, "RET") == 0) {
			enum smtp_ret r;

			if (smtp_param_ret(p, &r) < 0) {
				smtp_reply(s, "501 5.5.4 Bad RET parameter");
				goto out;
			}
			ret = (int)r;
		} else if (strcmp(p->keyword, "ENVID") == 0) {
			if (smtp_param_envid(p, &envid) < 0) {
				smtp_reply(s, "501 5.5.4 Bad ENVID parameter");
				goto out;
			}
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported option: %s",
			    p->keyword);
			goto out;
		}
	}
	if (path.utf8 && !utf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		goto out;
	}
	if (s->authenticated && srv->cfg->sender_check != CONFIG_SENDER_OFF &&
	    path.addr[0] != '\0') {
		if (!sender_owned(s, path.addr)) {
			log_info("s=%s smtp sender rejected from=<%s> user=%s",
			    s->conn->sid, path.addr, s->auth_user);
			smtp_reply(s, "553 5.7.1 <%s>: Sender address rejected: "
			    "not owned by user %s", path.addr, s->auth_user);
			goto out;
		}
		s->mail_from_owned = true;
	}
	snprintf(s->mail_from, sizeof(s->mail_from), "%s", path.addr);
	s->smtputf8 = utf8;
	s->ret = ret;
	free(s->envid);
	s->envid = envid.len > 0 ? buf_steal(&envid) : NULL;
	s->in_tx = true;
	smtp_reply(s, "250 2.1.0 Ok");
	if (smtp_checks_wanted(s))
		s->checks = smtp_checks_start(s);
out:
	buf_free(&envid);
}

static void
add_account(struct smtp_session *s, int64_t id)
{
	for (size_t i = 0; i < s->naccounts; i++)
		if (s->accounts[i] == id)
			return;
	s->accounts = xgrowarray(s->accounts, s->naccounts,
	    sizeof(*s->accounts));
	s->accounts[s->naccounts++] = id;
}

static void
add_remote(struct smtp_session *s, const char *addr, size_t rcpt)
{
	for (size_t i = 0; i < s->nremotes; i++)
		if (strcasecmp(s->remotes[i].addr, addr) == 0)
			return;
	s->remotes = xgrowarray(s->remotes, s->nremotes, sizeof(*s->remotes));
	s->remotes[s->nremotes].addr = xstrdup(addr);
	s->remotes[s->nremotes].rcpt = rcpt;
	s->nremotes++;
}

static bool
account_full(struct smtp_session *s, int64_t id)
{
	struct account a;
	uint64_t used;
	bool full = false;

	memset(&a, 0, sizeof(a));
	if (store_account_get_id(srv->store, id, &a) != 1)
		return false;
	if (a.quota > 0 && store_account_usage(srv->store, id, &used) == 0)
		full = used >= a.quota || used + s->declared_size > a.quota;
	account_clear(&a);
	return full;
}

/* NOTIFY and ORCPT of a RCPT (RFC 3461 4.1, 4.2). */
static int
rcpt_params(struct smtp_session *s, const struct smtp_path *path,
    unsigned *notify, char **orcpt)
{
	*notify = 0;
	*orcpt = NULL;
	for (size_t i = 0; i < path->nparams; i++) {
		const struct smtp_param *p = &path->params[i];

		if (strcmp(p->keyword, "NOTIFY") == 0) {
			if (smtp_param_notify(p, notify) < 0) {
				smtp_reply(s, "501 5.5.4 Bad NOTIFY parameter");
				goto fail;
			}
		} else if (strcmp(p->keyword, "ORCPT") == 0) {
			struct buf addr = BUF_INIT;
			const char *type;
			size_t tlen;

			if (smtp_param_orcpt(p, &type, &tlen, &addr) < 0) {
				buf_free(&addr);
				smtp_reply(s, "501 5.5.4 Bad ORCPT parameter");
				goto fail;
			}
			free(*orcpt);
			*orcpt = xasprintf("%.*s;%s", (int)tlen, type,
			    buf_cstr(&addr));
			buf_free(&addr);
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported option: %s",
			    p->keyword);
			goto fail;
		}
	}
	return 0;
fail:
	/* An ORCPT may have come before the bad parameter. */
	free(*orcpt);
	*orcpt = NULL;
	return -1;
}

void
smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_parse_opts opts = { false };
	struct rcpt_resolution rr;
	struct smtp_path path;
	struct smtp_rcpt *rc;
	char addr[SMTP_PATH_MAX + 1];
	const char *err;
	unsigned notify;
	char *orcpt = NULL;
	size_t idx = s->nrcpts;
	bool local = false, srs_back = false;
	int r;

	if (!s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->body_started) {
		smtp_reply(s, "503 5.5.1 Error: RCPT after the message data "
		    "began");
		return;
	}
	opts.smtputf8 = s->smtputf8;
	if (smtp_parse_rcpt_to(cmd->arg, cmd->arg_len, &opts, &path,
	    &err) < 0) {
		smtp_reply(s, "%s", err);
		smtp_bad_command(s);
		return;
	}
	if (rcpt_params(s, &path, &notify, &orcpt) < 0)
		return;
	if (s->nrcpts >= srv->cfg->max_recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		free(orcpt);
		return;
	}
	if (path.postmaster) {
		/* RFC 5321 4.5.1: <Postmaster> must be accepted. */
		const char *dot = strchr(smtp_hostname(), '.');

		snprintf(addr, sizeof(addr), "postmaster@%s", smtp_hostname());
		if (store_domain_exists(srv->store, smtp_hostname()) != 1 &&
		    dot != NULL)
			snprintf(addr, sizeof(addr), "postmaster@%s", dot + 1);
	} else
		snprintf(addr, sizeof(addr), "%s", path.addr);
	if (smtp_addr_has_relay_tricks(addr)) {
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied", addr);
		free(orcpt);
		return;
	}
	/* A bounce (or reply) to a sender we rewrote goes back to them. */
	if (srv->cfg->srs) {
		char back[SMTP_PATH_MAX + 1];
		const char *why;

		switch (srs_reverse_ours(srv->srs_secret, server_srs_domain(),
		    addr, time(NULL), back, sizeof(back), &why)) {
		case -1:
			smtp_reply(s, "550 5.1.1 <%s>: Recipient address "
			    "rejected: invalid SRS address (%s)", addr, why);
			free(orcpt);
			return;
		case 1:
			log_info("s=%s smtp srs rcpt=<%s> -> <%s>",
			    s->conn->sid, addr, back);
			snprintf(addr, sizeof(addr), "%s", back);
			srs_back = true;
			break;
		}
	}
	rcpt_resolution_init(&rr);
	r = store_resolve_rcpt(srv->store, addr, &rr, &err);
	if (r < 0) {
		log_warnx("s=%s smtp recipient lookup failed: %s",
		    s->conn->sid, err);
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		goto refused;
	}
	if (r == 2) {
		if (!s->authenticated && !srs_back) {
			smtp_reply(s, "554 5.7.1 <%s>: Relay access denied",
			    addr);
			goto refused;
		}
		add_remote(s, addr, idx);
	} else if (r == 0) {
		if (rr.disabled)
			smtp_reply(s, "550 5.2.1 <%s>: Recipient address "
			    "rejected: Mailbox disabled", addr);
		else
			smtp_reply(s, "550 5.1.1 <%s>: Recipient address "
			    "rejected: User unknown in local recipient table",
			    addr);
		goto refused;
	} else {
		const char *p = rr.remote.data;

		/*
		 * Quota: refuse at RCPT when a mailbox is already full or
		 * the announced size would not fit (452 4.2.2, temporary:
		 * the sender retries; nothing is dropped in silence, even
		 * when only one target of an alias is full).  The message
		 * that crosses the line is let in.
		 */
		for (size_t i = 0; i < rr.naccounts; i++)
			if (account_full(s, rr.account_ids[i])) {
				smtp_reply(s, "452 4.2.2 <%s>: Mailbox full",
				    addr);
				goto refused;
			}
		for (size_t i = 0; i < rr.naccounts; i++)
			add_account(s, rr.account_ids[i]);
		local = rr.naccounts > 0;
		for (size_t i = 0; i < rr.nremote; i++) {
			add_remote(s, p, idx);
			p += strlen(p) + 1;
		}
	}
	rcpt_resolution_free(&rr);
	s->rcpts = xgrowarray(s->rcpts, s->nrcpts, sizeof(*s->rcpts));
	rc = &s->rcpts[s->nrcpts++];
	memset(rc, 0, sizeof(*rc));
	snprintf(rc->addr, sizeof(rc->addr), "%s", addr);
	rc->notify = notify;
	rc->orcpt = orcpt;
	rc->local = local;
	smtp_reply(s, "250 2.1.5 Ok");
	return;
refused:
	rcpt_resolution_free(&rr);
	free(orcpt);
}

static void
spool_emit(void *ctx, const char *p, size_t n)
{
	struct smtp_session *s = ctx;

	if (s->too_big || s->write_error)
		return;
	if (s->spool.size + n > srv->cfg->message_size) {
		s->too_big = true;
		return;
	}
	if (spool_write(&s->spool, p, n) < 0) {
		s->write_error = true;
		return;
	}
	mime_parser_feed(s->mp, p, n);
}

/* The spool, the MIME parser and our Received header (RFC 5321 4.4). */
static void
body_start(struct smtp_session *s)
{
	struct buf rcv = BUF_INIT;
	char date[64];
	const char *proto;

	random_id(s->qid);
	spool_init(&s->spool, store_tmpdir(srv->store));
	s->mp = mime_parser_create(NULL);
	s->too_big = s->write_error = false;
	s->body_started = true;
	/* RFC 3848 protocol names; RFC 6531 3.7.3 with SMTPUTF8. */
	proto = s->esmtp ? (s->conn->tls ? (s->authenticated ? "ESMTPSA" :
	    "ESMTPS") : (s->authenticated ? "ESMTPA" : "ESMTP")) : "SMTP";
	rfc5322_date(time(NULL), date, sizeof(date));
	buf_printf(&rcv, "Received: from %s ([%s])\r\n\tby %s (posthorn) "
	    "with %s%s id %s", s->helo, s->conn->peer_ip, smtp_hostname(),
	    s->smtputf8 ? "UTF8" : "", proto, s->qid);
	if (s->conn->tls && s->conn->tls_done)
		buf_printf(&rcv, "\r\n\t(version=%s cipher=%s)",
		    s->conn->tls_version, s->conn->tls_cipher);
	if (s->nrcpts == 1)
		buf_printf(&rcv, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(&rcv, "; %s\r\n", date);
	spool_emit(s, rcv.data, rcv.len);
	buf_free(&rcv);
}

void
smtp_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	if (!s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->bdat_used) {
		smtp_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return;
	}
	if (s->nrcpts == 0) {
		smtp_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (cmd->arg_len > 0) {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	body_start(s);
	smtp_data_init(&s->dr);
	s->state = SMTP_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* Reads a message-ish copy of the header block for a DSN. */
static void
spool_head(const struct spool *sp, struct buf *out)
{
	char chunk[65536];
	ssize_t n = spool_pread(sp, chunk, sizeof(chunk), 0);
	const char *end;

	if (n <= 0)
		return;
	buf_append(out, chunk, (size_t)n);
	if ((end = memmem(out->data, out->len, "\r\n\r\n", 4)) != NULL)
		buf_truncate(out, (size_t)(end - out->data) + 2);
}

/* NOTIFY=SUCCESS for recipients delivered here: "delivered" reports. */
static void
local_success_dsn(struct smtp_delivery *d)
{
	struct queue_msg m;
	struct queue_rcpt *qr;
	struct spool sp;
	struct buf head = BUF_INIT;
	size_t *which, n = 0;
	const char *err;

	if (d->mail_from[0] == '\0')
		return;
	memset(&m, 0, sizeof(m));
	memcpy(m.id, d->qid, sizeof(m.id));
	m.sender = d->mail_from;
	m.created = time(NULL);
	m.envid = d->envid;
	m.smtputf8 = d->smtputf8;
	qr = xcalloc(d->nrcpts + 1, sizeof(*qr));
	which = xcalloc(d->nrcpts + 1, sizeof(size_t));
	for (size_t i = 0; i < d->nrcpts; i++) {
		if (!d->rcpts[i].local ||
		    !(d->rcpts[i].notify & SMTP_NOTIFY_SUCCESS))
			continue;
		qr[n].addr = d->rcpts[i].addr;
		qr[n].orcpt = d->rcpts[i].orcpt;
		qr[n].last_try = m.created;
		which[n] = n;
		n++;
	}
	m.rcpts = qr;
	m.nrcpts = n;
	if (n > 0) {
		spool_head(&d->spool, &head);
		spool_init(&sp, store_tmpdir(srv->store));
		if (dsn_build(&sp, DSN_DELIVERED, smtp_hostname(), &m, which,
		    n, &head, false, m.created) < 0 ||
		    queue_inject("", d->mail_from, &sp,
		    dsn_is_global(&m, which, n), &err) < 0)
			log_warnx("smtp id=%s delivery notice to <%s> not "
			    "sent", d->qid, d->mail_from);
		spool_free(&sp);
	}
	buf_free(&head);
	free(qr);
	free(which);
}

/*
 * Leaves the ranges out of the spool (forged Authentication-Results) and
 * parses the new message.  Returns 0, or -1 when the copy failed (the
 * message then goes as it came: better than losing it).
 */
static int
strip_ranges(struct smtp_delivery *d)
{
	struct spool out;
	struct mime_parser *mp = mime_parser_create(NULL);
	char chunk[65536];
	uint64_t off = 0;
	size_t r = 0;
	int rc = 0;

	spool_init(&out, store_tmpdir(srv->store));
	while (off < d->spool.size && rc == 0) {
		uint64_t end = r < d->nstrip ? d->strip[r].off : d->spool.size;
		size_t want;
		ssize_t n;

		if (off >= end) {
			off = d->strip[r].off + d->strip[r].len;
			r++;
			continue;
		}
		want = end - off < sizeof(chunk) ? (size_t)(end - off) :
		    sizeof(chunk);
		if ((n = spool_pread(&d->spool, chunk, want, off)) <= 0 ||
		    spool_write(&out, chunk, (size_t)n) < 0)
			rc = -1;
		else {
			mime_parser_feed(mp, chunk, (size_t)n);
			off += (uint64_t)n;
		}
	}
	{
		struct mime_part *root = mime_parser_finish(&mp);

		if (rc == 0) {
			spool_free(&d->spool);
			spool_move(&d->spool, &out);
			mime_part_free(&d->mime);
			d->mime = root;
		} else {
			mime_part_free(&root);
			spool_free(&out);
		}
	}
	return rc;
}

static void
delivery_work(void *arg)
{
	struct smtp_delivery *d = arg;
	struct store_msg msg;
	struct buf ser = BUF_INIT, local = BUF_INIT;
	uint32_t *uids;

	if (d->nstrip > 0 && strip_ranges(d) < 0)
		log_warnx("smtp id=%s forged Authentication-Results not "
		    "removed: spool error", d->qid);
	/* Our users' mail leaves signed (only mail that leaves). */
	if (d->authenticated && d->nremotes > 0)
		(void)smtp_dkim_sign(d->mime, d->mail_from, &d->spool,
		    &d->prefix);
	/*
	 * Final delivery puts the return path first (RFC 5321 4.4); the
	 * copy that leaves must not have one.
	 */
	buf_printf(&local, "Return-Path: <%s>\r\n", d->mail_from);
	buf_append(&local, d->prefix.data, d->prefix.len);
	mime_part_shift(d->mime, local.len);
	mime_serialize(d->mime, &ser);
	memset(&msg, 0, sizeof(msg));
	msg.spool = &d->spool;
	msg.prefix = local.data;
	msg.prefix_len = local.len;
	msg.junk = d->junk;
	msg.mime = ser.data;
	msg.mime_len = ser.len;
	msg.internaldate = time(NULL);
	uids = xcalloc(d->naccounts ? d->naccounts : 1, sizeof(*uids));
	d->rc = 0;
	if (d->naccounts > 0)
		d->rc = store_deliver(srv->store, d->accounts, d->naccounts,
		    &msg, uids, &d->error);
	if (d->rc == 0 && d->nremotes > 0) {
		const char **rcpts = xcalloc(d->nremotes, sizeof(char *));
		const char **orcpt = xcalloc(d->nremotes, sizeof(char *));
		unsigned *notify = xcalloc(d->nremotes, sizeof(unsigned));
		const char *sender = d->mail_from;
		char srs[SMTP_PATH_MAX + 1];
		struct queue_params qp;

		for (size_t i = 0; i < d->nremotes; i++) {
			const struct smtp_rcpt *r =
			    &d->rcpts[d->remotes[i].rcpt];

			rcpts[i] = d->remotes[i].addr;
			notify[i] = r->notify;
			orcpt[i] = r->orcpt;
		}
		/*
		 * Mail from elsewhere that we forward leaves with a sender of
		 * ours (SRS), so SPF passes at the destination.
		 */
		if (!d->authenticated && srv->cfg->srs &&
		    d->mail_from[0] != '\0') {
			if (srs_forward(srv->srs_secret, d->mail_from,
			    server_srs_domain(), time(NULL), srs,
			    sizeof(srs)) == 0)
				sender = srs;
			else
				log_warnx("smtp id=%s sender <%s> too long for "
				    "SRS; forwarded as it is", d->qid,
				    d->mail_from);
		}
		memset(&qp, 0, sizeof(qp));
		qp.envid = d->envid;
		qp.ret = d->ret;
		qp.notify = notify;
		qp.orcpt = orcpt;
		qp.smtputf8 = d->smtputf8;
		msg.prefix = d->prefix.data;
		msg.prefix_len = d->prefix.len;
		d->rc = store_queue_add(srv->store, sender, rcpts,
		    d->nremotes, &msg, d->qid, &qp, &d->error);
		free(rcpts);
		free(orcpt);
		free(notify);
	}
	if (d->rc == 0)
		local_success_dsn(d);
	free(uids);
	buf_free(&ser);
	buf_free(&local);
}

static void
delivery_free(struct smtp_delivery *d)
{
	spool_free(&d->spool);
	buf_free(&d->prefix);
	free(d->strip);
	mime_part_free(&d->mime);
	free(d->accounts);
	for (size_t i = 0; i < d->nremotes; i++)
		free(d->remotes[i].addr);
	free(d->remotes);
	for (size_t i = 0; i < d->nrcpts; i++)
		free(d->rcpts[i].orcpt);
	free(d->rcpts);
	free(d->envid);
	free(d);
}

static void
delivery_done(void *arg)
{
	struct smtp_delivery *d = arg;
	struct smtp_session *s = d->s;
	struct conn *c = d->conn;

	if (!c->closing) {
		if (d->rc == 0) {
			log_info("s=%s smtp message accepted id=%s size=%llu "
			    "rcpts=%zu local=%zu queued=%zu from=<%s>%s%s%s",
			    c->sid, d->qid,
			    (unsigned long long)d->spool.size + d->prefix.len,
			    d->nrcpts,
			    d->naccounts, d->nremotes, d->mail_from,
			    d->summary[0] ? " " : "", d->summary,
			    d->junk ? " folder=Junk" : "");
			smtp_reply(s, "250 2.0.0 Ok: queued as %s", d->qid);
		} else {
			log_warnx("s=%s smtp message %s not stored: %s",
			    c->sid, d->qid, d->error ? d->error : "?");
			if (d->rc == STORE_NOSPACE)
				smtp_reply(s, "452 4.3.1 Insufficient system "
				    "storage");
			else
				smtp_reply(s, "451 4.3.0 Error: queue file "
				    "write error");
		}
		smtp_tx_reset(s);
		s->state = SMTP_CMD;
	}
	delivery_free(d);
	if (!c->closing)
		smtp_process(s);
	conn_release(c);
}

/* Hands the message to a worker for the durable delivery behind 250. */
static void
start_delivery(struct smtp_session *s, struct mime_part *root,
    struct smtp_verdict *v)
{
	struct smtp_delivery *d;

	d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->conn = s->conn;
	spool_move(&d->spool, &s->spool);
	d->mime = root;
	/* The transaction's lists move to the delivery. */
	d->accounts = s->accounts;
	d->naccounts = s->naccounts;
	s->accounts = NULL;
	s->naccounts = 0;
	d->remotes = s->remotes;
	d->nremotes = s->nremotes;
	s->remotes = NULL;
	s->nremotes = 0;
	d->rcpts = s->rcpts;
	d->nrcpts = s->nrcpts;
	s->rcpts = NULL;
	s->nrcpts = 0;
	d->envid = s->envid;
	s->envid = NULL;
	d->ret = s->ret;
	d->smtputf8 = s->smtputf8;
	d->authenticated = s->authenticated;
	buf_init(&d->prefix);
	if (v != NULL) {
		buf_append(&d->prefix, v->header.data, v->header.len);
		d->strip = v->strip;
		d->nstrip = v->nstrip;
		v->strip = NULL;
		v->nstrip = 0;
		d->junk = v->action == SMTP_VERDICT_JUNK;
		snprintf(d->summary, sizeof(d->summary), "%s", v->summary);
	}
	snprintf(d->mail_from, sizeof(d->mail_from), "%s", s->mail_from);
	memcpy(d->qid, s->qid, sizeof(d->qid));
	s->state = SMTP_BUSY;
	conn_hold(s->conn);
	worker_submit(delivery_work, delivery_done, d);
}

/* The checks of a message from another server have concluded. */
static void
checks_done(void *arg, struct smtp_verdict *v)
{
	struct smtp_session *s = arg;
	struct smtp_checks *chk = s->checks;	/* v lives in it */
	struct conn *c = s->conn;
	struct mime_part *root = s->root;

	s->checks = NULL;
	s->root = NULL;
	if (c->closing)
		mime_part_free(&root);
	else if (v->action == SMTP_VERDICT_REJECT) {
		log_info("s=%s smtp message rejected id=%s from=<%s> %s "
		    "reply=\"%s\"", c->sid, s->qid, s->mail_from, v->summary,
		    v->reply);
		smtp_reply(s, "%s", v->reply);
		mime_part_free(&root);
		smtp_tx_reset(s);
		s->state = SMTP_CMD;
		smtp_process(s);
	} else
		start_delivery(s, root, v);
	smtp_checks_free(&chk);
	conn_release(c);
}

/*
 * The author (RFC 5322 From) must be the user too, or a receiver sees a
 * message from someone else with our DKIM signature on it.  Replies 550
 * and returns false when an address there is not theirs.
 */
static bool
from_owned(struct smtp_session *s, const struct mime_part *root)
{
	struct mime_addr *list, *a;
	bool ok = true;

	if (root->env == NULL || root->env->from == NULL)
		return true;
	list = mime_addr_parse(root->env->from, strlen(root->env->from));
	for (a = list; a != NULL && ok; a = a->next) {
		char addr[SMTP_PATH_MAX + 1];

		if (a->mailbox == NULL || a->host == NULL)
			continue;	/* group syntax */
		snprintf(addr, sizeof(addr), "%s@%s", a->mailbox, a->host);
		/* Mostly the envelope sender again, checked at MAIL. */
		if (!a->invalid && s->mail_from_owned &&
		    strcmp(addr, s->mail_from) == 0)
			continue;
		if (a->invalid || !sender_owned(s, addr)) {
			log_info("s=%s smtp message rejected id=%s: From <%s> "
			    "not owned by user %s", s->conn->sid, s->qid,
			    addr, s->auth_user);
			smtp_reply(s, "550 5.7.1 <%s>: From address rejected: "
			    "not owned by user %s", addr, s->auth_user);
			ok = false;
		}
	}
	mime_addr_free(&list);
	return ok;
}

static void
body_finished(struct smtp_session *s)
{
	struct mime_part *root = mime_parser_finish(&s->mp);

	if (s->too_big || s->write_error) {
		mime_part_free(&root);
		if (s->too_big) {
			smtp_reply(s, "552 5.3.4 Error: message file too big");
			log_info("s=%s smtp message rejected: too big",
			    s->conn->sid);
		} else {
			if (s->spool.error == ENOSPC)
				smtp_reply(s, "452 4.3.1 Insufficient system "
				    "storage");
			else
				smtp_reply(s, "451 4.3.0 Error: queue file "
				    "write error");
			log_warnx("s=%s smtp spool write failed: %s",
			    s->conn->sid, strerror(s->spool.error));
		}
		smtp_tx_reset(s);
		s->state = SMTP_CMD;
		return;
	}
	if (s->authenticated && srv->cfg->sender_check == CONFIG_SENDER_FROM &&
	    !from_owned(s, root)) {
		mime_part_free(&root);
		smtp_tx_reset(s);
		s->state = SMTP_CMD;
		return;
	}
	if (s->checks != NULL) {
		s->root = root;
		s->state = SMTP_BUSY;
		conn_hold(s->conn);
		smtp_checks_finish(s->checks, &s->spool, checks_done, s);
		return;
	}
	start_delivery(s, root, NULL);
}

/*
 * Feeds the DATA bytes that have arrived (the contiguous first chunk of
 * the input); returns false when the input is empty.
 */
bool
smtp_data_input(struct smtp_session *s)
{
	struct conn *c = s->conn;
	struct evbuffer_iovec v;
	size_t used;
	int r;

	if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1)
		return false;
	r = smtp_data_feed(&s->dr, v.iov_base, v.iov_len, &used, spool_emit,
	    s);
	evbuffer_drain(c->in, used);
	c->bytes_in += used;
	if (r == 1)
		body_finished(s);
	return true;
}

/*
 * BDAT size [LAST] (RFC 3030): exactly size bytes follow the command,
 * whatever happens to the transaction, so they are always read; they are
 * kept only when the chunk is acceptable.
 */
void
smtp_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	const char *sp = memchr(cmd->arg, ' ', cmd->arg_len);
	size_t nlen = sp ? (size_t)(sp - cmd->arg) : cmd->arg_len;
	uint64_t size;

	if (nlen == 0 || parse_u64(cmd->arg, nlen, UINT64_MAX, &size) < 0 ||
	    (sp != NULL && !ascii_strcaseeq_n(sp + 1, cmd->arg_len - nlen - 1,
	    "LAST"))) {
		/* Without a size nothing can be skipped: the session ends. */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		conn_close(s->conn, "bad BDAT");
		return;
	}
	s->bdat_left = size;
	s->bdat_chunk = size;
	s->bdat_last = sp != NULL;
	s->bdat_discard = false;
	s->bdat_error = NULL;
	if (!s->in_tx) {
		s->bdat_discard = true;
		s->bdat_error = "503 5.5.1 Error: need MAIL command";
	} else if (s->nrcpts == 0) {
		s->bdat_discard = true;
		s->bdat_error = "554 5.5.1 Error: no valid recipients";
	} else if (s->body_started && !s->bdat_used) {
		s->bdat_discard = true;
		s->bdat_error = "503 5.5.1 Error: BDAT after DATA";
	} else {
		if (!s->body_started) {
			body_start(s);
			s->bdat_cr = false;
		}
		s->bdat_used = true;
		if (s->spool.size + size > srv->cfg->message_size)
			s->too_big = true;
	}
	s->state = SMTP_BDAT;
	if (size == 0)
		smtp_bdat_input(s);
}

/* Keeps chunk bytes, a bare LF becoming CRLF as in DATA. */
static void
bdat_keep(struct smtp_session *s, const char *p, size_t n)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && !s->bdat_cr) {
			spool_emit(s, p + from, i - from);
			spool_emit(s, "\r\n", 2);
			from = i + 1;
		}
		s->bdat_cr = p[i] == '\r';
	}
	spool_emit(s, p + from, n - from);
}

bool
smtp_bdat_input(struct smtp_session *s)
{
	struct conn *c = s->conn;

	while (s->bdat_left > 0) {
		struct evbuffer_iovec v;
		size_t n;

		if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1)
			return false;
		n = v.iov_len < s->bdat_left ? v.iov_len : (size_t)s->bdat_left;
		if (!s->bdat_discard)
			bdat_keep(s, v.iov_base, n);
		evbuffer_drain(c->in, n);
		c->bytes_in += n;
		s->bdat_left -= n;
	}
	s->state = SMTP_CMD;
	if (s->bdat_discard) {
		smtp_reply(s, "%s", s->bdat_error);
		return true;
	}
	if (s->bdat_last) {
		body_finished(s);
		return true;
	}
	if (s->too_big) {
		/* RFC 3030 4.2: the rest of the transaction is void. */
		smtp_reply(s, "552 5.3.4 Error: message file too big");
		smtp_tx_reset(s);
		return true;
	}
	smtp_reply(s, "250 2.0.0 %llu octets received",
	    (unsigned long long)s->bdat_chunk);
	return true;
}
