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
#include "auth/sasl.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/util.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "mime/mime.h"
#include "server.h"
#include "store/store.h"

#define POP3_LINE_MAX	4096
#define POP3_PREAUTH_TIMEOUT 120
#define POP3_CHUNK	(64 * 1024)
#define POP3_HIGH	(256 * 1024)
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
	struct sasl_server *sasl;
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
	bool		 at_line_start;
	bool		 last_was_lf;

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

/* Parses a message number argument; 0 when invalid. */
static uint32_t
msgnum(struct pop3_session *s, const char *arg, size_t len)
{
	uint64_t n;

	if (parse_u64(arg, len, s->nmsgs, &n) < 0 || n == 0)
		return 0;
	return (uint32_t)n;
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
	if (s->state == POP3_AUTHORIZATION) {
		if (pt)
			send_line(s, "USER");
		sasl_mech_list(&mechs, pt);
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

	s->msgs = xreallocarray(s->msgs, s->nmsgs + 1, sizeof(*s->msgs));
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
	if (store_mails_scan(srv->store, s->account, mi.id, 0, load_cb, s,
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
	s->account = res->account_id;
	free(s->address);
	s->address = xstrdup(res->address);
	conn_hold(c);
	worker_submit(load_work, load_done, s);
}

static void
auth_step(struct pop3_session *s, const char *resp, size_t len)
{
	struct buf chal = BUF_INIT;
	const struct sasl_creds *cr;
	int r = sasl_server_step(s->sasl, resp, len, &chal);

	switch (r) {
	case SASL_STEP_CONTINUE:
		send_line(s, "+ %s", buf_cstr(&chal));
		break;
	case SASL_STEP_DONE:
		cr = sasl_server_creds(s->sasl);
		if (sasl_creds_authz_differs(cr)) {
			send_line(s, "-ERR [AUTH] Authorization identity not "
			    "allowed.");
			sasl_server_free(&s->sasl);
			break;
		}
		s->busy = true;
		auth_start(s->conn, sasl_server_mech(s->sasl), cr->authcid,
		    cr->passwd, auth_checked, s);
		sasl_server_free(&s->sasl);
		break;
	case SASL_STEP_CANCELLED:
		send_line(s, "-ERR Authentication cancelled.");
		sasl_server_free(&s->sasl);
		break;
	default:
		send_line(s, "-ERR %s", sasl_server_error(s->sasl));
		sasl_server_free(&s->sasl);
		break;
	}
	buf_free(&chal);
}

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
	s->at_line_start = true;
	s->last_was_lf = true;
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
		buf_reset(&out);
		for (size_t i = 0; i < n; i++) {
			char ch = in.data[i];
			uint64_t pos = s->off + i;

			if (s->top && pos >= s->body_start &&
			    s->at_line_start && s->top_lines == 0) {
				stop = true;
				n = i;
				break;
			}
			if (s->at_line_start && ch == '.')
				buf_putc(&out, '.');
			buf_putc(&out, ch);
			s->at_line_start = ch == '\n';
			s->last_was_lf = ch == '\n';
			if (ch == '\n' && s->top && pos >= s->body_start &&
			    s->top_lines > 0)
				s->top_lines--;
		}
		s->off += n;
		if (out.len > 0)
			conn_write(c, out.data, out.len);
		if (stop || s->off >= s->end) {
			if (!s->last_was_lf)
				conn_write(c, "\r\n", 2);
			conn_write(c, ".\r\n", 3);
			s->streaming = false;
		}
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
		    ns, FLAGS_ADD, MAIL_SEEN, NULL, 0, ch, &s->error) < 0)
			s->rc = -1;
		free(ch);
	}
	if (s->rc == 0 && nd > 0 && store_mails_expunge(srv->store,
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
			send_line(s, "+OK Logging out, messages deleted.");
		conn_close(c, "quit");
	}
	conn_release(c);
}

static void
cmd_transaction(struct pop3_session *s, const char *verb, const char *arg,
    size_t alen)
{
	uint32_t n;

	if (strcasecmp(verb, "STAT") == 0) {
		uint64_t total = 0;
		uint32_t count = 0;

		for (uint32_t i = 0; i < s->nmsgs; i++)
			if (!s->msgs[i].deleted) {
				count++;
				total += s->msgs[i].size;
			}
		send_line(s, "+OK %u %llu", count, (unsigned long long)total);
	} else if (strcasecmp(verb, "LIST") == 0 ||
	    strcasecmp(verb, "UIDL") == 0) {
		bool uidl = verb[0] == 'U' || verb[0] == 'u';
		struct buf b = BUF_INIT;

		if (alen > 0) {
			if ((n = msgnum(s, arg, alen)) == 0 ||
			    s->msgs[n - 1].deleted) {
				send_line(s, "-ERR There's no message %.*s.",
				    (int)(alen > 20 ? 20 : alen), arg);
				return;
			}
			if (uidl)
				send_line(s, "+OK %u %08X%08X", n,
				    s->msgs[n - 1].uid, s->uidvalidity);
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
			if (b.len > 64 * 1024) {
				conn_write(s->conn, b.data, b.len);
				buf_reset(&b);
			}
		}
		buf_puts(&b, ".\r\n");
		conn_write(s->conn, b.data, b.len);
		buf_free(&b);
	} else if (strcasecmp(verb, "RETR") == 0 ||
	    strcasecmp(verb, "TOP") == 0) {
		bool top = verb[0] == 'T' || verb[0] == 't';
		const char *sp = memchr(arg, ' ', alen);
		uint64_t lines = 0;
		size_t nlen = sp ? (size_t)(sp - arg) : alen;

		if ((n = msgnum(s, arg, nlen)) == 0 || s->msgs[n - 1].deleted) {
			send_line(s, "-ERR There's no message %.*s.",
			    (int)(nlen > 20 ? 20 : nlen), arg);
			return;
		}
		if (top != (sp != NULL) || (top && parse_u64(sp + 1,
		    alen - nlen - 1, UINT64_MAX, &lines) < 0)) {
			send_line(s, "-ERR Invalid arguments.");
			bad(s);
			return;
		}
		start_stream(s, n, top, lines);
		stream_continue(s);
	} else if (strcasecmp(verb, "DELE") == 0) {
		if ((n = msgnum(s, arg, alen)) == 0 || s->msgs[n - 1].deleted) {
			send_line(s, "-ERR There's no message %.*s.",
			    (int)(alen > 20 ? 20 : alen), arg);
			return;
		}
		s->msgs[n - 1].deleted = true;
		send_line(s, "+OK Marked to be deleted.");
	} else if (strcasecmp(verb, "RSET") == 0) {
		for (uint32_t i = 0; i < s->nmsgs; i++)
			s->msgs[i].deleted = false;
		send_line(s, "+OK");
	} else if (strcasecmp(verb, "NOOP") == 0) {
		send_line(s, "+OK");
	} else if (strcasecmp(verb, "QUIT") == 0) {
		s->quitting = true;
		s->busy = true;
		conn_hold(s->conn);
		worker_submit(update_work, update_done, s);
	} else if (strcasecmp(verb, "CAPA") == 0) {
		cmd_capa(s);
	} else {
		send_line(s, "-ERR Unknown command: %.*s", 16, verb);
		bad(s);
	}
}

static void
cmd_authorization(struct pop3_session *s, const char *verb, const char *arg,
    size_t alen)
{
	if (strcasecmp(verb, "CAPA") == 0) {
		cmd_capa(s);
	} else if (strcasecmp(verb, "QUIT") == 0) {
		send_line(s, "+OK Logging out");
		conn_close(s->conn, "quit");
	} else if (strcasecmp(verb, "NOOP") == 0) {
		send_line(s, "+OK");
	} else if (strcasecmp(verb, "STLS") == 0) {
		if (s->conn->tls) {
			send_line(s, "-ERR TLS is already active.");
			return;
		}
		send_line(s, "+OK Begin TLS negotiation now.");
		free(s->user);
		s->user = NULL;
		conn_starttls(s->conn);
	} else if (strcasecmp(verb, "USER") == 0) {
		if (!server_plaintext_ok(s->conn)) {
			send_line(s, "-ERR [AUTH] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
			return;
		}
		if (alen == 0 || alen > 320) {
			send_line(s, "-ERR Invalid user name.");
			bad(s);
			return;
		}
		free(s->user);
		s->user = xstrndup(arg, alen);
		send_line(s, "+OK");
	} else if (strcasecmp(verb, "PASS") == 0) {
		char *pw;

		if (!server_plaintext_ok(s->conn)) {
			send_line(s, "-ERR [AUTH] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
			return;
		}
		if (s->user == NULL) {
			send_line(s, "-ERR No username given.");
			bad(s);
			return;
		}
		/* RFC 1939: the password is the rest of the line. */
		pw = xstrndup(arg, alen);
		s->busy = true;
		auth_start(s->conn, "USER", s->user, pw, auth_checked, s);
		xfree_secret(pw, alen);
	} else if (strcasecmp(verb, "AUTH") == 0) {
		const char *sp = memchr(arg, ' ', alen);
		size_t mlen = sp ? (size_t)(sp - arg) : alen;
		char mech[32];

		if (alen == 0) {
			/* RFC 5034: a bare AUTH lists the mechanisms. */
			struct buf m = BUF_INIT;

			sasl_mech_list(&m, server_plaintext_ok(s->conn));
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
			send_line(s, "-ERR Unsupported authentication "
			    "mechanism.");
			return;
		}
		memcpy(mech, arg, mlen);
		mech[mlen] = '\0';
		if (!server_plaintext_ok(s->conn) &&
		    sasl_mech_supported(mech)) {
			send_line(s, "-ERR [AUTH] Plaintext authentication "
			    "disallowed on non-secure (SSL/TLS) connections.");
			return;
		}
		if ((s->sasl = sasl_server_new(mech)) == NULL) {
			send_line(s, "-ERR Unsupported authentication "
			    "mechanism.");
			return;
		}
		if (sp != NULL)
			auth_step(s, sp + 1, alen - mlen - 1);
		else
			auth_step(s, NULL, 0);
	} else if (strcasecmp(verb, "APOP") == 0) {
		send_line(s, "-ERR APOP is not enabled.");
	} else {
		send_line(s, "-ERR Unknown command.");
		bad(s);
	}
}

static void
pop3_command(struct pop3_session *s, const char *line, size_t len)
{
	char verb[8];
	const char *arg;
	size_t vlen = 0, alen;

	while (vlen < len && line[vlen] != ' ')
		vlen++;
	if (vlen == 0 || vlen >= sizeof(verb) || memchr(line, '\0', len)) {
		send_line(s, "-ERR Unknown command.");
		bad(s);
		return;
	}
	memcpy(verb, line, vlen);
	verb[vlen] = '\0';
	arg = vlen < len ? line + vlen + 1 : line + len;
	alen = len - (size_t)(arg - line);
	if (s->state == POP3_AUTHORIZATION)
		cmd_authorization(s, verb, arg, alen);
	else
		cmd_transaction(s, verb, arg, alen);
}

static void
pop3_process(struct pop3_session *s)
{
	struct conn *c = s->conn;

	while (!c->closing && !s->busy && !c->starttls_pending) {
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
			auth_step(s, line, len);
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
pop3_on_close(struct conn *c)
{
	struct pop3_session *s = c->session;

	if (s == NULL)
		return;
	if (s->locked)
		maildrop_unlock(s->account);
	sasl_server_free(&s->sasl);
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
	.on_close = pop3_on_close,
};

void
pop3_accept(int fd, const struct sockaddr *sa, socklen_t salen,
    enum listen_kind kind)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	struct conn *c;

	c = conn_new(fd, sa, salen, kind, kind == LISTEN_POP3S, &pop3_ops, s);
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->state = POP3_AUTHORIZATION;
	conn_set_timeout(c, POP3_PREAUTH_TIMEOUT);
	conn_set_drain_mark(c, 64 * 1024);
	if (conn_over_limit(c)) {
		send_line(s, "-ERR [SYS/TEMP] Too many connections from your "
		    "address.");
		conn_close(c, "too many connections");
		return;
	}
	send_line(s, "+OK posthorn ready.");
}
