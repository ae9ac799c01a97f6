/*
 * cmd_sort - SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957), and
 * their UID forms.
 *
 *	t1 SORT (REVERSE DATE SUBJECT) UTF-8 SINCE 1-Feb-2024
 *	* SORT 5 3 4 1 2
 *	t2 UID THREAD REFERENCES UTF-8 ALL
 *	* THREAD (2)(3 6 (4 23)(44 7 96))
 *
 * The arguments are parsed here; the search keys by imap_search_parse_keys()
 * and the messages found by SEARCH's own loop (imap_search_eval.h) on a
 * worker.  For every hit the loop hands over the store's metadata and MIME
 * envelope, from which the record of imap_sort.h is filled at once: sizes
 * and dates as numbers, base subjects (mime_base_subject), the first
 * address of From/To/Cc, and for THREAD=REFERENCES the Message-ID,
 * In-Reply-To and the References field, which the envelope lacks and which
 * is picked out of the stored header block.  Ordering and threading are
 * imap_sort() and imap_thread_build(); the untagged response is built on
 * the worker as well, so the I/O thread only sends it.
 *
 * Strings compare with imap_casemap_simple (imap_sort.h): its titlecase
 * keys are what i;unicode-casemap and Dovecot compare; mime_fold_utf8()
 * lowercases, which would sort "_" before letters.
 *
 * Threats: every string comes from message headers.  Each is parsed once
 * per command (linear), the References value kept per message is capped
 * (its tail is kept: the last reference names the parent), no body is
 * read, and the sort and thread layers are O(n log n) on any input.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "imap_date.h"
#include "imap_search_eval.h"
#include "imap_search_parse.h"
#include "imap_session.h"
#include "imap_sort.h"
#include "imap_thread.h"
#include "mime/mime.h"
#include "mime/mime_addr.h"
#include "mime/mime_decode.h"
#include "server.h"
#include "store/store.h"

/* Criteria in one SORT command. */
#define SORT_CRIT_MAX	16
/* Bytes of a References value kept per message: its last ones. */
#define SORT_REFS_MAX	((size_t)64 * 1024)

/* Which strings of struct imap_sortmsg the command reads. */
#define NEED_SUBJECT	0x01U
#define NEED_FROM	0x02U
#define NEED_TO		0x04U
#define NEED_CC		0x08U
#define NEED_DFROM	0x10U
#define NEED_DTO	0x20U
#define NEED_REFS	0x40U

static const struct {
	const char		*name;
	enum imap_sort_key	 key;
	unsigned		 need;
} sort_keys[] = {
	{ "ARRIVAL",	 IMAP_SORT_ARRIVAL,	0 },
	{ "CC",		 IMAP_SORT_CC,		NEED_CC },
	{ "DATE",	 IMAP_SORT_DATE,	0 },
	{ "FROM",	 IMAP_SORT_FROM,	NEED_FROM },
	{ "SIZE",	 IMAP_SORT_SIZE,	0 },
	{ "SUBJECT",	 IMAP_SORT_SUBJECT,	NEED_SUBJECT },
	{ "TO",		 IMAP_SORT_TO,		NEED_TO },
	{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM,	NEED_DFROM },
	{ "DISPLAYTO",	 IMAP_SORT_DISPLAYTO,	NEED_DTO },
};

struct sort_ctx {
	struct imap_search_program prog;
	bool			 thread;	/* THREAD, else SORT */
	enum imap_thread_alg	 alg;
	struct imap_sort_crit	 crit[SORT_CRIT_MAX];
	size_t			 ncrit;
	unsigned		 need;		/* NEED_* */
	bool			 uid;
	/* Worker: one record per hit, in ascending sequence order. */
	struct imap_session	*s;
	struct imap_sortmsg	*msgs;
	size_t			 nmsgs, cap;
	struct buf		 tmp;
	/* The untagged response. */
	struct buf		 out;
};

/* The records' strings are ours: see sort_hit(). */
static void
msgs_free(struct sort_ctx *c)
{
	for (size_t i = 0; i < c->nmsgs; i++) {
		struct imap_sortmsg *m = &c->msgs[i];

		free((char *)m->subject);
		free((char *)m->from);
		free((char *)m->to);
		free((char *)m->cc);
		free((char *)m->display_from);
		free((char *)m->display_to);
		free((char *)m->message_id);
		free((char *)m->in_reply_to);
		free((char *)m->references);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = c->cap = 0;
}

static void
sort_ctx_free(void *p)
{
	struct sort_ctx *c = p;

	imap_search_program_free(&c->prog);
	msgs_free(c);
	buf_free(&c->tmp);
	buf_free(&c->out);
	free(c);
}

/* The contents of c->tmp as an owned string; c->tmp is emptied. */
static char *
tmp_take(struct sort_ctx *c)
{
	char *s = xstrndup(c->tmp.data != NULL ? c->tmp.data : "", c->tmp.len);

	buf_reset(&c->tmp);
	return s;
}

/*
 * The first address of an address header: its addr-mailbox for FROM, TO
 * and CC (RFC 5256), and for DISPLAYFROM/DISPLAYTO (RFC 5957) its
 * display-name with RFC 2047 words decoded, or when that is missing or
 * empty its addr-spec.  A group counts as its first element, whose
 * mailbox is the group's name (as in Dovecot).
 */
static void
addr_keys(struct sort_ctx *c, const char *raw, const char **mailbox_r,
    const char **display_r)
{
	struct mime_addr *a;

	if (raw == NULL || (a = mime_addr_parse(raw, strlen(raw))) == NULL)
		return;
	if (mailbox_r != NULL && a->mailbox != NULL)
		*mailbox_r = xstrdup(a->mailbox);
	if (display_r != NULL) {
		buf_reset(&c->tmp);
		if (a->name != NULL)
			(void)mime_header_decode(a->name, strlen(a->name),
			    &c->tmp);
		if (c->tmp.len == 0 && a->mailbox != NULL) {
			buf_puts(&c->tmp, a->mailbox);
			if (a->host != NULL) {
				buf_putc(&c->tmp, '@');
				buf_puts(&c->tmp, a->host);
			}
		}
		*display_r = tmp_take(c);
	}
	mime_addr_free(&a);
}

/*
 * The value of the first References field of a header block, unfolded
 * (CR and LF dropped), at most SORT_REFS_MAX bytes from its end, or NULL.
 */
static char *
find_references(struct sort_ctx *c, const char *h, size_t len)
{
	static const char name[] = "References";
	const size_t nl = sizeof(name) - 1;
	const char *end = h + len, *p, *colon, *ne;

	while (h < end && *h != '\r' && *h != '\n') {
		/* The field runs to the first line that is not a fold. */
		for (p = h;;) {
			const char *e = memchr(p, '\n', (size_t)(end - p));

			p = e != NULL ? e + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		colon = memchr(h, ':', (size_t)(p - h));
		if (colon != NULL) {
			for (ne = colon; ne > h && (ne[-1] == ' ' ||
			    ne[-1] == '\t'); ne--)
				;
			if ((size_t)(ne - h) == nl &&
			    strncasecmp(h, name, nl) == 0) {
				buf_reset(&c->tmp);
				for (const char *q = colon + 1; q < p; q++)
					if (*q != '\r' && *q != '\n')
						buf_putc(&c->tmp, *q);
				if (c->tmp.len > SORT_REFS_MAX)
					buf_consume(&c->tmp,
					    c->tmp.len - SORT_REFS_MAX);
				return tmp_take(c);
			}
		}
		h = p;
	}
	return NULL;
}

static char *
read_references(struct sort_ctx *c, const struct mail_meta *m,
    const struct mime_part *root)
{
	struct buf hdr = BUF_INIT;
	const char *err;
	char *refs = NULL;

	if (store_body_read(srv->store, c->s->account, m->message_id,
	    root->hdr_off, (size_t)root->hdr_len, &hdr, &err) < 0)
		log_warnx("sort: reading the header of message %lld: %s",
		    (long long)m->message_id, err);
	else if (hdr.data != NULL)
		refs = find_references(c, hdr.data, hdr.len);
	buf_free(&hdr);
	return refs;
}

/* imap_search_hit_fn: fills the record of one hit (worker thread). */
static void
sort_hit(void *ctx, uint32_t idx, const struct mail_meta *m,
    const struct mime_part *root)
{
	struct sort_ctx *c = ctx;
	const struct mime_envelope *env;
	struct imap_sortmsg *sm;
	time_t t;
	int tz;

	if (c->nmsgs == c->cap) {
		c->cap = c->cap == 0 ? 256 : c->cap * 2;
		c->msgs = xreallocarray(c->msgs, c->cap, sizeof(*c->msgs));
	}
	sm = &c->msgs[c->nmsgs++];
	memset(sm, 0, sizeof(*sm));
	sm->seq = idx + 1;
	sm->uid = c->s->view->uids[idx];
	if (m == NULL)
		return;
	sm->internaldate = m->internaldate;
	sm->size = m->size;
	if (root == NULL || (env = root->env) == NULL)
		return;
	/* RFC 5256 2.2: the Date: field in UTC, else INTERNALDATE. */
	if (env->date != NULL && imap_date_parse_rfc5322(env->date,
	    strlen(env->date), &t, &tz) == 0) {
		sm->sent = t;
		sm->sent_valid = true;
	}
	if ((c->need & NEED_SUBJECT) && env->subject != NULL) {
		buf_reset(&c->tmp);
		sm->subject_reply = mime_base_subject(env->subject,
		    strlen(env->subject), &c->tmp);
		sm->subject = tmp_take(c);
	}
	if (c->need & (NEED_FROM | NEED_DFROM))
		addr_keys(c, env->from, c->need & NEED_FROM ? &sm->from : NULL,
		    c->need & NEED_DFROM ? &sm->display_from : NULL);
	if (c->need & (NEED_TO | NEED_DTO))
		addr_keys(c, env->to, c->need & NEED_TO ? &sm->to : NULL,
		    c->need & NEED_DTO ? &sm->display_to : NULL);
	if (c->need & NEED_CC)
		addr_keys(c, env->cc, &sm->cc, NULL);
	if (c->need & NEED_REFS) {
		if (env->message_id != NULL)
			sm->message_id = xstrdup(env->message_id);
		if (env->in_reply_to != NULL)
			sm->in_reply_to = xstrdup(env->in_reply_to);
		sm->references = read_references(c, m, root);
	}
}

static void
write_sort(struct sort_ctx *c, uint64_t max_modseq)
{
	uint32_t *order = xcalloc(c->nmsgs + 1, sizeof(*order));

	imap_sort(c->msgs, c->nmsgs, c->crit, c->ncrit, NULL, NULL, order);
	buf_puts(&c->out, "* SORT");
	for (size_t i = 0; i < c->nmsgs; i++) {
		const struct imap_sortmsg *m = &c->msgs[order[i]];

		buf_putc(&c->out, ' ');
		buf_put_u64(&c->out, c->uid ? m->uid : m->seq);
	}
	/* RFC 7162 3.1.5: as SEARCH, when something was found. */
	if (c->prog.uses_modseq && c->nmsgs > 0)
		buf_printf(&c->out, " (MODSEQ %llu)",
		    (unsigned long long)max_modseq);
	buf_puts(&c->out, "\r\n");
	free(order);
}

static void
write_thread(struct sort_ctx *c)
{
	struct imap_thread *t;

	t = imap_thread_build(c->alg, c->msgs, c->nmsgs, NULL, NULL);
	buf_puts(&c->out, "* THREAD");
	if (t->nroots > 0)
		buf_putc(&c->out, ' ');
	imap_thread_write(t, c->msgs, c->uid, &c->out);
	buf_puts(&c->out, "\r\n");
	imap_thread_free(&t);
}

static void
sort_work(struct imap_cmd *cmd)
{
	struct sort_ctx *c = cmd->ctx;
	struct imap_search_hits h;

	c->s = cmd->s;
	imap_search_eval(cmd->s, &c->prog, sort_hit, c, &h);
	if (c->thread)
		write_thread(c);
	else
		write_sort(c, h.max_modseq);
	free(h.idx);
	msgs_free(c);
	buf_free(&c->tmp);
}

static void
sort_done(struct imap_cmd *cmd)
{
	struct sort_ctx *c = cmd->ctx;

	imap_send_buf(cmd->s, &c->out);
	imap_cmd_done(cmd, "OK", "%s completed.", cmd->a.full_name);
}

/* sort-criteria (RFC 5256 5, RFC 5957 2): "(" [REVERSE] key ... ")". */
static int
parse_criteria(struct sort_ctx *c, const struct imap_arg *arg,
    const char **error_r)
{
	const struct imap_arg *l;
	size_t n, k;
	bool reverse = false;

	if ((l = imap_arg_list(arg, &n)) == NULL || n == 0) {
		*error_r = "Sort criteria must be a non-empty list";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!reverse && imap_arg_atom_eq(&l[i], "REVERSE")) {
			reverse = true;
			continue;
		}
		for (k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++)
			if (imap_arg_atom_eq(&l[i], sort_keys[k].name))
				break;
		if (k == sizeof(sort_keys) / sizeof(sort_keys[0])) {
			*error_r = "Unknown sort criterion";
			return -1;
		}
		if (c->ncrit == SORT_CRIT_MAX) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		c->crit[c->ncrit].key = sort_keys[k].key;
		c->crit[c->ncrit].reverse = reverse;
		c->ncrit++;
		c->need |= sort_keys[k].need;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE must be followed by a sort key";
		return -1;
	}
	return 0;
}

/*
 * SORT sort-criteria charset search-key..., THREAD algorithm charset
 * search-key... (RFC 5256 5); the charset is required.
 */
void
cmd_sort(struct imap_cmd *cmd)
{
	struct sort_ctx *c = xcalloc(1, sizeof(*c));
	const struct imap_arg *args = cmd->a.args;
	const char *cs, *err;

	cmd->ctx = c;
	cmd->ctx_free = sort_ctx_free;
	c->thread = strcmp(cmd->a.name, "THREAD") == 0;
	c->uid = cmd->a.uid;
	if (cmd->a.count < 1) {
		imap_cmd_done(cmd, "BAD", "Missing %s", c->thread ?
		    "thread algorithm" : "sort criteria");
		return;
	}
	if (!c->thread) {
		if (parse_criteria(c, &args[0], &err) < 0) {
			imap_cmd_done(cmd, "BAD", "%s", err);
			return;
		}
	} else if (imap_arg_atom_eq(&args[0], "ORDEREDSUBJECT")) {
		c->alg = IMAP_THREAD_ORDEREDSUBJECT;
		c->need = NEED_SUBJECT;
	} else if (imap_arg_atom_eq(&args[0], "REFERENCES")) {
		c->alg = IMAP_THREAD_REFERENCES;
		c->need = NEED_SUBJECT | NEED_REFS;
	} else {
		imap_cmd_done(cmd, "BAD", "Unknown thread algorithm");
		return;
	}
	if (cmd->a.count < 2 || (cs = imap_arg_astring(&args[1])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Missing charset");
		return;
	}
	if (imap_search_parse_keys(&args[2], cmd->a.count - 2, &c->prog,
	    &err) < 0) {
		imap_cmd_done(cmd, "BAD", "%s", err);
		return;
	}
	if (!mime_charset_supported(cs)) {
		imap_cmd_done(cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "Unsupported charset");
		return;
	}
	c->prog.charset = xstrdup(cs);
	imap_search_strings_to_utf8(c->prog.root, c->prog.charset);
	if (c->prog.uses_modseq)
		imap_condstore_enable(cmd->s);
	imap_cmd_async(cmd, sort_work, sort_done);
}
