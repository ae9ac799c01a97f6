/*
 * mime_addr - RFC 5322 address-list parser shaped for IMAP ENVELOPE.
 *
 *	struct mime_addr *list = mime_addr_parse(value, len);
 *	...
 *	mime_addr_free(&list);
 *
 * Each element is one RFC 3501 "address" (7.4.2 ENVELOPE):
 *  - a mailbox: name (display name, or the comment after a bare addr-spec;
 *    NULL when none), adl (obsolete source route "@a,@b", or NULL),
 *    mailbox (local part, quotes removed) and host (domain; a domain
 *    literal keeps its brackets);
 *  - a group start: name, adl and host NULL, mailbox = the group's name;
 *  - a group end: all four NULL.
 * Display names are kept raw: encoded words (RFC 2047) are not decoded,
 * quoted strings lose their quotes and escapes, words are joined by one
 * space.
 *
 * Never fails.  Garbage gets Dovecot-like fallbacks and invalid = true: a
 * missing local part becomes "MISSING_MAILBOX" and a missing domain
 * "MISSING_DOMAIN" (a NIL host would mean "group start" to an IMAP client);
 * text that cannot be read is skipped up to the next ','; a group without
 * ';' is closed at the end.  Returns NULL when the value holds no address.
 * The result is linear in the input length and owned by the caller.
 */
#ifndef POSTHORN_MIME_ADDR_H
#define POSTHORN_MIME_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct mime_addr {
	char			*name;
	char			*adl;
	char			*mailbox;
	char			*host;
	bool			 invalid;	/* syntax errors were repaired */
	struct mime_addr	*next;
};

#define MIME_ADDR_MISSING_MAILBOX	"MISSING_MAILBOX"
#define MIME_ADDR_MISSING_DOMAIN	"MISSING_DOMAIN"

struct mime_addr *mime_addr_parse(const char *, size_t);
void	 mime_addr_free(struct mime_addr **);

/* Group markers, per the encoding above. */
bool	 mime_addr_is_group_start(const struct mime_addr *);
bool	 mime_addr_is_group_end(const struct mime_addr *);

#endif
