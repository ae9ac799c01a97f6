/*
 * pop3_session - POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595),
 * AUTH (RFC 5034) and response codes (RFC 3206), over the same INBOX that
 * IMAP shows.
 *
 * After login the maildrop is locked (one POP3 session per account at a
 * time, "-ERR [IN-USE]") and its messages are numbered once; mail arriving
 * later waits for the next session (RFC 1939 5).  DELE only marks; the
 * marked messages are expunged durably when QUIT enters the UPDATE state,
 * and IMAP sessions on the INBOX then see EXPUNGE.  A connection that drops
 * without QUIT deletes nothing.
 *
 * UIDL is "%08X%08X" of uid and uidvalidity (Dovecot's default format), so
 * it is stable for as long as the message stays in INBOX.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "auth/auth.h"
#include "auth/auth_sasl.h"
#include "auth/sasl.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "mime/mime.h"
#include "pop3_parse.h"
#include "server.h"
#include "store/store.h"

#define POP3_LINE_MAX	4096
#define POP3_CHUNK	((size_t)64 * 1024)
#define POP3_HIGH	((size_t)256 * 1024)
#define POP3_BAD_MAX	20

enum pop3_state {
	POP3_AUTHORIZATION,
	POP3_TRANSACTION,
};

struct pop3_msg {
	uint32_t uid;
	uint64_t size;
	bool	 deleted;
	bool	 retrieved;
};

struct pop3_session {
	struct conn	*conn;
	enum pop3_state	 state;
	bool		 busy;		/* an async step runs */
	bool		 quitting;
	char		*user;		/* from USER */
	int64_t		 account;
	char		*address;
	bool		 locked;
	bool		 keep;		/* domain: DELE only marks */
	struct auth_sasl *sasl;
	unsigned	 bad;
	bool		 skip_line;

	int64_t		 inbox;
	uint32_t	 uidvalidity;
	struct pop3_msg	*msgs;
	uint32_t	 nmsgs;

	/* A RETR or TOP being streamed. */
	bool		 streaming;
	int64_t		 message_id;
	uint64_t	 off, end;	/* byte range of the message to send */
	uint64_t	 body_start;	/* TOP: where the body begins */
	uint64_t	 top_lines;	/* TOP: body lines still allowed */
	bool		 top;
	struct pop3_stuff stuff;

	/* Async results. */
	int		 rc;
	const char	*error;
};

/* One POP3 session per account at a time, across all threads. */
static pthread_mutex_t lock_mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t *locks;
static size_t nlocks;

static bool
maildrop_lock(int64_t account)
{
	bool ok = true;

	pthread_mutex_lock(&lock_mtx);
	for (size_t i = 0; i < nlocks; i++)
		if (locks[i] == account)
			ok = false;
	if (ok) {
		locks = xreallocarray(locks, nlocks + 1, sizeof(*locks));
		locks[nlocks++] = account;
	}
	pthread_mutex_unlock(&lock_mtx);
	return ok;
}

static void
maildrop_unlock(int64_t account)
{
	pthread_mutex_lock(&lock_mtx);
	for (size_t i = 0; i < nlocks; i++)
		if (locks[i] == account) {
			locks[i] = locks[--nlocks];
			break;
		}
	pthread_mutex_unlock(&lock_mtx);
}

static void pop3_process(struct pop3_session *);

static void
send_line(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_line(struct pop3_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	/*
	 * Replies may echo what the client sent ("no message 1<CR>2"): a
	 * control character there would split or end the line early.
	 */
	for (size_t i = 0; i < b.len; i++)
		if (((unsigned char)b.data[i] < 32 && b.data[i] != '\t') ||
		    b.data[i] == 127)
			b.data[i] = '?';
	buf_append(&b, "\r\n", 2);
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

static bool
bad(struct pop3_session *s)
{
	if (++s->bad >= POP3_BAD_MAX) {
		send_line(s, "-ERR Too many bad commands.");
		conn_close(s->conn, "too many bad commands");
		return true;
	}
	return false;
}

static void
cmd_capa(struct pop3_session *s)
{
	struct buf mechs = BUF_INIT;
	bool pt = server_plaintext_ok(s->conn);

	send_line(s, "+OK Capability list follows");
	send_line(s, "CAPA");
	send_line(s, "TOP");
	send_line(s, "UIDL");
	send_line(s, "RESP-CODES");
	send_line(s, "PIPELINING");
	send_line(s, "AUTH-RESP-CODE");
	/* RFC 2449 6.7/6.8: we never expire mail or delay logins. */
	send_line(s, "EXPIRE NEVER");
	send_line(s, "LOGIN-DELAY 0");
	if (s->state == POP3_AUTHORIZATION) {
		if (pt)
			send_line(s, "USER");
		if (pt)
			sasl_mech_list(&mechs, true);
		if (mechs.len > 0)
			send_line(s, "SASL %s", buf_cstr(&mechs));
		if (!s->conn->tls)
			send_line(s, "STLS");
	}
	send_line(s, "IMPLEMENTATION posthorn");
	send_line(s, ".");
	buf_free(&mechs);
}

struct load_ctx {
	struct pop3_session *s;
};

static void
load_cb(void *ctx, const struct mail_row *r)
{
	struct pop3_session *s = ctx;

	/* Left on the server after a POP3 DELE: gone for POP3. */
	if (s->keep && (r->flags & MAIL_DELETED))
		return;
	s->msgs = xgrowarray(s->msgs, s->nmsgs, sizeof(*s->msgs));
	s->msgs[s->nmsgs].uid = r->uid;
	s->msgs[s->nmsgs].size = r->size;
	s->msgs[s->nmsgs].deleted = false;
	s->msgs[s->nmsgs].retrieved = false;
	s->nmsgs++;
}

static void
load_work(void *arg)
{
	struct pop3_session *s = arg;
	struct mailbox_info mi;

	s->rc = -1;
	if (store_mailbox_get(srv->store, s->account, "INBOX", &mi) != 1) {
		s->error = "INBOX is missing";
		return;
	}
	s->inbox = mi.id;
	s->uidvalidity = mi.uidvalidity;
	if (store_mails_scan_sized(srv->store, s->account, mi.id, load_cb, s,
	    &s->error) < 0)
		return;
	s->rc = 0;
}

static void
load_done(void *arg)
{
	struct pop3_session *s = arg;
	struct conn *c = s->conn;

	if (!c->closing) {
		s->busy = false;
		if (s->rc < 0) {
			log_warnx("s=%s pop3 maildrop load failed: %s", c->sid,
			    s->error);
			send_line(s, "-ERR [SYS/TEMP] Couldn't open INBOX");
			conn_close(c, "store error");
		} else {
			s->state = POP3_TRANSACTION;
			conn_set_timeout(c, (unsigned)srv->cfg->pop3_timeout);
			send_line(s, "+OK Logged in.");
			pop3_process(s);
		}
	}
	conn_release(c);
}

static void
auth_checked(struct conn *c, void *ctx, const struct auth_result *res)
{
	struct pop3_session *s = ctx;

	if (!res->ok) {
		s->busy = false;
		send_line(s, "-ERR [AUTH] Authentication failed.");
		if (!bad(s))
			pop3_process(s);
		return;
	}
	if (!res->allowed) {
		s->busy = false;
		send_line(s, "-ERR [AUTH] %s.", res->refusal);
		pop3_process(s);
		return;
	}
	if (!maildrop_lock(res->account_id)) {
		s->busy = false;
		send_line(s, "-ERR [IN-USE] Mailbox is locked by another POP3 "
		    "session.");
		log_info("s=%s pop3 maildrop of %s is in use", c->sid,
		    res->address);
		pop3_process(s);
		return;
	}
	s->locked = true;
	s->busy = true;
	s->account = res->account_id;
	s->keep = res->pop3_keep;
	c->account = res->account_id;
	free(s->address);
	s->address = xstrdup(res->address);
	conn_hold(c);
	worker_submit(load_work, load_done, s);
}

static void
sasl_challenge(void *ctx, const char *b64)
{
	struct pop3_session *s = ctx;

	send_line(s, "+ %s", b64);
}

static void
sasl_done(void *ctx, const struct auth_result *res)
{
	struct pop3_session *s = ctx;

	auth_sasl_free(&s->sasl);
	auth_checked(s->conn, s, res);
}

static void
sasl_aborted(void *ctx, bool cancelled, const char *error)
{
	struct pop3_session *s = ctx;

	auth_sasl_free(&s->sasl);
	if (cancelled)
		send_line(s, "-ERR Authentication cancelled.");
	else
		send_line(s, "-ERR %s", error);
}

static const struct auth_sasl_ops pop3_sasl_ops = {
	sasl_challenge, sasl_done, sasl_aborted,
};

static void
start_stream(struct pop3_session *s, uint32_t n, bool top, uint64_t lines)
{
	struct pop3_msg *m = &s->msgs[n - 1];
	struct mail_meta meta;
	struct mime_part *root = NULL;
	const char *err;

	mail_meta_init(&meta);
	if (store_mail_meta(srv->store, s->account, s->inbox, m->uid, top,
	    &meta) != 1) {
		send_line(s, "-ERR Message was deleted by another session.");
		mail_meta_free(&meta);
		return;
	}
	s->message_id = meta.message_id;
	s->off = 0;
	s->end = meta.size;
	s->top = top;
	pop3_stuff_init(&s->stuff);
	if (top) {
		root = mime_deserialize(meta.mime.data, meta.mime.len, &err);
		s->body_start = root ? root->body_off : meta.size;
		s->top_lines = lines;
		mime_part_free(&root);
		send_line(s, "+OK");
	} else {
		send_line(s, "+OK %llu octets", (unsigned long long)meta.size);
		m->retrieved = true;
	}
	mail_meta_free(&meta);
	s->streaming = true;
}

/* Writes dot-stuffed message bytes until the output queue is full. */
static void
stream_continue(struct pop3_session *s)
{
	struct conn *c = s->conn;
	struct buf in = BUF_INIT, out = BUF_INIT;
	const char *err;

	while (s->streaming && conn_outq(c) < POP3_HIGH && !c->closing) {
		uint64_t left = s->end - s->off;
		size_t n = left > POP3_CHUNK ? POP3_CHUNK : (size_t)left;
		bool stop = false;

		if (n > 0) {
			buf_reset(&in);
			if (store_body_read(srv->store, s->account,
			    s->message_id, s->off, n, &in, &err) < 0 ||
			    in.len != n) {
				log_warnx("s=%s pop3 read failed: %s", c->sid,
				    err);
				conn_close(c, "store read error");
				break;
			}
		}
		if (s->top) {
			/* Cut after the allowed number of body lines. */
			for (size_t i = 0; i < n; i++) {
				uint64_t pos = s->off + i;

				if (pos < s->body_start)
					continue;
				if (s->top_lines == 0) {
					n = i;
					stop = true;
					break;
				}
				if (in.data[i] == '\n')
					s->top_lines--;
			}
		}
		buf_reset(&out);
		pop3_stuff_feed(&s->stuff, in.data, n, &out);
		s->off += n;
		if (stop || s->off >= s->end) {
			pop3_stuff_finish(&s->stuff, &out);
			s->streaming = false;
		}
		if (out.len > 0)
			conn_write(c, out.data, out.len);
	}
	buf_free(&in);
	buf_free(&out);
}

static void
update_work(void *arg)
{
	struct pop3_session *s = arg;
	uint32_t *del = xcalloc(s->nmsgs + 1, sizeof(uint32_t));
	uint32_t *seen = xcalloc(s->nmsgs + 1, sizeof(uint32_t));
	size_t nd = 0, ns = 0;

	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (s->msgs[i].deleted)
			del[nd++] = s->msgs[i].uid;
		else if (s->msgs[i].retrieved)
			seen[ns++] = s->msgs[i].uid;
	}
	s->rc = 0;
	if (ns > 0) {
		struct flag_change *ch = xcalloc(ns, sizeof(*ch));

		if (store_mails_flags(srv->store, s->account, s->inbox, seen,
		    ns, FLAGS_ADD, MAIL_SEEN, NULL, STORE_UNCONDITIONAL, ch,
		    &s->error) < 0)
			s->rc = -1;
		free(ch);
	}
	if (s->rc == 0 && nd > 0 && s->keep) {
		/* "Leave mail on the server": IMAP still sees it. */
		struct flag_change *ch = xcalloc(nd, sizeof(*ch));

		if (store_mails_flags(srv->store, s->account, s->inbox, del,
		    nd, FLAGS_ADD, MAIL_DELETED | MAIL_SEEN, NULL,
		    STORE_UNCONDITIONAL, ch,
		    &s->error) < 0)
			s->rc = -1;
		free(ch);
	} else if (s->rc == 0 && nd > 0 && store_mails_expunge(srv->store,
	    s->account, s->inbox, del, nd, false, NULL, NULL, &s->error) < 0)
		s->rc = -1;
	free(del);
	free(seen);
}

static void
update_done(void *arg)
{
	struct pop3_session *s = arg;
	struct conn *c = s->conn;

	if (!c->closing) {
		if (s->rc < 0) {
			log_warnx("s=%s pop3 update failed: %s", c->sid,
			    s->error);
			send_line(s, "-ERR [SYS/TEMP] Deleting messages "
			    "failed, they remain.");
		} else
			send_line(s, "+OK Logging out.");
		conn_close(c, "quit");
	}
	conn_release(c);
}

static void
no_such_message(struct pop3_session *s, const char *arg, size_t len)
{
	send_line(s, "-ERR There's no message %.*s.",
	    (int)(len > 20 ? 20 : len), arg);
}

static void
cmd_list(struct pop3_session *s, const struct pop3_cmd *cmd, bool uidl)
{
	struct buf b = BUF_INIT;
	uint32_t n;

	if (cmd->arg_len > 0) {
		if ((n = pop3_parse_msgnum(cmd->arg, cmd->arg_len,
		    s->nmsgs)) == 0 || s->msgs[n - 1].deleted) {
			no_such_message(s, cmd->arg, cmd->arg_len);
			return;
		}
		if (uidl)
			send_line(s, "+OK %u %08X%08X", n, s->msgs[n - 1].uid,
			    s->uidvalidity);
		else
			send_line(s, "+OK %u %llu", n,
			    (unsigned long long)s->msgs[n - 1].size);
		return;
	}
	buf_puts(&b, "+OK\r\n");
	for (uint32_t i = 0; i < s->nmsgs; i++) {
		if (s->msgs[i].deleted)
			continue;
		if (uidl)
			buf_printf(&b, "%u %08X%08X\r\n", i + 1,
			    s->msgs[i].uid, s->uidvalidity);
		else
			buf_printf(&b, "%u %llu\r\n", i + 1,
			    (unsigned long long)s->msgs[i].size);
		if (b.len > (size_t)64 * 1024) {
			conn_write(s->conn, b.data, b.len);
			buf_reset(&b);
		}
	}
	buf_puts(&b, ".\r\n");
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

static void
cmd_transaction(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	uint64_t lines = 0, total = 0;
	uint32_t n, count = 0;

	switch (cmd->verb) {
	case POP3_STAT:
		for (uint32_t i = 0; i < s->nmsgs; i++)
			if (!s->msgs[i].deleted) {
				count++;
				total += s->msgs[i].size;
			}
		send_line(s, "+OK %u %llu", count, (unsigned long long)total);
		break;
	case POP3_LIST:
	case POP3_UIDL:
		cmd_list(s, cmd, cmd->verb == POP3_UIDL);
		break;
	case POP3_RETR:
		if ((n = pop3_parse_msgnum(cmd->arg, cmd->arg_len,
		    s->nmsgs)) == 0 || s->msgs[n - 1].deleted) {
			no_such_message(s, cmd->arg, cmd->arg_len);
			break;
		}
		start_stream(s, n, false, 0);
		stream_continue(s);
		break;
	case POP3_TOP:
		if (pop3_parse_top(cmd->arg, cmd->arg_len, s->nmsgs, &n,
		    &lines) < 0) {
			send_line(s, "-ERR Invalid arguments.");
			bad(s);
			break;
		}
		if (s->msgs[n - 1].deleted) {
			no_such_message(s, cmd->arg, cmd->arg_len);
			break;
		}
		start_stream(s, n, true, lines);
		stream_continue(s);
		break;
	case POP3_DELE:
		if ((n = pop3_parse_msgnum(cmd->arg, cmd->arg_len,
		    s->nmsgs)) == 0 || s->msgs[n - 1].deleted) {
			no_such_message(s, cmd->arg, cmd->arg_len);
			break;
		}
		s->msgs[n - 1].deleted = true;
		send_line(s, "+OK Marked to be deleted.");
		break;
	case POP3_RSET:
		for (uint32_t i = 0; i < s->nmsgs; i++)
			s->msgs[i].deleted = false;
		send_line(s, "+OK");
		break;
	case POP3_NOOP:
		send_line(s, "+OK");
		break;
	case POP3_QUIT:
		s->quitting = true;
		s->busy = true;
		conn_hold(s->conn);
		worker_submit(update_work, update_done, s);
		break;
	case POP3_CAPA:
		cmd_capa(s);
		break;
	default:
		send_line(s, "-ERR Unknown command.");
		bad(s);
		break;
	}
}

static bool
plaintext_refused(struct pop3_session *s)
{
	if (server_plaintext_ok(s->conn))
		return false;
	send_line(s, "-ERR [AUTH] Plaintext authentication disallowed on "
	    "non-secure (SSL/TLS) connections.");
	return true;
}

static void
cmd_auth(struct pop3_session *s, const char *arg, size_t alen)
{
	const char *sp = memchr(arg, ' ', alen);
	size_t mlen = sp ? (size_t)(sp - arg) : alen;
	char mech[32];

	if (alen == 0) {
		/* RFC 5034 4: a bare AUTH lists the mechanisms. */
		struct buf m = BUF_INIT;

		if (server_plaintext_ok(s->conn))
			sasl_mech_list(&m, true);
		send_line(s, "+OK");
		for (char *p = m.data; p != NULL && *p != '\0';) {
			char *e = strchr(p, ' ');
			size_t k = e ? (size_t)(e - p) : strlen(p);

			send_line(s, "%.*s", (int)k, p);
			p = e ? e + 1 : NULL;
		}
		send_line(s, ".");
		buf_free(&m);
		return;
	}
	if (mlen >= sizeof(mech)) {
		send_line(s, "-ERR Unsupported authentication mechanism.");
		return;
	}
	memcpy(mech, arg, mlen);
	mech[mlen] = '\0';
	if (plaintext_refused(s))
		return;
	if ((s->sasl = auth_sasl_new(s->conn, mech, &pop3_sasl_ops,
	    s)) == NULL) {
		send_line(s, "-ERR Unsupported authentication mechanism.");
		return;
	}
	if (sp != NULL)
		auth_sasl_input(s->sasl, sp + 1, alen - mlen - 1);
	else
		auth_sasl_input(s->sasl, NULL, 0);
}

static void
cmd_authorization(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	char *pw;

	switch (cmd->verb) {
	case POP3_CAPA:
		cmd_capa(s);
		break;
	case POP3_QUIT:
		send_line(s, "+OK Logging out");
		conn_close(s->conn, "quit");
		break;
	case POP3_NOOP:
		send_line(s, "+OK");
		break;
	case POP3_STLS:
		if (s->conn->tls) {
			send_line(s, "-ERR TLS is already active.");
			break;
		}
		send_line(s, "+OK Begin TLS negotiation now.");
		free(s->user);
		s->user = NULL;
		conn_starttls(s->conn);
		break;
	case POP3_USER:
		if (plaintext_refused(s))
			break;
		if (cmd->arg_len == 0 || cmd->arg_len > 320) {
			send_line(s, "-ERR Invalid user name.");
			bad(s);
			break;
		}
		free(s->user);
		s->user = xstrndup(cmd->arg, cmd->arg_len);
		send_line(s, "+OK");
		break;
	case POP3_PASS:
		if (plaintext_refused(s))
			break;
		if (s->user == NULL) {
			send_line(s, "-ERR No username given.");
			bad(s);
			break;
		}
		/* RFC 1939 7: the password is the rest of the line. */
		pw = xstrndup(cmd->arg, cmd->arg_len);
		s->busy = true;
		auth_start(s->conn, "USER", s->user, pw, auth_checked, s);
		xfree_secret(pw, cmd->arg_len);
		break;
	case POP3_AUTH:
		cmd_auth(s, cmd->arg, cmd->arg_len);
		break;
	case POP3_APOP:
		send_line(s, "-ERR APOP is not enabled.");
		break;
	default:
		send_line(s, "-ERR Unknown command.");
		bad(s);
		break;
	}
}

static void
pop3_command(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmd cmd;

	if (pop3_parse_line(line, len, &cmd) < 0) {
		send_line(s, "-ERR Unknown command.");
		bad(s);
		return;
	}
	if (s->state == POP3_AUTHORIZATION)
		cmd_authorization(s, &cmd);
	else
		cmd_transaction(s, &cmd);
}

static void
pop3_process(struct pop3_session *s)
{
	struct conn *c = s->conn;

	while (!c->closing && !s->busy && !c->starttls_pending &&
	    !(s->sasl != NULL && auth_sasl_busy(s->sasl))) {
		size_t avail = evbuffer_get_length(c->in);
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;
		char *line;

		if (s->streaming) {
			stream_continue(s);
			if (s->streaming)
				return;
			continue;
		}
		if (avail == 0)
			return;
		eol = evbuffer_search_eol(c->in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (avail > POP3_LINE_MAX) {
				evbuffer_drain(c->in, avail);
				s->skip_line = true;
			}
			return;
		}
		len = (size_t)eol.pos;
		if (s->skip_line || len > POP3_LINE_MAX) {
			evbuffer_drain(c->in, len + eol_len);
			s->skip_line = false;
			send_line(s, "-ERR Line too long.");
			if (bad(s))
				return;
			continue;
		}
		line = xmalloc(len + 1);
		evbuffer_remove(c->in, line, len);
		evbuffer_drain(c->in, eol_len);
		c->bytes_in += len + eol_len;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (s->sasl != NULL)
			auth_sasl_input(s->sasl, line, len);
		else
			pop3_command(s, line, len);
		explicit_bzero(line, len);
		free(line);
	}
}

static void
pop3_on_read(struct conn *c)
{
	pop3_process(c->session);
}

static void
pop3_on_drain(struct conn *c)
{
	struct pop3_session *s = c->session;

	if (s->streaming)
		pop3_process(s);
}

static void
pop3_on_timeout(struct conn *c)
{
	struct pop3_session *s = c->session;

	send_line(s, "-ERR Disconnected for inactivity.");
}

static void
pop3_on_shutdown(struct conn *c)
{
	struct pop3_session *s = c->session;

	if (!s->quitting)
		send_line(s, "-ERR [SYS/TEMP] Server shutting down.");
}

static void
pop3_on_kicked(struct conn *c, const char *reason)
{
	struct pop3_session *s = c->session;

	send_line(s, "-ERR [AUTH] %s.", reason);
}

static void
pop3_on_close(struct conn *c)
{
	struct pop3_session *s = c->session;

	if (s == NULL)
		return;
	if (s->locked)
		maildrop_unlock(s->account);
	auth_sasl_free(&s->sasl);
	free(s->user);
	free(s->address);
	free(s->msgs);
	free(s);
	c->session = NULL;
}

static void
pop3_on_tls(struct conn *c)
{
	pop3_process(c->session);
}

static const struct conn_ops pop3_ops = {
	.proto = "pop3",
	.on_read = pop3_on_read,
	.on_drain = pop3_on_drain,
	.on_tls = pop3_on_tls,
	.on_timeout = pop3_on_timeout,
	.on_shutdown = pop3_on_shutdown,
	.on_kicked = pop3_on_kicked,
	.on_close = pop3_on_close,
};

void
pop3_accept(int fd, const struct sockaddr *sa, socklen_t salen,
    enum listen_kind kind)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	struct conn *c;
	const char *why;

	c = conn_new(fd, sa, salen, kind, kind == LISTEN_POP3S, &pop3_ops, s);
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->state = POP3_AUTHORIZATION;
	conn_set_timeout(c, (unsigned)srv->cfg->login_timeout);
	conn_set_drain_mark(c, (size_t)64 * 1024);
	if ((why = conn_refusal(c)) != NULL) {
		send_line(s, why == conn_refusal_busy ? "-ERR [SYS/TEMP] Server "
		    "busy, try again later." : "-ERR [SYS/TEMP] Too many "
		    "connections from your address.");
		conn_close(c, why);
		return;
	}
	send_line(s, "+OK posthorn ready.");
}
