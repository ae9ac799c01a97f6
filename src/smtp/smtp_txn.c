/*
 * smtp_txn - the SMTP mail transaction (RFC 5321 3.3): MAIL, RCPT, DATA.
 *
 * Recipients are resolved while RCPT is read (local accounts, aliases,
 * remote domains for authenticated senders); DATA is streamed through the
 * dot-unstuffing reader into a spool and the MIME parser at once; the
 * durable commit (local mailboxes and the outbound queue) runs on a worker
 * and only then is "250" sent (DESIGN.md "Mail flow").
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
#include "server.h"
#include "smtp_int.h"
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

void
smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_parse_opts opts = { false };
	struct smtp_path path;
	const char *err;

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
				return;
			}
			if (size > srv->cfg->message_size) {
				smtp_reply(s, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				return;
			}
			s->declared_size = size;
		} else if (strcmp(p->keyword, "BODY") == 0) {
			enum smtp_body body;

			if (smtp_param_body(p, &body) < 0 ||
			    body == SMTP_BODY_BINARYMIME) {
				smtp_reply(s, "501 5.5.4 Unsupported BODY "
				    "parameter");
				return;
			}
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported option: %s",
			    p->keyword);
			return;
		}
	}
	snprintf(s->mail_from, sizeof(s->mail_from), "%s", path.addr);
	s->in_tx = true;
	smtp_reply(s, "250 2.1.0 Ok");
}

static void
add_account(struct smtp_session *s, int64_t id)
{
	for (size_t i = 0; i < s->naccounts; i++)
		if (s->accounts[i] == id)
			return;
	s->accounts = xreallocarray(s->accounts, s->naccounts + 1,
	    sizeof(*s->accounts));
	s->accounts[s->naccounts++] = id;
}

static void
add_remote(struct smtp_session *s, const char *addr)
{
	const char *p = s->remote.data;

	for (size_t i = 0; i < s->nremote; i++) {
		if (strcasecmp(p, addr) == 0)
			return;
		p += strlen(p) + 1;
	}
	buf_append(&s->remote, addr, strlen(addr) + 1);
	s->nremote++;
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

void
smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct smtp_parse_opts opts = { false };
	struct rcpt_resolution rr;
	struct smtp_path path;
	char addr[SMTP_PATH_MAX + 1];
	const char *err;
	int r;

	if (!s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (smtp_parse_rcpt_to(cmd->arg, cmd->arg_len, &opts, &path,
	    &err) < 0) {
		smtp_reply(s, "%s", err);
		smtp_bad_command(s);
		return;
	}
	if (path.nparams > 0) {
		smtp_reply(s, "555 5.5.4 Unsupported option: %s",
		    path.params[0].keyword);
		return;
	}
	if (s->nrcpts >= srv->cfg->max_recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
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
		return;
	}
	rcpt_resolution_init(&rr);
	r = store_resolve_rcpt(srv->store, addr, &rr, &err);
	if (r < 0) {
		log_warnx("s=%s smtp recipient lookup failed: %s",
		    s->conn->sid, err);
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		rcpt_resolution_free(&rr);
		return;
	}
	if (r == 2) {
		rcpt_resolution_free(&rr);
		if (!s->authenticated) {
			smtp_reply(s, "554 5.7.1 <%s>: Relay access denied",
			    addr);
			return;
		}
		add_remote(s, addr);
	} else if (r == 0) {
		if (rr.disabled)
			smtp_reply(s, "550 5.2.1 <%s>: Recipient address "
			    "rejected: Mailbox disabled", addr);
		else
			smtp_reply(s, "550 5.1.1 <%s>: Recipient address "
			    "rejected: User unknown in local recipient table",
			    addr);
		rcpt_resolution_free(&rr);
		return;
	} else {
		const char *p = rr.remote.data;
		size_t full = 0;

		/*
		 * Quota: refuse at RCPT when a mailbox is already full or
		 * the announced size would not fit (452 4.2.2, temporary:
		 * the sender retries; nothing is dropped in silence, even
		 * when only one target of an alias is full).  The message
		 * that crosses the line is let in.
		 */
		for (size_t i = 0; i < rr.naccounts; i++)
			if (account_full(s, rr.account_ids[i]))
				full++;
		if (full > 0) {
			smtp_reply(s, "452 4.2.2 <%s>: Mailbox full", addr);
			rcpt_resolution_free(&rr);
			return;
		}
		for (size_t i = 0; i < rr.naccounts; i++)
			add_account(s, rr.account_ids[i]);
		for (size_t i = 0; i < rr.nremote; i++) {
			add_remote(s, p);
			p += strlen(p) + 1;
		}
		rcpt_resolution_free(&rr);
	}
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	snprintf(s->rcpts[s->nrcpts].addr, sizeof(s->rcpts[0].addr), "%s",
	    addr);
	s->nrcpts++;
	smtp_reply(s, "250 2.1.5 Ok");
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

void
smtp_cmd_data(struct smtp_session *s, const struct smtp_cmd *cmd)
{
	struct buf rcv = BUF_INIT;
	char date[64];
	const char *proto;

	if (!s->in_tx) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
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
	random_id(s->qid);
	spool_init(&s->spool, store_tmpdir(srv->store));
	s->mp = mime_parser_create(NULL);
	smtp_data_init(&s->dr);
	/* RFC 5321 4.4 trace header; RFC 3848 protocol names. */
	proto = s->esmtp ? (s->conn->tls ? (s->authenticated ? "ESMTPSA" :
	    "ESMTPS") : (s->authenticated ? "ESMTPA" : "ESMTP")) : "SMTP";
	rfc5322_date(time(NULL), date, sizeof(date));
	buf_printf(&rcv, "Received: from %s ([%s])\r\n\tby %s (posthorn) "
	    "with %s id %s", s->helo, s->conn->peer_ip, smtp_hostname(), proto,
	    s->qid);
	if (s->conn->tls && s->conn->tls_done)
		buf_printf(&rcv, "\r\n\t(version=%s cipher=%s)",
		    s->conn->tls_version, s->conn->tls_cipher);
	if (s->nrcpts == 1)
		buf_printf(&rcv, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(&rcv, "; %s\r\n", date);
	spool_emit(s, rcv.data, rcv.len);
	buf_free(&rcv);
	s->state = SMTP_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
delivery_work(void *arg)
{
	struct smtp_delivery *d = arg;
	struct store_msg msg;
	struct buf ser = BUF_INIT;
	uint32_t *uids;

	mime_serialize(d->mime, &ser);
	msg.spool = &d->spool;
	msg.mime = ser.data;
	msg.mime_len = ser.len;
	msg.internaldate = time(NULL);
	uids = xcalloc(d->naccounts ? d->naccounts : 1, sizeof(*uids));
	d->rc = 0;
	if (d->naccounts > 0)
		d->rc = store_deliver(srv->store, d->accounts, d->naccounts,
		    &msg, uids, &d->error);
	if (d->rc == 0 && d->nremote > 0) {
		const char **rcpts = xcalloc(d->nremote, sizeof(char *));
		const char *p = d->remote.data;

		for (size_t i = 0; i < d->nremote; i++) {
			rcpts[i] = p;
			p += strlen(p) + 1;
		}
		d->rc = store_queue_add(srv->store, d->mail_from, rcpts,
		    d->nremote, &msg, d->qid, NULL, &d->error);
		free(rcpts);
	}
	free(uids);
	buf_free(&ser);
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
			    "rcpts=%zu local=%zu queued=%zu from=<%s>", c->sid,
			    d->qid, (unsigned long long)d->spool.size,
			    s->nrcpts, d->naccounts, d->nremote, d->mail_from);
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
	spool_free(&d->spool);
	mime_part_free(&d->mime);
	free(d->accounts);
	buf_free(&d->remote);
	free(d);
	if (!c->closing)
		smtp_process(s);
	conn_release(c);
}

static void
data_finished(struct smtp_session *s)
{
	struct smtp_delivery *d;
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
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->conn = s->conn;
	spool_move(&d->spool, &s->spool);
	d->mime = root;
	d->accounts = s->accounts;
	d->naccounts = s->naccounts;
	s->accounts = NULL;
	s->naccounts = 0;
	d->remote = s->remote;
	d->nremote = s->nremote;
	buf_init(&s->remote);
	s->nremote = 0;
	snprintf(d->mail_from, sizeof(d->mail_from), "%s", s->mail_from);
	memcpy(d->qid, s->qid, sizeof(d->qid));
	s->state = SMTP_BUSY;
	conn_hold(s->conn);
	worker_submit(delivery_work, delivery_done, d);
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
		data_finished(s);
	return true;
}
