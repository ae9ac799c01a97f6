/*
 * imap_thread - the algorithm layer of IMAP THREAD (RFC 5256 section 4):
 * THREAD=ORDEREDSUBJECT and THREAD=REFERENCES over the imap_sortmsg
 * records of imap_sort.h, the resulting tree, and its response syntax.
 *
 *	struct imap_thread *t = imap_thread_build(IMAP_THREAD_REFERENCES,
 *	    msgs, n, NULL, NULL);
 *	buf_puts(out, "* THREAD");
 *	if (t->nroots > 0)
 *		buf_putc(out, ' ');
 *	imap_thread_write(t, msgs, uid_command, out);	("(1 2)(3 (4)(5))")
 *	buf_puts(out, "\r\n");
 *	imap_thread_free(&t);
 *
 * Fields read: ORDEREDSUBJECT uses seq, subject, sent/sent_valid and
 * internaldate; REFERENCES also message_id, in_reply_to, references and
 * subject_reply.  uid is only written.  Base subjects are compared with
 * the casemap comparator (NULL: imap_casemap_simple), so "Foo" and "foo"
 * are one thread subject.
 *
 * Where the RFC leaves room, Dovecot's behaviour is followed (see
 * imap_thread.c): a Message-ID is the first valid msg-id of its header;
 * References with no valid msg-id fall back to the first valid msg-id of
 * In-Reply-To; step 3 gives the children of a non-root dummy to the
 * nearest real ancestor (or the top dummy); siblings are ordered by
 * (sent date, sequence number).
 *
 * Cost: O(r log r + header bytes) for any input, r being messages plus
 * references; loops are detected with a link-cut forest (amortized
 * O(log r) per link), never by walking ancestor chains, so crafted
 * References cannot make it quadratic.  Message-IDs are hashed with a
 * per-call random SipHash key.  100,000 messages take about 0.1 s.
 */
#ifndef POSTHORN_IMAP_THREAD_H
#define POSTHORN_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_sort.h"

struct buf;

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

#define IMAP_THREAD_NONE	UINT32_MAX

/*
 * The result: a forest in nodes[], stored in pre-order (a node comes
 * before its children, which come in thread order).  Links are indexes
 * into nodes[] or IMAP_THREAD_NONE.  msg is an index into the msgs array
 * given to imap_thread_build(), or IMAP_THREAD_NONE for a dummy: dummies
 * only occur as roots, always with two or more children (the response
 * "((3)(5))").  Every message given appears exactly once.
 */
struct imap_thread_node {
	uint32_t	 msg;
	uint32_t	 parent;
	uint32_t	 first_child;
	uint32_t	 next;		/* next sibling */
};

struct imap_thread {
	struct imap_thread_node	*nodes;
	size_t			 nnodes;
	size_t			 nroots;
	uint32_t		 first_root;	/* NONE when empty */
};

/*
 * Threads the n messages.  The order of msgs does not matter (REFERENCES
 * processes them by ascending seq, as the RFC's "first message" rules
 * require).  n must be below 2^31.  Never returns NULL; free the result
 * with imap_thread_free().
 */
struct imap_thread *imap_thread_build(enum imap_thread_alg,
	    const struct imap_sortmsg *msgs, size_t n,
	    imap_casemap_fn *casemap, void *casemap_ctx);
void	 imap_thread_free(struct imap_thread **);

/*
 * Appends the thread-list items (RFC 5256 section 5, "1*thread-list")
 * without the leading "THREAD SP" or the CRLF: "(2)(3 6 (4 23)(44 7 96))".
 * Each message is written as its uid when uid is set, else its seq.
 * Appends nothing for an empty tree.  Iterative: any depth is fine.
 */
void	 imap_thread_write(const struct imap_thread *,
	    const struct imap_sortmsg *msgs, bool uid, struct buf *out);

/*
 * Message-ID lists as THREAD=REFERENCES reads them: finds the next valid
 * msg-id in s[*pos..len), appends its normalized form to out and sets
 * *pos past it; returns false (out untouched) when there is none left.
 *
 * A candidate runs from a '<' to the next '>'; a '<' before that '>'
 * starts a new candidate (so "<junk <id@host>" yields id@host).  Inside,
 * white space and CR/LF are removed, (comments) are removed, and quoted
 * strings lose their DQUOTEs and backslashes, so <"a b"@x> is "a b@x" and
 * <"abc"@x> is "abc@x" (the RFC 5256 normalization requirement).  The
 * result is valid when it contains an '@' with something before and
 * after it; comparisons are case-sensitive.  Anything between candidates
 * is skipped, which is how junk such as "<id@host> from user@example.com"
 * in In-Reply-To is tolerated.  Linear in len.
 */
bool	 imap_msgid_next(const char *s, size_t len, size_t *pos,
	    struct buf *out);

#endif
