/*
 * imap_bodystructure - IMAP ENVELOPE, BODY and BODYSTRUCTURE from a parsed
 * MIME tree (RFC 3501 / RFC 9051 section 7.5.2 / 7.4.2).
 *
 *	imap_write_envelope(b, root->env);
 *	imap_write_bodystructure(b, root, true);	BODYSTRUCTURE
 *	imap_write_bodystructure(b, root, false);	BODY
 *
 * Both append one complete parenthesized value (no leading space) to the
 * buffer; strings that cannot be quoted become literals (imap_quote.h).
 *
 * Output follows Dovecot where the RFC leaves room:
 *  - type and subtype are written lowercased, as the parser stores them;
 *  - text/ parts without a charset parameter get "charset" "us-ascii"
 *    appended to their parameters; a missing Content-Transfer-Encoding is
 *    written "7bit"; parameter names are lowercased, values as given;
 *  - a multipart without parts is written with one empty text/plain part
 *    (the grammar requires at least one);
 *  - a message/rfc822 (or message/global) part whose encapsulated message
 *    was not parsed because of a limit is written as application/
 *    octet-stream, since its envelope and body are unknown;
 *  - Content-Language is written as a list of strings; the disposition as
 *    ("token" params-or-NIL);
 *  - ENVELOPE: Sender and Reply-To default to From when absent or empty
 *    (RFC 3501 7.4.2); an address header without addresses is NIL;
 *    Date, Subject, In-Reply-To and Message-ID are the raw values.
 *  - size is the byte count of the stored body (CRLF storage makes this
 *    the RFC's octet count).
 */
#ifndef POSTHORN_IMAP_BODYSTRUCTURE_H
#define POSTHORN_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>

struct buf;
struct mime_envelope;
struct mime_part;

/* env NULL writes an envelope of NILs. */
void	 imap_write_envelope(struct buf *, const struct mime_envelope *);
void	 imap_write_bodystructure(struct buf *, const struct mime_part *,
	    bool extended);
/* One address-list as in ENVELOPE: "((...)(...))", or NIL. */
void	 imap_write_address_list(struct buf *, const char *raw_header);

#endif
