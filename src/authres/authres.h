/*
 * authres - the Authentication-Results header field (RFC 8601): format
 * our results, and recognise fields that claim our authserv-id so the
 * caller can drop them from incoming messages (RFC 8601 5).
 *
 *	struct authres_item items[] = {
 *		{ "spf", "pass", NULL, NULL,
 *		    { { "smtp", "mailfrom", "example.org" } } },
 *		{ "dkim", "pass", NULL, NULL,
 *		    { { "header", "d", "example.org" },
 *		      { "header", "s", "sel" } } },
 *		{ "dmarc", "pass", NULL, NULL,
 *		    { { "header", "from", "example.org" } } },
 *	};
 *	authres_format(&b, "mail.example.test", items, 3);
 *	-> "mail.example.test; spf=pass smtp.mailfrom=example.org;
 *	    dkim=pass header.d=example.org header.s=sel;
 *	    dmarc=pass header.from=example.org"
 *	   (one line, or folded with CRLF TAB where it passes 78 columns)
 *
 *	while reading the header: if the field is Authentication-Results
 *	and authres_claims_id(value, len, "mail.example.test"), drop it.
 */
#ifndef POSTHORN_AUTHRES_H
#define POSTHORN_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define AUTHRES_MAX_PROPS	6
/* Folding column (RFC 5322 2.1.1: SHOULD be no more than 78). */
#define AUTHRES_FOLD_COLUMN	78

struct authres_prop {
	const char	*ptype;		/* "smtp", "header", "body", "policy" */
	const char	*property;	/* "mailfrom", "helo", "d", "s", ... */
	const char	*value;
};

/*
 * One resinfo.  method and result are keywords (IANA "Email
 * Authentication Methods" / "Result Names"); reason (RFC 8601 2.7) and
 * comment are free text or NULL; props end at the first entry with a
 * NULL ptype (or after AUTHRES_MAX_PROPS).  Values are quoted when they
 * are neither a token nor [local-part] "@" domain; control characters
 * are replaced so the header stays one field.
 */
struct authres_item {
	const char	*method;
	const char	*result;
	const char	*reason;
	const char	*comment;
	struct authres_prop props[AUTHRES_MAX_PROPS];
};

/*
 * Appends the field value, without the "Authentication-Results:" name and
 * without the final CRLF: "authserv-id; resinfo; resinfo", or
 * "authserv-id; none" when n is 0.  Folded with "\r\n\t" before a word
 * that would end past AUTHRES_FOLD_COLUMN, counting from after
 * "Authentication-Results: " (24 columns); quoted strings are never
 * split, a word longer than a line is emitted whole.
 */
void	 authres_format(struct buf *out, const char *authserv_id,
	    const struct authres_item *items, size_t n);

/*
 * Whether a field value (folded or not) begins with authserv_id:
 * leading CFWS (spaces, tabs, CR, LF, nested comments with quoted pairs)
 * is skipped, then a token or quoted-string is compared ASCII
 * case-insensitively.  Malformed values (unterminated comment or quoted
 * string, no id) do not claim anything.  Reads at most len bytes.
 */
bool	 authres_claims_id(const char *value, size_t len,
	    const char *authserv_id);

/*
 * The same for a whole field "Name: value" (folded or not, CRLF or LF):
 * true when the name is Authentication-Results (any case, optional
 * spaces before the colon) and the value claims authserv_id.
 */
bool	 authres_field_claims_id(const char *field, size_t len,
	    const char *authserv_id);

#endif
