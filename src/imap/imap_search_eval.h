/*
 * imap_search_eval - the evaluation loop of SEARCH (cmd_search.c), shared
 * with SORT and THREAD (cmd_sort.c), which run the same search and then
 * order or thread what it found.
 *
 *	struct imap_search_hits h;
 *
 *	imap_search_eval(s, &prog, hit_fn, ctx, &h);	(worker thread)
 *	for (i = 0; i < h.n; i++) -> view index h.idx[i]
 *	free(h.idx);
 *
 * Runs on a worker: it reads the session's view and the store and changes
 * neither (the command holds the session, so the view stays put).  Messages
 * that are expunged but still numbered are skipped, as SEARCH does.
 */
#ifndef POSTHORN_IMAP_SEARCH_EVAL_H
#define POSTHORN_IMAP_SEARCH_EVAL_H

#include <stdint.h>

struct imap_session;
struct imap_search_node;
struct imap_search_program;
struct mail_meta;
struct mime_part;

/* idx: ascending view indexes, freed by the caller. */
struct imap_search_hits {
	uint32_t	*idx;
	uint32_t	 n;
	uint64_t	 max_modseq;	/* of the hits (MODSEQ searches) */
	uint64_t	 first_modseq;	/* of the first and the last hit */
	uint64_t	 last_modseq;
};

/*
 * Called once per hit, in ascending order, with the message's store
 * metadata and parsed MIME tree (root NULL when the stored structure could
 * not be read, both NULL when the message could not be read at all, e.g.
 * expunged meanwhile).  Both are only valid during the call.
 */
typedef void	 imap_search_hit_fn(void *ctx, uint32_t idx,
		    const struct mail_meta *, const struct mime_part *root);

/*
 * Evaluates prog (which must have been parsed successfully) over the
 * selected mailbox of s, filling *out; hit may be NULL.  Never fails: a
 * message that cannot be read matches only what needs no data.
 */
void	 imap_search_eval(struct imap_session *s,
	    const struct imap_search_program *prog, imap_search_hit_fn *hit,
	    void *hit_ctx, struct imap_search_hits *out);

/*
 * The search strings of a program in the command's CHARSET (one that
 * mime_charset_supported() accepts), converted to UTF-8 in place; nesting
 * is bounded by IMAP_SEARCH_MAX_DEPTH.
 */
void	 imap_search_strings_to_utf8(struct imap_search_node *,
	    const char *charset);

#endif
