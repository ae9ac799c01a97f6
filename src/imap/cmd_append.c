/*
 * cmd_append - APPEND (RFC 3501 6.3.11) with UIDPLUS's APPENDUID
 * (RFC 4315).  The message literal was streamed into a spool while the
 * command was read (imap_session.c); here it is parsed and stored durably
 * on a worker.
 *
 * A message sent as a literal8 (RFC 3516 4.4) is stored the way Dovecot
 * stores it: every leaf part with "Content-Transfer-Encoding: binary" is
 * re-encoded as base64, so BODY[] never carries NUL or bare binary while
 * BINARY[] still gives back the octets that were sent.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/base64.h"
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
	bool		 literal8;	/* sent as "~{N}" */
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

/* Parses a spooled message; NULL when it could not be read back. */
static struct mime_part *
parse_spool(const struct spool *sp)
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
	if (off != sp->size)
		mime_part_free(&root);
	return root;
}

/* A header block bigger than this keeps its binary part as it is. */
#define CONVERT_HDR_MAX		((size_t)256 * 1024)
/* Input bytes of one 76-character base64 line (RFC 2045 6.8). */
#define B64_LINE_IN		57

/* A leaf whose body is re-encoded: not split by a limit, CTE binary. */
static bool
part_converts(const struct mime_part *p)
{
	return p->children == NULL && !mime_part_is_multipart(p) &&
	    (p->flags & MIME_PART_TRUNCATED) == 0 && p->encoding != NULL &&
	    strcasecmp(p->encoding, "binary") == 0;
}

/* Next part in pre-order (which is also the order of the offsets). */
static const struct mime_part *
part_next(const struct mime_part *p)
{
	if (p->children != NULL)
		return p->children;
	while (p != NULL && p->next == NULL)
		p = p->parent;
	return p != NULL ? p->next : NULL;
}

/* Copies bytes [off, end) of in to out; -1 on a read or write error. */
static int
copy_range(const struct spool *in, uint64_t off, uint64_t end,
    struct spool *out)
{
	char chunk[32768];

	while (off < end) {
		size_t want = end - off < sizeof(chunk) ? (size_t)(end - off) :
		    sizeof(chunk);
		ssize_t n = spool_pread(in, chunk, want, off);

		if (n <= 0 || spool_write(out, chunk, (size_t)n) < 0)
			return -1;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Writes bytes [off, end) of in to out as base64 in CRLF-separated lines
 * of 76 characters, with no line break after the last one (the line
 * break before a boundary belongs to the boundary).
 */
static int
copy_base64(const struct spool *in, uint64_t off, uint64_t end,
    struct spool *out)
{
	char chunk[B64_LINE_IN * 512];
	struct buf enc = BUF_INIT;
	bool first = true;
	int ret = 0;

	while (off < end && ret == 0) {
		size_t want = end - off < sizeof(chunk) ? (size_t)(end - off) :
		    sizeof(chunk), got = 0;

		/* Whole chunks, so that lines only end at B64_LINE_IN. */
		while (got < want) {
			ssize_t n = spool_pread(in, chunk + got, want - got,
			    off + got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got < want) {
			ret = -1;
			break;
		}
		buf_reset(&enc);
		for (size_t i = 0; i < got; i += B64_LINE_IN) {
			if (!first)
				buf_append(&enc, "\r\n", 2);
			first = false;
			base64_encode(chunk + i, got - i < B64_LINE_IN ?
			    got - i : B64_LINE_IN, &enc);
		}
		if (spool_write(out, enc.data, enc.len) < 0)
			ret = -1;
		off += got;
	}
	buf_free(&enc);
	return ret;
}

/*
 * The first Content-Transfer-Encoding field of header block h (the one
 * the MIME parser honours), continuation lines included: [*start_r,
 * *end_r).  False when there is none.
 */
static bool
find_cte_field(const char *h, size_t len, size_t *start_r, size_t *end_r)
{
	static const char name[] = "content-transfer-encoding";
	const size_t nlen = sizeof(name) - 1;
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(h + i, '\n', len - i);
		size_t eol = nl != NULL ? (size_t)(nl - h) + 1 : len;
		size_t colon = i, e;

		if (h[i] == ' ' || h[i] == '\t') {
			i = eol;
			continue;
		}
		while (colon < eol && h[colon] != ':')
			colon++;
		e = colon;
		while (e > i && (h[e - 1] == ' ' || h[e - 1] == '\t'))
			e--;
		if (colon == eol || e - i != nlen ||
		    strncasecmp(h + i, name, nlen) != 0) {
			i = eol;
			continue;
		}
		e = eol;
		while (e < len && (h[e] == ' ' || h[e] == '\t')) {
			nl = memchr(h + e, '\n', len - e);
			e = nl != NULL ? (size_t)(nl - h) + 1 : len;
		}
		*start_r = i;
		*end_r = e;
		return true;
	}
	return false;
}

/*
 * Writes the message in with its binary leaf parts as base64 to out.
 * Returns 1 when a part was converted, 0 when there was nothing to do
 * (out is then unused), -1 on a read or write error.
 */
static int
convert_binary(const struct spool *in, const struct mime_part *root,
    struct spool *out)
{
	static const char cte[] = "Content-Transfer-Encoding: base64\r\n";
	struct buf hdr = BUF_INIT;
	uint64_t cur = 0;
	int converted = 0;

	for (const struct mime_part *p = root; p != NULL; p = part_next(p)) {
		size_t fs, fe;
		ssize_t n;

		if (!part_converts(p) || p->hdr_len > CONVERT_HDR_MAX ||
		    p->hdr_off < cur || p->body_off + p->body_len > in->size)
			continue;
		buf_reset(&hdr);
		buf_reserve(&hdr, (size_t)p->hdr_len);
		n = p->hdr_len == 0 ? 0 : spool_pread(in, hdr.data,
		    (size_t)p->hdr_len, p->hdr_off);
		if (n < 0 || (uint64_t)n != p->hdr_len) {
			buf_free(&hdr);
			return -1;
		}
		if (!find_cte_field(hdr.data, (size_t)n, &fs, &fe))
			continue;
		if (copy_range(in, cur, p->hdr_off + fs, out) < 0 ||
		    spool_write(out, cte, sizeof(cte) - 1) < 0 ||
		    copy_range(in, p->hdr_off + fe, p->body_off, out) < 0 ||
		    copy_base64(in, p->body_off, p->body_off + p->body_len,
		    out) < 0) {
			buf_free(&hdr);
			return -1;
		}
		cur = p->body_off + p->body_len;
		converted = 1;
	}
	buf_free(&hdr);
	if (converted && copy_range(in, cur, in->size, out) < 0)
		return -1;
	return converted;
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
		struct mime_part *root = parse_spool(&cmd->spools[i]);

		if (root != NULL && a->literal8) {
			struct spool conv;
			int r;

			spool_init(&conv, cmd->spools[i].tmpdir);
			r = convert_binary(&cmd->spools[i], root, &conv);
			if (r > 0) {
				spool_free(&cmd->spools[i]);
				spool_move(&cmd->spools[i], &conv);
				mime_part_free(&root);
				root = parse_spool(&cmd->spools[i]);
			} else if (r < 0)
				mime_part_free(&root);
			spool_free(&conv);
		}
		if (root == NULL) {
			j->rc = -1;
			j->error = "reading the message back failed";
			goto out;
		}
		mime_serialize(root, &a->mime);
		mime_part_free(&root);
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
	    (args[cmd->a.count - 1].type != IMAP_ARG_LITERAL &&
	    args[cmd->a.count - 1].type != IMAP_ARG_LIST)) {
		imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	buf_init(&j->name);
	cmd->ctx = j;
	cmd->ctx_free = append_job_free;
	if ((wire = imap_arg_astring(&args[0])) == NULL ||
	    imap_mailbox_from_wire(s, wire, &j->name, &err) < 0) {
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
		/* RFC 6855 4: UTF8 (literal8), a message/global. */
		if (i + 1 < cmd->a.count && (s->enabled & IMAP_EN_UTF8) &&
		    imap_arg_atom_eq(&args[i], "UTF8") &&
		    args[i + 1].type == IMAP_ARG_LIST) {
			size_t nl;
			const struct imap_arg *l = imap_arg_list(&args[i + 1],
			    &nl);

			if (nl != 1 || l[0].type != IMAP_ARG_LITERAL ||
			    l[0].len != 0 || !l[0].literal8) {
				imap_cmd_done(cmd, "BAD", "Invalid APPEND UTF8 "
				    "data");
				return;
			}
			a->literal8 = true;
			i += 2;
			continue;
		}
		if (i >= cmd->a.count || args[i].type != IMAP_ARG_LITERAL ||
		    args[i].len != 0) {
			imap_cmd_done(cmd, "BAD", "Invalid APPEND arguments");
			return;
		}
		a->literal8 = args[i].literal8;
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
