/*
 * imap_quote - write IMAP strings (RFC 3501 / RFC 9051 section 4.3 and 9).
 *
 *	imap_write_astring(b, s, len)	atom when every byte is an
 *					ASTRING-CHAR, else as a string
 *	imap_write_string(b, s, len)	quoted when safe, else a literal
 *	imap_write_nstring(b, s)	NIL for NULL, else a string
 *	imap_write_nstring_len(b, s, len)
 *
 * A quoted string is used when the value has fewer than 1024 bytes and no
 * CR, LF, NUL or 8-bit byte; '"' and '\' are escaped.  Anything else is sent
 * as a synchronizing literal "{n}\r\n" followed by the bytes.  NUL cannot
 * be sent in a literal either (CHAR8 excludes it), so NUL bytes are dropped
 * and n counts what is actually written.  The caller must be allowed to
 * send a literal at this point (server responses always are).
 */
#ifndef POSTHORN_IMAP_QUOTE_H
#define POSTHORN_IMAP_QUOTE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define IMAP_QUOTED_MAX	1024	/* longer strings are sent as literals */

void	 imap_write_astring(struct buf *, const char *, size_t);
void	 imap_write_string(struct buf *, const char *, size_t);
void	 imap_write_nstring(struct buf *, const char *);
void	 imap_write_nstring_len(struct buf *, const char *, size_t);

/* ATOM-CHAR of RFC 3501: any CHAR except atom-specials. */
bool	 imap_is_atom_char(unsigned char);

#endif
