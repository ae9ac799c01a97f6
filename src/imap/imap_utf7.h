/*
 * imap_utf7 - modified UTF-7 mailbox names (RFC 3501 5.1.3) <-> UTF-8, and
 * mailbox name validation.
 *
 * Both converters are strict, so every mailbox name has exactly one
 * modified UTF-7 spelling and two spellings can never name two different
 * mailboxes: printable ASCII (0x20..0x7e) must be written directly, "&" as
 * "&-", everything else in one base64 run per stretch of non-printable
 * characters (no "&AMk-&AMk-"), with the fewest base64 characters and zero
 * padding bits, closed by "-", surrogates paired.  U+0000 is refused in
 * both directions.  UTF-8 input must be shortest-form, with no surrogates
 * and nothing above U+10FFFF.
 *
 * Converters append to out and return 0; on -1 out is restored to the
 * length it had on entry.
 */
#ifndef POSTHORN_IMAP_UTF7_H
#define POSTHORN_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define IMAP_MAILBOX_NAME_MAX		255	/* bytes of UTF-8 */
#define IMAP_MAILBOX_DEPTH_MAX		16	/* hierarchy levels */

int	 imap_utf7_to_utf8(const char *, size_t, struct buf *out);
int	 imap_utf8_to_utf7(const char *, size_t, struct buf *out);
bool	 imap_utf7_is_valid(const char *, size_t);

/* Strict UTF-8 check (the rules above). */
bool	 imap_utf8_is_valid(const char *, size_t);

/*
 * Check a UTF-8 mailbox name whose hierarchy separator is sep.  Refuses
 * the empty name, names over IMAP_MAILBOX_NAME_MAX bytes or deeper than
 * IMAP_MAILBOX_DEPTH_MAX levels, empty levels ("a//b", "/a", "a/"), "."
 * and ".." levels, bytes below 0x20 and 0x7f, and invalid UTF-8.  Returns
 * 0, or -1 with *error_r set to a static message fit for a NO reply.
 */
int	 imap_mailbox_name_check(const char *, size_t, char sep,
	    const char **error_r);

/*
 * Uppercase the first level of the name in place when it is "INBOX" in
 * any case ("inbox", "Inbox/Sub" -> "INBOX", "INBOX/Sub"); other levels
 * and names such as "INBOXES" are left alone.
 */
void	 imap_mailbox_name_normalize(char *, size_t, char sep);

#endif
