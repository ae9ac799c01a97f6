/*
 * imap_session - IMAP connection handling: framing of commands and
 * literals, the command table, completion and asynchronous commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "auth/auth_sasl.h"
#include "auth/sasl.h"
#include "core/conn.h"
#include "core/hub.h"
#include "core/log.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "imap_session.h"
#include "imap_utf7.h"
#include "server.h"
#include "store/store.h"

/*
 * Before login a command (literals included) may be this big at most:
 * Dovecot's imap_max_line_length, which an ID with many fields may need.
 */
#define IMAP_PREAUTH_MAX	((size_t)64 * 1024)
#define IMAP_BAD_MAX		20

static const struct imap_cmd_def commands[] = {
	{ "CAPABILITY",	cmd_capability,	CMD_NOTAUTH | CMD_AUTH | CMD_SEL },
	{ "ENABLE",	cmd_enable,	CMD_AUTH | CMD_SEL },
	{ "COMPRESS",	cmd_compress,	CMD_AUTH | CMD_SEL },
	{ "NOOP",	cmd_noop,	CMD_NOTAUTH | CMD_AUTH | CMD_SEL },
	{ "LOGOUT",	cmd_logout,	CMD_NOTAUTH | CMD_AUTH | CMD_SEL },
	{ "ID",		cmd_id,		CMD_NOTAUTH | CMD_AUTH | CMD_SEL },
	{ "STARTTLS",	cmd_starttls,	CMD_NOTAUTH },
	{ "LOGIN",	cmd_login,	CMD_NOTAUTH },
	{ "AUTHENTICATE", cmd_authenticate, CMD_NOTAUTH },
	{ "NAMESPACE",	cmd_namespace,	CMD_AUTH | CMD_SEL },
	{ "SELECT",	cmd_select,	CMD_AUTH | CMD_SEL },
	{ "EXAMINE",	cmd_select,	CMD_AUTH | CMD_SEL },
	{ "CREATE",	cmd_create,	CMD_AUTH | CMD_SEL },
	{ "DELETE",	cmd_delete,	CMD_AUTH | CMD_SEL },
	{ "RENAME",	cmd_rename,	CMD_AUTH | CMD_SEL },
	{ "SUBSCRIBE",	cmd_subscribe,	CMD_AUTH | CMD_SEL },
	{ "UNSUBSCRIBE", cmd_subscribe,	CMD_AUTH | CMD_SEL },
	{ "LIST",	cmd_list,	CMD_AUTH | CMD_SEL },
	{ "LSUB",	cmd_list,	CMD_AUTH | CMD_SEL },
	{ "STATUS",	cmd_status,	CMD_AUTH | CMD_SEL },
	{ "APPEND",	cmd_append,	CMD_AUTH | CMD_SEL },
	{ "IDLE",	cmd_idle,	CMD_AUTH | CMD_SEL },
	{ "GETQUOTAROOT", cmd_getquotaroot, CMD_AUTH | CMD_SEL },
	{ "GETQUOTA",	cmd_getquota,	CMD_AUTH | CMD_SEL },
	{ "SETQUOTA",	cmd_setquota,	CMD_AUTH | CMD_SEL },
	{ "CHECK",	cmd_check,	CMD_SEL },
	{ "CLOSE",	cmd_close,	CMD_SEL },
	{ "UNSELECT",	cmd_close,	CMD_SEL },
	{ "EXPUNGE",	cmd_expunge,	CMD_SEL | CMD_UID },
	{ "SEARCH",	cmd_search,	CMD_SEL | CMD_UID | CMD_NO_EXPUNGE },
	{ "SORT",	cmd_sort,	CMD_SEL | CMD_UID | CMD_NO_EXPUNGE },
	{ "THREAD",	cmd_sort,	CMD_SEL | CMD_UID | CMD_NO_EXPUNGE },
	{ "FETCH",	cmd_fetch,	CMD_SEL | CMD_UID | CMD_NO_EXPUNGE },
	{ "STORE",	cmd_store,	CMD_SEL | CMD_UID | CMD_NO_EXPUNGE },
	{ "COPY",	cmd_copy,	CMD_SEL | CMD_UID },
	{ "MOVE",	cmd_copy,	CMD_SEL | CMD_UID },
};

static void imap_process(struct imap_session *);

void
imap_send(struct imap_session *s, const char *fmt, ...)
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

void
imap_send_buf(struct imap_session *s, const struct buf *b)
{
	conn_write(s->conn, b->data, b->len);
}

void
imap_capabilities(struct imap_session *s, struct buf *b)
{
	/* LITERAL+ covers LITERAL-; RFC 7888 5 forbids advertising both. */
	buf_puts(b, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID IDLE");
	if (s->state == IMAP_NOTAUTH) {
		struct buf mechs = BUF_INIT;

		if (!s->conn->tls)
			buf_puts(b, " STARTTLS");
		if (!server_plaintext_ok(s->conn))
			buf_puts(b, " LOGINDISABLED");
		if (server_plaintext_ok(s->conn))
			sasl_mech_list(&mechs, true);
		for (char *p = mechs.data; p != NULL && *p != '\0';) {
			char *e = strchr(p, ' ');
			size_t n = e ? (size_t)(e - p) : strlen(p);

			buf_printf(b, " AUTH=%.*s", (int)n, p);
			p = e ? e + 1 : NULL;
		}
		buf_free(&mechs);
	} else {
		buf_puts(b, " ENABLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN "
		    "SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS QUOTA "
		    "QUOTA=RES-STORAGE "
		    "CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN MULTIAPPEND "
		    "STATUS=SIZE OBJECTID");
		buf_puts(b, " SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT "
		    "THREAD=REFERENCES");
		buf_puts(b, " BINARY PREVIEW UTF8=ACCEPT");
		if (s->conn->under == NULL)
			buf_puts(b, " COMPRESS=DEFLATE");
		buf_printf(b, " APPENDLIMIT=%llu",
		    (unsigned long long)srv->cfg->message_size);
	}
}

static void
cmd_free(struct imap_cmd *cmd)
{
	if (cmd->ctx_free != NULL && cmd->ctx != NULL)
		cmd->ctx_free(cmd->ctx);
	for (size_t i = 0; i < cmd->nspools; i++)
		spool_free(&cmd->spools[i]);
	free(cmd->spools);
	imap_cmd_args_free(&cmd->a);
	free(cmd);
}

void
imap_cmd_done(struct imap_cmd *cmd, const char *status, const char *fmt, ...)
{
	struct imap_session *s = cmd->s;
	struct buf b = BUF_INIT;
	va_list ap;

	if (s->view != NULL && s->state == IMAP_SELECTED &&
	    strcmp(status, "BAD") != 0)
		imap_view_sync(s, !(cmd->def->flags & CMD_NO_EXPUNGE) ||
		    cmd->a.uid);
	buf_printf(&b, "%s %s ", cmd->a.tag, status);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
	if (s->cmd == cmd)
		s->cmd = NULL;
	cmd_free(cmd);
	if (s->state == IMAP_LOGOUT) {
		conn_close(s->conn, "logout");
		return;
	}
	if (!s->in_process)
		imap_process(s);
}

static void
async_work(void *arg)
{
	struct imap_cmd *cmd = arg;

	cmd->work(cmd);
}

static void
async_done(void *arg)
{
	struct imap_cmd *cmd = arg;
	struct conn *c = cmd->s->conn;

	if (c->closing) {
		if (cmd->s->cmd == cmd)
			cmd->s->cmd = NULL;
		cmd_free(cmd);
	} else
		cmd->done(cmd);
	conn_release(c);
}

void
imap_cmd_async(struct imap_cmd *cmd, void (*work)(struct imap_cmd *),
    void (*done)(struct imap_cmd *))
{
	cmd->work = work;
	cmd->done = done;
	conn_hold(cmd->s->conn);
	worker_submit(async_work, async_done, cmd);
}

int
imap_mailbox_from_wire(const struct imap_session *s, const char *wire,
    struct buf *utf8, const char **error_r)
{
	size_t len = strlen(wire);

	buf_reset(utf8);
	if (IMAP_UTF8_NAMES(s)) {
		/* As sent; "&" is just a character now (RFC 6855 3). */
		if (!imap_utf8_is_valid(wire, len)) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		buf_append(utf8, wire, len);
	} else if (imap_utf7_to_utf8(wire, len, utf8) < 0) {
		*error_r = "Mailbox name is not valid modified UTF-7";
		return -1;
	}
	/* A trailing separator only says children are intended. */
	if (utf8->len > 1 && utf8->data[utf8->len - 1] == '/')
		buf_truncate(utf8, utf8->len - 1);
	if (imap_mailbox_name_check(utf8->data, utf8->len, '/', error_r) < 0)
		return -1;
	imap_mailbox_name_normalize(utf8->data, utf8->len, '/');
	return 0;
}

void
imap_mailbox_to_wire(const struct imap_session *s, const char *utf8,
    struct buf *out)
{
	struct buf tmp = BUF_INIT;

	/* Stored names are valid UTF-8; fall back to the bytes if not. */
	if (IMAP_UTF8_NAMES(s))
		buf_puts(&tmp, utf8);
	else if (imap_utf8_to_utf7(utf8, strlen(utf8), &tmp) < 0) {
		buf_reset(&tmp);
		buf_puts(&tmp, utf8);
	}
	/* Always quoted: names with spaces are common. */
	buf_putc(out, '"');
	for (size_t i = 0; i < tmp.len; i++) {
		if (tmp.data[i] == '"' || tmp.data[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, tmp.data[i]);
	}
	buf_putc(out, '"');
	buf_free(&tmp);
}

static const struct {
	const char *name;
	uint32_t flag;
} sysflags[] = {
	{ "\\Seen", MAIL_SEEN },
	{ "\\Answered", MAIL_ANSWERED },
	{ "\\Flagged", MAIL_FLAGGED },
	{ "\\Deleted", MAIL_DELETED },
	{ "\\Draft", MAIL_DRAFT },
};

static int
parse_one_flag(const struct imap_arg *a, uint32_t *flags, struct buf *kw,
    bool allow_recent, const char **error_r)
{
	/* NIL is an atom too (flag-keyword = atom), as in Dovecot. */
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL) {
		*error_r = "Flags must be atoms";
		return -1;
	}
	if (a->str[0] == '\\') {
		for (size_t i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]);
		    i++)
			if (strcasecmp(a->str, sysflags[i].name) == 0) {
				*flags |= sysflags[i].flag;
				return 0;
			}
		if (strcasecmp(a->str, "\\Recent") == 0 && allow_recent)
			return 0;
		*error_r = "Invalid system flag";
		return -1;
	}
	for (const char *p = a->str; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL) {
			*error_r = "Invalid keyword";
			return -1;
		}
	}
	if (a->len > 64) {
		*error_r = "Keyword too long";
		return -1;
	}
	if (kw->len > 0)
		buf_putc(kw, ' ');
	buf_append(kw, a->str, a->len);
	return 0;
}

int
imap_parse_flags(const struct imap_arg *a, uint32_t *flags, struct buf *kw,
    bool allow_recent, const char **error_r)
{
	*flags = 0;
	buf_reset(kw);
	if (a->type == IMAP_ARG_LIST) {
		size_t n;
		const struct imap_arg *l = imap_arg_list(a, &n);

		if (n > 100) {
			*error_r = "Too many flags";
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (parse_one_flag(&l[i], flags, kw, allow_recent,
			    error_r) < 0)
				return -1;
		return 0;
	}
	return parse_one_flag(a, flags, kw, allow_recent, error_r);
}

void
imap_write_flags(struct buf *b, uint32_t flags, bool recent,
    const char *keywords)
{
	bool first = true;

	buf_putc(b, '(');
	for (size_t i = 0; i < sizeof(sysflags) / sizeof(sysflags[0]); i++)
		if (flags & sysflags[i].flag) {
			if (!first)
				buf_putc(b, ' ');
			buf_puts(b, sysflags[i].name);
			first = false;
		}
	if (recent) {
		if (!first)
			buf_putc(b, ' ');
		buf_puts(b, "\\Recent");
		first = false;
	}
	if (keywords != NULL && *keywords != '\0') {
		if (!first)
			buf_putc(b, ' ');
		buf_puts(b, keywords);
	}
	buf_putc(b, ')');
}

uint32_t
imap_keyword_hash(const char *kw)
{
	uint32_t h = 2166136261U;

	if (kw == NULL || *kw == '\0')
		return 0;
	for (; *kw != '\0'; kw++) {
		h ^= (unsigned char)(*kw | 0x20);
		h *= 16777619U;
	}
	return h ? h : 1;
}

static const struct imap_cmd_def *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static bool
too_many_bad(struct imap_session *s)
{
	if (++s->bad >= IMAP_BAD_MAX) {
		imap_send(s, "* BYE Too many invalid IMAP commands.");
		conn_close(s->conn, "too many bad commands");
		return true;
	}
	return false;
}

/* ASTRING-CHAR except "+" (RFC 9051 tag), as imap_parse_command() takes. */
static bool
tag_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

/*
 * The tag at the start of a command buffer, for error replies; "*" when
 * it does not start with one (the reply must not echo what no tag is).
 */
static void
peek_tag(const struct buf *b, char *tag, size_t size)
{
	size_t n = 0;

	if (b->data != NULL)
		while (n < b->len && n + 1 < size &&
		    tag_char((unsigned char)b->data[n]))
			n++;
	if (n == 0 || (n < b->len && n + 1 < size && b->data[n] != ' ')) {
		snprintf(tag, size, "*");
		return;
	}
	memcpy(tag, b->data, n);
	tag[n] = '\0';
}

static void
dispatch(struct imap_session *s)
{
	struct imap_cmd *cmd = xcalloc(1, sizeof(*cmd));
	struct imap_parse_limits lim;
	const char *err;
	unsigned need;

	cmd->s = s;
	cmd->spools = s->spools;
	cmd->nspools = s->nspools;
	s->spools = NULL;
	s->nspools = 0;
	imap_parse_limits_default(&lim);
	if (imap_parse_command(s->cmdbuf.data ? s->cmdbuf.data : "",
	    s->cmdbuf.len, &lim, &cmd->a, &err) < 0) {
		imap_send(s, "%s BAD %s", cmd->a.tag ? cmd->a.tag : "*", err);
		cmd_free(cmd);
		buf_reset(&s->cmdbuf);
		too_many_bad(s);
		return;
	}
	buf_reset(&s->cmdbuf);
	cmd->def = find_command(cmd->a.name);
	if (cmd->def == NULL) {
		imap_send(s, "%s BAD Unknown command", cmd->a.tag);
		cmd_free(cmd);
		too_many_bad(s);
		return;
	}
	if (cmd->a.uid && !(cmd->def->flags & CMD_UID)) {
		imap_send(s, "%s BAD UID can't be used with %s", cmd->a.tag,
		    cmd->a.name);
		cmd_free(cmd);
		too_many_bad(s);
		return;
	}
	need = s->state == IMAP_NOTAUTH ? CMD_NOTAUTH :
	    s->state == IMAP_AUTH ? CMD_AUTH : CMD_SEL;
	if (!(cmd->def->flags & need)) {
		imap_send(s, "%s BAD %s", cmd->a.tag,
		    s->state == IMAP_NOTAUTH ? "Not logged in" :
		    s->state == IMAP_AUTH && (cmd->def->flags & CMD_SEL) ?
		    "No mailbox selected" : "Already logged in");
		cmd_free(cmd);
		too_many_bad(s);
		return;
	}
	if (cmd->nspools > 0 && strcmp(cmd->a.name, "APPEND") != 0) {
		imap_send(s, "%s BAD Unexpected literal", cmd->a.tag);
		cmd_free(cmd);
		return;
	}
	s->cmd = cmd;
	cmd->def->fn(cmd);
}

/*
 * Is the literal that ends the current command buffer the message of an
 * APPEND (to be streamed into a spool)?  It is when the command is APPEND
 * and at least the mailbox argument precedes it.
 */
static bool
literal_is_message(struct imap_session *s, size_t marker_at)
{
	struct imap_cmd_args a;
	const char *err;
	bool yes = false;

	memset(&a, 0, sizeof(a));
	if (s->state == IMAP_NOTAUTH)
		return false;
	/* APPEND ... UTF8 (~{N}...) (RFC 6855 4): the list is still open. */
	if ((s->enabled & IMAP_EN_UTF8) && marker_at >= 7 &&
	    strncasecmp(s->cmdbuf.data + marker_at - 7, " UTF8 (", 7) == 0)
		marker_at -= 7;
	if (imap_parse_command(s->cmdbuf.data, marker_at, NULL, &a, &err) == 0)
		yes = strcmp(a.name, "APPEND") == 0 && a.count >= 1;
	imap_cmd_args_free(&a);
	return yes;
}

/* Handles a line (CRLF removed) that belongs to the command being framed. */
/* Drops a command being collected, with the literals it had so far. */
static void
discard_command(struct imap_session *s)
{
	buf_reset(&s->cmdbuf);
	for (size_t i = 0; i < s->nspools; i++)
		spool_free(&s->spools[i]);
	free(s->spools);
	s->spools = NULL;
	s->nspools = 0;
}

static void
frame_line(struct imap_session *s, const char *line, size_t len)
{
	uint64_t size, limit;
	bool nonsync, binary;
	char tag[64];
	size_t start = s->cmdbuf.len;
	int r;

	limit = s->state == IMAP_NOTAUTH ? IMAP_PREAUTH_MAX :
	    srv->cfg->imap_line_max;
	if (s->cmdbuf.len + len > limit) {
		peek_tag(&s->cmdbuf, tag, sizeof(tag));
		if (s->cmdbuf.len == 0 && len > 0) {
			struct buf t = BUF_INIT;

			buf_append(&t, line, len < 63 ? len : 63);
			peek_tag(&t, tag, sizeof(tag));
			buf_free(&t);
		}
		imap_send(s, "%s BAD [TOOBIG] Command line too long", tag);
		discard_command(s);
		too_many_bad(s);
		return;
	}
	buf_append(&s->cmdbuf, line, len);
	r = imap_literal_at_eol(line, len, &size, &nonsync, &binary);
	if (r == 0) {
		dispatch(s);
		return;
	}
	peek_tag(&s->cmdbuf, tag, sizeof(tag));
	if (r < 0) {
		imap_send(s, "%s BAD Invalid literal size", tag);
		discard_command(s);
		/*
		 * A synchronizing literal's data waits for our "+", so the
		 * session goes on; after {N+} data of unknown length follows.
		 */
		if (len >= 2 && line[len - 2] == '+')
			conn_close(s->conn, "bad literal");
		else
			too_many_bad(s);
		return;
	}
	{
		/* Where the marker starts: the last '{' (and a '~'). */
		size_t m = s->cmdbuf.len;

		while (m > start && s->cmdbuf.data[m - 1] != '{')
			m--;
		m--;
		if (binary && m > 0 && s->cmdbuf.data[m - 1] == '~')
			m--;
		if (literal_is_message(s, m)) {
			if (size > srv->cfg->message_size) {
				if (nonsync) {
					imap_send(s, "%s BAD [TOOBIG] Message "
					    "too large", tag);
					conn_close(s->conn, "literal too big");
				} else
					imap_send(s, "%s NO [TOOBIG] Message "
					    "too large", tag);
				/* With the messages of a MULTIAPPEND so far. */
				discard_command(s);
				return;
			}
			buf_truncate(&s->cmdbuf, m);
			/* cmd_append converts a literal8's binary parts. */
			buf_puts(&s->cmdbuf, binary ? "~{0}\r\n" : "{0}\r\n");
			s->spools = xreallocarray(s->spools, s->nspools + 1,
			    sizeof(*s->spools));
			spool_init(&s->spools[s->nspools],
			    store_tmpdir(srv->store));
			s->nspools++;
			s->literal_spool = true;
		} else {
			if (s->cmdbuf.len + size > limit) {
				if (nonsync) {
					imap_send(s, "%s BAD [TOOBIG] Literal "
					    "too large", tag);
					conn_close(s->conn, "literal too big");
				} else
					imap_send(s, "%s BAD [TOOBIG] Literal "
					    "too large", tag);
				discard_command(s);
				return;
			}
			buf_append(&s->cmdbuf, "\r\n", 2);
			s->literal_spool = false;
		}
	}
	s->literal_left = size;
	if (!nonsync)
		imap_send(s, "+ OK");
}

static void
imap_process(struct imap_session *s)
{
	struct conn *c = s->conn;

	s->in_process = true;
	while (!c->closing && !c->starttls_pending) {
		size_t avail = evbuffer_get_length(c->in);
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;
		bool want_line = s->idling ||
		    (s->sasl != NULL && !auth_sasl_busy(s->sasl));
		char *line;

		if (s->cmd != NULL && !want_line)
			break;
		if (s->literal_left > 0) {
			size_t n = avail < s->literal_left ? avail :
			    (size_t)s->literal_left;

			if (n == 0)
				break;
			if (s->literal_spool) {
				struct evbuffer_iovec v[4];
				int nv = evbuffer_peek(c->in, (ssize_t)n, NULL,
				    v, 4);
				size_t done = 0;

				/*
				 * nv is how many chunks n bytes span, which
				 * may be more than v holds: the rest is
				 * taken on the next round of the loop.
				 */
				if (nv > 4)
					nv = 4;
				for (int i = 0; i < nv && done < n; i++) {
					size_t k = v[i].iov_len < n - done ?
					    v[i].iov_len : n - done;

					(void)spool_write(&s->spools[
					    s->nspools - 1], v[i].iov_base, k);
					done += k;
				}
				n = done;
				evbuffer_drain(c->in, n);
			} else {
				buf_reserve(&s->cmdbuf, n);
				evbuffer_remove(c->in, s->cmdbuf.data +
				    s->cmdbuf.len, n);
				s->cmdbuf.len += n;
				s->cmdbuf.data[s->cmdbuf.len] = '\0';
			}
			c->bytes_in += n;
			s->literal_left -= n;
			continue;
		}
		if (avail == 0)
			break;
		eol = evbuffer_search_eol(c->in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			size_t limit = s->state == IMAP_NOTAUTH ?
			    IMAP_PREAUTH_MAX : srv->cfg->imap_line_max;

			if (avail > limit) {
				/* Enforced before the line is complete. */
				if (!s->skip_line) {
					char tag[64];
					struct buf t = BUF_INIT;

					buf_append(&t, s->cmdbuf.len ?
					    s->cmdbuf.data : "", s->cmdbuf.len);
					if (t.len == 0) {
						char head[64];
						size_t k = evbuffer_copyout(
						    c->in, head, 63);

						buf_append(&t, head, k);
					}
					peek_tag(&t, tag, sizeof(tag));
					buf_free(&t);
					imap_send(s, "%s BAD [TOOBIG] Command "
					    "line too long", tag);
					buf_reset(&s->cmdbuf);
					if (too_many_bad(s))
						break;
				}
				evbuffer_drain(c->in, avail);
				s->skip_line = true;
			}
			break;
		}
		len = (size_t)eol.pos;
		if (s->skip_line) {
			evbuffer_drain(c->in, len + eol_len);
			s->skip_line = false;
			continue;
		}
		line = xmalloc(len + 1);
		evbuffer_remove(c->in, line, len);
		evbuffer_drain(c->in, eol_len);
		c->bytes_in += len + eol_len;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		if (s->idling)
			imap_idle_line(s, line, len);
		else if (s->sasl != NULL)
			imap_auth_continue(s, line, len);
		else
			frame_line(s, line, len);
		explicit_bzero(line, len);
		free(line);
	}
	s->in_process = false;
}

static void
imap_on_read(struct conn *c)
{
	imap_process(c->session);
}

static void
imap_on_drain(struct conn *c)
{
	struct imap_session *s = c->session;

	if (s->cmd != NULL && s->cmd->cont != NULL && !s->in_process) {
		s->in_process = true;
		s->cmd->cont(s->cmd);
		s->in_process = false;
		if (s->cmd == NULL)
			imap_process(s);
	}
}

static void
imap_on_tls(struct conn *c)
{
	imap_process(c->session);
}

static void
imap_on_timeout(struct conn *c)
{
	struct imap_session *s = c->session;

	imap_send(s, "* BYE Disconnected for inactivity.");
}

static void
imap_on_shutdown(struct conn *c)
{
	struct imap_session *s = c->session;

	if (s->state != IMAP_LOGOUT)
		imap_send(s, "* BYE Server shutting down.");
}

static void
imap_on_kicked(struct conn *c, const char *reason)
{
	struct imap_session *s = c->session;

	imap_send(s, "* BYE %s.", reason);
}

static void
imap_on_close(struct conn *c)
{
	struct imap_session *s = c->session;

	if (s == NULL)
		return;
	if (s->cmd != NULL)
		cmd_free(s->cmd);
	imap_view_free(&s->view);
	for (size_t i = 0; i < s->nspools; i++)
		spool_free(&s->spools[i]);
	free(s->spools);
	buf_free(&s->cmdbuf);
	auth_sasl_free(&s->sasl);
	free(s->auth_tag);
	free(s->idle_tag);
	free(s->user);
	free(s);
	c->session = NULL;
}

static const struct conn_ops imap_ops = {
	.proto = "imap",
	.on_read = imap_on_read,
	.on_drain = imap_on_drain,
	.on_tls = imap_on_tls,
	.on_timeout = imap_on_timeout,
	.on_shutdown = imap_on_shutdown,
	.on_kicked = imap_on_kicked,
	.on_close = imap_on_close,
};

void
imap_session_login_done(struct imap_session *s, int64_t account,
    const char *user)
{
	s->state = IMAP_AUTH;
	s->account = account;
	s->conn->account = account;
	free(s->user);
	s->user = xstrdup(user);
	s->bad = 0;
	conn_set_timeout(s->conn, (unsigned)srv->cfg->imap_timeout);
}

void
imap_accept(int fd, const struct sockaddr *sa, socklen_t salen,
    enum listen_kind kind)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct buf caps = BUF_INIT;
	struct conn *c;
	const char *why;

	c = conn_new(fd, sa, salen, kind, kind == LISTEN_IMAPS, &imap_ops, s);
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->state = IMAP_NOTAUTH;
	buf_init(&s->cmdbuf);
	conn_set_timeout(c, (unsigned)srv->cfg->login_timeout);
	conn_set_drain_mark(c, (size_t)64 * 1024);
	if ((why = conn_refusal(c)) != NULL) {
		imap_send(s, why == conn_refusal_busy ? "* BYE [UNAVAILABLE] "
		    "Server busy, try again later." : "* BYE [UNAVAILABLE] "
		    "Too many connections from your address.");
		conn_close(c, why);
		return;
	}
	imap_capabilities(s, &caps);
	imap_send(s, "* OK [CAPABILITY %s] posthorn ready.", buf_cstr(&caps));
	buf_free(&caps);
}
