/*
 * dsn - building RFC 3464 delivery status notifications.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "dsn.h"
#include "store/store.h"

/* An enhanced status code (RFC 3463) found in a reply, or a default. */
static void
status_of(const char *reply, enum dsn_kind kind, char *out, size_t outlen)
{
	const char *p = reply;

	/* Our own reasons start with the enhanced code: "5.1.10 ..." */
	if (kind == DSN_DELIVERED || kind == DSN_RELAYED) {
		snprintf(out, outlen, "2.0.0");
		return;
	}
	if (p != NULL && (p[0] == '4' || p[0] == '5') && p[1] == '.') {
		size_t n = strspn(p, "0123456789.");

		if (n >= 5 && n < outlen) {
			memcpy(out, p, n);
			out[n] = '\0';
			if (kind == DSN_DELAYED)
				out[0] = '4';
			return;
		}
	}
	/* "550 5.1.1 <x>: ..." -> "5.1.1" */
	if (p != NULL && strlen(p) > 4 && (p[0] == '4' || p[0] == '5')) {
		const char *q = p + 4;
		size_t n = strspn(q, "0123456789.");

		if (n >= 5 && n < outlen && (q[0] == '4' || q[0] == '5') &&
		    q[1] == '.') {
			memcpy(out, q, n);
			out[n] = '\0';
			if (kind == DSN_DELAYED)
				out[0] = '4';
			return;
		}
		snprintf(out, outlen, "%c.0.0", kind == DSN_DELAYED ? '4' :
		    p[0]);
		return;
	}
	snprintf(out, outlen, kind == DSN_DELAYED ? "4.0.0" : "5.0.0");
}

static void
put(struct spool *sp, struct buf *b)
{
	(void)spool_write(sp, b->data, b->len);
	buf_reset(b);
}

/* Folds nothing, but keeps header values on one line and printable. */
static void
put_clean(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		buf_putc(b, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

static bool
has_8bit(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

bool
dsn_is_global(const struct queue_msg *m, const size_t *which, size_t n)
{
	if (m->smtputf8 || has_8bit(m->sender))
		return true;
	for (size_t i = 0; i < n; i++)
		if (has_8bit(m->rcpts[which[i]].addr) ||
		    has_8bit(m->rcpts[which[i]].orcpt))
			return true;
	return false;
}

/* RFC 6533 3: "utf-8" for an address that is not ASCII. */
static const char *
addr_type(const char *addr)
{
	return has_8bit(addr) ? "utf-8" : "rfc822";
}

int
dsn_build(struct spool *out, enum dsn_kind kind, const char *hostname,
    const struct queue_msg *m, const size_t *which, size_t n,
    const struct buf *original, bool full, time_t now)
{
	struct buf b = BUF_INIT;
	char date[64], arrival[64], boundary[ID_HEX_LEN + 1], mid[ID_HEX_LEN + 1];
	bool global = dsn_is_global(m, which, n);
	const char *status_type = global ? "global-delivery-status" :
	    "delivery-status";

	random_id(boundary);
	random_id(mid);
	rfc5322_date(now, date, sizeof(date));
	rfc5322_date(m->created, arrival, sizeof(arrival));
	buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    hostname);
	buf_puts(&b, "To: <");
	put_clean(&b, m->sender);
	buf_puts(&b, ">\r\n");
	buf_printf(&b, "Subject: %s\r\n", kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" : kind == DSN_DELAYED ?
	    "Delayed Mail (still being retried)" :
	    "Successful Mail Delivery Report");
	buf_printf(&b, "Date: %s\r\nMessage-ID: <%s.%s@%s>\r\n", date, m->id,
	    mid, hostname);
	buf_puts(&b, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/report; "
	    "report-type=%s;\r\n\tboundary=\"%s/%s\"\r\n\r\n",
	    status_type, boundary, hostname);
	buf_puts(&b, "This is a MIME-encapsulated message.\r\n\r\n");

	/* Part 1: for people. */
	buf_printf(&b, "--%s/%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n\r\n", boundary,
	    hostname, global ? "utf-8" : "us-ascii");
	buf_printf(&b, "This is the mail system at host %s.\r\n\r\n",
	    hostname);
	switch (kind) {
	case DSN_FAILED:
		buf_puts(&b, "I'm sorry to have to inform you that your "
		    "message could not\r\nbe delivered to one or more "
		    "recipients. It's attached below.\r\n\r\n");
		break;
	case DSN_DELAYED:
		buf_puts(&b, "Your message could not be delivered yet to one "
		    "or more\r\nrecipients. The mail system will keep trying; "
		    "you don't need\r\nto send it again.\r\n\r\n");
		break;
	case DSN_DELIVERED:
		buf_puts(&b, "Your message was delivered to the mailbox of the "
		    "recipients\r\nlisted below, as you asked.\r\n\r\n");
		break;
	case DSN_RELAYED:
		buf_puts(&b, "Your message was passed on to the recipients "
		    "below.  Their\r\nmail system does not report delivery, "
		    "so this is the last\r\nreport you will get about it."
		    "\r\n\r\n");
		break;
	}
	for (size_t i = 0; i < n; i++) {
		const struct queue_rcpt *r = &m->rcpts[which[i]];

		buf_puts(&b, "<");
		put_clean(&b, r->addr);
		buf_puts(&b, ">: ");
		put_clean(&b, r->last_error ? r->last_error :
		    kind == DSN_DELIVERED ? "delivered to the mailbox" :
		    "no reason recorded");
		buf_puts(&b, "\r\n");
	}
	buf_puts(&b, "\r\n");
	put(out, &b);

	/* Part 2: for programs (RFC 3464 section 2). */
	buf_printf(&b, "--%s/%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/%s\r\n\r\n", boundary,
	    hostname, status_type);
	buf_printf(&b, "Reporting-MTA: dns; %s\r\nX-Posthorn-Queue-ID: %s\r\n",
	    hostname, m->id);
	if (m->envid != NULL) {
		buf_puts(&b, "Original-Envelope-Id: ");
		put_clean(&b, m->envid);
		buf_puts(&b, "\r\n");
	}
	buf_printf(&b, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < n; i++) {
		const struct queue_rcpt *r = &m->rcpts[which[i]];
		char status[16], last[64];

		status_of(r->last_error, kind, status, sizeof(status));
		buf_printf(&b, "\r\nFinal-Recipient: %s; ",
		    addr_type(r->addr));
		put_clean(&b, r->addr);
		buf_puts(&b, "\r\n");
		if (r->orcpt != NULL) {
			buf_puts(&b, "Original-Recipient: ");
			put_clean(&b, r->orcpt);
			buf_puts(&b, "\r\n");
		}
		buf_printf(&b, "Action: %s\r\nStatus: %s\r\n", kind ==
		    DSN_FAILED ? "failed" : kind == DSN_DELAYED ? "delayed" :
		    kind == DSN_DELIVERED ? "delivered" : "relayed", status);
		/* The host name alone (RFC 3464 2.3.5), not "name[ip]". */
		if (r->remote != NULL && r->remote[0] != '[' &&
		    r->remote[0] != '\0') {
			buf_printf(&b, "Remote-MTA: dns; %.*s\r\n",
			    (int)strcspn(r->remote, "[\r\n "), r->remote);
		}
		/* Only remote replies are SMTP diagnostics (RFC 3464 2.3.6). */
		if (r->last_error != NULL && strlen(r->last_error) > 4 &&
		    r->last_error[3] == ' ' && r->last_error[1] != '.') {
			buf_puts(&b, "Diagnostic-Code: smtp; ");
			put_clean(&b, r->last_error);
			buf_puts(&b, "\r\n");
		}
		if (r->last_try != 0) {
			rfc5322_date(r->last_try, last, sizeof(last));
			buf_printf(&b, "Last-Attempt-Date: %s\r\n", last);
		}
		/* When we give up, not the next try (RFC 3464 2.3.7). */
		if (kind == DSN_DELAYED && m->expires != 0) {
			rfc5322_date(m->expires, last, sizeof(last));
			buf_printf(&b, "Will-Retry-Until: %s\r\n", last);
		}
	}
	buf_puts(&b, "\r\n");
	put(out, &b);

	/* Part 3: the original message or its header. */
	buf_printf(&b, "--%s/%s\r\nContent-Description: %s\r\n"
	    "Content-Type: %s\r\n\r\n", boundary, hostname,
	    full ? "Undelivered Message" : "Undelivered Message Headers",
	    full ? (global ? "message/global" : "message/rfc822") :
	    (global ? "message/global-headers" : "text/rfc822-headers"));
	put(out, &b);
	if (original->len > 0)
		(void)spool_write(out, original->data, original->len);
	if (original->len < 2 ||
	    memcmp(original->data + original->len - 2, "\r\n", 2) != 0)
		buf_puts(&b, "\r\n");
	buf_printf(&b, "\r\n--%s/%s--\r\n", boundary, hostname);
	put(out, &b);
	buf_free(&b);
	return out->error != 0 ? -1 : 0;
}
