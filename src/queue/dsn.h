/*
 * dsn - delivery status notifications (RFC 3464, RFC 3461): the bounce or
 * delay warning a sender gets when mail to some recipients failed or is
 * late.  A DSN is an ordinary message (multipart/report) sent with the null
 * sender, so it is never bounced itself.
 */
#ifndef POSTHORN_DSN_H
#define POSTHORN_DSN_H

#include <stdbool.h>
#include <time.h>

#include "core/buf.h"
#include "core/spool.h"

struct queue_msg;

enum dsn_kind {
	DSN_FAILED,	/* Action: failed (a bounce) */
	DSN_DELAYED,	/* Action: delayed (a warning) */
	DSN_DELIVERED,	/* Action: delivered (NOTIFY=SUCCESS, local) */
	DSN_RELAYED,	/* Action: relayed (to a host without DSN) */
};

/*
 * Writes the whole DSN for the recipients of m whose indexes are in
 * which[0..n) into out.  original_head holds the original message's
 * header block (or the whole message when full is true and the sender
 * asked for RET=FULL).  Returns 0 or -1 (spool write error).
 */
int	 dsn_build(struct spool *out, enum dsn_kind, const char *hostname,
	    const struct queue_msg *m, const size_t *which, size_t n,
	    const struct buf *original, bool full, time_t now);
/*
 * Whether the DSN is an internationalized one (RFC 6533): the message
 * needed SMTPUTF8 or an address in it is not ASCII.  Then its parts are
 * message/global-delivery-status and message/global(-headers), the text
 * part is UTF-8, non-ASCII recipients are of type "utf-8", and it must be
 * sent with SMTPUTF8 (queue_inject()).
 */
bool	 dsn_is_global(const struct queue_msg *m, const size_t *which,
	    size_t n);

#endif
