/*
 * queue - the outbound queue runner.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "dane.h"
#include "dns/dns.h"
#include "dsn.h"
#include "mime/mime.h"
#include "mta_sts.h"
#include "queue.h"
#include "server.h"
#include "smtp/smtp_parse.h"
#include "smtp/srs.h"
#include "smtp_client.h"
#include "store/store.h"
#include "sts.h"

#define SCAN_EVERY_SECS		5	/* also picks up `queue retry` */
#define DUE_BATCH		500
#define IDS_PER_CONNECTION	20
#define HEADER_MAX		((size_t)256 * 1024)

struct target {
	char			 host[256];	/* the MX name */
	size_t			 mxi;		/* its index in mx[] */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

/*
 * The TLS policy of one MX host: DANE where its TLSA records are
 * DNSSEC-secure (RFC 7672), else MTA-STS where the domain has a policy
 * (RFC 8461), else opportunistic STARTTLS.
 */
enum tls_pol {
	TP_OPPORTUNISTIC = 0,
	TP_ENCRYPT,		/* secure TLSA, none usable: TLS required */
	TP_DANE,
	TP_STS,			/* MTA-STS enforce */
	TP_STS_TESTING,		/* MTA-STS testing: checked, reported */
};

static const char *const tls_pol_names[] = {
	"opportunistic", "encrypt", "dane", "mta-sts", "mta-sts-testing",
};

struct hostpol {
	enum tls_pol	 pol;
	struct dns_tlsa	*tlsa;		/* TP_DANE: the usable records */
	size_t		 ntlsa;
	/*
	 * TP_DANE, when the MX name is an alias: the TLSA base domain, the
	 * name at the end of its CNAME chain, if the records were found
	 * there (RFC 7672 2.2.2); else "" (the MX name is).
	 */
	char		 base[256];
};

struct kept {
	size_t		 pos;		/* index in ids */
	char		*rcpt;
	unsigned	 session;	/* the nsessions that kept it */
	/* The answer, should no other host take it in this attempt. */
	int		 code;
	char		*text;
	char		*relay;
};

struct attempt {
	char		*domain;
	char		**ids;
	size_t		 nids;
	size_t		 pos;		/* the message being sent */

	/* MX hosts, then their addresses, tried in order. */
	struct dns_mx	*mx;
	size_t		 nmx;
	size_t		 mxpos;
	bool		 mx_secure;	/* the MX answer was DNSSEC-secure */
	struct hostpol	*hp;		/* per MX host */
	struct target	*targets;
	size_t		 ntargets;
	size_t		 tpos;
	/* Against [delivery] mx_address_limit and mx_session_limit. */
	unsigned	 ntried;	/* addresses, and hosts without one */
	unsigned	 nsessions;	/* that got to EHLO */
	/*
	 * Recipients a host answered 4xx while another host could still be
	 * tried are kept for it (as Postfix does): no outcome is recorded.
	 * When the session has sent every message, the kept ones become
	 * the retry list, and only they go to the next host.
	 */
	struct kept	*kept;
	size_t		 nkept;
	struct kept	*retry;
	size_t		 nretry;
	bool		 retrying;	/* load only what is on retry */
	/* The domain's MTA-STS policy (mode none: there is none). */
	struct sts_lookup *stsl;	/* finding it */
	struct sts_policy sts;
	/* Why the last host was not used (a TLS policy), for the record. */
	char		 last_error[400];
	enum tls_pol	 cur_pol;	/* of the connection */
	bool		 tls_logged;

	struct smtpc	*c;
	bool		 conn_ready;	/* idle and ready for a message */
	unsigned	 records;	/* outcome writes in flight */
	bool		 dsn_offered;	/* the last transaction passed DSN on */
	bool		 finishing;	/* done once the writes are */
	char		 relay[256 + INET6_ADDRSTRLEN + 2];	/* "host[ip]" */

	/* The message being sent. */
	struct queue_msg msg;
	const char	**rcpts;	/* of this domain, pending */
	size_t		*ridx;
	size_t		 nrcpts;
	unsigned	*notify;	/* their DSN parameters */
	const char	**orcpt;
	struct attempt	*next;
};

/* The outcomes of one message's try, recorded on a worker. */
struct record {
	struct attempt	*a;
	char		 id[ID_HEX_LEN + 1];
	char		**rcpts;
	int		*code;
	char		**text;
	size_t		 n;
	char		*relay;
	bool		 dsn_passed;	/* the next hop took DSN over */
};

static struct event *scan_timer;
static struct attempt *attempts;
static unsigned nattempts;
static bool stopping;
static bool kick_pending;

static void scan(void);
static void attempt_next_message(struct attempt *);
static void attempt_finish(struct attempt *);
static void try_next_target(struct attempt *);

static unsigned
domain_active(const char *domain)
{
	unsigned n = 0;

	for (struct attempt *a = attempts; a != NULL; a = a->next)
		if (strcasecmp(a->domain, domain) == 0)
			n++;
	return n;
}

static bool
in_flight(const char *id, const char *domain)
{
	for (struct attempt *a = attempts; a != NULL; a = a->next)
		if (strcasecmp(a->domain, domain) == 0)
			for (size_t i = 0; i < a->nids; i++)
				if (strcmp(a->ids[i], id) == 0)
					return true;
	return false;
}

/* Next try after `attempts` failed tries: doubling from retry_first. */
static time_t
next_try(unsigned tries)
{
	uint64_t d = srv->cfg->retry_first;

	for (unsigned i = 0; i < tries && d < srv->cfg->retry_max; i++)
		d *= 2;
	if (d > srv->cfg->retry_max)
		d = srv->cfg->retry_max;
	return time(NULL) + (time_t)d;
}

/*
 * queue_inject - local recipients get the message now; remote ones go
 * into the queue.
 */
int
queue_inject(const char *sender, const char *rcpt, const struct spool *sp,
    bool smtputf8, const char **error_r)
{
	struct queue_params qp = { .smtputf8 = smtputf8 };
	struct rcpt_resolution rr;
	struct mime_parser *mp = mime_parser_create(NULL);
	struct mime_part *root;
	struct store_msg msg;
	struct buf ser = BUF_INIT, chunk = BUF_INIT, rpath = BUF_INIT;
	char id[ID_HEX_LEN + 1], back[SRS_ADDR_MAX];
	uint64_t off = 0;
	int r, rc = 0;

	buf_reserve(&chunk, 65536);
	while (off < sp->size) {
		ssize_t n = spool_pread(sp, chunk.data, 65536, off);

		if (n <= 0)
			break;
		mime_parser_feed(mp, chunk.data, (size_t)n);
		off += (uint64_t)n;
	}
	buf_free(&chunk);
	root = mime_parser_finish(&mp);
	/* Local copies get the return path first (RFC 5321 4.4). */
	buf_printf(&rpath, "Return-Path: <%s>\r\n", sender);
	mime_part_shift(root, rpath.len);
	mime_serialize(root, &ser);
	mime_part_free(&root);
	memset(&msg, 0, sizeof(msg));
	msg.spool = sp;
	msg.mime = ser.data;
	msg.mime_len = ser.len;
	msg.internaldate = time(NULL);
	rcpt_resolution_init(&rr);
	/* A notice to a sender we rewrote goes to the real sender. */
	if (srv->cfg->srs) {
		const char *why;

		switch (srs_reverse_ours(srv->srs_secret, server_srs_domain(),
		    rcpt, time(NULL), back, sizeof(back), &why)) {
		case -1:
			*error_r = "invalid SRS address";
			rcpt_resolution_free(&rr);
			buf_free(&ser);
			buf_free(&rpath);
			return -1;
		case 1:
			rcpt = back;
			break;
		}
	}
	r = store_resolve_rcpt(srv->store, rcpt, &rr, error_r);
	if (r < 0)
		rc = -1;
	else if (r == 2) {
		random_id(id);
		rc = store_queue_add(srv->store, sender, &rcpt, 1, &msg, id,
		    &qp, error_r);
		if (rc == 0)
			log_info("queue id=%s from=<%s> to=<%s> size=%llu "
			    "status=queued (notification)", id, sender, rcpt,
			    (unsigned long long)sp->size);
	} else if (r == 1) {
		uint32_t *uids = xcalloc(rr.naccounts + 1, sizeof(uint32_t));

		msg.prefix = rpath.data;
		msg.prefix_len = rpath.len;
		if (rr.naccounts > 0)
			rc = store_deliver(srv->store, rr.account_ids,
			    rr.naccounts, &msg, uids, error_r);
		free(uids);
		if (rc == 0 && rr.nremote > 0) {
			const char **rem = xcalloc(rr.nremote, sizeof(char *));
			const char *p = rr.remote.data;

			for (size_t i = 0; i < rr.nremote; i++) {
				rem[i] = p;
				p += strlen(p) + 1;
			}
			random_id(id);
			msg.prefix = NULL;
			msg.prefix_len = 0;
			rc = store_queue_add(srv->store, sender, rem,
			    rr.nremote, &msg, id, NULL, error_r);
			free(rem);
		}
	} else {
		*error_r = "the recipient is unknown";
		rc = -1;
	}
	rcpt_resolution_free(&rr);
	buf_free(&ser);
	buf_free(&rpath);
	return rc;
}

/* The header block of a queued message (for DSNs), or all of it. */
static void
read_original(const struct queue_msg *m, bool full, struct buf *out)
{
	const char *err;
	size_t want = full ? (size_t)m->size : HEADER_MAX;

	if (store_queue_read(srv->store, m->id, 0, want, out, &err) < 0)
		return;
	if (!full) {
		const char *end = memmem(out->data, out->len, "\r\n\r\n", 4);

		if (end != NULL)
			buf_truncate(out, (size_t)(end - out->data) + 2);
	}
}

/* "5 days", "1 hour", "90 minutes", "45 seconds". */
static const char *
duration_text(uint64_t secs, char *b, size_t size)
{
	static const struct { uint64_t s; const char *name; } u[] = {
		{ 86400, "day" }, { 3600, "hour" }, { 60, "minute" },
		{ 1, "second" },
	};
	size_t i;

	for (i = 0; i < 3 && (secs < u[i].s || secs % u[i].s != 0); i++)
		;
	snprintf(b, size, "%llu %s%s", (unsigned long long)(secs / u[i].s),
	    u[i].name, secs / u[i].s == 1 ? "" : "s");
	return b;
}

static const char *const dsn_names[] = {
	"failure", "delay", "delivery", "relay",
};

static void
send_dsn(const struct queue_msg *m, enum dsn_kind kind, const size_t *which,
    size_t n)
{
	struct queue_msg rm;
	struct spool sp;
	struct buf orig = BUF_INIT;
	char back[SRS_ADDR_MAX];
	const char *err = NULL, *why;	/* dsn_build() sets no error */
	bool full = kind == DSN_FAILED && m->ret == SMTP_RET_FULL &&
	    m->size <= (uint64_t)10 * 1024 * 1024;

	/* Never bounce a bounce (RFC 5321 6.1, 3461). */
	if (m->sender == NULL || m->sender[0] == '\0')
		return;
	/* A forwarded message's notice goes to (and names) the real sender. */
	if (srv->cfg->srs && srs_reverse_ours(srv->srs_secret,
	    server_srs_domain(), m->sender, time(NULL), back, sizeof(back),
	    &why) == 1) {
		rm = *m;
		rm.sender = back;
		m = &rm;
	}
	read_original(m, full, &orig);
	spool_init(&sp, store_tmpdir(srv->store));
	if (dsn_build(&sp, kind, srv->cfg->hostname, m, which, n, &orig, full,
	    time(NULL)) < 0 || queue_inject("", m->sender, &sp,
	    dsn_is_global(m, which, n), &err) < 0)
		log_warnx("queue id=%s cannot send a %s notice to <%s>: %s",
		    m->id, dsn_names[kind], m->sender, err ? err :
		    "spool write error");
	else
		log_info("queue id=%s %s notice sent to <%s> for %zu "
		    "recipient(s)", m->id, dsn_names[kind], m->sender, n);
	spool_free(&sp);
	buf_free(&orig);
}

/* After outcomes: bounce what failed and drop the message when done. */
static void
finalize(const char *id)
{
	struct queue_msg m;
	size_t *failed, *late, *ok, nf = 0, nl = 0, nok = 0, pending = 0;
	time_t now = time(NULL);
	const char *err;

	if (store_queue_get(srv->store, id, &m) != 1)
		return;
	failed = xcalloc(m.nrcpts + 1, sizeof(size_t));
	late = xcalloc(m.nrcpts + 1, sizeof(size_t));
	ok = xcalloc(m.nrcpts + 1, sizeof(size_t));
	for (size_t i = 0; i < m.nrcpts; i++) {
		struct queue_rcpt *r = &m.rcpts[i];

		if (r->state == QRCPT_PENDING) {
			pending++;
			if (!r->warned && srv->cfg->delay_warning > 0 &&
			    r->attempts > 0 && now - m.created >=
			    (time_t)srv->cfg->delay_warning &&
			    !(r->notify & SMTP_NOTIFY_NEVER) &&
			    (r->notify == 0 ||
			    (r->notify & SMTP_NOTIFY_DELAY)))
				late[nl++] = i;
		} else if (r->state == QRCPT_FAILED &&
		    !(r->notify & SMTP_NOTIFY_NEVER) && (r->notify == 0 ||
		    (r->notify & SMTP_NOTIFY_FAILURE)))
			failed[nf++] = i;
		else if (r->state == QRCPT_SENT && r->success_dsn)
			ok[nok++] = i;
	}
	if (nl > 0) {
		m.expires = m.created + (time_t)srv->cfg->queue_lifetime;
		send_dsn(&m, DSN_DELAYED, late, nl);
		for (size_t i = 0; i < nl; i++)
			store_queue_set_warned(srv->store, id,
			    m.rcpts[late[i]].addr);
	}
	if (pending == 0) {
		if (nf > 0)
			send_dsn(&m, DSN_FAILED, failed, nf);
		if (nok > 0)
			send_dsn(&m, DSN_RELAYED, ok, nok);
		if (store_queue_delete(srv->store, id, &err) < 0)
			log_warnx("queue id=%s delete: %s", id, err);
		else
			log_info("queue id=%s removed", id);
	}
	free(failed);
	free(late);
	free(ok);
	queue_msg_free(&m);
}

static void
record_work(void *arg)
{
	struct record *rec = arg;
	struct queue_msg m;
	const char *err;
	time_t now = time(NULL);

	if (store_queue_get(srv->store, rec->id, &m) != 1)
		return;
	for (size_t i = 0; i < rec->n; i++) {
		struct queue_rcpt *r = NULL;
		enum queue_rcpt_state st;
		time_t nt = 0;
		const char *status, *why = rec->text[i];
		char expired[700], dur[32];

		for (size_t k = 0; k < m.nrcpts; k++)
			if (strcmp(m.rcpts[k].addr, rec->rcpts[i]) == 0)
				r = &m.rcpts[k];
		if (r == NULL || r->state != QRCPT_PENDING)
			continue;
		if (rec->code[i] / 100 == 2) {
			st = QRCPT_SENT;
			status = "sent";
			if ((r->notify & SMTP_NOTIFY_SUCCESS) &&
			    !rec->dsn_passed)
				store_queue_set_success_dsn(srv->store,
				    rec->id, rec->rcpts[i]);
		} else if (rec->code[i] / 100 == 5) {
			st = QRCPT_FAILED;
			status = "bounced";
		} else if (now - m.created >= (time_t)srv->cfg->queue_lifetime) {
			st = QRCPT_FAILED;
			status = "expired";
			snprintf(expired, sizeof(expired), "4.4.7 message "
			    "expired after %s in the queue; last error: %s",
			    duration_text(srv->cfg->queue_lifetime, dur,
			    sizeof(dur)), why);
			why = expired;
		} else {
			st = QRCPT_PENDING;
			nt = next_try(r->attempts);
			status = "deferred";
		}
		if (store_queue_update(srv->store, rec->id, rec->rcpts[i], st,
		    nt, why, rec->relay, &err) < 0)
			log_warnx("queue id=%s update: %s", rec->id, err);
		log_info("queue id=%s to=<%s> relay=%s attempts=%u "
		    "status=%s (%s)", rec->id, rec->rcpts[i],
		    rec->relay ? rec->relay : "none", r->attempts + 1, status,
		    why);
	}
	queue_msg_free(&m);
	finalize(rec->id);
}

static void
record_free(struct record *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->rcpts[i]);
		free(rec->text[i]);
	}
	free(rec->rcpts);
	free(rec->code);
	free(rec->text);
	free(rec->relay);
	free(rec);
}

static void
record_done(void *arg)
{
	struct record *rec = arg;
	struct attempt *a = rec->a;

	record_free(rec);
	/*
	 * The attempt keeps its messages "in flight" until every outcome is
	 * written, so a scan meanwhile can't start them a second time.
	 */
	if (--a->records > 0)
		return;
	if (a->finishing || stopping) {
		attempt_finish(a);
		return;
	}
	if (a->c == NULL) {
		/* The connection was lost meanwhile: try the next one. */
		try_next_target(a);
		return;
	}
	if (a->conn_ready)
		attempt_next_message(a);
}

/*
 * Records outcomes for the current message (code/text per recipient, or
 * one for all) from relay (NULL: none) on a worker; the attempt goes on
 * when they are written.  A code of 0 leaves that recipient out.
 */
static void
record(struct attempt *a, const char *relay, const int *code,
    char *const *text, const char *one, int one_code)
{
	struct record *rec = xcalloc(1, sizeof(*rec));

	rec->a = a;
	memcpy(rec->id, a->msg.id, sizeof(rec->id));
	rec->rcpts = xcalloc(a->nrcpts + 1, sizeof(char *));
	rec->code = xcalloc(a->nrcpts + 1, sizeof(int));
	rec->text = xcalloc(a->nrcpts + 1, sizeof(char *));
	for (size_t i = 0; i < a->nrcpts; i++) {
		size_t k;

		if (code != NULL && code[i] == 0)
			continue;	/* left for the next host */
		k = rec->n++;
		rec->rcpts[k] = xstrdup(a->rcpts[i]);
		rec->code[k] = code ? code[i] : one_code;
		rec->text[k] = xstrdup(text != NULL ? text[i] :
		    one != NULL ? one : "");
	}
	if (rec->n == 0) {
		record_free(rec);
		return;
	}
	rec->relay = relay != NULL && relay[0] ? xstrdup(relay) : NULL;
	rec->dsn_passed = code != NULL && a->dsn_offered;
	a->records++;
	worker_submit(record_work, record_done, rec);
}

static void
msg_clear(struct attempt *a)
{
	queue_msg_free(&a->msg);
	free(a->rcpts);
	free(a->ridx);
	free(a->notify);
	free(a->orcpt);
	a->rcpts = NULL;
	a->ridx = NULL;
	a->notify = NULL;
	a->orcpt = NULL;
	a->nrcpts = 0;
}

static void
kept_free(struct kept *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(k[i].rcpt);
		free(k[i].text);
		free(k[i].relay);
	}
	free(k);
}

/* The retry list's entry for rcpt of message a->pos, or NULL. */
static const struct kept *
on_retry(const struct attempt *a, const char *rcpt)
{
	for (size_t i = 0; i < a->nretry; i++)
		if (a->retry[i].pos == a->pos &&
		    strcmp(a->retry[i].rcpt, rcpt) == 0)
			return &a->retry[i];
	return NULL;
}

/*
 * Makes the kept recipients the ones to go through next, from the first
 * message that has one; false when none were kept.
 */
static bool
retry_kept(struct attempt *a)
{
	if (a->nkept == 0)
		return false;
	kept_free(a->retry, a->nretry);
	a->retry = a->kept;
	a->nretry = a->nkept;
	a->kept = NULL;
	a->nkept = 0;
	a->retrying = true;
	a->pos = a->nids;
	for (size_t i = 0; i < a->nretry; i++)
		if (a->retry[i].pos < a->pos)
			a->pos = a->retry[i].pos;
	return true;
}

/*
 * Loads message a->ids[a->pos] and its pending recipients here (only those
 * on the retry list, when retrying).  0 = none.
 */
static size_t
load_message(struct attempt *a)
{
	msg_clear(a);
	if (store_queue_get(srv->store, a->ids[a->pos], &a->msg) != 1)
		return 0;
	a->rcpts = xcalloc(a->msg.nrcpts + 1, sizeof(char *));
	a->ridx = xcalloc(a->msg.nrcpts + 1, sizeof(size_t));
	a->notify = xcalloc(a->msg.nrcpts + 1, sizeof(unsigned));
	a->orcpt = xcalloc(a->msg.nrcpts + 1, sizeof(char *));
	for (size_t i = 0; i < a->msg.nrcpts; i++) {
		struct queue_rcpt *r = &a->msg.rcpts[i];

		if (r->state == QRCPT_PENDING &&
		    strcasecmp(r->domain, a->domain) == 0 &&
		    (!a->retrying || on_retry(a, r->addr) != NULL)) {
			a->ridx[a->nrcpts] = i;
			a->notify[a->nrcpts] = r->notify;
			a->orcpt[a->nrcpts] = r->orcpt;
			a->rcpts[a->nrcpts++] = r->addr;
		}
	}
	return a->nrcpts;
}

/* Records the answers kept for the recipients of the message in hand. */
static void
record_kept(struct attempt *a)
{
	int *code = xcalloc(a->nrcpts, sizeof(int));
	char **text = xcalloc(a->nrcpts, sizeof(char *));
	const char *relay = NULL;

	for (size_t i = 0; i < a->nrcpts; i++) {
		const struct kept *k = on_retry(a, a->rcpts[i]);

		code[i] = k->code;
		text[i] = k->text;
		relay = k->relay;
	}
	record(a, relay, code, text, NULL, 0);
	free(code);
	free(text);
}

/* Defers (or fails, when permanent) everything not yet tried. */
static void
fail_remaining(struct attempt *a, int code, const char *why)
{
	/*
	 * The message in hand, the ones after it, then what was kept for
	 * another host, with the answer it got.
	 */
	do {
		for (; a->pos < a->nids; a->pos++) {
			if (load_message(a) == 0)
				continue;
			if (a->retrying)
				record_kept(a);
			else
				record(a, a->relay, NULL, NULL, why, code);
		}
	} while (retry_kept(a));
	msg_clear(a);
}

static int
read_queued(void *ctx, uint64_t off, size_t len, struct buf *out)
{
	struct attempt *a = ctx;
	const char *err;

	return store_queue_read(srv->store, a->msg.id, off, len, out, &err);
}

static bool
eightbit_message(struct attempt *a)
{
	struct buf head = BUF_INIT;
	bool eight = false;
	const char *err;

	/* A cheap look at the first part is enough for BODY=8BITMIME. */
	if (store_queue_read(srv->store, a->msg.id, 0, 65536, &head,
	    &err) == 0)
		for (size_t i = 0; i < head.len; i++)
			if ((unsigned char)head.data[i] >= 0x80) {
				eight = true;
				break;
			}
	buf_free(&head);
	return eight;
}

static void
attempt_next_message(struct attempt *a)
{
	struct smtpc_txn t;

	while (a->pos < a->nids && load_message(a) == 0)
		a->pos++;
	if (a->pos >= a->nids && a->nkept > 0) {
		bool here = true;

		/*
		 * Every message sent: what was kept goes to the next host;
		 * this one is it when an earlier host kept all of it.
		 */
		for (size_t i = 0; i < a->nkept; i++)
			if (a->kept[i].session == a->nsessions)
				here = false;
		retry_kept(a);
		if (here) {
			attempt_next_message(a);
			return;
		}
		msg_clear(a);
		a->conn_ready = false;
		smtpc_quit(a->c);
		a->c = NULL;
		if (a->records == 0)
			try_next_target(a);	/* else record_done() does */
		return;
	}
	if (a->pos >= a->nids) {
		attempt_finish(a);
		return;
	}
	a->conn_ready = false;
	memset(&t, 0, sizeof(t));
	t.sender = a->msg.sender;
	t.rcpts = a->rcpts;
	t.nrcpts = a->nrcpts;
	t.size = a->msg.size;
	t.eightbit = eightbit_message(a);
	t.smtputf8 = a->msg.smtputf8;
	t.ret = a->msg.ret;
	t.envid = a->msg.envid;
	t.notify = a->notify;
	t.orcpt = a->orcpt;
	t.read = read_queued;
	t.read_ctx = a;
	smtpc_send(a->c, &t);
}

/* Once per connection: the TLS policy used and how the peer fared. */
static void
log_tls(struct attempt *a)
{
	const char *detail, *info = smtpc_tls_info(a->c);
	int v = smtpc_tls_verified(a->c, &detail);

	if (a->cur_pol == TP_ENCRYPT)
		detail = "no usable TLSA record";
	else if (v == 0 && info[0] == '\0')
		detail = "no STARTTLS";
	log_info("queue domain=%s relay=%s tls=%s verify=%s cipher=%s%s%s%s",
	    a->domain, a->relay, tls_pol_names[a->cur_pol], v > 0 ? "ok" :
	    v < 0 ? "failed" : "none", info[0] ? info : "none",
	    detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
}

static void
on_ready(struct smtpc *c, void *ctx)
{
	struct attempt *a = ctx;

	if (!a->tls_logged) {
		a->tls_logged = true;
		a->nsessions++;
		log_tls(a);
	}
	a->conn_ready = true;
	/*
	 * The next message goes out while the last one's outcome is still
	 * being written: the attempt holds every message it took "in flight"
	 * until all outcomes are written (record_done), so nothing is sent
	 * twice, and the connection does not idle through a commit.
	 */
	attempt_next_message(a);
}

/* Keeps rcpt of the message in hand for the next host. */
static void
keep(struct attempt *a, const char *rcpt, int code, const char *text)
{
	struct kept *k;

	a->kept = xgrowarray(a->kept, a->nkept, sizeof(*a->kept));
	k = &a->kept[a->nkept++];
	k->pos = a->pos;
	k->rcpt = xstrdup(rcpt);
	k->session = a->nsessions;
	k->code = code;
	k->text = xstrdup(text);
	k->relay = xstrdup(a->relay);
	log_info("queue id=%s to=<%s> relay=%s kept for the next host (%s)",
	    a->msg.id, rcpt, a->relay, text);
}

/*
 * Whether no other host can be tried after this session in this attempt
 * (more addresses may still be looked up: if none turn up, what was kept
 * for them is deferred with the answer it got).
 */
static bool
last_session(const struct attempt *a)
{
	if (a->ntried >= srv->cfg->mx_address_limit ||
	    a->nsessions >= srv->cfg->mx_session_limit)
		return true;
	return a->tpos >= a->ntargets && a->mxpos >= a->nmx;
}

static void
on_done(struct smtpc *c, void *ctx, const struct smtpc_result *res)
{
	struct attempt *a = ctx;
	int *code = NULL;

	a->dsn_offered = res->dsn_passed;
	for (size_t i = 0; i < res->n && !last_session(a); i++) {
		if (res->code[i] / 100 != 4)
			continue;
		if (code == NULL) {
			code = xcalloc(res->n, sizeof(int));
			memcpy(code, res->code, res->n * sizeof(int));
		}
		code[i] = 0;
		keep(a, a->rcpts[i], res->code[i], res->text[i]);
	}
	record(a, a->relay, code != NULL ? code : res->code, res->text, NULL,
	    0);
	free(code);
	a->pos++;
}

static void
on_failed(struct smtpc *c, void *ctx, bool permanent, const char *reason)
{
	struct attempt *a = ctx;
	char why[700];

	if (smtpc_policy_failed(c))
		snprintf(a->last_error, sizeof(a->last_error), "4.7.5 %s",
		    reason);
	else if (a->tls_logged)		/* it failed after EHLO */
		snprintf(a->last_error, sizeof(a->last_error), "4.4.2 %s: %s",
		    a->relay, reason);
	a->c = NULL;
	a->conn_ready = false;
	log_info("queue domain=%s relay=%s connection failed: %s", a->domain,
	    a->relay, reason);
	if (permanent) {
		snprintf(why, sizeof(why), "5.4.6 %s", reason);
		fail_remaining(a, 554, why);
		attempt_finish(a);
		return;
	}
	if (a->records > 0)
		return;		/* record_done() moves on */
	try_next_target(a);
}

static const struct smtpc_ops client_ops = { on_ready, on_done, on_failed };

static bool lookup_host(struct attempt *);

/* The connection options for target t under its host's TLS policy. */
static void
target_opts(struct attempt *a, const struct target *t, struct smtpc_opts *o)
{
	const struct hostpol *hp = &a->hp[t->mxi];

	a->cur_pol = hp->pol;
	switch (hp->pol) {
	case TP_DANE:
		o->tls = SMTPC_TLS_DANE;
		o->policy = "dane";
		o->tlsa = hp->tlsa;
		o->ntlsa = hp->ntlsa;
		/*
		 * RFC 7672 3.2.2: a DANE-TA(2) certificate may name the MX
		 * host or the next-hop domain; the MX host only when the MX
		 * answer was secure (2.2.1, RFC 7525 6.1).
		 */
		if (a->mx_secure) {
			size_t k = 0;

			/*
			 * 2.2.2: with the records found at the end of the
			 * MX name's CNAME chain, that name comes first (and
			 * is the SNI), the MX name after it.
			 */
			if (hp->base[0] != '\0') {
				o->dane_names[k++] = hp->base;
				o->dane_sni = hp->base;
			}
			o->dane_names[k++] = t->host;
			if (strcasecmp(t->host, a->domain) != 0)
				o->dane_names[k++] = a->domain;
		} else {
			o->dane_names[0] = a->domain;
			o->dane_sni = hp->base[0] != '\0' ? hp->base : NULL;
		}
		break;
	case TP_ENCRYPT:
		o->tls = SMTPC_TLS_ENCRYPT;
		o->policy = "dane";
		break;
	case TP_STS:
		o->tls = SMTPC_TLS_VERIFY;
		o->policy = "mta-sts";
		break;
	case TP_STS_TESTING:
		o->tls = SMTPC_TLS_MAY;
		o->policy = "mta-sts";
		o->verify_report = true;
		break;
	default:
		o->tls = SMTPC_TLS_MAY;
		break;
	}
}

static void
try_next_target(struct attempt *a)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	struct smtpc_opts o;
	struct target *t;

	if (stopping) {
		attempt_finish(a);
		return;
	}
	if (a->pos >= a->nids && !retry_kept(a)) {
		attempt_finish(a);
		return;
	}
	/*
	 * RFC 5321 5.1 lets the client limit the addresses it tries; this
	 * bounds how long one attempt can take, whatever a domain publishes.
	 */
	if (a->ntried >= srv->cfg->mx_address_limit ||
	    a->nsessions >= srv->cfg->mx_session_limit) {
		if (a->tpos < a->ntargets || a->mxpos < a->nmx)
			log_info("queue domain=%s: %u addresses and %u sessions "
			    "tried; the rest wait for the next try", a->domain,
			    a->ntried, a->nsessions);
		a->tpos = a->ntargets;
		a->mxpos = a->nmx;
	}
	if (a->tpos >= a->ntargets) {
		if (lookup_host(a))
			return;
		fail_remaining(a, 451, a->last_error[0] ? a->last_error :
		    a->relay[0] ? "4.4.1 no MX host accepted a connection" :
		    "4.4.1 no address to deliver to");
		attempt_finish(a);
		return;
	}
	t = &a->targets[a->tpos++];
	a->ntried++;
	if (t->ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&t->ss)->sin_addr,
		    ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&t->ss)->sin6_addr,
		    ip, sizeof(ip));
	snprintf(a->relay, sizeof(a->relay), "%s[%s]", t->host, ip);
	memset(&o, 0, sizeof(o));
	o.helo_name = srv->cfg->hostname;
	o.peer_name = t->host;
	target_opts(a, t, &o);
	a->tls_logged = false;
	o.connect_timeout = (unsigned)srv->cfg->connect_timeout;
	o.command_timeout = (unsigned)srv->cfg->command_timeout;
	a->c = smtpc_connect(iothread_base(iothread_self()),
	    (struct sockaddr *)&t->ss, t->sslen, &o, &client_ops, a);
	if (a->c == NULL)
		try_next_target(a);
}

/* One MX host being resolved: its addresses, then maybe its TLSA. */
struct host_lookup {
	struct attempt	*a;
	size_t		 mxi;
	char		 host[256];
	char		 canon[256];	/* host is an alias of this, or "" */
	bool		 at_canon;	/* the TLSA lookup under way is there */
	unsigned	 pending;
	bool		 secure;	/* every address answer validated */
	struct sockaddr_storage *addr;
	size_t		 naddr;
};

static void
add_targets(struct host_lookup *hl)
{
	struct attempt *a = hl->a;

	for (size_t i = 0; i < hl->naddr; i++) {
		struct target *t;

		a->targets = xgrowarray(a->targets, a->ntargets,
		    sizeof(*a->targets));
		t = &a->targets[a->ntargets++];
		memset(t, 0, sizeof(*t));
		snprintf(t->host, sizeof(t->host), "%s", hl->host);
		t->mxi = hl->mxi;
		t->ss = hl->addr[i];
		if (t->ss.ss_family == AF_INET) {
			((struct sockaddr_in *)&t->ss)->sin_port =
			    htons((uint16_t)srv->cfg->delivery_port);
			t->sslen = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&t->ss)->sin6_port =
			    htons((uint16_t)srv->cfg->delivery_port);
			t->sslen = sizeof(struct sockaddr_in6);
		}
	}
}

static void
host_lookup_free(struct host_lookup *hl)
{
	free(hl->addr);
	free(hl);
}

/* The policy of a host without (usable) DANE: the domain's MTA-STS. */
static enum tls_pol
sts_pol(const struct attempt *a)
{
	switch (a->sts.mode) {
	case STS_MODE_ENFORCE:
		return TP_STS;
	case STS_MODE_TESTING:
		return TP_STS_TESTING;
	default:
		return TP_OPPORTUNISTIC;
	}
}

/* The host's policy is known: its addresses become targets. */
static void
host_done(struct host_lookup *hl)
{
	struct attempt *a = hl->a;

	add_targets(hl);
	host_lookup_free(hl);
	try_next_target(a);
}

static void tlsa_answer(void *, const struct dns_answer *);

static void
tlsa_lookup(struct host_lookup *hl, const char *base)
{
	char name[300];

	snprintf(name, sizeof(name), "_%u._tcp.%s", srv->cfg->delivery_port,
	    base);
	dns_lookup(name, DNS_T_TLSA, tlsa_answer, hl);
}

static void
tlsa_answer(void *ctx, const struct dns_answer *ans)
{
	struct host_lookup *hl = ctx;
	struct attempt *a = hl->a;
	struct hostpol *hp = &a->hp[hl->mxi];

	switch (ans->status) {
	case DNS_OK:
		if (!ans->secure) {
			if (hl->at_canon)
				goto original;
			break;		/* RFC 7672 2.2: insecure TLSA: none */
		}
		hp->ntlsa = dane_tlsa_filter(ans->tlsa, ans->n, &hp->tlsa);
		if (hp->ntlsa > 0) {
			hp->pol = TP_DANE;
			if (hl->at_canon)
				snprintf(hp->base, sizeof(hp->base), "%s",
				    hl->canon);
		} else if (hp->pol != TP_STS)
			hp->pol = TP_ENCRYPT;	/* 2.2: TLS, unauthenticated */
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		if (hl->at_canon)
			goto original;
		break;
	default:
		/* 2.2: a failed TLSA lookup: this host is not used now. */
		snprintf(a->last_error, sizeof(a->last_error), "4.7.5 dane: "
		    "TLSA lookup for %s failed: %s", hl->host, ans->error ?
		    ans->error : "temporary failure");
		log_info("queue domain=%s mx=%s dane: TLSA lookup failed: %s; "
		    "host skipped", a->domain, hl->host, ans->error ?
		    ans->error : "temporary failure");
		host_lookup_free(hl);
		a->ntried++;
		try_next_target(a);
		return;
	}
	host_done(hl);
	return;
original:
	/*
	 * 2.2.2: none at the end of the MX name's CNAME chain: the MX name
	 * itself is the TLSA base domain.
	 */
	hl->at_canon = false;
	tlsa_lookup(hl, hl->host);
}

static void
host_answer(void *ctx, const struct dns_answer *ans)
{
	struct host_lookup *hl = ctx;
	struct attempt *a = hl->a;

	if (ans->status == DNS_OK && ans->n > 0 && ans->canon[0] != '\0' &&
	    hl->canon[0] == '\0')
		snprintf(hl->canon, sizeof(hl->canon), "%s", ans->canon);
	if (ans->status == DNS_OK && ans->n > 0) {
		hl->addr = xreallocarray(hl->addr, hl->naddr + ans->n,
		    sizeof(*hl->addr));
		memcpy(hl->addr + hl->naddr, ans->addr,
		    ans->n * sizeof(*hl->addr));
		hl->naddr += ans->n;
		if (!ans->secure)
			hl->secure = false;
	}
	if (--hl->pending > 0)
		return;
	if (hl->naddr == 0) {
		host_lookup_free(hl);
		a->ntried++;
		try_next_target(a);
		return;
	}
	a->hp[hl->mxi].pol = sts_pol(a);
	/* RFC 7672 2.2.2: TLSA only for hosts with secure addresses. */
	if (!srv->cfg->dane || !hl->secure || stopping) {
		host_done(hl);
		return;
	}
	/*
	 * 2.2.2: an alias (its chain validated with the addresses): the
	 * TLSA records at the end of the chain first, then at the alias.
	 */
	hl->at_canon = hl->canon[0] != '\0';
	tlsa_lookup(hl, hl->at_canon ? hl->canon : hl->host);
}

/*
 * Resolves the next usable MX host (AAAA and A at once); false when none
 * is left.  Under an MTA-STS policy, hosts it does not name are skipped
 * (enforce) or only logged (testing) (RFC 8461 4.1, 5).
 */
static bool
lookup_host(struct attempt *a)
{
	struct host_lookup *hl;
	const char *host;

	for (;;) {
		if (a->mxpos >= a->nmx)
			return false;
		host = a->mx[a->mxpos].name;
		if (a->sts.mode == STS_MODE_NONE || sts_mx_match(&a->sts, host))
			break;
		if (a->sts.mode == STS_MODE_TESTING) {
			log_info("queue domain=%s mx=%s mta-sts: not named by "
			    "the policy (mode testing: used anyway)", a->domain,
			    host);
			break;
		}
		log_info("queue domain=%s mx=%s mta-sts: not named by the "
		    "policy; host skipped", a->domain, host);
		a->mxpos++;
	}
	hl = xcalloc(1, sizeof(*hl));
	hl->a = a;
	hl->mxi = a->mxpos++;
	hl->pending = 2;
	hl->secure = true;
	snprintf(hl->host, sizeof(hl->host), "%s", host);
	dns_lookup(host, DNS_T_AAAA, host_answer, hl);
	dns_lookup(host, DNS_T_A, host_answer, hl);
	return true;
}

/* The domain's MTA-STS policy (or none) is known: on to the hosts. */
static void
sts_done(void *ctx, const struct sts_policy *p)
{
	struct attempt *a = ctx;
	bool any = false;
	char why[400];

	a->stsl = NULL;
	if (p != NULL && p->mode != STS_MODE_NONE)
		sts_policy_copy(&a->sts, p);
	if (stopping) {
		attempt_finish(a);
		return;
	}
	if (a->sts.mode == STS_MODE_ENFORCE) {
		for (size_t i = 0; i < a->nmx && !any; i++)
			any = sts_mx_match(&a->sts, a->mx[i].name);
		if (!any) {
			snprintf(why, sizeof(why), "4.7.5 mta-sts: no MX host "
			    "of %s is named by its policy", a->domain);
			log_info("queue domain=%s mta-sts: no MX host is named "
			    "by the policy (mode enforce)", a->domain);
			fail_remaining(a, 451, why);
			attempt_finish(a);
			return;
		}
	}
	try_next_target(a);
}

static void
shuffle_equal(struct dns_mx *mx, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && mx[j].pref == mx[i].pref)
			j++;
		/* Fisher-Yates over mx[i..j). */
		for (size_t m = j - i; m > 1; m--) {
			size_t r = i + random_u32() % m;
			struct dns_mx t = mx[i + m - 1];

			mx[i + m - 1] = mx[r];
			mx[r] = t;
		}
		i = j;
	}
}

static void
mx_answer(void *ctx, const struct dns_answer *ans)
{
	struct attempt *a = ctx;
	char why[400];

	switch (ans->status) {
	case DNS_OK:
		if (ans->n == 1 && ans->mx[0].name[0] == '\0') {
			/* RFC 7505: the domain accepts no mail. */
			fail_remaining(a, 556, "5.1.10 the domain accepts no "
			    "mail (null MX)");
			attempt_finish(a);
			return;
		}
		a->mx = xcalloc(ans->n, sizeof(*a->mx));
		for (size_t i = 0; i < ans->n; i++)
			if (ans->mx[i].name[0] != '\0')
				a->mx[a->nmx++] = ans->mx[i];
		shuffle_equal(a->mx, a->nmx);
		a->mx_secure = ans->secure;
		break;
	case DNS_NODATA:
		/* RFC 5321 5.1: the implicit MX is the domain itself. */
		a->mx = xcalloc(1, sizeof(*a->mx));
		snprintf(a->mx[0].name, sizeof(a->mx[0].name), "%s",
		    a->domain);
		a->nmx = 1;
		a->mx_secure = ans->secure;
		break;
	case DNS_NXDOMAIN:
		snprintf(why, sizeof(why), "5.1.2 domain %s does not exist",
		    a->domain);
		fail_remaining(a, 550, why);
		attempt_finish(a);
		return;
	default:
		snprintf(why, sizeof(why), "4.4.3 DNS lookup of %s failed: %s",
		    a->domain, ans->error ? ans->error : "temporary failure");
		fail_remaining(a, 451, why);
		attempt_finish(a);
		return;
	}
	if (a->nmx == 0) {
		fail_remaining(a, 451, "4.4.3 no usable MX host");
		attempt_finish(a);
		return;
	}
	a->hp = xcalloc(a->nmx, sizeof(*a->hp));
	if (srv->cfg->mta_sts) {
		a->stsl = sts_lookup_start(a->domain, sts_done, a);
		return;
	}
	try_next_target(a);
}

static void
attempt_finish(struct attempt *a)
{
	struct attempt **pp;

	a->finishing = true;
	if (a->records > 0)
		return;		/* record_done() comes back here */
	if (a->c != NULL) {
		smtpc_quit(a->c);
		a->c = NULL;
	}
	for (pp = &attempts; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	nattempts--;
	msg_clear(a);
	kept_free(a->kept, a->nkept);
	kept_free(a->retry, a->nretry);
	for (size_t i = 0; i < a->nids; i++)
		free(a->ids[i]);
	free(a->ids);
	for (size_t i = 0; a->hp != NULL && i < a->nmx; i++)
		dane_tlsa_free(a->hp[i].tlsa, a->hp[i].ntlsa);
	free(a->hp);
	sts_policy_free(&a->sts);
	free(a->mx);
	free(a->targets);
	free(a->domain);
	free(a);
	if (!stopping)
		queue_kick();
}

struct scan_ctx {
	struct queue_due *due;
	size_t		 n;
};

static void
due_cb(void *ctx, const struct queue_due *d)
{
	struct scan_ctx *sc = ctx;

	sc->due = xgrowarray(sc->due, sc->n, sizeof(*sc->due));
	sc->due[sc->n] = *d;
	sc->due[sc->n].domain = xstrdup(d->domain);
	sc->n++;
}

static void
schedule_next(void)
{
	time_t next = 0, now = time(NULL);
	struct timeval tv = { SCAN_EVERY_SECS, 0 };

	if (store_queue_next_time(srv->store, &next) == 0 && next > now &&
	    next - now < SCAN_EVERY_SECS)
		tv.tv_sec = next - now;
	evtimer_add(scan_timer, &tv);
}

static void
scan(void)
{
	struct scan_ctx sc = { NULL, 0 };
	time_t now = time(NULL);

	if (stopping)
		return;
	(void)store_queue_due(srv->store, now, DUE_BATCH, due_cb, &sc);
	for (size_t i = 0; i < sc.n; i++) {
		struct attempt *a;

		if (sc.due[i].domain == NULL || nattempts >=
		    srv->cfg->max_connections)
			continue;
		if (in_flight(sc.due[i].id, sc.due[i].domain) ||
		    domain_active(sc.due[i].domain) >=
		    srv->cfg->max_per_destination)
			continue;
		a = xcalloc(1, sizeof(*a));
		a->domain = xstrdup(sc.due[i].domain);
		/* Gather more due messages for the same destination. */
		for (size_t k = i; k < sc.n && a->nids < IDS_PER_CONNECTION;
		    k++) {
			if (sc.due[k].domain == NULL ||
			    strcasecmp(sc.due[k].domain, a->domain) != 0 ||
			    in_flight(sc.due[k].id, a->domain))
				continue;
			a->ids = xgrowarray(a->ids, a->nids, sizeof(char *));
			a->ids[a->nids++] = xstrdup(sc.due[k].id);
			if (k > i) {
				free(sc.due[k].domain);
				sc.due[k].domain = NULL;
			}
		}
		a->next = attempts;
		attempts = a;
		nattempts++;
		dns_lookup(a->domain, DNS_T_MX, mx_answer, a);
	}
	for (size_t i = 0; i < sc.n; i++)
		free(sc.due[i].domain);
	free(sc.due);
	schedule_next();
}

static void
scan_cb(evutil_socket_t fd, short what, void *arg)
{
	kick_pending = false;
	scan();
}

static void
kick_cb(void *arg)
{
	struct timeval tv = { 0, 0 };

	if (stopping || scan_timer == NULL || kick_pending)
		return;
	kick_pending = true;
	evtimer_del(scan_timer);
	evtimer_add(scan_timer, &tv);
}

void
queue_kick(void)
{
	iothread_post(iothread_get(0), kick_cb, NULL);
}

static void
store_queued(void *ctx)
{
	queue_kick();
}

void
queue_start(void)
{
	const char *err;

	if (smtpc_tls_init(srv->cfg->tls_ca_file, &err) < 0)
		log_warnx("queue: %s; outbound mail goes without TLS", err);
	if (srv->cfg->mta_sts && sts_init(srv->cfg->tls_ca_file, &err) < 0)
		log_warnx("queue: %s; MTA-STS policies are not fetched", err);
	scan_timer = evtimer_new(iothread_base(iothread_self()), scan_cb,
	    NULL);
	store_set_queue_hook(srv->store, store_queued, NULL);
	scan();
}

void
queue_stop(void)
{
	stopping = true;
	if (scan_timer != NULL) {
		event_free(scan_timer);
		scan_timer = NULL;
	}
	for (struct attempt *a = attempts, *next; a != NULL; a = next) {
		next = a->next;
		if (a->c != NULL) {
			smtpc_abort(a->c);
			a->c = NULL;
		}
		if (a->stsl != NULL) {
			sts_lookup_cancel(a->stsl);
			a->stsl = NULL;
			attempt_finish(a);
		}
	}
	sts_deinit();
}
